# SPDX-License-Identifier: MIT
"""The console's watch pages (issue 15; docs/console.md, "Alerts",
"Scanners", "Doors") with the real daemon, its console and real peers:
failed AUTH attempts (smtplib) fire an alert rule, seen firing and in the
history on /alerts (a user name tried that is markup shows as text; a
webhook's secret path never shows); scanner sessions (an HTTP request line
and binary octets on a plain door) show on /scanners, whose ?top= is
validated; /doors shows each door's settings and each certificate's expiry
(one of a CA's certificates that expires in a few days is marked), and the
`gate26 check` run from its button gives a verdict. Each page in Chromium,
with a screenshot."""
import html
import json
import re
import smtplib
import subprocess

import pytest

from conftest import BIN, Raw, wait_for
from console_web import ADMIN, USER, USERS, browser, ca, ctx, setup  # noqa: F401

SECRET = "s3cr3t-hook-token"


def fail_logins(g, n, user="alice@ours.test", role="submission"):
    """n failed AUTH PLAIN attempts, each on its own session after STARTTLS."""
    for _ in range(n):
        with smtplib.SMTP("127.0.0.1", g.port(role), timeout=10) as s:
            s.starttls(context=ctx())
            s.ehlo("client.test")
            s.user, s.password = user, "wrong password"
            try:
                s.auth("PLAIN", s.auth_plain)
            except smtplib.SMTPAuthenticationError:
                pass
            except smtplib.SMTPResponseException as e:  # locked: 454
                assert e.smtp_code == 454
            except smtplib.SMTPServerDisconnected:
                pass


