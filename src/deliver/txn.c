/* SPDX-License-Identifier: MIT */
/*
 * The mail transaction of the SMTP client (RFC 5321 3.3): the checks
 * against the server's extensions, then MAIL, every RCPT and DATA, and each
 * recipient's outcome from the replies.
 *
 * Before MAIL: a message larger than the server's SIZE limit (RFC 1870 6),
 * an 8BITMIME body for a server without 8BITMIME (RFC 6152 3; gate26 does
 * not convert to 7-bit) or a message that needs SMTPUTF8 for a server
 * without it (RFC 6531 3.4) fails every recipient permanently (5.3.4, 5.6.3,
 * 5.6.7) and no other hop is tried: like the server's own 5xx, it is final
 * for the attempt, and another MX of the same destination is expected to
 * offer the same.
 *
 * With PIPELINING (RFC 2920 3.1) MAIL, the RCPTs and DATA leave as one
 * group, DATA last, no more queued at a time than CAP_SESSION_OUTPUT (the
 * rest follows as the output drains); without it, one command waits for
 * the reply to the one before. The replies come in command order, so the
 * tags of the commands sent wait in a queue. The rules:
 *
 *   MAIL not 2xx       every recipient gets its outcome; nothing more is sent
 *   RCPT 2xx           the recipient waits for the end of data's reply
 *   RCPT 4xx / 5xx     TEMP / PERM with that reply
 *   no RCPT took       DATA is not sent (unless it already left in the group:
 *                      then its 5xx is read; a 354 anyway is answered by
 *                      closing the connection, so no empty message goes out)
 *   DATA 354           the content (data.c)
 *   DATA 4xx / 5xx     the accepted recipients get that reply
 *   end of data reply  the accepted recipients get that reply
 *   421 anywhere       the server is closing: every recipient not yet
 *                      decided gets it (RFC 5321 3.8)
 *
 * Each text names the command it answers: "550 5.1.1 <x@y>: no such user
 * (in reply to RCPT TO command)".
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "deliver/deliver_impl.h"
#include "lib/caps.h"
#include "lib/log.h"
#include "lib/str.h"

/* Room for the longest MAIL or RCPT we build (addresses up to 1000, see deliver.c). */
#define TXN_LINE_CAP 2048

static size_t
txn_data_tag(const struct deliver_conn *c)
{
    return c->d->msg->n_rcpts + 1;
}

/* An ESMTP parameter value we pass on as it is: xchar/hexchar octets 33..126, at most max. */
static bool
txn_param_ok(const char *v, size_t max)
{
    size_t len = strlen(v);

    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)v[i] < 33 || (unsigned char)v[i] > 126)
            return false;
    }
    return true;
}

/* Appends to a command line; a line that does not fit is a bug (see TXN_LINE_CAP). */
static void txn_add(char *line, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
txn_add(char *line, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line + *len, TXN_LINE_CAP - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= TXN_LINE_CAP - *len)
        log_panic("deliver: command line does not fit");
    *len += (size_t)n;
}

/* MAIL FROM:<sender> and the parameters the server offers (RFC 1870, 6152, 6531, 3461). */
static size_t
txn_mail_line(const struct deliver_conn *c, char *line)
{
    const struct deliver_msg *msg = c->d->msg;
    size_t len = 0;

    txn_add(line, &len, "MAIL FROM:<%s>", msg->sender);
    if (c->caps.size)
        txn_add(line, &len, " SIZE=%" PRIu64, msg->content_len);
    if (c->caps.eightbitmime && msg->body == SPOOL_BODY_8BITMIME)
        txn_add(line, &len, " BODY=8BITMIME");
    else if (c->caps.eightbitmime && msg->body == SPOOL_BODY_7BIT)
        txn_add(line, &len, " BODY=7BIT");
    if (c->caps.smtputf8 && msg->smtputf8)
        txn_add(line, &len, " SMTPUTF8");
    if (c->caps.dsn) {
        if (msg->ret == SPOOL_RET_FULL)
            txn_add(line, &len, " RET=FULL");
        else if (msg->ret == SPOOL_RET_HDRS)
            txn_add(line, &len, " RET=HDRS");
        if (msg->envid != NULL && txn_param_ok(msg->envid, CAP_ENVID))
            txn_add(line, &len, " ENVID=%s", msg->envid);
    }
    txn_add(line, &len, "\r\n");
    return len;
}

