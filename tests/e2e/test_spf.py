# SPDX-License-Identifier: MIT
"""SPF (src/mailauth) against an independent implementation: dnsmasq serves
a table of SPF records (TXT, A/AAAA, MX, PTR), and each (client address,
MAIL FROM, HELO) is evaluated by spf_try (check_host() through src/dns and
c-ares, built with the unit tests under the sanitizers) and by pyspf
(python3-spf, its dnspython resolver pointed at the same dnsmasq); the
results must agree, and agree with the result the RFC gives. The cases are
the RFC 7208 test suite's ideas that dnsmasq can serve: every result,
include and redirect, loops, more than 10 lookups, void lookups, MX and PTR,
macros, the explanation, syntax errors, IPv6."""
import os
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, SANITIZER_MARKS
from dnsmasq import dnsmasq  # noqa: F401 (a fixture)

# pyspf calls dnspython's deprecated query().
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

spf = pytest.importorskip("spf")
dns_resolver = pytest.importorskip("dns.resolver")

SPF_TRY = Path(os.environ.get("GATE26_BIN", str(ROOT / "build-test" / "src" / "gate26"))) \
    .parent / "mailauth" / "spf_try"


@pytest.fixture(scope="module", autouse=True)
def _driver():
    if not SPF_TRY.exists():
        pytest.skip(f"{SPF_TRY} not built (needs -Dtests=enabled)")


def includes(name, n, last):
    """A chain of n ?all records included from name, then last."""
    terms = " ".join(f"include:c{i}.{name}" for i in range(n))
    rows = [f"--txt-record={name},v=spf1 {terms} include:{last} -all"]
    rows += [f"--txt-record=c{i}.{name},v=spf1 ?all" for i in range(n)]
    return rows


