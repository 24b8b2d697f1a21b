/* SPDX-License-Identifier: MIT */
/*
 * gate26 audit: the running system (docs/check.md, "gate26 audit").
 *
 * - the firewall: firewall_installed() (src/firewall) against the SHA-256
 *   of the configuration file's bytes, which `gate26 firewall` writes into
 *   the table's comment;
 * - the daemon: its pid from the spool's lock (/proc/locks) or else from
 *   the control socket's SO_PEERCRED; /proc/PID/exe against the installed
 *   binary (--binary, or this process's own /proc/self/exe): "(deleted)"
 *   or another device and inode means it runs an older binary;
 * - the scanners it saw: the control verb scanners-json (docs/scanners.md);
 * - gate26 check --local -c FILE, in-process (src/check);
 * - AUTH in clear: one EHLO to each door that is not implicit TLS, by
 *   gate26 check's probe (src/check/probe.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit/audit_impl.h"
#include "ctl/ask.h"
#include "ctl/call.h"
#include "ctl/ctl.h"
#include "firewall/firewall.h"
#include "lib/io.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "spool/spool.h"

/* The daemon answers the control socket at once; one that does not within this is as gone. */
#define AUDIT_CTL_TIMEOUT_S 10
/* The most of a scanners-json answer read (4096 sources and as many /24s fit). */
#define AUDIT_SCANNERS_MAX (16 * 1024 * 1024)
/* Each step of the EHLO probe (connect, greeting, EHLO). */
#define AUDIT_PROBE_TIMEOUT_MS 5000

/* ---- the firewall ---- */

int
audit_file_sha256(const char *path, char hex[65])
{
    unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), ok = 1, e = 0;

    if (fd == -1)
        return -1;
    ctx = EVP_MD_CTX_new();
    ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    while (ok) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            e = errno;
            ok = 0;
        }
        if (n <= 0)
            break;
        ok = EVP_DigestUpdate(ctx, buf, (size_t)n) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    (void)close(fd);
    if (!ok) {
        errno = e != 0 ? e : EIO;
        return -1;
    }
    for (unsigned i = 0; i < 32; i++)
        (void)str_fmt(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

void
audit_firewall(const struct conf *c, struct check_findings *f)
{
    char want[65], have[65], err[512];
    int rc;

    if (audit_file_sha256(c->path, want) == -1) {
        check_add(f, "audit.firewall-unchecked", CHECK_INFO,
                  "the firewall table was not compared: %s: %s", c->path, strerror(errno));
        return;
    }
    err[0] = '\0';
    rc = firewall_installed(have, sizeof(have), err, sizeof(err));
    if (rc == -1) {
        check_add(f, "audit.firewall-unchecked", CHECK_INFO,
                  "the firewall table could not be read: %s", err);
        check_fix(f, "run gate26 audit as root (nftables needs CAP_NET_ADMIN)");
    } else if (rc == 0) {
        check_add(f, "audit.firewall-missing", CHECK_WARN,
                  "no nftables table %s: every door is open to whoever reaches this host, and "
                  "no scanner is dropped",
                  FIREWALL_TABLE);
        check_fix(f, "gate26 firewall -c %s --apply", c->path);
    } else if (strcmp(have, want) != 0) {
        check_add(f, "audit.firewall-outdated", CHECK_WARN,
                  "table %s is older than the configuration: it was made from a file whose "
                  "SHA-256 is %.12s..., %s's is %.12s...",
                  FIREWALL_TABLE, have[0] != '\0' ? have : "(none)", c->path, want);
        check_fix(f, "gate26 firewall -c %s --apply", c->path);
    } else {
        check_add(f, "audit.firewall", CHECK_OK, "table %s matches %s", FIREWALL_TABLE, c->path);
    }
}

/* ---- the daemon ---- */

/* The daemon's pid: the spool lock's holder, else the control socket's peer; -1: none. */
static long
daemon_pid(const struct conf *c)
{
    char path[CAP_PATH + 16], sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct ucred cred;
    socklen_t len = sizeof(cred);
    long pid = -1;
    int fd;

    if (str_fmt(path, sizeof(path), "%s/%s", c->spool, SPOOL_LOCK_NAME) == 0)
        pid = check_flock_holder(path);
    if (pid != -1)
        return pid;
    /* ctl_connect() takes a path that fits sockaddr_un's. */
    if (str_fmt(sock, sizeof(sock), "%s/%s", c->spool, CTL_SOCKET_NAME) == -1)
        return -1;
    fd = ctl_connect(sock);
    if (fd == -1)
        return -1;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0)
        pid = cred.pid;
    (void)close(fd);
    return pid;
}

