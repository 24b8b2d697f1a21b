/* SPDX-License-Identifier: MIT */
/*
 * The serve process; see daemon.h. Start-up order: configuration (and the
 * check that we will not serve as root), spool (its lock, then recovery),
 * TLS keys, listening sockets, resolver, control socket, then the switch
 * to `user`, then the scheduler reads the queue, signals, loop. Stop
 * order: listeners closed, sessions ended, deliveries cancelled (their
 * recipients stay queued), control socket removed, spool drained (every
 * commit and change answered) and its lock let go, then the rest freed, so
 * that nothing acknowledged is lost and ASan sees no leak.
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
#include "dns/dns.h"
#include "daemon/privileges.h"
#include "lib/fault.h"
#include "lib/log.h"
#include "listen/listen.h"
#include "policy/policy.h"
#include "sched/sched.h"
#include "smtp/smtp.h"
#include "spool/spool.h"
#include "state/state.h"
#include "tls/tls.h"
#include "auth/auth.h"
#include "verify/verify.h"

/* A DNS try waits this long for an answer (c-ares tries each server twice). */
#define DAEMON_DNS_TIMEOUT_MS 3000

struct daemon {
    const char *path;
    struct event_base *base;
    struct conf *conf;
    struct spool *spool;
    struct dns *dns;
    struct sched *sched;
    struct ctl *ctl;
    struct smtp_env env;
    struct policy_limits *limits; /* the counts survive reloads; the limits are re-read */
    struct listen_set *listeners;
    struct event *sig_hup, *sig_term, *sig_int;
    struct event *drain_tick; /* SIGTERM: checks whether everything in flight has ended */
    struct timeval drain_start;
};

/* Password checks run on this many threads (each check is tens of ms of CPU). */
#define DAEMON_AUTH_THREADS 2

/* SIGTERM: transactions in flight (in and out) get this long to finish. */
#define DAEMON_DRAIN_SECONDS 10

/* SIGHUP: the new configuration replaces the running one only when it is
 * valid and every listener it names could be opened. */
