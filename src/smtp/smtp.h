/* SPDX-License-Identifier: MIT */
/*
 * The SMTP server session (RFC 5321, with PIPELINING RFC 2920, SIZE RFC
 * 1870, 8BITMIME RFC 6152, SMTPUTF8 RFC 6531, ENHANCEDSTATUSCODES RFC 2034,
 * CHUNKING RFC 3030 and DSN RFC 3461). A listener hands each accepted
 * connection to smtp_session_start(); the session speaks SMTP on it, asks
 * policy/ what the door allows, and stores accepted mail in spool/.
 */
#ifndef GATE26_SMTP_SMTP_H
#define GATE26_SMTP_SMTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "conf/conf.h"

struct event_base;
struct spool;
struct tls_server;
struct auth_pool;
struct account_store;
struct auth_db;
struct policy_limits;
struct state;
struct watch;
struct verify;
struct checks;

/* What every session needs from the daemon; outlives every session. */
struct smtp_env {
    struct event_base *base;
    struct spool *spool;
    /*
     * The certificates (tls { }), or NULL without: then no door offers
     * STARTTLS and implicit-TLS doors refuse connections. The daemon swaps
     * it on SIGHUP; a session's TLS keeps the one it started with.
     */
    struct tls_server *tls;
    /* AUTH: the password checkers and the passwd file (auth { }); NULL without. */
    struct auth_pool *auth_pool;
    struct auth_db *auth_db;      /* swapped on SIGHUP; a check in flight holds its own reference */
    struct policy_limits *limits; /* the counts of the limits against abuse; NULL: none */
    struct state *state;          /* the shared-state store (docs/state.md); NULL: none */
    struct watch *watch;          /* metrics, status, alerts (docs/watch.md); NULL: none */
    struct verify *verify;        /* recipient verification (docs/verify.md); NULL: none */
    struct checks *checks;        /* the content checks (docs/checks.md); NULL: none */
    struct account_store *accounts; /* app passwords, TOTP (SPOOL/accounts.db); NULL: none */
    struct track *track;            /* message tracking (docs/console.md); NULL: off */
};

/* Called once when a session has ended and been freed. */
typedef void smtp_end_fn(void *arg);

/* One accepted connection. */
struct smtp_accept {
    struct conf *conf;              /* the session takes its own reference */
    const struct conf_listen *door; /* inside conf */
    int fd;                         /* the session owns it from now on */
    const struct sockaddr *peer;
    socklen_t peer_len;
    smtp_end_fn *on_end; /* may be NULL */
    void *on_end_arg;
};

/*
 * Starts a session on a->fd: the door's connect policy, the greeting, then
 * commands until QUIT, a timeout, the error budget or the peer ends it.
 * Takes ownership of the fd (closed on every path). on_end is called when
 * the session is gone (not from inside this call).
 */
void smtp_session_start(const struct smtp_env *env, const struct smtp_accept *a);

/*
 * Writes "421 4.3.2 HOST Too many connections" to fd (non-blocking, best
 * effort) and closes it: for connections that get no session.
 */
void smtp_refuse_busy(int fd, const char *hostname);

/* Why a connection gets no session (beyond smtp_refuse_busy's reason). */
enum smtp_refusal {
    SMTP_REFUSE_BUSY,            /* 421 4.3.2: too many sessions (door, overall, table) */
    SMTP_REFUSE_CLIENT_SESSIONS, /* 421 4.7.0: max-sessions-per-client */
    SMTP_REFUSE_CLIENT_RATE,     /* 421 4.7.0: connection-rate */
};

/*
 * Writes the refusal's reply to fd (non-blocking, best effort) and closes
 * it, like smtp_refuse_busy(). The reply line, without CRLF, goes into text
 * (capacity cap) for the caller's log line.
 */
void smtp_refuse(int fd, enum smtp_refusal why, const char *hostname, char *text, size_t cap);

/* Sessions alive now. */
size_t smtp_session_count(void);

/*
 * Ends every session at once (daemon exit): no session handles input any
 * more; each gets a 421 (one non-blocking write) and is freed, its on_end
 * called. A session waiting for a spool commit is ended by that commit's
 * callback instead, so spool_free() must follow.
 */
void smtp_session_close_all(void);

/*
 * Shutting down gently (SIGTERM): sessions outside a transaction get
 * 421 4.3.0 and close now; those between MAIL and the reply to their
 * message finish it, then get the 421. Returns how many are still in a
 * transaction; smtp_session_count() says when all have gone.
 */
size_t smtp_session_drain(void);

#endif
