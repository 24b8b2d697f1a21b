/* SPDX-License-Identifier: MIT */
/*
 * SMTP AUTH on the submission doors (RFC 4954) with the PLAIN (RFC 4616)
 * and LOGIN mechanisms, offered and accepted only inside TLS. The password
 * is checked by auth/ on a worker thread; the session waits (parsing
 * paused, as for a spool commit) and answers when the result comes back.
 *
 * Replies: 235 2.7.0 success; 535 5.7.8 wrong credentials, the same reply
 * and, through auth/'s dummy hash, the same time whether or not the user
 * exists or is locked (`gate26 passwd --lock`, logged reason=locked-user); 538 5.7.11 AUTH in the
 * clear; 501 5.5.2 bad base64; 501 5.0.0 the client cancelled with "*"; 504 5.5.4 unknown
 * mechanism; 503 5.5.1 AUTH twice or inside a transaction; 454 4.7.0 a temporary failure, or a
 * client or user locked out by policy/ (max-failures, lockout): an attempt after the failure that
 * reached the limit is slowed (SMTP_AUTH_LOCK_DELAY_MS), answered 454 and its session closed.
 *
 * Every failure is counted (policy_auth_failed) and logged in the one form
 * the fail2ban filter in contrib/ matches; an attempt refused by a lock is
 * logged as auth-locked, which the filter leaves alone. Passwords are
 * wiped from our buffers as soon as auth/ has its copy.
 *
 * The smart lockout (policy.h): a user locked by failures is still let
 * through to the password check from a client that logged in as that user
 * before, and a wrong password from such a client counts against the client
 * only. Whether it did is a read of the shared-state store, answered later
 * on the loop: the session waits for it as for the password check (the
 * password is kept, on the heap, only while the store answers), and cancels
 * it when it ends. A successful login is remembered there.
 *
 * App passwords (account/, docs/console.md "Accounts"): a user's password
 * is first looked up as an app password, by its HMAC in SPOOL/accounts.db,
 * on the loop: one indexed read of a small file in the page cache, and a
 * last-use write that neither fsyncs (WAL, synchronous=NORMAL) nor waits
 * for a lock (busy timeout 0: the write is skipped if the command line
 * holds the lock), so it costs microseconds where the worker's hash costs
 * tens of milliseconds, and a worker round trip would only add latency.
 * Only a user of the password file that is not locked has app passwords.
 * A revoked one, or one used on a door not in its list, is refused as a
 * wrong password is (535 5.7.8, counted in the lockout), logged with
 * reason=app-password-revoked or app-password-wrong-door. Anything else
 * goes on to the main password, which auth { app-passwords required } (or
 * totp-users, for users enrolled in TOTP) refuses: the hash is still
 * checked, so the reply and its time are those of a wrong password, and
 * a right one is logged reason=main-password-forbidden.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "account/account.h"
#include "auth/auth.h"
#include "lib/log.h"
#include "lib/now.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "policy/policy.h"
#include "smtp/session.h"

/* A locked-out client waits this long for its 454, then the session closes. */
#define SMTP_AUTH_LOCK_DELAY_MS 2000

bool
smtp_auth_offered(const struct smtp_session *s)
{
    return s->tls && s->env->auth_pool != NULL && s->env->auth_db != NULL &&
           policy_offers_auth(s->conf, s->door);
}

/* Pauses the session (parsing waits) until the check or the delay ends. */
static void
auth_wait(struct smtp_session *s)
{
    session_set_state(s, SMTP_ST_AUTH_CHECK);
}

/* Forgets the password kept while the memory of logins was asked. */
static void
auth_drop_pass(struct smtp_session *s)
{
    if (s->auth_held_pass == NULL)
        return;
    OPENSSL_cleanse(s->auth_held_pass, s->auth_held_pass_len);
    free(s->auth_held_pass);
    s->auth_held_pass = NULL;
    s->auth_held_pass_len = 0;
}

