/* SPDX-License-Identifier: MIT */
/*
 * The queue in memory (sched.h): one entry per message in queue/, each
 * with a timer for its next attempt; the delivery slots (max-deliveries in
 * all, max-per-destination per recipient domain) and the queue of jobs
 * waiting for one; loading the queue at start; learning of new messages
 * through the spool's commit hook.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "sched/sched_impl.h"
#include "tls/tls.h"

/* ---- Entries and their timers ---- */

/* Attempts open their file for their whole duration: bound how many run at once. */
static size_t
attempt_slots(const struct sched *s)
{
    return 2 * (size_t)s->conf->max_deliveries;
}

static bool
entry_may_start(const struct sched_entry *e)
{
    const struct sched *s = e->s;

    return !s->stopping && !s->draining && !s->conf->queue_only && e->at == NULL && !e->broken &&
           !e->held && e->op == NULL;
}

/* Starts due messages from the ready queue while attempt slots are free. */
static void
ready_run(struct sched *s)
{
    while (s->ready_head != NULL && s->n_active < attempt_slots(s)) {
        struct sched_entry *e = s->ready_head;

        s->ready_head = e->ready_next;
        if (s->ready_head == NULL)
            s->ready_tail = NULL;
        e->ready_next = NULL;
        e->ready = false;
        if (entry_may_start(e))
            sched_attempt_start(e);
    }
}

static void
ready_remove(struct sched *s, struct sched_entry *e)
{
    struct sched_entry **pp, *prev = NULL;

    if (!e->ready)
        return;
    for (pp = &s->ready_head; *pp != NULL; prev = *pp, pp = &(*pp)->ready_next) {
        if (*pp == e) {
            *pp = e->ready_next;
            if (s->ready_tail == e)
                s->ready_tail = prev;
            break;
        }
    }
    e->ready = false;
    e->ready_next = NULL;
}

static void
entry_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sched_entry *e = arg;
    struct sched *s = e->s;

    (void)fd;
    (void)what;
    if (!entry_may_start(e) || e->ready)
        return;
    e->ready = true;
    if (s->ready_tail != NULL)
        s->ready_tail->ready_next = e;
    else
        s->ready_head = e;
    s->ready_tail = e;
    ready_run(s);
}

void
sched_entry_arm(struct sched_entry *e)
{
    struct timeval tv = {0, 0};
    time_t now = time(NULL);

    if (e->s->stopping || e->s->conf->queue_only || e->held || e->broken || e->op != NULL)
        return;
    if (e->next_attempt > (uint64_t)now)
        tv.tv_sec = (time_t)(e->next_attempt - (uint64_t)now);
    if (evtimer_add(e->timer, &tv) == -1)
        log_panic("%s: cannot arm the retry timer", e->id);
}

static struct sched_entry *
entry_new(struct sched *s, const char *id)
{
    struct sched_entry *e = xcalloc(1, sizeof(*e));

    e->s = s;
    memcpy(e->id, id, sizeof(e->id));
    e->timer = evtimer_new(s->base, entry_timer_cb, e);
    if (e->timer == NULL)
        log_panic("%s: cannot create a timer", id);
    e->prev = s->tail;
    if (s->tail != NULL)
        s->tail->next = e;
    else
        s->head = e;
    s->tail = e;
    s->n_entries++;
    return e;
}

void
sched_entry_free(struct sched_entry *e)
{
    struct sched *s = e->s;

    ready_remove(s, e);
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    s->n_entries--;
    event_free(e->timer);
    free(e);
}

void
sched_entry_set_attempts(struct sched_entry *e, unsigned attempts)
{
    e->attempts = attempts;
}

void
sched_entry_after(struct sched_entry *e, bool removed)
{
    struct sched *s = e->s;

    e->at = NULL;
    s->n_active--;
    if (removed)
        sched_entry_free(e);
    else if (!s->stopping)
        sched_entry_arm(e);
    ready_run(s);
}

