/* SPDX-License-Identifier: MIT */
/*
 * The serve process; see daemon.h. Start-up order: configuration and the
 * preflight that configtest shares (the user, the spool, the files, the
 * ports), spool (its lock, then recovery), listening sockets (the doors',
 * then the metrics endpoint's), resolver,
 * recipient lists, control socket, the sensor (forked while we are root),
 * then the switch to `user`, then the
 * scheduler reads the queue, signals, loop. Stop order: listeners closed,
 * sessions ended, deliveries cancelled (their recipients stay queued),
 * control socket removed, spool drained (every commit and change answered)
 * and its lock let go, then the rest freed, so that nothing acknowledged is
 * lost and ASan sees no leak.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "ctl/ctl.h"
#include "daemon/daemon.h"
#include "daemon/notify.h"
#include "checks/checks.h"
#include "pickup/pickup.h"
#include "daemon/preflight.h"
#include "lib/curl_loop.h"
#include "daemon/privileges.h"
#include "daemon/tracking.h"
#include "dns/dns.h"
#include "lib/fault.h"
#include "lib/log.h"
#include "lib/str.h"
#include "listen/listen.h"
#include "policy/policy.h"
#include "sched/sched.h"
#include "sensor/sensor.h"
#include "smtp/smtp.h"
#include "spool/spool.h"
#include "state/state.h"
#include "tls/tls.h"
#include "account/account.h"
#include "auth/auth.h"
#include "verify/verify.h"
#include "watch/metrics.h"
#include "watch/watch.h"

/* A DNS try waits this long for an answer (c-ares tries each server twice). */
#define DAEMON_DNS_TIMEOUT_MS 3000
/* DNS answers kept by TTL (TXT and A: the checks' lookups). */
#define DAEMON_DNS_CACHE 10000

struct daemon {
    const char *path;
    struct event_base *base;
    struct conf *conf;
    struct spool *spool;
    struct pickup *pickup; /* local submission: gate26 sendmail's socket and maildrop */
    struct dns *dns;
    struct curl_loop *curl; /* HTTP clients on the loop: rspamd (checks/) */
    struct sched *sched;
    struct ctl *ctl;
    struct smtp_env env;
    struct tls_client *tls_client; /* outgoing STARTTLS, as the scheduler has it */
    struct policy_limits *limits;  /* the counts survive reloads; the limits are re-read */
    struct listen_set *listeners;
    /* the capture and the nftables blocking (docs/scanners.md); NULL: none */
    struct sensor *sensor;
    struct event *sig_hup, *sig_term, *sig_int;
    struct event *drain_tick;      /* SIGTERM: checks whether everything in flight has ended */
    bool stopping;                 /* daemon_stop has begun: signals and the tick do nothing */
    struct event *quarantine_tick; /* hourly: expires quarantined messages older than keep */
    struct timeval drain_start;
    struct service_notify *notify; /* sd_notify under systemd (daemon/notify.h); NULL: none */
};

/* Password checks run on this many threads (each check is tens of ms of CPU). */
#define DAEMON_AUTH_THREADS 2

/* Quarantined messages older than keep are looked for this often (and at start, reload). */
static const struct timeval daemon_quarantine_every = {3600, 0};

/* SIGTERM: transactions in flight (in and out) get this long to finish. */
#define DAEMON_DRAIN_SECONDS 10

/* "FILE:LINE" of a key of c, or "FILE" when it was not written: start-up and reload errors name it.
 */
static const char *
daemon_at(const struct conf *c, unsigned line, char *buf, size_t cap)
{
    if (line != 0)
        (void)snprintf(buf, cap, "%s:%u", c->path, line);
    else
        (void)snprintf(buf, cap, "%s", c->path);
    return buf;
}

/*
 * The password checkers, made once a configuration has an auth block (at
 * start, or at the reload that adds one) and kept from then on: threads
 * that wait for work cost nothing, and checks in flight need them.
 */
