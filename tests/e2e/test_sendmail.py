# SPDX-License-Identifier: MIT
"""gate26 sendmail, the local submission socket and the maildrop
(docs/packaging.md, "sendmail, the local socket and the maildrop").

The real daemon with its own `local-submit { socket maildrop }` paths in the
test's directory relays to an aiosmtpd sink (smtp_peer.Peer) through
`delivery { relay-host }`; messages are handed over by `gate26 sendmail`
(and by the binary alone, gate26-sendmail, and by a link named sendmail),
by bsd-mailx's `mail` through a MAILRC of the test whose `sendmail` is a
wrapper naming the test's configuration (never /usr/sbin/sendmail), and by
a PHP-style `sendmail -t -i`. Each bad input of issue 16 has a test: no
recipients, -t without To/Cc/Bcc, bare LF, 8-bit, over the size limit, the
last line without LF, unknown and ignored options, the daemon down (the
maildrop, then delivery after the start), the maildrop full (a tiny tmpfs
in a mount namespace of the test) or not writable, the spool full. Runs as
`nobody` (setpriv) show that the submitter is the socket's uid, or the
maildrop file's owner, never what the record says.
"""
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from checkers import checks_block, dkim_block, dkim_dnsfunc, dkimpy_verify_all, keygen
from conftest import BIN, GATE26_USER, free_port, wait_for
from test_relay import INTERNAL, peers  # noqa: F401

SENDMAIL_BIN = str(Path(BIN).parent / "sendmail" / "gate26-sendmail")
ASAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
NOBODY = pwd.getpwnam("nobody")
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (setpriv, mounts)")


def gw(gateway, tmp_path, sink, start=True, env=None, size=None, extra=""):
    """A gateway with the internal door relaying everything to sink, and its own
    local-submit paths under tmp_path."""
    run = tmp_path / "run"
    drop = tmp_path / "maildrop"
    doors = {"internal": dict(INTERNAL["internal"])}
    if size is not None:
        doors["internal"]["max-message-size"] = size
    local = f"local-submit {{\n    socket {run}/submit\n    maildrop {drop}\n}}\n"
    g = gateway(doors=doors, domains={}, env=env, start=start,
                delivery=f"retry 1s\n relay-host smtp://127.0.0.1:{sink.port}",
                extra=f"resolver 127.0.0.1:{free_port()}\n{local}{extra}")
    g.socket = run / "submit"
    g.maildrop = drop
    return g


def sendmail(g, args, data, user=None, binary=None, argv0=None, wrap=None):
    """Runs gate26 sendmail -C the gateway's configuration; returns (rc, stderr)."""
    cmd = [binary or BIN] + ([] if binary else ["sendmail"]) + ["-C", str(g.conf)] + args
    if argv0 is not None:
        cmd = [argv0, "-C", str(g.conf)] + args
    if user is not None:
        cmd = ["setpriv", "--reuid", str(user.pw_uid), "--regid", str(user.pw_gid),
               "--clear-groups"] + cmd
    if wrap is not None:
        cmd = wrap + cmd
    env = {"PATH": "/usr/bin:/bin", **ASAN_ENV}
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=60, env=env)
    err = p.stderr.decode(errors="replace")
    assert "AddressSanitizer" not in err and "runtime error" not in err, err
    return p.returncode, err


def wait_message(sink, n=1, timeout=30):
    wait_for(lambda: len(sink.messages()) >= n, timeout, f"{n} message(s) at the sink")
    return sink.messages()


def local_lines(g, status="queued"):
    return [line for line in g.log().splitlines()
            if "event=local-submit, uid=" in line and f"status={status}" in line]


# ---- The ways in: sendmail, a link named sendmail, the binary alone, mailx, PHP ----

