/* SPDX-License-Identifier: MIT */
/*
 * The limits against abuse: the daemon's counting tables (limit.h) and the
 * decisions on them, with the limits read from the configuration of each
 * call (see policy.h). One table per purpose, so that a flood of one kind
 * (connections from many addresses, made-up senders) cannot push out the
 * counts of another (locked users). Each check comes before any count
 * (check, then apply): a refusal counts nowhere. Clients inside a door's
 * limits-exempt are not counted per client, clients inside auth's
 * lockout-exempt never locked; the smart lockout's memory of logins is in
 * login.c.
 */
#include <stdlib.h>

#include "lib/caps.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "policy/limit.h"
#include "policy/policy.h"

/* Auth failures and lockouts are counted across doors. */
#define SCOPE_ALL_DOORS 0xff
/* A lock doubles up to a day; a day without failure after it ends forgets the repeats. */
#define LOCKOUT_MAX (24 * 3600)
#define FORGET      (24 * 3600)

struct policy_limits {
    struct limit_table *sessions;    /* per client and door: sessions open now */
    struct limit_table *connections; /* per client and door: connection-rate */
    struct limit_table *messages;    /* per client and door: message-rate */
    struct limit_table *senders;     /* per sender and door: sender-rate */
    struct limit_table *users;       /* per user: user-rate */
    struct limit_table *fail_addrs;  /* per client: failed AUTH and locks */
    struct limit_table *fail_users;  /* per user: failed AUTH and locks */
};

struct policy_limits *
policy_limits_new(const unsigned char seed[16])
{
    struct policy_limits *pl = xcalloc(1, sizeof(*pl));

    pl->sessions = limit_new(CAP_LIMIT_CLIENTS, seed);
    pl->connections = limit_new(CAP_LIMIT_CLIENTS, seed);
    pl->messages = limit_new(CAP_LIMIT_CLIENTS, seed);
    pl->senders = limit_new(CAP_LIMIT_NAMES, seed);
    pl->users = limit_new(CAP_LIMIT_NAMES, seed);
    pl->fail_addrs = limit_new(CAP_LIMIT_CLIENTS, seed);
    pl->fail_users = limit_new(CAP_LIMIT_NAMES, seed);
    return pl;
}

void
policy_limits_free(struct policy_limits *pl)
{
    if (pl == NULL)
        return;
    limit_free(pl->sessions);
    limit_free(pl->connections);
    limit_free(pl->messages);
    limit_free(pl->senders);
    limit_free(pl->users);
    limit_free(pl->fail_addrs);
    limit_free(pl->fail_users);
    free(pl);
}

static struct limit_rate
rate_of(struct conf_rate r)
{
    return (struct limit_rate){r.n, r.period};
}

/* Monitoring probes, local applications: not counted per client (Postfix's
 * smtpd_client_event_limit_exceptions). */
static bool
is_limits_exempt(const struct conf_listen *door, int family, const void *addr)
{
    return door->n_limits_exempt > 0 &&
           conf_cidr_match(door->limits_exempt, door->n_limits_exempt, family, addr);
}

/* ---- Connections ---- */

enum policy_connect_verdict
policy_session_begin(struct policy_limits *pl, const struct conf_listen *door, int family,
                     const void *addr, uint64_t now, bool *held)
{
    struct limit_rate rate = rate_of(door->connection_rate);
    struct limit_key k;

    *held = false;
    if (is_limits_exempt(door, family, addr))
        return POLICY_CONNECT_OK;
    limit_key_addr(&k, door->role, family, addr);
    if (door->max_sessions_per_client != 0 &&
        limit_held(pl->sessions, &k) >= door->max_sessions_per_client)
        return POLICY_CONNECT_CLIENT_SESSIONS;
    if (!limit_rate_take(pl->connections, &k, &rate, now))
        return POLICY_CONNECT_CLIENT_RATE;
    if (door->max_sessions_per_client == 0)
        return POLICY_CONNECT_OK;
    if (!limit_acquire(pl->sessions, &k, door->max_sessions_per_client, now))
        return POLICY_CONNECT_NO_ROOM;
    *held = true;
    return POLICY_CONNECT_OK;
}

