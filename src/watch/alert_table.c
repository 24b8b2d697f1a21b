/* SPDX-License-Identifier: MIT */
/*
 * The keys of one alert rule: see alert_table.h. A bucket array of chains
 * (keyed SipHash) over at most max entries, each entry also on one of two
 * lists: quiet (most recently seen first; the cold end is evicted) and
 * active (a queue: the tick looks at its front and moves it to the back).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/siphash.h"
#include "lib/xalloc.h"
#include "watch/alert_table.h"

struct list_ends {
    struct alert_entry *head, *tail;
};

struct alert_table {
    struct alert_entry **buckets;
    size_t mask; /* buckets - 1 (a power of two) */
    size_t n, max, n_active;
    uint64_t window_ms, slot_ms, tau_ms;
    unsigned char seed[16];
    struct list_ends quiet, active;
    alert_evict_fn *on_evict;
    void *evict_arg;
    uint64_t evicted, evicted_active;
};

/* ---- Lists ---- */

static struct list_ends *
list_of(struct alert_table *t, const struct alert_entry *e)
{
    return e->active ? &t->active : &t->quiet;
}

static void
list_unlink(struct alert_table *t, struct alert_entry *e)
{
    struct list_ends *l = list_of(t, e);

    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
}

static void
list_push_head(struct list_ends *l, struct alert_entry *e)
{
    e->prev = NULL;
    e->next = l->head;
    if (l->head != NULL)
        l->head->prev = e;
    else
        l->tail = e;
    l->head = e;
}

static void
list_push_tail(struct list_ends *l, struct alert_entry *e)
{
    e->next = NULL;
    e->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
}

void
alert_table_set_active(struct alert_table *t, struct alert_entry *e, bool active)
{
    if (e->active == active)
        return;
    list_unlink(t, e);
    e->active = active;
    if (active) {
        list_push_tail(&t->active, e);
        t->n_active++;
    } else {
        list_push_head(&t->quiet, e);
        t->n_active--;
    }
}

/* ---- The table ---- */

struct alert_table *
alert_table_new(size_t max, uint64_t window_ms, uint64_t tau_ms, const unsigned char seed[16])
{
    struct alert_table *t = xcalloc(1, sizeof(*t));
    size_t nb = 1;

    if (max == 0)
        max = 1;
    if (window_ms < ALERT_SLOTS)
        window_ms = ALERT_SLOTS;
    while (nb < max && nb < ((size_t)1 << 24))
        nb <<= 1;
    t->buckets = xcalloc(nb, sizeof(*t->buckets));
    t->mask = nb - 1;
    t->max = max;
    t->window_ms = window_ms;
    t->slot_ms = window_ms / ALERT_SLOTS;
    t->tau_ms = tau_ms;
    memcpy(t->seed, seed, sizeof(t->seed));
    return t;
}

void
alert_table_free(struct alert_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i <= t->mask; i++) {
        while (t->buckets[i] != NULL) {
            struct alert_entry *e = t->buckets[i];

            t->buckets[i] = e->chain;
            free(e);
        }
    }
    free(t->buckets);
    free(t);
}

void
alert_table_on_evict(struct alert_table *t, alert_evict_fn *fn, void *arg)
{
    t->on_evict = fn;
    t->evict_arg = arg;
}

void
alert_table_stats(const struct alert_table *t, struct alert_table_stats *out)
{
    out->entries = t->n;
    out->max = t->max;
    out->active = t->n_active;
    out->evicted = t->evicted;
    out->evicted_active = t->evicted_active;
}

static uint64_t
key_hash(const struct alert_table *t, const unsigned char *key, size_t len)
{
    return siphash24(t->seed, key, len);
}

struct alert_entry *
alert_table_peek(const struct alert_table *t, const unsigned char *key, size_t len)
{
    uint64_t h = key_hash(t, key, len);

    for (struct alert_entry *e = t->buckets[h & t->mask]; e != NULL; e = e->chain) {
        if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    }
    return NULL;
}

static void
entry_remove(struct alert_table *t, struct alert_entry *e)
{
    struct alert_entry **pp = &t->buckets[e->hash & t->mask];

    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    list_unlink(t, e);
    if (e->active)
        t->n_active--;
    t->n--;
    free(e);
}

/* Makes room for one more entry: the coldest quiet one goes, else the active one next in line. */
static void
make_room(struct alert_table *t)
{
    struct alert_entry *victim = t->quiet.tail;

    if (victim == NULL) {
        victim = t->active.head;
        t->evicted_active++;
        if (t->on_evict != NULL)
            t->on_evict(t->evict_arg, victim);
    }
    t->evicted++;
    entry_remove(t, victim);
}

/* ---- Windows and baselines ---- */

/* Folds one slot of count events, slot_ms long, into e's baseline. */
static void
fold_slot(const struct alert_table *t, struct alert_entry *e, uint32_t count)
{
    double d = exp(-(double)t->slot_ms / (double)t->tau_ms);

    e->s = e->s * d + count;
    e->wsum = e->wsum * d + (double)t->slot_ms / 1000.0;
    if (e->learned_ms < UINT64_MAX / 2)
        e->learned_ms += t->slot_ms;
}

