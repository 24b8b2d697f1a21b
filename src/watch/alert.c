/* SPDX-License-Identifier: MIT */
/*
 * The alert part of the watcher (watch_impl.h; docs/watch.md, "Alerts"):
 * the engine (alert_engine.c) on the daemon's loop and clocks, a tick once
 * a second (polled rules, keys to resolve, the baselines file), the log
 * line and the JSON document of each notification, and its actions
 * (notify_*.c). Also the hold (watch_hold) and the list of what fires
 * (watch_alerts_firing).
 *
 * The baselines of spike rules are written to SPOOL/watch/baselines at most
 * once a minute: the text is made on the loop (bounded: ALERT_KEYS_MAX keys
 * a rule), written by a thread of its own (a temporary file, fsync, rename,
 * fsync of the directory), so the loop never waits for the disk; and a
 * last time at the stop. They are read at start; a file that cannot be
 * read back is ignored with a warning and costs only its history.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/log.h"
#include "lib/now.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "watch/alert_engine.h"
#include "watch/alert_history.h"
#include "watch/alert_store.h"
#include "watch/notify.h"
#include "watch/metrics.h"
#include "watch/watch_impl.h"

/* The baselines file is written at most this often. */
#define ALERT_SAVE_EVERY_MS 60000
#define ALERT_DIR           "watch"
#define ALERT_BASELINES     "baselines"

/* A write of the baselines file by its thread. */
struct save_job {
    char dir[CAP_PATH], path[CAP_PATH], tmp[CAP_PATH];
    char *text;
    size_t len;
    int err;          /* 0, or the errno of the step that failed */
    const char *step; /* which step */
    atomic_bool done;
};

struct watch_alerts {
    struct watch *w;
    struct alert_engine *engine;
    struct event *tick;
    struct notify_webhooks *hooks;
    struct notify_execs *execs;
    struct spool *spool;
    watch_queue_fn *queue_fn;
    void *queue_arg;
    bool has_spike;
    uint64_t last_save;
    struct save_job *saving; /* a write in flight */
    pthread_t saver;
    bool stopped;
    struct alert_history *history; /* the last firings and resolutions (alert_history.h) */
};

/* ---- Notifications ---- */

/* "2026-12-06T21:20:15Z" */
static void
rfc3339(char *out, size_t cap, time_t t)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    (void)str_fmt(out, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* A key as a log field's value: bare when it reads as one token, else quoted. */
static void
key_log(const char *key, char *out, size_t cap)
{
    size_t len = strlen(key);

    if (len > 0 && len <= 200 &&
        strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:/_@-") ==
            len) {
        (void)str_copyz(out, cap, key);
        return;
    }
    out[0] = '"';
    (void)log_quote(out + 1, cap - 2, key, len);
    len = strlen(out);
    out[len] = '"';
    out[len + 1] = '\0';
}

/*
 * The document every action gets (docs/watch.md): rule, when, key, value,
 * threshold, window, state, door, time, hostname. A heap string; NULL
 * only when jansson is out of memory.
 */
static char *
note_json(const struct alert_note *n, const char *hostname)
{
    const struct conf_alert *def = n->rule->def;
    char when[32];
    json_t *o;
    char *text;

    rfc3339(when, sizeof(when), n->time);
    o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:o, s:s, s:s}", "rule", def->name, "when",
                  conf_alert_when_name(def->when), "key", n->key, "value", (json_int_t)n->value,
                  "threshold", (json_int_t)(n->threshold > INT64_MAX ? INT64_MAX : n->threshold),
                  "window", (json_int_t)n->window, "state",
                  n->state == ALERT_FIRING ? "firing" : "resolved", "door",
                  n->door >= 0 ? json_string(conf_role_name((enum door_role)n->door)) : json_null(),
                  "time", when, "hostname", hostname);
    if (o == NULL)
        return NULL;
    if (n->state == ALERT_RESOLVED) {
        char since[32];

        rfc3339(since, sizeof(since), n->since);
        (void)json_object_set_new(o, "since", json_string(since));
    }
    text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    return text;
}

/*
 * The metrics' share: gate26_alerts_firing{rule} (metrics.c). The metrics
 * part's API (src/watch/metrics.h on its branch) is metrics_alert_rules()
 * at start and reload, and metrics_alert_firing(rule, delta) as keys fire
 * and clear; until both parts meet, these two are where the calls go.
 */
static void
alert_tell_metrics(const char *rule, int delta)
{
    metrics_alert_firing(rule, delta);
}

