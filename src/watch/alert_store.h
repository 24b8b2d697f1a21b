/* SPDX-License-Identifier: MIT */
/*
 * Private to src/watch: the spike baselines as a file (SPOOL/watch/baselines,
 * docs/watch.md), so that a restart does not forget what each key's normal
 * is. Text, one record a line:
 *
 *   gate26-baselines 1
 *   rule NAME WINDOW BASELINE PER DOORS      (seconds, seconds, per's word, door bits)
 *   key HEX S WSUM LEARNED                   (the key's octets, the baseline's sums, ms)
 *   ...
 *   end
 *
 * A rule's keys are restored only into a spike rule of the same name,
 * window, baseline, per and doors: another definition means another
 * normal. The reader is strict and all-or-nothing: a file that is not
 * exactly this (truncated, edited, from another version) is refused as a
 * whole, and costs only the history it held. Formatting and parsing are
 * pure; the file's I/O is alert.c's.
 */
#ifndef GATE26_WATCH_ALERT_STORE_H
#define GATE26_WATCH_ALERT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "watch/alert_engine.h"

#define ALERT_STORE_MAGIC "gate26-baselines 1"
/* The largest file read: every rule full of keys of the longest kind fits. */
#define ALERT_STORE_MAX (64u * 1024 * 1024)

/*
 * The baselines of e's spike rules at now (keys that learned something,
 * their windows counted in: alert_table_snapshot), as a NUL-terminated
 * heap string of *len octets; the caller frees it.
 */
char *alert_store_format(struct alert_engine *e, uint64_t now, size_t *len);

/* One record of a file, for alert_store_parse's callback. */
struct alert_store_rec {
    /* The rule line in force. */
    const char *rule; /* NUL-terminated */
    unsigned window, baseline, doors;
    enum conf_alert_per per;
    /* A key line (key NULL on the rule line itself). */
    const unsigned char *key;
    size_t key_len;
    double s, wsum;
    uint64_t learned_ms;
};

typedef void alert_store_fn(void *arg, const struct alert_store_rec *rec);

/*
 * Checks the len octets at p as a whole baselines file; when it is one,
 * calls fn (NULL: none) for each rule and key line in order and returns
 * the number of keys; else returns -1 with "line N: what" in why
 * (capacity cap) and calls fn for nothing.
 */
long alert_store_parse(const char *p, size_t len, alert_store_fn *fn, void *arg, char *why,
                       size_t cap);

/*
 * Puts the baselines of the file's text into e's spike rules (the matching
 * ones; see above), as learned at now. Returns the number of keys
 * restored, or -1 with why as alert_store_parse (e is then unchanged).
 */
long alert_store_restore(struct alert_engine *e, const char *p, size_t len, uint64_t now, char *why,
                         size_t cap);

#endif
