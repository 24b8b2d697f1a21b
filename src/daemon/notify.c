/* SPDX-License-Identifier: MIT */
/*
 * sd_notify for the serve process; see notify.h. libsystemd's sd_notify(),
 * not a datagram of our own: NOTIFY_SOCKET may be a path or an abstract name
 * ("@..."), and systemd's own client is the one that keeps up with it.
 * Everything here runs on the loop's thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "daemon/notify.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "sched/sched.h"
#include "watch/watch.h"

struct service_notify {
    struct watch *watch;
    struct sched *sched;
    struct event *ready; /* one shot: the loop's first turn */
    struct event *tick;  /* every SERVICE_NOTIFY_EVERY seconds */
    bool stopping;
    bool warned;                           /* a failed send is logged once */
    char why[SERVICE_NOTIFY_WHY_MAX + 32]; /* "reload failed: WHY; " or "" */
};

const char *
service_notify_status(char *dst, size_t cap, const char *prefix,
                      const struct service_notify_counts *c)
{
    size_t n;

    if (cap == 0)
        return dst;
    (void)snprintf(dst, cap, "%ssessions %zu, queue %zu (deferred %zu, held %zu), alerts %zu",
                   prefix, c->sessions, c->queue, c->deferred, c->held, c->alerts);
    n = strlen(prefix) < cap ? strlen(prefix) : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)dst[i];

        if (ch < 0x20 || ch > 0x7e)
            dst[i] = ' ';
    }
    return dst;
}

/* The counts now, as `gate26 status` reads them (ctl/status.c). */
static void
service_notify_counts(const struct service_notify *n, struct service_notify_counts *out)
{
    struct watch_status st;
    struct sched_queue_facts q;

    watch_status(n->watch, &st);
    sched_queue_facts(n->sched, &q);
    memset(out, 0, sizeof(*out));
    for (int d = 0; d < DOOR_ROLE_COUNT; d++)
        out->sessions += st.door[d].sessions_open;
    out->queue = q.messages;
    out->deferred = q.deferred;
    out->held = q.held;
    out->alerts = watch_alerts_firing(n->watch, NULL, NULL);
}

/* Sends head (assignments, each ending in '\n', or "") and the status line after state. */
static void
service_notify_send(struct service_notify *n, const char *head, const char *state)
{
    struct service_notify_counts c;
    char status[SERVICE_NOTIFY_WHY_MAX + 256], prefix[sizeof(n->why) + 16];
    int r;

    service_notify_counts(n, &c);
    (void)str_fmt(prefix, sizeof(prefix), "%s%s", state, n->why);
    (void)service_notify_status(status, sizeof(status), prefix, &c);
    r = sd_notifyf(0, "%sSTATUS=%s", head, status);
    if (r < 0 && !n->warned) {
        n->warned = true;
        log_warning("-: event=notify, error=\"%s\", note=\"systemd is not told of this "
                    "process's state\"",
                    strerror(-r));
    }
}

static void
service_notify_tick(evutil_socket_t fd, short what, void *arg)
{
    struct service_notify *n = arg;

    (void)fd;
    (void)what;
    service_notify_send(n, "", n->stopping ? "stopping; " : "");
}

static void
service_notify_ready(evutil_socket_t fd, short what, void *arg)
{
    static const struct timeval every = {SERVICE_NOTIFY_EVERY, 0};
    struct service_notify *n = arg;

    (void)fd;
    (void)what;
    if (n->stopping)
        return; /* a stop came first: READY=1 would say the opposite */
    service_notify_send(n, "READY=1\n", "");
    if (event_add(n->tick, &every) == -1)
        log_panic("cannot add the status timer");
}

struct service_notify *
service_notify_new(struct event_base *base, struct watch *w, struct sched *s)
{
    struct service_notify *n;

    if (getenv("NOTIFY_SOCKET") == NULL)
        return NULL;
    n = xcalloc(1, sizeof(*n));
    n->watch = w;
    n->sched = s;
    n->ready = evtimer_new(base, service_notify_ready, n);
    n->tick = event_new(base, -1, EV_PERSIST, service_notify_tick, n);
    if (n->ready == NULL || n->tick == NULL)
        log_panic("cannot make the sd_notify timers");
    return n;
}

void
service_notify_start(struct service_notify *n)
{
    static const struct timeval now = {0, 0};

    if (n != NULL && evtimer_add(n->ready, &now) == -1)
        log_panic("cannot add the sd_notify timer");
}

void
service_notify_reloading(struct service_notify *n)
{
    struct timespec ts;
    char head[96];

    if (n == NULL)
        return;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    (void)str_fmt(head, sizeof(head), "RELOADING=1\nMONOTONIC_USEC=%llu\n",
                  (unsigned long long)ts.tv_sec * 1000000ULL +
                      (unsigned long long)ts.tv_nsec / 1000ULL);
    service_notify_send(n, head, "reloading; ");
}

void
service_notify_reloaded(struct service_notify *n, const char *why)
{
    if (n == NULL)
        return;
    n->why[0] = '\0';
    if (why != NULL) {
        /* Cut visibly: the log has the whole reason. */
        if (str_fmt(n->why, sizeof(n->why), "reload failed: %.*s%s; ", SERVICE_NOTIFY_WHY_MAX, why,
                    strlen(why) > SERVICE_NOTIFY_WHY_MAX ? "..." : "") == -1)
            n->why[0] = '\0';
    }
    /* READY=1 also after a failure: the daemon serves on, with the configuration it had. */
    service_notify_send(n, "READY=1\n", "");
}

void
service_notify_stopping(struct service_notify *n)
{
    if (n == NULL || n->stopping)
        return;
    n->stopping = true;
    service_notify_send(n, "STOPPING=1\n", "stopping; ");
}

void
service_notify_free(struct service_notify *n)
{
    if (n == NULL)
        return;
    event_free(n->ready);
    event_free(n->tick);
    free(n);
}
