# SPDX-License-Identifier: MIT
"""What the package tests share (tests/pkg): the two builds of the package
(the session's `debs`), the cached Debian 12 minbase tarball, and a root
made from it (Chroot), with the helpers to run commands and say timings.
See test_package.py for how the builds and the root are made and cached."""
import datetime
import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
CACHE = Path("/var/cache/gate26-tests")
TARBALL_MAX_AGE = 7 * 24 * 3600
ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                      check=True).stdout.strip()
CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
              "LANG": "C.UTF-8", "HOME": "/root"}
# Answers dpkg's conffile question as a non-interactive upgrade does: the admin's file stays,
# the package's new one is written beside it as .dpkg-dist.
KEEP_CONF = ["-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]
RETRIES = "Acquire::Retries=3"  # a download that fails now and then is tried again
NEXT_CONF_LINE = "# pkgtest: the next version's conffile\n"


def say(request, text):
    """A line in pytest's output, captured or not (timings, lintian's warnings)."""
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        request.config.pluginmanager.get_plugin("terminalreporter").write_line(text)


def run(cmd, timeout, cwd=None, log=None, env=None):
    """Runs cmd; its output into log (a path) when given; fails the test with its tail."""
    if log is None:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        out = p.stdout + p.stderr
    else:
        with open(log, "w") as f:
            p = subprocess.run(cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT,
                               timeout=timeout)
        out = Path(log).read_text(errors="replace")
    assert p.returncode == 0, f"{cmd} exited {p.returncode}:\n{out[-6000:]}"
    return out


def meson_version():
    m = re.search(r"project\('gate26',.*?version:\s*'([^']+)'", (ROOT / "meson.build").read_text(),
                  re.S)
    assert m, "no version in meson.build's project()"
    return m.group(1)


def changelog_version(path):
    return run(["dpkg-parsechangelog", "-l", str(path), "-S", "Version"], 60).strip()


class Debs:
    def __init__(self, folder, v1, v2):
        self.folder = folder
        self.v1, self.v2 = v1, v2
        self.deb1 = folder / f"gate26_{v1}_{ARCH}.deb"
        self.deb2 = folder / f"gate26_{v2}_{ARCH}.deb"
        self.changes1 = folder / f"gate26_{v1}_{ARCH}.changes"


@pytest.fixture(scope="session")
def debs(tmp_path_factory, request):
    """Two builds: make deb as it is, then version+pkgtest1 with a line added to the conffile."""
    out = tmp_path_factory.mktemp("deb")
    t0 = time.monotonic()
    run(["make", "-C", str(ROOT), "deb", f"DEB_BUILD={out}"], 3600, log=out / "build1.log")
    t1 = time.monotonic()
    src = out / "gate26"
    v1 = changelog_version(src / "debian" / "changelog")
    v2 = v1 + "+pkgtest1"
    log = (src / "debian" / "changelog").read_text()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
    (src / "debian" / "changelog").write_text(
        f"gate26 ({v2}) {SUITE}; urgency=medium\n\n"
        "  * tests/pkg: the next version, with a changed conffile.\n\n"
        f" -- gate26 tests <tests@gate26.invalid>  {stamp}\n\n" + log)
    with open(src / "etc" / "gate26.conf", "a") as f:
        f.write(NEXT_CONF_LINE)
    run(["dpkg-buildpackage", "-b", "-us", "-uc", "-nc"], 3600, cwd=src, log=out / "build2.log")
    t2 = time.monotonic()
    say(request, f"tests/pkg: make deb {t1 - t0:.0f} s (a release build), "
                 f"the next version {t2 - t1:.0f} s")
    d = Debs(out, v1, v2)
    assert d.deb1.is_file() and d.deb2.is_file(), sorted(p.name for p in out.iterdir())
    shutil.rmtree(src)  # the source copy and its build folder: hundreds of MB
    yield d
    shutil.rmtree(out, ignore_errors=True)


def host_sources():
    """The machine's apt sources for SUITE (deb822 stanzas and one-line entries), as text."""
    out = []
    paths = [Path("/etc/apt/sources.list")]
    d = Path("/etc/apt/sources.list.d")
    if d.is_dir():
        paths += sorted(d.glob("*.list")) + sorted(d.glob("*.sources"))
    for path in paths:
        if not path.is_file():
            continue
        text = path.read_text()
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                suites = re.search(r"(?mi)^Suites:\s*(.*)$", stanza)
                types = re.search(r"(?mi)^Types:\s*(.*)$", stanza)
                if suites and types and "deb" in types.group(1).split() and any(
                        s.startswith(SUITE) for s in suites.group(1).split()):
                    out.append(stanza.strip() + "\n")
        else:
            lines = [line for line in text.splitlines()
                     if re.match(rf"deb\s+(\[[^]]*\]\s+)?\S+\s+{SUITE}\S*\s", line)]
            if lines:
                out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def base_tarball(request):
    """mmdebstrap --variant=minbase SUITE, cached by what makes it, remade when a week old."""
    sources = host_sources()
    version = run(["mmdebstrap", "--version"], 60).strip()
    options = ["--variant=minbase", "--mode=root", "--format=tar",
               '--aptopt=Acquire::Retries "3"', SUITE]
    key = hashlib.sha256(f"{version}\n{options}\n{sources}".encode()).hexdigest()[:16]
    CACHE.mkdir(parents=True, exist_ok=True)
    tar = CACHE / f"{SUITE}-minbase-{key}.tar"
    for old in CACHE.glob(f"{SUITE}-minbase-*.tar*"):
        if old != tar or not old.is_file() or time.time() - old.stat().st_mtime > TARBALL_MAX_AGE:
            shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
    if not tar.exists():
        t0 = time.monotonic()
        tmp = CACHE / f"{tar.name}.new"
        cmd = ["mmdebstrap", *options, str(tmp)]
        if sources:
            srcfile = CACHE / "sources.tmp"
            srcfile.write_text(sources)
            cmd.append(str(srcfile))
        try:
            run(cmd, 1800, log=CACHE / "mmdebstrap.log")
        finally:
            if sources:
                srcfile.unlink()
        tmp.rename(tar)
        say(request, f"tests/pkg: made {tar} in {time.monotonic() - t0:.0f} s")
    else:
        age = (time.time() - tar.stat().st_mtime) / 3600
        say(request, f"tests/pkg: {tar}, made {age:.1f} h ago (remade after a week)")
    return tar


def processes_in(root):
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "root") == str(root):
                    pids.append(int(entry.name))
            except OSError:
                pass  # gone meanwhile
    return pids