void
policy_session_end(struct policy_limits *pl, enum door_role role, int family, const void *addr)
{
    struct limit_key k;

    limit_key_addr(&k, role, family, addr);
    if (!limit_release(pl->sessions, &k))
        log_panic("policy_session_end: the client held no session");
}

/* ---- Messages ---- */

enum policy_mail_verdict
policy_mail_take(struct policy_limits *pl, const struct conf *c, const struct conf_listen *door,
                 const struct policy_mail_who *who, uint64_t now)
{
    struct limit_rate client = rate_of(door->message_rate);
    struct limit_rate sender = rate_of(door->sender_rate);
    struct limit_rate user = rate_of(c->auth_user_rate);
    struct limit_key kc, ks, ku;

    if (pl == NULL)
        return POLICY_MAIL_OK;
    if (who->user == NULL)
        user.n = 0;
    if (is_limits_exempt(door, who->family, who->addr))
        client.n = 0;
    limit_key_addr(&kc, door->role, who->family, who->addr);
    limit_key_name(&ks, LIMIT_KIND_SENDER, door->role, who->sender, who->sender_len);
    if (user.n != 0)
        limit_key_name(&ku, LIMIT_KIND_USER, SCOPE_ALL_DOORS, who->user, who->user_len);
    if (!limit_rate_peek(pl->messages, &kc, &client, now))
        return POLICY_MAIL_CLIENT_RATE;
    if (!limit_rate_peek(pl->senders, &ks, &sender, now))
        return POLICY_MAIL_SENDER_RATE;
    if (user.n != 0 && !limit_rate_peek(pl->users, &ku, &user, now))
        return POLICY_MAIL_USER_RATE;
    /* All allow it: count it everywhere (peek and take see the same state). */
    (void)limit_rate_take(pl->messages, &kc, &client, now);
    (void)limit_rate_take(pl->senders, &ks, &sender, now);
    if (user.n != 0)
        (void)limit_rate_take(pl->users, &ku, &user, now);
    return POLICY_MAIL_OK;
}

const char *
policy_mail_limit_name(enum policy_mail_verdict v)
{
    switch (v) {
    case POLICY_MAIL_CLIENT_RATE:
        return "message-rate";
    case POLICY_MAIL_SENDER_RATE:
        return "sender-rate";
    case POLICY_MAIL_USER_RATE:
        return "user-rate";
    case POLICY_MAIL_OK:
        break;
    }
    return NULL;
}

struct conf_rate
policy_mail_limit_rate(const struct conf *c, const struct conf_listen *door,
                       enum policy_mail_verdict v)
{
    switch (v) {
    case POLICY_MAIL_CLIENT_RATE:
        return door->message_rate;
    case POLICY_MAIL_SENDER_RATE:
        return door->sender_rate;
    case POLICY_MAIL_USER_RATE:
        return c->auth_user_rate;
    case POLICY_MAIL_OK:
        break;
    }
    return (struct conf_rate){0, 0};
}

/* ---- AUTH ---- */

static struct limit_fail_rule
fail_rule(const struct conf *c)
{
    return (struct limit_fail_rule){c->auth_max_failures.n, c->auth_max_failures.period,
                                    c->auth_lockout, LOCKOUT_MAX, FORGET};
}

bool
policy_auth_exempt(const struct conf *c, int family, const void *addr)
{
    return c->n_auth_lockout_exempt > 0 &&
           conf_cidr_match(c->auth_lockout_exempt, c->n_auth_lockout_exempt, family, addr);
}

