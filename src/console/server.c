/* SPDX-License-Identifier: MIT */
/*
 * `gate26 console` (console.h): the HTTP server on libevent's evhttp (with
 * bufferevent_openssl for HTTPS): each request's checks (route, session,
 * access, origin, form, CSRF token) and its page (console_impl.h), the
 * start and the stop. Everything runs on one event loop; the password check
 * (yescrypt, tens of milliseconds) blocks it for that long: the console
 * serves a few admins, and the lockout bounds how often anyone can ask.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <qrencode.h>

#include "account/account.h"
#include "auth/auth.h"
#include "conf/conf.h"
#include "console/console.h"
#include "console/console_impl.h"
#include "console/web.h"
#include "ctl/ask.h"
#include "daemon/privileges.h"
#include "lib/log.h"
#include "lib/now.h"
#include "lib/sock.h"
#include "lib/str.h"
#include "policy/policy.h"
#include "tls/tls.h"

#define PROG "gate26 console"

/* Requests: at most 16 KiB of headers and 64 KiB of body; a slow client is cut after 30 s. */
#define CONSOLE_HEADERS_MAX (16 * 1024)
#define CONSOLE_BODY_MAX    (64 * 1024)
#define CONSOLE_TIMEOUT_S   30
/* The test-only environment variable that shortens the idle timeout (seconds, 1..1800). */
#define IDLE_ENV "GATE26_CONSOLE_TEST_IDLE"

/* ------------------------------------------------------------ dispatch */

static void
peer(struct req *q)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(q->r);
    char *addr = NULL;
    ev_uint16_t port = 0;

    if (evcon != NULL)
        evhttp_connection_get_peer(evcon, &addr, &port);
    (void)str_copyz(q->client, sizeof q->client, addr != NULL ? addr : "?");
    if (inet_pton(AF_INET, q->client, q->addr) == 1)
        q->family = AF_INET;
    else if (inet_pton(AF_INET6, q->client, q->addr) == 1)
        q->family = AF_INET6;
}

/* Reads a POST's urlencoded body into q->form. Returns 0, or -1 when it is not one. */
static int
read_form(struct req *q)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(q->r);
    size_t len = evbuffer_get_length(in);
    char *text;
    int rc;

    TAILQ_INIT(&q->form);
    if (len > CONSOLE_BODY_MAX)
        return -1;
    text = malloc(len + 1);
    if (text == NULL)
        return -1;
    if (evbuffer_copyout(in, text, len) != (ev_ssize_t)len || memchr(text, '\0', len) != NULL) {
        free(text);
        return -1;
    }
    text[len] = '\0';
    /* %00: evhttp would decode it into a C string, cutting the value short. No form has one. */
    if (strstr(text, "%00") != NULL) {
        OPENSSL_cleanse(text, len);
        free(text);
        return -1;
    }
    rc = evhttp_parse_query_str(text, &q->form);
    OPENSSL_cleanse(text, len);
    free(text);
    q->has_form = true;
    return rc == 0 ? 0 : -1;
}

/* Wipes the form (it may hold a password) and frees it, and the query. */
static void
form_clear(struct req *q)
{
    struct evkeyval *kv;

    if (q->has_query) {
        evhttp_clear_headers(&q->query);
        q->has_query = false;
    }
    if (!q->has_form)
        return;
    TAILQ_FOREACH(kv, &q->form, next)
    OPENSSL_cleanse(kv->value, strlen(kv->value));
    evhttp_clear_headers(&q->form);
    q->has_form = false;
}

