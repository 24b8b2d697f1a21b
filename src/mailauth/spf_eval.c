/* SPDX-License-Identifier: MIT */
/*
 * check_host() (RFC 7208 4) as an asynchronous state machine: one lookup
 * in flight at a time, through the caller's struct spf_dns; each answer
 * resumes the evaluation where it stopped. Included and redirected records
 * are frames on a stack (4.6.4's limit of 10 DNS mechanisms and modifiers
 * bounds its depth and catches loops: an include of itself ends as
 * permerror at the 11th). Also counted: void lookups (2, 4.6.4; every
 * lookup of a mechanism that gives NODATA or NXDOMAIN, the addresses of MX
 * and PTR names too), MX names (more than 10: permerror, 4.6.4) and PTR
 * names (the first 10 are used, 4.6.4). The explanation of a fail (6.2)
 * costs one TXT lookup outside the limits; failures there only leave it
 * out. The p macro and the ptr mechanism validate the client's names
 * (5.5): PTR names whose addresses include the client.
 *
 * A lookup's callback gets a small ticket, not the evaluation, so that
 * spf_eval_free() with a lookup in flight only cuts the ticket loose.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mailauth/spf.h"
#include "mailauth/spf_ascii.h"

#define SPF_NAME_CAP 256
/* The first record, then at most 10 includes or redirects (4.6.4). */
#define SPF_DEPTH_MAX (SPF_MAX_DNS_MECHS + 2)
#define SPF_LOCAL_CAP 65

enum spf_step {
    ST_IDLE,
    ST_RECORD,    /* the TXT records of the top frame's domain */
    ST_A,         /* a: the addresses of the target */
    ST_EXISTS,    /* exists: A records of the target */
    ST_MX,        /* mx: the MX names */
    ST_MX_ADDRS,  /* mx: the addresses of names[kname] */
    ST_PTR,       /* validation: the PTR names of the client */
    ST_PTR_ADDRS, /* validation: the addresses of names[kname] */
    ST_EXP,       /* the explanation's TXT */
};

/* Why names are being validated (5.5). */
enum spf_val_for {
    VAL_FOR_PTR,      /* the ptr mechanism */
    VAL_FOR_P,        /* the p macro of the mechanism about to run */
    VAL_FOR_REDIRECT, /* the p macro of redirect= */
    VAL_FOR_EXP,      /* the p macro of exp= or of the explanation's text */
};

struct spf_frame {
    char domain[SPF_NAME_CAP];
    char *text; /* the record, ours; rec's slices point into it */
    struct spf_record rec;
    size_t next;      /* the mechanism to look at next */
    bool is_include;  /* its result goes to the include that pushed it */
    bool by_redirect; /* reached through redirect= (no record: permerror, 6.1) */
};

struct spf_ticket {
    struct spf_eval *e; /* NULL once the evaluation is freed */
};

struct spf_eval {
    struct spf_dns dns;
    struct spf_ip ip;
    char sender[SPF_LOCAL_CAP + SPF_NAME_CAP];
    char local[SPF_LOCAL_CAP];
    char sender_domain[SPF_NAME_CAP];
    char helo[SPF_NAME_CAP];
    char receiver[SPF_NAME_CAP];
    uint64_t t;
    spf_done_fn *done;
    void *arg;
    struct spf_frame frames[SPF_DEPTH_MAX];
    size_t depth;
    enum spf_step step;
    struct spf_ticket *ticket; /* of the lookup in flight */
    unsigned lookups, voids;
    /* The mechanism being evaluated. */
    char target[SPF_NAME_CAP];
    char names[SPF_MAX_PTR_NAMES > SPF_MAX_MX_NAMES ? SPF_MAX_PTR_NAMES : SPF_MAX_MX_NAMES]
              [SPF_NAME_CAP];
    size_t nnames, kname;
    /* Validation of the client's names (5.5). */
    enum spf_val_for val_for;
    char valid[SPF_MAX_PTR_NAMES][SPF_NAME_CAP];
    size_t nvalid;
    char p_name[SPF_NAME_CAP];
    bool p_done; /* p_name is set for the mechanism about to run */
    enum spf_result fail_result;
    char *exp_text; /* the explanation's record while p is validated, ours */
    size_t exp_len;
    struct spf_answer ans;
};

