/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous DNS on the event loop, through c-ares: MX records (RFC 5321
 * 5.1, RFC 7505 null MX), the A/AAAA addresses of a host, the PTR names
 * of an address (RFC 1035 3.5, RFC 3596 2.5), the TXT records of a name
 * (RFC 1035 3.3.14; SPF, DKIM keys, DMARC) and the A records alone with
 * their TTL (DNS blocklists, RFC 5782). Queries never
 * block the loop: c-ares's sockets are watched by libevent events and its
 * timeouts by one timer, all on the base given to dns_new().
 *
 * TXT and A answers may be kept by TTL (dns_cache_set, off by default).
 *
 * The resolver is the system's (/etc/resolv.conf) or one server given as
 * "ADDR:PORT" ("127.0.0.1:5353", "[::1]:5353"); tests use dnsmasq on loopback.
 *
 * Threads: everything runs on the loop's thread; callbacks too, and never
 * from inside the call that started the query.
 */
#ifndef GATE26_DNS_DNS_H
#define GATE26_DNS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "lib/caps.h"

struct event_base;
struct dns;

/* How a query ended. */
enum dns_status {
    DNS_OK,        /* records found (n >= 1) */
    DNS_NODATA,    /* the name exists but has no record of that type (n == 0) */
    DNS_NXDOMAIN,  /* the name does not exist: a permanent answer */
    DNS_NULLMX,    /* dns_mx only: the domain publishes a null MX (RFC 7505) */
    DNS_TEMPFAIL,  /* SERVFAIL, REFUSED, timeout, no server reachable: try later */
    DNS_CANCELLED, /* dns_free() ran before an answer came */
};

/* "ok", "nodata", "nxdomain", "nullmx", "tempfail", "cancelled". */
const char *dns_status_name(enum dns_status st);

/* One MX record. host has no trailing dot and is lower case. */
struct dns_mx {
    unsigned pref;
    char host[CAP_DOMAIN + 1];
};

/* One address of a host; the port in sa is 0. */
struct dns_addr {
    struct sockaddr_storage sa;
    socklen_t sa_len;
};

/*
 * Creates a resolver on base. server NULL or "": the system's resolvers;
 * else one "ADDR:PORT" (IPv6 in brackets). timeout_ms is per try (c-ares
 * tries each server twice). Returns the resolver (free with dns_free) or
 * NULL with the reason in err (capacity errcap).
 */
struct dns *dns_new(struct event_base *base, const char *server, unsigned timeout_ms, char *err,
                    size_t errcap);

/*
 * Calls every pending callback with DNS_CANCELLED (from inside this call),
 * then frees. Call it before event_base_free(). NULL: nothing.
 */
void dns_free(struct dns *d);

/*
 * Another resolver for d (a reload that changes `resolver`), made ready
 * but not used: server as for dns_new(), the timeout d's. Returns it, or
 * NULL with the reason in err. Then either dns_use() or dns_resolver_free().
 */
struct dns_resolver;
struct dns_resolver *dns_resolver_new(struct dns *d, const char *server, char *err, size_t errcap);

/*
 * From now on d asks r (which d takes over); the queries in flight are
 * answered by the resolver they were asked of, which is freed after the
 * last of them. Cannot fail. Logs the change.
 */
void dns_use(struct dns *d, struct dns_resolver *r);

/* Frees a resolver that dns_use() did not take. NULL: nothing. */
void dns_resolver_free(struct dns_resolver *r);

/*
 * The cache of answers (dns/cache.c): from now on dns_txt() and dns_a()
 * answer a name and type asked before from a copy while its TTL lasts
 * (counted down in the records given; a positive answer at most a day,
 * NODATA and NXDOMAIN 5 minutes, TTL 0 and temporary failures never), with
 * no query; the callback still runs later, from the loop. At most
 * max_entries answers, the least recently used evicted; 0 turns it off
 * (the default). Setting it again empties it. Returns 0, or -1 with errno
 * EINVAL for more than 1048576 entries.
 */
int dns_cache_set(struct dns *d, size_t max_entries);

/* The answers in d's cache now (0 when it is off). */
size_t dns_cache_size(const struct dns *d);

