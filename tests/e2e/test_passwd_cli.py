# SPDX-License-Identifier: MIT
"""`gate26 passwd [-c CONF] [-f FILE] USER` as an admin uses it: the password
from standard input (and from a terminal, through a pty, with echo off and
asked twice), the hash checked with Python's crypt module (libxcrypt, as the
daemon uses), an entry replaced in place with every other line and comment
kept byte for byte, the file's mode kept, the file replaced by rename (a
failed write, fsync or rename leaves it as it was, with no temporary file),
bad user names and empty, overlong or non-UTF-8 passwords refused, a broken
file left alone, and files of yescrypt, bcrypt and sha512-crypt lines made
elsewhere (as `mkpasswd -m yescrypt` would) accepted by the loader."""
import ctypes
import ctypes.util
import os
import pty
import pwd
import select
import stat
import subprocess
import time
import warnings

import pytest

from conftest import BIN, SANITIZER_MARKS, config_text, free_port

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # deprecated in 3.11, removed in 3.13; it is libxcrypt's crypt(3) here

_libcrypt = ctypes.CDLL(ctypes.util.find_library("crypt"))
_libcrypt.crypt_gensalt.restype = ctypes.c_char_p
_libcrypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p,
                                    ctypes.c_int]


def make_hash(password, prefix=None, count=0):
    """A crypt(3) hash made by libxcrypt, as mkpasswd -m METHOD makes them
    (prefix None: libxcrypt's default, yescrypt)."""
    setting = _libcrypt.crypt_gensalt(prefix.encode() if prefix else None, count, None, 0)
    assert setting, f"crypt_gensalt({prefix!r}) failed"
    return crypt.crypt(password, setting.decode())


def verifies(password, hashed):
    return crypt.crypt(password, hashed) == hashed


def passwd(*args, stdin=b"", env=None, timeout=30):
    """Runs gate26 passwd with stdin a pipe (not a terminal)."""
    if isinstance(stdin, str):
        stdin = stdin.encode()
    e = dict(os.environ)
    e.update(env or {})
    res = subprocess.run([BIN, "passwd", *args], input=stdin, capture_output=True,
                         timeout=timeout, env=e)
    out, err = res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace")
    for mark in SANITIZER_MARKS:
        assert mark not in err, err
    return res.returncode, out, err


def entries(path):
    """{user: hash} of the user lines of a password file."""
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.lstrip().startswith("#"):
            user, _, hashed = line.partition(":")
            out[user] = hashed
    return out


def leftovers(directory, name):
    return [p.name for p in directory.iterdir() if p.name.startswith(f".{name}.")]


def write_conf(tmp_path, passwd_path=None, extra_text=""):
    auth = f"auth {{\n    passwd {passwd_path}\n}}\n" if passwd_path is not None else ""
    conf = tmp_path / "gate26.conf"
    kw = {"user": None} if "user " in extra_text else {}  # the test names its own
    conf.write_text(config_text(tmp_path / "spool", {"internal": free_port()},
                                {"internal": {"allow": "127.0.0.1", "tls": "none"}}, {},
                                extra=auth + extra_text, **kw))
    return conf


# ---- setting passwords ----

def test_new_file_from_the_config_gets_a_yescrypt_hash_and_mode_0640(tmp_path):
    pw = tmp_path / "passwd"
    conf = write_conf(tmp_path, "passwd")  # relative to the config's directory
    rc, out, err = passwd("-c", str(conf), "alice", stdin="s3cret pass\n")
    assert rc == 0, err
    assert out == f"{pw}: added user 'alice'\n"
    assert err == ""
    users = entries(pw)
    assert list(users) == ["alice"]
    assert users["alice"].startswith("$y$")
    assert verifies("s3cret pass", users["alice"])
    assert not verifies("s3cret pass\n", users["alice"])
    assert stat.S_IMODE(pw.stat().st_mode) == 0o640
    assert pw.read_text() == f"alice:{users['alice']}\n"
    assert leftovers(tmp_path, "passwd") == []


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file a group needs root")
def test_new_file_gets_the_group_of_the_configs_user(tmp_path):
    """The daemon reads the file again on SIGHUP, after it has dropped root."""
    pw = tmp_path / "passwd"
    conf = write_conf(tmp_path, "passwd", extra_text="user nobody\n")
    assert passwd("-c", str(conf), "alice", stdin="pw\n")[0] == 0
    assert pw.stat().st_gid == pwd.getpwnam("nobody").pw_gid
    assert pw.stat().st_uid == 0
    assert stat.S_IMODE(pw.stat().st_mode) == 0o640


