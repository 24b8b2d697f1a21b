/* SPDX-License-Identifier: MIT */
/*
 * The console's pure helpers: HTML escaping (hostile text: markup, quotes,
 * controls, NUL), the route table (exact paths only: traversal, encodings,
 * trailing slashes and other methods find nothing), the Cookie header, the
 * CSRF comparison and the same-origin check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "console/web.h"

/* web_escape() of s (len octets) as a new NUL-terminated string. */
static char *
escaped(const char *s, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    size_t n;
    char *out;

    web_escape(b, s, len);
    n = evbuffer_get_length(b);
    out = malloc(n + 1);
    assert_non_null(out);
    evbuffer_remove(b, out, n);
    out[n] = '\0';
    evbuffer_free(b);
    return out;
}

static void
test_escape(void **state)
{
    static const struct {
        const char *in;
        size_t len; /* 0: strlen */
        const char *want;
    } rows[] = {
        {"", 0, ""},
        {"plain text", 0, "plain text"},
        {"<script>alert(1)</script>", 0, "&lt;script&gt;alert(1)&lt;/script&gt;"},
        {"\"><img src=x onerror=alert(1)>", 0, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"},
        {"' onmouseover='x", 0, "&#39; onmouseover=&#39;x"},
        {"a&amp;b", 0, "a&amp;amp;b"},
        {"&&&", 0, "&amp;&amp;&amp;"},
        {"tab\there\nline\r", 0, "tab\there\nline\r"},
        {"bell\a esc\x1b del\x7f", 0, "bell\xef\xbf\xbd esc\xef\xbf\xbd del\xef\xbf\xbd"},
        {"nul\0after<", 10,
         "nul\xef\xbf\xbd"
         "after&lt;"},
        {"caf\xc3\xa9 \xe2\x80\xae", 0, "caf\xc3\xa9 \xe2\x80\xae"},
        {"<", 0, "&lt;"},
        {">x", 0, "&gt;x"},
        {"x\"", 0, "x&quot;"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t len = rows[i].len != 0 ? rows[i].len : strlen(rows[i].in);
        char *got = escaped(rows[i].in, len);

        assert_string_equal(got, rows[i].want);
        free(got);
    }
}

static void
test_escapez_null(void **state)
{
    struct evbuffer *b = evbuffer_new();

    (void)state;
    web_escapez(b, NULL);
    assert_int_equal(evbuffer_get_length(b), 0);
    evbuffer_free(b);
}

static void
test_routes(void **state)
{
    static const struct {
        bool post;
        const char *path;
        enum web_page want;
        bool known; /* the path exists (for either method) */
    } rows[] = {
        {false, "/", WEB_OVERVIEW, true},
        {false, "/login", WEB_LOGIN_FORM, true},
        {true, "/login", WEB_LOGIN, true},
        {true, "/login/code", WEB_LOGIN_CODE, true},
        {true, "/logout", WEB_LOGOUT, true},
        {false, "/account", WEB_ACCOUNT, true},
        {true, "/account/totp/enrol", WEB_TOTP_ENROL, true},
        {true, "/account/totp/confirm", WEB_TOTP_CONFIRM, true},
        {true, "/account/totp/remove", WEB_TOTP_REMOVE, true},
        {true, "/account/app-password/create", WEB_APP_CREATE, true},
        {true, "/account/app-password/revoke", WEB_APP_REVOKE, true},
        {false, "/style.css", WEB_STYLE, true},
        {true, "/doors/check", WEB_DOORS_CHECK, true},
        /* the other method */
        {true, "/", WEB_NONE, true},
        {false, "/logout", WEB_NONE, true},
        {false, "/account/totp/enrol", WEB_NONE, true},
        {true, "/account", WEB_NONE, true},
        {false, "/doors/check", WEB_NONE, true},
        /* hostile paths */
        {false, "", WEB_NONE, false},
        {false, "/account/", WEB_NONE, false},
        {false, "//account", WEB_NONE, false},
        {false, "/./account", WEB_NONE, false},
        {false, "/x/../account", WEB_NONE, false},
        {false, "/../../etc/passwd", WEB_NONE, false},
        {false, "/%2e%2e/etc/passwd", WEB_NONE, false},
        {false, "/%61ccount", WEB_NONE, false},
        {false, "/ACCOUNT", WEB_NONE, false},
        {false, "/style.css/../../etc/passwd", WEB_NONE, false},
        {false, "/styl", WEB_NONE, false},
        {false, "/style.cssx", WEB_NONE, false},
        {false, "account", WEB_NONE, false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bool known = true;
        const struct web_route *r =
            web_route_find(rows[i].post, rows[i].path, strlen(rows[i].path), &known);

        assert_int_equal(r != NULL ? r->page : WEB_NONE, rows[i].want);
        assert_int_equal(known, rows[i].known);
    }
}

/* A path given with its length: the '?' and what follows are not part of it. */
static void
test_route_length(void **state)
{
    bool known;
    const struct web_route *r = web_route_find(false, "/account?x=1", 8, &known);

    (void)state;
    assert_non_null(r);
    assert_int_equal(r->page, WEB_ACCOUNT);
    assert_int_equal(r->access, WEB_USER);
    assert_int_equal(web_route_find(false, "/", 1, &known)->access, WEB_ADMIN);
}

static void
test_cookies(void **state)
{
    static const struct {
        const char *header;
        int rc;
        const char *want;
    } rows[] = {
        {"gate26=abc", 0, "abc"},
        {"a=1; gate26=abc; b=2", 0, "abc"},
        {"  gate26=abc  ", 0, "abc"},
        {"a=1;gate26=abc", 0, "abc"},
        {"gate26=first; gate26=second", 0, "first"},
        {"xgate26=abc", -1, NULL},
        {"gate26x=abc", -1, NULL},
        {"gate26", -1, NULL},
        {"gate26=", -1, NULL},
        {"gate26=a b", -1, NULL},
        {"gate26=\x01", -1, NULL},
        {"gate26=\xc3\xa9", -1, NULL},
        {"", -1, NULL},
        {";;;", -1, NULL},
        {"a=1; b=2", -1, NULL},
        {"gate26=0123456789012345678901234567890123456789", -1, NULL}, /* over cap */
        {"__Host-gate26=abc", -1, NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[33];

        assert_int_equal(web_cookie_find(rows[i].header, "gate26", out, sizeof out), rows[i].rc);
        if (rows[i].rc == 0)
            assert_string_equal(out, rows[i].want);
    }
    {
        char out[8];

        assert_int_equal(web_cookie_find(NULL, "gate26", out, sizeof out), -1);
        assert_int_equal(web_cookie_find("__Host-gate26=v", "__Host-gate26", out, sizeof out), 0);
        assert_string_equal(out, "v");
    }
}

static void
test_csrf(void **state)
{
    const char *tok = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char other[WEB_TOKEN_HEX + 2];

    (void)state;
    assert_true(web_csrf_ok(tok, tok));
    assert_false(web_csrf_ok(tok, NULL));
    assert_false(web_csrf_ok(NULL, tok));
    assert_false(web_csrf_ok(tok, ""));
    assert_false(web_csrf_ok(tok, "0123456789abcdef"));
    memcpy(other, tok, WEB_TOKEN_HEX + 1);
    other[63] = 'e';
    assert_false(web_csrf_ok(tok, other));
    other[63] = 'f';
    other[0] = '1';
    assert_false(web_csrf_ok(tok, other));
    memcpy(other, tok, WEB_TOKEN_HEX);
    other[WEB_TOKEN_HEX] = 'f';
    other[WEB_TOKEN_HEX + 1] = '\0';
    assert_false(web_csrf_ok(tok, other)); /* one longer */
    assert_false(web_csrf_ok("", ""));     /* no token is no match */
}

static void
test_origin(void **state)
{
    static const struct {
        bool https;
        const char *host, *origin, *referer;
        bool want;
    } rows[] = {
        {false, "127.0.0.1:8026", "http://127.0.0.1:8026", NULL, true},
        {true, "127.0.0.1:8026", "https://127.0.0.1:8026", NULL, true},
        {true, "127.0.0.1:8026", "http://127.0.0.1:8026", NULL, false},
        {false, "127.0.0.1:8026", "http://evil.test", NULL, false},
        {false, "127.0.0.1:8026", "http://127.0.0.1:8026.evil.test", NULL, false},
        {false, "127.0.0.1:8026", "http://127.0.0.1:802", NULL, false},
        {false, "127.0.0.1:8026", "null", NULL, false},
        {false, "127.0.0.1:8026", "null", "http://127.0.0.1:8026/account", false},
        {false, "127.0.0.1:8026", NULL, "http://127.0.0.1:8026/account", true},
        {false, "127.0.0.1:8026", NULL, "http://127.0.0.1:8026", false},
        {false, "127.0.0.1:8026", NULL, "http://127.0.0.1:8026.evil.test/", false},
        {false, "127.0.0.1:8026", NULL, "http://127.0.0.1:8026@evil.test/", false},
        {false, "127.0.0.1:8026", NULL, NULL, false},
        {false, NULL, "http://127.0.0.1:8026", NULL, false},
        {false, "", "http://", NULL, false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        assert_int_equal(
            web_same_origin(rows[i].https, rows[i].host, rows[i].origin, rows[i].referer),
            rows[i].want);
}

static void
test_hex(void **state)
{
    static const unsigned char in[] = {0x00, 0x9f, 0xff, 0x10};
    char out[9];

    (void)state;
    web_hex(in, sizeof in, out);
    assert_string_equal(out, "009fff10");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),  cmocka_unit_test(test_escapez_null),
        cmocka_unit_test(test_routes),  cmocka_unit_test(test_route_length),
        cmocka_unit_test(test_cookies), cmocka_unit_test(test_csrf),
        cmocka_unit_test(test_origin),  cmocka_unit_test(test_hex),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
