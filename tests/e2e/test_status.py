# SPDX-License-Identifier: MIT
"""`gate26 status` against the live daemon (issue 12): after a known
sequence (sessions on three doors, clients refused by the allow list,
refusals at RCPT, failed AUTH, messages, deliveries sent, deferred and
bounced through aiosmtpd next hops), `gate26 status --json` has exactly
the expected numbers, the table shows the same numbers, and both agree
with the daemon's own log lines (the metrics comparison comes with the
metrics); a connection held open is a session open now; the busiest
client comes first; the control socket's own verbs; the daemon stopped
(exit 2), the configuration unreadable (exit 2), --help, bad options
(exit 3); colour on a terminal only, never with NO_COLOR."""
import base64
import json
import os
import pty
import re
import socket
import ssl
import subprocess
import time

import pytest

from conftest import BIN, Raw, free_port, queued_id, wait_for, want
from smtp_peer import Peer

DOORS = ("inbound", "internal", "submission", "submissions")
SPANS = ("last_minute", "last_hour", "since_start")
COUNTS = ("connections", "messages", "refusals", "auth_failures")
OUTCOMES = ("sent", "deferred", "bounced")


@pytest.fixture
def peers():
    started = []

    def make(**options):
        p = Peer(**options).start()
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def status(g, *args, env=None):
    """gate26 status -c CONF ARGS: (exit status, stdout, stderr)."""
    p = subprocess.run([BIN, "status", "-c", str(g.conf), *args], capture_output=True, text=True,
                       timeout=30, env=env or g.env)
    return p.returncode, p.stdout, p.stderr


def status_json(g):
    rc, out, err = status(g, "--json")
    assert rc in (0, 1), f"gate26 status --json exited {rc}: {err}"
    return json.loads(out)


def control(g, line):
    """One request on the control socket; the whole answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(str(g.spool / "control"))
        s.sendall(line.encode() + b"\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data.decode()
            data += chunk
    finally:
        s.close()


def send_message(port, source, rcpt, sender=""):
    """One session from source: one message to rcpt; the queue id."""
    r = Raw(port, source=source)
    try:
        r.expect(220)
        r.cmd("EHLO client.test", 250)
        r.cmd(f"MAIL FROM:<{sender}>", 250)
        r.cmd(f"RCPT TO:<{rcpt}>", 250)
        r.cmd("DATA", 354)
        r.send(b"Subject: status\r\n\r\nhello\r\n.\r\n")
        qid = queued_id(r)
        r.cmd("QUIT", 221)
        return qid
    finally:
        r.close()


def auth_failures(port, source, n):
    """One session from source on the submission door: STARTTLS, then n AUTH PLAIN that fail."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    try:
        f = sock.makefile("rb")

        def reply():
            while True:
                line = f.readline().decode()
                if line[3:4] != "-":
                    return int(line[:3])

        assert reply() == 220
        sock.sendall(b"EHLO client.test\r\n")
        assert reply() == 250
        sock.sendall(b"STARTTLS\r\n")
        assert reply() == 220
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock)
        f = sock.makefile("rb")
        sock.sendall(b"EHLO client.test\r\n")
        assert reply() == 250
        for i in range(n):
            token = base64.b64encode(f"\0mallory{i}\0wrong".encode()).decode()
            sock.sendall(f"AUTH PLAIN {token}\r\n".encode())
            assert reply() == 535
        sock.sendall(b"QUIT\r\n")
        assert reply() == 221
    finally:
        sock.close()


def zero_counts():
    return {k: 0 for k in COUNTS}


def door_expect(open_, counts, top):
    return {"sessions_open": open_, "counts": counts, "top_clients": top}


def facts(doc):
    """What the test compares of a document: everything but the clock."""
    return {
        "doors": {d: door_expect(doc["doors"][d]["sessions_open"],
                                 {s: doc["doors"][d][s] for s in SPANS},
                                 doc["doors"][d]["top_clients"]) for d in DOORS},
        "listening": {d: doc["doors"][d]["listening"] for d in DOORS},
        "queue": {k: v for k, v in doc["queue"].items() if k != "oldest_seconds"},
        "deliveries": doc["deliveries"],
        "alerts": doc["alerts"],
        "alerts_firing": doc["alerts_firing"],
    }


