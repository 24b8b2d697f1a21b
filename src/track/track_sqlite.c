/* SPDX-License-Identifier: MIT */
/*
 * The embedded tracking store: SQLite in SPOOL/tracking.db (docs/console.md,
 * "Message tracking").
 *
 * Tables: messages (qid primary key, message_id, sender, size, door,
 * client, helo, arrival, subject, status, updated), recipients (qid, rcpt)
 * and events (qid, time, kind, rcpt, detail); times in microseconds since
 * the epoch. Indexes on message_id, sender, client, arrival, recipients'
 * rcpt and qid, events' qid; sender and client with arrival after them, so
 * that the newest messages of a busy sender or client are read in order,
 * without sorting all of theirs. Addresses compare without regard to case
 * (COLLATE NOCASE: ASCII only, as domains are; local parts are rarely
 * case-sensitive in practice and a search is for people).
 *
 * The loop's side (tk_note) packs an event into one allocation and puts its
 * pointer into the ring under a mutex held for a few instructions; when the
 * ring is full the event is dropped and counted. The writer thread takes up
 * to batch_max events at a time, every TRACK_BATCH_MS or as soon as
 * batch_max are waiting, and writes them in one transaction of prepared
 * statements. Durability: WAL with synchronous=NORMAL (a crash of the
 * machine may lose the last batches: history, never mail); the WAL's
 * checkpoints (the only fsyncs) run in the writer thread too.
 *
 * The sweep (at start, hourly, and when asked) deletes the messages that
 * arrived before now - keep, with their recipients and events,
 * TRACK_SWEEP_BATCH messages per transaction, one transaction per turn of
 * the writer, so that a large backlog never delays new events by more than
 * one batch.
 *
 * Faults (as the greylist store, checks/greylist_sqlite.c): a batch that
 * meets an error is rolled back, its events dropped and counted, one
 * warning logged until a batch works again. A file deleted or replaced
 * under us (SQLITE_FCNTL_HAS_MOVED, asked before each batch) is recreated
 * at once; a corrupt one (SQLITE_CORRUPT, SQLITE_NOTADB, or SQLite's header
 * gone from the file) is moved aside as PATH.corrupt-YYYYmmddTHHMMSSZ and
 * recreated; anything else (unwritable, a full disk) closes the store,
 * reopened at most every TRACK_REOPEN_WAIT seconds.
 *
 * Searches: SQL with bound parameters only. A store opened for writing
 * searches on a connection of its own, opened for the call.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/caps.h"
#include "lib/log.h"
#include "lib/sqlite_file.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "track/track.h"

/* A tracking database says so: PRAGMA user_version (written by tk_db_open_once). */
#define TK_USER_VERSION 2615

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS messages ("
    " qid TEXT PRIMARY KEY, message_id TEXT, sender TEXT COLLATE NOCASE, size INTEGER,"
    " door TEXT, client TEXT, helo TEXT, arrival INTEGER NOT NULL, subject TEXT, status TEXT,"
    " updated INTEGER);"
    "CREATE TABLE IF NOT EXISTS recipients (qid TEXT NOT NULL, rcpt TEXT NOT NULL COLLATE NOCASE);"
    "CREATE TABLE IF NOT EXISTS events ("
    " id INTEGER PRIMARY KEY, qid TEXT NOT NULL, time INTEGER NOT NULL, kind TEXT NOT NULL,"
    " rcpt TEXT, detail TEXT);"
    "CREATE INDEX IF NOT EXISTS messages_message_id ON messages (message_id);"
    "CREATE INDEX IF NOT EXISTS messages_sender ON messages (sender, arrival);"
    "CREATE INDEX IF NOT EXISTS messages_client ON messages (client, arrival);"
    "CREATE INDEX IF NOT EXISTS messages_arrival ON messages (arrival);"
    "CREATE INDEX IF NOT EXISTS recipients_rcpt ON recipients (rcpt);"
    "CREATE INDEX IF NOT EXISTS recipients_qid ON recipients (qid);"
    "CREATE INDEX IF NOT EXISTS events_qid ON events (qid, time);";

enum stmt {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_MSG_PUT,
    S_RCPT_ADD,
    S_MSG_STUB,
    S_MSG_STATUS,
    S_EVENT_ADD,
    S_SW_EVENTS,
    S_SW_RCPTS,
    S_SW_MSGS,
    S_COUNT,
};

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_MSG_PUT] = "INSERT INTO messages (qid, message_id, sender, size, door, client, helo,"
                  " arrival, subject, status, updated)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                  " ON CONFLICT (qid) DO UPDATE SET message_id = excluded.message_id,"
                  " sender = excluded.sender, size = excluded.size, door = excluded.door,"
                  " client = excluded.client, helo = excluded.helo, arrival = excluded.arrival,"
                  " subject = excluded.subject, status = excluded.status,"
                  " updated = excluded.updated",
    [S_RCPT_ADD] = "INSERT INTO recipients (qid, rcpt) VALUES (?1, ?2)",
    [S_MSG_STUB] = "INSERT OR IGNORE INTO messages (qid, arrival, status, updated)"
                   " VALUES (?1, ?2, ?3, ?2)",
    [S_MSG_STATUS] = "UPDATE messages SET status = ?2, updated = ?3 WHERE qid = ?1",
    [S_EVENT_ADD] =
        "INSERT INTO events (qid, time, kind, rcpt, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_SW_EVENTS] = "DELETE FROM events WHERE qid IN (SELECT qid FROM messages"
                    " WHERE arrival < ?1 ORDER BY arrival LIMIT ?2)",
    [S_SW_RCPTS] = "DELETE FROM recipients WHERE qid IN (SELECT qid FROM messages"
                   " WHERE arrival < ?1 ORDER BY arrival LIMIT ?2)",
    [S_SW_MSGS] = "DELETE FROM messages WHERE qid IN (SELECT qid FROM messages"
                  " WHERE arrival < ?1 ORDER BY arrival LIMIT ?2)",
};

