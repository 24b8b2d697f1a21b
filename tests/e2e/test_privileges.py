# SPDX-License-Identifier: MIT
"""Privileges (issue "TLS, authentication and access control"): started as
root, gate26 binds its ports (a port below 1024 too), reads its keys and
opens the spool, then becomes the configured user, with that user's group
and no supplementary group, before it serves anyone; it refuses to serve as
root. The spool and the control socket are the user's alone. Started as
another user with unprivileged ports, it runs as it is.

Run as root (most of it needs root); the user is conftest.GATE26_USER,
made by tools/install-deps."""
import grp
import os
import pwd
import signal
import socket
import stat
import subprocess

import pytest

from conftest import (BIN, GATE26_USER, SANITIZER_MARKS, Raw, assert_serving, config_text, cmd,
                      free_port, queued_id, wait_for, want)

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or GATE26_USER is None,
                                reason="starting gate26 as root needs root")

# Port 26 itself, on an address of its own: below 1024, so only root can bind it.
LOW = "127.0.0.26"
LOW_PORT = 26


def ids():
    pw = pwd.getpwnam(GATE26_USER)
    return pw.pw_uid, pw.pw_gid


def proc_status(pid):
    """The Uid, Gid and Groups lines of /proc/PID/status, as lists of numbers."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                out[key] = [int(x) for x in rest.split()]
    return out


def owner_mode(path):
    st = os.stat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), st.st_mode


def send_one(port, host="127.0.0.1", rcpt="bob@example.test"):
    r = Raw(port, host=host)
    try:
        want(r, 220, None)
        cmd(r, "EHLO client.test", 250, None)
        cmd(r, "MAIL FROM:<alice@far.test>", 250, "2.1.0")
        cmd(r, f"RCPT TO:<{rcpt}>", 250, "2.1.5")
        cmd(r, "DATA", 354, None)
        r.send("Subject: privileges\r\n\r\nhello\r\n.\r\n")
        qid = queued_id(r)
        cmd(r, "QUIT", 221, "2.0.0")
        return qid
    finally:
        r.close()


def run_serve(conf, log, argv_prefix=()):
    with open(log, "ab") as f:
        return subprocess.Popen([*argv_prefix, BIN, "serve", "-c", str(conf)], stdout=f,
                                stderr=subprocess.STDOUT)


def stop(proc, log):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log.read_text(errors="replace")
    for mark in SANITIZER_MARKS:
        assert mark not in text, text[-3000:]
    return proc.returncode


def write_conf(tmp_path, port, user, spool=None, address=None):
    """tmp_path/gate26.conf: an internal door on 127.0.0.1:port (or address)."""
    conf = tmp_path / "gate26.conf"
    door = {"allow": "127.0.0.1", "tls": "none"}
    if address is not None:
        door["address"] = address
    conf.write_text(config_text(spool or tmp_path / "spool", {"internal": port},
                                {"internal": door}, {}, user=user))
    return conf


# ---------------------------------------------------------------- root -> gate26


def test_started_as_root_serves_as_the_user_on_a_low_port(gateway):
    uid, gid = ids()
    g = gateway(doors={"inbound": {"address": f"{LOW}:{LOW_PORT}", "tls": "none"},
                       "internal": {"allow": "127.0.0.1", "tls": "none"}})
    st = proc_status(g.pid)
    assert st["Uid"] == [uid] * 4, f"real, effective, saved and fs uid: {st}"
    assert st["Gid"] == [gid] * 4, f"real, effective, saved and fs gid: {st}"
    assert st["Groups"] == [], f"supplementary groups left: {st}"
    assert (f"event=privileges, user={GATE26_USER}, uid={uid}, gid={gid}, groups=none"
            in g.log())
    # The switch comes after the listeners are open and before the scheduler and the loop.
    log = g.log()
    assert log.index("event=listening") < log.index("event=privileges") < log.index("event=start")

    # Port 26, bound before the switch, serves; so does the other door.
    qid = send_one(LOW_PORT, host=LOW, rcpt="bob@ours.test")
    assert_serving(g, "inbound", host=LOW)
    assert_serving(g, "internal")

    # The spool and what is in it are the user's alone.
    for sub in ("", "tmp", "queue", "quarantine"):
        u, gr, mode, _ = owner_mode(g.spool / sub)
        assert (u, gr, mode) == (uid, gid, 0o700), (sub, u, gr, oct(mode))
    u, gr, mode, _ = owner_mode(g.spool / "queue" / qid)
    assert (u, gr, mode) == (uid, gid, 0o600), (qid, u, gr, oct(mode))
    u, gr, mode, raw_mode = owner_mode(g.spool / "control")
    assert stat.S_ISSOCK(raw_mode)
    assert (u, gr, mode) == (uid, gid, 0o600), ("control", u, gr, oct(mode))

    # Root still reaches the 0600 control socket: gate26 queue works as the admin runs it.
    p = subprocess.run([BIN, "queue", "-c", str(g.conf), "list"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    assert qid in p.stdout and p.stdout.splitlines()[-1] == "1 message"


def test_messages_queued_before_are_given_to_the_user_and_the_socket_goes_at_stop(gateway):
    uid, gid = ids()
    g = gateway()
    qid = send_one(g.port("inbound"), rcpt="bob@ours.test")
    g.stop()
    # The socket is removed at stop (through the directory fd: the path is not the user's).
    assert not (g.spool / "control").exists()
    # A file that root left behind (an admin's copy) is the user's after the next start.
    os.chown(g.spool / "queue" / qid, 0, 0)
    g.start()
    assert owner_mode(g.spool / "queue" / qid)[:2] == (uid, gid)
    p = subprocess.run([BIN, "queue", "-c", str(g.conf), "show", qid], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0 and "bob@ours.test" in p.stdout, p.stdout + p.stderr
    assert_serving(g)


def test_a_spool_others_can_read_is_made_private(gateway):
    g = gateway(start=False)
    for sub in ("", "tmp", "queue"):
        (g.spool / sub).mkdir()
        os.chmod(g.spool / sub, 0o755)
    g.start()
    for sub in ("", "tmp", "queue"):
        assert owner_mode(g.spool / sub)[2] == 0o700, sub
    where = str(g.spool) + "/queue"
    assert (f"-: spool={where}, event=chmod, mode=0700, was=0755, "
            "note=\"others could reach the spool\"" in g.log())
    assert_serving(g)


def test_a_reload_as_the_user_reads_the_configuration_again(gateway):
    g = gateway()
    g.write_config(extra="max-sessions 7")
    g.hup()
    wait_for(lambda: "event=reload, status=ok" in g.log(), what="the reload")
    assert proc_status(g.pid)["Uid"] == [ids()[0]] * 4
    assert_serving(g)


# ---------------------------------------------------------------- refusals


ROOT_WITHOUT_USER = ("started as root without 'user': gate26 does not serve as root; add "
                     "'user NAME' naming an unprivileged account (such as gate26) to switch to")


@pytest.mark.parametrize("user, reason", [
    (None, ROOT_WITHOUT_USER),
    ("root", "user 'root' is root: name an unprivileged user"),
    ("nosuchuser26", "user 'nosuchuser26' does not exist"),
])
def test_serve_as_root_refuses(tmp_path, user, reason):
    port = free_port()
    conf = write_conf(tmp_path, port, user)
    p = subprocess.run([BIN, "serve", "-c", str(conf)], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 1, p
    # The user key's line, when it is written (it is the file's last).
    at = f"{conf}:{len(conf.read_text().splitlines())}" if user else str(conf)
    assert p.stderr == f"{at}: {reason}\n"
    assert p.stdout == ""
    # Refused before anything was created or bound.
    assert not (tmp_path / "spool").exists()
    with socket.socket() as s:
        s.settimeout(2)
        assert s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("user, reason", [
    (None, ROOT_WITHOUT_USER),
    ("root", "user 'root' is root: name an unprivileged user"),
    ("nosuchuser26", "user 'nosuchuser26' does not exist"),
])
def test_configtest_as_root_refuses_as_serve_would(tmp_path, user, reason):
    conf = write_conf(tmp_path, free_port(), user)
    p = subprocess.run([BIN, "configtest", "-c", str(conf)], capture_output=True, text=True,
                       timeout=30)
    at = f"{conf}:{len(conf.read_text().splitlines())}" if user else str(conf)
    assert (p.returncode, p.stdout, p.stderr) == (1, "", f"{at}: {reason}\n")


def test_configtest_as_root_with_the_user_is_ok(tmp_path):
    conf = write_conf(tmp_path, free_port(), GATE26_USER)
    p = subprocess.run([BIN, "configtest", "-c", str(conf)], capture_output=True, text=True,
                       timeout=30)
    assert (p.returncode, p.stderr) == (0, "")
    assert p.stdout.endswith(f"{conf}: configuration ok (1 listen block, 0 domains)\n")


# ---------------------------------------------------------------- started as the user

AS_USER = ["setpriv", f"--reuid={GATE26_USER}", f"--regid={GATE26_USER}", "--clear-groups"]


def test_configtest_as_another_user_accepts_no_user_key(tmp_path):
    conf = write_conf(tmp_path, free_port(), None)
    p = subprocess.run([*AS_USER, BIN, "configtest", "-c", str(conf)], capture_output=True,
                       text=True, timeout=30)
    assert (p.returncode, p.stderr) == (0, ""), p


def test_started_as_the_user_runs_as_it_is(tmp_path):
    uid, gid = ids()
    port = free_port()
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    os.chown(spool, uid, gid)
    conf = write_conf(tmp_path, port, None, spool)
    log = tmp_path / "gate26.log"
    proc = run_serve(conf, log, AS_USER)
    try:
        wait_for(lambda: "event=start" in log.read_text() or proc.poll() is not None,
                 what="gate26 to start")
        assert proc.poll() is None, log.read_text()
        st = proc_status(proc.pid)
        assert st["Uid"] == [uid] * 4 and st["Gid"] == [gid] * 4 and st["Groups"] == [], st
        assert "event=privileges" not in log.read_text()
        qid = send_one(port, rcpt="bob@far.test")
        assert owner_mode(spool / "queue" / qid)[:3] == (uid, gid, 0o600)
    finally:
        code = stop(proc, log)
    assert code == 0, log.read_text()[-3000:]


def test_started_as_the_user_cannot_take_a_low_port(tmp_path):
    uid, gid = ids()
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    os.chown(spool, uid, gid)
    conf = write_conf(tmp_path, LOW_PORT, None, spool, address=f"{LOW}:{LOW_PORT}")
    p = subprocess.run([*AS_USER, BIN, "serve", "-c", str(conf)], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1, p
    line = next(i for i, t in enumerate(conf.read_text().splitlines(), 1) if f"{LOW}:" in t)
    assert p.stderr == (f"{conf}:{line}: address {LOW}:{LOW_PORT}: Permission denied (a port "
                        f"below 1024 is bound by gate26 started as root)\n"), p.stderr


def test_started_as_the_user_with_another_user_key_warns_and_runs(tmp_path):
    uid, _ = ids()
    port = free_port()
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    os.chown(spool, uid, grp.getgrnam(GATE26_USER).gr_gid)
    conf = write_conf(tmp_path, port, "nobody", spool)
    log = tmp_path / "gate26.log"
    proc = run_serve(conf, log, AS_USER)
    try:
        wait_for(lambda: "event=start" in log.read_text() or proc.poll() is not None,
                 what="gate26 to start")
        assert proc.poll() is None, log.read_text()
        assert (f"event=privileges, user=nobody, note=\"not started as root: running as uid "
                f"{uid} instead\"" in log.read_text())
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.settimeout(5)
            assert c.recv(100).startswith(b"220 ")
    finally:
        code = stop(proc, log)
    assert code == 0
