# SPDX-License-Identifier: MIT
"""TLS on gate26's doors (RFC 3207 STARTTLS, RFC 8314 implicit TLS), with
real clients: Python's smtplib and ssl, and openssl s_client. Certificates
come from a throwaway CA made per test (certs.py)."""
import smtplib
import socket
import ssl
import subprocess

import pytest

from certs import CA, self_signed
from conftest import Raw, assert_serving, want

HOST = "gate26.test"


@pytest.fixture
def ca(tmp_path):
    return CA(tmp_path / "pki")


def doors(internal_tls="starttls", **more):
    d = {"internal": {"allow": "127.0.0.0/8 ::1", "tls": internal_tls}}
    d.update(more)
    return d


def client_ctx(ca, **kw):
    ctx = ssl.create_default_context(cafile=ca.pem)
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def start_tls_gateway(gateway, ca, internal_tls="starttls", **more):
    return gateway(doors=doors(internal_tls, **more), tls=ca.issue(HOST, "127.0.0.1"))


def test_starttls_with_smtplib_and_mail_inside(gateway, ca):
    g = start_tls_gateway(gateway, ca)
    with smtplib.SMTP("127.0.0.1", g.port("internal"), local_hostname="client.test",
                      timeout=10) as s:
        s.ehlo()
        assert s.has_extn("starttls")
        s.starttls(context=client_ctx(ca, check_hostname=False))
        s.ehlo()
        assert not s.has_extn("starttls"), "STARTTLS is not offered inside TLS"
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
        s.sendmail("a@ours.test", ["b@example.test"], b"Subject: t\r\n\r\nhi\r\n")
    (qid,) = g.queue_files()
    head, body = g.message(qid)
    assert "protocol ESMTPS" in head
    received = body.split(b"\r\n\r\n")[0].decode()
    assert "with ESMTPS id" in received
    assert "(using TLSv1.3 with cipher TLS_" in received
    assert "event=tls, version=TLSv1.3" in g.log()


def test_certificate_verifies_against_the_ca_and_name(gateway, ca):
    g = start_tls_gateway(gateway, ca)
    with smtplib.SMTP("127.0.0.1", g.port("internal"), timeout=10) as s:
        s.ehlo()
        ctx = client_ctx(ca)  # check_hostname on: the SAN holds 127.0.0.1... and gate26.test
        s._host = HOST
        s.starttls(context=ctx)
        cert = s.sock.getpeercert()
        assert ("DNS", HOST) in cert["subjectAltName"]


