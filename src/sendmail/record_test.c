/* SPDX-License-Identifier: MIT */
/*
 * Tests for the submission record (record.h). One table of heads, most of
 * them hostile, each parsed whole and as every shorter prefix (a prefix of a
 * good head is RECORD_MORE, never OK; a bad head is never OK at any cut);
 * one table of contents; and a head formatted, then parsed back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sendmail/record.h"

struct head_row {
    const char *name;
    const char *in;
    size_t len;
    enum record_result want;
    const char *from; /* OK rows */
    size_t n_rcpts;   /* OK rows */
    uint64_t size;    /* OK rows */
    const char *why;  /* BAD rows: a part of the reason */
};

#define HEAD(n, lit, w, f, nr, sz, y)                                                              \
    {                                                                                              \
        n, lit, sizeof(lit) - 1, w, f, nr, sz, y                                                   \
    }

static const struct head_row heads[] = {
    HEAD("plain", "gate26-submit 1\nfrom <a@b.example>\nrcpt <c@d.example>\nsize 12\n\n", RECORD_OK,
         "a@b.example", 1, 12, NULL),
    HEAD("null sender, two rcpts",
         "gate26-submit 1\nfrom <>\nrcpt <c@d.example>\nrcpt <Postmaster>\nsize 1\n\n", RECORD_OK,
         "", 2, 1, NULL),
    HEAD("content follows", "gate26-submit 1\nfrom <a@b>\nrcpt <c@d>\nsize 4\n\nab\r\n", RECORD_OK,
         "a@b", 1, 4, NULL),
    HEAD("quoted local part", "gate26-submit 1\nfrom <\"a b\"@x>\nrcpt <c@d>\nsize 2\n\n",
         RECORD_OK, "\"a b\"@x", 1, 2, NULL),
    HEAD("largest size", "gate26-submit 1\nfrom <a@b>\nrcpt <c@d>\nsize 2147483648\n\n", RECORD_OK,
         "a@b", 1, UINT64_C(2147483648), NULL),

    /* Hostile. */
    HEAD("empty", "", RECORD_MORE, NULL, 0, 0, NULL),
    HEAD("other magic", "gate26-submit 2\nfrom <a@b>\n", RECORD_BAD, NULL, 0, 0, "line 1"),
    HEAD("no magic", "from <a@b>\nrcpt <c@d>\nsize 1\n\n", RECORD_BAD, NULL, 0, 0, "line 1"),
    HEAD("magic with CR", "gate26-submit 1\r\nfrom <a@b>\n", RECORD_BAD, NULL, 0, 0, "line 1"),
    HEAD("from without brackets", "gate26-submit 1\nfrom a@b\nrcpt <c@d>\nsize 1\n\n", RECORD_BAD,
         NULL, 0, 0, "line 2"),
    HEAD("from twice", "gate26-submit 1\nfrom <a@b>\nfrom <a@b>\nrcpt <c@d>\nsize 1\n\n",
         RECORD_BAD, NULL, 0, 0, "line 3"),
    HEAD("two spaces", "gate26-submit 1\nfrom  <a@b>\nrcpt <c@d>\nsize 1\n\n", RECORD_BAD, NULL, 0,
         0, "line 2"),
    HEAD("trailing space", "gate26-submit 1\nfrom <a@b> \nrcpt <c@d>\nsize 1\n\n", RECORD_BAD, NULL,
         0, 0, "line 2"),
    HEAD("no rcpt", "gate26-submit 1\nfrom <a@b>\nsize 1\n\n", RECORD_BAD, NULL, 0, 0, "line 3"),
    HEAD("null rcpt", "gate26-submit 1\nfrom <a@b>\nrcpt <>\nsize 1\n\n", RECORD_BAD, NULL, 0, 0,
         "line 3"),
    HEAD("rcpt without domain", "gate26-submit 1\nfrom <a@b>\nrcpt <root>\nsize 1\n\n", RECORD_BAD,
         NULL, 0, 0, "line 3"),
    HEAD("rcpt with LF inside", "gate26-submit 1\nfrom <a@b>\nrcpt <c\n@d>\nsize 1\n\n", RECORD_BAD,
         NULL, 0, 0, "line 3"),
    HEAD("NUL in address", "gate26-submit 1\nfrom <a\0@b>\nrcpt <c@d>\nsize 1\n\n", RECORD_BAD,
         NULL, 0, 0, "line 2"),
    HEAD("unknown key", "gate26-submit 1\nfrom <a@b>\nrcpt <c@d>\nuser root\nsize 1\n\n",
         RECORD_BAD, NULL, 0, 0, "line 4"),
    HEAD("size zero", "gate26-submit 1\nfrom <a@b>\nrcpt <c@d>\nsize 0\n\n", RECORD_BAD, NULL, 0, 0,
         "line 4"),
    HEAD("size too large", "gate26-submit 1\nfrom <a@b>\nrcpt <c@d>\nsize 2147483649\n\n",
         RECORD_BAD, NULL, 0, 0, "line 4"),
    HEAD("size overflows", "gate26-submit 1\nfrom <a@b>\nrcpt <c@d>\nsize 99999999999999999999\n\n",
         RECORD_BAD, NULL, 0, 0, "line 4"),
    HEAD("size negative", "gate26-submit 1\nfrom <a@b>\nrcpt <c@d>\nsize -1\n\n", RECORD_BAD, NULL,
         0, 0, "line 4"),
    HEAD("size with sign", "gate26-submit 1\nfrom <a@b>\nrcpt <c@d>\nsize +5\n\n", RECORD_BAD, NULL,
         0, 0, "line 4"),
    HEAD("no blank line", "gate26-submit 1\nfrom <a@b>\nrcpt <c@d>\nsize 1\nx\n", RECORD_BAD, NULL,
         0, 0, "line 5"),
    HEAD("rcpt after size", "gate26-submit 1\nfrom <a@b>\nrcpt <c@d>\nsize 1\nrcpt <e@f>\n\n",
         RECORD_BAD, NULL, 0, 0, "line 5"),
    HEAD("cut in from", "gate26-submit 1\nfrom <a@", RECORD_MORE, NULL, 0, 0, NULL),
    HEAD("cut before blank", "gate26-submit 1\nfrom <a@b>\nrcpt <c@d>\nsize 1\n", RECORD_MORE, NULL,
         0, 0, NULL),
};

