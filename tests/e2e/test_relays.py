# SPDX-License-Identifier: MIT
"""Relays for a first real deployment (issue 11, item 9): several relay URLs
per domain and for the relay-host, tried in order; SMTP AUTH to a smarthost
(relay-auth FILE, only over TLS: STARTTLS or smtps://); error hints that fit
the mistake in a relay URL. The next hops are aiosmtpd servers
(smtp_peer.Peer), with an authenticator where AUTH is tested; dnsmasq
answers where MX lookups matter."""
import base64
import os
import re
import subprocess
import time

import pytest

from conftest import BIN, GATE26_USER, assert_serving, free_port, give_key, wait_for
from dnsmasq import dnsmasq  # noqa: F401 (a fixture)
from smtp_peer import Peer, RawPeer
from test_relay import INTERNAL, dns_for, log_lines, peers, submit, wait_gone  # noqa: F401

LOOP = "127.0.0.1"


def gw(gateway, dns=None, domains=None, delivery="retry 1s", tls=None, extra=""):
    """A gateway with the internal door, our resolver (or none that answers)."""
    resolver = dns.server if dns is not None else f"127.0.0.1:{free_port()}"
    return gateway(doors=INTERNAL, domains=domains or {}, delivery=delivery, tls=tls,
                   extra=f"resolver {resolver}\n{extra}")


def wait_sent(g, qid, timeout=20):
    wait_gone(g, qid, timeout)
    (line,) = log_lines(g, qid, "status=sent")
    return line


# ---- Several relay URLs, tried in order ----

def test_first_relay_refuses_connection_second_takes_it(gateway, peers):
    """domain { relay URL URL }: the first is down (connection refused), the
    second takes the mail in the same attempt."""
    down = free_port()
    up = peers()
    g = gw(gateway, domains={"ours.test": f"smtp://[{LOOP}]:{down} smtp://[{LOOP}]:{up.port}"})
    qid = submit(g, "a@far.test", ["b@ours.test"])
    line = wait_sent(g, qid)
    assert f"relay={LOOP}[{LOOP}]:{up.port}" in line and "attempt=1," in line
    assert [m.accepted for m in up.messages()] == [["b@ours.test"]]
    assert f"event=hop-failed, hop=0" in g.log() and "Connection refused" in g.log()


def test_first_relay_greets_4xx_second_takes_it(gateway, peers):
    busy = peers(greeting="421 4.3.2 too busy")
    up = peers()
    g = gw(gateway, domains={"ours.test": f"smtp://[{LOOP}]:{busy.port} smtp://[{LOOP}]:{up.port}"})
    qid = submit(g, "a@far.test", ["b@ours.test"])
    line = wait_sent(g, qid)
    assert f":{up.port}" in line
    assert len(busy.conns) == 1 and busy.messages() == []
    assert re.search(r"event=hop-failed, hop=0, dsn=4\.3\.2, reason=\".*greeted: 421", g.log())


def test_both_relays_down_deferred_then_delivered(gateway, peers):
    """Every URL down: deferred (not bounced); once one comes back the mail goes there."""
    p1, p2 = free_port(), free_port()
    g = gw(gateway, domains={"ours.test": f"smtp://[{LOOP}]:{p1} smtp://[{LOOP}]:{p2}"})
    qid = submit(g, "a@far.test", ["b@ours.test"])
    wait_for(lambda: len(log_lines(g, qid, "status=deferred")) >= 2, 20, "two deferrals")
    deferred = log_lines(g, qid, "status=deferred")[0]
    assert "dsn=4.4.1" in deferred and f"connect to {LOOP}[{LOOP}]:{p2}: Connection refused" \
        in deferred  # the last hop's reason
    assert qid in g.queue_files()
    back = peers(port=p2)
    wait_sent(g, qid)
    assert [m.accepted for m in back.messages()] == [["b@ours.test"]]