def test_sendmail_to_the_sink_with_the_queue_id(gateway, tmp_path, peers):
    sink = peers()
    g = gw(gateway, tmp_path, sink)
    rc, err = sendmail(g, ["-v", "-f", "cron@gate26.test", "b@far.test"],
                       b"Subject: nightly\n\nall good\n")
    assert rc == 0, err
    assert "queued as " in err
    qid = err.split("queued as ")[1].split()[0]
    (msg,) = wait_message(sink)
    assert msg.mail_from == "cron@gate26.test" and msg.accepted == ["b@far.test"]
    data = msg.data
    assert b"\r\nSubject: nightly\r\n\r\nall good\r\n" in data
    # Added: Received (ours, naming the uid), From, Date, Message-ID.
    assert data.startswith(b"Received: by gate26.test (gate26, from userid 0)")
    for field in (b"\r\nFrom: <cron@gate26.test>\r\n", b"\r\nDate: ", b"\r\nMessage-ID: <"):
        assert field in data
    (line,) = local_lines(g)
    assert f"{qid}: event=local-submit, " in line
    assert "uid=0, user=root, from=<cron@gate26.test>" in line and "via=socket" in line
    assert oct(g.socket.stat().st_mode & 0o777) == "0o666"
    assert oct(g.socket.parent.stat().st_mode & 0o777) == "0o755"


def test_link_named_sendmail_and_the_binary_alone(gateway, tmp_path, peers):
    """argv[0] `sendmail` runs the command; gate26-sendmail is the same command alone."""
    sink = peers()
    g = gw(gateway, tmp_path, sink)
    link = tmp_path / "bin" / "sendmail"
    link.parent.mkdir()
    link.symlink_to(BIN)
    rc, err = sendmail(g, ["a@far.test"], b"Subject: link\n\nx\n", argv0=str(link))
    assert rc == 0, err
    rc, err = sendmail(g, ["b@far.test"], b"Subject: alone\n\nx\n", binary=SENDMAIL_BIN)
    assert rc == 0, err
    msgs = wait_message(sink, 2)
    assert sorted(m.accepted[0] for m in msgs) == ["a@far.test", "b@far.test"]


