# SPDX-License-Identifier: MIT
"""Relays for a first real deployment (issue 11, item 9): several relay URLs
per domain and for the relay-host, tried in order; SMTP AUTH to a smarthost
(relay-auth FILE, only over TLS: STARTTLS or smtps://); error hints that fit
the mistake in a relay URL. The next hops are aiosmtpd servers
(smtp_peer.Peer), with an authenticator where AUTH is tested; dnsmasq
answers where MX lookups matter."""
import base64
import os
import re
import subprocess
import time

import pytest

from conftest import BIN, GATE26_USER, assert_serving, free_port, give_key, wait_for
from dnsmasq import dnsmasq  # noqa: F401 (a fixture)
from smtp_peer import Peer
from test_relay import INTERNAL, dns_for, log_lines, peers, submit, wait_gone  # noqa: F401

LOOP = "127.0.0.1"


def gw(gateway, dns=None, domains=None, delivery="retry 1s", tls=None, extra=""):
    """A gateway with the internal door, our resolver (or none that answers)."""
    resolver = dns.server if dns is not None else f"127.0.0.1:{free_port()}"
    return gateway(doors=INTERNAL, domains=domains or {}, delivery=delivery, tls=tls,
                   extra=f"resolver {resolver}\n{extra}")


def wait_sent(g, qid, timeout=20):
    wait_gone(g, qid, timeout)
    (line,) = log_lines(g, qid, "status=sent")
    return line


# ---- Several relay URLs, tried in order ----

def test_first_relay_refuses_connection_second_takes_it(gateway, peers):
    """domain { relay URL URL }: the first is down (connection refused), the
    second takes the mail in the same attempt."""
    down = free_port()
    up = peers()
    g = gw(gateway, domains={"ours.test": f"smtp://[{LOOP}]:{down} smtp://[{LOOP}]:{up.port}"})
    qid = submit(g, "a@far.test", ["b@ours.test"])
    line = wait_sent(g, qid)
    assert f"relay={LOOP}[{LOOP}]:{up.port}" in line and "attempt=1," in line
    assert [m.accepted for m in up.messages()] == [["b@ours.test"]]
    assert f"event=hop-failed, hop=0" in g.log() and "Connection refused" in g.log()


def test_first_relay_greets_4xx_second_takes_it(gateway, peers):
    busy = peers(greeting="421 4.3.2 too busy")
    up = peers()
    g = gw(gateway, domains={"ours.test": f"smtp://[{LOOP}]:{busy.port} smtp://[{LOOP}]:{up.port}"})
    qid = submit(g, "a@far.test", ["b@ours.test"])
    line = wait_sent(g, qid)
    assert f":{up.port}" in line
    assert len(busy.conns) == 1 and busy.messages() == []
    assert re.search(r"event=hop-failed, hop=0, dsn=4\.3\.2, reason=\".*greeted: 421", g.log())


def test_both_relays_down_deferred_then_delivered(gateway, peers):
    """Every URL down: deferred (not bounced); once one comes back the mail goes there."""
    p1, p2 = free_port(), free_port()
    g = gw(gateway, domains={"ours.test": f"smtp://[{LOOP}]:{p1} smtp://[{LOOP}]:{p2}"})
    qid = submit(g, "a@far.test", ["b@ours.test"])
    wait_for(lambda: len(log_lines(g, qid, "status=deferred")) >= 2, 20, "two deferrals")
    deferred = log_lines(g, qid, "status=deferred")[0]
    assert "dsn=4.4.1" in deferred and f"connect to {LOOP}[{LOOP}]:{p2}: Connection refused" \
        in deferred  # the last hop's reason
    assert qid in g.queue_files()
    back = peers(port=p2)
    wait_sent(g, qid)
    assert [m.accepted for m in back.messages()] == [["b@ours.test"]]


def test_relay_host_with_several_urls(gateway, peers):
    """delivery { relay-host URL URL URL }: the smarthosts in order."""
    busy = peers(greeting="554 5.3.2 not now")
    up = peers()
    spare = peers()
    hosts = f"smtp://[{LOOP}]:{free_port()} smtp://[{LOOP}]:{busy.port} " \
            f"smtp://[{LOOP}]:{up.port} smtp://[{LOOP}]:{spare.port}"
    g = gw(gateway, delivery=f"retry 1s\n relay-host {hosts}")
    ids = [submit(g, "a@ours.test", [f"r{i}@far{i}.test"], tag=f"h{i}") for i in range(3)]
    for qid in ids:
        assert f":{up.port}" in wait_sent(g, qid)
    assert sorted(a for m in up.messages() for a in m.accepted) == \
        ["r0@far0.test", "r1@far1.test", "r2@far2.test"]
    assert spare.conns == []


def test_relay_urls_by_mx_skip_a_failed_lookup(gateway, dnsmasq, peers):
    """relay smtp://a smtp://b with MX lookups: a name that does not exist and
    one whose DNS fails are passed over (and logged); the last URL's MX takes
    the mail. The hops of the first URL come before those of the next."""
    mx = peers(host="127.0.0.41", port=25)
    dns = dns_for(dnsmasq, "--mx-host=relay.test,mx.relay.test,10",
                  "--host-record=mx.relay.test,127.0.0.41",
                  f"--server=/broken.test/127.0.0.1#{free_port()}")
    g = gw(gateway, dns, domains={
        "ours.test": "smtp://nothing.test smtp://mx.broken.test smtp://relay.test"})
    qid = submit(g, "a@far.test", ["b@ours.test"])
    assert "relay=mx.relay.test[127.0.0.41]:25" in wait_sent(g, qid)
    skipped = [x for x in g.log().splitlines() if "event=relay-skipped" in x]
    assert any("relay=smtp://nothing.test:25, dsn=5.1.2" in x for x in skipped), skipped
    assert any("relay=smtp://mx.broken.test:25, dsn=4.4.3" in x for x in skipped), skipped


def test_no_relay_url_gives_a_hop(gateway, dnsmasq):
    """Every URL's lookup fails: temporary when one failure was, with each reason."""
    dns = dns_for(dnsmasq, f"--server=/broken.test/127.0.0.1#{free_port()}")
    g = gw(gateway, dns, delivery="retry 1h",
           domains={"ours.test": "smtp://nothing.test smtp://mx.broken.test"})
    qid = submit(g, "a@far.test", ["b@ours.test"])
    wait_for(lambda: log_lines(g, qid, "status=deferred"), 20, "a deferral")
    (line,) = log_lines(g, qid, "status=deferred")
    assert "dsn=4.4.3" in line
    assert "Host or domain name not found: nothing.test" in line
    assert "MX lookup of mx.broken.test failed" in line
    assert_serving(g)