static void
dispatch(struct req *q, const struct web_route *rt)
{
    switch (rt->page) {
    case WEB_OVERVIEW:
        overview_page(q);
        break;
    case WEB_LOGIN_FORM:
        if (q->s != NULL && !q->s->pending)
            send_redirect(q, q->s->admin ? "/" : "/account");
        else
            login_form(q, 200, "OK", NULL);
        break;
    case WEB_LOGIN:
        do_login(q);
        break;
    case WEB_LOGIN_CODE:
        do_login_code(q);
        break;
    case WEB_LOGOUT:
        do_logout(q);
        break;
    case WEB_ACCOUNT:
        account_show(q);
        break;
    case WEB_TOTP_ENROL:
        do_totp_enrol(q);
        break;
    case WEB_TOTP_CONFIRM:
        do_totp_confirm(q);
        break;
    case WEB_TOTP_REMOVE:
        do_totp_remove(q);
        break;
    case WEB_APP_CREATE:
        do_app_create(q);
        break;
    case WEB_APP_REVOKE:
        do_app_revoke(q);
        break;
    case WEB_TRACKING:
        tracking_page(q);
        break;
    case WEB_TRACKING_MESSAGE:
        tracking_message(q);
        break;
    case WEB_QUEUE:
        queue_page(q);
        break;
    case WEB_QUEUE_MESSAGE:
        queue_message(q);
        break;
    case WEB_QUEUE_ACTION:
        queue_action(q);
        break;
    case WEB_QUARANTINE:
        quarantine_page(q);
        break;
    case WEB_QUARANTINE_MESSAGE:
        quarantine_message(q);
        break;
    case WEB_QUARANTINE_ACTION:
        quarantine_action(q);
        break;
    case WEB_ALERTS:
        alerts_page(q);
        break;
    case WEB_SCANNERS:
        scanners_page(q);
        break;
    case WEB_DOORS:
        doors_page(q);
        break;
    case WEB_DOORS_CHECK:
        doors_check(q);
        break;
    case WEB_STYLE:
        send_style(q);
        break;
    case WEB_NONE:
        send_error(q, 404, "Not Found", "No such page.");
        break;
    }
}

static void
handle(struct evhttp_request *r, void *arg)
{
    struct req q = {.con = arg, .r = r};
    struct evkeyvalq *in = evhttp_request_get_input_headers(r);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(r);
    const char *uri = evhttp_request_get_uri(r), *cookie;
    const struct web_route *rt;
    bool post = cmd == EVHTTP_REQ_POST, known;
    char id[WEB_TOKEN_HEX + 1];
    size_t plen;

    peer(&q);
    cookie = evhttp_find_header(in, "Cookie");
    if (web_cookie_find(cookie, q.con->cookie, id, sizeof id) == 0)
        q.s = session_find(q.con, id, time(NULL));
    if (uri == NULL || uri[0] != '/') {
        send_error(&q, 400, "Bad Request", "The request target is not a path.");
        return;
    }
    plen = strcspn(uri, "?#");
    rt = web_route_find(post, uri, plen, &known);
    if (rt == NULL) {
        if (known)
            send_error(&q, 405, "Method Not Allowed", "Not with this method.");
        else
            send_error(&q, 404, "Not Found", "No such page.");
        return;
    }
    switch (rt->access) {
    case WEB_PUBLIC:
        break;
    case WEB_PENDING:
        if (q.s == NULL || !q.s->pending) {
            send_error(&q, 403, "Forbidden", "Log in first.");
            return;
        }
        break;
    case WEB_USER:
    case WEB_ADMIN:
        if (q.s == NULL || q.s->pending) {
            q.s = NULL;
            if (post)
                send_error(&q, 403, "Forbidden", "Your session has ended: log in again.");
            else
                send_redirect(&q, "/login");
            return;
        }
        if (rt->access == WEB_ADMIN && !q.s->admin) {
            log_warning("-: client=[%s], event=console-forbidden, user=\"%s\", path=%s", q.client,
                        q.s->user, rt->path);
            send_error(&q, 403, "Forbidden", "This page is for admins.");
            return;
        }
        q.s->seen = time(NULL);
        break;
    }
    if (post) {
        const char *host = evhttp_find_header(in, "Host");

        if (!web_same_origin(q.con->tls != NULL, host, evhttp_find_header(in, "Origin"),
                             evhttp_find_header(in, "Referer"))) {
            log_warning("-: client=[%s], event=console-forbidden, reason=origin, path=%s", q.client,
                        rt->path);
            send_error(&q, 403, "Forbidden", "This form did not come from the console.");
            return;
        }
        if (read_form(&q) == -1) {
            form_clear(&q);
            send_error(&q, 400, "Bad Request", "The form cannot be read.");
            return;
        }
        /* Every POST of a session carries its token; the login's has none to carry. */
        if (rt->page != WEB_LOGIN && !web_csrf_ok(q.s->csrf, field(&q, "csrf"))) {
            log_warning("-: client=[%s], event=console-forbidden, reason=csrf, user=\"%s\", "
                        "path=%s",
                        q.client, q.s->user, rt->path);
            form_clear(&q);
            send_error(&q, 403, "Forbidden", "The form's token is missing or wrong: reload it.");
            return;
        }
    }
    dispatch(&q, rt);
    form_clear(&q);
}

