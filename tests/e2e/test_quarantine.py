# SPDX-License-Identifier: MIT
"""The quarantine (issue 14, docs/spool.md "The quarantine") with the real
daemon: messages are put into SPOOL/quarantine/ by the spool's own function
through the test driver quarantine_try (src/spool/quarantine_try.c, with the
daemon stopped, as the content checks will do in the session), then `gate26
quarantine list|show|release|delete [--json]`: a release is delivered once
to a real SMTP peer, a second release fails, delete, expiry after keep (at
start and on SIGHUP), bad ids, no daemon running, a restart, and the
gate26_quarantine_messages gauge."""
import http.client
import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, free_port, wait_for
from test_relay import peers, submit, wait_gone, wait_messages  # noqa: F401 (peers: a fixture)

DRIVER = Path(BIN).parent / "spool" / "quarantine_try"
DAY = 86400
CONTENT = (b"Received: from client.example by gate26.test; Mon, 7 Dec 2026 04:00:00 +0000\r\n"
           b"From: <spammer@far.test>\r\nSubject: cheap %s\r\nX-Tag: %s\r\n\r\n"
           b"buy now\r\n.line with a dot\r\n")
ID_RE = re.compile(r"^[0-9A-F]{16}$")


def content(tag):
    return CONTENT % (tag.encode(), tag.encode())


