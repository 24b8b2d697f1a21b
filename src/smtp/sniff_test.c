/* SPDX-License-Identifier: MIT */
/*
 * The sniffer (sniff.c): each kind from real first bytes (curl's and a
 * scanner's request lines, OpenSSL's ClientHello record header, OpenSSH's
 * banner, HAProxy's v1 and v2 headers), what SMTP clients send (verbs of
 * any case, EHLO with UTF-8, odd lines the command parser must answer),
 * when it waits for more, and the hostile rows: cut signatures, NUL, 8-bit
 * octets, overlong lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/sniff.h"

struct row {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    enum sniff_kind want, want_final;
};

#define S(x) x, sizeof(x) - 1

static const struct row rows[] = {
    /* SMTP, and what SMTP answers itself. */
    {"ehlo", S("EHLO client.example\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"ehlo lower", S("ehlo client.example\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"helo no crlf yet", S("HELO x"), SNIFF_SMTP, SNIFF_SMTP},
    {"ehlo utf8",
     S("EHLO b\xc3\xbc"
       "cher.example\r\n"),
     SNIFF_SMTP, SNIFF_SMTP},
    {"noop", S("NOOP\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"quit", S("QUIT\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"starttls", S("STARTTLS\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"unknown verb", S("FOO bar\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"digits", S("12345\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"empty line", S("\r\n"), SNIFF_MORE, SNIFF_SMTP}, /* the start of PROXY v2's signature */
    {"two empty lines", S("\r\n\r\n"), SNIFF_MORE, SNIFF_SMTP},
    {"empty line then", S("\r\nNOOP\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"bare lf inside", S("NOOP\nNOOP\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"bare cr inside", S("NOOP\rNOOP\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"tab", S("NOOP\tx\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"get lower", S("get / http/1.1\r\n"), SNIFF_SMTP, SNIFF_SMTP}, /* the version is case-exact */
    {"get no version", S("GET /\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"get http/2", S("GET / HTTP/2\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"get trailing", S("GET / HTTP/1.1 x\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"get two spaces", S("GET  / HTTP/1.1\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"proxy no space", S("PROXY\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    {"ssh lower", S("ssh-2.0-x\r\n"), SNIFF_SMTP, SNIFF_SMTP},
    /* Waiting: a line not ended yet, nothing decided. */
    {"empty", "", 0, SNIFF_MORE, SNIFF_SMTP},
    {"ehl", S("EHL"), SNIFF_MORE, SNIFF_SMTP},
    {"get started", S("GET /index.html HTT"), SNIFF_MORE, SNIFF_SMTP},
    {"get method only", S("GET"), SNIFF_MORE, SNIFF_SMTP},
    {"pro", S("PRO"), SNIFF_MORE, SNIFF_SMTP},
    {"tls 1 octet", S("\x16"), SNIFF_MORE, SNIFF_BINARY},
    {"tls 2 octets", S("\x16\x03"), SNIFF_MORE, SNIFF_BINARY},
    {"v2 cut", S("\r\n\r\n\0\r\n"), SNIFF_MORE, SNIFF_PROXY},
    /* HTTP. */
    {"get", S("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), SNIFF_HTTP, SNIFF_HTTP},
    {"get 1.0 lf", S("GET /x?y=1 HTTP/1.0\n"), SNIFF_HTTP, SNIFF_HTTP},
    {"post", S("POST /cgi-bin/.%2e/bin/sh HTTP/1.1\r\n"), SNIFF_HTTP, SNIFF_HTTP},
    {"head", S("HEAD / HTTP/1.1\r\n"), SNIFF_HTTP, SNIFF_HTTP},
    {"put", S("PUT /a HTTP/1.1\r\n"), SNIFF_HTTP, SNIFF_HTTP},
    {"options", S("OPTIONS * HTTP/1.1\r\n"), SNIFF_HTTP, SNIFF_HTTP},
    {"connect", S("CONNECT example.com:443 HTTP/1.1\r\n"), SNIFF_HTTP, SNIFF_HTTP},
    {"delete", S("DELETE /a HTTP/1.1\r\n"), SNIFF_HTTP, SNIFF_HTTP},
    {"http2 preface", S("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), SNIFF_HTTP, SNIFF_HTTP},
    {"get lower method", S("get / HTTP/1.1\r\n"), SNIFF_HTTP, SNIFF_HTTP},
    /* TLS. */
    {"tls 1.0 record", S("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), SNIFF_TLS, SNIFF_TLS},
    {"tls 1.2 record", S("\x16\x03\x03\x00\x05"), SNIFF_TLS, SNIFF_TLS},
    {"ssl3 record", S("\x16\x03\x00"), SNIFF_TLS, SNIFF_TLS},
    {"tls bad version", S("\x16\x03\x05"), SNIFF_BINARY, SNIFF_BINARY},
    {"tls not 3", S("\x16\x02\x01"), SNIFF_BINARY, SNIFF_BINARY},
    /* SSH. */
    {"ssh", S("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"), SNIFF_SSH, SNIFF_SSH},
    {"ssh no crlf", S("SSH-2.0-Go"), SNIFF_SSH, SNIFF_SSH},
    /* PROXY. */
    {"proxy v1", S("PROXY TCP4 192.0.2.1 192.0.2.2 56324 26\r\n"), SNIFF_PROXY, SNIFF_PROXY},
    {"proxy v1 unknown", S("PROXY UNKNOWN\r\n"), SNIFF_PROXY, SNIFF_PROXY},
    {"proxy v2", S("\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c"), SNIFF_PROXY, SNIFF_PROXY},
    {"proxy v2 sig only", S("\r\n\r\n\0\r\nQUIT\n"), SNIFF_PROXY, SNIFF_PROXY},
    {"v2 wrong", S("\r\n\r\n\0\r\nQUIX\n"), SNIFF_SMTP, SNIFF_SMTP}, /* an empty line first */
    /* Binary. */
    {"nul", S("\0\r\n"), SNIFF_BINARY, SNIFF_BINARY},
    {"nul alone", S("\0"), SNIFF_BINARY, SNIFF_BINARY},
    {"noop nul", S("NOOP\0\r\n"), SNIFF_BINARY, SNIFF_BINARY},
    {"8-bit", S("\xff\xfe\xfd\r\n"), SNIFF_BINARY, SNIFF_BINARY},
    {"escape", S("\x1b[31mNOOP\r\n"), SNIFF_BINARY, SNIFF_BINARY},
    {"del", S("\x7f\r\n"), SNIFF_BINARY, SNIFF_BINARY},
    {"rdp", S("\x03\x00\x00\x13\x0e\xe0\x00\x00"), SNIFF_BINARY, SNIFF_BINARY},
    {"utf8 not a verb", S("N\xc3\xb6OP\r\n"), SNIFF_BINARY, SNIFF_BINARY},
    {"binary after text", S("hello\x01"), SNIFF_BINARY, SNIFF_BINARY},
    {"binary on line 2", S("FOO\r\n\x01\x02\r\n"), SNIFF_SMTP, SNIFF_SMTP},
};

static void
test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        enum sniff_kind got = sniff_input((const unsigned char *)r->in, r->len, false);
        enum sniff_kind fin = sniff_input((const unsigned char *)r->in, r->len, true);

        if (got != r->want || fin != r->want_final) {
            print_error("row '%s': want %s/%s, got %s/%s\n", r->name, sniff_kind_name(r->want),
                        sniff_kind_name(r->want_final), sniff_kind_name(got), sniff_kind_name(fin));
            fail();
        }
    }
}

/* A line that never ends: decided once the window is full; what lies beyond is not read. */
static void
test_window(void **state)
{
    size_t n = SNIFF_WINDOW + 100;
    unsigned char *p = malloc(n);

    (void)state;
    assert_non_null(p);
    memset(p, 'A', n);
    assert_int_equal(sniff_input(p, SNIFF_WINDOW - 1, false), SNIFF_MORE);
    assert_int_equal(sniff_input(p, SNIFF_WINDOW, false), SNIFF_SMTP);
    p[SNIFF_WINDOW + 10] = 0; /* beyond the window */
    assert_int_equal(sniff_input(p, n, false), SNIFF_SMTP);
    p[SNIFF_WINDOW - 1] = 0;
    assert_int_equal(sniff_input(p, n, false), SNIFF_BINARY);
    /* A request line longer than the window is not known for one. */
    memset(p, 'a', n);
    memcpy(p, "GET /", 5);
    assert_int_equal(sniff_input(p, SNIFF_WINDOW - 1, false), SNIFF_MORE);
    assert_int_equal(sniff_input(p, n, false), SNIFF_SMTP);
    free(p);
}

/* Fed an octet at a time, every kind is found when its bytes are there, never before. */
static void
test_octet_by_octet(void **state)
{
    static const char get[] = "GET / HTTP/1.1\r\n";
    static const char ssh[] = "SSH-2.0-x\r\n";

    (void)state;
    for (size_t i = 1; i < sizeof(get) - 2; i++)
        assert_int_equal(sniff_input((const unsigned char *)get, i, false), SNIFF_MORE);
    assert_int_equal(sniff_input((const unsigned char *)get, sizeof(get) - 1, false), SNIFF_HTTP);
    for (size_t i = 1; i < 4; i++)
        assert_int_equal(sniff_input((const unsigned char *)ssh, i, false), SNIFF_MORE);
    assert_int_equal(sniff_input((const unsigned char *)ssh, 4, false), SNIFF_SSH);
    assert_string_equal(sniff_kind_name(SNIFF_PROXY), "proxy");
    assert_string_equal(sniff_kind_name((enum sniff_kind)99), "?");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_octet_by_octet),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
