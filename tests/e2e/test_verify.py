# SPDX-License-Identifier: MIT
"""Recipient verification (docs/verify.md) end to end: the real daemon, an
aiosmtpd internal server (smtp_peer.py) that knows two users and refuses
others with 550 5.1.1 at RCPT, and list files. Callouts are counted on the
internal server: each is a connection whose MAIL is the null sender."""
import os
import signal
import socket
import subprocess
import threading

import pytest

from conftest import BIN, Raw, assert_serving, cmd, free_port, queued_id, wait_for, want
from dnsmasq import dnsmasq  # noqa: F401 (a fixture)
from smtp_peer import Peer

USERS = ("alice@example.test", "bob@example.test")
RCPT_OK = (250, "2.1.5", "Recipient ok")
CONTENT = b"From: <s@sender.test>\r\nSubject: verify\r\n\r\nhello\r\n.\r\n"


def unknown(addr):
    return (550, "5.1.1", f"<{addr}>: Recipient address rejected: User unknown")


def tempfail(addr):
    return (451, "4.4.3", f"<{addr}>: Recipient address verification failed, try again later")


@pytest.fixture
def peer():
    started = []

    def make(**options):
        p = Peer(**options).start()
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def probes(p, addr=None):
    """The callouts the internal server saw (for addr, in any case): the RCPTs of its
    connections whose MAIL is the null sender, answered or not."""
    out = []
    for c in list(p.conns):
        commands = list(c.commands)
        if "MAIL FROM:<>" in commands:
            out += [x[len("RCPT TO:<"):-1] for x in commands if x.startswith("RCPT TO:<")]
    return [r for r in out if addr is None or r.lower() == addr.lower()]


DELIVERY = "retry 1s\n    give-up 1m"


def start(gateway, relay_port=None, domains=None, extra="", delivery=DELIVERY, doors=None):
    """A gateway whose example.test goes to 127.0.0.1:relay_port (verified by callout,
    the default), with queued mail delivered at once."""
    if domains is None:
        domains = {"example.test": f"smtp://127.0.0.1:{relay_port}"}
    return gateway(doors=doors or {"inbound": {"tls": "none"}}, domains=domains, extra=extra,
                   delivery=delivery)


def session(g, sender="s@sender.test"):
    r = g.raw("inbound")
    cmd(r, "EHLO client.test", 250, None)
    cmd(r, f"MAIL FROM:<{sender}>", 250, "2.1.0")
    return r


def rcpt(r, addr, reply):
    return cmd(r, f"RCPT TO:<{addr}>", *reply)


def log_lines(g, needle):
    return [line for line in g.log().splitlines() if needle in line]


# ---- callouts -----------------------------------------------------------------

def test_known_user_is_accepted_and_delivered(gateway, peer):
    p = peer(users=USERS)
    g = start(gateway, p.port)
    r = session(g)
    rcpt(r, "alice@example.test", RCPT_OK)
    cmd(r, "DATA", 354, None)
    r.send(CONTENT)
    queued_id(r)
    cmd(r, "QUIT", 221, "2.0.0")
    wait_for(lambda: p.messages(), what="the delivery")
    (m,) = p.messages()
    assert m.mail_from == "s@sender.test" and m.accepted == ["alice@example.test"]
    assert probes(p) == ["alice@example.test"]
    (line,) = log_lines(g, "event=verify")
    assert "to=<alice@example.test>, result=ok, source=callout" in line
    assert f"relay=127.0.0.1[127.0.0.1]:{p.port}" in line
    assert 'reply="250 2.1.5 Ok (in reply to RCPT TO command)"' in line


def test_unknown_user_is_refused_at_rcpt_and_nothing_is_queued(gateway, peer):
    p = peer(users=USERS)
    g = start(gateway, p.port)
    r = session(g)
    rcpt(r, "carol@example.test", unknown("carol@example.test"))
    cmd(r, "DATA", 554, "5.5.1", "No valid recipients")
    cmd(r, "QUIT", 221, "2.0.0")
    assert g.queue_files() == [] and g.tmp_files() == []
    assert probes(p) == ["carol@example.test"]
    assert p.messages() == []  # no bounce went anywhere either
    (line,) = log_lines(g, "event=verify")
    assert "to=<carol@example.test>, result=unknown, source=callout" in line
    assert ('reply="550 5.1.1 <carol@example.test>: Recipient address rejected: User unknown '
            'in local recipient table (in reply to RCPT TO command)"') in line
    assert any("event=reject, cmd=RCPT" in x and "550 5.1.1" in x for x in g.log().splitlines())
    assert_serving(g, "inbound")


