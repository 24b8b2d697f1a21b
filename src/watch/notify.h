/* SPDX-License-Identifier: MIT */
/*
 * Private to src/watch: the actions of an alert (docs/watch.md, "Actions"),
 * each told one notification as a JSON document (alert.c makes it):
 *
 *   notify_webhook.c  an HTTP(S) POST with libcurl's multi interface on the
 *                     loop: 5 s a try, three tries with backoff, a bounded
 *                     number in flight and waiting, never blocking the loop;
 *   notify_exec.c     a program with the JSON on its standard input, in a
 *                     process group of its own, killed after a timeout, a
 *                     few at once;
 *   notify_mail.c     a plain-text message queued in gate26's own spool and
 *                     delivered like any other.
 *
 * Each logs what became of it; none ever waits. Threads: the loop's only.
 */
#ifndef GATE26_WATCH_NOTIFY_H
#define GATE26_WATCH_NOTIFY_H

#include <stddef.h>
#include <time.h>

struct event_base;
struct spool;

/* What a notification is about, for log lines, the mail and a program's environment. */
struct notify_what {
    const char *rule;    /* the rule's name */
    const char *when;    /* its kind */
    const char *key;     /* printable ASCII (alert_key_text) */
    const char *key_log; /* key as a log field's value: bare, or quoted when it must be */
    const char *state;   /* "firing" or "resolved" */
    const char *json;    /* the document, NUL-terminated */
    time_t time;
};

/* ---- Webhooks ---- */

#define NOTIFY_WEBHOOK_TIMEOUT_MS 5000 /* one try, connection included */
#define NOTIFY_WEBHOOK_TRIES      3
#define NOTIFY_WEBHOOK_BACKOFF_MS 1000 /* before the second try; doubled before the third */
#define NOTIFY_WEBHOOK_INFLIGHT   16   /* posts being tried (or waiting for their next try) */
#define NOTIFY_WEBHOOK_WAITING    256  /* posts waiting for a place; more are dropped, logged */

struct notify_webhooks;

/* The webhooks' machinery on base. Free with notify_webhooks_free. */
struct notify_webhooks *notify_webhooks_new(struct event_base *base);

/* Aborts every post in flight and drops those waiting (each logged). NULL: nothing. */
void notify_webhooks_free(struct notify_webhooks *h);

/*
 * Posts what->json to url (copied), verifying https servers against the
 * CA bundle ca_file (copied; "" or NULL: the system's store).
 */
void notify_webhook_post(struct notify_webhooks *h, const char *url, const char *ca_file,
                         const struct notify_what *what);

/* "https://ops.example.com:8443" of url: what a log line or a page may show of it. */
void notify_webhook_where(const char *url, char *out, size_t cap);

/* Posts in flight and waiting (for tests and the stop). */
size_t notify_webhooks_pending(const struct notify_webhooks *h);

/* ---- Programs ---- */

#define NOTIFY_EXEC_TIMEOUT_S 10 /* then its process group is killed */
#define NOTIFY_EXEC_RUNNING   4  /* programs running at once */
#define NOTIFY_EXEC_WAITING   32 /* waiting for a place; more are dropped, logged */

struct notify_execs;

struct notify_execs *notify_execs_new(struct event_base *base);

/* Kills every program still running (its process group) and reaps it. NULL: nothing. */
void notify_execs_free(struct notify_execs *x);

/* Runs program (copied) with what->json on its standard input. */
void notify_exec_run(struct notify_execs *x, const char *program, const struct notify_what *what);

/* ---- Mail ---- */

/*
 * Queues a message about what to the n addresses in to, from the null
 * sender <> (no bounce of a bounce) with From: MAILER-DAEMON@hostname,
 * delivered by the scheduler like any other. Logs the outcome; sp NULL:
 * logged as not sent.
 */
void notify_mail_send(struct spool *sp, const char *hostname, char *const *to, size_t n,
                      const struct notify_what *what);

#endif
