/* SPDX-License-Identifier: MIT */
/*
 * Private to ctl/: the verb "series-json" (docs/watch.md, "The control
 * socket"): the watcher's per-minute counts of the last 24 hours, per door,
 * for the console's charts. It takes no argument and changes nothing.
 */
#ifndef GATE26_CTL_SERIES_H
#define GATE26_CTL_SERIES_H

#include <stdint.h>

#include "watch/watch.h"

struct evbuffer;

/* The verb, as a request line without its LF. */
#define CTL_SERIES_JSON_VERB "series-json"

/*
 * The document of se at now_ms (the wall clock, milliseconds since the
 * epoch) into out, compact, one line with its LF:
 * {"time":NOW,"minute":START,"doors":{"inbound":{"connections":[1440
 * counts],"messages":[...],"refusals":[...],"auth_failures":[...]},...}},
 * every door (conf_role_name), counts oldest first; START is when the
 * newest minute began, in seconds since the epoch.
 */
void ctl_series_doc(const struct watch_series *se, int64_t now_ms, struct evbuffer *out);

/* The daemon's answer to "series-json": the document of w now (w NULL: zeros) into out. */
void ctl_series_answer(struct watch *w, struct evbuffer *out);

#endif