def parse_table(text):
    """The numbers of the table of `gate26 status`, in the document's shape."""
    lines = text.splitlines()
    out = {"doors": {}, "deliveries": {s: {} for s in SPANS}, "top": {}}
    head = lines.index(next(line for line in lines if line.startswith("door ")))
    assert lines[head].split() == ["door", "open"] + ["conn", "msg", "ref", "auth"] * 3
    assert lines[head - 1].split() == ["last", "minute", "last", "hour", "since", "start"]
    i = head + 1
    while lines[i] and not lines[i].startswith("("):
        cells = lines[i].split()
        assert len(cells) == 14, lines[i]
        nums = [int(c) for c in cells[1:]]
        out["doors"][cells[0]] = {
            "sessions_open": nums[0],
            **{s: dict(zip(COUNTS, nums[1 + 4 * j: 5 + 4 * j])) for j, s in enumerate(SPANS)}}
        i += 1
    q = next(line for line in lines if line.startswith("queue: "))
    m = re.fullmatch(r"queue: (\d+) messages?(?:, oldest \S+)?, (\d+) deferred, (\d+) held", q)
    assert m, q
    out["queue"] = {"messages": int(m[1]), "deferred": int(m[2]), "held": int(m[3])}
    d = lines.index("deliveries  last minute  last hour  since start")
    for line in lines[d + 1:d + 4]:
        cells = line.split()
        for s, v in zip(SPANS, cells[1:]):
            out["deliveries"][s][cells[0]] = int(v)
    a = next(line for line in lines if line.startswith("alerts firing: "))
    out["alerts"] = a[len("alerts firing: "):]
    if "top clients of the last hour" in lines:
        t = lines.index("top clients of the last hour")
        assert lines[t + 1].split() == ["door", "client", "messages", "refusals"]
        door = None
        for line in lines[t + 2:]:
            cells = line.split()
            if len(cells) == 4:
                door = cells.pop(0)
            out["top"].setdefault(door, []).append(
                {"client": cells[0], "messages": int(cells[1]), "refusals": int(cells[2])})
    return out


def assert_table_agrees(text, doc):
    t = parse_table(text)
    for d in DOORS:
        door = doc["doors"][d]
        shown = door["listening"] or door["sessions_open"] or any(door["since_start"].values())
        assert (d in t["doors"]) == bool(shown), (d, text)
        if d in t["doors"]:
            assert t["doors"][d] == {"sessions_open": door["sessions_open"],
                                     **{s: door[s] for s in SPANS}}, (d, text)
        assert t["top"].get(d, []) == door["top_clients"], (d, text)
    assert t["queue"] == {k: doc["queue"][k] for k in ("messages", "deferred", "held")}
    assert t["deliveries"] == doc["deliveries"]
    assert t["alerts"] == ("none" if not doc["alerts_firing"] else str(doc["alerts_firing"]))


def log_counts(g):
    """The same facts from the daemon's log lines: a session's start (event=connect) and a
    connection the listener refuses (event=reject, cmd=CONNECT, with the limit; event=busy)
    are connections; every other event=reject a refusal; a message's first line (ID: client=...,
    door=...) a message; event=auth-failed a failed AUTH; status=sent|deferred|bounced a
    delivery."""
    per = {d: zero_counts() for d in DOORS}
    deliveries = {o: 0 for o in OUTCOMES}
    for line in g.log().splitlines():
        m = re.search(r"door=(\w+), event=(?:connect$|busy,)", line)
        if m:
            per[m[1]]["connections"] += 1
        m = re.search(r"door=(\w+), event=reject, cmd=(\w+)", line)
        if m and m[2] == "CONNECT" and ", limit=" in line:
            per[m[1]]["connections"] += 1
        elif m:
            per[m[1]]["refusals"] += 1
        m = re.search(r"\b[0-9A-F]{16}: client=\[[^]]*\]:\d+, door=(\w+), sid=", line)
        if m:
            per[m[1]]["messages"] += 1
        m = re.search(r"door=(\w+), event=auth-failed,", line)
        if m:
            per[m[1]]["auth_failures"] += 1
        m = re.search(r"\b[0-9A-F]{16}: to=<.*, status=(sent|deferred|bounced)\b", line)
        if m:
            deliveries[m[1]] += 1
    return per, deliveries


