# SPDX-License-Identifier: MIT
"""The Debian package as an admin gets it (docs/packaging.md "The package").

Built once per session by `make deb` into a folder of the session's (a
release build with Debian's hardening flags), then again from the same
folder with a higher version and a changed conffile (dpkg-buildpackage -nc:
ninja has nothing to compile). Checked with dpkg-deb and lintian; then, in
one throwaway Debian 12 root made by mmdebstrap from this machine's apt
sources and entered with chroot, installed with apt (its dependencies come
from the registry), upgraded, removed and purged, in that order: each step
skips when the one before it failed. No init system runs in the root:
policy-rc.d denies every start, as in image builds.

Cached between runs in /var/cache/gate26-tests/: the minbase tarball,
named by a hash of what makes it (mmdebstrap's version, suite, variant,
sources) and remade once a week old; and the .deb files apt fetched, which
apt checks against the registry's index before it uses one. apt-get
update in the root reads the registry as it is now.

Parts of the tree that other parts of issue 16 add are expected in the
package as soon as the tree has them: the unit (contrib/systemd/
gate26.service), the sendmail command (meson's target gate26-sendmail) and
the man pages (docs/man/*.scd).
"""
import io
import re
import shutil
import subprocess
import tarfile
import time

import pytest

from conftest import (NEXT_CONF_LINE, ROOT, Steps, archives_out, changelog_version,
                      make_certificates, meson_version, root_from_tarball, run, say,
                      stop_processes_in)

CONF = "/etc/gate26/gate26.conf"
SPOOL = "/var/spool/gate26"
MAILDROP = "/var/spool/gate26-maildrop"
SENDMAIL = "/usr/libexec/gate26/sendmail"
PASSWD = "/etc/gate26/passwd"
SENDMAIL_MAN_LINK = "/usr/share/man/man8/sendmail.8.gz"
USER_LINE = "alice@example.com:$6$pkgtest$notarealhash\n"
ADMIN_LINE = "# pkgtest: the admin's edit\n"

# What other branches add, expected as soon as the tree has it.
HAS_UNIT = (ROOT / "contrib" / "systemd" / "gate26.service").is_file()
HAS_SENDMAIL = any("'gate26-sendmail'" in p.read_text() for p in ROOT.glob("src/**/meson.build"))
MAN_PAGES = sorted(p.name[:-len(".scd")] for p in ROOT.glob("docs/man/*.scd"))


def deb_members(deb):
    """{path: (mode, owner/group, link target)} from dpkg-deb -c."""
    out = run(["dpkg-deb", "-c", str(deb)], 60)
    members = {}
    for line in out.splitlines():
        m = re.match(r"(\S+) (\S+)\s+\d+ \S+ \S+ \./(\S*?)/?(?: -> (\S+))?$", line)
        assert m, f"unexpected dpkg-deb -c line: {line!r}"
        members["/" + m.group(3)] = (m.group(1), m.group(2), m.group(4))
    return members


def deb_file(deb, path):
    """The bytes of one file of a .deb."""
    p = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True,
                       timeout=60)
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as t:
        return t.extractfile("." + path).read()


def deb_field(deb, field):
    return run(["dpkg-deb", "-f", str(deb), field], 60).strip()


def expected_files():
    files = {"/usr/sbin/gate26", CONF, "/etc/fail2ban/filter.d/gate26.conf",
             "/etc/fail2ban/jail.d/gate26.conf", "/usr/lib/sysusers.d/gate26.conf",
             "/usr/share/gate26/grafana/gate26.json",
             "/usr/share/gate26/prometheus/gate26.rules.yml",
             "/usr/share/doc/gate26/copyright", "/usr/share/doc/gate26/changelog.gz"}
    if HAS_UNIT:
        files.add("/lib/systemd/system/gate26.service")
        files.add("/lib/systemd/system/gate26-console.service")
        files.add("/usr/share/gate26/systemd/capture.conf")
    if HAS_SENDMAIL:
        files.add(SENDMAIL)
    for page in MAN_PAGES:  # gate26.conf.5 -> /usr/share/man/man5/gate26.conf.5.gz
        files.add(f"/usr/share/man/man{page.rsplit('.', 1)[1]}/{page}.gz")
    return files


