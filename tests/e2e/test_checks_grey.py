# SPDX-License-Identifier: MIT
"""DNSBL, DNSWL and greylisting through the daemon (issue 14, docs/checks.md;
the replies of the lead's contract). dnsmasq answers the lists: the client
127.0.0.2 is listed in bl.test (2.0.0.127.bl.test A 127.0.0.2) and 127.0.0.3
in both bl.test and wl.test; 127.0.0.1 is in neither. Greylisting's shortest
delay is 1m (src/conf/checks.c): the tests stop the daemon and move the
rows of SPOOL/greylist.db (src/checks/greylist_sqlite.c's schema) back in
time instead of waiting, then start it again."""
import os
import pwd
import re
import sqlite3

import pytest

from checkers import (Zone, checks_block, sink, start_checks_gateway, transact,  # noqa: F401
                      wait_delivered, wait_for)
from conftest import GATE26_USER
from dnsmasq import dnsmasq  # noqa: F401 (a fixture)

RCPT = "bob@ours.test"
SENDER = "alice@example.test"
LISTED, BOTH = "127.0.0.2", "127.0.0.3"


def lists_zone():
    return (Zone().listed("bl.test", LISTED).listed("bl.test", BOTH)
            .listed("wl.test", BOTH, "127.0.10.1"))


def blocked(addr):
    return f"5.7.1 Service unavailable; client [{addr}] blocked using bl.test"


@pytest.fixture
def dns(dnsmasq):  # noqa: F811
    return lists_zone().start(dnsmasq)


# ---- DNSBL and DNSWL ----

def test_dnsbl_listed_on_the_greeting(gateway, sink, dns):
    g = start_checks_gateway(gateway, dns, sink,
                             checks_block("inbound", "dnsbl bl.test", "dnsbl-reply greeting"))
    t = transact(g, SENDER, [RCPT, "postmaster@ours.test"], b"", source=LISTED)
    assert t.greeting == (554, blocked(LISTED)), t
    # As a connect-denied client (RFC 5321 3.1): every command but QUIT gets 503.
    for code, text in [t.ehlo, t.mail, *t.rcpts]:
        assert code == 503 and text.startswith("5.5.1 "), t
    assert sink.messages() == [] and g.queue_files() == []
    # An unlisted client is served.
    t = transact(g, SENDER, [RCPT], b"Subject: x\r\n\r\nhi\r\n", source="127.0.0.1")
    assert t.greeting[0] == 220 and t.end[0] == 250, t


def test_dnsbl_default_is_the_greeting(gateway, sink, dns):
    g = start_checks_gateway(gateway, dns, sink, checks_block("inbound", "dnsbl bl.test"))
    t = transact(g, SENDER, [RCPT], b"", source=LISTED)
    assert t.greeting == (554, blocked(LISTED)), t


def test_dnsbl_listed_at_rcpt_postmaster_still_accepted(gateway, sink, dns):
    g = start_checks_gateway(gateway, dns, sink,
                             checks_block("inbound", "dnsbl bl.test", "dnsbl-reply rcpt"))
    t = transact(g, SENDER, [RCPT, "postmaster", "postmaster@ours.test", "carol@ours.test"],
                 b"Subject: to the postmaster\r\n\r\nplease unlist me\r\n", source=LISTED)
    assert t.greeting[0] == 220, t
    assert t.rcpts[0] == (554, blocked(LISTED)), t
    assert t.rcpts[1][0] == 250 and t.rcpts[2][0] == 250, t
    assert t.rcpts[3] == (554, blocked(LISTED)), t
    assert t.end[0] == 250, t
    # <postmaster> (no domain) and postmaster@ours.test may be delivered as two messages.
    wait_for(lambda: sum(len(m.rcpts) for m in sink.messages()) >= 2, 30, "both postmasters")
    addrs = [a.lower() for m in sink.messages() for a, _ in m.rcpts]  # (address, params) each
    assert "postmaster@ours.test" in addrs, addrs
    assert RCPT not in addrs and "carol@ours.test" not in addrs, addrs


def test_dnswl_skips_dnsbl_and_greylisting(gateway, sink, dns):
    g = start_checks_gateway(gateway, dns, sink,
                             checks_block("inbound", "dnsbl bl.test", "dnswl wl.test",
                                          "greylist 5m"))
    t = transact(g, SENDER, [RCPT], b"Subject: x\r\n\r\nhi\r\n", source=BOTH)
    assert t.greeting[0] == 220, t
    assert t.rcpts == [(250, t.rcpts[0][1])], t
    assert t.end[0] == 250, t
    wait_delivered(sink)
    # A client in neither list is greylisted.
    t = transact(g, SENDER, [RCPT], b"", source="127.0.0.1")
    assert t.rcpts[0][0] == 451, t


# ---- greylisting ----

GREY = re.compile(r"4\.7\.1 <bob@ours\.test>: Greylisted, try again in (\d+) seconds")


