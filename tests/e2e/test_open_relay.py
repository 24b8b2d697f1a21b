# SPDX-License-Identifier: MIT
"""Open-relay attempts on every door (issue "TLS, authentication and access
control"): other domains, the %-hack, bang paths, a quoted '@', source
routes, user@ours@other and address literals are refused, or confined:

  inbound      only our domains: every trick gets its exact refusal, and
               what is accepted is queued with exactly the address that
               policy approved (a source route dropped, nothing rewritten);
  internal     relays anywhere, but only for the addresses on its allow
               list: anyone else gets 554 5.7.1 at connect and nothing more;
  submission   no MAIL before STARTTLS (530 5.7.0) and none before AUTH
  submissions  (530 5.7.0), so no RCPT at all (503 5.5.1).

test_roles.py has each door's basic acceptance; this file runs one table of
tricks against all four doors. Every refusal is checked to the exact reply,
then the daemon is shown to still serve."""
import re
import smtplib
import ssl

import pytest

from conftest import UNVERIFIED_RELAY, Raw, assert_serving, auth_block, envelope

RELAY_DENIED = (550, "5.7.1 Relay access denied")
RCPT_SYNTAX = (501, "5.1.3 Bad recipient address syntax")
RCPT_OK = (250, "2.1.5 Recipient ok")
CONNECT_DENIED = (554, "5.7.1 Access denied: this door is not open to your address")
TLS_FIRST = (530, "5.7.0 Must issue a STARTTLS command first")
AUTH_FIRST = (530, "5.7.0 Authentication required")
MAIL_FIRST = (503, "5.5.1 Send MAIL first")
PATH_SYNTAX = (501, "5.5.4 Syntax: RCPT TO:<address> [parameters]")

DOMAINS = {"ours.test": None, "example.test": UNVERIFIED_RELAY}

# (RCPT argument, inbound reply, the address queued where it is accepted;
#  None: refused by the grammar on every door).
TRICKS = [
    # Another domain, in any case.
    ("<user@other.test>", RELAY_DENIED, "user@other.test"),
    ("<USER@OTHER.TEST>", RELAY_DENIED, "USER@OTHER.TEST"),
    # %-hack ('%' is atext: the grammar takes it, policy refuses the route in it).
    ("<user%other.test@ours.test>", RELAY_DENIED, "user%other.test@ours.test"),
    ("<user%OTHER.test@OURS.TEST>", RELAY_DENIED, "user%OTHER.test@OURS.TEST"),
    ("<a%b%other.test@ours.test>", RELAY_DENIED, "a%b%other.test@ours.test"),
    ("<user%ours.test@ours.test>", RELAY_DENIED, "user%ours.test@ours.test"),
    # Bang paths (UUCP), one and two hops.
    ("<other.test!user@ours.test>", RELAY_DENIED, "other.test!user@ours.test"),
    ("<a.test!b.test!user@ours.test>", RELAY_DENIED, "a.test!b.test!user@ours.test"),
    # Route characters inside a Quoted-string: '@', '%' and '!'.
    ('<"user@other.test"@ours.test>', RELAY_DENIED, '"user@other.test"@ours.test'),
    ('<"user%other.test"@ours.test>', RELAY_DENIED, '"user%other.test"@ours.test'),
    ('<"other.test!user"@ours.test>', RELAY_DENIED, '"other.test!user"@ours.test'),
    ('<"user\\@other.test"@ours.test>', RELAY_DENIED, '"user\\@other.test"@ours.test'),
    # Source routes (RFC 5321 4.1.2: accepted by the grammar; appendix C: ignored):
    # what policy judges, and what is queued, is the final mailbox alone.
    ("<@ours.test:user@other.test>", RELAY_DENIED, "user@other.test"),
    ("<@ours.test,@example.test:user@other.test>", RELAY_DENIED, "user@other.test"),
    ("<@other.test:user@ours.test>", RCPT_OK, "user@ours.test"),
    ("<@a.test,@b.test:user@ours.test>", RCPT_OK, "user@ours.test"),
    # A route's At-domain takes no address literal, and a route needs its ':'.
    ("<@[127.0.0.1]:user@ours.test>", RCPT_SYNTAX, None),
    ("<@ours.test,user@other.test>", RCPT_SYNTAX, None),
    ("<ours.test:user@other.test>", RCPT_SYNTAX, None),
    # user@ours@other: after the Domain the grammar wants '>'.
    ("<user@ours.test@other.test>", RCPT_SYNTAX, None),
    ("<user@other.test@ours.test>", RCPT_SYNTAX, None),
    ("<user@@ours.test>", RCPT_SYNTAX, None),
    # Address literals: never one of our domains.
    ("<user@[127.0.0.1]>", RELAY_DENIED, "user@[127.0.0.1]"),
    ("<user@[IPv6:::1]>", RELAY_DENIED, "user@[IPv6:::1]"),
    ("<user@[ipv6:::1]>", RELAY_DENIED, "user@[ipv6:::1]"),
    ("<postmaster@[127.0.0.1]>", RELAY_DENIED, "postmaster@[127.0.0.1]"),
    # ... and a General-address-literal has no registered tag: syntax.
    ("<user@[x-tag:ours.test]>", RCPT_SYNTAX, None),
    ("<user@[ours.test]>", RCPT_SYNTAX, None),
    # A trailing dot is not in the Domain grammar (RFC 5321 4.1.2).
    ("<user@ours.test.>", RCPT_SYNTAX, None),
    # Not ours: a subdomain, a suffix, a name that ends like ours.
    ("<user@sub.ours.test>", RELAY_DENIED, "user@sub.ours.test"),
    ("<user@notours.test>", RELAY_DENIED, "user@notours.test"),
    ("<user@ours.test.other.test>", RELAY_DENIED, "user@ours.test.other.test"),
    ("<postmaster@other.test>", RELAY_DENIED, "postmaster@other.test"),
    # Ours: any case, a quoted local part without route characters, Postmaster.
    ("<user@ours.test>", RCPT_OK, "user@ours.test"),
    ("<USER@OURS.TEST>", RCPT_OK, "USER@OURS.TEST"),
    ('<"user..name"@ours.test>', RCPT_OK, '"user..name"@ours.test'),
    ("<someone@example.test>", RCPT_OK, "someone@example.test"),
    # RFC 5321 4.5.1: <Postmaster> without a domain must be accepted.
    ("<postmaster>", RCPT_OK, "Postmaster"),
    ("<POSTMASTER>", RCPT_OK, "Postmaster"),
    # Not a path at all.
    ("user@other.test", PATH_SYNTAX, None),
    ("<user@other.test", PATH_SYNTAX, None),
]

