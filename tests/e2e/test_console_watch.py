# SPDX-License-Identifier: MIT
"""The console's watch pages (issue 15; docs/console.md, "Alerts",
"Scanners", "Doors") with the real daemon, its console and real peers:
failed AUTH attempts (smtplib) fire an alert rule, seen firing and in the
history on /alerts (a user name tried that is markup shows as text; a
webhook's secret path never shows); Mirai-fingerprinted SYNs (scapy, captured
by the sensor) and scanner sessions (an HTTP request line and binary octets
on a plain door) show on /scanners, whose ?top= is
validated; /doors shows each door's settings and each certificate's expiry
(one of a CA's certificates that expires in a few days is marked), and the
`gate26 check` run from its button gives a verdict. Each page in Chromium,
with a screenshot."""
import html
import json
import os
import re
import signal
import smtplib
import subprocess
import time
from pathlib import Path

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
    br.find("logout")  # logged in: the landing page is there
    br.get("/alerts")
    assert "127.0.0.1" in br.find("firing").text
    assert evil in br.find("history").text  # shown as text
    br.shot("alerts")


def test_alerts_page_without_rules(setup):
    g, con = setup()
    w = admin(con)
    status, _, text = w.request("GET", "/alerts")
    assert status == 200 and 'id="rules-none"' in text and 'id="firing-none"' in text
    assert alerts_json(g) == {"rules": [], "firing": [], "firing_cut": False, "history": [],
                              "history_cut": False}


def test_alerts_page_daemon_down_is_503(setup):
    g, con = setup()
    w = admin(con)
    g.stop()
    status, _, text = w.request("GET", "/alerts")
    assert status == 503, text


# ------------------------------------------------------------------ scanners


def test_scanners_page_shows_scanner_sessions(setup, browser):
    from test_scanners import DST, send_syns

    g, con = setup(extra="watch {\n    capture lo\n}\n")
    port = g.port("submission")  # plain until STARTTLS: scanner sessions are sniffed there
    # 20 Mirai-fingerprinted SYNs (sequence number == destination address) from 127.0.0.40,
    # captured by the sensor.
    send_syns(port, [("127.0.0.40", DST)] * 20)
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
        return text if text.count('<tr class="source">') >= 4 else None
    wait_for(rows, 60, "four scanner sources on the page")
    text = rows()
    src = table(text, "scanner-sources")
    for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.40"):
        assert a in src
    # The Mirai source first (most Mirai SYNs plus sessions), its 20 SYNs on the door's port.
    first = re.search(r'<tr class="source">(.*?)</tr>', src).group(1)
    assert first.startswith(f"<td>127.0.0.40</td><td>20</td><td>0</td>"), first
    assert f"<td>{port}</td>" in first
    http_row = re.search(r'<tr class="source"><td>127.0.0.2</td>(.*?)</tr>', src).group(1)
    assert http_row.startswith("<td>0</td><td>0</td><td>0</td><td>1</td>"), http_row  # http
    net = table(text, "scanner-networks")
    assert re.search(r"<td>127.0.0.0/24</td><td>20</td><td>0</td><td>3</td><td>4</td>", net), net
    assert 'id="scanner-mirai">20<' in text
    assert re.search(r'<th>Capture</th><td>lo</td>', table(text, "scanner-summary"))
    # ?top=N bounds the rows.
    status, _, text = w.request("GET", "/scanners?top=1")
    assert status == 200 and text.count('<tr class="source">') == 1
    assert 'id="scanner-mirai">20<' in text
    status, _, text = w.request("GET", "/scanners?top=1000")
    assert status == 200 and text.count('<tr class="source">') == 4

    br = browser(con)
    br.login(ADMIN)
    br.find("logout")  # logged in: the landing page is there
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


# ------------------------------------------------------------------ doors


def doors_tls(ca, expiring_days=5):
    """A tls block of two certificates of ca: the served one (30 days) and one that expires in
    expiring_days; the CA as ca-file, so that the check verifies the chain."""
    good = ca.issue("gate26.test", "127.0.0.1")
    soon = ca.issue("soon.test", "www.soon.test", days=expiring_days)
    return (f"    cert {good[0]}\n    key {good[1]}\n    cert {soon[0]}\n    key {soon[1]}\n"
            f"    ca-file {ca.pem}"), good, soon