def test_changelog_version_is_meson_version():
    v = changelog_version(ROOT / "debian" / "changelog")
    assert re.split(r"[-+~]", v)[0] == meson_version(), \
        f"debian/changelog has {v}, meson.build {meson_version()}: bump both"


def test_contents(debs):
    members = deb_members(debs.deb1)
    missing = expected_files() - set(members)
    assert not missing, f"not in the package: {sorted(missing)}; it has {sorted(members)}"
    assert members["/usr/sbin/gate26"][:2] == ("-rwxr-xr-x", "root/root")
    # The documentation the configuration's comments point at (dh_compress gzips the larger).
    for doc in ["README.md"] + [p.name for p in (ROOT / "docs").glob("*.md")]:
        path = f"/usr/share/doc/gate26/{doc}"
        assert path in members or path + ".gz" in members, doc
    if HAS_SENDMAIL:  # set-group-id gate26drop by postinst, not in the .deb
        assert members[SENDMAIL][:2] == ("-rwxr-xr-x", "root/root")
    # Nothing of a build folder, no tests, and the spool is made by postinst, not shipped.
    strays = [p for p in members if re.search(r"/build|/obj-|/tests?/|/var/spool|/usr/bin/", p)]
    assert not strays, strays
    conffiles = run(["dpkg-deb", "--info", str(debs.deb1), "conffiles"], 60).split()
    assert sorted(conffiles) == sorted(p for p in members if p.startswith("/etc/")
                                       and members[p][0].startswith("-"))
    assert CONF in conffiles


def test_files_are_the_trees(debs):
    assert deb_file(debs.deb1, CONF) == (ROOT / "etc" / "gate26.conf").read_bytes()
    for tree, packaged in [("contrib/fail2ban/filter.d/gate26.conf",
                            "/etc/fail2ban/filter.d/gate26.conf"),
                           ("contrib/grafana/gate26.json", "/usr/share/gate26/grafana/gate26.json"),
                           ("contrib/prometheus/gate26.rules.yml",
                            "/usr/share/gate26/prometheus/gate26.rules.yml")]:
        assert deb_file(debs.deb1, packaged) == (ROOT / tree).read_bytes(), packaged
    if HAS_UNIT:
        for unit in ("gate26.service", "gate26-console.service"):
            assert deb_file(debs.deb1, f"/lib/systemd/system/{unit}") == \
                (ROOT / "contrib/systemd" / unit).read_bytes()
    # The jail: the tree's, disabled.
    jail = deb_file(debs.deb1, "/etc/fail2ban/jail.d/gate26.conf").decode()
    tree_jail = (ROOT / "contrib/fail2ban/jail.d/gate26.conf").read_text()
    assert re.findall(r"(?m)^enabled\s*=.*$", jail) == ["enabled  = false"], jail
    # Under the unit the log is the journal's: the jail reads it there.
    assert re.findall(r"(?m)^backend\s*=.*$", jail) == ["backend  = systemd"], jail
    assert "journalmatch = _SYSTEMD_UNIT=gate26.service" in jail
    assert not re.search(r"(?m)^logpath", jail)
    changed = r"(?m)^(enabled|backend|logpath|journalmatch)\s*=.*$"
    assert re.sub(changed, "", jail) == re.sub(changed, "", tree_jail)
    sysusers = deb_file(debs.deb1, "/usr/lib/sysusers.d/gate26.conf").decode()
    assert re.search(r"(?m)^u gate26\s", sysusers) and re.search(r"(?m)^g gate26drop\s", sysusers)


def test_control(debs):
    assert deb_field(debs.deb1, "Version") == debs.v1
    assert deb_field(debs.deb1, "Provides") == "mail-transport-agent"
    depends = deb_field(debs.deb1, "Depends")
    # shlibs found the libraries; sysusers brought its provider.
    for lib in ["libc6", "libevent-2.1-7", "libssl3", "libc-ares2", "libsqlite3-0"]:
        assert re.search(rf"\b{re.escape(lib)} \(>=", depends), depends
    assert "systemd | systemd-standalone-sysusers" in depends
    # ExecReload's /bin/kill: not in a minimal system (tests/pkg/test_service.py found it).
    assert re.search(r"(^|, )procps(,|$)", depends), depends