/* Folds z empty slots at once: the same as z calls of fold_slot(t, e, 0), in closed form. */
static void
fold_empty(const struct alert_table *t, struct alert_entry *e, uint64_t z)
{
    double d = exp(-(double)t->slot_ms / (double)t->tau_ms);
    double dz = exp(-(double)z * (double)t->slot_ms / (double)t->tau_ms);

    e->s *= dz;
    e->wsum = e->wsum * dz + (double)t->slot_ms / 1000.0 * (1.0 - dz) / (1.0 - d);
    if (z < (UINT64_MAX / 2 - e->learned_ms) / t->slot_ms)
        e->learned_ms += z * t->slot_ms;
    else
        e->learned_ms = UINT64_MAX / 2;
}

void
alert_table_advance(struct alert_table *t, struct alert_entry *e, uint64_t now)
{
    uint64_t no = now / t->slot_ms, k;
    bool learn = t->tau_ms > 0 && !e->firing;

    /* Time going backwards (it should not, with a monotonic clock) is no time passing. */
    if (no <= e->slot_no)
        return;
    k = no - e->slot_no;
    for (uint64_t i = 1; i <= k && i <= ALERT_SLOTS; i++) {
        e->cur = (e->cur + 1) % ALERT_SLOTS;
        /* slots[cur] is the oldest slot, number slot_no + i - ALERT_SLOTS: it leaves the window
         * now. Slots from before the key was made are not its history. */
        if (learn && e->slot_no + i >= e->born + ALERT_SLOTS)
            fold_slot(t, e, e->slots[e->cur]);
        e->slots[e->cur] = 0;
    }
    if (learn && k > ALERT_SLOTS)
        fold_empty(t, e, k - ALERT_SLOTS);
    e->slot_no = no;
}

uint64_t
alert_entry_count(const struct alert_entry *e)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < ALERT_SLOTS; i++)
        n += e->slots[i];
    return n;
}

double
alert_table_expected(const struct alert_table *t, const struct alert_entry *e)
{
    if (t->tau_ms == 0 || e->learned_ms < t->window_ms || e->wsum <= 0.0)
        return -1.0;
    return e->s / e->wsum * (double)t->window_ms / 1000.0;
}

void
alert_table_snapshot(struct alert_table *t, struct alert_entry *e, uint64_t now, double *s,
                     double *wsum, uint64_t *learned_ms)
{
    struct alert_entry copy;

    alert_table_advance(t, e, now);
    copy = *e;
    if (t->tau_ms > 0 && !e->firing) {
        /* Oldest first: the slot after cur is the oldest, numbered slot_no - ALERT_SLOTS + 1. */
        for (unsigned j = ALERT_SLOTS; j-- > 0;) {
            uint64_t no = e->slot_no - j;

            if (e->slot_no >= j && no >= e->born)
                fold_slot(t, &copy, e->slots[(e->cur + ALERT_SLOTS - j) % ALERT_SLOTS]);
        }
    }
    *s = copy.s;
    *wsum = copy.wsum;
    *learned_ms = copy.learned_ms;
}

void
alert_table_set_baseline(struct alert_entry *e, double s, double wsum, uint64_t learned_ms)
{
    e->s = s;
    e->wsum = wsum;
    e->learned_ms = learned_ms;
}

struct alert_entry *
alert_table_get(struct alert_table *t, const unsigned char *key, size_t len, uint64_t now,
                bool create)
{
    struct alert_entry *e;
    uint64_t h;

    if (len > ALERT_KEY_MAX)
        log_panic("alert_table_get: a key of %zu octets", len);
    e = alert_table_peek(t, key, len);
    if (e != NULL) {
        alert_table_advance(t, e, now);
        if (!e->active) {
            list_unlink(t, e);
            list_push_head(&t->quiet, e);
        }
        return e;
    }
    if (!create)
        return NULL;
    if (t->n >= t->max)
        make_room(t);
    h = key_hash(t, key, len);
    e = xcalloc(1, sizeof(*e) + len);
    e->hash = h;
    e->slot_no = now / t->slot_ms;
    e->born = e->slot_no;
    e->door = -1;
    e->key_len = (uint16_t)len;
    memcpy(e->key, key, len);
    e->chain = t->buckets[h & t->mask];
    t->buckets[h & t->mask] = e;
    list_push_head(&t->quiet, e);
    t->n++;
    return e;
}

size_t
alert_table_visit_active(struct alert_table *t, size_t n, alert_visit_fn *fn, void *arg)
{
    size_t done = 0;
    /* Each entry once per call at most: stop at the first one that was already moved back. */
    struct alert_entry *stop = NULL;

    while (done < n && t->active.head != NULL && t->active.head != stop) {
        struct alert_entry *e = t->active.head;

        list_unlink(t, e);
        list_push_tail(&t->active, e);
        if (stop == NULL)
            stop = e;
        fn(arg, e);
        done++;
        if (!e->active && stop == e)
            stop = NULL; /* it left the list: the next first one marks the round */
    }
    return done;
}

void
alert_table_each(struct alert_table *t, alert_visit_fn *fn, void *arg)
{
    for (size_t i = 0; i <= t->mask; i++) {
        for (struct alert_entry *e = t->buckets[i]; e != NULL;) {
            struct alert_entry *next = e->chain;

            fn(arg, e);
            e = next;
        }
    }
}

void
alert_table_each_active(struct alert_table *t, alert_visit_fn *fn, void *arg)
{
    for (struct alert_entry *e = t->active.head; e != NULL; e = e->next)
        fn(arg, e);
}