/* The spool's commit hook: a new message is in queue/ (held: queued on hold, by an alert). */
static void
sched_committed(void *arg, const char *id, bool held)
{
    struct sched *s = arg;
    struct sched_entry *e;

    e = entry_new(s, id);
    e->arrival = time(NULL);
    if (held) {
        e->held = true;
        e->next_attempt = SPOOL_NEXT_HELD;
        return;
    }
    if (!s->stopping)
        sched_entry_arm(e); /* next_attempt 0: as soon as the loop turns */
}

/* ---- Destinations and slots ---- */

struct sched_dest *
sched_dest_get(struct sched *s, const char *domain)
{
    struct sched_dest *d;

    for (d = s->dests; d != NULL; d = d->next) {
        if (strcmp(d->domain, domain) == 0)
            return d;
    }
    d = xcalloc(1, sizeof(*d));
    (void)str_copyz(d->domain, sizeof(d->domain), domain);
    d->next = s->dests;
    s->dests = d;
    return d;
}

void
sched_dest_put(struct sched *s, struct sched_dest *d)
{
    struct sched_dest **pp;

    if (d->active > 0 || d->wait_head != NULL)
        return;
    for (pp = &s->dests; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            free(d);
            return;
        }
    }
}

void
sched_job_wait(struct sched *s, struct sched_job *job)
{
    struct sched_dest *d = sched_dest_get(s, job->domain);

    job->dest = d;
    job->waiting = true;
    job->wait_next = NULL;
    if (d->wait_tail != NULL)
        d->wait_tail->wait_next = job;
    else
        d->wait_head = job;
    d->wait_tail = job;
}

/*
 * Starts waiting jobs while slots are free: per destination in FIFO order,
 * at most max-per-destination each and max-deliveries in all. Walks the
 * destinations, not the jobs, so a large backlog for one busy destination
 * costs nothing here.
 */
void
sched_pump(struct sched *s)
{
    /* A job that ends at once (sched_job_run -> job_end) pumps again: do that here instead. */
    if (s->pumping) {
        s->pump_again = true;
        return;
    }
    s->pumping = true;
again:
    s->pump_again = false;
    for (struct sched_dest *d = s->dests; d != NULL; d = d->next) {
        while (d->wait_head != NULL && d->active < s->conf->max_per_destination) {
            struct sched_job *job = d->wait_head;

            if (s->stopping || s->draining || s->running >= s->conf->max_deliveries)
                goto done;
            d->wait_head = job->wait_next;
            if (d->wait_head == NULL)
                d->wait_tail = NULL;
            job->wait_next = NULL;
            job->waiting = false;
            d->active++;
            s->running++;
            sched_job_run(job);
            if (s->pump_again)
                goto again; /* d (or the list) may have changed under us */
        }
    }
done:
    s->pumping = false;
}

/* ---- Public ---- */

struct sched *
sched_new(struct event_base *base, struct spool *sp, struct dns *dns, struct conf *c)
{
    struct sched *s = xcalloc(1, sizeof(*s));

    s->base = base;
    s->sp = sp;
    s->dns = dns;
    s->conf = conf_ref(c);
    s->cache = deliver_cache_new(base, c->max_deliveries, c->connection_reuse);
    spool_set_commit_hook(sp, sched_committed, s);
    return s;
}

long
sched_load(struct sched *s)
{
    char(*ids)[SPOOL_ID_LEN + 1];
    size_t n;

    if (spool_queue_list(s->sp, &ids, &n) == -1)
        return -1;
    if (s->conf->queue_only)
        log_warning("-: event=queue-only, warning=\"delivery { queue-only yes }: nothing is "
                    "delivered\"");
    for (size_t i = 0; i < n; i++) {
        struct sched_entry *e = entry_new(s, ids[i]);
        struct spool_queued *q;
        char why[256];

        if (spool_queued_open(s->sp, ids[i], &q, why, sizeof(why)) == -1) {
            log_error("%s: event=unreadable, reason=\"%s\", action=\"left alone in queue/\"",
                      ids[i], why);
            e->broken = true;
            continue;
        }
        sched_entry_set_attempts(e, q->env.attempts);
        e->arrival = q->env.arrival.tv_sec;
        e->next_attempt = q->env.next_attempt;
        e->held = e->next_attempt == SPOOL_NEXT_HELD;
        spool_queued_close(q);
        sched_entry_arm(e);
    }
    free(ids);
    log_info("-: event=queue-loaded, messages=%zu", n);
    return (long)n;
}