/* The strings of an event, in one allocation with it. */
enum field {
    F_QID,
    F_MSGID,
    F_SENDER,
    F_DOOR,
    F_CLIENT,
    F_HELO,
    F_SUBJECT,
    F_RCPT,
    F_STATUS,
    F_DETAIL,
    F_COUNT,
};

/* Recipients kept of one message (more are left out of its row, not of the mail). */
#define TK_RCPTS_MAX 10000

struct tk_rec {
    enum track_kind kind;
    int64_t time, arrival;
    uint64_t size;
    size_t n_rcpts;
    const char *f[F_COUNT];
    const char **rcpts; /* right after the struct */
};

struct tk_store {
    struct track base;
    char *path;
    enum track_open mode;
    size_t batch_max;
    bool no_writer;
    _Atomic unsigned keep;

    /* The ring, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct tk_rec **ring;
    size_t cap, head, count;
    bool stop, sweep_asked;
    bool busy; /* the writer holds records taken from the ring */
    pthread_t thread;
    bool running;

    /* The writer's (or, without one, the closing caller's). */
    sqlite3 *db; /* NULL while down */
    int head_fd; /* the file opened with db, for sqlite_file_header_ok(); -1: none */
    sqlite3_stmt *st[S_COUNT];
    bool faulty;
    int64_t retry_at;   /* seconds: when db is NULL, the next attempt to open */
    int64_t next_sweep; /* seconds */
    bool sweep_more;    /* the last sweep batch was full */
    uint64_t sweep_run; /* messages deleted by the sweep under way */

    _Atomic uint64_t noted, dropped, written, batches, faults, swept;
};

