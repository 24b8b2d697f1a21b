/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for limit.c. Scripts of steps (operation, key, time in ms,
 * expected answer) run against a fresh table each: rates, failures with
 * doubling lockouts, held counts, eviction when full. Hostile rows: time
 * going backwards, times near the end of uint64_t, a full table, keys that
 * collide (in a bucket, or as bytes of different kinds), huge limits. The
 * hash is checked against the SipHash paper's vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "policy/limit.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define END     UINT64_MAX

enum op {
    STOP,
    TAKE,    /* limit_rate_take: want 1 or 0 */
    PEEK,    /* limit_rate_peek */
    FAIL,    /* limit_fail_note: want the lock end or 0 */
    LOCKED,  /* limit_locked_until */
    CLEAR,   /* limit_fail_clear: want ignored */
    FORGET,  /* limit_fail_forget: want an enum limit_forgot */
    ACQ,     /* limit_acquire: want 1 or 0 */
    REL,     /* limit_release: want 1 or 0 */
    HELD,    /* limit_held */
    ENTRIES, /* stats: entries */
    EVICTED, /* stats: evicted */
    EV_LOCK, /* stats: evicted_locked */
    REFUSED, /* stats: refused */
};

struct step {
    enum op op;
    const char *key; /* a user-name key */
    uint64_t now;
    uint64_t want;
};

struct script {
    const char *name;
    size_t max_entries;
    struct limit_rate rate;
    struct limit_fail_rule fail;
    uint32_t held_max;
    struct step steps[40];
};

static const unsigned char seed[16] = "0123456789abcdef";

