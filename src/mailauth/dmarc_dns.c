/* SPDX-License-Identifier: MIT */
/*
 * struct dmarc_dns on src/dns: each lookup carries the evaluator's
 * callback in a small request freed when src/dns answers. A name without
 * TXT records (NODATA) is an answer without records, NXDOMAIN is not
 * found, and a temporary failure or a cancelled lookup (dns_free while it
 * was in flight) is a temporary failure (RFC 7489 6.6.3 leaves DNS errors
 * to temperror).
 */
#include <stdlib.h>

#include "dns/dns.h"
#include "lib/caps.h"
#include "lib/xalloc.h"
#include "mailauth/dmarc_dns.h"

struct dmarc_dns_req {
    dmarc_txt_fn *fn;
    void *arg;
};

static void
txt_cb(void *arg, enum dns_status st, const struct dns_txt *txt, size_t n, const char *why)
{
    struct dmarc_dns_req *r = arg;
    struct slice out[CAP_DNS_TXT];
    enum dmarc_dns_status ds = DMARC_DNS_TEMPFAIL;
    size_t k = 0;

    (void)why;
    switch (st) {
    case DNS_OK:
        for (; k < n && k < CAP_DNS_TXT; k++)
            out[k] = slice_make(txt[k].text, txt[k].len);
        ds = DMARC_DNS_OK;
        break;
    case DNS_NODATA:
        ds = DMARC_DNS_OK;
        break;
    case DNS_NXDOMAIN:
        ds = DMARC_DNS_NOT_FOUND;
        break;
    case DNS_NULLMX:
    case DNS_TEMPFAIL:
    case DNS_CANCELLED:
        break;
    }
    r->fn(r->arg, ds, out, k);
    free(r);
}

static int
dmarc_txt(void *ctx, const char *name, dmarc_txt_fn *fn, void *arg)
{
    struct dmarc_dns_req *r = xcalloc(1, sizeof(*r));

    r->fn = fn;
    r->arg = arg;
    if (dns_txt(ctx, name, txt_cb, r) == -1) {
        free(r);
        return -1;
    }
    return 0;
}

void
dmarc_dns_from(struct dns *d, struct dmarc_dns *out)
{
    out->txt = dmarc_txt;
    out->arg = d;
}
