/* SPDX-License-Identifier: MIT */
/*
 * The doors (GET /doors, POST /doors/check, admins; docs/console.md,
 * "Doors"): each door's settings from the console's loaded configuration,
 * each certificate of the tls block with its expiry (tls_describe_file()),
 * and the verdict of `gate26 check` run on the doors from the outside.
 *
 * The check is the console's own binary (read from /proc/self/exe at start,
 * before privileges drop) run as a child with posix_spawn, at most one at a
 * time: `gate26 check -c FILE --json --timeout 5 smtp://ADDR:PORT...` (an
 * unspecified address probed on loopback; `smtps://` for implicit TLS; no
 * MX lookup). Its standard output is read on the console's loop as it
 * comes (an event on the pipe, at most DOORS_CHECK_OUT_MAX octets); after
 * DOORS_CHECK_TIMEOUT_S, or when the console stops, the child is killed
 * and reaped by its pid. The page shows the last verdict.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "conf/conf.h"
#include "console/console_impl.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "tls/tls.h"

extern char **environ;

#define DOORS_CHECK_TIMEOUT_S 60
#define DOORS_CHECK_OUT_MAX   (1024 * 1024)
#define DOORS_CHECK_TARGETS   64  /* addresses probed at most */
#define DOORS_CERT_WARN_DAYS  14  /* a certificate closer to its notAfter is shown in red */
#define DOORS_TARGET_CAP      80  /* "smtps://[ffff:...]:65535" */
#define DOORS_FINDINGS_MAX    500 /* rows of findings shown */

struct doors_check {
    struct console *con;
    char exe[CAP_PATH]; /* the console's binary; "" when it could not be read */
    char exe_why[128];
    pid_t pid; /* > 0: running */
    int fd;    /* its standard output's read end; -1 */
    struct event *read_ev, *timer;
    struct evbuffer *out; /* what it wrote so far */
    char user[AUTH_USER_MAX + 1];
    time_t started, ended; /* ended 0: no run has ended */
    json_t *verdict;       /* the last run's document; NULL: none, or error says why */
    char error[256];
};

/* ---- The check ---- */

void
doors_init(struct console *con)
{
    struct doors_check *c = xcalloc(1, sizeof *c);
    ssize_t n = readlink("/proc/self/exe", c->exe, sizeof c->exe - 1);

    c->con = con;
    c->fd = -1;
    if (n <= 0 || (size_t)n >= sizeof c->exe - 1) {
        (void)str_fmt(c->exe_why, sizeof c->exe_why, "cannot read /proc/self/exe: %s",
                      n == -1 ? strerror(errno) : "too long");
        c->exe[0] = '\0';
        log_warning("-: event=console-doors-check, warning=\"%s: the check cannot run\"",
                    c->exe_why);
    } else {
        c->exe[n] = '\0';
    }
    con->check = c;
}

/* Reaps the child (killed first when still running); returns its wait status, or -1. */
static int
reap(struct doors_check *c, bool kill_it)
{
    int st = -1;
    pid_t r;

    if (kill_it)
        (void)kill(c->pid, SIGKILL);
    r = waitpid(c->pid, &st, kill_it ? 0 : WNOHANG);
    if (r == 0) { /* closed its output but has not exited: no waiting on the loop */
        (void)kill(c->pid, SIGKILL);
        r = waitpid(c->pid, &st, 0);
    }
    c->pid = 0;
    return r > 0 ? st : -1;
}

