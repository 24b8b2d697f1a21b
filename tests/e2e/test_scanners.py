# SPDX-License-Identifier: MIT
"""Scanners (issue 13; docs/scanners.md) with the real daemon and real peers:
an HTTP request (curl), a TLS ClientHello (openssl s_client), an SSH banner
(OpenSSH's ssh), a PROXY header, binary octets and a silent connection sent
to a plain door are counted as scanner sessions, each by kind, in the
metrics (promtool still passes) and in `gate26 scanners --json`, and
answered 554 5.7.0 (TLS: just closed); normal SMTP clients are not counted;
`when scanner` fires its webhook; `scanners maybe` is refused at its
FILE:LINE. Scapy sends SYNs on loopback to a door, captured by the sensor:
20 with the sequence number equal to the destination address and 30 others
count exactly 20 Mirai SYNs for their source, and `scanners refuse` closes
the next sessions from that source only, before the greeting (behind a
PROXY header too: the client it carries is the source); block-scanners puts
a source's first Mirai SYN in set scanners, in a namespace of the test."""
import ipaddress
import json
import random
import re
import shutil
import signal
import smtplib
import subprocess

import pytest

from conftest import (BIN, SANITIZER_MARKS, Raw, assert_serving, config_text, free_port,
                      wait_for, want)
from test_alerts import Hooks
from test_metrics import PROMTOOL, metrics_block, parse_text, scrape, v
import test_sensor
from test_sensor import nft_list

NOT_SMTP = "554 5.7.0 gate26.test Not an SMTP client, goodbye"
PLAIN_DOORS = {
    "inbound": {"tls": "none"},
    "internal": {"allow": "127.0.0.0/8 ::1", "tls": "none"},
}