/* RCPT TO:<addr> with NOTIFY and ORCPT when the server offers DSN (RFC 3461 4.1, 4.2). */
static size_t
txn_rcpt_line(const struct deliver_conn *c, const struct deliver_rcpt *r, char *line)
{
    size_t len = 0;

    txn_add(line, &len, "RCPT TO:<%s>", r->addr);
    if (c->caps.dsn && r->notify != 0) {
        if (r->notify & SPOOL_NOTIFY_NEVER) {
            txn_add(line, &len, " NOTIFY=NEVER"); /* NEVER stands alone (4.1) */
        } else {
            const char *sep = "=";

            txn_add(line, &len, " NOTIFY");
            if (r->notify & SPOOL_NOTIFY_SUCCESS) {
                txn_add(line, &len, "%sSUCCESS", sep);
                sep = ",";
            }
            if (r->notify & SPOOL_NOTIFY_FAILURE) {
                txn_add(line, &len, "%sFAILURE", sep);
                sep = ",";
            }
            if (r->notify & SPOOL_NOTIFY_DELAY)
                txn_add(line, &len, "%sDELAY", sep);
        }
    }
    if (c->caps.dsn && r->orcpt != NULL && strchr(r->orcpt, ';') != NULL &&
        txn_param_ok(r->orcpt, CAP_ORCPT))
        txn_add(line, &len, " ORCPT=%s", r->orcpt);
    txn_add(line, &len, "\r\n");
    return len;
}

/* Writes the command of tag and queues the tag for its reply. */
static void
txn_send_tag(struct deliver_conn *c, size_t tag)
{
    const struct deliver_msg *msg = c->d->msg;
    char line[TXN_LINE_CAP];
    size_t len, n = msg->n_rcpts + 2;

    if (tag == DELIVER_TAG_MAIL) {
        len = txn_mail_line(c, line);
    } else if (tag == txn_data_tag(c)) {
        memcpy(line, "DATA\r\n", 6);
        len = 6;
    } else {
        len = txn_rcpt_line(c, &msg->rcpts[tag - 1], line);
    }
    deliver_conn_write(c, line, len);
    if (c->expect_len == n)
        log_panic("deliver: more commands than the reply queue holds");
    c->expect[(c->expect_head + c->expect_len) % n] = tag;
    c->expect_len++;
}

static size_t
txn_pop(struct deliver_conn *c)
{
    size_t tag = c->expect[c->expect_head];

    c->expect_head = (c->expect_head + 1) % (c->d->msg->n_rcpts + 2);
    c->expect_len--;
    return tag;
}

/*
 * Sends what may go now, then waits: the next reply with the timeout of the
 * command it answers (RFC 5321 4.5.3.2), or QUIT when the transaction is
 * over without content.
 */
static void
txn_send(struct deliver_conn *c)
{
    const struct deliver_msg *msg = c->d->msg;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    const struct deliver_timeouts *t = &c->d->opts.timeouts;
    size_t data_tag = txn_data_tag(c);

    while (!c->stop && c->next_tag <= data_tag) {
        size_t tag = c->next_tag;

        if (c->expect_len > 0 && !c->pipelining)
            break;
        if (c->pipelining && evbuffer_get_length(out) >= CAP_SESSION_OUTPUT)
            break; /* the rest when the output drains (deliver_txn_writable) */
        if (tag != DELIVER_TAG_MAIL && tag != data_tag &&
            msg->rcpts[tag - 1].outcome != DELIVER_PENDING) {
            c->next_tag++; /* failed before the connection (deliver.c) */
            continue;
        }
        if (tag == data_tag && c->expect_len == 0 && c->n_accepted == 0) {
            c->stop = true; /* every RCPT answered, none took: no DATA (RFC 2920 3.1) */
            break;
        }
        txn_send_tag(c, tag);
        c->next_tag++;
    }
    if (c->expect_len == 0) {
        if (c->state == DELIVER_ST_TXN && (c->stop || c->next_tag > data_tag))
            deliver_conn_quit(c);
        return;
    }
    deliver_conn_arm(c, c->expect[c->expect_head] == data_tag ? t->data_init : t->command);
}