def test_mailx_through_our_sendmail(gateway, tmp_path, peers):
    """bsd-mailx's mail, its sendmail variable set in a MAILRC of the test."""
    if shutil.which("mail") is None:
        pytest.skip("bsd-mailx is not installed (tools/install-deps)")
    sink = peers()
    g = gw(gateway, tmp_path, sink)
    wrapper = tmp_path / "our-sendmail"
    wrapper.write_text(f"#!/bin/sh\nexec {BIN} sendmail -C {g.conf} \"$@\"\n")
    wrapper.chmod(0o755)
    rc = tmp_path / "mailrc"
    rc.write_text(f"set sendmail={wrapper}\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MAILRC": str(rc), **ASAN_ENV}
    p = subprocess.run(["mail", "-s", "from mailx", "-c", "c@far.test", "b@far.test"],
                       input=b"hello from mailx\n", capture_output=True, timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    (msg,) = wait_message(sink)
    assert sorted(msg.accepted) == ["b@far.test", "c@far.test"]
    assert b"Subject: from mailx\r\n" in msg.data and b"hello from mailx\r\n" in msg.data
    assert msg.mail_from == "root@gate26.test"


def test_php_style_t_i_with_bcc_removed(gateway, tmp_path, peers):
    """PHP's mail(): sendmail -t -i; To, Cc and Bcc are the recipients, Bcc is removed,
    a lone '.' is a line of the message."""
    sink = peers()
    g = gw(gateway, tmp_path, sink)
    msg = (b"To: \"Bee\" <b@far.test>, c@far.test\n"
           b"Cc: Group: d@far.test;\n"
           b"Bcc: hidden@far.test\n"
           b"Subject: php\n"
           b"From: app@gate26.test\n"
           b"\n"
           b"line\n.\nafter the dot\n")
    rc, err = sendmail(g, ["-t", "-i", "-f", "app@gate26.test"], msg)
    assert rc == 0, err
    (m,) = wait_message(sink)
    assert sorted(m.accepted) == ["b@far.test", "c@far.test", "d@far.test", "hidden@far.test"]
    assert b"Bcc" not in m.data and b"hidden" not in m.data
    assert b"\r\nline\r\n..\r\n" not in m.data  # the peer undid the stuffing
    assert b"\r\nline\r\n.\r\nafter the dot\r\n" in m.data
    assert m.data.count(b"From: ") == 1  # the message's own From is kept, none added


def test_cron_style_call(gateway, tmp_path, peers):
    """Debian cron's call: sendmail -FCronDaemon -i -B8BITMIME -oem USER (a bare local name,
    qualified with our hostname; the full name in the From we add; -B and -oem ignored)."""
    sink = peers()
    g = gw(gateway, tmp_path, sink)
    rc, err = sendmail(g, ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"],
                       b"Subject: Cron <root@host> run-parts /etc/cron.daily\n\noutput\n.\nmore\n")
    assert rc == 0, err
    (m,) = wait_message(sink)
    assert m.accepted == ["root@gate26.test"] and m.mail_from == "root@gate26.test"
    assert b"\r\nFrom: \"CronDaemon\" <root@gate26.test>\r\n" in m.data, m.data
    assert b"\r\noutput\r\n.\r\nmore\r\n" in m.data  # -i: the lone dot is a line


def test_without_i_a_lone_dot_ends_the_message(gateway, tmp_path, peers):
    sink = peers()
    g = gw(gateway, tmp_path, sink)
    rc, err = sendmail(g, ["b@far.test"], b"Subject: dot\n\nkept\n.\nnot sent\n")
    assert rc == 0, err
    (m,) = wait_message(sink)
    assert b"kept\r\n" in m.data and b"not sent" not in m.data


def test_bs_speaks_smtp_on_stdio(gateway, tmp_path, peers):
    """sendmail -bs: SMTP on standard input and output, each message handed over before its
    250; a bare local name is qualified; out-of-order commands get their 503."""
    sink = peers()
    g = gw(gateway, tmp_path, sink)
    script = (b"EHLO app.test\r\n"
              b"RCPT TO:<b@far.test>\r\n"
              b"MAIL FROM:<app@gate26.test> BODY=8BITMIME\r\n"
              b"RCPT TO:<b@far.test>\r\n"
              b"RCPT TO:<root>\r\n"
              b"RCPT TO:<b@@far.test>\r\n"
              b"DATA\r\n"
              b"Subject: bs\r\n\r\n..stuffed\nplain\r\n.\r\n"
              b"FROB\r\n"
              b"QUIT\r\n")
    rc, out = sendmail_out(g, ["-bs"], script)
    assert rc == 0
    codes = [line[:3] for line in out.split("\r\n") if line[:3].isdigit() and line[3:4] == " "]
    assert codes == ["220", "250", "503", "250", "250", "250", "501", "354", "250", "502",
                     "221"], out
    assert "250 2.0.0 Ok: queued as " in out
    msgs = wait_message(sink, 2)  # one transaction per destination domain
    assert sorted(a for m in msgs for a in m.accepted) == ["b@far.test", "root@gate26.test"]
    for m in msgs:
        assert m.mail_from == "app@gate26.test"
        assert b"\r\n.stuffed\r\nplain\r\n" in m.data and b"Date: " in m.data


def test_bs_input_ending_inside_data_queues_nothing(gateway, tmp_path, peers):
    g = gw(gateway, tmp_path, peers())
    rc, out = sendmail_out(g, ["-bs"], b"HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<b@far.test>\r\n"
                                       b"DATA\r\nSubject: cut\r\n\r\nno end")
    assert rc == 0 and "354 " in out and "queued" not in out
    assert local_lines(g) == [] and g.queue_files() == []


def sendmail_out(g, args, data):
    cmd = [BIN, "sendmail", "-C", str(g.conf)] + args
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", **ASAN_ENV})
    err = p.stderr.decode(errors="replace")
    assert "AddressSanitizer" not in err and "runtime error" not in err, err
    return p.returncode, p.stdout.decode(errors="replace")


def test_checks_internal_signs_local_mail(gateway, tmp_path, peers):
    """Local mail is the internal door's: its `checks internal { dkim sign }` signs it."""
    sink = peers()
    keys = tmp_path / "keys"
    keys.mkdir()
    if GATE26_USER is not None:
        from checkers import reachable
        reachable(keys)
    key = keygen(keys, "sign.test", "s2026")
    g = gw(gateway, tmp_path, sink,
           extra=checks_block("internal", "dkim sign") + dkim_block("sign.test", key))
    rc, err = sendmail(g, ["-f", "alice@sign.test", "b@far.test"],
                       b"From: Alice <alice@sign.test>\nSubject: signed\n\nbody\n")
    assert rc == 0, err
    (m,) = wait_message(sink)
    records = {f"{key.selector}._domainkey.sign.test": key.record}
    assert dkimpy_verify_all(m.data, dkim_dnsfunc(records)) == [
        ("sign.test", key.selector, "rsa-sha256", True)]


# ---- Who sent it: the socket's uid, the file's owner ----

@root_only
def test_nobody_is_named_by_the_socket_not_the_record(gateway, tmp_path, peers):
    sink = peers()
    g = gw(gateway, tmp_path, sink)
    rc, err = sendmail(g, ["-f", "root@gate26.test", "b@far.test"], b"Subject: who\n\nx\n",
                       user=NOBODY)
    assert rc == 0, err
    (m,) = wait_message(sink)
    assert m.mail_from == "root@gate26.test"  # -f is the envelope, as sendmail's
    (line,) = local_lines(g)
    assert f"uid={NOBODY.pw_uid}, user=nobody, from=<root@gate26.test>" in line
    assert b"(gate26, from userid %d)" % NOBODY.pw_uid in m.data
    # Without -f the sender is the caller's name at the hostname.
    rc, err = sendmail(g, ["c@far.test"], b"Subject: who2\n\nx\n", user=NOBODY)
    assert rc == 0, err
    msgs = wait_message(sink, 2)
    assert sorted(x.mail_from for x in msgs) == ["nobody@gate26.test", "root@gate26.test"]


@root_only
def test_set_group_id_binary_writes_the_maildrop_as_the_caller(gateway, tmp_path, peers):
    """gate26-sendmail installed set-group-id (here a copy of the test, group `mail`, over a
    maildrop 1730 gate26:mail, as the package makes it with gate26drop) lets nobody write the
    maildrop; the file is nobody's, the daemon names nobody. The configuration is the default
    path (-C drops the group): /etc/gate26/gate26.conf in an overlay of /etc that only this
    run's mount namespace sees. The environment (USER, LOGNAME) is not believed."""
    sink = peers()
    g = gw(gateway, tmp_path, sink, start=False)
    mail_gid = grp_gid("mail")
    g.maildrop.mkdir(mode=0o1730)
    os.chown(g.maildrop, pwd.getpwnam(GATE26_USER).pw_uid, mail_gid)
    g.maildrop.chmod(0o1730)
    binary = tmp_path / "sgid-sendmail"
    shutil.copy(SENDMAIL_BIN, binary)
    os.chown(binary, 0, mail_gid)
    binary.chmod(0o2755)
    upper, work = tmp_path / "etc-upper", tmp_path / "etc-work"
    upper.mkdir()
    work.mkdir()
    script = (f"mount -t overlay overlay -o lowerdir=/etc,upperdir={upper},workdir={work} /etc"
              f" && mkdir -p /etc/gate26 && cp {g.conf} /etc/gate26/gate26.conf"
              f" && exec setpriv --reuid {NOBODY.pw_uid} --regid {NOBODY.pw_gid} --clear-groups"
              f" env USER=root LOGNAME=root {binary} -v b@far.test")
    cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
    p = subprocess.run(cmd, input=b"Subject: sgid\n\nfrom nobody\n", capture_output=True,
                       timeout=60, env={"PATH": "/usr/bin:/bin", **ASAN_ENV})
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, err
    assert "left in the maildrop" in err
    (f,) = [x for x in g.maildrop.iterdir() if x.name.startswith("m.")]
    st = f.stat()
    assert st.st_uid == NOBODY.pw_uid and oct(st.st_mode & 0o777) == "0o604"
    # Another configuration (-C) drops the group at once: the maildrop is closed to nobody.
    rc, err = sendmail(g, ["b@far.test"], b"Subject: x\n\nx\n", user=NOBODY, binary=str(binary))
    assert rc == 75 and "Permission denied" in err, err
    g.start()
    (m,) = wait_message(sink)
    assert m.mail_from == "nobody@gate26.test"
    (line,) = local_lines(g)
    assert f"uid={NOBODY.pw_uid}, user=nobody, from=<nobody@gate26.test>" in line
    assert "via=maildrop" in line
    wait_for(lambda: not f.exists(), 10, "the maildrop file to go")


def test_local_mail_is_tracked_and_counted(gateway, tmp_path, peers):
    """Local mail has its arrival in tracking (door "local", the user in the detail) and
    is counted in gate26_local_submissions_total by way in and result."""
    import json
    import socket as s
    from checkers import metric, metrics_block, scrape
    sink = peers()
    mport = free_port()
    g = gw(gateway, tmp_path, sink, size="2K", extra=metrics_block(mport))
    rc, err = sendmail(g, ["-v", "-f", "cron@gate26.test", "b@far.test"],
                       b"Subject: nightly report\nMessage-ID: <n1@gate26.test>\n\nall good\n")
    assert rc == 0, err
    qid = err.split("queued as ")[1].split()[0]
    c = s.socket(s.AF_UNIX, s.SOCK_STREAM)  # refused by the daemon: over its limit
    c.settimeout(10)
    c.connect(str(g.socket))
    c.sendall(b"gate26-submit 1\nfrom <a@gate26.test>\nrcpt <b@far.test>\nsize 999999\n\n")
    assert c.recv(1000).startswith(b"fail ")
    c.close()
    g.stop()
    rc, err = sendmail(g, ["-f", "late@gate26.test", "b@far.test"], b"Subject: later\n\nx\n")
    assert rc == 0, err
    g.start()
    wait_message(sink, 2)
    samples = scrape(mport)
    # The first daemon's counts went with it: the second saw the maildrop file only.
    assert metric(samples, "gate26_local_submissions_total", via="maildrop", result="queued") == 1
    assert metric(samples, "gate26_local_submissions_total", via="socket", result="queued") == 0

    def tracked(sender):
        p = subprocess.run([BIN, "track", "-c", str(g.conf), "--json", "--from", sender],
                           capture_output=True, text=True, timeout=60, env=g.env)
        assert p.returncode == 0, p.stderr
        ms = json.loads(p.stdout)
        return ms[0] if ms and any(e["kind"] == "attempt" for e in ms[0]["events"]) else None
    wait_for(lambda: tracked("cron@gate26.test") and tracked("late@gate26.test"), 30,
             "both messages in tracking with their delivery")
    m = tracked("cron@gate26.test")
    assert m["qid"] == qid and m["door"] == "local" and m["subject"] == "nightly report"
    assert m["message_id"] == "<n1@gate26.test>"
    assert m["events"][0]["kind"] == "queued"
    assert "via=socket, uid=0, user=root" in m["events"][0]["detail"]
    late = tracked("late@gate26.test")
    assert late["door"] == "local" and "via=maildrop" in late["events"][0]["detail"]


def test_local_submissions_metric_counts_each_result(gateway, tmp_path, peers):
    import socket as s
    from checkers import metric, metrics_block, scrape
    sink = peers()
    mport = free_port()
    g = gw(gateway, tmp_path, sink, size="2K", extra=metrics_block(mport))
    rc, err = sendmail(g, ["b@far.test"], b"Subject: one\n\nx\n")
    assert rc == 0, err
    c = s.socket(s.AF_UNIX, s.SOCK_STREAM)
    c.settimeout(10)
    c.connect(str(g.socket))
    c.sendall(b"gate26-submit 1\nfrom <a@gate26.test>\nrcpt <b@far.test>\nsize 999999\n\n")
    assert c.recv(1000).startswith(b"fail ")
    c.close()
    samples = scrape(mport)
    assert metric(samples, "gate26_local_submissions_total", via="socket", result="queued") == 1
    assert metric(samples, "gate26_local_submissions_total", via="socket", result="refused") == 1
    assert metric(samples, "gate26_local_submissions_total", via="maildrop", result="queued") == 0


def grp_gid(name):
    import grp
    return grp.getgrnam(name).gr_gid


# ---- The daemon down: the maildrop ----

def test_daemon_down_message_waits_in_the_maildrop(gateway, tmp_path, peers):
    sink = peers()
    g = gw(gateway, tmp_path, sink)
    g.stop()
    assert not g.socket.exists()
    rc, err = sendmail(g, ["-v", "b@far.test"], b"Subject: later\n\nwaits\n")
    assert rc == 0, err
    assert "left in the maildrop" in err
    files = [p.name for p in g.maildrop.iterdir() if p.name.startswith("m.")]
    assert len(files) == 1
    assert (g.maildrop / files[0]).read_bytes().startswith(b"gate26-submit 1\nfrom <root@")
    assert sink.messages() == []
    g.start()
    (m,) = wait_message(sink)
    assert b"waits\r\n" in m.data
    wait_for(lambda: not (g.maildrop / files[0]).exists(), 10, "the maildrop file to go")
    (line,) = local_lines(g)
    assert "uid=0, user=root" in line and "via=maildrop" in line


def test_daemon_down_and_no_maildrop_is_tempfail(gateway, tmp_path, peers):
    g = gw(gateway, tmp_path, peers(), start=False)  # nothing made: no socket, no maildrop
    rc, err = sendmail(g, ["b@far.test"], b"Subject: x\n\nx\n")
    assert rc == 75, err
    assert "the daemon does not answer" in err and "No such file or directory" in err


@root_only
def test_maildrop_not_writable_is_tempfail(gateway, tmp_path, peers):
    """nobody without the maildrop's group (the set-group-id binary is not installed here)."""
    g = gw(gateway, tmp_path, peers())
    g.stop()
    rc, err = sendmail(g, ["b@far.test"], b"Subject: x\n\nx\n", user=NOBODY)
    assert rc == 75, err
    assert "maildrop" in err and "Permission denied" in err
    assert [p.name for p in g.maildrop.iterdir() if p.name != "bad"] == []


@root_only
def test_maildrop_full_is_tempfail(gateway, tmp_path, peers):
    """The maildrop on a 16 KiB tmpfs in a mount namespace of this run only."""
    g = gw(gateway, tmp_path, peers())
    g.stop()
    body = b"Subject: big\n\n" + (b"x" * 70 + b"\n") * 1000
    wrap = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f"mount -t tmpfs -o size=16k,mode=1733 tmpfs {g.maildrop} && exec \"$@\"", "sh"]
    rc, err = sendmail(g, ["b@far.test"], body, wrap=wrap)
    assert rc == 75, err
    assert "No space left on device" in err and "the maildrop is full" in err
    assert [p.name for p in g.maildrop.iterdir() if p.name != "bad"] == []