@pytest.fixture
def scene(gateway, peers, certs, tmp_path):
    """A gateway with three doors and three next hops: ok.test takes mail,
    temp.test defers it (451), perm.test refuses it (554)."""
    ok = peers()
    temp = peers(end_reply="451 4.3.0 try again later")
    perm = peers(end_reply="554 5.7.1 refused")
    pw = tmp_path / "passwd"
    pw.write_text("")
    pw.chmod(0o644)
    doors = {
        "inbound": {"tls": "none"},
        "internal": {"allow": "127.0.0.1/32", "tls": "none"},
        "submission": {"tls": "starttls required", "auth": "required"},
    }
    domains = {name: {"relay": f"smtp://127.0.0.1:{p.port}", "verify-recipients": "off"}
               for name, p in (("ok.test", ok), ("temp.test", temp), ("perm.test", perm))}
    g = gateway(doors=doors, domains=domains, tls=certs, delivery="retry 1h",
                extra=f"auth {{\n    passwd {pw}\n}}\n"
                      f"metrics {{\n    address 127.0.0.1:{free_port()}\n}}\n")
    return g, ok


def run_sequence(g):
    """The known sequence; returns what status must say of it."""
    # internal: two sessions of 127.0.0.1, one message each; two clients the allow list refuses.
    for i in range(2):
        send_message(g.port("internal"), "127.0.0.1", f"i{i}@ok.test", sender="a@ours.test")
    for _ in range(2):
        r = Raw(g.port("internal"), source="127.0.0.2")
        try:
            want(r, 554, "5.7.1")
            assert r.is_closed()
        finally:
            r.close()
    # inbound: 127.0.0.3 is refused one RCPT, then sends three messages (sent, deferred,
    # bounced); 127.0.0.4 sends one.
    r = Raw(g.port("inbound"), source="127.0.0.3")
    try:
        r.expect(220)
        r.cmd("EHLO client.test", 250)
        for n, rcpt in enumerate(("a@ok.test", "b@temp.test", "c@perm.test")):
            r.cmd("MAIL FROM:<>", 250)
            if n == 0:
                r.send(b"RCPT TO:<x@elsewhere.test>\r\n")
                want(r, 550, "5.7.1")
            r.cmd(f"RCPT TO:<{rcpt}>", 250)
            r.cmd("DATA", 354)
            r.send(b"Subject: status\r\n\r\nhello\r\n.\r\n")
            queued_id(r)
        r.cmd("QUIT", 221)
    finally:
        r.close()
    send_message(g.port("inbound"), "127.0.0.4", "d@ok.test")
    # submission: two failed AUTH of 127.0.0.5.
    auth_failures(g.port("submission"), "127.0.0.5", 2)

    c = zero_counts
    expect = {d: door_expect(0, {s: c() for s in SPANS}, []) for d in DOORS}
    counts = {
        "internal": dict(connections=4, messages=2, refusals=2, auth_failures=0),
        "inbound": dict(connections=2, messages=4, refusals=1, auth_failures=0),
        "submission": dict(connections=1, messages=0, refusals=2, auth_failures=2),
    }
    for d, v in counts.items():
        expect[d]["counts"] = {s: dict(v) for s in SPANS}
    expect["internal"]["top_clients"] = [
        {"client": "127.0.0.1", "messages": 2, "refusals": 0},
        {"client": "127.0.0.2", "messages": 0, "refusals": 2}]
    expect["inbound"]["top_clients"] = [
        {"client": "127.0.0.3", "messages": 3, "refusals": 1},
        {"client": "127.0.0.4", "messages": 1, "refusals": 0}]
    expect["submission"]["top_clients"] = [
        {"client": "127.0.0.5", "messages": 0, "refusals": 2}]
    return {
        "doors": expect,
        "listening": {"inbound": True, "internal": True, "submission": True,
                      "submissions": False},
        "queue": {"messages": 1, "deferred": 1, "held": 0},
        "deliveries": {s: {"sent": 4, "deferred": 1, "bounced": 1} for s in SPANS},
        "alerts": [],
        "alerts_firing": 0,
    }


