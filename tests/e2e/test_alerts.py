# SPDX-License-Identifier: MIT
"""Alerts (issue 12; docs/watch.md, "Alerts") with the real daemon and real
peers: a burst of failed AUTH fires a webhook at a local HTTP and HTTPS
server (Python's http.server in a thread; the HTTPS one has a certificate of
a test CA that gate26 is told through tls { ca-file }) exactly once, and a
"resolved" after the window; the `mail` action arrives at an aiosmtpd sink
through gate26's own delivery (relay-host); an `exec` program gets the
JSON. A webhook server that is down, never answers or answers 500, and a
program that hangs or floods its output, cost bounded time, are logged, and
SMTP goes on meanwhile. A client that sends steadily never fires its spike
rule; four times its rate does, its new mail is held, `gate26 queue list`
says why and `release --client` delivers it all; `--user` too. Spike
baselines survive SIGHUP and a restart; a corrupt baselines file is
ignored with a warning. Every bad input of the issue's alerts is refused by
configtest at its FILE:LINE."""
import http.server
import json
import os
import re
import smtplib
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from certs import CA
from conftest import BIN, GATE26_USER, Raw, assert_serving, envelope, queued_id, wait_for
from smtp_peer import Peer
from test_auth import ctx, make_passwd
from test_queue import queue


# ---- A webhook server ----

class Hooks:
    """An HTTP(S) server on 127.0.0.1 in a thread that records each POST:
    /ok answers 200, /fail 500, /hang never (until stopped)."""

    def __init__(self, tls=None):
        self.posts = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        hooks = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with hooks.lock:
                    hooks.posts.append((self.path, dict(self.headers), body))
                if self.path.startswith("/hang"):
                    hooks.stopping.wait(60)
                    return
                code = 500 if self.path.startswith("/fail") else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            c.load_cert_chain(*tls)
            self.server.socket = c.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/ok", scheme="http"):
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def got(self, path=None):
        with self.lock:
            return [(p, h, json.loads(b)) for p, h, b in self.posts
                    if path is None or p == path]

    def stop(self):
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks():
    made = []

    def make(tls=None):
        h = Hooks(tls)
        made.append(h)
        return h

    yield make
    for h in made:
        h.stop()


@pytest.fixture
def sink():
    p = Peer().start()
    yield p
    p.stop()


def drop_dir(tmp_path, name):
    """A directory the gateway's user may write into (exec programs leave files there)."""
    d = tmp_path / name
    d.mkdir()
    d.chmod(0o777)
    return d


def program(tmp_path, name, text):
    """An executable shell script, as the gateway's user may run it."""
    p = tmp_path / name
    p.write_text("#!/bin/sh\n" + text)
    p.chmod(0o755)
    return p


def alert_block(name, lines):
    return f"alert {name} {{\n" + "".join(f"    {k}\n" for k in lines) + "}\n"


def alert_lines(g, rule=None, state=None):
    out = []
    for line in g.log().splitlines():
        if "event=alert," not in line:
            continue
        if rule is not None and f"rule={rule}," not in line:
            continue
        if state is not None and f"state={state}" not in line:
            continue
        out.append(line)
    return out


# ---- Failed AUTH bursts ----

def auth_gateway(gateway, ca, tmp_path, extra, doors=None, delivery=None):
    pw = make_passwd(tmp_path / "passwd")
    kw = {"delivery": delivery} if delivery is not None else {}
    return gateway(doors=doors or {"submission": {}}, domains={"ours.test": None},
                   tls=ca.issue("gate26.test", "127.0.0.1"),
                   extra=f"auth {{\n    passwd {pw}\n}}\n" + extra, **kw)


def fail_logins(g, n, role="submission"):
    """n failed AUTH PLAIN attempts (each on its own session, after STARTTLS)."""
    for _ in range(n):
        with smtplib.SMTP("127.0.0.1", g.port(role), timeout=10) as s:
            s.starttls(context=ctx())
            s.ehlo("client.test")
            s.user, s.password = "alice@ours.test", "wrong password"
            try:
                s.auth("PLAIN", s.auth_plain)  # one attempt (login() would try each mechanism)
            except smtplib.SMTPAuthenticationError:
                pass
            except smtplib.SMTPResponseException as e:  # locked: 454
                assert e.smtp_code == 454
            except smtplib.SMTPServerDisconnected:  # locked: 454, then closed
                pass


