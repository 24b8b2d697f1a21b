/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for cache.c, the cache of DNS answers by TTL, with the clock
 * given to each call: what is kept and for how long (the smallest TTL, TTL
 * 0, the day's cap, negative answers, temporary failures), the TTLs counted
 * down, kinds kept apart, a newer answer replacing an older one, the LRU
 * eviction and the bound on entries and on an entry's text, octets of any
 * value in TXT text. The cache on the resolver's path (a second lookup
 * without a query) is tested against dnsmasq by tests/e2e/test_dns.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "dns/dns_impl.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A query as the resolver leaves it once answered: kind, name, status, records. */
static struct dns_query *
q_make(enum dns_kind kind, const char *name, enum dns_status st)
{
    struct dns_query *q = calloc(1, sizeof(*q));

    assert_non_null(q);
    q->kind = kind;
    snprintf(q->name, sizeof(q->name), "%s", name);
    q->st = st;
    snprintf(q->why, sizeof(q->why), "%s", st == DNS_OK ? "" : "why text");
    return q;
}

static void
q_free(struct dns_query *q)
{
    free(q->txt);
    free(q->txtbuf);
    free(q->a);
    free(q);
}

/* TXT records texts[i] of lens[i] octets (strlen when 0) with ttls[i]. */
static struct dns_query *
q_txt(const char *name, size_t n, const char *const *texts, const size_t *lens,
      const unsigned *ttls)
{
    struct dns_query *q = q_make(DNS_KIND_TXT, name, n > 0 ? DNS_OK : DNS_NODATA);
    size_t total = 0, used = 0;

    for (size_t i = 0; i < n; i++)
        total += (lens != NULL && lens[i] != 0 ? lens[i] : strlen(texts[i])) + 1;
    q->txt = calloc(n + 1, sizeof(*q->txt));
    q->txtbuf = malloc(total + 1);
    assert_non_null(q->txt);
    assert_non_null(q->txtbuf);
    for (size_t i = 0; i < n; i++) {
        size_t len = lens != NULL && lens[i] != 0 ? lens[i] : strlen(texts[i]);

        memcpy(q->txtbuf + used, texts[i], len);
        q->txtbuf[used + len] = '\0';
        q->txt[i].text = q->txtbuf + used;
        q->txt[i].len = len;
        q->txt[i].ttl = ttls[i];
        used += len + 1;
    }
    q->n = n;
    return q;
}

static struct dns_query *
q_a(const char *name, size_t n, const char *const *addrs, const unsigned *ttls)
{
    struct dns_query *q = q_make(DNS_KIND_A, name, DNS_OK);

    q->a = calloc(n + 1, sizeof(*q->a));
    assert_non_null(q->a);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(inet_pton(AF_INET, addrs[i], &q->a[i].addr), 1);
        q->a[i].ttl = ttls[i];
    }
    q->n = n;
    return q;
}

/* Asks c for kind/name at now; returns the filled query or NULL on a miss. */
static struct dns_query *
ask(struct dns_cache *c, enum dns_kind kind, const char *name, uint64_t now)
{
    struct dns_query *q = q_make(kind, name, DNS_TEMPFAIL);

    q->why[0] = '\0';
    if (!dns_cache_get(c, q, now)) {
        assert_int_equal(q->n, 0);
        q_free(q);
        return NULL;
    }
    return q;
}

static void
test_txt_kept_for_smallest_ttl(void **state)
{
    static const char *const texts[] = {"v=spf1 -all", "other"};
    static const unsigned ttls[] = {600, 300};
    struct dns_cache *c = dns_cache_new(10);
    struct dns_query *q = q_txt("example.test", 2, texts, NULL, ttls);
    struct dns_query *r;

    (void)state;
    assert_true(dns_cache_put(c, q, 1000));
    q_free(q);
    assert_int_equal(dns_cache_count(c), 1);
    /* At once: the records as given, TTLs as they were. */
    r = ask(c, DNS_KIND_TXT, "example.test", 1000);
    assert_non_null(r);
    assert_int_equal(r->st, DNS_OK);
    assert_int_equal(r->n, 2);
    assert_string_equal(r->txt[0].text, "v=spf1 -all");
    assert_int_equal(r->txt[0].len, 11);
    assert_string_equal(r->txt[1].text, "other");
    assert_int_equal(r->txt[0].ttl, 600);
    assert_int_equal(r->txt[1].ttl, 300);
    assert_string_equal(r->why, "");
    q_free(r);
    /* 100.5 s later: counted down (rounded up), each record from its own TTL. */
    r = ask(c, DNS_KIND_TXT, "example.test", 101500);
    assert_non_null(r);
    assert_int_equal(r->txt[0].ttl, 500);
    assert_int_equal(r->txt[1].ttl, 200);
    q_free(r);
    /* The last millisecond still answers, with TTL 1, never 0. */
    r = ask(c, DNS_KIND_TXT, "example.test", 1000 + 300 * 1000 - 1);
    assert_non_null(r);
    assert_int_equal(r->txt[1].ttl, 1);
    q_free(r);
    /* Then it is gone (the smallest TTL), and dropped. */
    assert_null(ask(c, DNS_KIND_TXT, "example.test", 1000 + 300 * 1000));
    assert_int_equal(dns_cache_count(c), 0);
    dns_cache_free(c);
}