void
audit_daemon(const struct conf *c, const char *binary, struct check_findings *f)
{
    const char *inst_path = binary != NULL ? binary : "/proc/self/exe";
    char proc[64], link[PATH_MAX], inst[PATH_MAX];
    struct stat run, ist;
    long pid = daemon_pid(c);
    ssize_t n;

    if (pid == -1) {
        check_add(f, "audit.daemon-not-running", CHECK_INFO,
                  "no gate26 serves spool %s (no holder of its lock, nothing answers at %s/%s)",
                  c->spool, c->spool, CTL_SOCKET_NAME);
        check_fix(f, "gate26 serve -c %s (or start its service)", c->path);
        return;
    }
    if (stat(inst_path, &ist) == -1) {
        check_add(f, "audit.daemon-unchecked", CHECK_INFO,
                  "gate26 (pid %ld) runs; the installed binary %s: %s", pid, inst_path,
                  strerror(errno));
        return;
    }
    if (binary != NULL) {
        (void)str_copyz(inst, sizeof(inst), binary);
    } else if ((n = readlink("/proc/self/exe", inst, sizeof(inst) - 1)) > 0) {
        inst[n] = '\0';
    } else {
        (void)str_copyz(inst, sizeof(inst), "/proc/self/exe");
    }
    (void)str_fmt(proc, sizeof(proc), "/proc/%ld/exe", pid);
    n = readlink(proc, link, sizeof(link) - 1);
    if (n <= 0 || stat(proc, &run) == -1) {
        check_add(f, "audit.daemon-unchecked", CHECK_INFO,
                  "gate26 (pid %ld) runs, but %s cannot be read: %s", pid, proc, strerror(errno));
        check_fix(f, "run gate26 audit as root");
        return;
    }
    link[n] = '\0';
    switch (audit_exe_judge(link, run.st_dev, run.st_ino, ist.st_dev, ist.st_ino)) {
    case AUDIT_EXE_DELETED:
        check_add(f, "audit.daemon-outdated", CHECK_WARN,
                  "gate26 (pid %ld) runs %s: the file was replaced or removed since it started, "
                  "so it runs an older binary than the installed one",
                  pid, link);
        check_fix(f, "restart gate26 to run the installed binary (systemctl restart gate26)");
        break;
    case AUDIT_EXE_OTHER:
        check_add(f, "audit.daemon-outdated", CHECK_WARN,
                  "gate26 (pid %ld) runs %s, not the installed binary %s", pid, link, inst);
        check_fix(f, "restart gate26 to run the installed binary (systemctl restart gate26)");
        break;
    case AUDIT_EXE_SAME:
        check_add(f, "audit.daemon", CHECK_OK, "gate26 (pid %ld) runs the installed binary %s", pid,
                  link);
        break;
    }
}

/* ---- the scanners ---- */

/* The most sources scanners-json N lists (ctl's CTL_SCANNERS_TOP_MAX); without N, 20. */
#define AUDIT_SCANNERS_TOP 1000
#define AUDIT_STR_(x)      #x
#define AUDIT_STR(x)       AUDIT_STR_(x)

/* Sends request (a line with its LF); the answer into *out (heap), or -1 with why. */
static int
ask_ctl(const struct conf *c, const char *request, char **out, size_t *len, char *why, size_t cap)
{
    return ctl_request(c->spool, request, AUDIT_CTL_TIMEOUT_S, out, len, why, cap);
}

