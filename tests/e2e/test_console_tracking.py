# SPDX-License-Identifier: MIT
"""The console's tracking pages (issue 15, docs/console.md "Tracking"): GET
/tracking (the search form and its results) and GET /tracking/message?id=QID
(one message's history), reading SPOOL/tracking.db.

The daemon relays ok.test to a real SMTP sink (aiosmtpd, smtp_peer.py);
messages go in with smtplib over STARTTLS and AUTH on the submission door.
A headless Chromium (Selenium) searches by sender, opens the message and
sees its delivery (an attempt, status sent, the sink's 250 reply), with a
Subject of <script>alert(1)</script> shown as text on both pages. With the
Web client: each bad input (malformed times, limits out of range, bad queue
ids, over-long fields, a query that cannot be read) is 400 with its reason
next to the form; SQL metacharacters are text to match; an unknown id is
404; the limit and "more match"; no database yet, tracking off, a file that
is not a database (503), the database deleted and made again under the
daemon; a non-admin gets 403 on both routes."""
import email.policy
import re
import smtplib
from email.message import EmailMessage
from urllib.parse import quote, urlencode

import pytest

from console_web import ADMIN, USER, USERS, browser, ca, ctx, setup  # noqa: F401 (fixtures)
from conftest import wait_for
from test_relay import peers, wait_messages  # noqa: F401 (peers: a fixture)
from test_track import kinds, wait_event

SCRIPT = "<script>alert(1)</script>"
QUEUED_AS = re.compile(rb"2\.0\.0 Ok: queued as ([0-9A-F]{16})")


@pytest.fixture
def relayed(setup, peers):
    """The daemon with the console, relaying ok.test to a sink that takes everything; the
    admin may send as any address of ours.test (so that senders differ)."""
    sink = peers()
    g, con = setup(auth_extra=f"    sender {ADMIN} @ours.test\n",
                   domains={"ok.test": {"relay": f"smtp://127.0.0.1:{sink.port}",
                                        "verify-recipients": "off"}},
                   delivery="retry 1s", extra="resolver 127.0.0.1:1\n")
    return g, con, sink


def send(g, subject, to=("bob@ok.test",), sender=ADMIN):
    """Sends one message through the submission door with smtplib (STARTTLS, AUTH as the
    admin); returns its queue id from the 250 reply."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(to), subject
    msg["Message-ID"] = f"<{abs(hash(subject))}@ours.test>"
    msg.set_content("hello\n")
    s = smtplib.SMTP("127.0.0.1", g.port("submission"), timeout=20)
    try:
        s.starttls(context=ctx())
        s.login(ADMIN, USERS[ADMIN])
        s.mail(sender)
        for r in to:
            code, text = s.rcpt(r)
            assert code == 250, (code, text)
        code, text = s.data(msg.as_bytes(policy=email.policy.SMTP))
        assert code == 250, (code, text)
        return QUEUED_AS.search(text).group(1).decode()
    finally:
        s.close()


def delivered(g, qid, attempts=1):
    """Waits until tracking has the message's attempts (one per recipient) recorded, sent."""
    return wait_event(g, qid, lambda m: m["status"] == "sent"
                      and kinds(m).count("attempt") >= attempts, f"{qid} delivered and recorded")


def admin(con):
    web = con.client()
    assert web.login(ADMIN, USERS[ADMIN])[0] == 303
    return web


def get(web, path, **params):
    return web.request("GET", path + ("?" + urlencode(params) if params else ""))


def result_ids(text):
    return re.findall(r'<tr id="row-([0-9A-F]{16})">', text)


def error_of(text):
    m = re.search(r'<p class="error" id="error">([^<]*)</p>', text)
    return m.group(1) if m else None


# ---- The browser ----

