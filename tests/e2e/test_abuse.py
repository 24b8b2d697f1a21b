# SPDX-License-Identifier: MIT
"""Limits against abuse, end to end: deny and allow lists (IPv4 and IPv6),
sessions per client, connection rate per client, message rate per client and
per envelope sender, their counts across a reload, the networks a door
exempts from its per-client limits (limits-exempt), and the fail2ban
filter for failed AUTH lines (and not for auth-locked ones). Other clients are 127.0.0.x source addresses. Every
refusal is checked to its exact reply; then the daemon is shown to still
serve, and a client or sender that is not over its limit still passes."""
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, ROOT, Raw, assert_serving, cmd, free_port, wait_for, want

ALLOW = "127.0.0.0/8 ::1"
DOMAINS = {"ours.test": None}
CONNECT_DENIED = (554, "5.7.1", "Access denied: this door is not open to your address")
CLIENT_SESSIONS = (421, "4.7.0", "gate26.test Too many sessions from your address, try again later")
CLIENT_RATE = (421, "4.7.0", "gate26.test Too many connections from your address, try again later")
MESSAGE_RATE = (451, "4.7.1", "Too many messages from your address, try again later")
SENDER_RATE = (451, "4.7.1", "Too many messages from this sender, try again later")


def free_port6():
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def internal(gateway, **keys):
    door = {"allow": ALLOW, "tls": "none"}
    door.update({k.replace("_", "-"): v for k, v in keys.items()})
    return gateway(doors={"internal": door}, domains={})


def inbound(gateway, **keys):
    door = {"tls": "none"}
    door.update({k.replace("_", "-"): v for k, v in keys.items()})
    return gateway(doors={"inbound": door}, domains=DOMAINS)


def connect(g, role, source=None, host="127.0.0.1", port=None):
    return Raw(port or g.port(role), host=host, source=source)


def refused(r, reply):
    """The connection gets exactly this reply, then is closed."""
    want(r, *reply)
    assert r.is_closed(), "the connection stays open after the refusal"
    assert r.buf == b"", f"bytes after the refusal: {r.buf!r}"
    r.close()


def greeted(g, role, source=None, **kw):
    r = connect(g, role, source, **kw)
    want(r, 220, None, "gate26.test ESMTP gate26")
    return r


def logged(g, pattern):
    """Waits for a log line matching pattern (a refusal at accept is logged after the close)."""
    wait_for(lambda: re.search(pattern, g.log()), timeout=5, what=f"a log line {pattern!r}")


def ehlo(r):
    cmd(r, "EHLO client.test", 250, None)


# ---- deny and allow lists ---------------------------------------------------------------------


def test_deny_ipv4_on_inbound(gateway):
    g = inbound(gateway, deny="127.0.0.2 127.0.0.16/28")
    for source in ("127.0.0.2", "127.0.0.16", "127.0.0.31"):
        refused(connect(g, "inbound", source), CONNECT_DENIED)
    log = g.log()
    assert re.search(r"client=\[127\.0\.0\.2\], door=inbound, event=reject, cmd=CONNECT, "
                     r"reply=\"554 5\.7\.1 Access denied", log), log[-2000:]
    # Neighbours of the denied ones pass.
    for source in ("127.0.0.1", "127.0.0.3", "127.0.0.15", "127.0.0.32"):
        r = greeted(g, "inbound", source)
        cmd(r, "QUIT", 221, "2.0.0")
        r.close()
    assert_serving(g)


def test_deny_ipv6_on_inbound(gateway):
    port6 = free_port6()
    port4 = free_port()
    g = gateway(doors={"inbound": {"tls": "none", "deny": "::1",
                                   "address": f"[::1]:{port6} 127.0.0.1:{port4}"}},
                domains=DOMAINS)
    refused(Raw(port6, host="::1"), CONNECT_DENIED)
    assert re.search(r"client=\[::1\], door=inbound, event=reject, cmd=CONNECT, "
                     r"reply=\"554 5\.7\.1 ", g.log())
    # The IPv4 side of the same door is not denied by an IPv6 network.
    r = Raw(port4)
    want(r, 220, None)
    r.close()
    assert_serving(g, port=port4)


def test_deny_wins_over_allow_on_internal(gateway):
    g = internal(gateway, deny="127.0.0.3")
    refused(connect(g, "internal", "127.0.0.3"), CONNECT_DENIED)
    r = greeted(g, "internal", "127.0.0.4")
    ehlo(r)
    cmd(r, "MAIL FROM:<a@ours.test>", 250, "2.1.0")
    r.close()
    assert_serving(g)


