/* SPDX-License-Identifier: MIT */
/*
 * Tests for the SASL decoders (sasl.c): a base64 table (RFC 4648 10 test
 * vectors, then hostile rows: bad padding, bad alphabet, whitespace,
 * non-zero pad bits, output caps), encoding round trips, the LOGIN prompts,
 * a PLAIN table (hostile rows: missing and extra NULs, empty fields,
 * overlong fields, bad UTF-8, authzid mismatch), LOGIN fields, the cancel
 * line, and the user-name and password predicates.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/auth.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
/* A string literal with its length, so that rows may hold NUL octets. */
#define S(lit) lit, sizeof(lit) - 1

/* ------------------------------------------------------------ base64 */

static const struct {
    const char *in;
    size_t len;
    size_t cap;
    int err; /* 0: decodes to out */
    const char *out;
    size_t out_len;
} b64_rows[] = {
    /* RFC 4648 10 */
    {S(""), 16, 0, S("")},
    {S("Zg=="), 16, 0, S("f")},
    {S("Zm8="), 16, 0, S("fo")},
    {S("Zm9v"), 16, 0, S("foo")},
    {S("Zm9vYg=="), 16, 0, S("foob")},
    {S("Zm9vYmE="), 16, 0, S("fooba")},
    {S("Zm9vYmFy"), 16, 0, S("foobar")},
    /* PLAIN messages with NULs, the full alphabet */
    {S("AHVzZXIAcGFzcw=="), 16, 0, S("\0user\0pass")},
    {S("AAAA"), 16, 0, S("\0\0\0")},
    {S("+/+/"), 16, 0, S("\xfb\xff\xbf")},
    {S("////"), 16, 0, S("\xff\xff\xff")},
    {S("Zm9vYmFy"), 6, 0, S("foobar")}, /* exactly the cap */
    /* hostile: output longer than the cap */
    {S("Zm9vYmFy"), 5, EMSGSIZE, S("")},
    {S("Zg=="), 0, EMSGSIZE, S("")},
    /* hostile: padding */
    {S("Zg"), 16, EINVAL, S("")},
    {S("Zg="), 16, EINVAL, S("")},
    {S("Zm8"), 16, EINVAL, S("")},
    {S("Z"), 16, EINVAL, S("")},
    {S("Zg==="), 16, EINVAL, S("")},
    {S("Zg===="), 16, EINVAL, S("")},
    {S("===="), 16, EINVAL, S("")},
    {S("Z==="), 16, EINVAL, S("")},
    {S("=Zg="), 16, EINVAL, S("")},
    {S("Z=g="), 16, EINVAL, S("")},
    {S("Zg==Zg=="), 16, EINVAL, S("")}, /* padding inside */
    {S("Zm8=Zm9v"), 16, EINVAL, S("")},
    {S("Zm9v="), 16, EINVAL, S("")},
    /* hostile: pad bits not zero (RFC 4648 3.5), the same octets otherwise */
    {S("Zh=="), 16, EINVAL, S("")},
    {S("Zm9="), 16, EINVAL, S("")},
    {S("Zm/="), 16, EINVAL, S("")},
    /* hostile: alphabet (base64url, whitespace, line breaks, 8-bit, NUL) */
    {S("Zm9-"), 16, EINVAL, S("")},
    {S("Zm9_"), 16, EINVAL, S("")},
    {S("Zm 9"), 16, EINVAL, S("")},
    {S(" Zm9v"), 16, EINVAL, S("")},
    {S("Zm9v "), 16, EINVAL, S("")},
    {S("Zm9v\r\n"), 16, EINVAL, S("")},
    {S("Zm9\tv"), 16, EINVAL, S("")},
    {S("Zm9\xc3"), 16, EINVAL, S("")},
    {S("Zm9\0"), 16, EINVAL, S("")},
    {S("Zm9."), 16, EINVAL, S("")},
    {S("*"), 16, EINVAL, S("")},
    {S("="), 16, EINVAL, S("")},
};

static void
test_b64_decode_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(b64_rows); i++) {
        unsigned char out[64];
        size_t out_len = 999;
        int rc;

        errno = 0;
        rc = auth_b64_decode(b64_rows[i].in, b64_rows[i].len, out, b64_rows[i].cap, &out_len);
        if (b64_rows[i].err != 0) {
            if (rc != -1 || errno != b64_rows[i].err)
                fail_msg("row %zu: %s: want errno %d, got rc %d errno %d", i, b64_rows[i].in,
                         b64_rows[i].err, rc, errno);
            continue;
        }
        if (rc != 0)
            fail_msg("row %zu: %s: refused (errno %d)", i, b64_rows[i].in, errno);
        assert_int_equal(out_len, b64_rows[i].out_len);
        assert_memory_equal(out, b64_rows[i].out, out_len);
    }
}

