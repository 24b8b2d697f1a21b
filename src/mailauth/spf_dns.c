/* SPDX-License-Identifier: MIT */
/*
 * struct spf_dns on src/dns: each lookup carries the evaluator's callback
 * in a small request freed when src/dns answers. Statuses map one to one;
 * a cancelled lookup (dns_free while it was in flight) is a temporary
 * failure; a null MX (RFC 7505) is an answer without names (it is not a
 * void lookup: the answer has a record). A and AAAA of a host: dns_a() for
 * A (its names may hold the underscores and other octets SPF macros put
 * in), dns_addrs() for AAAA, whose IPv4 answers are left out.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "lib/xalloc.h"
#include "mailauth/spf_dns.h"

struct spf_dns_req {
    spf_txt_fn *txt_fn;
    spf_addrs_fn *addrs_fn;
    spf_names_fn *names_fn;
    void *arg;
};

static enum spf_dns_status
status_of(enum dns_status st)
{
    switch (st) {
    case DNS_OK:
    case DNS_NULLMX:
        return SPF_DNS_OK;
    case DNS_NODATA:
        return SPF_DNS_NODATA;
    case DNS_NXDOMAIN:
        return SPF_DNS_NXDOMAIN;
    case DNS_TEMPFAIL:
    case DNS_CANCELLED:
        break;
    }
    return SPF_DNS_TEMPFAIL;
}

static struct spf_dns_req *
req_new(void *arg)
{
    struct spf_dns_req *r = xcalloc(1, sizeof(*r));

    r->arg = arg;
    return r;
}

static void
txt_cb(void *arg, enum dns_status st, const struct dns_txt *txt, size_t n, const char *why)
{
    struct spf_dns_req *r = arg;
    struct spf_txt out[CAP_DNS_TXT];

    (void)why;
    for (size_t i = 0; i < n && i < CAP_DNS_TXT; i++) {
        out[i].text = txt[i].text;
        out[i].len = txt[i].len;
    }
    r->txt_fn(r->arg, status_of(st), out, st == DNS_OK ? n : 0);
    free(r);
}

static int
spf_txt(void *ctx, const char *name, spf_txt_fn *fn, void *arg)
{
    struct spf_dns_req *r = req_new(arg);

    r->txt_fn = fn;
    if (dns_txt(ctx, name, txt_cb, r) == -1) {
        free(r);
        return -1;
    }
    return 0;
}

static void
a_cb(void *arg, enum dns_status st, const struct dns_a *a, size_t n, const char *why)
{
    struct spf_dns_req *r = arg;
    struct spf_ip out[CAP_DNS_A];
    size_t k = 0;

    (void)why;
    for (size_t i = 0; st == DNS_OK && i < n && k < CAP_DNS_A; i++) {
        memset(&out[k], 0, sizeof(out[k]));
        out[k].family = AF_INET;
        memcpy(out[k].b, &a[i].addr, 4);
        k++;
    }
    r->addrs_fn(r->arg, status_of(st), out, k);
    free(r);
}

static void
aaaa_cb(void *arg, enum dns_status st, const struct dns_addr *addrs, size_t n, const char *why)
{
    struct spf_dns_req *r = arg;
    struct spf_ip out[CAP_DNS_ADDRS];
    enum spf_dns_status sst = status_of(st);
    size_t k = 0;

    (void)why;
    for (size_t i = 0; st == DNS_OK && i < n && k < CAP_DNS_ADDRS; i++) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&addrs[i].sa;

        if (addrs[i].sa.ss_family != AF_INET6)
            continue;
        memset(&out[k], 0, sizeof(out[k]));
        out[k].family = AF_INET6;
        memcpy(out[k].b, &sin6->sin6_addr, 16);
        k++;
    }
    /* Only A records: for AAAA the name has no record of the type. */
    if (sst == SPF_DNS_OK && k == 0)
        sst = SPF_DNS_NODATA;
    r->addrs_fn(r->arg, sst, out, k);
    free(r);
}

static int
spf_addrs(void *ctx, const char *name, int family, spf_addrs_fn *fn, void *arg)
{
    struct spf_dns_req *r = req_new(arg);
    int rc;

    r->addrs_fn = fn;
    rc = family == AF_INET ? dns_a(ctx, name, a_cb, r) : dns_addrs(ctx, name, aaaa_cb, r);
    if (rc == -1) {
        free(r);
        return -1;
    }
    return 0;
}

static void
mx_cb(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n, const char *why)
{
    struct spf_dns_req *r = arg;
    const char *names[CAP_DNS_MX];

    (void)why;
    for (size_t i = 0; st == DNS_OK && i < n && i < CAP_DNS_MX; i++)
        names[i] = mx[i].host;
    r->names_fn(r->arg, status_of(st), names, st == DNS_OK ? n : 0);
    free(r);
}

static int
spf_mx(void *ctx, const char *name, spf_names_fn *fn, void *arg)
{
    struct spf_dns_req *r = req_new(arg);

    r->names_fn = fn;
    if (dns_mx(ctx, name, mx_cb, r) == -1) {
        free(r);
        return -1;
    }
    return 0;
}

static void
ptr_cb(void *arg, enum dns_status st, const struct dns_name *names, size_t n, const char *why)
{
    struct spf_dns_req *r = arg;
    const char *out[CAP_DNS_PTR];

    (void)why;
    for (size_t i = 0; st == DNS_OK && i < n && i < CAP_DNS_PTR; i++)
        out[i] = names[i].host;
    r->names_fn(r->arg, status_of(st), out, st == DNS_OK ? n : 0);
    free(r);
}

static int
spf_ptr(void *ctx, const struct spf_ip *ip, spf_names_fn *fn, void *arg)
{
    struct spf_dns_req *r = req_new(arg);
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (ip->family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, ip->b, 4);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, ip->b, 16);
    }
    r->names_fn = fn;
    if (dns_ptr(ctx, (const struct sockaddr *)&ss, ptr_cb, r) == -1) {
        free(r);
        return -1;
    }
    return 0;
}

void
spf_dns_from(struct dns *d, struct spf_dns *out)
{
    out->ctx = d;
    out->txt = spf_txt;
    out->addrs = spf_addrs;
    out->mx = spf_mx;
    out->ptr = spf_ptr;
}
