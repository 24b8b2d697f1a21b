# SPDX-License-Identifier: MIT
"""Helpers shared by bench/accept, bench/relay and bench/idle-rss.

Building gate26 (release), installing what is missing, free ports, CPU
accounting (cgroup v1 cpuacct, else /proc), the readings around one load,
starting and stopping gate26, a private Postfix instance, smtp-source and
smtp-sink, a loop-mounted file system image, and appending a section to
bench/RESULTS.md. Standard library only.
"""

import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import statistics
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
BUILD = os.path.join(ROOT, "build")
GATE26 = os.path.join(BUILD, "src", "gate26")
RESULTS = os.path.join(BENCH, "RESULTS.md")
CLK_TCK = os.sysconf("SC_CLK_TCK")
CPUACCT = "/sys/fs/cgroup/cpuacct"
SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"
POSTFIX = "/usr/sbin/postfix"
SENDER = "sender@bench.test"
RCPT = "rcpt@bench.test"
BUSY_WARN = 0.10  # other work above this share of the machine: warn


class Failed(Exception):
    """A run went wrong: the script reports it and keeps the temp dir."""


def say(*args):
    print(*args, flush=True)


def die(msg):
    print(f"{os.path.basename(sys.argv[0])}: {msg}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def run(argv, **kw):
    """Runs a command, its output on ours; dies if it fails."""
    r = subprocess.run(argv, **kw)
    if r.returncode != 0:
        die(f"'{' '.join(argv)}' failed with status {r.returncode}")
    return r


# ---------------------------------------------------------------- set-up


def install_deps():
    """tools/install-deps: installs whatever Debian package is missing
    (Postfix with its service kept from starting)."""
    run([os.path.join(ROOT, "tools", "install-deps")])
    for tool in (SMTP_SOURCE, SMTP_SINK, POSTFIX):
        if not os.access(tool, os.X_OK):
            die(f"{tool} is missing after tools/install-deps")


def build_gate26():
    """Builds build/src/gate26 as `make build` does; refuses a build folder
    that is not a release build (it is someone else's, do not reconfigure)."""
    if not os.path.exists(os.path.join(BUILD, "build.ninja")):
        run(["meson", "setup", BUILD, "--buildtype=release", "-Dtests=disabled"],
            cwd=ROOT, stdout=subprocess.DEVNULL)
    opts = json.loads(subprocess.run(
        ["meson", "introspect", BUILD, "--buildoptions"],
        capture_output=True, text=True, check=True).stdout)
    buildtype = next((o["value"] for o in opts if o["name"] == "buildtype"), "?")
    if buildtype != "release":
        die(f"{BUILD} is a '{buildtype}' build, not release: "
            "remove it (or pass --gate26 BINARY)")
    run(["ninja", "-C", BUILD], stdout=subprocess.DEVNULL)
    return GATE26


def fs_type(path):
    r = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", path], capture_output=True,
                       text=True)
    return r.stdout.strip() or "?"


DELETE_STAMP = "/var/tmp/gate26-bench.deleted"
RECENTLY_DELETED = 305  # fs/ext4/ialloc.c: RECENTCY_MIN + RECENTCY_DIRTY seconds


def ext4_without_journal(path):
    """True on an ext4 mounted without a journal (this machine's root)."""
    if fs_type(path) != "ext4":
        return False
    dev = block_device(path)
    try:
        with open(f"/sys/fs/ext4/{dev}/journal_task") as f:
            return f.read().strip() == "<none>"
    except OSError:
        return False


def mass_deleted():
    """Notes that many files were just deleted (see wait_recently_deleted)."""
    with open(DELETE_STAMP, "w"):
        pass