/* Ends the run: events, pipe and child gone; the output is judged unless error is given. */
static void
finish(struct doors_check *c, bool kill_it, const char *error)
{
    size_t len = evbuffer_get_length(c->out);
    json_error_t jerr;
    int st;

    event_free(c->read_ev);
    event_free(c->timer);
    c->read_ev = c->timer = NULL;
    (void)close(c->fd);
    c->fd = -1;
    st = reap(c, kill_it || error != NULL);
    c->ended = time(NULL);
    json_decref(c->verdict);
    c->verdict = NULL;
    c->error[0] = '\0';
    if (error != NULL) {
        (void)str_copyz(c->error, sizeof c->error, error);
    } else {
        const char *text = (const char *)evbuffer_pullup(c->out, -1);

        c->verdict = len > 0 ? json_loadb(text, len, 0, &jerr) : NULL;
        if (c->verdict != NULL && !json_is_string(json_object_get(c->verdict, "level"))) {
            json_decref(c->verdict);
            c->verdict = NULL;
        }
        if (c->verdict == NULL) {
            if (st != -1 && WIFEXITED(st))
                (void)str_fmt(c->error, sizeof c->error,
                              "gate26 check exited %d without its JSON report "
                              "(its message is in the console's log)",
                              WEXITSTATUS(st));
            else
                (void)str_copyz(c->error, sizeof c->error,
                                "gate26 check ended without its JSON report");
        }
    }
    (void)evbuffer_drain(c->out, len);
    if (c->verdict != NULL)
        log_info("-: event=console-doors-check, status=done, user=\"%s\", level=%s, seconds=%lld",
                 c->user, json_string_value(json_object_get(c->verdict, "level")),
                 (long long)(c->ended - c->started));
    else
        log_warning("-: event=console-doors-check, status=failed, user=\"%s\", error=\"%s\"",
                    c->user, c->error);
}

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct doors_check *c = arg;
    int n;

    (void)what;
    n = evbuffer_read(c->out, fd, 65536);
    if (n == -1 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n == -1) {
        char why[128];

        (void)str_fmt(why, sizeof why, "reading its output: %s", strerror(errno));
        finish(c, true, why);
    } else if (evbuffer_get_length(c->out) > DOORS_CHECK_OUT_MAX) {
        finish(c, true, "its output was larger than 1 MiB: killed");
    } else if (n == 0) {
        finish(c, false, NULL);
    }
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    finish(arg, true, "no verdict within 60 s: killed");
}

void
doors_stop(struct console *con)
{
    struct doors_check *c = con->check;

    if (c == NULL)
        return;
    if (c->pid > 0)
        finish(c, true, "the console stopped");
    json_decref(c->verdict);
    if (c->out != NULL)
        evbuffer_free(c->out);
    free(c);
    con->check = NULL;
}

/* "smtp://127.0.0.1:2525" of a door's address (an unspecified one: loopback); false: none. */
static bool
target_of(const struct conf_listen *li, const struct conf_addr *a, char *out, size_t cap)
{
    const char *scheme = li->tls == CONF_TLS_IMPLICIT ? "smtps" : "smtp";
    char host[INET6_ADDRSTRLEN];

    if (a->sa.ss_family == AF_INET) {
        struct sockaddr_in sin;

        memcpy(&sin, &a->sa, sizeof sin);
        if (sin.sin_addr.s_addr == htonl(INADDR_ANY))
            sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (inet_ntop(AF_INET, &sin.sin_addr, host, sizeof host) == NULL)
            return false;
        return str_fmt(out, cap, "%s://%s:%u", scheme, host, (unsigned)ntohs(sin.sin_port)) == 0;
    }
    if (a->sa.ss_family == AF_INET6) {
        struct sockaddr_in6 sin6;

        memcpy(&sin6, &a->sa, sizeof sin6);
        if (IN6_IS_ADDR_UNSPECIFIED(&sin6.sin6_addr))
            sin6.sin6_addr = in6addr_loopback;
        if (inet_ntop(AF_INET6, &sin6.sin6_addr, host, sizeof host) == NULL)
            return false;
        return str_fmt(out, cap, "%s://[%s]:%u", scheme, host, (unsigned)ntohs(sin6.sin6_port)) ==
               0;
    }
    return false;
}

