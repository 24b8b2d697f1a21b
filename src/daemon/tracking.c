/* SPDX-License-Identifier: MIT */
/*
 * Message tracking in the serve process: the store opened, reconfigured
 * and closed with the configuration, the quarantine's events passed on,
 * and the tracking metrics (gate26_tracking_events_total,
 * gate26_tracking_dropped_total) read from the store at scrape time.
 */
#include "daemon/tracking.h"
#include "lib/caps.h"
#include "lib/log.h"
#include "lib/str.h"
#include "track/track.h"
#include "watch/metrics.h"

/* The counts survive a store closed by a reload (enabled no) and opened again. */
static struct track_stats before;

static void
daemon_track_quarantine(void *arg, const char *id, enum spool_qop op, const char *check)
{
    char detail[64];
    struct track_event ev = {
        .kind = op == SPOOL_QOP_RELEASE  ? TRACK_QUARANTINE_RELEASE
                : op == SPOOL_QOP_DELETE ? TRACK_QUARANTINE_DELETE
                                         : TRACK_EXPIRED,
        .qid = id,
    };

    if (check[0] != '\0' && str_fmt(detail, sizeof(detail), "check=%s", check) == 0)
        ev.detail = detail;
    track_note(arg, &ev);
}

static bool
daemon_track_events(void *arg, double *out)
{
    struct track_stats st = {0};

    if (arg != NULL)
        track_stats(arg, &st);
    *out = (double)(before.noted + st.noted);
    return true;
}

static bool
daemon_track_dropped(void *arg, double *out)
{
    struct track_stats st = {0};

    if (arg != NULL)
        track_stats(arg, &st);
    *out = (double)(before.dropped + st.dropped);
    return true;
}

static void
daemon_track_tell(struct smtp_env *env, struct sched *sched, struct spool *sp, struct track *t)
{
    env->track = t;
    sched_set_track(sched, t);
    spool_set_quarantine_hook(sp, t != NULL ? daemon_track_quarantine : NULL, t);
    metrics_source(METRICS_SOURCE_TRACKING_EVENTS, daemon_track_events, t);
    metrics_source(METRICS_SOURCE_TRACKING_DROPPED, daemon_track_dropped, t);
}

void
daemon_track_close(struct smtp_env *env, struct sched *sched, struct spool *sp)
{
    struct track *t = env->track;
    struct track_stats st;

    if (t == NULL)
        return;
    daemon_track_tell(env, sched, sp, NULL);
    track_stats(t, &st);
    before.noted += st.noted;
    before.dropped += st.dropped;
    track_close(t);
}

void
daemon_track_apply(struct smtp_env *env, struct sched *sched, struct spool *sp,
                   const struct conf *c)
{
    struct track_params p = {.keep = c->tracking_keep};
    char path[CAP_PATH], err[CAP_PATH + 256];
    struct track *t;

    if (c->tracking_off) {
        if (env->track != NULL)
            log_info("-: event=tracking, status=off");
        daemon_track_close(env, sched, sp);
        daemon_track_tell(env, sched, sp, NULL);
        return;
    }
    if (env->track != NULL) {
        track_set_keep(env->track, c->tracking_keep);
        track_sweep(env->track); /* a keep that changed applies now */
        return;
    }
    if (str_fmt(path, sizeof(path), "%s/tracking.db", c->spool) == -1) {
        log_warning("-: event=tracking, warning=\"%s: spool path too long\"", c->spool);
        return;
    }
    t = track_sqlite_open(path, TRACK_OPEN_WRITE, &p, err, sizeof(err));
    if (t == NULL) {
        log_warning("-: event=tracking, warning=\"%s\"", err);
        return;
    }
    daemon_track_tell(env, sched, sp, t);
}
