# SPDX-License-Identifier: MIT
"""SPF, DKIM, DMARC and Authentication-Results through the daemon (issue 14,
docs/checks.md; the replies and headers of the lead's contract): dnsmasq
serves the zone, mail arrives on the inbound door from 127.0.0.1 and is
relayed to a sink (aiosmtpd), whose copy is what the tests read. dkimpy
(python3-dkim) is the independent oracle: it verifies what gate26 signs and
signs what gate26 verifies. Also the checks="..." log field, the metrics by
check and result, and configtest on a missing or unreadable dkim key."""
import re
import subprocess

import dkim
import pytest

from checkers import (HOSTNAME, Zone, auth_result, checks_block, checks_field, dkim_block,
                      dkim_dnsfunc, dkimpy_sign, dkimpy_verify_all, header_fields,
                      header_values, keygen, message, metric, metrics_block, our_auth_results,
                      quarantine_files, scrape, sink, start_checks_gateway,  # noqa: F401
                      transact, wait_delivered, wait_log)
from conftest import BIN, GATE26_USER, free_port, wait_for
from dnsmasq import dnsmasq  # noqa: F401 (a fixture)

CLIENT = "127.0.0.1"
RCPT = "bob@ours.test"
INBOUND_AUTH = checks_block("inbound", "spf on", "dkim verify", "dmarc enforce")
HEADERS = [b"from", b"to", b"subject", b"date", b"message-id"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Keys dkimpy signs with (made by gate26 dkim keygen): rsa and ed25519 of
    dkim.test, rsa of dmarc-dkim.test; and a 512-bit RSA key."""
    d = tmp_path_factory.mktemp("dkimkeys")
    out = {"rsa": keygen(d, "dkim.test", "rsa"),
           "ed": keygen(d, "dkim.test", "ed", ed25519=True),
           "dmarc": keygen(d, "dmarc-dkim.test", "sel")}
    small = d / "small.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(small), "512"], check=True,
                   capture_output=True, timeout=60)
    der = subprocess.run(["openssl", "rsa", "-in", str(small), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True, timeout=60).stdout
    import base64
    from checkers import DkimKey
    out["small"] = DkimKey("dkim.test", "small", small,
                           "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode(),
                           small.read_bytes(), b"rsa-sha256")
    return out


def zone(keys):
    z = (Zone()
         .spf("spf-pass.test", "v=spf1 ip4:127.0.0.0/8 -all")
         .spf("mx.spf-pass.test", "v=spf1 ip4:127.0.0.0/8 -all")
         .spf("spf-fail.test", "v=spf1 -all")
         .spf("spf-exp.test", "v=spf1 -all exp=why.spf-exp.test")
         .txt("why.spf-exp.test", "%{i} may not send mail for %{d}")
         .spf("spf-soft.test", "v=spf1 ~all")
         .spf("spf-neutral.test", "v=spf1 ?all")
         .spf("spf-perm.test", "v=spf1 ip4:127.0.0.1/33 -all")
         .spf("spf-loop.test", "v=spf1 include:spf-loop2.test -all")
         .spf("spf-loop2.test", "v=spf1 include:spf-loop.test -all")
         .spf("spf-many.test", "v=spf1 " + " ".join(f"a:n{i}.spf-many.test" for i in range(11))
              + " -all")
         .spf("spf-void.test", "v=spf1 a:v1.spf-void.test a:v2.spf-void.test "
              "a:v3.spf-void.test ip4:127.0.0.1 -all")
         .spf("spf-macro.test", "v=spf1 exists:%{x}.spf-macro.test -all")
         .dmarc("dmarc-reject.test", "v=DMARC1; p=reject")
         .dmarc("dmarc-quar.test", "v=DMARC1; p=quarantine")
         .dmarc("dmarc-none.test", "v=DMARC1; p=none")
         .dmarc("dmarc-junk.test", "v=DMARC1; p=reject; foo=bar; pct=200")
         .spf("bounce.dmarc-align.test", "v=spf1 ip4:127.0.0.0/8 -all")
         .dmarc("dmarc-align.test", "v=DMARC1; p=reject")
         .spf("bounce.dmarc-strict.test", "v=spf1 ip4:127.0.0.0/8 -all")
         .dmarc("dmarc-strict.test", "v=DMARC1; p=reject; aspf=s")
         .dmarc("dmarc-dkim.test", "v=DMARC1; p=reject; adkim=r")
         .dkim_key("dmarc-dkim.test", "sel", keys["dmarc"].record))
    for i in range(11):
        z.a(f"n{i}.spf-many.test", "192.0.2.1")
    for k in ("rsa", "ed", "small"):
        z.dkim_key("dkim.test", keys[k].selector, keys[k].record)
    return z


@pytest.fixture
def auth(gateway, dnsmasq, sink, keys):  # noqa: F811
    """(gateway, dns, sink): inbound with spf on, dkim verify, dmarc enforce."""
    dns = zone(keys).start(dnsmasq)
    g = start_checks_gateway(gateway, dns, sink, INBOUND_AUTH)
    return g, dns, sink


def delivered(sink, t, n=1):
    assert t.end is not None and t.end[0] == 250, t
    t.queue_id
    return wait_delivered(sink, n)[n - 1].data


# ---- SPF ----

@pytest.mark.parametrize("sender,helo,result,prop", [
    ("alice@spf-pass.test", "mx.sender.test", "pass", ("smtp.mailfrom", "alice@spf-pass.test")),
    ("alice@spf-soft.test", "mx.sender.test", "softfail",
     ("smtp.mailfrom", "alice@spf-soft.test")),
    ("alice@spf-neutral.test", "mx.sender.test", "neutral",
     ("smtp.mailfrom", "alice@spf-neutral.test")),
    ("alice@spf-none.test", "mx.sender.test", "none", ("smtp.mailfrom", "alice@spf-none.test")),
    ("alice@spf-perm.test", "mx.sender.test", "permerror",
     ("smtp.mailfrom", "alice@spf-perm.test")),
    ("alice@spf-loop.test", "mx.sender.test", "permerror",
     ("smtp.mailfrom", "alice@spf-loop.test")),
    ("alice@spf-many.test", "mx.sender.test", "permerror",
     ("smtp.mailfrom", "alice@spf-many.test")),
    ("alice@spf-void.test", "mx.sender.test", "permerror",
     ("smtp.mailfrom", "alice@spf-void.test")),
    ("alice@spf-macro.test", "mx.sender.test", "permerror",
     ("smtp.mailfrom", "alice@spf-macro.test")),
    ("", "mx.spf-pass.test", "pass", ("smtp.helo", "mx.spf-pass.test")),
], ids=["pass", "softfail", "neutral", "none", "permerror", "include-loop", "eleven-lookups",
        "three-void-lookups", "bad-macro", "null-sender-helo"])
def test_spf_accepted_results_in_authentication_results(auth, sender, helo, result, prop):
    g, _, sink = auth
    t = transact(g, sender, [RCPT], message("carol@elsewhere.test"), helo=helo)
    assert t.rcpts[0][0] == 250, t
    data = delivered(sink, t)
    spf = auth_result(data, "spf")
    assert spf == [(result, {prop[0]: prop[1]})], spf


def test_spf_fail_refuses_each_recipient(auth):
    g, _, sink = auth
    t = transact(g, "alice@spf-fail.test", [RCPT, "carol@ours.test"], message())
    text = "5.7.23 SPF check failed: spf-fail.test does not permit [127.0.0.1] to send its mail"
    assert t.rcpts == [(550, text), (550, text)], t
    assert t.end is None
    assert sink.messages() == []


def test_spf_fail_with_explanation(auth):
    g, _, _ = auth
    t = transact(g, "alice@spf-exp.test", [RCPT], message())
    assert t.rcpts == [(550, "5.7.23 SPF check failed: spf-exp.test does not permit "
                        "[127.0.0.1] to send its mail (127.0.0.1 may not send mail for "
                        "spf-exp.test)")], t


def test_spf_temperror_is_451(auth):
    """outside.example is not ours to answer: dnsmasq refuses, a temporary error."""
    g, _, sink = auth
    t = transact(g, "alice@outside.example", [RCPT], message())
    assert t.rcpts == [(451, "4.7.24 SPF check of outside.example could not be completed, "
                        "try again later")], t
    assert sink.messages() == []


# ---- DMARC ----

def test_dmarc_reject(auth):
    g, _, sink = auth
    t = transact(g, "alice@spf-pass.test", [RCPT], message("boss@dmarc-reject.test"))
    assert t.rcpts[0][0] == 250, t
    assert t.end == (550, "5.7.1 Message rejected by the DMARC policy of dmarc-reject.test"), t
    assert sink.messages() == []
    assert g.queue_files() == []


def test_dmarc_quarantine(auth):
    g, _, sink = auth
    t = transact(g, "alice@spf-pass.test", [RCPT], message("boss@dmarc-quar.test"))
    qid = t.queue_id
    wait_log(g, f"{qid}: ")
    wait_for(lambda: any("status=quarantined" in line for line in g.log().splitlines()
                         if qid in line), 20, "the status=quarantined line")
    checks = checks_field(g, qid, "quarantined")
    assert checks["spf"] == "pass" and checks["dmarc"] == "fail", checks
    assert quarantine_files(g), "nothing in SPOOL/quarantine"
    assert qid not in g.queue_files()
    assert sink.messages() == []


@pytest.mark.parametrize("sender,from_,dmarc", [
    ("alice@spf-pass.test", "boss@dmarc-none.test", "fail"),
    ("alice@bounce.dmarc-align.test", "boss@dmarc-align.test", "pass"),
    ("alice@spf-pass.test", "boss@no-dmarc.test", "none"),
    ("alice@spf-pass.test", "boss@dmarc-junk.test", None),
], ids=["policy-none", "spf-relaxed-alignment", "no-record", "junk-tags"])
def test_dmarc_accepted_with_header(auth, sender, from_, dmarc):
    g, _, sink = auth
    t = transact(g, sender, [RCPT], message(from_))
    data = delivered(sink, t)
    got = auth_result(data, "dmarc")
    domain = from_.split("@")[1]
    if dmarc is None:
        # Unknown tags are ignored; pct=200 is outside its grammar: the record is
        # invalid (permerror, nothing applied) in docs/checks.md's DMARC section.
        assert got == [("permerror", {"header.from": domain})], got
    else:
        assert got == [(dmarc, {"header.from": domain})], got


def test_dmarc_strict_spf_alignment_fails(auth):
    g, _, _ = auth
    t = transact(g, "alice@bounce.dmarc-strict.test", [RCPT], message("boss@dmarc-strict.test"))
    assert t.end == (550, "5.7.1 Message rejected by the DMARC policy of dmarc-strict.test"), t


def test_dmarc_pass_by_aligned_dkim(auth, keys):
    g, _, sink = auth
    m = dkimpy_sign(message("boss@dmarc-dkim.test"), keys["dmarc"], HEADERS)
    t = transact(g, "alice@spf-pass.test", [RCPT], m)
    data = delivered(sink, t)
    assert auth_result(data, "dmarc") == [("pass", {"header.from": "dmarc-dkim.test"})]
    d = auth_result(data, "dkim")
    assert [(r, p["header.d"], p["header.s"]) for r, p in d] == \
        [("pass", "dmarc-dkim.test", "sel")], d


def test_dmarc_report_only_delivers(gateway, dnsmasq, sink, keys):  # noqa: F811
    dns = zone(keys).start(dnsmasq)
    g = start_checks_gateway(gateway, dns, sink,
                             checks_block("inbound", "spf on", "dkim verify", "dmarc report"))
    t = transact(g, "alice@spf-pass.test", [RCPT], message("boss@dmarc-reject.test"))
    data = delivered(sink, t)
    assert auth_result(data, "dmarc") == [("fail", {"header.from": "dmarc-reject.test"})]


# ---- Authentication-Results ----

def test_authentication_results_claiming_us_removed_others_kept(auth):
    g, _, sink = auth
    forged = (f"Authentication-Results: {HOSTNAME}; spf=pass smtp.mailfrom=boss@bank.test\r\n"
              "Authentication-Results: GATE26.Test;\r\n dkim=pass header.d=bank.test\r\n"
              "Authentication-Results: mx.other.test; dkim=pass header.d=other.test\r\n"
              ).encode()
    t = transact(g, "alice@spf-soft.test", [RCPT], message(headers=forged))
    data = delivered(sink, t)
    ours = our_auth_results(data)
    assert len(ours) == 1, ours
    assert auth_result(data, "spf") == [("softfail", {"smtp.mailfrom": "alice@spf-soft.test"})]
    assert "bank.test" not in ours[0]
    others = header_values(data, "Authentication-Results")
    assert "mx.other.test; dkim=pass header.d=other.test" in others, others
    assert len(others) == 2, others


def test_headers_added_above_received(auth):
    g, _, sink = auth
    t = transact(g, "alice@spf-pass.test", [RCPT], message())
    data = delivered(sink, t)
    names = [n.lower() for n, _ in header_fields(data)]
    assert names[:2] == ["authentication-results", "received"], names
    ar = header_fields(data)[0][1]
    assert re.match(rf"{re.escape(HOSTNAME)};", ar), ar
    # spf, dkim (none: no signature), dmarc: one each.
    assert auth_result(data, "dkim") == [("none", {})]
    assert auth_result(data, "dmarc") == [("none", {"header.from": "example.test"})]


# ---- DKIM: gate26 verifies what dkimpy signs ----

@pytest.mark.parametrize("which", ["rsa", "ed"])
def test_dkimpy_signs_gate26_verifies(auth, keys, which):
    g, _, sink = auth
    k = keys[which]
    m = dkimpy_sign(message("alice@dkim.test"), k, HEADERS)
    b = re.search(rb"\bb=([^;]+)", m.split(b"\r\n\r\n")[0].replace(b"\r\n", b"")).group(1)
    b8 = re.sub(rb"\s", b"", b)[:8].decode()
    t = transact(g, "alice@spf-pass.test", [RCPT], m)
    data = delivered(sink, t)
    got = auth_result(data, "dkim")
    assert got == [("pass", {"header.d": "dkim.test", "header.s": which, "header.b": b8})], got
    # The signature gate26 passed is still good at the sink: dkimpy agrees.
    assert dkimpy_verify_all(data, dkim_dnsfunc({f"{which}._domainkey.dkim.test": k.record})) \
        == [("dkim.test", which, k.algorithm.decode(), True)]


def test_body_changed_in_transit_fails(auth, keys):
    g, _, sink = auth
    m = dkimpy_sign(message("alice@dkim.test"), keys["rsa"], HEADERS)
    m = m.replace(b"this is the body.", b"this is the b0dy.")
    t = transact(g, "alice@spf-pass.test", [RCPT], m)
    data = delivered(sink, t)
    got = auth_result(data, "dkim")
    assert [(r, p.get("header.d"), p.get("header.s")) for r, p in got] == \
        [("fail", "dkim.test", "rsa")], got


@pytest.fixture
def many_signatures(gateway, dnsmasq, sink, keys):  # noqa: F811
    k = keys["rsa"]
    z = zone(keys)
    signed = message("alice@dkim.test")
    from checkers import DkimKey
    for i in range(100):
        sel = f"s{i}"
        z.dkim_key("dkim.test", sel, k.record)
        signed = dkimpy_sign(signed, DkimKey("dkim.test", sel, k.path, k.record, k.dkimpy,
                                             k.algorithm), HEADERS)
    dns = z.start(dnsmasq)
    g = start_checks_gateway(gateway, dns, sink, INBOUND_AUTH)
    return g, dns, signed


def test_a_hundred_dkim_signatures(many_signatures, sink):  # noqa: F811
    """100 DKIM-Signature fields, each with a selector of its own (s0..s99, all
    published): the message is taken, at most 8 are verified (at most 8 key
    lookups reach dnsmasq), and every one verified passes."""
    g, dns, signed = many_signatures
    assert signed.count(b"DKIM-Signature:") == 100
    t = transact(g, "alice@spf-pass.test", [RCPT], signed)
    data = delivered(sink, t)
    got = auth_result(data, "dkim")
    verified = [r for r, _ in got if r in ("pass", "fail")]
    assert 1 <= len(verified) <= 8 and set(verified) == {"pass"}, got
    lookups = [line for line in dns.log().splitlines()
               if "query[TXT]" in line and "._domainkey.dkim.test" in line]
    assert 1 <= len(lookups) <= 8, lookups


@pytest.mark.parametrize("case", ["bad-base64", "h-without-from", "l-beyond-body",
                                  "512-bit-key"])
def test_malformed_dkim_signatures(auth, keys, case):
    """Bad input: each malformed signature is not a pass (fail or permerror: the
    contract names no finer result), and the message is still taken."""
    g, _, sink = auth
    m = message("alice@dkim.test")
    if case == "bad-base64":
        m = dkimpy_sign(m, keys["rsa"], HEADERS)
        m = re.sub(rb"(\bb=)([A-Za-z0-9+/])", rb"\1!*\2", m, count=1)
    elif case == "h-without-from":
        # dkimpy will not sign without From: its h= loses From afterwards (RFC 6376
        # 6.1.1: the verifier ignores such a signature, PERMFAIL, before any crypto).
        m = dkimpy_sign(m, keys["rsa"], HEADERS)
        head, sep, rest = m.partition(b"\r\n\r\n")
        head = re.sub(rb"(\bh=)([^;]*)",
                      lambda mo: mo.group(1) + b":".join(
                          n for n in re.sub(rb"\s", b"", mo.group(2)).split(b":")
                          if n.lower() != b"from"), head, count=1)
        assert b"from" not in re.search(rb"\bh=([^;]*)", head).group(1).lower()
        m = head + sep + rest
    elif case == "l-beyond-body":
        m = dkimpy_sign(m, keys["rsa"], HEADERS, length=True)
        m = re.sub(rb"\bl=(\d+)", lambda mo: b"l=%d" % (int(mo.group(1)) + 1000), m, count=1)
    else:
        m = dkimpy_sign(m, keys["small"], HEADERS)
    t = transact(g, "alice@spf-pass.test", [RCPT], m)
    data = delivered(sink, t)
    got = auth_result(data, "dkim")
    assert len(got) == 1 and got[0][0] in ("fail", "permerror"), got
    assert got[0][1].get("header.d") == "dkim.test", got


# ---- DKIM: gate26 signs, dkimpy verifies ----

@pytest.fixture(scope="module")
def signing_keys(tmp_path_factory):
    from conftest import GATE26_USER as user
    d = tmp_path_factory.mktemp("signkeys")
    if user is not None:
        from checkers import reachable
        reachable(d)
    return {"rsa": keygen(d, "sign.test", "r2026", ed25519=False),
            "ed": keygen(d, "sign.test", "e2026", ed25519=True)}


@pytest.mark.parametrize("which", [("rsa",), ("ed",), ("rsa", "ed")],
                         ids=["rsa", "ed25519", "dual"])
def test_gate26_signs_dkimpy_verifies(gateway, sink, signing_keys, which):
    keys = [signing_keys[w] for w in which]
    g = start_checks_gateway(gateway, None, sink, checks_block("internal", "dkim sign"),
                             dkim_block("sign.test", *keys))
    t = transact(g, "alice@sign.test", [RCPT], message("alice@sign.test"), role="internal")
    data = delivered(sink, t)
    names = [n.lower() for n, _ in header_fields(data)]
    assert names[:len(keys) + 1] == ["dkim-signature"] * len(keys) + ["received"], names
    records = {f"{k.selector}._domainkey.sign.test": k.record for k in keys}
    got = dkimpy_verify_all(data, dkim_dnsfunc(records))
    assert sorted(got) == sorted(("sign.test", k.selector, k.algorithm.decode(), True)
                                 for k in keys), got
    for v in header_values(data, "DKIM-Signature"):
        tags = dict(re.findall(r"(\w+)=([^;]*)", v.replace(" ", "")))
        assert tags["c"] == "relaxed/relaxed", v
        assert tags["h"].lower().split(":").count("from") >= 2, v   # From oversigned
    # A body changed in transit fails dkimpy's verification.
    changed = data.replace(b"this is the body.", b"this is the b0dy.")
    assert not any(ok for *_, ok in dkimpy_verify_all(changed, dkim_dnsfunc(records)))


def test_message_without_from_is_not_signed_but_delivered(gateway, sink, signing_keys):
    g = start_checks_gateway(gateway, None, sink, checks_block("internal", "dkim sign"),
                             dkim_block("sign.test", signing_keys["rsa"]))
    m = b"To: <bob@ours.test>\r\nSubject: no From\r\nMessage-ID: <nofrom@sign.test>\r\n\r\nhi\r\n"
    t = transact(g, "alice@sign.test", [RCPT], m, role="internal")
    qid = t.queue_id
    data = wait_delivered(sink)[0].data
    assert header_values(data, "DKIM-Signature") == []
    lines = [line for line in g.log().splitlines() if qid in line]
    assert any("dkim" in line.lower() and "from" in line.lower() for line in lines), lines


def test_mail_from_a_domain_without_a_dkim_block_is_not_signed(gateway, sink, signing_keys):
    g = start_checks_gateway(gateway, None, sink, checks_block("internal", "dkim sign"),
                             dkim_block("sign.test", signing_keys["rsa"]))
    t = transact(g, "alice@other.test", [RCPT], message("alice@other.test"), role="internal")
    data = delivered(sink, t)
    assert header_values(data, "DKIM-Signature") == []


# ---- configtest: the dkim key files ----

def run_configtest(conf, as_user=False):
    cmd = [BIN, "configtest", "-c", str(conf)]
    if as_user:
        cmd = ["setpriv", f"--reuid={GATE26_USER}", f"--regid={GATE26_USER}",
               "--init-groups", *cmd]
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


def test_configtest_names_a_missing_dkim_key(gateway, tmp_path):
    g = gateway(start=False, extra=f"dkim sign.test {{\n    selector s1\n"
                                   f"    key {tmp_path}/missing.key\n}}\n")
    rc, out = run_configtest(g.conf)
    assert rc == 1, out
    lines = g.conf.read_text().splitlines()
    n = next(i for i, line in enumerate(lines, 1) if "missing.key" in line)
    assert f"{g.conf}:{n}:" in out and f"{tmp_path}/missing.key" in out, out
    assert "No such file or directory" in out, out


@pytest.mark.skipif(GATE26_USER is None, reason="needs root to make a file the user cannot read")
def test_configtest_names_an_unreadable_dkim_key(gateway, tmp_path):
    """A key root alone may read (0600): configtest run as gate26's user says so at its line."""
    key = keygen(tmp_path, "sign.test", "s1").path
    key.chmod(0o600)
    import os
    os.chown(key, 0, 0)
    g = gateway(start=False, extra=f"dkim sign.test {{\n    selector s1\n    key {key}\n}}\n")
    g.conf.chmod(0o644)
    rc, out = run_configtest(g.conf, as_user=True)
    assert rc == 1, out
    lines = g.conf.read_text().splitlines()
    n = next(i for i, line in enumerate(lines, 1) if str(key) in line)
    assert f"{g.conf}:{n}:" in out and str(key) in out and "Permission denied" in out, out


# ---- the log field and the metrics ----

def test_log_field_and_metrics_by_check_and_result(gateway, dnsmasq, sink, keys):  # noqa: F811
    dns = zone(keys).start(dnsmasq)
    mport = free_port()
    g = start_checks_gateway(gateway, dns, sink, INBOUND_AUTH, extra=metrics_block(mport))
    m = dkimpy_sign(message("boss@dmarc-dkim.test"), keys["dmarc"], HEADERS)
    t = transact(g, "alice@spf-pass.test", [RCPT], m)
    qid = t.queue_id
    wait_delivered(sink)
    checks = checks_field(g, qid, "queued")
    assert checks == {"spf": "pass", "dkim": "pass", "dmarc": "pass"}, checks
    assert list(checks) == ["spf", "dkim", "dmarc"]
    t = transact(g, "alice@spf-fail.test", [RCPT], message())
    assert t.rcpts[0][0] == 550
    t = transact(g, "alice@spf-pass.test", [RCPT], message("boss@dmarc-reject.test"))
    assert t.end[0] == 550
    s = scrape(mport)
    c = "gate26_checks_total"
    assert metric(s, c, door="inbound", check="spf", result="pass") == 2
    assert metric(s, c, door="inbound", check="spf", result="fail") == 1
    assert metric(s, c, door="inbound", check="dkim", result="pass") == 1
    assert metric(s, c, door="inbound", check="dkim", result="none") == 1
    assert metric(s, c, door="inbound", check="dmarc", result="pass") == 1
    assert metric(s, c, door="inbound", check="dmarc", result="fail") == 1
    d = "gate26_check_decisions_total"
    assert metric(s, d, door="inbound", decision="accept") == 1
    assert metric(s, d, door="inbound", decision="reject") == 1  # RCPT refusals are not decisions
