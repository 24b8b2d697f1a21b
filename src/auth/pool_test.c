/* SPDX-License-Identifier: MIT */
/*
 * Tests for the check pool (pool.c) on a real event base: many checks in
 * flight with right, wrong and unknown-user passwords, each answered once,
 * on the loop's thread and never from inside auth_check_start; cancel of a
 * queued check, of one a worker is computing (seen through the check's
 * state) and of one whose result waits for the loop; the cap on pending
 * checks (EAGAIN); a db dropped by its owner while checks on it run; and
 * auth_pool_free with checks queued and running. ASan makes any touch of a
 * freed check fail.
 */
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "auth/auth.h"
#include "auth/auth_impl.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define MANY     120

struct fixture {
    struct event_base *base;
    struct auth_db *fast; /* alice: yescrypt at its lowest cost */
    struct auth_db *slow; /* alice: bcrypt cost 12, a quarter of a second */
};

static pthread_t loop_thread;
static bool in_start;

struct result {
    unsigned calls;
    bool ok;
    enum auth_verdict verdict;
};

static void
on_done(void *arg, enum auth_verdict verdict)
{
    struct result *r = arg;

    /* On the loop's thread, and not from inside auth_check_start. */
    assert_true(pthread_equal(pthread_self(), loop_thread));
    assert_false(in_start);
    r->calls++;
    r->ok = verdict == AUTH_VERDICT_OK;
    r->verdict = verdict;
}

static void
never_called(void *arg, enum auth_verdict verdict)
{
    (void)arg;
    (void)verdict;
    fail_msg("the callback of a cancelled check ran");
}

/* A db of alice (her password pass, her entry locked when lock) and bob (password "right"). */
static struct auth_db *db_with_lock(const char *prefix, unsigned long count, const char *pass,
                                    bool lock);

static struct auth_db *
db_with(const char *prefix, unsigned long count, const char *pass)
{
    return db_with_lock(prefix, count, pass, false);
}

static struct auth_db *
db_with_lock(const char *prefix, unsigned long count, const char *pass, bool lock)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE], text[512], err[256];
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    struct auth_db *db;
    const char *h;

    assert_non_null(cd);
    assert_non_null(crypt_gensalt_rn(prefix, count, NULL, 0, setting, sizeof(setting)));
    h = crypt_rn(pass, setting, cd, sizeof(*cd));
    assert_true(h != NULL && h[0] == '$');
    (void)snprintf(text, sizeof(text), "# test\nalice:%s%s\nbob:%s\n", lock ? "!" : "", h, h);
    free(cd);
    db = auth_db_load_text("pw", text, strlen(text), err, sizeof(err));
    if (db == NULL)
        fail_msg("%s", err);
    return db;
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    loop_thread = pthread_self();
    f->base = event_base_new();
    assert_non_null(f->base);
    f->fast = db_with("$y$", 1, "right");
    f->slow = db_with("$2b$", 12, "right");
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    auth_db_unref(f->fast);
    auth_db_unref(f->slow);
    event_base_free(f->base);
    free(f);
    return 0;
}

static struct auth_check *
start(struct auth_pool *pool, struct auth_db *db, const char *user, const char *pass,
      auth_done_fn *fn, void *arg)
{
    struct auth_check *c;

    in_start = true;
    c = auth_check_start(pool, db, user, pass, strlen(pass), fn, arg);
    in_start = false;
    return c;
}

/* Runs the loop until *calls reaches want, for at most 60 s. */
static void
run_until(struct event_base *base, const unsigned *calls, unsigned want)
{
    time_t deadline = time(NULL) + 60;

    while (*calls < want) {
        if (time(NULL) > deadline)
            fail_msg("timed out: %u of %u callbacks", *calls, want);
        assert_int_not_equal(event_base_loop(base, EVLOOP_ONCE), -1);
    }
}