static int64_t
now_us(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
now_s(void)
{
    return now_us() / 1000000;
}

/* ---- Packing an event (the loop's side) ---- */

/* The length kept of s: at most cap octets; NULL: 0. */
static size_t
kept_len(const char *s, size_t cap)
{
    return s == NULL ? 0 : strnlen(s, cap);
}

static char *
put_str(char **at, const char *s, size_t len)
{
    char *out = *at;

    memcpy(out, s, len);
    out[len] = '\0';
    *at += len + 1;
    return out;
}

/* One allocation holding the event and copies of its strings (each cut at its cap). */
static struct tk_rec *
tk_pack(const struct track_event *ev)
{
    const char *in[F_COUNT] = {
        [F_QID] = ev->qid,         [F_MSGID] = ev->message_id, [F_SENDER] = ev->sender,
        [F_DOOR] = ev->door,       [F_CLIENT] = ev->client,    [F_HELO] = ev->helo,
        [F_SUBJECT] = ev->subject, [F_RCPT] = ev->rcpt,        [F_STATUS] = ev->status,
        [F_DETAIL] = ev->detail,
    };
    size_t len[F_COUNT], total = sizeof(struct tk_rec);
    bool arrival = track_kind_is_arrival(ev->kind);
    size_t n_rcpts = arrival ? ev->n_rcpts : 0;
    struct tk_rec *r;
    char *at;

    if (n_rcpts > TK_RCPTS_MAX)
        n_rcpts = TK_RCPTS_MAX;
    for (size_t i = 0; i < F_COUNT; i++) {
        bool message_field = i >= F_MSGID && i <= F_SUBJECT;

        if (message_field && !arrival)
            in[i] = NULL;
        len[i] = kept_len(in[i], i == F_SUBJECT ? TRACK_SUBJECT_MAX : TRACK_TEXT_MAX);
        total += in[i] != NULL ? len[i] + 1 : 0;
    }
    total += n_rcpts * sizeof(char *);
    for (size_t i = 0; i < n_rcpts; i++)
        total += kept_len(ev->rcpts[i], TRACK_TEXT_MAX) + 1;
    r = xmalloc(total);
    memset(r, 0, sizeof(*r));
    r->kind = ev->kind;
    r->time = ev->time != 0 ? ev->time : now_us();
    r->arrival = arrival ? (ev->arrival != 0 ? ev->arrival : r->time) : 0;
    r->size = arrival ? ev->size : 0;
    r->n_rcpts = n_rcpts;
    r->rcpts = (const char **)(void *)(r + 1);
    at = (char *)(r->rcpts + n_rcpts);
    for (size_t i = 0; i < F_COUNT; i++)
        r->f[i] = in[i] != NULL ? put_str(&at, in[i], len[i]) : NULL;
    for (size_t i = 0; i < n_rcpts; i++) {
        const char *a = ev->rcpts[i] != NULL ? ev->rcpts[i] : "";

        r->rcpts[i] = put_str(&at, a, kept_len(a, TRACK_TEXT_MAX));
    }
    return r;
}

static void
tk_note(struct track *t, const struct track_event *ev)
{
    struct tk_store *s = (struct tk_store *)t;
    struct tk_rec *r;

    if (s->mode != TRACK_OPEN_WRITE || ev->qid == NULL || track_kind_name(ev->kind) == NULL)
        return;
    r = tk_pack(ev);
    (void)pthread_mutex_lock(&s->mu);
    if (s->count == s->cap) {
        (void)pthread_mutex_unlock(&s->mu);
        s->dropped++;
        free(r);
        return;
    }
    s->ring[(s->head + s->count) % s->cap] = r;
    s->count++;
    if (s->count >= s->batch_max && s->running)
        (void)pthread_cond_signal(&s->cv);
    (void)pthread_mutex_unlock(&s->mu);
    s->noted++;
}

/* ---- Opening ---- */

static void
tk_db_close(struct tk_store *s)
{
    for (size_t i = 0; i < S_COUNT; i++) {
        sqlite3_finalize(s->st[i]);
        s->st[i] = NULL;
    }
    if (s->db != NULL)
        (void)sqlite3_close_v2(s->db);
    s->db = NULL;
    /* Closed after SQLite's own descriptors: a close drops the process's locks on the file. */
    if (s->head_fd != -1)
        (void)close(s->head_fd);
    s->head_fd = -1;
}

/* Opens s->path for writing once. Returns an SQLite code; err says what failed. */
static int
tk_db_open_once(struct tk_store *s, char *err, size_t errlen)
{
    int rc;

    rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        (void)str_fmt(err, errlen, "%s: %s", s->path,
                      s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        tk_db_close(s);
        return rc;
    }
    (void)sqlite3_extended_result_codes(s->db, 1);
    (void)sqlite3_busy_timeout(s->db, 1000);
    rc = sqlite_file_wal(s->db, "PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=16777216;"
                                "PRAGMA user_version=2615;");
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, schema, NULL, NULL, NULL);
    if (rc == SQLITE_OK && sqlite3_db_readonly(s->db, "main") == 1)
        rc = SQLITE_READONLY;
    for (size_t i = 0; rc == SQLITE_OK && i < S_COUNT; i++)
        rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
    if (rc == SQLITE_OK)
        s->head_fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (rc != SQLITE_OK) {
        (void)str_fmt(err, errlen, "%s: %s", s->path,
                      rc == SQLITE_READONLY ? "not writable" : sqlite3_errmsg(s->db));
        tk_db_close(s);
    }
    return rc;
}

/* Opens for writing, moving a corrupt file aside once. Returns 0 or -1 (err set). */
static int
tk_db_open(struct tk_store *s, char *err, size_t errlen)
{
    int rc = tk_db_open_once(s, err, errlen);

    if (sqlite_file_is_corrupt(rc)) {
        sqlite_file_move_aside(s->path, "track");
        rc = tk_db_open_once(s, err, errlen);
    }
    return rc == SQLITE_OK ? 0 : -1;
}

/*
 * A connection for searching: the file must exist and be a tracking
 * database. It is opened read-write without create and then made
 * query_only: a read-only open of a WAL database cannot make the
 * shared-memory file when the daemon does not run.
 */
static sqlite3 *
tk_db_open_read(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc, version = 0;

    if (access(path, F_OK) == -1) {
        (void)str_fmt(err, errlen, "%s: no tracking database (%s)", path, strerror(errno));
        return NULL;
    }
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, 2000);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "PRAGMA query_only=1", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        version = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        (void)str_fmt(err, errlen, "%s: %s", path,
                      db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        (void)sqlite3_close_v2(db);
        return NULL;
    }
    if (version != TK_USER_VERSION) {
        (void)str_fmt(err, errlen, "%s: not a tracking database", path);
        (void)sqlite3_close_v2(db);
        return NULL;
    }
    return db;
}

/* ---- Faults ---- */

