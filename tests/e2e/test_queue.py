# SPDX-License-Identifier: MIT
"""gate26 queue against a live daemon (issue 4, "Queue control"): list
(text and --json), show, flush, hold and release (which survive a
restart), delete, bounce; unknown ids, bad ids, busy messages, a daemon
that is not running; and SIGTERM's drain: a transaction in flight
finishes, idle sessions get 421, everything undelivered stays queued."""
import email
import email.policy
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import BIN, Raw, free_port, wait_for, want
from dnsmasq import dnsmasq  # noqa: F401 (a fixture)
from test_relay import dns_for, dsn_of, log_lines, peers, start, submit, wait_gone, wait_messages  # noqa: F401


def queue(g, *args):
    """Runs gate26 queue -c CONF ARGS; returns (exit status, stdout, stderr)."""
    p = subprocess.run([BIN, "queue", "-c", str(g.conf), *args], capture_output=True, text=True,
                       timeout=30, env=g.env)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def setup(gateway, dnsmasq, peers):
    """A gateway in queue-only mode with a sender MX, so nothing leaves until told."""
    home = peers(host="127.0.0.41", port=25)
    far = peers(host="127.0.0.42", port=25)
    dns = dns_for(dnsmasq, "--mx-host=home.test,mx.home.test,10",
                  "--host-record=mx.home.test,127.0.0.41",
                  "--mx-host=far.test,mx.far.test,10", "--host-record=mx.far.test,127.0.0.42")
    g = start(gateway, dns, delivery="queue-only yes")
    return g, home, far


def test_list_text_and_json(setup):
    g, home, far = setup
    a = submit(g, "alice@home.test", ["bob@far.test", "carol@far.test"], tag="a")
    b = submit(g, "", ["dave@far.test"], tag="b")
    rc, out, err = queue(g, "list")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "AGE", "SIZE", "NEXT", "ATTEMPTS", "SENDER"]
    assert any(line.startswith(a) and line.endswith("<alice@home.test>") for line in lines)
    assert any(line.startswith(b) and line.endswith("<>") for line in lines)
    assert "    pending  bob@far.test" in lines and "    pending  carol@far.test" in lines
    assert lines[-1] == "2 messages"

    rc, out, err = queue(g, "list", "--json")
    assert rc == 0, err
    msgs = {m["id"]: m for m in json.loads(out)["messages"]}
    assert set(msgs) == {a, b}
    assert msgs[a]["sender"] == "alice@home.test" and msgs[b]["sender"] == ""
    assert msgs[a]["recipients"] == [{"address": "bob@far.test", "status": "pending"},
                                     {"address": "carol@far.test", "status": "pending"}]
    assert msgs[a]["door"] == "internal" and msgs[a]["attempts"] == 0
    assert msgs[a]["held"] is False and msgs[a]["size"] > 0


def test_show(setup):
    g, home, far = setup
    a = submit(g, "alice@home.test", ["bob@far.test"], tag="show")
    rc, out, err = queue(g, "show", a)
    assert rc == 0, err
    assert f"id:        {a}" in out
    assert "sender:    <alice@home.test>" in out
    assert "recipient: pending bob@far.test" in out
    assert "Message-ID: <show@test>" in out
    assert "hello" not in out  # the header only


def test_errors(setup):
    g, home, far = setup
    rc, out, err = queue(g, "show", "0123456789ABCDEF")
    assert rc == 1 and "no message 0123456789ABCDEF in the queue" in err
    rc, out, err = queue(g, "hold", "../../etc")
    assert rc == 1 and "not a queue id" in err
    rc, out, err = queue(g, "frobnicate", "0123456789ABCDEF")
    assert rc == 2 and "usage: gate26 queue" in err
    rc, out, err = queue(g, "show")
    assert rc == 2
    rc, out, err = queue(g, "list", "--xml")
    assert rc == 2
    g.stop()
    # With the daemon stopped, list reads the spool (issue 11: test_queue_select.py); the
    # commands that change messages still need the daemon.
    rc, out, err = queue(g, "list")
    assert rc == 0 and out.splitlines()[-1] == "0 messages", err
    rc, out, err = queue(g, "hold", "0123456789ABCDEF")
    assert rc == 1 and "the daemon is not running" in err


