# SPDX-License-Identifier: MIT
"""DKIM (docs/checks.md): src/mailauth's signer and verifier against an
independent implementation, dkimpy (python3-dkim), through the driver
dkim_try (a message on stdin; keys for verifying from a NAME=TXT file, the
fake DNS), and gate26 dkim keygen.

gate26 signs (rsa-sha256, ed25519-sha256), dkimpy verifies; dkimpy signs
(relaxed and simple canonicalizations, with and without l=), gate26
verifies; a body changed in transit fails both ways; the RFC 8463 appendix
A message verifies; keygen's key loads and its TXT record verifies a
signature in dkimpy. Bad input: l= beyond the body, a 1024-bit signing key,
a missing key file, 100 signatures. The keys from a real DNS server
(dnsmasq) through src/dns (dkim_dns_from, `dkim_try verify-dns`): pass,
several TXT records at the key name, NXDOMAIN and NODATA (no-key), a dead
server (temperror), two signatures of the same key.
"""
import grp
import os
import re
import stat
import subprocess
from pathlib import Path

import dkim
import pytest

from conftest import BIN, SANITIZER_MARKS
from dnsmasq import dnsmasq, free_udp_tcp_port  # noqa: F401 (dnsmasq is a fixture)

DRIVER = Path(BIN).parent / "mailauth" / "dkim_try"

MESSAGE = (b"From: Joe SixPack <joe@example.com>\r\n"
           b"To: Suzie Q <suzie@example.net>\r\n"
           b"Subject: Is dinner  ready?\r\n"
           b"Date: Mon, 07 Dec 2026 02:00:00 +0000\r\n"
           b"Message-ID: <1@example.com>\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: text/plain\r\n"
           b"\r\n"
           b"Hi.\r\n"
           b"\r\n"
           b"We lost the game.  Are you hungry yet? \t\r\n"
           b"\r\n"
           b"Joe.\r\n"
           b"\r\n\r\n")


def run(args, data=b"", expect_rc=0):
    p = subprocess.run([str(a) for a in args], input=data, capture_output=True, timeout=120)
    err = p.stderr.decode(errors="replace")
    for mark in SANITIZER_MARKS:
        assert mark not in err, f"sanitizer report:\n{err[-5000:]}"
    assert p.returncode == expect_rc, f"{args} exited {p.returncode}:\n{err[-3000:]}"
    return p.stdout, err


def txt_of(keygen_out):
    """The record text of keygen's output line: its strings joined (RFC 6376 3.6.2.2)."""
    line = keygen_out.decode().strip()
    return "".join(re.findall(r'"([^"]*)"', line))


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("dkim")
    out = {}
    for name, extra in (("rsa", []), ("ed", ["--ed25519"])):
        stdout, _ = run([BIN, "dkim", "keygen", "example.com", name, "--out", d / f"{name}.key",
                         *extra])
        out[name] = {"path": d / f"{name}.key", "txt": txt_of(stdout), "line": stdout.decode()}
    # dkimpy signs with Ed25519 from the raw 32-octet seed in base64 (RFC 8463 A.1)
    der = subprocess.run(["openssl", "pkey", "-in", str(out["ed"]["path"]), "-outform", "DER"],
                         capture_output=True, check=True).stdout
    import base64
    out["ed"]["dkimpy"] = base64.b64encode(der[-32:])
    out["rsa"]["dkimpy"] = out["rsa"]["path"].read_bytes()
    keyfile = d / "keys"
    keyfile.write_text("".join(f"{n}._domainkey.example.com={k['txt']}\n"
                               for n, k in out.items()))
    out["file"] = keyfile
    return out


def dnsfunc_of(keys):
    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        for sel in ("rsa", "ed"):
            if name == f"{sel}._domainkey.example.com.":
                return keys[sel]["txt"].encode()
        return None
    return dnsfunc


