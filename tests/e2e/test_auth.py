# SPDX-License-Identifier: MIT
"""SMTP AUTH on the submission doors (RFC 4954, PLAIN RFC 4616, LOGIN),
with Python's smtplib and raw lines inside TLS: success, each failure code,
lockout after repeated failures and its expiry, the sender a user may use,
and the per-user message rate; issue 11's lockout without collateral
damage: lockout-exempt clients, the smart lockout (a user's own client
still gets in), `gate26 unlock`, and auth-locked log lines that fail2ban
does not count twice. Users are made with `gate26 passwd`."""
import base64
import grp
import os
import shutil
import smtplib
import socket
import ssl
import subprocess

import pytest

from certs import CA
from conftest import BIN, GATE26_USER, ROOT, assert_serving, wait_for

USERS = {"alice@ours.test": "correct horse", "bob": "battery staple"}
F2B_FILTER = ROOT / "contrib" / "fail2ban" / "filter.d" / "gate26.conf"


@pytest.fixture
def ca(tmp_path):
    return CA(tmp_path / "pki")


def make_passwd(path, users=USERS):
    """Users set with gate26 passwd; the file then readable by the daemon's
    group, as gate26 passwd -c makes it, since a reload reads it as that user."""
    for user, password in users.items():
        p = subprocess.run([BIN, "passwd", "-f", str(path), user], input=password.encode() + b"\n",
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
    if os.geteuid() == 0 and GATE26_USER:
        os.chown(path, 0, grp.getgrnam(GATE26_USER).gr_gid)
    return path


def auth_gateway(gateway, ca, tmp_path, auth_extra="", doors=None, users=USERS):
    pw = make_passwd(tmp_path / "passwd", users)
    return gateway(doors=doors or {"submission": {}, "submissions": {}},
                   domains={"ours.test": None}, tls=ca.issue("gate26.test", "127.0.0.1"),
                   extra=f"auth {{\n    passwd {pw}\n{auth_extra}}}\n")


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class Line:
    """A raw SMTP client inside TLS (after STARTTLS, or implicit)."""

    def __init__(self, port, implicit=False, source="127.0.0.1", ehlo=True):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                        source_address=(source, 0))
        if implicit:
            sock = ctx().wrap_socket(sock)
        self.sock = sock
        self.f = sock.makefile("rb")
        assert self.reply()[0] == 220
        if not implicit:
            self.cmd("EHLO client.test")
            assert self.cmd("STARTTLS")[0] == 220
            self.sock = ctx().wrap_socket(sock)
            self.f = self.sock.makefile("rb")
        if ehlo:
            self.caps = self.cmd("EHLO client.test")[1]

    def reply(self):
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                return None, lines
            lines.append(line.decode().rstrip("\r\n"))
            if line[3:4] != b"-":
                return int(line[:3]), lines

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def closed(self):
        try:
            return self.f.readline() == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        self.sock.close()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def plain(user, password):
    return b64(f"\0{user}\0{password}")


def test_no_auth_before_tls_and_538_in_the_clear(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path)
    r = g.raw("submission")
    caps = r.cmd("EHLO client.test", 250)
    assert "AUTH" not in caps and "STARTTLS" in caps
    r.cmd("AUTH PLAIN " + plain("bob", USERS["bob"]), 538,
          "5.7.11 Encryption required for requested authentication mechanism")
    r.close()
    assert "battery" not in g.log()


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_login_and_send_with_smtplib(gateway, ca, tmp_path, mech):
    g = auth_gateway(gateway, ca, tmp_path)
    with smtplib.SMTP("127.0.0.1", g.port("submission"), local_hostname="client.test",
                      timeout=10) as s:
        s.starttls(context=ctx())
        s.ehlo()
        assert s.has_extn("auth") and set(s.esmtp_features["auth"].split()) == {"PLAIN", "LOGIN"}
        s.user, s.password = "alice@ours.test", USERS["alice@ours.test"]
        code, msg = s.auth(mech, getattr(s, "auth_" + mech.lower()))
        assert (code, msg) == (235, b"2.7.0 Authentication successful")
        s.sendmail("alice@ours.test", ["someone@far.test"], b"Subject: t\r\n\r\nhi\r\n")
    (qid,) = g.queue_files()
    head, body = g.message(qid)
    assert "protocol ESMTPSA" in head and "door submission" in head
    assert b"with ESMTPSA id" in body
    assert USERS["alice@ours.test"].encode() not in body
    assert f'event=auth, user="alice@ours.test", mech={mech}' in g.log()


