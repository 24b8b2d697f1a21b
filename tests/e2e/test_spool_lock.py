# SPDX-License-Identifier: MIT
"""One daemon per spool (issue 11, item 1; docs/spool.md, "The lock").

A second `gate26 serve` on the spool of a running one exits 1 with one
clear line and changes nothing: the message the running one is receiving
(its tmp/ file) survives and gets its 250. Two daemons started at the same
moment, 50 times: exactly one serves and no queued message is lost. A lock
file left by a daemon killed with -9 does not stop the next start. A reader
(gate26 queue with the daemon stopped holds a shared lock) makes a starting
daemon wait, not fail, unless it never lets go.
"""
import fcntl
import os
import pwd
import signal
import stat
import subprocess

from conftest import BIN, GATE26_USER, SANITIZER_MARKS, assert_serving, queued_id, wait_for, want


def spool_at(g):
    """Where a start-up error about the spool points: the spool key's FILE:LINE."""
    n = next(i for i, line in enumerate(g.conf.read_text().splitlines(), 1)
             if line.split()[:1] == ["spool"])
    return f"{g.conf}:{n}: spool: {g.spool}"


def in_use(g, pid):
    return (f"{spool_at(g)}: the spool is in use by another gate26 (pid {pid}); stop it "
            "first, or give this one its own spool\n")