def wait_recently_deleted(path):
    """On an ext4 without a journal, the inode allocator skips inodes freed
    less than 5 s ago, or 305 s while their inode table block is dirty
    (recently_deleted() in fs/ext4/ialloc.c), one by one. A new spool
    allocated where the previous run's 20,000s of files were deleted would
    pay for that scan on every file it creates (measured: openat up to half
    of gate26's CPU). Wait until the last run's deletions are out of it."""
    if not ext4_without_journal(path):
        return 0
    try:
        age = time.time() - os.stat(DELETE_STAMP).st_mtime
    except OSError:
        return 0
    left = RECENTLY_DELETED - age
    if left <= 0:
        return 0
    say(f"waiting {left:.0f} s: a previous run deleted many spool files {age:.0f} s ago, "
        f"and this ext4 has no journal (see wait_recently_deleted in bench/benchlib.py)")
    time.sleep(left)
    return left


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_smtp(port, timeout=15.0, host="127.0.0.1"):
    """Waits until a 220 greeting comes from host:port; sends QUIT."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                banner = s.recv(512)
                if banner.startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    s.recv(512)
                    return
                last = banner
        except OSError as e:
            last = e
        time.sleep(0.05)
    die(f"no SMTP greeting on {host}:{port} within {timeout:.0f} s ({last!r})")


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU ({cpu}), Linux {platform.release()}"


# ---------------------------------------------------------------- machine


def cpu_busy_ticks():
    """Machine-wide busy CPU time (all but idle and iowait), in ticks."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]) - v[3] - v[4]


def other_load(secs=2.0, exclude=()):
    """Share of the machine (0..1) busy over secs, not counting the PIDs in
    exclude: other work that would skew a measurement."""
    t0, b0 = time.monotonic(), cpu_busy_ticks()
    time.sleep(secs)
    wall = time.monotonic() - t0
    busy = (cpu_busy_ticks() - b0) / CLK_TCK
    return busy / (wall * (os.cpu_count() or 1))


def busiest(n=3, secs=1.0):
    """The n processes that used the most CPU over secs: [(pct, pid, comm)]."""
    def snap():
        out = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        data = f.read()
                except OSError:
                    continue
                comm = data[data.index("(") + 1:data.rindex(")")]
                rest = data.rsplit(")", 1)[1].split()
                out[int(d)] = (comm, int(rest[11]) + int(rest[12]))
        return out
    a = snap()
    time.sleep(secs)
    b = snap()
    use = [((b[p][1] - a[p][1]) * 100.0 / CLK_TCK / secs, p, b[p][0]) for p in b if p in a]
    return [u for u in sorted(use, reverse=True)[:n] if u[0] >= 1]


def check_quiet(warnings):
    """Measures the machine's load for 2 s before the first load; above
    BUSY_WARN it prints a warning naming the busiest processes and adds it
    to warnings (recorded with the figures)."""
    load = other_load(2.0)
    if load > BUSY_WARN:
        who = ", ".join(f"{c} (pid {p}) {u:.0f}%" for u, p, c in busiest())
        w = (f"the machine is {load:.0%} busy before the run ({who}): "
             f"the figures are not trustworthy")
        say(f"WARNING: {w}")
        warnings.append(w)


def block_device(path):
    """The /proc/diskstats name of the device holding path, or None."""
    r = subprocess.run(["findmnt", "-n", "-o", "SOURCE", "-T", path], capture_output=True,
                       text=True)
    src = r.stdout.strip()
    if not src.startswith("/dev/"):
        return None
    return os.path.basename(os.path.realpath(src))


def disk_ops(dev):
    """(write requests, sectors written, flush requests) of dev so far."""
    if dev is None:
        return None
    with open("/proc/diskstats") as f:
        for line in f:
            v = line.split()
            if v[2] == dev:
                flush = int(v[18]) if len(v) > 18 else 0
                return int(v[7]), int(v[9]), flush
    return None


# ---------------------------------------------------------------- processes


def proc_stat(pid):
    """(ppid, utime+stime, cutime+cstime) in ticks, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    rest = data.rsplit(")", 1)[1].split()
    # rest[0] is field 3 (state): field n is rest[n - 3].
    return int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14])


def children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st is not None and st[0] == ppid:
                out.append(int(d))
    return out


def proc_status(pid, key):
    """A field of /proc/PID/status in kB (VmRSS, VmHWM...)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def stop_pid(pid, name, grace=10.0):
    """SIGTERM, then SIGKILL after grace seconds; by PID only."""
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + grace
    while time.monotonic() < end:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            if proc_stat(pid) is None:
                return
        time.sleep(0.05)
    say(f"  {name} (pid {pid}) did not stop on TERM: KILL")
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


