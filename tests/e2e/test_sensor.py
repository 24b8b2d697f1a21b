# SPDX-License-Identifier: MIT
"""The sensor (issue 13, docs/scanners.md "Why a sensor process"): gate26
started as root with a watch block forks a sensor before it drops root; the
sensor captures TCP SYNs to the watched ports on loopback and tells Mirai's
(sequence number == destination address) from the others; it runs as the
gateway's user with only the capabilities its block needs; it ends with
the daemon, and its death leaves SMTP serving. A capture interface that does
not exist is refused by configtest and serve naming FILE:LINE; a reload may
not change it. Started as an unprivileged user, gate26 says once that it
cannot capture. block-scanners adds a source to set scanners of table inet
gate26, in a network namespace the test makes; in another, a captured veth
interface goes down and away, and the capture is opened again.

SYNs are sent with scapy on the loopback device (source addresses 127.0.0.x)."""
import ipaddress
import os
import pwd
import random
import re
import signal
import socket
import subprocess
import uuid

import pytest

from conftest import (BIN, GATE26_USER, SANITIZER_MARKS, assert_serving, config_text, free_port,
                      wait_for)

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or GATE26_USER is None,
                                reason="capturing needs root")

CAP_NET_ADMIN = 12
CAP_NET_RAW = 13

DOORS = {"internal": {"allow": "127.0.0.0/8", "tls": "none"}}


def watch(inner):
    return "watch {\n%s\n}\n" % inner


