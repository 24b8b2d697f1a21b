/* SPDX-License-Identifier: MIT */
/*
 * The router (route.h): picks the route of a domain, asks dns/ for MX and
 * addresses, and assembles the hops in order. A route is one or more parts:
 * one per relay URL (the domain's relay, or the relay-host), or the
 * recipient domain's own MX. Every lookup of every part starts at once;
 * once the last has answered, the hops are put together part by part (each
 * in MX order), within ROUTE_HOPS_MAX and with room kept for every part
 * that has hops. A part whose lookup fails is passed over (and logged) when
 * another gives hops. The loop check compares each hop with our own
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

/* Room for one part's reason, and for the reasons of every part together. */
#define ROUTE_WHY_CAP  (CAP_DOMAIN * 2 + 128)
#define ROUTE_WHYS_CAP 1024

struct route;
struct route_part;

/* A host whose addresses are looked up: an MX host, or the host of a route. */
struct route_host {
    struct route_part *part;
    char name[CAP_DOMAIN + 1];
    struct dns_addr *addrs; /* owned, n_addrs of them (at most ROUTE_HOPS_MAX) */
    size_t n_addrs;
    enum dns_status status;
    char why[128]; /* dns/'s reason, when status is not DNS_OK */
    bool answered;
};

/* One relay URL, or the recipient domain's MX. */
struct route_part {
    struct route *r;
    char lookup[CAP_DOMAIN + 1]; /* the name whose MX (or addresses) we look up */
    unsigned port;               /* of every hop of the part */
    bool smtps;                  /* its hops speak TLS from the first byte */
    bool addrs_only;             /* the addresses of lookup: bracketed, or implicit MX */
    struct route_host hosts[ROUTE_MX_MAX];
    size_t n_hosts;
    bool done;
    enum route_status status; /* once done: ROUTE_OK when a host has an address */
    const char *enhanced;     /* when not ROUTE_OK */
    char why[ROUTE_WHY_CAP];
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
    bool starting;                    /* inside route_start(): no report from here */
    unsigned pending;                 /* DNS callbacks (and the deferred report) still to come */
    const struct conf_relays *relays; /* the route's relay URLs, or NULL: MX of domain */

    struct route_part *parts; /* n_parts of them */
    size_t n_parts;
    bool loop; /* an MX host is our hostname: why says so */

    struct deliver_hop hops[ROUTE_HOPS_MAX];
    size_t n_hops;
    /* The result, when decided before any DNS (a literal). */
    bool early;
    struct route_result early_res;
    char why[ROUTE_WHYS_CAP];
};

static void
route_free_if_done(struct route *r)
{
    if ((!r->cancelled && !r->reported) || r->pending > 0)
        return;
    for (size_t i = 0; i < r->n_parts; i++) {
        for (size_t h = 0; h < r->parts[i].n_hosts; h++)
            free(r->parts[i].hosts[h].addrs);
    }
    free(r->parts);
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
        .auth = st == ROUTE_OK && r->relays != NULL ? r->relays->auth : NULL,
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
route_add_hop(struct route *r, const char *name, const struct sockaddr *sa, socklen_t len,
              unsigned port, bool smtps)
{
    struct deliver_hop *h;

    if (r->n_hops == ROUTE_HOPS_MAX)
        return;
    h = &r->hops[r->n_hops++];
    memset(h, 0, sizeof(*h));
    (void)str_copyz(h->name, sizeof(h->name), name);
    memcpy(&h->sa, sa, len);
    h->sa_len = len;
    h->smtps = smtps;
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)&h->sa)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&h->sa)->sin6_port = htons((uint16_t)port);
}

/* The addresses of part, in host order. */
static size_t
part_count(const struct route_part *p)
{
    size_t n = 0;

    for (size_t h = 0; h < p->n_hosts; h++)
        n += p->hosts[h].n_addrs;
    return n;
}

/* The first take hops of part, in MX order, each host's addresses in turn. */
static void
part_add_hops(struct route *r, const struct route_part *p, size_t take)
{
    for (size_t h = 0; h < p->n_hosts && take > 0; h++) {
        const struct route_host *host = &p->hosts[h];

        for (size_t a = 0; a < host->n_addrs && take > 0; a++, take--)
            route_add_hop(r, host->name, (const struct sockaddr *)&host->addrs[a].sa,
                          host->addrs[a].sa_len, p->port, p->smtps);
    }
}

/*
 * The hops of every part in order, within ROUTE_HOPS_MAX: each part first
 * gets up to an equal share, then what is left goes to the parts in order,
 * so that a later relay keeps a place even behind one with many addresses.
 */