void
audit_scanners(const struct conf *c, time_t now, struct check_findings *f)
{
    struct audit_scanners s;
    char why[512], *answer = NULL;
    const char *eol;
    size_t len = 0;

    /* The busiest sources first, as many as the daemon lists; a daemon that takes no N gets
     * the plain verb. */
    if (ask_ctl(c, "scanners-json " AUDIT_STR(AUDIT_SCANNERS_TOP) "\n", &answer, &len, why,
                sizeof(why)) == -1) {
        check_add(f, "audit.scanners-unchecked", CHECK_INFO, "scanners seen: not asked: %s", why);
        return;
    }
    if (len < 3 || memcmp(answer, "ok\n", 3) != 0) {
        free(answer);
        answer = NULL;
        if (ask_ctl(c, "scanners-json\n", &answer, &len, why, sizeof(why)) == -1) {
            check_add(f, "audit.scanners-unchecked", CHECK_INFO, "scanners seen: not asked: %s",
                      why);
            return;
        }
    }
    eol = memchr(answer, '\n', len);
    if (eol == NULL || eol - answer != 2 || memcmp(answer, "ok", 2) != 0) {
        size_t l = eol != NULL ? (size_t)(eol - answer) : len;

        check_add(f, "audit.scanners-unchecked", CHECK_INFO,
                  "scanners seen: the daemon did not answer scanners-json (%.*s): an older gate26?",
                  (int)(l > 120 ? 120 : l), answer);
        free(answer);
        return;
    }
    if (audit_scanners_judge(eol + 1, len - (size_t)(eol + 1 - answer), now, &s, why,
                             sizeof(why)) == -1) {
        check_add(f, "audit.scanners-unchecked", CHECK_INFO,
                  "scanners seen: the daemon's scanners-json was not understood: %s", why);
    } else if (s.sources > 0) {
        check_add(f, "audit.scanners-seen", CHECK_WARN,
                  "%s%zu scanner source%s in the last 24 h (%llu Mirai SYNs, %llu scanner "
                  "sessions; the busiest %s)",
                  s.listed >= AUDIT_SCANNERS_TOP ? "at least " : "", s.sources,
                  s.sources == 1 ? "" : "s", s.mirai, s.sessions, s.busiest);
        if (c->watch.block_scanners > 0)
            check_fix(f, "gate26 firewall -c %s --apply (block-scanners fills its set scanners)",
                      c->path);
        else
            check_fix(f, "watch { block-scanners 1d } in %s, then gate26 firewall -c %s --apply",
                      c->path, c->path);
    } else {
        check_add(f, "audit.scanners", CHECK_OK, "no scanner seen in the last 24 h");
    }
    free(answer);
}

/* ---- gate26 check --local ---- */

/* The fix of a check --local finding that needs one. */
static const char *
local_fix(const char *id)
{
    static const struct {
        const char *id, *fix;
    } fixes[] = {
        {"foreign-on-all-interfaces",
         "make that program listen on the addresses it needs only, or stop it"},
        {"internal-door-public",
         "allow only our own servers' networks on the internal door, or listen on a private "
         "address"},
        {"door-not-listening", "start gate26, or read its log for why it did not bind the door"},
        {"door-not-gate26", "stop the program on the door's port, then restart gate26"},
    };

    for (size_t i = 0; i < sizeof(fixes) / sizeof(fixes[0]); i++) {
        if (strcmp(id, fixes[i].id) == 0)
            return fixes[i].fix;
    }
    return NULL;
}

static void
add_local(const struct check_findings *from, struct check_findings *f)
{
    for (size_t i = 0; i < from->n; i++) {
        const struct check_finding *x = &from->v[i];
        const char *fix = local_fix(x->id);
        char id[sizeof(x->id)];

        (void)str_fmt(id, sizeof(id), "check.%s", x->id);
        check_add(f, id, x->level, "%s", x->text);
        if (fix != NULL && x->level >= CHECK_WARN)
            check_fix(f, "%s", fix);
    }
}

