/* SPDX-License-Identifier: MIT */
/*
 * The verifier (verify.h, docs/verify.md): answers requests from the list
 * files, or by callouts whose answers are cached in the shared-state store.
 *
 * A request of a domain with a list is answered from the list. A request of
 * a callout domain joins the callout in flight for its key if there is one,
 * else reads the cache (asynchronous: the store answers on a later turn),
 * and on a miss joins the callout in flight that may have started
 * meanwhile, or starts one: at most CAP_CALLOUTS at once, past which the
 * answer is "try later" at once. A callout routes (route_start: the hops
 * delivery would use) and asks (deliver_verify_start: the SMTP client),
 * within callout-timeout, then caches a known (1 day) or unknown (1 hour)
 * answer and answers every request waiting for it.
 *
 * Every answer reaches its request through the request's own event, on a
 * later turn of the loop: callbacks never run inside verify_start(), nor
 * inside one another (a session that resumes in its callback may start or
 * cancel requests freely). A request that is cancelled leaves its callout,
 * which goes on and fills the cache for the client's next try.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "deliver/deliver.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "route/route.h"
#include "state/state.h"
#include "tls/tls.h"
#include "verify/verify_impl.h"

/* The longest relay name and reply kept (as deliver.h's). */
#define VERIFY_RELAY_CAP (CAP_DOMAIN + 64)
#define VERIFY_REPLY_CAP DELIVER_TEXT_MAX

/* The list files in use, or prepared for the next commit: parallel arrays. */
struct verify_lists {
    char (*paths)[CAP_PATH];
    struct verify_list **lists;
    size_t n;
};

struct callout;

enum req_state {
    REQ_READ,     /* the cache read is in flight */
    REQ_WAIT,     /* waiting for a callout */
    REQ_ANSWERED, /* the answer waits for its event */
};

struct verify_req {
    struct verify *v;
    struct verify_req *all_prev, *all_next; /* every live request of v */
    enum req_state state;
    struct state_get *get;                    /* REQ_READ */
    struct callout *callout;                  /* REQ_WAIT */
    struct verify_req *wait_prev, *wait_next; /* among the callout's waiters */
    struct event *ev;                         /* brings the answer */
    verify_fn *fn;
    void *arg;
    struct conf *conf; /* a reference: a cache miss starts a callout under it */
    char domain[CAP_DOMAIN + 1];
    char addr[CAP_MAILBOX + 1];
    bool utf8;
    char key[VERIFY_KEY_MAX + 1];
    size_t key_len;

    enum verify_result result;
    enum verify_source source;
    const char *reason;
    char relay[VERIFY_RELAY_CAP];
    char reply[VERIFY_REPLY_CAP];
};

/* One callout in flight, for one key; the requests that wait for it. */
struct callout {
    struct verify *v;
    struct callout *prev, *next;
    char key[VERIFY_KEY_MAX + 1];
    size_t key_len;
    char addr[CAP_MAILBOX + 1]; /* as the first request's client wrote it */
    char domain[CAP_DOMAIN + 1];
    bool utf8;
    struct conf *conf;   /* a reference, until the end */
    void *probe;         /* the ops' handle, NULL once it has answered */
    struct event *timer; /* callout-timeout */
    unsigned budget;     /* its seconds, for the texts */
    struct verify_req *waiters;
};

struct verify {
    struct event_base *base;
    struct dns *dns;
    struct state *st;
    const struct verify_probe_ops *ops;
    struct tls_client *tls;
    struct verify_lists lists, prepared;
    struct callout *callouts;
    size_t n_callouts;
    struct verify_req *reqs;
};

static const struct verify_probe_ops probe_ops;

const char *
verify_result_name(enum verify_result r)
{
    switch (r) {
    case VERIFY_OK:
        return "ok";
    case VERIFY_UNKNOWN:
        return "unknown";
    case VERIFY_TEMP:
        return "tempfail";
    }
    log_panic("verify_result_name: no result %d", (int)r);
}