def test_implicit_tls_door_takes_auth(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path)
    with smtplib.SMTP_SSL("127.0.0.1", g.port("submissions"), context=ctx(), timeout=10) as s:
        s.login("bob", USERS["bob"])
        s.sendmail("", ["x@far.test"], b"Subject: mdn\r\n\r\nnull sender is allowed\r\n")
    assert len(g.queue_files()) == 1


def test_plain_without_initial_response_and_login_prompts(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path)
    c = Line(g.port("submission"))
    assert c.cmd("AUTH PLAIN") == (334, ["334 "])
    assert c.cmd(plain("bob", USERS["bob"]))[0] == 235
    c.close()
    c = Line(g.port("submission"))
    assert c.cmd("AUTH LOGIN") == (334, ["334 VXNlcm5hbWU6"])
    assert c.cmd(b64("bob")) == (334, ["334 UGFzc3dvcmQ6"])
    assert c.cmd(b64(USERS["bob"]))[0] == 235
    c.close()
    c = Line(g.port("submission"))
    assert c.cmd("AUTH LOGIN " + b64("bob")) == (334, ["334 UGFzc3dvcmQ6"])
    assert c.cmd(b64(USERS["bob"]))[0] == 235
    c.close()


@pytest.mark.parametrize("lines,code,text", [
    (["AUTH PLAIN " + plain("bob", "wrong")], 535, "5.7.8 Authentication credentials invalid"),
    (["AUTH PLAIN " + plain("nobody", "wrong")], 535, "5.7.8 Authentication credentials invalid"),
    (["AUTH PLAIN " + b64("alice@ours.test\0bob\0" + USERS["bob"])], 535, "5.7.8"),  # for another
    (["AUTH PLAIN not!base64"], 501, "5.5.2 Cannot decode response"),
    (["AUTH PLAIN AGFhAGI"], 501, "5.5.2 Cannot decode response"),  # padding missing
    (["AUTH PLAIN " + b64("no nul at all")], 501, "5.5.2"),
    (["AUTH PLAIN ="], 501, "5.5.2"),
    (["AUTH PLAIN", "*"], 501, "5.0.0 Authentication cancelled"),
    (["AUTH LOGIN", b64("bob"), "*"], 501, "5.0.0 Authentication cancelled"),
    (["AUTH LOGIN", "%%%"], 501, "5.5.2 Cannot decode response"),
    (["AUTH CRAM-MD5"], 504, "5.5.4 Unrecognized authentication type"),
    (["AUTH"], 501, "5.5.4"),
])
def test_auth_failures(gateway, ca, tmp_path, lines, code, text):
    g = auth_gateway(gateway, ca, tmp_path)
    c = Line(g.port("submission"))
    for line in lines[:-1]:
        assert c.cmd(line)[0] == 334
    got, reply = c.cmd(lines[-1])
    assert got == code and text in reply[0], reply
    # Still usable: a right password works in the same session.
    assert c.cmd("AUTH PLAIN " + plain("bob", USERS["bob"]))[0] == 235
    c.close()
    assert_serving(g, "submission")


def test_auth_twice_and_inside_a_transaction(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path)
    c = Line(g.port("submission"))
    assert c.cmd("AUTH PLAIN " + plain("bob", USERS["bob"]))[0] == 235
    assert c.cmd("AUTH PLAIN " + plain("bob", USERS["bob"])) == (503, ["503 5.5.1 Already "
                                                                       "authenticated"])
    c.close()
    c = Line(g.port("submission"), ehlo=False)
    assert c.cmd("AUTH PLAIN " + plain("bob", USERS["bob"]))[1][0].startswith("503 5.5.1 Send EHLO")
    c.close()


def test_failures_are_logged_for_fail2ban(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path)
    c = Line(g.port("submission"))
    c.cmd("AUTH PLAIN " + plain("bob", "guess"))
    c.close()
    wait_for(lambda: "event=auth-failed" in g.log(), what="the failure's log line")
    assert 'client=[127.0.0.1], door=submission, event=auth-failed, user="bob", ' \
           'reason=bad-credentials' in g.log()
    assert "guess" not in g.log()


