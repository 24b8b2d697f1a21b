/* SPDX-License-Identifier: MIT */
/*
 * track_query_parse_field: each filter's good values and hostile ones
 * (malformed and impossible times, limits out of range or with signs and
 * spaces, queue ids of the wrong length, case or alphabet, over-long
 * strings, unknown names); SQL metacharacters are values like any other
 * (the search binds them: track_test.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lib/caps.h"
#include "track/track.h"

#define US 1000000LL

struct row {
    const char *name, *value;
    unsigned limit_max;
    int rc;
    const char *why; /* a part of the reason, for rc -1 */
};

static const struct row rows[] = {
    /* Strings: kept as given (the search binds them), bounded. */
    {"from", "alice@ok.test", 1000, 0, NULL},
    {"from", "x' OR '1'='1", 1000, 0, NULL},
    {"from", "\"; DROP TABLE messages; --", 1000, 0, NULL},
    {"from", "%", 1000, 0, NULL},
    {"to", "bob@ok.test", 1000, 0, NULL},
    {"client", "::ffff:192.0.2.1", 1000, 0, NULL},
    {"message-id", "<a@b>", 1000, 0, NULL},
    {"message-id", "a@b", 1000, 0, NULL},
    /* Times. */
    {"since", "2026-12-07T10:00:00Z", 1000, 0, NULL},
    {"since", "2026-12-07t10:00:00.5z", 1000, 0, NULL},
    {"since", "2026-12-07 10:00:00+01:00", 1000, 0, NULL},
    {"until", "2024-02-29T23:59:60Z", 1000, 0, NULL},
    {"since", "90s", 1000, 0, NULL},
    {"since", "2w", 1000, 0, NULL},
    {"since", "yesterday", 1000, -1, "RFC 3339"},
    {"since", "", 1000, -1, "RFC 3339"},
    {"since", "h", 1000, -1, "RFC 3339"},
    {"since", "-2h", 1000, -1, "RFC 3339"},
    {"since", "2 h", 1000, -1, "RFC 3339"},
    {"since", "99999999999d", 1000, -1, "RFC 3339"},
    {"since", "1000w", 1000, -1, "RFC 3339"},
    {"until", "2026-13-01T00:00:00Z", 1000, -1, "RFC 3339"},
    {"until", "2026-02-30T00:00:00Z", 1000, -1, "RFC 3339"},
    {"until", "2025-02-29T00:00:00Z", 1000, -1, "RFC 3339"},
    {"until", "2026-12-07T24:00:00Z", 1000, -1, "RFC 3339"},
    {"until", "2026-12-07T10:00:00", 1000, -1, "RFC 3339"},
    {"until", "2026-12-07T10:00:00.Z", 1000, -1, "RFC 3339"},
    {"until", "2026-12-07T10:00:00+1:00", 1000, -1, "RFC 3339"},
    {"until", "2026-12-07T10:00:00Z'; --", 1000, -1, "RFC 3339"},
    {"until", "2026-12-07T10:00:00.000000000000000000000000000000000000000000000000000000Z", 1000,
     -1, "at most 64 octets"},
    /* Queue ids. */
    {"id", "0123456789ABCDEF", 1000, 0, NULL},
    {"id", "0123456789abcdef", 1000, -1, "a queue id"},
    {"id", "0123456789ABCDE", 1000, -1, "a queue id"},
    {"id", "0123456789ABCDEF0", 1000, -1, "a queue id"},
    {"id", "0123456789ABCDEG", 1000, -1, "a queue id"},
    {"id", "' OR 1=1 --", 1000, -1, "a queue id"},
    {"id", "", 1000, -1, "a queue id"},
    /* Limits. */
    {"limit", "1", 1000, 0, NULL},
    {"limit", "1000", 1000, 0, NULL},
    {"limit", "10000", 0, 0, NULL},
    {"limit", "1001", 1000, -1, "a number from 1 to 1000"},
    {"limit", "0", 1000, -1, "a number from 1 to 1000"},
    {"limit", "-1", 1000, -1, "a number from 1 to 1000"},
    {"limit", "+5", 1000, -1, "a number from 1 to 1000"},
    {"limit", " 5", 1000, -1, "a number from 1 to 1000"},
    {"limit", "5x", 1000, -1, "a number from 1 to 1000"},
    {"limit", "", 1000, -1, "a number from 1 to 1000"},
    {"limit", "10001", 0, -1, "a number from 1 to 10000"},
    {"limit", "18446744073709551617", 99999, -1, "at most 10 octets"},
    /* Names. */
    {"sender", "alice@ok.test", 1000, -1, "a known filter"},
    {"", "x", 1000, -1, "a known filter"},
    {"FROM", "x", 1000, -1, "a known filter"},
};