def gate26_verify(keys, msg, now=None):
    args = [DRIVER, "verify", keys["file"]] + ([str(now)] if now else [])
    out, _ = run(args, msg)
    return out.decode().splitlines()


@pytest.mark.parametrize("sel", ["rsa", "ed"])
def test_gate26_signs_dkimpy_verifies(keys, sel):
    signed, _ = run([DRIVER, "sign", keys[sel]["path"], "example.com", sel], MESSAGE)
    assert signed.startswith(b"DKIM-Signature: v=1; a=" +
                             (b"rsa-sha256" if sel == "rsa" else b"ed25519-sha256"))
    head = signed.split(b"\r\n\r\n", 1)[0]
    assert b"c=relaxed/relaxed" in head
    assert re.search(rb"h=from:from:subject:date:to:\s*message-id:mime-version:\s*content-type;",
                     head.replace(b"\r\n\t", b"")), head
    for line in signed.split(b"\r\n"):
        assert len(line) <= 78
    assert dkim.verify(signed, dnsfunc=dnsfunc_of(keys))
    # changed in transit: dkimpy refuses it, and so does gate26
    changed = signed.replace(b"We lost", b"We won")
    assert not dkim.verify(changed, dnsfunc=dnsfunc_of(keys))
    assert gate26_verify(keys, signed)[0].startswith("pass ok d=example.com s=" + sel)
    assert gate26_verify(keys, changed)[0].startswith("fail body-hash")


@pytest.mark.parametrize("canon", ["relaxed/relaxed", "simple/simple", "relaxed/simple",
                                   "simple/relaxed"])
@pytest.mark.parametrize("sel", ["rsa", "ed"])
@pytest.mark.parametrize("length", [False, True])
def test_dkimpy_signs_gate26_verifies(keys, canon, sel, length):
    h, b = canon.split("/")
    sig = dkim.sign(MESSAGE, sel.encode(), b"example.com", keys[sel]["dkimpy"],
                    canonicalize=(h.encode(), b.encode()), length=length,
                    signature_algorithm=b"rsa-sha256" if sel == "rsa" else b"ed25519-sha256")
    lines = gate26_verify(keys, sig + MESSAGE)
    b8 = re.search(rb"b=([^;]{8})", sig.replace(b"\r\n ", b"").split(b"bh=")[1]).group(1)
    assert lines == [f"pass ok d=example.com s={sel} b={b8.decode()}"]
    # a changed body fails
    lines = gate26_verify(keys, sig + MESSAGE.replace(b"hungry", b"Hungry"))
    assert lines[0].startswith("fail body-hash")
    # a changed signed header fails
    lines = gate26_verify(keys, sig + MESSAGE.replace(b"dinner", b"Dinner"))
    assert lines[0].startswith("fail signature")
    if length:
        # text added after l= is not covered; a body cut short of l= is a permerror
        assert gate26_verify(keys, sig + MESSAGE + b"P.S. added\r\n")[0].startswith("pass")
        cut = sig + MESSAGE[:MESSAGE.index(b"Joe.\r\n")]
        assert gate26_verify(keys, cut)[0].startswith("permerror body-length")


RFC8463 = (
    b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    b" d=football.example.com; i=@football.example.com;\r\n"
    b" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    b" subject : date : message-id : from : subject : date;\r\n"
    b" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    b" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    b" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    b" d=football.example.com; i=@football.example.com;\r\n"
    b" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    b" date : message-id : from : subject : date;\r\n"
    b" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    b" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    b" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    b" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
    b"From: Joe SixPack <joe@football.example.com>\r\n"
    b"To: Suzie Q <suzie@shopping.example.net>\r\n"
    b"Subject: Is dinner ready?\r\n"
    b"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    b"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    b"\r\n"
    b"Hi.\r\n"
    b"\r\n"
    b"We lost the game.  Are you hungry yet?\r\n"
    b"\r\n"
    b"Joe.\r\n")