RECORDS = [
    "--txt-record=pass.test,v=spf1 ip4:192.0.2.0/24 -all",
    "--txt-record=softfail.test,v=spf1 ~all",
    "--txt-record=neutral.test,v=spf1 ?all",
    "--txt-record=default.test,v=spf1 ip4:198.51.100.1",
    "--txt-record=other.test,hello world",
    "--txt-record=two.test,v=spf1 -all",
    "--txt-record=two.test,v=spf1 +all",
    "--txt-record=upper.test,V=SPF1 IP4:192.0.2.1 -ALL",
    # One record of two strings, joined with nothing between (RFC 7208 3.3).
    "--txt-record=split.test,v=spf1 ip4:192.0.2.1, -all",
    # a, with cidr, and its IPv6 form.
    "--txt-record=a.test,v=spf1 a -all",
    "--host-record=a.test,192.0.2.10",
    "--txt-record=acidr.test,v=spf1 a:host.acidr.test/24 -all",
    "--host-record=host.acidr.test,198.51.100.9",
    "--txt-record=a6.test,v=spf1 a//64 -all",
    "--host-record=a6.test,2001:db8:6::5",
    # mx.
    "--txt-record=mx.test,v=spf1 mx -all",
    "--mx-host=mx.test,m1.mx.test,10",
    "--mx-host=mx.test,m2.mx.test,20",
    "--host-record=m1.mx.test,192.0.2.21",
    "--host-record=m2.mx.test,192.0.2.22",
    "--txt-record=mx11.test,v=spf1 mx -all",
    *[f"--mx-host=mx11.test,h{i}.mx11.test,{i}" for i in range(11)],
    # ptr: host-record gives the PTR record too.
    "--txt-record=ptr.test,v=spf1 ptr -all",
    "--host-record=mail.ptr.test,192.0.2.30",
    "--ptr-record=31.2.0.192.in-addr.arpa,fake.ptr.test",
    # exists and macros.
    "--txt-record=exists.test,v=spf1 exists:%{i}.bl.exists.test -all",
    "--host-record=192.0.2.40.bl.exists.test,127.0.0.2",
    "--txt-record=mac.test,v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all",
    "--host-record=50.2.0.192.in-addr._spf.mac.test,127.0.0.2",
    "--txt-record=lp.test,v=spf1 exists:%{l1r-}.lp.%{d} -all",
    "--host-record=strong.lp.lp.test,127.0.0.2",
    "--txt-record=user.test,v=spf1 include:%{l}.users.user.test -all",
    "--txt-record=alice.users.user.test,v=spf1 ip4:192.0.2.60",
    "--txt-record=pmac.test,v=spf1 exists:%{p}.ok.pmac.test -all",
    "--host-record=mail.ptr.test.ok.pmac.test,127.0.0.2",
    "--txt-record=badmac.test,v=spf1 exists:%{c}.x.test -all",
    "--txt-record=badmac2.test,v=spf1 a:%{d0}.x.test -all",
    # include and redirect.
    "--txt-record=inc.test,v=spf1 include:pass.test -all",
    "--txt-record=incnone.test,v=spf1 include:nothing.test -all",
    "--txt-record=incnone2.test,v=spf1 include:other.test -all",
    "--txt-record=inctemp.test,v=spf1 include:outside.example -all",
    "--txt-record=incfail.test,v=spf1 include:softfail.test ?all",
    "--txt-record=redir.test,v=spf1 ip4:198.51.100.7 redirect=pass.test",
    "--txt-record=redirnone.test,v=spf1 redirect=nothing.test",
    "--txt-record=redirall.test,v=spf1 ?all redirect=pass.test",
    # Loops and limits.
    "--txt-record=loop.test,v=spf1 include:loop2.test -all",
    "--txt-record=loop2.test,v=spf1 include:loop.test -all",
    "--txt-record=rloop.test,v=spf1 redirect=rloop2.test",
    "--txt-record=rloop2.test,v=spf1 redirect=rloop.test",
    *includes("ten.test", 9, "pass.test"),
    *includes("eleven.test", 10, "pass.test"),
    "--txt-record=void2.test,v=spf1 a:n1.void2.test a:n2.void2.test ip4:192.0.2.1 -all",
    "--txt-record=void3.test,v=spf1 a:n1.void3.test a:n2.void3.test a:n3.void3.test "
    "ip4:192.0.2.1 -all",
    "--txt-record=voidmx.test,v=spf1 mx:n1.voidmx.test exists:n2.voidmx.test "
    "a:n3.voidmx.test ip4:192.0.2.1 -all",
    # Syntax errors, even after a mechanism that would match.
    "--txt-record=syn1.test,v=spf1 ip4:192.0.2.1 foo -all",
    "--txt-record=syn2.test,v=spf1 ip4:192.0.2.1/33 -all",
    "--txt-record=syn3.test,v=spf1 a:foo -all",
    "--txt-record=syn4.test,v=spf1 redirect=a.test redirect=b.test",
    "--txt-record=syn5.test,v=spf1 -all:foo",
    "--txt-record=syn6.test,v=spf1 exists:%{x}.test -all",
    "--txt-record=syn7.test,v=spf1 ip4:01.2.3.4 -all",
    "--txt-record=inccidr.test,v=spf1 include:pass.test/24 -all",
    "--txt-record=trail.test,v=spf1 -all .",
    "--txt-record=emptyexp.test,v=spf1 ip4:192.0.2.1 exp= -all",
    "--txt-record=qualmod.test,v=spf1 -redirect=pass.test",
    "--txt-record=mxnone.test,v=spf1 mx:nomx.mxnone.test -all",
    "--host-record=nomx.mxnone.test,192.0.2.1",
    "--txt-record=mxnoaddr.test,v=spf1 mx -all",
    "--mx-host=mxnoaddr.test,noaddr.mxnoaddr.test,10",
    "--txt-record=upmech.test,v=spf1 MX:mx.test Ip4:192.0.2.80 -ALL",
    "--txt-record=selfmac.test,v=spf1 include:%{d} -all",
    "--txt-record=withother.test,some verification token",
    "--txt-record=withother.test,v=spf1 ip4:192.0.2.1 -all",
    "--txt-record=a10.test,v=spf1 " + "a:m1.mx.test " * 10 + "ip4:192.0.2.1 -all",
    "--txt-record=a11.test,v=spf1 " + "a:m1.mx.test " * 11 + "ip4:192.0.2.1 -all",
    "--txt-record=redir11.test,v=spf1 " + "a:m1.mx.test " * 10 + "redirect=pass.test",
    "--txt-record=unknownmod.test,v=spf1 foo=bar ip4:192.0.2.1 -all",
    # IPv6.
    "--txt-record=v6.test,v=spf1 ip6:2001:db8::/32 ip4:192.0.2.1 -all",
    # The explanation.
    "--txt-record=exp.test,v=spf1 -all exp=why.exp.test",
    "--txt-record=why.exp.test,%{i} may not send for %{d} (%{l})",
    # HELO and <>.
    "--txt-record=helo.test,v=spf1 a -all",
    "--host-record=helo.test,192.0.2.70",
]

