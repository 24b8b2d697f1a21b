# SPDX-License-Identifier: MIT
"""The console's queue pages (issue 15; docs/console.md, "Queue"): the list
with its filters (the control socket's selectors), a message's envelope and
header section, hold, release, delete and bounce (each with a confirmation),
flush and flush all, in Debian's headless Chromium and over http.client; bad
input (malformed and unknown ids, an unknown action, too many ids, filters
with CR/LF, SQL metacharacters or a malformed address) answered 400 or 404;
a `<script>` Subject shown as text. Messages stay queued because their next
hop (127.0.0.1:1) refuses every connection: each is deferred after a first
attempt and tried again in an hour."""
import email.policy
import json
import smtplib
import subprocess
import urllib.parse
from email.message import EmailMessage

import pytest

from conftest import BIN, free_port, wait_for
from console_web import ADMIN, USER, USERS, Console, browser, console_conf  # noqa: F401
from test_auth import make_passwd

SCRIPT = "<script>alert(1)</script>"


def console_gateway(gateway, tmp_path, doors=None, domains=None, extra="",
                    delivery="retry 1h"):
    """The daemon (an inbound door without TLS unless doors says otherwise; mail for
    ours.test relayed to 127.0.0.1:1, where nothing listens, unless domains says otherwise)
    with the console's users and block, and the console over plain HTTP on loopback."""
    port = free_port()
    pw = make_passwd(tmp_path / "passwd", USERS)
    g = gateway(doors=doors or {"inbound": {"tls": "none"}},
                domains=domains or {"ours.test": {"relay": "smtp://127.0.0.1:1",
                                                  "verify-recipients": "off"}},
                delivery=delivery,
                extra=f"resolver 127.0.0.1:1\nauth {{\n    passwd {pw}\n}}\n"
                      + console_conf(port) + extra)
    return g, Console(g, port, https=False)


@pytest.fixture
def queued(gateway, tmp_path):
    started = []

    def make(**kw):
        g, con = console_gateway(gateway, tmp_path, **kw)
        started.append(con)
        return g, con

    yield make
    for con in started:
        con.stop()


def send(g, sender, rcpts, subject="a test", tag="x"):
    """One message through the inbound door; returns its queue id."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender or "mailer-daemon@example.test", \
        ", ".join(rcpts), subject
    msg["Message-ID"] = f"<{tag}@test>"
    msg.set_content("hello\n")
    s = smtplib.SMTP("127.0.0.1", g.port("inbound"), timeout=20)
    try:
        s.ehlo("mx.sender.test")
        s.mail(sender)
        for r in rcpts:
            s.rcpt(r)
        code, text = s.data(msg.as_bytes(policy=email.policy.SMTP))
        assert code == 250, text
    finally:
        s.close()
    return text.decode().split()[-1]


def queue_json(g):
    p = subprocess.run([BIN, "queue", "-c", str(g.conf), "list", "--json"], capture_output=True,
                       text=True, timeout=30, env=g.env)
    assert p.returncode == 0, p.stderr
    return {m["id"]: m for m in json.loads(p.stdout)["messages"]}


def wait_deferred(g, *ids):
    """Until each id has been tried once (refused: deferred)."""
    wait_for(lambda: all(queue_json(g).get(i, {}).get("attempts", 0) >= 1
                         and not queue_json(g)[i]["active"] for i in ids),
             timeout=30, what="the messages to be deferred")


def admin(con):
    w = con.client()
    assert w.login(ADMIN, USERS[ADMIN])[0] == 303
    return w


def rows(text):
    """The queue ids of the table's rows."""
    import re
    return re.findall(r'<tr id="row-([0-9A-F]{16})"', text)


def get_queue(w, **filters):
    q = urllib.parse.urlencode(filters)
    return w.request("GET", "/queue" + ("?" + q if q else ""))


@pytest.fixture
def two(queued):
    """Two deferred messages: a from alice@example.test to bob@ours.test, b (its Subject a
    script) from carol@other.test to dave@ours.test and erin@ours.test."""
    g, con = queued()
    a = send(g, "alice@example.test", ["bob@ours.test"], tag="a")
    b = send(g, "carol@other.test", ["dave@ours.test", "erin@ours.test"], subject=SCRIPT, tag="b")
    wait_deferred(g, a, b)
    return g, con, a, b


