# SPDX-License-Identifier: MIT
"""The milter client (src/scan/milter.c, issue 14), driven through its
driver milter_try: a real milter (opendkim in milter mode, signing mail
from example.test: its DKIM-Signature comes back as a modification and
dkimpy verifies it with the key the test made), then a fake milter written
here (a small server speaking the protocol) for what a real one does not do
on demand: crash mid-message, hang, answer garbage, reject, tempfail, a
reply code, quarantine, change and delete headers, replace the body, skip
steps and ask for macros. Every bad milter ends in verdict "error" with a
reason, never in a crash of the client (the sanitizers watch)."""
import json
import struct
import subprocess
from pathlib import Path

import pytest

from checkers import (ALL_ACTIONS, SMFIF_ADDHDRS, SMFIF_ADDRCPT, SMFIF_CHGBODY,  # noqa: F401
                      SMFIF_CHGHDRS, SMFIF_QUARANTINE, SMFIF_SETSYMLIST, SMFIP_NOCONNECT,
                      SMFIP_NOHELO, SMFIP_NR_BODY, SMFIP_NR_HDR, SMFIP_RCPT_REJ, SMFIP_SKIP,
                      fake_milter, opendkim, pkt)
from conftest import BIN, SANITIZER_MARKS, free_port, wait_for

DRIVER = Path(BIN).parent / "scan" / "milter_try"

MESSAGE = (b"From: Alice <alice@example.test>\r\n"
           b"To: Bob <bob@example.net>\r\n"
           b"Subject: a test\r\n"
           b"X-Folded: first\r\n second\r\n"
           b"Date: Mon, 7 Dec 2026 02:00:00 +0000\r\n"
           b"Message-ID: <m1@example.test>\r\n"
           b"\r\n"
           b"Hello Bob,\r\n"
           b"this is the body.\r\n")

def run(spec, message=MESSAGE, *args, tmp, expect_rc=0):
    """Plays message through the milter at spec; returns milter_try's JSON."""
    msg = tmp / "message"
    msg.write_bytes(message)
    p = subprocess.run([str(DRIVER), *map(str, args), spec, str(msg)], capture_output=True,
                       timeout=60)
    err = p.stderr.decode(errors="replace")
    for mark in SANITIZER_MARKS:
        assert mark not in err, f"sanitizer report from milter_try:\n{err[-5000:]}"
    assert p.returncode == expect_rc, f"milter_try exited {p.returncode}:\n{err[-3000:]}"
    return json.loads(p.stdout) if expect_rc == 0 else err


@pytest.fixture
def fake(fake_milter):
    return fake_milter


# ---- a real milter: opendkim (checkers.Opendkim) ----

def apply_mods(message, mods):
    """The message with the added and inserted headers of mods (what the pipeline will do)."""
    head, body = message.split(b"\r\n\r\n", 1)
    fields = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    for m in mods:
        value = m["value"].replace("\r\n", "\n").replace("\n", "\r\n").encode()
        field = m["name"].encode() + b": " + value
        if m["kind"] == "insert":
            fields.insert(m["index"], field)
        elif m["kind"] == "add":
            fields.append(field)
    return b"\r\n".join(fields) + b"\r\n\r\n" + body


@pytest.mark.parametrize("which", ["unix", "inet"])
def test_opendkim_signs_and_dkimpy_verifies(opendkim, tmp_path, which):
    import dkim

    unix_spec, inet_spec, record = opendkim
    r = run(unix_spec if which == "unix" else inet_spec, MESSAGE, "--client", "127.0.0.1",
            tmp=tmp_path)
    assert r["verdict"] == "accept", r
    sigs = [m for m in r["mods"] if m["name"] == "DKIM-Signature"]
    assert len(sigs) == 1 and sigs[0]["kind"] in ("insert", "add"), r
    assert "d=example.test" in sigs[0]["value"] and "s=s1" in sigs[0]["value"]
    signed = apply_mods(MESSAGE, r["mods"])

    def dns(name, timeout=5):
        assert name == b"s1._domainkey.example.test."
        return record.encode()

    assert dkim.verify(signed, dnsfunc=dns), signed
    # The same signature over a body changed in transit fails: the body went through whole.
    assert not dkim.verify(signed.replace(b"the body", b"the bodY"), dnsfunc=dns)


