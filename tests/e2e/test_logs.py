# SPDX-License-Identifier: MIT
"""Logs a person can search (issue 11, item 7; README.md "Logs"): refusals
name the HELO name, the sender and the recipient; the queued line carries
the message's Message-ID; deferred and bounced lines name the relay that was
tried; and at log-level debug the SMTP dialogue shows both ways, on the
server and in the delivery client, with AUTH redacted and no message
content. Each test reads the daemon's own log."""
import re
import smtplib

import pytest

from certs import CA
from conftest import assert_serving, free_port, queued_id, wait_for, want
from dnsmasq import dnsmasq  # noqa: F401 (a fixture)
from test_auth import USERS, Line, auth_gateway, b64, ctx, plain
from test_relay import dns_for, log_lines, peers, start, submit  # noqa: F401
from test_relay import wait_gone, wait_messages


@pytest.fixture
def ca(tmp_path):
    return CA(tmp_path / "pki")


def messages(g):
    """The daemon's log lines without time stamp, pid and level."""
    return [re.sub(r"^\S+ gate26\[\d+\]: \w+: ", "", line) for line in g.log().splitlines()]


def find(g, pattern):
    """The log lines (as messages()) that match pattern from their start to their end."""
    return [m for m in messages(g) if re.fullmatch(pattern, m)]


def must(g, pattern):
    """find(), and at least one line."""
    lines = find(g, pattern)
    assert lines, f"no log line matches {pattern!r}; the log ends:\n" + "\n".join(messages(g)[-50:])
    return lines


def session(g, role="inbound", helo="client.test"):
    r = g.raw(role)
    if helo:
        r.cmd(f"EHLO {helo}", 250)
    return r


REJECT = (r"-: sid=\w+, client=\[127\.0\.0\.1\], door={door}, event=reject, cmd={cmd}{fields}, "
          r"reply=\"{reply}\"")


def rejected(g, door, cmd, fields, reply):
    return must(g, REJECT.format(door=door, cmd=cmd, fields=fields, reply=re.escape(reply)))


# ---- Refusals ----

def test_refused_rcpt_names_helo_sender_and_recipient(gateway):
    g = gateway()
    r = g.raw("inbound")
    # Before EHLO: no helo=, no from=; the recipient tried is known all the same.
    r.cmd("RCPT TO:<early@elsewhere.test>", 503)
    r.cmd("EHLO client.test", 250)
    r.cmd("MAIL FROM:<alice@far.test>", 250)
    r.cmd("RCPT TO:<x@elsewhere.test>", 550, "5.7.1 Relay access denied")
    r.cmd("RCPT TO:<bob@ours.test>", 250)
    r.cmd("DATA", 354)
    r.send("Subject: x\r\n\r\nhi\r\n.\r\n")
    queued_id(r)
    # After the message the transaction is over: no from= any more.
    r.cmd("RCPT TO:<late@elsewhere.test>", 503)
    r.cmd("QUIT", 221)
    r.close()
    rejected(g, "inbound", "RCPT", r", to=<early@elsewhere\.test>",
                    "503 5.5.1 Send EHLO or HELO first")
    rejected(g, "inbound", "RCPT",
                    r", helo=client\.test, from=<alice@far\.test>, to=<x@elsewhere\.test>",
                    "550 5.7.1 Relay access denied")
    rejected(g, "inbound", "RCPT", r", helo=client\.test, to=<late@elsewhere\.test>",
                    "503 5.5.1 Send MAIL first")


def test_refused_mail_names_the_sender_it_tried(gateway):
    """A refused MAIL names the sender the client tried, not a transaction's."""
    g = gateway()
    r = session(g, "internal")
    r.cmd("MAIL FROM:<first@ours.test>", 250)
    r.cmd("MAIL FROM:<second@ours.test>", 503, "5.5.1 Sender already given")
    r.cmd("RSET", 250)
    r.cmd("MAIL FROM:<big@ours.test> SIZE=999999999999", 552)
    r.cmd("MAIL FROM:<>", 250)
    r.cmd("RCPT TO:<x@elsewhere.test> NOTIFY=BOGUS", 501)
    r.cmd("QUIT", 221)
    r.close()
    rejected(g, "internal", "MAIL", r", helo=client\.test, from=<second@ours\.test>",
                    "503 5.5.1 Sender already given")
    rejected(g, "internal", "MAIL", r", helo=client\.test, from=<big@ours\.test>",
                    "552 5.3.4 Message size exceeds fixed limit")
    # The null sender is a sender; a RCPT whose argument did not parse is logged as it came.
    rejected(g, "internal", "RCPT",
                    r', helo=client\.test, from=<>, arg="TO:<x@elsewhere\.test> NOTIFY=BOGUS"',
                    "501 5.5.4 Invalid command parameter")


