# SPDX-License-Identifier: MIT
"""Limits, each at its edge: command and text line lengths, recipients per
transaction, the error budget, the command and data timeouts, sessions per
door and overall, and many sessions and messages in a row. Every refusal is
checked to its exact reply; then the daemon is shown to still serve."""
import re
import socket
import threading
import time

import pytest

from conftest import Raw, assert_serving, cmd, envelope, queued_id, wait_for, want

HOST = "gate26.test"
# Content larger than the spool's write buffer (CAP_SPOOL_WRITE_BUF, 64 KiB).
PAST_BUFFER = (b"x" * 998 + b"\r\n") * 80
ALLOW = "127.0.0.0/8 ::1"


# ---- helpers (local to this file) -------------------------------------------------------------


def start(gateway, top="", inbound=None, **keys):
    """A gateway with the internal door (plus inbound when inbound is a dict of
    its keys); keys are the internal door's, with '_' for '-'."""
    door = {"allow": ALLOW, "tls": "none"}
    door.update({k.replace("_", "-"): v for k, v in keys.items()})
    doors = {"internal": door}
    domains = {}
    if inbound is not None:
        doors["inbound"] = dict({"tls": "none"}, **inbound)
        domains = {"ours.test": None}
    return gateway(doors=doors, domains=domains, extra=top)






def session(g, role="internal"):
    r = g.raw(role)
    cmd(r, "EHLO client.test", 250, None)
    return r


def send_message(r, sender, rcpts, content, mail_params=""):
    cmd(r, f"MAIL FROM:<{sender}>{mail_params}", 250, "2.1.0")
    for rc in rcpts:
        cmd(r, f"RCPT TO:<{rc}>", 250, "2.1.5")
    cmd(r, "DATA", 354, None)
    r.send(content + b".\r\n")
    return queued_id(r)




def content_of(g, qid):
    """The queued content without our Received header."""
    body = g.message(qid)[1]
    m = re.match(rb"Received: [^\r\n]*\r\n(\t[^\r\n]*\r\n)*", body)
    assert m, body[:200]
    return body[m.end():]


def assert_closed_after(r, timeout=10.0):
    assert r.is_closed(timeout), "the server did not close the connection"
    assert r.buf == b"", f"unexpected bytes after the last reply: {r.buf!r}"


def rejects(g, reply):
    """Log lines of refusals with this reply text."""
    return [l for l in g.log().splitlines() if "event=reject" in l and f'reply="{reply}' in l]


# ---- command lines -----------------------------------------------------------------------------


def test_command_line_of_512_octets_is_accepted_513_is_not(gateway):
    g = start(gateway)
    r = session(g)
    line512 = "NOOP " + "x" * (512 - 2 - 5)
    assert len(line512) + 2 == 512
    cmd(r, line512, 250, "2.0.0", "Ok")
    cmd(r, "VRFY " + "v" * (512 - 2 - 5), 252, "2.0.0")
    cmd(r, line512 + "x", 500, "5.5.2", "Line too long")
    cmd(r, "VRFY " + "v" * (513 - 2 - 5), 500, "5.5.2", "Line too long")
    # The session goes on, and a transaction works.
    cmd(r, "NOOP", 250, "2.0.0")
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    r.close()
    lines = rejects(g, "500 5.5.2 Line too long")
    assert len(lines) == 2
    assert "cmd=NOOP" in lines[0] and "cmd=VRFY" in lines[1]
    assert_serving(g)


# Total octets of the overlong line with its CRLF, and how the bytes are cut
# into writes: "whole", "cut" (the CRLF comes in a later write), "cr|lf" (the
# CR ends one write, the LF starts the next).
OVERLONG = [
    (513, "whole"), (1000, "whole"), (1147, "whole"), (1148, "whole"), (1149, "whole"),
    (1150, "whole"), (5000, "cut"), (5000, "cr|lf"), (70000, "cut"), (200000, "cr|lf"),
]