const char *
verify_source_name(enum verify_source s)
{
    switch (s) {
    case VERIFY_SRC_FILE:
        return "file";
    case VERIFY_SRC_CACHE:
        return "cache";
    case VERIFY_SRC_CALLOUT:
        return "callout";
    }
    log_panic("verify_source_name: no source %d", (int)s);
}

bool
verify_wanted(const struct conf_domain *d)
{
    return d != NULL && d->verify != CONF_VERIFY_OFF;
}

/* ---- Lists ---- */

static void
lists_clear(struct verify_lists *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        verify_list_free(ls->lists[i]);
    free(ls->paths);
    free(ls->lists);
    memset(ls, 0, sizeof(*ls));
}

static const struct verify_list *
lists_find(const struct verify_lists *ls, const char *path)
{
    for (size_t i = 0; i < ls->n; i++) {
        if (strcmp(ls->paths[i], path) == 0)
            return ls->lists[i];
    }
    return NULL;
}

int
verify_prepare(struct verify *v, const struct conf *c, char *err, size_t cap)
{
    struct verify_lists ls = {0};

    if (c->n_verify_files > 0) {
        ls.paths = xcalloc(c->n_verify_files, sizeof(*ls.paths));
        ls.lists = xcalloc(c->n_verify_files, sizeof(*ls.lists));
    }
    for (size_t i = 0; i < c->n_verify_files; i++) {
        struct verify_list *l = verify_list_load(c->verify_files[i].path, err, cap);

        if (l == NULL) {
            lists_clear(&ls);
            return -1;
        }
        memcpy(ls.paths[i], c->verify_files[i].path, CAP_PATH);
        ls.lists[i] = l;
        ls.n++;
    }
    lists_clear(&v->prepared);
    v->prepared = ls;
    return 0;
}

int
verify_check_lists(const struct conf *c, char *err, size_t cap)
{
    for (size_t i = 0; i < c->n_verify_files; i++) {
        struct verify_list *l = verify_list_load(c->verify_files[i].path, err, cap);

        if (l == NULL)
            return -1;
        verify_list_free(l);
    }
    return 0;
}

void
verify_commit(struct verify *v, struct tls_client *tc)
{
    lists_clear(&v->lists);
    v->lists = v->prepared;
    memset(&v->prepared, 0, sizeof(v->prepared));
    if (tc != NULL)
        (void)tls_client_ref(tc);
    tls_client_unref(v->tls);
    v->tls = tc;
}

/* ---- Requests ---- */

static void
req_free(struct verify_req *r)
{
    struct verify *v = r->v;

    if (r->all_prev != NULL)
        r->all_prev->all_next = r->all_next;
    else
        v->reqs = r->all_next;
    if (r->all_next != NULL)
        r->all_next->all_prev = r->all_prev;
    event_free(r->ev);
    conf_unref(r->conf);
    free(r);
}

static void
req_deliver_cb(evutil_socket_t fd, short what, void *arg)
{
    struct verify_req *r = arg;
    struct verify_answer a = {r->result, r->source, r->relay, r->reply, r->reason};

    (void)fd;
    (void)what;
    r->fn(r->arg, &a);
    req_free(r);
}

/* Records the answer; it reaches the request on a later turn of the loop. */
static void
req_answer(struct verify_req *r, enum verify_result result, enum verify_source source,
           const char *relay, const char *reply, const char *reason)
{
    r->state = REQ_ANSWERED;
    r->callout = NULL;
    r->result = result;
    r->source = source;
    r->reason = reason;
    (void)str_copyz(r->relay, sizeof(r->relay), relay);
    (void)str_copyz(r->reply, sizeof(r->reply), reply);
    event_active(r->ev, EV_TIMEOUT, 1);
}

/* ---- Callouts ---- */

static struct callout *
callout_find(const struct verify *v, const char *key, size_t len)
{
    /* At most CAP_CALLOUTS: a walk costs less than a table would. */
    for (struct callout *c = v->callouts; c != NULL; c = c->next) {
        if (c->key_len == len && memcmp(c->key, key, len) == 0)
            return c;
    }
    return NULL;
}

