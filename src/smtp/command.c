/* SPDX-License-Identifier: MIT */
/*
 * The commands of RFC 5321 4.1.1 and their order (4.1.4, 3.3), with the
 * ESMTP extensions this server offers in its EHLO reply. Each handler first
 * checks (and picks the refusal), then applies: a refused command changes
 * nothing. Message content is content.c's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/now.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "policy/policy.h"
#include "smtp/session.h"
#include "verify/verify.h"
#include "checks/checks.h"
#include "watch/metrics.h"

void
smtp_txn_reset(struct smtp_session *s)
{
    struct smtp_txn *t = &s->txn;

    for (size_t i = 0; i < t->n_rcpts; i++) {
        free((char *)t->rcpts[i].addr);
        free((char *)t->rcpts[i].orcpt);
    }
    free(t->rcpts);
    verify_cancel(t->verify_req); /* the session ends while its recipient is verified */
    free(t->verify_rcpt);
    free(t->check_rcpt);
    free(t->rcpt_addrs);
    checks_txn_reset(s->checks); /* SPF, a recipient's or the message's checks in flight */
    if (t->msg != NULL) {
        log_info("%s: sid=%s, status=discarded", s->queue_id, s->sid);
        spool_msg_abort(t->msg);
    }
    memset(t, 0, sizeof(*t));
    t->content_error = R_NONE;
    s->queue_id[0] = '\0';
}

/* The state after a reset: READY once the client has said EHLO/HELO. */
static void
txn_end(struct smtp_session *s)
{
    smtp_txn_reset(s);
    session_set_state(s, s->helo[0] != '\0' ? SMTP_ST_READY : SMTP_ST_GREETED);
}

