/* SPDX-License-Identifier: MIT */
/*
 * The SYN parser; see syn.h. Each layer checks that its header lies within
 * what was captured (and within what the layer below says it carries)
 * before it reads a field of it, and hands the next layer the rest: a
 * (pointer, length) pair that only ever shrinks.
 */
#include <string.h>
#include <sys/socket.h>

#include <pcap/dlt.h>

#include "sensor/syn.h"

#define ETHERTYPE_IPV4  0x0800
#define ETHERTYPE_IPV6  0x86dd
#define ETHERTYPE_8021Q 0x8100

#define IPPROTO_TCP_NUM 6
#define TCP_HEADER_MIN  20
#define TCP_FLAG_SYN    0x02
#define TCP_FLAG_ACK    0x10

/* The address families of DLT_NULL/DLT_LOOP: AF_INET is 2 everywhere; AF_INET6 is 10 on
 * Linux, 24 on NetBSD and OpenBSD, 28 on FreeBSD, 30 on macOS. */
#define NULL_AF_INET 2

struct syn_buf {
    const unsigned char *p;
    size_t len;
};

static unsigned
get16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static bool
is_null_af_inet6(unsigned long af)
{
    return af == 10 || af == 24 || af == 28 || af == 30;
}

/* TCP header   RFC 9293 3.1: ports, sequence number, data offset, flags. */
static bool
syn_tcp(struct syn_buf seg, const unsigned char *dst_addr, bool v4, struct sensor_syn *out)
{
    unsigned doff, flags;

    if (seg.len < TCP_HEADER_MIN)
        return false;
    doff = seg.p[12] >> 4;
    flags = seg.p[13];
    if (doff < 5)
        return false; /* a data offset below the header's own size: not a TCP header */
    if (!(flags & TCP_FLAG_SYN) || (flags & TCP_FLAG_ACK))
        return false;
    out->sport = (uint16_t)get16(seg.p);
    out->dport = (uint16_t)get16(seg.p + 2);
    /* Mirai's scanner writes the destination address into the sequence number, both in
     * network order: compare the octets as they are on the wire. */
    out->mirai = v4 && memcmp(seg.p + 4, dst_addr, 4) == 0;
    return true;
}

/* Internet header   RFC 791 3.1 */
static bool
syn_ipv4(struct syn_buf b, struct sensor_syn *out)
{
    size_t ihl, total;
    unsigned frag;

    if (b.len < 20 || (b.p[0] >> 4) != 4)
        return false;
    ihl = (size_t)(b.p[0] & 0x0f) * 4;
    total = get16(b.p + 2);
    if (ihl < 20 || total < ihl || b.len < ihl)
        return false;
    frag = get16(b.p + 6) & 0x1fff;
    if (frag != 0 || b.p[9] != IPPROTO_TCP_NUM)
        return false; /* a non-first fragment has no TCP header to read */
    /* What the datagram holds, within what was captured (a snaplen cuts it short). */
    if (total < b.len)
        b.len = total;
    out->family = AF_INET;
    memcpy(out->src, b.p + 12, 4);
    memcpy(out->dst, b.p + 16, 4);
    return syn_tcp((struct syn_buf){b.p + ihl, b.len - ihl}, b.p + 16, true, out);
}

/* IPv6 header   RFC 8200 3: a TCP header must follow the fixed header directly. */
static bool
syn_ipv6(struct syn_buf b, struct sensor_syn *out)
{
    size_t payload;

    if (b.len < 40 || (b.p[0] >> 4) != 6 || b.p[6] != IPPROTO_TCP_NUM)
        return false;
    payload = get16(b.p + 4);
    if (payload < b.len - 40)
        b.len = 40 + payload;
    out->family = AF_INET6;
    memcpy(out->src, b.p + 8, 16);
    memcpy(out->dst, b.p + 24, 16);
    return syn_tcp((struct syn_buf){b.p + 40, b.len - 40}, NULL, false, out);
}

static bool
syn_ethertype(unsigned type, struct syn_buf b, struct sensor_syn *out)
{
    if (type == ETHERTYPE_IPV4)
        return syn_ipv4(b, out);
    if (type == ETHERTYPE_IPV6)
        return syn_ipv6(b, out);
    return false; /* ARP, a second VLAN tag, anything else */
}

/* By the IP version in the first nibble: DLT_RAW carries either. */
static bool
syn_raw(struct syn_buf b, struct sensor_syn *out)
{
    if (b.len < 1)
        return false;
    if ((b.p[0] >> 4) == 4)
        return syn_ipv4(b, out);
    if ((b.p[0] >> 4) == 6)
        return syn_ipv6(b, out);
    return false;
}

/* Ethernet II: destination, source, type; one IEEE 802.1Q tag (TPID 0x8100, then TCI). */
static bool
syn_ethernet(struct syn_buf b, struct sensor_syn *out)
{
    size_t at = 12;
    unsigned type;

    if (b.len < 14)
        return false;
    type = get16(b.p + at);
    at += 2;
    if (type == ETHERTYPE_8021Q) {
        if (b.len < 18)
            return false;
        type = get16(b.p + at + 2);
        at += 4;
    }
    return syn_ethertype(type, (struct syn_buf){b.p + at, b.len - at}, out);
}

/* DLT_NULL (host order) and DLT_LOOP (network order): a 4-octet address family. */
static bool
syn_null(struct syn_buf b, bool network_order, struct sensor_syn *out)
{
    unsigned long be, le, af;

    if (b.len < 4)
        return false;
    be = (unsigned long)b.p[0] << 24 | (unsigned long)b.p[1] << 16 | (unsigned long)b.p[2] << 8 |
         b.p[3];
    le = (unsigned long)b.p[3] << 24 | (unsigned long)b.p[2] << 16 | (unsigned long)b.p[1] << 8 |
         b.p[0];
    /* DLT_NULL is in the order of the host that captured, which need not be ours. */
    af = network_order || be <= 0xffff ? be : le;
    b.p += 4;
    b.len -= 4;
    if (af == NULL_AF_INET)
        return syn_ipv4(b, out);
    if (is_null_af_inet6(af))
        return syn_ipv6(b, out);
    return false;
}

bool
syn_parse(int dlt, const unsigned char *p, size_t caplen, struct sensor_syn *out)
{
    struct syn_buf b = {p, caplen};
    bool ok;

    memset(out, 0, sizeof *out);
    if (p == NULL)
        return false;
    switch (dlt) {
    case DLT_EN10MB:
        ok = syn_ethernet(b, out);
        break;
    case DLT_LINUX_SLL:
        /* packet type, ARPHRD type, address length, 8 octets of address, protocol */
        ok = caplen >= 16 &&
             syn_ethertype(get16(p + 14), (struct syn_buf){p + 16, caplen - 16}, out);
        break;
    case DLT_LINUX_SLL2:
        /* protocol, reserved, interface index, ARPHRD type, packet type, address length, 8
         * octets of address */
        ok = caplen >= 20 && syn_ethertype(get16(p), (struct syn_buf){p + 20, caplen - 20}, out);
        break;
    case DLT_RAW:
        ok = syn_raw(b, out);
        break;
    case DLT_IPV4:
        ok = syn_ipv4(b, out);
        break;
    case DLT_IPV6:
        ok = syn_ipv6(b, out);
        break;
    case DLT_NULL:
        ok = syn_null(b, false, out);
        break;
    case DLT_LOOP:
        ok = syn_null(b, true, out);
        break;
    default:
        ok = false;
        break;
    }
    if (!ok)
        memset(out, 0, sizeof *out);
    return ok;
}