static const struct script scripts[] = {
    {"rate 3 per 10s",
     16,
     {3, 10},
     {0},
     0,
     {{TAKE, "a", 0, 1},
      {TAKE, "a", 1, 1},
      {PEEK, "a", 2, 1},
      {TAKE, "a", 2, 1},
      {PEEK, "a", 3, 0},
      {TAKE, "a", 3, 0},
      {TAKE, "b", 3, 1}, /* another key has its own count */
      /* the next period: all three still inside the sliding window */
      {TAKE, "a", 10000, 0},
      /* half-way: 3 * 1/2 rounds up to 2, so one more */
      {TAKE, "a", 15000, 1},
      {TAKE, "a", 15001, 0},
      {TAKE, "a", 20000, 1},
      /* two periods with nothing: everything forgotten */
      {TAKE, "a", 40000, 1},
      {TAKE, "a", 40000, 1},
      {TAKE, "a", 40000, 1},
      {TAKE, "a", 40000, 0},
      {ENTRIES, NULL, 0, 2},
      {STOP}}},
    {"rate off stores nothing",
     16,
     {0, 60},
     {0},
     0,
     {{TAKE, "a", 0, 1}, {TAKE, "a", 0, 1}, {PEEK, "a", 0, 1}, {ENTRIES, NULL, 0, 0}, {STOP}}},
    {"rate: peek counts nothing",
     16,
     {1, 60},
     {0},
     0,
     {{PEEK, "a", 0, 1},
      {PEEK, "a", 0, 1},
      {ENTRIES, NULL, 0, 0},
      {TAKE, "a", 0, 1},
      {PEEK, "a", 0, 0},
      {STOP}}},
    {"hostile: time goes backwards",
     16,
     {2, 10},
     {0},
     0,
     {{TAKE, "a", 100000, 1},
      {TAKE, "a", 100000, 1},
      {TAKE, "a", 50, 0}, /* no window reopens */
      {TAKE, "a", 0, 0},
      {TAKE, "a", 100001, 0},
      {TAKE, "a", 120000, 1},
      {STOP}}},
    {"hostile: the end of time",
     16,
     {2, 86400},
     {3, 60, 86400, 86400, 86400},
     0,
     {{TAKE, "a", END - 5, 1},
      {TAKE, "a", END - 4, 1},
      {TAKE, "a", END, 0},
      {FAIL, "b", END - 3, 0},
      {FAIL, "b", END - 2, 0},
      {FAIL, "b", END - 1, END}, /* the lock end saturates */
      {LOCKED, "b", END - 1, END},
      {STOP}}},
    {"hostile: huge limit",
     16,
     {UINT32_MAX, 1},
     {UINT32_MAX, 86400, 1, 1, 1},
     0,
     {{TAKE, "a", 0, 1},
      {TAKE, "a", 0, 1},
      {FAIL, "a", 0, 0},
      {FAIL, "a", 0, 0},
      {LOCKED, "a", 0, 0},
      {STOP}}},
    {"failures lock, doubling to the cap",
     16,
     {0, 1},
     {3, 60, 10, 35, 100},
     0,
     {{FAIL, "a", 0, 0},
      {FAIL, "a", 1, 0},
      {LOCKED, "a", 1, 0},
      {FAIL, "a", 2, 10002}, /* the 3rd: locked for 10s */
      {LOCKED, "a", 5000, 10002},
      {FAIL, "a", 6000, 10002}, /* while locked: neither counted nor lengthened */
      {LOCKED, "b", 6000, 0},   /* another key is not locked */
      {LOCKED, "a", 10002, 0},
      {FAIL, "a", 11000, 0},
      {FAIL, "a", 11001, 0},
      {FAIL, "a", 11002, 31002}, /* the 2nd lock: 20s */
      {FAIL, "a", 32000, 0},
      {FAIL, "a", 32001, 0},
      {FAIL, "a", 32002, 67002}, /* the 3rd: 40s, capped at 35s */
      {FAIL, "a", 70000, 0},
      {FAIL, "a", 70001, 0},
      {FAIL, "a", 70002, 105002}, /* the 4th: the cap again */
      /* quiet for the forget period after the lock: back to the first lockout */
      {FAIL, "a", 205002, 0},
      {FAIL, "a", 205003, 0},
      {FAIL, "a", 205004, 215004},
      {STOP}}},
    {"failures: the window slides",
     16,
     {0, 1},
     {3, 10, 60, 60, 60},
     0,
     {{FAIL, "a", 0, 0},
      {FAIL, "a", 1000, 0},
      {FAIL, "a", 25000, 0}, /* the first two have left the window */
      {FAIL, "a", 26000, 0},
      {FAIL, "a", 27000, 87000},
      {STOP}}},
    {"failures: clear forgets the count, not the lock",
     16,
     {0, 1},
     {3, 60, 60, 3600, 60},
     0,
     {{FAIL, "a", 0, 0},
      {FAIL, "a", 1, 0},
      {CLEAR, "a", 2, 0},
      {FAIL, "a", 3, 0},
      {FAIL, "a", 4, 0},
      {FAIL, "a", 5, 60005},
      {CLEAR, "a", 6, 0},
      {LOCKED, "a", 7, 60005},
      {CLEAR, "nobody", 8, 0},
      {ENTRIES, NULL, 0, 1},
      {STOP}}},
    {"failures: forget ends the lock and the doubling",
     16,
     {0, 1},
     {2, 60, 10, 3600, 3600},
     0,
     {{FORGET, "a", 0, LIMIT_FORGOT_NOTHING}, /* never seen */
      {ENTRIES, NULL, 0, 0},                  /* and nothing made for it */
      {FAIL, "a", 1, 0},
      {FORGET, "a", 2, LIMIT_FORGOT_FAILURES},
      {ENTRIES, NULL, 0, 0},
      {FAIL, "a", 3, 0}, /* counted from zero again */
      {FAIL, "a", 4, 10004},
      {FORGET, "a", 5, LIMIT_FORGOT_LOCK},
      {LOCKED, "a", 6, 0},
      {FAIL, "a", 7, 0},
      {FAIL, "a", 8, 10008}, /* a first lock again (10s), not the doubled 20s */
      {FORGET, "a", 20000, LIMIT_FORGOT_NOTHING}, /* the lock is over by itself */
      {FAIL, "a", 20001, 0},
      {FAIL, "a", 20002, 30002}, /* the doubling was forgotten too */
      {FORGET, "b", 20003, LIMIT_FORGOT_NOTHING},
      {FAIL, "c", 20004, 0},
      {FORGET, "c", 200000, LIMIT_FORGOT_NOTHING}, /* its window is long over */
      {ENTRIES, NULL, 0, 1},                       /* only a's */
      {STOP}}},
    {"held: at most 2",
     16,
     {0, 1},
     {0},
     2,
     {{ACQ, "a", 0, 1},
      {ACQ, "a", 0, 1},
      {ACQ, "a", 0, 0},
      {HELD, "a", 0, 2},
      {ACQ, "b", 0, 1},
      {REL, "a", 0, 1},
      {ACQ, "a", 0, 1},
      {REL, "a", 0, 1},
      {REL, "a", 0, 1},
      {REL, "a", 0, 0}, /* hostile: more releases than acquires */
      {REL, "nobody", 0, 0},
      {HELD, "a", 0, 0},
      {ENTRIES, NULL, 0, 1}, /* a's entry went with its last release */
      {STOP}}},
    {"held: max 0 holds nothing",
     16,
     {0, 1},
     {0},
     0,
     {{ACQ, "a", 0, 0}, {ENTRIES, NULL, 0, 0}, {STOP}}},
    {"full: the least recently used goes",
     3,
     {1, 60},
     {0},
     0,
     {{TAKE, "a", 0, 1},
      {TAKE, "b", 1, 1},
      {TAKE, "c", 2, 1},
      {TAKE, "a", 3, 0}, /* a is now the most recently used */
      {TAKE, "d", 4, 1}, /* evicts b */
      {TAKE, "c", 5, 0},
      {TAKE, "a", 6, 0},
      {TAKE, "b", 7, 1}, /* forgotten: the price of a capped table */
      {ENTRIES, NULL, 0, 3},
      {EVICTED, NULL, 0, 2},
      {EV_LOCK, NULL, 0, 0},
      {STOP}}},
    {"full: plain entries go before locked ones",
     2,
     {0, 1},
     {2, 60, 60, 60, 60},
     0,
     {{FAIL, "x", 0, 0},
      {FAIL, "x", 1, 60001},
      {FAIL, "y", 2, 0},
      {FAIL, "z", 3, 0}, /* evicts y, though x is older */
      {LOCKED, "x", 4, 60001},
      {FAIL, "w", 5, 0}, /* evicts z */
      {FAIL, "w", 6, 60006},
      {FAIL, "v", 7, 0}, /* all locked: the oldest lock goes */
      {LOCKED, "x", 8, 0},
      {LOCKED, "w", 8, 60006},
      {EVICTED, NULL, 0, 3},
      {EV_LOCK, NULL, 0, 1},
      {STOP}}},
    {"full: run-out entries go first",
     2,
     {1, 60},
     {1, 60, 1, 1, 1},
     0,
     {{FAIL, "x", 0, 1000}, /* locked 1s, remembered 1s more */
      {TAKE, "p", 5000, 1},
      {TAKE, "q", 5001, 1}, /* x has run out: it goes, not p */
      {TAKE, "p", 5002, 0},
      {EV_LOCK, NULL, 0, 0},
      {STOP}}},
    {"full: held entries never go",
     2,
     {0, 1},
     {0},
     5,
     {{ACQ, "a", 0, 1},
      {ACQ, "b", 0, 1},
      {ACQ, "c", 1, 0}, /* refused, not evicted */
      {HELD, "a", 1, 1},
      {HELD, "b", 1, 1},
      {REFUSED, NULL, 0, 1},
      {REL, "a", 2, 1},
      {ACQ, "c", 3, 1},
      {ENTRIES, NULL, 0, 2},
      {STOP}}},
};