def test_internal_server_down_is_451(gateway):
    port = free_port()  # nobody listens
    g = start(gateway, port)
    r = session(g)
    rcpt(r, "alice@example.test", tempfail("alice@example.test"))
    rcpt(r, "alice@example.test", tempfail("alice@example.test"))  # not cached: asked again
    assert len(log_lines(g, "event=callout, to=<alice@example.test>, status=failed")) == 2
    assert "Connection refused" in log_lines(g, "event=verify")[0]
    assert g.queue_files() == []


@pytest.mark.parametrize("reply", ["451 4.3.0 try later", "421 4.3.2 shutting down",
                                   "452 4.2.2 mailbox full"])
def test_temporary_reply_of_the_internal_server_is_451_and_not_cached(gateway, peer, reply):
    p = peer(rcpt_replies={"alice@example.test": reply})
    g = start(gateway, p.port)
    r = session(g)
    rcpt(r, "alice@example.test", tempfail("alice@example.test"))
    rcpt(r, "alice@example.test", tempfail("alice@example.test"))
    assert len(probes(p, "alice@example.test")) == 2


def test_refused_null_sender_is_451_not_550(gateway, peer):
    """A server that refuses MAIL FROM:<> tells nothing about the recipient."""
    p = peer(users=USERS, mail_reply="550 5.7.1 no bounces here")
    g = start(gateway, p.port)
    r = session(g)
    rcpt(r, "carol@example.test", tempfail("carol@example.test"))


def test_hanging_internal_server_is_451_within_the_budget_and_others_are_served(gateway, peer):
    p = peer(hang_at="RCPT")
    g = start(gateway, p.port, extra="callout-timeout 2s")
    r = session(g)
    r.send("RCPT TO:<alice@example.test>\r\n")
    wait_for(lambda: probes(p), what="the callout")
    # Meanwhile another client is served at once, before the first gets its answer.
    other = Raw(g.port("inbound"))
    other.expect(220)
    cmd(other, "EHLO other.test", 250, None)
    cmd(other, "NOOP", 250, "2.0.0")
    cmd(other, "QUIT", 221, "2.0.0")
    other.close()
    want(r, *tempfail("alice@example.test"))
    assert "no answer within 2s (callout-timeout)" in log_lines(g, "event=verify")[0]
    cmd(r, "QUIT", 221, "2.0.0")


def test_answers_are_cached_within_a_session_and_across_sessions(gateway, peer):
    p = peer(users=USERS)
    g = start(gateway, p.port)
    r = session(g)
    rcpt(r, "alice@example.test", RCPT_OK)
    rcpt(r, "Alice@Example.TEST", RCPT_OK)
    rcpt(r, "carol@example.test", unknown("carol@example.test"))
    cmd(r, "QUIT", 221, "2.0.0")
    r = session(g)
    rcpt(r, '"alice"@example.test', RCPT_OK)
    rcpt(r, "CAROL@example.test", unknown("CAROL@example.test"))
    rcpt(r, "bob@example.test", RCPT_OK)
    cmd(r, "QUIT", 221, "2.0.0")
    assert sorted(probes(p)) == ["alice@example.test", "bob@example.test", "carol@example.test"]
    sources = [x.split("source=")[1].split(",")[0] for x in log_lines(g, "event=verify")]
    assert sources == ["callout", "cache", "callout", "cache", "cache", "callout"]


def test_sessions_asking_at_once_share_one_callout(gateway, peer):
    gate = threading.Event()
    p = peer(users=USERS, rcpt_gate=gate)
    g = start(gateway, p.port)
    clients = [session(g) for _ in range(5)]
    try:
        for c in clients:
            c.send("RCPT TO:<bob@example.test>\r\n")
        # Every session waits for the answer (state -> verify) before the server answers.
        wait_for(lambda: len(log_lines(g, "state=mail -> verify")) == 5, what="5 waiting")
        gate.set()
        for c in clients:
            want(c, *RCPT_OK)
    finally:
        gate.set()
        for c in clients:
            c.close()
    assert probes(p) == ["bob@example.test"]


