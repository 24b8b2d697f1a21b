/* SPDX-License-Identifier: MIT */
/*
 * gate26 check --local: who listens on the mail ports of this machine.
 *
 * The listening sockets come from /proc/net/tcp and /proc/net/tcp6 (state
 * 0A); their owners from the /proc/PID/fd links that read socket:[INODE],
 * then /proc/PID/cmdline, /proc/PID/status (Uid) and /proc/PID/exe. Whether
 * an IPv6 socket on :: also takes IPv4 (IPV6_V6ONLY off) is not in
 * /proc/net/tcp6: it comes from the kernel's sock_diag netlink interface
 * (INET_DIAG_SKV6ONLY), and when that is closed to us, from the system
 * default /proc/sys/net/ipv6/bindv6only. With a gate26 configuration the
 * addresses of its doors name the role of each gate26 socket.
 *
 * What is judged (the finding ids are listed in docs/check.md): a listener
 * on all interfaces that is not gate26 (warn), gate26's internal door on a
 * public address with an allow list that admits everyone (warn), and with a
 * configuration, a door of it that gate26 does not serve (critical: nobody
 * listens there, or another program does), which makes --local -c a health
 * check. Reading
 * /proc needs no privilege, but the owner of another user's socket is only
 * found as root; without it the socket's uid still names the user.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "check/check.h"
#include "check/local.h"
#include "check/own.h"
#include "conf/conf.h"
#include "lib/num.h"
#include "lib/str.h"
#include "lib/xalloc.h"

static const unsigned default_ports[] = {25, 26, 465, 587};

/* ---- one row of /proc/net/tcp{,6} ---- */

/* Exactly len hex digits (either case) into *out; -1 otherwise. */
static int
hex_exact(struct slice s, size_t len, uint32_t *out)
{
    uint32_t v = 0;

    if (s.len != len || len == 0 || len > 8)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s.p[i], d;

        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* Splits line at runs of spaces into at most max fields; returns how many. */
static size_t
split_fields(struct slice line, struct slice *f, size_t max)
{
    size_t n = 0, i = 0;

    while (i < line.len && n < max) {
        size_t start;

        while (i < line.len && line.p[i] == ' ')
            i++;
        if (i == line.len)
            break;
        start = i;
        while (i < line.len && line.p[i] != ' ')
            i++;
        f[n++] = slice_make(line.p + start, i - start);
    }
    return n;
}

/* ADDRESS:PORT of the local_address column; the address is 1 or 4 words. */
static int
parse_endpoint(struct slice s, int family, struct check_tcp_row *out)
{
    size_t words = family == AF_INET ? 1 : 4, hexlen = words * 8;
    uint32_t port;

    if (s.len != hexlen + 1 + 4 || s.p[hexlen] != ':')
        return -1;
    for (size_t w = 0; w < words; w++) {
        uint32_t v;

        if (hex_exact(slice_make(s.p + w * 8, 8), 8, &v) == -1)
            return -1;
        /* The kernel printed the word as it lies in memory, read as a host u32. */
        memcpy(out->addr + w * 4, &v, 4);
    }
    if (hex_exact(slice_make(s.p + hexlen + 1, 4), 4, &port) == -1)
        return -1;
    out->port = port;
    return 0;
}

int
check_tcp_row_parse(struct slice line, int family, struct check_tcp_row *out)
{
    struct slice f[10];
    uint32_t st;
    uint64_t uid, inode;
    size_t n;

    if (line.len > CHECK_TCP_ROW_MAX || (family != AF_INET && family != AF_INET6))
        return -1;
    memset(out, 0, sizeof(*out));
    out->family = family;
    n = split_fields(line, f, 10);
    if (n < 10)
        return -1;
    /* sl: a decimal slot number and a colon ("sl" in the header line fails here). */
    if (f[0].len < 2 || f[0].p[f[0].len - 1] != ':' ||
        num_parse_u64(slice_make(f[0].p, f[0].len - 1), 0, UINT32_MAX, &uid) == -1)
        return -1;
    if (parse_endpoint(f[1], family, out) == -1)
        return -1;
    {
        struct check_tcp_row remote;

        if (parse_endpoint(f[2], family, &remote) == -1)
            return -1;
    }
    if (hex_exact(f[3], 2, &st) == -1)
        return -1;
    out->state = st;
    if (num_parse_u64(f[7], 0, UINT32_MAX, &uid) == -1)
        return -1;
    out->uid = (uint32_t)uid;
    if (num_parse_u64(f[9], 0, UINT64_MAX, &inode) == -1)
        return -1;
    out->inode = inode;
    return 0;
}

/* ---- addresses ---- */

static const unsigned char v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool
is_zero(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != 0)
            return false;
    }
    return true;
}