static void
callout_join(struct callout *c, struct verify_req *r)
{
    r->state = REQ_WAIT;
    r->callout = c;
    r->wait_prev = NULL;
    r->wait_next = c->waiters;
    if (c->waiters != NULL)
        c->waiters->wait_prev = r;
    c->waiters = r;
}

static void
callout_leave(struct verify_req *r)
{
    struct callout *c = r->callout;

    if (r->wait_prev != NULL)
        r->wait_prev->wait_next = r->wait_next;
    else
        c->waiters = r->wait_next;
    if (r->wait_next != NULL)
        r->wait_next->wait_prev = r->wait_prev;
    r->callout = NULL;
}

/* "+" or "-", the relay, LF, the reply: what a later hit logs. */
static void
callout_cache_put(struct callout *c, const struct verify_probe_result *res)
{
    char val[STATE_VALUE_MAX];
    size_t rl = strnlen(res->relay, VERIFY_RELAY_CAP - 1), pl = strlen(res->reply);

    if (res->result == VERIFY_TEMP)
        return;
    if (2 + rl > sizeof(val))
        rl = sizeof(val) - 2;
    if (2 + rl + pl > sizeof(val))
        pl = sizeof(val) - 2 - rl;
    val[0] = res->result == VERIFY_OK ? '+' : '-';
    memcpy(val + 1, res->relay, rl);
    val[1 + rl] = '\n';
    memcpy(val + 2 + rl, res->reply, pl);
    state_put(c->v->st, STATE_NS_CALLOUT, c->key, c->key_len, val, 2 + rl + pl,
              res->result == VERIFY_OK ? VERIFY_TTL_OK : VERIFY_TTL_UNKNOWN);
}

/* The callout has its answer: cached, given to every waiter, and the callout ends. */
static void
callout_finish(struct callout *c, const struct verify_probe_result *res)
{
    struct verify *v = c->v;

    callout_cache_put(c, res);
    if (res->result == VERIFY_TEMP) {
        char qa[LOG_QUOTE_CAP], qr[LOG_QUOTE_CAP];

        /* Our own relay gave no answer: local trouble, one line per callout. */
        log_warning("-: event=callout, to=<%s>, status=failed, relay=%s, reason=\"%s\"",
                    log_quote(qa, sizeof(qa), c->addr, strlen(c->addr)), res->relay,
                    log_quote(qr, sizeof(qr), res->reply, strlen(res->reply)));
    }
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        v->callouts = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    v->n_callouts--;
    while (c->waiters != NULL) {
        struct verify_req *r = c->waiters;

        callout_leave(r);
        req_answer(r, res->result, VERIFY_SRC_CALLOUT, res->relay, res->reply, NULL);
    }
    event_free(c->timer);
    conf_unref(c->conf);
    free(c);
}

static void
callout_done(void *arg, const struct verify_probe_result *res)
{
    struct callout *c = arg;

    c->probe = NULL;
    (void)evtimer_del(c->timer);
    callout_finish(c, res);
}

/* callout-timeout: the answer if the probe has it already, else no answer. */
static void
callout_budget_cb(evutil_socket_t fd, short what, void *arg)
{
    struct callout *c = arg;
    struct verify_probe_result res;
    char relay[VERIFY_RELAY_CAP], reply[VERIFY_REPLY_CAP];

    (void)fd;
    (void)what;
    if (c->v->ops->peek != NULL && c->v->ops->peek(c->probe, &res)) {
        (void)str_copyz(relay, sizeof(relay), res.relay);
        (void)str_copyz(reply, sizeof(reply), res.reply);
    } else {
        res.result = VERIFY_TEMP;
        memcpy(relay, "none", 5);
        (void)str_fmt(reply, sizeof(reply), "no answer within %us (callout-timeout)", c->budget);
    }
    c->v->ops->cancel(c->probe);
    c->probe = NULL;
    res.relay = relay;
    res.reply = reply;
    callout_finish(c, &res);
}