static void
daemon_reload(struct daemon *d)
{
    char err[1024];
    struct conf *c = conf_load(d->path, err, sizeof(err));
    struct tls_server *tls = NULL;
    struct auth_db *db = NULL;
    struct tls_client *tc;

    if (c == NULL) {
        log_error("-: event=reload, status=failed, error=\"%s\", action=kept-running-config", err);
        return;
    }
    if (strcmp(c->spool, d->conf->spool) != 0) {
        log_error("-: event=reload, status=failed, error=\"spool changed from %s to %s: restart "
                  "gate26 to move the spool\", action=kept-running-config",
                  d->conf->spool, c->spool);
        conf_unref(c);
        return;
    }
    if (strcmp(c->user, d->conf->user) != 0) {
        log_error("-: event=reload, status=failed, error=\"user changed from '%s' to '%s': "
                  "restart gate26 to change it\", action=kept-running-config",
                  d->conf->user, c->user);
        conf_unref(c);
        return;
    }
    /* The recipient lists (verify-recipients FILE) are read again; put in use below. */
    if (verify_prepare(d->env.verify, c, err, sizeof(err)) == -1) {
        log_error("-: event=reload, status=failed, error=\"%s\", action=kept-running-config", err);
        conf_unref(c);
        return;
    }
    /* Certificates are read again: renewed files take effect now (RFC 8314 asks for no restart). */
    if (c->has_tls) {
        tls = tls_server_new(c, err, sizeof(err));
        if (tls == NULL) {
            log_error("-: event=reload, status=failed, error=\"%s\", action=kept-running-config",
                      err);
            conf_unref(c);
            return;
        }
    }
    tc = tls_client_new(c, err, sizeof(err));
    if (tc == NULL) {
        log_error("-: event=reload, status=failed, error=\"%s\", action=kept-running-config", err);
        tls_server_unref(tls);
        conf_unref(c);
        return;
    }
    /* The password file too (gate26 passwd keeps it readable by our group). */
    if (c->auth_passwd[0] != '\0') {
        db = auth_db_load(c->auth_passwd, err, sizeof(err));
        if (db == NULL) {
            log_error("-: event=reload, status=failed, error=\"%s\", action=kept-running-config",
                      err);
            tls_client_unref(tc);
            tls_server_unref(tls);
            conf_unref(c);
            return;
        }
    }
    if (listen_set_apply(d->listeners, c, err, sizeof(err)) == -1) {
        log_error("-: event=reload, status=failed, error=\"%s\", action=kept-running-config", err);
        auth_db_unref(db);
        tls_client_unref(tc);
        tls_server_unref(tls);
        conf_unref(c);
        return;
    }
    auth_db_unref(d->env.auth_db);
    d->env.auth_db = db;
    sched_set_tls(d->sched, tc);
    verify_commit(d->env.verify, tc);
    tls_client_unref(tc);
    /* Sessions in TLS keep the contexts they started with (their SSL holds them). */
    tls_server_unref(d->env.tls);
    d->env.tls = tls;
    if (c->has_resolver != d->conf->has_resolver ||
        (c->has_resolver && strcmp(c->resolver.text, d->conf->resolver.text) != 0))
        log_warning("-: event=reload, warning=\"the resolver changes only at a restart\"");
    log_set_level(c->log_level);
    sched_set_conf(d->sched, c);
    conf_unref(d->conf);
    d->conf = c;
    log_info("-: event=reload, status=ok, config=%s, listeners=%zu, domains=%zu", d->path,
             c->n_listens, c->n_domains);
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
    if (sig == SIGHUP) {
        if (d->drain_tick != NULL)
            log_warning("-: event=reload, status=ignored, reason=\"shutting down\"");
        else
            daemon_reload(d);
        return;
    }
    log_info("-: event=stop, signal=%s", sig == SIGTERM ? "TERM" : "INT");
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
    if (d->listeners != NULL)
        listen_set_close(d->listeners);
    smtp_session_close_all();
    verify_free(d->env.verify); /* after the sessions (they cancelled their requests) */
    d->env.verify = NULL;
    if (d->sched != NULL)
        sched_stop(d->sched);
    /* The socket goes while we still hold the spool's lock: the next daemon never finds it. */
    ctl_free(d->ctl);
    spool_free(d->spool);
    dns_free(d->dns);
    sched_free(d->sched);
    /* A bufferevent freed while its reading was paused is released on the
     * loop's next turn: give it that turn, or it leaks. */
    if (d->base != NULL)
        (void)event_base_loop(d->base, EVLOOP_NONBLOCK);
    listen_set_free(d->listeners);
    policy_limits_free(d->limits);
    if (d->drain_tick != NULL)
        event_free(d->drain_tick);
    if (d->sig_hup != NULL) {
        event_free(d->sig_hup);
        event_free(d->sig_term);
        event_free(d->sig_int);
    }
    tls_server_unref(d->env.tls);
    auth_pool_free(d->env.auth_pool); /* after the sessions: they cancelled their checks */
    auth_db_unref(d->env.auth_db);
    state_free(d->env.state); /* after the sessions: they cancelled their reads */
    conf_unref(d->conf);
    if (d->base != NULL)
        event_base_free(d->base);
}