class CpuGroup:
    """A fresh cgroup v1 cpuacct group: every process started in it, and
    every process they fork, is counted, including those that exited.
    Falls back to nothing (ok = False) where cgroups cannot be made."""

    def __init__(self, name):
        self.path = os.path.join(CPUACCT, f"gate26-bench.{os.getpid()}.{name}")
        self.ok = False
        try:
            os.mkdir(self.path)
            self.ok = True
        except OSError:
            pass

    def enter(self):
        """For preexec_fn: moves the calling (child) process in."""
        if self.ok:
            with open(os.path.join(self.path, "tasks"), "w") as f:
                f.write(str(os.getpid()))

    def usage_ns(self):
        if not self.ok:
            return None
        with open(os.path.join(self.path, "cpuacct.usage")) as f:
            return int(f.read())

    def pids(self):
        if not self.ok:
            return []
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def kill_all(self):
        """SIGKILLs whatever is left in the group, by PID."""
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)

    def remove(self):
        if not self.ok:
            return
        self.kill_all()
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.1)


# ---------------------------------------------------------------- one load


def count_files(d):
    n = 0
    for _, _, files in os.walk(d):
        n += len(files)
    return n


def settle(secs=1.0):
    """Flushes what came before, so its writeback does not land in the
    next measurement."""
    os.sync()
    time.sleep(secs)


class Meter:
    """Readings before and after one load: the server's CPU (its cgroup;
    proc_fn's /proc figure in ticks beside it), the machine's busy time and
    the spool device's disk counters."""

    def __init__(self, cg, proc_fn, dev):
        self.cg, self.proc_fn, self.dev = cg, proc_fn, dev

    def read(self):
        return dict(cg=self.cg.usage_ns() if self.cg else None,
                    proc=self.proc_fn() if self.proc_fn else None,
                    busy=cpu_busy_ticks(), disk=disk_ops(self.dev))

    @staticmethod
    def figures(r0, r1, secs, client_ms):
        """The server's CPU ms (cgroup, else /proc), the rest of the
        machine's busy ms beyond server and client_ms, the machine's busy
        share, and disk requests, between readings r0 and r1."""
        proc_ms = (None if r0["proc"] is None or r1["proc"] is None
                   else (r1["proc"] - r0["proc"]) * 1000.0 / CLK_TCK)
        cg_ms = None if r0["cg"] is None else (r1["cg"] - r0["cg"]) / 1e6
        cpu_ms = cg_ms if cg_ms is not None else proc_ms
        busy_ms = (r1["busy"] - r0["busy"]) * 1000.0 / CLK_TCK
        res = dict(secs=secs, client_ms=client_ms, cpu_ms=cpu_ms, proc_ms=proc_ms,
                   cpu_how="cgroup" if cg_ms is not None else "/proc",
                   # the rest of the machine's busy time: kernel threads
                   # (writeback, softirq) and anything else running
                   other_ms=max(0.0, busy_ms - (cpu_ms or 0.0) - client_ms),
                   machine=busy_ms / (secs * 1000.0 * (os.cpu_count() or 1)))
        if r0["disk"] and r1["disk"]:
            res["writes"], res["sectors"], res["flushes"] = (
                y - x for x, y in zip(r0["disk"], r1["disk"]))
        return res


def source_argv(messages, size, sessions, target, reuse=False, sender=SENDER, rcpt=RCPT,
                message_file=None):
    """smtp-source sending messages of size octets over sessions parallel
    sessions to target (HOST:PORT); reuse: -d, messages follow each other on
    a connection (default: one connection per message). message_file: the
    same prepared message each time instead (-F: header and body as they are
    in the file, each line sent with CRLF, dots stuffed; size is not used)."""
    content = ["-F", message_file] if message_file else ["-l", str(size)]
    argv = [SMTP_SOURCE, "-c", *content, "-m", str(messages),
            "-s", str(sessions), "-f", sender, "-t", rcpt]
    if reuse:
        argv.append("-d")
    return argv + [target]


def start_source(argv, log, cgroup=None):
    """Starts smtp-source in a session of its own (killed as a group),
    output to log, inside cgroup if given."""
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=cgroup.enter if cgroup and cgroup.ok else None)


