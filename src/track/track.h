/* SPDX-License-Identifier: MIT */
/*
 * Message tracking (docs/console.md, "Message tracking"): the story of each
 * message (its arrival, each delivery attempt, DSNs, queue and quarantine
 * actions) in a database that the command line (`gate26 track`) and the
 * console search.
 *
 * The store sits behind struct track_ops so that a shared backend can
 * replace the embedded one: SQLite in SPOOL/tracking.db (WAL mode,
 * synchronous=NORMAL), written by a thread of its own. track_note() is
 * called on the event loop: it copies the event into a bounded ring
 * (TRACK_RING_DEFAULT events; when full, the event is dropped and counted)
 * and never waits for SQLite. The writer thread inserts what is in the ring
 * every TRACK_BATCH_MS or at TRACK_BATCH_MAX events, in one transaction.
 *
 * Faults of the store (the file deleted, corrupt or unwritable, a full
 * disk) never touch mail: the events of a failed batch are dropped and
 * counted, one warning is logged until the store works again, and the
 * store reopens (a deleted file is recreated at once, a corrupt one moved
 * aside as tracking.db.corrupt-TIME and recreated, any other error retried
 * every TRACK_REOPEN_WAIT seconds). The spool is the mail's record; the
 * database is only its story.
 *
 * What it leaves to others: what an event says (smtp/tracking.c,
 * sched/attempt.c, sched/control.c, sched/finish.c), and the display of
 * the results (track_cli.c, the console).
 *
 * Threads: track_note(), track_set_keep(), track_stats() and
 * track_close() on one thread (the loop's); the writer inside. A store
 * opened for reading (TRACK_OPEN_READ) has no thread and notes nothing.
 */
#ifndef GATE26_TRACK_TRACK_H
#define GATE26_TRACK_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The ring between the loop and the writer; a batch; how often the writer looks. */
#define TRACK_RING_DEFAULT 65536
#define TRACK_BATCH_MAX    1000
#define TRACK_BATCH_MS     100

/* Seconds between attempts to reopen a store that failed; between sweeps. */
#define TRACK_REOPEN_WAIT 10
#define TRACK_SWEEP_EVERY 3600

/* Messages a sweep deletes per transaction (with their recipients and events). */
#define TRACK_SWEEP_BATCH 1000

/* tracking { keep }: 30 days by default, 1 to 400 days. */
#define TRACK_KEEP_DEFAULT (30u * 86400u)
#define TRACK_KEEP_MIN     86400u
#define TRACK_KEEP_MAX     (400u * 86400u)

/* Octets kept of a Subject (as given, cut); of any other text of an event. */
#define TRACK_SUBJECT_MAX 200
#define TRACK_TEXT_MAX    1024

/* A search answers at most this many messages (--limit); 100 when not asked. */
#define TRACK_LIMIT_DEFAULT  100
#define TRACK_LIMIT_MAX      10000
#define TRACK_LIMIT_MAX_TEXT "10000"

/* What happened. The names (track_kind_name) are the events' `kind` column. */
enum track_kind {
    /* At the end of the data: the message row is written (or rewritten) with these. */
    TRACK_QUEUED,      /* "queued" */
    TRACK_QUARANTINED, /* "quarantined" */
    TRACK_REJECTED,    /* "rejected": refused after the data (bare LF, size, a check) */
    TRACK_DEFERRED,    /* "deferred": a 4xx after the data (a check's tempfail) */
    TRACK_DISCARDED,   /* "discarded": accepted and dropped (a milter's word) */
    /* Later: an event of a message the row exists for (or a row is made with the qid). */
    TRACK_ATTEMPT,            /* "attempt": one recipient's delivery attempt */
    TRACK_DSN,                /* "dsn": a bounce or delay warning sent to the sender */
    TRACK_HOLD,               /* "hold" */
    TRACK_RELEASE,            /* "release" */
    TRACK_DELETE,             /* "delete" */
    TRACK_BOUNCE,             /* "bounce": returned to the sender by a command */
    TRACK_QUARANTINE_RELEASE, /* "quarantine-release" */
    TRACK_QUARANTINE_DELETE,  /* "quarantine-delete" */
    TRACK_EXPIRED,            /* "expired": the quarantine's keep passed */
    TRACK_KIND_COUNT,
};

