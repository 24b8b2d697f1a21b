/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dmarc_from.c: the From domain of RFC 7489 6.6.1 read by
 * RFC 5322 3.4 (the examples of Appendix A.1), the obsolete forms of 4.4,
 * groups, several mailboxes, and hostile rows (unterminated quotes and
 * comments, deep nesting, bare CR/LF, NUL, non-ASCII, long values).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailauth/dmarc.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *in;
    enum dmarc_from want;
    const char *domain;
} rows[] = {
    {"jdoe@example.org", DMARC_FROM_OK, "example.org"},
    {" John Doe <jdoe@machine.example>", DMARC_FROM_OK, "machine.example"},
    {"\"Joe Q. Public\" <john.q.public@example.com>", DMARC_FROM_OK, "example.com"},
    {"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", DMARC_FROM_OK, "silly.test"},
    {"<jdoe@EXAMPLE.Org>", DMARC_FROM_OK, "example.org"},
    {"jdoe@Example.ORG (Comment (nested))", DMARC_FROM_OK, "example.org"},
    {"\"quoted local\"@example.net", DMARC_FROM_OK, "example.net"},
    {"\"a\\\"b\" <x@example.net>", DMARC_FROM_OK, "example.net"},
    {"John\r\n Doe\r\n\t<jdoe@example.org>\r\n ", DMARC_FROM_OK, "example.org"},
    {"\t a@b.example \t", DMARC_FROM_OK, "b.example"},
    {"a@xn--bcher-kva.example", DMARC_FROM_OK, "xn--bcher-kva.example"},
    /* obsolete forms (RFC 5322 4.4) */
    {"Joe Q. Public <john.q.public@example.com>", DMARC_FROM_OK, "example.com"},
    {"<@route1.test,@route2.test:jdoe@example.org>", DMARC_FROM_OK, "example.org"},
    {"<,@route1.test,,@route2.test:jdoe@example.org>", DMARC_FROM_OK, "example.org"},
    {"john . q . public @ example . com", DMARC_FROM_OK, "example.com"},
    {"\"john\".q@example.com", DMARC_FROM_OK, "example.com"},
    {", jdoe@example.org", DMARC_FROM_OK, "example.org"},
    {"jdoe@example.org ,,", DMARC_FROM_OK, "example.org"},
    /* several mailboxes, groups */
    {"Mary Smith <mary@x.test>, jdoe@example.org", DMARC_FROM_MULTIPLE, ""},
    {"a@example.org, b@example.org", DMARC_FROM_MULTIPLE, ""},
    {"A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;", DMARC_FROM_MULTIPLE, ""},
    {"Undisclosed recipients:;", DMARC_FROM_MULTIPLE, ""},
    /* none */
    {"", DMARC_FROM_EMPTY, ""},
    {"   ", DMARC_FROM_EMPTY, ""},
    {"(just a comment)", DMARC_FROM_EMPTY, ""},
    {" , ,", DMARC_FROM_EMPTY, ""},
    /* address literals */
    {"a@[192.0.2.1]", DMARC_FROM_LITERAL, ""},
    {"Joe <a@[IPv6:2001:db8::1]>", DMARC_FROM_LITERAL, ""},
    /* hostile */
    {"jdoe", DMARC_FROM_SYNTAX, ""},
    {"@example.org", DMARC_FROM_SYNTAX, ""},
    {"jdoe@", DMARC_FROM_SYNTAX, ""},
    {"jdoe@example..org", DMARC_FROM_SYNTAX, ""},
    {"jdoe@.example.org", DMARC_FROM_SYNTAX, ""},
    {"jdoe@example.org.", DMARC_FROM_SYNTAX, ""},
    {"jdoe@-example.org", DMARC_FROM_SYNTAX, ""},
    {"jdoe@exa_mple.org", DMARC_FROM_SYNTAX, ""},
    {"jdoe@exam!ple.org", DMARC_FROM_SYNTAX, ""},
    {"<jdoe@example.org", DMARC_FROM_SYNTAX, ""},
    {"jdoe@example.org>", DMARC_FROM_SYNTAX, ""},
    {"Joe <jdoe@example.org> trailing", DMARC_FROM_SYNTAX, ""},
    {"a@b.test <c@d.test>", DMARC_FROM_SYNTAX, ""},
    {"Joe <<jdoe@example.org>>", DMARC_FROM_SYNTAX, ""},
    {"\"unterminated <jdoe@example.org>", DMARC_FROM_SYNTAX, ""},
    {"(unterminated jdoe@example.org", DMARC_FROM_SYNTAX, ""},
    {"jdoe@example.org (unterminated", DMARC_FROM_SYNTAX, ""},
    {"jdoe@example.org\r\n", DMARC_FROM_SYNTAX, ""},
    {"jdoe@exa\nmple.org", DMARC_FROM_SYNTAX, ""},
    {"Joe\r<jdoe@example.org>", DMARC_FROM_SYNTAX, ""},
    {"j\x01"
     "doe@example.org",
     DMARC_FROM_SYNTAX, ""},
    {"J\xc3\xb6rg <j@example.org>", DMARC_FROM_SYNTAX, ""},
    {"j@b\xc3\xbc"
     "cher.example",
     DMARC_FROM_SYNTAX, ""},
    {"Joe <jdoe@example.org; evil@attacker.test>", DMARC_FROM_SYNTAX, ""},
    {"jdoe@example.org\"@attacker.test", DMARC_FROM_SYNTAX, ""},
    {"<@route.test jdoe@example.org>", DMARC_FROM_SYNTAX, ""},
    {"a@[unterminated", DMARC_FROM_SYNTAX, ""},
    {"((((((((((deep))))))))) a@b.test", DMARC_FROM_SYNTAX, ""},
    {"(((((((ok))))))) a@b.test", DMARC_FROM_OK, "b.test"},
    {"jdoe@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test",
     DMARC_FROM_SYNTAX, ""},
};