static void eval_run(struct spf_eval *e);
static void do_redirect(struct spf_eval *e);
static void val_start(struct spf_eval *e, enum spf_val_for why);

static struct spf_frame *
top(struct spf_eval *e)
{
    return &e->frames[e->depth - 1];
}

/* The end: the answer goes to the caller, who may free e inside done. */
static void
finish(struct spf_eval *e, enum spf_result r, const char *reason)
{
    e->ans.result = r;
    e->ans.lookups = e->lookups;
    e->ans.voids = e->voids;
    (void)str_copyz(e->ans.reason, sizeof(e->ans.reason), reason != NULL ? reason : "");
    e->step = ST_IDLE;
    e->done(e->arg, &e->ans);
}

/* ---- lookups ---- */

static struct spf_ticket *
ticket_new(struct spf_eval *e, enum spf_step step)
{
    struct spf_ticket *t = xcalloc(1, sizeof(*t));

    t->e = e;
    e->ticket = t;
    e->step = step;
    return t;
}

/* A lookup the table refused (-1): no callback will come. */
static void
ticket_drop(struct spf_eval *e)
{
    free(e->ticket);
    e->ticket = NULL;
}

/* From a callback: the evaluation, or NULL when it was freed meanwhile. */
static struct spf_eval *
ticket_take(void *arg)
{
    struct spf_ticket *t = arg;
    struct spf_eval *e = t->e;

    free(t);
    if (e != NULL)
        e->ticket = NULL;
    return e;
}

static void on_txt(void *arg, enum spf_dns_status st, const struct spf_txt *txt, size_t n);
static void on_addrs(void *arg, enum spf_dns_status st, const struct spf_ip *ip, size_t n);
static void on_names(void *arg, enum spf_dns_status st, const char *const *names, size_t n);

static void
ask_txt(struct spf_eval *e, enum spf_step step, const char *name)
{
    struct spf_ticket *t = ticket_new(e, step);

    if (e->dns.txt(e->dns.ctx, name, on_txt, t) == -1) {
        ticket_drop(e);
        /* A name the resolver refuses does not exist (see spf.h). */
        on_txt(ticket_new(e, step), SPF_DNS_NXDOMAIN, NULL, 0);
    }
}

static void
ask_addrs(struct spf_eval *e, enum spf_step step, const char *name, int family)
{
    struct spf_ticket *t = ticket_new(e, step);

    if (e->dns.addrs(e->dns.ctx, name, family, on_addrs, t) == -1) {
        ticket_drop(e);
        on_addrs(ticket_new(e, step), SPF_DNS_NXDOMAIN, NULL, 0);
    }
}

static void
ask_mx(struct spf_eval *e, const char *name)
{
    struct spf_ticket *t = ticket_new(e, ST_MX);

    if (e->dns.mx(e->dns.ctx, name, on_names, t) == -1) {
        ticket_drop(e);
        on_names(ticket_new(e, ST_MX), SPF_DNS_NXDOMAIN, NULL, 0);
    }
}

static void
ask_ptr(struct spf_eval *e)
{
    struct spf_ticket *t = ticket_new(e, ST_PTR);

    if (e->dns.ptr(e->dns.ctx, &e->ip, on_names, t) == -1) {
        ticket_drop(e);
        on_names(ticket_new(e, ST_PTR), SPF_DNS_NXDOMAIN, NULL, 0);
    }
}

/* 4.6.4: NODATA and NXDOMAIN are void lookups; more than 2 is a permerror.
 * Returns true when the evaluation ended. */
