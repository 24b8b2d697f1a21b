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
#include <stddef.h>
#include <time.h>

#include "sched/sched.h"

struct evbuffer;

/* What comes before the messages of a listing: the heading line, or the JSON object's start. */
void ctl_format_list_begin(struct evbuffer *out, bool json);
/*
 * What comes after the shown messages of a listing, of total that matched
 * (more than shown when a limit cut it): "total messages" (", the first
 * shown listed" when cut), or the JSON object's end with "total".
 */
void ctl_format_list_end(struct evbuffer *out, bool json, size_t shown, size_t total);
/* One message of the listing, as text (json false) or a JSON object (no separator). */
void ctl_format_list_entry(struct evbuffer *out, const struct sched_info *info, time_t now,
                           bool json);
/*
 * `show`: the envelope (times as dates in UTC, with how long ago or how
 * soon), then the content's header (at most 64 KiB of it).
 */
void ctl_format_show(struct evbuffer *out, const struct sched_info *info, time_t now);

#endif