static void
test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        struct track_query q = {0}, before;
        char why[128] = "";
        int rc;

        memset(&before, 0, sizeof before);
        rc = track_query_parse_field(&q, r->name, r->value, r->limit_max, why, sizeof why);
        if (rc != r->rc)
            fail_msg("row %zu (%s=%s): rc %d, why \"%s\"", i, r->name, r->value, rc, why);
        if (r->rc == -1) {
            if (strstr(why, r->why) == NULL)
                fail_msg("row %zu (%s=%s): why \"%s\" lacks \"%s\"", i, r->name, r->value, why,
                         r->why);
            /* A refused value sets nothing. */
            assert_memory_equal(&q, &before, sizeof q);
        }
    }
}

/* Where each good value goes, and what it becomes. */
static void
test_values(void **state)
{
    struct track_query q = {0};
    char why[128];
    int64_t t0 = (int64_t)time(NULL), t1;

    (void)state;
    assert_int_equal(track_query_parse_field(&q, "from", "<>", 0, why, sizeof why), 0);
    assert_string_equal(q.from, "");
    assert_int_equal(track_query_parse_field(&q, "from", "", 0, why, sizeof why), 0);
    assert_string_equal(q.from, "");
    assert_int_equal(track_query_parse_field(&q, "from", "a@b", 0, why, sizeof why), 0);
    assert_string_equal(q.from, "a@b");
    assert_int_equal(track_query_parse_field(&q, "to", "c@d", 0, why, sizeof why), 0);
    assert_string_equal(q.to, "c@d");
    assert_int_equal(track_query_parse_field(&q, "client", "127.0.0.1", 0, why, sizeof why), 0);
    assert_string_equal(q.client, "127.0.0.1");
    assert_int_equal(track_query_parse_field(&q, "id", "00000000000000AF", 0, why, sizeof why), 0);
    assert_string_equal(q.qid, "00000000000000AF");
    assert_int_equal(track_query_parse_field(&q, "message-id", "x@y", 0, why, sizeof why), 0);
    assert_string_equal(q.message_id, "x@y");
    assert_int_equal(track_query_parse_field(&q, "limit", "42", 1000, why, sizeof why), 0);
    assert_int_equal(q.limit, 42);

    assert_int_equal(
        track_query_parse_field(&q, "since", "2026-12-07T10:00:00.25Z", 0, why, sizeof why), 0);
    assert_int_equal(q.since, 1796637600LL * US + 250000);
    assert_int_equal(
        track_query_parse_field(&q, "until", "2026-12-07T11:30:00+01:30", 0, why, sizeof why), 0);
    assert_int_equal(q.until, 1796637600LL * US);
    assert_int_equal(
        track_query_parse_field(&q, "until", "1970-01-01T00:00:01-00:00", 0, why, sizeof why), 0);
    assert_int_equal(q.until, 1 * US);
    assert_int_equal(track_query_parse_field(&q, "since", "2h", 0, why, sizeof why), 0);
    t1 = (int64_t)time(NULL);
    assert_true(q.since >= (t0 - 7200) * US && q.since <= (t1 - 7200) * US);
    assert_int_equal(track_query_parse_field(&q, "since", "0s", 0, why, sizeof why), 0);
    assert_true(q.since >= t0 * US);

    /* The longest string values are taken; one octet more is not. */
    {
        char addr[CAP_MAILBOX + 2];

        memset(addr, 'a', sizeof addr - 1);
        addr[CAP_MAILBOX] = '\0';
        assert_int_equal(track_query_parse_field(&q, "to", addr, 0, why, sizeof why), 0);
        addr[CAP_MAILBOX] = 'a';
        addr[CAP_MAILBOX + 1] = '\0';
        assert_int_equal(track_query_parse_field(&q, "to", addr, 0, why, sizeof why), -1);
        assert_non_null(strstr(why, "at most 320 octets"));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_values),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
