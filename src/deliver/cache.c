/* SPDX-License-Identifier: MIT */
/*
 * The connection cache (deliver.h): connections whose transaction is over,
 * kept idle for the next attempt to the same address, port and EHLO name.
 * A new connection costs a connect, the greeting and EHLO (three round
 * trips and the server's work for each, and a TLS handshake); a kept one
 * sends MAIL at once. The key (struct deliver_conn_key): address, port,
 * EHLO name, the hop's name, the TLS policy it was made under, smtps, and
 * the login it gave (a digest of it): a connection that logged in as one
 * user never carries the mail of another.
 *
 * The idle connections form one list, most recently used first: a take
 * looks from the front (the warmest connection), and when the cache is full
 * the one at the back (idle the longest) is closed. While idle a connection
 * belongs to the cache: its own timer closes it after idle_seconds, and a
 * server that speaks (a 421 before it times us out) or closes gets it
 * dropped at once. Closing an idle connection sends QUIT without waiting
 * for the 221 (RFC 5321 4.1.1.10 lets the server close either way); a TLS
 * one gets a close_notify instead, since the QUIT would have to go through
 * TLS and wait on its buffers.
 *
 * Threads: the loop's thread only.
 */
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "deliver/deliver_impl.h"
#include "lib/log.h"
#include "lib/xalloc.h"

struct deliver_cache {
    struct event_base *base;
    size_t max_idle;
    unsigned idle_seconds;
    struct deliver_conn *head, *tail; /* most recently used first */
    size_t n_idle;
};

struct deliver_cache *
deliver_cache_new(struct event_base *base, size_t max_idle, unsigned idle_seconds)
{
    struct deliver_cache *cache = xcalloc(1, sizeof(*cache));

    cache->base = base;
    cache->max_idle = max_idle;
    cache->idle_seconds = idle_seconds;
    return cache;
}

size_t
deliver_cache_idle(const struct deliver_cache *cache)
{
    return cache->n_idle;
}

static void
cache_unlink(struct deliver_cache *cache, struct deliver_conn *c)
{
    if (c->idle_prev != NULL)
        c->idle_prev->idle_next = c->idle_next;
    else
        cache->head = c->idle_next;
    if (c->idle_next != NULL)
        c->idle_next->idle_prev = c->idle_prev;
    else
        cache->tail = c->idle_prev;
    c->idle_prev = NULL;
    c->idle_next = NULL;
    c->cache = NULL;
    cache->n_idle--;
}

/* Ends an idle connection: QUIT when the server is still there, then free. */
static void
cache_close(struct deliver_conn *c, bool quit, const char *why)
{
    log_debug("-: relay=%s, event=idle-close, reason=%s", c->relay, why);
    if (quit && c->tls) {
        /* No plain bytes into a TLS stream: close_notify instead (RFC 8446 6.1). */
        SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

        if (ssl != NULL)
            (void)SSL_shutdown(ssl);
        ERR_clear_error();
    } else if (quit) {
        /* The output is empty while idle: QUIT goes straight to the socket. */
        log_debug("-: relay=%s, dir=out, line=\"QUIT\"", c->relay);
        (void)send(bufferevent_getfd(c->bev), "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    deliver_conn_free(c);
}

static void
cache_drop(struct deliver_conn *c, bool quit, const char *why)
{
    cache_unlink(c->cache, c);
    cache_close(c, quit, why);
}

static void
cache_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    /* Nothing is due from an idle server but a 421 (RFC 5321 3.8). */
    cache_drop(arg, false, "server-spoke");
}

static void
cache_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        cache_drop(arg, false, "server-closed");
}

static void
cache_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    cache_drop(arg, true, "idle-time");
}

void
deliver_cache_put(struct deliver_cache *cache, struct deliver_conn *c)
{
    struct timeval tv = {(time_t)cache->idle_seconds, 0};

    if (c->timer != NULL)
        event_free(c->timer);
    c->timer = NULL;
    c->d = NULL;
    if (cache->idle_seconds == 0 || cache->max_idle == 0) {
        cache_close(c, true, "cache-off");
        return;
    }
    if (cache->n_idle == cache->max_idle)
        cache_drop(cache->tail, true, "cache-full");
    c->timer = evtimer_new(cache->base, cache_timer_cb, c);
    if (c->timer == NULL || evtimer_add(c->timer, &tv) == -1)
        log_panic("deliver: cannot arm an idle connection's timer");
    bufferevent_setcb(c->bev, cache_read_cb, NULL, cache_event_cb, c);
    c->cache = cache;
    c->idle_prev = NULL;
    c->idle_next = cache->head;
    if (cache->head != NULL)
        cache->head->idle_prev = c;
    else
        cache->tail = c;
    cache->head = c;
    cache->n_idle++;
}

/* True when a and b are the same address and port (the padding of sockaddr_in aside). */
static bool
cache_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)b;

        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;

        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return false;
}

/* True when an idle connection made under key a may serve an attempt that wants b. */
static bool
cache_same_key(const struct deliver_conn_key *a, const struct deliver_conn_key *b)
{
    /* The TLS policy and peer name too: a connection made under may is no verify one. */
    return cache_same_addr(&a->sa, &b->sa) && strcmp(a->helo, b->helo) == 0 &&
           a->tls_policy == b->tls_policy && strcmp(a->name, b->name) == 0 &&
           a->smtps == b->smtps && a->auth == b->auth &&
           (!a->auth || memcmp(a->auth_id, b->auth_id, sizeof(a->auth_id)) == 0);
}

struct deliver_conn *
deliver_cache_take(struct deliver_cache *cache, const struct deliver_conn_key *key)
{
    time_t now = deliver_conn_now();

    for (struct deliver_conn *c = cache->head, *next; c != NULL; c = next) {
        next = c->idle_next;
        if (now - c->connected_at >= DELIVER_REUSE_SECONDS) {
            cache_drop(c, true, "reuse-time");
            continue;
        }
        if (!cache_same_key(&c->key, key))
            continue;
        cache_unlink(cache, c);
        event_free(c->timer);
        c->timer = NULL;
        return c;
    }
    return NULL;
}

void
deliver_cache_clear(struct deliver_cache *cache)
{
    if (cache == NULL)
        return;
    while (cache->head != NULL)
        cache_drop(cache->head, true, "cleared");
}

void
deliver_cache_configure(struct deliver_cache *cache, size_t max_idle, unsigned idle_seconds)
{
    deliver_cache_clear(cache);
    cache->max_idle = max_idle;
    cache->idle_seconds = idle_seconds;
}

void
deliver_cache_free(struct deliver_cache *cache)
{
    if (cache == NULL)
        return;
    deliver_cache_clear(cache);
    free(cache);
}