static void
cmd_helo(struct smtp_session *s, const struct smtp_cmd *c, bool esmtp)
{
    char text[512];
    int n;

    if (!c->has_arg || smtp_parse_helo(c->arg) == -1) {
        smtp_reply(s, R_HELO_SYNTAX, esmtp ? "EHLO" : "HELO");
        return;
    }
    /* RFC 5321 4.1.4: EHLO/HELO resets any transaction in progress. */
    txn_end(s);
    (void)str_copy(s->helo, sizeof(s->helo), c->arg.p, c->arg.len);
    s->esmtp = esmtp;
    session_set_state(s, SMTP_ST_READY);
    if (!esmtp) {
        smtp_reply(s, R_HELO, s->conf->hostname);
        return;
    }
    n = snprintf(text, sizeof(text),
                 "250-%s\r\n"
                 "250-PIPELINING\r\n"
                 "250-SIZE %" PRIu64 "\r\n"
                 "250-8BITMIME\r\n"
                 "250-SMTPUTF8\r\n"
                 "250-ENHANCEDSTATUSCODES\r\n"
                 "250-CHUNKING\r\n"
                 "%s%s"
                 "250 DSN\r\n",
                 s->conf->hostname, s->door->max_message_size,
                 smtp_tls_offered(s) ? "250-STARTTLS\r\n" : "",
                 smtp_auth_offered(s) ? "250-AUTH PLAIN LOGIN\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(text))
        log_panic("EHLO reply does not fit");
    session_write(s, text, (size_t)n);
    metrics_reply(s->door->role, 250); /* not through smtp_reply() */
}

/* The reply for a MAIL or RCPT argument that did not parse. */
static enum smtp_reply_id
arg_refusal(enum smtp_arg_result r, bool mail)
{
    switch (r) {
    case SMTP_ARG_SYNTAX:
        return mail ? R_MAIL_SYNTAX : R_RCPT_SYNTAX;
    case SMTP_ARG_ADDR_SYNTAX:
        return mail ? R_SENDER_SYNTAX : R_RCPT_ADDR_SYNTAX;
    case SMTP_ARG_LOCAL_TOO_LONG:
        return mail ? R_SENDER_LOCAL_LONG : R_RCPT_LOCAL_LONG;
    case SMTP_ARG_DOMAIN_TOO_LONG:
        return mail ? R_SENDER_DOMAIN_LONG : R_RCPT_DOMAIN_LONG;
    case SMTP_ARG_PARAM_SYNTAX:
        return R_PARAM_SYNTAX;
    case SMTP_ARG_PARAM_UNKNOWN:
        return R_PARAM_UNKNOWN;
    case SMTP_ARG_UTF8_NOT_ALLOWED:
        return mail ? R_SENDER_UTF8 : R_RCPT_UTF8;
    case SMTP_ARG_OK:
        break;
    }
    log_panic("arg_refusal: no refusal for result %d", (int)r);
}

/* True when the argument (after the path) holds ESMTP parameters. */
static bool
mail_has_params(const struct smtp_mail *m)
{
    return m->has_size || m->body != SMTP_BODY_UNSPEC || m->smtputf8 || m->ret != SMTP_RET_UNSPEC ||
           m->has_envid || m->has_auth;
}

/*
 * The message rates (per client, per sender, per user) at MAIL: a message
 * is counted when its MAIL is accepted, so that check and count are one
 * step (sessions in parallel cannot all pass before any counts) and a
 * MAIL/RSET loop is not free. False (451 4.7.1 sent) when a rate refuses.
 */
static bool
mail_within_rates(struct smtp_session *s, const struct smtp_mail *m)
{
    static const enum smtp_reply_id replies[] = {
        [POLICY_MAIL_CLIENT_RATE] = R_MESSAGE_RATE,
        [POLICY_MAIL_SENDER_RATE] = R_SENDER_RATE,
        [POLICY_MAIL_USER_RATE] = R_USER_RATE,
    };
    struct policy_mail_who who = {s->client_family, s->client_bin, m->from.text,
                                  m->from.len,      s->auth_user,  strlen(s->auth_user)};
    enum policy_mail_verdict v = policy_mail_take(s->env->limits, s->conf, s->door, &who, now_ms());
    struct conf_rate r;
    char q[LOG_QUOTE_CAP];

    if (v == POLICY_MAIL_OK)
        return true;
    r = policy_mail_limit_rate(s->conf, s->door, v);
    (void)str_fmt(s->reject_note, sizeof(s->reject_note), ", limit=%s, rate=%u/%us, sender=\"%s\"",
                  policy_mail_limit_name(v), r.n, r.period,
                  log_quote(q, sizeof(q), m->from.text, m->from.len));
    smtp_reply(s, replies[v], NULL);
    return false;
}

static void
cmd_mail(struct smtp_session *s, const struct smtp_cmd *c)
{
    struct smtp_mail m;
    enum smtp_arg_result r;

    if (s->state == SMTP_ST_GREETED) {
        smtp_reply(s, R_NEED_HELO, NULL);
        return;
    }
    if (s->state != SMTP_ST_READY) {
        smtp_reply(s, R_NESTED_MAIL, NULL);
        return;
    }
    /* RFC 3207 4: a door that requires TLS refuses mail in the clear. */
    if (s->door->tls == CONF_TLS_STARTTLS_REQUIRED && !s->tls) {
        smtp_reply(s, R_TLS_REQUIRED, NULL);
        return;
    }
    /* RFC 4954 6: 530 for a command the door allows only after AUTH. */
    if (policy_needs_auth(s->door) && s->auth_user[0] == '\0') {
        smtp_reply(s, R_AUTH_REQUIRED, NULL);
        return;
    }
    r = smtp_parse_mail(c->arg, &m);
    if (r != SMTP_ARG_OK) {
        smtp_reply(s, arg_refusal(r, true), NULL);
        return;
    }
    /* Parameters are extensions: only after EHLO (RFC 5321 4.1.1.2), AUTH= where AUTH is. */
    if ((!s->esmtp && mail_has_params(&m)) || (m.has_auth && !smtp_auth_offered(s))) {
        smtp_reply(s, R_PARAM_UNKNOWN, NULL);
        return;
    }
    /* RFC 1870 6.2: a declared size over the limit is refused at once. */
    if (m.has_size && m.size > s->door->max_message_size) {
        smtp_reply(s, R_SIZE_DECLARED, NULL);
        return;
    }
    /* The user sends as itself (or an address it was given), never as anyone. */
    if (s->auth_user[0] != '\0' &&
        !policy_sender_owned(s->conf, s->auth_user, m.from.text, m.from.len)) {
        smtp_reply(s, R_SENDER_NOT_OWNED, NULL);
        return;
    }
    if (!mail_within_rates(s, &m))
        return;
    s->txn.mail = m;
    session_set_state(s, SMTP_ST_MAIL);
    smtp_reply(s, R_MAIL_OK, NULL);
    smtp_checks_mail(s);
}

/* Keeps an accepted recipient in the transaction. */
static void
txn_add_rcpt(struct smtp_txn *t, const struct smtp_rcpt *r)
{
    struct spool_rcpt *sr;

    if (t->n_rcpts == t->cap_rcpts) {
        t->cap_rcpts = t->cap_rcpts ? t->cap_rcpts * 2 : 4;
        t->rcpts = xrealloc(t->rcpts, t->cap_rcpts * sizeof(*t->rcpts));
    }
    sr = &t->rcpts[t->n_rcpts++];
    sr->addr = xstrndup(r->to.text, r->to.len);
    sr->orcpt = r->has_orcpt ? xstrdup(r->orcpt) : NULL;
    sr->notify = (r->notify & SMTP_NOTIFY_NEVER ? SPOOL_NOTIFY_NEVER : 0) |
                 (r->notify & SMTP_NOTIFY_SUCCESS ? SPOOL_NOTIFY_SUCCESS : 0) |
                 (r->notify & SMTP_NOTIFY_FAILURE ? SPOOL_NOTIFY_FAILURE : 0) |
                 (r->notify & SMTP_NOTIFY_DELAY ? SPOOL_NOTIFY_DELAY : 0);
}

/*
 * The answer of recipient verification: the RCPT's reply, then the commands
 * that waited behind it (docs/verify.md).
 */
static void
rcpt_verified(void *arg, const struct verify_answer *a)
{
    struct smtp_session *s = arg;
    struct smtp_rcpt *r = s->txn.verify_rcpt;
    char qt[LOG_QUOTE_CAP], qr[LOG_QUOTE_CAP];

    s->txn.verify_req = NULL;
    s->txn.verify_rcpt = NULL;
    log_info("%s: sid=%s, event=verify, to=<%s>, result=%s, source=%s, relay=%s, reply=\"%s\"%s%s",
             session_log_id(s), s->sid, log_quote(qt, sizeof(qt), r->to.text, r->to.len),
             verify_result_name(a->result), verify_source_name(a->source), a->relay,
             log_quote(qr, sizeof(qr), a->reply, strlen(a->reply)),
             a->reason != NULL ? ", reason=" : "", a->reason != NULL ? a->reason : "");
    session_set_state(s,
                      a->result == VERIFY_OK || s->txn.n_rcpts > 0 ? SMTP_ST_RCPT : SMTP_ST_MAIL);
    switch (a->result) {
    case VERIFY_OK:
        txn_add_rcpt(&s->txn, r);
        smtp_reply(s, R_RCPT_OK, NULL);
        break;
    case VERIFY_UNKNOWN:
        /* Refused now, so that no bounce goes to a sender who is often forged. */
        s->txn.rcpts_refused++;
        smtp_reply(s, R_RCPT_UNKNOWN, r->to.text);
        break;
    case VERIFY_TEMP:
        s->txn.rcpts_refused++;
        smtp_reply(s, R_RCPT_VERIFY_TEMP, r->to.text);
        break;
    }
    free(r);
    session_resume(s);
}

/*
 * Recipient verification, for a recipient that every other check has
 * accepted: on the inbound door, in a domain whose block asks for it, and
 * never postmaster (RFC 5321 4.5.1). True when it has started: the session
 * waits (parsing paused) for rcpt_verified().
 */
static bool
rcpt_verify(struct smtp_session *s, const struct smtp_rcpt *r, const char *domain, size_t len)
{
    const struct conf_domain *d;

    if (s->env->verify == NULL || s->door->role != DOOR_INBOUND || r->to.is_postmaster_bare)
        return false;
    d = conf_find_domain(s->conf, domain, len);
    if (!verify_wanted(d) || verify_is_postmaster(r->to.text, r->to.local_len))
        return false;
    s->txn.verify_rcpt = xmalloc(sizeof(*r));
    *s->txn.verify_rcpt = *r;
    session_set_state(s, SMTP_ST_VERIFY);
    s->txn.verify_req = verify_start(s->env->verify, s->conf, d, r->to.text, r->to.len,
                                     r->to.local_len, r->to.has_utf8, rcpt_verified, s);
    return true;
}

static void
cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *c)
{
    struct smtp_rcpt r;
    struct policy_rcpt pr;
    enum smtp_arg_result res;

    if (s->state == SMTP_ST_GREETED || s->state == SMTP_ST_READY) {
        smtp_reply(s, s->state == SMTP_ST_GREETED ? R_NEED_HELO : R_NEED_MAIL, NULL);
        return;
    }
    if (s->state == SMTP_ST_BDAT_WAIT) {
        smtp_reply(s, R_BAD_SEQUENCE, NULL);
        return;
    }
    /* RFC 5321 4.5.3.1.10: over the limit is 452, and the client goes on later. */
    if (s->txn.n_rcpts >= s->door->max_recipients) {
        smtp_reply(s, R_TOO_MANY_RCPTS, NULL);
        return;
    }
    res = smtp_parse_rcpt(c->arg, &r);
    if (res != SMTP_ARG_OK) {
        s->txn.rcpts_refused++;
        smtp_reply(s, arg_refusal(res, false), NULL);
        return;
    }
    if (!s->esmtp && (r.notify != 0 || r.has_orcpt)) {
        s->txn.rcpts_refused++;
        smtp_reply(s, R_PARAM_UNKNOWN, NULL);
        return;
    }
    /* RFC 6531 3.5: a non-ASCII mailbox only in an SMTPUTF8 transaction. */
    if (r.to.has_utf8 && !s->txn.mail.smtputf8) {
        s->txn.rcpts_refused++;
        smtp_reply(s, R_RCPT_UTF8, NULL);
        return;
    }
    pr.local = r.to.text;
    pr.local_len = r.to.is_postmaster_bare ? r.to.len : r.to.local_len;
    pr.domain = smtp_addr_domain(&r.to, &pr.domain_len);
    pr.literal = r.to.is_literal;
    pr.postmaster = r.to.is_postmaster_bare;
    if (policy_check_rcpt(s->conf, s->door, &pr) != POLICY_RCPT_OK) {
        s->txn.rcpts_refused++;
        smtp_reply(s, R_RELAY_DENIED, NULL);
        return;
    }
    if (smtp_checks_rcpt(s, &r))
        return; /* the checks answer it (checks.c), and call smtp_rcpt_accept() if they pass */
    smtp_rcpt_accept(s, &r);
}