static void
alert_tell_metrics_rules(const struct conf *c)
{
    const char *names[CONF_ALERTS_MAX];
    size_t n = c->n_alerts < CONF_ALERTS_MAX ? c->n_alerts : CONF_ALERTS_MAX;

    for (size_t i = 0; i < n; i++)
        names[i] = c->alerts[i].name;
    metrics_alert_rules(names, n);
}

/* The engine's notification: the log line, always; then each action of the rule. */
static void
on_note(void *arg, const struct alert_note *n)
{
    struct watch_alerts *a = arg;
    const struct conf_alert *def = n->rule->def;
    const char *state = n->state == ALERT_FIRING ? "firing" : "resolved";
    const char *hostname = a->w->conf->hostname;
    char klog[LOG_QUOTE_CAP + 2];
    struct notify_what what;
    char *json;

    key_log(n->key, klog, sizeof(klog));
    log_info("-: event=alert, rule=%s, when=%s, key=%s, value=%lld, threshold=%llu, window=%u, "
             "state=%s%s%s%s",
             def->name, conf_alert_when_name(def->when), klog, (long long)n->value,
             (unsigned long long)n->threshold, n->window, state, n->door >= 0 ? ", door=" : "",
             n->door >= 0 ? conf_role_name((enum door_role)n->door) : "",
             n->evicted ? ", reason=evicted" : "");
    alert_history_add(a->history, &(struct watch_alert_event){
                                      .time = n->time,
                                      .rule = def->name,
                                      .when = def->when,
                                      .key = n->key,
                                      .value = n->value,
                                      .threshold = n->threshold,
                                      .window = n->window,
                                      .firing = n->state == ALERT_FIRING,
                                      .door = n->door,
                                  });
    alert_tell_metrics(def->name, n->state == ALERT_FIRING ? 1 : -1);
    if (a->stopped || (def->n_webhooks == 0 && def->n_execs == 0 && def->n_mails == 0))
        return;
    json = note_json(n, hostname);
    if (json == NULL) {
        log_warning("-: event=alert, rule=%s, key=%s, warning=\"out of memory: no actions\"",
                    def->name, klog);
        return;
    }
    what = (struct notify_what){
        def->name, conf_alert_when_name(def->when), n->key, klog, state, json, n->time};
    for (size_t i = 0; i < def->n_webhooks; i++)
        notify_webhook_post(a->hooks, def->webhooks[i], a->w->conf->tls_ca_file, &what);
    for (size_t i = 0; i < def->n_execs; i++)
        notify_exec_run(a->execs, def->execs[i], &what);
    if (def->n_mails > 0)
        notify_mail_send(a->spool, hostname, def->mails, def->n_mails, &what);
    free(json);
}

/* ---- Our certificates (tls-expiry) ---- */

/* notAfter of the first certificate in the PEM file at path; -1 (logged) when unreadable. */
static int
cert_not_after(const char *path, time_t *out)
{
    FILE *f = fopen(path, "re");
    X509 *x;
    struct tm tm;

    if (f == NULL) {
        log_warning("-: event=alert, warning=\"tls-expiry: cannot read '%s': %s\"", path,
                    strerror(errno));
        return -1;
    }
    x = PEM_read_X509(f, NULL, NULL, NULL);
    (void)fclose(f);
    if (x == NULL || ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1) {
        log_warning("-: event=alert, warning=\"tls-expiry: no certificate in '%s'\"", path);
        X509_free(x);
        return -1;
    }
    X509_free(x);
    *out = timegm(&tm);
    return 0;
}

/* Reads our certificates' notAfter, when a tls-expiry rule wants them. */
static void
load_certs(struct watch_alerts *a)
{
    const struct conf *c = a->w->conf;
    struct alert_cert *certs = NULL;
    size_t n = 0;
    bool wanted = false;

    for (size_t i = 0; i < c->n_alerts; i++)
        wanted |= c->alerts[i].when == CONF_ALERT_TLS_EXPIRY;
    if (wanted && c->n_tls_pairs > 0) {
        certs = xcalloc(c->n_tls_pairs, sizeof(*certs));
        for (size_t i = 0; i < c->n_tls_pairs; i++) {
            if (cert_not_after(c->tls_pairs[i].cert, &certs[n].not_after) == 0 &&
                str_copyz(certs[n].path, sizeof(certs[n].path), c->tls_pairs[i].cert) == 0)
                n++;
        }
    }
    alert_engine_set_certs(a->engine, certs, n);
    free(certs);
}

/* ---- The baselines file ---- */