static void
route_gather(struct route *r)
{
    size_t take[CONF_RELAYS_MAX];
    size_t share = ROUTE_HOPS_MAX / r->n_parts, left = ROUTE_HOPS_MAX;

    for (size_t i = 0; i < r->n_parts; i++) {
        size_t n = part_count(&r->parts[i]);

        take[i] = n < share ? n : share;
        left -= take[i];
    }
    for (size_t i = 0; i < r->n_parts && left > 0; i++) {
        size_t more = part_count(&r->parts[i]) - take[i];

        more = more < left ? more : left;
        take[i] += more;
        left -= more;
    }
    for (size_t i = 0; i < r->n_parts; i++)
        part_add_hops(r, &r->parts[i], take[i]);
}

/* "smtp://[host]:port" of a configured route, for logs. */
static void
route_url(const struct conf_route *rt, char *out, size_t cap)
{
    bool v6 = rt->family == AF_INET6;

    (void)str_fmt(out, cap, "%s://%s%s%s:%u", rt->smtps ? "smtps" : "smtp",
                  rt->bracketed || v6 ? "[" : "", rt->host, rt->bracketed || v6 ? "]" : "",
                  rt->port);
}

/* The reasons of the parts without hops, joined: "relay 1: why; relay 2: why". */
static void
route_join_whys(struct route *r)
{
    size_t o = 0;

    r->why[0] = '\0';
    for (size_t i = 0; i < r->n_parts; i++) {
        if (str_fmt(r->why + o, sizeof(r->why) - o, "%s%s", o > 0 ? "; " : "", r->parts[i].why) ==
            -1)
            return; /* cut: the first reasons are the ones that count */
        o += strlen(r->why + o);
    }
}

/* Every part has answered: reports the hops gathered, or why there are none. */
static void
route_finish(struct route *r)
{
    bool any_temp = false;

    if (r->loop) {
        route_report(r, ROUTE_PERM, "5.4.6", r->why);
        return;
    }
    route_gather(r);
    for (size_t i = 0; i < r->n_hops; i++) {
        if (route_is_ourselves(r->conf, (const struct sockaddr *)&r->hops[i].sa)) {
            (void)str_fmt(r->why, sizeof(r->why), "mail for %s loops back to myself (%s)",
                          r->domain, r->hops[i].name);
            route_report(r, ROUTE_PERM, "5.4.6", r->why);
            return;
        }
    }
    for (size_t i = 0; i < r->n_parts; i++) {
        const struct route_part *p = &r->parts[i];
        char url[CAP_DOMAIN + 32], q[LOG_QUOTE_CAP];

        any_temp = any_temp || p->status == ROUTE_TEMP;
        if (r->n_hops == 0 || p->status == ROUTE_OK)
            continue;
        /* Passed over in favour of the next: the admin should hear of it. */
        route_url(&r->relays->urls[i], url, sizeof(url));
        log_info("-: domain=%s, event=relay-skipped, relay=%s, dsn=%s, reason=\"%s\"", r->domain,
                 url, p->enhanced, log_quote(q, sizeof(q), p->why, strlen(p->why)));
    }
    if (r->n_hops > 0) {
        route_report(r, ROUTE_OK, NULL, NULL);
    } else if (r->n_parts == 1) {
        route_report(r, r->parts[0].status, r->parts[0].enhanced, r->parts[0].why);
    } else {
        route_join_whys(r);
        route_report(r, any_temp ? ROUTE_TEMP : ROUTE_PERM,
                     any_temp ? "4.4.3" : r->parts[0].enhanced, r->why);
    }
}

/* Reports once every part is done, and never from inside route_start(). */
static void
route_maybe_finish(struct route *r)
{
    if (r->starting || r->cancelled || r->reported)
        return;
    for (size_t i = 0; i < r->n_parts; i++) {
        if (!r->parts[i].done)
            return;
    }
    route_finish(r);
}

static void
route_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
    struct route *r = arg;

    (void)fd;
    (void)what;
    r->pending--;
    if (!r->cancelled && !r->reported) {
        if (r->early)
            route_report(r, r->early_res.status, r->early_res.enhanced, r->early_res.why);
        else
            route_maybe_finish(r);
    }
    route_free_if_done(r);
}

/* The report from the loop, once route_start() has returned. */
static void
route_defer(struct route *r)
{
    r->pending++;
    if (event_base_once(r->base, -1, EV_TIMEOUT, route_deferred_cb, r, NULL) == -1)
        log_panic("%s: event_base_once failed", r->domain);
}

/* ---- One part ---- */

