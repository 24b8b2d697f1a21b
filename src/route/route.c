/* SPDX-License-Identifier: MIT */
/*
 * The router (route.h): picks the route of a domain, asks dns/ for MX and
 * addresses, and assembles the hops in order. MX hosts are looked up at
 * the same time; their addresses are put together in MX order once every
 * lookup has answered. The loop check compares each hop with our own
 * listening sockets (a wildcard listener matches any local address).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "route/route.h"

struct route;

struct route_mx_host {
    struct route *owner;
    char name[CAP_DOMAIN + 1];
    struct dns_addr addrs[ROUTE_HOPS_MAX];
    size_t n_addrs;
    enum dns_status status;
    bool answered;
};

struct route {
    struct event_base *base;
    struct dns *dns;
    const struct conf *conf;
    char domain[CAP_DOMAIN + 3];
    route_fn *fn;
    void *arg;
    bool cancelled;
    bool reported;
    unsigned pending;            /* DNS callbacks still to come */
    unsigned port;               /* of every hop */
    char lookup[CAP_DOMAIN + 1]; /* the name whose MX (or addresses) we look up */

    struct route_mx_host mx[ROUTE_MX_MAX];
    size_t n_mx;

    struct deliver_hop hops[ROUTE_HOPS_MAX];
    size_t n_hops;
    /* The result, when decided before any DNS (literal, address route). */
    struct route_result early;
    char why[CAP_DOMAIN * 2 + 128];
};

static void
route_free_if_done(struct route *r)
{
    if ((r->cancelled || r->reported) && r->pending == 0)
        free(r);
}

static void
route_report(struct route *r, enum route_status st, const char *enhanced, const char *why)
{
    struct route_result res = {
        .status = st,
        .hops = r->hops,
        .n_hops = st == ROUTE_OK ? r->n_hops : 0,
        .enhanced = enhanced,
        .why = why,
    };

    if (r->reported)
        log_panic("route %s reported twice", r->domain);
    r->reported = true;
    if (!r->cancelled)
        r->fn(r->arg, &res);
}

/* ---- Loop check: is addr:port one of our listening sockets? ---- */

static bool
route_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                      &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static unsigned
route_port_of(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
}

static bool
route_is_wildcard(const struct sockaddr *sa)
{
    static const unsigned char zero[16];

    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
    return memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, zero, 16) == 0;
}

/* True when addr is on one of this host's interfaces (or is loopback). */
static bool
route_is_local(const struct sockaddr *addr)
{
    struct ifaddrs *list, *i;
    bool found = false;

    if (addr->sa_family == AF_INET &&
        (ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr) >> 24) == 127)
        return true;
    if (addr->sa_family == AF_INET6 &&
        IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)addr)->sin6_addr))
        return true;
    if (getifaddrs(&list) == -1)
        return false;
    for (i = list; i != NULL && !found; i = i->ifa_next)
        found = i->ifa_addr != NULL && route_same_ip(i->ifa_addr, addr);
    freeifaddrs(list);
    return found;
}

static bool
route_is_ourselves(const struct conf *c, const struct sockaddr *hop)
{
    unsigned port = route_port_of(hop);

    for (size_t l = 0; l < c->n_listens; l++) {
        const struct conf_listen *li = &c->listens[l];

        for (size_t a = 0; a < li->n_addrs; a++) {
            const struct sockaddr *ours = (const struct sockaddr *)&li->addrs[a].sa;

            if (route_port_of(ours) != port)
                continue;
            if (route_same_ip(ours, hop))
                return true;
            /* [::] also takes IPv4 unless v6only; count both families as ours. */
            if (route_is_wildcard(ours) && route_is_local(hop))
                return true;
        }
    }
    return false;
}

/* ---- Hops ---- */

static void
route_add_hop(struct route *r, const char *name, const struct sockaddr *sa, socklen_t len)
{
    struct deliver_hop *h;

    if (r->n_hops == ROUTE_HOPS_MAX)
        return;
    h = &r->hops[r->n_hops++];
    memset(h, 0, sizeof(*h));
    (void)str_copyz(h->name, sizeof(h->name), name);
    memcpy(&h->sa, sa, len);
    h->sa_len = len;
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)&h->sa)->sin_port = htons((uint16_t)r->port);
    else
        ((struct sockaddr_in6 *)&h->sa)->sin6_port = htons((uint16_t)r->port);
}

/* Reports the hops gathered, or why there are none; checks for a loop first. */
static void
route_finish(struct route *r, bool any_temp, const char *why_none)
{
    for (size_t i = 0; i < r->n_hops; i++) {
        if (route_is_ourselves(r->conf, (const struct sockaddr *)&r->hops[i].sa)) {
            (void)str_fmt(r->why, sizeof(r->why), "mail for %s loops back to myself (%s)",
                          r->domain, r->hops[i].name);
            route_report(r, ROUTE_PERM, "5.4.6", r->why);
            return;
        }
    }
    if (r->n_hops > 0)
        route_report(r, ROUTE_OK, NULL, NULL);
    else if (any_temp)
        route_report(r, ROUTE_TEMP, "4.4.3", why_none);
    else
        route_report(r, ROUTE_PERM, "5.4.4", why_none);
}