def hold(g, tag, rcpts=("bob@ours.test",), check="spam", reason="score 12.5 over 6",
         age=0, sender="mallory@far.test"):
    """Quarantines one message in g's spool (the daemon must be stopped); returns its id."""
    p = subprocess.run([str(DRIVER), str(g.spool), sender, check, reason, str(age), *rcpts],
                       input=content(tag), capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    qid = p.stdout.decode().strip()
    assert ID_RE.match(qid)
    return qid


def quarantine(g, *args):
    p = subprocess.run([BIN, "quarantine", "-c", str(g.conf), *args], capture_output=True,
                       text=True, timeout=30, env=g.env)
    return p.returncode, p.stdout, p.stderr


def gauge(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
    finally:
        c.close()
    m = re.search(r"^gate26_quarantine_messages (\S+)$", body, re.M)
    assert m, body
    return float(m.group(1))


@pytest.fixture
def setup(gateway, peers):
    """A gateway (not started) relaying ours.test to a real SMTP peer, keep 2d, metrics on."""
    inside = peers()
    mport = free_port()

    def make(keep="2d"):
        extra = (f"resolver 127.0.0.1:1\nquarantine {{\n    keep {keep}\n}}\n"
                 f"metrics {{\n    address 127.0.0.1:{mport}\n}}\n")
        g = gateway(doors={"internal": {"allow": "127.0.0.0/8", "tls": "none"}},
                    domains={"ours.test": f"smtp://127.0.0.1:{inside.port}"},
                    delivery="retry 1s", extra=extra, start=False)
        g.mport = mport
        return g

    return make, inside


def tagged(peer, tag):
    return [m for m in peer.messages() if f"X-Tag: {tag}\r\n".encode() in m.data]


def test_list_show_release_once_delete(setup):
    make, inside = setup
    g = make()
    a = hold(g, "a", rcpts=("bob@ours.test", "carol@ours.test"))
    b = hold(g, "b", check="antivirus", reason="Eicar-Test-Signature\r\nX-Evil: 1",
             sender="")
    g.start()
    assert gauge(g.mport) == 2
    # The scheduler runs: a plain message is delivered; the quarantined ones are not.
    plain = submit(g, "alice@ours.test", ["dave@ours.test"], tag="plain")
    wait_messages(inside, 1)
    wait_gone(g, plain)
    assert tagged(inside, "a") == [] and tagged(inside, "b") == []
    assert g.queue_files() == []

    rc, out, err = quarantine(g, "list")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["ID", "QUARANTINED", "CHECK", "SIZE"]
    row_a = next(line for line in lines if line.startswith(a))
    row_b = next(line for line in lines if line.startswith(b))
    assert lines.index(row_a) < lines.index(row_b)  # oldest first
    assert " spam " in row_a and "<mallory@far.test>" in row_a
    assert "bob@ours.test,carol@ours.test" in row_a and '"score 12.5 over 6"' in row_a
    # The reason's control octets became '?': no forged line.
    assert '"Eicar-Test-Signature??X-Evil: 1"' in row_b and "<>" in row_b
    assert lines[-1] == "2 messages in quarantine"

    rc, out, err = quarantine(g, "list", "--json")
    assert rc == 0, err
    items = json.loads(out)
    assert [m["id"] for m in items] == [a, b]
    m = items[0]
    assert set(m) == {"id", "quarantined", "check", "reason", "sender", "recipients", "size",
                      "door", "client", "expires"}
    assert m["check"] == "spam" and m["reason"] == "score 12.5 over 6"
    assert m["sender"] == "mallory@far.test"
    assert m["recipients"] == ["bob@ours.test", "carol@ours.test"]
    assert m["size"] == len(content("a")) and m["door"] == "inbound"
    assert m["client"] == "192.0.2.7"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", m["quarantined"])
    from datetime import datetime
    t0 = datetime.strptime(m["quarantined"], "%Y-%m-%dT%H:%M:%SZ")
    t1 = datetime.strptime(m["expires"], "%Y-%m-%dT%H:%M:%SZ")
    assert (t1 - t0).total_seconds() == 2 * DAY
    assert items[1]["sender"] == "" and items[1]["check"] == "antivirus"

    rc, out, err = quarantine(g, "show", a)
    assert rc == 0, err
    assert f"id:          {a}" in out and "check:       spam" in out
    assert "Subject: cheap a" in out and "buy now" not in out
    rc, out, err = quarantine(g, "show", a, "--body")
    assert rc == 0 and "buy now" in out
    rc, out, err = quarantine(g, "show", a, "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["id"] == a and doc["headers"].endswith("X-Tag: a\r\n\r\n")
    assert "buy now" not in doc["headers"]

    # Release: through the daemon, delivered unchanged, once.
    rc, out, err = quarantine(g, "release", a)
    assert (rc, out, err) == (0, f"{a}: released\n", "")
    wait_for(lambda: len(tagged(inside, "a")) == 1, 20, "the released message")
    wait_gone(g, a)
    (got,) = tagged(inside, "a")
    assert got.mail_from == "mallory@far.test"
    assert sorted(r for r, _ in got.rcpts) == ["bob@ours.test", "carol@ours.test"]
    assert got.data == content("a")
    assert gauge(g.mport) == 1
    rc, out, err = quarantine(g, "release", a)
    assert (rc, out) == (1, "") and err == f"{a}: no such message in quarantine\n"
    assert "event=quarantine-release" in g.log()

    # Delete: gone, never delivered; twice: nothing there.
    rc, out, err = quarantine(g, "delete", b)
    assert (rc, out, err) == (0, f"{b}: deleted\n", "")
    rc, out, err = quarantine(g, "delete", b)
    assert rc == 1 and err == f"{b}: no such message in quarantine\n"
    assert gauge(g.mport) == 0
    rc, out, err = quarantine(g, "list", "--json")
    assert (rc, json.loads(out)) == (0, [])
    # Another moment for a wrong delivery to show: a second plain message goes first.
    plain = submit(g, "alice@ours.test", ["erin@ours.test"], tag="plain2")
    wait_gone(g, plain)
    assert len(tagged(inside, "a")) == 1 and tagged(inside, "b") == []


def test_bad_ids_and_usage(setup):
    make, inside = setup
    g = make()
    a = hold(g, "a")
    g.start()
    for bad in ["123", a.lower(), a + "0", "../queue/" + a]:
        rc, out, err = quarantine(g, "release", bad)
        assert rc == 2 and "not a queue id" in err, (bad, err)
    rc, out, err = quarantine(g, "release", a, a)
    assert rc == 2 and "named twice" in err
    rc, out, err = quarantine(g, "show", "0" * 16)
    assert rc == 1 and err == "0000000000000000: no such message in quarantine\n"
    rc, out, err = quarantine(g, "release", "0" * 16, a)
    assert rc == 1 and out == f"{a}: released\n"
    assert err == "0000000000000000: no such message in quarantine\n"
    for args in [[], ["frobnicate"], ["show"], ["list", a], ["release", "--json", a],
                 ["show", a, "0" * 16]]:
        rc, out, err = quarantine(g, *args)
        assert rc == 2 and "usage: gate26 quarantine" in err, (args, err)
    rc, out, err = quarantine(g, "--help")
    assert rc == 0 and "release ID..." in out


def test_many_ids_in_one_command(setup):
    """More ids than one request line holds go to the daemon in several requests."""
    make, inside = setup
    g = make()
    a = hold(g, "a")
    b = hold(g, "b")
    g.start()
    unknown = [f"{i:016X}" for i in range(1, 999)]  # 1000 ids: CTL_IDS_MAX
    rc, out, err = quarantine(g, "delete", *unknown[:300], a, *unknown[300:], b)
    assert rc == 1
    assert out == f"{a}: deleted\n{b}: deleted\n"
    assert err.splitlines() == [f"{u}: no such message in quarantine" for u in unknown]
    rc, out, err = quarantine(g, "list", "--json")
    assert (rc, json.loads(out)) == (0, [])


def test_expiry_at_start_and_on_reload(setup):
    make, inside = setup
    g = make(keep="2d")
    old = hold(g, "old", age=3 * DAY + 7200)
    mid = hold(g, "mid", age=DAY + DAY // 2, check="dmarc", reason="p=quarantine")
    new = hold(g, "new")
    g.start()
    wait_for(lambda: f"{old}: event=quarantine-expired" in g.log(), 10, "the expiry at start")
    line = next(x for x in g.log().splitlines() if f"{old}: event=quarantine-expired" in x)
    assert "check=spam, age=3d2h" in line
    rc, out, err = quarantine(g, "list", "--json")
    assert [m["id"] for m in json.loads(out)] == [mid, new]
    assert gauge(g.mport) == 2
    # A reload that shortens keep applies it at once.
    g.write_config(extra=g.extra.replace("keep 2d", "keep 1d"))
    g.hup()
    wait_for(lambda: f"{mid}: event=quarantine-expired, check=dmarc" in g.log(), 10,
             "the expiry at reload")
    rc, out, err = quarantine(g, "list", "--json")
    assert [m["id"] for m in json.loads(out)] == [new]
    assert gauge(g.mport) == 1
    assert not (g.spool / "quarantine" / old).exists()
    assert tagged(inside, "old") == [] and tagged(inside, "mid") == []


def test_without_daemon_and_restart(setup):
    make, inside = setup
    g = make()
    a = hold(g, "a")
    b = hold(g, "b")
    c = hold(g, "c")
    # No daemon: list and show read the spool under its lock; release and delete work directly.
    rc, out, err = quarantine(g, "list", "--json")
    assert rc == 0, err
    assert [m["id"] for m in json.loads(out)] == [a, b, c]
    rc, out, err = quarantine(g, "delete", c)
    assert (rc, out) == (0, f"{c}: deleted\n"), err
    rc, out, err = quarantine(g, "release", a)
    assert (rc, out) == (0, f"{a}: released\n"), err
    rc, out, err = quarantine(g, "release", a)
    assert rc == 1 and err == f"{a}: no such message in quarantine\n"
    assert g.queue_files() == [a]
    head, body = g.message(a)
    assert "gate26-quarantine" not in head and body == content("a")
    assert not list((g.spool / "tmp").iterdir())
    # The daemon finds the released message at start and delivers it; b stays held.
    g.start()
    wait_for(lambda: len(tagged(inside, "a")) == 1, 20, "the released message")
    wait_gone(g, a)
    # A restart keeps the quarantine; nothing of it is delivered meanwhile.
    g.stop()
    g.start()
    plain = submit(g, "alice@ours.test", ["dave@ours.test"], tag="plain")
    wait_gone(g, plain)
    assert tagged(inside, "b") == []
    rc, out, err = quarantine(g, "list", "--json")
    assert [m["id"] for m in json.loads(out)] == [b]
    assert gauge(g.mport) == 1
    rc, out, err = quarantine(g, "release", b)
    assert (rc, out) == (0, f"{b}: released\n"), err
    wait_for(lambda: len(tagged(inside, "b")) == 1, 20, "b delivered")
    wait_gone(g, b)
    assert len(tagged(inside, "a")) == 1 and len(tagged(inside, "b")) == 1


def test_unreadable_spool(setup, tmp_path):
    make, inside = setup
    g = make()
    # No spool yet: list says what is missing.
    rc, out, err = quarantine(g, "list")
    assert rc == 1 and "cannot read the spool" in err and str(g.spool) in err
    rc, out, err = quarantine(g, "release", "0" * 16)
    assert rc == 1 and "cannot open the spool" in err
