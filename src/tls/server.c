/* SPDX-License-Identifier: MIT */
/*
 * The server side: one SSL_CTX per cert/key pair of the tls block, the
 * first one the default, and the SNI callback (RFC 6066 3) that moves a
 * handshake to the context whose certificate matches the name the client
 * asked for (RFC 6125 6.4: DNS subjectAltNames, the commonName when there
 * are none, a wildcard standing for one whole left-most label). Sessions may
 * resume (session cache and tickets); clients are not asked for
 * certificates.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "tls/tls.h"
#include "tls/tls_impl.h"

struct tls_server {
    unsigned refs;
    size_t n_ctx;
    SSL_CTX **ctx; /* one per pair, in the conf's order; ctx[0] is the default */
};

/* ---- Loading a pair ---- */

static FILE *
open_file(const char *what, const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "re");

    if (f == NULL)
        (void)tls_fail(err, errcap, "cannot read %s '%s': %s", what, path, strerror(errno));
    return f;
}

/* True when OpenSSL's last error means "the PEM file held no more objects". */
static bool
is_pem_end(void)
{
    unsigned long e = ERR_peek_last_error();

    return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

/* The certificate, then the chain after it (RFC 8446 4.4.2: the sender's first). */
static int
load_cert(SSL_CTX *ctx, const char *path, char *err, size_t errcap)
{
    FILE *f = open_file("certificate", path, err, errcap);
    X509 *leaf, *extra;
    int r = 0;

    if (f == NULL)
        return -1;
    ERR_clear_error();
    leaf = PEM_read_X509_AUX(f, NULL, NULL, NULL);
    if (leaf == NULL) {
        (void)fclose(f);
        return tls_fail_ssl(err, errcap, "certificate '%s' holds no PEM certificate", path);
    }
    if (SSL_CTX_use_certificate(ctx, leaf) != 1)
        r = tls_fail_ssl(err, errcap, "certificate '%s' cannot be used", path);
    X509_free(leaf);
    while (r == 0 && (extra = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
            X509_free(extra);
            r = tls_fail_ssl(err, errcap, "certificate '%s': cannot add its chain", path);
        }
    }
    if (r == 0 && !is_pem_end())
        r = tls_fail_ssl(err, errcap, "certificate '%s': bad PEM after the first certificate",
                         path);
    ERR_clear_error();
    (void)fclose(f);
    return r;
}

static int
load_key(SSL_CTX *ctx, const char *key_path, const char *cert_path, char *err, size_t errcap)
{
    FILE *f = open_file("key", key_path, err, errcap);
    EVP_PKEY *key;
    unsigned long e;
    int r = 0;

    if (f == NULL)
        return -1;
    ERR_clear_error();
    key = PEM_read_PrivateKey(f, NULL, SSL_CTX_get_default_passwd_cb(ctx), NULL);
    (void)fclose(f);
    if (key == NULL) {
        e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_PEM && (ERR_GET_REASON(e) == PEM_R_BAD_PASSWORD_READ ||
                                              ERR_GET_REASON(e) == PEM_R_PROBLEMS_GETTING_PASSWORD))
            return tls_fail(err, errcap, "key '%s' is encrypted: gate26 needs it unencrypted",
                            key_path);
        return tls_fail_ssl(err, errcap, "key '%s' holds no PEM private key", key_path);
    }
    if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key) != 1)
        r = tls_fail(err, errcap, "key '%s' does not match certificate '%s'", key_path, cert_path);
    else if (SSL_CTX_use_PrivateKey(ctx, key) != 1)
        r = tls_fail_ssl(err, errcap, "key '%s' cannot be used", key_path);
    EVP_PKEY_free(key);
    return r;
}

/* ---- SNI ---- */

static int ex_server = -1; /* SSL ex_data: the struct tls_server a session holds */
static CRYPTO_ONCE ex_once = CRYPTO_ONCE_STATIC_INIT;

/* SSL_free() drops the session's reference. */
static void
ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    tls_server_unref(ptr);
}

static void
ex_init(void)
{
    ex_server = SSL_get_ex_new_index(0, NULL, NULL, NULL, ex_free);
}

