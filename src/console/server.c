/* SPDX-License-Identifier: MIT */
/*
 * `gate26 console` (console.h): the HTTP server on libevent's evhttp (with
 * bufferevent_openssl for HTTPS), its sessions, the login with TOTP, and
 * the pages. Everything runs on one event loop; the password check
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
/* Sessions: idle and absolute lifetimes, and a login waiting for its code. */
#define SESSION_IDLE_S     (30 * 60)
#define SESSION_ABSOLUTE_S (12 * 3600)
#define SESSION_PENDING_S  (5 * 60)
#define SESSIONS_MAX       256
/* The test-only environment variable that shortens the idle timeout (seconds, 1..1800). */
#define IDLE_ENV "GATE26_CONSOLE_TEST_IDLE"
/* How long the overview waits for the daemon's status. */
#define STATUS_TIMEOUT_S 2

struct session {
    bool used;
    bool pending; /* password right, TOTP code still to come */
    bool admin;
    char id[WEB_TOKEN_HEX + 1];
    char csrf[WEB_TOKEN_HEX + 1];
    char user[AUTH_USER_MAX + 1];
    time_t created, seen;
};

struct console {
    struct conf *conf;
    struct auth_db *users;
    struct stat users_st; /* the passwd file as it was read: read again when it changes */
    struct account_store *store;
    struct policy_limits *limits;
    struct event_base *base;
    struct evhttp *http;
    struct tls_server *tls; /* NULL: plain HTTP (loopback only) */
    const char *cookie;     /* "__Host-gate26" on HTTPS, else "gate26" */
    unsigned idle;          /* seconds */
    struct session sessions[SESSIONS_MAX];
};

/* One request as the handlers see it. */
struct req {
    struct console *con;
    struct evhttp_request *r;
    char client[64]; /* the peer's address, as text */
    int family;
    unsigned char addr[16];
    struct session *s;     /* NULL: none */
    struct evkeyvalq form; /* a POST's fields */
    bool has_form;
};

/* ------------------------------------------------------------ sessions */

static int
random_token(char out[WEB_TOKEN_HEX + 1])
{
    unsigned char raw[WEB_TOKEN_HEX / 2];

    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -1;
    web_hex(raw, sizeof raw, out);
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

static bool
session_expired(const struct console *con, const struct session *s, time_t now)
{
    if (s->pending)
        return now - s->created > SESSION_PENDING_S;
    return now - s->seen > (time_t)con->idle || now - s->created > SESSION_ABSOLUTE_S;
}

static void
session_end(struct session *s)
{
    OPENSSL_cleanse(s, sizeof *s);
    s->used = false;
}

/* The session whose id the cookie holds, or NULL (none, unknown, expired: ended). */
static struct session *
session_find(struct console *con, const char *id, time_t now)
{
    if (strlen(id) != WEB_TOKEN_HEX)
        return NULL;
    for (size_t i = 0; i < SESSIONS_MAX; i++) {
        struct session *s = &con->sessions[i];

        if (!s->used || CRYPTO_memcmp(s->id, id, WEB_TOKEN_HEX) != 0)
            continue;
        if (session_expired(con, s, now)) {
            log_info("-: event=console-session-expired, user=\"%s\"", s->user);
            session_end(s);
            return NULL;
        }
        return s;
    }
    return NULL;
}

/* A new session for user (the oldest one gives way when all are taken), or NULL. */
static struct session *
session_new(struct console *con, const char *user, bool pending, time_t now)
{
    struct session *s = NULL;

    for (size_t i = 0; i < SESSIONS_MAX; i++) {
        struct session *t = &con->sessions[i];

        if (t->used && session_expired(con, t, now))
            session_end(t);
        if (!t->used) {
            s = t;
            break;
        }
        if (s == NULL || t->seen < s->seen)
            s = t;
    }
    session_end(s);
    if (random_token(s->id) == -1 || random_token(s->csrf) == -1)
        return NULL;
    (void)str_copyz(s->user, sizeof s->user, user);
    s->used = true;
    s->pending = pending;
    s->admin = conf_console_admin(con->conf, user);
    s->created = s->seen = now;
    return s;
}

/* ------------------------------------------------------------ replies */

static const char css[] =
    "body{font-family:sans-serif;margin:0;color:#222;background:#f6f6f4}\n"
    "header{background:#234;color:#fff;padding:.6em 1em;display:flex;gap:1em;"
    "align-items:center}\n"
    "header a{color:#fff}header form{margin-left:auto}\n"
    "main{padding:1em 2em;max-width:60em}\n"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;"
    "text-align:left}\n"
    ".secret,code{font-family:monospace;font-size:1.1em;background:#fff;padding:.2em}\n"
    ".error{color:#a00;font-weight:bold}.ok{color:#070;font-weight:bold}\n"
    "svg.qr{width:12em;height:12em;background:#fff}\n"
    "label{display:block;margin:.4em 0}\n";

static void
add_headers(struct req *q, const char *type)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(q->r);

    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'self'; form-action 'self'; frame-ancestors 'none'");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    /* same-origin, not no-referrer: a form's POST then carries its Origin (Fetch 3.1). */
    evhttp_add_header(h, "Referrer-Policy", "same-origin");
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (q->con->tls != NULL)
        evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
}

