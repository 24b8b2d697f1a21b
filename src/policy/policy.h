/* SPDX-License-Identifier: MIT */
/*
 * Who may do what on which door (DESIGN.md, "The doors"). Nothing else in
 * the daemon decides relaying: there is no "trusted because it is localhost"
 * shortcut, no percent hack, no bang path. Each function is a pure decision
 * on the configuration; the session turns a refusal into a reply.
 */
#ifndef GATE26_POLICY_POLICY_H
#define GATE26_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

/*
 * True when a client at addr (4 or 16 bytes of family AF_INET/AF_INET6) may
 * use the door: the door's deny list must not hold it, and its allow list,
 * when it has one, must. The internal door always has an allow list
 * (conf_load insists). A refused client gets 554 5.7.1.
 */
bool policy_may_connect(const struct conf_listen *door, int family, const void *addr);

/* ---- Limits against abuse (abuse.c) ----
 *
 * The counts behind the listen limits (max-sessions-per-client,
 * connection-rate, message-rate, sender-rate) and the auth ones
 * (max-failures, lockout, user-rate): one struct policy_limits per process,
 * made by the daemon, kept across reloads. The limits themselves are read
 * from the configuration passed to each call, so a reload changes them at
 * once and keeps the counts. A client is an IPv4 address or an IPv6 /64
 * (policy/limit.h); each door counts its clients on its own, auth failures
 * are counted across doors. Time is now_ms() (lib/now.h), passed in.
 */
struct policy_limits;

/* New tables, hashed with 16 random octets (copied). Free with policy_limits_free(). */
struct policy_limits *policy_limits_new(const unsigned char seed[16]);

/* NULL: nothing. */
void policy_limits_free(struct policy_limits *pl);

enum policy_connect_verdict {
    POLICY_CONNECT_OK,
    POLICY_CONNECT_CLIENT_SESSIONS, /* max-sessions-per-client: 421 4.7.0 */
    POLICY_CONNECT_CLIENT_RATE,     /* connection-rate: 421 4.7.0 */
    POLICY_CONNECT_NO_ROOM,         /* the session table is full of live sessions: 421 4.3.2 */
};

/*
 * A new connection from the client on door at now: checks the client's
 * sessions, then its connection rate, and counts the connection only when
 * both allow it. On POLICY_CONNECT_OK with *held set, the session holds a
 * place that policy_session_end() (with the door's role) gives back; *held
 * stays false when the door has no per-client cap. A client inside the
 * door's limits-exempt networks is neither checked nor counted (OK, *held
 * false).
 */
enum policy_connect_verdict policy_session_begin(struct policy_limits *pl,
                                                 const struct conf_listen *door, int family,
                                                 const void *addr, uint64_t now, bool *held);

/* Gives back the place of a session whose policy_session_begin() set *held. */
void policy_session_end(struct policy_limits *pl, enum door_role role, int family,
                        const void *addr);

/* Who a MAIL command comes from. */
struct policy_mail_who {
    int family; /* the client: 4 or 16 octets at addr */
    const void *addr;
    const char *sender; /* the reverse-path as text; "" for <> */
    size_t sender_len;
    const char *user; /* the authenticated user; NULL before AUTH */
    size_t user_len;
};

enum policy_mail_verdict {
    POLICY_MAIL_OK,
    POLICY_MAIL_CLIENT_RATE, /* message-rate: 451 4.7.1 */
    POLICY_MAIL_SENDER_RATE, /* sender-rate: 451 4.7.1 */
    POLICY_MAIL_USER_RATE,   /* auth user-rate: 451 4.7.1 */
};

/*
 * A MAIL command about to be accepted on door at now: checks the client's,
 * the sender's and the user's rates, and counts the message against all of
 * them only when none refuses (a refused MAIL counts nowhere). A client
 * inside the door's limits-exempt networks has no message-rate; the
 * sender's and the user's rates still apply. pl NULL: no limits.
 */
enum policy_mail_verdict policy_mail_take(struct policy_limits *pl, const struct conf *c,
                                          const struct conf_listen *door,
                                          const struct policy_mail_who *who, uint64_t now);

/* The limit a mail verdict names, as the key is written ("sender-rate"); NULL for OK. */
const char *policy_mail_limit_name(enum policy_mail_verdict v);