@pytest.fixture
def ca(tmp_path):
    return CA(tmp_path / "pki")


def test_failed_auth_burst_webhook_exec_and_mail(gateway, hooks, sink, ca, tmp_path):
    h = hooks()
    out = drop_dir(tmp_path, "out")
    prog = program(tmp_path, "page-oncall", f'cat > "{out}/$GATE26_ALERT_STATE.json"\n')
    rule = alert_block("auth-burst", [
        "when failed-auth", "over 5 in 10s", "per client", "door submission",
        f"webhook {h.url('/ok')}", "mail ops@alerts.test", f"exec {prog}"])
    g = auth_gateway(gateway, ca, tmp_path, rule,
                     delivery=f"retry 1s\n    relay-host smtp://[127.0.0.1]:{sink.port}")
    fail_logins(g, 4)
    time.sleep(1.5)
    assert h.got() == [] and alert_lines(g) == []
    start = time.monotonic()
    fail_logins(g, 3)
    wait_for(lambda: len(h.got()) >= 1, 10, "the webhook's firing POST")
    path, headers, doc = h.got()[0]
    assert path == "/ok"
    assert headers["Content-Type"] == "application/json"
    assert doc["rule"] == "auth-burst" and doc["when"] == "failed-auth"
    assert doc["key"] == "127.0.0.1" and doc["state"] == "firing"
    assert doc["value"] == 5 and doc["threshold"] == 5 and doc["window"] == 10
    assert doc["door"] == "submission" and doc["hostname"] == "gate26.test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["time"])
    assert set(doc) >= {"rule", "when", "key", "value", "threshold", "window", "state", "door",
                        "time", "hostname"}
    # The one log line of the firing.
    lines = alert_lines(g, "auth-burst", "firing")
    assert len(lines) == 1
    assert ("event=alert, rule=auth-burst, when=failed-auth, key=127.0.0.1, value=5, "
            "threshold=5, window=10, state=firing") in lines[0]
    # Resolved once the window has passed; never a second firing.
    wait_for(lambda: len(h.got()) >= 2, 30, "the webhook's resolved POST")
    assert time.monotonic() - start >= 10
    docs = [d for _, _, d in h.got()]
    assert [d["state"] for d in docs] == ["firing", "resolved"]
    assert docs[1]["key"] == "127.0.0.1" and docs[1]["rule"] == "auth-burst"
    assert len(alert_lines(g, "auth-burst", "resolved")) == 1
    # The program got the same documents on its standard input.
    wait_for(lambda: (out / "resolved.json").exists(), 10, "the program's second run")
    fired = json.loads((out / "firing.json").read_text())
    assert fired["rule"] == "auth-burst" and fired["state"] == "firing" and fired["value"] == 5
    assert json.loads((out / "resolved.json").read_text())["state"] == "resolved"
    # The mail arrives through gate26's own delivery, from the null sender.
    wait_for(lambda: len(sink.messages()) >= 2, 30, "two alert mails at the sink")
    subjects = []
    for m in sink.messages()[:2]:
        assert m.mail_from == "" and [r[0] for r in m.rcpts] == ["ops@alerts.test"]
        text = m.data.decode()
        assert "From: gate26 alerts <MAILER-DAEMON@gate26.test>" in text
        assert "Auto-Submitted: auto-generated" in text and "Message-ID: <" in text
        assert "\r\nDate: " in "\r\n" + text
        subjects.append(re.search(r"^Subject: (.*)\r$", text, re.M).group(1))
        assert '"rule":"auth-burst"' in text
    assert subjects == ["[gate26] firing: alert auth-burst, 127.0.0.1",
                        "[gate26] resolved: alert auth-burst, 127.0.0.1"]
    time.sleep(2)
    assert len(h.got()) == 2 and len(alert_lines(g)) == 2
    assert "status=sent, code=200, try=1" in g.log()


