/* SPDX-License-Identifier: MIT */
/*
 * Counting tables for the limits against abuse: see limit.h. A table is a
 * bucket array of chains (keyed SipHash) over at most max_entries entries,
 * each entry also on one of three lists in order of last use: plain
 * (counters only), locked (a lock, or the memory of past locks) and held
 * (something held). Eviction takes from the cold ends of these lists.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/siphash.h"
#include "lib/xalloc.h"
#include "policy/limit.h"

enum limit_list {
    LIST_PLAIN,
    LIST_LOCKED,
    LIST_HELD,
    LIST_COUNT,
};

struct limit_entry {
    struct limit_entry *chain;       /* next in the bucket */
    struct limit_entry *prev, *next; /* in its list, most recent first */
    enum limit_list list;
    uint64_t hash;
    uint64_t win_start;       /* ms: start of the current fixed period */
    uint64_t quiet_at;        /* ms: from then on, with nothing held, the entry means nothing */
    uint64_t locked_until;    /* ms; 0: never locked */
    uint64_t remember_until;  /* ms: the memory of past locks lasts until then */
    uint32_t cur, prev_count; /* events in the current and the previous period */
    uint32_t lockouts;        /* locks so far (while remembered) */
    uint32_t held;
    uint16_t key_len;
    unsigned char key[]; /* key_len octets */
};

struct list_ends {
    struct limit_entry *head, *tail;
};

struct limit_table {
    struct limit_entry **buckets;
    size_t mask; /* buckets - 1 (a power of two) */
    size_t n, max;
    unsigned char seed[16];
    struct list_ends lists[LIST_COUNT];
    uint64_t evicted, evicted_locked, refused;
};

/* ---- Keys ---- */

void
limit_key_addr(struct limit_key *k, unsigned scope, int family, const void *addr)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const unsigned char *a = addr;

    k->b[1] = (unsigned char)scope;
    if (family == AF_INET6 && memcmp(a, mapped, sizeof mapped) == 0) {
        family = AF_INET;
        a += 12;
    }
    if (family == AF_INET) {
        k->b[0] = LIMIT_KIND_IPV4;
        memcpy(k->b + 2, a, 4);
        k->len = 2 + 4;
    } else {
        k->b[0] = LIMIT_KIND_IPV6;
        memcpy(k->b + 2, a, 8);
        k->len = 2 + 8;
    }
}

void
limit_key_name(struct limit_key *k, enum limit_kind kind, unsigned scope, const char *p, size_t len)
{
    if (len > LIMIT_KEY_MAX - 2)
        len = LIMIT_KEY_MAX - 2;
    k->b[0] = (unsigned char)kind;
    k->b[1] = (unsigned char)scope;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];

        k->b[2 + i] = ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch + 32) : ch;
    }
    k->len = 2 + len;
}

/* ---- Time ---- */

static uint64_t
ms(uint32_t seconds)
{
    return (uint64_t)seconds * 1000;
}

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t
max64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* ---- Lists ---- */

static void
list_unlink(struct limit_table *t, struct limit_entry *e)
{
    struct list_ends *l = &t->lists[e->list];

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
list_push(struct limit_table *t, struct limit_entry *e, enum limit_list which)
{
    struct list_ends *l = &t->lists[which];

    e->list = which;
    e->prev = NULL;
    e->next = l->head;
    if (l->head != NULL)
        l->head->prev = e;
    else
        l->tail = e;
    l->head = e;
}

static bool
entry_is_locked(const struct limit_entry *e, uint64_t now)
{
    return now < e->locked_until;
}

/* Nothing held, no lock to remember, no event left in any window: it means nothing. */
static bool
entry_is_dead(const struct limit_entry *e, uint64_t now)
{
    return e->held == 0 && now >= e->quiet_at && now >= e->remember_until;
}

/* Moves e to the front of the list its state belongs on: it was just used. */
static void
entry_touch(struct limit_table *t, struct limit_entry *e, uint64_t now)
{
    enum limit_list which = LIST_PLAIN;

    if (e->held > 0)
        which = LIST_HELD;
    else if (entry_is_locked(e, now) || (e->lockouts > 0 && now < e->remember_until))
        which = LIST_LOCKED;
    list_unlink(t, e);
    list_push(t, e, which);
}

/* ---- The table ---- */

struct limit_table *
limit_new(size_t max_entries, const unsigned char seed[16])
{
    struct limit_table *t = xcalloc(1, sizeof(*t));
    size_t nb = 1;

    if (max_entries == 0)
        max_entries = 1;
    while (nb < max_entries && nb < ((size_t)1 << 30))
        nb <<= 1;
    t->buckets = xcalloc(nb, sizeof(*t->buckets));
    t->mask = nb - 1;
    t->max = max_entries;
    memcpy(t->seed, seed, sizeof t->seed);
    return t;
}

void
limit_free(struct limit_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i <= t->mask; i++) {
        while (t->buckets[i] != NULL) {
            struct limit_entry *e = t->buckets[i];

            t->buckets[i] = e->chain;
            free(e);
        }
    }
    free(t->buckets);
    free(t);
}