@pytest.mark.parametrize("total,how", OVERLONG, ids=[f"{t}-{h}" for t, h in OVERLONG])
def test_overlong_command_line_gets_exactly_one_reply(gateway, total, how):
    g = start(gateway)
    r = session(g)
    text = b"NOOP " + b"y" * (total - 2 - 5)
    assert len(text) + 2 == total
    if how == "whole":
        r.send(text + b"\r\n")
    elif how == "cut":
        r.send(text)
        time.sleep(0.3)
        r.send(b"\r\n")
    else:
        r.send(text + b"\r")
        time.sleep(0.3)
        r.send(b"\n")
    r.send(b"NOOP\r\n")
    want(r, 500, "5.5.2", "Line too long")
    # Exactly one reply for the line: the next one is the NOOP's.
    want(r, 250, "2.0.0")
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
    r.close()
    assert len(rejects(g, "500 5.5.2 Line too long")) == 1
    assert g.queue_files() == []
    assert_serving(g)


def test_overlong_line_names_its_own_command_in_the_log(gateway):
    """The reject log line of an overlong line must not name the command before it."""
    g = start(gateway)
    r = session(g)
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    r.send(b"RCPT TO:<" + b"z" * 6000 + b"@far.test>\r\n")
    want(r, 500, "5.5.2", "Line too long")
    cmd(r, "NOOP", 250, "2.0.0")
    r.close()
    lines = rejects(g, "500 5.5.2 Line too long")
    assert len(lines) == 1
    assert "cmd=MAIL" not in lines[0], lines[0]
    assert_serving(g)


def test_overlong_line_does_not_smuggle_a_command(gateway):
    """A bare LF or CR inside an overlong line does not end it: everything up to
    the CRLF is dropped, so the "commands" after them never run."""
    g = start(gateway)
    r = session(g)
    # 2000 octets, then in the same line text that looks like commands.
    r.send(b"NOOP " + b"q" * 2000 + b" QUIT\nRSET\rMAIL FROM:<x@y.test>\r\n")
    want(r, 500, "5.5.2", "Line too long")
    cmd(r, "RCPT TO:<c@far.test>", 503, "5.5.1", "Send MAIL first")
    r.close()
    assert_serving(g)


def test_long_but_legal_mail_and_rcpt_lines(gateway):
    """RFC 1870 and RFC 3461 lengthen MAIL (SIZE, ENVID, RET) and RCPT (NOTIFY,
    ORCPT): such lines over 512 octets are not "too long"."""
    g = start(gateway)
    r = session(g)
    route = "r" * 63 + "." + "s" * 36                         # 100 octets
    domain = ".".join(["d" * 63, "e" * 63, "f" * 63, "g" * 10])  # 202 octets
    envid = "E" * 100
    mail = (f"MAIL FROM:<@{route}:{'l' * 64}@{domain}> SIZE=00000000000000001000 "
            f"BODY=8BITMIME RET=HDRS ENVID={envid}")
    assert 512 < len(mail) + 2 <= 512 + 26 + 100 + 10, len(mail) + 2
    cmd(r, mail, 250, "2.1.0", "Sender ok")
    orcpt = "rfc822;" + "o" * 480 + "@far.test"
    assert len(orcpt) <= 500
    rcpt = f"RCPT TO:<{'k' * 64}@{domain}> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT={orcpt}"
    assert 512 < len(rcpt) + 2 <= 512 + 500, len(rcpt) + 2
    cmd(r, rcpt, 250, "2.1.5", "Recipient ok")
    cmd(r, "DATA", 354, None)
    r.send(b"Subject: long lines\r\n\r\nx\r\n.\r\n")
    qid = queued_id(r)
    r.close()
    env = envelope(g.message(qid)[0])
    assert env["sender"] == f"<{'l' * 64}@{domain}>"
    assert env["envid"] == envid and env["ret"] == "hdrs" and env["body"] == "8bitmime"
    assert env["rcpt"] == [["-", "SFD", f"{'k' * 64}@{domain}", orcpt]]
    assert rejects(g, "500") == []
    assert_serving(g)


