/* SPDX-License-Identifier: MIT */
/*
 * Tests for the DATA/BDAT scanner. One table of hostile rows (input and mode
 * -> emitted octets, flags, octets left unconsumed, done), fed whole, split
 * once and twice at every position, and one octet at a time: every way of
 * cutting the input must give the same result. The smuggling rows each hide
 * a fake end before the real CR LF "." CR LF (docs/data-scan.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/caps.h"
#include "smtp/data_scan.h"

struct piece {
    const char *p;
    size_t len;
};

/* A string literal with its length, so that rows may hold NUL octets. */
#define S(lit)                                                                                     \
    {                                                                                              \
        lit, sizeof(lit) - 1                                                                       \
    }

/*
 * Input is pre, then fill octets 'x', then post; the expected output is
 * built the same way. left is how many octets at the end stay unconsumed.
 */
struct row {
    const char *name;
    bool dot;
    struct piece pre;
    size_t fill;
    struct piece post;
    struct piece out_pre;
    size_t out_fill;
    struct piece out_post;
    unsigned flags;
    bool done;
    size_t left;
};

/* The longest text line without its CRLF (RFC 5321 4.5.3.1.6). */
#define MAXL (CAP_TEXT_LINE - 2)

#define DATA(n, in, out, fl, dn, lf)                                                               \
    {                                                                                              \
        .name = n, .dot = true, .pre = S(in), .out_pre = S(out), .flags = fl, .done = dn,          \
        .left = lf                                                                                 \
    }
#define BDAT(n, in, out, fl)                                                                       \
    {                                                                                              \
        .name = n, .dot = false, .pre = S(in), .out_pre = S(out), .flags = fl                      \
    }

