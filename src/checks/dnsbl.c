/* SPDX-License-Identifier: MIT */
/*
 * DNSBL and DNSWL lookups (RFC 5782): see dnsbl.h. Each zone is one dns_a()
 * query with a small request of its own; the lookup counts the requests
 * still out and decides when the last has answered, in the zones' order
 * (not the answers'). A cancelled lookup stays until its last request has
 * answered (src/dns cannot take a query back), then frees itself without
 * calling done.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks/dnsbl.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* RFC 1035 2.3.4: a name in text is at most 253 octets without its final dot. */
#define DNSBL_NAME_MAX 253

enum dnsbl_res {
    DNSBL_PENDING,
    DNSBL_NOT_LISTED,
    DNSBL_LISTED,
    DNSBL_TEMPFAIL,
};

struct dnsbl_req {
    struct dnsbl_lookup *l;
    bool white; /* a dnswl zone */
    char zone_copy[256];
    enum dnsbl_res res;
    char code[16];
};

struct dnsbl_lookup {
    dnsbl_done_fn *done;
    void *arg;
    bool cancelled;
    size_t n, pending;
    struct dnsbl_req req[2 * DNSBL_ZONES_MAX]; /* bl's zones, then wl's, in order */
};

enum dnsbl_code
dnsbl_classify(struct in_addr a)
{
    uint32_t v = ntohl(a.s_addr);

    if ((v >> 24) != 127)
        return DNSBL_CODE_OUTSIDE;
    if ((v >> 8) == 0x7fffffu)
        return DNSBL_CODE_ERROR;
    return DNSBL_CODE_LISTED;
}

/* An IPv4-mapped IPv6 address, ::ffff:a.b.c.d (RFC 4291 2.5.5.2). */
static bool
is_v4_mapped(const unsigned char *a)
{
    static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    return memcmp(a, prefix, sizeof(prefix)) == 0;
}

int
dnsbl_query_name(char *out, size_t cap, int family, const unsigned char *addr, const char *zone)
{
    static const char hex[] = "0123456789abcdef";
    char head[65];
    size_t zlen, hlen = 0;

    if (out == NULL || addr == NULL || zone == NULL)
        return -1;
    zlen = strlen(zone);
    if (zlen > 0 && zone[zlen - 1] == '.')
        zlen--;
    if (zlen == 0)
        return -1;
    if (family == AF_INET6 && is_v4_mapped(addr)) {
        family = AF_INET;
        addr += 12;
    }
    if (family == AF_INET) {
        /* RFC 5782 2.1: the octets reversed, as in-addr.arpa. */
        if (str_fmt(head, sizeof(head), "%u.%u.%u.%u.", addr[3], addr[2], addr[1], addr[0]) == -1)
            return -1;
        hlen = strlen(head);
    } else if (family == AF_INET6) {
        /* RFC 5782 2.4: 32 nibbles, least significant first, as ip6.arpa. */
        for (int i = 15; i >= 0; i--) {
            head[hlen++] = hex[addr[i] & 0xf];
            head[hlen++] = '.';
            head[hlen++] = hex[addr[i] >> 4];
            head[hlen++] = '.';
        }
        head[hlen] = '\0';
    } else {
        return -1;
    }
    if (hlen + zlen > DNSBL_NAME_MAX || hlen + zlen + 1 > cap)
        return -1;
    memcpy(out, head, hlen);
    memcpy(out + hlen, zone, zlen);
    out[hlen + zlen] = '\0';
    return 0;
}

/* 127.255.255.0/24 from a zone: logged once per zone and process (a few zones only). */
static void
dnsbl_log_error_code(const char *zone, const char *code)
{
    static char logged[2 * DNSBL_ZONES_MAX][256];
    static size_t n_logged;

    for (size_t i = 0; i < n_logged; i++) {
        if (strcmp(logged[i], zone) == 0)
            return;
    }
    if (n_logged < 2 * DNSBL_ZONES_MAX)
        (void)str_copyz(logged[n_logged++], sizeof(logged[0]), zone);
    log_warning("-: event=dnsbl-error, zone=%s, code=%s, why=\"the list refuses our queries "
                "(127.255.255.0/24: refused, public resolver or over its limit): counted as "
                "not listed\"",
                zone, code);
}

/* Every request has answered: the decision, in the zones' order. */
static void
dnsbl_finish(struct dnsbl_lookup *l)
{
    struct dnsbl_answer a;
    const struct dnsbl_req *bl = NULL, *wl = NULL;

    if (l->cancelled) {
        free(l);
        return;
    }
    memset(&a, 0, sizeof(a));
    for (size_t i = 0; i < l->n; i++) {
        const struct dnsbl_req *r = &l->req[i];

        if (r->res == DNSBL_TEMPFAIL)
            a.n_tempfail++;
        else if (r->res == DNSBL_LISTED && r->white && wl == NULL)
            wl = r;
        else if (r->res == DNSBL_LISTED && !r->white && bl == NULL)
            bl = r;
    }
    if (wl != NULL) {
        a.white = true;
        bl = wl;
    } else if (bl != NULL) {
        a.listed = true;
    }
    if (bl != NULL) {
        (void)str_copyz(a.zone, sizeof(a.zone), bl->zone_copy);
        (void)str_copyz(a.code, sizeof(a.code), bl->code);
    }
    l->done(l->arg, &a);
    free(l);
}

