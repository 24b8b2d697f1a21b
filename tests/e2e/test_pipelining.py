# SPDX-License-Identifier: MIT
"""PIPELINING (RFC 2920) and CHUNKING/BDAT (RFC 3030), end to end: replies
to pipelined commands arrive all, in order; a client that writes without
reading is held back (the daemon stops reading) instead of being buffered
without bound; BDAT chunks are taken octet for octet (no dot-unstuffing),
refused chunks are still skipped by their size, and every refusal has its
exact reply. Also Postfix's smtp-source and swaks --pipeline as real
clients. (Python's smtplib has no BDAT support, so BDAT is spoken raw.)"""
import re
import select
import socket
import subprocess
import time

from conftest import assert_serving, wait_for

RELAY_DENIED = "550 5.7.1 Relay access denied"
BYE = b"221 2.0.0 Bye\r\n"
NOOP_OK = b"250 2.0.0 Ok\r\n"
RECEIVED_RE = re.compile(rb"\AReceived: from [^\r\n]*\r\n(?:\t[^\r\n]*\r\n)+")


def content_of(g, qid):
    """The queued message without our Received header, and the envelope."""
    head, body = g.message(qid)
    m = RECEIVED_RE.match(body)
    assert m, f"queued message does not start with our Received header: {body[:300]!r}"
    return head, body[m.end():]


def rcpts_of(head):
    return [line.split()[3] for line in head.splitlines() if line.startswith("rcpt ")]


def read_exact(sock, n, timeout=60.0):
    """Reads exactly n octets (or whatever came before EOF / the deadline)."""
    deadline = time.monotonic() + timeout
    out = bytearray()
    while len(out) < n and time.monotonic() < deadline:
        r, _, _ = select.select([sock], [], [], 1.0)
        if not r:
            continue
        chunk = sock.recv(min(1 << 20, n - len(out)))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def ehlo_mail_rcpt(r, rcpt="<b@far.test>"):
    r.cmd("EHLO client.test", 250, "CHUNKING")
    r.cmd("MAIL FROM:<a@sender.test>", 250, "2.1.0 Sender ok")
    r.cmd(f"RCPT TO:{rcpt}", 250, "2.1.5 Recipient ok")


def expect_queued(r):
    text = r.expect(250, "2.0.0 Ok: queued as ")
    return text.split()[-1]


# ---- RFC 2920 ------------------------------------------------------------

def test_pipelined_transaction_then_second_message_in_one_write(gateway):
    g = gateway()
    r = g.raw("inbound")
    r.send("EHLO client.test\r\n"
           "MAIL FROM:<a@sender.test>\r\n"
           "RCPT TO:<one@ours.test>\r\n"
           "RCPT TO:<x@other.test>\r\n"
           "RCPT TO:<two@example.test>\r\n"
           "DATA\r\n")
    ehlo = r.expect(250, "PIPELINING")
    assert ehlo.splitlines()[0] == "gate26.test"
    r.expect(250, "2.1.0 Sender ok")
    r.expect(250, "2.1.5 Recipient ok")
    assert r.expect(550) == RELAY_DENIED[4:]
    r.expect(250, "2.1.5 Recipient ok")
    r.expect(354, "End data with <CR><LF>.<CR><LF>")
    content1 = b"Subject: first\r\n\r\nbody one\r\n"
    content2 = b"Subject: second\r\n\r\nbody two\r\n"
    r.send(content1 + b".\r\n"
           b"MAIL FROM:<b@sender.test>\r\n"
           b"RCPT TO:<three@ours.test>\r\n"
           b"DATA\r\n" + content2 + b".\r\nQUIT\r\n")
    id1 = expect_queued(r)
    r.expect(250, "2.1.0 Sender ok")
    r.expect(250, "2.1.5 Recipient ok")
    r.expect(354)
    id2 = expect_queued(r)
    r.expect(221, "2.0.0 Bye")
    assert r.is_closed()
    assert r.buf == b"", f"octets after 221: {r.buf!r}"
    r.close()
    assert id1 != id2
    assert sorted(g.queue_files()) == sorted([id1, id2])
    head1, c1 = content_of(g, id1)
    head2, c2 = content_of(g, id2)
    assert rcpts_of(head1) == ["one@ours.test", "two@example.test"]
    assert "\nsender <a@sender.test>\n" in head1 and "\ndoor inbound\n" in head1
    assert rcpts_of(head2) == ["three@ours.test"]
    assert "\nsender <b@sender.test>\n" in head2
    assert (c1, c2) == (content1, content2)
    assert_serving(g)