def status(pid):
    """The lines of /proc/PID/status as a dict of strings."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            out[key] = rest.strip()
    return out


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def sensor_pid(g):
    wait_for(lambda: len(children(g.pid)) == 1, what="the sensor process")
    return children(g.pid)[0]


def alive(pid):
    """True while pid runs (a zombie has ended)."""
    try:
        return status(pid).get("State", "").split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


def send_syns(port, syns):
    """syns: [(source, seq)] to 127.0.0.1:port on the loopback device."""
    scapy = pytest.importorskip("scapy.all")
    scapy.conf.verb = 0
    s = scapy.conf.L3socket(iface="lo")
    try:
        for i, (src, seq) in enumerate(syns):
            s.send(scapy.IP(src=src, dst="127.0.0.1") /
                   scapy.TCP(sport=30000 + i, dport=port, flags="S", seq=seq))
    finally:
        s.close()


DST = int(ipaddress.IPv4Address("127.0.0.1"))
SYN_RE = re.compile(r"event=syn, client=\[([0-9.]+)\], port=(\d+), mirai=(yes|no)")


def syn_lines(g):
    return SYN_RE.findall(g.log()[g.log_offset:])


def random_seq():
    while True:
        seq = random.getrandbits(32)
        if seq != DST:
            return seq


def test_mirai_syns_are_told_from_the_others(gateway):
    g = gateway(doors=DOORS, extra=watch("    capture lo\n    ports 2700"))
    port = g.port("internal")
    unwatched = free_port()
    while unwatched in (port, 2700, 26):
        unwatched = free_port()
    # First a SYN to a port nobody watches, then the watched ones: loopback keeps the order.
    send_syns(unwatched, [("127.0.0.70", DST)])
    send_syns(port, [("127.0.0.50", DST)] * 20 + [("127.0.0.60", random_seq()) for _ in range(30)])
    wait_for(lambda: len(syn_lines(g)) >= 50, timeout=20, what="50 event=syn lines")
    lines = syn_lines(g)
    assert len(lines) == 50, lines
    assert sorted(set(lines)) == [("127.0.0.50", str(port), "yes"),
                                  ("127.0.0.60", str(port), "no")]
    assert sum(1 for _, _, m in lines if m == "yes") == 20
    assert sum(1 for _, _, m in lines if m == "no") == 30
    assert f"port={unwatched}," not in g.log()
    # watch { ports } is watched too; a SYN with ACK is not a SYN we count.
    scapy = pytest.importorskip("scapy.all")
    s = scapy.conf.L3socket(iface="lo")
    try:
        s.send(scapy.IP(src="127.0.0.71", dst="127.0.0.1") /
               scapy.TCP(sport=31000, dport=2700, flags="SA", seq=DST))
        s.send(scapy.IP(src="127.0.0.72", dst="127.0.0.1") /
               scapy.TCP(sport=31001, dport=2700, flags="S", seq=DST))
    finally:
        s.close()
    wait_for(lambda: len(syn_lines(g)) >= 51, what="the SYN to port 2700")
    assert syn_lines(g)[50:] == [("127.0.0.72", "2700", "yes")]
    assert_serving(g)


def test_the_sensor_runs_as_the_user_with_its_capabilities_only(gateway):
    pw = pwd.getpwnam(GATE26_USER)
    g = gateway(doors=DOORS, extra=watch("    capture lo"))
    spid = sensor_pid(g)
    st = status(spid)
    assert st["Uid"].split() == [str(pw.pw_uid)] * 4, st
    assert st["Gid"].split() == [str(pw.pw_gid)] * 4, st
    assert st["Groups"] == "", st
    for key in ("CapPrm", "CapEff", "CapBnd"):
        assert int(st[key], 16) == 1 << CAP_NET_RAW, (key, st[key])
    assert int(st["CapInh"], 16) == 0 and int(st["CapAmb"], 16) == 0, st
    assert st["NoNewPrivs"] == "1", st
    # Nothing of the daemon's (no listening socket, no spool lock, no key): standard input,
    # output and error, its socketpair end (a unix socket) and the capture (a packet socket).
    fds = sorted(int(x) for x in os.listdir(f"/proc/{spid}/fd"))
    assert fds[:4] == [0, 1, 2, 3] and len(fds) == 5, fds
    inodes = {}
    for fd in fds[3:]:
        target = os.readlink(f"/proc/{spid}/fd/{fd}")
        assert target.startswith("socket:["), (fd, target)
        inodes[fd] = target[len("socket:["):-1]
    with open("/proc/net/unix") as f:
        unix = {line.split()[6] for line in f.readlines()[1:]}
    with open("/proc/net/packet") as f:
        packet = {line.split()[8] for line in f.readlines()[1:]}
    assert inodes[3] in unix, inodes
    assert inodes[fds[4]] in packet, inodes
    # The daemon itself keeps no capability.
    assert int(status(g.pid)["CapEff"], 16) == 0
    log = g.log()
    assert "event=sensor-privileges, uid=%d, gid=%d, caps=net_raw" % (pw.pw_uid, pw.pw_gid) in log
    assert log.index("event=sensor-start") < log.index("event=privileges") < log.index("event=start")


def test_block_scanners_keeps_cap_net_admin(gateway):
    g = gateway(doors=DOORS, extra=watch("    capture any\n    block-scanners 1h"))
    st = status(sensor_pid(g))
    want = (1 << CAP_NET_RAW) | (1 << CAP_NET_ADMIN)
    assert int(st["CapEff"], 16) == want and int(st["CapPrm"], 16) == want, st
    assert "caps=net_raw,net_admin" in g.log()


def test_the_sensor_ends_with_the_daemon(gateway):
    g = gateway(doors=DOORS, extra=watch("    capture lo"))
    spid = sensor_pid(g)
    g.stop()  # SIGTERM; asserts exit 0 and no sanitizer report
    assert not alive(spid)
    assert f"event=sensor-exit, pid={spid}, status=0" in g.log()


def test_a_slow_stop_after_the_drain_runs_nothing_freed(gateway):
    """A stop that takes longer than the drain's 100 ms tick (here: a sensor that does not
    answer, stopped, so that the daemon waits its bound for it and then kills it) must not
    let the tick, or a signal, run in the loop's last turn on what the stop has freed (a
    clean-clone run met the tick reading the freed scheduler: ASan's use-after-free)."""
    g = gateway(doors=DOORS, extra=watch("    capture lo"))
    spid = sensor_pid(g)
    os.kill(spid, signal.SIGSTOP)
    g.stop()  # SIGTERM; asserts exit 0 and no sanitizer report
    assert "still running after" in g.log() and "killed" in g.log()
    wait_for(lambda: not alive(spid), what="the sensor killed")


def test_the_sensor_ends_when_the_daemon_is_killed(gateway):
    """SIGKILL gives the daemon no time to close anything: the parent-death signal ends the
    sensor (and its socket's EOF would)."""
    g = gateway(doors=DOORS, extra=watch("    capture lo"))
    spid = sensor_pid(g)
    g.kill9()
    wait_for(lambda: not alive(spid), what="the sensor to end")


def test_a_killed_sensor_leaves_smtp_serving(gateway):
    g = gateway(doors=DOORS, extra=watch("    capture lo"))
    spid = sensor_pid(g)
    os.kill(spid, signal.SIGKILL)
    wait_for(lambda: "event=sensor-gone" in g.log(), what="event=sensor-gone")
    assert_serving(g)
    # A reload goes on without it; SYNs are not read any more, and it is said once.
    g.hup()
    wait_for(lambda: "event=reload, status=ok" in g.log(), what="the reload")
    send_syns(g.port("internal"), [("127.0.0.80", DST)])
    assert_serving(g)
    assert g.log().count("event=sensor-gone") == 1
    assert "client=[127.0.0.80]" not in g.log()