def test_allow_list_on_inbound_ipv4_and_ipv6(gateway):
    port6 = free_port6()
    port4 = free_port()
    g = gateway(doors={"inbound": {"tls": "none", "allow": "127.0.0.2 ::1",
                                   "address": f"127.0.0.1:{port4} [::1]:{port6}"}},
                domains=DOMAINS)
    refused(Raw(port4, source="127.0.0.1"), CONNECT_DENIED)
    refused(Raw(port4, source="127.0.0.3"), CONNECT_DENIED)
    for r in (Raw(port4, source="127.0.0.2"), Raw(port6, host="::1")):
        want(r, 220, None)
        ehlo(r)
        cmd(r, "MAIL FROM:<a@far.test>", 250, "2.1.0")
        cmd(r, "RCPT TO:<u@ours.test>", 250, "2.1.5")
        cmd(r, "QUIT", 221, "2.0.0")
        r.close()
    assert_serving(g, host="::1", port=port6)


# ---- sessions per client ----------------------------------------------------------------------


def test_max_sessions_per_client(gateway):
    g = inbound(gateway, max_sessions_per_client="3", connection_rate="off")
    held = [greeted(g, "inbound", "127.0.0.1") for _ in range(3)]
    refused(connect(g, "inbound", "127.0.0.1"), CLIENT_SESSIONS)
    logged(g, r"client=\[127\.0\.0\.1\], door=inbound, event=reject, cmd=CONNECT, "
              r"reply=\"421 4\.7\.0 gate26\.test Too many sessions from your address, "
              r"try again later\", limit=max-sessions-per-client, value=3")
    # Another client is not held back, and the three go on.
    other = greeted(g, "inbound", "127.0.0.2")
    ehlo(other)
    for r in held:
        ehlo(r)
        cmd(r, "NOOP", 250, "2.0.0")
    # One ends: its place is given back.
    cmd(held[0], "QUIT", 221, "2.0.0")
    assert held[0].is_closed()
    held[0].close()
    wait_for(lambda: g.log().count("client=[127.0.0.1], door=inbound, event=disconnect") >= 1,
             what="the session's end")
    held[0] = greeted(g, "inbound", "127.0.0.1")
    refused(connect(g, "inbound", "127.0.0.1"), CLIENT_SESSIONS)
    for r in held + [other]:
        r.close()
    # Their places are given back when the daemon has seen them close, not when we closed.
    wait_for(lambda: g.log().count("client=[127.0.0.1], door=inbound, event=disconnect") >= 4,
             what="the three sessions' ends")
    assert_serving(g, role="inbound")


def test_sessions_per_client_default_is_20_on_inbound_off_on_internal(gateway):
    g = gateway(doors={"inbound": {"tls": "none", "connection-rate": "off"},
                       "internal": {"allow": ALLOW, "tls": "none"}}, domains=DOMAINS)
    held = [greeted(g, "inbound") for _ in range(20)]
    refused(connect(g, "inbound"), CLIENT_SESSIONS)
    held += [greeted(g, "internal") for _ in range(25)]
    for r in held:
        r.close()
    assert_serving(g)


# ---- connection rate --------------------------------------------------------------------------


def test_connection_rate_per_client(gateway):
    g = inbound(gateway, connection_rate="3/2s")
    start = time.monotonic()
    for _ in range(3):
        r = greeted(g, "inbound")
        r.close()
    refused(connect(g, "inbound"), CLIENT_RATE)
    assert time.monotonic() - start < 2, "too slow a machine for a 2s window"
    logged(g, r"client=\[127\.0\.0\.1\], door=inbound, event=reject, cmd=CONNECT, "
              r"reply=\"421 4\.7\.0 .*\", limit=connection-rate, value=3/2s")
    # Another client has its own count.
    r = greeted(g, "inbound", "127.0.0.2")
    r.close()

    # The window slides on: the client gets in again within two windows
    # (a refused attempt is not counted).
    def gets_in():
        r = connect(g, "inbound")
        code, _ = r.reply()
        r.close()
        return code == 220

    wait_for(gets_in, timeout=10, what="the connection rate to let the client in again")
    assert time.monotonic() - start >= 2
    assert g.proc.poll() is None


# ---- message rates ----------------------------------------------------------------------------


def mail_ok(r, sender):
    cmd(r, f"MAIL FROM:<{sender}>", 250, "2.1.0")
    cmd(r, "RSET", 250, "2.0.0")