RFC8463_KEYS = (
    "brisbane._domainkey.football.example.com=v=DKIM1; k=ed25519; "
    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
    "test._domainkey.football.example.com=v=DKIM1; k=rsa; "
    "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY"
    "/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYL"
    "zBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\n")


def test_rfc8463_example(tmp_path):
    keyfile = tmp_path / "keys"
    keyfile.write_text(RFC8463_KEYS)
    out, _ = run([DRIVER, "verify", keyfile], RFC8463)
    assert out.decode().splitlines() == [
        "pass ok d=football.example.com s=brisbane b=/gCrinpc",
        "pass ok d=football.example.com s=test b=F45dVWDf",
    ]
    out, _ = run([DRIVER, "verify", keyfile], RFC8463.replace(b"game", b"match"))
    assert [line.split()[:2] for line in out.decode().splitlines()] == [["fail", "body-hash"]] * 2


def test_hundred_signatures(keys):
    """100 signatures: 8 verified, the other 92 reported without a look."""
    one = dkim.sign(MESSAGE, b"ed", b"example.com", keys["ed"]["dkimpy"],
                    signature_algorithm=b"ed25519-sha256")
    lines = gate26_verify(keys, one * 100 + MESSAGE)
    assert len(lines) == 100
    assert sum(line.startswith("pass ok") for line in lines) == 8
    assert sum(line.startswith("policy too-many") for line in lines) == 92


def test_keygen(tmp_path, keys):
    # the files: 0640, group gate26 when it exists
    for sel in ("rsa", "ed"):
        st = keys[sel]["path"].stat()
        assert stat.S_IMODE(st.st_mode) == 0o640
        try:
            assert st.st_gid == grp.getgrnam("gate26").gr_gid
        except KeyError:
            pass
    assert keys["rsa"]["line"].startswith('rsa._domainkey.example.com. IN TXT "v=DKIM1; k=rsa; p=')
    assert keys["ed"]["line"].startswith(
        'ed._domainkey.example.com. IN TXT "v=DKIM1; k=ed25519; p=')
    # the key loads and signs; dkimpy verifies with the printed record
    signed, _ = run([DRIVER, "sign", keys["rsa"]["path"], "example.com", "rsa"], MESSAGE)
    assert dkim.verify(signed, dnsfunc=dnsfunc_of(keys))

    # RSA 4096: the record in strings of at most 255 octets
    out, _ = run([BIN, "dkim", "keygen", "example.org", "big", "--bits", "4096",
                  "--out", tmp_path / "sub" / "big.key"])
    strings = re.findall(r'"([^"]*)"', out.decode())
    assert len(strings) >= 3 and all(len(s) <= 255 for s in strings)
    assert all(len(s) == 255 for s in strings[:-1])
    assert stat.S_IMODE((tmp_path / "sub").stat().st_mode) == 0o750
    record = "".join(strings)
    signed, _ = run([DRIVER, "sign", tmp_path / "sub" / "big.key", "example.org", "big"], MESSAGE)
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: record.encode())

    # an existing file is kept unless --force
    before = (tmp_path / "sub" / "big.key").read_bytes()
    out, err = run([BIN, "dkim", "keygen", "example.org", "big", "--ed25519",
                    "--out", tmp_path / "sub" / "big.key"], expect_rc=1)
    assert "exists" in err and out == b""
    assert (tmp_path / "sub" / "big.key").read_bytes() == before
    run([BIN, "dkim", "keygen", "example.org", "big", "--ed25519", "--force",
         "--out", tmp_path / "sub" / "big.key"])
    assert b"PRIVATE KEY" in (tmp_path / "sub" / "big.key").read_bytes()
    assert (tmp_path / "sub" / "big.key").read_bytes() != before
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["big.key"]


