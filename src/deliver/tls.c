/* SPDX-License-Identifier: MIT */
/*
 * STARTTLS on the client side (RFC 3207), by the attempt's policy
 * (deliver_opts.tls_policy; delivery { tls } and domain { tls }):
 *
 *   none     never
 *   may      when the server offers it (RFC 7435 opportunistic security):
 *            any certificate; a refused STARTTLS goes on in the clear; a
 *            failed handshake makes the same hop be tried again, on a new
 *            connection without TLS
 *   encrypt  required: not offered is a hop failure 4.7.4, a failed
 *            handshake 4.7.5; any certificate
 *   verify   as encrypt, and the chain must verify against the CA store and
 *            the certificate must name the hop (tls/ checks both in the
 *            handshake): else 4.7.5
 *
 * The contexts are tls/'s; here the plain bufferevent is swapped for an
 * OpenSSL one on the same socket, and EHLO is sent again once the
 * handshake is done (RFC 3207 4.2: what the server said before no longer
 * counts).
 *
 * An smtps hop (RFC 8314 3.3, "implicit TLS") gets the handshake as soon as
 * the TCP connection is up, and the greeting comes inside TLS. TLS is then
 * not a choice: none and may count as encrypt, verify stays verify, and a
 * failed handshake is a hop failure (4.7.5), never a retry in the clear.
 */
#include <errno.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "deliver/deliver_impl.h"
#include "lib/log.h"
#include "lib/str.h"
#include "tls/tls.h"

/* The policy the handshake runs under: an smtps hop always has TLS (RFC 8314 3.3). */
static enum conf_tls_policy
tls_policy_of(const struct deliver_conn *c)
{
    enum conf_tls_policy policy = c->d->opts.tls_policy;

    if (c->key.smtps && policy != CONF_TLS_POLICY_VERIFY)
        return CONF_TLS_POLICY_ENCRYPT;
    return policy;
}

/* A hop failure for TLS, before the transaction: the next hop is tried. */
static void
tls_hop_failed(struct deliver_conn *c, const char *enhanced, const char *text, bool quit)
{
    deliver_hop_failed(c->d, c, enhanced, text);
    if (quit)
        deliver_conn_quit(c);
    else
        deliver_conn_close(c);
}

void
deliver_tls_after_ehlo(struct deliver_conn *c)
{
    const struct deliver *d = c->d;
    enum conf_tls_policy policy = d->opts.tls_policy;
    char text[DELIVER_TEXT_MAX];

    if (c->tls || policy == CONF_TLS_POLICY_NONE || (policy == CONF_TLS_POLICY_MAY && d->no_tls)) {
        deliver_auth_start(c);
        return;
    }
    if (c->caps.starttls && d->opts.tls != NULL) {
        deliver_conn_write(c, "STARTTLS\r\n", 10);
        deliver_conn_set_state(c, DELIVER_ST_STARTTLS);
        deliver_conn_arm(c, d->opts.timeouts.command);
        return;
    }
    if (policy == CONF_TLS_POLICY_MAY) {
        deliver_auth_start(c);
        return;
    }
    (void)str_fmt(text, sizeof(text), "TLS is required (tls %s), but %s",
                  conf_tls_policy_name(policy),
                  d->opts.tls == NULL ? "no TLS client context is loaded"
                                      : "the server does not offer STARTTLS");
    tls_hop_failed(c, "4.7.4", text, true);
}

/* The plain bufferevent lets go of the socket; an OpenSSL one takes it. */
static void
tls_begin(struct deliver_conn *c)
{
    struct deliver *d = c->d;
    SSL *ssl;
    int fd = bufferevent_getfd(c->bev);
    char text[DELIVER_TEXT_MAX];

    if (d->opts.tls == NULL) {
        /* Only an smtps hop gets here without a context (STARTTLS waits for one). */
        (void)str_fmt(text, sizeof(text), "%s is smtps://, but no TLS client context is loaded",
                      c->relay);
        tls_hop_failed(c, "4.7.4", text, false);
        return;
    }
    ssl = tls_client_ssl_new(d->opts.tls, d->hops[c->hop].name, tls_policy_of(c));
    if (ssl == NULL) {
        char err[256];

        (void)str_fmt(text, sizeof(text), "cannot start TLS with %s: %s", c->relay,
                      errno == EINVAL ? "the name cannot be checked"
                                      : tls_error_text(err, sizeof(err)));
        /* In smtps no SMTP has been spoken: nothing to QUIT. */
        tls_hop_failed(c, "4.7.5", text, !c->key.smtps);
        return;
    }
    if (bufferevent_setfd(c->bev, -1) == -1)
        log_panic("bufferevent_setfd failed");
    bufferevent_free(c->bev);
    c->bev = bufferevent_openssl_socket_new(d->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL)
        log_panic("bufferevent_openssl_socket_new failed");
    bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    deliver_conn_setup_bev(c);
    deliver_conn_set_state(c, DELIVER_ST_TLS);
    deliver_conn_arm(c, d->opts.timeouts.command);
}