ACCEPTED_IN = [(rcpt, queued) for rcpt, reply, queued in TRICKS if reply == RCPT_OK]
PARSED = [(rcpt, queued) for rcpt, _, queued in TRICKS if queued is not None]
SYNTAX = [(rcpt, reply) for rcpt, reply, queued in TRICKS if queued is None]


def rcpt_addresses(g, qid):
    head, _ = g.message(qid)
    env = envelope(head)
    return env["door"], [r[2] for r in env["rcpt"]]


def send(r, rcpts, subject):
    """MAIL, the RCPTs (each 250), DATA; returns the queue id."""
    r.cmd("MAIL FROM:<a@sender.test>", 250, "2.1.0 Sender ok")
    for rcpt in rcpts:
        r.cmd(f"RCPT TO:{rcpt}", *RCPT_OK)
    r.cmd("DATA", 354)
    r.send(f"Subject: {subject}\r\n\r\nbody\r\n.\r\n")
    return r.expect(250, "2.0.0 Ok: queued as ").split()[-1]


# ---------------------------------------------------------------- inbound


@pytest.fixture
def inbound(gateway):
    return gateway(doors={"inbound": {"tls": "none", "max-errors": "1000"}}, domains=DOMAINS)


def test_inbound_each_trick_gets_its_exact_reply(inbound):
    """One session: each RCPT gets its reply and adds nothing when refused;
    the message is then queued for exactly the accepted ones."""
    g = inbound
    r = g.raw("inbound")
    r.cmd("EHLO client.test", 250)
    r.cmd("MAIL FROM:<a@sender.test>", 250, "2.1.0 Sender ok")
    for rcpt, (code, text), _ in TRICKS:
        got = r.cmd(f"RCPT TO:{rcpt}", code)
        assert got.startswith(text), f"RCPT TO:{rcpt}: {code} {got!r}"
    r.cmd("DATA", 354)
    r.send("Subject: tricks\r\n\r\nbody\r\n.\r\n")
    qid = r.expect(250, "2.0.0 Ok: queued as ").split()[-1]
    r.cmd("QUIT", 221)
    r.close()
    assert g.queue_files() == [qid]
    door, queued = rcpt_addresses(g, qid)
    assert door == "inbound"
    assert queued == [q for _, q in ACCEPTED_IN]
    log = g.log()
    # Each refusal names the client's HELO name, the sender and what it tried (README "Logs").
    assert re.search(r'event=reject, cmd=RCPT, helo=client\.test, from=<a@sender\.test>, '
                     r'to=\S+, reply="550 5\.7\.1 Relay access denied"', log)
    assert re.search(r'event=reject, cmd=RCPT, helo=client\.test, from=<a@sender\.test>, '
                     r'arg=".*", reply="501 5\.1\.3 Bad recipient address syntax"', log)
    assert_serving(g, "inbound")