static void
tk_fault(struct tk_store *s, int rc, const char *what, int64_t now)
{
    char err[512];

    s->faults++;
    if (!s->faulty)
        log_warning("track: path=%s, event=fault, op=%s, code=%d, error=\"%s\", "
                    "answer=history-lost",
                    s->path, what, rc,
                    rc == SQLITE_READONLY_DBMOVED ? "the file was deleted or replaced"
                    : s->db != NULL && sqlite3_extended_errcode(s->db) == rc ? sqlite3_errmsg(s->db)
                                                                             : sqlite3_errstr(rc));
    s->faulty = true;
    if ((rc & 0xff) == SQLITE_BUSY)
        return;
    if (s->db != NULL)
        (void)sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    tk_db_close(s);
    if (sqlite_file_is_corrupt(rc)) {
        sqlite_file_move_aside(s->path, "track");
    } else if (access(s->path, F_OK) == -1 && errno == ENOENT) {
        sqlite_file_remove_leftovers(s->path, "track");
    } else if (rc != SQLITE_READONLY_DBMOVED) {
        s->retry_at = now + TRACK_REOPEN_WAIT;
        return;
    }
    if (tk_db_open(s, err, sizeof err) == -1)
        s->retry_at = now + TRACK_REOPEN_WAIT;
    else
        log_info("track: path=%s, event=reopened", s->path);
}

static void
tk_ok(struct tk_store *s)
{
    if (s->faulty)
        log_info("track: path=%s, event=recovered", s->path);
    s->faulty = false;
}

/* Before each batch: the store is open, and its file the one on disk. */
static bool
tk_ready(struct tk_store *s, int64_t now)
{
    char err[512];
    int moved = 0;

    if (s->db == NULL) {
        if (now < s->retry_at)
            return false;
        if (tk_db_open(s, err, sizeof err) == -1) {
            if (!s->faulty)
                log_warning("track: path=%s, event=open-failed, error=\"%s\", retry=%ds", s->path,
                            err, TRACK_REOPEN_WAIT);
            s->faulty = true;
            s->retry_at = now + TRACK_REOPEN_WAIT;
            return false;
        }
    }
    if (!sqlite_file_header_ok(s->head_fd)) {
        tk_fault(s, SQLITE_NOTADB, "header", now);
        return s->db != NULL;
    }
    if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK &&
        moved == 0)
        return true;
    tk_fault(s, SQLITE_READONLY_DBMOVED, "moved", now);
    return s->db != NULL;
}

/* ---- Writing (the writer's side) ---- */

static int
tk_run(struct tk_store *s, enum stmt i)
{
    int rc = sqlite3_step(s->st[i]);

    (void)sqlite3_reset(s->st[i]);
    (void)sqlite3_clear_bindings(s->st[i]);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Binds text, or NULL. SQLITE_STATIC: the record outlives the statement's step. */
static void
bind_text(sqlite3_stmt *st, int col, const char *text)
{
    if (text != NULL)
        (void)sqlite3_bind_text(st, col, text, -1, SQLITE_STATIC);
    else
        (void)sqlite3_bind_null(st, col);
}

static int
tk_insert(struct tk_store *s, const struct tk_rec *r)
{
    const char *kind = track_kind_name(r->kind);
    const char *status = r->f[F_STATUS] != NULL ? r->f[F_STATUS] : kind;
    sqlite3_stmt *st;
    int rc;

    if (track_kind_is_arrival(r->kind)) {
        st = s->st[S_MSG_PUT];
        bind_text(st, 1, r->f[F_QID]);
        bind_text(st, 2, r->f[F_MSGID]);
        bind_text(st, 3, r->f[F_SENDER]);
        (void)sqlite3_bind_int64(st, 4, (sqlite3_int64)r->size);
        bind_text(st, 5, r->f[F_DOOR]);
        bind_text(st, 6, r->f[F_CLIENT]);
        bind_text(st, 7, r->f[F_HELO]);
        (void)sqlite3_bind_int64(st, 8, r->arrival);
        bind_text(st, 9, r->f[F_SUBJECT]);
        bind_text(st, 10, status);
        (void)sqlite3_bind_int64(st, 11, r->time);
        rc = tk_run(s, S_MSG_PUT);
        for (size_t i = 0; rc == SQLITE_OK && i < r->n_rcpts; i++) {
            st = s->st[S_RCPT_ADD];
            bind_text(st, 1, r->f[F_QID]);
            bind_text(st, 2, r->rcpts[i]);
            rc = tk_run(s, S_RCPT_ADD);
        }
    } else {
        /* An event of a message recorded before tracking was on: a row of its own. */
        st = s->st[S_MSG_STUB];
        bind_text(st, 1, r->f[F_QID]);
        (void)sqlite3_bind_int64(st, 2, r->time);
        bind_text(st, 3, status);
        rc = tk_run(s, S_MSG_STUB);
        /* A DSN says nothing new of the message's own state. */
        if (rc == SQLITE_OK && (r->kind != TRACK_DSN || r->f[F_STATUS] != NULL)) {
            st = s->st[S_MSG_STATUS];
            bind_text(st, 1, r->f[F_QID]);
            bind_text(st, 2, status);
            (void)sqlite3_bind_int64(st, 3, r->time);
            rc = tk_run(s, S_MSG_STATUS);
        }
    }
    if (rc != SQLITE_OK)
        return rc;
    st = s->st[S_EVENT_ADD];
    bind_text(st, 1, r->f[F_QID]);
    (void)sqlite3_bind_int64(st, 2, r->time);
    bind_text(st, 3, kind);
    bind_text(st, 4, r->f[F_RCPT]);
    bind_text(st, 5, r->f[F_DETAIL]);
    return tk_run(s, S_EVENT_ADD);
}

/* Writes n records in one transaction and frees them; a fault drops them (counted). */
static void
tk_write(struct tk_store *s, struct tk_rec **recs, size_t n)
{
    int64_t now = now_s();
    int rc;

    if (!tk_ready(s, now)) {
        s->dropped += n;
        for (size_t i = 0; i < n; i++)
            free(recs[i]);
        return;
    }
    rc = tk_run(s, S_BEGIN);
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++)
        rc = tk_insert(s, recs[i]);
    if (rc == SQLITE_OK)
        rc = tk_run(s, S_COMMIT);
    if (rc != SQLITE_OK) {
        if (s->db != NULL && sqlite3_get_autocommit(s->db) == 0)
            (void)tk_run(s, S_ROLLBACK);
        tk_fault(s, rc, "write", now);
        s->dropped += n;
    } else {
        tk_ok(s);
        s->written += n;
        s->batches++;
    }
    for (size_t i = 0; i < n; i++)
        free(recs[i]);
}