def kill_source(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def source_failed(log, rc):
    """The Failed for an smtp-source that exited with status rc."""
    with open(log, "rb") as f:
        tail = f.read()[-300:].decode(errors="replace").replace("\r", "\n").strip()
    return Failed(f"smtp-source exited with status {rc}: {tail.splitlines()[-1:]}")


def wait_source(p, timeout, log):
    """Waits for smtp-source at most timeout seconds (then kills it)."""
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_source(p)
        raise Failed(f"smtp-source did not finish within {timeout:.0f} s")
    except BaseException:
        kill_source(p)
        raise
    if rc != 0:
        raise source_failed(log, rc)


class Sink:
    """Postfix's smtp-sink on 127.0.0.1:free-port: it parses SMTP and
    throws the messages away, in one process. With -c it writes running
    counters, "sess=S quit=Q mesg=M" ended by CR, to its stdout after each
    session end, QUIT and final dot, flushed each time; count() reads the
    last whole record (mesg counts final dots). stdout is a file on tmpfs
    (/dev/shm), so that its 2 MB per 20,000 messages are no part of the
    spools' file system (a syncfs there would write them out); stop()
    moves it to d/smtp-sink.out."""

    RECORD = re.compile(rb"sess=(\d+) quit=(\d+) mesg=(\d+)$")
    TMPFS = "/dev/shm"

    def __init__(self, d, cgroup=None, backlog=1024):
        self.port = free_port()
        self.dest = os.path.join(d, "smtp-sink.out")
        tmp = self.TMPFS if os.path.isdir(self.TMPFS) else d
        fd, self.out = tempfile.mkstemp(prefix="gate26-bench.smtp-sink.", dir=tmp)
        self.argv = [SMTP_SINK, "-u", "nobody", "-c", f"127.0.0.1:{self.port}", str(backlog)]
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=fd,
                                         stderr=subprocess.STDOUT,
                                         preexec_fn=cgroup.enter if cgroup and cgroup.ok
                                         else None)
        finally:
            os.close(fd)
        self.fd = os.open(self.out, os.O_RDONLY)
        wait_smtp(self.port)

    def count(self):
        """Messages received so far (final dots)."""
        size = os.fstat(self.fd).st_size
        tail = os.pread(self.fd, 256, max(0, size - 256))
        for rec in reversed(tail.split(b"\r")[:-1]):
            m = self.RECORD.search(rec)
            if m:
                return int(m.group(3))
        return 0

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        os.close(self.fd)
        stop_pid(self.proc.pid, "smtp-sink")
        shutil.move(self.out, self.dest)


# ---------------------------------------------------------------- gate26


def gate26_conf(path, spool, port, max_sessions, log_level="info",
                timeout="5m", extra=""):
    """Writes a configuration with the internal door on 127.0.0.1:port;
    extra (blocks such as delivery { ... }) is appended as it is. Run as
    root, gate26 switches to the user gate26 (tools/install-deps makes it):
    it refuses to serve as root."""
    user = "user       gate26\n" if os.geteuid() == 0 else ""
    with open(path, "w") as f:
        f.write(f"""# written by bench/: internal door on loopback, spool on disk
hostname   gate26.bench.test
spool      {spool}
{user}log-level  {log_level}
max-sessions {max_sessions}

listen internal {{
    address  127.0.0.1:{port}
    allow    127.0.0.0/8
    tls      none
    timeout-command {timeout}
    timeout-data    {timeout}
}}
{extra}""")


def watch_extra(metrics_port):
    """The watching of issue 12 as a benchmark turns it on: the metrics
    endpoint, and three alert rules that count every message or refusal of
    the internal door per client (thresholds that never fire, so the cost
    measured is the counting, not the actions)."""
    return f"""
metrics {{
    address  127.0.0.1:{metrics_port}
}}
alert bench-messages {{
    when     messages
    over     1000000 in 5m
    per      client
    door     internal
}}
alert bench-spike {{
    when     spike
    factor   1000
    baseline 1h
    min      1000000 in 5m
    per      client
    door     internal
}}
alert bench-refused {{
    when     refused
    over     1000000 in 5m
    per      door
}}
"""


class Scraper:
    """GET /metrics on 127.0.0.1:port once a second, in a thread, as
    Prometheus would, until stop(); counts the scrapes and the failures."""

    def __init__(self, port):
        self.port = port
        self.scrapes = 0
        self.failures = 0
        self.octets = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/metrics")
                r = c.getresponse()
                body = r.read()
                c.close()
                if r.status == 200:
                    self.scrapes += 1
                    self.octets += len(body)
                else:
                    self.failures += 1
            except OSError:
                self.failures += 1
            self._stop.wait(1.0)

    def stop(self):
        self._stop.set()
        self._thread.join(10)


# Issue 12: watching costs at most 3% of messages/s and 3% more CPU per message.
WATCH_RATE_FLOOR = 0.97
WATCH_CPU_CEILING = 1.03


