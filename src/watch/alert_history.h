/* SPDX-License-Identifier: MIT */
/*
 * Private to src/watch: the alert history (docs/watch.md, "History"), the
 * last ALERT_HISTORY_MAX firings and resolutions since the daemon's start,
 * in a ring allocated once; the oldest gives way. The log keeps the rest.
 */
#ifndef GATE26_WATCH_ALERT_HISTORY_H
#define GATE26_WATCH_ALERT_HISTORY_H

#include <stddef.h>

#include "watch/watch.h"

#define ALERT_HISTORY_MAX 1000
/* Room for a key with its NUL: addresses, users, domains whole; a long path is cut. */
#define ALERT_HISTORY_KEY_CAP 256

struct alert_history;

/* A ring of cap entries (1..ALERT_HISTORY_MAX: tests make small ones). Free with _free. */
struct alert_history *alert_history_new(size_t cap);
void alert_history_free(struct alert_history *h);

/* Keeps a copy of e and its strings (a key of ALERT_HISTORY_KEY_CAP octets or more is cut to
   end in "..."; a rule's name is at most CONF_ALERT_NAME_MAX). */
void alert_history_add(struct alert_history *h, const struct watch_alert_event *e);

/* Calls fn for each entry, newest first; returns how many. h NULL: none. */
size_t alert_history_each(const struct alert_history *h, watch_alert_event_fn *fn, void *arg);

#endif
