/* SPDX-License-Identifier: MIT */
/*
 * clamd's INSTREAM on the loop (clamd.h). One connection per scan: connect
 * (non-blocking), then the command and the chunks while reading whatever
 * clamd says at the same time (it answers early and closes when the stream
 * passes StreamMaxLength), then the answer up to its NUL. One timer bounds
 * the whole exchange. A broken connection with an answer already read is
 * judged by that answer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/num.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "scan/clamd.h"

#define CLAMD_COMMAND         "zINSTREAM" /* sent with its NUL */
#define CLAMD_CHUNKS_PER_WAKE 16          /* then other sessions get the loop */

/* ---- Target ---- */

static int
target_inet(const char *host, size_t host_len, bool v6, const char *port, struct clamd_target *t,
            char *err, size_t cap)
{
    char name[INET6_ADDRSTRLEN];
    uint64_t p;

    if (num_parse_u64(slice_make(port, strlen(port)), 1, 65535, &p) == -1) {
        (void)str_fmt(err, cap, "expected a port (1-65535) after ':'");
        return -1;
    }
    if (str_copy(name, sizeof(name), host, host_len) == -1) {
        (void)str_fmt(err, cap, "expected a numeric IPv4 or [IPv6] address");
        return -1;
    }
    memset(t, 0, sizeof(*t));
    if (!v6 && inet_pton(AF_INET, name, &((struct sockaddr_in *)&t->sa)->sin_addr) == 1) {
        struct sockaddr_in *in = (struct sockaddr_in *)&t->sa;

        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)p);
        t->len = sizeof(*in);
        return 0;
    }
    if (v6 && inet_pton(AF_INET6, name, &((struct sockaddr_in6 *)&t->sa)->sin6_addr) == 1) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&t->sa;

        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)p);
        t->len = sizeof(*in6);
        return 0;
    }
    (void)str_fmt(err, cap, "expected a numeric IPv4 or [IPv6] address");
    return -1;
}

int
clamd_target_parse(const char *text, struct clamd_target *t, char *err, size_t cap)
{
    const char *colon;

    if (strncmp(text, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&t->sa;
        const char *path = text + 5;

        if (path[0] != '/') {
            (void)str_fmt(err, cap, "expected an absolute path after 'unix:'");
            return -1;
        }
        memset(t, 0, sizeof(*t));
        un->sun_family = AF_UNIX;
        if (str_copyz(un->sun_path, sizeof(un->sun_path), path) == -1) {
            (void)str_fmt(err, cap, "the path after 'unix:' is longer than %zu octets",
                          sizeof(un->sun_path) - 1);
            return -1;
        }
        t->len = (socklen_t)sizeof(*un);
        return 0;
    }
    if (strncmp(text, "tcp:", 4) == 0)
        text += 4;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (close == NULL || close[1] != ':') {
            (void)str_fmt(err, cap, "expected [IPv6]:PORT");
            return -1;
        }
        return target_inet(text + 1, (size_t)(close - text - 1), true, close + 2, t, err, cap);
    }
    colon = strrchr(text, ':');
    if (colon == NULL || strchr(text, ':') != colon) {
        (void)str_fmt(err, cap, "expected unix:/PATH, tcp:ADDR:PORT or ADDR:PORT");
        return -1;
    }
    return target_inet(text, (size_t)(colon - text), false, colon + 1, t, err, cap);
}

/* ---- The answer (pure) ---- */

const char *
clamd_status_name(enum clamd_status s)
{
    switch (s) {
    case CLAMD_CLEAN:
        return "clean";
    case CLAMD_INFECTED:
        return "infected";
    case CLAMD_ERROR:
        return "error";
    case CLAMD_TIMEOUT:
        return "timeout";
    }
    return "?";
}

/* len octets of p into dst (capacity cap), printable ASCII, others as '?', cut to fit. */
static void
printable(char *dst, size_t cap, const char *p, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;

    for (size_t i = 0; i < n; i++)
        dst[i] = p[i] >= 0x20 && p[i] <= 0x7e ? p[i] : '?';
    dst[n] = '\0';
}

static bool
ends_with(struct slice s, const char *lit)
{
    size_t n = strlen(lit);

    return s.len >= n && memcmp(s.p + s.len - n, lit, n) == 0;
}

/*
 * clamd's answers to a z-command (clamd/session.c, clamd/scanner.c):
 * "stream: OK", "stream: " NAME " FOUND", TEXT " ERROR". Anything else is
 * out of grammar, hence an error: never taken as clean.
 */
