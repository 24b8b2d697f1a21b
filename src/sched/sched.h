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

#include "conf/conf.h"
#include "dns/dns.h"
#include "spool/spool.h"

struct event_base;
struct sched;

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

/*
 * Stops: cancels every route lookup and delivery in flight (their
 * recipients stay pending, to be tried after the next start) and starts
 * nothing new. Spool changes already handed over still report; call
 * spool_free() after this and before sched_free().
 */
void sched_stop(struct sched *s);

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
};

void sched_stats(const struct sched *s, struct sched_stats *out);

#endif