/* Starts a callout for r's key, r its first waiter. */
static void
callout_start(struct verify *v, struct verify_req *r)
{
    struct callout *c = xcalloc(1, sizeof(*c));
    struct timeval tv;

    c->v = v;
    memcpy(c->key, r->key, r->key_len + 1);
    c->key_len = r->key_len;
    memcpy(c->addr, r->addr, sizeof(c->addr));
    memcpy(c->domain, r->domain, sizeof(c->domain));
    c->utf8 = r->utf8;
    c->conf = conf_ref(r->conf);
    c->budget = c->conf->callout_timeout;
    c->timer = evtimer_new(v->base, callout_budget_cb, c);
    if (c->timer == NULL)
        log_panic("verify: evtimer_new failed");
    c->next = v->callouts;
    if (v->callouts != NULL)
        v->callouts->prev = c;
    v->callouts = c;
    v->n_callouts++;
    callout_join(c, r);
    tv.tv_sec = (time_t)c->budget;
    tv.tv_usec = 0;
    if (evtimer_add(c->timer, &tv) == -1)
        log_panic("verify: evtimer_add failed");
    c->probe = v->ops->start(v, c->conf, c->domain, c->addr, c->utf8, callout_done, c);
    if (c->probe == NULL) {
        struct verify_probe_result res = {VERIFY_TEMP, "none", "local error: cannot start"};

        (void)evtimer_del(c->timer);
        callout_finish(c, &res);
    }
}

/* After a cache miss (or without a store): join a callout, or start one, or "busy". */
static void
req_callout(struct verify_req *r)
{
    struct verify *v = r->v;
    struct callout *c = callout_find(v, r->key, r->key_len);

    if (c != NULL)
        callout_join(c, r);
    else if (v->n_callouts >= CAP_CALLOUTS)
        req_answer(r, VERIFY_TEMP, VERIFY_SRC_CALLOUT, "none", "", "busy");
    else
        callout_start(v, r);
}

/* A cached answer: "+" or "-", the relay, LF, the reply. False when it is not one. */
static bool
req_cached(struct verify_req *r, const struct state_answer *a)
{
    const char *p = a->p, *nl;
    char relay[VERIFY_RELAY_CAP], reply[VERIFY_REPLY_CAP];

    if (!a->found || a->len < 2 || (p[0] != '+' && p[0] != '-'))
        return false;
    nl = memchr(p + 1, '\n', a->len - 1);
    if (nl == NULL)
        return false;
    (void)str_copy(relay, sizeof(relay), p + 1, (size_t)(nl - p - 1));
    (void)str_copy(reply, sizeof(reply), nl + 1, a->len - (size_t)(nl + 1 - p));
    req_answer(r, p[0] == '+' ? VERIFY_OK : VERIFY_UNKNOWN, VERIFY_SRC_CACHE, relay, reply, NULL);
    return true;
}

static void
req_cache_cb(void *arg, const struct state_answer *a)
{
    struct verify_req *r = arg;

    r->get = NULL;
    if (!req_cached(r, a))
        req_callout(r);
}

