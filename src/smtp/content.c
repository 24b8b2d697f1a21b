/* SPDX-License-Identifier: MIT */
/*
 * Message content, from DATA's 354 (RFC 5321 4.1.1.4) or the first BDAT
 * chunk (RFC 3030) to the spool's commit. The content goes through the
 * scanner (data_scan.c), which alone decides where DATA ends; what it emits
 * goes to the spool, after our Received header (RFC 5321 4.4). Any problem
 * is sticky: recorded, the content read to its end, answered once, and
 * nothing queued. A 250 goes out only from content_committed(), when the
 * spool reports the message durable.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "lib/log.h"
#include "lib/str.h"
#include "smtp/session.h"

/* Receives the scanner's output: the message octets, dot-stuffing removed. */
static void
content_emit(void *arg, const char *p, size_t len)
{
    struct smtp_session *s = arg;
    struct smtp_txn *t = &s->txn;

    t->size += len;
    if (t->content_error != R_NONE || (t->scan.flags & DATA_REFUSE))
        return; /* refused anyway: stop writing */
    if (t->size > s->door->max_message_size) {
        t->content_error = R_SIZE_EXCEEDED;
        return;
    }
    msgid_scan_feed(&t->msgid, p, len); /* the header section only: then at once */
    msgid_scan_feed(&t->subject, p, len);
    if (spool_msg_write(t->msg, p, len) == -1) {
        log_warning("%s: sid=%s, event=spool-write, error=\"%s\"", s->queue_id, s->sid,
                    strerror(errno));
        t->content_error = R_STORAGE;
    }
}

static enum spool_body
envelope_body(enum smtp_body b)
{
    switch (b) {
    case SMTP_BODY_7BIT:
        return SPOOL_BODY_7BIT;
    case SMTP_BODY_8BITMIME:
        return SPOOL_BODY_8BITMIME;
    case SMTP_BODY_UNSPEC:
        break;
    }
    return SPOOL_BODY_UNSPEC;
}

static enum spool_ret
envelope_ret(enum smtp_ret r)
{
    switch (r) {
    case SMTP_RET_FULL:
        return SPOOL_RET_FULL;
    case SMTP_RET_HDRS:
        return SPOOL_RET_HDRS;
    case SMTP_RET_UNSPEC:
        break;
    }
    return SPOOL_RET_UNSPEC;
}

bool
content_start(struct smtp_session *s, bool bdat)
{
    struct smtp_txn *t = &s->txn;
    struct spool_envelope env;
    char received[2048], q[LOG_QUOTE_CAP], hold[CAP_HOLD_REASON];
    const char *user = s->auth_user[0] != '\0' ? s->auth_user : NULL;
    size_t n;

    memset(&env, 0, sizeof(env));
    env.sender = t->mail.from.text;
    env.body = envelope_body(t->mail.body);
    env.smtputf8 = t->mail.smtputf8;
    env.ret = envelope_ret(t->mail.ret);
    env.envid = t->mail.has_envid ? t->mail.envid : NULL;
    env.rcpts = t->rcpts;
    env.n_rcpts = t->n_rcpts;
    env.door = s->door->role;
    env.client_addr = s->client_addr;
    env.client_port = s->client_port;
    env.helo = s->helo;
    env.protocol = smtp_protocol_name(s);
    (void)gettimeofday(&env.arrival, NULL);
    env.user = user;
    /* A firing alert with action hold (docs/watch.md): accepted, and queued on hold. The
     * envelope is written now, so this is where the message's fate is decided. */
    if (watch_hold(s->env->watch, s->door->role, s->client_family, s->client_bin, user, hold,
                   sizeof(hold)))
        env.hold = hold;

    if (spool_msg_new(s->env->spool, &env, &t->msg) == -1) {
        log_warning("-: sid=%s, event=spool-new, error=\"%s\"", s->sid, strerror(errno));
        t->msg = NULL;
        smtp_reply(s, R_STORAGE, NULL);
        return false;
    }
    (void)str_copyz(s->queue_id, sizeof(s->queue_id), spool_msg_id(t->msg));
    log_info("%s: client=[%s]:%u, door=%s, sid=%s, helo=%s", s->queue_id, s->client_addr,
             s->client_port, conf_role_name(s->door->role), s->sid,
             log_quote(q, sizeof(q), s->helo, strlen(s->helo)));
    if (env.hold != NULL)
        log_info("%s: sid=%s, event=hold, reason=\"%s\"", s->queue_id, s->sid,
                 log_quote(q, sizeof(q), hold, strlen(hold)));
    n = smtp_received_format(s, env.protocol, received, sizeof(received));
    if (n == 0)
        log_panic("Received header does not fit");
    t->received_len = n;
    if (spool_msg_write(t->msg, received, n) == -1) {
        log_warning("%s: sid=%s, event=spool-write, error=\"%s\"", s->queue_id, s->sid,
                    strerror(errno));
        t->content_error = R_STORAGE;
    }
    t->size = 0;
    data_scan_init(&t->scan, !bdat, content_emit, s);
    msgid_scan_init(&t->msgid);
    msgid_scan_init_field(&t->subject, "subject");
    return true;
}

/* What the content's flags refuse, or R_NONE. */
static enum smtp_reply_id
content_flag_refusal(unsigned flags)
{
    if (flags & DATA_BARE_LF)
        return R_BARE_LF;
    if (flags & DATA_BARE_CR)
        return R_BARE_CR;
    if (flags & DATA_NUL)
        return R_NUL;
    if (flags & DATA_LONG_LINE)
        return R_DATA_LINE_TOO_LONG;
    return R_NONE;
}

