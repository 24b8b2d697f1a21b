/* SPDX-License-Identifier: MIT */
/* The quarantine preview's decoding (preview.h): tables with hostile rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "console/preview.h"

static void
test_cte_of(void **state)
{
    static const struct {
        const char *value;
        enum preview_cte want;
    } rows[] = {
        {NULL, PREVIEW_IDENTITY},
        {"7bit", PREVIEW_IDENTITY},
        {" 8BIT", PREVIEW_IDENTITY},
        {"binary (comment)", PREVIEW_IDENTITY},
        {"Quoted-Printable", PREVIEW_QP},
        {"base64", PREVIEW_BASE64},
        {"  BASE64 ", PREVIEW_BASE64},
        /* hostile: prefixes, suffixes, nothing, another encoding */
        {"base64x", PREVIEW_UNKNOWN},
        {"base6", PREVIEW_UNKNOWN},
        {"", PREVIEW_UNKNOWN},
        {"x-uuencode", PREVIEW_UNKNOWN},
        {"quoted-printable-ish", PREVIEW_UNKNOWN},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(preview_cte_of(rows[i].value), rows[i].want);
}

static void
test_text_plain(void **state)
{
    static const struct {
        const char *value;
        bool want;
    } rows[] = {
        {NULL, true},
        {"text/plain", true},
        {"Text/Plain; charset=utf-8", true},
        {" text/plain;charset=us-ascii", true},
        {"text/html", false},
        {"multipart/alternative; boundary=x", false},
        {"text/plainx", false},
        {"text/", false},
        {"", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(preview_is_text_plain(rows[i].value), rows[i].want);
}

static void
test_decode(void **state)
{
    static const struct {
        enum preview_cte cte;
        const char *in;
        size_t cap;
        long want;
        const char *out;
    } rows[] = {
        {PREVIEW_QP, "caf=C3=A9 ok", 64, 8, "caf\xc3\xa9 ok"},
        {PREVIEW_QP, "soft=\r\nbreak", 64, 9, "softbreak"},
        {PREVIEW_QP, "soft=\nbreak", 64, 9, "softbreak"},
        {PREVIEW_QP, "lower=3d=3D", 64, 7, "lower=="},
        /* hostile: a lone '=', '=' then one hex digit, '=' at the end, bad hex, a cut output */
        {PREVIEW_QP, "a=", 64, 2, "a="},
        {PREVIEW_QP, "a=4", 64, 3, "a=4"},
        {PREVIEW_QP, "=ZZ", 64, 3, "=ZZ"},
        {PREVIEW_QP, "=\r", 64, 2, "=\r"},
        {PREVIEW_QP, "abcdef", 4, 3, "abc"},
        {PREVIEW_QP, "=3C=3E", 2, 1, "<"},
        {PREVIEW_BASE64, "aGVsbG8gd29ybGQ=", 64, 11, "hello world"},
        {PREVIEW_BASE64, "aGVs\r\nbG8=\r\n", 64, 5, "hello"},
        {PREVIEW_BASE64, "aGVsbG8gd29ybGQ=", 4, 3, "hel"},
        /* hostile: not base64, a quantum cut short */
        {PREVIEW_BASE64, "!!!!", 64, -1, ""},
        {PREVIEW_BASE64, "aGVsbG8gd29y", 64, 9, "hello wor"},
        {PREVIEW_BASE64, "", 64, 0, ""},
        {PREVIEW_IDENTITY, "plain <b>", 64, 9, "plain <b>"},
        {PREVIEW_IDENTITY, "plain", 3, 2, "pl"},
        {PREVIEW_UNKNOWN, "x", 1, 0, ""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[128];
        long n = preview_decode(rows[i].cte, rows[i].in, strlen(rows[i].in), out, rows[i].cap);

        assert_int_equal(n, rows[i].want);
        assert_string_equal(out, rows[i].out);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cte_of),
        cmocka_unit_test(test_text_plain),
        cmocka_unit_test(test_decode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
