/* SPDX-License-Identifier: MIT */
/*
 * Private to src/watch: the keys of one alert rule and what is known of
 * each (docs/watch.md, "Alerts"). A pure data structure: time is passed in
 * (milliseconds of CLOCK_MONOTONIC in the daemon, any clock in tests); it
 * reads no clock, does no I/O and logs nothing.
 *
 * Memory is capped when the table is made: at most max keys, each an entry
 * of fixed size plus its key octets. A new key in a full table takes the
 * place of the least recently seen quiet key (not firing, nothing to look
 * at again); only when every key is active does an active one go (the one
 * next in line to be looked at), and the caller is told (alert_evict_fn)
 * so that a firing key still gets its "resolved". Keys are hashed with SipHash-2-4 under a
 * random seed, so that nobody can choose keys that share a bucket.
 *
 * The count of a key is a sliding window kept in ALERT_SLOTS slots of
 * window / ALERT_SLOTS each: an event counts from the moment it happens for
 * between window - window/ALERT_SLOTS and window. Finer than the two-bucket
 * approximation of src/policy/limit.c, whose estimate can be up to twice
 * the truth at a period boundary: an alert says "20 in 5 minutes" to a
 * person, and should mean it.
 *
 * For spike rules (tau > 0) each slot that leaves the window is folded into
 * an exponentially weighted average of the key's count per second, with
 * time constant tau (the rule's baseline): s and wsum are the decayed sums
 * of counts and of seconds, their ratio the rate, which is then the mean
 * of the key's whole history while that is short against tau (no cold
 * start from zero). A firing key's baseline does not learn: its own burst
 * must not become its normal.
 */
#ifndef GATE26_WATCH_ALERT_TABLE_H
#define GATE26_WATCH_ALERT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALERT_SLOTS 16
/* The longest key: a certificate's path (tls-expiry). */
#define ALERT_KEY_MAX 4096

/* The kind octet that starts every key. */
enum alert_key_kind {
    ALERT_KEY_ALL = 'a',    /* nothing follows */
    ALERT_KEY_IPV4 = '4',   /* 4 octets */
    ALERT_KEY_IPV6 = '6',   /* the /64: 8 octets */
    ALERT_KEY_USER = 'u',   /* a user name */
    ALERT_KEY_DOOR = 'd',   /* one octet: the role */
    ALERT_KEY_DOMAIN = 'n', /* a domain, lower case */
    ALERT_KEY_CERT = 'c',   /* a certificate's path */
};

struct alert_entry {
    struct alert_entry *chain;       /* next in the bucket */
    struct alert_entry *prev, *next; /* in its list: quiet, most recently seen first; active,
                                        next to be looked at first */
    uint64_t hash;
    uint64_t slot_no;            /* absolute number (time / slot length) of slots[cur] */
    uint64_t born;               /* slot_no when it was made: older slots are no history */
    uint32_t slots[ALERT_SLOTS]; /* counts; slots[cur] is the current one */
    unsigned cur;                /* 0..ALERT_SLOTS-1 */
    bool active;                 /* on the active list: firing or to be looked at again */
    /* The rule's state for this key (alert_engine.c's). */
    bool firing;
    bool pending;       /* over the threshold while a notification would come too soon */
    uint64_t last_note; /* ms: the last notification (firing or resolved); 0: none */
    int64_t since;      /* seconds since the epoch: when it started firing */
    int64_t value;      /* what it fired with (count, messages, seconds...) */
    uint64_t threshold; /* and the threshold then */
    int door;           /* the door of the event that made it fire; -1: none */
    /* Spike: the baseline (see above). */
    double s;            /* decayed sum of counts */
    double wsum;         /* decayed sum of seconds */
    uint64_t learned_ms; /* history folded so far */
    uint16_t key_len;
    unsigned char key[]; /* key_len octets */
};

struct alert_table;

/* Told of an active entry that goes to make room, before it goes. */
typedef void alert_evict_fn(void *arg, struct alert_entry *e);

/*
 * A table of at most max keys (at least 1) whose windows last window_ms
 * (at least ALERT_SLOTS), learning baselines over tau_ms (0: no baseline),
 * hashed under seed (16 octets, copied). Aborts when out of memory.
 */
struct alert_table *alert_table_new(size_t max, uint64_t window_ms, uint64_t tau_ms,
                                    const unsigned char seed[16]);

/* Frees t and its entries; NULL: nothing. */
void alert_table_free(struct alert_table *t);

/* Called for an active entry evicted to make room (NULL: none). */
void alert_table_on_evict(struct alert_table *t, alert_evict_fn *fn, void *arg);

/*
 * The entry of key (len octets, at most ALERT_KEY_MAX) with its window moved
 * to now, marked as just seen; created (evicting as above) when create is
 * true and it is not there. NULL when it is not there and create is false.
 */
struct alert_entry *alert_table_get(struct alert_table *t, const unsigned char *key, size_t len,
                                    uint64_t now, bool create);

/* The entry of key without moving anything, or NULL: for looking only (the hold). */
struct alert_entry *alert_table_peek(const struct alert_table *t, const unsigned char *key,
                                     size_t len);

/* Moves e's window to now (slots that leave it are folded into the baseline). */
void alert_table_advance(struct alert_table *t, struct alert_entry *e, uint64_t now);

/* The sum of e's slots: its count over the window as of its last advance. */
uint64_t alert_entry_count(const struct alert_entry *e);

/*
 * e's baseline: the expected count over one window (rate times window), or
 * a negative number while less than one window of history was learned.
 */
double alert_table_expected(const struct alert_table *t, const struct alert_entry *e);

/* Puts e on the active list (true) or the quiet one (false). */
void alert_table_set_active(struct alert_table *t, struct alert_entry *e, bool active);

/*
 * The active entries, least recently looked at first: at most n are given
 * to fn, and each goes to the back of the line after fn returns, so that
 * repeated calls with a budget visit every one in turn. fn may make the
 * entry quiet. Returns how many were visited.
 */
typedef void alert_visit_fn(void *arg, struct alert_entry *e);
size_t alert_table_visit_active(struct alert_table *t, size_t n, alert_visit_fn *fn, void *arg);

/* Calls fn for every entry (quiet and active), in no particular order. */
void alert_table_each(struct alert_table *t, alert_visit_fn *fn, void *arg);

/* Calls fn for every active entry, in their order, moving nothing; fn must not change lists. */
void alert_table_each_active(struct alert_table *t, alert_visit_fn *fn, void *arg);

/*
 * e's baseline as it will be once its window has left it: e is moved to
 * now, then the slots still in its window are folded into a copy (*s,
 * *wsum, *learned_ms), not into e. What the baselines file keeps: after a
 * restart the window starts empty, and its events would be lost. A firing
 * key's window is its burst, not its normal: not folded.
 */
void alert_table_snapshot(struct alert_table *t, struct alert_entry *e, uint64_t now, double *s,
                          double *wsum, uint64_t *learned_ms);

/* Sets e's baseline (a restored one), as learned. */
void alert_table_set_baseline(struct alert_entry *e, double s, double wsum, uint64_t learned_ms);

struct alert_table_stats {
    size_t entries, max, active;
    uint64_t evicted, evicted_active;
};

void alert_table_stats(const struct alert_table *t, struct alert_table_stats *out);

#endif
