# SPDX-License-Identifier: MIT
"""The peers of the content checks (issue 14), shared by the driver tests
(test_scan.py, test_milter.py) and the daemon tests (test_checks_*.py).

Real checkers, each started here with a configuration of its own on
loopback and stopped by its PID:
  Clamd(root)        clamd (clamav-daemon) with a signature database made
                     here: an .hdb line of VIRUS's MD5 (no download);
                     .unix, .tcp targets ("unix:/PATH", "tcp:127.0.0.1:PORT")
  Rspamd(root)       Debian's rspamd with a local configuration: no network
                     modules, and multimap rules scoring 4, 7 and 16 by the
                     header X-Gate26-Test: four|seven|sixteen; .url
  Opendkim(root)     opendkim -f in milter mode signing DOMAIN with selector
                     s1, on a UNIX socket and a TCP port; .unix, .inet,
                     .record (the key's TXT record)
Fakes (threads of the test process):
  FakeServer         a stream server that hangs, closes, answers garbage (clamd)
  FakeHttp           an HTTP server answering as told or hanging (rspamd)
  FakeMilter         a milter speaking protocol v6 that answers as told:
                     crash ("close"), hang, garbage, reject, tempfail, ...
DNS:
  Zone               the records of a test's zone (TXT: SPF, _dmarc., DKIM
                     keys split into 255-octet strings; A: DNSBL entries,
                     hosts), served by dnsmasq (tests/e2e/dnsmasq.py) as the
                     authority for .test: zone.start(dnsmasq) -> Dnsmasq
DKIM:
  keygen(dir, domain, selector, ed25519=False) -> DkimKey (gate26 dkim keygen)
  dkimpy_key(...) -> DkimKey (a key made for dkimpy to sign with)
  dkim_dnsfunc({name: record}) for dkimpy's verify

Pytest fixtures (import them into the test module): clamd and rspamd
(module scope: rspamd takes ~30 s to start), fake_server, http_fake,
fake_milter, opendkim.
"""
import base64
import grp
import hashlib
import http.server
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import BIN, GATE26_USER, free_port, wait_for

CLAMD = "/usr/sbin/clamd"
RSPAMD = "/usr/bin/rspamd"
OPENDKIM = "/usr/sbin/opendkim"
OPENDKIM_GENKEY = "/usr/sbin/opendkim-genkey"

MAX_SIZE = 10 * 1024 * 1024          # gate26's default max-message-size
STREAM_MAX = 12 * 1024 * 1024        # clamd's StreamMaxLength here
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
VIRUS = b"gate26 test payload: not a virus, but listed as one\n"
VIRUS_NAME = "Gate26.Test.File.UNOFFICIAL"   # clamd's name for the .hdb entry below


def stop(proc, grace=20):
    """SIGTERM by PID, then SIGKILL after grace seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def reachable(path):
    """Makes path and its parents up to / crossable by gate26's user (o+x), as a
    directory from pytest's tmp_path_factory (0700) is not."""
    for p in [Path(path), *Path(path).parents]:
        if p == Path("/"):
            break
        mode = p.stat().st_mode
        if not mode & 0o001:
            p.chmod(mode | 0o001)


# ---- clamd ----