void
smtp_rcpt_accept(struct smtp_session *s, const struct smtp_rcpt *r)
{
    size_t len;
    const char *domain = smtp_addr_domain(&r->to, &len);

    if (rcpt_verify(s, r, domain, len))
        return; /* rcpt_verified() answers */
    txn_add_rcpt(&s->txn, r);
    session_set_state(s, SMTP_ST_RCPT);
    smtp_reply(s, R_RCPT_OK, NULL);
}

/* The refusal for DATA/BDAT outside RCPT state, or R_NONE when it may start. */
static enum smtp_reply_id
content_refusal(const struct smtp_session *s)
{
    switch (s->state) {
    case SMTP_ST_GREETED:
        return R_NEED_HELO;
    case SMTP_ST_READY:
        return R_NEED_MAIL;
    case SMTP_ST_MAIL:
        /* RFC 5321 3.3: 554 when every RCPT was refused, 503 when none came. */
        return s->txn.rcpts_refused > 0 ? R_NO_VALID_RCPT : R_NEED_RCPT;
    case SMTP_ST_RCPT:
    case SMTP_ST_BDAT_WAIT:
        return R_NONE;
    default:
        log_panic("content_refusal in state %d", (int)s->state);
    }
}

static void
cmd_data(struct smtp_session *s, const struct smtp_cmd *c)
{
    enum smtp_reply_id refuse = content_refusal(s);

    if (c->has_arg) {
        smtp_reply(s, R_NO_ARGUMENTS, "DATA");
        return;
    }
    if (refuse != R_NONE) {
        smtp_reply(s, refuse, NULL);
        return;
    }
    /* RFC 3030 2: DATA may not follow BDAT in a transaction. */
    if (s->state == SMTP_ST_BDAT_WAIT) {
        smtp_reply(s, R_DATA_AFTER_BDAT, NULL);
        return;
    }
    if (!content_start(s, false))
        return;
    session_set_state(s, SMTP_ST_DATA);
    session_set_timeouts(s, true);
    smtp_reply(s, R_DATA_GO, NULL);
}

