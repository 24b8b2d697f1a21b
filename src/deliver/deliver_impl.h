/* SPDX-License-Identifier: MIT */
/*
 * What the files of src/deliver/ share, private to the folder:
 *
 *   deliver.c  the attempt: the public API, the hops in order, the callback
 *   conn.c     one connection: connect, replies in, timeouts, greeting,
 *              EHLO/HELO, QUIT, and how a connection ends
 *   txn.c      the transaction: checks against the server's extensions,
 *              MAIL, RCPT, DATA (pipelined or not) and each recipient's outcome
 *   data.c     the content: read from the spool file, stuffed, sent
 *   cache.c    idle connections kept after a transaction, for the next
 *              attempt to the same hop
 *   tls.c      STARTTLS, and TLS from the first byte for smtps hops
 *   auth.c     AUTH PLAIN or LOGIN with the attempt's login (relay-auth)
 *   verify.c   recipient callouts: MAIL FROM:<> and RCPT on the same
 *              connections, instead of txn.c's transaction
 *
 * An attempt owns at most one connection at a time. A connection never
 * frees itself inside a nested call: it records how it ends (c->end) and the
 * outermost callback calls deliver_conn_finish(), which hands over to the
 * attempt (next hop, or done).
 */
#ifndef GATE26_DELIVER_DELIVER_IMPL_H
#define GATE26_DELIVER_DELIVER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include "deliver/deliver.h"
#include "deliver/ehlo.h"
#include "deliver/reply.h"
#include "deliver/stuff.h"

struct bufferevent;
struct event;

/* Where a connection is; see conn.c for the moves between states. */
enum deliver_state {
    DELIVER_ST_CONNECT,  /* connect() in progress */
    DELIVER_ST_GREETING, /* waiting for the 220 */
    DELIVER_ST_EHLO,     /* EHLO sent */
    DELIVER_ST_HELO,     /* HELO sent (EHLO got 5xx) */
    DELIVER_ST_STARTTLS, /* STARTTLS sent */
    DELIVER_ST_TLS,      /* the TLS handshake is under way */
    DELIVER_ST_AUTH,     /* AUTH sent (or a LOGIN response): waiting for 235 or 334 */
    DELIVER_ST_TXN,      /* MAIL, RCPT, DATA: commands out, replies in */
    DELIVER_ST_CONTENT,  /* after 354: the content goes out */
    DELIVER_ST_DOT,      /* the end of data sent: waiting for its reply */
    DELIVER_ST_QUIT,     /* QUIT sent: a short wait for 221 */
    DELIVER_ST_IDLE,     /* the transaction is over: to be kept in the cache (cache.c) */
    DELIVER_ST_CLOSED,   /* over: to be freed by deliver_conn_finish() */
};

/* The commands of a transaction, as tags in the queue of replies expected. */
#define DELIVER_TAG_MAIL 0
/* RCPT of recipient i is tag 1 + i; DATA is tag 1 + n_rcpts. */

/* SHA-256: how a login is told apart in the cache without keeping the password there. */
#define DELIVER_AUTH_ID_LEN 32

/* What an idle connection must match to serve an attempt (cache.c). */
struct deliver_conn_key {
    struct sockaddr_storage sa;                 /* the hop's address and port */
    char helo[CAP_HOSTNAME + 1];                /* our EHLO name */
    char name[CAP_DOMAIN + 1];                  /* the hop's name (the TLS peer name) */
    enum conf_tls_policy tls_policy;            /* the policy it was made under */
    bool smtps;                                 /* TLS from the first byte */
    bool auth;                                  /* logged in, with the login of auth_id */
    unsigned char auth_id[DELIVER_AUTH_ID_LEN]; /* SHA-256 of user NUL password */
};

struct deliver_conn {
    struct deliver *d;           /* NULL while idle in the cache */
    size_t hop;                  /* index in d->hops */
    char relay[CAP_DOMAIN + 64]; /* "mx1.example.net[192.0.2.8]:25" */
    enum deliver_state state;

    int fd;                   /* while connecting; then the bufferevent's */
    struct event *connect_ev; /* EV_WRITE while connecting */
    struct bufferevent *bev;
    struct event *timer; /* the wait of the current stage */

    struct deliver_reply reply; /* the reply being read */
    struct deliver_caps caps;   /* from the EHLO reply */

    /* TLS (tls.c). */
    bool tls;           /* the connection is TLS (handshake done) */
    char tls_desc[128]; /* for deliver_result.tls */
    bool plain_again;   /* tls may, and TLS failed: the same hop again without it */

