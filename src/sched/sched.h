/* SPDX-License-Identifier: MIT */
/*
 * The scheduler (queue manager): decides when each queued message is
 * tried, delivers its pending recipients domain by domain through route/
 * and deliver/, records every outcome durably in the message's file
 * (through the spool's thread), retries on the configured schedule, gives
 * up after `give-up`, and bounces (RFC 3464, dsn.h) what failed for good.
 * docs/relay.md describes an attempt step by step.
 *
 * Threads: the loop's only.
 */
#ifndef GATE26_SCHED_SCHED_H
#define GATE26_SCHED_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf/conf.h"
#include "dns/dns.h"
#include "spool/spool.h"

struct event_base;
struct sched;
struct tls_client;

/*
 * Creates the scheduler on base, over the open spool sp, resolving through
 * dns, under c (a reference is taken). Registers itself as the spool's
 * commit hook. Does not read the queue yet: see sched_load(). Returns the
 * scheduler (free with sched_free).
 */
struct sched *sched_new(struct event_base *base, struct spool *sp, struct dns *dns, struct conf *c);

/*
 * Reads every message in queue/ and schedules it at its recorded next
 * attempt (at once if that is past). Returns the number of messages, or -1
 * with errno when queue/ cannot be listed. A file that cannot be read is
 * logged (error: the operator must look at it) and left alone.
 */
long sched_load(struct sched *s);

/* A reload: attempts that start from now on use c (a reference is taken). */
void sched_set_conf(struct sched *s, struct conf *c);

struct watch;

/* The watcher told of every recipient's outcome (borrowed; it outlives s). NULL: none. */
void sched_set_watch(struct sched *s, struct watch *w);

struct track;

/* Message tracking told of attempts, DSNs and commands (borrowed; tracking.c). NULL: off. */
void sched_set_track(struct sched *s, struct track *t);

/*
 * The TLS client context for STARTTLS to next hops (a reference is taken;
 * the old one is released: deliveries in flight hold their own). NULL: no
 * STARTTLS at all.
 */
void sched_set_tls(struct sched *s, struct tls_client *tls);

/*
 * Stops: cancels every route lookup and delivery in flight (their
 * recipients stay pending, to be tried after the next start) and starts
 * nothing new. Spool changes already handed over still report; call
 * spool_free() after this and before sched_free().
 */
void sched_stop(struct sched *s);

/*
 * Shutting down gently (SIGTERM): no new attempt or transaction starts;
 * those in flight go on. Returns how many transactions (or their route
 * lookups) are in flight; sched_stats().deliveries says when none is left.
 */
size_t sched_drain(struct sched *s);

/* Frees everything. NULL: nothing. */
void sched_free(struct sched *s);

/* What sched_stats() reports. */
struct sched_stats {
    size_t messages;   /* known queued messages */
    size_t active;     /* messages with an attempt in progress */
    size_t deliveries; /* transactions (or route lookups) in flight */
    uint64_t sent;     /* recipients delivered since start */
    uint64_t bounced;  /* recipients failed for good since start */
    uint64_t deferred; /* recipient attempts that will be retried */
    time_t oldest;     /* arrival of the oldest queued message (seconds); 0: queue empty */
};

void sched_stats(const struct sched *s, struct sched_stats *out);

/* The queue at a glance (gate26 status). */
struct sched_queue_facts {
    size_t messages; /* queued */
    size_t deferred; /* tried at least once and not on hold (as `queue --deferred` selects) */
    size_t held;     /* on hold */
    time_t oldest;   /* arrival of the oldest message, seconds since the epoch; 0: none */
};

/*
 * Counts the queue from the scheduler's memory (no file is read): one pass
 * over the messages. A message found at start arrived when its envelope
 * says; one queued since, when its commit was reported.
 */
void sched_queue_facts(const struct sched *s, struct sched_queue_facts *out);

/* ---- Queue control (gate26 queue, through ctl/) ---- */

/* What the scheduler knows of one queued message, with its open file. */
struct sched_info {
    const struct spool_queued *q; /* envelope, content offset and length */
    bool held;
    bool active;            /* an attempt (or a queue command) is in progress */
    const char *last_error; /* of the last deferral, "" if none */
};

/* Called with each message (valid during the call). */
typedef void sched_info_fn(void *arg, const struct sched_info *info);

/*
 * Calls fn for every queued message, in arrival order; a file that cannot
 * be read is skipped. Returns how many were reported.
 */
size_t sched_list(struct sched *s, sched_info_fn *fn, void *arg);

/* Calls fn for message id. Returns 0, or -1 with errno ENOENT (unknown id) or the read error. */
int sched_show(struct sched *s, const char *id, sched_info_fn *fn, void *arg);

/*
 * Tries every message now, held ones and ones whose file cannot be read
 * excepted. Returns how many were scheduled.
 */
long sched_flush(struct sched *s);

/* What sched_command does to each message. */
enum sched_cmd {
    SCHED_CMD_FLUSH,   /* try now */
    SCHED_CMD_HOLD,    /* no attempt until released (recorded in the file: survives restarts) */
    SCHED_CMD_RELEASE, /* undoes hold; tried at once */
    SCHED_CMD_DELETE,  /* the file goes, nothing is delivered or bounced */
    SCHED_CMD_BOUNCE,  /* every pending recipient fails now and the sender gets a bounce */
};

/*
 * How one message of a sched_command ended: i is its index in ids; status
 * 0 done (for hold, release and delete: durable in the file; for bounce:
 * the bounce is handed to the spool), or -1 not done, with err: ENOENT no
 * such message, EBUSY an attempt or another command is in progress (try
 * again), EALREADY hold of a held or release of an unheld message, EPERM
 * flush of a held message, EIO flush of a message whose file cannot be
 * read, else the error of reading or changing its file. A flush of a
 * message that is being tried right now is status 0 with err EINPROGRESS.
 */
typedef void sched_each_fn(void *arg, size_t i, int status, int err);

/*
 * Runs cmd on each of the n messages ids[0..n) (no id twice), in that
 * order, finding them all in one pass over the queue. fn(arg, ...) is called
 * exactly once for each: from inside this call for what is decided at once
 * (refusals, flush, bounce), later on the loop when a file changes (hold,
 * release, delete).
 */
void sched_command(struct sched *s, enum sched_cmd cmd, const char (*ids)[SPOOL_ID_LEN + 1],
                   size_t n, sched_each_fn *fn, void *arg);

#endif