def cert_row(text, i):
    m = re.search(rf'<tr id="cert-{i}"([^>]*)>(.*?)</tr>', text, re.S)
    assert m, text
    return m.group(1), m.group(2)


def test_doors_page_settings_and_certificates(setup, ca):
    tls, good, soon = doors_tls(ca)
    g, con = setup(tls=tls, extra="checks submission {\n    spf on\n}\n")
    w = admin(con)
    status, _, text = w.request("GET", "/doors")
    assert status == 200, text
    doors = table(text, "doors")
    for role in ("submission", "submissions"):
        m = re.search(rf'<tr id="door-{role}">(.*?)</tr>', doors, re.S)
        assert m, doors
        row = m.group(1)
        assert f"127.0.0.1:{g.port(role)}" in row
        assert "required, offered inside TLS" in row
        assert "max-message-size" in row and "anyone" in row
    assert "starttls" in re.search(r'<tr id="door-submission">(.*?)</tr>', doors, re.S).group(1)
    assert "implicit" in re.search(r'<tr id="door-submissions">(.*?)</tr>', doors,
                                   re.S).group(1)
    assert "spf on" in re.search(r'<tr id="door-submission">(.*?)</tr>', doors, re.S).group(1)
    assert re.search(r'<tr id="door-submissions">.*?<td>none</td></tr>', doors, re.S)
    # The certificates: the served one is fine, the other expires in 5 days: red.
    attrs, row = cert_row(text, 0)
    assert 'class' not in attrs and str(good[0]) in row and "gate26.test" in row
    assert "127.0.0.1" in row and "gate26 test CA" in row
    assert re.search(r'<td class="days">(29|30)</td>', row), row
    attrs, row = cert_row(text, 1)
    assert "expiring" in attrs and str(soon[0]) in row and "www.soon.test" in row
    assert re.search(r'<td class="days">[45]</td>', row), row
    assert 'id="check-status">not run yet<' in text


def test_doors_expired_and_unreadable_certificates(setup, ca, tmp_path):
    good = ca.issue("gate26.test", "127.0.0.1")
    old = ca.issue("old.test", days=-2)
    g, con = setup(tls=f"    cert {good[0]}\n    key {good[1]}\n    cert {old[0]}\n"
                       f"    key {old[1]}")
    w = admin(con)
    # The file changes after the start: the page reads it again (here: no longer a cert).
    Path(old[0]).write_text("<script>not a certificate</script>\n")
    status, _, text = w.request("GET", "/doors")
    assert status == 200
    attrs, row = cert_row(text, 1)
    assert "error" in attrs and "no certificate in" in row
    old_cert = ca.issue("old.test", days=-2)  # written again: expired
    status, _, text = w.request("GET", "/doors")
    attrs, row = cert_row(text, 1)
    assert "expiring" in attrs and "(expired)" in row and "old.test" in row, row
    assert old_cert[0] == old[0]