void
sched_set_conf(struct sched *s, struct conf *c)
{
    struct conf *old = s->conf;

    s->conf = conf_ref(c);
    conf_unref(old);
    /* Idle connections were opened under the old settings (hostname, limits). */
    deliver_cache_configure(s->cache, c->max_deliveries, c->connection_reuse);
    if (c->queue_only) {
        log_warning("-: event=queue-only, warning=\"delivery { queue-only yes }: nothing is "
                    "delivered\"");
        return;
    }
    /* Out of queue-only mode: every waiting message gets its timer (again). */
    for (struct sched_entry *e = s->head; e != NULL; e = e->next) {
        if (e->at == NULL && !e->broken && !s->stopping)
            sched_entry_arm(e);
    }
    /* Raised max-deliveries or max-per-destination: what waited for a slot may start now, as
     * it would at a start with these limits. */
    ready_run(s);
    sched_pump(s);
}

void
sched_set_watch(struct sched *s, struct watch *w)
{
    s->watch = w;
}

void
sched_set_tls(struct sched *s, struct tls_client *tls)
{
    struct tls_client *old = s->tls;

    s->tls = tls != NULL ? tls_client_ref(tls) : NULL;
    tls_client_unref(old);
    /* Idle connections were made under the old context (its CA store). */
    deliver_cache_clear(s->cache);
}

size_t
sched_drain(struct sched *s)
{
    s->draining = true;
    return s->running;
}

void
sched_stop(struct sched *s)
{
    struct sched_entry *e;

    s->stopping = true;
    spool_set_commit_hook(s->sp, NULL, NULL);
    for (e = s->head; e != NULL;) {
        struct sched_entry *next = e->next;

        (void)evtimer_del(e->timer);
        ready_remove(s, e);
        if (e->at != NULL)
            sched_attempt_stop(e->at);
        e = next;
    }
    for (struct sched_dest *d = s->dests; d != NULL; d = d->next)
        d->wait_head = d->wait_tail = NULL;
}

void
sched_free(struct sched *s)
{
    if (s == NULL)
        return;
    if (!s->stopping)
        sched_stop(s);
    while (s->head != NULL) {
        if (s->head->at != NULL)
            log_panic("%s: freed with an attempt waiting for the spool", s->head->id);
        sched_entry_free(s->head);
    }
    while (s->dests != NULL) {
        struct sched_dest *d = s->dests;

        s->dests = d->next;
        free(d);
    }
    deliver_cache_free(s->cache);
    tls_client_unref(s->tls);
    conf_unref(s->conf);
    free(s);
}

void
sched_stats(const struct sched *s, struct sched_stats *out)
{
    out->messages = s->n_entries;
    out->active = s->n_active;
    out->deliveries = s->running;
    out->sent = s->sent;
    out->bounced = s->bounced;
    out->deferred = s->deferred;
    out->oldest = 0;
    /* Entries are in arrival order (loaded sorted by id, then as committed); a file that could
     * not be read has no arrival. */
    for (const struct sched_entry *e = s->head; e != NULL && out->oldest == 0; e = e->next)
        out->oldest = e->arrival;
}

void
sched_queue_facts(const struct sched *s, struct sched_queue_facts *out)
{
    memset(out, 0, sizeof(*out));
    for (const struct sched_entry *e = s->head; e != NULL; e = e->next) {
        out->messages++;
        out->held += e->held;
        out->deferred += !e->held && e->attempts > 0;
        if (e->arrival > 0 && (out->oldest == 0 || e->arrival < out->oldest))
            out->oldest = e->arrival;
    }
}