/* One batch of the sweep, when one is due. */
static void
tk_sweep_turn(struct tk_store *s)
{
    int64_t now = now_s(), before;
    bool asked;
    int rc, deleted = 0;

    (void)pthread_mutex_lock(&s->mu);
    asked = s->sweep_asked;
    s->sweep_asked = false;
    (void)pthread_mutex_unlock(&s->mu);
    if (!asked && !s->sweep_more && now < s->next_sweep)
        return;
    if (!tk_ready(s, now))
        return;
    if (!s->sweep_more)
        s->sweep_run = 0;
    before = (now - (int64_t)s->keep) * 1000000;
    rc = tk_run(s, S_BEGIN);
    for (enum stmt i = S_SW_EVENTS; rc == SQLITE_OK && i <= S_SW_MSGS; i++) {
        (void)sqlite3_bind_int64(s->st[i], 1, before);
        (void)sqlite3_bind_int64(s->st[i], 2, TRACK_SWEEP_BATCH);
        rc = tk_run(s, i);
        if (rc == SQLITE_OK && i == S_SW_MSGS)
            deleted = sqlite3_changes(s->db);
    }
    if (rc == SQLITE_OK)
        rc = tk_run(s, S_COMMIT);
    if (rc != SQLITE_OK) {
        if (s->db != NULL && sqlite3_get_autocommit(s->db) == 0)
            (void)tk_run(s, S_ROLLBACK);
        tk_fault(s, rc, "sweep", now);
        s->next_sweep = now + TRACK_REOPEN_WAIT;
        return;
    }
    tk_ok(s);
    s->swept += (uint64_t)deleted;
    s->sweep_run += (uint64_t)deleted;
    s->sweep_more = deleted == TRACK_SWEEP_BATCH;
    if (!s->sweep_more) {
        s->next_sweep = now + TRACK_SWEEP_EVERY;
        if (s->sweep_run > 0)
            log_info("track: path=%s, event=sweep, deleted=%" PRIu64 ", keep=%u", s->path,
                     s->sweep_run, (unsigned)s->keep);
    }
}

/* Takes up to batch_max records from the ring into out. Under mu. */
static size_t
tk_take(struct tk_store *s, struct tk_rec **out)
{
    size_t n = s->count < s->batch_max ? s->count : s->batch_max;

    for (size_t i = 0; i < n; i++) {
        out[i] = s->ring[s->head];
        s->head = (s->head + 1) % s->cap;
    }
    s->count -= n;
    return n;
}

static void
deadline_in(struct timespec *ts, long ms)
{
    (void)clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_nsec += ms * 1000000L;
    ts->tv_sec += ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
}

