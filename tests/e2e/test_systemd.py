# SPDX-License-Identifier: MIT
"""gate26 under systemd (docs/packaging.md, "The service"), without systemd.

PID 1 here is not systemd, so the unit is never run; what systemd would see
is checked piece by piece instead:

- the unit: `systemd-analyze verify` (on a copy whose ExecStart is the
  binary under test: verify wants it to exist) and `systemd-analyze
  security --offline=yes` (2.5 or lower); and the real daemon started with
  exactly the unit's capability bounding set and no-new-privileges
  (setpriv), on a spool that is the user's as the package makes it, so the
  set is known to be enough;
- sd_notify: the daemon with NOTIFY_SOCKET naming a datagram socket of the
  test: READY=1 once the doors and the control socket accept, STATUS=
  lines, RELOADING=1/READY=1 around a SIGHUP (one that takes, one that
  fails), STOPPING=1 at SIGTERM;
- the journal: the daemon in a mount namespace of its own (unshare) whose
  /run/systemd is a directory of the test, where the test's datagram socket
  receives the journal's native protocol, with JOURNAL_STREAM naming its
  standard error; and without JOURNAL_STREAM (or naming another file, or
  with no journal to take the lines), standard error as before.

Every process is stopped by its PID (the gateway fixture, or the test).
"""
import os
import pwd
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import (BIN, DEFAULT_DOMAINS, GATE26_USER, ROOT, Gateway, assert_serving, auth_block,
                      certs, free_port, queued_id, wait_for)  # noqa: F401 (certs: a fixture)

UNIT = ROOT / "contrib" / "systemd" / "gate26.service"
CAPTURE_DROPIN = ROOT / "contrib" / "systemd" / "capture.conf"
CONSOLE_UNIT = ROOT / "contrib" / "systemd" / "gate26-console.service"
STATUS_RE = re.compile(r"sessions \d+, queue \d+ \(deferred \d+, held \d+\), alerts \d+")


# ---- What the tests share ----

class PrefixGateway(Gateway):
    """A Gateway started through a command prefix (setpriv, unshare) that execs gate26, so
    that the PID is gate26's; started is a predicate on (gateway) that says it runs."""

    prefix = []

    def start(self, started=None):
        self.log_offset = self.logfile.stat().st_size if self.logfile.exists() else 0
        with open(self.logfile, "ab") as logf:
            self.proc = subprocess.Popen(
                [*self.prefix, BIN, "serve", "-c", str(self.conf)], stdout=logf,
                stderr=subprocess.STDOUT, env=self.env)
        started = started or (lambda g: "event=start" in g.log()[g.log_offset:])
        wait_for(lambda: started(self) or self.proc.poll() is not None, 30, "gate26 to start")
        assert self.proc.poll() is None, f"gate26 exited at start:\n{self.log()}"
        return self