def test_pipelined_transaction_with_one_unknown_recipient(gateway, peer):
    p = peer(users=USERS)
    g = start(gateway, p.port)
    r = g.raw("inbound")
    cmd(r, "EHLO client.test", 250, None)
    r.send("MAIL FROM:<s@sender.test>\r\nRCPT TO:<alice@example.test>\r\n"
           "RCPT TO:<carol@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    want(r, 250, "2.1.0")
    want(r, *RCPT_OK)
    want(r, *unknown("carol@example.test"))
    want(r, *RCPT_OK)
    want(r, 354, None)
    r.send(CONTENT + b"QUIT\r\n")
    queued_id(r)
    want(r, 221, "2.0.0")
    wait_for(lambda: p.messages(), what="the delivery")
    (m,) = p.messages()
    assert sorted(m.accepted) == ["alice@example.test", "bob@example.test"]


def test_half_close_after_pipelining_still_gets_every_reply(gateway, peer):
    p = peer(users=USERS)
    g = start(gateway, p.port)
    r = session(g)
    r.send("RCPT TO:<alice@example.test>\r\nRSET\r\nQUIT\r\n")
    r.sock.shutdown(socket.SHUT_WR)
    want(r, *RCPT_OK)
    want(r, 250, "2.0.0")
    want(r, 221, "2.0.0")
    assert r.is_closed()


def test_client_gone_while_its_callout_is_in_flight(gateway, peer):
    """One client resets its connection, another closes it, each while its
    session waits for a callout: the sessions end (the requests cancelled),
    the gateway serves on, and the callouts go on to fill the cache."""
    gate = threading.Event()
    p = peer(users=USERS, rcpt_gate=gate)
    g = start(gateway, p.port)
    try:
        for n, (addr, reset) in enumerate((("alice@example.test", True),
                                           ("carol@example.test", False))):
            r = session(g)
            r.send(f"RCPT TO:<{addr}>\r\n")
            wait_for(lambda: probes(p, addr), what="the callout")
            if reset:
                r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                  b"\x01\x00\x00\x00\x00\x00\x00\x00")
            r.close()
            if reset:
                wait_for(lambda: len(log_lines(g, "event=disconnect")) == n + 1,
                         what="the session's end")
        assert_serving(g, "inbound")
        gate.set()
        wait_for(lambda: len([c for c in p.conns if c.quit]) == 2, what="the callouts' end")
        wait_for(lambda: len(log_lines(g, "event=disconnect")) == 3, what="every session's end")
        r = session(g)
        rcpt(r, "alice@example.test", RCPT_OK)
        rcpt(r, "carol@example.test", unknown("carol@example.test"))
        cmd(r, "QUIT", 221, "2.0.0")
        assert len(probes(p)) == 2
    finally:
        gate.set()


def test_stop_with_a_callout_in_flight(gateway, peer):
    """Stopped (SIGINT: at once) while a session waits for its callout: the
    callout is cancelled, and the gateway exits 0 with nothing for the sanitizers."""
    p = peer(hang_at="RCPT")
    g = start(gateway, p.port)
    r = session(g)
    r.send("RCPT TO:<alice@example.test>\r\n")
    wait_for(lambda: probes(p), what="the callout")
    os.kill(g.pid, signal.SIGINT)
    assert g.proc.wait(timeout=20) == 0
    g.proc = None
    g.check_sanitizers()
    want(r, 421, "4.3.0")
    r.close()


def test_guessing_spends_the_error_budget(gateway, peer):
    p = peer(users=USERS)
    g = start(gateway, p.port, doors={"inbound": {"tls": "none", "max-errors": "3"}})
    r = session(g)
    rcpt(r, "guess1@example.test", unknown("guess1@example.test"))
    rcpt(r, "guess2@example.test", unknown("guess2@example.test"))
    r.send("RCPT TO:<guess3@example.test>\r\n")
    want(r, *unknown("guess3@example.test"))
    want(r, 421, "4.7.0", "Too many errors")
    assert r.is_closed()


def test_postmaster_is_never_verified(gateway, peer):
    p = peer(users=())  # knows nobody
    g = start(gateway, p.port)
    r = session(g)
    rcpt(r, "postmaster@example.test", RCPT_OK)
    rcpt(r, "PostMaster@EXAMPLE.test", RCPT_OK)
    rcpt(r, '"postmaster"@example.test', RCPT_OK)
    rcpt(r, "Postmaster", RCPT_OK)
    rcpt(r, "someone@example.test", unknown("someone@example.test"))
    assert probes(p) == ["someone@example.test"]