static uint64_t
stat_of(const struct limit_table *t, enum op op)
{
    struct limit_stats st;

    limit_stats(t, &st);
    switch (op) {
    case ENTRIES:
        return st.entries;
    case EVICTED:
        return st.evicted;
    case EV_LOCK:
        return st.evicted_locked;
    case REFUSED:
        return st.refused;
    default:
        return UINT64_MAX;
    }
}

static uint64_t
run_step(struct limit_table *t, const struct script *sc, const struct step *s)
{
    struct limit_key k;

    if (s->key != NULL)
        limit_key_name(&k, LIMIT_KIND_USER, 0, s->key, strlen(s->key));
    switch (s->op) {
    case TAKE:
        return limit_rate_take(t, &k, &sc->rate, s->now);
    case PEEK:
        return limit_rate_peek(t, &k, &sc->rate, s->now);
    case FAIL:
        return limit_fail_note(t, &k, &sc->fail, s->now);
    case LOCKED:
        return limit_locked_until(t, &k, s->now);
    case CLEAR:
        limit_fail_clear(t, &k);
        return 0;
    case FORGET:
        return limit_fail_forget(t, &k, s->now);
    case ACQ:
        return limit_acquire(t, &k, sc->held_max, s->now);
    case REL:
        return limit_release(t, &k);
    case HELD:
        return limit_held(t, &k);
    default:
        return stat_of(t, s->op);
    }
}