def test_replaces_an_entry_in_place_and_keeps_every_other_line(tmp_path):
    pw = tmp_path / "passwd"
    bob = make_hash("bobpw", "$2b$", 4)
    carol = make_hash("carolpw", "$6$", 1000)
    before = ("# gate26 users\n"
              "\n"
              f"bob:{bob}\n"
              "   # an indented comment, kept as written  \n"
              f"alice:{make_hash('old')}\n"
              "\t\n"
              f"carol:{carol}\n"
              "# end\n")
    pw.write_text(before)
    os.chmod(pw, 0o600)
    owner = (pw.stat().st_uid, pw.stat().st_gid)
    if os.geteuid() == 0:  # the old file's owner is kept, not ours
        nobody = pwd.getpwnam("nobody")
        owner = (nobody.pw_uid, nobody.pw_gid)
        os.chown(pw, *owner)
    inode = pw.stat().st_ino
    rc, out, err = passwd("-f", str(pw), "alice", stdin="new pass\n")
    assert rc == 0, err
    assert out == f"{pw}: new password for user 'alice'\n"
    after = pw.read_text().split("\n")
    old_lines = before.split("\n")
    assert len(after) == len(old_lines)
    for i, (a, b) in enumerate(zip(old_lines, after)):
        if i == 4:
            assert b.startswith("alice:$y$") and verifies("new pass", b[len("alice:"):])
        else:
            assert a == b, f"line {i + 1} changed: {a!r} -> {b!r}"
    assert stat.S_IMODE(pw.stat().st_mode) == 0o600
    assert (pw.stat().st_uid, pw.stat().st_gid) == owner
    assert pw.stat().st_ino != inode, "the file was not replaced by rename"
    assert leftovers(tmp_path, "passwd") == []
    # Another change, and a new salt each time.
    first = entries(pw)["alice"]
    assert passwd("-f", str(pw), "alice", stdin="new pass\n")[0] == 0
    assert entries(pw)["alice"] != first and verifies("new pass", entries(pw)["alice"])


def test_appends_after_a_last_line_without_newline(tmp_path):
    pw = tmp_path / "passwd"
    bob = make_hash("bobpw")
    pw.write_text(f"# x\nbob:{bob}")
    rc, _, err = passwd("-f", str(pw), "carol@example.com", stdin="pw")  # no LF on stdin either
    assert rc == 0, err
    lines = pw.read_text().split("\n")
    assert lines[:2] == ["# x", f"bob:{bob}"] and lines[3] == ""
    assert verifies("pw", lines[2].split(":", 1)[1])


def test_a_cr_lf_line_and_utf8_passwords(tmp_path):
    pw = tmp_path / "passwd"
    assert passwd("-f", str(pw), "u1", stdin="p\u00e4ss w\u00f6rd\r\n")[0] == 0
    assert verifies("p\u00e4ss w\u00f6rd", entries(pw)["u1"])
    assert passwd("-f", str(pw), "u2", stdin="x" * 255 + "\n")[0] == 0
    assert verifies("x" * 255, entries(pw)["u2"])