def without_minute(f):
    f = json.loads(json.dumps(f))
    for d in f["doors"].values():
        d["counts"].pop("last_minute")
    f["deliveries"].pop("last_minute")
    return f


def test_status_after_a_known_sequence(scene):
    g, ok = scene
    started = time.monotonic()
    expected = run_sequence(g)
    wait_for(lambda: len(ok.messages()) >= 4, 30, "four messages at ok.test")
    wait_for(lambda: "status=deferred" in g.log() and "status=bounced" in g.log(), 30,
             "the deferral and the bounce")

    def settled():
        f = facts(status_json(g))
        return f == expected or without_minute(f) == without_minute(expected)

    wait_for(settled, 30, "status to count the whole sequence")
    rc, out, err = status(g, "--json")
    assert rc == 0, err
    doc = json.loads(out)
    if time.monotonic() - started < 50:
        assert facts(doc) == expected
    else:
        assert without_minute(facts(doc)) == without_minute(expected)
    assert doc["hostname"] == "gate26.test"
    assert doc["uptime_seconds"] >= 0 and abs(doc["time"] - time.time()) < 600
    assert 0 <= doc["queue"]["oldest_seconds"] < 3600
    assert set(doc) == {"version", "hostname", "time", "uptime_seconds", "doors", "queue",
                        "deliveries", "alerts_firing", "alerts"}

    # The table shows the same numbers (and exits 0: no alert).
    rc, table, err = status(g)
    assert rc == 0, err
    assert "\033[" not in table  # not a terminal: no colour
    assert table.startswith("gate26 status of gate26.test at ")
    if time.monotonic() - started < 50:
        assert_table_agrees(table, doc)
    # The daemon's own "status" verb is the same table.
    answer = control(g, "status")
    assert answer.startswith("ok\n")
    assert parse_table(answer[3:]) == parse_table(table)

    # And the daemon's log lines say the same.
    per, deliveries = log_counts(g)
    for d in DOORS:
        assert doc["doors"][d]["since_start"] == per[d], d
    assert doc["deliveries"]["since_start"] == deliveries

    # And so do the metrics (docs/metrics.md): status's "since start" is their count.
    assert_metrics_agree(g, doc)


def assert_metrics_agree(g, doc):
    from test_metrics import parse_text, scrape

    port = int(re.search(r"metrics \{\n    address 127\.0\.0\.1:(\d+)", g.conf.read_text())[1])
    m = parse_text(scrape(port)[1])

    def total(name, **labels):
        return sum(val for (n, items), val in m.items()
                   if n == name and all(dict(items).get(k) == v for k, v in labels.items()))

    for d in DOORS:
        door = doc["doors"][d]
        # A session ended by a lockout was counted when accepted (metrics.md, result lockout).
        assert door["since_start"]["connections"] == (
            total("gate26_connections_total", door=d)
            - total("gate26_connections_total", door=d, result="lockout")), d
        assert door["since_start"]["messages"] == total("gate26_messages_accepted_total", door=d)
        assert door["since_start"]["refusals"] == total("gate26_refusals_total", door=d), d
        assert door["since_start"]["auth_failures"] == total("gate26_auth_total", door=d,
                                                             result="failure"), d
        assert door["sessions_open"] == total("gate26_sessions_open", door=d), d
    for outcome in OUTCOMES:
        assert doc["deliveries"]["since_start"][outcome] == total("gate26_deliveries_total",
                                                                  result=outcome), outcome
    assert doc["queue"]["messages"] == total("gate26_queue_messages")
    assert doc["queue"]["deferred"] == total("gate26_queue_deferred_messages")