static const struct row rows[] = {
    /* The end, and dot-stuffing (RFC 5321 4.1.1.4, 4.5.2). */
    DATA("empty message", ".\r\n", "", 0, true, 0),
    DATA("one line", "a\r\n.\r\n", "a\r\n", 0, true, 0),
    DATA("one empty line", "\r\n.\r\n", "\r\n", 0, true, 0),
    DATA("two lines", "a\r\nb\r\n.\r\n", "a\r\nb\r\n", 0, true, 0),
    DATA("stuffed dot", "..x\r\n.\r\n", ".x\r\n", 0, true, 0),
    DATA("stuffed lone dot", "a\r\n..\r\n.\r\n", "a\r\n.\r\n", 0, true, 0),
    DATA("stuffed dots", "...\r\n.\r\n", "..\r\n", 0, true, 0),
    DATA("dot mid-line", "x.y.\r\n.\r\n", "x.y.\r\n", 0, true, 0),
    DATA("stuffed then end", "..\r\n.\r\n", ".\r\n", 0, true, 0),
    DATA("no input", "", "", 0, false, 0),
    DATA("only a dot", ".", "", 0, false, 0),
    DATA("dot CR, held", "a\r\n.\r", "a\r\n", 0, false, 0),
    DATA("CR held", "a\r", "a\r", 0, false, 0),
    DATA("no end yet", "a\r\nb", "a\r\nb", 0, false, 0),

    /* ".\r" oddities: "." CR <not LF> is a stuffed line starting with a bare CR. */
    DATA("dot CR dot", ".\r.\r\n.\r\n", "\r.\r\n", DATA_BARE_CR, true, 0),
    DATA("dot CR CR LF", ".\r\r\n.\r\n", "\r\r\n", DATA_BARE_CR, true, 0),
    DATA("CRLF dot CR other", "a\r\n.\rx\r\n.\r\n", "a\r\n\rx\r\n", DATA_BARE_CR, true, 0),
    DATA("CRLF dot CR NUL", "a\r\n.\r\0\r\n.\r\n", "a\r\n\r\0\r\n", DATA_BARE_CR | DATA_NUL, true,
         0),
    DATA("CRLF dot CR CR LF", "a\r\n.\r\r\n.\r\n", "a\r\n\r\r\n", DATA_BARE_CR, true, 0),

    /* SMTP smuggling: each fake end is content; only the last line ends DATA. */
    DATA("LF dot LF", "a\n.\nMAIL FROM:<x>\r\n.\r\n", "a\n.\nMAIL FROM:<x>\r\n", DATA_BARE_LF, true,
         0),
    DATA("LF dot CRLF", "a\n.\r\nMAIL FROM:<x>\r\n.\r\n", "a\n.\r\nMAIL FROM:<x>\r\n", DATA_BARE_LF,
         true, 0),
    DATA("CR dot CR", "a\r.\rMAIL FROM:<x>\r\n.\r\n", "a\r.\rMAIL FROM:<x>\r\n", DATA_BARE_CR, true,
         0),
    DATA("CR dot CRLF", "a\r.\r\nMAIL FROM:<x>\r\n.\r\n", "a\r.\r\nMAIL FROM:<x>\r\n", DATA_BARE_CR,
         true, 0),
    DATA("CRLF dot LF", "a\r\n.\nMAIL FROM:<x>\r\n.\r\n", "a\r\n\nMAIL FROM:<x>\r\n", DATA_BARE_LF,
         true, 0),
    DATA("CRLF dot CR other smuggle", "a\r\n.\rMAIL FROM:<x>\r\n.\r\n", "a\r\n\rMAIL FROM:<x>\r\n",
         DATA_BARE_CR, true, 0),
    DATA("dot LF at start", ".\nMAIL FROM:<x>\r\n.\r\n", "\nMAIL FROM:<x>\r\n", DATA_BARE_LF, true,
         0),
    DATA("LF dot CRLF at start", "\n.\r\nMAIL FROM:<x>\r\n.\r\n", "\n.\r\nMAIL FROM:<x>\r\n",
         DATA_BARE_LF, true, 0),
    DATA("LF LF dot LF LF", "a\n\n.\n\nMAIL FROM:<x>\r\n.\r\n", "a\n\n.\n\nMAIL FROM:<x>\r\n",
         DATA_BARE_LF, true, 0),
    DATA("CR LF LF dot CRLF", "a\r\n\n.\r\nb\r\n.\r\n", "a\r\n\n.\r\nb\r\n", DATA_BARE_LF, true, 0),
    DATA("CR NUL LF dot CRLF", "a\r\0\n.\r\nb\r\n.\r\n", "a\r\0\n.\r\nb\r\n",
         DATA_BARE_CR | DATA_NUL | DATA_BARE_LF, true, 0),
    DATA("CR CR LF dot CRLF ends", "a\r\r\n.\r\nX", "a\r\r\n", DATA_BARE_CR, true, 1),
    DATA("LF dot LF never ends", "a\n.\n", "a\n.\n", DATA_BARE_LF, false, 0),
    DATA("LF dot CRLF never ends", "a\n.\r\n", "a\n.\r\n", DATA_BARE_LF, false, 0),
    DATA("CR dot CR never ends", "a\r.\r", "a\r.\r", DATA_BARE_CR, false, 0),
    DATA("CRLF dot LF never ends", "a\r\n.\n", "a\r\n\n", DATA_BARE_LF, false, 0),

    /* NUL and 8-bit octets. */
    DATA("NUL", "a\0b\r\n.\r\n", "a\0b\r\n", DATA_NUL, true, 0),
    DATA("NULs", "\0\0\r\n\0.\r\n.\r\n", "\0\0\r\n\0.\r\n", DATA_NUL, true, 0),
    DATA("8-bit", "caf\xc3\xa9\r\n.\r\n", "caf\xc3\xa9\r\n", DATA_8BIT, true, 0),
    DATA("8-bit stuffed", ".\xff\r\n.\r\n", "\xff\r\n", DATA_8BIT, true, 0),
    DATA("8-bit in a long run", "abcdefghijklmnop\xe9qrstuvwxyz0123456789\r\n.\r\n",
         "abcdefghijklmnop\xe9qrstuvwxyz0123456789\r\n", DATA_8BIT, true, 0),
    DATA("NUL in a long run", "abcdefghijklmnop\0qrstuvwxyz0123456789\r\n.\r\n",
         "abcdefghijklmnop\0qrstuvwxyz0123456789\r\n", DATA_NUL, true, 0),
    DATA("LF in a long run", "abcdefghijklmnop\nqrstuvwxyz0123456789\r\n.\r\n",
         "abcdefghijklmnop\nqrstuvwxyz0123456789\r\n", DATA_BARE_LF, true, 0),
    DATA("CR in a long run", "abcdefghijklmnop\rqrstuvwxyz0123456789\r\n.\r\n",
         "abcdefghijklmnop\rqrstuvwxyz0123456789\r\n", DATA_BARE_CR, true, 0),
    DATA("8-bit after CR", "\r\x80\r\n.\r\n", "\r\x80\r\n", DATA_8BIT | DATA_BARE_CR, true, 0),

    /* Octets after the end belong to the command parser. */
    DATA("pipelined QUIT", "a\r\n.\r\nQUIT\r\n", "a\r\n", 0, true, 6),
    DATA("second end", "a\r\n.\r\n.\r\n", "a\r\n", 0, true, 3),
    DATA("empty then MAIL", ".\r\nMAIL FROM:<a@b>\r\n", "", 0, true, 17),
    DATA("end then bad octets", "a\r\n.\r\n\n\0\r", "a\r\n", 0, true, 3),

    /* Line length counts wire octets: a stuffing dot and the CR LF too. */
    {.name = "1000-octet line",
     .dot = true,
     .fill = MAXL,
     .post = S("\r\n.\r\n"),
     .out_fill = MAXL,
     .out_post = S("\r\n"),
     .done = true},
    {.name = "1001-octet line",
     .dot = true,
     .fill = MAXL + 1,
     .post = S("\r\n.\r\n"),
     .out_fill = MAXL + 1,
     .out_post = S("\r\n"),
     .flags = DATA_LONG_LINE,
     .done = true},
    /* RFC 5321 4.5.3.1.6: the stuffing dot is not counted. */
    {.name = "1000 plus a stuffing dot",
     .dot = true,
     .pre = S("."),
     .fill = MAXL,
     .post = S("\r\n.\r\n"),
     .out_fill = MAXL,
     .out_post = S("\r\n"),
     .done = true},
    {.name = "1001 plus a stuffing dot",
     .dot = true,
     .pre = S("."),
     .fill = MAXL + 1,
     .post = S("\r\n.\r\n"),
     .out_fill = MAXL + 1,
     .out_post = S("\r\n"),
     .flags = DATA_LONG_LINE,
     .done = true},
    {.name = "1000 after a line",
     .dot = true,
     .pre = S("a\r\n"),
     .fill = MAXL,
     .post = S("\r\nb\r\n.\r\n"),
     .out_pre = S("a\r\n"),
     .out_fill = MAXL,
     .out_post = S("\r\nb\r\n"),
     .done = true},
    {.name = "1001 after a line",
     .dot = true,
     .pre = S("a\r\n"),
     .fill = MAXL + 1,
     .post = S("\r\n.\r\n"),
     .out_pre = S("a\r\n"),
     .out_fill = MAXL + 1,
     .out_post = S("\r\n"),
     .flags = DATA_LONG_LINE,
     .done = true},
    {.name = "bare LF does not end a line",
     .dot = true,
     .pre = S("\n"),
     .fill = MAXL,
     .post = S("\r\n.\r\n"),
     .out_pre = S("\n"),
     .out_fill = MAXL,
     .out_post = S("\r\n"),
     .flags = DATA_BARE_LF | DATA_LONG_LINE,
     .done = true},
    {.name = "bare CR counts",
     .dot = true,
     .fill = MAXL,
     .post = S("\r\r\n.\r\n"),
     .out_fill = MAXL,
     .out_post = S("\r\r\n"),
     .flags = DATA_BARE_CR | DATA_LONG_LINE,
     .done = true},
    {.name = "long line hides no end",
     .dot = true,
     .fill = 3000,
     .post = S("\n.\nx\r\n.\r\n"),
     .out_fill = 3000,
     .out_post = S("\n.\nx\r\n"),
     .flags = DATA_BARE_LF | DATA_LONG_LINE,
     .done = true},

    /* BDAT: no dots, no end, the same flags. */
    BDAT("bdat text", "a\r\nb", "a\r\nb", 0),
    BDAT("bdat empty", "", "", 0),
    BDAT("bdat keeps dots", "..x\r\n.\r\n", "..x\r\n.\r\n", 0),
    BDAT("bdat end is content", ".\r\nMAIL FROM:<x>\r\n", ".\r\nMAIL FROM:<x>\r\n", 0),
    BDAT("bdat trailing CR", "a\r", "a\r", DATA_BARE_CR),
    BDAT("bdat lone CR", "\r", "\r", DATA_BARE_CR),
    BDAT("bdat CR CR LF", "\r\r\n", "\r\r\n", DATA_BARE_CR),
    BDAT("bdat bare LF", "a\nb\r\n", "a\nb\r\n", DATA_BARE_LF),
    BDAT("bdat NUL 8-bit", "\0\xe9\r\n", "\0\xe9\r\n", DATA_NUL | DATA_8BIT),
    {.name = "bdat 1000-octet line",
     .fill = MAXL,
     .post = S("\r\n"),
     .out_fill = MAXL,
     .out_post = S("\r\n")},
    {.name = "bdat 1001-octet line",
     .fill = MAXL + 1,
     .post = S("\r\n"),
     .out_fill = MAXL + 1,
     .out_post = S("\r\n"),
     .flags = DATA_LONG_LINE},
    {.name = "bdat unterminated 998",
     .pre = S("a\r\n"),
     .fill = MAXL,
     .out_pre = S("a\r\n"),
     .out_fill = MAXL},
    {.name = "bdat unterminated 999",
     .fill = MAXL + 1,
     .out_fill = MAXL + 1,
     .flags = DATA_LONG_LINE},
    {.name = "bdat 998 then trailing CR",
     .fill = MAXL,
     .post = S("\r"),
     .out_fill = MAXL,
     .out_post = S("\r"),
     .flags = DATA_BARE_CR | DATA_LONG_LINE},
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

/* Collects what the scanner emits. */
struct sink {
    char *p;
    size_t len;
    size_t cap;
    size_t calls;
};

static void
sink_emit(void *arg, const char *p, size_t len)
{
    struct sink *s = arg;

    assert_true(len > 0);
    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2;
        s->p = realloc(s->p, s->cap);
        assert_non_null(s->p);
    }
    memcpy(s->p + s->len, p, len);
    s->len += len;
    s->calls++;
}

