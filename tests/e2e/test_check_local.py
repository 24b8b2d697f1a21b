# SPDX-License-Identifier: MIT
"""gate26 check --local (issue 6): listeners this test opens on loopback and on
all interfaces, named by pid, command, user and scope; a port nobody listens
on; gate26's own doors, with their roles from -c; an internal door on all
interfaces whose allow list admits everyone; --json against the table; the
exit statuses (0 ok, 1 warn, 3 usage). Every process started here is stopped
by its PID."""
import json
import os
import pwd
import re
import socket
import subprocess
import sys
import time

import pytest

from conftest import BIN, config_text, free_port, wait_for

LISTENER = r"""
import socket, sys, time
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen()
print("ready", flush=True)
time.sleep(60)
"""


def check(*args, env=None):
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    if env:
        e.update(env)
    return subprocess.run([BIN, "check", *args], capture_output=True, text=True, timeout=30,
                          env=e)


@pytest.fixture
def listen():
    """listen(addr, port) -> Popen of a Python listener (stopped by PID at teardown)."""
    procs = []

    def start(addr, port):
        p = subprocess.Popen([sys.executable, "-c", LISTENER, addr, str(port)],
                             stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout.readline().strip() == "ready"
        return p

    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


def table_rows(out):
    """The listener rows of the table: {(port, family, addr): [columns...]}."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^(\d+)\s+(ipv4|ipv6)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(yes|no)\s+(\S+)\s+(.*)$",
                     line)
        if m:
            port, fam, addr, scope, pid, user, g, role, cmd = m.groups()
            rows[(int(port), fam, addr)] = dict(scope=scope, pid=pid, user=user, gate26=g,
                                                role=role, command=cmd)
    return rows


def finding_ids(out):
    return re.findall(r"^\s*(?:ok|info|warn|critical)\s+(\S+)\s", out, re.M)


ME = pwd.getpwuid(os.geteuid()).pw_name


def test_loopback_listener_named_by_pid(listen):
    port = free_port()
    p = listen("127.0.0.1", port)
    r = check("--local", str(port))
    assert r.returncode == 0, r.stdout + r.stderr
    rows = table_rows(r.stdout)
    row = rows[(port, "ipv4", "127.0.0.1")]
    assert row["pid"] == str(p.pid)
    assert row["scope"] == "loopback"
    assert row["user"] == ME
    assert row["gate26"] == "no"
    assert row["command"].startswith(sys.executable + " -c ")
    assert "foreign-listener" in finding_ids(r.stdout)
    assert "\033[" not in r.stdout  # not a terminal: no colour
    assert "result: info (exit 0)" in r.stdout


def test_all_interfaces_listener_is_a_warning(listen):
    port = free_port()
    p = listen("::", port)
    r = check("--local", str(port))
    assert r.returncode == 1, r.stdout + r.stderr
    row = table_rows(r.stdout)[(port, "ipv6", "::")]
    assert row["pid"] == str(p.pid) and row["user"] == ME
    # Python leaves IPV6_V6ONLY at the system default (0 on Debian): IPv4 too.
    with open("/proc/sys/net/ipv6/bindv6only") as f:
        dual = f.read().strip() == "0"
    assert row["scope"] == ("all+ipv4" if dual else "all")
    ids = finding_ids(r.stdout)
    assert "foreign-on-all-interfaces" in ids
    assert ("dual-stack" in ids) == dual
    assert re.search(rf"warn\s+foreign-on-all-interfaces\s+\[::\]:{port}: .*\(pid {p.pid}, "
                     rf"user {ME}\) listens on all interfaces and is not gate26", r.stdout)
    assert "result: warn (exit 1)" in r.stdout


def test_nobody_listens():
    port = free_port()
    r = check("--local", str(port))
    assert r.returncode == 0, r.stderr
    assert re.search(rf"^{port}\s+nobody listens$", r.stdout, re.M)
    assert re.search(rf"info\s+not-listening\s+port {port}: nobody listens", r.stdout)
    j = json.loads(check("--local", "--json", str(port)).stdout)
    assert j["not_listening"] == [port] and j["listeners"] == []
    assert j["findings"] == [{"id": "not-listening", "level": "info",
                              "text": f"port {port}: nobody listens"}]
    assert j["level"] == "info" and j["exit"] == 0


def test_json_matches_table(listen):
    p1, p2, p3 = free_port(), free_port(), free_port()
    a = listen("127.0.0.1", p1)
    b = listen("::", p2)
    args = ["--local", str(p1), str(p2), str(p3)]
    table = check(*args)
    r = check("--json", *args)
    assert r.returncode == table.returncode == 1
    j = json.loads(r.stdout)
    assert j["check"] == "local" and j["ports"] == sorted([p1, p2, p3])
    assert j["not_listening"] == [p3]
    rows = table_rows(table.stdout)
    assert len(rows) == len(j["listeners"]) == 2
    for x in j["listeners"]:
        row = rows[(x["port"], x["family"], x["addr"])]
        assert row["pid"] == str(x["pid"])
        assert row["user"] == x["user"]
        assert row["command"] == x["command"]
        assert row["gate26"] == ("yes" if x["is_gate26"] else "no")
        assert row["scope"] == (x["scope"] + "+ipv4" if x["dual_stack"] else x["scope"])
        assert row["role"] == (x["role"] or "-")
        for f in x["findings"]:  # every finding, word for word, in the table too
            assert re.search(rf"{f['level']}\s+{re.escape(f['id'])}\s+{re.escape(f['text'])}",
                             table.stdout)
    by_pid = {x["pid"]: x for x in j["listeners"]}
    assert by_pid[a.pid]["scope"] == "loopback" and by_pid[b.pid]["scope"] == "all"
    assert j["level"] == "warn" and j["exit"] == 1
    assert f"result: {j['level']} (exit {j['exit']})" in table.stdout


def test_gate26_itself_and_its_roles(gateway):
    g = gateway()
    ports = [g.port("inbound"), g.port("internal")]
    r = check("--local", *map(str, ports))
    assert r.returncode == 0, r.stdout + r.stderr
    rows = table_rows(r.stdout)
    for port in ports:
        row = rows[(port, "ipv4", "127.0.0.1")]
        assert row["gate26"] == "yes" and row["pid"] == str(g.pid)
        assert row["role"] == "-"  # no configuration given: no role
    # With the configuration, every door is found (its ports are looked at by default).
    r = check("--local", "-c", str(g.conf), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    j = json.loads(r.stdout)
    assert set(ports) <= set(j["ports"]) and {25, 26, 465, 587} <= set(j["ports"])
    mine = {x["port"]: x for x in j["listeners"] if x["pid"] == g.pid}
    assert mine[g.port("inbound")]["role"] == "inbound"
    assert mine[g.port("internal")]["role"] == "internal"
    for x in mine.values():
        assert x["is_gate26"] and x["scope"] == "loopback" and x["level"] == "ok"
        assert x["findings"][0]["id"] == "gate26"
        assert x["findings"][0]["text"].endswith(f"gate26 (pid {g.pid}), door {x['role']}")
    g.raw("inbound").close()  # the daemon still serves


def test_internal_door_public_without_allow_list(gateway):
    """conf requires an allow list on internal; 0.0.0.0/0 admits everyone, which is
    no allow list in effect: on all interfaces that is a warning."""
    port = free_port()
    g = gateway(doors={"inbound": {"tls": "none"},
                       "internal": {"address": f"0.0.0.0:{port}", "allow": "0.0.0.0/0 ::1",
                                    "tls": "none"}})
    r = check("--local", "-c", str(g.conf), str(port))
    assert r.returncode == 1, r.stdout + r.stderr
    row = table_rows(r.stdout)[(port, "ipv4", "0.0.0.0")]
    assert row["gate26"] == "yes" and row["role"] == "internal" and row["scope"] == "all"
    assert re.search(rf"warn\s+internal-door-public\s+0\.0\.0\.0:{port}: the internal door "
                     r"listens on a public address and its allow list admits everyone "
                     r"\(0\.0\.0\.0/0, ", r.stdout)
    assert "foreign-on-all-interfaces" not in r.stdout
    g.raw("internal").close()


def test_internal_door_public_with_allow_list_is_info(gateway):
    port = free_port()
    g = gateway(doors={"inbound": {"tls": "none"},
                       "internal": {"address": f"0.0.0.0:{port}", "allow": "127.0.0.0/8",
                                    "tls": "none"}})
    r = check("--local", "--json", "-c", str(g.conf), str(port))
    assert r.returncode == 0, r.stdout + r.stderr
    (x,) = json.loads(r.stdout)["listeners"]
    assert [f["id"] for f in x["findings"]] == ["gate26", "internal-door-exposed"]
    assert x["level"] == "info"


def door_config(g, tmp_path, extra_doors):
    """A configuration for check -c: gate26's doors as g runs them, and extra_doors
    ({role: port}) that nothing runs."""
    ports = dict(g.ports, **extra_doors)
    doors = dict(g.doors)
    for role in extra_doors:
        doors[role] = {"allow": "127.0.0.0/8", "tls": "none"}
    path = tmp_path / "check.conf"
    path.write_text(config_text(g.spool, ports, doors, g.domains))
    return path


def test_a_door_nobody_listens_on_is_critical(gateway, tmp_path):
    """issue 11, item 10: --local -c FILE as a health check."""
    g = gateway(doors={"inbound": {"tls": "none"}})
    down = free_port()
    conf = door_config(g, tmp_path, {"internal": down})
    line = conf.read_text().splitlines().index(f"    address 127.0.0.1:{down}") + 1
    r = check("--local", "-c", str(conf))
    assert r.returncode == 2, r.stdout + r.stderr
    assert re.search(rf"^critical\s+door-not-listening\s+door internal at 127\.0\.0\.1:{down}: "
                     rf"nobody listens \({re.escape(str(conf))} line {line}\)$", r.stdout, re.M), \
        r.stdout
    assert "result: critical (exit 2)" in r.stdout
    j = json.loads(check("--local", "--json", "-c", str(conf)).stdout)
    assert j["exit"] == 2 and j["level"] == "critical"
    assert [f["id"] for f in j["findings"] if f["level"] == "critical"] == ["door-not-listening"]
    # The running door is fine, and so is the check of its port alone.
    mine = [x for x in j["listeners"] if x["pid"] == g.pid]
    assert [x["role"] for x in mine] == ["inbound"] and mine[0]["level"] == "ok"
    r = check("--local", "-c", str(conf), str(g.port("inbound")))
    assert r.returncode == 0, r.stdout
    # Every door running: all clear.
    r = check("--local", "-c", str(g.conf))
    assert r.returncode == 0 and "door-not" not in r.stdout, r.stdout
    # Without -c, a port nobody listens on stays a fact.
    r = check("--local", str(down))
    assert r.returncode == 0 and "door-not" not in r.stdout


def test_a_door_held_by_another_program_is_critical(gateway, tmp_path, listen):
    g = gateway(doors={"inbound": {"tls": "none"}})
    taken = free_port()
    p = listen("127.0.0.1", taken)
    conf = door_config(g, tmp_path, {"internal": taken})
    r = check("--local", "--json", "-c", str(conf))
    assert r.returncode == 2, r.stdout + r.stderr
    (f,) = [f for f in json.loads(r.stdout)["findings"] if f["level"] == "critical"]
    assert f["id"] == "door-not-gate26"
    assert f["text"].startswith(f"door internal at 127.0.0.1:{taken}: {sys.executable} -c ")
    assert f"(pid {p.pid}) listens there, not gate26 ({conf} line " in f["text"]


def test_colour_only_on_a_terminal_without_no_color(listen):
    import pty
    port = free_port()
    listen("0.0.0.0", port)

    def on_tty(env):
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(BIN, [BIN, "check", "--local", str(port)], env)
        out = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        return os.waitstatus_to_exitcode(status), out.decode(errors="replace")

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    rc, out = on_tty(env)
    assert rc == 1 and "\033[33mwarn" in out
    rc, out = on_tty(dict(env, NO_COLOR="1"))
    assert rc == 1 and "\033[" not in out and "warn" in out


@pytest.mark.parametrize("args, message", [
    ([], "what should be checked?"),
    (["--local", "0"], "--local takes port numbers (1..65535), not '0'"),
    (["--local", "65536"], "not '65536'"),
    (["--local", "25x"], "not '25x'"),
    (["--local", "--mx", "example.test"], "--local and --mx do not go together"),
    (["--local", "--timeout", "3"], "are for remote checks, not --local"),
    (["--local", "-c", "/nonexistent/gate26.conf"], "-c /nonexistent/gate26.conf: cannot read"),
    (["--bogus"], "unknown option '--bogus'"),
    (["--timeout"], "option --timeout needs a value"),
    (["--timeout", "0", "127.0.0.1"], "--timeout takes whole seconds, 1..300, not '0'"),
    (["--timeout", "5s", "127.0.0.1"], "not '5s'"),
    (["--resolver", "127.0.0.1", "127.0.0.1"], "--resolver takes ADDR:PORT"),
    (["--resolver", "dns.example:53", "127.0.0.1"], "--resolver takes ADDR:PORT"),
    (["--helo", "bad name", "127.0.0.1"], "--helo takes a host name"),
    (["--ca-file", "/nonexistent.pem", "127.0.0.1"], "--ca-file /nonexistent.pem: cannot read"),
    (["127.0.0.1:0"], "expected HOST:PORT with a port 1..65535"),
    (["127.0.0.1:99999"], "expected HOST:PORT"),
    (["[::1"], "is not an IPv6 address in brackets"),
    (["[127.0.0.1]:25"], "is not an IPv6 address in brackets"),
    (["[::1]x"], "expected [IPV6] or [IPV6]:PORT"),
    (["::1:25:x"], "is not an IPv6 address"),
    (["bad_host!"], "is neither a host name nor an address"),
    (["999.1.2.3"], "is neither a host name nor an address"),
    (["a..b"], "is neither a host name nor an address"),
    (["--mx"], "what should be checked?"),
    (["--mx", "a.test", "b.test"], "--mx takes one DOMAIN"),
    (["--mx", "-x-"], "unknown option"),
    (["-c", "/nonexistent/gate26.conf", "127.0.0.1"], "-c /nonexistent/gate26.conf: cannot read"),
    # issue 11, item 10: the URLs and --implicit-tls
    (["smtps://"], "'smtps://': expected smtps://HOST[:PORT]"),
    (["smtps://:465"], "expected smtps://HOST[:PORT]"),
    (["smtps://127.0.0.1:0"], "expected HOST:PORT with a port 1..65535"),
    (["smtps://127.0.0.1:65536"], "expected HOST:PORT with a port 1..65535"),
    (["smtp://127.0.0.1:x"], "expected HOST:PORT with a port 1..65535"),
    (["smtps://::1"], "expected smtps://HOST[:PORT]"),
    (["smtps://[::1]:0"], "expected [IPV6] or [IPV6]:PORT"),
    (["smtps://user@mx.test"], "no user, path or query"),
    (["smtp://mx.test/"], "no user, path or query"),
    (["smtps://bad_host!"], "is neither a host name nor an address"),
    (["ftp://mx.test"], "the URLs here are smtp://HOST[:PORT] and smtps://HOST[:PORT]"),
    (["smtps://127.0.0.1:2525", "smtp://127.0.0.1:2525"],
     "port 2525 of 127.0.0.1 is asked for both with and without implicit TLS"),
    (["--implicit-tls", "0", "127.0.0.1"], "--implicit-tls takes a port (1..65535), not '0'"),
    (["--implicit-tls", "465x", "127.0.0.1"], "not '465x'"),
    (["--implicit-tls"], "option --implicit-tls needs a value"),
    (["--implicit-tls", "2465", "127.0.0.1:25"], "--implicit-tls 2465: no target is checked on "
                                                 "port 2465"),
    (["--implicit-tls", "2465", "--mx", "example.test"], "--mx checks ports 25 26 465 587 only"),
    (["--local", "--implicit-tls", "25"], "are for remote checks, not --local"),
])
def test_usage_errors(args, message):
    r = check(*args)
    assert r.returncode == 3, (args, r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("gate26 check: ") and message in r.stderr, r.stderr


def test_help_and_main_usage():
    r = check("--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: gate26 check --local")
    for option in ("--implicit-tls PORT", "smtps://HOST[:PORT]", "smtp://HOST[:PORT]",
                   "-c, --config FILE"):
        assert option in r.stdout, option
    r = subprocess.run([BIN, "help"], capture_output=True, text=True, timeout=10)
    assert "  check --local [-c FILE] [PORT...]\n" in r.stdout
    assert "  check HOST[:PORT]... | check --mx DOMAIN | check smtps://HOST[:PORT]...\n" in r.stdout
