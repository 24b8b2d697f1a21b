# SPDX-License-Identifier: MIT
"""The spool's guarantees, end to end (docs/spool.md).

* kill -9 under load loses nothing that got its 250, and leaves nothing
  half-written in queue/;
* a restart counts what is queued and removes what was left in tmp/;
* a failing write, fsync, rename or open (GATE26_FAULT, compiled into the
  test build) and a really full disk answer 452 4.3.1 and leave nothing
  behind, and the daemon goes on serving;
* log lines about a message start with its queue id.
"""
import os
import re
import signal
import smtplib
import subprocess
import threading
import time

import pytest

from conftest import assert_serving, queued_id, QUEUED_RE, wait_for

SENDER = "load@sender.test"
RCPT = "rcpt@far.test"
STORAGE = "4.3.1 Insufficient system storage, try again later"
OPEN_RE = re.compile(r"-: spool=(\S+), event=open, queued=(\d+), tmp_removed=(\d+), unknown=(\d+)")


# ---------------------------------------------------------------- helpers

def expect_exact(r, code, text):
    got, lines = r.reply()
    assert (got, lines) == (code, [text]), f"expected {code} {text!r}, got {got} {lines!r}"


def new_log(g):
    """The log written since the last start()."""
    with open(g.logfile, "rb") as f:
        f.seek(g.log_offset)
        return f.read().decode(errors="replace")


LOG_PREFIX_RE = re.compile(r"^\S+ gate26\[\d+\]: (?:debug|info|notice|warning|error|panic): (.*)$")


def log_messages(text):
    """The message part of each log line (after "TIME gate26[PID]: LEVEL: ")."""
    out = []
    for line in text.splitlines():
        m = LOG_PREFIX_RE.match(line)
        assert m, f"log line without the usual prefix: {line!r}"
        out.append(m.group(1))
    return out




def open_line(text):
    """(queued, tmp_removed, unknown) from the one spool-open line in text."""
    found = OPEN_RE.findall(text)
    assert len(found) == 1, f"expected one spool open line, got {found!r}:\n{text[-3000:]}"
    return tuple(int(x) for x in found[0][1:])