static void
set_cookie(struct req *q, const char *value, bool clear)
{
    char text[256];

    (void)str_fmt(text, sizeof text, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", q->con->cookie,
                  value, q->con->tls != NULL ? "; Secure" : "", clear ? "; Max-Age=0" : "");
    evhttp_add_header(evhttp_request_get_output_headers(q->r), "Set-Cookie", text);
}

static void
page_begin(struct evbuffer *b, const char *title, const struct session *s)
{
    evbuffer_add_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                           "<title>gate26: ");
    web_escapez(b, title);
    evbuffer_add_printf(b, "</title><link rel=\"stylesheet\" href=\"/style.css\"></head>\n"
                           "<body><header><strong>gate26</strong>");
    if (s != NULL && !s->pending) {
        if (s->admin)
            evbuffer_add_printf(b, "<a href=\"/\">Overview</a>");
        evbuffer_add_printf(b, "<a href=\"/account\">Account</a><span>");
        web_escapez(b, s->user);
        evbuffer_add_printf(b, "</span><form method=\"post\" action=\"/logout\">"
                               "<input type=\"hidden\" name=\"csrf\" value=\"");
        web_escapez(b, s->csrf);
        evbuffer_add_printf(b, "\"><button id=\"logout\" type=\"submit\">Log out</button></form>");
    }
    evbuffer_add_printf(b, "</header>\n<main><h1>");
    web_escapez(b, title);
    evbuffer_add_printf(b, "</h1>\n");
}

static void
send_page(struct req *q, int code, const char *reason, struct evbuffer *b)
{
    evbuffer_add_printf(b, "</main></body></html>\n");
    add_headers(q, "text/html; charset=utf-8");
    evhttp_send_reply(q->r, code, reason, b);
}

/* A page with one sentence: the errors (403, 404, ...). */
static void
send_error(struct req *q, int code, const char *reason, const char *text)
{
    struct evbuffer *b = evbuffer_new();

    page_begin(b, reason, q->s);
    evbuffer_add_printf(b, "<p class=\"error\">");
    web_escapez(b, text);
    evbuffer_add_printf(b, "</p>\n");
    send_page(q, code, reason, b);
    evbuffer_free(b);
}

static void
send_redirect(struct req *q, const char *to)
{
    add_headers(q, "text/plain; charset=utf-8");
    evhttp_add_header(evhttp_request_get_output_headers(q->r), "Location", to);
    evhttp_send_reply(q->r, 303, "See Other", NULL);
}

/* A hidden CSRF field of the request's session. */
static void
csrf_field(struct evbuffer *b, const struct session *s)
{
    evbuffer_add_printf(b, "<input type=\"hidden\" name=\"csrf\" value=\"");
    web_escapez(b, s->csrf);
    evbuffer_add_printf(b, "\">");
}

static const char *
field(struct req *q, const char *name)
{
    return q->has_form ? evhttp_find_header(&q->form, name) : NULL;
}

/* ------------------------------------------------------------ login */

static void
login_form(struct req *q, int code, const char *reason, const char *error)
{
    struct evbuffer *b = evbuffer_new();

    page_begin(b, "Log in", NULL);
    if (error != NULL) {
        evbuffer_add_printf(b, "<p class=\"error\" id=\"error\">");
        web_escapez(b, error);
        evbuffer_add_printf(b, "</p>\n");
    }
    evbuffer_add_printf(b, "<form method=\"post\" action=\"/login\">"
                           "<label>User <input name=\"user\" id=\"user\" autocomplete=\"username\" "
                           "maxlength=\"64\" required></label>"
                           "<label>Password <input name=\"password\" id=\"password\" "
                           "type=\"password\" autocomplete=\"current-password\" required></label>"
                           "<button type=\"submit\" id=\"login\">Log in</button></form>\n");
    send_page(q, code, reason, b);
    evbuffer_free(b);
}

