/* SPDX-License-Identifier: MIT */
/*
 * The metrics endpoint (docs/metrics.md): `GET /metrics` over HTTP/1.x,
 * served by libevent's evhttp on the daemon's loop (evhttp parses the
 * requests; http_head.c reads the Accept and Authorization fields).
 *
 * Who may scrape: a client in the metrics block's allow list (others get
 * 403), then with bearer-token-file or basic-auth-file the right
 * credentials (else 401 with WWW-Authenticate), compared as SHA-256 digests
 * with CRYPTO_memcmp (constant time). Then a path other than /metrics is
 * 404 and a method other than GET 405.
 *
 * Bounded memory and time: a request's header section is at most
 * HTTP_HEADERS_MAX octets and its body HTTP_BODY_MAX (evhttp answers more
 * with 400 or 413 and closes); evhttp's own timeout ends a connection idle
 * for HTTP_TIMEOUT_S; and since a client that sends one octet a second is
 * never idle, each connection also has a deadline: HTTP_TIMEOUT_S from its
 * start, and again from each reply, to send a whole request. At most
 * HTTP_CONNS_MAX connections are open; more are closed at once. A scrape
 * itself is bounded work (metrics_write).
 *
 * Connections are evhttp's. To know them we make their bufferevents
 * (evhttp_set_bevcb) and hold one reference to each: evhttp frees a
 * connection with bufferevent_free(), which clears the callbacks, and our
 * reference keeps the descriptor open (and its number not reused) until
 * we let go, at the next sweep (each second) or as soon as input arrives
 * for it. A connection past its deadline gets the timeout event evhttp
 * would get from its own timer, and evhttp closes it.
 *
 * Sockets follow the configuration like the doors' (listen/): addresses
 * that stay keep their socket, new ones are bound before anything changes
 * (watch_metrics_prepare), removed ones closed at watch_metrics_commit(),
 * and watch_metrics_abort() puts back what prepare changed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "lib/log.h"
#include "lib/now.h"
#include "lib/sock.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "watch/http_head.h"
#include "watch/metrics.h"
#include "watch/watch_impl.h"

#define HTTP_HEADERS_MAX (8 * 1024)
#define HTTP_BODY_MAX    1024
#define HTTP_TIMEOUT_S   10
#define HTTP_CONNS_MAX   64
#define HTTP_BACKLOG     64

/* A listening socket of the metrics block. */
struct http_sock {
    struct http_sock *next;
    struct conf_addr addr;
    int fd;                             /* -1 while unbound */
    struct evhttp_bound_socket *handle; /* once evhttp accepts on it (it owns fd then) */
};

/* A connection evhttp serves, as we see it. */
struct http_conn {
    struct http_conn *prev, *next;
    struct bufferevent *bev; /* one reference is ours */
    uint64_t deadline_ms;    /* now_ms() by which its request must be whole */
    bool released;
};

struct watch_http {
    struct event_base *base;
    struct evhttp *http;
    struct conf *conf; /* the metrics block in use (a reference); NULL before the first commit */
    struct conf *next; /* prepared, not yet committed */
    struct http_sock *socks;     /* serving */
    struct http_sock *fresh;     /* bound by prepare, not yet serving */
    struct http_sock *kept;      /* taken from socks by prepare: they stay */
    struct http_sock *displaced; /* old ones closed by prepare to make room (rebound on abort) */
    struct http_conn *conns;
    size_t n_conns;
    struct event *sweep;
};

/* ---- Connections ---- */

static void http_conn_input_cb(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg);

static void
http_sweep_arm(struct watch_http *h)
{
    struct timeval second = {1, 0};

    if (!evtimer_pending(h->sweep, NULL) && evtimer_add(h->sweep, &second) == -1)
        log_panic("metrics: cannot arm the connection sweep");
}

/* Lets go of c's bufferevent and forgets c: evhttp has let go of it already. */
static void
http_conn_release(struct watch_http *h, struct http_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    h->n_conns--;
    (void)evbuffer_remove_cb(bufferevent_get_input(c->bev), http_conn_input_cb, c);
    (void)bufferevent_decref(c->bev);
    free(c);
}