def test_553_on_submission_names_the_refused_sender(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path)
    c = Line(g.port("submission"))
    assert c.cmd("AUTH PLAIN " + plain("alice@ours.test", USERS["alice@ours.test"]))[0] == 235
    code, lines = c.cmd("MAIL FROM:<ceo@bank.test>")
    assert code == 553 and "5.7.1" in lines[0]
    c.close()
    rejected(g, "submission", "MAIL", r", helo=client\.test, from=<ceo@bank\.test>",
                    "553 5.7.1 Sender address not owned by the authenticated user")


def test_arguments_that_do_not_parse_and_hostile_addresses(gateway):
    """An argument that does not parse is logged as it came, quoted and cut; an
    address that holds what a log reader could trip on is quoted as a whole."""
    g = gateway()
    r = session(g)
    r.cmd("MAIL FROM:<a b@far.test>", 501, "5.1.7")
    r.cmd("MAIL FROM:" + "<" + "x" * 300 + "@far.test>", 501)
    r.cmd("MAIL FROM:<alice@far.test>", 250)
    r.cmd('RCPT TO:<"a, to=<v@x>"@elsewhere.test>', 550)
    r.send(b"RCPT TO:<caf\xc3\xa9@ours.test>\r\n")
    want(r, 553, "5.6.7")
    r.cmd("RCPT TO:<\x1b[31mred@ours.test>", 501)
    r.cmd("QUIT", 221)
    r.close()
    rejected(g, "inbound", "MAIL", r', helo=client\.test, arg="FROM:<a b@far\.test>"',
                    "501 5.1.7 Bad sender address syntax")
    # Cut at 200 octets of the argument, and marked.
    rejected(g, "inbound", "MAIL", r', helo=client\.test, arg="FROM:<x{194}\.\.\."',
                    "501 5.1.7 Sender local part longer than 64 octets")
    rejected(g, "inbound", "RCPT",
                    r', helo=client\.test, from=<alice@far\.test>, '
                    r'to="<\\"a, to=<v@x>\\"@elsewhere\.test>"',
                    "550 5.7.1 Relay access denied")
    rejected(g, "inbound", "RCPT",
                    r', helo=client\.test, from=<alice@far\.test>, to="<caf\\xc3\\xa9@ours\.test>"',
                    "553 5.6.7 Non-ASCII recipient address needs the SMTPUTF8 parameter on MAIL")
    rejected(g, "inbound", "RCPT",
                    r', helo=client\.test, from=<alice@far\.test>, '
                    r'arg="TO:<\\x1b\[31mred@ours\.test>"',
                    "501 5.1.3 Bad recipient address syntax")
    assert "\x1b" not in g.log() and "\xc3" not in g.log()
    assert_serving(g)


# ---- The queued line and its Message-ID ----

def send_message(g, content, sender="a@ours.test", bdat=None):
    """One message on the internal door, by DATA (content stuffed by the caller) or by
    BDAT chunks of the given sizes. Returns its queue id."""
    r = session(g, "internal")
    r.cmd(f"MAIL FROM:<{sender}>", 250)
    r.cmd("RCPT TO:<b@far.test>", 250)
    if bdat is None:
        r.cmd("DATA", 354)
        r.send(content + b".\r\n")
    else:
        at = 0
        for i, n in enumerate(bdat):
            last = i == len(bdat) - 1
            r.send(b"BDAT %d%s\r\n" % (n, b" LAST" if last else b"") + content[at:at + n])
            at += n
            if not last:
                want(r, 250, "2.0.0")
        assert at == len(content)
    qid = queued_id(r)
    r.cmd("QUIT", 221)
    r.close()
    return qid


