/* SPDX-License-Identifier: MIT */
/*
 * The wait for a PROXY header on an accepted connection: see proxy.h. Each
 * time octets arrive they are peeked (at most what a header may still need)
 * and given to proxy_header_parse() with those already taken. While the
 * header is incomplete every peeked octet is part of it and is consumed,
 * so the socket does not stay readable for nothing; once it is whole,
 * exactly its remaining octets are consumed and the rest is left for the
 * session. The wait has one deadline, which octets arriving do not move.
 * Nothing is ever written to the connection: a proxy that sends no header
 * or a wrong one is not an SMTP client to answer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "listen/proxy.h"
#include "listen/proxy_header.h"

struct proxy_wait {
    int fd;
    struct event *read;  /* octets to look at */
    struct event *timer; /* the deadline of the whole wait */
    enum door_role role;
    struct sockaddr_storage peer; /* the connection's own address: the proxy's */
    socklen_t peer_len;
    size_t have; /* header octets consumed, in buf */
    unsigned char buf[PROXY_HEADER_MAX];
    proxy_done_fn *done;
    void *arg;
};

/* "[192.0.2.7]:25" of sa, for the log. */
static void
proxy_addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
    char text[INET6_ADDRSTRLEN];
    const void *addr;
    unsigned port;

    if (sa->sa_family == AF_INET6) {
        addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    } else {
        addr = &((const struct sockaddr_in *)sa)->sin_addr;
        port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
    }
    if (inet_ntop(sa->sa_family, addr, text, sizeof(text)) == NULL)
        log_panic("inet_ntop: %s", strerror(errno));
    (void)str_fmt(out, cap, "[%s]:%u", text, port);
}

static void
proxy_wait_release(struct proxy_wait *w)
{
    event_free(w->read);
    event_free(w->timer);
    free(w);
}

void
proxy_wait_free(struct proxy_wait *w)
{
    if (w == NULL)
        return;
    (void)close(w->fd);
    proxy_wait_release(w);
}

/* No header: closed without a reply, logged with the connection's own address. */
static void
proxy_wait_fail(struct proxy_wait *w, const char *reason, int err)
{
    proxy_done_fn *done = w->done;
    void *arg = w->arg;
    char peer[INET6_ADDRSTRLEN + 16];
    struct sockaddr_storage own = w->peer;
    socklen_t own_len = w->peer_len;

    proxy_addr_text((const struct sockaddr *)&w->peer, peer, sizeof(peer));
    if (err != 0)
        log_info("-: client=%s, door=%s, event=proxy-error, reason=%s, error=\"%s\"", peer,
                 conf_role_name(w->role), reason, strerror(err));
    else
        log_info("-: client=%s, door=%s, event=proxy-error, reason=%s", peer,
                 conf_role_name(w->role), reason);
    proxy_wait_free(w);
    done(arg, -1, (const struct sockaddr *)&own, own_len);
}

/* A whole header: the session starts with the address it carries (or the connection's own). */
static void
proxy_wait_done(struct proxy_wait *w, const struct proxy_header *h)
{
    proxy_done_fn *done = w->done;
    void *arg = w->arg;
    struct sockaddr_storage client;
    socklen_t client_len;
    char peer[INET6_ADDRSTRLEN + 16], carried[INET6_ADDRSTRLEN + 16];
    int fd = w->fd;

    if (h->has_source) {
        client = h->source;
        client_len = h->source_len;
    } else {
        client = w->peer;
        client_len = w->peer_len;
    }
    proxy_addr_text((const struct sockaddr *)&w->peer, peer, sizeof(peer));
    proxy_addr_text((const struct sockaddr *)&client, carried, sizeof(carried));
    log_info("-: client=%s, proxy=%s, door=%s, event=proxy, version=%u", carried, peer,
             conf_role_name(w->role), h->version);
    proxy_wait_release(w);
    done(arg, fd, (const struct sockaddr *)&client, client_len);
}

/* Consumes want octets the peek saw, into buf at have: 0, or the errno of the failure
 * (EIO when fewer came than the peek saw, which a stream socket does not do). */
static int
proxy_consume(struct proxy_wait *w, size_t want)
{
    ssize_t n = recv(w->fd, w->buf + w->have, want, MSG_DONTWAIT);

    if (n < 0)
        return errno;
    if ((size_t)n != want)
        return EIO;
    w->have += want;
    return 0;
}

static void
proxy_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy_wait *w = arg;
    struct proxy_header h;
    enum proxy_header_status st;
    ssize_t n;
    int err;

    (void)what;
    n = recv(fd, w->buf + w->have, sizeof(w->buf) - w->have, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        proxy_wait_fail(w, "reset", errno);
        return;
    }
    if (n == 0) {
        /* The peer closed: before any octet, or in the middle of its header. */
        proxy_wait_fail(w, w->have == 0 ? "eof" : "truncated", 0);
        return;
    }
    st = proxy_header_parse(w->buf, w->have + (size_t)n, &h);
    switch (st) {
    case PROXY_HEADER_ERROR:
        proxy_wait_fail(w, h.reason, 0);
        return;
    case PROXY_HEADER_MORE:
        /* Every octet seen is the header's: take them so that the socket drains. */
        err = proxy_consume(w, (size_t)n);
        if (err != 0)
            proxy_wait_fail(w, "reset", err);
        return;
    case PROXY_HEADER_DONE:
        /* The octets before have answered "more", so the header ends past them. */
        if (h.len <= w->have)
            log_panic("proxy header of %zu octets, %zu taken", h.len, w->have);
        err = proxy_consume(w, h.len - w->have);
        if (err != 0) {
            proxy_wait_fail(w, "reset", err);
            return;
        }
        proxy_wait_done(w, &h);
        return;
    }
    log_panic("proxy_header_parse returned %d", (int)st);
}

static void
proxy_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    proxy_wait_fail(arg, "timeout", 0);
}

struct proxy_wait *
proxy_wait_new(struct event_base *base, int fd, const struct sockaddr *peer, socklen_t peer_len,
               enum door_role role, unsigned seconds, proxy_done_fn *done, void *arg)
{
    struct proxy_wait *w = xcalloc(1, sizeof(*w));
    struct timeval limit = {(time_t)seconds, 0};

    if ((size_t)peer_len > sizeof(w->peer))
        log_panic("proxy_wait_new: address of %u octets", (unsigned)peer_len);
    w->fd = fd;
    w->role = role;
    memcpy(&w->peer, peer, peer_len);
    w->peer_len = peer_len;
    w->done = done;
    w->arg = arg;
    w->read = event_new(base, fd, EV_READ | EV_PERSIST, proxy_read_cb, w);
    w->timer = evtimer_new(base, proxy_timeout_cb, w);
    if (w->read == NULL || w->timer == NULL || event_add(w->read, NULL) == -1 ||
        event_add(w->timer, &limit) == -1)
        log_panic("proxy_wait_new: cannot add its events");
    if (log_enabled(LOG_LEVEL_DEBUG)) {
        char text[INET6_ADDRSTRLEN + 16];

        proxy_addr_text(peer, text, sizeof(text));
        log_debug("-: proxy=%s, door=%s, event=proxy-wait, timeout=%us", text, conf_role_name(role),
                  seconds);
    }
    return w;
}
