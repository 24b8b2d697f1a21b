/* SPDX-License-Identifier: MIT */
/*
 * The connection side of a session: the bufferevent and its callbacks, the
 * command-line reader (cap first, then look for CRLF: RFC 5321 4.5.3.1.4),
 * timeouts (RFC 5321 4.5.3.2), the reply writer and the session's life and
 * death. Commands are in command.c, message content in content.c.
 *
 * Pipelining (RFC 2920): session_run() handles every complete command in
 * the input, in order; replies queue in the output in the same order and
 * leave when the loop next writes. It stops at a wait (the spool commit) or
 * when too much output waits for a slow reader, and goes on when that ends.
 *
 * A session is never freed inside a nested call: session_close() marks it,
 * and the outermost handler (session_finish) frees it once its output is
 * gone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "policy/policy.h"
#include "checks/checks.h"
#include "smtp/session.h"
#include "smtp/sniff.h"
#include "watch/metrics.h"

static struct smtp_session *sessions; /* every live session */
static size_t n_sessions;
static unsigned long next_sid = 1;
static bool stopping; /* the daemon is ending: no more input is handled */
static bool draining; /* SIGTERM: transactions in flight may end, then 421 */

static const char *const state_names[] = {
    [SMTP_ST_CONNECTED] = "connected",
    [SMTP_ST_GREETED] = "greeted",
    [SMTP_ST_READY] = "ready",
    [SMTP_ST_MAIL] = "mail",
    [SMTP_ST_RCPT] = "rcpt",
    [SMTP_ST_DATA] = "data",
    [SMTP_ST_BDAT] = "bdat",
    [SMTP_ST_BDAT_WAIT] = "bdat-wait",
    [SMTP_ST_COMMIT] = "commit",
    [SMTP_ST_STARTTLS] = "starttls",
    [SMTP_ST_AUTH] = "auth",
    [SMTP_ST_AUTH_CHECK] = "auth-check",
    [SMTP_ST_VERIFY] = "verify",
    [SMTP_ST_CLOSING] = "closing",
    [SMTP_ST_CHECK_CONNECT] = "check-connect",
    [SMTP_ST_CHECK_RCPT] = "check-rcpt",
    [SMTP_ST_CHECK_DATA] = "check-data",
};

bool
session_waiting(const struct smtp_session *s)
{
    return s->state == SMTP_ST_VERIFY || s->state == SMTP_ST_CHECK_CONNECT ||
           s->state == SMTP_ST_CHECK_RCPT || s->state == SMTP_ST_CHECK_DATA;
}

static void session_run(struct smtp_session *s);
static void session_finish(struct smtp_session *s);

size_t
smtp_session_count(void)
{
    return n_sessions;
}

const char *
session_log_id(const struct smtp_session *s)
{
    return s->queue_id[0] != '\0' ? s->queue_id : "-";
}

void
session_set_state(struct smtp_session *s, enum smtp_state state)
{
    if (s->state == state)
        return;
    log_debug("%s: sid=%s, state=%s -> %s", session_log_id(s), s->sid, state_names[s->state],
              state_names[state]);
    s->state = state;
}

void
session_set_timeouts(struct smtp_session *s, bool data)
{
    struct timeval tv = {data ? s->door->timeout_data : s->door->timeout_command, 0};

    (void)bufferevent_set_timeouts(s->bev, &tv, &tv);
}

void
session_write(struct smtp_session *s, const char *p, size_t len)
{
    if (s->state == SMTP_ST_CLOSING)
        return;
    if (log_enabled(LOG_LEVEL_DEBUG))
        log_dialogue(session_log_id(s), "sid", s->sid, "out", p, len);
    if (bufferevent_write(s->bev, p, len) == -1)
        log_panic("bufferevent_write failed");
}

/* True when a MAIL was accepted in the transaction (the null sender <> too). */
static bool
txn_has_sender(const struct smtp_session *s)
{
    return s->txn.mail.from.is_null || s->txn.mail.from.len > 0;
}