def test_a_capture_interface_that_does_not_exist_is_refused(gateway):
    g = gateway(doors=DOORS, extra=watch("    capture nosuchif0"), start=False)
    line = next(i for i, t in enumerate(g.conf.read_text().splitlines(), 1)
                if "capture nosuchif0" in t)
    want = (f"{g.conf}:{line}: capture: no interface 'nosuchif0' on this machine (ip link lists "
            f"them; 'any' captures on all)\n")
    for verb in ("configtest", "serve"):
        p = subprocess.run([BIN, verb, "-c", str(g.conf)], capture_output=True, text=True,
                           timeout=30)
        assert (p.returncode, p.stderr) == (1, want), (verb, p)
        for mark in SANITIZER_MARKS:
            assert mark not in p.stderr + p.stdout


def test_a_reload_keeps_the_capture_and_takes_new_ports(gateway):
    g = gateway(doors=DOORS, extra=watch("    capture lo"))
    g.write_config(extra=watch("    capture any"))
    g.hup()
    wait_for(lambda: "event=reload, status=failed" in g.log(), what="the refused reload")
    line = next(i for i, t in enumerate(g.conf.read_text().splitlines(), 1) if "capture any" in t)
    assert (f"error=\"{g.conf}:{line}: 'capture' changes only at a restart (running with lo, "
            f"the file says any)") in g.log()
    # Ports follow a reload: the capture's filter takes 2701.
    g.write_config(extra=watch("    capture lo\n    ports 2701"))
    g.hup()
    wait_for(lambda: "event=reload, status=ok" in g.log(), what="the reload")
    wait_for(lambda: "event=capture-filter, ports=3" in g.log(), what="the new filter")
    send_syns(2701, [("127.0.0.90", DST)])
    wait_for(lambda: "client=[127.0.0.90], port=2701, mirai=yes" in g.log(), what="the SYN")
    assert_serving(g)


def test_started_as_a_user_it_says_once_that_it_cannot_capture(tmp_path):
    pw = pwd.getpwnam(GATE26_USER)
    port = free_port()
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    os.chown(spool, pw.pw_uid, pw.pw_gid)
    conf = tmp_path / "gate26.conf"
    conf.write_text(config_text(spool, {"internal": port}, DOORS, {},
                                extra=watch("    capture lo"), user=None))
    log = tmp_path / "gate26.log"
    as_user = ["setpriv", f"--reuid={GATE26_USER}", f"--regid={GATE26_USER}", "--clear-groups"]
    with open(log, "ab") as f:
        proc = subprocess.Popen([*as_user, BIN, "serve", "-c", str(conf)], stdout=f,
                                stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "event=start" in log.read_text() or proc.poll() is not None,
                 what="gate26 to start")
        assert proc.poll() is None, log.read_text()
        text = log.read_text()
        assert text.count("event=capture-unavailable") == 1, text
        assert ("event=capture-unavailable, capture=lo, reason=\"not root and no CAP_NET_RAW\", "
                "note=\"running without capture\"") in text
        assert children(proc.pid) == []  # nothing it could do: no sensor
        send_syns(port, [("127.0.0.91", DST)])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.settimeout(5)
            assert c.recv(100).startswith(b"220 ")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    text = log.read_text()
    assert proc.returncode == 0, text
    assert "event=syn" not in text
    for mark in SANITIZER_MARKS:
        assert mark not in text


@pytest.fixture
def netns():
    """A network namespace of the test's own with loopback up and table inet gate26 (the sets
    scanners and scanners6, as gate26 firewall makes them); deleted at the end."""
    name = "g26s-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "netns", "exec", name, "nft", "-f", "-"], check=True, text=True,
                       input="table inet gate26 {\n"
                             " set scanners { type ipv4_addr; flags timeout; }\n"
                             " set scanners6 { type ipv6_addr; flags timeout; }\n}\n")
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def nft_list(ns, set_name):
    return subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "set", "inet", "gate26",
                           set_name], check=True, capture_output=True, text=True).stdout


@pytest.mark.parametrize("addr,set_name", [("192.0.2.7", "scanners"),
                                           ("2001:db8::7", "scanners6")])