void
limit_stats(const struct limit_table *t, struct limit_stats *out)
{
    out->entries = t->n;
    out->max_entries = t->max;
    out->evicted = t->evicted;
    out->evicted_locked = t->evicted_locked;
    out->refused = t->refused;
}

static uint64_t
key_hash(const struct limit_table *t, const struct limit_key *k)
{
    return siphash24(t->seed, k->b, k->len);
}

static struct limit_entry *
entry_find(const struct limit_table *t, const struct limit_key *k)
{
    uint64_t h = key_hash(t, k);

    for (struct limit_entry *e = t->buckets[h & t->mask]; e != NULL; e = e->chain) {
        if (e->hash == h && e->key_len == k->len && memcmp(e->key, k->b, k->len) == 0)
            return e;
    }
    return NULL;
}

/* Takes e out of the table and frees it. */
static void
entry_remove(struct limit_table *t, struct limit_entry *e)
{
    struct limit_entry **pp = &t->buckets[e->hash & t->mask];

    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    list_unlink(t, e);
    t->n--;
    free(e);
}

/* Makes room for one entry (see limit.h for the order). False: everything is held. */
static bool
table_make_room(struct limit_table *t, uint64_t now)
{
    struct limit_entry *plain = t->lists[LIST_PLAIN].tail;
    struct limit_entry *locked = t->lists[LIST_LOCKED].tail;
    struct limit_entry *victim;

    if (plain != NULL && entry_is_dead(plain, now))
        victim = plain;
    else if (locked != NULL && entry_is_dead(locked, now))
        victim = locked;
    else if (plain != NULL)
        victim = plain;
    else if (locked != NULL)
        victim = locked;
    else
        return false;
    t->evicted++;
    if (entry_is_locked(victim, now))
        t->evicted_locked++;
    entry_remove(t, victim);
    return true;
}

/* The entry for k, made (empty) when there is none. NULL: no room. */
static struct limit_entry *
entry_get(struct limit_table *t, const struct limit_key *k, uint64_t now)
{
    struct limit_entry *e = entry_find(t, k);
    uint64_t h;

    if (e != NULL)
        return e;
    if (t->n >= t->max && !table_make_room(t, now)) {
        t->refused++;
        return NULL;
    }
    h = key_hash(t, k);
    e = xcalloc(1, sizeof(*e) + k->len);
    e->hash = h;
    e->key_len = (uint16_t)k->len;
    memcpy(e->key, k->b, k->len);
    e->win_start = now;
    e->chain = t->buckets[h & t->mask];
    t->buckets[h & t->mask] = e;
    list_push(t, e, LIST_PLAIN);
    t->n++;
    return e;
}

/* ---- Sliding windows ---- */

/* Brings e's fixed periods of length p (ms) up to now; time going back counts as none. */
static void
window_advance(struct limit_entry *e, uint64_t p, uint64_t now)
{
    uint64_t periods;

    if (now <= e->win_start)
        return;
    periods = (now - e->win_start) / p;
    if (periods == 0)
        return;
    e->prev_count = periods == 1 ? e->cur : 0;
    e->cur = 0;
    e->win_start += periods * p;
}

/* The events inside the sliding window ending at now, rounded up. */
static uint64_t
window_estimate(const struct limit_entry *e, uint64_t p, uint64_t now)
{
    uint64_t into = now > e->win_start ? now - e->win_start : 0;
    uint64_t left = into < p ? p - into : 0;

    return ((uint64_t)e->prev_count * left + p - 1) / p + e->cur;
}

/* Counts one event (saturating) and notes when the window will be empty. */
static void
window_count(struct limit_entry *e, uint64_t p)
{
    if (e->cur < UINT32_MAX)
        e->cur++;
    e->quiet_at = max64(e->quiet_at, add_sat(e->win_start, 2 * p));
}

static bool
rate_allows(const struct limit_entry *e, const struct limit_rate *r, uint64_t now)
{
    struct limit_entry copy = *e;
    uint64_t p = ms(r->period ? r->period : 1);

    window_advance(&copy, p, now);
    return window_estimate(&copy, p, now) < r->n;
}

bool
limit_rate_peek(struct limit_table *t, const struct limit_key *k, const struct limit_rate *r,
                uint64_t now)
{
    const struct limit_entry *e;

    if (r->n == 0)
        return true;
    e = entry_find(t, k);
    return e == NULL || rate_allows(e, r, now);
}

