/* SPDX-License-Identifier: MIT */
/*
 * The login (docs/console.md, "Login", "Second factor"): the password,
 * checked with the daemon's constant-time yescrypt on this loop, then the
 * TOTP code or a recovery code; failures count in the console's lockout.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/buffer.h>

#include "account/account.h"
#include "auth/auth.h"
#include "conf/conf.h"
#include "console/console_impl.h"
#include "lib/log.h"
#include "lib/now.h"
#include "lib/str.h"
#include "policy/policy.h"

void
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

/*
 * Tells the daemon (the control socket's "console-login OP CLIENT [USER]",
 * ctl/console_auth.h) so that logins here and AUTH over SMTP count against
 * one lockout. Returns its answer's word in word (capacity cap), or -1
 * when the daemon does not answer: the console's own lockout then stands
 * alone.
 */
static int
daemon_login(struct req *q, const char *op, const char *user, char *word, size_t cap)
{
    char addr[INET6_ADDRSTRLEN], request[64 + INET6_ADDRSTRLEN + AUTH_USER_MAX], why[256], *answer;
    bool ok;
    size_t n;

    if (q->family == 0 || inet_ntop(q->family, q->addr, addr, sizeof addr) == NULL)
        return -1;
    (void)str_fmt(request, sizeof request, "console-login %s %s%s%s\n", op, addr,
                  user != NULL ? " " : "", user != NULL ? user : "");
    answer = console_ctl_text(q, request, &ok, why, sizeof why);
    if (answer == NULL || !ok) {
        log_debug("-: event=console-lockout, daemon=no, why=\"%s\"",
                  answer != NULL ? "refused" : why);
        free(answer);
        return -1;
    }
    n = strcspn(answer + 3, "\n");
    (void)str_copy(word, cap, answer + 3, n);
    free(answer);
    return 0;
}

/* Counts a failed login in the lockouts (the daemon's and the console's own) and logs it. */
void
login_failed(struct req *q, const char *user, const char *reason)
{
    char uq[LOG_QUOTE_CAP], word[32];
    size_t ulen = user != NULL ? strlen(user) : 0;
    bool locked = policy_auth_failed(q->con->limits, q->con->conf, q->family, q->addr, user, ulen,
                                     false, now_ms());

    if (daemon_login(q, "failed", user, word, sizeof word) == 0 && strcmp(word, "locked") == 0)
        locked = true;

    log_warning("-: client=[%s], event=console-login-failed, user=\"%s\", reason=%s%s", q->client,
                log_quote(uq, sizeof uq, user != NULL ? user : "", ulen), reason,
                locked ? ", locked=yes" : "");
}

static void
login_done(struct req *q, struct session *s)
{
    char word[32];

    log_info("-: client=[%s], event=console-login, user=\"%s\", admin=%s", q->client, s->user,
             s->admin ? "yes" : "no");
    policy_auth_succeeded(q->con->limits, q->family, q->addr);
    (void)daemon_login(q, "ok", s->user, word, sizeof word);
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

void
do_login(struct req *q)
{
    const char *user = field(q, "user"), *pass = field(q, "password");
    time_t now = time(NULL);
    struct session *s;
    enum auth_verdict v;
    char word[32];
    int enrolled;

    if (user == NULL || pass == NULL || !auth_is_user_name(user, strlen(user)) ||
        strlen(pass) == 0 || strlen(pass) > AUTH_SASL_FIELD_MAX) {
        login_failed(q, user != NULL && auth_is_user_name(user, strlen(user)) ? user : NULL,
                     "malformed");
        login_form(q, 403, "Forbidden", "Wrong user or password.");
        return;
    }
    /* The console keeps no memory of known clients: a locked user is locked here. */
    if (policy_auth_gate(q->con->limits, q->con->conf, q->family, q->addr, user, strlen(user),
                         now_ms()) != POLICY_AUTH_OPEN ||
        (daemon_login(q, "gate", user, word, sizeof word) == 0 && strcmp(word, "open") != 0)) {
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

enum account_rc
second_factor_check(struct req *q, const char *user, const char *code, bool *recovery)
{
    enum account_rc rc = ACCOUNT_BAD_CODE;

    *recovery = false;
    if (code != NULL && is_totp_code(code))
        rc = account_totp_check(q->con->store, user, code, (int64_t)time(NULL));
    else if (code != NULL && strlen(code) <= 32 && code[0] != '\0') {
        rc = account_recovery_use(q->con->store, user, code);
        *recovery = true;
    }
    if (rc == ACCOUNT_ERROR)
        log_error("-: event=console-accounts, error=\"%s\"", account_store_error(q->con->store));
    if (rc != ACCOUNT_OK)
        login_failed(q, user, *recovery ? "bad-recovery-code" : "bad-totp-code");
    return rc;
}

void
do_login_code(struct req *q)
{
    struct session *s = q->s;
    char user[AUTH_USER_MAX + 1];
    bool recovery;

    if (second_factor_check(q, s->user, field(q, "code"), &recovery) != ACCOUNT_OK) {
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

void
do_logout(struct req *q)
{
    log_info("-: client=[%s], event=console-logout, user=\"%s\"", q->client, q->s->user);
    session_end(q->s);
    q->s = NULL;
    set_cookie(q, "x", true);
    send_redirect(q, "/login");
}