def test_browser_search_open_and_delivery(relayed, browser):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    g, con, sink = relayed
    other = send(g, "another one", to=("carol@ok.test",), sender="zed@ours.test")
    qid = send(g, SCRIPT)
    wait_messages(sink, 2)
    delivered(g, qid)
    delivered(g, other)

    br = browser(con)
    br.login(ADMIN)
    wait_for(lambda: "Overview" in br.drv.title, what="the overview")
    br.get("/tracking")
    br.find("search")
    br.drv.find_element(By.ID, "f-from").send_keys(ADMIN)
    br.drv.find_element(By.ID, "search-button").click()
    table = br.find("results", qid)
    assert other not in table.text  # another sender
    assert "from=" in br.drv.current_url  # a GET: the search is a link
    row = br.drv.find_element(By.ID, f"row-{qid}")
    cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
    assert cells[1] == qid and cells[2] == ADMIN and cells[3] == "bob@ok.test"
    assert cells[4] == SCRIPT  # the Subject shown as text
    assert cells[5] == "submission" and cells[6] == "127.0.0.1" and cells[7] == "sent"
    assert br.find("count").text == "1 shown"
    br.shot("tracking")
    with pytest.raises(NoAlertPresentException):
        br.drv.switch_to.alert.text  # noqa: B018 (the script never ran)

    row.find_element(By.LINK_TEXT, qid).click()
    events = br.find("events", "attempt")
    assert br.find("m-subject").text == SCRIPT
    assert br.drv.find_element(By.ID, "m-sender").text == ADMIN
    assert br.drv.find_element(By.ID, "m-door").text == "submission"
    assert br.drv.find_element(By.ID, "m-helo").text != ""
    rows = [[c.text for c in r.find_elements(By.TAG_NAME, "td")]
            for r in events.find_elements(By.TAG_NAME, "tr")[1:]]
    assert [r[1] for r in rows] == ["queued", "attempt"]
    attempt = rows[1]
    assert attempt[2] == "bob@ok.test"
    assert "status=sent" in attempt[3] and "250 2.0.0 Ok: queued" in attempt[3]
    assert f"127.0.0.1]:{sink.port}" in attempt[3]
    rcpt = [c.text for c in br.drv.find_element(By.ID, "rcpt-1").find_elements(By.TAG_NAME, "td")]
    assert rcpt[0] == "bob@ok.test" and rcpt[1] == "sent" and rcpt[2] == "1"
    assert rcpt[4].startswith("250 2.0.0 Ok: queued")
    br.shot("tracking-message")
    with pytest.raises(NoAlertPresentException):
        br.drv.switch_to.alert.text  # noqa: B018


# ---- The raw HTML ----

