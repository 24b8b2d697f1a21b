/* SPDX-License-Identifier: MIT */
/*
 * syn_parse(): a table of frames of every link type it knows, each one
 * also cut at every octet (each cut frame in a buffer of exactly its size,
 * so that ASan sees a read past it), hostile rows (IHL < 5, ARP, other
 * ethertypes, fragments, ACK set, a second VLAN tag, IPv6 extension
 * headers), and pcap files written with pcap_dump and read back through
 * pcap_open_offline, holding truncated and non-IPv4 packets among SYNs.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "sensor/syn.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Frames ---- */

struct frame {
    unsigned char b[256];
    size_t len;
};

static void
put(struct frame *f, const void *p, size_t n)
{
    assert_true(f->len + n <= sizeof f->b);
    memcpy(f->b + f->len, p, n);
    f->len += n;
}

static void
put8(struct frame *f, unsigned v)
{
    unsigned char c = (unsigned char)v;

    put(f, &c, 1);
}

static void
put16(struct frame *f, unsigned v)
{
    put8(f, v >> 8);
    put8(f, v);
}

static void
put32(struct frame *f, uint32_t v)
{
    put16(f, v >> 16);
    put16(f, v & 0xffff);
}

/* What a row's IP and TCP headers hold. */
struct pkt {
    int v;           /* 4 or 6 */
    const char *src; /* text addresses */
    const char *dst;
    unsigned sport, dport;
    uint32_t seq;     /* in host order; SEQ_DST: the destination address */
    unsigned flags;   /* TCP flags */
    unsigned ihl;     /* IPv4: 0 means 5 */
    int total_adjust; /* IPv4 total length / IPv6 payload length minus what is there */
    unsigned frag;    /* IPv4 flags and fragment offset field */
    unsigned proto;   /* 0: TCP */
    unsigned doff;    /* TCP data offset; 0 means 5 */
};

#define SEQ_DST 0xffffffffu /* marker: seq = the destination address */
#define ZERO    0x100       /* marker: ihl, doff or proto written as 0 (0 means the default) */
#define SYN     0x02
#define ACK     0x10

static void
put_ip_tcp(struct frame *f, const struct pkt *k)
{
    unsigned char s[16], d[16];
    unsigned ihl = k->ihl == ZERO ? 0 : k->ihl ? k->ihl : 5;
    unsigned proto = k->proto == ZERO ? 0 : k->proto ? k->proto : 6;
    unsigned doff = k->doff == ZERO ? 0 : k->doff ? k->doff : 5;
    uint32_t seq;

    if (k->v == 4) {
        size_t ip_opts = ihl > 5 ? (ihl - 5) * 4 : 0;

        assert_int_equal(inet_pton(AF_INET, k->src, s), 1);
        assert_int_equal(inet_pton(AF_INET, k->dst, d), 1);
        put8(f, 0x40 | ihl);
        put8(f, 0);
        put16(f, (unsigned)((int)(20 + ip_opts + 20) + k->total_adjust));
        put16(f, 0x1234);
        put16(f, k->frag);
        put8(f, 64);
        put8(f, proto);
        put16(f, 0);
        put(f, s, 4);
        put(f, d, 4);
        for (size_t i = 0; i < ip_opts; i++)
            put8(f, 1); /* NOP options */
        seq = k->seq == SEQ_DST ? ntohl(*(uint32_t *)d) : k->seq;
    } else {
        assert_int_equal(inet_pton(AF_INET6, k->src, s), 1);
        assert_int_equal(inet_pton(AF_INET6, k->dst, d), 1);
        put32(f, 0x60000000);
        put16(f, (unsigned)(20 + k->total_adjust));
        put8(f, proto);
        put8(f, 64);
        put(f, s, 16);
        put(f, d, 16);
        seq = k->seq;
    }
    put16(f, k->sport);
    put16(f, k->dport);
    put32(f, seq);
    put32(f, 0);
    put8(f, doff << 4);
    put8(f, k->flags);
    put16(f, 64240);
    put16(f, 0);
    put16(f, 0);
}