struct outcome {
    struct sink out;
    unsigned flags;
    size_t consumed;
    bool done;
};

static char *
build(struct piece pre, size_t fill, struct piece post, size_t *len)
{
    char *p = malloc(pre.len + fill + post.len + 1);

    assert_non_null(p);
    if (pre.len > 0)
        memcpy(p, pre.p, pre.len);
    memset(p + pre.len, 'x', fill);
    if (post.len > 0)
        memcpy(p + pre.len + fill, post.p, post.len);
    *len = pre.len + fill + post.len;
    return p;
}

/*
 * Feeds in[0..n) cut at the ncuts positions in cuts (ascending, each in
 * 0..n) and fills o. Checks the feed contract on the way: everything is
 * consumed until done, and nothing after.
 */
static void
scan_cut(bool dot, const char *in, size_t n, const size_t *cuts, size_t ncuts, struct outcome *o)
{
    struct data_scan ds;
    size_t from = 0;

    memset(o, 0, sizeof(*o));
    data_scan_init(&ds, dot, sink_emit, &o->out);
    for (size_t k = 0; k <= ncuts; k++) {
        size_t to = k < ncuts ? cuts[k] : n;
        bool was_done = ds.done;
        size_t got = data_scan_feed(&ds, in + from, to - from);

        if (was_done)
            assert_int_equal(got, 0);
        else if (!ds.done)
            assert_int_equal(got, to - from);
        else
            assert_true(got >= 1 && got <= to - from);
        o->consumed += got;
        from = to;
    }
    if (!dot)
        data_scan_finish(&ds);
    o->flags = ds.flags;
    o->done = ds.done;
}

