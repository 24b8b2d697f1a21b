/* SPDX-License-Identifier: MIT */
/*
 * TXT and A lookups: dns_txt() asks for the TXT records of a name (RFC 1035
 * 3.3.14) and gives each record's character-strings joined with nothing
 * between them (RFC 7208 3.3, RFC 6376 3.6.2.2) with the record's TTL; the
 * answer is read here (dns_txt_parse) because c-ares 1.18's TXT parser
 * drops the TTL. dns_a() asks for A records alone (a DNSBL query, RFC 5782
 * 2.1) and gives them with their TTL. What the texts mean is the caller's
 * business (src/mailauth).
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_impl.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* Passes over a (possibly compressed) name at *off (RFC 1035 4.1.4): labels
 * until the root label, or until a pointer, which ends the name here. */
static int
txt_skip_name(const unsigned char *abuf, size_t alen, size_t *off)
{
    size_t o = *off;

    for (;;) {
        unsigned l;

        if (o >= alen)
            return -1;
        l = abuf[o];
        if ((l & 0xc0) == 0xc0) {
            if (o + 2 > alen)
                return -1;
            *off = o + 2;
            return 0;
        }
        if ((l & 0xc0) != 0)
            return -1;
        if (l == 0) {
            *off = o + 1;
            return 0;
        }
        o += 1 + l;
    }
}

static unsigned
txt_u16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static uint32_t
txt_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Message = Header Question Answer ...   RFC 1035 4.1 */
int
dns_txt_parse(const unsigned char *abuf, size_t alen, struct dns_txt *txt, char *buf)
{
    size_t off = 12, used = 0;
    unsigned qd, an;
    int n = 0;

    if (alen < 12)
        return -1;
    qd = txt_u16(abuf + 4);
    an = txt_u16(abuf + 6);
    for (unsigned i = 0; i < qd; i++) {
        if (txt_skip_name(abuf, alen, &off) == -1 || off + 4 > alen)
            return -1;
        off += 4;
    }
    for (unsigned i = 0; i < an; i++) {
        unsigned type, class, rdlen;
        uint32_t ttl;
        size_t end;

        if (txt_skip_name(abuf, alen, &off) == -1 || off + 10 > alen)
            return -1;
        type = txt_u16(abuf + off);
        class = txt_u16(abuf + off + 2);
        ttl = txt_u32(abuf + off + 4);
        rdlen = txt_u16(abuf + off + 8);
        off += 10;
        if (rdlen > alen - off)
            return -1;
        end = off + rdlen;
        if (type != ns_t_txt || class != ns_c_in || n >= CAP_DNS_TXT) {
            off = end;
            continue;
        }
        /* RFC 1035 3.3.14: TXT-DATA is one or more <character-string>s. A record of none is
         * out of grammar, yet the rest of the answer is sound (the RFC 7208 test suite's
         * null-text): it is read as one empty string, which no SPF, DKIM or DMARC record is. */
        txt[n].text = buf + used;
        txt[n].len = 0;
        /* RFC 2181 8: a TTL with the top bit set is read as zero. */
        txt[n].ttl = (ttl & 0x80000000u) != 0 ? 0 : (unsigned)ttl;
        while (off < end) {
            size_t l = abuf[off++];

            if (l > end - off)
                return -1;
            memcpy(buf + used, abuf + off, l);
            used += l;
            txt[n].len += l;
            off += l;
        }
        buf[used++] = '\0';
        n++;
    }
    return n;
}

static void
txt_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct dns_query *q = arg;
    int n;

    (void)timeouts;
    if (dns_query_from_ares(q, status))
        return;
    if (!dns_query_unanswered(q, status, "no TXT record", NULL)) {
        q->txt = xcalloc(CAP_DNS_TXT, sizeof(*q->txt));
        q->txtbuf = xmalloc((size_t)alen + CAP_DNS_TXT);
        n = dns_txt_parse(abuf, (size_t)alen, q->txt, q->txtbuf);
        if (n == -1) {
            dns_query_fail(q, ARES_EBADRESP);
        } else if (n == 0) {
            dns_query_answer(q, DNS_NODATA, "no TXT record");
        } else {
            q->n = (size_t)n;
            dns_query_answer(q, DNS_OK, NULL);
        }
    }
}

int
dns_txt(struct dns *d, const char *name, dns_txt_fn *fn, void *arg)
{
    struct dns_query *q;
    size_t len;

    if (name == NULL || fn == NULL || dns_name_check_any(name, false, &len) == -1) {
        errno = EINVAL;
        return -1;
    }
    q = dns_query_new(d, DNS_KIND_TXT, name, len, arg);
    q->txt_fn = fn;
    if (dns_query_cached(q))
        return 0;
    ares_query(q->chan->channel, q->name, ns_c_in, ns_t_txt, txt_cb, q);
    dns_started(q);
    return 0;
}

static void
a_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct dns_query *q = arg;
    struct ares_addrttl ttls[CAP_DNS_A];
    int n = CAP_DNS_A;
    int rc;

    (void)timeouts;
    if (dns_query_from_ares(q, status))
        return;
    if (!dns_query_unanswered(q, status, "no A record", NULL)) {
        rc = ares_parse_a_reply(abuf, alen, NULL, ttls, &n);
        if (rc == ARES_ENODATA || (rc == ARES_SUCCESS && n == 0)) {
            dns_query_answer(q, DNS_NODATA, "no A record");
        } else if (rc != ARES_SUCCESS) {
            dns_query_fail(q, rc == ARES_ENOMEM ? rc : ARES_EBADRESP);
        } else {
            q->a = xcalloc((size_t)n, sizeof(*q->a));
            for (int i = 0; i < n; i++) {
                q->a[i].addr = ttls[i].ipaddr;
                q->a[i].ttl = ttls[i].ttl < 0 ? 0 : (unsigned)ttls[i].ttl;
            }
            q->n = (size_t)n;
            dns_query_answer(q, DNS_OK, NULL);
        }
    }
}

int
dns_a(struct dns *d, const char *name, dns_a_fn *fn, void *arg)
{
    struct dns_query *q;
    size_t len;

    if (name == NULL || fn == NULL || dns_name_check_any(name, true, &len) == -1) {
        errno = EINVAL;
        return -1;
    }
    q = dns_query_new(d, DNS_KIND_A, name, len, arg);
    q->a_fn = fn;
    if (dns_query_cached(q))
        return 0;
    ares_query(q->chan->channel, q->name, ns_c_in, ns_t_a, a_cb, q);
    dns_started(q);
    return 0;
}