enum link {
    L_ETH,
    L_VLAN,
    L_QINQ, /* two 802.1Q tags: not parsed */
    L_SLL,
    L_SLL2,
    L_RAW,
    L_IPV4,
    L_IPV6,
    L_NULL_LE,
    L_NULL_BE,
    L_LOOP,
};

static const unsigned char mac[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};

/* The link header of l for an IP packet of version v (ethertype et, 0: from v). */
static int
put_link(struct frame *f, enum link l, int v, unsigned et)
{
    unsigned type = et ? et : v == 6 ? 0x86dd : 0x0800;
    uint32_t af = v == 6 ? 10 : 2;

    switch (l) {
    case L_ETH:
        put(f, mac, 12);
        put16(f, type);
        return DLT_EN10MB;
    case L_VLAN:
        put(f, mac, 12);
        put16(f, 0x8100);
        put16(f, 100);
        put16(f, type);
        return DLT_EN10MB;
    case L_QINQ:
        put(f, mac, 12);
        put16(f, 0x8100);
        put16(f, 100);
        put16(f, 0x8100);
        put16(f, 200);
        put16(f, type);
        return DLT_EN10MB;
    case L_SLL:
        put16(f, 0);
        put16(f, 1);
        put16(f, 6);
        put(f, mac, 6);
        put16(f, 0);
        put16(f, type);
        return DLT_LINUX_SLL;
    case L_SLL2:
        put16(f, type);
        put16(f, 0);
        put32(f, 1);
        put16(f, 1);
        put8(f, 0);
        put8(f, 6);
        put(f, mac, 6);
        put16(f, 0);
        return DLT_LINUX_SLL2;
    case L_RAW:
        return DLT_RAW;
    case L_IPV4:
        return DLT_IPV4;
    case L_IPV6:
        return DLT_IPV6;
    case L_NULL_LE:
        af = v == 6 ? 30 : 2;
        put8(f, af);
        put8(f, 0);
        put16(f, 0);
        return DLT_NULL;
    case L_NULL_BE:
        put32(f, v == 6 ? 28 : 2);
        return DLT_NULL;
    case L_LOOP:
        put32(f, v == 6 ? 24 : af);
        return DLT_LOOP;
    }
    fail();
    return -1;
}

struct row {
    const char *name;
    enum link link;
    struct pkt k;
    bool want;  /* a SYN we count */
    bool mirai; /* and its kind */
};

#define V4(...)                                                                                    \
    {                                                                                              \
        4, "192.0.2.7", "198.51.100.26", 40000, 26, __VA_ARGS__                                    \
    }
#define V6(...)                                                                                    \
    {                                                                                              \
        6, "2001:db8::7", "2001:db8::26", 40001, 2526, __VA_ARGS__                                 \
    }