class Clamd:
    def __init__(self, root):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        db = root / "db"
        db.mkdir(exist_ok=True)
        self.virus = root / "virus.bin"
        self.virus.write_bytes(VIRUS)
        (db / "gate26.hdb").write_text(
            f"{hashlib.md5(VIRUS).hexdigest()}:{len(VIRUS)}:Gate26.Test.File\n")
        self.sock = root / "clamd.sock"
        self.port = free_port()
        conf = root / "clamd.conf"
        conf.write_text(f"""LocalSocket {self.sock}
LocalSocketMode 666
TCPSocket {self.port}
TCPAddr 127.0.0.1
DatabaseDirectory {db}
TemporaryDirectory {root}
Foreground yes
User root
StreamMaxLength {STREAM_MAX // (1024 * 1024)}M
MaxFileSize 100M
MaxScanSize 100M
LogFile {root}/clamd.log
""")
        self.log = open(root / "clamd.out", "wb")
        self.proc = subprocess.Popen([CLAMD, "-c", str(conf)], stdout=self.log, stderr=self.log)
        wait_for(self.ready, 120, "clamd's socket")

    def ready(self):
        assert self.proc.poll() is None, (self.root / "clamd.out").read_text()
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(self.sock))
                s.sendall(b"zPING\0")
                return s.recv(16) == b"PONG\0"
        except OSError:
            return False

    def instream(self, data, timeout=60):
        """Scans data through clamd's INSTREAM ourselves: clamd's answer, e.g.
        "stream: OK" (to check what a test message is to clamd)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(b"zINSTREAM\0")
            for i in range(0, len(data), 65536):
                chunk = data[i:i + 65536]
                s.sendall(struct.pack(">I", len(chunk)) + chunk)
            s.sendall(struct.pack(">I", 0))
            out = b""
            while not out.endswith(b"\0"):
                more = s.recv(4096)
                if not more:
                    break
                out += more
        return out.rstrip(b"\0").decode()

    @property
    def unix(self):
        return f"unix:{self.sock}"

    @property
    def tcp(self):
        return f"tcp:127.0.0.1:{self.port}"

    def stop(self):
        stop(self.proc)
        self.log.close()


@pytest.fixture(scope="module")
def clamd(tmp_path_factory):
    c = Clamd(tmp_path_factory.mktemp("clamd"))
    yield c
    c.stop()


def infected_message(sender="alice@example.test", rcpt="bob@ours.test"):
    """A MIME message carrying VIRUS as a base64 attachment (clamd decodes it
    and matches the .hdb hash of the part)."""
    b64 = base64.encodebytes(VIRUS).replace(b"\n", b"\r\n")
    return (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: an attachment\r\n"
            "Date: Mon, 07 Dec 2026 02:00:00 +0000\r\nMessage-ID: <virus@example.test>\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
            "--b1\r\nContent-Type: text/plain\r\n\r\nsee the attachment\r\n"
            "--b1\r\nContent-Type: application/octet-stream\r\n"
            'Content-Disposition: attachment; filename="payload.bin"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + b64 + b"--b1--\r\n"


# ---- rspamd ----

class Rspamd:
    """Debian's rspamd with its own configuration (/etc/rspamd) and a local
    one written here (--var LOCAL_CONFDIR): the normal worker and the
    controller on ports of our own, the proxy off, every module that asks
    the network (DNS lists, fuzzy, SPF/DKIM/DMARC, hfilter) or redis off, DNS
    to a closed port of 127.0.0.1 (nothing leaves the host), and three
    multimap rules that score 4, 7 and 16 by an X-Gate26-Test header, so a
    message can cross each of gate26's thresholds (3, 6, 15)."""

    OFF = ["fuzzy_check", "rbl", "asn", "spf", "dkim", "dmarc", "arc", "neural", "ratelimit",
           "replies", "greylist", "history_redis", "phishing", "url_redirector", "hfilter",
           "dkim_signing", "mx_check", "reputation", "clickhouse", "elastic", "metadata_exporter"]
    SYMBOLS = {"four": "GATE26_TEST_FOUR", "seven": "GATE26_TEST_SEVEN",
               "sixteen": "GATE26_TEST_SIXTEEN"}

    def __init__(self, root):
        self.root = root
        local = root / "local"
        (local / "override.d").mkdir(parents=True)
        (local / "local.d").mkdir()
        for d in ("db", "run", "log"):
            (root / d).mkdir()
        self.port = free_port()
        over = local / "override.d"
        (over / "worker-normal.inc").write_text(
            f'bind_socket = "127.0.0.1:{self.port}";\ncount = 1;\n')
        (over / "worker-controller.inc").write_text(
            f'bind_socket = "127.0.0.1:{free_port()}";\ncount = 1;\n')
        (over / "worker-proxy.inc").write_text("enabled = false;\n")
        (over / "options.inc").write_text(
            'dns { nameserver = ["127.0.0.1:1"]; timeout = 0.2s; retransmits = 1; }\n')
        (over / "logging.inc").write_text(
            f'type = "file"; filename = "{root}/log/rspamd.log"; level = "info";\n')
        for m in self.OFF:
            (over / f"{m}.conf").write_text("enabled = false;\n")
        rules = []
        for name, score in (("four", 4), ("seven", 7), ("sixteen", 16)):
            (local / f"{name}.map").write_text(f"{name}\n")
            rules.append(f'GATE26_TEST_{name.upper()} {{ type = "header"; header = '
                         f'"X-Gate26-Test"; map = "{local}/{name}.map"; score = {score}.0; }}')
        (local / "local.d" / "multimap.conf").write_text("\n".join(rules) + "\n")
        self.out = open(root / "rspamd.out", "wb")
        self.proc = subprocess.Popen(
            [RSPAMD, "-f", "-u", "root", "-g", "root", "-c", "/etc/rspamd/rspamd.conf",
             f"--var=LOCAL_CONFDIR={local}", f"--var=DBDIR={root}/db",
             f"--var=RUNDIR={root}/run", f"--var=LOGDIR={root}/log"],
            stdout=self.out, stderr=self.out)
        # The first start compiles its regular expressions (hyperscan): tens of seconds.
        wait_for(self.ready, 240, "rspamd's normal worker")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def ready(self):
        assert self.proc.poll() is None, (self.root / "rspamd.out").read_text()[-3000:]
        try:
            with urllib.request.urlopen(self.url + "/ping", timeout=1) as r:
                return r.read().strip() == b"pong"
        except OSError:
            return False

    def stop(self):
        stop(self.proc)
        self.out.close()