class DatagramListener:
    """A Unix datagram socket at path that a thread reads until close(); each datagram is
    given to parse and the result kept, in order."""

    def __init__(self, path, parse, on_message=None):
        self.path = Path(path)
        self.parse = parse
        self.on_message = on_message
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.path.chmod(0o666)  # the daemon sends as its user too, as to systemd's sockets
        self.sock.settimeout(0.1)
        self.lock = threading.Lock()
        self.items = []
        self.after = 0  # wait() looks at the items after the last it found
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                return
            item = self.parse(data)
            if self.on_message is not None:
                self.on_message(item)
            with self.lock:
                self.items.append(item)

    def got(self):
        with self.lock:
            return list(self.items)

    def wait(self, pred, timeout=20, what="a message"):
        """Waits for an item for which pred holds, after those seen so far; returns its index."""
        found = []

        def look():
            items = self.got()
            for i, item in enumerate(items):
                if i >= self.after and pred(item):
                    found.append(i)
                    return True
            return False
        wait_for(look, timeout, what)
        self.after = found[0] + 1
        return found[0]

    def close(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


def send(r, tag):
    r.cmd("MAIL FROM:<app@example.test>", 250)
    r.cmd("RCPT TO:<someone@example.test>", 250)
    r.cmd("DATA", 354)
    r.send(f"Subject: {tag}\r\nMessage-ID: <{tag}@t>\r\n\r\nx\r\n.\r\n")
    return queued_id(r)


# ---- sd_notify ----

def parse_notify(data):
    """An sd_notify datagram: newline-separated KEY=VALUE assignments, as a dict."""
    out = {}
    for line in data.decode().split("\n"):
        if line:
            key, sep, value = line.partition("=")
            assert sep, f"malformed notify line {line!r}"
            out[key] = value
    return out


def accepts_tcp(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return True
    except OSError:
        return False


def accepts_unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(5)
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def queue_cmd(g, *args):
    p = subprocess.run([BIN, "queue", "-c", str(g.conf), *args], capture_output=True, text=True,
                       timeout=30, env=g.env)
    assert p.returncode == 0, p.stderr


def status_of(g, prefix="", sessions=0, queue=0, deferred=0, held=0, alerts=0):
    return (f"{prefix}sessions {sessions}, queue {queue} (deferred {deferred}, held {held}), "
            f"alerts {alerts}")


def test_notify_ready_status_reload_stop(gateway, tmp_path):
    at_ready = {}
    g = None

    def on_message(m):
        # What accepts at the moment READY=1 arrives: every door and the control socket.
        if m.get("READY") == "1" and not at_ready:
            at_ready.update({role: accepts_tcp(port) for role, port in g.ports.items()})
            at_ready["control"] = accepts_unix(g.spool / "control")

    sock = DatagramListener(tmp_path / "notify", parse_notify, on_message)
    alert = "alert queue {\n    when queue\n    over 2\n    exec /bin/true\n}\n"
    try:
        # No delivery block: example.test's relay (127.0.0.1:2500) refuses, so mail is deferred.
        g = gateway(env={"NOTIFY_SOCKET": str(sock.path)}, delivery=None, extra=alert,
                    start=False)
        g.start()
        sock.wait(lambda m: "READY" in m, what="READY=1")
        first = sock.got()[0]
        assert first == {"READY": "1", "STATUS": status_of(g)}, sock.got()
        assert at_ready == {"inbound": True, "internal": True, "control": True}, at_ready

        # One session held open, one message deferred, one held: the status says so.
        r = g.raw()
        r.cmd("EHLO client.test", 250)
        a, b = send(r, "a"), send(r, "b")
        wait_for(lambda: len(re.findall(rf"(?:{a}|{b}): .*status=deferred", g.log())) >= 2, 30,
                 "both deferred")
        queue_cmd(g, "hold", b)
        wait_for(lambda: re.search(r"event=alert, rule=queue, .*state=firing", g.log()), 30,
                 "the queue alert")
        busy = dict(sessions=1, queue=2, deferred=1, held=1, alerts=1)

        # A reload that takes: RELOADING=1 (with the monotonic time), then READY=1.
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        g.hup()
        i = sock.wait(lambda m: "RELOADING" in m, what="RELOADING=1")
        m = sock.got()[i]
        assert m["RELOADING"] == "1" and set(m) == {"RELOADING", "MONOTONIC_USEC", "STATUS"}, m
        assert before <= int(m["MONOTONIC_USEC"]) <= time.clock_gettime_ns(
            time.CLOCK_MONOTONIC) // 1000, m
        assert m["STATUS"] == status_of(g, "reloading; ", **busy), m
        i = sock.wait(lambda m: "READY" in m, what="READY=1 after the reload")
        assert sock.got()[i] == {"READY": "1", "STATUS": status_of(g, **busy)}, sock.got()[i]
        assert "event=reload, status=ok" in g.log()

        # A reload that fails: READY=1 all the same (it serves on), the status says why, and
        # keeps saying it (the periodic status too) until a reload takes.
        good = g.conf.read_text()
        g.conf.write_text(good + "no-such-key 1\n")
        line = len(good.splitlines()) + 1
        g.hup()
        sock.wait(lambda m: m.get("RELOADING") == "1", what="RELOADING=1")
        i = sock.wait(lambda m: "READY" in m, what="READY=1 after the failed reload")
        m = sock.got()[i]
        why = f"reload failed: {g.conf}:{line}: "
        assert m["READY"] == "1" and m["STATUS"].startswith(why), m
        assert m["STATUS"].endswith("; " + status_of(g, **busy)), m
        i = sock.wait(lambda m: set(m) == {"STATUS"}, 25, "the periodic status")
        assert sock.got()[i]["STATUS"].startswith(why), sock.got()[i]
        assert_serving(g)
        g.conf.write_text(good)
        g.hup()
        i = sock.wait(lambda m: "READY" in m, what="READY=1 after the fixed reload")
        assert sock.got()[i]["STATUS"] == status_of(g, **busy), sock.got()[i]

        # Stop: STOPPING=1 first, then nothing says READY again.
        r.cmd("QUIT", 221)
        r.close()
        os.kill(g.pid, signal.SIGTERM)
        i = sock.wait(lambda m: "STOPPING" in m, what="STOPPING=1")
        m = sock.got()[i]
        assert m["STOPPING"] == "1" and m["STATUS"].startswith("stopping; "), m
        assert STATUS_RE.fullmatch(m["STATUS"][len("stopping; "):]), m
        g.proc.wait(timeout=30)
        assert g.proc.returncode == 0, g.log()[-3000:]
        assert not any("READY" in m for m in sock.got()[i:]), sock.got()[i:]
    finally:
        sock.close()


def test_notify_nothing_without_notify_socket(gateway, tmp_path):
    sock = DatagramListener(tmp_path / "notify", parse_notify)
    try:
        g = gateway()
        g.hup()
        wait_for(lambda: "event=reload, status=ok" in g.log(), what="the reload")
        g.stop()
        assert sock.got() == []
        assert "event=notify" not in g.log()
    finally:
        sock.close()


@pytest.mark.parametrize("where", ["/nonexistent/notify", "@gate26-test-nobody-listens", "x"])
def test_notify_socket_that_takes_nothing(gateway, where):
    """A NOTIFY_SOCKET nobody listens on (or malformed): one warning, and gate26 serves on."""
    g = gateway(env={"NOTIFY_SOCKET": where})
    wait_for(lambda: "event=notify" in g.log(), what="the warning")
    g.hup()
    wait_for(lambda: "event=reload, status=ok" in g.log(), what="the reload")
    assert_serving(g)
    g.stop()
    assert len(re.findall(r"warning: -: event=notify, error=", g.log())) == 1, g.log()


# ---- The journal ----

def parse_journal(data):
    """A datagram of the journal's native protocol: KEY=VALUE lines, or KEY, LF, a 64-bit
    little-endian length, the value and LF (a value with a LF in it). A dict."""
    out, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            key, _, value = line.partition(b"=")
            i = nl + 1
        else:
            key = line
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            value = data[nl + 9:nl + 9 + n]
            assert data[nl + 9 + n:nl + 10 + n] == b"\n", data
            i = nl + 10 + n
        assert key.decode() not in out, data
        out[key.decode()] = value.decode()
    return out


class JournalGateway(PrefixGateway):
    """gate26 in a mount namespace whose /run/systemd is the test's directory run/, with
    JOURNAL_STREAM naming its standard error (the log file) unless stream says otherwise."""

    def __init__(self, workdir, doors, domains, stream="stderr", listen=True, **kw):
        super().__init__(workdir, doors, domains, **kw)
        run = self.dir / "run"
        (run / "journal").mkdir(parents=True)
        run.chmod(0o755)
        (run / "journal").chmod(0o755)
        self.journal = DatagramListener(run / "journal" / "socket", parse_journal) \
            if listen else None
        self.logfile.touch()
        st = os.stat(self.logfile)
        if stream == "stderr":
            self.env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        elif stream == "other":
            self.env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino + 1}"
        else:
            self.env.pop("JOURNAL_STREAM", None)
        self.prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       'mount --bind "$0" /run/systemd && exec "$@"', str(run)]

    def entries(self):
        return self.journal.got() if self.journal is not None else []

    def close(self):
        if self.journal is not None:
            self.journal.close()


