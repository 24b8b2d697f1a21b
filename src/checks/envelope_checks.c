/* SPDX-License-Identifier: MIT */
/*
 * The checks of the envelope (docs/checks.md, "Where each check runs"):
 * DNSBL and DNSWL at connect, SPF from MAIL (started there, its verdict
 * waited for at the first RCPT), greylisting at each RCPT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>

#include "checks/checks_impl.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

struct checks_session *
checks_session_new(struct checks *ck, const struct conf *conf, const struct checks_client *cl)
{
    const struct conf_checks *cc;
    struct checks_session *cs;

    if (ck == NULL || (unsigned)cl->door >= DOOR_ROLE_COUNT)
        return NULL;
    cc = &conf->checks[cl->door];
    if (cc->line == 0)
        return NULL;
    cs = xcalloc(1, sizeof(*cs));
    cs->ck = ck;
    cs->conf = conf;
    cs->cc = cc;
    cs->cl = *cl;
    (void)str_copyz(cs->addr_text, sizeof(cs->addr_text), cl->addr_text);
    cs->cl.addr_text = cs->addr_text;
    return cs;
}

void
checks_session_free(struct checks_session *cs)
{
    if (cs == NULL)
        return;
    checks_txn_reset(cs);
    dnsbl_cancel(cs->dnsbl);
    if (cs->wait_ev != NULL)
        event_free(cs->wait_ev);
    free(cs);
}

void
checks_txn_reset(struct checks_session *cs)
{
    if (cs == NULL)
        return;
    checks_message_cancel(cs);
    spf_eval_free(cs->spf);
    cs->spf = NULL;
    cs->spf_done = false;
    cs->wait_done = NULL;
    if (cs->wait_ev != NULL)
        (void)event_del(cs->wait_ev);
    cs->greylist_ran = cs->greylist_deferred = false;
    for (int w = 0; w < CW_COUNT; w++)
        if (w != CW_DNSBL)
            cs->said[w].ran = false;
    cs->log_field[0] = '\0';
}

/* ---- connect: DNSBL and DNSWL ---- */

/* The refusal of a listed client, or false when it is not refused. */
static bool
dnsbl_refusal(const struct checks_session *cs, struct checks_verdict *v)
{
    memset(v, 0, sizeof(*v));
    if (!cs->dnsbl_answer.listed || cs->dnsbl_answer.white)
        return false;
    v->action = CHECKS_REJECT;
    v->reason = CHECKS_R_DNSBL;
    (void)str_fmt(v->text, sizeof(v->text), "client [%s] blocked using %s", cs->addr_text,
                  cs->dnsbl_answer.zone);
    (void)str_fmt(v->why, sizeof(v->why), "dnsbl %s answered %s", cs->dnsbl_answer.zone,
                  cs->dnsbl_answer.code);
    return true;
}

static void rcpt_go_on(struct checks_session *cs);

static void
dnsbl_answered(void *arg, const struct dnsbl_answer *a)
{
    struct checks_session *cs = arg;
    struct checks_verdict v;
    /* A listing (black or white) is news; an unlisted client, the usual case, is debug. */
    enum log_level level =
        a->listed || a->white || a->n_tempfail > 0 ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG;

    cs->dnsbl = NULL;
    cs->dnsbl_done = true;
    cs->dnsbl_answer = *a;
    if (cs->cc->n_dnswl > 0)
        checks_count(cs, "dnswl", a->white ? "listed" : "not-listed");
    if (cs->cc->n_dnsbl > 0)
        checks_count(cs, "dnsbl", a->listed && !a->white ? "listed" : "not-listed");
    if (a->n_tempfail > 0)
        checks_count(cs, "dnsbl", "temperror");
    checks_say(cs, CW_DNSBL,
               a->white            ? "white"
               : a->listed         ? "listed"
               : a->n_tempfail > 0 ? "temperror"
                                   : "pass");
    if (log_enabled(level))
        log_write(level, "-: client=[%s], event=dnsbl, result=%s%s%s%s%s, tempfail=%u",
                  cs->addr_text,
                  a->white    ? "white"
                  : a->listed ? "listed"
                              : "not-listed",
                  a->zone[0] != '\0' ? ", zone=" : "", a->zone,
                  a->code[0] != '\0' ? ", answer=" : "", a->code, a->n_tempfail);
    if (cs->wait_done == NULL)
        return; /* RCPT asks later (dnsbl-reply rcpt) */
    if (!cs->cc->dnsbl_at_rcpt) {
        checks_done_fn *done = cs->wait_done;

        cs->wait_done = NULL;
        if (!dnsbl_refusal(cs, &v))
            v.action = CHECKS_ACCEPT;
        done(cs->wait_arg, &v);
        return;
    }
    rcpt_go_on(cs); /* a RCPT waited for the answer */
}

