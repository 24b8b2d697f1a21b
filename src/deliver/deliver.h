/* SPDX-License-Identifier: MIT */
/*
 * The SMTP client (RFC 5321): delivers one message to a list of recipients
 * over one transaction, trying the next hops in order until one takes the
 * transaction. It is given addresses, not names: the router (src/route/)
 * has already looked up MX and A/AAAA.
 *
 * Per hop: connect (timeout), greeting, EHLO (HELO when EHLO gets 5xx),
 * capabilities, then MAIL, every RCPT and DATA, PIPELINED when the server
 * offers PIPELINING (RFC 2920), else one command at a time; the content is
 * dot-stuffed on the way (RFC 5321 4.5.2); QUIT, or the connection is kept
 * for the next attempt to the same hop (the cache below). Extensions used when
 * offered: SIZE (RFC 1870, declared; a message over the server's limit is a
 * permanent failure without sending it), 8BITMIME (RFC 6152; an 8BITMIME
 * body to a server without it fails permanently with 5.6.3: gate26 does not
 * downgrade), SMTPUTF8 (RFC 6531; needed and not offered: 5.6.7), DSN
 * (RFC 3461: RET, ENVID, NOTIFY, ORCPT passed on). Timeouts per RFC 5321
 * 4.5.3.2. STARTTLS (RFC 3207) after EHLO, by the policy of the attempt:
 * none (never), may (when offered; a failed handshake is retried on a new
 * connection without TLS, as RFC 7435 opportunistic security does),
 * encrypt (required; any certificate), verify (required; the chain against
 * the CA store and the hop's name). After the handshake EHLO is sent again
 * and the new capabilities count. "Required" and not offered is a hop
 * failure (4.7.4), a failed handshake or verification too (4.7.5). A hop
 * marked smtps speaks TLS from the first byte (RFC 8314 3.3): the handshake
 * comes before the greeting, under encrypt (or verify) whatever the policy,
 * and a failed one is never retried in the clear.
 *
 * AUTH (RFC 4954) when the attempt has a login (relay-auth): after EHLO and
 * only inside TLS (the policy is raised to at least encrypt), PLAIN (RFC
 * 4616) when offered, else LOGIN; 235 goes on to MAIL. A hop that offers
 * neither (4.7.4) or refuses the login (its 4xx/5xx as 4.x.x) fails, and the
 * next is tried: a wrong password is the admin's to fix, and the mail waits
 * for it. Mail never goes unauthenticated to a hop we were told to log in to.
 *
 * Next hop: a connection that fails, a greeting that is not 220, an EHLO and
 * HELO both refused, or a connection lost before MAIL is answered move on to
 * the next hop; once MAIL is answered the transaction's replies are final
 * for this attempt. So is a message the server's extensions rule out before
 * MAIL (over its SIZE, 8BITMIME or SMTPUTF8 not offered): every recipient
 * fails permanently and no other hop is tried.
 *
 * Threads: the loop's thread only.
 */
#ifndef GATE26_DELIVER_DELIVER_H
#define GATE26_DELIVER_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "conf/conf.h"
#include "lib/caps.h"
#include "spool/spool.h"

struct event_base;
struct deliver;
struct tls_client;

/* One next hop: a name for logs and bounces, and one address with its port. */
struct deliver_hop {
    char name[CAP_DOMAIN + 1];  /* "mx1.example.net", or the address for a bracketed route */
    struct sockaddr_storage sa; /* port set */
    socklen_t sa_len;
    bool smtps; /* TLS from the first byte (an smtps:// relay, RFC 8314 3.3) */
};

/* The outcome of one recipient, or of the whole attempt. */
enum deliver_outcome {
    DELIVER_PENDING, /* not decided (only before the callback) */
    DELIVER_OK,      /* the server took it (2xx after DATA) */
    DELIVER_TEMP,    /* 4xx, or the attempt failed: try again later */
    DELIVER_PERM,    /* 5xx, or a permanent local reason: bounce */
};

/* The longest reply text kept: enough for a bounce and a log line. */
#define DELIVER_TEXT_MAX 512

/*
 * A recipient. addr/orcpt are borrowed for the attempt; the rest is filled
 * in before the callback.
 */
struct deliver_rcpt {
    const char *addr;  /* "local@domain" */
    unsigned notify;   /* SPOOL_NOTIFY_* (0: none given) */
    const char *orcpt; /* "rfc822;xtext" as received, or NULL */

