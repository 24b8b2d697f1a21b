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


# ---- issue 11, item 10: implicit TLS on any port ----

def port_of(doc, port):
    (p,) = [p for h in doc["hosts"] for p in h["ports"] if p["port"] == port]
    return p


def implicit_door(gateway, ca, address):
    """gate26's internal door speaking TLS from the first byte on address."""
    return gateway(doors={"internal": {"address": address, "allow": "127.0.0.0/8 ::1",
                                       "tls": "implicit"}},
                   domains={"ours.test": None}, tls=ca.issue("gate26.test", "127.0.0.1", "::1"))


@pytest.mark.parametrize("how", ["url", "option"])
def test_implicit_tls_on_any_port(gateway, ca, how):
    port = free_port()
    implicit_door(gateway, ca, f"127.0.0.1:{port}")
    args = ([f"smtps://127.0.0.1:{port}"] if how == "url"
            else ["--implicit-tls", str(port), f"127.0.0.1:{port}"])
    rc, out, err = check("--json", "--ca-file", ca.pem, *args)
    p = port_of(json.loads(out), port)
    assert p["state"] == "open", (out, err)
    assert p["tls"]["done"] and p["tls"]["how"] == "implicit"
    assert p["tls"]["chain_ok"] and p["tls"]["name_ok"]
    assert p["greeting"] == "220 gate26.test ESMTP gate26"
    ids = {f["id"] for f in p["findings"]}
    assert not ids & {"no-greeting", "no-starttls", "tls-failed", "timeout"}, p["findings"]
    # The table says the same.
    rc2, table, _ = check("--ca-file", ca.pem, *args)
    assert rc2 == rc and re.search(r"tls\s+implicit TLSv1\.[23] ", table), table


def test_implicit_tls_ipv6_and_the_default_port(gateway, ca):
    port = free_port()
    implicit_door(gateway, ca, f"[::1]:{port}")
    rc, out, err = check("--json", "--ca-file", ca.pem, f"smtps://[::1]:{port}")
    (h,) = json.loads(out)["hosts"]
    assert h["addr"] == "::1" and [p["port"] for p in h["ports"]] == [port]
    assert h["ports"][0]["tls"]["how"] == "implicit" and h["ports"][0]["tls"]["done"], out + err
    # smtps://HOST alone is port 465.
    rc, out, _ = check("--json", "--timeout", "2", "smtps://127.0.0.79")
    (h,) = json.loads(out)["hosts"]
    assert [(p["port"], p["state"]) for p in h["ports"]] == [(465, "closed")]


def test_without_implicit_tls_the_probe_waits_for_a_greeting(gateway, ca):
    """What the issue found: a TLS-first door on another port than 465 was spoken to in
    plain text, and all that came back was silence."""
    port = free_port()
    implicit_door(gateway, ca, f"127.0.0.1:{port}")
    rc, out, _ = check("--json", "--timeout", "1", f"127.0.0.1:{port}")
    p = port_of(json.loads(out), port)
    assert "no-greeting" in {f["id"] for f in p["findings"]} and not p["tls"]["done"]
    assert rc == 1


def test_smtp_url_speaks_plain_even_on_465(gateway, ca):
    """smtp://HOST:465 is plain SMTP and STARTTLS; 465 without a scheme stays implicit."""
    g = gateway(doors={"internal": {"address": "127.0.0.47:465", "allow": "127.0.0.0/8",
                                    "tls": "starttls"}},
                domains={"ours.test": None}, tls=ca.issue("gate26.test", "127.0.0.47"))
    rc, out, _ = check("--json", "--ca-file", ca.pem, "--timeout", "2", "smtp://127.0.0.47:465")
    p = port_of(json.loads(out), 465)
    assert p["tls"]["done"] and p["tls"]["how"] == "starttls", p
    rc, out, _ = check("--json", "--ca-file", ca.pem, "--timeout", "2", "127.0.0.47:465")
    p = port_of(json.loads(out), 465)
    assert p["tls"]["how"] == "implicit" and not p["tls"]["done"]
    assert "tls-failed" in {f["id"] for f in p["findings"]}
    # The same host with and without the scheme: the URL decides for its port.
    rc, out, _ = check("--json", "--ca-file", ca.pem, "--timeout", "2", "127.0.0.47",
                       "smtp://127.0.0.47:465")
    (h,) = json.loads(out)["hosts"]
    assert sorted(p["port"] for p in h["ports"]) == [25, 26, 465, 587]
    assert port_of(json.loads(out), 465)["tls"]["how"] == "starttls"
    assert g.proc.poll() is None


# ---- issue 11, item 10: a relay for a prober on the door's allow list ----

