/* SPDX-License-Identifier: MIT */
/*
 * The calls of track.h that do not depend on a backend: the kinds' names
 * and the dispatch through struct track_ops.
 */
#include "track/track.h"

static const char *const kind_names[TRACK_KIND_COUNT] = {
    [TRACK_QUEUED] = "queued",
    [TRACK_QUARANTINED] = "quarantined",
    [TRACK_REJECTED] = "rejected",
    [TRACK_DEFERRED] = "deferred",
    [TRACK_DISCARDED] = "discarded",
    [TRACK_ATTEMPT] = "attempt",
    [TRACK_DSN] = "dsn",
    [TRACK_HOLD] = "hold",
    [TRACK_RELEASE] = "release",
    [TRACK_DELETE] = "delete",
    [TRACK_BOUNCE] = "bounce",
    [TRACK_QUARANTINE_RELEASE] = "quarantine-release",
    [TRACK_QUARANTINE_DELETE] = "quarantine-delete",
    [TRACK_EXPIRED] = "expired",
};

const char *
track_kind_name(enum track_kind kind)
{
    return (unsigned)kind < TRACK_KIND_COUNT ? kind_names[kind] : NULL;
}

bool
track_kind_is_arrival(enum track_kind kind)
{
    return kind == TRACK_QUEUED || kind == TRACK_QUARANTINED || kind == TRACK_REJECTED ||
           kind == TRACK_DEFERRED || kind == TRACK_DISCARDED;
}

void
track_note(struct track *t, const struct track_event *ev)
{
    if (t != NULL)
        t->ops->note(t, ev);
}

int
track_search(struct track *t, const struct track_query *q, track_result_fn *fn, void *arg,
             char *err, size_t errlen)
{
    return t->ops->search(t, q, fn, arg, err, errlen);
}

void
track_sweep(struct track *t)
{
    if (t != NULL)
        t->ops->sweep(t);
}

void
track_flush(struct track *t)
{
    if (t != NULL)
        t->ops->flush(t);
}

void
track_set_keep(struct track *t, unsigned keep)
{
    if (t != NULL)
        t->ops->set_keep(t, keep);
}

void
track_stats(struct track *t, struct track_stats *out)
{
    t->ops->stats(t, out);
}

void
track_close(struct track *t)
{
    if (t != NULL)
        t->ops->close(t);
}
