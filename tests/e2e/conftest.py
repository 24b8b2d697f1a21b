# SPDX-License-Identifier: MIT
"""End-to-end test harness: start the real gate26 daemon with a temporary
configuration and spool on 127.0.0.1, talk to it with real clients, stop it
by its PID, and fail the test if the sanitizers said anything.

Fixtures:
  gateway      factory: gateway(**options) -> Gateway (started, stopped at teardown)
  certs        a self-signed certificate and key made for the test session
  tmp_path     pytest's, moved where the gateway's user can reach it (see below)

Run as root, gate26 refuses to serve without `user`: every configuration
names GATE26_USER (tools/install-deps makes it), and gate26 switches to it
after start-up. It then reads its configuration (SIGHUP) and certificates
by path as that user, which root's pytest directories (0700) would keep
out; so tmp_path is a directory of its own under a session directory that
others may cross but not list, and test keys are given to the user's group.
Helpers:
  Raw(port)    a raw SMTP socket client (send bytes, read whole replies)
"""
import collections
import grp
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("GATE26_BIN", str(ROOT / "build-test" / "src" / "gate26"))

# The unprivileged user gate26 switches to when the tests run as root (None: they do not).
GATE26_USER = "gate26" if os.geteuid() == 0 else None

ROLES = ("inbound", "internal", "submission", "submissions")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "panic:")


_handed_out = collections.deque(maxlen=4096)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now, and that this process has not
    handed out lately: the kernel may give the same free port to two calls in a row, and two
    doors of one gateway would then share it (seen once in a full run)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.append(port)
            return port
    raise AssertionError("no free port that was not handed out lately")


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Raw:
    """A raw SMTP client: exact bytes out, whole replies in."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0, source=None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source is not None:
            self.sock.bind((source, 0))  # the connection comes from this address
        self.sock.connect((host, port))
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed; unread: {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """One whole (possibly multi-line) reply: (code, [text lines])."""
        lines = []
        while True:
            line = self._line()
            assert re.match(r"^\d{3}[ -]", line), f"malformed reply line {line!r}"
            lines.append(line[4:])
            if line[3] == " ":
                return int(line[:3]), lines

    def expect(self, code, text=None):
        """Reads one reply and asserts its code (and that text is in it)."""
        got, lines = self.reply()
        joined = "\n".join(lines)
        assert got == code, f"expected {code}, got {got} {joined!r}"
        if text is not None:
            assert text in joined, f"expected {text!r} in {got} {joined!r}"
        return joined

    def cmd(self, line, code, text=None):
        self.send(line + "\r\n")
        return self.expect(code, text)

    def is_closed(self, timeout=5.0):
        """True when the server closes the connection (after any pending bytes)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


QUEUED_RE = re.compile(r"2\.0\.0 Ok: queued as ([0-9A-F]{16})")


def queued_id(r):
    """Reads the reply after the content: exactly "250 2.0.0 Ok: queued as ID"; returns ID."""
    got, lines = r.reply()
    assert got == 250 and len(lines) == 1, f"expected 250 queued, got {got} {lines!r}"
    m = QUEUED_RE.fullmatch(lines[0])
    assert m, f"expected '2.0.0 Ok: queued as ID', got {lines[0]!r}"
    return m.group(1)


def assert_serving(g, role=None, host="127.0.0.1", port=None):
    """After a bad input: gate26 still runs, and a fresh session on the door
    (the first one by default) gets its greeting, a NOOP and a QUIT answered."""
    assert g.proc is not None and g.proc.poll() is None, "gate26 has exited"
    role = role or ("internal" if "internal" in g.doors else next(iter(g.doors)))
    r = Raw(port or g.port(role), host=host)
    try:
        assert r.expect(220) == "gate26.test ESMTP gate26"
        r.cmd("NOOP", 250, "2.0.0 Ok")
        r.cmd("QUIT", 221, "2.0.0 Bye")
        assert r.is_closed()
    finally:
        r.close()


def want(r, code, enhanced, text=None):
    """Reads one reply; asserts its code, its enhanced code (None: none at all)
    and that text is in it. Returns the reply's text lines."""
    got, lines = r.reply()
    joined = "\n".join(lines)
    assert got == code, f"expected {code} {enhanced}, got {got} {joined!r}"
    if enhanced is not None:
        for line in lines:
            assert line.startswith(enhanced + " "), f"expected {enhanced} in {got} {joined!r}"
    else:
        assert not re.match(r"^\d\.\d{1,3}\.\d{1,3} ", lines[0]), \
            f"unexpected enhanced code {joined!r}"
    if text is not None:
        assert text in joined, f"expected {text!r} in {got} {joined!r}"
    return lines


def cmd(r, line, code, enhanced, text=None):
    """Sends one command line (str or bytes, CRLF added) and checks its reply."""
    if isinstance(line, str):
        line = line.encode()
    r.send(line + b"\r\n")
    return want(r, code, enhanced, text)


