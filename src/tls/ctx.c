/* SPDX-License-Identifier: MIT */
/*
 * What the server and client contexts share: their settings (TLS 1.2 and
 * 1.3 only, RFC 8996 deprecates 1.0 and 1.1; the cipher list; no
 * compression, CRIME; no renegotiation), OpenSSL's error queue as one log
 * line, and the checks and copies of names that come from peers.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "lib/str.h"
#include "tls/tls.h"
#include "tls/tls_impl.h"

char *
tls_printable(char *dst, size_t cap, const char *src, size_t len, const char *forbid)
{
    size_t n = len < cap - 1 ? len : cap - 1;

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)src[i];

        dst[i] = ch < 0x20 || ch > 0x7e || (forbid != NULL && strchr(forbid, ch) != NULL)
                     ? '?'
                     : (char)ch;
    }
    dst[n] = '\0';
    if (n < len && cap >= 4)
        memcpy(dst + cap - 4, "...", 4);
    return dst;
}

const char *
tls_error_text(char *dst, size_t cap)
{
    size_t used = 0;
    unsigned long e;
    const char *data;
    int flags;
    bool cut = false;

    if (cap == 0)
        return dst;
    dst[0] = '\0';
    /* The SSL library's reason texts, even before the first context is made. */
    (void)OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS, NULL);
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        char one[512], text[256];
        size_t n;

        if (cut)
            continue; /* keep draining: the queue is cleared either way */
        ERR_error_string_n(e, text, sizeof text);
        if ((flags & ERR_TXT_STRING) && data != NULL && data[0] != '\0')
            (void)snprintf(one, sizeof one, "%s%s (%s)", used ? "; " : "", text, data);
        else
            (void)snprintf(one, sizeof one, "%s%s", used ? "; " : "", text);
        n = strlen(one);
        if (used + n >= cap) {
            n = cap - 1 - used;
            cut = true;
        }
        /* Data strings can hold anything a peer sent: one printable line. */
        tls_printable(dst + used, n + 1, one, n, NULL);
        used += n;
        if (cut && cap >= 4)
            memcpy(dst + cap - 4, "...", 4);
    }
    if (dst[0] == '\0')
        (void)str_copyz(dst, cap, "no OpenSSL error");
    return dst;
}

static int __attribute__((format(printf, 4, 0)))
fail_v(char *err, size_t errcap, bool with_ssl, const char *fmt, va_list ap)
{
    char msg[1024], ssl[512];

    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    if (with_ssl)
        tls_error_text(ssl, sizeof ssl);
    else
        ERR_clear_error();
    if (err == NULL || errcap == 0)
        return -1;
    if (with_ssl)
        (void)snprintf(err, errcap, "%s (%s)", msg, ssl);
    else
        (void)snprintf(err, errcap, "%s", msg);
    return -1;
}

int
tls_fail(char *err, size_t errcap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)fail_v(err, errcap, false, fmt, ap);
    va_end(ap);
    return -1;
}

int
tls_fail_ssl(char *err, size_t errcap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)fail_v(err, errcap, true, fmt, ap);
    va_end(ap);
    return -1;
}

int
tls_fail_at(const struct conf *c, unsigned line, char *err, size_t errcap)
{
    char msg[1024];

    if (err == NULL || errcap == 0 || c->path[0] == '\0' || line == 0)
        return -1;
    (void)str_copyz(msg, sizeof msg, err);
    (void)snprintf(err, errcap, "%s:%u: %s", c->path, line, msg);
    return -1;
}

/* An encrypted key would make OpenSSL prompt on the terminal: refuse instead. */
static int
no_password(char *buf, int size, int rwflag, void *arg)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)arg;
    return -1;
}

int
tls_ctx_setup(SSL_CTX *ctx, const struct conf *c, char *err, size_t errcap)
{
    const char *ciphers = c->tls_ciphers[0] != '\0' ? c->tls_ciphers : TLS_DEFAULT_CIPHERS;

    /* RFC 8996: TLS 1.0 and 1.1 are deprecated; RFC 8314 4.1 asks for 1.2 at least. */
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
        return tls_fail_ssl(err, errcap, "cannot set the minimum TLS version");
    if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1)
        return tls_fail_ssl(err, errcap, "ciphers '%s' name no cipher", ciphers);
    /* Compression leaks secrets (CRIME); renegotiation has had its own attacks and SMTP has
     * no use for it. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
    SSL_CTX_set_default_passwd_cb(ctx, no_password);
    /* A cipher list with DHE suites needs parameters; OpenSSL picks them by key size. */
    (void)SSL_CTX_set_dh_auto(ctx, 1);
    return 0;
}

/* let-dig [ *61(let-dig / "-") let-dig ]   RFC 1123 2.1, RFC 1035 2.3.1 */
static bool
is_label(const char *p, size_t len)
{
    if (len == 0 || len > 63 || p[0] == '-' || p[len - 1] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-'))
            return false;
    }
    return true;
}

bool
tls_host_name(const char *name, size_t len, char *out)
{
    size_t start = 0, last = 0;
    bool digits = true;

    if (len > 0 && name[len - 1] == '.')
        len--; /* the root label (RFC 1034 3.1); SNI carries no trailing dot (RFC 6066 3) */
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != '.')
            continue;
        if (!is_label(name + start, i - start))
            return false;
        last = start;
        start = i + 1;
    }
    /* An all-digit last label is an address typed where a name belongs (RFC 3696 2). */
    for (size_t i = last; i < len; i++)
        digits = digits && name[i] >= '0' && name[i] <= '9';
    if (digits)
        return false;
    memcpy(out, name, len);
    out[len] = '\0';
    return true;
}

bool
tls_is_address(const char *name)
{
    unsigned char buf[16];

    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}