QUEUED = r"{qid}: from=<a@ours\.test>, size={size}, nrcpt=1, proto=ESMTP{field}, status=queued"


def queued(g, qid, field, size=r"\d+"):
    return must(g, QUEUED.format(qid=qid, size=size, field=field))


@pytest.mark.parametrize("header,field", [
    (b"Message-ID: <20250520.42@mail.far.test>\r\n",
     r", message-id=<20250520\.42@mail\.far\.test>"),
    # RFC 5322 2.2.3: folded; the name in any case; the first field wins.
    (b"message-id:\r\n\t<folded.1@far.test>\r\nMessage-ID: <second@far.test>\r\n",
     r", message-id=<folded\.1@far\.test>"),
    # Absent: no field at all (one in the body does not count).
    (b"", ""),
    # Not one plain id: quoted, so that it cannot forge fields.
    (b'Message-ID: <x>", status=sent, to=<v@x>\r\n',
     r', message-id="<x>\\", status=sent, to=<v@x>"'),
])
def test_queued_line_carries_the_message_id(gateway, header, field):
    g = gateway()
    content = b"From: a@ours.test\r\n" + header + b"Subject: s\r\n\r\nMessage-ID: <body@x>\r\n"
    qid = send_message(g, content)
    queued(g, qid, field, size=len(content))


def test_message_id_long_and_overlong(gateway):
    """A 980-octet Message-ID (within the line limit) is logged quoted and cut at
    200 octets; one folded to 1800 octets is kept to 998 and logged as a cut body;
    each line stays short and each message is queued whole."""
    g = gateway()
    long_id = b"<" + b"x" * 970 + b"@far.test>"
    qid = send_message(g, b"Message-ID: " + long_id + b"\r\nSubject: s\r\n\r\nbody\r\n")
    (line,) = queued(g, qid, r', message-id="<x{200}\.\.\.>"')
    assert len(line) < 400
    assert long_id in g.message(qid)[1]
    folded = b"<" + b"y" * 900 + b"\r\n " + b"z" * 900 + b"@far.test>"
    qid = send_message(g, b"Message-ID: " + folded + b"\r\nSubject: s\r\n\r\nbody\r\n")
    (line,) = queued(g, qid, r', message-id="<y{199}\.\.\."')
    assert len(line) < 400
    assert folded in g.message(qid)[1]


def test_message_id_split_across_bdat_chunks(gateway):
    g = gateway()
    content = b"Subject: s\r\nMessage-ID:\r\n <chunked@far.test>\r\n\r\nbody\r\n"
    cut = content.index(b"ID:") + 1
    qid = send_message(g, content, bdat=[cut, 3, len(content) - cut - 3])
    queued(g, qid, r", message-id=<chunked@far\.test>", size=len(content))


def test_message_id_after_the_header_is_not_taken(gateway):
    """The scan ends at the first line that is not a header field."""
    g = gateway()
    qid = send_message(g, b"Subject: s\r\nthis is no field\r\nMessage-ID: <late@far.test>\r\n")
    queued(g, qid, "")


# ---- Deferred and bounced lines name the relay ----

OUTCOME = (r"{qid}: to=<{to}>, relay={relay}, delay=[\d.]+, attempt=\d+, dsn={dsn}, "
           r"status={status}, reply=\"{reply}\"")


def outcomes(g, qid, to, relay, dsn, status, reply):
    return must(g, OUTCOME.format(qid=qid, to=re.escape(to), relay=relay, dsn=re.escape(dsn),
                                  status=status, reply=reply))


# Addresses of their own (127.0.0.111-119), so that no other test's server answers there.
FAR, HOME = "127.0.0.111", "127.0.0.112"


def mx_setup(gateway, dnsmasq, peers, far_opts=None, far_listens=True, delivery="retry 1h"):
    """far.test's MX at FAR (an aiosmtpd peer with far_opts, or nobody listening) and
    home.test's MX at HOME, where the bounces go."""
    far = peers(host=FAR, port=25, **(far_opts or {})) if far_listens else None
    home = peers(host=HOME, port=25)
    dns = dns_for(dnsmasq, "--mx-host=far.test,mx.far.test,10", f"--host-record=mx.far.test,{FAR}",
                  "--mx-host=home.test,mx.home.test,10", f"--host-record=mx.home.test,{HOME}")
    return start(gateway, dns, delivery=delivery), far, home