def envelope(head):
    """The envelope records of a queue file as a dict; 'rcpt' is a list of
    [status, notify, address, orcpt]. Also checks the record order (the
    optional user and hold records, when there, between envid and rcpt)."""
    order = ["gate26-queue", "id", "schedule", "arrival", "door", "client", "helo", "protocol",
             "sender", "body", "smtputf8", "ret", "envid"]
    env = {"rcpt": []}
    keys = []
    for line in head.split("\n"):
        key, _, rest = line.partition(" ")
        assert rest and "  " not in line and not line.endswith(" "), f"bad record {line!r}"
        keys.append(key)
        if key == "rcpt":
            fields = rest.split(" ")
            assert len(fields) == 4, line
            env["rcpt"].append(fields)
        else:
            env[key] = rest
    assert keys[:len(order)] == order, keys
    # The optional records (docs/spool.md): the authenticated user, why it is held.
    optional = [k for k in ("user", "hold") if k in env]
    assert keys[len(order):len(order) + len(optional)] == optional, keys
    rest = keys[len(order) + len(optional):]
    assert rest == ["rcpt"] * len(env["rcpt"]) and env["rcpt"], keys
    return env


# The receive-path tests look at queued files: nothing is delivered under them.
QUEUE_ONLY = "queue-only yes"


def config_text(spool, ports, doors, domains, tls=None, extra="", hostname="gate26.test",
                delivery=QUEUE_ONLY, user=GATE26_USER):
    """A gate26 configuration.

    doors: {role: {key: value-string}} with the keys of a listen block (address
    is filled in from ports[role] unless given); domains: {name: relay-url or None,
    or {key: value-string} with the keys of the domain block};
    delivery: the inside of the delivery block (None: no block); user: the
    `user` key, written last so that it moves no line number (None: none).
    """
    out = [f"hostname {hostname}", f"spool {spool}", "log-level debug", extra]
    if delivery is not None:
        out.append("delivery {\n%s\n}" % delivery)
    if isinstance(tls, str):
        out.append("tls {\n%s\n}" % tls)  # the whole inside of the block
    elif tls:
        out.append("tls {\n    cert %s\n    key %s\n}" % tls)
    for role, keys in doors.items():
        keys = dict(keys)
        keys.setdefault("address", f"127.0.0.1:{ports[role]}")
        body = "\n".join(f"    {k} {v}" for k, v in keys.items())
        out.append(f"listen {role} {{\n{body}\n}}")
    for name, relay in domains.items():
        keys = relay if isinstance(relay, dict) else {"relay": relay} if relay else {}
        inner = "".join(f"    {k} {v}\n" for k, v in keys.items())
        out.append(f"domain {name} {{\n{inner}}}")
    # Local submission (docs/packaging.md) is on by default at /run/gate26 and
    # /var/spool/gate26-maildrop: tests that want it name their own paths. After the doors
    # and domains and before the user key, so that it moves none of their line numbers.
    if "local-submit" not in extra:
        out.append("local-submit {\n    enabled no\n}")
    if user is not None:
        out.append(f"user {user}")
    return "\n".join(out) + "\n"


