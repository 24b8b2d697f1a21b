/* SPDX-License-Identifier: MIT */
/*
 * Reverse lookups: dns_ptr() asks for the PTR records of an address under
 * in-addr.arpa (RFC 1035 3.5) or ip6.arpa (RFC 3596 2.5), the name built by
 * dns_ptr_name(). Each name of the answer is checked with the host-name
 * grammar (name.c) and lower-cased; a name that fails the check is left out
 * (PTR data is whatever the address's owner wrote), and an answer with no
 * usable name is DNS_NODATA. Whether the name resolves back to the address
 * (forward-confirmed reverse DNS) is the caller's business.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>

#include "dns/dns_impl.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

int
dns_ptr_name(const struct sockaddr *sa, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";

    if (sa->sa_family == AF_INET) {
        const unsigned char *b =
            (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;

        return str_fmt(out, cap, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
    }
    if (sa->sa_family == AF_INET6) {
        const unsigned char *b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        size_t o = 0;

        /* 32 nibbles, least significant first, each followed by a dot. */
        if (cap < 64 + sizeof("ip6.arpa"))
            return -1;
        for (int i = 15; i >= 0; i--) {
            out[o++] = hex[b[i] & 0x0f];
            out[o++] = '.';
            out[o++] = hex[b[i] >> 4];
            out[o++] = '.';
        }
        memcpy(out + o, "ip6.arpa", sizeof("ip6.arpa"));
        return 0;
    }
    return -1;
}

/* True when names[k] is one of names[0..k). */
static bool
ptr_seen(const struct dns_query *q, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        if (strcmp(q->names[i].host, q->names[k].host) == 0)
            return true;
    }
    return false;
}

/* Keeps the usable names of h (h_name, then the aliases) in q->names. */
static void
ptr_take(struct dns_query *q, const struct hostent *h)
{
    q->names = xcalloc(CAP_DNS_PTR, sizeof(*q->names));
    for (size_t i = 0; q->n < CAP_DNS_PTR; i++) {
        const char *name = i == 0 ? h->h_name : h->h_aliases ? h->h_aliases[i - 1] : NULL;
        size_t len;

        if (name == NULL)
            break;
        if (dns_name_check(name, &len) == -1) {
            log_debug("-: event=dns-skip, name=%s, reason=\"PTR data is not a host name\"",
                      q->name);
            continue;
        }
        if (str_copy(q->names[q->n].host, sizeof(q->names[q->n].host), name, len) == -1)
            log_panic("dns: PTR name of %zu octets passed the check", len);
        str_lower(q->names[q->n].host, len);
        /* c-ares 1.18 gives the first name as h_name and again among the
         * aliases: each name once (SPF counts the lookups made for them). */
        if (ptr_seen(q, q->n))
            continue;
        q->n++;
    }
}

static void
ptr_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct dns_query *q = arg;
    struct hostent *h = NULL;
    int rc;

    (void)timeouts;
    if (dns_query_from_ares(q, status))
        return;
    if (!dns_query_unanswered(q, status, "no PTR record", "no reverse DNS for the address")) {
        /* The address is only copied into the hostent: any will do. */
        rc = ares_parse_ptr_reply(abuf, alen, "\0\0\0\0", 4, AF_INET, &h);
        if (rc == ARES_ENODATA) {
            dns_query_answer(q, DNS_NODATA, "no PTR record");
        } else if (rc != ARES_SUCCESS) {
            dns_query_fail(q, rc == ARES_ENOMEM ? rc : ARES_EBADRESP);
        } else {
            ptr_take(q, h);
            if (q->n == 0)
                dns_query_answer(q, DNS_NODATA, "no usable PTR record");
            else
                dns_query_answer(q, DNS_OK, NULL);
        }
        if (h != NULL)
            ares_free_hostent(h);
    }
}

int
dns_ptr(struct dns *d, const struct sockaddr *sa, dns_ptr_fn *fn, void *arg)
{
    char name[DNS_PTR_NAME_CAP];
    struct dns_query *q;

    if (sa == NULL || fn == NULL || dns_ptr_name(sa, name, sizeof(name)) == -1) {
        errno = EINVAL;
        return -1;
    }
    q = dns_query_new(d, DNS_KIND_PTR, name, strlen(name), arg);
    q->ptr_fn = fn;
    ares_query(q->chan->channel, q->name, ns_c_in, ns_t_ptr, ptr_cb, q);
    dns_started(q);
    return 0;
}