def test_relay_host_with_several_urls(gateway, peers):
    """delivery { relay-host URL URL URL }: the smarthosts in order."""
    busy = peers(greeting="554 5.3.2 not now")
    up = peers()
    spare = peers()
    hosts = f"smtp://[{LOOP}]:{free_port()} smtp://[{LOOP}]:{busy.port} " \
            f"smtp://[{LOOP}]:{up.port} smtp://[{LOOP}]:{spare.port}"
    g = gw(gateway, delivery=f"retry 1s\n relay-host {hosts}")
    ids = [submit(g, "a@ours.test", [f"r{i}@far{i}.test"], tag=f"h{i}") for i in range(3)]
    for qid in ids:
        assert f":{up.port}" in wait_sent(g, qid)
    assert sorted(a for m in up.messages() for a in m.accepted) == \
        ["r0@far0.test", "r1@far1.test", "r2@far2.test"]
    assert spare.conns == []


def test_relay_urls_by_mx_skip_a_failed_lookup(gateway, dnsmasq, peers):
    """relay smtp://a smtp://b with MX lookups: a name that does not exist and
    one whose DNS fails are passed over (and logged); the last URL's MX takes
    the mail. The hops of the first URL come before those of the next."""
    mx = peers(host="127.0.0.41", port=25)
    dns = dns_for(dnsmasq, "--mx-host=relay.test,mx.relay.test,10",
                  "--host-record=mx.relay.test,127.0.0.41",
                  f"--server=/broken.test/127.0.0.1#{free_port()}")
    g = gw(gateway, dns, domains={
        "ours.test": "smtp://nothing.test smtp://mx.broken.test smtp://relay.test"})
    qid = submit(g, "a@far.test", ["b@ours.test"])
    assert "relay=mx.relay.test[127.0.0.41]:25" in wait_sent(g, qid)
    skipped = [x for x in g.log().splitlines() if "event=relay-skipped" in x]
    assert any("relay=smtp://nothing.test:25, dsn=5.1.2" in x for x in skipped), skipped
    assert any("relay=smtp://mx.broken.test:25, dsn=4.4.3" in x for x in skipped), skipped


def test_no_relay_url_gives_a_hop(gateway, dnsmasq):
    """Every URL's lookup fails: temporary when one failure was, with each reason."""
    dns = dns_for(dnsmasq, f"--server=/broken.test/127.0.0.1#{free_port()}")
    g = gw(gateway, dns, delivery="retry 1h",
           domains={"ours.test": "smtp://nothing.test smtp://mx.broken.test"})
    qid = submit(g, "a@far.test", ["b@ours.test"])
    wait_for(lambda: log_lines(g, qid, "status=deferred"), 20, "a deferral")
    (line,) = log_lines(g, qid, "status=deferred")
    assert "dsn=4.4.3" in line
    assert "Host or domain name not found: nothing.test" in line
    assert "MX lookup of mx.broken.test failed" in line
    assert_serving(g)


# ---- AUTH to a smarthost (relay-auth FILE) ----

USER, PASSWORD = "relay@isp.test", "s3cret pass:with#signs"


@pytest.fixture
def ca(tmp_path):
    from certs import CA
    return CA(tmp_path / "pki")


def auth_file(directory, text=f"# the ISP's login\n{USER}:{PASSWORD}\n", name="relay.auth"):
    """A relay-auth file as an admin gives it to gate26: root's, group-readable (0640)."""
    path = directory / name
    path.write_text(text)
    path.chmod(0o600)
    give_key(path)
    return path


def secrets_in(text, password=PASSWORD, user=USER):
    """The forms a password could take in a log: itself, and inside PLAIN or LOGIN's base64."""
    forms = [password, base64.b64encode(password.encode()).decode(),
             base64.b64encode(f"\0{user}\0{password}".encode()).decode()]
    return [f for f in forms if f in text]


def smarthost_gw(gateway, tmp_path, url, delivery="retry 1s", auth=None, tls=None):
    path = auth or auth_file(tmp_path)
    return gw(gateway, delivery=f"{delivery}\n relay-host {url}\n relay-auth {path}", tls=tls)


@pytest.mark.parametrize("mechs", [("PLAIN", "LOGIN"), ("LOGIN",), ("CRAM-MD5", "LOGIN")],
                         ids=["plain", "login", "login-after-unknown"])