def test_plaintext_pipelined_after_starttls_is_discarded(gateway, ca):
    """CVE-2011-0411: commands sent in the clear behind STARTTLS must never
    run inside TLS."""
    g = start_tls_gateway(gateway, ca)
    sock = socket.create_connection(("127.0.0.1", g.port("internal")), timeout=10)
    f = sock.makefile("rb")
    assert f.readline().startswith(b"220 ")
    sock.sendall(b"EHLO client.test\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    sock.sendall(b"STARTTLS\r\nMAIL FROM:<evil@attacker.test>\r\nRCPT TO:<x@example.test>\r\n")
    assert f.readline().startswith(b"220 2.0.0")
    tls = client_ctx(ca, check_hostname=False).wrap_socket(sock, server_hostname=HOST)
    tf = tls.makefile("rb")
    tls.sendall(b"EHLO client.test\r\n")
    while not (line := tf.readline()).startswith(b"250 "):
        assert line.startswith(b"250-"), line
    # Had the injected MAIL run, this RCPT would be accepted.
    tls.sendall(b"RCPT TO:<x@example.test>\r\n")
    assert tf.readline().startswith(b"503 5.5.1"), "the injected MAIL must not have run"
    tls.sendall(b"QUIT\r\n")
    assert tf.readline().startswith(b"221")
    tls.close()
    assert "event=starttls-pipelined, discarded=" in g.log()
    assert_serving(g, "internal")


def test_state_is_reset_after_starttls_and_ehlo_is_needed(gateway, ca):
    g = start_tls_gateway(gateway, ca)
    with smtplib.SMTP("127.0.0.1", g.port("internal"), timeout=10) as s:
        s.ehlo()
        s.starttls(context=client_ctx(ca, check_hostname=False))
        code, msg = s.docmd("MAIL", "FROM:<a@ours.test>")
        assert code == 503 and msg.startswith(b"5.5.1 Send EHLO"), (code, msg)
        s.ehlo()
        code, msg = s.docmd("STARTTLS")
        assert (code, msg) == (503, b"5.5.1 TLS already active")


@pytest.mark.parametrize("line,code,enhanced", [
    ("STARTTLS now", 501, "5.5.4"),
])
def test_starttls_refusals(gateway, ca, line, code, enhanced):
    g = start_tls_gateway(gateway, ca)
    r = g.raw("internal")
    r.cmd("STARTTLS", 503, "5.5.1 Send EHLO or HELO first")
    r.send(b"EHLO client.test\r\n")
    want(r, 250, None)
    r.send(line.encode() + b"\r\n")
    want(r, code, enhanced)
    r.cmd("MAIL FROM:<a@ours.test>", 250, "2.1.0 Sender ok")
    r.cmd("STARTTLS", 503, "5.5.1 Bad sequence of commands")
    r.close()
    assert_serving(g, "internal")


def test_no_starttls_on_a_door_without_tls(gateway, ca):
    g = start_tls_gateway(gateway, ca, internal_tls="none")
    r = g.raw("internal")
    r.send(b"EHLO client.test\r\n")
    lines = want(r, 250, None)
    assert "STARTTLS" not in lines
    r.cmd("STARTTLS", 502, "5.5.1")
    r.close()


def test_starttls_required_refuses_mail_in_the_clear(gateway, ca):
    g = start_tls_gateway(gateway, ca, internal_tls="starttls required")
    r = g.raw("internal")
    r.send(b"EHLO client.test\r\n")
    want(r, 250, None)
    r.cmd("MAIL FROM:<a@ours.test>", 530, "5.7.0 Must issue a STARTTLS command first")
    r.close()
    with smtplib.SMTP("127.0.0.1", g.port("internal"), timeout=10) as s:
        s.starttls(context=client_ctx(ca, check_hostname=False))
        s.sendmail("a@ours.test", ["b@example.test"], b"Subject: t\r\n\r\nhi\r\n")
    assert len(g.queue_files()) == 1


def test_implicit_tls_door(gateway, ca):
    """RFC 8314: TLS from the first byte; the greeting comes inside it."""
    g = start_tls_gateway(gateway, ca, internal_tls="implicit")
    with smtplib.SMTP_SSL("127.0.0.1", g.port("internal"), timeout=10,
                          context=client_ctx(ca, check_hostname=False)) as s:
        code, _ = s.ehlo()
        assert code == 250 and not s.has_extn("starttls")
        s.sendmail("a@ours.test", ["b@example.test"], b"Subject: t\r\n\r\nhi\r\n")
    (qid,) = g.queue_files()
    assert "protocol ESMTPS" in g.message(qid)[0]
    # A plain-text client gets no SMTP: its bytes are a bad handshake.
    r = Raw(g.port("internal"))
    r.send(b"EHLO plain.test\r\n")
    assert r.is_closed()
    r.close()
    assert "event=tls-error, handshake=failed" in g.log()


def s_client(port, *args, servername=None, starttls=True, stdin=b"QUIT\r\n"):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief", "-ign_eof"]
    if starttls:
        cmd += ["-starttls", "smtp"]
    if servername:
        cmd += ["-servername", servername]
    return subprocess.run(cmd + list(args), input=stdin, capture_output=True, timeout=20)


def test_openssl_s_client_starttls(gateway, ca):
    g = start_tls_gateway(gateway, ca)
    p = s_client(g.port("internal"), "-CAfile", ca.pem, "-verify_hostname", HOST,
                 "-verify_return_error", stdin=b"EHLO x.test\r\nQUIT\r\n")
    out = p.stdout.decode() + p.stderr.decode()
    assert p.returncode == 0, out
    assert "Verification: OK" in out
    assert "221 2.0.0 Bye" in out


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_tls_versions_are_refused(gateway, ca, version):
    g = start_tls_gateway(gateway, ca)
    # SECLEVEL=0 so that our own client would offer the old version at all.
    p = s_client(g.port("internal"), version, "-cipher", "DEFAULT:@SECLEVEL=0")
    out = p.stdout.decode() + p.stderr.decode()
    assert p.returncode != 0, out
    assert "Protocol  : TLSv1" not in out.replace("TLSv1.2", "").replace("TLSv1.3", "")
    assert_serving(g, "internal")


def test_tls12_is_accepted(gateway, ca):
    g = start_tls_gateway(gateway, ca)
    p = s_client(g.port("internal"), "-tls1_2", "-CAfile", ca.pem)
    out = p.stdout.decode() + p.stderr.decode()
    assert p.returncode == 0, out
    assert "Protocol version: TLSv1.2" in out


def test_sni_picks_the_certificate(gateway, ca, tmp_path):
    a = ca.issue(HOST, "127.0.0.1")
    b = ca.issue("mail.other.test")
    g = gateway(doors=doors(), tls=f"    cert {a[0]}\n    key {a[1]}\n"
                                   f"    cert {b[0]}\n    key {b[1]}")

    def subject(name):
        p = s_client(g.port("internal"), servername=name)
        out = p.stdout.decode() + p.stderr.decode()
        assert p.returncode == 0, out
        line = next(x for x in out.splitlines() if x.startswith("Peer certificate:"))
        return line.split("CN", 1)[1].strip(" =")

    assert subject("mail.other.test") == "mail.other.test"
    assert subject(HOST) == HOST
    assert subject("unknown.test") == HOST  # the first pair is the default


def test_sighup_reloads_the_certificate(gateway, ca, tmp_path):
    cert, key = ca.issue(HOST, "127.0.0.1", stem="live")
    g = gateway(doors=doors(), tls=(cert, key))

    def cn():
        p = s_client(g.port("internal"))
        out = p.stdout.decode() + p.stderr.decode()
        return next(x for x in out.splitlines() if x.startswith("Peer certificate:"))

    assert f"CN = {HOST}" in cn()
    # A renewed certificate in the same files, as certbot writes them.
    ca.issue("renewed.test", stem="live")
    g.hup()
    from conftest import wait_for
    wait_for(lambda: g.log().count("event=reload, status=ok") == 1, what="the reload")
    assert "CN = renewed.test" in cn()


def test_sighup_with_a_broken_key_keeps_the_running_certificates(gateway, ca, tmp_path):
    cert, key = ca.issue(HOST, "127.0.0.1", stem="live")
    g = gateway(doors=doors(), tls=(cert, key))
    other = self_signed(tmp_path / "x", "other.test")
    open(key, "wb").write(open(other[1], "rb").read())  # no longer the cert's key
    g.hup()
    from conftest import wait_for
    wait_for(lambda: "event=reload, status=failed" in g.log(), what="the failed reload")
    assert "does not match certificate" in g.log()
    p = s_client(g.port("internal"))
    assert p.returncode == 0 and f"CN = {HOST}" in p.stdout.decode() + p.stderr.decode()


def test_configtest_checks_the_key(gateway, ca, tmp_path):
    cert, _ = ca.issue(HOST)
    _, wrong = ca.issue("else.test")
    g = gateway(doors=doors(), tls=(cert, wrong), start=False)
    from conftest import BIN
    p = subprocess.run([BIN, "configtest", "-c", str(g.conf)], capture_output=True, timeout=20)
    assert p.returncode == 1
    assert "does not match certificate" in p.stderr.decode()
    g.start(expect_ok=False)
    g.proc.wait(timeout=20)
    assert g.proc.returncode == 1 and "does not match certificate" in g.log()
    g.proc = None


def test_garbage_instead_of_a_handshake(gateway, ca):
    g = start_tls_gateway(gateway, ca)
    r = g.raw("internal")
    r.send(b"EHLO client.test\r\n")
    want(r, 250, None)
    r.cmd("STARTTLS", 220, "2.0.0 Ready to start TLS")
    r.send(b"\x16\x03\x01\x00\x05hello this is not TLS\r\n" * 3)
    assert r.is_closed()
    r.close()
    assert_serving(g, "internal")


def test_openssl_s_client_implicit_tls(gateway, ca):
    g = start_tls_gateway(gateway, ca, internal_tls="implicit")
    p = s_client(g.port("internal"), "-CAfile", ca.pem, "-verify_hostname", HOST,
                 "-verify_return_error", starttls=False, stdin=b"EHLO x.test\r\nQUIT\r\n")
    out = p.stdout.decode() + p.stderr.decode()
    assert p.returncode == 0, out
    assert "Verification: OK" in out
    assert "220 gate26.test ESMTP gate26" in out and "221 2.0.0 Bye" in out
