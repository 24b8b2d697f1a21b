/* SPDX-License-Identifier: MIT */
/*
 * The c-ares channel on the libevent loop: see dns.h. c-ares tells us which
 * sockets it wants watched through its socket-state callback, and we keep
 * one persistent event per socket with the read and write interest it asked
 * for; readiness runs ares_process_fd(). One timer follows ares_timeout()
 * and is re-armed after every processing and every new query.
 *
 * Each query is in d->queries until its callback has run, and every answer
 * is delivered from the query's own active event (see dns_impl.h). dns_free()
 * destroys the channels, which hands ARES_EDESTRUCTION to what c-ares still
 * holds, and then reports every query of the list as DNS_CANCELLED.
 *
 * A reload that changes the resolver cannot change a live channel: c-ares
 * 1.18 refuses ares_set_servers*() while queries are outstanding, and the
 * options differ between one given server and the system's. So a new
 * channel takes the new queries (dns_use) and the old one, retired, answers
 * those it has and is destroyed after the last of them, from the loop.
 *
 * Names are absolute: no search domains, no HOSTALIASES. With a server
 * given, only DNS is asked (not /etc/hosts). Timeouts: c-ares tries the one
 * server twice and doubles the timeout for the second try, so a silent
 * server costs about 3 * timeout_ms in all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "dns/dns_impl.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "watch/metrics.h"

/* c-ares asks each server this many times (RFC 1035 4.2.1 leaves it to us). */
#define DNS_TRIES 2
/* Beyond this a per-try timeout is a configuration mistake; it also keeps
 * c-ares's doubling of it far from overflow. */
#define DNS_TIMEOUT_MAX_MS 600000u

/* One socket c-ares asked us to watch. */
struct dns_sock {
    struct dns_sock *next;
    ares_socket_t fd;
    struct event *ev;
};

const char *
dns_status_name(enum dns_status st)
{
    switch (st) {
    case DNS_OK:
        return "ok";
    case DNS_NODATA:
        return "nodata";
    case DNS_NXDOMAIN:
        return "nxdomain";
    case DNS_NULLMX:
        return "nullmx";
    case DNS_TEMPFAIL:
        return "tempfail";
    case DNS_CANCELLED:
        return "cancelled";
    }
    log_panic("dns: unknown status %d", (int)st);
}

static void
dns_arm_timer(struct dns_resolver *ch)
{
    struct timeval buf;
    struct timeval *tv = ares_timeout(ch->channel, NULL, &buf);

    if (tv == NULL) {
        (void)evtimer_del(ch->timer);
        return;
    }
    if (evtimer_add(ch->timer, tv) == -1)
        log_panic("dns: evtimer_add failed");
}

static void
dns_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dns_resolver *ch = arg;

    (void)fd;
    (void)what;
    ares_process_fd(ch->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    dns_arm_timer(ch);
}

/* The socket's event may be freed inside ares_process_fd() (c-ares closes
 * it): libevent allows that, and nothing here touches it afterwards. */
static void
dns_sock_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dns_resolver *ch = arg;

    ares_process_fd(ch->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
                    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
    dns_arm_timer(ch);
}

/* c-ares's socket-state callback: watch fd for what it asks, or stop. */
static void
dns_sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    struct dns_resolver *ch = data;
    struct dns_sock **pp = &ch->socks;
    struct dns_sock *s;
    short what;

    while (*pp != NULL && (*pp)->fd != fd)
        pp = &(*pp)->next;
    s = *pp;
    if (s != NULL) {
        event_free(s->ev);
        s->ev = NULL;
    }
    if (!readable && !writable) {
        if (s != NULL) {
            *pp = s->next;
            free(s);
        }
        return;
    }
    if (s == NULL) {
        s = xcalloc(1, sizeof(*s));
        s->fd = fd;
        s->next = ch->socks;
        ch->socks = s;
    }
    what = (short)(EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
    s->ev = event_new(ch->base, fd, what, dns_sock_cb, ch);
    if (s->ev == NULL || event_add(s->ev, NULL) == -1)
        log_panic("dns: cannot watch socket %d", (int)fd);
}