/* True when evhttp has freed the connection (bufferevent_free cleared the callbacks). */
static bool
http_conn_is_gone(const struct http_conn *c)
{
    bufferevent_event_cb eventcb;

    bufferevent_getcb(c->bev, NULL, NULL, &eventcb, NULL);
    return eventcb == NULL;
}

/* Ends c as evhttp's own timer would: evhttp frees the connection from inside this call. */
static void
http_conn_cut(struct http_conn *c)
{
    bufferevent_trigger_event(c->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, 0);
}

static void
http_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct watch_http *h = arg;
    uint64_t now = now_ms();
    struct http_conn *c, *next;

    (void)fd;
    (void)what;
    for (c = h->conns; c != NULL; c = next) {
        next = c->next;
        if (!http_conn_is_gone(c) && now >= c->deadline_ms) {
            log_info("-: event=metrics-timeout, limit=%ds", HTTP_TIMEOUT_S);
            http_conn_cut(c);
        }
        if (http_conn_is_gone(c))
            http_conn_release(h, c);
    }
    if (h->conns != NULL)
        http_sweep_arm(h);
}

/* Input for a connection evhttp no longer reads: stop reading it until the sweep lets go. */
static void
http_conn_input_cb(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
    struct http_conn *c = arg;

    if (info->n_added > 0 && http_conn_is_gone(c)) {
        (void)bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        (void)evbuffer_drain(in, evbuffer_get_length(in));
    }
}

/* evhttp's bufferevent for a new connection (evhttp_set_bevcb). */
static struct bufferevent *
http_bev_cb(struct event_base *base, void *arg)
{
    struct watch_http *h = arg;
    struct http_conn *c;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

    if (bev == NULL)
        return NULL; /* evhttp makes one of its own: that connection has no deadline */
    c = xcalloc(1, sizeof(*c));
    c->bev = bev;
    bufferevent_incref(bev);
    if (evbuffer_add_cb(bufferevent_get_input(bev), http_conn_input_cb, c) == NULL)
        log_panic("metrics: evbuffer_add_cb failed");
    c->deadline_ms = now_ms() + HTTP_TIMEOUT_S * 1000u;
    if (h->n_conns >= HTTP_CONNS_MAX) {
        c->deadline_ms = 0; /* cut at the next sweep */
        log_warning("-: event=metrics-busy, connections=%zu, limit=%d", h->n_conns, HTTP_CONNS_MAX);
    }
    c->next = h->conns;
    if (h->conns != NULL)
        h->conns->prev = c;
    h->conns = c;
    h->n_conns++;
    http_sweep_arm(h);
    return bev;
}

static struct http_conn *
http_conn_of(struct watch_http *h, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;

    for (struct http_conn *c = h->conns; c != NULL; c = c->next) {
        if (c->bev == bev)
            return c;
    }
    return NULL;
}

/* ---- Requests ---- */

/* The client's address as the allow list sees it: an IPv4-mapped IPv6 address is IPv4. */
static bool
http_client(struct evhttp_request *req, int *family, unsigned char addr[16], char *text, size_t cap)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    const struct sockaddr *sa = evcon != NULL ? evhttp_connection_get_addr(evcon) : NULL;

    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            *family = AF_INET;
            memcpy(addr, in6->sin6_addr.s6_addr + 12, 4);
        } else {
            *family = AF_INET6;
            memcpy(addr, in6->sin6_addr.s6_addr, 16);
        }
    } else if (sa->sa_family == AF_INET) {
        *family = AF_INET;
        memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else {
        return false;
    }
    if (inet_ntop(*family, addr, text, (socklen_t)cap) == NULL)
        (void)str_copyz(text, cap, "?");
    return true;
}

/* A short plain-text answer. */
static void
http_answer(struct evhttp_request *req, int code, const char *reason, const char *body)
{
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);

    if (out == NULL || evbuffer_add_printf(out, "%s\n", body) == -1) {
        evbuffer_free(out);
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    (void)evhttp_add_header(hdr, "Content-Type", "text/plain; charset=utf-8");
    evhttp_send_reply(req, code, reason, out);
    evbuffer_free(out);
}