def scanners(g, *args):
    p = subprocess.run([BIN, "scanners", "-c", str(g.conf), *args], capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def scanners_json(g, *args):
    rc, out, err = scanners(g, "--json", *args)
    assert rc == 0, f"gate26 scanners --json exited {rc}: {err}"
    return json.loads(out)


def source(doc, address):
    rows = [s for s in doc["sources"] if s["address"] == address]
    return rows[0] if rows else None


def closed_after(r, line=None):
    """Reads what the server sends until it closes: exactly line (CRLF), or nothing."""
    assert r.is_closed(), "the server did not close the connection"
    assert r.buf == (b"" if line is None else line.encode() + b"\r\n"), r.buf


def sessions(port, door, kind):
    return v(parse_text(scrape(port)[1]), "gate26_scanner_sessions_total", door=door, kind=kind)


@pytest.fixture
def hooks():
    h = Hooks()
    yield h
    h.stop()


def test_scanner_sessions_are_counted_by_kind(gateway):
    mport = free_port()
    g = gateway(doors=PLAIN_DOORS, extra=metrics_block(mport))
    port = g.port("inbound")

    # HTTP: curl's request line, from 127.0.0.2; 554, closed.
    p = subprocess.run(["curl", "-sS", "--interface", "127.0.0.2", "--max-time", "10",
                        "-o", "/dev/null", f"http://127.0.0.1:{port}/"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0  # an SMTP greeting is no HTTP response
    # A TLS ClientHello: openssl s_client, from 127.0.0.1; closed without a word.
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                        "-servername", "gate26.test"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "CONNECTED" in p.stdout and "Not an SMTP client" not in p.stdout + p.stderr
    # An SSH banner: OpenSSH's client, from 127.0.0.4; it gives up on the 554.
    if shutil.which("ssh") is not None:
        p = subprocess.run(["ssh", "-b", "127.0.0.4", "-p", str(port), "-o", "BatchMode=yes",
                            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                            "-o", "ConnectTimeout=10", "scanner@127.0.0.1", "true"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        assert p.returncode != 0
    else:
        r = Raw(port, source="127.0.0.4")
        r.expect(220)
        r.send(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        closed_after(r, NOT_SMTP)
        r.close()
    # Raw: a PROXY line from a client the door does not list, binary, a silent connection.
    r = Raw(port, source="127.0.0.5")
    r.expect(220)
    r.send(b"PROXY TCP4 198.51.100.7 127.0.0.1 40000 25\r\nEHLO x\r\n")
    closed_after(r, NOT_SMTP)
    r.close()
    r = Raw(port, source="127.0.0.6")
    r.expect(220)
    r.send(b"\x00\xff\r\n")
    closed_after(r, NOT_SMTP)
    r.close()
    r = Raw(port, source="127.0.0.7")
    r.close()  # not a word
    # A raw HTTP request on the internal door too: counted per door.
    r = Raw(g.port("internal"), source="127.0.0.8")
    r.expect(220)
    r.send(b"GET /wp-login.php HTTP/1.1\r\nHost: x\r\n\r\n")
    closed_after(r, NOT_SMTP)
    r.close()

    # Normal SMTP clients: a message from 127.0.0.9, a NOOP and QUIT from 127.0.0.10.
    with smtplib.SMTP("127.0.0.1", g.port("internal"), source_address=("127.0.0.9", 0),
                      timeout=10) as s:
        s.sendmail("a@example.test", ["b@example.test"], b"Subject: x\r\n\r\nhi\r\n")
    r = Raw(port, source="127.0.0.10")
    r.expect(220)
    r.cmd("NOOP", 250)
    r.cmd("QUIT", 221)
    r.close()

    wait_for(lambda: sessions(mport, "inbound", "silent") >= 1, what="the silent session")
    t = parse_text(scrape(mport)[1])
    for kind, n in (("http", 1), ("tls", 1), ("ssh", 1), ("proxy", 1), ("binary", 1),
                    ("silent", 1)):
        assert v(t, "gate26_scanner_sessions_total", door="inbound", kind=kind) == n, kind
    assert v(t, "gate26_scanner_sessions_total", door="internal", kind="http") == 1
    assert v(t, "gate26_scanner_sessions_total", door="internal", kind="silent") == 0
    assert v(t, "gate26_scanner_sources") == 7
    assert v(t, "gate26_scanner_syns_total", kind="mirai") == 0

    doc = scanners_json(g)
    assert doc["table_size"] == 4096 and doc["capture"] is None
    want_kinds = {"127.0.0.2": "http", "127.0.0.1": "tls", "127.0.0.4": "ssh",
                  "127.0.0.5": "proxy", "127.0.0.6": "binary", "127.0.0.7": "silent",
                  "127.0.0.8": "http"}
    for address, kind in want_kinds.items():
        s = source(doc, address)
        assert s is not None, (address, doc)
        assert s["sessions"][kind] == 1, (address, s)
        assert sum(s["sessions"].values()) == 1, (address, s)
        assert s["mirai"] == 0 and s["plain"] == 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s["first_seen"])
    assert source(doc, "127.0.0.8")["ports"] == [g.port("internal")]
    assert source(doc, "127.0.0.9") is None and source(doc, "127.0.0.10") is None
    assert doc["networks"][0]["network"] == "127.0.0.0/24"
    assert doc["networks"][0]["sources"] == 7 and doc["networks"][0]["sessions"] == 7

    # The log: one line per source (once an hour), and the refusal's reply.
    log = g.log()
    assert "event=scanner, client=[127.0.0.2], kind=http, door=inbound" in log
    assert "event=scanner, client=[127.0.0.7], kind=silent, door=inbound" in log
    assert re.search(r"client=\[127\.0\.0\.6\], door=inbound, event=reject, .*"
                     r"reply=\"554 5\.7\.0 gate26\.test Not an SMTP client, goodbye\", "
                     r"scanner=binary", log)

    # The text form, and --top.
    rc, out, err = scanners(g)
    assert rc == 0, err
    assert out.startswith("gate26 scanners: 7 sources in the table (of 4096), capture off\n")
    assert re.search(r"^127\.0\.0\.2 +0 +0  http 1 ", out, re.M)
    assert re.search(r"^127\.0\.0\.0/24 +0 +0 +7 +7 ", out, re.M)
    assert len(scanners_json(g, "--top", "2")["sources"]) == 2

    # promtool's lint on the live scrape, with the new families in it.
    if PROMTOOL is not None:
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=scrape(mport)[1].encode(),
                           capture_output=True, timeout=30)
        assert p.returncode == 0 and p.stdout == b"" and p.stderr == b"", (p.stdout, p.stderr)
    assert_serving(g)


def test_the_same_source_is_logged_once_and_counted_each_time(gateway):
    mport = free_port()
    g = gateway(doors=PLAIN_DOORS, extra=metrics_block(mport))
    for _ in range(3):
        r = Raw(g.port("inbound"), source="127.0.0.20")
        r.expect(220)
        r.send(b"GET / HTTP/1.0\r\n\r\n")
        closed_after(r, NOT_SMTP)
        r.close()
    assert sessions(mport, "inbound", "http") == 3
    assert source(scanners_json(g), "127.0.0.20")["sessions"]["http"] == 3
    assert g.log().count("event=scanner, client=[127.0.0.20]") == 1


def test_a_timeout_before_any_command_is_silent_or_what_was_sent(gateway):
    """timeout-command ends a session that said nothing (silent), or that sent a request line
    without its end (counted by what it is: http); one that sent a command is not counted."""
    mport = free_port()
    doors = {"inbound": {"tls": "none", "timeout-command": "1s"},
             "internal": {"allow": "127.0.0.0/8 ::1", "tls": "none"}}
    g = gateway(doors=doors, extra=metrics_block(mport))
    port = g.port("inbound")
    quiet = Raw(port, source="127.0.0.60")
    quiet.expect(220)
    partial = Raw(port, source="127.0.0.61")
    partial.expect(220)
    partial.send(b"GET / HTTP/1.1")  # no end of line
    talker = Raw(port, source="127.0.0.62")
    talker.expect(220)
    talker.cmd("NOOP", 250)
    for r in (quiet, partial, talker):
        want(r, 421, "4.4.2", "Timeout exceeded")
        assert r.is_closed()
        r.close()
    wait_for(lambda: sessions(mport, "inbound", "silent") == 1
             and sessions(mport, "inbound", "http") == 1, what="the two timed-out scanners")
    doc = scanners_json(g)
    assert source(doc, "127.0.0.60")["sessions"]["silent"] == 1
    assert source(doc, "127.0.0.61")["sessions"]["http"] == 1
    assert source(doc, "127.0.0.62") is None
    assert sessions(mport, "inbound", "silent") == 1


def test_what_is_not_sniffed(gateway):
    """After EHLO a request line is a bad command, as before; a line with a verb is SMTP
    even with 8-bit octets (RFC 6531 EHLO); an empty line waits for the next octet."""
    mport = free_port()
    g = gateway(doors=PLAIN_DOORS, extra=metrics_block(mport))
    r = g.raw("internal")
    r.cmd("EHLO client.test", 250)
    want_line = r.cmd("GET / HTTP/1.1", 500)
    assert "5.5.2" in want_line
    r.send(b"\x00\r\n")
    want(r, 500, "5.5.2", "Syntax error in command line")
    r.cmd("QUIT", 221)
    r.close()
    r = g.raw("internal")
    r.send("EHLO b\u00fccher.test\r\n".encode())
    want(r, 501, "5.5.4")  # the EHLO parser's answer, not the sniffer's
    r.send(b"\r\nNOOP\r\n")
    want(r, 500, "5.5.2", "Syntax error in command line")
    want(r, 250, "2.0.0")
    r.cmd("QUIT", 221)
    r.close()
    t = parse_text(scrape(mport)[1])
    for kind in ("http", "binary", "silent"):
        assert v(t, "gate26_scanner_sessions_total", door="internal", kind=kind) == 0
    assert scanners_json(g)["sources"] == []


def test_when_scanner_fires(gateway, hooks):
    rule = ("alert scans {\n    when scanner\n    over 3 in 1m\n    per client\n"
            f"    webhook {hooks.url('/scans')}\n}}\n"
            "alert all-scans {\n    when scanner\n    over 5 in 1m\n"
            f"    webhook {hooks.url('/all')}\n}}\n")
    g = gateway(doors=PLAIN_DOORS, extra=rule)
    for i in range(3):
        r = Raw(g.port("inbound"), source="127.0.0.30")
        r.expect(220)
        r.send(b"\x16\x03\x01\x00\x05hello")
        closed_after(r)
        r.close()
    wait_for(lambda: any(p[0] == "/scans" for p in hooks.posts), 20, "the per-client webhook")
    body = json.loads([p for p in hooks.posts if p[0] == "/scans"][0][2])
    assert body["rule"] == "scans" and body["when"] == "scanner"
    assert body["key"] == "127.0.0.30" and body["state"] == "firing" and body["value"] == 3
    assert not any(p[0] == "/all" for p in hooks.posts)
    # Two more, from two other sources: the rule over all fires at 5; per client stays quiet.
    for src in ("127.0.0.31", "127.0.0.32"):
        r = Raw(g.port("inbound"), source=src)
        r.expect(220)
        r.send(b"SSH-2.0-x\r\n")
        closed_after(r, NOT_SMTP)
        r.close()
    wait_for(lambda: any(p[0] == "/all" for p in hooks.posts), 20, "the webhook over all")
    assert json.loads([p for p in hooks.posts if p[0] == "/all"][0][2])["key"] == "all"
    assert len([p for p in hooks.posts if p[0] == "/scans"]) == 1
    assert_serving(g)


BAD = [
    ("maybe", "maybe", "expected scanners refuse or scanners count, found 'maybe'"),
    ("two", "refuse count", "'scanners' takes one value, found 2"),
    ("upper", "REFUSE", "expected scanners refuse or scanners count, found 'REFUSE'"),
]


@pytest.mark.parametrize("name,value,phrase", BAD, ids=[b[0] for b in BAD])
def test_bad_scanners_key_names_file_and_line(gateway, name, value, phrase):
    g = gateway(doors={"inbound": {"tls": "none", "scanners": value}}, start=False)
    lines = g.conf.read_text().splitlines()
    lineno = lines.index(f"    scanners {value}") + 1
    p = subprocess.run([BIN, "configtest", "-c", str(g.conf)], capture_output=True, text=True,
                       timeout=20)
    assert p.returncode == 1
    assert f"{g.conf}:{lineno}: {phrase}" in p.stderr, p.stderr
    # The daemon refuses to start on it the same way.
    g.start(expect_ok=False)
    g.proc.wait(timeout=20)
    assert g.proc.returncode == 1
    assert f"{g.conf}:{lineno}: {phrase}" in g.log()
    g.proc = None


def test_scanners_cli_errors(gateway):
    g = gateway(doors=PLAIN_DOORS, start=False)
    rc, out, err = scanners(g)
    assert rc == 2 and "gate26 is not running" in err
    for args in (["--top", "0"], ["--top", "1001"], ["--top", "x"], ["--bogus"], ["extra"]):
        rc, out, err = scanners(g, *args)
        assert rc == 3, (args, rc, err)
    rc, out, err = scanners(g, "--help")
    assert rc == 0 and out.startswith("usage: gate26 scanners")


# ---- SYNs: the sensor's capture ----

DST = int(ipaddress.IPv4Address("127.0.0.1"))


def send_syns(port, syns):
    """syns: [(source, seq)] to 127.0.0.1:port on the loopback device, with scapy."""
    scapy = pytest.importorskip("scapy.all")
    scapy.conf.verb = 0
    s = scapy.conf.L3socket(iface="lo")
    try:
        for i, (src, seq) in enumerate(syns):
            s.send(scapy.IP(src=src, dst="127.0.0.1") /
                   scapy.TCP(sport=30000 + i, dport=port, flags="S", seq=seq))
    finally:
        s.close()


def random_seq():
    while True:
        seq = random.getrandbits(32)
        if seq != DST:
            return seq


def test_mirai_syns_are_counted_per_source(gateway):
    mport = free_port()
    g = gateway(doors=PLAIN_DOORS, extra=metrics_block(mport) + "watch {\n    capture lo\n}\n")
    port = g.port("inbound")
    # 20 Mirai SYNs and then 30 others from 127.0.0.40; 30 others alone from 127.0.0.41.
    send_syns(port, [("127.0.0.40", DST)] * 20 + [("127.0.0.40", random_seq()) for _ in range(30)]
              + [("127.0.0.41", random_seq()) for _ in range(30)])
    wait_for(lambda: v(parse_text(scrape(mport)[1]), "gate26_scanner_syns_total",
                       kind="plain") >= 60, 20, "60 plain SYNs")
    t = parse_text(scrape(mport)[1])
    assert v(t, "gate26_scanner_syns_total", kind="mirai") == 20
    doc = scanners_json(g)
    assert doc["capture"] == "lo"
    s = source(doc, "127.0.0.40")
    assert s["mirai"] == 20 and s["plain"] == 30 and s["ports"] == [port]
    assert source(doc, "127.0.0.41") is None  # plain SYNs alone make no row
    assert g.log().count("event=scanner, client=[127.0.0.40], kind=mirai, door=inbound") == 1


def test_scanners_refuse_closes_only_fingerprinted_sources(gateway):
    mport = free_port()
    doors = {"inbound": {"tls": "none", "scanners": "refuse"},
             "internal": {"allow": "127.0.0.0/8 ::1", "tls": "none"}}
    g = gateway(doors=doors, extra=metrics_block(mport) + "watch {\n    capture lo\n}\n")
    port = g.port("inbound")
    send_syns(port, [("127.0.0.50", DST)] * 20 + [("127.0.0.51", random_seq())] * 5)
    wait_for(lambda: (source(scanners_json(g), "127.0.0.50") or {}).get("mirai") == 20,
             20, "the fingerprinted source")
    for _ in range(2):
        r = Raw(port, source="127.0.0.50")
        closed_after(r)  # no greeting, no reply
        r.close()
    r = Raw(port, source="127.0.0.51")  # plain SYNs only: served
    r.expect(220)
    r.cmd("QUIT", 221)
    r.close()
    r = Raw(g.port("internal"), source="127.0.0.50")  # the internal door only counts
    r.expect(220)
    r.cmd("QUIT", 221)
    r.close()
    t = parse_text(scrape(mport)[1])
    assert v(t, "gate26_connections_total", door="inbound", result="scanner") == 2
    assert v(t, "gate26_connections_total", door="internal", result="scanner") == 0
    assert g.log().count("event=scanner-refused, client=[127.0.0.50]") == 1
    assert_serving(g, "inbound")


def test_scanners_refuse_judges_the_address_a_proxy_header_carries(gateway):
    """Behind a load balancer (proxy-protocol) the source is the client its PROXY header
    carries: a fingerprinted one is refused, the proxy's other clients are served."""
    mport = free_port()
    doors = {"inbound": {"tls": "none", "scanners": "refuse", "proxy-protocol": "127.0.0.1"}}
    g = gateway(doors=doors, extra=metrics_block(mport) + "watch {\n    capture lo\n}\n")
    port = g.port("inbound")
    send_syns(port, [("127.0.0.90", DST)] * 3)
    wait_for(lambda: (source(scanners_json(g), "127.0.0.90") or {}).get("mirai") == 3,
             20, "the fingerprinted source")
    r = Raw(port)  # from the proxy, 127.0.0.1, for 127.0.0.90
    r.send(b"PROXY TCP4 127.0.0.90 127.0.0.1 40090 25\r\n")
    closed_after(r)
    r.close()
    r = Raw(port)  # from the proxy, for another client
    r.send(b"PROXY TCP4 127.0.0.91 127.0.0.1 40091 25\r\n")
    r.expect(220)
    r.cmd("QUIT", 221)
    r.close()
    t = parse_text(scrape(mport)[1])
    assert v(t, "gate26_connections_total", door="inbound", result="scanner") == 1
    assert "event=scanner-refused, client=[127.0.0.90], door=inbound" in g.log()


# ---- block-scanners: the watcher asks the sensor, once per source ----

netns = test_sensor.netns  # the fixture: a namespace with table inet gate26

SEND_SYNS = """
import sys
import scapy.all as scapy
scapy.conf.verb = 0
port, dst = int(sys.argv[1]), int(sys.argv[2])
s = scapy.conf.L3socket(iface="lo")
for i, (src, mirai) in enumerate([("127.0.0.77", True)] * 3 + [("127.0.0.78", False)] * 3):
    s.send(scapy.IP(src=src, dst="127.0.0.1") /
           scapy.TCP(sport=32000 + i, dport=port, flags="S", seq=dst if mirai else dst ^ 1))
s.close()
"""


def test_block_scanners_adds_the_first_mirai_source_to_the_set(tmp_path, netns):
    """In a network namespace with table inet gate26: a source's first Mirai SYN makes the
    watcher ask the sensor to add it to set scanners with block-scanners' timeout (once,
    however many follow); a source of plain SYNs only is not blocked."""
    port = free_port()
    conf = tmp_path / "gate26.conf"
    conf.write_text(config_text(tmp_path / "spool", {"internal": port},
                                {"internal": {"allow": "127.0.0.0/8", "tls": "none"}}, {},
                                extra="watch {\n    capture lo\n    block-scanners 2h\n}\n"))
    log = tmp_path / "gate26.log"
    with open(log, "ab") as f:
        proc = subprocess.Popen(["ip", "netns", "exec", netns, BIN, "serve", "-c", str(conf)],
                                stdout=f, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "event=start" in log.read_text() or proc.poll() is not None,
                 what="gate26 to start")
        assert proc.poll() is None, log.read_text()
        subprocess.run(["ip", "netns", "exec", netns, "/usr/bin/python3", "-c", SEND_SYNS,
                        str(port), str(DST)], check=True, timeout=60)
        wait_for(lambda: "event=scanner-blocked, client=[127.0.0.77]" in log.read_text(), 20,
                 "the block")
        wait_for(lambda: log.read_text().count("event=syn,") >= 6, 20, "the six SYNs")
        text = log.read_text()
        assert text.count("event=scanner-blocked") == 1, text[-3000:]
        assert "event=scanner-blocked, client=[127.0.0.77], timeout=7200" in text
        listed = nft_list(netns, "scanners")
        assert "127.0.0.77 timeout 2h expires" in listed and "127.0.0.78" not in listed
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    text = log.read_text()
    assert proc.returncode == 0, text
    for mark in SANITIZER_MARKS:
        assert mark not in text