const char *
check_addr_scope(int family, const unsigned char *addr)
{
    if (family == AF_INET6 && memcmp(addr, v4mapped_prefix, 12) == 0)
        return addr[12] == 127 ? "loopback" : "address";
    if (family == AF_INET)
        return is_zero(addr, 4) ? "all" : addr[0] == 127 ? "loopback" : "address";
    if (is_zero(addr, 16))
        return "all";
    if (is_zero(addr, 15) && addr[15] == 1)
        return "loopback";
    return "address";
}

bool
check_addr_is_private(int family, const unsigned char *a)
{
    if (family == AF_INET6 && memcmp(a, v4mapped_prefix, 12) == 0)
        return check_addr_is_private(AF_INET, a + 12);
    if (family == AF_INET) {
        return a[0] == 127 || a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
               (a[0] == 192 && a[1] == 168) || (a[0] == 100 && (a[1] & 0xc0) == 64) ||
               (a[0] == 169 && a[1] == 254);
    }
    return (is_zero(a, 15) && a[15] == 1) || (a[0] & 0xfe) == 0xfc ||
           (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

/* ---- the scan ---- */

/* A listener while the scan runs: the public record and what finds its owner. */
struct scan_entry {
    struct check_tcp_row row;
    int v6only; /* 1, 0, or -1: unknown */
};

struct scan {
    struct scan_entry *e;
    size_t n, cap;
};

static bool
port_wanted(const unsigned *ports, size_t n, unsigned port)
{
    for (size_t i = 0; i < n; i++) {
        if (ports[i] == port)
            return true;
    }
    return false;
}

/* Adds the LISTEN rows on the wanted ports of one file; -1 when it cannot be read. */
static int
read_proc_tcp(const char *path, int family, const unsigned *ports, size_t n_ports, struct scan *s)
{
    char buf[CHECK_TCP_ROW_MAX + 2];
    FILE *f = fopen(path, "re");

    if (f == NULL)
        return -1;
    while (fgets(buf, sizeof(buf), f) != NULL) {
        size_t len = strlen(buf);
        struct check_tcp_row row;

        if (len == 0 || buf[len - 1] != '\n') {
            int c;

            /* Longer than any row: skip to the end of the line. */
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            continue;
        }
        if (check_tcp_row_parse(slice_make(buf, len - 1), family, &row) == -1 ||
            row.state != CHECK_TCP_LISTEN || !port_wanted(ports, n_ports, row.port))
            continue;
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->e = xrealloc(s->e, s->cap * sizeof(*s->e));
        }
        s->e[s->n].row = row;
        s->e[s->n].v6only = -1;
        s->n++;
    }
    (void)fclose(f);
    return 0;
}

/*
 * IPV6_V6ONLY of every listening TCP6 socket, by inode, from sock_diag
 * (linux/inet_diag.h): the kernel adds INET_DIAG_SKV6ONLY to each AF_INET6
 * answer. Returns 0, or -1 when the netlink socket is unavailable.
 */
static int
read_v6only(struct scan *s)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
    } msg;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
    bool done = false;
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

    if (fd == -1)
        return -1;
    memset(&msg, 0, sizeof(msg));
    msg.nlh.nlmsg_len = sizeof(msg);
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.req.sdiag_family = AF_INET6;
    msg.req.sdiag_protocol = IPPROTO_TCP;
    msg.req.idiag_states = 1u << CHECK_TCP_LISTEN;
    if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) == -1) {
        (void)close(fd);
        return -1;
    }
    while (!done) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        struct nlmsghdr *h;
        size_t left;

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        left = (size_t)n;
        for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
            struct inet_diag_msg *m;
            struct rtattr *a;
            size_t alen;

            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                done = true;
                break;
            }
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
                continue;
            m = NLMSG_DATA(h);
            a = (struct rtattr *)(m + 1);
            alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
            for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
                if (a->rta_type != INET_DIAG_SKV6ONLY || RTA_PAYLOAD(a) < 1)
                    continue;
                for (size_t i = 0; i < s->n; i++) {
                    if (s->e[i].row.family == AF_INET6 && s->e[i].row.inode == m->idiag_inode)
                        s->e[i].v6only = *(unsigned char *)RTA_DATA(a) != 0;
                }
            }
        }
    }
    (void)close(fd);
    return done ? 0 : -1;
}

