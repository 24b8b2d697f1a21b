/* SPDX-License-Identifier: MIT */
/*
 * The sensor process (docs/scanners.md, "Why a sensor process"), forked by
 * sensor_start() before the daemon drops root. In this order:
 *
 *   1. it keeps its end of the socketpair and closes every other file
 *      descriptor above 2 (listening sockets, the spool's lock, keys);
 *   2. it opens the capture while it may (root, or CAP_NET_RAW);
 *   3. it becomes the gateway's user with PR_SET_KEEPCAPS, keeping in its
 *      permitted and effective sets only CAP_NET_RAW (capture: to open it
 *      again after an error) and CAP_NET_ADMIN (block-scanners: nft), with
 *      every other capability out of its bounding set, no ambient ones,
 *      PR_SET_NO_NEW_PRIVS, and SIGTERM when the daemon dies;
 *   4. it polls the socketpair and the capture: SYNs go up as records
 *      (dropped, and counted, when the daemon's socket is full); the
 *      daemon's records come down (new ports: a new filter; a source to
 *      block: `add element` through libnftables). EOF: it exits.
 *
 * A capture error is logged and the capture opened again every
 * SENSOR_RETRY_SECONDS, never fatal; a capture refused for want of
 * permission is said once (event=capture-unavailable) and not retried.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <sys/capability.h>

#include "firewall/firewall.h"
#include "lib/log.h"
#include "lib/str.h"
#include "sensor/sensor_impl.h"
#include "sensor/syn.h"

/* The octets of a frame the parser needs: link (at most 20), IPv4 with options (60) or
 * IPv6 (40), and the TCP header up to its flags (20). */
#define CHILD_SNAPLEN 128
/* Frames read in one dispatch, so that the daemon's records are not starved. */
#define CHILD_BATCH 256
/* SYNs dropped for a full socket are logged at most this often, with their count. */
#define CHILD_DROP_LOG_SECONDS 60
/* The send buffer of the sensor's end: some thousands of SYN records. */
#define CHILD_SNDBUF (1 << 20)
/* The longest block a record may ask (block-scanners' maximum). */
#define CHILD_TTL_MAX (30u * 86400u)

struct child {
    int fd;
    struct sensor_child_conf cc;
    uint64_t watched[65536 / 64]; /* cc.ports as a bitmap */
    pcap_t *pcap;                 /* NULL: not capturing now */
    int dlt;
    bool unavailable;     /* refused for want of permission: not retried */
    time_t retry_at;      /* monotonic seconds; 0: no retry due */
    char last_error[256]; /* the capture's last error, logged once until it changes */
    unsigned long dropped;
    time_t dropped_logged;
};

static time_t
child_now(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static void
child_set_ports(struct child *ch, const unsigned *ports, size_t n)
{
    memset(ch->watched, 0, sizeof ch->watched);
    for (size_t i = 0; i < n; i++) {
        ch->cc.ports[i] = ports[i];
        ch->watched[ports[i] / 64] |= UINT64_C(1) << (ports[i] % 64);
    }
    ch->cc.n_ports = n;
}

/* ---- Up ---- */

static void
child_send(struct child *ch, const struct sensor_up *u)
{
    ssize_t n;

    do {
        n = send(ch->fd, u, sizeof *u, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n == -1 && errno == EINTR);
    if (n == (ssize_t)sizeof *u)
        return;
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
        time_t now = child_now();

        ch->dropped++;
        if (now - ch->dropped_logged >= CHILD_DROP_LOG_SECONDS) {
            log_warning("-: event=sensor-dropped, syns=%lu, reason=\"the daemon reads slower "
                        "than SYNs arrive\"",
                        ch->dropped);
            ch->dropped_logged = now;
            ch->dropped = 0;
        }
        return;
    }
    /* The daemon has gone. */
    _exit(0);
}

static void
child_send_capture(struct child *ch)
{
    struct sensor_up u;

    memset(&u, 0, sizeof u);
    u.kind = SENSOR_UP_CAPTURE;
    u.capturing = ch->pcap != NULL ? 1 : 0;
    child_send(ch, &u);
}

static void
child_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct child *ch = (struct child *)user;
    struct sensor_syn syn;
    struct sensor_up u;

    if (!syn_parse(ch->dlt, bytes, h->caplen, &syn))
        return;
    /* The filter says so too, but frames may arrive before it is set. */
    if (!(ch->watched[syn.dport / 64] & (UINT64_C(1) << (syn.dport % 64))))
        return;
    sensor_up_syn(&syn, &u);
    child_send(ch, &u);
}