/* The fields of a refusal's log line, built up in a buffer that cuts what does not fit. */
struct reject_fields {
    char buf[4 * LOG_QUOTE_CAP];
    size_t len;
};

static void reject_add(struct reject_fields *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reject_add(struct reject_fields *f, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(f->buf + f->len, sizeof(f->buf) - f->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        f->len += (size_t)n < sizeof(f->buf) - f->len ? (size_t)n : sizeof(f->buf) - f->len - 1;
}

/* ", KEY=<ADDR>" (log_angle(): quoted when it holds what a log reader could trip on). */
static void
reject_addr(struct reject_fields *f, const char *key, const char *p, size_t len)
{
    char q[LOG_ANGLE_CAP];

    reject_add(f, ", %s=%s", key, log_angle(q, sizeof(q), p, len));
}

/*
 * The address a refused MAIL or RCPT tried (", from=<...>" or ", to=<...>"),
 * parsed again from the command line being handled: a refusal may come
 * before the handler has parsed it, or because it did not parse. An
 * argument that does not parse is logged as it came: ", arg="..."".
 */
static void
reject_tried(const struct smtp_session *s, struct reject_fields *f)
{
    bool mail = s->verb == SMTP_VERB_MAIL;
    struct smtp_cmd c;
    struct smtp_mail m;
    struct smtp_rcpt r;
    const struct smtp_addr *a = mail ? &m.from : &r.to;
    char q[LOG_QUOTE_CAP];

    if (s->cmd_line.len == 0 || smtp_cmd_parse(s->cmd_line, &c) == -1 || c.verb != s->verb)
        return;
    if ((mail ? smtp_parse_mail(c.arg, &m) : smtp_parse_rcpt(c.arg, &r)) == SMTP_ARG_OK)
        reject_addr(f, mail ? "from" : "to", a->text, a->len);
    else
        reject_add(f, ", arg=\"%s\"", log_quote(q, sizeof(q), c.arg.p, c.arg.len));
}

/*
 * The log line of a refusal (README.md "Logs"): who, which command, then
 * what is known of the transaction, in this order: helo= when the client
 * gave one; from=, the sender a refused MAIL tried, else the transaction's
 * once a MAIL was accepted; to=, the recipient a refused RCPT tried; then
 * the reply. Peer bytes are quoted.
 */
static void
session_log_reject(const struct smtp_session *s, const char *reply, size_t len)
{
    struct reject_fields f = {.len = 0};
    char q[LOG_QUOTE_CAP];

    f.buf[0] = '\0';
    if (s->helo[0] != '\0')
        reject_add(&f, ", helo=%s", log_quote(q, sizeof(q), s->helo, strlen(s->helo)));
    if (s->verb != SMTP_VERB_MAIL && txn_has_sender(s))
        reject_addr(&f, "from", s->txn.mail.from.text, s->txn.mail.from.len);
    if (s->verb == SMTP_VERB_MAIL || s->verb == SMTP_VERB_RCPT)
        reject_tried(s, &f);
    log_info("%s: sid=%s, client=[%s], door=%s, event=reject, cmd=%s%s, reply=\"%.*s\"%s",
             session_log_id(s), s->sid, s->client_addr, conf_role_name(s->door->role),
             s->state == SMTP_ST_CONNECTED ? "CONNECT" : smtp_verb_name(s->verb), f.buf, (int)len,
             reply, s->reject_note);
}

void
smtp_reply(struct smtp_session *s, enum smtp_reply_id id, const char *arg)
{
    const struct smtp_reply_def *d = smtp_reply_def(id);
    char line[600];
    size_t n;

    if (s->state == SMTP_ST_CLOSING)
        return;
    n = smtp_reply_format(line, sizeof(line), id, arg);
    if (n == 0)
        log_panic("reply %d does not fit", (int)id);
    session_write(s, line, n);
    (void)str_copy(s->last_reply, sizeof(s->last_reply), line, strcspn(line, "\r"));
    if (id != R_GREETING) {
        struct watch_event ev = {.kind = WATCH_REPLY,
                                 .code = (unsigned)smtp_reply_code(id, arg),
                                 .reason = smtp_reply_name(id)};

        session_watch(s, &ev);
    }
    if (smtp_reply_code(id, arg) >= 400)
        session_log_reject(s, line, n - 2);
    s->reject_note[0] = '\0';
    if (d->counts_error && ++s->errors >= s->door->max_errors) {
        smtp_reply(s, R_TOO_MANY_ERRORS, s->conf->hostname);
        session_close(s);
    }
}

void
session_watch(const struct smtp_session *s, struct watch_event *ev)
{
    ev->door = s->door->role;
    ev->family = s->client_family;
    ev->addr = s->client_bin;
    if (ev->user == NULL && s->auth_user[0] != '\0')
        ev->user = s->auth_user;
    watch_note(s->env->watch, ev);
}

/* The connection's fate at the start of the session. */
static void
session_watch_connect(struct smtp_session *s, enum watch_connect result)
{
    struct watch_event ev = {.kind = WATCH_CONNECT, .connect = result};

    session_watch(s, &ev);
    s->watched_open = result == WATCH_CONNECT_ACCEPTED;
}

void
session_close(struct smtp_session *s)
{
    if (s->state == SMTP_ST_CLOSING)
        return;
    session_set_state(s, SMTP_ST_CLOSING);
    (void)bufferevent_disable(s->bev, EV_READ);
}

/* The door's own port (the connection's local end), for the scanner table; 0 if unknown. */
static unsigned
session_local_port(const struct smtp_session *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(bufferevent_getfd(s->bev), (struct sockaddr *)&ss, &len) == -1)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
    if (ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

/* The session was a scanner of kind: counted once (gate26_scanner_sessions_total). */
static void
session_watch_scanner(struct smtp_session *s, enum watch_scan kind)
{
    struct watch_event ev = {.kind = WATCH_SCANNER, .scan = kind};

    if (s->scanned)
        return;
    s->scanned = true;
    ev.port = session_local_port(s);
    session_watch(s, &ev);
}

/*
 * Sniffing applies before EHLO/HELO on a plain door (docs/scanners.md): not
 * on the implicit-TLS door, not inside TLS, not in the middle of a line
 * being skipped.
 */
static bool
session_sniffed_door(const struct smtp_session *s)
{
    return !s->tls && s->door->tls != CONF_TLS_IMPLICIT && !s->skip_line && s->skip_octets == 0;
}

static bool
session_sniffing(const struct smtp_session *s)
{
    return s->state == SMTP_ST_GREETED && session_sniffed_door(s);
}

/* What the buffered input is, as sniff_input() says (final: nothing more will come). */
static enum sniff_kind
session_sniff_input(struct smtp_session *s, bool final)
{
    unsigned char head[SNIFF_WINDOW];
    ev_ssize_t n = evbuffer_copyout(bufferevent_get_input(s->bev), head, sizeof(head));

    return sniff_input(head, n > 0 ? (size_t)n : 0, final);
}

static enum watch_scan
scan_of(enum sniff_kind k)
{
    switch (k) {
    case SNIFF_HTTP:
        return WATCH_SCAN_HTTP;
    case SNIFF_TLS:
        return WATCH_SCAN_TLS;
    case SNIFF_SSH:
        return WATCH_SCAN_SSH;
    case SNIFF_PROXY:
        return WATCH_SCAN_PROXY;
    case SNIFF_BINARY:
        return WATCH_SCAN_BINARY;
    case SNIFF_MORE:
    case SNIFF_SMTP:
        break;
    }
    log_panic("scan_of: not a scanner kind %d", (int)k);
}

/*
 * Before a line is read on a plain door before EHLO/HELO: true when the
 * input may be read as SMTP. False when it must wait for more, or when it
 * is a scanner's: then 554 5.7.0 (a TLS ClientHello gets nothing: it would
 * not read it), and the session closes.
 */
static bool
session_sniff(struct smtp_session *s)
{
    enum sniff_kind k = session_sniff_input(s, s->peer_eof);
    struct evbuffer *in = bufferevent_get_input(s->bev);

    if (k == SNIFF_SMTP)
        return true;
    if (k == SNIFF_MORE)
        return false;
    session_watch_scanner(s, scan_of(k));
    (void)str_fmt(s->reject_note, sizeof(s->reject_note), ", scanner=%s", sniff_kind_name(k));
    if (k == SNIFF_TLS) {
        log_info("-: sid=%s, client=[%s], door=%s, event=reject, cmd=CONNECT, scanner=tls", s->sid,
                 s->client_addr, conf_role_name(s->door->role));
        s->reject_note[0] = '\0';
    } else {
        s->verb = SMTP_VERB_UNKNOWN;
        smtp_reply(s, R_NOT_SMTP, s->conf->hostname);
    }
    (void)evbuffer_drain(in, evbuffer_get_length(in));
    session_close(s);
    return false;
}

/*
 * A session that ends before any command line is a silent scanner's
 * (docs/scanners.md); what it did send, if anything, may say more (an
 * HTTP request line without its end). Not when the daemon ends it.
 */
static void
session_count_silent(struct smtp_session *s)
{
    enum sniff_kind k;

    if (!s->watched_open || s->had_line || s->scanned || stopping || draining)
        return;
    /* Without a command line it never left SMTP_ST_GREETED (it is closing now). */
    k = session_sniffed_door(s) ? session_sniff_input(s, true) : SNIFF_SMTP;
    session_watch_scanner(s, k == SNIFF_SMTP ? WATCH_SCAN_SILENT : scan_of(k));
}

/* Frees s and everything it holds; the peer's socket closes with it. */
static void
session_free(struct smtp_session *s)
{
    smtp_end_fn *on_end = s->on_end;
    void *on_end_arg = s->on_end_arg;

    smtp_txn_reset(s);
    smtp_auth_clear(s);
    checks_session_free(s->checks);
    if (s->tls && !s->tls_up)
        metrics_tls_failure(s->door->role); /* the handshake never finished */
    session_count_silent(s);
    if (s->watched_open) {
        struct watch_event ev = {.kind = WATCH_CLOSE};

        session_watch(s, &ev);
    }
    log_info("-: sid=%s, client=[%s], door=%s, event=disconnect, messages=%u, errors=%u", s->sid,
             s->client_addr, conf_role_name(s->door->role), s->n_messages, s->errors);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        sessions = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    n_sessions--;
    smtp_tls_close(s);
    bufferevent_free(s->bev);
    conf_unref(s->conf);
    free(s);
    if (on_end != NULL)
        on_end(on_end_arg);
}

/*
 * Sends the queued replies now, with one writev(2), instead of arming
 * EV_WRITE and waiting for the next loop turn (two epoll_ctl calls per
 * reply for a client that does not pipeline). Only what the socket does not
 * take is left to libevent, with EV_WRITE and its timeout; session_write_cb
 * turns EV_WRITE off again once that is sent. Returns true when nothing is
 * left to send.
 */
static bool
session_flush(struct smtp_session *s)
{
    struct evbuffer *out = bufferevent_get_output(s->bev);

    if (evbuffer_get_length(out) == 0)
        return true;
    if (s->tls)
        return false; /* OpenSSL's bufferevent writes it (EV_WRITE stays on) */
    if (!(bufferevent_get_enabled(s->bev) & EV_WRITE)) {
        int n;

        /* As libevent's own write callback does: the buffer is frozen for us. */
        (void)evbuffer_unfreeze(out, 1);
        n = evbuffer_write(out, bufferevent_getfd(s->bev));
        (void)evbuffer_freeze(out, 1);
        if (n == -1 && errno != EAGAIN && errno != EINTR) {
            s->peer_gone = true; /* EPIPE, ECONNRESET: nobody to answer */
            return false;
        }
        if (evbuffer_get_length(out) == 0)
            return true;
        (void)bufferevent_enable(s->bev, EV_WRITE);
    }
    return false;
}

/*
 * The end of every callback: a peer that will send nothing more is done
 * with once its buffered commands have been handled (a client may half-close
 * after pipelining everything and still read the replies); a closed session
 * is freed once its output is sent.
 */
static void
session_finish(struct smtp_session *s)
{
    bool sent = s->peer_gone || session_flush(s);

    if (s->state == SMTP_ST_COMMIT || s->state == SMTP_ST_AUTH_CHECK ||
        (session_waiting(s) && !s->peer_gone))
        return; /* content_committed(), the AUTH check or the verification comes back here */
    if (s->state == SMTP_ST_STARTTLS && !s->peer_gone && !s->peer_eof) {
        /* The 220 must be out in the clear before TLS starts (write_cb comes back). */
        if (!sent || smtp_tls_switch(s))
            return;
        sent = session_flush(s); /* TLS could not start: the 454, then close */
    }
    if (s->peer_gone || s->peer_eof)
        session_close(s);
    if (s->state == SMTP_ST_CLOSING && (s->peer_gone || sent))
        session_free(s);
}

void
session_resume(struct smtp_session *s)
{
    if (!s->peer_gone)
        session_run(s);
    session_finish(s);
}

/*
 * Discards the rest of an overlong command line up to its CRLF, then
 * answers it once. Returns true when the line has ended.
 */
static bool
session_skip_line(struct smtp_session *s, struct evbuffer *in)
{
    size_t avail = evbuffer_get_length(in);
    struct evbuffer_ptr at = evbuffer_search(in, "\r\n", 2, NULL);

    if (at.pos == -1) {
        /* Keep a last CR: its LF may be in the next read. */
        (void)evbuffer_drain(in, avail - 1);
        return false;
    }
    (void)evbuffer_drain(in, (size_t)at.pos + 2);
    s->skip_line = false;
    smtp_reply(s, R_LINE_TOO_LONG, NULL);
    return true;
}

/* The verb of a line too long to be read whole, for the log line. */
static enum smtp_verb
session_peek_verb(struct evbuffer *in)
{
    char head[16];
    ev_ssize_t n = evbuffer_copyout(in, head, sizeof(head));
    struct smtp_cmd c;
    size_t len = 0;

    while (n > 0 && len < (size_t)n && head[len] != ' ')
        len++;
    if (n <= 0 || len == (size_t)n || smtp_cmd_parse(slice_make(head, len), &c) == -1)
        return SMTP_VERB_UNKNOWN;
    return c.verb;
}

/*
 * The client's line at debug level. Inside an AUTH exchange (the state, not
 * the text, says so) a line is a SASL response: only its length is logged.
 * Of an AUTH command only "AUTH MECHANISM" is shown, never its initial
 * response (RFC 4954 4).
 */
static void
session_log_in(const struct smtp_session *s, const char *line, size_t len)
{
    size_t shown = s->state == SMTP_ST_AUTH ? 0 : log_auth_shown(line, len);

    if (s->state == SMTP_ST_AUTH || (shown > 0 && shown < len))
        log_dialogue_redacted(session_log_id(s), "sid", s->sid, "in", line, shown,
                              len - shown - (shown > 0)); /* the SP after it is no secret */
    else
        log_dialogue(session_log_id(s), "sid", s->sid, "in", line, len);
}

/* One whole line from the client: a command, or a response inside an AUTH exchange. */
static void
session_handle_line(struct smtp_session *s, const char *line, size_t len)
{
    struct slice outer = s->cmd_line; /* a nested run (a callback that came at once) */

    if (log_enabled(LOG_LEVEL_DEBUG))
        session_log_in(s, line, len);
    s->had_line = true;
    /* A SASL response is never kept for a log line. */
    s->cmd_line = s->state == SMTP_ST_AUTH ? slice_make("", 0) : slice_make(line, len);
    smtp_command(s, line, len);
    s->cmd_line = outer;
}

/*
 * Takes one command line from the input and runs it. The cap comes first:
 * a line without CRLF in its first CAP_LINE_READ octets is too long whatever
 * follows (RFC 5321 4.5.3.1.4). Returns false when a whole line is not there
 * yet.
 */
static bool
session_read_line(struct smtp_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    size_t avail = evbuffer_get_length(in);
    size_t look = avail < CAP_LINE_READ ? avail : CAP_LINE_READ;
    struct evbuffer_ptr end, at;
    char line[CAP_LINE_READ];

    if (avail == 0)
        return false;
    if (s->skip_octets > 0) {
        size_t n = s->skip_octets < avail ? (size_t)s->skip_octets : avail;

        (void)evbuffer_drain(in, n);
        s->skip_octets -= n;
        return s->skip_octets == 0;
    }
    if (s->skip_line)
        return session_skip_line(s, in);
    if (evbuffer_ptr_set(in, &end, look, EVBUFFER_PTR_SET) == -1)
        log_panic("evbuffer_ptr_set");
    at = evbuffer_search_range(in, "\r\n", 2, NULL, &end);
    if (at.pos == -1) {
        if (avail >= CAP_LINE_READ) {
            s->skip_line = true;
            s->verb = session_peek_verb(in);
            /* Not shown: it may be an AUTH line; the refusal names its verb. */
            log_debug("%s: sid=%s, dir=in, too-long=yes", session_log_id(s), s->sid);
            return true;
        }
        return false;
    }
    if (evbuffer_remove(in, line, (size_t)at.pos) != at.pos)
        log_panic("evbuffer_remove");
    (void)evbuffer_drain(in, 2);
    session_handle_line(s, line, (size_t)at.pos);
    return true;
}

/* Between MAIL and the reply to the message's end. */
static bool
in_transaction(const struct smtp_session *s)
{
    return s->state == SMTP_ST_MAIL || s->state == SMTP_ST_RCPT || s->state == SMTP_ST_VERIFY ||
           s->state == SMTP_ST_CHECK_RCPT || s->state == SMTP_ST_CHECK_DATA ||
           s->state == SMTP_ST_DATA || s->state == SMTP_ST_BDAT || s->state == SMTP_ST_BDAT_WAIT ||
           s->state == SMTP_ST_COMMIT;
}

/* Handles buffered input until it runs out or the session must wait. */
static void
session_run(struct smtp_session *s)
{
    struct evbuffer *out = bufferevent_get_output(s->bev);

    for (;;) {
        if (stopping || s->state == SMTP_ST_CLOSING || s->state == SMTP_ST_COMMIT ||
            s->state == SMTP_ST_STARTTLS || s->state == SMTP_ST_AUTH_CHECK || session_waiting(s))
            return;
        if (draining && !in_transaction(s)) {
            /* Shutting down: its transaction (if any) has ended; no new one. */
            smtp_reply(s, R_SHUTDOWN, s->conf->hostname);
            session_close(s);
            return;
        }
        if (evbuffer_get_length(out) > CAP_SESSION_OUTPUT && !session_flush(s) &&
            evbuffer_get_length(out) > CAP_SESSION_OUTPUT) {
            /* A client that pipelines without reading: wait for it (write_cb). */
            s->output_full = true;
            return;
        }
        if (s->state == SMTP_ST_DATA || s->state == SMTP_ST_BDAT) {
            if (!content_read(s))
                return;
        } else if (session_sniffing(s) && !session_sniff(s)) {
            return;
        } else if (!session_read_line(s)) {
            return;
        }
    }
}

static void
session_read_cb(struct bufferevent *bev, void *arg)
{
    struct smtp_session *s = arg;

    (void)bev;
    session_run(s);
    session_finish(s);
}

static void
session_write_cb(struct bufferevent *bev, void *arg)
{
    struct smtp_session *s = arg;

    /* libevent sent what session_flush could not: back to direct writes (not in TLS). */
    if (!s->tls)
        (void)bufferevent_disable(bev, EV_WRITE);
    if (s->output_full && s->state != SMTP_ST_CLOSING) {
        s->output_full = false;
        session_run(s);
    }
    session_finish(s);
}

static void
session_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct smtp_session *s = arg;

    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        smtp_tls_up(s); /* the handshake is done */
    } else if (what & BEV_EVENT_TIMEOUT) {
        if ((s->state == SMTP_ST_COMMIT || s->state == SMTP_ST_AUTH_CHECK || session_waiting(s)) &&
            (what & BEV_EVENT_READING)) {
            /* Our own wait, not the peer's: keep listening. */
            (void)bufferevent_enable(s->bev, EV_READ);
            return;
        }
        if (s->state == SMTP_ST_CLOSING || (what & BEV_EVENT_WRITING)) {
            s->peer_gone = true; /* it does not read what we send */
        } else {
            log_info("%s: sid=%s, client=[%s], event=timeout, state=%s", session_log_id(s), s->sid,
                     s->client_addr, state_names[s->state]);
            /* The 421 goes out in session_finish, for at most one more timeout. */
            smtp_reply(s, R_TIMEOUT, s->conf->hostname);
            session_close(s);
        }
    } else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        char tls_err[512];

        if (what & BEV_EVENT_ERROR)
            s->peer_gone = true;
        if (smtp_tls_error(s, tls_err, sizeof(tls_err)) != NULL)
            log_info("-: sid=%s, client=[%s], event=tls-error, handshake=%s, error=\"%s\"", s->sid,
                     s->client_addr, s->tls_up ? "done" : "failed", tls_err);
        s->peer_eof = true;
        if (!s->peer_gone)
            session_run(s); /* what it sent before the EOF */
        if (s->state != SMTP_ST_CLOSING && s->state != SMTP_ST_COMMIT && s->txn.msg != NULL)
            log_info("%s: sid=%s, client=[%s], event=lost, state=%s", session_log_id(s), s->sid,
                     s->client_addr, state_names[s->state]);
    }
    session_finish(s);
}