/*
 * ClientHello's server_name (RFC 6066 3): the first context whose
 * certificate matches it, else the default. A name that is not a host name
 * (odd octets, too long) gets the default too: the handshake goes on, the
 * client decides whether the default certificate will do.
 */
static int
on_servername(SSL *ssl, int *alert, void *arg)
{
    const struct tls_server *s = SSL_get_ex_data(ssl, ex_server);
    const char *asked = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    char name[CAP_DOMAIN + 1];

    (void)alert;
    (void)arg;
    if (s == NULL || asked == NULL || !tls_host_name(asked, strlen(asked), name))
        return SSL_TLSEXT_ERR_OK;
    for (size_t i = 0; i < s->n_ctx; i++) {
        X509 *cert = SSL_CTX_get0_certificate(s->ctx[i]);

        /* RFC 6125 6.4.3: the wildcard is the whole left-most label. */
        if (X509_check_host(cert, name, strlen(name), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) ==
            1) {
            if (i > 0 && SSL_set_SSL_CTX(ssl, s->ctx[i]) == NULL)
                return SSL_TLSEXT_ERR_ALERT_FATAL;
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
pair_ctx(const struct conf *c, const struct conf_tls_pair *pair, char *err, size_t errcap)
{
    static const unsigned char sid_ctx[] = "gate26";
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        (void)tls_fail_ssl(err, errcap, "cannot create a TLS context");
        return NULL;
    }
    if (tls_ctx_setup(ctx, c, err, errcap) == -1) {
        (void)tls_fail_at(c, c->tls_ciphers_line, err, errcap);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (load_cert(ctx, pair->cert, err, errcap) == -1) {
        (void)tls_fail_at(c, pair->line, err, errcap);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (load_key(ctx, pair->key, pair->cert, err, errcap) == -1) {
        (void)tls_fail_at(c, pair->key_line, err, errcap);
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* Our order of ciphers, not the client's. */
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    (void)SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    return ctx;
}

struct tls_server *
tls_server_new(const struct conf *c, char *err, size_t errcap)
{
    struct tls_server *s;

    if (err != NULL && errcap > 0)
        err[0] = '\0';
    if (c->n_tls_pairs == 0) {
        (void)tls_fail(err, errcap, "no certificate: the tls block has no cert and key");
        return NULL;
    }
    if (!CRYPTO_THREAD_run_once(&ex_once, ex_init) || ex_server < 0) {
        (void)tls_fail_ssl(err, errcap, "cannot set up OpenSSL");
        return NULL;
    }
    s = xcalloc(1, sizeof *s);
    s->refs = 1;
    s->ctx = xcalloc(c->n_tls_pairs, sizeof *s->ctx);
    for (size_t i = 0; i < c->n_tls_pairs; i++) {
        s->ctx[i] = pair_ctx(c, &c->tls_pairs[i], err, errcap);
        if (s->ctx[i] == NULL) {
            tls_server_unref(s);
            return NULL;
        }
        s->n_ctx++;
    }
    return s;
}

struct tls_server *
tls_server_ref(struct tls_server *s)
{
    s->refs++;
    return s;
}

void
tls_server_unref(struct tls_server *s)
{
    if (s == NULL)
        return;
    if (s->refs == 0)
        log_panic("tls_server_unref: server %p has no reference left", (void *)s);
    if (--s->refs > 0)
        return;
    for (size_t i = 0; i < s->n_ctx; i++)
        SSL_CTX_free(s->ctx[i]);
    free(s->ctx);
    free(s);
}

SSL *
tls_server_ssl_new(struct tls_server *s)
{
    SSL *ssl = SSL_new(s->ctx[0]);

    if (ssl == NULL)
        return NULL;
    if (SSL_set_ex_data(ssl, ex_server, s) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    tls_server_ref(s);
    SSL_set_accept_state(ssl);
    return ssl;
}

time_t
tls_server_not_after(const struct tls_server *s)
{
    time_t first = 0;

    for (size_t i = 0; s != NULL && i < s->n_ctx; i++) {
        X509 *cert = SSL_CTX_get0_certificate(s->ctx[i]);
        struct tm tm;
        time_t t;

        if (cert == NULL || ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
            continue;
        t = timegm(&tm);
        if (first == 0 || t < first)
            first = t;
    }
    return first;
}
