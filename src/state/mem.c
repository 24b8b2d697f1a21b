/* SPDX-License-Identifier: MIT */
/*
 * The memory backend of the shared-state store (state.h): per namespace, a
 * hash table keyed with SipHash-2-4 and a list in order of last use, capped
 * at a number of entries. A new key in a full namespace takes the place of
 * the coldest entry (an expired one when the cold end holds one, else the
 * least recently used). Expired entries are dropped when met: at a read,
 * and two at the cold end at each write.
 *
 * Answers go into a queue that one event drains on the loop's next turn,
 * so a read never calls back from inside state_get(), like a networked
 * backend; the value is copied when the read is made.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/now.h"
#include "lib/siphash.h"
#include "lib/xalloc.h"
#include "state/state.h"

struct mem_entry {
    struct mem_entry *chain;         /* next in the bucket */
    struct mem_entry *newer, *older; /* the use list */
    uint64_t hash;
    uint64_t expires; /* ms, on the store's clock */
    size_t klen, vlen;
    unsigned char data[]; /* key, then value */
};

struct mem_ns {
    struct mem_entry **buckets;
    size_t mask; /* buckets - 1, a power of two */
    size_t n, max;
    struct mem_entry *newest, *oldest;
    uint64_t hits, misses, evicted;
};

struct state_get {
    struct state_get *next, *prev; /* the answer queue */
    state_get_fn *fn;
    void *arg;
    bool found;
    size_t len;
    unsigned char value[STATE_VALUE_MAX];
};

struct mem_store {
    struct state head; /* first: a struct state * is a struct mem_store * */
    struct event *answer_ev;
    struct state_get *first, *last; /* answers waiting for the loop */
    unsigned char seed[16];
    state_clock_fn *clock;
    struct mem_ns ns[STATE_NS_COUNT];
};

static struct mem_store *
mem_of(struct state *st)
{
    return (struct mem_store *)st;
}

static void
mem_check_args(enum state_ns ns, size_t klen)
{
    if ((unsigned)ns >= STATE_NS_COUNT || klen == 0 || klen > STATE_KEY_MAX)
        log_panic("state: namespace %d or key length %zu out of range", (int)ns, klen);
}

static uint64_t
mem_hash(const struct mem_store *m, enum state_ns ns, const void *key, size_t klen)
{
    /* The namespace is part of the hashed input, so equal keys of two kinds spread apart. */
    unsigned char buf[1 + STATE_KEY_MAX];

    buf[0] = (unsigned char)ns;
    memcpy(buf + 1, key, klen);
    return siphash24(m->seed, buf, klen + 1);
}

/* ---- The use list ---- */

static void
list_unlink(struct mem_ns *n, struct mem_entry *e)
{
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        n->newest = e->older;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        n->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void
list_push_newest(struct mem_ns *n, struct mem_entry *e)
{
    e->older = n->newest;
    e->newer = NULL;
    if (n->newest != NULL)
        n->newest->newer = e;
    n->newest = e;
    if (n->oldest == NULL)
        n->oldest = e;
}

/* ---- The table ---- */

static struct mem_entry **
table_slot(struct mem_ns *n, uint64_t hash, const void *key, size_t klen)
{
    struct mem_entry **pp = &n->buckets[hash & n->mask];

    for (; *pp != NULL; pp = &(*pp)->chain) {
        if ((*pp)->hash == hash && (*pp)->klen == klen && memcmp((*pp)->data, key, klen) == 0)
            break;
    }
    return pp;
}

static void
table_remove(struct mem_ns *n, struct mem_entry *e)
{
    struct mem_entry **pp = &n->buckets[e->hash & n->mask];

    while (*pp != e) {
        if (*pp == NULL)
            log_panic("state: entry missing from its bucket");
        pp = &(*pp)->chain;
    }
    *pp = e->chain;
    list_unlink(n, e);
    n->n--;
    free(e);
}

static bool
is_expired(const struct mem_entry *e, uint64_t now)
{
    return e->expires <= now;
}

/* Drops up to two expired entries at the cold end. */
static void
sweep_cold_end(struct mem_ns *n, uint64_t now)
{
    for (int i = 0; i < 2 && n->oldest != NULL && is_expired(n->oldest, now); i++)
        table_remove(n, n->oldest);
}

/* ---- Answers ---- */

static void
answer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mem_store *m = arg;
    struct state_get *g;
    struct state_answer a;

    (void)fd;
    (void)what;
    /* Answers queued by a callback below wait for the next turn, via event_active. */
    while ((g = m->first) != NULL) {
        m->first = g->next;
        if (m->first != NULL)
            m->first->prev = NULL;
        else
            m->last = NULL;
        a.found = g->found;
        a.p = g->value;
        a.len = g->len;
        g->fn(g->arg, &a);
        free(g);
    }
}

static void
answer_queue(struct mem_store *m, struct state_get *g)
{
    bool was_empty = m->first == NULL;

    g->next = NULL;
    g->prev = m->last;
    if (m->last != NULL)
        m->last->next = g;
    else
        m->first = g;
    m->last = g;
    if (was_empty)
        event_active(m->answer_ev, EV_TIMEOUT, 0);
}

/* ---- The operations ---- */