def test_opendkim_leaves_foreign_mail_from_outside_unsigned(opendkim, tmp_path):
    """From another domain, from a client outside opendkim's InternalHosts: nothing to
    sign and no signature to verify; opendkim accepts and adds no DKIM-Signature."""
    unix_spec, _, _ = opendkim
    msg = MESSAGE.replace(b"alice@example.test", b"alice@example.org")
    r = run(unix_spec, msg, "--client", "192.0.2.7", "--client-name", "mx.example.org",
            "--from", "alice@example.org", tmp=tmp_path)
    assert r["verdict"] == "accept", r
    assert not any(m["name"] == "DKIM-Signature" for m in r["mods"]), r


# ---- a fake milter: what the client sends ----

def test_the_conversation_in_order_with_macros_and_folding(fake, tmp_path):
    m = fake()
    r = run(m.spec, MESSAGE, "--from", "alice@example.test", "--rcpt", "bob@example.net",
            "--rcpt", "carol@example.net", "--client", "192.0.2.7", "--client-name",
            "mx.example.org", "--helo", "mx.example.org", "--queue-id", "ABCDEF1234",
            "--auth", "alice", tmp=tmp_path)
    assert r == {"verdict": "accept", "code": 0, "text": None, "quarantine": None,
                 "rcpt_rejected": 0, "mods": [], "body": None}
    order = [c for c, _ in m.got if c != b"D"]
    assert order == [b"O", b"C", b"H", b"M", b"R", b"R", b"T"] + [b"L"] * 6 + \
        [b"N", b"B", b"E", b"Q"], order
    ver, actions, proto = struct.unpack(">III", m.got[0][1])
    assert ver == 6
    assert actions == SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_CHGHDRS | SMFIF_QUARANTINE | \
        SMFIF_SETSYMLIST
    assert proto & SMFIP_SKIP and proto & SMFIP_NR_HDR and not proto & SMFIP_RCPT_REJ
    assert m.cmds(b"C") == [b"mx.example.org\x00" + b"4" + struct.pack(">H", 40000)
                            + b"192.0.2.7\x00"]
    assert m.cmds(b"H") == [b"mx.example.org\x00"]
    assert m.cmds(b"M") == [b"<alice@example.test>\x00"]
    assert m.cmds(b"R") == [b"<bob@example.net>\x00", b"<carol@example.net>\x00"]
    headers = m.cmds(b"L")
    assert headers[0] == b"From\x00Alice <alice@example.test>\x00"
    assert headers[3] == b"X-Folded\x00first\n second\x00"  # folding joined by LF alone
    assert m.cmds(b"B") == [b"Hello Bob,\r\nthis is the body.\r\n"]
    macros = {d[:1]: d[1:] for d in m.cmds(b"D")}
    conn = macros[b"C"].split(b"\x00")[:-1]
    assert dict(zip(conn[0::2], conn[1::2])) == {
        b"j": b"gate26.test", b"{daemon_name}": b"inbound", b"_": b"mx.example.org [192.0.2.7]",
        b"{client_addr}": b"192.0.2.7", b"{client_name}": b"mx.example.org"}
    assert b"{client_addr}\x00192.0.2.7\x00" in macros[b"C"]
    assert b"j\x00gate26.test\x00" in macros[b"C"]
    assert b"i\x00ABCDEF1234\x00" in macros[b"M"]
    assert b"{auth_authen}\x00alice\x00" in macros[b"M"]
    assert b"{mail_addr}\x00alice@example.test\x00" in macros[b"M"]
    assert b"{rcpt_addr}\x00carol@example.net\x00" in macros[b"R"]  # the last RCPT's
    assert b"i\x00ABCDEF1234\x00" in macros[b"E"]


