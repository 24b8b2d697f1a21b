# SPDX-License-Identifier: MIT
"""`gate26 console` (issue 15, docs/console.md "Console sessions and
requests"): the real console process beside the real daemon, spoken to
with http.client over HTTPS (the tls block's certificate) and plain HTTP
on loopback, and raw sockets for what no HTTP library sends. Every bad
input of the issue that the console serves so far gets a test: a wrong
password, a wrong and a replayed TOTP code, an expired session, a missing
or wrong CSRF token, a POST from another origin, the session cookie of
another user, path traversal, huge and malformed requests; then the
account page's app passwords used over SMTP AUTH. test_browser drives
Debian's headless Chromium with Selenium and keeps a screenshot of each
page in the test's directory."""
import re
import smtplib
import socket
import ssl
import subprocess
import time
from email.message import EmailMessage

import pytest

from conftest import BIN, free_port, wait_for
from console_web import (ADMIN, USER, USERS, browser, ca, console_conf, ctx, enrol,  # noqa: F401
                         setup, wait_next_step)
from test_app_passwords import totp
from test_auth import make_passwd, unlock

# ------------------------------------------------------------------ login and TOTP


def test_login_wrong_password_then_right(setup):
    g, con = setup()
    w = con.client()
    status, _, text = w.request("GET", "/")
    assert status == 303  # no session: to the login form
    status, _, text = w.request("GET", "/login")
    assert status == 200 and 'name="password"' in text
    status, _, text = w.login(ADMIN, "wrong horse")
    assert status == 403 and "Wrong user or password" in text and w.cookie is None
    status, _, text = w.login("nobody", "x")
    assert status == 403
    assert 'event=console-login-failed, user="alice@ours.test", reason=bad-credentials' in con.log()
    status, h, _ = w.login(ADMIN, USERS[ADMIN])
    assert status == 303 and h["Location"] == "/"
    # The cookie: a __Host- name on HTTPS, Secure, HttpOnly, SameSite=Strict, Path=/.
    assert w.set_cookie.startswith("__Host-gate26=")
    for flag in ("Path=/", "HttpOnly", "SameSite=Strict", "Secure"):
        assert flag in w.set_cookie
    assert re.fullmatch(r"__Host-gate26=[0-9a-f]{64}", w.cookie)
    status, h, text = w.request("GET", "/")
    assert status == 200 and "Overview" in text
    # The daemon's status over the control socket.
    assert re.search(r'<td id="queue">0</td>', text), text
    assert h["Content-Security-Policy"].startswith("default-src 'self'")
    assert h["X-Frame-Options"] == "DENY"
    assert "<script" not in text
    assert 'event=console-login, user="alice@ours.test", admin=yes' in con.log()


def test_totp_enrol_login_wrong_replayed_and_recovery(setup):
    g, con = setup()
    w = con.client()
    assert w.login(ADMIN, USERS[ADMIN])[0] == 303
    secret = enrol(w)
    # A wrong code does not enrol.
    status, _, text = w.post("/account/totp/confirm", {"code": "000000" if totp(secret) != "000000"
                                                       else "111111"})
    assert status == 403
    secret = enrol(w)
    status, _, text = w.post("/account/totp/confirm", {"code": totp(secret)})
    assert status == 200, text
    codes = re.findall(r"<li><code>([a-z2-7]{10})</code></li>", text)
    assert len(codes) == 10
    assert "action=totp-confirm, result=enrolled" in con.log()
    status, _, text = w.request("GET", "/account")
    assert "Enrolled" in text and "Recovery codes left: 10" in text
    assert not re.search(r"<li><code>", text)  # shown once
    assert w.post("/logout")[0] == 303 and w.cookie is None

    # Now the login asks for a code: a wrong one, then the right one.
    wait_next_step()
    b = con.client()
    status, _, text = b.login(ADMIN, USERS[ADMIN])
    assert status == 200 and 'action="/login/code"' in text
    pending = b.cookie
    assert b.request("GET", "/account")[0] == 303  # half logged in is not logged in
    status, _, text = b.post("/login/code", {"code": "12345x"})  # not a code: a recovery code?
    assert status == 403 and "Wrong code" in text
    wrong = "%06d" % ((int(totp(secret)) + 500000) % 1000000)
    status, _, text = b.post("/login/code", {"code": wrong})
    assert status == 403 and "Wrong code" in text
    good = totp(secret)
    status, h, _ = b.post("/login/code", {"code": good})
    assert status == 303 and h["Location"] == "/"
    assert b.cookie != pending  # a new id once both factors are in
    assert b.request("GET", "/account")[0] == 200
    assert 'reason=bad-totp-code' in con.log() and "reason=bad-recovery-code" in con.log()

    # The same code again, in another login: refused (each code once).
    c = con.client()
    status, _, text = c.login(ADMIN, USERS[ADMIN], code=good)
    assert status == 403 and "Wrong code" in text
    # A recovery code works once.
    d = con.client()
    status, _, _ = d.login(ADMIN, USERS[ADMIN], code=codes[0])
    assert status == 303
    e = con.client()
    status, _, _ = e.login(ADMIN, USERS[ADMIN], code=codes[0])
    assert status == 403
    assert "event=console-recovery-code-used" in con.log()