def test_other_doors_do_not_verify(gateway, peer):
    p = peer(users=USERS)
    g = start(gateway, p.port, doors={"internal": {"allow": "127.0.0.0/8", "tls": "none"}})
    r = g.raw("internal")
    cmd(r, "EHLO client.test", 250, None)
    cmd(r, "MAIL FROM:<s@sender.test>", 250, "2.1.0")
    rcpt(r, "carol@example.test", RCPT_OK)
    assert probes(p) == []


def test_off_and_the_default_without_relay(gateway, peer):
    p = peer(users=USERS)
    g = start(gateway, domains={
        "example.test": {"relay": f"smtp://127.0.0.1:{p.port}", "verify-recipients": "off"},
        "ours.test": None})  # no relay: off by default
    r = session(g)
    rcpt(r, "carol@example.test", RCPT_OK)
    rcpt(r, "anyone@ours.test", RCPT_OK)
    assert probes(p) == [] and log_lines(g, "event=verify") == []


def test_the_hops_of_the_relay_are_asked_in_order(gateway, peer, dnsmasq):
    """A relay named by its MX records: the callout goes to the hops delivery
    would use, in order (the first MX host refuses connections)."""
    p = peer(users=USERS)
    dns = dnsmasq("--local=/test/", "--mx-host=relay.test,mx1.relay.test,10",
                  "--mx-host=relay.test,mx2.relay.test,20",
                  "--host-record=mx1.relay.test,127.0.0.2", "--host-record=mx2.relay.test,127.0.0.1")
    g = start(gateway, domains={"example.test": f"smtp://relay.test:{p.port}"},
              extra=f"resolver {dns.server}")
    r = session(g)
    rcpt(r, "carol@example.test", unknown("carol@example.test"))
    assert probes(p) == ["carol@example.test"]
    assert f"relay=mx2.relay.test[127.0.0.1]:{p.port}" in log_lines(g, "event=verify")[0]
    assert "event=hop-failed" in g.log()


# ---- list files -----------------------------------------------------------------

LIST = ("# the recipients\n"
        "alice@example.org\n"
        "Dave@Example.ORG   # case does not matter\n"
        "@catch.example\n"
        "bob\n")


def list_gateway(gateway, tmp_path, text=LIST, relay_port=None):
    """example.org and example.net share the list at tmp_path/recipients; catch.example
    names a list of its own as "recipients", a path relative to the configuration's
    directory. example.org has a relay (relay_port, or a port nobody listens on): a list
    domain never asks it."""
    path = tmp_path / "recipients"
    path.write_text(text)
    path.chmod(0o644)
    relay = f"smtp://127.0.0.1:{relay_port or free_port()}"
    g = gateway(doors={"inbound": {"tls": "none"}}, delivery=DELIVERY, start=False, domains={
        "example.org": {"relay": relay, "verify-recipients": str(path)},
        "catch.example": {"verify-recipients": "recipients"},
        "example.net": {"verify-recipients": str(path)},
    })
    (g.dir / "recipients").write_text(text)
    (g.dir / "recipients").chmod(0o644)
    return g.start(), path


def test_list_file_entries(gateway, tmp_path, peer):
    p = peer()  # would accept anyone: it is never asked
    g, _ = list_gateway(gateway, tmp_path, relay_port=p.port)
    r = session(g)
    for addr in ("alice@example.org", "ALICE@example.org", '"alice"@Example.Org', "dave@example.org",
                 "bob@example.org", "bob@example.net", "anyone@catch.example",
                 "bob@catch.example"):
        rcpt(r, addr, RCPT_OK)
    for addr in ("carol@example.org", "alice@example.net", "alicex@example.org"):
        rcpt(r, addr, unknown(addr))
    lines = log_lines(g, "event=verify")
    assert all("source=file, relay=none" in x for x in lines) and len(lines) == 11
    assert p.conns == []