/* Starts the check; returns 0, or -1 with why. */
static int
check_start(struct doors_check *c, const struct conf *conf, const char *user, size_t *n_targets,
            char *why, size_t whycap)
{
    static char targets[DOORS_CHECK_TARGETS][DOORS_TARGET_CAP];
    char *argv[16 + DOORS_CHECK_TARGETS];
    size_t n = 0, t = 0;
    posix_spawn_file_actions_t fa;
    struct timeval limit = {DOORS_CHECK_TIMEOUT_S, 0};
    int pipefd[2], rc;

    if (c->exe[0] == '\0') {
        (void)str_copyz(why, whycap, c->exe_why);
        return -1;
    }
    for (size_t i = 0; i < conf->n_listens; i++) {
        for (size_t k = 0; k < conf->listens[i].n_addrs && t < DOORS_CHECK_TARGETS; k++) {
            if (target_of(&conf->listens[i], &conf->listens[i].addrs[k], targets[t],
                          sizeof targets[t]))
                t++;
        }
    }
    if (t == 0) {
        (void)str_copyz(why, whycap, "the configuration has no door to check");
        return -1;
    }
    argv[n++] = c->exe;
    argv[n++] = (char *)"check";
    argv[n++] = (char *)"-c";
    argv[n++] = (char *)conf->path;
    argv[n++] = (char *)"--json";
    argv[n++] = (char *)"--timeout";
    argv[n++] = (char *)"5";
    if (conf->tls_ca_file[0] != '\0') {
        argv[n++] = (char *)"--ca-file";
        argv[n++] = (char *)conf->tls_ca_file;
    }
    if (conf->has_resolver) {
        argv[n++] = (char *)"--resolver";
        argv[n++] = (char *)conf->resolver.text;
    }
    argv[n++] = (char *)"--";
    for (size_t i = 0; i < t; i++)
        argv[n++] = targets[i];
    argv[n] = NULL;
    if (pipe2(pipefd, O_CLOEXEC) == -1) {
        (void)str_fmt(why, whycap, "pipe: %s", strerror(errno));
        return -1;
    }
    if (posix_spawn_file_actions_init(&fa) != 0)
        log_panic("console: posix_spawn setup failed");
    (void)posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    (void)posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    (void)posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    rc = posix_spawn(&c->pid, c->exe, &fa, NULL, argv, environ);
    (void)posix_spawn_file_actions_destroy(&fa);
    (void)close(pipefd[1]);
    if (rc != 0) {
        (void)close(pipefd[0]);
        c->pid = 0;
        (void)str_fmt(why, whycap, "cannot start %s: %s", c->exe, strerror(rc));
        return -1;
    }
    c->fd = pipefd[0];
    if (c->out == NULL && (c->out = evbuffer_new()) == NULL)
        log_panic("console: out of memory");
    (void)evutil_make_socket_nonblocking(c->fd);
    c->read_ev = event_new(c->con->base, c->fd, EV_READ | EV_PERSIST, read_cb, c);
    c->timer = evtimer_new(c->con->base, timeout_cb, c);
    if (c->read_ev == NULL || c->timer == NULL || event_add(c->read_ev, NULL) == -1 ||
        event_add(c->timer, &limit) == -1)
        log_panic("console: cannot watch the check's output");
    (void)str_copyz(c->user, sizeof c->user, user);
    c->started = time(NULL);
    *n_targets = t;
    return 0;
}

/* ---- The page ---- */

static void
rate_text(struct evbuffer *b, const char *name, const struct conf_rate *r)
{
    if (r->n > 0)
        evbuffer_add_printf(b, "%s %u/%us<br>", name, r->n, r->period);
}

static void
nets_text(struct evbuffer *b, const struct conf_cidr *nets, size_t n)
{
    char text[64];

    for (size_t i = 0; i < n; i++) {
        conf_cidr_text(&nets[i], text, sizeof text);
        evbuffer_add_printf(b, "%s", i > 0 ? " " : "");
        web_escapez(b, text);
    }
}