struct verify_req *
verify_start(struct verify *v, struct conf *c, const struct conf_domain *d, const char *addr,
             size_t len, size_t local_len, bool utf8, verify_fn *fn, void *arg)
{
    struct verify_req *r = xcalloc(1, sizeof(*r));
    struct callout *co;

    r->v = v;
    r->fn = fn;
    r->arg = arg;
    r->conf = conf_ref(c);
    r->utf8 = utf8;
    (void)str_copyz(r->domain, sizeof(r->domain), d->name);
    (void)str_copy(r->addr, sizeof(r->addr), addr, len);
    r->ev = event_new(v->base, -1, 0, req_deliver_cb, r);
    if (r->ev == NULL)
        log_panic("verify: event_new failed");
    r->all_next = v->reqs;
    if (v->reqs != NULL)
        v->reqs->all_prev = r;
    v->reqs = r;
    r->key_len = verify_key(addr, len, local_len, r->key);
    if (r->key_len == 0) {
        /* The session's parser lets no such address through; be safe if one comes. */
        req_answer(r, VERIFY_TEMP, VERIFY_SRC_FILE, "none", "", "bad-address");
        return r;
    }
    switch (d->verify) {
    case CONF_VERIFY_FILE: {
        const struct verify_list *l =
            d->verify_file < c->n_verify_files
                ? lists_find(&v->lists, c->verify_files[d->verify_file].path)
                : NULL;

        if (l == NULL)
            req_answer(r, VERIFY_TEMP, VERIFY_SRC_FILE, "none", "", "list-gone");
        else if (verify_list_match(l, r->key, r->key_len, (size_t)(strrchr(r->key, '@') - r->key),
                                   d->name))
            req_answer(r, VERIFY_OK, VERIFY_SRC_FILE, "none", "", NULL);
        else
            req_answer(r, VERIFY_UNKNOWN, VERIFY_SRC_FILE, "none", "", NULL);
        return r;
    }
    case CONF_VERIFY_CALLOUT:
        co = callout_find(v, r->key, r->key_len);
        if (co != NULL) {
            callout_join(co, r);
        } else if (v->st == NULL) {
            req_callout(r); /* no cache: its answers come later all the same */
        } else {
            r->state = REQ_READ;
            r->get = state_get(v->st, STATE_NS_CALLOUT, r->key, r->key_len, req_cache_cb, r);
        }
        return r;
    case CONF_VERIFY_OFF:
        break;
    }
    req_answer(r, VERIFY_OK, VERIFY_SRC_FILE, "none", "", NULL);
    return r;
}

void
verify_cancel(struct verify_req *r)
{
    if (r == NULL)
        return;
    switch (r->state) {
    case REQ_READ:
        state_get_cancel(r->v->st, r->get);
        break;
    case REQ_WAIT:
        callout_leave(r);
        break;
    case REQ_ANSWERED:
        (void)event_del(r->ev);
        break;
    }
    req_free(r);
}

size_t
verify_callouts(const struct verify *v)
{
    return v->n_callouts;
}

/* ---- The verifier ---- */

struct verify *
verify_new_with(struct event_base *base, struct dns *dns, struct state *st,
                const struct verify_probe_ops *ops)
{
    struct verify *v = xcalloc(1, sizeof(*v));

    v->base = base;
    v->dns = dns;
    v->st = st;
    v->ops = ops != NULL ? ops : &probe_ops;
    return v;
}

struct verify *
verify_new(struct event_base *base, struct dns *dns, struct state *st)
{
    return verify_new_with(base, dns, st, NULL);
}

void
verify_free(struct verify *v)
{
    if (v == NULL)
        return;
    /* Sessions have cancelled theirs; whatever is left goes without a callback. */
    while (v->reqs != NULL)
        verify_cancel(v->reqs);
    while (v->callouts != NULL) {
        struct callout *c = v->callouts;

        if (c->probe != NULL)
            v->ops->cancel(c->probe);
        v->callouts = c->next;
        event_free(c->timer);
        conf_unref(c->conf);
        free(c);
    }
    lists_clear(&v->lists);
    lists_clear(&v->prepared);
    tls_client_unref(v->tls);
    free(v);
}

/* ---- The real probe: the router, then the SMTP client ---- */

struct probe {
    struct verify *v;
    const struct conf *conf; /* the callout's reference */
    struct route *route;
    struct deliver_verify *dv;
    char domain[CAP_DOMAIN + 1];
    char addr[CAP_MAILBOX + 1];
    bool utf8;
    verify_probe_fn *fn;
    void *arg;
    struct deliver_verify_result peeked; /* for probe_peek */
};

static enum verify_result
probe_result_of(enum deliver_verify_answer a)
{
    switch (a) {
    case DELIVER_VERIFY_OK:
        return VERIFY_OK;
    case DELIVER_VERIFY_REFUSED:
        return VERIFY_UNKNOWN;
    case DELIVER_VERIFY_TEMP:
        break;
    }
    return VERIFY_TEMP;
}