def summarize_watch(results):
    """gate26 against gate26 watched (--watch): the medians and their ratios."""
    plain = [r for r in results if r["server"] == "gate26"]
    watched = [r for r in results if r["server"] == "gate26+watch"]
    out = {"text": []}
    if not plain or not watched:
        return out
    med = statistics.median
    pr, wr = med(r["rate"] for r in plain), med(r["rate"] for r in watched)
    pm, wm = med(r["ms_per_msg"] for r in plain), med(r["ms_per_msg"] for r in watched)
    rate, cpu = wr / pr, wm / pm
    ok_rate, ok_cpu = rate >= WATCH_RATE_FLOOR, cpu <= WATCH_CPU_CEILING
    label = "median of rounds" if len(plain) > 1 else "result"
    out.update(watch_rate=rate, watch_cpu=cpu)
    out["text"] = [
        f"{label}:",
        f"  gate26          {pr:8.0f} msg/s  {pm:6.3f} CPU ms/msg",
        f"  gate26 watched  {wr:8.0f} msg/s  {wm:6.3f} CPU ms/msg",
        f"  watched/plain: {rate:.3f} messages/s ({'meets' if ok_rate else 'MISSES'} >= "
        f"{WATCH_RATE_FLOOR}), {cpu:.3f} CPU per message ({'meets' if ok_cpu else 'MISSES'} <= "
        f"{WATCH_CPU_CEILING})",
    ]
    out["record"] = (
        f"{'Medians' if len(plain) > 1 else 'Result'}: gate26 {pr:.0f} msg/s at {pm:.3f} CPU "
        f"ms/msg; gate26 watched (metrics scraped every second, three alert rules) {wr:.0f} "
        f"msg/s at {wm:.3f} CPU ms/msg. **Watched/plain: {rate:.3f}x messages/s** "
        f"({'meets' if ok_rate else '**misses**'} the >= {WATCH_RATE_FLOOR} target), "
        f"**{cpu:.3f}x CPU per message** ({'meets' if ok_cpu else '**misses**'} the <= "
        f"{WATCH_CPU_CEILING} target).")
    return out


# ---------------------------------------------------------------- checks (issue 14)

# bench/accept --checks: the sender's domain publishes SPF (passing
# 127.0.0.1), DMARC p=reject and the DKIM keys in a local dnsmasq; the
# inbound door relays CHECKS_RCPT_DOMAIN.
CHECKS_DOMAIN = "bench.test"
CHECKS_RCPT_DOMAIN = "inside.test"
CHECKS_SENDER = f"sender@{CHECKS_DOMAIN}"
CHECKS_RCPT = f"rcpt@{CHECKS_RCPT_DOMAIN}"
DNSBL_ZONE = "bl.test"
DNSMASQ = "/usr/sbin/dnsmasq"
# dnsmasq's local-ttl is 0 by default, and gate26 keeps no answer of TTL 0.
DNS_TTL = 3600
SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id"]