static const struct row rows[] = {
    {"eth mirai", L_ETH, V4(SEQ_DST, SYN), true, true},
    {"eth plain", L_ETH, V4(0x12345678, SYN), true, false},
    {"eth vlan mirai", L_VLAN, V4(SEQ_DST, SYN), true, true},
    {"sll mirai", L_SLL, V4(SEQ_DST, SYN), true, true},
    {"sll2 plain", L_SLL2, V4(7, SYN), true, false},
    {"sll2 mirai", L_SLL2, V4(SEQ_DST, SYN), true, true},
    {"raw v4 mirai", L_RAW, V4(SEQ_DST, SYN), true, true},
    {"ipv4 plain", L_IPV4, V4(1, SYN), true, false},
    {"null le mirai", L_NULL_LE, V4(SEQ_DST, SYN), true, true},
    {"null be mirai", L_NULL_BE, V4(SEQ_DST, SYN), true, true},
    {"loop mirai", L_LOOP, V4(SEQ_DST, SYN), true, true},
    {"eth v6", L_ETH, V6(0x20010db8, SYN), true, false},
    {"vlan v6", L_VLAN, V6(0, SYN), true, false},
    {"sll2 v6", L_SLL2, V6(0, SYN), true, false},
    {"raw v6", L_RAW, V6(0, SYN), true, false},
    {"ipv6", L_IPV6, V6(0, SYN), true, false},
    {"null le v6", L_NULL_LE, V6(0, SYN), true, false},
    {"null be v6", L_NULL_BE, V6(0, SYN), true, false},
    {"loop v6", L_LOOP, V6(0, SYN), true, false},
    {"ip options", L_ETH, V4(SEQ_DST, SYN, 7), true, true},
    {"ihl 15", L_ETH, V4(SEQ_DST, SYN, 15), true, true},
    {"first fragment", L_ETH, V4(SEQ_DST, SYN, 0, 0, 0x2000), true, true},
    {"don't fragment", L_ETH, V4(SEQ_DST, SYN, 0, 0, 0x4000), true, true},
    {"ECN SYN", L_ETH, V4(SEQ_DST, SYN | 0xc0), true, true},
    {"SYN FIN", L_ETH, V4(1, SYN | 0x01), true, false},
    {"tcp options", L_ETH, V4(SEQ_DST, SYN, 0, 0, 0, 0, 10), true, true},
    /* seq equal to the source, or to the destination byte-swapped: not Mirai */
    {"seq = src", L_ETH, V4(0xc0000207, SYN), true, false},
    {"seq swapped", L_ETH, V4(0x1a6433c6, SYN), true, false},
    /* hostile */
    {"SYN ACK", L_ETH, V4(SEQ_DST, SYN | ACK), false, false},
    {"ACK", L_ETH, V4(SEQ_DST, ACK), false, false},
    {"RST", L_ETH, V4(SEQ_DST, 0x04), false, false},
    {"no flags", L_ETH, V4(SEQ_DST, 0), false, false},
    {"v6 SYN ACK", L_ETH, V6(0, SYN | ACK), false, false},
    {"ihl 4", L_ETH, V4(SEQ_DST, SYN, 4), false, false},
    {"ihl 1", L_ETH, V4(SEQ_DST, SYN, 1), false, false},
    {"ihl 0", L_ETH, V4(SEQ_DST, SYN, ZERO), false, false},
    {"total < ihl", L_ETH, V4(SEQ_DST, SYN, 0, -21), false, false},
    {"total cuts tcp", L_ETH, V4(SEQ_DST, SYN, 0, -1), false, false},
    {"total 0", L_ETH, V4(SEQ_DST, SYN, 0, -40), false, false},
    {"later fragment", L_ETH, V4(SEQ_DST, SYN, 0, 0, 0x0001), false, false},
    {"last fragment", L_ETH, V4(SEQ_DST, SYN, 0, 0, 0x00b9), false, false},
    {"udp", L_ETH, V4(SEQ_DST, SYN, 0, 0, 0, 17), false, false},
    {"icmp", L_ETH, V4(SEQ_DST, SYN, 0, 0, 0, 1), false, false},
    {"tcp doff 4", L_ETH, V4(SEQ_DST, SYN, 0, 0, 0, 0, 4), false, false},
    {"tcp doff 0", L_ETH, V4(SEQ_DST, SYN, 0, 0, 0, 0, ZERO), false, false},
    {"v6 hop-by-hop", L_ETH, V6(0, SYN, 0, 0, 0, ZERO), false, false},
    {"v6 routing", L_ETH, V6(0, SYN, 0, 0, 0, 43), false, false},
    {"v6 fragment", L_ETH, V6(0, SYN, 0, 0, 0, 44), false, false},
    {"v6 udp", L_SLL2, V6(0, SYN, 0, 0, 0, 17), false, false},
    {"v6 payload 0", L_ETH, V6(0, SYN, 0, -20), false, false},
    {"v6 payload short", L_ETH, V6(0, SYN, 0, -1), false, false},
    {"qinq", L_QINQ, V4(SEQ_DST, SYN), false, false},
};

