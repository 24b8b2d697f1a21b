/* SPDX-License-Identifier: MIT */
/*
 * Tests for the log helpers that peer bytes go through: log_quote(),
 * log_angle(), log_auth_shown() and the dialogue lines (written to a file
 * that stands in for standard error). Every table has hostile rows: quotes
 * and escapes that would forge fields, control and 8-bit octets, AUTH lines
 * that break the grammar and must keep their secret all the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/caps.h"
#include "lib/log.h"

#define S(lit) lit, sizeof(lit) - 1

struct angle_row {
    const char *in;
    size_t len;
    const char *out;
};

static const struct angle_row angle_rows[] = {
    {S("a@b.example"), "<a@b.example>"},
    {S(""), "<>"}, /* the null sender */
    {S("Postmaster"), "<Postmaster>"},
    {S("a+tag=x@[192.0.2.1]"), "<a+tag=x@[192.0.2.1]>"},
    /* What a key=value reader could trip on: quoted as a whole. */
    {S("\"a b\"@x"), "\"<\\\"a b\\\"@x>\""},
    {S("a,status=sent@x"), "\"<a,status=sent@x>\""},
    {S("x>, to=<v@x"), "\"<x>, to=<v@x>\""},
    {S("a\\b@x"), "\"<a\\\\b@x>\""},
    {S("caf\xc3\xa9@x"), "\"<caf\\xc3\\xa9@x>\""},
    {S("a\x1b[31m@x"), "\"<a\\x1b[31m@x>\""},
    {S("a\0b@x"), "\"<a\\x00b@x>\""},
    {S("a\x7f@x"), "\"<a\\x7f@x>\""},
    {S("a\tb@x"), "\"<a\\x09b@x>\""},
    {S("a\r\nb@x"), "\"<a\\x0d\\x0ab@x>\""},
};

static void
test_angle(void **state)
{
    char buf[LOG_ANGLE_CAP];

    (void)state;
    for (size_t i = 0; i < sizeof(angle_rows) / sizeof(angle_rows[0]); i++) {
        const struct angle_row *r = &angle_rows[i];

        if (strcmp(log_angle(buf, sizeof(buf), r->in, r->len), r->out) != 0)
            fail_msg("row %zu: got [%s], want [%s]", i, buf, r->out);
    }
}

/* The longest plain value, one octet more, and the worst case fits its buffer. */
static void
test_angle_lengths(void **state)
{
    char in[4 * CAP_LOG_PEER], buf[LOG_ANGLE_CAP];

    (void)state;
    memset(in, 'a', sizeof(in));
    assert_int_equal(strlen(log_angle(buf, sizeof(buf), in, CAP_LOG_PEER)), CAP_LOG_PEER + 2);
    assert_int_equal(buf[0], '<');
    (void)log_angle(buf, sizeof(buf), in, CAP_LOG_PEER + 1);
    assert_memory_equal(buf, "\"<aaa", 5);
    assert_string_equal(buf + strlen(buf) - 5, "...>\"");
    memset(in, 0xff, sizeof(in));
    (void)log_angle(buf, sizeof(buf), in, sizeof(in));
    assert_int_equal(strlen(buf), 2 + 4 * CAP_LOG_PEER + 3 + 2);
}

struct auth_row {
    const char *in;
    size_t len;
    size_t shown;
};

static const struct auth_row auth_rows[] = {
    {S("AUTH PLAIN AGJvYgBiYXR0ZXJ5IHN0YXBsZQ=="), 10},
    {S("auth plain AGJvYgBi"), 10},
    {S("AUTH LOGIN"), 10},
    {S("AUTH LOGIN Ym9i"), 10},
    {S("AUTH SCRAM-SHA-256 biwsbj1ib2I="), 18},
    {S("AUTH X_Y-Z1 abc"), 11},
    {S("AUTH PLAIN ="), 10},
    /* Not a command: nothing to hold back. */
    {S("EHLO client.test"), 0},
    {S("AUTHX PLAIN abc"), 0},
    {S("AUTH"), 0},
    {S(" AUTH PLAIN abc"), 0},
    {S(""), 0},
    /* Broken AUTH lines keep their secret: only "AUTH" is shown. */
    {S("AUTH AGJvYgBiYXR0ZXJ5IHN0YXBsZQ=="), 4}, /* the response as mechanism: 32 octets */
    {S("AUTH PLAIN\tAGJvYgBi"), 4},
    {S("AUTH PLAIN\0AGJvYgBi"), 4},
    {S("AUTH PL@IN AGJvYgBi"), 4},
    {S("AUTH  PLAIN AGJvYgBi"), 4},
    {S("AUTH ABCDEFGHIJKLMNOPQRST x"), 25},
    {S("AUTH ABCDEFGHIJKLMNOPQRSTU x"), 4},
};

