/* SPDX-License-Identifier: MIT */
/*
 * The spool's own structures, shared by its files (private to spool/):
 * spool.c opens and frees, writer.c fills tmp files, edit.c reads them back
 * and splices them, commit.c runs the commit thread and reports to the loop.
 *
 * Threads: the loop thread owns struct spool_msg until spool_msg_commit(),
 * the commit thread from then until it reports, and the loop thread again
 * when the report arrives. The two lists (todo, done) are handed over under
 * spool.lock; nothing else is shared.
 */
#ifndef GATE26_SPOOL_SPOOL_IMPL_H
#define GATE26_SPOOL_SPOOL_IMPL_H

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>

#include "spool/spool.h"

struct event;

struct spool_msg {
    struct spool *sp;
    struct spool_msg *next; /* in todo or done */
    char id[SPOOL_ID_LEN + 1];
    int fd;       /* tmp/ID, -1 before it is created and once closed */
    bool created; /* tmp/ID exists (and must go if the message fails) */
    char *buf;    /* CAP_SPOOL_WRITE_BUF octets waiting for write(2) */
    size_t used;
    size_t env_len;  /* octets of the envelope records (and their blank line) */
    uint64_t size;   /* content octets, without the envelope */
    bool held;       /* queued on hold (its envelope has a hold record) */
    bool quarantine; /* spool_msg_quarantine: committed into quarantine/, the hook not told */
    char *qrec;      /* then its quarantine record (heap), appended at commit */
    size_t qrec_len;
    int err; /* the first write error (sticky), 0 while none */
    spool_commit_fn *fn;
    void *arg;
    /* Set by the commit thread (or by spool_msg_commit when the last write failed). */
    int status; /* 0: on stable storage in queue/; -1: gone */
    int status_err;
    bool in_queue;      /* renamed into queue/ */
    bool batch_first;   /* the first of its batch: counts one batch */
    unsigned dir_syncs; /* on batch_first: directory fsyncs the batch made */
    size_t batch_size;  /* on batch_first: messages in the batch */
    uint64_t commit_ns; /* CLOCK_MONOTONIC at spool_msg_commit, for its latency */
};

/* A change of a queued file, on its way through the spool's thread (queue.c, update.c). */
struct spool_update {
    struct spool *sp;
    struct spool_update *next; /* in utodo or udone */
    char id[SPOOL_ID_LEN + 1];
    int fd; /* a dup of the queued message's descriptor: closed after the work */
    size_t n_rcpts;
    size_t *rcpt_off; /* where each status octet is */
    char *rcpt_status;
    bool set_schedule;
    char schedule[32]; /* ENVELOPE_SCHED_LEN octets */
    bool remove;
    spool_update_fn *fn;
    void *arg;
    int status; /* 0, or -1 with status_err */
    int status_err;
};

/* A release, delete or expiry of a quarantined message, on its way through the spool's thread. */
struct spool_qjob {
    struct spool_qjob *next; /* in qtodo or qdone */
    enum spool_qop op;
    char id[SPOOL_ID_LEN + 1];
    spool_qop_fn *fn; /* NULL for an expiry */
    void *arg;
    long long age; /* an expiry: seconds since the quarantine, for the log */
    /* Set by the thread. */
    int status; /* 0, or -1 with err and why */
    int err;
    bool held; /* a release: the envelope's schedule says "on hold" */
    char check[SPOOL_QREC_CHECK_MAX + 1];
    char why[256];
};

struct spool {
    char dir[CAP_PATH];
    int dir_fd;
    int tmp_fd;
    int queue_fd;      /* -1 in a reader when there is no queue/ */
    int quarantine_fd; /* -1 in a reader when there is no quarantine/ */
    bool admin;        /* spool_open_admin: LOCK_EX, no commit thread, no base */
    int lock_fd;       /* SPOOL/lock, flock'd (lock.c); -1 in a reader when there is no lock file */
    bool reader;       /* spool_open_reader: read-only, no commit thread */
    struct spool_stats found;
    /* Loop thread only: counted as reports arrive. */
    struct spool_counters counters;
    uint64_t removed;     /* queued messages whose removal was reported */
    size_t quarantined;   /* files in quarantine/: found at open, +commits, -removals */
    uint64_t q_committed; /* of counters.committed, into quarantine/ */
    uint64_t q_released;  /* released from quarantine/ into queue/ */
    spool_hook_fn *hook;
    void *hook_arg;
    spool_qhook_fn *qhook; /* spool_set_quarantine_hook(); NULL: none */
    void *qhook_arg;