def test_a_locked_user_is_answered_as_a_wrong_password_and_unlocked_by_a_new_one(gateway, ca,
                                                                                 tmp_path):
    """gate26 passwd --lock: the same 535 as a wrong password (nothing tells a client the
    user exists), its own reason in the log; gate26 passwd USER sets a password and unlocks."""
    g = auth_gateway(gateway, ca, tmp_path)
    pw = tmp_path / "passwd"
    p = subprocess.run([BIN, "passwd", "-f", str(pw), "--lock", "bob"], capture_output=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    assert entries_of(pw)["bob"].startswith("!$y$")
    reloads = g.log().count("event=reload, status=ok")
    g.hup()
    wait_for(lambda: g.log().count("event=reload, status=ok") > reloads, what="the reload")
    c = Line(g.port("submission"))
    assert c.cmd("AUTH PLAIN " + plain("bob", USERS["bob"])) == \
        (535, ["535 5.7.8 Authentication credentials invalid"])
    assert c.cmd("AUTH PLAIN " + plain("bob", "a guess")) == \
        (535, ["535 5.7.8 Authentication credentials invalid"])
    assert c.cmd("AUTH PLAIN " + plain("nobody", "a guess")) == \
        (535, ["535 5.7.8 Authentication credentials invalid"])
    c.close()
    wait_for(lambda: g.log().count("event=auth-failed") >= 3, what="the failures' log lines")
    assert g.log().count('door=submission, event=auth-failed, user="bob", reason=locked-user') == 2
    assert 'user="nobody", reason=bad-credentials' in g.log()
    # The other users are not touched.
    c = Line(g.port("submission"))
    assert c.cmd("AUTH PLAIN " + plain("alice@ours.test", USERS["alice@ours.test"]))[0] == 235
    c.close()
    # A new password unlocks.
    make_passwd(pw, {"bob": "new staple"})
    reloads = g.log().count("event=reload, status=ok")
    g.hup()
    wait_for(lambda: g.log().count("event=reload, status=ok") > reloads, what="the reload")
    c = Line(g.port("submission"))
    assert c.cmd("AUTH PLAIN " + plain("bob", "new staple"))[0] == 235
    c.close()


def entries_of(path):
    return dict(line.split(":", 1) for line in path.read_text().splitlines() if ":" in line)


LOCK = "    max-failures 3/1m\n    lockout 6s\n"


def test_lockout_after_failures_and_its_expiry(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path, auth_extra=LOCK)
    c = Line(g.port("submission"))
    for _ in range(3):
        assert c.cmd("AUTH PLAIN " + plain("bob", "guess"))[0] == 535
    # The third failure locked the client: the next attempt gets 454 (after a
    # delay), then the session ends.
    assert c.cmd("AUTH PLAIN " + plain("bob", "guess")) == \
        (454, ["454 4.7.0 Too many failed authentication attempts, try again later"])
    assert c.closed()
    c.close()
    # Locked: even the right password gets 454, and the session ends.
    c = Line(g.port("submission"))
    assert c.cmd("AUTH PLAIN " + plain("bob", USERS["bob"]))[0] == 454
    assert c.closed()
    c.close()
    assert "reason=bad-credentials, locked=yes" in g.log()
    assert 'client=[127.0.0.1], door=submission, event=auth-locked, user="bob", lock=client' \
        in g.log()
    # After the lockout (6 s), the right password works again.
    wait_for(lambda: Line(g.port("submission")).cmd(
        "AUTH PLAIN " + plain("bob", USERS["bob"]))[0] == 235, timeout=15,
        what="the lockout to expire")
    assert_serving(g, "submission")


def test_the_user_is_locked_from_other_addresses_too(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path, auth_extra="    max-failures 3/1m\n    lockout 1h\n")
    for src in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):  # one failure each: no address is locked
        c = Line(g.port("submission"), source=src)
        assert c.cmd("AUTH PLAIN " + plain("bob", "guess"))[0] == 535
        c.close()
    # bob has three failures: locked against every address.
    c = Line(g.port("submission"), source="127.0.0.5")
    assert c.cmd("AUTH PLAIN " + plain("bob", USERS["bob"]))[0] == 454
    c.close()
    # Another user from a fresh address is not.
    c = Line(g.port("submission"), source="127.0.0.6")
    assert c.cmd("AUTH PLAIN " + plain("alice@ours.test", USERS["alice@ours.test"]))[0] == 235
    c.close()