static int
daemon_auth_pool(struct daemon *d, char *err, size_t errcap)
{
    if (d->env.auth_pool != NULL)
        return 0;
    d->env.auth_pool = auth_pool_new(d->base, DAEMON_AUTH_THREADS);
    if (d->env.auth_pool == NULL) {
        (void)snprintf(err, errcap, "cannot start the password checkers: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * What a reload (SIGHUP) does with each key; docs/config.md, "What a reload
 * changes", is the same table for admins. A reload does what a fresh start
 * on the new file would do, or refuses and keeps the running configuration:
 *
 *   - Keys read through the conf: sessions take the conf of their listener
 *     at accept (hostname, listen keys, domains, auth keys, the limits),
 *     the scheduler and router the one sched_set_conf() gives them
 *     (delivery keys, domain relays and TLS policies). Swapping the conf is
 *     the whole reload for them; a new key of that kind needs nothing here.
 *   - What a start builds from the file is built again by daemon_reload():
 *     certificates, CA store and password file (preflight_load, as start
 *     does), the password checkers (once an auth block appears), the
 *     listening sockets (listen_set_apply), the resolver (dns_use), the
 *     log level. A new key of that kind gets its step there: prepared
 *     before the first change (it may fail), applied after (it may not).
 *   - Keys a running daemon cannot change are the rows of reload_fixed:
 *     a file that changes one is refused, naming the key.
 */

static bool
same_spool(const struct conf *a, const struct conf *b)
{
    return strcmp(a->spool, b->spool) == 0;
}

static const char *
spool_value(const struct conf *c, unsigned *line)
{
    *line = c->spool_line;
    return c->spool;
}

static bool
same_user(const struct conf *a, const struct conf *b)
{
    return strcmp(a->user, b->user) == 0;
}

static const char *
user_value(const struct conf *c, unsigned *line)
{
    *line = c->user_line;
    return c->user[0] != '\0' ? c->user : "(none)";
}

/* Keys that change only at a restart: the spool is open and holds the control socket and the
 * queue; the process has become the user and cannot become another. */
static const struct {
    const char *key;
    bool (*same)(const struct conf *running, const struct conf *file);
    const char *(*value)(const struct conf *c, unsigned *line); /* for the message */
} reload_fixed[] = {
    {"spool", same_spool, spool_value},
    {"user", same_user, user_value},
};

/* 0, or -1 with "FILE[:LINE]: 'KEY' changes only at a restart (...)" in err. */
static int
reload_check_fixed(const struct conf *running, const struct conf *file, char *err, size_t errcap)
{
    for (size_t i = 0; i < sizeof(reload_fixed) / sizeof(reload_fixed[0]); i++) {
        unsigned line, unused;
        const char *now, *then;
        char at[CAP_PATH + 16];

        if (reload_fixed[i].same(running, file))
            continue;
        now = reload_fixed[i].value(running, &unused);
        then = reload_fixed[i].value(file, &line);
        (void)str_fmt(err, errcap,
                      "%s: '%s' changes only at a restart (running with %s, the file says %s%s)",
                      daemon_at(file, line, at, sizeof at), reload_fixed[i].key, now, then,
                      line != 0 ? "" : " by default");
        return -1;
    }
    return 0;
}

/* The resolver of c as dns_new() and dns_resolver_new() take it ("" for the system's). */
static const char *
reload_resolver(const struct conf *c)
{
    return c->has_resolver ? c->resolver.text : "";
}

/* Why the last reload failed ("": it did not), for systemd's status line (a process runs one
 * daemon). */
static char daemon_reload_error[1024];

static void
reload_failed(struct conf *c, const char *err)
{
    (void)str_copyz(daemon_reload_error, sizeof(daemon_reload_error), err);
    log_error("-: event=reload, status=failed, error=\"%s\", action=kept-running-config", err);
    conf_unref(c);
}

static void daemon_quarantine_expire(struct daemon *d);

/* SIGHUP: see the comment above reload_fixed. */
static void
daemon_reload(struct daemon *d)
{
    struct dns_resolver *resolver = NULL;
    struct preflight_loaded loaded;
    char err[1024], warning[512];
    struct conf *c = conf_load(d->path, err, sizeof(err));

    if (c == NULL) {
        reload_failed(NULL, err);
        return;
    }
    if (reload_check_fixed(d->conf, c, err, sizeof(err)) == -1 ||
        sensor_reload_check(d->conf, c, err, sizeof(err)) == -1) {
        reload_failed(c, err);
        return;
    }
    /* Prepared (each may fail; nothing is changed yet). Certificates are read again: renewed
     * files take effect now (RFC 8314 asks for no restart); the password file too. */
    if (preflight_load(c, &loaded, err, sizeof(err)) == -1) {
        reload_failed(c, err);
        return;
    }
    /* The recipient lists (verify-recipients FILE) are read again; put in use below. */
    if (verify_prepare(d->env.verify, c, err, sizeof(err)) == -1) {
        preflight_loaded_clear(&loaded);
        reload_failed(c, err);
        return;
    }
    /* An auth block (or an AUTH door) added: the checkers a start would have made. */
    if (loaded.auth_db != NULL && daemon_auth_pool(d, err, sizeof(err)) == -1) {
        preflight_loaded_clear(&loaded);
        reload_failed(c, err);
        return;
    }
    if (strcmp(reload_resolver(c), reload_resolver(d->conf)) != 0) {
        resolver = dns_resolver_new(d->dns, reload_resolver(c), err, sizeof(err));
        if (resolver == NULL) {
            preflight_loaded_clear(&loaded);
            reload_failed(c, err);
            return;
        }
    }
    /* The metrics endpoint's new addresses are bound; it serves them once nothing can fail. */
    if (watch_metrics_prepare(d->env.watch, c, err, sizeof(err)) == -1) {
        dns_resolver_free(resolver);
        preflight_loaded_clear(&loaded);
        reload_failed(c, err);
        return;
    }
    /* The last step that may fail: if it does, the listeners are as they were. */
    if (listen_set_apply(d->listeners, c, err, sizeof(err)) == -1) {
        watch_metrics_abort(d->env.watch);
        dns_resolver_free(resolver);
        preflight_loaded_clear(&loaded);
        reload_failed(c, err);
        return;
    }
    /* Applied: nothing fails from here. Sessions in TLS keep the contexts they started with
     * (their SSL holds them); checks in flight keep the password file they started with. */
    auth_db_unref(d->env.auth_db);
    d->env.auth_db = loaded.auth_db;
    tls_server_unref(d->env.tls);
    d->env.tls = loaded.tls;
    tls_client_unref(d->tls_client);
    d->tls_client = loaded.tls_client;
    sched_set_tls(d->sched, d->tls_client);
    verify_commit(d->env.verify, d->tls_client);
    /* The checks: the new dkim keys, the greylist store opened if a door greylists now. */
    if (checks_configure(d->env.checks, c, loaded.dkim_keys, err, sizeof(err)) == -1)
        log_warning("-: event=checks, warning=\"%s\"", err);
    checks_keys_unref(loaded.dkim_keys); /* checks_configure holds its own reference */
    daemon_track_apply(&d->env, d->sched, d->spool, c); /* on, off, or a new keep */
    pickup_set_track(d->pickup, d->env.track);
    if (resolver != NULL)
        dns_use(d->dns, resolver);
    log_set_level(c->log_level);
    sched_set_conf(d->sched, c);
    watch_set_conf(d->env.watch, c);
    watch_metrics_commit(d->env.watch);
    sensor_set_conf(d->sensor, c);
    ctl_set_conf(d->ctl, c);
    pickup_set_conf(d->pickup, c); /* the internal door's limit and checks; the paths stay */
    conf_unref(d->conf);
    d->conf = c;
    if (preflight_hostname_warning(c, warning, sizeof(warning)))
        log_warning("-: event=config, warning=\"%s\"", warning);
    log_info("-: event=reload, status=ok, config=%s, listeners=%zu, domains=%zu", d->path,
             c->n_listens, c->n_domains);
    /* A keep that changed applies now. */
    daemon_quarantine_expire(d);
}

static void
daemon_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *d = arg;
    struct sched_stats st;
    struct timeval now;

    (void)fd;
    (void)what;
    sched_stats(d->sched, &st);
    (void)gettimeofday(&now, NULL);
    if ((smtp_session_count() == 0 && st.deliveries == 0) ||
        now.tv_sec - d->drain_start.tv_sec >= DAEMON_DRAIN_SECONDS) {
        log_info("-: event=drained, sessions=%zu, deliveries=%zu", smtp_session_count(),
                 st.deliveries);
        (void)event_base_loopbreak(d->base);
    }
}

/*
 * SIGTERM: stop accepting, let the transactions in flight (received and
 * delivered) finish for up to DAEMON_DRAIN_SECONDS, then stop; what is not
 * delivered stays queued. A second TERM or INT stops at once.
 */
static void
daemon_drain(struct daemon *d)
{
    struct timeval tick = {0, 100000};
    size_t in, out;

    listen_set_close(d->listeners);
    in = smtp_session_drain();
    out = sched_drain(d->sched);
    log_info("-: event=draining, sessions=%zu, deliveries=%zu, limit=%ds", in, out,
             DAEMON_DRAIN_SECONDS);
    (void)gettimeofday(&d->drain_start, NULL);
    d->drain_tick = event_new(d->base, -1, EV_PERSIST, daemon_drain_tick, d);
    if (d->drain_tick == NULL || event_add(d->drain_tick, &tick) == -1)
        log_panic("cannot add the drain timer");
    daemon_drain_tick(-1, 0, d);
}

static void
daemon_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;

    (void)what;
    if (d->stopping)
        return; /* daemon_stop's last turns of the loop: what they would act on is gone */
    if (sig == SIGHUP) {
        if (d->drain_tick != NULL) {
            log_warning("-: event=reload, status=ignored, reason=\"shutting down\"");
        } else {
            service_notify_reloading(d->notify);
            daemon_reload_error[0] = '\0';
            daemon_reload(d);
            service_notify_reloaded(d->notify,
                                    daemon_reload_error[0] != '\0' ? daemon_reload_error : NULL);
        }
        return;
    }
    log_info("-: event=stop, signal=%s", sig == SIGTERM ? "TERM" : "INT");
    service_notify_stopping(d->notify);
    if (sig == SIGTERM && d->drain_tick == NULL) {
        daemon_drain(d);
        return;
    }
    (void)event_base_loopbreak(d->base);
}

/*
 * 16 random octets of this process, for the keys of tables that peers fill
 * (the limits against abuse, the shared-state store), so that nobody can
 * choose keys that fall in one bucket.
 */
static void
daemon_seed(unsigned char seed[16])
{
    struct timespec ts;

    if (getrandom(seed, 16, GRND_NONBLOCK) != 16) {
        /* Only before the kernel's pool is ready, early at boot. */
        log_warning("-: event=getrandom, error=\"%s\", note=\"tables hashed with a weaker "
                    "seed\"",
                    strerror(errno));
        (void)clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(seed, &ts, 16 < sizeof ts ? 16 : sizeof ts);
        seed[0] ^= (unsigned char)getpid();
    }
}

/* The counting tables of the limits against abuse. */
static struct policy_limits *
daemon_limits_new(void)
{
    unsigned char seed[16];

    daemon_seed(seed);
    return policy_limits_new(seed);
}

/* The shared-state store (docs/state.md): in this process's memory for now. */
static struct state *
daemon_state_new(struct event_base *base)
{
    static const size_t max[STATE_NS_COUNT] = {
        [STATE_NS_CALLOUT] = CAP_STATE_CALLOUT,
        [STATE_NS_LOGIN] = CAP_STATE_LOGIN,
    };
    unsigned char seed[16];

    daemon_seed(seed);
    return state_mem_new(base, max, seed, NULL);
}

/* ---- The gauges the metrics read at scrape time (metrics_source) ---- */

static bool
daemon_quarantine_messages(void *arg, double *out)
{
    struct daemon *d = arg;

    *out = (double)spool_quarantine_count(d->spool);
    return true;
}

/* Deletes the quarantined messages older than quarantine { keep } (at start, reload, hourly). */
static void
daemon_quarantine_expire(struct daemon *d)
{
    size_t n = spool_quarantine_expire(d->spool, d->conf->quarantine_keep, time(NULL));

    /* Each is logged (event=quarantine-expired) once the spool's thread has removed it. */
    if (n > 0)
        log_info("-: event=quarantine-expire, expiring=%zu, keep=%u", n, d->conf->quarantine_keep);
}

static void
daemon_quarantine_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    daemon_quarantine_expire(arg);
}

