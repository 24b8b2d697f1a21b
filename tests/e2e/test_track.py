# SPDX-License-Identifier: MIT
"""Message tracking (issue 15, docs/console.md "Message tracking") with the
real daemon: real SMTP peers (aiosmtpd, tests/e2e/smtp_peer.py) as next hops
accept, defer (451) or refuse (550) what gate26 relays; `gate26 track` then
finds each message with its events: queued and sent; deferred, held and
released; bounced with the DSN sent; a bare LF rejected after the data;
quarantined by real rspamd and released. Each filter, with SQL
metacharacters in values; --json fields; tracking off (no database: exit 1)
then turned on by a reload; the database deleted while the daemon runs
(mail still flows, one warning, recorded again); the metrics."""
import http.client
import json
import os
import re
import subprocess

import pytest

from checkers import (checks_block, message, quarantine_cli, rspamd, sink,  # noqa: F401
                      start_checks_gateway, transact)
from conftest import BIN, Raw, free_port, queued_id, wait_for, want
from test_relay import peers, submit, wait_gone, wait_messages  # noqa: F401 (peers: a fixture)

INTERNAL = {"internal": {"allow": "127.0.0.0/8", "tls": "none"}}


def track(g, *args, rc=0):
    p = subprocess.run([BIN, "track", "-c", str(g.conf), *args], capture_output=True,
                       text=True, timeout=60, env=g.env)
    assert p.returncode == rc, f"track {args} exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
    return p.stdout, p.stderr


def found(g, *args):
    out, _ = track(g, "--json", *args)
    return json.loads(out)


def one(g, qid):
    (m,) = found(g, "--id", qid)
    return m


def kinds(m):
    return [e["kind"] for e in m["events"]]


def wait_event(g, qid, pred, what):
    """Waits until the message qid's tracking record satisfies pred (the writer batches)."""
    box = {}

    def ok():
        ms = found(g, "--id", qid)
        box["m"] = ms[0] if ms else None
        return box["m"] is not None and pred(box["m"])
    try:
        wait_for(ok, 30, what)
    except AssertionError:
        lines = [x for x in g.log().splitlines() if "track" in x or "warning" in x]
        raise AssertionError(f"{what}: {box.get('m')}\n" + "\n".join(lines[-20:])) from None
    return box["m"]


def body(subject, mid):
    return (f"Subject: {subject}\r\nMessage-ID: <{mid}>\r\nFrom: <a@x.test>\r\n\r\n"
            "hello\r\n").encode()


