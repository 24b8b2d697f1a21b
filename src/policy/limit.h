/* SPDX-License-Identifier: MIT */
/*
 * Private to src/policy: counting tables for the limits against abuse. A
 * table maps keys (a client address, a user name, an envelope sender) to a
 * little state: a sliding-window counter (N events per period), a failure
 * count with a lockout that doubles on each repeat, and a count of things
 * held (sessions open now). It is a pure data structure: time is passed in
 * (milliseconds from any fixed origin, CLOCK_MONOTONIC in the daemon), it
 * reads no clock, does no I/O and logs nothing.
 *
 * Memory is capped when the table is made: it never holds more than
 * max_entries keys. When a new key arrives and the table is full, one entry
 * goes, chosen to lose the least:
 *   1. an entry whose state has run out (window over, lock and its memory
 *      over, nothing held) found at the cold end of either list;
 *   2. else the least recently used "plain" entry (a counter, no lock);
 *   3. else the least recently used locked entry that holds nothing;
 *   4. an entry that holds something (a live session) never goes: the new
 *      key is refused instead (limit_acquire() returns false).
 * The trade-off: an attacker who wants its own counter forgotten must touch
 * max_entries other keys after its last event (as many addresses or /64s),
 * and to lift a lockout it must first fill the whole table with locked
 * keys, which takes max_entries lockouts. Below that, memory wins over
 * memory of the past, by design: an attacker with many addresses must not
 * be able to exhaust it. limit_stats() counts evictions so that the daemon
 * can report a table under pressure.
 *
 * The window is the two-bucket approximation of a sliding window: the
 * count of the previous fixed period, weighted by how much of it is still
 * inside the sliding window, plus the count of the current one. Over time
 * it lets at most N per period through; a burst timed across a period
 * boundary can see up to 2N inside one period, never more.
 *
 * Time going backwards (it should not, with a monotonic clock) is treated as
 * no time passing: no window is reopened and no lock ends early.
 *
 * The hash is SipHash-2-4 (lib/siphash.h) keyed with 16 random octets from
 * the caller, so that chains cannot be made long by chosen keys.
 */
#ifndef GATE26_POLICY_LIMIT_H
#define GATE26_POLICY_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/caps.h"

/* A key: a kind octet, a scope octet, then the address or the name. */
#define LIMIT_KEY_MAX (2 + CAP_MAILBOX)

enum limit_kind {
    LIMIT_KIND_IPV4 = '4',  /* 4 octets */
    LIMIT_KIND_IPV6 = '6',  /* the /64: 8 octets */
    LIMIT_KIND_USER = 'u',  /* a user name, lower case */
    LIMIT_KIND_SENDER = 's' /* an envelope sender, lower case; "" is <> */
};

struct limit_key {
    size_t len;
    unsigned char b[LIMIT_KEY_MAX];
};

/*
 * The key of a client address (4 or 16 octets of family AF_INET/AF_INET6)
 * within scope (any octet the caller picks, such as the door). An
 * IPv4-mapped IPv6 address is its IPv4 address; any other IPv6 address
 * counts as its /64, since one client commonly holds a whole /64 and could
 * otherwise take 2^64 fresh counters.
 */
void limit_key_addr(struct limit_key *k, unsigned scope, int family, const void *addr);

/*
 * The key of a name (len octets) of kind USER or SENDER within scope, ASCII
 * lower-cased so that case does not make a fresh counter. A name longer than
 * CAP_MAILBOX is cut there (names that share those octets share a counter).
 */
void limit_key_name(struct limit_key *k, enum limit_kind kind, unsigned scope, const char *p,
                    size_t len);

/* N events per period. n == 0: no limit. */
struct limit_rate {
    uint32_t n;
    uint32_t period; /* seconds, at least 1 */
};

/* Failures and lockouts. */
struct limit_fail_rule {
    uint32_t max;         /* failures within the window that lock the key, at least 1 */
    uint32_t window;      /* seconds */
    uint32_t lockout;     /* the first lock, seconds; it doubles on each repeat */
    uint32_t lockout_max; /* the doubling stops here, seconds */
    uint32_t forget;      /* seconds after a lock ends with no failure: repeats are forgotten */
};

struct limit_table;

/*
 * A new, empty table of at most max_entries keys (at least 1), hashed with
 * seed (16 octets, copied). Free it with limit_free(). Aborts when out of
 * memory, like xmalloc.
 */
struct limit_table *limit_new(size_t max_entries, const unsigned char seed[16]);

/* Frees t and every entry; NULL: nothing. */
void limit_free(struct limit_table *t);

/*
 * Rate: true when one more event for k at now stays within r, and then
 * counts it; false (nothing counted) when it would not. With r->n == 0 it
 * is always true and nothing is stored.
 */
bool limit_rate_take(struct limit_table *t, const struct limit_key *k, const struct limit_rate *r,
                     uint64_t now);

/* limit_rate_take() without counting: what it would answer now. Stores nothing. */
bool limit_rate_peek(struct limit_table *t, const struct limit_key *k, const struct limit_rate *r,
                     uint64_t now);

/*
 * Failures: counts one failure for k at now. Returns the end of the lock
 * (ms) when k is locked after it (this failure reached rule->max within the
 * window, or k was locked already: a failure while locked is not counted and
 * does not lengthen the lock), else 0. The n-th lock lasts lockout * 2^(n-1)
 * up to lockout_max; repeats are forgotten after forget seconds without a
 * failure past the end of the last lock.
 */
uint64_t limit_fail_note(struct limit_table *t, const struct limit_key *k,
                         const struct limit_fail_rule *rule, uint64_t now);

/* The end of k's lock (ms) when it is locked at now, else 0. Stores nothing. */
uint64_t limit_locked_until(const struct limit_table *t, const struct limit_key *k, uint64_t now);

/* Clears k's failure count (not a running lock, nor the memory of past locks). */
void limit_fail_clear(struct limit_table *t, const struct limit_key *k);

/* What limit_fail_forget() found before it forgot. */
enum limit_forgot {
    LIMIT_FORGOT_NOTHING,  /* no lock, no recent failure */
    LIMIT_FORGOT_FAILURES, /* failures within their window, no lock */
    LIMIT_FORGOT_LOCK,     /* a lock running at now */
};

/*
 * Forgets k's failures, its running lock and the memory of past locks (the
 * next lock starts again from the rule's first lockout), as if k had never
 * failed: for an operator's unlock. Held things and rates stay. Returns what
 * there was at now.
 */
enum limit_forgot limit_fail_forget(struct limit_table *t, const struct limit_key *k, uint64_t now);

/*
 * Held things (sessions open now): true when k holds fewer than max, and then
 * takes one more; false when it holds max already or the table is full of
 * keys that hold something.
 */
bool limit_acquire(struct limit_table *t, const struct limit_key *k, uint32_t max, uint64_t now);

/* Gives one back. False when k held nothing (a bug in the caller). */
bool limit_release(struct limit_table *t, const struct limit_key *k);

/* How many k holds now. */
uint32_t limit_held(const struct limit_table *t, const struct limit_key *k);

struct limit_stats {
    size_t entries;
    size_t max_entries;
    uint64_t evicted;        /* entries dropped for room, of which: */
    uint64_t evicted_locked; /* ...locked at the time */
    uint64_t refused;        /* new keys refused: everything held something */
};

void limit_stats(const struct limit_table *t, struct limit_stats *out);

#endif