/* ---- The capture ---- */

static bool
child_known_dlt(int dlt)
{
    return dlt == DLT_EN10MB || dlt == DLT_LINUX_SLL || dlt == DLT_LINUX_SLL2 || dlt == DLT_RAW ||
           dlt == DLT_IPV4 || dlt == DLT_IPV6 || dlt == DLT_NULL || dlt == DLT_LOOP;
}

static int
child_filter(struct child *ch, char *err, size_t errcap)
{
    char expr[SENSOR_FILTER_CAP];
    struct bpf_program prog;

    if (sensor_filter(ch->cc.ports, ch->cc.n_ports, expr, sizeof expr) == -1) {
        (void)str_fmt(err, errcap, "the filter of %zu ports does not fit", ch->cc.n_ports);
        return -1;
    }
    if (pcap_compile(ch->pcap, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) == -1) {
        (void)str_fmt(err, errcap, "pcap_compile: %s", pcap_geterr(ch->pcap));
        return -1;
    }
    if (pcap_setfilter(ch->pcap, &prog) == -1) {
        (void)str_fmt(err, errcap, "pcap_setfilter: %s", pcap_geterr(ch->pcap));
        pcap_freecode(&prog);
        return -1;
    }
    pcap_freecode(&prog);
    return 0;
}

/* Opens the capture: 0, or -1 with the reason in err (ch->unavailable: no permission). */
static int
child_open(struct child *ch, char *err, size_t errcap)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(ch->cc.capture, errbuf);
    int r;

    if (p == NULL) {
        (void)str_fmt(err, errcap, "pcap_create: %s", errbuf);
        return -1;
    }
    if (pcap_set_snaplen(p, CHILD_SNAPLEN) != 0 || pcap_set_promisc(p, 0) != 0 ||
        pcap_set_immediate_mode(p, 1) != 0) {
        (void)str_fmt(err, errcap, "cannot set up the capture");
        pcap_close(p);
        return -1;
    }
    r = pcap_activate(p);
    if (r < 0) {
        ch->unavailable = r == PCAP_ERROR_PERM_DENIED;
        (void)str_fmt(err, errcap, "%s%s%s", pcap_statustostr(r), pcap_geterr(p)[0] ? ": " : "",
                      pcap_geterr(p));
        pcap_close(p);
        return -1;
    }
    ch->pcap = p;
    ch->dlt = pcap_datalink(p);
    /* Incoming only: our own deliveries' SYNs to port 25 elsewhere are not scanners. */
    if (pcap_setdirection(p, PCAP_D_IN) == -1) {
        (void)str_fmt(err, errcap, "pcap_setdirection: %s", pcap_geterr(p));
        goto fail;
    }
    if (!child_known_dlt(ch->dlt)) {
        (void)str_fmt(err, errcap, "link type %s (%d) is not one the sensor reads",
                      pcap_datalink_val_to_name(ch->dlt) ? pcap_datalink_val_to_name(ch->dlt) : "?",
                      ch->dlt);
        goto fail;
    }
    if (child_filter(ch, err, errcap) == -1)
        goto fail;
    if (pcap_setnonblock(p, 1, errbuf) == -1) {
        (void)str_fmt(err, errcap, "pcap_setnonblock: %s", errbuf);
        goto fail;
    }
    return 0;
fail:
    pcap_close(p);
    ch->pcap = NULL;
    return -1;
}

/* A capture that failed (at start or later): said once per reason, opened again later. */
static void
child_capture_failed(struct child *ch, const char *why, bool at_start)
{
    char q[LOG_QUOTE_CAP];

    log_quote(q, sizeof q, why, strlen(why));
    if (ch->unavailable) {
        log_warning("-: event=capture-unavailable, capture=%s, reason=\"%s\", note=\"running "
                    "without capture\"",
                    ch->cc.capture, q);
        ch->retry_at = 0;
        return;
    }
    if (strcmp(ch->last_error, why) != 0)
        log_warning("-: event=capture-error, capture=%s, error=\"%s\", retry=%ds%s", ch->cc.capture,
                    q, SENSOR_RETRY_SECONDS, at_start ? ", when=start" : "");
    else
        log_debug("-: event=capture-error, capture=%s, error=\"%s\", retry=%ds", ch->cc.capture, q,
                  SENSOR_RETRY_SECONDS);
    (void)str_copyz(ch->last_error, sizeof ch->last_error, why);
    ch->retry_at = child_now() + SENSOR_RETRY_SECONDS;
}