def no_ptr_dns(dnsmasq):
    """A resolver that knows no PTR for loopback (NXDOMAIN), so that reverse DNS says nothing."""
    return dnsmasq("--local=/test/", "--local=/127.in-addr.arpa/", "--local=/ip6.arpa/")


def relay_ids(out):
    doc = json.loads(out)
    return {f["id"]: f for h in doc["hosts"] for p in h["ports"] for f in p["findings"]}


def test_relay_for_a_prober_on_the_allow_list_is_said(gateway, dnsmasq, ca):
    g = gateway(doors={"internal": {"allow": "127.0.0.0/8 ::1", "tls": "starttls"}},
                domains={"ours.test": None}, tls=ca.issue("gate26.test", "127.0.0.1"))
    dns = no_ptr_dns(dnsmasq)
    port = g.port("internal")
    rc, out, err = check("--json", "-c", str(g.conf), "--resolver", dns.server, "--ca-file",
                         ca.pem, f"127.0.0.1:{port}")
    f = relay_ids(out)
    assert "open-relay" not in f, out
    x = f["relay-allow-listed"]
    assert x["level"] == "info"
    assert x["text"].startswith(
        "relaying for this prober because it is on the allow list: 127.0.0.1 is in 127.0.0.0/8 "
        f"of door internal at 127.0.0.1:{port}, which refuses others at connect ")
    assert port_of(json.loads(out), port)["source"] == "127.0.0.1"
    assert rc == 0, out + err
    rc, table, _ = check("-c", str(g.conf), "--resolver", dns.server, "--ca-file", ca.pem,
                         f"127.0.0.1:{port}")
    assert rc == 0 and re.search(r"info\s+relay-allow-listed\s+relaying for this prober", table)
    assert "result: info (exit 0)" in table and ", from 127.0.0.1" in table
    assert g.queue_files() == []  # the test stops at RCPT


def test_relay_stays_critical_without_a_config_that_explains_it(gateway, dnsmasq, tmp_path):
    g = gateway()  # the internal door allows 127.0.0.0/8 and ::1
    dns = no_ptr_dns(dnsmasq)
    port = g.port("internal")
    # A configuration without that door, and one whose allow list does not hold the prober.
    other = tmp_path / "other.conf"
    other.write_text(f"hostname x.test\nlisten inbound {{\n    address 127.0.0.1:{free_port()}\n}}\n"
                     "domain ours.test {\n}\n")
    narrow = tmp_path / "narrow.conf"
    narrow.write_text(g.conf.read_text().replace("allow 127.0.0.0/8 ::1", "allow 127.0.0.99"))
    assert narrow.read_text() != g.conf.read_text()
    wide = tmp_path / "wide.conf"
    wide.write_text(g.conf.read_text().replace("allow 127.0.0.0/8 ::1", "allow 0.0.0.0/0"))
    for conf in (other, narrow, wide):
        rc, out, err = check("--json", "-c", str(conf), "--resolver", dns.server,
                             f"127.0.0.1:{port}")
        f = relay_ids(out)
        assert rc == 2 and f["open-relay"]["level"] == "critical", (conf, out, err)
        assert "relay-allow-listed" not in f


def test_a_prober_outside_the_allow_list_is_refused_at_connect(gateway, dnsmasq):
    g = gateway(doors={"inbound": {"tls": "none"},
                       "internal": {"allow": "127.0.0.99", "tls": "none"}})
    dns = no_ptr_dns(dnsmasq)
    rc, out, err = check("--json", "-c", str(g.conf), "--resolver", dns.server,
                         f"127.0.0.1:{g.port('internal')}")
    f = relay_ids(out)
    assert "open-relay" not in f and "relay-allow-listed" not in f
    assert f["greeting-refused"]["text"].startswith("the greeting is not 220: 554 5.7.1")
    assert rc == 1, out + err


def test_a_broken_config_stops_a_remote_check(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("hostname x.test\nlisten nowhere {\n}\n")
    rc, out, err = check("-c", str(bad), f"127.0.0.1:{free_port()}")
    assert rc == 4 and out == "" and err.startswith(f"gate26 check: {bad}:2: "), err


# ---- issue 11, item 10: no PTR warning for loopback ----

@pytest.mark.parametrize("addr", ["127.0.0.1", "[::1]"])
def test_no_ptr_finding_for_loopback(dnsmasq, addr):
    dns = no_ptr_dns(dnsmasq)
    rc, out, err = check("--json", "--resolver", dns.server, f"{addr}:{free_port()}")
    (h,) = json.loads(out)["hosts"]
    assert h["ptr"] == "" and h["findings"] == [], h["findings"]
    assert rc == 0, out + err
