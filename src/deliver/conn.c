/* SPDX-License-Identifier: MIT */
/*
 * One connection of the SMTP client: a non-blocking connect with its
 * timeout, then a bufferevent; replies read line by line (the cap first,
 * then the search for the line end: CAP_REPLY_LINE) into the reply reader;
 * the greeting (RFC 5321 3.1, 4.3.1), EHLO and the fallback to HELO when
 * EHLO gets 5xx (3.2, 4.1.4), QUIT (4.1.1.10); and one timer that holds the
 * wait of the current stage (4.5.3.2). The transaction is in txn.c, the
 * content in data.c.
 *
 * Before a server answers MAIL, whatever goes wrong makes the hop fail and
 * the attempt moves on: a greeting other than 220 or a refused EHLO and
 * HELO get a polite QUIT first (3.1, 3.8); a lost connection, a timeout or
 * a reply that breaks the grammar or the caps close at once. After MAIL was
 * answered the same troubles leave every recipient not yet decided at TEMP.
 *
 * Writes to a server that has gone raise SIGPIPE: the daemon ignores it
 * (daemon.c), as must any other program that uses this module.
 *
 * Texts follow what operators know from other MTAs: "connect to
 * NAME[ADDR]:PORT: Connection refused", "NAME[ADDR]:PORT greeted: 421 ...",
 * "lost connection with NAME[ADDR]:PORT while sending RCPT TO",
 * "conversation with NAME[ADDR]:PORT timed out while receiving the
 * initial greeting".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "deliver/deliver_impl.h"
#include "deliver/line.h"
#include "lib/caps.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* QUIT's reply is waited for this long at most (and never longer than a command's). */
#define DELIVER_QUIT_WAIT 5

static const char *const state_names[] = {
    [DELIVER_ST_CONNECT] = "connect",   [DELIVER_ST_GREETING] = "greeting",
    [DELIVER_ST_EHLO] = "ehlo",         [DELIVER_ST_HELO] = "helo",
    [DELIVER_ST_STARTTLS] = "starttls", [DELIVER_ST_TLS] = "tls",
    [DELIVER_ST_AUTH] = "auth",         [DELIVER_ST_TXN] = "txn",
    [DELIVER_ST_CONTENT] = "content",   [DELIVER_ST_DOT] = "dot",
    [DELIVER_ST_QUIT] = "quit",         [DELIVER_ST_IDLE] = "idle",
    [DELIVER_ST_CLOSED] = "closed",
};

void
deliver_conn_set_state(struct deliver_conn *c, enum deliver_state state)
{
    if (c->state == state)
        return;
    log_debug("%s: relay=%s, state=%s -> %s", deliver_log_id(c->d), c->relay, state_names[c->state],
              state_names[state]);
    c->state = state;
}

/*
 * What we send, at debug level. Inside an AUTH exchange (DELIVER_ST_AUTH:
 * the state, not the text) only "AUTH MECHANISM" of our AUTH command is shown
 * and nothing of the lines after it, each replaced by its length. In the
 * content the only write is the end of data: data.c has logged the size.
 */
static void
conn_log_out(const struct deliver_conn *c, const char *p, size_t len)
{
    const char *id = deliver_log_id(c->d);

    if (c->state == DELIVER_ST_CONTENT)
        return;
    if (c->state != DELIVER_ST_AUTH) {
        log_dialogue(id, "relay", c->relay, "out", p, len);
        return;
    }
    while (len > 0) {
        const char *lf = memchr(p, '\n', len);
        size_t take = lf != NULL ? (size_t)(lf - p) + 1 : len;
        size_t line = take >= 2 && p[take - 2] == '\r' && p[take - 1] == '\n' ? take - 2 : take;
        size_t shown = log_auth_shown(p, line);

        if (shown > 0 && shown == line)
            log_dialogue(id, "relay", c->relay, "out", p, line); /* "AUTH LOGIN": no secret */
        else
            log_dialogue_redacted(id, "relay", c->relay, "out", p, shown,
                                  line - shown - (shown > 0)); /* less the SP after it */
        p += take;
        len -= take;
    }
}