@pytest.mark.parametrize("args,why", [
    (["example.com"], "DOMAIN and SELECTOR"),
    (["com", "sel"], "not a domain"),
    (["example.com", "s/el"], "not a selector"),
    (["example.com", "sel", "--bits", "1024"], "2048 to 8192"),
    (["example.com", "sel", "--bogus"], "usage"),
])
def test_keygen_usage(tmp_path, args, why):
    _, err = run([BIN, "dkim", "keygen", *args, "--out", tmp_path / "k.key"], expect_rc=2)
    assert why in err
    assert not (tmp_path / "k.key").exists()


def test_sign_key_files(tmp_path):
    """The key loader: missing, not a key, RSA under 2048 bits: each named."""
    _, err = run([DRIVER, "sign", tmp_path / "none.key", "example.com", "s"], MESSAGE,
                 expect_rc=1)
    assert "none.key: no such file" in err
    (tmp_path / "junk.key").write_text("junk\n")
    _, err = run([DRIVER, "sign", tmp_path / "junk.key", "example.com", "s"], MESSAGE,
                 expect_rc=1)
    assert "not a PEM private key" in err
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024",
                    "-out", str(tmp_path / "small.key")], check=True, capture_output=True)
    _, err = run([DRIVER, "sign", tmp_path / "small.key", "example.com", "s"], MESSAGE,
                 expect_rc=1)
    assert "1024 bits" in err


def test_verify_refusals(keys, tmp_path):
    """Bad input the issue names, signed by dkimpy then spoiled."""
    # a 512-bit key in DNS (dkimpy signs with it when told not to check)
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:512",
                    "-out", str(tmp_path / "k512.key")], check=True, capture_output=True)
    pub = subprocess.run(["openssl", "pkey", "-in", str(tmp_path / "k512.key"), "-pubout",
                          "-outform", "DER"], capture_output=True, check=True).stdout
    import base64
    (tmp_path / "keys").write_text(
        "weak._domainkey.example.com=v=DKIM1; k=rsa; p=" + base64.b64encode(pub).decode() + "\n")
    sig = dkim.DKIM(MESSAGE, minkey=512).sign(b"weak", b"example.com",
                                              (tmp_path / "k512.key").read_bytes())
    out, _ = run([DRIVER, "verify", tmp_path / "keys"], sig + MESSAGE)
    assert out.decode().startswith("permerror key-too-small")
    # h= without From (dkimpy refuses to sign so: the tag is rewritten, which also breaks b=)
    sig = dkim.sign(MESSAGE, b"ed", b"example.com", keys["ed"]["dkimpy"],
                    signature_algorithm=b"ed25519-sha256")
    nofrom = re.sub(rb"(?<=[ ;])h=[^;]*;", b"h=to:subject;", sig.replace(b"\r\n ", b" "))
    assert gate26_verify(keys, nofrom + MESSAGE)[0].startswith("permerror no-from-in-h")
    # bad base64 in b=
    bad = re.sub(rb"b=([A-Za-z0-9+/]{4})", rb"b=\1%", sig.replace(b"\r\n ", b" ").split(b"bh=")[1])
    bad = sig.replace(b"\r\n ", b" ").split(b"bh=")[0] + b"bh=" + bad
    assert gate26_verify(keys, bad + MESSAGE)[0].startswith("permerror bad-base64")
    # a message without From
    nofrom_msg = MESSAGE.replace(b"From: Joe SixPack <joe@example.com>\r\n", b"")
    assert gate26_verify(keys, sig + nofrom_msg)[0].startswith("permerror no-from")
    # rsa-sha1 (RFC 8301)
    sha1 = dkim.sign(MESSAGE, b"rsa", b"example.com", keys["rsa"]["dkimpy"],
                     signature_algorithm=b"rsa-sha1")
    assert gate26_verify(keys, sha1 + MESSAGE)[0].startswith("permerror rsa-sha1")
    # the key not in DNS
    other = dkim.sign(MESSAGE, b"gone", b"example.com", keys["rsa"]["dkimpy"])
    assert gate26_verify(keys, other + MESSAGE)[0].startswith("permerror no-key")


