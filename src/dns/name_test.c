/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for name.c: the host-name grammar (RFC 5321 4.1.2, RFC 1123
 * 2.1, the lengths of RFC 1035 2.3.4) and the "ADDR:PORT" server text.
 * Tables of valid and hostile rows, every octet in a label, and names at
 * the length limits. Lookups themselves are tested against dnsmasq by
 * tests/e2e/test_dns.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cmocka.h>

#include "dns/dns_impl.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *in;
    int want;   /* 0 or -1 */
    size_t len; /* on 0: the length without the final dot */
} name_rows[] = {
    {"example.com", 0, 11},
    {"EXAMPLE.COM", 0, 11},
    {"example.com.", 0, 11},
    {"a", 0, 1},
    {"a.b", 0, 3},
    {"mx1.test", 0, 8},
    {"a-b.test", 0, 8},
    {"a--b.test", 0, 9},
    {"xn--bcher-kva.example", 0, 21},
    {"1a.test", 0, 7},
    {"0.example", 0, 9},
    {"123.com", 0, 7},
    {"localhost", 0, 9},
    {"a.b1", 0, 4},
    /* hostile: empty, dots */
    {"", -1, 0},
    {".", -1, 0},
    {"..", -1, 0},
    {".example.com", -1, 0},
    {"example..com", -1, 0},
    {"example.com..", -1, 0},
    /* hostile: hyphens at the ends of a label */
    {"-a.test", -1, 0},
    {"a-.test", -1, 0},
    {"a.-", -1, 0},
    {"test.a-", -1, 0},
    /* hostile: address literals and names that read as IPv4 */
    {"192.0.2.1", -1, 0},
    {"192.0.2.1.", -1, 0},
    {"127.1", -1, 0},
    {"1", -1, 0},
    {"a.123", -1, 0},
    {"[192.0.2.1]", -1, 0},
    {"::1", -1, 0},
    {"[IPv6:::1]", -1, 0},
    {"2001:db8::1", -1, 0},
    /* hostile: characters outside LDH */
    {"a_b.test", -1, 0},
    {"_dmarc.test", -1, 0},
    {"a b.test", -1, 0},
    {"a\tb.test", -1, 0},
    {"a\r\n.test", -1, 0},
    {"a\\.b.test", -1, 0},
    {"a\\046b.test", -1, 0},
    {"*.test", -1, 0},
    {"a@b.test", -1, 0},
    {"a/b.test", -1, 0},
    {"a%b.test", -1, 0},
    {"\"a\".test", -1, 0},
    {"b\xc3\xbc"
     "cher.example",
     -1, 0},
    {"a\x7f.test", -1, 0},
    {"a\xff.test", -1, 0},
};

static void
test_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(name_rows); i++) {
        size_t len = 12345;
        int got = dns_name_check(name_rows[i].in, &len);

        if (got != name_rows[i].want || (got == 0 && len != name_rows[i].len)) {
            fprintf(stderr, "row %zu \"%s\": got %d len %zu\n", i, name_rows[i].in, got, len);
            fail();
        }
    }
}

/* Every octet in the middle of a label: only letters, digits, '-' (and '.',
 * which makes two labels). */
static void
test_every_octet(void **state)
{
    (void)state;
    for (int ch = 1; ch < 0x100; ch++) {
        char name[9] = "abc.test";
        size_t len;
        bool want = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';

        name[1] = (char)ch;
        if ((dns_name_check(name, &len) == 0) != want) {
            fprintf(stderr, "octet 0x%02x\n", ch);
            fail();
        }
    }
}

/* Fills name with labels of 63 (the last one shorter) to total octets. */
static void
make_name(char *name, size_t total)
{
    for (size_t i = 0; i < total; i++)
        name[i] = i % 64 == 63 ? '.' : 'a';
    if (total > 0 && name[total - 1] == '.')
        name[total - 1] = 'a';
    name[total] = '\0';
}

