# SPDX-License-Identifier: MIT
"""The relay path end to end (issue 4): gate26 takes mail on its doors and
delivers it through real components only: dnsmasq on 127.0.0.1 answers its
MX and address lookups (resolver ADDR:PORT), and aiosmtpd servers listen as
next hops, as MX hosts on 127.0.0.x port 25 the way real MX delivery
connects. Bounces arrive at the sender's own MX and are parsed as RFC 3464
reports."""
import email
import email.policy
import re
import time

import pytest

from conftest import Raw, assert_serving, free_port, queued_id, wait_for, want
from dnsmasq import dnsmasq  # noqa: F401 (a fixture)
from smtp_peer import Peer

INTERNAL = {"internal": {"allow": "127.0.0.0/8", "tls": "none"}}
BODY = b"Subject: relay test\r\nMessage-ID: <%s@test>\r\n\r\nhello\r\n..dot line\r\n"  # stuffed


@pytest.fixture
def peers():
    started = []

    def make(host="127.0.0.1", port=0, **options):
        p = Peer(host=host, port=port, **options).start()
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def dns_for(dnsmasq, *records):
    """dnsmasq as the authority for .test with these --mx-host/--host-record/... records."""
    return dnsmasq("--local=/test/", *records)


def start(gateway, dns, doors=INTERNAL, domains=None, delivery="retry 1s", extra=""):
    return gateway(doors=doors, domains=domains or {}, delivery=delivery,
                   extra=f"resolver {dns.server if dns else '127.0.0.1:1'}\n{extra}")


def submit(g, sender, rcpts, body=None, role="internal", tag="m"):
    """Sends one message; returns its queue id."""
    r = Raw(g.port(role))
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
        r.send((body if body is not None else BODY % tag.encode()) + b".\r\n")
        qid = queued_id(r)
        r.send(b"QUIT\r\n")
        return qid
    finally:
        r.close()


def wait_messages(peer, n, timeout=20):
    wait_for(lambda: len(peer.messages()) >= n, timeout, f"{n} message(s) at the peer")
    return peer.messages()


def wait_gone(g, qid, timeout=20):
    wait_for(lambda: qid not in g.queue_files(), timeout, f"{qid} to leave the queue")


def log_lines(g, qid, key):
    return [line for line in g.log().splitlines() if f": {qid}: " in line and key in line]


