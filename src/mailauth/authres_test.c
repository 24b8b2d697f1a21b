/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for authres.c: our Authentication-Results written (RFC 8601
 * 2.2: exact fields, folding, quoting, "none", overflow) and the
 * recognition of a field claiming our authserv-id (comments, versions,
 * quoted ids, case, another id, hostile rows).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mailauth/authres.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Every line of buf is at most max octets without its CRLF, and every line ends in CRLF. */
static void
assert_lines(const char *buf, size_t len, size_t max)
{
    size_t start = 0;

    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            assert_true(i > start && buf[i - 1] == '\r');
            if (i - 1 - start > max)
                fail_msg("line of %zu octets: %.*s", i - 1 - start, (int)(i - start), buf + start);
            start = i + 1;
        } else {
            assert_true(buf[i] != '\r' || (i + 1 < len && buf[i + 1] == '\n'));
        }
    }
    assert_int_equal(start, len);
}

static void
test_write_full(void **state)
{
    char buf[2048];
    struct authres a;
    size_t len;

    (void)state;
    authres_init(&a, buf, sizeof(buf), "mx.example.com");
    authres_spf(&a, "pass", NULL, "sender@example.net", "mail.example.net");
    authres_dkim(&a, "pass", NULL, "example.net", "2026a", NULL,
                 "dGVzdCBzaWduYXR1cmUgdmFsdWU/+abc=");
    authres_dkim(&a, "fail", "body hash mismatch", "example.org", "s1", "@example.org", "AbC");
    authres_dmarc(&a, "pass", NULL, "example.net");
    assert_int_equal(authres_finish(&a, &len), 0);
    assert_int_equal(len, strlen(buf));
    assert_string_equal(
        buf, "Authentication-Results: mx.example.com;\r\n"
             "\tspf=pass smtp.mailfrom=sender@example.net smtp.helo=mail.example.net;\r\n"
             "\tdkim=pass header.d=example.net header.s=2026a header.b=dGVzdCBz;\r\n"
             "\tdkim=fail (body hash mismatch) header.d=example.org header.s=s1\r\n"
             "\theader.i=@example.org header.b=AbC;\r\n"
             "\tdmarc=pass header.from=example.net\r\n");
    assert_lines(buf, len, AUTHRES_LINE);
}

static void
test_write_none(void **state)
{
    char buf[128];
    struct authres a;
    size_t len;

    (void)state;
    authres_init(&a, buf, sizeof(buf), "mx.example.com");
    assert_int_equal(authres_finish(&a, &len), 0);
    assert_string_equal(buf, "Authentication-Results: mx.example.com; none\r\n");
}

/* Values: bare when a token or local-part@domain, quoted otherwise. */
static const struct {
    const char *value;
    const char *written;
} value_rows[] = {
    {"example.com", "example.com"},
    {"user@example.com", "user@example.com"},
    {"first.last+tag@example.com", "first.last+tag@example.com"},
    {"@example.com", "@example.com"},
    {"abc/def+", "\"abc/def+\""},
    {"a=b", "\"a=b\""},
    {"with space@example.com", "\"with space@example.com\""},
    {"\"q\"@example.com", "\"\\\"q\\\"@example.com\""},
    {"back\\slash", "\"back\\\\slash\""},
    {"a..b@example.com", "\"a..b@example.com\""},
    {"a@exa_mple.com", "\"a@exa_mple.com\""},
    {"a@b@c.com", "\"a@b@c.com\""},
    {"semi;colon", "\"semi;colon\""},
    {"ctl\r\nInjected: yes", "\"ctl??Injected: yes\""},
    {"caf\xc3\xa9", "\"caf??\""},
    {"", "\"\""},
    {"(comment)", "\"(comment)\""},
};

static void
test_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(value_rows); i++) {
        char buf[512], want[512];
        struct authres a;
        size_t len;

        authres_init(&a, buf, sizeof(buf), "mx");
        authres_method(&a, "x", "pass", NULL);
        authres_prop(&a, "smtp", "mailfrom", value_rows[i].value);
        assert_int_equal(authres_finish(&a, &len), 0);
        snprintf(want, sizeof(want), "Authentication-Results: mx;\r\n\tx=pass smtp.mailfrom=%s\r\n",
                 value_rows[i].written);
        if (strcmp(buf, want) != 0)
            fail_msg("row %zu: got %s want %s", i, buf, want);
    }
}

/* The reason comment is escaped; the authserv-id quoted when not a token. */
static void
test_reason_and_id(void **state)
{
    char buf[512];
    struct authres a;
    size_t len;

    (void)state;
    authres_init(&a, buf, sizeof(buf), "odd id");
    authres_method(&a, "clamd", "fail", "found (Eicar) \\ \r\nX: y");
    authres_prop(&a, "body", "virus", "Eicar-Test-Signature");
    assert_int_equal(authres_finish(&a, &len), 0);
    assert_string_equal(buf, "Authentication-Results: \"odd id\";\r\n"
                             "\tclamd=fail (found \\(Eicar\\) \\\\ ??X: y) "
                             "body.virus=Eicar-Test-Signature\r\n");
    assert_true(authres_is_ours(slice_make(buf + 23, len - 23), "odd id"));
}