/* The rate of that limit in c and door (for the log line). */
struct conf_rate policy_mail_limit_rate(const struct conf *c, const struct conf_listen *door,
                                        enum policy_mail_verdict v);

/*
 * For AUTH (RFC 4954), before the password is checked: may this client try
 * this user's password now? user is len octets, NULL when no name is known.
 * A client inside auth { lockout-exempt } is never locked itself (webmail,
 * a NAT gateway: many people behind one address). pl NULL: POLICY_AUTH_OPEN.
 */
enum policy_auth_gate {
    POLICY_AUTH_OPEN,          /* check the password */
    POLICY_AUTH_CLIENT_LOCKED, /* the client is locked: 454 4.7.0 (R_AUTH_LOCKED) */
    POLICY_AUTH_USER_LOCKED,   /* the user is locked, and this client may not be a known one */
    /*
     * The user is locked by failures: open only to a client that logged in
     * as this user before (policy_login_lookup, the smart lockout), else
     * 454 as POLICY_AUTH_USER_LOCKED. Never for a lockout-exempt client:
     * "it logged in as alice once" says nothing about who is behind it now.
     */
    POLICY_AUTH_ASK_KNOWN,
};

enum policy_auth_gate policy_auth_gate(struct policy_limits *pl, const struct conf *c, int family,
                                       const void *addr, const char *user, size_t user_len,
                                       uint64_t now);

/* True when the client is inside auth { lockout-exempt }. */
bool policy_auth_exempt(const struct conf *c, int family, const void *addr);

/*
 * A failed AUTH (bad password, unknown user, malformed or cancelled
 * exchange) under c's max-failures and lockout: counts it against the
 * client, unless the client is lockout-exempt, and against the user (if
 * known), unless known_client says the client logged in as that user
 * before (the smart lockout: the user's own device with an old password
 * locks itself, not the user everywhere; its own count still bounds its
 * guesses). Returns true when the client or the user is locked after it.
 * The caller logs it with policy_log_auth_failed().
 */
bool policy_auth_failed(struct policy_limits *pl, const struct conf *c, int family,
                        const void *addr, const char *user, size_t user_len, bool known_client,
                        uint64_t now);

/* A successful AUTH: forgets this client's failures (not the user's, nor a lock). */
void policy_auth_succeeded(struct policy_limits *pl, int family, const void *addr);

/*
 * Logs one failed AUTH in the form contrib/fail2ban/filter.d/gate26.conf
 * matches (keep them together):
 *   -: sid=SID, client=[ADDR], door=ROLE, event=auth-failed, user="NAME", reason=REASON
 * user is quoted with log_quote() (NULL: ""); reason is one lower-case token
 * of ours (bad-credentials: wrong password or unknown user, which the log
 * does not tell apart either; authzid, bad-user-name, malformed,
 * cancelled). When the failure locked the client or the user,
 * ", locked=yes" follows.
 */
void policy_log_auth_failed(const char *sid, const char *client_addr, enum door_role role,
                            const char *user, size_t user_len, const char *reason, bool locked);

/*
 * Logs an AUTH refused because of a lock, a line the fail2ban filter does
 * not match (the failures that made the lock were counted already, and a
 * user's lock refuses its real owner too):
 *   -: sid=SID, client=[ADDR], door=ROLE, event=auth-locked, user="NAME", lock=client|user
 */
void policy_log_auth_locked(const char *sid, const char *client_addr, enum door_role role,
                            const char *user, size_t user_len, bool client_locked);

/* ---- The smart lockout's memory of logins (login.c) ----
 *
 * Each successful login is remembered in the shared-state store
 * (namespace STATE_NS_LOGIN, docs/state.md) as the user and the client's
 * network (an IPv4 address, an IPv6 /64: as the limits count clients) for
 * POLICY_LOGIN_TTL, renewed by each login. A user locked by failures
 * stays open to those clients (policy_auth_gate).
 */
struct state;
struct state_get;

#define POLICY_LOGIN_TTL (30u * 86400u)