/* Describes the servers c-ares will ask, for the why texts; counts them. */
static void
dns_describe_servers(struct dns_resolver *ch)
{
    struct ares_addr_port_node *list = NULL;
    char addr[INET6_ADDRSTRLEN] = "?";

    ch->nservers = 0;
    if (ares_get_servers_ports(ch->channel, &list) != ARES_SUCCESS || list == NULL) {
        (void)str_copyz(ch->server, sizeof(ch->server), "the system's resolvers");
        if (list != NULL)
            ares_free_data(list);
        return;
    }
    for (const struct ares_addr_port_node *p = list; p != NULL; p = p->next)
        ch->nservers++;
    (void)inet_ntop(list->family, &list->addr, addr, sizeof(addr));
    if (str_fmt(ch->server, sizeof(ch->server), list->family == AF_INET6 ? "[%s]:%d%s" : "%s:%d%s",
                addr, list->udp_port != 0 ? list->udp_port : 53,
                ch->nservers > 1 ? " (or another of the system's resolvers)" : "") == -1)
        (void)str_copyz(ch->server, sizeof(ch->server), "the system's resolvers");
    ares_free_data(list);
}

/*
 * Makes d->channel. server: the canonical "ADDR:PORT", or NULL for the
 * system's resolvers. Returns an ARES_ status.
 *
 * c-ares 1.18 moves on to the next try when a server answers SERVFAIL,
 * REFUSED or NOTIMP, and once the tries are used up it reports
 * ARES_ECONNREFUSED, so the answer's code is lost. With a single server
 * nothing is gained by asking it again, and ARES_FLAG_NOCHECKRESP hands us
 * the answer itself (ares_query then maps its code to ARES_ESERVFAIL...).
 * With several system resolvers the next one may do better, so there the
 * checks stay and the why text says what ARES_ECONNREFUSED may stand for.
 */
static int
dns_channel_init(struct dns_resolver *ch, const char *server, unsigned timeout_ms, bool nocheck)
{
    struct ares_options opt;
    char lookups[] = "b";
    int mask;
    int rc;

    memset(&opt, 0, sizeof(opt));
    /* Names are absolute (a domain from an address, a host from an MX
     * record): no search list and no HOSTALIASES file may rewrite them. */
    opt.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | (nocheck ? ARES_FLAG_NOCHECKRESP : 0);
    opt.timeout = (int)timeout_ms;
    opt.tries = DNS_TRIES;
    opt.ndomains = 0;
    opt.domains = NULL;
    opt.sock_state_cb = dns_sock_state_cb;
    opt.sock_state_cb_data = ch;
    mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_DOMAINS |
           ARES_OPT_SOCK_STATE_CB;
    if (server != NULL) {
        /* The server given answers alone: /etc/hosts is not consulted. */
        opt.lookups = lookups;
        mask |= ARES_OPT_LOOKUPS;
    }
    rc = ares_init_options(&ch->channel, &opt, mask);
    if (rc != ARES_SUCCESS)
        return rc;
    if (server != NULL) {
        rc = ares_set_servers_ports_csv(ch->channel, server);
        if (rc != ARES_SUCCESS) {
            ares_destroy(ch->channel);
            return rc;
        }
    }
    ch->checks_rcode = !nocheck;
    dns_describe_servers(ch);
    return ARES_SUCCESS;
}

/* A channel for server (see dns_new) on base, not in use yet; NULL with err. */
static struct dns_resolver *
dns_resolver_make(struct event_base *base, const char *server, unsigned timeout_ms, char *err,
                  size_t errcap)
{
    char canon[DNS_SERVER_CAP];
    bool given = server != NULL && server[0] != '\0';
    struct dns_resolver *ch;
    int rc;

    if (given && dns_server_parse(server, canon, sizeof(canon), err, errcap) == -1)
        return NULL;
    ch = xcalloc(1, sizeof(*ch));
    ch->base = base;
    rc = dns_channel_init(ch, given ? canon : NULL, timeout_ms, given);
    if (rc == ARES_SUCCESS && !given && ch->nservers <= 1) {
        /* One system resolver: again, with the answers' codes (see above). */
        ares_destroy(ch->channel);
        rc = dns_channel_init(ch, NULL, timeout_ms, true);
    }
    if (rc != ARES_SUCCESS) {
        if (given)
            (void)str_fmt(err, errcap, "dns server %s: %s", canon, ares_strerror(rc));
        else
            (void)str_fmt(err, errcap, "c-ares: %s", ares_strerror(rc));
        free(ch);
        return NULL;
    }
    ch->timer = evtimer_new(base, dns_timer_cb, ch);
    if (ch->timer == NULL)
        log_panic("dns: evtimer_new failed");
    return ch;
}

