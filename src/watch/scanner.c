/* SPDX-License-Identifier: MIT */
/*
 * The scanner part of the watcher (docs/scanners.md): WATCH_SCANNER events
 * go into the scanner table (scanner_table.c), their log lines come out
 * once per source per hour, a source's first Mirai SYN is handed to the
 * blocker (block-scanners), `scanners refuse` is answered for the listener,
 * and `gate26 scanners` gets its JSON document.
 *
 * Log lines are also capped overall (SCANNER_LOG_PER_MINUTE): a flood of
 * spoofed sources is new sources all the time, each due its line; past the
 * cap they are counted and the count is logged once the minute is over.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/caps.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "watch/metrics.h"
#include "watch/scanner.h"
#include "watch/watch_impl.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Scanner log lines (event=scanner, event=scanner-refused) at most, per minute, of all sources. */
#define SCANNER_LOG_PER_MINUTE 120

/* `gate26 scanners --top N`: the most rows of each list a document holds. */
#define SCANNER_TOP_MAX 1000

static const char *const scan_names[] = {"mirai", "plain", "silent", "http",
                                         "tls",   "ssh",   "proxy",  "binary"};
_Static_assert(N_OF(scan_names) == WATCH_SCAN_COUNT, "a scanner kind without a name");

const char *
watch_scan_name(enum watch_scan kind)
{
    return (unsigned)kind < WATCH_SCAN_COUNT ? scan_names[kind] : NULL;
}

void
watch_scanners_init(struct watch *w)
{
    w->scanners = scanner_table_new(CAP_SCANNER_SOURCES, NULL);
}

void
watch_scanners_clear(struct watch *w)
{
    scanner_table_free(w->scanners);
    w->scanners = NULL;
}

void
watch_set_blocker(struct watch *w, watch_block_fn *fn, void *arg)
{
    if (w == NULL)
        return;
    w->blocker = fn;
    w->blocker_arg = arg;
}

static time_t
wall_now(const struct watch *w)
{
    return w->wall != NULL ? w->wall() : time(NULL);
}

enum door_role
watch_scanner_door(const struct watch *w, unsigned port)
{
    const struct conf *c = w->conf;

    for (size_t i = 0; c != NULL && i < c->n_listens; i++) {
        for (size_t k = 0; k < c->listens[i].n_addrs; k++) {
            const struct sockaddr_storage *sa = &c->listens[i].addrs[k].sa;
            unsigned p = sa->ss_family == AF_INET6
                             ? ntohs(((const struct sockaddr_in6 *)sa)->sin6_port)
                             : ntohs(((const struct sockaddr_in *)sa)->sin_port);

            if (p == port)
                return c->listens[i].role;
        }
    }
    return DOOR_ROLE_COUNT;
}

/* True when one more scanner line may be logged now (the overall cap; see the top). */
static bool
log_budget(struct watch *w, time_t now)
{
    time_t minute = now / 60;

    if (minute != w->scan_log_minute) {
        if (w->scan_log_suppressed > 0)
            log_info("-: event=scanner-log-suppressed, lines=%" PRIu64 ", note=\"more than %d "
                     "scanner lines in a minute\"",
                     w->scan_log_suppressed, SCANNER_LOG_PER_MINUTE);
        w->scan_log_minute = minute;
        w->scan_log_lines = 0;
        w->scan_log_suppressed = 0;
    }
    if (w->scan_log_lines >= SCANNER_LOG_PER_MINUTE) {
        w->scan_log_suppressed++;
        return false;
    }
    w->scan_log_lines++;
    return true;
}

static const char *
door_name(enum door_role door)
{
    return (unsigned)door < DOOR_ROLE_COUNT ? conf_role_name(door) : "-";
}