static void
checks_text(struct evbuffer *b, const struct conf_checks *k)
{
    static const char *const dmarc[] = {"off", "report", "enforce"};

    if (k->line == 0) {
        evbuffer_add_printf(b, "none");
        return;
    }
    evbuffer_add_printf(b, "spf %s, dkim%s%s%s, dmarc %s", k->spf ? "on" : "off",
                        k->dkim == 0 ? " off" : "", (k->dkim & CONF_DKIM_VERIFY) ? " verify" : "",
                        (k->dkim & CONF_DKIM_SIGN) ? " sign" : "",
                        (unsigned)k->dmarc < 3 ? dmarc[k->dmarc] : "?");
    if (k->n_dnsbl > 0) {
        evbuffer_add_printf(b, ", dnsbl");
        for (size_t i = 0; i < k->n_dnsbl; i++) {
            evbuffer_add_printf(b, " ");
            web_escapez(b, k->dnsbl[i]);
        }
    }
    if (k->n_dnswl > 0) {
        evbuffer_add_printf(b, ", dnswl");
        for (size_t i = 0; i < k->n_dnswl; i++) {
            evbuffer_add_printf(b, " ");
            web_escapez(b, k->dnswl[i]);
        }
    }
    if (k->greylist > 0)
        evbuffer_add_printf(b, ", greylist %us", k->greylist);
    if (k->antivirus[0] != '\0') {
        evbuffer_add_printf(b, ", antivirus ");
        web_escapez(b, k->antivirus);
    }
    if (k->spam[0] != '\0')
        evbuffer_add_printf(b, ", spam (rspamd)");
    if (k->n_milters > 0)
        evbuffer_add_printf(b, ", %zu milter%s", k->n_milters, k->n_milters == 1 ? "" : "s");
    evbuffer_add_printf(b, ", on-error %s", k->on_error_accept ? "accept" : "tempfail");
}

static void
doors_table(struct evbuffer *b, const struct conf *conf)
{
    static const char *const headers[] = {"Door",   "Addresses", "TLS", "AUTH", "Who may connect",
                                          "Limits", "Checks",    NULL};

    evbuffer_add_printf(b, "<h2>Settings</h2>\n<p>As the console loaded the configuration "
                           "(<code>");
    web_escapez(b, conf->path);
    evbuffer_add_printf(b, "</code>).</p>\n");
    if (!page_table_open(b, "doors", conf->n_listens, "No door is configured.", headers))
        return;
    for (size_t i = 0; i < conf->n_listens; i++) {
        const struct conf_listen *li = &conf->listens[i];
        const char *role = conf_role_name(li->role);

        evbuffer_add_printf(b, "<tr id=\"door-%s\"><td>%s</td><td>", role, role);
        for (size_t k = 0; k < li->n_addrs; k++) {
            evbuffer_add_printf(b, "%s", k > 0 ? "<br>" : "");
            web_escapez(b, li->addrs[k].text);
        }
        evbuffer_add_printf(b, "</td><td>%s%s</td><td>%s</td><td>", conf_tls_mode_name(li->tls),
                            li->tls != CONF_TLS_NONE && !conf->has_tls ? " (no certificate)" : "",
                            li->auth_required
                                ? (conf->auth_passwd[0] != '\0' ? "required, offered inside TLS"
                                                                : "required, but no auth block")
                                : "none");
        if (li->n_allow > 0) {
            evbuffer_add_printf(b, "allow ");
            nets_text(b, li->allow, li->n_allow);
        } else {
            evbuffer_add_printf(b, "anyone");
        }
        if (li->n_deny > 0) {
            evbuffer_add_printf(b, "<br>deny ");
            nets_text(b, li->deny, li->n_deny);
        }
        if (li->n_proxy_from > 0) {
            evbuffer_add_printf(b, "<br>proxy-protocol from ");
            nets_text(b, li->proxy_from, li->n_proxy_from);
        }
        if (li->scanners_refuse)
            evbuffer_add_printf(b, "<br>scanners refused");
        evbuffer_add_printf(b,
                            "</td><td>max-message-size %llu<br>max-recipients %u<br>"
                            "max-errors %u<br>max-sessions %u<br>",
                            (unsigned long long)li->max_message_size, li->max_recipients,
                            li->max_errors, li->max_sessions);
        if (li->max_sessions_per_client > 0)
            evbuffer_add_printf(b, "max-sessions-per-client %u<br>", li->max_sessions_per_client);
        rate_text(b, "connection-rate", &li->connection_rate);
        rate_text(b, "message-rate", &li->message_rate);
        rate_text(b, "sender-rate", &li->sender_rate);
        if (li->n_limits_exempt > 0) {
            evbuffer_add_printf(b, "limits-exempt ");
            nets_text(b, li->limits_exempt, li->n_limits_exempt);
            evbuffer_add_printf(b, "<br>");
        }
        evbuffer_add_printf(b, "timeouts %us command, %us data</td><td>", li->timeout_command,
                            li->timeout_data);
        checks_text(b, &conf->checks[li->role]);
        evbuffer_add_printf(b, "</td></tr>\n");
    }
    page_table_close(b, conf->n_listens, conf->n_listens);
}