def test_message_rate_per_client_on_internal(gateway):
    g = internal(gateway, message_rate="2/1m")
    r = greeted(g, "internal")
    ehlo(r)
    mail_ok(r, "a@ours.test")
    # A whole message counts once.
    cmd(r, "MAIL FROM:<b@ours.test>", 250, "2.1.0")
    cmd(r, "RCPT TO:<x@far.test>", 250, "2.1.5")
    cmd(r, "DATA", 354, None)
    r.send(b"Subject: t\r\n\r\nbody\r\n.\r\n")
    want(r, 250, "2.0.0", "Ok: queued as ")
    cmd(r, "MAIL FROM:<c@ours.test>", *MESSAGE_RATE)
    # The session goes on; the refusal did not start a transaction.
    cmd(r, "NOOP", 250, "2.0.0")
    cmd(r, "RCPT TO:<x@far.test>", 503, "5.5.1")
    cmd(r, "MAIL FROM:<d@ours.test>", *MESSAGE_RATE)
    log = g.log()
    assert re.search(r"client=\[127\.0\.0\.1\], door=internal, event=reject, cmd=MAIL, "
                     r"helo=client\.test, from=<c@ours\.test>, "
                     r"reply=\"451 4\.7\.1 Too many messages from your address, try again "
                     r"later\", limit=message-rate, rate=2/60s, sender=\"c@ours\.test\"",
                     log), log[-2000:]
    # A new session from the same client is still over; another client is not.
    r2 = greeted(g, "internal")
    ehlo(r2)
    cmd(r2, "MAIL FROM:<a@ours.test>", *MESSAGE_RATE)
    r3 = greeted(g, "internal", "127.0.0.2")
    ehlo(r3)
    mail_ok(r3, "a@ours.test")
    for x in (r, r2, r3):
        x.close()
    assert len(g.queue_files()) == 1
    assert_serving(g)


def test_sender_rate_on_internal(gateway):
    g = internal(gateway, sender_rate="2/1m")
    r = greeted(g, "internal")
    ehlo(r)
    mail_ok(r, "boss@ours.test")
    mail_ok(r, "Boss@OURS.test")  # case makes no fresh counter
    cmd(r, "MAIL FROM:<boss@ours.test>", *SENDER_RATE)
    log = g.log()
    assert re.search(r"client=\[127\.0\.0\.1\], door=internal, event=reject, cmd=MAIL, "
                     r"helo=client\.test, from=<boss@ours\.test>, "
                     r"reply=\"451 4\.7\.1 Too many messages from this sender, try again "
                     r"later\", limit=sender-rate, rate=2/60s, sender=\"boss@ours\.test\"",
                     log), log[-2000:]
    # Another sender passes; the same sender from another host does not.
    mail_ok(r, "clerk@ours.test")
    r2 = greeted(g, "internal", "127.0.0.2")
    ehlo(r2)
    cmd(r2, "MAIL FROM:<BOSS@ours.test>", *SENDER_RATE)
    mail_ok(r2, "clerk@ours.test")
    # The null sender is one sender too.
    mail_ok(r2, "")
    mail_ok(r2, "")
    cmd(r2, "MAIL FROM:<>", *SENDER_RATE)
    for x in (r, r2):
        x.close()
    assert_serving(g)


def test_rate_refusals_spend_the_error_budget(gateway):
    g = internal(gateway, sender_rate="1/1m", max_errors="3")
    r = greeted(g, "internal")
    ehlo(r)
    mail_ok(r, "x@ours.test")
    r.send(b"MAIL FROM:<x@ours.test>\r\n" * 3)
    for _ in range(3):
        want(r, *SENDER_RATE)
    want(r, 421, "4.7.0", "Too many errors")
    assert r.is_closed()
    r.close()
    assert_serving(g)


def test_reload_keeps_the_counts_and_reads_the_new_limits(gateway):
    g = internal(gateway, sender_rate="2/1m")
    r = greeted(g, "internal")
    ehlo(r)
    mail_ok(r, "s@ours.test")
    mail_ok(r, "s@ours.test")
    cmd(r, "MAIL FROM:<s@ours.test>", *SENDER_RATE)
    r.close()
    g.doors["internal"]["sender-rate"] = "3/1m"
    g.write_config()
    g.hup()
    wait_for(lambda: "event=reload, status=ok" in g.log(), what="the reload")
    r = greeted(g, "internal")
    ehlo(r)
    mail_ok(r, "s@ours.test")  # the third of three: the two before still count
    cmd(r, "MAIL FROM:<s@ours.test>", *SENDER_RATE)
    assert "rate=3/60s" in g.log().splitlines()[-1] or "rate=3/60s" in g.log()
    r.close()
    assert_serving(g)


