# SPDX-License-Identifier: MIT
"""The DSN composer's output read by another MIME parser: Python's email
package. src/sched/dsn_try (built with the unit tests) composes one report
from command-line arguments and a message file; these tests parse it and
check the multipart/report frame (RFC 6522), the delivery-status fields
(RFC 3464), the returned message byte for byte, and that every line ends
in CRLF and is at most 998 octets long."""
import email
import email.policy
import email.utils
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DSN_TRY = Path(os.environ.get("GATE26_BIN", ROOT / "build-test" / "src" / "gate26")).parent \
    / "sched" / "dsn_try"
DSN_FULL_MAX = 64 * 1024
QID = "0123456789ABCDEF"
NOW = 1700003600

ORIGINAL = (b"Received: from client.test ([127.0.0.1]) by gate26.test\r\n"
            b"From: <sender@example.org>\r\n"
            b"To: <a@b.example>\r\n"
            b"Subject: hello\r\n"
            b"\r\n"
            b"body line 1\r\n"
            b"body line 2\r\n")
ORIGINAL_HEADER = ORIGINAL[:ORIGINAL.index(b"\r\n\r\n") + 4]


@pytest.fixture(scope="module")
def dsn_try():
    if not DSN_TRY.exists():
        pytest.skip(f"{DSN_TRY} not built (meson -Dtests=enabled)")
    return DSN_TRY


def compose(tool, tmp_path, content, *args, expect_ok=True):
    """Runs dsn_try on content; returns the report's bytes."""
    path = tmp_path / "original.eml"
    path.write_bytes(content)
    cmd = [str(tool), "--hostname", "mx.gate26.test", "--id", QID, "--now", str(NOW),
           *args, str(path)]
    r = subprocess.run(cmd, capture_output=True, timeout=30)
    if expect_ok:
        assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r


def check_lines(raw):
    assert raw.endswith(b"\r\n")
    for line in raw[:-2].split(b"\r\n"):
        assert b"\n" not in line and b"\r" not in line, line[:80]
        assert len(line) <= 998, len(line)


def raw_parts(raw, boundary):
    """The three parts as (header bytes, body bytes), split along the boundary."""
    pieces = raw.split(b"\r\n--" + boundary.encode())
    assert len(pieces) == 5, len(pieces)
    assert pieces[4] == b"--\r\n"
    parts = []
    for p in pieces[1:4]:
        assert p.startswith(b"\r\n")
        head, _, body = p[2:].partition(b"\r\n\r\n")
        parts.append((head + b"\r\n\r\n", body))
    return parts


