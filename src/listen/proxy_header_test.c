/* SPDX-License-Identifier: MIT */
/*
 * Tests for the PROXY protocol header parser. One table of rows, most of
 * them hostile (octets -> status, reason, length, carried address), each
 * fed whole, then as every shorter prefix (which must answer "more" or the
 * same answer: the reader asks again as octets arrive), then padded to
 * PROXY_HEADER_MAX octets (which must decide).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "listen/proxy_header.h"

struct row {
    const char *name;
    const char *in;
    size_t len;
    enum proxy_header_status want;
    const char *reason;  /* ERROR */
    size_t header_len;   /* DONE */
    const char *address; /* DONE: the carried address, NULL: keeps its own */
    unsigned port;
};

/* Rows may hold NUL octets: the length comes from the literal. */
#define OK(n, lit, hlen, addr, port)                                                               \
    {                                                                                              \
        n, lit, sizeof(lit) - 1, PROXY_HEADER_DONE, NULL, hlen, addr, port                         \
    }
#define BAD(n, lit, why)                                                                           \
    {                                                                                              \
        n, lit, sizeof(lit) - 1, PROXY_HEADER_ERROR, why, 0, NULL, 0                               \
    }
#define MORE(n, lit)                                                                               \
    {                                                                                              \
        n, lit, sizeof(lit) - 1, PROXY_HEADER_MORE, NULL, 0, NULL, 0                               \
    }

/* The v2 signature (section 2.2), and v2 headers up to their length field. */
#define SIG         "\r\n\r\n\0\r\nQUIT\n"
#define V2_PROXY4   SIG "\x21\x11\x00\x0c"
#define V2_PROXY6   SIG "\x21\x21\x00\x24"
#define ADDR4       "\xc0\x00\x02\x07\xc6\x33\x64\x01\xdb\xfc\x00\x19" /* 192.0.2.7:56316 -> :25 */
#define IP6_SRC     "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07"
#define IP6_DST     "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
#define X10         "xxxxxxxxxx"
#define X100        X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define FFFF8       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
#define V1_IPV4     "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\n"
#define TLV_NOOP204 "\x04\x00\xc9" X100 X100 "x"  /* 3 + 201 octets */
#define TLV_NOOP205 "\x04\x00\xca" X100 X100 "xx" /* 3 + 202 octets */