/* True when the request brings the credentials of the metrics block (or it asks for none). */
static bool
http_authorized(const struct conf_metrics *m, struct evhttp_request *req)
{
    unsigned char digest[CONF_METRICS_DIGEST_LEN];
    const char *value;
    bool ok;

    if (m->auth == CONF_METRICS_AUTH_NONE)
        return true;
    value = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (http_head_credentials(value, m->auth, digest) == -1)
        return false;
    ok = CRYPTO_memcmp(digest, m->auth_digest, sizeof(digest)) == 0;
    OPENSSL_cleanse(digest, sizeof(digest));
    return ok;
}

static void
http_request_cb(struct evhttp_request *req, void *arg)
{
    struct watch_http *h = arg;
    const struct conf_metrics *m = h->conf != NULL ? &h->conf->metrics : NULL;
    struct http_conn *c = http_conn_of(h, req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    char client[INET6_ADDRSTRLEN];
    unsigned char addr[16];
    enum metrics_format format;
    struct evbuffer *out;
    int family;

    /* The connection's next request has a deadline of its own. */
    if (c != NULL)
        c->deadline_ms = now_ms() + HTTP_TIMEOUT_S * 1000u;
    if (m == NULL || !http_client(req, &family, addr, client, sizeof(client)) ||
        !conf_cidr_match(m->allow, m->n_allow, family, addr)) {
        log_info("-: client=[%s], event=metrics-refused, status=403, reason=\"not in the allow "
                 "list\"",
                 m != NULL ? client : "?");
        http_answer(req, 403, "Forbidden", "403 Forbidden: this address may not scrape");
        return;
    }
    if (!http_authorized(m, req)) {
        log_info("-: client=[%s], event=metrics-refused, status=401, reason=\"%s\"", client,
                 evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization") == NULL
                     ? "no credentials"
                     : "wrong credentials");
        (void)evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                                m->auth == CONF_METRICS_AUTH_BEARER
                                    ? "Bearer realm=\"gate26\""
                                    : "Basic realm=\"gate26\", charset=\"UTF-8\"");
        http_answer(req, 401, "Unauthorized", "401 Unauthorized");
        return;
    }
    if (path == NULL || strcmp(path, "/metrics") != 0) {
        log_debug("-: client=[%s], event=metrics-request, status=404", client);
        http_answer(req, 404, "Not Found", "404 Not Found: the metrics are at /metrics");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        log_debug("-: client=[%s], event=metrics-request, status=405", client);
        (void)evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
        http_answer(req, 405, "Method Not Allowed", "405 Method Not Allowed: GET /metrics");
        return;
    }
    format = http_head_format(evhttp_find_header(evhttp_request_get_input_headers(req), "Accept"));
    out = evbuffer_new();
    if (out == NULL || metrics_write(out, format) == -1) {
        evbuffer_free(out);
        log_warning("-: client=[%s], event=metrics-request, status=500, error=\"out of memory\"",
                    client);
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    (void)evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                            metrics_content_type(format));
    log_debug("-: client=[%s], event=metrics-scrape, format=%s, octets=%zu", client,
              format == METRICS_FORMAT_OPENMETRICS ? "openmetrics" : "text",
              evbuffer_get_length(out));
    evhttp_send_reply(req, HTTP_OK, "OK", out);
    evbuffer_free(out);
}

/* ---- Sockets ---- */

static struct http_sock *
http_take(struct http_sock **list, const struct conf_addr *a)
{
    for (struct http_sock **pp = list; *pp != NULL; pp = &(*pp)->next) {
        struct http_sock *s = *pp;

        if (s->addr.sa_len == a->sa_len && memcmp(&s->addr.sa, &a->sa, a->sa_len) == 0) {
            *pp = s->next;
            s->next = NULL;
            return s;
        }
    }
    return NULL;
}

