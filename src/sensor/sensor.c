/* SPDX-License-Identifier: MIT */
/*
 * The daemon's side of the sensor (sensor.h): starting it (the fork, with
 * what the child may do decided here, before privileges drop), reading its
 * records on the loop, and asking it to block. The child is child.c.
 *
 * Nothing here waits on the sensor once it runs: its records are read when
 * the loop says the socket is readable, requests are written non-blocking
 * and dropped when its socket is full, and a sensor that has gone is
 * logged once and then ignored. Only sensor_start() (for the child's first
 * record, that it runs and whether it captures) and sensor_stop() (for its
 * exit, at shutdown) wait, each for a bounded time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sys/capability.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "sensor/sensor_impl.h"

/* sensor_start waits this long for the child's first record; sensor_stop for its exit. */
#define SENSOR_START_MS 5000
#define SENSOR_STOP_MS  3000
/* Records read in one callback, so that a flood of SYNs leaves the loop to the sessions. */
#define SENSOR_READS_PER_CALL 256

struct sensor {
    int fd;    /* -1 once the sensor has gone */
    pid_t pid; /* -1 once waited for (or none) */
    struct event *ev;
    sensor_syn_fn *fn;
    void *arg;
    bool capturing;
    bool may_block; /* started with CAP_NET_ADMIN */
    bool blocking;  /* and block-scanners is on now */
    bool block_full_logged;
    bool bad_record_logged;
};

/* ---- Records ---- */

void
sensor_up_syn(const struct sensor_syn *syn, struct sensor_up *out)
{
    memset(out, 0, sizeof *out);
    out->kind = SENSOR_UP_SYN;
    out->family = (uint32_t)syn->family;
    memcpy(out->src, syn->src, sizeof out->src);
    memcpy(out->dst, syn->dst, sizeof out->dst);
    out->sport = syn->sport;
    out->dport = syn->dport;
    out->mirai = syn->mirai ? 1 : 0;
}

int
sensor_up_check(const struct sensor_up *u, size_t len, struct sensor_syn *syn, bool *capturing,
                char *why, size_t whycap)
{
    size_t alen;

    if (len != sizeof *u) {
        (void)str_fmt(why, whycap, "a record of %zu octets (expected %zu)", len, sizeof *u);
        return 0;
    }
    if (u->kind == SENSOR_UP_CAPTURE) {
        if (u->capturing > 1) {
            (void)str_fmt(why, whycap, "capture state %u", (unsigned)u->capturing);
            return 0;
        }
        *capturing = u->capturing == 1;
        return SENSOR_UP_CAPTURE;
    }
    if (u->kind != SENSOR_UP_SYN) {
        (void)str_fmt(why, whycap, "unknown record kind %u", (unsigned)u->kind);
        return 0;
    }
    if (u->family != AF_INET && u->family != AF_INET6) {
        (void)str_fmt(why, whycap, "address family %u", (unsigned)u->family);
        return 0;
    }
    if (u->mirai > 1 || (u->mirai == 1 && u->family != AF_INET)) {
        (void)str_fmt(why, whycap, "mirai %u for family %u", (unsigned)u->mirai,
                      (unsigned)u->family);
        return 0;
    }
    memset(syn, 0, sizeof *syn);
    syn->family = (int)u->family;
    alen = u->family == AF_INET ? 4 : 16;
    memcpy(syn->src, u->src, alen);
    memcpy(syn->dst, u->dst, alen);
    syn->sport = u->sport;
    syn->dport = u->dport;
    syn->mirai = u->mirai == 1;
    return SENSOR_UP_SYN;
}

/* ---- Reading on the loop ---- */

