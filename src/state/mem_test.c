/* SPDX-License-Identifier: MIT */
/*
 * The memory backend of the shared-state store: answers come on the loop's
 * next turn and never inside state_get(), values are copied at the read,
 * time to live, per-namespace caps with the coldest entry going first,
 * cancelled reads, and hostile use (a flood of keys in one namespace does
 * not touch another).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "state/state.h"

static uint64_t fake_now;

static uint64_t
fake_clock(void)
{
    return fake_now;
}

struct got {
    int calls;
    bool found;
    char value[STATE_VALUE_MAX + 1];
    size_t len;
};

static void
got_cb(void *arg, const struct state_answer *a)
{
    struct got *g = arg;

    g->calls++;
    g->found = a->found;
    g->len = a->len;
    if (a->found)
        memcpy(g->value, a->p, a->len);
    g->value[a->found ? a->len : 0] = '\0';
}

struct fixture {
    struct event_base *base;
    struct state *st;
};

static const unsigned char seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static struct fixture
fixture_new(size_t callout_max, size_t login_max)
{
    struct fixture f;
    size_t max[STATE_NS_COUNT] = {[STATE_NS_CALLOUT] = callout_max, [STATE_NS_LOGIN] = login_max};

    fake_now = 1000000;
    f.base = event_base_new();
    assert_non_null(f.base);
    f.st = state_mem_new(f.base, max, seed, fake_clock);
    return f;
}

static void
fixture_free(struct fixture *f)
{
    state_free(f->st);
    event_base_free(f->base);
}

static void
run_loop(struct fixture *f)
{
    assert_int_not_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), -1);
}

/* Looks key up and runs the loop once; returns what came back. */
static struct got
lookup(struct fixture *f, enum state_ns ns, const char *key)
{
    struct got g = {0};

    (void)state_get(f->st, ns, key, strlen(key), got_cb, &g);
    assert_int_equal(g.calls, 0); /* never from inside state_get */
    run_loop(f);
    assert_int_equal(g.calls, 1);
    return g;
}

static void
put(struct fixture *f, enum state_ns ns, const char *key, const char *val, unsigned ttl)
{
    state_put(f->st, ns, key, strlen(key), val, strlen(val), ttl);
}

static void
test_put_get_miss(void **unused)
{
    struct fixture f = fixture_new(10, 10);
    struct got g;

    (void)unused;
    g = lookup(&f, STATE_NS_CALLOUT, "a@example.com");
    assert_false(g.found);
    put(&f, STATE_NS_CALLOUT, "a@example.com", "250 ok", 60);
    g = lookup(&f, STATE_NS_CALLOUT, "a@example.com");
    assert_true(g.found);
    assert_string_equal(g.value, "250 ok");
    /* Keys are exact octets: another case is another key (callers normalise). */
    g = lookup(&f, STATE_NS_CALLOUT, "A@example.com");
    assert_false(g.found);
    /* Namespaces are apart. */
    g = lookup(&f, STATE_NS_LOGIN, "a@example.com");
    assert_false(g.found);
    /* An empty value is a value. */
    put(&f, STATE_NS_LOGIN, "alice|192.0.2.7", "", 60);
    g = lookup(&f, STATE_NS_LOGIN, "alice|192.0.2.7");
    assert_true(g.found);
    assert_int_equal(g.len, 0);
    fixture_free(&f);
}

static void
test_replace_and_delete(void **unused)
{
    struct fixture f = fixture_new(10, 10);
    struct got g;
    struct state_stats s;

    (void)unused;
    put(&f, STATE_NS_CALLOUT, "k", "first", 60);
    put(&f, STATE_NS_CALLOUT, "k", "a longer second value", 60);
    g = lookup(&f, STATE_NS_CALLOUT, "k");
    assert_string_equal(g.value, "a longer second value");
    state_stats(f.st, STATE_NS_CALLOUT, &s);
    assert_int_equal(s.entries, 1);
    state_del(f.st, STATE_NS_CALLOUT, "k", 1);
    state_del(f.st, STATE_NS_CALLOUT, "k", 1); /* twice: nothing */
    state_del(f.st, STATE_NS_CALLOUT, "never", 5);
    g = lookup(&f, STATE_NS_CALLOUT, "k");
    assert_false(g.found);
    state_stats(f.st, STATE_NS_CALLOUT, &s);
    assert_int_equal(s.entries, 0);
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.misses, 1);
    fixture_free(&f);
}

