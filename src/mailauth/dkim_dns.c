/* SPDX-License-Identifier: MIT */
/*
 * struct dkim_dns on src/dns: each key lookup carries the verifier's
 * callback in a small request freed when src/dns answers (see dkim_dns.h
 * for what each answer becomes, and dmarc_dns.c and spf_dns.c for the
 * same adapter of the other checks). The verifier's promise (every lookup
 * answered once) holds: dns_txt() answers every query it takes, dns_free()
 * too (DNS_CANCELLED), and a name it refuses is answered here at once.
 */
#include <stdlib.h>

#include "dns/dns.h"
#include "lib/xalloc.h"
#include "mailauth/dkim_dns.h"

struct dkim_dns_req {
    dkim_dns_answer_fn *cb;
    void *cbarg;
};

/* The record to verify with among n >= 1 (see dkim_dns.h). */
static size_t
dkim_dns_pick(const struct dns_txt *txt, size_t n)
{
    if (n == 1)
        return 0;
    for (size_t i = 0; i < n; i++) {
        struct dkim_key key;
        const char *why = NULL;

        if (dkim_key_parse(slice_make(txt[i].text, txt[i].len), &key, &why) == 0) {
            dkim_key_clear(&key);
            return i;
        }
    }
    return 0;
}

static void
txt_cb(void *arg, enum dns_status st, const struct dns_txt *txt, size_t n, const char *why)
{
    struct dkim_dns_req *r = arg;
    size_t k;

    (void)why;
    switch (st) {
    case DNS_OK:
        if (n > 0) {
            k = dkim_dns_pick(txt, n);
            r->cb(r->cbarg, DKIM_DNS_OK, txt[k].text, txt[k].len);
            break;
        }
        r->cb(r->cbarg, DKIM_DNS_NOTFOUND, NULL, 0);
        break;
    case DNS_NODATA:
    case DNS_NXDOMAIN:
        r->cb(r->cbarg, DKIM_DNS_NOTFOUND, NULL, 0);
        break;
    case DNS_NULLMX:
    case DNS_TEMPFAIL:
    case DNS_CANCELLED:
        r->cb(r->cbarg, DKIM_DNS_TEMPFAIL, NULL, 0);
        break;
    }
    free(r);
}

static void
dkim_lookup(void *ctx, const char *name, dkim_dns_answer_fn *cb, void *cbarg)
{
    struct dkim_dns_req *r = xcalloc(1, sizeof(*r));

    r->cb = cb;
    r->cbarg = cbarg;
    if (dns_txt(ctx, name, txt_cb, r) == -1) {
        /* Not a DNS name (src/dns's check): no such key can exist. */
        free(r);
        cb(cbarg, DKIM_DNS_NOTFOUND, NULL, 0);
    }
}

void
dkim_dns_from(struct dns *d, struct dkim_dns *out)
{
    out->lookup = dkim_lookup;
    out->arg = d;
}