static void
probe_deliver_cb(void *arg, const struct deliver_verify_result *dr)
{
    struct probe *p = arg;
    struct verify_probe_result res = {probe_result_of(dr->answer), dr->relay, dr->text};

    p->dv = NULL;
    p->fn(p->arg, &res);
    free(p);
}

static unsigned
probe_min(unsigned a, unsigned b)
{
    return a < b ? a : b;
}

static void
probe_route_cb(void *arg, const struct route_result *rr)
{
    struct probe *p = arg;
    const struct conf *c = p->conf;
    struct deliver_opts opts;
    char why[VERIFY_REPLY_CAP];

    p->route = NULL;
    if (rr->status != ROUTE_OK) {
        struct verify_probe_result res = {VERIFY_TEMP, "none", why};

        (void)str_fmt(why, sizeof(why), "no route to the relay of %s: %s", p->domain,
                      rr->why != NULL ? rr->why : "unknown");
        p->fn(p->arg, &res);
        free(p);
        return;
    }
    memset(&opts, 0, sizeof(opts));
    opts.helo = c->hostname;
    deliver_timeouts_default(&opts.timeouts);
    /*
     * Each wait within the callout's whole budget, which its timer enforces:
     * a second longer, so that a peer that hangs is always cut off by the
     * budget (one reason in the log, "no answer within Ns"), not by
     * whichever of two timers due at the same moment a loaded loop runs
     * first.
     */
    opts.timeouts.connect = probe_min(c->timeout_connect, c->callout_timeout + 1);
    opts.timeouts.greeting = probe_min(c->timeout_command, c->callout_timeout + 1);
    opts.timeouts.command = probe_min(c->timeout_command, c->callout_timeout + 1);
    opts.tls = p->v->tls;
    opts.tls_policy = p->v->tls == NULL ? CONF_TLS_POLICY_NONE : conf_tls_policy_for(c, p->domain);
    if (rr->auth != NULL) {
        /* A relay that wants a login (relay-auth) gets it for the callout too, inside TLS. */
        opts.auth_user = rr->auth->user;
        opts.auth_password = rr->auth->password;
    }
    p->dv = deliver_verify_start(p->v->base, &opts, rr->hops, rr->n_hops, p->addr, p->utf8,
                                 probe_deliver_cb, p);
    if (p->dv == NULL) {
        struct verify_probe_result res = {VERIFY_TEMP, "none", why};

        (void)str_fmt(why, sizeof(why), "local error: cannot start the callout: %s",
                      strerror(errno));
        p->fn(p->arg, &res);
        free(p);
    }
}

static void *
probe_start(struct verify *v, const struct conf *c, const char *domain, const char *addr, bool utf8,
            verify_probe_fn *fn, void *arg)
{
    struct probe *p = xcalloc(1, sizeof(*p));

    p->v = v;
    p->conf = c;
    p->utf8 = utf8;
    p->fn = fn;
    p->arg = arg;
    (void)str_copyz(p->domain, sizeof(p->domain), domain);
    (void)str_copyz(p->addr, sizeof(p->addr), addr);
    /* The hops delivery would use: the domain's relay (its callback comes later, never here). */
    p->route = route_start(v->base, v->dns, c, p->domain, probe_route_cb, p);
    return p;
}

static bool
probe_peek(void *probe, struct verify_probe_result *r)
{
    struct probe *p = probe;

    if (p->dv == NULL || !deliver_verify_peek(p->dv, &p->peeked))
        return false;
    r->result = probe_result_of(p->peeked.answer);
    r->relay = p->peeked.relay;
    r->reply = p->peeked.text;
    return true;
}

static void
probe_cancel(void *probe)
{
    struct probe *p = probe;

    route_cancel(p->route);
    deliver_verify_cancel(p->dv);
    free(p);
}

static const struct verify_probe_ops probe_ops = {probe_start, probe_peek, probe_cancel};