static void
code_form(struct req *q, const struct session *s, int code, const char *reason, const char *error)
{
    struct evbuffer *b = evbuffer_new();

    page_begin(b, "Second factor", NULL);
    if (error != NULL) {
        evbuffer_add_printf(b, "<p class=\"error\" id=\"error\">");
        web_escapez(b, error);
        evbuffer_add_printf(b, "</p>\n");
    }
    evbuffer_add_printf(b, "<form method=\"post\" action=\"/login/code\">");
    csrf_field(b, s);
    evbuffer_add_printf(b, "<label>Code from your authenticator app (or a recovery code) "
                           "<input name=\"code\" id=\"code\" autocomplete=\"one-time-code\" "
                           "maxlength=\"32\" required></label>"
                           "<button type=\"submit\" id=\"verify\">Verify</button></form>\n");
    send_page(q, code, reason, b);
    evbuffer_free(b);
}

/* Counts a failed login in the lockout and logs it; reason is one token. */
static void
login_failed(struct req *q, const char *user, const char *reason)
{
    char uq[LOG_QUOTE_CAP];
    size_t ulen = user != NULL ? strlen(user) : 0;
    bool locked = policy_auth_failed(q->con->limits, q->con->conf, q->family, q->addr, user, ulen,
                                     false, now_ms());

    log_warning("-: client=[%s], event=console-login-failed, user=\"%s\", reason=%s%s", q->client,
                log_quote(uq, sizeof uq, user != NULL ? user : "", ulen), reason,
                locked ? ", locked=yes" : "");
}

static void
login_done(struct req *q, struct session *s)
{
    log_info("-: client=[%s], event=console-login, user=\"%s\", admin=%s", q->client, s->user,
             s->admin ? "yes" : "no");
    policy_auth_succeeded(q->con->limits, q->family, q->addr);
    set_cookie(q, s->id, false);
    send_redirect(q, s->admin ? "/" : "/account");
}

