/* SPDX-License-Identifier: MIT */
/*
 * Shared state: the facts that several gateway nodes behind one name would
 * share, so that a client cannot get a second chance by reaching another
 * node. Today: recipient-verification answers (src/verify) and remembered
 * logins (the smart lockout of src/policy); later: greylist triplets, alert
 * baselines, scanner tables. docs/state.md has the list and the rules.
 *
 * A fact is a key and a short value with a time to live, in a namespace.
 * Each namespace has its own cap, so a flood of one kind (random
 * recipients probed by a dictionary attack) cannot push out another (the
 * logins of real users). One small interface, struct state_ops, and one
 * backend today, in this process's memory (mem.c); a Redis/Valkey backend
 * implements the same four operations on hiredis's asynchronous API.
 *
 * Reads are asynchronous because a networked backend answers later: the
 * callback of state_get() is never called from inside state_get() (the
 * memory backend answers on the loop's next turn, so both backends look
 * the same to the caller). A read in flight can be cancelled, as the
 * session that asked may end first. Writes are fire-and-forget: a lost
 * write costs a second callout or a forgotten login, never mail, so the
 * caller is not told.
 *
 * Threads: the event loop's only.
 */
#ifndef GATE26_STATE_STATE_H
#define GATE26_STATE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/caps.h"

struct event_base;

/* The kinds of fact; a shared backend prefixes keys with state_ns_name(). */
enum state_ns {
    STATE_NS_CALLOUT, /* recipient verification: an address -> its answer */
    STATE_NS_LOGIN,   /* a user and a client network that logged in -> nothing */
    STATE_NS_COUNT,
};

/* "callout", "login": stable, as they name keys in a shared store. */
const char *state_ns_name(enum state_ns ns);

/* The longest key and value (a mailbox with a prefix; a reply line). */
#define STATE_KEY_MAX   (CAP_MAILBOX + 64)
#define STATE_VALUE_MAX 512

/* The longest time to live: 400 days. */
#define STATE_TTL_MAX (400u * 86400u)

struct state;
struct state_get;

/*
 * The answer to a read: the value (len octets at p, valid during the call)
 * when the key is there and alive, found false otherwise. A backend that
 * cannot answer (a shared store down) says not found: every fact here is
 * one the caller can do without.
 */
struct state_answer {
    bool found;
    const void *p;
    size_t len;
};

typedef void state_get_fn(void *arg, const struct state_answer *a);

struct state_stats {
    size_t entries;     /* facts held now (some may have expired, not yet swept) */
    size_t max_entries; /* the namespace's cap */
    uint64_t hits, misses;
    uint64_t evicted; /* live facts dropped for room */
};

/* What a backend does; see the functions below for the contracts. */
struct state_ops {
    struct state_get *(*get)(struct state *st, enum state_ns ns, const void *key, size_t klen,
                             state_get_fn *fn, void *arg);
    void (*cancel)(struct state *st, struct state_get *g);
    void (*put)(struct state *st, enum state_ns ns, const void *key, size_t klen, const void *val,
                size_t vlen, unsigned ttl);
    void (*del)(struct state *st, enum state_ns ns, const void *key, size_t klen);
    void (*stats)(const struct state *st, enum state_ns ns, struct state_stats *out);
    void (*free)(struct state *st);
};

/* The common head of every backend's object. */
struct state {
    const struct state_ops *ops;
};

/*
 * Looks key (klen octets, 1 to STATE_KEY_MAX) up in ns. fn(arg, answer) is
 * called exactly once, later, on the loop, never from inside this call,
 * unless state_get_cancel() comes first. Returns the read in flight (owned
 * by the store; it is gone after the callback or the cancel).
 */
struct state_get *state_get(struct state *st, enum state_ns ns, const void *key, size_t klen,
                            state_get_fn *fn, void *arg);

/* Ends a read in flight: no callback. NULL: nothing. Not after its callback. */
void state_get_cancel(struct state *st, struct state_get *g);

/*
 * Stores val (vlen octets, 0 to STATE_VALUE_MAX) under key in ns for ttl
 * seconds (1 to STATE_TTL_MAX), replacing what was there. A key or value
 * over its cap is a bug (panic).
 */
void state_put(struct state *st, enum state_ns ns, const void *key, size_t klen, const void *val,
               size_t vlen, unsigned ttl);

/* Forgets key in ns (nothing when it is not there). */
void state_del(struct state *st, enum state_ns ns, const void *key, size_t klen);

/* The counters of ns. */
void state_stats(const struct state *st, enum state_ns ns, struct state_stats *out);

/* Frees the store; reads still in flight are cancelled (no callback). NULL: nothing. */
void state_free(struct state *st);

/* ---- The memory backend (mem.c) ---- */

/* Milliseconds from a fixed origin; now_ms() unless a test gives its own clock. */
typedef uint64_t state_clock_fn(void);

/*
 * A store in this process's memory, answering on base. max_entries[ns]
 * caps each namespace (at least 1): a new key in a full namespace pushes
 * out an expired fact if one is at the cold end, else the least recently
 * used one. Keys are hashed with SipHash-2-4 under seed (16 octets, copied).
 * clock NULL: now_ms(). Aborts when out of memory, like xmalloc.
 */
struct state *state_mem_new(struct event_base *base, const size_t max_entries[STATE_NS_COUNT],
                            const unsigned char seed[16], state_clock_fn *clock);

#endif