/* The system default for IPV6_V6ONLY: 1, 0, or -1 when unreadable. */
static int
bindv6only_default(void)
{
    FILE *f = fopen("/proc/sys/net/ipv6/bindv6only", "re");
    int c = f != NULL ? fgetc(f) : EOF;

    if (f != NULL)
        (void)fclose(f);
    return c == '0' ? 0 : c == '1' ? 1 : -1;
}

/* A digits-only name, as the process directories of /proc are. */
static bool
is_pid_name(const char *name)
{
    if (*name == '\0')
        return false;
    for (; *name != '\0'; name++) {
        if (!isdigit((unsigned char)*name))
            return false;
    }
    return true;
}

/*
 * Finds the process holding each socket: the lowest pid whose fd links read
 * socket:[INODE] (a forking server's parent, usually). Processes that vanish
 * or are not ours to look at are skipped.
 */
static void
find_pids(struct check_local *out, const uint64_t *inodes)
{
    DIR *proc = opendir("/proc");
    struct dirent *d;

    if (proc == NULL)
        return;
    while ((d = readdir(proc)) != NULL) {
        char path[64];
        DIR *fds;
        struct dirent *fe;
        long pid;

        if (!is_pid_name(d->d_name) || strlen(d->d_name) > 10)
            continue;
        pid = strtol(d->d_name, NULL, 10);
        if (str_fmt(path, sizeof(path), "/proc/%ld/fd", pid) == -1 || (fds = opendir(path)) == NULL)
            continue;
        while ((fe = readdir(fds)) != NULL) {
            char link[64];
            ssize_t n = readlinkat(dirfd(fds), fe->d_name, link, sizeof(link) - 1);
            uint64_t ino;

            if (n < 10 || memcmp(link, "socket:[", 8) != 0 || link[n - 1] != ']')
                continue;
            if (num_parse_u64(slice_make(link + 8, (size_t)n - 9), 0, UINT64_MAX, &ino) == -1)
                continue;
            for (size_t i = 0; i < out->n; i++) {
                if (inodes[i] == ino && (out->v[i].pid == -1 || pid < out->v[i].pid))
                    out->v[i].pid = pid;
            }
        }
        (void)closedir(fds);
    }
    (void)closedir(proc);
}

/* Reads at most cap-1 octets of a small /proc file into buf; returns the length or -1. */
static ssize_t
read_small(const char *path, char *buf, size_t cap)
{
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd == -1)
        return -1;
    while (len < cap - 1) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    (void)close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

/* The command line, arguments separated by spaces, printable ASCII (else '?'). */
static void
read_cmdline(long pid, char *out, size_t cap, char *argv0, size_t argv0cap)
{
    char path[64], buf[4096];
    ssize_t n = -1;

    out[0] = argv0[0] = '\0';
    if (str_fmt(path, sizeof(path), "/proc/%ld/cmdline", pid) == 0)
        n = read_small(path, buf, sizeof(buf));
    while (n > 0 && buf[n - 1] == '\0')
        n--;
    if (n <= 0) {
        /* A kernel thread, or a process that is gone: its name from comm, in brackets. */
        char comm[64];
        ssize_t m = -1;

        if (str_fmt(path, sizeof(path), "/proc/%ld/comm", pid) == 0)
            m = read_small(path, comm, sizeof(comm));
        while (m > 0 && comm[m - 1] == '\n')
            m--;
        if (m > 0) {
            comm[m] = '\0';
            (void)str_fmt(out, cap, "[%s]", comm);
        }
    } else {
        (void)str_copyz(argv0, argv0cap, buf);
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\0' || buf[i] == '\n' || buf[i] == '\t')
                buf[i] = ' ';
        }
        (void)str_copy(out, cap, buf, (size_t)n);
    }
    for (char *p = out; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    }
}