class Chroot:
    def __init__(self, path):
        self.path = path

    def file(self, p):
        return self.path / p.lstrip("/")

    def run(self, *args, check=True, timeout=600, prefix=()):
        p = subprocess.run([*prefix, "chroot", str(self.path), *args], env=CHROOT_ENV,
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check:
            out = (p.stdout + p.stderr)[-6000:]
            assert p.returncode == 0, f"{args} exited {p.returncode}:\n{out}"
        return p

    def apt(self, *args):
        return self.run("apt-get", "-y", "-q", "-o", RETRIES, *KEEP_CONF, *args)

    def status(self):
        p = self.run("dpkg-query", "-W", "-f=${Version} ${db:Status-Abbrev}", "gate26",
                     check=False)
        return p.stdout.strip() if p.returncode == 0 else None

    def ids(self, db):
        """name -> id from the root's /etc/passwd or /etc/group."""
        out = {}
        for line in self.file(f"/etc/{db}").read_text().splitlines():
            f = line.split(":")
            out[f[0]] = int(f[2])
        return out

    def owner(self, p):
        st = os.lstat(self.file(p))
        users = {v: k for k, v in self.ids("passwd").items()}
        groups = {v: k for k, v in self.ids("group").items()}
        return f"{users.get(st.st_uid, st.st_uid)}:{groups.get(st.st_gid, st.st_gid)}"

    def mode(self, p):
        return stat.S_IMODE(os.lstat(self.file(p)).st_mode)

    def resolve(self, p):
        """Follows symbolic links inside the root (ten at most); the path at the end."""
        for _ in range(10):
            f = self.file(p)
            if not f.is_symlink():
                return p
            target = os.readlink(f)
            p = target if target.startswith("/") else os.path.normpath(
                os.path.join(os.path.dirname(p), target))
        raise AssertionError(f"{p}: too many links")

    def exists(self, p):
        return os.path.lexists(self.file(p))


def archives_in(root):
    """The .deb files apt fetched in earlier runs, into the root's apt cache."""
    cache = CACHE / "archives"
    cache.mkdir(parents=True, exist_ok=True)
    for deb in cache.glob("*.deb"):
        shutil.copy2(deb, root.file("/var/cache/apt/archives") / deb.name)


def archives_out(root):
    """The root's apt cache becomes the cache (what this run did not use is dropped)."""
    cache = CACHE / "archives"
    fetched = {p.name: p for p in root.file("/var/cache/apt/archives").glob("*.deb")}
    for deb in cache.glob("*.deb"):
        if deb.name not in fetched:
            deb.unlink()
    for name, p in fetched.items():
        if not (cache / name).exists():
            shutil.copy2(p, cache / name)


def stop_processes_in(path, signals=(signal.SIGTERM,) * 5 + (signal.SIGKILL,) * 5):
    """Every process whose root is path, stopped by PID: each signal in turn, 0.5 s apart,
    until none is left."""
    for signo in signals:
        pids = processes_in(path)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signo)
            except ProcessLookupError:
                pass
        time.sleep(0.5)