static bool
daemon_queue_messages(void *arg, double *out)
{
    struct daemon *d = arg;
    struct sched_stats st;

    sched_stats(d->sched, &st);
    *out = (double)st.messages;
    return true;
}

static bool
daemon_queue_oldest_age(void *arg, double *out)
{
    struct daemon *d = arg;
    struct sched_stats st;
    time_t now = time(NULL);

    sched_stats(d->sched, &st);
    *out = st.oldest != 0 && now > st.oldest ? (double)(now - st.oldest) : 0;
    return true;
}

static bool
daemon_queue_deferred(void *arg, double *out)
{
    struct daemon *d = arg;
    struct sched_queue_facts facts;

    /* Deferred as gate26 status and queue --deferred count it: tried, not on hold. */
    sched_queue_facts(d->sched, &facts);
    *out = (double)facts.deferred;
    return true;
}

/* Without certificates (no tls block), no sample. */
static bool
daemon_cert_expiry(void *arg, double *out)
{
    const struct daemon *d = arg;
    time_t t = tls_server_not_after(d->env.tls);

    *out = (double)t;
    return t != 0;
}

static void
daemon_metrics_sources(struct daemon *d, bool on)
{
    metrics_source(METRICS_SOURCE_QUEUE_MESSAGES, on ? daemon_queue_messages : NULL, d);
    metrics_source(METRICS_SOURCE_QUEUE_OLDEST_AGE, on ? daemon_queue_oldest_age : NULL, d);
    metrics_source(METRICS_SOURCE_QUEUE_DEFERRED, on ? daemon_queue_deferred : NULL, d);
    metrics_source(METRICS_SOURCE_TLS_CERT_EXPIRY, on ? daemon_cert_expiry : NULL, d);
    metrics_source(METRICS_SOURCE_QUARANTINE_MESSAGES, on ? daemon_quarantine_messages : NULL, d);
}