def dsn_of(conn):
    """The report a peer received: (message, per-message fields, [per-recipient fields])."""
    msg = email.message_from_bytes(conn.data, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = list(msg.iter_parts())
    status = parts[1]
    assert status.get_content_type() == "message/delivery-status"
    blocks = [dict(b.items()) for b in status.get_payload()]
    return msg, blocks[0], blocks[1:]


# ---- Routes and MX ----

def test_inbound_domain_route_to_internal_server(gateway, dnsmasq, peers):
    """Mail for our domain on the inbound door goes to the domain's relay."""
    inside = peers()
    dns = dns_for(dnsmasq)
    g = start(gateway, dns, doors={"inbound": {"tls": "none"}},
              domains={"ours.test": f"smtp://127.0.0.1:{inside.port}"})
    qid = submit(g, "alice@far.test", ["bob@ours.test"], role="inbound")
    (conn,) = wait_messages(inside, 1)
    assert conn.mail_from == "alice@far.test"
    assert [a for a, _ in conn.rcpts] == ["bob@ours.test"]
    # Our Received header first, then the content byte for byte (dot line unstuffed).
    assert conn.data.startswith(b"Received: from client.test")
    assert f"id {qid}".encode() in conn.data.split(b"\r\n\r\n")[0]
    assert conn.data.endswith(b"\r\nhello\r\n.dot line\r\n")
    wait_gone(g, qid)
    (sent,) = log_lines(g, qid, "status=sent")
    assert f"relay=127.0.0.1[127.0.0.1]:{inside.port}" in sent and "dsn=2.0.0" in sent
    assert "to=<bob@ours.test>" in sent


def test_internal_door_to_mx_on_port_25(gateway, dnsmasq, peers):
    mx = peers(host="127.0.0.21", port=25)
    dns = dns_for(dnsmasq, "--mx-host=far.test,mx1.far.test,10",
                  "--host-record=mx1.far.test,127.0.0.21")
    g = start(gateway, dns)
    qid = submit(g, "alice@ours.test", ["bob@far.test", "carol@far.test"])
    (conn,) = wait_messages(mx, 1)
    # Both recipients of one domain in one transaction.
    assert [a for a, _ in conn.rcpts] == ["bob@far.test", "carol@far.test"]
    assert conn.helo == "EHLO gate26.test"
    wait_gone(g, qid)
    assert len([x for x in log_lines(g, qid, "status=sent") if "relay=mx1.far.test[127.0.0.21]:25" in x]) == 2


def test_mx_preference_order(gateway, dnsmasq, peers):
    low = peers(host="127.0.0.22", port=25)
    high = peers(host="127.0.0.23", port=25)
    dns = dns_for(dnsmasq, "--mx-host=pref.test,b.pref.test,20",
                  "--mx-host=pref.test,a.pref.test,10",
                  "--host-record=b.pref.test,127.0.0.22", "--host-record=a.pref.test,127.0.0.23")
    g = start(gateway, dns)
    ids = [submit(g, "s@ours.test", [f"r{i}@pref.test"], tag=f"p{i}") for i in range(3)]
    wait_messages(high, 3)
    for qid in ids:
        wait_gone(g, qid)
    assert low.conns == []


def test_first_mx_down_second_used(gateway, dnsmasq, peers):
    second = peers(host="127.0.0.25", port=25)
    dns = dns_for(dnsmasq, "--mx-host=two.test,mx1.two.test,10",
                  "--mx-host=two.test,mx2.two.test,20",
                  "--host-record=mx1.two.test,127.0.0.24", "--host-record=mx2.two.test,127.0.0.25")
    g = start(gateway, dns)
    qid = submit(g, "s@ours.test", ["r@two.test"])
    wait_messages(second, 1)
    wait_gone(g, qid)
    assert "event=hop-failed" in g.log() and "127.0.0.24" in g.log()
    assert log_lines(g, qid, "relay=mx2.two.test[127.0.0.25]:25")


def test_all_mx_down_retried_then_delivered(gateway, dnsmasq, peers):
    dns = dns_for(dnsmasq, "--mx-host=later.test,mx.later.test,10",
                  "--host-record=mx.later.test,127.0.0.26")
    g = start(gateway, dns)
    qid = submit(g, "s@ours.test", ["r@later.test"])
    wait_for(lambda: len(log_lines(g, qid, "status=deferred")) >= 2, 20, "two deferrals")
    deferred = log_lines(g, qid, "status=deferred")[0]
    assert "dsn=4.4.1" in deferred and "Connection refused" in deferred
    assert qid in g.queue_files()
    mx = peers(host="127.0.0.26", port=25)
    wait_messages(mx, 1)
    wait_gone(g, qid)
    (sent,) = log_lines(g, qid, "status=sent")
    assert int(re.search(r"attempt=(\d+)", sent).group(1)) >= 3


def test_implicit_mx_and_address_literal(gateway, dnsmasq, peers):
    """No MX records: the domain's own address (RFC 5321 5.1); a literal is its own hop."""
    host = peers(host="127.0.0.27", port=25)
    dns = dns_for(dnsmasq, "--host-record=bare.test,127.0.0.27")
    g = start(gateway, dns)
    a = submit(g, "s@ours.test", ["r@bare.test"], tag="a")
    b = submit(g, "s@ours.test", ["r@[127.0.0.27]"], tag="b")
    wait_messages(host, 2)
    wait_gone(g, a)
    wait_gone(g, b)


# ---- Failures and bounces ----

def bounce_setup(gateway, dnsmasq, peers, far_opts=None, records=(), delivery="retry 1s"):
    """far.test's MX (127.0.0.28, options far_opts) and the sender's MX (127.0.0.29)."""
    far = peers(host="127.0.0.28", port=25, **(far_opts or {}))
    home = peers(host="127.0.0.29", port=25)
    dns = dns_for(dnsmasq, "--mx-host=far.test,mx.far.test,10",
                  "--host-record=mx.far.test,127.0.0.28",
                  "--mx-host=home.test,mx.home.test,10",
                  "--host-record=mx.home.test,127.0.0.29", *records)
    g = start(gateway, dns, delivery=delivery)
    return g, far, home


def test_5xx_bounces_to_the_sender(gateway, dnsmasq, peers):
    g, far, home = bounce_setup(gateway, dnsmasq, peers, {
        "rcpt_replies": {"gone@far.test": "550 5.1.1 <gone@far.test>: no such user"}})
    qid = submit(g, "alice@home.test", ["gone@far.test", "here@far.test"])
    (delivered,) = wait_messages(far, 1)
    assert [a for a, _ in delivered.rcpts] == ["gone@far.test", "here@far.test"]
    (report,) = wait_messages(home, 1)
    assert report.mail_from == ""
    assert [a for a, _ in report.rcpts] == ["alice@home.test"]
    msg, per_msg, per_rcpt = dsn_of(report)
    assert msg["To"] == "<alice@home.test>" or "alice@home.test" in msg["To"]
    assert per_msg["Reporting-MTA"] == "dns; gate26.test"
    assert per_msg["X-Gate26-Queue-ID"] == qid
    (r,) = per_rcpt
    assert r["Final-Recipient"] == "rfc822; gone@far.test"
    assert r["Action"] == "failed"
    assert r["Status"] == "5.1.1"
    assert r["Remote-MTA"] == "dns; mx.far.test"
    assert "550 5.1.1 <gone@far.test>: no such user" in r["Diagnostic-Code"]
    wait_gone(g, qid)
    assert log_lines(g, qid, "status=bounced") and log_lines(g, qid, "event=bounce")


def test_4xx_until_give_up_bounces(gateway, dnsmasq, peers):
    g, far, home = bounce_setup(gateway, dnsmasq, peers, {
        "rcpt_replies": {"busy@far.test": "450 4.2.1 mailbox busy"}},
        delivery="retry 1s\n give-up 5s\n delay-warning off")
    qid = submit(g, "alice@home.test", ["busy@far.test"])
    (report,) = wait_messages(home, 1, timeout=30)
    _, _, (r,) = dsn_of(report)
    assert r["Action"] == "failed"
    assert r["Status"] == "4.2.1"
    assert "450 4.2.1 mailbox busy" in r["Diagnostic-Code"]
    text = list(email.message_from_bytes(report.data, policy=email.policy.default)
                .iter_parts())[0].get_content()
    assert "delivery time expired" in text
    wait_gone(g, qid)
    # It was retried before giving up (5 s leaves room for a slow first DNS answer under load).
    assert len(far.conns) >= 2, g.log()[-3000:]


def test_delay_warning_once(gateway, dnsmasq, peers):
    g, far, home = bounce_setup(gateway, dnsmasq, peers, {
        "rcpt_replies": {"slow@far.test": "451 4.3.0 try later"}},
        delivery="retry 1s\n give-up 1h\n delay-warning 2s")
    qid = submit(g, "alice@home.test", ["slow@far.test"])
    (report,) = wait_messages(home, 1)
    _, _, (r,) = dsn_of(report)
    assert r["Action"] == "delayed"
    assert "Will-Retry-Until" in r
    n = len(far.conns)
    wait_for(lambda: len(far.conns) >= n + 2, 20, "two more attempts")
    assert len(home.messages()) == 1  # once only
    assert qid in g.queue_files()


def test_null_mx_bounces(gateway, dnsmasq, peers):
    g, far, home = bounce_setup(gateway, dnsmasq, peers,
                                records=["--mx-host=nomail.test,.,0"])
    qid = submit(g, "alice@home.test", ["x@nomail.test"])
    (report,) = wait_messages(home, 1)
    _, _, (r,) = dsn_of(report)
    assert r["Status"] == "5.1.10"
    assert "Diagnostic-Code" not in r  # no server answered: our own reason
    wait_gone(g, qid)
    assert "null MX" in log_lines(g, qid, "status=bounced")[0]


def test_nxdomain_bounces(gateway, dnsmasq, peers):
    g, far, home = bounce_setup(gateway, dnsmasq, peers)
    qid = submit(g, "alice@home.test", ["x@nowhere.test"])
    (report,) = wait_messages(home, 1)
    _, _, (r,) = dsn_of(report)
    assert r["Status"] == "5.1.2"
    wait_gone(g, qid)


def test_no_bounce_for_the_null_sender(gateway, dnsmasq, peers):
    g, far, home = bounce_setup(gateway, dnsmasq, peers)
    qid = submit(g, "", ["x@nowhere.test"])
    wait_gone(g, qid)
    assert log_lines(g, qid, "status=bounced")
    time.sleep(0.5)
    assert home.conns == [] and g.queue_files() == []


def test_dns_server_down_is_temporary(gateway, peers):
    class Down:
        server = f"127.0.0.1:{free_port()}"

    g = start(gateway, Down, delivery="retry 1h")
    qid = submit(g, "alice@home.test", ["x@far.test"])
    wait_for(lambda: log_lines(g, qid, "status=deferred"), 20, "a deferral")
    (line,) = log_lines(g, qid, "status=deferred")
    assert "dsn=4.4.3" in line and "MX lookup of far.test failed" in line
    head, _ = g.message(qid)
    assert "\nschedule 0001 " in head and "\nrcpt - - x@far.test =" in head


def test_three_domains_one_fails_only_it_retried(gateway, dnsmasq, peers):
    d1 = peers(host="127.0.0.31", port=25)
    d2 = peers(host="127.0.0.32", port=25)
    d3 = peers(host="127.0.0.33", port=25, mail_reply="451 4.3.2 not now")
    dns = dns_for(dnsmasq, *[f"--mx-host=d{i}.test,mx.d{i}.test,10" for i in (1, 2, 3)],
                  *[f"--host-record=mx.d{i}.test,127.0.0.3{i}" for i in (1, 2, 3)])
    g = start(gateway, dns)
    qid = submit(g, "s@ours.test", ["a@d1.test", "b@d2.test", "c@d3.test"])
    wait_messages(d1, 1)
    wait_messages(d2, 1)
    wait_for(lambda: len(d3.conns) >= 3, 20, "d3 to be tried three times")
    head, _ = g.message(qid)
    assert "\nrcpt D - a@d1.test =" in head and "\nrcpt D - b@d2.test =" in head
    assert "\nrcpt - - c@d3.test =" in head
    d3.opt["mail_reply"] = None
    wait_messages(d3, 1)
    wait_gone(g, qid)
    # Delivered once each: the retries went to d3 only.
    assert len(d1.conns) == 1 and len(d2.conns) == 1


def test_recipient_limit_452_sends_the_rest_again(gateway, dnsmasq, peers):
    """A server that takes 2 recipients per transaction and answers 452 4.5.3 to
    the rest: those go again at once in new transactions of the same attempt."""
    mx = peers(host="127.0.0.34", port=25, max_rcpts=2)
    dns = dns_for(dnsmasq, "--mx-host=many.test,mx.many.test,10",
                  "--host-record=mx.many.test,127.0.0.34")
    g = start(gateway, dns, delivery="retry 1h")
    rcpts = [f"r{i}@many.test" for i in range(5)]
    qid = submit(g, "s@ours.test", rcpts)
    wait_gone(g, qid)
    got = [rcpt for c in mx.messages() for rcpt in c.accepted]
    assert sorted(got) == rcpts
    assert len(mx.messages()) == 3
    assert g.log().count(f"{qid}: domain=many.test, event=recipient-limit") == 2
    assert not log_lines(g, qid, "status=deferred")


def test_mail_loop_too_many_received(gateway, dnsmasq, peers):
    g, far, home = bounce_setup(gateway, dnsmasq, peers)
    hops = b"".join(b"Received: from hop%d.test by x.test; Mon, 1 Jan 2024 00:00:00 +0000\r\n" % i
                    for i in range(51))
    qid = submit(g, "alice@home.test", ["x@far.test"], body=hops + b"Subject: loop\r\n\r\nx\r\n")
    (report,) = wait_messages(home, 1)
    _, _, (r,) = dsn_of(report)
    assert r["Status"] == "5.4.6"
    assert far.conns == []
    wait_gone(g, qid)


def test_route_back_to_ourselves_is_a_loop(gateway, dnsmasq, peers):
    home = peers(host="127.0.0.29", port=25)
    dns = dns_for(dnsmasq, "--mx-host=home.test,mx.home.test,10",
                  "--host-record=mx.home.test,127.0.0.29")
    port = free_port()
    g = start(gateway, dns, doors={"internal": {"allow": "127.0.0.0/8", "tls": "none"},
                                   "inbound": {"address": f"127.0.0.1:{port}", "tls": "none"}},
              domains={"ours.test": f"smtp://127.0.0.1:{port}"})
    qid = submit(g, "alice@home.test", ["x@ours.test"])
    (report,) = wait_messages(home, 1)
    _, _, (r,) = dsn_of(report)
    assert r["Status"] == "5.4.6"
    assert "loops back to myself" in log_lines(g, qid, "status=bounced")[0]


# ---- Queue state across restarts and reloads ----

def test_restart_keeps_attempts_and_delivers(gateway, dnsmasq, peers):
    dns = dns_for(dnsmasq, "--mx-host=later.test,mx.later.test,10",
                  "--host-record=mx.later.test,127.0.0.35")
    g = start(gateway, dns, delivery="retry 2s")
    qid = submit(g, "s@ours.test", ["r@later.test"])
    wait_for(lambda: log_lines(g, qid, "status=deferred"), 20, "a deferral")
    g.stop()
    head, _ = g.message(qid)
    attempts, when = re.search(r"\nschedule (\d{4}) (\d{10})\n", head).groups()
    assert int(attempts) >= 1 and int(when) > 0
    mx = peers(host="127.0.0.35", port=25)
    g.start()
    wait_messages(mx, 1)
    wait_gone(g, qid)
    (sent,) = log_lines(g, qid, "status=sent")
    assert int(re.search(r"attempt=(\d+)", sent).group(1)) == int(attempts) + 1


def test_queue_only_then_reload_delivers(gateway, dnsmasq, peers):
    mx = peers(host="127.0.0.36", port=25)
    dns = dns_for(dnsmasq, "--mx-host=q.test,mx.q.test,10", "--host-record=mx.q.test,127.0.0.36")
    g = start(gateway, dns, delivery="queue-only yes")
    qid = submit(g, "s@ours.test", ["r@q.test"])
    time.sleep(0.5)
    assert mx.conns == [] and qid in g.queue_files()
    assert "event=queue-only" in g.log()
    g.write_config(delivery="retry 1s")
    g.hup()
    wait_messages(mx, 1)
    wait_gone(g, qid)


# ---- Crash during load ----

def test_kill9_during_load_delivers_every_accepted_message(gateway, dnsmasq, peers):
    """2,000 messages over 4 connections while gate26 delivers them; kill -9
    part way; after a restart every message that got its 250 reaches the MX.
    Duplicates can only be deliveries in flight at the kill (at most
    max-deliveries of them); their count is printed."""
    import socket
    import threading

    sink = peers(host="127.0.0.37", port=25)
    dns = dns_for(dnsmasq, "--mx-host=load.test,mx.load.test,10",
                  "--host-record=mx.load.test,127.0.0.37")
    g = start(gateway, dns, delivery="retry 1s\n max-deliveries 20")
    accepted = set()
    lock = threading.Lock()
    stop = threading.Event()

    def client(k):
        try:
            r = Raw(g.port("internal"), timeout=5)
            r.expect(220)
            r.send(b"EHLO load.client\r\n")
            want(r, 250, None)
            for i in range(k * 500, k * 500 + 500):
                if stop.is_set():
                    break
                r.send(b"MAIL FROM:<s@ours.test>\r\nRCPT TO:<r@load.test>\r\nDATA\r\n")
                want(r, 250, "2.1.0")
                want(r, 250, "2.1.5")
                want(r, 354, None)
                r.send(BODY % b"load%d" % i + b".\r\n")
                queued_id(r)
                with lock:
                    accepted.add(i)
        except (OSError, AssertionError, socket.timeout):
            pass  # the kill

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: len(accepted) >= 800 or not any(t.is_alive() for t in threads), 120,
             "800 accepted messages")
    g.kill9()
    stop.set()
    for t in threads:
        t.join(30)
    with lock:
        acked = set(accepted)
    assert len(acked) >= 800
    g.start()

    def tags():
        out = []
        for c in sink.messages():
            m = re.search(rb"Message-ID: <load(\d+)@test>", c.data)
            out.append(int(m.group(1)))
        return out

    wait_for(lambda: acked <= set(tags()), 180, "every accepted message at the MX")
    wait_for(lambda: g.queue_files() == [], 60, "an empty queue")
    got = tags()
    duplicates = len(got) - len(set(got))
    print(f"\nkill -9 under load: {len(acked)} accepted, {len(set(got))} delivered, "
          f"{duplicates} duplicate(s)")
    assert duplicates <= 20