static void
child_capture_opened(struct child *ch, bool again)
{
    log_info("-: event=capture, capture=%s, status=%s, linktype=%s, ports=%zu", ch->cc.capture,
             again ? "reopened" : "open",
             pcap_datalink_val_to_name(ch->dlt) ? pcap_datalink_val_to_name(ch->dlt) : "?",
             ch->cc.n_ports);
    ch->last_error[0] = '\0';
    ch->retry_at = 0;
}

static void
child_reopen(struct child *ch)
{
    char err[512];

    if (child_open(ch, err, sizeof err) == -1) {
        child_capture_failed(ch, err, false);
        return;
    }
    child_capture_opened(ch, true);
    child_send_capture(ch);
}

static void
child_read_capture(struct child *ch, short revents)
{
    int r = pcap_dispatch(ch->pcap, CHILD_BATCH, child_packet, (u_char *)ch);
    char err[512];

    if (r >= 0 && !(revents & (POLLERR | POLLNVAL)))
        return;
    if (r < 0) {
        (void)str_copyz(err, sizeof err, pcap_geterr(ch->pcap));
    } else {
        /* libpcap read nothing, but the socket says why (an interface gone down). */
        int e = 0;
        socklen_t elen = sizeof e;

        if (getsockopt(pcap_get_selectable_fd(ch->pcap), SOL_SOCKET, SO_ERROR, &e, &elen) == -1)
            e = errno;
        (void)str_fmt(err, sizeof err, "the capture's socket reports an error%s%s",
                      e != 0 ? ": " : "", e != 0 ? strerror(e) : "");
    }
    pcap_close(ch->pcap);
    ch->pcap = NULL;
    child_capture_failed(ch, err, false);
    child_send_capture(ch);
}

/* ---- Down ---- */

int
sensor_child_block(const struct sensor_down *d, size_t len, char *err, size_t errcap)
{
    char a[INET6_ADDRSTRLEN], cmd[256];

    if (len != sizeof *d || d->kind != SENSOR_DOWN_BLOCK ||
        (d->family != AF_INET && d->family != AF_INET6) || d->ttl == 0 || d->ttl > CHILD_TTL_MAX) {
        (void)str_fmt(err, errcap, "a malformed block request");
        return -1;
    }
    if (inet_ntop((int)d->family, d->addr, a, sizeof a) == NULL) {
        (void)str_fmt(err, errcap, "inet_ntop: %s", strerror(errno));
        return -1;
    }
    (void)str_fmt(cmd, sizeof cmd, "add element %s %s { %s timeout %us }", FIREWALL_TABLE,
                  d->family == AF_INET ? FIREWALL_SET4 : FIREWALL_SET6, a, (unsigned)d->ttl);
    return firewall_nft(cmd, NULL, 0, err, errcap);
}

static void
child_block(const struct sensor_down *d, size_t len)
{
    char a[INET6_ADDRSTRLEN] = "?", err[512], q[LOG_QUOTE_CAP];
    char *nl;

    if (len == sizeof *d && (d->family == AF_INET || d->family == AF_INET6))
        (void)inet_ntop((int)d->family, d->addr, a, sizeof a);
    if (sensor_child_block(d, len, err, sizeof err) == 0) {
        log_info("-: event=scanner-blocked, client=[%s], timeout=%u", a, (unsigned)d->ttl);
        return;
    }
    /* nft's first line names the error; the rest repeats the command. */
    nl = strchr(err, '\n');
    if (nl != NULL)
        *nl = '\0';
    log_warning("-: event=scanner-block, client=[%s], error=\"%s\"", a,
                log_quote(q, sizeof q, err, strlen(err)));
}

