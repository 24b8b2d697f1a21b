/* SPDX-License-Identifier: MIT */
/*
 * Tests for the client's reply reader (reply.c): one table of replies, the
 * lines of each separated by '\n' here, with the reader's verdict, code,
 * enhanced code and joined text; hostile rows break the grammar, change the
 * code between lines or mismatch the enhanced code's class. The caps (lines,
 * octets, line length) have their own tests with generated replies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deliver/reply.h"
#include "lib/caps.h"

/* A string literal with its length, so that rows may hold NUL octets. */
#define S(lit) lit, sizeof(lit) - 1

static const struct {
    const char *in;
    size_t len;
    enum deliver_reply_rc rc;
    unsigned lines; /* lines read when the verdict came */
    unsigned code;
    const char *enhanced;
    bool has_enhanced;
    const char *text;
} rows[] = {
    /* Well-formed replies (RFC 5321 4.2). */
    {S("250 ok"), DELIVER_REPLY_LAST, 1, 250, "2.0.0", false, "250 ok"},
    {S("250"), DELIVER_REPLY_LAST, 1, 250, "2.0.0", false, "250"},
    {S("250 "), DELIVER_REPLY_LAST, 1, 250, "2.0.0", false, "250"},
    {S("220 mx.example.net ESMTP"), DELIVER_REPLY_LAST, 1, 220, "2.0.0", false,
     "220 mx.example.net ESMTP"},
    {S("250-a\n250 b"), DELIVER_REPLY_LAST, 2, 250, "2.0.0", false, "250 a b"},
    {S("250-a\n250-\n250 b"), DELIVER_REPLY_LAST, 3, 250, "2.0.0", false, "250 a b"},
    {S("250-a\n250"), DELIVER_REPLY_LAST, 2, 250, "2.0.0", false, "250 a"},
    {S("354 End data with <CR><LF>.<CR><LF>"), DELIVER_REPLY_LAST, 1, 354, "", false,
     "354 End data with <CR><LF>.<CR><LF>"},
    {S("421 4.3.2 Service not available"), DELIVER_REPLY_LAST, 1, 421, "4.3.2", true,
     "421 4.3.2 Service not available"},
    {S("559 x"), DELIVER_REPLY_LAST, 1, 559, "5.0.0", false, "559 x"},

    /* Enhanced codes (RFC 2034, RFC 3463). */
    {S("550 5.1.1 <x@y>: no such user"), DELIVER_REPLY_LAST, 1, 550, "5.1.1", true,
     "550 5.1.1 <x@y>: no such user"},
    {S("550 5.1.1"), DELIVER_REPLY_LAST, 1, 550, "5.1.1", true, "550 5.1.1"},
    {S("250 2.123.999 ok"), DELIVER_REPLY_LAST, 1, 250, "2.123.999", true, "250 2.123.999 ok"},
    {S("550-5.1.1 first\n550 5.1.1 second"), DELIVER_REPLY_LAST, 2, 550, "5.1.1", true,
     "550 5.1.1 first second"},
    {S("550-5.1.1 first\n550-5.1.1\n550 5.1.1 second"), DELIVER_REPLY_LAST, 3, 550, "5.1.1", true,
     "550 5.1.1 first second"},
    {S("550-5.1.1 a\n550-5.2.2 b\n550 c"), DELIVER_REPLY_LAST, 3, 550, "5.1.1", true,
     "550 5.1.1 a 5.2.2 b c"},
    {S("550-first\n550 5.1.1 second"), DELIVER_REPLY_LAST, 2, 550, "5.0.0", false,
     "550 first 5.1.1 second"},
    /* hostile: the class does not match the code, or the code is not one */
    {S("250 5.1.1 ok"), DELIVER_REPLY_LAST, 1, 250, "2.0.0", false, "250 5.1.1 ok"},
    {S("550 2.0.0 ok"), DELIVER_REPLY_LAST, 1, 550, "5.0.0", false, "550 2.0.0 ok"},
    {S("450 5.1.1 x"), DELIVER_REPLY_LAST, 1, 450, "4.0.0", false, "450 5.1.1 x"},
    {S("550 5.1.1x"), DELIVER_REPLY_LAST, 1, 550, "5.0.0", false, "550 5.1.1x"},
    {S("550 5.1.1.1 x"), DELIVER_REPLY_LAST, 1, 550, "5.0.0", false, "550 5.1.1.1 x"},
    {S("550 5.1234.1 x"), DELIVER_REPLY_LAST, 1, 550, "5.0.0", false, "550 5.1234.1 x"},
    {S("550 5.1.1234 x"), DELIVER_REPLY_LAST, 1, 550, "5.0.0", false, "550 5.1.1234 x"},
    {S("550 6.1.1 x"), DELIVER_REPLY_LAST, 1, 550, "5.0.0", false, "550 6.1.1 x"},
    {S("550 3.1.1 x"), DELIVER_REPLY_LAST, 1, 550, "5.0.0", false, "550 3.1.1 x"},
    {S("550 5..1 x"), DELIVER_REPLY_LAST, 1, 550, "5.0.0", false, "550 5..1 x"},
    {S("550 5.1. x"), DELIVER_REPLY_LAST, 1, 550, "5.0.0", false, "550 5.1. x"},
    {S("550 5.1 x"), DELIVER_REPLY_LAST, 1, 550, "5.0.0", false, "550 5.1 x"},
    {S("550 .5.1.1 x"), DELIVER_REPLY_LAST, 1, 550, "5.0.0", false, "550 .5.1.1 x"},
    {S("550 5.1.1\tx"), DELIVER_REPLY_LAST, 1, 550, "5.0.0", false, "550 5.1.1 x"},
    {S("354 5.0.0 go"), DELIVER_REPLY_LAST, 1, 354, "", false, "354 5.0.0 go"},

    /* Text: printable ASCII stays, TAB is a space, the rest is dropped. */
    {S("250 tab\there"), DELIVER_REPLY_LAST, 1, 250, "2.0.0", false, "250 tab here"},
    {S("250 caf\xc3\xa9"), DELIVER_REPLY_LAST, 1, 250, "2.0.0", false, "250 caf"},
    {S("250 a\0b"), DELIVER_REPLY_LAST, 1, 250, "2.0.0", false, "250 ab"},
    {S("250 a\rb"), DELIVER_REPLY_LAST, 1, 250, "2.0.0", false, "250 ab"},
    {S("250 \x1b[31mred"), DELIVER_REPLY_LAST, 1, 250, "2.0.0", false, "250 [31mred"},
    {S("250 \x7f\xff"), DELIVER_REPLY_LAST, 1, 250, "2.0.0", false, "250 "},

    /* hostile: not reply lines */
    {S(""), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("25"), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("2500 x"), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("250x"), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("250_x"), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("250\tx"), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S(" 250 x"), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("150 x"), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("650 x"), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("050 x"), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("260 x"), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("599 x"), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("2a0 x"), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("25a x"), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("-250 x"), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("\0"
       "250 x"),
     DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("HTTP/1.1 400 Bad Request"), DELIVER_REPLY_BAD, 1, 0, "", false, NULL},
    {S("250-a\nxyz"), DELIVER_REPLY_BAD, 2, 250, "", false, NULL},
    {S("250-a\n"), DELIVER_REPLY_BAD, 2, 250, "", false, NULL},
    /* hostile: mixed codes across lines (RFC 5321 4.2.1) */
    {S("250-a\n251 b"), DELIVER_REPLY_BAD, 2, 250, "", false, NULL},
    {S("250-a\n550 b"), DELIVER_REPLY_BAD, 2, 250, "", false, NULL},
    {S("550-5.1.1 a\n250 2.0.0 b"), DELIVER_REPLY_BAD, 2, 550, "5.1.1", true, NULL},
    {S("250-a\n250-b\n252 c"), DELIVER_REPLY_BAD, 3, 250, "", false, NULL},
};

