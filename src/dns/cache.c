/* SPDX-License-Identifier: MIT */
/*
 * The cache of DNS answers by TTL (dns_cache_set() in dns.h): the checks ask
 * the same names for every message (a sender domain's SPF record, DKIM
 * keys, _dmarc records, DNSBL names), and an answer still fresh is given
 * again without a query. TXT and A lookups only (dns_txt, dns_a): the MX,
 * A/AAAA and PTR lookups of delivery go to the resolver every time (c-ares
 * 1.18's parsers of those drop the TTL).
 *
 * What is kept (RFC 2181 8, RFC 2308):
 * - a positive answer for the smallest TTL of its records, at most a day
 *   (DNS_CACHE_TTL_MAX); TTL 0 is not kept (RFC 1035 3.2.1: "should not be
 *   cached");
 * - NODATA and NXDOMAIN for DNS_CACHE_NEG_TTL (5 minutes), whatever the
 *   zone's SOA says: RFC 2308 5 allows negative caching, and its 3 puts the
 *   SOA minimum in the authority section, which c-ares does not give us
 *   parsed; 5 minutes is below what most zones ask (an hour or more) and
 *   bounds how long a newly published record stays unseen;
 * - never a temporary failure or a cancelled lookup.
 * Each entry is bounded: at most CAP_DNS_TXT or CAP_DNS_A records and
 * DNS_CACHE_TEXT_MAX octets of TXT text (an answer above that is not kept,
 * and is asked each time). The cache holds at most max entries; a new entry
 * in a full cache evicts the least recently used one.
 *
 * The table: chained hashing (FNV-1a of the type and the lower-case name)
 * over a power of two of buckets (at least max), and one LRU list. The
 * clock is the caller's (milliseconds of a monotonic clock), so that unit
 * tests drive it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_impl.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

struct dns_cache_entry {
    struct dns_cache_entry *hnext;       /* in its bucket */
    struct dns_cache_entry *prev, *next; /* in the LRU list, most recent first */
    uint64_t expires_ms;
    unsigned ttl; /* what it was kept for, in seconds */
    enum dns_kind kind;
    enum dns_status st;
    char name[DNS_NAME_MAX + 1];
    char why[DNS_WHY_CAP];
    size_t n;
    struct dns_txt *txt; /* n records (TXT), ours; their text in txtbuf */
    char *txtbuf;        /* ours */
    size_t txtlen;       /* octets used in txtbuf */
    struct dns_a *a;     /* n records (A), ours */
};

struct dns_cache {
    struct dns_cache_entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t max, count;
    struct dns_cache_entry *head, *tail; /* LRU: head most recent */
};

static uint64_t
cache_hash(enum dns_kind kind, const char *name)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)kind;

    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}

struct dns_cache *
dns_cache_new(size_t max)
{
    struct dns_cache *c;

    if (max == 0 || max > DNS_CACHE_ENTRIES_MAX)
        log_panic("dns: cache of %zu entries", max);
    c = xcalloc(1, sizeof(*c));
    c->max = max;
    c->nbuckets = 16;
    while (c->nbuckets < max)
        c->nbuckets *= 2;
    c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
    return c;
}

static void
entry_free(struct dns_cache_entry *e)
{
    free(e->txt);
    free(e->txtbuf);
    free(e->a);
    free(e);
}

static void
lru_unlink(struct dns_cache *c, struct dns_cache_entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void
lru_push(struct dns_cache *c, struct dns_cache_entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head != NULL)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
}

static struct dns_cache_entry **
cache_slot(struct dns_cache *c, enum dns_kind kind, const char *name)
{
    struct dns_cache_entry **pp = &c->buckets[cache_hash(kind, name) & (c->nbuckets - 1)];

    while (*pp != NULL && ((*pp)->kind != kind || strcmp((*pp)->name, name) != 0))
        pp = &(*pp)->hnext;
    return pp;
}

/* Takes e (found at *slot) out of the table and frees it. */
static void
cache_drop(struct dns_cache *c, struct dns_cache_entry **slot)
{
    struct dns_cache_entry *e = *slot;

    *slot = e->hnext;
    lru_unlink(c, e);
    entry_free(e);
    c->count--;
}

void
dns_cache_clear(struct dns_cache *c)
{
    if (c == NULL)
        return;
    while (c->head != NULL) {
        struct dns_cache_entry *e = c->head;

        lru_unlink(c, e);
        entry_free(e);
    }
    memset(c->buckets, 0, c->nbuckets * sizeof(*c->buckets));
    c->count = 0;
}

void
dns_cache_free(struct dns_cache *c)
{
    if (c == NULL)
        return;
    dns_cache_clear(c);
    free(c->buckets);
    free(c);
}

size_t
dns_cache_count(const struct dns_cache *c)
{
    return c == NULL ? 0 : c->count;
}

/* How long q's answer may be kept, in seconds; 0: not at all. */
static unsigned
cache_ttl(const struct dns_query *q)
{
    unsigned ttl = DNS_CACHE_TTL_MAX;

    switch (q->st) {
    case DNS_NODATA:
    case DNS_NXDOMAIN:
        return DNS_CACHE_NEG_TTL;
    case DNS_OK:
        break;
    case DNS_NULLMX:
    case DNS_TEMPFAIL:
    case DNS_CANCELLED:
        return 0;
    }
    for (size_t i = 0; i < q->n; i++) {
        unsigned t = q->kind == DNS_KIND_TXT ? q->txt[i].ttl : q->a[i].ttl;

        if (t < ttl)
            ttl = t;
    }
    return ttl;
}

