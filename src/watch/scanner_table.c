/* SPDX-License-Identifier: MIT */
/*
 * The scanner table (scanner.h): two fixed arrays of rows (sources,
 * networks), each with a hash index and a list from most to least recently
 * seen. Rows are linked by index (+1, 0 for none), so that the whole table
 * is three allocations made once.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/siphash.h"
#include "lib/xalloc.h"
#include "watch/scanner.h"

struct slot {
    struct scanner_row row;
    uint64_t hash;
    uint32_t chain;      /* next in the bucket (index + 1) */
    uint32_t prev, next; /* the recency list: prev is more recent (index + 1) */
};

struct tab {
    struct slot *slots;
    uint32_t *buckets; /* index + 1 of the first slot of each bucket */
    size_t n_buckets;  /* a power of two */
    size_t used;
    uint32_t head, tail; /* most and least recently seen (index + 1) */
};

struct scanner_table {
    size_t max;
    unsigned char seed[16];
    struct tab src, net;
};

#define AT(t, i) (&(t)->slots[(i)-1])

static bool
family_ok(int family)
{
    return family == AF_INET || family == AF_INET6;
}

static size_t
addr_len(int family)
{
    return family == AF_INET ? 4 : 16;
}

void
scanner_network_of(int family, const unsigned char *addr, unsigned char out[16])
{
    memset(out, 0, 16);
    if (family == AF_INET)
        memcpy(out, addr, 3); /* /24 */
    else
        memcpy(out, addr, 8); /* /64: one client commonly holds a whole one */
}

static uint64_t
hash_of(const struct scanner_table *t, int family, const unsigned char *addr)
{
    unsigned char k[17];

    k[0] = family == AF_INET ? 4 : 6;
    memcpy(k + 1, addr, addr_len(family));
    return siphash24(t->seed, k, 1 + addr_len(family));
}

static void
tab_init(struct tab *tab, size_t max)
{
    size_t nb = 1;

    while (nb < 2 * max)
        nb <<= 1;
    tab->slots = xcalloc(max, sizeof(*tab->slots));
    tab->buckets = xcalloc(nb, sizeof(*tab->buckets));
    tab->n_buckets = nb;
}

struct scanner_table *
scanner_table_new(size_t max, const unsigned char *seed)
{
    struct scanner_table *t = xcalloc(1, sizeof(*t));

    if (max < 1)
        max = 1;
    if (max > UINT32_MAX / 2)
        max = UINT32_MAX / 2;
    t->max = max;
    if (seed != NULL) {
        memcpy(t->seed, seed, 16);
    } else if (getrandom(t->seed, 16, GRND_NONBLOCK) != 16) {
        struct timespec ts;

        /* Before the kernel's pool is ready: weaker, but not predictable from outside. */
        (void)clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(t->seed, &ts, 16 < sizeof ts ? 16 : sizeof ts);
        t->seed[0] ^= (unsigned char)getpid();
    }
    tab_init(&t->src, max);
    tab_init(&t->net, max);
    return t;
}

void
scanner_table_free(struct scanner_table *t)
{
    if (t == NULL)
        return;
    free(t->src.slots);
    free(t->src.buckets);
    free(t->net.slots);
    free(t->net.buckets);
    free(t);
}

static uint32_t
tab_lookup(const struct tab *tab, uint64_t hash, int family, const unsigned char *addr)
{
    uint32_t i = tab->buckets[hash & (tab->n_buckets - 1)];

    while (i != 0) {
        const struct slot *s = AT(tab, i);

        if (s->hash == hash && s->row.family == family &&
            memcmp(s->row.addr, addr, addr_len(family)) == 0)
            return i;
        i = s->chain;
    }
    return 0;
}

static void
list_unlink(struct tab *tab, uint32_t i)
{
    struct slot *s = AT(tab, i);

    if (s->prev != 0)
        AT(tab, s->prev)->next = s->next;
    else
        tab->head = s->next;
    if (s->next != 0)
        AT(tab, s->next)->prev = s->prev;
    else
        tab->tail = s->prev;
    s->prev = s->next = 0;
}

static void
list_push_front(struct tab *tab, uint32_t i)
{
    struct slot *s = AT(tab, i);

    s->prev = 0;
    s->next = tab->head;
    if (tab->head != 0)
        AT(tab, tab->head)->prev = i;
    tab->head = i;
    if (tab->tail == 0)
        tab->tail = i;
}

static void
bucket_unlink(struct tab *tab, uint32_t i)
{
    uint32_t *p = &tab->buckets[AT(tab, i)->hash & (tab->n_buckets - 1)];

    while (*p != 0 && *p != i)
        p = &AT(tab, *p)->chain;
    if (*p == i)
        *p = AT(tab, i)->chain;
}