/* The effective uid of a process (second field of Uid: in status); -1 when unknown. */
static long
read_euid(long pid)
{
    char path[64], buf[4096];
    const char *p;
    unsigned long real, eff;

    if (str_fmt(path, sizeof(path), "/proc/%ld/status", pid) == -1 ||
        read_small(path, buf, sizeof(buf)) <= 0)
        return -1;
    p = strstr(buf, "\nUid:");
    if (p == NULL || sscanf(p + 5, "%lu %lu", &real, &eff) != 2 || eff > UINT32_MAX)
        return -1;
    return (long)eff;
}

static void
user_name(uint32_t uid, char *out, size_t cap)
{
    struct passwd pw, *res = NULL;
    char buf[4096];

    if (getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
        (void)str_copyz(out, cap, pw.pw_name);
    else
        (void)str_fmt(out, cap, "%u", (unsigned)uid);
}

static const char *
basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? slash + 1 : path;
}

/* gate26 itself: its executable (or else argv[0]) is named gate26. */
static bool
is_gate26_process(long pid, const char *argv0)
{
    char path[64], exe[4096];
    ssize_t n = -1;

    if (str_fmt(path, sizeof(path), "/proc/%ld/exe", pid) == 0)
        n = readlink(path, exe, sizeof(exe) - 1);
    if (n > 0) {
        static const char deleted[] = " (deleted)"; /* the binary was replaced while running */
        size_t len = (size_t)n;

        if (len > sizeof(deleted) - 1 &&
            memcmp(exe + len - (sizeof(deleted) - 1), deleted, sizeof(deleted) - 1) == 0)
            len -= sizeof(deleted) - 1;
        exe[len] = '\0';
        return strcmp(basename_of(exe), "gate26") == 0;
    }
    return argv0[0] != '\0' && strcmp(basename_of(argv0), "gate26") == 0;
}

/* The door of c listening on this socket's address and port, or NULL. */
static const struct conf_listen *
door_of(const struct conf *c, const struct check_tcp_row *row)
{
    for (size_t i = 0; i < c->n_listens; i++) {
        const struct conf_listen *li = &c->listens[i];

        for (size_t j = 0; j < li->n_addrs; j++) {
            const struct sockaddr_storage *sa = &li->addrs[j].sa;

            if (sa->ss_family == AF_INET && row->family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

                if (ntohs(in->sin_port) == row->port && memcmp(&in->sin_addr, row->addr, 4) == 0)
                    return li;
            } else if (sa->ss_family == AF_INET6 && row->family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

                if (ntohs(in6->sin6_port) == row->port &&
                    memcmp(&in6->sin6_addr, row->addr, 16) == 0)
                    return li;
            }
        }
    }
    return NULL;
}

/* "0.0.0.0:25" or "[::]:25", for sentences. */
static void
endpoint_text(const struct check_listener *l, char *out, size_t cap)
{
    (void)str_fmt(out, cap, l->family == AF_INET6 ? "[%s]:%u" : "%s:%u", l->addr, l->port);
}