/* "queued", "attempt", ...; NULL for a value out of range. */
const char *track_kind_name(enum track_kind kind);

/* True for the kinds that carry the message itself (TRACK_QUEUED to TRACK_DISCARDED). */
bool track_kind_is_arrival(enum track_kind kind);

/*
 * One event, borrowed for the call of track_note() (which copies what it
 * keeps). NULL strings are stored as NULL (absent). Times in microseconds
 * since the epoch; 0: now.
 */
struct track_event {
    enum track_kind kind;
    int64_t time;
    const char *qid; /* required */
    /* The message (arrival kinds only; ignored otherwise). */
    const char *message_id; /* the field body as given, <...> */
    const char *sender;     /* "" for the null sender <> */
    const char *door;       /* the door's role */
    const char *client;     /* the client's address */
    const char *helo;
    const char *subject; /* the field body, unfolded; cut to TRACK_SUBJECT_MAX octets */
    uint64_t size;
    int64_t arrival;
    const char *const *rcpts;
    size_t n_rcpts;
    /* Every kind. */
    const char *rcpt;   /* the recipient of an attempt, else NULL */
    const char *status; /* the message's status after this event; NULL: the kind's name */
    const char *detail; /* what else there is to say: reply, relay, delay, checks; cut */
};

struct track_params {
    unsigned keep;    /* seconds; 0: TRACK_KEEP_DEFAULT */
    size_t ring;      /* events; 0: TRACK_RING_DEFAULT */
    size_t batch_max; /* events per transaction; 0: TRACK_BATCH_MAX */
    /*
     * Tests: no writer thread; the events wait in the ring until
     * track_close() writes them on the caller's thread (so that a test
     * sees the ring fill and the batches cut deterministically).
     */
    bool no_writer;
};

struct track_stats {
    uint64_t noted;   /* events taken into the ring */
    uint64_t dropped; /* events lost: the ring was full, or their batch met a fault */
    uint64_t written; /* events in the database */
    uint64_t batches; /* transactions committed */
    uint64_t faults;  /* batches or sweeps that met a fault of the store */
    uint64_t swept;   /* messages deleted by the sweeps */
};

/* A search: every filter given must match (NULL, 0: not given). */
struct track_query {
    const char *from;       /* the sender, exactly (any case) */
    const char *to;         /* a recipient, exactly (any case) */
    const char *client;     /* the client's address, exactly */
    const char *qid;        /* the queue id */
    const char *message_id; /* the Message-ID, with or without <> */
    int64_t since, until;   /* arrival in [since, until), microseconds; 0: open */
    unsigned limit;         /* at most; 0: TRACK_LIMIT_DEFAULT (capped at TRACK_LIMIT_MAX) */
};

/* A queue id's length (SPOOL_ID_LEN: upper-case hex digits); the longest client address
 * and time a filter takes (an IPv6 address as text; RFC 3339 with a fraction). */
#define TRACK_QID_LEN    16
#define TRACK_CLIENT_MAX 64
#define TRACK_TIME_MAX   64

/*
 * Sets the filter name of q from the text value, as `gate26 track --NAME
 * VALUE` and the console's search form give it: "from" (the sender; "" or
 * "<>" for the null sender), "to", "client", "message-id" (strings, at most
 * CAP_MAILBOX, TRACK_CLIENT_MAX, CAP_MESSAGE_ID + 2 octets), "since" and
 * "until" (an RFC 3339 date-time, RFC 3339 5.6, or a duration back from
 * now: 90s, 30m, 2h, 7d, 2w, up to 10 years), "id" (a queue id:
 * TRACK_QID_LEN upper-case hex digits), "limit" (1 to limit_max; 0 or more
 * than TRACK_LIMIT_MAX: TRACK_LIMIT_MAX). String values are borrowed: q
 * points into value. Returns 0, or -1 with what the value should have been
 * in why ("a number from 1 to 1000", "at most 320 octets", ...; "a known
 * filter" for an unknown name), q's other filters left as they were.
 */
