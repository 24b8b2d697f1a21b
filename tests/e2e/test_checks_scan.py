# SPDX-License-Identifier: MIT
"""Antivirus (clamd), spam scores (rspamd) and milters through the daemon
(issue 14, docs/checks.md; the replies, headers and logs of the lead's
contract): real clamd with a signature database made here, real rspamd with
multimap rules that score 4, 7 and 16 (thresholds 3, 6, 15 below), opendkim
in milter mode, and the fakes of checkers.py for a checker that is down,
crashes, hangs or answers garbage. Mail arrives on the inbound door and is
relayed to a sink (aiosmtpd). The checkers listen on TCP (gate26 drops to
its own user, which the test directories keep out of UNIX sockets)."""
import re

import pytest

from checkers import (MAX_SIZE, VIRUS_NAME, Opendkim, checks_block, checks_field,  # noqa: F401
                      clamd, dkimpy_verify_all, fake_milter, fake_server, header_fields,
                      header_values, http_fake, infected_message, message, pkt,
                      quarantine_files, rspamd, sink, start_checks_gateway, transact,
                      wait_delivered, wait_for)
from conftest import free_port

RCPT = "bob@ours.test"
SENDER = "alice@example.test"
SPAM_SCORES = ("spam-reject 15", "spam-quarantine 6", "spam-header 3")


def unavailable(check):
    return (451, f"4.7.0 Content checks unavailable ({check}), try again later")


def status_line(g, qid, status):
    wait_for(lambda: any(f"status={status}" in line for line in g.log().splitlines()
                         if qid in line), 20, f"{qid}'s status={status} line")
    return checks_field(g, qid, status)


def assert_quarantined(g, sink, t, check):
    """250 queued, the status=quarantined line, SPOOL/quarantine holds it, nothing delivered."""
    qid = t.queue_id
    status_line(g, qid, "quarantined")
    line = next(line for line in g.log().splitlines()
                if qid in line and "status=quarantined" in line)
    assert check in line, line
    assert quarantine_files(g), "nothing in SPOOL/quarantine"
    assert qid not in g.queue_files()
    assert sink.messages() == []
    return qid


# ---- clamd ----

def av_gateway(gateway, sink, target, *lines):
    return start_checks_gateway(gateway, None, sink,
                                checks_block("inbound", f"antivirus clamd {target}", *lines))


def test_clamd_clean_is_delivered(gateway, sink, clamd):
    g = av_gateway(gateway, sink, clamd.tcp)
    t = transact(g, SENDER, [RCPT], message())
    qid = t.queue_id
    wait_delivered(sink)
    assert status_line(g, qid, "queued") == {"av": "clean"}


def test_clamd_infected_is_rejected_with_the_name(gateway, sink, clamd):
    g = av_gateway(gateway, sink, clamd.tcp)
    t = transact(g, SENDER, [RCPT], infected_message())
    assert t.end == (554, f"5.7.1 Message rejected: virus found: {VIRUS_NAME}"), t
    assert g.queue_files() == [] and sink.messages() == []
    line = next(line for line in g.log().splitlines() if "status=rejected" in line)
    assert re.search(r'checks="[^"]*\bav=', line), line
    # The session goes on: a clean message after it is taken.
    t = transact(g, SENDER, [RCPT], message())
    assert t.end[0] == 250, t


def test_clamd_infected_quarantined(gateway, sink, clamd):
    g = av_gateway(gateway, sink, clamd.tcp, "antivirus-action quarantine")
    t = transact(g, SENDER, [RCPT], infected_message())
    assert_quarantined(g, sink, t, "antivirus")


def test_clamd_unix_socket(gateway, sink, clamd):
    """clamd's UNIX socket (LocalSocketMode 666, its directory crossable)."""
    from checkers import reachable
    reachable(clamd.sock.parent)
    g = av_gateway(gateway, sink, clamd.unix)
    t = transact(g, SENDER, [RCPT], infected_message())
    assert t.end == (554, f"5.7.1 Message rejected: virus found: {VIRUS_NAME}"), t