def test_success_does_not_reset_another_addresses_count(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path, auth_extra="    max-failures 3/1m\n    lockout 1h\n")
    a = Line(g.port("submission"), source="127.0.0.7")
    assert a.cmd("AUTH PLAIN " + plain("nobody1", "x"))[0] == 535
    assert a.cmd("AUTH PLAIN " + plain("nobody2", "x"))[0] == 535
    b = Line(g.port("submission"), source="127.0.0.8")
    assert b.cmd("AUTH PLAIN " + plain("bob", USERS["bob"]))[0] == 235
    b.close()
    assert a.cmd("AUTH PLAIN " + plain("nobody3", "x"))[0] == 535  # 127.0.0.7's third
    assert a.cmd("AUTH PLAIN " + plain("bob", USERS["bob"]))[0] == 454  # locked by its own count
    a.close()


def test_sender_must_belong_to_the_user(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path,
                     auth_extra="    sender bob bob@ours.test @bob.test\n")
    c = Line(g.port("submission"))
    assert c.cmd("AUTH PLAIN " + plain("bob", USERS["bob"]))[0] == 235
    for sender, code in [("ceo@ours.test", 553), ("alice@ours.test", 553), ("bob@other.test", 553),
                         ("bob@ours.test", 250), ("BOB@ours.test", 553), ("bob@OURS.TEST", 250),
                         ("anyone@bob.test", 250), ("x@sub.bob.test", 553), ("", 250)]:
        got, reply = c.cmd(f"MAIL FROM:<{sender}>")
        assert got == code, (sender, reply)
        if code == 553:
            assert reply[0] == "553 5.7.1 Sender address not owned by the authenticated user"
        else:
            assert c.cmd("RSET")[0] == 250
    c.close()
    c = Line(g.port("submission"))
    assert c.cmd("AUTH PLAIN " + plain("alice@ours.test", USERS["alice@ours.test"]))[0] == 235
    assert c.cmd("MAIL FROM:<alice@ours.test>")[0] == 250  # the login is its own address
    c.close()


def test_user_rate(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path, auth_extra="    user-rate 2/1h\n")
    c = Line(g.port("submission"))
    assert c.cmd("AUTH PLAIN " + plain("bob", USERS["bob"]))[0] == 235
    for _ in range(2):
        assert c.cmd("MAIL FROM:<>")[0] == 250
        assert c.cmd("RSET")[0] == 250
    assert c.cmd("MAIL FROM:<>") == (451, ["451 4.7.1 Too many messages from this user, try "
                                           "again later"])
    c.close()
    # From another address the user is still over its rate.
    c = Line(g.port("submission"), source="127.0.0.9")
    assert c.cmd("AUTH PLAIN " + plain("bob", USERS["bob"]))[0] == 235
    assert c.cmd("MAIL FROM:<>")[0] == 451
    c.close()


def test_sighup_rereads_the_password_file(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path)
    make_passwd(tmp_path / "passwd", {"carol": "new user"})
    g.hup()
    wait_for(lambda: "event=reload, status=ok" in g.log(), what="the reload")
    c = Line(g.port("submission"))
    assert c.cmd("AUTH PLAIN " + plain("carol", "new user"))[0] == 235
    c.close()


def test_a_broken_password_file_stops_the_start_and_configtest(gateway, ca, tmp_path):
    pw = tmp_path / "passwd"
    pw.write_text("bob:$1$weak$hash\n")
    g = gateway(doors={"submission": {}}, domains={"ours.test": None},
                tls=ca.issue("gate26.test"), extra=f"auth {{\n    passwd {pw}\n}}\n", start=False)
    p = subprocess.run([BIN, "configtest", "-c", str(g.conf)], capture_output=True, timeout=20)
    assert p.returncode == 1 and f"{pw}:1:" in p.stderr.decode()
    g.start(expect_ok=False)
    g.proc.wait(timeout=20)
    assert g.proc.returncode == 1 and f"{pw}:1:" in g.log()
    g.proc = None


