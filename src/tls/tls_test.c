/* SPDX-License-Identifier: MIT */
/*
 * Tests of src/tls. At the start a throwaway CA and certificates are made
 * with the OpenSSL API into a temporary directory: a.pem (a.example,
 * b.example, 127.0.0.1), c.pem (c.example, *.w.example), cn.pem (a
 * commonName and no subjectAltName), expired.pem, self.pem (self-signed),
 * odd.pem (hostile names), and files that are wrong in each way a loader
 * must name. Handshakes run in memory, client and server SSL over a BIO
 * pair. Every table has hostile rows.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "conf/conf.h"
#include "lib/xalloc.h"
#include "tls/tls.h"
#include "tls/tls_impl.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[256];

/* ---- Making certificates ---- */

static EVP_PKEY *ca_key;
static X509 *ca_cert;
static long next_serial = 1;

static void
path_of(char *out, size_t cap, const char *name)
{
    (void)snprintf(out, cap, "%s/%s", tmpdir, name);
}

static EVP_PKEY *
new_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    assert_non_null(k);
    return k;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/* subjectAltName from "DNS:name" and "IP:4-or-16-octets" strings, bytes taken as they are. */
static void
add_san(X509 *x, const char *const *sans)
{
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();

    assert_non_null(names);
    for (size_t i = 0; sans[i] != NULL; i++) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_STRING *s;

        assert_non_null(g);
        if (strncmp(sans[i], "IP:", 3) == 0) {
            unsigned char a[4];

            assert_int_equal(sscanf(sans[i] + 3, "%hhu.%hhu.%hhu.%hhu", &a[0], &a[1], &a[2], &a[3]),
                             4);
            s = ASN1_OCTET_STRING_new();
            assert_int_equal(ASN1_OCTET_STRING_set(s, a, 4), 1);
            GENERAL_NAME_set0_value(g, GEN_IPADD, s);
        } else {
            s = ASN1_IA5STRING_new();
            assert_int_equal(ASN1_STRING_set(s, sans[i] + 4, (int)strlen(sans[i] + 4)), 1);
            GENERAL_NAME_set0_value(g, GEN_DNS, s);
        }
        assert_true(sk_GENERAL_NAME_push(names, g) > 0);
    }
    assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT), 1);
    GENERAL_NAMES_free(names);
}