def test_totp_remove_needs_a_code(setup):
    """Turning the second factor off asks for a code (or a recovery code): an open session
    alone cannot. Without one, or with a wrong one, it stays (403)."""
    g, con = setup()
    w = con.client()
    assert w.login(ADMIN, USERS[ADMIN])[0] == 303
    secret = enrol(w)
    status, _, text = w.post("/account/totp/confirm", {"code": totp(secret)})
    assert status == 200, text
    codes = re.findall(r"<li><code>([a-z2-7]{10})</code></li>", text)
    status, _, text = w.request("GET", "/account")
    assert 'id="remove-code"' in text
    assert w.post("/account/totp/remove")[0] == 403
    wrong = "%06d" % ((int(totp(secret)) + 500000) % 1000000)
    status, _, text = w.post("/account/totp/remove", {"code": wrong})
    assert status == 403 and "the second factor stays" in text
    assert w.post("/account/totp/remove", {"code": "not-a-recovery-code"})[0] == 403
    assert "action=totp-remove, result=bad-code" in con.log()
    assert "Enrolled" in w.request("GET", "/account")[2]
    # The code used at confirmation is spent: a recovery code removes it.
    status, _, text = w.post("/account/totp/remove", {"code": codes[3]})
    assert status == 200 and "Second factor removed" in text, text
    assert "Not enrolled" in text
    assert "action=totp-remove, result=removed, with=recovery-code" in con.log()
    assert w.post("/account/totp/remove", {"code": codes[4]})[0] == 409


def test_lockout_after_failures(setup):
    g, con = setup(auth_extra="    max-failures 3/10m\n")
    w = con.client()
    for _ in range(3):
        assert w.login(USER, "wrong")[0] == 403
    status, _, text = w.login(USER, USERS[USER])
    assert status == 429 and "Too many failed logins" in text
    assert "event=console-login-locked" in con.log()
    assert "locked=yes" in con.log()


def smtp_login(g, user, password):
    """SMTP AUTH alone on the submission door (STARTTLS first)."""
    s = smtplib.SMTP("127.0.0.1", g.port("submission"), timeout=20)
    try:
        s.starttls(context=ctx())
        s.login(user, password)
    finally:
        s.close()


def test_lockout_shared_with_smtp_auth(setup):
    """The console's logins count in the daemon's AUTH lockout (the control socket's
    console-login): failures over SMTP AUTH lock the web login of that client, and failures
    at the web login lock SMTP AUTH (454 4.7.0). (With the daemon stopped, the console's own
    lockout stands alone: test_lockout_after_failures and its log.)"""
    g, con = setup(auth_extra="    max-failures 3/10m\n")
    for _ in range(3):
        # A failure that locks the client may end its session too.
        with pytest.raises((smtplib.SMTPAuthenticationError, smtplib.SMTPServerDisconnected)):
            smtp_login(g, USER, "wrong")
    w = con.client()
    status, _, text = w.login(USER, USERS[USER])
    assert status == 429 and "Too many failed logins" in text
    assert unlock(g, "127.0.0.1")[0] == 0 and unlock(g, USER)[0] == 0
    assert w.login(USER, USERS[USER])[0] == 303
    smtp_login(g, USER, USERS[USER])  # SMTP AUTH works again

    for _ in range(3):
        assert con.client().login(ADMIN, "wrong")[0] == 403
    assert "locked=yes" in con.log()
    with pytest.raises(smtplib.SMTPException) as e:
        smtp_login(g, USER, USERS[USER])
    assert getattr(e.value, "smtp_code", 454) == 454, e.value