bool
limit_rate_take(struct limit_table *t, const struct limit_key *k, const struct limit_rate *r,
                uint64_t now)
{
    struct limit_entry *e;
    uint64_t p = ms(r->period ? r->period : 1);

    if (r->n == 0)
        return true;
    e = entry_get(t, k, now);
    if (e == NULL)
        return true; /* a rate table holds nothing, so there is always room: unreachable */
    window_advance(e, p, now);
    entry_touch(t, e, now);
    if (window_estimate(e, p, now) >= r->n)
        return false;
    window_count(e, p);
    return true;
}

/* ---- Failures and lockouts ---- */

uint64_t
limit_fail_note(struct limit_table *t, const struct limit_key *k,
                const struct limit_fail_rule *rule, uint64_t now)
{
    struct limit_entry *e = entry_get(t, k, now);
    uint64_t p = ms(rule->window ? rule->window : 1);
    uint64_t lock;

    if (e == NULL)
        return 0; /* unreachable: see limit_rate_take */
    if (entry_is_locked(e, now)) {
        entry_touch(t, e, now);
        return e->locked_until;
    }
    if (e->lockouts > 0 && now >= e->remember_until)
        e->lockouts = 0; /* quiet long enough: a fresh start */
    window_advance(e, p, now);
    window_count(e, p);
    if (window_estimate(e, p, now) < rule->max) {
        entry_touch(t, e, now);
        return 0;
    }
    /* lockout * 2^lockouts, up to lockout_max; a shift past 31 is the cap anyway. */
    lock = e->lockouts >= 32 ? UINT64_MAX : (uint64_t)rule->lockout << e->lockouts;
    if (lock > rule->lockout_max)
        lock = rule->lockout_max;
    if (lock < rule->lockout)
        lock = rule->lockout;
    if (e->lockouts < UINT32_MAX)
        e->lockouts++;
    e->locked_until = add_sat(now, ms((uint32_t)lock));
    e->remember_until = add_sat(e->locked_until, ms(rule->forget));
    e->cur = e->prev_count = 0;
    e->win_start = now;
    e->quiet_at = now; /* the window is empty again */
    entry_touch(t, e, now);
    return e->locked_until;
}

uint64_t
limit_locked_until(const struct limit_table *t, const struct limit_key *k, uint64_t now)
{
    const struct limit_entry *e = entry_find(t, k);

    return e != NULL && entry_is_locked(e, now) ? e->locked_until : 0;
}

void
limit_fail_clear(struct limit_table *t, const struct limit_key *k)
{
    struct limit_entry *e = entry_find(t, k);

    if (e != NULL)
        e->cur = e->prev_count = 0;
}

enum limit_forgot
limit_fail_forget(struct limit_table *t, const struct limit_key *k, uint64_t now)
{
    struct limit_entry *e = entry_find(t, k);
    enum limit_forgot was = LIMIT_FORGOT_NOTHING;

    if (e == NULL)
        return LIMIT_FORGOT_NOTHING;
    if (entry_is_locked(e, now))
        was = LIMIT_FORGOT_LOCK;
    else if (now < e->quiet_at && e->cur + (uint64_t)e->prev_count > 0)
        was = LIMIT_FORGOT_FAILURES; /* some may have left the window: "recent" is enough */
    if (e->held == 0) {
        entry_remove(t, e);
        return was;
    }
    e->cur = e->prev_count = 0;
    e->quiet_at = e->locked_until = e->remember_until = 0;
    e->lockouts = 0;
    entry_touch(t, e, now);
    return was;
}

/* ---- Held things ---- */

bool
limit_acquire(struct limit_table *t, const struct limit_key *k, uint32_t max, uint64_t now)
{
    struct limit_entry *e = entry_get(t, k, now);

    if (e == NULL)
        return false;
    if (e->held >= max) {
        if (e->held == 0 && entry_is_dead(e, now))
            entry_remove(t, e); /* max == 0: do not keep what was made for nothing */
        return false;
    }
    e->held++;
    entry_touch(t, e, now);
    return true;
}

bool
limit_release(struct limit_table *t, const struct limit_key *k)
{
    struct limit_entry *e = entry_find(t, k);

    if (e == NULL || e->held == 0)
        return false;
    e->held--;
    if (e->held == 0 && e->quiet_at == 0 && e->remember_until == 0) {
        entry_remove(t, e); /* held things only: nothing to remember */
        return true;
    }
    if (e->held == 0) {
        /* Back among the others, at the front: it was just used. */
        list_unlink(t, e);
        list_push(t, e, e->lockouts > 0 ? LIST_LOCKED : LIST_PLAIN);
    }
    return true;
}

uint32_t
limit_held(const struct limit_table *t, const struct limit_key *k)
{
    const struct limit_entry *e = entry_find(t, k);

    return e != NULL ? e->held : 0;
}
