/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dnsbl.c's pure parts: the query names (RFC 5782 2.1 and
 * 2.4: IPv4 octets reversed, IPv6 nibbles, IPv4-mapped addresses asked as
 * IPv4, final dots, zones too long for a DNS name, small buffers) and the
 * classification of answers (127/8 listings, Spamhaus's 127.255.255.0/24
 * error codes, answers outside 127/8). Lookups against dnsmasq are in
 * tests/e2e/test_dnsbl.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "checks/dnsbl.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *addr; /* IPv4 or IPv6 text */
    const char *zone;
    const char *want; /* NULL: -1 */
} name_rows[] = {
    {"127.0.0.2", "zen.example", "2.0.0.127.zen.example"},
    {"192.0.2.99", "bl.test.", "99.2.0.192.bl.test"},
    {"0.0.0.0", "bl.test", "0.0.0.0.bl.test"},
    {"255.255.255.255", "bl.test", "255.255.255.255.bl.test"},
    {"2001:db8::1", "bl.test",
     "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test"},
    {"2001:DB8:abcd:12::ff", "v6.bl.test",
     "f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.1.0.0.d.c.b.a.8.b.d.0.1.0.0.2.v6.bl.test"},
    /* IPv4-mapped: asked as IPv4. */
    {"::ffff:192.0.2.7", "bl.test", "7.2.0.192.bl.test"},
    /* Not mapped (IPv4-compatible, deprecated): IPv6 nibbles. */
    {"::192.0.2.7", "bl.test",
     "7.0.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.test"},
    /* hostile: empty zones */
    {"127.0.0.2", "", NULL},
    {"127.0.0.2", ".", NULL},
    {"2001:db8::1", "", NULL},
};

static int
parse(const char *text, int *family, unsigned char *addr)
{
    if (inet_pton(AF_INET, text, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, addr) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

static void
test_query_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(name_rows); i++) {
        unsigned char addr[16];
        char out[300];
        int family;
        int rc;

        assert_int_equal(parse(name_rows[i].addr, &family, addr), 0);
        memset(out, 'x', sizeof(out));
        rc = dnsbl_query_name(out, sizeof(out), family, addr, name_rows[i].zone);
        if (name_rows[i].want == NULL) {
            assert_int_equal(rc, -1);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_string_equal(out, name_rows[i].want);
    }
}

/* Hostile: lengths at and past 253, buffers one short, other families. */
static void
test_query_name_limits(void **state)
{
    unsigned char v4[4] = {127, 0, 0, 2};
    unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8};
    char zone[300];
    char out[300];
    size_t zlen;

    (void)state;
    /* "2.0.0.127." is 10 octets: a zone of 243 makes 253, one more is over. */
    memset(zone, 'a', sizeof(zone));
    for (size_t i = 63; i < 243; i += 64)
        zone[i] = '.';
    zone[243] = '\0';
    assert_int_equal(dnsbl_query_name(out, sizeof(out), AF_INET, v4, zone), 0);
    assert_int_equal(strlen(out), 253);
    /* A final dot does not count. */
    zone[243] = '.';
    zone[244] = '\0';
    assert_int_equal(dnsbl_query_name(out, sizeof(out), AF_INET, v4, zone), 0);
    assert_int_equal(strlen(out), 253);
    zone[243] = 'a';
    assert_int_equal(dnsbl_query_name(out, sizeof(out), AF_INET, v4, zone), -1);
    /* IPv6: 64 octets of nibbles leave 189 for the zone. */
    zone[189] = '\0';
    assert_int_equal(dnsbl_query_name(out, sizeof(out), AF_INET6, v6, zone), 0);
    assert_int_equal(strlen(out), 253);
    zone[189] = 'a';
    zone[190] = '\0';
    assert_int_equal(dnsbl_query_name(out, sizeof(out), AF_INET6, v6, zone), -1);
    /* The buffer: exactly enough, then one short (the output left alone). */
    zlen = strlen("2.0.0.127.bl.test");
    assert_int_equal(dnsbl_query_name(out, zlen + 1, AF_INET, v4, "bl.test"), 0);
    assert_string_equal(out, "2.0.0.127.bl.test");
    assert_int_equal(dnsbl_query_name(out, zlen, AF_INET, v4, "bl.test"), -1);
    assert_int_equal(dnsbl_query_name(out, 0, AF_INET, v4, "bl.test"), -1);
    /* Other families, NULLs. */
    assert_int_equal(dnsbl_query_name(out, sizeof(out), AF_UNIX, v4, "bl.test"), -1);
    assert_int_equal(dnsbl_query_name(out, sizeof(out), AF_INET, v4, NULL), -1);
    assert_int_equal(dnsbl_query_name(out, sizeof(out), AF_INET, NULL, "bl.test"), -1);
    assert_int_equal(dnsbl_query_name(NULL, sizeof(out), AF_INET, v4, "bl.test"), -1);
}

static const struct {
    const char *a;
    enum dnsbl_code want;
} code_rows[] = {
    {"127.0.0.2", DNSBL_CODE_LISTED},
    {"127.0.0.4", DNSBL_CODE_LISTED},
    {"127.0.0.10", DNSBL_CODE_LISTED},
    {"127.0.1.2", DNSBL_CODE_LISTED},
    {"127.0.0.0", DNSBL_CODE_LISTED},
    {"127.255.254.255", DNSBL_CODE_LISTED},
    {"127.255.255.252", DNSBL_CODE_ERROR}, /* Spamhaus: typing error in the name */
    {"127.255.255.254", DNSBL_CODE_ERROR}, /* Spamhaus: query through a public resolver */
    {"127.255.255.255", DNSBL_CODE_ERROR}, /* Spamhaus: excessive number of queries */
    {"127.255.255.0", DNSBL_CODE_ERROR},
    /* hostile: outside 127/8 (a wildcard, an ISP's NXDOMAIN redirect) */
    {"126.255.255.255", DNSBL_CODE_OUTSIDE},
    {"128.0.0.2", DNSBL_CODE_OUTSIDE},
    {"0.0.0.0", DNSBL_CODE_OUTSIDE},
    {"192.0.2.1", DNSBL_CODE_OUTSIDE},
    {"255.255.255.255", DNSBL_CODE_OUTSIDE},
};

static void
test_classify(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(code_rows); i++) {
        struct in_addr a;

        assert_int_equal(inet_pton(AF_INET, code_rows[i].a, &a), 1);
        if (dnsbl_classify(a) != code_rows[i].want)
            fail_msg("%s: got %d, want %d", code_rows[i].a, (int)dnsbl_classify(a),
                     (int)code_rows[i].want);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_names),
        cmocka_unit_test(test_query_name_limits),
        cmocka_unit_test(test_classify),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