static void
test_what_is_not_kept(void **state)
{
    static const char *const texts[] = {"a", "b"};
    static const unsigned zero[] = {300, 0};
    struct dns_cache *c = dns_cache_new(10);
    struct dns_query *q;

    (void)state;
    /* A record with TTL 0 makes the answer uncacheable (RFC 1035 3.2.1). */
    q = q_txt("zero.test", 2, texts, NULL, zero);
    assert_false(dns_cache_put(c, q, 0));
    q_free(q);
    /* Temporary failures, cancellations and null MX are never kept. */
    for (enum dns_status st = DNS_NULLMX; st <= DNS_CANCELLED; st++) {
        q = q_make(DNS_KIND_TXT, "fail.test", st);
        assert_false(dns_cache_put(c, q, 0));
        q_free(q);
    }
    /* Only TXT and A. */
    for (enum dns_kind k = DNS_KIND_MX; k <= DNS_KIND_PTR; k++) {
        q = q_make(k, "other.test", DNS_NXDOMAIN);
        assert_false(dns_cache_put(c, q, 0));
        q_free(q);
    }
    /* A NULL cache is off. */
    q = q_make(DNS_KIND_A, "off.test", DNS_NXDOMAIN);
    assert_false(dns_cache_put(NULL, q, 0));
    assert_false(dns_cache_get(NULL, q, 0));
    q_free(q);
    assert_int_equal(dns_cache_count(c), 0);
    assert_null(ask(c, DNS_KIND_TXT, "fail.test", 0));
    dns_cache_free(c);
}

static void
test_negative_answers(void **state)
{
    struct dns_cache *c = dns_cache_new(10);
    struct dns_query *q;
    struct dns_query *r;

    (void)state;
    q = q_make(DNS_KIND_A, "2.0.0.127.bl.test", DNS_NXDOMAIN);
    snprintf(q->why, sizeof(q->why), "Host or domain name not found");
    assert_true(dns_cache_put(c, q, 0));
    q_free(q);
    q = q_make(DNS_KIND_TXT, "nodata.test", DNS_NODATA);
    snprintf(q->why, sizeof(q->why), "no TXT record");
    assert_true(dns_cache_put(c, q, 0));
    q_free(q);
    r = ask(c, DNS_KIND_A, "2.0.0.127.bl.test", DNS_CACHE_NEG_TTL * 1000 - 1);
    assert_non_null(r);
    assert_int_equal(r->st, DNS_NXDOMAIN);
    assert_int_equal(r->n, 0);
    assert_string_equal(r->why, "Host or domain name not found");
    q_free(r);
    r = ask(c, DNS_KIND_TXT, "nodata.test", 1);
    assert_non_null(r);
    assert_int_equal(r->st, DNS_NODATA);
    assert_string_equal(r->why, "no TXT record");
    q_free(r);
    assert_null(ask(c, DNS_KIND_A, "2.0.0.127.bl.test", DNS_CACHE_NEG_TTL * 1000));
    assert_null(ask(c, DNS_KIND_TXT, "nodata.test", DNS_CACHE_NEG_TTL * 1000));
    dns_cache_free(c);
}

static void
test_day_cap_and_a_records(void **state)
{
    static const char *const addrs[] = {"127.0.0.2", "127.0.0.4"};
    static const unsigned ttls[] = {7 * 86400, 2 * 86400};
    struct dns_cache *c = dns_cache_new(10);
    struct dns_query *q = q_a("2.0.0.127.bl.test", 2, addrs, ttls);
    struct dns_query *r;
    char text[INET_ADDRSTRLEN];

    (void)state;
    assert_true(dns_cache_put(c, q, 0));
    q_free(q);
    r = ask(c, DNS_KIND_A, "2.0.0.127.bl.test", 3600 * 1000);
    assert_non_null(r);
    assert_int_equal(r->n, 2);
    assert_non_null(inet_ntop(AF_INET, &r->a[1].addr, text, sizeof(text)));
    assert_string_equal(text, "127.0.0.4");
    assert_int_equal(r->a[0].ttl, 7 * 86400 - 3600);
    q_free(r);
    /* Kept a day at most, whatever the records say. */
    assert_null(ask(c, DNS_KIND_A, "2.0.0.127.bl.test", 86400 * 1000));
    dns_cache_free(c);
}

