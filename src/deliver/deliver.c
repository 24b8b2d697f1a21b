/* SPDX-License-Identifier: MIT */
/*
 * One delivery attempt (deliver.h): the hops in order, each through one
 * connection (conn.c), until a server answers MAIL or its extensions decide
 * the outcome; then the caller's callback, from an event of its own so that
 * it never runs inside deliver_start().
 *
 * Logging: the caller (the scheduler) logs each recipient's outcome, with
 * the relay and the reply this module fills in. This module logs a hop that
 * failed and was passed over at info level (the peer's fault; the callback
 * only tells of the last one), its state changes at debug level, and local
 * trouble as a warning.
 *
 * Recipients whose address cannot go into a command line (a control
 * character, over 1000 octets) fail at once with 5.1.3 (5.1.7 for the
 * sender, which fails them all) without a connection being made for them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "deliver/deliver_impl.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "tls/tls.h"

/*
 * The longest address put into MAIL or RCPT. RFC 5321 4.5.3.1.3 sets 256
 * octets for a path; a longer one is left for the server to refuse, up to
 * what keeps a command line within txn.c's buffer.
 */
#define DELIVER_ADDR_MAX 1000

void
deliver_timeouts_default(struct deliver_timeouts *t)
{
    t->connect = 30;
    t->greeting = 300;
    t->command = 300;
    t->data_init = 120;
    t->data_block = 180;
    t->data_end = 600;
}

const char *
deliver_log_id(const struct deliver *d)
{
    return d->msg->id != NULL && d->msg->id[0] != '\0' ? d->msg->id : "-";
}

enum deliver_outcome
deliver_outcome_of(unsigned code)
{
    switch (code / 100) {
    case 2:
        return DELIVER_OK;
    case 5:
        return DELIVER_PERM;
    default:
        return DELIVER_TEMP;
    }
}

/* Copies the printable ASCII of src to dst[*o...], within cap (NUL included). */
static void
deliver_text_put(char *dst, size_t cap, size_t *o, const char *src, size_t len)
{
    for (size_t i = 0; i < len && *o + 1 < cap; i++) {
        unsigned char ch = (unsigned char)src[i];

        if (ch >= 0x20 && ch < 0x7f)
            dst[(*o)++] = (char)ch;
    }
    dst[*o] = '\0';
}

void
deliver_rcpt_set(struct deliver_rcpt *r, enum deliver_outcome outcome, unsigned code,
                 const char *enhanced, const char *text, const char *suffix)
{
    size_t tl = strlen(text), sl = suffix != NULL ? strlen(suffix) : 0;
    size_t tail = sl > 0 ? sl + 1 : 0, o = 0;

    r->outcome = outcome;
    r->code = code;
    (void)str_copyz(r->enhanced, sizeof(r->enhanced), enhanced);
    if (tl + tail < sizeof(r->text)) {
        deliver_text_put(r->text, sizeof(r->text), &o, text, tl);
    } else {
        /* Cut the reply, keep the suffix: it says what the reply answered. */
        deliver_text_put(r->text, sizeof(r->text), &o, text, sizeof(r->text) - 1 - tail - 3);
        deliver_text_put(r->text, sizeof(r->text), &o, "...", 3);
    }
    if (sl > 0) {
        deliver_text_put(r->text, sizeof(r->text), &o, " ", 1);
        deliver_text_put(r->text, sizeof(r->text), &o, suffix, sl);
    }
}

void
deliver_hop_failed(struct deliver *d, const struct deliver_conn *c, const char *enhanced,
                   const char *text)
{
    char q[LOG_QUOTE_CAP];

    (void)str_copyz(d->fail_enhanced, sizeof(d->fail_enhanced), enhanced);
    (void)str_copyz(d->fail_text, sizeof(d->fail_text), text);
    (void)str_copyz(d->res.tried, sizeof(d->res.tried), c->relay);
    log_info("%s: relay=%s, event=hop-failed, hop=%zu, dsn=%s, reason=\"%s\"", deliver_log_id(d),
             c->relay, c->hop, enhanced, log_quote(q, sizeof(q), text, strlen(text)));
}