def test_bad_maildrop_files_go_to_bad(gateway, tmp_path, peers):
    from checkers import metric, metrics_block, scrape
    sink = peers()
    mport = free_port()
    g = gw(gateway, tmp_path, sink, extra=metrics_block(mport))
    g.stop()
    (g.maildrop / "m.junk").write_bytes(b"not a record\n")
    (g.maildrop / "m.short").write_bytes(
        b"gate26-submit 1\nfrom <a@gate26.test>\nrcpt <b@far.test>\nsize 100\n\nSubject: x\r\n")
    (g.maildrop / "m.link").symlink_to("/etc/passwd")
    os.mkfifo(g.maildrop / "m.fifo")
    (g.maildrop / "t.writing").write_bytes(b"gate26-submit 1\n")  # still being written: left
    (g.maildrop / 'm.a"b\nc').write_bytes(b"junk\n")  # a name is quoted in the log
    g.start()
    for name in ("m.junk", "m.short", "m.link", "m.fifo", 'm.a"b\nc'):
        wait_for(lambda: (g.maildrop / "bad" / name).exists() or
                 (g.maildrop / "bad" / name).is_symlink(), 15, f"{name} in bad/")
    log = g.log()
    assert "file=\"m.junk\", status=bad, reason=\"line 1: expected 'gate26-submit 1'\"" in log
    assert "file=\"m.short\", status=bad, reason=\"size 100 but 12 octets of content\"" in log
    assert "file=\"m.link\", status=bad, reason=\"a symbolic link\"" in log
    assert "file=\"m.fifo\", status=bad, reason=\"not a regular file\"" in log
    assert 'file="m.a\\"b\\x0ac", status=bad' in log
    assert (g.maildrop / "t.writing").exists()
    assert sink.messages() == []
    samples = scrape(mport)
    assert metric(samples, "gate26_local_submissions_total", via="maildrop", result="refused") == 5