def test_sessions_open_counts_a_connection_held_open(scene):
    g, _ = scene
    held = [Raw(g.port("inbound"), source="127.0.0.6") for _ in range(2)]
    try:
        for r in held:
            r.expect(220)
        wait_for(lambda: status_json(g)["doors"]["inbound"]["sessions_open"] == 2, 10,
                 "two sessions open")
        doc = status_json(g)
        assert doc["doors"]["inbound"]["since_start"]["connections"] == 2
        assert doc["doors"]["internal"]["sessions_open"] == 0
        rc, table, _ = status(g)
        assert parse_table(table)["doors"]["inbound"]["sessions_open"] == 2
        held.pop().close()
        wait_for(lambda: status_json(g)["doors"]["inbound"]["sessions_open"] == 1, 10,
                 "one session open")
    finally:
        for r in held:
            r.close()
    wait_for(lambda: status_json(g)["doors"]["inbound"]["sessions_open"] == 0, 10,
             "no session open")
    assert status_json(g)["doors"]["inbound"]["since_start"]["connections"] == 2


def test_top_clients_busiest_first(gateway):
    g = gateway()
    sources = {"127.0.0.21": 1, "127.0.0.22": 4, "127.0.0.23": 2}
    for source, n in sources.items():
        r = Raw(g.port("inbound"), source=source)
        try:
            r.expect(220)
            r.cmd("EHLO client.test", 250)
            r.cmd("MAIL FROM:<>", 250)
            for i in range(n):
                r.send(f"RCPT TO:<x{i}@elsewhere.test>\r\n".encode())
                want(r, 550, "5.7.1")
            r.cmd("QUIT", 221)
        finally:
            r.close()
    wait_for(lambda: len(status_json(g)["doors"]["inbound"]["top_clients"]) == 3, 10,
             "three clients")
    top = status_json(g)["doors"]["inbound"]["top_clients"]
    assert top == [{"client": "127.0.0.22", "messages": 0, "refusals": 4},
                   {"client": "127.0.0.23", "messages": 0, "refusals": 2},
                   {"client": "127.0.0.21", "messages": 0, "refusals": 1}]
    rc, table, _ = status(g)
    assert parse_table(table)["top"]["inbound"] == top


def test_control_socket_verbs(gateway):
    g = gateway()
    answer = control(g, "status-json")
    assert answer.startswith("ok\n")
    doc = json.loads(answer[3:])
    assert doc["doors"]["internal"]["listening"] is True
    assert doc["doors"]["submission"]["listening"] is False
    assert control(g, "status").startswith("ok\ngate26 status of gate26.test at ")
    for bad in ("status extra", "status-json all", "STATUS", "status-jsonx", "status "):
        assert control(g, bad).startswith("error: "), bad
    # The daemon goes on answering.
    assert control(g, "status-json").startswith("ok\n")


def test_status_with_the_daemon_stopped_exits_2(gateway):
    g = gateway()
    rc, out, err = status(g)
    assert rc == 0, err
    g.stop()
    rc, out, err = status(g)
    assert rc == 2
    assert out == ""
    assert "gate26 status: gate26 is not running" in err and "control" in err
    rc, out, err = status(g, "--json")
    assert rc == 2 and out == ""