/* Feeds the '\n'-separated lines of a row until a verdict. */
static enum deliver_reply_rc
feed(struct deliver_reply *r, const char *in, size_t len, unsigned *lines)
{
    const char *p = in, *end = in + len;

    *lines = 0;
    deliver_reply_init(r);
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        enum deliver_reply_rc rc;

        (*lines)++;
        rc = deliver_reply_add(r, slice_make(p, n), NULL);
        if (rc != DELIVER_REPLY_MORE || nl == NULL)
            return rc;
        p = nl + 1;
    }
}

static void
test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct deliver_reply r;
        unsigned lines;
        enum deliver_reply_rc rc = feed(&r, rows[i].in, rows[i].len, &lines);
        bool ok = rc == rows[i].rc && lines == rows[i].lines && r.code == rows[i].code &&
                  strcmp(r.enhanced, rows[i].enhanced) == 0 &&
                  r.has_enhanced == rows[i].has_enhanced &&
                  (rows[i].text == NULL || strcmp(r.text, rows[i].text) == 0) &&
                  (rc != DELIVER_REPLY_BAD || r.error != NULL) && r.text_len == strlen(r.text);

        if (!ok) {
            fprintf(stderr, "row %zu: rc %d lines %u code %u enhanced \"%s\" (%d) text \"%s\"\n", i,
                    (int)rc, lines, r.code, r.enhanced, r.has_enhanced, r.text);
            fail();
        }
    }
}