/* The frame of a row, and its link type. */
static int
build(const struct row *r, struct frame *f)
{
    int dlt;

    memset(f, 0, sizeof *f);
    dlt = put_link(f, r->link, r->k.v, 0);
    put_ip_tcp(f, &r->k);
    return dlt;
}

/* syn_parse of the first n octets of f, in a buffer of exactly n octets. */
static bool
parse_cut(int dlt, const struct frame *f, size_t n, struct sensor_syn *out)
{
    unsigned char *copy = malloc(n ? n : 1);
    bool r;

    assert_non_null(copy);
    memcpy(copy, f->b, n);
    r = syn_parse(dlt, copy, n, out);
    free(copy);
    return r;
}

static bool
is_zero(const struct sensor_syn *s)
{
    static const struct sensor_syn zero;

    return memcmp(s, &zero, sizeof zero) == 0;
}

static void
check_fields(const struct row *r, const struct sensor_syn *s)
{
    unsigned char a[16];
    int fam = r->k.v == 6 ? AF_INET6 : AF_INET;
    size_t alen = r->k.v == 6 ? 16 : 4;

    assert_int_equal(s->family, fam);
    assert_int_equal(inet_pton(fam, r->k.src, a), 1);
    assert_memory_equal(s->src, a, alen);
    assert_int_equal(inet_pton(fam, r->k.dst, a), 1);
    assert_memory_equal(s->dst, a, alen);
    assert_int_equal(s->sport, r->k.sport);
    assert_int_equal(s->dport, r->k.dport);
    if (s->mirai != r->mirai) {
        print_error("row '%s': mirai %d, want %d\n", r->name, s->mirai, r->mirai);
        fail();
    }
}

static void
test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        const struct row *r = &rows[i];
        struct sensor_syn s;
        struct frame f;
        int dlt = build(r, &f);
        bool got = parse_cut(dlt, &f, f.len, &s);

        if (got != r->want) {
            print_error("row '%s': got %d, want %d\n", r->name, got, r->want);
            fail();
        }
        if (got)
            check_fields(r, &s);
        else
            assert_true(is_zero(&s));
    }
}

/* Every row that parses, cut short at every octet: never a SYN, never a read past the cut. */
static void
test_truncated_everywhere(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct sensor_syn s;
        struct frame f;
        int dlt = build(&rows[i], &f);

        if (!rows[i].want)
            continue;
        for (size_t n = 0; n < f.len; n++) {
            if (parse_cut(dlt, &f, n, &s)) {
                print_error("row '%s' cut at %zu of %zu: parsed\n", rows[i].name, n, f.len);
                fail();
            }
            assert_true(is_zero(&s));
        }
    }
}

