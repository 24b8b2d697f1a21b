/* SPDX-License-Identifier: MIT */
/*
 * The tracking store: the ring (full: dropped and counted), the batches of
 * the writer, the search filters (every value a bound parameter: SQL
 * metacharacters in values are text), the sweep, a file deleted under the
 * writer, and the read-only open of a missing or foreign file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "track/track.h"

struct fixture {
    char dir[64];
    char path[96];
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    (void)snprintf(f->dir, sizeof f->dir, "/tmp/track_test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    (void)snprintf(f->path, sizeof f->path, "%s/tracking.db", f->dir);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    (void)snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static int64_t
now_us(void)
{
    return (int64_t)time(NULL) * 1000000;
}

/* A message arriving: queued, with one or two recipients. */
static void
note_arrival(struct track *t, const char *qid, const char *sender, const char *rcpt,
             const char *client, const char *msgid, int64_t arrival)
{
    const char *rcpts[2] = {rcpt, "second@example.org"};
    struct track_event ev = {
        .kind = TRACK_QUEUED,
        .time = arrival,
        .qid = qid,
        .message_id = msgid,
        .sender = sender,
        .door = "inbound",
        .client = client,
        .helo = "mx.example.net",
        .subject = "hello",
        .size = 123,
        .arrival = arrival,
        .rcpts = rcpts,
        .n_rcpts = 2,
        .detail = "250 2.0.0 Ok: queued",
    };

    track_note(t, &ev);
}

struct collected {
    size_t n;
    char qids[64][32];
    size_t events[64];
    char last_status[32];
};

static void
collect(void *arg, const struct track_message *m)
{
    struct collected *c = arg;

    if (c->n < 64) {
        (void)snprintf(c->qids[c->n], sizeof c->qids[0], "%s", m->qid);
        c->events[c->n] = m->n_events;
    }
    (void)snprintf(c->last_status, sizeof c->last_status, "%s", m->status ? m->status : "");
    c->n++;
}

static int
search(const char *path, const struct track_query *q, struct collected *c)
{
    char err[512];
    struct track *r = track_sqlite_open(path, TRACK_OPEN_READ, NULL, err, sizeof err);
    int n;

    assert_non_null(r);
    memset(c, 0, sizeof(*c));
    n = track_search(r, q, collect, c, err, sizeof err);
    track_close(r);
    return n;
}

/* The ring holds `ring` events; more are dropped and counted, never waited for. */
static void
test_ring_full(void **state)
{
    struct fixture *f = *state;
    struct track_params p = {.ring = 4, .no_writer = true};
    struct track_stats st;
    struct track_query q = {0};
    struct collected c;
    char err[256], qid[16];
    struct track *t = track_sqlite_open(f->path, TRACK_OPEN_WRITE, &p, err, sizeof err);

    assert_non_null(t);
    for (int i = 0; i < 6; i++) {
        (void)snprintf(qid, sizeof qid, "Q%d", i);
        note_arrival(t, qid, "a@example.org", "b@example.org", "192.0.2.1", "<m@x>", now_us() + i);
    }
    track_stats(t, &st);
    assert_int_equal(st.noted, 4);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.written, 0);
    track_flush(t);
    track_stats(t, &st);
    assert_int_equal(st.written, 4);
    track_close(t);
    assert_int_equal(search(f->path, &q, &c), 4);
    /* Newest first: Q3 arrived last of the four kept. */
    assert_string_equal(c.qids[0], "Q3");
    assert_string_equal(c.qids[3], "Q0");
}