def test_concurrent_runs_lose_no_update(tmp_path):
    pw = tmp_path / "passwd"
    procs = [subprocess.Popen([BIN, "passwd", "-f", str(pw), f"user{i}"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(6)]
    for i, p in enumerate(procs):
        p.communicate(f"pw{i}\n".encode(), timeout=60)
        assert p.returncode == 0
    users = entries(pw)
    assert sorted(users) == [f"user{i}" for i in range(6)]
    for i in range(6):
        assert verifies(f"pw{i}", users[f"user{i}"])


# ---- refusals ----

@pytest.mark.parametrize("name", ["", "a:b", "a b", " alice", "x" * 65, "j\u00f6rg", "tab\t",
                                  "nl\n", "\x7f"],
                         ids=["empty", "colon", "space", "leading-space", "65-chars", "utf8",
                              "tab", "newline", "del"])
def test_refuses_names_the_loader_refuses(tmp_path, name):
    pw = tmp_path / "passwd"
    pw.write_text("# untouched\n")
    rc, out, err = passwd("-f", str(pw), name, stdin="pw\n")
    assert rc == 2, err
    assert "is not a user name: 1 to 64 printable ASCII characters without ':' or spaces" in err
    assert out == ""
    assert pw.read_text() == "# untouched\n"


def test_accepts_a_64_character_name(tmp_path):
    pw = tmp_path / "passwd"
    assert passwd("-f", str(pw), "x" * 64, stdin="pw\n")[0] == 0
    assert list(entries(pw)) == ["x" * 64]


@pytest.mark.parametrize("stdin,why", [
    (b"\n", "empty password refused; nothing changed"),
    (b"", "empty password refused; nothing changed"),
    (b"\r\n", "empty password refused; nothing changed"),
    (b"x" * 256 + b"\n", "password longer than 255 octets; nothing changed"),
    (b"x" * 300 + b"\n", "longer than 255 octets"),
    (b"p\xe4ss\n", "a password is 1 to 255 octets of UTF-8 without NUL; nothing changed"),
    (b"a\0b\n", "a password is 1 to 255 octets of UTF-8 without NUL; nothing changed"),
], ids=["empty-line", "eof", "cr-lf", "256-octets", "300-octets", "latin1", "nul"])
def test_refuses_bad_passwords(tmp_path, stdin, why):
    pw = tmp_path / "passwd"
    hashed = make_hash("keep")
    pw.write_text(f"alice:{hashed}\n")
    rc, out, err = passwd("-f", str(pw), "alice", stdin=stdin)
    assert rc == 1, err
    assert why in err
    assert out == ""
    assert pw.read_text() == f"alice:{hashed}\n"
    assert leftovers(tmp_path, "passwd") == []


def test_empty_password_creates_no_file(tmp_path):
    pw = tmp_path / "passwd"
    rc, _, err = passwd("-f", str(pw), "alice", stdin="\n")
    assert rc == 1 and "empty password refused" in err
    assert not pw.exists()


# ---- deleting and locking ----

def test_delete_removes_the_line_and_keeps_every_other_line(tmp_path):
    pw = tmp_path / "passwd"
    bob = make_hash("bobpw", "$2b$", 4)
    before = f"# users\nalice:{make_hash('a')}\n\nbob:{bob}\n# end\n"
    pw.write_text(before)
    os.chmod(pw, 0o640)
    rc, out, err = passwd("-f", str(pw), "--delete", "alice")
    assert (rc, out, err) == (0, f"{pw}: removed user 'alice'\n", "")
    assert pw.read_text() == f"# users\n\nbob:{bob}\n# end\n"
    assert stat.S_IMODE(pw.stat().st_mode) == 0o640
    assert leftovers(tmp_path, "passwd") == []


def test_delete_of_an_unknown_user_exits_1_and_changes_nothing(tmp_path):
    pw = tmp_path / "passwd"
    before = f"alice:{make_hash('a')}\n"
    pw.write_text(before)
    rc, out, err = passwd("-f", str(pw), "--delete", "bob")
    assert (rc, out) == (1, "")
    assert err == f"gate26 passwd: no user 'bob' in {pw}; nothing changed\n"
    assert pw.read_text() == before
    # Nor from a file that does not exist (which is not made).
    rc, _, err = passwd("-f", str(tmp_path / "none"), "--delete", "bob")
    assert rc == 1 and "no user 'bob'" in err
    assert not (tmp_path / "none").exists()


def test_lock_keeps_the_hash_behind_a_bang_and_a_new_password_unlocks(tmp_path):
    pw = tmp_path / "passwd"
    alice, bob = make_hash("apw"), make_hash("bpw", "$6$", 1000)
    pw.write_text(f"alice:{alice}\nbob:{bob}\n")
    rc, out, err = passwd("-f", str(pw), "--lock", "alice")
    assert (rc, err) == (0, "")
    assert out == f"{pw}: locked user 'alice' (no password works until one is set again)\n"
    assert pw.read_text() == f"alice:!{alice}\nbob:{bob}\n"
    # Twice: nothing to do, said so.
    rc, out, _ = passwd("-f", str(pw), "--lock", "alice")
    assert (rc, out) == (0, f"{pw}: user 'alice' is already locked\n")
    assert pw.read_text() == f"alice:!{alice}\nbob:{bob}\n"
    # The file still loads (the daemon's loader, through configtest -f's sibling: passwd on bob).
    rc, _, err = passwd("-f", str(pw), "bob", stdin="bob2\n")
    assert rc == 0, err
    assert entries(pw)["alice"] == "!" + alice
    # Setting alice's password unlocks her.
    rc, out, _ = passwd("-f", str(pw), "alice", stdin="fresh\n")
    assert (rc, out) == (0, f"{pw}: new password for user 'alice' (unlocked)\n")
    assert verifies("fresh", entries(pw)["alice"])


def test_lock_of_an_unknown_user_exits_1(tmp_path):
    pw = tmp_path / "passwd"
    before = f"alice:{make_hash('a')}\n"
    pw.write_text(before)
    rc, out, err = passwd("-f", str(pw), "--lock", "bob")
    assert (rc, out) == (1, "")
    assert err == f"gate26 passwd: no user 'bob' in {pw}; nothing changed\n"
    assert pw.read_text() == before


def test_lock_of_a_user_whose_line_is_broken_changes_nothing(tmp_path):
    pw = tmp_path / "passwd"
    before = "alice:$1$weak$hash\n"
    pw.write_text(before)
    rc, _, err = passwd("-f", str(pw), "--lock", "alice")
    assert rc == 1
    assert err.startswith(f"{pw}:1: weak or unknown hash for user 'alice'")
    assert err.endswith("; nothing changed\n")
    assert pw.read_text() == before


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_the_usage_on_stdout(flag):
    rc, out, err = passwd(flag)
    assert (rc, err) == (0, "")
    assert out.startswith("usage: gate26 passwd [-c CONFFILE] [-f PASSWDFILE] USER\n")
    for word in ("--delete USER", "--lock USER", "-f, --file FILE", "Exit status"):
        assert word in out, word


@pytest.mark.parametrize("args,why", [
    ([], "which USER?"),
    (["alice", "bob"], "one USER only"),
    (["-x", "alice"], "invalid option"),
    (["-f"], "requires an argument"),
    (["--delete", "--lock", "alice"], "--delete and --lock do not go together"),
    (["--delete"], "which USER?"),
], ids=["no-user", "two-users", "bad-option", "f-without-file", "delete-and-lock",
        "delete-without-user"])
def test_usage_errors_exit_2(tmp_path, args, why):
    rc, out, err = passwd(*args, stdin="pw\n")
    assert rc == 2
    assert why in err
    assert "usage: gate26 passwd [-c CONFFILE] [-f PASSWDFILE] USER" in err
    assert out == ""


def test_config_without_auth_block(tmp_path):
    conf = write_conf(tmp_path)
    rc, _, err = passwd("-c", str(conf), "alice", stdin="pw\n")
    assert rc == 1
    assert err == f"gate26 passwd: {conf} has no 'auth {{ passwd FILE }}' block (or give -f FILE)\n"


def test_bad_config_is_reported_with_its_line(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("hostname x\nbogus-key 1\n")
    rc, _, err = passwd("-c", str(conf), "alice", stdin="pw\n")
    assert rc == 1
    assert err.startswith(f"{conf}:2: ")


def test_f_overrides_the_config(tmp_path):
    conf = write_conf(tmp_path, "from-config")
    other = tmp_path / "other"
    assert passwd("-c", str(conf), "-f", str(other), "alice", stdin="pw\n")[0] == 0
    assert list(entries(other)) == ["alice"]
    assert not (tmp_path / "from-config").exists()


@pytest.mark.parametrize("line,why", [
    ("bob:$1$3SnxDuSZ$C8QiPN62uhw60M.Gc1UGX0", "weak or unknown hash for user 'bob'"),
    ("bob:abNANd1rDfiNc", "weak or unknown hash for user 'bob'"),
    ("bob:!", "expected a crypt(3) hash after 'bob:!' (a locked entry keeps its hash)"),
    ("bob:*", "weak or unknown hash for user 'bob'"),
    ("bob:$y$j9T$abc$", "malformed hash for user 'bob' (cut short?)"),
    ("bob", "expected 'USER:HASH'"),
    ("bad name:x", "expected a user name of 1 to 64"),
], ids=["md5", "des", "bang-alone", "star", "cut-short", "no-colon", "bad-name"])
def test_a_broken_file_is_left_alone(tmp_path, line, why):
    pw = tmp_path / "passwd"
    before = f"# users\n{line}\n"
    pw.write_text(before)
    rc, out, err = passwd("-f", str(pw), "alice", stdin="pw\n")
    assert rc == 1
    assert err.startswith(f"{pw}:2: {why}") and err.endswith("; nothing changed\n"), err
    assert pw.read_text() == before
    assert out == ""


def test_a_duplicate_of_another_user_is_left_alone(tmp_path):
    pw = tmp_path / "passwd"
    bob = make_hash("b")
    before = f"bob:{bob}\nbob:{bob}\n"
    pw.write_text(before)
    rc, _, err = passwd("-f", str(pw), "alice", stdin="pw\n")
    assert rc == 1
    assert err == f"{pw}:2: duplicate user 'bob' (first at line 1); nothing changed\n"
    assert pw.read_text() == before


def test_the_users_own_bad_lines_are_replaced(tmp_path):
    """A weak hash (or a duplicate) of the user being set is what the command fixes."""
    pw = tmp_path / "passwd"
    bob = make_hash("b")
    pw.write_text(f"alice:$1$3SnxDuSZ$C8QiPN62uhw60M.Gc1UGX0\nbob:{bob}\nalice:!\n")
    rc, out, err = passwd("-f", str(pw), "alice", stdin="fixed\n")
    assert rc == 0, err
    lines = pw.read_text().splitlines()
    assert len(lines) == 2 and lines[1] == f"bob:{bob}"
    assert lines[0].startswith("alice:$y$") and verifies("fixed", lines[0][6:])


def test_refuses_a_symbolic_link(tmp_path):
    real = tmp_path / "real"
    real.write_text("")
    link = tmp_path / "link"
    link.symlink_to(real)
    rc, _, err = passwd("-f", str(link), "alice", stdin="pw\n")
    assert rc == 1 and "is a symbolic link" in err
    assert real.read_text() == "" and link.is_symlink()


def test_missing_directory(tmp_path):
    rc, _, err = passwd("-f", str(tmp_path / "nope" / "passwd"), "alice", stdin="pw\n")
    assert rc == 1 and "cannot open directory" in err


@pytest.mark.parametrize("fault", ["open:1", "write:1", "fsync:1", "rename:1"])
def test_a_failure_leaves_the_file_as_it_was(tmp_path, fault):
    """GATE26_FAULT (debug builds with -Dfaults=true) fails one step of the write."""
    pw = tmp_path / "passwd"
    before = f"# keep\nalice:{make_hash('old')}\n"
    pw.write_text(before)
    rc, out, err = passwd("-f", str(pw), "alice", stdin="new\n", env={"GATE26_FAULT": fault})
    assert rc == 1, err
    assert "is unchanged" in err or "cannot create a temporary file" in err, err
    assert pw.read_text() == before
    assert leftovers(tmp_path, "passwd") == []
    assert out == ""


# ---- files made elsewhere ----

def test_a_file_of_yescrypt_bcrypt_and_sha512_lines_made_elsewhere_loads(tmp_path):
    """Lines as `mkpasswd -m yescrypt` (or bcrypt, sha512crypt) writes them: the
    loader accepts them (gate26 passwd loads the whole file with the daemon's
    parser before it changes anything) and they keep verifying."""
    pw = tmp_path / "passwd"
    made = {
        "y-default": ("pw-y", make_hash("pw-y")),
        "y-cost7": ("pw-y7", make_hash("pw-y7", "$y$", 7)),
        "bcrypt": ("pw-b", make_hash("pw-b", "$2b$", 5)),
        "sha512": ("pw-s", make_hash("pw-s", "$6$")),
        "sha512-rounds": ("pw-s2", make_hash("pw-s2", "$6$", 10000)),
        "gost": ("pw-g", make_hash("pw-g", "$gy$")),
    }
    assert made["y-default"][1].startswith("$y$j9T$")
    assert made["bcrypt"][1].startswith("$2b$05$")
    assert made["sha512"][1].startswith("$6$")
    pw.write_text("".join(f"{u}:{h}\n" for u, (_, h) in made.items()))
    rc, _, err = passwd("-f", str(pw), "new", stdin="pw-new\n")
    assert rc == 0, err
    users = entries(pw)
    for u, (p, h) in made.items():
        assert users[u] == h
        assert verifies(p, h)
    assert verifies("pw-new", users["new"])


# ---- the terminal ----

def run_on_pty(args, answers, timeout=30):
    """Runs gate26 passwd with a pty as its terminal; answers each prompt in
    turn. Returns (exit status, everything the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(BIN, [BIN, "passwd", *args])
    shown = b""
    pending = list(answers)
    answered = 0
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; terminal showed {shown!r}")
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child has gone
                    break
                if not chunk:
                    break
                shown += chunk
                # One answer per prompt, sent once the prompt is shown.
                while pending and answered < shown.count(b"password: "):
                    os.write(fd, pending.pop(0))
                    answered += 1
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_terminal_asks_twice_with_echo_off(tmp_path):
    pw = tmp_path / "passwd"
    rc, shown = run_on_pty(["-f", str(pw), "alice"], [b"tty secret\n", b"tty secret\n"])
    assert rc == 0, shown
    assert "New password:" in shown and "Retype new password:" in shown
    assert "tty secret" not in shown, f"the password was echoed: {shown!r}"
    assert verifies("tty secret", entries(pw)["alice"])


def test_terminal_mismatch_changes_nothing(tmp_path):
    pw = tmp_path / "passwd"
    rc, shown = run_on_pty(["-f", str(pw), "alice"], [b"one\n", b"two\n"])
    assert rc == 1
    assert "the passwords do not match" in shown
    assert not pw.exists()
