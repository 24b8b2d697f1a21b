/* SPDX-License-Identifier: MIT */
/*
 * The control socket in the daemon (ctl.h): accepts on SPOOL/control,
 * reads one request line (at most CTL_REQUEST_MAX octets, within
 * CTL_TIMEOUT seconds), runs it through the scheduler (a command on several
 * messages waits until every one of them has ended), writes "ok" or
 * "error: ..." and the body, and closes once the answer is sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "ctl/console_auth.h"
#include "ctl/alerts.h"
#include "ctl/ctl.h"
#include "ctl/format.h"
#include "ctl/quarantine.h"
#include "ctl/request.h"
#include "ctl/scanners.h"
#include "ctl/series.h"
#include "ctl/status.h"
#include "conf/conf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define CTL_TIMEOUT 10

struct ctl_conn {
    struct ctl *ctl;
    struct ctl_conn *prev, *next;
    struct bufferevent *bev;
    bool waiting;              /* for a queue command's callbacks */
    struct ctl_batch *batch;   /* the command on many messages it waits for */
    struct ctl_qbatch *qbatch; /* or the quarantine's release|delete */
    bool answered;             /* the answer is in the output: close once it is sent */
    bool peer_gone;            /* free when the callback comes */
};

/* One message of a batch, as it ended. */
struct batch_result {
    int status;
    int err;
};

/* A command on several messages: answered once every one has ended. */
struct ctl_batch {
    struct ctl_conn *conn;
    enum ctl_verb verb;
    size_t n, left;
    bool starting; /* inside sched_command: answer only after it returns */
    char (*ids)[SPOOL_ID_LEN + 1];
    struct batch_result *res;
};

/* A quarantine release|delete on the spool's thread: answered once every id has ended. */
struct ctl_qbatch {
    struct ctl_conn *conn; /* NULL once the connection is gone */
    bool release;
    size_t n, left, done;
    struct evbuffer *body; /* the ids' lines, in the order asked (the thread keeps it) */
};

struct ctl {
    struct event_base *base;
    struct sched *sched;
    struct policy_limits *limits; /* for unlock */
    struct watch *watch;          /* for status: borrowed, may be NULL */
    struct spool *spool;          /* for quarantine: borrowed, may be NULL */
    struct conf *conf;            /* for console-login: a reference, NULL until set */
    struct evconnlistener *listener;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int dir_fd; /* the spool directory: the socket goes by name in it, after root is gone too */
    struct ctl_conn *conns;
};

static void
conn_free(struct ctl_conn *c)
{
    /* A command still in flight reports to nobody (the spool has stopped: it will not). */
    if (c->batch != NULL)
        c->batch->conn = NULL;
    if (c->qbatch != NULL)
        c->qbatch->conn = NULL;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        c->ctl->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    if (c->bev != NULL)
        bufferevent_free(c->bev);
    free(c);
}

/* Puts the status line and the body in the output; the connection closes once it is sent. */
static void
answer(struct ctl_conn *c, int status, const char *text, struct evbuffer *body)
{
    struct evbuffer *out;

    c->waiting = false;
    if (c->peer_gone) {
        conn_free(c);
        return;
    }
    out = bufferevent_get_output(c->bev);
    if (status == 0)
        (void)evbuffer_add_printf(out, "ok\n");
    else
        (void)evbuffer_add_printf(out, "error: %s\n", text);
    if (status == 0 && text != NULL && body == NULL)
        (void)evbuffer_add_printf(out, "%s\n", text);
    if (body != NULL)
        (void)evbuffer_add_buffer(out, body);
    c->answered = true;
    (void)bufferevent_disable(c->bev, EV_READ);
    (void)bufferevent_enable(c->bev, EV_WRITE);
}

/* The refusal of a whole request about message id (show). */
static void
answer_errno(struct ctl_conn *c, const char *id, int err)
{
    char text[160];

    if (err == ENOENT)
        (void)str_fmt(text, sizeof(text), "no message %s in the queue", id);
    else
        (void)str_fmt(text, sizeof(text), "%s: %s", id, strerror(err));
    answer(c, -1, text, NULL);
}