# ---- Bad input ----

@pytest.mark.parametrize("args, data, text", [
    ([], b"Subject: x\n\nx\n", "no recipients (give them as arguments, or use -t)"),
    (["-t"], b"Subject: x\nFrom: a@b.test\n\nx\n",
     "no recipients (none as arguments, no To, Cc or Bcc header)"),
])
def test_no_recipients_is_usage(gateway, tmp_path, peers, args, data, text):
    sink = peers()
    g = gw(gateway, tmp_path, sink)
    rc, err = sendmail(g, args, data)
    assert rc == 64 and text in err, err
    assert local_lines(g) == [] and list(g.maildrop.glob("m.*")) == []


def test_bare_lf_crlf_and_a_last_line_without_lf(gateway, tmp_path, peers):
    """Unix lines, CR LF lines and a last line without its LF all arrive as CR LF lines."""
    sink = peers()
    g = gw(gateway, tmp_path, sink)
    rc, err = sendmail(g, ["b@far.test"], b"Subject: lf\n\none\ntwo\r\nthree")
    assert rc == 0, err
    (m,) = wait_message(sink)
    assert m.data.endswith(b"\r\n\r\none\r\ntwo\r\nthree\r\n")
    assert b"\n" not in m.data.replace(b"\r\n", b"")


