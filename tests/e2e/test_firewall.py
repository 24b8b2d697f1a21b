# SPDX-License-Identifier: MIT
"""gate26 firewall (docs/scanners.md): the ruleset of the doors, applied in a
network namespace of its own with real clients.

Three namespaces, made for the module and deleted by name (also any left
over by an earlier run): a gateway (10.26.1.1 and 10.26.2.1) joined by two
veth pairs to two clients, 10.26.1.2 (inside the internal door's allow
10.26.1.0/24) and 10.26.2.2 (outside it). gate26 serve runs inside the
gateway's namespace (ip netns exec execs it: the PID is gate26's), and so do
gate26 firewall and nft; the clients connect from theirs with a bounded
connect timeout. Nothing here touches the host's own nftables.
"""
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, Gateway, wait_for

NS_GW, NS_IN, NS_OUT = "g26fw-gw", "g26fw-in", "g26fw-out"
GW_IN, CLIENT_IN = "10.26.1.1", "10.26.1.2"
GW_OUT, CLIENT_OUT = "10.26.2.1", "10.26.2.2"
GW_IN6, CLIENT_IN6 = "fd26:1::1", "fd26:1::2"
GW_OUT6, CLIENT_OUT6 = "fd26:2::1", "fd26:2::2"
INTERNAL, INBOUND = 2626, 2525
RATE = 3  # the inbound door's connection-rate: 3/1m
INSTALLED_TRY = Path(BIN).parent / "firewall" / "installed_try"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

# Connects from inside a client namespace: prints the greeting's first line,
# "timeout" when the connection is not made within the time, or "error ERRNO".
CLIENT = r"""
import socket, sys
host, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.settimeout(limit)
try:
    s.connect((host, port))
except socket.timeout:
    print("timeout")
    sys.exit(0)
except OSError as e:
    print("error", e.errno)
    sys.exit(0)
s.settimeout(10)
line = s.makefile("rb").readline().decode(errors="replace").strip()
print(line or "closed")
try:
    s.sendall(b"QUIT\r\n")
except OSError:
    pass
s.close()
"""


def run(*args, ns=None, check=True, timeout=30, **kw):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + [str(a) for a in args]
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout,
                          **kw)


def connect(ns, host, port, limit=2.0):
    """The greeting's first line seen from namespace ns, "timeout" or "error N"."""
    return run("/usr/bin/python3", "-c", CLIENT, host, port, limit, ns=ns).stdout.strip()


def nft(*args, check=True, **kw):
    return run("nft", *args, ns=NS_GW, check=check, **kw)


def firewall(conf, *args, check=False):
    return run(BIN, "firewall", "-c", conf, *args, ns=NS_GW, check=check)


def gate26_tables():
    return [line for line in nft("list", "tables").stdout.splitlines()
            if line == "table inet gate26"]


def delete_namespaces():
    for ns in (NS_GW, NS_IN, NS_OUT):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture(scope="module")
def netns():
    delete_namespaces()
    try:
        for ns in (NS_GW, NS_IN, NS_OUT):
            run("ip", "netns", "add", ns)
            run("ip", "link", "set", "lo", "up", ns=ns)
        for side, ns, gw, client, gw6, client6 in (
                ("in", NS_IN, GW_IN, CLIENT_IN, GW_IN6, CLIENT_IN6),
                ("out", NS_OUT, GW_OUT, CLIENT_OUT, GW_OUT6, CLIENT_OUT6)):
            a, b = f"g26fw-{side}-a", f"g26fw-{side}-b"
            run("ip", "link", "add", a, "netns", NS_GW, "type", "veth", "peer", "name", b,
                "netns", ns)
            run("ip", "addr", "add", f"{gw}/24", "dev", a, ns=NS_GW)
            run("ip", "link", "set", a, "up", ns=NS_GW)
            run("ip", "addr", "add", f"{client}/24", "dev", b, ns=ns)
            run("ip", "link", "set", b, "up", ns=ns)
            run("ip", "route", "add", "default", "via", gw, ns=ns)
            # nodad: the addresses are usable at once (no duplicate address detection wait).
            run("ip", "-6", "addr", "add", f"{gw6}/64", "dev", a, "nodad", ns=NS_GW)
            run("ip", "-6", "addr", "add", f"{client6}/64", "dev", b, "nodad", ns=ns)
            run("ip", "-6", "route", "add", "default", "via", gw6, ns=ns)
        yield
    finally:
        delete_namespaces()


