# SPDX-License-Identifier: MIT
"""The SMTP client (src/deliver/) against real servers: deliver_try runs one
attempt and prints the callback's result as JSON; the peers are the
configurable aiosmtpd server of smtp_peer.py, a raw socket server for
hostile replies, and Postfix's smtp-sink. Every run's standard error is
checked for sanitizer reports."""
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, SANITIZER_MARKS, free_port, wait_for
from smtp_peer import Peer, RawPeer

DRIVER = Path(os.environ.get("GATE26_BIN", ROOT / "build-test" / "src" / "gate26")).parent \
    / "deliver" / "deliver_try"
SMTP_SINK = "/usr/sbin/smtp-sink"

SENDER = "sender@example.test"
RCPT = "rcpt@example.test"
CONTENT = (b"From: <sender@example.test>\r\nSubject: client test\r\n\r\n"
           b".leading dot\r\n.\r\n..two dots\r\nmiddle . dot\r\n. \r\nlast line\r\n")


@pytest.fixture
def peer():
    """peer(**options) -> a started Peer, stopped at teardown."""
    started = []

    def make(**options):
        p = Peer(**options).start()
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


@pytest.fixture
def raw_peer():
    started = []

    def make(script):
        p = RawPeer(script).start()
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def closed_hop(name="closed.test"):
    """A hop nobody listens on."""
    return f"{name},127.0.0.1:{free_port()}"


def deliver(tmp_path, hops, rcpts=(RCPT,), content=CONTENT, sender=SENDER, opts=(), prefix=b"",
            timeout=30):
    """Runs deliver_try. rcpts: addresses, or lists [addr, "--notify", ...].
    Returns (result, stderr); fails on a sanitizer report or a bad exit."""
    assert DRIVER.exists(), f"{DRIVER} is not built (meson setup -Dtests=enabled)"
    msg = tmp_path / "msg"
    msg.write_bytes(prefix + content)
    args = [str(DRIVER), "--helo", "client.test", "--from", sender, "--file", str(msg),
            "--offset", str(len(prefix)), "--debug"]
    for r in rcpts:
        args += ["--to", r] if isinstance(r, str) else ["--to", *r]
    for h in hops:
        args += ["--hop", h]
    args += list(opts)
    lines, err = run_driver(args, timeout)
    assert len(lines) == 1, lines
    return json.loads(lines[0]), err