@pytest.fixture(scope="module")
def rspamd(tmp_path_factory):
    r = Rspamd(tmp_path_factory.mktemp("rspamd"))
    yield r
    r.stop()


# ---- fake stream servers (clamd) and HTTP servers (rspamd) ----

class FakeServer:
    """A stream server on a UNIX socket or 127.0.0.1 that does what it is told
    with each connection: 'hang' (accept, read, never answer), 'stuck' (accept,
    never read), 'close' (read the whole stream, close), bytes to answer after
    the first octets, or ('then-close', bytes) to read the whole stream, answer
    them and close. .target is "unix:/PATH" or "127.0.0.1:PORT" (.tcp:
    "tcp:127.0.0.1:PORT", as the checks block's antivirus key writes it)."""

    def __init__(self, behaviour, path=None):
        self.behaviour = behaviour
        if path is not None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.bind(str(path))
            self.target = f"unix:{path}"
        else:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
            self.target = f"127.0.0.1:{self.sock.getsockname()[1]}"
            self.tcp = f"tcp:{self.target}"
        self.sock.listen(8)
        self.conns = []
        self.accepted = 0
        self.ended = 0      # connections the client closed
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.accepted += 1
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            if self.behaviour == "stuck":
                return
            if self.behaviour == "close" or isinstance(self.behaviour, tuple):
                got = b""   # the whole stream, up to its zero-length chunk
                while not got.endswith(b"\0\0\0\0"):
                    more = conn.recv(65536)
                    if not more:
                        break
                    got += more
                if isinstance(self.behaviour, tuple):
                    conn.sendall(self.behaviour[1])
                conn.close()
                return
            conn.recv(10)
            if isinstance(self.behaviour, bytes):
                conn.sendall(self.behaviour)
            while not self.stopping and conn.recv(65536):
                pass
            if not self.stopping:
                self.ended += 1
        except OSError:
            pass

    def stop(self):
        self.stopping = True
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def fake_server():
    made = []

    def make(behaviour, path=None):
        f = FakeServer(behaviour, path)
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop()


class FakeHttp:
    """An HTTP server on 127.0.0.1 that records each request and answers as
    told: (status, body) as JSON, 'hang' (reads, never answers)."""

    def __init__(self, answer):
        self.requests = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                fake.requests.append((self.path, self.headers, body))
                if fake.answer == "hang":
                    fake.release.wait(60)
                    return
                status, data = fake.answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.answer = answer
        self.release = threading.Event()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_fake():
    made = []

    def make(answer):
        f = FakeHttp(answer)
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop()


# ---- milters: a fake one and opendkim ----