/* The queue for the watcher's `when queue` alert rules, from the scheduler. */
static void
daemon_watch_queue(void *arg, struct watch_queue *out)
{
    struct daemon *d = arg;
    struct sched_stats st;

    sched_stats(d->sched, &st);
    out->messages = st.messages;
    out->oldest = st.oldest;
}

/*
 * A SYN the sensor captured (logged at debug by sensor/). The scanner table
 * (src/watch, docs/scanners.md "What is counted") is fed from here.
 */
static void
daemon_on_syn(void *arg, const struct sensor_syn *syn)
{
    struct daemon *d = arg;
    struct watch_event ev = {.kind = WATCH_SCANNER,
                             .scan = syn->mirai ? WATCH_SCAN_MIRAI : WATCH_SCAN_PLAIN,
                             .door = DOOR_ROLE_COUNT, /* the watcher finds it by the port */
                             .family = syn->family,
                             .addr = syn->src,
                             .port = syn->dport};

    watch_note(d->env.watch, &ev);
}

/* block-scanners: the watcher asks for a source's first Mirai SYN (sensor_block logs it). */
static void
daemon_block(void *arg, int family, const unsigned char *addr, unsigned ttl)
{
    struct daemon *d = arg;

    sensor_block(d->sensor, family, addr, ttl);
}

