/* SPDX-License-Identifier: MIT */
/*
 * Tests for target.c: one table of command-line targets and what each
 * parses to, with hostile rows (bad ports, bare IPv6 in a URL, user, path,
 * query, unknown schemes, empty hosts, names that are no names).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "check/target.h"

#define BY   CHECK_START_BY_PORT
#define IMPL CHECK_START_IMPLICIT
#define PLN  CHECK_START_PLAIN

static const struct {
    const char *arg;
    int rc;
    const char *name, *addr;
    unsigned port;
    enum check_tls_start start;
    const char *why; /* in the message of a refused row */
} rows[] = {
    {"mx.example.com", 0, "mx.example.com", "", 0, BY, NULL},
    {"mx.example.com.", 0, "mx.example.com", "", 0, BY, NULL},
    {"mx.example.com:2525", 0, "mx.example.com", "", 2525, BY, NULL},
    {"192.0.2.1", 0, "192.0.2.1", "192.0.2.1", 0, BY, NULL},
    {"192.0.2.1:465", 0, "192.0.2.1", "192.0.2.1", 465, BY, NULL},
    {"[2001:db8::1]", 0, "2001:db8::1", "2001:db8::1", 0, BY, NULL},
    {"[2001:DB8:0::1]:26", 0, "2001:DB8:0::1", "2001:db8::1", 26, BY, NULL},
    {"2001:db8::1", 0, "2001:db8::1", "2001:db8::1", 0, BY, NULL},
    {"smtps://mx.example.com:2465", 0, "mx.example.com", "", 2465, IMPL, NULL},
    {"smtps://mx.example.com", 0, "mx.example.com", "", 465, IMPL, NULL},
    {"SMTPS://127.0.0.1:1", 0, "127.0.0.1", "127.0.0.1", 1, IMPL, NULL},
    {"smtps://[::1]:65535", 0, "::1", "::1", 65535, IMPL, NULL},
    {"smtps://[::1]", 0, "::1", "::1", 465, IMPL, NULL},
    {"smtp://mx.example.com:465", 0, "mx.example.com", "", 465, PLN, NULL},
    {"smtp://mx.example.com", 0, "mx.example.com", "", 25, PLN, NULL},
    {"Smtp://[2001:db8::2]:587", 0, "2001:db8::2", "2001:db8::2", 587, PLN, NULL},

    /* Hostile rows. */
    {"", -1, NULL, NULL, 0, BY, "neither a host name nor an address"},
    {"127.0.0.1:0", -1, NULL, NULL, 0, BY, "expected HOST:PORT with a port 1..65535"},
    {"127.0.0.1:65536", -1, NULL, NULL, 0, BY, "expected HOST:PORT"},
    {"127.0.0.1:", -1, NULL, NULL, 0, BY, "expected HOST:PORT"},
    {"127.0.0.1:+25", -1, NULL, NULL, 0, BY, "expected HOST:PORT"},
    {"[::1", -1, NULL, NULL, 0, BY, "is not an IPv6 address in brackets"},
    {"[127.0.0.1]:25", -1, NULL, NULL, 0, BY, "is not an IPv6 address in brackets"},
    {"[::1]x", -1, NULL, NULL, 0, BY, "expected [IPV6] or [IPV6]:PORT"},
    {"[::1]:", -1, NULL, NULL, 0, BY, "expected [IPV6] or [IPV6]:PORT"},
    {"::1:25:x", -1, NULL, NULL, 0, BY, "is not an IPv6 address"},
    {"bad_host!", -1, NULL, NULL, 0, BY, "neither a host name nor an address"},
    {"999.1.2.3", -1, NULL, NULL, 0, BY, "neither a host name nor an address"},
    {"a..b", -1, NULL, NULL, 0, BY, "neither a host name nor an address"},
    {"smtps://", -1, NULL, NULL, 0, BY, "expected smtps://HOST[:PORT]"},
    {"smtp://", -1, NULL, NULL, 0, BY, "expected smtp://HOST[:PORT]"},
    {"smtps://:465", -1, NULL, NULL, 0, BY, "expected smtps://HOST[:PORT]"},
    {"smtps://host:0", -1, NULL, NULL, 0, BY, "expected HOST:PORT with a port 1..65535"},
    {"smtps://host:99999", -1, NULL, NULL, 0, BY, "expected HOST:PORT"},
    {"smtps://host:", -1, NULL, NULL, 0, BY, "expected HOST:PORT"},
    {"smtps://host:465:1", -1, NULL, NULL, 0, BY, "expected smtps://HOST[:PORT]"},
    {"smtps://::1", -1, NULL, NULL, 0, BY, "expected smtps://HOST[:PORT]"},
    {"smtps://[::1]:0", -1, NULL, NULL, 0, BY, "expected [IPV6] or [IPV6]:PORT"},
    {"smtps://[::1", -1, NULL, NULL, 0, BY, "is not an IPv6 address in brackets"},
    {"smtps://user@host", -1, NULL, NULL, 0, BY, "no user, path or query"},
    {"smtps://host/", -1, NULL, NULL, 0, BY, "no user, path or query"},
    {"smtps://host:465/x", -1, NULL, NULL, 0, BY, "no user, path or query"},
    {"smtp://host?x=1", -1, NULL, NULL, 0, BY, "no user, path or query"},
    {"smtp://host#f", -1, NULL, NULL, 0, BY, "no user, path or query"},
    {"smtps://bad_host!:465", -1, NULL, NULL, 0, BY, "neither a host name nor an address"},
    {"smtps://999.1.2.3", -1, NULL, NULL, 0, BY, "neither a host name nor an address"},
    {"http://host", -1, NULL, NULL, 0, BY, "the URLs here are smtp://HOST[:PORT] and smtps://"},
    {"smtpss://host", -1, NULL, NULL, 0, BY, "the URLs here are"},
    {"://host", -1, NULL, NULL, 0, BY, "the URLs here are"},
    {"smtps:/host", -1, NULL, NULL, 0, BY, "expected HOST:PORT"},
    {"smtps//host", -1, NULL, NULL, 0, BY, "neither a host name nor an address"},
};

