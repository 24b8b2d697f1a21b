/* SPDX-License-Identifier: MIT */
/*
 * Private to src/conf: parsers for the kinds of value a key takes (domain
 * names, numbers, sizes, durations, listening addresses, networks, relay
 * URLs, user names, paths). Each takes one token and either fills its out
 * parameter and returns 0, or leaves it unspecified, writes what was
 * expected into why (without FILE:LINE, which the caller knows) and returns
 * -1. None of them allocates.
 */
#ifndef GATE26_CONF_VALUES_H
#define GATE26_CONF_VALUES_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "lib/slice.h"

/* What a value parser found wrong. */
struct conf_why {
    char text[512];
};

/* Formats into w; always returns -1, so that a parser can `return conf_why(...)`. */
int conf_why(struct conf_why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Room for conf_quote(): 80 octets shown, each as up to 4, and "...". */
#define CONF_QUOTE_CAP (80 * 4 + 4)

/*
 * Writes s into dst (capacity at least CONF_QUOTE_CAP) for an error message:
 * printable ASCII stays, other octets become \xHH, and more than 80 octets
 * are cut and marked "...". Returns dst.
 */
const char *conf_quote(char *dst, size_t cap, struct slice s);

/*
 * Domain = sub-domain *("." sub-domain), RFC 5321 4.1.2, at most 255 octets
 * (4.5.3.1.2) and 63 per label (RFC 1035 2.3.4); one trailing dot is
 * dropped. Case is kept. out has capacity CAP_DOMAIN + 1.
 */
int conf_value_domain(struct slice s, char *out, struct conf_why *w);

/* Decimal digits within min..max. */
int conf_value_count(struct slice s, uint64_t min, uint64_t max, uint64_t *out, struct conf_why *w);

/* Octets: digits with an optional K, M or G (any case, powers of 1024), within min..max. */
int conf_value_size(struct slice s, uint64_t min, uint64_t max, uint64_t *out, struct conf_why *w);

/* Seconds: digits with an optional s, m, h or d (lower case), within min..max seconds. */
int conf_value_duration(struct slice s, unsigned min, unsigned max, unsigned *out,
                        struct conf_why *w);

/* A rate: "off", or count "/" duration with the count in 1..max_n and the duration in 1s..1d. */
int conf_value_rate(struct slice s, unsigned max_n, struct conf_rate *out, struct conf_why *w);

/* IPv4:port or [IPv6]:port, numeric only; fills sa, sa_len and the canonical text. */
int conf_value_addr(struct slice s, struct conf_addr *out, struct conf_why *w);

/*
 * An IPv4 or IPv6 network with an optional /prefix (none: a host). Bits past
 * the prefix must be zero. An IPv4-mapped IPv6 network (::ffff:0:0/96 and
 * longer) is stored as the IPv4 network it means.
 */
int conf_value_cidr(struct slice s, struct conf_cidr *out, struct conf_why *w);

/* smtp://host[:port] or smtp://[address or name][:port]; the port defaults to 25. */
int conf_value_route(struct slice s, struct conf_route *out, struct conf_why *w);

/* 1..63 octets of a-z, 0-9, '_', '-', '.'. out has capacity 64. */
int conf_value_user(struct slice s, char *out, struct conf_why *w);

/*
 * A path: absolute as written, or relative to dir (absolute, no trailing
 * slash unless it is "/"). out has capacity CAP_PATH.
 */
int conf_value_path(struct slice s, const char *dir, char *out, struct conf_why *w);

#endif