def test_deferred_line_names_the_relay_that_answered_451(gateway, dnsmasq, peers):
    g, _, _ = mx_setup(gateway, dnsmasq, peers,
                       {"rcpt_replies": {"slow@far.test": "451 4.3.0 try later"}})
    qid = submit(g, "alice@home.test", ["slow@far.test"])
    wait_for(lambda: log_lines(g, qid, "status=deferred"), 20, "a deferral")
    outcomes(g, qid, "slow@far.test", r"mx\.far\.test\[127\.0\.0\.111\]:25", "4.3.0",
             "deferred", r"451 4\.3\.0 try later \(in reply to RCPT TO command\)")


def test_deferred_line_names_the_hop_tried_when_none_answered(gateway, dnsmasq):
    """Both MX hosts refuse the connection: relay=none, tried= the last hop."""
    dns = dns_for(dnsmasq, "--mx-host=down.test,mx1.down.test,10",
                  "--mx-host=down.test,mx2.down.test,20",
                  "--host-record=mx1.down.test,127.0.0.113",
                  "--host-record=mx2.down.test,127.0.0.114")
    g = start(gateway, dns, delivery="retry 1h")
    qid = submit(g, "s@ours.test", ["r@down.test"])
    wait_for(lambda: log_lines(g, qid, "status=deferred"), 20, "a deferral")
    outcomes(g, qid, "r@down.test", r"none, tried=mx2\.down\.test\[127\.0\.0\.114\]:25", "4.4.1",
             "deferred", r"connect to mx2\.down\.test\[127\.0\.0\.114\]:25: Connection refused")
    # Each hop's own failure is on its hop-failed line.
    must(g, rf"{qid}: relay=mx1\.down\.test\[127\.0\.0\.113\]:25, event=hop-failed, .*")


def test_deferred_line_after_a_dns_failure_has_no_hop(gateway):
    class Down:
        server = f"127.0.0.1:{free_port()}"

    g = start(gateway, Down, delivery="retry 1h")
    qid = submit(g, "alice@home.test", ["x@far.test"])
    wait_for(lambda: log_lines(g, qid, "status=deferred"), 20, "a deferral")
    outcomes(g, qid, "x@far.test", "none", "4.4.3", "deferred", ".*")


def test_bounced_line_names_the_relay_that_refused(gateway, dnsmasq, peers):
    g, _, home = mx_setup(gateway, dnsmasq, peers, {
        "rcpt_replies": {"gone@far.test": "550 5.1.1 <gone@far.test>: no such user"}})
    qid = submit(g, "alice@home.test", ["gone@far.test"])
    wait_messages(home, 1)
    wait_gone(g, qid)
    outcomes(g, qid, "gone@far.test", r"mx\.far\.test\[127\.0\.0\.111\]:25", "5.1.1",
             "bounced", r"550 5\.1\.1 <gone@far\.test>: no such user "
             r"\(in reply to RCPT TO command\)")


def test_bounced_after_give_up_names_the_hop_tried(gateway, dnsmasq, peers):
    """Nobody listens on far.test's MX until the message expires: the bounce line
    says no relay answered and which one was tried."""
    g, _, home = mx_setup(gateway, dnsmasq, peers, far_listens=False,
                          delivery="retry 1s\n give-up 2s\n delay-warning off")
    qid = submit(g, "alice@home.test", ["x@far.test"])
    wait_messages(home, 1, timeout=30)
    wait_gone(g, qid)
    outcomes(g, qid, "x@far.test", r"none, tried=mx\.far\.test\[127\.0\.0\.111\]:25", "4.4.1",
             "bounced", r"delivery time expired; last error: connect to "
             r"mx\.far\.test\[127\.0\.0\.111\]:25: Connection refused")


# ---- The dialogue at debug level ----

def dialogue(g, key, value, direction):
    """The quoted lines of one side of the dialogue, in order."""
    pat = re.compile(rf"\S+: {key}={re.escape(value)}, dir={direction}, line=\"(.*)\"")
    return [m.group(1) for m in map(pat.fullmatch, messages(g)) if m]