# Actions and protocol steps of the milter protocol version 6 (libmilter's mfdef.h).
SMFIF_ADDHDRS, SMFIF_CHGBODY, SMFIF_ADDRCPT, SMFIF_CHGHDRS, SMFIF_QUARANTINE, SMFIF_SETSYMLIST = \
    0x01, 0x02, 0x04, 0x10, 0x20, 0x100
ALL_ACTIONS = SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_CHGHDRS | SMFIF_QUARANTINE
SMFIP_NOCONNECT, SMFIP_NOHELO, SMFIP_NR_HDR, SMFIP_SKIP, SMFIP_NR_BODY, SMFIP_RCPT_REJ = \
    0x01, 0x02, 0x80, 0x400, 0x80000, 0x800


def pkt(cmd, data=b""):
    """One milter packet: length, command, data."""
    return struct.pack(">I", len(data) + 1) + cmd + data


class FakeMilter:
    """A milter on a UNIX socket (or TCP with inet=True), one thread. It answers
    OPTNEG with actions, protocol and symlists, then for each command the list
    replies[cmd] (packets as bytes, or a function of the command's data that
    returns them; "close": it closes; "hang": it stops answering; "progress":
    PROGRESS every 0.1 s for ever; OPTNEG "close" closes at once), by default
    CONTINUE (and ACCEPT at the end of the message); no reply to MACRO, ABORT
    and QUIT. Each packet received is kept in .got as (cmd, data). .spec is
    "unix:/PATH" or "inet:PORT@127.0.0.1"."""

    serial = 0

    def __init__(self, tmp, actions=ALL_ACTIONS, protocol=0, symlists=b"", replies=None,
                 optneg=None, inet=False):
        self.actions, self.protocol, self.symlists = actions, protocol, symlists
        self.optneg = optneg
        self.replies = replies or {}
        self.got = []
        self.stop_flag = threading.Event()
        if inet:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", 0))
            self.spec = f"inet:{self.sock.getsockname()[1]}@127.0.0.1"
        else:
            FakeMilter.serial += 1
            path = tmp / f"fake{FakeMilter.serial}.sock"
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(str(path))
            self.spec = f"unix:{path}"
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop_flag.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(30)
                try:
                    self.talk(conn)
                except (OSError, ConnectionError):
                    pass

    def read_packet(self, conn):
        head = self.read_exact(conn, 4)
        if head is None:
            return None
        (n,) = struct.unpack(">I", head)
        body = self.read_exact(conn, n)
        if body is None:
            return None
        return body[:1], body[1:]

    def read_exact(self, conn, n):
        buf = b""
        while len(buf) < n:
            if self.stop_flag.is_set():
                return None
            try:
                chunk = conn.recv(n - len(buf))
            except socket.timeout:
                continue
            if not chunk:
                return None
            buf += chunk
        return buf

    def talk(self, conn):
        hung = False
        while True:
            p = self.read_packet(conn)
            if p is None:
                return
            cmd, data = p
            self.got.append((cmd, data))
            if hung:
                continue
            if cmd == b"O":
                if self.optneg == "close":
                    return
                conn.sendall(self.optneg if self.optneg is not None else
                             pkt(b"O", struct.pack(">III", 6, self.actions, self.protocol)
                                 + self.symlists))
                continue
            if cmd in (b"D", b"A", b"Q", b"K"):
                if cmd == b"Q":
                    return
                continue
            default = [pkt(b"a")] if cmd == b"E" else [pkt(b"c")]
            replies = self.replies.get(cmd.decode(), default)
            if callable(replies):
                replies = replies(data)
            if replies == "progress":
                while not self.stop_flag.is_set():
                    conn.sendall(pkt(b"p"))
                    time.sleep(0.1)
                return
            if replies == "close":
                return
            if replies == "hang":
                hung = True
                continue
            for r in replies:
                conn.sendall(r)

    def cmds(self, cmd):
        return [d for c, d in self.got if c == cmd]

    def stop(self):
        self.stop_flag.set()
        self.sock.close()
        self.thread.join(timeout=40)