/* The findings of one listener; row and v6only are what the scan saw. */
static void
judge(struct check_listener *l, const struct scan_entry *e, const struct conf *c, bool v6_guess)
{
    char ep[80], who[384];
    bool public_addr =
        strcmp(l->scope, "all") == 0 ||
        (strcmp(l->scope, "address") == 0 && !check_addr_is_private(l->family, e->row.addr));

    endpoint_text(l, ep, sizeof(ep));
    if (l->pid == -1) {
        check_add(&l->findings, "owner-unknown", CHECK_INFO,
                  "%s: no process found for socket inode %llu (owner %s)%s", ep,
                  (unsigned long long)e->row.inode, l->user,
                  geteuid() == 0 ? "; it is in another PID namespace, or gone"
                                 : "; run as root to see other users' processes");
        (void)str_fmt(who, sizeof(who), "an unknown process (user %s)", l->user);
    } else {
        /* A sentence quotes the start of a long command line; the command field has it all. */
        (void)str_fmt(who, sizeof(who), "%.60s%s (pid %ld, user %s)",
                      l->command[0] != '\0' ? l->command : "a process",
                      strlen(l->command) > 60 ? "..." : "", l->pid, l->user);
    }
    if (l->family == AF_INET6 && strcmp(l->scope, "all") == 0 && e->v6only == 0)
        check_add(&l->findings, "dual-stack", CHECK_INFO,
                  "%s: also accepts IPv4 connections (IPV6_V6ONLY off%s)", ep,
                  v6_guess ? ", the system default" : "");
    if (l->is_gate26) {
        const struct conf_listen *li = c != NULL ? door_of(c, &e->row) : NULL;

        if (li != NULL)
            (void)str_copyz(l->role, sizeof(l->role), conf_role_name(li->role));
        check_add(&l->findings, "gate26", CHECK_OK, "%s: gate26 (pid %ld)%s%s", ep, l->pid,
                  li != NULL ? ", door " : "", li != NULL ? l->role : "");
        if (c != NULL && li == NULL)
            check_add(&l->findings, "gate26-unknown-door", CHECK_INFO,
                      "%s: this gate26 listens where %s has no door (another configuration?)", ep,
                      c->path);
        if (li != NULL && li->role == DOOR_INTERNAL && public_addr) {
            const struct conf_cidr *open = check_door_open_allow(li);
            char net[80];

            if (open != NULL) {
                conf_cidr_text(open, net, sizeof(net));
                check_add(&l->findings, "internal-door-public", CHECK_WARN,
                          "%s: the internal door listens on a public address and its allow "
                          "list admits everyone (%s, %s line %u): anyone may relay through it",
                          ep, net, c->path, li->line);
            } else {
                check_add(&l->findings, "internal-door-exposed", CHECK_INFO,
                          "%s: the internal door listens on a public address; only its allow "
                          "list (%zu network%s) keeps others out",
                          ep, li->n_allow, li->n_allow == 1 ? "" : "s");
            }
        }
        return;
    }
    if (strcmp(l->scope, "all") == 0)
        check_add(&l->findings, "foreign-on-all-interfaces", CHECK_WARN,
                  "%s: %s listens on all interfaces and is not gate26", ep, who);
    else
        check_add(&l->findings, "foreign-listener", CHECK_INFO, "%s: %s listens on %s", ep, who,
                  strcmp(l->scope, "loopback") == 0 ? "loopback only" : "this address only");
}

/* The listener takes connections to the door's address: the same address, or its family's
 * unspecified one, or [::] with IPV6_V6ONLY off for an IPv4 door. */
static bool
covers(const struct scan_entry *e, int family, const unsigned char *a)
{
    if (e->row.family == family)
        return memcmp(e->row.addr, a, family == AF_INET ? 4 : 16) == 0 ||
               is_zero(e->row.addr, family == AF_INET ? 4 : 16);
    return family == AF_INET && e->row.family == AF_INET6 && is_zero(e->row.addr, 16) &&
           e->v6only == 0;
}

/*
 * With -c: every door address of c on a port looked at is served by gate26,
 * or it is a critical finding of the whole: nobody listens there
 * ("door-not-listening"), or another program does ("door-not-gate26"). A
 * listener whose owner is unknown is given the benefit of the doubt (its
 * row says "owner-unknown"). Runs before the listeners are sorted: v[i] is
 * the listener of s->e[i].
 */
