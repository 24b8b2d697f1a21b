/* SPDX-License-Identifier: MIT */
/*
 * The checks of a message at the end of its data (docs/checks.md): DKIM
 * verification and then DMARC, clamd, rspamd and the milters, all at once
 * on the loop, each reading the message back from the spool; then the
 * decision, before the reply to the data. A checker that fails, is slow
 * past the door's timeout or answers garbage is an error that `on-error`
 * turns into a tempfail or lets pass.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "checks/message_run.h"
#include "checks/milter_reply.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mailauth/msghdr.h"
#include "spool/spool.h"

/* Octets read from the spool at a time for DKIM's body hash. */
#define CHECKS_READ_CHUNK 65536

ssize_t
checks_reader_read(void *arg, char *buf, size_t cap)
{
    struct checks_reader *rd = arg;
    ssize_t n;

    if (rd->off >= rd->end)
        return 0;
    if (cap > rd->end - rd->off)
        cap = (size_t)(rd->end - rd->off);
    n = spool_msg_pread(rd->msg, rd->off, buf, cap);
    if (n > 0)
        rd->off += (uint64_t)n;
    else if (n == 0)
        return -1; /* shorter than its size: the spool lost it */
    return n;
}

static void
reader_init(struct checks_reader *rd, struct checks_message_run *run, uint64_t from)
{
    rd->msg = run->m.msg;
    rd->off = from;
    rd->end = run->size;
}

/* ---- Reading the header section back ---- */