LEVEL_PRIORITY = {"debug": "7", "info": "6", "warning": "4", "error": "3"}
QID_RE = re.compile(r"(?:debug|info|warning|error): ([0-9A-F]{16}): ")
STDERR_LINE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z gate26\[\d+\]: "
                            r"(?:debug|info|warning|error): ", re.M)


@pytest.fixture
def journal_gateway(tmp_path):
    made = []

    def make(stream="stderr", listen=True, extra=""):
        doors = {"internal": {"allow": "127.0.0.0/8", "tls": "none"}}
        g = JournalGateway(tmp_path / f"gw{len(made)}", doors, DEFAULT_DOMAINS, stream=stream,
                           listen=listen, extra=extra)
        made.append(g)
        return g

    yield make
    for g in made:
        try:
            g.stop()
        finally:
            g.close()


def journal_started(g):
    return any("event=start" in e.get("MESSAGE", "") for e in g.entries())


def test_journal_lines_carry_priority_and_queue_id(journal_gateway):
    g = journal_gateway(extra="watch {\n    capture lo\n}\n")
    g.start(started=journal_started)
    r = g.raw()
    r.cmd("EHLO client.test", 250)
    qid = send(r, "journal")
    r.cmd("QUIT", 221)
    r.close()
    wait_for(lambda: any(e.get("GATE26_QUEUE_ID") == qid and "from=<app@example.test>" in
                         e["MESSAGE"] for e in g.entries()), what="the message's lines:\n"
             + "\n".join(repr(e) for e in g.entries()[-30:]))
    # A failed reload: an error-level line.
    good = g.conf.read_text()
    g.conf.write_text(good + "no-such-key 1\n")
    g.hup()
    wait_for(lambda: any("event=reload, status=failed" in e["MESSAGE"] for e in g.entries()),
             what="the failed reload")
    g.conf.write_text(good)
    assert_serving(g)
    g.stop()

    entries = g.entries()
    assert len(entries) > 10, entries
    for e in entries:
        msg = e["MESSAGE"]
        level = msg.split(":", 1)[0]
        assert e["PRIORITY"] == LEVEL_PRIORITY[level], e
        assert e["SYSLOG_IDENTIFIER"] == "gate26" and e["SYSLOG_FACILITY"] == "2", e
        # The journal keeps the time, the name and the pid: the message starts at the level.
        assert not STDERR_LINE_RE.match(msg) and "\n" not in msg, e
        m = QID_RE.match(msg)
        assert e.get("GATE26_QUEUE_ID") == (m.group(1) if m else None), e
        assert "panic" not in msg, e
    about = [e["MESSAGE"] for e in entries if e.get("GATE26_QUEUE_ID") == qid]
    assert any(f"info: {qid}: client=" in m for m in about), about
    assert any(f"info: {qid}: from=<app@example.test>" in m for m in about), about
    assert any(m.startswith("debug: ") for m in (e["MESSAGE"] for e in entries))
    failed = [e for e in entries if "event=reload, status=failed" in e["MESSAGE"]]
    assert failed and failed[0]["PRIORITY"] == "3" and "GATE26_QUEUE_ID" not in failed[0]
    assert any("event=sensor-start" in e["MESSAGE"] for e in entries)
    # The sensor, a forked child, writes to standard error (still the journal's stream),
    # with the priority as the "<N>" prefix the journal reads there; the daemon nothing.
    err = g.log()
    assert re.search(r"^<6>info: -: event=sensor-privileges, uid=\d+", err, re.M), err
    assert not STDERR_LINE_RE.search(err), err
    for line in err.splitlines():
        assert re.match(r"<[3467]>(?:debug|info|warning|error): -: ", line), line