static void
cmd_bdat(struct smtp_session *s, const struct smtp_cmd *c)
{
    enum smtp_reply_id refuse;
    uint64_t size;
    bool last;

    if (!c->has_arg || smtp_parse_bdat(c->arg, &size, &last) == -1) {
        /* Without a size the chunk's end cannot be found: whatever follows
         * would be read as commands. Refuse and end the session. */
        smtp_reply(s, R_BDAT_SYNTAX, NULL);
        session_close(s);
        return;
    }
    refuse = s->esmtp ? content_refusal(s) : R_NOT_IMPLEMENTED;
    if (refuse == R_NONE && s->txn.content_error != R_NONE)
        refuse = s->txn.content_error;
    if (refuse != R_NONE) {
        /* RFC 3030 2: the chunk is read all the same, then refused. */
        s->skip_octets = size;
        smtp_reply(s, refuse, NULL);
        if (last && s->state == SMTP_ST_BDAT_WAIT)
            txn_end(s);
        return;
    }
    if (!s->txn.bdat) {
        s->txn.bdat = true;
        if (!content_start(s, true)) {
            /* Refused with 452; the rest of this message is refused too. */
            s->txn.content_error = R_STORAGE;
            s->skip_octets = size;
            if (last)
                txn_end(s);
            else
                session_set_state(s, SMTP_ST_BDAT_WAIT);
            return;
        }
    }
    s->txn.bdat_size = size;
    s->txn.bdat_left = size;
    s->txn.bdat_last = last;
    session_set_state(s, SMTP_ST_BDAT);
    session_set_timeouts(s, true);
}