# ---- the keys through src/dns (dkim_dns.c) from dnsmasq ----

def txt_record_arg(name, text):
    """--txt-record with text cut into strings of 255 octets (RFC 1035 3.3.14)."""
    assert "," not in text
    return f"--txt-record={name}," + ",".join(text[i:i + 255] for i in range(0, len(text), 255))


def verify_dns(server, msg):
    out, _ = run([DRIVER, "verify-dns", server], msg)
    return out.decode().splitlines()


@pytest.fixture
def signed(keys):
    return {sel: run([DRIVER, "sign", keys[sel]["path"], "example.com", sel], MESSAGE)[0]
            for sel in ("rsa", "ed")}


@pytest.mark.parametrize("sel", ["rsa", "ed"])
def test_dns_key_pass(dnsmasq, keys, signed, sel):
    ns = dnsmasq("--local=/example.com/",
                 txt_record_arg(f"{sel}._domainkey.example.com", keys[sel]["txt"]))
    lines = verify_dns(ns.server, signed[sel])
    assert len(lines) == 1 and lines[0].startswith(f"pass ok d=example.com s={sel} "), lines


def test_dns_several_records(dnsmasq, keys, signed):
    """A stray TXT record beside the key (before and after it in the zone):
    the record that is a key is the one used."""
    ns = dnsmasq("--local=/example.com/",
                 "--txt-record=ed._domainkey.example.com,site-verification=abc123",
                 txt_record_arg("ed._domainkey.example.com", keys["ed"]["txt"]),
                 "--txt-record=ed._domainkey.example.com,v=DKIM1; p=",
                 txt_record_arg("rsa._domainkey.example.com", keys["rsa"]["txt"]),
                 "--txt-record=rsa._domainkey.example.com,not a key")
    for sel in ("ed", "rsa"):
        lines = verify_dns(ns.server, signed[sel])
        assert len(lines) == 1 and lines[0].startswith("pass ok "), lines


def test_dns_only_bad_records(dnsmasq, signed):
    """Several records and none a key: the first is judged (not a key)."""
    ns = dnsmasq("--local=/example.com/", "--txt-record=ed._domainkey.example.com,v=DKIM1; p=",
                 "--txt-record=ed._domainkey.example.com,v=DKIM1; p=")
    lines = verify_dns(ns.server, signed["ed"])
    assert lines == [lines[0]] and lines[0].startswith("permerror revoked "), lines


def test_dns_no_key(dnsmasq, signed):
    """NXDOMAIN (no such selector) and NODATA (the name has an A record only)."""
    ns = dnsmasq("--local=/example.com/", "--host-record=ed._domainkey.example.com,127.0.0.1")
    for sel in ("rsa", "ed"):
        lines = verify_dns(ns.server, signed[sel])
        assert len(lines) == 1 and lines[0].startswith("permerror no-key "), lines


def test_dns_tempfail(signed):
    """Nothing listens on the server's port: temperror dns."""
    port = free_udp_tcp_port()
    lines = verify_dns(f"127.0.0.1:{port}", signed["ed"])
    assert len(lines) == 1 and lines[0].startswith("temperror dns "), lines


def test_dns_two_signatures_one_key(dnsmasq, keys, signed):
    """Two signatures of the same key: both lookups (asked at once, so both
    are queries: src/dns does not share queries in flight) answer, both pass."""
    ns = dnsmasq("--local=/example.com/",
                 txt_record_arg("ed._domainkey.example.com", keys["ed"]["txt"]))
    twice, _ = run([DRIVER, "sign", keys["ed"]["path"], "example.com", "ed"], signed["ed"])
    lines = verify_dns(ns.server, twice)
    assert len(lines) == 2 and all(l.startswith("pass ok ") for l in lines), lines
    assert ns.log().count("query[TXT] ed._domainkey.example.com from 127.0.0.1") == 2
