/* SPDX-License-Identifier: MIT */
/*
 * The scheduler's own structures, shared by its files (private to sched/):
 * sched.c keeps the queue (one entry per message, its timer, loading,
 * concurrency slots); attempt.c runs one attempt of a message (jobs per
 * domain, outcomes, the final change of its file); bounce.c spools the
 * reports that dsn.c composes.
 *
 * Lifetimes: an entry lives while its file is in queue/. An attempt lives
 * from its start until its last spool change has reported, even after
 * sched_stop() (it is then only waiting to be freed). A job lives inside
 * its attempt; while it runs it owns a route lookup or a delivery.
 */
#ifndef GATE26_SCHED_SCHED_IMPL_H
#define GATE26_SCHED_SCHED_IMPL_H

#include <stdbool.h>
#include <sys/time.h>
#include <time.h>

#include "deliver/deliver.h"
#include "route/route.h"
#include "sched/dsn.h"
#include "sched/sched.h"
#include "track/track.h"

struct event;

/* More Received headers than this: a mail loop (RFC 5321 6.3). */
#define SCHED_MAX_RECEIVED 50

/* A destination (a recipient domain) with deliveries in flight or waiting. */
struct sched_dest {
    struct sched_dest *next;
    char domain[CAP_DOMAIN + 3];
    unsigned active;                         /* jobs running (slots taken) */
    struct sched_job *wait_head, *wait_tail; /* jobs waiting for a slot, FIFO */
};

/* One queued message. */
struct sched_entry {
    struct sched *s;
    struct sched_entry *prev, *next;
    char id[SPOOL_ID_LEN + 1];
    unsigned attempts;     /* as recorded in the file */
    uint64_t next_attempt; /* seconds since the epoch; 0: now */
    struct event *timer;
    struct sched_attempt *at; /* while an attempt runs */
    time_t last_try;          /* when this process last started an attempt of it; 0: never */
    bool broken;              /* its file could not be read: left alone */
    bool ready;               /* due, waiting in the ready queue for an attempt slot */
    struct sched_entry *ready_next;
    bool held;           /* next_attempt is SPOOL_NEXT_HELD: no attempt until released */
    struct sched_op *op; /* a queue command changing its file (hold, release, delete) */
    char last_error[DELIVER_TEXT_MAX]; /* of the last deferral, for gate26 queue list */
    time_t arrival;                    /* as recorded (loaded), or when committed; 0: unknown */
};

/* What one attempt found for one recipient. */
enum sched_result {
    SCHED_NONE, /* not tried in this attempt (already done, or none of its jobs ran) */
    SCHED_OK,
    SCHED_TEMP,
    SCHED_PERM,
};

struct sched_outcome {
    enum sched_result result;
    unsigned code; /* the server's reply code, 0 for a local reason */
    char enhanced[16];
    char text[DELIVER_TEXT_MAX];
    char remote_mta[CAP_DOMAIN + 1]; /* the server that answered, "" if none */
    char relay[CAP_DOMAIN + 64];
    char tried[CAP_DOMAIN + 64]; /* relay "none": deliver_result.tried, the last hop, or "" */
    char tls[128];               /* deliver_result.tls: "TLSv1.3 CIPHER verified", or "" */
};

/* One transaction: the pending recipients of one domain. */
struct sched_job {
    struct sched_attempt *at;
    struct sched_job *next;      /* in the attempt */
    struct sched_job *wait_next; /* in its destination's wait queue */
    bool waiting;
    bool running;
    char domain[CAP_DOMAIN + 3];
    size_t n;
    size_t *idx; /* recipient indices in the envelope */
    struct deliver_rcpt *rcpts;
    struct deliver_msg msg;
    struct conf *conf; /* a reference from sched_job_run on: route and deliver borrow it, and a
                          reload must not free it under them */
    struct route *route;
    struct deliver_hop *route_hops; /* the route's hops, owned; n_hops of them */
    size_t n_hops;
    struct deliver *dl;
    struct sched_dest *dest; /* set when it starts waiting; a slot is taken while running */
};

struct sched_attempt {
    struct sched_entry *e;
    struct spool_queued *q;
    struct timeval start;
    time_t prev_try; /* the entry's last_try before this attempt */
    struct sched_job *jobs;
    size_t jobs_left;
    size_t changes_left;       /* spool changes handed over, not yet reported */
    struct sched_outcome *out; /* one per recipient of the envelope */
    bool final_sent;           /* the last change is on its way */
    bool removed;              /* ... and it removes the file */
    bool stopped;              /* sched_stop: only waiting for its changes */
    bool final_failed;
};