static void
test_scripts(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OF(scripts); i++) {
        const struct script *sc = &scripts[i];
        struct limit_table *t = limit_new(sc->max_entries, seed);

        for (size_t j = 0; sc->steps[j].op != STOP; j++) {
            uint64_t got = run_step(t, sc, &sc->steps[j]);

            if (got != sc->steps[j].want) {
                print_error("script '%s', step %zu: want %llu, got %llu\n", sc->name, j,
                            (unsigned long long)sc->steps[j].want, (unsigned long long)got);
                limit_free(t);
                fail();
            }
        }
        limit_free(t);
    }
}

/* Which keys are one and which are two. */
static void
test_keys(void **state)
{
    static const unsigned char v4[4] = {192, 0, 2, 7};
    static const unsigned char v4b[4] = {192, 0, 2, 8};
    static const unsigned char mapped[16] = {0, 0, 0,    0,    0,   0, 0, 0,
                                             0, 0, 0xff, 0xff, 192, 0, 2, 7};
    static const unsigned char v6a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                          0,    0,    0,    0,    0, 0, 0, 1};
    static const unsigned char v6b[16] = {0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,    0,
                                          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char v6c[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1,
                                          0,    0,    0,    0,    0, 0, 0, 1};
    char long1[400], long2[400];
    struct {
        struct limit_key a, b;
        bool same;
    } rows[12];
    size_t n = 0;

    (void)state;
    memset(long1, 'x', sizeof long1);
    memcpy(long2, long1, sizeof long2);
    long2[399] = 'y'; /* differs only past the cap */

    limit_key_addr(&rows[n].a, 0, AF_INET, v4);
    limit_key_addr(&rows[n].b, 0, AF_INET6, mapped);
    rows[n++].same = true; /* an IPv4-mapped address is its IPv4 address */
    limit_key_addr(&rows[n].a, 0, AF_INET, v4);
    limit_key_addr(&rows[n].b, 0, AF_INET, v4b);
    rows[n++].same = false;
    limit_key_addr(&rows[n].a, 0, AF_INET, v4);
    limit_key_addr(&rows[n].b, 1, AF_INET, v4);
    rows[n++].same = false; /* scopes apart */
    limit_key_addr(&rows[n].a, 0, AF_INET6, v6a);
    limit_key_addr(&rows[n].b, 0, AF_INET6, v6b);
    rows[n++].same = true; /* one /64 */
    limit_key_addr(&rows[n].a, 0, AF_INET6, v6a);
    limit_key_addr(&rows[n].b, 0, AF_INET6, v6c);
    rows[n++].same = false;
    limit_key_addr(&rows[n].a, 0, AF_INET, v4);
    limit_key_name(&rows[n].b, LIMIT_KIND_USER, 0, (const char *)v4, 4);
    rows[n++].same = false; /* the same octets of other kinds */
    limit_key_name(&rows[n].a, LIMIT_KIND_USER, 0, "alice", 5);
    limit_key_name(&rows[n].b, LIMIT_KIND_SENDER, 0, "alice", 5);
    rows[n++].same = false;
    limit_key_name(&rows[n].a, LIMIT_KIND_SENDER, 0, "Alice@Example.COM", 17);
    limit_key_name(&rows[n].b, LIMIT_KIND_SENDER, 0, "alice@example.com", 17);
    rows[n++].same = true; /* case makes no fresh counter */
    limit_key_name(&rows[n].a, LIMIT_KIND_SENDER, 0, "", 0);
    limit_key_name(&rows[n].b, LIMIT_KIND_SENDER, 0, "\0", 1);
    rows[n++].same = false;
    limit_key_name(&rows[n].a, LIMIT_KIND_SENDER, 0, long1, sizeof long1);
    limit_key_name(&rows[n].b, LIMIT_KIND_SENDER, 0, long2, sizeof long2);
    rows[n++].same = true; /* cut at the cap */
    limit_key_name(&rows[n].a, LIMIT_KIND_SENDER, 0, "ab", 2);
    limit_key_name(&rows[n].b, LIMIT_KIND_SENDER, 0, "a", 1);
    rows[n++].same = false; /* a prefix is another key */

    for (size_t i = 0; i < n; i++) {
        struct limit_table *t = limit_new(16, seed);
        struct limit_rate one = {1, 60};
        bool a = limit_rate_take(t, &rows[i].a, &one, 0);
        bool b = limit_rate_take(t, &rows[i].b, &one, 0);

        assert_true(rows[i].a.len <= LIMIT_KEY_MAX);
        if (!a || b != !rows[i].same) {
            print_error("key row %zu: want %s\n", i, rows[i].same ? "one key" : "two keys");
            limit_free(t);
            fail();
        }
        limit_free(t);
    }
}