def test_list_file_is_read_again_on_sighup_and_a_broken_one_is_refused(gateway, tmp_path):
    g, path = list_gateway(gateway, tmp_path)
    r = session(g)
    rcpt(r, "carol@example.org", unknown("carol@example.org"))
    cmd(r, "QUIT", 221, "2.0.0")
    path.write_text(LIST + "carol@example.org\n")
    g.hup()
    wait_for(lambda: "event=reload, status=ok" in g.log(), what="the reload")
    r = session(g)
    rcpt(r, "carol@example.org", RCPT_OK)
    cmd(r, "QUIT", 221, "2.0.0")
    # A broken file: the reload fails, naming FILE:LINE, and the list before it stays.
    path.write_text(LIST + "carol@example.org\nerin@example.org\nfrank@@example.org\n")
    g.hup()
    wait_for(lambda: "event=reload, status=failed" in g.log(), what="the failed reload")
    (line,) = log_lines(g, "event=reload, status=failed")
    assert f"{path}:8: expected local@domain, @domain or local, found 'frank@@example.org'" in line
    r = session(g)
    rcpt(r, "carol@example.org", RCPT_OK)
    rcpt(r, "erin@example.org", unknown("erin@example.org"))
    cmd(r, "QUIT", 221, "2.0.0")


def run_configtest(conf):
    return subprocess.run([BIN, "configtest", "-c", str(conf)], capture_output=True, text=True,
                          env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1"))


def write_conf(tmp_path, domain_block):
    conf = tmp_path / "gate26.conf"
    conf.write_text("hostname gate26.test\n"
                    f"spool {tmp_path / 'spool'}\n"
                    "user gate26\n"
                    "listen inbound {\n    address 127.0.0.1:2525\n}\n"
                    f"{domain_block}\n")
    return conf


def test_configtest_names_the_bad_line_of_a_list(tmp_path):
    (tmp_path / "recipients").write_text("alice@example.org\n\n\x1b[1mbob@example.org\n")
    conf = write_conf(tmp_path, "domain example.org {\n    verify-recipients recipients\n}")
    res = run_configtest(conf)
    assert res.returncode == 1
    assert res.stderr == f"{tmp_path / 'recipients'}:3: control character 0x1b\n"
    (tmp_path / "recipients").write_text("alice@example.org\n")
    res = run_configtest(conf)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("block, line, message", [
    ("domain example.org {\n    verify-recipients callout\n}", 8,
     "verify-recipients callout needs a relay in the domain block (there is no server to ask); "
     "use a list file or off"),
    ("domain example.org {\n    verify-recipients nothere\n}", 8,
     "cannot read verify-recipients list '{dir}/nothere': No such file or directory"),
    ("domain example.org {\n    verify-recipients Off\n}", 8,
     "expected callout, off or a file, found 'Off'"),
])
def test_configtest_errors(tmp_path, block, line, message):
    conf = write_conf(tmp_path, block)
    res = run_configtest(conf)
    assert res.returncode == 1
    assert res.stderr.startswith(f"{conf}:{line}: " + message.format(dir=tmp_path)), res.stderr


def test_a_list_that_cannot_be_read_at_start_stops_the_start(gateway, tmp_path):
    g, path = list_gateway(gateway, tmp_path)
    g.stop()
    path.write_text("bob@@x\n")
    g.start(expect_ok=False)
    assert g.proc.wait(timeout=20) == 1
    assert f"\n{path}:1: expected local@domain" in g.log()
    g.proc = None


# ---- a relay that wants a login (relay-auth) ------------------------------------

def test_callout_logs_in_to_a_relay_with_relay_auth(gateway, peer, tmp_path):
    """A relay with relay-auth is asked the way delivery reaches it: STARTTLS,
    AUTH, then MAIL FROM:<> and RCPT; an unknown user is still 550 5.1.1."""
    from certs import CA
    from test_relays import PASSWORD, USER, auth_file, secrets_in

    ca = CA(tmp_path / "pki")
    p = peer(users=USERS, tls=ca.issue("127.0.0.1"), auth={USER: PASSWORD}, auth_required=True)
    g = start(gateway, domains={"example.test": {
        "relay": f"smtp://[127.0.0.1]:{p.port}", "relay-auth": str(auth_file(tmp_path))}})
    r = session(g)
    rcpt(r, "alice@example.test", RCPT_OK)
    rcpt(r, "carol@example.test", unknown("carol@example.test"))
    r.close()
    assert probes(p) == ["alice@example.test", "carol@example.test"]
    for c in p.conns:
        assert c.tls and c.auths == [("PLAIN", USER, PASSWORD, True)]
    assert secrets_in(g.log()) == []
    assert_serving(g, "inbound")
