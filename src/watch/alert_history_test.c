/* SPDX-License-Identifier: MIT */
/* The alert history's ring (alert_history.h): order, wrapping, cut keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "watch/alert_history.h"

/* What each() saw, in order. */
struct seen {
    size_t n;
    int64_t values[ALERT_HISTORY_MAX];
    char keys[4][ALERT_HISTORY_KEY_CAP];
    char rules[4][CONF_ALERT_NAME_MAX + 1];
    bool firing[4];
    int doors[4];
};

static void
see(void *arg, const struct watch_alert_event *e)
{
    struct seen *s = arg;

    assert_true(s->n < ALERT_HISTORY_MAX);
    if (s->n < 4) {
        assert_true(strlen(e->key) < ALERT_HISTORY_KEY_CAP);
        strcpy(s->keys[s->n], e->key);
        strcpy(s->rules[s->n], e->rule);
        s->firing[s->n] = e->firing;
        s->doors[s->n] = e->door;
    }
    s->values[s->n++] = e->value;
}

static void
add(struct alert_history *h, int64_t value, const char *key)
{
    alert_history_add(h, &(struct watch_alert_event){.time = 1000 + value,
                                                     .rule = "auth-burst",
                                                     .when = CONF_ALERT_FAILED_AUTH,
                                                     .key = key,
                                                     .value = value,
                                                     .threshold = 3,
                                                     .window = 60,
                                                     .firing = value % 2 == 0,
                                                     .door = value % 2 == 0 ? 2 : -1});
}

static void
test_empty(void **state)
{
    struct alert_history *h = alert_history_new(4);
    struct seen s = {0};

    (void)state;
    assert_int_equal(alert_history_each(h, see, &s), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(alert_history_each(NULL, see, &s), 0);
    alert_history_free(h);
    alert_history_free(NULL);
}

/* Rows: how many added into a ring of cap, and the values seen, newest first. */
static const struct {
    size_t cap, added;
    size_t n;
    int64_t newest, oldest;
} rows[] = {
    {4, 1, 1, 0, 0},                /* one */
    {4, 3, 3, 2, 0},                /* not full */
    {4, 4, 4, 3, 0},                /* exactly full */
    {4, 5, 4, 4, 1},                /* wrapped once: the oldest gave way */
    {4, 11, 4, 10, 7},              /* wrapped several times */
    {1, 3, 1, 2, 2},                /* a ring of one keeps the last */
    {1000, 2500, 1000, 2499, 1500}, /* the daemon's size */
    {5000, 1001, 1000, 1000, 1},    /* a size over the maximum is the maximum */
};

static void
test_wraps_newest_first(void **state)
{
    (void)state;
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        struct alert_history *h = alert_history_new(rows[r].cap);
        static struct seen s;

        memset(&s, 0, sizeof(s));
        for (size_t i = 0; i < rows[r].added; i++)
            add(h, (int64_t)i, "192.0.2.7");
        assert_int_equal(alert_history_each(h, see, &s), rows[r].n);
        assert_int_equal(s.n, rows[r].n);
        assert_int_equal(s.values[0], rows[r].newest);
        assert_int_equal(s.values[s.n - 1], rows[r].oldest);
        for (size_t i = 1; i < s.n; i++)
            assert_int_equal(s.values[i], s.values[i - 1] - 1);
        alert_history_free(h);
    }
}

static void
test_copies_and_cuts(void **state)
{
    struct alert_history *h = alert_history_new(4);
    static struct seen s;
    char key[ALERT_HISTORY_KEY_CAP + 100], exact[ALERT_HISTORY_KEY_CAP];

    (void)state;
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    memset(exact, 'e', sizeof(exact) - 1);
    exact[sizeof(exact) - 1] = '\0';
    add(h, 0, key);   /* too long: cut */
    add(h, 1, exact); /* fits exactly */
    add(h, 2, "");    /* empty */
    {
        char mine[16] = "alice";

        add(h, 3, mine);
        strcpy(mine, "mallory"); /* the caller's string changes: the copy does not */
    }
    assert_int_equal(alert_history_each(h, see, &s), 4);
    assert_string_equal(s.keys[0], "alice");
    assert_string_equal(s.keys[1], "");
    assert_string_equal(s.keys[2], exact);
    assert_int_equal(strlen(s.keys[3]), ALERT_HISTORY_KEY_CAP - 1);
    assert_string_equal(s.keys[3] + ALERT_HISTORY_KEY_CAP - 4, "...");
    assert_string_equal(s.rules[0], "auth-burst");
    assert_false(s.firing[0]);
    assert_true(s.firing[1]);
    assert_int_equal(s.doors[0], -1);
    assert_int_equal(s.doors[1], 2);
    alert_history_free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_wraps_newest_first),
        cmocka_unit_test(test_copies_and_cuts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
