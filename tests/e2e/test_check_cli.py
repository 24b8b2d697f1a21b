# SPDX-License-Identifier: MIT
"""`gate26 check HOST[:PORT]...` and `--mx` as an admin runs them: the
table, --json with the same findings, and the exit status (0 all ok, 1 a
warning, 2 a critical finding, 3 a usage error). The probes themselves are
tested in depth in test_check_remote.py (through probe_try); these go
through the command."""
import json
import re
import subprocess

import pytest

from certs import CA
from conftest import BIN, SANITIZER_MARKS, free_port
from dnsmasq import dnsmasq  # noqa: F401 (fixture)

GATE_IP = "127.0.0.41"


def check(*args, timeout=60):
    p = subprocess.run([BIN, "check", *args], capture_output=True, timeout=timeout)
    out, err = p.stdout.decode(), p.stderr.decode()
    for mark in SANITIZER_MARKS:
        assert mark not in err, err
    return p.returncode, out, err


def json_ids(doc):
    found = set()
    for h in doc["hosts"]:
        found |= {f["id"] for f in h["findings"]}
        for port in h["ports"]:
            found |= {f["id"] for f in port["findings"]}
    return found


def table_ids(text):
    return set(re.findall(r"^\s+(?:ok|info|warn|critical)\s+([a-z0-9-]+)\s", text, re.M))


@pytest.fixture
def ca(tmp_path):
    return CA(tmp_path / "pki")


def gate(gateway, dnsmasq, ca, tls="starttls"):
    """gate26's inbound door on gate.test (127.0.0.41), with A and PTR
    records from dnsmasq and a certificate of the test CA."""
    port = free_port()
    g = gateway(doors={"inbound": {"address": f"{GATE_IP}:{port}", "tls": tls}},
                domains={"ours.test": None}, tls=ca.issue("gate.test"))
    dns = dnsmasq("--local=/test/", f"--host-record=gate.test,{GATE_IP}",
                  "--mx-host=ours.test,gate.test,10")
    return g, dns, port


def test_a_well_configured_door_is_all_ok(gateway, dnsmasq, ca):
    g, dns, port = gate(gateway, dnsmasq, ca)
    rc, out, err = check("--resolver", dns.server, "--ca-file", ca.pem, "--timeout", "5",
                         f"gate.test:{port}")
    assert rc == 0, out + err
    assert "result: ok (exit 0)" in out
    assert "warn " not in out and "critical " not in out
    rc, js, _ = check("--json", "--resolver", dns.server, "--ca-file", ca.pem, f"gate.test:{port}")
    assert rc == 0
    doc = json.loads(js)
    (h,) = doc["hosts"]
    assert h["addr"] == GATE_IP and h["ptr"] == "gate.test" and h["fcrdns"] is True
    (p,) = h["ports"]
    assert p["state"] == "open" and p["tls"]["done"] and p["tls"]["chain_ok"] and p["tls"]["name_ok"]
    assert p["tls"]["version"] in ("TLSv1.2", "TLSv1.3")
    assert json_ids(doc) == table_ids(out), (json_ids(doc), out)


def test_a_door_without_starttls_is_a_warning(gateway, dnsmasq, ca):
    g, dns, port = gate(gateway, dnsmasq, ca, tls="none")
    rc, out, _ = check("--resolver", dns.server, f"gate.test:{port}")
    assert rc == 1, out
    assert "no-starttls" in out and "result: warn (exit 1)" in out
    rc, js, _ = check("--json", "--resolver", dns.server, f"gate.test:{port}")
    assert rc == 1 and "no-starttls" in json_ids(json.loads(js))


def test_an_open_relay_is_critical_and_a_closed_port_is_said(dnsmasq):
    sink_port, closed = free_port(), free_port()
    sink = subprocess.Popen(["/usr/sbin/smtp-sink", "-u", "nobody", f"127.0.0.1:{sink_port}",
                             "100"])
    try:
        import time
        for _ in range(50):
            if subprocess.run(["ss", "-ltn", f"sport = :{sink_port}"], capture_output=True,
                              text=True).stdout.count("LISTEN"):
                break
            time.sleep(0.1)
        rc, out, _ = check(f"127.0.0.1:{sink_port}", f"127.0.0.1:{closed}")
        assert rc == 2, out
        assert "open-relay" in out and "result: critical (exit 2)" in out
        assert re.search(rf"port {closed}\s+closed", out), out
        rc, js, _ = check("--json", f"127.0.0.1:{sink_port}", f"127.0.0.1:{closed}")
        doc = json.loads(js)
        assert rc == 2 and {"open-relay", "auth-before-tls"} <= json_ids(doc)
        states = {p["port"]: p["state"] for p in doc["hosts"][0]["ports"]}
        assert states == {sink_port: "open", closed: "closed"}
        assert json_ids(doc) == table_ids(out)
    finally:
        sink.terminate()
        sink.wait(10)


def test_mx_checks_each_mx_host(gateway, dnsmasq, ca):
    g, dns, port = gate(gateway, dnsmasq, ca)
    rc, js, err = check("--json", "--mx", "--resolver", dns.server, "--ca-file", ca.pem,
                        "ours.test", timeout=120)
    doc = json.loads(js)
    assert [h["name"] for h in doc["hosts"]] == ["gate.test"]
    assert doc["hosts"][0]["addr"] == GATE_IP
    # The default ports (25 26 465 587) are closed on 127.0.0.41: nothing listens there.
    assert sorted(p["port"] for p in doc["hosts"][0]["ports"]) == [25, 26, 465, 587]


@pytest.mark.parametrize("args", [
    ["--bogus"], [], ["--timeout", "0", "127.0.0.1"], ["--resolver", "nonsense", "x.test"],
    ["host:99999"], ["--mx"],
])
def test_usage_errors_exit_3(args):
    rc, out, err = check(*args)
    assert rc == 3, (out, err)
    assert err.startswith("gate26 check: ") or "usage" in err


# ---- issue 11, item 10: no PTR warning for loopback ----

def no_ptr_dns(dnsmasq):
    """A resolver that knows no PTR for loopback (NXDOMAIN), so that reverse DNS says nothing."""
    return dnsmasq("--local=/test/", "--local=/127.in-addr.arpa/", "--local=/ip6.arpa/")


@pytest.mark.parametrize("addr", ["127.0.0.1", "[::1]"])
def test_no_ptr_finding_for_loopback(dnsmasq, addr):
    dns = no_ptr_dns(dnsmasq)
    rc, out, err = check("--json", "--resolver", dns.server, f"{addr}:{free_port()}")
    (h,) = json.loads(out)["hosts"]
    assert h["ptr"] == "" and h["findings"] == [], h["findings"]
    assert rc == 0, out + err