def test_empty_and_maximum_size_messages_through_clamd_and_rspamd(gateway, sink, clamd, rspamd):
    g = start_checks_gateway(gateway, None, sink,
                             checks_block("inbound", f"antivirus clamd {clamd.tcp}",
                                          f"spam rspamd {rspamd.url}", *SPAM_SCORES,
                                          "timeout 2m"))
    t = transact(g, SENDER, [RCPT], b"")
    assert t.end[0] == 250, t
    # Both scanners took the 0-byte message; rspamd scores an empty one (no From, no
    # Subject) over spam-quarantine, so it is held there rather than delivered.
    checks = checks_field(g, t.queue_id)
    assert checks["av"] == "clean" and float(checks["spam"]) >= 0, checks
    n0 = len(sink.messages())
    line = b"a line of a big message, 10 MB of it, all text and nothing else\r\n"
    head = message(body=b"")
    big = head + line * ((MAX_SIZE - len(head)) // len(line))
    big += b"x" * (MAX_SIZE - len(big) - 2) + b"\r\n"
    assert len(big) == MAX_SIZE
    t = transact(g, SENDER, [RCPT], big, timeout=180)
    qid = t.queue_id
    data = wait_delivered(sink, n0 + 1, timeout=120)[n0].data
    assert data.split(b"\r\n\r\n", 1)[1] == big.split(b"\r\n\r\n", 1)[1]
    checks = status_line(g, qid, "queued")
    assert checks["av"] == "clean" and "spam" in checks, checks


@pytest.mark.parametrize("how", ["refused", "hang", "garbage"])
def test_clamd_unavailable_tempfails(gateway, sink, fake_server, how):
    if how == "refused":
        target = f"tcp:127.0.0.1:{free_port()}"
    elif how == "hang":
        target = fake_server("hang").tcp
    else:
        target = fake_server(b"PONG\0").tcp
    g = av_gateway(gateway, sink, target, "on-error tempfail", "timeout 2s")
    t = transact(g, SENDER, [RCPT], message())
    assert t.end == unavailable("antivirus"), t
    assert g.queue_files() == [] and sink.messages() == []


def test_clamd_down_with_on_error_accept(gateway, sink):
    g = av_gateway(gateway, sink, f"tcp:127.0.0.1:{free_port()}", "on-error accept")
    t = transact(g, SENDER, [RCPT], message())
    qid = t.queue_id
    wait_delivered(sink)
    checks = status_line(g, qid, "queued")
    # The contract writes the field av=... and, for a skipped check, antivirus=error.
    assert checks.get("av", checks.get("antivirus")) == "error", checks


# ---- rspamd ----

def spam_gateway(gateway, sink, url, *lines):
    return start_checks_gateway(gateway, None, sink,
                                checks_block("inbound", f"spam rspamd {url}", *SPAM_SCORES,
                                             *lines))


def spam_message(tag=None):
    return message(headers=f"X-Gate26-Test: {tag}\r\n".encode() if tag else b"")


def one(data, name):
    values = header_values(data, name)
    assert len(values) == 1, f"expected one {name}, got {values!r}"
    return values[0]


def score_of(value):
    assert re.fullmatch(r"-?\d+\.\d", value), value
    return float(value)


def test_rspamd_below_the_header_threshold(gateway, sink, rspamd):
    g = spam_gateway(gateway, sink, rspamd.url)
    t = transact(g, SENDER, [RCPT], spam_message())
    data = wait_delivered(sink)[0].data
    status = one(data, "X-Spam-Status")
    m = re.fullmatch(r"No, score=(-?\d+\.\d)", status)
    assert m, status
    s = float(m.group(1))
    assert s < 3
    # The contract names X-Spam-Score with the Yes headers; below the threshold it may
    # be there or not, but if it is, it says the same score.
    assert header_values(data, "X-Spam-Score") in ([], [f"{s:.1f}"])
    assert header_values(data, "X-Spam-Flag") == []
    assert float(status_line(g, t.queue_id, "queued")["spam"]) == s


def test_rspamd_header_threshold(gateway, sink, rspamd):
    g = spam_gateway(gateway, sink, rspamd.url)
    transact(g, SENDER, [RCPT], spam_message("four"))
    data = wait_delivered(sink)[0].data
    s = score_of(one(data, "X-Spam-Score"))
    assert 3 <= s < 6, s
    status = header_values(data, "X-Spam-Status")
    assert len(status) == 1 and status[0].startswith(f"Yes, score={s:.1f} tests="), status
    tests = status[0].split("tests=", 1)[1].split(",")
    assert "GATE26_TEST_FOUR" in tests, tests
    assert header_values(data, "X-Spam-Flag") == ["YES"]
    # At the top, above our Received, in the contract's order.
    names = [n for n, _ in header_fields(data)]
    assert names[:4] == ["X-Spam-Score", "X-Spam-Status", "X-Spam-Flag", "Received"], names


def test_rspamd_quarantine_threshold(gateway, sink, rspamd):
    g = spam_gateway(gateway, sink, rspamd.url)
    t = transact(g, SENDER, [RCPT], spam_message("seven"))
    qid = assert_quarantined(g, sink, t, "spam")
    assert 6 <= float(checks_field(g, qid, "quarantined")["spam"]) < 15


def test_rspamd_reject_threshold(gateway, sink, rspamd):
    g = spam_gateway(gateway, sink, rspamd.url)
    t = transact(g, SENDER, [RCPT], spam_message("sixteen"))
    assert t.end[0] == 554, t
    m = re.fullmatch(r"5\.7\.1 Message rejected as spam \(score (\d+\.\d)\)", t.end[1])
    assert m and float(m.group(1)) >= 15, t
    assert g.queue_files() == [] and sink.messages() == []


@pytest.mark.parametrize("how", ["refused", "hang", "garbage", "http-500"])
def test_rspamd_unavailable_tempfails(gateway, sink, http_fake, how):
    url = {"refused": lambda: f"http://127.0.0.1:{free_port()}",
           "hang": lambda: http_fake("hang").url,
           "garbage": lambda: http_fake((200, b"garbage")).url,
           "http-500": lambda: http_fake((500, b"oops")).url}[how]()
    g = spam_gateway(gateway, sink, url, "timeout 2s")
    t = transact(g, SENDER, [RCPT], spam_message())
    assert t.end == unavailable("spam"), t
    assert sink.messages() == []


def test_rspamd_down_with_on_error_accept(gateway, sink):
    g = spam_gateway(gateway, sink, f"http://127.0.0.1:{free_port()}", "on-error accept")
    t = transact(g, SENDER, [RCPT], spam_message())
    qid = t.queue_id
    data = wait_delivered(sink)[0].data
    assert header_values(data, "X-Spam-Flag") == []
    assert status_line(g, qid, "queued")["spam"] == "error"


# ---- milters ----

def milter_gateway(gateway, sink, *specs_and_lines):
    lines = [x if " " in x else f"milter {x}" for x in specs_and_lines]
    return start_checks_gateway(gateway, None, sink, checks_block("inbound", *lines))


def test_opendkim_milter_signs_and_dkimpy_verifies(gateway, sink, tmp_path):
    o = Opendkim(tmp_path / "opendkim")
    try:
        g = milter_gateway(gateway, sink, o.inet)
        t = transact(g, "alice@example.test", [RCPT], message("alice@example.test"))
        qid = t.queue_id
        data = wait_delivered(sink)[0].data
    finally:
        o.stop()
    sigs = header_values(data, "DKIM-Signature")
    assert len(sigs) == 1 and "d=example.test" in sigs[0] and "s=s1" in sigs[0], sigs
    assert dkimpy_verify_all(data, o.dnsfunc()) == [("example.test", "s1", "rsa-sha256", True)]
    assert status_line(g, qid, "queued")["milter"] == "accept"


@pytest.mark.parametrize("how", ["crash", "hang", "garbage", "refused"])
def test_milter_unavailable_tempfails(gateway, sink, fake_milter, how):
    if how == "refused":
        spec = f"inet:{free_port()}@127.0.0.1"
    else:
        replies = {"crash": {"B": "close"}, "hang": {"L": "hang"},
                   "garbage": {"C": [b"\x00\x00\x00\x05zzzzz"]}}[how]
        spec = fake_milter(replies=replies, inet=True).spec
    g = milter_gateway(gateway, sink, spec, "on-error tempfail", "timeout 2s")
    t = transact(g, SENDER, [RCPT], message())
    assert t.end == unavailable("milter"), t
    assert g.queue_files() == [] and sink.messages() == []


def test_milter_hang_with_on_error_accept(gateway, sink, fake_milter):
    m = fake_milter(replies={"L": "hang"}, inet=True)
    g = milter_gateway(gateway, sink, m.spec, "on-error accept", "timeout 2s")
    t = transact(g, SENDER, [RCPT], message())
    qid = t.queue_id
    wait_delivered(sink)
    assert status_line(g, qid, "queued")["milter"] == "error"


@pytest.mark.parametrize("reply,end", [
    (pkt(b"r"), (550, "5.7.1 Message rejected by content filter")),
    (pkt(b"y", b"554 5.7.1 Message looks like spam\x00"),
     (554, "5.7.1 Message looks like spam")),
    (pkt(b"t"), (451, "4.7.1 Message deferred by content filter, try again later")),
    (pkt(b"y", b"421 4.7.0 busy here\x00"),
     (451, "4.7.1 Message deferred by content filter, try again later")),
], ids=["reject", "replycode-5xx", "tempfail", "replycode-4xx"])
def test_milter_verdicts(gateway, sink, fake_milter, reply, end):
    m = fake_milter(replies={"E": [reply]}, inet=True)
    g = milter_gateway(gateway, sink, m.spec)
    t = transact(g, SENDER, [RCPT], message())
    assert t.end == end, t
    assert g.queue_files() == [] and sink.messages() == []


def test_milter_discard(gateway, sink, fake_milter):
    m = fake_milter(replies={"E": [pkt(b"d")]}, inet=True)
    g = milter_gateway(gateway, sink, m.spec)
    t = transact(g, SENDER, [RCPT], message())
    qid = t.queue_id
    status_line(g, qid, "discarded")
    assert qid not in g.queue_files() and sink.messages() == []


def test_milter_quarantine(gateway, sink, fake_milter):
    m = fake_milter(replies={"E": [pkt(b"q", b"held by the fake milter\x00"), pkt(b"a")]},
                    inet=True)
    g = milter_gateway(gateway, sink, m.spec)
    t = transact(g, SENDER, [RCPT], message())
    assert_quarantined(g, sink, t, "milter")


def test_milter_header_changes_applied(gateway, sink, fake_milter):
    import struct
    m = fake_milter(replies={"E": [pkt(b"h", b"X-Scanned\x00yes\x00"),
                                   pkt(b"m", struct.pack(">I", 1) + b"Subject\x00changed\x00"),
                                   pkt(b"a")]}, inet=True)
    g = milter_gateway(gateway, sink, m.spec)
    transact(g, SENDER, [RCPT], message(subject="original"))
    data = wait_delivered(sink)[0].data
    assert header_values(data, "X-Scanned") == ["yes"]
    assert header_values(data, "Subject") == ["changed"]
