# SPDX-License-Identifier: MIT
"""src/dns/ against real DNS servers: the dns_try driver (built with the unit
tests, under the sanitizers) asks dnsmasq for MX, A/AAAA, TXT and A-only
records and prints each answer; the tests check the status mapping, the
order of MX records, null MX (RFC 7505), TXT strings joined and TTLs, the
why texts, the timeouts against a server that never answers and one that
is not there, invalid names,
cancellation by dns_free() while queries are pending, and the cache of
answers by TTL (dns_cache_set): a second lookup without a query, expiry,
negative answers kept, temporary failures not. Every run must exit 0
with nothing from the sanitizers on stderr."""
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, SANITIZER_MARKS
from dnsmasq import dnsmasq, free_udp_tcp_port  # noqa: F401 (dnsmasq is a fixture)

DNS_TRY = Path(os.environ.get("GATE26_BIN", str(ROOT / "build-test" / "src" / "gate26"))) \
    .parent / "dns" / "dns_try"

# The root zone's KSK-2017 DS: any anchor makes dnsmasq validate, and answers
# from an unsigned upstream then fail validation, which dnsmasq reports as
# SERVFAIL.
ROOT_DS = "20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"


@pytest.fixture(scope="module", autouse=True)
def _driver():
    if not DNS_TRY.exists():
        pytest.skip(f"{DNS_TRY} not built (needs -Dtests=enabled)")


class Answer:
    """One printed answer: status, name, why, and the mx/addr lines."""

    def __init__(self, head):
        fields = dict(f.split("=", 1) for f in head.split(" "))
        self.status = fields["status"]
        self.name = fields["name"]
        self.n = int(fields["n"])
        self.ms = int(fields["ms"])
        self.why = None
        self.mx = []     # [(pref, host)]
        self.addrs = []  # [(text, port, len)]
        self.txt = []    # [(ttl, text)]
        self.a = []      # [(text, ttl)]


