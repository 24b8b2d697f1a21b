# SPDX-License-Identifier: MIT
"""The PROXY protocol on a door (issue 13, "Load balancers"; docs/scanners.md,
"PROXY protocol"): `proxy-protocol NETWORKS` makes connections from those
addresses start with a PROXY v1 or v2 header, and the client address it
carries is the one the logs, the Received header, the allow lists and the
per-client limits use.

HAProxy itself (the Debian package) runs in front of gate26 on loopback, with
`send-proxy` and `send-proxy-v2`; clients reach it from 127.0.0.2 and
127.0.0.3 (bound source addresses) while HAProxy connects to gate26 from
127.0.0.1, the one listed address. Bad headers are sent with raw sockets,
each its own test: the connection is closed without a reply and logged
`event=proxy-error, reason=WORD` with the real peer."""
import re
import signal
import smtplib
import socket
import ssl
import struct
import subprocess

import pytest

from certs import CA
from conftest import (BIN, Raw, auth_block, config_text, free_port, queued_id, wait_for,
                      want)
from smtp_peer import Peer

HAPROXY = "/usr/sbin/haproxy"
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
PROXIED = {"tls": "none", "proxy-protocol": "127.0.0.1"}
DELIVER = "retry 1s"
NO_DNS = "resolver 127.0.0.1:1\n"  # relays are addresses: nothing is looked up


def v2(command, family, block):
    """A PROXY v2 header: the signature, version 2 and command, family, length, block."""
    return SIG + bytes([0x20 | command, family]) + struct.pack(">H", len(block)) + block


def v2_tcp4(src, sport, dst="127.0.0.1", dport=25):
    block = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack(">HH", sport, dport)
    return v2(1, 0x11, block)


