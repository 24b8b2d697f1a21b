# SPDX-License-Identifier: MIT
"""DMARC policy discovery (src/mailauth/dmarc.c) against a real DNS server:
the dmarc_try driver (built with the unit tests, under the sanitizers)
evaluates a From domain through src/dns's dns_txt() (mailauth/dmarc_dns.c) against dnsmasq serving
_dmarc TXT records, and prints the result as one line:

    status=fail policy=reject published=reject via=none sampled_out=0
    from=example.test policy_domain=example.test reason="..."

Usage of the driver (its contract with this file):

    dmarc_try --server ADDR:PORT [--timeout-ms N] [--spf DOMAIN]
              [--dkim DOMAIN]... [--sample N] (--from-header VALUE | DOMAIN)

--spf names a domain with SPF pass, --dkim the d= of a passing signature,
--sample fixes the pct draw (0..99); --from-header takes the domain from a
From field value first (printing "from_error=NAME" when there is none).
The tests check the policy of the From domain, the organizational domain's
sp= for a subdomain (and the queries dnsmasq saw, in order), alignment,
several records, junk tags, a record split into several strings, long
records (over TCP; one past the parser's 4096-octet cap), and a
server that does not answer (temperror). Every run must exit 0 with
nothing from the sanitizers on stderr."""
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, SANITIZER_MARKS
from dnsmasq import dnsmasq, free_udp_tcp_port  # noqa: F401 (dnsmasq is a fixture)

DMARC_TRY = Path(os.environ.get("GATE26_BIN", str(ROOT / "build-test" / "src" / "gate26"))) \
    .parent / "mailauth" / "dmarc_try"


@pytest.fixture(scope="module", autouse=True)
def _driver():
    if not DMARC_TRY.exists():
        pytest.skip(f"{DMARC_TRY} not built (needs -Dtests=enabled)")


def run(server, *args, timeout=30):
    """Runs dmarc_try; checks exit 0 and clean stderr; returns the fields of its line."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    p = subprocess.run([str(DMARC_TRY), "--server", server, *args], capture_output=True,
                       text=True, timeout=timeout, env=env)
    for mark in SANITIZER_MARKS:
        assert mark not in p.stderr, f"sanitizer report:\n{p.stderr[-5000:]}"
    assert p.returncode == 0, f"dmarc_try exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
    assert p.stderr == "", p.stderr
    line = p.stdout.strip()
    assert "\n" not in line, p.stdout
    fields = dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', line))
    return fields


def _strings(text):
    """text as 250-octet character-strings, as dnsmasq's --txt-record takes them."""
    return ",".join(text[i:i + 250] for i in range(0, len(text), 250))


RECORDS = [
    '--txt-record=_dmarc.example.test,v=DMARC1; p=reject; sp=quarantine',
    '--txt-record=_dmarc.nosp.test,v=DMARC1; p=reject',
    '--txt-record=_dmarc.strict.test,v=DMARC1; p=reject; adkim=s; aspf=s',
    '--txt-record=_dmarc.junk.test,v=DMARC1; p=reject; pct=200',
    '--txt-record=_dmarc.unknown.test,v=DMARC1; p=quarantine; future=yes',
    '--txt-record=_dmarc.two.test,v=DMARC1; p=reject',
    '--txt-record=_dmarc.two.test,v=DMARC1; p=none',
    '--txt-record=_dmarc.other.test,v=spf1 -all',
    '--txt-record=_dmarc.half.test,v=DMARC1; p=reject; pct=50',
    # dnsmasq takes the text as given (no quotes: they would be part of it); a
    # comma starts another character-string of the same record, and they are
    # joined (RFC 7489 6.1 through RFC 7208 3.3).
    '--txt-record=_dmarc.split.test,v=DMARC1; p=rej,ect; rua=mailto:d@split.test',
    # Quotes on dnsmasq's command line are part of the text: not a DMARC record.
    '--txt-record=_dmarc.quoted.test,"v=DMARC1; p=reject"',
    # Long records in 250-octet strings, over TCP: one under the parser's cap, one over.
    "--txt-record=_dmarc.long.test," + _strings("v=DMARC1; p=reject; x=" + "a" * 3000),
    "--txt-record=_dmarc.huge.test," + _strings("v=DMARC1; p=reject; x=" + "a" * 4100),
    "--local=/test/",
]


