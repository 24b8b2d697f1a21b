# SPDX-License-Identifier: MIT
"""The console's overview (GET /, docs/console.md "Overview"): real traffic
through the daemon (sessions, a message with smtplib, a refused RCPT, failed
AUTH on the submission door), then the page's counts per door, its two SVG
charts per door with their polylines, the daemon's `series-json` on the
control socket (1440 counts per value, adding up to the counts since
start), the refresh and its bad parameter, the alerts firing, the daemon
stopped (the page still answers, saying why), and a browser test whose
screenshot is the README's."""
import json
import re
import smtplib
import ssl
import time
from email.message import EmailMessage
from html import unescape

from conftest import wait_for
from console_web import ADMIN, USERS, browser, ca, ctx, setup  # noqa: F401
from test_status import control

VALUES = ("connections", "messages", "refusals", "auth_failures")
DOORS = {"inbound": {"tls": "none"}, "submission": {}, "submissions": {}}
# No lockout in the way of the failed AUTHs; rules that fire on the first one (per client, per
# user).
AUTH_EXTRA = "    max-failures 1000/10m\n"
ALERT = ("alert auth-burst {\n    when failed-auth\n    over 1 in 10m\n    per client\n}\n"
         "alert user-burst {\n    when failed-auth\n    over 1 in 10m\n    per user\n"
         "    door submission\n}\n")
HOSTILE = "<script>alert(1)</script>"


def start(setup):
    return setup(doors=DOORS, auth_extra=AUTH_EXTRA, extra=ALERT)


def series(g):
    answer = control(g, "series-json")
    assert answer.startswith("ok\n"), answer[:200]
    body = answer[3:]
    assert body.endswith("\n") and "\n" not in body[:-1] and " " not in body  # compact
    return json.loads(body)


def status(g):
    answer = control(g, "status-json")
    assert answer.startswith("ok\n"), answer[:200]
    return json.loads(answer[3:])


def message(g, n=1):
    """n messages in one session on the inbound door (each session is a connection)."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@sender.test", "someone@ours.test", "overview"
    msg.set_content("hello\n")
    with smtplib.SMTP("127.0.0.1", g.port("inbound"), timeout=20) as s:
        for _ in range(n):
            s.send_message(msg, from_addr="a@sender.test", to_addrs=["someone@ours.test"])


def refused_rcpt(g, n=1):
    """n RCPTs to a domain that is not ours, in one session on inbound: 550 each."""
    with smtplib.SMTP("127.0.0.1", g.port("inbound"), timeout=20) as s:
        s.ehlo("client.test")
        assert s.mail("a@sender.test")[0] == 250
        for i in range(n):
            code, text = s.rcpt(f"x{i}@elsewhere.test")
            assert code == 550, text


def failed_auth(g, n=1, user=ADMIN):
    """n failed AUTH exchanges of user in one session on the submission door, after
    STARTTLS."""
    with smtplib.SMTP("127.0.0.1", g.port("submission"), timeout=20) as s:
        s.starttls(context=ctx())
        s.ehlo("client.test")
        # One AUTH PLAIN exchange each (login() would try each mechanism offered in turn).
        s.user, s.password = user, "not the password"
        for _ in range(n):
            try:
                s.auth("PLAIN", s.auth_plain)
                raise AssertionError("a wrong password was accepted")
            except smtplib.SMTPAuthenticationError as e:
                assert e.smtp_code == 535, e


def connect_only(g, n=1):
    for _ in range(n):
        with smtplib.SMTP("127.0.0.1", g.port("inbound"), timeout=20) as s:
            assert s.noop()[0] == 250


def cell(text, ident):
    m = re.search(rf'id="{re.escape(ident)}">(-?\d+)<', text)
    assert m, f"no #{ident} in the page"
    return int(m.group(1))


def svg(text, ident):
    m = re.search(rf'<svg [^>]*id="{re.escape(ident)}".*?</svg>', text, re.S)
    assert m, f"no svg #{ident} in the page"
    return m.group(0)


def polylines(chart):
    """{series: [(x, y), ...]} of a chart's polylines."""
    out = {}
    for name, pts in re.findall(r'<polyline [^>]*data-series="([^"]+)" points="([^"]*)"', chart):
        out[name] = [tuple(float(v) for v in p.split(",")) for p in pts.split()]
    return out