def test_nothing_after_quit_is_answered(gateway):
    g = gateway()
    r = g.raw()
    r.send("NOOP\r\nQUIT\r\nNOOP\r\nMAIL FROM:<a@b.test>\r\n")
    r.expect(250, "2.0.0 Ok")
    r.expect(221, "2.0.0 Bye")
    assert r.is_closed()
    assert r.buf == b"", f"replies after QUIT: {r.buf!r}"
    r.close()
    assert_serving(g)


def test_500_pipelined_commands_all_answered_in_order(gateway):
    g = gateway()
    r = g.raw()
    r.cmd("EHLO client.test", 250)
    # Three commands with three different replies, so that order shows.
    cmds, want = [], []
    for i in range(500):
        if i % 3 == 0:
            cmds.append("NOOP")
            want.append(NOOP_OK)
        elif i % 3 == 1:
            cmds.append(f"VRFY user{i}")
            want.append(b"252 2.0.0 Cannot VRFY user, but will accept message and attempt "
                        b"delivery\r\n")
        else:
            cmds.append("HELP")
            want.append(b"214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT "
                        b"VRFY HELP; see RFC 5321\r\n")
    r.send("".join(c + "\r\n" for c in cmds) + "QUIT\r\n")
    expected = b"".join(want) + BYE
    got = r.buf + read_exact(r.sock, len(expected) - len(r.buf))
    assert got == expected
    assert r.is_closed()
    r.close()
    # And 500 plain NOOPs.
    r = g.raw()
    r.send(b"NOOP\r\n" * 500 + b"QUIT\r\n")
    got = read_exact(r.sock, 500 * len(NOOP_OK) + len(BYE))
    assert got == NOOP_OK * 500 + BYE
    r.close()
    assert_serving(g)


def tcp_queues(local_port, remote_port):
    """(tx_queue, rx_queue) of the socket 127.0.0.1:local -> :remote, from /proc."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            loc, rem = fields[1], fields[2]
            if int(loc.split(":")[1], 16) == local_port and \
                    int(rem.split(":")[1], 16) == remote_port:
                tx, rx = fields[4].split(":")
                return int(tx, 16), int(rx, 16)
    return None


def small_buffer_socket(port):
    """A client socket with small kernel buffers, so that the kernel does
    not absorb a flood: what the daemon does not read stays unsent."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    return s


def write_until_held_back(s, payload, deadline_s=60.0):
    """Writes payload without reading anything. Returns (octets sent, True
    when the writes stopped because the socket stayed unwritable for a
    whole second, i.e. the daemon stopped reading)."""
    sent = 0
    deadline = time.monotonic() + deadline_s
    while sent < len(payload) and time.monotonic() < deadline:
        _, w, _ = select.select([], [s], [], 1.0)
        if not w:
            return sent, True
        try:
            sent += s.send(payload[sent:sent + 65536])
        except BlockingIOError:
            pass
    return sent, False


def test_client_that_never_reads_is_held_back(gateway):
    """1,000,000 NOOPs (6 MB, 14 MB of replies) written without reading:
    the daemon stops reading once its bounded buffers are full (the kernel
    queues fill and the client's writes block), keeps serving others, and
    when the client reads, every reply arrives, in order."""
    g = gateway()
    n = 1_000_000
    payload = b"EHLO client.test\r\n" + b"NOOP\r\n" * n + b"QUIT\r\n"
    s = small_buffer_socket(g.port())
    client_port = s.getsockname()[1]
    sent, stalled = write_until_held_back(s, payload)
    assert stalled, f"the daemon read all {sent} octets without the client reading a reply"
    assert sent < len(payload) // 2
    # The daemon is not reading this socket: its receive queue stays full.
    queues = tcp_queues(g.port(), client_port)
    assert queues is not None and queues[1] > 0, queues
    assert g.proc.poll() is None
    # Others are served meanwhile (the event loop is not stuck on the flood).
    assert_serving(g)
    # Now read everything while sending the rest.
    head = b"220 gate26.test ESMTP gate26\r\n250-gate26.test\r\n"
    got = bytearray()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        want_w = [s] if sent < len(payload) else []
        rd, wr, _ = select.select([s], want_w, [], 1.0)
        if rd:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += chunk
        if wr:
            try:
                sent += s.send(payload[sent:sent + 65536])
            except BlockingIOError:
                pass
    s.close()
    assert sent == len(payload)
    assert got.startswith(head)
    ehlo_end = got.index(b"250 DSN\r\n") + len(b"250 DSN\r\n")
    rest = bytes(got[ehlo_end:])
    assert len(rest) == n * len(NOOP_OK) + len(BYE), "replies lost or extra"
    assert rest == NOOP_OK * n + BYE
    assert g.proc.poll() is None
    assert_serving(g)