static void
certs_table(struct evbuffer *b, const struct conf *conf)
{
    time_t now = time(NULL);

    evbuffer_add_printf(b, "<h2>Certificates</h2>\n");
    if (conf->n_tls_pairs == 0) {
        evbuffer_add_printf(b, "<p id=\"certs-none\">The tls block has no certificate.</p>\n");
        return;
    }
    evbuffer_add_printf(b,
                        "<p>Read from their files now (the daemon serves them as it read them "
                        "at its start or last reload). Red: less than %d days left, or past."
                        "</p>\n<table id=\"certs\"><tr><th>File</th><th>Subject</th><th>SANs"
                        "</th><th>Issuer</th><th>Not after</th><th>Days left</th></tr>\n",
                        DOORS_CERT_WARN_DAYS);
    for (size_t i = 0; i < conf->n_tls_pairs; i++) {
        struct tls_info info;
        char why[CAP_PATH + 64], when[64];
        long long days;

        if (tls_describe_file(conf->tls_pairs[i].cert, &info, why, sizeof why) == -1) {
            evbuffer_add_printf(b, "<tr id=\"cert-%zu\" class=\"error\"><td>", i);
            web_escapez(b, conf->tls_pairs[i].cert);
            evbuffer_add_printf(b, "</td><td colspan=\"5\">");
            web_escapez(b, why);
            evbuffer_add_printf(b, "</td></tr>\n");
            continue;
        }
        /* Whole days left, rounded down; negative once past. */
        days = info.peer_not_after >= now
                   ? (long long)(info.peer_not_after - now) / 86400
                   : -((long long)(now - info.peer_not_after) + 86399) / 86400;
        fmt_time(when, sizeof when, (int64_t)info.peer_not_after);
        evbuffer_add_printf(b, "<tr id=\"cert-%zu\"%s><td>", i,
                            info.peer_not_after - now < (time_t)DOORS_CERT_WARN_DAYS * 86400
                                ? " class=\"error expiring\""
                                : "");
        web_escapez(b, conf->tls_pairs[i].cert);
        evbuffer_add_printf(b, "</td><td>");
        web_escapez(b, info.peer_cn);
        evbuffer_add_printf(b, "</td><td>");
        web_escapez(b, info.peer_san);
        evbuffer_add_printf(b, "</td><td>");
        web_escapez(b, info.peer_issuer);
        evbuffer_add_printf(b, "</td><td>");
        web_escapez(b, when);
        evbuffer_add_printf(b, "</td><td class=\"days\">%lld%s</td></tr>\n", days,
                            days < 0 ? " (expired)" : "");
    }
    evbuffer_add_printf(b, "</table>\n");
}

/* One finding as a row: where (HOST port N, HOST or ""), id, level, text. */
static void
finding_row(struct evbuffer *b, const char *where, const char *id, const char *level,
            const char *text, size_t *rows)
{
    if (*rows >= DOORS_FINDINGS_MAX)
        return;
    (*rows)++;
    evbuffer_add_printf(
        b, "<tr class=\"finding%s\"><td>",
        level != NULL && (strcmp(level, "critical") == 0 || strcmp(level, "warn") == 0) ? " error"
                                                                                        : "");
    web_escapez(b, where);
    evbuffer_add_printf(b, "</td><td>");
    web_escapez(b, id);
    evbuffer_add_printf(b, "</td><td>");
    web_escapez(b, level);
    evbuffer_add_printf(b, "</td><td>");
    web_escapez(b, text);
    evbuffer_add_printf(b, "</td></tr>\n");
}