def run_driver(args, timeout):
    """Runs deliver_try; fails on a sanitizer report or a bad exit. Returns
    (stdout lines, stderr)."""
    p = subprocess.run(args, capture_output=True, timeout=timeout,
                       env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                                UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"))
    err = p.stderr.decode(errors="replace")
    for mark in SANITIZER_MARKS:
        assert mark not in err, f"sanitizer report from deliver_try:\n{err[-5000:]}"
    assert p.returncode == 0, f"deliver_try exited {p.returncode}:\n{err[-3000:]}"
    return p.stdout.decode().splitlines(), err


def outcomes(res):
    return [r["outcome"] for r in res["rcpts"]]


def relay_of(p):
    return f"peer.test[127.0.0.1]:{p.port}"


# ---- plain delivery ---------------------------------------------------------

def test_plain_delivery_content_arrives_byte_exact(tmp_path, peer):
    p = peer()
    res, _ = deliver(tmp_path, [p.hop])
    assert res["callbacks"] == 1 and res["hop"] == 0 and res["relay"] == relay_of(p)
    [r] = res["rcpts"]
    assert r == {"addr": RCPT, "outcome": "ok", "code": 250, "enhanced": "2.0.0",
                 "text": "250 2.0.0 Ok: queued (in reply to end of DATA command)"}
    [c] = p.conns
    assert c.data == CONTENT  # the stuffed dots were undone by the server
    assert c.commands == ["EHLO client.test", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{RCPT}>",
                          "DATA", "QUIT"]


def test_stuffing_on_the_wire(tmp_path, peer):
    """What leaves: lines starting with '.' get one more; the end is CRLF.CRLF."""
    p = peer(pipelining=False)
    deliver(tmp_path, [p.hop])
    wire = b"".join(p.conns[0].packets)
    body = wire.split(b"DATA\r\n", 1)[1].split(b"QUIT\r\n")[0]
    assert body == (b"From: <sender@example.test>\r\nSubject: client test\r\n\r\n"
                    b"..leading dot\r\n..\r\n...two dots\r\nmiddle . dot\r\n.. \r\nlast line\r\n"
                    b".\r\n")


def test_last_line_without_crlf_gets_one(tmp_path, peer):
    p = peer()
    res, _ = deliver(tmp_path, [p.hop], content=b"Subject: x\r\n\r\nno end\r\n.")
    assert outcomes(res) == ["ok"]
    assert p.conns[0].data == b"Subject: x\r\n\r\nno end\r\n.\r\n"


def test_empty_content(tmp_path, peer):
    p = peer()
    res, _ = deliver(tmp_path, [p.hop], content=b"")
    assert outcomes(res) == ["ok"]
    assert p.conns[0].data == b""


def test_content_from_offset(tmp_path, peer):
    """Only the octets after content_off go out (the envelope records stay home)."""
    p = peer()
    res, _ = deliver(tmp_path, [p.hop], prefix=b"gate26-queue 1\nid X\n\n")
    assert outcomes(res) == ["ok"]
    assert p.conns[0].data == CONTENT


def test_large_message_streams_in_chunks(tmp_path, peer):
    """Over 2 MiB of lines, many starting with '.': read in chunks, byte-exact at the far end."""
    lines = []
    for i in range(60000):
        line = (b"." if i % 7 == 0 else b"") + b"%06d " % i + b"x" * (i % 70)
        lines.append(line + b"\r\n")
    content = b"Subject: big\r\n\r\n" + b"".join(lines)
    assert len(content) > 2 * 1024 * 1024
    p = peer(size=len(content) + 1)
    res, _ = deliver(tmp_path, [p.hop], content=content)
    assert outcomes(res) == ["ok"]
    assert p.conns[0].data == content
    assert f"SIZE={len(content)}" in p.conns[0].mail_params


# ---- pipelining -------------------------------------------------------------

def test_pipelining_used_when_offered(tmp_path, peer):
    p = peer(pipelining=True)
    res, _ = deliver(tmp_path, [p.hop], rcpts=["a@example.test", "b@example.test"])
    assert res["used_pipelining"] is True
    assert outcomes(res) == ["ok", "ok"]
    group = p.conns[0].packet_with(b"MAIL FROM:")
    # RFC 2920 3.1: MAIL, the RCPTs and DATA in one group, DATA last.
    assert group == (b"MAIL FROM:<sender@example.test>\r\nRCPT TO:<a@example.test>\r\n"
                     b"RCPT TO:<b@example.test>\r\nDATA\r\n")


def test_no_pipelining_when_hidden(tmp_path, peer):
    p = peer(pipelining=False)
    res, _ = deliver(tmp_path, [p.hop], rcpts=["a@example.test", "b@example.test"])
    assert res["used_pipelining"] is False
    assert outcomes(res) == ["ok", "ok"]
    c = p.conns[0]
    for cmd in (b"MAIL FROM:", b"RCPT TO:<a@", b"RCPT TO:<b@", b"DATA\r\n"):
        packet = c.packet_with(cmd)
        assert packet is not None and packet.count(b"\r\n") == 1, (cmd, c.packets)


# ---- recipients' outcomes ---------------------------------------------------

@pytest.mark.parametrize("pipelining", [True, False])
def test_rcpt_mix_250_450_550(tmp_path, peer, pipelining):
    p = peer(pipelining=pipelining, rcpt_replies={
        "busy@example.test": "450 4.2.1 <busy@example.test>: mailbox busy",
        "nobody@example.test": "550-5.1.1 <nobody@example.test>: no such user\r\n"
                               "550 5.1.1 try another one",
    })
    res, _ = deliver(tmp_path, [p.hop],
                     rcpts=["ok@example.test", "busy@example.test", "nobody@example.test"])
    ok, busy, nobody = res["rcpts"]
    assert (ok["outcome"], ok["code"], ok["enhanced"]) == ("ok", 250, "2.0.0")
    assert busy == {"addr": "busy@example.test", "outcome": "temp", "code": 450,
                    "enhanced": "4.2.1", "text": "450 4.2.1 <busy@example.test>: mailbox busy "
                                                 "(in reply to RCPT TO command)"}
    assert nobody == {"addr": "nobody@example.test", "outcome": "perm", "code": 550,
                      "enhanced": "5.1.1",
                      "text": "550 5.1.1 <nobody@example.test>: no such user try another one "
                              "(in reply to RCPT TO command)"}
    assert p.conns[0].data == CONTENT
    assert res["used_pipelining"] is pipelining


def test_all_rcpts_refused_pipelined_no_content(tmp_path, peer):
    """RFC 2920 3.1: DATA went in the group, gets 503, and nothing follows but QUIT."""
    p = peer(rcpt_replies={RCPT: "550 5.1.1 no such user"})
    res, _ = deliver(tmp_path, [p.hop])
    assert outcomes(res) == ["perm"] and res["rcpts"][0]["code"] == 550
    c = p.conns[0]
    assert c.commands[-2:] == ["DATA", "QUIT"]
    assert c.data is None
    assert b"".join(c.packets).endswith(b"DATA\r\nQUIT\r\n")


def test_all_rcpts_refused_without_pipelining_skips_data(tmp_path, peer):
    p = peer(pipelining=False, rcpt_replies={RCPT: "550 5.1.1 no such user"})
    res, _ = deliver(tmp_path, [p.hop])
    assert outcomes(res) == ["perm"]
    assert p.conns[0].commands == ["EHLO client.test", f"MAIL FROM:<{SENDER}>",
                                   f"RCPT TO:<{RCPT}>", "QUIT"]


def test_rcpt_421_ends_the_transaction(tmp_path, peer):
    p = peer(pipelining=False, rcpt_replies={"a@example.test": "421 4.3.2 closing now"})
    res, _ = deliver(tmp_path, [p.hop], rcpts=["a@example.test", "b@example.test"])
    a, b = res["rcpts"]
    assert (a["outcome"], a["code"], a["enhanced"]) == ("temp", 421, "4.3.2")
    assert (b["outcome"], b["code"]) == ("temp", 421)
    assert b["text"] == "421 4.3.2 closing now (in reply to RCPT TO command)"
    assert "RCPT TO:<b@example.test>" not in p.conns[0].commands


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize("reply,outcome", [("550 5.7.1 sender refused", "perm"),
                                           ("451 4.3.0 try later", "temp")])
def test_mail_refused_decides_every_rcpt(tmp_path, peer, pipelining, reply, outcome):
    p = peer(pipelining=pipelining, mail_reply=reply)
    p2 = peer()
    res, _ = deliver(tmp_path, [p.hop, p2.hop], rcpts=["a@example.test", "b@example.test"])
    assert res["hop"] == 0  # MAIL was answered: no other hop
    assert p2.conns == []
    for r in res["rcpts"]:
        assert r["outcome"] == outcome and r["code"] == int(reply[:3])
        assert r["text"] == f"{reply} (in reply to MAIL FROM command)"
    c = p.conns[0]
    assert c.data is None and c.commands[-1] == "QUIT"
    if not pipelining:
        assert not any(x.startswith("RCPT") for x in c.commands)


@pytest.mark.parametrize("reply,outcome", [("451 4.3.0 Error: queue file write error", "temp"),
                                           ("554 5.6.0 content refused", "perm")])
def test_end_of_data_refused(tmp_path, peer, reply, outcome):
    p = peer(end_reply=reply, rcpt_replies={"gone@example.test": "550 5.1.1 gone"})
    res, _ = deliver(tmp_path, [p.hop],
                     rcpts=["a@example.test", "gone@example.test", "b@example.test"])
    a, gone, b = res["rcpts"]
    for r in (a, b):
        assert r["outcome"] == outcome and r["code"] == int(reply[:3])
        assert r["enhanced"] == reply[4:9]
        assert r["text"] == f"{reply} (in reply to end of DATA command)"
    assert gone["outcome"] == "perm" and gone["code"] == 550


def test_data_command_refused(tmp_path, peer):
    p = peer(data_reply="554 5.5.1 no data today")
    res, _ = deliver(tmp_path, [p.hop])
    [r] = res["rcpts"]
    assert (r["outcome"], r["code"], r["enhanced"]) == ("perm", 554, "5.5.1")
    assert r["text"] == "554 5.5.1 no data today (in reply to DATA command)"
    assert p.conns[0].data is None and p.conns[0].quit


# ---- next hops ---------------------------------------------------------------

def test_first_hop_refused_second_used(tmp_path, peer):
    p = peer()
    closed = closed_hop()
    res, err = deliver(tmp_path, [closed, p.hop])
    assert res["hop"] == 1 and res["relay"] == relay_of(p)
    assert outcomes(res) == ["ok"]
    port = closed.rsplit(":", 1)[1]
    assert (f'relay=closed.test[127.0.0.1]:{port}, event=hop-failed, hop=0, dsn=4.4.1, '
            f'reason="connect to closed.test[127.0.0.1]:{port}: Connection refused"') in err


def test_every_hop_refused(tmp_path):
    first, last = closed_hop("mx1.test"), closed_hop("mx2.test")
    res, _ = deliver(tmp_path, [first, last], rcpts=["a@example.test", "b@example.test"])
    assert res["hop"] == -1 and res["relay"] == "none" and res["used_pipelining"] is False
    port = last.rsplit(":", 1)[1]
    for r in res["rcpts"]:
        assert r["outcome"] == "temp" and r["code"] == 0 and r["enhanced"] == "4.4.1"
        assert r["text"] == f"connect to mx2.test[127.0.0.1]:{port}: Connection refused"


def test_greeting_421_next_hop(tmp_path, peer):
    busy = peer(greeting="421 4.3.2 Service not available, closing")
    good = peer()
    res, err = deliver(tmp_path, [busy.hop, good.hop])
    assert res["hop"] == 1 and outcomes(res) == ["ok"]
    assert not any(c.startswith("EHLO") for c in busy.conns[0].commands)
    assert (f"reason=\"{relay_of(busy)} greeted: 421 4.3.2 Service not available, closing\""
            in err)


def test_greeting_554_quit_politely(tmp_path, peer):
    p = peer(greeting="554 5.7.1 go away")
    res, _ = deliver(tmp_path, [p.hop])
    assert res["hop"] == -1
    [r] = res["rcpts"]
    # Only this hop refused service: try again later (another MX may be fine by then).
    assert (r["outcome"], r["code"], r["enhanced"]) == ("temp", 0, "4.7.1")
    assert r["text"] == f"{relay_of(p)} greeted: 554 5.7.1 go away"
    assert p.conns[0].commands == ["QUIT"]


def test_hang_at_greeting_times_out_next_hop(tmp_path, peer):
    mute = peer(hang=True)
    good = peer()
    t0 = time.monotonic()
    res, _ = deliver(tmp_path, [mute.hop, good.hop], opts=["--timeout-greeting", "1"])
    assert time.monotonic() - t0 < 10
    assert res["hop"] == 1 and outcomes(res) == ["ok"]


def test_hang_at_greeting_alone(tmp_path, peer):
    mute = peer(hang=True)
    res, _ = deliver(tmp_path, [mute.hop], opts=["--timeout-greeting", "1"])
    [r] = res["rcpts"]
    assert (r["outcome"], r["enhanced"]) == ("temp", "4.4.2")
    assert r["text"] == (f"conversation with {relay_of(mute)} timed out while receiving the "
                         f"initial greeting")


def test_connect_timeout(tmp_path):
    """A listener whose backlog is full never completes the handshake."""
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(0)
        port = lsock.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):  # fill the accept queue; later SYNs are dropped
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
                fillers.append(s)
            time.sleep(0.2)
            t0 = time.monotonic()
            res, _ = deliver(tmp_path, [f"slow.test,127.0.0.1:{port}"],
                             opts=["--timeout-connect", "1"])
            took = time.monotonic() - t0
        finally:
            for s in fillers:
                s.close()
    [r] = res["rcpts"]
    assert r["outcome"] == "temp" and r["enhanced"] == "4.4.1"
    assert r["text"] == f"connect to slow.test[127.0.0.1]:{port}: Connection timed out"
    assert took < 10