/* Without a writer, 10 events with batch_max 3 are 4 transactions; with one, all arrive. */
static void
test_batching(void **state)
{
    struct fixture *f = *state;
    struct track_params p = {.batch_max = 3, .no_writer = true};
    struct track_stats st;
    char err[256], qid[16];
    struct track *t = track_sqlite_open(f->path, TRACK_OPEN_WRITE, &p, err, sizeof err);

    assert_non_null(t);
    for (int i = 0; i < 10; i++) {
        (void)snprintf(qid, sizeof qid, "B%d", i);
        note_arrival(t, qid, "a@example.org", "b@example.org", "192.0.2.1", NULL, now_us());
    }
    track_flush(t);
    track_stats(t, &st);
    assert_int_equal(st.written, 10);
    assert_int_equal(st.batches, 4);
    track_close(t);

    /* The writer thread: 2,500 events in batches of at most 1,000. */
    t = track_sqlite_open(f->path, TRACK_OPEN_WRITE, NULL, err, sizeof err);
    assert_non_null(t);
    for (int i = 0; i < 2500; i++) {
        struct track_event ev = {.kind = TRACK_ATTEMPT,
                                 .qid = "B1",
                                 .rcpt = "b@example.org",
                                 .status = "deferred",
                                 .detail = "451 4.3.0 try later"};

        track_note(t, &ev);
    }
    track_flush(t);
    track_stats(t, &st);
    assert_int_equal(st.noted, 2500);
    assert_int_equal(st.written, 2500);
    assert_int_equal(st.dropped, 0);
    assert_true(st.batches >= 3 && st.batches <= 2500);
    track_close(t);
    {
        struct track_query q = {.qid = "B1"};
        struct collected c;

        assert_int_equal(search(f->path, &q, &c), 1);
        assert_int_equal(c.events[0], 2501);
        assert_string_equal(c.last_status, "deferred");
    }
}

/* Each filter, with hostile values: SQL metacharacters are text to match. */
static void
test_search_filters(void **state)
{
    struct fixture *f = *state;
    char err[256];
    struct track *t = track_sqlite_open(f->path, TRACK_OPEN_WRITE, NULL, err, sizeof err);
    int64_t base = now_us() - 3600 * 1000000LL;
    static const struct {
        const char *name;
        struct track_query q;
        int want;
        const char *first;
    } rows[] = {
        {"all", {0}, 5, "S5"},
        {"from", {.from = "alice@example.org"}, 1, "S1"},
        {"from any case", {.from = "ALICE@Example.ORG"}, 1, "S1"},
        {"from quote", {.from = "o'brien@example.org"}, 1, "S2"},
        {"from injection", {.from = "x' OR '1'='1"}, 0, NULL},
        {"from percent", {.from = "%"}, 0, NULL},
        {"from like", {.from = "%@example.org"}, 1, "S3"},
        {"from null sender", {.from = ""}, 1, "S4"},
        {"from semicolon", {.from = "a@b; DROP TABLE messages; --"}, 0, NULL},
        {"to", {.to = "bob@example.net"}, 1, "S1"},
        {"to second", {.to = "second@example.org"}, 5, "S5"},
        {"to injection", {.to = "\") OR 1=1 --"}, 0, NULL},
        {"client", {.client = "192.0.2.7"}, 2, "S4"},
        {"client v6", {.client = "2001:db8::1"}, 1, "S5"},
        {"qid", {.qid = "S2"}, 1, "S2"},
        {"qid star", {.qid = "*"}, 0, NULL},
        {"message-id bare", {.message_id = "one@example.org"}, 1, "S1"},
        {"message-id angled", {.message_id = "<one@example.org>"}, 1, "S1"},
        {"message-id quote", {.message_id = "<'\"@x>"}, 1, "S2"},
        {"since", {.since = 1}, 5, "S5"},
        {"since recent", {.since = 0}, 5, "S5"},
        {"until", {.until = 1}, 0, NULL},
        {"limit", {.limit = 2}, 2, "S5"},
        {"two filters", {.client = "192.0.2.7", .from = "alice@example.org"}, 0, NULL},
    };

    assert_non_null(t);
    note_arrival(t, "S1", "alice@example.org", "bob@example.net", "192.0.2.1", "<one@example.org>",
                 base + 1);
    note_arrival(t, "S2", "o'brien@example.org", "c@example.net", "192.0.2.2", "<'\"@x>", base + 2);
    note_arrival(t, "S3", "%@example.org", "d@example.net", "192.0.2.7", NULL, base + 3);
    note_arrival(t, "S4", "", "e@example.net", "192.0.2.7", NULL, base + 4);
    note_arrival(t, "S5", "x@example.org", "f@example.net", "2001:db8::1", NULL, base + 5);
    track_close(t);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct collected c;
        int n;

        n = search(f->path, &rows[i].q, &c);
        if (n != rows[i].want)
            fail_msg("%s: %d found, %d expected", rows[i].name, n, rows[i].want);
        if (rows[i].first != NULL)
            assert_string_equal(c.qids[0], rows[i].first);
    }
    /* A time window in the past, and one around the messages. */
    {
        struct track_query q = {.since = base + 2, .until = base + 4};
        struct collected c;

        assert_int_equal(search(f->path, &q, &c), 2);
        assert_string_equal(c.qids[0], "S3");
        assert_string_equal(c.qids[1], "S2");
    }
}