def test_doors_check_from_the_page(setup, ca, browser):
    tls, _, _ = doors_tls(ca)
    g, con = setup(tls=tls)
    w = admin(con)
    status, _, text = w.request("GET", "/doors")
    assert 'id="run-check"' in text
    # Without its CSRF token, or from another origin: refused, nothing runs.
    status, _, _ = w.post("/doors/check", csrf=False)
    assert status == 403
    status, _, _ = w.post("/doors/check", origin="https://evil.test")
    assert status == 403
    assert "action=doors-check" not in con.log()
    status, _, text = w.post("/doors/check")
    assert status == 200, text
    assert "gate26 check started on 2 addresses." in text
    assert re.search(r'event=console-action, user="alice@ours.test", admin=yes, '
                     r'action=doors-check, targets=2, pid=\d+', con.log())

    def ended():
        status, _, text = w.request("GET", "/doors")
        assert status == 200
        return text if "last run ended" in text else None
    wait_for(ended, 90, "the check's verdict on the page")
    text = ended()
    level = re.search(r'id="check-level">(\w+)<', text).group(1)
    assert level in ("ok", "info", "warn", "critical")
    findings = table(text, "check-findings")
    for role in ("submission", "submissions"):
        assert f"127.0.0.1 port {g.port(role)}" in findings
    assert "event=console-doors-check, status=done" in con.log()
    # A port that speaks STARTTLS and one that speaks implicit TLS: each probed as it speaks.
    ports = table(text, "check-ports")
    sub = re.search(rf"127.0.0.1 port {g.port('submission')}</td>(.*?)</tr>", ports).group(1)
    subs = re.search(rf"127.0.0.1 port {g.port('submissions')}</td>(.*?)</tr>", ports).group(1)
    # Each door probed as it speaks: STARTTLS on one, implicit TLS on the other; the chain
    # verified with the tls block's ca-file.
    assert "<td>open</td>" in sub and "starttls TLSv1." in sub and "verified" in sub, sub
    assert "<td>open</td>" in subs and "implicit TLSv1." in subs and "gate26.test" in subs, subs

    br = browser(con)
    br.login(ADMIN)
    br.find("logout")  # logged in: the landing page is there
    br.get("/doors")
    br.find("run-check").click()
    br.find("note", "gate26 check started")
    wait_for(lambda: (br.get("/doors"), "last run ended" in br.find("check-status").text)[1],
             90, "the verdict in the browser")
    assert br.find("check-level").text in ("ok", "info", "warn", "critical")
    br.shot("doors")
    br.find("cert-1").location_once_scrolled_into_view  # the certificates and the verdict
    br.shot("doors-certificates-check")


def test_doors_check_one_at_a_time_and_killed_after_60s(setup, ca):
    tls, _, _ = doors_tls(ca)
    g, con = setup(tls=tls)
    w = admin(con)
    os.kill(g.pid, signal.SIGSTOP)  # its doors take connections (the backlog), never greet
    try:
        status, _, text = w.post("/doors/check")
        assert status == 200, text
        pid = int(re.search(r"action=doors-check, targets=2, pid=(\d+)", con.log()).group(1))
        os.kill(pid, signal.SIGSTOP)  # and the check itself stopped: it cannot end on its own
        status, _, text = w.post("/doors/check")
        assert status == 409 and "A check is already running." in text
        assert con.log().count("action=doors-check, targets=") == 1
        status, _, text = w.request("GET", "/doors")
        assert "running (started" in text and re.search(r'id="run-check"[^>]*disabled', text)

        def killed():
            time.sleep(1)
            return "no verdict within 60 s: killed" in w.request("GET", "/doors")[2]
        wait_for(killed, 120, "the check killed after 60 s")
        assert not os.path.exists(f"/proc/{pid}") or f" {con.proc.pid} " not in \
            open(f"/proc/{pid}/stat").read().split(")")[1][:40]
        assert ('event=console-doors-check, status=failed, user="alice@ours.test", '
                'error="no verdict within 60 s: killed"') in con.log()
    finally:
        os.kill(g.pid, signal.SIGCONT)
    # Another run goes now, and gives a verdict.
    status, _, text = w.post("/doors/check")
    assert status == 200, text
    wait_for(lambda: (time.sleep(0.5), "last run ended" in w.request("GET", "/doors")[2]
                      and 'id="check-level"' in w.request("GET", "/doors")[2])[1],
             90, "the second run's verdict")


def test_doors_check_child_is_killed_at_the_console_stop(setup, ca):
    tls, _, _ = doors_tls(ca)
    g, con = setup(tls=tls)
    w = admin(con)
    status, _, text = w.post("/doors/check")
    assert status == 200, text
    pid = int(re.search(r"action=doors-check, targets=2, pid=(\d+)", con.log()).group(1))
    con.stop()  # asserts a clean exit without sanitizer reports
    # Reaped (or killed and reaped): no process, no zombie, left with its pid as our child.
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        assert f" {con.proc.pid} " not in stat.split(")")[1][:40], stat
    except FileNotFoundError:
        pass


def test_doors_needs_an_admin(setup):
    g, con = setup()
    w = con.client()
    assert w.login(USER, USERS[USER])[0] == 303
    assert w.request("GET", "/doors")[0] == 403
    assert w.post("/doors/check")[0] == 403
    assert "action=doors-check" not in con.log()