static const struct row rows[] = {
    /* Version 1, as HAProxy sends it, and the grammar's edges (section 2.1). */
    OK("v1 tcp4", V1_IPV4, 44, "192.0.2.7", 56324),
    OK("v1 tcp4, then EHLO", V1_IPV4 "EHLO mx.example\r\n", 44, "192.0.2.7", 56324),
    OK("v1 tcp4, then a ClientHello", V1_IPV4 "\x16\x03\x01\x02\x00\x01", 44, "192.0.2.7", 56324),
    OK("v1 tcp4 edges", "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", 44, "0.0.0.0", 0),
    OK("v1 tcp6", "PROXY TCP6 2001:db8::7 2001:db8::1 1 25\r\n", 41, "2001:db8::7", 1),
    OK("v1 tcp6 longest", "PROXY TCP6 " FFFF8 " " FFFF8 " 65535 65535\r\n", 104, FFFF8, 65535),
    OK("v1 tcp6 upper case", "PROXY TCP6 2001:DB8::7 ::1 10 20\r\n", 34, "2001:db8::7", 10),
    OK("v1 tcp6 v4-mapped", "PROXY TCP6 ::ffff:192.0.2.7 ::1 99 25\r\n", 39, "::ffff:192.0.2.7",
       99),
    OK("v1 unknown", "PROXY UNKNOWN\r\n", 15, NULL, 0),
    OK("v1 unknown, then EHLO", "PROXY UNKNOWN\r\nEHLO x\r\n", 15, NULL, 0),
    OK("v1 unknown longest", "PROXY UNKNOWN " FFFF8 " " FFFF8 " 65535 65535\r\n", 107, NULL, 0),
    OK("v1 unknown ignores the rest", "PROXY UNKNOWN \x01\xff whatever\r\n", 27, NULL, 0),

    /* Version 1, hostile. */
    BAD("v1 bare LF", "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\n", "malformed"),
    BAD("v1 lone CR inside", "PROXY TCP4 192.0.2.7\r198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 LF first", "PROXY \n", "malformed"),
    BAD("v1 two spaces", "PROXY TCP4  192.0.2.7 198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 tab", "PROXY TCP4\t192.0.2.7 198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 space before CRLF", "PROXY TCP4 192.0.2.7 198.51.100.1 1 2 \r\n", "malformed"),
    BAD("v1 extra field", "PROXY TCP4 192.0.2.7 198.51.100.1 1 2 3\r\n", "malformed"),
    BAD("v1 no destination port", "PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n", "malformed"),
    BAD("v1 no ports", "PROXY TCP4 192.0.2.7 198.51.100.1\r\n", "malformed"),
    BAD("v1 nothing after TCP4", "PROXY TCP4\r\n", "malformed"),
    BAD("v1 empty", "PROXY \r\n", "malformed"),
    BAD("v1 no space after PROXY", "PROXYTCP4 192.0.2.7 198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 TCP5", "PROXY TCP5 192.0.2.7 198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 tcp4 lower case", "PROXY tcp4 192.0.2.7 198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 UDP4", "PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 UNKNOWNX", "PROXY UNKNOWNX\r\n", "malformed"),
    BAD("v1 leading zero in address", "PROXY TCP4 192.0.2.07 198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 octet 256", "PROXY TCP4 192.0.2.256 198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 three octets", "PROXY TCP4 192.0.2 198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 hex address", "PROXY TCP4 0xc0000207 198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 name", "PROXY TCP4 mx.example 198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 bad destination", "PROXY TCP4 192.0.2.7 198.51.100 1 2\r\n", "malformed"),
    BAD("v1 tcp4 with IPv6", "PROXY TCP4 2001:db8::7 2001:db8::1 1 2\r\n", "malformed"),
    BAD("v1 tcp6 with IPv4", "PROXY TCP6 192.0.2.7 198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 tcp6 families mixed", "PROXY TCP6 2001:db8::7 198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 tcp6 scope", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", "malformed"),
    BAD("v1 tcp6 bracketed", "PROXY TCP6 [2001:db8::7] ::1 1 2\r\n", "malformed"),
    BAD("v1 tcp6 two ::", "PROXY TCP6 2001::db8::7 ::1 1 2\r\n", "malformed"),
    BAD("v1 tcp6 too long a field",
        "PROXY TCP6 0000:0000:0000:0000:0000:0000:0000:0000:0000:0000 ::1 1 2\r\n", "malformed"),
    BAD("v1 NUL after the address", "PROXY TCP4 192.0.2.7\0x 198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 8-bit octet", "PROXY TCP4 192.0.2.7\xc3\xa9 198.51.100.1 1 2\r\n", "malformed"),
    BAD("v1 leading zero in port", "PROXY TCP4 192.0.2.7 198.51.100.1 025 25\r\n", "malformed"),
    BAD("v1 port 00", "PROXY TCP4 192.0.2.7 198.51.100.1 00 25\r\n", "malformed"),
    BAD("v1 port 65536", "PROXY TCP4 192.0.2.7 198.51.100.1 65536 25\r\n", "malformed"),
    BAD("v1 port 99999", "PROXY TCP4 192.0.2.7 198.51.100.1 1 99999\r\n", "malformed"),
    BAD("v1 port six digits", "PROXY TCP4 192.0.2.7 198.51.100.1 100000 25\r\n", "malformed"),
    BAD("v1 port sign", "PROXY TCP4 192.0.2.7 198.51.100.1 +25 25\r\n", "malformed"),
    BAD("v1 port negative", "PROXY TCP4 192.0.2.7 198.51.100.1 -1 25\r\n", "malformed"),
    BAD("v1 port letters", "PROXY TCP4 192.0.2.7 198.51.100.1 smtp 25\r\n", "malformed"),
    BAD("v1 no CRLF in 107", "PROXY UNKNOWN " X100 X10, "too-long"),
    BAD("v1 108 with its CRLF", "PROXY UNKNOWN " FFFF8 " " FFFF8 " 65535 655350\r\n", "too-long"),
    BAD("v1 CR is the 107th", "PROXY UNKNOWN " FFFF8 " " FFFF8 " 65535 655350\r", "too-long"),
    BAD("v1 endless spaces", "PROXY " X100 "                    ", "too-long"),

    /* Not a header at all. */
    BAD("EHLO", "EHLO mx.example\r\n", "missing"),
    BAD("HELO", "HELO", "missing"),
    BAD("HTTP", "GET / HTTP/1.1\r\n", "missing"),
    BAD("POST", "POST / HTTP/1.1\r\n", "missing"),
    BAD("PROXZ", "PROXZ TCP4", "missing"),
    BAD("lower-case proxy", "proxy TCP4 192.0.2.7 198.51.100.1 1 2\r\n", "missing"),
    BAD("space first", " PROXY TCP4 192.0.2.7 198.51.100.1 1 2\r\n", "missing"),
    BAD("TLS ClientHello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "missing"),
    BAD("SSH", "SSH-2.0-OpenSSH_9.2\r\n", "missing"),
    BAD("NUL", "\0\0\0\0", "missing"),
    BAD("LF", "\n", "missing"),

    /* Not yet decided. */
    MORE("nothing", ""),
    MORE("P", "P"),
    MORE("PROXY", "PROXY"),
    MORE("PROXY and a space", "PROXY "),
    MORE("v1 without CRLF", "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25"),
    MORE("v1 up to CR", "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r"),
    MORE("v1 105 octets without CRLF", "PROXY UNKNOWN " FFFF8 " " FFFF8 " 65535 65535"),
    MORE("CR", "\r"),
    MORE("half a signature", "\r\n\r\n\0\r"),
    MORE("signature", SIG),
    MORE("signature and version", SIG "\x21"),
    MORE("v2 header without its length", SIG "\x21\x11\x00"),
    MORE("v2 header without addresses", V2_PROXY4),
    MORE("v2 part of the addresses", V2_PROXY4 "\xc0\x00\x02\x07\xc6"),
    MORE("v2 without its TLV", SIG "\x21\x11\x00\x13" ADDR4 "\x04\x00\x04"),

    /* Version 2, as HAProxy sends it, and its edges (section 2.2). */
    OK("v2 proxy tcp4", V2_PROXY4 ADDR4, 28, "192.0.2.7", 56316),
    OK("v2 proxy tcp4, then EHLO", V2_PROXY4 ADDR4 "EHLO x\r\n", 28, "192.0.2.7", 56316),
    OK("v2 proxy tcp4, then a ClientHello", V2_PROXY4 ADDR4 "\x16\x03\x01\x02\x00", 28, "192.0.2.7",
       56316),
    OK("v2 proxy tcp6", V2_PROXY6 IP6_SRC IP6_DST "\x00\x19\x00\x19", 52, "2001:db8::7", 25),
    OK("v2 proxy tcp4 with a TLV", SIG "\x21\x11\x00\x13" ADDR4 "\x04\x00\x04xxxx", 35, "192.0.2.7",
       56316),
    OK("v2 proxy tcp4 with the longest TLVs", SIG "\x21\x11\x00\xd8" ADDR4 TLV_NOOP204, 232,
       "192.0.2.7", 56316),
    OK("v2 TLVs not checked", SIG "\x21\x11\x00\x0e" ADDR4 "\xff\xff", 30, "192.0.2.7", 56316),
    OK("v2 local", SIG "\x20\x00\x00\x00", 16, NULL, 0),
    OK("v2 local, then EHLO",
       SIG "\x20\x00\x00\x00"
           "EHLO x\r\n",
       16, NULL, 0),
    OK("v2 local with addresses", SIG "\x20\x11\x00\x0c" ADDR4, 28, NULL, 0),
    OK("v2 local ignores the family",
       SIG "\x20\xff\x00\x01"
           "x",
       17, NULL, 0),
    OK("v2 local, longest", SIG "\x20\x00\x00\xd8" X100 X100 X10 "xxxxxx", 232, NULL, 0),

    /* Version 2, hostile. */
    BAD("v2 wrong signature", "\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x0c" ADDR4, "bad-signature"),
    BAD("v2 signature without NUL", "\r\n\r\n \r\nQUIT\n\x21\x11\x00\x0c" ADDR4, "bad-signature"),
    BAD("v2 signature cut short", "\r\n\r\nQUIT\n", "bad-signature"),
    BAD("empty line and EHLO", "\r\nEHLO x\r\n", "bad-signature"),
    BAD("v2 version 1", SIG "\x11\x11\x00\x0c" ADDR4, "bad-version"),
    BAD("v2 version 3", SIG "\x31\x11\x00\x0c" ADDR4, "bad-version"),
    BAD("v2 version 0", SIG "\x01\x11\x00\x0c" ADDR4, "bad-version"),
    BAD("v2 version 15", SIG "\xf1\x11\x00\x0c" ADDR4, "bad-version"),
    BAD("v2 command 2", SIG "\x22\x11\x00\x0c" ADDR4, "unknown-command"),
    BAD("v2 command 15", SIG "\x2f\x11\x00\x0c" ADDR4, "unknown-command"),
    BAD("v2 length 217", SIG "\x21\x11\x00\xd9", "too-long"),
    BAD("v2 length 217, all there", SIG "\x21\x11\x00\xd9" ADDR4 TLV_NOOP205, "too-long"),
    BAD("v2 length 65535", SIG "\x21\x11\xff\xff", "too-long"),
    BAD("v2 local length 65535", SIG "\x20\x00\xff\xff", "too-long"),
    BAD("v2 proxy unspec", SIG "\x21\x00\x00\x00", "unknown-family"),
    BAD("v2 proxy udp4", SIG "\x21\x12\x00\x0c" ADDR4, "unknown-family"),
    BAD("v2 proxy udp6", SIG "\x21\x22\x00\x24" IP6_SRC IP6_DST "\x00\x19\x00\x19",
        "unknown-family"),
    BAD("v2 proxy unix", SIG "\x21\x31\x00\xd8" X100 X100 X10 "xxxxxx", "unknown-family"),
    BAD("v2 proxy family 4", SIG "\x21\x41\x00\x0c" ADDR4, "unknown-family"),
    BAD("v2 proxy family 15", SIG "\x21\xf1\x00\x0c" ADDR4, "unknown-family"),
    BAD("v2 proxy transport 3", SIG "\x21\x13\x00\x0c" ADDR4, "unknown-family"),
    BAD("v2 proxy inet, unspec transport", SIG "\x21\x10\x00\x0c" ADDR4, "unknown-family"),
    BAD("v2 tcp4 block too short",
        SIG "\x21\x11\x00\x0b"
            "\xc0\x00\x02\x07\xc6\x33\x64\x01\xdb\xfc\x00",
        "malformed"),
    BAD("v2 tcp4 empty block", SIG "\x21\x11\x00\x00", "malformed"),
    BAD("v2 tcp6 with a tcp4 block", SIG "\x21\x21\x00\x0c" ADDR4, "malformed"),
};

/* The address carried, as text, and its port. */
static void
source_text(const struct proxy_header *h, char *text, size_t cap, unsigned *port)
{
    if (h->source.ss_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)&h->source;

        assert_int_equal(h->source_len, sizeof(*in4));
        assert_non_null(inet_ntop(AF_INET, &in4->sin_addr, text, (socklen_t)cap));
        *port = ntohs(in4->sin_port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&h->source;

        assert_int_equal(h->source.ss_family, AF_INET6);
        assert_int_equal(h->source_len, sizeof(*in6));
        assert_non_null(inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)cap));
        *port = ntohs(in6->sin6_port);
    }
}

