/* SPDX-License-Identifier: MIT */
/*
 * The content, after DATA's 354 (RFC 5321 4.1.1.4): read from the spool
 * file with pread() CAP_DELIVER_CHUNK octets at a time, dot-stuffed on the
 * way (stuff.c), and queued only while less than CAP_SESSION_OUTPUT waits
 * for the server, so a large message never sits in memory whole. The rest
 * follows from the write callback as the output drains; each write that
 * makes progress restarts the data block timeout (4.5.3.2.5), and the end
 * of data's reply is waited for with the data end timeout (4.5.3.2.6) once
 * all of it has left.
 *
 * A spool file that cannot be read (or is shorter than its content length)
 * is local trouble: a warning, and the accepted recipients stay TEMP; the
 * connection is closed without the end of data, so the server drops the
 * incomplete message.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "deliver/deliver_impl.h"
#include "lib/caps.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

static void
data_read_failed(struct deliver_conn *c, int err)
{
    char text[DELIVER_TEXT_MAX];

    if (err == 0)
        (void)str_fmt(text, sizeof(text), "local error: the queue file ends before its content");
    else
        (void)str_fmt(text, sizeof(text), "local error: cannot read the queue file: %s",
                      strerror(err));
    log_warning("%s: relay=%s, event=spool-read, error=\"%s\"", deliver_log_id(c->d), c->relay,
                text);
    deliver_txn_fail_rest(c, 0, "4.3.0", text, "");
    deliver_conn_close(c);
}

/* Queues the next chunk. Returns false when the content cannot go on. */
static bool
data_queue_chunk(struct deliver_conn *c, struct evbuffer *out)
{
    size_t want = c->read_left < CAP_DELIVER_CHUNK ? (size_t)c->read_left : CAP_DELIVER_CHUNK;
    struct evbuffer_iovec v;
    ssize_t n;

    do {
        n = pread(c->d->msg->fd, c->chunk, want, c->read_off);
    } while (n == -1 && errno == EINTR);
    if (n <= 0) {
        data_read_failed(c, n == 0 ? 0 : errno);
        return false;
    }
    if (evbuffer_reserve_space(out, (ev_ssize_t)DELIVER_STUFF_MAX((size_t)n), &v, 1) < 1)
        log_panic("evbuffer_reserve_space failed");
    v.iov_len = deliver_stuff(&c->stuff, c->chunk, (size_t)n, v.iov_base);
    if (evbuffer_commit_space(out, &v, 1) == -1)
        log_panic("evbuffer_commit_space failed");
    c->read_off += n;
    c->read_left -= (uint64_t)n;
    return true;
}

/* Queues content up to the output cap, then the end of data. */
static void
data_pump(struct deliver_conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    const struct deliver_timeouts *t = &c->d->opts.timeouts;

    while (c->state == DELIVER_ST_CONTENT && evbuffer_get_length(out) < CAP_SESSION_OUTPUT) {
        if (c->read_left == 0) {
            char end[DELIVER_STUFF_END_MAX];

            /* The content itself is never logged: its size stands for it in the dialogue. */
            log_debug("%s: relay=%s, dir=out, content=%" PRIu64, deliver_log_id(c->d), c->relay,
                      c->d->msg->content_len);
            deliver_conn_write(c, end, deliver_stuff_end(&c->stuff, end));
            deliver_conn_set_state(c, DELIVER_ST_DOT);
            /* The write callback again when everything has left: then the data end wait. */
            bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
            free(c->chunk);
            c->chunk = NULL;
            break;
        }
        if (!data_queue_chunk(c, out))
            return;
    }
    deliver_conn_arm(c, t->data_block);
}

void
deliver_data_start(struct deliver_conn *c)
{
    deliver_conn_set_state(c, DELIVER_ST_CONTENT);
    deliver_stuff_init(&c->stuff);
    c->chunk = xmalloc(CAP_DELIVER_CHUNK);
    c->read_off = c->d->msg->content_off;
    c->read_left = c->d->msg->content_len;
    data_pump(c);
}

void
deliver_data_writable(struct deliver_conn *c)
{
    if (c->state == DELIVER_ST_CONTENT)
        data_pump(c);
    else if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        deliver_conn_arm(c, c->d->opts.timeouts.data_end); /* DELIVER_ST_DOT */
    else
        deliver_conn_arm(c, c->d->opts.timeouts.data_block);
}