# (client, sender, helo, result both must give, mechanism spf_try reports or None)
CASES = [
    ("192.0.2.1", "a@pass.test", "h.test", "pass", "ip4:192.0.2.0/24"),
    ("198.51.100.1", "a@pass.test", "h.test", "fail", "-all"),
    ("192.0.2.1", "a@softfail.test", "h.test", "softfail", "~all"),
    ("192.0.2.1", "a@neutral.test", "h.test", "neutral", "?all"),
    ("192.0.2.1", "a@default.test", "h.test", "neutral", ""),
    ("192.0.2.1", "a@nothing.test", "h.test", "none", ""),
    ("192.0.2.1", "a@other.test", "h.test", "none", ""),
    ("192.0.2.1", "a@two.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@upper.test", "h.test", "pass", "IP4:192.0.2.1"),
    ("192.0.2.1", "a@split.test", "h.test", "pass", "ip4:192.0.2.1"),
    ("192.0.2.2", "a@split.test", "h.test", "fail", "-all"),
    ("192.0.2.10", "a@a.test", "h.test", "pass", "a"),
    ("192.0.2.11", "a@a.test", "h.test", "fail", "-all"),
    ("198.51.100.200", "a@acidr.test", "h.test", "pass", "a:host.acidr.test/24"),
    ("198.51.101.1", "a@acidr.test", "h.test", "fail", "-all"),
    ("2001:db8:6::77", "a@a6.test", "h.test", "pass", "a//64"),
    ("2001:db8:7::5", "a@a6.test", "h.test", "fail", "-all"),
    ("192.0.2.22", "a@mx.test", "h.test", "pass", "mx"),
    ("192.0.2.23", "a@mx.test", "h.test", "fail", "-all"),
    ("192.0.2.1", "a@mx11.test", "h.test", "permerror", ""),
    ("192.0.2.30", "a@ptr.test", "h.test", "pass", "ptr"),
    # A PTR name whose address is not the client's is not validated.
    ("192.0.2.31", "a@ptr.test", "h.test", "fail", "-all"),
    ("192.0.2.40", "a@exists.test", "h.test", "pass", "exists:%{i}.bl.exists.test"),
    ("192.0.2.41", "a@exists.test", "h.test", "fail", "-all"),
    ("192.0.2.50", "a@mac.test", "h.test", "pass", "exists:%{ir}.%{v}._spf.%{d2}"),
    ("192.0.2.51", "a@mac.test", "h.test", "fail", "-all"),
    ("192.0.2.1", "strong-bad@lp.test", "h.test", "pass", "exists:%{l1r-}.lp.%{d}"),
    ("192.0.2.1", "weak-bad@lp.test", "h.test", "fail", "-all"),
    ("192.0.2.60", "alice@user.test", "h.test", "pass", "include:%{l}.users.user.test"),
    ("192.0.2.60", "bob@user.test", "h.test", "permerror", ""),
    # p: the client's validated name (RFC 7208 7.3), "unknown" without one.
    ("192.0.2.30", "a@pmac.test", "h.test", "pass", "exists:%{p}.ok.pmac.test"),
    ("192.0.2.31", "a@pmac.test", "h.test", "fail", "-all"),
    ("192.0.2.1", "a@badmac.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@inc.test", "h.test", "pass", "include:pass.test"),
    ("198.51.100.1", "a@inc.test", "h.test", "fail", "-all"),
    ("192.0.2.1", "a@incnone.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@incnone2.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@inctemp.test", "h.test", "temperror", ""),
    ("192.0.2.1", "a@incfail.test", "h.test", "neutral", "?all"),
    ("192.0.2.1", "a@redir.test", "h.test", "pass", "ip4:192.0.2.0/24"),
    ("198.51.100.7", "a@redir.test", "h.test", "pass", "ip4:198.51.100.7"),
    ("198.51.100.8", "a@redir.test", "h.test", "fail", "-all"),
    ("192.0.2.1", "a@redirnone.test", "h.test", "permerror", ""),
    ("198.51.100.1", "a@redirall.test", "h.test", "neutral", "?all"),
    ("192.0.2.1", "a@loop.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@rloop.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@ten.test", "h.test", "pass", "include:pass.test"),
    ("192.0.2.1", "a@eleven.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@void2.test", "h.test", "pass", "ip4:192.0.2.1"),
    ("192.0.2.1", "a@void3.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@voidmx.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@syn1.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@syn2.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@syn3.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@syn4.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@syn5.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@syn6.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@syn7.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@unknownmod.test", "h.test", "pass", "ip4:192.0.2.1"),
    # The limit counts a and redirect too; the 11th is a permerror.
    ("192.0.2.1", "a@a10.test", "h.test", "pass", "ip4:192.0.2.1"),
    ("192.0.2.1", "a@a11.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@redir11.test", "h.test", "permerror", ""),
    # A resolver that refuses: temperror at the top and through an include.
    ("192.0.2.1", "a@outside.example", "h.test", "temperror", ""),
    ("192.0.2.1", "a@inccidr.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@trail.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@emptyexp.test", "h.test", "permerror", ""),
    ("192.0.2.1", "a@qualmod.test", "h.test", "permerror", ""),
    # A name with an A record and no MX: a void lookup, no match.
    ("192.0.2.1", "a@mxnone.test", "h.test", "fail", "-all"),
    ("192.0.2.1", "a@mxnoaddr.test", "h.test", "fail", "-all"),
    ("192.0.2.21", "a@upmech.test", "h.test", "pass", "MX:mx.test"),
    ("192.0.2.80", "a@upmech.test", "h.test", "pass", "Ip4:192.0.2.80"),
    ("192.0.2.1", "a@selfmac.test", "h.test", "permerror", ""),
    # Other TXT records beside the SPF one are not SPF records.
    ("192.0.2.1", "a@withother.test", "h.test", "pass", "ip4:192.0.2.1"),
    # The client's family decides: an IPv6 client never matches ip4.
    ("2001:db8::1", "a@pass.test", "h.test", "fail", "-all"),
    ("2001:db8::1", "a@v6.test", "h.test", "pass", "ip6:2001:db8::/32"),
    ("2001:db9::1", "a@v6.test", "h.test", "fail", "-all"),
    ("::ffff:192.0.2.1", "a@v6.test", "h.test", "pass", "ip4:192.0.2.1"),
    ("192.0.2.9", "joe@exp.test", "h.test", "fail", "-all"),
    # <>: postmaster@HELO (RFC 7208 2.4).
    ("192.0.2.70", "", "helo.test", "pass", "a"),
    ("192.0.2.71", "", "helo.test", "fail", "-all"),
]