def test_the_auth_parameter_of_mail(gateway, ca, tmp_path):
    """RFC 4954 5: a server that offers AUTH takes MAIL FROM:<...> AUTH=...;
    a door without AUTH does not know the parameter (555)."""
    g = auth_gateway(gateway, ca, tmp_path,
                     doors={"submission": {}, "internal": {"allow": "127.0.0.0/8", "tls": "none"}})
    c = Line(g.port("submission"))
    assert c.cmd("AUTH PLAIN " + plain("bob", USERS["bob"]))[0] == 235
    assert c.cmd("MAIL FROM:<> AUTH=<>")[0] == 250
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("MAIL FROM:<> AUTH=bob+40ours.test")[0] == 250
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("MAIL FROM:<> AUTH=a=b")[1][0].startswith("501 5.5.4")
    c.close()
    r = g.raw("internal")
    r.cmd("EHLO client.test", 250)
    r.cmd("MAIL FROM:<a@ours.test> AUTH=<>", 555, "5.5.4 Unsupported command parameter")
    r.close()
    assert_serving(g, "internal")


# ---- issue 11: lockout without collateral damage ----------------------------------------------

STRICT = "    max-failures 3/1m\n    lockout 1h\n"


def attempt(port, source, user, password):
    """One AUTH PLAIN in a session of its own from source; returns the reply code."""
    c = Line(port, source=source)
    code = c.cmd("AUTH PLAIN " + plain(user, password))[0]
    c.close()
    return code


def log_lines(g, needle):
    return [line for line in g.log().splitlines() if needle in line]


def test_lockout_exempt_client_is_never_locked(gateway, ca, tmp_path):
    """auth { lockout-exempt }: the webmail host fails 20 times and is never
    locked, while another client is locked after max-failures; the failures
    still count against the user name, from the exempt client too."""
    g = auth_gateway(gateway, ca, tmp_path,
                     auth_extra=STRICT + "    lockout-exempt 127.0.0.2 2001:db8::/64\n"
                                         "    lockout-exempt 10.0.0.0/8\n")
    port = g.port("submission")
    for session in range(5):  # 4 a session: under max-errors
        c = Line(port, source="127.0.0.2")
        for i in range(4):
            n = session * 4 + i
            got, reply = c.cmd("AUTH PLAIN " + plain(f"nobody{n}", "guess"))
            assert got == 535, (n, reply)
        c.close()
    assert attempt(port, "127.0.0.2", "bob", USERS["bob"]) == 235
    assert "event=auth-locked" not in g.log()
    # Outside the exempt networks: locked after the third failure.
    c = Line(port, source="127.0.0.3")
    for n in range(3):
        assert c.cmd("AUTH PLAIN " + plain(f"other{n}", "guess"))[0] == 535
    assert c.cmd("AUTH PLAIN " + plain("bob", USERS["bob"]))[0] == 454
    c.close()
    # A brute force through the webmail still locks the user it aims at...
    for _ in range(3):
        assert attempt(port, "127.0.0.2", "bob", "guess") == 535
    assert attempt(port, "127.0.0.2", "bob", USERS["bob"]) == 454
    # ... though bob logged in from there before (an exempt client is never a known one),
    assert attempt(port, "127.0.0.4", "bob", USERS["bob"]) == 454
    # ... and not the webmail's other users.
    assert attempt(port, "127.0.0.2", "alice@ours.test", USERS["alice@ours.test"]) == 235
    assert 'client=[127.0.0.2], door=submission, event=auth-locked, user="bob", lock=user' \
        in g.log()
    assert_serving(g, "submission")