/* True when st and the file's last stat differ (a new file, a write). */
static bool
users_changed(const struct stat *a, const struct stat *b)
{
    return a->st_ino != b->st_ino || a->st_dev != b->st_dev || a->st_size != b->st_size ||
           a->st_mtim.tv_sec != b->st_mtim.tv_sec || a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

/*
 * Reads the passwd file again when it changed since it was read (`gate26
 * passwd` set, deleted or locked a user), as the user the console runs
 * as; a file that cannot be read or is wrong is logged, and the last good
 * one stays in use (as the daemon's reload does).
 */
static void
users_refresh(struct console *con)
{
    struct stat st;
    struct auth_db *db;
    char err[1024];

    if (stat(con->conf->auth_passwd, &st) == -1 || !users_changed(&st, &con->users_st))
        return;
    db = auth_db_load(con->conf->auth_passwd, err, sizeof err);
    if (db == NULL) {
        log_warning("-: event=console-passwd, status=failed, error=\"%s\", action=kept-last", err);
        con->users_st = st; /* once per change, not at every login */
        return;
    }
    auth_db_unref(con->users);
    con->users = db;
    con->users_st = st;
    log_info("-: event=console-passwd, status=read, users=%zu", auth_db_count(db));
}

static void
do_login(struct req *q)
{
    const char *user = field(q, "user"), *pass = field(q, "password");
    time_t now = time(NULL);
    struct session *s;
    enum auth_verdict v;
    int enrolled;

    if (user == NULL || pass == NULL || !auth_is_user_name(user, strlen(user)) ||
        strlen(pass) == 0 || strlen(pass) > AUTH_SASL_FIELD_MAX) {
        login_failed(q, user != NULL && auth_is_user_name(user, strlen(user)) ? user : NULL,
                     "malformed");
        login_form(q, 403, "Forbidden", "Wrong user or password.");
        return;
    }
    switch (policy_auth_gate(q->con->limits, q->con->conf, q->family, q->addr, user, strlen(user),
                             now_ms())) {
    case POLICY_AUTH_OPEN:
        break;
    default: /* the console keeps no memory of known clients: a locked user is locked here */
        log_warning("-: client=[%s], event=console-login-locked, user=\"%s\"", q->client, user);
        login_form(q, 429, "Too Many Requests", "Too many failed logins: try again later.");
        return;
    }
    users_refresh(q->con);
    v = auth_db_check(q->con->users, user, pass, strlen(pass));
    if (v != AUTH_VERDICT_OK) {
        login_failed(q, user, v == AUTH_VERDICT_LOCKED ? "user-locked" : "bad-credentials");
        login_form(q, 403, "Forbidden", "Wrong user or password.");
        return;
    }
    enrolled = account_totp_is_enrolled(q->con->store, user);
    if (enrolled == -1) {
        log_error("-: event=console-accounts, error=\"%s\"", account_store_error(q->con->store));
        send_error(q, 503, "Service Unavailable", "The account store cannot be read.");
        return;
    }
    s = session_new(q->con, user, enrolled == 1, now);
    if (s == NULL) {
        send_error(q, 503, "Service Unavailable", "No random numbers.");
        return;
    }
    if (enrolled == 1) {
        set_cookie(q, s->id, false);
        q->s = NULL;
        code_form(q, s, 200, "OK", NULL);
        return;
    }
    login_done(q, s);
}

/* True when text is exactly TOTP_DIGITS ASCII digits. */
static bool
is_totp_code(const char *text)
{
    if (strlen(text) != TOTP_DIGITS)
        return false;
    for (size_t i = 0; i < TOTP_DIGITS; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
    }
    return true;
}

static void
do_login_code(struct req *q)
{
    struct session *s = q->s;
    const char *code = field(q, "code");
    enum account_rc rc = ACCOUNT_BAD_CODE;
    char user[AUTH_USER_MAX + 1];
    bool recovery = false;

    if (code != NULL && is_totp_code(code))
        rc = account_totp_check(q->con->store, s->user, code, (int64_t)time(NULL));
    else if (code != NULL && strlen(code) <= 32 && code[0] != '\0') {
        rc = account_recovery_use(q->con->store, s->user, code);
        recovery = true;
    }
    if (rc != ACCOUNT_OK) {
        if (rc == ACCOUNT_ERROR)
            log_error("-: event=console-accounts, error=\"%s\"",
                      account_store_error(q->con->store));
        login_failed(q, s->user, recovery ? "bad-recovery-code" : "bad-totp-code");
        q->s = NULL;
        code_form(q, s, 403, "Forbidden", "Wrong code.");
        return;
    }
    /* A new id once both factors are in: the pending one never becomes a login. */
    (void)str_copyz(user, sizeof user, s->user);
    session_end(s);
    s = session_new(q->con, user, false, time(NULL));
    if (s == NULL) {
        send_error(q, 503, "Service Unavailable", "No random numbers.");
        return;
    }
    if (recovery)
        log_info("-: client=[%s], event=console-recovery-code-used, user=\"%s\"", q->client, user);
    login_done(q, s);
}

static void
do_logout(struct req *q)
{
    log_info("-: client=[%s], event=console-logout, user=\"%s\"", q->client, q->s->user);
    session_end(q->s);
    q->s = NULL;
    set_cookie(q, "x", true);
    send_redirect(q, "/login");
}

/* ------------------------------------------------------------ the overview */

static void
overview(struct req *q)
{
    struct evbuffer *b = evbuffer_new();
    char why[512], *answer = NULL;
    const char *body;
    size_t len = 0;
    json_t *doc = NULL;

    page_begin(b, "Overview", q->s);
    evbuffer_add_printf(b, "<ul><li><a href=\"/account\">Your account</a>: second factor and "
                           "app passwords</li></ul>\n<h2>Daemon</h2>\n");
    if (ctl_request(q->con->conf->spool, "status-json\n", STATUS_TIMEOUT_S, &answer, &len, why,
                    sizeof why) == 0)
        doc = ctl_answer_doc(answer, len, "status", &body, why, sizeof why);
    if (doc == NULL) {
        evbuffer_add_printf(b, "<p class=\"error\" id=\"status-error\">");
        web_escapez(b, why);
        evbuffer_add_printf(b, "</p>\n");
    } else {
        json_t *queue = json_object_get(doc, "queue"), *alerts = json_object_get(doc, "alerts");
        size_t i;
        json_t *a;

        evbuffer_add_printf(
            b,
            "<table id=\"status\"><tr><th>Queue</th><td id=\"queue\">%" JSON_INTEGER_FORMAT
            "</td></tr><tr><th>Deferred</th><td>%" JSON_INTEGER_FORMAT
            "</td></tr><tr><th>Held</th><td>%" JSON_INTEGER_FORMAT
            "</td></tr><tr><th>Alerts firing</th><td id=\"alerts\">%" JSON_INTEGER_FORMAT
            "</td></tr></table>\n",
            json_integer_value(json_object_get(queue, "messages")),
            json_integer_value(json_object_get(queue, "deferred")),
            json_integer_value(json_object_get(queue, "held")),
            json_integer_value(json_object_get(doc, "alerts_firing")));
        if (json_is_array(alerts) && json_array_size(alerts) > 0) {
            evbuffer_add_printf(b, "<table><tr><th>Rule</th><th>Key</th><th>Value</th></tr>\n");
            json_array_foreach(alerts, i, a)
            {
                evbuffer_add_printf(b, "<tr><td>");
                web_escapez(b, json_string_value(json_object_get(a, "rule")));
                evbuffer_add_printf(b, "</td><td>");
                web_escapez(b, json_string_value(json_object_get(a, "key")));
                evbuffer_add_printf(b, "</td><td>%" JSON_INTEGER_FORMAT "</td></tr>\n",
                                    json_integer_value(json_object_get(a, "value")));
            }
            evbuffer_add_printf(b, "</table>\n");
        }
        json_decref(doc);
    }
    free(answer);
    evbuffer_add_printf(b, "<p>Traffic, tracking, queue, quarantine, alerts, scanners and doors: "
                           "next.</p>\n");
    send_page(q, 200, "OK", b);
    evbuffer_free(b);
}

/* ------------------------------------------------------------ the account page */

/* An inline SVG of the QR code of text (libqrencode), or nothing when it cannot be made. */
static void
qr_svg(struct evbuffer *b, const char *text)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    int w;

    if (qr == NULL)
        return;
    w = qr->width;
    evbuffer_add_printf(b,
                        "<svg class=\"qr\" id=\"qr\" xmlns=\"http://www.w3.org/2000/svg\" "
                        "viewBox=\"-4 -4 %d %d\" shape-rendering=\"crispEdges\" role=\"img\" "
                        "aria-label=\"QR code\"><path fill=\"#000\" d=\"",
                        w + 8, w + 8);
    for (int y = 0; y < w; y++) {
        for (int x = 0; x < w; x++) {
            if (qr->data[y * w + x] & 1)
                evbuffer_add_printf(b, "M%d %dh1v1h-1z", x, y);
        }
    }
    evbuffer_add_printf(b, "\"/></svg>\n");
    QRcode_free(qr);
}