/* Back to commands after the exchange. */
static void
auth_end(struct smtp_session *s)
{
    s->auth_step = SMTP_AUTH_NONE;
    s->auth_known = SMTP_AUTH_KNOWN_UNASKED;
    s->auth_main_forbidden = false;
    s->auth_fail_reason = NULL;
    auth_drop_pass(s);
    OPENSSL_cleanse(s->auth_login_user, sizeof(s->auth_login_user));
    if (s->state == SMTP_ST_AUTH || s->state == SMTP_ST_AUTH_CHECK)
        session_set_state(s, SMTP_ST_READY);
}

/* The end of an exchange, for the watcher; user: the name tried, or NULL. */
static void
auth_watch(const struct smtp_session *s, enum watch_auth result, const char *user)
{
    struct watch_event ev = {.kind = WATCH_AUTH,
                             .auth = result,
                             .user = user,
                             .mechanism = s->auth_mech[0] != '\0' ? s->auth_mech : NULL};

    session_watch(s, &ev);
}

/*
 * The 454 to a locked client or user, then the session ends: for the
 * watcher, a connection the lockout refused (WATCH_CONNECT_LOCKOUT; it was
 * counted accepted when it started).
 */
static void
auth_lock_cb(evutil_socket_t fd, short what, void *arg)
{
    struct smtp_session *s = arg;
    struct watch_event ev = {.kind = WATCH_CONNECT, .connect = WATCH_CONNECT_LOCKOUT};

    (void)fd;
    (void)what;
    smtp_reply(s, R_AUTH_LOCKED, NULL);
    auth_end(s);
    session_watch(s, &ev);
    session_close(s);
    session_resume(s);
}

/*
 * A locked client (client true) or user: logged as auth-locked (not as a
 * failure: fail2ban counted the failures that made the lock), 454 after a
 * delay, then close.
 */
static void
auth_locked(struct smtp_session *s, const char *user, bool client)
{
    struct timeval tv = {SMTP_AUTH_LOCK_DELAY_MS / 1000, (SMTP_AUTH_LOCK_DELAY_MS % 1000) * 1000};

    policy_log_auth_locked(s->sid, s->client_addr, s->door->role, user, strlen(user), client);
    auth_watch(s, WATCH_AUTH_LOCKED, user[0] != '\0' ? user : NULL);
    auth_end(s);
    if (s->auth_timer == NULL)
        s->auth_timer = evtimer_new(s->env->base, auth_lock_cb, s);
    if (s->auth_timer == NULL || evtimer_add(s->auth_timer, &tv) == -1)
        log_panic("evtimer for AUTH lockout");
    auth_wait(s);
}

/*
 * A failure (a wrong password or of the exchange): counted, logged,
 * answered. A client known to have logged in as the user (s->auth_known)
 * counts against itself only.
 */
static void
auth_refuse(struct smtp_session *s, enum smtp_reply_id id, const char *user, const char *reason)
{
    size_t ulen = user != NULL ? strlen(user) : 0;
    bool locked = policy_auth_failed(s->env->limits, s->conf, s->client_family, s->client_bin, user,
                                     ulen, s->auth_known == SMTP_AUTH_KNOWN_YES, now_ms());

    policy_log_auth_failed(s->sid, s->client_addr, s->door->role, user, ulen, reason, locked);
    auth_watch(s, WATCH_AUTH_FAILURE, user);
    auth_end(s);
    /* The failure that reaches the limit is answered as it is; the next attempt gets 454. */
    smtp_reply(s, id, NULL);
}

/* After a wrong password: the memory of logins has answered; count, answer, go on. */
static void
auth_known_after_cb(void *arg, bool known)
{
    struct smtp_session *s = arg;
    char user[CAP_AUTH_USER + 1];

    s->auth_lookup = NULL;
    (void)str_copyz(user, sizeof(user), s->auth_pending_user);
    s->auth_pending_user[0] = '\0';
    s->auth_known = known ? SMTP_AUTH_KNOWN_YES : SMTP_AUTH_KNOWN_NO;
    auth_refuse(s, R_AUTH_FAILED, user,
                s->auth_fail_reason != NULL ? s->auth_fail_reason : "bad-credentials");
    session_resume(s);
}