struct list_ctx {
    struct evbuffer *body;
    time_t now;
    bool json;
    const struct ctl_select *sel; /* NULL: every message */
    size_t limit;                 /* list at most this many (0: all); n counts every match */
    size_t n;
};

static void
list_one(void *arg, const struct sched_info *info)
{
    struct list_ctx *l = arg;

    if (l->sel != NULL && !ctl_select_match(l->sel, &info->q->env, info->held))
        return;
    if (l->limit > 0 && l->n >= l->limit) {
        l->n++;
        return;
    }
    if (l->json && l->n > 0)
        (void)evbuffer_add(l->body, ",\n", 2);
    ctl_format_list_entry(l->body, info, l->now, l->json);
    l->n++;
}

static void
show_one(void *arg, const struct sched_info *info)
{
    struct list_ctx *l = arg;

    if (l->n++ > 0)
        (void)evbuffer_add(l->body, "\n", 1);
    ctl_format_show(l->body, info, l->now);
}

static void
run_list(struct ctl_conn *c, const struct ctl_request *req)
{
    struct list_ctx l = {.body = evbuffer_new(),
                         .now = time(NULL),
                         .json = req->verb == CTL_LIST_JSON,
                         .sel = req->has_select ? &req->sel : NULL,
                         .limit = req->limit};

    ctl_format_list_begin(l.body, l.json);
    (void)sched_list(c->ctl->sched, list_one, &l);
    ctl_format_list_end(l.body, l.json, l.limit > 0 && l.n > l.limit ? l.limit : l.n, l.n);
    answer(c, 0, NULL, l.body);
    evbuffer_free(l.body);
}

static void
run_show(struct ctl_conn *c, const struct ctl_request *req)
{
    struct list_ctx l = {.body = evbuffer_new(), .now = time(NULL)};

    for (size_t i = 0; i < req->n_ids; i++) {
        if (sched_show(c->ctl->sched, req->ids[i], show_one, &l) == -1) {
            answer_errno(c, req->ids[i], errno);
            evbuffer_free(l.body);
            return;
        }
    }
    answer(c, 0, NULL, l.body);
    evbuffer_free(l.body);
}

/* ---- Commands on many messages ---- */

static void
batch_free(struct ctl_batch *b)
{
    if (b == NULL)
        return;
    free(b->ids);
    free(b->res);
    free(b);
}

static enum sched_cmd
batch_cmd(enum ctl_verb verb)
{
    switch (verb) {
    case CTL_FLUSH:
        return SCHED_CMD_FLUSH;
    case CTL_HOLD:
        return SCHED_CMD_HOLD;
    case CTL_RELEASE:
        return SCHED_CMD_RELEASE;
    case CTL_DELETE:
        return SCHED_CMD_DELETE;
    case CTL_BOUNCE:
        return SCHED_CMD_BOUNCE;
    default:
        log_panic("queue command %s on messages", ctl_verb_name(verb));
    }
}

/* What was done to a message ("on hold"), or why not. */
static const char *
batch_text(enum ctl_verb verb, const struct batch_result *r)
{
    if (r->status == 0) {
        switch (verb) {
        case CTL_FLUSH:
            return r->err == EINPROGRESS ? "being tried right now" : "to be tried now";
        case CTL_HOLD:
            return "on hold";
        case CTL_RELEASE:
            return "released, tried now";
        case CTL_DELETE:
            return "deleted";
        default:
            return "bounced to its sender";
        }
    }
    switch (r->err) {
    case ENOENT:
        return "no message in the queue";
    case EBUSY:
        return "being delivered right now: try again";
    case EALREADY:
        return verb == CTL_HOLD ? "already on hold" : "not on hold";
    case EPERM:
        return "on hold: release it first";
    case EIO:
        return "its file cannot be read (see the log)";
    default:
        return strerror(r->err);
    }
}

