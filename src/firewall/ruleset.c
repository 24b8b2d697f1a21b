/* SPDX-License-Identifier: MIT */
/*
 * The nftables ruleset of a configuration (docs/scanners.md, "gate26
 * firewall"): pure text, nothing here talks to the kernel. One table of
 * its own, `inet gate26`, whose input chain runs just before the filter
 * chains of other tables (priority filter - 1) with policy accept: it only
 * drops, and only packets to the doors' addresses and ports, so whatever it
 * does not name goes on to the rest of the host's rules untouched.
 *
 * For each listen address of each door, in this order: new connections
 * from set scanners/scanners6 are dropped; the door's deny networks are
 * dropped; a door with allow lines drops every source outside them (an
 * internal door always has them; inbound and submission doors without
 * allow lines are open to all); a door with a connection-rate drops a
 * source's new connections past it (a token bucket per source address, per
 * /64 for IPv6 as the daemon counts, in a dynamic set with a timeout).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "firewall/firewall.h"

/* The bounded text being written; full once something did not fit. */
struct rs_out {
    char *p;
    size_t cap, len;
    bool full;
};

static void rs_fmt(struct rs_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
rs_fmt(struct rs_out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->full)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->full = true;
        return;
    }
    o->len += (size_t)n;
}

/* nft's named units of a limit rate, smallest first. */
static const struct {
    unsigned seconds;
    const char *name;
} rs_units[] = {
    {1, "second"}, {60, "minute"}, {3600, "hour"}, {86400, "day"}, {604800, "week"},
};

void
firewall_limit_of(struct conf_rate r, struct firewall_limit *out)
{
    const size_t last = sizeof(rs_units) / sizeof(rs_units[0]) - 1;
    uint64_t n = r.n, p = r.period != 0 ? r.period : 1;

    out->burst = r.n;
    out->timeout = r.period;
    out->exact = true;
    for (size_t i = 0; i <= last; i++) {
        if (n * rs_units[i].seconds % p == 0) {
            out->rate = n * rs_units[i].seconds / p;
            out->unit = rs_units[i].name;
            return;
        }
    }
    /* No unit holds a whole number of tokens: round the refill up (one token every period/N
     * seconds or a little sooner), so that the firewall never drops what the daemon's own
     * limit would take; the daemon stays the exact judge. */
    out->exact = false;
    out->rate = (n * rs_units[last].seconds + p - 1) / p;
    out->unit = rs_units[last].name;
}

static bool
is_any(const struct conf_addr *a)
{
    if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->sa;

        return sin->sin_addr.s_addr == htonl(INADDR_ANY);
    }
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->sa;

    return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

static unsigned
addr_port(const struct conf_addr *a)
{
    if (a->sa.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
}

/* "10.0.0.0/8", "2001:db8::/32", or the bare address of a host (/32, /128). */
static void
rs_cidr(struct rs_out *o, const struct conf_cidr *net)
{
    char text[INET6_ADDRSTRLEN];
    unsigned host = net->family == AF_INET ? 32 : 128;

    if (inet_ntop(net->family, net->addr, text, sizeof text) == NULL) {
        o->full = true; /* cannot happen: 4 or 16 octets always print */
        return;
    }
    if (net->prefix == host)
        rs_fmt(o, "%s", text);
    else
        rs_fmt(o, "%s/%u", text, net->prefix);
}

static size_t
count_family(const struct conf_cidr *nets, size_t n, int family)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        k += nets[i].family == family;
    return k;
}

/* " { a, b }": the networks of family in an anonymous set (nft merges overlaps). */
static void
rs_set_of(struct rs_out *o, const struct conf_cidr *nets, size_t n, int family)
{
    const char *sep = " { ";

    for (size_t i = 0; i < n; i++) {
        if (nets[i].family != family)
            continue;
        rs_fmt(o, "%s", sep);
        rs_cidr(o, &nets[i]);
        sep = ", ";
    }
    rs_fmt(o, " }");
}

/* The words of one family in the rules. */
struct rs_family {
    int family;
    const char *saddr;    /* "ip saddr" */
    const char *scanners; /* FIREWALL_SET4 */
    const char *rate_key; /* the dynamic set's key: the address, or its /64 */
    char digit;           /* '4' or '6', in the rate set's name */
};

static const struct rs_family rs_v4 = {AF_INET, "ip saddr", FIREWALL_SET4, "ip saddr", '4'};
static const struct rs_family rs_v6 = {AF_INET6, "ip6 saddr", FIREWALL_SET6,
                                       "ip6 saddr and ffff:ffff:ffff:ffff::", '6'};

/*
 * The rules of one listen address of door, in its family f: match selects
 * the address's packets ("ip daddr 192.0.2.1 tcp dport 25", "meta nfproto
 * ipv4 tcp dport 25"). Scanners, then deny, then allow, then the rate.
 */
