/* SPDX-License-Identifier: MIT */
/*
 * The session's use of the content checks (checks/checks.h, docs/checks.md):
 * it asks at connect, MAIL, RCPT and the end of the data, waits with its
 * input paused while a check runs, and turns each verdict into its reply.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "checks/checks.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "smtp/session.h"

/* The reply of a refusing verdict. */
static enum smtp_reply_id
verdict_reply(const struct checks_verdict *v)
{
    switch (v->reason) {
    case CHECKS_R_DNSBL:
        return R_DNSBL;
    case CHECKS_R_SPF_FAIL:
        return R_SPF_FAIL;
    case CHECKS_R_SPF_TEMP:
        return R_SPF_TEMP;
    case CHECKS_R_GREYLIST:
        return R_GREYLISTED;
    case CHECKS_R_DMARC:
        return R_DMARC_REJECT;
    case CHECKS_R_VIRUS:
        return R_VIRUS;
    case CHECKS_R_SPAM:
        return R_SPAM;
    case CHECKS_R_MILTER:
        return R_CONTENT_REJECT;
    case CHECKS_R_MILTER_TEMP:
        return R_CONTENT_TEMP;
    case CHECKS_R_MILTER_REPLY:
        return R_MILTER_REPLY;
    case CHECKS_R_UNAVAILABLE:
    case CHECKS_R_NONE:
        break;
    }
    return R_CHECKS_UNAVAILABLE;
}

/* The verdict's text as the reply's argument: printable ASCII, never empty for %s alone. */
static const char *
verdict_text(const struct checks_verdict *v, char *buf, size_t cap)
{
    size_t n = 0;

    for (const char *p = v->text; *p != '\0' && n + 1 < cap && n < 400; p++)
        buf[n++] = (*p >= ' ' && *p <= '~') ? *p : '?';
    buf[n] = '\0';
    if (n == 0)
        (void)str_copyz(buf, cap,
                        v->reason == CHECKS_R_MILTER_TEMP
                            ? "Message deferred by content filter, try again later"
                        : v->reason == CHECKS_R_MILTER ? "Message rejected by content filter"
                                                       : "checks");
    return buf;
}

/* ---- connect ---- */

static void
connect_checked(void *arg, const struct checks_verdict *v)
{
    struct smtp_session *s = arg;
    char text[CHECKS_TEXT_MAX];

    if (v->action == CHECKS_REJECT) {
        log_info("-: sid=%s, client=[%s], event=dnsbl-refused, reason=\"%s\"", s->sid,
                 s->client_addr, v->why);
        /* RFC 5321 3.1: the 554 instead of the 220, then 503 to every command but QUIT (each
         * spends the error budget, so the session ends after max-errors). */
        s->greeting_refused = true;
        smtp_reply(s, R_DNSBL, verdict_text(v, text, sizeof(text)));
        session_set_state(s, SMTP_ST_GREETED);
        (void)bufferevent_enable(s->bev, s->tls ? EV_READ | EV_WRITE : EV_READ);
    } else {
        session_greet(s);
    }
    session_resume(s);
}

bool
smtp_checks_connect(struct smtp_session *s)
{
    struct checks_client cl = {
        .door = s->door->role,
        .family = s->client_family,
        .addr = s->client_bin,
        .addr_text = s->client_addr,
        .port = s->client_port,
        .max_message_size = s->door->max_message_size,
    };

    s->checks = checks_session_new(s->env->checks, s->conf, &cl);
    if (s->checks == NULL || !checks_connect(s->checks, connect_checked, s))
        return false;
    session_set_state(s, SMTP_ST_CHECK_CONNECT);
    return true;
}

/* ---- MAIL and RCPT ---- */

void
smtp_checks_mail(struct smtp_session *s)
{
    if (s->checks != NULL)
        checks_mail(s->checks, s->helo, s->txn.mail.from.text);
}