def test_hold_release_survive_restart_and_flush(setup):
    g, home, far = setup
    a = submit(g, "alice@home.test", ["bob@far.test"], tag="held")
    rc, out, err = queue(g, "hold", a)
    assert rc == 0 and f"{a}: on hold" in out, err
    rc, out, err = queue(g, "hold", a)
    assert rc == 1 and "already" in err
    head, _ = g.message(a)
    assert "\nschedule 0000 9999999999\n" in head
    # Delivery on: the held message stays; flush does not move it either.
    g.stop()
    g.write_config(delivery="retry 1s")
    g.start()
    rc, out, err = queue(g, "flush", a)
    assert rc == 1 and "on hold" in err
    time.sleep(1)
    assert far.conns == [] and a in g.queue_files()
    _, out, _ = queue(g, "list")
    assert "held" in out
    rc, out, err = queue(g, "release", a)
    assert rc == 0, err
    wait_messages(far, 1)
    wait_gone(g, a)
    rc, out, err = queue(g, "flush")
    assert rc == 0 and "0 messages to be tried now" in out


def test_delete(setup):
    g, home, far = setup
    a = submit(g, "alice@home.test", ["bob@far.test"])
    rc, out, err = queue(g, "delete", a)
    assert rc == 0 and f"{a}: deleted" in out, err
    assert a not in g.queue_files()
    assert log_lines(g, a, "event=delete, by=queue-command")
    rc, out, err = queue(g, "delete", a)
    assert rc == 1 and "no message" in err


def test_bounce_command(setup):
    g, home, far = setup
    g.write_config(delivery="retry 1h")
    g.hup()
    a = submit(g, "alice@home.test", ["bob@far.test"], tag="ret")
    # The first attempt is made at once; let it end (delivered to far), then
    # bounce a second message that is on hold.
    far.opt["rcpt_replies"] = {"late@far.test": "450 4.2.0 later"}
    b = submit(g, "alice@home.test", ["late@far.test"], tag="ret2")
    wait_for(lambda: log_lines(g, b, "status=deferred"), 20, "a deferral")
    rc, out, err = queue(g, "bounce", b)
    assert rc == 0, err
    (report,) = wait_messages(home, 1)
    _, per_msg, (r,) = dsn_of(report)
    assert per_msg["X-Gate26-Queue-ID"] == b
    assert r["Action"] == "failed" and r["Status"] == "5.0.0"
    wait_gone(g, b)
    wait_gone(g, a)


def test_sigterm_finishes_transactions_in_flight(setup):
    g, home, far = setup
    idle = Raw(g.port("internal"))
    idle.expect(220)
    busy = Raw(g.port("internal"))
    busy.expect(220)
    busy.send(b"EHLO c.test\r\nMAIL FROM:<a@home.test>\r\nRCPT TO:<b@far.test>\r\nDATA\r\n")
    want(busy, 250, None)
    want(busy, 250, "2.1.0")
    want(busy, 250, "2.1.5")
    want(busy, 354, None)
    busy.send(b"Subject: half\r\n\r\nfirst half\r\n")
    time.sleep(0.2)
    os.kill(g.pid, signal.SIGTERM)
    # The idle session is told at once; the listener is closed.
    want(idle, 421, "4.3.0")
    wait_for(lambda: "event=draining" in g.log(), 5, "the drain")
    with pytest.raises(OSError):
        Raw(g.port("internal"), timeout=2)
    # The transaction in flight completes, then gets its 421.
    busy.send(b"second half\r\n.\r\n")
    got = want(busy, 250, "2.0.0")
    want(busy, 421, "4.3.0")
    qid = got[0].split()[-1]
    g.proc.wait(timeout=15)
    assert g.proc.returncode == 0
    g.proc = None
    g.check_sanitizers()
    assert qid in g.queue_files()
    assert "event=drained, sessions=0, deliveries=0" in g.log()


def test_sigterm_drain_ends_after_its_limit(setup):
    """A client that stalls in DATA does not hold the shutdown beyond 10 s:
    then it gets 421 and its unfinished message is not queued."""
    g, home, far = setup
    stall = Raw(g.port("internal"), timeout=30)
    stall.expect(220)
    stall.send(b"EHLO c.test\r\nMAIL FROM:<a@home.test>\r\nRCPT TO:<b@far.test>\r\nDATA\r\n")
    want(stall, 250, None)
    want(stall, 250, "2.1.0")
    want(stall, 250, "2.1.5")
    want(stall, 354, None)
    stall.send(b"Subject: never ends\r\n")
    os.kill(g.pid, signal.SIGTERM)
    g.proc.wait(timeout=25)
    assert g.proc.returncode == 0
    g.proc = None
    g.check_sanitizers()
    assert "event=drained, sessions=1, deliveries=0" in g.log()
    want(stall, 421, "4.3.0")
    assert g.queue_files() == [] and g.tmp_files() == []
