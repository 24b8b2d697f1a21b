/* SPDX-License-Identifier: MIT */
/*
 * One attempt of one message (docs/relay.md, "The scheduler"): read the
 * envelope, group the pending recipients by domain into jobs, get a slot,
 * a route and a delivery for each, record each recipient's outcome (done
 * recipients at once, failed ones after their bounce is spooled), then one
 * final change of the file: the next attempt on the retry schedule, or
 * its removal when no recipient is pending.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "sched/sched_impl.h"
#include "watch/watch.h"

/* ---- Small helpers ---- */

static double
seconds_since(const struct timeval *t)
{
    struct timeval now;

    (void)gettimeofday(&now, NULL);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_usec - t->tv_usec) / 1e6;
}

/* The domain of a recipient, lower case; "" for the bare Postmaster (RFC 5321 4.5.1). */
static void
rcpt_domain(const char *addr, char *out, size_t cap)
{
    const char *at = strrchr(addr, '@');

    (void)str_copyz(out, cap, at != NULL ? at + 1 : "");
    for (char *p = out; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* Counts the Received: header fields of the content's header (RFC 5321 6.3 loop check). */
static unsigned
count_received(const struct spool_queued *q)
{
    char buf[64 * 1024];
    size_t len = q->content_len < sizeof(buf) ? (size_t)q->content_len : sizeof(buf);
    ssize_t n = pread(q->fd, buf, len, q->content_off);
    unsigned count = 0;
    size_t i = 0;

    if (n <= 0)
        return 0;
    len = (size_t)n;
    while (i < len) {
        const char *eol = memchr(buf + i, '\n', len - i);
        size_t line = eol != NULL ? (size_t)(eol - (buf + i)) : len - i;

        if (line == 0 || (line == 1 && buf[i] == '\r'))
            break; /* the blank line: the header ends */
        if (line >= 9 && strncasecmp(buf + i, "Received:", 9) == 0)
            count++;
        i += line + 1;
    }
    return count;
}

void
sched_outcome_set(struct sched_outcome *o, enum sched_result r, unsigned code, const char *enhanced,
                  const char *text, const char *remote, const char *relay)
{
    o->result = r;
    o->code = code;
    (void)str_copyz(o->enhanced, sizeof(o->enhanced), enhanced != NULL ? enhanced : "");
    (void)str_copyz(o->text, sizeof(o->text), text != NULL ? text : "");
    (void)str_copyz(o->remote_mta, sizeof(o->remote_mta), remote != NULL ? remote : "");
    (void)str_copyz(o->relay, sizeof(o->relay), relay != NULL ? relay : "none");
    o->tried[0] = '\0';
    o->tls[0] = '\0';
}

/* One recipient's outcome for the watcher: the log's status, its domain, the attempt's time. */
static void
sched_watch_outcome(const struct sched_attempt *at, size_t i, const char *status)
{
    const char *addr = at->q->env.rcpts[i].addr, *at_sign = strrchr(addr, '@');
    char domain[CAP_DOMAIN + 1];
    struct timeval now;
    struct watch_event ev = {.kind = WATCH_DELIVERY};

    if (at->e->s->watch == NULL)
        return;
    (void)str_copyz(domain, sizeof(domain), at_sign != NULL ? at_sign + 1 : "");
    str_lower(domain, strlen(domain));
    (void)gettimeofday(&now, NULL);
    ev.delivery = strcmp(status, "sent") == 0      ? WATCH_DELIVERY_SENT
                  : strcmp(status, "bounced") == 0 ? WATCH_DELIVERY_BOUNCED
                                                   : WATCH_DELIVERY_DEFERRED;
    ev.domain = domain;
    ev.seconds =
        (double)(now.tv_sec - at->start.tv_sec) + (double)(now.tv_usec - at->start.tv_usec) / 1e6;
    watch_note(at->e->s->watch, &ev);
}

void
sched_log_outcome(const struct sched_attempt *at, size_t i, const char *status)
{
    const struct envelope *env = &at->q->env;
    const struct sched_outcome *o = &at->out[i];
    char q[LOG_QUOTE_CAP], to[LOG_ANGLE_CAP];

    /* relay= the server that answered; when none did, tried= the last hop that failed. */
    log_info("%s: to=%s, relay=%s%s%s, delay=%.2f, attempt=%u, dsn=%s, status=%s, "
             "reply=\"%s\"%s%s%s",
             env->id, log_angle(to, sizeof(to), env->rcpts[i].addr, strlen(env->rcpts[i].addr)),
             o->relay, o->tried[0] != '\0' ? ", tried=" : "", o->tried,
             seconds_since(&env->arrival), env->attempts + 1,
             o->enhanced[0] != '\0' ? o->enhanced : "-", status,
             log_quote(q, sizeof(q), o->text, strlen(o->text)), o->tls[0] != '\0' ? ", tls=\"" : "",
             o->tls, o->tls[0] != '\0' ? "\"" : "");
    sched_watch_outcome(at, i, status);
    sched_track_outcome(at, i, status);
}

/* ---- Spool changes ---- */

static void
attempt_free(struct sched_attempt *at)
{
    struct sched_job *job = at->jobs;

    while (job != NULL) {
        struct sched_job *next = job->next;

        free(job->idx);
        free(job->rcpts);
        free(job->route_hops);
        conf_unref(job->conf);
        free(job);
        job = next;
    }
    spool_queued_close(at->q);
    free(at->out);
    free(at);
}

/* Every change of the attempt has reported: it is over. */
void
sched_attempt_end(struct sched_attempt *at)
{
    struct sched_entry *e = at->e;
    bool removed = at->removed && !at->final_failed;

    if (!at->stopped && at->final_failed) {
        /* The disk is in trouble: the file says less than we know. Try again later. */
        e->next_attempt = (uint64_t)time(NULL) + 60;
    }
    attempt_free(at);
    sched_entry_after(e, removed);
}

static void
change_cb(void *arg, const char *id, int status, int err)
{
    struct sched_attempt *at = arg;

    (void)id;
    (void)err;
    at->changes_left--;
    if (status == -1 && at->final_sent && at->changes_left == 0)
        at->final_failed = true;
    if (at->changes_left == 0 && (at->final_sent || at->stopped))
        sched_attempt_end(at);
}

void
sched_attempt_change(struct sched_attempt *at, const struct spool_change *ch)
{
    at->changes_left++;
    spool_queued_update(at->e->s->sp, at->q, ch, change_cb, at);
}

/* ---- Jobs ---- */

/* The next attempt after `attempts` attempts, with +-10% jitter. */
uint64_t
sched_next_attempt(const struct conf *c, unsigned attempts)
{
    size_t i = attempts == 0 ? 0 : attempts - 1;
    unsigned base = c->retry[i < c->n_retry ? i : c->n_retry - 1];
    uint32_t r = 0;
    int64_t jitter;

    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        r = (uint32_t)random();
    jitter = (int64_t)(r % (base / 5 + 1)) - (int64_t)(base / 10);
    return (uint64_t)((int64_t)time(NULL) + (int64_t)base + jitter);
}

/* Has a recipient of this attempt failed for good (a bounce will be spooled first)? */
static bool
attempt_has_failures(const struct sched_attempt *at)
{
    for (size_t i = 0; i < at->q->env.n_rcpts; i++) {
        if (at->out[i].result == SCHED_PERM)
            return true;
    }
    return false;
}

static void
job_end(struct sched_job *job)
{
    struct sched_attempt *at = job->at;
    struct sched *s = at->e->s;
    const struct envelope *env = &at->q->env;
    size_t *done = xcalloc(job->n + 1, sizeof(*done));
    char *done_st = xcalloc(job->n + 1, 1);
    size_t n_done = 0, n_retry = 0;
    size_t *retry = xcalloc(job->n + 1, sizeof(*retry));

    job->running = false;
    if (job->dest != NULL) {
        job->dest->active--;
        sched_dest_put(s, job->dest);
        job->dest = NULL;
        s->running--;
    }
    for (size_t k = 0; k < job->n; k++) {
        size_t i = job->idx[k];
        struct sched_outcome *o = &at->out[i];

        switch (o->result) {
        case SCHED_OK:
            done[n_done] = i;
            done_st[n_done++] = ENVELOPE_RCPT_DONE;
            s->sent++;
            sched_log_outcome(at, i, "sent");
            break;
        case SCHED_TEMP:
            /* 452: the server's recipient limit; it took others, so send these again now. */
            if (o->code == 452 && job->n > 1)
                retry[n_retry++] = i;
            break;
        case SCHED_PERM:
        case SCHED_NONE:
            break;
        }
    }
    /* A 452 counts as a limit only if some recipient of the transaction was taken. */
    if (n_done == 0)
        n_retry = 0;
    if (n_done > 0 && (at->jobs_left > 1 || n_retry > 0 || attempt_has_failures(at))) {
        struct spool_change ch = {.n_rcpts = n_done, .rcpt_index = done, .rcpt_status = done_st};

        /*
         * Durable at once: a crash before this sync is the only way to deliver
         * twice. When this was the attempt's last transaction and nothing is to
         * be bounced, the final change follows at once and carries the statuses
         * (or removes the file): one sync instead of two.
         */
        sched_attempt_change(at, &ch);
    }
    if (n_retry > 0 && !s->stopping) {
        struct sched_job *again = xcalloc(1, sizeof(*again));

        again->at = at;
        (void)str_copyz(again->domain, sizeof(again->domain), job->domain);
        again->idx = retry;
        again->n = n_retry;
        again->rcpts = xcalloc(n_retry, sizeof(*again->rcpts));
        for (size_t k = 0; k < n_retry; k++)
            at->out[retry[k]].result = SCHED_NONE;
        again->next = at->jobs;
        at->jobs = again;
        at->jobs_left++;
        retry = NULL;
        log_info("%s: domain=%s, event=recipient-limit, again=%zu", env->id, job->domain, n_retry);
        sched_job_wait(s, again);
    }
    free(retry);
    free(done);
    free(done_st);
    at->jobs_left--;
    sched_pump(s);
    if (at->jobs_left == 0 && !at->stopped)
        sched_attempt_finish(at);
}

static void
job_deliver_cb(void *arg, const struct deliver_result *res)
{
    struct sched_job *job = arg;
    struct sched_attempt *at = job->at;

    job->dl = NULL;
    for (size_t k = 0; k < job->n; k++) {
        const struct deliver_rcpt *r = &job->rcpts[k];
        enum sched_result sr = r->outcome == DELIVER_OK     ? SCHED_OK
                               : r->outcome == DELIVER_PERM ? SCHED_PERM
                                                            : SCHED_TEMP;
        sched_outcome_set(&at->out[job->idx[k]], sr, r->code, r->enhanced, r->text,
                          r->code != 0 && res->hop >= 0 ? job->route_hops[res->hop].name : NULL,
                          res->relay);
        (void)str_copyz(at->out[job->idx[k]].tls, sizeof(at->out[job->idx[k]].tls), res->tls);
        if (res->hop < 0)
            (void)str_copyz(at->out[job->idx[k]].tried, sizeof(at->out[job->idx[k]].tried),
                            res->tried);
    }
    job_end(job);
}

static void
job_route_cb(void *arg, const struct route_result *r)
{
    struct sched_job *job = arg;
    struct sched_attempt *at = job->at;
    struct sched *s = at->e->s;
    const struct envelope *env = &at->q->env;
    struct deliver_opts opts;

    job->route = NULL;
    if (r->status != ROUTE_OK) {
        for (size_t k = 0; k < job->n; k++)
            sched_outcome_set(&at->out[job->idx[k]],
                              r->status == ROUTE_PERM ? SCHED_PERM : SCHED_TEMP, 0, r->enhanced,
                              r->why, NULL, "none");
        job_end(job);
        return;
    }
    free(job->route_hops);
    job->n_hops = r->n_hops < ROUTE_HOPS_MAX ? r->n_hops : ROUTE_HOPS_MAX;
    job->route_hops = xmalloc(job->n_hops * sizeof(*r->hops));
    memcpy(job->route_hops, r->hops, job->n_hops * sizeof(*r->hops));
    memset(&opts, 0, sizeof(opts));
    opts.helo = job->conf->hostname;
    opts.cache = s->cache;
    opts.tls = s->tls;
    opts.tls_policy =
        s->tls == NULL ? CONF_TLS_POLICY_NONE : conf_tls_policy_for(job->conf, job->domain);
    if (r->auth != NULL) {
        /* relay-auth: deliver copies the login, and speaks it only inside TLS. */
        opts.auth_user = r->auth->user;
        opts.auth_password = r->auth->password;
    }
    opts.timeouts.connect = job->conf->timeout_connect;
    opts.timeouts.greeting = job->conf->timeout_command;
    opts.timeouts.command = job->conf->timeout_command;
    opts.timeouts.data_init = job->conf->timeout_command;
    opts.timeouts.data_block = job->conf->timeout_data;
    opts.timeouts.data_end = job->conf->timeout_data;
    job->msg.id = env->id;
    job->msg.sender = env->sender;
    job->msg.body = env->body;
    job->msg.smtputf8 = env->smtputf8;
    job->msg.ret = env->ret;
    job->msg.envid = env->envid;
    job->msg.fd = at->q->fd;
    job->msg.content_off = at->q->content_off;
    job->msg.content_len = at->q->content_len;
    job->msg.rcpts = job->rcpts;
    job->msg.n_rcpts = job->n;
    for (size_t k = 0; k < job->n; k++) {
        const struct envelope_rcpt *er = &env->rcpts[job->idx[k]];

        memset(&job->rcpts[k], 0, sizeof(job->rcpts[k]));
        job->rcpts[k].addr = er->addr;
        job->rcpts[k].notify = er->notify;
        job->rcpts[k].orcpt = er->orcpt;
    }
    job->dl =
        deliver_start(s->base, &opts, job->route_hops, job->n_hops, &job->msg, job_deliver_cb, job);
    if (job->dl == NULL) {
        char why[128];

        (void)str_fmt(why, sizeof(why), "local trouble: %s", strerror(errno));
        for (size_t k = 0; k < job->n; k++)
            sched_outcome_set(&at->out[job->idx[k]], SCHED_TEMP, 0, "4.3.0", why, NULL, "none");
        job_end(job);
    }
}

void
sched_job_run(struct sched_job *job)
{
    struct sched_attempt *at = job->at;
    struct sched *s = at->e->s;
    const char *domain = job->domain;

    job->running = true;
    if (job->conf == NULL)
        job->conf = conf_ref(s->conf);
    if (domain[0] == '\0') {
        /* The bare "Postmaster" (RFC 5321 4.5.1): to our first domain that has a relay. */
        for (size_t i = 0; i < job->conf->n_domains; i++) {
            if (job->conf->domains[i].relay.n > 0) {
                domain = job->conf->domains[i].name;
                break;
            }
        }
    }
    if (domain[0] == '\0') {
        for (size_t k = 0; k < job->n; k++)
            sched_outcome_set(&at->out[job->idx[k]], SCHED_PERM, 0, "5.1.1",
                              "no route for Postmaster: no domain block has a relay", NULL, "none");
        job_end(job);
        return;
    }
    job->route = route_start(s->base, s->dns, job->conf, domain, job_route_cb, job);
}

/* ---- Start ---- */

static struct sched_job *
job_for(struct sched_attempt *at, const char *domain, size_t cap)
{
    struct sched_job *job;

    for (job = at->jobs; job != NULL; job = job->next) {
        if (strcmp(job->domain, domain) == 0)
            return job;
    }
    job = xcalloc(1, sizeof(*job));
    job->at = at;
    (void)str_copyz(job->domain, sizeof(job->domain), domain);
    job->idx = xcalloc(cap, sizeof(*job->idx));
    job->rcpts = xcalloc(cap, sizeof(*job->rcpts));
    job->next = at->jobs;
    at->jobs = job;
    at->jobs_left++;
    return job;
}

/* A new attempt of e over its open file q (the attempt owns q from now on). */
static struct sched_attempt *
attempt_new(struct sched_entry *e, struct spool_queued *q)
{
    struct sched_attempt *at = xcalloc(1, sizeof(*at));

    at->e = e;
    at->q = q;
    (void)gettimeofday(&at->start, NULL);
    at->out = xcalloc(q->env.n_rcpts, sizeof(*at->out));
    e->at = at;
    e->s->n_active++;
    return at;
}

void
sched_attempt_start(struct sched_entry *e)
{
    struct sched *s = e->s;
    struct sched_attempt *at;
    struct spool_queued *q;
    char why[256];
    unsigned received;

    if (spool_queued_open(s->sp, e->id, &q, why, sizeof(why)) == -1) {
        if (errno == ENOENT) {
            /* Gone (deleted by hand): nothing left to deliver. */
            log_warning("%s: event=vanished, reason=\"%s\"", e->id, why);
            s->n_active++;
            sched_entry_after(e, true);
            return;
        }
        log_error("%s: event=unreadable, reason=\"%s\", action=\"left alone in queue/\"", e->id,
                  why);
        e->broken = true;
        return;
    }
    at = attempt_new(e, q);
    at->prev_try = e->last_try;
    e->last_try = at->start.tv_sec;
    received = count_received(q);
    for (size_t i = 0; i < q->env.n_rcpts; i++) {
        char domain[CAP_DOMAIN + 3];
        struct sched_job *job;

        if (q->env.rcpts[i].status != ENVELOPE_RCPT_PENDING)
            continue;
        if (received > SCHED_MAX_RECEIVED) {
            char text[96];

            (void)str_fmt(text, sizeof(text), "mail loop: too many hops (%u Received headers)",
                          received);
            sched_outcome_set(&at->out[i], SCHED_PERM, 0, "5.4.6", text, NULL, "none");
            continue;
        }
        rcpt_domain(q->env.rcpts[i].addr, domain, sizeof(domain));
        job = job_for(at, domain, q->env.n_rcpts);
        job->idx[job->n++] = i;
    }
    if (at->jobs_left == 0) {
        sched_attempt_finish(at);
        return;
    }
    for (struct sched_job *job = at->jobs; job != NULL; job = job->next)
        sched_job_wait(s, job);
    sched_pump(s);
}

int
sched_attempt_fail_all(struct sched_entry *e, const char *enhanced, const char *text)
{
    struct sched *s = e->s;
    struct sched_attempt *at;
    struct spool_queued *q;
    char why[256];

    if (spool_queued_open(s->sp, e->id, &q, why, sizeof(why)) == -1)
        return -1;
    at = attempt_new(e, q);
    for (size_t i = 0; i < q->env.n_rcpts; i++) {
        if (q->env.rcpts[i].status == ENVELOPE_RCPT_PENDING)
            sched_outcome_set(&at->out[i], SCHED_PERM, 0, enhanced, text, NULL, "none");
    }
    sched_attempt_finish(at);
    return 0;
}