static void
cmd_rset(struct smtp_session *s, const struct smtp_cmd *c)
{
    if (c->has_arg) {
        smtp_reply(s, R_NO_ARGUMENTS, "RSET");
        return;
    }
    txn_end(s);
    smtp_reply(s, R_OKAY, NULL);
}

static void
cmd_quit(struct smtp_session *s, const struct smtp_cmd *c)
{
    if (c->has_arg) {
        smtp_reply(s, R_NO_ARGUMENTS, "QUIT");
        return;
    }
    smtp_reply(s, R_BYE, NULL);
    session_close(s);
}

/* The verbs as gate26_commands_total{verb} counts them. */
static const enum metrics_verb metrics_verbs[] = {
    [SMTP_VERB_UNKNOWN] = METRICS_VERB_UNKNOWN, [SMTP_VERB_HELO] = METRICS_VERB_HELO,
    [SMTP_VERB_EHLO] = METRICS_VERB_EHLO,       [SMTP_VERB_MAIL] = METRICS_VERB_MAIL,
    [SMTP_VERB_RCPT] = METRICS_VERB_RCPT,       [SMTP_VERB_DATA] = METRICS_VERB_DATA,
    [SMTP_VERB_BDAT] = METRICS_VERB_BDAT,       [SMTP_VERB_RSET] = METRICS_VERB_RSET,
    [SMTP_VERB_NOOP] = METRICS_VERB_NOOP,       [SMTP_VERB_QUIT] = METRICS_VERB_QUIT,
    [SMTP_VERB_VRFY] = METRICS_VERB_VRFY,       [SMTP_VERB_EXPN] = METRICS_VERB_EXPN,
    [SMTP_VERB_HELP] = METRICS_VERB_HELP,       [SMTP_VERB_STARTTLS] = METRICS_VERB_STARTTLS,
    [SMTP_VERB_AUTH] = METRICS_VERB_AUTH,       [SMTP_VERB_ETRN] = METRICS_VERB_ETRN,
};