void
deliver_conn_write(struct deliver_conn *c, const char *p, size_t len)
{
    if (log_enabled(LOG_LEVEL_DEBUG))
        conn_log_out(c, p, len);
    if (bufferevent_write(c->bev, p, len) == -1)
        log_panic("bufferevent_write failed");
}

void
deliver_conn_arm(struct deliver_conn *c, unsigned seconds)
{
    struct timeval tv = {(time_t)seconds, 0};

    if (evtimer_add(c->timer, &tv) == -1)
        log_panic("evtimer_add failed");
}

void
deliver_conn_close(struct deliver_conn *c)
{
    if (c->state == DELIVER_ST_CLOSED)
        return;
    deliver_conn_set_state(c, DELIVER_ST_CLOSED);
    (void)evtimer_del(c->timer);
}

void
deliver_conn_quit(struct deliver_conn *c)
{
    unsigned wait = c->d->opts.timeouts.command;

    if (c->state == DELIVER_ST_CLOSED || c->state == DELIVER_ST_QUIT)
        return;
    deliver_conn_write(c, "QUIT\r\n", 6);
    deliver_conn_set_state(c, DELIVER_ST_QUIT);
    deliver_conn_arm(c, wait < DELIVER_QUIT_WAIT ? wait : DELIVER_QUIT_WAIT);
}

const char *
deliver_conn_doing(const struct deliver_conn *c)
{
    size_t n = c->d->msg->n_rcpts;

    switch (c->state) {
    case DELIVER_ST_CONNECT:
        return "connecting";
    case DELIVER_ST_GREETING:
        return "receiving the initial greeting";
    case DELIVER_ST_EHLO:
        return "performing the EHLO handshake";
    case DELIVER_ST_HELO:
        return "performing the HELO handshake";
    case DELIVER_ST_STARTTLS:
        return "sending STARTTLS";
    case DELIVER_ST_TLS:
        return "performing the TLS handshake";
    case DELIVER_ST_AUTH:
        return "performing the AUTH handshake";
    case DELIVER_ST_TXN:
        if (c->expect_len == 0 || c->expect[c->expect_head] == DELIVER_TAG_MAIL)
            return "sending MAIL FROM";
        return c->expect[c->expect_head] <= n ? "sending RCPT TO" : "sending DATA command";
    case DELIVER_ST_CONTENT:
        return "sending message body";
    case DELIVER_ST_DOT:
        return "sending end of data -- message may be sent more than once";
    case DELIVER_ST_QUIT:
    case DELIVER_ST_IDLE:
    case DELIVER_ST_CLOSED:
        break;
    }
    return "sending QUIT";
}

void
deliver_conn_trouble(struct deliver_conn *c, const char *enhanced, const char *text)
{
    if (c->state == DELIVER_ST_CLOSED)
        return;
    if (c->d->decided) {
        deliver_txn_fail_rest(c, 0, enhanced, text, "");
    } else if (c->reused) {
        /* The server closed it while it was idle: a new connection, not the next hop. */
        log_debug("%s: relay=%s, event=reuse-failed, reason=\"%s\"", deliver_log_id(c->d), c->relay,
                  text);
        c->stale = true;
    } else {
        deliver_hop_failed(c->d, c, enhanced, text);
    }
    deliver_conn_close(c);
}

/* "lost connection with X while ..." or "conversation with X timed out while ...". */
static void
conn_lost(struct deliver_conn *c, bool timeout)
{
    char text[DELIVER_TEXT_MAX];

    if (timeout)
        (void)str_fmt(text, sizeof(text), "conversation with %s timed out while %s", c->relay,
                      deliver_conn_doing(c));
    else
        (void)str_fmt(text, sizeof(text), "lost connection with %s while %s", c->relay,
                      deliver_conn_doing(c));
    deliver_conn_trouble(c, "4.4.2", text);
}