/* Fills the client's address fields from the peer sockaddr. */
static void
session_set_client(struct smtp_session *s, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        s->client_port = ntohs(in6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            s->client_family = AF_INET;
            memcpy(s->client_bin, in6->sin6_addr.s6_addr + 12, 4);
        } else {
            s->client_family = AF_INET6;
            memcpy(s->client_bin, in6->sin6_addr.s6_addr, 16);
        }
    } else {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;

        s->client_port = ntohs(in4->sin_port);
        s->client_family = AF_INET;
        memcpy(s->client_bin, &in4->sin_addr, 4);
    }
    if (inet_ntop(s->client_family, s->client_bin, s->client_addr, sizeof(s->client_addr)) == NULL)
        log_panic("inet_ntop: %s", strerror(errno));
}

/* Octets the client sent, as they arrive (gate26_received_bytes_total). */
static void
session_input_cb(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
    const struct smtp_session *s = arg;

    (void)in;
    if (info->n_added > 0)
        metrics_received(s->door->role, info->n_added);
}

void
session_bev_setup(struct smtp_session *s)
{
    if (evbuffer_add_cb(bufferevent_get_input(s->bev), session_input_cb, s) == NULL)
        log_panic("evbuffer_add_cb failed");
    bufferevent_setcb(s->bev, session_read_cb, session_write_cb, session_event_cb, s);
    bufferevent_setwatermark(s->bev, EV_READ, 0, CAP_SESSION_INPUT);
    session_set_timeouts(s, false);
}

