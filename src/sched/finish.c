/* SPDX-License-Identifier: MIT */
/*
 * The end of an attempt (docs/relay.md, step 5): recipients whose time is
 * up fail with their last error; the recipients that failed for good are
 * reported to the sender in one bounce, spooled before they are marked
 * failed (a crash in between repeats a bounce, never loses one); a delay
 * warning goes once the message has waited `delay-warning`; then one change
 * of the file: the failed statuses and either the next attempt or the
 * removal. Also stopping an attempt at shutdown.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "sched/sched_impl.h"
#include "spool/envelope.h"

/* Does the sender want a failure report for recipient r (RFC 3461 4.1)? */
static bool
wants_failure(const struct envelope *env, const struct envelope_rcpt *r)
{
    if (env->sender[0] == '\0') /* never bounce a bounce (RFC 5321 4.5.5) */
        return false;
    return r->notify == 0 || (r->notify & SPOOL_NOTIFY_FAILURE) != 0;
}

static bool
wants_delay(const struct envelope *env, const struct envelope_rcpt *r)
{
    if (env->sender[0] == '\0')
        return false;
    return r->notify == 0 || (r->notify & SPOOL_NOTIFY_DELAY) != 0;
}

/* The last change: done and failed statuses, then the schedule or the removal. */
static void
final_change(struct sched_attempt *at, bool bounce_ok)
{
    struct sched *s = at->e->s;
    const struct envelope *env = &at->q->env;
    size_t n = env->n_rcpts, n_changed = 0, pending = 0;
    size_t *idx = xcalloc(n + 1, sizeof(*idx));
    char *st = xcalloc(n + 1, 1);
    struct spool_change ch;

    for (size_t i = 0; i < n; i++) {
        const struct sched_outcome *o = &at->out[i];

        if (env->rcpts[i].status != ENVELOPE_RCPT_PENDING)
            continue;
        if (o->result == SCHED_OK) {
            /* Delivered by the attempt's last transaction: recorded here (attempt.c, job_end). */
            idx[n_changed] = i;
            st[n_changed++] = ENVELOPE_RCPT_DONE;
            continue;
        }
        if (o->result == SCHED_PERM && (bounce_ok || !wants_failure(env, &env->rcpts[i]))) {
            idx[n_changed] = i;
            st[n_changed++] = ENVELOPE_RCPT_FAILED;
            s->bounced++;
            sched_log_outcome(at, i, "bounced");
            continue;
        }
        pending++;
        if (o->result == SCHED_TEMP || o->result == SCHED_PERM) {
            s->deferred++;
            sched_log_outcome(at, i, "deferred");
            (void)str_copyz(at->e->last_error, sizeof(at->e->last_error), o->text);
        }
    }
    memset(&ch, 0, sizeof(ch));
    ch.n_rcpts = n_changed;
    ch.rcpt_index = idx;
    ch.rcpt_status = st;
    if (pending == 0) {
        ch.remove = true;
        at->removed = true;
        log_info("%s: event=removed", env->id);
    } else {
        ch.set_schedule = true;
        ch.attempts = env->attempts < 9999 ? env->attempts + 1 : 9999;
        ch.next_attempt = sched_next_attempt(s->conf, ch.attempts);
        sched_entry_set_attempts(at->e, ch.attempts);
        at->e->next_attempt = ch.next_attempt;
    }
    at->final_sent = true;
    sched_attempt_change(at, &ch);
    free(idx);
    free(st);
}

static void
bounce_cb(void *arg, const char *id, int status, int err)
{
    struct sched_attempt *at = arg;

    (void)err;
    at->changes_left--;
    if (at->stopped) {
        if (at->changes_left == 0)
            sched_attempt_end(at);
        return;
    }
    if (status == 0) {
        log_info("%s: event=bounce, bounce=%s", at->q->env.id, id);
        sched_track_note(at->e->s, TRACK_DSN, at->q->env.id, "kind=failure");
    }
    /* Not spooled: the recipients stay pending and are bounced after the next attempt. */
    final_change(at, status == 0);
}