static void
check_row(const struct row *r, const char *in, size_t n)
{
    struct proxy_header h;
    enum proxy_header_status st = proxy_header_parse(in, n, &h);
    char text[INET6_ADDRSTRLEN];
    unsigned port;

    if (st != r->want)
        fail_msg("row '%s' (%zu octets): status %d, want %d (reason %s)", r->name, n, (int)st,
                 (int)r->want, h.reason != NULL ? h.reason : "-");
    switch (st) {
    case PROXY_HEADER_MORE:
        assert_null(h.reason);
        break;
    case PROXY_HEADER_ERROR:
        if (h.reason == NULL || strcmp(h.reason, r->reason) != 0)
            fail_msg("row '%s': reason %s, want %s", r->name, h.reason != NULL ? h.reason : "-",
                     r->reason);
        break;
    case PROXY_HEADER_DONE:
        assert_null(h.reason);
        if (h.len != r->header_len)
            fail_msg("row '%s': length %zu, want %zu", r->name, h.len, r->header_len);
        assert_int_equal(h.version, in[0] == 'P' ? 1 : 2);
        if (r->address == NULL) {
            if (h.has_source)
                fail_msg("row '%s': carries an address, want none", r->name);
            break;
        }
        if (!h.has_source)
            fail_msg("row '%s': carries no address, want %s", r->name, r->address);
        source_text(&h, text, sizeof(text), &port);
        if (strcmp(text, r->address) != 0 || port != r->port)
            fail_msg("row '%s': source %s port %u, want %s port %u", r->name, text, port,
                     r->address, r->port);
        break;
    }
}

