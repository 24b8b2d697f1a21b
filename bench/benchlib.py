# SPDX-License-Identifier: MIT
"""Helpers shared by bench/accept and bench/idle-rss.

Building gate26 (release), installing what is missing, free ports, CPU
accounting (cgroup v1 cpuacct, else /proc), starting and stopping gate26,
and appending a section to bench/RESULTS.md. Standard library only.
"""

import datetime
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
BUILD = os.path.join(ROOT, "build")
GATE26 = os.path.join(BUILD, "src", "gate26")
RESULTS = os.path.join(BENCH, "RESULTS.md")
CLK_TCK = os.sysconf("SC_CLK_TCK")
CPUACCT = "/sys/fs/cgroup/cpuacct"


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
    for tool in ("/usr/sbin/smtp-source", "/usr/sbin/postfix"):
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
    say(f"waiting {left:.0f} s: a previous run deleted its spools {age:.0f} s ago, and this "
        f"ext4 has no journal (see wait_recently_deleted in bench/benchlib.py)")
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


# ---------------------------------------------------------------- gate26


def gate26_conf(path, spool, port, max_sessions, log_level="info",
                timeout="5m"):
    with open(path, "w") as f:
        f.write(f"""# written by bench/: internal door on loopback, spool on disk
hostname   gate26.bench.test
spool      {spool}
log-level  {log_level}
max-sessions {max_sessions}

listen internal {{
    address  127.0.0.1:{port}
    allow    127.0.0.0/8
    tls      none
    timeout-command {timeout}
    timeout-data    {timeout}
}}
""")


def start_gate26(binary, conf, log, cgroup=None):
    logf = open(log, "wb")
    p = subprocess.Popen([binary, "serve", "-c", conf], stdin=subprocess.DEVNULL,
                         stdout=logf, stderr=subprocess.STDOUT,
                         preexec_fn=cgroup.enter if cgroup else None)
    logf.close()
    return p


# ---------------------------------------------------------------- results


def record(section_title, lines):
    """Appends a section to bench/RESULTS.md (made with its header if new)."""
    new = not os.path.exists(RESULTS)
    with open(RESULTS, "a") as f:
        if new:
            f.write("# gate26 benchmark results\n\n"
                    "Each run of `bench/accept` or `bench/idle-rss` appends a "
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


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)