bool
checks_connect(struct checks_session *cs, checks_done_fn *done, void *arg)
{
    const char *bl[CONF_CHECKS_ZONES_MAX], *wl[CONF_CHECKS_ZONES_MAX];

    if (cs->cc->n_dnsbl == 0 && cs->cc->n_dnswl == 0) {
        cs->dnsbl_done = true;
        return false;
    }
    for (size_t i = 0; i < cs->cc->n_dnsbl; i++)
        bl[i] = cs->cc->dnsbl[i];
    for (size_t i = 0; i < cs->cc->n_dnswl; i++)
        wl[i] = cs->cc->dnswl[i];
    cs->dnsbl = dnsbl_start(cs->ck->deps.dns, cs->cl.family, cs->cl.addr, bl, cs->cc->n_dnsbl, wl,
                            cs->cc->n_dnswl, dnsbl_answered, cs);
    if (cs->dnsbl == NULL) {
        cs->dnsbl_done = true;
        return false;
    }
    if (cs->cc->dnsbl_at_rcpt)
        return false;
    cs->wait_done = done;
    cs->wait_arg = arg;
    return true;
}

/* ---- MAIL: SPF ---- */

static void
spf_answered(void *arg, const struct spf_answer *a)
{
    struct checks_session *cs = arg;

    cs->spf_answer = *a; /* a lives in the evaluation: copied before it is freed */
    spf_eval_free(cs->spf);
    cs->spf = NULL;
    cs->spf_done = true;
    checks_count(cs, "spf", spf_result_name(cs->spf_answer.result));
    checks_say(cs, CW_SPF, spf_result_name(cs->spf_answer.result));
    if (cs->wait_done != NULL)
        rcpt_go_on(cs);
}

void
checks_mail(struct checks_session *cs, const char *helo, const char *sender)
{
    struct spf_ip ip;
    const char *at;

    (void)str_copyz(cs->helo, sizeof(cs->helo), helo);
    (void)str_copyz(cs->sender, sizeof(cs->sender), sender);
    cs->null_sender = sender[0] == '\0';
    at = strrchr(sender, '@');
    (void)str_copyz(cs->spf_domain, sizeof(cs->spf_domain), at != NULL ? at + 1 : helo);
    str_lower(cs->spf_domain, strlen(cs->spf_domain));
    if (!cs->cc->spf)
        return;
    memset(&ip, 0, sizeof(ip));
    ip.family = cs->cl.family;
    memcpy(ip.b, cs->cl.addr, cs->cl.family == AF_INET ? 4 : 16);
    memset(&cs->spf_answer, 0, sizeof(cs->spf_answer));
    cs->spf_done = false;
    cs->spf = spf_eval_start(&cs->ck->spf_dns, &ip, sender, helo, cs->conf->hostname,
                             (uint64_t)time(NULL), spf_answered, cs, &cs->spf_answer);
    if (cs->spf == NULL) {
        cs->spf_done = true;
        checks_count(cs, "spf", spf_result_name(cs->spf_answer.result));
        checks_say(cs, CW_SPF, spf_result_name(cs->spf_answer.result));
    }
}

/* ---- RCPT ---- */

/* SPF's verdict for a recipient: fail refused, temperror deferred, the rest go on. */
static bool
spf_refusal(const struct checks_session *cs, struct checks_verdict *v)
{
    const struct spf_answer *a = &cs->spf_answer;

    if (!cs->cc->spf)
        return false;
    if (a->result == SPF_FAIL) {
        v->action = CHECKS_REJECT;
        v->reason = CHECKS_R_SPF_FAIL;
        if (a->exp[0] != '\0')
            (void)str_fmt(v->text, sizeof(v->text), "%s does not permit [%s] to send its mail (%s)",
                          cs->spf_domain, cs->addr_text, a->exp);
        else
            (void)str_fmt(v->text, sizeof(v->text), "%s does not permit [%s] to send its mail",
                          cs->spf_domain, cs->addr_text);
        (void)str_fmt(v->why, sizeof(v->why), "spf fail by %s", a->mechanism);
        return true;
    }
    if (a->result == SPF_TEMPERROR) {
        v->action = CHECKS_TEMPFAIL;
        v->reason = CHECKS_R_SPF_TEMP;
        (void)str_copyz(v->text, sizeof(v->text), cs->spf_domain);
        (void)str_fmt(v->why, sizeof(v->why), "spf temperror: %s", a->reason);
        return true;
    }
    return false;
}