# ---- EHLO --------------------------------------------------------------------

def test_ehlo_502_falls_back_to_helo(tmp_path, peer):
    p = peer(ehlo="502 5.5.1 EHLO not implemented", dsn=True, size=100000)
    res, _ = deliver(tmp_path, [p.hop], opts=["--ret", "full"])
    assert outcomes(res) == ["ok"] and res["used_pipelining"] is False
    c = p.conns[0]
    assert c.commands[:2] == ["EHLO client.test", "HELO client.test"]
    assert c.mail_params == []  # no extensions after HELO
    assert c.data == CONTENT


def test_helo_fallback_cannot_carry_8bit(tmp_path, peer):
    p = peer(ehlo="500 5.5.2 what?")
    res, _ = deliver(tmp_path, [p.hop], opts=["--body", "8bitmime"])
    [r] = res["rcpts"]
    assert (r["outcome"], r["enhanced"], r["code"]) == ("perm", "5.6.3", 0)


def test_ehlo_4xx_next_hop(tmp_path, peer):
    p = peer(ehlo="421 4.3.2 shutting down")
    good = peer()
    res, err = deliver(tmp_path, [p.hop, good.hop])
    assert res["hop"] == 1 and outcomes(res) == ["ok"]
    assert (f"{relay_of(p)} said: 421 4.3.2 shutting down (in reply to EHLO command)"
            in err)