def test_mail_line_over_its_extended_cap_is_too_long(gateway):
    g = start(gateway)
    r = session(g)
    # A MAIL line over 1148 octets (512 + everything MAIL's extensions add).
    mail = "MAIL FROM:<a@b.test> ENVID=" + "E" * 1200
    cmd(r, mail, 500, "5.5.2", "Line too long")
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    # A RCPT line over 1012 octets (512 + 500).
    cmd(r, "RCPT TO:<c@far.test> ORCPT=rfc822;" + "o" * 1000, 500, "5.5.2", "Line too long")
    cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
    r.close()
    assert_serving(g)


# ---- text lines in DATA ------------------------------------------------------------------------


def test_text_line_of_1000_octets_accepted_1001_refused(gateway):
    g = start(gateway)
    r = session(g)
    ok = b"Subject: t\r\n\r\n" + b"a" * 998 + b"\r\nend\r\n"
    qid = send_message(r, "a@b.test", ["c@far.test"], ok)
    assert content_of(g, qid) == ok
    for bad in (b"Subject: t\r\n\r\n" + b"b" * 999 + b"\r\nend\r\n",
                b"Subject: " + b"h" * 990 + b"\r\n\r\nbody\r\n",
                b"Subject: t\r\n\r\n" + b"c" * 100000 + b"\r\n",
                b"Subject: t\r\n\r\nfirst\r\n" + b"d" * 1001):   # the long line is the last
        cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
        cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
        cmd(r, "DATA", 354, None)
        if bad.endswith(b"\r\n"):
            r.send(bad + b".\r\n")
        else:
            r.send(bad + b"\r\n.\r\n")
        want(r, 500, "5.5.2", "Line too long: text lines are at most 1000 octets")
        assert g.queue_files() == [qid]
        assert g.tmp_files() == []
        # The session continues, with no transaction.
        cmd(r, "RCPT TO:<c@far.test>", 503, "5.5.1", "Send MAIL first")
    qid2 = send_message(r, "a@b.test", ["c@far.test"], b"Subject: after\r\n\r\nok\r\n")
    r.close()
    assert g.queue_files() == sorted([qid, qid2])
    assert len(rejects(g, "500 5.5.2 Line too long: text lines")) == 4
    assert_serving(g)


def test_text_line_limit_does_not_count_the_stuffing_dot(gateway):
    """RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with its CRLF "not
    counting the leading dot duplicated for transparency". A 1000-octet line
    that starts with a dot goes on the wire as 1001 octets and must pass."""
    g = start(gateway)
    r = session(g)
    line = b"." + b"a" * 997                      # 998 octets + CRLF = 1000
    content = b"Subject: dot\r\n\r\n" + line + b"\r\n"
    stuffed = b"Subject: dot\r\n\r\n." + line + b"\r\n"
    qid = send_message(r, "a@b.test", ["c@far.test"], stuffed)
    r.close()
    assert content_of(g, qid) == content
    assert_serving(g)


# ---- recipients --------------------------------------------------------------------------------


def test_max_recipients(gateway):
    # max-errors 2: the 452s are not errors, so they do not end the session.
    g = start(gateway, max_recipients="3", max_errors="2")
    r = session(g)
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    for i in range(3):
        cmd(r, f"RCPT TO:<r{i}@far.test>", 250, "2.1.5")
    for i in range(3, 8):
        cmd(r, f"RCPT TO:<r{i}@far.test>", 452, "4.5.3", "Too many recipients")
    cmd(r, "DATA", 354, None)
    r.send(b"Subject: three\r\n\r\nx\r\n.\r\n")
    qid = queued_id(r)
    # The count starts again with the next transaction.
    qid2 = send_message(r, "a@b.test", ["s0@far.test", "s1@far.test", "s2@far.test"],
                        b"Subject: again\r\n\r\nx\r\n")
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    for i in range(3):
        cmd(r, f"RCPT TO:<t{i}@far.test>", 250, "2.1.5")
    cmd(r, "RCPT TO:<t3@far.test>", 452, "4.5.3")
    cmd(r, "RSET", 250, "2.0.0")
    r.close()
    assert [x[2] for x in envelope(g.message(qid)[0])["rcpt"]] == [f"r{i}@far.test"
                                                                   for i in range(3)]
    assert [x[2] for x in envelope(g.message(qid2)[0])["rcpt"]] == [f"s{i}@far.test"
                                                                    for i in range(3)]
    assert len(rejects(g, "452 4.5.3 Too many recipients")) == 6
    assert "cmd=RCPT" in rejects(g, "452 4.5.3")[0]
    assert_serving(g)