def tree(root):
    """Every entry under root with what a change would touch: type, mode, owner, size, mtime, inode."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                                             st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns,
                                             st.st_ino)
    st = os.lstat(root)
    out["."] = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ino)
    return out


def lock_text(g):
    return (g.spool / "lock").read_text()


WRITE_BUF = 64 * 1024  # CAP_SPOOL_WRITE_BUF


def begin_big_message(g, size=200 * 1024):
    """A session in DATA with more content sent than the spool's 64 KiB buffer:
    tmp/ID exists and the message has not got its 250. Returns the session
    once the file has all it will get before the end of the data (3 full
    buffers; the rest, under 64 KiB, waits in the buffer)."""
    r = g.raw("internal")
    r.send(b"EHLO c.test\r\nMAIL FROM:<a@ours.test>\r\nRCPT TO:<b@ours.test>\r\nDATA\r\n")
    want(r, 250, None)
    want(r, 250, "2.1.0")
    want(r, 250, "2.1.5")
    want(r, 354, None)
    line = b"x" * 78 + b"\r\n"
    r.send(b"Subject: big\r\n\r\n" + line * (size // len(line)))
    wait_for(lambda: len(g.tmp_files()) == 1, 10, "the message's tmp/ file")
    tmp = g.spool / "tmp" / g.tmp_files()[0]
    wait_for(lambda: tmp.stat().st_size >= 3 * WRITE_BUF, 10, "three buffers written")
    assert tmp.stat().st_size == 3 * WRITE_BUF
    return r


def test_a_second_daemon_leaves_the_running_one_alone(gateway):
    g = gateway()
    r = begin_big_message(g)
    (tmp_id,) = g.tmp_files()
    before = tree(g.spool)

    p = subprocess.run([BIN, "serve", "-c", str(g.conf)], capture_output=True, text=True,
                       timeout=60, env=g.env)
    # Nothing in the spool changed: not the message in flight, not the socket, not the lock.
    assert g.tmp_files() == [tmp_id], p.stderr
    assert tree(g.spool) == before
    # The message in flight gets its 250 and is queued.
    r.send(b"the end\r\n.\r\n")
    qid = queued_id(r)
    assert qid == tmp_id
    r.close()
    assert qid in g.queue_files() and g.tmp_files() == []
    # The second one said why, in one line, and exited 1.
    assert (p.returncode, p.stdout, p.stderr) == (1, "", in_use(g, g.pid))
    assert lock_text(g) == f"{g.pid}\n"
    assert_serving(g)


def test_the_lock_file_is_the_users_and_holds_the_pid(gateway):
    g = gateway()
    st = (g.spool / "lock").stat()
    assert stat.S_IMODE(st.st_mode) == 0o600
    if GATE26_USER is not None:
        pw = pwd.getpwnam(GATE26_USER)
        assert (st.st_uid, st.st_gid) == (pw.pw_uid, pw.pw_gid)
    assert lock_text(g) == f"{g.pid}\n"
    # The daemon keeps it open (configtest finds the running daemon so).
    fds = os.listdir(f"/proc/{g.pid}/fd")
    assert any(os.readlink(f"/proc/{g.pid}/fd/{fd}") == str(g.spool / "lock") for fd in fds)


def start_gun(g, n=2):
    """n `gate26 serve` on g's configuration, each held at a shell's `read`
    until the returned function closes the pipe: they then start at the same
    moment. Each exec's into gate26, so its PID is the daemon's."""
    rfd, wfd = os.pipe()
    procs = []
    for i in range(n):
        log = open(g.dir / f"race{i}.log", "wb")
        procs.append(subprocess.Popen(["sh", "-c", 'read _ || true; exec "$0" serve -c "$1"',
                                       BIN, str(g.conf)], stdin=rfd, stdout=log,
                                      stderr=subprocess.STDOUT, env=g.env))
        log.close()
    os.close(rfd)

    def fire():
        os.close(wfd)
    return procs, fire


def race_log(g, i):
    return (g.dir / f"race{i}.log").read_text(errors="replace")


def submit_one(g, tag):
    r = g.raw("internal")
    try:
        r.send(b"EHLO c.test\r\nMAIL FROM:<a@ours.test>\r\nRCPT TO:<b@ours.test>\r\nDATA\r\n")
        want(r, 250, None)
        want(r, 250, "2.1.0")
        want(r, 250, "2.1.5")
        want(r, 354, None)
        r.send(f"Subject: {tag}\r\n\r\n{tag}\r\n.\r\n".encode())
        return queued_id(r)
    finally:
        r.close()


def test_two_daemons_started_at_once_50_times(gateway):
    g = gateway(start=False)
    assert not g.spool.exists()  # the first pair also races to create it
    queued = []
    for round_ in range(50):
        procs, fire = start_gun(g)
        try:
            fire()
            wait_for(lambda: any(p.poll() is not None for p in procs), 30,
                     f"round {round_}: one of the two to give up")
            (loser,) = [i for i, p in enumerate(procs) if p.poll() is not None]
            winner = 1 - loser
            w = procs[winner]
            wait_for(lambda: "event=start" in race_log(g, winner) or w.poll() is not None, 30,
                     f"round {round_}: the winner to start")
            assert w.poll() is None, race_log(g, winner)
            assert procs[loser].returncode == 1
            assert race_log(g, loser) == in_use(g, w.pid), race_log(g, loser)
            assert lock_text(g) == f"{w.pid}\n"
            # It serves, and every message queued by the rounds before is still there.
            assert g.queue_files() == sorted(queued)
            queued.append(submit_one(g, f"round{round_}"))
            assert g.queue_files() == sorted(queued)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
        assert w.returncode == 0, race_log(g, winner)[-3000:]
        for i in (0, 1):
            text = race_log(g, i)
            assert not any(m in text for m in SANITIZER_MARKS), text[-3000:]
    assert len(queued) == 50 and g.queue_files() == sorted(queued)


def test_a_lock_left_by_a_killed_daemon_does_not_stop_a_start(gateway):
    g = gateway()
    qid = submit_one(g, "before")
    old = g.pid
    g.kill9()
    # The file stays, with the dead daemon's pid; the kernel let its flock go.
    assert lock_text(g) == f"{old}\n"
    assert (g.spool / "control").exists()
    g.start()
    assert lock_text(g) == f"{g.pid}\n"
    assert qid in g.queue_files()
    assert_serving(g)


def hold_shared(g):
    """Takes a shared flock on SPOOL/lock, as gate26 queue list does with the daemon stopped."""
    fd = os.open(g.spool / "lock", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    return fd


def test_a_starting_daemon_waits_for_a_reader(gateway):
    g = gateway()
    qid = submit_one(g, "waits")
    g.stop()
    fd = hold_shared(g)
    try:
        g.start(expect_ok=False)
        wait_for(lambda: "event=lock-wait" in g.log()[g.log_offset:] or g.proc.poll() is not None,
                 20, "the daemon to wait for the reader")
        assert g.proc.poll() is None, g.log()
        # Waiting, it has changed nothing yet: no control socket.
        assert not (g.spool / "control").exists()
    finally:
        os.close(fd)
    wait_for(lambda: "event=start" in g.log()[g.log_offset:] or g.proc.poll() is not None, 30,
             "the daemon to start")
    assert g.proc.poll() is None, g.log()
    assert lock_text(g) == f"{g.pid}\n" and qid in g.queue_files()
    assert_serving(g)


def test_a_reader_that_never_lets_go_stops_the_start_after_10s(gateway):
    g = gateway()
    g.stop()
    before = tree(g.spool)
    fd = hold_shared(g)
    try:
        p = subprocess.run([BIN, "serve", "-c", str(g.conf)], capture_output=True, text=True,
                           timeout=60, env=g.env)
    finally:
        os.close(fd)
    assert p.returncode == 1, p
    assert p.stderr.endswith(f"{spool_at(g)}: gate26 queue has been reading the spool for "
                             "10 s; start again once it is done\n"), p.stderr
    assert tree(g.spool) == before