static void
part_fail(struct route_part *p, enum route_status st, const char *enhanced)
{
    p->done = true;
    p->status = st;
    p->enhanced = enhanced;
}

/* Every host of p has answered: it has hops, or why not. */
static void
part_settle(struct route_part *p)
{
    bool any_temp = false;
    const char *status = "no address";

    for (size_t h = 0; h < p->n_hosts; h++) {
        const struct route_host *host = &p->hosts[h];

        if (host->status == DNS_TEMPFAIL || host->status == DNS_CANCELLED) {
            any_temp = true;
            status = dns_status_name(host->status);
        }
    }
    p->done = true;
    if (part_count(p) > 0) {
        p->status = ROUTE_OK;
        return;
    }
    if (p->addrs_only) {
        const struct route_host *host = &p->hosts[0];

        (void)str_fmt(
            p->why, sizeof(p->why), "Host or domain name not found: %s (A/AAAA: %s)", p->lookup,
            host->status == DNS_OK || host->status == DNS_NODATA ? "no address" : host->why);
    } else {
        (void)str_fmt(p->why, sizeof(p->why), "no address for the MX hosts of %s (%s)", p->lookup,
                      status);
    }
    part_fail(p, any_temp ? ROUTE_TEMP : ROUTE_PERM, any_temp ? "4.4.3" : "5.4.4");
}

static void
host_addrs_cb(void *arg, enum dns_status st, const struct dns_addr *addrs, size_t n,
              const char *why)
{
    struct route_host *host = arg;
    struct route_part *p = host->part;
    struct route *r = p->r;
    bool all = true;

    r->pending--;
    host->answered = true;
    host->status = st;
    if (why != NULL)
        (void)str_copyz(host->why, sizeof(host->why), why);
    if (st == DNS_OK && n > 0 && !r->cancelled) {
        host->n_addrs = n < ROUTE_HOPS_MAX ? n : ROUTE_HOPS_MAX;
        host->addrs = xmalloc(host->n_addrs * sizeof(*host->addrs));
        memcpy(host->addrs, addrs, host->n_addrs * sizeof(*host->addrs));
    }
    for (size_t h = 0; h < p->n_hosts; h++)
        all = all && p->hosts[h].answered;
    if (all && !p->done) {
        part_settle(p);
        route_maybe_finish(r);
    }
    route_free_if_done(r);
}

/* Asks for the addresses of every host of p. */
static void
part_lookup_hosts(struct route_part *p)
{
    struct route *r = p->r;

    for (size_t h = 0; h < p->n_hosts; h++) {
        struct route_host *host = &p->hosts[h];

        host->part = p;
        r->pending++;
        if (dns_addrs(r->dns, host->name, host_addrs_cb, host) == -1) {
            r->pending--;
            host->answered = true;
            host->status = DNS_NXDOMAIN;
            (void)str_copyz(host->why, sizeof(host->why), "bad host name");
        }
    }
    for (size_t h = 0; h < p->n_hosts; h++) {
        if (!p->hosts[h].answered)
            return;
    }
    part_settle(p); /* no name could even be asked */
}

/* The addresses of name itself: a bracketed route, or a domain without MX (implicit MX). */
static void
part_lookup_addrs(struct route_part *p, const char *name)
{
    p->addrs_only = true;
    p->n_hosts = 1;
    memset(&p->hosts[0], 0, sizeof(p->hosts[0]));
    (void)str_copyz(p->hosts[0].name, sizeof(p->hosts[0].name), name);
    part_lookup_hosts(p);
}

static void
part_mx_cb(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n, const char *why)
{
    struct route_part *p = arg;
    struct route *r = p->r;

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
        part_lookup_addrs(p, p->lookup);
        route_maybe_finish(r);
        route_free_if_done(r);
        return;
    case DNS_NXDOMAIN:
        (void)str_fmt(p->why, sizeof(p->why), "Host or domain name not found: %s (MX: %s)",
                      p->lookup, why);
        part_fail(p, ROUTE_PERM, "5.1.2");
        break;
    case DNS_NULLMX:
        (void)str_fmt(p->why, sizeof(p->why), "%s does not accept mail (null MX, RFC 7505)",
                      p->lookup);
        part_fail(p, ROUTE_PERM, "5.1.10");
        break;
    case DNS_TEMPFAIL:
    case DNS_CANCELLED:
        (void)str_fmt(p->why, sizeof(p->why), "MX lookup of %s failed: %s", p->lookup, why);
        part_fail(p, ROUTE_TEMP, "4.4.3");
        break;
    }
    for (size_t i = 0; st == DNS_OK && i < n && p->n_hosts < ROUTE_MX_MAX; i++) {
        if (strcasecmp(mx[i].host, r->conf->hostname) == 0) {
            (void)str_fmt(r->why, sizeof(r->why),
                          "mail for %s loops back to myself (MX host %s is my hostname)", r->domain,
                          mx[i].host);
            r->loop = true;
            (void)str_copyz(p->why, sizeof(p->why), r->why);
            part_fail(p, ROUTE_PERM, "5.4.6");
            p->n_hosts = 0;
            break;
        }
        memset(&p->hosts[p->n_hosts], 0, sizeof(p->hosts[0]));
        (void)str_copyz(p->hosts[p->n_hosts].name, sizeof(p->hosts[0].name), mx[i].host);
        p->n_hosts++;
    }
    if (!p->done)
        part_lookup_hosts(p);
    route_maybe_finish(r);
    route_free_if_done(r);
}