def test_overview_counts_charts_and_series(setup):
    g, con = start(setup)
    # The traffic: 2 plain sessions, 2 messages in a session, 2 refused RCPTs in another,
    # 3 failed AUTHs in one session on submission, and one more of a user name that is HTML
    # (the key of the rule per user: shown as text).
    connect_only(g, 2)
    message(g, 2)
    refused_rcpt(g, 2)
    failed_auth(g, 3)
    failed_auth(g, 1, user=HOSTILE)
    want = {
        # Sessions: 2 + 1 + 1 on inbound. Refusals: the two 550s; on submission, each 535.
        "inbound": {"connections": 4, "messages": 2, "refusals": 2, "auth_failures": 0},
        "submission": {"connections": 2, "messages": 0, "refusals": 4, "auth_failures": 4},
        "submissions": {"connections": 0, "messages": 0, "refusals": 0, "auth_failures": 0},
    }
    # The daemon counts a session's end after the client has gone: wait for it.
    wait_for(lambda: all(status(g)["doors"][d]["sessions_open"] == 0 for d in want), 20,
             "the sessions to end")
    st = status(g)
    for door, counts in want.items():
        assert {k: st["doors"][door]["since_start"][k] for k in VALUES} == counts, door

    # series-json: every door, four series of 1440 counts, adding up to the counts since start.
    doc = series(g)
    assert set(doc) == {"time", "minute", "doors"}
    assert 0 <= doc["time"] - doc["minute"] <= 60
    assert abs(doc["time"] - time.time()) < 60
    assert set(doc["doors"]) == {"inbound", "internal", "submission", "submissions"}
    for door, d in doc["doors"].items():
        assert set(d) == set(VALUES)
        for k in VALUES:
            assert len(d[k]) == 1440 and all(isinstance(v, int) and v >= 0 for v in d[k])
            assert sum(d[k]) == (want[door][k] if door in want else 0), (door, k)
            # The hour is the day's last 60 (the status document's last_hour).
            assert sum(d[k][-60:]) == st["doors"][door]["last_hour"][k], (door, k)

    # The verb takes no argument.
    for bad in ("series-json 60", "series-json ", "SERIES-JSON", "series-jsonx", "series"):
        assert control(g, bad).startswith("error: "), bad

    w = con.client()
    assert w.login(ADMIN, USERS[ADMIN])[0] == 303
    status_code, h, text = w.request("GET", "/")
    assert status_code == 200
    assert "<script" not in text
    assert '<meta http-equiv="refresh" content="10">' in text
    assert "Live: refreshes every 10 s" in text and 'href="/?refresh=0"' in text
    assert cell(text, "queue") == 2 and cell(text, "alerts") == 3  # client, ADMIN, HOSTILE
    # The alerts firing: the rule and its key (the client), escaped like everything.
    firing = re.search(r'<table id="alerts-firing">.*?</table>', text, re.S).group(0)
    assert "<td>auth-burst</td><td>failed-auth</td><td>127.0.0.1</td>" in firing
    assert ("<td>user-burst</td><td>failed-auth</td><td>&lt;script&gt;alert(1)&lt;/script&gt;"
            "</td>") in firing
    for door, counts in want.items():
        for k, v in counts.items():
            assert cell(text, f"{door}-since_start-{k}") == v, (door, k)
            assert cell(text, f"{door}-last_hour-{k}") == v, (door, k)
        assert cell(text, f"{door}-sessions") == 0
        # Two charts, each with four polylines, inside the plot, and the max on the y axis.
        day = doc["doors"][door]
        top = max(max(day[k]) for k in VALUES)
        for span, n, left in (("hour", 60, "-60 min"), ("day", 1440, "-24 h")):
            chart = svg(text, f"chart-{door}-{span}")
            lines = polylines(chart)
            assert set(lines) == set(VALUES), (door, span)
            assert f'data-max="{top}"' in chart and f">max {top}</text>" in chart
            assert f">{left}</text>" in chart and ">now</text>" in chart
            for k, pts in lines.items():
                assert pts[0][0] == 60.0 and pts[-1][0] == 590.0
                assert all(60 <= x <= 590 and 12 <= y <= 152 for x, y in pts)
                # A value with traffic rises off the bottom; the largest reaches the top.
                peak = min(y for _, y in pts)
                if sum(day[k]) == 0:
                    assert peak == 152.0, (door, span, k)
                else:
                    assert peak < 152.0, (door, span, k)
                if top > 0 and max(day[k]) == top:
                    assert peak == 12.0, (door, span, k)
    # internal does not listen and saw nothing: no section.
    assert 'id="door-internal"' not in text and 'id="chart-internal-hour"' not in text


def test_refresh_parameter(setup):
    g, con = start(setup)
    w = con.client()
    assert w.login(ADMIN, USERS[ADMIN])[0] == 303
    code, _, text = w.request("GET", "/?refresh=0")
    assert code == 200
    assert 'http-equiv="refresh"' not in text
    assert "Not refreshing" in text and 'id="refresh-on" href="/"' in text
    code, _, text = w.request("GET", "/?refresh=10")
    assert code == 200 and '<meta http-equiv="refresh" content="10">' in text
    for bad in ("5", "abc", "", "0x0", "00", "-1", "10%20", "%3Cscript%3E", "9" * 400):
        code, _, text = w.request("GET", f"/?refresh={bad}")
        assert code == 400, bad
        assert "refresh must be 0 (off) or 10 (every 10 s)" in text
        assert "<script>" not in text
    # Other parameters are no concern of the page.
    assert w.request("GET", "/?other=1")[0] == 200


def test_overview_with_the_daemon_stopped(setup):
    g, con = start(setup)
    w = con.client()
    assert w.login(ADMIN, USERS[ADMIN])[0] == 303
    assert 'id="chart-inbound-day"' in w.request("GET", "/")[2]
    g.stop()
    code, _, text = w.request("GET", "/")
    assert code == 200
    err = re.search(r'id="status-error">([^<]*)<', text).group(1)
    assert "not running" in unescape(err), err
    assert re.search(r'id="series-error">No charts: [^<]*not running', text), text
    assert "<svg" not in text and 'id="queue"' not in text
    assert "Live: refreshes every 10 s" in text


def wave(g, i):
    """Some traffic of every kind, more of it each wave."""
    connect_only(g, 2 + i)
    message(g, 1 + 2 * i)
    refused_rcpt(g, 3 - i if i < 3 else 1)
    failed_auth(g, 1 + i)


def test_browser_overview(setup, browser):
    g, con = start(setup)
    # Traffic in three different minutes, so that the hour chart has lines to draw.
    for i in range(3):
        minute = series(g)["minute"]
        wave(g, i)
        if i < 2:
            wait_for(lambda: series(g)["minute"] != minute, 75, "the next minute")
    br = browser(con)
    br.login(ADMIN)
    br.find("chart-inbound-hour")
    br.find("live", "Live: refreshes every 10 s")
    assert br.find("queue").text == "9"
    assert int(br.find("inbound-since_start-messages").text) == 9
    assert int(br.find("submission-since_start-auth_failures").text) == 6
    br.shot("overview")
    br.get("/?refresh=0")
    br.find("refresh-on")
