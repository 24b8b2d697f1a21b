/* SPDX-License-Identifier: MIT */
/*
 * DNS blocklists and allowlists (RFC 5782): the client's address asked as
 * an A record under each zone, all zones at once through src/dns (whose
 * cache, when on, keeps the answers by TTL: nothing is cached here). A
 * DNSWL zone that lists the client makes it "white" (dnsbl and greylisting
 * are skipped); else the first DNSBL zone in the configured order that
 * lists it names it. An answer is a listing only inside 127.0.0.0/8 and
 * outside 127.255.255.0/24 (Spamhaus's error codes: "query refused",
 * "public resolver", "excessive queries"; RFC 5782 2.1 puts listings in
 * 127/8). The pipeline's use of it (the 554 at the greeting or at RCPT)
 * is src/checks's session part.
 *
 * Threads: the loop's.
 */
#ifndef GATE26_CHECKS_DNSBL_H
#define GATE26_CHECKS_DNSBL_H

#include <stdbool.h>
#include <stddef.h>

#include <netinet/in.h>

#include "dns/dns.h"

#define DNSBL_ZONES_MAX 8

struct dnsbl_answer {
    bool listed;         /* a dnsbl zone listed the client (and no dnswl zone did) */
    bool white;          /* a dnswl zone listed it: dnsbl and greylisting are skipped */
    char zone[256];      /* the zone that listed it (dnsbl, or dnswl when white) */
    char code[16];       /* the A record it answered, "127.0.0.2" */
    unsigned n_tempfail; /* zones that could not be asked (timeouts, SERVFAIL) */
};

typedef void dnsbl_done_fn(void *arg, const struct dnsbl_answer *a);

struct dnsbl_lookup;

/*
 * Asks every zone of bl and wl at once for the client (family AF_INET or
 * AF_INET6, addr 4 or 16 octets; an IPv4-mapped IPv6 address is asked as
 * IPv4): reversed octets (IPv4) or nibbles (IPv6, RFC 5782 2.4) under each
 * zone. done runs once, from the loop, when all have answered; the answer
 * is valid during the call only. The first zone in bl's order that lists
 * the client names it (not the first to answer). An answer is a listing
 * only in 127.0.0.0/8 and not in 127.255.255.0/24 (logged once per zone
 * and process, counted as not listed, as are answers outside 127/8).
 * NXDOMAIN and NODATA: not listed. A tempfail: not listed, counted in
 * n_tempfail. Zones past DNSBL_ZONES_MAX in either list, and zones whose
 * query name does not fit, are left out (logged). Returns the handle
 * (freed after done returns, or by dnsbl_cancel), or NULL when nothing is
 * to be asked (then done is never called).
 */
struct dnsbl_lookup *dnsbl_start(struct dns *d, int family, const unsigned char *addr,
                                 const char *const *bl, size_t n_bl, const char *const *wl,
                                 size_t n_wl, dnsbl_done_fn *done, void *arg);

/* Stops it; done is not called. NULL: nothing. Not from inside done. */
void dnsbl_cancel(struct dnsbl_lookup *l);

/*
 * The query name of the client under zone: "2.0.0.127.zone" (RFC 5782 2.1)
 * or 32 nibbles then the zone for IPv6 (2.4); an IPv4-mapped IPv6 address
 * as its IPv4. A final dot of zone is dropped. Returns 0, or -1 when it
 * does not fit in out (capacity cap), the family is neither, the zone is
 * empty or the name would be longer than 253 octets (RFC 1035 2.3.4).
 */
int dnsbl_query_name(char *out, size_t cap, int family, const unsigned char *addr,
                     const char *zone);

/* What an A answer of a zone means (pure, for the lookup and its tests). */
enum dnsbl_code {
    DNSBL_CODE_LISTED,  /* in 127.0.0.0/8, not 127.255.255.0/24 */
    DNSBL_CODE_ERROR,   /* 127.255.255.0/24: the list's error code (refused, public resolver) */
    DNSBL_CODE_OUTSIDE, /* outside 127/8: not a listing (a wildcard, a hijacked NXDOMAIN) */
};
enum dnsbl_code dnsbl_classify(struct in_addr a);

#endif