static void *
tk_main(void *arg)
{
    struct tk_store *s = arg;
    struct tk_rec **batch = xcalloc(s->batch_max, sizeof(*batch));
    struct timespec deadline;

    (void)pthread_mutex_lock(&s->mu);
    for (;;) {
        bool stopping;
        size_t n;

        deadline_in(&deadline, TRACK_BATCH_MS);
        while (!s->stop && s->count < s->batch_max && !s->sweep_asked &&
               pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == 0)
            ;
        stopping = s->stop;
        n = tk_take(s, batch);
        s->busy = true;
        (void)pthread_mutex_unlock(&s->mu);
        if (n > 0)
            tk_write(s, batch, n);
        if (!stopping)
            tk_sweep_turn(s);
        (void)pthread_mutex_lock(&s->mu);
        s->busy = false;
        if (stopping && s->count == 0)
            break;
    }
    (void)pthread_mutex_unlock(&s->mu);
    free(batch);
    return NULL;
}

/* ---- Searching ---- */

struct tk_found {
    char **rcpts;
    size_t n_rcpts, cap_rcpts;
    struct track_row *events;
    size_t n_events, cap_events;
};

static char *
col_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);

    return t != NULL ? xstrdup((const char *)t) : NULL;
}

static const char *
col_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

static void
found_clear(struct tk_found *f)
{
    for (size_t i = 0; i < f->n_rcpts; i++)
        free(f->rcpts[i]);
    for (size_t i = 0; i < f->n_events; i++) {
        free((char *)f->events[i].kind);
        free((char *)f->events[i].rcpt);
        free((char *)f->events[i].detail);
    }
    f->n_rcpts = f->n_events = 0;
}

/* The recipients and events of qid into f. Returns an SQLite code. */
static int
found_load(sqlite3_stmt *rc_st, sqlite3_stmt *ev_st, const char *qid, struct tk_found *f)
{
    int rc;

    (void)sqlite3_bind_text(rc_st, 1, qid, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(rc_st)) == SQLITE_ROW) {
        if (f->n_rcpts == f->cap_rcpts) {
            f->cap_rcpts = f->cap_rcpts == 0 ? 8 : f->cap_rcpts * 2;
            f->rcpts = xrealloc(f->rcpts, f->cap_rcpts * sizeof(*f->rcpts));
        }
        f->rcpts[f->n_rcpts++] = col_dup(rc_st, 0);
    }
    (void)sqlite3_reset(rc_st);
    if (rc != SQLITE_DONE)
        return rc;
    (void)sqlite3_bind_text(ev_st, 1, qid, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(ev_st)) == SQLITE_ROW) {
        struct track_row *e;

        if (f->n_events == f->cap_events) {
            f->cap_events = f->cap_events == 0 ? 8 : f->cap_events * 2;
            f->events = xrealloc(f->events, f->cap_events * sizeof(*f->events));
        }
        e = &f->events[f->n_events++];
        e->time = sqlite3_column_int64(ev_st, 0);
        e->kind = col_dup(ev_st, 1);
        e->rcpt = col_dup(ev_st, 2);
        e->detail = col_dup(ev_st, 3);
        if (e->kind == NULL)
            e->kind = xstrdup("?");
    }
    (void)sqlite3_reset(ev_st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The query's SQL: a fixed clause per filter given, each value a numbered parameter. */
static void
search_sql(const struct track_query *q, char *sql, size_t cap)
{
    size_t n;

    (void)str_copyz(sql, cap,
                    "SELECT qid, message_id, sender, door, client, helo, subject, status, size,"
                    " arrival, updated FROM messages WHERE 1");
    n = strlen(sql);
    if (q->from != NULL)
        n += (size_t)snprintf(sql + n, cap - n, " AND sender = ?1");
    if (q->to != NULL)
        n += (size_t)snprintf(sql + n, cap - n,
                              " AND qid IN (SELECT qid FROM recipients WHERE rcpt = ?2)");
    if (q->client != NULL)
        n += (size_t)snprintf(sql + n, cap - n, " AND client = ?3");
    if (q->qid != NULL)
        n += (size_t)snprintf(sql + n, cap - n, " AND qid = ?4");
    if (q->message_id != NULL)
        n += (size_t)snprintf(sql + n, cap - n, " AND message_id = ?5");
    if (q->since != 0)
        n += (size_t)snprintf(sql + n, cap - n, " AND arrival >= ?6");
    if (q->until != 0)
        n += (size_t)snprintf(sql + n, cap - n, " AND arrival < ?7");
    (void)snprintf(sql + n, cap - n, " ORDER BY arrival DESC LIMIT ?8");
}

static int
search_bind(sqlite3_stmt *st, const struct track_query *q)
{
    char msgid[CAP_MESSAGE_ID + 3];
    unsigned limit = q->limit == 0 ? TRACK_LIMIT_DEFAULT : q->limit;
    int rc = SQLITE_OK;

    if (limit > TRACK_LIMIT_MAX)
        limit = TRACK_LIMIT_MAX;
    if (q->from != NULL)
        rc = sqlite3_bind_text(st, 1, q->from, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK && q->to != NULL)
        rc = sqlite3_bind_text(st, 2, q->to, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK && q->client != NULL)
        rc = sqlite3_bind_text(st, 3, q->client, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK && q->qid != NULL)
        rc = sqlite3_bind_text(st, 4, q->qid, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK && q->message_id != NULL) {
        /* "<id>" as stored; an id given without its brackets gets them. */
        if (q->message_id[0] == '<' || str_fmt(msgid, sizeof msgid, "<%s>", q->message_id) == -1)
            (void)str_copyz(msgid, sizeof msgid, q->message_id);
        rc = sqlite3_bind_text(st, 5, msgid, -1, SQLITE_TRANSIENT);
    }
    if (rc == SQLITE_OK && q->since != 0)
        rc = sqlite3_bind_int64(st, 6, q->since);
    if (rc == SQLITE_OK && q->until != 0)
        rc = sqlite3_bind_int64(st, 7, q->until);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 8, limit);
    return rc;
}