@pytest.mark.parametrize("stream", ["unset", "other"])
def test_journal_not_used_unless_stderr_is_its_stream(journal_gateway, stream):
    """No JOURNAL_STREAM, or one naming another file (stderr redirected after systemd set
    it): lines on standard error as before, and nothing to the journal."""
    g = journal_gateway(stream=stream)
    g.start()
    assert_serving(g)
    g.stop()
    assert g.entries() == []
    assert re.search(r"^\S+Z gate26\[\d+\]: info: -: event=start, ", g.log(), re.M), g.log()


@pytest.mark.parametrize("journal", ["absent", "refusing"])
def test_journal_that_takes_nothing_falls_back_to_stderr(journal_gateway, journal):
    """No journal socket (libsystemd would drop the lines silently), or one nobody reads
    (journald stopped): the lines go to standard error as before."""
    g = journal_gateway(listen=False)
    if journal == "refusing":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(str(g.dir / "run" / "journal" / "socket"))
        os.chmod(g.dir / "run" / "journal" / "socket", 0o666)
        s.close()  # the file stays; a send to it is refused
    g.start()
    r = g.raw()
    r.cmd("EHLO client.test", 250)
    qid = send(r, "fallback")
    r.close()
    wait_for(lambda: re.search(rf"gate26\[\d+\]: info: {qid}: from=<app@example.test>", g.log()),
             what="the message's line on stderr")
    assert_serving(g)


