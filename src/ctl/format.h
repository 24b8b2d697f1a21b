/* SPDX-License-Identifier: MIT */
/*
 * How `gate26 queue list` and `show` print a message (private to ctl/):
 * a readable block, or one JSON object. Peer-derived strings are escaped
 * (JSON: every octet outside printable ASCII as \u00XX; text: as \xHH), so
 * an address can never forge a line of the listing.
 */
#ifndef GATE26_CTL_FORMAT_H
#define GATE26_CTL_FORMAT_H

#include <stdbool.h>
#include <time.h>

#include "sched/sched.h"

struct evbuffer;

/* The heading line of the text listing. */
void ctl_format_list_head(struct evbuffer *out);
/* One message of the listing, as text (json false) or a JSON object (no separator). */
void ctl_format_list_entry(struct evbuffer *out, const struct sched_info *info, time_t now,
                           bool json);
/* `show`: the envelope, then the content's header (at most 64 KiB of it). */
void ctl_format_show(struct evbuffer *out, const struct sched_info *info, time_t now);

#endif