/* Finds the header section: hdr, hdr_len, body_off, has_sep, hdr_ok. -1: the spool failed. */
static int
read_header(struct checks_message_run *run)
{
    size_t cap = run->size < CHECKS_HEADER_MAX ? (size_t)run->size : CHECKS_HEADER_MAX;
    size_t got = 0;
    char *p;

    run->hdr = xmalloc(cap + 1);
    while (got < cap) {
        ssize_t n = spool_msg_pread(run->m.msg, got, run->hdr + got, cap - got);

        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    run->hdr[got] = '\0';
    p = memmem(run->hdr, got, "\r\n\r\n", 4);
    if (p != NULL) {
        run->hdr_len = (size_t)(p - run->hdr) + 2;
        run->body_off = run->hdr_len + 2;
        run->has_sep = true;
    } else if (got == run->size) {
        /* No empty line: all header, no body (or the content is not fields at all). */
        run->hdr_len = got;
        run->body_off = run->size;
    } else {
        run->hdr_len = 0; /* over CHECKS_HEADER_MAX: not edited */
        run->body_off = 0;
        return 0;
    }
    {
        struct msghdr_section h = {0};
        const char *why;

        run->hdr_ok =
            msghdr_parse(&h, slice_make(run->hdr, run->hdr_len), DKIM_MAX_FIELDS, &why) == 0;
        msghdr_clear(&h);
    }
    return 0;
}

/* ---- Pending work ---- */

static void
finish_later(struct checks_message_run *run)
{
    if (run->pending == 0)
        event_active(run->finish, 0, 0);
}

static void
one_done(struct checks_message_run *run)
{
    run->pending--;
    finish_later(run);
}

/* ---- DMARC ---- */

static void
dmarc_answered(void *arg, const struct dmarc_result *r)
{
    struct checks_message_run *run = arg;

    run->dmarc = *r; /* r lives in the evaluation: copied before it is freed */
    run->dmarc_ran = true;
    dmarc_eval_free(run->de);
    run->de = NULL;
    checks_count(run->cs, "dmarc", dmarc_status_name(run->dmarc.status));
    checks_say(run->cs, CW_DMARC, dmarc_status_name(run->dmarc.status));
    one_done(run);
}

bool
checks_from_domain(const char *hdr, size_t len, char *out, size_t cap, char *why, size_t whycap)
{
    struct msghdr_section h = {0};
    const char *pwhy;
    const struct msghdr_field *from = NULL;
    size_t n = 0;
    bool ok = false;

    if (msghdr_parse(&h, slice_make(hdr, len), DKIM_MAX_FIELDS, &pwhy) == -1) {
        (void)str_copyz(why, whycap, "no readable header section");
        return false;
    }
    for (size_t i = 0; i < h.n; i++)
        if (msghdr_name_is(&h.f[i], "From")) {
            from = &h.f[i];
            n++;
        }
    if (n != 1) {
        (void)str_copyz(why, whycap, n == 0 ? "no From field" : "more than one From field");
    } else {
        enum dmarc_from st = dmarc_from_domain(from->value, out, cap);

        ok = st == DMARC_FROM_OK;
        if (!ok)
            (void)str_fmt(why, whycap, "From field: %s", dmarc_from_name(st));
    }
    msghdr_clear(&h);
    return ok;
}

static void
dmarc_start(struct checks_message_run *run)
{
    struct checks_session *cs = run->cs;
    const char *dkim_domains[16];
    struct dmarc_input in = {0};
    char from[DMARC_DOMAIN_MAX + 1], why[96];
    size_t n = 0;

    if (cs->ck->psl == NULL) {
        memset(&run->dmarc, 0, sizeof(run->dmarc));
        run->dmarc.status = DMARC_TEMPERROR;
        (void)str_copyz(run->dmarc.reason, sizeof(run->dmarc.reason), "no public suffix list");
        run->dmarc_ran = true;
        checks_count(cs, "dmarc", "temperror");
        checks_say(cs, CW_DMARC, "temperror");
        one_done(run);
        return;
    }
    if (!run->hdr_ok)
        (void)str_copyz(why, sizeof(why), "no readable header section");
    if (!run->hdr_ok ||
        !checks_from_domain(run->hdr, run->hdr_len, from, sizeof(from), why, sizeof(why))) {
        memset(&run->dmarc, 0, sizeof(run->dmarc));
        run->dmarc.status = DMARC_PERMERROR;
        (void)str_copyz(run->dmarc.reason, sizeof(run->dmarc.reason), why);
        run->dmarc_ran = true;
        checks_count(cs, "dmarc", "permerror");
        checks_say(cs, CW_DMARC, "permerror");
        one_done(run);
        return;
    }
    for (size_t i = 0; i < run->n_dkim && n < 16; i++)
        if (run->dkim[i].status == DKIM_PASS)
            dkim_domains[n++] = run->dkim[i].d;
    in.from_domain = from;
    in.spf_domain = cs->spf_domain[0] != '\0' ? cs->spf_domain : NULL;
    in.spf_pass = cs->spf_done && cs->spf_answer.result == SPF_PASS;
    in.dkim_domains = dkim_domains;
    in.n_dkim = n;
    run->de = dmarc_eval_new(cs->ck->psl, &cs->ck->dmarc_dns, dmarc_answered, run);
    dmarc_eval_start(run->de, &in);
}

/* ---- DKIM ---- */

static void
dkim_verified(void *arg, struct dkim_verify *v)
{
    struct checks_message_run *run = arg;
    const struct dkim_result *r = dkim_verify_results(v, &run->n_dkim);

    run->dkim = run->n_dkim > 0 ? xmalloc(run->n_dkim * sizeof(*r)) : NULL;
    if (run->n_dkim > 0)
        memcpy(run->dkim, r, run->n_dkim * sizeof(*r));
    for (size_t i = 0; i < run->n_dkim; i++)
        checks_count(run->cs, "dkim", dkim_status_name(r[i].status));
    if (run->n_dkim == 0)
        checks_count(run->cs, "dkim", "none");
    checks_say(run->cs, CW_DKIM, run->n_dkim > 0 ? dkim_status_name(r[0].status) : "none");
    if (run->cs->cc->dmarc != CONF_DMARC_OFF) {
        dmarc_start(run); /* pending passes on to DMARC */
        return;
    }
    one_done(run);
}

/* Feeds the verifier the header section (without our Received) and the body. */
static int
dkim_start(struct checks_message_run *run)
{
    uint64_t skip = run->m.skip;
    char *buf;

    run->dv = dkim_verify_new(&run->cs->ck->dkim_dns, time(NULL));
    if (run->hdr_len > skip)
        (void)dkim_verify_header(run->dv, run->hdr + skip, run->hdr_len - skip);
    else
        (void)dkim_verify_header(run->dv, "", 0);
    buf = xmalloc(CHECKS_READ_CHUNK);
    for (uint64_t off = run->body_off; off < run->size;) {
        size_t want =
            run->size - off < CHECKS_READ_CHUNK ? (size_t)(run->size - off) : CHECKS_READ_CHUNK;
        ssize_t n = spool_msg_pread(run->m.msg, off, buf, want);

        if (n <= 0) {
            free(buf);
            return -1;
        }
        dkim_verify_body(run->dv, buf, (size_t)n);
        off += (uint64_t)n;
    }
    free(buf);
    run->pending++;
    dkim_verify_finish(run->dv, dkim_verified, run);
    return 0;
}

/* ---- clamd and rspamd ---- */

static unsigned
timeout_ms(const struct checks_session *cs)
{
    return (cs->cc->timeout > 0 ? cs->cc->timeout : 30) * 1000u;
}

static void
clamd_answered(void *arg, const struct clamd_result *r)
{
    struct checks_message_run *run = arg;

    run->clamd = NULL;
    run->clamd_res = *r;
    run->clamd_ran = true;
    checks_count(run->cs, "antivirus", clamd_status_name(r->status));
    checks_say(run->cs, CW_AV, clamd_status_name(r->status));
    one_done(run);
}

static void
clamd_start(struct checks_message_run *run)
{
    struct clamd_target t;
    struct clamd_result r = {.status = CLAMD_ERROR};

    if (clamd_target_parse(run->cs->cc->antivirus, &t, r.error, sizeof(r.error)) == -1) {
        run->pending++;
        clamd_answered(run, &r);
        return;
    }
    reader_init(&run->clamd_rd, run, 0);
    run->pending++;
    run->clamd = clamd_scan_start(run->cs->ck->deps.base, &t, timeout_ms(run->cs),
                                  checks_reader_read, &run->clamd_rd, clamd_answered, run);
}

static void
rspamd_answered(void *arg, const struct rspamd_result *r)
{
    struct checks_message_run *run = arg;
    char score[24];

    run->rspamd = NULL;
    run->rspamd_res = *r;
    run->rspamd_ran = true;
    if (r->status == RSPAMD_OK) {
        const struct conf_checks *cc = run->cs->cc;

        (void)str_fmt(score, sizeof(score), "%.1f", r->score);
        checks_say(run->cs, CW_SPAM, score);
        checks_count(run->cs, "spam",
                     cc->spam_reject.set && r->score >= cc->spam_reject.value ? "reject"
                     : cc->spam_quarantine.set && r->score >= cc->spam_quarantine.value
                         ? "quarantine"
                     : cc->spam_header.set && r->score >= cc->spam_header.value ? "header"
                                                                                : "ham");
    } else {
        checks_say(run->cs, CW_SPAM, rspamd_status_name(r->status));
        checks_count(run->cs, "spam", rspamd_status_name(r->status));
    }
    one_done(run);
}

static void
rspamd_start(struct checks_message_run *run)
{
    const struct checks_message *m = &run->m;
    struct rspamd_request req = {
        .url = run->cs->cc->spam,
        .ip = run->cs->addr_text,
        .helo = m->helo,
        .from = m->sender[0] != '\0' ? m->sender : "<>",
        .rcpt = m->rcpts,
        .n_rcpt = m->n_rcpts,
        .queue_id = m->queue_id,
        .user = m->user,
        .size = (size_t)run->size,
        .timeout_ms = timeout_ms(run->cs),
    };
    struct rspamd_result r = {.status = RSPAMD_ERROR};

    run->pending++;
    if (run->cs->ck->deps.curl == NULL) {
        (void)str_copyz(r.error, sizeof(r.error), "no HTTP client");
        rspamd_answered(run, &r);
        return;
    }
    reader_init(&run->rspamd_rd, run, 0);
    run->rspamd = rspamd_scan_start(run->cs->ck->deps.curl, &req, checks_reader_read,
                                    &run->rspamd_rd, rspamd_answered, run);
}

/* ---- milters ---- */

static char *
dup_or_null(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

static void
milter_answered(void *arg, const struct milter_result *r)
{
    struct checks_milter *cm = arg;
    struct checks_message_run *run = cm->run;

    cm->m = NULL;
    cm->done = true;
    cm->verdict = r->verdict;
    cm->code = r->code;
    cm->text = dup_or_null(r->text);
    cm->quarantine = dup_or_null(r->quarantine);
    if (r->n_mods > 0) {
        cm->mods = xcalloc(r->n_mods, sizeof(*cm->mods));
        for (size_t i = 0; i < r->n_mods; i++) {
            cm->mods[i].kind = r->mods[i].kind;
            cm->mods[i].index = r->mods[i].index;
            cm->mods[i].name = dup_or_null(r->mods[i].name);
            cm->mods[i].value = dup_or_null(r->mods[i].value);
        }
        cm->n_mods = r->n_mods;
    }
    if (r->body_replaced) {
        cm->body_replaced = true;
        cm->body = xmalloc(r->body_len + 1);
        memcpy(cm->body, r->body, r->body_len);
        cm->body_len = r->body_len;
    }
    checks_count(run->cs, "milter",
                 r->verdict == MILTER_ERROR      ? "error"
                 : r->verdict == MILTER_ACCEPT   ? (r->quarantine != NULL ? "quarantine" : "accept")
                 : r->verdict == MILTER_DISCARD  ? "discard"
                 : r->verdict == MILTER_TEMPFAIL ? "tempfail"
                 : r->verdict == MILTER_REJECT   ? "reject"
                 : r->code >= 500                ? "reject"
                                                 : "tempfail");
    if (r->verdict == MILTER_ERROR)
        log_warning("%s: event=milter, milter=%s, error=\"%s\"", run->m.queue_id, cm->spec,
                    r->text != NULL ? r->text : "");
    one_done(run);
}

static void
milters_start(struct checks_message_run *run)
{
    const struct checks_session *cs = run->cs;
    const struct checks_message *m = &run->m;
    struct milter_env *env = &run->milter_env;
    *env = (struct milter_env){
        .hostname = cs->conf->hostname,
        .daemon_name = conf_role_name(cs->cl.door),
        .queue_id = m->queue_id,
        .client_addr = cs->addr_text,
        .client_port = cs->cl.port,
        .helo = m->helo[0] != '\0' ? m->helo : NULL,
        .auth_authen = m->user,
        .tls_version = m->tls_version,
        .mail_from = m->sender,
        .rcpts = m->rcpts,
        .n_rcpts = m->n_rcpts,
    };
    struct milter_opts opts = {
        .connect_ms = timeout_ms(cs),
        .reply_ms = timeout_ms(cs),
        .total_ms = timeout_ms(cs),
        .body_max = (size_t)cs->cl.max_message_size,
    };
    (void)str_fmt(run->client_name, sizeof(run->client_name), "[%s]", cs->addr_text);
    env->client_name = run->client_name;
    for (size_t i = 0; i < cs->cc->n_milters; i++) {
        struct checks_milter *cm = &run->milters[run->n_milters++];
        struct milter_addr a;
        char err[256];

        cm->run = run;
        (void)str_copyz(cm->spec, sizeof(cm->spec), cs->cc->milters[i]);
        run->pending++;
        if (milter_addr_parse(cm->spec, &a, err, sizeof(err)) == -1) {
            struct milter_result r = {.verdict = MILTER_ERROR, .text = err};

            milter_answered(cm, &r);
            continue;
        }
        reader_init(&cm->rd, run, 0);
        cm->m = milter_start(cs->ck->deps.base, &a, &opts, env, checks_reader_read, &cm->rd,
                             milter_answered, cm);
    }
}

static void
milter_clear(struct checks_milter *cm)
{
    milter_cancel(cm->m);
    free(cm->text);
    free(cm->quarantine);
    for (size_t i = 0; i < cm->n_mods; i++) {
        free(cm->mods[i].name);
        free(cm->mods[i].value);
    }
    free(cm->mods);
    free(cm->body);
    memset(cm, 0, sizeof(*cm));
}

/* ---- The decision ---- */

static int
rank(enum checks_action a)
{
    switch (a) {
    case CHECKS_REJECT:
        return 4;
    case CHECKS_TEMPFAIL:
        return 3;
    case CHECKS_QUARANTINE:
        return 2;
    case CHECKS_DISCARD:
        return 1;
    case CHECKS_ACCEPT:
        break;
    }
    return 0;
}

/* Keeps the stronger of v and a new verdict (the first of equals). */
static void
stronger(struct checks_verdict *v, enum checks_action a, enum checks_reason reason,
         const char *check, const char *text, const char *why)
{
    if (rank(a) <= rank(v->action))
        return;
    v->action = a;
    v->reason = reason;
    (void)str_copyz(v->check, sizeof(v->check), check);
    (void)str_copyz(v->text, sizeof(v->text), text != NULL ? text : "");
    (void)str_copyz(v->why, sizeof(v->why), why != NULL ? why : "");
}

static void
decide_milters(struct checks_message_run *run, struct checks_verdict *v, char *errors, size_t cap)
{
    for (size_t i = 0; i < run->n_milters; i++) {
        const struct checks_milter *cm = &run->milters[i];
        char why[CHECKS_TEXT_MAX];

        (void)str_fmt(why, sizeof(why), "milter %s: %s", cm->spec,
                      cm->quarantine != NULL ? cm->quarantine : milter_verdict_name(cm->verdict));
        switch (cm->verdict) {
        case MILTER_ACCEPT:
            if (cm->quarantine != NULL)
                stronger(v, CHECKS_QUARANTINE, CHECKS_R_NONE, "milter", NULL, why);
            break;
        case MILTER_REJECT:
            stronger(v, CHECKS_REJECT, CHECKS_R_MILTER, "milter",
                     "Message rejected by content filter", why);
            break;
        case MILTER_TEMPFAIL:
            stronger(v, CHECKS_TEMPFAIL, CHECKS_R_MILTER_TEMP, "milter",
                     "Message deferred by content filter, try again later", why);
            break;
        case MILTER_REPLYCODE: {
            char line[CHECKS_TEXT_MAX];
            enum checks_action a = cm->code >= 500 ? CHECKS_REJECT : CHECKS_TEMPFAIL;

            if (milter_reply_line(cm->code, cm->text, line, sizeof(line)))
                stronger(v, a, CHECKS_R_MILTER_REPLY, "milter", line, why);
            else if (a == CHECKS_REJECT)
                stronger(v, a, CHECKS_R_MILTER, "milter", "Message rejected by content filter",
                         why);
            else
                stronger(v, a, CHECKS_R_MILTER_TEMP, "milter",
                         "Message deferred by content filter, try again later", why);
            break;
        }
        case MILTER_DISCARD:
            stronger(v, CHECKS_DISCARD, CHECKS_R_NONE, "milter", NULL, why);
            break;
        case MILTER_ERROR:
            (void)str_fmt(errors + strlen(errors), cap - strlen(errors), "%smilter",
                          errors[0] != '\0' ? " " : "");
            break;
        }
    }
    if (run->n_milters > 0) {
        const char *said = "accept";

        for (size_t i = 0; i < run->n_milters; i++)
            if (run->milters[i].verdict != MILTER_ACCEPT)
                said = milter_verdict_name(run->milters[i].verdict);
        checks_say(run->cs, CW_MILTER, said);
    }
}

static void
decide(struct checks_message_run *run, struct checks_verdict *v)
{
    const struct conf_checks *cc = run->cs->cc;
    char errors[128] = "", text[CHECKS_TEXT_MAX];

    memset(v, 0, sizeof(*v));
    v->action = CHECKS_ACCEPT;
    if (run->dmarc_ran && cc->dmarc == CONF_DMARC_ENFORCE) {
        const struct dmarc_result *d = &run->dmarc;

        if (d->status == DMARC_FAIL && d->policy == DMARC_POLICY_REJECT) {
            (void)str_fmt(text, sizeof(text), "by the DMARC policy of %s", d->policy_domain);
            stronger(v, CHECKS_REJECT, CHECKS_R_DMARC, "dmarc", text, d->reason);
        } else if (d->status == DMARC_FAIL && d->policy == DMARC_POLICY_QUARANTINE) {
            (void)str_fmt(text, sizeof(text), "dmarc: p=quarantine of %s (%s)", d->policy_domain,
                          d->reason);
            stronger(v, CHECKS_QUARANTINE, CHECKS_R_NONE, "dmarc", NULL, text);
        } else if (d->status == DMARC_PERMERROR && d->policy_domain[0] == '\0') {
            /* No single From (RFC 7489 6.6.1): a policy could be evaded; refused. */
            (void)str_fmt(text, sizeof(text), "for its From field (%s)", d->reason);
            stronger(v, CHECKS_REJECT, CHECKS_R_DMARC, "dmarc", text, d->reason);
        }
    }
    if (run->clamd_ran) {
        const struct clamd_result *r = &run->clamd_res;

        if (r->status == CLAMD_INFECTED) {
            (void)str_fmt(text, sizeof(text), "virus found: %s", r->name);
            if (cc->antivirus_action == CONF_ACTION_QUARANTINE)
                stronger(v, CHECKS_QUARANTINE, CHECKS_R_NONE, "antivirus", NULL, text);
            else
                stronger(v, CHECKS_REJECT, CHECKS_R_VIRUS, "antivirus", r->name, text);
        } else if (r->status != CLAMD_CLEAN) {
            log_warning("%s: event=antivirus, status=%s, error=\"%s\"", run->m.queue_id,
                        clamd_status_name(r->status), r->error);
            (void)str_fmt(errors + strlen(errors), sizeof(errors) - strlen(errors), "%santivirus",
                          errors[0] != '\0' ? " " : "");
        }
    }
    if (run->rspamd_ran) {
        const struct rspamd_result *r = &run->rspamd_res;

        if (r->status == RSPAMD_OK) {
            char score[24];

            (void)str_fmt(score, sizeof(score), "%.1f", r->score);
            if (cc->spam_reject.set && r->score >= cc->spam_reject.value) {
                (void)str_fmt(text, sizeof(text), "spam: score %s >= %.1f", score,
                              cc->spam_reject.value);
                stronger(v, CHECKS_REJECT, CHECKS_R_SPAM, "spam", score, text);
            } else if (cc->spam_quarantine.set && r->score >= cc->spam_quarantine.value) {
                (void)str_fmt(text, sizeof(text), "spam: score %s >= %.1f", score,
                              cc->spam_quarantine.value);
                stronger(v, CHECKS_QUARANTINE, CHECKS_R_NONE, "spam", NULL, text);
            }
        } else {
            log_warning("%s: event=spam, status=%s, error=\"%s\"", run->m.queue_id,
                        rspamd_status_name(r->status), r->error);
            (void)str_fmt(errors + strlen(errors), sizeof(errors) - strlen(errors), "%sspam",
                          errors[0] != '\0' ? " " : "");
        }
    }
    decide_milters(run, v, errors, sizeof(errors));
    if (errors[0] != '\0' && !cc->on_error_accept) {
        (void)str_fmt(text, sizeof(text), "checks failed: %s", errors);
        stronger(v, CHECKS_TEMPFAIL, CHECKS_R_UNAVAILABLE, "error", errors, text);
    }
}

static const char *
action_name(enum checks_action a)
{
    static const char *const names[] = {"accept", "reject", "tempfail", "quarantine", "discard"};

    return names[a];
}

/* Everything has answered: decide, edit the message, answer the session. */
static void
finish(evutil_socket_t fd, short what, void *arg)
{
    struct checks_message_run *run = arg;
    struct checks_session *cs = run->cs;
    checks_done_fn *done = run->done;
    void *done_arg = run->arg;
    struct checks_verdict v;

    (void)fd;
    (void)what;
    decide(run, &v);
    if (v.action == CHECKS_ACCEPT || v.action == CHECKS_QUARANTINE) {
        char err[256];

        if (checks_message_edit(run, err, sizeof(err)) == -1) {
            log_warning("%s: event=checks, error=\"%s\"", run->m.queue_id, err);
            memset(&v, 0, sizeof(v));
            v.action = CHECKS_TEMPFAIL;
            v.reason = CHECKS_R_UNAVAILABLE;
            (void)str_copyz(v.text, sizeof(v.text), "message");
            (void)str_copyz(v.why, sizeof(v.why), err);
        }
    }
    metrics_check_decision(cs->cl.door, action_name(v.action));
    done(done_arg, &v); /* may reset the transaction, which frees run */
}

/* ---- The entry points ---- */

void
checks_message(struct checks_session *cs, const struct checks_message *m, checks_done_fn *done,
               void *arg)
{
    struct checks_message_run *run;

    checks_message_cancel(cs);
    run = xcalloc(1, sizeof(*run));
    cs->run = run;
    run->cs = cs;
    run->m = *m;
    run->done = done;
    run->arg = arg;
    run->size = spool_msg_size(m->msg);
    run->finish = event_new(cs->ck->deps.base, -1, 0, finish, run);
    if (run->finish == NULL)
        log_panic("checks: event_new failed");
    if (read_header(run) == -1) {
        /* The spool cannot read its own message: the commit will fail too. */
        run->hdr_len = 0;
        run->hdr_ok = false;
    }
    if ((cs->cc->dkim & CONF_DKIM_VERIFY) || cs->cc->dmarc != CONF_DMARC_OFF) {
        if (dkim_start(run) == -1)
            log_warning("%s: event=checks, error=\"cannot read the message back: %s\"", m->queue_id,
                        strerror(errno));
    }
    if (cs->cc->antivirus[0] != '\0')
        clamd_start(run);
    if (cs->cc->spam[0] != '\0')
        rspamd_start(run);
    milters_start(run);
    finish_later(run);
}

void
checks_message_cancel(struct checks_session *cs)
{
    struct checks_message_run *run = cs->run;

    if (run == NULL)
        return;
    cs->run = NULL;
    if (run->finish != NULL)
        event_free(run->finish);
    dkim_verify_free(run->dv);
    dmarc_eval_free(run->de);
    clamd_scan_cancel(run->clamd);
    rspamd_scan_cancel(run->rspamd);
    for (size_t i = 0; i < run->n_milters; i++)
        milter_clear(&run->milters[i]);
    free(run->dkim);
    free(run->hdr);
    free(run);
}
