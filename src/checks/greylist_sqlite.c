/* SPDX-License-Identifier: MIT */
/*
 * The embedded greylist store: SQLite in SPOOL/greylist.db.
 *
 * Tables: triplet (net, sender, rcpt, seen: the first attempt, passed: the
 * last pass or NULL) and domain (net, domain, passed). Each is capped at
 * max_rows: a new triplet in a full table pushes out the oldest unpassed
 * one (a flood of random triplets only ever displaces other unpassed
 * ones), else the least recently passed; a new domain the least recently
 * passed domain. greylist_sweep() drops expired rows in small batches.
 *
 * Durability: journal_mode=WAL with synchronous=NORMAL. A commit then
 * appends to the WAL without an fsync (only checkpoints sync), so a
 * decision costs microseconds; a crash of the machine may lose the last
 * passes, which costs those senders one more retry, never mail (a greylist
 * pass is a cache of "this sender retries", not a message). busy_timeout
 * is small (50 ms): only this process writes the file.
 *
 * Where the work runs: the decisions on the caller's thread (the event
 * loop), each one transaction of prepared statements on a local file. A
 * pass within the hour of its row's last renewal is a read (7 to 33 us of
 * CPU); a first attempt or a renewal writes (65 to 105 us of CPU when an
 * eviction comes with it; greylist_test prints the measures). A worker
 * thread would cost a handoff of the same order and make the check
 * asynchronous for nothing. What could block for milliseconds is the WAL's
 * checkpoint, with its fsyncs: it runs in a checkpointer thread with a
 * connection of its own (passive: it never waits for the writer), asked
 * by greylist_sweep() and by a commit that finds the WAL past
 * WAL_FRAMES_ASK. Only without that thread (it failed to start) does the
 * caller's thread checkpoint, in the sweep and past WAL_FRAMES_MAX.
 *
 * Faults: every SQLite error of a decision answers "pass" (degraded) and
 * logs one warning until the store works again. A corrupt file
 * (SQLITE_CORRUPT, SQLITE_NOTADB, or a sweep that finds SQLite's header
 * gone) is moved aside as PATH.corrupt-YYYYmmddTHHMMSSZ (its WAL beside
 * it, as found: nothing is checkpointed into it) and recreated at once; a
 * file deleted or replaced under us (SQLITE_FCNTL_HAS_MOVED, asked before
 * each decision and each sweep) is recreated at once; any other error
 * (unwritable, a full disk, I/O) closes the store, which answers "pass"
 * until it reopens, tried at most every REOPEN_WAIT seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "checks/greylist.h"
#include "lib/log.h"
#include "lib/sqlite_file.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/*
 * Frames in the WAL past which each commit asks the checkpointer for a
 * checkpoint (4 MiB of 4 KiB pages: a new triplet appends about eight);
 * and past which a commit checkpoints itself when there is no
 * checkpointer (about 40 MiB).
 */
#define WAL_FRAMES_ASK 1000
#define WAL_FRAMES_MAX 10000

/*
 * A pass renews a row only when its last renewal is this old: a triplet
 * that passes again within the hour is a read, with nothing written (36
 * days, less at most an hour, is still 36 days for a sender).
 */
#define RENEW_EVERY 3600

/* Times a decision is tried when the file is busy (each within busy_timeout). */
#define BUSY_TRIES 3

