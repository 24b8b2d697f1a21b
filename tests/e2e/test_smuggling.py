# SPDX-License-Identifier: MIT
"""SMTP smuggling (CVE-2023-51764 / 51765 / 51766 class), end to end.

Each test sends one message whose content hides a second transaction behind a
fake end of DATA that some server might accept (bare LF, bare CR, NUL). gate26
must end DATA only at the real CRLF.CRLF, answer that one message once with
550 5.6.0, queue nothing, and never run the hidden MAIL/RCPT/DATA. The same
contents through BDAT LAST are refused the same way. Legitimate dot-stuffing
and real pipelining after a real end are the contrast: those must work.
"""
import re
import socket
import time

import pytest

from conftest import assert_serving, queued_id

SENDER = "a@sender.test"
RCPT = "b@far.test"

TEXT = {
    "LF": "5.6.0 Message refused: bare LF in content (only CRLF ends a line)",
    "CR": "5.6.0 Message refused: bare CR in content (only CRLF ends a line)",
    "NUL": "5.6.0 Message refused: NUL octet in content",
}

HEAD = b"Subject: one\r\n\r\nfirst"
HIDDEN = (b"MAIL FROM:<evil@x.test>\r\nRCPT TO:<victim@y.test>\r\nDATA\r\n"
          b"Subject: smuggled\r\n\r\nsecond")
REAL_END = b"\r\n.\r\n"

# (id, fake end put between "first" and the hidden transaction, the flag that refuses it)
VARIANTS = [
    ("lf-dot-lf", b"\n.\n", "LF"),
    ("lf-dot-crlf", b"\n.\r\n", "LF"),
    ("cr-dot-cr", b"\r.\r", "CR"),
    ("crlf-dot-lf", b"\r\n.\n", "LF"),
    ("crlf-dot-cr", b"\r\n.\r", "CR"),
    ("cr-dot-crlf", b"\r.\r\n", "CR"),
    ("lf-dot-cr", b"\n.\r", "LF"),
    ("crlf-dot-cr-crlf", b"\r\n.\r\r\n", "CR"),
    ("cr-crlf-dot-cr-crlf", b"\r\r\n.\r\r\n", "CR"),
    ("lflf-dot-lflf", b"\n\n.\n\n", "LF"),
    ("crlf-nul-dot-crlf", b"\r\n\x00.\r\n", "NUL"),
    ("crlf-dot-nul-crlf", b"\r\n.\x00\r\n", "NUL"),
    ("nul-then-crlf", b"\x00\r\n", "NUL"),
]


def variant_content(fake):
    return HEAD + fake + HIDDEN + REAL_END


# ".\n" as the very first octets of the content, and a NUL in a header.
START_DOT_LF = b".\n" + HIDDEN + REAL_END
NUL_IN_HEADER = b"Subject: o\x00ne\r\n\r\nfirst\r\n" + HIDDEN + REAL_END
ALL_CONTENTS = [(name, variant_content(fake), flag) for name, fake, flag in VARIANTS] + [
    ("start-dot-lf", START_DOT_LF, "LF"),
    ("nul-in-header", NUL_IN_HEADER, "NUL"),
]
IDS = [c[0] for c in ALL_CONTENTS]


def expect_exact(r, code, text):
    """One reply, exactly `code text` (a single line)."""
    got, lines = r.reply()
    assert (got, lines) == (code, [text]), f"expected {code} {text!r}, got {got} {lines!r}"


def assert_no_more_replies(r, wait=0.3):
    """Nothing further arrives on r (a smuggled transaction would answer)."""
    assert r.buf == b"", f"unexpected extra reply bytes {r.buf!r}"
    r.sock.settimeout(wait)
    try:
        extra = r.sock.recv(65536)
    except socket.timeout:
        extra = b""
    finally:
        r.sock.settimeout(10.0)
    assert extra == b"", f"unexpected extra reply bytes {extra!r}"


def open_txn(g):
    r = g.raw("internal")
    r.cmd("EHLO client.test", 250)
    r.cmd(f"MAIL FROM:<{SENDER}>", 250, "2.1.0")
    r.cmd(f"RCPT TO:<{RCPT}>", 250, "2.1.5")
    return r