/*
 * A certificate for key with commonName cn (NULL: none) and sans (NULL: no
 * subjectAltName), valid from `from` to `to` days from now, signed by the
 * test CA (or by itself when issuer is NULL).
 */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, const char *const *sans, X509 *issuer,
          EVP_PKEY *issuer_key, long from, long to, bool ca)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();

    assert_non_null(x);
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), next_serial++), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), from * 86400));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), to * 86400));
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                                (const unsigned char *)"gate26 tests", -1, -1, 0),
                     1);
    if (cn != NULL)
        assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                    (const unsigned char *)cn, -1, -1, 0),
                         1);
    assert_int_equal(X509_set_subject_name(x, name), 1);
    assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
    X509_NAME_free(name);
    assert_int_equal(X509_set_pubkey(x, key), 1);
    add_ext(x, issuer ? issuer : x, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (ca)
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
    else
        add_ext(x, issuer ? issuer : x, NID_ext_key_usage, "serverAuth,clientAuth");
    if (sans != NULL)
        add_san(x, sans);
    assert_true(X509_sign(x, issuer ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static void
write_text(const char *name, const char *text)
{
    char path[PATH_MAX];
    FILE *f;

    path_of(path, sizeof path, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Writes the certificates (then the key, when not NULL) to name; encrypted with "secret" if asked.
 */
static void
write_pem(const char *name, X509 *const *certs, size_t n, EVP_PKEY *key, bool encrypted)
{
    char path[PATH_MAX];
    FILE *f;

    path_of(path, sizeof path, name);
    f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(PEM_write_X509(f, certs[i]), 1);
    if (key != NULL)
        assert_int_equal(PEM_write_PrivateKey(f, key, encrypted ? EVP_aes_128_cbc() : NULL,
                                              encrypted ? (unsigned char *)"secret" : NULL,
                                              encrypted ? 6 : 0, NULL, NULL),
                         1);
    assert_int_equal(fclose(f), 0);
}

/* A leaf signed by the CA (or self-signed), written as NAME.pem and NAME.key. */
static void
make_leaf(const char *base, const char *cn, const char *const *sans, long from, long to, bool self)
{
    EVP_PKEY *key = new_key();
    X509 *x = make_cert(key, cn, sans, self ? NULL : ca_cert, ca_key, from, to, false);
    char name[64];

    (void)snprintf(name, sizeof name, "%s.pem", base);
    write_pem(name, &x, 1, NULL, false);
    (void)snprintf(name, sizeof name, "%s.key", base);
    write_pem(name, NULL, 0, key, false);
    if (strcmp(base, "a") == 0) {
        X509 *chain[2] = {x, ca_cert};

        write_pem("chain.pem", chain, 2, NULL, false);  /* leaf, then the CA */
        write_pem("combined.pem", &x, 1, key, false);   /* leaf and key in one file */
        write_pem("a-enc.key", NULL, 0, key, true);     /* encrypted */
        write_pem("a-as-key.pem", NULL, 0, key, false); /* a key where a cert belongs */
    }
    X509_free(x);
    EVP_PKEY_free(key);
}

static int
group_setup(void **state)
{
    static const char *const a_sans[] = {"DNS:a.example", "DNS:b.example", "IP:127.0.0.1", NULL};
    static const char *const c_sans[] = {"DNS:c.example", "DNS:*.w.example", NULL};
    static const char *const exp_sans[] = {"DNS:expired.example", NULL};
    static const char *const self_sans[] = {"DNS:self.example", NULL};
    const char *odd_sans[48];
    static char odd_names[40][128];
    char dir[] = "/tmp/gate26-tls-XXXXXX";

    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    memcpy(tmpdir, dir, sizeof dir);

    ca_key = new_key();
    ca_cert = make_cert(ca_key, "gate26 test CA", NULL, NULL, NULL, -1, 30, true);
    write_pem("ca.pem", &ca_cert, 1, NULL, false);
    make_leaf("a", "a.example", a_sans, -1, 1, false);
    make_leaf("c", "c.example", c_sans, -1, 1, false);
    make_leaf("cn", "cn.example", NULL, -1, 1, false);
    make_leaf("expired", "expired.example", exp_sans, -3, -1, false);
    make_leaf("self", "self.example", self_sans, -1, 1, true);
    /* Hostile names: control characters, a comma, UTF-8, and more than the list holds. */
    odd_sans[0] = "DNS:x,y\r\n.example";
    for (size_t i = 0; i < 40; i++) {
        (void)snprintf(odd_names[i], sizeof odd_names[i],
                       "DNS:n%02zu.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", i);
        odd_sans[i + 1] = odd_names[i];
    }
    odd_sans[41] = NULL;
    make_leaf("odd", "\xc3\xa9vil\r\nX\x01(", odd_sans, -1, 1, false);

    write_text("garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
                              "-----END CERTIFICATE-----\n");
    write_text("text.pem", "hello\n");
    write_text("empty.pem", "");
    {
        /* a good certificate, then a broken one */
        char path[PATH_MAX], text[8192];
        FILE *f;
        size_t n;

        path_of(path, sizeof path, "a.pem");
        f = fopen(path, "r");
        assert_non_null(f);
        n = fread(text, 1, sizeof text - 200, f);
        (void)fclose(f);
        (void)snprintf(text + n, sizeof text - n,
                       "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        write_text("bad-chain.pem", text);
    }
    return 0;
}

static int
group_teardown(void **state)
{
    static const char *const names[] = {
        "ca.pem",   "a.pem",       "a.key",         "c.pem",     "c.key",        "cn.pem",
        "cn.key",   "expired.pem", "expired.key",   "self.pem",  "self.key",     "odd.pem",
        "odd.key",  "chain.pem",   "combined.pem",  "a-enc.key", "a-as-key.pem", "garbage.pem",
        "text.pem", "empty.pem",   "bad-chain.pem",
    };
    char path[PATH_MAX];

    (void)state;
    for (size_t i = 0; i < N_OF(names); i++) {
        path_of(path, sizeof path, names[i]);
        (void)unlink(path);
    }
    X509_free(ca_cert);
    EVP_PKEY_free(ca_key);
    return rmdir(tmpdir);
}

/* ---- Helpers ---- */

/*
 * A conf with only what src/tls reads: pairs "cert key" of file names in
 * tmpdir ("/abs" kept as it is), ca-file and ciphers. The caller unrefs it.
 */
static struct conf *
make_conf(const char *const *pairs, const char *ca, const char *ciphers)
{
    struct conf *c = xcalloc(1, sizeof *c);

    c->refs = 1;
    for (size_t i = 0; pairs != NULL && pairs[i] != NULL; i += 2) {
        struct conf_tls_pair *p;

        c->tls_pairs = xrealloc(c->tls_pairs, (c->n_tls_pairs + 1) * sizeof *c->tls_pairs);
        p = &c->tls_pairs[c->n_tls_pairs++];
        memset(p, 0, sizeof *p);
        if (pairs[i][0] == '/')
            (void)snprintf(p->cert, sizeof p->cert, "%s", pairs[i]);
        else
            path_of(p->cert, sizeof p->cert, pairs[i]);
        path_of(p->key, sizeof p->key, pairs[i + 1]);
    }
    if (c->n_tls_pairs > 0) {
        memcpy(c->tls_cert, c->tls_pairs[0].cert, sizeof c->tls_cert);
        memcpy(c->tls_key, c->tls_pairs[0].key, sizeof c->tls_key);
        c->has_tls = true;
    }
    if (ca != NULL)
        path_of(c->tls_ca_file, sizeof c->tls_ca_file, ca);
    if (ciphers != NULL)
        (void)snprintf(c->tls_ciphers, sizeof c->tls_ciphers, "%s", ciphers);
    return c;
}

static struct tls_server *
server_of(const char *const *pairs, const char *ciphers)
{
    struct conf *c = make_conf(pairs, NULL, ciphers);
    char err[1024];
    struct tls_server *s = tls_server_new(c, err, sizeof err);

    if (s == NULL) {
        print_error("tls_server_new: %s\n", err);
        fail();
    }
    conf_unref(c);
    return s;
}

static struct tls_client *
client_of(const char *ca, const char *ciphers)
{
    struct conf *c = make_conf(NULL, ca, ciphers);
    char err[1024];
    struct tls_client *cl = tls_client_new(c, err, sizeof err);

    if (cl == NULL) {
        print_error("tls_client_new: %s\n", err);
        fail();
    }
    conf_unref(c);
    return cl;
}

/* "@DIR@" in s replaced by tmpdir. */
static void
subst_dir(char *out, size_t cap, const char *s)
{
    size_t used = 0;
    const char *at;

    out[0] = '\0';
    while ((at = strstr(s, "@DIR@")) != NULL) {
        used += (size_t)snprintf(out + used, cap - used, "%.*s%s", (int)(at - s), s, tmpdir);
        s = at + 5;
    }
    (void)snprintf(out + used, cap - used, "%s", s);
}

struct hs_result {
    bool client_ok, server_ok;
    int client_reason, server_reason; /* ERR_GET_REASON of the side's first error, 0: none */
};

static void
step(SSL *ssl, bool *done, bool *failed, int *reason)
{
    int r, e;

    if (*done || *failed)
        return;
    r = SSL_do_handshake(ssl);
    if (r == 1) {
        *done = true;
        return;
    }
    e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return;
    *failed = true;
    *reason = ERR_GET_REASON(ERR_peek_error());
    ERR_clear_error();
}

/* Runs both handshakes over a BIO pair until both end; each SSL is given its end. */
static struct hs_result
handshake(SSL *client, SSL *server)
{
    struct hs_result res = {0};
    bool cfail = false, sfail = false;
    BIO *cb, *sb;

    assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
    SSL_set_bio(client, cb, cb);
    SSL_set_bio(server, sb, sb);
    for (int i = 0; i < 32; i++) {
        step(client, &res.client_ok, &cfail, &res.client_reason);
        step(server, &res.server_ok, &sfail, &res.server_reason);
        if ((res.client_ok || cfail) && (res.server_ok || sfail))
            break;
    }
    ERR_clear_error();
    return res;
}

/* A plain OpenSSL client that checks nothing and sends sni as it is (NULL: none). */
static SSL *
raw_client(SSL_CTX **ctx_out, const char *sni, int max_version)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl;

    assert_non_null(ctx);
    if (max_version != 0) {
        /* Old versions need the lowest security level to be offered at all. */
        assert_int_equal(SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0"), 1);
        assert_int_equal(SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION), 1);
        assert_int_equal(SSL_CTX_set_max_proto_version(ctx, max_version), 1);
    }
    ssl = SSL_new(ctx);
    assert_non_null(ssl);
    if (sni != NULL)
        assert_int_equal(SSL_set_tlsext_host_name(ssl, sni), 1);
    SSL_set_connect_state(ssl);
    *ctx_out = ctx;
    return ssl;
}

/* ---- Names and text ---- */

static void
test_host_name(void **state)
{
    static const struct {
        const char *in;
        const char *want; /* NULL: refused */
    } rows[] = {
        {"a.example", "a.example"},
        {"A.Example.", "A.Example"},
        {"mx-1.example.com", "mx-1.example.com"},
        {"localhost", "localhost"},
        {"1.example", "1.example"},
        {"xn--bcher-kva.example", "xn--bcher-kva.example"},
        {"", NULL},
        {".", NULL},
        {"..", NULL},
        {"a..example", NULL},
        {".a.example", NULL},
        {"a.example..", NULL},
        {"-a.example", NULL},
        {"a-.example", NULL},
        {"a_b.example", NULL},
        {"*.example", NULL},
        {"a.example ", NULL},
        {"a example", NULL},
        {"a.exa\xc3\xa9mple", NULL},
        {"a.example\r\n", NULL},
        {"a.ex\x01mple", NULL},
        {"10.0.0.1", NULL},
        {"[10.0.0.1]", NULL},
        {"::1", NULL},
        {"a.example/x", NULL},
        {"a.example:25", NULL},
    };
    char out[CAP_DOMAIN + 1], big[400];

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        bool ok = tls_host_name(rows[i].in, strlen(rows[i].in), out);

        if (ok != (rows[i].want != NULL) || (ok && strcmp(out, rows[i].want) != 0)) {
            print_error("row %zu '%s': want %s, got %s\n", i, rows[i].in,
                        rows[i].want ? rows[i].want : "refused", ok ? out : "refused");
            fail();
        }
    }
    /* a NUL inside is refused: the length counts */
    assert_false(tls_host_name("a.example\0b", 11, out));
    /* labels of 63 pass, 64 fail; 253 octets pass, 254 fail (255 with a trailing dot) */
    memset(big, 'a', 64);
    assert_true(tls_host_name(big, 63, out));
    assert_false(tls_host_name(big, 64, out));
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = i % 64 == 63 ? '.' : 'a';
    big[252] = 'b';
    assert_true(tls_host_name(big, 253, out));
    assert_int_equal(strlen(out), 253);
    big[253] = '.';
    assert_true(tls_host_name(big, 254, out)); /* the trailing dot is dropped */
    big[253] = 'c';
    assert_false(tls_host_name(big, 254, out));
    assert_false(tls_host_name(big, sizeof big, out));

    assert_true(tls_is_address("127.0.0.1"));
    assert_true(tls_is_address("2001:db8::1"));
    assert_true(tls_is_address("::ffff:10.0.0.1"));
    assert_false(tls_is_address("[::1]"));
    assert_false(tls_is_address("a.example"));
    assert_false(tls_is_address("127.0.0.1 "));
    assert_false(tls_is_address("127.1"));
    assert_false(tls_is_address(""));
}

static void
test_printable_and_errors(void **state)
{
    char out[16], line[256], tiny[8];

    (void)state;
    assert_string_equal(tls_printable(out, sizeof out, "abc", 3, NULL), "abc");
    assert_string_equal(tls_printable(out, sizeof out, "a\r\nb\x7f\xc3\xa9", 7, NULL), "a??b???");
    assert_string_equal(tls_printable(out, sizeof out, "a,b", 3, ","), "a?b");
    assert_string_equal(tls_printable(out, sizeof out, "a\0b", 3, NULL), "a?b");
    assert_string_equal(tls_printable(out, sizeof out, "0123456789abcdefXYZ", 19, NULL),
                        "0123456789ab...");
    assert_string_equal(tls_printable(out, sizeof out, "0123456789abcde", 15, NULL),
                        "0123456789abcde");
    assert_string_equal(tls_printable(out, 2, "xyz", 3, NULL), "x");

    /* the queue as one line, oldest first, then empty */
    assert_string_equal(tls_error_text(line, sizeof line), "no OpenSSL error");
    ERR_raise_data(ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL, "peer said \"hi\r\nthere\"\x01");
    ERR_raise(ERR_LIB_PEM, PEM_R_NO_START_LINE);
    tls_error_text(line, sizeof line);
    assert_non_null(strstr(line, "unsupported protocol (peer said \"hi??there\"?)"));
    assert_non_null(strstr(line, "; error:"));
    assert_non_null(strstr(line, "no start line"));
    assert_true(strstr(line, "unsupported") < strstr(line, "no start line"));
    for (const char *p = line; *p; p++)
        assert_true(*p >= 0x20 && *p <= 0x7e);
    assert_int_equal(ERR_peek_error(), 0);
    assert_string_equal(tls_error_text(line, sizeof line), "no OpenSSL error");
    /* a small buffer: cut with "...", the queue still cleared */
    for (int i = 0; i < 20; i++)
        ERR_raise(ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL);
    tls_error_text(tiny, sizeof tiny);
    assert_string_equal(tiny, "erro...");
    assert_int_equal(ERR_peek_error(), 0);
    ERR_raise(ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL);
    assert_ptr_equal(tls_error_text(tiny, 0), tiny);
    ERR_clear_error();
}

/* ---- Loading ---- */

static void
test_server_load_errors(void **state)
{
    static const struct {
        const char *name;
        const char *pairs[5];
        const char *ciphers;
        const char *want; /* "@DIR@" is tmpdir; NULL: loads */
    } rows[] = {
        {"good", {"a.pem", "a.key"}, NULL, NULL},
        {"chain file", {"chain.pem", "a.key"}, NULL, NULL},
        {"combined file", {"combined.pem", "combined.pem"}, NULL, NULL},
        {"three pairs", {"a.pem", "a.key", "c.pem", "c.key"}, NULL, NULL},
        {"no cert file",
         {"nope.pem", "a.key"},
         NULL,
         "cannot read certificate '@DIR@/nope.pem': No such file or directory"},
        {"no key file",
         {"a.pem", "nope.key"},
         NULL,
         "cannot read key '@DIR@/nope.key': No such file or directory"},
        {"key of another cert",
         {"a.pem", "c.key"},
         NULL,
         "key '@DIR@/c.key' does not match certificate '@DIR@/a.pem'"},
        {"second pair mismatch",
         {"a.pem", "a.key", "c.pem", "a.key"},
         NULL,
         "key '@DIR@/a.key' does not match certificate '@DIR@/c.pem'"},
        {"garbage cert",
         {"garbage.pem", "a.key"},
         NULL,
         "certificate '@DIR@/garbage.pem' holds no PEM certificate ("},
        {"text cert",
         {"text.pem", "a.key"},
         NULL,
         "certificate '@DIR@/text.pem' holds no PEM certificate (error:"},
        {"empty cert",
         {"empty.pem", "a.key"},
         NULL,
         "certificate '@DIR@/empty.pem' holds no PEM certificate"},
        {"key as cert",
         {"a-as-key.pem", "a.key"},
         NULL,
         "certificate '@DIR@/a-as-key.pem' holds no PEM certificate"},
        {"cert as key", {"a.pem", "a.pem"}, NULL, "key '@DIR@/a.pem' holds no PEM private key"},
        {"garbage key",
         {"a.pem", "garbage.pem"},
         NULL,
         "key '@DIR@/garbage.pem' holds no PEM private key"},
        {"empty key",
         {"a.pem", "empty.pem"},
         NULL,
         "key '@DIR@/empty.pem' holds no PEM private key"},
        {"encrypted key",
         {"a.pem", "a-enc.key"},
         NULL,
         "key '@DIR@/a-enc.key' is encrypted: gate26 needs it unencrypted"},
        {"bad chain",
         {"bad-chain.pem", "a.key"},
         NULL,
         "certificate '@DIR@/bad-chain.pem': bad PEM after the first certificate"},
        {"directory", {"/", "a.key"}, NULL, "certificate '/' holds no PEM certificate"},
        {"no cipher", {"a.pem", "a.key"}, "NOSUCHCIPHER", "ciphers 'NOSUCHCIPHER' name no cipher"},
        {"only TLS 1.3 names",
         {"a.pem", "a.key"},
         "TLS_AES_128_GCM_SHA256",
         "ciphers 'TLS_AES_128_GCM_SHA256' name no cipher"},
        {"no pairs", {NULL}, NULL, "no certificate: the tls block has no cert and key"},
    };
    char err[1024], want[1024];

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct conf *c = make_conf(rows[i].pairs, NULL, rows[i].ciphers);
        struct tls_server *s;

        memset(err, 'z', sizeof err);
        err[sizeof err - 1] = '\0';
        s = tls_server_new(c, err, sizeof err);
        conf_unref(c);
        if (rows[i].want == NULL) {
            if (s == NULL) {
                print_error("row '%s': want success, got '%s'\n", rows[i].name, err);
                fail();
            }
            assert_string_equal(err, "");
            tls_server_unref(s);
            continue;
        }
        subst_dir(want, sizeof want, rows[i].want);
        if (s != NULL || strncmp(err, want, strlen(want)) != 0) {
            print_error("row '%s': want '%s...', got %s '%s'\n", rows[i].name, want,
                        s ? "success" : "error", err);
            tls_server_unref(s);
            fail();
        }
        assert_int_equal(ERR_peek_error(), 0); /* the queue went into the message */
    }
    /* a tiny or missing error buffer */
    {
        static const char *const bad[] = {"nope.pem", "a.key", NULL};
        struct conf *c = make_conf(bad, NULL, NULL);
        char small[8];

        assert_null(tls_server_new(c, small, sizeof small));
        assert_string_equal(small, "cannot ");
        assert_null(tls_server_new(c, NULL, 0));
        conf_unref(c);
    }
}

/* With the file's path and the lines of its keys, an error names the line of the key at fault. */
static void
test_load_errors_name_the_line(void **state)
{
    static const struct {
        const char *name;
        const char *const pairs[5];
        const char *ca;
        const char *ciphers;
        bool client;
        const char *want;
    } rows[] = {
        {"cert",
         {"nope.pem", "a.key"},
         NULL,
         NULL,
         false,
         "/etc/g.conf:10: cannot read certificate '@DIR@/nope.pem'"},
        {"key",
         {"a.pem", "c.key"},
         NULL,
         NULL,
         false,
         "/etc/g.conf:11: key '@DIR@/c.key' does not match"},
        {"second pair's key",
         {"a.pem", "a.key", "c.pem", "a.key"},
         NULL,
         NULL,
         false,
         "/etc/g.conf:21: key '@DIR@/a.key' does not match certificate '@DIR@/c.pem'"},
        {"ciphers",
         {"a.pem", "a.key"},
         NULL,
         "NOSUCHCIPHER",
         false,
         "/etc/g.conf:31: ciphers 'NOSUCHCIPHER' name no cipher"},
        {"ca-file", {NULL}, "nope.pem", NULL, true, "/etc/g.conf:30: cannot read CA file"},
        {"ca-file garbage",
         {NULL},
         "garbage.pem",
         NULL,
         true,
         "/etc/g.conf:30: CA file '@DIR@/garbage.pem' holds no PEM"},
        {"client ciphers", {NULL}, NULL, "NOPE", true, "/etc/g.conf:31: ciphers 'NOPE'"},
    };
    char err[1024], want[1024];

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct conf *c = make_conf(rows[i].pairs, rows[i].ca, rows[i].ciphers);
        bool ok;

        (void)snprintf(c->path, sizeof c->path, "/etc/g.conf");
        for (size_t k = 0; k < c->n_tls_pairs; k++) {
            c->tls_pairs[k].line = (unsigned)(10 * (k + 1));
            c->tls_pairs[k].key_line = (unsigned)(10 * (k + 1) + 1);
        }
        c->tls_ca_file_line = rows[i].ca != NULL ? 30 : 0;
        c->tls_ciphers_line = rows[i].ciphers != NULL ? 31 : 0;
        if (rows[i].client) {
            struct tls_client *cl = tls_client_new(c, err, sizeof err);

            ok = cl != NULL;
            tls_client_unref(cl);
        } else {
            struct tls_server *sv = tls_server_new(c, err, sizeof err);

            ok = sv != NULL;
            tls_server_unref(sv);
        }
        conf_unref(c);
        subst_dir(want, sizeof want, rows[i].want);
        if (ok || strncmp(err, want, strlen(want)) != 0) {
            print_error("row '%s': want '%s...', got %s '%s'\n", rows[i].name, want,
                        ok ? "success" : "error", err);
            fail();
        }
    }
}

static void
test_client_load_errors(void **state)
{
    static const struct {
        const char *name;
        const char *ca;
        const char *ciphers;
        const char *want;
    } rows[] = {
        {"system store", NULL, NULL, NULL},
        {"ca-file", "ca.pem", NULL, NULL},
        {"chain as ca-file", "chain.pem", "ECDHE-RSA-AES128-GCM-SHA256", NULL},
        {"missing", "nope.pem", NULL,
         "cannot read CA file '@DIR@/nope.pem': No such file or "
         "directory"},
        {"garbage", "garbage.pem", NULL, "CA file '@DIR@/garbage.pem' holds no PEM certificate ("},
        {"text", "text.pem", NULL, "CA file '@DIR@/text.pem' holds no PEM certificate"},
        {"empty", "empty.pem", NULL, "CA file '@DIR@/empty.pem' holds no PEM certificate"},
        {"key only", "a-as-key.pem", NULL, "CA file '@DIR@/a-as-key.pem' holds no PEM certificate"},
        {"bad ciphers", NULL, "RC4-MD5:NOPE", "ciphers 'RC4-MD5:NOPE' name no cipher"},
    };
    char err[1024], want[1024];

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct conf *c = make_conf(NULL, rows[i].ca, rows[i].ciphers);
        struct tls_client *cl = tls_client_new(c, err, sizeof err);

        conf_unref(c);
        if (rows[i].want == NULL) {
            if (cl == NULL) {
                print_error("row '%s': want success, got '%s'\n", rows[i].name, err);
                fail();
            }
            tls_client_unref(cl);
            continue;
        }
        subst_dir(want, sizeof want, rows[i].want);
        if (cl != NULL || strncmp(err, want, strlen(want)) != 0) {
            print_error("row '%s': want '%s...', got %s '%s'\n", rows[i].name, want,
                        cl ? "success" : "error", err);
            tls_client_unref(cl);
            fail();
        }
    }
}

/* ---- SNI ---- */

static void
test_sni(void **state)
{
    static const char *const pairs[] = {"a.pem",  "a.key",  "c.pem", "c.key",
                                        "cn.pem", "cn.key", NULL};
    static const struct {
        const char *sni; /* NULL: none sent */
        const char *want_cn;
    } rows[] = {
        {NULL, "a.example"},
        {"a.example", "a.example"},
        {"b.example", "a.example"},
        {"c.example", "c.example"},
        {"C.EXAMPLE", "c.example"},
        {"c.example.", "c.example"},
        {"x.w.example", "c.example"},
        {"X-1.W.Example", "c.example"},
        {"cn.example", "cn.example"},
        {"unknown.example", "a.example"},
        {"w.example", "a.example"},     /* the wildcard needs a label */
        {"a.b.w.example", "a.example"}, /* and stands for one only */
        {"xw.example", "a.example"},
        {"*.w.example", "a.example"}, /* a wildcard asked for is no name */
        {"c.example\x01", "a.example"},
        {"c.exampl\xc3\xa9", "a.example"},
        {"c.example ", "a.example"},
        {"c..example", "a.example"},
        {".c.example", "a.example"},
        {"c_example", "a.example"},
        {"127.0.0.1", "a.example"},
        {"c.example\r\nX-Injected: 1", "a.example"},
        {"%s%n%s", "a.example"},
        {"long", "a.example"},  /* filled in below: 255 octets */
        {"label", "a.example"}, /* a 64-octet label */
    };
    struct tls_server *s = server_of(pairs, NULL);
    char long_name[256], label_name[80];

    (void)state;
    memset(long_name, 'a', 255);
    for (size_t i = 63; i < 255; i += 64)
        long_name[i] = '.';
    long_name[255] = '\0';
    memset(label_name, 'c', 64);
    (void)snprintf(label_name + 64, sizeof label_name - 64, ".w.example");
    for (size_t i = 0; i < N_OF(rows); i++) {
        const char *sni = rows[i].sni;
        SSL_CTX *cctx;
        SSL *client, *server = tls_server_ssl_new(s);
        struct tls_info ci, si;
        struct hs_result r;

        if (sni != NULL && strcmp(sni, "long") == 0)
            sni = long_name;
        else if (sni != NULL && strcmp(sni, "label") == 0)
            sni = label_name;
        client = raw_client(&cctx, sni, 0);
        assert_non_null(server);
        r = handshake(client, server);
        tls_describe(client, &ci);
        tls_describe(server, &si);
        if (!r.client_ok || !r.server_ok || strcmp(ci.peer_cn, rows[i].want_cn) != 0) {
            print_error("row %zu '%s': want %s, got client %d server %d cn '%s'\n", i,
                        sni ? sni : "(none)", rows[i].want_cn, r.client_ok, r.server_ok,
                        ci.peer_cn);
            fail();
        }
        /* the server reports what was asked for, printable */
        for (const char *p = si.servername; *p; p++)
            assert_true(*p >= 0x20 && *p <= 0x7e);
        if (sni == NULL)
            assert_string_equal(si.servername, "");
        else if (rows[i].sni == rows[1].sni)
            assert_string_equal(si.servername, "a.example");
        assert_false(si.has_peer_cert); /* no client certificate asked for */
        SSL_free(client);
        SSL_free(server);
        SSL_CTX_free(cctx);
    }
    tls_server_unref(s);
}

/* Clients that offer only TLS 1.0 or 1.1 are refused; 1.2 and 1.3 are served. */
static void
test_protocol_versions(void **state)
{
    static const char *const pairs[] = {"a.pem", "a.key", NULL};
    static const struct {
        int max;
        bool ok;
        const char *version;
    } rows[] = {
        {TLS1_VERSION, false, NULL},
        {TLS1_1_VERSION, false, NULL},
        {TLS1_2_VERSION, true, "TLSv1.2"},
        {TLS1_3_VERSION, true, "TLSv1.3"},
    };
    struct tls_server *s = server_of(pairs, NULL);

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        SSL_CTX *cctx;
        SSL *client = raw_client(&cctx, "a.example", rows[i].max);
        SSL *server = tls_server_ssl_new(s);
        struct hs_result r = handshake(client, server);
        struct tls_info si;

        if (r.server_ok != rows[i].ok) {
            print_error("row %zu: want %d, got server %d reason %d\n", i, rows[i].ok, r.server_ok,
                        r.server_reason);
            fail();
        }
        if (rows[i].ok) {
            tls_describe(server, &si);
            assert_string_equal(si.version, rows[i].version);
        } else {
            assert_int_equal(r.server_reason, SSL_R_UNSUPPORTED_PROTOCOL);
            assert_false(r.client_ok);
        }
        SSL_free(client);
        SSL_free(server);
        SSL_CTX_free(cctx);
    }
    tls_server_unref(s);
}

