/* SPDX-License-Identifier: MIT */
/*
 * Private to src/watch: the alert rules at work (docs/watch.md, "Alerts").
 * The engine takes the rules of a configuration, the watcher's events, the
 * polled facts (the queue, our certificates) and the time, and decides
 * when a key fires and when it is resolved; what is then done about it
 * (the log line, the webhooks, mails and programs) is its caller's, told
 * through alert_note_fn. Time is passed in: a monotonic clock in
 * milliseconds for windows, and the wall clock in seconds for what people
 * read (since, certificates' notAfter). No I/O, no logging, no clock: the
 * unit tests drive it with a fake one.
 *
 * Never a flood: a key fires once when it reaches its threshold and is
 * resolved once when it is back under it, and two notifications of one
 * rule and key are at least the rule's window apart (polled rules:
 * ALERT_POLL_GAP_MS). A key over its threshold too soon after being
 * resolved waits (pending) and fires when the gap has passed, if it is
 * still over then.
 */
#ifndef GATE26_WATCH_ALERT_ENGINE_H
#define GATE26_WATCH_ALERT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf/conf.h"
#include "watch/alert_table.h"
#include "watch/watch.h"

/* Keys one rule keeps at most (per client, user, door or domain). */
#define ALERT_KEYS_MAX 4096
/* Polled rules (queue, tls-expiry): the least time between two notifications of a key. */
#define ALERT_POLL_GAP_MS 60000
/* Active keys one tick looks at, all rules together: bounded work per second. */
#define ALERT_TICK_BUDGET 4096
/* Room for a key as people read it: an address, a user, a domain, a door, a path. */
#define ALERT_KEY_TEXT_CAP (CAP_PATH + 8)

enum alert_state {
    ALERT_FIRING,
    ALERT_RESOLVED,
};

/* One rule of the engine. */
struct alert_rule {
    const struct conf_alert *def; /* of the engine's configuration */
    struct alert_table *tab;
    size_t firing; /* keys firing now */
};

/* A notification: a key of rule r fires or is resolved. Valid during the call. */
struct alert_note {
    const struct alert_rule *rule;
    enum alert_state state;
    const char *key; /* as people read it: "192.0.2.7", "2001:db8::/64", "alice", ... */
    int64_t value;   /* the count, messages, seconds (queue age) or seconds left (tls) */
    uint64_t threshold;
    unsigned window; /* seconds; 0 for polled rules */
    int door;        /* the door of the event that made it fire; -1 none */
    time_t since;    /* when it started firing (wall clock) */
    time_t time;     /* now (wall clock) */
    bool evicted;    /* resolved because the table needed the room */
};

typedef void alert_note_fn(void *arg, const struct alert_note *n);

/* A certificate of ours: tls-expiry watches its notAfter. */
struct alert_cert {
    char path[CAP_PATH];
    time_t not_after;
};

struct alert_engine;

/* A new engine without rules; notifications go to fn(arg, ...). Free with alert_engine_free. */
struct alert_engine *alert_engine_new(const unsigned char seed[16], alert_note_fn *fn, void *arg);
void alert_engine_free(struct alert_engine *e);

/*
 * The rules of c from now on (c is borrowed: the caller keeps it alive
 * until the next call or the free). A rule of the same name and the same
 * counting definition (conf_alert_same_counting) keeps its keys, counts,
 * baselines and firing state; the others start empty. Firing keys of
 * rules that go are forgotten without a notification.
 */
void alert_engine_configure(struct alert_engine *e, const struct conf *c);

/* Our certificates from now on (copied), for tls-expiry rules. */
void alert_engine_set_certs(struct alert_engine *e, const struct alert_cert *certs, size_t n);

/* One event of the watcher at now (ms, monotonic) and wall (seconds since the epoch). */
void alert_engine_note(struct alert_engine *e, const struct watch_event *ev, uint64_t now,
                       time_t wall);

/* The queue now: how many messages, and the arrival of the oldest (0: none). */
struct alert_queue {
    size_t messages;
    time_t oldest;
};

/*
 * Once a second: polled rules are looked at (q NULL: the queue is not
 * known, queue rules are skipped), and at most ALERT_TICK_BUDGET active
 * keys are looked at again (firing ones may be resolved, pending ones fire).
 */
void alert_engine_tick(struct alert_engine *e, const struct alert_queue *q, uint64_t now,
                       time_t wall);

/* watch_hold() at now: see watch.h. */
bool alert_engine_hold(struct alert_engine *e, enum door_role door, int family,
                       const unsigned char *addr, const char *user, char *reason, size_t cap,
                       uint64_t now);

/* Calls fn for each key firing now; returns how many. */
size_t alert_engine_firing(struct alert_engine *e, watch_alert_fn *fn, void *arg);

/* The rules, *n of them, in the configuration's order (their firing counts, the baselines). */
struct alert_rule *const *alert_engine_rules(const struct alert_engine *e, size_t *n);

/* key (len octets of an alert_table key) as people read it, into out (capacity cap). */
void alert_key_text(const unsigned char *key, size_t len, char *out, size_t cap);

#endif