static void
sensor_reap(struct sensor *s, bool wait)
{
    int status;
    pid_t r;

    if (s->pid <= 0)
        return;
    do {
        r = waitpid(s->pid, &status, wait ? 0 : WNOHANG);
    } while (r == -1 && errno == EINTR);
    if (r != s->pid)
        return;
    if (WIFEXITED(status))
        log_info("-: event=sensor-exit, pid=%ld, status=%d", (long)s->pid, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        log_info("-: event=sensor-exit, pid=%ld, signal=%d", (long)s->pid, WTERMSIG(status));
    s->pid = -1;
}

/* The sensor has gone (EOF, or an error on its socket): said once, then it is not read. */
static void
sensor_gone(struct sensor *s, const char *why)
{
    log_warning("-: event=sensor-gone, pid=%ld, reason=\"%s\", note=\"running without "
                "capture and blocking until a restart\"",
                (long)s->pid, why);
    if (s->ev != NULL)
        (void)event_del(s->ev);
    (void)close(s->fd);
    s->fd = -1;
    s->capturing = false;
    sensor_reap(s, false);
}

static void
sensor_log_syn(const struct sensor_syn *syn)
{
    char a[INET6_ADDRSTRLEN];

    if (!log_enabled(LOG_LEVEL_DEBUG))
        return;
    if (inet_ntop(syn->family, syn->src, a, sizeof a) == NULL)
        (void)str_copyz(a, sizeof a, "?");
    log_debug("-: event=syn, client=[%s], port=%u, mirai=%s", a, (unsigned)syn->dport,
              syn->mirai ? "yes" : "no");
}

/* One record from the sensor: 1 read, 0 none left now, -1 the sensor has gone. */
static int
sensor_read_one(struct sensor *s)
{
    struct sensor_up u;
    struct sensor_syn syn;
    bool capturing;
    char why[128];
    ssize_t n;

    /* One octet more than a record: a longer message shows as longer, not as a record. */
    unsigned char buf[sizeof u + 1];

    n = recv(s->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == -1 && errno == EINTR)
        return 1;
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n <= 0) {
        sensor_gone(s, n == 0 ? "its socket closed" : strerror(errno));
        return -1;
    }
    memcpy(&u, buf, (size_t)n < sizeof u ? (size_t)n : sizeof u);
    switch (sensor_up_check(&u, (size_t)n, &syn, &capturing, why, sizeof why)) {
    case SENSOR_UP_SYN:
        sensor_log_syn(&syn);
        if (s->fn != NULL)
            s->fn(s->arg, &syn);
        break;
    case SENSOR_UP_CAPTURE:
        s->capturing = capturing;
        break;
    default:
        /* A bug, or a sensor that packets took over: said once, never believed. */
        if (!s->bad_record_logged)
            log_warning("-: event=sensor-record, error=\"%s\", action=ignored", why);
        s->bad_record_logged = true;
        break;
    }
    return 1;
}

static void
sensor_readable(evutil_socket_t fd, short what, void *arg)
{
    struct sensor *s = arg;

    (void)fd;
    (void)what;
    for (int i = 0; i < SENSOR_READS_PER_CALL && s->fd != -1; i++) {
        if (sensor_read_one(s) <= 0)
            return;
    }
}

void
sensor_attach(struct sensor *s, struct event_base *base, sensor_syn_fn *fn, void *arg)
{
    if (s == NULL)
        return;
    s->fn = fn;
    s->arg = arg;
    if (s->fd == -1 || s->ev != NULL)
        return;
    s->ev = event_new(base, s->fd, EV_READ | EV_PERSIST, sensor_readable, s);
    if (s->ev == NULL || event_add(s->ev, NULL) == -1)
        log_panic("cannot watch the sensor's socket");
}

/* ---- Requests ---- */

