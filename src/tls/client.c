/* SPDX-License-Identifier: MIT */
/*
 * The client side, for STARTTLS to the next hop (RFC 3207): one context
 * with the CA store, and one SSL per connection whose policy decides what a
 * bad certificate means. Under `verify` OpenSSL checks the chain and the
 * name during the handshake (RFC 6125 6: DNS subjectAltNames, the
 * commonName when there are none; an address literal against the
 * certificate's IP addresses) and fails it otherwise; under `may` and
 * `encrypt` the same check runs and is only recorded (RFC 7435 3:
 * opportunistic security takes what it can get).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "tls/tls.h"
#include "tls/tls_impl.h"

struct tls_client {
    unsigned refs;
    SSL_CTX *ctx;
};

struct tls_client *
tls_client_new(const struct conf *c, char *err, size_t errcap)
{
    struct tls_client *cl;
    SSL_CTX *ctx;

    if (err != NULL && errcap > 0)
        err[0] = '\0';
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        (void)tls_fail_ssl(err, errcap, "cannot create a TLS context");
        return NULL;
    }
    if (tls_ctx_setup(ctx, c, err, errcap) == -1) {
        (void)tls_fail_at(c, c->tls_ciphers_line, err, errcap);
        goto fail;
    }
    if (c->tls_ca_file[0] != '\0') {
        FILE *f = fopen(c->tls_ca_file, "re");

        /* OpenSSL's own message would not say which file, nor why it could not be read. */
        if (f == NULL) {
            (void)tls_fail(err, errcap, "cannot read CA file '%s': %s", c->tls_ca_file,
                           strerror(errno));
            (void)tls_fail_at(c, c->tls_ca_file_line, err, errcap);
            goto fail;
        }
        (void)fclose(f);
        if (SSL_CTX_load_verify_locations(ctx, c->tls_ca_file, NULL) != 1) {
            (void)tls_fail_ssl(err, errcap, "CA file '%s' holds no PEM certificate",
                               c->tls_ca_file);
            (void)tls_fail_at(c, c->tls_ca_file_line, err, errcap);
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        (void)tls_fail_ssl(err, errcap, "cannot use the system's CA store");
        goto fail;
    }
    ERR_clear_error();
    cl = xcalloc(1, sizeof *cl);
    cl->refs = 1;
    cl->ctx = ctx;
    return cl;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

struct tls_client *
tls_client_ref(struct tls_client *cl)
{
    cl->refs++;
    return cl;
}

void
tls_client_unref(struct tls_client *cl)
{
    if (cl == NULL)
        return;
    if (cl->refs == 0)
        log_panic("tls_client_unref: client %p has no reference left", (void *)cl);
    if (--cl->refs > 0)
        return;
    SSL_CTX_free(cl->ctx);
    free(cl);
}

/* SNI and the name to match for a host name; the address to match for a literal. */
static int
set_peer(SSL *ssl, const char *peer_name)
{
    char name[CAP_DOMAIN + 1];

    if (tls_is_address(peer_name)) {
        /* RFC 6066 3: literal addresses are not sent in SNI. */
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), peer_name) != 1)
            return -1;
        return 0;
    }
    if (!tls_host_name(peer_name, strlen(peer_name), name)) {
        errno = EINVAL;
        return -1;
    }
    if (SSL_set_tlsext_host_name(ssl, name) != 1 || SSL_set1_host(ssl, name) != 1)
        return -1;
    /* RFC 6125 6.4.3: a wildcard is a whole left-most label. */
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return 0;
}

SSL *
tls_client_ssl_new(struct tls_client *cl, const char *peer_name, enum conf_tls_policy policy)
{
    bool has_name = peer_name != NULL && peer_name[0] != '\0';
    SSL *ssl;

    if (policy == CONF_TLS_POLICY_NONE)
        log_panic("tls_client_ssl_new: asked for TLS under policy none");
    if (policy == CONF_TLS_POLICY_VERIFY && !has_name) {
        errno = EINVAL;
        return NULL;
    }
    ssl = SSL_new(cl->ctx);
    if (ssl == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    errno = ENOMEM;
    if (has_name && set_peer(ssl, peer_name) == -1) {
        int e = errno;

        SSL_free(ssl);
        ERR_clear_error();
        errno = e;
        return NULL;
    }
    /* Under may and encrypt the chain is still checked and SSL_get_verify_result() keeps
     * what was found; only verify fails the handshake for it. */
    SSL_set_verify(ssl, policy == CONF_TLS_POLICY_VERIFY ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    SSL_set_connect_state(ssl);
    return ssl;
}