def test_https_webhook_verified_against_ca_file(gateway, hooks, ca, tmp_path):
    secure = hooks(tls=ca.issue("127.0.0.1", stem="hook"))
    rule = alert_block("auth-burst", [
        "when failed-auth", "over 2 in 5s", "per client",
        f"webhook {secure.url('/ok', 'https')}"])
    pw = make_passwd(tmp_path / "passwd")
    cert, key = ca.issue("gate26.test", "127.0.0.1")
    g = gateway(doors={"submission": {}}, domains={"ours.test": None},
                tls=f"    cert {cert}\n    key {key}\n    ca-file {ca.pem}",
                extra=f"auth {{\n    passwd {pw}\n}}\n" + rule)
    fail_logins(g, 2)
    wait_for(lambda: len(secure.got()) >= 1, 10, "the HTTPS webhook's POST")
    assert secure.got()[0][2]["state"] == "firing"
    wait_for(lambda: "status=sent, code=200" in g.log(), 10, "the post's log line")


def test_https_webhook_of_an_unknown_ca_fails_logged(gateway, hooks, ca, tmp_path):
    """Without ca-file the test CA is unknown: the post fails its TLS check, three times."""
    other = CA(tmp_path / "other")
    secure = hooks(tls=other.issue("127.0.0.1", stem="hook"))
    rule = alert_block("burst", ["when failed-auth", "over 1 in 5s",
                                 f"webhook {secure.url('/ok', 'https')}"])
    g = auth_gateway(gateway, ca, tmp_path, rule)
    fail_logins(g, 1)
    wait_for(lambda: "status=given-up, tries=3" in g.log(), 30, "three failed tries")
    assert secure.got() == []  # no request ever reached it
    assert g.log().count("event=alert-webhook, rule=burst") >= 4
    assert_serving(g)


# ---- Webhooks and programs that misbehave ----

def test_bad_webhooks_and_programs_are_bounded(gateway, hooks, ca, tmp_path):
    """A server that is down, one that never answers, one that answers 500;
    a program that hangs and one that floods its output: each try is cut
    off (5 s a post, 10 s a program), three tries at most, everything is
    logged, and SMTP sessions go on meanwhile."""
    h = hooks()
    down = hooks()
    down_url = down.url("/ok")
    down.stop()
    hang = program(tmp_path, "hang", "exec sleep 600\n")
    flood = program(tmp_path, "flood", "exec yes flooding-standard-output\n")
    rule = alert_block("burst", [
        "when failed-auth", "over 1 in 1m", f"webhook {down_url}", f"webhook {h.url('/hang')}",
        f"webhook {h.url('/fail')}", f"exec {hang}", f"exec {flood}"])
    g = auth_gateway(gateway, ca, tmp_path, rule,
                     doors={"submission": {}, "internal": {"allow": "127.0.0.0/8",
                                                           "tls": "none"}})
    fail_logins(g, 1)
    wait_for(lambda: len(alert_lines(g, "burst", "firing")) == 1, 10, "the firing")
    # While the posts and programs hang, sessions are served and messages accepted (a
    # session blocked behind them would time out: Raw waits 10 s for each reply).
    for _ in range(3):
        assert_serving(g, "internal")
        r = Raw(g.port("internal"))
        r.expect(220)
        r.cmd("EHLO client.test", 250)
        r.cmd("MAIL FROM:<a@example.test>", 250)
        r.cmd("RCPT TO:<b@example.test>", 250)
        r.cmd("DATA", 354)
        r.send("Subject: meanwhile\r\n\r\nx\r\n.\r\n")
        queued_id(r)
        r.close()
        time.sleep(1)
    wait_for(lambda: g.log().count("status=killed") == 2, 30, "both programs killed")
    wait_for(lambda: g.log().count("status=given-up, tries=3") == 3, 60, "three posts given up")
    log = g.log()
    assert log.count('reason="still running after 10s"') == 2
    assert len(h.got("/hang")) == 3 and len(h.got("/fail")) == 3
    assert "status=failed, code=500, try=3" in log
    assert re.search(r'webhook="http://127\.0\.0\.1:\d+", status=failed, error="[^"]*"'
                     r', try=3', log)
    assert "status=sent" not in log
    # The programs are gone (killed with their process groups, and reaped).
    pids = re.findall(r"status=started, pid=(\d+)", log)
    assert len(pids) == 2
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"program {pid} still there"
    assert_serving(g, "submission")


# ---- Spike and hold ----

INTERNAL = {"internal": {"allow": "127.0.0.0/8", "tls": "none"}}
# A short baseline and window, so that a test learns in seconds what a gateway learns in hours.
SPIKE = alert_block("spike", ["when spike", "factor 2", "baseline 2m", "min 8 in 10s",
                              "per client", "door internal", "action hold"])