def test_expired_session(setup):
    g, con = setup(env={"GATE26_CONSOLE_TEST_IDLE": "2"})
    w = con.client()
    assert w.login(ADMIN, USERS[ADMIN])[0] == 303
    assert w.request("GET", "/account")[0] == 200
    time.sleep(3)  # past the idle timeout: the outcome, not a timing, is asserted
    status, h, _ = w.request("GET", "/account")
    assert status == 303 and h["Location"] == "/login"
    assert w.post("/account/totp/enrol")[0] == 403
    assert "event=console-session-expired" in con.log()
    assert "idle timeout 2 s from GATE26_CONSOLE_TEST_IDLE" in con.log()


# ------------------------------------------------------------------ CSRF, origin, other users


def test_csrf_and_origin(setup):
    g, con = setup()
    w = con.client()
    assert w.login(ADMIN, USERS[ADMIN])[0] == 303
    assert w.request("GET", "/account")[0] == 200
    good = w.csrf
    assert w.post("/account/totp/enrol", csrf=None)[0] == 403  # missing
    assert w.post("/account/totp/enrol", csrf="0" * 64)[0] == 403  # wrong
    assert w.post("/account/totp/enrol", csrf=good[:-1])[0] == 403  # short
    assert w.post("/account/totp/enrol", origin="https://evil.test")[0] == 403
    assert w.post("/account/totp/enrol", origin="null")[0] == 403
    assert w.post("/account/totp/enrol", origin=False)[0] == 403  # neither Origin nor Referer
    # A login from another origin is refused too.
    assert con.client().request("POST", "/login", {"user": ADMIN, "password": USERS[ADMIN]},
                                origin="https://evil.test")[0] == 403
    assert "reason=csrf" in con.log() and "reason=origin" in con.log()
    assert "action=totp-enrol" not in con.log()
    # A Referer of the console's own page does for a missing Origin.
    status, _, text = w.post("/account/totp/enrol", origin=False,
                             headers={"Referer": con.origin + "/account"})
    assert status == 200 and 'id="secret"' in text


def test_another_users_session(setup):
    g, con = setup()
    a, b = con.client(), con.client()
    assert a.login(ADMIN, USERS[ADMIN])[0] == 303
    assert b.login(USER, USERS[USER])[1]["Location"] == "/account"
    status, _, text = a.post("/account/app-password/create", {"name": "alice's phone",
                                                              "door": "submission"})
    assert status == 200
    ident = re.search(r'name="id" value="(\d+)"', text).group(1)
    # bob, a non-admin: no admin page.
    assert b.request("GET", "/")[0] == 403
    assert 'event=console-forbidden, user="bob", path=/' in con.log()
    # bob's cookie with alice's token: refused; bob's own token cannot reach alice's id.
    status, _, _ = b.post("/account/app-password/revoke", {"id": ident}, csrf=a.csrf)
    assert status == 403
    status, _, text = b.post("/account/app-password/revoke", {"id": ident})
    assert status == 404
    status, _, text = a.request("GET", "/account")
    assert "active" in text and "alice&#39;s phone" in text
    # A made-up cookie is no session.
    forged = con.client()
    forged.cookie = "__Host-gate26=" + "a" * 64
    assert forged.request("GET", "/account")[0] == 303


# ------------------------------------------------------------------ paths and malformed requests


def raw(con, data, timeout=10):
    """Sends data as it is and returns what comes back before the server closes."""
    s = socket.create_connection(("127.0.0.1", con.port), timeout=timeout)
    if con.https:
        s = ctx().wrap_socket(s)
    out = b""
    try:
        s.sendall(data)
        while len(out) < 1 << 20:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
        pass
    finally:
        s.close()
    return out


def status_of(reply):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", reply)
    return int(m.group(1)) if m else None


def test_paths(setup):
    g, con = setup()
    w = con.client()
    assert w.login(ADMIN, USERS[ADMIN])[0] == 303
    for path in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/style.css/../../etc/passwd",
                 "/account/", "//account", "/./account", "/%61ccount", "/..%2fetc%2fpasswd",
                 "/nope", "/static/../../../etc/shadow"):
        for cookie in (None, w.cookie):
            req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{con.port}\r\nConnection: close\r\n"
            req += f"Cookie: {cookie}\r\n" if cookie else ""
            reply = raw(con, (req + "\r\n").encode())
            assert status_of(reply) == 404, (path, reply[:200])
            assert b"root:" not in reply
    assert w.request("GET", "/logout")[0] == 405
    assert w.request("POST", "/account")[0] == 405
    reply = raw(con, f"GET http://evil.test/account HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Connection: close\r\n\r\n".encode())
    assert status_of(reply) == 400
    for method in ("PUT", "DELETE", "TRACE", "OPTIONS"):
        reply = raw(con, f"{method} /account HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close"
                         f"\r\n\r\n".encode())
        assert status_of(reply) in (405, 501), (method, reply[:100])
    status, h, text = w.request("GET", "/style.css")
    assert status == 200 and h["Content-Type"].startswith("text/css")