def root_from_tarball(request, path, debs):
    """A Debian 12 root at path from the cached minbase tarball, ready for apt: /proc
    mounted (umount it before removing the root), policy-rc.d denying every start,
    this machine's resolv.conf, the .deb files given in /root, the cached archives, and
    apt-get update done."""
    tar = base_tarball(request)
    t0 = time.monotonic()
    run(["tar", "-C", str(path), "-xf", str(tar)], 600)
    root = Chroot(path)
    proc = root.file("/proc")
    subprocess.run(["mount", "-t", "proc", "proc", str(proc)], check=True, timeout=60)
    try:
        policy = root.file("/usr/sbin/policy-rc.d")
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        shutil.copy2("/etc/resolv.conf", root.file("/etc/resolv.conf"))
        for deb in debs:
            shutil.copy2(deb, root.file("/root") / deb.name)
        archives_in(root)
        root.run("apt-get", "update", "-q", "-o", RETRIES, timeout=900)
    except BaseException:
        stop_processes_in(path)
        subprocess.run(["umount", str(proc)], check=True, timeout=60)
        raise
    say(request, f"tests/pkg: the root ready in {time.monotonic() - t0:.0f} s")
    return root


class Steps:
    """The tests of a module that build on each other (install, upgrade, remove; start,
    reload, stop): a test calls done(NAME) once it passed, and one that needs it calls
    need(NAME) first, which skips it, naming the step, when that one failed."""

    def __init__(self):
        self.passed = set()

    def done(self, name):
        self.passed.add(name)

    def need(self, name):
        if name not in self.passed:
            pytest.skip(f"needs {name}, which failed")


def make_certificates(root, conf):
    """A self-signed certificate and key (root:gate26, 0640) at each cert and key path the
    configuration conf of root names, as an admin makes them before the first start."""
    text = root.file(conf).read_text()
    certs = re.findall(r"(?m)^\s*cert\s+(/\S+)", text)
    keys = re.findall(r"(?m)^\s*key\s+(/\S+)", text)
    assert certs and len(certs) == len(keys), (certs, keys)
    for cert, key in zip(certs, keys):
        for f in (cert, key):
            root.file(os.path.dirname(f)).mkdir(parents=True, exist_ok=True)
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
             "-subj", "/CN=mx.example.com", "-keyout", str(root.file(key)),
             "-out", str(root.file(cert))], 120)
        root.run("chown", "root:gate26", key)
        root.run("chmod", "0640", key)

