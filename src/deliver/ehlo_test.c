/* SPDX-License-Identifier: MIT */
/*
 * Tests for the EHLO extension lines (ehlo.c): one table of lines with the
 * verdict and the capabilities each leaves; hostile rows break the
 * ehlo-line grammar (RFC 5321 4.1.1.1) or give SIZE a bad number (RFC 1870).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deliver/ehlo.h"

#define S(lit) lit, sizeof(lit) - 1

/* Which flag a row sets. */
enum flag {
    F_NONE,
    F_PIPELINING,
    F_SIZE,
    F_8BITMIME,
    F_SMTPUTF8,
    F_DSN,
    F_ENHANCED,
    F_STARTTLS,
    F_AUTH, /* AUTH without PLAIN or LOGIN */
    F_AUTH_PLAIN,
    F_AUTH_LOGIN,
    F_AUTH_BOTH,
};

static const struct {
    const char *in;
    size_t len;
    enum deliver_ehlo_rc rc;
    enum flag flag;
    uint64_t size_max;
} rows[] = {
    {S("PIPELINING"), DELIVER_EHLO_KNOWN, F_PIPELINING, 0},
    {S("pipelining"), DELIVER_EHLO_KNOWN, F_PIPELINING, 0},
    {S("PipeLining"), DELIVER_EHLO_KNOWN, F_PIPELINING, 0},
    {S("PIPELINING x"), DELIVER_EHLO_KNOWN, F_PIPELINING, 0}, /* parameters ignored */
    {S("8BITMIME"), DELIVER_EHLO_KNOWN, F_8BITMIME, 0},
    {S("SMTPUTF8"), DELIVER_EHLO_KNOWN, F_SMTPUTF8, 0},
    {S("DSN"), DELIVER_EHLO_KNOWN, F_DSN, 0},
    {S("ENHANCEDSTATUSCODES"), DELIVER_EHLO_KNOWN, F_ENHANCED, 0},
    {S("STARTTLS"), DELIVER_EHLO_KNOWN, F_STARTTLS, 0},
    {S("SIZE"), DELIVER_EHLO_KNOWN, F_SIZE, 0},
    {S("SIZE 0"), DELIVER_EHLO_KNOWN, F_SIZE, 0},
    {S("SIZE 10240000"), DELIVER_EHLO_KNOWN, F_SIZE, 10240000},
    {S("size 1"), DELIVER_EHLO_KNOWN, F_SIZE, 1},
    {S("SIZE 18446744073709551615"), DELIVER_EHLO_KNOWN, F_SIZE, UINT64_MAX},
    {S("SIZE 007"), DELIVER_EHLO_KNOWN, F_SIZE, 7},
    /* AUTH and its mechanisms (RFC 4954 3) */
    {S("AUTH PLAIN LOGIN"), DELIVER_EHLO_KNOWN, F_AUTH_BOTH, 0},
    {S("AUTH LOGIN PLAIN CRAM-MD5"), DELIVER_EHLO_KNOWN, F_AUTH_BOTH, 0},
    {S("auth plain"), DELIVER_EHLO_KNOWN, F_AUTH_PLAIN, 0},
    {S("AUTH LOGIN"), DELIVER_EHLO_KNOWN, F_AUTH_LOGIN, 0},
    {S("AUTH CRAM-MD5 DIGEST-MD5 SCRAM-SHA-256"), DELIVER_EHLO_KNOWN, F_AUTH, 0},
    {S("AUTH XOAUTH2 GSSAPI NTLM LOGIN"), DELIVER_EHLO_KNOWN, F_AUTH_LOGIN, 0},
    {S("AUTH X_Y-Z9"), DELIVER_EHLO_KNOWN, F_AUTH, 0},
    {S("AUTH PLAINX LOGINX"), DELIVER_EHLO_KNOWN, F_AUTH, 0},
    /* hostile AUTH lines: no mechanism, a bad name, blanks; nothing is taken */
    {S("AUTH"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("AUTH "), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("AUTH PLAIN "), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("AUTH  PLAIN"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("AUTH PLAIN LOGIN=x"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("AUTH PL.AIN"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("AUTH ABCDEFGHIJKLMNOPQRSTU"), DELIVER_EHLO_BAD, F_NONE, 0}, /* 21 characters */
    {S("AUTH PLAIN"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("AUTH PLAIN	LOGIN"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("AUTH=PLAIN LOGIN"), DELIVER_EHLO_BAD, F_NONE, 0},
    /* other extensions */
    {S("CHUNKING"), DELIVER_EHLO_UNKNOWN, F_NONE, 0},
    {S("X-EXPS GSSAPI NTLM"), DELIVER_EHLO_UNKNOWN, F_NONE, 0},
    {S("8BITMIMEX"), DELIVER_EHLO_UNKNOWN, F_NONE, 0},
    {S("PIPE LINING"), DELIVER_EHLO_UNKNOWN, F_NONE, 0},
    {S("SIZES 10"), DELIVER_EHLO_UNKNOWN, F_NONE, 0},
    {S("DSN-"), DELIVER_EHLO_UNKNOWN, F_NONE, 0},
    {S("X- a=b ~!"), DELIVER_EHLO_UNKNOWN, F_NONE, 0},
    /* hostile: SIZE with a bad number */
    {S("SIZE 18446744073709551616"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("SIZE 99999999999999999999999"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("SIZE abc"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("SIZE -1"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("SIZE +1"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("SIZE 1k"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("SIZE 10 20"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("SIZE=10"), DELIVER_EHLO_BAD, F_NONE, 0},
    /* hostile: not an ehlo-line */
    {S(""), DELIVER_EHLO_BAD, F_NONE, 0},
    {S(" PIPELINING"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("PIPELINING "), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("SIZE  10"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("SIZE 10 "), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("PIPELINING\t"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("-PIPELINING"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("AUTH=LOGIN"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("PIPELINING\x80"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("DSN\0"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("SIZE 10\0"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("8BITMIME \xc3\xa9"), DELIVER_EHLO_BAD, F_NONE, 0},
    {S("\xc3\xa9"), DELIVER_EHLO_BAD, F_NONE, 0},
};

static bool
flag_set(const struct deliver_caps *c, enum flag f)
{
    switch (f) {
    case F_PIPELINING:
        return c->pipelining;
    case F_SIZE:
        return c->size;
    case F_8BITMIME:
        return c->eightbitmime;
    case F_SMTPUTF8:
        return c->smtputf8;
    case F_DSN:
        return c->dsn;
    case F_ENHANCED:
        return c->enhanced;
    case F_STARTTLS:
        return c->starttls;
    case F_AUTH:
        return c->auth && !c->auth_plain && !c->auth_login;
    case F_AUTH_PLAIN:
        return c->auth && c->auth_plain && !c->auth_login;
    case F_AUTH_LOGIN:
        return c->auth && !c->auth_plain && c->auth_login;
    case F_AUTH_BOTH:
        return c->auth && c->auth_plain && c->auth_login;
    case F_NONE:
        break;
    }
    return false;
}

static void
test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct deliver_caps caps = {0};
        enum deliver_ehlo_rc rc = deliver_ehlo_line(&caps, slice_make(rows[i].in, rows[i].len));
        unsigned n_set = 0;
        bool ok;

        for (enum flag f = F_PIPELINING; f <= F_AUTH_BOTH; f++)
            n_set += flag_set(&caps, f);
        ok = rc == rows[i].rc && caps.size_max == rows[i].size_max &&
             (rows[i].flag == F_NONE ? n_set == 0 : n_set == 1 && flag_set(&caps, rows[i].flag));
        if (!ok) {
            fprintf(stderr, "row %zu \"%s\": rc %d, %u flags, size_max %llu\n", i, rows[i].in,
                    (int)rc, n_set, (unsigned long long)caps.size_max);
            fail();
        }
    }
}

/* Lines add up; a bad line changes nothing that came before it. */
static void
test_sequence(void **state)
{
    static const char *const lines[] = {"SIZE 100",    "PIPELINING", "SIZE abc",
                                        "8BITMIME",    "AUTH PLAIN", "DSN",
                                        "bogus line!", "AUTH",       "AUTH LOGIN"};
    struct deliver_caps caps = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        (void)deliver_ehlo_line(&caps, slice_make(lines[i], strlen(lines[i])));
    assert_true(caps.size);
    assert_int_equal(caps.size_max, 100);
    assert_true(caps.pipelining);
    assert_true(caps.eightbitmime);
    assert_true(caps.dsn);
    assert_false(caps.smtputf8);
    assert_false(caps.starttls);
    /* Two AUTH lines add up (some servers list mechanisms on several). */
    assert_true(caps.auth);
    assert_true(caps.auth_plain);
    assert_true(caps.auth_login);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_sequence),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
