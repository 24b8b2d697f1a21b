/* SPDX-License-Identifier: MIT */
/*
 * The PROXY protocol header a load balancer puts before the client's bytes
 * (HAProxy's proxy-protocol.txt, versions 1 and 2): a pure parser of the
 * first octets of a connection. It says whether they hold a whole header
 * (and how long it is, and which client address it carries), need more
 * octets, or are no acceptable header (and why, in one word for the log).
 * Reading the socket is listen/proxy.c's job.
 *
 * Version 1 (section 2.1) is one line of at most 107 octets with its CRLF:
 * "PROXY TCP4 SRC DST SPORT DPORT\r\n", "PROXY TCP6 ...\r\n" or
 * "PROXY UNKNOWN[ anything]\r\n". It is read strictly: exactly one space
 * between the fields, addresses of the line's family in their canonical
 * form, ports 0-65535 without leading zeros, CRLF and nothing else at the
 * end. Version 2 (section 2.2) is the 12-octet signature, version 2, the
 * command LOCAL or PROXY, the family and a length: only TCP over IPv4
 * (0x11) or IPv6 (0x21) is taken for PROXY; TLVs after the addresses are
 * skipped; a header longer than 16 + 216 octets is refused.
 */
#ifndef GATE26_LISTEN_PROXY_HEADER_H
#define GATE26_LISTEN_PROXY_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* The longest version 1 line, CRLF included (section 2.1). */
#define PROXY_HEADER_V1_MAX 107
/* The longest version 2 header accepted: 16 octets and the longest address
 * block (two AF_UNIX addresses, section 2.2); TLVs must fit in it too. */
#define PROXY_HEADER_V2_MAX (16 + 216)
/* Octets that always decide: with this many, the answer is never "more". */
#define PROXY_HEADER_MAX PROXY_HEADER_V2_MAX

enum proxy_header_status {
    PROXY_HEADER_MORE,  /* a header may still come: read more and ask again */
    PROXY_HEADER_DONE,  /* a whole header: see struct proxy_header */
    PROXY_HEADER_ERROR, /* no acceptable header: reason says why */
};

struct proxy_header {
    unsigned version; /* 1 or 2 once the first octets tell; 0 before */
    size_t len;       /* DONE: the header's octets (what follows is the client's) */
    /* DONE: false for v1 UNKNOWN and v2 LOCAL (the proxy's own connections,
     * health checks): the connection keeps its own address. */
    bool has_source;
    struct sockaddr_storage source; /* has_source: the client's address and port */
    socklen_t source_len;           /* sizeof(struct sockaddr_in) or (..._in6) */
    /*
     * ERROR: one word for the log: "missing" (the octets are not a PROXY
     * header at all), "malformed" (v1 line or v2 address block against the
     * grammar), "too-long" (no CRLF within 107 octets; a v2 length past 216),
     * "bad-signature" (v2: starts with CR but not the signature),
     * "bad-version" (v2: version not 2), "unknown-command" (v2: neither
     * LOCAL nor PROXY), "unknown-family" (v2 PROXY: anything but TCP over
     * IPv4 or IPv6). NULL otherwise.
     */
    const char *reason;
};

/*
 * Looks at the n octets at buf (the connection's first, borrowed for the
 * call) and fills *out. Never reads past buf[n - 1] and never more than
 * PROXY_HEADER_MAX octets; the same octets always give the same answer.
 */
enum proxy_header_status proxy_header_parse(const void *buf, size_t n, struct proxy_header *out);

#endif