@pytest.fixture(scope="module")
def zone(tmp_path_factory):
    from dnsmasq import Dnsmasq
    d = Dnsmasq(tmp_path_factory.mktemp("spf") / "dnsmasq.log",
                ["--local=/test/", "--local=/2.0.192.in-addr.arpa/", *RECORDS])
    d.start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def pyspf_resolver(zone):
    """pyspf asks dnspython's default resolver: point it at dnsmasq."""
    saved = dns_resolver.default_resolver
    r = dns_resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = zone.port
    r.lifetime = 5
    dns_resolver.default_resolver = r
    yield r
    dns_resolver.default_resolver = saved


def spf_try(*args, timeout=30):
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    p = subprocess.run([str(SPF_TRY), *args], capture_output=True, text=True, timeout=timeout,
                       env=env)
    for mark in SANITIZER_MARKS:
        assert mark not in p.stderr, f"sanitizer report:\n{p.stderr[-5000:]}"
    assert p.returncode == 0, f"spf_try exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
    lines = p.stdout.splitlines()
    assert lines and lines[-1] == "done", p.stdout
    out = {}
    for line in lines[:-1]:
        if line.startswith("lookups="):
            for f in line.split(" "):
                k, v = f.split("=", 1)
                out[k] = int(v)
        elif "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
        else:
            out[line] = True
    return out


def ours(zone, ip, sender, helo):
    return spf_try("--server", zone.server, "--receiver", "mx.gate26.test", ip, sender, helo)