void
deliver_txn_fail_rest(struct deliver_conn *c, unsigned code, const char *enhanced, const char *text,
                      const char *suffix)
{
    struct deliver_msg *msg = c->d->msg;

    for (size_t i = 0; i < msg->n_rcpts; i++) {
        if (msg->rcpts[i].outcome == DELIVER_PENDING)
            deliver_rcpt_set(&msg->rcpts[i], DELIVER_TEMP, code, enhanced, text, suffix);
    }
}

/* Every recipient not yet decided gets a permanent local refusal; then QUIT. */
static void
txn_refuse_all(struct deliver_conn *c, const char *enhanced, const char *text)
{
    struct deliver_msg *msg = c->d->msg;

    deliver_decide(c->d, c);
    for (size_t i = 0; i < msg->n_rcpts; i++) {
        if (msg->rcpts[i].outcome == DELIVER_PENDING)
            deliver_rcpt_set(&msg->rcpts[i], DELIVER_PERM, 0, enhanced, text, "");
    }
    deliver_conn_quit(c);
}

void
deliver_txn_start(struct deliver_conn *c)
{
    const struct deliver_msg *msg = c->d->msg;
    char text[DELIVER_TEXT_MAX];

    if (c->d->verify) {
        deliver_verify_txn_start(c); /* a callout: MAIL and RCPT only */
        return;
    }
    deliver_conn_set_state(c, DELIVER_ST_TXN);
    c->pipelining = c->caps.pipelining;
    if (c->caps.size && c->caps.size_max > 0 && msg->content_len > c->caps.size_max) {
        (void)str_fmt(text, sizeof(text),
                      "message size %" PRIu64 " exceeds size limit %" PRIu64 " of server %s",
                      msg->content_len, c->caps.size_max, c->relay);
        txn_refuse_all(c, "5.3.4", text);
    } else if (msg->body == SPOOL_BODY_8BITMIME && !c->caps.eightbitmime) {
        (void)str_fmt(text, sizeof(text),
                      "message is 8-bit (BODY=8BITMIME) and server %s does not offer 8BITMIME; "
                      "gate26 does not convert to 7-bit",
                      c->relay);
        txn_refuse_all(c, "5.6.3", text);
    } else if (msg->smtputf8 && !c->caps.smtputf8) {
        (void)str_fmt(text, sizeof(text),
                      "message needs SMTPUTF8 and server %s does not offer SMTPUTF8", c->relay);
        txn_refuse_all(c, "5.6.7", text);
    } else {
        txn_send(c);
    }
}

void
deliver_txn_writable(struct deliver_conn *c)
{
    if (c->d->verify)
        return; /* a callout's two commands never fill the output */
    if (c->pipelining && !c->stop && c->next_tag <= txn_data_tag(c))
        txn_send(c);
}

/*
 * The outcome and status of a reply that decides recipients. A 3xx, which
 * only DATA may get, is a protocol error: temporary.
 */
static enum deliver_outcome
txn_outcome(const struct deliver_reply *r, const char **enhanced)
{
    *enhanced = r->code / 100 == 3 ? "4.5.0" : r->enhanced;
    return deliver_outcome_of(r->code);
}

/* Gives the accepted recipients not yet decided the reply's outcome. */
static void
txn_set_accepted(struct deliver_conn *c, const struct deliver_reply *r, const char *suffix)
{
    struct deliver_msg *msg = c->d->msg;
    const char *enhanced;
    enum deliver_outcome o = txn_outcome(r, &enhanced);

    for (size_t i = 0; i < msg->n_rcpts; i++) {
        if (c->d->accepted[i] && msg->rcpts[i].outcome == DELIVER_PENDING)
            deliver_rcpt_set(&msg->rcpts[i], o, r->code, enhanced, r->text, suffix);
    }
}

/* The reply to MAIL: the hop decides the attempt from here on. */
static void
txn_mail_reply(struct deliver_conn *c, const struct deliver_reply *r)
{
    struct deliver_msg *msg = c->d->msg;
    const char *enhanced;
    enum deliver_outcome o;

    deliver_decide(c->d, c);
    if (r->code / 100 == 2) {
        c->mail_ok = true;
        return;
    }
    o = txn_outcome(r, &enhanced);
    for (size_t i = 0; i < msg->n_rcpts; i++) {
        if (msg->rcpts[i].outcome == DELIVER_PENDING)
            deliver_rcpt_set(&msg->rcpts[i], o, r->code, enhanced, r->text,
                             "(in reply to MAIL FROM command)");
    }
    c->stop = true;
}