static void
test_ttl(void **unused)
{
    struct fixture f = fixture_new(10, 10);

    (void)unused;
    put(&f, STATE_NS_CALLOUT, "short", "x", 1);
    put(&f, STATE_NS_CALLOUT, "long", "y", 3600);
    fake_now += 999;
    assert_true(lookup(&f, STATE_NS_CALLOUT, "short").found);
    fake_now += 1;
    assert_false(lookup(&f, STATE_NS_CALLOUT, "short").found);
    assert_true(lookup(&f, STATE_NS_CALLOUT, "long").found);
    fake_now += 3600 * 1000;
    assert_false(lookup(&f, STATE_NS_CALLOUT, "long").found);
    /* A put renews the time to live. */
    put(&f, STATE_NS_LOGIN, "u", "", 10);
    fake_now += 9000;
    put(&f, STATE_NS_LOGIN, "u", "", 10);
    fake_now += 9000;
    assert_true(lookup(&f, STATE_NS_LOGIN, "u").found);
    fixture_free(&f);
}

static void
test_value_copied_at_read(void **unused)
{
    struct fixture f = fixture_new(10, 10);
    struct got g = {0};

    (void)unused;
    put(&f, STATE_NS_CALLOUT, "k", "old", 60);
    (void)state_get(f.st, STATE_NS_CALLOUT, "k", 1, got_cb, &g);
    put(&f, STATE_NS_CALLOUT, "k", "new", 60);
    state_del(f.st, STATE_NS_CALLOUT, "k", 1);
    run_loop(&f);
    assert_int_equal(g.calls, 1);
    assert_true(g.found);
    assert_string_equal(g.value, "old");
    fixture_free(&f);
}

static void
test_cancel(void **unused)
{
    struct fixture f = fixture_new(10, 10);
    struct got a = {0}, b = {0}, c = {0};
    struct state_get *ga, *gb, *gc;

    (void)unused;
    ga = state_get(f.st, STATE_NS_CALLOUT, "a", 1, got_cb, &a);
    gb = state_get(f.st, STATE_NS_CALLOUT, "b", 1, got_cb, &b);
    gc = state_get(f.st, STATE_NS_CALLOUT, "c", 1, got_cb, &c);
    assert_non_null(ga);
    assert_non_null(gc);
    state_get_cancel(f.st, gb); /* the middle of the queue */
    state_get_cancel(f.st, NULL);
    run_loop(&f);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 0);
    assert_int_equal(c.calls, 1);
    /* The first and the last of the queue too. */
    ga = state_get(f.st, STATE_NS_CALLOUT, "a", 1, got_cb, &a);
    gb = state_get(f.st, STATE_NS_CALLOUT, "b", 1, got_cb, &b);
    gc = state_get(f.st, STATE_NS_CALLOUT, "c", 1, got_cb, &c);
    state_get_cancel(f.st, ga);
    state_get_cancel(f.st, gc);
    run_loop(&f);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(c.calls, 1);
    /* Reads still queued when the store goes: no callback, no leak. */
    (void)state_get(f.st, STATE_NS_CALLOUT, "a", 1, got_cb, &a);
    fixture_free(&f);
    assert_int_equal(a.calls, 1);
}

/* The least recently used goes first; a read counts as a use. */
static void
test_cap_lru(void **unused)
{
    struct fixture f = fixture_new(3, 10);
    struct state_stats s;

    (void)unused;
    put(&f, STATE_NS_CALLOUT, "1", "", 60);
    put(&f, STATE_NS_CALLOUT, "2", "", 60);
    put(&f, STATE_NS_CALLOUT, "3", "", 60);
    assert_true(lookup(&f, STATE_NS_CALLOUT, "1").found); /* 2 is now the coldest */
    put(&f, STATE_NS_CALLOUT, "4", "", 60);
    assert_false(lookup(&f, STATE_NS_CALLOUT, "2").found);
    assert_true(lookup(&f, STATE_NS_CALLOUT, "1").found);
    assert_true(lookup(&f, STATE_NS_CALLOUT, "3").found);
    assert_true(lookup(&f, STATE_NS_CALLOUT, "4").found);
    state_stats(f.st, STATE_NS_CALLOUT, &s);
    assert_int_equal(s.entries, 3);
    assert_int_equal(s.max_entries, 3);
    assert_int_equal(s.evicted, 1);
    fixture_free(&f);
}