def port_listening(port, host="127.0.0.1"):
    """True when a socket listens on host:port (a bind with SO_REUSEADDR fails only then)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


class HAProxy:
    """haproxy -db (foreground) in TCP mode, one frontend per server line:
    {name: (frontend port, 'server' line arguments)}. Stopped by its PID."""

    def __init__(self, workdir, fronts):
        self.cfg = workdir / "haproxy.cfg"
        self.logfile = workdir / "haproxy.log"
        self.fronts = fronts
        lines = ["global", "    maxconn 200", "defaults", "    mode tcp",
                 "    timeout connect 5s", "    timeout client 30s", "    timeout server 30s"]
        for name, (port, server) in fronts.items():
            lines += [f"frontend f_{name}", f"    bind 127.0.0.1:{port}",
                      f"    default_backend b_{name}", f"backend b_{name}",
                      f"    server s_{name} {server}"]
        self.cfg.write_text("\n".join(lines) + "\n")
        self.proc = None

    def start(self):
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen([HAPROXY, "-f", str(self.cfg), "-db"], stdout=log,
                                         stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None
                 or all(port_listening(p) for p, _ in self.fronts.values()),
                 what="haproxy to listen")
        assert self.proc.poll() is None, self.logfile.read_text()
        return self

    def port(self, name):
        return self.fronts[name][0]

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def haproxy(tmp_path):
    started = []

    def make(gateway_port, servers=(("v1", "send-proxy"), ("v2", "send-proxy-v2"))):
        fronts = {name: (free_port(), f"127.0.0.1:{gateway_port} {opts}")
                  for name, opts in servers}
        h = HAProxy(tmp_path, fronts).start()
        started.append(h)
        return h

    yield make
    for h in started:
        h.stop()


@pytest.fixture
def peers():
    started = []

    def make(**options):
        p = Peer(**options).start()
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def proxied_gateway(gateway, door=None, **kw):
    return gateway(doors={"inbound": dict(PROXIED, **(door or {}))}, **kw)


def log_since(g, offset):
    return g.log()[offset:]


def wait_log(g, pattern, offset=0, timeout=10):
    """Waits for a log line matching pattern (a regex) after offset; returns the match."""
    found = []

    def seen():
        m = re.search(pattern, g.log()[offset:])
        if m:
            found.append(m)
        return bool(m)

    wait_for(seen, timeout, f"log line {pattern!r}")
    return found[0]


def send_message(r, tag):
    """EHLO, one message to bob@ours.test, QUIT on a greeted Raw; returns the queue id."""
    r.send(b"EHLO client.test\r\n")
    want(r, 250, None)
    r.send(b"MAIL FROM:<alice@far.test>\r\n")
    want(r, 250, "2.1.0")
    r.send(b"RCPT TO:<bob@ours.test>\r\n")
    want(r, 250, "2.1.5")
    r.send(b"DATA\r\n")
    want(r, 354, None)
    r.send(b"Subject: proxied\r\nMessage-ID: <%s@test>\r\n\r\nhello\r\n.\r\n" % tag.encode())
    qid = queued_id(r)
    r.send(b"QUIT\r\n")
    want(r, 221, "2.0.0")
    return qid


# ---- HAProxy in front of gate26 ----

@pytest.mark.parametrize("front,version", [("v1", 1), ("v2", 2)])
def test_haproxy_carries_the_client_into_log_and_received(gateway, haproxy, peers, front,
                                                          version):
    inside = peers()
    g = proxied_gateway(gateway, delivery=DELIVER, extra=NO_DNS,
                        domains={"ours.test": {"relay": f"smtp://127.0.0.1:{inside.port}",
                                               "verify-recipients": "off"}})
    h = haproxy(g.port("inbound"))
    r = Raw(h.port(front), source="127.0.0.2")
    try:
        assert r.expect(220) == "gate26.test ESMTP gate26"
        qid = send_message(r, front)
    finally:
        r.close()
    wait_for(lambda: len(inside.messages()) >= 1, 20, "the message at the relay")
    (conn,) = inside.messages()
    # Our Received header names the client HAProxy carried, not HAProxy.
    assert conn.data.startswith(b"Received: from client.test ([127.0.0.2])\r\n"), conn.data[:200]
    log = g.log()
    assert re.search(r"-: client=\[127\.0\.0\.2\]:\d+, proxy=\[127\.0\.0\.1\]:\d+, door=inbound, "
                     rf"event=proxy, version={version}\n", log), log[-3000:]
    assert re.search(r"-: sid=\w+, client=\[127\.0\.0\.2\]:\d+, door=inbound, event=connect\n",
                     log), log[-3000:]
    assert re.search(rf"{qid}: client=\[127\.0\.0\.2\]:\d+, door=inbound, ", log), log[-3000:]
    assert "client=[127.0.0.1]" not in log, log[-3000:]


@pytest.mark.parametrize("front", ["v1", "v2"])
def test_haproxy_per_client_limit_counts_the_carried_address(gateway, haproxy, front):
    g = proxied_gateway(gateway, door={"max-sessions-per-client": "1"})
    h = haproxy(g.port("inbound"))
    first = Raw(h.port(front), source="127.0.0.2")
    first.expect(220)
    # A second session of 127.0.0.2, through the same proxy: over its limit.
    second = Raw(h.port(front), source="127.0.0.2")
    second.expect(421, "4.7.0 gate26.test Too many sessions from your address")
    assert second.is_closed()
    second.close()
    # Another client through the same proxy is not counted with it (nor with HAProxy).
    other = Raw(h.port(front), source="127.0.0.3")
    other.expect(220)
    other.cmd("QUIT", 221)
    other.close()
    assert re.search(r"-: client=\[127\.0\.0\.2\], door=inbound, event=reject, cmd=CONNECT, "
                     r"reply=\"421 4\.7\.0 [^\"]*\", limit=max-sessions-per-client, value=1\n",
                     g.log()), g.log()[-3000:]
    # Once 127.0.0.2's session ends, it may come again.
    first.cmd("QUIT", 221)
    first.close()
    wait_log(g, r"client=\[127\.0\.0\.2\], door=inbound, event=disconnect")

    def again():
        r = Raw(h.port(front), source="127.0.0.2")
        try:
            code, _ = r.reply()
            if code == 220:
                r.cmd("QUIT", 221)
            return code == 220
        finally:
            r.close()

    wait_for(again, what="127.0.0.2 greeted again")


def test_haproxy_connection_rate_counts_the_carried_address(gateway, haproxy):
    g = proxied_gateway(gateway, door={"connection-rate": "2/1h"})
    h = haproxy(g.port("inbound"))
    for _ in range(2):
        r = Raw(h.port("v2"), source="127.0.0.2")
        r.expect(220)
        r.cmd("QUIT", 221)
        r.close()
    r = Raw(h.port("v1"), source="127.0.0.2")
    r.expect(421, "4.7.0 gate26.test Too many connections from your address")
    r.close()
    r = Raw(h.port("v1"), source="127.0.0.3")
    r.expect(220)
    r.cmd("QUIT", 221)
    r.close()


def test_haproxy_in_front_of_the_implicit_tls_door(gateway, haproxy, tmp_path):
    """The ClientHello after the header reaches the TLS session (submissions, RFC 8314)."""
    ca = CA(tmp_path / "pki")
    g = gateway(doors={"submissions": {"proxy-protocol": "127.0.0.1"}},
                domains={"ours.test": None}, tls=ca.issue("gate26.test", "127.0.0.1"),
                extra=auth_block(tmp_path / "auth"))
    h = haproxy(g.port("submissions"))
    ctx = ssl.create_default_context(cafile=ca.pem)
    ctx.check_hostname = False
    for front in ("v1", "v2"):
        with smtplib.SMTP_SSL("127.0.0.1", h.port(front), timeout=10, context=ctx,
                              source_address=("127.0.0.2", 0)) as s:
            code, _ = s.ehlo("client.test")
            assert code == 250 and s.has_extn("auth")
    log = g.log()
    assert len(re.findall(r"-: sid=\w+, client=\[127\.0\.0\.2\]:\d+, door=submissions, "
                          r"event=connect\n", log)) == 2, log[-3000:]
    assert len(re.findall(r"-: sid=\w+, client=\[127\.0\.0\.2\], event=tls, ", log)) == 2, \
        log[-3000:]


# ---- Raw headers from the listed address ----

def raw_tls_after_header(port, header, ca_pem):
    """Sends header and the ClientHello in one segment, finishes the handshake through
    memory BIOs; returns the greeting read inside TLS."""
    ctx = ssl.create_default_context(cafile=ca_pem)
    ctx.check_hostname = False
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="gate26.test")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        s.sendall(header + outgoing.read())
        got = b""
        for _ in range(100):  # bounded: a handshake is a few round trips
            try:
                if not got:
                    tls.do_handshake()
                got += tls.read(4096)
                if got.endswith(b"\r\n"):
                    return got
            except ssl.SSLWantReadError:
                pass
            pending = outgoing.read()
            if pending:
                s.sendall(pending)
            data = s.recv(65536)
            if not data:
                break
            incoming.write(data)
    raise AssertionError(f"no greeting inside TLS, got {got!r}")


def test_header_and_client_hello_in_one_segment(gateway, tmp_path):
    ca = CA(tmp_path / "pki")
    g = gateway(doors={"submissions": {"proxy-protocol": "127.0.0.1"}},
                domains={"ours.test": None}, tls=ca.issue("gate26.test", "127.0.0.1"),
                extra=auth_block(tmp_path / "auth"))
    greeting = raw_tls_after_header(g.port("submissions"), v2_tcp4("192.0.2.44", 4444), ca.pem)
    assert greeting == b"220 gate26.test ESMTP gate26\r\n"
    wait_log(g, r"-: sid=\w+, client=\[192\.0\.2\.44\]:4444, door=submissions, event=connect\n")


def test_header_and_commands_in_one_segment(gateway):
    """Only the header's octets are taken: the EHLO right behind it is the session's."""
    g = proxied_gateway(gateway)
    r = Raw(g.port("inbound"))
    r.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 25\r\nEHLO client.test\r\n")
    r.expect(220)
    code, lines = r.reply()
    assert code == 250 and lines[0] == "gate26.test", lines
    r.cmd("QUIT", 221)
    r.close()
    log = g.log()
    assert re.search(r"-: sid=\w+, client=\[192\.0\.2\.7\]:40000, door=inbound, event=connect\n",
                     log), log[-2000:]


def test_tcp6_header(gateway):
    g = proxied_gateway(gateway)
    r = Raw(g.port("inbound"))
    r.send(b"PROXY TCP6 2001:db8::7 2001:db8::1 40001 25\r\n")
    r.expect(220)
    r.cmd("QUIT", 221)
    r.close()
    wait_log(g, r"-: sid=\w+, client=\[2001:db8::7\]:40001, door=inbound, event=connect\n")


def test_v2_local_keeps_the_real_address(gateway):
    """A v2 LOCAL (the proxy's health check) and a v1 UNKNOWN keep the connection's address."""
    g = proxied_gateway(gateway)
    for header in (v2(0, 0x00, b""), v2(0, 0x11, b"\x01" * 12), b"PROXY UNKNOWN\r\n"):
        r = Raw(g.port("inbound"))
        r.send(header)
        r.expect(220)
        r.cmd("EHLO client.test", 250)
        r.cmd("QUIT", 221)
        r.close()
    log = g.log()
    assert len(re.findall(r"-: client=\[127\.0\.0\.1\]:(\d+), proxy=\[127\.0\.0\.1\]:\1, "
                          r"door=inbound, event=proxy, version=\d\n", log)) == 3, log[-3000:]
    assert len(re.findall(r"-: sid=\w+, client=\[127\.0\.0\.1\]:\d+, door=inbound, "
                          r"event=connect\n", log)) == 3, log[-3000:]


def test_deny_list_uses_the_carried_address(gateway):
    g = proxied_gateway(gateway, door={"deny": "192.0.2.66"})
    r = Raw(g.port("inbound"))
    r.send(b"PROXY TCP4 192.0.2.66 127.0.0.1 40002 25\r\n")
    r.expect(554, "5.7.1 Access denied: this door is not open to your address")
    assert r.is_closed()
    r.close()
    # The proxy itself is not denied, nor another client it carries.
    r = Raw(g.port("inbound"))
    r.send(b"PROXY TCP4 192.0.2.67 127.0.0.1 40003 25\r\n")
    r.expect(220)
    r.close()


def test_allow_list_uses_the_carried_address(gateway):
    g = gateway(doors={"internal": {"allow": "192.0.2.0/24", "tls": "none",
                                    "proxy-protocol": "127.0.0.1"}})
    r = Raw(g.port("internal"))
    r.send(v2_tcp4("192.0.2.10", 40004))
    r.expect(220)
    r.cmd("QUIT", 221)
    r.close()
    # 127.0.0.1 is not in the allow list: a client it carries from elsewhere is refused.
    r = Raw(g.port("internal"))
    r.send(v2_tcp4("198.51.100.10", 40005))
    r.expect(554, "5.7.1")
    r.close()


BAD_HEADERS = [
    ("too-long", b"PROXY UNKNOWN " + b"x" * 200 + b"\r\n"),
    ("too-long", v2(1, 0x11, b"x" * 300)),
    ("malformed", b"PROXY TCP4 192.0.2.07 127.0.0.1 1 25\r\n"),
    ("malformed", b"PROXY TCP4 192.0.2.7 127.0.0.1 1 25\n"),
    ("malformed", b"PROXY TCP6 192.0.2.7 127.0.0.1 1 25\r\n"),
    ("bad-signature", b"\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x0c" + b"\x01" * 12),
    ("unknown-family", v2(1, 0x41, b"\x01" * 12)),
    ("unknown-family", v2(1, 0x31, b"\x00" * 216)),
    ("unknown-family", v2(1, 0x12, b"\x01" * 12)),
    ("bad-version", b"\r\n\r\n\x00\r\nQUIT\n\x11\x11\x00\x0c" + b"\x01" * 12),
    ("missing", b"EHLO client.test\r\n"),
    ("missing", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
]


@pytest.mark.parametrize("reason,header", BAD_HEADERS,
                         ids=[f"{r}-{i}" for i, (r, _) in enumerate(BAD_HEADERS)])
def test_bad_header_closes_without_a_reply(gateway, reason, header):
    g = proxied_gateway(gateway)
    r = Raw(g.port("inbound"))
    port = r.sock.getsockname()[1]
    r.send(header)
    assert r.is_closed(), "the connection stays open"
    assert r.buf == b"", f"got a reply: {r.buf!r}"
    r.close()
    wait_log(g, rf"-: client=\[127\.0\.0\.1\]:{port}, door=inbound, event=proxy-error, "
                rf"reason={reason}\n")
    assert "event=connect" not in g.log()  # no session was started
    # Still serving the proxy.
    ok = Raw(g.port("inbound"))
    ok.send(b"PROXY TCP4 192.0.2.8 127.0.0.1 1 25\r\n")
    ok.expect(220)
    ok.close()


def test_truncated_header_then_eof(gateway):
    g = proxied_gateway(gateway)
    for header, reason in ((b"PROXY TCP4 192.0.2.7 127.0.0.1 40", "truncated"),
                           (SIG + b"\x21\x11\x00\x0c\xc0\x00", "truncated"),
                           (b"", "eof")):
        r = Raw(g.port("inbound"))
        port = r.sock.getsockname()[1]
        r.send(header)
        r.sock.shutdown(socket.SHUT_WR)
        assert r.is_closed()
        assert r.buf == b""
        r.close()
        wait_log(g, rf"-: client=\[127\.0\.0\.1\]:{port}, door=inbound, event=proxy-error, "
                    rf"reason={reason}\n")
    assert "event=connect" not in g.log()


def test_silent_connection_times_out(gateway):
    g = proxied_gateway(gateway, door={"timeout-command": "1s"})
    r = Raw(g.port("inbound"))
    port = r.sock.getsockname()[1]
    r.send(b"PROXY TCP4 192.0.2.7")  # and nothing more
    assert r.is_closed(timeout=15)
    assert r.buf == b""
    r.close()
    wait_log(g, rf"-: client=\[127\.0\.0\.1\]:{port}, door=inbound, event=proxy-error, "
                rf"reason=timeout\n")


def test_connections_waiting_for_a_header_count_in_max_sessions(gateway):
    """A flood of silent connections from a listed proxy holds at most max-sessions places."""
    g = proxied_gateway(gateway, door={"max-sessions": "2"})
    silent = [Raw(g.port("inbound")) for _ in range(2)]
    for r in silent:
        r.send(b"PROXY ")  # started, never finished

    def busy():
        r = Raw(g.port("inbound"), source="127.0.0.3")  # not a proxy: a direct client
        try:
            code, lines = r.reply()
            return code == 421 and "4.3.2" in lines[0]
        finally:
            r.close()

    wait_for(busy, what="the third connection refused as busy")
    assert "door=inbound, event=busy, sessions=2, door_sessions=2" in g.log()
    for r in silent:
        r.close()
    wait_for(lambda: g.log().count("reason=truncated") == 2, what="the silent ones closed")
    r = Raw(g.port("inbound"), source="127.0.0.3")
    r.expect(220)
    r.close()


def test_header_from_an_unlisted_client_is_not_taken(gateway):
    """A client outside proxy-protocol cannot choose its address with a header: the
    session is its own, from its real address (the deny list's 192.0.2.0/24 does not
    apply to it), whatever the header says."""
    g = proxied_gateway(gateway, door={"deny": "192.0.2.0/24"})
    r = Raw(g.port("inbound"), source="127.0.0.3")
    r.send(b"PROXY TCP4 192.0.2.9 127.0.0.1 40006 25\r\n")
    r.expect(220)
    r.close()
    log = g.log()
    assert re.search(r"-: sid=\w+, client=\[127\.0\.0\.3\]:\d+, door=inbound, event=connect\n",
                     log), log[-2000:]
    assert "client=[192.0.2.9]" not in log and "event=proxy," not in log


def test_header_from_an_unlisted_client_closes_the_connection(gateway, peers):
    """Issue 13: a header 'from elsewhere closes the connection'. The session's sniffing
    (src/smtp/sniff.c) classifies it as kind proxy, answers 554 5.7.0 and closes it."""
    inside = peers()
    g = proxied_gateway(gateway, delivery=DELIVER, extra=NO_DNS,
                        domains={"ours.test": {"relay": f"smtp://127.0.0.1:{inside.port}",
                                               "verify-recipients": "off"}})
    r = Raw(g.port("inbound"), source="127.0.0.3")
    r.send(b"PROXY TCP4 10.9.9.9 127.0.0.1 40007 25\r\n")
    r.send(b"EHLO client.test\r\nMAIL FROM:<a@far.test>\r\nRCPT TO:<bob@ours.test>\r\n"
           b"DATA\r\n")
    closed = r.is_closed(timeout=5)
    r.close()
    assert closed, f"the connection stays open: {r.buf!r}"
    assert b"354" not in r.buf
    assert g.queue_files() == [] and inside.messages() == []


# ---- Configuration ----

def test_reload_turns_proxy_protocol_on_and_off(gateway):
    g = gateway(doors={"inbound": {"tls": "none"}})
    r = Raw(g.port("inbound"))
    r.expect(220)
    r.close()
    g.doors = {"inbound": dict(PROXIED)}
    g.write_config()
    offset = len(g.log())
    g.hup()
    wait_log(g, r"event=reload, status=ok", offset)
    r = Raw(g.port("inbound"))
    r.send(b"EHLO client.test\r\n")
    assert r.is_closed() and r.buf == b""
    r.close()
    r = Raw(g.port("inbound"))
    r.send(b"PROXY TCP4 192.0.2.9 127.0.0.1 40008 25\r\n")
    r.expect(220)
    r.close()
    wait_log(g, r"client=\[192\.0\.2\.9\]:40008, door=inbound, event=connect", offset)
    # And off again: a header is no longer taken from 127.0.0.1. A connection that was
    # waiting for its header at the reload finishes under the list it was accepted with.
    waiting = Raw(g.port("inbound"))
    waiting.send(b"PROXY TCP4 192.0.2.10 ")
    wait_log(g, r"event=proxy-wait", offset)
    g.doors = {"inbound": {"tls": "none"}}
    g.write_config()
    offset = len(g.log())
    g.hup()
    wait_log(g, r"event=reload, status=ok", offset)
    r = Raw(g.port("inbound"))
    r.expect(220)
    r.cmd("EHLO client.test", 250)
    r.close()
    waiting.send(b"127.0.0.1 40009 25\r\n")
    waiting.expect(220)
    waiting.close()
    wait_log(g, r"client=\[192\.0\.2\.10\]:40009, door=inbound, event=connect", offset)


def test_stop_while_a_header_is_awaited(gateway):
    """SIGTERM: the connections waiting for a header are closed (no session to finish),
    and gate26 exits 0 with nothing leaked (the fixture checks the sanitizers)."""
    g = proxied_gateway(gateway)
    r = Raw(g.port("inbound"))
    r.send(b"PROXY ")
    wait_log(g, r"-: proxy=\[127\.0\.0\.1\]:\d+, door=inbound, event=proxy-wait, timeout=10s")
    g.stop()
    assert r.is_closed() and r.buf == b""
    r.close()


@pytest.mark.parametrize("value,phrase", [
    ("10.0.0.1/8", "'10.0.0.1/8' has bits set past its /8 prefix (did you mean 10.0.0.0/8?)"),
    ("lb.example", "expected an IPv4 or IPv6 network such as 10.0.0.0/8"),
    ("10.0.0.0/33", "expected a prefix length from 0 to 32"),
    ("127.0.0.1:25", "expected an IPv4 or IPv6 network"),
])
def test_configtest_rejects_a_bad_network(tmp_path, value, phrase):
    conf = tmp_path / "gate26.conf"
    text = config_text(tmp_path / "spool", {"inbound": free_port()},
                       {"inbound": {"tls": "none", "proxy-protocol": value}},
                       {"ours.test": None})
    conf.write_text(text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "proxy-protocol" in ln)
    res = subprocess.run([BIN, "configtest", "-c", str(conf)], capture_output=True, text=True,
                         timeout=20)
    assert res.returncode == 1, res
    assert res.stdout == ""
    assert res.stderr.startswith(f"{conf}:{line}: "), res.stderr
    assert phrase in res.stderr, res.stderr


def test_proxy_errors_are_counted_in_the_metrics(gateway):
    """A header that is missing or wrong counts as
    gate26_connections_total{result="proxy_error"} at the door, not as accepted."""
    import urllib.request

    mport = free_port()
    g = proxied_gateway(gateway, extra=f"metrics {{\n    address 127.0.0.1:{mport}\n}}\n")
    for header in (b"EHLO client.test\r\n", b"PROXY TCP4 nonsense\r\n"):
        r = Raw(g.port("inbound"))
        r.send(header)
        assert r.is_closed()
        r.close()
    ok = Raw(g.port("inbound"))
    ok.send(b"PROXY TCP4 192.0.2.8 127.0.0.1 1 25\r\n")
    ok.expect(220)
    ok.close()

    def count(result):
        with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=10) as f:
            body = f.read().decode()
        m = re.search(rf'^gate26_connections_total\{{door="inbound",result="{result}"\}} (\S+)$',
                      body, re.M)
        return float(m.group(1)) if m else None

    wait_for(lambda: count("proxy_error") == 2, what="two proxy errors in the metrics")
    assert count("accepted") == 1