    enum deliver_outcome outcome;
    unsigned code;     /* the reply code that decided it, 0 if none (local reason) */
    char enhanced[16]; /* "5.1.1", or "" */
    /*
     * What a bounce shows: the server's reply, one line per line of it
     * joined by spaces, as "550 5.1.1 <x@y>: no such user (in reply to RCPT
     * TO)", or a local reason ("connect to 127.0.0.9:25: Connection
     * refused"). Printable ASCII only (other octets are dropped).
     */
    char text[DELIVER_TEXT_MAX];
};

/* The message and its recipients for one attempt; borrowed until the callback. */
struct deliver_msg {
    const char *id;     /* queue id, for logs */
    const char *sender; /* "" for <> */
    enum spool_body body;
    bool smtputf8;
    enum spool_ret ret;
    const char *envid; /* xtext, or NULL */
    int fd;            /* the spool file, read with pread() */
    off_t content_off; /* where the content starts in fd */
    uint64_t content_len;
    struct deliver_rcpt *rcpts;
    size_t n_rcpts;
};

/* Seconds; RFC 5321 4.5.3.2 gives the defaults in parentheses. */
struct deliver_timeouts {
    unsigned connect;    /* (none given; 30) */
    unsigned greeting;   /* 4.5.3.2.1 (300) */
    unsigned command;    /* EHLO/HELO, MAIL 4.5.3.2.2, RCPT 4.5.3.2.3 (300) */
    unsigned data_init;  /* 4.5.3.2.4 (120) */
    unsigned data_block; /* 4.5.3.2.5 (180) */
    unsigned data_end;   /* 4.5.3.2.6 (600) */
};

struct deliver_opts {
    const char *helo; /* our hostname, sent in EHLO/HELO */
    struct deliver_timeouts timeouts;
    enum conf_tls_policy tls_policy; /* for this attempt's destination */
    struct tls_client *tls;          /* the client context; NULL: policy must be none */
    struct deliver_cache *cache; /* idle connections to reuse and keep, or NULL: one per attempt */
    /*
     * The login for every hop (SMTP AUTH, RFC 4954), or both NULL: no AUTH.
     * Copied by deliver_start() (and wiped when the attempt ends); never
     * logged. A connection that logged in is reused only with the same login.
     */
    const char *auth_user;
    const char *auth_password;
};

/*
 * The connection cache: after a transaction whose end of data was answered
 * (2xx, 4xx or 5xx other than 421), the connection is kept idle instead of
 * QUIT, for the next attempt to the same address and port with the same
 * EHLO name, TLS policy and login; the next MAIL goes out without a new
 * connect, greeting, EHLO and AUTH. Postfix's connection cache does the same, to the same limits:
 * an idle connection is kept idle_seconds (Postfix's 2 s), a connection serves transactions for at
 * most DELIVER_REUSE_SECONDS after its connect (300 s), and at most max_idle connections are idle
 * at once. An idle connection the server closes, or on which the server says anything, is dropped;
 * a reused connection that turns out dead before MAIL is answered is replaced by a new connection
 * to the same hop (not a hop failure).
 */
#define DELIVER_REUSE_SECONDS 300

struct deliver_cache;

/* A cache on base. Returns the cache (free with deliver_cache_free). */
struct deliver_cache *deliver_cache_new(struct event_base *base, size_t max_idle,
                                        unsigned idle_seconds);

/* Closes every idle connection (QUIT sent, no wait); the cache stays usable. */
void deliver_cache_clear(struct deliver_cache *cache);

/* New limits (a reload): closes every idle connection, then keeps to these. */
void deliver_cache_configure(struct deliver_cache *cache, size_t max_idle, unsigned idle_seconds);

/*
 * Closes every idle connection and frees the cache. Attempts in flight must
 * not use it afterwards (the scheduler frees it after cancelling them).
 * NULL: nothing.
 */
void deliver_cache_free(struct deliver_cache *cache);

/* How many connections are idle in the cache now (for tests and logs). */
size_t deliver_cache_idle(const struct deliver_cache *cache);

/* Fills t with the RFC 5321 4.5.3.2 defaults above. */
void deliver_timeouts_default(struct deliver_timeouts *t);