def body_for(tag, size):
    """A message of about `size` octets whose last line names it."""
    line = b"x" * 76 + b"\r\n"
    out = [b"Subject: %s\r\n\r\n" % tag]
    n = max(0, (size - 100) // len(line))
    out.append(line * n)
    out.append(b"end of %s\r\n" % tag)
    return b"".join(out)


def session(g, helo="client.test"):
    r = g.raw("internal")
    r.cmd(f"EHLO {helo}", 250)
    return r


def send_data(r, content, sender=SENDER, rcpts=(RCPT,)):
    """MAIL, RCPT(s), DATA and the content (already dot-safe, CRLF.CRLF added);
    returns the reply after the data."""
    r.cmd(f"MAIL FROM:<{sender}>", 250, "2.1.0")
    for rc in rcpts:
        r.cmd(f"RCPT TO:<{rc}>", 250, "2.1.5")
    r.cmd("DATA", 354)
    r.send(content + b".\r\n")
    return r.reply()


def send_ok(g, content):
    r = session(g)
    r.cmd(f"MAIL FROM:<{SENDER}>", 250, "2.1.0")
    r.cmd(f"RCPT TO:<{RCPT}>", 250, "2.1.5")
    r.cmd("DATA", 354)
    r.send(content + b".\r\n")
    qid = queued_id(r)
    r.cmd("QUIT", 221, "2.0.0 Bye")
    r.close()
    return qid


def check_queue_file(g, name):
    """A queue file is whole and parsable: magic, its id, records, blank line,
    then our Received header. Returns the content."""
    data = (g.spool / "queue" / name).read_bytes()
    assert data.startswith(b"gate26-queue 1\nid %s\n" % name.encode()), \
        f"queue/{name} does not start with its records: {data[:80]!r}"
    head, sep, body = data.partition(b"\n\n")
    assert sep, f"queue/{name} has no blank line after its records"
    assert b"\nrcpt " in head, f"queue/{name} has no rcpt record"
    assert body.startswith(b"Received: "), f"queue/{name} content: {body[:80]!r}"
    return body


def pre_create_spool(g):
    """Spool directories made before the start, so spool_open does no fsync
    and opens exactly 4 directories (the spool, tmp/, queue/, quarantine/):
    the fault counters then start at the first message (fsync 1 = its file,
    fsync 2 = queue/; open 5 = its tmp file; write 1 = its first write)."""
    for sub in ("", "tmp", "queue", "quarantine"):
        (g.spool / sub).mkdir(mode=0o700, exist_ok=True)


def faulty_gateway(gateway, fault):
    g = gateway(env={"GATE26_FAULT": fault}, start=False)
    pre_create_spool(g)
    g.start()
    return g


# ---------------------------------------------------------------- kill -9

N_THREADS = 8
LOAD_SECONDS = 6.0


class Load:
    """N_THREADS smtplib clients sending messages in a loop until told to
    stop, the daemon dies, or LOAD_SECONDS pass. acked: id -> content;
    sent: every content whose DATA was started (acknowledged or not)."""

    def __init__(self, port, pid, kill_at_ack=None):
        self.port = port
        self.pid = pid
        self.kill_at_ack = kill_at_ack
        self.killed = False
        self.lock = threading.Lock()
        self.acked = {}
        self.sent = set()
        self.errors = []
        self.stop = threading.Event()
        self.ready = threading.Barrier(N_THREADS, timeout=15)
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(N_THREADS)]

    def start(self):
        self.deadline = time.monotonic() + LOAD_SECONDS
        for t in self.threads:
            t.start()

    def join(self):
        for t in self.threads:
            t.join(timeout=30)
            assert not t.is_alive(), "a load thread did not end"

    def n_acked(self):
        with self.lock:
            return len(self.acked)

    def run(self, i):
        try:
            c = smtplib.SMTP("127.0.0.1", self.port, local_hostname=f"load{i}.test", timeout=15)
            c.ehlo()
            # Every client is connected before the first message, so that a
            # kill at the first ack does not land before some have connected.
            self.ready.wait()
        except (OSError, smtplib.SMTPException, threading.BrokenBarrierError) as e:
            self.ready.abort()
            with self.lock:
                self.errors.append(f"thread {i} connect: {e!r}")
            return
        try:
            for n in range(5000):
                if self.stop.is_set() or time.monotonic() > self.deadline:
                    break
                tag = b"t%d-m%d" % (i, n)
                # Mostly small, every fourth one over the 64 KiB write buffer.
                content = body_for(tag, 150_000 if n % 4 == 3 else 1500 + 37 * n)
                code, msg = c.mail(SENDER)
                if code == 250:
                    code, msg = c.rcpt(RCPT)
                if code != 250:
                    with self.lock:
                        self.errors.append(f"thread {i}: {code} {msg!r}")
                    break
                with self.lock:
                    self.sent.add(content)
                code, msg = c.data(content)
                m = QUEUED_RE.fullmatch(msg.decode(errors="replace"))
                if code != 250 or not m:
                    with self.lock:
                        self.errors.append(f"thread {i}: {code} {msg!r}")
                    break
                with self.lock:
                    self.acked[m.group(1)] = content
                    if len(self.acked) == self.kill_at_ack and not self.killed:
                        # The very moment of this ack: kill -9 from here.
                        self.killed = True
                        os.kill(self.pid, signal.SIGKILL)
            c.quit()
        except (OSError, smtplib.SMTPException):
            pass  # the daemon was killed under us: expected
        finally:
            try:
                c.close()
            except OSError:
                pass


@pytest.mark.parametrize("moment", [("ack", 1), ("ack", 150), ("seconds", 1.5)],
                         ids=["at-1st-ack", "at-150th-ack", "after-1.5s"])
