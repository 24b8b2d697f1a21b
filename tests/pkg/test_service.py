# SPDX-License-Identifier: MIT
"""The packaged service under a real systemd (docs/packaging.md "The service").

The unit's settings are rated offline by tests/e2e/test_systemd.py; here the
package runs under them. A Debian 12 root made from the cached minbase
tarball gets systemd, dbus and the package from the registry (apt), a
certificate for the paths the production configuration names, and is
booted with systemd-nspawn: systemd as its PID 1, a network namespace of
its own (loopback only: the doors bind there and nothing leaves), no
registration with the host's systemd (which this machine may not run).
Commands run inside through nsenter into the container's namespaces.

What it shows: `systemctl start` returns once gate26 said READY (Type=notify)
and the doors answer; the status line; a message from /usr/sbin/sendmail
(the alternative) over the local socket in RuntimeDirectory, found in the
journal by its GATE26_QUEUE_ID; `systemctl reload` (SIGHUP, RELOADING and
READY again, same PID); a SIGKILL restarted by Restart=on-failure with the
queue kept; `systemctl stop` (SIGTERM, the drain, a clean exit).
"""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import (CHROOT_ENV, Steps, archives_out, make_certificates, root_from_tarball,
                      say, stop_processes_in)

CONF = "/etc/gate26/gate26.conf"
BOOT_TIMEOUT = 120


class Booted:
    """The booted root: its files (root), the PID of its systemd, and commands in it."""

    def __init__(self, root, pid):
        self.root = root
        self.pid = pid

    def run(self, *args, check=True, timeout=120, stdin=None):
        p = subprocess.run(["nsenter", "-t", str(self.pid), "-a", "--", *args], env=CHROOT_ENV,
                           input=stdin, capture_output=True, text=True, timeout=timeout)
        if check:
            assert p.returncode == 0, f"{args} exited {p.returncode}:\n{p.stdout}{p.stderr}"
        return p

    def show(self, *props):
        return self.show_unit("gate26", *props)

    def show_unit(self, unit, *props):
        out = self.run("systemctl", "show", unit, *[f"-p{p}" for p in props]).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, *match):
        return self.run("journalctl", "--no-pager", "-o", "cat", "-u", "gate26", *match).stdout

    def greeting(self, port):
        """The first line a door sends (bash's /dev/tcp: minbase has no other client)."""
        return self.run("bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}; head -n1 <&3",
                        timeout=30).stdout