/* A reply that breaks the protocol: the stream cannot be trusted any more. */
static void
conn_protocol_error(struct deliver_conn *c, const char *why)
{
    char text[DELIVER_TEXT_MAX];

    (void)str_fmt(text, sizeof(text), "protocol error from %s while %s: %s", c->relay,
                  deliver_conn_doing(c), why);
    deliver_conn_trouble(c, "4.5.0", text);
}

/*
 * The hop refused us before the transaction (greeting, EHLO, HELO): the
 * next hop is tried, so the status is temporary whatever the server's class.
 */
static void
conn_refused(struct deliver_conn *c, const struct deliver_reply *r, const char *how,
             const char *suffix)
{
    char text[DELIVER_TEXT_MAX], enhanced[16];

    (void)str_fmt(text, sizeof(text), "%s %s: %s%s", c->relay, how, r->text, suffix);
    if (r->enhanced[0] != '\0') {
        (void)str_copyz(enhanced, sizeof(enhanced), r->enhanced);
        enhanced[0] = '4';
    } else {
        memcpy(enhanced, "4.5.0", 6);
    }
    deliver_hop_failed(c->d, c, enhanced, text);
    if (r->code / 100 == 3)
        deliver_conn_close(c); /* it waits for something we will not send */
    else
        deliver_conn_quit(c);
}

static void
conn_send_hello(struct deliver_conn *c, const char *verb, enum deliver_state state)
{
    char line[CAP_CMD_LINE];

    if (str_fmt(line, sizeof(line), "%s %s\r\n", verb, c->d->opts.helo) == -1)
        log_panic("deliver: helo name too long");
    deliver_conn_write(c, line, strlen(line));
    deliver_conn_set_state(c, state);
    deliver_conn_arm(c, c->d->opts.timeouts.command);
}

void
deliver_conn_ehlo(struct deliver_conn *c)
{
    conn_send_hello(c, "EHLO", DELIVER_ST_EHLO);
}

/* A whole reply: what it means depends on what we wait for. */
static void
conn_reply(struct deliver_conn *c, const struct deliver_reply *r)
{
    switch (c->state) {
    case DELIVER_ST_GREETING:
        /* Greeting = "220 " ... (RFC 5321 4.2); 554 and 421 refuse service (3.1). */
        if (r->code == 220)
            conn_send_hello(c, "EHLO", DELIVER_ST_EHLO);
        else
            conn_refused(c, r, "greeted", "");
        break;
    case DELIVER_ST_EHLO:
        if (r->code / 100 == 2) {
            deliver_tls_after_ehlo(c);
        } else if (r->code / 100 == 5) {
            /* RFC 5321 3.2: a server that does not know EHLO gets HELO. */
            memset(&c->caps, 0, sizeof(c->caps));
            conn_send_hello(c, "HELO", DELIVER_ST_HELO);
        } else {
            conn_refused(c, r, "said", " (in reply to EHLO command)");
        }
        break;
    case DELIVER_ST_HELO:
        if (r->code / 100 == 2)
            deliver_tls_after_ehlo(c); /* no STARTTLS after HELO: may goes on, encrypt fails */
        else
            conn_refused(c, r, "said", " (in reply to HELO command)");
        break;
    case DELIVER_ST_TXN:
    case DELIVER_ST_CONTENT:
    case DELIVER_ST_DOT:
        deliver_txn_reply(c, r);
        break;
    case DELIVER_ST_STARTTLS:
        deliver_tls_reply(c, r);
        break;
    case DELIVER_ST_AUTH:
        deliver_auth_reply(c, r);
        break;
    case DELIVER_ST_QUIT:
        deliver_conn_close(c);
        break;
    case DELIVER_ST_CONNECT:
    case DELIVER_ST_TLS:
    case DELIVER_ST_IDLE:
    case DELIVER_ST_CLOSED:
        break;
    }
}