def test_default_max_recipients_is_100(gateway):
    g = start(gateway)
    r = session(g)
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    # Pipelined, as a client with PIPELINING would.
    r.send("".join(f"RCPT TO:<user{i}@far.test>\r\n" for i in range(101)))
    for i in range(100):
        want(r, 250, "2.1.5")
    want(r, 452, "4.5.3", "Too many recipients")
    cmd(r, "DATA", 354, None)
    r.send(b"Subject: hundred\r\n\r\nx\r\n.\r\n")
    qid = queued_id(r)
    r.close()
    env = envelope(g.message(qid)[0])
    assert [x[2] for x in env["rcpt"]] == [f"user{i}@far.test" for i in range(100)]
    assert re.search(rf"{qid}: from=<a@b.test>, size=\d+, nrcpt=100, ", g.log())
    assert b"for <" not in g.message(qid)[1]
    assert_serving(g)


# ---- the error budget --------------------------------------------------------------------------


def test_max_errors_closes_with_421(gateway):
    g = start(gateway, max_errors="3")
    other = session(g)
    r = session(g)
    cmd(r, "FOO", 500, "5.5.2", "Command not recognized")
    cmd(r, "NOOP", 250, "2.0.0")                       # a success does not reset nor count
    cmd(r, "RCPT TO:<a@b.test>", 503, "5.5.1", "Send MAIL first")
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    r.send(b"VRFY\r\n")
    want(r, 501, "5.5.4", "Syntax: VRFY needs an argument")
    want(r, 421, "4.7.0", f"{HOST} Too many errors, closing connection")
    assert_closed_after(r)
    r.close()
    # Other sessions are not affected, and a new one has its own budget.
    cmd(other, "FOO", 500, "5.5.2")
    cmd(other, "NOOP", 250, "2.0.0")
    cmd(other, "QUIT", 221, "2.0.0")
    other.close()
    assert_serving(g)
    lines = rejects(g, "421 4.7.0")
    assert len(lines) == 1 and "cmd=VRFY" in lines[0]
    assert g.queue_files() == []


def test_max_errors_pipelined_stops_at_the_budget(gateway):
    g = start(gateway, max_errors="3")
    r = g.raw("internal")
    r.send(b"FOO\r\nEHLO bad_name\r\nMAIL FROM:<a@b.test>\r\nNOOP\r\nQUIT\r\n")
    want(r, 500, "5.5.2")
    want(r, 501, "5.5.4")
    want(r, 503, "5.5.1")
    want(r, 421, "4.7.0", "Too many errors")
    # Nothing after the 421: the NOOP and QUIT are never answered.
    assert_closed_after(r)
    r.close()
    assert_serving(g)


def test_max_errors_one(gateway):
    g = start(gateway, max_errors="1")
    r = session(g)
    cmd(r, "NOOP", 250, "2.0.0")
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
    r.send(b"EXPN x\r\n")
    want(r, 502, "5.5.1")
    want(r, 421, "4.7.0")
    assert_closed_after(r)
    r.close()
    assert g.queue_files() == []
    assert g.tmp_files() == []
    assert_serving(g)


# ---- timeouts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("before", ["", "EHLO client.test", "partial", "mail"])
def test_command_timeout(gateway, before):
    g = start(gateway, timeout_command="2s", timeout_data="60s")
    r = g.raw("internal")
    if before == "partial":
        r.send(b"NOO")                           # a line that never ends
    elif before == "mail":
        cmd(r, "EHLO client.test", 250, None)
        cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
        cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
    elif before:
        cmd(r, before, 250, None)
    r.sock.settimeout(15)
    want(r, 421, "4.4.2", f"{HOST} Timeout exceeded, closing connection")
    assert_closed_after(r)
    r.close()
    assert "event=timeout" in g.log()
    assert g.queue_files() == []
    assert_serving(g)