    struct event_base *base;
    struct event *done_ev; /* EV_READ on event_fd */
    int event_fd;

    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    /* Under lock. */
    struct spool_msg *todo, **todo_tail;      /* for the commit thread, in commit order */
    struct spool_msg *done, **done_tail;      /* for the loop, in commit order */
    struct spool_update *utodo, **utodo_tail; /* changes for the thread, in order */
    struct spool_update *udone, **udone_tail; /* and back to the loop */
    struct spool_qjob *qtodo, **qtodo_tail;   /* the quarantine's jobs for the thread */
    struct spool_qjob *qdone, **qdone_tail;   /* and back to the loop */
    bool stopping;
    bool held;
};

/* writer.c: writes m's buffer out, creating tmp/ID first if need be. Returns 0, or -1 with
 * errno (sticky, logged once). */
int spool_msg_flush(struct spool_msg *m);
/* writer.c: copies len octets into m's buffer, writing it out each time it fills (creating
 * tmp/ID first if need be). Returns 0, or -1 with errno (sticky, logged once). Does not count
 * them in m->size. */
int spool_msg_put(struct spool_msg *m, const char *p, size_t len);
/* writer.c: closes m's file and removes tmp/ID; keeps errno. */
void spool_msg_remove(struct spool_msg *m);
/* writer.c: frees m's memory (its fd must be closed). */
void spool_msg_release(struct spool_msg *m);

/* commit.c: starts the thread and the event. Returns 0, or -1 with a reason in err. */
int spool_commit_start(struct spool *sp, char *err, size_t errcap);
/*
 * commit.c: lets the thread finish every message handed to it, stops it,
 * calls the callbacks not yet called (from here, not from the loop), and
 * removes the event.
 */
void spool_commit_stop(struct spool *sp);
/*
 * commit.c, for tests: while held, the thread takes nothing, so the
 * messages committed meanwhile form one batch when released.
 */
void spool_commit_hold(struct spool *sp, bool hold);

/*
 * lock.c: opens SPOOL/lock (creating it, mode 0600) and takes LOCK_EX,
 * waiting for readers for a few seconds at most, then writes our PID into
 * it; sets sp->lock_fd. Returns 0, or -1 with errno and the reason in err:
 * EWOULDBLOCK when another daemon holds the spool (or readers held it too
 * long).
 */
int spool_lock_take(struct spool *sp, char *err, size_t errcap);
/*
 * lock.c: takes LOCK_SH on SPOOL/lock without waiting and without creating
 * it; sets sp->lock_fd (-1 when there is no lock file: no daemon that
 * locks has ever served the spool). Returns 0, or -1 with errno and the
 * reason in err: EWOULDBLOCK when a daemon holds the spool.
 */
int spool_lock_share(struct spool *sp, char *err, size_t errcap);

/* spool.c: a listing of the directory open on fd, from its start (closedir it). */
DIR *spool_list(int fd);
/* spool.c: the queue ids in the directory open on fd, sorted, as spool_queue_list. */
int spool_list_ids(int fd, char (**ids)[SPOOL_ID_LEN + 1], size_t *n);
/* spool.c: the next name other than "." and "..", or NULL at the end (errno 0) or on error. */
struct dirent *spool_next(DIR *d);

/* update.c, on the thread: writes and syncs a batch of changes, sets each status. */
void spool_update_batch(struct spool *sp, struct spool_update *batch);
/* queue.c: calls back and frees each change of list, in order (on the loop). */
void spool_update_deliver(struct spool *sp, struct spool_update *list);

/* quarantine.c, on the thread: does the file work of each job of list, sets its status. */
void spool_qjob_run(struct spool *sp, struct spool_qjob *list);
/* quarantine.c, on the loop: counts, logs, tells the hook and calls back each job; frees. */
void spool_qjob_deliver(struct spool *sp, struct spool_qjob *list);
/* quarantine.c: the files found in quarantine/ at open (finishing half-done releases). */
int spool_recover_quarantine(struct spool *sp, uint64_t *max_id, char *err, size_t errcap);

/* Logs the one warning line of a message that could not be stored. */
void spool_log_failure(const char *id, const char *what, int err);

#endif