def test_kill9_under_load_loses_no_acknowledged_message(gateway, moment):
    kind, value = moment
    g = gateway()
    load = Load(g.port("internal"), g.pid, kill_at_ack=value if kind == "ack" else None)
    load.start()
    try:
        if kind == "ack":
            wait_for(lambda: load.killed or time.monotonic() > load.deadline,
                     timeout=LOAD_SECONDS + 5, what=f"{value} acknowledged messages")
            assert load.killed, f"only {load.n_acked()} acknowledged: {load.errors[:3]}"
        else:
            time.sleep(value)
            assert load.n_acked() > 0, f"nothing acknowledged: {load.errors[:3]}"
        g.kill9()
    finally:
        load.stop.set()
        load.join()
    assert load.errors == [], load.errors[:5]

    with load.lock:
        acked = dict(load.acked)
        sent = set(load.sent)
    queue_before = g.queue_files()
    tmp_before = g.tmp_files()

    g.start()
    queued, tmp_removed, unknown = open_line(new_log(g))
    assert (queued, tmp_removed, unknown) == (len(queue_before), len(tmp_before), 0)
    assert g.tmp_files() == []
    assert g.queue_files() == queue_before

    missing = [qid for qid in acked if qid not in queue_before]
    assert missing == [], f"acknowledged but lost after kill -9: {missing}"
    for qid, content in acked.items():
        body = check_queue_file(g, qid)
        assert body.endswith(content), f"queue/{qid} does not end with what was sent"
    extra = [q for q in queue_before if q not in acked]
    for qid in extra:
        # In flight at the kill: never acknowledged, but whole if it is there.
        body = check_queue_file(g, qid)
        assert any(body.endswith(c) for c in sent), f"queue/{qid} is not a whole sent message"

    # The restarted daemon queues again, with an id past every id on disk.
    qid = send_ok(g, b"Subject: after restart\r\n\r\nhello\r\n")
    assert qid > max(queue_before)
    assert_serving(g)
    print(f"\nkill -9 {kind} {value}: acknowledged={len(acked)}, in queue/ after restart="
          f"{len(queue_before)}, extra (in flight, unacknowledged)={len(extra)}, "
          f"tmp removed at restart={len(tmp_before)}, started={len(sent)}")


def test_sigterm_under_load_keeps_every_acknowledged_message(gateway):
    """A clean stop in the middle of the load: gate26 exits 0 without a
    sanitizer report, and every message it acknowledged is queued whole."""
    g = gateway()
    load = Load(g.port("internal"), g.pid)
    load.start()
    try:
        wait_for(lambda: load.n_acked() >= 100 or time.monotonic() > load.deadline,
                 timeout=LOAD_SECONDS + 5, what="100 acknowledged messages")
        assert load.n_acked() >= 100, f"only {load.n_acked()}: {load.errors[:3]}"
        g.stop()  # SIGTERM; asserts exit 0 and a clean log
    finally:
        load.stop.set()
        load.join()
    # Clients cut off by the shutdown get 421 4.3.0 (or lose the connection).
    assert all(": 421 " in e and "4.3.0" in e for e in load.errors), load.errors[:5]
    with load.lock:
        acked = dict(load.acked)
    queue_before = g.queue_files()
    assert g.tmp_files() == [], "a clean stop left files in tmp/"
    g.start()
    assert open_line(new_log(g)) == (len(queue_before), 0, 0)
    assert g.tmp_files() == []
    for qid, content in acked.items():
        assert qid in queue_before, f"acknowledged {qid} missing after SIGTERM"
        assert check_queue_file(g, qid).endswith(content)
    assert_serving(g)


# ---------------------------------------------------------------- restart

