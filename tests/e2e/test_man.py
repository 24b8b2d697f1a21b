# SPDX-License-Identifier: MIT
"""The man pages and the production configuration (docs/packaging.md, "Man pages").

Each page of docs/man/ goes through scdoc and renders with man -l (groff's
warnings all on) without a warning; tools/check-man-keys finds every key of
docs/config.md in gate26.conf(5) and every key of the parser in
docs/config.md, and names a key removed from a doctored copy; gate26(8)
has every command of src/main.c's table; etc/gate26.conf passes configtest
once its certificate (and password file) exist.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, ROOT, give_key

MAN = ROOT / "docs" / "man"
PAGES = ("gate26.8", "gate26.conf.5", "gate26-check.8", "gate26-sendmail.8")
CHECK = ROOT / "tools" / "check-man-keys"
PROD = ROOT / "etc" / "gate26.conf"

needs_scdoc = pytest.mark.skipif(shutil.which("scdoc") is None,
                                 reason="scdoc is not installed (tools/install-deps)")


def scdoc(source, out):
    with open(source, "rb") as f:
        roff = subprocess.run(["scdoc"], stdin=f, capture_output=True, timeout=30)
    assert roff.returncode == 0, roff.stderr.decode()
    out.write_bytes(roff.stdout)
    return out


def man(path):
    """man -l PATH with every groff warning on: (stdout, stderr)."""
    env = dict(os.environ, MANROFFSEQ="", MANWIDTH="80", LC_ALL="C.UTF-8")
    r = subprocess.run(["man", "--warnings=w", "-l", str(path)], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout, r.stderr


@needs_scdoc
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_warnings(page, tmp_path):
    out, err = man(scdoc(MAN / f"{page}.scd", tmp_path / page))
    assert err == ""
    name, section = page.rsplit(".", 1)
    assert out.startswith(f"{name}({section})")
    assert "NAME" in out and "SEE ALSO" in out


@needs_scdoc
def test_a_roff_warning_is_seen(tmp_path):
    """The check above can fail: a page with an unknown request warns."""
    page = scdoc(MAN / "gate26.8.scd", tmp_path / "gate26.8")
    page.write_bytes(page.read_bytes() + b".frobnicate\n")
    _, err = man(page)
    assert "frobnicate" in err and "warning" in err


@pytest.mark.parametrize("page", PAGES)
def test_no_text_line_starts_with_a_roff_control_character(page):
    """scdoc passes a line's first '.' or "'" on to roff, which takes the line
    for a request and drops its text: such a line must be reworded."""
    in_code = False
    for no, line in enumerate((MAN / f"{page}.scd").read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if not in_code and line.lstrip()[:1] in (".", "'"):
            pytest.fail(f"{page}.scd:{no}: starts with a roff control character: {line!r}")


def run_check(*args):
    return subprocess.run([str(CHECK), *map(str, args)], capture_output=True, text=True,
                          timeout=60)


def test_every_key_of_config_md_is_in_gate26_conf_5():
    r = run_check("--source", ROOT / "src" / "conf")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    n = int(re.search(r"(\d+) keys", r.stdout).group(1))
    assert n >= 90  # every scope's keys were found, not a few


def test_key_check_names_a_key_removed_from_the_page(tmp_path):
    page = tmp_path / "gate26.conf.5.scd"
    text = (MAN / "gate26.conf.5.scd").read_text()
    # Two entries lose their bold term: one key name unique to its block, one
    # that other blocks have too (tls of the delivery block).
    text = text.replace("*tls-policy* _DOMAIN_", "tls-policy _DOMAIN_", 1)
    i = text.index("## DELIVERY BLOCK")
    j = text.index("*tls* *none*|*may*", i)
    text = text[:j] + text[j:].replace("*tls* *none*", "tls *none*", 1)
    page.write_text(text)
    r = run_check("--page", page)
    assert r.returncode == 1
    assert "'tls-policy' of the delivery block" in r.stderr
    assert "'tls' of the delivery block" in r.stderr
    assert "'tls' of the listen block" not in r.stderr
    assert "'tls' of the domain block" not in r.stderr


def test_key_check_names_a_page_key_that_config_md_lacks(tmp_path):
    page = tmp_path / "gate26.conf.5.scd"
    text = (MAN / "gate26.conf.5.scd").read_text()
    page.write_text(text.replace("## METRICS BLOCK\n",
                                 "## METRICS BLOCK\n\n*port* _NUMBER_\n\tNo such key.\n", 1))
    r = run_check("--page", page)
    assert r.returncode == 1
    assert re.search(r"gate26\.conf\.5\.scd:\d+: key 'port' of the metrics block is not in",
                     r.stderr), r.stderr


def test_key_check_names_a_key_added_to_a_config_md_table(tmp_path):
    md = tmp_path / "config.md"
    text = (ROOT / "docs" / "config.md").read_text()
    row = "| `max-sessions` | a number from 1 to 1000000 | `1000` |\n"
    assert row in text
    md.write_text(text.replace(row, row + "| `max-frobs` | a number | `3` |\n", 1))
    r = run_check("--config-md", md)
    assert r.returncode == 1
    assert "no entry for key 'max-frobs' at top level" in r.stderr


def test_key_check_names_a_parser_key_config_md_lacks(tmp_path):
    src = tmp_path / "conf"
    shutil.copytree(ROOT / "src" / "conf", src)
    settings = src / "settings.c"
    text = settings.read_text()
    row = '    {"queue-only", 1, false, set_queue_only},\n'
    assert row in text
    settings.write_text(text.replace(row, row + '    {"bounce-to", 1, false, set_x},\n', 1))
    r = run_check("--source", src)
    assert r.returncode == 1
    assert "the parser takes key 'bounce-to' of the delivery block" in r.stderr


def test_gate26_8_has_every_command():
    main_c = (ROOT / "src" / "main.c").read_text()
    table = main_c[main_c.index("} commands[] = {"):]
    names = re.findall(r'\{"([a-z-]+)", cmd_', table[:table.index("};")])
    assert len(names) >= 18
    page = (MAN / "gate26.8.scd").read_text()
    for name in names + ["sendmail"]:
        assert re.search(rf"^\*{re.escape(name)}[* ]", page, re.M), f"gate26(8) lacks {name}"


def configtest(conf):
    """gate26 configtest in a network namespace of its own: the production
    doors' ports (25, 26, 465, 587) are free there whatever this machine runs."""
    return subprocess.run(["unshare", "--net", "sh", "-c",
                           'ip link set lo up && exec "$0" configtest -c "$1"', BIN, str(conf)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(os.geteuid() != 0, reason="configtest of the production doors needs root")
def test_production_config_passes_configtest_once_a_certificate_exists(tmp_path, certs):
    text = PROD.read_text()
    # What the package's paths are: the test moves only /etc/gate26 aside.
    for line in ("cert  /etc/gate26/tls/cert.pem", "key   /etc/gate26/tls/key.pem",
                 "passwd          /etc/gate26/passwd", "spool        /var/spool/gate26",
                 "user         gate26"):
        assert re.search(rf"^\s*{re.escape(line)}\s*(#|$)", text, re.M), line
    etc = tmp_path / "etc"
    (etc / "tls").mkdir(parents=True)
    for d in (etc, etc / "tls"):
        d.chmod(0o755)
    conf = etc / "gate26.conf"
    conf.write_text(text.replace("/etc/gate26/", f"{etc}/"))
    conf.chmod(0o644)
    passwd = etc / "passwd"  # the package makes it empty: the submission doors need one
    passwd.write_text("")
    give_key(passwd)

    r = configtest(conf)
    assert r.returncode == 1
    assert f"cannot read certificate '{etc}/tls/cert.pem'" in r.stderr

    shutil.copy(certs[0], etc / "tls" / "cert.pem")
    shutil.copy(certs[1], etc / "tls" / "key.pem")
    give_key(etc / "tls" / "key.pem")
    r = configtest(conf)
    assert r.returncode == 0, r.stderr
    assert "configuration ok (4 listen blocks, 1 domain)" in r.stdout
    # Warnings only about this machine's name (hostname is left to the admin).
    for w in r.stderr.splitlines():
        assert "'hostname' is not set" in w, w