static void
test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(rows); i++) {
        char out[DMARC_DOMAIN_MAX + 1] = "x";
        enum dmarc_from got =
            dmarc_from_domain(slice_make(rows[i].in, strlen(rows[i].in)), out, sizeof(out));

        if (got != rows[i].want || strcmp(out, rows[i].domain) != 0)
            fail_msg("row %zu \"%s\": got %s \"%s\" want %s \"%s\"", i, rows[i].in,
                     dmarc_from_name(got), out, dmarc_from_name(rows[i].want), rows[i].domain);
    }
}

/* A NUL in the value, a domain at 253 and 254 octets, a value past the cap. */
static void
test_lengths(void **state)
{
    static const char nul[] = "jdoe@exam\0ple.org";
    char in[DMARC_FROM_MAX + 2], out[DMARC_DOMAIN_MAX + 1];
    size_t n;

    (void)state;
    assert_int_equal(dmarc_from_domain(slice_make(nul, sizeof(nul) - 1), out, sizeof(out)),
                     DMARC_FROM_SYNTAX);

    /* 4 labels of 63 and one of 1: 63*4 + 1 + 4 dots = 257; trim to 253 */
    n = (size_t)snprintf(in, sizeof(in), "a@");
    for (int l = 0; l < 3; l++) {
        memset(in + n, 'x', 63);
        n += 63;
        in[n++] = '.';
    }
    memset(in + n, 'y', 61); /* 3*64 + 61 = 253 */
    n += 61;
    assert_int_equal(dmarc_from_domain(slice_make(in, n), out, sizeof(out)), DMARC_FROM_OK);
    assert_int_equal(strlen(out), 253);
    in[n++] = 'y';
    assert_int_equal(dmarc_from_domain(slice_make(in, n), out, sizeof(out)), DMARC_FROM_SYNTAX);
    assert_string_equal(out, "");
    /* too small an output buffer */
    assert_int_equal(dmarc_from_domain(slice_make("a@example.org", 13), out, 5), DMARC_FROM_SYNTAX);
    assert_int_equal(dmarc_from_domain(slice_make("a@example.org", 13), out, 0), DMARC_FROM_SYNTAX);

    /* a long display name of comments: fine up to the cap, refused past it */
    memset(in, ' ', sizeof(in));
    memcpy(in + DMARC_FROM_MAX - 8, "a@b.test", 8);
    assert_int_equal(dmarc_from_domain(slice_make(in, DMARC_FROM_MAX), out, sizeof(out)),
                     DMARC_FROM_OK);
    assert_int_equal(dmarc_from_domain(slice_make(in, DMARC_FROM_MAX + 1), out, sizeof(out)),
                     DMARC_FROM_SYNTAX);
}

/* Many words and many empty list elements: linear, bounded. */
static void
test_many(void **state)
{
    char *in = malloc(DMARC_FROM_MAX);
    char out[DMARC_DOMAIN_MAX + 1];
    size_t n = 0;

    (void)state;
    assert_non_null(in);
    while (n + 2 <= DMARC_FROM_MAX - 20) {
        in[n++] = 'w';
        in[n++] = ' ';
    }
    memcpy(in + n, "<a@b.test>", 10);
    n += 10;
    assert_int_equal(dmarc_from_domain(slice_make(in, n), out, sizeof(out)), DMARC_FROM_OK);
    memset(in, ',', DMARC_FROM_MAX);
    assert_int_equal(dmarc_from_domain(slice_make(in, DMARC_FROM_MAX), out, sizeof(out)),
                     DMARC_FROM_EMPTY);
    memset(in, '(', DMARC_FROM_MAX);
    assert_int_equal(dmarc_from_domain(slice_make(in, DMARC_FROM_MAX), out, sizeof(out)),
                     DMARC_FROM_SYNTAX);
    free(in);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_many),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