# ---- The unit ----

def unit_settings(path):
    """The unit's [Service] settings: {key: [values in order]}."""
    out, section = {}, None
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        key, _, value = line.partition("=")
        if section == "[Service]":
            out.setdefault(key, []).append(value)
    return out


def exposure(unit):
    """`systemd-analyze security --offline=yes UNIT`'s overall exposure, a float."""
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    m = re.search(r"Overall exposure level for [\w-]+\.service: (\d+\.\d+)", p.stdout)
    assert m, p.stdout[-2000:]
    return float(m.group(1)), p.stdout


def verify(unit):
    """`systemd-analyze verify` of UNIT: (exit status, what it said)."""
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).strip()


def unit_copy(tmp_path, extra=""):
    """The unit with ExecStart naming the binary under test (verify wants it to exist)."""
    d = tmp_path / "units"
    d.mkdir(exist_ok=True)
    text = UNIT.read_text().replace("ExecStart=/usr/sbin/gate26 ", f"ExecStart={BIN} ")
    assert f"ExecStart={BIN} serve -c /etc/gate26/gate26.conf" in text
    (d / "gate26.service").write_text(text.replace("[Install]", extra + "[Install]"))
    return d / "gate26.service"


def test_unit_is_what_the_issue_asks():
    s = unit_settings(UNIT)
    assert s["Type"] == ["notify"]
    assert s["ExecStart"] == ["/usr/sbin/gate26 serve -c /etc/gate26/gate26.conf"]
    # As gate26, whom the daemon runs as by then (root would need CAP_KILL; tests/pkg runs it).
    assert s["ExecReload"] == [
        "/usr/bin/setpriv --reuid=gate26 --regid=gate26 --clear-groups /bin/kill -HUP $MAINPID"]
    assert s["Restart"] == ["on-failure"]
    assert s["TimeoutStopSec"] == ["30"]
    assert s["RuntimeDirectory"] == ["gate26"] and s["RuntimeDirectoryMode"] == ["0755"]
    assert s["ProtectSystem"] == ["strict"] and s["PrivateTmp"] == ["yes"]
    assert s["ProtectHome"] == ["yes"] and s["NoNewPrivileges"] == ["yes"]
    assert "/var/spool/gate26" in s["ReadWritePaths"][0].split()
    assert s["SystemCallFilter"][0] == "@system-service"
    assert set(s["CapabilityBoundingSet"][0].split()) == {
        "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE"}


def test_unit_verifies(tmp_path):
    rc, said = verify(unit_copy(tmp_path))
    assert rc == 0 and said == "", said
    # The check can fail: a misspelt setting is named (verify still exits 0 for it).
    rc, said = verify(unit_copy(tmp_path, extra="ProtectSystem=sometimes\nNoNewPrivilege=yes\n"))
    assert "protect system value" in said and "NoNewPrivilege" in said, said