static unsigned
pending(struct auth_pool *pool)
{
    unsigned n;

    pthread_mutex_lock(&pool->lock);
    n = pool->pending;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

static enum auth_check_state
state_of(struct auth_check *c)
{
    enum auth_check_state st;

    pthread_mutex_lock(&c->pool->lock);
    st = c->state;
    pthread_mutex_unlock(&c->pool->lock);
    return st;
}

static void
wait_state(struct auth_check *c, enum auth_check_state want)
{
    for (int i = 0; i < 60000 && state_of(c) != want; i++)
        usleep(1000);
    assert_int_equal(state_of(c), want);
}

/* Runs the loop until every result handed back has been delivered. */
static void
drain(struct auth_pool *pool)
{
    for (;;) {
        bool idle;

        pthread_mutex_lock(&pool->lock);
        idle = pool->pending == 0 && pool->done == NULL;
        pthread_mutex_unlock(&pool->lock);
        if (idle)
            return;
        assert_int_not_equal(event_base_loop(pool->base, EVLOOP_ONCE), -1);
    }
}

static const struct {
    const char *user;
    const char *pass;
    bool ok;
} rows[] = {
    {"alice", "right", true},   {"alice", "wrong", false}, {"nobody", "right", false},
    {"alice", "", false},       {"", "right", false},      {"alice", "Right", false},
    {"alice:", "right", false}, {"ALICE", "right", false},
};

static void
test_many_in_flight(void **state)
{
    struct fixture *f = *state;
    struct auth_pool *pool = auth_pool_new(f->base, 2);
    struct result res[MANY];
    unsigned done = 0;

    assert_non_null(pool);
    memset(res, 0, sizeof(res));
    for (size_t i = 0; i < MANY; i++) {
        const size_t r = i % COUNT(rows);

        assert_non_null(start(pool, f->fast, rows[r].user, rows[r].pass, on_done, &res[i]));
    }
    assert_int_equal(pending(pool) <= MANY, 1);
    /* Nothing is answered before the loop runs. */
    for (size_t i = 0; i < MANY; i++)
        assert_int_equal(res[i].calls, 0);
    for (time_t deadline = time(NULL) + 60; done < MANY;) {
        assert_true(time(NULL) <= deadline);
        assert_int_not_equal(event_base_loop(f->base, EVLOOP_ONCE), -1);
        done = 0;
        for (size_t i = 0; i < MANY; i++)
            done += res[i].calls;
    }
    for (size_t i = 0; i < MANY; i++) {
        assert_int_equal(res[i].calls, 1);
        if (res[i].ok != rows[i % COUNT(rows)].ok)
            fail_msg("check %zu (%s/%s): want %d", i, rows[i % COUNT(rows)].user,
                     rows[i % COUNT(rows)].pass, rows[i % COUNT(rows)].ok);
    }
    assert_int_equal(pending(pool), 0);
    auth_pool_free(pool);
}

static void
test_cancel_queued_running_done(void **state)
{
    struct fixture *f = *state;
    struct auth_pool *pool = auth_pool_new(f->base, 1);
    struct auth_check *running, *queued, *done_one;
    struct result after = {0};

    assert_non_null(pool);
    /* One worker: the first check runs, the second waits behind it. */
    running = start(pool, f->slow, "alice", "right", never_called, NULL);
    queued = start(pool, f->slow, "alice", "right", never_called, NULL);
    assert_non_null(running);
    assert_non_null(queued);
    wait_state(running, AUTH_CHECK_RUNNING);
    assert_int_equal(state_of(queued), AUTH_CHECK_QUEUED);
    assert_int_equal(pending(pool), 2);

    /* Queued: gone at once. Running: the worker finishes, the loop drops it. */
    auth_check_cancel(queued);
    assert_int_equal(pending(pool), 1);
    auth_check_cancel(running);
    auth_check_cancel(NULL);

    /* Done but not yet reported to the loop. */
    done_one = start(pool, f->fast, "alice", "right", never_called, NULL);
    assert_non_null(done_one);
    wait_state(done_one, AUTH_CHECK_DONE);
    auth_check_cancel(done_one);

    /* A later check is still answered, after all of them. */
    assert_non_null(start(pool, f->fast, "alice", "right", on_done, &after));
    run_until(f->base, &after.calls, 1);
    assert_true(after.ok);
    drain(pool);
    assert_int_equal(after.calls, 1);
    auth_pool_free(pool);
}

/* Cancels every check at once, whatever state each is in. */
static void
test_cancel_storm(void **state)
{
    struct fixture *f = *state;
    struct auth_pool *pool = auth_pool_new(f->base, 2);
    struct auth_check *c[64];
    struct result kept[64];

    assert_non_null(pool);
    memset(kept, 0, sizeof(kept));
    for (size_t i = 0; i < COUNT(c); i++) {
        c[i] = start(pool, f->fast, "alice", i % 2 ? "right" : "wrong",
                     i % 3 ? never_called : on_done, &kept[i]);
        assert_non_null(c[i]);
    }
    usleep(2000);
    for (size_t i = 0; i < COUNT(c); i++) {
        if (i % 3)
            auth_check_cancel(c[i]);
    }
    drain(pool);
    for (size_t i = 0; i < COUNT(c); i++) {
        assert_int_equal(kept[i].calls, i % 3 ? 0 : 1);
        if (i % 3 == 0)
            assert_int_equal(kept[i].ok, i % 2 == 1);
    }
    auth_pool_free(pool);
}

static void
test_pending_cap(void **state)
{
    struct fixture *f = *state;
    struct auth_pool *pool = auth_pool_new(f->base, 1);
    struct auth_check *c[AUTH_POOL_MAX_PENDING];
    struct result res = {0};

    assert_non_null(pool);
    for (size_t i = 0; i < COUNT(c); i++) {
        c[i] = start(pool, f->slow, "alice", "right", never_called, NULL);
        assert_non_null(c[i]);
    }
    errno = 0;
    assert_null(start(pool, f->slow, "alice", "right", never_called, NULL));
    assert_int_equal(errno, EAGAIN);
    /* Room again once one leaves the queue. */
    auth_check_cancel(c[COUNT(c) - 1]);
    c[COUNT(c) - 1] = start(pool, f->fast, "alice", "right", never_called, NULL);
    assert_non_null(c[COUNT(c) - 1]);
    assert_null(start(pool, f->fast, "alice", "right", never_called, NULL));
    for (size_t i = 0; i < COUNT(c); i++)
        auth_check_cancel(c[i]);
    assert_non_null(start(pool, f->fast, "alice", "right", on_done, &res));
    run_until(f->base, &res.calls, 1);
    assert_true(res.ok);
    drain(pool);
    auth_pool_free(pool);
}

/* A reload drops the daemon's reference while checks on the old db run. */
static void
test_db_swapped_while_checking(void **state)
{
    struct fixture *f = *state;
    struct auth_pool *pool = auth_pool_new(f->base, 2);
    struct auth_db *old = db_with("$y$", 1, "old");
    struct result res[6];
    unsigned calls = 0;

    assert_non_null(pool);
    memset(res, 0, sizeof(res));
    for (size_t i = 0; i < COUNT(res); i++)
        assert_non_null(start(pool, old, "alice", i % 2 ? "old" : "new", on_done, &res[i]));
    auth_db_unref(old);
    while (calls < COUNT(res)) {
        assert_int_not_equal(event_base_loop(f->base, EVLOOP_ONCE), -1);
        calls = 0;
        for (size_t i = 0; i < COUNT(res); i++)
            calls += res[i].calls;
    }
    for (size_t i = 0; i < COUNT(res); i++)
        assert_int_equal(res[i].ok, i % 2 == 1);
    auth_pool_free(pool);
}

/* The verdict of a locked user comes back as such, whatever the password. */
static void
test_locked_verdict(void **state)
{
    struct fixture *f = *state;
    struct auth_pool *pool = auth_pool_new(f->base, 2);
    struct auth_db *db = db_with_lock("$y$", 1, "right", true);
    struct result res[3];

    assert_non_null(pool);
    memset(res, 0, sizeof(res));
    assert_non_null(start(pool, db, "alice", "right", on_done, &res[0]));
    assert_non_null(start(pool, db, "alice", "wrong", on_done, &res[1]));
    assert_non_null(start(pool, db, "bob", "right", on_done, &res[2]));
    auth_db_unref(db);
    run_until(f->base, &res[0].calls, 1);
    run_until(f->base, &res[1].calls, 1);
    run_until(f->base, &res[2].calls, 1);
    assert_int_equal(res[0].verdict, AUTH_VERDICT_LOCKED);
    assert_int_equal(res[1].verdict, AUTH_VERDICT_LOCKED);
    assert_int_equal(res[2].verdict, AUTH_VERDICT_OK);
    drain(pool);
    auth_pool_free(pool);
}

/* Freeing the pool with checks queued, running and done frees them all, silently. */
static void
test_free_with_checks(void **state)
{
    struct fixture *f = *state;
    struct auth_pool *pool = auth_pool_new(f->base, 2);
    struct auth_check *first;

    assert_non_null(pool);
    first = start(pool, f->fast, "alice", "right", never_called, NULL);
    assert_non_null(first);
    wait_state(first, AUTH_CHECK_DONE);
    for (int i = 0; i < 20; i++)
        assert_non_null(start(pool, f->slow, "alice", "right", never_called, NULL));
    usleep(1000);
    auth_pool_free(pool);
    auth_pool_free(NULL);
    /* The loop has nothing left of the pool. */
    assert_int_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), 1);
}

static void
test_thread_counts(void **state)
{
    struct fixture *f = *state;
    struct auth_pool *pool = auth_pool_new(f->base, 0);
    struct result res = {0};

    assert_non_null(pool);
    assert_int_equal(pool->n_threads, 2);
    auth_pool_free(pool);
    pool = auth_pool_new(f->base, 1000);
    assert_non_null(pool);
    assert_int_equal(pool->n_threads, 64);
    assert_non_null(start(pool, f->fast, "alice", "right", on_done, &res));
    run_until(f->base, &res.calls, 1);
    assert_true(res.ok);
    auth_pool_free(pool);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_many_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_queued_running_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_storm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_swapped_while_checking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_verdict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thread_counts, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
