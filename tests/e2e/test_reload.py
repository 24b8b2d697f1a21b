# SPDX-License-Identifier: MIT
"""SIGHUP and SIGTERM on the running daemon.

A reload replaces the running configuration only when the new file is valid
and every listener it names could be opened; otherwise the old one keeps
running and the log says why. Sessions hold a reference to the
configuration they started under: a session open across a reload keeps the
old domains, limits and hostname; only new sessions see the new file.
Listening sockets whose address stays are kept (never closed and reopened).
"""
import os
import pwd
import signal
import smtplib
import socket
import ssl
import subprocess

import pytest

from certs import CA
from conftest import BIN, GATE26_USER, Raw, config_text, free_port, wait_for
from dnsmasq import dnsmasq  # noqa: F401 (a fixture)
from smtp_peer import Peer

A_ONLY = {"a.test": None}
A_AND_B = {"a.test": None, "b.test": None}
INTERNAL = {"allow": "127.0.0.0/8", "tls": "none"}


def doors(**internal):
    return {"inbound": {"tls": "none"}, "internal": dict(INTERNAL, **internal)}


def line_of(text, needle):
    """The 1-based number of the first line of text holding needle."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def reload_lines(g):
    return [line for line in g.log().splitlines() if "event=reload, " in line]


def reload(g, status="ok"):
    """SIGHUP, wait (up to 10 s) for the daemon's reload line, check its status, return it."""
    before = len(reload_lines(g))
    g.hup()
    wait_for(lambda: len(reload_lines(g)) > before, timeout=10, what="the reload log line")
    lines = reload_lines(g)
    assert len(lines) == before + 1, lines[before:]
    line = lines[-1]
    assert f"event=reload, status={status}" in line, line
    assert g.proc.poll() is None, f"gate26 exited on SIGHUP:\n{g.log()[-3000:]}"
    return line


def write_raw(g, doors_, domains, hostname="gate26.test", extra="", log_level="debug"):
    """Writes g.conf without touching g's attributes (for hostname and log-level)."""
    text = config_text(g.spool, g.ports, doors_, domains, extra=extra, hostname=hostname)
    g.conf.write_text(text.replace("log-level debug", f"log-level {log_level}"))
    return text


def listen_inode6(port):
    """The inode of the socket listening on [::1]:port (from /proc/net/tcp6), or None."""
    want = f"00000000000000000000000001000000:{port:04X}"
    with open("/proc/net/tcp6") as f:
        next(f)
        for row in f:
            fields = row.split()
            if fields[1] == want and fields[3] == "0A":
                return fields[9]
    return None