def dkim_keygen(binary, d, selector, ed25519=False):
    """A key of CHECKS_DOMAIN made by `gate26 dkim keygen` in d (readable by
    gate26's group): (path, the text of its TXT record)."""
    path = os.path.join(d, f"{CHECKS_DOMAIN}.{selector}.key")
    r = subprocess.run([binary, "dkim", "keygen", CHECKS_DOMAIN, selector, "--out", path]
                       + (["--ed25519"] if ed25519 else []),
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise Failed(f"gate26 dkim keygen: {(r.stdout + r.stderr).strip()}")
    record = "".join(re.findall(r'"([^"]*)"', r.stdout))
    if not record.startswith("v=DKIM1;"):
        raise Failed(f"gate26 dkim keygen printed no record: {r.stdout.strip()!r}")
    return path, record


def signed_message(path, key_path, selector, size):
    """Writes the message smtp-source -F sends: From in CHECKS_DOMAIN, a body
    of about size octets, signed by dkimpy (relaxed/relaxed, rsa-sha256) with
    key_path under selector; lines end in LF (smtp-source sends CRLF, and
    adds an empty line at the end, which relaxed body canonicalization
    ignores). Returns the message as sent (CRLF)."""
    import dkim  # python3-dkim (tools/install-deps)
    head = (f"From: Alice <alice@{CHECKS_DOMAIN}>\r\nTo: <{CHECKS_RCPT}>\r\n"
            "Subject: bench/accept --checks\r\nDate: Mon, 07 Dec 2026 02:00:00 +0000\r\n"
            f"Message-ID: <bench-checks@{CHECKS_DOMAIN}>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain\r\n\r\n").encode()
    line = b"The quick brown fox jumps over the lazy dog, again and again: 0123456789\r\n"
    body = line * max(1, size // len(line))
    msg = head + body
    with open(key_path, "rb") as f:
        pem = f.read()
    sig = dkim.sign(msg, selector.encode(), CHECKS_DOMAIN.encode(), pem,
                    canonicalize=(b"relaxed", b"relaxed"), include_headers=SIGNED_HEADERS)
    msg = sig + msg
    with open(path, "wb") as f:
        f.write(msg.replace(b"\r\n", b"\n"))
    return msg


def dkim_verify(content, records, idx=0):
    """dkimpy's verdict on the idx-th DKIM-Signature of content, the keys
    from records ({"sel._domainkey.dom": text})."""
    import dkim

    def dnsfunc(name, timeout=5):
        got = records.get(name.decode().rstrip(".").lower() if isinstance(name, bytes)
                          else name.rstrip(".").lower())
        return got.encode() if got is not None else None
    return dkim.DKIM(content).verify(idx=idx, dnsfunc=dnsfunc)


def free_udp_tcp_port(host="127.0.0.1"):
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((host, 0))
            port = u.getsockname()[1]
            with socket.socket() as t:
                try:
                    t.bind((host, port))
                except OSError:
                    continue
                return port
    raise Failed("no free UDP+TCP port")


def dns_answers(port, name="ready.invalid", timeout=0.1):
    """True when a DNS server on 127.0.0.1:port answers a query (any rcode)."""
    qname = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"
    packet = bytes.fromhex("260601000001000000000000") + qname + bytes.fromhex("00100001")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(packet, ("127.0.0.1", port))
            return s.recv(512)[:2] == packet[:2]
        except (socket.timeout, ConnectionRefusedError):
            return False


class Dnsmasq:
    """dnsmasq on 127.0.0.1:free-port in the foreground, answering only from
    its command line (records: dnsmasq options), the authority for .test
    (other names there: NXDOMAIN), each query logged (--log-queries) to
    d/dnsmasq.log; queries() counts them. Stopped by its PID."""

    def __init__(self, d, records):
        self.logpath = os.path.join(d, "dnsmasq.log")
        self.proc = None
        for _ in range(5):
            self.port = free_udp_tcp_port()
            argv = [DNSMASQ, "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                    "--no-poll", "--bind-interfaces", "--listen-address=127.0.0.1",
                    f"--port={self.port}", "--pid-file=", "--log-queries",
                    f"--local-ttl={DNS_TTL}", "--local=/test/", *records]
            with open(self.logpath, "ab") as logf:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                             stderr=subprocess.STDOUT)
            end = time.monotonic() + 5
            while time.monotonic() < end and self.proc.poll() is None:
                if dns_answers(self.port):
                    return
                time.sleep(0.02)
            self.stop()
        raise Failed(f"dnsmasq did not start (see {self.logpath})")

    @property
    def server(self):
        return f"127.0.0.1:{self.port}"

    def queries(self):
        """Queries logged so far (the readiness probes included)."""
        with open(self.logpath, "rb") as f:
            return f.read().count(b" query[")

    def stop(self):
        if self.proc is not None:
            stop_pid(self.proc.pid, "dnsmasq")
            self.proc = None


def txt_option(name, text):
    """A dnsmasq --txt-record: strings of at most 255 octets (RFC 1035 3.3.14),
    which DKIM and SPF join with nothing between them."""
    if "," in text:
        raise Failed(f"dnsmasq cannot serve a comma in a TXT string: {text!r}")
    parts = [text[i:i + 255] for i in range(0, len(text), 255)] or [""]
    return f"--txt-record={name}," + ",".join(parts)


def checks_base_extra(inbound_port, resolver):
    """What every configuration of --checks has beside the internal door: the
    resolver, an inbound door without per-client limits (all the load comes
    from 127.0.0.1) and the domain it relays (queue-only: never delivered)."""
    return f"""
resolver   {resolver}

listen inbound {{
    address  127.0.0.1:{inbound_port}
    tls      none
    max-sessions-per-client off
    connection-rate off
    timeout-command 5m
    timeout-data    5m
}}
domain {CHECKS_RCPT_DOMAIN} {{
    relay             smtp://127.0.0.1:1
    verify-recipients off
}}
"""


def checks_inbound_extra():
    return f"""
checks inbound {{
    spf    on
    dkim   verify
    dmarc  enforce
    dnsbl  {DNSBL_ZONE}
}}
"""


def checks_sign_extra(selector, key_path):
    return f"""
dkim {CHECKS_DOMAIN} {{
    selector {selector}
    key      {key_path}
}}
checks internal {{
    dkim   sign
}}
"""


def start_gate26(binary, conf, log, cgroup=None):
    logf = open(log, "wb")
    p = subprocess.Popen([binary, "serve", "-c", conf], stdin=subprocess.DEVNULL,
                         stdout=logf, stderr=subprocess.STDOUT,
                         preexec_fn=cgroup.enter if cgroup else None)
    logf.close()
    return p


# ---------------------------------------------------------------- Postfix


POSTFIX_QUEUES = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt")


def postfix_version():
    return subprocess.run(["postconf", "-dh", "mail_version"], capture_output=True,
                          text=True).stdout.strip()


class Postfix:
    """A private Postfix instance in directory d: etc/main.cf and
    etc/master.cf made from the templates bench/postfix/MAIN and MASTER,
    each @KEY@ replaced by subst[KEY] (@DIR@ is d); its queue in d/queue.
    Started with `postfix -c d/etc start` inside a cgroup, stopped with
    `postfix stop`, then whatever is left by PID."""

    def __init__(self, d, main, master, subst):
        self.dir = d
        self.etc = os.path.join(d, "etc")
        self.queue = os.path.join(d, "queue")
        os.makedirs(self.etc)
        os.makedirs(self.queue)
        os.chmod(d, 0o755)  # postfix's own users must reach the queue
        subst = dict(subst, DIR=d)
        for tpl, name in ((main, "main.cf"), (master, "master.cf")):
            with open(os.path.join(BENCH, "postfix", tpl)) as f:
                text = f.read()
            for k, v in subst.items():
                text = text.replace(f"@{k}@", str(v))
            with open(os.path.join(self.etc, name), "w") as f:
                f.write(text)
        self.cg = None
        self.started = False
        self.mpid = None

    def start(self, cg):
        self.cg = cg
        self.started = True
        r = subprocess.run([POSTFIX, "-c", self.etc, "start"], capture_output=True, text=True,
                           preexec_fn=cg.enter if cg.ok else None, timeout=60)
        if r.returncode != 0:
            raise Failed(f"postfix start failed: {(r.stdout + r.stderr).strip()}")
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                self.mpid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            raise Failed("no queue/pid/master.pid after postfix start")

    def postconf(self, name):
        return subprocess.run(["postconf", "-c", self.etc, "-xh", name], capture_output=True,
                              text=True).stdout.strip()

    def cpu_ticks(self):
        """master and its children (utime+stime), plus master's
        cutime+cstime (children that exited and were reaped); None if
        master is gone."""
        st = proc_stat(self.mpid)
        if st is None:
            return None
        total = st[1] + st[2]
        for c in children(self.mpid):
            cs = proc_stat(c)
            if cs is not None:
                total += cs[1]
        return total

    def alive(self):
        return self.mpid is not None and proc_stat(self.mpid) is not None

    def queued(self, queues=POSTFIX_QUEUES):
        return sum(count_files(os.path.join(self.queue, q)) for q in queues)

    def stop(self):
        if not self.started:
            return
        self.started = False
        subprocess.run([POSTFIX, "-c", self.etc, "stop"], capture_output=True, timeout=60)
        # Whatever did not go: by PID (the group's, else master's children).
        if self.cg is not None and self.cg.ok:
            self.cg.kill_all()
        elif self.mpid is not None:
            for c in children(self.mpid) + [self.mpid]:
                try:
                    os.kill(c, signal.SIGKILL)
                except ProcessLookupError:
                    pass


# ---------------------------------------------------------------- file system


class FsImage:
    """A fresh ext4 (mkfs defaults: with a journal) in an image file,
    loop-mounted on dir/mnt; unmounted (and its loop device freed) by
    close()."""

    def __init__(self, d, size="8G"):
        self.img = os.path.join(d, "fs.img")
        self.mnt = os.path.join(d, "mnt")
        self.mounted = False
        os.makedirs(self.mnt)
        run(["truncate", "-s", size, self.img])
        run(["mkfs.ext4", "-q", "-F", self.img], stdout=subprocess.DEVNULL)
        run(["mount", "-o", "loop", self.img, self.mnt])
        self.mounted = True
        os.chmod(self.mnt, 0o755)

    def close(self):
        if self.mounted:
            subprocess.run(["umount", self.mnt])
            self.mounted = False


LOGS = ("gate26.log", "smtp-source.log", "smtp-sink.out", "gate26.conf", "maillog", "main.cf",
        "master.cf")


def save_logs(src, dst):
    """Copies the logs and configurations (not the spools) out of src."""
    for d, dirs, files in os.walk(src):
        dirs[:] = [x for x in dirs if x not in ("spool", "queue")]
        for f in files:
            if f in LOGS:
                rel = os.path.relpath(os.path.join(d, f), src)
                os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
                with open(os.path.join(d, f), "rb") as i, open(os.path.join(dst, rel), "wb") as o:
                    o.write(i.read())


# ---------------------------------------------------------------- results


def record(section_title, lines):
    """Appends a section to bench/RESULTS.md (made with its header if new)."""
    new = not os.path.exists(RESULTS)
    with open(RESULTS, "a") as f:
        if new:
            f.write("# gate26 benchmark results\n\n"
                    "Each run of `bench/accept`, `bench/relay` or `bench/idle-rss` appends a "
                    "section below (newest last).\n")
        f.write(f"\n## {section_title}\n\n")
        f.write("\n".join(lines).rstrip() + "\n")


def now_stamp():
    return datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")


def git_rev():
    r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                       capture_output=True, text=True)
    rev = r.stdout.strip() or "?"
    d = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src"],
                       capture_output=True, text=True)
    return rev + ("+dirty src" if d.stdout.strip() else "")