/* "put on hold", as in "3 messages put on hold". */
static const char *
batch_done_words(enum ctl_verb verb)
{
    switch (verb) {
    case CTL_FLUSH:
        return "to be tried now";
    case CTL_HOLD:
        return "put on hold";
    case CTL_RELEASE:
        return "released";
    case CTL_DELETE:
        return "deleted";
    default:
        return "bounced";
    }
}

/* Every message has ended: one line each, then the summary. */
static void
batch_answer(struct ctl_batch *b)
{
    struct evbuffer *body = evbuffer_new();
    struct ctl_conn *c = b->conn;
    size_t done = 0;
    char summary[160];
    int status;

    for (size_t i = 0; i < b->n; i++) {
        const struct batch_result *r = &b->res[i];

        done += r->status == 0;
        (void)evbuffer_add_printf(body, "%c %s: %s\n", r->status == 0 ? '+' : '-', b->ids[i],
                                  batch_text(b->verb, r));
    }
    if (done == b->n)
        (void)str_fmt(summary, sizeof(summary), "%zu message%s %s", b->n, b->n == 1 ? "" : "s",
                      batch_done_words(b->verb));
    else
        (void)str_fmt(summary, sizeof(summary), "%zu of %zu message%s %s, %zu not", done, b->n,
                      b->n == 1 ? "" : "s", batch_done_words(b->verb), b->n - done);
    (void)evbuffer_add_printf(body, "= %s\n", summary);
    status = done == b->n ? 0 : -1;
    batch_free(b);
    if (c != NULL) {
        c->batch = NULL;
        answer(c, status, summary, body);
    }
    evbuffer_free(body);
}

/* unlock CLIENT|USER: the lockouts, not the queue (unlock.c). */
static void
run_unlock(struct ctl_conn *c, const char *arg)
{
    char text[512];
    int status = ctl_unlock_run(c->ctl->limits, arg, text, sizeof(text));

    answer(c, status, text, NULL);
}

/* console-login gate|failed|ok CLIENT [USER]: the console's logins in the lockout (console_auth.c).
 */
static void
run_console_auth(struct ctl_conn *c, const struct ctl_console_auth *a)
{
    char why[160];
    const char *word = ctl_console_auth_run(c->ctl->limits, c->ctl->conf, a, why, sizeof(why));

    answer(c, word != NULL ? 0 : -1, word != NULL ? word : why, NULL);
}

/* status, status-json: what the watcher counts, and the queue (status.c). */
static void
run_status(struct ctl_conn *c, bool json)
{
    struct evbuffer *body = evbuffer_new();

    if (body == NULL)
        log_panic("evbuffer_new failed");
    ctl_status_answer(c->ctl->watch, c->ctl->sched, json, body);
    answer(c, 0, NULL, body);
    evbuffer_free(body);
}

/* A verb whose answer is one document the watcher writes: series-json (series.c), alerts-json
 * (alerts.c). */
static void
run_watch_doc(struct ctl_conn *c, void (*write_doc)(struct watch *, struct evbuffer *))
{
    struct evbuffer *body = evbuffer_new();

    if (body == NULL)
        log_panic("evbuffer_new failed");
    write_doc(c->ctl->watch, body);
    answer(c, 0, NULL, body);
    evbuffer_free(body);
}

/* scanners-json [N]: the scanner table as `gate26 scanners` reads it (docs/scanners.md). */
static void
run_scanners(struct ctl_conn *c, size_t top)
{
    struct evbuffer *body = evbuffer_new();
    char *doc = watch_scanners_json(c->ctl->watch, top);

    if (body == NULL || doc == NULL)
        log_panic("out of memory for the scanners document");
    (void)evbuffer_add_printf(body, "%s\n", doc);
    free(doc);
    answer(c, 0, NULL, body);
    evbuffer_free(body);
}