def test_list_and_filters(two):
    g, con, a, b = two
    w = admin(con)
    status, _, text = get_queue(w)
    assert status == 200, text
    assert 'id="queue-table"' in text and sorted(rows(text)) == sorted([a, b])
    assert 'id="count">2 messages' in text
    assert "deferred (1 attempt" in text
    assert "&lt;alice@example.test&gt;" in text and "dave@ours.test (pending)" in text
    assert f'name="id" value="{a}"' in text and 'id="flush-all"' in text
    # The last reply: the refused connection to the next hop.
    assert queue_json(g)[a]["last_error"] and \
        queue_json(g)[a]["last_error"].split()[0] in text

    for filters, want in [({"from": "alice@example.test"}, [a]),
                          ({"from": "<CAROL@other.test>"}, [b]),
                          ({"from": "<>"}, []),
                          ({"to": "dave@ours.test"}, [b]),
                          ({"to": "bob@ours.test", "from": "carol@other.test"}, []),
                          ({"domain": "ours.test"}, [a, b]),
                          ({"domain": "other.test"}, []),
                          ({"client": "127.0.0.1"}, [a, b]),
                          ({"client": "::ffff:127.0.0.1"}, [a, b]),
                          ({"client": "192.0.2.1"}, []),
                          ({"held": "1"}, []),
                          ({"deferred": "1"}, [a, b]),
                          ({"deferred": "1", "to": "bob@ours.test"}, [a]),
                          # SQL metacharacters in a well-formed address: text to match, no SQL.
                          ({"from": "x';--@x.test"}, []),
                          ({"domain": "ours.test';DROP"}, [])]:
        status, _, text = get_queue(w, **filters)
        assert status == 200, (filters, text)
        assert sorted(rows(text)) == sorted(want), filters
        # The form keeps what was asked, escaped.
        for k, v in filters.items():
            if k in ("from", "to", "domain", "client"):
                assert 'value="' + v.replace("&", "&amp;").replace("<", "&lt;").replace(
                    ">", "&gt;").replace("'", "&#39;") + '"' in text, (filters, text)


def test_message_page_shows_headers_as_text(two):
    g, con, a, b = two
    w = admin(con)
    status, _, text = w.request("GET", f"/queue/message?id={b}")
    assert status == 200, text
    assert f'id="message-id">{b}<' in text
    assert 'id="envelope"' in text and "&lt;carol@other.test&gt;" in text
    assert "erin@ours.test" in text and "mx.sender.test" in text
    head = text.split('id="headers">', 1)[1].split("</pre>", 1)[0]
    assert "Message-ID: &lt;b@test&gt;" in head
    assert "Subject: &lt;script&gt;alert(1)&lt;/script&gt;" in head
    assert SCRIPT not in text
    assert "hello" not in head  # the header section only


@pytest.mark.parametrize("query, code", [
    ("", 400), ("?id=", 400), ("?id=0123456789abcdef", 400), ("?id=0123456789ABCDE", 400),
    ("?id=0123456789ABCDEF0", 400), ("?id=../../etc/passwd", 400),
    ("?id=0123456789ABCDEF%0d%0a", 400), ("?id=%3Cscript%3E", 400),
    ("?id=0000000000000000%00", 400), ("?id=0000000000000000%00junk", 400),
    ("?id=0000000000000000", 404)])
def test_message_bad_ids(queued, query, code):
    g, con = queued()
    w = admin(con)
    status, _, text = w.request("GET", "/queue/message" + query)
    assert status == code, text
    assert "<script>" not in text


@pytest.mark.parametrize("filters, why", [
    ({"from": "alice@example.test\r\nshow 0000000000000000"}, "not an address"),
    ({"to": "bob@ours.test\n"}, "not an address"),
    ({"from": "' OR '1'='1"}, "not an address"),
    ({"to": "'; DROP TABLE messages; --"}, "not an address"),
    ({"from": "nobody"}, "expected local@domain"),
    ({"to": "nobody"}, "expected local@domain"),
    ({"domain": "a@b.test"}, "expected a domain"),
    ({"domain": "ours.test\r\n"}, "expected a domain"),
    ({"client": "127.0.0.1; rm -rf /"}, "not an IP address"),
    ({"client": "<script>"}, "not an IP address"),
    ({"held": "yes"}, "expected 1"),
    ({"from": "a" * 600 + "@x.test"}, "too long"),
])
def test_bad_filters(queued, filters, why):
    g, con = queued()
    w = admin(con)
    status, _, text = get_queue(w, **filters)
    assert status == 400, text
    assert 'id="error"' in text and why in text, text
    assert 'id="filters"' in text and 'id="queue-table"' not in text
    assert "<script>" not in text
    assert get_queue(w)[0] == 200  # still serving


