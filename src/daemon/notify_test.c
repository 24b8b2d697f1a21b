/* SPDX-License-Identifier: MIT */
/*
 * Tests for the status line systemd shows (service_notify_status): the
 * counts in their places, a prefix whose line breaks or control octets
 * (a failed reload's reason quotes the configuration file) cannot end the
 * STATUS= assignment and start another, and a small buffer cut, not overrun.
 * The sd_notify messages themselves are tested end to end
 * (tests/e2e/test_systemd.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/notify.h"

struct status_row {
    const char *prefix;
    struct service_notify_counts c;
    const char *want;
};

static const struct status_row status_rows[] = {
    {"", {0, 0, 0, 0, 0}, "sessions 0, queue 0 (deferred 0, held 0), alerts 0"},
    {"", {3, 12, 4, 1, 2}, "sessions 3, queue 12 (deferred 4, held 1), alerts 2"},
    {"reloading; ",
     {1, 2, 3, 4, 5},
     "reloading; sessions 1, queue 2 (deferred 3, held 4), alerts 5"},
    {"stopping; ",
     {SIZE_MAX, 0, 0, 0, 0},
     "stopping; sessions 18446744073709551615, queue 0 (deferred 0, held 0), alerts 0"},
    /* A reason that would forge another assignment: its line break becomes a space. */
    {"reload failed: x.conf:3: bad\nREADY=1\nSTATUS=ok; ",
     {0, 0, 0, 0, 0},
     "reload failed: x.conf:3: bad READY=1 STATUS=ok; sessions 0, queue 0 (deferred 0, held 0), "
     "alerts 0"},
    {"reload failed: \r\t\x1b[31m\x7f\xc3\xa9; ",
     {0, 1, 0, 0, 0},
     "reload failed:    [31m   ; sessions 0, queue 1 (deferred 0, held 0), alerts 0"},
};

static void
test_status(void **state)
{
    char buf[512];

    (void)state;
    for (size_t i = 0; i < sizeof(status_rows) / sizeof(status_rows[0]); i++) {
        const struct status_row *r = &status_rows[i];

        if (strcmp(service_notify_status(buf, sizeof(buf), r->prefix, &r->c), r->want) != 0)
            fail_msg("row %zu: got [%s], want [%s]", i, buf, r->want);
    }
}

static void
test_status_cut(void **state)
{
    const struct service_notify_counts c = {1, 2, 3, 4, 5};
    char buf[12];

    (void)state;
    memset(buf, 'Z', sizeof(buf));
    assert_string_equal(service_notify_status(buf, 8, "", &c), "session");
    assert_int_equal(buf[8], 'Z');
    /* A prefix longer than the buffer: cut, and still no control octet. */
    assert_string_equal(service_notify_status(buf, 8, "a\nb\nc\nd\ne\n", &c), "a b c d");
    assert_string_equal(service_notify_status(buf, 1, "x", &c), "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_status_cut),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