static void
route_early_cb(evutil_socket_t fd, short what, void *arg)
{
    struct route *r = arg;

    (void)fd;
    (void)what;
    r->pending--;
    if (!r->cancelled) {
        if (r->early.status == ROUTE_OK)
            route_finish(r, false, NULL);
        else
            route_report(r, r->early.status, r->early.enhanced, r->early.why);
    }
    route_free_if_done(r);
}

/* Reports from the loop, not from inside route_start(). */
static void
route_defer(struct route *r, enum route_status st, const char *enhanced, const char *why)
{
    r->early.status = st;
    r->early.enhanced = enhanced;
    r->early.why = why;
    r->pending++;
    if (event_base_once(r->base, -1, EV_TIMEOUT, route_early_cb, r, NULL) == -1)
        log_panic("%s: event_base_once failed", r->domain);
}

/* ---- Addresses of one name (bracketed routes, implicit MX) ---- */

static void
route_addrs_cb(void *arg, enum dns_status st, const struct dns_addr *addrs, size_t n,
               const char *why)
{
    struct route *r = arg;

    r->pending--;
    if (!r->cancelled) {
        for (size_t i = 0; st == DNS_OK && i < n; i++)
            route_add_hop(r, r->lookup, (const struct sockaddr *)&addrs[i].sa, addrs[i].sa_len);
        (void)str_fmt(r->why, sizeof(r->why), "Host or domain name not found: %s (A/AAAA: %s)",
                      r->lookup, st == DNS_OK ? "no address" : why);
        route_finish(r, st == DNS_TEMPFAIL || st == DNS_CANCELLED, r->why);
    }
    route_free_if_done(r);
}

static void
route_lookup_addrs(struct route *r, const char *name)
{
    (void)str_copyz(r->lookup, sizeof(r->lookup), name);
    r->pending++;
    if (dns_addrs(r->dns, name, route_addrs_cb, r) == -1) {
        r->pending--;
        (void)str_fmt(r->why, sizeof(r->why), "bad host name: %s", name);
        route_defer(r, ROUTE_PERM, "5.1.2", r->why);
    }
}

/* ---- MX ---- */

static void
route_mx_done(struct route *r)
{
    bool any_temp = false;
    const char *status = "no address";

    for (size_t i = 0; i < r->n_mx; i++) {
        const struct route_mx_host *h = &r->mx[i];

        for (size_t a = 0; a < h->n_addrs; a++)
            route_add_hop(r, h->name, (const struct sockaddr *)&h->addrs[a].sa, h->addrs[a].sa_len);
        if (h->status == DNS_TEMPFAIL || h->status == DNS_CANCELLED) {
            any_temp = true;
            status = dns_status_name(h->status);
        }
    }
    (void)str_fmt(r->why, sizeof(r->why), "no address for the MX hosts of %s (%s)", r->lookup,
                  status);
    route_finish(r, any_temp, r->why);
}

static void
route_mx_addrs_cb(void *arg, enum dns_status st, const struct dns_addr *addrs, size_t n,
                  const char *why)
{
    struct route_mx_host *h = arg;
    struct route *r;
    bool all;

    (void)why;
    r = h->owner;
    r->pending--;
    h->answered = true;
    h->status = st;
    for (size_t i = 0; st == DNS_OK && i < n && h->n_addrs < ROUTE_HOPS_MAX; i++)
        h->addrs[h->n_addrs++] = addrs[i];
    all = true;
    for (size_t i = 0; i < r->n_mx; i++)
        all = all && r->mx[i].answered;
    if (all && !r->cancelled && !r->reported)
        route_mx_done(r);
    route_free_if_done(r);
}

static void
route_mx_cb(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n, const char *why)
{
    struct route *r = arg;

    r->pending--;
    if (r->cancelled) {
        route_free_if_done(r);
        return;
    }
    switch (st) {
    case DNS_OK:
        break;
    case DNS_NODATA:
        /* No MX: the domain itself is the host (RFC 5321 5.1, "implicit MX"). */
        route_lookup_addrs(r, r->lookup);
        return;
    case DNS_NXDOMAIN:
        (void)str_fmt(r->why, sizeof(r->why), "Host or domain name not found: %s (MX: %s)",
                      r->lookup, why);
        route_report(r, ROUTE_PERM, "5.1.2", r->why);
        route_free_if_done(r);
        return;
    case DNS_NULLMX:
        (void)str_fmt(r->why, sizeof(r->why), "%s does not accept mail (null MX, RFC 7505)",
                      r->lookup);
        route_report(r, ROUTE_PERM, "5.1.10", r->why);
        route_free_if_done(r);
        return;
    case DNS_TEMPFAIL:
    case DNS_CANCELLED:
        (void)str_fmt(r->why, sizeof(r->why), "MX lookup of %s failed: %s", r->lookup, why);
        route_report(r, ROUTE_TEMP, "4.4.3", r->why);
        route_free_if_done(r);
        return;
    }
    for (size_t i = 0; i < n && r->n_mx < ROUTE_MX_MAX; i++) {
        if (strcasecmp(mx[i].host, r->conf->hostname) == 0) {
            (void)str_fmt(r->why, sizeof(r->why),
                          "mail for %s loops back to myself (MX host %s is my hostname)", r->domain,
                          mx[i].host);
            route_report(r, ROUTE_PERM, "5.4.6", r->why);
            route_free_if_done(r);
            return;
        }
        memset(&r->mx[r->n_mx], 0, sizeof(r->mx[0]));
        r->mx[r->n_mx].owner = r;
        (void)str_copyz(r->mx[r->n_mx].name, sizeof(r->mx[0].name), mx[i].host);
        r->n_mx++;
    }
    for (size_t i = 0; i < r->n_mx; i++) {
        r->pending++;
        if (dns_addrs(r->dns, r->mx[i].name, route_mx_addrs_cb, &r->mx[i]) == -1) {
            r->pending--;
            r->mx[i].answered = true;
            r->mx[i].status = DNS_NXDOMAIN;
        }
    }
    if (r->pending == 0) /* no MX host name could even be asked */
        route_mx_done(r);
    route_free_if_done(r);
}