def greylisted(reply, most=60):
    code, text = reply
    m = GREY.fullmatch(text)
    assert code == 451 and m, reply
    assert 0 < int(m.group(1)) <= most, reply
    return int(m.group(1))


def age_greylist(g, seconds):
    """With the daemon stopped: every triplet first seen seconds earlier. The
    file stays the gateway user's."""
    db = g.spool / "greylist.db"
    st = db.stat()
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT sender, rcpt FROM triplet").fetchall()
        assert any(RCPT in r for row in rows for r in row), rows
        con.execute("UPDATE triplet SET seen = seen - ?", (seconds,))
        con.commit()
    finally:
        con.close()
    for p in g.spool.glob("greylist.db*"):
        os.chown(p, st.st_uid, st.st_gid)


def test_greylisting_first_retry_pass_and_remembered(gateway, sink, dns):
    g = start_checks_gateway(gateway, dns, sink, checks_block("inbound", "greylist 1m"))
    body = b"Subject: grey\r\n\r\nhi\r\n"
    t = transact(g, SENDER, [RCPT], body)
    greylisted(t.rcpts[0])
    assert t.end is None
    # A retry before the delay: still 451.
    t = transact(g, SENDER, [RCPT], body)
    greylisted(t.rcpts[0])
    assert (g.spool / "greylist.db").exists()
    # The delay passes (the rows are moved back two minutes while the daemon is down).
    g.stop()
    age_greylist(g, 120)
    g.start()
    t = transact(g, SENDER, [RCPT], body)
    assert t.rcpts[0][0] == 250 and t.end[0] == 250, t
    wait_delivered(sink, 1)
    # Later mail from the same triplet: at once.
    t = transact(g, SENDER, [RCPT], body)
    assert t.rcpts[0][0] == 250 and t.end[0] == 250, t
    # And after a restart too.
    g.stop()
    g.start()
    t = transact(g, SENDER, [RCPT], body)
    assert t.rcpts[0][0] == 250 and t.end[0] == 250, t
    wait_delivered(sink, 3)
    # Another sender from the same client is a new triplet.
    t = transact(g, "dave@example.test", [RCPT], body)
    greylisted(t.rcpts[0])


def test_greylist_database_deleted_while_running(gateway, sink, dns):
    """The file deleted under the daemon: mail still flows (the store answers
    pass or starts again from nothing; never an error reply), a warning is
    logged, and the store works again."""
    g = start_checks_gateway(gateway, dns, sink, checks_block("inbound", "greylist 1m"))
    body = b"Subject: grey\r\n\r\nhi\r\n"
    t = transact(g, SENDER, [RCPT], body)
    greylisted(t.rcpts[0])
    for p in g.spool.glob("greylist.db*"):
        p.unlink()
    t = transact(g, "erin@example.test", [RCPT], body)
    assert t.rcpts[0][0] in (250, 451), t
    if t.rcpts[0][0] == 451:
        greylisted(t.rcpts[0])
    wait_for(lambda: re.search(r"warning: greylist: .*event=", g.log()), 20,
             "a greylist warning")
    wait_for(lambda: (g.spool / "greylist.db").exists(), 20, "greylist.db made again")
    t = transact(g, "frank@example.test", [RCPT], body)
    greylisted(t.rcpts[0])


def test_greylist_database_corrupt_while_running(gateway, sink, dns):
    """The file overwritten with junk under the daemon: the decision that meets
    it answers pass (250: mail flows), a warning (event=corrupt) is logged, the
    file is moved aside and made again."""
    g = start_checks_gateway(gateway, dns, sink, checks_block("inbound", "greylist 1m"))
    body = b"Subject: grey\r\n\r\nhi\r\n"
    t = transact(g, SENDER, [RCPT], body)
    greylisted(t.rcpts[0])
    db = g.spool / "greylist.db"
    size = db.stat().st_size
    with open(db, "r+b") as f:        # the same file (no rename): junk over it
        f.write(os.urandom(max(size, 8192)))
    for p in g.spool.glob("greylist.db-*"):
        with open(p, "r+b") as f:
            f.write(os.urandom(max(p.stat().st_size, 4096)))
    replies = []
    for i in range(3):
        t = transact(g, f"user{i}@example.test", [RCPT], body)
        replies.append(t.rcpts[0])
        assert t.rcpts[0][0] in (250, 451), t
    assert any(code == 250 for code, _ in replies), replies
    wait_for(lambda: "event=corrupt" in g.log(), 20, "greylist's event=corrupt warning")
    assert list(g.spool.glob("greylist.db.corrupt-*")), list(g.spool.iterdir())
    t = transact(g, "zed@example.test", [RCPT], body)
    greylisted(t.rcpts[0])
    if GATE26_USER is not None:
        assert db.stat().st_uid == pwd.getpwnam(GATE26_USER).pw_uid