def test_auth_to_smarthost_over_starttls(gateway, peers, tmp_path, ca, mechs):
    """relay-host with relay-auth: STARTTLS, EHLO again, AUTH (PLAIN when
    offered, else LOGIN), then the mail; the password never reaches the log."""
    smart = peers(tls=ca.issue("127.0.0.1"), auth={USER: PASSWORD}, auth_mechs=mechs,
                  auth_required=True)
    g = smarthost_gw(gateway, tmp_path, f"smtp://[{LOOP}]:{smart.port}")
    qid = submit(g, "a@ours.test", ["r@far.test"])
    line = wait_sent(g, qid)
    assert 'tls="TLSv1.3' in line
    (conn,) = smart.conns
    mech = "PLAIN" if "PLAIN" in mechs else "LOGIN"
    assert conn.auths == [(mech, USER, PASSWORD, True)]
    assert conn.tls and [m.accepted for m in conn.msgs] == [["r@far.test"]]
    # STARTTLS came first: the AUTH command was never in the clear.
    assert conn.commands.index(f"EHLO gate26.test") < conn.commands.index(
        next(c for c in conn.commands if c.startswith("AUTH")))
    assert f"event=auth, mechanism={mech}, user=\"{USER}\"" in g.log()
    assert secrets_in(g.log()) == []


def test_auth_to_smarthost_over_implicit_tls(gateway, peers, tmp_path, ca):
    """smtps://: TLS from the first byte (RFC 8314), the greeting inside it,
    then AUTH; under tls verify with the CA the certificate is checked."""
    smart = peers(implicit_tls=ca.issue("127.0.0.1"), auth={USER: PASSWORD}, auth_required=True)
    g = gw(gateway, tls=f"    ca-file {ca.pem}",
           delivery=f"retry 1s\n tls verify\n relay-host smtps://[{LOOP}]:{smart.port}\n"
                    f" relay-auth {auth_file(tmp_path)}")
    qid = submit(g, "a@ours.test", ["r@far.test"])
    line = wait_sent(g, qid)
    assert line.endswith(' verified"'), line
    (conn,) = smart.conns
    assert conn.tls and "STARTTLS" not in conn.commands
    assert conn.auths == [("PLAIN", USER, PASSWORD, True)]
    assert secrets_in(g.log()) == []


def test_smtps_to_a_plain_server_is_a_hop_failure(gateway, peers, tmp_path, ca):
    """An smtps:// URL whose server speaks plain SMTP: the handshake fails, the
    hop fails (4.7.5) and is not tried in the clear; the next URL takes it."""
    plain = RawPeer(b"220 plain.test ESMTP\r\n250 plain.test\r\n").start()
    try:
        good = peers(tls=ca.issue("127.0.0.1"), auth={USER: PASSWORD}, auth_required=True)
        g = smarthost_gw(gateway, tmp_path,
                         f"smtps://[{LOOP}]:{plain.port} smtp://[{LOOP}]:{good.port}")
        qid = submit(g, "a@ours.test", ["r@far.test"])
        assert f":{good.port}" in wait_sent(g, qid)
        assert re.search(r"event=hop-failed, hop=0, dsn=4\.7\.5, reason=\"TLS handshake with "
                         rf"127\.0\.0\.1\[127\.0\.0\.1\]:{plain.port} failed", g.log())
        wait_for(lambda: plain.received, 10, "the plain server's connection to end")
    finally:
        plain.stop()
    # One connection, a TLS ClientHello (a handshake record), and no second try in the clear.
    (got,) = plain.received
    assert got[:1] == b"\x16" and b"EHLO" not in got and PASSWORD.encode() not in got
    assert [a[3] for c in good.conns for a in c.auths] == [True]