static void
qbatch_each(void *arg, const char *id, int status, int err, const char *why)
{
    struct ctl_qbatch *b = arg;
    char text[256];
    int rc;

    (void)err;
    ctl_quarantine_line(b->body, id, b->release, status, why);
    b->done += status == 0;
    if (--b->left > 0)
        return;
    rc = ctl_quarantine_summary(b->body, b->release, b->done, b->n, text, sizeof(text));
    if (b->conn != NULL) {
        b->conn->qbatch = NULL;
        answer(b->conn, rc, text, b->body);
    }
    evbuffer_free(b->body);
    free(b);
}

/* quarantine release|delete ID...: each id to the spool's thread (quarantine_run.c parses). */
static void
run_quarantine(struct ctl_conn *c, const char *line, size_t len)
{
    struct ctl_request *req = xmalloc(sizeof(*req));
    char text[256], q[LOG_QUOTE_CAP];
    struct ctl_qbatch *b;
    bool release;

    log_info("-: event=quarantine-command, request=\"%s\"", log_quote(q, sizeof(q), line, len));
    if (c->ctl->spool == NULL) {
        answer(c, -1, "this daemon keeps no quarantine", NULL);
        free(req);
        return;
    }
    if (ctl_quarantine_parse(line, len, &release, req, text, sizeof(text)) == -1) {
        answer(c, -1, text, NULL);
        free(req);
        return;
    }
    b = xcalloc(1, sizeof(*b));
    b->conn = c;
    b->release = release;
    b->n = b->left = req->n_ids;
    b->body = evbuffer_new();
    if (b->body == NULL)
        log_panic("evbuffer_new failed");
    c->qbatch = b;
    c->waiting = true;
    (void)bufferevent_disable(c->bev, EV_READ);
    /* The callbacks come later, on the loop, in this order. */
    for (size_t i = 0; i < req->n_ids; i++)
        spool_quarantine_start(c->ctl->spool, release ? SPOOL_QOP_RELEASE : SPOOL_QOP_DELETE,
                               req->ids[i], qbatch_each, b);
    free(req);
}

static void
batch_each(void *arg, size_t i, int status, int err)
{
    struct ctl_batch *b = arg;

    b->res[i].status = status;
    b->res[i].err = err;
    if (--b->left == 0 && !b->starting)
        batch_answer(b);
}

/* Collects the ids of the messages that match the selectors. */
struct select_ctx {
    const struct ctl_select *sel;
    char (*ids)[SPOOL_ID_LEN + 1];
    size_t n, cap;
};

static void
select_one(void *arg, const struct sched_info *info)
{
    struct select_ctx *x = arg;

    if (!ctl_select_match(x->sel, &info->q->env, info->held))
        return;
    if (x->n == x->cap) {
        x->cap = x->cap == 0 ? 64 : 2 * x->cap;
        x->ids = xrealloc(x->ids, x->cap * sizeof(*x->ids));
    }
    memcpy(x->ids[x->n++], info->q->env.id, SPOOL_ID_LEN + 1);
}

static void
run_batch(struct ctl_conn *c, const struct ctl_request *req)
{
    struct ctl_batch *b = xcalloc(1, sizeof(*b));

    b->conn = c;
    b->verb = req->verb;
    if (req->has_select) {
        struct select_ctx x = {.sel = &req->sel};

        (void)sched_list(c->ctl->sched, select_one, &x);
        b->ids = x.ids;
        b->n = x.n;
    } else {
        b->n = req->n_ids;
        b->ids = xcalloc(b->n + 1, sizeof(*b->ids));
        memcpy(b->ids, req->ids, b->n * sizeof(*b->ids));
    }
    b->res = xcalloc(b->n + 1, sizeof(*b->res));
    b->left = b->n;
    b->starting = true;
    c->batch = b;
    c->waiting = true;
    /* No read timeout while a large command runs: nothing more is read anyway. */
    (void)bufferevent_disable(c->bev, EV_READ);
    sched_command(c->ctl->sched, batch_cmd(req->verb), (const char(*)[SPOOL_ID_LEN + 1]) b->ids,
                  b->n, batch_each, b);
    b->starting = false;
    if (b->left == 0)
        batch_answer(b);
}