static void
test_auth_shown(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(auth_rows) / sizeof(auth_rows[0]); i++) {
        const struct auth_row *r = &auth_rows[i];
        size_t got = log_auth_shown(r->in, r->len);

        if (got != r->shown)
            fail_msg("row %zu [%s]: shown %zu, want %zu", i, r->in, got, r->shown);
        /* What follows the part shown is a SP, or the end. */
        if (got > 0 && got < r->len && r->in[got] != ' ')
            fail_msg("row %zu: octet after the part shown is not SP", i);
    }
}

/* Runs fn with standard error sent to a file; returns what was written (caller frees). */
static char *
captured(void (*fn)(void))
{
    FILE *f = tmpfile();
    int saved = dup(STDERR_FILENO);
    char *out;
    long n;

    assert_non_null(f);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
    fn();
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    (void)close(saved);
    n = (long)lseek(fileno(f), 0, SEEK_END); /* written through the descriptor, not f */
    assert_true(n >= 0);
    out = calloc(1, (size_t)n + 1);
    assert_non_null(out);
    assert_int_equal(pread(fileno(f), out, (size_t)n, 0), n);
    fclose(f);
    return out;
}

/* The messages of the captured lines, time stamp and level cut off, joined by '|'. */
static void
messages(const char *text, char *out, size_t cap)
{
    size_t o = 0;

    out[0] = '\0';
    while (*text != '\0') {
        const char *nl = strchr(text, '\n');
        const char *m = strstr(text, ": debug: ");
        size_t n;

        assert_non_null(nl);
        assert_true(m != NULL && m < nl);
        m += 9;
        n = (size_t)(nl - m);
        assert_true(o + n + 2 < cap);
        memcpy(out + o, m, n);
        o += n;
        out[o++] = '|';
        out[o] = '\0';
        text = nl + 1;
    }
}

static void
write_dialogue(void)
{
    static const char reply[] = "250-mx.test\r\n250-PIPELINING\r\n250 DSN\r\n";
    static const char odd[] = "NOOP\nMAIL FROM:<x@y>\r\n\r\nlast \"q\" \\ \x01";

    log_dialogue("-", "sid", "1f", "out", reply, sizeof(reply) - 1);
    log_dialogue("-", "sid", "1f", "in", odd, sizeof(odd) - 1);
    log_dialogue_redacted("QID", "relay", "mx[192.0.2.1]:25", "out", "AUTH PLAIN", 10, 24);
    log_dialogue_redacted("QID", "relay", "mx[192.0.2.1]:25", "in", NULL, 0, 8);
    log_dialogue("-", "sid", "1f", "in", "", 0); /* nothing at all */
}

static void
test_dialogue_lines(void **state)
{
    char *text, joined[2048];

    (void)state;
    log_set_level(LOG_LEVEL_DEBUG);
    text = captured(write_dialogue);
    messages(text, joined, sizeof(joined));
    free(text);
    assert_string_equal(joined, "-: sid=1f, dir=out, line=\"250-mx.test\"|"
                                "-: sid=1f, dir=out, line=\"250-PIPELINING\"|"
                                "-: sid=1f, dir=out, line=\"250 DSN\"|"
                                /* only CR LF ends a line; quotes, escapes, control octets */
                                "-: sid=1f, dir=in, line=\"NOOP\\x0aMAIL FROM:<x@y>\"|"
                                "-: sid=1f, dir=in, line=\"\"|"
                                "-: sid=1f, dir=in, line=\"last \\\"q\\\" \\\\ \\x01\"|"
                                "QID: relay=mx[192.0.2.1]:25, dir=out, line=\"AUTH PLAIN\", "
                                "redacted=24|"
                                "QID: relay=mx[192.0.2.1]:25, dir=in, redacted=8|");
    log_set_level(LOG_LEVEL_INFO);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_angle),
        cmocka_unit_test(test_angle_lengths),
        cmocka_unit_test(test_auth_shown),
        cmocka_unit_test(test_dialogue_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