def test_a_large_body_goes_in_chunks_of_at_most_65535(fake, tmp_path):
    m = fake()
    body = b"".join(b"line %06d of the body, padded to a decent length.....\r\n" % i
                    for i in range(5000))
    r = run(m.spec, MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n\r\n" + body, tmp=tmp_path)
    assert r["verdict"] == "accept", r
    chunks = m.cmds(b"B")
    assert len(chunks) == (len(body) + 65534) // 65535 and all(len(c) <= 65535 for c in chunks)
    assert b"".join(chunks) == body


def test_symbol_lists_choose_the_macros(fake, tmp_path):
    syms = struct.pack(">I", 0) + b"{client_addr}\x00" + struct.pack(">I", 5) + b"{i} j\x00"
    m = fake(actions=ALL_ACTIONS | SMFIF_SETSYMLIST, symlists=syms)
    r = run(m.spec, MESSAGE, "--client", "192.0.2.9", tmp=tmp_path)
    assert r["verdict"] == "accept", r
    macros = {d[:1]: d[1:] for d in m.cmds(b"D")}
    assert macros[b"C"] == b"{client_addr}\x00192.0.2.9\x00"
    assert macros[b"E"] == b"j\x00gate26.test\x00i\x004QX1A2B3C4\x00"


def test_skipped_steps_and_no_reply_flags_are_honoured(fake, tmp_path):
    """NOCONNECT and NOHELO: not sent; NR_HDR and NR_BODY: no reply awaited (a reply
    there would be out of step, so the fake sends none)."""
    m = fake(protocol=SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NR_HDR | SMFIP_NR_BODY,
             replies={"L": [], "B": []})
    r = run(m.spec, tmp=tmp_path)
    assert r["verdict"] == "accept", r
    order = [c for c, _ in m.got if c != b"D"]
    assert b"C" not in order and b"H" not in order
    assert order.count(b"L") == 6 and order[-2:] == [b"E", b"Q"]


def test_skip_ends_the_body_early(fake, tmp_path):
    m = fake(protocol=SMFIP_SKIP, replies={"B": [pkt(b"s")]})
    body = b"x" * 200000 + b"\r\n"
    r = run(m.spec, MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n\r\n" + body, tmp=tmp_path)
    assert r["verdict"] == "accept", r
    assert len(m.cmds(b"B")) == 1 and m.cmds(b"E") == [b""]


# ---- verdicts ----

@pytest.mark.parametrize("stage", ["C", "M", "E"])
@pytest.mark.parametrize("reply, verdict", [(b"r", "reject"), (b"t", "tempfail"),
                                            (b"d", "discard")])
def test_verdicts(fake, tmp_path, stage, reply, verdict):
    m = fake(replies={stage: [pkt(reply)]})
    r = run(m.spec, tmp=tmp_path)
    assert r["verdict"] == verdict and r["rcpt_rejected"] == 0, r
    # The conversation stopped there: nothing after the refused step but QUIT.
    after = [c for c, _ in m.got if c != b"D"]
    assert after[after.index(stage.encode()) + 1:] == [b"Q"], after


def test_replycode(fake, tmp_path):
    m = fake(replies={"E": [pkt(b"y", b"554 5.7.1 Message looks like spam\x00")]})
    r = run(m.spec, tmp=tmp_path)
    assert (r["verdict"], r["code"], r["text"]) == \
        ("replycode", 554, "554 5.7.1 Message looks like spam")


def test_a_refused_recipient_leaves_the_others(fake, tmp_path):
    """A refusal at RCPT is that recipient's: the message goes on for the others,
    and is refused when none is left."""
    m = fake(replies={"R": lambda data: [pkt(b"r") if data.startswith(b"<a@") else pkt(b"c")]})
    r = run(m.spec, MESSAGE, "--rcpt", "a@example.net", "--rcpt", "b@example.net", tmp=tmp_path)
    assert r["verdict"] == "accept" and r["rcpt_rejected"] == 1, r
    assert m.cmds(b"E") == [b""]

    m = fake(replies={"R": [pkt(b"t")]})
    r = run(m.spec, MESSAGE, "--rcpt", "a@example.net", "--rcpt", "b@example.net", tmp=tmp_path)
    assert r["verdict"] == "tempfail" and r["rcpt_rejected"] == 2, r
    assert m.cmds(b"T") == []


def test_quarantine_with_accept(fake, tmp_path):
    m = fake(replies={"E": [pkt(b"q", b"held by the fake milter\x00"), pkt(b"c")]})
    r = run(m.spec, tmp=tmp_path)
    assert r["verdict"] == "accept" and r["quarantine"] == "held by the fake milter", r


def test_progress_keeps_a_slow_milter_alive(fake, tmp_path):
    m = fake(replies={"E": [pkt(b"p"), pkt(b"p"), pkt(b"a")]})
    r = run(m.spec, tmp=tmp_path)
    assert r["verdict"] == "accept", r


# ---- modifications ----

def test_header_changes_and_deletes(fake, tmp_path):
    m = fake(replies={"E": [
        pkt(b"h", b"X-Scanned\x00yes\x00"),
        pkt(b"i", struct.pack(">I", 0) + b"X-First\x00top\x00"),
        pkt(b"m", struct.pack(">I", 1) + b"Subject\x00a changed subject\x00"),
        pkt(b"m", struct.pack(">I", 1) + b"X-Folded\x00\x00"),
        pkt(b"h", b"X-Multi\x00one\n\ttwo\x00"),
        pkt(b"c")]})
    r = run(m.spec, tmp=tmp_path)
    assert r["verdict"] == "accept", r
    assert r["mods"] == [
        {"kind": "add", "index": 0, "name": "X-Scanned", "value": "yes"},
        {"kind": "insert", "index": 0, "name": "X-First", "value": "top"},
        {"kind": "change", "index": 1, "name": "Subject", "value": "a changed subject"},
        {"kind": "delete", "index": 1, "name": "X-Folded", "value": ""},
        {"kind": "add", "index": 0, "name": "X-Multi", "value": "one\n\ttwo"},
    ]


def test_body_replaced(fake, tmp_path):
    m = fake(replies={"E": [pkt(b"b", b"new body,\r\n"), pkt(b"b", b"in two parts\r\n"),
                            pkt(b"a")]})
    r = run(m.spec, tmp=tmp_path)
    assert r["verdict"] == "accept" and r["body"] == "new body,\r\nin two parts\r\n", r


def test_body_replaced_past_the_bound_is_an_error(fake, tmp_path):
    m = fake(replies={"E": [pkt(b"b", b"x" * 600), pkt(b"b", b"y" * 600), pkt(b"a")]})
    r = run(m.spec, MESSAGE, "--body-max", "1000", tmp=tmp_path)
    assert r["verdict"] == "error" and "replaced body longer than 1000" in r["text"], r
    assert r["body"] is None or len(r["body"]) <= 1000


# ---- bad milters: each ends in "error" with a reason ----

def test_no_milter_there(tmp_path):
    r = run(f"unix:{tmp_path}/nothing.sock", tmp=tmp_path)
    assert r["verdict"] == "error" and "connect to" in r["text"], r
    r = run(f"inet:{free_port()}@127.0.0.1", tmp=tmp_path)
    assert r["verdict"] == "error" and "Connection refused" in r["text"], r


def test_crash_mid_message(fake, tmp_path):
    m = fake(replies={"B": "close"})
    r = run(m.spec, tmp=tmp_path)
    assert r["verdict"] == "error" and "lost connection while BODY" in r["text"], r


def test_crash_at_negotiation_and_at_connect(fake, tmp_path):
    m = fake(optneg="close")
    r = run(m.spec, tmp=tmp_path)
    assert r["verdict"] == "error" and "lost connection while negotiating" in r["text"], r
    m = fake(replies={"C": "close"}, inet=True)
    r = run(m.spec, tmp=tmp_path)
    assert r["verdict"] == "error" and "lost connection while CONNECT" in r["text"], r


def test_hang_times_out(fake, tmp_path):
    m = fake(replies={"L": "hang"})
    r = run(m.spec, MESSAGE, "--reply-ms", "300", tmp=tmp_path)
    assert r["verdict"] == "error" and "timed out waiting for the reply to HEADER" in r["text"], r


def test_hang_with_progress_forever_hits_the_total(fake, tmp_path):
    m = fake(replies={"E": "progress"})
    r = run(m.spec, MESSAGE, "--reply-ms", "500", "--total-ms", "1500", tmp=tmp_path)
    assert r["verdict"] == "error" and "took longer than 1500 ms" in r["text"], r


@pytest.mark.parametrize("garbage, why", [
    (b"\x00\x00\x00\x05zzzzz", "unknown response"),
    (b"\xff\xff\xff\xff", "packet length"),
    (b"\x00\x00\x00\x00", "packet length"),
    (pkt(b"y", b"250 all fine\x00"), "4xx or 5xx"),
    (pkt(b"y", b"550 no nul"), "NUL"),
    (pkt(b"c", b"extra"), "after the last field"),
    (pkt(b"h", b"X-A\x00v\x00"), "ADDHEADER in reply to CONNECT"),
    (pkt(b"+", b"<x@example.net>\x00"), "did not offer"),
])
def test_garbage_answers(fake, tmp_path, garbage, why):
    m = fake(replies={"C": [garbage]})
    r = run(m.spec, tmp=tmp_path)
    assert r["verdict"] == "error" and why in r["text"], r


@pytest.mark.parametrize("optneg, why", [
    (pkt(b"O", struct.pack(">III", 7, 1, 0)), "protocol version 7"),
    (pkt(b"O", struct.pack(">III", 6, SMFIF_ADDRCPT, 0)), "actions 0x4 we did not offer"),
    (pkt(b"O", struct.pack(">III", 6, 1, SMFIP_RCPT_REJ)), "steps 0x800 we did not offer"),
    (pkt(b"O", struct.pack(">II", 6, 1)), "OPTNEG: short"),
    (pkt(b"O", struct.pack(">III", 6, 1, 0) + struct.pack(">I", 0) + b"j\x00"),
     "without SMFIF_SETSYMLIST"),
    (pkt(b"c"), "CONTINUE instead of OPTNEG"),
])
def test_bad_negotiation(fake, tmp_path, optneg, why):
    m = fake(optneg=optneg)
    r = run(m.spec, tmp=tmp_path)
    assert r["verdict"] == "error" and why in r["text"], r


def test_modification_not_negotiated(fake, tmp_path):
    m = fake(actions=SMFIF_ADDHDRS, replies={"E": [pkt(b"b", b"new\r\n"), pkt(b"a")]})
    r = run(m.spec, tmp=tmp_path)
    assert r["verdict"] == "error" and "REPLBODY without having negotiated it" in r["text"], r


def test_header_injection_refused(fake, tmp_path):
    m = fake(replies={"E": [pkt(b"h", b"X-A\x00v\r\nBcc: evil@example.net\x00"), pkt(b"a")]})
    r = run(m.spec, tmp=tmp_path)
    assert r["verdict"] == "error" and "line end" in r["text"], r


def test_bad_spec(tmp_path):
    err = run("inet:99999@127.0.0.1", tmp=tmp_path, expect_rc=1)
    assert "bad port" in err
    err = run("inet:25@mx.example.net", tmp=tmp_path, expect_rc=1)
    assert "numeric" in err
    err = run("unix:relative", tmp=tmp_path, expect_rc=1)
    assert "absolute path" in err


def test_cancel_closes_the_conversation(fake, tmp_path):
    """milter_cancel() on a conversation waiting for a reply: done is not called, the
    socket is closed (the milter sees the end), nothing leaks (the sanitizers watch)."""
    m = fake(replies={"B": "hang"})
    msg = tmp_path / "message"
    msg.write_bytes(MESSAGE)
    p = subprocess.run([str(DRIVER), "--cancel-ms", "500", m.spec, str(msg)],
                       capture_output=True, timeout=60)
    err = p.stderr.decode(errors="replace")
    for mark in SANITIZER_MARKS:
        assert mark not in err, err[-5000:]
    assert p.returncode == 0, err[-3000:]
    assert [json.loads(line) for line in p.stdout.splitlines()] == [{"cancelled": True}]
    wait_for(lambda: m.got and m.got[-1][0] == b"B", timeout=10, what="the body sent")
    assert b"E" not in [c for c, _ in m.got]


def test_an_empty_message_and_one_without_a_body(fake, tmp_path):
    m = fake()
    r = run(m.spec, b"", tmp=tmp_path)
    assert r["verdict"] == "accept", r
    assert [c for c, _ in m.got if c != b"D"] == [b"O", b"C", b"H", b"M", b"R", b"T", b"N", b"E",
                                                 b"Q"]
    m = fake()
    r = run(m.spec, b"Subject: only a header\r\n", tmp=tmp_path)
    assert r["verdict"] == "accept", r
    assert m.cmds(b"L") == [b"Subject\x00only a header\x00"] and m.cmds(b"B") == []


def test_a_header_field_over_the_cap_is_an_error(fake, tmp_path):
    m = fake()
    big = b"X-Big: " + b"a" * 1000 + b"".join(b"\r\n " + b"b" * 1000 for _ in range(300))
    r = run(m.spec, big + b"\r\n" + MESSAGE, tmp=tmp_path)
    assert r["verdict"] == "error" and "header field longer than" in r["text"], r


def test_too_many_modifications_is_an_error(fake, tmp_path):
    m = fake(replies={"E": [pkt(b"h", b"X-N\x00%d\x00" % i) for i in range(1001)] + [pkt(b"a")]})
    r = run(m.spec, tmp=tmp_path)
    assert r["verdict"] == "error" and "more than 1000 modifications" in r["text"], r


@pytest.mark.parametrize("kw, why", [
    # Replies to HEADER anyway. The client sees it only if the stray reply arrives while it
    # still sends headers; arriving after EOH it reads as EOH's "continue". A clean-clone run
    # showed that race (verdict accept), so the case is not deterministic yet: see the note
    # on issue 14.
    pytest.param({"protocol": SMFIP_NR_HDR}, "while no reply was due",
                 marks=pytest.mark.xfail(strict=False, reason="a stray reply to a no-reply "
                                         "step is only seen if it arrives before EOH is sent")),
    ({"replies": {"B": [pkt(b"s")]}}, "SKIP without SMFIP_SKIP"),
    ({"replies": {"M": [pkt(b"s")]}}, "SKIP outside BODY"),
    ({"actions": SMFIF_ADDHDRS,
      "replies": {"E": [pkt(b"m", b"\x00\x00\x00\x01Subject\x00x\x00"), pkt(b"a")]}},
     "CHGHEADER without having negotiated it"),
    ({"actions": SMFIF_ADDHDRS, "replies": {"E": [pkt(b"q", b"why\x00"), pkt(b"a")]}},
     "QUARANTINE without having negotiated it"),
    ({"replies": {"E": [pkt(b"O", struct.pack(">III", 6, 1, 0))]}}, "OPTNEG in reply to"),
])
def test_out_of_step_answers(fake, tmp_path, kw, why):
    m = fake(**kw)
    r = run(m.spec, tmp=tmp_path)
    assert r["verdict"] == "error" and why in r["text"], r


def test_host_port_spec(fake, tmp_path):
    m = fake(inet=True)
    port = m.spec.split(":")[1].split("@")[0]
    assert run(f"127.0.0.1:{port}", tmp=tmp_path)["verdict"] == "accept"
    assert run(f"[127.0.0.1]:{port}", tmp=tmp_path)["verdict"] == "accept"
    assert run(f"localhost:{port}", tmp=tmp_path)["verdict"] == "accept"


def test_a_large_body_without_replies_waits_for_the_socket(fake, tmp_path):
    """NR_BODY: no reply per chunk; the client stops at its output cap and goes on as the
    socket drains, and every octet arrives in order."""
    m = fake(protocol=SMFIP_NR_BODY | SMFIP_NR_HDR, replies={"B": [], "L": []})
    body = b"".join(b"%07d the body goes on and on without a reply.................\r\n" % i
                    for i in range(40000))
    r = run(m.spec, MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n\r\n" + body, tmp=tmp_path)
    assert r["verdict"] == "accept", r
    assert b"".join(m.cmds(b"B")) == body