def test_block_scanners_adds_to_the_set_in_a_namespace(tmp_path, netns, addr, set_name):
    """The sensor, as the gateway's user with CAP_NET_ADMIN, adds an address to the set with
    the configured timeout. A test-only hook of -Dfaults=true builds (GATE26_SENSOR_BLOCK) asks
    it once at start (the scanner table asks for a Mirai source: test_scanners.py)."""
    port = free_port()
    conf = tmp_path / "gate26.conf"
    conf.write_text(config_text(tmp_path / "spool", {"internal": port}, DOORS, {},
                                extra=watch("    capture lo\n    block-scanners 2h")))
    log = tmp_path / "gate26.log"
    env = dict(os.environ, GATE26_SENSOR_BLOCK=addr)
    with open(log, "ab") as f:
        proc = subprocess.Popen(["ip", "netns", "exec", netns, BIN, "serve", "-c", str(conf)],
                                stdout=f, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for(lambda: "event=start" in log.read_text() or proc.poll() is not None,
                 what="gate26 to start")
        assert proc.poll() is None, log.read_text()
        wait_for(lambda: "event=scanner-blocked" in log.read_text()
                 or "event=scanner-block," in log.read_text(), what="the block")
        assert f"event=scanner-blocked, client=[{addr}], timeout=7200" in log.read_text()
        assert f"{addr} timeout 2h expires" in nft_list(netns, set_name)
        # The host's own ruleset never saw it.
        host = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
        assert addr not in host
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    text = log.read_text()
    assert proc.returncode == 0, text
    for mark in SANITIZER_MARKS:
        assert mark not in text


def test_block_scanners_without_the_table_says_why(tmp_path):
    """No table inet gate26 (gate26 firewall --apply not run): the sensor says so, gate26 goes
    on. In a namespace of its own, so that the host's table, if any, is not used."""
    name = "g26s-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", name], check=True)
    port = free_port()
    conf = tmp_path / "gate26.conf"
    conf.write_text(config_text(tmp_path / "spool", {"internal": port}, DOORS, {},
                                extra=watch("    block-scanners 1d")))
    log = tmp_path / "gate26.log"
    env = dict(os.environ, GATE26_SENSOR_BLOCK="192.0.2.9")
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        with open(log, "ab") as f:
            proc = subprocess.Popen(["ip", "netns", "exec", name, BIN, "serve", "-c", str(conf)],
                                    stdout=f, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for(lambda: "event=scanner-block," in log.read_text() or proc.poll() is not None,
                     what="the failed block")
            assert proc.poll() is None, log.read_text()
            assert re.search(r"event=scanner-block, client=\[192\.0\.2\.9\], error=\"Error: "
                             r"[^\"]*No such file or directory", log.read_text()), log.read_text()
            st = status(children(proc.pid)[0])  # ip netns exec execs gate26 itself
            assert int(st["CapEff"], 16) == 1 << CAP_NET_ADMIN, st
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=20)
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)
    assert proc.returncode == 0, log.read_text()


def test_a_capture_error_is_logged_and_the_capture_opened_again(tmp_path):
    """In a network namespace with a veth pair: the captured interface goes down, then away;
    each time the sensor says so (event=capture-error) and opens the capture again (every
    10 s) once the interface is back; gate26 runs on throughout."""
    name = "g26s-" + uuid.uuid4().hex[:8]

    def ip(*args):
        subprocess.run(["ip", "-n", name, *args], check=True)

    def veth():
        ip("link", "add", "g26a", "type", "veth", "peer", "name", "g26b")
        ip("link", "set", "g26a", "up")
        ip("link", "set", "g26b", "up")

    subprocess.run(["ip", "netns", "add", name], check=True)
    port = free_port()
    conf = tmp_path / "gate26.conf"
    conf.write_text(config_text(tmp_path / "spool", {"internal": port}, DOORS, {},
                                extra=watch("    capture g26a")))
    log = tmp_path / "gate26.log"
    proc = None
    try:
        ip("link", "set", "lo", "up")
        veth()
        with open(log, "ab") as f:
            proc = subprocess.Popen(["ip", "netns", "exec", name, BIN, "serve", "-c", str(conf)],
                                    stdout=f, stderr=subprocess.STDOUT)
        wait_for(lambda: "event=start" in log.read_text() or proc.poll() is not None,
                 what="gate26 to start")
        assert proc.poll() is None, log.read_text()
        assert "event=capture, capture=g26a, status=open, linktype=EN10MB" in log.read_text()

        ip("link", "set", "g26a", "down")
        wait_for(lambda: "event=capture-error, capture=g26a" in log.read_text(), timeout=30,
                 what="the capture error")
        ip("link", "set", "g26a", "up")
        wait_for(lambda: "status=reopened" in log.read_text(), timeout=60,
                 what="the capture opened again")

        ip("link", "delete", "g26a")
        # The capture open when the interface goes says "The interface disappeared"; one
        # closed at that moment (retrying after an error the link's coming up left on its
        # socket) finds it gone at its next open: "No such device exists".
        try:
            wait_for(lambda: "error=\"The interface disappeared\"" in log.read_text()
                     or "error=\"No such device exists" in log.read_text(),
                     timeout=30, what="the interface gone")
        except AssertionError:
            raise AssertionError(log.read_text()[-4000:])
        veth()
        wait_for(lambda: log.read_text().count("status=reopened") == 2, timeout=60,
                 what="the capture opened on the new interface")
        assert proc.poll() is None
        assert re.search(r"event=capture-error, capture=g26a, error=\"[^\"]+\", retry=10s",
                         log.read_text())
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        subprocess.run(["ip", "netns", "delete", name], check=False)
    text = log.read_text()
    assert proc.returncode == 0, text
    for mark in SANITIZER_MARKS:
        assert mark not in text