def test_data_timeout(gateway):
    g = start(gateway, timeout_command="60s", timeout_data="2s")
    r = session(g)
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
    cmd(r, "DATA", 354, None)
    # Over the spool's 64 KiB write buffer, so that the message is being
    # written while it arrives: a tmp file exists (a smaller one would reach
    # the disk only at commit).
    r.send(b"Subject: stalled\r\n\r\n" + PAST_BUFFER + b"and a line that never en")
    wait_for(lambda: len(g.tmp_files()) == 1, timeout=5, what="the tmp file")
    r.sock.settimeout(15)
    want(r, 421, "4.4.2", f"{HOST} Timeout exceeded, closing connection")
    assert_closed_after(r)
    r.close()
    wait_for(lambda: g.tmp_files() == [], timeout=5, what="the tmp file to go")
    assert g.queue_files() == []
    log = g.log()
    assert re.search(r"event=timeout, state=data", log)
    assert "status=discarded" in log
    assert_serving(g)


def test_data_timeout_applies_only_while_reading_content(gateway):
    """After the message, the command timeout is in force again (and before DATA
    the data timeout is not)."""
    g = start(gateway, timeout_command="2s", timeout_data="60s")
    r = session(g)
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
    cmd(r, "DATA", 354, None)
    # Pauses longer than the command timeout while in DATA are fine.
    r.send(b"Subject: slow\r\n\r\n")
    time.sleep(3)
    r.send(b"body\r\n.\r\n")
    qid = queued_id(r)
    r.sock.settimeout(15)
    want(r, 421, "4.4.2", "Timeout exceeded")
    assert_closed_after(r)
    r.close()
    assert g.queue_files() == [qid]
    assert_serving(g)


@pytest.mark.parametrize("tail", [b"some content\r\nand a line", b"content\r\n.", b"content\r\n.\r",
                                  b""])
def test_client_gone_in_the_middle_of_data(gateway, tail):
    """A client that closes before the end of the data leaves nothing behind."""
    g = start(gateway)
    r = session(g)
    cmd(r, "MAIL FROM:<a@b.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<c@far.test>", 250, "2.1.5")
    cmd(r, "DATA", 354, None)
    r.send(b"Subject: gone\r\n\r\n" + PAST_BUFFER + tail)
    wait_for(lambda: len(g.tmp_files()) == 1, timeout=5, what="the tmp file")
    r.sock.shutdown(socket.SHUT_WR)
    assert_closed_after(r)
    r.close()
    wait_for(lambda: "event=lost, state=data" in g.log(), timeout=5, what="the lost line")
    wait_for(lambda: g.tmp_files() == [], timeout=5, what="the tmp file to go")
    assert g.queue_files() == []
    assert "status=discarded" in g.log()
    assert_serving(g)


def test_client_that_pipelines_without_reading(gateway):
    """20000 pipelined NOOPs from a client that reads nothing for a while: the
    daemon keeps serving others, and every reply arrives, in order, once the
    client reads."""
    g = start(gateway, timeout_command="30s")
    r = session(g)
    n = 20000
    sent = threading.Event()

    def sender():
        try:
            r.sock.sendall(b"NOOP\r\n" * n + b"QUIT\r\n")
        finally:
            sent.set()

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    time.sleep(0.5)
    assert_serving(g)
    r.sock.settimeout(20)
    for i in range(n):
        want(r, 250, "2.0.0")
    want(r, 221, "2.0.0")
    assert_closed_after(r)
    assert sent.wait(20)
    t.join(20)
    r.close()
    assert_serving(g)


def test_client_that_never_reads_loses_its_place(gateway):
    """A client that floods commands and reads no reply cannot hold a session
    forever: the command timeout ends it and its place is free again."""
    g = start(gateway, timeout_command="2s", max_sessions="1")
    r = session(g)
    done = threading.Event()

    def flood():
        try:
            r.sock.settimeout(30)
            r.sock.sendall(b"NOOP\r\n" * 200000)
        except OSError:
            pass
        finally:
            done.set()

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    deadline = time.monotonic() + 25
    while True:
        assert time.monotonic() < deadline, "the place of a client that never reads was not freed"
        c = Raw(g.port("internal"))
        got, lines = c.reply()
        if got == 220:
            cmd(c, "NOOP", 250, "2.0.0")
            cmd(c, "QUIT", 221, "2.0.0")
            c.close()
            break
        assert (got, lines[0][:5]) == (421, "4.3.2"), (got, lines)
        c.close()
        time.sleep(0.5)
    r.close()
    assert done.wait(30)
    t.join(5)
    assert "event=timeout" in g.log()
    assert_serving(g)