/* Sends d without waiting: false when the sensor's socket is full or gone. */
static bool
sensor_send(struct sensor *s, const struct sensor_down *d)
{
    ssize_t n;

    if (s->fd == -1)
        return false;
    do {
        n = send(s->fd, d, sizeof *d, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n == -1 && errno == EINTR);
    return n == (ssize_t)sizeof *d;
}

void
sensor_set_conf(struct sensor *s, const struct conf *c)
{
    struct sensor_down d;
    unsigned ports[SENSOR_PORTS_MAX];
    size_t n;

    if (s == NULL)
        return;
    s->blocking = s->may_block && c->watch.block_scanners != 0;
    memset(&d, 0, sizeof d);
    d.kind = SENSOR_DOWN_CONF;
    d.log_level = (uint32_t)c->log_level;
    n = sensor_ports(c, ports, SENSOR_PORTS_MAX);
    for (size_t i = 0; i < n; i++)
        d.ports[i] = (uint16_t)ports[i];
    d.n_ports = (uint32_t)n;
    if (!sensor_send(s, &d) && s->fd != -1)
        log_warning("-: event=sensor-conf, error=\"the sensor's socket is full\", "
                    "note=\"the capture keeps its old ports\"");
}

void
sensor_block(struct sensor *s, int family, const unsigned char *addr, unsigned ttl)
{
    struct sensor_down d;

    if (s == NULL || !s->blocking || ttl == 0 || (family != AF_INET && family != AF_INET6))
        return;
    memset(&d, 0, sizeof d);
    d.kind = SENSOR_DOWN_BLOCK;
    d.family = (uint32_t)family;
    memcpy(d.addr, addr, family == AF_INET ? 4 : 16);
    d.ttl = ttl;
    if (sensor_send(s, &d)) {
        s->block_full_logged = false;
        return;
    }
    /* Best effort: the source is blocked at its next fingerprint, if the sensor catches up. */
    if (s->fd != -1 && !s->block_full_logged)
        log_warning("-: event=scanner-block, error=\"the sensor's socket is full\", "
                    "action=dropped");
    s->block_full_logged = true;
}

bool
sensor_capturing(const struct sensor *s)
{
    return s != NULL && s->fd != -1 && s->capturing;
}

/* ---- Start and stop ---- */

struct sensor *
sensor_open_fd(int fd, pid_t pid, bool block)
{
    struct sensor *s = xcalloc(1, sizeof *s);
    int fl = fcntl(fd, F_GETFL);

    if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
        log_panic("fcntl on the sensor's socket: %s", strerror(errno));
    s->fd = fd;
    s->pid = pid;
    s->may_block = block;
    return s;
}

/* Whether this process has cap in its permitted set (as root: always). */
static bool
sensor_has_cap(cap_value_t cap)
{
    cap_flag_value_t v = CAP_CLEAR;
    cap_t caps;

    if (geteuid() == 0)
        return true;
    caps = cap_get_proc();
    if (caps == NULL)
        return false;
    if (cap_get_flag(caps, cap, CAP_PERMITTED, &v) == -1)
        v = CAP_CLEAR;
    (void)cap_free(caps);
    return v == CAP_SET;
}

/* What the child is, decided before the fork (the user's IDs looked up here, not in it). */
static int
sensor_child_conf(const struct conf *c, struct sensor_child_conf *cc, char *err, size_t errcap)
{
    memset(cc, 0, sizeof *cc);
    cc->parent = getpid();
    cc->n_ports = sensor_ports(c, cc->ports, SENSOR_PORTS_MAX);
    if (c->watch.capture[0] != '\0') {
        if (sensor_has_cap(CAP_NET_RAW))
            (void)str_copyz(cc->capture, sizeof cc->capture, c->watch.capture);
        else
            log_warning("-: event=capture-unavailable, capture=%s, reason=\"not root and no "
                        "CAP_NET_RAW\", note=\"running without capture\"",
                        c->watch.capture);
    }
    if (c->watch.block_scanners != 0) {
        cc->block = sensor_has_cap(CAP_NET_ADMIN);
        if (!cc->block)
            log_warning("-: event=block-unavailable, reason=\"not root and no CAP_NET_ADMIN\", "
                        "note=\"scanners are not blocked\"");
    }
    if (geteuid() == 0 && c->user[0] != '\0') {
        struct passwd pw, *found = NULL;
        char buf[4096];
        int rc = getpwnam_r(c->user, &pw, buf, sizeof buf, &found);

        if (found == NULL) {
            (void)str_fmt(err, errcap, "%s:%u: user '%s' %s", c->path, c->user_line, c->user,
                          rc == 0 ? "does not exist" : strerror(rc));
            return -1;
        }
        cc->as_root = true;
        cc->uid = pw.pw_uid;
        cc->gid = pw.pw_gid;
    }
    return 0;
}

/* The child's first record (it runs, it captures or not), waited for a bounded time. */
static void
sensor_wait_ready(struct sensor *s)
{
    struct timespec t0, t1;
    long left = SENSOR_START_MS;

    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    while (s->fd != -1 && left > 0) {
        struct pollfd pf = {.fd = s->fd, .events = POLLIN};
        int r = poll(&pf, 1, (int)left);

        if (r == -1 && errno != EINTR)
            break;
        if (r == 1) {
            int k = sensor_read_one(s);

            if (k != 0)
                return; /* the first record, or the sensor has gone (logged) */
        }
        (void)clock_gettime(CLOCK_MONOTONIC, &t1);
        left = SENSOR_START_MS -
               ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
    }
    if (s->fd != -1)
        log_warning("-: event=sensor-start, pid=%ld, note=\"no word from the sensor after %d ms; "
                    "going on\"",
                    (long)s->pid, SENSOR_START_MS);
}

#ifdef GATE26_FAULTS
/*
 * Tests only (a -Dfaults=true build; nothing from the network reaches it):
 * GATE26_SENSOR_BLOCK=ADDRESS asks the sensor to block that address once
 * it runs, for block-scanners' end-to-end test. Nothing in the daemon
 * decides to block yet; the scanner table (src/watch) will.
 */
static void
sensor_test_block(struct sensor *s, const struct conf *c)
{
    const char *v = getenv("GATE26_SENSOR_BLOCK");
    unsigned char a[16];

    if (v == NULL)
        return;
    if (inet_pton(AF_INET, v, a) == 1)
        sensor_block(s, AF_INET, a, c->watch.block_scanners);
    else if (inet_pton(AF_INET6, v, a) == 1)
        sensor_block(s, AF_INET6, a, c->watch.block_scanners);
}
#endif

struct sensor *
sensor_start(const struct conf *c, char *err, size_t errcap)
{
    struct sensor_child_conf cc;
    struct sensor *s;
    int sv[2];
    pid_t pid;

    if (errcap > 0)
        err[0] = '\0';
    if (c->watch.line == 0 || (c->watch.capture[0] == '\0' && c->watch.block_scanners == 0))
        return NULL;
    if (sensor_check(c, err, errcap) == -1 || sensor_child_conf(c, &cc, err, errcap) == -1)
        return NULL;
    if (cc.capture[0] == '\0' && !cc.block)
        return NULL; /* nothing it could do: said above */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
        log_error("-: event=sensor-start, error=\"socketpair: %s\", note=\"running without "
                  "the sensor\"",
                  strerror(errno));
        return NULL;
    }
    pid = fork();
    if (pid == -1) {
        log_error("-: event=sensor-start, error=\"fork: %s\", note=\"running without the "
                  "sensor\"",
                  strerror(errno));
        (void)close(sv[0]);
        (void)close(sv[1]);
        return NULL;
    }
    if (pid == 0)
        sensor_child_main(sv[1], &cc);
    (void)close(sv[1]);
    s = sensor_open_fd(sv[0], pid, cc.block);
    s->blocking = cc.block;
    log_info("-: event=sensor-start, pid=%ld, capture=%s, block-scanners=%s, ports=%zu", (long)pid,
             cc.capture[0] ? cc.capture : "none", cc.block ? "yes" : "no", cc.n_ports);
    sensor_wait_ready(s);
#ifdef GATE26_FAULTS
    sensor_test_block(s, c);
#endif
    return s;
}

void
sensor_stop(struct sensor *s)
{
    struct timespec tick = {0, 10 * 1000000};

    if (s == NULL)
        return;
    if (s->ev != NULL)
        event_free(s->ev);
    if (s->fd != -1)
        (void)close(s->fd); /* the sensor reads EOF and exits */
    for (int waited = 0; s->pid > 0 && waited < SENSOR_STOP_MS; waited += 10) {
        sensor_reap(s, false);
        if (s->pid > 0)
            (void)nanosleep(&tick, NULL);
    }
    if (s->pid > 0) {
        log_warning("-: event=sensor-stop, pid=%ld, note=\"still running after %d ms: killed\"",
                    (long)s->pid, SENSOR_STOP_MS);
        (void)kill(s->pid, SIGKILL);
        sensor_reap(s, true);
    }
    free(s);
}