/* Destroys ch's channel (its queries, if any, are told ARES_EDESTRUCTION) and frees it. */
static void
dns_resolver_destroy(struct dns_resolver *ch)
{
    if (ch == NULL)
        return;
    /* c-ares closes its sockets through dns_sock_state_cb, which still finds ch. */
    ares_destroy(ch->channel);
    while (ch->socks != NULL) {
        struct dns_sock *s = ch->socks;

        ch->socks = s->next;
        event_free(s->ev);
        free(s);
    }
    event_free(ch->timer);
    free(ch);
}

struct dns *
dns_new(struct event_base *base, const char *server, unsigned timeout_ms, char *err, size_t errcap)
{
    struct dns *d;
    int rc;

    if (timeout_ms == 0 || timeout_ms > DNS_TIMEOUT_MAX_MS) {
        (void)str_fmt(err, errcap, "dns timeout: expected 1..%u ms, got %u", DNS_TIMEOUT_MAX_MS,
                      timeout_ms);
        return NULL;
    }
    rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        (void)str_fmt(err, errcap, "c-ares: %s", ares_strerror(rc));
        return NULL;
    }
    d = xcalloc(1, sizeof(*d));
    d->base = base;
    d->timeout_ms = timeout_ms;
    d->chan = dns_resolver_make(base, server, timeout_ms, err, errcap);
    if (d->chan == NULL) {
        free(d);
        ares_library_cleanup();
        return NULL;
    }
    d->chan->d = d;
    log_debug("-: event=dns-start, server=\"%s\", servers=%zu, timeout_ms=%u, tries=%d",
              d->chan->server, d->chan->nservers, timeout_ms, DNS_TRIES);
    return d;
}

struct dns_resolver *
dns_resolver_new(struct dns *d, const char *server, char *err, size_t errcap)
{
    return dns_resolver_make(d->base, server, d->timeout_ms, err, errcap);
}

void
dns_resolver_free(struct dns_resolver *r)
{
    dns_resolver_destroy(r);
}

void
dns_use(struct dns *d, struct dns_resolver *r)
{
    struct dns_resolver *ch = r, *old = d->chan;

    ch->d = d;
    d->chan = ch;
    log_info("-: event=resolver, server=\"%s\", was=\"%s\", in_flight=%zu", ch->server, old->server,
             old->queries);
    /* Another server may answer otherwise: what the old one said is forgotten. */
    dns_cache_clear(d->cache);
    if (old->queries == 0) {
        dns_resolver_destroy(old);
        return;
    }
    /* Its queries are answered there; dns_done_cb frees it after the last. */
    old->next = d->retired;
    d->retired = old;
}

int
dns_cache_set(struct dns *d, size_t max_entries)
{
    if (max_entries > DNS_CACHE_ENTRIES_MAX) {
        errno = EINVAL;
        return -1;
    }
    dns_cache_free(d->cache);
    d->cache = max_entries == 0 ? NULL : dns_cache_new(max_entries);
    return 0;
}

size_t
dns_cache_size(const struct dns *d)
{
    return dns_cache_count(d->cache);
}

/* Milliseconds of the monotonic clock, for the cache's TTLs. */
static uint64_t
dns_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
        log_panic("dns: clock_gettime(CLOCK_MONOTONIC) failed");
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool
dns_query_cached(struct dns_query *q)
{
    char why[DNS_WHY_CAP];

    if (q->d->cache == NULL)
        return false;
    if (!dns_cache_get(q->d->cache, q, dns_now_ms())) {
        metrics_dns_cache(METRICS_DNS_CACHE_MISS);
        return false;
    }
    metrics_dns_cache(METRICS_DNS_CACHE_HIT);
    q->cached = true;
    (void)str_copyz(why, sizeof(why), q->why);
    dns_query_answer(q, q->st, why);
    return true;
}

const char *
dns_server(const struct dns *d)
{
    return d->chan->server;
}

static void
dns_query_free(struct dns_query *q)
{
    event_free(q->done);
    free(q->mx);
    free(q->addrs);
    free(q->names);
    free(q->txt);
    free(q->txtbuf);
    free(q->a);
    free(q);
}