/* What is not IP at all, and link types the parser does not know. */
static void
test_not_ip(void **state)
{
    static const struct pkt syn4 = V4(SEQ_DST, SYN);
    struct sensor_syn s;
    struct frame f;

    (void)state;
    /* ARP (ethertype 0x0806): a request for 198.51.100.26. */
    memset(&f, 0, sizeof f);
    put_link(&f, L_ETH, 4, 0x0806);
    put16(&f, 1);
    put16(&f, 0x0800);
    put8(&f, 6);
    put8(&f, 4);
    put16(&f, 1);
    put(&f, mac, 6);
    put32(&f, 0xc0000207);
    put(&f, mac, 6);
    put32(&f, 0xc633641a);
    assert_false(parse_cut(DLT_EN10MB, &f, f.len, &s));
    assert_true(is_zero(&s));

    /* A SYN behind ethertypes that are not IPv4 or IPv6 (IPX, LLDP, MPLS, 802.1ad). */
    static const unsigned types[] = {0x8137, 0x88cc, 0x8847, 0x88a8, 0x0001, 0xffff};
    for (size_t i = 0; i < N_OF(types); i++) {
        memset(&f, 0, sizeof f);
        put_link(&f, L_ETH, 4, types[i]);
        put_ip_tcp(&f, &syn4);
        assert_false(parse_cut(DLT_EN10MB, &f, f.len, &s));
        memset(&f, 0, sizeof f);
        put_link(&f, L_SLL2, 4, types[i]);
        put_ip_tcp(&f, &syn4);
        assert_false(parse_cut(DLT_LINUX_SLL2, &f, f.len, &s));
    }

    /* An IPv6 packet behind ethertype IPv4, and the reverse. */
    static const struct pkt syn6 = V6(0, SYN);
    memset(&f, 0, sizeof f);
    put_link(&f, L_ETH, 4, 0x0800);
    put_ip_tcp(&f, &syn6);
    assert_false(parse_cut(DLT_EN10MB, &f, f.len, &s));
    memset(&f, 0, sizeof f);
    put_link(&f, L_ETH, 6, 0x86dd);
    put_ip_tcp(&f, &syn4);
    assert_false(parse_cut(DLT_EN10MB, &f, f.len, &s));

    /* Raw: versions other than 4 and 6. */
    memset(&f, 0, sizeof f);
    put_ip_tcp(&f, &syn4);
    for (unsigned v = 0; v < 16; v++) {
        f.b[0] = (unsigned char)(v << 4 | 5);
        assert_int_equal(parse_cut(DLT_RAW, &f, f.len, &s), v == 4);
        assert_false(parse_cut(DLT_IPV6, &f, f.len, &s));
        assert_int_equal(parse_cut(DLT_IPV4, &f, f.len, &s), v == 4);
    }

    /* Link types it does not know, with a valid IPv4 SYN after 14 octets. */
    memset(&f, 0, sizeof f);
    put_link(&f, L_ETH, 4, 0);
    put_ip_tcp(&f, &syn4);
    static const int others[] = {-1, 2, 6, 9, 105, 127, 147, 0x7fffffff};
    for (size_t i = 0; i < N_OF(others); i++)
        assert_false(parse_cut(others[i], &f, f.len, &s));

    /* DLT_NULL with families that are not IP. */
    static const uint32_t afs[] = {0, 1, 7, 23, 0x02000001, 0xffffffff};
    for (size_t i = 0; i < N_OF(afs); i++) {
        memset(&f, 0, sizeof f);
        put32(&f, afs[i]);
        put_ip_tcp(&f, &syn4);
        assert_false(parse_cut(DLT_NULL, &f, f.len, &s));
        assert_false(parse_cut(DLT_LOOP, &f, f.len, &s));
    }

    /* IHL 3 and 4 with a well-formed SYN where such a header would end: still refused. */
    for (unsigned ihl = 3; ihl <= 4; ihl++) {
        static const struct pkt k = V4(SEQ_DST, SYN);
        struct frame tcp;

        memset(&f, 0, sizeof f);
        put_ip_tcp(&f, &k);
        memset(&tcp, 0, sizeof tcp);
        put_ip_tcp(&tcp, &k);
        memmove(f.b + ihl * 4, tcp.b + 20, 20); /* the TCP header, moved up */
        f.b[0] = (unsigned char)(0x40 | ihl);
        f.len = ihl * 4 + 20;
        f.b[2] = 0;
        f.b[3] = (unsigned char)f.len;
        assert_false(parse_cut(DLT_RAW, &f, f.len, &s));
        assert_false(parse_cut(DLT_RAW, &f, sizeof f.b, &s));
    }

    /* NULL and empty input. */
    assert_false(syn_parse(DLT_EN10MB, NULL, 100, &s));
    assert_false(syn_parse(DLT_RAW, f.b, 0, &s));
}

/* ---- pcap files ---- */

/* A file of link type dlt holding the frames of the rows named (cut where asked). */
struct file_pkt {
    const struct row *row;
    size_t cut;    /* 0: whole; else caplen */
    int ethertype; /* 0: the row's */
};