void
deliver_tls_implicit(struct deliver_conn *c)
{
    tls_begin(c);
}

void
deliver_tls_reply(struct deliver_conn *c, const struct deliver_reply *r)
{
    char text[DELIVER_TEXT_MAX];

    if (r->code == 220) {
        tls_begin(c);
        return;
    }
    if (c->d->opts.tls_policy == CONF_TLS_POLICY_MAY && r->code != 421) {
        /* RFC 3207 4: the client may go on without TLS. */
        log_info("%s: relay=%s, event=starttls-refused, reply=\"%s\"", deliver_log_id(c->d),
                 c->relay, r->text);
        deliver_auth_start(c);
        return;
    }
    (void)str_fmt(text, sizeof(text), "%s said: %s (in reply to STARTTLS command)", c->relay,
                  r->text);
    tls_hop_failed(c, "4.7.4", text, r->code != 421);
}

void
deliver_tls_up(struct deliver_conn *c)
{
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    struct tls_info info;

    if (c->state != DELIVER_ST_TLS || ssl == NULL)
        return;
    tls_describe(ssl, &info);
    c->tls = true;
    (void)str_fmt(c->tls_desc, sizeof(c->tls_desc), "%s %s %s", info.version, info.cipher,
                  info.verify_result == X509_V_OK && (!info.name_checked || info.name_matched)
                      ? "verified"
                      : "unverified");
    log_info("%s: relay=%s, event=tls, version=%s, cipher=%s, bits=%d, peer=\"%s\", issuer=\"%s\", "
             "verify=\"%s\"",
             deliver_log_id(c->d), c->relay, info.version, info.cipher, info.bits, info.peer_cn,
             info.peer_issuer, info.verify_text);
    if (c->key.smtps) {
        /* RFC 8314 3.3: the server greets inside TLS. */
        deliver_conn_set_state(c, DELIVER_ST_GREETING);
        deliver_conn_arm(c, c->d->opts.timeouts.greeting);
        return;
    }
    /* RFC 3207 4.2: what the server said before TLS no longer counts. */
    memset(&c->caps, 0, sizeof(c->caps));
    deliver_conn_ehlo(c);
}

void
deliver_tls_failed(struct deliver_conn *c)
{
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    char text[DELIVER_TEXT_MAX], err[256], reason[300];
    unsigned long e;
    long vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
    size_t o = 0;

    err[0] = '\0';
    while ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
        if (o == 0) {
            ERR_error_string_n(e, err, sizeof(err));
            o = strlen(err);
        }
    }
    if (vr != X509_V_OK && tls_policy_of(c) == CONF_TLS_POLICY_VERIFY)
        (void)str_fmt(reason, sizeof(reason), "certificate not verified: %s",
                      X509_verify_cert_error_string(vr));
    else
        (void)str_fmt(reason, sizeof(reason), "%s", err[0] != '\0' ? err : "connection lost");
    (void)str_fmt(text, sizeof(text), "TLS handshake with %s failed: %s", c->relay, reason);
    if (tls_policy_of(c) == CONF_TLS_POLICY_MAY) {
        /* Opportunistic: the same hop again, in the clear (RFC 7435 5). */
        log_info("%s: relay=%s, event=tls-failed, action=plain-again, reason=\"%s\"",
                 deliver_log_id(c->d), c->relay, reason);
        c->plain_again = true;
        deliver_conn_close(c);
        return;
    }
    tls_hop_failed(c, "4.7.5", text, false);
}