void
smtp_session_start(const struct smtp_env *env, const struct smtp_accept *a)
{
    struct smtp_session *s = xcalloc(1, sizeof(*s));

    s->env = env;
    s->conf = conf_ref(a->conf);
    s->door = a->door;
    s->on_end = a->on_end;
    s->on_end_arg = a->on_end_arg;
    s->txn.content_error = R_NONE;
    (void)str_fmt(s->sid, sizeof(s->sid), "%lx", next_sid++ & 0xffffffffUL);
    session_set_client(s, a->peer);
    if (s->door->tls == CONF_TLS_IMPLICIT) {
        if (!smtp_tls_accept(s, a->fd)) {
            /* No TLS to offer (logged): a plain 421 would not be understood either. */
            (void)close(a->fd);
            conf_unref(s->conf);
            free(s);
            if (a->on_end != NULL)
                a->on_end(a->on_end_arg);
            return;
        }
    } else {
        s->bev = bufferevent_socket_new(env->base, a->fd, BEV_OPT_CLOSE_ON_FREE);
        if (s->bev == NULL)
            log_panic("bufferevent_socket_new failed");
        session_bev_setup(s);
    }
    s->next = sessions;
    if (sessions != NULL)
        sessions->prev = s;
    sessions = s;
    n_sessions++;
    log_info("-: sid=%s, client=[%s]:%u, door=%s, event=connect", s->sid, s->client_addr,
             s->client_port, conf_role_name(s->door->role));

    if (!policy_may_connect(s->door, s->client_family, s->client_bin)) {
        session_watch_connect(s, WATCH_CONNECT_DENIED);
        smtp_reply(s, R_CONNECT_DENIED, NULL);
        session_close(s);
    } else {
        session_watch_connect(s, WATCH_CONNECT_ACCEPTED);
        if (!smtp_checks_connect(s))
            session_greet(s);
    }
    session_finish(s);
}