static void
child_conf(struct child *ch, const struct sensor_down *d)
{
    unsigned ports[SENSOR_PORTS_MAX];
    char err[512];

    if (d->n_ports == 0 || d->n_ports > SENSOR_PORTS_MAX || d->log_level > LOG_LEVEL_ERROR) {
        log_warning("-: event=sensor-record, error=\"a malformed configuration\", action=ignored");
        return;
    }
    for (size_t i = 0; i < d->n_ports; i++) {
        if (d->ports[i] == 0) {
            log_warning("-: event=sensor-record, error=\"port 0\", action=ignored");
            return;
        }
        ports[i] = d->ports[i];
    }
    log_set_level((enum log_level)d->log_level);
    child_set_ports(ch, ports, d->n_ports);
    if (ch->pcap != NULL && child_filter(ch, err, sizeof err) == -1)
        log_error("-: event=capture-filter, error=\"%s\"", err);
    else
        log_debug("-: event=capture-filter, ports=%zu", ch->cc.n_ports);
}

/* The daemon's records, until none is left now; EOF: the daemon has gone, so do we. */
static void
child_read_daemon(struct child *ch)
{
    for (;;) {
        struct sensor_down d;
        unsigned char buf[sizeof d + 1];
        ssize_t n = recv(ch->fd, buf, sizeof buf, MSG_DONTWAIT);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0)
            _exit(0);
        memset(&d, 0, sizeof d);
        memcpy(&d, buf, (size_t)n < sizeof d ? (size_t)n : sizeof d);
        if ((size_t)n == sizeof d && d.kind == SENSOR_DOWN_CONF)
            child_conf(ch, &d);
        else if (d.kind == SENSOR_DOWN_BLOCK)
            child_block(&d, (size_t)n);
        else
            log_warning("-: event=sensor-record, error=\"a record of %zd octets, kind %u\", "
                        "action=ignored",
                        n, (unsigned)d.kind);
    }
}

/* ---- Becoming the sensor ---- */

/* Keeps fd (as 3) and closes every other descriptor above 2. */
static int
child_fds(int fd)
{
    if (fd != 3) {
        if (dup2(fd, 3) == -1)
            return -1;
    }
    if (close_range(4, ~0U, 0) == -1)
        return -1;
    return 3;
}

static void
child_signals(void)
{
    sigset_t none;

    (void)sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    /* The daemon decides: a reload is its business, and its end closing stops us. */
    (void)signal(SIGHUP, SIG_IGN);
    (void)signal(SIGINT, SIG_IGN);
    (void)signal(SIGPIPE, SIG_IGN);
    (void)signal(SIGTERM, SIG_DFL);
    (void)signal(SIGCHLD, SIG_DFL);
}

static bool
is_kept(cap_value_t c, const cap_value_t *keep, int n)
{
    for (int i = 0; i < n; i++) {
        if (keep[i] == c)
            return true;
    }
    return false;
}