static void
test_kinds_apart_and_replaced(void **state)
{
    static const char *const texts1[] = {"one"};
    static const char *const texts2[] = {"two"};
    static const char *const addrs[] = {"127.0.0.3"};
    static const unsigned ttls[] = {60};
    struct dns_cache *c = dns_cache_new(10);
    struct dns_query *q;
    struct dns_query *r;

    (void)state;
    q = q_txt("same.test", 1, texts1, NULL, ttls);
    assert_true(dns_cache_put(c, q, 0));
    q_free(q);
    assert_null(ask(c, DNS_KIND_A, "same.test", 0));
    q = q_a("same.test", 1, addrs, ttls);
    assert_true(dns_cache_put(c, q, 0));
    q_free(q);
    assert_int_equal(dns_cache_count(c), 2);
    /* A newer answer of the same name and kind replaces the older. */
    q = q_txt("same.test", 1, texts2, NULL, ttls);
    assert_true(dns_cache_put(c, q, 30000));
    q_free(q);
    assert_int_equal(dns_cache_count(c), 2);
    r = ask(c, DNS_KIND_TXT, "same.test", 70000);
    assert_non_null(r);
    assert_string_equal(r->txt[0].text, "two");
    q_free(r);
    assert_null(ask(c, DNS_KIND_A, "same.test", 70000));
    /* Names are as the resolver keeps them (lower case): another is another. */
    assert_null(ask(c, DNS_KIND_TXT, "same.test.other", 0));
    assert_null(ask(c, DNS_KIND_TXT, "same.tes", 0));
    dns_cache_free(c);
}

static void
test_lru_eviction(void **state)
{
    static const char *const addrs[] = {"127.0.0.2"};
    static const unsigned ttls[] = {3600};
    static const char *const names[] = {"a.test", "b.test", "c.test", "d.test"};
    struct dns_cache *c = dns_cache_new(3);
    struct dns_query *q;
    struct dns_query *r;

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        q = q_a(names[i], 1, addrs, ttls);
        assert_true(dns_cache_put(c, q, 0));
        q_free(q);
    }
    /* a is used again: b is now the least recently used, and goes for d. */
    r = ask(c, DNS_KIND_A, "a.test", 1);
    assert_non_null(r);
    q_free(r);
    q = q_a(names[3], 1, addrs, ttls);
    assert_true(dns_cache_put(c, q, 2));
    q_free(q);
    assert_int_equal(dns_cache_count(c), 3);
    assert_null(ask(c, DNS_KIND_A, "b.test", 3));
    for (size_t i = 0; i < 4; i++) {
        if (i == 1)
            continue;
        r = ask(c, DNS_KIND_A, names[i], 3);
        assert_non_null(r);
        q_free(r);
    }
    /* Emptied: nothing answers, and it fills again. */
    dns_cache_clear(c);
    assert_int_equal(dns_cache_count(c), 0);
    assert_null(ask(c, DNS_KIND_A, "a.test", 4));
    q = q_a(names[0], 1, addrs, ttls);
    assert_true(dns_cache_put(c, q, 5));
    q_free(q);
    assert_int_equal(dns_cache_count(c), 1);
    dns_cache_free(c);
}

/* Hostile: many names through a small cache stay within its bound, and the
 * newest are the ones kept. */
static void
test_bounded_under_many_names(void **state)
{
    static const char *const addrs[] = {"127.0.0.2"};
    static const unsigned ttls[] = {3600};
    struct dns_cache *c = dns_cache_new(100);
    char name[64];

    (void)state;
    for (unsigned i = 0; i < 20000; i++) {
        struct dns_query *q;

        snprintf(name, sizeof(name), "%u.%u.bl.test", i % 251, i);
        q = q_a(name, 1, addrs, ttls);
        assert_true(dns_cache_put(c, q, i));
        q_free(q);
        assert_true(dns_cache_count(c) <= 100);
    }
    assert_int_equal(dns_cache_count(c), 100);
    for (unsigned i = 19900; i < 20000; i++) {
        struct dns_query *r;

        snprintf(name, sizeof(name), "%u.%u.bl.test", i % 251, i);
        r = ask(c, DNS_KIND_A, name, 20000);
        assert_non_null(r);
        q_free(r);
    }
    snprintf(name, sizeof(name), "%u.%u.bl.test", 19899u % 251, 19899u);
    assert_null(ask(c, DNS_KIND_A, name, 20000));
    dns_cache_free(c);
}