/* ------------------------------------------------------------ start and stop */

/* HTTPS: each connection's bufferevent is an OpenSSL one. */
static struct bufferevent *
tls_bevcb(struct event_base *base, void *arg)
{
    struct console *con = arg;
    SSL *ssl = tls_server_ssl_new(con->tls);

    if (ssl == NULL)
        return NULL;
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

/* A reload refused: the running configuration stays. */
static void
reload_failed(struct conf *c, const char *why)
{
    char q[LOG_QUOTE_CAP];

    log_warning("-: event=console-reload, status=failed, error=\"%s\", action=kept-running",
                log_quote(q, sizeof q, why, strlen(why)));
    conf_unref(c);
}

/*
 * SIGHUP (docs/console.md, "Reload"): the configuration file again, read
 * as the user the console runs as (as the daemon's reload is). It takes
 * effect for what the console reads at each request: the admins (open
 * sessions too), the certificates (new connections), the passwd file's
 * path (read at the next login), the AUTH limits, the quarantine's keep,
 * tracking on or off, the log level. The console address, the spool, the
 * user, and TLS on or off are fixed by the start: a change to one is
 * refused, naming it, and the running configuration stays, as it does for
 * a file that does not load or a certificate that cannot be read.
 */
static void
console_reload(struct console *con)
{
    char err[CAP_PATH + 512];
    struct conf *c = conf_load(con->conf->path, err, sizeof err);
    const char *fixed = NULL;
    struct tls_server *tls = NULL;
    size_t admins = 0;

    if (c == NULL) {
        reload_failed(NULL, err);
        return;
    }
    if (strcmp(c->console_address.text, con->conf->console_address.text) != 0)
        fixed = "console address";
    else if (strcmp(c->spool, con->conf->spool) != 0)
        fixed = "spool";
    else if (strcmp(c->user, con->conf->user) != 0)
        fixed = "user";
    else if (c->has_tls != (con->tls != NULL))
        fixed = "tls (HTTPS or plain HTTP)";
    if (fixed != NULL) {
        (void)str_fmt(err, sizeof err, "%s: %s changed: that takes a restart", c->path, fixed);
        reload_failed(c, err);
        return;
    }
    if (c->auth_passwd[0] == '\0') {
        (void)str_fmt(err, sizeof err, "%s: the console needs auth { passwd }", c->path);
        reload_failed(c, err);
        return;
    }
    if (c->has_tls && (tls = tls_server_new(c, err, sizeof err)) == NULL) {
        reload_failed(c, err);
        return;
    }
    if (tls != NULL) { /* connections open now keep theirs (each SSL holds a reference) */
        tls_server_unref(con->tls);
        con->tls = tls;
    }
    if (strcmp(c->auth_passwd, con->conf->auth_passwd) != 0)
        memset(&con->users_st, 0, sizeof con->users_st); /* read at the next login */
    conf_unref(con->conf);
    con->conf = c;
    for (size_t i = 0; i < SESSIONS_MAX; i++) {
        struct session *s = &con->sessions[i];

        if (s->used) {
            s->admin = conf_console_admin(c, s->user);
            admins += s->admin;
        }
    }
    log_set_level(c->log_level);
    log_info("-: event=console-reload, status=ok, admins=%zu, admin_sessions=%zu",
             c->n_console_admins, admins);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    console_reload(arg);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    log_info("-: event=console-stop, signal=%d", (int)sig);
    event_base_loopbreak(arg);
}

static bool
is_loopback(const struct conf_addr *a)
{
    if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->sa;

        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (a->sa.ss_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&a->sa)->sin6_addr);
    return false;
}