/*
 * What the attempt did, for the callback. hop is the index of the hop whose
 * server answered MAIL (or whose extensions ruled the message out), or -1
 * when none did (then every recipient has the same outcome, DELIVER_TEMP,
 * and text: the last hop's failure, e.g. "connect to
 * mx2.example.net[192.0.2.9]:25: Connection refused"). The exception, on
 * either side: an address that cannot go into a command line (a control
 * character, over 1000 octets) is DELIVER_PERM 5.1.3 (5.1.7 for the
 * sender) without being sent.
 */
struct deliver_result {
    int hop;
    char relay[CAP_DOMAIN + 64]; /* "mx1.example.net[192.0.2.8]:25", or "none" */
    char tried[CAP_DOMAIN + 64]; /* the last hop that failed ("name[addr]:port"), or "" */
    bool used_pipelining;
    bool reused;   /* the hop's connection came from the cache */
    char tls[128]; /* "TLSv1.3 TLS_AES_256_GCM_SHA384 verified", or "" without TLS */
};

/*
 * Called once, on the loop, never from inside deliver_start(). Every
 * recipient's outcome is DELIVER_OK, DELIVER_TEMP or DELIVER_PERM. After the
 * callback the attempt is freed by the client; do not call deliver_cancel()
 * on it.
 */
typedef void deliver_done_fn(void *arg, const struct deliver_result *res);

/*
 * Starts delivering msg to the n_hops hops in order (n_hops >= 1). opts,
 * hops and msg are borrowed until the callback (hops are copied). Returns the
 * attempt, or NULL with errno on local trouble (no callback then).
 */
struct deliver *deliver_start(struct event_base *base, const struct deliver_opts *opts,
                              const struct deliver_hop *hops, size_t n_hops,
                              struct deliver_msg *msg, deliver_done_fn *fn, void *arg);

/* Ends an attempt at once (shutdown): closes the connection, no callback. NULL: nothing. */
void deliver_cancel(struct deliver *d);

/* ---- Recipient callouts (verify.c; docs/verify.md) ---- */

/*
 * A callout asks the hops in order, as deliver_start() does (the same
 * connection, greeting, EHLO or HELO, STARTTLS by opts->tls_policy, reply
 * reader and timeouts; opts->cache is not used), whether one recipient
 * exists: "MAIL FROM:<>" (with SMTPUTF8 when the address needs it), "RCPT
 * TO:<addr>" (in the same write when PIPELINING is offered), then QUIT. No
 * DATA, so no message can come of it. The first server that answers MAIL
 * decides, as for delivery.
 */
enum deliver_verify_answer {
    DELIVER_VERIFY_OK,      /* 2xx to RCPT */
    DELIVER_VERIFY_REFUSED, /* 5xx to RCPT */
    DELIVER_VERIFY_TEMP,    /* anything else: 4xx, MAIL refused, no server answered, ... */
};

struct deliver_verify_result {
    enum deliver_verify_answer answer;
    unsigned code;               /* of the reply that decided, 0 when none did */
    char relay[CAP_DOMAIN + 64]; /* the server that answered MAIL, or "none" */
    /* Its reply as deliver_rcpt.text ("550 5.1.1 ... (in reply to RCPT TO command)"), or why
     * no server answered ("connect to ...: Connection refused"). */
    char text[DELIVER_TEXT_MAX];
};

struct deliver_verify;

/* Called once, on the loop, never from inside deliver_verify_start(); then the callout is gone. */
typedef void deliver_verify_fn(void *arg, const struct deliver_verify_result *res);

/*
 * Starts the callout for addr ("local@domain", copied; up to CAP_MAILBOX
 * octets) over the n_hops hops (copied). utf8: the address needs SMTPUTF8
 * (a server without it gives DELIVER_VERIFY_TEMP). opts is copied, its tls
 * referenced. Returns the callout, or NULL with errno (no callback then).
 */
struct deliver_verify *deliver_verify_start(struct event_base *base,
                                            const struct deliver_opts *opts,
                                            const struct deliver_hop *hops, size_t n_hops,
                                            const char *addr, bool utf8, deliver_verify_fn *fn,
                                            void *arg);

/*
 * True when the answer is known already (the QUIT may still be under way),
 * with it in res: for a caller whose own time runs out first.
 */
bool deliver_verify_peek(const struct deliver_verify *v, struct deliver_verify_result *res);

/* Ends a callout at once: closes its connection, no callback. NULL: nothing. */
void deliver_verify_cancel(struct deliver_verify *v);

#endif