static void
run(struct ctl_conn *c, const char *line, size_t len)
{
    struct ctl_request *req = xmalloc(sizeof(*req));
    char why[256], q[LOG_QUOTE_CAP];
    struct ctl_console_auth console_auth;
    long n;
    size_t top;

    /* unlock CLIENT|USER is about the lockouts, not the queue: its argument is one token. */
    if (len >= 6 && memcmp(line, "unlock", 6) == 0 && (len == 6 || line[6] == ' ')) {
        if (len <= 7)
            answer(c, -1, "unlock needs one argument: a client address or a user name", NULL);
        else if (memchr(line + 7, ' ', len - 7) != NULL)
            answer(c, -1, "one argument at most", NULL);
        else
            run_unlock(c, line + 7);
        free(req);
        return;
    }
    switch (ctl_console_auth_parse(line, len, &console_auth, why, sizeof(why))) {
    case 1:
        run_console_auth(c, &console_auth);
        free(req);
        return;
    case -1:
        answer(c, -1, why, NULL);
        free(req);
        return;
    default:
        break;
    }
    if ((len == sizeof(CTL_STATUS_VERB) - 1 && memcmp(line, CTL_STATUS_VERB, len) == 0) ||
        (len == sizeof(CTL_STATUS_JSON_VERB) - 1 && memcmp(line, CTL_STATUS_JSON_VERB, len) == 0)) {
        run_status(c, len == sizeof(CTL_STATUS_JSON_VERB) - 1);
        free(req);
        return;
    }
    if (len == sizeof(CTL_SERIES_JSON_VERB) - 1 && memcmp(line, CTL_SERIES_JSON_VERB, len) == 0) {
        run_watch_doc(c, ctl_series_answer);
        free(req);
        return;
    }
    if (len == sizeof(CTL_ALERTS_JSON_VERB) - 1 && memcmp(line, CTL_ALERTS_JSON_VERB, len) == 0) {
        run_watch_doc(c, ctl_alerts_answer);
        free(req);
        return;
    }
    if (len >= sizeof(CTL_QUARANTINE_VERB) &&
        memcmp(line, CTL_QUARANTINE_VERB " ", sizeof(CTL_QUARANTINE_VERB)) == 0) {
        run_quarantine(c, line, len);
        free(req);
        return;
    }
    switch (ctl_scanners_parse(line, len, &top, why, sizeof(why))) {
    case 1:
        run_scanners(c, top);
        free(req);
        return;
    case -1:
        answer(c, -1, why, NULL);
        free(req);
        return;
    default:
        break;
    }
    if (ctl_request_parse(line, len, req, why, sizeof(why)) == -1) {
        answer(c, -1, why, NULL);
        free(req);
        return;
    }
    log_info("-: event=queue-command, request=\"%s\"", log_quote(q, sizeof(q), line, len));
    switch (req->verb) {
    case CTL_LIST:
    case CTL_LIST_JSON:
        run_list(c, req);
        break;
    case CTL_SHOW:
        run_show(c, req);
        break;
    case CTL_FLUSH:
        if (req->n_ids == 0 && !req->has_select) {
            /* Every message (held ones excepted), as it always was. */
            n = sched_flush(c->ctl->sched);
            (void)str_fmt(why, sizeof(why), "%ld message%s to be tried now", n, n == 1 ? "" : "s");
            answer(c, 0, why, NULL);
            break;
        }
        run_batch(c, req);
        break;
    default:
        run_batch(c, req);
        break;
    }
    free(req);
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
    struct ctl_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = 0;
    char *line;

    if (c->waiting || c->answered)
        return;
    line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
    if (line == NULL) {
        if (evbuffer_get_length(in) > CTL_REQUEST_MAX)
            answer(c, -1, "request line too long", NULL);
        return;
    }
    if (len > CTL_REQUEST_MAX || memchr(line, '\0', len) != NULL)
        answer(c, -1, "bad request line", NULL);
    else
        run(c, line, len);
    free(line);
}