void
deliver_decide(struct deliver *d, const struct deliver_conn *c)
{
    if (d->decided)
        return;
    d->decided = true;
    d->res.hop = (int)c->hop;
    (void)str_copyz(d->res.relay, sizeof(d->res.relay), c->relay);
    d->res.used_pipelining = c->pipelining;
    d->res.reused = c->reused;
    (void)str_copyz(d->res.tls, sizeof(d->res.tls), c->tls ? c->tls_desc : "");
}

/* Frees a copy of a secret after wiping it. NULL: nothing. */
static void
deliver_free_secret(char *p)
{
    if (p == NULL)
        return;
    OPENSSL_cleanse(p, strlen(p));
    free(p);
}

/* Frees d and everything it holds (no callback). */
static void
deliver_free(struct deliver *d)
{
    deliver_conn_free(d->conn);
    deliver_free_secret(d->auth_user);
    deliver_free_secret(d->auth_password);
    OPENSSL_cleanse(d->auth_id, sizeof(d->auth_id));
    tls_client_unref(d->opts.tls);
    if (d->done_ev != NULL)
        event_free(d->done_ev);
    free(d->accepted);
    free(d->hops);
    free(d);
}

/* The end of the attempt, on the loop: every recipient decided, then the callback. */
static void
deliver_done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct deliver *d = arg;
    struct deliver_msg *msg = d->msg;

    (void)fd;
    (void)what;
    for (size_t i = 0; i < msg->n_rcpts; i++) {
        struct deliver_rcpt *r = &msg->rcpts[i];

        if (r->outcome != DELIVER_PENDING)
            continue;
        if (d->decided)
            log_panic("%s: deliver: recipient %zu undecided after relay %s", deliver_log_id(d), i,
                      d->res.relay);
        deliver_rcpt_set(r, DELIVER_TEMP, 0, d->fail_enhanced, d->fail_text, "");
    }
    d->fn(d->arg, &d->res);
    deliver_free(d);
}

/* Tries the hops from index first on; when none is left, the attempt ends. */
static void
deliver_next(struct deliver *d, size_t first)
{
    for (size_t i = first; i < d->n_hops && !d->decided; i++) {
        if (deliver_conn_start(d, i) == 0)
            return;
    }
    event_active(d->done_ev, EV_TIMEOUT, 1);
}

void
deliver_after_conn(struct deliver *d, size_t hop, bool again)
{
    if (d->decided)
        event_active(d->done_ev, EV_TIMEOUT, 1);
    else
        deliver_next(d, again ? hop : hop + 1);
}

/*
 * Takes a copy of the login of opts, its digest for the cache, and raises
 * the policy: a password only ever travels inside TLS (RFC 4954 4, RFC 8314).
 * Returns 0, or -1 (EINVAL) for a login PLAIN cannot carry.
 */
static int
deliver_take_login(struct deliver *d, const struct deliver_opts *opts)
{
    size_t ul, pl;
    unsigned char *buf;
    unsigned int n = 0;
    int ok;

    if (opts->auth_user == NULL && opts->auth_password == NULL)
        return 0;
    if (opts->auth_user == NULL || opts->auth_password == NULL)
        return -1;
    ul = strlen(opts->auth_user);
    pl = strlen(opts->auth_password);
    if (ul == 0 || ul > 255 || pl == 0 || pl > 255) /* RFC 4616 2 */
        return -1;
    d->auth_user = xstrdup(opts->auth_user);
    d->auth_password = xstrdup(opts->auth_password);
    buf = xmalloc(ul + 1 + pl);
    memcpy(buf, opts->auth_user, ul + 1);
    memcpy(buf + ul + 1, opts->auth_password, pl);
    ok = EVP_Digest(buf, ul + 1 + pl, d->auth_id, &n, EVP_sha256(), NULL);
    OPENSSL_cleanse(buf, ul + 1 + pl);
    free(buf);
    if (ok != 1 || n != sizeof(d->auth_id))
        log_panic("deliver: SHA-256 failed");
    if (d->opts.tls_policy == CONF_TLS_POLICY_NONE || d->opts.tls_policy == CONF_TLS_POLICY_MAY)
        d->opts.tls_policy = CONF_TLS_POLICY_ENCRYPT;
    /* opts' pointers are the caller's: the attempt uses its own copies only. */
    d->opts.auth_user = NULL;
    d->opts.auth_password = NULL;
    return 0;
}