def metrics(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/metrics")
        return c.getresponse().read().decode()
    finally:
        c.close()


def metric(text, name):
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    assert m, text
    return float(m.group(1))


@pytest.fixture
def relay(gateway, peers):
    """gate26 relaying ok.test to a peer that takes all, busy.test to one that answers
    451 to MAIL, gone.test to one that answers 550; metrics on."""
    ok = peers()
    busy = peers(mail_reply="451 4.3.2 not now")
    gone = peers(mail_reply="550 5.7.1 go away")
    mport = free_port()
    domains = {d: {"relay": f"smtp://127.0.0.1:{p.port}", "verify-recipients": "off"}
               for d, p in (("ok.test", ok), ("busy.test", busy), ("gone.test", gone))}
    g = gateway(doors=INTERNAL, domains=domains, delivery="retry 1s",
                extra=f"resolver 127.0.0.1:1\nmetrics {{\n    address 127.0.0.1:{mport}\n}}\n"
                      "tracking {\n    keep 30d\n}\n")
    g.mport = mport
    return g, ok, busy, gone


def test_delivered_deferred_bounced_rejected_and_filters(relay):
    g, ok, busy, gone = relay
    sent = submit(g, "alice@ok.test", ["bob@ok.test", "carol@ok.test"],
                  body=body("first <script>alert(1)</script>", "one@ok.test"))
    deferred = submit(g, "dave@ok.test", ["erin@busy.test"], body=body("second", "two@ok.test"))
    bounced = submit(g, "frank@ok.test", ["gina@gone.test"], body=body("third", "three@ok.test"))
    # A bare LF: refused after the data, recorded with the reply.
    r = Raw(g.port("internal"))
    try:
        r.expect(220)
        r.send(b"EHLO client.test\r\n")
        want(r, 250, None)
        r.send(b"MAIL FROM:<harry@ok.test>\r\n")
        want(r, 250, "2.1.0")
        r.send(b"RCPT TO:<ivy@ok.test>\r\n")
        want(r, 250, "2.1.5")
        r.send(b"DATA\r\n")
        want(r, 354, None)
        r.send(b"Subject: bare\r\nMessage-ID: <four@ok.test>\r\n\r\nline\nmore\r\n.\r\n")
        want(r, 550, "5.6.0")
        r.send(b"QUIT\r\n")
    finally:
        r.close()

    # Delivered: queued, then one attempt per recipient, sent.
    wait_messages(ok, 1)
    wait_gone(g, sent)
    m = wait_event(g, sent, lambda m: kinds(m).count("attempt") == 2, "the two attempts")
    assert kinds(m) == ["queued", "attempt", "attempt"]
    assert m["status"] == "sent"
    assert m["sender"] == "alice@ok.test"
    assert m["recipients"] == ["bob@ok.test", "carol@ok.test"]
    assert m["door"] == "internal" and m["client"] == "127.0.0.1" and m["helo"] == "client.test"
    assert m["message_id"] == "<one@ok.test>"
    assert m["subject"] == "first <script>alert(1)</script>"  # as given: escaping is the reader's
    assert m["size"] > 0
    queued = m["events"][0]
    assert queued["detail"].startswith('reply="250 2.0.0') and sent in queued["detail"]
    attempts = [e for e in m["events"] if e["kind"] == "attempt"]
    assert sorted(e["rcpt"] for e in attempts) == ["bob@ok.test", "carol@ok.test"]
    assert all("status=sent" in e["detail"] and f"127.0.0.1]:{ok.port}" in e["detail"]
               for e in attempts)
    # Every field of the JSON object is there, snake_case.
    assert sorted(m) == sorted(["qid", "arrival", "status", "updated", "sender", "recipients",
                                "size", "door", "client", "helo", "message_id", "subject",
                                "events"])
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", m["arrival"])
    assert sorted(queued) == ["detail", "kind", "rcpt", "time"]

    # Deferred: the 451 recorded, retried.
    m = wait_event(g, deferred, lambda m: "attempt" in kinds(m), "the deferred attempt")
    assert m["status"] == "deferred"
    a = next(e for e in m["events"] if e["kind"] == "attempt")
    assert a["rcpt"] == "erin@busy.test" and "451 4.3.2 not now" in a["detail"]
    assert "status=deferred" in a["detail"]
    # Held and released by the queue command: both recorded.
    wait_for(lambda: subprocess.run([BIN, "queue", "-c", str(g.conf), "hold", deferred],
                                    capture_output=True, timeout=30).returncode == 0,
             30, "the hold (between attempts)")
    m = wait_event(g, deferred, lambda m: "hold" in kinds(m), "the hold event")
    assert m["status"] == "hold"
    p = subprocess.run([BIN, "queue", "-c", str(g.conf), "release", deferred],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    wait_event(g, deferred, lambda m: "release" in kinds(m), "the release event")

    # Bounced: the 550, and the DSN sent to the sender.
    m = wait_event(g, bounced, lambda m: "dsn" in kinds(m), "the bounce's DSN")
    a = next(e for e in m["events"] if e["kind"] == "attempt")
    assert "550 5.7.1 go away" in a["detail"] and "status=bounced" in a["detail"]
    assert m["status"] == "bounced"

    # Rejected at the end of the data.
    (rej,) = wait_for_list(g, "--from", "harry@ok.test")
    assert rej["status"] == "rejected" and kinds(rej) == ["rejected"]
    assert "550 5.6.0" in rej["events"][0]["detail"]
    assert rej["recipients"] == ["ivy@ok.test"]

    # The filters, each alone.
    qids = lambda *a: [x["qid"] for x in found(g, *a)]  # noqa: E731
    assert qids("--from", "alice@ok.test") == [sent]
    assert qids("--from", "ALICE@OK.TEST") == [sent]
    assert qids("--to", "gina@gone.test") == [bounced]
    assert qids("--to", "carol@ok.test") == [sent]
    assert set(qids("--client", "127.0.0.1")) >= {sent, deferred, bounced, rej["qid"]}
    assert qids("--client", "127.0.0.2") == []
    assert qids("--id", deferred) == [deferred]
    assert qids("--message-id", "<two@ok.test>") == [deferred]
    assert qids("--message-id", "two@ok.test") == [deferred]
    assert set(qids("--since", "1h")) >= {sent, deferred, bounced}
    assert qids("--until", "1h") == []
    assert qids("--since", "2000-01-01T00:00:00Z", "--until", "2001-01-01T00:00:00+02:00") == []
    assert len(qids("--limit", "1")) == 1
    assert qids("--from", "alice@ok.test", "--to", "gina@gone.test") == []
    # SQL metacharacters are text to match, never SQL.
    for hostile in ("x' OR '1'='1", "%", "alice@ok.test' --", "\"; DROP TABLE messages; --",
                    "*", "_lice@ok.test"):
        assert qids("--from", hostile) == [], hostile
        assert qids("--to", hostile) == [], hostile
        assert qids("--message-id", hostile) == [], hostile
    assert qids("--id", sent) == [sent]  # the table is still there

    # Text: one block per message, the events under it, a <script> Subject as text.
    out, _ = track(g, "--id", sent)
    lines = out.splitlines()
    assert lines[0].startswith(sent + "  ") and lines[0].endswith("  sent")
    assert "from=<alice@ok.test>" in lines[1] and "client=127.0.0.1" in lines[1]
    assert lines[2] == "  to=<bob@ok.test>,<carol@ok.test>"
    assert 'subject="first <script>alert(1)</script>"' in lines[3]
    assert sum(" attempt to=<" in x for x in lines) == 2

    # The metrics count what was noted.
    text = metrics(g.mport)
    assert metric(text, "gate26_tracking_events_total") >= 8
    assert metric(text, "gate26_tracking_dropped_total") == 0


def wait_for_list(g, *args):
    box = {}

    def ok():
        box["v"] = found(g, *args)
        return bool(box["v"])
    wait_for(ok, 30, f"track {args}")
    return box["v"]


def test_usage_errors(relay):
    g, *_ = relay
    for args, phrase in ((["--since", "yesterday"], "--since takes an RFC 3339 time"),
                         (["--until", "2026-13-01T00:00:00Z"], "--until takes"),
                         (["--since", "2026-02-30T00:00:00Z"], "--since takes"),
                         (["--limit", "0"], "--limit takes a number from 1 to 10000"),
                         (["--limit", "10001"], "--limit takes"),
                         (["--id", "0123456789abcdef"], "--id takes a queue id (16 hex digits"),
                         (["--id", "' OR 1=1 --"], "--id takes a queue id"),
                         (["--from", "a" * 321], "--from takes at most 320 octets"),
                         (["--bogus"], "unknown option '--bogus'"),
                         (["--from"], "--from needs a value"),
                         (["extra"], "unexpected argument 'extra'")):
        _, err = track(g, *args, rc=2)
        assert phrase in err, (args, err)
    out, _ = track(g, "--help")
    assert out.startswith("usage: gate26 track")


def test_off_then_on_by_reload_and_deleted_while_running(gateway, peers):
    ok = peers()
    domains = {"ok.test": {"relay": f"smtp://127.0.0.1:{ok.port}", "verify-recipients": "off"}}
    g = gateway(doors=INTERNAL, domains=domains, delivery="retry 1s",
                extra="resolver 127.0.0.1:1\ntracking {\n    enabled no\n}\n")
    first = submit(g, "alice@ok.test", ["bob@ok.test"], body=body("off", "off@ok.test"))
    wait_gone(g, first)
    db = g.spool / "tracking.db"
    assert not db.exists()
    _, err = track(g, rc=1)
    assert "no tracking database" in err and str(db) in err

    # On by a reload: the file is made, the next message recorded.
    g.extra = "resolver 127.0.0.1:1\ntracking {\n    enabled yes\n    keep 1d\n}\n"
    g.write_config()
    g.hup()
    wait_for(lambda: "event=reload, status=ok" in g.log(), 20, "the reload")
    wait_for(db.exists, 20, "tracking.db")
    second = submit(g, "alice@ok.test", ["bob@ok.test"], body=body("on", "on@ok.test"))
    wait_event(g, second, lambda m: "attempt" in kinds(m), "the second message's attempt")
    assert found(g, "--id", first) == []

    # Deleted while the daemon runs: mail still flows, one warning, recorded again.
    os.unlink(db)
    third = submit(g, "carol@ok.test", ["bob@ok.test"], body=body("after", "after@ok.test"))
    wait_messages(ok, 3)
    wait_gone(g, third)
    wait_for(lambda: "event=fault" in g.log() and "the file was deleted or replaced" in g.log(),
             20, "the warning")
    assert len([x for x in g.log().splitlines() if "track:" in x and "event=fault" in x]) == 1
    wait_for(db.exists, 20, "tracking.db again")
    wait_event(g, third, lambda m: "attempt" in kinds(m), "the third message's attempt")
    assert found(g, "--id", second) == []  # history lost, never mail
    fourth = submit(g, "carol@ok.test", ["bob@ok.test"], body=body("later", "later@ok.test"))
    wait_event(g, fourth, lambda m: kinds(m) == ["queued", "attempt"], "the fourth message")
    # Turned off again: the file stays, the daemon stops writing.
    g.extra = "resolver 127.0.0.1:1\ntracking {\n    enabled no\n}\n"
    g.write_config()
    g.hup()
    wait_for(lambda: "event=tracking, status=off" in g.log(), 20, "tracking off")
    fifth = submit(g, "carol@ok.test", ["bob@ok.test"], body=body("off again", "o2@ok.test"))
    wait_gone(g, fifth)
    assert found(g, "--id", fifth) == []
    assert [m["qid"] for m in found(g, "--id", fourth)] == [fourth]


def test_not_a_tracking_database(gateway):
    g = gateway(doors=INTERNAL, extra="tracking {\n    enabled no\n}\n")
    (g.spool / "tracking.db").write_bytes(b"this is not SQLite")
    _, err = track(g, rc=1)
    assert "tracking.db" in err


def test_quarantined_then_released(gateway, sink, rspamd):
    g = start_checks_gateway(gateway, None, sink,
                             checks_block("inbound", f"spam rspamd {rspamd.url}",
                                          "spam-reject 15", "spam-quarantine 6"))
    t = transact(g, "alice@example.test", ["bob@ours.test"],
                 message(subject="held <b>", headers=b"X-Gate26-Test: seven\r\n"))
    qid = t.queue_id
    m = wait_event(g, qid, lambda m: m["status"] == "quarantined", "the quarantined record")
    assert kinds(m) == ["quarantined"]
    detail = m["events"][0]["detail"]
    assert "check=spam" in detail and "checks=" in detail and "250 2.0.0" in detail
    assert m["subject"] == "held <b>"
    quarantine_cli(g, "release", qid)
    m = wait_event(g, qid, lambda m: "attempt" in kinds(m), "the release and delivery")
    assert kinds(m)[:2] == ["quarantined", "quarantine-release"]
    assert m["status"] == "sent"


def test_keep_applies_at_a_reload(gateway, peers):
    """An old message (written beside the daemon, as another process may) is swept once a
    reload shortens keep below its age; the recent one stays."""
    import sqlite3
    import time
    ok = peers()
    domains = {"ok.test": {"relay": f"smtp://127.0.0.1:{ok.port}", "verify-recipients": "off"}}
    extra = "resolver 127.0.0.1:1\ntracking {\n    keep %s\n}\n"
    g = gateway(doors=INTERNAL, domains=domains, delivery="retry 1s", extra=extra % "30d")
    recent = submit(g, "alice@ok.test", ["bob@ok.test"], body=body("recent", "recent@ok.test"))
    wait_event(g, recent, lambda m: "attempt" in kinds(m), "the recent message")
    old = int(time.time() - 10 * 86400) * 1000000
    db = sqlite3.connect(g.spool / "tracking.db", timeout=10)
    with db:
        db.execute("INSERT INTO messages (qid, sender, arrival, status) VALUES "
                   "('OLD0000000000001', 'old@ok.test', ?, 'sent')", (old,))
        db.execute("INSERT INTO events (qid, time, kind) VALUES ('OLD0000000000001', ?, 'queued')",
                   (old,))
    db.close()
    assert [m["qid"] for m in found(g, "--from", "old@ok.test")] == ["OLD0000000000001"]
    g.extra = extra % "5d"
    g.write_config()
    g.hup()
    wait_for(lambda: found(g, "--from", "old@ok.test") == [], 30, "the old message swept")
    assert "event=sweep, deleted=1, keep=432000" in g.log()
    assert [m["qid"] for m in found(g, "--id", recent)] == [recent]
