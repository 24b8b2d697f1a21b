/* SPDX-License-Identifier: MIT */
/*
 * Recipient callouts (deliver.h, docs/verify.md): an attempt of deliver.c
 * over the same hops, connections, greeting, EHLO, STARTTLS, reply reader
 * and timeouts as a delivery, whose transaction is this file's instead of
 * txn.c's (txn.c hands over when the attempt is a callout):
 *
 *   C: MAIL FROM:<>              the null sender: nothing can answer it with mail
 *   C: RCPT TO:<addr>            in the same write when PIPELINING is offered
 *   S: 250 (MAIL)                RFC 5321 3.3; not 2xx: the answer is temporary
 *   S: 2xx / 5xx / 4xx (RCPT)    known / refused / temporary
 *   C: QUIT                      RFC 5321 4.1.1.10: ends the transaction, no DATA
 *
 * The answer is cut from the one recipient of a deliver_msg: a refusal is
 * PERM only when RCPT got 5xx (a refused MAIL says nothing about the
 * recipient, so it is TEMP here), and the rest of deliver.c's rules
 * (a hop that fails before MAIL is answered: the next hop; 421 anywhere;
 * a lost connection) give TEMP. The connection is never kept for reuse.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/deliver_impl.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* The RCPT's tag: the recipient is the attempt's only one (DELIVER_TAG_MAIL is 0). */
#define VERIFY_TAG_RCPT 1

struct deliver_verify {
    struct deliver *d;
    struct deliver_msg msg;
    struct deliver_rcpt rcpt;
    char addr[CAP_MAILBOX + 1];
    deliver_verify_fn *fn;
    void *arg;
};

/* Writes the command of tag and queues the tag for its reply (conn.c's ring of 3). */
static void
verify_send(struct deliver_conn *c, size_t tag)
{
    const struct deliver_msg *msg = c->d->msg;
    char line[CAP_MAILBOX + 32];
    int r;

    if (tag == DELIVER_TAG_MAIL)
        r = str_fmt(line, sizeof(line), "MAIL FROM:<>%s\r\n", msg->smtputf8 ? " SMTPUTF8" : "");
    else
        r = str_fmt(line, sizeof(line), "RCPT TO:<%s>\r\n", msg->rcpts[0].addr);
    if (r == -1)
        log_panic("deliver: callout command line does not fit");
    deliver_conn_write(c, line, strlen(line));
    if (c->expect_len == msg->n_rcpts + 2)
        log_panic("deliver: more callout commands than the reply queue holds");
    c->expect[(c->expect_head + c->expect_len) % (msg->n_rcpts + 2)] = tag;
    c->expect_len++;
}

static size_t
verify_pop(struct deliver_conn *c)
{
    size_t tag = c->expect[c->expect_head];

    c->expect_head = (c->expect_head + 1) % (c->d->msg->n_rcpts + 2);
    c->expect_len--;
    return tag;
}

void
deliver_verify_txn_start(struct deliver_conn *c)
{
    struct deliver_msg *msg = c->d->msg;

    deliver_conn_set_state(c, DELIVER_ST_TXN);
    c->pipelining = c->caps.pipelining;
    if (msg->smtputf8 && !c->caps.smtputf8) {
        char text[DELIVER_TEXT_MAX];

        /* RFC 6531 3.4: the address cannot be given to it. Not an answer about the user. */
        (void)str_fmt(text, sizeof(text),
                      "the address needs SMTPUTF8 and server %s does not offer SMTPUTF8", c->relay);
        deliver_decide(c->d, c);
        deliver_rcpt_set(&msg->rcpts[0], DELIVER_TEMP, 0, "4.6.7", text, "");
        deliver_conn_quit(c);
        return;
    }
    verify_send(c, DELIVER_TAG_MAIL);
    if (c->pipelining)
        verify_send(c, VERIFY_TAG_RCPT); /* RFC 2920 3.1: RCPT may follow MAIL unanswered */
    deliver_conn_arm(c, c->d->opts.timeouts.command);
}

