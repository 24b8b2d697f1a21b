# SPDX-License-Identifier: MIT
"""The clients of content scanners (issue 14, src/scan): clamd's INSTREAM
and rspamd's /checkv2, run through their driver scan_try against a real
clamd (clamav-daemon, a signature database made here: an .hdb line of a
test file's MD5, no download) and a real rspamd (Debian's 3.4 with its own
configuration and a local one written here, on ports of our own), and
against fake servers that hang, close, answer garbage, HTTP 500 or too
much. Every process started here is stopped by its PID.

scan_try prints one JSON object: {"status": "clean"|"infected"|"error"|
"timeout", "name"|"error": ...} for clamd, {"status": "ok"|"error"|
"timeout", "score", "required_score", "action", "symbols", ...} for rspamd.
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

from checkers import (GTUBE, MAX_SIZE, STREAM_MAX, Clamd, clamd, fake_server,  # noqa: F401
                      http_fake, rspamd)
from conftest import ROOT, SANITIZER_MARKS, free_port, wait_for

DRIVER = Path(os.environ.get("GATE26_BIN", ROOT / "build-test" / "src" / "gate26")).parent \
    / "scan" / "scan_try"
def scan(*args, timeout=60, stdin=None):
    """Runs scan_try; returns the JSON object it printed."""
    p = subprocess.run([str(DRIVER), *map(str, args)], capture_output=True, timeout=timeout)
    err = p.stderr.decode(errors="replace")
    for mark in SANITIZER_MARKS:
        assert mark not in err, f"sanitizer report from scan_try:\n{err[-5000:]}"
    assert p.returncode == 0, f"scan_try exited {p.returncode}:\n{err[-3000:]}"
    return json.loads(p.stdout)


def message(body, headers=b""):
    return (b"From: alice@example.com\r\nTo: bob@example.net\r\nSubject: test\r\n"
            b"Date: Mon, 07 Dec 2026 02:00:00 +0000\r\nMessage-ID: <t1@example.com>\r\n"
            + headers + b"\r\n" + body)


def write(path, data):
    path.write_bytes(data)
    return path


# ---- clamd (checkers.Clamd, a .hdb of checkers.VIRUS) ----

@pytest.mark.parametrize("where", ["unix", "tcp"])
def test_clamd_clean_and_infected(clamd, tmp_path, where):
    target = getattr(clamd, where)
    clean = write(tmp_path / "clean.eml", message(b"Hello, nothing to see here.\r\n"))
    assert scan("clamd", target, clean) == {"status": "clean"}
    assert scan("clamd", target, clamd.virus) == \
        {"status": "infected", "name": "Gate26.Test.File.UNOFFICIAL"}


def test_clamd_empty_message_is_clean(clamd, tmp_path):
    assert scan("clamd", clamd.unix, write(tmp_path / "empty", b"")) == {"status": "clean"}


def test_clamd_maximum_size_message(clamd, tmp_path):
    line = b"a line of a big message, 10 MB of it, all text and nothing else\r\n"
    body = line * (MAX_SIZE // len(line))
    big = write(tmp_path / "big.eml", message(body)[:MAX_SIZE])
    assert big.stat().st_size == MAX_SIZE
    assert scan("clamd", clamd.unix, big, "--timeout", 60000, timeout=120) == {"status": "clean"}


def test_clamd_beyond_stream_max_length_is_an_error_not_clean(clamd, tmp_path):
    big = write(tmp_path / "bigger", os.urandom(1024) * (STREAM_MAX // 1024 + 64))
    for target in (clamd.unix, clamd.tcp):
        r = scan("clamd", target, big, "--timeout", 60000, timeout=120)
        assert r["status"] == "error", r
        assert "size limit exceeded" in r["error"] or "clamd" in r["error"], r
    r = scan("clamd", clamd.unix, big, "--timeout", 60000, timeout=120)
    assert r == {"status": "error", "error": "INSTREAM size limit exceeded"}
    # clamd still serves.
    assert scan("clamd", clamd.unix, clamd.virus)["status"] == "infected"


def test_clamd_unreadable_message_is_an_error(clamd, tmp_path):
    big = write(tmp_path / "m", b"x" * 100000)
    assert scan("clamd", clamd.unix, big, "--read-error-at", 50000) == \
        {"status": "error", "error": "the message could not be read"}
    assert scan("clamd", clamd.unix, clamd.virus)["status"] == "infected"


def test_clamd_down_is_an_error(tmp_path):
    r = scan("clamd", f"unix:{tmp_path}/nobody.sock", write(tmp_path / "m", b"x"))
    assert r == {"status": "error",
                 "error": "connecting to clamd: No such file or directory"}
    r = scan("clamd", f"127.0.0.1:{free_port()}", write(tmp_path / "m", b"x"))
    assert r == {"status": "error", "error": "connecting to clamd: Connection refused"}


def test_clamd_bad_target(tmp_path):
    r = scan("clamd", "localhost:3310", write(tmp_path / "m", b"x"))
    assert r == {"status": "bad-target", "error": "expected a numeric IPv4 or [IPv6] address"}


def test_clamd_killed_mid_scan_is_an_error(tmp_path):
    """A clamd of its own, killed while the message streams (through a FIFO
    that this test feeds: the driver is waiting on it when clamd dies)."""
    c = Clamd(tmp_path / "clamd")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    try:
        p = subprocess.Popen([str(DRIVER), "clamd", c.unix, str(fifo), "--timeout", "60000"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        with open(fifo, "wb") as w:
            w.write(b"x" * 300000)   # more than a pipe holds: the driver is sending
            w.flush()
            c.proc.kill()
            c.proc.wait(timeout=20)
            try:
                w.write(b"y" * 300000)
            except BrokenPipeError:
                pass
        out, err = p.communicate(timeout=60)
    finally:
        c.stop()
    for mark in SANITIZER_MARKS:
        assert mark not in err.decode(errors="replace")
    r = json.loads(out)
    assert r["status"] == "error", r
    assert "clamd" in r["error"], r


@pytest.fixture
def fake(fake_server):
    return fake_server


@pytest.mark.parametrize("behaviour", ["hang", "stuck"])
def test_clamd_hanging_is_a_timeout(fake, tmp_path, behaviour):
    msg = write(tmp_path / "m", b"x" * 5_000_000)   # more than the socket buffers
    for f in (fake(behaviour, tmp_path / "fake.sock"), fake(behaviour)):
        r = scan("clamd", f.target, msg, "--timeout", 1500)
        assert r == {"status": "timeout", "error": "no answer from clamd within the timeout"}


def test_clamd_clean_before_the_end_is_an_error(fake, tmp_path):
    """A server that says OK before the message was all sent did not scan it."""
    f = fake(b"stream: OK\0", tmp_path / "fake.sock")
    r = scan("clamd", f.target, write(tmp_path / "m", b"x" * 5_000_000), "--timeout", 30000)
    assert r == {"status": "error", "error": "clamd answered clean before the end"}


def test_clamd_cancel_closes_the_connection(fake, tmp_path):
    f = fake("hang", tmp_path / "fake.sock")
    r = scan("clamd", f.target, write(tmp_path / "m", b"x" * 1000), "--timeout", 60000,
             "--cancel-after", 300)
    assert r == {"status": "cancelled"}
    wait_for(lambda: f.ended == 1, 10, "the fake clamd to see the connection closed")


@pytest.mark.parametrize("behaviour,error", [
    ("close", "clamd closed the connection without an answer"),
    (("then-close", b"stream: OK"), "clamd closed the connection within its answer"),
    (b"PONG\0", "unexpected answer from clamd: PONG"),
    (b"stream: OK\n\0", "unexpected answer from clamd: stream: OK?"),
    (b"x" * 2000, "clamd's answer is longer than its limit"),
])
def test_clamd_garbage_is_an_error(fake, tmp_path, behaviour, error):
    f = fake(behaviour, tmp_path / "fake.sock")
    r = scan("clamd", f.target, write(tmp_path / "m", b"x"), "--timeout", 10000)
    assert r == {"status": "error", "error": error}


# ---- rspamd (checkers.Rspamd) ----

ENVELOPE = ["--ip", "127.0.0.1", "--helo", "mx.example.com", "--from", "alice@example.com",
            "--rcpt", "bob@example.net", "--queue-id", "7D21C04A9E"]


def test_rspamd_gtube_is_reject(rspamd, tmp_path):
    r = scan("rspamd", rspamd.url, write(tmp_path / "m", message(GTUBE + b"\r\n")), *ENVELOPE)
    assert r["status"] == "ok" and r["http_status"] == 200, r
    assert r["action"] == "reject" and r["score"] >= 15, r
    assert "GTUBE" in r["symbols"], r


def test_rspamd_clean_message(rspamd, tmp_path):
    r = scan("rspamd", rspamd.url + "/", write(tmp_path / "m", message(b"Hello Bob.\r\n")),
             *ENVELOPE)
    assert r["status"] == "ok", r
    assert r["action"] == "no action" and r["score"] < 3, r
    assert r["required_score"] == 15, r


@pytest.mark.parametrize("tag,low,high", [("four", 3, 6), ("seven", 6, 15),
                                          ("sixteen", 15, 100)])
def test_rspamd_scores_over_each_threshold(rspamd, tmp_path, tag, low, high):
    m = message(b"Hello Bob.\r\n", f"X-Gate26-Test: {tag}\r\n".encode())
    r = scan("rspamd", rspamd.url, write(tmp_path / "m", m), *ENVELOPE)
    assert r["status"] == "ok", r
    assert low <= r["score"] < high, r
    assert f"GATE26_TEST_{tag.upper()}" in r["symbols"], r
    if tag == "sixteen":
        assert r["action"] == "reject", r


def test_rspamd_empty_and_maximum_size_messages(rspamd, tmp_path):
    r = scan("rspamd", rspamd.url, write(tmp_path / "empty", b""), *ENVELOPE)
    assert r["status"] == "ok", r
    line = b"a line of a big message, 10 MB of it, all text and nothing else\r\n"
    big = write(tmp_path / "big", message(line * (MAX_SIZE // len(line)))[:MAX_SIZE])
    r = scan("rspamd", rspamd.url, big, *ENVELOPE, "--timeout", 60000, timeout=120)
    assert r["status"] == "ok", r
    # Still serving.
    r = scan("rspamd", rspamd.url, write(tmp_path / "m", message(GTUBE + b"\r\n")), *ENVELOPE)
    assert r["action"] == "reject", r


def test_rspamd_unreadable_message_is_an_error(rspamd, tmp_path):
    m = write(tmp_path / "m", b"x" * 200000)
    r = scan("rspamd", rspamd.url, m, "--read-error-at", 100000)
    assert r["status"] == "error" and r["error"] == "the message could not be read", r


def test_rspamd_down_is_an_error(tmp_path):
    r = scan("rspamd", f"http://127.0.0.1:{free_port()}", write(tmp_path / "m", b"x"))
    assert r["status"] == "error" and r["http_status"] == 0, r
    assert "Couldn't connect" in r["error"] or "Failed to connect" in r["error"], r


GOOD = b'{"score":2.5,"required_score":15,"action":"no action","symbols":{"A":{"score":2.5}}}'


def test_rspamd_request_carries_the_envelope_and_the_message(http_fake, tmp_path):
    f = http_fake((200, GOOD))
    body = message(b"the body\r\n")
    r = scan("rspamd", f.url + "/", write(tmp_path / "m", body), "--ip", "192.0.2.7",
             "--helo", "mx.example.com", "--from", "<>", "--rcpt", "a@example.net",
             "--rcpt", "b@example.net", "--queue-id", "7D21C04A9E", "--user", "bob",
             "--hostname", "mx.example.com")
    assert r == {"status": "ok", "http_status": 200, "score": 2.5, "required_score": 15.0,
                 "action": "no action", "is_skipped": False, "n_symbols_all": 1,
                 "symbols": {"A": 2.5}}
    path, headers, got = f.requests[0]
    assert path == "/checkv2"
    assert got == body
    assert headers["IP"] == "192.0.2.7" and headers["Helo"] == "mx.example.com"
    assert headers["From"] == "<>" and headers.get_all("Rcpt") == ["a@example.net",
                                                                    "b@example.net"]
    assert headers["Queue-Id"] == "7D21C04A9E" and headers["User"] == "bob"
    assert headers["Hostname"] == "mx.example.com"
    assert "Expect" not in headers


def test_rspamd_header_injection_is_refused(http_fake, tmp_path):
    f = http_fake((200, GOOD))
    r = scan("rspamd", f.url, write(tmp_path / "m", b"x"), "--helo", "a\r\nX-Evil: 1")
    assert r == {"status": "error", "http_status": 0,
                 "error": "a control character in rspamd's Helo header"}
    assert f.requests == []


@pytest.mark.parametrize("status,data,error", [
    (500, b"oops", "rspamd answered HTTP 500"),
    (400, b'{"error":"Message has no body"}', "rspamd answered HTTP 400: Message has no body"),
    (200, b"garbage", "rspamd's answer is not JSON: "),
    (200, b"", "rspamd's answer is not JSON: "),
    (200, b'{"score":1}', "rspamd's answer has no required_score"),
    (200, b'{"score":"x","required_score":15,"action":"reject"}', "rspamd's answer has no score"),
    (200, "1 MiB + 1 spaces", "rspamd's answer is longer than 1048576 octets"),
], ids=["500", "400-error", "garbage", "empty", "no-required-score", "score-not-a-number",
        "too-long"])
def test_rspamd_bad_answers_are_errors(http_fake, tmp_path, status, data, error):
    if isinstance(data, str):
        data = b" " * (1024 * 1024 + 1)
    f = http_fake((status, data))
    r = scan("rspamd", f.url, write(tmp_path / "m", b"x"))
    assert r["status"] == "error" and r["http_status"] in (status, 0), r
    assert r["error"].startswith(error), r


def test_rspamd_cancel_ends_the_request(http_fake, tmp_path):
    f = http_fake("hang")
    r = scan("rspamd", f.url, write(tmp_path / "m", b"x"), "--timeout", 60000,
             "--cancel-after", 500)
    assert r == {"status": "cancelled"}   # and no transfer left in the loop, nothing leaked


def test_rspamd_slow_is_a_timeout(http_fake, tmp_path):
    f = http_fake("hang")
    r = scan("rspamd", f.url, write(tmp_path / "m", b"x"), "--timeout", 1500)
    assert r == {"status": "timeout", "http_status": 0,
                 "error": "no answer from rspamd within the timeout"}
