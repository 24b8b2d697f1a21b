# SPDX-License-Identifier: MIT
"""What the console's tests share (docs/console.md, "Tests"): the `gate26
console` process (stopped by PID), an HTTP client with its cookie and CSRF
token, the `setup` fixture (the daemon with AUTH and TLS, and a console),
and `browser`: Debian's headless Chromium through Selenium, with a
screenshot directory kept as an artifact."""
import http.client
import re
import ssl
import subprocess
import time

import pytest

from certs import CA
from conftest import BIN, SANITIZER_MARKS, free_port, wait_for
from test_auth import make_passwd

ADMIN, USER = "alice@ours.test", "bob"
USERS = {ADMIN: "correct horse", USER: "battery staple"}


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class Console:
    """A `gate26 console` process (stopped by PID) and its log."""

    def __init__(self, g, port, https, env=None):
        self.g, self.port, self.https = g, port, https
        self.logfile = g.dir / "console.log"
        logf = open(self.logfile, "ab")
        self.proc = subprocess.Popen([BIN, "console", "-c", str(g.conf)], stdout=logf,
                                     stderr=subprocess.STDOUT, env={**g.env, **(env or {})})
        logf.close()
        wait_for(lambda: "event=console-start" in self.log() or self.proc.poll() is not None,
                 what="gate26 console to start")
        assert self.proc.poll() is None, self.log()
        self.origin = ("https://" if https else "http://") + f"127.0.0.1:{port}"

    def log(self):
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        text = self.log()
        for mark in SANITIZER_MARKS:
            assert mark not in text, text[-5000:]
        assert self.proc.returncode == 0, text[-3000:]

    def client(self):
        return Web(self)


class Web:
    """One browser's worth of state: its cookie, the last page's CSRF token."""

    def __init__(self, con):
        self.con = con
        self.cookie = None
        self.csrf = None

    def request(self, method, path, fields=None, origin=True, headers=None, body=None):
        con = self.con
        if con.https:
            c = http.client.HTTPSConnection("127.0.0.1", con.port, timeout=20, context=ctx())
        else:
            c = http.client.HTTPConnection("127.0.0.1", con.port, timeout=20)
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = self.cookie
        if method == "POST":
            if origin is True:
                h["Origin"] = con.origin
            elif origin:
                h["Origin"] = origin
            if body is None:
                from urllib.parse import urlencode
                body = urlencode(fields or {}, doseq=True)
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        text = r.read().decode(errors="replace")
        c.close()
        name = "__Host-gate26" if con.https else "gate26"
        for value in r.headers.get_all("Set-Cookie") or []:
            pair = value.split(";")[0]
            if pair.startswith(name + "="):
                self.cookie = None if "Max-Age=0" in value else pair
                self.set_cookie = value
        m = re.search(r'name="csrf" value="([0-9a-f]{64})"', text)
        if m:
            self.csrf = m.group(1)
        return r.status, r.headers, text

    def post(self, path, fields=None, csrf=True, **kw):
        fields = dict(fields or {})
        if csrf is True:
            fields["csrf"] = self.csrf
        elif csrf:
            fields["csrf"] = csrf
        return self.request("POST", path, fields, **kw)

    def login(self, user, password, code=None):
        """Logs in (with code, the second factor); on success, the page it leads to is
        fetched too, so that self.csrf is the session's token. Returns the login's answer."""
        got = self.request("POST", "/login", {"user": user, "password": password})
        if code is not None:
            assert got[0] == 200 and 'action="/login/code"' in got[2], got
            got = self.post("/login/code", {"code": code})
        if got[0] == 303:
            self.request("GET", "/account")
        return got


def console_conf(port, admins=ADMIN, address=None):
    return (f"console {{\n    address {address or f'127.0.0.1:{port}'}\n"
            f"    admins {admins}\n}}\n")


@pytest.fixture
def ca(tmp_path):
    return CA(tmp_path / "pki")


