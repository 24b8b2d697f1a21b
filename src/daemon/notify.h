/* SPDX-License-Identifier: MIT */
/*
 * Telling systemd what the serve process is doing (sd_notify(3); the unit is
 * Type=notify, docs/packaging.md "The service"): READY=1 once every door is
 * bound and the control socket answers, RELOADING=1 and READY=1 again around
 * a reload (whether it took or not), STOPPING=1 when a stop begins, and a
 * STATUS= line with them and every SERVICE_NOTIFY_EVERY seconds, which
 * `systemctl status gate26` shows:
 *
 *   sessions N, queue M (deferred D, held H), alerts A
 *
 * prefixed by "reloading; ", "stopping; " or "reload failed: WHY; " (kept
 * until a reload takes: the running configuration is not the file's).
 * Without NOTIFY_SOCKET in the environment nothing is made or sent.
 */
#ifndef GATE26_DAEMON_NOTIFY_H
#define GATE26_DAEMON_NOTIFY_H

#include <stddef.h>

struct event_base;
struct sched;
struct watch;

/* The status line is sent this often (seconds). */
#define SERVICE_NOTIFY_EVERY 10

/* The longest reason of a failed reload the status line keeps (octets). */
#define SERVICE_NOTIFY_WHY_MAX 300

/* The counts of the status line. */
struct service_notify_counts {
    size_t sessions; /* open, every door */
    size_t queue;    /* messages queued */
    size_t deferred; /* of those, tried and not on hold */
    size_t held;     /* on hold */
    size_t alerts;   /* alert keys firing */
};

/*
 * Writes "[PREFIX]sessions N, queue M (deferred D, held H), alerts A" into
 * dst (capacity cap, cut if it must be). prefix (may be "") is copied with
 * every octet below 0x20 or above 0x7e made a space, so that it cannot end
 * the STATUS= assignment and start another (sd_notify's lines are
 * newline-separated). Returns dst.
 */
const char *service_notify_status(char *dst, size_t cap, const char *prefix,
                                  const struct service_notify_counts *c);

struct service_notify;

/*
 * When NOTIFY_SOCKET is set: the notifier of the daemon on base, which reads
 * its counts from w (sessions, alerts) and s (the queue), both borrowed and
 * outliving it. Else NULL, which every function below takes and ignores.
 */
struct service_notify *service_notify_new(struct event_base *base, struct watch *w,
                                          struct sched *s);

/* Start-up is done: READY=1 goes on the loop's first turn, and the status every 10 s from then. */
void service_notify_start(struct service_notify *n);

/* SIGHUP: RELOADING=1 with MONOTONIC_USEC= (now, CLOCK_MONOTONIC), before the reload. */
void service_notify_reloading(struct service_notify *n);

/* After the reload: READY=1, and the status saying why it failed when why is not NULL. */
void service_notify_reloaded(struct service_notify *n, const char *why);

/* A stop begins (SIGTERM, SIGINT): STOPPING=1. Once; later calls send nothing. */
void service_notify_stopping(struct service_notify *n);

/* Stops the timers; NULL does nothing. */
void service_notify_free(struct service_notify *n);

#endif