static void
rs_rules(struct rs_out *o, const struct conf_listen *door, const char *match,
         const struct rs_family *f)
{
    const char *role = conf_role_name(door->role);

    rs_fmt(o, "\t\t%s ct state new %s @%s drop\n", match, f->saddr, f->scanners);
    if (count_family(door->deny, door->n_deny, f->family) > 0) {
        rs_fmt(o, "\t\t%s %s", match, f->saddr);
        rs_set_of(o, door->deny, door->n_deny, f->family);
        rs_fmt(o, " drop\n");
    }
    if (door->n_allow > 0) {
        if (count_family(door->allow, door->n_allow, f->family) > 0) {
            rs_fmt(o, "\t\t%s %s !=", match, f->saddr);
            rs_set_of(o, door->allow, door->n_allow, f->family);
            rs_fmt(o, " drop\n");
        } else {
            /* Allow lines of the other family only: nobody of this one gets in, so no rate. */
            rs_fmt(o, "\t\t%s drop\n", match);
            return;
        }
    }
    if (door->connection_rate.n != 0) {
        struct firewall_limit lim;

        firewall_limit_of(door->connection_rate, &lim);
        rs_fmt(o, "\t\t%s ct state new", match);
        if (count_family(door->limits_exempt, door->n_limits_exempt, f->family) > 0) {
            rs_fmt(o, " %s !=", f->saddr);
            rs_set_of(o, door->limits_exempt, door->n_limits_exempt, f->family);
        }
        rs_fmt(o,
               " update @rate%c_%s { %s timeout %us limit rate over %llu/%s burst %u packets }"
               " drop\n",
               f->digit, role, f->rate_key, lim.timeout, lim.rate, lim.unit, lim.burst);
    }
}

static void
rs_door_rules(struct rs_out *o, const struct conf_listen *door)
{
    rs_fmt(o, "\n\t\t# listen %s (line %u)", conf_role_name(door->role), door->line);
    if (door->connection_rate.n != 0)
        rs_fmt(o, ": connection-rate %u/%us", door->connection_rate.n,
               door->connection_rate.period);
    rs_fmt(o, "\n");
    for (size_t i = 0; i < door->n_addrs; i++) {
        const struct conf_addr *a = &door->addrs[i];
        bool v4 = a->sa.ss_family == AF_INET;
        char match[128], text[INET6_ADDRSTRLEN];
        const void *raw = v4 ? (const void *)&((const struct sockaddr_in *)&a->sa)->sin_addr
                             : (const void *)&((const struct sockaddr_in6 *)&a->sa)->sin6_addr;

        /* Listening sockets are IPV6_V6ONLY: a wildcard takes its own family only. */
        if (is_any(a)) {
            (void)snprintf(match, sizeof match, "meta nfproto %s tcp dport %u",
                           v4 ? "ipv4" : "ipv6", addr_port(a));
        } else if (inet_ntop(v4 ? AF_INET : AF_INET6, raw, text, sizeof text) == NULL) {
            o->full = true;
            return;
        } else {
            (void)snprintf(match, sizeof match, "%s daddr %s tcp dport %u", v4 ? "ip" : "ip6", text,
                           addr_port(a));
        }
        rs_rules(o, door, match, v4 ? &rs_v4 : &rs_v6);
    }
}

static void
rs_set(struct rs_out *o, const char *name, const char *type, const struct conf_rate *rate)
{
    rs_fmt(o, "\n\tset %s {\n\t\ttype %s\n", name, type);
    if (rate == NULL) {
        rs_fmt(o, "\t\tflags timeout\n\t}\n");
        return;
    }
    rs_fmt(o, "\t\tsize %u\n\t\tflags dynamic,timeout\n\t\ttimeout %us\n\t}\n",
           FIREWALL_RATE_SET_SIZE, rate->period);
}

long
firewall_ruleset(const struct conf *c, const char *config_sha256_hex, char *out, size_t cap)
{
    struct rs_out o = {out, cap, 0, cap == 0};

    rs_fmt(&o, "table %s {\n\tcomment \"%s%s\"\n", FIREWALL_TABLE, FIREWALL_COMMENT,
           config_sha256_hex);
    rs_set(&o, FIREWALL_SET4, "ipv4_addr", NULL);
    rs_set(&o, FIREWALL_SET6, "ipv6_addr", NULL);
    for (size_t i = 0; i < c->n_listens; i++) {
        const struct conf_listen *door = &c->listens[i];
        char name[32];

        if (door->connection_rate.n == 0)
            continue;
        (void)snprintf(name, sizeof name, "rate4_%s", conf_role_name(door->role));
        rs_set(&o, name, "ipv4_addr", &door->connection_rate);
        (void)snprintf(name, sizeof name, "rate6_%s", conf_role_name(door->role));
        rs_set(&o, name, "ipv6_addr", &door->connection_rate);
    }
    rs_fmt(&o, "\n\tchain input {\n\t\ttype filter hook input priority filter - 1; "
               "policy accept;\n");
    for (size_t i = 0; i < c->n_listens; i++)
        rs_door_rules(&o, &c->listens[i]);
    rs_fmt(&o, "\t}\n}\n");
    return o.full ? -1 : (long)o.len;
}