struct sched {
    struct event_base *base;
    struct spool *sp;
    struct dns *dns;
    struct conf *conf;
    struct deliver_cache *cache; /* idle delivery connections (delivery { connection-reuse }) */
    struct tls_client *tls;      /* for STARTTLS to next hops; NULL: none (tls policy none) */
    struct watch *watch;         /* told of each recipient's outcome; NULL: none */
    struct track *track;         /* message tracking (tracking.c); NULL: off */
    struct sched_entry *head, *tail;
    size_t n_entries;
    size_t n_active;
    /* Due messages waiting for an attempt slot (at most 2 x max-deliveries run at once). */
    struct sched_entry *ready_head, *ready_tail;
    bool pumping, pump_again; /* sched_pump is running (it may be re-entered) */
    unsigned running;         /* jobs with a route lookup or delivery in flight */
    struct sched_dest *dests;
    bool stopping;
    bool draining; /* sched_drain: nothing new starts */
    uint64_t sent, bounced, deferred;
};

/* sched.c: arms e's timer for its next attempt, unless held, busy or in queue-only mode. */
void sched_entry_arm(struct sched_entry *e);
/* sched.c: forgets e (its file is gone). */
void sched_entry_free(struct sched_entry *e);
/* sched.c: e->attempts = attempts, and the count of entries deferred at least once. */
void sched_entry_set_attempts(struct sched_entry *e, unsigned attempts);

/* sched.c: a slot opened (a job ended): start waiting jobs that fit. */
void sched_pump(struct sched *s);
/* sched.c: queue a job for a slot. */
void sched_job_wait(struct sched *s, struct sched_job *job);
/* sched.c: the attempt of e is over: reschedule e (arm its timer) or forget it (removed). */
void sched_entry_after(struct sched_entry *e, bool removed);
/* sched.c: the destination record of domain, created if need be. */
struct sched_dest *sched_dest_get(struct sched *s, const char *domain);
void sched_dest_put(struct sched *s, struct sched_dest *d);

/* attempt.c: starts an attempt of e now (e has none running). */
void sched_attempt_start(struct sched_entry *e);
/*
 * attempt.c: an attempt of e that delivers nothing: every pending recipient
 * fails with text (status enhanced) and is bounced, then the file goes
 * (gate26 queue bounce). Returns 0, or -1 with errno when the file cannot be read.
 */
int sched_attempt_fail_all(struct sched_entry *e, const char *enhanced, const char *text);
/* attempt.c: the slot is ours: route and deliver. */
void sched_job_run(struct sched_job *job);
/* finish.c: every job has ended: bounces, then the final change of the file. */
void sched_attempt_finish(struct sched_attempt *at);
/* finish.c: cancels what runs (sched_stop); the attempt waits for its changes. */
void sched_attempt_stop(struct sched_attempt *at);
/* attempt.c: hands a change of the attempt's file to the spool, counted in changes_left. */
void sched_attempt_change(struct sched_attempt *at, const struct spool_change *ch);
/* attempt.c: the last change has reported (or stopped with none left): free, reschedule. */
void sched_attempt_end(struct sched_attempt *at);
/* attempt.c: records one recipient's outcome. */
void sched_outcome_set(struct sched_outcome *o, enum sched_result r, unsigned code,
                       const char *enhanced, const char *text, const char *remote,
                       const char *relay);
/* attempt.c: the log line of recipient i's outcome with status "sent", "deferred", ... */
void sched_log_outcome(const struct sched_attempt *at, size_t i, const char *status);
/* tracking.c: recipient i's attempt with status "sent", "deferred", "bounced" (track.h). */
void sched_track_outcome(const struct sched_attempt *at, size_t i, const char *status);
/* tracking.c: an event of message id (TRACK_DSN, TRACK_HOLD, ...) with detail (may be NULL). */
void sched_track_note(const struct sched *s, enum track_kind kind, const char *id,
                      const char *detail);
/* attempt.c: when to try again after `attempts` attempts (retry schedule, +-10%). */
uint64_t sched_next_attempt(const struct conf *c, unsigned attempts);

/*
 * bounce.c: spools a report of kind for the recipients idx[0..n) of the
 * attempt's message (their outcomes in at->out). fn(arg, ...) is called
 * once from the spool's commit. Returns 0, or -1 (nothing spooled, no
 * callback, a warning logged).
 */
int sched_bounce_send(struct sched_attempt *at, enum dsn_kind kind, const size_t *idx, size_t n,
                      spool_commit_fn *fn, void *arg);

#endif
