# SPDX-License-Identifier: MIT
"""App passwords and the second factor's effect on SMTP AUTH (issue 15,
docs/console.md "Accounts"), with the real daemon, smtplib and raw lines
inside TLS, and `gate26 app-password` / `gate26 totp` as an admin runs them
(while the daemon runs: the store is made after it started, and found
without a reload). An app password works on its doors only; a revoked one,
one on another door and the main password where `auth { app-passwords }`
forbids it each fail as a wrong password does (535 5.7.8), are logged with
their reason and count in the lockout; last use is recorded. TOTP codes
are computed here (RFC 6238 with hmac and struct)."""
import base64
import hashlib
import hmac
import json
import re
import smtplib
import struct
import subprocess
import time

import pytest

from certs import CA
from conftest import BIN, assert_serving, wait_for
from test_auth import USERS, Line, auth_gateway, ctx, plain

ALICE, BOB = "alice@ours.test", "bob"
FAILED = "535 5.7.8 Authentication credentials invalid"


@pytest.fixture
def ca(tmp_path):
    return CA(tmp_path / "pki")


def cli(g, *args, code=0):
    p = subprocess.run([BIN, *args[:1], "-c", str(g.conf), *args[1:]], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == code, (p.stdout, p.stderr)
    return p


def add(g, user, name, doors=None):
    p = cli(g, "app-password", "add", user, name, *(["--doors", doors] if doors else []))
    ident = int(re.search(r"^id: (\d+)$", p.stdout, re.M).group(1))
    password = re.search(r"^password: ([a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4})$", p.stdout,
                         re.M).group(1)
    return ident, password


def listed(g, user=None):
    return json.loads(cli(g, "app-password", "list", *([user] if user else []), "--json").stdout)


def totp(secret, t=None):
    """RFC 6238: HOTP (RFC 4226 5.3) of the 30-second step."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", int((t or time.time()) // 30)), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


def enrol(g, user):
    secret = re.search(r"^secret: ([A-Z2-7]+)$", cli(g, "totp", "enrol", user).stdout,
                       re.M).group(1)
    p = cli(g, "totp", "confirm", user, totp(secret))
    codes = p.stdout.splitlines()[2:]
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{10}", c) for c in codes), p.stdout
    return secret


def login(g, user, password, door="submission"):
    """One AUTH PLAIN on a new connection: (code, first reply line)."""
    c = Line(g.port(door), implicit=door == "submissions")
    code, lines = c.cmd("AUTH PLAIN " + plain(user, password))
    c.close()
    return code, lines[0]


def test_app_password_on_its_door_and_last_use(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path)
    ident, password = add(g, ALICE, "phone", "submission")  # after the start: no reload
    assert listed(g, ALICE)[0]["last_used"] is None
    # As shown, and as a client might keep it (no spaces, upper case): with smtplib and STARTTLS.
    for form in (password, password.replace(" ", ""), password.upper()):
        with smtplib.SMTP("127.0.0.1", g.port("submission"), timeout=10) as s:
            s.starttls(context=ctx())
            assert s.login(ALICE, form)[0] == 235
            s.sendmail(ALICE, ["someone@far.test"], b"Subject: app\r\n\r\nsent with it\r\n")
    assert len(g.queue_files()) == 3
    assert f'event=auth, user="{ALICE}", mech=PLAIN, app-password={ident}' in g.log()
    (row,) = listed(g, ALICE)
    assert row["id"] == ident and row["name"] == "phone" and row["doors"] == ["submission"]
    assert row["last_from"] == "127.0.0.1" and row["revoked"] is None
    assert abs(time.mktime(time.strptime(row["last_used"], "%Y-%m-%dT%H:%M:%SZ"))
               - time.mktime(time.gmtime())) < 600
    # Not on a door it was not made for: the reply of a wrong password.
    assert login(g, ALICE, password, "submissions") == (535, FAILED)
    assert (f'door=submissions, event=auth-failed, user="{ALICE}", '
            "reason=app-password-wrong-door") in g.log()
    # Not for another user; the main password still works (app-passwords off).
    assert login(g, BOB, password) == (535, FAILED)
    assert f'event=auth-failed, user="{BOB}", reason=bad-credentials' in g.log()
    assert login(g, ALICE, USERS[ALICE], "submissions")[0] == 235
    assert password not in g.log() and password.replace(" ", "") not in g.log()
    assert_serving(g, "submission")


def test_revoked_app_password_fails_and_is_logged(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path)
    ident, password = add(g, BOB, "laptop")
    other, other_password = add(g, BOB, "phone")
    assert login(g, BOB, password)[0] == 235
    assert "revoked app password %d of bob" % ident in cli(g, "app-password", "revoke", BOB,
                                                           str(ident)).stdout
    assert login(g, BOB, password) == (535, FAILED)
    assert login(g, BOB, password, "submissions") == (535, FAILED)
    assert 'event=auth-failed, user="bob", reason=app-password-revoked' in g.log()
    assert login(g, BOB, other_password, "submissions")[0] == 235  # the other one lives on
    rows = {r["id"]: r for r in listed(g)}
    assert rows[ident]["revoked"] is not None and rows[other]["revoked"] is None
    # Revoking what is not there, or someone else's.
    assert "has no app password" in cli(g, "app-password", "revoke", ALICE, str(other),
                                        code=1).stderr
    cli(g, "app-password", "revoke", BOB, "0", code=2)
    cli(g, "app-password", "revoke", BOB, "1; DROP TABLE app_passwords", code=2)
    assert len(listed(g)) == 2


def test_main_password_refused_with_app_passwords_required(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path, auth_extra="    app-passwords required\n")
    _, password = add(g, ALICE, "phone")
    assert login(g, ALICE, USERS[ALICE]) == (535, FAILED)
    assert f'user="{ALICE}", reason=main-password-forbidden' in g.log()
    # A wrong main password is still a wrong password, not a forbidden one.
    assert login(g, BOB, "wrong") == (535, FAILED)
    assert 'user="bob", reason=bad-credentials' in g.log()
    assert login(g, BOB, USERS[BOB], "submissions") == (535, FAILED)
    with smtplib.SMTP_SSL("127.0.0.1", g.port("submissions"), context=ctx(), timeout=10) as s:
        assert s.login(ALICE, password)[0] == 235


def test_totp_users_need_app_passwords(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path, auth_extra="    app-passwords totp-users\n")
    # Not enrolled yet: the main password works.
    assert login(g, ALICE, USERS[ALICE])[0] == 235
    secret = enrol(g, ALICE)
    assert login(g, ALICE, USERS[ALICE]) == (535, FAILED)
    assert f'user="{ALICE}", reason=main-password-forbidden' in g.log()
    assert login(g, BOB, USERS[BOB])[0] == 235  # bob is not enrolled
    _, password = add(g, ALICE, "phone")
    assert login(g, ALICE, password)[0] == 235
    # Enrolled once: a second enrolment is refused; removed, the main password works again.
    assert "enrolled already" in cli(g, "totp", "enrol", ALICE, code=1).stderr
    assert secret not in g.log()
    cli(g, "totp", "remove", ALICE)
    assert login(g, ALICE, USERS[ALICE])[0] == 235


@pytest.mark.parametrize("code", ["000000", "12345", "1234567", "12a456", "' OR 1=1 --", ""])
def test_totp_confirm_refuses_bad_codes(gateway, ca, tmp_path, code):
    g = auth_gateway(gateway, ca, tmp_path)
    secret = re.search(r"^secret: ([A-Z2-7]{32})$", cli(g, "totp", "enrol", BOB).stdout,
                       re.M).group(1)
    if code == "000000" and totp(secret) == code:
        code = "000001"
    assert "wrong code" in cli(g, "totp", "confirm", BOB, code, code=1).stderr
    good = totp(secret)
    cli(g, "totp", "confirm", BOB, good)
    # The same code again (a replay) cannot confirm nor enrol anew.
    assert "enrolled already" in cli(g, "totp", "confirm", BOB, good, code=1).stderr


def test_lockout_counts_these_failures(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path,
                     auth_extra="    app-passwords required\n    max-failures 3/1m\n"
                                "    lockout 60s\n")
    revoked, revoked_password = add(g, BOB, "old")
    cli(g, "app-password", "revoke", BOB, str(revoked))
    _, door_password = add(g, BOB, "phone", "submissions")
    c = Line(g.port("submission"))
    assert c.cmd("AUTH PLAIN " + plain(BOB, revoked_password)) == (535, [FAILED])
    assert c.cmd("AUTH PLAIN " + plain(BOB, door_password)) == (535, [FAILED])
    assert c.cmd("AUTH PLAIN " + plain(BOB, USERS[BOB])) == (535, [FAILED])
    assert c.cmd("AUTH PLAIN " + plain(BOB, door_password))[0] == 454
    assert c.closed()
    c.close()
    log = g.log()
    assert "reason=app-password-revoked" in log and "reason=app-password-wrong-door" in log
    assert "reason=main-password-forbidden, locked=yes" in log


def test_cli_bad_input(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path)
    assert "no user 'carol'" in cli(g, "app-password", "add", "carol", "x", code=1).stderr
    for doors in ("inbound", "submission,submission", "smtp", "", "submission,"):
        assert "--doors" in cli(g, "app-password", "add", BOB, "x", "--doors", doors,
                                code=2).stderr
    for name in ("", "a\tb", "x" * 65, "line\nbreak"):
        cli(g, "app-password", "add", BOB, name, code=2)
    cli(g, "app-password", "add", BOB, code=2)
    cli(g, "app-password", "frobnicate", code=2)
    cli(g, "totp", "enrol", code=2)
    cli(g, "totp", "confirm", BOB, code=2)
    assert "no user" in cli(g, "totp", "enrol", "nobody", code=1).stderr
    # A name with quotes and SQL is data, listed back as it was (JSON-escaped).
    name = 'x"); DROP TABLE app_passwords; --'
    add(g, BOB, name)
    assert [r["name"] for r in listed(g, BOB)] == [name]
    assert listed(g, ALICE) == []
    assert "ID" in cli(g, "app-password", "list").stdout


def test_locked_or_deleted_user_loses_app_passwords(gateway, ca, tmp_path):
    g = auth_gateway(gateway, ca, tmp_path)
    _, password = add(g, BOB, "phone")
    assert login(g, BOB, password)[0] == 235
    p = subprocess.run([BIN, "passwd", "-f", str(tmp_path / "passwd"), "--lock", BOB],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    g.hup()
    wait_for(lambda: login(g, BOB, password) == (535, FAILED), what="the lock to take effect")
    assert 'user="bob", reason=locked-user' in g.log()
    assert "no user 'bob'" in cli(g, "app-password", "add", BOB, "tablet", code=1).stderr