static void
save_paths(const struct watch_alerts *a, struct save_job *j)
{
    const char *spool = a->w->conf->spool;

    (void)str_fmt(j->dir, sizeof(j->dir), "%s/" ALERT_DIR, spool);
    (void)str_fmt(j->path, sizeof(j->path), "%s/" ALERT_DIR "/" ALERT_BASELINES, spool);
    (void)str_fmt(j->tmp, sizeof(j->tmp), "%s/" ALERT_DIR "/" ALERT_BASELINES ".tmp", spool);
}

static int
save_fail(struct save_job *j, const char *step)
{
    j->err = errno;
    j->step = step;
    return -1;
}

/* The write itself: a temporary file, fsync, rename, fsync of the directory. Any thread. */
static int
save_write(struct save_job *j)
{
    size_t off = 0;
    int fd, dfd;

    if (mkdir(j->dir, 0700) == -1 && errno != EEXIST)
        return save_fail(j, "mkdir");
    fd = open(j->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd == -1)
        return save_fail(j, "open");
    while (off < j->len) {
        ssize_t n = write(fd, j->text + off, j->len - off);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            (void)save_fail(j, "write");
            (void)close(fd);
            (void)unlink(j->tmp);
            return -1;
        }
        off += (size_t)n;
    }
    if (fsync(fd) == -1) {
        (void)save_fail(j, "fsync");
        (void)close(fd);
        (void)unlink(j->tmp);
        return -1;
    }
    if (close(fd) == -1)
        return save_fail(j, "close");
    if (rename(j->tmp, j->path) == -1)
        return save_fail(j, "rename");
    dfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd != -1) {
        (void)fsync(dfd);
        (void)close(dfd);
    }
    return 0;
}

static void *
save_thread(void *arg)
{
    struct save_job *j = arg;

    (void)save_write(j);
    atomic_store(&j->done, true);
    return NULL;
}

static void
save_report(struct save_job *j)
{
    if (j->err != 0)
        log_warning("-: event=baselines, status=failed, file=\"%s\", error=\"%s: %s\"", j->path,
                    j->step, strerror(j->err));
    else
        log_debug("-: event=baselines, status=saved, file=\"%s\", size=%zu", j->path, j->len);
    free(j->text);
    free(j);
}

/* A write in flight that has ended: joined and reported. wait: also one that has not. */
static void
save_finish(struct watch_alerts *a, bool wait)
{
    if (a->saving == NULL || (!wait && !atomic_load(&a->saving->done)))
        return;
    if (pthread_join(a->saver, NULL) != 0)
        log_panic("alert: cannot join the baselines writer");
    save_report(a->saving);
    a->saving = NULL;
}

static struct save_job *
save_job_new(struct watch_alerts *a)
{
    struct save_job *j = xcalloc(1, sizeof(*j));

    save_paths(a, j);
    j->text = alert_store_format(a->engine, now_ms(), &j->len);
    return j;
}

/* Once a minute at most, when there are spike rules: a write on the writer's thread. */
static void
save_maybe(struct watch_alerts *a, uint64_t now)
{
    struct save_job *j;
    int rc;

    save_finish(a, false);
    if (!a->has_spike || a->saving != NULL || now - a->last_save < ALERT_SAVE_EVERY_MS)
        return;
    a->last_save = now;
    j = save_job_new(a);
    rc = pthread_create(&a->saver, NULL, save_thread, j);
    if (rc != 0) {
        j->err = rc;
        j->step = "pthread_create";
        save_report(j);
        return;
    }
    a->saving = j;
}

/* The last write, at the stop, on this thread. */
static void
save_now(struct watch_alerts *a)
{
    struct save_job *j;

    save_finish(a, true);
    if (!a->has_spike)
        return;
    j = save_job_new(a);
    (void)save_write(j);
    save_report(j);
}

/* Reads the baselines file, if there is one: at start, before the first event. */
static void
load_baselines(struct watch_alerts *a)
{
    struct save_job paths;
    char why[256], *text;
    struct stat st;
    size_t len = 0;
    long n;
    int fd;

    if (!a->has_spike)
        return;
    save_paths(a, &paths);
    fd = open(paths.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd == -1) {
        if (errno != ENOENT)
            log_warning("-: event=baselines, status=ignored, file=\"%s\", error=\"%s\", "
                        "note=\"spike rules start without history\"",
                        paths.path, strerror(errno));
        return;
    }
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size > ALERT_STORE_MAX) {
        log_warning("-: event=baselines, status=ignored, file=\"%s\", error=\"not a regular file "
                    "of at most %u octets\", note=\"spike rules start without history\"",
                    paths.path, ALERT_STORE_MAX);
        (void)close(fd);
        return;
    }
    text = xmalloc((size_t)st.st_size + 1);
    while (len < (size_t)st.st_size) {
        ssize_t r = read(fd, text + len, (size_t)st.st_size - len);

        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    (void)close(fd);
    n = alert_store_restore(a->engine, text, len, now_ms(), why, sizeof(why));
    free(text);
    if (n == -1)
        log_warning("-: event=baselines, status=ignored, file=\"%s\", error=\"%s\", "
                    "note=\"spike rules start without history\"",
                    paths.path, why);
    else
        log_info("-: event=baselines, status=loaded, file=\"%s\", keys=%ld", paths.path, n);
}