void
clamd_answer_parse(struct slice a, struct clamd_result *r)
{
    static const char prefix[] = "stream: ";
    const size_t plen = sizeof(prefix) - 1;

    memset(r, 0, sizeof(*r));
    r->status = CLAMD_ERROR;
    if (a.len == plen + 2 && memcmp(a.p, "stream: OK", plen + 2) == 0) {
        r->status = CLAMD_CLEAN;
        return;
    }
    if (a.len > plen + 6 && memcmp(a.p, prefix, plen) == 0 && ends_with(a, " FOUND")) {
        r->status = CLAMD_INFECTED;
        printable(r->name, sizeof(r->name), a.p + plen, a.len - plen - 6);
        return;
    }
    if (ends_with(a, " ERROR")) {
        struct slice what = slice_make(a.p, a.len - 6);

        /* "INSTREAM size limit exceeded." keeps its words, without the dot. */
        if (what.len > 0 && what.p[what.len - 1] == '.')
            what.len--;
        if (what.len == 0)
            (void)str_fmt(r->error, sizeof(r->error), "clamd answered ERROR");
        else
            printable(r->error, sizeof(r->error), what.p, what.len);
        return;
    }
    (void)str_fmt(r->error, sizeof(r->error), "unexpected answer from clamd: ");
    printable(r->error + strlen(r->error), sizeof(r->error) - strlen(r->error), a.p, a.len);
}

/* ---- The scan ---- */

enum scan_state {
    SCAN_CONNECTING,
    SCAN_SENDING,  /* the command and the chunks */
    SCAN_SENT,     /* the end chunk is out: reading only */
    SCAN_NO_WRITE, /* clamd closed its side for us: reading what it said */
};

struct clamd_scan {
    struct event_base *base;
    struct clamd_target target;
    int fd;
    enum scan_state state;
    struct event *rd, *wr, *timer;
    clamd_read_fn *read_fn;
    void *read_arg;
    clamd_done_fn *done;
    void *done_arg;
    bool failed_early; /* the socket could not be made: done at once, from the loop */
    char early_error[CLAMD_ERROR_MAX];
    char out[4 + CLAMD_CHUNK];
    size_t out_len, out_off;
    bool eof; /* the end chunk is in out */
    char in[CLAMD_ANSWER_MAX];
    size_t in_len;
};

static void
scan_free(struct clamd_scan *s)
{
    if (s->rd != NULL)
        event_free(s->rd);
    if (s->wr != NULL)
        event_free(s->wr);
    if (s->timer != NULL)
        event_free(s->timer);
    if (s->fd != -1)
        (void)close(s->fd);
    free(s);
}

/* Ends the scan with r: frees s, then tells the caller. */
static void
scan_end(struct clamd_scan *s, const struct clamd_result *r)
{
    clamd_done_fn *done = s->done;
    void *arg = s->done_arg;
    struct clamd_result copy = *r;

    scan_free(s);
    done(arg, &copy);
}

static void
scan_fail(struct clamd_scan *s, enum clamd_status status, const char *what, const char *detail)
{
    struct clamd_result r;

    memset(&r, 0, sizeof(r));
    r.status = status;
    (void)str_fmt(r.error, sizeof(r.error), "%s%s", what, detail);
    scan_end(s, &r);
}

/* The answer ends at its NUL: 1 when it did (s is gone then), 0 when more must come. */
static int
check_answer(struct clamd_scan *s)
{
    const char *nul = memchr(s->in, '\0', s->in_len);
    struct clamd_result r;

    if (nul == NULL)
        return 0;
    clamd_answer_parse(slice_make(s->in, (size_t)(nul - s->in)), &r);
    /* Clean is an answer about the whole message: not before its end was sent. */
    if (r.status == CLAMD_CLEAN && s->state != SCAN_SENT) {
        r.status = CLAMD_ERROR;
        (void)str_copyz(r.error, sizeof(r.error), "clamd answered clean before the end");
    }
    scan_end(s, &r);
    return 1;
}

/* Reads what clamd sent. Returns 1 when the scan ended (s is gone), 0 otherwise. */
static int
read_some(struct clamd_scan *s)
{
    for (;;) {
        ssize_t n;

        if (s->in_len == sizeof(s->in)) {
            scan_fail(s, CLAMD_ERROR, "", "clamd's answer is longer than its limit");
            return 1;
        }
        n = recv(s->fd, s->in + s->in_len, sizeof(s->in) - s->in_len, 0);
        if (n > 0) {
            s->in_len += (size_t)n;
            if (check_answer(s))
                return 1;
            continue;
        }
        if (n == 0) {
            scan_fail(s, CLAMD_ERROR, "",
                      s->in_len == 0 ? "clamd closed the connection without an answer"
                                     : "clamd closed the connection within its answer");
            return 1;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno == EINTR)
            continue;
        scan_fail(s, CLAMD_ERROR, "reading from clamd: ", strerror(errno));
        return 1;
    }
}