void
watch_scanner_note(struct watch *w, const struct watch_event *ev)
{
    time_t now = wall_now(w);
    char a[INET6_ADDRSTRLEN];
    unsigned got;

    got = scanner_table_note(w->scanners, ev->scan, ev->family, ev->addr, ev->port, now);
    metrics_scanner_sources(scanner_table_sources(w->scanners));
    if (!(got & SCANNER_NOTED))
        return;
    /* Plain SYNs are every client's: a line for them would say nothing. */
    if (ev->scan != WATCH_SCAN_PLAIN &&
        scanner_table_log_due(w->scanners, SCANNER_LOG_SEEN, ev->family, ev->addr, now) &&
        log_budget(w, now) && inet_ntop(ev->family, ev->addr, a, sizeof(a)) != NULL)
        log_info("-: event=scanner, client=[%s], kind=%s, door=%s, port=%u", a,
                 watch_scan_name(ev->scan), door_name(ev->door), ev->port);
    if ((got & SCANNER_FIRST_MIRAI) && w->blocker != NULL && w->conf != NULL &&
        w->conf->watch.block_scanners > 0)
        w->blocker(w->blocker_arg, ev->family, ev->addr, w->conf->watch.block_scanners);
}

bool
watch_scanner_refuse(struct watch *w, const struct conf_listen *door, int family,
                     const unsigned char *addr)
{
    const struct scanner_row *r;
    struct watch_event ev = {.kind = WATCH_CONNECT, .connect = WATCH_CONNECT_SCANNER};
    char a[INET6_ADDRSTRLEN];
    time_t now;

    if (w == NULL || door == NULL || !door->scanners_refuse)
        return false;
    r = scanner_table_find(w->scanners, family, addr);
    if (r == NULL || r->mirai == 0)
        return false;
    ev.door = door->role;
    ev.family = family;
    ev.addr = addr;
    watch_note(w, &ev);
    now = wall_now(w);
    if (scanner_table_log_due(w->scanners, SCANNER_LOG_REFUSED, family, addr, now) &&
        log_budget(w, now) && inet_ntop(family, addr, a, sizeof(a)) != NULL)
        log_info("-: event=scanner-refused, client=[%s], door=%s, mirai=%" PRIu64, a,
                 conf_role_name(door->role), r->mirai);
    return true;
}

/* ---- `gate26 scanners` ---- */

struct rows {
    const struct scanner_row **v;
    size_t n, cap;
};

static void
rows_add(void *arg, const struct scanner_row *r)
{
    struct rows *rs = arg;

    if (rs->n < rs->cap)
        rs->v[rs->n++] = r;
}

static uint64_t
row_sessions(const struct scanner_row *r)
{
    uint64_t n = 0;

    for (size_t k = 0; k < WATCH_SCAN_SESSIONS; k++)
        n += r->sessions[k];
    return n;
}

/* Most Mirai SYNs plus sessions first, then the most recently seen, then by address. */
static int
row_cmp(const void *pa, const void *pb)
{
    const struct scanner_row *a = *(const struct scanner_row *const *)pa;
    const struct scanner_row *b = *(const struct scanner_row *const *)pb;
    uint64_t sa = a->mirai + row_sessions(a), sb = b->mirai + row_sessions(b);

    if (sa != sb)
        return sa > sb ? -1 : 1;
    if (a->last_seen != b->last_seen)
        return a->last_seen > b->last_seen ? -1 : 1;
    if (a->family != b->family)
        return a->family == AF_INET ? -1 : 1;
    return memcmp(a->addr, b->addr, 16);
}

static json_t *
iso_time(time_t t)
{
    struct tm tm;
    char buf[32];

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return json_null();
    return json_string(buf);
}

