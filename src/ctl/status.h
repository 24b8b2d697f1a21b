/* SPDX-License-Identifier: MIT */
/*
 * Private to ctl/: `gate26 status` (docs/watch.md, "gate26 status"). The
 * daemon answers the verbs "status-json" (the document, one JSON object)
 * and "status" (the same document as the table); the client asks for the
 * document and prints it, or its table, itself (colour is the terminal's
 * business, and the exit status the alerts'). One document, one printer:
 * the table and the JSON cannot disagree.
 */
#ifndef GATE26_CTL_STATUS_H
#define GATE26_CTL_STATUS_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "sched/sched.h"
#include "watch/watch.h"

struct evbuffer;

/* The verbs, as request lines without their LF. */
#define CTL_STATUS_VERB      "status"
#define CTL_STATUS_JSON_VERB "status-json"

/* The document lists at most this many alerts (alerts_firing counts them all). */
#define CTL_STATUS_ALERTS_MAX 1000

/*
 * The document (docs/watch.md lists its fields) of st (the watcher's
 * counts), q (the queue), firing alerts in all of which alerts lists some
 * (a JSON array, each an object as ctl_status_alert() makes it; a
 * reference is taken) at now. Returns a new reference.
 */
json_t *ctl_status_doc(const struct watch_status *st, const struct sched_queue_facts *q,
                       size_t firing, json_t *alerts, time_t now);

/* One alert firing as the document lists it (a new reference). */
json_t *ctl_status_alert(const struct watch_alert *a);

/*
 * The daemon's answer to "status" (json false) or "status-json": the
 * document of w and s now, as the table or as JSON, into out.
 */
void ctl_status_answer(struct watch *w, struct sched *s, bool json, struct evbuffer *out);

/*
 * Prints doc as the table of `gate26 status` (colour: ANSI colours for a
 * terminal). A document without a field prints it as 0 or "?": it comes
 * from the daemon, but the printer trusts nothing it reads, and writes no
 * control character of it. Returns 0, or -1 when out fails.
 */
int ctl_status_print(FILE *out, const json_t *doc, bool colour);

/*
 * Sends request (a line with its LF) to the daemon of spool_dir and reads
 * the whole answer (at most CTL_ANSWER_MAX octets, ctl_request()) into *answer (heap; *len
 * octets, NUL-terminated). Returns 0, or -1 after saying why on standard
 * error, each line starting with prog ("gate26 status").
 */
int ctl_ask(const char *prog, const char *spool_dir, const char *request, char **answer,
            size_t *len);

/* The exit status doc stands for: 1 when an alert is firing (alerts_firing, or alerts), else 0. */
int ctl_status_exit(const json_t *doc);

#endif