def test_lintian(debs, request):
    p = subprocess.run(["lintian", "--fail-on", "error", str(debs.changes1)], capture_output=True,
                       text=True, timeout=600)
    tags = [line for line in p.stdout.splitlines() if re.match(r"[EWIPXO]: ", line)]
    for line in tags:
        say(request, f"tests/pkg: lintian: {line}")
    errors = [line for line in tags if line.startswith("E: ")]
    assert not errors and p.returncode == 0, p.stdout + p.stderr


# --- The throwaway root -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def chroot(tmp_path_factory, request, debs):
    # No service starts in here (gate26's unit is not enabled anyway; systemd's own are).
    path = tmp_path_factory.mktemp("root")
    root = root_from_tarball(request, path, (debs.deb1, debs.deb2))
    try:
        yield root
    finally:
        stop_processes_in(path)  # every process left in it
        subprocess.run(["umount", str(root.file("/proc"))], check=True, timeout=60)
        shutil.rmtree(path)


steps = Steps()  # each test that the next ones build on says so when it passed


def configtest(root):
    # In a network namespace of its own (loopback up): the doors' ports are free there
    # whatever this machine runs.
    return root.run("gate26", "configtest", check=False,
                    prefix=("unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"',
                            "sh"))


def test_install(chroot, debs, request):
    root = chroot
    assert root.status() is None and not root.exists("/usr/sbin/sendmail")
    t0 = time.monotonic()
    root.apt("install", f"/root/{debs.deb1.name}")
    say(request, f"tests/pkg: apt-get install with its dependencies {time.monotonic() - t0:.0f} s")
    archives_out(root)
    assert root.status() == f"{debs.v1} ii"
    assert root.mode("/usr/sbin/gate26") == 0o755
    assert root.run("/usr/sbin/gate26", "version").stdout == f"gate26 {meson_version()}\n"
    # The user and group of sysusers.d.
    pw = root.run("getent", "passwd", "gate26").stdout.strip().split(":")
    assert pw[0] == "gate26" and int(pw[2]) < 1000 and pw[6] == "/usr/sbin/nologin", pw
    assert root.run("getent", "group", "gate26drop").stdout.startswith("gate26drop:")
    # The spool and the maildrop, made by postinst.
    assert root.file(SPOOL).is_dir() and not root.file(SPOOL).is_symlink()
    assert (root.mode(SPOOL), root.owner(SPOOL)) == (0o700, "gate26:gate26")
    assert (root.mode(MAILDROP), root.owner(MAILDROP)) == (0o1730, "gate26:gate26drop")
    # The conffile.
    assert root.file(CONF).read_bytes() == (ROOT / "etc" / "gate26.conf").read_bytes()
    conffiles = root.run("dpkg-query", "-W", "-f=${Conffiles}", "gate26").stdout
    assert re.search(rf"(?m)^ {re.escape(CONF)} [0-9a-f]{{32}}$", conffiles), conffiles
    # The password file, empty, for gate26 passwd.
    assert root.file(PASSWD).read_bytes() == b""
    assert (root.mode(PASSWD), root.owner(PASSWD)) == (0o640, "root:gate26")
    jail = root.file("/etc/fail2ban/jail.d/gate26.conf").read_text()
    assert re.findall(r"(?m)^enabled\s*=\s*(\S+)", jail) == ["false"]
    if HAS_UNIT:  # installed, not enabled: it needs a certificate and domains first
        assert root.file("/lib/systemd/system/gate26.service").is_file()
        assert root.file("/lib/systemd/system/gate26-console.service").is_file()
        enabled = list(root.file("/etc/systemd/system").rglob("gate26*.service"))
        assert not enabled, enabled
    if HAS_SENDMAIL:
        assert (root.mode(SENDMAIL), root.owner(SENDMAIL)) == (0o2755, "root:gate26drop")
        assert root.resolve("/usr/sbin/sendmail") == SENDMAIL
        assert root.resolve("/usr/lib/sendmail") == SENDMAIL
        if "gate26-sendmail.8" in MAN_PAGES:  # man sendmail
            assert root.resolve(SENDMAIL_MAN_LINK) == "/usr/share/man/man8/gate26-sendmail.8.gz"
    for page in MAN_PAGES:
        assert root.file(f"/usr/share/man/man{page.rsplit('.', 1)[1]}/{page}.gz").is_file()
    steps.done("test_install")


