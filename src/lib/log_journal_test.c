/* SPDX-License-Identifier: MIT */
/*
 * Tests for what decides a journal line's fields: whether JOURNAL_STREAM
 * names standard error (a stale or malformed value must leave the lines on
 * standard error), and the queue id a line starts with (a line that only
 * looks like one, or a peer's text further on, gives no GATE26_QUEUE_ID).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/log_journal.h"

#define S(lit) lit, sizeof(lit) - 1

struct names_row {
    const char *env;
    uint64_t dev, ino;
    bool want;
};

static const struct names_row names_rows[] = {
    {"8:1234", 8, 1234, true},
    {"0:0", 0, 0, true},
    {"18446744073709551615:18446744073709551615", UINT64_MAX, UINT64_MAX, true},
    {"8:1234", 8, 1235, false}, /* another file: stderr was redirected after systemd set it */
    {"8:1234", 9, 1234, false},
    {NULL, 8, 1234, false},
    {"", 0, 0, false},
    {":", 0, 0, false},
    {"8:", 8, 0, false},
    {":1234", 0, 1234, false},
    {"8:1234:5", 8, 1234, false},
    {"8:1234\n", 8, 1234, false},
    {" 8:1234", 8, 1234, false},
    {"8 :1234", 8, 1234, false},
    {"+8:1234", 8, 1234, false},
    {"-8:1234", 8, 1234, false},
    {"8:-1234", 8, 1234, false},
    {"0x8:1234", 8, 1234, false},
    {"18446744073709551616:1", 0, 1, false}, /* 2^64: no wrap to 0 */
    {"8;1234", 8, 1234, false},
};

static void
test_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(names_rows) / sizeof(names_rows[0]); i++) {
        const struct names_row *r = &names_rows[i];

        if (log_journal_names(r->env, r->dev, r->ino) != r->want)
            fail_msg("row %zu (%s): want %d", i, r->env != NULL ? r->env : "NULL", r->want);
    }
}

struct id_row {
    const char *msg;
    size_t len;
    size_t want;
};

static const struct id_row id_rows[] = {
    {S("0123456789ABCDEF: from=<a@b>, size=10"), 16},
    {S("FFFFFFFFFFFFFFFF: "), 16},
    {S("-: event=start, version=1"), 0},
    {S("0123456789abcdef: from=<a@b>"), 0},  /* lower case: not a queue id */
    {S("0123456789ABCDE: from=<a@b>"), 0},   /* 15 digits */
    {S("0123456789ABCDEF0: from=<a@b>"), 0}, /* 17 */
    {S("0123456789ABCDEF:from=<a@b>"), 0},
    {S("0123456789ABCDEF:"), 0},
    {S("0123456789ABCDEF"), 0},
    {S("0123456789ABCDEG: x"), 0},
    {S("0123456789ABCD\0F: x"), 0},
    {S(""), 0},
    {S("-: sid=1c, client=[192.0.2.7], helo=\"0123456789ABCDEF: \""), 0}, /* only at the start */
};

static void
test_queue_id(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(id_rows) / sizeof(id_rows[0]); i++) {
        const struct id_row *r = &id_rows[i];

        if (log_journal_queue_id(r->msg, r->len) != r->want)
            fail_msg("row %zu: want %zu", i, r->want);
    }
    /* The length bounds the scan: a prefix of a queue id line is not one. */
    assert_int_equal(log_journal_queue_id("0123456789ABCDEF: x", 17), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_queue_id),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