static void
judge_doors(struct check_local *out, const struct scan *s, const struct conf *c,
            const unsigned *want, size_t n_want)
{
    for (size_t i = 0; i < c->n_listens; i++) {
        const struct conf_listen *li = &c->listens[i];

        for (size_t j = 0; j < li->n_addrs; j++) {
            const struct conf_addr *ca = &li->addrs[j];
            const struct check_listener *foreign = NULL;
            bool served = false, unknown = false;
            unsigned char a[16];
            unsigned port;
            int family = check_conf_addr_bin(ca, a, &port);

            if (family == AF_UNSPEC || !port_wanted(want, n_want, port))
                continue;
            for (size_t k = 0; k < s->n; k++) {
                if (s->e[k].row.port != port || !covers(&s->e[k], family, a))
                    continue;
                if (out->v[k].is_gate26)
                    served = true;
                else if (out->v[k].pid == -1)
                    unknown = true;
                else if (foreign == NULL)
                    foreign = &out->v[k];
            }
            if (served || unknown)
                continue;
            if (foreign != NULL)
                check_add(&out->findings, "door-not-gate26", CHECK_CRIT,
                          "door %s at %s: %.60s%s (pid %ld) listens there, not gate26 (%s line "
                          "%u)",
                          conf_role_name(li->role), ca->text,
                          foreign->command[0] != '\0' ? foreign->command : "a process",
                          strlen(foreign->command) > 60 ? "..." : "", foreign->pid, c->path,
                          ca->line);
            else
                check_add(&out->findings, "door-not-listening", CHECK_CRIT,
                          "door %s at %s: nobody listens (%s line %u)", conf_role_name(li->role),
                          ca->text, c->path, ca->line);
        }
    }
}

static int
cmp_listener(const void *a, const void *b)
{
    const struct check_listener *x = a, *y = b;
    int r;

    if (x->port != y->port)
        return x->port < y->port ? -1 : 1;
    if (x->family != y->family)
        return x->family == AF_INET ? -1 : 1;
    r = strcmp(x->addr, y->addr);
    return r != 0 ? r : (x->pid > y->pid) - (x->pid < y->pid);
}

static int
cmp_unsigned(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

    return (x > y) - (x < y);
}

/* The ports to look at: those given, or the defaults and the doors' ports of c. */
static unsigned *
port_list(const unsigned *ports, size_t n_ports, const struct conf *c, size_t *n_out)
{
    size_t cap = n_ports + 4, n = 0;
    unsigned *v;

    if (n_ports == 0 && c != NULL) {
        for (size_t i = 0; i < c->n_listens; i++)
            cap += c->listens[i].n_addrs;
    }
    v = xcalloc(cap, sizeof(*v));
    if (n_ports > 0) {
        for (size_t i = 0; i < n_ports; i++)
            v[n++] = ports[i];
    } else {
        for (size_t i = 0; i < sizeof(default_ports) / sizeof(default_ports[0]); i++)
            v[n++] = default_ports[i];
        for (size_t i = 0; c != NULL && i < c->n_listens; i++) {
            for (size_t j = 0; j < c->listens[i].n_addrs; j++) {
                const struct sockaddr_storage *sa = &c->listens[i].addrs[j].sa;

                v[n++] =
                    ntohs(sa->ss_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                                   : ((const struct sockaddr_in6 *)sa)->sin6_port);
            }
        }
    }
    qsort(v, n, sizeof(*v), cmp_unsigned);
    {
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
            if (k == 0 || v[k - 1] != v[i])
                v[k++] = v[i];
        }
        n = k;
    }
    *n_out = n;
    return v;
}

int
check_local_scan(const unsigned *ports, size_t n_ports, const char *conf_path,
                 struct check_local *out, char *err, size_t errcap)
{
    struct conf *c = NULL;
    struct scan s = {0};
    unsigned *want;
    uint64_t *inodes;
    size_t n_want;
    int v6default;
    bool v6_guess = false;