def sid_of(g, port):
    """The session id of the connection from client port `port`."""
    (m,) = [re.fullmatch(rf"-: sid=(\w+), client=\[127\.0\.0\.1\]:{port}, .*event=connect", x)
            for x in messages(g) if f"]:{port}, " in x and "event=connect" in x]
    return m.group(1)


def test_server_dialogue_both_ways_without_content(gateway):
    g = gateway()
    r = g.raw("internal")
    sid = sid_of(g, r.sock.getsockname()[1])
    r.cmd("EHLO client.test", 250)
    r.cmd("MAIL FROM:<a@ours.test>", 250)
    r.cmd("RCPT TO:<b@far.test>", 250)
    r.cmd("DATA", 354)
    secret = "the-content-never-logged-7f3a"
    r.send(f"Subject: {secret}\r\n\r\n{secret}\r\n.\r\n")
    qid = queued_id(r)
    r.send(b"NOOP \"quoted\" \\ \x01\r\n")
    want(r, 250, "2.0.0")
    r.send(b"NOOP\nMAIL FROM:<x@y>\r\n")  # one line: only CR LF ends it
    want(r, 500, "5.5.2")
    r.cmd("QUIT", 221)
    r.close()
    wait_for(lambda: "event=disconnect" in g.log(), what="the session's end")
    assert dialogue(g, "sid", sid, "in") == [
        "EHLO client.test", "MAIL FROM:<a@ours.test>", "RCPT TO:<b@far.test>", "DATA",
        r"NOOP \"quoted\" \\ \x01", r"NOOP\x0aMAIL FROM:<x@y>", "QUIT"]
    out = dialogue(g, "sid", sid, "out")
    assert out[0] == "220 gate26.test ESMTP gate26"
    assert out[1:4] == ["250-gate26.test", "250-PIPELINING", "250-SIZE 10485760"] or \
        out[1] == "250-gate26.test"
    assert "250 DSN" in out and "354 End data with <CR><LF>.<CR><LF>" in out
    assert f"250 2.0.0 Ok: queued as {qid}" in out and out[-1] == "221 2.0.0 Bye"
    # The content: its size only, keyed by the queue id, once.
    size = len(f"Subject: {secret}\r\n\r\n{secret}\r\n")
    must(g, rf"{qid}: sid={sid}, dir=in, content={size}")
    assert secret not in g.log()


def test_auth_is_redacted_in_the_dialogue(gateway, ca, tmp_path):
    """Neither the password nor its base64 ever reaches the log: PLAIN with an
    initial response, LOGIN step by step, a wrong password, and AUTH in the clear."""
    g = auth_gateway(gateway, ca, tmp_path)
    password = USERS["bob"]
    secrets = [password, plain("bob", password), b64("bob"), b64(password),
               plain("bob", "wrong guess"), b64("wrong guess"), "wrong guess"]
    # In the clear: refused (538), and redacted all the same.
    r = g.raw("submission")
    r.cmd("EHLO client.test", 250)
    r.cmd("AUTH PLAIN " + plain("bob", password), 538)
    r.cmd("QUIT", 221)
    r.close()
    # PLAIN, a wrong password first: the failure line fail2ban reads is unchanged.
    c = Line(g.port("submission"))
    assert c.cmd("AUTH PLAIN " + plain("bob", "wrong guess"))[0] == 535
    # A malformed AUTH line keeps its secret too.
    assert c.cmd("AUTH PLAIN\t" + plain("bob", "tab secret"))[0] // 100 == 5
    secrets += [plain("bob", "tab secret"), "tab secret"]
    assert c.cmd("AUTH PLAIN " + plain("bob", password))[0] == 235
    assert c.cmd("QUIT")[0] == 221
    c.close()
    # LOGIN: the exchange's lines.
    c = Line(g.port("submission"))
    assert c.cmd("AUTH LOGIN")[0] == 334
    assert c.cmd(b64("bob"))[0] == 334
    assert c.cmd(b64(password))[0] == 235
    assert c.cmd("QUIT")[0] == 221
    c.close()
    # smtplib, as a mail client does it.
    with smtplib.SMTP("127.0.0.1", g.port("submission"), local_hostname="client.test",
                      timeout=10) as s:
        s.starttls(context=ctx())
        s.login("alice@ours.test", USERS["alice@ours.test"])
        s.sendmail("alice@ours.test", ["x@far.test"], "Subject: s\r\n\r\nsmtplib-body-9c1\r\n")
    secrets += [USERS["alice@ours.test"], plain("alice@ours.test", USERS["alice@ours.test"]),
                "smtplib-body-9c1"]
    wait_for(lambda: g.log().count("event=disconnect") >= 4, what="four sessions to end")
    log = g.log()
    for s in secrets:
        assert s not in log, f"{s!r} is in the log"
    n = len(plain("bob", password))
    must(g, rf'-: sid=\w+, dir=in, line="AUTH PLAIN", redacted={n}')
    must(g, r'-: sid=\w+, dir=in, line="AUTH LOGIN"')
    must(g, rf"-: sid=\w+, dir=in, redacted={len(b64('bob'))}")
    must(g, rf"-: sid=\w+, dir=in, redacted={len(b64(password))}")
    must(g, r'-: sid=\w+, dir=out, line="334 VXNlcm5hbWU6"')  # the server's own prompt
    must(g, r'-: sid=\w+, client=\[127\.0\.0\.1\], door=submission, event=auth-failed, '
                   r'user="bob", reason=bad-credentials')
    assert_serving(g, "submission")


