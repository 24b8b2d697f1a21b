# SPDX-License-Identifier: MIT
"""The console's quarantine pages (issue 15; docs/console.md, "Quarantine"):
real messages quarantined by real rspamd (as test_checks_quarantine.py
does) listed, their headers and a text preview shown (decoded from
quoted-printable and base64, everything escaped: a `<script>` Subject is
text), one released in Debian's headless Chromium and delivered to the
sink, another deleted after the confirmation step; bad and unknown ids."""
import base64
import json
import re

import pytest

from checkers import (checks_block, header_values, message, quarantine_cli, rspamd,  # noqa: F401
                      sink, transact, wait_delivered, wait_for)
from console_web import ADMIN, USERS, browser  # noqa: F401
from test_console_queue import SCRIPT, console_gateway

RCPTS = ["bob@ours.test", "carol@ours.test"]
SENDER = "alice@example.test"


@pytest.fixture
def held(gateway, tmp_path, sink, rspamd):
    """The daemon with rspamd's spam check on its inbound door (a score of 6 or more
    quarantines) relaying ours.test to sink, and the console."""
    started = []

    def make():
        g, con = console_gateway(
            gateway, tmp_path, delivery="retry 1s",
            domains={"ours.test": {"relay": f"smtp://127.0.0.1:{sink.port}",
                                   "verify-recipients": "off"}},
            extra=checks_block("inbound", f"spam rspamd {rspamd.url}", "spam-reject 15",
                               "spam-quarantine 6", "spam-header 3"))
        started.append(con)
        return g, con

    yield make
    for con in started:
        con.stop()


@pytest.fixture
def plain(gateway, tmp_path):
    """The daemon and the console with no check (an empty quarantine)."""
    g, con = console_gateway(gateway, tmp_path)
    yield g, con
    con.stop()


def quarantine(g, subject, headers=b"", body=b"Hello Bob,\r\nthis is the body.\r\n"):
    """A message rspamd scores to quarantine (X-Gate26-Test: seven, as
    test_checks_quarantine.py sends); returns its queue id once it is held."""
    t = transact(g, SENDER, RCPTS, message(subject=subject, body=body,
                                           headers=b"X-Gate26-Test: seven\r\n" + headers))
    qid = t.queue_id
    wait_for(lambda: any("status=quarantined" in line for line in g.log().splitlines()
                         if qid in line), 20, "the status=quarantined line")
    return qid


def listed(g):
    out, _ = quarantine_cli(g, "list", "--json")
    return {m["id"]: m for m in json.loads(out)} if out.strip() else {}


def admin(con):
    w = con.client()
    assert w.login(ADMIN, USERS[ADMIN])[0] == 303
    return w


def rows(text):
    return re.findall(r'<tr id="qrow-([0-9A-F]{16})"', text)


def test_list_and_preview(held):
    g, con = held()
    a = quarantine(g, SCRIPT)
    qp = quarantine(g, "quoted", headers=b"Content-Transfer-Encoding: quoted-printable\r\n",
                    body=b"caf=C3=A9 =3Cb=3Ebold=3C/b=3E, a soft=\r\nbreak\r\n")
    b64 = quarantine(g, "encoded", headers=b"Content-Transfer-Encoding: base64\r\n",
                     body=base64.encodebytes(b"hello <i>there</i>\r\n").replace(b"\n", b"\r\n"))
    w = admin(con)
    status, _, text = w.request("GET", "/quarantine")
    assert status == 200, text
    assert 'id="quarantine-table"' in text and sorted(rows(text)) == sorted([a, qp, b64])
    assert 'id="count">3 messages in quarantine' in text
    row = text.split(f'<tr id="qrow-{a}">', 1)[1].split("</tr>", 1)[0]
    assert "<strong>spam</strong>" in row and "&lt;alice@example.test&gt;" in row
    assert "bob@ours.test<br>carol@ours.test" in row
    assert '<td class="subject">&lt;script&gt;alert(1)&lt;/script&gt;</td>' in row
    assert SCRIPT not in text
    size = listed(g)[a]["size"]
    assert f"<td>{size}</td>" in row

    status, _, text = w.request("GET", f"/quarantine/message?id={a}")
    assert status == 200, text
    assert f'id="message-id">{a}<' in text and "&lt;alice@example.test&gt;" in text
    head = text.split('id="headers">', 1)[1].split("</pre>", 1)[0]
    assert "Subject: &lt;script&gt;alert(1)&lt;/script&gt;" in head
    assert "X-Gate26-Test: seven" in head
    assert SCRIPT not in text
    preview = text.split('id="preview">', 1)[1].split("</pre>", 1)[0]
    assert preview == "Hello Bob,\r\nthis is the body.\r\n"

    status, _, text = w.request("GET", f"/quarantine/message?id={qp}")
    assert "Decoded from quoted-printable" in text
    preview = text.split('id="preview">', 1)[1].split("</pre>", 1)[0]
    assert preview == "caf\u00e9 &lt;b&gt;bold&lt;/b&gt;, a softbreak\r\n"

    status, _, text = w.request("GET", f"/quarantine/message?id={b64}")
    assert "Decoded from base64" in text
    preview = text.split('id="preview">', 1)[1].split("</pre>", 1)[0]
    assert preview == "hello &lt;i&gt;there&lt;/i&gt;\r\n"