def test_restart_counts_every_queued_message(gateway):
    g = gateway()
    assert open_line(new_log(g)) == (0, 0, 0)
    ids = []
    with smtplib.SMTP("127.0.0.1", g.port("internal"), local_hostname="client.test") as c:
        c.ehlo()
        for n in range(7):
            c.mail(SENDER)
            c.rcpt(RCPT)
            code, msg = c.data(b"Subject: %d\r\n\r\nbody %d\r\n" % (n, n))
            assert code == 250
            ids.append(QUEUED_RE.fullmatch(msg.decode()).group(1))
    assert sorted(ids) == ids == g.queue_files()
    g.stop()
    g.start()
    assert open_line(new_log(g)) == (7, 0, 0)
    assert g.queue_files() == ids
    for n, qid in enumerate(ids):
        assert check_queue_file(g, qid).endswith(b"Subject: %d\r\n\r\nbody %d\r\n" % (n, n))
    qid = send_ok(g, b"Subject: eighth\r\n\r\nbody\r\n")
    assert qid > ids[-1]
    g.stop()
    g.start()
    assert open_line(new_log(g)) == (8, 0, 0)
    assert_serving(g)


def test_leftover_tmp_files_are_removed_at_start(gateway):
    g = gateway(start=False)
    pre_create_spool(g)
    tmp = g.spool / "tmp"
    fake_high = "0F00000000000000"  # a valid id far past the clock's
    (tmp / fake_high).write_bytes(b"gate26-queue 1\nid 0F00000000000000\nschedule 00")
    (tmp / "066116E7E9E4A100").write_bytes(b"")
    (tmp / "junk name").write_bytes(b"whatever")
    (tmp / ".hidden").write_bytes(b"x" * 10000)
    (g.spool / "queue" / "README").write_text("not a message\n")
    g.start()
    assert open_line(new_log(g)) == (0, 4, 1)
    assert g.tmp_files() == []
    assert g.queue_files() == ["README"]
    assert 'file="queue/README", reason="not a queue file, left alone"' in new_log(g)
    # Ids go past every id that was on disk, even in tmp/.
    qid = send_ok(g, b"Subject: x\r\n\r\ny\r\n")
    assert qid > fake_high
    assert g.queue_files() == sorted([qid, "README"])
    assert g.tmp_files() == []
    assert_serving(g)


# ---------------------------------------------------------------- fault injection

def assert_refused_storage_and_clean(g, r, content, why):
    code, lines = send_data(r, content)
    assert (code, lines) == (452, [STORAGE]), f"expected 452 {STORAGE!r}, got {code} {lines!r}"
    assert g.queue_files() == [], f"queued despite the fault: {g.queue_files()}"
    assert g.tmp_files() == [], f"left in tmp/: {g.tmp_files()}"
    assert re.search(r"[0-9A-F]{16}: status=deferred, reason=\"%s\"" % re.escape(why), g.log()), \
        f"no deferred line with {why!r}:\n{g.log()[-2000:]}"


SMALL = b"Subject: small\r\n\r\nsmall body\r\n"


def assert_refused_storage_and_clean_q(g, r, content, n_queued):
    """452 4.3.1 after the data, the queue unchanged at n_queued, tmp/ empty."""
    before = g.queue_files()
    assert len(before) == n_queued
    code, lines = send_data(r, content)
    assert (code, lines) == (452, [STORAGE]), f"expected 452 {STORAGE!r}, got {code} {lines!r}"
    assert g.queue_files() == before
    assert g.tmp_files() == []


@pytest.mark.parametrize("fault,why", [
    ("write:1", "write: Input/output error"),
    ("write:1:ENOSPC", "write: No space left on device"),
    ("fsync:1", "fsync: Input/output error"),
    ("fsync:2", "fsync queue/: Input/output error"),
    ("rename:1", "rename: Input/output error"),
])
def test_one_off_fault_gives_452_then_next_message_queues(gateway, fault, why):
    g = faulty_gateway(gateway, fault)
    r = session(g)
    assert_refused_storage_and_clean(g, r, SMALL, why)
    # Same session: the transaction was reset, and the next message queues.
    r.cmd("NOOP", 250, "2.0.0 Ok")
    code, lines = send_data(r, b"Subject: again\r\n\r\nagain\r\n")
    assert code == 250 and QUEUED_RE.fullmatch(lines[0]), (code, lines)
    qid = QUEUED_RE.fullmatch(lines[0]).group(1)
    r.cmd("QUIT", 221, "2.0.0 Bye")
    r.close()
    assert g.queue_files() == [qid]
    assert g.tmp_files() == []
    assert check_queue_file(g, qid).endswith(b"Subject: again\r\n\r\nagain\r\n")
    assert_serving(g)