void
deliver_verify_txn_reply(struct deliver_conn *c, const struct deliver_reply *r)
{
    struct deliver_rcpt *rc = &c->d->msg->rcpts[0];
    size_t tag;

    if (c->expect_len == 0) {
        char text[DELIVER_TEXT_MAX];

        (void)str_fmt(text, sizeof(text), "protocol error from %s: reply to no command: %s",
                      c->relay, r->text);
        deliver_conn_trouble(c, "4.5.0", text);
        return;
    }
    tag = verify_pop(c);
    if (tag == DELIVER_TAG_MAIL) {
        deliver_decide(c->d, c);
        if (r->code / 100 == 2) {
            c->mail_ok = true;
            if (!c->pipelining)
                verify_send(c, VERIFY_TAG_RCPT);
        } else {
            /* The null sender refused: nothing is known about the recipient. */
            deliver_rcpt_set(rc, DELIVER_TEMP, r->code, r->enhanced, r->text,
                             "(in reply to MAIL FROM command)");
        }
    } else if (c->mail_ok) {
        deliver_rcpt_set(rc, deliver_outcome_of(r->code), r->code, r->enhanced, r->text,
                         "(in reply to RCPT TO command)");
    }
    if (r->code == 421) {
        /* RFC 5321 3.8: the server is closing the transmission channel. */
        deliver_txn_fail_rest(c, r->code, r->enhanced, r->text,
                              tag == DELIVER_TAG_MAIL ? "(in reply to MAIL FROM command)"
                                                      : "(in reply to RCPT TO command)");
        deliver_conn_close(c);
        return;
    }
    if (c->expect_len == 0)
        deliver_conn_quit(c);
    else
        deliver_conn_arm(c, c->d->opts.timeouts.command);
}

/* The callout's answer from its recipient's outcome. */
static void
verify_result(const struct deliver_verify *v, const char *relay, struct deliver_verify_result *res)
{
    const struct deliver_rcpt *rc = &v->rcpt;

    memset(res, 0, sizeof(*res));
    if (rc->outcome == DELIVER_OK)
        res->answer = DELIVER_VERIFY_OK;
    else if (rc->outcome == DELIVER_PERM && rc->code / 100 == 5)
        res->answer = DELIVER_VERIFY_REFUSED; /* only RCPT's 5xx is PERM with a code here */
    else
        res->answer = DELIVER_VERIFY_TEMP;
    res->code = rc->code;
    (void)str_copyz(res->relay, sizeof(res->relay), relay);
    (void)str_copyz(res->text, sizeof(res->text), rc->text);
}

static void
verify_done(void *arg, const struct deliver_result *dr)
{
    struct deliver_verify *v = arg;
    struct deliver_verify_result res;

    verify_result(v, dr->relay, &res);
    v->fn(v->arg, &res);
    free(v); /* the attempt (v->d) frees itself after this callback */
}

struct deliver_verify *
deliver_verify_start(struct event_base *base, const struct deliver_opts *opts,
                     const struct deliver_hop *hops, size_t n_hops, const char *addr, bool utf8,
                     deliver_verify_fn *fn, void *arg)
{
    struct deliver_verify *v;
    struct deliver_opts o = *opts;

    if (fn == NULL || addr == NULL || strlen(addr) > CAP_MAILBOX) {
        errno = EINVAL;
        return NULL;
    }
    v = xcalloc(1, sizeof(*v));
    (void)str_copyz(v->addr, sizeof(v->addr), addr);
    v->fn = fn;
    v->arg = arg;
    v->rcpt.addr = v->addr;
    v->msg.sender = "";
    v->msg.body = SPOOL_BODY_UNSPEC;
    v->msg.smtputf8 = utf8;
    v->msg.ret = SPOOL_RET_UNSPEC;
    v->msg.fd = -1;
    v->msg.rcpts = &v->rcpt;
    v->msg.n_rcpts = 1;
    o.cache = NULL; /* one connection per callout, ended with QUIT */
    v->d = deliver_begin(base, &o, hops, n_hops, &v->msg, verify_done, v, true);
    if (v->d == NULL) {
        free(v);
        return NULL;
    }
    return v;
}

bool
deliver_verify_peek(const struct deliver_verify *v, struct deliver_verify_result *res)
{
    if (!v->d->decided || v->rcpt.outcome == DELIVER_PENDING)
        return false;
    verify_result(v, v->d->res.relay, res);
    return true;
}

void
deliver_verify_cancel(struct deliver_verify *v)
{
    if (v == NULL)
        return;
    deliver_cancel(v->d);
    free(v);
}