/* Folding: many long properties, each line within the limit. */
static void
test_folding(void **state)
{
    char buf[4096];
    struct authres a;
    size_t len;

    (void)state;
    authres_init(&a, buf, sizeof(buf), "mx.example.com");
    authres_method(&a, "spam", "pass", "score 2.1 of 15 required for rejection, 6 for quarantine");
    for (int i = 0; i < 12; i++)
        authres_prop(&a, "x", "symbol", "SOME_LONG_RSPAMD_SYMBOL_NAME");
    authres_spf(&a, "pass", NULL, "a-very-long-local-part-of-an-address@sub.domain.example.net",
                NULL);
    assert_int_equal(authres_finish(&a, &len), 0);
    assert_lines(buf, len, AUTHRES_LINE);
    assert_non_null(strstr(buf, "\r\n\tspf=pass\r\n\tsmtp.mailfrom=a-very-long"));
}

/* A buffer too small, bad names: finish fails and leaves nothing. */
static void
test_overflow_and_bad_names(void **state)
{
    char buf[64];
    struct authres a;
    size_t len = 99;

    (void)state;
    authres_init(&a, buf, sizeof(buf), "mx.example.com");
    authres_spf(&a, "pass", NULL, "sender@example.net", "mail.example.net");
    assert_int_equal(authres_finish(&a, &len), -1);
    assert_string_equal(buf, "");
    assert_int_equal(len, 99);

    for (size_t cap = 0; cap < 60; cap++) {
        authres_init(&a, buf, cap, "mx.example.com");
        assert_int_equal(authres_finish(&a, &len), cap >= 47 ? 0 : -1);
    }

    authres_init(&a, buf, sizeof(buf), "mx");
    authres_method(&a, "sp f", "pass", NULL);
    assert_int_equal(authres_finish(&a, &len), -1);
    authres_init(&a, buf, sizeof(buf), "mx");
    authres_method(&a, "spf", "pa;ss", NULL);
    assert_int_equal(authres_finish(&a, &len), -1);
    authres_init(&a, buf, sizeof(buf), "mx");
    authres_prop(&a, "smtp", "mailfrom", "x"); /* no method yet */
    assert_int_equal(authres_finish(&a, &len), -1);
    authres_init(&a, buf, sizeof(buf), "mx");
    authres_method(&a, "spf", "pass", NULL);
    authres_prop(&a, "sm=tp", "mailfrom", "x");
    assert_int_equal(authres_finish(&a, &len), -1);
}

/* Recognition rows: the field body (after the colon), and whether it is ours. */
static const struct {
    const char *value;
    bool ours;
} ours_rows[] = {
    {" mx.example.com; spf=pass smtp.mailfrom=a@b.test", true},
    {"mx.example.com;spf=pass", true},
    {" MX.Example.COM; none", true},
    {" mx.example.com.; none", true},
    {" mx.example.com 1; spf=pass", true},
    {" mx.example.com 1 (version one); none", true},
    {" mx.example.com(comment); none", true},
    {" (a comment) mx.example.com; none", true},
    {" (nested (comment \\) here)) mx.example.com; none", true},
    {"\r\n mx.example.com;\r\n\tspf=fail", true},
    {"\n\tmx.example.com; none", true},
    {" \"mx.example.com\"; none", true},
    {" \"MX.EXAMPLE.COM\" 1; none", true},
    {" \"mx.exa\\mple.com\"; none", true},
    {" mx.example.com", true},
    {" mx.example.com garbage after", true},
    /* another id */
    {" mx.example.net; spf=pass", false},
    {" example.com; spf=pass", false},
    {" mail.mx.example.com; none", false},
    {" mx.example.com.evil.test; none", false},
    {" mx.example.comm; none", false},
    {" \"mx.example.com \"; none", false},
    {" \"mx.example.com\"x; none", false},
    {" mx.example.com/x; none", false},
    {" mx.example.com=x; none", false},
    {" x mx.example.com; none", false},
    /* unreadable */
    {"", false},
    {"   ", false},
    {" ; mx.example.com", false},
    {" (unterminated mx.example.com; none", false},
    {" \"unterminated mx.example.com", false},
    {" \"mx.example.com\r\n\"; none", false},
    {" ((((((((((deep)))))))))) mx.example.com; none", false},
    {" (((((((ok))))))) mx.example.com; none", true},
    {"\r\nmx.example.com; none", false},
};

static void
test_ours_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(ours_rows); i++) {
        bool got = authres_is_ours(slice_make(ours_rows[i].value, strlen(ours_rows[i].value)),
                                   "mx.example.com");

        if (got != ours_rows[i].ours)
            fail_msg("row %zu \"%s\": got %d", i, ours_rows[i].value, got);
    }
    /* our id written with a final dot */
    assert_true(authres_is_ours(slice_make(" mx.example.com; none", 21), "MX.example.com."));
    assert_false(authres_is_ours(slice_make(" x; none", 8), ""));
}

/* What we write is recognized as ours, and not as another's. */
static void
test_roundtrip(void **state)
{
    char buf[1024];
    struct authres a;
    size_t len;
    struct slice v;

    (void)state;
    authres_init(&a, buf, sizeof(buf), "gw.example.com");
    authres_dmarc(&a, "fail", "p=reject", "example.org");
    assert_int_equal(authres_finish(&a, &len), 0);
    assert_true(authres_is_field_name(slice_make(buf, 22)));
    assert_false(authres_is_field_name(slice_make(buf, 21)));
    assert_true(authres_is_field_name(slice_make("AUTHENTICATION-results", 22)));
    v = slice_make(buf + 23, len - 23);
    assert_true(authres_is_ours(v, "gw.example.com"));
    assert_false(authres_is_ours(v, "gw.example.co"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_full), cmocka_unit_test(test_write_none),
        cmocka_unit_test(test_values),     cmocka_unit_test(test_reason_and_id),
        cmocka_unit_test(test_folding),    cmocka_unit_test(test_overflow_and_bad_names),
        cmocka_unit_test(test_ours_rows),  cmocka_unit_test(test_roundtrip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
