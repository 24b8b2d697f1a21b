# SPDX-License-Identifier: MIT
"""gate26 queue on many messages (issue 11, item 8; docs/relay.md, "Queue
control"): several ids, and the selectors --all, --from, --to, --domain,
--client, --held and --deferred (alone and together) for list, hold,
release, delete, bounce and flush; one line per message and a summary; an
unknown id among several; a message being delivered right now is
reported; usage errors exit 2. list and show work with the daemon stopped,
read-only (nothing in the spool changes), with the same JSON as the
daemon's, and a daemon starting while they read still starts. show prints
times as dates in UTC."""
import datetime
import json
import os
import re
import stat
import subprocess
import threading

import pytest

from conftest import BIN, Raw, queued_id, wait_for, want
from dnsmasq import dnsmasq  # noqa: F401 (a fixture)
from test_queue import queue
from test_relay import dns_for, log_lines, peers, start  # noqa: F401


def submit(g, sender, rcpts, source=None, tag="m"):
    """Sends one message (from the address source, if given); returns its queue id."""
    r = Raw(g.port("internal"), source=source)
    try:
        r.expect(220)
        r.send(b"EHLO client.test\r\n")
        want(r, 250, None)
        r.send(f"MAIL FROM:<{sender}>\r\n".encode())
        want(r, 250, "2.1.0")
        for rcpt in rcpts:
            r.send(f"RCPT TO:<{rcpt}>\r\n".encode())
            want(r, 250, "2.1.5")
        r.send(b"DATA\r\n")
        want(r, 354, None)
        r.send(f"Subject: {tag}\r\nMessage-ID: <{tag}@test>\r\n\r\nbody\r\n.\r\n".encode())
        return queued_id(r)
    finally:
        r.close()