def test_stop_while_a_client_is_held_back_is_clean(gateway):
    """SIGTERM while a pipelining client that does not read has the daemon's
    output buffer full: the daemon must still exit 0 with nothing from the
    sanitizers (the fixture's stop() checks both)."""
    g = gateway()
    payload = b"NOOP\r\n" * 1_000_000
    s = small_buffer_socket(g.port())
    sent, _ = write_until_held_back(s, payload)
    assert sent < len(payload), "the daemon never held the client back"
    try:
        g.stop()  # asserts exit status 0 and a clean sanitizer log
    finally:
        s.close()
    assert "event=stop, signal=TERM" in g.log()


# ---- RFC 3030 ------------------------------------------------------------

def test_bdat_single_last_chunk_is_taken_verbatim(gateway):
    g = gateway()
    r = g.raw()
    ehlo_mail_rcpt(r)
    # No dot-stuffing in BDAT: "..x" stays, and a lone "." line ends nothing.
    content = b"Subject: dots\r\n\r\n..x\r\n.\r\n.y\r\nend\r\n"
    r.send(b"BDAT %d LAST\r\n" % len(content) + content)
    qid = expect_queued(r)
    r.cmd("QUIT", 221)
    r.close()
    head, got = content_of(g, qid)
    assert got == content
    assert "\nprotocol ESMTP\n" in head
    assert rcpts_of(head) == ["b@far.test"]
    assert g.tmp_files() == []
    assert_serving(g)


def test_bdat_chunks_1_0_100_last_split_inside_crlf(gateway):
    g = gateway()
    r = g.raw()
    ehlo_mail_rcpt(r)
    # 19 octets of header, then a line whose CR is octet 100: the third
    # chunk (octets 1..100) ends between that CR and its LF.
    content = b"Subject: chunks\r\n\r\n" + b"a" * 81 + b"\r\n" + b"tail line\r\n"
    c1, c2, c3, c4 = content[:1], b"", content[1:101], content[101:]
    assert len(c3) == 100 and c3.endswith(b"\r") and c4.startswith(b"\n")
    r.send(b"BDAT 1\r\n" + c1)
    r.expect(250, "2.0.0 Ok: 1 octets received")
    r.send(b"BDAT 0\r\n" + c2)
    r.expect(250, "2.0.0 Ok: 0 octets received")
    r.send(b"BDAT 100\r\n" + c3)
    r.expect(250, "2.0.0 Ok: 100 octets received")
    r.send(b"BDAT %d LAST\r\n" % len(c4) + c4)
    qid = expect_queued(r)
    r.cmd("NOOP", 250, "2.0.0 Ok")
    r.close()
    _, got = content_of(g, qid)
    assert got == content
    assert_serving(g)


