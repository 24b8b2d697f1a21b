# SPDX-License-Identifier: MIT
"""The remote part of gate26 check (issue 6): src/check/probe.c and mx.c,
run through their driver probe_try against real servers on loopback:
gate26's own doors configured well and badly, aiosmtpd (smtp_peer.Peer)
with good, self-signed and expired certificates, smtp-sink (accepts every
recipient: an open relay), a closed port, a filtered one (a listener whose
accept queue is full drops further SYNs), one that never greets, and MX,
null MX and reverse DNS served by dnsmasq.

probe_try prints one JSON object per host; after the merge with the CLI
these may move to `gate26 check --json`."""
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from certs import CA, self_signed
from conftest import ROOT, SANITIZER_MARKS, free_port
from dnsmasq import dnsmasq  # noqa: F401 (fixture)
from smtp_peer import Peer
from test_auth import make_passwd

DRIVER = Path(os.environ.get("GATE26_BIN", ROOT / "build-test" / "src" / "gate26")).parent \
    / "check" / "probe_try"
SMTP_SINK = "/usr/sbin/smtp-sink"


@pytest.fixture
def ca(tmp_path):
    return CA(tmp_path / "pki")


@pytest.fixture
def peer():
    started = []

    def make(**options):
        p = Peer(**options).start()
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