# ---- checks against the extensions ------------------------------------------------

def test_size_exceeded_no_mail(tmp_path, peer):
    p = peer(size=100)
    other = peer()
    res, _ = deliver(tmp_path, [p.hop, other.hop], rcpts=["a@example.test", "b@example.test"])
    assert res["hop"] == 0 and other.conns == []
    for r in res["rcpts"]:
        assert (r["outcome"], r["code"], r["enhanced"]) == ("perm", 0, "5.3.4")
        assert r["text"] == (f"message size {len(CONTENT)} exceeds size limit 100 of server "
                             f"{relay_of(p)}")
    assert p.conns[0].commands == ["EHLO client.test", "QUIT"]


def test_size_zero_means_no_limit(tmp_path, peer):
    p = peer(size=0)
    res, _ = deliver(tmp_path, [p.hop])
    assert outcomes(res) == ["ok"]
    assert p.conns[0].mail_params == [f"SIZE={len(CONTENT)}"]


def test_8bitmime_not_offered(tmp_path, peer):
    p = peer(eightbitmime=False)
    res, _ = deliver(tmp_path, [p.hop], opts=["--body", "8bitmime"])
    [r] = res["rcpts"]
    assert (r["outcome"], r["code"], r["enhanced"]) == ("perm", 0, "5.6.3")
    assert "does not offer 8BITMIME" in r["text"] and "not convert to 7-bit" in r["text"]
    assert not any(c.startswith("MAIL") for c in p.conns[0].commands)


@pytest.mark.parametrize("body,param", [("8bitmime", ["BODY=8BITMIME"]), ("7bit", ["BODY=7BIT"]),
                                        (None, [])])
def test_body_declared_when_offered(tmp_path, peer, body, param):
    p = peer(eightbitmime=True)
    content = b"Subject: caf\xc3\xa9\r\n\r\n\xff\xfe bytes\r\n"
    res, _ = deliver(tmp_path, [p.hop], content=content,
                     opts=["--body", body] if body else [])
    assert outcomes(res) == ["ok"]
    assert p.conns[0].mail_params == param
    assert p.conns[0].data == content


def test_7bit_body_to_server_without_8bitmime(tmp_path, peer):
    p = peer(eightbitmime=False)
    res, _ = deliver(tmp_path, [p.hop], opts=["--body", "7bit"])
    assert outcomes(res) == ["ok"] and p.conns[0].mail_params == []


def test_smtputf8_not_offered(tmp_path, peer):
    p = peer(smtputf8=False)
    res, _ = deliver(tmp_path, [p.hop], opts=["--smtputf8"])
    [r] = res["rcpts"]
    assert (r["outcome"], r["code"], r["enhanced"]) == ("perm", 0, "5.6.7")
    assert "SMTPUTF8" in r["text"]
    assert not any(c.startswith("MAIL") for c in p.conns[0].commands)


def test_smtputf8_offered(tmp_path, peer):
    p = peer(smtputf8=True)
    res, _ = deliver(tmp_path, [p.hop], opts=["--smtputf8", "--body", "8bitmime"])
    assert outcomes(res) == ["ok"]
    assert p.conns[0].mail_params == ["BODY=8BITMIME", "SMTPUTF8"]


# ---- DSN ---------------------------------------------------------------------

DSN_RCPTS = [
    ["a@example.test", "--notify", "SUCCESS,FAILURE", "--orcpt", "rfc822;a+2Bx@example.test"],
    ["b@example.test", "--notify", "NEVER"],
    ["c@example.test", "--notify", "DELAY"],
    "d@example.test",
]