void
audit_local(const char *conf_path, struct check_findings *f)
{
    struct check_local l;
    char err[1024];

    if (check_local_scan(NULL, 0, conf_path, &l, err, sizeof(err)) == -1) {
        check_add(f, "audit.local-unchecked", CHECK_INFO, "gate26 check --local did not run: %s",
                  err);
        check_local_free(&l);
        return;
    }
    for (size_t i = 0; i < l.n; i++)
        add_local(&l.v[i].findings, f);
    add_local(&l.findings, f);
    check_local_free(&l);
}

/* ---- AUTH in clear, by EHLO ---- */

/* The address to probe a door's address line at: a wildcard is probed on loopback. */
static bool
probe_addr(const struct conf_addr *ca, char *out, size_t cap, unsigned *port)
{
    if (ca->sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ca->sa;
        struct in_addr a = in->sin_addr;

        if (a.s_addr == htonl(INADDR_ANY))
            a.s_addr = htonl(INADDR_LOOPBACK);
        *port = ntohs(in->sin_port);
        return inet_ntop(AF_INET, &a, out, (socklen_t)cap) != NULL;
    }
    if (ca->sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ca->sa;
        struct in6_addr a = in6->sin6_addr;

        if (memcmp(&a, &in6addr_any, sizeof(a)) == 0)
            a = in6addr_loopback;
        *port = ntohs(in6->sin6_port);
        return inet_ntop(AF_INET6, &a, out, (socklen_t)cap) != NULL;
    }
    return false;
}

void
audit_auth_probe(const struct conf *c, struct check_findings *f)
{
    struct check_opts o = {.timeout_ms = AUDIT_PROBE_TIMEOUT_MS, .helo = c->hostname};
    const struct conf_addr **where;
    struct check_host *h;
    size_t n = 0, cap = 0;
    char err[512];

    for (size_t i = 0; i < c->n_listens; i++)
        cap += c->listens[i].tls != CONF_TLS_IMPLICIT ? c->listens[i].n_addrs : 0;
    if (cap == 0)
        return;
    h = xcalloc(cap, sizeof(*h));
    where = xcalloc(cap, sizeof(*where));
    for (size_t i = 0; i < c->n_listens; i++) {
        const struct conf_listen *li = &c->listens[i];

        for (size_t j = 0; li->tls != CONF_TLS_IMPLICIT && j < li->n_addrs; j++) {
            unsigned port;

            if (!probe_addr(&li->addrs[j], h[n].addr, sizeof(h[n].addr), &port))
                continue;
            (void)str_copyz(h[n].name, sizeof(h[n].name), h[n].addr);
            h[n].ports = xcalloc(1, sizeof(*h[n].ports));
            h[n].ports[0].port = port;
            h[n].ports[0].start = CHECK_START_PLAIN;
            h[n].n_ports = 1;
            where[n++] = &li->addrs[j];
        }
    }
    if (check_probe_hosts(h, n, &o, err, sizeof(err)) == -1) {
        check_add(f, "audit.auth-unchecked", CHECK_INFO,
                  "AUTH before TLS: the doors were not asked: %s", err);
    } else {
        for (size_t k = 0; k < n; k++) {
            if (!h[k].ports[0].auth_before_tls)
                continue;
            check_add(f, "audit.auth-in-clear", CHECK_CRIT,
                      "%s (line %u): EHLO offers AUTH before TLS (%.80s): passwords cross the "
                      "network in clear",
                      where[k]->text, where[k]->line, h[k].ports[0].ehlo);
            check_fix(f, "see who answers there (gate26 check --local); gate26 offers AUTH only "
                         "inside TLS");
        }
    }
    for (size_t k = 0; k < n; k++)
        check_host_free(&h[k]);
    free(h);
    free(where);
}