static void
test_lengths(void **state)
{
    char name[600];
    size_t len;

    (void)state;
    make_name(name, 253);
    assert_int_equal(dns_name_check(name, &len), 0);
    assert_int_equal(len, 253);
    name[253] = '.';
    name[254] = '\0';
    assert_int_equal(dns_name_check(name, &len), 0);
    assert_int_equal(len, 253);
    make_name(name, 254);
    assert_int_equal(dns_name_check(name, &len), -1);
    make_name(name, 599);
    assert_int_equal(dns_name_check(name, &len), -1);

    /* A label of 63 passes, of 64 does not. */
    memset(name, 'a', 63);
    memcpy(name + 63, ".test", 6);
    assert_int_equal(dns_name_check(name, &len), 0);
    memset(name, 'a', 64);
    memcpy(name + 64, ".test", 6);
    assert_int_equal(dns_name_check(name, &len), -1);
    memset(name, 'a', 64);
    name[64] = '\0';
    assert_int_equal(dns_name_check(name, &len), -1);
}

static const struct {
    const char *in;
    const char *canon; /* NULL: refused */
} server_rows[] = {
    {"127.0.0.1:53", "127.0.0.1:53"},
    {"127.0.0.1:5353", "127.0.0.1:5353"},
    {"192.0.2.1:65535", "192.0.2.1:65535"},
    {"[::1]:5353", "[::1]:5353"},
    {"[2001:db8:0:0:0:0:0:1]:53", "[2001:db8::1]:53"},
    {"[::ffff:127.0.0.1]:53", "[::ffff:127.0.0.1]:53"},
    /* hostile */
    {"", NULL},
    {":", NULL},
    {":53", NULL},
    {"127.0.0.1", NULL},
    {"127.0.0.1:", NULL},
    {"127.0.0.1:0", NULL},
    {"127.0.0.1:65536", NULL},
    {"127.0.0.1:99999999999999999999999", NULL},
    {"127.0.0.1:-1", NULL},
    {"127.0.0.1:+53", NULL},
    {"127.0.0.1: 53", NULL},
    {"127.0.0.1:53 ", NULL},
    {"127.0.0.1:53,10.0.0.1:53", NULL},
    {"127.1:53", NULL},
    {"127.0.0.01:53", NULL},
    {"256.0.0.1:53", NULL},
    {" 127.0.0.1:53", NULL},
    {"localhost:53", NULL},
    {"dns.example:53", NULL},
    {"::1:53", NULL},
    {"::1", NULL},
    {"[::1]", NULL},
    {"[::1]:", NULL},
    {"[::1]53", NULL},
    {"[::1:53", NULL},
    {"[]:53", NULL},
    {"[127.0.0.1]:53", NULL},
    {"[::1%lo]:53", NULL},
    {"[::1]:53:53", NULL},
    {"[::g]:53", NULL},
};

static void
test_servers(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(server_rows); i++) {
        char canon[DNS_SERVER_CAP] = "";
        char err[256] = "";
        int got = dns_server_parse(server_rows[i].in, canon, sizeof(canon), err, sizeof(err));

        if (server_rows[i].canon == NULL) {
            if (got != -1 || err[0] == '\0') {
                fprintf(stderr, "server row %zu \"%s\": accepted as \"%s\"\n", i, server_rows[i].in,
                        canon);
                fail();
            }
        } else if (got != 0 || strcmp(canon, server_rows[i].canon) != 0) {
            fprintf(stderr, "server row %zu \"%s\": got %d \"%s\" (%s)\n", i, server_rows[i].in,
                    got, canon, err);
            fail();
        }
    }
}

