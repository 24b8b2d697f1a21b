/* SPDX-License-Identifier: MIT */
/*
 * The session's events for message tracking (track/track.h; docs/console.md,
 * "Message tracking"): at the end of the data, what became of the message
 * (queued, quarantined, rejected, deferred, discarded) with its envelope,
 * Message-ID, Subject, the checks' results and the reply the client got.
 * One call from each place content.c decides a message's fate; the event
 * is copied into the tracker's ring, nothing here waits.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "smtp/session.h"
#include "track/track.h"

void
smtp_track_data(struct smtp_session *s, enum track_kind kind)
{
    struct smtp_txn *t = &s->txn;
    const char *checks = smtp_checks_log_field(s);
    char msgid[CAP_MESSAGE_ID + 1], subject[TRACK_SUBJECT_MAX + 1], detail[TRACK_TEXT_MAX];
    char q[LOG_QUOTE_CAP];
    const char **rcpts;
    struct track_event ev = {
        .kind = kind,
        .qid = s->queue_id,
        .sender = t->mail.from.text,
        .door = conf_role_name(s->door->role),
        .client = s->client_addr,
        .helo = s->helo,
        .size = t->size,
        .n_rcpts = t->n_rcpts,
    };

    if (s->env->track == NULL || s->queue_id[0] == '\0')
        return;
    ev.message_id = msgid_scan_copy(&t->msgid, msgid, sizeof(msgid));
    ev.subject = msgid_scan_copy(&t->subject, subject, sizeof(subject));
    /* reply="..." as the client got it; the checks' field as the log line has it. */
    (void)str_fmt(detail, sizeof(detail), "reply=\"%s\"%s%s%s",
                  log_quote(q, sizeof(q), s->last_reply, strlen(s->last_reply)), checks,
                  t->quarantined ? ", check=" : "", t->quarantined ? t->quarantine_check : "");
    ev.detail = detail;
    rcpts = xcalloc(t->n_rcpts + 1, sizeof(*rcpts));
    for (size_t i = 0; i < t->n_rcpts; i++)
        rcpts[i] = t->rcpts[i].addr;
    ev.rcpts = rcpts;
    track_note(s->env->track, &ev);
    free(rcpts);
}