/* Reads the whole lines in the input (line.c checks the cap and CR LF) into the reply reader. */
static void
conn_read_replies(struct deliver_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    char line[CAP_REPLY_LINE];

    while (c->state != DELIVER_ST_CLOSED && c->state != DELIVER_ST_IDLE) {
        enum deliver_line_rc lr;
        enum deliver_reply_rc rc;
        struct slice text;
        size_t n;

        lr = deliver_line_take(in, line, &n);
        if (lr == DELIVER_LINE_NONE)
            return;
        if (lr != DELIVER_LINE_OK) {
            conn_protocol_error(c, deliver_line_why(lr));
            return;
        }
        if (log_enabled(LOG_LEVEL_DEBUG))
            log_dialogue(deliver_log_id(c->d), "relay", c->relay, "in", line, n);
        rc = deliver_reply_add(&c->reply, slice_make(line, n), &text);
        if (rc == DELIVER_REPLY_BAD) {
            conn_protocol_error(c, c->reply.error);
            return;
        }
        if (c->state == DELIVER_ST_EHLO && c->reply.code == 250 && c->reply.n_lines > 1)
            (void)deliver_ehlo_line(&c->caps, text);
        if (rc == DELIVER_REPLY_LAST) {
            struct deliver_reply r = c->reply;

            deliver_reply_init(&c->reply);
            conn_reply(c, &r);
        }
    }
}

/*
 * The end of every callback: a closed connection is freed, an idle one goes
 * to the cache, and the attempt goes on (a stale reused one: the same hop
 * again, on a new connection).
 */
static void
conn_finish(struct deliver_conn *c)
{
    struct deliver *d = c->d;
    size_t hop = c->hop;
    bool stale = c->stale, plain_again = c->plain_again;

    if (c->state == DELIVER_ST_IDLE && evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
        /* More than the reply came: the stream is not where we think. */
        deliver_conn_close(c);
    }
    if (c->state == DELIVER_ST_IDLE) {
        d->conn = NULL;
        deliver_cache_put(d->opts.cache, c);
    } else if (c->state == DELIVER_ST_CLOSED) {
        d->conn = NULL;
        deliver_conn_free(c);
    } else {
        return;
    }
    if (stale)
        d->fresh = true;
    if (plain_again)
        d->no_tls = true;
    deliver_after_conn(d, hop, stale || plain_again);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct deliver_conn *c = arg;

    (void)bev;
    conn_read_replies(c);
    conn_finish(c);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct deliver_conn *c = arg;

    (void)bev;
    if (c->state == DELIVER_ST_TXN)
        deliver_txn_writable(c);
    else if (c->state == DELIVER_ST_CONTENT || c->state == DELIVER_ST_DOT)
        deliver_data_writable(c);
    conn_finish(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct deliver_conn *c = arg;

    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        deliver_tls_up(c); /* the TLS handshake is done */
    } else if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) && c->state == DELIVER_ST_TLS) {
        deliver_tls_failed(c);
    } else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (c->state == DELIVER_ST_QUIT) {
            deliver_conn_close(c);
        } else {
            if (what & BEV_EVENT_ERROR)
                log_debug("%s: relay=%s, event=socket-error, error=\"%s\"", deliver_log_id(c->d),
                          c->relay, strerror(errno));
            conn_lost(c, false);
        }
    }
    conn_finish(c);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct deliver_conn *c = arg;

    (void)fd;
    (void)what;
    if (c->state == DELIVER_ST_QUIT)
        deliver_conn_close(c); /* no 221 in time: closing is just as good */
    else
        conn_lost(c, true);
    conn_finish(c);
}

void
deliver_conn_setup_bev(struct deliver_conn *c)
{
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    /* Stop reading ahead of the reply reader; the write callback comes at half the output cap. */
    bufferevent_setwatermark(c->bev, EV_READ, 0, CAP_SESSION_INPUT);
    bufferevent_setwatermark(c->bev, EV_WRITE, CAP_SESSION_OUTPUT / 2, 0);
    if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) == -1)
        log_panic("bufferevent_enable failed");
}