/* Fills out with the next chunk. Returns 0, or -1 when the message could not be read. */
static int
next_chunk(struct clamd_scan *s)
{
    ssize_t n = s->read_fn(s->read_arg, s->out + 4, CLAMD_CHUNK);
    uint32_t be;

    if (n < 0 || (size_t)n > CLAMD_CHUNK)
        return -1;
    be = htonl((uint32_t)n);
    memcpy(s->out, &be, 4);
    s->out_len = 4 + (size_t)n;
    s->out_off = 0;
    s->eof = n == 0;
    return 0;
}

/* Sends what is pending, reading more chunks. Returns 1 when the scan ended (s is gone). */
static int
write_some(struct clamd_scan *s)
{
    unsigned chunks = 0;

    for (;;) {
        ssize_t n;

        if (s->out_off == s->out_len) {
            if (s->eof) {
                s->state = SCAN_SENT;
                (void)event_del(s->wr);
                return 0;
            }
            if (chunks++ == CLAMD_CHUNKS_PER_WAKE)
                return 0; /* the write event stays: more at the next turn */
            if (next_chunk(s) == -1) {
                scan_fail(s, CLAMD_ERROR, "", "the message could not be read");
                return 1;
            }
        }
        n = send(s->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
        if (n >= 0) {
            s->out_off += (size_t)n;
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EPIPE || errno == ECONNRESET) {
            /* clamd stopped reading (a size limit, most likely): its answer may be waiting. */
            s->state = SCAN_NO_WRITE;
            (void)event_del(s->wr);
            return read_some(s) ? 1 : 0;
        }
        scan_fail(s, CLAMD_ERROR, "writing to clamd: ", strerror(errno));
        return 1;
    }
}

static void
rd_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)read_some(arg);
}

static void
wr_cb(evutil_socket_t fd, short what, void *arg)
{
    struct clamd_scan *s = arg;

    (void)fd;
    (void)what;
    if (s->state == SCAN_CONNECTING) {
        int e = 0;
        socklen_t len = sizeof(e);

        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
            e = errno;
        if (e != 0) {
            scan_fail(s, CLAMD_ERROR, "connecting to clamd: ", strerror(e));
            return;
        }
        s->state = SCAN_SENDING;
        if (event_add(s->rd, NULL) == -1)
            log_panic("clamd: cannot watch a socket");
    }
    (void)write_some(s);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct clamd_scan *s = arg;

    (void)fd;
    (void)what;
    if (s->failed_early) {
        scan_fail(s, CLAMD_ERROR, "", s->early_error);
        return;
    }
    scan_fail(s, CLAMD_TIMEOUT, "",
              s->state == SCAN_CONNECTING ? "no connection to clamd within the timeout"
                                          : "no answer from clamd within the timeout");
}

/* Reports err from the loop's next turn (done is never called from clamd_scan_start). */
static struct clamd_scan *
fail_soon(struct clamd_scan *s, const char *what, int err)
{
    (void)str_fmt(s->early_error, sizeof(s->early_error), "%s: %s", what, strerror(err));
    s->failed_early = true;
    event_active(s->timer, EV_TIMEOUT, 1);
    return s;
}

struct clamd_scan *
clamd_scan_start(struct event_base *base, const struct clamd_target *target, unsigned timeout_ms,
                 clamd_read_fn *read_fn, void *read_arg, clamd_done_fn *done, void *done_arg)
{
    struct clamd_scan *s = xcalloc(1, sizeof(*s));
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    static const char command[] = CLAMD_COMMAND; /* with its NUL */

    s->base = base;
    s->target = *target;
    s->read_fn = read_fn;
    s->read_arg = read_arg;
    s->done = done;
    s->done_arg = done_arg;
    s->state = SCAN_CONNECTING;
    memcpy(s->out, command, sizeof(command));
    s->out_len = sizeof(command);
    s->timer = evtimer_new(base, timer_cb, s);
    if (s->timer == NULL)
        log_panic("clamd: out of memory");
    s->fd = socket(target->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd == -1)
        return fail_soon(s, "a socket for clamd", errno);
    s->rd = event_new(base, s->fd, EV_READ | EV_PERSIST, rd_cb, s);
    s->wr = event_new(base, s->fd, EV_WRITE | EV_PERSIST, wr_cb, s);
    if (s->rd == NULL || s->wr == NULL || evtimer_add(s->timer, &tv) == -1 ||
        event_add(s->wr, NULL) == -1)
        log_panic("clamd: cannot arm events");
    if (connect(s->fd, (const struct sockaddr *)&target->sa, target->len) == -1 &&
        errno != EINPROGRESS) {
        (void)event_del(s->wr);
        (void)evtimer_del(s->timer);
        return fail_soon(s, "connecting to clamd", errno);
    }
    return s;
}

void
clamd_scan_cancel(struct clamd_scan *s)
{
    if (s != NULL)
        scan_free(s);
}