int
daemon_serve(const char *path)
{
    struct daemon d = {.path = path};
    struct spool_stats stats;
    char err[1024];

    if (fault_init() == -1) {
        fprintf(stderr, "gate26: GATE26_FAULT is malformed (expected point:N[+][:EIO|ENOSPC])\n");
        return 1;
    }
    d.conf = conf_load(path, err, sizeof(err));
    if (d.conf == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    /* Refused before anything is bound, created or read: a refusal touches nothing. */
    if (privileges_check(d.conf, err, sizeof(err)) == -1) {
        fprintf(stderr, "gate26: %s\n", err);
        conf_unref(d.conf);
        return 1;
    }
    log_set_level(d.conf->log_level);
    /* What gate26 creates (spool, control socket) is for its own user alone. */
    (void)umask(077);
    (void)signal(SIGPIPE, SIG_IGN);
    daemon_raise_fd_limit();
    d.base = event_base_new();
    if (d.base == NULL)
        log_panic("event_base_new failed");
    d.spool = spool_open(d.conf->spool, d.base, &stats, err, sizeof(err));
    if (d.spool == NULL) {
        fprintf(stderr, "gate26: %s\n", err);
        daemon_stop(&d);
        return 1;
    }
    d.env.base = d.base;
    d.env.spool = d.spool;
    /* Keys are read while we may still be root (they are often readable by root alone). */
    if (d.conf->has_tls) {
        d.env.tls = tls_server_new(d.conf, err, sizeof(err));
        if (d.env.tls == NULL) {
            fprintf(stderr, "gate26: %s\n", err);
            daemon_stop(&d);
            return 1;
        }
    }
    if (d.conf->auth_passwd[0] != '\0') {
        d.env.auth_db = auth_db_load(d.conf->auth_passwd, err, sizeof(err));
        if (d.env.auth_db == NULL) {
            fprintf(stderr, "gate26: %s\n", err);
            daemon_stop(&d);
            return 1;
        }
        d.env.auth_pool = auth_pool_new(d.base, DAEMON_AUTH_THREADS);
    }
    d.limits = daemon_limits_new();
    d.env.limits = d.limits;
    d.env.state = daemon_state_new(d.base);
    d.listeners = listen_set_new(&d.env);
    if (listen_set_apply(d.listeners, d.conf, err, sizeof(err)) == -1) {
        fprintf(stderr, "gate26: %s\n", err);
        daemon_stop(&d);
        return 1;
    }
    d.dns = dns_new(d.base, d.conf->has_resolver ? d.conf->resolver.text : NULL,
                    DAEMON_DNS_TIMEOUT_MS, err, sizeof(err));
    if (d.dns == NULL) {
        fprintf(stderr, "gate26: resolver: %s\n", err);
        daemon_stop(&d);
        return 1;
    }
    d.sched = sched_new(d.base, d.spool, d.dns, d.conf);
    /* STARTTLS to next hops: the system's CA store, or tls { ca-file }. */
    {
        struct tls_client *tc = tls_client_new(d.conf, err, sizeof(err));

        if (tc == NULL) {
            fprintf(stderr, "gate26: %s\n", err);
            daemon_stop(&d);
            return 1;
        }
        sched_set_tls(d.sched, tc);
        /* Recipient verification: the lists are read now (as root, like the keys). */
        d.env.verify = verify_new(d.base, d.dns, d.env.state);
        if (verify_prepare(d.env.verify, d.conf, err, sizeof(err)) == -1) {
            fprintf(stderr, "gate26: %s\n", err);
            tls_client_unref(tc);
            daemon_stop(&d);
            return 1;
        }
        verify_commit(d.env.verify, tc);
        tls_client_unref(tc);
    }
    /* The control socket is made (in the spool) while we may still be root. */
    d.ctl = ctl_new(d.base, d.sched, d.limits, d.conf->spool, err, sizeof(err));
    if (d.ctl == NULL) {
        fprintf(stderr, "gate26: control socket: %s\n", err);
        daemon_stop(&d);
        return 1;
    }
    if (privileges_drop(d.conf, d.spool, ctl_path(d.ctl), err, sizeof(err)) == -1) {
        fprintf(stderr, "gate26: %s\n", err);
        daemon_stop(&d);
        return 1;
    }
    if (sched_load(d.sched) == -1) {
        fprintf(stderr, "gate26: %s/queue: %s\n", d.conf->spool, strerror(errno));
        daemon_stop(&d);
        return 1;
    }
    d.sig_hup = daemon_signal(&d, SIGHUP);
    d.sig_term = daemon_signal(&d, SIGTERM);
    d.sig_int = daemon_signal(&d, SIGINT);
    log_info("-: event=start, version=%s, config=%s, hostname=%s", GATE26_VERSION, path,
             d.conf->hostname);
    if (event_base_dispatch(d.base) == -1)
        log_panic("event_base_dispatch failed");
    daemon_stop(&d);
    log_info("-: event=stopped");
    return 0;
}