/* Every length 0..300 of every octet value round-trips, and re-encodes alike. */
static void
test_b64_round_trip(void **state)
{
    unsigned char in[300], back[300];
    char text[AUTH_B64_LEN(300) + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof(in); n++) {
        size_t back_len = 0;

        assert_int_equal(auth_b64_encode(in, n, text, sizeof(text)), 0);
        assert_int_equal(strlen(text), AUTH_B64_LEN(n));
        assert_int_equal(auth_b64_decode(text, strlen(text), back, n, &back_len), 0);
        assert_int_equal(back_len, n);
        assert_memory_equal(back, in, n);
    }
}

static void
test_b64_encode_cap(void **state)
{
    char out[9];

    (void)state;
    /* "foobar" needs 8 characters and a NUL. */
    assert_int_equal(auth_b64_encode((const unsigned char *)"foobar", 6, out, 9), 0);
    assert_string_equal(out, "Zm9vYmFy");
    assert_int_equal(auth_b64_encode((const unsigned char *)"foobar", 6, out, 8), -1);
    assert_int_equal(auth_b64_encode((const unsigned char *)"fooba", 5, out, 9), 0);
    assert_string_equal(out, "Zm9vYmE=");
    assert_int_equal(auth_b64_encode((const unsigned char *)"", 0, out, 1), 0);
    assert_string_equal(out, "");
    assert_int_equal(auth_b64_encode((const unsigned char *)"", 0, out, 0), -1);
    assert_int_equal(auth_b64_encode((const unsigned char *)"f", 1, out, 4), -1);
}

static void
test_login_prompts(void **state)
{
    char out[32];

    (void)state;
    assert_int_equal(auth_b64_encode((const unsigned char *)"Username:", 9, out, sizeof(out)), 0);
    assert_string_equal(out, AUTH_LOGIN_PROMPT_USER);
    assert_int_equal(auth_b64_encode((const unsigned char *)"Password:", 9, out, sizeof(out)), 0);
    assert_string_equal(out, AUTH_LOGIN_PROMPT_PASS);
}

/* ------------------------------------------------------------ PLAIN */

