/* SPDX-License-Identifier: MIT */
/*
 * MX lookups: dns_mx() asks for the MX records of a domain (class IN) and
 * turns the answer into a list sorted by preference, records of equal
 * preference in random order (RFC 5321 5.1). A null MX (RFC 7505 3: an MX
 * whose exchange is the root, ".") says the domain accepts no mail; any
 * such record in the answer makes it DNS_NULLMX. Hosts are checked with the
 * host-name grammar (name.c) and lower-cased; a record whose host fails the
 * check is left out, and an answer with no usable record is a temporary
 * failure rather than "no MX" (which would mean: try the domain's own
 * address, RFC 5321 5.1). What to do with the hosts is route/'s business.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_impl.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* One usable record of the answer, with a random key for equal preferences. */
struct mx_sort {
    unsigned pref;
    uint32_t key;
    const char *host; /* in the c-ares reply */
    size_t len;       /* without a final dot */
};

static int
mx_cmp(const void *a, const void *b)
{
    const struct mx_sort *x = a;
    const struct mx_sort *y = b;

    if (x->pref != y->pref)
        return x->pref < y->pref ? -1 : 1;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return 0;
}

/* The exchange of a null MX is the root: c-ares writes it as "" (or "."). */
static bool
is_null_exchange(const char *host)
{
    return host[0] == '\0' || strcmp(host, ".") == 0;
}

/* A NOERROR answer with records: sorts the usable ones into q->mx. */
static void
mx_answer(struct dns_query *q, const unsigned char *abuf, int alen)
{
    struct ares_mx_reply *list = NULL;
    struct mx_sort *v;
    size_t count = 0;
    size_t k = 0;
    bool null_mx = false;
    int rc;

    rc = ares_parse_mx_reply(abuf, alen, &list);
    if (rc == ARES_ENODATA) {
        /* Only other types in the answer (a CNAME to a name without MX). */
        dns_query_answer(q, DNS_NODATA, "no MX record");
        return;
    }
    if (rc != ARES_SUCCESS) {
        dns_query_fail(q, rc == ARES_ENOMEM ? rc : ARES_EBADRESP);
        return;
    }
    for (const struct ares_mx_reply *p = list; p != NULL; p = p->next)
        count++;
    v = xcalloc(count, sizeof(*v));
    for (const struct ares_mx_reply *p = list; p != NULL; p = p->next) {
        size_t len;

        if (is_null_exchange(p->host)) {
            null_mx = true;
            continue;
        }
        if (dns_name_check(p->host, &len) == -1) {
            log_debug("-: event=dns-skip, name=%s, reason=\"MX host is not a host name\"", q->name);
            continue;
        }
        v[k].pref = p->priority;
        v[k].key = arc4random();
        v[k].host = p->host;
        v[k].len = len;
        k++;
    }
    if (null_mx) {
        dns_query_answer(q, DNS_NULLMX, "null MX: the domain accepts no mail (RFC 7505)");
    } else if (k == 0) {
        char why[DNS_WHY_CAP];

        (void)str_fmt(why, sizeof(why), "no usable MX host in the answer from %s", q->chan->server);
        dns_query_answer(q, DNS_TEMPFAIL, why);
    } else {
        qsort(v, k, sizeof(*v), mx_cmp);
        if (k > CAP_DNS_MX)
            k = CAP_DNS_MX;
        q->mx = xcalloc(k, sizeof(*q->mx));
        for (size_t i = 0; i < k; i++) {
            q->mx[i].pref = v[i].pref;
            if (str_copy(q->mx[i].host, sizeof(q->mx[i].host), v[i].host, v[i].len) == -1)
                log_panic("dns: MX host of %zu octets passed the check", v[i].len);
            str_lower(q->mx[i].host, v[i].len);
        }
        q->n = k;
        dns_query_answer(q, DNS_OK, NULL);
    }
    free(v);
    ares_free_data(list);
}

static void
mx_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct dns_query *q = arg;

    (void)timeouts;
    if (dns_query_from_ares(q, status))
        return;
    if (!dns_query_unanswered(q, status, "no MX record", NULL)) {
        mx_answer(q, abuf, alen);
    }
}

int
dns_mx(struct dns *d, const char *domain, dns_mx_fn *fn, void *arg)
{
    struct dns_query *q;
    size_t len;

    if (domain == NULL || fn == NULL || dns_name_check(domain, &len) == -1) {
        errno = EINVAL;
        return -1;
    }
    q = dns_query_new(d, DNS_KIND_MX, domain, len, arg);
    q->mx_fn = fn;
    ares_query(q->chan->channel, q->name, ns_c_in, ns_t_mx, mx_cb, q);
    dns_started(q);
    return 0;
}