class NsGateway(Gateway):
    """A Gateway whose serve runs inside the gateway's namespace: ip netns exec execs gate26
    in place, so the PID kept (and stopped by Gateway.stop) is gate26's."""

    def start(self, expect_ok=True):
        self.log_offset = self.logfile.stat().st_size if self.logfile.exists() else 0
        with open(self.logfile, "ab") as logf:
            self.proc = subprocess.Popen(["ip", "netns", "exec", NS_GW, BIN, "serve", "-c",
                                          str(self.conf)], stdout=logf,
                                         stderr=subprocess.STDOUT, env=self.env)
        if expect_ok:
            wait_for(lambda: "event=start" in self.log()[self.log_offset:]
                     or self.proc.poll() is not None, what="gate26 to start")
            assert self.proc.poll() is None, f"gate26 exited at start:\n{self.log()}"
        return self


DOORS = {
    "internal": {"address": f"{GW_IN}:{INTERNAL} {GW_OUT}:{INTERNAL} "
                            f"[{GW_IN6}]:{INTERNAL} [{GW_OUT6}]:{INTERNAL}",
                 "allow": "10.26.1.0/24 fd26:1::/64", "tls": "none"},
    "inbound": {"address": f"0.0.0.0:{INBOUND} [::]:{INBOUND}", "tls": "none",
                "connection-rate": f"{RATE}/1m"},
}
DOMAINS = {"ours.test": None}


@pytest.fixture
def gw(netns, tmp_path):
    g = NsGateway(tmp_path / "gw", DOORS, DOMAINS)
    nft("delete", "table", "inet", "gate26", check=False)
    g.start()
    yield g
    g.stop()
    nft("delete", "table", "inet", "gate26", check=False)
    nft("delete", "table", "inet", "other", check=False)


def installed():
    return run(INSTALLED_TRY, ns=NS_GW, check=False).stdout.strip()


def test_internal_door_open_only_to_its_allow_list(gw):
    conf = str(gw.conf)
    # Without the table, the outsider reaches gate26, whose own allow list refuses it.
    assert connect(NS_OUT, GW_OUT, INTERNAL).startswith("554 5.7.1"), "gate26's own refusal"
    assert connect(NS_IN, GW_IN, INTERNAL).startswith("220 ")
    r = firewall(conf, "--apply")
    assert r.returncode == 0, r.stderr
    assert "loaded" in r.stdout
    # The insider still gets the greeting, on both addresses of the door.
    assert connect(NS_IN, GW_IN, INTERNAL).startswith("220 ")
    # The outsider's SYN is dropped: no answer at all, not even gate26's 554.
    assert connect(NS_OUT, GW_OUT, INTERNAL) == "timeout"
    assert connect(NS_OUT, GW_IN, INTERNAL) == "timeout"
    # Inbound stays open to all.
    assert connect(NS_OUT, GW_OUT, INBOUND).startswith("220 ")
    # --remove leaves no gate26 table, and the outsider reaches gate26 again.
    r = firewall(conf, "--remove")
    assert r.returncode == 0 and "removed" in r.stdout, r.stderr
    assert gate26_tables() == []
    assert connect(NS_OUT, GW_OUT, INTERNAL).startswith("554 5.7.1")
    # Removing again: nothing to remove, said so, exit 0.
    r = firewall(conf, "--remove")
    assert r.returncode == 0 and "no table inet gate26" in r.stdout, r.stderr


def test_internal_door_ipv6(gw):
    assert connect(NS_OUT, GW_OUT6, INTERNAL).startswith("554 5.7.1"), "gate26's own refusal"
    assert firewall(str(gw.conf), "--apply").returncode == 0
    assert connect(NS_IN, GW_IN6, INTERNAL).startswith("220 ")
    assert connect(NS_OUT, GW_OUT6, INTERNAL) == "timeout"
    assert connect(NS_OUT, GW_IN6, INTERNAL) == "timeout"
    assert connect(NS_OUT, GW_OUT6, INBOUND).startswith("220 ")
    # A source in scanners6 is dropped on the inbound door.
    nft("add", "element", "inet", "gate26", "scanners6", "{", CLIENT_OUT6, "timeout", "1h", "}")
    assert connect(NS_OUT, GW_OUT6, INBOUND) == "timeout"
    assert connect(NS_IN, GW_IN6, INBOUND).startswith("220 ")


def test_printed_output_loads_with_nft_f(gw, tmp_path):
    conf = str(gw.conf)
    r = firewall(conf)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("table inet gate26 {\n")
    rules = tmp_path / "gate26.nft"
    rules.write_text(r.stdout)
    nft("-c", "-f", rules)
    assert gate26_tables() == []  # -c checked only
    nft("-f", rules)
    assert gate26_tables() == ["table inet gate26"]
    assert connect(NS_IN, GW_IN, INTERNAL).startswith("220 ")
    assert connect(NS_OUT, GW_OUT, INTERNAL) == "timeout"