# ---- sessions ----------------------------------------------------------------------------------


def test_max_sessions_per_door(gateway):
    g = start(gateway, inbound={"max-sessions": "5"}, max_sessions="2")
    a = session(g)
    b = session(g)
    c = Raw(g.port("internal"))
    want(c, 421, "4.3.2", f"{HOST} Too many connections, try again later")
    assert_closed_after(c)
    c.close()
    # The first two still work; another door has its own count.
    cmd(a, "NOOP", 250, "2.0.0")
    cmd(b, "MAIL FROM:<x@y.test>", 250, "2.1.0")
    assert_serving(g, "inbound")
    # After one quits, a new one is accepted.
    cmd(a, "QUIT", 221, "2.0.0")
    assert_closed_after(a)
    a.close()
    d = session(g)
    cmd(d, "NOOP", 250, "2.0.0")
    e = Raw(g.port("internal"))
    want(e, 421, "4.3.2")
    assert_closed_after(e)
    e.close()
    # A session that ends by its peer's close (no QUIT) frees its place too.
    b.close()
    d.close()
    wait_for(lambda: g.log().count("event=disconnect") >= 4, timeout=5, what="disconnects")
    assert_serving(g)
    assert_serving(g)
    assert g.log().count("event=busy") == 2


def test_max_sessions_overall(gateway):
    g = start(gateway, top="max-sessions 2", inbound={})
    a = session(g, "inbound")
    b = session(g, "internal")
    for role in ("inbound", "internal"):
        c = Raw(g.port(role))
        want(c, 421, "4.3.2", "Too many connections, try again later")
        assert_closed_after(c)
        c.close()
    cmd(a, "NOOP", 250, "2.0.0")
    cmd(b, "NOOP", 250, "2.0.0")
    cmd(b, "QUIT", 221, "2.0.0")
    assert_closed_after(b)
    b.close()
    d = session(g, "inbound")
    cmd(d, "NOOP", 250, "2.0.0")
    c = Raw(g.port("internal"))
    want(c, 421, "4.3.2")
    c.close()
    a.close()
    d.close()
    wait_for(lambda: g.log().count("event=disconnect") >= 3, timeout=5, what="disconnects")
    assert_serving(g, "internal")
    assert_serving(g, "inbound")


def test_refused_connection_does_not_take_a_place(gateway):
    """Connections refused for being over the limit, or by the allow list, leave
    the count as it was."""
    g = start(gateway, max_sessions="1", allow="127.0.0.2")
    for _ in range(5):
        c = Raw(source="127.0.0.1", port=g.port("internal"))
        want(c, 554, "5.7.1", "Access denied")
        assert_closed_after(c)
        c.close()
    for _ in range(5):
        a = Raw(source="127.0.0.2", port=g.port("internal"))
        want(a, 220, None)
        cmd(a, "EHLO client.test", 250, None)
        for source in ("127.0.0.2", "127.0.0.1"):
            c = Raw(source=source, port=g.port("internal"))
            want(c, 421, "4.3.2", "Too many connections")
            assert_closed_after(c)
            c.close()
        cmd(a, "QUIT", 221, "2.0.0")
        assert_closed_after(a)
        a.close()
    a = Raw(source="127.0.0.2", port=g.port("internal"))
    want(a, 220, None)
    cmd(a, "NOOP", 250, "2.0.0")
    a.close()
    assert g.log().count("event=busy") == 10


