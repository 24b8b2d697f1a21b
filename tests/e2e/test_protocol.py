# SPDX-License-Identifier: MIT
"""The RFC 5321 conversation on the internal door, command by command: the
greeting and EHLO/HELO replies, every verb, the order of commands, the
MAIL/RCPT grammar (with hostile addresses), SMTPUTF8, SIZE, the ESMTP
parameters and what of them reaches the queue file, and the content as it
lands in the spool. Each refusal is checked to its exact code, enhanced code
and text, and then the daemon is shown to still serve."""
import re
import smtplib
import socket
import subprocess
import time

import pytest

from conftest import Raw, assert_serving, cmd, envelope, want

HOST = "gate26.test"
ALLOW = "127.0.0.0/8 ::1"


# ---- helpers (local to this file) -------------------------------------------------------------


def internal_door(**keys):
    """doors= for a gateway with only the internal door (plain text), plus keys."""
    door = {"allow": ALLOW, "tls": "none"}
    door.update({k.replace("_", "-"): v for k, v in keys.items()})
    return {"internal": door}


def start(gateway, **keys):
    """A gateway with the internal door only; a generous error budget so that a
    table of refusals fits in one session (test_limits checks the budget)."""
    keys.setdefault("max_errors", "1000")
    keys.setdefault("timeout_command", "10s")
    keys.setdefault("timeout_data", "10s")
    return gateway(doors=internal_door(**keys), domains={})






def session(g, helo="client.test", ehlo=True):
    r = g.raw("internal")
    if helo is not None:
        r.send(f"{'EHLO' if ehlo else 'HELO'} {helo}\r\n")
        r.reply()
    return r


def send_data(r, content):
    """DATA with content that already ends in CRLF (and is already dot-stuffed);
    returns the queue id from the 250."""
    if isinstance(content, str):
        content = content.encode()
    cmd(r, "DATA", 354, None, "End data with <CR><LF>.<CR><LF>")
    r.send(content + b".\r\n")
    text = want(r, 250, "2.0.0", "Ok: queued as ")[0]
    m = re.fullmatch(r"2\.0\.0 Ok: queued as ([0-9A-F]{16})", text)
    assert m, text
    return m.group(1)




def xtext(s):
    """RFC 3461 xtext, as docs/spool.md writes peer strings."""
    if isinstance(s, str):
        s = s.encode()
    return "".join(chr(b) if 33 <= b <= 126 and b not in (0x2B, 0x3D) else "+%02X" % b for b in s)


RECEIVED_DATE = (rb"\t(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
                 rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                 rb"\d{4} \d\d:\d\d:\d\d \+0000\r\n")


def split_received(body):
    """(Received header bytes, the rest) of a queued message's content."""
    assert body.startswith(b"Received: "), body[:200]
    m = re.match(rb"Received: [^\r\n]*\r\n(\t[^\r\n]*\r\n)*", body)
    return body[:m.end()], body[m.end():]


def only_queued(g):
    q = g.queue_files()
    assert len(q) == 1, q
    return q[0]


# ---- greeting, EHLO, HELO ----------------------------------------------------------------------


def test_greeting_and_ehlo_list_exactly_the_extensions(gateway):
    g = start(gateway)
    r = g.raw("internal", greet=False)
    assert want(r, 220, None) == [f"{HOST} ESMTP gate26"]
    lines = cmd(r, "EHLO client.test", 250, None)
    assert lines == [HOST, "PIPELINING", "SIZE 10485760", "8BITMIME", "SMTPUTF8",
                     "ENHANCEDSTATUSCODES", "CHUNKING", "DSN"]
    assert not any(x.startswith(("STARTTLS", "AUTH")) for x in lines)
    # A second EHLO gets the same list; the SIZE follows the door's setting.
    assert cmd(r, "ehlo [127.0.0.1]", 250, None) == lines
    cmd(r, "QUIT", 221, "2.0.0", "Bye")
    assert r.is_closed()
    g2 = start(gateway, max_message_size="2K")
    r = g2.raw("internal")
    assert "SIZE 2048" in cmd(r, "EHLO client.test", 250, None)
    r.close()
    assert_serving(g)
    assert_serving(g2)


def test_helo_reply_and_no_esmtp_parameters_after_helo(gateway):
    g = start(gateway)
    r = g.raw("internal")
    assert cmd(r, "HELO client.test", 250, None) == [HOST]
    # RFC 5321 4.1.1.2: parameters are extensions, not for a HELO session.
    for params in ("SIZE=100", "BODY=8BITMIME", "SMTPUTF8", "RET=HDRS", "ENVID=x", "FOO=bar"):
        cmd(r, f"MAIL FROM:<a@sender.test> {params}", 555, "5.5.4",
            "Unsupported command parameter")
    cmd(r, "MAIL FROM:<a@sender.test>", 250, "2.1.0", "Sender ok")
    for params in ("NOTIFY=SUCCESS", "ORCPT=rfc822;b@far.test"):
        cmd(r, f"RCPT TO:<b@far.test> {params}", 555, "5.5.4", "Unsupported command parameter")
    cmd(r, "RCPT TO:<b@far.test>", 250, "2.1.5", "Recipient ok")
    qid = send_data(r, "Subject: helo\r\n\r\nbody\r\n")
    # BDAT is an extension too: not after HELO. Its chunk is read and dropped.
    # (the QUIT inside the chunk is data, not a command).
    r.send("BDAT 6 LAST\r\nQUIT\r\n")
    want(r, 502, "5.5.1", "Command not implemented")
    cmd(r, "NOOP", 250, "2.0.0")
    cmd(r, "QUIT", 221, "2.0.0")
    head, body = g.message(qid)
    env = envelope(head)
    assert env["protocol"] == "SMTP" and env["helo"] == "client.test"
    assert b") with SMTP id " + qid.encode() in body
    assert_serving(g)