/* The record type of a query, for debug lines. */
static const char *
dns_kind_name(enum dns_kind k)
{
    switch (k) {
    case DNS_KIND_MX:
        return "MX";
    case DNS_KIND_ADDRS:
        return "A/AAAA";
    case DNS_KIND_PTR:
        return "PTR";
    case DNS_KIND_TXT:
        return "TXT";
    case DNS_KIND_A:
        return "A";
    }
    return "?";
}

/* A retired channel whose last query has been answered goes. */
static void
dns_resolver_answered(struct dns *d, struct dns_resolver *ch)
{
    if (ch->queries == 0)
        log_panic("dns: channel answered more queries than it was asked");
    if (--ch->queries > 0 || ch == d->chan)
        return;
    for (struct dns_resolver **pp = &d->retired; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == ch) {
            *pp = ch->next;
            dns_resolver_destroy(ch);
            return;
        }
    }
    log_panic("dns: a channel neither current nor retired");
}

static void
dns_unlink(struct dns_query *q)
{
    struct dns *d = q->d;

    if (q->prev != NULL)
        q->prev->next = q->next;
    else
        d->queries = q->next;
    if (q->next != NULL)
        q->next->prev = q->prev;
    q->prev = q->next = NULL;
}

static void
dns_call(struct dns_query *q)
{
    /* On DNS_OK why is "" (never NULL, so that a caller may log it). */
    const char *why = q->st == DNS_OK ? "" : q->why;

    if (q->kind == DNS_KIND_MX)
        q->mx_fn(q->arg, q->st, q->mx, q->n, why);
    else if (q->kind == DNS_KIND_PTR)
        q->ptr_fn(q->arg, q->st, q->names, q->n, why);
    else if (q->kind == DNS_KIND_TXT)
        q->txt_fn(q->arg, q->st, q->txt, q->n, why);
    else if (q->kind == DNS_KIND_A)
        q->a_fn(q->arg, q->st, q->a, q->n, why);
    else
        q->addr_fn(q->arg, q->st, q->addrs, q->n, why);
}

/* gate26_dns_lookups_total{result}: an answer that came (not one cancelled by dns_free). */
static void
dns_count(enum dns_status st)
{
    static const enum metrics_dns results[] = {
        [DNS_OK] = METRICS_DNS_OK,
        [DNS_NODATA] = METRICS_DNS_NODATA,
        [DNS_NXDOMAIN] = METRICS_DNS_NXDOMAIN,
        [DNS_NULLMX] = METRICS_DNS_NULLMX,
        [DNS_TEMPFAIL] = METRICS_DNS_TEMPFAIL,
    };

    if (st != DNS_CANCELLED && (size_t)st < sizeof(results) / sizeof(results[0]))
        metrics_dns_lookup(results[st]);
}

/*
 * The query's answer, from the loop. The query leaves the list before the
 * callback runs, so that a dns_free() inside the callback does not report
 * it again; it is freed when the callback returns (its event may be freed
 * from its own callback).
 */
static void
dns_done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dns_query *q = arg;

    (void)fd;
    (void)what;
    dns_unlink(q);
    /* From the loop, outside c-ares: a retired channel may be destroyed here. */
    dns_resolver_answered(q->d, q->chan);
    log_debug("-: event=dns-answer, type=%s, name=%s, status=%s, records=%zu, why=\"%s\"%s",
              dns_kind_name(q->kind), q->name, dns_status_name(q->st), q->n, q->why,
              q->cached ? ", cached=yes" : "");
    if (!q->cached) {
        dns_count(q->st);
        (void)dns_cache_put(q->d->cache, q, dns_now_ms());
    }
    dns_call(q);
    dns_query_free(q);
}

struct dns_query *
dns_query_new(struct dns *d, enum dns_kind kind, const char *name, size_t len, void *arg)
{
    struct dns_query *q;

    if (d->freeing)
        log_panic("dns: a query started from a callback inside dns_free()");
    q = xcalloc(1, sizeof(*q));
    q->d = d;
    q->chan = d->chan;
    q->chan->queries++;
    q->kind = kind;
    q->arg = arg;
    if (str_copy(q->name, sizeof(q->name), name, len) == -1)
        log_panic("dns: name of %zu octets passed the check", len);
    str_lower(q->name, len);
    q->done = event_new(d->base, -1, 0, dns_done_cb, q);
    if (q->done == NULL)
        log_panic("dns: event_new failed");
    q->next = d->queries;
    if (d->queries != NULL)
        d->queries->prev = q;
    d->queries = q;
    return q;
}

