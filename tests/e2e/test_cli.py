# SPDX-License-Identifier: MIT
"""The gate26 binary as an admin uses it: the subcommands, their exit codes
and what they print; configtest on good files (the documented examples and
the development configuration) and on a table of bad ones, each with the
exact FILE:LINE: of the message; serve refusing a bad file or a taken port."""
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import (BIN, GATE26_USER, ROOT, SANITIZER_MARKS, config_text, free_port,
                      give_key, wait_for)

DESIGN_MD = Path("/work/shared/DESIGN.md")
CONFIG_MD = ROOT / "docs" / "config.md"
DEV_CONF = ROOT / "etc" / "gate26.dev.conf"

# Every listen key, in the order the "unknown key" message lists them (docs/config.md).
LISTEN_KEYS = ("address, allow, tls, auth, max-message-size, max-recipients, max-errors, "
               "max-sessions, timeout-command, timeout-data, deny, proxy-protocol, "
               "max-sessions-per-client, connection-rate, message-rate, sender-rate, "
               "limits-exempt, scanners")


def run(*args, cwd=None, timeout=20):
    """Runs gate26 with args; returns the CompletedProcess (text, both streams captured).
    subprocess.run kills the child (by its PID) if it outlives the timeout."""
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def refused(port, host="127.0.0.1"):
    """True when nothing accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def line_of(text, needle, nth=1):
    """The 1-based number of the line holding the nth occurrence of needle."""
    seen = 0
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return i
    raise AssertionError(f"{needle!r} (#{nth}) not in config:\n{text}")


def assert_one_error(res, prefix, phrase):
    """configtest/serve failed with exactly one message that starts with prefix."""
    assert res.returncode == 1, f"exit {res.returncode}\nstdout={res.stdout!r}\nstderr={res.stderr!r}"
    assert res.stdout == "", res.stdout
    assert res.stderr.endswith("\n") and res.stderr.count("\n") == 1, \
        f"expected exactly one message line, got {res.stderr!r}"
    assert res.stderr.startswith(prefix), f"expected prefix {prefix!r}, got {res.stderr!r}"
    assert phrase in res.stderr, f"expected {phrase!r} in {res.stderr!r}"


# ---- Subcommands ----

def test_version_prints_name_and_semver():
    res = run("version")
    assert res.returncode == 0
    assert re.fullmatch(r"gate26 \d+\.\d+\.\d+\n", res.stdout), res.stdout
    assert res.stderr == ""


@pytest.mark.parametrize("args", [["help"], [], ["--help"], ["-h"]],
                         ids=["help", "no-arguments", "--help", "-h"])
def test_help_prints_usage(args):
    res = run(*args)
    assert res.returncode == 0
    assert res.stdout.startswith("usage: gate26 COMMAND [OPTIONS]\n")
    for word in ("serve [-c FILE]", "configtest [-c FILE]", "version", "help",
                 "-c, --config FILE", "/etc/gate26/gate26.conf"):
        assert word in res.stdout, word
    assert res.stderr == ""


# What each subcommand's --help (and -h) prints first; `help COMMAND` prints the same.
SUBCOMMAND_USAGE = {
    "serve": "usage: gate26 serve [-c FILE]\n",
    "configtest": "usage: gate26 configtest [-c FILE]\n",
    "passwd": "usage: gate26 passwd [-c CONFFILE] [-f PASSWDFILE] USER\n",
    "check": "usage: gate26 check --local [-c FILE] [--json] [PORT...]\n",
    "version": "usage: gate26 version\n",
    "help": "usage: gate26 help [COMMAND]\n",
    "dkim": "usage: gate26 dkim keygen DOMAIN SELECTOR [--ed25519] [--bits N] [--out FILE]",
}


@pytest.mark.parametrize("cmd", sorted(SUBCOMMAND_USAGE))
@pytest.mark.parametrize("flag", ["--help", "-h", "help"])
def test_every_subcommand_prints_its_usage_on_help(tmp_path, cmd, flag):
    args = ["help", cmd] if flag == "help" else [cmd, flag]
    res = run(*args, cwd=tmp_path)
    assert (res.returncode, res.stderr) == (0, ""), res
    assert res.stdout.startswith(SUBCOMMAND_USAGE[cmd]), res.stdout
    # Help starts nothing and makes nothing.
    assert list(tmp_path.iterdir()) == []


def test_help_of_an_unknown_command_exits_2():
    res = run("help", "frobnicate")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith("gate26: no command 'frobnicate'\n")


@pytest.mark.parametrize("cmd", ["frobnicate", "start", "Serve", "--bogus"])
def test_unknown_command_exits_2_naming_it(cmd):
    res = run(cmd)
    assert res.returncode == 2
    assert res.stderr.startswith(f"gate26: unknown command '{cmd}'\n"), res.stderr
    assert "usage: gate26" in res.stderr
    assert res.stdout == ""


@pytest.mark.parametrize("cmd", ["serve", "configtest"])
def test_extra_argument_exits_2_without_starting(tmp_path, cmd):
    port = free_port()
    conf = tmp_path / "gate26.conf"
    conf.write_text(config_text(tmp_path / "spool", {"internal": port},
                                {"internal": {"allow": "127.0.0.1", "tls": "none"}}, {}))
    res = run(cmd, "-c", str(conf), "extra", timeout=10)
    assert res.returncode == 2, res
    assert "gate26: unexpected argument 'extra'" in res.stderr
    assert "usage: gate26" in res.stderr
    assert res.stdout == ""
    assert not (tmp_path / "spool").exists()


@pytest.mark.parametrize("args", [["-c"], ["-x"], ["--nope"]], ids=["c-without-file", "-x",
                                                                      "--nope"])
def test_bad_option_exits_2(args):
    res = run("configtest", *args)
    assert res.returncode == 2, res
    assert "usage: gate26" in res.stderr
    assert res.stdout == ""


# ---- configtest on good files ----

def good_text(tmp_path):
    return config_text(tmp_path / "spool", {"inbound": free_port(), "internal": free_port()},
                       {"inbound": {"tls": "none"},
                        "internal": {"allow": "127.0.0.0/8 ::1", "tls": "none"}},
                       {"example.test": "smtp://127.0.0.1:2500", "ours.test": None})


def test_configtest_good_file(tmp_path):
    conf = tmp_path / "gate26.conf"
    conf.write_text(good_text(tmp_path))
    for args in (["-c", str(conf)], ["--config", str(conf)], [f"--config={conf}"]):
        res = run("configtest", *args)
        assert res.returncode == 0, res.stderr
        # It says what serve would do with a spool that is not there yet.
        assert res.stdout == (f"{conf}:2: spool '{tmp_path}/spool' does not exist yet: serve "
                              f"will create it\n"
                              f"{conf}: configuration ok (2 listen blocks, 2 domains)\n")
        assert res.stderr == ""
    # configtest starts nothing: no spool is made.
    assert not (tmp_path / "spool").exists()
    (tmp_path / "spool").mkdir()
    res = run("configtest", "-c", str(conf))
    assert (res.returncode, res.stderr) == (0, "")
    assert res.stdout == f"{conf}: configuration ok (2 listen blocks, 2 domains)\n"


def test_configtest_relative_path_is_named_as_given(tmp_path):
    (tmp_path / "gate26.conf").write_text(good_text(tmp_path))
    res = run("configtest", "-c", "gate26.conf", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("gate26.conf:2: spool ")
    assert res.stdout.splitlines()[-1].startswith("gate26.conf: configuration ok")
    (tmp_path / "bad.conf").write_text("hostname a.test\nHostname b.test\n")
    res = run("configtest", "-c", "bad.conf", cwd=tmp_path)
    assert_one_error(res, "bad.conf:2: ", "unknown key 'Hostname' at top level")


def fenced_blocks(markdown):
    return re.findall(r"^```\n(.*?)^```", markdown, flags=re.S | re.M)


def full_example():
    """The configuration of DESIGN.md (docs/config.md holds the same one)."""
    src = DESIGN_MD if DESIGN_MD.exists() else CONFIG_MD
    blocks = [b for b in fenced_blocks(src.read_text()) if "listen submissions {" in b
              and "hostname  mx1.example.com" in b]
    assert blocks, f"no full example configuration in {src}"
    return blocks[0]


def localise(text, tmp_path, certs):
    """The example with its files made real under tmp_path."""
    cert, key = certs
    passwd = tmp_path / "passwd"
    # A real sha512-crypt hash (of "pw"): the daemon and configtest load the file.
    passwd.write_text("alice:$6$abcdefgh12345678$E4GdscbmVDsqF8/geZr8xRrftnT7gMY.HP1arBFwKO9qHfsZNc6S1iu3t5oeXRF1Q7tLrg9krVj0zM0OwGkJk.\n")
    for old, new in (("/etc/gate26/tls/cert.pem", cert), ("/etc/gate26/tls/key.pem", key),
                     ("/etc/gate26/passwd", str(passwd)),
                     ("/var/spool/gate26", str(tmp_path / "spool"))):
        text = text.replace(old, new)
    # Its ports (25, 587...) may be taken here, which configtest reports: free ones instead.
    ports = {}

    def free(m):
        ports.setdefault(m.group(2), free_port())
        return f"{m.group(1)}:{ports[m.group(2)]}"
    return re.sub(r"^(\s*address\s.*)$",
                  lambda line: re.sub(r"(\S+):(\d+)\b", free, line.group(1)), text, flags=re.M)


def test_configtest_design_example(tmp_path, certs):
    text = full_example()
    conf = tmp_path / "design.conf"
    conf.write_text(localise(text, tmp_path, certs))
    res = run("configtest", "-c", str(conf))
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith(f"{conf}: configuration ok (4 listen blocks, 1 domain)\n")
    # As written, its certificate does not exist here: the message names the cert line.
    conf.write_text(text)
    res = run("configtest", "-c", str(conf))
    if not Path("/etc/gate26/tls/cert.pem").exists():
        assert_one_error(res, f"{conf}:{line_of(text, 'cert ')}: ",
                         "cannot read certificate '/etc/gate26/tls/cert.pem': "
                         "No such file or directory")


@pytest.mark.parametrize("which", ["smallest", "full", "loopback"])
def test_configtest_config_md_examples(tmp_path, certs, which):
    examples = [b for b in fenced_blocks(CONFIG_MD.read_text()) if "listen " in b
                and "{" in b and ("domain " in b or "listen internal" in b)]
    pick = {
        "smallest": [b for b in examples if b.startswith("listen inbound {")],
        "full": [b for b in examples if "listen submissions {" in b],
        "loopback": [b for b in examples if "spool     spool" in b],
    }[which]
    assert pick, f"example {which!r} not found in docs/config.md"
    conf = tmp_path / "ex.conf"
    conf.write_text(localise(pick[0], tmp_path, certs))
    res = run("configtest", "-c", str(conf))
    assert res.returncode == 0, res.stderr
    assert "configuration ok" in res.stdout


def test_configtest_dev_conf(tmp_path, certs):
    # The same layout as the checkout (etc/ next to build/), in a temporary copy.
    (tmp_path / "etc").mkdir()
    conf = tmp_path / "etc" / "gate26.dev.conf"
    shutil.copy(DEV_CONF, conf)
    text = conf.read_text()
    # Without build/dev-tls yet, the cert line is named.
    res = run("configtest", "-c", str(conf))
    assert_one_error(res, f"{conf}:{line_of(text, 'cert ')}: ",
                     f"cannot read certificate '{tmp_path}/etc/../build/dev-tls/cert.pem': "
                     "No such file or directory")
    tls = tmp_path / "build" / "dev-tls"
    tls.mkdir(parents=True)
    shutil.copy(certs[0], tls / "cert.pem")
    shutil.copy(certs[1], tls / "key.pem")
    # Without build/dev-passwd yet, its error names the passwd line and says how to make it.
    res = run("configtest", "-c", str(conf))
    assert_one_error(res, f"{conf}:{line_of(text, 'passwd ')}: ",
                     f"cannot read password file '{tmp_path}/etc/../build/dev-passwd': No such "
                     f"file or directory (create it with: gate26 passwd -c {conf} USER)")
    # make run makes it so (the dev user of the README).
    p = subprocess.run([BIN, "passwd", "-c", str(conf), "dev@gate26.localhost"], input=b"dev\n",
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    if GATE26_USER is not None:
        # Copied by root, the key is root's alone: a reload (as the user) could not read it.
        res = run("configtest", "-c", str(conf))
        assert_one_error(res, f"{conf}:{line_of(text, 'key ')}: ",
                         f"key '{tmp_path}/etc/../build/dev-tls/key.pem' is not readable by user "
                         f"'{GATE26_USER}' (a reload runs as it): make it root:{GATE26_USER} 0640")
        give_key(tls / "key.pem")  # as make run does
    res = run("configtest", "-c", str(conf))
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith(f"{conf}: configuration ok (4 listen blocks, 1 domain)\n")
    assert res.stderr == ""


def readme_try_it():
    """The commands of README.md's "Try it" block, continuation lines joined."""
    block = next(b for b in re.findall(r"^```sh\n(.*?)^```", (ROOT / "README.md").read_text(),
                                       flags=re.S | re.M) if "swaks" in b)
    return [c for c in block.replace("\\\n", " ").splitlines() if c.strip()]


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks (tools/install-deps) missing")
def test_readme_try_it_commands_work(tmp_path, certs):
    """README's swaks lines against the development configuration as make run sets it up
    (its ports moved to free ones): the internal door, and submission with --tls and AUTH,
    which needs swaks's TLS (libnet-ssleay-perl, in tools/install-deps)."""
    (tmp_path / "etc").mkdir()
    conf = tmp_path / "etc" / "gate26.dev.conf"
    ports = {p: free_port() for p in ("2525", "2626", "2587", "2465")}
    text = DEV_CONF.read_text()
    for old, new in ports.items():
        text = text.replace(f":{old}", f":{new}")
    conf.write_text(text)
    tls = tmp_path / "build" / "dev-tls"
    tls.mkdir(parents=True)
    shutil.copy(certs[0], tls / "cert.pem")
    shutil.copy(certs[1], tls / "key.pem")
    give_key(tls / "key.pem")  # as make run does
    p = subprocess.run([BIN, "passwd", "-c", str(conf), "dev@gate26.localhost"], input=b"dev\n",
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    commands = readme_try_it()
    swaks = [c for c in commands if c.startswith("swaks ")]
    assert len(swaks) == 2 and "--tls" in swaks[1] and "--auth-user" in swaks[1], commands
    s = Served(conf, tmp_path / "log")
    try:
        assert s.wait_started(), s.text()
        for c in swaks:
            for old, new in ports.items():
                c = c.replace(f":{old}", f":{new}")
            res = subprocess.run(c, shell=True, capture_output=True, text=True, timeout=60)
            assert res.returncode == 0, f"{c}\n{res.stdout}\n{res.stderr}"
            assert "Ok: queued as" in res.stdout, res.stdout
        # (Delivery to example.org goes on by itself: the queue is not looked at.)
        assert s.text().count("status=queued") == 2, s.text()
    finally:
        assert s.stop() == 0


# ---- configtest on bad files ----

INTERNAL = "listen internal {\n    address 127.0.0.1:2626\n    allow 127.0.0.0/8\n}\n"

# (id, config text ("@SPOOL@" and "@DIR@" are filled in), line or None for "FILE: ",
#  key phrase). Line numbers are counted in the text as written here.
BAD = [
    ("unknown-key-in-listen",
     "spool @SPOOL@\nlisten internal {\n    adress 127.0.0.1:2626\n    allow 127.0.0.0/8\n}\n",
     3, f"unknown key 'adress' in listen block (expected one of: {LISTEN_KEYS})"),
    ("unknown-key-top-level", "Hostname mx.test\n" + INTERNAL, 1,
     "unknown key 'Hostname' at top level (expected one of: hostname, spool, user, "
     "log-level, max-sessions, resolver, callout-timeout, tls, listen, domain, auth, delivery, "
     "metrics, alert, watch, checks, dkim, quarantine, tracking, console, local-submit)"),
    ("unknown-block", INTERNAL + "frobnicate {\n}\n", 5,
     "unknown block 'frobnicate' (expected one of: tls, listen, domain, auth, delivery, "
     "metrics, alert, watch, checks, dkim, quarantine, tracking, console, local-submit)"),
    ("unknown-role", "listen outbound {\n    address 127.0.0.1:25\n}\n", 1,
     "unknown listen role 'outbound' (expected one of: inbound, internal, submission, "
     "submissions)"),
    ("duplicate-key-top", "hostname a.test\nspool @SPOOL@\nhostname b.test\n" + INTERNAL, 3,
     "duplicate key 'hostname' (first at line 1)"),
    ("duplicate-key-listen",
     "listen internal {\n    address 127.0.0.1:2626\n    tls none\n    allow 127.0.0.1\n"
     "    tls none\n}\n", 5, "duplicate key 'tls' (first at line 3)"),
    ("duplicate-role", INTERNAL + "listen internal {\n    address 127.0.0.1:2627\n}\n", 5,
     "duplicate block 'listen internal' (first at line 1)"),
    ("duplicate-address-two-doors",
     INTERNAL + "listen inbound {\n    address 127.0.0.1:2525 127.0.0.1:2626\n}\n"
     "domain a.test { }\n", 6, "duplicate address 127.0.0.1:2626 (first at line 2)"),
    ("duplicate-address-one-door",
     "listen internal {\n    address 127.0.0.1:2626\n    allow 127.0.0.1\n"
     "    address 127.0.0.1:2626\n}\n", 4, "duplicate address 127.0.0.1:2626 (first at line 2)"),
    ("wildcard-then-specific",
     "listen internal {\n    address 0.0.0.0:2626\n    allow 127.0.0.1\n}\n"
     "listen inbound {\n    address 127.0.0.1:2626\n}\ndomain a.test { }\n", 6,
     "address 127.0.0.1:2626 overlaps 0.0.0.0:2626 (line 2): a wildcard address takes port "
     "2626 on every IPv4 address"),
    ("specific-then-wildcard",
     INTERNAL + "listen inbound {\n    address 0.0.0.0:2626\n}\ndomain a.test { }\n", 6,
     "address 0.0.0.0:2626 overlaps 127.0.0.1:2626 (line 2)"),
    ("ipv6-wildcard-then-specific",
     "listen internal {\n    address [::]:2626 [::1]:2626\n    allow ::1\n}\n", 2,
     "address [::1]:2626 overlaps [::]:2626 (line 2): a wildcard address takes port 2626 on "
     "every IPv6 address"),
    ("port-zero", "listen internal {\n    address 127.0.0.1:0\n    allow 127.0.0.1\n}\n", 2,
     "expected a port from 1 to 65535 after ':' in '127.0.0.1:0'"),
    ("port-too-big", "listen internal {\n    address 127.0.0.1:65536\n    allow 127.0.0.1\n}\n",
     2, "expected a port from 1 to 65535 after ':' in '127.0.0.1:65536'"),
    ("port-missing", "listen internal {\n    address 127.0.0.1\n    allow 127.0.0.1\n}\n", 2,
     "expected a port after ':' in '127.0.0.1'"),
    ("host-name-address",
     "listen internal {\n    address localhost:26\n    allow 127.0.0.1\n}\n", 2,
     "(names are not looked up)"),
    ("ipv6-without-brackets",
     "listen internal {\n    address ::1:26\n    allow ::1\n}\n", 2,
     "an IPv6 address needs brackets, as in [::1]:25"),
    ("cidr-bits-past-prefix",
     "listen internal {\n    address 127.0.0.1:2626\n    allow 10.0.0.1/8\n}\n", 3,
     "'10.0.0.1/8' has bits set past its /8 prefix (did you mean 10.0.0.0/8?)"),
    ("cidr-prefix-too-long",
     "listen internal {\n    address 127.0.0.1:2626\n    allow 10.0.0.0/33\n}\n", 3,
     "expected a prefix length from 0 to 32 after '/' in '10.0.0.0/33'"),
    ("internal-without-allow",
     "spool @SPOOL@\n\nlisten internal {\n    address 127.0.0.1:2626\n}\n", 3,
     "listen internal needs an allow list: which of our servers may use port 26?"),
    ("listen-without-address", "listen internal {\n    allow 127.0.0.1\n}\n", 1,
     "listen internal needs at least one address (address IP:PORT)"),
    ("inbound-without-domain",
     INTERNAL + "listen inbound {\n    address 127.0.0.1:2525\n}\n", 5,
     "listen inbound needs at least one domain block: which domains do we accept mail for?"),
    ("submission-tls-none",
     "listen submission {\n    address 127.0.0.1:2587\n    tls none\n}\n", 3,
     "listen submission needs tls starttls required or tls implicit: passwords must never "
     "travel in clear"),
    ("submission-auth-none",
     "listen submission {\n    address 127.0.0.1:2587\n    auth none\n}\n", 3,
     "auth none on listen submission would make an open relay"),
    ("submissions-starttls",
     "listen submissions {\n    address 127.0.0.1:2465\n    tls starttls required\n}\n", 3,
     "listen submissions must use tls implicit"),
    ("tls-mode-without-tls-block",
     "\nlisten internal {\n    address 127.0.0.1:2626\n    allow 127.0.0.1\n    tls starttls\n}\n",
     2, "tls starttls needs a tls { cert ... key ... } block"),
    ("default-tls-without-tls-block",
     "listen submission {\n    address 127.0.0.1:2587\n}\n", 1,
     "listen submission uses tls starttls required (its default), which needs a tls { cert"),
    ("cert-file-missing",
     "tls {\n    cert @DIR@/missing-cert.pem\n    key @DIR@/missing-key.pem\n}\n" + INTERNAL, 2,
     "cannot read certificate '@DIR@/missing-cert.pem': No such file or directory"),
    ("relative-cert-file-missing",
     "tls {\n    cert tls/cert.pem\n    key tls/key.pem\n}\n" + INTERNAL, 2,
     "cannot read certificate '@DIR@/tls/cert.pem': No such file or directory"),
    ("cert-is-a-directory",
     "tls {\n    cert @DIR@\n    key @DIR@\n}\n" + INTERNAL, 2,
     "cannot read certificate '@DIR@': Is a directory"),
    ("missing-close-brace",
     "hostname a.test\nlisten internal {\n    address 127.0.0.1:2626\n    allow 127.0.0.1\n", 4,
     "missing '}' for block 'listen' opened at line 2"),
    ("brace-on-next-line", "listen internal\n{\n    address 127.0.0.1:2626\n}\n", 1,
     "'listen' opens a block: expected '{' at the end of the line"),
    ("nested-block", "listen internal {\n    address 127.0.0.1:2626\ndomain a.test {\n}\n", 3,
     "blocks do not nest (is a '}' missing?)"),
    ("stray-close-brace", INTERNAL + "}\n", 5, "unexpected '}': no block is open"),
    ("unterminated-quote", 'hostname "mx.test\n' + INTERNAL, 1,
     "unterminated string (missing closing '\"')"),
    ("bad-size-suffix",
     "listen internal {\n    address 127.0.0.1:2626\n    allow 127.0.0.1\n"
     "    max-message-size 10MB\n}\n", 4,
     "expected a size from 1K to 2G (digits with an optional K, M or G), found '10MB'"),
    ("size-out-of-range",
     "listen internal {\n    address 127.0.0.1:2626\n    allow 127.0.0.1\n"
     "    max-message-size 3G\n}\n", 4, "size '3G' is out of range (from 1K to 2G)"),
    ("bad-duration",
     "listen internal {\n    address 127.0.0.1:2626\n    allow 127.0.0.1\n"
     "    timeout-command 1h30m\n}\n", 4,
     "expected a duration from 1s to 1d (digits with one optional unit s, m, h or d, as in "
     "30s, 5m, 2h), found '1h30m'"),
    ("duration-out-of-range", INTERNAL + "delivery {\n    give-up 31d\n}\n", 6,
     "duration '31d' is out of range (from 1s to 30d)"),
    ("max-recipients-zero",
     "listen internal {\n    address 127.0.0.1:2626\n    allow 127.0.0.1\n"
     "    max-recipients 0\n}\n", 4, "expected a number from 1 to 100000, found '0'"),
    ("relay-wrong-scheme",
     INTERNAL + "domain a.test {\n    relay http://10.0.0.5:25\n}\n", 6,
     "'http://10.0.0.5:25' is a web address: a relay URL starts with smtp:// (or smtps:// "
     "for TLS from the first byte)"),
    ("relay-with-path",
     INTERNAL + "domain a.test {\n    relay smtp://10.0.0.5:25/x\n}\n", 6,
     "a relay URL has no path or query: '/x' follows the host and port"),
    ("duplicate-domain",
     INTERNAL + "domain a.test { }\ndomain b.test { }\ndomain A.TEST. { }\n", 7,
     "duplicate domain 'a.test' (first at line 5)"),
    ("numeric-hostname", "hostname 10.0.0.5\n" + INTERNAL, 1,
     "'10.0.0.5' is not a domain name (its last label is all digits)"),
    ("bad-log-level", "log-level verbose\n" + INTERNAL, 1,
     "unknown log-level 'verbose' (expected one of: debug, info, warning, error)"),
    ("control-character", "hostname a.test\x01\n" + INTERNAL, 1,
     "control character 0x01 in the file (is it a text file?)"),
    ("byte-order-mark", "\ufeffhostname a.test\n" + INTERNAL, 1,
     "the file starts with a byte order mark; save it without one"),
    ("nul-byte", "hostname a.test\n" + INTERNAL + "# x\0y\n", 6,
     "NUL byte in the file (is it a text file?)"),
    ("non-printable-shown-as-hex", 'hostname "a\u00e9b"\n' + INTERNAL, 1,
     "unexpected character '\\xc3' in domain name 'a\\xc3\\xa9b'"),
    ("long-value-cut", "hostname " + "a" * 100 + "\n" + INTERNAL, 1,
     "in domain name '" + "a" * 80 + "...'"),
    ("two-values-for-one", "hostname a.test b.test\n" + INTERNAL, 1,
     "'hostname' takes one value, found 2"),
    # A hint only where it helps: a path may be quoted, a duration is one word.
    ("path-with-a-space", "spool /var/my spool\n" + INTERNAL, 1,
     "'spool' takes one value, found 2 (quote a path that has spaces)"),
    ("duration-as-two-words", INTERNAL + "delivery {\n    give-up 10 min\n}\n", 6,
     "'give-up' takes one value, found 2 (a duration is one word, as in 10m)"),
    # AUTH on the wrong door, or a door that needs AUTH without an auth block.
    ("auth-required-on-inbound",
     INTERNAL + "listen inbound {\n    address 127.0.0.1:2525\n    auth required\n}\n"
     "domain a.test { }\n", 7,
     "auth required on listen inbound would refuse mail from every sender on the Internet "
     "(530 5.7.0): remove it (users log in on the submission doors)"),
    ("submission-without-auth-block",
     "tls {\n    cert @CERT@\n    key @KEY@\n}\n"
     "listen submission {\n    address 127.0.0.1:2587\n}\n", 5,
     "listen submission requires AUTH (its default), which needs an auth { passwd FILE } block: "
     "without one no user can log in and the door accepts no mail"),
    ("submissions-without-auth-block",
     "tls {\n    cert @CERT@\n    key @KEY@\n}\n"
     "listen submissions {\n    address 127.0.0.1:2465\n}\n", 5,
     "listen submissions requires AUTH (its default)"),
    # The content checks' blocks (issue 14).
    ("checks-bad-spam-score", INTERNAL + "checks internal {\n    spam rspamd http://127.0.0.1:1\n"
     "    spam-reject 6.125\n}\n", 7, "expected a score such as 15 or 6.5 after 'spam-reject'"),
    ("dkim-key-missing", INTERNAL + "dkim example.test {\n    selector s1\n"
     "    key @DIR@/none.key\n}\n", 7, "cannot read DKIM key '@DIR@/none.key'"),
    ("empty-file", "", 1, "no listen block: gate26 would accept no mail"),
    ("no-listen-block", "hostname a.test\nspool @SPOOL@\n# nothing else\n", 3,
     "no listen block: gate26 would accept no mail"),
]


def fill(text, tmp_path, certs=("@CERT@", "@KEY@")):
    return (text.replace("@SPOOL@", str(tmp_path / "spool")).replace("@DIR@", str(tmp_path))
            .replace("@CERT@", certs[0]).replace("@KEY@", certs[1]))


@pytest.mark.parametrize("name,text,line,phrase", BAD, ids=[b[0] for b in BAD])
def test_configtest_bad(tmp_path, certs, name, text, line, phrase):
    conf = tmp_path / "bad.conf"
    conf.write_text(fill(text, tmp_path, certs))
    res = run("configtest", "-c", str(conf))
    assert_one_error(res, f"{conf}:{line}: ", fill(phrase, tmp_path, certs))


def test_configtest_crlf_and_comments(tmp_path):
    conf = tmp_path / "crlf.conf"
    conf.write_bytes(b"# comment\r\nhostname a.test # trailing\r\n"
                     b"listen internal {\r\n\taddress 127.0.0.1:2626\r\n"
                     b"    allow \"127.0.0.1\"\r\n} # end\r\ndomain \"b.test\" { }\r\n"
                     + (f"user {GATE26_USER}\r\n".encode() if GATE26_USER else b""))
    res = run("configtest", "-c", str(conf))
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith(f"{conf}: configuration ok (1 listen block, 1 domain)\n")


def test_configtest_file_that_does_not_exist(tmp_path):
    missing = tmp_path / "nope.conf"
    res = run("configtest", "-c", str(missing))
    assert_one_error(res, f"{missing}: cannot open: No such file or directory", "cannot open")


def test_configtest_directory(tmp_path):
    res = run("configtest", "-c", str(tmp_path))
    assert_one_error(res, f"{tmp_path}: cannot read: Is a directory", "cannot read")


# ---- serve refusing to start ----

def test_serve_bad_config_exits_1_and_does_not_listen(tmp_path):
    port = free_port()
    conf = tmp_path / "gate26.conf"
    good = config_text(tmp_path / "spool", {"internal": port},
                       {"internal": {"allow": "127.0.0.1", "tls": "none"}}, {})
    text = good + "listen inbound {\n    address 127.0.0.1:%d\n}\n" % free_port()
    conf.write_text(text)
    ct = run("configtest", "-c", str(conf))
    res = run("serve", "-c", str(conf), timeout=15)
    prefix = f"{conf}:{line_of(text, 'listen inbound')}: "
    assert_one_error(res, prefix, "listen inbound needs at least one domain block")
    assert res.stderr == ct.stderr, "serve and configtest must print the same message"
    assert refused(port)
    assert not (tmp_path / "spool").exists(), "a refused configuration must touch nothing"


def internal_conf(tmp_path, spool, port, extra="", **kw):
    conf = tmp_path / "gate26.conf"
    conf.write_text(config_text(spool, {"internal": port},
                                {"internal": {"allow": "127.0.0.1", "tls": "none"}}, {},
                                extra=extra, **kw))
    return conf


def assert_both_refuse(conf, prefix, phrase, port=None):
    """configtest and serve refuse conf with the same one message; serve binds nothing."""
    ct = run("configtest", "-c", str(conf))
    assert_one_error(ct, prefix, phrase)
    res = run("serve", "-c", str(conf), timeout=15)
    assert_one_error(res, prefix, phrase)
    assert res.stderr == ct.stderr, "serve and configtest must print the same message"
    if port is not None:
        assert refused(port)
    return res.stderr


def assert_configtest_refuses_serve_warns(conf, prefix, phrase, port):
    """What only a reload would refuse: configtest refuses it; serve starts (it reads the
    files as root) and logs the same text as a warning, so the admin sees it at once."""
    ct = run("configtest", "-c", str(conf))
    assert_one_error(ct, prefix, phrase)
    log = conf.parent / "serve.log"
    with open(log, "w") as f:
        p = subprocess.Popen([BIN, "serve", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=f)
    try:
        # Started: its signals are watched from here on (a TERM before would kill it).
        wait_for(lambda: "event=start" in log.read_text() or p.poll() is not None, timeout=15,
                 what="serve to start")
        assert not refused(port)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=15)
    err = log.read_text()
    assert p.returncode == 0, err
    warning = ct.stderr.strip()  # the admin's own paths: logged as they are
    assert f'warning: -: event=config, warning="{warning}"' in err, err


def test_serve_spool_not_a_directory_exits_1(tmp_path):
    port = free_port()
    spool = tmp_path / "spoolfile"
    spool.write_text("not a directory\n")
    conf = internal_conf(tmp_path, spool, port)
    assert_both_refuse(conf, f"{conf}:2: ", f"spool '{spool}': Not a directory", port)
    assert spool.read_text() == "not a directory\n"


def test_a_spool_whose_parent_is_missing_is_refused_by_both(tmp_path):
    """serve makes the spool directory, not the directories above it: configtest says so."""
    port = free_port()
    spool = tmp_path / "no" / "such" / "spool"
    conf = internal_conf(tmp_path, spool, port)
    assert_both_refuse(conf, f"{conf}:2: ",
                       f"spool '{spool}': No such file or directory (serve creates the spool "
                       f"directory, but not '{spool.parent}' above it)", port)
    assert not (tmp_path / "no").exists()


def test_a_missing_spool_with_its_parent_is_made_by_serve_as_configtest_says(tmp_path):
    port = free_port()
    spool = tmp_path / "spool"
    conf = internal_conf(tmp_path, spool, port)
    ct = run("configtest", "-c", str(conf))
    assert (ct.returncode, ct.stderr) == (0, "")
    assert ct.stdout.startswith(f"{conf}:2: spool '{spool}' does not exist yet: serve will "
                                f"create it\n")
    s = Served(conf, tmp_path / "log")
    try:
        assert s.wait_started(), s.text()
        assert spool.is_dir()
    finally:
        assert s.stop() == 0


def test_the_default_spool_is_named_as_the_default(tmp_path):
    conf = tmp_path / "gate26.conf"
    text = config_text("SPOOL", {"internal": free_port()},
                       {"internal": {"allow": "127.0.0.1", "tls": "none"}}, {})
    conf.write_text(text.replace("spool SPOOL\n", ""))
    res = run("configtest", "-c", str(conf))
    assert res.returncode == 0, res.stderr
    if not Path("/var/spool/gate26").exists():
        assert res.stdout.startswith(f"{conf}: spool (default /var/spool/gate26) does not exist "
                                     f"yet: serve will create it\n"), res.stdout
    else:
        assert "spool" not in res.stdout


def test_configtest_warns_when_hostname_is_unset_and_the_machine_name_is_no_fqdn(tmp_path):
    conf = internal_conf(tmp_path, tmp_path, free_port())
    conf.write_text(conf.read_text().replace("hostname gate26.test\n", ""))
    res = run("configtest", "-c", str(conf))
    assert res.returncode == 0, res.stderr
    machine = socket.gethostname()
    if "." not in machine or machine.split(".")[0] == "localhost":
        assert res.stderr.startswith(f"warning: {conf}: 'hostname' is not set and this machine's "
                                     f"name '{machine}' is not a fully qualified domain name: "), \
            res.stderr
        assert "set 'hostname'" in res.stderr
    else:
        assert res.stderr == ""


class Holder:
    """A process that listens on 127.0.0.1:port and, with lock, holds SPOOL/lock open under
    flock(LOCK_EX): what the running gate26 on that spool looks like from outside."""

    CODE = r"""
import fcntl, os, socket, sys, time
lock = None
if sys.argv[2]:
    lock = open(os.path.join(sys.argv[2], "lock"), "a+")
    fcntl.flock(lock, fcntl.LOCK_EX)
    lock.write(str(os.getpid())); lock.flush()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
print("ready", flush=True)
time.sleep(120)
"""

    def __init__(self, port, spool=None):
        self.proc = subprocess.Popen([sys.executable, "-c", self.CODE, str(port),
                                      str(spool) if spool else ""], stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def test_configtest_accepts_the_ports_of_the_gate26_running_on_its_spool(tmp_path):
    """The admin runs configtest before a reload: the running daemon's sockets are no error.
    Another process on the same port is, and it is named."""
    port, spool = free_port(), tmp_path / "spool"
    spool.mkdir()
    conf = internal_conf(tmp_path, spool, port)
    holder = Holder(port, spool)
    try:
        res = run("configtest", "-c", str(conf))
        assert (res.returncode, res.stderr) == (0, "")
        assert res.stdout == f"{conf}: configuration ok (1 listen block, 0 domains)\n"
        # serve is no reload: the spool's lock says that its gate26 runs already.
        res = run("serve", "-c", str(conf), timeout=15)
        assert_one_error(res, f"{conf}:{line_of(conf.read_text(), 'spool ')}: ",
                         f"spool: {spool}: the spool is in use by another gate26")
    finally:
        holder.stop()
    # The same listener without the spool's lock is somebody else.
    other = Holder(port)
    try:
        err = assert_both_refuse(conf, f"{conf}:{line_of(conf.read_text(), '127.0.0.1:')}: ",
                                 f"address 127.0.0.1:{port} is already in use (by ")
        assert f", pid {other.proc.pid}, user " in err
    finally:
        other.stop()


def test_configtest_before_a_reload_of_the_running_gate26(gateway):
    """The real daemon: configtest on its own file, ports held, says ok; a second serve on
    the same file is refused (the spool is in use)."""
    g = gateway()
    res = run("configtest", "-c", str(g.conf))
    assert (res.returncode, res.stderr) == (0, ""), res
    assert res.stdout.endswith("configuration ok (2 listen blocks, 2 domains)\n")
    res = run("serve", "-c", str(g.conf), timeout=15)
    assert res.returncode == 1, res
    assert f"the spool is in use by another gate26 (pid {g.pid})" in res.stderr, res
    # Another configuration on another spool with the same ports: in use, by that gate26.
    other = g.dir / "other.conf"
    other.write_text(g.conf.read_text().replace(str(g.spool), str(g.dir / "other-spool")))
    res = run("configtest", "-c", str(other))
    assert res.returncode == 1 and f"is already in use (by {BIN} serve -c " in res.stderr, res
    assert f", pid {g.pid}, user " in res.stderr, res


def test_a_port_of_another_spools_gate26_is_in_use(tmp_path):
    port, spool, theirs = free_port(), tmp_path / "spool", tmp_path / "theirs"
    spool.mkdir()
    theirs.mkdir()
    conf = internal_conf(tmp_path, spool, port)
    holder = Holder(port, theirs)
    try:
        assert_both_refuse(conf, f"{conf}:{line_of(conf.read_text(), '127.0.0.1:')}: ",
                           f"address 127.0.0.1:{port} is already in use (by ")
    finally:
        holder.stop()


@pytest.mark.skipif(GATE26_USER is None, reason="checking files as the user needs root")
def test_a_password_file_the_user_cannot_read_is_refused_by_configtest(tmp_path):
    port = free_port()
    pw = tmp_path / "passwd"
    pw.write_text("")
    pw.chmod(0o600)  # root's alone
    auth = f"auth {{\n    passwd {pw}\n}}\n"
    conf = internal_conf(tmp_path, tmp_path / "spool", port, extra=auth)
    line = line_of(conf.read_text(), "passwd ")
    assert_configtest_refuses_serve_warns(
        conf, f"{conf}:{line}: ", f"password file '{pw}' is not readable by user '{GATE26_USER}' "
        f"(a reload runs as it): make it root:{GATE26_USER} 0640", port)
    # Readable by its mode, but in a directory the user cannot enter: that directory is named.
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o700)
    pw2 = hidden / "passwd"
    pw2.write_text("")
    pw2.chmod(0o644)
    conf = internal_conf(tmp_path, tmp_path / "spool", port,
                         extra=f"auth {{\n    passwd {pw2}\n}}\n")
    assert_configtest_refuses_serve_warns(
        conf, f"{conf}:{line}: ", f"password file '{pw2}' is not readable by user "
        f"'{GATE26_USER}' (a reload runs as it): the directory '{hidden}' does not let it through",
        port)
    # Given to the user's group, as gate26 passwd makes it: fine.
    os.chown(pw, 0, grp.getgrnam(GATE26_USER).gr_gid)
    pw.chmod(0o640)
    conf = internal_conf(tmp_path, tmp_path / "spool", port, extra=auth)
    res = run("configtest", "-c", str(conf))
    assert res.returncode == 0, res.stderr


@pytest.mark.skipif(GATE26_USER is None, reason="checking files as the user needs root")
def test_a_recipient_list_and_a_relay_auth_file_the_user_cannot_read(tmp_path):
    """A reload reads them again as the user: configtest names each, serve warns."""
    port = free_port()
    lst = tmp_path / "recipients"
    lst.write_text("alice@example.org\n")
    lst.chmod(0o600)  # root's alone
    conf = internal_conf(tmp_path, tmp_path / "spool", port,
                         extra=f"domain example.org {{\n    verify-recipients {lst}\n}}\n")
    assert_configtest_refuses_serve_warns(
        conf, f"{conf}:{line_of(conf.read_text(), 'verify-recipients ')}: ",
        f"recipient list '{lst}' is not readable by user '{GATE26_USER}' (a reload runs as "
        f"it): make it root:{GATE26_USER} 0640", port)
    auth = tmp_path / "relay.auth"
    auth.write_text("relay@isp.test:secret\n")
    auth.chmod(0o600)
    conf = internal_conf(tmp_path, tmp_path / "spool", port,
                         delivery=f"relay-host smtp://[127.0.0.1]:587\n    relay-auth {auth}")
    assert_configtest_refuses_serve_warns(
        conf, f"{conf}:{line_of(conf.read_text(), 'relay-auth ')}: ",
        f"relay-auth file '{auth}' is not readable by user '{GATE26_USER}' (a reload runs as "
        f"it): make it root:{GATE26_USER} 0640", port)


@pytest.mark.skipif(GATE26_USER is None, reason="checking files as the user needs root")
def test_a_configuration_file_the_user_cannot_read_is_refused_by_configtest(tmp_path):
    port = free_port()
    conf = internal_conf(tmp_path, tmp_path / "spool", port)
    conf.chmod(0o600)
    assert_configtest_refuses_serve_warns(
        conf, f"{conf}: ", f"the configuration file is not readable by user '{GATE26_USER}' (a "
        f"reload runs as it): make it root:{GATE26_USER} 0640", port)


def test_a_missing_password_file_names_its_line_and_how_to_make_it(tmp_path):
    port = free_port()
    pw = tmp_path / "passwd"
    conf = internal_conf(tmp_path, tmp_path / "spool", port,
                         extra=f"auth {{\n    passwd {pw}\n}}\n")
    assert_both_refuse(conf, f"{conf}:{line_of(conf.read_text(), 'passwd ')}: ",
                       f"cannot read password file '{pw}': No such file or directory (create it "
                       f"with: gate26 passwd -c {conf} USER)", port)
    # A bad line in it names the password file's own line.
    pw.write_text("alice:$1$weak$hash\n")
    pw.chmod(0o644)
    assert_both_refuse(conf, f"{pw}:1: ", "weak or unknown hash for user 'alice'", port)


def test_serve_missing_config_exits_1(tmp_path):
    missing = tmp_path / "nope.conf"
    res = run("serve", "-c", str(missing), timeout=15)
    assert_one_error(res, f"{missing}: cannot open: No such file or directory", "cannot open")


def test_serve_port_taken_exits_1_naming_the_address(tmp_path):
    taken = socket.socket()
    try:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        other = free_port()
        conf = tmp_path / "gate26.conf"
        conf.write_text(config_text(
            tmp_path / "spool", {"internal": other, "inbound": port},
            {"internal": {"allow": "127.0.0.1", "tls": "none"}, "inbound": {"tls": "none"}},
            {"a.test": None}))
        res = run("serve", "-c", str(conf), timeout=15)
        ct = run("configtest", "-c", str(conf))
        text = conf.read_text()
        # The owner is named from /proc: this test's own process.
        assert_one_error(res, f"{conf}:{line_of(text, f'127.0.0.1:{port}')}: ",
                         f"address 127.0.0.1:{port} is already in use (by ")
        me = pwd.getpwuid(os.geteuid()).pw_name
        assert f", pid {os.getpid()}, user {me})\n" in res.stderr, res.stderr
        assert ct.stderr == res.stderr, "serve and configtest must print the same message"
        assert "event=start" not in res.stderr
        for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "panic:"):
            assert mark not in res.stderr, res.stderr
        # Neither the taken port nor the other door is served by a gate26 left behind.
        assert refused(other)
        with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
            c.settimeout(0.5)
            try:
                assert c.recv(100) == b"", "something answered on the taken port"
            except socket.timeout:
                pass  # our own silent listener, as it should be
    finally:
        taken.close()