def refused(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def listen_inode(port):
    """The inode of the socket listening on 127.0.0.1:port (from /proc/net/tcp), or None."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        next(f)
        for row in f:
            fields = row.split()
            if fields[1] == want and fields[3] == "0A":  # 0A: LISTEN
                return fields[9]
    return None


def rcpt(r, addr, code, text=None):
    return r.cmd(f"RCPT TO:<{addr}>", code, text)


def start_txn(r, helo="client.test"):
    r.cmd(f"EHLO {helo}", 250)
    r.cmd("MAIL FROM:<sender@client.test>", 250, "2.1.0")


# ---- good reloads ----

def test_reload_adds_a_domain_new_sessions_see_it_old_session_keeps_old_config(gateway):
    g = gateway(domains=A_ONLY)
    old = g.raw("inbound")
    start_txn(old)
    rcpt(old, "u@a.test", 250, "2.1.5")
    rcpt(old, "u@b.test", 550, "5.7.1 Relay access denied")

    g.write_config(domains=A_AND_B)
    line = reload(g)
    assert f"config={g.conf}, listeners=2, domains=2" in line

    new = g.raw("inbound")
    start_txn(new)
    rcpt(new, "u@b.test", 250, "2.1.5")
    rcpt(new, "u@a.test", 250, "2.1.5")
    new.cmd("QUIT", 221)
    new.close()

    # The session opened before the reload still works, and it follows the
    # configuration it started under (sessions hold a reference to it):
    # b.test is still refused there.
    old.cmd("NOOP", 250, "2.0.0")
    rcpt(old, "v@b.test", 550, "5.7.1")
    old.cmd("DATA", 354)
    old.send("Subject: across a reload\r\n\r\nbody\r\n.\r\n")
    old.expect(250, "2.0.0 Ok: queued as")
    old.cmd("QUIT", 221)
    old.close()
    assert len(g.queue_files()) == 1
    head, _ = g.message(g.queue_files()[0])
    assert "u@a.test" in head and "b.test" not in head


def test_reload_removes_a_domain(gateway):
    g = gateway(domains=A_AND_B)
    g.write_config(domains=A_ONLY)
    reload(g)
    r = g.raw("inbound")
    start_txn(r)
    rcpt(r, "u@b.test", 550, "5.7.1")
    rcpt(r, "u@a.test", 250)
    r.close()


def test_reload_with_the_same_file_changes_nothing(gateway):
    g = gateway(domains=A_ONLY)
    inode = listen_inode(g.port("internal"))
    assert inode is not None
    kept = g.raw("internal")
    for _ in range(3):
        reload(g)
    assert listen_inode(g.port("internal")) == inode
    kept.cmd("EHLO client.test", 250)
    r = g.raw("inbound")
    start_txn(r)
    rcpt(r, "u@a.test", 250)
    r.close()
    kept.close()
    assert "event=closed" not in g.log()


def test_reload_keeps_both_families_of_a_door(gateway):
    g = gateway(domains=A_ONLY, start=False)
    port = g.port("inbound")
    g.write_config(doors={"inbound": {"tls": "none",
                                      "address": f"127.0.0.1:{port} [::1]:{port}"},
                          "internal": INTERNAL})
    g.start()
    inodes = (listen_inode(port), listen_inode6(port))
    assert None not in inodes
    v6 = Raw(port, host="::1")
    v6.expect(220)
    g.write_config(domains=A_AND_B)
    reload(g)
    assert (listen_inode(port), listen_inode6(port)) == inodes
    assert "event=closed" not in g.log()
    start_txn(v6)
    rcpt(v6, "u@b.test", 550, "5.7.1")  # the old session, the old domains
    v6.close()
    r = Raw(port, host="::1")
    r.expect(220)
    start_txn(r)
    rcpt(r, "u@b.test", 250)
    r.close()


def test_many_hups_in_a_row(gateway):
    g = gateway(domains=A_ONLY)
    g.write_config(domains=A_AND_B)
    for _ in range(20):
        g.hup()
    wait_for(lambda: len(reload_lines(g)) >= 1, what="a reload line")
    # Signals may coalesce; every reload that ran succeeded, and the daemon serves the new file.
    r = g.raw("inbound")
    start_txn(r)
    rcpt(r, "u@b.test", 250)
    r.close()
    assert all("status=ok" in line for line in reload_lines(g)), reload_lines(g)
    assert g.proc.poll() is None


# ---- listeners across a reload ----

def test_reload_adds_a_listen_address(gateway):
    g = gateway(domains=A_ONLY)
    p1, p2 = g.port("internal"), free_port()
    assert refused(p2)
    kept = g.raw("internal")
    inode = listen_inode(p1)

    g.write_config(doors=doors(address=f"127.0.0.1:{p1} 127.0.0.1:{p2}"))
    reload(g)
    assert f"-: listener=127.0.0.1:{p2}, door=internal, event=listening" in g.log()

    r = Raw(p2)
    r.expect(220, "gate26.test ESMTP gate26")
    start_txn(r)
    rcpt(r, "someone@far.test", 250)  # the internal door: mail to anywhere
    r.close()
    # The port that stays was never closed: same socket, same open session.
    assert listen_inode(p1) == inode
    assert f"listener=127.0.0.1:{p1}, event=closed" not in g.log()
    kept.cmd("NOOP", 250)
    g.raw("internal").close()
    kept.close()


def test_reload_removes_a_listen_address(gateway):
    g = gateway(domains=A_ONLY, start=False)
    p1, p2 = g.port("internal"), free_port()
    g.write_config(doors=doors(address=f"127.0.0.1:{p1} 127.0.0.1:{p2}"))
    g.start()
    on_p2 = Raw(p2)
    on_p2.expect(220)
    on_p2.cmd("EHLO client.test", 250)
    inode = listen_inode(p1)

    g.write_config(doors=doors())  # back to p1 only
    reload(g)
    assert f"-: listener=127.0.0.1:{p2}, event=closed" in g.log()
    assert refused(p2)
    assert listen_inode(p2) is None
    assert listen_inode(p1) == inode
    g.raw("internal").close()
    # Closing a listener does not cut the sessions it accepted: that session
    # goes on under the configuration (and door) it started with.
    on_p2.cmd("MAIL FROM:<a@client.test>", 250)
    rcpt(on_p2, "b@far.test", 250)
    on_p2.cmd("DATA", 354)
    on_p2.send("Subject: x\r\n\r\nbody\r\n.\r\n")
    on_p2.expect(250, "queued as")
    on_p2.cmd("QUIT", 221)
    on_p2.close()
    assert len(g.queue_files()) == 1


def test_reload_removes_a_whole_door(gateway):
    g = gateway(domains=A_ONLY)
    inbound = g.port("inbound")
    g.write_config(doors={"internal": INTERNAL}, domains={})
    line = reload(g)
    assert "listeners=1, domains=0" in line
    assert refused(inbound)
    g.raw("internal").close()


def test_reload_swaps_the_roles_of_two_ports(gateway):
    # Sockets are kept by address: the same port now serves another door.
    g = gateway(domains=A_ONLY)
    pin, pint = g.port("inbound"), g.port("internal")
    inodes = (listen_inode(pin), listen_inode(pint))
    g.write_config(doors={"inbound": {"tls": "none", "address": f"127.0.0.1:{pint}"},
                          "internal": dict(INTERNAL, address=f"127.0.0.1:{pin}")})
    reload(g)
    assert (listen_inode(pin), listen_inode(pint)) == inodes
    now_inbound = Raw(pint)
    now_inbound.expect(220)
    start_txn(now_inbound)
    rcpt(now_inbound, "x@far.test", 550, "5.7.1")
    rcpt(now_inbound, "x@a.test", 250)
    now_inbound.close()
    now_internal = Raw(pin)
    now_internal.expect(220)
    start_txn(now_internal)
    rcpt(now_internal, "x@far.test", 250)
    now_internal.close()


def test_kept_port_is_never_closed_during_reload(gateway):
    g = gateway(domains=A_ONLY)
    port = g.port("internal")
    inode = listen_inode(port)
    before = g.raw("internal")
    g.write_config(domains=A_AND_B)
    n = len(reload_lines(g))
    g.hup()
    # Connections made while the reload runs wait in the kept socket's backlog:
    # each one is greeted; none is refused or reset.
    during = [Raw(port) for _ in range(5)]
    wait_for(lambda: len(reload_lines(g)) > n, what="the reload line")
    assert "status=ok" in reload_lines(g)[-1]
    for r in during:
        r.expect(220)
        r.cmd("NOOP", 250)
        r.close()
    after = g.raw("internal")
    after.cmd("NOOP", 250)
    after.close()
    before.cmd("NOOP", 250)
    before.close()
    assert listen_inode(port) == inode
    assert f"listener=127.0.0.1:{port}, event=closed" not in g.log()


def test_reload_narrows_a_wildcard_address_to_one_address(gateway):
    # 0.0.0.0:P -> 127.0.0.1:P is a valid file (docs/config.md: the usual way
    # to move a door to one address); the reload must not fail on the old
    # wildcard socket that the new file no longer names.
    g = gateway(domains=A_ONLY, start=False)
    port = g.port("internal")
    g.write_config(doors=doors(address=f"0.0.0.0:{port}"))
    g.start()
    g.raw("internal").close()
    g.write_config(doors=doors(address=f"127.0.0.1:{port}"))
    reload(g, "ok")
    assert f"-: listener=0.0.0.0:{port}, event=closed" in g.log()
    r = g.raw("internal")
    r.cmd("NOOP", 250)
    r.close()


# ---- failed reloads ----

def test_bad_reload_keeps_running_config_then_good_reload_works(gateway):
    g = gateway(domains=A_ONLY)
    old = g.raw("inbound")
    good = config_text(g.spool, g.ports, g.doors, A_AND_B)
    bad = good + "listen submission {\n    adress 127.0.0.1:1\n}\n"
    bad_line = len(good.splitlines()) + 2
    g.conf.write_text(bad)
    line = reload(g, "failed")
    assert line.endswith(f'-: event=reload, status=failed, error="{g.conf}:{bad_line}: unknown key '
                    f"'adress' in listen block (expected one of: address, allow, tls, auth, "
                    f"max-message-size, max-recipients, max-errors, max-sessions, "
                    f"timeout-command, timeout-data, deny, proxy-protocol, "
                    f"max-sessions-per-client, connection-rate, message-rate, sender-rate, "
                    f"limits-exempt, scanners)\", "
                    f"action=kept-running-config"), line

    # Still running, still the old configuration: a.test yes, b.test no.
    r = g.raw("inbound")
    start_txn(r)
    rcpt(r, "u@a.test", 250)
    rcpt(r, "u@b.test", 550, "5.7.1")
    r.close()
    old.cmd("NOOP", 250)

    g.conf.write_text(good)
    reload(g, "ok")
    r = g.raw("inbound")
    start_txn(r)
    rcpt(r, "u@b.test", 250)
    r.close()
    old.cmd("NOOP", 250)
    old.close()


def test_reload_of_a_vanished_file_keeps_running_config(gateway):
    g = gateway(domains=A_ONLY)
    g.conf.rename(g.conf.with_suffix(".moved"))
    line = reload(g, "failed")
    assert f'error="{g.conf}: cannot open: No such file or directory"' in line
    r = g.raw("inbound")
    start_txn(r)
    rcpt(r, "u@a.test", 250)
    r.close()


def test_reload_that_would_bind_a_taken_port_fails_and_old_listeners_serve(gateway):
    g = gateway(domains=A_ONLY)
    p1 = g.port("internal")
    inode = listen_inode(p1)
    p_free = free_port()
    blocker = socket.socket()
    try:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        p_taken = blocker.getsockname()[1]
        # p_free is bound first, then p_taken fails: p_free must be let go again.
        g.write_config(doors=doors(address=f"127.0.0.1:{p1} 127.0.0.1:{p_free} "
                                           f"127.0.0.1:{p_taken}"),
                       domains=A_AND_B)
        line = reload(g, "failed")
        at = line_of(g.conf.read_text(), f"127.0.0.1:{p_taken}")
        assert line.endswith(f'-: event=reload, status=failed, error="{g.conf}:{at}: address '
                             f'127.0.0.1:{p_taken}: cannot listen: Address already in use", '
                             f'action=kept-running-config'), line
        assert refused(p_free)
        assert listen_inode(p1) == inode
        r = g.raw("internal")
        r.cmd("NOOP", 250)
        r.close()
        r = g.raw("inbound")
        start_txn(r)
        rcpt(r, "u@a.test", 250)
        rcpt(r, "u@b.test", 550, "5.7.1")  # the new file was not taken
        r.close()
    finally:
        blocker.close()
    # Once the port is free, the same file loads.
    reload(g, "ok")
    for port in (p1, p_free, p_taken):
        r = Raw(port)
        r.expect(220)
        r.close()
    assert listen_inode(p1) == inode


def test_reload_changing_spool_is_refused(gateway):
    g = gateway(domains=A_ONLY)
    old_spool = g.spool
    new_spool = g.dir / "other-spool"
    g.write_config(spool=new_spool, domains=A_AND_B)
    g.spool = old_spool  # the daemon keeps using it
    line = reload(g, "failed")
    at = line_of(g.conf.read_text(), "spool ")
    assert line.endswith(f'-: event=reload, status=failed, error="{g.conf}:{at}: \'spool\' changes '
                         f'only at a restart (running with {old_spool}, the file says '
                         f'{new_spool})", action=kept-running-config'), line
    r = g.raw("inbound")
    start_txn(r)
    rcpt(r, "u@b.test", 550, "5.7.1")
    rcpt(r, "u@a.test", 250)
    r.cmd("DATA", 354)
    r.send("Subject: x\r\n\r\nbody\r\n.\r\n")
    r.expect(250, "queued as")
    r.close()
    assert len(g.queue_files()) == 1
    assert not new_spool.exists()


def test_reload_same_spool_written_relative_is_not_a_change(gateway):
    g = gateway(domains=A_ONLY)
    # The configuration file sits in g.dir, next to the spool.
    g.write_config(spool="spool", domains=A_AND_B)
    reload(g, "ok")
    g.write_config(spool="./spool", domains=A_ONLY)
    reload(g, "ok")


def test_reload_same_spool_with_trailing_slash_is_not_a_change(gateway):
    g = gateway(domains=A_ONLY)
    g.write_config(spool=f"{g.spool}/", domains=A_AND_B)
    g.spool = g.dir / "spool"
    reload(g, "ok")


# ---- settings that sessions read ----

def test_reload_hostname_and_max_recipients(gateway):
    g = gateway(domains=A_ONLY, start=False)
    write_raw(g, doors(**{"max-recipients": "2"}), A_ONLY, hostname="old.test")
    g.start()
    old = Raw(g.port("internal"))
    old.expect(220, "old.test ESMTP gate26")

    write_raw(g, doors(**{"max-recipients": "3"}), A_ONLY, hostname="new.test")
    reload(g)

    new = Raw(g.port("internal"))
    assert new.expect(220) == "new.test ESMTP gate26"
    assert new.cmd("EHLO client.test", 250).splitlines()[0] == "new.test"
    new.cmd("MAIL FROM:<s@client.test>", 250)
    for i in range(3):
        rcpt(new, f"r{i}@far.test", 250)
    rcpt(new, "r3@far.test", 452, "4.5.3 Too many recipients")
    new.close()

    # The old session keeps its configuration: its hostname, its limit of 2.
    assert old.cmd("EHLO client.test", 250).splitlines()[0] == "old.test"
    old.cmd("MAIL FROM:<s@client.test>", 250)
    for i in range(2):
        rcpt(old, f"r{i}@far.test", 250)
    rcpt(old, "r2@far.test", 452, "4.5.3")
    old.cmd("QUIT", 221, "2.0.0")
    old.close()


def test_reload_lowers_max_sessions_on_a_kept_listener(gateway):
    g = gateway(domains=A_ONLY)
    open_ = [g.raw("internal") for _ in range(2)]
    g.write_config(doors=doors(**{"max-sessions": "2"}))
    reload(g)
    # Two sessions are open (from before): a third is one too many.
    r = Raw(g.port("internal"))
    r.expect(421, "4.3.2 gate26.test Too many connections")
    assert r.is_closed()
    r.close()
    for o in open_:
        o.cmd("NOOP", 250)
    open_.pop().cmd("QUIT", 221)
    # One ended: there is room for one more (poll: its end is counted when it is freed).
    def room():
        r = Raw(g.port("internal"))
        code, _ = r.reply()
        r.close()
        return code == 220
    wait_for(room, what="a free session slot")
    open_[0].close()


def test_reload_changes_log_level(gateway):
    g = gateway(domains=A_ONLY)
    # To warning, and b.test added so that the new file can be seen at work
    # (the reload line itself is at info level, so it is not logged).
    write_raw(g, doors(), A_AND_B, log_level="warning")
    g.hup()

    def b_accepted():
        r = g.raw("inbound")
        try:
            start_txn(r)
            r.send("RCPT TO:<u@b.test>\r\n")
            return r.reply()[0] == 250
        finally:
            r.close()

    wait_for(b_accepted, what="the new file to be in force")
    mark = len(g.log())
    r = g.raw("internal")
    r.cmd("QUIT", 221)
    assert r.is_closed()
    r.close()
    quiet = g.log()[mark:]
    assert "event=connect" not in quiet and "event=disconnect" not in quiet, quiet
    assert "status=failed" not in g.log()

    write_raw(g, doors(), A_AND_B, log_level="info")
    reload(g)
    r = g.raw("internal")
    r.close()
    wait_for(lambda: "event=connect" in g.log()[mark:], what="info lines again")


# ---- stopping ----

def test_sigterm_stops_with_421_to_open_sessions(gateway):
    g = gateway(domains=A_ONLY)
    idle = g.raw("internal")
    idle.cmd("EHLO client.test", 250)
    in_data = g.raw("internal")
    start_txn(in_data)
    rcpt(in_data, "x@far.test", 250)
    in_data.cmd("DATA", 354)
    in_data.send("Subject: never finished\r\n\r\nhalf a bo")
    port = g.port("internal")
    g.stop()  # SIGTERM by PID; asserts exit 0 and a clean sanitizer log
    for r in (idle, in_data):
        # On loopback the socket's send buffer is empty: the daemon's one
        # non-blocking attempt to send the 421 cannot fail to go out.
        assert r.is_closed(timeout=10), "connection not closed on SIGTERM"
        assert r.buf == b"421 4.3.0 gate26.test Service shutting down, try again later\r\n", \
            f"expected the 421 before the close, got {r.buf!r}"
        r.close()
    assert refused(port)
    log = g.log()
    assert "-: event=stop, signal=TERM" in log
    assert log.rstrip().endswith("-: event=stopped")
    assert g.queue_files() == []
    assert g.tmp_files() == []


def test_sigint_stops_with_exit_0(gateway):
    g = gateway(domains=A_ONLY)
    r = g.raw("inbound")
    proc = g.proc
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    g.proc = None  # stopped here; the fixture has nothing left to stop
    assert r.is_closed(timeout=10)
    r.close()
    g.check_sanitizers()
    assert proc.returncode == 0, g.log()[-3000:]
    assert "-: event=stop, signal=INT" in g.log()


# ---- what a reload changes, key class by key class (docs/config.md, "What a reload changes") ----

@pytest.fixture
def ca(tmp_path):
    return CA(tmp_path / "pki")


@pytest.fixture
def peers():
    started = []

    def make(host="127.0.0.1", port=0, **options):
        p = Peer(host=host, port=port, **options).start()
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def tls_ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def make_passwd(path, users):
    for user, password in users.items():
        p = subprocess.run([BIN, "passwd", "-f", str(path), user], input=password.encode() + b"\n",
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
    path.chmod(0o644)  # a reload reads it as the user
    return path


def ehlo_words(port, starttls=False):
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=10) as c:
        c.ehlo()
        if starttls:
            c.starttls(context=tls_ctx())
            c.ehlo()
        return set(c.esmtp_features)


def test_an_auth_block_added_by_sighup_offers_auth_and_logs_in(gateway, ca, tmp_path):
    """AUTH needs the password checkers, which a start made only with an auth block: the
    reload that adds the block (and the door that needs it) makes them."""
    g = gateway(doors=doors(), domains=A_ONLY, tls=ca.issue("gate26.test", "127.0.0.1"))
    pw = make_passwd(tmp_path / "passwd", {"alice@a.test": "s3cret"})
    sub = g.ports["submission"] = free_port()
    g.write_config(doors=dict(doors(), submission={}), extra=f"auth {{\n    passwd {pw}\n}}\n")
    reload(g)
    assert "auth" in ehlo_words(sub, starttls=True)
    with smtplib.SMTP("127.0.0.1", sub, local_hostname="client.test", timeout=10) as c:
        c.starttls(context=tls_ctx())
        c.login("alice@a.test", "s3cret")
        c.sendmail("alice@a.test", ["x@far.test"], b"Subject: after a reload\r\n\r\nhi\r\n")
    (qid,) = g.queue_files()
    assert "door submission" in g.message(qid)[0]
    assert 'event=auth, user="alice@a.test", mech=' in g.log()


def test_an_auth_block_removed_by_sighup(gateway, ca, tmp_path):
    pw = make_passwd(tmp_path / "passwd", {"bob": "pw1"})
    auth = f"auth {{\n    passwd {pw}\n}}\n"
    g = gateway(doors=dict(doors(), submission={}), domains=A_ONLY,
                tls=ca.issue("gate26.test", "127.0.0.1"), extra=auth)
    sub = g.port("submission")
    assert "auth" in ehlo_words(sub, starttls=True)
    # The block alone removed: the submission door would accept no mail. Refused, and kept.
    g.write_config(extra="")
    line = reload(g, "failed")
    at = line_of(g.conf.read_text(), "listen submission")
    assert (f'error="{g.conf}:{at}: listen submission requires AUTH (its default), which needs an '
            f'auth {{ passwd FILE }} block' in line), line
    with smtplib.SMTP("127.0.0.1", sub, local_hostname="client.test", timeout=10) as c:
        c.starttls(context=tls_ctx())
        c.login("bob", "pw1")
    # The block and the door removed together: the door is gone.
    g.write_config(doors=doors())
    reload(g)
    assert refused(sub)
    r = g.raw("internal")
    r.cmd("EHLO client.test", 250)
    r.cmd("AUTH PLAIN AGJvYgBwdzE=", 503, "5.5.1 AUTH is not offered on this door")
    r.close()


def test_tls_added_and_removed_by_sighup(gateway, ca):
    g = gateway(doors=doors(), domains=A_ONLY)
    assert "starttls" not in ehlo_words(g.port("internal"))
    cert, key = ca.issue("gate26.test", "127.0.0.1")
    g.write_config(doors=doors(tls="starttls"), tls=(cert, key))
    reload(g)
    assert "starttls" in ehlo_words(g.port("internal"))
    with smtplib.SMTP("127.0.0.1", g.port("internal"), local_hostname="c.test", timeout=10) as c:
        c.starttls(context=ssl.create_default_context(cafile=ca.pem))
        c.sendmail("a@a.test", ["b@far.test"], b"Subject: tls\r\n\r\nhi\r\n")
    g.write_config(doors=doors(), tls=None)
    reload(g)
    assert "starttls" not in ehlo_words(g.port("internal"))
    assert len(g.queue_files()) == 1


def test_a_privileged_port_not_bound_at_start_is_refused_naming_the_address(gateway):
    """After the switch to the user no port below 1024 can be bound: such a reload is refused
    before any socket moves, even where an old wildcard socket would have had to close to make
    room (it could not be bound again: the door would be lost)."""
    if os.geteuid() != 0:
        pytest.skip("binding a low port at start needs root")
    g = gateway(doors=doors(address="0.0.0.0:26"), domains=A_ONLY, start=False)
    g.ports["internal"] = 26
    g.start()
    assert Raw(26).expect(220)
    uid = pwd.getpwnam(GATE26_USER).pw_uid if GATE26_USER else os.geteuid()
    inbound = g.port("inbound")
    # The wildcard narrowed to one address of it; a low port added to another door.
    for new, low, port in (({"internal": doors(address="127.0.0.26:26")["internal"]},
                            "127.0.0.26:26", 26),
                           ({"internal": doors(address="0.0.0.0:26")["internal"],
                             "inbound": {"tls": "none",
                                         "address": f"127.0.0.1:{inbound} 127.0.0.27:25"}},
                            "127.0.0.27:25", 25)):
        g.write_config(doors=dict(doors(), **new), domains=A_AND_B)
        at = line_of(g.conf.read_text(), low)
        line = reload(g, "failed")
        assert line.endswith(f'error="{g.conf}:{at}: address {low}: port {port} needs root to '
                             f'bind and was not bound at start (gate26 runs as uid {uid} now): '
                             f'restart gate26 to listen there", action=kept-running-config'), line
    # The wildcard socket was never closed: the door serves, under the old file.
    assert "event=closed" not in g.log() and "event=lost" not in g.log()
    r = Raw(26)
    r.expect(220)
    start_txn(r)
    rcpt(r, "u@b.test", 250)  # internal: anywhere
    r.close()
    r = g.raw("inbound")
    start_txn(r)
    rcpt(r, "u@b.test", 550, "5.7.1")  # the new domains were not taken
    r.close()


def test_delivery_keys_apply_at_a_reload(gateway, peers):
    """relay-host (a delivery key) and a domain's relay change where the next message goes."""
    first, second, inside1, inside2 = peers(), peers(), peers(), peers()
    g = gateway(doors=doors(), domains={"a.test": f"smtp://127.0.0.1:{inside1.port}"},
                delivery=f"retry 1s\n    relay-host smtp://127.0.0.1:{first.port}")
    r = g.raw("internal")
    start_txn(r)
    rcpt(r, "x@far.test", 250)
    rcpt(r, "y@a.test", 250)
    r.cmd("DATA", 354)
    r.send("Subject: one\r\n\r\nbody\r\n.\r\n")
    r.expect(250, "queued as")
    r.close()
    wait_for(lambda: first.messages() and inside1.messages(), what="the first delivery")
    g.write_config(domains={"a.test": f"smtp://127.0.0.1:{inside2.port}"},
                   delivery=f"retry 1s\n    relay-host smtp://127.0.0.1:{second.port}")
    reload(g)
    r = g.raw("internal")
    start_txn(r)
    rcpt(r, "x@far.test", 250)
    rcpt(r, "y@a.test", 250)
    r.cmd("DATA", 354)
    r.send("Subject: two\r\n\r\nbody\r\n.\r\n")
    r.expect(250, "queued as")
    r.close()
    wait_for(lambda: second.messages() and inside2.messages(), what="the second delivery")
    assert len(first.messages()) == 1 and len(inside1.messages()) == 1


def test_a_changed_resolver_is_asked_after_the_reload(gateway, dnsmasq, peers):
    mx1, mx2 = peers(host="127.0.0.51", port=25), peers(host="127.0.0.52", port=25)
    dns1 = dnsmasq("--local=/test/", "--mx-host=far.test,mx.far.test,10",
                   "--host-record=mx.far.test,127.0.0.51")
    dns2 = dnsmasq("--local=/test/", "--mx-host=far.test,mx.far.test,10",
                   "--host-record=mx.far.test,127.0.0.52")

    def send(tag):
        r = g.raw("internal")
        start_txn(r)
        rcpt(r, f"{tag}@far.test", 250)
        r.cmd("DATA", 354)
        r.send(f"Subject: {tag}\r\n\r\nbody\r\n.\r\n")
        r.expect(250, "queued as")
        r.close()

    g = gateway(doors=doors(), domains=A_ONLY, delivery="retry 1s",
                extra=f"resolver {dns1.server}")
    send("one")
    wait_for(lambda: mx1.messages(), what="the delivery through the first resolver")
    # The same resolver: nothing to say about it.
    reload(g)
    assert "event=resolver" not in g.log() and "resolver changes" not in g.log()
    g.write_config(extra=f"resolver {dns2.server}")
    reload(g)
    assert (f'-: event=resolver, server="{dns2.server}", was="{dns1.server}", in_flight=0'
            in g.log())
    send("two")
    wait_for(lambda: mx2.messages(), what="the delivery through the new resolver")
    assert len(mx1.messages()) == 1
    # Back to the system's resolvers (no resolver key) is a change too.
    g.write_config(extra="")
    reload(g)
    assert g.log().count("event=resolver, ") == 2


def test_a_lookup_in_flight_finishes_on_the_old_resolver_which_then_goes(gateway, dnsmasq,
                                                                          peers):
    """The old resolver answers what it was asked (here: nothing, a timeout, so the attempt is
    retried) and is freed after; the retry asks the new one. ASan watches the freeing."""
    mx = peers(host="127.0.0.53", port=25)
    dns = dnsmasq("--local=/test/", "--mx-host=far.test,mx.far.test,10",
                  "--host-record=mx.far.test,127.0.0.53")
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # takes queries, answers none
    try:
        silent.bind(("127.0.0.1", 0))
        g = gateway(doors=doors(), domains=A_ONLY, delivery="retry 1s",
                    extra=f"resolver 127.0.0.1:{silent.getsockname()[1]}")
        r = g.raw("internal")
        start_txn(r)
        rcpt(r, "x@far.test", 250)
        r.cmd("DATA", 354)
        r.send("Subject: in flight\r\n\r\nbody\r\n.\r\n")
        r.expect(250, "queued as")
        r.close()
        silent.settimeout(10)
        silent.recvfrom(512)  # the MX query has been asked
        g.write_config(extra=f"resolver {dns.server}")
        reload(g)
        assert f'server="{dns.server}", was="127.0.0.1:{silent.getsockname()[1]}", in_flight=1' \
            in g.log()
        wait_for(lambda: mx.messages(), timeout=30, what="the delivery after the old lookup")
        assert "timeout asking 127.0.0.1:" in g.log()
    finally:
        silent.close()


def test_restart_only_user_is_refused_naming_the_key_and_the_old_one_serves(gateway):
    if GATE26_USER is None:
        pytest.skip("switching users needs root")
    g = gateway(domains=A_ONLY)
    text = g.conf.read_text()
    assert text.endswith(f"user {GATE26_USER}\n")
    g.conf.write_text(text.replace(f"user {GATE26_USER}\n", "user nobody\n")
                      .replace("domain a.test {", "domain b.test {\n}\ndomain a.test {"))
    line = reload(g, "failed")
    at = len(g.conf.read_text().splitlines())
    assert line.endswith(f'error="{g.conf}:{at}: \'user\' changes only at a restart (running with '
                         f'{GATE26_USER}, the file says nobody)", action=kept-running-config'), line
    # The old configuration, as the old user.
    r = g.raw("inbound")
    start_txn(r)
    rcpt(r, "u@b.test", 550, "5.7.1")
    r.close()
    with open(f"/proc/{g.pid}/status") as f:
        uid = next(int(x.split()[1]) for x in f if x.startswith("Uid:"))
    assert uid == pwd.getpwnam(GATE26_USER).pw_uid
    # Without the key at all, it is a change too ("by default").
    g.conf.write_text(text.replace(f"user {GATE26_USER}\n", ""))
    line = reload(g, "failed")
    assert (f"'user' changes only at a restart (running with {GATE26_USER}, the file says "
            f"(none) by default)") in line, line


def test_a_warning_at_start_when_hostname_is_unset_and_the_machine_name_is_no_fqdn(gateway):
    g = gateway(domains=A_ONLY, start=False)
    g.conf.write_text(g.conf.read_text().replace("hostname gate26.test\n", ""))
    g.start()
    machine = socket.gethostname()
    warned = "'hostname' is not set and this machine's name" in g.log()
    if "." not in machine or machine.split(".")[0] == "localhost":
        assert warned, g.log()
        assert (f"-: event=config, warning=\"{g.conf}: 'hostname' is not set and this machine's "
                f"name '{machine}' is not a fully qualified domain name") in g.log()
    else:
        assert not warned, g.log()
    # Written, no warning.
    g.stop()
    g.write_config()
    g.start()
    assert g.log()[g.log_offset:].count("'hostname' is not set") == 0