def test_bare_cr_is_a_data_error(gateway, tmp_path, peers):
    g = gw(gateway, tmp_path, peers())
    rc, err = sendmail(g, ["b@far.test"], b"Subject: cr\n\na\rb\n")
    assert rc == 65 and "bare CR" in err, err
    assert local_lines(g) == []


def test_eight_bit_message_is_8bitmime(gateway, tmp_path, peers):
    sink = peers()
    g = gw(gateway, tmp_path, sink)
    rc, err = sendmail(g, ["b@far.test"], "Subject: été\n\nça marche\n".encode())
    assert rc == 0, err
    (m,) = wait_message(sink)
    assert "ça marche\r\n".encode() in m.data
    assert any(p.upper() == "BODY=8BITMIME" for p in m.mail_params)


def test_over_the_size_limit_is_refused_and_nothing_queued(gateway, tmp_path, peers):
    g = gw(gateway, tmp_path, peers(), size="2K")
    rc, err = sendmail(g, ["b@far.test"], b"Subject: big\n\n" + (b"y" * 70 + b"\n") * 40)
    assert rc == 65, err
    assert "larger than the limit of 2048 octets" in err
    assert g.queue_files() == [] and list(g.maildrop.glob("m.*")) == []


def test_daemon_refuses_a_record_over_its_limit(gateway, tmp_path, peers):
    """The daemon checks the limit itself: a record that claims more gets "fail", before
    its content is read."""
    import socket as s
    g = gw(gateway, tmp_path, peers(), size="2K")
    c = s.socket(s.AF_UNIX, s.SOCK_STREAM)
    c.settimeout(10)
    c.connect(str(g.socket))
    c.sendall(b"gate26-submit 1\nfrom <a@gate26.test>\nrcpt <b@far.test>\nsize 999999\n\n")
    answer = c.recv(1000)
    c.close()
    assert answer == b"fail message size 999999 exceeds the limit of 2048\n"
    c = s.socket(s.AF_UNIX, s.SOCK_STREAM)
    c.settimeout(10)
    c.connect(str(g.socket))
    c.sendall(b"gate26-submit 1\nfrom <a@gate26.test>\nrcpt <b>\nsize 3\n\nx\r\n")
    answer = c.recv(1000)
    c.close()
    assert answer.startswith(b"fail line 3: expected 'rcpt <ADDRESS>'")
    assert g.queue_files() == []