static json_t *
u64(uint64_t v)
{
    return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *
source_json(const struct scanner_row *r)
{
    char a[INET6_ADDRSTRLEN];
    json_t *o = json_object(), *s = json_object(), *p = json_array();

    if (inet_ntop(r->family, r->addr, a, sizeof(a)) == NULL)
        a[0] = '\0';
    for (size_t k = 0; k < WATCH_SCAN_SESSIONS; k++)
        (void)json_object_set_new(s, scan_names[WATCH_SCAN_SESSION_FIRST + k], u64(r->sessions[k]));
    for (size_t k = 0; k < r->n_ports; k++)
        (void)json_array_append_new(p, json_integer(r->ports[k]));
    (void)json_object_set_new(o, "address", json_string(a));
    (void)json_object_set_new(o, "mirai", u64(r->mirai));
    (void)json_object_set_new(o, "plain", u64(r->plain));
    (void)json_object_set_new(o, "sessions", s);
    (void)json_object_set_new(o, "ports", p);
    (void)json_object_set_new(o, "first_seen", iso_time(r->first_seen));
    (void)json_object_set_new(o, "last_seen", iso_time(r->last_seen));
    return o;
}

/* The source rows in the network of n (their count: the table is small enough to look). */
static uint64_t
sources_in(const struct rows *src, const struct scanner_row *n)
{
    unsigned char net[16];
    uint64_t count = 0;

    for (size_t i = 0; i < src->n; i++) {
        if (src->v[i]->family != n->family)
            continue;
        scanner_network_of(n->family, src->v[i]->addr, net);
        count += memcmp(net, n->addr, 16) == 0;
    }
    return count;
}

static json_t *
network_json(const struct scanner_row *r, const struct rows *src)
{
    char a[INET6_ADDRSTRLEN + 8];
    size_t len;
    json_t *o = json_object();

    if (inet_ntop(r->family, r->addr, a, sizeof(a)) == NULL)
        a[0] = '\0';
    len = strlen(a);
    (void)snprintf(a + len, sizeof(a) - len, "/%d", r->family == AF_INET ? 24 : 64);
    (void)json_object_set_new(o, "network", json_string(a));
    (void)json_object_set_new(o, "mirai", u64(r->mirai));
    (void)json_object_set_new(o, "plain", u64(r->plain));
    (void)json_object_set_new(o, "sessions", u64(row_sessions(r)));
    (void)json_object_set_new(o, "sources", u64(sources_in(src, r)));
    (void)json_object_set_new(o, "first_seen", iso_time(r->first_seen));
    (void)json_object_set_new(o, "last_seen", iso_time(r->last_seen));
    return o;
}

void
watch_set_capture(struct watch *w, watch_capture_fn *fn, void *arg)
{
    if (w == NULL)
        return;
    w->capture = fn;
    w->capture_arg = arg;
}

char *
watch_scanners_json(struct watch *w, size_t top)
{
    const char *capture = w != NULL && w->capture != NULL ? w->capture(w->capture_arg) : NULL;
    struct scanner_table *t = w != NULL ? w->scanners : NULL;
    size_t cap = scanner_table_cap(t);
    struct rows src = {xcalloc(cap + 1, sizeof(*src.v)), 0, cap};
    struct rows net = {xcalloc(cap + 1, sizeof(*net.v)), 0, cap};
    json_t *doc = json_object(), *sa = json_array(), *na = json_array();
    char *out;

    if (top > SCANNER_TOP_MAX)
        top = SCANNER_TOP_MAX;
    scanner_table_each(t, false, rows_add, &src);
    scanner_table_each(t, true, rows_add, &net);
    qsort(src.v, src.n, sizeof(*src.v), row_cmp);
    qsort(net.v, net.n, sizeof(*net.v), row_cmp);
    for (size_t i = 0; i < src.n && i < top; i++)
        (void)json_array_append_new(sa, source_json(src.v[i]));
    for (size_t i = 0; i < net.n && i < top; i++)
        (void)json_array_append_new(na, network_json(net.v[i], &src));
    (void)json_object_set_new(doc, "sources", sa);
    (void)json_object_set_new(doc, "networks", na);
    (void)json_object_set_new(
        doc, "capture", capture != NULL && capture[0] != '\0' ? json_string(capture) : json_null());
    (void)json_object_set_new(doc, "table_size", json_integer((json_int_t)cap));
    (void)json_object_set_new(doc, "sources_now", json_integer((json_int_t)src.n));
    (void)json_object_set_new(doc, "networks_now", json_integer((json_int_t)net.n));
    out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    free(src.v);
    free(net.v);
    return out;
}