/* The search on db. Returns the count, or -1 with err. */
static int
search_on(sqlite3 *db, const char *path, const struct track_query *q, track_result_fn *fn,
          void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL, *rc_st = NULL, *ev_st = NULL;
    struct tk_found f = {0};
    char sql[1024];
    int rc, found = 0;

    search_sql(q, sql, sizeof sql);
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "SELECT rcpt FROM recipients WHERE qid = ?1 ORDER BY rowid", -1,
                                &rc_st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "SELECT time, kind, rcpt, detail FROM events WHERE qid = ?1"
                                " ORDER BY time, id",
                                -1, &ev_st, NULL);
    if (rc == SQLITE_OK)
        rc = search_bind(st, q);
    /* One read transaction: a message and its events are seen as of one moment. */
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct track_message m = {
            .qid = col_text(st, 0),
            .message_id = col_text(st, 1),
            .sender = col_text(st, 2),
            .door = col_text(st, 3),
            .client = col_text(st, 4),
            .helo = col_text(st, 5),
            .subject = col_text(st, 6),
            .status = col_text(st, 7),
            .size = (uint64_t)sqlite3_column_int64(st, 8),
            .arrival = sqlite3_column_int64(st, 9),
            .updated = sqlite3_column_int64(st, 10),
        };

        rc = found_load(rc_st, ev_st, m.qid != NULL ? m.qid : "", &f);
        if (rc != SQLITE_OK)
            break;
        m.rcpts = (const char *const *)f.rcpts;
        m.n_rcpts = f.n_rcpts;
        m.events = f.events;
        m.n_events = f.n_events;
        fn(arg, &m);
        found_clear(&f);
        found++;
        rc = SQLITE_OK;
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    if (rc != SQLITE_OK)
        (void)str_fmt(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
    if (sqlite3_get_autocommit(db) == 0)
        (void)sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    found_clear(&f);
    free(f.rcpts);
    free(f.events);
    sqlite3_finalize(st);
    sqlite3_finalize(rc_st);
    sqlite3_finalize(ev_st);
    return rc == SQLITE_OK ? found : -1;
}

static int
tk_search(struct track *t, const struct track_query *q, track_result_fn *fn, void *arg, char *err,
          size_t errlen)
{
    struct tk_store *s = (struct tk_store *)t;
    sqlite3 *db;
    int n;

    if (s->mode == TRACK_OPEN_READ)
        return search_on(s->db, s->path, q, fn, arg, err, errlen);
    /* The writer's connection is its own: a search gets one for the call. */
    db = tk_db_open_read(s->path, err, errlen);
    if (db == NULL)
        return -1;
    n = search_on(db, s->path, q, fn, arg, err, errlen);
    (void)sqlite3_close_v2(db);
    return n;
}

/* ---- The rest of the interface ---- */

static void
tk_sweep(struct track *t)
{
    struct tk_store *s = (struct tk_store *)t;

    if (s->mode != TRACK_OPEN_WRITE)
        return;
    (void)pthread_mutex_lock(&s->mu);
    s->sweep_asked = true;
    if (s->running)
        (void)pthread_cond_signal(&s->cv);
    (void)pthread_mutex_unlock(&s->mu);
}

/* Without a writer: what waits, in batches, then the sweep's due batches. */
static void
tk_drain_here(struct tk_store *s)
{
    struct tk_rec **batch = xcalloc(s->batch_max, sizeof(*batch));
    size_t n;

    while ((n = tk_take(s, batch)) > 0)
        tk_write(s, batch, n);
    free(batch);
    do
        tk_sweep_turn(s);
    while (s->sweep_more);
}

static void
tk_flush(struct track *t)
{
    struct tk_store *s = (struct tk_store *)t;
    struct timespec pause = {0, 10 * 1000000L};

    if (s->mode != TRACK_OPEN_WRITE)
        return;
    if (!s->running) {
        tk_drain_here(s);
        return;
    }
    for (int i = 0; i < 500; i++) {
        bool idle;

        (void)pthread_mutex_lock(&s->mu);
        idle = s->count == 0 && !s->busy && !s->sweep_asked;
        if (!idle)
            (void)pthread_cond_signal(&s->cv);
        (void)pthread_mutex_unlock(&s->mu);
        if (idle)
            return;
        (void)nanosleep(&pause, NULL);
    }
}