class Sender:
    """One SMTP session on the internal door that sends message after message."""

    def __init__(self, g):
        self.r = Raw(g.port("internal"))
        self.r.expect(220)
        self.r.cmd("EHLO client.test", 250)
        self.n = 0

    def send(self, tag="m"):
        self.n += 1
        self.r.cmd("MAIL FROM:<app@example.test>", 250)
        self.r.cmd("RCPT TO:<someone@far.example>", 250)
        self.r.cmd("DATA", 354)
        self.r.send(f"Subject: {tag} {self.n}\r\nMessage-ID: <{tag}{self.n}@t>\r\n\r\nx\r\n.\r\n")
        return queued_id(self.r)

    def close(self):
        self.r.cmd("QUIT", 221)
        self.r.close()


def steady(g, seconds):
    """A message about every second (never faster: a slow machine only sends fewer)."""
    s = Sender(g)
    ids = []
    for _ in range(seconds):
        ids.append(s.send("steady"))
        time.sleep(1)
    s.close()
    return ids


def burst(g, most=120):
    """Four messages a second at most, until the spike rule fires (at most `most`)."""
    s = Sender(g)
    ids = []
    for _ in range(most):
        ids.append(s.send("burst"))
        if alert_lines(g, "spike", "firing"):
            break
        time.sleep(0.25)
    s.close()
    assert alert_lines(g, "spike", "firing"), "four times the rate did not fire"
    return ids


def spike_gateway(gateway, sink, extra=""):
    return gateway(doors=INTERNAL, domains={},
                   delivery=f"retry 1s\n    relay-host smtp://[127.0.0.1]:{sink.port}",
                   extra=SPIKE + extra)


def test_spike_holds_and_release_client_delivers(gateway, sink):
    g = spike_gateway(gateway, sink)
    sent = steady(g, 25)
    assert alert_lines(g) == [], "a steady client fired"
    sent += burst(g)
    line = alert_lines(g, "spike", "firing")[0]
    assert "when=spike, key=127.0.0.1," in line and "door=internal" in line
    # From now on its mail is accepted and held.
    s = Sender(g)
    held = [s.send("held") for _ in range(5)]
    s.close()
    wait_for(lambda: len(sink.messages()) >= len(sent), 60, "the mail sent before the hold")
    time.sleep(2)
    assert len(sink.messages()) == len(sent)
    assert sorted(g.queue_files()) == sorted(held)
    for qid in held:
        assert f"{qid}: sid=" in g.log() and 'event=hold, reason="alert spike, client 127.0.0.1"' \
            in g.log()
    # gate26 queue list, list --json and show say why.
    rc, out, err = queue(g, "list", "--held")
    assert rc == 0, err
    assert out.count("    held: alert spike, client 127.0.0.1\n") == 5
    rc, out, err = queue(g, "list", "--json")
    assert rc == 0, err
    msgs = json.loads(out)["messages"]
    assert sorted(m["id"] for m in msgs) == sorted(held)
    assert all(m["held"] and m["hold_reason"] == "alert spike, client 127.0.0.1"
               and m["user"] is None for m in msgs)
    rc, out, err = queue(g, "show", held[0])
    assert rc == 0, err
    assert "held:      alert spike, client 127.0.0.1\n" in out and "next:      on hold\n" in out
    # The envelope records it (docs/spool.md).
    head, _ = g.message(held[0])
    assert "\nhold alert+20spike,+20client+20127.0.0.1\n" in head
    assert "\nschedule 0000 9999999999\n" in head
    # A restart keeps them held.
    g.stop()
    g.start()
    time.sleep(2)
    assert len(sink.messages()) == len(sent)
    # One command releases all of it.
    rc, out, err = queue(g, "release", "--client", "127.0.0.1")
    assert rc == 0, err
    assert out == "".join(f"{qid}: released, tried now\n" for qid in sorted(held)) + \
        "5 messages released\n", out
    wait_for(lambda: len(sink.messages()) == len(sent) + 5, 60, "the held mail delivered")
    wait_for(lambda: g.queue_files() == [], 30, "an empty queue")
    subjects = [re.search(rb"^Subject: (.*)\r$", m.data, re.M).group(1)
                for m in sink.messages()[len(sent):]]
    assert sorted(subjects) == [b"held %d" % i for i in range(1, 6)]