enum policy_auth_gate
policy_auth_gate(struct policy_limits *pl, const struct conf *c, int family, const void *addr,
                 const char *user, size_t user_len, uint64_t now)
{
    bool exempt = policy_auth_exempt(c, family, addr);
    struct limit_key k;

    if (pl == NULL)
        return POLICY_AUTH_OPEN;
    /* A client that is locked stays locked, known or not; an exempt one never is. */
    limit_key_addr(&k, SCOPE_ALL_DOORS, family, addr);
    if (!exempt && limit_locked_until(pl->fail_addrs, &k, now) != 0)
        return POLICY_AUTH_CLIENT_LOCKED;
    if (user == NULL)
        return POLICY_AUTH_OPEN;
    limit_key_name(&k, LIMIT_KIND_USER, SCOPE_ALL_DOORS, user, user_len);
    if (limit_locked_until(pl->fail_users, &k, now) == 0)
        return POLICY_AUTH_OPEN;
    return exempt ? POLICY_AUTH_USER_LOCKED : POLICY_AUTH_ASK_KNOWN;
}

bool
policy_auth_failed(struct policy_limits *pl, const struct conf *c, int family, const void *addr,
                   const char *user, size_t user_len, bool known_client, uint64_t now)
{
    struct limit_fail_rule rule = fail_rule(c);
    struct limit_key k;
    bool locked = false;

    if (pl == NULL)
        return false;
    if (!policy_auth_exempt(c, family, addr)) {
        limit_key_addr(&k, SCOPE_ALL_DOORS, family, addr);
        locked = limit_fail_note(pl->fail_addrs, &k, &rule, now) != 0;
    }
    if (user != NULL && !known_client) {
        limit_key_name(&k, LIMIT_KIND_USER, SCOPE_ALL_DOORS, user, user_len);
        locked = limit_fail_note(pl->fail_users, &k, &rule, now) != 0 || locked;
    }
    return locked;
}

void
policy_auth_succeeded(struct policy_limits *pl, int family, const void *addr)
{
    struct limit_key k;

    if (pl == NULL)
        return;
    limit_key_addr(&k, SCOPE_ALL_DOORS, family, addr);
    limit_fail_clear(pl->fail_addrs, &k);
}

void
policy_log_auth_failed(const char *sid, const char *client_addr, enum door_role role,
                       const char *user, size_t user_len, const char *reason, bool locked)
{
    char q[LOG_QUOTE_CAP];

    log_info("-: sid=%s, client=[%s], door=%s, event=auth-failed, user=\"%s\", reason=%s%s", sid,
             client_addr, conf_role_name(role),
             log_quote(q, sizeof q, user != NULL ? user : "", user != NULL ? user_len : 0), reason,
             locked ? ", locked=yes" : "");
}

void
policy_log_auth_locked(const char *sid, const char *client_addr, enum door_role role,
                       const char *user, size_t user_len, bool client_locked)
{
    char q[LOG_QUOTE_CAP];

    log_info("-: sid=%s, client=[%s], door=%s, event=auth-locked, user=\"%s\", lock=%s", sid,
             client_addr, conf_role_name(role),
             log_quote(q, sizeof q, user != NULL ? user : "", user != NULL ? user_len : 0),
             client_locked ? "client" : "user");
}

/* ---- An operator's unlock ---- */

static enum policy_unlocked
unlocked_of(enum limit_forgot f)
{
    switch (f) {
    case LIMIT_FORGOT_LOCK:
        return POLICY_UNLOCKED_LOCK;
    case LIMIT_FORGOT_FAILURES:
        return POLICY_UNLOCKED_FAILURES;
    case LIMIT_FORGOT_NOTHING:
        break;
    }
    return POLICY_UNLOCKED_NOTHING;
}

enum policy_unlocked
policy_unlock_client(struct policy_limits *pl, int family, const void *addr, uint64_t now)
{
    struct limit_key k;

    limit_key_addr(&k, SCOPE_ALL_DOORS, family, addr);
    return unlocked_of(limit_fail_forget(pl->fail_addrs, &k, now));
}

enum policy_unlocked
policy_unlock_user(struct policy_limits *pl, const char *user, size_t user_len, uint64_t now)
{
    struct limit_key k;

    limit_key_name(&k, LIMIT_KIND_USER, SCOPE_ALL_DOORS, user, user_len);
    return unlocked_of(limit_fail_forget(pl->fail_users, &k, now));
}
