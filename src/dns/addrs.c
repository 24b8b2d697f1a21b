/* SPDX-License-Identifier: MIT */
/*
 * Address lookups: dns_addrs() asks c-ares for the A and AAAA records of a
 * host (RFC 5321 5.1: the addresses of an MX host, or of the domain when it
 * has no MX) and gives them IPv6 first, each family in the order of the
 * answer, port 0. An address literal ("192.0.2.1", "2001:db8::1") is its own
 * answer: no query is sent, and the callback still comes from the loop.
 * Which address to try first is deliver/'s business.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "dns/dns_impl.h"
#include "lib/xalloc.h"

/* Appends the nodes of family to q->addrs, up to CAP_DNS_ADDRS. */
static void
addrs_take(struct dns_query *q, const struct ares_addrinfo_node *nodes, int family)
{
    for (const struct ares_addrinfo_node *p = nodes; p != NULL && q->n < CAP_DNS_ADDRS;
         p = p->ai_next) {
        struct dns_addr *a = &q->addrs[q->n];

        if (p->ai_family != family || p->ai_addr == NULL)
            continue;
        if (family == AF_INET6 && (size_t)p->ai_addrlen >= sizeof(struct sockaddr_in6)) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->sa;

            memcpy(sin6, p->ai_addr, sizeof(*sin6));
            sin6->sin6_port = 0;
            a->sa_len = sizeof(*sin6);
            q->n++;
        } else if (family == AF_INET && (size_t)p->ai_addrlen >= sizeof(struct sockaddr_in)) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;

            memcpy(sin, p->ai_addr, sizeof(*sin));
            sin->sin_port = 0;
            a->sa_len = sizeof(*sin);
            q->n++;
        }
    }
}

static void
addrs_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    struct dns_query *q = arg;

    (void)timeouts;
    if (dns_query_from_ares(q, status)) {
        if (res != NULL)
            ares_freeaddrinfo(res);
        return;
    }
    if (!dns_query_unanswered(q, status, "no A or AAAA record", NULL)) {
        q->addrs = xcalloc(CAP_DNS_ADDRS, sizeof(*q->addrs));
        addrs_take(q, res != NULL ? res->nodes : NULL, AF_INET6);
        addrs_take(q, res != NULL ? res->nodes : NULL, AF_INET);
        if (q->n == 0)
            dns_query_answer(q, DNS_NODATA, "no A or AAAA record");
        else
            dns_query_answer(q, DNS_OK, NULL);
    }
    if (res != NULL)
        ares_freeaddrinfo(res);
}

/* An address literal answers itself. Returns 0, or -1 when host is not one. */
static int
addrs_literal(struct dns *d, const char *host, dns_addr_fn *fn, void *arg)
{
    struct dns_addr a;
    struct dns_query *q;

    memset(&a, 0, sizeof(a));
    if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&a.sa)->sin6_addr) == 1) {
        a.sa.ss_family = AF_INET6;
        a.sa_len = sizeof(struct sockaddr_in6);
    } else if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&a.sa)->sin_addr) == 1) {
        a.sa.ss_family = AF_INET;
        a.sa_len = sizeof(struct sockaddr_in);
    } else {
        return -1;
    }
    q = dns_query_new(d, DNS_KIND_ADDRS, host, strlen(host), arg);
    q->addr_fn = fn;
    q->addrs = xcalloc(1, sizeof(*q->addrs));
    q->addrs[0] = a;
    q->n = 1;
    dns_query_answer(q, DNS_OK, NULL);
    return 0;
}

int
dns_addrs(struct dns *d, const char *host, dns_addr_fn *fn, void *arg)
{
    struct ares_addrinfo_hints hints;
    struct dns_query *q;
    size_t len;

    if (host == NULL || fn == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (addrs_literal(d, host, fn, arg) == 0)
        return 0;
    if (dns_name_check(host, &len) == -1) {
        errno = EINVAL;
        return -1;
    }
    q = dns_query_new(d, DNS_KIND_ADDRS, host, len, arg);
    q->addr_fn = fn;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    /* Our own order (IPv6 first) replaces c-ares's RFC 6724 sort, which
     * connects a UDP socket to every address to learn its source. */
    hints.ai_flags = ARES_AI_NOSORT;
    ares_getaddrinfo(q->chan->channel, q->name, NULL, &hints, addrs_cb, q);
    dns_started(q);
    return 0;
}