def test_status_with_an_unreadable_configuration_exits_2(tmp_path):
    p = subprocess.run([BIN, "status", "-c", str(tmp_path / "missing.conf")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    assert "missing.conf" in p.stderr and "cannot tell whether gate26 runs" in p.stderr
    bad = tmp_path / "bad.conf"
    bad.write_text("spool /tmp/x\nbogus-key 1\n")
    p = subprocess.run([BIN, "status", "-c", str(bad)], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 2
    assert f"{bad}:2:" in p.stderr


def test_status_help_and_bad_options():
    for args in (["status", "--help"], ["status", "-h"], ["help", "status"]):
        p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, args
        assert p.stdout.startswith("usage: gate26 status [-c FILE] [--json]\n")
        assert "0 ok, 1 an alert is firing, 2 the daemon" in p.stdout
        assert "3 usage error" in p.stdout
    p = subprocess.run([BIN, "help"], capture_output=True, text=True, timeout=30)
    assert "  status [-c FILE] [--json]\n" in p.stdout
    for args, msg in ((["--bogus"], "unknown option '--bogus'"),
                      (["-x"], "unknown option '-x'"),
                      (["-c"], "-c needs a value"),
                      (["--config"], "--config needs a value"),
                      (["--json=yes"], "unknown option '--json=yes'"),
                      (["extra"], "unexpected argument 'extra'"),
                      (["--json", "--", "extra"], "unexpected argument 'extra'")):
        p = subprocess.run([BIN, "status", *args], capture_output=True, text=True, timeout=30)
        assert p.returncode == 3, (args, p.stderr)
        assert p.stdout == ""
        assert f"gate26 status: {msg}" in p.stderr, (args, p.stderr)
        assert "usage: gate26 status" in p.stderr


def run_on_terminal(argv, env):
    """argv with its standard output on a pseudo-terminal; (exit status, output)."""
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(argv, stdout=slave, stderr=subprocess.PIPE, env=env)
        os.close(slave)
        slave = None
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            out += chunk
        p.wait(timeout=30)
        return p.returncode, out.decode()
    finally:
        os.close(master)
        if slave is not None:
            os.close(slave)


def test_colour_on_a_terminal_only(gateway):
    g = gateway()
    env = {k: v for k, v in g.env.items() if k != "NO_COLOR"}
    rc, out = run_on_terminal([BIN, "status", "-c", str(g.conf)], env)
    assert rc == 0
    assert "\033[1m" in out and "\033[32mnone\033[0m" in out
    rc, out = run_on_terminal([BIN, "status", "-c", str(g.conf)], {**env, "NO_COLOR": "1"})
    assert rc == 0
    assert "\033" not in out and "alerts firing: none" in out
    # --json never has colour.
    rc, out = run_on_terminal([BIN, "status", "--json", "-c", str(g.conf)], env)
    assert rc == 0 and "\033" not in out
    json.loads(out)


def test_queue_facts_and_a_restart(gateway):
    """The queue as status sees it: messages, held (queue hold), none deferred before an
    attempt; after a restart the queue is the same (its age from the envelopes) and the
    counts start again from zero."""
    g = gateway()  # queue-only: nothing leaves
    ids = [send_message(g.port("internal"), "127.0.0.1", f"q{i}@example.test") for i in range(3)]
    q = status_json(g)["queue"]
    assert {k: q[k] for k in ("messages", "deferred", "held")} == \
        {"messages": 3, "deferred": 0, "held": 0}
    p = subprocess.run([BIN, "queue", "-c", str(g.conf), "hold", ids[1]], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    doc = status_json(g)
    assert {k: doc["queue"][k] for k in ("messages", "deferred", "held")} == \
        {"messages": 3, "deferred": 0, "held": 1}
    assert doc["doors"]["internal"]["since_start"]["messages"] == 3
    rc, table, _ = status(g)
    assert "\nqueue: 3 messages, oldest " in table and ", 0 deferred, 1 held\n" in table
    g.stop()
    g.start()
    doc = status_json(g)
    assert {k: doc["queue"][k] for k in ("messages", "deferred", "held")} == \
        {"messages": 3, "deferred": 0, "held": 1}
    assert 0 <= doc["queue"]["oldest_seconds"] < 3600
    assert doc["doors"]["internal"]["since_start"] == zero_counts()
    assert doc["deliveries"]["since_start"] == {"sent": 0, "deferred": 0, "bounced": 0}
