/* SPDX-License-Identifier: MIT */
/*
 * Private to ctl/: the verb "alerts-json" (docs/watch.md, "The alerts
 * document"), for the console's alerts page: the rules as the daemon runs
 * them, the keys firing now, and the history since the daemon's start.
 */
#ifndef GATE26_CTL_ALERTS_H
#define GATE26_CTL_ALERTS_H

#include <jansson.h>

#include "watch/watch.h"

struct evbuffer;

/* The verb, as a request line without its LF. */
#define CTL_ALERTS_JSON_VERB "alerts-json"

/* Each of firing and history is cut at this many octets of JSON (a worst-case estimate). */
#define CTL_ALERTS_LIST_OCTETS (384 * 1024)

/*
 * The document of w now: {"rules": [...], "firing": [...], "firing_cut": B,
 * "history": [...], "history_cut": B}; a list is cut (B true) at
 * CTL_STATUS_ALERTS_MAX entries or CTL_ALERTS_LIST_OCTETS. A new reference.
 */
json_t *ctl_alerts_doc(struct watch *w);

/* The daemon's answer to "alerts-json": the document, compact, and a LF, into out. */
void ctl_alerts_answer(struct watch *w, struct evbuffer *out);

#endif