static void
fmt_time(char *out, size_t cap, int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (t == 0 || gmtime_r(&tt, &tm) == NULL || strftime(out, cap, "%Y-%m-%d %H:%M UTC", &tm) == 0)
        (void)str_copyz(out, cap, t == 0 ? "never" : "?");
}

/*
 * The account page, with what an action just made shown once: a new TOTP
 * secret (enrol), recovery codes (confirm), a new app password (create).
 */
struct shown {
    const char *note, *error;
    const unsigned char *secret; /* TOTP_SECRET_LEN octets */
    char (*codes)[ACCOUNT_RECOVERY_LEN + 1];
    const char *app_password;
};

static void
account_page(struct req *q, int code, const char *reason, const struct shown *sh)
{
    struct account_store *st = q->con->store;
    const struct session *s = q->s;
    struct evbuffer *b = evbuffer_new();
    struct account_app_password *list = NULL;
    size_t n = 0;
    int enrolled = account_totp_is_enrolled(st, s->user);

    page_begin(b, "Account", s);
    if (sh->note != NULL) {
        evbuffer_add_printf(b, "<p class=\"ok\" id=\"note\">");
        web_escapez(b, sh->note);
        evbuffer_add_printf(b, "</p>\n");
    }
    if (sh->error != NULL) {
        evbuffer_add_printf(b, "<p class=\"error\" id=\"error\">");
        web_escapez(b, sh->error);
        evbuffer_add_printf(b, "</p>\n");
    }
    evbuffer_add_printf(b, "<h2>Second factor (TOTP)</h2>\n");
    if (sh->secret != NULL) {
        char b32[TOTP_B32_LEN(TOTP_SECRET_LEN) + 1], uri[TOTP_URI_CAP];

        (void)totp_base32_encode(sh->secret, TOTP_SECRET_LEN, false, b32, sizeof b32);
        (void)totp_uri(s->user, sh->secret, TOTP_SECRET_LEN, uri, sizeof uri);
        evbuffer_add_printf(b, "<p>Scan this code with your authenticator app, or type the "
                               "secret, then confirm with the code it shows.</p>\n");
        qr_svg(b, uri);
        evbuffer_add_printf(b, "<p>Secret: <span class=\"secret\" id=\"secret\">");
        web_escapez(b, b32);
        evbuffer_add_printf(b, "</span></p><p>URI: <code id=\"uri\">");
        web_escapez(b, uri);
        evbuffer_add_printf(b, "</code></p>\n<form method=\"post\" "
                               "action=\"/account/totp/confirm\">");
        csrf_field(b, s);
        evbuffer_add_printf(b, "<label>Code <input name=\"code\" id=\"confirm-code\" "
                               "autocomplete=\"one-time-code\" maxlength=\"6\" required></label>"
                               "<button type=\"submit\" id=\"confirm\">Confirm</button></form>\n");
    } else if (sh->codes != NULL) {
        evbuffer_add_printf(b, "<p>Enrolled. Your recovery codes, shown this once (each works "
                               "once, in place of a code):</p><ul id=\"recovery\">");
        for (size_t i = 0; i < ACCOUNT_RECOVERY_CODES; i++) {
            evbuffer_add_printf(b, "<li><code>");
            web_escapez(b, sh->codes[i]);
            evbuffer_add_printf(b, "</code></li>");
        }
        evbuffer_add_printf(b, "</ul>\n");
    } else if (enrolled == 1) {
        evbuffer_add_printf(b,
                            "<p id=\"totp-state\">Enrolled: your code is asked at every "
                            "login. Recovery codes left: %d.</p>\n",
                            account_recovery_left(st, s->user));
    } else {
        evbuffer_add_printf(b, "<p id=\"totp-state\">Not enrolled.</p>\n");
    }
    if (sh->secret == NULL) {
        evbuffer_add_printf(b, "<form method=\"post\" action=\"/account/totp/%s\">",
                            enrolled == 1 ? "remove" : "enrol");
        csrf_field(b, s);
        evbuffer_add_printf(b, "<button type=\"submit\" id=\"%s\">%s</button></form>\n",
                            enrolled == 1 ? "totp-remove" : "totp-enrol",
                            enrolled == 1 ? "Remove the second factor" : "Enrol");
    }

    evbuffer_add_printf(b, "<h2>App passwords</h2>\n");
    if (sh->app_password != NULL) {
        evbuffer_add_printf(b, "<p>Your new app password, shown this once: <span "
                               "class=\"secret\" id=\"app-password\">");
        web_escapez(b, sh->app_password);
        evbuffer_add_printf(b, "</span></p>\n");
    }
    if (account_app_password_list(st, s->user, &list, &n) == -1) {
        evbuffer_add_printf(b, "<p class=\"error\">The account store cannot be read.</p>\n");
        n = 0;
    }
    evbuffer_add_printf(b, "<table id=\"app-passwords\"><tr><th>Id</th><th>Name</th><th>Doors"
                           "</th><th>Created</th><th>Last used</th><th>From</th><th>State</th>"
                           "<th></th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        const struct account_app_password *a = &list[i];
        char created[64], used[64];

        fmt_time(created, sizeof created, a->created);
        fmt_time(used, sizeof used, a->last_used);
        evbuffer_add_printf(b, "<tr><td>%" PRId64 "</td><td>", a->id);
        web_escapez(b, a->name);
        evbuffer_add_printf(b, "</td><td>");
        web_escapez(b, a->doors);
        evbuffer_add_printf(b, "</td><td>%s</td><td>%s</td><td>", created, used);
        web_escapez(b, a->last_from);
        evbuffer_add_printf(b, "</td><td>%s</td><td>", a->revoked != 0 ? "revoked" : "active");
        if (a->revoked == 0) {
            evbuffer_add_printf(b,
                                "<form method=\"post\" action=\"/account/app-password/revoke\">");
            csrf_field(b, s);
            evbuffer_add_printf(b,
                                "<input type=\"hidden\" name=\"id\" value=\"%" PRId64
                                "\"><button type=\"submit\" id=\"revoke-%" PRId64
                                "\">Revoke</button></form>",
                                a->id, a->id);
        }
        evbuffer_add_printf(b, "</td></tr>\n");
    }
    free(list);
    evbuffer_add_printf(b, "</table>\n<form method=\"post\" action=\"/account/app-password/"
                           "create\">");
    csrf_field(b, s);
    evbuffer_add_printf(
        b, "<label>Name <input name=\"name\" id=\"app-name\" maxlength=\"64\" required></label>"
           "<label><input type=\"checkbox\" name=\"door\" value=\"submission\" checked> "
           "submission</label>"
           "<label><input type=\"checkbox\" name=\"door\" value=\"submissions\" checked> "
           "submissions</label>"
           "<label><input type=\"checkbox\" name=\"door\" value=\"internal\"> internal</label>"
           "<button type=\"submit\" id=\"app-create\">Create</button></form>\n");
    send_page(q, code, reason, b);
    evbuffer_free(b);
}