static void
test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct check_target t;
        char why[512] = "";
        int rc = check_target_parse(rows[i].arg, &t, why, sizeof(why));

        if (rc != rows[i].rc)
            fail_msg("row %zu '%s': rc %d, want %d (%s)", i, rows[i].arg, rc, rows[i].rc, why);
        if (rc == -1) {
            if (strstr(why, rows[i].why) == NULL || strstr(why, rows[i].arg) == NULL)
                fail_msg("row %zu '%s': message '%s' lacks '%s' or the target", i, rows[i].arg, why,
                         rows[i].why);
            continue;
        }
        if (strcmp(t.name, rows[i].name) != 0 || strcmp(t.addr, rows[i].addr) != 0 ||
            t.port != rows[i].port || t.start != rows[i].start)
            fail_msg("row %zu '%s': name '%s' addr '%s' port %u start %d", i, rows[i].arg, t.name,
                     t.addr, t.port, (int)t.start);
    }
}

/* A name of 253 octets is one; 254 is not; a label of 64 is not. */
static void
test_lengths(void **state)
{
    char name[300], arg[320], why[512];
    struct check_target t;

    (void)state;
    memset(name, 'a', sizeof(name));
    for (size_t i = 63; i < 253; i += 64)
        name[i] = '.';
    name[253] = '\0';
    assert_true(check_is_host_name(name));
    (void)snprintf(arg, sizeof(arg), "smtps://%s:2465", name);
    assert_int_equal(check_target_parse(arg, &t, why, sizeof(why)), 0);
    assert_string_equal(t.name, name);
    name[253] = 'a';
    name[254] = '\0';
    assert_false(check_is_host_name(name));
    memset(name, 'a', 64);
    name[64] = '\0';
    assert_false(check_is_host_name(name));
    name[63] = '\0';
    assert_true(check_is_host_name(name));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_lengths),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