static bool
count_void(struct spf_eval *e, enum spf_dns_status st)
{
    if (st != SPF_DNS_NODATA && st != SPF_DNS_NXDOMAIN)
        return false;
    /* 6.2: the explanation's lookups are outside the limits. */
    if (e->val_for == VAL_FOR_EXP)
        return false;
    if (++e->voids > SPF_MAX_VOID) {
        finish(e, SPF_PERMERROR, "more than 2 void lookups");
        return true;
    }
    return false;
}

/* ---- addresses ---- */

static bool
ip_in(const struct spf_ip *a, const struct spf_ip *net, unsigned bits)
{
    size_t full = bits / 8;
    unsigned rest = bits % 8;

    if (a->family != net->family)
        return false;
    if (memcmp(a->b, net->b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((a->b[full] ^ net->b[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static unsigned
mech_cidr(const struct spf_eval *e, const struct spf_mech *m)
{
    return e->ip.family == AF_INET6 ? m->cidr6 : m->cidr4;
}

static bool
any_in(const struct spf_eval *e, const struct spf_ip *ip, size_t n, unsigned bits)
{
    for (size_t i = 0; i < n; i++) {
        if (ip_in(&e->ip, &ip[i], bits))
            return true;
    }
    return false;
}

/* ---- frames ---- */

static void
macro_env(const struct spf_eval *e, const char *domain, struct spf_macro_env *env)
{
    memset(env, 0, sizeof(*env));
    env->sender = e->sender;
    env->local = e->local;
    env->sender_domain = e->sender_domain;
    env->domain = domain;
    env->ip = e->ip;
    env->ptr_name = e->p_done ? e->p_name : NULL;
    env->helo = e->helo;
    env->receiver = e->receiver;
    env->now = e->t;
}

/* Starts the TXT lookup of the record of f's domain. */
static void
frame_fetch(struct spf_eval *e)
{
    struct spf_frame *f = top(e);

    free(f->text);
    f->text = NULL;
    memset(&f->rec, 0, sizeof(f->rec));
    f->next = 0;
    ask_txt(e, ST_RECORD, f->domain);
}

static void
frame_push(struct spf_eval *e, const char *domain, bool is_include)
{
    struct spf_frame *f;

    /* 4.6.4's limit keeps the depth at 1 + 10 includes. */
    if (e->depth == SPF_DEPTH_MAX)
        log_panic("spf: include depth %zu past the lookup limit", e->depth);
    f = &e->frames[e->depth++];
    memset(f, 0, sizeof(*f));
    (void)str_copyz(f->domain, sizeof(f->domain), domain);
    f->is_include = is_include;
    frame_fetch(e);
}

static void
frame_pop(struct spf_eval *e)
{
    struct spf_frame *f = top(e);

    free(f->text);
    f->text = NULL;
    e->depth--;
}

/* The fail's explanation (6.2), then the end. */
static void
finish_fail(struct spf_eval *e, enum spf_result r)
{
    struct spf_frame *f = top(e);
    struct spf_macro_env env;
    char err[128];

    if (r != SPF_FAIL || !f->rec.has_exp) {
        finish(e, r, NULL);
        return;
    }
    e->fail_result = r;
    if (!e->p_done && spf_macro_uses_p(f->rec.exp)) {
        val_start(e, VAL_FOR_EXP);
        return;
    }
    macro_env(e, f->domain, &env);
    if (spf_macro_expand(f->rec.exp, &env, false, true, e->target, sizeof(e->target), err,
                         sizeof(err)) == -1 ||
        e->target[0] == '\0') {
        finish(e, r, NULL);
        return;
    }
    ask_txt(e, ST_EXP, e->target);
}

/*
 * A record's result r (after its mechanisms, or an error). Errors end the
 * whole evaluation (5.2: temperror and permerror of an include are the
 * result); otherwise the frame goes and its include, if any, matches on
 * pass and not on the rest.
 */
static void
frame_result(struct spf_eval *e, enum spf_result r, const char *reason)
{
    struct spf_frame *f = top(e);

    if (r == SPF_NONE && (f->is_include || f->by_redirect)) {
        finish(e, SPF_PERMERROR,
               f->is_include ? "no SPF record at an included domain"
                             : "no SPF record at the redirect target");
        return;
    }
    if (r == SPF_TEMPERROR || r == SPF_PERMERROR || r == SPF_NONE) {
        finish(e, r, reason);
        return;
    }
    if (!f->is_include) {
        finish_fail(e, r);
        return;
    }
    frame_pop(e);
    f = top(e);
    if (r == SPF_PASS) {
        const struct spf_mech *m = &f->rec.mech[f->next];

        if (e->depth == 1)
            (void)str_copy(e->ans.mechanism, sizeof(e->ans.mechanism), m->term.p, m->term.len);
        frame_result(e, m->qual, NULL);
        return;
    }
    f->next++;
    eval_run(e);
}

/* The mechanism at f->next matched. */
static void
mech_matched(struct spf_eval *e)
{
    struct spf_frame *f = top(e);
    const struct spf_mech *m = &f->rec.mech[f->next];

    if (e->depth == 1)
        (void)str_copy(e->ans.mechanism, sizeof(e->ans.mechanism), m->term.p, m->term.len);
    frame_result(e, m->qual, NULL);
}

static void
mech_missed(struct spf_eval *e)
{
    top(e)->next++;
    eval_run(e);
}

/* ---- the TXT answers: a record, or the explanation ---- */

static void
record_answer(struct spf_eval *e, enum spf_dns_status st, const struct spf_txt *txt, size_t n)
{
    struct spf_frame *f = top(e);
    const struct spf_txt *found = NULL;
    char err[160], reason[200];

    if (st == SPF_DNS_TEMPFAIL) {
        frame_result(e, SPF_TEMPERROR, "DNS failure looking up the SPF record");
        return;
    }
    for (size_t i = 0; st == SPF_DNS_OK && i < n; i++) {
        if (!spf_is_record(slice_make(txt[i].text, txt[i].len)))
            continue;
        /* 4.5: more than one record is a permerror. */
        if (found != NULL) {
            frame_result(e, SPF_PERMERROR, "more than one v=spf1 record");
            return;
        }
        found = &txt[i];
    }
    if (found == NULL) {
        frame_result(e, SPF_NONE, "no SPF record");
        return;
    }
    f->text = xmalloc(found->len + 1);
    memcpy(f->text, found->text, found->len);
    f->text[found->len] = '\0';
    if (spf_record_parse(slice_make(f->text, found->len), &f->rec, err, sizeof(err)) == -1) {
        (void)str_fmt(reason, sizeof(reason), "%s: %s", f->domain, err);
        frame_result(e, SPF_PERMERROR, reason);
        return;
    }
    f->next = 0;
    eval_run(e);
}

/*
 * explain-string = *( macro-string / SP )   RFC 7208 6.2, 7.1: an octet
 * outside SP and visible ASCII is a syntax error, and then there is no
 * explanation (6.2: "proceed as if no exp modifier was given").
 */
static bool
is_explain_string(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
            return false;
    }
    return true;
}

/* 6.2: one record, an explain-string, macro-expanded; only printable ASCII
 * is kept (an expansion may bring other octets from the sender). */
static void
exp_answer(struct spf_eval *e, enum spf_dns_status st, const struct spf_txt *txt, size_t n)
{
    struct spf_macro_env env;
    char out[SPF_MACRO_OUT_CAP], err[128];
    size_t k = 0;

    if (st == SPF_DNS_OK && n == 1 && !e->p_done &&
        spf_macro_uses_p(slice_make(txt[0].text, txt[0].len))) {
        /* The text needs the validated name: keep it, validate, come back. */
        e->exp_text = xmalloc(txt[0].len + 1);
        memcpy(e->exp_text, txt[0].text, txt[0].len);
        e->exp_len = txt[0].len;
        val_start(e, VAL_FOR_EXP);
        return;
    }
    if (st == SPF_DNS_OK && n == 1 && is_explain_string(txt[0].text, txt[0].len)) {
        macro_env(e, top(e)->domain, &env);
        if (spf_macro_expand(slice_make(txt[0].text, txt[0].len), &env, true, false, out,
                             sizeof(out), err, sizeof(err)) == 0) {
            for (size_t i = 0; out[i] != '\0' && k + 1 < sizeof(e->ans.exp); i++) {
                if (spf_is_print((unsigned char)out[i]))
                    e->ans.exp[k++] = out[i];
            }
        }
    }
    e->ans.exp[k] = '\0';
    free(e->exp_text);
    e->exp_text = NULL;
    finish(e, e->fail_result, NULL);
}

static void
on_txt(void *arg, enum spf_dns_status st, const struct spf_txt *txt, size_t n)
{
    struct spf_eval *e = ticket_take(arg);

    if (e == NULL)
        return;
    if (e->step == ST_EXP)
        exp_answer(e, st, txt, n);
    else
        record_answer(e, st, txt, n);
}

/* ---- validation of the client's names (5.5) ---- */

static void val_next(struct spf_eval *e);

/* 7.3: p is the target (the current domain) if validated, else a
 * subdomain of it, else any validated name, else "unknown". */
static void
val_pick_p(struct spf_eval *e)
{
    struct spf_frame *f = top(e);
    const char *pick = NULL;
    size_t tl = strlen(f->domain);

    for (size_t i = 0; i < e->nvalid && pick == NULL; i++) {
        if (strcasecmp(e->valid[i], f->domain) == 0)
            pick = e->valid[i];
    }
    for (size_t i = 0; i < e->nvalid && pick == NULL; i++) {
        size_t l = strlen(e->valid[i]);

        if (l > tl && e->valid[i][l - tl - 1] == '.' &&
            strcasecmp(e->valid[i] + l - tl, f->domain) == 0)
            pick = e->valid[i];
    }
    if (pick == NULL && e->nvalid > 0)
        pick = e->valid[0];
    (void)str_copyz(e->p_name, sizeof(e->p_name), pick != NULL ? pick : "unknown");
    e->p_done = true;
}

/* The validated names are in e->valid: the ptr mechanism, or the p macro. */
static void
val_done(struct spf_eval *e)
{
    size_t tl;

    if (e->val_for == VAL_FOR_P) {
        val_pick_p(e);
        eval_run(e);
        return;
    }
    if (e->val_for == VAL_FOR_REDIRECT || e->val_for == VAL_FOR_EXP) {
        val_pick_p(e);
        if (e->val_for == VAL_FOR_REDIRECT) {
            do_redirect(e);
        } else if (e->exp_text != NULL) {
            struct spf_txt t = {e->exp_text, e->exp_len};

            exp_answer(e, SPF_DNS_OK, &t, 1);
        } else {
            finish_fail(e, e->fail_result);
        }
        return;
    }
    /* 5.5: a validated name that is the target or ends in "." target. */
    tl = strlen(e->target);
    for (size_t i = 0; i < e->nvalid; i++) {
        size_t l = strlen(e->valid[i]);

        if (strcasecmp(e->valid[i], e->target) == 0 ||
            (l > tl && e->valid[i][l - tl - 1] == '.' &&
             strcasecmp(e->valid[i] + l - tl, e->target) == 0)) {
            mech_matched(e);
            return;
        }
    }
    mech_missed(e);
}

static void
val_start(struct spf_eval *e, enum spf_val_for why)
{
    e->val_for = why;
    e->nvalid = 0;
    e->nnames = 0;
    e->kname = 0;
    ask_ptr(e);
}

static void
val_next(struct spf_eval *e)
{
    if (e->kname >= e->nnames) {
        val_done(e);
        return;
    }
    ask_addrs(e, ST_PTR_ADDRS, e->names[e->kname], e->ip.family);
}

/* ---- mechanisms ---- */

/* Expands the mechanism's target (its domain-spec, or the current domain). */
static int
mech_target(struct spf_eval *e, const struct spf_mech *m)
{
    struct spf_frame *f = top(e);
    struct spf_macro_env env;
    char err[128], reason[200];

    if (m->domain.len == 0)
        return str_copyz(e->target, sizeof(e->target), f->domain) == -1 ? -1 : 0;
    macro_env(e, f->domain, &env);
    if (spf_macro_expand(m->domain, &env, false, true, e->target, sizeof(e->target), err,
                         sizeof(err)) == -1) {
        (void)str_fmt(reason, sizeof(reason), "%s: %s", f->domain, err);
        finish(e, SPF_PERMERROR, reason);
        return -1;
    }
    return 0;
}

/* Starts the DNS part of mechanism m (include, a, mx, ptr, exists). */
static void
mech_dns(struct spf_eval *e, const struct spf_mech *m)
{
    /* 7.3: p needs the validated names first; then the mechanism runs again. */
    if (!e->p_done && spf_macro_uses_p(m->domain)) {
        val_start(e, VAL_FOR_P);
        return;
    }
    /* 4.6.4: include, a, mx, ptr, exists and redirect count; the 11th is a permerror. */
    if (++e->lookups > SPF_MAX_DNS_MECHS) {
        finish(e, SPF_PERMERROR, "more than 10 DNS lookups");
        return;
    }
    if (mech_target(e, m) == -1)
        return;
    e->p_done = false;
    switch (m->kind) {
    case SPF_M_INCLUDE:
        frame_push(e, e->target, true);
        return;
    case SPF_M_A:
        ask_addrs(e, ST_A, e->target, e->ip.family);
        return;
    case SPF_M_EXISTS:
        /* 5.7: an A query, whatever the client's family. */
        ask_addrs(e, ST_EXISTS, e->target, AF_INET);
        return;
    case SPF_M_MX:
        e->nnames = 0;
        e->kname = 0;
        ask_mx(e, e->target);
        return;
    case SPF_M_PTR:
        val_start(e, VAL_FOR_PTR);
        return;
    default:
        break;
    }
    finish(e, SPF_PERMERROR, "internal: not a DNS mechanism");
}

/* redirect= (6.1): the result is the target's; counts as a lookup. */
static void
do_redirect(struct spf_eval *e)
{
    struct spf_frame *f = top(e);
    struct spf_macro_env env;
    char err[128], reason[200];
    char target[SPF_NAME_CAP];

    if (!e->p_done && spf_macro_uses_p(f->rec.redirect)) {
        val_start(e, VAL_FOR_REDIRECT);
        return;
    }
    if (++e->lookups > SPF_MAX_DNS_MECHS) {
        finish(e, SPF_PERMERROR, "more than 10 DNS lookups");
        return;
    }
    macro_env(e, f->domain, &env);
    if (spf_macro_expand(f->rec.redirect, &env, false, true, target, sizeof(target), err,
                         sizeof(err)) == -1) {
        (void)str_fmt(reason, sizeof(reason), "%s: %s", f->domain, err);
        finish(e, SPF_PERMERROR, reason);
        return;
    }
    e->p_done = false;
    /* The frame is replaced: an included record's redirect still answers the include. */
    (void)str_copyz(f->domain, sizeof(f->domain), target);
    f->by_redirect = true;
    frame_fetch(e);
}

/* Evaluates the top frame from its next mechanism until a lookup is needed or it ends. */
static void
eval_run(struct spf_eval *e)
{
    struct spf_frame *f = top(e);

    while (f->next < f->rec.nmech) {
        const struct spf_mech *m = &f->rec.mech[f->next];

        switch (m->kind) {
        case SPF_M_ALL:
            mech_matched(e);
            return;
        case SPF_M_IP4:
        case SPF_M_IP6:
            if (ip_in(&e->ip, &m->ip, m->kind == SPF_M_IP4 ? m->cidr4 : m->cidr6)) {
                mech_matched(e);
                return;
            }
            f->next++;
            continue;
        default:
            mech_dns(e, m);
            return;
        }
    }
    if (f->rec.has_redirect) {
        do_redirect(e);
        return;
    }
    /* 4.7: no match and no redirect: neutral. */
    frame_result(e, SPF_NEUTRAL, NULL);
}

static void
on_addrs(void *arg, enum spf_dns_status st, const struct spf_ip *ip, size_t n)
{
    struct spf_eval *e = ticket_take(arg);
    const struct spf_mech *m;

    if (e == NULL)
        return;
    m = &top(e)->rec.mech[top(e)->next];
    if (e->step == ST_PTR_ADDRS) {
        /* 5.5: a failed lookup skips the name. */
        if (count_void(e, st))
            return;
        if (st == SPF_DNS_OK && any_in(e, ip, n, e->ip.family == AF_INET6 ? 128 : 32))
            (void)str_copyz(e->valid[e->nvalid++], SPF_NAME_CAP, e->names[e->kname]);
        e->kname++;
        val_next(e);
        return;
    }
    if (st == SPF_DNS_TEMPFAIL) {
        finish(e, SPF_TEMPERROR, "DNS failure looking up addresses");
        return;
    }
    if (count_void(e, st))
        return;
    switch (e->step) {
    case ST_A:
        if (st == SPF_DNS_OK && any_in(e, ip, n, mech_cidr(e, m)))
            mech_matched(e);
        else
            mech_missed(e);
        return;
    case ST_EXISTS:
        if (st == SPF_DNS_OK && n > 0)
            mech_matched(e);
        else
            mech_missed(e);
        return;
    case ST_MX_ADDRS:
        if (st == SPF_DNS_OK && any_in(e, ip, n, mech_cidr(e, m))) {
            mech_matched(e);
            return;
        }
        if (++e->kname < e->nnames) {
            ask_addrs(e, ST_MX_ADDRS, e->names[e->kname], e->ip.family);
            return;
        }
        mech_missed(e);
        return;
    default:
        break;
    }
    finish(e, SPF_PERMERROR, "internal: an address answer out of turn");
}

static void
on_names(void *arg, enum spf_dns_status st, const char *const *names, size_t n)
{
    struct spf_eval *e = ticket_take(arg);

    if (e == NULL)
        return;
    if (e->step == ST_PTR) {
        /* 5.5: a DNS error on the PTR lookup: no validated name. */
        if (count_void(e, st))
            return;
        e->nnames = 0;
        for (size_t i = 0; st == SPF_DNS_OK && i < n && e->nnames < SPF_MAX_PTR_NAMES; i++) {
            if (str_copyz(e->names[e->nnames], SPF_NAME_CAP, names[i]) == 0)
                e->nnames++;
        }
        e->kname = 0;
        val_next(e);
        return;
    }
    /* ST_MX */
    if (st == SPF_DNS_TEMPFAIL) {
        finish(e, SPF_TEMPERROR, "DNS failure looking up MX");
        return;
    }
    if (count_void(e, st))
        return;
    if (n > SPF_MAX_MX_NAMES) {
        finish(e, SPF_PERMERROR, "more than 10 MX names");
        return;
    }
    e->nnames = 0;
    for (size_t i = 0; st == SPF_DNS_OK && i < n; i++) {
        if (str_copyz(e->names[e->nnames], SPF_NAME_CAP, names[i]) == 0)
            e->nnames++;
    }
    e->kname = 0;
    if (e->nnames == 0) {
        mech_missed(e);
        return;
    }
    ask_addrs(e, ST_MX_ADDRS, e->names[0], e->ip.family);
}

/* 4.3: a domain that is not a multi-label name gives none at once. */
static bool
is_checkable_domain(const char *d)
{
    size_t len = strlen(d), label = 0;
    bool dot = false;

    if (len > 0 && d[len - 1] == '.')
        len--;
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (d[i] == '.') {
            if (label == 0)
                return false;
            label = 0;
            dot = true;
        } else if (++label > 63) {
            return false;
        }
    }
    return dot && label > 0;
}

struct spf_eval *
spf_eval_start(const struct spf_dns *dns, const struct spf_ip *ip, const char *sender,
               const char *helo, const char *receiver, uint64_t t, spf_done_fn *done, void *arg,
               struct spf_answer *now_answer)
{
    struct spf_eval *e = xcalloc(1, sizeof(*e));
    const char *at;
    const char *domain;

    e->dns = *dns;
    e->ip = *ip;
    e->t = t;
    e->done = done;
    e->arg = arg;
    (void)str_copyz(e->helo, sizeof(e->helo), helo != NULL ? helo : "");
    (void)str_copyz(e->receiver, sizeof(e->receiver), receiver != NULL ? receiver : "unknown");
    if (sender == NULL || sender[0] == '\0') {
        /* 2.4: <> is checked as postmaster@ the HELO name. */
        (void)str_copyz(e->local, sizeof(e->local), "postmaster");
        (void)str_copyz(e->sender_domain, sizeof(e->sender_domain), e->helo);
    } else if ((at = strrchr(sender, '@')) != NULL) {
        /* 4.3: no local-part: "postmaster". */
        if (at == sender ||
            str_copy(e->local, sizeof(e->local), sender, (size_t)(at - sender)) == -1)
            (void)str_copyz(e->local, sizeof(e->local), "postmaster");
        (void)str_copyz(e->sender_domain, sizeof(e->sender_domain), at + 1);
    } else {
        (void)str_copyz(e->local, sizeof(e->local), "postmaster");
        (void)str_copyz(e->sender_domain, sizeof(e->sender_domain), sender);
    }
    {
        size_t dl = strlen(e->sender_domain);

        if (dl > 0 && e->sender_domain[dl - 1] == '.')
            e->sender_domain[dl - 1] = '\0';
    }
    (void)str_fmt(e->sender, sizeof(e->sender), "%s@%s", e->local, e->sender_domain);
    domain = e->sender_domain;
    if (!is_checkable_domain(domain)) {
        memset(now_answer, 0, sizeof(*now_answer));
        now_answer->result = SPF_NONE;
        (void)str_copyz(now_answer->reason, sizeof(now_answer->reason), "the domain is not a name");
        free(e);
        return NULL;
    }
    e->depth = 1;
    (void)str_copyz(e->frames[0].domain, sizeof(e->frames[0].domain), domain);
    {
        struct spf_ticket *tk = ticket_new(e, ST_RECORD);

        if (e->dns.txt(e->dns.ctx, domain, on_txt, tk) == -1) {
            free(tk);
            memset(now_answer, 0, sizeof(*now_answer));
            now_answer->result = SPF_NONE;
            (void)str_copyz(now_answer->reason, sizeof(now_answer->reason),
                            "the domain is not a name");
            free(e);
            return NULL;
        }
    }
    return e;
}

void
spf_eval_free(struct spf_eval *e)
{
    if (e == NULL)
        return;
    if (e->ticket != NULL)
        e->ticket->e = NULL;
    for (size_t i = 0; i < SPF_DEPTH_MAX; i++)
        free(e->frames[i].text);
    free(e->exp_text);
    free(e);
}