/* What `gate26 scanners` says of the capture: the interface while the sensor captures. */
static const char *
daemon_capture(void *arg)
{
    const struct daemon *d = arg;

    return sensor_capturing(d->sensor) ? d->conf->watch.capture : NULL;
}

/* Sessions are file descriptors: allow as many as the hard limit does. */
static void
daemon_raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
            log_warning("-: event=setrlimit, error=\"%s\"", strerror(errno));
    }
}

static struct event *
daemon_signal(struct daemon *d, int sig)
{
    struct event *ev = evsignal_new(d->base, sig, daemon_signal_cb, d);

    if (ev == NULL || event_add(ev, NULL) == -1)
        log_panic("cannot watch signal %d", sig);
    return ev;
}

static void
daemon_stop(struct daemon *d)
{
    /* The loop turns once more below, after the scheduler is freed: nothing may run then. */
    d->stopping = true;
    if (d->drain_tick != NULL)
        event_free(d->drain_tick);
    d->drain_tick = NULL;
    if (d->listeners != NULL)
        listen_set_close(d->listeners);
    sensor_stop(d->sensor); /* it reads EOF and exits; waited for, bounded */
    d->sensor = NULL;
    watch_metrics_close(d->env.watch);
    daemon_metrics_sources(d, false);
    smtp_session_close_all();
    pickup_stop(d->pickup);     /* before the checks go: jobs in them are cancelled */
    verify_free(d->env.verify); /* after the sessions (they cancelled their requests) */
    d->env.verify = NULL;
    checks_free(d->env.checks); /* after the sessions (they cancelled their checks) */
    d->env.checks = NULL;
    curl_loop_free(d->curl);
    d->curl = NULL;
    if (d->sched != NULL)
        sched_stop(d->sched);
    /* The socket goes while we still hold the spool's lock: the next daemon never finds it. */
    ctl_free(d->ctl);
    if (d->quarantine_tick != NULL)
        event_free(d->quarantine_tick);
    d->quarantine_tick = NULL;
    service_notify_free(d->notify);
    d->notify = NULL;
    /* The alerts' webhooks and programs end, their baselines are saved: before the spool. */
    watch_stop(d->env.watch);
    pickup_set_track(d->pickup, NULL);               /* its last commits report in spool_free */
    daemon_track_close(&d->env, d->sched, d->spool); /* what was noted is written */
    spool_free(d->spool);
    pickup_free(d->pickup); /* after the spool: its commits have reported */
    dns_free(d->dns);
    sched_free(d->sched);
    /* A bufferevent freed while its reading was paused is released on the
     * loop's next turn: give it that turn, or it leaks. */
    if (d->base != NULL)
        (void)event_base_loop(d->base, EVLOOP_NONBLOCK);
    listen_set_free(d->listeners);
    policy_limits_free(d->limits);
    if (d->sig_hup != NULL) {
        event_free(d->sig_hup);
        event_free(d->sig_term);
        event_free(d->sig_int);
    }
    tls_server_unref(d->env.tls);
    tls_client_unref(d->tls_client);
    auth_pool_free(d->env.auth_pool); /* after the sessions: they cancelled their checks */
    auth_db_unref(d->env.auth_db);
    account_store_free(d->env.accounts);
    state_free(d->env.state); /* after the sessions: they cancelled their reads */
    watch_free(d->env.watch); /* after the sessions and the scheduler: they told it last */
    conf_unref(d->conf);
    if (d->base != NULL)
        event_base_free(d->base);
}