/* ---- The tick ---- */

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct watch_alerts *a = arg;
    struct watch_queue wq = {0, 0};
    struct alert_queue q;
    uint64_t now = now_ms();

    (void)fd;
    (void)what;
    if (a->queue_fn != NULL)
        a->queue_fn(a->queue_arg, &wq);
    q.messages = wq.messages;
    q.oldest = wq.oldest;
    alert_engine_tick(a->engine, a->queue_fn != NULL ? &q : NULL, now, time(NULL));
    save_maybe(a, now);
}

/* A rule kept under its name keeps its firing keys; one that starts again drops them. */
static void
configure(struct watch_alerts *a)
{
    const struct conf *c = a->w->conf;
    struct alert_rule *const *rules;
    size_t n, was_n;
    size_t *was = NULL;
    char(*names)[CONF_ALERT_NAME_MAX + 1] = NULL;

    rules = alert_engine_rules(a->engine, &was_n);
    if (was_n > 0) {
        was = xcalloc(was_n, sizeof(*was));
        names = xcalloc(was_n, sizeof(*names));
        for (size_t i = 0; i < was_n; i++) {
            was[i] = rules[i]->firing;
            memcpy(names[i], rules[i]->def->name, sizeof(names[i]));
        }
    }
    alert_engine_configure(a->engine, c);
    alert_tell_metrics_rules(c);
    rules = alert_engine_rules(a->engine, &n);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < was_n; k++) {
            if (strcmp(names[k], rules[i]->def->name) == 0 && was[k] != rules[i]->firing)
                alert_tell_metrics(rules[i]->def->name, (int)rules[i]->firing - (int)was[k]);
        }
    }
    free(was);
    free(names);
    a->has_spike = false;
    for (size_t i = 0; i < c->n_alerts; i++)
        a->has_spike |= c->alerts[i].when == CONF_ALERT_SPIKE;
    load_certs(a);
}

/* ---- The watcher's share (watch_impl.h) ---- */

void
watch_alerts_init(struct watch *w)
{
    struct watch_alerts *a = xcalloc(1, sizeof(*a));
    struct timeval second = {1, 0};
    unsigned char seed[16];

    if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        struct timespec ts;

        (void)clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(seed, &ts, sizeof(seed) < sizeof(ts) ? sizeof(seed) : sizeof(ts));
    }
    a->w = w;
    a->history = alert_history_new(ALERT_HISTORY_MAX);
    a->engine = alert_engine_new(seed, on_note, a);
    a->hooks = notify_webhooks_new(w->base);
    a->execs = notify_execs_new(w->base);
    a->last_save = now_ms();
    w->alerts = a;
    configure(a);
    load_baselines(a);
    a->tick = event_new(w->base, -1, EV_PERSIST, tick_cb, a);
    if (a->tick == NULL || event_add(a->tick, &second) == -1)
        log_panic("alert: cannot add the tick");
}

void
watch_alerts_set_conf(struct watch *w)
{
    if (w->alerts != NULL && !w->alerts->stopped)
        configure(w->alerts);
}

void
watch_stop(struct watch *w)
{
    struct watch_alerts *a;

    if (w == NULL || w->alerts == NULL || w->alerts->stopped)
        return;
    a = w->alerts;
    a->stopped = true;
    event_free(a->tick);
    a->tick = NULL;
    notify_webhooks_free(a->hooks);
    a->hooks = NULL;
    notify_execs_free(a->execs);
    a->execs = NULL;
    save_now(a);
    a->spool = NULL;
    a->queue_fn = NULL;
}

void
watch_alerts_clear(struct watch *w)
{
    if (w->alerts == NULL)
        return;
    watch_stop(w);
    alert_engine_free(w->alerts->engine);
    alert_history_free(w->alerts->history);
    free(w->alerts);
    w->alerts = NULL;
}