/* The sweep deletes messages older than keep, with their recipients and events. */
static void
test_sweep(void **state)
{
    struct fixture *f = *state;
    struct track_params p = {.keep = 86400, .no_writer = true};
    struct track_event ev = {.kind = TRACK_ATTEMPT,
                             .qid = "OLD",
                             .rcpt = "b@example.org",
                             .status = "sent",
                             .detail = "250 ok"};
    struct track_query q = {0};
    struct collected c;
    char err[256], qid[16];
    struct track *t = track_sqlite_open(f->path, TRACK_OPEN_WRITE, &p, err, sizeof err);
    int64_t old = now_us() - 2 * 86400 * 1000000LL;

    assert_non_null(t);
    note_arrival(t, "OLD", "a@example.org", "b@example.org", "192.0.2.1", NULL, old);
    track_note(t, &ev);
    /* More than one sweep batch of old messages. */
    for (int i = 0; i < TRACK_SWEEP_BATCH + 10; i++) {
        (void)snprintf(qid, sizeof qid, "O%d", i);
        note_arrival(t, qid, "a@example.org", "b@example.org", "192.0.2.1", NULL, old + i);
    }
    note_arrival(t, "NEW", "a@example.org", "b@example.org", "192.0.2.1", NULL, now_us());
    track_flush(t); /* written, then swept (the sweep of the start is due) */
    track_close(t);
    assert_int_equal(search(f->path, &q, &c), 1);
    assert_string_equal(c.qids[0], "NEW");
    /* Nothing of the old messages is left behind. */
    {
        sqlite3 *db;
        sqlite3_stmt *st;

        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT (SELECT count(*) FROM events WHERE qid <> "
                                            "'NEW') + (SELECT count(*) FROM recipients WHERE qid "
                                            "<> 'NEW')",
                                            -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
}

/* The file deleted under the writer: recreated, the next events land in the new one. */
static void
test_deleted(void **state)
{
    struct fixture *f = *state;
    struct track_params p = {.no_writer = true};
    struct track_stats st;
    struct track_query q = {0};
    struct collected c;
    char err[256];
    struct track *t = track_sqlite_open(f->path, TRACK_OPEN_WRITE, &p, err, sizeof err);

    assert_non_null(t);
    note_arrival(t, "D1", "a@example.org", "b@example.org", "192.0.2.1", NULL, now_us());
    track_flush(t);
    assert_int_equal(unlink(f->path), 0);
    note_arrival(t, "D2", "a@example.org", "b@example.org", "192.0.2.1", NULL, now_us());
    track_flush(t);
    track_stats(t, &st);
    assert_int_equal(st.written, 2);
    assert_int_equal(st.faults, 1);
    track_close(t);
    assert_int_equal(search(f->path, &q, &c), 1);
    assert_string_equal(c.qids[0], "D2");
}

/* Garbage over the file: moved aside, recreated. */
static void
test_corrupt(void **state)
{
    struct fixture *f = *state;
    struct track_params p = {.no_writer = true};
    struct track_query q = {0};
    struct collected c;
    char err[256];
    FILE *fp;
    struct track *t = track_sqlite_open(f->path, TRACK_OPEN_WRITE, &p, err, sizeof err);

    assert_non_null(t);
    note_arrival(t, "C1", "a@example.org", "b@example.org", "192.0.2.1", NULL, now_us());
    track_flush(t);
    fp = fopen(f->path, "r+");
    assert_non_null(fp);
    assert_int_equal(fputs("this is not a database at all", fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    note_arrival(t, "C2", "a@example.org", "b@example.org", "192.0.2.1", NULL, now_us());
    track_flush(t);
    track_close(t);
    assert_int_equal(search(f->path, &q, &c), 1);
    assert_string_equal(c.qids[0], "C2");
}

/*
 * A reader in another process (the command line) closes its connection
 * while the writer runs: the WAL must stay, and what is written after must
 * be found. (The writer once dropped its own locks by closing a descriptor
 * of the file, and the reader's close then deleted the WAL under it.)
 */
static void
test_reader_in_another_process(void **state)
{
    struct fixture *f = *state;
    struct track_query q = {0};
    struct collected c;
    char err[256], wal[128];
    struct track *t = track_sqlite_open(f->path, TRACK_OPEN_WRITE, NULL, err, sizeof err);
    pid_t pid;
    int status;

    assert_non_null(t);
    note_arrival(t, "P1", "a@example.org", "b@example.org", "192.0.2.1", NULL, now_us());
    track_flush(t);
    note_arrival(t, "P2", "a@example.org", "b@example.org", "192.0.2.1", NULL, now_us() + 1);
    track_flush(t); /* a second batch: the writer has looked at the file's header again */
    pid = fork();
    assert_true(pid != -1);
    if (pid == 0) {
        /* A process of its own (a fork would share this one's SQLite state): Python's sqlite3. */
        (void)execl("/usr/bin/python3", "python3", "-c",
                    "import sqlite3, sys\n"
                    "c = sqlite3.connect(sys.argv[1])\n"
                    "n = c.execute('SELECT count(*) FROM messages').fetchone()[0]\n"
                    "c.close()\n"
                    "sys.exit(0 if n == 2 else 1)\n",
                    f->path, (char *)NULL);
        _exit(2);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    (void)snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_int_equal(access(wal, F_OK), 0);
    note_arrival(t, "P3", "a@example.org", "b@example.org", "192.0.2.1", NULL, now_us() + 2);
    track_flush(t);
    assert_int_equal(search(f->path, &q, &c), 3);
    track_close(t);
    assert_int_equal(search(f->path, &q, &c), 3);
}

/* The command line's open: a missing file and a foreign database are refused. */
static void
test_open_read(void **state)
{
    struct fixture *f = *state;
    char err[512];
    sqlite3 *db;

    assert_null(track_sqlite_open(f->path, TRACK_OPEN_READ, NULL, err, sizeof err));
    assert_non_null(strstr(err, "no tracking database"));
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE other (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(track_sqlite_open(f->path, TRACK_OPEN_READ, NULL, err, sizeof err));
    assert_non_null(strstr(err, "not a tracking database"));
}

/* Long values are cut: a Subject at TRACK_SUBJECT_MAX octets, other text at TRACK_TEXT_MAX. */
static void
test_caps(void **state)
{
    struct fixture *f = *state;
    char err[256], subject[1000], detail[5000];
    struct track *t = track_sqlite_open(f->path, TRACK_OPEN_WRITE, NULL, err, sizeof err);
    struct track_event ev = {
        .kind = TRACK_REJECTED, .qid = "L1", .subject = subject, .detail = detail};
    sqlite3 *db;
    sqlite3_stmt *st;

    assert_non_null(t);
    memset(subject, 's', sizeof subject - 1);
    subject[sizeof subject - 1] = '\0';
    memset(detail, 'd', sizeof detail - 1);
    detail[sizeof detail - 1] = '\0';
    track_note(t, &ev);
    track_close(t);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT length(subject), (SELECT length(detail) FROM "
                                        "events WHERE qid = 'L1'), status FROM messages",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), TRACK_SUBJECT_MAX);
    assert_int_equal(sqlite3_column_int(st, 1), TRACK_TEXT_MAX);
    assert_string_equal((const char *)sqlite3_column_text(st, 2), "rejected");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ring_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batching, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_in_another_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