def test_script_subject_escaped_and_filters(relayed):
    g, con, sink = relayed
    qid = send(g, SCRIPT, to=("bob@ok.test", "carol@ok.test"))
    plain = send(g, "plain", to=("dave@ok.test",), sender="erin@ours.test")
    wait_messages(sink, 2)
    m = delivered(g, qid, attempts=2)
    delivered(g, plain)
    web = admin(con)

    for path, params in (("/tracking", {"from": ADMIN}), ("/tracking/message", {"id": qid})):
        status, headers, text = get(web, path, **params)
        assert status == 200, text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert "<script" not in text.lower()
        assert headers["Content-Security-Policy"].startswith("default-src 'self'")

    # Each filter alone, as gate26 track takes it.
    def ids(**params):
        status, _, text = get(web, "/tracking", **params)
        assert status == 200, (params, text)
        return result_ids(text)
    assert ids(**{"from": ADMIN.upper()}) == [qid]
    assert ids(**{"from": "erin@ours.test"}) == [plain]
    assert ids(to="carol@ok.test") == [qid]
    assert ids(to="dave@ok.test") == [plain]
    assert ids(client="127.0.0.1") == [plain, qid]  # newest first
    assert ids(client="127.0.0.2") == []
    assert ids(id=qid) == [qid]
    assert ids(**{"message-id": m["message_id"]}) == [qid]
    assert ids(**{"message-id": m["message_id"].strip("<>")}) == [qid]
    assert ids(since="1h") == [plain, qid]
    assert ids(until="1h") == []
    assert ids(since="2000-01-01T00:00:00Z", until="2001-01-01T00:00:00+02:00") == []
    assert ids(**{"from": ADMIN, "to": "dave@ok.test"}) == []
    assert ids(**{"from": "", "to": "", "id": "", "limit": ""}) == [plain, qid]  # empty: none
    assert ids() == [plain, qid]

    # The limit, and "more match".
    status, _, text = get(web, "/tracking", limit="1")
    assert result_ids(text) == [plain]
    assert '<p id="count">1 shown, more match' in text
    status, _, text = get(web, "/tracking", limit="2")
    assert result_ids(text) == [plain, qid] and '<p id="count">2 shown</p>' in text
    status, _, text = get(web, "/tracking", limit="1000")
    assert status == 200 and '<p id="count">2 shown</p>' in text

    # SQL metacharacters are text to match (bound parameters), never SQL.
    for hostile in ("x' OR '1'='1", "%", f"{ADMIN}' --", "\"; DROP TABLE messages; --",
                    "_lice@ours.test", "*", "'; SELECT * FROM messages; --"):
        for name in ("from", "to", "client", "message-id"):
            status, _, text = get(web, "/tracking", **{name: hostile})
            assert status == 200, (name, hostile, text)
            assert result_ids(text) == [] and '<p id="count">0 shown</p>' in text
            assert "SQL" not in text and "sqlite" not in text.lower()
    # The value is shown back in the form, escaped.
    status, _, text = get(web, "/tracking", **{"from": '"><script>x</script>'})
    assert 'value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in text
    assert "<script" not in text.lower()
    assert ids(id=qid) == [qid]  # the tables are still there

    # The message's page: its fields, recipients, events.
    status, _, text = get(web, "/tracking/message", id=qid)
    assert status == 200
    assert f'<td id="m-qid">{qid}</td>' in text
    assert re.search(r'<td id="m-sender"><a href="/tracking\?from=alice%40ours.test">'
                     r'alice@ours.test</a></td>', text)
    assert 'id="rcpt-1"' in text and 'id="rcpt-2"' in text
    assert len(re.findall(r'<tr id="event-\d+">', text)) == len(m["events"]) == 3


# ---- Bad input ----

def test_bad_input(relayed):
    g, con, sink = relayed
    qid = send(g, "for the bad input")
    wait_messages(sink, 1)
    delivered(g, qid)
    web = admin(con)

    for params, reason in (
            ({"since": "yesterday"}, "The since field takes an RFC 3339 time"),
            ({"since": "2026-02-30T00:00:00Z"}, "The since field takes an RFC 3339 time"),
            ({"until": "2026-13-01T00:00:00Z"}, "The until field takes an RFC 3339 time"),
            ({"until": "-2h"}, "The until field takes an RFC 3339 time"),
            ({"limit": "0"}, "The limit field takes a number from 1 to 1000."),
            ({"limit": "1001"}, "The limit field takes a number from 1 to 1000."),
            ({"limit": "10000"}, "The limit field takes a number from 1 to 1000."),
            ({"limit": "-1"}, "The limit field takes a number from 1 to 1000."),
            ({"limit": "ten"}, "The limit field takes a number from 1 to 1000."),
            ({"limit": "9" * 40}, "The limit field takes at most 10 octets."),
            ({"id": "0123456789abcdef"}, "The id field takes a queue id (16 hex digits"),
            ({"id": qid + "0"}, "The id field takes a queue id"),
            ({"id": "' OR 1=1 --"}, "The id field takes a queue id"),
            ({"from": "a" * 321}, "The from field takes at most 320 octets."),
            ({"to": "b" * 5000}, "The to field takes at most 320 octets."),
            ({"client": "1" * 65}, "The client field takes at most 64 octets."),
            ({"message-id": "m" * 1001}, "The message-id field takes at most 1000 octets."),
            ({"from": ADMIN, "since": "soon"}, "The since field takes")):
        status, _, text = get(web, "/tracking", **params)
        assert status == 400, (params, text[-500:])
        assert error_of(text) is not None and error_of(text).startswith(reason), (params, text)
        # The form comes with it, the bad field marked, nothing searched.
        assert 'id="search"' in text and 'aria-invalid="true"' in text
        assert 'id="results"' not in text
    # A query string that cannot be read is not taken for no filter.
    status, _, text = web.request("GET", "/tracking?from&to=x")
    assert status == 400 and "cannot be read" in error_of(text)

    # One message: no id, a malformed one, an unknown one.
    status, _, text = web.request("GET", "/tracking/message")
    assert status == 400 and "Which message?" in text
    for bad in ("nothex", qid.lower(), qid + "0", "' OR 1=1 --", "../../etc/passwd", ""):
        status, _, text = web.request("GET", "/tracking/message?id=" + quote(bad))
        assert status == 400 and "Not a queue id" in text, (bad, text)
    status, _, text = get(web, "/tracking/message", id="0123456789ABCDEF")
    assert status == 404 and "No message 0123456789ABCDEF in the tracking database." in text
    # Still serving.
    status, _, text = get(web, "/tracking/message", id=qid)
    assert status == 200 and 'id="events"' in text