static void
check_same(const struct row *r, const char *how, const struct outcome *want,
           const struct outcome *got)
{
    if (got->out.len != want->out.len ||
        (want->out.len > 0 && memcmp(got->out.p, want->out.p, want->out.len) != 0))
        fail_msg("%s (%s): emitted %zu octets, want %zu", r->name, how, got->out.len,
                 want->out.len);
    if (got->flags != want->flags)
        fail_msg("%s (%s): flags %#x, want %#x", r->name, how, got->flags, want->flags);
    if (got->consumed != want->consumed)
        fail_msg("%s (%s): consumed %zu, want %zu", r->name, how, got->consumed, want->consumed);
    if (got->done != want->done)
        fail_msg("%s (%s): done %d, want %d", r->name, how, got->done, want->done);
}

static void
expected(const struct row *r, size_t n, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->out.p = build(r->out_pre, r->out_fill, r->out_post, &o->out.len);
    o->flags = r->flags;
    o->consumed = n - r->left;
    o->done = r->done;
}

static void
test_rows_whole(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++) {
        const struct row *r = &rows[i];
        struct outcome want, got;
        size_t n;
        char *in = build(r->pre, r->fill, r->post, &n);

        expected(r, n, &want);
        scan_cut(r->dot, in, n, NULL, 0, &got);
        check_same(r, "whole", &want, &got);
        free(got.out.p);
        free(want.out.p);
        free(in);
    }
}