void
smtp_command(struct smtp_session *s, const char *line, size_t len)
{
    struct smtp_cmd c;

    if (s->state == SMTP_ST_AUTH) {
        /* Not a command: the client's answer to our 334 (RFC 4954 4). */
        smtp_auth_continue(s, line, len);
        return;
    }
    if (smtp_cmd_parse(slice_make(line, len), &c) == -1) {
        metrics_command(s->door->role, METRICS_VERB_UNKNOWN);
        s->verb = SMTP_VERB_UNKNOWN;
        smtp_reply(s, R_SYNTAX, NULL);
        return;
    }
    metrics_command(s->door->role, (size_t)c.verb < sizeof(metrics_verbs) / sizeof(metrics_verbs[0])
                                       ? metrics_verbs[c.verb]
                                       : METRICS_VERB_UNKNOWN);
    s->verb = c.verb;
    if (len + 2 > smtp_cmd_line_cap(c.verb)) {
        smtp_reply(s, R_LINE_TOO_LONG, NULL);
        return;
    }
    /* Refused on the greeting (a DNSBL listing): RFC 5321 3.1, 503 to all but QUIT. */
    if (s->greeting_refused && c.verb != SMTP_VERB_QUIT) {
        smtp_reply(s, R_BAD_SEQUENCE, NULL);
        return;
    }
    switch (c.verb) {
    case SMTP_VERB_HELO:
    case SMTP_VERB_EHLO:
        cmd_helo(s, &c, c.verb == SMTP_VERB_EHLO);
        break;
    case SMTP_VERB_MAIL:
        cmd_mail(s, &c);
        break;
    case SMTP_VERB_RCPT:
        cmd_rcpt(s, &c);
        break;
    case SMTP_VERB_DATA:
        cmd_data(s, &c);
        break;
    case SMTP_VERB_BDAT:
        cmd_bdat(s, &c);
        break;
    case SMTP_VERB_RSET:
        cmd_rset(s, &c);
        break;
    case SMTP_VERB_NOOP:
        /* RFC 5321 4.1.1.9: NOOP may carry a string, which is ignored. */
        smtp_reply(s, R_OKAY, NULL);
        break;
    case SMTP_VERB_QUIT:
        cmd_quit(s, &c);
        break;
    case SMTP_VERB_VRFY:
        /* RFC 5321 3.5.3: 252, so that nobody can enumerate users. */
        smtp_reply(s, c.has_arg ? R_VRFY : R_ARGUMENT_NEEDED, "VRFY");
        break;
    case SMTP_VERB_HELP:
        smtp_reply(s, R_HELP, NULL);
        break;
    case SMTP_VERB_STARTTLS:
        smtp_cmd_starttls(s, &c);
        break;
    case SMTP_VERB_AUTH:
        smtp_cmd_auth(s, &c);
        break;
    case SMTP_VERB_EXPN:
    case SMTP_VERB_ETRN:
        smtp_reply(s, R_NOT_IMPLEMENTED, NULL);
        break;
    case SMTP_VERB_UNKNOWN:
        smtp_reply(s, R_UNKNOWN_COMMAND, NULL);
        break;
    }
}