@pytest.fixture
def ns(dnsmasq):
    return dnsmasq(*RECORDS)


def test_policy_of_the_from_domain(ns):
    f = run(ns.server, "example.test")
    assert (f["status"], f["policy"], f["published"], f["via"]) == \
        ("fail", "reject", "reject", "none")
    assert f["policy_domain"] == "example.test"


def test_subdomain_gets_sp_of_the_organizational_domain(ns):
    f = run(ns.server, "sub.example.test")
    assert (f["status"], f["policy"], f["policy_domain"]) == ("fail", "quarantine", "example.test")
    log = ns.log()
    first = log.index("query[TXT] _dmarc.sub.example.test")
    assert log.index("query[TXT] _dmarc.example.test", first) > first


def test_subdomain_without_sp_gets_p(ns):
    f = run(ns.server, "a.b.nosp.test")
    assert (f["status"], f["policy"], f["policy_domain"]) == ("fail", "reject", "nosp.test")


@pytest.mark.parametrize("args,via", [
    (["--spf", "bounce.example.test"], "spf"),
    (["--dkim", "example.test"], "dkim"),
    (["--dkim", "other.test", "--dkim", "mail.example.test"], "dkim"),
])
def test_relaxed_alignment_passes(ns, args, via):
    f = run(ns.server, *args, "example.test")
    assert (f["status"], f["policy"], f["via"]) == ("pass", "none", via)


@pytest.mark.parametrize("args,status", [
    (["--spf", "mail.strict.test", "--dkim", "mail.strict.test"], "fail"),
    (["--spf", "strict.test"], "pass"),
    (["--dkim", "STRICT.test"], "pass"),
])
def test_strict_alignment(ns, args, status):
    f = run(ns.server, *args, "strict.test")
    assert f["status"] == status


def test_unaligned_pass_fails(ns):
    f = run(ns.server, "--spf", "example.net", "--dkim", "example.net", "example.test")
    assert (f["status"], f["policy"]) == ("fail", "reject")


def test_junk_tag_is_permerror(ns):
    f = run(ns.server, "junk.test")
    assert (f["status"], f["policy"]) == ("permerror", "none")
    assert "pct" in f["reason"]


def test_unknown_tag_ignored(ns):
    f = run(ns.server, "unknown.test")
    assert (f["status"], f["policy"]) == ("fail", "quarantine")


def test_two_records_is_none(ns):
    f = run(ns.server, "two.test")
    assert (f["status"], f["policy"]) == ("none", "none")


@pytest.mark.parametrize("domain", ["other.test", "nothing.test", "x.nothing.test",
                                    "quoted.test"])
def test_no_record_is_none(ns, domain):
    f = run(ns.server, domain)
    assert (f["status"], f["policy"], f["policy_domain"]) == ("none", "none", "")


def test_long_records(ns):
    f = run(ns.server, "long.test")
    assert (f["status"], f["policy"]) == ("fail", "reject")
    f = run(ns.server, "huge.test")
    assert (f["status"], f["policy"]) == ("permerror", "none")
    assert "too long" in f["reason"]


def test_record_in_two_strings(ns):
    f = run(ns.server, "split.test")
    assert (f["status"], f["policy"]) == ("fail", "reject")


@pytest.mark.parametrize("sample,policy", [("0", "reject"), ("49", "reject"),
                                           ("50", "quarantine"), ("99", "quarantine")])
def test_pct(ns, sample, policy):
    f = run(ns.server, "--sample", sample, "half.test")
    assert (f["status"], f["policy"]) == ("fail", policy)
    assert f["sampled_out"] == ("1" if policy == "quarantine" else "0")


def test_from_header(ns):
    f = run(ns.server, "--from-header", '"Joe" <joe@Sub.Example.TEST>', "--spf", "example.test")
    assert (f["status"], f["via"], f["from"]) == ("pass", "spf", "sub.example.test")
    f = run(ns.server, "--from-header", "a@example.test, b@example.test")
    assert f["from_error"] == "multiple"
    f = run(ns.server, "--from-header", "Undisclosed:;")
    assert f["from_error"] == "multiple"


def test_server_that_does_not_answer_is_temperror():
    port = free_udp_tcp_port()  # nobody listens: each try times out or is refused
    f = run(f"127.0.0.1:{port}", "--timeout-ms", "300", "example.test")
    assert (f["status"], f["policy"]) == ("temperror", "none")
