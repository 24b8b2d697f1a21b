/* SPDX-License-Identifier: MIT */
/*
 * Tests for the dot-stuffer (stuff.c): one table of contents and what goes
 * on the wire for each, with the end of data. Every row is fed whole, split
 * once at every position, and one octet at a time: every way of cutting the
 * content must give the same octets, each call within DELIVER_STUFF_MAX.
 * Hostile rows hold bare CR and bare LF (they go out as CRLF, so no fake
 * end of data gets through) and dots next to them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deliver/stuff.h"

#define S(lit) lit, sizeof(lit) - 1

static const struct {
    const char *in;
    size_t len;
    const char *out;
    size_t out_len;
} rows[] = {
    {S(""), S(".\r\n")},
    {S("a\r\n"), S("a\r\n.\r\n")},
    {S("a\r\nb\r\n"), S("a\r\nb\r\n.\r\n")},
    {S("\r\n"), S("\r\n.\r\n")},
    {S("\r\n\r\n"), S("\r\n\r\n.\r\n")},
    /* the last line lacks its CRLF */
    {S("a"), S("a\r\n.\r\n")},
    {S("a\r\nb"), S("a\r\nb\r\n.\r\n")},
    /* dot-stuffing (RFC 5321 4.5.2) */
    {S(".a\r\n"), S("..a\r\n.\r\n")},
    {S("."), S("..\r\n.\r\n")},
    {S(".\r\n"), S("..\r\n.\r\n")},
    {S("a\r\n.\r\n"), S("a\r\n..\r\n.\r\n")},
    {S("a\r\n.\r\nb\r\n"), S("a\r\n..\r\nb\r\n.\r\n")},
    {S("a\r\n.."), S("a\r\n...\r\n.\r\n")},
    {S("...\r\n"), S("....\r\n.\r\n")},
    {S("x.y.\r\n"), S("x.y.\r\n.\r\n")},
    {S("\r\n.\r\n.\r\n"), S("\r\n..\r\n..\r\n.\r\n")},
    /* octets pass as they are */
    {S("a\0b\r\n"), S("a\0b\r\n.\r\n")},
    {S("caf\xc3\xa9\r\n"), S("caf\xc3\xa9\r\n.\r\n")},
    {S(".\xff\r\n"), S("..\xff\r\n.\r\n")},
    /* hostile: bare LF and bare CR go out as CRLF */
    {S("a\nb"), S("a\r\nb\r\n.\r\n")},
    {S("a\n"), S("a\r\n.\r\n")},
    {S("a\n.\n"), S("a\r\n..\r\n.\r\n")},
    {S("a\n.\r\nMAIL FROM:<x>\r\n"), S("a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n")},
    {S("a\r\n.\nMAIL FROM:<x>\r\n"), S("a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n")},
    {S("a\r.\r"), S("a\r\n..\r\n.\r\n")},
    {S("a\r.\r\nb"), S("a\r\n..\r\nb\r\n.\r\n")},
    {S("a\r"), S("a\r\n.\r\n")},
    {S("\r"), S("\r\n.\r\n")},
    {S("\n"), S("\r\n.\r\n")},
    {S("\r\r\n"), S("\r\n\r\n.\r\n")},
    {S("\n\r"), S("\r\n\r\n.\r\n")},
    {S("\r\r"), S("\r\n\r\n.\r\n")},
    {S("\n."), S("\r\n..\r\n.\r\n")},
    {S("\r."), S("\r\n..\r\n.\r\n")},
    {S("a\n\n.\n\n"), S("a\r\n\r\n..\r\n\r\n.\r\n")},
};

/* Stuffs in cut at the positions in cuts (ascending), then the end. */
static size_t
run(const char *in, size_t len, const size_t *cuts, size_t n_cuts, char *out)
{
    struct deliver_stuff st;
    size_t o = 0, from = 0;

    deliver_stuff_init(&st);
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t to = i < n_cuts ? cuts[i] : len;
        size_t n = deliver_stuff(&st, in + from, to - from, out + o);

        assert_true(n <= DELIVER_STUFF_MAX(to - from));
        o += n;
        from = to;
    }
    o += deliver_stuff_end(&st, out + o);
    return o;
}

static void
check(size_t row, const char *how, const char *got, size_t got_len)
{
    if (got_len != rows[row].out_len || memcmp(got, rows[row].out, got_len) != 0) {
        fprintf(stderr, "row %zu (%s): got %zu octets\n", row, how, got_len);
        fail();
    }
}

static void
test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[256];
        size_t cuts[64];
        size_t len = rows[i].len;

        check(i, "whole", out, run(rows[i].in, len, NULL, 0, out));
        for (size_t at = 0; at <= len; at++) {
            cuts[0] = at;
            check(i, "split", out, run(rows[i].in, len, cuts, 1, out));
        }
        for (size_t k = 0; k < len; k++)
            cuts[k] = k + 1;
        check(i, "octets", out, run(rows[i].in, len, cuts, len, out));
    }
}

/* The worst case stays within DELIVER_STUFF_MAX: dots after line ends everywhere. */
static void
test_worst_case(void **state)
{
    static const char in[] = "\r.\r.\n.\n.\r\r..";
    char out[DELIVER_STUFF_MAX(sizeof(in))];
    struct deliver_stuff st;

    (void)state;
    deliver_stuff_init(&st);
    assert_true(deliver_stuff(&st, "\r", 1, out) == 0);
    assert_true(deliver_stuff(&st, ".", 1, out) <= DELIVER_STUFF_MAX(1));
    deliver_stuff_init(&st);
    assert_true(deliver_stuff(&st, in, sizeof(in) - 1, out) <= DELIVER_STUFF_MAX(sizeof(in) - 1));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_worst_case),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