def container_init(nspawn_pid):
    """The container's PID 1 as the host sees it: nspawn's child."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == nspawn_pid:
                return int(entry)
    return None


@pytest.fixture(scope="module")
def booted(tmp_path_factory, request, debs):
    path = tmp_path_factory.mktemp("sysroot")
    t0 = time.monotonic()
    root = root_from_tarball(request, path, (debs.deb1,))
    try:
        try:
            root.apt("install", "--no-install-recommends", "systemd", "systemd-sysv", "dbus",
                     f"/root/{debs.deb1.name}")
            archives_out(root)
        finally:
            stop_processes_in(path)
            subprocess.run(["umount", str(root.file("/proc"))], check=True, timeout=60)
        root.file("/usr/sbin/policy-rc.d").unlink()  # the booted systemd starts what is asked
        make_certificates(root, CONF)
    except BaseException:
        shutil.rmtree(path)
        raise
    log = path.parent / "nspawn.log"
    with open(log, "wb") as f:
        nspawn = subprocess.Popen(
            ["systemd-nspawn", "-D", str(path), "--boot", "--register=no", "--keep-unit",
             "--private-network", "--quiet", "--console=pipe"],
            stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
    try:
        b, state = None, ""
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline and nspawn.poll() is None:
            pid = container_init(nspawn.pid)
            if pid is not None:
                b = Booted(root, pid)
                state = b.run("systemctl", "is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    break
            time.sleep(0.5)
        if state not in ("running", "degraded"):
            # Before gate26 is started (the package leaves it disabled): a machine that cannot
            # boot a container (no writable cgroup hierarchy, no namespaces) says so, loudly.
            pytest.skip(f"systemd-nspawn could not boot the root here ({state!r}): "
                        f"{log.read_text(errors='replace')[-2000:]}")
        if state == "degraded":
            failed = b.run("systemctl", "--failed", "--no-legend", "--plain").stdout
            say(request, f"tests/pkg: the container is degraded, failed units:\n{failed}")
        say(request, f"tests/pkg: the systemd root booted in {time.monotonic() - t0:.0f} s")
        yield b
    finally:
        if nspawn.poll() is None:
            nspawn.send_signal(signal.SIGTERM)  # nspawn asks the container's systemd to halt
            try:
                nspawn.wait(60)
            except subprocess.TimeoutExpired:
                nspawn.kill()
                nspawn.wait(60)
        stop_processes_in(path, signals=(signal.SIGKILL,) * 5)  # anything left behind
        shutil.rmtree(path)


steps = Steps()  # each test that the next ones build on says so when it passed


def test_start_returns_once_ready_and_the_doors_answer(booted):
    b = booted
    assert b.show("ActiveState")["ActiveState"] == "inactive"  # installed, not started
    b.run("systemctl", "start", "gate26", timeout=120)
    s = b.show("ActiveState", "SubState", "MainPID", "Type", "StatusText", "NotifyAccess")
    assert (s["ActiveState"], s["SubState"], s["Type"]) == ("active", "running", "notify"), s
    # READY came after every door was bound: each answers now, without waiting.
    for port in (25, 26, 587):
        assert b.greeting(port).startswith("220 "), port
    assert "event=start" in b.journal()
    # The status line, every 10 s and at READY.
    assert re.search(r"sessions", s["StatusText"]) and re.search(r"queue", s["StatusText"]), s
    assert b.run("test", "-S", "/run/gate26/submit").returncode == 0
    # The rating of the unit as this systemd loaded it (the e2e tests rate the file offline).
    out = b.run("systemd-analyze", "security", "--no-pager", "gate26.service").stdout
    m = re.search(r"Overall exposure level for gate26\.service: (\d+\.\d+)", out)
    assert m and float(m.group(1)) <= 2.5, out[-2000:]
    steps.done("start")


def test_sendmail_through_the_service_and_the_queue_id_in_the_journal(booted):
    steps.need("start")
    b = booted
    p = b.run("/usr/sbin/sendmail", "-v", "-f", "cron@example.com", "ops@example.net",
              stdin="Subject: from cron\n\nnightly\n")
    m = re.search(r"queued as ([0-9A-F]{16})", p.stderr)
    assert m, p.stderr
    qid = m.group(1)
    deadline = time.monotonic() + 30
    lines = ""
    while time.monotonic() < deadline:
        lines = b.journal(f"GATE26_QUEUE_ID={qid}")
        if "event=local-submit" in lines and "to=<ops@example.net>" in lines:
            break
        time.sleep(0.5)
    assert "event=local-submit" in lines and "via=socket" in lines, lines
    # No DNS in the container's network: the attempt is deferred and the message stays.
    assert "to=<ops@example.net>" in lines and "status=deferred" in lines, lines
    assert all(qid in line for line in lines.splitlines()), lines
    q = b.run("gate26", "queue", "list").stdout
    assert qid in q, q
    b.qid = qid
    steps.done("sendmail")


def test_reload_keeps_the_process(booted):
    steps.need("start")
    b = booted
    pid = b.show("MainPID")["MainPID"]
    p = b.run("systemctl", "reload", "gate26", timeout=60, check=False)
    assert p.returncode == 0, p.stderr + b.run("systemctl", "status", "-l", "--no-pager", "gate26",
                                               check=False).stdout + b.journal()[-3000:]
    s = b.show("ActiveState", "MainPID")
    assert s == {"ActiveState": "active", "MainPID": pid}, s
    deadline = time.monotonic() + 20
    while "event=reload, status=ok" not in b.journal() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert "event=reload, status=ok" in b.journal()


def test_killed_is_restarted_with_its_queue(booted):
    steps.need("sendmail")
    b = booted
    s = b.show("MainPID", "NRestarts")
    b.run("systemctl", "kill", "-s", "SIGKILL", "--kill-whom=main", "gate26")
    deadline = time.monotonic() + 60
    now = {}
    while time.monotonic() < deadline:
        now = b.show("ActiveState", "MainPID", "NRestarts")
        if now["ActiveState"] == "active" and now["MainPID"] not in ("0", s["MainPID"]):
            break
        time.sleep(0.5)
    assert now["ActiveState"] == "active" and now["MainPID"] != s["MainPID"], now
    assert int(now["NRestarts"]) == int(s["NRestarts"]) + 1, now
    assert b.qid in b.run("gate26", "queue", "list").stdout
    assert b.greeting(25).startswith("220 ")


def test_stop_drains_and_exits_cleanly(booted):
    steps.need("start")
    b = booted
    b.run("systemctl", "stop", "gate26", timeout=60)
    s = b.show("ActiveState", "Result")
    assert s == {"ActiveState": "inactive", "Result": "success"}, s
    journal = b.journal()
    assert "event=stop, signal=TERM" in journal and "event=stopped" in journal, journal[-3000:]
    # Exited by itself, status 0 (a kill by systemd at TimeoutStopSec would say so here).
    assert "Main process exited, code=exited, status=0/SUCCESS" in journal or \
        "Deactivated successfully" in journal, journal[-3000:]
    assert b.run("test", "-e", "/run/gate26", check=False).returncode != 0  # RuntimeDirectory gone


def test_console_service(booted):
    """The packaged gate26-console.service with the configuration's console block: it starts
    (the unit's hardening and bounding set), serves the login page over HTTPS (fetched by
    this machine's Python inside the container's network namespace), and stops cleanly."""
    steps.need("start")
    b = booted
    conf = b.root.file(CONF)
    text = conf.read_text()
    commented = "#console {\n#    address  127.0.0.1:8026\n#    admins   alice@example.com\n#}"
    assert commented in text
    conf.write_text(text.replace(commented, commented.replace("#", "")))
    b.run("systemctl", "start", "gate26-console", timeout=60)
    fetch = ("import ssl, sys, time, urllib.request\n"
             "c = ssl.create_default_context(); c.check_hostname = False\n"
             "c.verify_mode = ssl.CERT_NONE\n"
             "for _ in range(100):\n"
             "    try:\n"
             "        r = urllib.request.urlopen('https://127.0.0.1:8026/login', context=c,"
             " timeout=5)\n"
             "        sys.stdout.write('%d %s' % (r.status, r.read().decode()))\n"
             "        break\n"
             "    except OSError:\n"
             "        time.sleep(0.2)\n")
    p = subprocess.run(["nsenter", "-t", str(b.pid), "-n", "--", "/usr/bin/python3", "-c", fetch],
                       capture_output=True, text=True, timeout=60)
    journal = b.run("journalctl", "--no-pager", "-o", "cat", "-u", "gate26-console").stdout
    assert p.stdout.startswith("200 ") and "<form" in p.stdout, p.stdout + p.stderr + journal
    assert "event=console-start" in journal, journal
    s = b.show_unit("gate26-console", "ActiveState", "MainPID")
    status = b.run("cat", f"/proc/{s['MainPID']}/status").stdout
    assert re.search(r"(?m)^CapEff:\s*0+$", status), status  # the user's, nothing kept
    b.run("systemctl", "reload", "gate26-console", timeout=60)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "event=console-reload, status=ok" not in journal:
        time.sleep(0.3)
        journal = b.run("journalctl", "--no-pager", "-o", "cat", "-u", "gate26-console").stdout
    assert "event=console-reload, status=ok" in journal, journal
    assert b.show_unit("gate26-console", "MainPID") == {"MainPID": s["MainPID"]}
    b.run("systemctl", "stop", "gate26-console", timeout=60)
    assert b.show_unit("gate26-console", "ActiveState", "Result") == {
        "ActiveState": "inactive", "Result": "success"}
    conf.write_text(text)


def test_capture_dropin_under_systemd(booted):
    """`watch { capture any  block-scanners 1d }` with the packaged drop-in: the sensor opens
    the capture and keeps raw-socket and netfilter capabilities, under the unit's filters, and
    counts the SYNs the doors get."""
    steps.need("start")
    b = booted
    conf = b.root.file(CONF)
    text = conf.read_text()
    assert "#watch {\n#    capture         any\n#    block-scanners  1d\n#}" in text
    conf.write_text(text.replace("#watch {\n#    capture         any\n#    block-scanners  1d\n#}",
                                 "watch {\n    capture         any\n    block-scanners  1d\n}"))
    dropin = b.root.file("/etc/systemd/system/gate26.service.d")
    dropin.mkdir(parents=True, exist_ok=True)
    shutil.copy2(b.root.file("/usr/share/gate26/systemd/capture.conf"), dropin / "capture.conf")
    b.run("systemctl", "daemon-reload")
    since = b.run("date", "+%Y-%m-%d %H:%M:%S").stdout.strip()
    b.run("systemctl", "restart", "gate26", timeout=120)
    deadline = time.monotonic() + 30
    journal = ""
    while time.monotonic() < deadline:
        journal = b.journal("--since", since)
        if "event=capture, capture=any, status=open" in journal:
            break
        time.sleep(0.5)
    assert "event=capture, capture=any, status=open" in journal, journal[-4000:]
    m = re.search(r"event=sensor-privileges, uid=\d+, gid=\d+, caps=(\S+)", journal)
    assert m and "net_raw" in m.group(1) and "net_admin" in m.group(1), journal[-4000:]
    for bad in ("capture-unavailable", "block-unavailable", "sensor-gone"):
        assert bad not in journal, journal[-4000:]
    # A SYN to port 25 (the connection bash opens), counted by the sensor.
    assert b.greeting(25).startswith("220 ")

    def syns():
        # The production configuration's metrics listener, read with bash alone.
        out = b.run("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9126; "
                    "printf 'GET /metrics HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' >&3; cat <&3",
                    timeout=30).stdout
        found = re.findall(r'(?m)^gate26_scanner_syns_total\{kind="(?:plain|mirai)"\} (\d+)', out)
        return sum(int(n) for n in found)
    deadline = time.monotonic() + 20
    while syns() == 0 and time.monotonic() < deadline:
        b.greeting(25)
        time.sleep(0.5)
    assert syns() > 0
    b.run("systemctl", "stop", "gate26", timeout=60)
    assert b.show("Result")["Result"] == "success"