def run(*args, timeout=20):
    """Runs dns_try; checks exit 0 and clean stderr; returns (answers, errors, stdout)."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    p = subprocess.run([str(DNS_TRY), *args], capture_output=True, text=True, timeout=timeout,
                       env=env)
    for mark in SANITIZER_MARKS:
        assert mark not in p.stderr, f"sanitizer report:\n{p.stderr[-5000:]}"
    assert p.returncode == 0, f"dns_try exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
    assert p.stderr == "", p.stderr
    answers, errors = [], []
    lines = p.stdout.splitlines()
    assert lines and lines[-1] == "done", p.stdout
    for line in lines[:-1]:
        if line.startswith("status="):
            answers.append(Answer(line))
        elif line.startswith("why="):
            answers[-1].why = line[4:]
        elif line.startswith("mx "):
            _, pref, host = line.split(" ")
            answers[-1].mx.append((int(pref), host))
        elif line.startswith("addr "):
            _, text, port, length = line.split(" ")
            answers[-1].addrs.append((text, int(port[5:]), int(length[4:])))
        elif line.startswith("txt "):
            _, ttl, length, text = line.split(" ", 3)
            text = re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), text)
            assert len(text) == int(length[4:]), line
            answers[-1].txt.append((int(ttl[4:]), text))
        elif line.startswith("a "):
            _, text, ttl = line.split(" ")
            answers[-1].a.append((text, int(ttl[4:])))
        elif line.startswith("error="):
            errors.append(line)
        elif line != "cancelling" and not line.startswith("cache="):
            raise AssertionError(f"unexpected line {line!r}")
    for a in answers:
        assert (a.why is None) == (a.status == "ok"), f"why on {a.status}: {a.why!r}"
        assert a.n == len(a.mx) + len(a.addrs) + len(a.txt) + len(a.a)
    return answers, errors, p.stdout


def one(*args, **kw):
    answers, errors, out = run(*args, **kw)
    assert len(answers) == 1 and not errors, out
    return answers[0]


def by_name(answers):
    return {a.name: a for a in answers}


@pytest.fixture
def ns(dnsmasq):
    """dnsmasq serving a small .test zone."""
    return dnsmasq(
        "--local=/test/",
        # Given out of order, with mixed case.
        "--mx-host=sorted.test,mx30.sorted.test,30",
        "--mx-host=sorted.test,MX10.Sorted.TEST,10",
        "--mx-host=sorted.test,mx20.sorted.test,20",
        "--mx-host=eq.test,first.eq.test,5",
        "--mx-host=eq.test,a.eq.test,10",
        "--mx-host=eq.test,b.eq.test,10",
        "--mx-host=eq.test,last.eq.test,20",
        "--mx-host=nullmx.test,.,0",
        "--dns-rr=rawnull.test,15,000000",
        "--mx-host=mixednull.test,.,0",
        "--mx-host=mixednull.test,mx.mixednull.test,10",
        "--mx-host=somebad.test,bad_host.somebad.test,5",
        "--mx-host=somebad.test,good.somebad.test,10",
        "--mx-host=allbad.test,bad_host.allbad.test,10",
        "--host-record=aonly.test,127.0.0.7",
        "--host-record=both.test,127.0.0.5,::5",
        "--host-record=v6only.test,::6",
        "--host-record=mx10.sorted.test,127.0.0.10",
        v6=True)


def test_mx_sorted_lower_case(ns):
    a = one("--server", ns.server, "mx", "sorted.test")
    assert a.status == "ok"
    assert a.mx == [(10, "mx10.sorted.test"), (20, "mx20.sorted.test"), (30, "mx30.sorted.test")]


def test_mx_name_forms(ns):
    """A final dot and upper case in the name asked make no difference."""
    answers, errors, out = run("--server", ns.server, "mx", "SORTED.Test.", "mx", "sorted.test")
    assert not errors and len(answers) == 2, out
    assert answers[0].mx == answers[1].mx and answers[0].status == "ok"


def test_mx_equal_preferences_shuffled(ns):
    """40 lookups, each started from the previous one's callback: the 5 is
    always first and the 20 last, and the two 10s come in both orders (one
    order every time has odds of 2^-39)."""
    answers, errors, out = run("--server", ns.server, "--repeat", "40", "mx", "eq.test")
    assert len(answers) == 40 and not errors
    orders = set()
    for a in answers:
        assert a.status == "ok" and len(a.mx) == 4, out
        assert a.mx[0] == (5, "first.eq.test") and a.mx[3] == (20, "last.eq.test")
        assert sorted(a.mx[1:3]) == [(10, "a.eq.test"), (10, "b.eq.test")]
        orders.add(tuple(a.mx))
    assert len(orders) == 2, orders


def test_mx_nodata(ns):
    """A name with only an A record: dnsmasq answers NOERROR without records."""
    a = one("--server", ns.server, "mx", "aonly.test")
    assert (a.status, a.n, a.why) == ("nodata", 0, "no MX record")


def test_mx_nxdomain(ns):
    a = one("--server", ns.server, "mx", "nosuch.test")
    assert (a.status, a.n, a.why) == ("nxdomain", 0, "Host or domain name not found")


@pytest.mark.parametrize("name", ["nullmx.test", "rawnull.test", "mixednull.test"])
def test_null_mx(ns, name):
    """--mx-host=NAME,.,0 puts the rdata 0000 00 on the wire, as --dns-rr
    does by hand; a null MX among other records still means no mail."""
    a = one("--server", ns.server, "mx", name)
    assert (a.status, a.n) == ("nullmx", 0)
    assert "null MX" in a.why and "RFC 7505" in a.why


def test_mx_hosts_that_are_not_host_names(ns):
    """A record whose host fails the grammar is left out; when none is left
    the answer is a temporary failure, not "no MX" (which would mean: use
    the domain's own address)."""
    answers, _, _ = run("--server", ns.server, "mx", "somebad.test", "mx", "allbad.test")
    got = by_name(answers)
    assert got["somebad.test"].status == "ok"
    assert got["somebad.test"].mx == [(10, "good.somebad.test")]
    assert got["allbad.test"].status == "tempfail"
    assert got["allbad.test"].why == f"no usable MX host in the answer from {ns.server}"


def test_addrs(ns):
    answers, errors, out = run("--server", ns.server, "addrs", "both.test", "addrs", "aonly.test",
                               "addrs", "v6only.test", "addrs", "sorted.test",
                               "addrs", "nosuch.test")
    assert not errors and len(answers) == 5, out
    got = by_name(answers)
    # IPv6 first, port 0, the sockaddr length of the family.
    assert got["both.test"].status == "ok"
    assert got["both.test"].addrs == [("::5", 0, 28), ("127.0.0.5", 0, 16)]
    assert got["aonly.test"].addrs == [("127.0.0.7", 0, 16)]
    assert got["v6only.test"].addrs == [("::6", 0, 28)]
    # A name with only MX records, and one that does not exist.
    assert (got["sorted.test"].status, got["sorted.test"].why) == ("nodata", "no A or AAAA record")
    assert (got["nosuch.test"].status, got["nosuch.test"].why) == \
        ("nxdomain", "Host or domain name not found")


def test_addrs_literals_need_no_server():
    """An address literal is its own answer (no query), still delivered from
    the loop: the driver aborts if a callback runs inside dns_addrs()."""
    port = free_udp_tcp_port()
    answers, errors, out = run("--server", f"127.0.0.1:{port}", "addrs", "192.0.2.1",
                               "addrs", "2001:DB8::1", "addrs", "::ffff:192.0.2.1")
    assert not errors and len(answers) == 3, out
    got = by_name(answers)
    assert got["192.0.2.1"].addrs == [("192.0.2.1", 0, 16)]
    assert got["2001:DB8::1"].addrs == [("2001:db8::1", 0, 28)]
    assert got["::ffff:192.0.2.1"].addrs == [("::ffff:192.0.2.1", 0, 28)]


def test_many_at_once(ns):
    """Twenty queries of both kinds share the channel, its sockets and its timer."""
    args = []
    for i in range(5):
        args += ["mx", "sorted.test", "mx", "nosuch.test", "addrs", "both.test",
                 "addrs", "aonly.test"]
    answers, errors, out = run("--server", ns.server, *args)
    assert not errors and len(answers) == 20, out
    for a in answers:
        want = {"sorted.test": "ok", "nosuch.test": "nxdomain", "both.test": "ok",
                "aonly.test": "ok"}[a.name]
        assert a.status == want, out


def test_server_over_ipv6(ns):
    a = one("--server", f"[::1]:{ns.port}", "mx", "sorted.test")
    assert a.status == "ok" and a.mx[0] == (10, "mx10.sorted.test")


def test_big_answer_over_tcp(dnsmasq):
    """40 MX records do not fit in 512 octets: dnsmasq sets TC and c-ares asks
    again over TCP (a socket watched for writing while it connects). The
    best CAP_DNS_MX (32) records are kept."""
    server = dnsmasq("--local=/test/",
                     *[f"--mx-host=big.test,host{p:02d}.big.test,{p}" for p in range(40, 0, -1)])
    a = one("--server", server.server, "mx", "big.test")
    assert a.status == "ok"
    assert a.mx == [(p, f"host{p:02d}.big.test") for p in range(1, 33)]
    # Once over UDP (truncated), once over TCP.
    assert server.log().count("query[MX] big.test from 127.0.0.1") == 2


def test_refused(ns):
    """dnsmasq without upstream servers refuses names outside its zone; with
    one server c-ares hands over the answer's code (see dns.c)."""
    answers, _, _ = run("--server", ns.server, "mx", "example.org", "addrs", "example.org")
    assert [a.status for a in answers] == ["tempfail", "tempfail"]
    assert [a.why for a in answers] == [f"REFUSED from {ns.server}"] * 2


def test_servfail(dnsmasq):
    """A validating dnsmasq in front of an unsigned one: the answer is BOGUS,
    and the client sees SERVFAIL."""
    upstream = dnsmasq("--local=/example/", "--mx-host=signed.example,mx.signed.example,10",
                       "--host-record=signed.example,127.0.0.9")
    front = dnsmasq(f"--server=127.0.0.1#{upstream.port}", "--dnssec",
                    f"--trust-anchor=.,{ROOT_DS}", "--dnssec-check-unsigned")
    answers, _, out = run("--server", front.server, "mx", "signed.example",
                          "addrs", "signed.example")
    assert [a.status for a in answers] == ["tempfail", "tempfail"], out
    assert [a.why for a in answers] == [f"SERVFAIL from {front.server}"] * 2
    assert "is BOGUS" in front.log()


def test_server_down():
    """Nothing listens on the port: the ICMP error ends both tries at once,
    long before the timeout."""
    port = free_udp_tcp_port()
    t0 = time.monotonic()
    answers, _, out = run("--server", f"127.0.0.1:{port}", "--timeout-ms", "3000",
                          "mx", "a.test", "addrs", "a.test")
    assert time.monotonic() - t0 < 2.5
    assert [a.status for a in answers] == ["tempfail", "tempfail"], out
    assert [a.why for a in answers] == [f"connection refused by 127.0.0.1:{port}"] * 2


def test_timeout():
    """A server that reads and never answers: two tries, the second with the
    timeout doubled by c-ares, so about 3 * timeout_ms in all."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        port = sink.getsockname()[1]
        t0 = time.monotonic()
        a = one("--server", f"127.0.0.1:{port}", "--timeout-ms", "200", "mx", "slow.test")
        elapsed = time.monotonic() - t0
        sink.setblocking(False)
        tries = 0
        try:
            while sink.recv(4096):
                tries += 1
        except BlockingIOError:
            pass
    assert (a.status, a.why) == ("tempfail", f"timeout asking 127.0.0.1:{port}")
    assert 550 <= a.ms <= 1500, a.ms
    assert elapsed < 5
    assert tries == 2


def test_cancel_pending():
    """dns_free() while queries wait on a silent server: every callback runs
    once with DNS_CANCELLED, inside dns_free(), and nothing leaks (ASan)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        port = sink.getsockname()[1]
        t0 = time.monotonic()
        answers, errors, out = run("--server", f"127.0.0.1:{port}", "--timeout-ms", "5000",
                                   "--cancel-after-ms", "150", "mx", "a.test",
                                   "addrs", "b.test", "mx", "c.test")
        assert time.monotonic() - t0 < 4
    assert out.splitlines()[0] == "cancelling", out
    assert sorted(a.name for a in answers) == ["a.test", "b.test", "c.test"]
    for a in answers:
        assert (a.status, a.why, a.n) == ("cancelled", "cancelled", 0)
        assert 100 <= a.ms < 3000


def test_free_from_a_callback(ns):
    """dns_free() from inside a callback: the literal's answer comes first
    (it needs no query), the others are then cancelled."""
    answers, errors, out = run("--server", ns.server, "--free-in-callback", "addrs", "192.0.2.1",
                               "mx", "sorted.test", "addrs", "both.test")
    assert [a.status for a in answers] == ["ok", "cancelled", "cancelled"], out


INVALID_FOR_BOTH = ["", ".", "..", "a..test", ".a.test", "-a.test", "a-.test", "a_b.test",
                    "a b.test", "a\\.b.test", "*.test", "a@b.test", "b\u00fccher.test",
                    "127.1", "a.123", "[192.0.2.1]", "x" * 64 + ".test",
                    ".".join(["a" * 63] * 4) + ".test"]


def test_invalid_names(ns):
    """Names outside the grammar: -1 with EINVAL and no callback (for MX,
    address literals too)."""
    args = []
    for name in INVALID_FOR_BOTH:
        args += ["mx", name, "addrs", name]
    args += ["mx", "192.0.2.1", "mx", "2001:db8::1", "mx", "[IPv6:::1]"]
    answers, errors, out = run("--server", ns.server, *args)
    assert answers == [], out
    assert len(errors) == 2 * len(INVALID_FOR_BOTH) + 3, out
    assert all(e.startswith("error=EINVAL name=") for e in errors), out


def test_longest_name(ns):
    """253 octets (labels of 63) is a name; dnsmasq says it does not exist."""
    name = ".".join(["a" * 63] * 3 + ["b" * 56]) + ".test"
    assert len(name) == 253
    a = one("--server", ns.server, "mx", name)
    assert a.status == "nxdomain"


@pytest.mark.parametrize("server,text", [
    ("127.0.0.1", "expected \"ADDR:PORT\""),
    ("127.0.0.1:0", "expected a port 1..65535"),
    ("127.0.0.1:65536", "expected a port 1..65535"),
    ("localhost:53", "expected \"ADDR:PORT\""),
    ("::1:53", "in brackets"),
    ("[::1]", "expected \"[IPv6]:PORT\""),
    ("[::1]:x", "expected a port 1..65535"),
    ("1.2.3.4:53,5.6.7.8:53", "expected one server, not a list"),
])
def test_bad_server_text(server, text):
    p = subprocess.run([str(DNS_TRY), "--server", server, "mx", "a.test"], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 1, p.stdout + p.stderr
    assert re.fullmatch(r"error=dns_new: dns server: .*\n", p.stdout), p.stdout
    assert text in p.stdout, p.stdout
    for mark in SANITIZER_MARKS:
        assert mark not in p.stderr, p.stderr


@pytest.fixture
def txt_ns(dnsmasq):
    """dnsmasq serving TXT and A records (with a TTL of 321) for dns_txt and dns_a."""
    return dnsmasq(
        "--local=/test/", "--local-ttl=321",
        "--txt-record=one.test,v=spf1 -all",
        # One record of three character-strings: joined with nothing between.
        '--txt-record=split.test,v=spf1 ip4:192.0.2.1,  ip4:192.0.2.2, -all',
        "--txt-record=two.test,first",
        "--txt-record=two.test,second",
        "--txt-record=_dmarc.under.test,v=DMARC1; p=none",
        "--txt-record=empty.test,",
        "--host-record=aonly.test,127.0.0.7",
        "--host-record=2.0.0.127.bl.test,127.0.0.2",
        "--host-record=4.0.0.127.bl.test,127.0.0.4,::4",
        *[f"--txt-record=many.test,record{i:02d}" for i in range(40)])


def test_txt(txt_ns):
    answers, errors, out = run("--server", txt_ns.server, "txt", "one.test", "txt", "split.test",
                               "txt", "two.test", "txt", "_dmarc.under.test", "txt", "empty.test")
    assert not errors and len(answers) == 5, out
    got = by_name(answers)
    assert got["one.test"].txt == [(321, "v=spf1 -all")]
    assert got["split.test"].txt == [(321, "v=spf1 ip4:192.0.2.1  ip4:192.0.2.2 -all")]
    assert sorted(t for _, t in got["two.test"].txt) == ["first", "second"]
    assert got["_dmarc.under.test"].txt == [(321, "v=DMARC1; p=none")]
    # A record of one empty character-string is a record with an empty text.
    assert got["empty.test"].txt == [(321, "")]


def test_txt_nodata_nxdomain_refused(txt_ns):
    answers, errors, out = run("--server", txt_ns.server, "txt", "aonly.test",
                               "txt", "nosuch.test", "txt", "example.org")
    got = by_name(answers)
    assert (got["aonly.test"].status, got["aonly.test"].why) == ("nodata", "no TXT record")
    assert (got["nosuch.test"].status, got["nosuch.test"].why) == \
        ("nxdomain", "Host or domain name not found")
    assert (got["example.org"].status, got["example.org"].why) == \
        ("tempfail", f"REFUSED from {txt_ns.server}")


def test_txt_capped(txt_ns):
    """40 records (over TCP: too big for 512 octets): the first 32 are kept."""
    a = one("--server", txt_ns.server, "txt", "many.test")
    assert a.status == "ok" and a.n == 32
    assert all(t.startswith("record") for _, t in a.txt)


def test_a_with_ttl(txt_ns):
    """dns_a: A only (no AAAA even where one exists), with the TTL; a DNSBL
    name starts with the reversed address's digits."""
    answers, errors, out = run("--server", txt_ns.server, "a", "2.0.0.127.bl.test",
                               "a", "4.0.0.127.bl.test", "a", "3.0.0.127.bl.test",
                               "a", "one.test")
    assert not errors, out
    got = by_name(answers)
    assert got["2.0.0.127.bl.test"].a == [("127.0.0.2", 321)]
    assert got["4.0.0.127.bl.test"].a == [("127.0.0.4", 321)]
    assert got["3.0.0.127.bl.test"].status == "nxdomain"
    assert (got["one.test"].status, got["one.test"].why) == ("nodata", "no A record")


@pytest.mark.parametrize("name", ["", ".", "a..test", "a b.test", "a\\b.test", "x" * 64 + ".test",
                                  "b\u00fccher.test", ".".join(["a" * 63] * 4) + ".test"])
def test_txt_a_invalid_names(txt_ns, name):
    answers, errors, out = run("--server", txt_ns.server, "txt", name, "a", name)
    assert answers == [] and len(errors) == 2, out


def test_txt_names_of_spf_macros(txt_ns):
    """Names built by SPF macros may hold '_', '+' and other visible octets,
    and a TXT name may end in digits only where dns_a asks (DNSBL)."""
    answers, errors, out = run("--server", txt_ns.server, "txt", "a+b_c.x.test",
                               "txt", "1.2.3.4", "a", "1.2.3.4")
    assert errors == ["error=EINVAL name=1.2.3.4"], out
    got = by_name(answers)
    assert got["a+b_c.x.test"].status == "nxdomain"
    assert got["1.2.3.4"].status == "tempfail"  # refused: outside .test


# ---- the cache of answers (dns_cache_set, src/dns/cache.c) ----

def queries(server, qtype, name):
    """How many queries dnsmasq logged for name (with --log-queries)."""
    return server.log().count(f"query[{qtype}] {name} from 127.0.0.1")


def cache_size(out):
    return int(next(l for l in out.splitlines() if l.startswith("cache="))[6:])


def test_cache_second_lookup_without_query(txt_ns):
    """With the cache on, the second and third lookups of a name (each
    started from the previous one's callback, so never inside the call) are
    answered from the cache: dnsmasq sees one query of each. The TTL comes
    back as given (or counted down), never above it."""
    answers, errors, out = run("--server", txt_ns.server, "--cache", "100", "--repeat", "3",
                               "txt", "one.test", "a", "2.0.0.127.bl.test")
    assert not errors and len(answers) == 6, out
    txt = [a for a in answers if a.name == "one.test"]
    a = [a for a in answers if a.name == "2.0.0.127.bl.test"]
    assert [x.status for x in txt + a] == ["ok"] * 6
    assert all(x.txt[0][1] == "v=spf1 -all" and 319 <= x.txt[0][0] <= 321 for x in txt), out
    assert all(x.a[0][0] == "127.0.0.2" and 319 <= x.a[0][1] <= 321 for x in a), out
    assert queries(txt_ns, "TXT", "one.test") == 1
    assert queries(txt_ns, "A", "2.0.0.127.bl.test") == 1
    assert cache_size(out) == 2


def test_cache_off_by_default(txt_ns):
    """Without --cache (0: off) every lookup is a query, as before."""
    answers, errors, out = run("--server", txt_ns.server, "--repeat", "3", "txt", "one.test")
    assert [a.status for a in answers] == ["ok"] * 3, out
    assert queries(txt_ns, "TXT", "one.test") == 3


def test_cache_answers_with_the_server_gone(txt_ns):
    """The cache answers with nothing to ask: dnsmasq is stopped once the
    first answer is printed, and the second lookup starts 3 s after it."""
    p = subprocess.Popen([str(DNS_TRY), "--server", txt_ns.server, "--cache", "10",
                          "--repeat", "2", "--interval-ms", "3000", "--timeout-ms", "300",
                          "txt", "two.test"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        # The first answer: its status line and its two records.
        first = "".join(p.stdout.readline() for _ in range(3))
        assert first.startswith("status=ok name=two.test n=2"), first
        txt_ns.stop()
        out = p.stdout.read()
        err = p.stderr.read()
        p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0 and err == "", err
    for mark in SANITIZER_MARKS:
        assert mark not in err
    lines = (first + out).splitlines()
    assert sum(1 for l in lines if l.startswith("status=ok name=two.test n=2")) == 2, out
    assert sorted(l.split(" ")[-1] for l in lines if l.startswith("txt ")) == \
        ["first", "first", "second", "second"], out
    assert lines[-1] == "done"
    assert txt_ns.output.count("query[TXT] two.test from 127.0.0.1") == 1


def test_cache_ttl_expiry(dnsmasq):
    """Records with TTL 1: a lookup 2.2 s later finds the entry expired and
    asks again; TTL 0 is never kept."""
    one_s = dnsmasq("--local=/test/", "--local-ttl=1", "--txt-record=short.test,brief",
                    "--host-record=2.0.0.127.bl.test,127.0.0.2")
    answers, errors, out = run("--server", one_s.server, "--cache", "10", "--repeat", "2",
                               "--interval-ms", "2200", "txt", "short.test",
                               "a", "2.0.0.127.bl.test")
    assert [a.status for a in answers] == ["ok"] * 4, out
    assert queries(one_s, "TXT", "short.test") == 2
    assert queries(one_s, "A", "2.0.0.127.bl.test") == 2
    zero = dnsmasq("--local=/test/", "--local-ttl=0", "--txt-record=zero.test,never kept")
    answers, errors, out = run("--server", zero.server, "--cache", "10", "--repeat", "3",
                               "txt", "zero.test")
    assert [a.txt for a in answers] == [[(0, "never kept")]] * 3, out
    assert queries(zero, "TXT", "zero.test") == 3
    assert cache_size(out) == 0


def test_cache_negative_answers(txt_ns):
    """NXDOMAIN and NODATA are kept (5 minutes): one query each for three
    lookups, with the same status and why each time."""
    answers, errors, out = run("--server", txt_ns.server, "--cache", "10", "--repeat", "3",
                               "txt", "nosuch.test", "a", "3.0.0.127.bl.test",
                               "txt", "aonly.test")
    got = {}
    for a in answers:
        got.setdefault(a.name, []).append((a.status, a.why))
    assert got["nosuch.test"] == [("nxdomain", "Host or domain name not found")] * 3, out
    assert got["3.0.0.127.bl.test"] == [("nxdomain", "Host or domain name not found")] * 3
    assert got["aonly.test"] == [("nodata", "no TXT record")] * 3
    assert queries(txt_ns, "TXT", "nosuch.test") == 1
    assert queries(txt_ns, "A", "3.0.0.127.bl.test") == 1
    assert queries(txt_ns, "TXT", "aonly.test") == 1


def test_cache_tempfail_not_kept(txt_ns):
    """A refused name (outside .test) is asked every time; so is a server
    that is not there (connection refused)."""
    answers, errors, out = run("--server", txt_ns.server, "--cache", "10", "--repeat", "3",
                               "txt", "example.org", "a", "2.0.0.127.bl.example.org")
    assert [a.status for a in answers] == ["tempfail"] * 6, out
    assert queries(txt_ns, "TXT", "example.org") == 3
    assert queries(txt_ns, "A", "2.0.0.127.bl.example.org") == 3
    assert cache_size(out) == 0
    port = free_udp_tcp_port()
    answers, errors, out = run("--server", f"127.0.0.1:{port}", "--cache", "10", "--repeat", "2",
                               "txt", "a.test")
    assert [(a.status, a.why) for a in answers] == \
        [("tempfail", f"connection refused by 127.0.0.1:{port}")] * 2, out
    assert cache_size(out) == 0


def test_cache_bounded(txt_ns):
    """A cache of 2 entries asked 4 names keeps 2 (the least recently used
    go): asking the first name again is a query again."""
    names = ["one.test", "two.test", "split.test", "_dmarc.under.test"]
    args = [x for n in names for x in ("txt", n)]
    answers, errors, out = run("--server", txt_ns.server, "--cache", "2", *args)
    assert [a.status for a in answers] == ["ok"] * 4, out
    assert cache_size(out) == 2


def test_cache_pending_answer_cancelled_by_free(txt_ns):
    """dns_free() right after a lookup that the cache answers (its callback
    not yet run): the callback runs once, with DNS_CANCELLED, and nothing
    leaks (ASan)."""
    answers, errors, out = run("--server", txt_ns.server, "--cache", "10", "--repeat", "2",
                               "--free-after", "2", "txt", "one.test")
    assert [(a.status, a.why) for a in answers] == [("ok", None), ("cancelled", "cancelled")], out
    assert queries(txt_ns, "TXT", "one.test") == 1
