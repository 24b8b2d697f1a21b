# SPDX-License-Identifier: MIT
"""The quarantine flow through the daemon (issue 14): a message that real
rspamd scores between spam-quarantine and spam-reject is answered 250, held
in SPOOL/quarantine and not delivered; `gate26 quarantine list` shows it,
`show` prints it, `release` delivers it once, unchanged, to its recipients
(the spam check that held it skipped), and `delete` drops one for good.
(Expiry after `keep` is tested with the quarantine module itself.)"""
import json

from checkers import (checks_block, checks_field, header_values, message,  # noqa: F401
                      quarantine_cli, quarantine_files, rspamd, sink, start_checks_gateway,
                      transact, wait_delivered, wait_for)

RCPTS = ["bob@ours.test", "carol@ours.test"]
SENDER = "alice@example.test"


def spam_gateway(gateway, sink, rspamd):
    return start_checks_gateway(gateway, None, sink,
                                checks_block("inbound", f"spam rspamd {rspamd.url}",
                                             "spam-reject 15", "spam-quarantine 6",
                                             "spam-header 3"))


def quarantine(g, sink, tag, subject):
    t = transact(g, SENDER, RCPTS, message(subject=subject,
                                           headers=f"X-Gate26-Test: {tag}\r\n".encode()))
    qid = t.queue_id
    wait_for(lambda: any("status=quarantined" in line for line in g.log().splitlines()
                         if qid in line), 20, "the status=quarantined line")
    assert checks_field(g, qid, "quarantined")["spam"]
    return qid


def listed(g):
    out, _ = quarantine_cli(g, "list", "--json")
    return json.loads(out) if out.strip() else []


def test_quarantined_listed_released_delivered_once(gateway, sink, rspamd):
    g = spam_gateway(gateway, sink, rspamd)
    qid = quarantine(g, sink, "seven", "held for review")
    assert quarantine_files(g)
    assert qid not in g.queue_files()
    assert sink.messages() == []

    entries = listed(g)
    assert qid in json.dumps(entries), entries
    text, _ = quarantine_cli(g, "list")
    assert qid in text, text
    shown, _ = quarantine_cli(g, "show", qid)
    assert "held for review" in shown, shown

    quarantine_cli(g, "release", qid)
    msgs = wait_delivered(sink, 1)
    assert sorted(a.lower() for a, _ in msgs[0].rcpts) == RCPTS
    data = msgs[0].data
    assert header_values(data, "Subject") == ["held for review"]
    assert header_values(data, "X-Gate26-Test") == ["seven"]
    # Released: out of the quarantine, and not held again by the spam check.
    assert qid not in json.dumps(listed(g))
    quarantine_cli(g, "release", qid, expect_rc=1)
    wait_for(lambda: not g.queue_files(), 30, "the queue to empty")
    # Delivered once: the message went, and nothing is left that could send it again.
    assert len(sink.messages()) == 1
    assert not any(qid in name for name in quarantine_files(g))


def test_quarantine_delete(gateway, sink, rspamd):
    g = spam_gateway(gateway, sink, rspamd)
    qid = quarantine(g, sink, "seven", "to be deleted")
    other = quarantine(g, sink, "seven", "kept")
    quarantine_cli(g, "delete", qid)
    entries = json.dumps(listed(g))
    assert qid not in entries and other in entries, entries
    quarantine_cli(g, "show", qid, expect_rc=1)
    assert sink.messages() == []


def test_quarantine_of_an_unknown_id(gateway, sink, rspamd):
    g = spam_gateway(gateway, sink, rspamd)
    for verb in ("show", "release", "delete"):
        _, err = quarantine_cli(g, verb, "0000000000000000", expect_rc=1)
        assert "0000000000000000" in err, err