/* Called by the spool on the loop's thread once the commit has ended. */
static void
content_committed(void *arg, const char *id, int status, int err)
{
    struct smtp_session *s = arg;
    struct smtp_txn *t = &s->txn;
    char q[LOG_ANGLE_CAP], msgid[MSGID_LOG_CAP];

    if (status == 0) {
        log_info("%s: from=%s, size=%" PRIu64 ", nrcpt=%zu, proto=%s%s%s, status=%s%s%s", id,
                 log_angle(q, sizeof(q), t->mail.from.text, t->mail.from.len), t->size, t->n_rcpts,
                 smtp_protocol_name(s), msgid_log_field(&t->msgid, msgid, sizeof(msgid)),
                 smtp_checks_log_field(s), t->quarantined ? "quarantined" : "queued",
                 t->quarantined ? ", check=" : "", t->quarantined ? t->quarantine_check : "");
        s->n_messages++;
        {
            struct watch_event ev = {.kind = WATCH_MESSAGE, .size = t->size};

            session_watch(s, &ev);
        }
    } else {
        log_warning("%s: sid=%s, status=refused, reason=\"commit: %s\"", id, s->sid, strerror(err));
    }
    session_set_state(s, SMTP_ST_READY);
    smtp_reply(s, status == 0 ? R_QUEUED : R_STORAGE, id);
    smtp_track_data(s, status != 0      ? TRACK_DEFERRED
                       : t->quarantined ? TRACK_QUARANTINED
                                        : TRACK_QUEUED);
    smtp_txn_reset(s);
    session_resume(s);
}

/* The content has ended (CRLF.CRLF, or BDAT LAST): refuse it, or commit it. */
static void
content_end(struct smtp_session *s)
{
    struct smtp_txn *t = &s->txn;
    enum smtp_reply_id refuse = t->content_error;

    if (refuse == R_NONE)
        refuse = content_flag_refusal(t->scan.flags);
    session_set_timeouts(s, false);
    /* The content itself is never logged: its size stands for it in the dialogue. */
    log_debug("%s: sid=%s, dir=in, content=%" PRIu64, s->queue_id, s->sid, t->size);
    if (refuse != R_NONE) {
        log_info("%s: sid=%s, size=%" PRIu64 ", flags=0x%x, status=rejected", s->queue_id, s->sid,
                 t->size, t->scan.flags);
        spool_msg_abort(t->msg);
        t->msg = NULL;
        session_set_state(s, SMTP_ST_READY);
        smtp_reply(s, refuse, NULL);
        smtp_track_data(s, smtp_reply_code(refuse, NULL) >= 500 ? TRACK_REJECTED : TRACK_DEFERRED);
        smtp_txn_reset(s);
        return;
    }
    if (smtp_checks_data(s))
        return; /* the checks decide: content_commit() or content_refused() */
    content_commit(s, NULL, NULL);
}

void
content_commit(struct smtp_session *s, const char *quarantine_check, const char *why)
{
    struct smtp_txn *t = &s->txn;

    if (quarantine_check != NULL) {
        spool_msg_quarantine(t->msg, quarantine_check, why);
        t->quarantined = true;
        (void)str_copyz(t->quarantine_check, sizeof(t->quarantine_check), quarantine_check);
    }
    session_set_state(s, SMTP_ST_COMMIT);
    spool_msg_commit(t->msg, content_committed, s);
    t->msg = NULL;
}

void
content_refused(struct smtp_session *s, const char *status)
{
    struct smtp_txn *t = &s->txn;

    log_info("%s: sid=%s, size=%" PRIu64 "%s, status=%s", s->queue_id, s->sid, t->size,
             smtp_checks_log_field(s), status);
    smtp_track_data(s, strcmp(status, "discarded") == 0  ? TRACK_DISCARDED
                       : strcmp(status, "deferred") == 0 ? TRACK_DEFERRED
                                                         : TRACK_REJECTED);
    spool_msg_abort(t->msg);
    t->msg = NULL;
    session_set_state(s, SMTP_ST_READY);
    smtp_txn_reset(s);
}

/* The end of a BDAT chunk that is not the last: acknowledge it (or its error). */
static void
content_chunk_end(struct smtp_session *s, uint64_t size)
{
    char octets[24];

    session_set_state(s, SMTP_ST_BDAT_WAIT);
    session_set_timeouts(s, false);
    if (s->txn.content_error != R_NONE) {
        smtp_reply(s, s->txn.content_error, NULL);
        return;
    }
    (void)str_fmt(octets, sizeof(octets), "%" PRIu64, size);
    smtp_reply(s, R_BDAT_OK, octets);
}

bool
content_read(struct smtp_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    struct smtp_txn *t = &s->txn;
    struct evbuffer_iovec v;

    while (evbuffer_get_length(in) > 0 && !(s->state == SMTP_ST_BDAT && t->bdat_left == 0)) {
        size_t n;

        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            log_panic("evbuffer_peek found nothing in a non-empty buffer");
        if (s->state == SMTP_ST_BDAT && v.iov_len > t->bdat_left)
            v.iov_len = (size_t)t->bdat_left;
        n = data_scan_feed(&t->scan, v.iov_base, v.iov_len);
        (void)evbuffer_drain(in, n);
        if (s->state == SMTP_ST_BDAT)
            t->bdat_left -= n;
        else if (t->scan.done)
            break;
    }
    if (s->state == SMTP_ST_DATA) {
        if (!t->scan.done)
            return false;
        content_end(s);
        return true;
    }
    if (t->bdat_left > 0)
        return false;
    if (t->bdat_last) {
        data_scan_finish(&t->scan);
        content_end(s);
    } else {
        content_chunk_end(s, t->bdat_size);
    }
    return true;
}