def test_wrong_password_is_deferred_with_the_reply(gateway, peers, tmp_path, ca):
    """535 from the smarthost: a temporary failure of that hop (the admin fixes
    relay-auth), deferred with the server's reply; the password is not logged."""
    smart = peers(tls=ca.issue("127.0.0.1"), auth={USER: "another password"},
                  auth_required=True)
    g = smarthost_gw(gateway, tmp_path, f"smtp://[{LOOP}]:{smart.port}", delivery="retry 1h")
    qid = submit(g, "a@ours.test", ["r@far.test"])
    wait_for(lambda: log_lines(g, qid, "status=deferred"), 20, "a deferral")
    (line,) = log_lines(g, qid, "status=deferred")
    assert "dsn=4.7.8" in line
    assert "authentication with 127.0.0.1[127.0.0.1]" in line
    assert "535 5.7.8 Authentication credentials invalid (in reply to AUTH PLAIN)" in line
    assert re.search(r"event=auth-failed, mechanism=PLAIN, user=\"relay@isp\.test\", "
                     r"reply=\"535 5\.7\.8 Authentication credentials invalid\"", g.log())
    assert [a[3] for c in smart.conns for a in c.auths] == [False]
    assert not any(c.startswith("MAIL") for c in smart.conns[0].commands)
    assert secrets_in(g.log()) == []
    assert qid in g.queue_files()


def test_refused_login_moves_to_the_next_relay_host(gateway, peers, tmp_path, ca):
    cert = ca.issue("127.0.0.1")
    bad = peers(tls=cert, auth_reply="454 4.7.0 Temporary authentication failure")
    good = peers(tls=cert, auth={USER: PASSWORD}, auth_required=True)
    g = smarthost_gw(gateway, tmp_path, f"smtp://[{LOOP}]:{bad.port} smtp://[{LOOP}]:{good.port}")
    qid = submit(g, "a@ours.test", ["r@far.test"])
    assert f":{good.port}" in wait_sent(g, qid)
    assert [a[:2] for c in bad.conns for a in c.auths] == [("PLAIN", USER)]
    assert re.search(r"event=hop-failed, hop=0, dsn=4\.7\.0, reason=\"authentication with "
                     r".*454 4\.7\.0 Temporary authentication failure", g.log())


def test_server_without_auth_gets_no_mail(gateway, peers, tmp_path, ca):
    """relay-auth is set and the server offers no AUTH: no mail goes out
    unauthenticated; deferred with a reason that says so."""
    smart = peers(tls=ca.issue("127.0.0.1"))
    g = smarthost_gw(gateway, tmp_path, f"smtp://[{LOOP}]:{smart.port}", delivery="retry 1h")
    qid = submit(g, "a@ours.test", ["r@far.test"])
    wait_for(lambda: log_lines(g, qid, "status=deferred"), 20, "a deferral")
    (line,) = log_lines(g, qid, "status=deferred")
    assert "dsn=4.7.4" in line and "offers no AUTH, and relay-auth is set" in line
    assert smart.conns[0].tls
    assert not any(c.startswith(("MAIL", "AUTH")) for c in smart.conns[0].commands)


def test_server_without_starttls_never_sees_the_password(gateway, peers, tmp_path):
    """relay-auth and a server that offers AUTH but no STARTTLS: the client
    never sends AUTH (the policy is at least encrypt); deferred 4.7.4."""
    smart = peers(auth={USER: PASSWORD}, auth_in_clear=True)
    g = smarthost_gw(gateway, tmp_path, f"smtp://[{LOOP}]:{smart.port}", delivery="retry 1h")
    qid = submit(g, "a@ours.test", ["r@far.test"])
    wait_for(lambda: log_lines(g, qid, "status=deferred"), 20, "a deferral")
    (line,) = log_lines(g, qid, "status=deferred")
    assert "dsn=4.7.4" in line and "the server does not offer STARTTLS" in line
    for conn in smart.conns:
        assert not any(c.startswith(("AUTH", "MAIL")) for c in conn.commands), conn.commands
        assert conn.auths == []
        assert not any(PASSWORD.encode() in p or base64.b64encode(PASSWORD.encode()) in p
                       for p in conn.packets)