def test_scanners_set_drops_on_inbound_too(gw):
    conf = str(gw.conf)
    assert firewall(conf, "--apply").returncode == 0
    assert connect(NS_OUT, GW_OUT, INBOUND).startswith("220 ")
    nft("add", "element", "inet", "gate26", "scanners", "{", f"{CLIENT_OUT}", "timeout", "1h",
        "}")
    assert connect(NS_OUT, GW_OUT, INBOUND) == "timeout"
    # Only that source: the other client still gets in.
    assert connect(NS_IN, GW_IN, INBOUND).startswith("220 ")
    # --apply again starts a fresh table: the set is emptied with it.
    assert firewall(conf, "--apply").returncode == 0
    assert connect(NS_OUT, GW_OUT, INBOUND).startswith("220 ")


def test_connection_rate_drops_the_next_new_connection(gw):
    conf = str(gw.conf)
    # Without the table, gate26's own limit answers the 4th connection of the minute with 421.
    for i in range(RATE):
        assert connect(NS_IN, GW_IN, INBOUND).startswith("220 "), i
    assert connect(NS_IN, GW_IN, INBOUND).startswith("421 4.7.0")
    # With it, from a fresh source (gate26 still remembers 10.26.1.2), RATE are let in and the
    # next SYN is dropped before gate26 sees it.
    assert firewall(conf, "--apply").returncode == 0
    for i in range(RATE):
        assert connect(NS_OUT, GW_OUT, INBOUND).startswith("220 "), i
    assert connect(NS_OUT, GW_OUT, INBOUND) == "timeout"
    # IPv6 sources are counted by /64, apart from the IPv4 ones.
    for i in range(RATE):
        assert connect(NS_OUT, GW_OUT6, INBOUND).startswith("220 "), i
    assert connect(NS_OUT, GW_OUT6, INBOUND) == "timeout"
    # The door without a connection-rate (internal) has no rate set and no rate rule.
    listing = nft("list", "table", "inet", "gate26").stdout
    assert "rate4_inbound" in listing and "rate4_internal" not in listing
    assert "limit rate over 3/minute burst 3 packets" in listing


def test_other_tables_untouched_and_apply_twice(gw):
    conf = str(gw.conf)
    nft("-f", "-", input="table inet other {\n chain c {\n"
        "  type filter hook input priority 0; policy accept;\n"
        "  tcp dport 9999 counter drop\n }\n}\n")
    before = nft("list", "table", "inet", "other").stdout
    for _ in range(2):
        r = firewall(conf, "--apply")
        assert r.returncode == 0, r.stderr
    assert gate26_tables() == ["table inet gate26"]
    assert nft("list", "table", "inet", "other").stdout == before
    assert firewall(conf, "--remove").returncode == 0
    assert gate26_tables() == []
    assert nft("list", "table", "inet", "other").stdout == before


def test_comment_carries_the_config_hash(gw):
    conf = str(gw.conf)
    digest = hashlib.sha256(gw.conf.read_bytes()).hexdigest()
    assert installed() == "0"
    assert firewall(conf, "--apply").returncode == 0
    listing = nft("list", "table", "inet", "gate26").stdout
    assert f'comment "gate26 config sha256={digest}"' in listing
    assert installed() == f"1 {digest}"
    # Many scanners in the set do not make the answer too big (terse listing).
    elements = ", ".join(f"192.0.{i // 250}.{i % 250 + 1}" for i in range(2000))
    nft("-f", "-", input=f"add element inet gate26 scanners {{ {elements} }}\n")
    assert installed() == f"1 {digest}"
    # A changed file is another hash: the installed table is older than the configuration.
    gw.conf.write_text(gw.conf.read_text() + "# changed\n")
    assert hashlib.sha256(gw.conf.read_bytes()).hexdigest() != digest
    assert installed() == f"1 {digest}"
    assert firewall(conf, "--remove").returncode == 0
    assert installed() == "0"


def test_bad_input(gw, tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("listen internal {\n    address 127.0.0.1:26\n    allow 10.0.0.1/8\n}\n")
    r = firewall(bad)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith(f"{bad}:3: ")
    r = firewall(bad, "--apply")
    assert r.returncode == 1 and r.stderr.startswith(f"{bad}:3: ")
    assert gate26_tables() == []
    r = firewall(tmp_path / "missing.conf")
    assert r.returncode == 1 and "missing.conf" in r.stderr
    for args in (["--apply", "--remove"], ["--bogus"], ["extra"]):
        r = firewall(gw.conf, *args)
        assert r.returncode == 2 and "usage: gate26 firewall" in r.stderr, args
    # Without CAP_NET_ADMIN: a clear error, nothing changed.
    user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all"]
    for action in ("--apply", "--remove"):
        r = run(*user, BIN, "firewall", "-c", gw.conf, action, ns=NS_GW, check=False)
        assert r.returncode == 1, r
        assert "needs root or CAP_NET_ADMIN" in r.stderr
    assert gate26_tables() == []
    # Printing needs no privilege.
    r = run(*user, BIN, "firewall", "-c", gw.conf, ns=NS_GW, check=False)
    assert r.returncode == 0 and r.stdout.startswith("table inet gate26 {")