void
watch_alert_note(struct watch *w, const struct watch_event *ev)
{
    if (w->alerts == NULL || w->alerts->stopped)
        return;
    alert_engine_note(w->alerts->engine, ev, now_ms(), time(NULL));
}

bool
watch_hold(struct watch *w, enum door_role door, int family, const unsigned char *addr,
           const char *user, char *reason, size_t cap)
{
    if (cap > 0)
        reason[0] = '\0';
    if (w == NULL || w->alerts == NULL)
        return false;
    return alert_engine_hold(w->alerts->engine, door, family, addr, user, reason, cap, now_ms());
}

void
watch_set_spool(struct watch *w, struct spool *sp)
{
    if (w != NULL && w->alerts != NULL)
        w->alerts->spool = sp;
}

void
watch_set_queue(struct watch *w, watch_queue_fn *fn, void *arg)
{
    if (w == NULL || w->alerts == NULL)
        return;
    w->alerts->queue_fn = fn;
    w->alerts->queue_arg = arg;
}

size_t
watch_alerts_firing(struct watch *w, watch_alert_fn *fn, void *arg)
{
    if (w == NULL || w->alerts == NULL)
        return 0;
    return alert_engine_firing(w->alerts->engine, fn, arg);
}

size_t
watch_alert_history(struct watch *w, watch_alert_event_fn *fn, void *arg)
{
    if (w == NULL || w->alerts == NULL)
        return 0;
    return alert_history_each(w->alerts->history, fn, arg);
}

/* A list of strings as a JSON array (webhooks: where only). */
static json_t *
strings_json(char *const *v, size_t n, bool webhook)
{
    json_t *arr = json_array();
    char where[CONF_ALERT_URL_MAX + 1];

    for (size_t i = 0; arr != NULL && i < n; i++) {
        if (webhook)
            notify_webhook_where(v[i], where, sizeof(where));
        (void)json_array_append_new(arr, json_string(webhook ? where : v[i]));
    }
    return arr;
}

/* One rule as alerts-json shows it (docs/watch.md, "The alerts document"). */
static json_t *
rule_json(const struct conf_alert *r)
{
    json_t *o = json_object(), *doors = json_array(), *notify = json_object();

    if (o == NULL || doors == NULL || notify == NULL) {
        json_decref(o);
        json_decref(doors);
        json_decref(notify);
        return NULL;
    }
    for (int d = 0; d < DOOR_ROLE_COUNT; d++) {
        if (r->doors == 0 || (r->doors & (1u << d)) != 0)
            (void)json_array_append_new(doors, json_string(conf_role_name((enum door_role)d)));
    }
    (void)json_object_set_new(o, "name", json_string(r->name));
    (void)json_object_set_new(o, "when", json_string(conf_alert_when_name(r->when)));
    (void)json_object_set_new(o, "threshold", json_integer((json_int_t)r->threshold));
    (void)json_object_set_new(o, "window", json_integer((json_int_t)r->window));
    (void)json_object_set_new(
        o, "per",
        json_string(r->when == CONF_ALERT_DEFERRED ? "domain" : conf_alert_per_name(r->per)));
    (void)json_object_set_new(o, "doors", doors);
    if (r->when == CONF_ALERT_SPIKE) {
        (void)json_object_set_new(o, "factor", json_real(r->factor));
        (void)json_object_set_new(o, "baseline", json_integer((json_int_t)r->baseline));
    }
    if (r->when == CONF_ALERT_QUEUE)
        (void)json_object_set_new(o, "age", json_integer((json_int_t)r->age));
    if (r->when == CONF_ALERT_TLS_EXPIRY)
        (void)json_object_set_new(o, "within", json_integer((json_int_t)r->within));
    (void)json_object_set_new(o, "hold", json_boolean(r->hold));
    (void)json_object_set_new(notify, "webhooks", strings_json(r->webhooks, r->n_webhooks, true));
    (void)json_object_set_new(notify, "mails", strings_json(r->mails, r->n_mails, false));
    (void)json_object_set_new(notify, "execs", strings_json(r->execs, r->n_execs, false));
    (void)json_object_set_new(o, "notify", notify);
    return o;
}

json_t *
watch_alert_rules_json(struct watch *w)
{
    json_t *arr = json_array();

    if (arr == NULL || w == NULL || w->conf == NULL)
        return arr;
    for (size_t i = 0; i < w->conf->n_alerts; i++) {
        json_t *r = rule_json(&w->conf->alerts[i]);

        if (r == NULL || json_array_append_new(arr, r) == -1) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}