# ---- limits-exempt ----------------------------------------------------------------------------
# Issue 11: clients in a door's limits-exempt networks are not counted by its per-client limits
# (monitoring probes, local applications), as Postfix's smtpd_client_event_limit_exceptions.
DOOR_BUSY = (421, "4.3.2", "gate26.test Too many connections, try again later")


def test_limits_exempt_sessions_and_messages(gateway):
    g = inbound(gateway, max_sessions_per_client="2", connection_rate="off",
                message_rate="2/1m", limits_exempt="127.0.0.2 ::1\n    limits-exempt 10.0.0.0/8")
    # The exempt client: more sessions at once than max-sessions-per-client, and more
    # messages than message-rate.
    held = [greeted(g, "inbound", "127.0.0.2") for _ in range(5)]
    for r in held:
        ehlo(r)
        mail_ok(r, "probe@far.test")
        cmd(r, "MAIL FROM:<probe@far.test>", 250, "2.1.0")
        cmd(r, "RCPT TO:<u@ours.test>", 250, "2.1.5")
        cmd(r, "DATA", 354, None)
        r.send(b"Subject: probe\r\n\r\nok\r\n.\r\n")
        want(r, 250, "2.0.0", "Ok: queued as ")
    assert len(g.queue_files()) == 5
    # A client outside: two sessions, then 421 4.7.0; two messages, then 451 4.7.1.
    outside = [greeted(g, "inbound", "127.0.0.3") for _ in range(2)]
    refused(connect(g, "inbound", "127.0.0.3"), CLIENT_SESSIONS)
    ehlo(outside[0])
    mail_ok(outside[0], "a@far.test")
    mail_ok(outside[0], "b@far.test")
    cmd(outside[0], "MAIL FROM:<c@far.test>", *MESSAGE_RATE)
    # The exempt client still gets in, and still sends.
    r = greeted(g, "inbound", "127.0.0.2")
    ehlo(r)
    mail_ok(r, "probe@far.test")
    for x in held + outside + [r]:
        x.close()
    assert "client=[127.0.0.2], door=inbound, event=reject" not in g.log()
    assert_serving(g)


def test_limits_exempt_connection_rate(gateway):
    g = inbound(gateway, connection_rate="3/1m", max_sessions_per_client="off",
                limits_exempt="127.0.0.2")
    for _ in range(8):  # more than 3 a minute
        r = greeted(g, "inbound", "127.0.0.2")
        cmd(r, "QUIT", 221, "2.0.0")
        r.close()
    for _ in range(3):
        r = greeted(g, "inbound", "127.0.0.3")
        r.close()
    refused(connect(g, "inbound", "127.0.0.3"), CLIENT_RATE)
    r = greeted(g, "inbound", "127.0.0.2")
    r.close()
    assert_serving(g, "inbound")


def test_limits_exempt_keeps_the_doors_and_the_senders_limits(gateway):
    """The door's own max-sessions and the sender-rate (not per client) still apply."""
    g = internal(gateway, max_sessions="3", sender_rate="2/1m", max_sessions_per_client="1",
                 limits_exempt="127.0.0.0/8")
    held = [greeted(g, "internal") for _ in range(3)]  # past max-sessions-per-client 1
    refused(connect(g, "internal"), DOOR_BUSY)
    r = held[0]
    ehlo(r)
    mail_ok(r, "boss@ours.test")
    mail_ok(r, "boss@ours.test")
    cmd(r, "MAIL FROM:<boss@ours.test>", *SENDER_RATE)
    for x in held:
        x.close()
    assert_serving(g)


def test_limits_exempt_bad_networks_stop_the_start(gateway):
    for value, phrase in [("10.0.0.1/8", "did you mean 10.0.0.0/8?"),
                          ("monitoring.example", "expected an IPv4 or IPv6 network")]:
        g = gateway(doors={"inbound": {"tls": "none", "limits-exempt": value}}, domains=DOMAINS,
                    start=False)
        p = subprocess.run([BIN, "configtest", "-c", str(g.conf)], capture_output=True,
                           text=True, timeout=20)
        assert p.returncode == 1 and phrase in p.stderr, p.stderr


# ---- fail2ban ---------------------------------------------------------------------------------

FILTER = ROOT / "contrib" / "fail2ban" / "filter.d" / "gate26.conf"
JAIL = ROOT / "contrib" / "fail2ban" / "jail.d" / "gate26.conf"
PREFIX = "2025-05-20T10:00:0{}.123Z gate26[4242]: info: "