@pytest.mark.parametrize("ip,sender,helo,want,mech", CASES,
                         ids=[f"{c[1] or '<>'}-{c[0]}" for c in CASES])
def test_agrees_with_pyspf(zone, pyspf_resolver, ip, sender, helo, want, mech):
    got = ours(zone, ip, sender, helo)
    theirs = spf.check2(i=ip, s=sender, h=helo, receiver="mx.gate26.test", querytime=20)[0]
    assert (got["result"], theirs) == (want, want), got
    if mech is not None:
        assert got["mechanism"] == mech, got
    if want in ("none", "permerror", "temperror"):
        assert got["reason"], got


def test_zero_transformer(zone, pyspf_resolver):
    """RFC 7208 7.1: a DIGIT transformer MUST be nonzero, so %{d0} is a
    syntax error (permerror). pyspf 2.0.14 differs here: it slices with
    the 0 and goes on (fail), so this case is ours alone."""
    got = ours(zone, "192.0.2.1", "a@badmac2.test", "h.test")
    assert (got["result"], got["reason"]) == ("permerror", "badmac2.test: macro transformer 0")
    theirs = spf.check2(i="192.0.2.1", s="a@badmac2.test", h="h.test", querytime=20)[0]
    assert theirs == "fail"


def test_limits_named(zone):
    """The reason of each limit's permerror, and the counts behind it."""
    got = ours(zone, "192.0.2.1", "a@eleven.test", "h.test")
    assert (got["result"], got["reason"], got["lookups"]) == \
        ("permerror", "more than 10 DNS lookups", 11)
    got = ours(zone, "192.0.2.1", "a@loop.test", "h.test")
    assert (got["result"], got["reason"]) == ("permerror", "more than 10 DNS lookups")
    got = ours(zone, "192.0.2.1", "a@void3.test", "h.test")
    assert (got["result"], got["reason"], got["voids"]) == \
        ("permerror", "more than 2 void lookups", 3)
    got = ours(zone, "192.0.2.1", "a@void2.test", "h.test")
    assert (got["result"], got["voids"]) == ("pass", 2)
    got = ours(zone, "192.0.2.1", "a@mx11.test", "h.test")
    assert (got["result"], got["reason"]) == ("permerror", "more than 10 MX names")
    # One PTR name, looked up once (c-ares repeats it among the aliases):
    # its NXDOMAIN and the exists are the two void lookups.
    got = ours(zone, "192.0.2.31", "a@pmac.test", "h.test")
    assert (got["result"], got["voids"]) == ("fail", 2)
    got = ours(zone, "192.0.2.1", "a@two.test", "h.test")
    assert (got["result"], got["reason"]) == ("permerror", "more than one v=spf1 record")


def test_explanation_agrees(zone, pyspf_resolver):
    """exp= of a fail: one TXT lookup, macro-expanded, as pyspf gives it."""
    got = ours(zone, "192.0.2.9", "joe@exp.test", "h.test")
    q = spf.query(i="192.0.2.9", s="joe@exp.test", h="h.test", querytime=20)
    result, _, text = q.check()
    assert result == "fail"
    assert got["exp"] == "192.0.2.9 may not send for exp.test (joe)"
    assert text == got["exp"]


def test_free_while_waiting():
    """The evaluation freed while its lookup waits on a silent server: the
    answer (cancelled at dns_free) reaches only the cut ticket."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        port = sink.getsockname()[1]
        got = spf_try("--server", f"127.0.0.1:{port}", "--timeout-ms", "2000",
                      "--free-after-ms", "100", "192.0.2.1", "a@slow.test", "h.test")
    assert got.get("freed") is True and "result" not in got, got


def test_silent_server_is_temperror():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        port = sink.getsockname()[1]
        got = spf_try("--server", f"127.0.0.1:{port}", "--timeout-ms", "100",
                      "192.0.2.1", "a@slow.test", "h.test")
    assert got["result"] == "temperror", got


@pytest.mark.parametrize("sender", ["a@localhost", "a@a..test", "a@" + "x" * 64 + ".test"])
def test_not_a_domain_is_none(zone, pyspf_resolver, sender):
    """RFC 7208 4.3: a domain that is not a name is none, without a lookup."""
    got = ours(zone, "192.0.2.1", sender, "h.test")
    assert got["result"] == "none", got