static void
findings_of(struct evbuffer *b, const char *where, const json_t *arr, size_t *rows)
{
    size_t i;
    json_t *f;

    json_array_foreach(arr, i, f)
    {
        finding_row(b, where, json_string_value(json_object_get(f, "id")),
                    json_string_value(json_object_get(f, "level")),
                    json_string_value(json_object_get(f, "text")), rows);
    }
}

/* Each port probed: its state, TLS as it was spoken, the certificate as a client saw it. */
static void
ports_table(struct evbuffer *b, const json_t *hosts)
{
    const json_t *h, *p;
    size_t i, k, rows = 0;

    evbuffer_add_printf(b, "<table id=\"check-ports\"><tr><th>Where</th><th>State</th>"
                           "<th>TLS</th><th>Certificate</th><th>Days left</th><th>Chain</th>"
                           "<th>Name</th><th>Level</th></tr>\n");
    json_array_foreach(hosts, i, h)
    {
        const char *addr = json_string_value(json_object_get(h, "addr"));

        json_array_foreach(json_object_get(h, "ports"), k, p)
        {
            const json_t *tls = json_object_get(p, "tls");
            bool done = json_is_true(json_object_get(tls, "done"));

            if (rows++ >= DOORS_FINDINGS_MAX)
                break;
            evbuffer_add_printf(b, "<tr class=\"port\"><td>");
            web_escapez(b, addr);
            evbuffer_add_printf(b, " port %" JSON_INTEGER_FORMAT "</td><td>",
                                json_integer_value(json_object_get(p, "port")));
            web_escapez(b, json_string_value(json_object_get(p, "state")));
            evbuffer_add_printf(b, "</td><td>");
            if (done) {
                web_escapez(b, json_string_value(json_object_get(tls, "how")));
                evbuffer_add_printf(b, " ");
                web_escapez(b, json_string_value(json_object_get(tls, "version")));
            } else {
                evbuffer_add_printf(b, "none");
            }
            evbuffer_add_printf(b, "</td><td>");
            if (done)
                web_escapez(b, json_string_value(json_object_get(tls, "subject")));
            evbuffer_add_printf(b, "</td><td>");
            if (done && json_is_integer(json_object_get(tls, "days_left")))
                evbuffer_add_printf(b, "%" JSON_INTEGER_FORMAT,
                                    json_integer_value(json_object_get(tls, "days_left")));
            evbuffer_add_printf(b, "</td><td>%s</td><td>%s</td><td>",
                                !done                                            ? ""
                                : json_is_true(json_object_get(tls, "chain_ok")) ? "verified"
                                                                                 : "not verified",
                                !done                                           ? ""
                                : json_is_true(json_object_get(tls, "name_ok")) ? "matches"
                                                                                : "no match");
            web_escapez(b, json_string_value(json_object_get(p, "level")));
            evbuffer_add_printf(b, "</td></tr>\n");
        }
    }
    evbuffer_add_printf(b, "</table>\n");
}

static void
verdict(struct evbuffer *b, const json_t *doc)
{
    const json_t *hosts = json_object_get(doc, "hosts"), *h, *p;
    size_t i, k, rows = 0;

    evbuffer_add_printf(b, "<p>Worst level: <strong id=\"check-level\">");
    web_escapez(b, json_string_value(json_object_get(doc, "level")));
    evbuffer_add_printf(b, "</strong></p>\n");
    ports_table(b, hosts);
    evbuffer_add_printf(b, "<table id=\"check-findings\"><tr><th>Where</th>"
                           "<th>Finding</th><th>Level</th><th>Text</th></tr>\n");
    json_array_foreach(hosts, i, h)
    {
        const char *addr = json_string_value(json_object_get(h, "addr"));
        char where[128];

        findings_of(b, addr != NULL ? addr : "", json_object_get(h, "findings"), &rows);
        json_array_foreach(json_object_get(h, "ports"), k, p)
        {
            const char *state = json_string_value(json_object_get(p, "state"));

            (void)str_fmt(where, sizeof where, "%s port %" JSON_INTEGER_FORMAT,
                          addr != NULL ? addr : "?",
                          json_integer_value(json_object_get(p, "port")));
            /* A closed or filtered door is a state, not a finding: shown as one here. */
            if (state != NULL && strcmp(state, "open") != 0)
                finding_row(b, where, "port-state", "info", state, &rows);
            findings_of(b, where, json_object_get(p, "findings"), &rows);
        }
    }
    findings_of(b, "", json_object_get(doc, "findings"), &rows);
    evbuffer_add_printf(b, "</table>\n");
    if (rows >= DOORS_FINDINGS_MAX)
        evbuffer_add_printf(b, "<p>Only the first %d findings are shown.</p>\n",
                            DOORS_FINDINGS_MAX);
}