static void
tk_set_keep(struct track *t, unsigned keep)
{
    struct tk_store *s = (struct tk_store *)t;

    s->keep = keep != 0 ? keep : TRACK_KEEP_DEFAULT;
}

static void
tk_stats(struct track *t, struct track_stats *out)
{
    struct tk_store *s = (struct tk_store *)t;

    out->noted = s->noted;
    out->dropped = s->dropped;
    out->written = s->written;
    out->batches = s->batches;
    out->faults = s->faults;
    out->swept = s->swept;
}

static void
tk_close(struct track *t)
{
    struct tk_store *s = (struct tk_store *)t;

    if (s->mode == TRACK_OPEN_WRITE) {
        (void)pthread_mutex_lock(&s->mu);
        s->stop = true;
        if (s->running)
            (void)pthread_cond_signal(&s->cv);
        (void)pthread_mutex_unlock(&s->mu);
        if (s->running) {
            (void)pthread_join(s->thread, NULL);
        } else {
            /* No writer (tests): what waits is written now. */
            tk_drain_here(s);
        }
        (void)pthread_cond_destroy(&s->cv);
        (void)pthread_mutex_destroy(&s->mu);
        free(s->ring);
    }
    tk_db_close(s);
    free(s->path);
    free(s);
}

static const struct track_ops tk_ops = {
    .note = tk_note,
    .search = tk_search,
    .sweep = tk_sweep,
    .flush = tk_flush,
    .set_keep = tk_set_keep,
    .stats = tk_stats,
    .close = tk_close,
};

/* The directory of path must be there (the WAL and -shm files are made in it). */
static int
tk_dir_check(const char *path, char *err, size_t errlen)
{
    char dir[CAP_PATH];
    const char *slash = strrchr(path, '/');
    struct stat sb;

    if (slash == NULL)
        (void)str_copyz(dir, sizeof dir, ".");
    else if (str_copy(dir, sizeof dir, path, slash == path ? 1 : (size_t)(slash - path)) == -1) {
        (void)str_fmt(err, errlen, "%s: path too long", path);
        return -1;
    }
    if (stat(dir, &sb) == -1) {
        (void)str_fmt(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        (void)str_fmt(err, errlen, "%s: not a directory", dir);
        return -1;
    }
    return 0;
}

struct track *
track_sqlite_open(const char *path, enum track_open mode, const struct track_params *p, char *err,
                  size_t errlen)
{
    struct tk_store *s;
    pthread_condattr_t ca;
    char why[512];

    if (mode == TRACK_OPEN_READ) {
        sqlite3 *db = tk_db_open_read(path, err, errlen);

        if (db == NULL)
            return NULL;
        s = xcalloc(1, sizeof(*s));
        s->base.ops = &tk_ops;
        s->path = xstrdup(path);
        s->mode = mode;
        s->head_fd = -1;
        s->db = db;
        return &s->base;
    }
    if (tk_dir_check(path, err, errlen) == -1)
        return NULL;
    s = xcalloc(1, sizeof(*s));
    s->base.ops = &tk_ops;
    s->path = xstrdup(path);
    s->mode = mode;
    s->head_fd = -1;
    s->keep = p != NULL && p->keep != 0 ? p->keep : TRACK_KEEP_DEFAULT;
    s->cap = p != NULL && p->ring != 0 ? p->ring : TRACK_RING_DEFAULT;
    s->batch_max = p != NULL && p->batch_max != 0 ? p->batch_max : TRACK_BATCH_MAX;
    s->no_writer = p != NULL && p->no_writer;
    s->ring = xcalloc(s->cap, sizeof(*s->ring));
    s->sweep_asked = true; /* at start */
    (void)pthread_mutex_init(&s->mu, NULL);
    (void)pthread_condattr_init(&ca);
    (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    (void)pthread_cond_init(&s->cv, &ca);
    (void)pthread_condattr_destroy(&ca);
    /* Opened now, so that a problem shows at start; else the writer tries again. */
    if (tk_db_open(s, why, sizeof why) == -1) {
        log_warning("track: path=%s, event=open-failed, error=\"%s\", retry=%ds", path, why,
                    TRACK_REOPEN_WAIT);
        s->faulty = true;
        s->retry_at = now_s() + TRACK_REOPEN_WAIT;
    }
    if (!s->no_writer) {
        if (pthread_create(&s->thread, NULL, tk_main, s) != 0) {
            (void)str_fmt(err, errlen, "%s: cannot start the writer thread", path);
            s->no_writer = true;
            tk_close(&s->base);
            return NULL;
        }
        s->running = true;
    }
    return &s->base;
}