/* ---- The client's policies ---- */

static void
test_client_policies(void **state)
{
    static const char *const pairs_a[] = {"a.pem", "a.key", NULL};
    static const char *const pairs_c[] = {"c.pem", "c.key", NULL};
    static const char *const pairs_cn[] = {"cn.pem", "cn.key", NULL};
    static const char *const pairs_exp[] = {"expired.pem", "expired.key", NULL};
    static const char *const pairs_self[] = {"self.pem", "self.key", NULL};
    static const struct {
        const char *name;
        const char *const *server;
        bool with_ca; /* the client trusts the test CA; else the system store */
        const char *peer;
        enum conf_tls_policy policy;
        bool ok;
        long verify;
        bool matched;
    } rows[] = {
        {"verify ok", pairs_a, true, "a.example", CONF_TLS_POLICY_VERIFY, true, X509_V_OK, true},
        {"verify second name", pairs_a, true, "B.Example.", CONF_TLS_POLICY_VERIFY, true, X509_V_OK,
         true},
        {"verify address", pairs_a, true, "127.0.0.1", CONF_TLS_POLICY_VERIFY, true, X509_V_OK,
         true},
        {"verify wildcard", pairs_c, true, "mx.w.example", CONF_TLS_POLICY_VERIFY, true, X509_V_OK,
         true},
        {"verify common name", pairs_cn, true, "cn.example", CONF_TLS_POLICY_VERIFY, true,
         X509_V_OK, true},
        {"verify wrong name", pairs_a, true, "z.example", CONF_TLS_POLICY_VERIFY, false,
         X509_V_ERR_HOSTNAME_MISMATCH, false},
        {"verify wrong address", pairs_a, true, "127.0.0.2", CONF_TLS_POLICY_VERIFY, false,
         X509_V_ERR_IP_ADDRESS_MISMATCH, false},
        {"verify wildcard two labels", pairs_c, true, "a.mx.w.example", CONF_TLS_POLICY_VERIFY,
         false, X509_V_ERR_HOSTNAME_MISMATCH, false},
        {"verify wildcard bare", pairs_c, true, "w.example", CONF_TLS_POLICY_VERIFY, false,
         X509_V_ERR_HOSTNAME_MISMATCH, false},
        {"verify self-signed", pairs_self, true, "self.example", CONF_TLS_POLICY_VERIFY, false,
         X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, false},
        {"verify expired", pairs_exp, true, "expired.example", CONF_TLS_POLICY_VERIFY, false,
         X509_V_ERR_CERT_HAS_EXPIRED, false},
        {"verify unknown CA", pairs_a, false, "a.example", CONF_TLS_POLICY_VERIFY, false,
         X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, false},
        {"may self-signed", pairs_self, true, "self.example", CONF_TLS_POLICY_MAY, true,
         X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, true},
        {"may self-signed other name", pairs_self, true, "mx.example", CONF_TLS_POLICY_MAY, true,
         X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, false},
        {"may wrong name", pairs_a, true, "z.example", CONF_TLS_POLICY_MAY, true,
         X509_V_ERR_HOSTNAME_MISMATCH, false},
        {"may expired", pairs_exp, true, "expired.example", CONF_TLS_POLICY_MAY, true,
         X509_V_ERR_CERT_HAS_EXPIRED, true},
        {"may no name", pairs_a, true, NULL, CONF_TLS_POLICY_MAY, true, X509_V_OK, false},
        {"may good", pairs_a, true, "a.example", CONF_TLS_POLICY_MAY, true, X509_V_OK, true},
        {"encrypt self-signed", pairs_self, true, "self.example", CONF_TLS_POLICY_ENCRYPT, true,
         X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, true},
        {"encrypt unknown CA", pairs_a, false, "a.example", CONF_TLS_POLICY_ENCRYPT, true,
         X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, true},
    };
    struct tls_client *with_ca = client_of("ca.pem", NULL);
    struct tls_client *system = client_of(NULL, NULL);

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct tls_server *s = server_of(rows[i].server, NULL);
        SSL *server = tls_server_ssl_new(s);
        SSL *client =
            tls_client_ssl_new(rows[i].with_ca ? with_ca : system, rows[i].peer, rows[i].policy);
        struct hs_result r;
        struct tls_info ci;

        assert_non_null(client);
        r = handshake(client, server);
        tls_describe(client, &ci);
        if (r.client_ok != rows[i].ok || ci.verify_result != rows[i].verify ||
            ci.name_matched != rows[i].matched) {
            print_error("row '%s': want ok=%d verify=%ld matched=%d, got ok=%d verify=%ld (%s) "
                        "matched=%d\n",
                        rows[i].name, rows[i].ok, rows[i].verify, rows[i].matched, r.client_ok,
                        ci.verify_result, ci.verify_text, ci.name_matched);
            fail();
        }
        if (!rows[i].ok)
            assert_int_equal(r.client_reason, SSL_R_CERTIFICATE_VERIFY_FAILED);
        assert_int_equal(ci.name_checked, rows[i].peer != NULL);
        if (rows[i].verify != X509_V_OK)
            assert_string_equal(ci.verify_text, X509_verify_cert_error_string(rows[i].verify));
        SSL_free(client);
        SSL_free(server);
        tls_server_unref(s);
    }
    tls_client_unref(with_ca);
    tls_client_unref(system);
}