@pytest.fixture
def setup(gateway, ca, tmp_path):
    """The daemon with AUTH on its submission doors and TLS, and a console over HTTPS.
    domains: more domain blocks (as the gateway fixture takes them), extra: more
    configuration, delivery: the delivery block's inside (default: queue only)."""
    started = []

    def make(env=None, https=True, auth_extra="", address=None, domains=None, extra="",
             delivery=None, doors=None, tls=None):
        """doors: the listen blocks (None: submission and submissions on HTTPS, else the
        default doors)."""
        port = free_port()
        pw = make_passwd(tmp_path / "passwd", USERS)
        more = {"delivery": delivery} if delivery is not None else {}
        if doors is None and https:
            doors = {"submission": {}, "submissions": {}}
        g = gateway(doors=doors,
                    domains={"ours.test": None, **(domains or {})},
                    tls=(tls or ca.issue("gate26.test", "127.0.0.1")) if https else None,
                    extra=f"auth {{\n    passwd {pw}\n{auth_extra}}}\n"
                          + console_conf(port, address=address) + extra, **more)
        c = Console(g, port, https, env)
        started.append(c)
        return g, c

    yield make
    for c in started:
        c.stop()


def enrol(web):
    """Enrols web's user in TOTP through the account page; returns the secret."""
    status, _, text = web.post("/account/totp/enrol")
    assert status == 200, text
    secret = re.search(r'id="secret">([A-Z2-7]+)<', text).group(1)
    uri = re.search(r'id="uri">([^<]+)<', text).group(1)
    assert uri.startswith("otpauth://totp/gate26:") and f"secret={secret}" in uri
    assert "<svg" in text and 'id="qr"' in text
    return secret


def wait_next_step():
    """Sleeps into the next 30-second TOTP step (a code is used once: a second login needs a
    new one). At most 31 s."""
    step = int(time.time() // 30)
    wait_for(lambda: int(time.time() // 30) > step, timeout=35, what="the next TOTP step")



class Browser:
    """Debian's Chromium, headless, through Selenium and chromedriver (no browser download)."""

    def __init__(self, con, profile, shots):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.con, self.shots = con, shots
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                  "--ignore-certificate-errors", "--window-size=1200,1000",
                  f"--user-data-dir={profile}"):
            opts.add_argument(a)
        self.drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        self.drv.set_page_load_timeout(30)

    def shot(self, name):
        self.drv.save_screenshot(str(self.shots / f"{name}.png"))

    def get(self, path):
        self.drv.get(self.con.origin + path)

    def find(self, ident, text=None):
        """The element ident once the page after a click has it (with text in it)."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By

        def ready():
            try:
                found = self.drv.find_elements(By.ID, ident)
                return found and (text is None or text in found[0].text)
            except StaleElementReferenceException:
                return False
        wait_for(ready, timeout=20, what=f"#{ident} in the page")
        return self.drv.find_element(By.ID, ident)

    def login(self, user, code=None):
        from selenium.webdriver.common.by import By

        self.get("/login")
        self.find("user").send_keys(user)
        self.drv.find_element(By.ID, "password").send_keys(USERS[user])
        self.drv.find_element(By.ID, "login").click()
        if code is not None:
            self.find("code")
            self.shot("login-code")
            self.drv.find_element(By.ID, "code").send_keys(code())
            self.drv.find_element(By.ID, "verify").click()
        # Landed: a click returns before its navigation ends, and a get() right after it
        # could go out with no session yet.
        self.find("logout")

    def quit(self):
        self.drv.quit()


@pytest.fixture
def browser(tmp_path, tmp_path_factory):
    """browser(con) starts a Chromium for the console con (quit at the end). Screenshots go
    to pytest's own temporary directory (kept after the run, unlike tmp_path):
    .../console-screenshots*/NAME.png."""
    started = []
    shots = tmp_path_factory.mktemp("console-screenshots")
    print(f"screenshots: {shots}")

    def make(con):
        b = Browser(con, tmp_path / f"chromium{len(started)}", shots)
        started.append(b)
        return b

    yield make
    for b in started:
        b.quit()