void
dns_started(struct dns_query *q)
{
    dns_arm_timer(q->chan);
}

void
dns_query_answer(struct dns_query *q, enum dns_status st, const char *why)
{
    if (q->answered)
        log_panic("dns: query for %s answered twice", q->name);
    q->answered = true;
    q->st = st;
    (void)str_copyz(q->why, sizeof(q->why), why != NULL ? why : "");
    event_active(q->done, EV_TIMEOUT, 0);
}

bool
dns_query_from_ares(struct dns_query *q, int status)
{
    return status == ARES_EDESTRUCTION && q->d->freeing;
}

bool
dns_query_unanswered(struct dns_query *q, int status, const char *nodata_why,
                     const char *nxdomain_why)
{
    switch (status) {
    case ARES_SUCCESS:
        return false;
    case ARES_ENODATA:
        dns_query_answer(q, DNS_NODATA, nodata_why);
        break;
    case ARES_ENOTFOUND:
        dns_query_answer(q, DNS_NXDOMAIN,
                         nxdomain_why != NULL ? nxdomain_why : "Host or domain name not found");
        break;
    default:
        dns_query_fail(q, status);
        break;
    }
    return true;
}

void
dns_query_fail(struct dns_query *q, int status)
{
    char why[DNS_WHY_CAP];
    const char *srv = q->chan->server;

    switch (status) {
    case ARES_ESERVFAIL:
        (void)str_fmt(why, sizeof(why), "SERVFAIL from %s", srv);
        break;
    case ARES_EREFUSED:
        (void)str_fmt(why, sizeof(why), "REFUSED from %s", srv);
        break;
    case ARES_ENOTIMP:
        (void)str_fmt(why, sizeof(why), "NOTIMP from %s", srv);
        break;
    case ARES_EFORMERR:
        (void)str_fmt(why, sizeof(why), "FORMERR from %s", srv);
        break;
    case ARES_ETIMEOUT:
        (void)str_fmt(why, sizeof(why), "timeout asking %s", srv);
        break;
    case ARES_ECONNREFUSED:
        if (q->chan->checks_rcode)
            (void)str_fmt(why, sizeof(why),
                          "no usable answer from %s (connection refused, SERVFAIL or REFUSED)",
                          srv);
        else
            (void)str_fmt(why, sizeof(why), "connection refused by %s", srv);
        break;
    case ARES_EBADRESP:
        (void)str_fmt(why, sizeof(why), "bad response from %s", srv);
        break;
    case ARES_EOF:
        (void)str_fmt(why, sizeof(why), "connection closed by %s", srv);
        break;
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED:
        dns_query_answer(q, DNS_CANCELLED, "cancelled");
        return;
    default:
        (void)str_fmt(why, sizeof(why), "resolver: %s", ares_strerror(status));
        break;
    }
    dns_query_answer(q, DNS_TEMPFAIL, why);
}

void
dns_free(struct dns *d)
{
    if (d == NULL)
        return;
    if (d->freeing)
        log_panic("dns: dns_free() called from a callback inside dns_free()");
    d->freeing = true;
    /* c-ares calls back each query it holds with ARES_EDESTRUCTION (they
     * stay in the list) and closes its sockets through dns_sock_state_cb. */
    dns_resolver_destroy(d->chan);
    while (d->retired != NULL) {
        struct dns_resolver *ch = d->retired;

        d->retired = ch->next;
        dns_resolver_destroy(ch);
    }
    while (d->queries != NULL) {
        struct dns_query *q = d->queries;

        dns_unlink(q);
        /* Called back by c-ares or not, the query is ours alone now. */
        free(q->mx);
        free(q->addrs);
        free(q->names);
        free(q->txt);
        free(q->txtbuf);
        free(q->a);
        q->txt = NULL;
        q->txtbuf = NULL;
        q->a = NULL;
        q->mx = NULL;
        q->addrs = NULL;
        q->names = NULL;
        q->n = 0;
        q->st = DNS_CANCELLED;
        (void)str_copyz(q->why, sizeof(q->why), "cancelled");
        log_debug("-: event=dns-answer, type=%s, name=%s, status=cancelled", dns_kind_name(q->kind),
                  q->name);
        dns_call(q);
        dns_query_free(q);
    }
    dns_cache_free(d->cache);
    free(d);
    ares_library_cleanup();
}