/* The TCP connection is up: the bufferevent takes over the socket. */
static void
conn_connected(struct deliver_conn *c)
{
    struct deliver *d = c->d;

    if (c->connect_ev != NULL) {
        event_free(c->connect_ev);
        c->connect_ev = NULL;
    }
    c->bev = bufferevent_socket_new(d->base, c->fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        log_warning("%s: relay=%s, event=deliver, error=\"bufferevent_socket_new failed\"",
                    deliver_log_id(d), c->relay);
        deliver_conn_trouble(c, "4.3.0", "local error: cannot set up the connection");
        return;
    }
    c->fd = -1;
    deliver_conn_setup_bev(c);
    c->connected_at = deliver_conn_now();
    if (c->key.smtps) {
        deliver_tls_implicit(c); /* RFC 8314 3.3: TLS first, then the greeting inside it */
        return;
    }
    deliver_conn_set_state(c, DELIVER_ST_GREETING);
    deliver_conn_arm(c, d->opts.timeouts.greeting);
}

/* A connect() that failed, with its errno. */
static void
conn_connect_failed(struct deliver_conn *c, int err)
{
    char text[DELIVER_TEXT_MAX];

    (void)str_fmt(text, sizeof(text), "connect to %s: %s", c->relay,
                  err == ETIMEDOUT ? "Connection timed out" : strerror(err));
    deliver_conn_trouble(c, "4.4.1", text);
}

static void
conn_connect_cb(evutil_socket_t fd, short what, void *arg)
{
    struct deliver_conn *c = arg;
    socklen_t len = sizeof(int);
    int err = 0;

    if (what & EV_TIMEOUT)
        err = ETIMEDOUT;
    else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
        err = errno;
    if (err != 0)
        conn_connect_failed(c, err);
    else
        conn_connected(c);
    conn_finish(c);
}

/*
 * "name[addr]:port" of hop. The name may come from DNS data: what could
 * confuse a key=value log line or a bounce becomes '?'.
 */
static void
conn_relay_name(struct deliver_conn *c, const struct deliver_hop *h)
{
    char addr[INET6_ADDRSTRLEN] = "?", name[sizeof(h->name)];
    unsigned port = 0;
    size_t i;

    for (i = 0; i + 1 < sizeof(name) && h->name[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)h->name[i];

        name[i] = ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\' && ch != ',' ? (char)ch : '?';
    }
    name[i] = '\0';

    if (h->sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&h->sa;

        (void)inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
        port = ntohs(in6->sin6_port);
    } else if (h->sa.ss_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)&h->sa;

        (void)inet_ntop(AF_INET, &in4->sin_addr, addr, sizeof(addr));
        port = ntohs(in4->sin_port);
    }
    (void)str_fmt(c->relay, sizeof(c->relay), "%s[%s]:%u", name, addr, port);
}

time_t
deliver_conn_now(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
        log_panic("clock_gettime failed");
    return ts.tv_sec;
}

/* Sets up c's transaction for the recipients of its attempt. */
static void
conn_txn_reset(struct deliver_conn *c)
{
    free(c->expect);
    c->expect = xcalloc(c->d->msg->n_rcpts + 2, sizeof(*c->expect));
    c->expect_head = 0;
    c->expect_len = 0;
    c->next_tag = DELIVER_TAG_MAIL;
    c->mail_ok = false;
    c->stop = false;
    c->n_accepted = 0;
    deliver_reply_init(&c->reply);
}

void
deliver_conn_adopt(struct deliver *d, size_t hop, struct deliver_conn *c)
{
    c->d = d;
    c->hop = hop;
    c->reused = true;
    c->stale = false;
    c->cache = NULL;
    conn_relay_name(c, &d->hops[hop]);
    conn_txn_reset(c);
    c->timer = evtimer_new(d->base, conn_timer_cb, c);
    if (c->timer == NULL)
        log_panic("evtimer_new failed");
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    d->conn = c;
    log_debug("%s: relay=%s, hop=%zu, event=reuse", deliver_log_id(d), c->relay, hop);
    deliver_txn_start(c);
}