@pytest.mark.parametrize("fault,why", [
    ("write:1+", "write: Input/output error"),
    ("write:1+:ENOSPC", "write: No space left on device"),
    ("fsync:1+", "fsync: Input/output error"),
    ("rename:1+", "rename: Input/output error"),
])
def test_persistent_fault_gives_452_every_time(gateway, fault, why):
    g = faulty_gateway(gateway, fault)
    r = session(g)
    for n in range(3):
        assert_refused_storage_and_clean(g, r, b"Subject: %d\r\n\r\nbody\r\n" % n, why)
    r.cmd("RSET", 250, "2.0.0 Ok")
    r.cmd("QUIT", 221, "2.0.0 Bye")
    r.close()
    # A large one too (writes during the content, not only at the commit).
    r = session(g)
    assert_refused_storage_and_clean(g, r, body_for(b"big", 300_000), why)
    r.close()
    assert_serving(g)


def test_write_fault_in_the_middle_of_a_large_message(gateway):
    """The 2nd write (the 64 KiB buffer's second flush) fails while content
    still arrives: the rest is read, then 452 once; the next message queues."""
    g = faulty_gateway(gateway, "write:2")
    r = session(g)
    assert_refused_storage_and_clean(g, r, body_for(b"big", 400_000),
                                     "write: Input/output error")
    assert 'event=spool-write, error="Input/output error"' in g.log()
    big = body_for(b"big again", 400_000)
    code, lines = send_data(r, big)
    assert code == 250, (code, lines)
    qid = QUEUED_RE.fullmatch(lines[0]).group(1)
    r.close()
    assert g.queue_files() == [qid]
    assert check_queue_file(g, qid).endswith(big)
    assert g.tmp_files() == []
    assert_serving(g)


def test_write_fault_during_bdat_chunks(gateway):
    """BDAT: the chunk in which the write fails is answered 452 4.3.1, and so
    is BDAT LAST; nothing stays behind and a later BDAT message queues."""
    g = faulty_gateway(gateway, "write:1")
    r = session(g)
    r.cmd(f"MAIL FROM:<{SENDER}>", 250, "2.1.0")
    r.cmd(f"RCPT TO:<{RCPT}>", 250, "2.1.5")
    chunk = body_for(b"chunk", 100_000)
    r.send(b"BDAT %d\r\n" % len(chunk) + chunk)
    expect_exact(r, 452, STORAGE)
    r.send(b"BDAT 5 LAST\r\nend\r\n")
    expect_exact(r, 452, STORAGE)
    assert g.queue_files() == [] and g.tmp_files() == []
    r.cmd("NOOP", 250, "2.0.0 Ok")
    r.cmd(f"MAIL FROM:<{SENDER}>", 250, "2.1.0")
    r.cmd(f"RCPT TO:<{RCPT}>", 250, "2.1.5")
    r.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
    qid = queued_id(r)
    r.close()
    assert g.queue_files() == [qid]
    assert check_queue_file(g, qid).endswith(chunk)
    assert g.tmp_files() == []
    assert_serving(g)