/* Hostile: text at and over an entry's bound; octets of any value. */
static void
test_text_bound_and_octets(void **state)
{
    static char big[DNS_CACHE_TEXT_MAX + 1];
    const char *texts[2];
    size_t lens[2];
    unsigned ttls[2] = {60, 60};
    struct dns_cache *c = dns_cache_new(10);
    struct dns_query *q;
    struct dns_query *r;

    (void)state;
    memset(big, 'k', sizeof(big));
    /* Two records whose texts and NULs fill the bound exactly: kept. */
    texts[0] = big;
    texts[1] = big;
    lens[0] = DNS_CACHE_TEXT_MAX / 2 - 1;
    lens[1] = DNS_CACHE_TEXT_MAX / 2 - 1;
    q = q_txt("fits.test", 2, texts, lens, ttls);
    assert_true(dns_cache_put(c, q, 0));
    q_free(q);
    /* One octet more: not kept. */
    lens[1]++;
    q = q_txt("over.test", 2, texts, lens, ttls);
    assert_false(dns_cache_put(c, q, 0));
    q_free(q);
    assert_null(ask(c, DNS_KIND_TXT, "over.test", 0));
    r = ask(c, DNS_KIND_TXT, "fits.test", 0);
    assert_non_null(r);
    assert_int_equal(r->txt[1].len, DNS_CACHE_TEXT_MAX / 2 - 1);
    assert_int_equal(r->txt[1].text[r->txt[1].len], '\0');
    q_free(r);
    /* NUL, CR, LF and 0xff inside a record come back as they were. */
    texts[0] = "a\0b\r\n\xff";
    lens[0] = 6;
    q = q_txt("octets.test", 1, texts, lens, ttls);
    assert_true(dns_cache_put(c, q, 0));
    q_free(q);
    r = ask(c, DNS_KIND_TXT, "octets.test", 0);
    assert_non_null(r);
    assert_int_equal(r->txt[0].len, 6);
    assert_memory_equal(r->txt[0].text, "a\0b\r\n\xff", 7);
    q_free(r);
    dns_cache_free(c);
}

/* The TTL rows: what each answer is kept for (0: not kept). */
static const struct {
    unsigned ttls[3];
    size_t n;
    unsigned kept; /* seconds */
} ttl_rows[] = {
    {{1}, 1, 1},         {{3600, 60, 600}, 3, 60},  {{86400}, 1, 86400},
    {{86401}, 1, 86400}, {{0xffffffffu}, 1, 86400}, {{0x7fffffffu, 5}, 2, 5},
    {{0}, 1, 0},         {{60, 0, 60}, 3, 0},
};

static void
test_ttl_rows(void **state)
{
    static const char *const addrs[] = {"127.0.0.2", "127.0.0.3", "127.0.0.4"};

    (void)state;
    for (size_t i = 0; i < COUNT(ttl_rows); i++) {
        struct dns_cache *c = dns_cache_new(4);
        struct dns_query *q = q_a("row.test", ttl_rows[i].n, addrs, ttl_rows[i].ttls);
        struct dns_query *r;
        uint64_t kept = (uint64_t)ttl_rows[i].kept * 1000;

        assert_int_equal(dns_cache_put(c, q, 10), ttl_rows[i].kept > 0);
        q_free(q);
        if (ttl_rows[i].kept > 0) {
            r = ask(c, DNS_KIND_A, "row.test", 10 + kept - 1);
            assert_non_null(r);
            q_free(r);
        }
        assert_null(ask(c, DNS_KIND_A, "row.test", 10 + kept));
        dns_cache_free(c);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_txt_kept_for_smallest_ttl),
        cmocka_unit_test(test_what_is_not_kept),
        cmocka_unit_test(test_negative_answers),
        cmocka_unit_test(test_day_cap_and_a_records),
        cmocka_unit_test(test_kinds_apart_and_replaced),
        cmocka_unit_test(test_lru_eviction),
        cmocka_unit_test(test_bounded_under_many_names),
        cmocka_unit_test(test_text_bound_and_octets),
        cmocka_unit_test(test_ttl_rows),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