    /* AUTH (auth.c). */
    const char *auth_mech; /* "PLAIN" or "LOGIN", once AUTH is sent */
    unsigned auth_step;    /* LOGIN: 0 AUTH sent, 1 the user sent, 2 the password sent */

    /* Reuse (cache.c). */
    bool reused;                 /* taken from the cache for this attempt */
    bool stale;                  /* reused, and found dead before MAIL was answered */
    time_t connected_at;         /* monotonic seconds: reuse ends DELIVER_REUSE_SECONDS later */
    struct deliver_conn_key key; /* what a later attempt must match to reuse it */
    struct deliver_cache *cache; /* while idle */
    struct deliver_conn *idle_prev, *idle_next;

    /* The transaction (txn.c). */
    bool pipelining; /* commands go out in one group (RFC 2920) */
    bool mail_ok;    /* MAIL got 2xx */
    bool stop;       /* send no further command (MAIL refused, or DATA not wanted) */
    size_t next_tag; /* the next command to send */
    size_t *expect;  /* tags of the commands sent and not answered, a queue */
    size_t expect_head, expect_len;
    size_t n_accepted; /* recipients whose RCPT got 2xx */

    /* The content (data.c). */
    struct deliver_stuff stuff;
    char *chunk; /* CAP_DELIVER_CHUNK octets, while the content goes out */
    off_t read_off;
    uint64_t read_left;
};

struct deliver {
    struct event_base *base;
    struct deliver_opts opts;
    struct deliver_hop *hops; /* a copy */
    size_t n_hops;
    struct deliver_msg *msg;
    deliver_done_fn *fn;
    void *arg;

    bool verify;               /* a recipient callout (verify.c): MAIL and RCPT, no DATA */
    struct deliver_conn *conn; /* the current hop's, or NULL */
    char *auth_user;           /* copies of opts' login (wiped at the end), or NULL */
    char *auth_password;
    unsigned char auth_id[DELIVER_AUTH_ID_LEN]; /* SHA-256 of user NUL password */
    bool fresh;            /* a reused connection was dead: new connections only */
    bool no_tls;           /* tls may and the handshake failed: no STARTTLS this attempt */
    struct event *done_ev; /* the callback runs from here, never inside deliver_start */
    bool *accepted;        /* per recipient: RCPT got 2xx, its outcome waits for the DATA end */

    /*
     * decided: a server answered MAIL, or its extensions decided the outcome
     * (SIZE, 8BITMIME, SMTPUTF8): no other hop is tried.
     */
    bool decided;
    struct deliver_result res;

    /* The last hop failure, for every recipient when no hop decides. */
    char fail_enhanced[16];
    char fail_text[DELIVER_TEXT_MAX];
};

/* The queue id for log lines. */
const char *deliver_log_id(const struct deliver *d);

/* deliver.c: deliver_start(), or a recipient callout when verify (verify.c). */
struct deliver *deliver_begin(struct event_base *base, const struct deliver_opts *opts,
                              const struct deliver_hop *hops, size_t n_hops,
                              struct deliver_msg *msg, deliver_done_fn *fn, void *arg, bool verify);

/* deliver.c: a hop failed before anything was decided (the next hop is tried). */
void deliver_hop_failed(struct deliver *d, const struct deliver_conn *c, const char *enhanced,
                        const char *text);

/* deliver.c: the hop of c decides the attempt's outcome. */
void deliver_decide(struct deliver *d, const struct deliver_conn *c);

/*
 * deliver.c: the connection to hop has ended (freed, or kept in the cache):
 * the next hop (again: the same hop), or the callback.
 */
void deliver_after_conn(struct deliver *d, size_t hop, bool again);

/* deliver.c: sets one recipient's outcome, with the reply's text and suffix (may be ""). */
void deliver_rcpt_set(struct deliver_rcpt *r, enum deliver_outcome outcome, unsigned code,
                      const char *enhanced, const char *text, const char *suffix);

/* deliver.c: the outcome a reply code stands for (2xx ok, 5xx perm, else temp). */
enum deliver_outcome deliver_outcome_of(unsigned code);

/*
 * conn.c: connects to hop. Returns 0 when the connection is under way (it
 * ends through deliver_conn_finish), -1 when it failed at once (the failure
 * recorded with deliver_hop_failed; nothing left to free).
 */
int deliver_conn_start(struct deliver *d, size_t hop);

/*
 * conn.c: takes c, an idle connection from the cache, for hop of d and
 * starts the transaction on it.
 */
void deliver_conn_adopt(struct deliver *d, size_t hop, struct deliver_conn *c);

/*
 * conn.c: the transaction is over and the server waits for the next
 * command: the connection goes idle into the cache when it may, else QUIT.
 */