/*
 * The key of a login: "USER NETWORK", USER as logged in (the password
 * file's names are case-sensitive), NETWORK "192.0.2.7" or
 * "2001:db8:1:2::/64" (an IPv4-mapped IPv6 address is its IPv4 address).
 * Writes it into out (capacity cap) and returns its length; 0 when user
 * is empty, longer than CAP_AUTH_USER or has a space or control (never a
 * valid user name: no key).
 */
size_t policy_login_key(char *out, size_t cap, const char *user, size_t user_len, int family,
                        const void *addr);

/*
 * Remembers that user logged in from the client, unless the client is
 * lockout-exempt (it is never a known client). st NULL: nothing.
 */
void policy_login_remember(struct state *st, const struct conf *c, const char *user,
                           size_t user_len, int family, const void *addr);

/* The answer of policy_login_lookup(): true when the client logged in as the user before. */
typedef void policy_login_fn(void *arg, bool known);

/*
 * Asks the store whether the client logged in as user within
 * POLICY_LOGIN_TTL. fn(arg, known) comes later on the loop, exactly once,
 * unless policy_login_cancel() comes first. Returns the read in flight, or
 * NULL when there is nothing to ask (no store, no valid key): then no
 * callback, and the answer is "not known".
 */
struct policy_login_get *policy_login_lookup(struct state *st, const char *user, size_t user_len,
                                             int family, const void *addr, policy_login_fn *fn,
                                             void *arg);

/* Withdraws a lookup in flight (no callback). NULL: nothing. */
void policy_login_cancel(struct policy_login_get *g);

/* ---- An operator's unlock (gate26 unlock, through ctl) ---- */

/* What an unlock found (limit.h's enum limit_forgot, said for callers outside). */
enum policy_unlocked {
    POLICY_UNLOCKED_NOTHING,  /* no lock and no recent failure */
    POLICY_UNLOCKED_FAILURES, /* recent failures, no lock: they are forgotten */
    POLICY_UNLOCKED_LOCK,     /* a lock: it ends now */
};

/*
 * Ends the client's lock at once and forgets its failures and its past
 * locks (the next lock starts again from `lockout`). The client is keyed
 * as the limits key it: an IPv6 address stands for its /64.
 */
enum policy_unlocked policy_unlock_client(struct policy_limits *pl, int family, const void *addr,
                                          uint64_t now);

/* The same for a user name (len octets; any case, as the failures count it). */
enum policy_unlocked policy_unlock_user(struct policy_limits *pl, const char *user, size_t user_len,
                                        uint64_t now);

/* A recipient, as the policy sees it. */
struct policy_rcpt {
    const char *local; /* as written, quotes included */
    size_t local_len;
    const char *domain;
    size_t domain_len;
    bool literal;    /* the domain is an address literal */
    bool postmaster; /* RCPT TO:<Postmaster> without a domain */
};

enum policy_rcpt_verdict {
    POLICY_RCPT_OK,
    POLICY_RCPT_RELAY_DENIED, /* 550 5.7.1 */
};

/*
 * Decides whether the door takes mail for r. The inbound door takes only
 * our configured domains (and the bare <Postmaster>, RFC 5321 4.5.1), and
 * refuses local parts that carry routing of their own ('%', '!', or a quoted
 * '@') since the next hop might honour it. The other doors relay anywhere.
 */
enum policy_rcpt_verdict policy_check_rcpt(const struct conf *c, const struct conf_listen *door,
                                           const struct policy_rcpt *r);

/* True when MAIL needs a successful AUTH first on this door. */
bool policy_needs_auth(const struct conf_listen *door);

/*
 * True when the door offers AUTH (RFC 4954) at all: a door that requires it
 * and a password file to check against. Offered only inside TLS (the
 * session checks that).
 */
bool policy_offers_auth(const struct conf *c, const struct conf_listen *door);

/*
 * True when user (logged in) may send as sender (len octets, "" for <>) on
 * a submission door: the login itself when it is an address, an address of
 * an auth { sender USER ... } line, or any address in a domain of such a
 * line (@domain). Domains compare case-insensitively, local parts exactly
 * (RFC 5321 2.4). The null sender is allowed: MDNs and auto-replies use it
 * (RFC 8098 3) and it can receive no bounce to abuse.
 */
bool policy_sender_owned(const struct conf *c, const char *user, const char *sender, size_t len);

#endif