    memset(out, 0, sizeof(*out));
    if (conf_path != NULL && (c = conf_load(conf_path, err, errcap)) == NULL)
        return -1;
    want = port_list(ports, n_ports, c, &n_want);
    if (read_proc_tcp("/proc/net/tcp", AF_INET, want, n_want, &s) == -1) {
        (void)str_fmt(err, errcap, "/proc/net/tcp: %s", strerror(errno));
        free(want);
        conf_unref(c);
        return -1;
    }
    /* A kernel without IPv6 has no tcp6: that is no error. */
    (void)read_proc_tcp("/proc/net/tcp6", AF_INET6, want, n_want, &s);
    if (read_v6only(&s) == -1 && (v6default = bindv6only_default()) != -1) {
        v6_guess = true;
        for (size_t i = 0; i < s.n; i++)
            s.e[i].v6only = v6default;
    }

    out->v = xcalloc(s.n > 0 ? s.n : 1, sizeof(*out->v));
    out->n = s.n;
    inodes = xcalloc(s.n > 0 ? s.n : 1, sizeof(*inodes));
    for (size_t i = 0; i < s.n; i++) {
        struct check_listener *l = &out->v[i];

        l->port = s.e[i].row.port;
        l->family = s.e[i].row.family;
        if (inet_ntop(l->family, s.e[i].row.addr, l->addr, sizeof(l->addr)) == NULL)
            (void)str_copyz(l->addr, sizeof(l->addr), "?");
        (void)str_copyz(l->scope, sizeof(l->scope), check_addr_scope(l->family, s.e[i].row.addr));
        l->pid = -1;
        l->dual_stack = l->family == AF_INET6 && strcmp(l->scope, "all") == 0 && s.e[i].v6only == 0;
        inodes[i] = s.e[i].row.inode;
    }
    if (s.n > 0)
        find_pids(out, inodes);
    for (size_t i = 0; i < s.n; i++) {
        struct check_listener *l = &out->v[i];
        char argv0[256] = "";
        long uid = -1;

        if (l->pid != -1) {
            read_cmdline(l->pid, l->command, sizeof(l->command), argv0, sizeof(argv0));
            uid = read_euid(l->pid);
            l->is_gate26 = is_gate26_process(l->pid, argv0);
        }
        user_name(uid != -1 ? (uint32_t)uid : s.e[i].row.uid, l->user, sizeof(l->user));
        judge(l, &s.e[i], c, v6_guess);
    }
    if (c != NULL)
        judge_doors(out, &s, c, want, n_want);
    /* Sorting moves the listeners away from their scan entries: judged first, sorted last. */
    qsort(out->v, out->n, sizeof(*out->v), cmp_listener);

    out->ports_free = xcalloc(n_want, sizeof(*out->ports_free));
    for (size_t i = 0; i < n_want; i++) {
        bool seen = false;

        for (size_t j = 0; j < out->n && !seen; j++)
            seen = out->v[j].port == want[i];
        if (!seen) {
            out->ports_free[out->n_free++] = want[i];
            check_add(&out->findings, "not-listening", CHECK_INFO, "port %u: nobody listens",
                      want[i]);
        }
    }
    out->ports = want;
    out->n_ports = n_want;
    free(inodes);
    free(s.e);
    conf_unref(c);
    return 0;
}

int
check_port_owner(const struct sockaddr *sa, struct check_listener *out)
{
    const unsigned char *want;
    unsigned port;
    struct check_local l;
    char err[256];
    int rc = -1;

    memset(out, 0, sizeof(*out));
    out->pid = -1;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        want = (const unsigned char *)&in->sin_addr;
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        want = in6->sin6_addr.s6_addr;
        port = ntohs(in6->sin6_port);
    } else {
        return -1;
    }
    if (check_local_scan(&port, 1, NULL, &l, err, sizeof(err)) == -1) {
        check_local_free(&l);
        return -1;
    }
    for (size_t i = 0; i < l.n && rc == -1; i++) {
        const struct check_listener *c = &l.v[i];
        unsigned char have[16];
        size_t alen = c->family == AF_INET ? 4 : 16;

        if (c->family != sa->sa_family || c->port != port ||
            inet_pton(c->family, c->addr, have) != 1)
            continue;
        if (memcmp(have, want, alen) == 0 || is_zero(have, alen) || is_zero(want, alen)) {
            *out = *c;
            memset(&out->findings, 0, sizeof(out->findings));
            rc = 0;
        }
    }
    check_local_free(&l);
    return rc;
}