def test_bdat_all_pipelined_in_one_write(gateway):
    g = gateway()
    r = g.raw()
    parts = [b"Subject: p\r\n", b"\r\n", b"hello ", b"world\r\n", b"..\r\n"]
    wire = b"EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<b@far.test>\r\n"
    for p in parts[:-1]:
        wire += b"BDAT %d\r\n" % len(p) + p
    wire += b"BDAT %d LAST\r\n" % len(parts[-1]) + parts[-1]
    # A second message in the same write, then QUIT.
    wire += b"MAIL FROM:<c@sender.test>\r\nRCPT TO:<d@far.test>\r\nBDAT 4 LAST\r\nab\r\nQUIT\r\n"
    r.send(wire)
    r.expect(250, "CHUNKING")
    r.expect(250, "2.1.0")
    r.expect(250, "2.1.5")
    for p in parts[:-1]:
        r.expect(250, f"2.0.0 Ok: {len(p)} octets received")
    id1 = expect_queued(r)
    r.expect(250, "2.1.0")
    r.expect(250, "2.1.5")
    id2 = expect_queued(r)
    r.expect(221)
    assert r.is_closed()
    r.close()
    head1, got1 = content_of(g, id1)
    head2, got2 = content_of(g, id2)
    assert got1 == b"".join(parts)
    assert got2 == b"ab\r\n"
    assert rcpts_of(head1) == ["b@far.test"] and rcpts_of(head2) == ["d@far.test"]
    assert_serving(g)


def test_bdat_200_chunks_replies_in_order(gateway):
    """Every chunk reply names its own size, so order is visible."""
    g = gateway()
    r = g.raw()
    ehlo_mail_rcpt(r)
    # Chunk i has i octets; from the second on each ends a line (CRLF), so
    # no text line is longer than 1000 octets.
    chunks = [b"a"] + [(b"%d" % i * 200)[:i - 2] + b"\r\n" for i in range(2, 201)]
    assert [len(c) for c in chunks] == list(range(1, 201))
    content = b"Subject: many\r\n\r\n" + b"".join(chunks) + b"\r\n"
    wire = b"BDAT %d\r\n" % len(b"Subject: many\r\n\r\n") + b"Subject: many\r\n\r\n"
    for c in chunks:
        wire += b"BDAT %d\r\n" % len(c) + c
    wire += b"BDAT 2 LAST\r\n\r\n"
    r.send(wire)
    expected = b"250 2.0.0 Ok: 17 octets received\r\n" + b"".join(
        b"250 2.0.0 Ok: %d octets received\r\n" % len(c) for c in chunks)
    got = r.buf + read_exact(r.sock, len(expected) - len(r.buf))
    r.buf = b""
    assert got == expected
    qid = expect_queued(r)
    r.close()
    _, stored = content_of(g, qid)
    assert stored == content
    assert_serving(g)


def test_bdat_zero_last_alone_after_a_chunk(gateway):
    g = gateway()
    r = g.raw()
    ehlo_mail_rcpt(r)
    r.send(b"BDAT 10\r\nSubject: z")
    r.expect(250, "2.0.0 Ok: 10 octets received")
    r.send(b"BDAT 4\r\n\r\n\r\n")
    r.expect(250, "2.0.0 Ok: 4 octets received")
    r.cmd("BDAT 0 LAST", 250, "2.0.0 Ok: queued as ")
    r.close()
    q = g.queue_files()
    assert len(q) == 1
    _, got = content_of(g, q[0])
    assert got == b"Subject: z\r\n\r\n"
    assert_serving(g)


def test_bdat_before_mail_skips_the_chunk(gateway):
    g = gateway()
    r = g.raw()
    r.cmd("EHLO client.test", 250)
    # The chunk looks like commands; if it were parsed, RSET/MAIL would be
    # answered before HELP.
    chunk = b"RSET\r\nMAIL FROM:<x@y.test>\r\nRSET\r\n"
    r.send(b"BDAT %d\r\n" % len(chunk) + chunk + b"HELP\r\n")
    r.expect(503, "5.5.1 Send MAIL first")
    r.expect(214, "2.0.0 Commands:")
    # Same with LAST, and after MAIL without RCPT.
    r.cmd("MAIL FROM:<a@sender.test>", 250, "2.1.0")
    r.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk + b"HELP\r\n")
    r.expect(503, "5.5.1 Send RCPT first")
    r.expect(214, "2.0.0 Commands:")
    # The transaction is intact: it can go on.
    r.cmd("RCPT TO:<b@far.test>", 250, "2.1.5")
    r.send(b"BDAT 8 LAST\r\nRSET\r\n\r\n")
    qid = expect_queued(r)
    r.close()
    assert g.queue_files() == [qid]
    _, got = content_of(g, qid)
    assert got == b"RSET\r\n\r\n"
    assert_serving(g)


