/* SPDX-License-Identifier: MIT */
/*
 * Tests for msghdr.c: header sections split into fields (folding kept,
 * names trimmed), with hostile rows (a leading fold, a line without a
 * colon, a bad name, more fields than the cap), a section of 20000 fields,
 * and unfolding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailauth/msghdr.h"

static const struct {
    const char *text;
    int rc;
    size_t n;
    const char *why;
} rows[] = {
    {"", 0, 0, NULL},
    {"From: a@b.example\r\n", 0, 1, NULL},
    {"From: a@b.example\r\nTo: c\r\n", 0, 2, NULL},
    {"Subject: one\r\n two\r\n\tthree\r\nTo: c\r\n", 0, 2, NULL},
    {"Subject : x\r\n", 0, 1, NULL},
    {"From: a\nTo: b\n", 0, 2, NULL},
    {"X:\r\n", 0, 1, NULL},
    {" leading: fold\r\n", -1, 0, "leading-fold"},
    {"From: a\r\nno colon here\r\n", -1, 0, "no-colon"},
    {"Fr om: a\r\n", -1, 0, "bad-name"},
    {": empty name\r\n", -1, 0, "bad-name"},
    {"A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n", -1, 0, "too-many-fields"},
};

static void
test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct msghdr_section h = {0};
        const char *why = NULL;
        int rc = msghdr_parse(&h, slice_make(rows[i].text, strlen(rows[i].text)), 4, &why);

        if (rc != rows[i].rc)
            fail_msg("row %zu (%s): rc %d", i, rows[i].text, rc);
        if (rc == 0)
            assert_int_equal(h.n, rows[i].n);
        else
            assert_string_equal(why, rows[i].why);
        msghdr_clear(&h);
    }
}

static void
test_fields(void **state)
{
    static const char text[] = "Subject : one\r\n two\r\nFROM:x@y.example\r\nfrom: z\r\n";
    struct msghdr_section h = {0};
    const char *why;
    char buf[64];

    (void)state;
    assert_int_equal(msghdr_parse(&h, slice_make(text, strlen(text)), 100, &why), 0);
    assert_int_equal(h.n, 3);
    assert_int_equal(h.f[0].name.len, 7);
    assert_memory_equal(h.f[0].name.p, "Subject", 7);
    assert_int_equal(h.f[0].raw.len, strlen("Subject : one\r\n two"));
    assert_true(msghdr_name_is(&h.f[1], "from"));
    assert_int_equal(msghdr_count(&h, "From"), 2);
    assert_int_equal(msghdr_unfold(h.f[0].value, buf, sizeof buf), 8);
    assert_string_equal(buf, " one two");
    assert_int_equal(msghdr_unfold(h.f[0].value, buf, 4), -1);
    msghdr_clear(&h);
}

/* 20000 fields: one pass, and the cap is what stops a bigger one. */
static void
test_many_fields(void **state)
{
    size_t n = 20000, len = 0;
    char *text = malloc(n * 16);
    struct msghdr_section h = {0};
    const char *why;

    (void)state;
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "X-%zu: v\r\n", i);
    assert_int_equal(msghdr_parse(&h, slice_make(text, len), n, &why), 0);
    assert_int_equal(h.n, n);
    assert_int_equal(msghdr_parse(&h, slice_make(text, len), n - 1, &why), -1);
    assert_string_equal(why, "too-many-fields");
    msghdr_clear(&h);
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_many_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