class Gateway:
    def __init__(self, workdir, doors, domains, env=None, tls=None, extra="",
                 delivery=QUEUE_ONLY):
        self.dir = Path(workdir)
        self.spool = self.dir / "spool"
        self.conf = self.dir / "gate26.conf"
        self.logfile = self.dir / "gate26.log"
        # A door given its own address listens on that address's port.
        self.ports = {role: int(keys["address"].split()[0].rsplit(":", 1)[1])
                      if "address" in keys else free_port() for role, keys in doors.items()}
        self.doors = doors
        self.domains = domains
        self.tls = tls
        self.extra = extra
        self.delivery = delivery
        self.env = dict(os.environ)
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        if env:
            self.env.update(env)
        self.proc = None
        self.dir.mkdir(parents=True, exist_ok=True)
        self.write_config()

    def write_config(self, **changes):
        for k, v in changes.items():
            setattr(self, k, v)
        self.conf.write_text(config_text(self.spool, self.ports, self.doors, self.domains,
                                         self.tls, self.extra, delivery=self.delivery))

    def start(self, expect_ok=True):
        self.log_offset = self.logfile.stat().st_size if self.logfile.exists() else 0
        logf = open(self.logfile, "ab")
        self.proc = subprocess.Popen([BIN, "serve", "-c", str(self.conf)], stdout=logf,
                                     stderr=subprocess.STDOUT, env=self.env)
        logf.close()
        if expect_ok:
            # Only this run's lines: a restart's log already holds the last run's start.
            wait_for(lambda: "event=start" in self.log()[self.log_offset:]
                     or self.proc.poll() is not None, what="gate26 to start")
            assert self.proc.poll() is None, f"gate26 exited at start:\n{self.log()}"
        return self

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def port(self, role="internal"):
        return self.ports[role]

    def raw(self, role="internal", greet=True):
        r = Raw(self.ports[role])
        if greet:
            r.expect(220)
        return r

    def queue_files(self):
        q = self.spool / "queue"
        return sorted(p.name for p in q.iterdir()) if q.exists() else []

    def tmp_files(self):
        t = self.spool / "tmp"
        return sorted(p.name for p in t.iterdir()) if t.exists() else []

    def message(self, queue_id):
        """The content (after the envelope records) of a queued message."""
        data = (self.spool / "queue" / queue_id).read_bytes()
        head, sep, body = data.partition(b"\n\n")
        assert sep, "no end of envelope in queue file"
        return head.decode(errors="replace"), body

    def hup(self):
        os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self, check=True):
        """SIGTERM by PID, wait, and check the exit and the sanitizers."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"gate26 did not stop on SIGTERM:\n{self.log()[-3000:]}")
        code = self.proc.returncode
        self.proc = None
        if check:
            self.check_sanitizers()
            assert code == 0, f"gate26 exited {code}:\n{self.log()[-3000:]}"

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def check_sanitizers(self):
        text = self.log()
        for mark in SANITIZER_MARKS:
            assert mark not in text, f"sanitizer or panic report in log:\n{text[-5000:]}"


DEFAULT_DOORS = {
    "inbound": {"tls": "none"},
    "internal": {"allow": "127.0.0.0/8 ::1", "tls": "none"},
}
# A relay that nobody listens on, for the receive-path tests: they queue only, and
# verify no recipient (a domain with a relay is verified by callout by default,
# docs/verify.md; tests/e2e/test_verify.py tests that).
UNVERIFIED_RELAY = {"relay": "smtp://127.0.0.1:2500", "verify-recipients": "off"}
DEFAULT_DOMAINS = {"example.test": UNVERIFIED_RELAY, "ours.test": None}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report ends with the last lines of each gateway's log
    (CI keeps only the report: without them a timing failure cannot be read)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call"):
        for i, g in enumerate(getattr(item, "gate26_gateways", [])):
            tail = "\n".join(g.log().splitlines()[-80:])
            report.sections.append((f"gate26 log of gateway {i} (last 80 lines)", tail))


@pytest.fixture
def gateway(tmp_path, request):
    started = []
    request.node.gate26_gateways = started

    def make(doors=None, domains=None, env=None, tls=None, extra="", start=True,
             delivery=QUEUE_ONLY):
        g = Gateway(tmp_path / f"gw{len(started)}", doors or DEFAULT_DOORS,
                    DEFAULT_DOMAINS if domains is None else domains, env, tls, extra, delivery)
        started.append(g)
        if start:
            g.start()
        return g

    yield make
    for g in started:
        g.stop()


def auth_block(directory, text=""):
    """An auth block naming a password file in directory holding text (no users by default),
    readable by the gateway's user: the doors that require AUTH need one."""
    pw = Path(directory) / "passwd"
    pw.parent.mkdir(parents=True, exist_ok=True)
    pw.write_text(text)
    pw.chmod(0o644)
    return f"auth {{\n    passwd {pw}\n}}\n"


def give_key(path):
    """A private key as an admin gives it to gate26: root's, readable by the
    user's group (0640), so that a reload (run as the user) reads it again."""
    if GATE26_USER is not None:
        os.chown(path, 0, grp.getgrnam(GATE26_USER).gr_gid)
        os.chmod(path, 0o640)


# The package's local submission paths (docs/packaging.md): a daemon whose configuration has
# no local-submit block makes them, as an installed gateway should. Tests that write their own
# configuration start such daemons; what the session made, it removes at its end.
LOCAL_SUBMIT_DEFAULTS = (Path("/run/gate26"), Path("/var/spool/gate26-maildrop"))


@pytest.fixture(scope="session", autouse=True)
def local_submit_defaults_removed():
    there = {p for p in LOCAL_SUBMIT_DEFAULTS if p.exists()}
    yield
    for p in LOCAL_SUBMIT_DEFAULTS:
        if p not in there and p.exists():
            shutil.rmtree(p, ignore_errors=True)


@pytest.fixture(scope="session")
def reachable_root():
    """Run as root: a directory of the session that the gateway's user may
    cross (0711) but not list, removed at the end. Else None."""
    if GATE26_USER is None:
        yield None
        return
    d = Path(tempfile.mkdtemp(prefix="gate26-e2e-"))
    d.chmod(0o711)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def tmp_path(request, tmp_path, reachable_root):
    """pytest's tmp_path, or run as root a directory the gateway's user can reach."""
    if reachable_root is None:
        return tmp_path
    name = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:40]
    d = Path(tempfile.mkdtemp(prefix=name + "-", dir=reachable_root))
    d.chmod(0o711)
    return d


@pytest.fixture(scope="session")
def certs(tmp_path_factory, reachable_root):
    d = reachable_root / "certs" if reachable_root is not None else tmp_path_factory.mktemp("certs")
    d.mkdir(exist_ok=True)
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=gate26.test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    give_key(key)
    return str(cert), str(key)