static void
write_pcap(const char *path, int dlt, const struct file_pkt *pk, size_t n)
{
    pcap_t *dead = pcap_open_dead(dlt, 65535);
    pcap_dumper_t *d;

    assert_non_null(dead);
    d = pcap_dump_open(dead, path);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++) {
        struct pcap_pkthdr h = {.ts = {1700000000, (long)i}};
        struct frame f;

        memset(&f, 0, sizeof f);
        (void)put_link(&f, pk[i].row->link, pk[i].row->k.v, (unsigned)pk[i].ethertype);
        put_ip_tcp(&f, &pk[i].row->k);
        h.len = (bpf_u_int32)f.len;
        h.caplen = (bpf_u_int32)(pk[i].cut ? pk[i].cut : f.len);
        pcap_dump((u_char *)d, &h, f.b);
    }
    pcap_dump_close(d);
    pcap_close(dead);
}

/* Reads path through libpcap, as the sensor reads a live capture; counts what it finds. */
static void
read_pcap(const char *path, size_t *mirai, size_t *plain, size_t *other)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, errbuf);
    struct pcap_pkthdr *h;
    const u_char *data;
    int r;

    if (p == NULL) {
        print_error("pcap_open_offline: %s\n", errbuf);
        fail();
    }
    *mirai = *plain = *other = 0;
    while ((r = pcap_next_ex(p, &h, &data)) == 1) {
        struct sensor_syn s;

        if (!syn_parse(pcap_datalink(p), data, h->caplen, &s))
            (*other)++;
        else if (s.mirai)
            (*mirai)++;
        else
            (*plain)++;
    }
    assert_int_equal(r, PCAP_ERROR_BREAK);
    pcap_close(p);
}

static const struct row *
row_named(const char *name)
{
    for (size_t i = 0; i < N_OF(rows); i++) {
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    }
    fail_msg("no row '%s'", name);
    return NULL;
}

static void
test_pcap_file(void **state)
{
    char path[] = "/tmp/gate26-syn-XXXXXX";
    int fd = mkstemp(path);
    size_t mirai, plain, other;

    (void)state;
    assert_true(fd >= 0);
    (void)close(fd);
    {
        const struct file_pkt eth[] = {
            {row_named("eth mirai"), 0, 0},
            {row_named("eth mirai"), 30, 0},     /* cut in the IPv4 header */
            {row_named("eth mirai"), 40, 0},     /* cut in the TCP header */
            {row_named("eth plain"), 0, 0x0806}, /* ARP's ethertype */
            {row_named("eth plain"), 0, 0x88cc}, /* LLDP's */
            {row_named("eth plain"), 0, 0},
            {row_named("eth vlan mirai"), 0, 0},
            {row_named("eth vlan mirai"), 17, 0}, /* cut in the tag */
            {row_named("eth v6"), 0, 0},
            {row_named("eth v6"), 60, 0},
            {row_named("SYN ACK"), 0, 0},
            {row_named("ihl 4"), 0, 0},
            {row_named("later fragment"), 0, 0},
            {row_named("ip options"), 0, 0},
            {row_named("eth mirai"), 1, 0},
        };
        write_pcap(path, DLT_EN10MB, eth, N_OF(eth));
        read_pcap(path, &mirai, &plain, &other);
        assert_int_equal(mirai, 3);
        assert_int_equal(plain, 2);
        assert_int_equal(other, 10);
    }
    {
        const struct file_pkt sll2[] = {
            {row_named("sll2 mirai"), 0, 0},      {row_named("sll2 mirai"), 19, 0},
            {row_named("sll2 plain"), 0, 0},      {row_named("sll2 v6"), 0, 0},
            {row_named("sll2 plain"), 0, 0x0806},
        };
        write_pcap(path, DLT_LINUX_SLL2, sll2, N_OF(sll2));
        read_pcap(path, &mirai, &plain, &other);
        assert_int_equal(mirai, 1);
        assert_int_equal(plain, 2);
        assert_int_equal(other, 2);
    }
    assert_int_equal(unlink(path), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_not_ip),
        cmocka_unit_test(test_pcap_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
