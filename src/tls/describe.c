/* SPDX-License-Identifier: MIT */
/*
 * tls_describe(): what a handshake gave (version, cipher, SNI, the peer's
 * certificate, the result of its verification and of the name check), in
 * fixed fields of printable ASCII for log lines, the Received header's
 * "with ESMTPS" clause (RFC 3848) and `gate26 check`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "lib/str.h"
#include "tls/tls.h"
#include "tls/tls_impl.h"

static void
copy_z(char *dst, size_t cap, const char *src)
{
    if (src == NULL)
        src = "";
    tls_printable(dst, cap, src, strlen(src), NULL);
}

static void
describe_cn(X509 *cert, char *dst, size_t cap)
{
    const X509_NAME *subject = X509_get_subject_name(cert);
    int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    unsigned char *utf8 = NULL;
    int len;

    if (at < 0)
        return;
    len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
    if (len >= 0)
        tls_printable(dst, cap, (const char *)utf8, (size_t)len, NULL);
    OPENSSL_free(utf8);
}

static void
describe_issuer(X509 *cert, char *dst, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *text;
    long len;

    if (b == NULL)
        return;
    /* RFC 2253 order and escaping; octets past ASCII come out as \XX. */
    if (X509_NAME_print_ex(b, X509_get_issuer_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        len = BIO_get_mem_data(b, &text);
        if (len > 0)
            tls_printable(dst, cap, text, (size_t)len, NULL);
    }
    BIO_free(b);
}

/*
 * Adds one name to the list, or "..." when TLS_INFO_SAN_MAX names are listed
 * or the name does not fit; after "...", nothing more. Returns false once full.
 */
static bool
san_add(struct tls_info *out, size_t *used, unsigned *listed, const char *name, size_t len)
{
    char one[TLS_INFO_NAME];
    const char *sep = *used ? "," : "";
    size_t n;

    /* ',' separates the list: inside a name it would forge another. */
    tls_printable(one, sizeof one, name, len, ",");
    n = strlen(one);
    if (*listed == TLS_INFO_SAN_MAX || *used + strlen(sep) + n + 4 >= sizeof out->peer_san) {
        (void)str_fmt(out->peer_san + *used, sizeof out->peer_san - *used, "%s...", sep);
        return false;
    }
    (void)str_fmt(out->peer_san + *used, sizeof out->peer_san - *used, "%s%s", sep, one);
    *used += strlen(sep) + n;
    (*listed)++;
    return true;
}

/* The DNS names and addresses of subjectAltName (RFC 5280 4.2.1.6); other kinds are left out. */
static void
describe_san(X509 *cert, struct tls_info *out)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    size_t used = 0;
    unsigned listed = 0;
    bool full = false;

    if (names == NULL)
        return;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        const ASN1_STRING *s;
        char addr[INET6_ADDRSTRLEN] = "?";

        if (g->type == GEN_DNS) {
            s = g->d.dNSName;
            out->n_peer_san++;
            if (!full)
                full = !san_add(out, &used, &listed, (const char *)ASN1_STRING_get0_data(s),
                                (size_t)ASN1_STRING_length(s));
        } else if (g->type == GEN_IPADD) {
            s = g->d.iPAddress;
            out->n_peer_san++;
            if (ASN1_STRING_length(s) == 4)
                (void)inet_ntop(AF_INET, ASN1_STRING_get0_data(s), addr, sizeof addr);
            else if (ASN1_STRING_length(s) == 16)
                (void)inet_ntop(AF_INET6, ASN1_STRING_get0_data(s), addr, sizeof addr);
            if (!full)
                full = !san_add(out, &used, &listed, addr, strlen(addr));
        }
    }
    GENERAL_NAMES_free(names);
}

static void
describe_cert(X509 *cert, struct tls_info *out)
{
    struct tm tm;

    out->has_peer_cert = true;
    describe_cn(cert, out->peer_cn, sizeof out->peer_cn);
    describe_issuer(cert, out->peer_issuer, sizeof out->peer_issuer);
    describe_san(cert, out);
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
        out->peer_not_after = timegm(&tm);
}

/* The name tls_client_ssl_new() asked to match, and whether the certificate does. */
static void
describe_name(SSL *ssl, X509 *cert, struct tls_info *out)
{
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    const char *host = X509_VERIFY_PARAM_get0_host(param, 0);
    char *ip = host == NULL ? X509_VERIFY_PARAM_get1_ip_asc(param) : NULL;

    if (host == NULL && ip == NULL)
        return;
    out->name_checked = true;
    copy_z(out->peer_name, sizeof out->peer_name, host != NULL ? host : ip);
    if (cert != NULL && host != NULL)
        out->name_matched = X509_check_host(cert, host, strlen(host),
                                            X509_VERIFY_PARAM_get_hostflags(param), NULL) == 1;
    else if (cert != NULL)
        out->name_matched = X509_check_ip_asc(cert, ip, 0) == 1;
    OPENSSL_free(ip);
}

void
tls_describe(const SSL *cssl, struct tls_info *out)
{
    /* The getters below take a non-const SSL but change nothing. */
    SSL *ssl = (SSL *)cssl;
    const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
    X509 *cert = SSL_get0_peer_certificate(ssl);
    long v;

    memset(out, 0, sizeof *out);
    copy_z(out->version, sizeof out->version, SSL_get_version(ssl));
    if (cipher != NULL) {
        copy_z(out->cipher, sizeof out->cipher, SSL_CIPHER_get_name(cipher));
        out->bits = SSL_CIPHER_get_bits(cipher, NULL);
    }
    copy_z(out->servername, sizeof out->servername,
           SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
    if (cert != NULL)
        describe_cert(cert, out);
    v = SSL_get_verify_result(ssl);
    out->verify_result = v;
    copy_z(out->verify_text, sizeof out->verify_text,
           v == X509_V_OK ? "ok" : X509_verify_cert_error_string(v));
    describe_name(ssl, cert, out);
}

int
tls_describe_file(const char *path, struct tls_info *out, char *why, size_t whycap)
{
    FILE *f = fopen(path, "re");
    X509 *x;

    memset(out, 0, sizeof *out);
    if (f == NULL) {
        (void)str_fmt(why, whycap, "cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    x = PEM_read_X509(f, NULL, NULL, NULL);
    (void)fclose(f);
    ERR_clear_error();
    if (x == NULL) {
        (void)str_fmt(why, whycap, "no certificate in '%s'", path);
        return -1;
    }
    describe_cert(x, out);
    X509_free(x);
    return 0;
}