static const char long255[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";

static const struct {
    const char *msg;
    size_t len;
    enum auth_sasl_rc rc;
    const char *authzid, *authcid, *passwd;
    size_t passwd_len;
} plain_rows[] = {
    /* RFC 4616 4 examples */
    {S("\0tim\0tanstaaftanstaaf"), AUTH_SASL_OK, "", "tim", S("tanstaaftanstaaf")},
    {S("tim\0tim\0tanstaaftanstaaf"), AUTH_SASL_OK, "tim", "tim", S("tanstaaftanstaaf")},
    {S("\0a\0b"), AUTH_SASL_OK, "", "a", S("b")},
    {S("\0user@example.com\0pass word with spaces"), AUTH_SASL_OK, "", "user@example.com",
     S("pass word with spaces")},
    {S("\0j\xc3\xb6rg\0p\xc3\xa4ss\xe2\x82\xac\xf0\x9f\x94\x91"), AUTH_SASL_OK, "", "j\xc3\xb6rg",
     S("p\xc3\xa4ss\xe2\x82\xac\xf0\x9f\x94\x91")},
    {S("\0u\0\x01\x7f"), AUTH_SASL_OK, "", "u", S("\x01\x7f")}, /* controls are UTF8-SAFE */
    /* hostile: NULs missing or extra */
    {S(""), AUTH_SASL_MALFORMED},
    {S("user"), AUTH_SASL_MALFORMED},
    {S("\0userpass"), AUTH_SASL_MALFORMED},
    {S("user\0pass"), AUTH_SASL_MALFORMED},
    {S("\0user\0pa\0ss"), AUTH_SASL_MALFORMED},
    {S("\0user\0pass\0"), AUTH_SASL_MALFORMED},
    {S("\0\0\0"), AUTH_SASL_EMPTY},
    {S("\0\0\0\0"), AUTH_SASL_EMPTY},
    /* hostile: empty fields */
    {S("\0\0pass"), AUTH_SASL_EMPTY},
    {S("\0user\0"), AUTH_SASL_EMPTY},
    {S("\0\0"), AUTH_SASL_EMPTY},
    {S("tim\0\0pass"), AUTH_SASL_EMPTY},
    /* hostile: authzid other than authcid (proxy authorization) */
    {S("admin\0tim\0pass"), AUTH_SASL_AUTHZID},
    {S("Tim\0tim\0pass"), AUTH_SASL_AUTHZID},
    {S("tim \0tim\0pass"), AUTH_SASL_AUTHZID},
    {S("ti\0tim\0pass"), AUTH_SASL_AUTHZID},
    {S("timm\0tim\0pass"), AUTH_SASL_AUTHZID},
    /* hostile: not UTF-8 (Latin-1, overlong, surrogate, above U+10FFFF, cut short) */
    {S("\0j\xf6rg\0pass"), AUTH_SASL_NOT_UTF8},
    {S("\0user\0p\xe4ss"), AUTH_SASL_NOT_UTF8},
    {S("\xc0\xaf\0user\0pass"), AUTH_SASL_NOT_UTF8},
    {S("\0user\0\xe0\x80\xaf"), AUTH_SASL_NOT_UTF8},
    {S("\0user\0\xed\xa0\x80"), AUTH_SASL_NOT_UTF8},
    {S("\0user\0\xf4\x90\x80\x80"), AUTH_SASL_NOT_UTF8},
    {S("\0user\0\xf5\x80\x80\x80"), AUTH_SASL_NOT_UTF8},
    {S("\0user\0ab\xc3"), AUTH_SASL_NOT_UTF8},
    {S("\0user\0\xe2\x82"), AUTH_SASL_NOT_UTF8},
    {S("\0user\0\x80"), AUTH_SASL_NOT_UTF8},
    {S("\0user\0\xff"), AUTH_SASL_NOT_UTF8},
};

static void
test_plain_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(plain_rows); i++) {
        struct auth_plain p;
        enum auth_sasl_rc rc;

        memset(&p, 'x', sizeof(p));
        rc = auth_plain_parse((const unsigned char *)plain_rows[i].msg, plain_rows[i].len, &p);
        if (rc != plain_rows[i].rc)
            fail_msg("row %zu: want %s, got %s", i, auth_sasl_rc_name(plain_rows[i].rc),
                     auth_sasl_rc_name(rc));
        if (rc != AUTH_SASL_OK) {
            /* Nothing of a refused message is left in *out. */
            static const struct auth_plain zero;

            assert_memory_equal(&p, &zero, sizeof(p));
            continue;
        }
        assert_string_equal(p.authzid, plain_rows[i].authzid);
        assert_string_equal(p.authcid, plain_rows[i].authcid);
        assert_int_equal(p.passwd_len, plain_rows[i].passwd_len);
        assert_memory_equal(p.passwd, plain_rows[i].passwd, p.passwd_len);
        assert_int_equal(p.passwd[p.passwd_len], '\0');
        auth_plain_clear(&p);
        assert_int_equal(p.passwd[0], '\0');
    }
}

/* authzid (zlen octets, 0 or the same as authcid) NUL authcid (clen) NUL passwd (plen). */
static size_t
plain_build(unsigned char *msg, size_t zlen, size_t clen, size_t plen)
{
    size_t n = 0;

    memset(msg + n, 'u', zlen);
    n += zlen;
    msg[n++] = '\0';
    memset(msg + n, 'u', clen);
    n += clen;
    msg[n++] = '\0';
    memset(msg + n, 'p', plen);
    return n + plen;
}

/* Each field at 255 octets passes; at 256 it is too long. */
static void
test_plain_field_caps(void **state)
{
    static const struct {
        size_t zlen, clen, plen;
        enum auth_sasl_rc rc;
    } rows[] = {
        {0, 255, 4, AUTH_SASL_OK},         {0, 256, 4, AUTH_SASL_TOO_LONG},
        {0, 3, 255, AUTH_SASL_OK},         {0, 3, 256, AUTH_SASL_TOO_LONG},
        {255, 255, 255, AUTH_SASL_OK},     {256, 256, 4, AUTH_SASL_TOO_LONG},
        {256, 255, 4, AUTH_SASL_TOO_LONG}, {0, 3, 100000, AUTH_SASL_TOO_LONG},
    };
    static unsigned char msg[100000 + 600];
    struct auth_plain p;

    (void)state;
    for (size_t i = 0; i < COUNT(rows); i++) {
        size_t n = plain_build(msg, rows[i].zlen, rows[i].clen, rows[i].plen);
        enum auth_sasl_rc rc = auth_plain_parse(msg, n, &p);

        if (rc != rows[i].rc)
            fail_msg("row %zu: want %s, got %s", i, auth_sasl_rc_name(rows[i].rc),
                     auth_sasl_rc_name(rc));
        if (rc == AUTH_SASL_OK) {
            assert_int_equal(strlen(p.authzid), rows[i].zlen);
            assert_int_equal(strlen(p.authcid), rows[i].clen);
            assert_int_equal(p.passwd_len, rows[i].plen);
            assert_int_equal(strlen(p.passwd), rows[i].plen);
        }
        auth_plain_clear(&p);
    }
}