static void
rcpt_checked(void *arg, const struct checks_verdict *v)
{
    struct smtp_session *s = arg;
    struct smtp_rcpt *r = s->txn.check_rcpt;
    char text[CHECKS_TEXT_MAX];

    s->txn.check_rcpt = NULL;
    session_set_state(s, s->txn.n_rcpts > 0 ? SMTP_ST_RCPT : SMTP_ST_MAIL);
    if (v->action == CHECKS_ACCEPT) {
        smtp_rcpt_accept(s, r);
    } else {
        s->txn.rcpts_refused++;
        smtp_reply(s, verdict_reply(v), verdict_text(v, text, sizeof(text)));
    }
    free(r);
    session_resume(s);
}

/* postmaster, bare or at any domain (RFC 5321 4.5.1): never refused by the DNSBL. */
static bool
is_postmaster(const struct smtp_rcpt *r)
{
    return r->to.is_postmaster_bare ||
           (r->to.local_len == 10 && strncasecmp(r->to.text, "postmaster", 10) == 0);
}

bool
smtp_checks_rcpt(struct smtp_session *s, const struct smtp_rcpt *r)
{
    if (s->checks == NULL)
        return false;
    if (!checks_rcpt(s->checks, r->to.text, is_postmaster(r), rcpt_checked, s))
        return false;
    s->txn.check_rcpt = xmalloc(sizeof(*r));
    *s->txn.check_rcpt = *r;
    session_set_state(s, SMTP_ST_CHECK_RCPT);
    return true;
}

/* ---- the end of the data ---- */

static void
data_checked(void *arg, const struct checks_verdict *v)
{
    struct smtp_session *s = arg;
    char text[CHECKS_TEXT_MAX], id[SPOOL_ID_LEN + 1];

    switch (v->action) {
    case CHECKS_ACCEPT:
        content_commit(s, NULL, NULL);
        break;
    case CHECKS_QUARANTINE:
        log_info("%s: sid=%s, event=quarantine, check=%s, reason=\"%s\"", s->queue_id, s->sid,
                 v->check, v->why);
        content_commit(s, v->check, v->why);
        break;
    case CHECKS_DISCARD:
        /* The milter's word: accepted, and dropped. */
        (void)str_copyz(id, sizeof(id), s->queue_id);
        smtp_reply(s, R_QUEUED, id);
        content_refused(s, "discarded");
        break;
    case CHECKS_REJECT:
    case CHECKS_TEMPFAIL:
        if (v->why[0] != '\0')
            log_info("%s: sid=%s, event=checks, decision=%s, reason=\"%s\"", s->queue_id, s->sid,
                     v->action == CHECKS_REJECT ? "reject" : "tempfail", v->why);
        smtp_reply(s, verdict_reply(v), verdict_text(v, text, sizeof(text)));
        content_refused(s, v->action == CHECKS_REJECT ? "rejected" : "deferred");
        break;
    }
    session_resume(s);
}

bool
smtp_checks_data(struct smtp_session *s)
{
    struct smtp_txn *t = &s->txn;
    struct checks_message m;

    if (s->checks == NULL)
        return false;
    t->rcpt_addrs = xcalloc(t->n_rcpts + 1, sizeof(*t->rcpt_addrs));
    for (size_t i = 0; i < t->n_rcpts; i++)
        t->rcpt_addrs[i] = t->rcpts[i].addr;
    memset(&m, 0, sizeof(m));
    m.msg = t->msg;
    m.skip = t->received_len;
    m.queue_id = s->queue_id;
    m.helo = s->helo;
    m.sender = t->mail.from.text;
    m.rcpts = t->rcpt_addrs;
    m.n_rcpts = t->n_rcpts;
    m.user = s->auth_user[0] != '\0' ? s->auth_user : NULL;
    m.tls_version = NULL;
    session_set_state(s, SMTP_ST_CHECK_DATA);
    checks_message(s->checks, &m, data_checked, s);
    return true;
}

const char *
smtp_checks_log_field(struct smtp_session *s)
{
    return s->checks != NULL ? checks_log_field(s->checks) : "";
}