def test_dsn_parameters_passed_when_offered(tmp_path, peer):
    p = peer(dsn=True, size=1000000)
    res, _ = deliver(tmp_path, [p.hop], rcpts=DSN_RCPTS,
                     opts=["--ret", "hdrs", "--envid", "QQ+2Bid.1"])
    assert outcomes(res) == ["ok"] * 4
    c = p.conns[0]
    assert c.mail_params == [f"SIZE={len(CONTENT)}", "RET=HDRS", "ENVID=QQ+2Bid.1"]
    assert c.rcpts == [
        ("a@example.test", ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;a+2Bx@example.test"]),
        ("b@example.test", ["NOTIFY=NEVER"]),
        ("c@example.test", ["NOTIFY=DELAY"]),
        ("d@example.test", []),
    ]


def test_dsn_parameters_omitted_when_not_offered(tmp_path, peer):
    p = peer(dsn=False)
    res, _ = deliver(tmp_path, [p.hop], rcpts=DSN_RCPTS,
                     opts=["--ret", "full", "--envid", "QQ+2Bid.1"])
    assert outcomes(res) == ["ok"] * 4
    c = p.conns[0]
    assert c.mail_params == []
    assert all(params == [] for _, params in c.rcpts)


def test_bad_dsn_values_are_not_sent(tmp_path, peer):
    p = peer(dsn=True)
    res, _ = deliver(tmp_path, [p.hop], rcpts=[["a@example.test", "--orcpt", "no-semicolon"]],
                     opts=["--envid", "x" * 101])
    assert outcomes(res) == ["ok"]
    assert p.conns[0].mail_params == [] and p.conns[0].rcpts == [("a@example.test", [])]


# ---- lost connections and timeouts ---------------------------------------------------

def test_connection_dropped_after_rcpt(tmp_path, peer):
    p = peer(drop_at="RCPT")
    other = peer()
    res, _ = deliver(tmp_path, [p.hop, other.hop], rcpts=["a@example.test", "b@example.test"])
    assert res["hop"] == 0 and other.conns == []  # MAIL was answered
    for r in res["rcpts"]:
        assert (r["outcome"], r["code"], r["enhanced"]) == ("temp", 0, "4.4.2")
        assert r["text"] == f"lost connection with {relay_of(p)} while sending RCPT TO"


def test_connection_dropped_at_mail_next_hop(tmp_path, peer):
    p = peer(drop_at="MAIL")
    other = peer()
    res, err = deliver(tmp_path, [p.hop, other.hop])
    assert res["hop"] == 1 and outcomes(res) == ["ok"]
    assert f"lost connection with {relay_of(p)} while sending MAIL FROM" in err


def test_connection_dropped_at_end_of_data(tmp_path, peer):
    p = peer(drop_at="DOT")
    res, _ = deliver(tmp_path, [p.hop])
    [r] = res["rcpts"]
    assert r["outcome"] == "temp"
    assert r["text"] == (f"lost connection with {relay_of(p)} while sending end of data -- "
                         f"message may be sent more than once")


def test_no_reply_to_end_of_data_times_out(tmp_path, peer):
    p = peer(hang_at="DOT")
    t0 = time.monotonic()
    res, _ = deliver(tmp_path, [p.hop], opts=["--timeout-data-end", "1"])
    assert time.monotonic() - t0 < 10
    [r] = res["rcpts"]
    assert (r["outcome"], r["enhanced"]) == ("temp", "4.4.2")
    assert r["text"].startswith(f"conversation with {relay_of(p)} timed out while sending end")


def test_no_reply_to_rcpt_times_out(tmp_path, peer):
    p = peer(hang_at="RCPT")
    res, _ = deliver(tmp_path, [p.hop], opts=["--timeout-command", "1"])
    [r] = res["rcpts"]
    assert r["outcome"] == "temp"
    assert r["text"] == f"conversation with {relay_of(p)} timed out while sending RCPT TO"


@pytest.mark.parametrize("where", [dict(hang=True), dict(hang_at="RCPT"), dict(hang_at="DOT")])
def test_cancel_frees_everything(tmp_path, peer, where):
    """deliver_cancel() at the greeting, in the transaction, after the content: no
    callback, no leak (LeakSanitizer runs at the driver's exit)."""
    p = peer(**where)
    msg = tmp_path / "msg"
    msg.write_bytes(CONTENT)
    out = subprocess.run([str(DRIVER), "--helo", "c.test", "--from", SENDER, "--to", RCPT,
                          "--file", str(msg), "--hop", p.hop, "--cancel-after", "500"],
                         capture_output=True, timeout=30)
    err = out.stderr.decode(errors="replace")
    for mark in SANITIZER_MARKS:
        assert mark not in err, err
    assert out.returncode == 0, err
    assert json.loads(out.stdout) == {"cancelled": True}


# ---- hostile replies ----------------------------------------------------------------

@pytest.mark.parametrize("script,why", [
    (b"220-x\r\n" * 200, "too many reply lines"),
    (b"220-" + b"x" * 4000 + b"\r\n220 ok\r\n", "reply line too long"),
    (b"220 bare LF\n", "reply line ends in a bare LF"),
    (b"220-mixed\r\n250 codes\r\n", "reply code changed between lines"),
    (b"hello there\r\n", "malformed reply line"),
])
def test_hostile_greeting(tmp_path, raw_peer, peer, script, why):
    bad = raw_peer(script)
    good = peer()
    res, err = deliver(tmp_path, [bad.hop, good.hop])
    assert res["hop"] == 1 and outcomes(res) == ["ok"]
    assert (f"reason=\"protocol error from raw.test[127.0.0.1]:{bad.port} while receiving "
            f"the initial greeting: {why}\"") in err


def test_endless_reply_does_not_grow(tmp_path, raw_peer):
    """A megabyte of continuation lines: refused at CAP_REPLY_LINES, not read to the end."""
    bad = raw_peer((b"220-" + b"y" * 60 + b"\r\n") * 16000)
    res, _ = deliver(tmp_path, [bad.hop])
    [r] = res["rcpts"]
    assert (r["outcome"], r["enhanced"]) == ("temp", "4.5.0")
    assert r["text"].endswith("too many reply lines")


def test_ehlo_and_helo_refused(tmp_path, raw_peer, peer):
    """aiosmtpd answers HELO, so a raw peer refuses both (and never answers QUIT)."""
    bad = raw_peer([(0, b"220 raw ESMTP\r\n"), (1, b"500 5.5.1 no EHLO\r\n"),
                    (2, b"501 5.5.4 no HELO either\r\n")])
    good = peer()
    res, err = deliver(tmp_path, [bad.hop, good.hop], opts=["--timeout-command", "1"])
    assert res["hop"] == 1 and outcomes(res) == ["ok"]
    assert (f"raw.test[127.0.0.1]:{bad.port} said: 501 5.5.4 no HELO either (in reply to HELO "
            f"command)") in err


def test_354_without_recipients_gets_no_content(tmp_path, raw_peer):
    """A server that says 354 although it refused every RCPT: the connection is closed
    at once, so no empty message goes out (RFC 2920 3.1)."""
    bad = raw_peer([(0, b"220 raw ESMTP\r\n"), (1, b"250-raw\r\n250 PIPELINING\r\n"),
                    (4, b"250 2.1.0 ok\r\n550 5.1.1 no such user\r\n354 go ahead anyway\r\n")])
    res, _ = deliver(tmp_path, [bad.hop])
    [r] = res["rcpts"]
    assert (r["outcome"], r["code"], r["enhanced"]) == ("perm", 550, "5.1.1")
    wait_for(lambda: bad.received, what="the raw peer to see the close")
    assert bad.received[0] == (b"EHLO client.test\r\nMAIL FROM:<sender@example.test>\r\n"
                               b"RCPT TO:<rcpt@example.test>\r\nDATA\r\n")


def test_hostile_ehlo_lines_are_ignored(tmp_path, peer):
    p = peer(pipelining=False, ehlo_extra=["SIZE abc", "SIZE  10", "AUTH=LOGIN", "-DSN",
                                           "PIPELINING ", "8BITMIME\x01"])
    res, _ = deliver(tmp_path, [p.hop])
    assert outcomes(res) == ["ok"] and res["used_pipelining"] is False
    assert p.conns[0].mail_params == []


def test_ipv6_relay_name(tmp_path):
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
            port = s.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback")
    res, _ = deliver(tmp_path, [f"v6.test,[::1]:{port}"])
    [r] = res["rcpts"]
    assert r["text"] == f"connect to v6.test[::1]:{port}: Connection refused"


# ---- smtp-sink ---------------------------------------------------------------------

@pytest.mark.skipif(not os.path.exists(SMTP_SINK), reason="no smtp-sink")
def test_smtp_sink(tmp_path):
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    log = open(tmp_path / "sink.log", "wb")
    sink = subprocess.Popen([SMTP_SINK, *user, f"127.0.0.1:{port}", "10"], stdout=log,
                            stderr=subprocess.STDOUT)
    log.close()
    try:
        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0
        wait_for(listening, what="smtp-sink to listen")
        res, _ = deliver(tmp_path, [f"sink.test,127.0.0.1:{port}"],
                         rcpts=["a@example.test", "b@example.test"])
        assert outcomes(res) == ["ok", "ok"]
        assert res["used_pipelining"] is True
        assert all(r["code"] == 250 for r in res["rcpts"])
    finally:
        sink.send_signal(signal.SIGTERM)
        try:
            sink.wait(timeout=5)
        except subprocess.TimeoutExpired:
            sink.kill()
            sink.wait()


# ---- connection reuse (deliver_cache) ---------------------------------------

def deliver_many(tmp_path, hops, repeat, reuse, pause_ms=0, opts=()):
    """Runs deliver_try --repeat with a connection cache (--reuse 0: none).
    Returns (results, stderr)."""
    msg = tmp_path / "msg"
    msg.write_bytes(CONTENT)
    args = [str(DRIVER), "--helo", "client.test", "--from", SENDER, "--to", RCPT,
            "--file", str(msg), "--debug", "--repeat", str(repeat),
            "--pause-ms", str(pause_ms), *list(opts)]
    if reuse:
        args += ["--reuse", str(reuse)]
    for h in hops:
        args += ["--hop", h]
    lines, err = run_driver(args, 60)
    results = [json.loads(line) for line in lines]
    assert len(results) == repeat, p.stdout
    return results, err


def test_reuse_sends_the_next_message_on_the_same_connection(tmp_path, peer):
    p = peer()
    results, _ = deliver_many(tmp_path, [p.hop], repeat=4, reuse=5)
    assert [outcomes(r) for r in results] == [["ok"]] * 4
    assert [r["reused"] for r in results] == [False, True, True, True]
    assert len(p.conns) == 1
    c = p.conns[0]
    assert [m.data for m in c.msgs] == [CONTENT] * 4
    # One greeting and EHLO, then transactions back to back, and QUIT at the end.
    assert [x.split()[0] for x in c.commands].count("EHLO") == 1
    assert [x.split()[0] for x in c.commands].count("MAIL") == 4
    wait_for(lambda: c.quit, what="QUIT when the cache closes")


def test_without_a_cache_each_message_has_its_connection(tmp_path, peer):
    p = peer()
    results, _ = deliver_many(tmp_path, [p.hop], repeat=3, reuse=0)
    assert [outcomes(r) for r in results] == [["ok"]] * 3
    assert [r["reused"] for r in results] == [False] * 3
    assert len(p.conns) == 3
    assert all(c.quit for c in p.conns)


def test_an_idle_connection_is_closed_after_its_idle_time(tmp_path, peer):
    p = peer()
    results, err = deliver_many(tmp_path, [p.hop], repeat=2, reuse=1, pause_ms=1600)
    assert [r["reused"] for r in results] == [False, False]
    assert len(p.conns) == 2
    assert p.conns[0].quit, "the idle connection gets QUIT when its time is up"
    assert "event=idle-close, reason=idle-time" in err


def test_a_connection_the_server_closed_while_idle_is_not_reused(tmp_path, peer):
    p = peer(close_after_message=True)
    results, err = deliver_many(tmp_path, [p.hop], repeat=2, reuse=5, pause_ms=300)
    assert [outcomes(r) for r in results] == [["ok"], ["ok"]]
    assert [r["reused"] for r in results] == [False, False]
    assert len(p.conns) == 2
    assert "reason=server-closed" in err


def test_a_reused_connection_found_dead_at_mail_is_replaced_not_skipped(tmp_path, peer):
    """The server dropped the kept connection just as MAIL went out: the same
    hop again on a new connection, not the next hop and not a deferral."""
    p = peer(drop_second_mail=True)
    other = peer()
    results, err = deliver_many(tmp_path, [p.hop, f"other.test,127.0.0.1:{other.port}"],
                                repeat=2, reuse=5)
    assert [outcomes(r) for r in results] == [["ok"], ["ok"]]
    assert [r["hop"] for r in results] == [0, 0]
    assert results[1]["reused"] is False
    assert len(p.contents()) == 2 and other.conns == []
    assert "event=reuse-failed" in err and "event=hop-failed" not in err


def test_a_refused_message_keeps_the_connection_but_421_ends_it(tmp_path, peer):
    p = peer(end_reply="550 5.7.1 content refused")
    results, _ = deliver_many(tmp_path, [p.hop], repeat=2, reuse=5)
    assert [outcomes(r) for r in results] == [["perm"], ["perm"]]
    assert [r["reused"] for r in results] == [False, True]
    assert len(p.conns) == 1

    q = peer(end_reply="421 4.3.0 closing")
    results, _ = deliver_many(tmp_path, [q.hop], repeat=2, reuse=5)
    assert [outcomes(r) for r in results] == [["temp"], ["temp"]]
    assert [r["reused"] for r in results] == [False, False]
    assert len(q.conns) == 2


def test_each_hop_has_its_own_connection(tmp_path, peer):
    """The cache is keyed by address and port: another hop never gets it."""
    a, b = peer(), peer()
    deliver_many(tmp_path, [a.hop], repeat=1, reuse=5)
    results, _ = deliver_many(tmp_path, [f"b.test,127.0.0.1:{b.port}"], repeat=2, reuse=5)
    assert [r["reused"] for r in results] == [False, True]
    assert len(a.conns) == 1 and len(b.conns) == 1


# ---- STARTTLS (deliver/tls.c) ---------------------------------------------------

@pytest.fixture
def ca(tmp_path):
    from certs import CA
    return CA(tmp_path / "pki")


def test_tls_may_uses_starttls_when_offered(tmp_path, peer, ca):
    p = peer(tls=ca.issue("peer.test"))
    res, err = deliver(tmp_path, [p.hop], opts=["--tls", "may"])
    assert outcomes(res) == ["ok"]
    assert res["tls"].startswith("TLSv1.3 TLS_") and res["tls"].endswith(" unverified")
    (c,) = p.conns
    assert c.tls and [x.split()[0] for x in c.commands].count("EHLO") == 2
    assert c.data == CONTENT
    assert "event=tls, version=TLSv1.3" in err


def test_tls_may_goes_on_in_the_clear_without_starttls(tmp_path, peer):
    p = peer()
    res, _ = deliver(tmp_path, [p.hop], opts=["--tls", "may"])
    assert outcomes(res) == ["ok"] and res["tls"] == ""
    assert not p.conns[0].tls


def test_tls_none_never_starts_tls(tmp_path, peer, ca):
    p = peer(tls=ca.issue("peer.test"))
    res, _ = deliver(tmp_path, [p.hop], opts=["--tls", "none"])
    assert outcomes(res) == ["ok"] and res["tls"] == ""
    assert "STARTTLS" not in p.conns[0].commands


def test_tls_encrypt_without_starttls_is_a_hop_failure(tmp_path, peer):
    plain = peer()
    res, err = deliver(tmp_path, [plain.hop], opts=["--tls", "encrypt"])
    (r,) = res["rcpts"]
    assert r["outcome"] == "temp" and r["enhanced"] == "4.7.4"
    assert "TLS is required (tls encrypt), but the server does not offer STARTTLS" in r["text"]
    assert plain.messages() == []


def test_tls_encrypt_takes_any_certificate(tmp_path, peer, tmp_path_factory):
    from certs import self_signed
    p = peer(tls=self_signed(tmp_path / "ss", "peer.test"))
    res, _ = deliver(tmp_path, [p.hop], opts=["--tls", "encrypt"])
    assert outcomes(res) == ["ok"] and res["tls"].endswith(" unverified")


def test_tls_verify_accepts_a_certificate_of_the_ca_for_the_hop_name(tmp_path, peer, ca):
    p = peer(tls=ca.issue("peer.test"))
    res, err = deliver(tmp_path, [p.hop], opts=["--tls", "verify", "--ca-file", ca.pem])
    assert outcomes(res) == ["ok"]
    assert res["tls"].endswith(" verified")


@pytest.mark.parametrize("case", ["self-signed", "wrong-name", "expired", "unknown-ca"])
def test_tls_verify_refuses_a_bad_certificate_and_tries_the_next_hop(tmp_path, peer, ca, case):
    from certs import CA, self_signed
    cert = {
        "self-signed": lambda: self_signed(tmp_path / "ss", "peer.test"),
        "wrong-name": lambda: ca.issue("someone-else.test"),
        "expired": lambda: ca.issue("peer.test", days=-1, stem="expired"),
        "unknown-ca": lambda: CA(tmp_path / "other-ca", name="other CA").issue("peer.test"),
    }[case]()
    bad = peer(tls=cert)
    good = peer(tls=ca.issue("good.test"))
    res, err = deliver(tmp_path, [bad.hop, f"good.test,127.0.0.1:{good.port}"],
                       opts=["--tls", "verify", "--ca-file", ca.pem])
    assert outcomes(res) == ["ok"] and res["hop"] == 1 and res["tls"].endswith(" verified")
    assert bad.messages() == []
    assert "event=hop-failed" in err and "dsn=4.7.5" in err
    assert "certificate not verified" in err


def test_tls_verify_alone_defers_with_the_reason(tmp_path, peer, ca):
    from certs import self_signed
    bad = peer(tls=self_signed(tmp_path / "ss", "peer.test"))
    res, _ = deliver(tmp_path, [bad.hop], opts=["--tls", "verify", "--ca-file", ca.pem])
    (r,) = res["rcpts"]
    assert r["outcome"] == "temp" and r["enhanced"] == "4.7.5"
    assert "TLS handshake with peer.test[127.0.0.1]" in r["text"]
    assert "certificate not verified" in r["text"]


def test_tls_may_falls_back_to_plain_when_the_handshake_fails(tmp_path, peer, ca):
    """A server whose TLS cannot agree with ours (TLS 1.1 at most): the same
    hop again in the clear, as opportunistic TLS (RFC 7435) allows."""
    import ssl
    p = peer(tls=ca.issue("peer.test"))
    p.tls_context.maximum_version = ssl.TLSVersion.TLSv1_1
    res, err = deliver(tmp_path, [p.hop], opts=["--tls", "may"])
    assert outcomes(res) == ["ok"] and res["tls"] == "" and res["hop"] == 0
    assert len(p.conns) == 2 and not p.conns[1].tls and p.conns[1].data == CONTENT
    assert "event=tls-failed, action=plain-again" in err and "event=hop-failed" not in err


def test_tls_connection_is_reused_with_its_tls(tmp_path, peer, ca):
    p = peer(tls=ca.issue("peer.test"))
    results, _ = deliver_many(tmp_path, [p.hop], repeat=2, reuse=5, opts=["--tls", "may"])
    assert [r["reused"] for r in results] == [False, True]
    assert all(r["tls"].startswith("TLSv1.3") for r in results)
    assert len(p.conns) == 1


# ---- recipient callouts (deliver/verify.c) -----------------------------------

def verify(hops, addr=RCPT, opts=(), timeout=30):
    """Runs deliver_try --verify; returns (result, stderr)."""
    assert DRIVER.exists(), f"{DRIVER} is not built (meson setup -Dtests=enabled)"
    args = [str(DRIVER), "--verify", "--helo", "client.test", "--to", addr, "--debug"]
    for h in hops:
        args += ["--hop", h]
    args += list(opts)
    lines, err = run_driver(args, timeout)
    assert len(lines) == 1, lines
    return json.loads(lines[0]), err


@pytest.mark.parametrize("pipelining", [True, False])
def test_callout_dialogue_has_no_data(peer, pipelining):
    """MAIL FROM:<>, RCPT, QUIT: nothing else, and never DATA."""
    p = peer(pipelining=pipelining)
    res, _ = verify([p.hop])
    assert res == {"callbacks": 1, "answer": "ok", "code": 250, "relay": relay_of(p),
                   "text": "250 2.1.5 Ok (in reply to RCPT TO command)"}
    (c,) = p.conns
    assert c.commands == ["EHLO client.test", "MAIL FROM:<>", f"RCPT TO:<{RCPT}>", "QUIT"]
    assert c.mail_params == [] and c.msgs == []
    group = c.packet_with(b"MAIL FROM:<>")
    if pipelining:
        assert group == b"MAIL FROM:<>\r\nRCPT TO:<rcpt@example.test>\r\n"
    else:
        assert group == b"MAIL FROM:<>\r\n"


@pytest.mark.parametrize("reply, answer", [
    ("550 5.1.1 <rcpt@example.test>: Recipient address rejected: User unknown", "refused"),
    ("553 5.1.3 bad address", "refused"),
    ("450 4.2.1 <rcpt@example.test>: mailbox busy", "temp"),
    ("452 4.5.3 too many recipients", "temp"),
])
def test_callout_rcpt_reply(peer, reply, answer):
    p = peer(rcpt_replies={RCPT: reply})
    res, _ = verify([p.hop])
    assert res["answer"] == answer and res["code"] == int(reply[:3])
    assert res["text"] == reply + " (in reply to RCPT TO command)"
    assert p.conns[0].commands[-1] == "QUIT"


@pytest.mark.parametrize("pipelining", [True, False])
def test_callout_refused_mail_is_temporary(peer, pipelining):
    """A server that refuses the null sender says nothing about the recipient."""
    p = peer(pipelining=pipelining, mail_reply="550 5.7.1 null sender not accepted")
    res, _ = verify([p.hop])
    assert res["answer"] == "temp" and res["code"] == 550
    assert res["text"] == "550 5.7.1 null sender not accepted (in reply to MAIL FROM command)"
    assert "DATA" not in p.conns[0].commands


def test_callout_421_at_rcpt(peer):
    p = peer(rcpt_replies={RCPT: "421 4.3.2 closing"})
    res, _ = verify([p.hop])
    assert res["answer"] == "temp" and res["code"] == 421


def test_callout_nobody_listening_tries_the_next_hop(peer):
    p = peer()
    res, err = verify([closed_hop(), p.hop])
    assert res["answer"] == "ok" and res["relay"] == relay_of(p)
    assert "event=hop-failed" in err
    res, _ = verify([closed_hop()])
    assert res["answer"] == "temp" and res["code"] == 0 and res["relay"] == "none"
    assert "Connection refused" in res["text"]


def test_callout_server_that_hangs_at_rcpt_times_out(peer):
    p = peer(hang_at="RCPT")
    res, _ = verify([p.hop], opts=["--timeout-command", "1"])
    assert res["answer"] == "temp"
    assert "timed out while sending RCPT TO" in res["text"]


def test_callout_smtputf8(peer):
    """An address that needs SMTPUTF8: asked for when offered; without it, no answer."""
    addr = "j\u00f6rg@example.test"
    p = peer(smtputf8=True)
    res, _ = verify([p.hop], addr=addr, opts=["--smtputf8"])
    assert res["answer"] == "ok"
    assert p.conns[0].commands[1] == "MAIL FROM:<> SMTPUTF8"
    q = peer(smtputf8=False)
    res, _ = verify([q.hop], addr=addr, opts=["--smtputf8"])
    assert res["answer"] == "temp" and "does not offer SMTPUTF8" in res["text"]
    assert not any(c.startswith("MAIL") for c in q.conns[0].commands)


def test_callout_uses_starttls_by_policy(peer, ca):
    p = peer(tls=ca.issue("peer.test"))
    res, _ = verify([p.hop], opts=["--tls", "may"])
    assert res["answer"] == "ok"
    (c,) = p.conns
    assert c.tls and c.commands == ["EHLO client.test", "EHLO client.test", "MAIL FROM:<>",
                                    f"RCPT TO:<{RCPT}>", "QUIT"]


def test_callout_cancel_frees_everything(peer):
    p = peer(hang_at="RCPT")
    args = [str(DRIVER), "--verify", "--helo", "client.test", "--to", RCPT, "--hop", p.hop,
            "--cancel-after", "300"]
    lines, _ = run_driver(args, 30)
    assert lines == ['{"cancelled":true}']