def test_open_fault_refuses_after_the_content(gateway):
    """When the tmp file cannot be created the message is refused with 452
    4.3.1 once its content has ended: a small message reaches the disk only
    on the commit thread, a large one as the spool's 64 KiB write buffer
    fills; either way nothing is left and the session goes on."""
    g = faulty_gateway(gateway, "open:5+")
    r = session(g)
    for content in (SMALL, body_for(b"large", 200_000)):
        code, lines = send_data(r, content)
        assert (code, lines) == (452, [STORAGE]), (code, lines)
        assert g.queue_files() == [] and g.tmp_files() == []
    r.cmd(f"MAIL FROM:<{SENDER}>", 250, "2.1.0")
    r.cmd(f"RCPT TO:<{RCPT}>", 250, "2.1.5")
    r.send(b"BDAT 20 LAST\r\n" + b"Subject: b\r\n\r\nbody\r\n")
    expect_exact(r, 452, STORAGE)
    # The 20 octets were content, not commands.
    r.cmd("NOOP", 250, "2.0.0 Ok")
    assert g.queue_files() == [] and g.tmp_files() == []
    # A first chunk that is not the last is taken; BDAT LAST gets the 452.
    r.cmd(f"MAIL FROM:<{SENDER}>", 250, "2.1.0")
    r.cmd(f"RCPT TO:<{RCPT}>", 250, "2.1.5")
    r.send(b"BDAT 7\r\nRCPT TO")
    expect_exact(r, 250, "2.0.0 Ok: 7 octets received")
    r.send(b"BDAT 6 LAST\r\n:<x>\r\n")
    expect_exact(r, 452, STORAGE)
    r.cmd("NOOP", 250, "2.0.0 Ok")
    r.cmd("RCPT TO:<x@far.test>", 503, "5.5.1 Send MAIL first")
    assert g.queue_files() == [] and g.tmp_files() == []
    r.cmd("QUIT", 221, "2.0.0 Bye")
    r.close()
    assert 'reason="open tmp/: Input/output error"' in g.log()
    assert_serving(g)


def test_one_off_open_fault_then_next_message_queues(gateway):
    g = faulty_gateway(gateway, "open:5")
    r = session(g)
    code, lines = send_data(r, SMALL)
    assert (code, lines) == (452, [STORAGE]), (code, lines)
    assert g.queue_files() == [] and g.tmp_files() == []
    code, lines = send_data(r, SMALL)
    assert code == 250, (code, lines)
    qid = QUEUED_RE.fullmatch(lines[0]).group(1)
    r.close()
    assert g.queue_files() == [qid] and g.tmp_files() == []
    assert_serving(g)


# ---------------------------------------------------------------- real disk full

def test_disk_full_on_a_small_tmpfs(gateway):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    g = gateway(start=False)
    g.spool.mkdir(mode=0o700)
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs",
                            str(g.spool)], capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"mount -t tmpfs failed: {mount.stderr.strip()}")
    try:
        g.start()
        r = session(g)
        big = body_for(b"too big for the disk", 600_000)  # under max-message-size (10M)
        assert_refused_storage_and_clean(g, r, big, "write: No space left on device")
        r.cmd("NOOP", 250, "2.0.0 Ok")
        r.close()
        assert_serving(g)
        # Space came back with the unlink: a small message still queues, twice.
        for n in range(2):
            qid = send_ok(g, b"Subject: small %d\r\n\r\nfits\r\n" % n)
            assert check_queue_file(g, qid).endswith(b"Subject: small %d\r\n\r\nfits\r\n" % n)
        assert len(g.queue_files()) == 2
        assert g.tmp_files() == []
        # No space at all (a filler file takes the rest): even a small message
        # gets 452 4.3.1, and nothing is left; once space is back it queues.
        filler = g.spool / "filler"
        with open(filler, "wb") as f:
            try:
                for _ in range(64):
                    f.write(b"\0" * 16384)
                    f.flush()
            except OSError:
                pass
        r = session(g)
        assert_refused_storage_and_clean_q(g, r, SMALL, 2)
        r.close()
        filler.unlink()
        qid = send_ok(g, SMALL)
        assert check_queue_file(g, qid).endswith(SMALL)
        assert len(g.queue_files()) == 3 and g.tmp_files() == []
        g.stop()
    finally:
        if g.proc is not None:
            g.stop(check=False)
        if subprocess.run(["umount", str(g.spool)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(g.spool)], capture_output=True)