/* True when addr can go between the angle brackets of a command line. */
static bool
deliver_addr_ok(const char *addr)
{
    size_t len = strlen(addr);

    if (len > DELIVER_ADDR_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)addr[i];

        if (ch < 0x20 || ch == 0x7f)
            return false;
    }
    return true;
}

/* Fails the recipients that cannot be sent. Returns how many are left to send. */
static size_t
deliver_check_addrs(struct deliver *d)
{
    struct deliver_msg *msg = d->msg;
    size_t left = 0;

    for (size_t i = 0; i < msg->n_rcpts; i++) {
        struct deliver_rcpt *r = &msg->rcpts[i];

        if (!deliver_addr_ok(msg->sender)) {
            deliver_rcpt_set(r, DELIVER_PERM, 0, "5.1.7", "bad sender address syntax (not sent)",
                             "");
        } else if (r->addr[0] == '\0' || !deliver_addr_ok(r->addr)) {
            deliver_rcpt_set(r, DELIVER_PERM, 0, "5.1.3", "bad recipient address syntax (not sent)",
                             "");
        } else {
            left++;
        }
    }
    if (left == 0)
        log_warning("%s: event=deliver, error=\"no address can be sent\"", deliver_log_id(d));
    return left;
}

struct deliver *
deliver_start(struct event_base *base, const struct deliver_opts *opts,
              const struct deliver_hop *hops, size_t n_hops, struct deliver_msg *msg,
              deliver_done_fn *fn, void *arg)
{
    return deliver_begin(base, opts, hops, n_hops, msg, fn, arg, false);
}

struct deliver *
deliver_begin(struct event_base *base, const struct deliver_opts *opts,
              const struct deliver_hop *hops, size_t n_hops, struct deliver_msg *msg,
              deliver_done_fn *fn, void *arg, bool verify)
{
    struct deliver *d;

    if (n_hops == 0 || msg->n_rcpts == 0 || opts->helo == NULL || fn == NULL) {
        errno = EINVAL;
        return NULL;
    }
    d = xcalloc(1, sizeof(*d));
    d->base = base;
    d->verify = verify;
    d->opts = *opts;
    if (d->opts.tls != NULL)
        (void)tls_client_ref(d->opts.tls); /* a reload may drop the scheduler's */
    d->hops = xmalloc(n_hops * sizeof(*hops));
    memcpy(d->hops, hops, n_hops * sizeof(*hops));
    d->n_hops = n_hops;
    d->msg = msg;
    d->fn = fn;
    d->arg = arg;
    d->accepted = xcalloc(msg->n_rcpts, sizeof(*d->accepted));
    d->res.hop = -1;
    memcpy(d->res.relay, "none", 5);
    memcpy(d->fail_enhanced, "4.4.1", 6);
    d->done_ev = event_new(base, -1, 0, deliver_done_cb, d);
    if (d->done_ev == NULL) {
        deliver_free(d);
        errno = ENOMEM;
        return NULL;
    }
    if (deliver_take_login(d, opts) == -1) {
        deliver_free(d);
        errno = EINVAL;
        return NULL;
    }
    for (size_t i = 0; i < msg->n_rcpts; i++) {
        struct deliver_rcpt *r = &msg->rcpts[i];

        r->outcome = DELIVER_PENDING;
        r->code = 0;
        r->enhanced[0] = '\0';
        r->text[0] = '\0';
    }
    if (deliver_check_addrs(d) == 0) {
        /* Nothing to send: the callback, with no connection made. */
        event_active(d->done_ev, EV_TIMEOUT, 1);
        return d;
    }
    deliver_next(d, 0);
    return d;
}

void
deliver_cancel(struct deliver *d)
{
    if (d == NULL)
        return;
    deliver_free(d);
}