/* The idle timeout: SESSION_IDLE_S, or IDLE_ENV's seconds (tests only). */
static unsigned
idle_timeout(void)
{
    const char *e = getenv(IDLE_ENV);
    char *end = NULL;
    unsigned long v;

    if (e == NULL || e[0] == '\0')
        return SESSION_IDLE_S;
    v = strtoul(e, &end, 10);
    if (*end != '\0' || v < 1 || v > SESSION_IDLE_S) {
        log_warning("-: event=console-start, note=\"%s ignored: 1 to %d seconds\"", IDLE_ENV,
                    SESSION_IDLE_S);
        return SESSION_IDLE_S;
    }
    log_warning("-: event=console-start, note=\"idle timeout %lu s from %s (for tests)\"", v,
                IDLE_ENV);
    return (unsigned)v;
}

/* Everything done as root: the socket, the certificate, the passwd file. */
static int
console_open(struct console *con, int *fd, char *err, size_t errcap)
{
    const struct conf_addr *a = &con->conf->console_address;
    unsigned char seed[16];

    if (con->conf->auth_passwd[0] == '\0') {
        (void)str_fmt(err, errcap, "%s: the console needs auth { passwd }: its users log in",
                      con->conf->path);
        return -1;
    }
    if (stat(con->conf->auth_passwd, &con->users_st) == -1) {
        (void)str_fmt(err, errcap, "%s: %s", con->conf->auth_passwd, strerror(errno));
        return -1;
    }
    con->users = auth_db_load(con->conf->auth_passwd, err, errcap);
    if (con->users == NULL)
        return -1;
    if (con->conf->has_tls) {
        con->tls = tls_server_new(con->conf, err, errcap);
        if (con->tls == NULL)
            return -1;
        con->cookie = "__Host-gate26";
    } else if (!is_loopback(a)) {
        (void)str_fmt(err, errcap,
                      "%s:%u: console address %s is not loopback: plain HTTP is served on "
                      "loopback only; add a tls block with a certificate",
                      con->conf->path, a->line != 0 ? a->line : con->conf->console_line, a->text);
        return -1;
    } else {
        con->cookie = "gate26";
        log_warning("-: event=console-plain-http, address=%s, note=\"no tls certificate: "
                    "plain HTTP on loopback only\"",
                    a->text);
    }
    *fd = sock_listen((const struct sockaddr *)&a->sa, a->sa_len, 64);
    if (*fd == -1) {
        (void)str_fmt(err, errcap, "console address %s: %s", a->text, strerror(errno));
        return -1;
    }
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
        (void)str_fmt(err, errcap, "getrandom: %s", strerror(errno));
        return -1;
    }
    con->limits = policy_limits_new(seed);
    return 0;
}

static const char usage[] =
    "usage: gate26 console [-c FILE]\n"
    "\n"
    "Serves the web console at console { address } (default 127.0.0.1:8026):\n"
    "HTTPS with the tls block's first certificate, or plain HTTP on a loopback\n"
    "address. Users log in with their auth { passwd } password and, once\n"
    "enrolled, their TOTP code; console { admins } may see everything.\n"
    "Started as root it binds, reads its keys, then runs as the configuration's\n"
    "user. Runs in the foreground until TERM or INT; HUP reads the configuration\n"
    "again (docs/console.md). Logs on standard error.\n"
    "\n"
    "  -c, --config FILE  configuration file\n"
    "  -h, --help         print this text\n";