/*
 * The delay warning: once, at the first attempt after the message has
 * waited delay-warning, that is when the previous attempt came before the
 * mark. The previous attempt's time is known when this process made it;
 * after a restart it is taken as one retry interval ago.
 */
static void
maybe_warn(struct sched_attempt *at, time_t now)
{
    const struct conf *c = at->e->s->conf;
    const struct envelope *env = &at->q->env;
    int64_t waited = envelope_age(env, now), before;
    size_t *idx;
    size_t n = 0;

    if (c->delay_warning == 0 || waited < (int64_t)c->delay_warning)
        return;
    if (at->prev_try != 0) {
        before = (int64_t)(at->prev_try - env->arrival.tv_sec);
    } else if (env->attempts == 0) {
        before = -1;
    } else {
        unsigned last = env->attempts - 1;

        before = waited - (int64_t)c->retry[last < c->n_retry ? last : c->n_retry - 1];
    }
    if (before >= (int64_t)c->delay_warning)
        return;
    idx = xcalloc(env->n_rcpts, sizeof(*idx));
    for (size_t i = 0; i < env->n_rcpts; i++) {
        if (env->rcpts[i].status == ENVELOPE_RCPT_PENDING && at->out[i].result == SCHED_TEMP &&
            wants_delay(env, &env->rcpts[i]))
            idx[n++] = i;
    }
    if (n > 0 && sched_bounce_send(at, DSN_DELAY, idx, n, NULL, NULL) == 0) {
        log_info("%s: event=delay-warning, recipients=%zu", env->id, n);
        sched_track_note(at->e->s, TRACK_DSN, env->id, "kind=delay");
    }
    free(idx);
}

void
sched_attempt_finish(struct sched_attempt *at)
{
    const struct conf *c = at->e->s->conf;
    const struct envelope *env = &at->q->env;
    time_t now = time(NULL);
    bool expired = (uint64_t)envelope_age(env, now) >= c->give_up;
    size_t *idx = xcalloc(env->n_rcpts + 1, sizeof(*idx));
    size_t n = 0;

    for (size_t i = 0; i < env->n_rcpts; i++) {
        struct sched_outcome *o = &at->out[i];

        if (env->rcpts[i].status != ENVELOPE_RCPT_PENDING)
            continue;
        if (expired && o->result == SCHED_TEMP) {
            char text[DELIVER_TEXT_MAX];

            /* Give up: the last error, still with its 4.x.x status (RFC 3464 2.3.4). */
            (void)str_fmt(text, sizeof(text), "delivery time expired; last error: %s", o->text);
            (void)str_copyz(o->text, sizeof(o->text), text);
            if (o->enhanced[0] == '\0')
                (void)str_copyz(o->enhanced, sizeof(o->enhanced), "4.4.7");
            o->result = SCHED_PERM;
        }
        if (o->result == SCHED_PERM && wants_failure(env, &env->rcpts[i]))
            idx[n++] = i;
    }
    if (!expired)
        maybe_warn(at, now);
    if (n > 0) {
        at->changes_left++;
        if (sched_bounce_send(at, DSN_FAILURE, idx, n, bounce_cb, at) == -1) {
            at->changes_left--;
            final_change(at, false);
        }
    } else {
        final_change(at, true);
    }
    free(idx);
}

void
sched_attempt_stop(struct sched_attempt *at)
{
    struct sched *s = at->e->s;

    at->stopped = true;
    for (struct sched_job *job = at->jobs; job != NULL; job = job->next) {
        if (job->route != NULL)
            route_cancel(job->route);
        job->route = NULL;
        if (job->dl != NULL)
            deliver_cancel(job->dl);
        job->dl = NULL;
        if (job->running && job->dest != NULL) {
            job->dest->active--;
            sched_dest_put(s, job->dest);
            job->dest = NULL;
            s->running--;
        }
        job->running = false;
        job->waiting = false;
    }
    if (at->changes_left == 0)
        sched_attempt_end(at);
}