def rel_binary(binary):
    return os.path.relpath(binary, ROOT) if binary.startswith(ROOT) else binary


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- tracking (issue 15)

TRACKING_OFF = "tracking {\n    enabled no\n}\n"
TRACKING_FLOOR = 0.95  # issue 15: at most 5% fewer messages per second with tracking on


def tracked_messages(spool):
    """Messages in SPOOL/tracking.db with a queued event (the daemon stopped)."""
    import sqlite3
    db = sqlite3.connect(os.path.join(spool, "tracking.db"))
    try:
        return db.execute("SELECT count(DISTINCT qid) FROM events WHERE kind = 'queued'").fetchone()[0]
    finally:
        db.close()


def tracked_sent(spool):
    """Messages in SPOOL/tracking.db whose last status is sent (the daemon stopped)."""
    import sqlite3
    db = sqlite3.connect(os.path.join(spool, "tracking.db"))
    try:
        return db.execute("SELECT count(*) FROM messages WHERE status = 'sent'").fetchone()[0]
    finally:
        db.close()


def summarize_tracking(results):
    """gate26 with tracking off against on (--tracking): medians and their ratio."""
    off = [r for r in results if r["server"] == "gate26"]
    on = [r for r in results if r["server"] == "gate26+tracking"]
    out = {"text": []}
    if not off or not on:
        return out
    med = statistics.median
    fr, nr = med(r["rate"] for r in off), med(r["rate"] for r in on)
    fm, nm = med(r["ms_per_msg"] for r in off), med(r["ms_per_msg"] for r in on)
    ok = nr / fr >= TRACKING_FLOOR
    label = "median of rounds" if len(off) > 1 else "result"
    out["text"] = [
        f"{label}:",
        f"  tracking off  {fr:8.0f} msg/s  {fm:6.3f} CPU ms/msg",
        f"  tracking on   {nr:8.0f} msg/s  {nm:6.3f} CPU ms/msg",
        f"  on/off: {nr / fr:.3f} messages/s ({'meets' if ok else 'MISSES'} >= "
        f"{TRACKING_FLOOR}), {nm / fm:.3f} CPU per message",
    ]
    out["record"] = (
        f"{'Medians' if len(off) > 1 else 'Result'}: tracking off {fr:.0f} msg/s at {fm:.3f} "
        f"CPU ms/msg; tracking on (SPOOL/tracking.db, every message found in it) {nr:.0f} "
        f"msg/s at {nm:.3f} CPU ms/msg. **On/off: {nr / fr:.3f}x messages/s** "
        f"({'meets' if ok else '**misses**'} the >= {TRACKING_FLOOR} target), "
        f"{nm / fm:.3f}x CPU per message.")
    return out