def tree(root):
    """What a change to the spool would touch (not the access times, which reading moves)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in ["."] + dirnames + filenames:
            p = os.path.normpath(os.path.join(dirpath, name))
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                                             st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns,
                                             st.st_ctime_ns, st.st_ino)
    return out


def ids_of(g, *args):
    rc, out, err = queue(g, "list", "--json", *args)
    assert rc == 0, err
    return {m["id"] for m in json.loads(out)["messages"]}


@pytest.fixture
def q(gateway, dnsmasq, peers):
    """Five queued messages:
      d  alice@home.test -> late@far.test (deferred: 450), ok@far.test (delivered)
      a  alice@home.test -> bob@far.test, carol@other.test
      b  <>              -> dave@far.test
      c  eve@home.test   -> Bob@FAR.test, from 127.0.0.2
      h  eve@home.test   -> zed@other.test, on hold
    d was tried once (delivery on, retry 1h); then queue-only, so nothing moves."""
    far = peers(host="127.0.0.42", port=25, rcpt_replies={"late@far.test": "450 4.2.0 later"})
    dns = dns_for(dnsmasq, "--mx-host=far.test,mx.far.test,10",
                  "--host-record=mx.far.test,127.0.0.42")
    g = start(gateway, dns, delivery="retry 1h")
    m = {}
    m["d"] = submit(g, "alice@home.test", ["late@far.test", "ok@far.test"], tag="d")
    wait_for(lambda: log_lines(g, m["d"], "status=deferred"), 20, "the deferral of d")
    g.write_config(delivery="queue-only yes\nretry 1h")
    g.hup()
    wait_for(lambda: "event=reload, status=ok" in g.log(), what="the reload")
    m["a"] = submit(g, "alice@home.test", ["bob@far.test", "carol@other.test"], tag="a")
    m["b"] = submit(g, "", ["dave@far.test"], tag="b")
    m["c"] = submit(g, "eve@home.test", ["Bob@FAR.test"], source="127.0.0.2", tag="c")
    m["h"] = submit(g, "eve@home.test", ["zed@other.test"], tag="h")
    rc, out, err = queue(g, "hold", m["h"])
    assert rc == 0, err
    return g, m


# selectors -> the messages they select (names of the fixture's messages)
SELECTIONS = [
    (["--all"], "dabch"),
    (["--from", "alice@home.test"], "da"),
    (["--from", "ALICE@Home.Test"], "da"),
    (["--from", "<alice@home.test>"], "da"),
    (["--from", "<>"], "b"),
    (["--from", ""], "b"),
    (["--from", "nobody@home.test"], ""),
    (["--to", "bob@far.test"], "ac"),
    (["--to", "late@far.test"], "d"),
    (["--to", "ok@far.test"], ""),  # delivered already: not pending
    (["--domain", "far.test"], "dabc"),
    (["--domain", "FAR.TEST"], "dabc"),
    (["--domain", "other.test"], "ah"),
    (["--domain", "home.test"], ""),  # a sender's domain, not a recipient's
    (["--domain", "ar.test"], ""),  # the whole domain, not a suffix
    (["--client", "127.0.0.2"], "c"),
    (["--client", "::ffff:127.0.0.2"], "c"),
    (["--client", "127.0.0.1"], "dabh"),
    (["--client", "::1"], ""),
    (["--held"], "h"),
    (["--deferred"], "d"),
    (["--from", "eve@home.test", "--domain", "other.test"], "h"),
    (["--from", "alice@home.test", "--held"], ""),
    (["--domain", "far.test", "--deferred"], "d"),
    (["--all", "--domain", "far.test", "--client", "127.0.0.1"], "dab"),
]


def test_list_selectors_with_the_daemon_and_without(q):
    g, m = q
    want_ids = {tuple(sel): {m[k] for k in names} for sel, names in SELECTIONS}
    for sel, ids in want_ids.items():
        assert ids_of(g, *sel) == ids, sel
    # The text listing filters the same way.
    rc, out, err = queue(g, "list", "--domain", "other.test")
    assert rc == 0, err
    assert out.splitlines()[-1] == "2 messages"
    assert {line[:16] for line in out.splitlines()[1:-1] if not line.startswith(" ")} == \
        {m["a"], m["h"]}
    # The same answers read from the spool, with the daemon stopped.
    g.stop()
    for sel, ids in want_ids.items():
        assert ids_of(g, *sel) == ids, sel


def test_several_ids(q):
    g, m = q
    rc, out, err = queue(g, "hold", m["a"], m["b"])
    assert (rc, err) == (0, "")
    assert out == f"{m['a']}: on hold\n{m['b']}: on hold\n2 messages put on hold\n"
    assert ids_of(g, "--held") == {m["a"], m["b"], m["h"]}
    # One of three was not held: the others are released, that one is reported, exit 1.
    rc, out, err = queue(g, "release", m["a"], m["c"], m["b"])
    assert rc == 1
    assert out == f"{m['a']}: released, tried now\n{m['b']}: released, tried now\n"
    assert err == (f"gate26 queue: {m['c']}: not on hold\n"
                   "gate26 queue: 2 of 3 messages released, 1 not\n")
    assert ids_of(g, "--held") == {m["h"]}
    # An id named twice is one message.
    rc, out, err = queue(g, "hold", m["a"], m["a"])
    assert rc == 0 and out == f"{m['a']}: on hold\n1 message put on hold\n", err


def test_an_unknown_id_among_several(q):
    g, m = q
    ghost = "0123456789ABCDEF"
    rc, out, err = queue(g, "delete", m["a"], ghost, m["b"])
    assert rc == 1
    assert out == f"{m['a']}: deleted\n{m['b']}: deleted\n"
    assert err == (f"gate26 queue: {ghost}: no message in the queue\n"
                   "gate26 queue: 2 of 3 messages deleted, 1 not\n")
    assert m["a"] not in g.queue_files() and m["b"] not in g.queue_files()
    assert log_lines(g, m["a"], "event=delete, by=queue-command")
    # A malformed id among several: nothing is done at all.
    rc, out, err = queue(g, "hold", m["c"], "../../etc/passwd")
    assert rc == 1 and out == "" and "not a queue id" in err
    assert ids_of(g, "--held") == {m["h"]}


def test_hold_release_delete_by_selector(q):
    g, m = q
    rc, out, err = queue(g, "hold", "--from", "alice@home.test", "--domain", "far.test")
    assert (rc, err) == (0, "")
    assert out == f"{m['d']}: on hold\n{m['a']}: on hold\n2 messages put on hold\n"
    head, _ = g.message(m["d"])
    assert re.search(r"\nschedule 0001 9999999999\n", "\n" + head + "\n")
    # --held selects them and h; releasing them all.
    rc, out, err = queue(g, "release", "--held")
    assert rc == 0, err
    assert out.splitlines()[-1] == "3 messages released"
    assert ids_of(g, "--held") == set()
    # Holding everything from 127.0.0.1 once more, then a second time: all refused.
    rc, out, err = queue(g, "hold", "--client", "127.0.0.1")
    assert rc == 0 and out.splitlines()[-1] == "4 messages put on hold", err
    rc, out, err = queue(g, "hold", "--client", "127.0.0.1")
    assert rc == 1 and out == ""
    assert err.splitlines()[-1] == "gate26 queue: 0 of 4 messages put on hold, 4 not"
    assert f"gate26 queue: {m['b']}: already on hold" in err.splitlines()
    # A selector that matches nothing does nothing, and that is not an error.
    rc, out, err = queue(g, "delete", "--to", "nobody@far.test")
    assert (rc, out, err) == (0, "0 messages deleted\n", "")
    rc, out, err = queue(g, "delete", "--client", "127.0.0.2")
    assert (rc, out) == (0, f"{m['c']}: deleted\n1 message deleted\n"), err
    assert m["c"] not in g.queue_files()
    assert len(g.queue_files()) == 4


def test_flush_by_selector_and_ids(q):
    g, m = q
    rc, out, err = queue(g, "flush", "--deferred")
    assert (rc, out, err) == (0, f"{m['d']}: to be tried now\n1 message to be tried now\n", "")
    rc, out, err = queue(g, "flush", m["a"], m["b"])
    assert rc == 0 and out.splitlines()[-1] == "2 messages to be tried now", err
    # A held message is not flushed: it is said so, and the exit is 1.
    rc, out, err = queue(g, "flush", "--from", "eve@home.test")
    assert rc == 1
    assert out == f"{m['c']}: to be tried now\n"
    assert err == (f"gate26 queue: {m['h']}: on hold: release it first\n"
                   "gate26 queue: 1 of 2 messages to be tried now, 1 not\n")
    # flush with nothing: every message not on hold, as before.
    rc, out, err = queue(g, "flush")
    assert (rc, out) == (0, "4 messages to be tried now\n"), err


def test_bounce_by_selector(q):
    g, m = q
    rc, out, err = queue(g, "bounce", "--from", "<>")
    assert (rc, out, err) == (0, f"{m['b']}: bounced to its sender\n1 message bounced\n", "")
    wait_for(lambda: m["b"] not in g.queue_files(), 20, "the bounced message to go")


@pytest.mark.parametrize("args, message", [
    (["hold", "0123456789ABCDEF", "--all"], "hold: give ids or selectors, not both"),
    (["delete", "--held", "0123456789ABCDEF"], "delete: give ids or selectors, not both"),
    (["hold", "--frobnicate"], "unknown option --frobnicate"),
    (["hold", "-x"], "unknown option"),
    (["hold", "--client", "300.1.1.1"], '--client: not an IP address: "300.1.1.1"'),
    (["hold", "--client", "example.com"], '--client: not an IP address: "example.com"'),
    (["hold", "--client", "127.0.0.1/8"], '--client: not an IP address: "127.0.0.1/8"'),
    (["hold"], "hold: which messages? give ids, or selectors such as --all"),
    (["release"], "release: which messages?"),
    (["delete"], "delete: which messages?"),
    (["bounce"], "bounce: which messages?"),
    (["list", "0123456789ABCDEF"], "list takes selectors, not ids"),
    (["show", "--all"], "show: which message?"),
    (["show"], "show: which message?"),
    (["hold", "--json", "--all"], "--json goes with list"),
    (["hold", "--from", "a@x.test", "--from", "b@x.test"], "--from given twice"),
    (["hold", "--from"], "--from needs a value"),
    (["hold", "--from", "bob"], "--from: expected local@domain, or <> for the null sender"),
    (["hold", "--to", "x.test"], "--to: expected local@domain (or Postmaster)"),
    (["hold", "--from", "a b@x.test"], "--from: not an address"),
    (["hold", "--to", "a\x01@x.test"], "--to: not an address"),
    (["hold", "--domain", "a@x.test"], "--domain: expected a domain"),
    (["hold", "--domain", ""], "--domain: expected a domain"),
    (["hold", "--domain", "x" * 300], "--domain: too long"),
    (["hold", "--to", "a@" + "x" * 400], "--to: too long"),
    (["frobnicate"], "unknown command 'frobnicate'"),
    ([], "which command?"),
])
def test_usage_errors(q, args, message):
    g, m = q
    rc, out, err = queue(g, *args)
    assert (rc, out) == (2, ""), err
    assert err.startswith(f"gate26 queue: {message}"), err
    assert "usage: gate26 queue" in err
    # Nothing was done.
    assert ids_of(g, "--held") == {m["h"]} and len(g.queue_files()) == 5


def test_help_needs_no_configuration(tmp_path):
    for args in (["--help"], ["hold", "--help"], ["list", "-h"], ["-c", str(tmp_path / "none"),
                                                                  "--help"]):
        p = subprocess.run([BIN, "queue", *args], capture_output=True, text=True, timeout=30)
        assert (p.returncode, p.stderr) == (0, ""), (args, p)
        assert p.stdout.startswith("usage: gate26 queue [-c FILE] COMMAND")
        for word in ("--all", "--from", "--to", "--domain", "--client", "--held", "--deferred"):
            assert word in p.stdout


def utc(t):
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC")


def schedule_of(g, qid):
    head, _ = g.message(qid)
    rec = dict(line.split(" ", 1) for line in head.split("\n") if " " in line)
    attempts, nxt = rec["schedule"].split()
    return float(rec["arrival"]), int(attempts), int(nxt)


def test_show_prints_dates(q):
    g, m = q
    arrival, _, _ = schedule_of(g, m["a"])
    rc, out, err = queue(g, "show", m["a"])
    assert rc == 0, err
    lines = out.splitlines()
    assert re.fullmatch(r"arrival:   " + re.escape(utc(arrival)) + r" \((\d+[smhd])+ ago\)",
                        lines[1]) or lines[1] == f"arrival:   {utc(arrival)} (now)", lines[1]
    assert "next:      now" in lines
    arrival, attempts, nxt = schedule_of(g, m["d"])
    assert attempts == 1
    rc, out, err = queue(g, "show", m["d"])
    assert rc == 0, err
    assert re.search(r"^next:      " + re.escape(utc(nxt)) + r" \(in (\d+[smhd])+\)$", out,
                     re.M), out
    assert "attempts:  1" in out
    assert "recipient: pending late@far.test" in out and "recipient: done    ok@far.test" in out
    rc, out, err = queue(g, "show", m["h"])
    assert rc == 0 and "\nnext:      on hold\n" in out, err
    # Several at once, and the same text with the daemon stopped.
    rc, both, err = queue(g, "show", m["a"], m["h"])
    assert rc == 0 and both.count("id:        ") == 2, err
    g.stop()
    rc, out, err = queue(g, "show", m["h"])
    assert rc == 0 and "\nnext:      on hold\n" in out, err
    assert err == f"gate26 queue: the daemon is not running: read from {g.spool}/queue\n"
    rc, out, err = queue(g, "show", "0123456789ABCDEF")
    assert (rc, out) == (1, "")
    assert "gate26 queue: no message 0123456789ABCDEF in the queue\n" in err


def test_list_and_show_with_the_daemon_stopped_change_nothing(q):
    g, m = q
    rc, live, err = queue(g, "list", "--json")
    assert rc == 0, err
    rc, live_text, err = queue(g, "list")
    assert rc == 0, err
    g.stop()
    before = tree(g.spool)
    rc, out, err = queue(g, "list", "--json")
    assert rc == 0, err
    # The daemon's JSON, field for field; age moves, last_error lives in the daemon only.
    live = {x["id"]: x for x in json.loads(live)["messages"]}
    offline = {x["id"]: x for x in json.loads(out)["messages"]}
    assert set(live) == set(offline) == set(m.values())
    for qid, x in live.items():
        y = offline[qid]
        assert list(x) == list(y), qid
        assert {k: type(v) for k, v in x.items()} == {k: type(v) for k, v in y.items()}
        for k in x:
            if k not in ("age", "last_error"):
                assert x[k] == y[k], (qid, k)
    assert live[m["d"]]["last_error"] != "" and offline[m["d"]]["last_error"] == ""
    assert offline[m["h"]]["held"] is True and offline[m["h"]]["next_attempt"] == 0
    # The text listing: the same lines, but for the times (AGE, "in 54m12s") and the
    # daemon's last error.
    rc, out, err = queue(g, "list")
    assert rc == 0, err
    times = re.compile(r"^(\S{16})  \S+( +\d+  )(in \S+|\S+)")

    def strip(text):
        return [times.sub(r"\1 -\2-", line) for line in text.splitlines()
                if not line.startswith("    last error: ")]
    assert strip(out) == strip(live_text)
    assert len(strip(out)) == 1 + 5 + 7 + 1  # heading, messages, recipients, count
    for args in (["list", "--held"], ["show", m["a"], m["d"]], ["list", "--json", "--all"]):
        rc, out, err = queue(g, *args)
        assert rc == 0, (args, err)
    # Changes need the daemon: refused, and said why.
    for args in (["hold", m["a"]], ["delete", "--all"], ["flush"], ["release", "--held"],
                 ["bounce", m["b"]]):
        rc, out, err = queue(g, *args)
        assert (rc, out) == (1, ""), args
        assert err.startswith("gate26 queue: the daemon is not running; start gate26 serve to "
                              f"{args[0]} messages"), err
    assert tree(g.spool) == before
    assert not (g.spool / "control").exists()


def test_a_daemon_starting_while_readers_read_starts(q):
    """Readers in a loop while the daemon starts, 10 times: each start
    succeeds (a reader's shared lock only makes it wait), and every reader
    gets the whole queue, from the spool or from the daemon."""
    g, m = q
    for round_ in range(10):
        g.stop()
        stop = threading.Event()
        results = []

        def read():
            for _ in range(500):
                if stop.is_set():
                    return
                results.append(queue(g, "list", "--json"))

        readers = [threading.Thread(target=read) for _ in range(2)]
        for t in readers:
            t.start()
        try:
            wait_for(lambda: len(results) >= 2, 30, "the readers to run")
            g.start()
            n = len(results)
            wait_for(lambda: len(results) >= n + 2, 30, "readers after the start")
        finally:
            stop.set()
            for t in readers:
                t.join(60)
        for rc, out, err in results:
            assert rc == 0, err
            assert {x["id"] for x in json.loads(out)["messages"]} == set(m.values())
    g.check_sanitizers()


def test_a_message_being_delivered_is_reported(gateway, dnsmasq, peers):
    slow = peers(host="127.0.0.43", port=25, hang_at="MAIL")
    dns = dns_for(dnsmasq, "--mx-host=slow.test,mx.slow.test,10",
                  "--host-record=mx.slow.test,127.0.0.43")
    g = start(gateway, dns, delivery="retry 1h")
    s = submit(g, "alice@home.test", ["x@slow.test"], tag="slow")
    wait_for(lambda: slow.conns and slow.conns[0].commands, 20, "the delivery to begin")
    rc, out, err = queue(g, "hold", s)
    assert (rc, out) == (1, "")
    assert err == (f"gate26 queue: {s}: being delivered right now: try again\n"
                   "gate26 queue: 0 of 1 message put on hold, 1 not\n")
    rc, out, err = queue(g, "hold", "--all")
    assert rc == 1 and f"gate26 queue: {s}: being delivered right now: try again\n" in err
    rc, out, err = queue(g, "delete", "--to", "x@slow.test")
    assert rc == 1 and f"{s}: being delivered right now" in err
    # flush: what it asks is happening; said so, and done.
    rc, out, err = queue(g, "flush", s)
    assert (rc, out, err) == (0, f"{s}: being tried right now\n1 message to be tried now\n", "")
    rc, out, err = queue(g, "show", s)
    assert rc == 0 and "\nnext:      being delivered right now\n" in out, err
    assert s in g.queue_files()