def test_hold_per_user_and_release_user(gateway, sink, ca, tmp_path):
    users = {"alice@ours.test": "alice pw", "carol@ours.test": "carol pw"}
    pw = make_passwd(tmp_path / "passwd", users)
    rule = alert_block("busy-user", ["when messages", "over 2 in 1m", "per user",
                                     "door submission", "action hold"])
    g = gateway(doors={"submission": {}}, domains={"ours.test": None},
                tls=ca.issue("gate26.test", "127.0.0.1"),
                delivery=f"retry 1s\n    relay-host smtp://[127.0.0.1]:{sink.port}",
                extra=f"auth {{\n    passwd {pw}\n}}\n" + rule)

    def send(user, n):
        ids = []
        with smtplib.SMTP("127.0.0.1", g.port("submission"), timeout=10) as s:
            s.starttls(context=ctx())
            s.login(user, users[user])
            for i in range(n):
                s.sendmail(user, ["x@far.example"], f"Subject: {user} {i}\r\n\r\nx\r\n")
        return ids

    send("alice@ours.test", 2)
    wait_for(lambda: alert_lines(g, "busy-user", "firing"), 10, "alice's rule to fire")
    assert "key=alice@ours.test" in alert_lines(g, "busy-user", "firing")[0]
    send("alice@ours.test", 2)
    send("carol@ours.test", 1)
    wait_for(lambda: len(sink.messages()) == 3, 30, "alice's first two and carol's")
    time.sleep(1)
    assert len(g.queue_files()) == 2
    rc, out, err = queue(g, "list", "--json", "--user", "alice@ours.test")
    assert rc == 0, err
    msgs = json.loads(out)["messages"]
    assert len(msgs) == 2 and all(m["user"] == "alice@ours.test" and m["held"] for m in msgs)
    assert msgs[0]["hold_reason"] == "alert busy-user, user alice@ours.test"
    rc, out, err = queue(g, "show", msgs[0]["id"])
    assert "user:      alice@ours.test\n" in out
    env = envelope(g.message(msgs[0]["id"])[0])
    assert env["user"] == "alice@ours.test"
    assert env["hold"] == "alert+20busy-user,+20user+20alice@ours.test"
    rc, out, err = queue(g, "list", "--user", "carol@ours.test")
    assert rc == 0 and out.endswith("0 messages\n"), out
    rc, out, err = queue(g, "release", "--user", "alice@ours.test")
    assert rc == 0, err
    wait_for(lambda: len(sink.messages()) == 5, 30, "alice's held mail delivered")
    wait_for(lambda: g.queue_files() == [], 30, "an empty queue")
    # A bad --user is a usage error.
    rc, out, err = queue(g, "release", "--user", "a b")
    assert rc == 2 and "--user: expected a user name" in err


# ---- Baselines ----

def baselines(g):
    return g.spool / "watch" / "baselines"


def test_baselines_survive_sighup(gateway, sink):
    """A key forgotten by the reload would need a window of history before it is
    judged, and would then learn the burst as its normal: it would not fire."""
    g = spike_gateway(gateway, sink)
    steady(g, 15)
    offset = len(g.log())
    g.hup()
    wait_for(lambda: "event=reload, status=ok" in g.log()[offset:], 10, "the reload")
    burst(g)


def test_baselines_survive_restart(gateway, sink):
    g = spike_gateway(gateway, sink)
    steady(g, 15)
    g.stop()
    text = baselines(g).read_text()
    assert text.startswith("gate26-baselines 1\nrule spike 10 120 client 2\n")
    assert re.search(r"^key 347F000001 \S+ \S+ \d+$", text, re.M), text
    assert text.endswith("end\n")
    assert oct(baselines(g).stat().st_mode & 0o777) == "0o600"
    g.start()
    assert "event=baselines, status=loaded" in g.log()[g.log_offset:]
    assert "keys=1" in g.log()[g.log_offset:]
    burst(g)


@pytest.mark.parametrize("garbage", [b"garbage\n", b"gate26-baselines 1\nrule spike 10 120",
                                     b"\x00\xff" * 100, b""])
