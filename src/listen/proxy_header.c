/* SPDX-License-Identifier: MIT */
/*
 * The PROXY protocol header parser: see proxy_header.h. Section numbers
 * are those of HAProxy's proxy-protocol.txt. The limit is checked before
 * the scan: at most 107 octets are looked at for a v1 line, and a v2
 * length is compared with its cap as soon as its 16 octets are there.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "lib/cursor.h"
#include "listen/proxy_header.h"

static const unsigned char v2_signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                               0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static enum proxy_header_status
fail(struct proxy_header *out, const char *reason)
{
    out->reason = reason;
    return PROXY_HEADER_ERROR;
}

/* A field: the visible US-ASCII octets up to the next SP or the end of the line (at least
 * one). Anything else (a NUL, a control, an 8-bit octet) is no field. */
static bool
v1_field(struct cursor *c, struct slice *out)
{
    const char *start = c->p;

    while (!cursor_at_end(c) && cursor_peek(c) != ' ') {
        if (cursor_peek(c) < 0x21 || cursor_peek(c) > 0x7e)
            return false;
        c->p++;
    }
    *out = slice_make(start, (size_t)(c->p - start));
    return out->len > 0;
}

/*
 * An address in its canonical form, of the line's family (section 2.1):
 * IPv4 as four decimal numbers 0-255 without leading zeros (inet_pton
 * refuses those), IPv6 as inet_pton reads it. Fills addr (4 or 16 octets).
 */
static bool
v1_address(struct cursor *c, int family, void *addr)
{
    char text[INET6_ADDRSTRLEN];
    struct slice f;

    if (!v1_field(c, &f) || f.len >= sizeof(text))
        return false;
    memcpy(text, f.p, f.len);
    text[f.len] = '\0';
    return inet_pton(family, text, addr) == 1;
}