/* The row of (family, addr), seen now: found and moved to the front, or made (evicting). */
static struct scanner_row *
tab_get(struct tab *tab, size_t max, uint64_t hash, int family, const unsigned char *addr,
        bool create, time_t now)
{
    uint32_t i = tab_lookup(tab, hash, family, addr);
    struct slot *s;

    if (i != 0) {
        list_unlink(tab, i);
        list_push_front(tab, i);
        s = AT(tab, i);
        s->row.last_seen = now;
        return &s->row;
    }
    if (!create)
        return NULL;
    if (tab->used < max) {
        i = (uint32_t)++tab->used;
    } else {
        /* Full: the least recently seen row makes room. */
        i = tab->tail;
        list_unlink(tab, i);
        bucket_unlink(tab, i);
    }
    s = AT(tab, i);
    memset(s, 0, sizeof(*s));
    s->hash = hash;
    s->row.family = family;
    memcpy(s->row.addr, addr, addr_len(family));
    s->row.first_seen = s->row.last_seen = now;
    s->chain = tab->buckets[hash & (tab->n_buckets - 1)];
    tab->buckets[hash & (tab->n_buckets - 1)] = i;
    list_push_front(tab, i);
    return &s->row;
}

static void
row_count(struct scanner_row *r, enum watch_scan kind, unsigned port)
{
    if (kind == WATCH_SCAN_MIRAI)
        r->mirai++;
    else if (kind == WATCH_SCAN_PLAIN)
        r->plain++;
    else
        r->sessions[kind - WATCH_SCAN_SESSION_FIRST]++;
    if (port == 0 || port > 65535)
        return;
    for (size_t i = 0; i < r->n_ports; i++) {
        if (r->ports[i] == port)
            return;
    }
    if (r->n_ports < SCANNER_PORTS)
        r->ports[r->n_ports++] = (uint16_t)port;
}

unsigned
scanner_table_note(struct scanner_table *t, enum watch_scan kind, int family,
                   const unsigned char *addr, unsigned port, time_t now)
{
    unsigned char net[16];
    struct scanner_row *r, *n;
    bool first_mirai;

    if (t == NULL || addr == NULL || !family_ok(family) || (unsigned)kind >= WATCH_SCAN_COUNT)
        return 0;
    /* A plain SYN alone is every client's: it counts only for a source already in the table. */
    r = tab_get(&t->src, t->max, hash_of(t, family, addr), family, addr, kind != WATCH_SCAN_PLAIN,
                now);
    if (r == NULL)
        return 0;
    first_mirai = kind == WATCH_SCAN_MIRAI && r->mirai == 0;
    row_count(r, kind, port);
    scanner_network_of(family, addr, net);
    n = tab_get(&t->net, t->max, hash_of(t, family, net), family, net, true, now);
    row_count(n, kind, port);
    return SCANNER_NOTED | (first_mirai ? SCANNER_FIRST_MIRAI : 0);
}

const struct scanner_row *
scanner_table_find(const struct scanner_table *t, int family, const unsigned char *addr)
{
    uint32_t i;

    if (t == NULL || addr == NULL || !family_ok(family))
        return NULL;
    i = tab_lookup(&t->src, hash_of(t, family, addr), family, addr);
    return i != 0 ? &AT(&t->src, i)->row : NULL;
}

bool
scanner_table_log_due(struct scanner_table *t, enum scanner_log what, int family,
                      const unsigned char *addr, time_t now)
{
    struct scanner_row *r = (struct scanner_row *)scanner_table_find(t, family, addr);

    if (r == NULL || (unsigned)what >= SCANNER_LOG_COUNT)
        return false;
    /* A clock set back counts as due: a line too many rather than a silent hour. */
    if (r->logged[what] != 0 && now >= r->logged[what] && now - r->logged[what] < SCANNER_LOG_EVERY)
        return false;
    r->logged[what] = now;
    return true;
}

size_t
scanner_table_sources(const struct scanner_table *t)
{
    return t != NULL ? t->src.used : 0;
}

size_t
scanner_table_networks(const struct scanner_table *t)
{
    return t != NULL ? t->net.used : 0;
}

size_t
scanner_table_cap(const struct scanner_table *t)
{
    return t != NULL ? t->max : 0;
}

void
scanner_table_each(const struct scanner_table *t, bool networks, scanner_row_fn *fn, void *arg)
{
    const struct tab *tab;

    if (t == NULL)
        return;
    tab = networks ? &t->net : &t->src;
    for (size_t i = 0; i < tab->used; i++)
        fn(arg, &tab->slots[i].row);
}