def test_smart_lockout_lets_the_users_own_client_in(gateway, ca, tmp_path):
    """A user logs in from A; attacker B locks the user by failures; A's right
    password still gets 235 while a fresh client C gets 454; A's wrong
    passwords count against A, which then is locked itself."""
    g = auth_gateway(gateway, ca, tmp_path, auth_extra=STRICT)
    port = g.port("submission")
    A, B, C = "127.0.0.2", "127.0.0.3", "127.0.0.4"
    assert attempt(port, A, "bob", USERS["bob"]) == 235
    b = Line(port, source=B)
    for _ in range(3):
        assert b.cmd("AUTH PLAIN " + plain("bob", "guess"))[0] == 535
    b.close()
    assert "reason=bad-credentials, locked=yes" in g.log()
    # bob is locked for everyone but A (and B is locked itself).
    assert attempt(port, C, "bob", USERS["bob"]) == 454
    assert attempt(port, B, "bob", USERS["bob"]) == 454
    assert attempt(port, A, "bob", USERS["bob"]) == 235
    assert 'client=[127.0.0.2], door=submission, event=auth, user="bob", mech=PLAIN, ' \
           'user-locked=yes, known-client=yes' in g.log()
    assert 'client=[127.0.0.4], door=submission, event=auth-locked, user="bob", lock=user' \
        in g.log()
    assert 'client=[127.0.0.3], door=submission, event=auth-locked, user="bob", lock=client' \
        in g.log()
    # The LOGIN mechanism takes the same path.
    c = Line(port, source=A)
    assert c.cmd("AUTH LOGIN " + b64("bob"))[0] == 334
    assert c.cmd(b64(USERS["bob"]))[0] == 235
    c.close()
    # A's wrong passwords count: A gets no unlimited guesses.
    a = Line(port, source=A)
    for _ in range(3):
        assert a.cmd("AUTH PLAIN " + plain("bob", "guess"))[0] == 535
    assert a.cmd("AUTH PLAIN " + plain("bob", USERS["bob"]))[0] == 454
    assert a.closed()
    a.close()
    assert 'client=[127.0.0.2], door=submission, event=auth-locked, user="bob", lock=client' \
        in g.log()
    assert_serving(g, "submission")


def test_a_known_clients_failures_do_not_lock_the_user(gateway, ca, tmp_path):
    """The user's own device with an old password locks itself, not the user
    everywhere: failures from a client that logged in as the user count
    against that client only."""
    g = auth_gateway(gateway, ca, tmp_path, auth_extra=STRICT)
    port = g.port("submission")
    user, pw = "alice@ours.test", USERS["alice@ours.test"]
    assert attempt(port, "127.0.0.2", user, pw) == 235
    for _ in range(3):
        assert attempt(port, "127.0.0.2", user, "old password") == 535
    assert attempt(port, "127.0.0.2", user, pw) == 454  # the phone is locked
    assert attempt(port, "127.0.0.3", user, pw) == 235  # alice is not
    # The same three failures from a client alice never used lock alice.
    for _ in range(3):
        assert attempt(port, "127.0.0.4", user, "guess") == 535
    assert attempt(port, "127.0.0.5", user, pw) == 454
    assert attempt(port, "127.0.0.3", user, pw) == 235  # known: still in


def unlock(g, *args, conf=True):
    cmdline = [BIN, "unlock", *(["-c", str(g.conf)] if conf else []), *args]
    p = subprocess.run(cmdline, capture_output=True, text=True, timeout=30, env=g.env)
    return p.returncode, p.stdout, p.stderr


def test_unlock_a_client_and_a_user(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path, auth_extra=STRICT)
    port = g.port("submission")
    c = Line(port, source="127.0.0.5")
    for n in range(3):
        assert c.cmd("AUTH PLAIN " + plain(f"nobody{n}", "guess"))[0] == 535
    c.close()
    assert attempt(port, "127.0.0.5", "bob", USERS["bob"]) == 454
    rc, out, err = unlock(g, "127.0.0.5")
    assert (rc, out, err) == (0, "unlocked client 127.0.0.5\n", "")
    assert attempt(port, "127.0.0.5", "bob", USERS["bob"]) == 235  # at once
    assert "-: event=unlock, client=127.0.0.5, was=locked" in g.log()
    # A user locked from three addresses; the lock is its own name's in any case.
    for src in ("127.0.0.6", "127.0.0.7", "127.0.0.8"):
        assert attempt(port, src, "bob", "guess") == 535
    assert attempt(port, "127.0.0.9", "bob", USERS["bob"]) == 454
    rc, out, err = unlock(g, "BOB")
    assert (rc, out) == (0, "unlocked user BOB\n"), err
    assert attempt(port, "127.0.0.9", "bob", USERS["bob"]) == 235
    assert '-: event=unlock, user="BOB", was=locked' in g.log()
    # Unlocked means forgotten: one more failure does not lock again.
    assert attempt(port, "127.0.0.6", "bob", "guess") == 535
    assert attempt(port, "127.0.0.10", "bob", USERS["bob"]) == 235
    # Failures without a lock are forgotten too, and said so.
    rc, out, err = unlock(g, "127.0.0.6")
    assert (rc, out) == (0, "forgot the failures of client 127.0.0.6 (it was not locked)\n"), err
    assert_serving(g, "submission")


