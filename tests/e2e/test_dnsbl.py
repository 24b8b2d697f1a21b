# SPDX-License-Identifier: MIT
"""src/checks/dnsbl.c against dnsmasq: the dnsbl_try driver (built with the
unit tests, under the sanitizers) asks the zones given for one client
address and prints the answer. Listed, not listed (NXDOMAIN, NODATA),
whitelisted, Spamhaus's 127.255.255.254 error code and an answer outside
127/8 (not listings), two zones that both list the client (the first in the
configured order names it, whatever answers first), a dead server
(tempfail), IPv6 nibbles, an IPv4-mapped client, cancellation, and nothing
to ask. Every run must exit 0 with nothing from the sanitizers on stderr."""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, SANITIZER_MARKS
from dnsmasq import dnsmasq, free_udp_tcp_port  # noqa: F401 (dnsmasq is a fixture)

DNSBL_TRY = Path(os.environ.get("GATE26_BIN", str(ROOT / "build-test" / "src" / "gate26"))) \
    .parent / "checks" / "dnsbl_try"

V6 = "2001:db8::1"
V6_NAME = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"


@pytest.fixture(scope="module", autouse=True)
def _driver():
    if not DNSBL_TRY.exists():
        pytest.skip(f"{DNSBL_TRY} not built (needs -Dtests=enabled)")