def test_many_sequential_sessions(gateway):
    """200 sessions one after another, each with a message, on a door that
    holds 3 at a time: nothing is kept from one session to the next."""
    g = start(gateway, max_sessions="3", max_errors="2")
    ids = {}
    deadline = time.monotonic() + 120
    for i in range(200):
        assert time.monotonic() < deadline, f"stuck at session {i}"
        r = g.raw("internal")
        cmd(r, f"EHLO c{i}.test", 250, None)
        # One error per session: the budget is per session, not per door.
        cmd(r, "FOO", 500, "5.5.2")
        qid = send_message(r, f"s{i}@b.test", [f"r{i}@far.test"],
                           f"Subject: {i}\r\n\r\nmessage {i}\r\n".encode())
        cmd(r, "QUIT", 221, "2.0.0")
        assert_closed_after(r)
        r.close()
        ids[qid] = i
    assert sorted(ids) == g.queue_files()
    for qid, i in list(ids.items())[::17]:
        env = envelope(g.message(qid)[0])
        assert env["helo"] == f"c{i}.test" and env["sender"] == f"<s{i}@b.test>"
        assert env["rcpt"] == [["-", "-", f"r{i}@far.test", "="]]
        assert content_of(g, qid) == f"Subject: {i}\r\n\r\nmessage {i}\r\n".encode()
    log = g.log()
    assert log.count("status=queued") == 200
    assert "event=busy" not in log
    assert g.tmp_files() == []
    assert_serving(g)


def test_fifty_messages_in_one_session(gateway):
    g = start(gateway, max_recipients="3", max_errors="100")
    r = session(g)
    expect = {}
    for i in range(50):
        params = ""
        if i % 2:
            params += " RET=HDRS"
        if i % 3 == 0:
            params += f" ENVID=id{i}"
        if i % 5 == 0:
            params += " SMTPUTF8"
        if i % 7 == 0:
            params += " BODY=8BITMIME"
        nrcpt = 1 + i % 3
        rcpts = [f"m{i}r{k}@far.test" for k in range(nrcpt)]
        cmd(r, f"MAIL FROM:<m{i}@b.test>{params}", 250, "2.1.0")
        for k, rc in enumerate(rcpts):
            notify = " NOTIFY=FAILURE" if (i + k) % 4 == 0 else ""
            cmd(r, f"RCPT TO:<{rc}>{notify}", 250, "2.1.5")
        if i % 6 == 0:
            # a refused recipient in between does not stay in the transaction
            cmd(r, "RCPT TO:<bad>", 501, "5.1.3")
        if i % 12 == 0:
            # and a transaction reset before its DATA leaves nothing behind
            cmd(r, "RSET", 250, "2.0.0")
            cmd(r, "DATA", 503, "5.5.1", "Send MAIL first")
            continue
        content = f"Subject: {i}\r\n\r\n" + "line\r\n" * i
        cmd(r, "DATA", 354, None)
        r.send(content.encode() + b".\r\n")
        qid = queued_id(r)
        expect[qid] = (i, params, rcpts, content.encode())
    cmd(r, "QUIT", 221, "2.0.0")
    assert_closed_after(r)
    r.close()
    assert sorted(expect) == g.queue_files()
    assert len(expect) == 50 - len(range(0, 50, 12))
    for qid, (i, params, rcpts, content) in expect.items():
        head, body = g.message(qid)
        env = envelope(head)
        assert env["sender"] == f"<m{i}@b.test>"
        assert env["ret"] == ("hdrs" if i % 2 else "unspec")
        assert env["envid"] == (f"id{i}" if i % 3 == 0 else "=")
        assert env["smtputf8"] == ("yes" if i % 5 == 0 else "no")
        assert env["protocol"] == ("UTF8SMTP" if i % 5 == 0 else "ESMTP")
        assert env["body"] == ("8bitmime" if i % 7 == 0 else "unspec")
        assert [x[2] for x in env["rcpt"]] == rcpts
        assert [x[1] for x in env["rcpt"]] == ["F" if (i + k) % 4 == 0 else "-"
                                             for k in range(len(rcpts))]
        assert content_of(g, qid) == content
        assert (f"\tfor <{rcpts[0]}>;".encode() in body) == (len(rcpts) == 1)
        assert re.search(rf"{qid}: from=<m{i}@b.test>, size={len(content)}, nrcpt={len(rcpts)}, ",
                         g.log())
    assert re.search(r"event=disconnect, messages=%d, errors=\d+" % len(expect), g.log())
    assert_serving(g)