static void
account_show(struct req *q)
{
    struct shown sh = {0};

    account_page(q, 200, "OK", &sh);
}

static void
account_error(struct req *q, int code, const char *reason, const char *error)
{
    struct shown sh = {.error = error};

    account_page(q, code, reason, &sh);
}

/* Logs an action of the session's user (every change the console makes). */
static void
log_action(struct req *q, const char *action, const char *detail)
{
    log_info("-: client=[%s], event=console-action, user=\"%s\", admin=%s, action=%s%s%s",
             q->client, q->s->user, q->s->admin ? "yes" : "no", action, detail[0] ? ", " : "",
             detail);
}

static void
do_totp_enrol(struct req *q)
{
    unsigned char secret[TOTP_SECRET_LEN];
    struct shown sh = {.secret = secret};

    switch (account_totp_enrol(q->con->store, q->s->user, secret)) {
    case ACCOUNT_OK:
        log_action(q, "totp-enrol", "");
        account_page(q, 200, "OK", &sh);
        break;
    case ACCOUNT_EXISTS:
        account_error(q, 409, "Conflict", "You are enrolled already: remove it first.");
        break;
    default:
        account_error(q, 503, "Service Unavailable", "The account store failed.");
        break;
    }
    OPENSSL_cleanse(secret, sizeof secret);
}

