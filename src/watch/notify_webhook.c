/* SPDX-License-Identifier: MIT */
/*
 * Webhooks (notify.h): HTTP(S) POSTs of an alert's JSON with libcurl's
 * multi interface driven by the daemon's libevent loop (lib/curl_loop.h,
 * shared with the rspamd client). Name lookups run on curl's own resolver
 * thread, so nothing here blocks.
 *
 * A post is a job: up to NOTIFY_WEBHOOK_TRIES tries of at most
 * NOTIFY_WEBHOOK_TIMEOUT_MS each, NOTIFY_WEBHOOK_BACKOFF_MS (then twice
 * that) apart. A 2xx answer is success; anything else (no connection, a
 * timeout, a TLS failure, 3xx, 4xx, 5xx) is a failed try, logged. At most
 * NOTIFY_WEBHOOK_INFLIGHT jobs run; NOTIFY_WEBHOOK_WAITING more wait in
 * order; beyond that a post is dropped with a warning, so that a dead or
 * slow server costs bounded memory and time, and SMTP never notices.
 *
 * Only http and https, no redirects, no proxy from the environment (an
 * alert goes where the configuration says), the response body discarded.
 * URLs are never logged whole (a hook's path often holds its secret): the
 * log names the scheme, host and port.
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "lib/curl_loop.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "watch/notify.h"

struct hook_job {
    struct notify_webhooks *h;
    struct hook_job *next, *prev; /* in running or waiting */
    char *url, *ca_file, *body;
    char rule[64 + 1];
    char key[LOG_QUOTE_CAP];
    char state[16];
    char where[300]; /* scheme://host[:port], for logs */
    unsigned tries;
    CURL *easy;            /* during a try */
    struct event *backoff; /* between tries */
    struct curl_slist *headers;
    char error[CURL_ERROR_SIZE];
};

struct hook_list {
    struct hook_job *head, *tail;
    size_t n;
};

struct notify_webhooks {
    struct event_base *base;
    struct curl_loop *loop;
    struct hook_list running, waiting;
    bool freeing;
};

static void job_try(struct hook_job *job);

/* ---- Lists ---- */

static void
list_push(struct hook_list *l, struct hook_job *j)
{
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    l->n++;
}

static void
list_unlink(struct hook_list *l, struct hook_job *j)
{
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        l->head = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    else
        l->tail = j->prev;
    j->next = j->prev = NULL;
    l->n--;
}

/* ---- Jobs ---- */

void
notify_webhook_where(const char *url, char *out, size_t cap)
{
    const char *host = strstr(url, "://");
    size_t n;

    host = host != NULL ? host + 3 : url;
    n = strcspn(host, "/?#");
    /* Credentials before '@' are not shown either. */
    for (size_t i = n; i > 0; i--) {
        if (host[i - 1] == '@') {
            (void)str_fmt(out, cap, "%.*s%.*s", (int)(host - url), url, (int)(n - i), host + i);
            return;
        }
    }
    (void)str_fmt(out, cap, "%.*s", (int)(host - url + (long)n), url);
}

static void
job_free(struct hook_job *job)
{
    if (job->easy != NULL) {
        curl_loop_remove(job->h->loop, job->easy);
        curl_easy_cleanup(job->easy);
    }
    if (job->backoff != NULL)
        event_free(job->backoff);
    curl_slist_free_all(job->headers);
    free(job->url);
    free(job->ca_file);
    free(job->body);
    free(job);
}

/* Starts waiting jobs while there is room. */
static void
start_waiting(struct notify_webhooks *h)
{
    while (!h->freeing && h->waiting.head != NULL && h->running.n < NOTIFY_WEBHOOK_INFLIGHT) {
        struct hook_job *job = h->waiting.head;

        list_unlink(&h->waiting, job);
        list_push(&h->running, job);
        job_try(job);
    }
}

static void
job_done(struct hook_job *job)
{
    struct notify_webhooks *h = job->h;

    list_unlink(&h->running, job);
    job_free(job);
    start_waiting(h);
}

static void
backoff_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    job_try(arg);
}

/* A try ended: success, or a retry after the backoff, or the end. */
static void
job_tried(struct hook_job *job, CURLcode rc, long code)
{
    struct timeval tv;
    uint64_t wait_ms;

    if (rc == CURLE_OK && code >= 200 && code <= 299) {
        log_info("-: event=alert-webhook, rule=%s, key=%s, state=%s, webhook=\"%s\", status=sent, "
                 "code=%ld, try=%u",
                 job->rule, job->key, job->state, job->where, code, job->tries);
        job_done(job);
        return;
    }
    if (rc == CURLE_OK)
        log_warning("-: event=alert-webhook, rule=%s, key=%s, state=%s, webhook=\"%s\", "
                    "status=failed, code=%ld, try=%u",
                    job->rule, job->key, job->state, job->where, code, job->tries);
    else
        log_warning("-: event=alert-webhook, rule=%s, key=%s, state=%s, webhook=\"%s\", "
                    "status=failed, error=\"%s\", try=%u",
                    job->rule, job->key, job->state, job->where,
                    job->error[0] != '\0' ? job->error : curl_easy_strerror(rc), job->tries);
    if (job->tries >= NOTIFY_WEBHOOK_TRIES) {
        log_warning("-: event=alert-webhook, rule=%s, key=%s, state=%s, webhook=\"%s\", "
                    "status=given-up, tries=%u",
                    job->rule, job->key, job->state, job->where, job->tries);
        job_done(job);
        return;
    }
    wait_ms = (uint64_t)NOTIFY_WEBHOOK_BACKOFF_MS << (job->tries - 1);
    tv.tv_sec = (time_t)(wait_ms / 1000);
    tv.tv_usec = (suseconds_t)(wait_ms % 1000 * 1000);
    if (job->backoff == NULL)
        job->backoff = evtimer_new(job->h->base, backoff_cb, job);
    if (job->backoff == NULL || evtimer_add(job->backoff, &tv) == -1)
        log_panic("alert webhook: cannot arm a timer");
}