def parse(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert msg.is_multipart()
    parts = msg.get_payload()
    assert len(parts) == 3
    assert not msg.defects, msg.defects
    return msg, parts


def status_blocks(part):
    """The field blocks of a message/delivery-status part: per-message first."""
    assert part.get_content_type() == "message/delivery-status"
    return part.get_payload()


def raw_status_blocks(body):
    """The field blocks of a raw delivery-status body as dicts of UTF-8 text.
    The email package has no parser for message/global-delivery-status (and
    reads header octets as ASCII), so this unfolds and splits by hand."""
    blocks = []
    for block in body.split(b"\r\n\r\n"):
        fields = {}
        for line in block.decode("utf-8").replace("\r\n ", " ").split("\r\n"):
            if line:
                name, _, value = line.partition(":")
                fields[name] = value.strip()
        blocks.append(fields)
    return blocks


def test_failure_returns_the_whole_message(dsn_try, tmp_path):
    r = compose(dsn_try, tmp_path, ORIGINAL,
                "--envid", "ENV+2B1",
                "--rcpt", "a@b.example", "--status", "5.1.1", "--orcpt", "rfc822;A+2Bx@b.example",
                "--remote-mta", "mx.b.example", "--diagnostic", "550 5.1.1 no such user",
                "--reason", "host mx.b.example said: 550 5.1.1 no such user",
                "--last-attempt", "1700001800",
                "--rcpt", "c@d.example", "--status", "5.4.4",
                "--reason", "domain not found")
    raw = r.stdout
    check_lines(raw)
    msg, parts = parse(raw)
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert msg["From"].addresses[0].addr_spec == "MAILER-DAEMON@mx.gate26.test"
    assert msg["To"].addresses[0].addr_spec == "sender@example.org"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["MIME-Version"] == "1.0"
    assert email.utils.parsedate_to_datetime(msg["Date"]).timestamp() == NOW
    assert msg["Message-ID"].startswith(f"<{QID}.{NOW}.")
    assert msg["Message-ID"].endswith("@mx.gate26.test>")
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/delivery-status", "message/rfc822"]

    text = parts[0].get_content()
    assert "mx.gate26.test" in text
    assert f"Queue ID: {QID}" in text
    assert "<a@b.example>: host mx.b.example said: 550 5.1.1 no such user" in text
    assert "<c@d.example>: domain not found" in text

    blocks = status_blocks(parts[1])
    assert len(blocks) == 3
    per_msg, a, c = blocks
    assert per_msg["Reporting-MTA"] == "dns; mx.gate26.test"
    assert per_msg["X-Gate26-Queue-ID"] == QID
    assert per_msg["Original-Envelope-Id"] == "ENV+2B1"
    assert email.utils.parsedate_to_datetime(per_msg["Arrival-Date"]).timestamp() == 1700000000
    assert a["Original-Recipient"] == "rfc822;A+x@b.example"
    assert a["Final-Recipient"] == "rfc822; a@b.example"
    assert a["Action"] == "failed"
    assert a["Status"] == "5.1.1"
    assert a["Remote-MTA"] == "dns; mx.b.example"
    assert a["Diagnostic-Code"] == "smtp; 550 5.1.1 no such user"
    assert email.utils.parsedate_to_datetime(a["Last-Attempt-Date"]).timestamp() == 1700001800
    assert c["Final-Recipient"] == "rfc822; c@d.example"
    assert c["Action"] == "failed"
    assert c["Status"] == "5.4.4"
    for field in ("Original-Recipient", "Remote-MTA", "Diagnostic-Code", "Last-Attempt-Date",
                  "Will-Retry-Until"):
        assert c[field] is None

    # the hand parser used for the global type agrees with the email package
    assert raw_status_blocks(raw_parts(raw, msg.get_boundary())[1][1])[1]["Status"] == "5.1.1"

    returned = parts[2].get_payload()[0]
    assert returned["Subject"] == "hello"
    assert raw_parts(raw, msg.get_boundary())[2][1] == ORIGINAL


def test_delay(dsn_try, tmp_path):
    raw = compose(dsn_try, tmp_path, ORIGINAL, "--kind", "delay", "--retry-until", "1700086400",
                  "--rcpt", "a@b.example", "--status", "4.4.1",
                  "--reason", "connection timed out").stdout
    check_lines(raw)
    msg, parts = parse(raw)
    assert msg["Subject"] == "Delayed Mail (still being retried)"
    _, a = status_blocks(parts[1])
    assert a["Action"] == "delayed"
    assert a["Status"] == "4.4.1"
    assert email.utils.parsedate_to_datetime(a["Will-Retry-Until"]).timestamp() == 1700086400
    assert "Wed, 15 Nov 2023 22:13:20 +0000" in parts[0].get_content()


def sized_message(size):
    """ORIGINAL's header, then lines of x up to exactly size octets."""
    out = bytearray(ORIGINAL_HEADER)
    while size - len(out) > 160:
        out += b"x" * 76 + b"\r\n"
    rest = size - len(out)
    for n in (rest // 2, rest - rest // 2):
        out += b"y" * (n - 2) + b"\r\n"
    assert len(out) == size
    return bytes(out)


@pytest.mark.parametrize("ret, size, whole", [
    ("hdrs", None, False),
    ("full", None, True),
    ("unspec", None, True),
    ("full", 3 * DSN_FULL_MAX, True),
    ("hdrs", 3 * DSN_FULL_MAX, False),
    ("unspec", DSN_FULL_MAX, True),
    ("unspec", DSN_FULL_MAX + 1, False),
])
def test_what_is_returned(dsn_try, tmp_path, ret, size, whole):
    content = ORIGINAL if size is None else sized_message(size)
    raw = compose(dsn_try, tmp_path, content, "--ret", ret, "--rcpt", "a@b.example").stdout
    check_lines(raw)
    msg, parts = parse(raw)
    body = raw_parts(raw, msg.get_boundary())[2][1]
    if whole:
        assert parts[2].get_content_type() == "message/rfc822"
        assert body == content
    else:
        assert parts[2].get_content_type() == "text/rfc822-headers"
        assert body == ORIGINAL_HEADER


def test_header_without_blank_line(dsn_try, tmp_path):
    content = b"Subject: only a header\r\nX-A: 1\r\n"
    raw = compose(dsn_try, tmp_path, content, "--ret", "hdrs", "--rcpt", "a@b.example").stdout
    check_lines(raw)
    msg, parts = parse(raw)
    assert parts[2].get_content_type() == "text/rfc822-headers"
    assert raw_parts(raw, msg.get_boundary())[2][1] == content


def test_empty_message(dsn_try, tmp_path):
    raw = compose(dsn_try, tmp_path, b"", "--rcpt", "a@b.example").stdout
    check_lines(raw)
    msg, parts = parse(raw)
    assert parts[2].get_content_type() == "message/rfc822"
    assert raw_parts(raw, msg.get_boundary())[2][1] == b""


def test_boundary_like_content(dsn_try, tmp_path):
    content = (f"Subject: --=_{QID}.0000000000000000\r\n\r\n"
               f"--=_{QID}.ffffffffffffffff\r\n"
               f"--=_{QID}.ffffffffffffffff--\r\n").encode()
    raw = compose(dsn_try, tmp_path, content, "--ret", "full", "--rcpt", "a@b.example").stdout
    check_lines(raw)
    msg, parts = parse(raw)
    assert msg.get_boundary().startswith(f"=_{QID}.")
    assert msg.get_boundary().encode() not in content
    assert raw_parts(raw, msg.get_boundary())[2][1] == content


def test_hostile_texts(dsn_try, tmp_path):
    long_diag = "550 " + " ".join(["word"] * 1500)
    raw = compose(dsn_try, tmp_path, ORIGINAL, "--sender", "s\r\nBcc: evil@example.com",
                  "--rcpt", "a@b.example", "--diagnostic", "550 x\r\nBcc: evil@example.com",
                  "--reason", "bad\r\n\r\n--oops \xe9",
                  "--rcpt", "c@d.example", "--diagnostic", long_diag,
                  "--reason", "x" * 5000).stdout
    check_lines(raw)
    msg, parts = parse(raw)
    assert msg["Bcc"] is None
    head = raw[:raw.index(b"\r\n\r\n")]
    assert b"\r\nBcc:" not in head
    assert all(b < 0x80 for b in raw)
    _, a, c = status_blocks(parts[1])
    assert a["Bcc"] is None
    assert a["Diagnostic-Code"] == "smtp; 550 x??Bcc: evil@example.com"
    assert c["Diagnostic-Code"].startswith("smtp; 550 word word")
    assert c["Diagnostic-Code"].endswith("...")
    assert "<a@b.example>: bad????--oops ??" in parts[0].get_content()


def test_smtputf8(dsn_try, tmp_path):
    content = "Subject: café\r\nFrom: <ü@example.org>\r\n\r\nçà\r\n".encode()
    raw = compose(dsn_try, tmp_path, content, "--smtputf8", "--sender", "ü@example.org",
                  "--rcpt", "用户@例子.example", "--orcpt", "utf-8;用户@例子.example",
                  "--diagnostic", "550 nö").stdout
    check_lines(raw)
    msg, parts = parse(raw)
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/global-delivery-status", "message/global"]
    assert msg["Content-Transfer-Encoding"] == "8bit"
    assert parts[0].get_content_charset() == "utf-8"
    # message_from_bytes reads header octets as ASCII with surrogates: compare bytes
    assert "\r\nTo: <ü@example.org>\r\n".encode() in raw[:raw.index(b"\r\n\r\n") + 2]
    _, a = raw_status_blocks(raw_parts(raw, msg.get_boundary())[1][1])
    assert a["Action"] == "failed"
    assert a["Final-Recipient"] == "utf-8; 用户@例子.example"
    assert a["Original-Recipient"] == "utf-8;用户@例子.example"
    assert a["Diagnostic-Code"] == "smtp; 550 n??"
    assert raw_parts(raw, msg.get_boundary())[2][1] == content


def test_8bit_content_is_labelled(dsn_try, tmp_path):
    content = b"Subject: x\r\n\r\n\xe9t\xe9\r\n"
    raw = compose(dsn_try, tmp_path, content, "--ret", "full", "--rcpt", "a@b.example").stdout
    check_lines(raw)
    msg, parts = parse(raw)
    assert msg["Content-Transfer-Encoding"] == "8bit"
    assert parts[2]["Content-Transfer-Encoding"] == "8bit"
    assert parts[1].get_content_type() == "message/delivery-status"
    assert raw_parts(raw, msg.get_boundary())[2][1] == content


def test_unreadable_message(dsn_try, tmp_path):
    (tmp_path / "dir").mkdir()
    cmd = [str(dsn_try), "--rcpt", "a@b.example", str(tmp_path / "dir")]
    r = subprocess.run(cmd, capture_output=True, timeout=30)
    assert r.returncode == 1
    assert r.stdout == b""
    assert b"Input/output error" in r.stderr