@pytest.fixture
def fake_milter(tmp_path):
    made = []

    def make(**kw):
        m = FakeMilter(tmp_path, **kw)
        made.append(m)
        return m

    yield make
    for m in made:
        m.stop()


class Opendkim:
    """opendkim -f in milter mode (sign and verify) for domain, selector s1,
    on a UNIX socket and on a TCP port (two processes). .unix and .inet are
    the specs, .record the public key's TXT record."""

    def __init__(self, root, domain="example.test", selector="s1"):
        root.mkdir(parents=True, exist_ok=True)
        self.domain, self.selector = domain, selector
        subprocess.run([OPENDKIM_GENKEY, "-b", "2048", "-d", domain, "-s", selector,
                        "-D", str(root)], check=True, timeout=60)
        txt = (root / f"{selector}.txt").read_text()
        self.record = "".join(part.split('"')[1] for part in txt.split("\n") if '"' in part)
        self.port = free_port()
        self.procs = []
        for i, sock in enumerate([f"local:{root}/sock", f"inet:{self.port}@127.0.0.1"]):
            conf = root / f"opendkim{i}.conf"
            conf.write_text(f"Syslog no\nMode sv\nDomain {domain}\nSelector {selector}\n"
                            f"KeyFile {root}/{selector}.private\nRequireSafeKeys no\n"
                            f"Socket {sock}\nUserID root\nPidFile {root}/pid{i}\n"
                            "On-NoSignature accept\n")
            self.procs.append(subprocess.Popen([OPENDKIM, "-f", "-x", str(conf)],
                                               stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))
        self.unix = f"unix:{root}/sock"
        self.inet = f"inet:{self.port}@127.0.0.1"

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return (root / "sock").exists()
            except OSError:
                return False

        try:
            wait_for(up, timeout=30, what="opendkim's sockets")
        except AssertionError:
            self.stop()
            raise

    def dnsfunc(self):
        return dkim_dnsfunc({f"{self.selector}._domainkey.{self.domain}": self.record})

    def stop(self):
        # opendkim lingers for seconds after SIGTERM (its threads' timeouts): a short
        # grace, then SIGKILL; both by PID.
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)


@pytest.fixture
def opendkim(tmp_path):
    """An Opendkim for example.test; yields (unix spec, inet spec, public key record)."""
    o = Opendkim(tmp_path / "opendkim")
    try:
        yield o.unix, o.inet, o.record
    finally:
        o.stop()


# ---- DNS: a zone served by dnsmasq ----

def txt_strings(text):
    """A TXT record's text as character-strings of at most 255 octets (RFC 1035
    3.3.14; RFC 6376 3.6.2.2 and RFC 7208 3.3 join them with nothing)."""
    data = text.encode()
    return [data[i:i + 255].decode() for i in range(0, len(data), 255)] or [""]


class Zone:
    """The records of a test's DNS, served by dnsmasq as the authority for the
    domains given (default .test: unknown names there are NXDOMAIN, known
    names without the type asked NODATA; names outside are REFUSED, which the
    checks see as a temporary failure).

        zone = Zone().spf("pass.test", "v=spf1 ip4:127.0.0.0/8 -all") \\
                     .dmarc("pass.test", "v=DMARC1; p=reject") \\
                     .dkim_key("pass.test", "s1", key.record) \\
                     .listed("bl.test", "127.0.0.2")
        dns = zone.start(dnsmasq)      # dns.server: "127.0.0.1:PORT"
    """

    def __init__(self, *authority):
        self.authority = authority or ("test",)
        self.records = []   # dnsmasq options, in order

    def txt(self, name, text):
        """A TXT record; text over 255 octets is split into several strings.
        dnsmasq takes a comma as a string separator, so text may not hold one."""
        assert "," not in text, f"dnsmasq cannot serve a comma in a TXT string: {text!r}"
        self.records.append(f"--txt-record={name}," + ",".join(txt_strings(text)))
        return self

    def spf(self, domain, record):
        return self.txt(domain, record)

    def dmarc(self, domain, record):
        return self.txt(f"_dmarc.{domain}", record)

    def dkim_key(self, domain, selector, record):
        return self.txt(f"{selector}._domainkey.{domain}", record)

    def a(self, name, *addrs):
        """A (and AAAA) records of a host name."""
        self.records.append(f"--host-record={name}," + ",".join(addrs))
        return self

    def listed(self, zone, client, answer="127.0.0.2"):
        """A DNS list entry: client 127.0.0.2 in bl.test is 2.0.0.127.bl.test A answer."""
        name = ".".join(reversed(client.split("."))) + "." + zone
        # --address, not --host-record: a host record would also answer the PTR of
        # answer (127.0.0.2) with this name.
        self.records.append(f"--address=/{name}/{answer}")
        return self

    def args(self):
        return [*(f"--local=/{d}/" for d in self.authority), *self.records]

    def start(self, dnsmasq):
        """Starts dnsmasq (the fixture of tests/e2e/dnsmasq.py) serving this zone."""
        return dnsmasq(*self.args())


