# SPDX-License-Identifier: MIT
"""The shortest whole path: a message in through the internal door with
Python's smtplib, on disk in the spool, named in the log by its queue id."""
import re
import smtplib


def test_internal_door_queues_a_message(gateway):
    g = gateway()
    with smtplib.SMTP("127.0.0.1", g.port("internal"), local_hostname="client.test") as c:
        code, caps = c.ehlo()
        assert code == 250
        for ext in (b"PIPELINING", b"SIZE", b"8BITMIME", b"SMTPUTF8", b"ENHANCEDSTATUSCODES",
                    b"CHUNKING", b"DSN"):
            assert ext in caps
        refused = c.sendmail("a@sender.test", ["b@far.test"], b"Subject: hi\r\n\r\nbody\r\n")
        assert refused == {}
        code, text = c.noop()
        assert code == 250
    queued = g.queue_files()
    assert len(queued) == 1
    head, body = g.message(queued[0])
    assert body.startswith(b"Received: from client.test ([127.0.0.1])")
    assert f"id {queued[0]}".encode() in body
    assert body.endswith(b"Subject: hi\r\n\r\nbody\r\n")
    assert "door internal" in head
    log = g.log()
    assert re.search(rf"{queued[0]}: from=<a@sender.test>, size=\d+, nrcpt=1, .*status=queued",
                     log)
    assert g.tmp_files() == []
