/* SPDX-License-Identifier: MIT */
/*
 * The resolver's own structures, shared by its files (private to dns/):
 * dns.c owns the c-ares channel, its sockets and timer and the list of
 * queries, and delivers every answer from an event of its own; mx.c and
 * addrs.c start queries and turn c-ares answers into results; name.c checks
 * names and the server text.
 *
 * A query lives from dns_mx()/dns_addrs() until its callback has run. c-ares
 * may answer before the call that started it returns (a cached failure, an
 * address literal), so an answer is stored in the query and delivered by an
 * active event: callbacks never run inside dns_mx()/dns_addrs() and never
 * inside c-ares, which also lets a callback start queries or call dns_free().
 */
#ifndef GATE26_DNS_DNS_IMPL_H
#define GATE26_DNS_DNS_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ares.h>

#include "dns/dns.h"

/* A "why" text: a cause and the server it came from. */
#define DNS_WHY_CAP 160
/* The server as text: "[IPv6]:port" at most, or a description of the system's. */
#define DNS_SERVER_CAP 96
/* RFC 1035 2.3.4: a label is at most 63 octets; a name in text at most 253
 * without its final dot (255 octets on the wire). */
#define DNS_LABEL_MAX 63
#define DNS_NAME_MAX  253

/* The cache (cache.c): at most this many entries in all, a positive answer
 * kept at most a day, a negative one (NODATA, NXDOMAIN) 5 minutes, and at
 * most DNS_CACHE_TEXT_MAX octets of TXT text in an entry (with a NUL each). */
#define DNS_CACHE_ENTRIES_MAX (1u << 20)
#define DNS_CACHE_TTL_MAX     86400u
#define DNS_CACHE_NEG_TTL     300u
#define DNS_CACHE_TEXT_MAX    4096u

enum dns_kind {
    DNS_KIND_MX,
    DNS_KIND_ADDRS,
    DNS_KIND_PTR,
    DNS_KIND_TXT,
    DNS_KIND_A,
};

struct dns_sock;
struct event;

struct dns_query {
    struct dns *d;
    struct dns_resolver *chan;     /* the channel it was asked on (d->chan then) */
    struct dns_query *prev, *next; /* in d->queries */
    struct event *done;            /* made active when the answer is stored */
    enum dns_kind kind;
    dns_mx_fn *mx_fn;
    dns_addr_fn *addr_fn;
    dns_ptr_fn *ptr_fn;
    dns_txt_fn *txt_fn;
    dns_a_fn *a_fn;
    void *arg;
    bool answered; /* st, why and the records are set; done is active */
    bool cached;   /* the answer came from the cache (not counted, not stored again) */
    char name[DNS_NAME_MAX + 1];
    /* The answer. */
    enum dns_status st;
    char why[DNS_WHY_CAP];
    struct dns_mx *mx;      /* n records (DNS_KIND_MX), ours */
    struct dns_addr *addrs; /* n records (DNS_KIND_ADDRS), ours */
    struct dns_name *names; /* n records (DNS_KIND_PTR), ours */
    struct dns_txt *txt;    /* n records (DNS_KIND_TXT), ours, text in txtbuf */
    char *txtbuf;           /* ours */
    struct dns_a *a;        /* n records (DNS_KIND_A), ours */
    size_t n;
};

/*
 * One c-ares channel with its sockets and timer: the resolver of one
 * configuration. A reload that changes the resolver makes a new one for new
 * queries; the old one answers the queries it has and is freed after the
 * last (dns_resolver_new() makes one without using it).
 */
struct dns_resolver {
    struct dns *d; /* NULL until dns_use() */
    struct event_base *base;
    ares_channel channel;
    struct event *timer; /* ares_timeout(), re-armed after every processing */
    struct dns_sock *socks;
    char server[DNS_SERVER_CAP];
    size_t nservers;           /* as c-ares has them */
    bool checks_rcode;         /* c-ares retries SERVFAIL..., which then ends as ECONNREFUSED */
    size_t queries;            /* started on it and not yet answered to their callback */
    struct dns_resolver *next; /* in d->retired */
};

struct dns {
    struct event_base *base;
    struct dns_resolver *chan;    /* new queries go to it */
    struct dns_resolver *retired; /* earlier channels with queries still in flight */
    struct dns_query *queries;    /* every query whose callback has not run */
    unsigned timeout_ms;
    bool freeing;            /* inside dns_free() */
    struct dns_cache *cache; /* NULL: off (dns_cache_set) */
};

/*
 * Links a new query of kind on name (checked, without its final dot) into
 * d->queries. The caller then hands it to c-ares (or answers it).
 */
struct dns_query *dns_query_new(struct dns *d, enum dns_kind kind, const char *name, size_t len,
                                void *arg);