@pytest.mark.parametrize("rcpt, reply", [(t[0], t[1]) for t in TRICKS if t[1] != RCPT_OK])
def test_inbound_refused_alone_queues_nothing(inbound, rcpt, reply):
    """Each refused trick as the only recipient: nothing reaches the spool."""
    g = inbound
    r = g.raw("inbound")
    r.cmd("EHLO client.test", 250)
    r.cmd("MAIL FROM:<a@sender.test>", 250, "2.1.0")
    assert r.cmd(f"RCPT TO:{rcpt}", reply[0]).startswith(reply[1])
    r.cmd("DATA", 554, "5.5.1 No valid recipients")
    r.cmd("QUIT", 221)
    r.close()
    assert g.queue_files() == [] and g.tmp_files() == []
    assert_serving(g, "inbound")


@pytest.mark.parametrize("rcpt, queued", ACCEPTED_IN)
def test_inbound_accepted_queues_the_address_policy_approved(inbound, rcpt, queued):
    g = inbound
    r = g.raw("inbound")
    r.cmd("EHLO client.test", 250)
    qid = send(r, [rcpt], "one")
    r.cmd("QUIT", 221)
    r.close()
    assert rcpt_addresses(g, qid) == ("inbound", [queued])
    assert_serving(g, "inbound")


def test_inbound_orcpt_does_not_redirect(inbound):
    """ORCPT (RFC 3461 4.2) is only carried: the recipient is still ours."""
    g = inbound
    r = g.raw("inbound")
    r.cmd("EHLO client.test", 250)
    r.cmd("MAIL FROM:<a@sender.test>", 250, "2.1.0")
    r.cmd("RCPT TO:<user@other.test> ORCPT=rfc822;user@ours.test", *RELAY_DENIED)
    r.cmd("RCPT TO:<user@ours.test> ORCPT=rfc822;user@other.test", *RCPT_OK)
    r.cmd("DATA", 354)
    r.send("Subject: orcpt\r\n\r\nbody\r\n.\r\n")
    qid = r.expect(250, "2.0.0 Ok: queued as ").split()[-1]
    r.close()
    head, _ = g.message(qid)
    rcpts = envelope(head)["rcpt"]
    assert [x[2] for x in rcpts] == ["user@ours.test"]
    assert rcpts[0][3] == "rfc822;user@other.test"
    assert_serving(g, "inbound")


def test_inbound_smtputf8_domain_of_another_is_refused(inbound):
    g = inbound
    r = g.raw("inbound")
    r.cmd("EHLO client.test", 250)
    r.cmd("MAIL FROM:<a@sender.test> SMTPUTF8", 250, "2.1.0")
    r.send("RCPT TO:<user@öther.test>\r\n".encode())
    r.expect(*RELAY_DENIED)
    r.send("RCPT TO:<üser%other.test@ours.test>\r\n".encode())
    r.expect(*RELAY_DENIED)
    r.close()
    assert_serving(g, "inbound")


# ---------------------------------------------------------------- internal