def test_corrupt_baselines_are_ignored_with_a_warning(gateway, sink, garbage):
    g = spike_gateway(gateway, sink)
    g.stop()
    baselines(g).write_bytes(garbage)
    g.start()
    log = g.log()[g.log_offset:]
    assert re.search(r"warning: -: event=baselines, status=ignored, file=\"[^\"]+\", "
                     r"error=\"line \d+: [^\"]+\", note=\"spike rules start without history\"",
                     log), log
    assert_serving(g)
    g.stop()
    assert baselines(g).read_text().startswith("gate26-baselines 1\n")


def test_queue_rule_fires_and_resolves(gateway, hooks):
    h = hooks()
    rule = alert_block("queue", ["when queue", "over 3", f"webhook {h.url('/ok')}"])
    g = gateway(doors=INTERNAL, domains={}, delivery="queue-only yes", extra=rule)
    s = Sender(g)
    ids = [s.send() for _ in range(3)]
    s.close()
    wait_for(lambda: len(h.got()) == 1, 10, "the queue rule's firing")
    doc = h.got()[0][2]
    assert doc["when"] == "queue" and doc["value"] == 3 and doc["threshold"] == 3
    assert doc["key"] == "all" and doc["window"] == 0 and doc["door"] is None
    rc, out, err = queue(g, "delete", *ids)
    assert rc == 0, err
    wait_for(lambda: len(h.got()) == 2, 90, "the queue rule's resolution")
    assert h.got()[1][2]["state"] == "resolved"


def test_tls_expiry_fires_for_our_certificate(gateway, hooks, ca):
    h = hooks()
    rule = alert_block("certs", ["when tls-expiry", "within 14d", f"webhook {h.url('/ok')}"])
    cert, key = ca.issue("gate26.test", days=3, stem="soon")
    g = gateway(doors={"inbound": {"tls": "starttls"}}, tls=(cert, key), extra=rule)
    wait_for(lambda: len(h.got()) == 1, 10, "the tls-expiry firing")
    doc = h.got()[0][2]
    assert doc["key"] == cert and doc["state"] == "firing"
    assert 2 * 86400 < doc["value"] <= 3 * 86400 and doc["threshold"] == 14 * 86400


# ---- configtest: every bad input of the issue's alerts ----

def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=20)


BAD = [
    ("unknown-when", ["when scanners", "over 1 in 1m"], "when scanners",
     "unknown when 'scanners' (expected one of: failed-auth, connections, messages, refused, "
     "spike, queue, deferred, tls-expiry, scanner)"),
    ("unknown-key", ["when messages", "over 1 in 1m", "treshold 5"], "treshold",
     "unknown key 'treshold' in alert block (expected one of: when, over, per, door, webhook, "
     "mail, exec, factor, baseline, min, action, age, within)"),
    ("threshold-0", ["when failed-auth", "over 0 in 5m"], "over",
     "expected a threshold from 1 to 1000000 after 'over', found '0'"),
    ("window-0", ["when failed-auth", "over 20 in 0s"], "over",
     "window: duration '0s' is out of range (from 1s to 7d)"),
    ("window-8d", ["when failed-auth", "over 20 in 8d"], "over",
     "window: duration '8d' is out of range (from 1s to 7d)"),
    ("factor-under-1", ["when spike", "factor 0.5", "min 30 in 5m"], "factor",
     "factor '0.5' is under 1: it would fire below the baseline"),
    ("per-user-no-auth", ["when failed-auth", "over 5 in 1m", "per user", "door internal"],
     "per user", "per user on door internal, which has no AUTH"),
    ("hold-inbound", ["when spike", "min 30 in 5m", "per client", "door inbound",
                      "action hold"], "action", "action hold on the inbound door"),
    ("webhook-not-http", ["when messages", "over 1 in 1m", "webhook ftp://ops.example.com/x"],
     "webhook", "webhook 'ftp://ops.example.com/x' is not an http:// or https:// URL"),
    ("exec-relative", ["when messages", "over 1 in 1m", "exec page-oncall"], "exec",
     "exec 'page-oncall' is not an absolute path"),
    ("exec-not-executable", ["when messages", "over 1 in 1m", "exec @DIR@/not-a-program"],
     "exec", "exec '@DIR@/not-a-program' is not an executable file"),
]