static void
test_rows_one_cut(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++) {
        const struct row *r = &rows[i];
        struct outcome want, got;
        size_t n;
        char *in = build(r->pre, r->fill, r->post, &n);

        expected(r, n, &want);
        for (size_t c = 0; c <= n; c++) {
            scan_cut(r->dot, in, n, &c, 1, &got);
            check_same(r, "one cut", &want, &got);
            free(got.out.p);
        }
        free(want.out.p);
        free(in);
    }
}

/*
 * The positions worth cutting at: all of a short input; for a long one the
 * edges of pre, fill and post (the middle of a fill is all alike).
 */
static size_t
cut_points(const struct row *r, size_t n, size_t *pos)
{
    size_t k = 0;

    for (size_t c = 0; c <= n; c++) {
        bool near_edge = c <= r->pre.len + 4 || c + r->post.len + 4 >= n;

        if (n <= 64 || near_edge)
            pos[k++] = c;
    }
    return k;
}

static void
test_rows_two_cuts(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++) {
        const struct row *r = &rows[i];
        struct outcome want, got;
        size_t n, npos;
        char *in = build(r->pre, r->fill, r->post, &n);
        size_t *pos = malloc((n + 1) * sizeof(*pos));

        assert_non_null(pos);
        expected(r, n, &want);
        npos = cut_points(r, n, pos);
        for (size_t a = 0; a < npos; a++) {
            for (size_t b = a; b < npos; b++) {
                size_t cuts[2] = {pos[a], pos[b]};

                scan_cut(r->dot, in, n, cuts, 2, &got);
                check_same(r, "two cuts", &want, &got);
                free(got.out.p);
            }
        }
        free(pos);
        free(want.out.p);
        free(in);
    }
}

