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

/* The document of w now: {"rules": [...], "firing": [...], "history": [...]}. A new reference. */
json_t *ctl_alerts_doc(struct watch *w);

/* The daemon's answer to "alerts-json": the document, compact, and a LF, into out. */
void ctl_alerts_answer(struct watch *w, struct evbuffer *out);

#endif