# ---- DKIM keys ----

@dataclass
class DkimKey:
    domain: str
    selector: str
    path: Path        # the key file gate26 reads (PEM), given to gate26's group
    record: str       # the TXT record: "v=DKIM1; k=...; p=..."
    dkimpy: bytes     # the private key as dkimpy.sign takes it
    algorithm: bytes  # b"rsa-sha256" or b"ed25519-sha256"


def keygen(directory, domain, selector, ed25519=False):
    """A key made by `gate26 dkim keygen` in directory, readable by gate26's user."""
    path = Path(directory) / f"{domain}.{selector}.key"
    p = subprocess.run([BIN, "dkim", "keygen", domain, selector, "--out", str(path),
                        *(["--ed25519"] if ed25519 else [])], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    line = p.stdout.decode().strip()
    assert line.startswith(f"{selector}._domainkey.{domain}. IN TXT "), line
    record = "".join(re.findall(r'"([^"]*)"', line))
    if GATE26_USER is not None:
        os.chown(path, 0, grp.getgrnam(GATE26_USER).gr_gid)
        os.chmod(path, 0o640)
    if ed25519:
        der = subprocess.run(["openssl", "pkey", "-in", str(path), "-outform", "DER"],
                             capture_output=True, check=True).stdout
        priv = base64.b64encode(der[-32:])   # dkimpy takes the raw seed (RFC 8463 A.1)
    else:
        priv = path.read_bytes()
    return DkimKey(domain, selector, path, record, priv,
                   b"ed25519-sha256" if ed25519 else b"rsa-sha256")


def dkimpy_sign(message, key, include_headers=None, length=False):
    """message with the DKIM-Signature dkimpy makes with key prepended."""
    import dkim
    sig = dkim.sign(message, key.selector.encode(), key.domain.encode(), key.dkimpy,
                    canonicalize=(b"relaxed", b"relaxed"), signature_algorithm=key.algorithm,
                    include_headers=include_headers, length=length)
    return sig + message


def dkim_dnsfunc(records):
    """A dnsfunc for dkimpy answering {"sel._domainkey.dom": record} (others: nothing)."""
    table = {k.rstrip(".").lower(): v for k, v in records.items()}

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        got = table.get(name.rstrip(".").lower())
        return got.encode() if got is not None else None

    return dnsfunc


def dkimpy_verify_all(message, dnsfunc):
    """Every DKIM-Signature of message verified by dkimpy: [(d, s, a, ok)]."""
    import dkim
    d = dkim.DKIM(message)
    out = []
    n = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
    for i in range(n):
        try:
            ok = d.verify(idx=i, dnsfunc=dnsfunc)
        except dkim.ValidationError:  # dkimpy raises for some failures (a body hash mismatch)
            ok = False
        sig = d.signature_fields
        out.append((sig.get(b"d", b"").decode(), sig.get(b"s", b"").decode(),
                    sig.get(b"a", b"").decode(), bool(ok)))
    return out


# ---- the daemon with checks: configuration, a transaction, what arrived ----

HOSTNAME = "gate26.test"    # config_text's hostname: the authserv-id of our A-R


def checks_block(door, *lines):
    """A `checks DOOR { ... }` block of the given key lines."""
    return f"checks {door} {{\n" + "".join(f"    {line}\n" for line in lines) + "}\n"


def dkim_block(domain, *keys):
    """A `dkim DOMAIN { selector S; key FILE }` block of DkimKeys (the n-th key
    with the n-th selector: two give dual signing)."""
    inner = "".join(f"    selector {k.selector}\n    key {k.path}\n" for k in keys)
    return f"dkim {domain} {{\n{inner}}}\n"


def start_checks_gateway(gateway, dns, sink, *blocks, inbound=None, domains=None, extra=""):
    """The daemon with an inbound door (tls none; its keys: inbound) and an
    internal door (127.0.0.0/8), the resolver dnsmasq (None: a closed port),
    mail for ours.test relayed to sink (a smtp_peer.Peer; None: a relay nobody
    listens on), tried again every second, and blocks (checks, dkim,
    quarantine ...) added to the configuration."""
    relay = f"smtp://127.0.0.1:{sink.port}" if sink is not None else "smtp://127.0.0.1:1"
    doors = {"inbound": {"tls": "none", **(inbound or {})},
             "internal": {"allow": "127.0.0.0/8", "tls": "none"}}
    resolver = dns.server if dns is not None else "127.0.0.1:1"
    return gateway(doors=doors,
                   domains=domains or {"ours.test": {"relay": relay,
                                                     "verify-recipients": "off"}},
                   delivery="retry 1s",
                   extra=f"resolver {resolver}\n{extra}" + "".join(blocks))


def crlf(data):
    """bytes with every line ending CRLF (bare LF made CRLF)."""
    if isinstance(data, str):
        data = data.encode()
    return re.sub(rb"\r?\n", b"\r\n", data)


def message(sender="alice@example.test", rcpt="bob@ours.test", subject="a test", headers=b"",
            body=b"Hello Bob,\r\nthis is the body.\r\n", mid=None):
    """A well-formed message (From, To, Subject, Date, Message-ID): headers are put
    first, before From."""
    mid = mid or f"<{time.monotonic_ns()}@{sender.rpartition('@')[2] or 'x.test'}>"
    return headers + (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
                      "Date: Mon, 07 Dec 2026 02:00:00 +0000\r\n"
                      f"Message-ID: {mid}\r\nMIME-Version: 1.0\r\n"
                      "Content-Type: text/plain\r\n\r\n").encode() + body


@dataclass
class Transaction:
    greeting: tuple
    ehlo: tuple = None
    mail: tuple = None
    rcpts: list = None
    data: tuple = None      # the reply to DATA (354)
    end: tuple = None       # the reply to the final dot

    @property
    def queue_id(self):
        assert self.end is not None and self.end[0] == 250, self
        m = re.fullmatch(r"2\.0\.0 Ok: queued as ([0-9A-F]{16})", self.end[1])
        assert m, self.end
        return m.group(1)


def transact(g, sender, rcpts, content, role="inbound", helo="mx.sender.test",
             source="127.0.0.1", timeout=60):
    """One SMTP transaction (commands one at a time): each reply as (code, text
    with its lines joined by newlines). Stops after a greeting that is not 220,
    and sends no DATA when no RCPT got 250."""
    from conftest import Raw
    r = Raw(g.port(role), source=source, timeout=timeout)

    def reply():
        code, lines = r.reply()
        return code, "\n".join(lines)

    def cmd(line):
        r.send(line + "\r\n")
        return reply()

    try:
        t = Transaction(greeting=reply(), rcpts=[])
        if t.greeting[0] != 220:
            t.ehlo = cmd(f"EHLO {helo}")
            t.mail = cmd(f"MAIL FROM:<{sender}>")
            t.rcpts = [cmd(f"RCPT TO:<{a}>") for a in rcpts]
            cmd("QUIT")
            return t
        t.ehlo = cmd(f"EHLO {helo}")
        t.mail = cmd(f"MAIL FROM:<{sender}>")
        if t.mail[0] != 250:
            return t
        t.rcpts = [cmd(f"RCPT TO:<{a}>") for a in rcpts]
        if not any(code == 250 for code, _ in t.rcpts):
            cmd("QUIT")
            return t
        t.data = cmd("DATA")
        if t.data[0] != 354:
            return t
        content = crlf(content)
        if content and not content.endswith(b"\r\n"):
            content += b"\r\n"
        stuffed = re.sub(rb"(?m)^\.", b"..", content)
        r.send(stuffed + b".\r\n")
        t.end = reply()
        cmd("QUIT")
        return t
    finally:
        r.close()


def wait_delivered(sink, n=1, timeout=30):
    """The sink's messages once it has n (and the contents of each)."""
    wait_for(lambda: len(sink.messages()) >= n, timeout, f"{n} message(s) at the sink")
    return sink.messages()


def header_fields(data):
    """The header fields of a message as [(name, value unfolded)], in order."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    fields = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1][1] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            fields.append([name, value.strip()])
    return [(n, v) for n, v in fields]


def header_values(data, name):
    return [v for n, v in header_fields(data) if n.lower() == name.lower()]


def our_auth_results(data, hostname=HOSTNAME):
    """The Authentication-Results fields whose authserv-id is ours: [value with
    whitespace collapsed]."""
    out = []
    for v in header_values(data, "Authentication-Results"):
        v = re.sub(r"\s+", " ", v)
        if re.match(rf"(?i){re.escape(hostname)}\s*;", v):
            out.append(v)
    return out


def auth_result(data, method):
    """Our A-R's results of method (spf, dkim, dmarc) as [(result, {prop: value})],
    from the one Authentication-Results with our authserv-id."""
    ars = our_auth_results(data)
    assert len(ars) == 1, f"expected one Authentication-Results of ours, got {ars!r}"
    out = []
    for part in ars[0].split(";")[1:]:
        part = re.sub(r"\([^)]*\)", " ", part).strip()   # comments out
        m = re.match(rf"(?i){method}\s*=\s*(\S+)(.*)", part)
        if m:
            # A value is a token or a quoted-string (RFC 8601 2.2): header.b's base64 holds
            # '/' and '+', which are not token characters, so it often comes quoted.
            props = {k: (v[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                         if len(v) >= 2 and v[0] == v[-1] == '"' else v)
                     for k, v in re.findall(r'([\w.-]+)=("(?:[^"\\]|\\.)*"|\S+)', m.group(2))}
            out.append((m.group(1).lower(), props))
    return out


def log_lines(g, qid):
    return [line for line in g.log().splitlines() if qid in line]


def checks_field(g, qid, status=None):
    """The checks="..." field of the message's status= line (of status if given):
    {check: result} in order."""
    for line in log_lines(g, qid):
        if "status=" in line and (status is None or f"status={status}" in line):
            m = re.search(r'checks="([^"]*)"', line)
            if m:
                return dict(item.split("=", 1) for item in m.group(1).split())
    raise AssertionError(f"no checks= field on a status line of {qid}:\n"
                         + "\n".join(log_lines(g, qid)))


def wait_log(g, needle, timeout=20):
    wait_for(lambda: needle in g.log(), timeout, f"{needle!r} in the log")


def quarantine_cli(g, *args, expect_rc=0):
    """`gate26 quarantine -c CONF ARGS...`: (stdout, stderr)."""
    p = subprocess.run([BIN, "quarantine", "-c", str(g.conf), *args], capture_output=True,
                       timeout=60)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    assert p.returncode == expect_rc, f"quarantine {args} exited {p.returncode}:\n{out}\n{err}"
    return out, err


def quarantine_files(g):
    q = g.spool / "quarantine"
    return sorted(p.name for p in q.rglob("*") if p.is_file()) if q.exists() else []


def metrics_block(port):
    return f"metrics {{\n    address 127.0.0.1:{port}\n}}\n"


def scrape(port):
    """{(name, frozenset of label items): value} of the daemon's /metrics."""
    from prometheus_client.parser import text_string_to_metric_families
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        body = r.read().decode()
    out = {}
    for f in text_string_to_metric_families(body):
        for s in f.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def metric(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0)


@pytest.fixture
def sink():
    """An SMTP server (smtp_peer.Peer, aiosmtpd) taking every message for ours.test."""
    from smtp_peer import Peer
    p = Peer().start()
    yield p
    p.stop()