def test_helo_ehlo_argument_syntax(gateway):
    g = start(gateway)
    r = g.raw("internal")
    cmd(r, "HELO", 501, "5.5.4", "Syntax: HELO domain or address literal")
    cmd(r, "EHLO", 501, "5.5.4", "Syntax: EHLO domain or address literal")
    for bad in ("bad_name", "-x.test", "x..test", "[300.0.0.1]", "a b", "x.test.."):
        cmd(r, f"EHLO {bad}", 501, "5.5.4", "Syntax: EHLO domain or address literal")
    # A refused EHLO leaves the session without a name.
    cmd(r, "MAIL FROM:<a@b.test>", 503, "5.5.1", "Send EHLO or HELO first")
    cmd(r, "EHLO [IPv6:::1]", 250, None)
    cmd(r, "HELO [127.0.0.1]", 250, None)
    cmd(r, "EHLO Client-1.Example.TEST", 250, None)
    r.close()
    assert_serving(g)


# ---- every command -----------------------------------------------------------------------------


COMMANDS = [
    # (line, code, enhanced, text)
    ("NOOP", 250, "2.0.0", "Ok"),
    ("NOOP anything at all", 250, "2.0.0", "Ok"),
    ("noop", 250, "2.0.0", "Ok"),
    ("RSET", 250, "2.0.0", "Ok"),
    ("rset", 250, "2.0.0", "Ok"),
    ("RSET now", 501, "5.5.4", "Syntax: RSET takes no arguments"),
    ("QUIT now", 501, "5.5.4", "Syntax: QUIT takes no arguments"),
    ("VRFY postmaster", 252, "2.0.0", "Cannot VRFY user"),
    ("vrfy x", 252, "2.0.0", "Cannot VRFY user"),
    ("VRFY", 501, "5.5.4", "Syntax: VRFY needs an argument"),
    ("EXPN staff", 502, "5.5.1", "Command not implemented"),
    ("EXPN", 502, "5.5.1", "Command not implemented"),
    ("HELP", 214, "2.0.0", "Commands:"),
    ("HELP MAIL", 214, "2.0.0", "Commands:"),
    ("ETRN example.test", 502, "5.5.1", "Command not implemented"),
    ("STARTTLS", 502, "5.5.1", "STARTTLS is not offered on this door"),
    ("starttls", 502, "5.5.1", "STARTTLS is not offered on this door"),
    ("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 503, "5.5.1", "AUTH is not offered on this door"),
    ("AUTH LOGIN", 503, "5.5.1", "AUTH is not offered on this door"),
    ("DATA now", 501, "5.5.4", "Syntax: DATA takes no arguments"),
    ("FOO", 500, "5.5.2", "Command not recognized"),
    ("FOO bar", 500, "5.5.2", "Command not recognized"),
    ("NOOPX", 500, "5.5.2", "Command not recognized"),
    ("TURN", 500, "5.5.2", "Command not recognized"),
    ("SEND FROM:<a@b.test>", 500, "5.5.2", "Command not recognized"),
    # Not a verb at all: no letters, a NUL, a bare CR or LF inside, 8-bit
    # octets, a leading space, a tab for a space, an over-long verb.
    (b"", 500, "5.5.2", "Syntax error in command line"),
    (b"12345", 500, "5.5.2", "Syntax error in command line"),
    (b"NO\x00OP", 500, "5.5.2", "Syntax error in command line"),
    (b"\x00", 500, "5.5.2", "Syntax error in command line"),
    (b"NOOP\x00", 500, "5.5.2", "Syntax error in command line"),
    (b"NOOP\nNOOP", 500, "5.5.2", "Syntax error in command line"),
    (b"NOOP\rNOOP", 500, "5.5.2", "Syntax error in command line"),
    (b"\xff\xfe\xfd", 500, "5.5.2", "Syntax error in command line"),
    (b"N\xc3\xb6OP", 500, "5.5.2", "Syntax error in command line"),
    (b" NOOP", 500, "5.5.2", "Syntax error in command line"),
    (b"NOOP\tx", 500, "5.5.2", "Syntax error in command line"),
    (b"MAILFROM:<a@b.test>", 500, "5.5.2", "Syntax error in command line"),
    (b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 500, "5.5.2", "Syntax error in command line"),
    (b"\x1b[31mNOOP", 500, "5.5.2", "Syntax error in command line"),
]


@pytest.mark.parametrize("line,code,enhanced,text", COMMANDS,
                         ids=[repr(c[0])[:40] for c in COMMANDS])
def test_every_command_reply(gateway, line, code, enhanced, text):
    g = start(gateway)
    r = session(g)
    cmd(r, line, code, enhanced, text)
    # The session goes on: the next command is answered on its own.
    cmd(r, "NOOP", 250, "2.0.0")
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    r.close()
    if code >= 400:
        assert re.search(rf'event=reject, cmd=\S+, helo=client\.test(, .*)?, '
                         rf'reply="{code} {re.escape(enhanced)} ', g.log())
    assert_serving(g)


def test_quit_replies_and_closes_and_ignores_what_follows(gateway):
    g = start(gateway)
    r = g.raw("internal")
    # QUIT before EHLO is fine; what was pipelined after it is never answered.
    r.send("NOOP\r\nQUIT\r\nNOOP\r\nMAIL FROM:<a@b.test>\r\n")
    want(r, 250, "2.0.0")
    want(r, 221, "2.0.0", "Bye")
    assert r.is_closed()
    assert r.buf == b""
    r.close()
    r = session(g)
    cmd(r, "quit", 221, "2.0.0", "Bye")
    assert r.is_closed()
    assert_serving(g)


def test_commands_before_ehlo(gateway):
    g = start(gateway)
    r = g.raw("internal")
    for line, text in (("NOOP", "Ok"), ("RSET", "Ok"), ("VRFY x", "Cannot VRFY")):
        cmd(r, line, 250 if line != "VRFY x" else 252, "2.0.0", text)
    cmd(r, "HELP", 214, "2.0.0")
    cmd(r, "MAIL FROM:<a@b.test>", 503, "5.5.1", "Send EHLO or HELO first")
    cmd(r, "RCPT TO:<a@b.test>", 503, "5.5.1", "Send EHLO or HELO first")
    cmd(r, "DATA", 503, "5.5.1", "Send EHLO or HELO first")
    # RSET before EHLO does not make the session "ready".
    cmd(r, "RSET", 250, "2.0.0")
    cmd(r, "MAIL FROM:<a@b.test>", 503, "5.5.1", "Send EHLO or HELO first")
    r.close()
    # Before EHLO: no helo=; the sender tried is named all the same.
    assert re.search(r'event=reject, cmd=MAIL, from=<a@b\.test>, '
                     r'reply="503 5.5.1 Send EHLO or HELO first"', g.log())
    assert g.queue_files() == []
    assert_serving(g)


# ---- order of commands -------------------------------------------------------------------------


def test_sequence_errors(gateway):
    g = start(gateway)
    r = session(g)
    cmd(r, "RCPT TO:<b@far.test>", 503, "5.5.1", "Send MAIL first")
    cmd(r, "DATA", 503, "5.5.1", "Send MAIL first")
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0", "Sender ok")
    cmd(r, "DATA", 503, "5.5.1", "Send RCPT first")
    cmd(r, "MAIL FROM:<c@d.test>", 503, "5.5.1", "Sender already given")
    cmd(r, "RCPT TO:<b@far.test>", 250, "2.1.5", "Recipient ok")
    cmd(r, "MAIL FROM:<c@d.test>", 503, "5.5.1", "Sender already given")
    # The nested MAIL changed nothing: the transaction goes through with its sender.
    qid = send_data(r, "Subject: seq\r\n\r\nx\r\n")
    # After the message, the transaction is over.
    cmd(r, "RCPT TO:<b@far.test>", 503, "5.5.1", "Send MAIL first")
    cmd(r, "DATA", 503, "5.5.1", "Send MAIL first")
    r.close()
    head, _ = g.message(qid)
    env = envelope(head)
    assert env["sender"] == "<a@b.test>"
    assert [x[2] for x in env["rcpt"]] == ["b@far.test"]
    assert_serving(g)


def test_data_after_every_rcpt_was_refused(gateway):
    g = start(gateway)
    r = session(g)
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<bad>", 501, "5.1.3", "Bad recipient address syntax")
    cmd(r, "RCPT TO:b@far.test", 501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]")
    cmd(r, "DATA", 554, "5.5.1", "No valid recipients")
    # A valid recipient after that makes DATA possible again.
    cmd(r, "RCPT TO:<b@far.test>", 250, "2.1.5")
    qid = send_data(r, "Subject: x\r\n\r\nx\r\n")
    r.close()
    assert [x[2] for x in envelope(g.message(qid)[0])["rcpt"]] == ["b@far.test"]
    assert_serving(g)


def test_data_after_relay_refusal_on_inbound(gateway):
    """The same rule where a refusal is a policy one: 550 5.7.1, then 554 5.5.1."""
    g = gateway(doors={"inbound": {"tls": "none", "max-errors": "100"}},
                domains={"ours.test": None})
    r = g.raw("inbound")
    cmd(r, "EHLO client.test", 250, None)
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<b@far.test>", 550, "5.7.1", "Relay access denied")
    cmd(r, "DATA", 554, "5.5.1", "No valid recipients")
    cmd(r, "RSET", 250, "2.0.0")
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    cmd(r, "DATA", 503, "5.5.1", "Send RCPT first")
    r.close()
    assert g.queue_files() == []
    assert_serving(g, "inbound")


@pytest.mark.parametrize("reset", ["RSET", "EHLO other.test", "HELO other.test"])
def test_rset_and_ehlo_end_a_transaction(gateway, reset):
    g = start(gateway)
    r = session(g)
    cmd(r, "MAIL FROM:<first@b.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<one@far.test>", 250, "2.1.5")
    r.send(reset + "\r\n")
    want(r, 250, "2.0.0" if reset == "RSET" else None)
    cmd(r, "DATA", 503, "5.5.1", "Send MAIL first")
    cmd(r, "RCPT TO:<two@far.test>", 503, "5.5.1", "Send MAIL first")
    cmd(r, "MAIL FROM:<second@b.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<two@far.test>", 250, "2.1.5")
    qid = send_data(r, "Subject: x\r\n\r\nx\r\n")
    r.close()
    env = envelope(g.message(qid)[0])
    assert env["sender"] == "<second@b.test>"
    assert [x[2] for x in env["rcpt"]] == ["two@far.test"]
    assert only_queued(g) == qid
    assert_serving(g)


def test_pipelined_transaction(gateway):
    """RFC 2920: a whole transaction in one write gets every reply, in order."""
    g = start(gateway)
    r = g.raw("internal")
    r.send("EHLO client.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<one@far.test>\r\n"
           "RCPT TO:<bad address>\r\nRCPT TO:<two@far.test>\r\nDATA\r\n")
    want(r, 250, None)
    want(r, 250, "2.1.0")
    want(r, 250, "2.1.5")
    want(r, 501, "5.1.3")
    want(r, 250, "2.1.5")
    want(r, 354, None)
    r.send("Subject: piped\r\n\r\nbody\r\n.\r\nMAIL FROM:<c@d.test>\r\nRCPT TO:<three@far.test>\r\n"
           "DATA\r\n")
    qid1 = re.fullmatch(r"2\.0\.0 Ok: queued as ([0-9A-F]{16})", want(r, 250, "2.0.0")[0]).group(1)
    want(r, 250, "2.1.0")
    want(r, 250, "2.1.5")
    want(r, 354, None)
    r.send("Subject: piped 2\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    qid2 = re.fullmatch(r"2\.0\.0 Ok: queued as ([0-9A-F]{16})", want(r, 250, "2.0.0")[0]).group(1)
    want(r, 221, "2.0.0")
    assert r.is_closed()
    assert g.queue_files() == sorted([qid1, qid2])
    assert [x[2] for x in envelope(g.message(qid1)[0])["rcpt"]] == ["one@far.test", "two@far.test"]
    assert [x[2] for x in envelope(g.message(qid2)[0])["rcpt"]] == ["three@far.test"]
    assert_serving(g)


# ---- MAIL and RCPT grammar ---------------------------------------------------------------------


L64 = "l" * 64
D255 = ".".join(["a" * 63] * 3 + ["b" * 63])          # 4 * 63 + 3 = 255
D256 = ".".join(["a" * 63] * 3 + ["b" * 61, "cc"])    # 252 + 4 = 256
assert len(D255) == 255 and len(D256) == 256

# Addresses whose path is closed but whose grammar is wrong: 501 5.1.7 / 5.1.3.
BAD_ADDRESSES = [
    b"<a b@c.test>",                      # space in a dot-string
    b"<user@ours.test@other.test>",       # two @ unquoted
    b"<user%ours.test@other.test@x.test>",
    b"<a@b.test.>",                       # trailing dot
    b"<a@.b.test>",                       # empty first label
    b"<a@b..test>",                       # empty label
    b"<a.@b.test>",                       # dot at the end of the local part
    b"<.a@b.test>",                       # dot at its start
    b"<a..b@c.test>",                     # two dots
    b"<@b.test>",                         # no local part (a route without a mailbox)
    b"<a@>",                              # no domain
    b"<a>",                               # no @ at all
    b"<a@b_c.test>",                      # underscore in a domain
    b"<a@-b.test>",                       # label starts with a hyphen
    b"<a@b-.test>",                       # ends with one
    b"<a@" + b"x" * 64 + b".test>",       # a 64-octet label
    b"<a\x01b@c.test>",                   # control characters
    b"<a@b\x7f.test>",
    b"<a\tb@c.test>",
    b"<\"a\x01\"@c.test>",                # a control character inside quotes
    b"<\"a\"b\"\"@c.test>",               # balanced quotes, broken grammar
    b"<a\"b\"c@d.test>",                  # quotes in the middle of a dot-string
    b"<(comment)a@b.test>",               # RFC 5322 comments are not SMTP
    b"<a@b.test (comment)>",
    b"<\"a@b.test\">",                    # a quoted string alone is no mailbox
    b"<a@[127.0.0.256]>",                 # bad address literals
    b"<a@[127.0.0]>",
    b"<a@[IPv6:1::2::3]>",
    b"<a@[IPv6:12345::1]>",
    b"<a@[tag:foo]>",                     # a general literal with an unknown tag
    b"<a@[127.0.0.1>",
    b"<@a.test:>",                        # route with no mailbox
    b"<@a.test,b@c.test>",                # route without ':'
    b"<a@b.test,c@d.test>",               # a list
    b"<a\xff@b.test>",                    # not UTF-8 at all
    b"<a\xc3@b.test>",                    # cut UTF-8
    b"<a\xc0\xaf@b.test>",                # overlong UTF-8
    b"<a\xed\xa0\x80@b.test>",            # a UTF-8 surrogate
]

# Addresses that are too long: their own replies.
LONG_ADDRESSES = [
    ("<%s5@b.test>" % L64, "local part longer than 64 octets"),
    ("<a@%s>" % D256, "domain longer than 255 octets"),
]

# Arguments that are not a closed path (no brackets, unbalanced quotes): the
# argument cannot be delimited, so it is a syntax error of the command
# (501 5.5.4) rather than of an address.
GARBLED = [
    b"a@b.test",
    b"<a@b.test",
    b"a@b.test>",
    b"<\"a@b.test>",
    b"<a\"b@c.test>",
    b"<a@b.test\">",
    b"<\"a\\\"@b.test>",
    b"<<a@b.test>>",
    b"",
]


@pytest.mark.parametrize("addr", BAD_ADDRESSES, ids=[repr(a)[2:40] for a in BAD_ADDRESSES])
def test_bad_address_grammar(gateway, addr):
    g = start(gateway)
    r = session(g)
    cmd(r, b"MAIL FROM:" + addr, 501, "5.1.7", "Bad sender address syntax")
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    cmd(r, b"RCPT TO:" + addr, 501, "5.1.3", "Bad recipient address syntax")
    cmd(r, "RSET", 250, "2.0.0")
    r.close()
    # An argument that does not parse is logged as it came, quoted (README "Logs").
    assert re.search(r'cmd=MAIL, helo=client\.test, arg="FROM:.*", '
                     r'reply="501 5.1.7 Bad sender address syntax"', g.log())
    assert re.search(r'cmd=RCPT, helo=client\.test, from=<a@b\.test>, arg="TO:.*", '
                     r'reply="501 5.1.3 Bad recipient address syntax"', g.log())
    assert "\x01" not in g.log() and "\x7f" not in g.log()
    assert g.queue_files() == []
    assert_serving(g)


@pytest.mark.parametrize("addr,text", LONG_ADDRESSES, ids=["local65", "domain256"])
def test_address_too_long(gateway, addr, text):
    g = start(gateway)
    r = session(g)
    cmd(r, "MAIL FROM:" + addr, 501, "5.1.7", "Sender " + text)
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:" + addr, 501, "5.1.3", "Recipient " + text)
    # The longest legal ones pass.
    cmd(r, f"RCPT TO:<{L64}@{D255}>", 250, "2.1.5")
    cmd(r, "RSET", 250, "2.0.0")
    cmd(r, f"MAIL FROM:<{L64}@{D255}>", 250, "2.1.0")
    r.close()
    assert_serving(g)


@pytest.mark.parametrize("arg", GARBLED, ids=[repr(a)[2:30] for a in GARBLED])
def test_mail_rcpt_argument_garbled(gateway, arg):
    g = start(gateway)
    r = session(g)
    cmd(r, b"MAIL FROM:" + arg, 501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]")
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    cmd(r, b"RCPT TO:" + arg, 501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]")
    cmd(r, "RSET", 250, "2.0.0")
    r.close()
    assert g.queue_files() == []
    assert_serving(g)


def test_mail_rcpt_keyword_syntax(gateway):
    g = start(gateway)
    r = session(g)
    for line in ("MAIL", "MAIL <a@b.test>", "MAIL TO:<a@b.test>", "MAIL FROM <a@b.test>",
                 "MAIL FROM=<a@b.test>", "MAIL FRM:<a@b.test>"):
        cmd(r, line, 501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]")
    cmd(r, "mail from:<a@b.test>", 250, "2.1.0")
    for line in ("RCPT", "RCPT <a@b.test>", "RCPT FROM:<a@b.test>", "RCPT TO <a@b.test>"):
        cmd(r, line, 501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]")
    cmd(r, "rcpt to:<b@far.test>", 250, "2.1.5")
    r.close()
    assert_serving(g)


def test_valid_odd_addresses_are_accepted_and_kept(gateway):
    g = start(gateway)
    r = session(g)
    cmd(r, "MAIL FROM:<>", 250, "2.1.0")
    rcpts = [
        ('<"a b"@c.test>', '"a b"@c.test'),
        ('<"a\\"b"@c.test>', '"a\\"b"@c.test'),
        ("<u@[127.0.0.1]>", "u@[127.0.0.1]"),
        ("<u@[IPv6:::1]>", "u@[IPv6:::1]"),
        ("<u@[IPv6:2001:db8::7]>", "u@[IPv6:2001:db8::7]"),
        ("<@a.test:u@b.test>", "u@b.test"),
        ("<@a.test,@c.test:v@b.test>", "v@b.test"),
        ("<Postmaster>", "Postmaster"),
        ("<postmaster@far.test>", "postmaster@far.test"),
        ("<x+tag=1@far.test>", "x+tag=1@far.test"),
        ("<!#$%&'*+-/=?^_`{|}~@far.test>", "!#$%&'*+-/=?^_`{|}~@far.test"),
        ("<UPPER@Far.TEST>", "UPPER@Far.TEST"),
        ("<1@2.3.4.test>", "1@2.3.4.test"),
    ]
    for arg, _ in rcpts:
        cmd(r, f"RCPT TO:{arg}", 250, "2.1.5", "Recipient ok")
    qid = send_data(r, "Subject: odd\r\n\r\nx\r\n")
    cmd(r, "MAIL FROM:<@r.test:s@b.test>", 250, "2.1.0")
    cmd(r, 'RCPT TO:<"quoted local"@[127.0.0.1]>', 250, "2.1.5")
    qid2 = send_data(r, "Subject: odd 2\r\n\r\nx\r\n")
    r.close()
    env = envelope(g.message(qid)[0])
    assert env["sender"] == "<>"
    assert [x[2] for x in env["rcpt"]] == [xtext(s) for _, s in rcpts]
    assert all(x[0] == "-" and x[1] == "-" and x[3] == "=" for x in env["rcpt"])
    env2 = envelope(g.message(qid2)[0])
    assert env2["sender"] == "<s@b.test>"
    assert env2["rcpt"] == [["-", "-", xtext('"quoted local"@[127.0.0.1]'), "="]]
    assert re.search(rf"{qid}: from=<>, size=\d+, nrcpt={len(rcpts)}, proto=ESMTP, status=queued",
                     g.log())
    assert_serving(g)


# ---- SMTPUTF8 ----------------------------------------------------------------------------------


def test_utf8_addresses_need_smtputf8(gateway):
    g = start(gateway)
    r = session(g)
    cmd(r, "MAIL FROM:<jösé@b.test>", 553, "5.6.7",
        "Non-ASCII sender address needs the SMTPUTF8 parameter")
    cmd(r, "MAIL FROM:<a@exämple.test>", 553, "5.6.7")
    cmd(r, "MAIL FROM:<@rüte.test:a@b.test>", 553, "5.6.7")
    cmd(r, "MAIL FROM:<a@b.test> BODY=8BITMIME", 250, "2.1.0")
    cmd(r, "RCPT TO:<ü@far.test>", 553, "5.6.7",
        "Non-ASCII recipient address needs the SMTPUTF8 parameter on MAIL")
    cmd(r, "RCPT TO:<u@dömäin.test>", 553, "5.6.7")
    cmd(r, "DATA", 554, "5.5.1", "No valid recipients")
    r.close()
    assert re.search(r'cmd=MAIL, helo=client\.test, arg="FROM:<j\\xc3\\xb6s\\xc3\\xa9@b\.test>", '
                     r'reply="553 5.6.7 Non-ASCII sender', g.log())
    assert g.queue_files() == []
    assert_serving(g)


def test_utf8_transaction_is_queued_as_utf8smtp(gateway):
    g = start(gateway)
    r = session(g)
    cmd(r, "MAIL FROM:<jösé@exämple.test> SMTPUTF8 BODY=8BITMIME", 250, "2.1.0")
    cmd(r, "RCPT TO:<ü@dömäin.test>", 250, "2.1.5")
    content = "Subject: grüße\r\nFrom: jösé@exämple.test\r\n\r\nHällo wörld\r\n".encode()
    qid = send_data(r, content)
    r.close()
    head, body = g.message(qid)
    env = envelope(head)
    assert env["smtputf8"] == "yes"
    assert env["protocol"] == "UTF8SMTP"
    assert env["body"] == "8bitmime"
    assert env["sender"] == "<" + xtext("jösé@exämple.test") + ">"
    assert env["rcpt"] == [["-", "-", xtext("ü@dömäin.test"), "="]]
    received, rest = split_received(body)
    assert b" with UTF8SMTP id " + qid.encode() in received
    assert "\tfor <ü@dömäin.test>;".encode() in received
    assert rest == content
    assert_serving(g)


def test_smtputf8_with_ascii_addresses_is_utf8smtp(gateway):
    """SMTPUTF8 on MAIL with ASCII addresses still makes the protocol UTF8SMTP."""
    g = start(gateway)
    r = session(g)
    cmd(r, "MAIL FROM:<a@b.test> SMTPUTF8", 250, "2.1.0")
    cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
    qid = send_data(r, "Subject: a\r\n\r\nb\r\n")
    r.close()
    env = envelope(g.message(qid)[0])
    assert env["smtputf8"] == "yes" and env["protocol"] == "UTF8SMTP"
    assert_serving(g)


# ---- SIZE (RFC 1870) ---------------------------------------------------------------------------


def message_of(n, subject="size"):
    """A message of exactly n octets ending in CRLF (no line starts with a dot)."""
    out = f"Subject: {subject}\r\n\r\n".encode()
    left = n - len(out)
    assert left >= 2
    while left > 0:
        take = 80 if left > 81 else (left if left <= 80 else 40)
        out += b"a" * (take - 2) + b"\r\n"
        left -= take
    assert len(out) == n
    return out


def test_size_declared_over_the_limit(gateway):
    g = start(gateway, max_message_size="2K")
    r = session(g)
    cmd(r, "MAIL FROM:<a@b.test> SIZE=2049", 552, "5.3.4", "Message size exceeds fixed limit")
    cmd(r, "MAIL FROM:<a@b.test> SIZE=18446744073709551615", 552, "5.3.4")
    cmd(r, "MAIL FROM:<a@b.test> SIZE=99999999999999999999", 501, "5.5.4",
        "Invalid command parameter")
    cmd(r, "MAIL FROM:<a@b.test> SIZE=2048", 250, "2.1.0")
    cmd(r, "RSET", 250, "2.0.0")
    cmd(r, "MAIL FROM:<a@b.test> SIZE=0", 250, "2.1.0")
    cmd(r, "RSET", 250, "2.0.0")
    cmd(r, "MAIL FROM:<a@b.test> size=100", 250, "2.1.0")
    cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
    qid = send_data(r, message_of(100))
    r.close()
    assert re.search(r'cmd=MAIL, helo=client\.test, from=<a@b\.test>, '
                     r'reply="552 5.3.4 Message size exceeds fixed limit"', g.log())
    assert g.queue_files() == [qid]
    assert_serving(g)


def test_size_actual_content_over_the_limit(gateway):
    g = start(gateway, max_message_size="2K")
    r = session(g)
    # Exactly the limit (after the Received header, which does not count): accepted.
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
    exact = message_of(2048, "exact")
    qid = send_data(r, exact)
    assert split_received(g.message(qid)[1])[1] == exact
    assert re.search(rf"{qid}: from=<a@b.test>, size=2048, nrcpt=1", g.log())
    # One octet more: read to its end, then refused once.
    for size, declared in ((2049, ""), (50000, " SIZE=1000")):
        cmd(r, f"MAIL FROM:<a@b.test>{declared}", 250, "2.1.0")
        cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
        cmd(r, "DATA", 354, None)
        r.send(message_of(size, "big") + b".\r\n")
        want(r, 552, "5.3.4", "Message size exceeds fixed limit")
        assert g.queue_files() == [qid]
        assert g.tmp_files() == []
        # The session is usable for the next message on the same connection.
        cmd(r, "NOOP", 250, "2.0.0")
        cmd(r, "RCPT TO:<c@far.test>", 503, "5.5.1", "Send MAIL first")
    # Dot-stuffing does not count: 2048 octets of content sent as more on the wire.
    stuffed = b"Subject: dots\r\n\r\n" + b".." + b"b" * 76 + b"\r\n"
    content = b"Subject: dots\r\n\r\n" + b"." + b"b" * 76 + b"\r\n"
    pad = message_of(2048 - len(content) + len(b"Subject: pad\r\n\r\n"), "pad")
    pad = pad[len(b"Subject: pad\r\n\r\n"):]
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
    qid2 = send_data(r, stuffed + pad)
    assert split_received(g.message(qid2)[1])[1] == content + pad
    assert len(content + pad) == 2048
    r.close()
    assert re.search(r'reply="552 5.3.4 Message size exceeds fixed limit"', g.log())
    assert re.search(r"status=rejected", g.log())
    assert g.queue_files() == sorted([qid, qid2])
    assert_serving(g)


# ---- ESMTP parameters --------------------------------------------------------------------------


MAIL_PARAMS_BAD = [
    ("SIZE", 501), ("SIZE=", 501), ("SIZE=abc", 501), ("SIZE=-1", 501), ("SIZE=1k", 501),
    ("SIZE=+1", 501), ("SIZE=1 SIZE=2", 501), ("SIZE=123456789012345678901", 501),
    ("BODY", 501), ("BODY=", 501), ("BODY=BINARYMIME", 501), ("BODY=8BIT", 501),
    ("BODY=7BIT BODY=7BIT", 501),
    ("RET", 501), ("RET=ALL", 501), ("RET=", 501), ("RET=FULL RET=HDRS", 501),
    ("ENVID", 501), ("ENVID=", 501), ("ENVID=a+2", 501), ("ENVID=a+2b", 501),
    ("ENVID=a+zz", 501), ("ENVID=" + "e" * 101, 501), ("ENVID=a=b", 501),
    ("SMTPUTF8=yes", 501), ("SMTPUTF8 SMTPUTF8", 501),
    ("=x", 501), ("-X", 501), ("<c@d.test>", 501), ("SIZE=1\tBODY=7BIT", 501),
    ("FOO", 555), ("FOO=bar", 555), ("X-UNKNOWN=1", 555), ("AUTH=<>", 555),
    ("BODY=7BIT FOO", 555),
]

RCPT_PARAMS_BAD = [
    ("NOTIFY", 501), ("NOTIFY=", 501), ("NOTIFY=SOMETIMES", 501), ("NOTIFY=NEVER,SUCCESS", 501),
    ("NOTIFY=SUCCESS,,FAILURE", 501), ("NOTIFY=SUCCESS,", 501), ("NOTIFY=SUCCESS,SUCCESS", 501),
    ("NOTIFY=SUCCESS NOTIFY=FAILURE", 501),
    ("ORCPT", 501), ("ORCPT=", 501), ("ORCPT=x@y.test", 501), ("ORCPT=;x@y.test", 501),
    ("ORCPT=rfc822;a+zz@y.test", 501), ("ORCPT=rfc822;a+2b@y.test", 501),
    ("ORCPT=rfc822;" + "o" * 500, 501),
    ("ORCPT=rfc822;a@b ORCPT=rfc822;a@b", 501),
    ("SIZE=10", 555), ("FOO", 555), ("FOO=bar", 555), ("NOTIFY=NEVER FOO=1", 555),
]


@pytest.mark.parametrize("params,code", MAIL_PARAMS_BAD, ids=[p[0][:30] for p in MAIL_PARAMS_BAD])
def test_mail_parameters_refused(gateway, params, code):
    g = start(gateway)
    r = session(g)
    if code == 555:
        cmd(r, f"MAIL FROM:<a@b.test> {params}", 555, "5.5.4", "Unsupported command parameter")
    else:
        cmd(r, f"MAIL FROM:<a@b.test> {params}", 501, "5.5.4", "Invalid command parameter")
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    r.close()
    assert re.search(rf'cmd=MAIL, helo=client\.test, (from=<a@b\.test>|arg="FROM:.*"), '
                     rf'reply="{code} 5.5.4 ', g.log())
    assert_serving(g)


@pytest.mark.parametrize("params,code", RCPT_PARAMS_BAD, ids=[p[0][:30] for p in RCPT_PARAMS_BAD])
def test_rcpt_parameters_refused(gateway, params, code):
    g = start(gateway)
    r = session(g)
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    if code == 555:
        cmd(r, f"RCPT TO:<c@far.test> {params}", 555, "5.5.4", "Unsupported command parameter")
    else:
        cmd(r, f"RCPT TO:<c@far.test> {params}", 501, "5.5.4", "Invalid command parameter")
    cmd(r, "DATA", 554, "5.5.1", "No valid recipients")
    cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
    r.close()
    assert re.search(rf'cmd=RCPT, helo=client\.test, from=<a@b\.test>, '
                     rf'(to=<c@far\.test>|arg="TO:.*"), reply="{code} 5.5.4 ', g.log())
    assert g.queue_files() == []
    assert_serving(g)


def test_dsn_and_body_parameters_reach_the_envelope(gateway):
    g = start(gateway)
    r = session(g)
    cmd(r, "MAIL FROM:<a@b.test> RET=HDRS ENVID=abc+2Bdef BODY=8BITMIME SIZE=500", 250, "2.1.0")
    cmd(r, "RCPT TO:<x@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@y.test", 250, "2.1.5")
    cmd(r, "RCPT TO:<z@y.test> NOTIFY=NEVER", 250, "2.1.5")
    cmd(r, "RCPT TO:<w@y.test> notify=delay,Failure,SUCCESS orcpt=rfc822;w+2Bq@y.test", 250,
        "2.1.5")
    cmd(r, "RCPT TO:<v@y.test>", 250, "2.1.5")
    cmd(r, "RCPT TO:<u@y.test> ORCPT=utf-8;u\\x{E9}@y.test", 250, "2.1.5")
    content = "Subject: dsn\r\n\r\n8 bit: \u00e9\r\n".encode()
    qid = send_data(r, content)
    # A second transaction on the same connection gets none of it.
    cmd(r, "MAIL FROM:<a2@b.test> ret=full BODY=7BIT", 250, "2.1.0")
    cmd(r, "RCPT TO:<t@y.test>", 250, "2.1.5")
    qid2 = send_data(r, "Subject: second\r\n\r\nx\r\n")
    cmd(r, "MAIL FROM:<a3@b.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<s@y.test>", 250, "2.1.5")
    qid3 = send_data(r, "Subject: third\r\n\r\nx\r\n")
    client_port = r.sock.getsockname()[1]
    r.close()

    head, body = g.message(qid)
    env = envelope(head)
    assert env["gate26-queue"] == "1"
    assert env["id"] == qid
    assert re.fullmatch(r"\d{4} \d{10}", env["schedule"])
    assert re.fullmatch(r"\d+\.\d{6}", env["arrival"])
    assert env["door"] == "internal"
    assert env["client"] == f"127.0.0.1 {client_port}"
    assert env["helo"] == "client.test"
    assert env["protocol"] == "ESMTP"
    assert env["sender"] == "<a@b.test>"
    assert env["body"] == "8bitmime"
    assert env["smtputf8"] == "no"
    assert env["ret"] == "hdrs"
    assert env["envid"] == "abc+2B2Bdef"
    assert env["rcpt"] == [
        ["-", "SF", "x@y.test", "rfc822;x@y.test"],
        ["-", "N", "z@y.test", "="],
        ["-", "SFD", "w@y.test", "rfc822;w+2B2Bq@y.test"],
        ["-", "-", "v@y.test", "="],
        ["-", "-", "u@y.test", "utf-8;u\\x{E9}@y.test"],
    ]
    assert split_received(body)[1] == content

    env2 = envelope(g.message(qid2)[0])
    assert (env2["sender"], env2["body"], env2["ret"], env2["envid"]) == ("<a2@b.test>", "7bit",
                                                                          "full", "=")
    assert env2["rcpt"] == [["-", "-", "t@y.test", "="]]
    env3 = envelope(g.message(qid3)[0])
    assert (env3["body"], env3["ret"], env3["envid"], env3["smtputf8"]) == ("unspec", "unspec",
                                                                           "=", "no")
    assert env3["rcpt"] == [["-", "-", "s@y.test", "="]]
    assert_serving(g)


# ---- content in the spool ----------------------------------------------------------------------


def test_content_is_unstuffed_after_our_received_header(gateway):
    g = start(gateway)
    r = session(g, helo="client.test")
    cmd(r, "MAIL FROM:<a@sender.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<b@far.test>", 250, "2.1.5")
    wire = (b"Received: from earlier.test\r\n\tby somewhere;\r\n"
            b"Subject: dots\r\n\r\n"
            b"..leading dot\r\n"
            b"...two dots\r\n"
            b"..\r\n"
            b"mid.dle . \r\n"
            b" .space first\r\n"
            b".x not stuffed\r\n"
            b"\r\n"
            b"\xe2\x82\xac 8bit\r\n"
            b"end\r\n")
    expect = (b"Received: from earlier.test\r\n\tby somewhere;\r\n"
              b"Subject: dots\r\n\r\n"
              b".leading dot\r\n"
              b"..two dots\r\n"
              b".\r\n"
              b"mid.dle . \r\n"
              b" .space first\r\n"
              b"x not stuffed\r\n"
              b"\r\n"
              b"\xe2\x82\xac 8bit\r\n"
              b"end\r\n")
    qid = send_data(r, wire)
    port = r.sock.getsockname()[1]
    r.close()
    head, body = g.message(qid)
    received, rest = split_received(body)
    assert rest == expect
    assert re.fullmatch(
        rb"Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n"
        rb"\tby gate26\.test \(gate26, internal door\) with ESMTP id " + qid.encode() + rb"\r\n"
        rb"\tfor <b@far\.test>;\r\n" + RECEIVED_DATE, received), received
    assert envelope(head)["client"] == f"127.0.0.1 {port}"
    log = g.log()
    assert re.search(rf"{qid}: from=<a@sender.test>, size={len(expect)}, nrcpt=1, proto=ESMTP, "
                     rf"status=queued", log)
    assert re.search(rf"{qid}: client=\[127.0.0.1\]:{port}, door=internal, sid=\w+, "
                     rf"helo=client.test", log)
    assert g.tmp_files() == []
    assert_serving(g)


def test_received_header_for_several_recipients_and_literal_helo(gateway):
    g = start(gateway)
    r = session(g, helo="[127.0.0.1]")
    cmd(r, "MAIL FROM:<a@sender.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<b@far.test>", 250, "2.1.5")
    cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
    qid = send_data(r, "Subject: two\r\n\r\nx\r\n")
    r.close()
    received, rest = split_received(g.message(qid)[1])
    assert re.fullmatch(
        rb"Received: from \[127\.0\.0\.1\] \(\[127\.0\.0\.1\]\)\r\n"
        rb"\tby gate26\.test \(gate26, internal door\) with ESMTP id " + qid.encode() + rb";\r\n"
        + RECEIVED_DATE, received), received
    assert b"for <" not in received
    assert rest == b"Subject: two\r\n\r\nx\r\n"
    assert envelope(g.message(qid)[0])["helo"] == "[127.0.0.1]"
    assert_serving(g)


def test_empty_message_and_message_of_one_line(gateway):
    g = start(gateway)
    r = session(g)
    ids = []
    for content in (b"", b"no header line\r\n", b"\r\n"):
        cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
        cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
        ids.append((send_data(r, content), content))
    r.close()
    for qid, content in ids:
        assert split_received(g.message(qid)[1])[1] == content
    assert_serving(g)


def test_smtplib_and_swaks_interoperate(gateway):
    """Real clients: smtplib (it dot-stuffs, with DSN and BODY options) and swaks
    (pipelining)."""
    g = start(gateway)
    msg = b"Subject: smtplib\r\n\r\n.starts with a dot\r\nplain\r\n"
    with smtplib.SMTP("127.0.0.1", g.port("internal"), local_hostname="client.test",
                      timeout=10) as c:
        refused = c.sendmail("a@sender.test", ["b@far.test", "c@far.test"], msg,
                             mail_options=["BODY=8BITMIME"],
                             rcpt_options=["NOTIFY=FAILURE"])
        assert refused == {}
        code, text = c.docmd("EXPN", "x")
        assert (code, text[:5]) == (502, b"5.5.1")
    q = g.queue_files()
    assert len(q) == 1
    head, body = g.message(q[0])
    assert split_received(body)[1] == msg
    env = envelope(head)
    assert env["body"] == "8bitmime"
    assert env["rcpt"] == [["-", "F", "b@far.test", "="], ["-", "F", "c@far.test", "="]]

    out = subprocess.run(
        ["/usr/bin/swaks", "--server", f"127.0.0.1:{g.port('internal')}", "--helo", "swaks.test",
         "--from", "s@sender.test", "--to", "t@far.test,u@far.test", "--pipeline",
         "--body", "hello from swaks", "--timeout", "10"],
        capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "250 2.0.0 Ok: queued as" in out.stdout
    q2 = [x for x in g.queue_files() if x not in q]
    assert len(q2) == 1
    env = envelope(g.message(q2[0])[0])
    assert env["helo"] == "swaks.test" and env["sender"] == "<s@sender.test>"
    assert env["rcpt"] == [["-", "-", "t@far.test", "="], ["-", "-", "u@far.test", "="]]
    assert b"\r\n\r\nhello from swaks\r\n" in g.message(q2[0])[1]
    assert_serving(g)


def test_ipv6_client_on_the_internal_door(gateway):
    """A ::1 client: the Received header and envelope name it as an IPv6 literal."""
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.fail("no IPv6 loopback on this machine")
    from conftest import free_port
    port = free_port()
    doors = {"internal": {"allow": ALLOW, "tls": "none", "address": f"[::1]:{port}"}}
    g = gateway(doors=doors, domains={})
    r = Raw(port, host="::1")
    want(r, 220, None)
    cmd(r, "EHLO [IPv6:::1]", 250, None)
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
    qid = send_data(r, "Subject: v6\r\n\r\nx\r\n")
    cport = r.sock.getsockname()[1]
    r.close()
    head, body = g.message(qid)
    assert envelope(head)["client"] == f"::1 {cport}"
    assert body.startswith(b"Received: from [IPv6:::1] ([IPv6:::1])\r\n")


def test_one_octet_at_a_time(gateway):
    """Commands and content cut into single octets (CR and LF apart, the final
    dot alone) mean exactly what they mean in one piece."""
    g = start(gateway)
    r = g.raw("internal")
    r.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def trickle(data):
        for i in range(len(data)):
            r.send(data[i:i + 1])
            time.sleep(0.001)

    trickle(b"EHLO client.test\r\n")
    want(r, 250, None)
    trickle(b"MAIL FROM:<a@b.test> BODY=8BITMIME\r\n")
    want(r, 250, "2.1.0")
    trickle(b"RCPT TO:<c@far.test>\r\n")
    want(r, 250, "2.1.5")
    trickle(b"DATA\r\n")
    want(r, 354, None)
    wire = b"Subject: slow\r\n\r\n..dot\r\n.\r\r\nx\r\n"
    trickle(wire + b".\r\n")
    # ".\r\r\n" is a stuffed line holding a bare CR: the message is refused.
    want(r, 550, "5.6.0", "bare CR")
    trickle(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@far.test>\r\nDATA\r\n")
    want(r, 250, "2.1.0")
    want(r, 250, "2.1.5")
    want(r, 354, None)
    trickle(b"Subject: slow\r\n\r\n..dot\r\n.x\r\n\r\n.\r\n")
    text = want(r, 250, "2.0.0", "queued as")[0]
    trickle(b"QUIT\r\n")
    want(r, 221, "2.0.0")
    assert r.is_closed()
    r.close()
    qid = text.rsplit(" ", 1)[1]
    assert g.queue_files() == [qid]
    assert split_received(g.message(qid)[1])[1] == b"Subject: slow\r\n\r\n.dot\r\nx\r\n\r\n"
    assert_serving(g)