void deliver_conn_done(struct deliver_conn *c);

/* conn.c: the monotonic clock in seconds. */
time_t deliver_conn_now(void);

/* cache.c: an idle connection whose key is key, taken out of the cache, or NULL. */
struct deliver_conn *deliver_cache_take(struct deliver_cache *cache,
                                        const struct deliver_conn_key *key);

/* cache.c: keeps c (state DELIVER_ST_IDLE, detached from its attempt) or closes it. */
void deliver_cache_put(struct deliver_cache *cache, struct deliver_conn *c);

/* conn.c: frees c at once: connection, events, buffers. NULL: nothing. */
void deliver_conn_free(struct deliver_conn *c);

/* conn.c: the state change, logged at debug level. */
void deliver_conn_set_state(struct deliver_conn *c, enum deliver_state state);

/*
 * conn.c: queues len octets for the server: every command goes through here,
 * and each of its lines is logged at debug level ("dir=out"), redacted in
 * the AUTH state (DELIVER_ST_AUTH, auth.c). The content does not (data.c), but its end of data
 * does.
 */
void deliver_conn_write(struct deliver_conn *c, const char *p, size_t len);

/* conn.c: arms the stage's timer for seconds. */
void deliver_conn_arm(struct deliver_conn *c, unsigned seconds);

/* conn.c: sends QUIT and waits a little for its reply; then the connection ends. */
void deliver_conn_quit(struct deliver_conn *c);

/* conn.c: closes at once, without QUIT (mid-content, or the stream cannot be trusted). */
void deliver_conn_close(struct deliver_conn *c);

/*
 * conn.c: trouble on the connection (lost, timed out, protocol error): before
 * the hop decides, a hop failure; after, every recipient not yet decided gets
 * TEMP with text. Closes at once.
 */
void deliver_conn_trouble(struct deliver_conn *c, const char *enhanced, const char *text);

/* conn.c: what the connection was doing, for texts: "sending RCPT TO". */
const char *deliver_conn_doing(const struct deliver_conn *c);

/* conn.c: sends EHLO (again, after the TLS handshake). */
void deliver_conn_ehlo(struct deliver_conn *c);

/* conn.c: the callbacks of a connection's bufferevent (set again by tls.c on the new one). */
void deliver_conn_setup_bev(struct deliver_conn *c);

/*
 * tls.c: EHLO was answered: STARTTLS when the policy wants it and the
 * server offers it, a hop failure when it is required and not offered,
 * else the transaction.
 */
void deliver_tls_after_ehlo(struct deliver_conn *c);
/* tls.c: the reply to STARTTLS. */
void deliver_tls_reply(struct deliver_conn *c, const struct deliver_reply *r);
/* tls.c: the handshake is done (BEV_EVENT_CONNECTED). */
void deliver_tls_up(struct deliver_conn *c);
/* tls.c: the connection failed during the handshake: why, for the hop failure. */
void deliver_tls_failed(struct deliver_conn *c);
/* tls.c: the TCP connection of an smtps hop is up: the handshake before the greeting. */
void deliver_tls_implicit(struct deliver_conn *c);

/*
 * auth.c: EHLO was answered and TLS is settled: AUTH when the attempt has a
 * login (a hop failure when it cannot be done safely), else the transaction.
 */
void deliver_auth_start(struct deliver_conn *c);
/* auth.c: a reply in DELIVER_ST_AUTH. */
void deliver_auth_reply(struct deliver_conn *c, const struct deliver_reply *r);

/* txn.c: the server's extensions are known: checks, then MAIL (or QUIT). */
void deliver_txn_start(struct deliver_conn *c);

/* txn.c: a whole reply in DELIVER_ST_TXN or DELIVER_ST_DOT. */
void deliver_txn_reply(struct deliver_conn *c, const struct deliver_reply *r);

/* txn.c: the output has room again (DELIVER_ST_TXN). */
void deliver_txn_writable(struct deliver_conn *c);

/* txn.c: sets every recipient not yet decided to TEMP with text. */
void deliver_txn_fail_rest(struct deliver_conn *c, unsigned code, const char *enhanced,
                           const char *text, const char *suffix);

/* verify.c: the transaction of a callout, in place of txn.c's (which hands over). */
void deliver_verify_txn_start(struct deliver_conn *c);
void deliver_verify_txn_reply(struct deliver_conn *c, const struct deliver_reply *r);

/* data.c: 354 came: starts sending the content. */
void deliver_data_start(struct deliver_conn *c);

/* data.c: the output has room again (DELIVER_ST_CONTENT, DELIVER_ST_DOT). */
void deliver_data_writable(struct deliver_conn *c);

#endif