# ---------------------------------------------------------------- log lines

def test_log_lines_start_with_the_queue_id(gateway):
    g = gateway()
    # ESMTP, two recipients, DATA.
    r = session(g, helo="one.client.test")
    c1 = b"Subject: one\r\n\r\n..dot\r\nbody\r\n"
    code, lines = send_data(r, c1, sender="x@sender.test", rcpts=("p@far.test", "q@far.test"))
    assert code == 250
    id1 = QUEUED_RE.fullmatch(lines[0]).group(1)
    # ESMTP, BDAT in two chunks.
    r.cmd("MAIL FROM:<y@sender.test>", 250, "2.1.0")
    r.cmd("RCPT TO:<p@far.test>", 250, "2.1.5")
    r.send(b"BDAT 10\r\nSubject: t")
    expect_exact(r, 250, "2.0.0 Ok: 10 octets received")
    r.send(b"BDAT 12 LAST\r\nwo\r\n\r\nbody\r\n")
    id2 = queued_id(r)
    # A refused message gets an id and its lines start with it too.
    code, lines = send_data(r, b"Subject: bad\r\n\r\nbare\nlf\r\n")
    assert (code, lines) == (550, ["5.6.0 Message refused: bare LF in content (only CRLF ends a line)"])
    r.cmd("QUIT", 221, "2.0.0 Bye")
    r.close()
    # Plain SMTP (HELO), null sender.
    r = g.raw("internal")
    r.cmd("HELO old.client.test", 250)
    r.cmd("MAIL FROM:<>", 250, "2.1.0")
    r.cmd("RCPT TO:<p@far.test>", 250, "2.1.5")
    r.cmd("DATA", 354)
    c3 = b"Subject: three\r\n\r\nbody\r\n"
    r.send(c3 + b".\r\n")
    id3 = queued_id(r)
    client_port3 = r.sock.getsockname()[1]
    r.cmd("QUIT", 221, "2.0.0 Bye")
    r.close()
    assert g.queue_files() == sorted([id1, id2, id3])

    log = "\n".join(log_messages(g.log()))
    expect = [
        (id1, "one.client.test", "x@sender.test", len(c1) - 1, 2, "ESMTP"),
        (id2, "one.client.test", "y@sender.test", 22, 1, "ESMTP"),
        (id3, "old.client.test", "", len(c3), 1, "SMTP"),
    ]
    for qid, helo, sender, size, nrcpt, proto in expect:
        assert re.search(rf"^{qid}: client=\[127\.0\.0\.1\]:\d+, door=internal, sid=\w+, "
                         rf"helo={re.escape(helo)}$", log, re.M), f"no client line for {qid}"
        assert re.search(rf"^{qid}: from=<{re.escape(sender)}>, size={size}, nrcpt={nrcpt}, "
                         rf"proto={proto}, status=queued$", log, re.M), \
            f"no queued line for {qid} (size={size}):\n{log[-3000:]}"
        # The client line comes before the queued line.
        assert log.index(f"{qid}: client=") < log.index(f"{qid}: from=")
    assert re.search(rf"^{id3}: client=\[127\.0\.0\.1\]:{client_port3}, ", log, re.M)
    rejected = re.findall(r"^([0-9A-F]{16}): sid=\w+, size=\d+, flags=0x[0-9a-f]+, "
                          r"status=rejected$", log, re.M)
    assert len(rejected) == 1 and rejected[0] not in (id1, id2, id3)
    # Every line that names a message's id starts with it.
    for qid in (id1, id2, id3, rejected[0]):
        for line in log.splitlines():
            if qid in line:
                assert line.startswith(f"{qid}: "), f"line about {qid} not led by it: {line!r}"
    assert_serving(g)