def test_unit_security_is_ok():
    level, text = exposure(UNIT)
    assert level <= 2.5, text
    # The drop-in for capture and block-scanners is rated too (it grants more: above 2.5).
    assert "✗ RestrictAddressFamilies=~AF_PACKET" not in text


def test_capture_dropin_is_read_and_rated(tmp_path):
    d = tmp_path / "units"
    (d / "gate26.service.d").mkdir(parents=True)
    (d / "gate26.service").write_text(UNIT.read_text())
    (d / "gate26.service.d" / "capture.conf").write_text(CAPTURE_DROPIN.read_text())
    level, text = exposure(d / "gate26.service")
    assert "✗ RestrictAddressFamilies=~AF_PACKET" in text, text  # the drop-in was read
    assert level < 3.5, text
    s = unit_settings(CAPTURE_DROPIN)
    assert set(s["CapabilityBoundingSet"][0].split()) == {"CAP_NET_RAW", "CAP_NET_ADMIN",
                                                          "CAP_SETPCAP"}


def user_spool(directory):
    """The spool as the package makes it: the user's, 0700 (root needs DAC_OVERRIDE in it)."""
    spool = Path(directory) / "spool"
    spool.mkdir(parents=True)
    pw = pwd.getpwnam(GATE26_USER)
    os.chown(spool, pw.pw_uid, pw.pw_gid)
    spool.chmod(0o700)


def bounded(*units, without=()):
    """The setpriv prefix that runs a command as the units' CapabilityBoundingSet leaves root
    (their sets together, less the capabilities named in without), inheriting none."""
    caps = [c for u in units for c in unit_settings(u)["CapabilityBoundingSet"][0].split()
            if c not in without]
    bounding = "-all," + ",".join("+" + c[4:].lower() for c in caps)
    return ["setpriv", f"--bounding-set={bounding}", "--inh-caps=-all", "--no-new-privs"]


@pytest.mark.skipif(GATE26_USER is None, reason="needs root: the bounding set is root's")
def test_unit_capabilities_are_enough(tmp_path):
    doors = {"inbound": {"tls": "none"}, "internal": {"allow": "127.0.0.0/8", "tls": "none"}}
    g = PrefixGateway(tmp_path / "gw", doors, DEFAULT_DOMAINS)
    g.prefix = bounded(UNIT)
    user_spool(g.dir)
    try:
        g.start()
        assert "event=privileges, user=gate26" in g.log()
        r = g.raw()
        r.cmd("EHLO client.test", 250)
        r.cmd("MAIL FROM:<a@example.test>", 250)
        r.cmd("RCPT TO:<b@example.test>", 250)
        r.cmd("DATA", 354)
        r.send("Subject: caps\r\n\r\nx\r\n.\r\n")
        qid = queued_id(r)
        r.close()
        assert qid in g.queue_files()
        assert_serving(g)
    finally:
        g.stop()
    # Without DAC_OVERRIDE root cannot make its lock in the user's spool: the set is no larger
    # than it must be, and this test would see a smaller one fail.
    g2 = PrefixGateway(tmp_path / "gw2", doors, DEFAULT_DOMAINS)
    g2.prefix = bounded(UNIT, without=("CAP_DAC_OVERRIDE",))
    user_spool(g2.dir)
    with open(g2.logfile, "ab") as logf:
        p = subprocess.run([*g2.prefix, BIN, "serve", "-c", str(g2.conf)], stdout=logf,
                           stderr=subprocess.STDOUT, env=g2.env, timeout=60)
    assert p.returncode == 1 and "Permission denied" in g2.log(), g2.log()