/* ------------------------------------------------------------ LOGIN, cancel, names */

static const struct {
    const char *msg;
    size_t len;
    enum auth_sasl_rc rc;
} login_rows[] = {
    {S("tim"), AUTH_SASL_OK},
    {S("p\xc3\xa4ss"), AUTH_SASL_OK},
    {S(" "), AUTH_SASL_OK},
    {S(""), AUTH_SASL_EMPTY},
    {S("\0"), AUTH_SASL_MALFORMED},
    {S("ti\0m"), AUTH_SASL_MALFORMED},
    {S("tim\0"), AUTH_SASL_MALFORMED},
    {S("p\xe4ss"), AUTH_SASL_NOT_UTF8},
    {S("\xc3"), AUTH_SASL_NOT_UTF8},
};

static void
test_login_fields(void **state)
{
    char big[300];

    (void)state;
    for (size_t i = 0; i < COUNT(login_rows); i++) {
        enum auth_sasl_rc rc =
            auth_login_field((const unsigned char *)login_rows[i].msg, login_rows[i].len);

        if (rc != login_rows[i].rc)
            fail_msg("row %zu: want %s, got %s", i, auth_sasl_rc_name(login_rows[i].rc),
                     auth_sasl_rc_name(rc));
    }
    memset(big, 'a', sizeof(big));
    assert_int_equal(auth_login_field((const unsigned char *)big, 255), AUTH_SASL_OK);
    assert_int_equal(auth_login_field((const unsigned char *)big, 256), AUTH_SASL_TOO_LONG);
    assert_true(auth_is_password(long255, 255));
    assert_false(auth_is_password(big, 256));
    assert_false(auth_is_password("", 0));
    assert_false(auth_is_password("a\0b", 3));
    assert_false(auth_is_password("\xe4", 1));
    assert_true(auth_is_password("\xc3\xa4", 2));
    assert_string_equal(auth_sasl_rc_name(AUTH_SASL_AUTHZID), "authzid");
    assert_string_equal(auth_sasl_rc_name(AUTH_SASL_NOT_UTF8), "not-utf8");
}

static void
test_cancel(void **state)
{
    (void)state;
    assert_true(auth_is_cancel("*", 1));
    assert_false(auth_is_cancel("", 0));
    assert_false(auth_is_cancel("**", 2));
    assert_false(auth_is_cancel("* ", 2));
    assert_false(auth_is_cancel(" *", 2));
    assert_false(auth_is_cancel("*\r", 2));
    assert_false(auth_is_cancel("=", 1));
    assert_false(auth_is_cancel("Kg==", 4)); /* base64 of "*" is a response, not a cancel */
}

static const struct {
    const char *name;
    size_t len;
    bool ok;
} user_rows[] = {
    {S("alice"), true},
    {S("alice@example.com"), true},
    {S("a"), true},
    {S("A-Z_0.9+x!~"), true},
    {S("0123456789012345678901234567890123456789012345678901234567890123"), true},
    {S(""), false},
    {S("01234567890123456789012345678901234567890123456789012345678901234"), false},
    {S("ali:ce"), false},
    {S(":"), false},
    {S("ali ce"), false},
    {S(" alice"), false},
    {S("alice\t"), false},
    {S("alice\n"), false},
    {S("al\0ice"), false},
    {S("j\xc3\xb6rg"), false},
    {S("del\x7f"), false},
    {S("esc\x1b"), false},
};

static void
test_user_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(user_rows); i++) {
        if (auth_is_user_name(user_rows[i].name, user_rows[i].len) != user_rows[i].ok)
            fail_msg("row %zu: %s: want %s", i, user_rows[i].name,
                     user_rows[i].ok ? "valid" : "refused");
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_decode_table), cmocka_unit_test(test_b64_round_trip),
        cmocka_unit_test(test_b64_encode_cap),   cmocka_unit_test(test_login_prompts),
        cmocka_unit_test(test_plain_table),      cmocka_unit_test(test_plain_field_caps),
        cmocka_unit_test(test_login_fields),     cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_user_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