def test_huge_and_malformed(setup):
    g, con = setup()
    host = f"Host: 127.0.0.1:{con.port}\r\n"
    # Headers over 16 KiB.
    reply = raw(con, b"GET /login HTTP/1.1\r\n" + host.encode()
                + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n")
    assert status_of(reply) in (None, 400, 413, 431), reply[:100]
    # A body over 64 KiB.
    w = con.client()
    try:
        status, _, _ = w.request("POST", "/login", body="user=a&password=" + "x" * 70000)
    except (ssl.SSLError, ConnectionError, OSError):
        status = 413  # the 413 and the close came while the body was still being sent
    assert status == 413
    w = con.client()
    # A Content-Length far beyond the limit, with no body behind it.
    reply = raw(con, b"POST /login HTTP/1.1\r\n" + host.encode()
                + b"Origin: x\r\nContent-Length: 99999999999\r\n\r\n", timeout=40)
    assert status_of(reply) in (None, 400, 413), reply[:100]
    # Malformed lines and binary junk.
    for junk in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                 b"\x00\x01\x02\xff\r\n\r\n", b"GET /login HTTP/1.1\r\nNoColonHere\r\n\r\n"):
        reply = raw(con, junk)
        assert status_of(reply) in (None, 400, 505), (junk, reply[:100])
    # A form that is not one, and a user name that cannot be one.
    status, _, _ = w.request("POST", "/login", body="%zz=%%%&&&=")
    assert status in (400, 403)
    status, _, _ = w.request("POST", "/login", {"user": "a" * 300, "password": "x"})
    assert status == 403
    status, _, _ = w.request("POST", "/login", {"user": "alice\x00", "password": "x"})
    assert status in (400, 403)
    # Still serving, and the right password still works.
    assert w.login(ADMIN, USERS[ADMIN])[0] == 303


# ------------------------------------------------------------------ app passwords over SMTP


def send(g, user, password, door="submission"):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = user, "someone@ours.test", "via an app password"
    msg.set_content("hello\n")
    port = g.port(door)
    s = smtplib.SMTP("127.0.0.1", port, timeout=20)
    try:
        s.starttls(context=ctx())
        s.login(user, password)
        s.send_message(msg, from_addr=user, to_addrs=["someone@ours.test"])
    finally:
        s.close()


def test_app_password_made_in_console_used_over_smtp(setup):
    g, con = setup()
    w = con.client()
    assert w.login(ADMIN, USERS[ADMIN])[0] == 303
    status, _, text = w.post("/account/app-password/create",
                             {"name": "<b>laptop</b>", "door": ["submission"]})
    assert status == 200, text
    password = re.search(r'id="app-password">([a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4})<',
                         text).group(1)
    assert "&lt;b&gt;laptop&lt;/b&gt;" in text and "<b>laptop" not in text
    ident = re.search(r'name="id" value="(\d+)"', text).group(1)
    send(g, ADMIN, password)
    status, _, text = w.request("GET", "/account")
    assert "127.0.0.1" in text and password not in text  # last use, from where; never the text
    # Bad forms: an unknown door, a door twice, no door, no name.
    assert w.post("/account/app-password/create", {"name": "x", "door": "inbound"})[0] == 400
    assert w.post("/account/app-password/create",
                  {"name": "x", "door": ["submission", "submission"]})[0] == 400
    assert w.post("/account/app-password/create", {"name": "x"})[0] == 400
    assert w.post("/account/app-password/create", {"name": "", "door": "submission"})[0] == 400
    assert w.post("/account/app-password/revoke", {"id": "1 OR 1=1"})[0] == 400
    # Revoked: AUTH fails as a wrong password does.
    assert w.post("/account/app-password/revoke", {"id": ident})[0] == 200
    assert w.post("/account/app-password/revoke", {"id": ident})[0] == 409
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        send(g, ADMIN, password)
    assert e.value.smtp_code == 535
    log = con.log()
    assert f'user="alice@ours.test", admin=yes, action=app-password-create, id={ident}' in log
    assert f"action=app-password-revoke, id={ident}" in log


# ------------------------------------------------------------------ plain HTTP


def test_plain_http_on_loopback(setup):
    g, con = setup(https=False)
    w = con.client()
    assert w.login(ADMIN, USERS[ADMIN])[0] == 303
    assert w.set_cookie.startswith("gate26=") and "Secure" not in w.set_cookie
    assert "HttpOnly" in w.set_cookie and "SameSite=Strict" in w.set_cookie
    assert w.request("GET", "/account")[0] == 200
    assert "event=console-plain-http" in con.log()