/*
 * With the cache on and a fresh answer for q's kind and name there: stores
 * it in q and answers q (the callback runs from the loop), counts a hit and
 * returns true. Else counts a miss (cache on) and returns false: the caller
 * asks c-ares.
 */
bool dns_query_cached(struct dns_query *q);

/*
 * The cache of answers (cache.c): max entries (1..DNS_CACHE_ENTRIES_MAX).
 * dns_cache_put() keeps a copy of q's answer (TXT and A; OK, NODATA and
 * NXDOMAIN; see cache.c for how long) as at now_ms, a monotonic clock in
 * milliseconds, and returns whether it did. dns_cache_get() fills q's
 * answer (records, n, st, why: records ours to free with q) from a fresh
 * entry of its kind and name, TTLs counted down, and returns true; false
 * when there is none (an expired one is dropped). NULL c: off.
 */
struct dns_cache;
struct dns_cache *dns_cache_new(size_t max);
void dns_cache_free(struct dns_cache *c);
void dns_cache_clear(struct dns_cache *c); /* forgets every entry; NULL: nothing */
bool dns_cache_put(struct dns_cache *c, const struct dns_query *q, uint64_t now_ms);
bool dns_cache_get(struct dns_cache *c, struct dns_query *q, uint64_t now_ms);
size_t dns_cache_count(const struct dns_cache *c);

/* After a query was handed to c-ares: the timer follows its new timeout. */
void dns_started(struct dns_query *q);

/*
 * Stores st and why in q (the records, if any, are already in q) and makes
 * q->done active, so that the callback runs from the loop.
 */
void dns_query_answer(struct dns_query *q, enum dns_status st, const char *why);

/*
 * Called by the c-ares callbacks first. Returns true when dns_free() is
 * destroying the channel (ARES_EDESTRUCTION): the caller then only frees
 * what c-ares gave it and returns, and dns_free() reports the query.
 */
bool dns_query_from_ares(struct dns_query *q, int status);

/* Answers q for a c-ares failure other than NXDOMAIN and NODATA: DNS_TEMPFAIL
 * with a why that names the cause and the server. */
void dns_query_fail(struct dns_query *q, int status);

/*
 * What every lookup's callback does with a status other than ARES_SUCCESS:
 * NODATA answers DNS_NODATA with nodata_why, NXDOMAIN DNS_NXDOMAIN with
 * nxdomain_why (NULL: "Host or domain name not found"), anything else
 * dns_query_fail(). Returns true when q was answered so; false on
 * ARES_SUCCESS, whose records the caller reads.
 */
bool dns_query_unanswered(struct dns_query *q, int status, const char *nodata_why,
                          const char *nxdomain_why);

/*
 * Checks a host or domain name: labels of letters, digits and hyphens that
 * start and end with a letter or digit (RFC 5321 4.1.2 sub-domain, RFC 1123
 * 2.1), at most 63 octets each and 253 in all, with one optional final dot;
 * the last label is not all digits (RFC 3696 2), so no IPv4 address passes.
 * Returns 0 with the length without the final dot in *len, or -1.
 */
int dns_name_check(const char *name, size_t *len);

/*
 * Checks a name to look up TXT or A records of (dns_txt, dns_a): as
 * dns_name_check(), but labels may also hold and start or end with '_'
 * (RFC 8552) and, when digits_last is true, the last label may be all
 * digits. Returns 0 with the length without the final dot in *len, or -1.
 */
int dns_name_check_any(const char *name, bool digits_last, size_t *len);

/*
 * Reads the TXT records (class IN) of the answer section of a DNS message
 * (RFC 1035 4.1): each record's character-strings joined (RFC 1035
 * 3.3.14), at most CAP_DNS_TXT records, in txt (capacity CAP_DNS_TXT) with
 * their text in buf (capacity alen + CAP_DNS_TXT: the texts and a NUL
 * after each). Records of other types (a CNAME chain) are passed over.
 * Returns the number of records (0: none), or -1 for a malformed message.
 */
int dns_txt_parse(const unsigned char *abuf, size_t alen, struct dns_txt *txt, char *buf);

/*
 * Parses "ADDR:PORT" or "[IPv6]:PORT" (port 1..65535) into the form
 * ares_set_servers_ports_csv() takes, in canon (capacity cap). Returns 0, or
 * -1 with the reason in err (capacity errcap).
 */
int dns_server_parse(const char *text, char *canon, size_t cap, char *err, size_t errcap);

/*
 * The reverse-lookup name of an address (RFC 1035 3.5, RFC 3596 2.5):
 * "4.3.2.1.in-addr.arpa" for 1.2.3.4, 32 nibbles then "ip6.arpa" for IPv6,
 * into out (capacity cap: DNS_PTR_NAME_CAP is enough). Returns 0, or -1 for
 * another family or a too small out.
 */
#define DNS_PTR_NAME_CAP 74
int dns_ptr_name(const struct sockaddr *sa, char *out, size_t cap);

#endif