/* True when a and b cannot both listen: one address and port, or a wildcard on the other's. */
static bool
http_overlap(const struct conf_addr *a, const struct conf_addr *b)
{
    static const unsigned char any[16];

    if (a->sa.ss_family != b->sa.ss_family ||
        sock_port((const struct sockaddr *)&a->sa) != sock_port((const struct sockaddr *)&b->sa))
        return false;
    if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)(const void *)&a->sa;
        const struct sockaddr_in *y = (const struct sockaddr_in *)(const void *)&b->sa;

        return x->sin_addr.s_addr == y->sin_addr.s_addr || x->sin_addr.s_addr == INADDR_ANY ||
               y->sin_addr.s_addr == INADDR_ANY;
    }
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)(const void *)&a->sa;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)(const void *)&b->sa;

    return memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0 || memcmp(&x->sin6_addr, any, 16) == 0 ||
           memcmp(&y->sin6_addr, any, 16) == 0;
}

/* Stops serving s and closes its socket; s stays, to be bound again. */
static void
http_unbind(struct watch_http *h, struct http_sock *s)
{
    if (s->handle != NULL)
        evhttp_del_accept_socket(h->http, s->handle); /* closes the socket */
    else if (s->fd != -1)
        (void)close(s->fd);
    s->handle = NULL;
    s->fd = -1;
}

static void
http_sock_free(struct watch_http *h, struct http_sock *s)
{
    http_unbind(h, s);
    free(s);
}

static void
http_free_list(struct watch_http *h, struct http_sock **list)
{
    while (*list != NULL) {
        struct http_sock *s = *list;

        *list = s->next;
        http_sock_free(h, s);
    }
}

static void
http_splice(struct http_sock **to, struct http_sock **from)
{
    while (*from != NULL) {
        struct http_sock *s = *from;

        *from = s->next;
        s->next = *to;
        *to = s;
    }
}

static int
http_bind(struct http_sock *s, char *err, size_t errcap)
{
    s->fd = sock_listen((const struct sockaddr *)&s->addr.sa, s->addr.sa_len, HTTP_BACKLOG);
    if (s->fd == -1) {
        (void)str_fmt(err, errcap, "%s: cannot listen: %s", s->addr.text, strerror(errno));
        return -1;
    }
    return 0;
}

static void
http_serve(struct watch_http *h, struct http_sock *s)
{
    s->handle = evhttp_accept_socket_with_handle(h->http, s->fd);
    if (s->handle == NULL)
        log_panic("metrics: evhttp_accept_socket_with_handle failed for %s", s->addr.text);
    log_info("-: listener=%s, event=listening, serves=metrics", s->addr.text);
}

static struct watch_http *
http_new(struct event_base *base)
{
    struct watch_http *h = xcalloc(1, sizeof(*h));

    h->base = base;
    h->http = evhttp_new(base);
    h->sweep = evtimer_new(base, http_sweep_cb, h);
    if (h->http == NULL || h->sweep == NULL)
        log_panic("metrics: cannot make the HTTP server");
    evhttp_set_max_headers_size(h->http, HTTP_HEADERS_MAX);
    evhttp_set_max_body_size(h->http, HTTP_BODY_MAX);
    evhttp_set_timeout(h->http, HTTP_TIMEOUT_S);
    /* Every method reaches http_request_cb, which answers 405 to all but GET (evhttp would say
     * 501 to those it is not allowed). */
    evhttp_set_allowed_methods(h->http, 0xffff);
    evhttp_set_gencb(h->http, http_request_cb, h);
    evhttp_set_bevcb(h->http, http_bev_cb, h);
    return h;
}