static void
test_client_ssl_refused(void **state)
{
    static const struct {
        const char *peer;
        enum conf_tls_policy policy;
    } rows[] = {
        {NULL, CONF_TLS_POLICY_VERIFY},
        {"", CONF_TLS_POLICY_VERIFY},
        {"bad_name.example", CONF_TLS_POLICY_VERIFY},
        {"bad_name.example", CONF_TLS_POLICY_MAY},
        {"a..example", CONF_TLS_POLICY_ENCRYPT},
        {"[127.0.0.1]", CONF_TLS_POLICY_VERIFY},
        {"a.example\r\n", CONF_TLS_POLICY_MAY},
        {"*.example", CONF_TLS_POLICY_VERIFY},
        {"a.example:25", CONF_TLS_POLICY_VERIFY},
        {"long", CONF_TLS_POLICY_MAY},
    };
    struct tls_client *cl = client_of("ca.pem", NULL);
    char long_name[400];

    (void)state;
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    for (size_t i = 0; i < N_OF(rows); i++) {
        const char *peer = rows[i].peer;
        SSL *ssl;

        if (peer != NULL && strcmp(peer, "long") == 0)
            peer = long_name;
        errno = 0;
        ssl = tls_client_ssl_new(cl, peer, rows[i].policy);
        if (ssl != NULL || errno != EINVAL) {
            print_error("row %zu '%s': want NULL and EINVAL, got %p errno %d\n", i,
                        peer ? peer : "(null)", (void *)ssl, errno);
            SSL_free(ssl);
            fail();
        }
        assert_int_equal(ERR_peek_error(), 0);
    }
    tls_client_unref(cl);
}

