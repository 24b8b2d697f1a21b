/* SPDX-License-Identifier: MIT */
/*
 * The scheduler's events for message tracking (track/track.h;
 * docs/console.md, "Message tracking"): each recipient's delivery attempt
 * (relay, reply, delay, status), the DSNs sent, and the queue commands
 * (hold, release, delete, bounce). Each is one call where it happens;
 * the remote server's reply is quoted as the log line quotes it;
 * the event is copied into the tracker's ring, nothing here waits.
 */
#include <string.h>
#include <sys/time.h>

#include "lib/log.h"
#include "lib/str.h"
#include "sched/sched_impl.h"
#include "track/track.h"

void
sched_set_track(struct sched *s, struct track *t)
{
    s->track = t;
}

void
sched_track_note(const struct sched *s, enum track_kind kind, const char *id, const char *detail)
{
    struct track_event ev = {.kind = kind, .qid = id, .detail = detail};

    track_note(s->track, &ev);
}

void
sched_track_outcome(const struct sched_attempt *at, size_t i, const char *status)
{
    const struct envelope *env = &at->q->env;
    const struct sched_outcome *o = &at->out[i];
    char detail[TRACK_TEXT_MAX], q[LOG_QUOTE_CAP];
    struct timeval now;
    struct track_event ev = {.kind = TRACK_ATTEMPT, .qid = env->id, .status = status};

    if (at->e->s->track == NULL)
        return;
    (void)gettimeofday(&now, NULL);
    /* As the log line says it: relay (or the hop tried), delay since arrival, attempt, reply. */
    (void)str_fmt(detail, sizeof(detail),
                  "relay=%s%s%s, delay=%.2f, attempt=%u, dsn=%s, status=%s, reply=\"%s\"%s%s%s",
                  o->relay, o->tried[0] != '\0' ? ", tried=" : "", o->tried,
                  (double)(now.tv_sec - env->arrival.tv_sec) +
                      (double)(now.tv_usec - env->arrival.tv_usec) / 1e6,
                  env->attempts + 1, o->enhanced[0] != '\0' ? o->enhanced : "-", status,
                  log_quote(q, sizeof(q), o->text, strlen(o->text)),
                  o->tls[0] != '\0' ? ", tls=\"" : "", o->tls, o->tls[0] != '\0' ? "\"" : "");
    ev.rcpt = env->rcpts[i].addr;
    ev.detail = detail;
    track_note(at->e->s->track, &ev);
}