def assert_nothing_stored(g):
    assert g.queue_files() == [], f"queued: {g.queue_files()}"
    assert g.tmp_files() == [], f"left in tmp/: {g.tmp_files()}"


def assert_session_clean_after_refusal(g, r):
    """The refused session is usable, the hidden MAIL was never run, and a
    clean message then queues exactly once."""
    assert_no_more_replies(r)
    # The hidden "MAIL FROM:<evil>" must not have opened a transaction.
    r.cmd("RCPT TO:<victim@y.test>", 503, "5.5.1 Send MAIL first")
    r.cmd("RSET", 250, "2.0.0 Ok")
    r.cmd("NOOP", 250, "2.0.0 Ok")
    r.cmd(f"MAIL FROM:<{SENDER}>", 250, "2.1.0")
    r.cmd(f"RCPT TO:<{RCPT}>", 250, "2.1.5")
    r.cmd("DATA", 354)
    r.send(b"Subject: clean\r\n\r\nclean body\r\n.\r\n")
    qid = queued_id(r)
    r.cmd("QUIT", 221, "2.0.0 Bye")
    r.close()
    assert g.queue_files() == [qid]
    assert g.tmp_files() == []
    head, body = g.message(qid)
    assert body.endswith(b"Subject: clean\r\n\r\nclean body\r\n")
    assert b"smuggled" not in body and b"evil" not in body
    assert "evil@x.test" not in head and "victim@y.test" not in head
    log = g.log()
    assert "from=<evil@x.test>" not in log
    assert len(re.findall(r"status=queued", log)) == 1
    assert_serving(g)


@pytest.mark.parametrize("name,content,flag", ALL_CONTENTS, ids=IDS)
def test_data_fake_end_is_refused_once(gateway, name, content, flag):
    g = gateway()
    r = open_txn(g)
    r.cmd("DATA", 354)
    r.send(content)
    expect_exact(r, 550, TEXT[flag])
    assert_nothing_stored(g)
    assert_session_clean_after_refusal(g, r)


@pytest.mark.parametrize("name,content,flag", ALL_CONTENTS[:6] + ALL_CONTENTS[-3:],
                         ids=IDS[:6] + IDS[-3:])
def test_data_fake_end_split_into_single_octets(gateway, name, content, flag):
    """The same contents sent one octet per write: where the reads split must
    not change where DATA ends."""
    g = gateway()
    r = open_txn(g)
    r.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    r.cmd("DATA", 354)
    for i in range(len(content)):
        r.send(content[i:i + 1])
    expect_exact(r, 550, TEXT[flag])
    assert_nothing_stored(g)
    assert_session_clean_after_refusal(g, r)


@pytest.mark.parametrize("name,content,flag", ALL_CONTENTS, ids=IDS)
def test_bdat_last_with_fake_end_is_refused(gateway, name, content, flag):
    g = gateway()
    r = open_txn(g)
    r.send(b"BDAT %d LAST\r\n" % len(content) + content)
    expect_exact(r, 550, TEXT[flag])
    assert_nothing_stored(g)
    assert_session_clean_after_refusal(g, r)


@pytest.mark.parametrize("name,content,flag", ALL_CONTENTS[:4], ids=IDS[:4])
def test_bdat_fake_end_in_first_chunk_refused_at_last(gateway, name, content, flag):
    """The flag is found in a chunk that is not the last: that chunk is
    acknowledged, and the message is refused at BDAT LAST."""
    g = gateway()
    r = open_txn(g)
    cut = len(HEAD) + 8
    first, rest = content[:cut], content[cut:]
    r.send(b"BDAT %d\r\n" % len(first) + first)
    expect_exact(r, 250, f"2.0.0 Ok: {len(first)} octets received")
    assert g.queue_files() == []
    r.send(b"BDAT %d LAST\r\n" % len(rest) + rest)
    expect_exact(r, 550, TEXT[flag])
    assert_nothing_stored(g)
    assert_session_clean_after_refusal(g, r)


def test_bdat_cr_at_end_of_last_chunk_is_bare(gateway):
    g = gateway()
    r = open_txn(g)
    content = b"Subject: one\r\n\r\nfirst\r"
    r.send(b"BDAT %d LAST\r\n" % len(content) + content)
    expect_exact(r, 550, TEXT["CR"])
    assert_nothing_stored(g)
    assert_session_clean_after_refusal(g, r)