static void
test_rows_octet_by_octet(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++) {
        const struct row *r = &rows[i];
        struct outcome want, got;
        size_t n;
        char *in = build(r->pre, r->fill, r->post, &n);
        size_t *cuts = malloc((n + 1) * sizeof(*cuts));

        assert_non_null(cuts);
        for (size_t c = 0; c < n; c++)
            cuts[c] = c + 1;
        expected(r, n, &want);
        scan_cut(r->dot, in, n, cuts, n, &got);
        check_same(r, "octet by octet", &want, &got);
        free(got.out.p);
        free(cuts);
        free(want.out.p);
        free(in);
    }
}

/* After the end, a feed consumes and emits nothing, and the flags stay. */
static void
test_nothing_after_end(void **state)
{
    struct sink out = {0};
    struct data_scan ds;

    (void)state;
    data_scan_init(&ds, true, sink_emit, &out);
    assert_int_equal(data_scan_feed(&ds, "a\n\r\n.\r\nb", 8), 7);
    assert_true(ds.done);
    assert_int_equal(data_scan_feed(&ds, "\0\r\n.\r\n", 6), 0);
    assert_int_equal(data_scan_feed(&ds, "x", 1), 0);
    assert_int_equal(ds.flags, DATA_BARE_LF);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.p, "a\n\r\n", 4);
    free(out.p);
}

/* BDAT chunks: a CR at the end of one chunk and an LF at the start of the
 * next are a line end; a CR at the end of the last chunk is bare. */
static void
test_bdat_cr_across_chunks(void **state)
{
    struct sink out = {0};
    struct data_scan ds;

    (void)state;
    data_scan_init(&ds, false, sink_emit, &out);
    assert_int_equal(data_scan_feed(&ds, "a\r", 2), 2);
    assert_int_equal(data_scan_feed(&ds, "\nb\r", 3), 3);
    assert_int_equal(ds.flags, 0);
    assert_int_equal(data_scan_feed(&ds, "\n", 1), 1);
    assert_int_equal(data_scan_feed(&ds, "c\r", 2), 2);
    assert_int_equal(ds.flags, 0);
    data_scan_finish(&ds);
    assert_int_equal(ds.flags, DATA_BARE_CR);
    assert_false(ds.done);
    assert_int_equal(out.len, 8);
    assert_memory_equal(out.p, "a\r\nb\r\nc\r", 8);
    free(out.p);
}

/* The hot path: a long run of ordinary octets is one emit call. */
static void
test_long_run_one_emit(void **state)
{
    static char text[4096];
    struct sink out = {0};
    struct data_scan ds;

    (void)state;
    memset(text, 'x', sizeof(text));
    for (size_t i = 0; i + 2 < sizeof(text); i += 72) {
        text[i] = '\r';
        text[i + 1] = '\n';
    }
    data_scan_init(&ds, false, sink_emit, &out);
    assert_int_equal(data_scan_feed(&ds, text, sizeof(text)), sizeof(text));
    assert_int_equal(out.calls, 1);
    assert_int_equal(ds.flags, 0);
    free(out.p);

    /* DATA: one call per feed, plus one per stuffing dot removed. */
    memset(&out, 0, sizeof(out));
    data_scan_init(&ds, true, sink_emit, &out);
    assert_int_equal(data_scan_feed(&ds, text, sizeof(text)), sizeof(text));
    assert_int_equal(out.calls, 1);
    assert_int_equal(data_scan_feed(&ds, "\r\n..a\r\nb\r\n", 10), 10);
    assert_int_equal(out.calls, 3);
    free(out.p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_whole),        cmocka_unit_test(test_rows_one_cut),
        cmocka_unit_test(test_rows_two_cuts),     cmocka_unit_test(test_rows_octet_by_octet),
        cmocka_unit_test(test_nothing_after_end), cmocka_unit_test(test_bdat_cr_across_chunks),
        cmocka_unit_test(test_long_run_one_emit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