static void
test_heads(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        const struct head_row *r = &heads[i];
        struct record_head h;
        char why[256] = "";
        enum record_result got = record_parse_head(r->in, r->len, &h, why, sizeof(why));

        print_message("%s\n", r->name);
        assert_int_equal(got, r->want);
        if (got == RECORD_OK) {
            assert_string_equal(h.from, r->from);
            assert_int_equal(h.n_rcpts, r->n_rcpts);
            assert_int_equal(h.size, r->size);
            assert_true(h.head_len <= r->len);
            assert_int_equal(r->in[h.head_len - 1], '\n');
        }
        if (got == RECORD_BAD)
            assert_non_null(strstr(why, r->why));
        record_head_clear(&h);
        /* No prefix of it is a whole head, except from the head's own end on. */
        for (size_t cut = 0; cut < r->len; cut++) {
            got = record_parse_head(r->in, cut, &h, why, sizeof(why));
            if (r->want == RECORD_OK && cut < h.head_len)
                assert_int_equal(got, RECORD_MORE);
            assert_true(r->want == RECORD_OK || got != RECORD_OK);
            record_head_clear(&h);
        }
    }
}

/* A line over its cap, and a head over its cap, are refused before the end arrives. */
static void
test_caps(void **state)
{
    size_t n = RECORD_HEAD_MAX + 100, o;
    char *buf = malloc(n), why[256];
    struct record_head h;

    (void)state;
    assert_non_null(buf);
    o = (size_t)snprintf(buf, n, "gate26-submit 1\nfrom <");
    memset(buf + o, 'a', n - o);
    assert_int_equal(record_parse_head(buf, n, &h, why, sizeof(why)), RECORD_BAD);
    assert_non_null(strstr(why, "too long"));
    /* 1001 recipients */
    o = (size_t)snprintf(buf, n, "gate26-submit 1\nfrom <a@b>\n");
    for (int i = 0; i < RECORD_RCPTS_MAX + 1 && o + 32 < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "rcpt <r%d@x>\n", i);
    o += (size_t)snprintf(buf + o, n - o, "size 1\n\n");
    assert_int_equal(record_parse_head(buf, o, &h, why, sizeof(why)), RECORD_BAD);
    assert_non_null(strstr(why, "recipients"));
    free(buf);
}

struct content_row {
    const char *name;
    const char *in;
    size_t len;
    int want;
    bool eight_bit;
    const char *why;
};

#define CONTENT(n, lit, w, e, y)                                                                   \
    {                                                                                              \
        n, lit, sizeof(lit) - 1, w, e, y                                                           \
    }

static const struct content_row contents[] = {
    CONTENT("plain", "Subject: x\r\n\r\nhi\r\n", 0, false, NULL),
    CONTENT("8-bit", "Subject: x\r\n\r\nh\xc3\xa9\r\n", 0, true, NULL),
    CONTENT("lone dot line", "a\r\n.\r\n", 0, false, NULL),
    CONTENT("empty", "", -1, false, "no content"),
    CONTENT("bare LF", "a\r\nb\nc\r\n", -1, false, "line 2: bare LF"),
    CONTENT("bare CR", "a\rb\r\n", -1, false, "line 1: bare CR"),
    CONTENT("CR at the end", "a\r\nb\r", -1, false, "line 2: bare CR"),
    CONTENT("NUL", "a\0b\r\n", -1, false, "NUL"),
    CONTENT("no last CRLF", "a\r\nb", -1, false, "line 2: the last line has no CR LF"),
};

static void
test_contents(void **state)
{
    char why[256];

    (void)state;
    for (size_t i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
        const struct content_row *r = &contents[i];
        bool e = false;

        print_message("%s\n", r->name);
        assert_int_equal(record_check_content(r->in, r->len, &e, why, sizeof(why)), r->want);
        if (r->want == 0)
            assert_int_equal(e, r->eight_bit);
        else
            assert_non_null(strstr(why, r->why));
    }
}

static void
test_long_line(void **state)
{
    char buf[1003], why[256];
    bool e;

    (void)state;
    memset(buf, 'x', 998);
    memcpy(buf + 998, "\r\n", 2);
    assert_int_equal(record_check_content(buf, 1000, &e, why, sizeof(why)), 0);
    memset(buf, 'x', 999);
    memcpy(buf + 999, "\r\n", 2);
    assert_int_equal(record_check_content(buf, 1001, &e, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "998"));
}

static void
test_format_round_trip(void **state)
{
    const char *rcpts[] = {"b@example.org", "Postmaster", "\"x y\"@example.net"};
    struct record_head h;
    size_t len;
    char why[256];
    char *s = record_format_head("a@example.com", rcpts, 3, 77, &len);

    (void)state;
    assert_int_equal(record_parse_head(s, len, &h, why, sizeof(why)), RECORD_OK);
    assert_int_equal(h.head_len, len);
    assert_string_equal(h.from, "a@example.com");
    assert_int_equal(h.n_rcpts, 3);
    assert_string_equal(h.rcpts[2], "\"x y\"@example.net");
    assert_int_equal(h.size, 77);
    record_head_clear(&h);
    free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heads),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_contents),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_format_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