def test_internal_allowed_client_relays_each_parsed_address_as_written(gateway):
    """Confined by the allow list: an allowed client may relay anywhere, and
    what is queued is the mailbox as written (a source route dropped)."""
    g = gateway(doors={"internal": {"allow": "127.0.0.1/32", "tls": "none"}}, domains=DOMAINS)
    r = Raw(source="127.0.0.1", port=g.port("internal"))
    r.expect(220)
    r.cmd("EHLO client.test", 250)
    qid = send(r, [rcpt for rcpt, _ in PARSED], "internal")
    r.cmd("QUIT", 221)
    r.close()
    assert rcpt_addresses(g, qid) == ("internal", [q for _, q in PARSED])
    assert_serving(g)


@pytest.mark.parametrize("rcpt, reply", SYNTAX)
def test_internal_grammar_refusals_are_the_same(gateway, rcpt, reply):
    g = gateway(doors={"internal": {"allow": "127.0.0.1/32", "tls": "none"}}, domains=DOMAINS)
    r = g.raw("internal")
    r.cmd("EHLO client.test", 250)
    r.cmd("MAIL FROM:<a@sender.test>", 250, "2.1.0")
    assert r.cmd(f"RCPT TO:{rcpt}", reply[0]).startswith(reply[1])
    r.cmd("QUIT", 221)
    r.close()
    assert_serving(g)


def test_internal_client_outside_the_allow_list_gets_only_554(gateway):
    """From 127.0.0.2 with allow 127.0.0.1/32: every trick, pipelined, gets
    nothing but the 554 at connect and the close."""
    g = gateway(doors={"internal": {"allow": "127.0.0.1/32", "tls": "none"}}, domains=DOMAINS)
    r = Raw(source="127.0.0.2", port=g.port("internal"))
    r.send("EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\n"
           + "".join(f"RCPT TO:{rcpt}\r\n" for rcpt, _, _ in TRICKS)
           + "DATA\r\nSubject: x\r\n\r\nx\r\n.\r\n")
    r.expect(*CONNECT_DENIED)
    assert r.is_closed(), "the connection stays open after 554"
    assert r.buf == b"", f"more than the 554: {r.buf!r}"
    r.close()
    assert g.queue_files() == [] and g.tmp_files() == []
    assert_serving(g)


# ---------------------------------------------------------------- submission, submissions


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
def submission(gateway, certs, tmp_path):
    return gateway(doors={"submission": {"max-errors": "1000"},
                          "submissions": {"max-errors": "1000"}}, domains=DOMAINS, tls=certs,
                   extra=auth_block(tmp_path / "auth"))


def test_submission_in_the_clear_takes_no_mail(submission):
    g = submission
    r = g.raw("submission")
    r.cmd("EHLO client.test", 250)
    r.cmd("MAIL FROM:<a@ours.test>", *TLS_FIRST)
    for rcpt, _, _ in TRICKS:
        r.cmd(f"RCPT TO:{rcpt}", *MAIL_FIRST)
    r.cmd("DATA", *MAIL_FIRST)
    r.cmd("QUIT", 221)
    r.close()
    assert g.queue_files() == [] and g.tmp_files() == []
    assert_serving(g, "submission")


def check_no_mail_without_auth(c):
    """In TLS, before AUTH: MAIL is refused, so every RCPT is out of sequence."""
    c.ehlo()
    assert c.docmd("MAIL FROM:<a@ours.test>") == (AUTH_FIRST[0], AUTH_FIRST[1].encode())
    for rcpt, _, _ in TRICKS:
        assert c.docmd(f"RCPT TO:{rcpt}") == (MAIL_FIRST[0], MAIL_FIRST[1].encode()), rcpt
    assert c.docmd("DATA") == (MAIL_FIRST[0], MAIL_FIRST[1].encode())


def test_submission_after_starttls_takes_no_mail_without_auth(submission):
    g = submission
    with smtplib.SMTP("127.0.0.1", g.port("submission"), local_hostname="client.test") as c:
        c.starttls(context=tls_context())
        check_no_mail_without_auth(c)
    assert g.queue_files() == [] and g.tmp_files() == []
    assert_serving(g, "submission")


def test_submissions_takes_no_mail_without_auth(submission):
    g = submission
    with smtplib.SMTP_SSL("127.0.0.1", g.port("submissions"), local_hostname="client.test",
                          context=tls_context()) as c:
        check_no_mail_without_auth(c)
    assert g.queue_files() == [] and g.tmp_files() == []
    assert_serving(g, "submission")
