/* SPDX-License-Identifier: MIT */
/*
 * TLS on the server side of a session: STARTTLS (RFC 3207) on doors with
 * `tls starttls`, and TLS from the first byte on `tls implicit` doors (RFC
 * 8314 3.3). The contexts (certificates, SNI, protocol floor) are tls/'s;
 * this file turns a session's plain bufferevent into an OpenSSL one.
 *
 * STARTTLS: the 220 goes out in the clear; then whatever the client sent
 * after the STARTTLS line, still in the clear, is thrown away unread (the
 * CVE-2011-0411 class: commands injected there must never run as if they
 * came over TLS), and the session forgets everything the client said
 * before: EHLO again, no transaction (RFC 3207 4.2). Bytes the client sent
 * in the clear that were still in the kernel's buffer reach OpenSSL as a
 * bad handshake and end the session.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/log.h"
#include "lib/str.h"
#include "smtp/session.h"
#include "tls/tls.h"
#include "watch/metrics.h"

bool
smtp_tls_offered(const struct smtp_session *s)
{
    return !s->tls && s->env->tls != NULL &&
           (s->door->tls == CONF_TLS_STARTTLS || s->door->tls == CONF_TLS_STARTTLS_REQUIRED);
}

void
smtp_cmd_starttls(struct smtp_session *s, const struct smtp_cmd *c)
{
    if (s->tls) {
        smtp_reply(s, R_TLS_ACTIVE, NULL);
        return;
    }
    if (!smtp_tls_offered(s)) {
        smtp_reply(s, R_STARTTLS_UNAVAIL, NULL);
        return;
    }
    if (c->has_arg) {
        smtp_reply(s, R_NO_ARGUMENTS, "STARTTLS");
        return;
    }
    if (s->state == SMTP_ST_GREETED) {
        smtp_reply(s, R_NEED_HELO, NULL);
        return;
    }
    if (s->state != SMTP_ST_READY) {
        /* Not inside a transaction: its envelope would straddle the clear and TLS. */
        smtp_reply(s, R_BAD_SEQUENCE, NULL);
        return;
    }
    smtp_reply(s, R_TLS_GO, NULL);
    if (s->state != SMTP_ST_CLOSING)
        session_set_state(s, SMTP_ST_STARTTLS);
}

/* A new SSL for this session, or NULL after a warning (local trouble). */
static SSL *
tls_new_ssl(struct smtp_session *s)
{
    SSL *ssl = s->env->tls != NULL ? tls_server_ssl_new(s->env->tls) : NULL;

    if (ssl == NULL) {
        char err[256];

        metrics_tls_failure(s->door->role);
        log_warning(
            "-: sid=%s, client=[%s], event=tls-unavailable, error=\"%s\"", s->sid, s->client_addr,
            s->env->tls == NULL ? "no certificate loaded" : tls_error_text(err, sizeof(err)));
    }
    return ssl;
}

/* s->bev becomes an OpenSSL bufferevent on fd, accepting. */
static bool
tls_wrap(struct smtp_session *s, int fd, SSL *ssl)
{
    s->bev = bufferevent_openssl_socket_new(s->env->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (s->bev == NULL)
        log_panic("bufferevent_openssl_socket_new failed");
    /* A client that closes without close_notify has still just closed. */
    bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
    s->tls = true;
    session_bev_setup(s);
    /* OpenSSL's bufferevent writes as output comes: no direct writes (session_flush). */
    (void)bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    return true;
}

bool
smtp_tls_accept(struct smtp_session *s, int fd)
{
    SSL *ssl = tls_new_ssl(s);

    if (ssl == NULL)
        return false;
    return tls_wrap(s, fd, ssl);
}

bool
smtp_tls_switch(struct smtp_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    size_t junk = evbuffer_get_length(in);
    int fd = bufferevent_getfd(s->bev);
    SSL *ssl;

    if (junk > 0) {
        /* Sent in the clear after STARTTLS: never to be run inside TLS. */
        log_info("-: sid=%s, client=[%s], event=starttls-pipelined, discarded=%zu", s->sid,
                 s->client_addr, junk);
        (void)evbuffer_drain(in, junk);
    }
    ssl = tls_new_ssl(s);
    if (ssl == NULL) {
        smtp_reply(s, R_TLS_TEMP, NULL);
        session_set_state(s, SMTP_ST_READY);
        session_close(s);
        return false;
    }
    /* The plain bufferevent lets go of the socket; the OpenSSL one takes it. */
    if (bufferevent_setfd(s->bev, -1) == -1)
        log_panic("bufferevent_setfd failed");
    bufferevent_free(s->bev);
    (void)tls_wrap(s, fd, ssl);
    /* RFC 3207 4.2: discard any knowledge obtained from the client. */
    smtp_txn_reset(s);
    s->helo[0] = '\0';
    s->esmtp = false;
    session_set_state(s, SMTP_ST_GREETED);
    return true;
}

void
smtp_tls_up(struct smtp_session *s)
{
    struct tls_info info;
    SSL *ssl = bufferevent_openssl_get_ssl(s->bev);

    if (ssl == NULL || s->tls_up)
        return;
    s->tls_up = true;
    tls_describe(ssl, &info);
    metrics_tls_handshake(s->door->role, info.version);
    (void)str_fmt(s->tls_desc, sizeof(s->tls_desc), "%s with cipher %s (%d bits)", info.version,
                  info.cipher, info.bits);
    log_info("-: sid=%s, client=[%s], event=tls, version=%s, cipher=%s, bits=%d, sni=\"%s\"",
             s->sid, s->client_addr, info.version, info.cipher, info.bits, info.servername);
}

const char *
smtp_tls_error(struct smtp_session *s, char *buf, size_t cap)
{
    unsigned long e;
    size_t o = 0;

    if (!s->tls)
        return NULL;
    buf[0] = '\0';
    while ((e = bufferevent_get_openssl_error(s->bev)) != 0) {
        char one[200];

        ERR_error_string_n(e, one, sizeof(one));
        if (o > 0 && o + 2 < cap) {
            memcpy(buf + o, "; ", 3);
            o += 2;
        }
        if (str_copyz(buf + o, cap - o, one) == -1)
            break;
        o += strlen(buf + o);
    }
    return buf[0] != '\0' ? buf : NULL;
}

void
smtp_tls_close(struct smtp_session *s)
{
    SSL *ssl;

    if (!s->tls_up || s->peer_gone)
        return;
    ssl = bufferevent_openssl_get_ssl(s->bev);
    /*
     * close_notify (RFC 8446 6.1), so that the client can tell our close
     * from a truncation; best effort on the non-blocking socket, and no
     * wait for the client's own.
     */
    if (ssl != NULL)
        (void)SSL_shutdown(ssl);
    ERR_clear_error();
}