def test_bdat_crlf_split_across_chunks_is_a_line_end(gateway):
    """Contrast: CR at the end of one chunk and LF at the start of the next is
    an ordinary line end, and ".\r\n" in BDAT content is just content."""
    g = gateway()
    r = open_txn(g)
    a = b"Subject: chunks\r\n\r\nline one\r"
    b = b"\n.\r\nline three\r\n"
    r.send(b"BDAT %d\r\n" % len(a) + a)
    expect_exact(r, 250, f"2.0.0 Ok: {len(a)} octets received")
    r.send(b"BDAT %d LAST\r\n" % len(b) + b)
    qid = queued_id(r)
    r.cmd("QUIT", 221, "2.0.0 Bye")
    r.close()
    assert g.queue_files() == [qid]
    assert g.tmp_files() == []
    _, body = g.message(qid)
    assert body.endswith(b"Subject: chunks\r\n\r\nline one\r\n.\r\nline three\r\n")
    assert_serving(g)


def test_dot_stuffing_is_removed(gateway):
    """A legitimate message with stuffed lines ("..", "...x", "..x") queues
    once, each first dot removed."""
    g = gateway()
    r = open_txn(g)
    r.cmd("DATA", 354)
    wire = (b"Subject: dots\r\n\r\n"
            b"..\r\n"
            b"...\r\n"
            b"..leading dot\r\n"
            b"...two dots\r\n"
            b"middle . dot\r\n"
            b"..\r\n"
            b"last\r\n"
            b".\r\n")
    r.send(wire)
    qid = queued_id(r)
    assert_no_more_replies(r)
    r.cmd("QUIT", 221, "2.0.0 Bye")
    r.close()
    assert g.queue_files() == [qid]
    assert g.tmp_files() == []
    _, body = g.message(qid)
    assert body.endswith(b"Subject: dots\r\n\r\n"
                         b".\r\n"
                         b"..\r\n"
                         b".leading dot\r\n"
                         b"..two dots\r\n"
                         b"middle . dot\r\n"
                         b".\r\n"
                         b"last\r\n")
    assert_serving(g)


def test_dot_lines_through_smtplib(gateway):
    """smtplib stuffs lines that start with "." itself; they come back intact."""
    import smtplib
    g = gateway()
    text = b"Subject: dots\r\n\r\n.\r\n..\r\n.hidden\r\nend\r\n"
    with smtplib.SMTP("127.0.0.1", g.port("internal"), local_hostname="client.test") as c:
        c.ehlo()
        assert c.sendmail(SENDER, [RCPT], text) == {}
    q = g.queue_files()
    assert len(q) == 1
    _, body = g.message(q[0])
    assert body.endswith(text)
    assert g.tmp_files() == []
    assert_serving(g)


def test_only_the_real_end_ends_data(gateway):
    """Near-misses of CRLF.CRLF (and the end written out as text) inside the
    content do not end it; the message queues once, at its real end."""
    g = gateway()
    r = open_txn(g)
    r.cmd("DATA", 354)
    wire = (b"Subject: near misses\r\n\r\n"
            b"the end is <CR><LF>.<CR><LF> and \\r\\n.\\r\\n as text\r\n"
            b". \r\n"
            b"..\r\n"
            b".x\r\n"
            b" .\r\n"
            b"MAIL FROM:<evil@x.test>\r\n"
            b"last\r\n"
            b".\r\n")
    r.send(wire)
    qid = queued_id(r)
    assert_no_more_replies(r)
    r.cmd("NOOP", 250, "2.0.0 Ok")
    r.cmd("QUIT", 221, "2.0.0 Bye")
    r.close()
    assert g.queue_files() == [qid]
    assert g.tmp_files() == []
    _, body = g.message(qid)
    assert body.endswith(b"Subject: near misses\r\n\r\n"
                         b"the end is <CR><LF>.<CR><LF> and \\r\\n.\\r\\n as text\r\n"
                         b" \r\n"
                         b".\r\n"
                         b"x\r\n"
                         b" .\r\n"
                         b"MAIL FROM:<evil@x.test>\r\n"
                         b"last\r\n")
    assert len(re.findall(r"status=queued", g.log())) == 1
    assert_serving(g)


