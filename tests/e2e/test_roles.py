# SPDX-License-Identifier: MIT
"""Each door's acceptance and refusal, end to end: inbound takes mail only
for our domains (and refuses every open-relay trick), internal refuses
clients outside its allow list at connect (IPv4 and IPv6), and the
submission doors refuse MAIL before TLS and AUTH (test_tls.py and
test_auth.py test those themselves). Every refusal is checked to the exact code, enhanced code and text,
then the daemon is shown to still serve."""
import re
import smtplib
import ssl
import socket

from conftest import UNVERIFIED_RELAY, assert_serving, auth_block, Raw

# Replies from src/smtp/reply.c, as (code, enhanced code + key text).
RELAY_DENIED = (550, "5.7.1 Relay access denied")
RCPT_SYNTAX = (501, "5.1.3 Bad recipient address syntax")
RCPT_OK = (250, "2.1.5 Recipient ok")
CONNECT_DENIED = (554, "5.7.1 Access denied: this door is not open to your address")

INBOUND_ONLY = {"inbound": {"tls": "none"}}
DOMAINS = {"example.test": UNVERIFIED_RELAY, "ours.test": None}


def free_port6():
    """A TCP port on ::1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def rcpt_lines(head):
    return [line for line in head.splitlines() if line.startswith("rcpt ")]


# ---- inbound ------------------------------------------------------------

# Each open-relay attempt, with the reply it gets and why.
RELAY_ATTEMPTS = [
    # Not one of our domains: plain relay.
    ("<user@other.test>", RELAY_DENIED),
    ("<user@example.org>", RELAY_DENIED),
    # %-hack: '%' is atext, so the grammar takes it; policy refuses a local
    # part holding a route character.
    ("<user%other.test@ours.test>", RELAY_DENIED),
    # Bang path: '!' is atext too; refused by policy for the same reason.
    ("<other.test!user@ours.test>", RELAY_DENIED),
    # A quoted '@' is a valid Quoted-string; refused by policy.
    ('<"user@other.test"@ours.test>', RELAY_DENIED),
    # Source route: valid grammar (A-d-l ":" Mailbox); the route is dropped
    # (RFC 5321 C), leaving user@other.test, which is not ours.
    ("<@ours.test:user@other.test>", RELAY_DENIED),
    # Address literals are valid grammar but never one of our domains.
    ("<user@[127.0.0.1]>", RELAY_DENIED),
    ("<user@[IPv6:::1]>", RELAY_DENIED),
    # Two '@': after the Domain the grammar wants '>', so syntax first.
    ("<user@ours.test@other.test>", RCPT_SYNTAX),
    # A subdomain of ours is not configured.
    ("<user@sub.ours.test>", RELAY_DENIED),
    # Postmaster of another domain is an ordinary mailbox elsewhere.
    ("<postmaster@other.test>", RELAY_DENIED),
    ("<Postmaster@other.test>", RELAY_DENIED),
    # Trailing dot: Domain = sub-domain *("." sub-domain) has none (4.1.2).
    ("<user@ours.test.>", RCPT_SYNTAX),
    ("<user@OURS.TEST.>", RCPT_SYNTAX),
]

# Accepted forms on the inbound door, and the address stored for each.
ACCEPTED = [
    ("<user@ours.test>", "user@ours.test"),
    ("<USER@OURS.TEST>", "USER@OURS.TEST"),
    ("<user@Ours.Test>", "user@Ours.Test"),
    ("<someone@example.test>", "someone@example.test"),
    # RFC 5321 4.5.1: <Postmaster> without a domain must be accepted.
    ("<Postmaster>", "Postmaster"),
    ("<postmaster>", "Postmaster"),
    ("<postmaster@ours.test>", "postmaster@ours.test"),
    # A source route whose final mailbox is ours: route ignored (RFC 5321 C).
    ("<@other.test:user2@ours.test>", "user2@ours.test"),
]


def test_inbound_each_relay_attempt_refused_exactly(gateway):
    """Each refusal in its own session; after it, a good RCPT still works."""
    g = gateway(doors=INBOUND_ONLY, domains=DOMAINS)
    for addr, (code, text) in RELAY_ATTEMPTS:
        r = g.raw("inbound")
        r.cmd("EHLO client.test", 250)
        r.cmd("MAIL FROM:<a@sender.test>", 250, "2.1.0")
        got = r.cmd(f"RCPT TO:{addr}", code, text)
        assert got.startswith(text), f"RCPT TO:{addr}: {code} {got!r}"
        # Nothing was added: DATA now says every RCPT was refused.
        r.cmd("DATA", 554, "5.5.1 No valid recipients")
        r.cmd("RCPT TO:<user@ours.test>", *RCPT_OK)
        r.cmd("RSET", 250, "2.0.0 Ok")
        r.cmd("QUIT", 221, "2.0.0 Bye")
        r.close()
    log = g.log()
    assert re.search(r'event=reject, cmd=RCPT, helo=client\.test, from=<a@sender\.test>, '
                     r'to=\S+, reply="550 5\.7\.1 Relay access denied"', log)
    assert re.search(r'event=reject, cmd=RCPT, helo=client\.test, from=<a@sender\.test>, '
                     r'arg=".*", reply="501 5\.1\.3 Bad recipient address syntax"', log)
    assert g.queue_files() == []
    assert_serving(g)


def test_inbound_accepts_our_domains_any_case_and_postmaster(gateway):
    g = gateway(doors=INBOUND_ONLY, domains=DOMAINS)
    r = g.raw("inbound")
    r.cmd("EHLO client.test", 250)
    r.cmd("MAIL FROM:<a@sender.test>", 250, "2.1.0 Sender ok")
    for addr, _ in ACCEPTED:
        r.cmd(f"RCPT TO:{addr}", *RCPT_OK)
    r.cmd("DATA", 354, "End data with <CR><LF>.<CR><LF>")
    r.send("Subject: in\r\n\r\nhello\r\n.\r\n")
    text = r.expect(250, "2.0.0 Ok: queued as ")
    qid = text.split()[-1]
    r.cmd("QUIT", 221)
    r.close()
    assert g.queue_files() == [qid]
    head, body = g.message(qid)
    assert "\ndoor inbound\n" in head
    assert "\nsender <a@sender.test>\n" in head
    stored = [line.split()[3] for line in rcpt_lines(head)]
    assert stored == [want for _, want in ACCEPTED]
    assert body.endswith(b"Subject: in\r\n\r\nhello\r\n")
    assert_serving(g)


def test_inbound_refusals_then_accepted_rcpt_same_transaction(gateway):
    """All relay attempts in one transaction, then good recipients: the
    message is queued for the good ones only."""
    g = gateway(doors={"inbound": {"tls": "none", "max-errors": "100"}}, domains=DOMAINS)
    with smtplib.SMTP("127.0.0.1", g.port("inbound"), local_hostname="client.test") as c:
        c.ehlo()
        assert c.mail("a@sender.test") == (250, b"2.1.0 Sender ok")
        for addr, (code, text) in RELAY_ATTEMPTS:
            got = c.docmd("RCPT TO:" + addr)
            assert got == (code, text.encode()), addr
        assert c.rcpt("user@ours.test") == (250, b"2.1.5 Recipient ok")
        assert c.docmd("RCPT TO:<Postmaster>") == (250, b"2.1.5 Recipient ok")
        code, text = c.data(b"Subject: mixed\r\n\r\nbody\r\n")
        assert code == 250 and text.startswith(b"2.0.0 Ok: queued as "), (code, text)
        qid = text.split()[-1].decode()
    assert g.queue_files() == [qid]
    head, _ = g.message(qid)
    assert rcpt_lines(head) == ["rcpt - - user@ours.test =", "rcpt - - Postmaster ="]
    assert "\ndoor inbound\n" in head
    assert_serving(g)


def test_inbound_smtplib_sendmail_to_our_domain(gateway):
    g = gateway(doors=INBOUND_ONLY, domains=DOMAINS)
    with smtplib.SMTP("127.0.0.1", g.port("inbound"), local_hostname="client.test") as c:
        refused = c.sendmail("a@sender.test", ["x@ours.test", "y@elsewhere.test"],
                             b"Subject: s\r\n\r\nbody\r\n")
        assert refused == {"y@elsewhere.test": (550, b"5.7.1 Relay access denied")}
    q = g.queue_files()
    assert len(q) == 1
    head, _ = g.message(q[0])
    assert rcpt_lines(head) == ["rcpt - - x@ours.test ="]
    assert "\ndoor inbound\n" in head
    assert_serving(g)


def test_inbound_on_ipv6_loopback(gateway):
    port = free_port6()
    g = gateway(doors={"inbound": {"tls": "none", "address": f"[::1]:{port}"}},
                domains=DOMAINS)
    assert f"listener=[::1]:{port}, door=inbound, event=listening" in g.log()
    r = Raw(port, host="::1")
    r.expect(220, "gate26.test ESMTP gate26")
    r.cmd("EHLO [IPv6:::1]", 250)
    r.cmd("MAIL FROM:<a@sender.test>", 250, "2.1.0")
    r.cmd("RCPT TO:<user@other.test>", *RELAY_DENIED)
    r.cmd("RCPT TO:<user@ours.test>", *RCPT_OK)
    r.cmd("DATA", 354)
    r.send("Subject: v6\r\n\r\nbody\r\n.\r\n")
    qid = r.expect(250, "2.0.0 Ok: queued as ").split()[-1]
    r.cmd("QUIT", 221)
    r.close()
    head, body = g.message(qid)
    assert "\ndoor inbound\n" in head
    assert re.search(r"\nclient ::1 \d+\n", head), head
    assert rcpt_lines(head) == ["rcpt - - user@ours.test ="]
    assert body.startswith(b"Received: from ")
    assert_serving(g, host="::1", port=port)


# ---- internal -----------------------------------------------------------

def test_internal_refuses_client_outside_allow_list(gateway):
    g = gateway(doors={"internal": {"allow": "127.0.0.1/32", "tls": "none"}}, domains={})
    r = Raw(source="127.0.0.2", port=g.port("internal"))
    code, lines = r.reply()
    assert (code, lines[0]) == (CONNECT_DENIED[0], CONNECT_DENIED[1]), (code, lines)
    assert r.is_closed(), "the connection stays open after 554"
    r.close()
    log = g.log()
    assert re.search(r"sid=\w+, client=\[127\.0\.0\.2\], door=internal, event=reject, "
                     r"cmd=\S+, reply=\"554 5\.7\.1 Access denied", log), log[-2000:]
    # The refused client cannot even try a command: a second one that does
    # send gets nothing but the 554 and the close.
    r = Raw(source="127.0.0.2", port=g.port("internal"))
    r.send("EHLO client.test\r\nMAIL FROM:<a@b.test>\r\n")
    r.expect(*CONNECT_DENIED)
    assert r.is_closed()
    r.close()
    assert g.queue_files() == []
    assert_serving(g)


def test_internal_allowed_client_relays_anywhere(gateway):
    g = gateway(doors={"internal": {"allow": "127.0.0.1/32", "tls": "none"}}, domains=DOMAINS)
    r = Raw(source="127.0.0.1", port=g.port("internal"))
    r.expect(220, "gate26.test ESMTP gate26")
    r.cmd("EHLO client.test", 250)
    r.cmd("MAIL FROM:<a@ours.test>", 250, "2.1.0")
    rcpts = ["<x@other.test>", "<y@example.org>", "<z@[127.0.0.1]>", "<w%v@far.test>",
             "<user@ours.test>"]
    for addr in rcpts:
        r.cmd(f"RCPT TO:{addr}", *RCPT_OK)
    r.cmd("DATA", 354)
    r.send("Subject: out\r\n\r\nbody\r\n.\r\n")
    qid = r.expect(250, "2.0.0 Ok: queued as ").split()[-1]
    r.cmd("QUIT", 221)
    r.close()
    head, _ = g.message(qid)
    assert "\ndoor internal\n" in head
    assert [line.split()[3] for line in rcpt_lines(head)] == \
        ["x@other.test", "y@example.org", "z@[127.0.0.1]", "w%v@far.test", "user@ours.test"]
    assert_serving(g)


def test_internal_ipv6_allow_list(gateway):
    port = free_port6()
    g = gateway(doors={"internal": {"allow": "::1/128", "tls": "none",
                                    "address": f"[::1]:{port}"}}, domains={})
    with smtplib.SMTP("::1", port, local_hostname="client.test") as c:
        assert c.ehlo()[0] == 250
        assert c.sendmail("a@ours.test", ["b@far.test"], b"Subject: v6\r\n\r\nx\r\n") == {}
    q = g.queue_files()
    assert len(q) == 1
    head, _ = g.message(q[0])
    assert "\ndoor internal\n" in head
    assert re.search(r"\nclient ::1 \d+\n", head), head
    assert_serving(g, host="::1", port=port)


def test_internal_ipv4_door_with_only_ipv6_allow_refuses(gateway):
    g = gateway(doors={"internal": {"allow": "::1/128", "tls": "none"}}, domains={})
    r = g.raw("internal", greet=False)
    r.expect(*CONNECT_DENIED)
    assert r.is_closed()
    r.close()
    assert re.search(r"client=\[127\.0\.0\.1\], door=internal, event=reject, .*"
                     r"reply=\"554 5\.7\.1 ", g.log())
    # Still alive, and still refusing the same way.
    r = g.raw("internal", greet=False)
    r.expect(*CONNECT_DENIED)
    assert r.is_closed()
    r.close()
    assert g.proc.poll() is None
    assert g.queue_files() == []


# ---- submission and submissions: nothing before TLS and AUTH ------------------

def test_submission_doors_refuse_mail_before_tls_and_auth(gateway, certs, tmp_path):
    g = gateway(doors={"submission": {}, "submissions": {}}, domains=DOMAINS, tls=certs,
                extra=auth_block(tmp_path / "auth"))
    # submission (587): STARTTLS offered, no AUTH in the clear, no mail in the clear.
    r = g.raw("submission")
    caps = r.cmd("EHLO client.test", 250)
    words = [line.split()[0].upper() for line in caps.splitlines()[1:]]
    assert "STARTTLS" in words and "AUTH" not in words, caps
    assert "PIPELINING" in words
    r.cmd("MAIL FROM:<a@ours.test>", 530, "5.7.0 Must issue a STARTTLS command first")
    r.cmd("RCPT TO:<b@far.test>", 503, "5.5.1 Send MAIL first")
    r.cmd("DATA", 503, "5.5.1 Send MAIL first")
    r.cmd("MAIL FROM:<>", 530, "5.7.0 Must issue a STARTTLS command first")
    r.cmd("QUIT", 221)
    r.close()
    # Inside TLS (both doors), MAIL still needs AUTH first.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", g.port("submission"), local_hostname="client.test") as c:
        c.starttls(context=ctx)
        c.ehlo()
        try:
            c.sendmail("a@ours.test", ["b@far.test"], b"Subject: x\r\n\r\nx\r\n")
            raise AssertionError("sendmail succeeded without AUTH")
        except smtplib.SMTPSenderRefused as e:
            assert (e.smtp_code, e.smtp_error) == (530, b"5.7.0 Authentication required")
    with smtplib.SMTP_SSL("127.0.0.1", g.port("submissions"), local_hostname="client.test",
                          context=ctx) as c:
        c.ehlo()
        assert not c.has_extn("starttls")
        try:
            c.sendmail("a@ours.test", ["b@far.test"], b"Subject: x\r\n\r\nx\r\n")
            raise AssertionError("sendmail succeeded without AUTH")
        except smtplib.SMTPSenderRefused as e:
            assert (e.smtp_code, e.smtp_error) == (530, b"5.7.0 Authentication required")
    assert_serving(g, "submission")
    assert g.queue_files() == []
    assert g.tmp_files() == []
    assert re.search(r'event=reject, cmd=MAIL, helo=client\.test, from=<a@ours\.test>, '
                     r'reply="530 5\.7\.0 Authentication required"', g.log())