@pytest.fixture
def sink():
    """smtp-sink on a free port: answers 250 to everything."""
    port = free_port()
    proc = subprocess.Popen([SMTP_SINK, "-u", "nobody", "-c", f"127.0.0.1:{port}", "10"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = 50
    while deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            deadline -= 1
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def probe(*args, timeout=2000, expect_rc=0):
    """Runs probe_try; returns the JSON objects it printed."""
    p = subprocess.run([str(DRIVER), "--timeout", str(timeout), *map(str, args)],
                       capture_output=True, timeout=60)
    err = p.stderr.decode(errors="replace")
    for mark in SANITIZER_MARKS:
        assert mark not in err, f"sanitizer report from probe_try:\n{err[-5000:]}"
    assert p.returncode == expect_rc, f"probe_try exited {p.returncode}:\n{err[-3000:]}"
    return [json.loads(line) for line in p.stdout.decode().splitlines()], err


def one_port(*args, **kw):
    hosts, _ = probe(*args, **kw)
    assert len(hosts) == 1 and len(hosts[0]["ports"]) == 1, hosts
    return hosts[0]["ports"][0]


def ids(port_or_host):
    return {f["id"]: f["level"] for f in port_or_host["findings"]}


# ---- gate26's own doors ----

def test_gate26_starttls_chain_and_name_verify_with_the_ca(gateway, ca):
    g = gateway(doors={"inbound": {"tls": "starttls"}}, tls=ca.issue("gate26.test", "127.0.0.1"))
    p = one_port("--ca-file", ca.pem, f"127.0.0.1:{g.port('inbound')}")
    assert p["state"] == "open"
    assert p["greeting"] == "220 gate26.test ESMTP gate26"
    t = p["tls"]
    assert t["done"] and t["how"] == "starttls"
    assert t["version"] in ("TLSv1.2", "TLSv1.3")
    assert t["chain_ok"] and t["name_ok"] and t["verify_text"] == "ok"
    assert t["subject"] == "gate26.test" and "127.0.0.1" in t["sans"]
    assert "gate26 test CA" in t["issuer"]
    assert 28 <= t["days_left"] <= 30
    f = ids(p)
    assert f["relay-refused"] == "ok"
    for bad in ("no-starttls", "cert-not-verified", "cert-self-signed", "cert-name-mismatch",
                "cert-expired", "cert-expires-soon", "auth-before-tls", "open-relay",
                "vrfy-confirms", "expn-confirms"):
        assert bad not in f, p["findings"]
    assert "STARTTLS" not in p["ehlo"].split(","), "the EHLO kept is the one inside TLS"


def test_gate26_without_the_ca_the_chain_is_not_verified(gateway, ca):
    g = gateway(doors={"inbound": {"tls": "starttls"}}, tls=ca.issue("gate26.test", "127.0.0.1"))
    p = one_port(f"127.0.0.1:{g.port('inbound')}")
    assert p["tls"]["done"] and not p["tls"]["chain_ok"]
    assert ids(p)["cert-not-verified"] == "warn"


def test_gate26_name_mismatch(gateway, ca):
    g = gateway(doors={"inbound": {"tls": "starttls"}}, tls=ca.issue("other.test"))
    p = one_port("--ca-file", ca.pem, f"127.0.0.1:{g.port('inbound')}")
    assert p["tls"]["chain_ok"] and not p["tls"]["name_ok"]
    assert ids(p)["cert-name-mismatch"] == "warn"


def test_gate26_inbound_without_tls_and_relay_refused(gateway):
    g = gateway()  # inbound with tls none; internal allows 127.0.0.0/8
    p = one_port(f"127.0.0.1:{g.port('inbound')}")
    f = ids(p)
    assert f["no-starttls"] == "warn"
    assert f["relay-refused"] == "ok"
    assert "open-relay" not in f
    assert not p["tls"]["done"]
    assert "550 5.7.1" in next(x["text"] for x in p["findings"] if x["id"] == "relay-refused")


def test_gate26_open_internal_door_is_an_open_relay(gateway):
    g = gateway()
    p = one_port(f"127.0.0.1:{g.port('internal')}")
    assert ids(p)["open-relay"] == "critical"
    # Only up to RCPT: nothing was queued.
    assert g.queue_files() == []


def test_gate26_implicit_tls_on_465_and_no_auth_in_clear(gateway, ca, tmp_path):
    pw = make_passwd(tmp_path / "passwd")
    g = gateway(doors={"submission": {},
                       "submissions": {"address": "127.0.0.46:465"}},
                domains={"ours.test": None}, tls=ca.issue("gate26.test", "127.0.0.46"),
                extra=f"auth {{\n    passwd {pw}\n}}\n")
    hosts, _ = probe("--ca-file", ca.pem, "127.0.0.46:465", f"127.0.0.1:{g.port('submission')}")
    p465 = hosts[0]["ports"][0]
    assert p465["state"] == "open" and p465["tls"]["how"] == "implicit"
    assert p465["tls"]["chain_ok"] and p465["tls"]["name_ok"]
    assert p465["greeting"].startswith("220 gate26.test")
    assert "AUTH" in p465["ehlo"]
    assert not p465["auth_before_tls"]
    sub = hosts[1]["ports"][0]
    assert sub["tls"]["how"] == "starttls" and not sub["auth_before_tls"]
    assert "auth-before-tls" not in ids(sub)
    # Submission wants AUTH before relaying anything.
    assert "open-relay" not in ids(p465) and "open-relay" not in ids(sub)


def test_gate26_smuggling_test_is_refused(gateway):
    g = gateway()
    p = one_port("--intrusive", "--domain", "ours.test", f"127.0.0.1:{g.port('inbound')}")
    f = ids(p)
    assert f["smuggling-refused"] == "ok", p["findings"]
    assert "smuggling" not in f
    # gate26 refused the message with its bare LF: nothing queued.
    assert g.queue_files() == []


# ---- other servers ----

class LaxServer:
    """A deliberately vulnerable SMTP server: it splits lines at LF alone, so
    that <CR><LF>.<LF> ends DATA (the SMTP smuggling flaw). Accepts everything.
    One thread, one connection at a time, stopped by close()."""

    def __init__(self):
        self.lst = socket.socket()
        self.lst.bind(("127.0.0.1", 0))
        self.lst.listen(4)
        self.lst.settimeout(0.2)
        self.port = self.lst.getsockname()[1]
        self.received = []  # lines, as the server saw them
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        for _ in range(500):  # bounded: 100 s at most
            if not self.running:
                return
            try:
                conn, _ = self.lst.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(5)
                self.session(conn.makefile("rb"), conn)

    def session(self, f, conn):
        conn.sendall(b"220 lax.test ESMTP\r\n")
        in_data = False
        for _ in range(200):
            line = f.readline()
            if not line:
                return
            line = line.rstrip(b"\r\n")
            self.received.append(line)
            if in_data:
                if line == b".":
                    in_data = False
                    conn.sendall(b"250 2.0.0 queued\r\n")
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                conn.sendall(b"250-lax.test\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                in_data = True
                conn.sendall(b"354 go on\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 2.0.0 bye\r\n")
                return
            elif verb in (b"VRFY", b"EXPN"):
                conn.sendall(b"252 2.0.0 maybe\r\n")
            else:
                conn.sendall(b"250 2.0.0 ok\r\n" if line else b"500 5.5.2 empty\r\n")

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        self.lst.close()


def test_smuggling_found_on_a_lax_server():
    s = LaxServer()
    try:
        p = one_port("--intrusive", "--domain", "lax.test", f"127.0.0.1:{s.port}")
    finally:
        s.close()
    f = ids(p)
    assert f["smuggling"] == "critical", p["findings"]
    # What went out: the postmaster of the domain given, and the smuggled MAIL
    # as the only command after the early end (no RCPT, no second DATA).
    assert b"RCPT TO:<postmaster@lax.test>" in s.received
    after = s.received[s.received.index(b".") + 1:]
    assert after[0] == b"MAIL FROM:<>" and b"DATA" not in after
    assert not any(x.startswith(b"RCPT") for x in after)


def test_without_intrusive_no_data_is_sent():
    s = LaxServer()
    try:
        p = one_port(f"127.0.0.1:{s.port}")
    finally:
        s.close()
    assert ids(p)["open-relay"] == "critical"
    assert b"DATA" not in s.received and "smuggling" not in ids(p)
    assert b"RCPT TO:<relay-test@example.net>" in s.received
    assert b"MAIL FROM:<check@gate26-check.invalid>" in s.received

def test_smtp_sink_is_an_open_relay_and_offers_auth_in_clear(sink):
    p = one_port(f"127.0.0.1:{sink}")
    f = ids(p)
    assert f["open-relay"] == "critical"
    assert f["auth-before-tls"] == "warn" and p["auth_before_tls"]
    assert f["no-starttls"] == "warn"
    assert f["vrfy-confirms"] == "warn"
    assert p["greeting"] == "220 smtp-sink ESMTP"


def test_aiosmtpd_self_signed(peer, tmp_path):
    cert, key = self_signed(tmp_path / "pki", "self.test")
    s = peer(tls=(cert, key))
    p = one_port(f"127.0.0.1:{s.port}")
    assert p["tls"]["done"] and not p["tls"]["chain_ok"]
    f = ids(p)
    assert f["cert-self-signed"] == "warn"
    assert f["cert-name-mismatch"] == "warn"  # self.test is not 127.0.0.1
    assert f["open-relay"] == "critical"      # aiosmtpd takes every recipient
    assert s.conns and all(c.data is None for c in s.conns), "never DATA"


def test_aiosmtpd_expired_certificate(peer, ca):
    s = peer(tls=ca.issue("old.test", "127.0.0.1", days=-1))
    p = one_port("--ca-file", ca.pem, f"127.0.0.1:{s.port}")
    assert p["tls"]["done"] and p["tls"]["days_left"] < 0
    assert ids(p)["cert-expired"] == "critical"


def test_aiosmtpd_expires_soon(peer, ca):
    s = peer(tls=ca.issue("soon.test", "127.0.0.1", days=5))
    p = one_port("--ca-file", ca.pem, f"127.0.0.1:{s.port}")
    assert ids(p)["cert-expires-soon"] == "warn"
    assert "cert-expired" not in ids(p)


def test_never_greets(peer):
    s = peer(hang=True)
    p = one_port(f"127.0.0.1:{s.port}", timeout=800)
    assert p["state"] == "open"
    assert ids(p)["no-greeting"] == "warn"


def test_closed_port():
    p = one_port(f"127.0.0.1:{free_port()}")
    assert p["state"] == "closed"


def test_default_ports_all_probed():
    hosts, _ = probe("127.0.0.77", timeout=1000)
    assert [p["port"] for p in hosts[0]["ports"]] == [25, 26, 465, 587]
    assert {p["state"] for p in hosts[0]["ports"]} == {"closed"}


def test_filtered_port():
    """A listener whose accept queue is full: Linux drops further SYNs."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        p = one_port(f"127.0.0.1:{port}", timeout=800)
        assert p["state"] == "filtered"
    finally:
        for c in fillers:
            c.close()
        lst.close()


# ---- DNS: MX, null MX, reverse DNS ----

def test_mx_hosts_in_preference_order_with_rdns(dnsmasq, sink):  # noqa: F811
    d = dnsmasq("--local=/test/", "--local=/127.in-addr.arpa/",
                "--mx-host=check.test,mx2.check.test,20", "--mx-host=check.test,mx1.check.test,10",
                "--host-record=mx1.check.test,127.0.0.1",
                "--host-record=mx2.check.test,127.0.0.32",
                "--ptr-record=32.0.0.127.in-addr.arpa,liar.check.test",
                "--host-record=liar.check.test,127.0.0.99")
    hosts, _ = probe("--resolver", d.server, "--mx", "check.test", "--port", sink)
    *hs, dom = hosts
    assert [(h["name"], h["addr"]) for h in hs] == [("mx1.check.test", "127.0.0.1"),
                                                   ("mx2.check.test", "127.0.0.32")]
    assert hs[0]["ptr"] == "mx1.check.test" and hs[0]["fcrdns"]
    assert ids(hs[0])["fcrdns"] == "ok"
    assert hs[1]["ptr"] == "liar.check.test" and not hs[1]["fcrdns"]
    assert ids(hs[1])["ptr-not-confirmed"] == "warn"
    assert ids(hs[0]["ports"][0])["open-relay"] == "critical"
    assert hs[1]["ports"][0]["state"] == "closed"
    assert [f["text"] for f in dom["domain_findings"] if f["id"] == "mx"] == \
        ["MX 10 mx1.check.test", "MX 20 mx2.check.test"]


def test_no_ptr_on_loopback_is_no_finding(dnsmasq):  # noqa: F811
    """Nobody publishes a PTR for loopback (issue 11, item 10): its absence is not
    a warning, and a lookup that fails says nothing either."""
    d = dnsmasq("--local=/test/", "--local=/127.in-addr.arpa/",
                "--mx-host=check.test,mx.check.test,10", "--address=/mx.check.test/127.0.0.33")
    hosts, _ = probe("--resolver", d.server, "--mx", "check.test", "--port", free_port())
    assert hosts[0]["addr"] == "127.0.0.33" and hosts[0]["ptr"] == ""
    assert hosts[0]["findings"] == []
    d = dnsmasq("--local=/test/")  # no upstream: the PTR query is refused
    hosts, _ = probe("--resolver", d.server, "--rdns", f"127.0.0.34:{free_port()}")
    assert hosts[0]["ptr"] == "" and hosts[0]["findings"] == []


def test_null_mx(dnsmasq):  # noqa: F811
    d = dnsmasq("--local=/test/", "--mx-host=nomail.test,.,0")
    hosts, _ = probe("--resolver", d.server, "--mx", "nomail.test")
    assert len(hosts) == 1, "no host, only the domain's findings"
    assert ids({"findings": hosts[0]["domain_findings"]}) == {"null-mx": "info"}


def test_no_mx_is_the_domain_itself(dnsmasq):  # noqa: F811
    d = dnsmasq("--local=/test/", "--local=/127.in-addr.arpa/",
                "--host-record=plain.test,127.0.0.1")
    hosts, _ = probe("--resolver", d.server, "--mx", "plain.test", "--port", free_port())
    *hs, dom = hosts
    assert [(h["name"], h["addr"]) for h in hs] == [("plain.test", "127.0.0.1")]
    assert ids({"findings": dom["domain_findings"]})["no-mx"] == "info"


def test_nxdomain_is_an_error(dnsmasq):  # noqa: F811
    d = dnsmasq("--local=/test/")
    _, err = probe("--resolver", d.server, "--mx", "nope.test", expect_rc=1)
    assert "NXDOMAIN" in err


def test_host_name_resolved_through_the_resolver(dnsmasq, sink):  # noqa: F811
    d = dnsmasq("--local=/test/", "--host-record=relay.check.test,127.0.0.1")
    hosts, _ = probe("--resolver", d.server, f"relay.check.test:{sink}")
    assert hosts[0]["addr"] == "127.0.0.1"
    assert hosts[0]["ports"][0]["state"] == "open"
    hosts, _ = probe("--resolver", d.server, f"gone.check.test:{sink}")
    assert hosts[0]["addr"] == "" and hosts[0]["ports"][0]["state"] == "error"
    assert ids(hosts[0])["resolve-failed"] == "warn"