/* Splits "local@domain" at its last '@' into the parts greylisting takes. */
static void
split_addr(const char *addr, char *local, size_t lcap, char *domain, size_t dcap)
{
    const char *at = strrchr(addr, '@');

    if (at == NULL) {
        (void)str_copyz(local, lcap, addr);
        domain[0] = '\0';
        return;
    }
    (void)str_copy(local, lcap, addr, (size_t)(at - addr));
    (void)str_copyz(domain, dcap, at + 1);
}

/* Greylisting of the recipient: true with a deferral in v. */
static bool
greylist_refusal(struct checks_session *cs, const char *rcpt, struct checks_verdict *v)
{
    struct greylist *g = cs->ck->greylist;
    char sl[CAP_MAILBOX + 1], sd[CAP_DOMAIN + 1], rl[CAP_MAILBOX + 1], rd[CAP_DOMAIN + 1];
    struct greylist_triplet t;
    struct greylist_answer a;
    int64_t now = (int64_t)time(NULL);

    if (cs->cc->greylist == 0 || g == NULL || cs->dnsbl_answer.white)
        return false;
    split_addr(cs->sender, sl, sizeof(sl), sd, sizeof(sd));
    split_addr(rcpt, rl, sizeof(rl), rd, sizeof(rd));
    if (greylist_triplet_make(&t, cs->cl.family, cs->cl.addr, sl, sd, rl, rd) == -1)
        return false;
    /* A client with SPF pass for a domain that passed greylisting before skips it. */
    if (cs->spf_done && cs->spf_answer.result == SPF_PASS && t.sender_domain[0] != '\0' &&
        greylist_domain_passed(g, t.net, t.sender_domain, now)) {
        checks_count(cs, "greylist", "skip");
        if (!cs->greylist_ran)
            checks_say(cs, CW_GREYLIST, "skip");
        cs->greylist_ran = true;
        return false;
    }
    greylist_check(g, &t, now, &a);
    cs->greylist_ran = true;
    if (a.verdict == GREYLIST_PASS) {
        checks_count(cs, "greylist", a.degraded ? "error" : "pass");
        if (!cs->greylist_deferred)
            checks_say(cs, CW_GREYLIST, a.degraded ? "error" : "pass");
        return false;
    }
    checks_count(cs, "greylist", "defer");
    checks_say(cs, CW_GREYLIST, "defer");
    cs->greylist_deferred = true;
    v->action = CHECKS_TEMPFAIL;
    v->reason = CHECKS_R_GREYLIST;
    (void)str_fmt(v->text, sizeof(v->text), "<%s>: Greylisted, try again in %u seconds", rcpt,
                  a.left);
    (void)str_fmt(v->why, sizeof(v->why), "greylisted for %u seconds", a.left);
    return true;
}

/* The verdict of a recipient once DNSBL and SPF have answered. */
static void
rcpt_verdict(struct checks_session *cs, const char *rcpt, bool postmaster, struct checks_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->action = CHECKS_ACCEPT;
    if (cs->cc->dnsbl_at_rcpt && !postmaster && dnsbl_refusal(cs, v))
        return;
    if (spf_refusal(cs, v))
        return;
    if (greylist_refusal(cs, rcpt, v))
        return;
    memset(v, 0, sizeof(*v));
    v->action = CHECKS_ACCEPT;
}

/* What RCPT waited for has answered: its verdict now. */
static void
rcpt_go_on(struct checks_session *cs)
{
    checks_done_fn *done = cs->wait_done;
    struct checks_verdict v;

    if ((cs->cc->dnsbl_at_rcpt && !cs->dnsbl_done) || (cs->cc->spf && !cs->spf_done))
        return; /* the other one is still out */
    cs->wait_done = NULL;
    rcpt_verdict(cs, cs->wait_rcpt, cs->wait_postmaster, &v);
    done(cs->wait_arg, &v);
}

bool
checks_rcpt(struct checks_session *cs, const char *rcpt, bool postmaster, checks_done_fn *done,
            void *arg)
{
    struct checks_verdict v;

    if ((cs->cc->dnsbl_at_rcpt && !cs->dnsbl_done) || (cs->cc->spf && !cs->spf_done)) {
        (void)str_copyz(cs->wait_rcpt, sizeof(cs->wait_rcpt), rcpt);
        cs->wait_postmaster = postmaster;
        cs->wait_done = done;
        cs->wait_arg = arg;
        return true;
    }
    rcpt_verdict(cs, rcpt, postmaster, &v);
    if (v.action == CHECKS_ACCEPT)
        return false;
    checks_answer_later(cs, &v, done, arg);
    return true;
}