def test_bad_actions(two):
    g, con, a, b = two
    w = admin(con)
    for fields, why in [({"action": "explode", "id": a}, "action: expected"),
                        ({"id": a}, "action: expected"),
                        ({"action": "HOLD", "id": a}, "action: expected"),
                        ({"action": "list", "id": a}, "action: expected"),
                        ({"action": "hold"}, "no message selected"),
                        ({"action": "hold", "id": "0123456789abcdef"}, "not a queue id"),
                        ({"action": "hold", "id": a + "\n"}, "not a queue id"),
                        ({"action": "hold", "id": "all"}, "not a queue id"),
                        ({"action": "hold", "id": [a, a]}, "twice"),
                        ({"action": "hold", "id": [f"{i:016X}" for i in range(1001)]},
                         "at most 1000"),
                        ({"action": "delete", "id": a, "confirm": "maybe"}, "confirm: expected"),
                        # %00 would cut the id short in a C string: the form is refused.
                        ({"action": "hold", "id": a + "\x00junk"}, "form cannot be read")]:
        status, _, text = w.post("/queue/action", fields)
        assert status == 400, (fields, text)
        assert why in text, (fields, text)
    # Nothing changed.
    assert set(queue_json(g)) == {a, b} and not queue_json(g)[a]["held"]
    # An unknown id is the daemon's "-" line.
    status, _, text = w.post("/queue/action", {"action": "hold", "id": "0000000000000000"})
    assert status == 200, text
    assert "- 0000000000000000: no message in the queue" in text
    assert 'id="result" class="error"' in text


def test_hold_release_flush_delete_bounce(two):
    g, con, a, b = two
    w = admin(con)
    status, _, text = w.post("/queue/action", {"action": "hold", "id": [a, b]})
    assert status == 200, text
    assert f"+ {a}: on hold" in text and f"+ {b}: on hold" in text
    assert "= 2 messages put on hold" in text and 'id="result" class="ok"' in text
    assert queue_json(g)[a]["held"] and queue_json(g)[b]["held"]
    status, _, text = get_queue(w, held="1")
    assert sorted(rows(text)) == sorted([a, b])
    assert "event=console-action" in con.log() and "action=queue-hold" in con.log()
    assert f"ids={a},{b}, n=2" in con.log()

    status, _, text = w.post("/queue/action", {"action": "hold", "id": a})
    assert f"- {a}: already on hold" in text
    status, _, text = w.post("/queue/action", {"action": "release", "id": a})
    assert f"+ {a}: released, tried now" in text
    wait_for(lambda: not queue_json(g)[a]["held"], timeout=20, what="the release")
    status, _, text = w.post("/queue/action", {"action": "flush", "id": [a, b]})
    assert status == 200, text
    assert f"- {b}: on hold: release it first" in text
    status, _, text = w.post("/queue/action", {"action": "flush"})
    assert status == 200 and "to be tried now" in text, text
    assert "action=queue-flush, ids=all" in con.log()

    # delete: a confirmation first, which changes nothing.
    status, _, text = w.post("/queue/action", {"action": "delete", "id": a})
    assert status == 200, text
    assert 'id="confirm"' in text and f"<li>{a}</li>" in text and 'value="yes"' in text
    assert a in queue_json(g)
    assert "action=queue-delete" not in con.log()
    status, _, text = w.post("/queue/action", {"action": "delete", "id": a, "confirm": "yes"})
    assert status == 200, text
    assert f"+ {a}: deleted" in text and a not in rows(text)
    assert a not in queue_json(g)
    assert f"action=queue-delete, ids={a}" in con.log()

    # bounce: the same two steps; b goes back to its sender.
    status, _, text = w.post("/queue/action", {"action": "release", "id": b})
    wait_for(lambda: not queue_json(g)[b]["active"], timeout=20, what="b's attempt")
    status, _, text = w.post("/queue/action", {"action": "bounce", "id": b})
    assert 'id="confirm"' in text and "failure report" in text
    assert b in queue_json(g)
    status, _, text = w.post("/queue/action", {"action": "bounce", "id": b, "confirm": "yes"})
    assert status == 200, text
    assert f"+ {b}: bounced to its sender" in text
    wait_for(lambda: b not in queue_json(g), timeout=20, what="b to leave the queue")