def test_overlong_line_is_not_shown(gateway, ca, tmp_path):
    """A line too long to read whole may be an AUTH line: it is not shown, only said."""
    g = auth_gateway(gateway, ca, tmp_path)
    c = Line(g.port("submission"))
    code, _ = c.cmd("AUTH PLAIN " + "QUJD" * 400)
    assert code == 500
    c.close()
    must(g, r"-: sid=\w+, dir=in, too-long=yes")
    assert "QUJDQUJD" not in g.log()


def test_client_dialogue_both_ways_without_content(gateway, peers):
    inside = peers()
    # No callout: the dialogue below is the delivery's alone (test_verify.py has the probe's).
    g = start(gateway, None, doors={"inbound": {"tls": "none"}},
              domains={"ours.test": {"relay": f"smtp://127.0.0.1:{inside.port}",
                                     "verify-recipients": "off"}})
    secret = b"client-content-never-logged-51e"
    body = b"Subject: " + secret + b"\r\n\r\n" + secret + b"\r\n"
    qid = submit(g, "alice@far.test", ["bob@ours.test"], body=body, role="inbound")
    wait_messages(inside, 1)
    wait_gone(g, qid)
    relay = f"127.0.0.1[127.0.0.1]:{inside.port}"
    sent = dialogue(g, "relay", relay, "out")
    assert sent[0] == "EHLO gate26.test" and sent[1].startswith("MAIL FROM:<alice@far.test>")
    assert sent[2:4] == ["RCPT TO:<bob@ours.test>", "DATA"]
    got = dialogue(g, "relay", relay, "in")
    assert got[0].startswith("220 ") and any(x.startswith("250-") for x in got)
    assert "354 End data with <CR><LF>.<CR><LF>" in got and "250 2.0.0 Ok: queued" in got
    # The content: its size only (with our Received header), once, between DATA and its reply.
    (content,) = find(g, rf"{qid}: relay={re.escape(relay)}, dir=out, content=(\d+)")
    assert int(content.rsplit("=", 1)[1]) == len(inside.messages()[0].data)
    assert secret not in g.log().encode()


def test_nothing_of_the_dialogue_at_info_level(gateway):
    g = gateway(start=False)
    g.conf.write_text(g.conf.read_text().replace("log-level debug", "log-level info"))
    g.start()
    r = session(g, "internal")
    r.cmd("MAIL FROM:<a@ours.test>", 250)
    r.cmd("RCPT TO:<x@elsewhere.test>", 250)
    r.cmd("QUIT", 221)
    r.close()
    wait_for(lambda: "event=disconnect" in g.log(), what="the session's end")
    assert " dir=" not in g.log() and "debug:" not in g.log()