def test_bdat_after_helo_is_not_offered_and_skipped(gateway):
    g = gateway()
    r = g.raw()
    r.cmd("HELO client.test", 250, "gate26.test")
    r.cmd("MAIL FROM:<a@sender.test>", 250, "2.1.0")
    r.cmd("RCPT TO:<b@far.test>", 250, "2.1.5")
    chunk = b"QUIT\r\n"
    r.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk + b"NOOP\r\n")
    r.expect(502, "5.5.1 Command not implemented")
    r.expect(250, "2.0.0 Ok")
    r.cmd("RSET", 250)
    r.close()
    assert g.queue_files() == []
    assert_serving(g)


def test_bdat_bad_size_closes_the_connection(gateway):
    g = gateway()
    for arg in ("BDAT abc", "BDAT", "BDAT -1", "BDAT 1e3", "BDAT 5 LASTX", "BDAT 5 LAST x",
                "BDAT 5  LAST", "BDAT  5", "BDAT 5 FIRST", "BDAT 99999999999999999999999999"):
        r = g.raw()
        ehlo_mail_rcpt(r)
        r.send(arg + "\r\nNOOP\r\n")
        r.expect(501, "5.5.4 Syntax: BDAT chunk-size [LAST]")
        assert r.is_closed(), f"{arg!r}: connection left open"
        assert r.buf == b"", f"{arg!r}: replies after the 501: {r.buf!r}"
        r.close()
    assert g.queue_files() == []
    assert g.tmp_files() == []
    assert ('cmd=BDAT, helo=client.test, from=<a@sender.test>, '
            'reply="501 5.5.4 Syntax: BDAT chunk-size [LAST]"') in g.log()
    assert_serving(g)


def test_data_after_bdat_chunk_is_refused(gateway):
    g = gateway()
    r = g.raw()
    ehlo_mail_rcpt(r)
    r.send(b"BDAT 5\r\nhello")
    r.expect(250, "2.0.0 Ok: 5 octets received")
    r.cmd("DATA", 503, "5.5.1 DATA is not allowed in a BDAT transaction")
    # The BDAT transaction is not affected by the refused DATA.
    r.send(b"BDAT 2 LAST\r\n\r\n")
    qid = expect_queued(r)
    _, got = content_of(g, qid)
    assert got == b"hello\r\n"
    # And after RSET nothing is left of a refused one.
    ehlo_mail_rcpt(r)
    r.send(b"BDAT 3\r\nabc")
    r.expect(250, "2.0.0 Ok: 3 octets received")
    r.cmd("DATA", 503, "5.5.1 DATA is not allowed in a BDAT transaction")
    r.cmd("RSET", 250, "2.0.0 Ok")
    r.cmd("QUIT", 221)
    r.close()
    assert g.queue_files() == [qid]
    assert g.tmp_files() == []
    assert_serving(g)


def test_bdat_over_max_message_size(gateway):
    g = gateway(doors={"internal": {"allow": "127.0.0.0/8", "tls": "none",
                                    "max-message-size": "1K"}})
    r = g.raw()
    r.cmd("EHLO client.test", 250, "SIZE 1024")
    r.cmd("MAIL FROM:<a@sender.test>", 250)
    r.cmd("RCPT TO:<b@far.test>", 250)
    line = b"x" * 98 + b"\r\n"
    big = b"Subject: big\r\n\r\n" + line * 20  # 2016 octets
    r.send(b"BDAT %d LAST\r\n" % len(big) + big + b"NOOP\r\n")
    r.expect(552, "5.3.4 Message size exceeds fixed limit")
    r.expect(250, "2.0.0 Ok")  # the 2016 octets were skipped exactly
    assert g.queue_files() == []
    # Over the limit in the second of several chunks.
    r.cmd("MAIL FROM:<a@sender.test>", 250)
    r.cmd("RCPT TO:<b@far.test>", 250)
    r.send(b"BDAT 800\r\n" + (line * 8))
    r.expect(250, "2.0.0 Ok: 800 octets received")
    r.send(b"BDAT 800\r\n" + (line * 8))
    r.expect(552, "5.3.4 Message size exceeds fixed limit")
    r.send(b"BDAT 0 LAST\r\n")
    r.expect(552, "5.3.4 Message size exceeds fixed limit")
    # Exactly at the limit is fine.
    r.cmd("MAIL FROM:<a@sender.test>", 250)
    r.cmd("RCPT TO:<b@far.test>", 250)
    exact = b"Subject: e\r\n\r\n" + (b"y" * 98 + b"\r\n") * 10 + b"z" * 8 + b"\r\n"
    assert len(exact) == 1024
    r.send(b"BDAT 1024 LAST\r\n" + exact)
    qid = expect_queued(r)
    r.close()
    assert g.queue_files() == [qid]
    assert g.tmp_files() == []
    assert_serving(g)