def test_plain_http_refused_off_loopback(gateway, tmp_path):
    pw = make_passwd(tmp_path / "passwd", USERS)
    g = gateway(extra=f"auth {{\n    passwd {pw}\n}}\n"
                      + console_conf(free_port(), address=f"0.0.0.0:{free_port()}"))
    p = subprocess.run([BIN, "console", "-c", str(g.conf)], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 1
    assert re.search(r"gate26\.conf:\d+: console address 0\.0\.0\.0:\d+ is not loopback", p.stderr), \
        p.stderr


def test_usage_and_bad_config(tmp_path):
    p = subprocess.run([BIN, "console", "--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "usage: gate26 console" in p.stdout
    p = subprocess.run([BIN, "console", "extra"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    bad = tmp_path / "bad.conf"
    bad.write_text("console {\n    admins a:b\n}\n")
    p = subprocess.run([BIN, "console", "-c", str(bad)], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 1 and f"{bad}:2: admins: 'a:b' is not a user name" in p.stderr


# ------------------------------------------------------------------ a real browser


def test_browser(setup, browser):
    """Debian's headless Chromium through Selenium: log in, enrol TOTP with a code computed
    here, log out and in again with a code, make an app password and send mail with it,
    revoke it and see AUTH fail; a non-admin gets 403 on the overview. A screenshot of each
    page is kept as an artifact (console_web.browser says where)."""
    from selenium.webdriver.common.by import By

    g, con = setup()
    br = browser(con)
    drv, find, shot = br.drv, br.find, br.shot
    br.login(ADMIN)
    shot("login")
    wait_for(lambda: "Overview" in drv.title, what="the overview")
    assert drv.find_element(By.ID, "queue").text == "0"
    shot("overview")
    br.get("/account")
    shot("account")
    find("totp-enrol").click()
    secret = find("secret").text
    assert find("qr").is_displayed()
    shot("account-enrol")
    drv.find_element(By.ID, "confirm-code").send_keys(totp(secret))
    drv.find_element(By.ID, "confirm").click()
    find("recovery")
    codes = drv.find_elements(By.CSS_SELECTOR, "#recovery code")
    assert len(codes) == 10
    shot("account-recovery-codes")
    drv.find_element(By.ID, "logout").click()
    find("login")
    wait_next_step()
    br.login(ADMIN, code=lambda: totp(secret))
    wait_for(lambda: "Overview" in drv.title, what="the overview after the code")

    br.get("/account")
    find("app-name").send_keys("browser's phone")
    drv.find_element(By.ID, "app-create").click()
    password = find("app-password").text
    assert re.fullmatch(r"[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}", password)
    shot("account-app-password")
    send(g, ADMIN, password)
    br.get("/account")
    assert "127.0.0.1" in find("app-passwords").text
    drv.find_element(By.CSS_SELECTOR, "#app-passwords button[id^=revoke-]").click()
    find("app-passwords", "revoked")
    shot("account-revoked")
    with pytest.raises(smtplib.SMTPAuthenticationError):
        send(g, ADMIN, password)
    drv.find_element(By.ID, "logout").click()
    find("login")

    br.login(USER)
    wait_for(lambda: "Account" in drv.title, what="bob's account page")
    for path in ("/", "/tracking", "/queue", "/quarantine", "/alerts", "/scanners", "/doors"):
        br.get(path)
        assert "Forbidden" in drv.title, path
    shot("forbidden")
    assert len(list(br.shots.iterdir())) >= 8


def test_passwd_change_and_daemon_stopped(setup, tmp_path):
    """A user locked with `gate26 passwd --lock` after the console started cannot log in (the
    file is read again when it changed); with the daemon stopped the overview says why."""
    g, con = setup()
    w = con.client()
    assert w.login(USER, USERS[USER])[0] == 303
    p = subprocess.run([BIN, "passwd", "-f", str(tmp_path / "passwd"), "--lock", USER],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    status, _, _ = con.client().login(USER, USERS[USER])
    assert status == 403
    assert "event=console-passwd, status=read, users=2" in con.log()
    assert 'user="bob", reason=user-locked' in con.log()
    a = con.client()
    assert a.login(ADMIN, USERS[ADMIN])[0] == 303
    g.stop()
    status, _, text = a.request("GET", "/")
    assert status == 200 and 'id="status-error"' in text and "not running" in text, text