static void
do_totp_confirm(struct req *q)
{
    const char *code = field(q, "code");
    char codes[ACCOUNT_RECOVERY_CODES][ACCOUNT_RECOVERY_LEN + 1];
    struct shown sh = {.codes = codes, .note = "Second factor enrolled."};

    switch (account_totp_confirm(q->con->store, q->s->user, code != NULL ? code : "",
                                 (int64_t)time(NULL))) {
    case ACCOUNT_OK:
        break;
    case ACCOUNT_NONE:
        account_error(q, 409, "Conflict", "No enrolment to confirm: enrol first.");
        return;
    case ACCOUNT_EXISTS:
        account_error(q, 409, "Conflict", "You are enrolled already.");
        return;
    case ACCOUNT_BAD_CODE:
        log_action(q, "totp-confirm", "result=bad-code");
        account_error(q, 403, "Forbidden", "Wrong code: enrol again and confirm with a new code.");
        return;
    default:
        account_error(q, 503, "Service Unavailable", "The account store failed.");
        return;
    }
    log_action(q, "totp-confirm", "result=enrolled");
    if (account_recovery_make(q->con->store, q->s->user, codes) != ACCOUNT_OK) {
        account_error(q, 503, "Service Unavailable", "Enrolled, but no recovery codes were made.");
        return;
    }
    account_page(q, 200, "OK", &sh);
    OPENSSL_cleanse(codes, sizeof codes);
}

static void
do_totp_remove(struct req *q)
{
    struct shown sh = {.note = "Second factor removed."};

    if (account_totp_remove(q->con->store, q->s->user) == ACCOUNT_ERROR) {
        account_error(q, 503, "Service Unavailable", "The account store failed.");
        return;
    }
    log_action(q, "totp-remove", "");
    account_page(q, 200, "OK", &sh);
}