def test_daemon_not_running(queued):
    g, con = queued()
    w = admin(con)
    g.stop()
    status, _, text = w.request("GET", "/queue")
    assert status == 503 and 'id="queue-error"' in text, text
    assert "not running" in text
    status, _, text = w.post("/queue/action", {"action": "hold", "id": "0000000000000000"})
    assert status == 503, text
    status, _, text = w.request("GET", "/queue/message?id=0000000000000000")
    assert status == 503, text


def test_browser_hold_and_release(two, browser):
    from selenium.webdriver.common.by import By

    g, con, a, b = two
    br = browser(con)
    br.login(ADMIN)
    br.find("logout")
    br.get("/queue")
    br.find("queue-table")
    br.find(f"row-{a}")
    br.drv.find_element(By.ID, f"check-{a}").click()
    br.drv.find_element(By.ID, "do-hold").click()
    assert f"+ {a}: on hold" in br.find("result", "on hold").text
    assert queue_json(g)[a]["held"]
    assert "held" in br.find(f"row-{a}").text
    br.shot("queue")

    br.get(f"/queue/message?id={b}")
    headers = br.find("headers", "Subject")
    assert f"Subject: {SCRIPT}" in headers.text  # shown as text, not run
    assert "erin@ours.test" in br.find("envelope").text
    br.shot("queue-message")

    br.get(f"/queue/message?id={a}")
    br.find("do-release").click()
    assert f"+ {a}: released" in br.find("result", "released").text
    wait_for(lambda: not queue_json(g)[a]["held"], timeout=20, what="the release")

    # delete in the browser: the confirmation, then the message is gone.
    br.find(f"row-{b}")
    br.drv.find_element(By.ID, f"check-{b}").click()
    br.drv.find_element(By.ID, "do-delete").click()
    assert b in br.find("confirm-ids").text
    br.shot("queue-confirm")
    br.drv.find_element(By.ID, "confirm").click()
    assert f"+ {b}: deleted" in br.find("result", "deleted").text
    assert b not in queue_json(g)


def test_at_most_500_rows(queued):
    """The daemon lists 500 (list-json limit=500) and counts them all ("total")."""
    g, con = queued(delivery="queue-only yes")
    body = b"Subject: many\r\n\r\nhello\r\n"
    sent = 0
    for _ in range(6):  # 6 connections of 84 messages: 504
        s = smtplib.SMTP("127.0.0.1", g.port("inbound"), timeout=30)
        try:
            s.ehlo("mx.sender.test")
            for _ in range(84):
                s.sendmail("many@example.test", ["bob@ours.test"], body)
                sent += 1
        finally:
            s.close()
    s = smtplib.SMTP("127.0.0.1", g.port("inbound"), timeout=30)
    s.ehlo("mx.sender.test")
    s.sendmail("one@example.test", ["bob@ours.test"], body)
    s.close()
    wait_for(lambda: len(queue_json(g)) == sent + 1, timeout=60, what="505 queued messages")
    w = admin(con)
    status, _, text = get_queue(w)
    assert status == 200, text[:2000]
    assert 'id="count">505 messages; the first 500 are shown' in text
    assert len(rows(text)) == 500
    status, _, text = get_queue(w, **{"from": "one@example.test"})
    assert 'id="count">1 message.' in text and len(rows(text)) == 1
    # The action's answer lists the same way.
    status, _, text = w.post("/queue/action", {"action": "flush"})
    assert status == 200 and 'id="count">505 messages; the first 500' in text
    assert len(rows(text)) == 500
    # The control socket's limit itself: 3 listed, every match counted.
    doc = json.loads(ctl(g, "list-json limit=3").split("\n", 1)[1])
    assert len(doc["messages"]) == 3 and doc["total"] == 505
    assert ctl(g, "list limit=3").rstrip("\n").endswith("505 messages, the first 3 listed")
    assert ctl(g, "hold all limit=3") == "error: hold: only list takes a limit\n"
    assert ctl(g, "list limit=0").startswith("error: limit: expected a number")
    assert len(queue_json(g)) == 505 and not any(m["held"] for m in queue_json(g).values())


def ctl(g, line):
    """One request on the daemon's control socket; its whole answer."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(str(g.spool / "control"))
    s.sendall(line.encode() + b"\n")
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    return out.decode()