static void
dnsbl_a_cb(void *arg, enum dns_status st, const struct dns_a *recs, size_t n, const char *why)
{
    struct dnsbl_req *r = arg;
    struct dnsbl_lookup *l = r->l;

    r->res = DNSBL_NOT_LISTED;
    switch (st) {
    case DNS_OK:
        for (size_t i = 0; i < n; i++) {
            char text[INET_ADDRSTRLEN] = "?";
            enum dnsbl_code c = dnsbl_classify(recs[i].addr);

            (void)inet_ntop(AF_INET, &recs[i].addr, text, sizeof(text));
            if (c == DNSBL_CODE_LISTED) {
                r->res = DNSBL_LISTED;
                (void)str_copyz(r->code, sizeof(r->code), text);
                break;
            }
            if (c == DNSBL_CODE_ERROR && !l->cancelled)
                dnsbl_log_error_code(r->zone_copy, text);
            else
                log_debug("-: event=dnsbl-ignored, zone=%s, code=%s, why=\"outside 127/8\"",
                          r->zone_copy, text);
        }
        break;
    case DNS_NODATA:
    case DNS_NXDOMAIN:
        break;
    case DNS_NULLMX:
    case DNS_TEMPFAIL:
    case DNS_CANCELLED:
        r->res = DNSBL_TEMPFAIL;
        if (!l->cancelled)
            log_debug("-: event=dnsbl-tempfail, zone=%s, why=\"%s\"", r->zone_copy, why);
        break;
    }
    if (l->pending == 0)
        log_panic("dnsbl: more answers than queries");
    if (--l->pending == 0)
        dnsbl_finish(l);
}

/* Adds the request of one zone to l and asks it; false when it is left out. */
static bool
dnsbl_ask(struct dnsbl_lookup *l, struct dns *d, int family, const unsigned char *addr,
          const char *zone, bool white)
{
    struct dnsbl_req *r = &l->req[l->n];
    char name[DNSBL_NAME_MAX + 1];

    if (zone == NULL || str_copyz(r->zone_copy, sizeof(r->zone_copy), zone) == -1 ||
        dnsbl_query_name(name, sizeof(name), family, addr, zone) == -1) {
        log_warning("-: event=dnsbl-skip, zone=%.64s, why=\"the query name does not fit\"",
                    zone != NULL ? zone : "(null)");
        return false;
    }
    r->l = l;
    r->white = white;
    r->res = DNSBL_PENDING;
    /* Counted before the call: the answer never comes inside dns_a(). */
    l->pending++;
    if (dns_a(d, name, dnsbl_a_cb, r) == -1) {
        l->pending--;
        log_warning("-: event=dnsbl-skip, zone=%.64s, why=\"not a DNS name\"", zone);
        return false;
    }
    l->n++;
    return true;
}

struct dnsbl_lookup *
dnsbl_start(struct dns *d, int family, const unsigned char *addr, const char *const *bl,
            size_t n_bl, const char *const *wl, size_t n_wl, dnsbl_done_fn *done, void *arg)
{
    struct dnsbl_lookup *l;

    if (d == NULL || addr == NULL || done == NULL || (family != AF_INET && family != AF_INET6))
        return NULL;
    if (n_bl > DNSBL_ZONES_MAX || n_wl > DNSBL_ZONES_MAX)
        log_warning("-: event=dnsbl-skip, why=\"more than %d zones in a list: the rest are "
                    "not asked\"",
                    DNSBL_ZONES_MAX);
    l = xcalloc(1, sizeof(*l));
    l->done = done;
    l->arg = arg;
    /* bl first, then wl: the decision reads each list in its own order. */
    for (size_t i = 0; i < n_bl && i < DNSBL_ZONES_MAX; i++)
        (void)dnsbl_ask(l, d, family, addr, bl[i], false);
    for (size_t i = 0; i < n_wl && i < DNSBL_ZONES_MAX; i++)
        (void)dnsbl_ask(l, d, family, addr, wl[i], true);
    if (l->n == 0) {
        free(l);
        return NULL;
    }
    return l;
}

void
dnsbl_cancel(struct dnsbl_lookup *l)
{
    if (l == NULL)
        return;
    if (l->cancelled)
        log_panic("dnsbl: cancelled twice");
    /* Freed by the last answer (src/dns answers every query, dns_free too). */
    l->cancelled = true;
}