/* Step 3 of the comment at the top. Returns 0, or -1 with the reason in err. */
static int
child_drop(struct child *ch, char *err, size_t errcap)
{
    cap_value_t keep[2];
    int n = 0;
    cap_t caps;
    uid_t ru, eu, su;

    if (ch->cc.capture[0] != '\0' && !ch->unavailable)
        keep[n++] = CAP_NET_RAW;
    if (ch->cc.block)
        keep[n++] = CAP_NET_ADMIN;
    if (ch->cc.as_root && prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) == -1) {
        (void)str_fmt(err, errcap, "PR_SET_KEEPCAPS: %s", strerror(errno));
        return -1;
    }
    /* Out of the bounding set, every capability this kernel knows (needs CAP_SETPCAP: as
     * root; otherwise what we may). */
    for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
        if (!is_kept(c, keep, n) && cap_drop_bound(c) == -1 && ch->cc.as_root && errno != EINVAL) {
            (void)str_fmt(err, errcap, "cannot drop capability %d from the bounding set: %s", c,
                          strerror(errno));
            return -1;
        }
    }
    if (ch->cc.as_root &&
        (setgroups(0, NULL) == -1 || setresgid(ch->cc.gid, ch->cc.gid, ch->cc.gid) == -1 ||
         setresuid(ch->cc.uid, ch->cc.uid, ch->cc.uid) == -1)) {
        (void)str_fmt(err, errcap, "cannot become uid %ld: %s", (long)ch->cc.uid, strerror(errno));
        return -1;
    }
    caps = cap_init();
    if (caps == NULL ||
        (n > 0 && (cap_set_flag(caps, CAP_PERMITTED, n, keep, CAP_SET) == -1 ||
                   cap_set_flag(caps, CAP_EFFECTIVE, n, keep, CAP_SET) == -1)) ||
        cap_set_proc(caps) == -1) {
        (void)str_fmt(err, errcap, "cannot keep only the capabilities the sensor needs: %s",
                      strerror(errno));
        if (caps != NULL)
            (void)cap_free(caps);
        return -1;
    }
    (void)cap_free(caps);
    if ((ch->cc.as_root && prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) == -1) ||
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L) == -1 ||
        prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) == -1) {
        (void)str_fmt(err, errcap, "prctl: %s", strerror(errno));
        return -1;
    }
    /* After the IDs changed (which clears it): SIGTERM when the daemon dies; and if it has
     * already, go now. */
    if (prctl(PR_SET_PDEATHSIG, (long)SIGTERM, 0L, 0L, 0L) == -1) {
        (void)str_fmt(err, errcap, "PR_SET_PDEATHSIG: %s", strerror(errno));
        return -1;
    }
    if (getppid() != ch->cc.parent)
        _exit(0);
    if (ch->cc.as_root) {
        if (getresuid(&ru, &eu, &su) == -1 || ru != ch->cc.uid || eu != ch->cc.uid ||
            su != ch->cc.uid || setuid(0) != -1 || setgid(0) != -1) {
            (void)str_fmt(err, errcap, "root could be regained after the switch");
            return -1;
        }
    }
    log_info("-: event=sensor-privileges, uid=%ld, gid=%ld, caps=%s%s%s", (long)getuid(),
             (long)getgid(), n == 0 ? "none" : "", is_kept(CAP_NET_RAW, keep, n) ? "net_raw" : "",
             is_kept(CAP_NET_ADMIN, keep, n) ? (n == 2 ? ",net_admin" : "net_admin") : "");
    return 0;
}

static _Noreturn void
child_loop(struct child *ch)
{
    for (;;) {
        struct pollfd pf[2] = {{.fd = ch->fd, .events = POLLIN}, {.fd = -1}};
        int timeout = -1, r;

        if (ch->pcap != NULL) {
            pf[1].fd = pcap_get_selectable_fd(ch->pcap);
            pf[1].events = POLLIN;
        } else if (ch->retry_at != 0) {
            time_t left = ch->retry_at - child_now();

            timeout = left > 0 ? (int)left * 1000 : 0;
        }
        r = poll(pf, 2, timeout);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1) {
            log_error("-: event=sensor, error=\"poll: %s\"", strerror(errno));
            _exit(1);
        }
        if (pf[0].revents != 0)
            child_read_daemon(ch);
        if (ch->pcap != NULL && pf[1].revents != 0)
            child_read_capture(ch, pf[1].revents);
        if (ch->pcap == NULL && ch->retry_at != 0 && child_now() >= ch->retry_at)
            child_reopen(ch);
    }
}

_Noreturn void
sensor_child_main(int fd, const struct sensor_child_conf *cc)
{
    static struct child ch; /* static: the bitmap is 8 KiB, and this never returns */
    char err[512];

    ch.cc = *cc;
    child_set_ports(&ch, cc->ports, cc->n_ports);
    ch.fd = child_fds(fd);
    if (ch.fd == -1) {
        log_error("-: event=sensor, error=\"cannot close the daemon's descriptors: %s\"",
                  strerror(errno));
        _exit(1);
    }
    child_signals();
    /* Room for a burst of SYNs while the daemon's loop is busy (the kernel caps it at
     * net.core.wmem_max); past it they are dropped and counted. */
    {
        int sndbuf = CHILD_SNDBUF;

        (void)setsockopt(ch.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    if (ch.cc.capture[0] != '\0') {
        if (child_open(&ch, err, sizeof err) == -1)
            child_capture_failed(&ch, err, true);
        else
            child_capture_opened(&ch, false);
    }
    if (child_drop(&ch, err, sizeof err) == -1) {
        log_error("-: event=sensor, error=\"%s\"", err);
        _exit(1);
    }
    child_send_capture(&ch);
    child_loop(&ch);
}
