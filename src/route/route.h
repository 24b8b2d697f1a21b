/* SPDX-License-Identifier: MIT */
/*
 * The router: the next hops for the recipients of one domain, in the order
 * to try them. docs/relay.md ("Routing") has the rules:
 *
 *   1. the domain's `relay` URLs (domain NAME { relay URL... });
 *   2. else the smarthosts (delivery { relay-host URL... });
 *   3. else the domain's MX records (RFC 5321 5.1): by preference, equal
 *      preferences shuffled (by dns/), each host's addresses in turn; no MX
 *      records: the domain's own A/AAAA; a null MX (RFC 7505), NXDOMAIN or
 *      no address at all: permanent; DNS trouble: temporary.
 *
 * A route smtp://[host]:port is used without an MX lookup (as in Postfix);
 * smtp://host:port looks up the MX records of host and connects to port.
 * Several URLs are tried in order: the hops of the first (its MX hosts and
 * their addresses, or its addresses), then those of the next. A URL whose
 * lookup fails is passed over when another gives hops; the route fails only
 * when none does (temporary if any failure was).
 * A recipient domain that is an address literal is its own hop, port 25.
 * A hop that is one of our own listening sockets, or an MX host named as
 * our hostname, is a mail loop: permanent 5.4.6 (RFC 5321 6.3).
 *
 * Threads: the loop's only; the callback never runs inside route_start().
 */
#ifndef GATE26_ROUTE_ROUTE_H
#define GATE26_ROUTE_ROUTE_H

#include <stddef.h>

#include "conf/conf.h"
#include "deliver/deliver.h"
#include "dns/dns.h"

/*
 * At most this many hops are tried for one domain (relay URLs, MX hosts and
 * addresses together); each relay URL keeps a share of them.
 */
#define ROUTE_HOPS_MAX 32
/* At most this many MX hosts are looked up for one name. */
#define ROUTE_MX_MAX 8

enum route_status {
    ROUTE_OK,   /* n_hops >= 1 */
    ROUTE_TEMP, /* try again later */
    ROUTE_PERM, /* bounce */
};

struct route_result {
    enum route_status status;
    const struct deliver_hop *hops;
    size_t n_hops;
    const char *enhanced; /* "4.4.3", "5.1.2", ... when not ROUTE_OK */
    const char *why;      /* "Host or domain name not found: example.invalid (MX: nxdomain)" */
    const struct conf_relay_auth *auth; /* the relays' relay-auth login (in the conf), or NULL */
};

struct event_base;
struct route;

/* Called once with the hops or the reason; r and what it points to are valid during the call. */
typedef void route_fn(void *arg, const struct route_result *r);

/*
 * Starts finding the hops (on base, through dns) for domain (lower case, as in the recipient
 * address; "[192.0.2.1]" for a literal) under c (borrowed until the
 * callback). Returns the lookup; fn(arg, ...) will be called once, unless
 * route_cancel() comes first.
 */
struct route *route_start(struct event_base *base, struct dns *dns, const struct conf *c,
                          const char *domain, route_fn *fn, void *arg);

/* Ends a lookup: no callback. Its memory goes when DNS answers (or dns_free runs). */
void route_cancel(struct route *r);

#endif