/* The text after the code goes to the caller (the EHLO keywords). */
static void
test_line_text(void **state)
{
    struct deliver_reply r;
    struct slice t;

    (void)state;
    deliver_reply_init(&r);
    assert_int_equal(deliver_reply_add(&r, slice_make(S("250-mx.example.net hi")), &t),
                     DELIVER_REPLY_MORE);
    assert_int_equal(t.len, strlen("mx.example.net hi"));
    assert_memory_equal(t.p, "mx.example.net hi", t.len);
    assert_int_equal(deliver_reply_add(&r, slice_make(S("250-SIZE 100")), &t), DELIVER_REPLY_MORE);
    assert_int_equal(t.len, 8);
    assert_memory_equal(t.p, "SIZE 100", 8);
    assert_int_equal(deliver_reply_add(&r, slice_make(S("250")), &t), DELIVER_REPLY_LAST);
    assert_int_equal(t.len, 0);
}

/* CAP_REPLY_LINES lines are a reply; one more is a protocol error. */
static void
test_line_cap(void **state)
{
    struct deliver_reply r;

    (void)state;
    deliver_reply_init(&r);
    for (unsigned i = 1; i < CAP_REPLY_LINES; i++)
        assert_int_equal(deliver_reply_add(&r, slice_make(S("250-x")), NULL), DELIVER_REPLY_MORE);
    assert_int_equal(deliver_reply_add(&r, slice_make(S("250 x")), NULL), DELIVER_REPLY_LAST);
    assert_int_equal(r.n_lines, CAP_REPLY_LINES);

    /* An endless reply: refused at the first line over the cap. */
    deliver_reply_init(&r);
    for (unsigned i = 0; i < CAP_REPLY_LINES; i++)
        assert_int_equal(deliver_reply_add(&r, slice_make(S("250-x")), NULL), DELIVER_REPLY_MORE);
    assert_int_equal(deliver_reply_add(&r, slice_make(S("250-x")), NULL), DELIVER_REPLY_BAD);
    assert_string_equal(r.error, "too many reply lines");
    assert_int_equal(r.n_lines, CAP_REPLY_LINES);
}

/* CAP_REPLY octets in all, CAP_REPLY_LINE octets a line (CRLF included). */
static void
test_octet_caps(void **state)
{
    static char line[CAP_REPLY_LINE + 8];
    struct deliver_reply r;
    size_t max = CAP_REPLY_LINE - 2, n = 0;

    (void)state;
    memset(line, 'x', sizeof(line));
    memcpy(line, "250-", 4);

    deliver_reply_init(&r);
    assert_int_equal(deliver_reply_add(&r, slice_make(line, max), NULL), DELIVER_REPLY_MORE);
    assert_int_equal(deliver_reply_add(&r, slice_make(line, max + 1), NULL), DELIVER_REPLY_BAD);
    assert_string_equal(r.error, "reply line too long");

    /* Long lines until the octets run out: fewer than CAP_REPLY_LINES lines. */
    deliver_reply_init(&r);
    while (r.octets + max + 2 <= CAP_REPLY) {
        assert_int_equal(deliver_reply_add(&r, slice_make(line, max), NULL), DELIVER_REPLY_MORE);
        n++;
    }
    assert_true(n < CAP_REPLY_LINES);
    assert_int_equal(deliver_reply_add(&r, slice_make(line, max), NULL), DELIVER_REPLY_BAD);
    assert_string_equal(r.error, "reply too long");
    assert_true(r.octets <= CAP_REPLY);
}

/* A text longer than DELIVER_TEXT_MAX is cut and marked. */
static void
test_text_cut(void **state)
{
    static char line[1200];
    struct deliver_reply r;

    (void)state;
    memset(line, 'y', sizeof(line));
    memcpy(line, "550 5.7.1 ", 10);
    deliver_reply_init(&r);
    assert_int_equal(deliver_reply_add(&r, slice_make(line, sizeof(line)), NULL),
                     DELIVER_REPLY_LAST);
    assert_int_equal(r.text_len, DELIVER_TEXT_MAX - 1);
    assert_int_equal(strlen(r.text), DELIVER_TEXT_MAX - 1);
    assert_memory_equal(r.text + r.text_len - 3, "...", 3);
    assert_string_equal(r.enhanced, "5.7.1");

    /* Later lines add nothing once cut. */
    deliver_reply_init(&r);
    line[3] = '-';
    assert_int_equal(deliver_reply_add(&r, slice_make(line, sizeof(line)), NULL),
                     DELIVER_REPLY_MORE);
    assert_int_equal(deliver_reply_add(&r, slice_make(S("550 5.7.1 more")), NULL),
                     DELIVER_REPLY_LAST);
    assert_int_equal(r.text_len, DELIVER_TEXT_MAX - 1);
    assert_memory_equal(r.text + r.text_len - 3, "...", 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),     cmocka_unit_test(test_line_text),
        cmocka_unit_test(test_line_cap), cmocka_unit_test(test_octet_caps),
        cmocka_unit_test(test_text_cut),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