@pytest.mark.parametrize("opt", [["-oem"], ["-odi"], ["-odb"], ["-oQ/var/spool"],
                                 ["-B", "8BITMIME"], ["-h", "20"], ["-N", "never"], ["-R", "hdrs"],
                                 ["-V", "envid"], ["-X", "/tmp/log"]])
def test_ignored_options_warn_and_send(gateway, tmp_path, peers, opt):
    sink = peers()
    g = gw(gateway, tmp_path, sink)
    rc, err = sendmail(g, opt + ["b@far.test"], b"Subject: opt\n\nx\n")
    assert rc == 0, err
    assert "warning: option" in err and "is ignored" in err
    wait_message(sink)


@pytest.mark.parametrize("opt", [["-q"], ["-bp"], ["-bi"], ["-x"], ["-t", "-Q"]])
def test_unknown_options_are_usage(gateway, tmp_path, peers, opt):
    g = gw(gateway, tmp_path, peers())
    rc, err = sendmail(g, opt + ["b@far.test"], b"Subject: x\n\nx\n")
    assert rc == 64, err
    assert "usage: sendmail" in err
    assert local_lines(g) == []


def test_option_without_its_value_is_usage(gateway, tmp_path, peers):
    g = gw(gateway, tmp_path, peers())
    rc, err = sendmail(g, ["-f"], b"Subject: x\n\nx\n")
    assert rc == 64 and "a value must follow '-f'" in err, err