static void
check_section(struct evbuffer *b, const struct req *q)
{
    const struct doors_check *c = q->con->check;
    char when[64];

    evbuffer_add_printf(b, "<h2>From the outside: gate26 check</h2>\n<form method=\"post\" "
                           "action=\"/doors/check\">");
    csrf_field(b, q->s);
    evbuffer_add_printf(b,
                        "<button id=\"run-check\" type=\"submit\"%s>Run gate26 check</button>"
                        "</form>\n",
                        c != NULL && c->pid > 0 ? " disabled" : "");
    if (c != NULL && c->pid > 0) {
        fmt_time(when, sizeof when, (int64_t)c->started);
        evbuffer_add_printf(b, "<p id=\"check-status\">running (started %s by ", when);
        web_escapez(b, c->user);
        evbuffer_add_printf(b, "); reload the page for its verdict.</p>\n");
        return;
    }
    if (c == NULL || c->ended == 0) {
        evbuffer_add_printf(b, "<p id=\"check-status\">not run yet</p>\n");
        return;
    }
    fmt_time(when, sizeof when, (int64_t)c->ended);
    evbuffer_add_printf(b, "<p id=\"check-status\">last run ended %s (started by ", when);
    web_escapez(b, c->user);
    evbuffer_add_printf(b, ", %lld s)</p>\n", (long long)(c->ended - c->started));
    if (c->verdict == NULL) {
        evbuffer_add_printf(b, "<p class=\"error\" id=\"check-error\">");
        web_escapez(b, c->error);
        evbuffer_add_printf(b, "</p>\n");
        return;
    }
    verdict(b, c->verdict);
}

static void
doors_answer(struct req *q, int code, const char *reason, const char *note, const char *error)
{
    struct evbuffer *b = evbuffer_new();

    page_begin(b, "Doors", q->s);
    page_note(b, note);
    page_error(b, error);
    doors_table(b, q->con->conf);
    certs_table(b, q->con->conf);
    check_section(b, q);
    send_page(q, code, reason, b);
    evbuffer_free(b);
}

void
doors_page(struct req *q)
{
    doors_answer(q, 200, "OK", NULL, NULL);
}

void
doors_check(struct req *q)
{
    char why[CAP_PATH + 64], note[64], detail[64];
    size_t n = 0;

    if (q->con->check != NULL && q->con->check->pid > 0) {
        doors_answer(q, 409, "Conflict", NULL, "A check is already running.");
        return;
    }
    if (q->con->check == NULL ||
        check_start(q->con->check, q->con->conf, q->s->user, &n, why, sizeof why) == -1) {
        log_action(q, "doors-check", "status=failed");
        doors_answer(q, 503, "Service Unavailable", NULL,
                     q->con->check == NULL ? "The check cannot run." : why);
        return;
    }
    (void)str_fmt(detail, sizeof detail, "targets=%zu, pid=%ld", n, (long)q->con->check->pid);
    log_action(q, "doors-check", detail);
    (void)str_fmt(note, sizeof note, "gate26 check started on %zu address%s.", n,
                  n == 1 ? "" : "es");
    doors_answer(q, 200, "OK", note, NULL);
}
