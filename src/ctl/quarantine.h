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

#include <stddef.h>

#include "spool/spool.h"

struct evbuffer;

/* The request's first word on the control socket. */
#define CTL_QUARANTINE_VERB "quarantine"

/*
 * Runs one request line "quarantine release|delete ID..." (at most
 * CTL_IDS_MAX ids, none twice) on sp: body gets one line per id, "+ ID:
 * released" / "+ ID: deleted" or "- ID: WHY" (no such message in
 * quarantine, ...), then "= SUMMARY". Returns 0 when every id was done,
 * else -1 with the summary (or the refusal of the whole line, body then
 * empty) in text.
 */
int ctl_quarantine_run(struct spool *sp, const char *line, size_t len, struct evbuffer *body,
                       char *text, size_t textcap);

#endif