int track_query_parse_field(struct track_query *q, const char *name, const char *value,
                            unsigned limit_max, char *why, size_t whycap);

/* One event of a message, as stored. */
struct track_row {
    int64_t time;
    const char *kind, *rcpt, *detail; /* rcpt, detail may be NULL */
};

/* One message found, with its recipients and events (oldest first); all borrowed. */
struct track_message {
    const char *qid, *message_id, *sender, *door, *client, *helo, *subject, *status;
    uint64_t size;
    int64_t arrival, updated;
    const char *const *rcpts;
    size_t n_rcpts;
    const struct track_row *events;
    size_t n_events;
};

/* Called for each message found, newest first; m is valid during the call only. */
typedef void track_result_fn(void *arg, const struct track_message *m);

struct track;

/* What a backend does; see the functions below for the contracts. */
struct track_ops {
    void (*note)(struct track *t, const struct track_event *ev);
    int (*search)(struct track *t, const struct track_query *q, track_result_fn *fn, void *arg,
                  char *err, size_t errlen);
    void (*sweep)(struct track *t);
    void (*flush)(struct track *t);
    void (*set_keep)(struct track *t, unsigned keep);
    void (*stats)(struct track *t, struct track_stats *out);
    void (*close)(struct track *t);
};

/* The common head of every backend's object. */
struct track {
    const struct track_ops *ops;
};

enum track_open {
    TRACK_OPEN_WRITE, /* the daemon: created if missing, a writer thread */
    TRACK_OPEN_READ,  /* the command line: must exist, queries only, no thread */
};

/*
 * Opens the SQLite store at path (SPOOL/tracking.db). For TRACK_OPEN_WRITE
 * the store is returned even when the file cannot be opened now (the
 * writer logs it and tries again every TRACK_REOPEN_WAIT seconds); NULL
 * only when the directory is missing or the thread cannot start (err
 * says). For TRACK_OPEN_READ, NULL with err when the file is missing or is
 * not a tracking database. p may be NULL (defaults). Free with
 * track_close().
 */
struct track *track_sqlite_open(const char *path, enum track_open mode,
                                const struct track_params *p, char *err, size_t errlen);

/* Copies ev into the ring (or drops and counts it). Never blocks on the store. NULL t: nothing. */
void track_note(struct track *t, const struct track_event *ev);

/*
 * Calls fn for each message matching q, newest first, at most q->limit.
 * Every value of q is bound as a parameter, never made into SQL. Returns
 * the count found, or -1 with err set (the store cannot be read).
 */
int track_search(struct track *t, const struct track_query *q, track_result_fn *fn, void *arg,
                 char *err, size_t errlen);

/* Asks for a sweep of the messages older than keep now (the writer does it; also hourly). */
void track_sweep(struct track *t);

/*
 * Returns once every event noted so far is written or dropped: without a
 * writer (track_params.no_writer) by writing them on the caller's thread
 * (and running the sweep's due batches); with one by waiting for it (at
 * most a few seconds). For tests and tools; the daemon never waits.
 */
void track_flush(struct track *t);

/* The keep from now on (a reload), seconds; 0: TRACK_KEEP_DEFAULT. */
void track_set_keep(struct track *t, unsigned keep);

void track_stats(struct track *t, struct track_stats *out);

/* Writes what is left in the ring, stops the writer and closes. NULL: nothing. */
void track_close(struct track *t);

/*
 * `gate26 track` (track_cli.c): argv from "track" on. Returns the exit
 * status: 0 ok, 1 no database (or it cannot be read), 2 usage or config.
 */
int track_main(int argc, char **argv, const char *default_conf);

#endif
