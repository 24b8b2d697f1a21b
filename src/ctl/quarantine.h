/* SPDX-License-Identifier: MIT */
/*
 * `gate26 quarantine` (private to ctl/): release and delete run here, in
 * the daemon (the control socket's "quarantine release|delete ID..."
 * request) or, with the daemon stopped, in the client under the spool's
 * exclusive lock; list and show read quarantine/ in the client
 * (quarantine_client.c). docs/spool.md, "The quarantine".
 */
#ifndef GATE26_CTL_QUARANTINE_H
#define GATE26_CTL_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>

#include "ctl/request.h"
#include "spool/spool.h"

struct evbuffer;

/* The request's first word on the control socket. */
#define CTL_QUARANTINE_VERB "quarantine"

/*
 * Parses "quarantine release|delete ID..." (without its LF): *release, and
 * the ids into req (at most CTL_IDS_MAX, none twice). Returns 0, or -1 with
 * the refusal in text.
 */
int ctl_quarantine_parse(const char *line, size_t len, bool *release, struct ctl_request *req,
                         char *text, size_t textcap);

/* Appends an id's line to body: "+ ID: released|deleted" or "- ID: why". */
void ctl_quarantine_line(struct evbuffer *body, const char *id, bool release, int status,
                         const char *why);

/* Appends "= SUMMARY" and puts it in text; returns 0 when done == n, else -1. */
int ctl_quarantine_summary(struct evbuffer *body, bool release, size_t done, size_t n, char *text,
                           size_t textcap);

/*
 * Runs one request line synchronously (a spool without its thread:
 * spool_open_admin) "quarantine release|delete ID..." (at most
 * CTL_IDS_MAX ids, none twice) on sp: body gets one line per id, "+ ID:
 * released" / "+ ID: deleted" or "- ID: WHY" (no such message in
 * quarantine, ...), then "= SUMMARY". Returns 0 when every id was done,
 * else -1 with the summary (or the refusal of the whole line, body then
 * empty) in text.
 */
int ctl_quarantine_run(struct spool *sp, const char *line, size_t len, struct evbuffer *body,
                       char *text, size_t textcap);

#endif