/* A login: counted, remembered, logged, answered. app_id: the app password used, or 0. */
static void
auth_succeed(struct smtp_session *s, const char *user, int64_t app_id)
{
    bool known = s->auth_known == SMTP_AUTH_KNOWN_YES; /* asked because the user is locked */
    char app[32] = "";

    policy_auth_succeeded(s->env->limits, s->client_family, s->client_bin);
    policy_login_remember(s->env->state, s->conf, user, strlen(user), s->client_family,
                          s->client_bin);
    (void)str_copyz(s->auth_user, sizeof(s->auth_user), user);
    if (app_id > 0)
        (void)str_fmt(app, sizeof(app), ", app-password=%lld", (long long)app_id);
    log_info("-: sid=%s, client=[%s], door=%s, event=auth, user=\"%s\", mech=%s%s%s", s->sid,
             s->client_addr, conf_role_name(s->door->role), user, s->auth_mech, app,
             known ? ", user-locked=yes, known-client=yes" : "");
    auth_watch(s, WATCH_AUTH_SUCCESS, user);
    auth_end(s);
    smtp_reply(s, R_AUTH_OK, NULL);
}

static void
auth_done_cb(void *arg, enum auth_verdict verdict)
{
    struct smtp_session *s = arg;
    char user[CAP_AUTH_USER + 1];

    s->auth_check = NULL;
    if (verdict == AUTH_VERDICT_OK && s->auth_main_forbidden) {
        /* The right main password where only app passwords may log in: a failure like any. */
        verdict = AUTH_VERDICT_BAD;
        s->auth_fail_reason = "main-password-forbidden";
    }
    if (verdict == AUTH_VERDICT_BAD && s->auth_known == SMTP_AUTH_KNOWN_UNASKED &&
        !policy_auth_exempt(s->conf, s->client_family, s->client_bin)) {
        /* Is it the user's own device with an old password? Then the user is not counted. */
        s->auth_lookup =
            policy_login_lookup(s->env->state, s->auth_pending_user, strlen(s->auth_pending_user),
                                s->client_family, s->client_bin, auth_known_after_cb, s);
        if (s->auth_lookup != NULL)
            return; /* still waiting (SMTP_ST_AUTH_CHECK) */
    }
    (void)str_copyz(user, sizeof(user), s->auth_pending_user);
    s->auth_pending_user[0] = '\0';
    if (verdict == AUTH_VERDICT_OK) {
        auth_succeed(s, user, 0);
    } else {
        /* A locked user gets the reply of a wrong password; only the log tells them apart. */
        auth_refuse(s, R_AUTH_FAILED, user,
                    verdict == AUTH_VERDICT_LOCKED ? "locked-user"
                    : s->auth_fail_reason != NULL  ? s->auth_fail_reason
                                                   : "bad-credentials");
    }
    session_resume(s);
}

/*
 * user's password as an app password (see the top of this file). true when
 * answered (235, or 535 for a revoked one or the wrong door); false: not an
 * app password of user, the main password's turn.
 */
static bool
auth_app_password(struct smtp_session *s, const char *user, const char *pass, size_t pass_len)
{
    enum account_rc rc;
    int64_t id = 0;

    if (s->env->accounts == NULL || !auth_db_is_active(s->env->auth_db, user))
        return false;
    rc = account_app_password_check(s->env->accounts, user, pass, pass_len,
                                    conf_role_name(s->door->role), s->client_addr,
                                    (int64_t)time(NULL), &id);
    switch (rc) {
    case ACCOUNT_OK:
        auth_succeed(s, user, id);
        return true;
    case ACCOUNT_REVOKED:
    case ACCOUNT_WRONG_DOOR:
        auth_refuse(s, R_AUTH_FAILED, user,
                    rc == ACCOUNT_REVOKED ? "app-password-revoked" : "app-password-wrong-door");
        return true;
    case ACCOUNT_ERROR:
        log_warning("-: sid=%s, event=accounts, warning=\"%s\"", s->sid,
                    account_store_error(s->env->accounts));
        return false;
    default:
        return false;
    }
}