/* ---- Describing ---- */

static void
test_describe(void **state)
{
    static const char *const pairs_a[] = {"chain.pem", "a.key", NULL};
    static const char *const pairs_odd[] = {"odd.pem", "odd.key", NULL};
    struct tls_server *s = server_of(pairs_a, NULL);
    struct tls_client *cl = client_of("ca.pem", NULL);
    SSL *server = tls_server_ssl_new(s);
    SSL *client = tls_client_ssl_new(cl, "a.example.", CONF_TLS_POLICY_VERIFY);
    struct tls_info ci, si;
    time_t now = time(NULL);

    (void)state;
    /* before the handshake: nothing yet, and no crash */
    tls_describe(client, &ci);
    assert_string_equal(ci.cipher, "");
    assert_false(ci.has_peer_cert);
    assert_true(ci.name_checked);
    assert_string_equal(ci.peer_name, "a.example");
    assert_false(ci.name_matched);

    assert_true(handshake(client, server).client_ok);
    tls_describe(client, &ci);
    assert_string_equal(ci.version, "TLSv1.3");
    assert_string_equal(ci.cipher, "TLS_AES_256_GCM_SHA384");
    assert_int_equal(ci.bits, 256);
    assert_string_equal(ci.servername, "a.example");
    assert_true(ci.has_peer_cert);
    assert_string_equal(ci.peer_cn, "a.example");
    assert_string_equal(ci.peer_issuer, "CN=gate26 test CA,O=gate26 tests");
    assert_string_equal(ci.peer_san, "a.example,b.example,127.0.0.1");
    assert_int_equal(ci.n_peer_san, 3);
    assert_true(ci.peer_not_after > now + 86400 - 600 && ci.peer_not_after < now + 86400 + 600);
    assert_int_equal(ci.verify_result, X509_V_OK);
    assert_string_equal(ci.verify_text, "ok");
    assert_true(ci.name_checked);
    assert_true(ci.name_matched);
    assert_string_equal(ci.peer_name, "a.example");

    tls_describe(server, &si);
    assert_string_equal(si.version, "TLSv1.3");
    assert_string_equal(si.cipher, ci.cipher);
    assert_string_equal(si.servername, "a.example");
    assert_false(si.has_peer_cert);
    assert_false(si.name_checked);
    assert_int_equal(si.verify_result, X509_V_OK);
    SSL_free(client);
    SSL_free(server);
    tls_server_unref(s);
    tls_client_unref(cl);

    /* TLS 1.2 with the conf's cipher list on both sides */
    s = server_of(pairs_a, "ECDHE-ECDSA-AES128-GCM-SHA256");
    cl = client_of("ca.pem", "ECDHE-ECDSA-AES128-GCM-SHA256");
    server = tls_server_ssl_new(s);
    client = tls_client_ssl_new(cl, "127.0.0.1", CONF_TLS_POLICY_VERIFY);
    assert_int_equal(SSL_set_max_proto_version(client, TLS1_2_VERSION), 1);
    assert_true(handshake(client, server).client_ok);
    tls_describe(client, &ci);
    assert_string_equal(ci.version, "TLSv1.2");
    assert_string_equal(ci.cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");
    assert_int_equal(ci.bits, 128);
    assert_string_equal(ci.servername, ""); /* no SNI for an address */
    assert_string_equal(ci.peer_name, "127.0.0.1");
    assert_true(ci.name_matched);
    SSL_free(client);
    SSL_free(server);
    tls_server_unref(s);
    tls_client_unref(cl);

    /* hostile names in the certificate come out printable and bounded */
    s = server_of(pairs_odd, NULL);
    cl = client_of("ca.pem", NULL);
    server = tls_server_ssl_new(s);
    client = tls_client_ssl_new(cl, "x.example", CONF_TLS_POLICY_MAY);
    assert_true(handshake(client, server).client_ok);
    tls_describe(client, &ci);
    assert_string_equal(ci.peer_cn, "??vil??X?(");
    assert_int_equal(ci.n_peer_san, 41);
    assert_true(strlen(ci.peer_san) < sizeof ci.peer_san);
    assert_true(strncmp(ci.peer_san, "x?y??.example,n00.", 18) == 0);
    assert_string_equal(ci.peer_san + strlen(ci.peer_san) - 4, ",...");
    for (const char *p = ci.peer_san; *p; p++)
        assert_true(*p >= 0x20 && *p <= 0x7e);
    assert_false(ci.name_matched);
    assert_int_equal(ci.verify_result, X509_V_ERR_HOSTNAME_MISMATCH);
    SSL_free(client);
    SSL_free(server);
    tls_server_unref(s);
    tls_client_unref(cl);
}

/* ---- Lifetimes ---- */

/* The first notAfter of the served certificates (gate26_tls_certificate_expiry_timestamp_seconds).
 */
static void
test_not_after(void **state)
{
    static const char *const one[] = {"a.pem", "a.key", NULL};
    static const char *const two[] = {"a.pem", "a.key", "expired.pem", "expired.key", NULL};
    struct tls_server *s;
    time_t now = time(NULL), t;

    (void)state;
    assert_int_equal(tls_server_not_after(NULL), 0);
    s = server_of(one, NULL);
    t = tls_server_not_after(s);
    assert_true(t > now + 86400 - 600 && t < now + 86400 + 600);
    tls_server_unref(s);
    /* The expired one ends first (a day ago), whatever the order of the pairs. */
    s = server_of(two, NULL);
    t = tls_server_not_after(s);
    assert_true(t > now - 86400 - 600 && t < now - 86400 + 600);
    tls_server_unref(s);
}

/* tls_describe_file(): a tls block's cert file described as a peer's certificate would be. */
static void
test_describe_file(void **state)
{
    static const struct {
        const char *file; /* in tmpdir; NULL: a path that does not exist */
        int rc;
        const char *cn, *why;
        long days; /* notAfter, days from now */
    } rows[] = {
        {"a.pem", 0, "a.example", NULL, 1},
        {"chain.pem", 0, "a.example", NULL, 1}, /* the leaf, not the CA after it */
        {"expired.pem", 0, "expired.example", NULL, -1},
        {"combined.pem", 0, "a.example", NULL, 1},
        {"a.key", -1, NULL, "no certificate in", 0}, /* a key where a cert belongs */
        {NULL, -1, NULL, "cannot read", 0},
    };
    char path[PATH_MAX], why[512];
    struct tls_info info;
    time_t now = time(NULL);

    (void)state;
    write_text("empty.pem", "");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        path_of(path, sizeof path, rows[i].file != NULL ? rows[i].file : "missing.pem");
        why[0] = '\0';
        assert_int_equal(tls_describe_file(path, &info, why, sizeof why), rows[i].rc);
        if (rows[i].rc == -1) {
            assert_non_null(strstr(why, rows[i].why));
            assert_false(info.has_peer_cert);
            continue;
        }
        assert_true(info.has_peer_cert);
        assert_string_equal(info.peer_cn, rows[i].cn);
        assert_non_null(strstr(info.peer_san, rows[i].cn));
        assert_true(info.peer_not_after > now + rows[i].days * 86400 - 600 &&
                    info.peer_not_after < now + rows[i].days * 86400 + 600);
    }
    path_of(path, sizeof path, "empty.pem");
    assert_int_equal(tls_describe_file(path, &info, why, sizeof why), -1);
    assert_non_null(strstr(why, "no certificate in"));
}