/* Copies the records of q into e; false when they are over an entry's bounds. */
static bool
cache_copy_in(struct dns_cache_entry *e, const struct dns_query *q)
{
    size_t total = 0;

    e->n = q->n;
    if (q->n == 0)
        return true;
    if (q->kind == DNS_KIND_A) {
        if (q->n > CAP_DNS_A)
            return false;
        e->a = xcalloc(q->n, sizeof(*e->a));
        memcpy(e->a, q->a, q->n * sizeof(*e->a));
        return true;
    }
    if (q->n > CAP_DNS_TXT)
        return false;
    for (size_t i = 0; i < q->n; i++) {
        total += q->txt[i].len + 1;
        if (total > DNS_CACHE_TEXT_MAX)
            return false;
    }
    e->txt = xcalloc(q->n, sizeof(*e->txt));
    e->txtbuf = xmalloc(total);
    e->txtlen = total;
    total = 0;
    for (size_t i = 0; i < q->n; i++) {
        memcpy(e->txtbuf + total, q->txt[i].text, q->txt[i].len);
        e->txtbuf[total + q->txt[i].len] = '\0';
        e->txt[i].len = q->txt[i].len;
        e->txt[i].ttl = q->txt[i].ttl;
        /* Pointers are set when the entry is copied out (its buffer does not move). */
        e->txt[i].text = e->txtbuf + total;
        total += q->txt[i].len + 1;
    }
    return true;
}

bool
dns_cache_put(struct dns_cache *c, const struct dns_query *q, uint64_t now_ms)
{
    struct dns_cache_entry **slot;
    struct dns_cache_entry *e;
    unsigned ttl;

    if (c == NULL || (q->kind != DNS_KIND_TXT && q->kind != DNS_KIND_A))
        return false;
    ttl = cache_ttl(q);
    if (ttl == 0)
        return false;
    if (ttl > DNS_CACHE_TTL_MAX)
        ttl = DNS_CACHE_TTL_MAX;
    e = xcalloc(1, sizeof(*e));
    if (!cache_copy_in(e, q)) {
        entry_free(e);
        return false;
    }
    e->kind = q->kind;
    e->st = q->st;
    e->ttl = ttl;
    e->expires_ms = now_ms + (uint64_t)ttl * 1000;
    if (str_copyz(e->name, sizeof(e->name), q->name) == -1)
        log_panic("dns: cached name too long");
    (void)str_copyz(e->why, sizeof(e->why), q->st == DNS_OK ? "" : q->why);
    /* A newer answer replaces an older one of the same name and type. */
    slot = cache_slot(c, e->kind, e->name);
    if (*slot != NULL)
        cache_drop(c, slot);
    while (c->count >= c->max)
        cache_drop(c, cache_slot(c, c->tail->kind, c->tail->name));
    slot = &c->buckets[cache_hash(e->kind, e->name) & (c->nbuckets - 1)];
    e->hnext = *slot;
    *slot = e;
    lru_push(c, e);
    c->count++;
    return true;
}

/* A record's TTL counted down: what it said less the time it has been kept,
 * never below what the entry has left (the smallest TTL of its records). */
static unsigned
cache_left(unsigned ttl, unsigned elapsed, unsigned left)
{
    return ttl > elapsed && ttl - elapsed > left ? ttl - elapsed : left;
}

bool
dns_cache_get(struct dns_cache *c, struct dns_query *q, uint64_t now_ms)
{
    struct dns_cache_entry **slot;
    struct dns_cache_entry *e;
    unsigned left, elapsed;

    if (c == NULL || (q->kind != DNS_KIND_TXT && q->kind != DNS_KIND_A))
        return false;
    slot = cache_slot(c, q->kind, q->name);
    e = *slot;
    if (e == NULL)
        return false;
    if (now_ms >= e->expires_ms) {
        cache_drop(c, slot);
        return false;
    }
    /* The TTL counted down, rounded up: a fresh entry never says 0. */
    left = (unsigned)((e->expires_ms - now_ms + 999) / 1000);
    elapsed = e->ttl - left;
    lru_unlink(c, e);
    lru_push(c, e);
    q->n = e->n;
    q->st = e->st;
    (void)str_copyz(q->why, sizeof(q->why), e->why);
    if (e->n == 0)
        return true;
    if (e->kind == DNS_KIND_A) {
        q->a = xcalloc(e->n, sizeof(*q->a));
        for (size_t i = 0; i < e->n; i++) {
            q->a[i].addr = e->a[i].addr;
            q->a[i].ttl = cache_left(e->a[i].ttl, elapsed, left);
        }
        return true;
    }
    q->txt = xcalloc(e->n, sizeof(*q->txt));
    q->txtbuf = xmalloc(e->txtlen);
    memcpy(q->txtbuf, e->txtbuf, e->txtlen);
    for (size_t i = 0; i < e->n; i++) {
        q->txt[i].text = q->txtbuf + (e->txt[i].text - e->txtbuf);
        q->txt[i].len = e->txt[i].len;
        q->txt[i].ttl = cache_left(e->txt[i].ttl, elapsed, left);
    }
    return true;
}