/*
 * auth { app-passwords }: is user's main password refused? A store that
 * cannot say whether a totp-users user is enrolled refuses it (fails closed:
 * app passwords may still work once it answers again).
 */
static bool
auth_main_forbidden(const struct smtp_session *s, const char *user)
{
    switch (s->conf->auth_app_passwords) {
    case CONF_APP_PASSWORDS_OFF:
        return false;
    case CONF_APP_PASSWORDS_REQUIRED:
        return true;
    case CONF_APP_PASSWORDS_TOTP_USERS:
        return s->env->accounts != NULL && account_totp_is_enrolled(s->env->accounts, user) != 0;
    }
    return true;
}

/* The password check on a worker; the session waits for auth_done_cb. */
static void
auth_password(struct smtp_session *s, const char *user, const char *pass, size_t pass_len)
{
    char name[CAP_AUTH_USER + 1];

    (void)str_copyz(name, sizeof(name), user);
    s->auth_pending_user[0] = '\0';
    if (auth_app_password(s, name, pass, pass_len))
        return;
    (void)str_copyz(s->auth_pending_user, sizeof(s->auth_pending_user), name);
    s->auth_main_forbidden = auth_main_forbidden(s, name);
    s->auth_check = auth_check_start(s->env->auth_pool, s->env->auth_db, s->auth_pending_user, pass,
                                     pass_len, auth_done_cb, s);
    if (s->auth_check == NULL) {
        log_warning("-: sid=%s, client=[%s], event=auth-busy, error=\"too many password checks "
                    "waiting\"",
                    s->sid, s->client_addr);
        s->auth_pending_user[0] = '\0';
        auth_end(s);
        smtp_reply(s, R_AUTH_TEMP, NULL);
        return;
    }
    auth_wait(s);
}

/* The user is locked: the memory of logins has answered whether this client is its own. */
static void
auth_known_before_cb(void *arg, bool known)
{
    struct smtp_session *s = arg;

    s->auth_lookup = NULL;
    if (known) {
        s->auth_known = SMTP_AUTH_KNOWN_YES;
        auth_password(s, s->auth_pending_user, s->auth_held_pass, s->auth_held_pass_len);
        auth_drop_pass(s);
    } else {
        char user[CAP_AUTH_USER + 1];

        (void)str_copyz(user, sizeof(user), s->auth_pending_user);
        s->auth_pending_user[0] = '\0';
        auth_locked(s, user, false);
    }
    if (s->state != SMTP_ST_AUTH_CHECK)
        session_resume(s); /* answered at once (454 4.7.0 busy) */
}

/* user and pass decoded: the locks, perhaps the memory of logins, then the password check. */
static void
auth_check(struct smtp_session *s, const char *user, const char *pass, size_t pass_len)
{
    size_t ulen = strlen(user);

    switch (policy_auth_gate(s->env->limits, s->conf, s->client_family, s->client_bin, user, ulen,
                             now_ms())) {
    case POLICY_AUTH_CLIENT_LOCKED:
        auth_locked(s, user, true);
        return;
    case POLICY_AUTH_USER_LOCKED:
        auth_locked(s, user, false);
        return;
    case POLICY_AUTH_ASK_KNOWN:
        (void)str_copyz(s->auth_pending_user, sizeof(s->auth_pending_user), user);
        s->auth_lookup = policy_login_lookup(s->env->state, user, ulen, s->client_family,
                                             s->client_bin, auth_known_before_cb, s);
        if (s->auth_lookup == NULL) {
            s->auth_pending_user[0] = '\0';
            auth_locked(s, user, false); /* no memory to ask: nobody is known */
            return;
        }
        /* Kept (wiped in auth_end or when handed to auth/) only while the store answers. */
        s->auth_held_pass = xmalloc(pass_len + 1);
        memcpy(s->auth_held_pass, pass, pass_len);
        s->auth_held_pass_len = pass_len;
        auth_wait(s);
        return;
    case POLICY_AUTH_OPEN:
        break;
    }
    auth_password(s, user, pass, pass_len);
}