/* dns_ptr_name: the reverse names of RFC 1035 3.5 and RFC 3596 2.5. */
static void
test_ptr_names(void **state)
{
    static const struct {
        int family;
        const char *addr;
        const char *want; /* NULL: refused */
    } rows[] = {
        {AF_INET, "192.0.2.1", "1.2.0.192.in-addr.arpa"},
        {AF_INET, "127.0.0.1", "1.0.0.127.in-addr.arpa"},
        {AF_INET, "0.0.0.0", "0.0.0.0.in-addr.arpa"},
        {AF_INET, "255.255.255.255", "255.255.255.255.in-addr.arpa"},
        {AF_INET6, "2001:db8::567:89ab",
         "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"},
        {AF_INET6, "::1",
         "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa"},
        {AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
         "f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.ip6.arpa"},
        /* hostile: a family without reverse names */
        {AF_UNIX, "", NULL},
        {AF_UNSPEC, "", NULL},
    };

    (void)state;
    for (size_t i = 0; i < COUNT(rows); i++) {
        struct sockaddr_storage ss;
        char out[DNS_PTR_NAME_CAP] = "";
        int got;

        memset(&ss, 0, sizeof(ss));
        ss.ss_family = (sa_family_t)rows[i].family;
        if (rows[i].family == AF_INET)
            assert_int_equal(
                inet_pton(AF_INET, rows[i].addr, &((struct sockaddr_in *)&ss)->sin_addr), 1);
        else if (rows[i].family == AF_INET6)
            assert_int_equal(
                inet_pton(AF_INET6, rows[i].addr, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
        got = dns_ptr_name((const struct sockaddr *)&ss, out, sizeof(out));
        if (rows[i].want == NULL) {
            assert_int_equal(got, -1);
        } else {
            assert_int_equal(got, 0);
            assert_string_equal(out, rows[i].want);
            assert_int_equal(dns_name_check(out, &(size_t){0}), 0);
        }
    }
    /* An output one octet short is refused, never cut. */
    {
        struct sockaddr_in6 s6;
        char out[DNS_PTR_NAME_CAP];

        memset(&s6, 0, sizeof(s6));
        s6.sin6_family = AF_INET6;
        assert_int_equal(dns_ptr_name((const struct sockaddr *)&s6, out, 72), -1);
        assert_int_equal(dns_ptr_name((const struct sockaddr *)&s6, out, 73), 0);
        assert_int_equal(strlen(out), 72);
    }
}

/* dns_name_check_any: the names of TXT and A lookups. */
static void
test_names_any(void **state)
{
    static const struct {
        const char *name;
        bool digits_last;
        int rc;
    } rows[] = {
        {"_dmarc.example.com", false, 0},
        {"s._domainkey.example.com.", false, 0},
        {"a+b=c.x.example", false, 0},
        {"2.0.0.127.zen.example", false, 0},
        {"127.0.0.2", true, 0},
        {"127.0.0.2", false, -1},
        {"", false, -1},
        {".", false, -1},
        {"a..b", false, -1},
        {".a", false, -1},
        {"a b.example", false, -1},
        {"a\\.b.example", false, -1},
        {"a\x7f.example", false, -1},
        {"b\xc3\xbc.example", false, -1},
    };
    char big[300];
    size_t len;

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(dns_name_check_any(rows[i].name, rows[i].digits_last, &len), rows[i].rc);
    memset(big, 'a', sizeof(big));
    big[63] = '\0';
    assert_int_equal(dns_name_check_any(big, false, &len), 0);
    big[63] = 'a';
    big[64] = '\0';
    assert_int_equal(dns_name_check_any(big, false, &len), -1);
    big[64] = 'a';
    for (size_t i = 63; i < 254; i += 64)
        big[i] = '.';
    big[253] = '\0';
    assert_int_equal(dns_name_check_any(big, false, &len), 0);
    assert_int_equal(len, 253);
    big[253] = 'a';
    big[254] = '\0';
    assert_int_equal(dns_name_check_any(big, false, &len), -1);
}

/* A DNS message: header (id 1, QR, one question, ancount), question "x" TXT IN. */
static size_t
msg_head(unsigned char *m, unsigned ancount)
{
    static const unsigned char head[] = {0, 1, 0x81, 0x80, 0, 1, 0,  0, 0, 0,
                                         0, 0, 1,    'x',  0, 0, 16, 0, 1};

    memcpy(m, head, sizeof(head));
    m[7] = (unsigned char)ancount;
    return sizeof(head);
}

/* Appends an answer RR (owner: a pointer to the question's name). */
static size_t
msg_rr(unsigned char *m, size_t o, unsigned type, unsigned ttl, const unsigned char *rd,
       size_t rdlen)
{
    unsigned char h[] = {0xc0,
                         12,
                         0,
                         (unsigned char)type,
                         0,
                         1,
                         (unsigned char)(ttl >> 24),
                         (unsigned char)(ttl >> 16),
                         (unsigned char)(ttl >> 8),
                         (unsigned char)ttl,
                         (unsigned char)(rdlen >> 8),
                         (unsigned char)rdlen};

    memcpy(m + o, h, sizeof(h));
    memcpy(m + o + sizeof(h), rd, rdlen);
    return o + sizeof(h) + rdlen;
}

static void
test_txt_parse(void **state)
{
    unsigned char m[512];
    struct dns_txt txt[CAP_DNS_TXT];
    char buf[512 + CAP_DNS_TXT];
    size_t o;

    (void)state;
    /* Two strings in one record, then a CNAME passed over, then a record with a NUL. */
    o = msg_head(m, 3);
    o = msg_rr(m, o, 16, 300, (const unsigned char *)"\3abc\2de", 7);
    o = msg_rr(m, o, 5, 300, (const unsigned char *)"\1y\0", 3);
    o = msg_rr(m, o, 16, 0x80000001u, (const unsigned char *)"\3a\0b", 4);
    assert_int_equal(dns_txt_parse(m, o, txt, buf), 2);
    assert_int_equal(txt[0].len, 5);
    assert_memory_equal(txt[0].text, "abcde", 6);
    assert_int_equal(txt[0].ttl, 300);
    assert_int_equal(txt[1].len, 3);
    assert_memory_equal(txt[1].text, "a\0b", 4);
    assert_int_equal(txt[1].ttl, 0); /* RFC 2181 8 */
    /* Hostile: every truncation of that message is malformed or has fewer records. */
    for (size_t cut = 0; cut < o; cut++)
        assert_true(dns_txt_parse(m, cut, txt, buf) < 2);
    /* A string longer than its RR. */
    o = msg_head(m, 1);
    o = msg_rr(m, o, 16, 1, (const unsigned char *)"\011abc", 4);
    assert_int_equal(dns_txt_parse(m, o, txt, buf), -1);
    /* An empty RDATA (no character-string, out of RFC 1035's grammar): one empty record, and
     * the answer's other records are kept (the RFC 7208 suite's null-text). */
    o = msg_head(m, 2);
    o = msg_rr(m, o, 16, 1, (const unsigned char *)"", 0);
    o = msg_rr(m, o, 16, 1, (const unsigned char *)"ok", 3);
    assert_int_equal(dns_txt_parse(m, o, txt, buf), 2);
    assert_int_equal(txt[0].len, 0);
    assert_string_equal(txt[0].text, "");
    assert_memory_equal(txt[1].text, "ok", 3);
    /* A label type 0x40 (not a pointer, not a length). */
    o = msg_head(m, 1);
    m[12] = 0x41;
    assert_int_equal(dns_txt_parse(m, o, txt, buf), -1);
    /* No answer at all. */
    o = msg_head(m, 0);
    assert_int_equal(dns_txt_parse(m, o, txt, buf), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),     cmocka_unit_test(test_every_octet),
        cmocka_unit_test(test_lengths),   cmocka_unit_test(test_servers),
        cmocka_unit_test(test_ptr_names), cmocka_unit_test(test_names_any),
        cmocka_unit_test(test_txt_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