def test_configtest_passes_once_a_certificate_exists(chroot):
    steps.need("test_install")
    root = chroot
    certs = re.findall(r"(?m)^\s*cert\s+(/\S+)", root.file(CONF).read_text())
    assert certs
    p = configtest(root)
    assert p.returncode == 1 and certs[0] in p.stderr, p.stdout + p.stderr
    make_certificates(root, CONF)
    p = configtest(root)
    assert p.returncode == 0, p.stdout + p.stderr


def test_upgrade_keeps_the_admins_conffile(chroot, debs):
    steps.need("test_install")
    root = chroot
    with open(root.file(CONF), "a") as f:
        f.write(ADMIN_LINE)
    admin_conf = root.file(CONF).read_text()
    (root.file(SPOOL) / "pkgtest-queued").write_text("a message the upgrade must keep\n")
    root.file(PASSWD).write_text(USER_LINE)
    root.apt("install", f"/root/{debs.deb2.name}")
    assert root.status() == f"{debs.v2} ii"
    assert root.file(CONF).read_text() == admin_conf  # the admin's, untouched
    dist = root.file(CONF + ".dpkg-dist")
    assert dist.read_text() == (ROOT / "etc" / "gate26.conf").read_text() + NEXT_CONF_LINE
    assert (root.file(SPOOL) / "pkgtest-queued").exists()
    assert (root.mode(SPOOL), root.owner(SPOOL)) == (0o700, "gate26:gate26")
    assert root.file(PASSWD).read_text() == USER_LINE
    assert root.run("/usr/sbin/gate26", "version").returncode == 0
    if HAS_SENDMAIL:
        assert (root.mode(SENDMAIL), root.owner(SENDMAIL)) == (0o2755, "root:gate26drop")
        assert root.resolve("/usr/sbin/sendmail") == SENDMAIL
    steps.done("test_upgrade")


def test_remove_keeps_the_spool_and_configuration(chroot, debs):
    steps.need("test_upgrade")
    root = chroot
    root.apt("remove", "gate26")
    assert root.status() == f"{debs.v2} rc"
    assert not root.exists("/usr/sbin/gate26")
    assert ADMIN_LINE in root.file(CONF).read_text()
    assert root.file(PASSWD).read_text() == USER_LINE
    assert (root.file(SPOOL) / "pkgtest-queued").exists()
    assert (root.mode(SPOOL), root.owner(SPOOL)) == (0o700, "gate26:gate26")
    assert root.file(MAILDROP).is_dir()
    for link in ["/usr/sbin/sendmail", "/usr/lib/sendmail", SENDMAIL_MAN_LINK]:
        assert not root.exists(link), link
    if HAS_SENDMAIL:
        # Another MTA's /usr/sbin/sendmail (here a file of no package's): left alone.
        other = "#!/bin/sh\n# another MTA's\n"
        root.file("/usr/sbin/sendmail").write_text(other)
        root.apt("install", f"/root/{debs.deb2.name}")
        assert root.file("/usr/sbin/sendmail").read_text() == other
        assert not root.exists("/usr/lib/sendmail")
        assert root.run("update-alternatives", "--list", "sendmail", check=False).returncode != 0
        root.apt("remove", "gate26")
        assert root.file("/usr/sbin/sendmail").read_text() == other
        root.file("/usr/sbin/sendmail").unlink()
    steps.done("test_remove")


def test_purge_removes_them(chroot):
    steps.need("test_remove")
    root = chroot
    root.apt("purge", "gate26")
    assert root.status() is None or root.status().endswith(" un")
    for gone in ["/etc/gate26", SPOOL, MAILDROP, "/etc/fail2ban/jail.d/gate26.conf",
                 "/etc/fail2ban/filter.d/gate26.conf", "/usr/lib/sysusers.d/gate26.conf"]:
        assert not root.exists(gone), gone
    if HAS_UNIT:
        state = list(root.file("/var/lib/systemd").rglob("*gate26*"))
        assert not state, state
    # The user stays, as Debian leaves system users: files elsewhere may still be theirs.
    assert root.run("getent", "passwd", "gate26").returncode == 0