def test_bad_recipient_is_a_data_error(gateway, tmp_path, peers):
    g = gw(gateway, tmp_path, peers())
    rc, err = sendmail(g, ["b@@far.test"], b"Subject: x\n\nx\n")
    assert rc == 65 and "recipient 'b@@far.test': not an address" in err, err


def test_spool_full_is_tempfail_with_the_reason(gateway, tmp_path, peers):
    g = gw(gateway, tmp_path, peers(), start=False, env={"GATE26_FAULT": "fsync:1+:ENOSPC"})
    for sub in ("", "tmp", "queue", "quarantine"):
        (g.spool / sub).mkdir(mode=0o700, exist_ok=True)
    g.start()
    rc, err = sendmail(g, ["b@far.test"], b"Subject: x\n\nx\n")
    assert rc == 75, err
    assert "not queued: spool: No space left on device" in err
    assert g.queue_files() == [] and list(g.maildrop.glob("m.*")) == []
    assert "status=deferred, reason=\"spool: No space left on device\"" in g.log()


def test_local_submit_off(gateway, tmp_path, peers):
    g = gw(gateway, tmp_path, peers(), extra="")
    g.stop()
    g.extra = g.extra.replace("local-submit {\n", "local-submit {\n    enabled no\n")
    g.write_config()
    g.start()
    assert not g.socket.exists()
    rc, err = sendmail(g, ["b@far.test"], b"Subject: x\n\nx\n")
    assert rc == 75 and "local-submit is off" in err, err