static void
test_refs(void **state)
{
    static const char *const pairs[] = {"a.pem", "a.key", "c.pem", "c.key", NULL};
    struct tls_server *s = server_of(pairs, NULL);
    struct tls_client *cl = client_of("ca.pem", NULL);
    SSL *server, *client;
    struct tls_info ci;

    (void)state;
    assert_ptr_equal(tls_server_ref(s), s);
    tls_server_unref(s);
    assert_ptr_equal(tls_client_ref(cl), cl);
    tls_client_unref(cl);

    /* a reload drops the server while a session still needs it for SNI */
    server = tls_server_ssl_new(s);
    client = tls_client_ssl_new(cl, "c.example", CONF_TLS_POLICY_VERIFY);
    tls_server_unref(s);
    tls_client_unref(cl);
    assert_true(handshake(client, server).client_ok);
    tls_describe(client, &ci);
    assert_string_equal(ci.peer_cn, "c.example");
    SSL_free(client);
    SSL_free(server); /* the last reference: LeakSanitizer sees a leak otherwise */

    tls_server_unref(NULL);
    tls_client_unref(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_name),
        cmocka_unit_test(test_printable_and_errors),
        cmocka_unit_test(test_server_load_errors),
        cmocka_unit_test(test_client_load_errors),
        cmocka_unit_test(test_load_errors_name_the_line),
        cmocka_unit_test(test_sni),
        cmocka_unit_test(test_protocol_versions),
        cmocka_unit_test(test_client_policies),
        cmocka_unit_test(test_client_ssl_refused),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_not_after),
        cmocka_unit_test(test_describe_file),
        cmocka_unit_test(test_refs),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