void
deliver_conn_done(struct deliver_conn *c)
{
    const struct deliver *d = c->d;

    if (d->opts.cache != NULL && deliver_conn_now() - c->connected_at < DELIVER_REUSE_SECONDS) {
        (void)evtimer_del(c->timer);
        deliver_conn_set_state(c, DELIVER_ST_IDLE);
    } else {
        deliver_conn_quit(c);
    }
}

/* What a connection to hop must be, for this attempt: the cache's key. */
static void
conn_key(const struct deliver *d, const struct deliver_hop *h, struct deliver_conn_key *key)
{
    memset(key, 0, sizeof(*key));
    memcpy(&key->sa, &h->sa, sizeof(key->sa));
    (void)str_copyz(key->helo, sizeof(key->helo), d->opts.helo);
    (void)str_copyz(key->name, sizeof(key->name), h->name);
    key->tls_policy = d->no_tls ? CONF_TLS_POLICY_NONE : d->opts.tls_policy;
    key->smtps = h->smtps;
    key->auth = d->auth_user != NULL;
    if (key->auth)
        memcpy(key->auth_id, d->auth_id, sizeof(key->auth_id));
}

int
deliver_conn_start(struct deliver *d, size_t hop)
{
    const struct deliver_hop *h = &d->hops[hop];
    struct deliver_conn_key key;
    struct deliver_conn *c;

    conn_key(d, h, &key);
    if (d->opts.cache != NULL && !d->fresh) {
        c = deliver_cache_take(d->opts.cache, &key);
        if (c != NULL) {
            deliver_conn_adopt(d, hop, c);
            return 0;
        }
    }
    c = xcalloc(1, sizeof(*c));
    c->d = d;
    c->hop = hop;
    c->fd = -1;
    c->state = DELIVER_ST_CONNECT;
    conn_relay_name(c, h);
    conn_txn_reset(c);
    c->key = key;
    d->conn = c;
    log_debug("%s: relay=%s, hop=%zu, event=connect", deliver_log_id(d), c->relay, hop);

    c->timer = evtimer_new(d->base, conn_timer_cb, c);
    c->fd = socket(h->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->timer == NULL || c->fd == -1) {
        char text[DELIVER_TEXT_MAX];

        (void)str_fmt(text, sizeof(text), "connect to %s: local error: %s", c->relay,
                      c->timer == NULL ? "cannot create a timer" : strerror(errno));
        log_warning("%s: relay=%s, event=deliver, error=\"%s\"", deliver_log_id(d), c->relay, text);
        deliver_hop_failed(d, c, "4.3.0", text);
        deliver_conn_close(c);
    } else if (connect(c->fd, (const struct sockaddr *)&h->sa, h->sa_len) == 0) {
        conn_connected(c);
    } else if (errno == EINPROGRESS) {
        struct timeval tv = {(time_t)d->opts.timeouts.connect, 0};

        c->connect_ev = event_new(d->base, c->fd, EV_WRITE, conn_connect_cb, c);
        if (c->connect_ev == NULL || event_add(c->connect_ev, &tv) == -1)
            log_panic("deliver: cannot watch a connecting socket");
    } else {
        conn_connect_failed(c, errno);
    }
    if (c->state == DELIVER_ST_CLOSED) {
        d->conn = NULL;
        deliver_conn_free(c);
        return -1;
    }
    return 0;
}

void
deliver_conn_free(struct deliver_conn *c)
{
    if (c == NULL)
        return;
    if (c->connect_ev != NULL)
        event_free(c->connect_ev);
    if (c->timer != NULL)
        event_free(c->timer);
    if (c->bev != NULL)
        bufferevent_free(c->bev);
    if (c->fd != -1)
        (void)close(c->fd);
    free(c->chunk);
    free(c->expect);
    free(c);
}