/* Expired facts at the cold end go before live ones, and are not counted as evicted. */
static void
test_cap_expired_first(void **unused)
{
    struct fixture f = fixture_new(2, 10);
    struct state_stats s;

    (void)unused;
    put(&f, STATE_NS_CALLOUT, "old", "", 1);
    put(&f, STATE_NS_CALLOUT, "live", "", 600);
    fake_now += 2000;
    put(&f, STATE_NS_CALLOUT, "new", "", 600);
    assert_true(lookup(&f, STATE_NS_CALLOUT, "live").found);
    assert_true(lookup(&f, STATE_NS_CALLOUT, "new").found);
    state_stats(f.st, STATE_NS_CALLOUT, &s);
    assert_int_equal(s.evicted, 0);
    assert_int_equal(s.entries, 2);
    fixture_free(&f);
}

/* Hostile: a dictionary attack fills the callout namespace; the logins stay. */
static void
test_flood_stays_in_its_namespace(void **unused)
{
    struct fixture f = fixture_new(1000, 10);
    struct state_stats s;
    char key[64];

    (void)unused;
    put(&f, STATE_NS_LOGIN, "alice|192.0.2.0/24", "", 30 * 86400);
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(key, sizeof key, "user%d@example.com", i);

        state_put(f.st, STATE_NS_CALLOUT, key, (size_t)n, "550", 3, 3600);
    }
    state_stats(f.st, STATE_NS_CALLOUT, &s);
    assert_int_equal(s.entries, 1000);
    assert_int_equal(s.evicted, 100000 - 1000);
    assert_true(lookup(&f, STATE_NS_LOGIN, "alice|192.0.2.0/24").found);
    assert_true(lookup(&f, STATE_NS_CALLOUT, "user99999@example.com").found);
    assert_false(lookup(&f, STATE_NS_CALLOUT, "user0@example.com").found);
    fixture_free(&f);
}

/* Keys and values at their caps, and binary octets in both. */
static void
test_caps_and_binary(void **unused)
{
    struct fixture f = fixture_new(10, 10);
    unsigned char key[STATE_KEY_MAX], val[STATE_VALUE_MAX];
    struct got g = {0};

    (void)unused;
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (unsigned char)(i * 7);
    for (size_t i = 0; i < sizeof val; i++)
        val[i] = (unsigned char)(255 - i);
    state_put(f.st, STATE_NS_CALLOUT, key, sizeof key, val, sizeof val, STATE_TTL_MAX);
    (void)state_get(f.st, STATE_NS_CALLOUT, key, sizeof key, got_cb, &g);
    run_loop(&f);
    assert_true(g.found);
    assert_int_equal(g.len, sizeof val);
    assert_memory_equal(g.value, val, sizeof val);
    /* A key one octet shorter is another key. */
    g.calls = 0;
    (void)state_get(f.st, STATE_NS_CALLOUT, key, sizeof key - 1, got_cb, &g);
    run_loop(&f);
    assert_false(g.found);
    fixture_free(&f);
}

/* A callback may read again; that answer comes too, never inside state_get. */
struct chain {
    struct fixture *f;
    struct got second;
    int calls;
};

static void
chain_cb(void *arg, const struct state_answer *a)
{
    struct chain *c = arg;

    (void)a;
    c->calls++;
    (void)state_get(c->f->st, STATE_NS_CALLOUT, "k", 1, got_cb, &c->second);
    assert_int_equal(c->second.calls, 0);
}

static void
test_read_from_callback(void **unused)
{
    struct fixture f = fixture_new(10, 10);
    struct chain c = {.f = &f};

    (void)unused;
    put(&f, STATE_NS_CALLOUT, "k", "v", 60);
    (void)state_get(f.st, STATE_NS_CALLOUT, "k", 1, chain_cb, &c);
    run_loop(&f);
    run_loop(&f);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.second.calls, 1);
    assert_string_equal(c.second.value, "v");
    fixture_free(&f);
}

static void
test_ns_names(void **unused)
{
    (void)unused;
    assert_string_equal(state_ns_name(STATE_NS_CALLOUT), "callout");
    assert_string_equal(state_ns_name(STATE_NS_LOGIN), "login");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_miss),
        cmocka_unit_test(test_replace_and_delete),
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_value_copied_at_read),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_cap_lru),
        cmocka_unit_test(test_cap_expired_first),
        cmocka_unit_test(test_flood_stays_in_its_namespace),
        cmocka_unit_test(test_caps_and_binary),
        cmocka_unit_test(test_read_from_callback),
        cmocka_unit_test(test_ns_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