def run(*args, timeout=30):
    """Runs dnsbl_try; returns (answer dict or the one-word line, names, stderr)."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    p = subprocess.run([str(DNSBL_TRY), *args], capture_output=True, text=True, timeout=timeout,
                       env=env)
    for mark in SANITIZER_MARKS:
        assert mark not in p.stderr, f"sanitizer report:\n{p.stderr[-5000:]}"
    assert p.returncode == 0, f"dnsbl_try exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
    lines = p.stdout.splitlines()
    assert lines and lines[-1] == "done", p.stdout
    names = {}
    answer = None
    for line in lines[:-1]:
        if line.startswith("name "):
            zone, qname = line[5:].rsplit(" ", 1)
            names[zone] = qname
        elif line.startswith("listed="):
            assert answer is None, p.stdout
            answer = dict(f.split("=", 1) for f in line.split(" "))
        else:
            assert answer is None, p.stdout
            answer = line
    return answer, names, p.stderr


@pytest.fixture
def bl(dnsmasq):
    return dnsmasq(
        "--local=/test/",
        # 127.0.0.2, 127.0.0.4: the usual test entries (RFC 5782 5).
        "--host-record=2.0.0.127.bl.test,127.0.0.2",
        "--host-record=4.0.0.127.bl.test,127.0.0.4",
        "--host-record=4.0.0.127.bl2.test,127.0.0.10",
        "--host-record=2.0.0.127.wl.test,127.0.0.5",
        # A list that refuses us (Spamhaus: "query via public resolver").
        "--host-record=9.2.0.192.bl.test,127.255.255.254",
        # Outside 127/8: not a listing.
        "--host-record=8.2.0.192.bl.test,192.0.2.8",
        # The name exists with AAAA only: NODATA for A.
        "--host-record=7.2.0.192.bl.test,::7",
        f"--host-record={V6_NAME}.bl.test,127.0.0.2",
        v6=True)


def test_listed(bl):
    answer, names, _ = run("--server", bl.server, "127.0.0.2", "bl", "bl.test")
    assert names == {"bl.test": "2.0.0.127.bl.test"}
    assert answer == {"listed": "1", "white": "0", "zone": "bl.test", "code": "127.0.0.2",
                      "tempfail": "0"}


@pytest.mark.parametrize("client", ["127.0.0.3", "192.0.2.7"])
def test_not_listed(bl, client):
    """NXDOMAIN (127.0.0.3) and NODATA (the name has AAAA only) are not listings."""
    answer, _, _ = run("--server", bl.server, client, "bl", "bl.test", "bl", "bl2.test")
    assert answer == {"listed": "0", "white": "0", "zone": "-", "code": "-", "tempfail": "0"}


def test_whitelisted(bl):
    """A dnswl listing wins over the dnsbl one: white, named by the dnswl zone."""
    answer, _, _ = run("--server", bl.server, "127.0.0.2", "bl", "bl.test", "wl", "wl.test")
    assert answer == {"listed": "0", "white": "1", "zone": "wl.test", "code": "127.0.0.5",
                      "tempfail": "0"}
    # Not in the dnswl: the dnsbl decides.
    answer, _, _ = run("--server", bl.server, "127.0.0.4", "bl", "bl.test", "wl", "wl.test")
    assert answer["listed"] == "1" and answer["white"] == "0" and answer["zone"] == "bl.test"


def test_error_code_is_not_a_listing(bl):
    """127.255.255.254 is the list's error code: not listed, logged once a
    zone (a warning: our resolver is refused)."""
    answer, _, err = run("--server", bl.server, "192.0.2.9", "bl", "bl.test")
    assert answer == {"listed": "0", "white": "0", "zone": "-", "code": "-", "tempfail": "0"}
    assert err.count("event=dnsbl-error, zone=bl.test, code=127.255.255.254") == 1, err


def test_outside_127_is_not_a_listing(bl):
    answer, _, err = run("--server", bl.server, "192.0.2.8", "bl", "bl.test")
    assert answer["listed"] == "0" and answer["code"] == "-"
    assert "dnsbl-error" not in err


@pytest.mark.parametrize("order,zone,code", [
    (("bl2.test", "bl.test"), "bl2.test", "127.0.0.10"),
    (("bl.test", "bl2.test"), "bl.test", "127.0.0.4"),
    (("nosuch.test", "bl2.test", "bl.test"), "bl2.test", "127.0.0.10"),
])
def test_first_zone_in_order(bl, order, zone, code):
    """Both zones list 127.0.0.4: the first in the configured order names it."""
    args = [x for z in order for x in ("bl", z)]
    for _ in range(3):
        answer, _, _ = run("--server", bl.server, "127.0.0.4", *args)
        assert (answer["listed"], answer["zone"], answer["code"]) == ("1", zone, code)


def test_dead_server():
    """Nothing listens: every zone is a tempfail, counted; not listed."""
    port = free_udp_tcp_port()
    answer, _, _ = run("--server", f"127.0.0.1:{port}", "--timeout-ms", "300", "127.0.0.2",
                       "bl", "bl.test", "bl", "bl2.test", "wl", "wl.test")
    assert answer == {"listed": "0", "white": "0", "zone": "-", "code": "-", "tempfail": "3"}


def test_one_zone_down(bl):
    """A tempfail in one zone does not hide a listing in another (REFUSED:
    dnsmasq is not the authority of .example)."""
    answer, _, _ = run("--server", bl.server, "127.0.0.2", "bl", "bl.example", "bl", "bl.test")
    assert answer == {"listed": "1", "white": "0", "zone": "bl.test", "code": "127.0.0.2",
                      "tempfail": "1"}


def test_ipv6_nibbles(bl):
    answer, names, _ = run("--server", bl.server, V6, "bl", "bl.test")
    assert names["bl.test"] == f"{V6_NAME}.bl.test"
    assert answer["listed"] == "1" and answer["code"] == "127.0.0.2"
    answer, _, _ = run("--server", bl.server, "2001:db8::2", "bl", "bl.test")
    assert answer["listed"] == "0"


def test_ipv4_mapped(bl):
    answer, names, _ = run("--server", bl.server, "::ffff:127.0.0.2", "bl", "bl.test.")
    assert names["bl.test."] == "2.0.0.127.bl.test"
    assert answer["listed"] == "1" and answer["zone"] == "bl.test."


def test_cancel(bl):
    """dnsbl_cancel() right after the start: done never runs, nothing leaks."""
    answer, _, _ = run("--server", bl.server, "--cancel", "127.0.0.2", "bl", "bl.test",
                       "wl", "wl.test")
    assert answer == "cancelled"


def test_nothing_to_ask(bl):
    """No zones, or only zones that are not names or do not fit: NULL."""
    answer, _, _ = run("--server", bl.server, "127.0.0.2")
    assert answer == "nothing-asked"
    answer, names, err = run("--server", bl.server, "127.0.0.2", "bl", "bad zone",
                             "bl", "x" * 250 + ".test")
    assert answer == "nothing-asked"
    assert names["x" * 250 + ".test"] == "-"
    assert err.count("event=dnsbl-skip") == 2, err


def test_cached_zone_answers(bl):
    """With src/dns's cache on, the lookup reads the same (the cache is the
    resolver's, not dnsbl's)."""
    answer, _, _ = run("--server", bl.server, "--cache", "100", "127.0.0.2", "bl", "bl.test",
                       "wl", "wl.test")
    assert answer["white"] == "1"