def test_unlock_of_nothing_bad_arguments_and_no_daemon(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path, auth_extra=STRICT)
    for arg, text in [("198.51.100.7", "nothing to unlock for client 198.51.100.7 or user "
                                       "198.51.100.7"),
                      ("nobody", "nothing to unlock for user nobody"),
                      ("2001:db8:1:2::99", "nothing to unlock for client 2001:db8:1:2::/64"),
                      ("::ffff:192.0.2.1", "nothing to unlock for client 192.0.2.1")]:
        rc, out, err = unlock(g, arg)
        assert (rc, out) == (1, ""), (arg, out, err)
        assert err == f"gate26 unlock: error: {text}\n", (arg, err)
    assert "-: event=unlock, client=2001:db8:1:2::/64, was=nothing" in g.log()
    # Usage errors: exit 2, without asking the daemon.
    for args in ([], ["a", "b"], [""], ["two words"], ["a:b"], ["fe80::1%eth0"], ["x" * 65],
                 ["tab\there"], ["caf\u00e9"], ["-c"], ["-x"], ["--"], ["--", "a b"],
                 ["--", "x", "y"]):
        rc, out, err = unlock(g, *args)
        assert rc == 2 and "usage: gate26 unlock" in err, (args, rc, err)
    # The daemon checks the argument again (the socket is not only for gate26 unlock).
    for line, answer in [(b"unlock a:b\n", b"error: not a client address or a user name: \"a:b\"\n"),
                         (b"unlock \xff\n", b"error: not a client address or a user name: "
                                             b"\"\\xff\"\n"),
                         (b"unlock\n", b"error: unlock needs one argument: a client address or a user name\n"),
                         (b"unlock a b\n", b"error: one argument at most\n")]:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(str(g.spool / "control"))
            sock.sendall(line)
            got = b""
            while chunk := sock.recv(4096):
                got += chunk
        assert got == answer, (line, got)
    rc, out, err = unlock(g, "--", "-nobody")  # a user name may start with '-'
    assert (rc, err) == (1, "gate26 unlock: error: nothing to unlock for user -nobody\n")
    rc, out, err = unlock(g, "--help")
    assert rc == 0 and out.startswith("usage: gate26 unlock [-c FILE] [--] CLIENT|USER")
    p = subprocess.run([BIN, "help"], capture_output=True, text=True, timeout=10)
    assert "unlock [-c FILE] [--] CLIENT|USER" in p.stdout
    # The daemon does not run: 1.
    g.stop()
    rc, out, err = unlock(g, "127.0.0.5")
    assert rc == 1 and "cannot reach the daemon" in err and "is gate26 serve running?" in err


def test_a_lock_is_logged_as_auth_locked_and_fail2ban_counts_each_failure_once(gateway, ca,
                                                                                tmp_path):
    """The refused attempts of a locked client are auth-locked lines, which the
    fail2ban filter does not match: fail2ban-regex on the daemon's own log
    finds exactly the failures."""
    g = auth_gateway(gateway, ca, tmp_path, auth_extra=STRICT)
    port = g.port("submission")
    c = Line(port, source="127.0.0.2")
    for _ in range(3):
        assert c.cmd("AUTH PLAIN " + plain("bob", "guess"))[0] == 535
    c.close()
    for _ in range(2):
        assert attempt(port, "127.0.0.2", "bob", USERS["bob"]) == 454  # the client's lock
    assert attempt(port, "127.0.0.3", "bob", USERS["bob"]) == 454      # the user's
    wait_for(lambda: len(log_lines(g, "event=auth-locked")) == 3, what="the auth-locked lines")
    failed = log_lines(g, "event=auth-failed")
    assert len(failed) == 3 and failed[-1].endswith("reason=bad-credentials, locked=yes"), failed
    assert not any("reason=locked" in line for line in failed)
    if shutil.which("fail2ban-regex") is None:
        pytest.skip("fail2ban-regex is not installed")
    out = subprocess.run(["fail2ban-regex", "-o", "ip", str(g.logfile), str(F2B_FILTER)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split() == ["127.0.0.2"] * 3