static void
conn_write(struct bufferevent *bev, void *arg)
{
    struct ctl_conn *c = arg;

    (void)bev;
    if (c->answered)
        conn_free(c);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
    struct ctl_conn *c = arg;

    (void)bev;
    (void)what;
    /* EOF, error or timeout: a command in flight still reports; free then. */
    if (c->waiting) {
        c->peer_gone = true;
        bufferevent_free(c->bev);
        c->bev = NULL;
        return;
    }
    conn_free(c);
}

static void
ctl_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    struct ctl *ctl = arg;
    struct ctl_conn *c = xcalloc(1, sizeof(*c));
    struct timeval tv = {CTL_TIMEOUT, 0};

    (void)l;
    (void)sa;
    (void)salen;
    c->ctl = ctl;
    c->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        (void)close(fd);
        free(c);
        return;
    }
    c->next = ctl->conns;
    if (ctl->conns != NULL)
        ctl->conns->prev = c;
    ctl->conns = c;
    bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    (void)bufferevent_enable(c->bev, EV_READ);
}

struct ctl *
ctl_new(struct event_base *base, struct sched *s, struct policy_limits *limits,
        const char *spool_dir, char *err, size_t errcap)
{
    struct ctl *c = xcalloc(1, sizeof(*c));
    struct sockaddr_un sun;
    mode_t old;

    c->base = base;
    c->sched = s;
    c->limits = limits;
    c->dir_fd = -1;
    if (str_fmt(c->path, sizeof(c->path), "%s/%s", spool_dir, CTL_SOCKET_NAME) == -1) {
        (void)str_fmt(err, errcap, "%s/%s: path too long for a socket", spool_dir, CTL_SOCKET_NAME);
        free(c);
        return NULL;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, c->path, strlen(c->path));
    /* A socket that answers belongs to a daemon running on this spool: two must never. */
    {
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (probe != -1 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
            (void)close(probe);
            (void)str_fmt(err, errcap, "%s: another gate26 is running on this spool", c->path);
            free(c);
            return NULL;
        }
        if (probe != -1)
            (void)close(probe);
    }
    /* Opened now, as root may be: a path to the spool may cross directories the user cannot. */
    c->dir_fd = open(spool_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->dir_fd == -1) {
        (void)str_fmt(err, errcap, "%s: %s", spool_dir, strerror(errno));
        free(c);
        return NULL;
    }
    /* Else it was left by a daemon that was killed: replace it. */
    (void)unlinkat(c->dir_fd, CTL_SOCKET_NAME, 0);
    old = umask(0177);
    c->listener =
        evconnlistener_new_bind(base, ctl_accept, c, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                16, (struct sockaddr *)&sun, sizeof(sun));
    (void)umask(old);
    if (c->listener == NULL) {
        (void)str_fmt(err, errcap, "%s: %s", c->path, strerror(errno));
        (void)close(c->dir_fd);
        free(c);
        return NULL;
    }
    if (chmod(c->path, 0600) == -1)
        log_warning("-: control=%s, event=chmod, error=\"%s\"", c->path, strerror(errno));
    log_info("-: control=%s, event=listening", c->path);
    return c;
}

void
ctl_set_spool(struct ctl *c, struct spool *sp)
{
    c->spool = sp;
}

void
ctl_set_conf(struct ctl *c, struct conf *conf)
{
    struct conf *old = c->conf;

    c->conf = conf != NULL ? conf_ref(conf) : NULL;
    conf_unref(old);
}

void
ctl_set_watch(struct ctl *c, struct watch *w)
{
    c->watch = w;
}

const char *
ctl_path(const struct ctl *c)
{
    return c->path;
}

void
ctl_free(struct ctl *c)
{
    if (c == NULL)
        return;
    evconnlistener_free(c->listener);
    (void)unlinkat(c->dir_fd, CTL_SOCKET_NAME, 0);
    (void)close(c->dir_fd);
    while (c->conns != NULL)
        conn_free(c->conns);
    conf_unref(c->conf);
    free(c);
}