def test_non_admin_forbidden(relayed):
    g, con, sink = relayed
    qid = send(g, "not for bob")
    web = con.client()
    assert web.login(USER, USERS[USER])[0] == 303
    for path in ("/tracking", f"/tracking?from={quote(ADMIN)}", f"/tracking/message?id={qid}"):
        status, _, text = web.request("GET", path)
        assert status == 403 and "This page is for admins." in text, path
        assert qid not in text
    assert 'event=console-forbidden, user="bob", path=/tracking/message' in con.log()
    # Without a session: the login page.
    status, headers, _ = con.client().request("GET", "/tracking")
    assert status == 303 and headers["Location"] == "/login"


# ---- The database's states ----

def test_no_database_tracking_off_and_not_a_database(setup):
    g, con = setup(extra="tracking {\n    enabled no\n}\n")
    web = admin(con)
    db = g.spool / "tracking.db"
    assert not db.exists()
    status, _, text = web.request("GET", "/tracking")
    assert status == 200
    assert 'id="no-database"' in text and "No tracking database yet" in text
    assert 'id="tracking-off"' in text
    assert 'id="search"' in text and 'id="results"' not in text
    status, _, text = get(web, "/tracking/message", id="0123456789ABCDEF")
    assert status == 404 and "No tracking database yet" in text

    # A file that is not a tracking database: 503 with why, never a crash.
    db.write_bytes(b"not a database, just some text\n" * 100)
    db.chmod(0o644)
    try:
        status, _, text = web.request("GET", "/tracking")
        assert status == 503 and 'id="error"' in text, text
        assert "tracking.db" in error_of(text)
        status, _, text = get(web, "/tracking/message", id="0123456789ABCDEF")
        assert status == 503
    finally:
        db.unlink()
    status, _, text = web.request("GET", "/tracking")
    assert status == 200 and 'id="no-database"' in text


def test_database_deleted_and_made_again(relayed):
    g, con, sink = relayed
    first = send(g, "before")
    wait_messages(sink, 1)
    delivered(g, first)
    web = admin(con)
    status, _, text = web.request("GET", "/tracking")
    assert result_ids(text) == [first] and 'id="tracking-off"' not in text

    for suffix in ("", "-wal", "-shm"):
        p = g.spool / f"tracking.db{suffix}"
        if p.exists():
            p.unlink()
    status, _, text = web.request("GET", "/tracking")
    assert status == 200 and 'id="no-database"' in text
    status, _, text = get(web, "/tracking/message", id=first)
    assert status == 404

    # The daemon finds the file gone at its next batch (whose events are lost: one warning)
    # and makes it again; the console reads the new file.
    send(g, "lost")
    wait_for(lambda: "event=fault, op=moved" in g.log(), what="the daemon to see the file gone")
    wait_messages(sink, 2)
    second = send(g, "after")
    wait_messages(sink, 3)
    delivered(g, second)
    status, _, text = web.request("GET", "/tracking")
    assert status == 200 and second in result_ids(text) and first not in result_ids(text)
    status, _, text = get(web, "/tracking/message", id=second)
    assert status == 200 and "after" in text
