# SPDX-License-Identifier: MIT
"""The greylist store (src/checks/greylist.h, docs/checks.md) in processes of
its own, through its driver greylist_try, against a database in the test's
directory: decisions that survive restarts, the database deleted and
corrupted while the driver runs (and between runs), and a directory that
does not exist or is not writable.

The driver reads one command a line and answers one line (see
src/checks/greylist_try.c); the clock is the test's (NOW in each command),
so no test waits for the 5 minutes. Each driver is stopped by its PID.
The store is wired into the SMTP session later; then the same cases run
through the daemon's RCPT replies (451 4.7.1).
"""
import os
import select
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import BIN, SANITIZER_MARKS

DRIVER = Path(BIN).parent / "checks" / "greylist_try"
T0 = 1800000000  # the test's clock


class Store:
    """One greylist_try process on path (prefix: a command that execs it, such as unshare)."""

    def __init__(self, path, *args, user=None, prefix=()):
        self.proc = subprocess.Popen([*prefix, str(DRIVER), str(path), *map(str, args)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, user=user)

    def ask(self, line, timeout=30):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"no answer to {line!r} within {timeout} s"
        answer = self.proc.stdout.readline().strip()
        assert answer, f"greylist_try ended at {line!r}: {self.proc.stderr.read()[-3000:]}"
        return answer

    def check(self, now, addr, sender, rcpt):
        return self.ask(f"check {now} {addr} {sender} {rcpt}")

    def stats(self):
        return dict(kv.split("=") for kv in self.ask("stats").split())

    def stop(self):
        """Ends the driver (end of input, then by PID); returns its standard error."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        self.proc.stdout.close()
        for mark in SANITIZER_MARKS:
            assert mark not in err, f"sanitizer report from greylist_try:\n{err[-5000:]}"
        return err


@pytest.fixture
def store(tmp_path):
    """Starts drivers on tmp_path/greylist.db; stops every one it started."""
    started = []

    def start(*args, path=None, **kw):
        s = Store(path or tmp_path / "greylist.db", *args, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.stop()


def db_files(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir())


def test_restart_keeps_the_decisions(store, tmp_path):
    s = store()
    assert s.check(T0, "192.0.2.7", "bob@Example.ORG", "alice@example.com") == "defer 300"
    assert s.check(T0 + 60, "192.0.2.7", "bob@example.org", "alice@example.com") == "defer 240"
    assert s.check(T0 + 60, "192.0.2.7", "<>", "postmaster@example.com") == "defer 300"
    assert s.stop() == ""

    s = store()  # a restart before the delay: still waiting, for what is left
    assert s.check(T0 + 100, "192.0.2.7", "bob@example.org", "alice@example.com") == "defer 200"
    # after the delay, from another address of the same /24
    assert s.check(T0 + 300, "192.0.2.99", "bob@example.org", "alice@example.com") == "pass"
    s.stop()

    s = store()  # a restart after the pass: passes at once
    assert s.check(T0 + 400, "192.0.2.7", "bob@example.org", "alice@example.com") == "pass"
    assert s.check(T0 + 400, "192.0.2.7", "<>", "postmaster@example.com") == "pass"
    # the network passed for example.org: an SPF pass lets a new triplet skip
    assert s.ask(f"domain {T0 + 500} 192.0.2.1 example.org") == "yes"
    assert s.ask(f"domain {T0 + 500} 192.0.3.1 example.org") == "no"
    # another /24 is another triplet; another recipient too
    assert s.check(T0 + 500, "192.0.3.7", "bob@example.org", "alice@example.com") == "defer 300"
    assert s.check(T0 + 500, "192.0.2.7", "bob@example.org", "carol@example.com") == "defer 300"
    st = s.stats()
    assert st["triplets"] == "4" and st["domains"] == "1" and st["degraded"] == "0"
    s.stop()

    s = store()  # IPv6: one /64
    assert s.check(T0, "2001:db8:1:2::25", "bob@example.org", "alice@example.com") == "defer 300"
    s.stop()
    s = store()
    assert s.check(T0 + 300, "2001:db8:1:2:ff::1", "bob@example.org",
                   "alice@example.com") == "pass"
    assert s.check(T0 + 300, "2001:db8:1:3::25", "bob@example.org",
                   "alice@example.com") == "defer 300"
    s.stop()


def test_deleted_while_running(store, tmp_path):
    s = store()
    assert s.check(T0, "192.0.2.7", "bob@example.org", "alice@example.com") == "defer 300"
    for name in ("greylist.db", "greylist.db-wal", "greylist.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    # The call that finds the store gone answers pass (never a tempfail for our own loss).
    assert s.check(T0 + 10, "192.0.2.7", "bob@example.org", "alice@example.com") \
        == "pass degraded"
    assert (tmp_path / "greylist.db").exists()
    # Then the new file works: defer, pass after the delay, and across a restart.
    assert s.check(T0 + 20, "192.0.2.7", "bob@example.org", "dave@example.com") == "defer 300"
    assert s.check(T0 + 320, "192.0.2.7", "bob@example.org", "dave@example.com") == "pass"
    assert s.stats()["reopened"] == "1"
    err = s.stop()
    assert err.count("event=fault, op=moved") == 1, err
    assert "event=recovered" in err, err

    s = store()
    assert s.check(T0 + 400, "192.0.2.7", "bob@example.org", "dave@example.com") == "pass"
    s.stop()


def test_deleted_found_by_the_sweep(store, tmp_path):
    s = store()
    assert s.check(T0, "192.0.2.7", "bob@example.org", "alice@example.com") == "defer 300"
    (tmp_path / "greylist.db").unlink()
    assert s.ask(f"sweep {T0 + 5} 100") == "swept 0"
    assert (tmp_path / "greylist.db").exists()
    assert s.check(T0 + 10, "192.0.2.7", "bob@example.org", "alice@example.com") == "defer 300"
    s.stop()


def test_corrupt_while_running(store, tmp_path):
    s = store()
    assert s.check(T0, "192.0.2.7", "bob@example.org", "alice@example.com") == "defer 300"
    (tmp_path / "greylist.db").write_bytes(os.urandom(64 * 1024))  # in place, same inode
    assert s.ask(f"sweep {T0 + 1} 100") == "swept 0"
    aside = [n for n in db_files(tmp_path) if n.startswith("greylist.db.corrupt-")]
    # kept as found: the garbage untouched (no checkpoint into it), its WAL beside it
    assert len(aside) == 2 and aside[1] == aside[0] + "-wal", db_files(tmp_path)
    assert (tmp_path / aside[0]).stat().st_size == 64 * 1024
    # A fresh store: what the corrupt one knew is gone, new triplets wait again.
    assert s.check(T0 + 2, "192.0.2.7", "bob@example.org", "alice@example.com") == "defer 300"
    assert s.check(T0 + 302, "192.0.2.7", "bob@example.org", "alice@example.com") == "pass"
    err = s.stop()
    assert "event=corrupt" in err, err

    s = store()  # the new file is a good one: nothing more is moved aside
    assert s.check(T0 + 400, "192.0.2.7", "bob@example.org", "alice@example.com") == "pass"
    assert len([n for n in db_files(tmp_path) if ".corrupt-" in n]) == 2
    s.stop()


@pytest.mark.parametrize("content", [b"not a database\n" * 100,
                                     b"SQLite format 3\0" + b"\xff" * 4080],
                         ids=["text", "bad-header"])
def test_corrupt_between_runs(store, tmp_path, content):
    s = store()
    assert s.check(T0, "192.0.2.7", "bob@example.org", "alice@example.com") == "defer 300"
    s.stop()
    for name in ("greylist.db-wal", "greylist.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    (tmp_path / "greylist.db").write_bytes(content)
    s = store()
    assert s.check(T0 + 300, "192.0.2.7", "bob@example.org", "alice@example.com") in \
        ("defer 300", "pass degraded")
    assert s.check(T0 + 600, "192.0.2.7", "bob@example.org", "dave@example.com") == "defer 300"
    err = s.stop()
    assert "event=corrupt" in err, err
    assert len([n for n in db_files(tmp_path) if n.startswith("greylist.db.corrupt-")]) == 1


def test_directory_missing(store, tmp_path):
    s = store(path=tmp_path / "missing" / "greylist.db")
    assert s.proc.wait(timeout=30) == 1
    err = s.stop()
    assert f"error: {tmp_path / 'missing'}: No such file or directory" in err, err


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the driver as user gate26")
def test_directory_not_writable(store):
    # Owned by root, 0755: the gate26 user reads it but cannot write there.
    d = Path(tempfile.mkdtemp(prefix="g26grey-"))
    try:
        d.chmod(0o755)
        s = store(path=d / "greylist.db", user="gate26")
        assert s.proc.wait(timeout=30) == 1
        err = s.stop()
        assert f"error: {d}: directory not writable: Permission denied" in err, err
        assert not (d / "greylist.db").exists()
    finally:
        shutil.rmtree(d)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a small tmpfs")
def test_disk_full(store, tmp_path):
    """A full file system under the store: answers degrade to pass, one warning, no crash.

    The driver runs in a mount namespace of its own (unshare -m execs it: the
    PID is the driver's) on a 256 KiB tmpfs, which a flood of new triplets
    fills."""
    small = tmp_path / "small"
    small.mkdir()
    s = store(path=small / "greylist.db", prefix=(
        "unshare", "-m", "sh", "-c",
        f'mount -t tmpfs -o size=256k tmpfs "{small}" && exec "$0" "$@"'))
    answers = []
    for i in range(20000):
        answers.append(s.check(T0 + i // 100, f"10.{i % 200}.{i // 200 % 250}.1",
                               f"s{i}@spam.example", f"r{i}@example.com"))
        if answers[-1] == "pass degraded" and answers.count("pass degraded") >= 50:
            break
    assert "pass degraded" in answers, "the 256 KiB file system never filled"
    first = answers.index("pass degraded")
    assert all(a == "defer 300" for a in answers[:first])
    # once full, never a defer that our own store cannot remember
    assert all(a in ("pass degraded", "defer 300") for a in answers[first:])
    st = s.stats()
    assert int(st["degraded"]) >= 50, st
    err = s.stop()
    assert err.count("event=fault") == 1, err[-3000:]
    assert "full" in err, err[-3000:]


def test_cap_bounds_a_flood(store, tmp_path):
    s = store(300, 50)  # delay 300, at most 50 triplets
    assert s.check(T0, "203.0.113.5", "friend@example.org", "alice@example.com") == "defer 300"
    assert s.check(T0 + 300, "203.0.113.5", "friend@example.org", "alice@example.com") == "pass"
    for i in range(500):
        assert s.check(T0 + 300 + i, f"10.{i % 200}.{i // 200}.1", f"s{i}@spam.example",
                       f"r{i}@example.com") == "defer 300"
    st = s.stats()
    assert st["triplets"] == "50" and int(st["evicted"]) >= 451, st
    # the oldest unpassed went first: the passed triplet is still known
    assert s.check(T0 + 900, "203.0.113.5", "friend@example.org", "alice@example.com") == "pass"
    # the last unpassed ones are still waiting
    assert s.check(T0 + 799 + 299, "10.99.2.1", "s499@spam.example", "r499@example.com") \
        == "defer 1"
    assert s.check(T0 + 799 + 300, "10.99.2.1", "s499@spam.example", "r499@example.com") \
        == "pass"
    s.stop()


def test_bad_command(store):
    s = store()
    assert s.ask("check x 192.0.2.7 a@b c@d").startswith("bad ")
    assert s.proc.wait(timeout=30) == 2
    s.stop()