static void
route_lookup_mx(struct route *r, const char *name)
{
    (void)str_copyz(r->lookup, sizeof(r->lookup), name);
    r->pending++;
    if (dns_mx(r->dns, name, route_mx_cb, r) == -1) {
        r->pending--;
        (void)str_fmt(r->why, sizeof(r->why), "bad domain name: %s", name);
        route_defer(r, ROUTE_PERM, "5.1.2", r->why);
    }
}

/* ---- Start ---- */

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321 4.1.3) as an address; -1 if neither. */
static int
route_literal(const char *domain, struct sockaddr_storage *ss, socklen_t *len)
{
    char text[CAP_DOMAIN + 1];
    size_t n = strlen(domain);

    if (n < 3 || domain[n - 1] != ']' || n - 2 >= sizeof(text))
        return -1;
    memcpy(text, domain + 1, n - 2);
    text[n - 2] = '\0';
    memset(ss, 0, sizeof(*ss));
    if (strncasecmp(text, "IPv6:", 5) == 0) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

        s6->sin6_family = AF_INET6;
        *len = sizeof(*s6);
        return inet_pton(AF_INET6, text + 5, &s6->sin6_addr) == 1 ? 0 : -1;
    }
    ((struct sockaddr_in *)ss)->sin_family = AF_INET;
    *len = sizeof(struct sockaddr_in);
    return inet_pton(AF_INET, text, &((struct sockaddr_in *)ss)->sin_addr) == 1 ? 0 : -1;
}

/* A configured route: an address, a bracketed name (addresses only) or a name (MX). */
static void
route_follow(struct route *r, const struct conf_route *rt)
{
    r->port = rt->port;
    if (rt->family != AF_UNSPEC) {
        struct sockaddr_storage ss;
        socklen_t len;

        memset(&ss, 0, sizeof(ss));
        if (rt->family == AF_INET) {
            ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
            (void)inet_pton(AF_INET, rt->host, &((struct sockaddr_in *)&ss)->sin_addr);
            len = sizeof(struct sockaddr_in);
        } else {
            ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
            (void)inet_pton(AF_INET6, rt->host, &((struct sockaddr_in6 *)&ss)->sin6_addr);
            len = sizeof(struct sockaddr_in6);
        }
        route_add_hop(r, rt->host, (const struct sockaddr *)&ss, len);
        route_defer(r, ROUTE_OK, NULL, NULL);
    } else if (rt->bracketed) {
        route_lookup_addrs(r, rt->host);
    } else {
        route_lookup_mx(r, rt->host);
    }
}

struct route *
route_start(struct event_base *base, struct dns *dns, const struct conf *c, const char *domain,
            route_fn *fn, void *arg)
{
    struct route *r = xcalloc(1, sizeof(*r));
    const struct conf_domain *d;

    r->base = base;
    r->dns = dns;
    r->conf = c;
    r->fn = fn;
    r->arg = arg;
    r->port = 25;
    (void)str_copyz(r->domain, sizeof(r->domain), domain);
    if (domain[0] == '[') {
        struct sockaddr_storage ss;
        socklen_t len;

        if (route_literal(domain, &ss, &len) == -1) {
            (void)str_fmt(r->why, sizeof(r->why), "unsupported address literal %s", domain);
            route_defer(r, ROUTE_PERM, "5.1.2", r->why);
        } else {
            route_add_hop(r, domain, (const struct sockaddr *)&ss, len);
            route_defer(r, ROUTE_OK, NULL, NULL);
        }
        return r;
    }
    d = conf_find_domain(c, domain, strlen(domain));
    if (d != NULL && d->has_relay)
        route_follow(r, &d->relay);
    else if (c->has_relay_host)
        route_follow(r, &c->relay_host);
    else
        route_lookup_mx(r, domain);
    return r;
}

void
route_cancel(struct route *r)
{
    if (r == NULL)
        return;
    r->cancelled = true;
    route_free_if_done(r);
}