def test_reload_reads_a_changed_relay_auth_file(gateway, peers, tmp_path, ca):
    """The relay-auth file is read again at each reload: a wrong password,
    fixed in the file, then SIGHUP: the next retry logs in and delivers. A
    broken file at a reload keeps the running configuration."""
    smart = peers(tls=ca.issue("127.0.0.1"), auth={USER: PASSWORD}, auth_required=True)
    path = auth_file(tmp_path, f"{USER}:an old password\n")
    g = smarthost_gw(gateway, tmp_path, f"smtp://[{LOOP}]:{smart.port}", auth=path)
    qid = submit(g, "a@ours.test", ["r@far.test"])
    wait_for(lambda: log_lines(g, qid, "status=deferred"), 20, "a deferral")
    # A broken file first: the reload fails, naming the file's line; mail still waits.
    path.write_text(f"{USER}:{PASSWORD}\nsecond:line\n")
    g.hup()
    wait_for(lambda: "event=reload, status=failed" in g.log(), 10, "the failed reload")
    assert f'{path}:2: a second line after USER:PASSWORD at line 1' in g.log()
    path.write_text(f"{USER}:{PASSWORD}\n")
    g.hup()
    wait_for(lambda: "event=reload, status=ok" in g.log(), 10, "the reload")
    wait_sent(g, qid)
    assert [a[2:] for c in smart.conns for a in c.auths][-1] == (PASSWORD, True)
    assert secrets_in(g.log()) == [] and secrets_in(g.log(), "an old password") == []


def test_connection_reuse_keeps_logins_apart(gateway, peers, tmp_path, ca):
    """Two domains relay to the same server with different logins: an idle
    connection that logged in as one is reused for that login only."""
    inside = peers(tls=ca.issue("127.0.0.1"), auth={"a-user": "a-pass", "b-user": "b-pass"},
                   auth_required=True)
    fa = auth_file(tmp_path, "a-user:a-pass\n", "a.auth")
    fb = auth_file(tmp_path, "b-user:b-pass\n", "b.auth")
    url = f"smtp://[{LOOP}]:{inside.port}"
    g = gw(gateway, delivery="retry 1s\n connection-reuse 30s", domains={
        "a.test": f"{url}\n    relay-auth {fa}", "b.test": f"{url}\n    relay-auth {fb}"})
    for i, rcpt in enumerate(["x@a.test", "y@b.test", "z@a.test", "w@b.test"]):
        wait_sent(g, submit(g, "s@far.test", [rcpt], tag=f"reuse{i}"))
    assert len(inside.conns) == 2, [c.auths for c in inside.conns]
    for conn in inside.conns:
        (auth,) = conn.auths
        domain = "a.test" if auth[1] == "a-user" else "b.test"
        assert auth[3] and len(conn.msgs) == 2
        assert all(r.endswith("@" + domain) for m in conn.msgs for r in m.accepted)
    assert g.log().count("event=reuse") == 2


# ---- configtest: relay-auth files and relay URLs, mistakes at their FILE:LINE ----

def configtest(conf):
    return subprocess.run([BIN, "configtest", "-c", str(conf)], capture_output=True, text=True,
                          timeout=20)


CONF_HEAD = """hostname gate26.test
listen internal {
    address 127.0.0.1:2626
    allow 127.0.0.0/8
}
"""  # lines 1-5; the rows' own text starts at line 6