int
watch_metrics_prepare(struct watch *w, struct conf *c, char *err, size_t errcap)
{
    struct watch_http *h;
    const struct conf_metrics *m = &c->metrics;

    if (w == NULL)
        return 0;
    if (w->http == NULL)
        w->http = http_new(w->base);
    h = w->http;
    if (h->next != NULL)
        log_panic("metrics: prepared twice");
    for (size_t i = 0; i < m->n_addrs; i++) {
        struct http_sock *s = http_take(&h->socks, &m->addrs[i]);

        if (s == NULL) {
            s = xcalloc(1, sizeof(*s));
            s->fd = -1;
            s->addr = m->addrs[i];
            s->next = h->fresh;
            h->fresh = s;
            continue;
        }
        s->addr.line = m->addrs[i].line;
        s->next = h->kept;
        h->kept = s;
    }
    /* A port that needs root cannot be bound once the process is its user (a reload). */
    for (struct http_sock *s = h->fresh; s != NULL; s = s->next) {
        unsigned port = sock_port((const struct sockaddr *)&s->addr.sa);

        if (!sock_may_bind(port)) {
            (void)str_fmt(err, errcap,
                          "%s:%u: address %s: port %u needs root to bind and was not bound at "
                          "start (gate26 runs as uid %ld now): restart gate26 to serve the "
                          "metrics there",
                          c->path, s->addr.line, s->addr.text, port, (long)geteuid());
            watch_metrics_abort(w);
            return -1;
        }
    }
    /* Old sockets that go anyway and overlap a new one close first, or its bind fails. */
    for (struct http_sock **pp = &h->socks; *pp != NULL;) {
        struct http_sock *s = *pp;
        bool overlaps = false;

        for (struct http_sock *f = h->fresh; f != NULL && !overlaps; f = f->next)
            overlaps = http_overlap(&s->addr, &f->addr);
        if (!overlaps) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        http_unbind(h, s);
        s->next = h->displaced;
        h->displaced = s;
    }
    for (struct http_sock *s = h->fresh; s != NULL; s = s->next) {
        char why[256];

        if (http_bind(s, why, sizeof(why)) == -1) {
            (void)str_fmt(err, errcap, "%s:%u: metrics address %s", c->path, s->addr.line, why);
            watch_metrics_abort(w);
            return -1;
        }
    }
    h->next = conf_ref(c);
    return 0;
}

void
watch_metrics_abort(struct watch *w)
{
    struct watch_http *h = w != NULL ? w->http : NULL;

    if (h == NULL)
        return;
    http_free_list(h, &h->fresh);
    /* The old ones go back, serving as before. */
    for (struct http_sock *s = h->displaced; s != NULL; s = s->next) {
        char why[256];

        if (http_bind(s, why, sizeof(why)) == -1)
            log_error("-: listener=%s, event=lost, serves=metrics, error=\"%s\"", s->addr.text,
                      why);
        else
            http_serve(h, s);
    }
    http_splice(&h->socks, &h->displaced);
    http_splice(&h->socks, &h->kept);
    conf_unref(h->next);
    h->next = NULL;
}

void
watch_metrics_commit(struct watch *w)
{
    struct watch_http *h = w != NULL ? w->http : NULL;

    if (h == NULL || h->next == NULL)
        return;
    /* What is no longer configured closes; displaced ones are gone already. */
    for (struct http_sock *s = h->socks; s != NULL; s = s->next)
        log_info("-: listener=%s, event=closed, serves=metrics", s->addr.text);
    http_free_list(h, &h->socks);
    http_free_list(h, &h->displaced);
    for (struct http_sock *s = h->fresh; s != NULL; s = s->next)
        http_serve(h, s);
    http_splice(&h->socks, &h->fresh);
    http_splice(&h->socks, &h->kept);
    conf_unref(h->conf);
    h->conf = h->next;
    h->next = NULL;
}

void
watch_metrics_close(struct watch *w)
{
    struct watch_http *h = w != NULL ? w->http : NULL;

    if (h == NULL)
        return;
    if (h->next != NULL)
        watch_metrics_abort(w);
    http_free_list(h, &h->socks);
    /* evhttp frees its connections (clearing their callbacks); then we let go of ours. */
    evhttp_free(h->http);
    h->http = NULL;
    while (h->conns != NULL)
        http_conn_release(h, h->conns);
    event_free(h->sweep);
    conf_unref(h->conf);
    free(h);
    w->http = NULL;
}