static void
do_app_create(struct req *q)
{
    static const char *const known[] = {"internal", "submission", "submissions"};
    const char *name = field(q, "name");
    char doors[64] = "", shown[ACCOUNT_APP_PASSWORD_SHOWN + 1], detail[LOG_QUOTE_CAP + 128],
         nq[LOG_QUOTE_CAP];
    bool seen[3] = {false, false, false};
    struct shown sh = {.app_password = shown, .note = "App password created."};
    struct evkeyval *kv;
    int64_t id = 0;

    TAILQ_FOREACH(kv, &q->form, next)
    {
        size_t k;

        if (strcmp(kv->key, "door") != 0)
            continue;
        for (k = 0; k < 3 && strcmp(kv->value, known[k]) != 0; k++)
            ;
        if (k == 3 || seen[k]) {
            account_error(q, 400, "Bad Request", "Unknown door, or a door named twice.");
            return;
        }
        seen[k] = true;
    }
    for (size_t k = 0; k < 3; k++) {
        if (seen[k])
            (void)str_fmt(doors + strlen(doors), sizeof doors - strlen(doors), "%s%s",
                          doors[0] ? "," : "", known[k]);
    }
    if (doors[0] == '\0') {
        account_error(q, 400, "Bad Request", "Choose at least one door.");
        return;
    }
    if (name == NULL) {
        account_error(q, 400, "Bad Request", "A name is needed.");
        return;
    }
    switch (account_app_password_create(q->con->store, q->s->user, name, doors, (int64_t)time(NULL),
                                        shown, &id)) {
    case ACCOUNT_OK:
        break;
    case ACCOUNT_EXISTS:
        account_error(q, 409, "Conflict", "You have the most app passwords there may be.");
        return;
    case ACCOUNT_NONE:
        account_error(q, 400, "Bad Request",
                      "A name is 1 to 64 octets of UTF-8 without control characters.");
        return;
    default:
        account_error(q, 503, "Service Unavailable", "The account store failed.");
        return;
    }
    (void)str_fmt(detail, sizeof detail, "id=%" PRId64 ", name=\"%s\", doors=%s", id,
                  log_quote(nq, sizeof nq, name, strlen(name)), doors);
    log_action(q, "app-password-create", detail);
    account_page(q, 200, "OK", &sh);
    OPENSSL_cleanse(shown, sizeof shown);
}

static void
do_app_revoke(struct req *q)
{
    const char *text = field(q, "id");
    char *end = NULL, detail[64];
    long long id;
    struct shown sh = {.note = "App password revoked."};

    errno = 0;
    id = text != NULL ? strtoll(text, &end, 10) : 0;
    if (text == NULL || text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || id <= 0) {
        account_error(q, 400, "Bad Request", "No such app password.");
        return;
    }
    switch (
        account_app_password_revoke(q->con->store, q->s->user, (int64_t)id, (int64_t)time(NULL))) {
    case ACCOUNT_OK:
        break;
    case ACCOUNT_NONE:
        account_error(q, 404, "Not Found", "No such app password.");
        return;
    case ACCOUNT_REVOKED:
        account_error(q, 409, "Conflict", "That app password is revoked already.");
        return;
    default:
        account_error(q, 503, "Service Unavailable", "The account store failed.");
        return;
    }
    (void)str_fmt(detail, sizeof detail, "id=%lld", id);
    log_action(q, "app-password-revoke", detail);
    account_page(q, 200, "OK", &sh);
}

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
    rc = evhttp_parse_query_str(text, &q->form);
    OPENSSL_cleanse(text, len);
    free(text);
    q->has_form = true;
    return rc == 0 ? 0 : -1;
}

/* Wipes the form (it may hold a password) and frees it. */
static void
form_clear(struct req *q)
{
    struct evkeyval *kv;

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
        overview(q);
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
    case WEB_STYLE:
        add_headers(q, "text/css; charset=utf-8");
        evbuffer_add(evhttp_request_get_output_buffer(q->r), css, sizeof css - 1);
        evhttp_send_reply(q->r, 200, "OK", NULL);
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
    "user. Runs in the foreground until TERM or INT; logs on standard error.\n"
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
    struct event *sigterm = NULL, *sigint = NULL;
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
    if (sigterm == NULL || sigint == NULL || event_add(sigterm, NULL) == -1 ||
        event_add(sigint, NULL) == -1) {
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
    if (con->http != NULL)
        evhttp_free(con->http);
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