@pytest.mark.parametrize("auth_text,mode,delivery,where,phrase", [
    (None, None, "relay-host smtp://[mail.isp.example]:587\n relay-auth {dir}/none.auth", "conf:8",
     "cannot read relay-auth file '{dir}/none.auth': No such file or directory"),
    ("u:p\n", 0o644, "relay-host smtp://[mail.isp.example]:587\n relay-auth relay.auth", "conf:8",
     "relay-auth file '{dir}/relay.auth' is open to others (mode 0644): it holds a password in "
     "clear"),
    ("# login\nuser password\n", 0o640, "relay-host smtp://[a.example]\n relay-auth relay.auth",
     "auth:2", "expected USER:PASSWORD (no ':' on the line) (the relay-auth file of {conf}:8)"),
    ("a:b\nc:d\n", 0o600, "relay-host smtp://[a.example]\n relay-auth relay.auth", "auth:2",
     "a second line after USER:PASSWORD at line 1 (a relay-auth file holds one login)"),
    ("", 0o600, "relay-host smtp://[a.example]\n relay-auth relay.auth", "auth",
     "expected a USER:PASSWORD line (found none)"),
    ("u:p\n", 0o600, "tls none\n relay-host smtp://[a.example]\n relay-auth relay.auth", "conf:7",
     "tls none, but the relay-host has relay-auth (line 9), which needs TLS"),
    ("u:p\n", 0o600, "relay-auth relay.auth", "conf:7",
     "relay-auth needs 'relay-host URL' in the delivery block"),
    (None, None, "relay-host smtp://me:Secret99@[mail.isp.example]:587", "conf:7",
     "put credentials in relay-auth FILE, not in the URL"),
    (None, None, "relay-host mail.isp.example:587", "conf:7",
     "expected smtp://HOST[:PORT] (or smtp://[HOST]:PORT for no MX lookup), found "
     "'mail.isp.example:587'"),
    (None, None, "relay-host https://mail.isp.example", "conf:7", "is a web address"),
    (None, None, "relay-host smtp://[a.example]:587/submit", "conf:7",
     "a relay URL has no path or query"),
    (None, None, "relay-host smtp://[a.example]:0", "conf:7", "expected a port from 1 to 65535"),
    (None, None, "relay-host smtp://[a.example] smtp://", "conf:7", "no host in 'smtp://'"),
    (None, None, "relay-host smtp://2001:db8::25", "conf:7",
     "an IPv6 address needs brackets, as in smtp://[2001:db8::1]:25"),
], ids=["missing", "world-readable", "malformed", "two-entries", "empty", "tls-none",
        "no-relay-host", "credentials-in-url", "no-scheme", "web-scheme", "path", "port",
        "empty-host", "ipv6"])
def test_configtest_names_the_mistake(tmp_path, auth_text, mode, delivery, where, phrase):
    conf = tmp_path / "gate26.conf"
    auth = tmp_path / "relay.auth"
    if auth_text is not None:
        auth.write_text(auth_text)
        auth.chmod(mode)
    conf.write_text(CONF_HEAD + "delivery {\n " + delivery.format(dir=tmp_path) + "\n}\n")
    res = configtest(conf)
    assert res.returncode == 1 and res.stdout == "", res
    kind, _, line = where.partition(":")
    prefix = (f"{conf}:{line}: " if kind == "conf" else f"{auth}:{line}: " if line
              else f"{auth}: ")
    assert res.stderr.startswith(prefix), res.stderr
    assert phrase.format(dir=tmp_path, conf=conf) in res.stderr, res.stderr
    assert res.stderr.count("\n") == 1
    assert "Secret99" not in res.stderr


def test_configtest_takes_several_urls_and_relay_auth(tmp_path):
    conf = tmp_path / "gate26.conf"
    auth_file(tmp_path)
    conf.write_text(CONF_HEAD + "domain ours.test {\n relay smtp://[10.0.0.5] smtp://mx.ours.test "
                    "smtps://[10.0.0.6]\n relay-auth relay.auth\n}\n"
                    "delivery {\n relay-host smtp://[mail.isp.example]:587 "
                    "smtps://[mail2.isp.example]\n relay-auth relay.auth\n}\n"
                    + (f"user {GATE26_USER}\n" if GATE26_USER else ""))
    res = configtest(conf)
    assert res.returncode == 0, res.stderr
    assert PASSWORD not in res.stdout + res.stderr


def test_reload_while_a_delivery_is_in_flight(gateway, peers):
    """A reload frees the old configuration only once the deliveries that
    started under it are over: the first relay never greets, a reload comes
    meanwhile, and the second relay then gets EHLO with the right name (under
    ASan a use after free would end the test)."""
    hang = peers(hang=True)
    up = peers()
    g = gw(gateway, delivery="retry 1s\n timeout-command 3s",
           domains={"ours.test": f"smtp://[{LOOP}]:{hang.port} smtp://[{LOOP}]:{up.port}"})
    qid = submit(g, "a@far.test", ["b@ours.test"])
    wait_for(lambda: hang.conns, 10, "the first relay's connection")
    g.write_config(extra=g.extra + "# reloaded\n")
    g.hup()
    wait_for(lambda: "event=reload, status=ok" in g.log(), 10, "the reload")
    assert qid in g.queue_files() and up.conns == []  # still waiting for the greeting
    wait_sent(g, qid)
    assert up.conns[0].helo == "EHLO gate26.test"