/* A port: decimal 0-65535 without leading zeros (section 2.1). */
static bool
v1_port(struct cursor *c, uint16_t *port)
{
    unsigned long v = 0;
    struct slice f;

    if (!v1_field(c, &f) || f.len > 5 || (f.len > 1 && f.p[0] == '0'))
        return false;
    for (size_t i = 0; i < f.len; i++) {
        if (f.p[i] < '0' || f.p[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(f.p[i] - '0');
    }
    if (v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

/* TCP4 SP src SP dst SP sport SP dport, after "PROXY TCP4 " (section 2.1). */
static bool
v1_tcp(struct cursor *c, int family, struct proxy_header *out)
{
    unsigned char src[16], dst[16];
    uint16_t sport, dport;

    if (!v1_address(c, family, src) || !cursor_take(c, ' ') || !v1_address(c, family, dst) ||
        !cursor_take(c, ' ') || !v1_port(c, &sport) || !cursor_take(c, ' ') ||
        !v1_port(c, &dport) || !cursor_at_end(c))
        return false;
    memset(&out->source, 0, sizeof(out->source));
    if (family == AF_INET) {
        struct sockaddr_in *in4 = (struct sockaddr_in *)&out->source;

        in4->sin_family = AF_INET;
        in4->sin_port = htons(sport);
        memcpy(&in4->sin_addr, src, 4);
        out->source_len = sizeof(*in4);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->source;

        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(sport);
        memcpy(&in6->sin6_addr, src, 16);
        out->source_len = sizeof(*in6);
    }
    out->has_source = true;
    return true;
}

/* "PROXY" SP ( "TCP4" SP ... / "TCP6" SP ... / "UNKNOWN" [ SP anything ] ): the line
 * without its CRLF (section 2.1). */
static bool
v1_line(struct cursor *c, struct proxy_header *out)
{
    static const char tcp4[] = "PROXY TCP4 ", tcp6[] = "PROXY TCP6 ", unknown[] = "PROXY UNKNOWN";
    size_t left = cursor_left(c);

    if (left >= sizeof(tcp4) - 1 && memcmp(c->p, tcp4, sizeof(tcp4) - 1) == 0) {
        c->p += sizeof(tcp4) - 1;
        return v1_tcp(c, AF_INET, out);
    }
    if (left >= sizeof(tcp6) - 1 && memcmp(c->p, tcp6, sizeof(tcp6) - 1) == 0) {
        c->p += sizeof(tcp6) - 1;
        return v1_tcp(c, AF_INET6, out);
    }
    if (left >= sizeof(unknown) - 1 && memcmp(c->p, unknown, sizeof(unknown) - 1) == 0) {
        /* The receiver ignores what comes before the CRLF (section 2.1). */
        c->p += sizeof(unknown) - 1;
        out->has_source = false;
        return cursor_at_end(c) || cursor_take(c, ' ');
    }
    return false;
}

/* Version 1: n octets that start with "PROXY ". */
static enum proxy_header_status
v1_parse(const char *p, size_t n, struct proxy_header *out)
{
    size_t limit = n < PROXY_HEADER_V1_MAX ? n : PROXY_HEADER_V1_MAX;
    struct cursor c;
    size_t i = 0;

    out->version = 1;
    /* The first CR or LF within the limit ends the line; a lone one is no end (section 2.1). */
    while (i < limit && p[i] != '\r' && p[i] != '\n')
        i++;
    if (i == limit)
        return n >= PROXY_HEADER_V1_MAX ? fail(out, "too-long") : PROXY_HEADER_MORE;
    if (p[i] == '\n')
        return fail(out, "malformed");
    if (i + 2 > PROXY_HEADER_V1_MAX)
        return fail(out, "too-long"); /* the LF would be the 108th octet */
    if (i + 1 == n)
        return PROXY_HEADER_MORE;
    if (p[i + 1] != '\n')
        return fail(out, "malformed");
    cursor_init(&c, slice_make(p, i));
    if (!v1_line(&c, out))
        return fail(out, "malformed");
    out->len = i + 2;
    return PROXY_HEADER_DONE;
}

/* The address block of a v2 PROXY header (section 2.2): source, destination, their ports. */
static void
v2_source(const unsigned char *p, unsigned fam, struct proxy_header *out)
{
    memset(&out->source, 0, sizeof(out->source));
    if (fam == 0x11) { /* TCP over IPv4: 4 + 4 + 2 + 2 */
        struct sockaddr_in *in4 = (struct sockaddr_in *)&out->source;

        in4->sin_family = AF_INET;
        memcpy(&in4->sin_addr, p, 4);
        memcpy(&in4->sin_port, p + 8, 2); /* network order on both sides */
        out->source_len = sizeof(*in4);
    } else { /* 0x21, TCP over IPv6: 16 + 16 + 2 + 2 */
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->source;

        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, p, 16);
        memcpy(&in6->sin6_port, p + 32, 2);
        out->source_len = sizeof(*in6);
    }
    out->has_source = true;
}

/* Version 2: n octets that start with a CR (section 2.2). Decided as soon as the 16 octets
 * before the address block tell, so that a bad header is refused without waiting for it. */
static enum proxy_header_status
v2_parse(const unsigned char *p, size_t n, struct proxy_header *out)
{
    unsigned command, fam;
    size_t len;

    out->version = 2;
    if (memcmp(p, v2_signature, n < 12 ? n : 12) != 0)
        return fail(out, "bad-signature");
    if (n < 16)
        return PROXY_HEADER_MORE;
    if (p[12] >> 4 != 2)
        return fail(out, "bad-version");
    len = (size_t)p[14] << 8 | p[15];
    if (16 + len > PROXY_HEADER_V2_MAX)
        return fail(out, "too-long");
    command = p[12] & 0x0f;
    fam = p[13];
    if (command > 1)
        return fail(out, "unknown-command");
    /* PROXY: only TCP over IPv4 or IPv6 carries a client address we can use (UNSPEC, UDP,
     * AF_UNIX and unassigned values do not); LOCAL ignores the family. */
    if (command == 1 && fam != 0x11 && fam != 0x21)
        return fail(out, "unknown-family");
    if (command == 1 && len < (fam == 0x11 ? 12u : 36u))
        return fail(out, "malformed");
    if (n < 16 + len)
        return PROXY_HEADER_MORE;
    out->len = 16 + len;
    if (command == 1)
        v2_source(p + 16, fam, out); /* the TLVs after the addresses are skipped */
    return PROXY_HEADER_DONE;
}

enum proxy_header_status
proxy_header_parse(const void *buf, size_t n, struct proxy_header *out)
{
    static const char v1_start[] = "PROXY ";
    const unsigned char *p = buf;
    size_t k;

    memset(out, 0, sizeof(*out));
    if (n == 0)
        return PROXY_HEADER_MORE;
    /* Section 2.2: the signature starts with CR, which no v1 line and no SMTP command does. */
    if (p[0] == 0x0D)
        return v2_parse(p, n, out);
    k = n < sizeof(v1_start) - 1 ? n : sizeof(v1_start) - 1;
    if (memcmp(p, v1_start, k) != 0)
        return fail(out, k == sizeof(v1_start) - 1 && memcmp(p, "PROXY", 5) == 0 ? "malformed"
                                                                                 : "missing");
    if (n < sizeof(v1_start) - 1)
        return PROXY_HEADER_MORE;
    return v1_parse(buf, n, out);
}