int
console_main(int argc, char **argv, const char *default_conf)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = default_conf;
    struct console *con;
    struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
    char err[1024];
    int ch, fd = -1, status = 1;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (ch == 'h') {
            fputs(usage, stdout);
            return 0;
        }
        if (ch != 'c') {
            fputs(usage, stderr);
            return 2;
        }
        path = optarg;
    }
    if (optind != argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", PROG, argv[optind]);
        fputs(usage, stderr);
        return 2;
    }
    con = calloc(1, sizeof *con);
    if (con == NULL)
        return 1;
    con->conf = conf_load(path, err, sizeof err);
    if (con->conf == NULL) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        free(con);
        return 1;
    }
    log_set_level(con->conf->log_level);
    signal(SIGPIPE, SIG_IGN);
    con->idle = idle_timeout();
    doors_init(con);
    if (privileges_check(con->conf, err, sizeof err) == -1 ||
        console_open(con, &fd, err, sizeof err) == -1 ||
        privileges_drop(con->conf, NULL, NULL, err, sizeof err) == -1) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        goto out;
    }
    /* As the user: the store is made (or found) with its files owned by it. */
    con->store = account_store_open(con->conf->spool, true, (uid_t)-1, (gid_t)-1, err, sizeof err);
    if (con->store == NULL) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        goto out;
    }
    con->base = event_base_new();
    con->http = con->base != NULL ? evhttp_new(con->base) : NULL;
    if (con->http == NULL || evhttp_accept_socket_with_handle(con->http, fd) == NULL) {
        fprintf(stderr, "%s: cannot start the HTTP server\n", PROG);
        goto out;
    }
    fd = -1; /* evhttp's now */
    evhttp_set_max_headers_size(con->http, CONSOLE_HEADERS_MAX);
    evhttp_set_max_body_size(con->http, CONSOLE_BODY_MAX);
    evhttp_set_timeout(con->http, CONSOLE_TIMEOUT_S);
    evhttp_set_allowed_methods(con->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
    evhttp_set_gencb(con->http, handle, con);
    if (con->tls != NULL)
        evhttp_set_bevcb(con->http, tls_bevcb, con);
    sigterm = evsignal_new(con->base, SIGTERM, on_signal, con->base);
    sigint = evsignal_new(con->base, SIGINT, on_signal, con->base);
    sighup = evsignal_new(con->base, SIGHUP, on_hup, con);
    if (sigterm == NULL || sigint == NULL || sighup == NULL || event_add(sigterm, NULL) == -1 ||
        event_add(sigint, NULL) == -1 || event_add(sighup, NULL) == -1) {
        fprintf(stderr, "%s: cannot catch signals\n", PROG);
        goto out;
    }
    log_info("-: event=console-start, address=%s, scheme=%s, admins=%zu, idle=%u",
             con->conf->console_address.text, con->tls != NULL ? "https" : "http",
             con->conf->n_console_admins, con->idle);
    event_base_dispatch(con->base);
    status = 0;
out:
    if (fd != -1)
        close(fd);
    if (sigterm != NULL)
        event_free(sigterm);
    if (sigint != NULL)
        event_free(sigint);
    if (sighup != NULL)
        event_free(sighup);
    if (con->http != NULL)
        evhttp_free(con->http);
    doors_stop(con);
    if (con->base != NULL)
        event_base_free(con->base);
    account_store_free(con->store);
    policy_limits_free(con->limits);
    tls_server_unref(con->tls);
    auth_db_unref(con->users);
    conf_unref(con->conf);
    OPENSSL_cleanse(con->sessions, sizeof con->sessions);
    free(con);
    return status;
}