/* Seconds between attempts to reopen a store that failed to open. */
#define REOPEN_WAIT 10

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS triplet ("
    " id INTEGER PRIMARY KEY, net TEXT NOT NULL, sender TEXT NOT NULL, rcpt TEXT NOT NULL,"
    " seen INTEGER NOT NULL, passed INTEGER, UNIQUE (net, sender, rcpt));"
    "CREATE INDEX IF NOT EXISTS triplet_waiting ON triplet (seen) WHERE passed IS NULL;"
    "CREATE INDEX IF NOT EXISTS triplet_passed ON triplet (passed) WHERE passed IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS domain ("
    " id INTEGER PRIMARY KEY, net TEXT NOT NULL, domain TEXT NOT NULL, passed INTEGER NOT NULL,"
    " UNIQUE (net, domain));"
    "CREATE INDEX IF NOT EXISTS domain_passed ON domain (passed);";

enum stmt {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_T_GET,
    S_T_ADD,
    S_T_RESTART,
    S_T_PASS,
    S_T_EVICT_WAITING,
    S_T_EVICT_PASSED,
    S_D_GET,
    S_D_RENEW,
    S_D_ADD,
    S_D_EVICT,
    S_SW_WAITING,
    S_SW_PASSED,
    S_SW_DOMAIN,
    S_COUNT,
};

static const char *const stmt_sql[S_COUNT] = {
    /* IMMEDIATE: the write lock is taken at once, with the busy handler; a deferred
     * transaction that reads and then writes gets SQLITE_BUSY without waiting. */
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_T_GET] = "SELECT id, seen, passed FROM triplet WHERE net = ?1 AND sender = ?2 AND rcpt = ?3",
    [S_T_ADD] = "INSERT INTO triplet (net, sender, rcpt, seen) VALUES (?1, ?2, ?3, ?4)",
    [S_T_RESTART] = "UPDATE triplet SET seen = ?2, passed = NULL WHERE id = ?1",
    [S_T_PASS] = "UPDATE triplet SET passed = ?2 WHERE id = ?1",
    [S_T_EVICT_WAITING] = "DELETE FROM triplet WHERE id = (SELECT id FROM triplet"
                          " WHERE passed IS NULL ORDER BY seen LIMIT 1)",
    [S_T_EVICT_PASSED] = "DELETE FROM triplet WHERE id = (SELECT id FROM triplet"
                         " WHERE passed IS NOT NULL ORDER BY passed LIMIT 1)",
    [S_D_GET] = "SELECT passed FROM domain WHERE net = ?1 AND domain = ?2",
    [S_D_RENEW] = "UPDATE domain SET passed = ?3 WHERE net = ?1 AND domain = ?2",
    [S_D_ADD] = "INSERT INTO domain (net, domain, passed) VALUES (?1, ?2, ?3)",
    [S_D_EVICT] = "DELETE FROM domain WHERE id = (SELECT id FROM domain ORDER BY passed LIMIT 1)",
    [S_SW_WAITING] = "DELETE FROM triplet WHERE id IN (SELECT id FROM triplet"
                     " WHERE passed IS NULL AND seen <= ?1 LIMIT ?2)",
    [S_SW_PASSED] = "DELETE FROM triplet WHERE id IN (SELECT id FROM triplet"
                    " WHERE passed IS NOT NULL AND passed <= ?1 LIMIT ?2)",
    [S_SW_DOMAIN] = "DELETE FROM domain WHERE id IN (SELECT id FROM domain"
                    " WHERE passed <= ?1 LIMIT ?2)",
};

/*
 * The checkpointer: a thread with a connection of its own to the same file,
 * which copies the WAL into the database (and fsyncs both) when the sweep
 * asks, so that no fsync runs on the caller's thread. It lives as long as
 * the main connection; a reopen stops and restarts it.
 */
struct gl_ckpt {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sqlite3 *db;
    bool running; /* started; else the sweep checkpoints itself */
    bool want, stop;
};

struct gl_sqlite {
    struct greylist base;
    struct gl_ckpt ck;
    char *path;
    struct greylist_params p;
    sqlite3 *db; /* NULL while the store is down */
    int head_fd; /* the file opened with db, for sqlite_file_header_ok(); -1: none */
    sqlite3_stmt *st[S_COUNT];
    uint64_t triplets, domains; /* rows, counted at open and kept by each change */
    bool faulty;                /* warned; cleared (and logged) by the next success */
    int64_t retry_at;           /* when db is NULL: the next attempt to open */
    struct greylist_stats stats;
};

/* ---- The checkpointer ---- */