/* Decodes one base64 response; false after the reply (501 5.5.2). */
static bool
auth_decode(struct smtp_session *s, const char *b64, size_t len, unsigned char *out, size_t cap,
            size_t *out_len)
{
    if (auth_b64_decode(b64, len, out, cap, out_len) == 0)
        return true;
    auth_refuse(s, R_AUTH_BASE64, NULL, "malformed");
    return false;
}

/* PLAIN's message: authzid NUL authcid NUL passwd (RFC 4616 2). */
static void
auth_plain(struct smtp_session *s, const char *b64, size_t len)
{
    unsigned char msg[3 * (AUTH_SASL_FIELD_MAX + 1)];
    struct auth_plain p;
    size_t n;
    enum auth_sasl_rc rc;

    if (!auth_decode(s, b64, len, msg, sizeof(msg), &n))
        return;
    rc = auth_plain_parse(msg, n, &p);
    OPENSSL_cleanse(msg, sizeof(msg));
    if (rc == AUTH_SASL_AUTHZID) {
        /* Acting for another user is not offered: a wrong credential, not a syntax error. */
        auth_refuse(s, R_AUTH_FAILED, p.authcid, "authzid");
    } else if (rc != AUTH_SASL_OK) {
        auth_refuse(s, R_AUTH_MALFORMED, NULL, "malformed");
    } else if (!auth_is_user_name(p.authcid, strlen(p.authcid))) {
        auth_refuse(s, R_AUTH_FAILED, NULL, "bad-user-name");
    } else {
        auth_check(s, p.authcid, p.passwd, p.passwd_len);
    }
    auth_plain_clear(&p);
}

/* A LOGIN field (user name or password), decoded into out (NUL-terminated). */
static bool
login_field_decode(struct smtp_session *s, const char *b64, size_t len, char *out, size_t cap,
                   size_t *out_len)
{
    if (!auth_decode(s, b64, len, (unsigned char *)out, cap - 1, out_len))
        return false;
    out[*out_len] = '\0';
    if (auth_login_field((const unsigned char *)out, *out_len) != AUTH_SASL_OK) {
        OPENSSL_cleanse(out, cap);
        auth_refuse(s, R_AUTH_MALFORMED, NULL, "malformed");
        return false;
    }
    return true;
}

static void
auth_login_user(struct smtp_session *s, const char *b64, size_t len)
{
    char user[AUTH_SASL_FIELD_MAX + 1];
    size_t n;

    if (!login_field_decode(s, b64, len, user, sizeof(user), &n))
        return;
    if (!auth_is_user_name(user, n)) {
        auth_refuse(s, R_AUTH_FAILED, NULL, "bad-user-name");
        return;
    }
    memcpy(s->auth_login_user, user, n + 1);
    s->auth_step = SMTP_AUTH_LOGIN_PASS;
    smtp_reply(s, R_AUTH_CHALLENGE, AUTH_LOGIN_PROMPT_PASS);
}

static void
auth_login_pass(struct smtp_session *s, const char *b64, size_t len)
{
    char pass[AUTH_SASL_FIELD_MAX + 1], user[CAP_AUTH_USER + 1];
    size_t n;

    if (!login_field_decode(s, b64, len, pass, sizeof(pass), &n))
        return;
    memcpy(user, s->auth_login_user, sizeof(user));
    auth_check(s, user, pass, n);
    OPENSSL_cleanse(pass, sizeof(pass));
}