def test_relay_host_smarthost_for_domains_without_relay(gateway, dnsmasq, peers):
    smart = peers()
    inside = peers()
    dns = dns_for(dnsmasq)  # no MX records at all: only the routes can work
    g = start(gateway, dns, delivery=f"retry 1s\n relay-host smtp://[127.0.0.1]:{smart.port}",
              domains={"ours.test": f"smtp://127.0.0.1:{inside.port}"})
    a = submit(g, "s@ours.test", ["x@anywhere.test"], tag="smart")
    b = submit(g, "s@far.test", ["y@ours.test"], tag="ours")
    (conn,) = wait_messages(smart, 1)
    assert conn.accepted == ["x@anywhere.test"]
    (conn,) = wait_messages(inside, 1)
    assert conn.accepted == ["y@ours.test"]  # the domain's own relay comes first
    wait_gone(g, a)
    wait_gone(g, b)


def test_max_per_destination(gateway, dnsmasq, peers):
    """Five messages to one domain whose server never answers MAIL: only
    max-per-destination (2) connections at once."""
    mx = peers(host="127.0.0.38", port=25, hang_at="MAIL")
    dns = dns_for(dnsmasq, "--mx-host=slow.test,mx.slow.test,10",
                  "--host-record=mx.slow.test,127.0.0.38")
    g = start(gateway, dns, delivery="retry 1h\n max-per-destination 2\n timeout-command 3s")
    ids = [submit(g, "s@ours.test", [f"r{i}@slow.test"], tag=f"c{i}") for i in range(5)]
    wait_for(lambda: len(mx.conns) >= 2, 10, "two connections")
    time.sleep(1)
    assert len(mx.conns) == 2
    # Each times out (4.4.2), and the next ones get their turn.
    wait_for(lambda: all(log_lines(g, i, "status=deferred") for i in ids), 30, "five deferrals")
    assert len(mx.conns) == 5