def test_release_in_browser(held, sink, browser):
    from selenium.webdriver.common.by import By

    g, con = held()
    a = quarantine(g, SCRIPT)
    other = quarantine(g, "stays")
    br = browser(con)
    br.login(ADMIN)
    br.find("logout")
    br.get("/quarantine")
    br.find("quarantine-table")
    assert SCRIPT in br.find(f"qrow-{a}").text  # as text
    br.shot("quarantine")
    br.drv.find_element(By.LINK_TEXT, a).click()
    assert f"Subject: {SCRIPT}" in br.find("headers", "Subject").text
    assert "this is the body" in br.find("preview").text
    br.shot("quarantine-message")
    br.find("do-release").click()
    assert f"+ {a}: released" in br.find("result", "released").text
    msgs = wait_delivered(sink, 1)
    assert sorted(r.lower() for r, _ in msgs[0].rcpts) == RCPTS
    assert header_values(msgs[0].data, "Subject") == [SCRIPT]
    assert a not in listed(g) and other in listed(g)
    assert f"action=quarantine-release, ids={a}, n=1" in con.log()
    wait_for(lambda: not g.queue_files(), 30, "the queue to empty")
    assert len(sink.messages()) == 1


def test_delete_with_confirmation(held, sink):
    g, con = held()
    a = quarantine(g, "to be deleted")
    other = quarantine(g, "kept")
    w = admin(con)
    status, _, text = w.post("/quarantine/action", {"action": "delete", "id": a})
    assert status == 200, text
    assert 'id="confirm"' in text and f"<li>{a}</li>" in text
    assert a in listed(g) and "action=quarantine-delete" not in con.log()
    status, _, text = w.post("/quarantine/action", {"action": "delete", "id": a,
                                                    "confirm": "yes"})
    assert status == 200, text
    assert f"+ {a}: deleted" in text and 'id="result" class="ok"' in text
    assert a not in rows(text) and other in rows(text)
    assert a not in listed(g) and other in listed(g)
    assert f"action=quarantine-delete, ids={a}, n=1" in con.log()
    # A second time: the daemon's "-" line.
    status, _, text = w.post("/quarantine/action", {"action": "delete", "id": a,
                                                    "confirm": "yes"})
    assert status == 200 and f"- {a}: " in text and 'class="error"' in text, text
    assert sink.messages() == []


@pytest.mark.parametrize("query, code", [
    ("", 400), ("?id=", 400), ("?id=0123456789abcdef", 400), ("?id=../../etc/passwd", 400),
    ("?id=0123456789ABCDEF%00", 400), ("?id=%3Cscript%3E", 400), ("?id=0000000000000000", 404)])
def test_message_bad_ids(plain, query, code):
    g, con = plain
    w = admin(con)
    status, _, text = w.request("GET", "/quarantine/message" + query)
    assert status == code, text
    assert "<script>" not in text


def test_bad_actions(plain):
    g, con = plain
    w = admin(con)
    status, _, text = w.request("GET", "/quarantine")
    assert status == 200 and 'id="count">0 messages' in text, text
    for fields, why in [({"action": "hold", "id": "0000000000000000"}, "action: expected"),
                        ({"id": "0000000000000000"}, "action: expected"),
                        ({"action": "release"}, "no message selected"),
                        ({"action": "release", "id": "0000000000000000\r\n"}, "not a queue id"),
                        ({"action": "release", "id": "0123456789abcdef"}, "not a queue id"),
                        ({"action": "release", "id": ["0000000000000000"] * 2}, "twice"),
                        ({"action": "release", "id": [f"{i:016X}" for i in range(1001)]},
                         "at most 1000"),
                        ({"action": "delete", "id": "0000000000000000", "confirm": "no"},
                         "confirm: expected")]:
        status, _, text = w.post("/quarantine/action", fields)
        assert status == 400, (fields, text)
        assert why in text, (fields, text)
    # Unknown ids: the daemon's lines, several requests' worth (256 ids to a request).
    ids = [f"{i:016X}" for i in range(300)]
    status, _, text = w.post("/quarantine/action", {"action": "release", "id": ids})
    assert status == 200, text
    assert "- 0000000000000000: " in text and f"- {ids[-1]}: " in text
    assert 'class="error"' in text
    assert "action=quarantine-release, ids=0000000000000000," in con.log()