static struct state_get *
mem_get(struct state *st, enum state_ns ns, const void *key, size_t klen, state_get_fn *fn,
        void *arg)
{
    struct mem_store *m = mem_of(st);
    struct mem_ns *n;
    struct mem_entry *e;
    struct state_get *g = xcalloc(1, sizeof *g);
    uint64_t hash;

    mem_check_args(ns, klen);
    n = &m->ns[ns];
    hash = mem_hash(m, ns, key, klen);
    e = *table_slot(n, hash, key, klen);
    if (e != NULL && is_expired(e, m->clock())) {
        table_remove(n, e);
        e = NULL;
    }
    g->fn = fn;
    g->arg = arg;
    if (e != NULL) {
        n->hits++;
        g->found = true;
        g->len = e->vlen;
        memcpy(g->value, e->data + e->klen, e->vlen);
        list_unlink(n, e);
        list_push_newest(n, e);
    } else {
        n->misses++;
    }
    answer_queue(m, g);
    return g;
}

static void
mem_cancel(struct state *st, struct state_get *g)
{
    struct mem_store *m = mem_of(st);

    if (g->prev != NULL)
        g->prev->next = g->next;
    else
        m->first = g->next;
    if (g->next != NULL)
        g->next->prev = g->prev;
    else
        m->last = g->prev;
    free(g);
}

static void
mem_put(struct state *st, enum state_ns ns, const void *key, size_t klen, const void *val,
        size_t vlen, unsigned ttl)
{
    struct mem_store *m = mem_of(st);
    struct mem_ns *n;
    struct mem_entry **pp, *e;
    uint64_t hash, now = m->clock();

    mem_check_args(ns, klen);
    if (vlen > STATE_VALUE_MAX || ttl == 0 || ttl > STATE_TTL_MAX)
        log_panic("state: value length %zu or ttl %u out of range", vlen, ttl);
    n = &m->ns[ns];
    sweep_cold_end(n, now);
    hash = mem_hash(m, ns, key, klen);
    pp = table_slot(n, hash, key, klen);
    if (*pp != NULL)
        table_remove(n, *pp);
    if (n->n >= n->max) {
        if (!is_expired(n->oldest, now))
            n->evicted++;
        table_remove(n, n->oldest);
        pp = table_slot(n, hash, key, klen); /* the removal may have changed the chain */
    }
    e = xmalloc(sizeof *e + klen + vlen);
    e->hash = hash;
    e->expires = now + (uint64_t)ttl * 1000;
    e->klen = klen;
    e->vlen = vlen;
    memcpy(e->data, key, klen);
    if (vlen > 0)
        memcpy(e->data + klen, val, vlen);
    e->chain = NULL;
    *pp = e;
    list_push_newest(n, e);
    n->n++;
}

static void
mem_del(struct state *st, enum state_ns ns, const void *key, size_t klen)
{
    struct mem_store *m = mem_of(st);
    struct mem_entry *e;

    mem_check_args(ns, klen);
    e = *table_slot(&m->ns[ns], mem_hash(m, ns, key, klen), key, klen);
    if (e != NULL)
        table_remove(&m->ns[ns], e);
}

static void
mem_stats(const struct state *st, enum state_ns ns, struct state_stats *out)
{
    const struct mem_store *m = (const struct mem_store *)st;
    const struct mem_ns *n;

    mem_check_args(ns, 1);
    n = &m->ns[ns];
    out->entries = n->n;
    out->max_entries = n->max;
    out->hits = n->hits;
    out->misses = n->misses;
    out->evicted = n->evicted;
}

static void
mem_free(struct state *st)
{
    struct mem_store *m = mem_of(st);
    struct state_get *g;

    while ((g = m->first) != NULL) {
        m->first = g->next;
        free(g);
    }
    for (size_t i = 0; i < STATE_NS_COUNT; i++) {
        struct mem_ns *n = &m->ns[i];

        while (n->oldest != NULL)
            table_remove(n, n->oldest);
        free(n->buckets);
    }
    event_free(m->answer_ev);
    free(m);
}

static const struct state_ops mem_ops = {
    .get = mem_get,
    .cancel = mem_cancel,
    .put = mem_put,
    .del = mem_del,
    .stats = mem_stats,
    .free = mem_free,
};

struct state *
state_mem_new(struct event_base *base, const size_t max_entries[STATE_NS_COUNT],
              const unsigned char seed[16], state_clock_fn *clock)
{
    struct mem_store *m = xcalloc(1, sizeof *m);

    m->head.ops = &mem_ops;
    memcpy(m->seed, seed, sizeof m->seed);
    m->clock = clock != NULL ? clock : now_ms;
    m->answer_ev = event_new(base, -1, 0, answer_cb, m);
    if (m->answer_ev == NULL)
        log_panic("state: event_new failed");
    for (size_t i = 0; i < STATE_NS_COUNT; i++) {
        struct mem_ns *n = &m->ns[i];
        size_t buckets = 16;

        n->max = max_entries[i] > 0 ? max_entries[i] : 1;
        /* About one entry a bucket when full. */
        while (buckets < n->max && buckets < ((size_t)1 << 24))
            buckets <<= 1;
        n->buckets = xcalloc(buckets, sizeof *n->buckets);
        n->mask = buckets - 1;
    }
    return &m->head;
}