@pytest.mark.parametrize("name,lines,at,phrase", BAD, ids=[b[0] for b in BAD])
def test_configtest_refuses_bad_alerts(tmp_path, certs, name, lines, at, phrase):
    (tmp_path / "not-a-program").write_text("#!/bin/sh\n")  # mode 0644: not executable
    pw = tmp_path / "passwd"
    pw.write_text("")
    head = (f"spool {tmp_path / 'spool'}\ntls {{\n    cert {certs[0]}\n    key {certs[1]}\n}}\n"
            f"auth {{\n    passwd {pw}\n}}\n"
            "listen inbound {\n    address 127.0.0.1:1\n}\n"
            "listen internal {\n    address 127.0.0.1:2\n    allow 127.0.0.0/8\n}\n"
            "listen submission {\n    address 127.0.0.1:3\n}\n"
            "domain ours.test {\n}\n")
    text = (head + alert_block("bad", lines) + (f"user {GATE26_USER}\n" if GATE26_USER else "")
            ).replace("@DIR@", str(tmp_path))
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.strip().startswith(at))
    res = run("configtest", "-c", str(conf))
    assert res.returncode == 1, res
    assert res.stdout == ""
    assert res.stderr == f"{conf}:{line}: " + res.stderr.split(": ", 1)[1]
    assert res.stderr.count("\n") == 1
    assert phrase.replace("@DIR@", str(tmp_path)) in res.stderr, res.stderr
    # serve refuses it the same way, and starts nothing.
    res2 = run("serve", "-c", str(conf))
    assert res2.returncode == 1 and res2.stderr == res.stderr


@pytest.mark.skipif(GATE26_USER is None, reason="needs root and the gateway's user")
def test_configtest_refuses_exec_the_user_cannot_run(tmp_path):
    prog = program(tmp_path, "root-only", "exit 0\n")
    prog.chmod(0o700)
    text = (f"spool {tmp_path / 'spool'}\n"
            "listen internal {\n    address 127.0.0.1:2\n    allow 127.0.0.0/8\n}\n"
            + alert_block("a", ["when messages", "over 1 in 1m", f"exec {prog}"])
            + f"user {GATE26_USER}\n")
    conf = tmp_path / "x.conf"
    conf.write_text(text)
    res = run("configtest", "-c", str(conf))
    assert res.returncode == 1
    assert res.stderr == (f"{conf}:9: exec program '{prog}' cannot be run by user "
                          f"'{GATE26_USER}': alerts run it as that user: give it x for them\n")
    prog.chmod(0o755)
    assert run("configtest", "-c", str(conf)).returncode == 0


# ---- What gate26 status and the metrics say of an alert ----

def test_status_and_metrics_see_an_alert_fire_and_resolve(gateway, ca, tmp_path):
    """While a rule fires, gate26 status exits 1 and lists it, and
    gate26_alerts_firing{rule} is 1; once resolved, 0 and exit 0."""
    from conftest import free_port
    from test_metrics import parse_text, scrape, v
    from test_status import status

    port = free_port()
    rule = alert_block("auth-burst", ["when failed-auth", "over 3 in 5s", "per client"])
    g = auth_gateway(gateway, ca, tmp_path,
                     rule + f"metrics {{\n    address 127.0.0.1:{port}\n}}\n")
    firing = lambda: v(parse_text(scrape(port)[1]), "gate26_alerts_firing", rule="auth-burst")
    assert firing() == 0
    rc, out, err = status(g, "--json")
    assert rc == 0, err
    assert json.loads(out)["alerts_firing"] == 0
    fail_logins(g, 3)
    wait_for(lambda: firing() == 1, 10, "the rule to fire")
    rc, out, err = status(g, "--json")
    assert rc == 1, (out, err)
    doc = json.loads(out)
    assert doc["alerts_firing"] == 1
    (a,) = doc["alerts"]
    assert a["rule"] == "auth-burst" and a["key"] == "127.0.0.1" and a["when"] == "failed-auth"
    rc, table, _ = status(g)
    assert rc == 1 and "auth-burst" in table and "127.0.0.1" in table
    wait_for(lambda: firing() == 0, 30, "the rule to resolve")
    rc, out, err = status(g, "--json")
    assert rc == 0 and json.loads(out)["alerts_firing"] == 0, (out, err)
