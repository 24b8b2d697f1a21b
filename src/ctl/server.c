/* SPDX-License-Identifier: MIT */
/*
 * The control socket in the daemon (ctl.h): accepts on SPOOL/control,
 * reads one request line (at most CTL_LINE_MAX octets, within
 * CTL_TIMEOUT seconds), runs it through the scheduler, writes "ok" or
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

#include "ctl/ctl.h"
#include "ctl/format.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define CTL_LINE_MAX 256
#define CTL_TIMEOUT  10

struct ctl_conn {
    struct ctl *ctl;
    struct ctl_conn *prev, *next;
    struct bufferevent *bev;
    bool waiting;   /* for a queue command's callback */
    bool answered;  /* the answer is in the output: close once it is sent */
    bool peer_gone; /* free when the callback comes */
};

struct ctl {
    struct event_base *base;
    struct sched *sched;
    struct policy_limits *limits; /* for unlock */
    struct evconnlistener *listener;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int dir_fd; /* the spool directory: the socket goes by name in it, after root is gone too */
    struct ctl_conn *conns;
};

static void
conn_free(struct ctl_conn *c)
{
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

static void
answer_errno(struct ctl_conn *c, const char *id, int err)
{
    char text[160];

    switch (err) {
    case ENOENT:
        (void)str_fmt(text, sizeof(text), "no message %s in the queue", id);
        break;
    case EBUSY:
        (void)str_fmt(text, sizeof(text), "%s is being delivered right now: try again", id);
        break;
    case EALREADY:
        (void)str_fmt(text, sizeof(text), "%s is already in that state", id);
        break;
    case EPERM:
        (void)str_fmt(text, sizeof(text), "%s is on hold: release it first", id);
        break;
    default:
        (void)str_fmt(text, sizeof(text), "%s: %s", id, strerror(err));
        break;
    }
    answer(c, -1, text, NULL);
}

static void
command_done(void *arg, int status, const char *text)
{
    answer(arg, status, text, NULL);
}

struct list_ctx {
    struct evbuffer *body;
    time_t now;
    bool json;
    size_t n;
};

static void
list_one(void *arg, const struct sched_info *info)
{
    struct list_ctx *l = arg;

    if (l->json && l->n > 0)
        (void)evbuffer_add(l->body, ",\n", 2);
    ctl_format_list_entry(l->body, info, l->now, l->json);
    l->n++;
}

static void
show_one(void *arg, const struct sched_info *info)
{
    struct list_ctx *l = arg;

    ctl_format_show(l->body, info, l->now);
}

static void
run_list(struct ctl_conn *c, bool json)
{
    struct list_ctx l = {.body = evbuffer_new(), .now = time(NULL), .json = json};

    if (json)
        (void)evbuffer_add_printf(l.body, "{\"messages\":[\n");
    else
        ctl_format_list_head(l.body);
    (void)sched_list(c->ctl->sched, list_one, &l);
    if (json)
        (void)evbuffer_add_printf(l.body, "\n]}\n");
    else
        (void)evbuffer_add_printf(l.body, "%zu message%s\n", l.n, l.n == 1 ? "" : "s");
    answer(c, 0, NULL, l.body);
    evbuffer_free(l.body);
}

/* True when id looks like a queue id (checked again by the scheduler). */
static bool
is_id(const char *id)
{
    size_t n = strlen(id);

    if (n != SPOOL_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'F')))
            return false;
    }
    return true;
}

/* unlock CLIENT|USER: the lockouts, not the queue (unlock.c). */
static void
run_unlock(struct ctl_conn *c, const char *arg)
{
    char text[512];
    int status = ctl_unlock_run(c->ctl->limits, arg, text, sizeof(text));

    answer(c, status, text, NULL);
}

static void
run(struct ctl_conn *c, char *line)
{
    struct sched *s = c->ctl->sched;
    char *verb = line, *arg = strchr(line, ' ');
    char text[160];
    int rc;

    if (arg != NULL)
        *arg++ = '\0';
    if (arg != NULL && (arg[0] == '\0' || strchr(arg, ' ') != NULL)) {
        answer(c, -1, "one argument at most", NULL);
        return;
    }
    if (strcmp(verb, "unlock") == 0 && arg != NULL) {
        run_unlock(c, arg);
        return;
    }
    if (arg != NULL && !is_id(arg)) {
        char q[LOG_QUOTE_CAP];

        (void)str_fmt(text, sizeof(text), "not a queue id: \"%s\" (16 hex digits expected)",
                      log_quote(q, sizeof(q), arg, strlen(arg)));
        answer(c, -1, text, NULL);
        return;
    }
    log_info("-: event=queue-command, command=%s, message=%s", verb, arg != NULL ? arg : "-");
    if ((strcmp(verb, "list") == 0 || strcmp(verb, "list-json") == 0) && arg == NULL) {
        run_list(c, verb[4] == '-');
        return;
    }
    if (strcmp(verb, "flush") == 0) {
        long n = sched_flush(s, arg);

        if (n == -1) {
            answer_errno(c, arg, errno);
            return;
        }
        (void)str_fmt(text, sizeof(text), "%ld message%s to be tried now", n, n == 1 ? "" : "s");
        answer(c, 0, text, NULL);
        return;
    }
    if (arg == NULL) {
        (void)str_fmt(text, sizeof(text), "unknown command or missing id: %.32s", verb);
        answer(c, -1, text, NULL);
        return;
    }
    if (strcmp(verb, "show") == 0) {
        struct list_ctx l = {.body = evbuffer_new(), .now = time(NULL)};

        if (sched_show(s, arg, show_one, &l) == -1)
            answer_errno(c, arg, errno);
        else
            answer(c, 0, NULL, l.body);
        evbuffer_free(l.body);
        return;
    }
    c->waiting = true;
    if (strcmp(verb, "hold") == 0)
        rc = sched_hold(s, arg, command_done, c);
    else if (strcmp(verb, "release") == 0)
        rc = sched_release(s, arg, command_done, c);
    else if (strcmp(verb, "delete") == 0)
        rc = sched_delete(s, arg, command_done, c);
    else if (strcmp(verb, "bounce") == 0)
        rc = sched_bounce(s, arg, command_done, c);
    else {
        c->waiting = false;
        (void)str_fmt(text, sizeof(text), "unknown command: %.32s", verb);
        answer(c, -1, text, NULL);
        return;
    }
    if (rc == -1) {
        c->waiting = false;
        answer_errno(c, arg, errno);
    }
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
        if (evbuffer_get_length(in) > CTL_LINE_MAX)
            answer(c, -1, "request line too long", NULL);
        return;
    }
    if (len > CTL_LINE_MAX || memchr(line, '\0', len) != NULL)
        answer(c, -1, "bad request line", NULL);
    else
        run(c, line);
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
    free(c);
}