def test_pipelined_commands_after_real_end_are_run(gateway):
    """Contrast: after a real CRLF.CRLF the following octets ARE commands
    (RFC 2920), so a second transaction in the same write is run."""
    g = gateway()
    r = open_txn(g)
    r.cmd("DATA", 354)
    r.send(b"Subject: one\r\n\r\nfirst\r\n.\r\n"
           b"MAIL FROM:<c@sender.test>\r\nRCPT TO:<d@far.test>\r\nDATA\r\n")
    first = queued_id(r)
    expect_exact(r, 250, "2.1.0 Sender ok")
    expect_exact(r, 250, "2.1.5 Recipient ok")
    r.expect(354)
    r.send(b"Subject: two\r\n\r\nsecond\r\n.\r\nNOOP\r\nQUIT\r\n")
    second = queued_id(r)
    expect_exact(r, 250, "2.0.0 Ok")
    expect_exact(r, 221, "2.0.0 Bye")
    assert r.is_closed()
    r.close()
    assert first != second
    assert g.queue_files() == sorted([first, second])
    assert g.tmp_files() == []
    h1, b1 = g.message(first)
    h2, b2 = g.message(second)
    assert b1.endswith(b"Subject: one\r\n\r\nfirst\r\n")
    assert b2.endswith(b"Subject: two\r\n\r\nsecond\r\n")
    assert "sender <a@sender.test>" in h1 and "sender <c@sender.test>" in h2
    assert_serving(g)


def test_refused_message_then_pipelined_commands_are_run(gateway):
    """A refused message ends at its real end too, and what follows that end
    in the same write is run as commands; the hidden part never is."""
    g = gateway()
    r = open_txn(g)
    r.cmd("DATA", 354)
    r.send(variant_content(b"\n.\n") + b"NOOP\r\nRCPT TO:<x@far.test>\r\n")
    expect_exact(r, 550, TEXT["LF"])
    expect_exact(r, 250, "2.0.0 Ok")
    expect_exact(r, 503, "5.5.1 Send MAIL first")
    assert_nothing_stored(g)
    r.cmd("RSET", 250, "2.0.0 Ok")
    r.cmd("QUIT", 221, "2.0.0 Bye")
    r.close()
    assert_serving(g)


def test_smuggling_attempts_in_one_session(gateway):
    """Every variant, one after another in the same sessions (five per session,
    under the error budget of 10: each refusal counts one error), then a clean
    message."""
    g = gateway()
    deadline = time.monotonic() + 30
    for start in range(0, len(ALL_CONTENTS), 5):
        assert time.monotonic() < deadline
        r = g.raw("internal")
        r.cmd("EHLO client.test", 250)
        for name, content, flag in ALL_CONTENTS[start:start + 5]:
            r.cmd(f"MAIL FROM:<{SENDER}>", 250, "2.1.0")
            r.cmd(f"RCPT TO:<{RCPT}>", 250, "2.1.5")
            r.cmd("DATA", 354)
            r.send(content)
            expect_exact(r, 550, TEXT[flag])
            assert_nothing_stored(g)
        r.cmd("QUIT", 221, "2.0.0 Bye")
        r.close()
    r = g.raw("internal")
    r.cmd("EHLO client.test", 250)
    assert_session_clean_after_refusal(g, r)


@pytest.mark.parametrize("name,content,flag", [ALL_CONTENTS[0], ALL_CONTENTS[2],
                                               ALL_CONTENTS[10]], ids=[IDS[0], IDS[2], IDS[10]])
def test_inbound_door_refuses_the_same(gateway, name, content, flag):
    """The Internet's door (port 25) ends DATA and refuses the same way."""
    g = gateway()
    r = g.raw("inbound")
    r.cmd("EHLO mx.other.test", 250)
    r.cmd("MAIL FROM:<someone@other.test>", 250, "2.1.0")
    r.cmd("RCPT TO:<user@ours.test>", 250, "2.1.5")
    r.cmd("DATA", 354)
    r.send(content)
    expect_exact(r, 550, TEXT[flag])
    assert_no_more_replies(r)
    r.cmd("RCPT TO:<user@ours.test>", 503, "5.5.1 Send MAIL first")
    r.cmd("NOOP", 250, "2.0.0 Ok")
    r.cmd("QUIT", 221, "2.0.0 Bye")
    r.close()
    assert_nothing_stored(g)
    assert_serving(g)