@pytest.mark.skipif(GATE26_USER is None, reason="needs root: the capture is root's")
def test_capture_dropin_capabilities_are_enough(tmp_path):
    doors = {"internal": {"allow": "127.0.0.0/8", "tls": "none"}}
    g = PrefixGateway(tmp_path / "gw", doors, DEFAULT_DOMAINS, extra="watch {\n    capture lo\n}\n")
    g.prefix = bounded(UNIT, CAPTURE_DROPIN)
    user_spool(g.dir)
    try:
        g.start(started=lambda g: "event=sensor-privileges" in g.log())
        assert re.search(r"event=sensor-privileges, uid=\d+, gid=\d+, caps=net_raw\b", g.log())
        assert "event=sensor-gone" not in g.log()
        assert_serving(g)
    finally:
        g.stop()


@pytest.mark.skipif(GATE26_USER is None, reason="needs root: the bounding set is root's")
def test_capture_without_dropin_serves_and_says_so(tmp_path):
    """`watch { capture }` under the unit alone: the capture is refused, the sensor stops,
    each said in the log, and gate26 serves on (the drop-in is what is missing)."""
    doors = {"internal": {"allow": "127.0.0.0/8", "tls": "none"}}
    g = PrefixGateway(tmp_path / "gw", doors, DEFAULT_DOMAINS, extra="watch {\n    capture lo\n}\n")
    g.prefix = bounded(UNIT)
    user_spool(g.dir)
    try:
        g.start(started=lambda g: "event=start" in g.log() and "event=sensor-gone" in g.log())
        assert re.search(r"warning: -: event=capture-unavailable, capture=lo, ", g.log())
        assert_serving(g)
    finally:
        g.stop()


# ---- The console's unit ----

def test_console_unit_verifies_and_is_rated_ok(tmp_path):
    d = tmp_path / "units"
    d.mkdir()
    text = CONSOLE_UNIT.read_text()
    assert "ExecStart=/usr/sbin/gate26 console -c /etc/gate26/gate26.conf\n" in text
    (d / "gate26-console.service").write_text(
        text.replace("ExecStart=/usr/sbin/gate26 ", f"ExecStart={BIN} "))
    rc, said = verify(d / "gate26-console.service")
    assert rc == 0 and said == "", said
    level, out = exposure(CONSOLE_UNIT)
    assert level <= 2.5, out
    s = unit_settings(CONSOLE_UNIT)
    assert set(s["CapabilityBoundingSet"][0].split()) == {
        "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID"}
    assert s["ReadWritePaths"] == ["/var/spool/gate26"]


@pytest.mark.skipif(GATE26_USER is None, reason="needs root: the bounding set is root's")
def test_console_unit_capabilities_are_enough(tmp_path, certs):
    """gate26 console under the unit's bounding set: it binds, reads the key, drops to the
    user and serves the login page over HTTPS."""
    import ssl
    import urllib.request
    port = free_port()
    doors = {"internal": {"allow": "127.0.0.0/8", "tls": "none"}}
    g = PrefixGateway(tmp_path / "gw", doors, DEFAULT_DOMAINS, tls=certs,
                      extra=auth_block(tmp_path / "auth")
                      + f"console {{\n    address 127.0.0.1:{port}\n}}\n")
    user_spool(g.dir)
    log = tmp_path / "console.log"
    with open(log, "wb") as f:
        p = subprocess.Popen([*bounded(CONSOLE_UNIT), BIN, "console", "-c", str(g.conf)],
                             stdout=f, stderr=subprocess.STDOUT, env=g.env)
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

        def login_page():
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/login", context=ctx,
                                            timeout=5) as r:
                    return r.status == 200 and b"<form" in r.read()
            except OSError:
                return False
        wait_for(lambda: p.poll() is not None or login_page(), 30, "the console's login page")
        assert p.poll() is None and "event=console-start" in log.read_text(), log.read_text()
        st = Path(f"/proc/{p.pid}/status").read_text()
        assert re.search(r"(?m)^CapEff:\s*0+$", st), st  # nothing left after the switch
        assert re.search(rf"(?m)^Uid:\s*{pwd.getpwnam(GATE26_USER).pw_uid}\s", st), st
    finally:
        p.terminate()
        p.wait(10)
    assert p.returncode == 0, log.read_text()