static void *
gl_ckpt_main(void *arg)
{
    struct gl_ckpt *ck = arg;

    (void)pthread_mutex_lock(&ck->mu);
    for (;;) {
        while (!ck->want && !ck->stop)
            (void)pthread_cond_wait(&ck->cv, &ck->mu);
        if (ck->stop)
            break;
        ck->want = false;
        (void)pthread_mutex_unlock(&ck->mu);
        /* Passive: copies what no reader needs and never waits for the writer. */
        (void)sqlite3_wal_checkpoint_v2(ck->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        (void)pthread_mutex_lock(&ck->mu);
    }
    (void)pthread_mutex_unlock(&ck->mu);
    return NULL;
}

/* Starts the checkpointer on path; on failure the sweep checkpoints itself (logged). */
static void
gl_ckpt_start(struct gl_ckpt *ck, const char *path)
{
    int rc = sqlite3_open_v2(path, &ck->db, SQLITE_OPEN_READWRITE, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_exec(ck->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(ck->db, 1000);
    ck->want = ck->stop = false;
    if (rc == SQLITE_OK) {
        (void)pthread_mutex_init(&ck->mu, NULL);
        (void)pthread_cond_init(&ck->cv, NULL);
        if (pthread_create(&ck->thread, NULL, gl_ckpt_main, ck) == 0) {
            ck->running = true;
            return;
        }
        (void)pthread_cond_destroy(&ck->cv);
        (void)pthread_mutex_destroy(&ck->mu);
    }
    log_warning("greylist: path=%s, event=no-checkpointer, error=\"%s\"", path,
                ck->db != NULL ? sqlite3_errmsg(ck->db) : "thread");
    (void)sqlite3_close_v2(ck->db);
    ck->db = NULL;
}

/* Stops the checkpointer (waiting for a checkpoint under way) and closes its connection. */
static void
gl_ckpt_stop(struct gl_ckpt *ck)
{
    if (!ck->running)
        return;
    (void)pthread_mutex_lock(&ck->mu);
    ck->stop = true;
    (void)pthread_cond_signal(&ck->cv);
    (void)pthread_mutex_unlock(&ck->mu);
    (void)pthread_join(ck->thread, NULL);
    (void)pthread_cond_destroy(&ck->cv);
    (void)pthread_mutex_destroy(&ck->mu);
    (void)sqlite3_close_v2(ck->db);
    ck->db = NULL;
    ck->running = false;
}

/* Asks the checkpointer for a checkpoint; false when there is none. */
static bool
gl_ckpt_ask(struct gl_ckpt *ck)
{
    if (!ck->running)
        return false;
    (void)pthread_mutex_lock(&ck->mu);
    ck->want = true;
    (void)pthread_cond_signal(&ck->cv);
    (void)pthread_mutex_unlock(&ck->mu);
    return true;
}

/*
 * After each commit of the main connection (SQLite's WAL hook, in place of
 * its autocheckpoint): a long WAL is handed to the checkpointer, so that
 * the WAL stays near 4 MiB under a flood of new triplets without an fsync
 * on the caller's thread.
 */
static int
gl_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct gl_ckpt *ck = arg;

    if (frames >= WAL_FRAMES_ASK && !gl_ckpt_ask(ck) && frames >= WAL_FRAMES_MAX)
        (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

/* ---- Opening ---- */

static void
gl_db_close(struct gl_sqlite *s)
{
    gl_ckpt_stop(&s->ck); /* first: the main connection, closed last, removes the WAL */
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

static int
gl_count(sqlite3 *db, const char *sql, uint64_t *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = (uint64_t)sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Opens s->path into s->db once. Returns an SQLite code; err names the step. */
static int
gl_db_open_once(struct gl_sqlite *s, char *err, size_t errlen)
{
    int rc;

    rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        (void)str_fmt(err, errlen, "%s: %s", s->path,
                      s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        return rc;
    }
    (void)sqlite3_extended_result_codes(s->db, 1);
    (void)sqlite3_busy_timeout(s->db, 50);
    rc = sqlite_file_wal(s->db, "PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=4194304;"
                                "PRAGMA foreign_keys=OFF;");
    /* Checkpoints (the only fsyncs) are the checkpointer's: asked by the hook and the sweep. */
    if (rc == SQLITE_OK)
        (void)sqlite3_wal_hook(s->db, gl_wal_hook, &s->ck);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, schema, NULL, NULL, NULL);
    if (rc == SQLITE_OK && sqlite3_db_readonly(s->db, "main") == 1)
        rc = SQLITE_READONLY;
    for (size_t i = 0; rc == SQLITE_OK && i < S_COUNT; i++)
        rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
    if (rc == SQLITE_OK)
        rc = gl_count(s->db, "SELECT count(*) FROM triplet", &s->triplets);
    if (rc == SQLITE_OK)
        rc = gl_count(s->db, "SELECT count(*) FROM domain", &s->domains);
    if (rc == SQLITE_OK)
        s->head_fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (rc != SQLITE_OK) {
        (void)str_fmt(err, errlen, "%s: %s", s->path,
                      rc == SQLITE_READONLY ? "not writable" : sqlite3_errmsg(s->db));
        gl_db_close(s);
    }
    return rc;
}

/* Opens the database, moving a corrupt one aside once. Returns 0 or -1 (err set). */
static int
gl_db_open(struct gl_sqlite *s, char *err, size_t errlen)
{
    int rc = gl_db_open_once(s, err, errlen);

    if (sqlite_file_is_corrupt(rc)) {
        sqlite_file_move_aside(s->path, "greylist");
        rc = gl_db_open_once(s, err, errlen);
    }
    if (rc != SQLITE_OK)
        return -1;
    gl_ckpt_start(&s->ck, s->path);
    return 0;
}

/* The directory of path must be there and writable (the WAL and -shm files are made in it). */
static int
gl_dir_check(const char *path, char *err, size_t errlen)
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
    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == -1) {
        (void)str_fmt(err, errlen, "%s: directory not writable: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- Faults ---- */

/* The store could not answer: warn once, and reopen (moving a corrupt file aside). */
static void
gl_fault(struct gl_sqlite *s, int rc, const char *what, int64_t now)
{
    char err[512];

    if (!s->faulty)
        log_warning("greylist: path=%s, event=fault, op=%s, code=%d, error=\"%s\", answer=pass",
                    s->path, what, rc,
                    rc == SQLITE_READONLY_DBMOVED ? "the file was deleted or replaced"
                    : s->db != NULL && sqlite3_extended_errcode(s->db) == rc ? sqlite3_errmsg(s->db)
                                                                             : sqlite3_errstr(rc));
    s->faulty = true;
    if ((rc & 0xff) == SQLITE_BUSY)
        return; /* someone else holds the file: nothing to repair */
    /*
     * Closing the last connection copies the WAL into the file: not into a
     * corrupt one (kept as found, with its WAL), nor into a file deleted
     * under us, whose leftover WAL must not be replayed into the new one.
     */
    if (s->db != NULL)
        (void)sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    gl_db_close(s);
    if (sqlite_file_is_corrupt(rc)) {
        sqlite_file_move_aside(s->path, "greylist");
    } else if (access(s->path, F_OK) == -1 && errno == ENOENT) {
        sqlite_file_remove_leftovers(s->path, "greylist");
    } else if (rc != SQLITE_READONLY_DBMOVED) {
        /* Unwritable, a full disk, an I/O error: try again later, not at each decision. */
        s->retry_at = now + REOPEN_WAIT;
        return;
    }
    s->stats.reopened++;
    if (gl_db_open(s, err, sizeof err) == -1) {
        log_warning("greylist: path=%s, event=reopen-failed, error=\"%s\", retry=%ds", s->path, err,
                    REOPEN_WAIT);
        s->retry_at = now + REOPEN_WAIT;
    }
}

/* The decision worked: say so once after a fault. */
static void
gl_ok(struct gl_sqlite *s)
{
    if (s->faulty)
        log_info("greylist: path=%s, event=recovered", s->path);
    s->faulty = false;
}

/*
 * Before each use: the store is open, and its file is the one on disk (not
 * deleted or replaced). Returns true when usable; false when the call is
 * to answer "pass" (the store was down, or has just been recreated empty:
 * the passes it knew are gone, so this attempt is not made to wait).
 */
static bool
gl_ready(struct gl_sqlite *s, int64_t now)
{
    char err[512];
    int moved = 0;

    if (s->db == NULL) {
        if (now < s->retry_at)
            return false;
        if (gl_db_open(s, err, sizeof err) == -1) {
            s->retry_at = now + REOPEN_WAIT;
            return false;
        }
        s->stats.reopened++;
        log_info("greylist: path=%s, event=reopened", s->path);
        return false;
    }
    if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK &&
        moved == 0)
        return true;
    gl_fault(s, SQLITE_READONLY_DBMOVED, "moved", now);
    return false;
}

/* ---- Statements ---- */

static int
gl_run(struct gl_sqlite *s, enum stmt i)
{
    int rc = sqlite3_step(s->st[i]);

    (void)sqlite3_reset(s->st[i]);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void
gl_bind_text(sqlite3_stmt *st, int col, const char *text)
{
    (void)sqlite3_bind_text(st, col, text, -1, SQLITE_STATIC);
}

/* Makes room for one more triplet. */
static int
gl_triplet_room(struct gl_sqlite *s)
{
    int rc;

    if (s->triplets < s->p.max_rows)
        return SQLITE_OK;
    rc = gl_run(s, S_T_EVICT_WAITING);
    if (rc == SQLITE_OK && sqlite3_changes(s->db) == 0)
        rc = gl_run(s, S_T_EVICT_PASSED);
    if (rc == SQLITE_OK && sqlite3_changes(s->db) > 0) {
        s->triplets--;
        s->stats.evicted++;
    }
    return rc;
}

/* Whether a row last renewed at passed is to be renewed at now (also when the clock went back). */
static bool
is_stale(int64_t passed, int64_t now)
{
    return passed > now || now - passed >= RENEW_EVERY;
}

/* The domain row of (net, domain): *found, and when it passed. Inside a transaction. */
static int
gl_domain_get(struct gl_sqlite *s, const char *net, const char *domain, bool *found,
              int64_t *passed)
{
    sqlite3_stmt *st = s->st[S_D_GET];
    int rc;

    gl_bind_text(st, 1, net);
    gl_bind_text(st, 2, domain);
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found) {
        *passed = sqlite3_column_int64(st, 0);
        rc = SQLITE_DONE;
    }
    (void)sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
gl_domain_renew(struct gl_sqlite *s, const char *net, const char *domain, int64_t now)
{
    sqlite3_stmt *st = s->st[S_D_RENEW];

    gl_bind_text(st, 1, net);
    gl_bind_text(st, 2, domain);
    (void)sqlite3_bind_int64(st, 3, now);
    return gl_run(s, S_D_RENEW);
}

/* Remembers that net passed for domain at now, making room for a new row first. */
static int
gl_domain_put(struct gl_sqlite *s, const char *net, const char *domain, int64_t now)
{
    sqlite3_stmt *st;
    int64_t passed = 0;
    bool found;
    int rc;

    if (domain[0] == '\0')
        return SQLITE_OK;
    rc = gl_domain_get(s, net, domain, &found, &passed);
    if (rc != SQLITE_OK)
        return rc;
    if (found)
        return is_stale(passed, now) ? gl_domain_renew(s, net, domain, now) : SQLITE_OK;
    if (s->domains >= s->p.max_rows) {
        rc = gl_run(s, S_D_EVICT);
        if (rc != SQLITE_OK)
            return rc;
        if (sqlite3_changes(s->db) > 0) {
            s->domains--;
            s->stats.evicted++;
        }
    }
    st = s->st[S_D_ADD];
    gl_bind_text(st, 1, net);
    gl_bind_text(st, 2, domain);
    (void)sqlite3_bind_int64(st, 3, now);
    rc = gl_run(s, S_D_ADD);
    if (rc == SQLITE_OK)
        s->domains++;
    return rc;
}

/*
 * The decision inside a transaction. Returns an SQLite code; on SQLITE_OK
 * out is set. The counts are changed only by what the transaction did, so
 * a rollback resyncs them (see gl_check).
 */
static int
gl_decide(struct gl_sqlite *s, const struct greylist_triplet *t, int64_t now,
          struct greylist_answer *out)
{
    sqlite3_stmt *st = s->st[S_T_GET];
    int64_t id = 0, seen = 0, passed = 0;
    bool found = false, has_passed = false;
    enum stmt next;
    int rc;

    gl_bind_text(st, 1, t->net);
    gl_bind_text(st, 2, t->sender);
    gl_bind_text(st, 3, t->rcpt);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        found = true;
        id = sqlite3_column_int64(st, 0);
        seen = sqlite3_column_int64(st, 1);
        has_passed = sqlite3_column_type(st, 2) != SQLITE_NULL;
        passed = sqlite3_column_int64(st, 2);
        rc = SQLITE_DONE;
    }
    (void)sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return rc;

    memset(out, 0, sizeof *out);
    if (found && has_passed && (passed > now || now - passed < (int64_t)s->p.passed_ttl)) {
        /* Passed before and still remembered (or the clock went back): renewed when stale. */
        out->verdict = GREYLIST_PASS;
        if (!is_stale(passed, now))
            return gl_domain_put(s, t->net, t->sender_domain, now);
        next = S_T_PASS;
    } else if (found && !has_passed && seen <= now && now - seen < (int64_t)s->p.unpassed_ttl) {
        if (now - seen >= (int64_t)s->p.delay) {
            next = S_T_PASS;
        } else {
            out->verdict = GREYLIST_DEFER;
            out->left = (unsigned)(seen + s->p.delay - now);
            return SQLITE_OK; /* a retry too early changes nothing */
        }
    } else {
        /* New, expired but not swept yet, or from a clock set back: a first attempt. */
        next = found ? S_T_RESTART : S_T_ADD;
    }

    if (next == S_T_ADD) {
        rc = gl_triplet_room(s);
        if (rc != SQLITE_OK)
            return rc;
        st = s->st[S_T_ADD];
        gl_bind_text(st, 1, t->net);
        gl_bind_text(st, 2, t->sender);
        gl_bind_text(st, 3, t->rcpt);
        (void)sqlite3_bind_int64(st, 4, now);
    } else {
        st = s->st[next];
        (void)sqlite3_bind_int64(st, 1, id);
        (void)sqlite3_bind_int64(st, 2, now);
    }
    rc = gl_run(s, next);
    if (rc != SQLITE_OK)
        return rc;
    if (next == S_T_ADD)
        s->triplets++;
    if (next != S_T_PASS) {
        out->verdict = GREYLIST_DEFER;
        out->left = s->p.delay;
        return SQLITE_OK;
    }
    out->verdict = GREYLIST_PASS;
    return gl_domain_put(s, t->net, t->sender_domain, now);
}

static void
gl_degraded(struct gl_sqlite *s, struct greylist_answer *out)
{
    memset(out, 0, sizeof *out);
    out->verdict = GREYLIST_PASS;
    out->degraded = true;
    s->stats.degraded++;
}

/* Runs fn's statements in one transaction; on an error rolls back and resyncs the counts. */
static int
gl_begin(struct gl_sqlite *s)
{
    return gl_run(s, S_BEGIN);
}

static int
gl_end(struct gl_sqlite *s, int rc, uint64_t triplets, uint64_t domains)
{
    if (rc == SQLITE_OK)
        rc = gl_run(s, S_COMMIT);
    if (rc != SQLITE_OK) {
        if (sqlite3_get_autocommit(s->db) == 0)
            (void)gl_run(s, S_ROLLBACK);
        s->triplets = triplets;
        s->domains = domains;
    }
    return rc;
}

static void
gl_check(struct greylist *g, const struct greylist_triplet *t, int64_t now,
         struct greylist_answer *out)
{
    struct gl_sqlite *s = (struct gl_sqlite *)g;
    uint64_t triplets = s->triplets, domains = s->domains;
    int rc;

    if (!gl_ready(s, now)) {
        gl_degraded(s, out);
        return;
    }
    for (int attempt = 0;; attempt++) {
        rc = gl_begin(s);
        if (rc == SQLITE_OK)
            rc = gl_decide(s, t, now, out);
        rc = gl_end(s, rc, triplets, domains);
        if ((rc & 0xff) != SQLITE_BUSY || attempt == BUSY_TRIES - 1)
            break;
    }
    if (rc != SQLITE_OK) {
        gl_fault(s, rc, "check", now);
        gl_degraded(s, out);
        return;
    }
    gl_ok(s);
    if (out->verdict == GREYLIST_PASS)
        s->stats.passes++;
    else
        s->stats.defers++;
}

static bool
gl_domain_passed(struct greylist *g, const char *net, const char *domain, int64_t now)
{
    struct gl_sqlite *s = (struct gl_sqlite *)g;
    int64_t passed = 0;
    bool found = false, alive = false;
    int rc;

    if (!gl_ready(s, now))
        return false;
    for (int attempt = 0;; attempt++) {
        rc = gl_begin(s);
        if (rc == SQLITE_OK)
            rc = gl_domain_get(s, net, domain, &found, &passed);
        alive = found && now - passed < (int64_t)s->p.passed_ttl;
        if (rc == SQLITE_OK && alive && is_stale(passed, now))
            rc = gl_domain_renew(s, net, domain, now);
        rc = gl_end(s, rc, s->triplets, s->domains);
        if ((rc & 0xff) != SQLITE_BUSY || attempt == BUSY_TRIES - 1)
            break;
    }
    if (rc != SQLITE_OK) {
        gl_fault(s, rc, "domain", now);
        return false;
    }
    gl_ok(s);
    if (!alive)
        return false;
    s->stats.domain_skips++;
    return true;
}

/* One batch of expired rows of one kind; adds what it dropped to *dropped. */
static int
gl_sweep_one(struct gl_sqlite *s, enum stmt i, int64_t before, unsigned budget, unsigned *dropped,
             uint64_t *count)
{
    sqlite3_stmt *st = s->st[i];
    int rc;
    unsigned n;

    if (*dropped >= budget)
        return SQLITE_OK;
    (void)sqlite3_bind_int64(st, 1, before);
    (void)sqlite3_bind_int64(st, 2, budget - *dropped);
    rc = gl_run(s, i);
    if (rc != SQLITE_OK)
        return rc;
    n = (unsigned)sqlite3_changes(s->db);
    *dropped += n;
    *count -= n < *count ? n : *count;
    return SQLITE_OK;
}

static int
gl_sweep(struct greylist *g, int64_t now, unsigned budget)
{
    struct gl_sqlite *s = (struct gl_sqlite *)g;
    uint64_t triplets = s->triplets, domains = s->domains;
    unsigned dropped = 0;
    int rc;

    if (!gl_ready(s, now))
        return 0;
    if (!sqlite_file_header_ok(s->head_fd)) {
        gl_fault(s, SQLITE_NOTADB, "sweep", now);
        return 0;
    }
    rc = gl_begin(s);
    if (rc == SQLITE_OK)
        rc = gl_sweep_one(s, S_SW_WAITING, now - (int64_t)s->p.unpassed_ttl, budget, &dropped,
                          &s->triplets);
    if (rc == SQLITE_OK)
        rc = gl_sweep_one(s, S_SW_PASSED, now - (int64_t)s->p.passed_ttl, budget, &dropped,
                          &s->triplets);
    if (rc == SQLITE_OK)
        rc = gl_sweep_one(s, S_SW_DOMAIN, now - (int64_t)s->p.passed_ttl, budget, &dropped,
                          &s->domains);
    rc = gl_end(s, rc, triplets, domains);
    if (rc != SQLITE_OK) {
        gl_fault(s, rc, "sweep", now);
        return 0;
    }
    gl_ok(s);
    s->stats.expired += dropped;
    if (!gl_ckpt_ask(&s->ck))
        (void)sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return (int)dropped;
}

static void
gl_stats(struct greylist *g, struct greylist_stats *out)
{
    struct gl_sqlite *s = (struct gl_sqlite *)g;

    *out = s->stats;
    out->triplets = s->triplets;
    out->domains = s->domains;
    out->max_rows = s->p.max_rows;
}

static void
gl_close(struct greylist *g)
{
    struct gl_sqlite *s = (struct gl_sqlite *)g;

    gl_db_close(s);
    free(s->path);
    free(s);
}

static const struct greylist_ops gl_sqlite_ops = {
    .check = gl_check,
    .domain_passed = gl_domain_passed,
    .sweep = gl_sweep,
    .stats = gl_stats,
    .close = gl_close,
};

struct greylist *
greylist_sqlite_open(const char *path, const struct greylist_params *p, char *err, size_t errlen)
{
    struct gl_sqlite *s;

    if (gl_dir_check(path, err, errlen) == -1)
        return NULL;
    s = xcalloc(1, sizeof *s);
    s->head_fd = -1;
    s->base.ops = &gl_sqlite_ops;
    s->path = xstrdup(path);
    s->p.delay = p != NULL && p->delay > 0 ? p->delay : GREYLIST_DELAY_DEFAULT;
    s->p.unpassed_ttl = p != NULL && p->unpassed_ttl > 0 ? p->unpassed_ttl : GREYLIST_UNPASSED_TTL;
    s->p.passed_ttl = p != NULL && p->passed_ttl > 0 ? p->passed_ttl : GREYLIST_PASSED_TTL;
    s->p.max_rows = p != NULL && p->max_rows > 0 ? p->max_rows : GREYLIST_MAX_ROWS_DEFAULT;
    if (gl_db_open(s, err, errlen) == -1) {
        gl_close(&s->base);
        return NULL;
    }
    return &s->base;
}