void
smtp_auth_continue(struct smtp_session *s, const char *line, size_t len)
{
    /* RFC 4954 4: "*" cancels the exchange with 501. */
    if (auth_is_cancel(line, len)) {
        auth_refuse(s, R_AUTH_CANCELLED, s->auth_login_user[0] ? s->auth_login_user : NULL,
                    "cancelled");
        return;
    }
    switch (s->auth_step) {
    case SMTP_AUTH_PLAIN:
        auth_plain(s, line, len);
        break;
    case SMTP_AUTH_LOGIN_USER:
        auth_login_user(s, line, len);
        break;
    case SMTP_AUTH_LOGIN_PASS:
        auth_login_pass(s, line, len);
        break;
    case SMTP_AUTH_NONE:
        log_panic("smtp_auth_continue without an exchange");
    }
}

void
smtp_cmd_auth(struct smtp_session *s, const struct smtp_cmd *c)
{
    struct slice mech, resp = {"", 0};
    const char *sp;

    if (!s->tls && policy_offers_auth(s->conf, s->door)) {
        /* RFC 4954 4: a password must not cross in the clear. */
        smtp_reply(s, R_AUTH_NEEDS_TLS, NULL);
        return;
    }
    if (!smtp_auth_offered(s)) {
        smtp_reply(s, R_AUTH_UNAVAIL, NULL);
        return;
    }
    if (s->state == SMTP_ST_GREETED) {
        smtp_reply(s, R_NEED_HELO, NULL);
        return;
    }
    if (s->auth_user[0] != '\0') {
        smtp_reply(s, R_AUTH_TWICE, NULL);
        return;
    }
    if (s->state != SMTP_ST_READY) {
        smtp_reply(s, R_BAD_SEQUENCE, NULL); /* RFC 4954 4: not during a transaction */
        return;
    }
    if (!c->has_arg) {
        smtp_reply(s, R_ARGUMENT_NEEDED, "AUTH");
        return;
    }
    sp = memchr(c->arg.p, ' ', c->arg.len);
    mech = slice_make(c->arg.p, sp != NULL ? (size_t)(sp - c->arg.p) : c->arg.len);
    if (sp != NULL)
        resp = slice_make(sp + 1, c->arg.len - mech.len - 1);
    if (slice_eq_ci(mech, "PLAIN")) {
        memcpy(s->auth_mech, "PLAIN", 6);
        s->auth_step = SMTP_AUTH_PLAIN;
    } else if (slice_eq_ci(mech, "LOGIN")) {
        memcpy(s->auth_mech, "LOGIN", 6);
        s->auth_step = SMTP_AUTH_LOGIN_USER;
    } else {
        smtp_reply(s, R_AUTH_MECH, NULL);
        return;
    }
    session_set_state(s, SMTP_ST_AUTH);
    if (sp == NULL) {
        /* No initial response: ask for it (RFC 4954 4). */
        smtp_reply(s, R_AUTH_CHALLENGE,
                   s->auth_step == SMTP_AUTH_PLAIN ? "" : AUTH_LOGIN_PROMPT_USER);
        return;
    }
    /* "=" stands for an empty initial response (RFC 4954 4). */
    if (resp.len == 1 && resp.p[0] == '=')
        resp.len = 0;
    if (resp.len == 0) {
        auth_refuse(s, R_AUTH_MALFORMED, NULL, "malformed");
        return;
    }
    smtp_auth_continue(s, resp.p, resp.len);
}

void
smtp_auth_clear(struct smtp_session *s)
{
    auth_check_cancel(s->auth_check);
    s->auth_check = NULL;
    policy_login_cancel(s->auth_lookup);
    s->auth_lookup = NULL;
    auth_drop_pass(s);
    if (s->auth_timer != NULL)
        event_free(s->auth_timer);
    s->auth_timer = NULL;
    OPENSSL_cleanse(s->auth_login_user, sizeof(s->auth_login_user));
}