def alerts_json(g):
    """The daemon's alerts-json document, asked on the control socket directly."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(g.spool / "control"))
    s.sendall(b"alerts-json\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    status, _, body = data.decode().partition("\n")
    assert status == "ok", data
    return json.loads(body)


RULES = (
    "alert auth-burst {\n    when failed-auth\n    over 3 in 1m\n    per client\n"
    "    door submission\n"
    f"    webhook http://ops:pw@127.0.0.1:9/hooks/{SECRET}?token={SECRET}\n"
    "    mail ops@ours.test\n}\n"
    "alert user-burst {\n    when failed-auth\n    over 2 in 1m\n    per user\n}\n")


def admin(con):
    w = con.client()
    status, _, text = w.login(ADMIN, USERS[ADMIN])
    assert status == 303, text
    return w


def table(text, ident):
    m = re.search(rf'<table id="{ident}">(.*?)</table>', text, re.S)
    assert m, f"no table {ident} in {text[:3000]}"
    return m.group(1)


def test_alerts_page_rules_firing_history(setup, browser):
    g, con = setup(extra=RULES)
    w = admin(con)
    status, _, text = w.request("GET", "/alerts")
    assert status == 200, text
    rules = table(text, "rules")
    assert "auth-burst" in rules and "user-burst" in rules and "failed-auth" in rules
    assert "webhook http://127.0.0.1:9" in rules and "mail ops@ours.test" in rules
    assert SECRET not in text and "ops:pw" not in text
    assert 'id="firing-none"' in text and 'id="history-none"' in text
    doc = alerts_json(g)
    assert [r["name"] for r in doc["rules"]] == ["auth-burst", "user-burst"]
    r = doc["rules"][0]
    assert r["threshold"] == 3 and r["window"] == 60 and r["per"] == "client"
    assert r["doors"] == ["submission"] and r["notify"]["webhooks"] == ["http://127.0.0.1:9"]
    assert doc["rules"][1]["doors"] == ["inbound", "internal", "submission", "submissions"]
    assert SECRET not in json.dumps(doc)

    evil = "<script>alert(1)</script>"
    fail_logins(g, 3, user=evil)
    wait_for(lambda: len(alerts_json(g)["firing"]) >= 2, 20, "both rules to fire")
    doc = alerts_json(g)
    keys = {(a["rule"], a["key"]) for a in doc["firing"]}
    assert ("auth-burst", "127.0.0.1") in keys and ("user-burst", evil) in keys, keys
    hist = doc["history"]
    assert {h["rule"] for h in hist} == {"auth-burst", "user-burst"}
    assert all(h["state"] == "firing" for h in hist)
    assert [h["time"] for h in hist] == sorted((h["time"] for h in hist), reverse=True)
    (h,) = [h for h in hist if h["rule"] == "auth-burst"]
    assert h["key"] == "127.0.0.1" and h["value"] == 3 and h["threshold"] == 3
    assert h["window"] == 60 and h["door"] == "submission" and h["when"] == "failed-auth"

    status, _, text = w.request("GET", "/alerts")
    assert status == 200
    firing, history = table(text, "firing"), table(text, "history")
    assert "auth-burst" in firing and "127.0.0.1" in firing
    assert html.escape(evil, quote=False) in firing and evil not in text
    assert history.count('class="fired"') == 2 and "submission" in history
    assert "<script" not in text

    br = browser(con)
    br.login(ADMIN)
    br.get("/alerts")
    assert "127.0.0.1" in br.find("firing").text
    assert evil in br.find("history").text  # shown as text
    br.shot("alerts")


def test_alerts_page_without_rules(setup):
    g, con = setup()
    w = admin(con)
    status, _, text = w.request("GET", "/alerts")
    assert status == 200 and 'id="rules-none"' in text and 'id="firing-none"' in text
    assert alerts_json(g) == {"rules": [], "firing": [], "history": []}


def test_alerts_page_daemon_down_is_503(setup):
    g, con = setup()
    w = admin(con)
    g.stop()
    status, _, text = w.request("GET", "/alerts")
    assert status == 503, text


# ------------------------------------------------------------------ scanners


def test_scanners_page_shows_scanner_sessions(setup, browser):
    g, con = setup()
    port = g.port("submission")  # plain until STARTTLS: scanner sessions are sniffed there
    r = Raw(port, source="127.0.0.2")
    r.expect(220)
    r.send(b"GET /wp-login.php HTTP/1.1\r\nHost: x\r\n\r\n")
    r.close()
    for source in ("127.0.0.3", "127.0.0.4"):
        r = Raw(port, source=source)
        r.expect(220)
        r.send(b"\x00\xff<b>\r\n")
        r.close()
    w = admin(con)

    def rows():
        status, _, text = w.request("GET", "/scanners")
        assert status == 200, text
        return text if text.count('<tr class="source">') >= 3 else None
    wait_for(rows, 20, "three scanner sources on the page")
    text = rows()
    src = table(text, "scanner-sources")
    for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        assert a in src
    assert "127.0.0.0/24" in table(text, "scanner-networks")
    assert 'id="scanner-mirai">0<' in text and 'id="scanner-summary"' in text
    # ?top=N bounds the rows.
    status, _, text = w.request("GET", "/scanners?top=1")
    assert status == 200 and text.count('<tr class="source">') == 1
    status, _, text = w.request("GET", "/scanners?top=1000")
    assert status == 200 and text.count('<tr class="source">') == 3

    br = browser(con)
    br.login(ADMIN)
    br.get("/scanners")
    assert "127.0.0.2" in br.find("scanner-sources").text
    br.shot("scanners")


@pytest.mark.parametrize("top", ["0", "1001", "-1", "abc", "1e3", "01", "%20", "", "99999",
                                 "+5", "12345678901234567890"])
def test_scanners_bad_top_is_400(setup, top):
    g, con = setup()
    w = admin(con)
    status, _, text = w.request("GET", f"/scanners?top={top}")
    assert status == 400 and "from 1 to 1000" in text, (top, status)


def test_scanners_needs_an_admin(setup):
    g, con = setup()
    w = con.client()
    assert w.login(USER, USERS[USER])[0] == 303
    assert w.request("GET", "/scanners")[0] == 403
    assert w.request("GET", "/alerts")[0] == 403