bool
check_pid_has_open(long pid, const char *path)
{
    char real[PATH_MAX], dir[64];
    struct dirent *fe;
    bool found = false;
    DIR *fds;

    if (realpath(path, real) == NULL || str_fmt(dir, sizeof(dir), "/proc/%ld/fd", pid) == -1 ||
        (fds = opendir(dir)) == NULL)
        return false;
    while (!found && (fe = readdir(fds)) != NULL) {
        char link[PATH_MAX];
        ssize_t n = readlinkat(dirfd(fds), fe->d_name, link, sizeof(link) - 1);

        if (n <= 0)
            continue;
        link[n] = '\0';
        found = strcmp(link, real) == 0;
    }
    (void)closedir(fds);
    return found;
}

int
check_lock_row_parse(struct slice line, struct check_lock_row *out)
{
    struct slice f[8];
    uint64_t pid, v;
    const char *c1, *c2;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (line.len > CHECK_TCP_ROW_MAX)
        return -1;
    n = split_fields(line, f, 8);
    /* "1:" KIND MODE TYPE PID DEV:INODE START END */
    if (n < 8 || f[0].len < 2 || f[0].p[f[0].len - 1] != ':' ||
        num_parse_u64(slice_make(f[0].p, f[0].len - 1), 0, UINT32_MAX, &v) == -1)
        return -1;
    out->flock = slice_eq_ci(f[1], "FLOCK");
    if (!out->flock && !slice_eq_ci(f[1], "POSIX") && !slice_eq_ci(f[1], "OFDLCK") &&
        !slice_eq_ci(f[1], "DELEG") && !slice_eq_ci(f[1], "LEASE"))
        return -1;
    if (slice_eq_ci(f[4], "-1"))
        out->pid = -1;
    else if (num_parse_u64(f[4], 1, 4194304, &pid) == 0)
        out->pid = (long)pid;
    else
        return -1;
    c1 = memchr(f[5].p, ':', f[5].len);
    c2 = c1 != NULL ? memchr(c1 + 1, ':', f[5].len - (size_t)(c1 + 1 - f[5].p)) : NULL;
    if (c2 == NULL)
        return -1;
    {
        uint32_t maj, min;
        size_t lmaj = (size_t)(c1 - f[5].p), lmin = (size_t)(c2 - c1 - 1);

        if (lmaj == 0 || lmaj > 8 || lmin == 0 || lmin > 8 ||
            hex_exact(slice_make(f[5].p, lmaj), lmaj, &maj) == -1 ||
            hex_exact(slice_make(c1 + 1, lmin), lmin, &min) == -1 ||
            num_parse_u64(slice_make(c2 + 1, f[5].len - (size_t)(c2 + 1 - f[5].p)), 0, UINT64_MAX,
                          &out->inode) == -1)
            return -1;
        out->dev_major = maj;
        out->dev_minor = min;
    }
    return 0;
}

long
check_flock_holder(const char *path)
{
    char buf[CHECK_TCP_ROW_MAX + 2];
    struct stat st;
    long holder = -1;
    FILE *f;

    if (stat(path, &st) == -1 || (f = fopen("/proc/locks", "re")) == NULL)
        return -1;
    while (holder == -1 && fgets(buf, sizeof(buf), f) != NULL) {
        size_t len = strlen(buf);
        struct check_lock_row row;

        if (len == 0 || buf[len - 1] != '\n') {
            int c;

            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            continue;
        }
        if (check_lock_row_parse(slice_make(buf, len - 1), &row) == 0 && row.flock && row.pid > 0 &&
            row.dev_major == major(st.st_dev) && row.dev_minor == minor(st.st_dev) &&
            row.inode == (uint64_t)st.st_ino)
            holder = row.pid;
    }
    (void)fclose(f);
    return holder;
}

void
check_local_free(struct check_local *l)
{
    for (size_t i = 0; i < l->n; i++)
        check_findings_free(&l->v[i].findings);
    free(l->v);
    free(l->ports_free);
    free(l->ports);
    check_findings_free(&l->findings);
    memset(l, 0, sizeof(*l));
}