@pytest.mark.parametrize("reuse", ["2s", "off"])
def test_messages_to_one_mx_share_a_connection(gateway, dnsmasq, peers, reuse):
    """delivery { connection-reuse }: the next message to the same MX goes on
    the connection the last one used, while it is idle for less than the
    setting; with off, each has its own."""
    mx = peers(host="127.0.0.31", port=25)
    dns = dns_for(dnsmasq, "--mx-host=reuse.test,mx.reuse.test,10",
                  "--host-record=mx.reuse.test,127.0.0.31")
    g = start(gateway, dns, delivery=f"retry 1s\n connection-reuse {reuse}")
    for i in range(4):
        qid = submit(g, "s@ours.test", [f"r{i}@reuse.test"], tag=f"reuse{i}")
        wait_messages(mx, i + 1)
        wait_gone(g, qid)
    assert [m.accepted for m in mx.messages()] == [[f"r{i}@reuse.test"] for i in range(4)]
    assert len(mx.conns) == (1 if reuse == "2s" else 4)
    assert_serving(g, "internal")


def test_tls_policies_per_destination(gateway, dnsmasq, peers, tmp_path):
    """delivery { tls-policy DOMAIN verify } with tls { ca-file }: a verified
    MX gets the mail and the log line says so; a verify domain whose MX has
    a self-signed certificate is deferred with 4.7.5; by default (may) TLS
    is used when offered, unverified."""
    from certs import CA, self_signed
    ca = CA(tmp_path / "pki")
    good = peers(host="127.0.0.33", port=25, tls=ca.issue("mx.bank.test"))
    bad = peers(host="127.0.0.34", port=25, tls=self_signed(tmp_path / "ss", "mx.fake.test"))
    dns = dns_for(dnsmasq, "--mx-host=bank.test,mx.bank.test,10",
                  "--host-record=mx.bank.test,127.0.0.33",
                  "--mx-host=fake.test,mx.fake.test,10",
                  "--host-record=mx.fake.test,127.0.0.34",
                  "--mx-host=any.test,mx.fake.test,10")
    g = gateway(doors=INTERNAL, domains={}, tls=f"    ca-file {ca.pem}",
                delivery="retry 1h\n tls-policy bank.test verify\n tls-policy fake.test verify",
                extra=f"resolver {dns.server}\n")
    a = submit(g, "s@ours.test", ["r@bank.test"], tag="bank")
    b = submit(g, "s@ours.test", ["r@fake.test"], tag="fake")
    c = submit(g, "s@ours.test", ["r@any.test"], tag="any")
    wait_messages(good, 1)
    wait_gone(g, a)
    wait_for(lambda: log_lines(g, b, "status=deferred"), what="the verify failure")
    wait_gone(g, c)  # may: the self-signed certificate does not stop it
    (line,) = log_lines(g, a, "status=sent")
    assert 'tls="TLSv1.3 ' in line and line.endswith(' verified"')
    (line,) = log_lines(g, b, "status=deferred")
    assert "dsn=4.7.5" in line and "certificate not verified" in line
    (line,) = log_lines(g, c, "status=sent")
    assert line.endswith(' unverified"')
    assert [m.accepted for m in bad.messages()] == [["r@any.test"]]