int
daemon_serve(const char *path)
{
    struct daemon d = {.path = path};
    struct preflight_loaded loaded;
    struct preflight_notes notes;
    struct spool_stats stats;
    char err[1024], at[CAP_PATH + 16];

    if (fault_init() == -1) {
        fprintf(stderr, "gate26: GATE26_FAULT is malformed (expected point:N[+][:EIO|ENOSPC])\n");
        return 1;
    }
    d.conf = conf_load(path, err, sizeof(err));
    if (d.conf == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    /*
     * Refused before anything is bound or created, by the code configtest runs: the user, the
     * spool, the files (read now, while we may still be root: keys often are root's alone; and
     * as the user a reload runs as), the ports.
     */
    if (preflight_start(d.conf, PREFLIGHT_SERVE, &loaded, &notes, err, sizeof(err)) == -1) {
        fprintf(stderr, "%s\n", err);
        conf_unref(d.conf);
        return 1;
    }
    log_set_level(d.conf->log_level);
    for (size_t i = 0; i < notes.n_warnings; i++)
        log_warning("-: event=config, warning=\"%s\"", notes.warning[i]);
    d.env.tls = loaded.tls;
    d.env.auth_db = loaded.auth_db;
    d.tls_client = loaded.tls_client;
    /* What gate26 creates (spool, control socket) is for its own user alone. */
    (void)umask(077);
    (void)signal(SIGPIPE, SIG_IGN);
    daemon_raise_fd_limit();
    d.base = event_base_new();
    if (d.base == NULL)
        log_panic("event_base_new failed");
    d.spool = spool_open(d.conf->spool, d.base, &stats, err, sizeof(err));
    if (d.spool == NULL) {
        fprintf(stderr, "%s: spool: %s\n", daemon_at(d.conf, d.conf->spool_line, at, sizeof(at)),
                err);
        daemon_stop(&d);
        return 1;
    }
    d.env.base = d.base;
    d.env.spool = d.spool;
    if (d.env.auth_db != NULL && daemon_auth_pool(&d, err, sizeof(err)) == -1) {
        fprintf(stderr, "gate26: %s\n", err);
        daemon_stop(&d);
        return 1;
    }
    d.limits = daemon_limits_new();
    d.env.limits = d.limits;
    d.env.state = daemon_state_new(d.base);
    d.env.watch = watch_new(d.base, d.conf);
    d.listeners = listen_set_new(&d.env);
    if (listen_set_apply(d.listeners, d.conf, err, sizeof(err)) == -1) {
        fprintf(stderr, "%s\n", err);
        daemon_stop(&d);
        return 1;
    }
    /* The metrics endpoint is bound now too (a port below 1024 needs root), and the process
     * families open /proc/self/fd while they may. */
    metrics_process_init();
    if (watch_metrics_prepare(d.env.watch, d.conf, err, sizeof(err)) == -1) {
        fprintf(stderr, "%s\n", err);
        daemon_stop(&d);
        return 1;
    }
    watch_metrics_commit(d.env.watch);
    d.dns = dns_new(d.base, d.conf->has_resolver ? d.conf->resolver.text : NULL,
                    DAEMON_DNS_TIMEOUT_MS, err, sizeof(err));
    if (d.dns == NULL) {
        fprintf(stderr, "%s: resolver: %s\n",
                daemon_at(d.conf, d.conf->has_resolver ? d.conf->resolver.line : 0, at, sizeof(at)),
                err);
        daemon_stop(&d);
        return 1;
    }
    /* The content checks ask the same names for every message (SPF, DKIM keys, DMARC, DNSBL):
     * answers are kept for their TTL (docs/checks.md, "DNS for the checks"). */
    if (dns_cache_set(d.dns, DAEMON_DNS_CACHE) == -1)
        log_panic("dns_cache_set failed");
    d.curl = curl_loop_new(d.base);
    {
        struct checks_deps deps = {
            .base = d.base, .dns = d.dns, .curl = d.curl, .spool_dir = d.conf->spool};

        d.env.checks = checks_new(&deps);
    }
    d.sched = sched_new(d.base, d.spool, d.dns, d.conf);
    daemon_metrics_sources(&d, true);
    /* STARTTLS to next hops: the system's CA store, or tls { ca-file }. */
    sched_set_tls(d.sched, d.tls_client);
    sched_set_watch(d.sched, d.env.watch);
    /* The alerts' mail goes through the spool; queue rules ask the scheduler. */
    watch_set_spool(d.env.watch, d.spool);
    watch_set_queue(d.env.watch, daemon_watch_queue, &d);
    /* Recipient verification: the lists are read now (as root, like the keys). */
    d.env.verify = verify_new(d.base, d.dns, d.env.state);
    if (verify_prepare(d.env.verify, d.conf, err, sizeof(err)) == -1) {
        fprintf(stderr, "%s\n", err);
        daemon_stop(&d);
        return 1;
    }
    verify_commit(d.env.verify, d.tls_client);
    /* The control socket is made (in the spool) while we may still be root. */
    d.ctl = ctl_new(d.base, d.sched, d.limits, d.conf->spool, err, sizeof(err));
    if (d.ctl == NULL) {
        fprintf(stderr, "%s: control socket: %s\n",
                daemon_at(d.conf, d.conf->spool_line, at, sizeof(at)), err);
        daemon_stop(&d);
        return 1;
    }
    ctl_set_watch(d.ctl, d.env.watch);
    ctl_set_spool(d.ctl, d.spool);
    ctl_set_conf(d.ctl, d.conf);
    /* The local submission socket and the maildrop (docs/packaging.md), made while root. */
    d.pickup = pickup_new(d.base, d.spool, d.env.checks, d.conf);
    /* The sensor is forked while we are root: it opens the capture and keeps only the
     * capabilities it needs (docs/scanners.md, "Why a sensor process"). */
    d.sensor = sensor_start(d.conf, err, sizeof(err));
    if (d.sensor == NULL && err[0] != '\0') {
        fprintf(stderr, "%s\n", err);
        daemon_stop(&d);
        return 1;
    }
    sensor_attach(d.sensor, d.base, daemon_on_syn, &d);
    /* The signals are caught from here on (after the sensor's fork, which must not inherit
     * libevent's handlers): a SIGTERM during the rest of the start is handled by the loop
     * once it runs, instead of killing the daemon half-started. */
    d.sig_hup = daemon_signal(&d, SIGHUP);
    d.sig_term = daemon_signal(&d, SIGTERM);
    d.sig_int = daemon_signal(&d, SIGINT);
    watch_set_blocker(d.env.watch, daemon_block, &d);
    watch_set_capture(d.env.watch, daemon_capture, &d);
    if (privileges_drop(d.conf, d.spool, ctl_path(d.ctl), err, sizeof(err)) == -1) {
        fprintf(stderr, "%s: %s\n", daemon_at(d.conf, d.conf->user_line, at, sizeof(at)), err);
        daemon_stop(&d);
        return 1;
    }
    /* SPOOL/accounts.db (app passwords), opened as the user, who records last uses in it; made
     * by `gate26 app-password`, and until then looked for at each AUTH. */
    d.env.accounts =
        account_store_open(d.conf->spool, false, (uid_t)-1, (gid_t)-1, err, sizeof(err));
    if (d.env.accounts == NULL)
        log_warning("-: event=accounts, warning=\"%s: app passwords are not taken\"", err);
    /* The checks' files (SPOOL/greylist.db) are made as the user, who owns them. */
    if (checks_configure(d.env.checks, d.conf, loaded.dkim_keys, err, sizeof(err)) == -1)
        log_warning("-: event=checks, warning=\"%s\"", err);
    checks_keys_unref(loaded.dkim_keys);
    /* SPOOL/tracking.db, made as the user too (docs/console.md, "Message tracking"). */
    daemon_track_apply(&d.env, d.sched, d.spool, d.conf);
    pickup_set_track(d.pickup, d.env.track);
    if (sched_load(d.sched) == -1) {
        fprintf(stderr, "%s: spool: %s/queue: %s\n",
                daemon_at(d.conf, d.conf->spool_line, at, sizeof(at)), d.conf->spool,
                strerror(errno));
        daemon_stop(&d);
        return 1;
    }
    pickup_start(d.pickup); /* the maildrop, as the user: at start, then every 5 s */
    /* Expiry runs as the user (it owns quarantine/), at start and then hourly. */
    daemon_quarantine_expire(&d);
    d.quarantine_tick = event_new(d.base, -1, EV_PERSIST, daemon_quarantine_tick, &d);
    if (d.quarantine_tick == NULL || evtimer_add(d.quarantine_tick, &daemon_quarantine_every) == -1)
        log_panic("cannot add the quarantine expiry timer");
    log_info("-: event=start, version=%s, config=%s, hostname=%s", GATE26_VERSION, path,
             d.conf->hostname);
    /* Every door is bound and the control socket listens: READY=1 once the loop runs. */
    d.notify = service_notify_new(d.base, d.env.watch, d.sched);
    service_notify_start(d.notify);
    if (event_base_dispatch(d.base) == -1)
        log_panic("event_base_dispatch failed");
    daemon_stop(&d);
    log_info("-: event=stopped");
    return 0;
}