/* Many keys in few buckets: every chain holds several, and each key keeps its own count. */
static void
test_collisions(void **state)
{
    struct limit_table *t = limit_new(512, seed);
    struct limit_rate two = {2, 60};
    struct limit_stats st;
    char name[32];
    struct limit_key k;

    (void)state;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 500; i++) {
            (void)snprintf(name, sizeof name, "user%d", i);
            limit_key_name(&k, LIMIT_KIND_USER, 0, name, strlen(name));
            assert_int_equal(limit_rate_take(t, &k, &two, 1000), round < 2);
        }
    }
    limit_stats(t, &st);
    assert_int_equal(st.entries, 500);
    assert_int_equal(st.evicted, 0);
    /* The same keys in a table of one bucket. */
    limit_free(t);
    t = limit_new(1, seed);
    for (int i = 0; i < 100; i++) {
        (void)snprintf(name, sizeof name, "user%d", i);
        limit_key_name(&k, LIMIT_KIND_USER, 0, name, strlen(name));
        assert_true(limit_rate_take(t, &k, &two, (uint64_t)i));
    }
    limit_stats(t, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.evicted, 99);
    limit_free(t);
}

/* A flood of fresh keys never grows the table past its cap, and a lock survives it while
 * plain entries are there to go. */
static void
test_flood(void **state)
{
    struct limit_table *t = limit_new(1000, seed);
    struct limit_fail_rule rule = {5, 600, 600, 86400, 86400};
    struct limit_key victim, k;
    struct limit_stats st;
    unsigned char addr[4];

    (void)state;
    limit_key_name(&victim, LIMIT_KIND_USER, 0, "alice", 5);
    for (int i = 0; i < 4; i++)
        assert_int_equal(limit_fail_note(t, &victim, &rule, 0), 0);
    assert_int_equal(limit_fail_note(t, &victim, &rule, 0), 600000);
    for (uint32_t i = 0; i < 100000; i++) {
        memcpy(addr, &i, 4);
        limit_key_addr(&k, 0, AF_INET, addr);
        (void)limit_fail_note(t, &k, &rule, 1 + i);
    }
    limit_stats(t, &st);
    assert_int_equal(st.entries, 1000);
    assert_int_equal(st.evicted, 100000 + 1 - 1000);
    assert_int_equal(st.evicted_locked, 0);
    assert_int_equal(limit_locked_until(t, &victim, 100001), 600000);
    limit_free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scripts),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_flood),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
