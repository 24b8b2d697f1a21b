/* SPDX-License-Identifier: MIT */
/*
 * libcurl's multi interface on a libevent base (curl_loop.h). Each easy
 * handle in the loop carries a small record (through CURLOPT_PRIVATE) with
 * its owner's callback; each socket curl watches carries one with its
 * event. Both are kept on lists, so that the loop's end frees what curl
 * did not tell us to.
 */
#include <stdbool.h>
#include <stdlib.h>

#include <event2/event.h>

#include "lib/curl_loop.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* A transfer in the loop. */
struct xfer {
    struct xfer *next, *prev;
    CURL *easy;
    curl_loop_done_fn *done;
    void *arg;
};

/* A socket curl asked us to watch. */
struct watched {
    struct watched *next, *prev;
    struct curl_loop *cl;
    curl_socket_t fd;
    struct event *ev;
};

struct curl_loop {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    struct xfer *xfers;
    struct watched *socks;
    size_t n;
};

static void
xfer_unlink(struct curl_loop *cl, struct xfer *x)
{
    if (x->prev != NULL)
        x->prev->next = x->next;
    else
        cl->xfers = x->next;
    if (x->next != NULL)
        x->next->prev = x->prev;
    cl->n--;
}

static void
watched_free(struct curl_loop *cl, struct watched *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        cl->socks = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    if (w->ev != NULL)
        event_free(w->ev);
    free(w);
}

/* Finished transfers, each handed back to its owner. */
static void
check_done(struct curl_loop *cl)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(cl->multi, &left)) != NULL) {
        struct xfer *x = NULL;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        curl_loop_done_fn *done;
        void *arg;

        if (msg->msg != CURLMSG_DONE)
            continue;
        (void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
        if (x == NULL)
            log_panic("curl_loop: a finished transfer without its record");
        (void)curl_multi_remove_handle(cl->multi, easy);
        (void)curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        xfer_unlink(cl, x);
        done = x->done;
        arg = x->arg;
        free(x);
        done(easy, rc, arg);
    }
}

static void
sock_cb(evutil_socket_t fd, short what, void *arg)
{
    struct curl_loop *cl = arg;
    int flags =
        ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running;

    (void)curl_multi_socket_action(cl->multi, fd, flags, &running);
    check_done(cl);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct curl_loop *cl = arg;
    int running;

    (void)fd;
    (void)what;
    (void)curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(cl);
}

/* CURLMOPT_TIMERFUNCTION: call curl back in timeout_ms (-1: never). */
static int
multi_timer(CURLM *multi, long timeout_ms, void *arg)
{
    struct curl_loop *cl = arg;
    struct timeval tv;

    (void)multi;
    if (timeout_ms < 0) {
        (void)evtimer_del(cl->timer);
        return 0;
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return evtimer_add(cl->timer, &tv) == 0 ? 0 : -1;
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what curl wants (or stop watching it). */
static int
multi_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
    struct curl_loop *cl = arg;
    struct watched *w = sockp;
    short kind = EV_PERSIST;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (w != NULL) {
            (void)curl_multi_assign(cl->multi, s, NULL);
            watched_free(cl, w);
        }
        return 0;
    }
    if (what & CURL_POLL_IN)
        kind |= EV_READ;
    if (what & CURL_POLL_OUT)
        kind |= EV_WRITE;
    if (w == NULL) {
        w = xcalloc(1, sizeof(*w));
        w->cl = cl;
        w->fd = s;
        w->next = cl->socks;
        if (cl->socks != NULL)
            cl->socks->prev = w;
        cl->socks = w;
        (void)curl_multi_assign(cl->multi, s, w);
    } else {
        event_free(w->ev);
    }
    w->ev = event_new(cl->base, s, kind, sock_cb, cl);
    if (w->ev == NULL || event_add(w->ev, NULL) == -1)
        log_panic("curl_loop: cannot watch a socket");
    return 0;
}

struct curl_loop *
curl_loop_new(struct event_base *base)
{
    struct curl_loop *cl = xcalloc(1, sizeof(*cl));

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        log_panic("curl_global_init failed");
    cl->base = base;
    cl->multi = curl_multi_init();
    cl->timer = evtimer_new(base, timer_cb, cl);
    if (cl->multi == NULL || cl->timer == NULL)
        log_panic("curl_loop: out of memory");
    if (curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, multi_socket) != CURLM_OK ||
        curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl) != CURLM_OK ||
        curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, multi_timer) != CURLM_OK ||
        curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl) != CURLM_OK)
        log_panic("curl_loop: curl_multi_setopt failed");
    return cl;
}

void
curl_loop_free(struct curl_loop *cl)
{
    if (cl == NULL)
        return;
    if (cl->n != 0)
        log_panic("curl_loop: freed with %zu transfers in it", cl->n);
    (void)curl_multi_cleanup(cl->multi);
    /* Sockets of connections curl kept open, if it did not say REMOVE for them. */
    while (cl->socks != NULL)
        watched_free(cl, cl->socks);
    event_free(cl->timer);
    free(cl);
    curl_global_cleanup();
}

int
curl_loop_add(struct curl_loop *cl, CURL *easy, curl_loop_done_fn *done, void *arg)
{
    struct xfer *x = xcalloc(1, sizeof(*x));

    x->easy = easy;
    x->done = done;
    x->arg = arg;
    if (curl_easy_setopt(easy, CURLOPT_PRIVATE, x) != CURLE_OK) {
        free(x);
        return -1;
    }
    x->next = cl->xfers;
    if (cl->xfers != NULL)
        cl->xfers->prev = x;
    cl->xfers = x;
    cl->n++;
    if (curl_multi_add_handle(cl->multi, easy) != CURLM_OK) {
        xfer_unlink(cl, x);
        (void)curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        free(x);
        return -1;
    }
    return 0;
}

void
curl_loop_remove(struct curl_loop *cl, CURL *easy)
{
    struct xfer *x = NULL;

    if (easy == NULL)
        return;
    (void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    if (x == NULL)
        return;
    (void)curl_multi_remove_handle(cl->multi, easy);
    (void)curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    xfer_unlink(cl, x);
    free(x);
}

size_t
curl_loop_running(const struct curl_loop *cl)
{
    return cl->n;
}

struct event_base *
curl_loop_base(const struct curl_loop *cl)
{
    return cl->base;
}