def test_bdat_bare_lf_refused_at_last(gateway):
    g = gateway()
    r = g.raw()
    ehlo_mail_rcpt(r)
    bad = b"Subject: lf\r\n\r\nline\nsmuggled\r\n"
    r.send(b"BDAT %d LAST\r\n" % len(bad) + bad)
    r.expect(550, "5.6.0 Message refused: bare LF in content (only CRLF ends a line)")
    # A bare LF in an early chunk: the chunk is acknowledged, LAST refuses.
    r.cmd("MAIL FROM:<a@sender.test>", 250)
    r.cmd("RCPT TO:<b@far.test>", 250)
    r.send(b"BDAT 8\r\nab\ncd\r\n\r")
    r.expect(250, "2.0.0 Ok: 8 octets received")
    r.send(b"BDAT 3 LAST\r\n\nok")
    r.expect(550, "5.6.0 Message refused: bare LF")
    r.cmd("NOOP", 250, "2.0.0 Ok")
    r.close()
    assert g.queue_files() == []
    assert g.tmp_files() == []
    assert re.search(r"status=rejected", g.log())
    assert_serving(g)


# ---- real clients ------------------------------------------------------------

def test_smtp_source_20_messages_5_sessions(gateway):
    g = gateway()
    # smtp-source has no pipelining (its man page: "No SMTP command
    # pipelining support"); it sends HELO. -M gives it a valid HELO name.
    proc = subprocess.Popen(["/usr/sbin/smtp-source", "-c", "-m", "20", "-s", "5", "-l", "1024",
                             "-M", "client.test", "-f", "a@b.test", "-t", "c@d.test",
                             f"127.0.0.1:{g.port()}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (out, err)
    wait_for(lambda: len(g.queue_files()) == 20, timeout=10, what="20 queued messages")
    for qid in g.queue_files():
        head, body = content_of(g, qid)
        assert rcpts_of(head) == ["c@d.test"]
        assert "\nsender <a@b.test>\n" in head and "\nprotocol SMTP\n" in head
        assert len(body) >= 1024
    assert g.tmp_files() == []
    assert_serving(g)


def test_swaks_pipeline(gateway):
    g = gateway()
    proc = subprocess.run(["/usr/bin/swaks", "--server", f"127.0.0.1:{g.port()}",
                           "--helo", "client.test", "--from", "a@b.test",
                           "--to", "c@d.test,e@f.test", "--pipeline",
                           "--header", "Subject: swaks pipelined", "--body", "hello\n..dot\n"],
                          capture_output=True, timeout=60, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PIPELINING" in proc.stdout
    q = g.queue_files()
    assert len(q) == 1
    head, body = content_of(g, q[0])
    assert rcpts_of(head) == ["c@d.test", "e@f.test"]
    assert b"Subject: swaks pipelined\r\n" in body
    # swaks dot-stuffs "..dot" to "...dot"; the stored content has "..dot".
    assert b"\r\n..dot\r\n" in body
    # On the inbound door, a refused recipient among pipelined ones.
    proc = subprocess.run(["/usr/bin/swaks", "--server", f"127.0.0.1:{g.port('inbound')}",
                           "--helo", "client.test", "--from", "a@b.test",
                           "--to", "u@ours.test,x@other.test", "--pipeline"],
                          capture_output=True, timeout=60, text=True)
    assert RELAY_DENIED in proc.stdout, proc.stdout
    q2 = [x for x in g.queue_files() if x not in q]
    assert len(q2) == 1
    head, _ = content_of(g, q2[0])
    assert rcpts_of(head) == ["u@ours.test"]
    assert_serving(g)