/* A try's transfer ended (curl_loop_done_fn). */
static void
job_ended(CURL *easy, CURLcode rc, void *arg)
{
    struct hook_job *job = arg;
    long code = 0;

    (void)curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(easy);
    job->easy = NULL;
    job_tried(job, rc, code);
}

/* Discards the answer's body (bounded by the try's timeout). */
static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

static void
job_try(struct hook_job *job)
{
    struct notify_webhooks *h = job->h;
    CURL *e = curl_easy_init();

    job->tries++;
    job->error[0] = '\0';
    if (e == NULL) {
        job_tried(job, CURLE_OUT_OF_MEMORY, 0);
        return;
    }
    if (job->headers == NULL) {
        job->headers = curl_slist_append(NULL, "Content-Type: application/json");
        if (job->headers != NULL)
            job->headers = curl_slist_append(job->headers, "Expect:"); /* no 100-continue wait */
    }
    if (curl_easy_setopt(e, CURLOPT_URL, job->url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)NOTIFY_WEBHOOK_TIMEOUT_MS) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)NOTIFY_WEBHOOK_TIMEOUT_MS) !=
            CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, job->body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(job->body)) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, job->headers) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_USERAGENT, "gate26/" GATE26_VERSION) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, job->error) != CURLE_OK ||
        (job->ca_file != NULL && curl_easy_setopt(e, CURLOPT_CAINFO, job->ca_file) != CURLE_OK)) {
        curl_easy_cleanup(e);
        job_tried(job, CURLE_FAILED_INIT, 0);
        return;
    }
    job->easy = e;
    if (curl_loop_add(h->loop, e, job_ended, job) == -1) {
        job->easy = NULL;
        curl_easy_cleanup(e);
        job_tried(job, CURLE_FAILED_INIT, 0);
    }
}

/* ---- Public ---- */

struct notify_webhooks *
notify_webhooks_new(struct event_base *base)
{
    struct notify_webhooks *h = xcalloc(1, sizeof(*h));

    h->base = base;
    h->loop = curl_loop_new(base);
    return h;
}

static void
drop_all(struct hook_list *l, const char *why)
{
    while (l->head != NULL) {
        struct hook_job *job = l->head;

        log_warning("-: event=alert-webhook, rule=%s, key=%s, state=%s, webhook=\"%s\", "
                    "status=dropped, reason=\"%s\", tries=%u",
                    job->rule, job->key, job->state, job->where, why, job->tries);
        list_unlink(l, job);
        job_free(job);
    }
}

void
notify_webhooks_free(struct notify_webhooks *h)
{
    if (h == NULL)
        return;
    h->freeing = true;
    drop_all(&h->waiting, "stopping");
    drop_all(&h->running, "stopping");
    curl_loop_free(h->loop);
    free(h);
}

size_t
notify_webhooks_pending(const struct notify_webhooks *h)
{
    return h->running.n + h->waiting.n;
}

void
notify_webhook_post(struct notify_webhooks *h, const char *url, const char *ca_file,
                    const struct notify_what *what)
{
    struct hook_job *job = xcalloc(1, sizeof(*job));

    job->h = h;
    job->url = xstrdup(url);
    job->ca_file = ca_file != NULL && ca_file[0] != '\0' ? xstrdup(ca_file) : NULL;
    job->body = xstrdup(what->json);
    (void)str_copyz(job->rule, sizeof(job->rule), what->rule);
    (void)str_copyz(job->key, sizeof(job->key), what->key_log);
    (void)str_copyz(job->state, sizeof(job->state), what->state);
    notify_webhook_where(url, job->where, sizeof(job->where));
    if (h->running.n >= NOTIFY_WEBHOOK_INFLIGHT && h->waiting.n >= NOTIFY_WEBHOOK_WAITING) {
        log_warning("-: event=alert-webhook, rule=%s, key=%s, state=%s, webhook=\"%s\", "
                    "status=dropped, reason=\"%d posts in flight and %d waiting\"",
                    job->rule, job->key, job->state, job->where, NOTIFY_WEBHOOK_INFLIGHT,
                    NOTIFY_WEBHOOK_WAITING);
        job_free(job);
        return;
    }
    list_push(&h->waiting, job);
    start_waiting(h);
}