void
session_greet(struct smtp_session *s)
{
    smtp_reply(s, R_GREETING, s->conf->hostname);
    session_set_state(s, SMTP_ST_GREETED);
    /* EV_WRITE only while a reply waits for a slow reader (session_flush), or in TLS. */
    (void)bufferevent_enable(s->bev, s->tls ? EV_READ | EV_WRITE : EV_READ);
}

void
smtp_refuse_busy(int fd, const char *hostname)
{
    char line[600];
    size_t n = smtp_reply_format(line, sizeof(line), R_TOO_MANY_SESSIONS, hostname);

    (void)!send(fd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)close(fd);
}

void
smtp_refuse(int fd, enum smtp_refusal why, const char *hostname, char *text, size_t cap)
{
    static const enum smtp_reply_id ids[] = {
        [SMTP_REFUSE_BUSY] = R_TOO_MANY_SESSIONS,
        [SMTP_REFUSE_CLIENT_SESSIONS] = R_CLIENT_SESSIONS,
        [SMTP_REFUSE_CLIENT_RATE] = R_CLIENT_RATE,
    };
    char line[600];
    size_t n = smtp_reply_format(line, sizeof(line), ids[why], hostname);

    (void)!send(fd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)close(fd);
    (void)str_copy(text, cap, line, n >= 2 ? n - 2 : 0);
}

size_t
smtp_session_drain(void)
{
    struct smtp_session *s = sessions;
    size_t left = 0;

    draining = true;
    while (s != NULL) {
        struct smtp_session *next = s->next;

        if (s->state != SMTP_ST_CLOSING && !in_transaction(s)) {
            smtp_reply(s, R_SHUTDOWN, s->conf->hostname);
            session_close(s);
            session_finish(s);
        } else if (s->state != SMTP_ST_CLOSING) {
            left++;
        }
        s = next;
    }
    return left;
}

void
smtp_session_close_all(void)
{
    struct smtp_session *s = sessions;

    stopping = true;
    while (s != NULL) {
        struct smtp_session *next = s->next;

        if (s->state == SMTP_ST_COMMIT) {
            /* Its commit callback answers it and then ends it. */
            s->peer_gone = true;
        } else {
            smtp_reply(s, R_SHUTDOWN, s->conf->hostname);
            /* One non-blocking attempt: the loop will not run to finish it. */
            (void)bufferevent_disable(s->bev, EV_WRITE);
            (void)session_flush(s);
            session_close(s);
            session_free(s);
        }
        s = next;
    }
}