def test_serve_ipv6_port_taken_names_canonical_address(tmp_path):
    # The address in the message is the canonical form of what was configured.
    taken = socket.socket(socket.AF_INET6)
    try:
        taken.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        taken.bind(("::1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        conf = tmp_path / "gate26.conf"
        conf.write_text(config_text(tmp_path / "spool", {"internal": 0},
                                    {"internal": {"allow": "::1", "tls": "none",
                                                  "address": f"[0:0::1]:{port}"}}, {}))
        res = run("serve", "-c", str(conf), timeout=15)
        assert res.returncode == 1, res
        assert f":11: address [::1]:{port} is already in use (by " in res.stderr, res.stderr
    finally:
        taken.close()


# ---- serve and the user key ----

class Served:
    """gate26 serve started by hand (log in a file), stopped by its PID."""

    def __init__(self, conf, log):
        self.log = log
        with open(log, "wb") as f:
            self.proc = subprocess.Popen([BIN, "serve", "-c", str(conf)], stdout=f,
                                         stderr=subprocess.STDOUT)

    def text(self):
        return self.log.read_text(errors="replace")

    def wait_started(self):
        """True once it logged its start; False if it exited first."""
        wait_for(lambda: "event=start" in self.text() or self.proc.poll() is not None,
                 what="gate26 to start or exit")
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for mark in SANITIZER_MARKS:
            assert mark not in self.text(), self.text()[-3000:]
        return self.proc.returncode


def proc_ids(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can switch to another user")
def test_serve_switches_to_the_configured_user(tmp_path):
    # docs/config.md: "user: after binding its ports, gate26 switches to this user."
    port = free_port()
    conf = tmp_path / "gate26.conf"
    conf.write_text(config_text(tmp_path / "spool", {"internal": port},
                                {"internal": {"allow": "127.0.0.1", "tls": "none"}}, {},
                                user="nobody"))
    s = Served(conf, tmp_path / "log")
    try:
        assert s.wait_started(), s.text()
        assert proc_ids(s.proc.pid, "Uid") == [65534] * 4, "gate26 still runs as root"
        assert proc_ids(s.proc.pid, "Gid") == [65534] * 4
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.settimeout(5)
            assert c.recv(100).startswith(b"220 ")
    finally:
        code = s.stop()
    assert code == 0, s.text()[-3000:]


def test_serve_unknown_user_exits_1(tmp_path):
    port = free_port()
    conf = tmp_path / "gate26.conf"
    conf.write_text(config_text(tmp_path / "spool", {"internal": port},
                                {"internal": {"allow": "127.0.0.1", "tls": "none"}}, {},
                                user="nosuchuser26"))
    s = Served(conf, tmp_path / "log")
    try:
        started = s.wait_started()
    finally:
        code = s.stop()
    assert not started, f"gate26 started with a user that does not exist:\n{s.text()}"
    assert code == 1
    assert "nosuchuser26" in s.text()