/* Who d asks now: "127.0.0.1:5353", or a description of the system's resolvers. */
const char *dns_server(const struct dns *d);

/*
 * Called once with the answer. On DNS_OK the n records are sorted by
 * preference, records of equal preference in random order (RFC 5321 5.1);
 * records are valid during the call only. why is a short text for logs and
 * bounces ("Host not found", "SERVFAIL from 127.0.0.1:5353", "timeout") on
 * every status but DNS_OK.
 */
typedef void dns_mx_fn(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n,
                       const char *why);

/*
 * Looks up the MX records of domain (no trailing dot needed). A null MX (a
 * single MX record whose host is ".") gives DNS_NULLMX. Returns 0 (fn will
 * be called), or -1 with errno EINVAL for a name that is not a domain
 * (fn will not be called).
 */
int dns_mx(struct dns *d, const char *domain, dns_mx_fn *fn, void *arg);

/*
 * Called once with the addresses of a host: IPv6 and IPv4 together (n >= 1
 * on DNS_OK), valid during the call only. DNS_NODATA: the name exists
 * without A or AAAA.
 */
typedef void dns_addr_fn(void *arg, enum dns_status st, const struct dns_addr *addrs, size_t n,
                         const char *why);

/* Looks up A and AAAA of host. Returns 0, or -1 with errno EINVAL (fn not called). */
int dns_addrs(struct dns *d, const char *host, dns_addr_fn *fn, void *arg);

/* One name of a PTR answer: checked as a host name, lower case, no trailing dot. */
struct dns_name {
    char host[CAP_DOMAIN + 1];
};

/*
 * Called once with the names a PTR lookup gave (n >= 1 on DNS_OK; records
 * whose name is not a host name are left out, and an answer with none
 * left is DNS_NODATA), valid during the call only.
 */
typedef void dns_ptr_fn(void *arg, enum dns_status st, const struct dns_name *names, size_t n,
                        const char *why);

/*
 * Looks up the PTR records of the address in sa (AF_INET or AF_INET6; the
 * port is ignored) under in-addr.arpa or ip6.arpa (RFC 1035 3.5, RFC 3596
 * 2.5). Returns 0 (fn will be called), or -1 with errno EINVAL for another
 * family (fn not called).
 */
int dns_ptr(struct dns *d, const struct sockaddr *sa, dns_ptr_fn *fn, void *arg);

/*
 * One TXT record: its character-strings joined with nothing between them
 * (RFC 7208 3.3, RFC 6376 3.6.2.2), len octets (any octet, NUL too) and a
 * NUL after them; ttl in seconds as the answer gave it.
 */
struct dns_txt {
    const char *text;
    size_t len;
    unsigned ttl;
};

/*
 * Called once with the TXT records of a name (n >= 1 on DNS_OK, at most
 * CAP_DNS_TXT, in the order of the answer), valid during the call only.
 * DNS_NODATA: the name exists without TXT; DNS_NXDOMAIN: it does not.
 */
typedef void dns_txt_fn(void *arg, enum dns_status st, const struct dns_txt *txt, size_t n,
                        const char *why);

/*
 * Looks up the TXT records of name. The name is checked as a domain whose
 * labels may also hold '_' (RFC 8552 underscored names: "_dmarc",
 * "_domainkey") but no other octet outside letters, digits and hyphens.
 * Returns 0 (fn will be called), or -1 with errno EINVAL (fn not called).
 */
int dns_txt(struct dns *d, const char *name, dns_txt_fn *fn, void *arg);

/* One A record with its TTL in seconds. */
struct dns_a {
    struct in_addr addr;
    unsigned ttl;
};

/*
 * Called once with the A records of a name (n >= 1 on DNS_OK, at most
 * CAP_DNS_A), valid during the call only. AAAA is not asked.
 */
typedef void dns_a_fn(void *arg, enum dns_status st, const struct dns_a *a, size_t n,
                      const char *why);

/*
 * Looks up the A records of name (a DNSBL query such as
 * "2.0.0.127.zen.example": the last label may be all digits here, the
 * name is otherwise checked as for dns_txt). Returns 0 (fn will be called),
 * or -1 with errno EINVAL (fn not called).
 */
int dns_a(struct dns *d, const char *name, dns_a_fn *fn, void *arg);

#endif