/* A configured route (rt), or the recipient domain's MX (rt NULL). */
static void
part_start(struct route_part *p, const struct conf_route *rt)
{
    struct route *r = p->r;

    p->port = rt != NULL ? rt->port : 25;
    p->smtps = rt != NULL && rt->smtps;
    (void)str_copyz(p->lookup, sizeof(p->lookup), rt != NULL ? rt->host : r->domain);
    if (rt != NULL && rt->family != AF_UNSPEC) {
        /* An address: its own hop, no DNS. */
        struct route_host *host = &p->hosts[0];
        struct sockaddr_storage *ss;

        p->addrs_only = true;
        p->n_hosts = 1;
        (void)str_copyz(host->name, sizeof(host->name), rt->host);
        host->answered = true;
        host->addrs = xcalloc(1, sizeof(*host->addrs));
        host->n_addrs = 1;
        ss = &host->addrs[0].sa;
        if (rt->family == AF_INET) {
            ((struct sockaddr_in *)ss)->sin_family = AF_INET;
            (void)inet_pton(AF_INET, rt->host, &((struct sockaddr_in *)ss)->sin_addr);
            host->addrs[0].sa_len = sizeof(struct sockaddr_in);
        } else {
            ((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
            (void)inet_pton(AF_INET6, rt->host, &((struct sockaddr_in6 *)ss)->sin6_addr);
            host->addrs[0].sa_len = sizeof(struct sockaddr_in6);
        }
        p->done = true;
        p->status = ROUTE_OK;
    } else if (rt != NULL && rt->bracketed) {
        part_lookup_addrs(p, rt->host);
    } else {
        r->pending++;
        if (dns_mx(r->dns, p->lookup, part_mx_cb, p) == -1) {
            r->pending--;
            (void)str_fmt(p->why, sizeof(p->why), "bad domain name: %s", p->lookup);
            part_fail(p, ROUTE_PERM, "5.1.2");
        }
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
    (void)str_copyz(r->domain, sizeof(r->domain), domain);
    if (domain[0] == '[') {
        struct sockaddr_storage ss;
        socklen_t len;

        r->early = true;
        if (route_literal(domain, &ss, &len) == -1) {
            (void)str_fmt(r->why, sizeof(r->why), "unsupported address literal %s", domain);
            r->early_res =
                (struct route_result){.status = ROUTE_PERM, .enhanced = "5.1.2", .why = r->why};
        } else {
            route_add_hop(r, domain, (const struct sockaddr *)&ss, len, 25, false);
            if (route_is_ourselves(c, (const struct sockaddr *)&ss)) {
                (void)str_fmt(r->why, sizeof(r->why), "mail for %s loops back to myself (%s)",
                              domain, domain);
                r->early_res =
                    (struct route_result){.status = ROUTE_PERM, .enhanced = "5.4.6", .why = r->why};
            } else {
                r->early_res = (struct route_result){.status = ROUTE_OK};
            }
        }
        route_defer(r);
        return r;
    }
    d = conf_find_domain(c, domain, strlen(domain));
    if (d != NULL && d->relay.n > 0)
        r->relays = &d->relay;
    else if (c->relay_host.n > 0)
        r->relays = &c->relay_host;
    r->n_parts = r->relays != NULL ? r->relays->n : 1;
    r->parts = xcalloc(r->n_parts, sizeof(*r->parts));
    r->starting = true;
    for (size_t i = 0; i < r->n_parts; i++) {
        r->parts[i].r = r;
        part_start(&r->parts[i], r->relays != NULL ? &r->relays->urls[i] : NULL);
    }
    r->starting = false;
    if (r->pending == 0)
        route_defer(r); /* nothing to wait for: every part is an address, or failed at once */
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