static void
txn_rcpt_reply(struct deliver_conn *c, size_t i, const struct deliver_reply *r)
{
    struct deliver_rcpt *rcpt = &c->d->msg->rcpts[i];
    const char *enhanced;
    enum deliver_outcome o;

    if (!c->mail_ok)
        return; /* a pipelined RCPT after a refused MAIL: decided by MAIL's reply */
    o = txn_outcome(r, &enhanced);
    if (o == DELIVER_OK) {
        c->d->accepted[i] = true;
        c->n_accepted++;
    } else {
        deliver_rcpt_set(rcpt, o, r->code, enhanced, r->text, "(in reply to RCPT TO command)");
    }
}

/* The reply to DATA. Returns true when the content starts. */
static bool
txn_data_reply(struct deliver_conn *c, const struct deliver_reply *r)
{
    if (r->code == 354) {
        if (c->mail_ok && c->n_accepted > 0) {
            deliver_data_start(c);
            return true;
        }
        /* RFC 2920 3.1: no content without a recipient. Closing ends its DATA. */
        deliver_conn_close(c);
        return false;
    }
    if (r->code / 100 == 4 || r->code / 100 == 5) {
        txn_set_accepted(c, r, "(in reply to DATA command)");
        c->stop = true;
    } else {
        /* 2xx, or a 3xx other than 354: we no longer know where the server is. */
        char text[DELIVER_TEXT_MAX];

        (void)str_fmt(text, sizeof(text), "protocol error from %s: unexpected reply %s", c->relay,
                      r->text);
        deliver_conn_trouble(c, "4.5.0", text);
    }
    return false;
}

/* The suffix for a 421 that ends the transaction. */
static const char *
txn_suffix(const struct deliver_conn *c, size_t tag)
{
    if (tag == DELIVER_TAG_MAIL)
        return "(in reply to MAIL FROM command)";
    if (tag == txn_data_tag(c))
        return "(in reply to DATA command)";
    return "(in reply to RCPT TO command)";
}

void
deliver_txn_reply(struct deliver_conn *c, const struct deliver_reply *r)
{
    size_t tag;

    if (c->d->verify) {
        deliver_verify_txn_reply(c, r);
        return;
    }
    if (c->state == DELIVER_ST_CONTENT || c->state == DELIVER_ST_DOT) {
        /*
         * In DOT this is the end of data's reply. In CONTENT the server
         * spoke before our end of data: a refusal counts, anything else is
         * a protocol error; either way the content cannot go on.
         */
        bool early = c->state == DELIVER_ST_CONTENT;

        if (r->code / 100 == 3 || (early && r->code / 100 == 2)) {
            char text[DELIVER_TEXT_MAX];

            (void)str_fmt(text, sizeof(text),
                          "protocol error from %s while %s: unexpected reply %s", c->relay,
                          deliver_conn_doing(c), r->text);
            deliver_conn_trouble(c, "4.5.0", text);
            return;
        }
        txn_set_accepted(
            c, r, early ? "(while sending message body)" : "(in reply to end of DATA command)");
        if (early || r->code == 421)
            deliver_conn_close(c);
        else
            deliver_conn_done(c); /* the server waits for the next transaction */
        return;
    }
    if (c->expect_len == 0) {
        char text[DELIVER_TEXT_MAX];

        (void)str_fmt(text, sizeof(text), "protocol error from %s: reply to no command: %s",
                      c->relay, r->text);
        deliver_conn_trouble(c, "4.5.0", text);
        return;
    }
    tag = txn_pop(c);
    if (tag == DELIVER_TAG_MAIL) {
        txn_mail_reply(c, r);
    } else if (tag == txn_data_tag(c)) {
        if (txn_data_reply(c, r))
            return;
    } else {
        txn_rcpt_reply(c, tag - 1, r);
    }
    if (r->code == 421) {
        /* RFC 5321 3.8: the server is closing the transmission channel. */
        deliver_txn_fail_rest(c, r->code, r->enhanced, r->text, txn_suffix(c, tag));
        deliver_conn_close(c);
    }
    if (c->state == DELIVER_ST_TXN)
        txn_send(c);
}