static void
test_rows_whole(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        check_row(&rows[i], rows[i].in, rows[i].len);
}

/* The reader asks again as octets arrive: a prefix answers "more" or what the whole does. */
static void
test_rows_prefixes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        bool decided = false;

        for (size_t k = 0; k < r->len; k++) {
            struct proxy_header h;
            enum proxy_header_status st = proxy_header_parse(r->in, k, &h);

            if (st == PROXY_HEADER_MORE) {
                if (decided)
                    fail_msg("row '%s': %zu octets undecided after a shorter prefix decided",
                             r->name, k);
                continue;
            }
            decided = true;
            if (st != r->want)
                fail_msg("row '%s': the first %zu octets give status %d, the whole %d", r->name, k,
                         (int)st, (int)r->want);
            if (st == PROXY_HEADER_ERROR && strcmp(h.reason, r->reason) != 0)
                fail_msg("row '%s': the first %zu octets give %s, the whole %s", r->name, k,
                         h.reason, r->reason);
            if (st == PROXY_HEADER_DONE && (h.len != r->header_len || k < h.len))
                fail_msg("row '%s': the first %zu octets give length %zu", r->name, k, h.len);
        }
    }
}

/* PROXY_HEADER_MAX octets always decide, and the same way as the row did when it decided. */
static void
test_rows_padded(void **state)
{
    static char buf[PROXY_HEADER_MAX + 64];

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct proxy_header h;
        enum proxy_header_status st;
        size_t n = r->len > PROXY_HEADER_MAX ? r->len : PROXY_HEADER_MAX;

        memset(buf, 'x', sizeof(buf));
        memcpy(buf, r->in, r->len);
        st = proxy_header_parse(buf, n, &h);
        if (st == PROXY_HEADER_MORE)
            fail_msg("row '%s' padded to %zu octets: still undecided", r->name, n);
        if (r->want != PROXY_HEADER_MORE)
            check_row(r, buf, n);
    }
}

/* Nothing past n is read: a header cut at n in a buffer whose next octet would end it. */
static void
test_reads_only_n(void **state)
{
    static const char line[] = V1_IPV4;
    struct proxy_header h;
    char *copy;

    (void)state;
    for (size_t n = 0; n < sizeof(line) - 1; n++) {
        copy = malloc(n > 0 ? n : 1); /* ASan sees a read past it */
        assert_non_null(copy);
        memcpy(copy, line, n);
        assert_int_equal(proxy_header_parse(copy, n, &h), PROXY_HEADER_MORE);
        free(copy);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_whole),
        cmocka_unit_test(test_rows_prefixes),
        cmocka_unit_test(test_rows_padded),
        cmocka_unit_test(test_reads_only_n),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