# (log line after the prefix, the host fail2ban must find or None)
F2B_ROWS = [
    ('-: sid=1c, client=[192.0.2.7], door=submission, event=auth-failed, user="alice", '
     'reason=bad-password', "192.0.2.7"),
    ('-: sid=1d, client=[2001:db8::7], door=submissions, event=auth-failed, user="", '
     'reason=malformed', "2001:db8::7"),
    ('-: sid=1e, client=[192.0.2.8], door=submission, event=auth-failed, user="bob", '
     'reason=bad-credentials, locked=yes', "192.0.2.8"),
    # hostile: a user name that carries its own client=[...] (quoted by log_quote) must not
    # move the ban to another address
    ('-: sid=1f, client=[192.0.2.9], door=submission, event=auth-failed, '
     'user="x\\", client=[198.51.100.1], y=\\"", reason=unknown-user', "192.0.2.9"),
    ('-: sid=20, client=[192.0.2.10], door=submission, event=auth-failed, '
     'user="\\xff\\x00\\\\", reason=bad-password', "192.0.2.10"),
    # not failures
    ('-: sid=21, client=[192.0.2.11], door=submission, event=reject, cmd=MAIL, '
     'helo=laptop, from=<a@example.com>, reply="530 5.7.0 Authentication required"', None),
    ('-: sid=24, client=[192.0.2.14], door=submission, event=reject, cmd=AUTH, '
     'helo=laptop, reply="535 5.7.8 Authentication credentials invalid"', None),
    ('-: sid=24, dir=in, line="AUTH PLAIN", redacted=24', None),
    ('-: sid=24, dir=in, line="event=auth-failed, user=\\"x\\", reason=bad-password"', None),
    ('-: sid=22, client=[192.0.2.12]:4000, door=inbound, event=connect', None),
    ('-: sid=23, client=[192.0.2.13], door=submission, event=auth, user="carol", status=ok',
     None),
    # refused by a lock: the failures that made it were counted already, and a user's lock
    # refuses its real owner too (issue 11: not counted twice)
    ('-: sid=24, client=[192.0.2.8], door=submission, event=auth-locked, user="bob", '
     'lock=client', None),
    ('-: sid=25, client=[198.51.100.20], door=submissions, event=auth-locked, user="alice", '
     'lock=user', None),
    ('-: sid=26, client=[192.0.2.14], door=submission, event=auth, user="alice", mech=PLAIN, '
     'user-locked=yes, known-client=yes', None),
]


def f2b_lines():
    return [PREFIX.format(i % 10) + text for i, (text, _) in enumerate(F2B_ROWS)]


def test_fail2ban_filter_matches_the_auth_failed_lines(tmp_path):
    """With fail2ban-regex (tools/install-deps installs fail2ban without starting it)."""
    if shutil.which("fail2ban-regex") is None:
        pytest.skip("fail2ban-regex is not installed")
    assert JAIL.exists() and "filter   = gate26" in JAIL.read_text()
    log = tmp_path / "gate26.log"
    log.write_text("\n".join(f2b_lines()) + "\n")
    want_hosts = [h for _, h in F2B_ROWS if h is not None]
    out = subprocess.run(["fail2ban-regex", str(log), str(FILTER)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(rf"Failregex: {len(want_hosts)} total", out.stdout), out.stdout
    assert f"Lines: {len(F2B_ROWS)} lines, 0 ignored, {len(want_hosts)} matched" in out.stdout, \
        out.stdout
    # The address fail2ban would ban, line by line.
    out = subprocess.run(["fail2ban-regex", "-o", "ip", str(log), str(FILTER)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split() == want_hosts


def f2b_hosts_by_python():
    """The filter's failregex with <HOST> as a named group, applied with Python's re."""
    text = FILTER.read_text()
    m = re.search(r"^failregex\s*=\s*(.+)$", text, re.M)
    assert m, text
    rx = m.group(1).strip().replace("<HOST>", r"(?P<host>[0-9A-Fa-f:.]+)")
    rx = rx.replace("%%", "%")
    hosts = []
    for line in f2b_lines():
        # fail2ban cuts the date off before it applies failregex.
        rest = line.split(" ", 1)[1]
        mm = re.search(rx, rest)
        if mm:
            hosts.append(mm.group("host"))
    return hosts


def test_fail2ban_filter_with_python_re():
    """The same check without fail2ban: <HOST> translated by hand."""
    assert f2b_hosts_by_python() == [h for _, h in F2B_ROWS if h is not None]
