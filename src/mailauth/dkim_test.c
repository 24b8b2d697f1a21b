/* SPDX-License-Identifier: MIT */
/*
 * Tests for the DKIM files: the canonicalization examples of RFC 6376
 * 3.4.5 (and the body fed one octet at a time, an empty body, l=), tag
 * lists and base64 with hostile rows, DKIM-Signature and key records with
 * hostile rows (rsa-sha1, h= without From, i= outside d=, a 512-bit key,
 * revoked keys), the RFC 8463 appendix A message (Ed25519 and RSA) verified
 * and failing once its body changes, round trips through the signer, l=
 * beyond the body, a message without From, 100 signatures (8 looked at),
 * DNS failures, an expired signature, the key file loader, and a verifier
 * freed while its lookups are in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "mailauth/dkim.h"

/* ---- canonicalization ---- */

static void
test_canon_header(void **state)
{
    /* RFC 6376 3.4.5 */
    static const struct {
        const char *raw;
        bool relaxed;
        const char *want;
    } rows[] = {
        {"A: X", true, "a:X\r\n"},
        {"B : Y\t\r\n\tZ  ", true, "b:Y Z\r\n"},
        {"A: X", false, "A: X\r\n"},
        {"B : Y\t\r\n\tZ  ", false, "B : Y\t\r\n\tZ  \r\n"},
        {"Subject:   lots   of\t space ", true, "subject:lots of space\r\n"},
        {"X-Empty:", true, "x-empty:\r\n"},
        {"X-Empty:   \r\n ", true, "x-empty:\r\n"},
    };
    char out[128];

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        long n = dkim_canon_header(rows[i].relaxed, slice_make(rows[i].raw, strlen(rows[i].raw)),
                                   true, out, sizeof out);

        assert_true(n >= 0);
        out[n] = '\0';
        if (strcmp(out, rows[i].want) != 0)
            fail_msg("row %zu: got [%s] want [%s]", i, out, rows[i].want);
    }
    /* too small a buffer is an error, not an overflow */
    assert_int_equal(dkim_canon_header(true, slice_make("A: X", 4), true, out, 4), -1);
    /* no colon: not a field */
    assert_int_equal(dkim_canon_header(true, slice_make("AX", 2), true, out, sizeof out), -1);
}

static void
sha(const char *p, size_t n, unsigned char out[32])
{
    unsigned int len;

    assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
}

/* The body hash of body, fed whole and one octet at a time (they must agree). */
static void
body_hash(const char *body, bool relaxed, uint64_t limit, unsigned char out[32], uint64_t *total)
{
    struct dkim_body b;
    unsigned char one[32];
    uint64_t t1;

    dkim_body_init(&b, relaxed, limit);
    dkim_body_feed(&b, body, strlen(body));
    dkim_body_final(&b, out, total);
    dkim_body_clear(&b);
    dkim_body_init(&b, relaxed, limit);
    for (size_t i = 0; body[i] != '\0'; i++)
        dkim_body_feed(&b, body + i, 1);
    dkim_body_final(&b, one, &t1);
    dkim_body_clear(&b);
    assert_memory_equal(out, one, 32);
    assert_int_equal(*total, t1);
}

static void
test_canon_body(void **state)
{
    static const struct {
        const char *body;
        bool relaxed;
        const char *want;
    } rows[] = {
        /* RFC 6376 3.4.5 */
        {" C \r\nD \t E\r\n\r\n\r\n", true, " C\r\nD E\r\n"},
        {" C \r\nD \t E\r\n\r\n\r\n", false, " C \r\nD \t E\r\n"},
        /* empty bodies: simple is one CRLF (3.4.3), relaxed nothing (3.4.4) */
        {"", false, "\r\n"},
        {"", true, ""},
        {"\r\n\r\n", false, "\r\n"},
        {"\r\n\r\n", true, ""},
        {" \t \r\n", true, ""},
        /* no CRLF at the end: one is added */
        {"abc", false, "abc\r\n"},
        {"abc  ", true, "abc\r\n"},
        /* empty lines inside stay */
        {"a\r\n\r\nb\r\n", false, "a\r\n\r\nb\r\n"},
        {"a\r\n \r\nb\r\n", true, "a\r\n\r\nb\r\n"},
        /* a bare CR is content, a CR before the end too */
        {"a\rb\r\n", true, "a\rb\r\n"},
        {"a\r", false, "a\r\r\n"},
    };
    unsigned char got[32], want[32];
    uint64_t total;

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        body_hash(rows[i].body, rows[i].relaxed, UINT64_MAX, got, &total);
        sha(rows[i].want, strlen(rows[i].want), want);
        if (memcmp(got, want, 32) != 0 || total != strlen(rows[i].want))
            fail_msg("row %zu: body hash or length (%llu) differs", i, (unsigned long long)total);
    }
    /* l=: the first l octets of the canonical body are hashed, the length counts all */
    body_hash("Hello  world\r\nmore\r\n", true, 5, got, &total);
    sha("Hello", 5, want);
    assert_memory_equal(got, want, 32);
    assert_int_equal(total, strlen("Hello world\r\nmore\r\n"));
}

/* ---- tag lists and base64 ---- */

static void
test_tags(void **state)
{
    static const struct {
        const char *text;
        int rc;
        size_t n;
        const char *why;
    } rows[] = {
        {"a=b", 0, 1, NULL},
        {"a=b;", 0, 1, NULL},
        {" a = b ; c=d e ;", 0, 2, NULL},
        {"a=b\r\n c", 0, 1, NULL},
        {"a=", 0, 1, NULL},
        {"", 0, 0, NULL},
        {"a_1=x", 0, 1, NULL},
        {"v=1; v=1", -1, 0, "duplicate-tag"},
        {"=x", -1, 0, "bad-tag-name"},
        {"1a=x", -1, 0, "bad-tag-name"},
        {"a-b=x", -1, 0, "bad-tag-name"},
        {"a", -1, 0, "no-equals"},
        {"a=b;;c=d", -1, 0, "empty-tag"},
        {";a=b", -1, 0, "empty-tag"},
        {"a=b\x01", -1, 0, "bad-tag-value"},
        {"a=b\xc3\xa9", -1, 0, "bad-tag-value"},
        {"a=b\r\nc=d", -1, 0, "bad-tag-value"},
        {"a=b\nc", -1, 0, "bad-tag-value"},
        {"a=1;b=1;c=1;d=1;e=1;f=1;g=1;h=1;i=1;j=1;k=1;l=1;m=1;n=1;o=1;p=1;q=1;r=1;s=1;t=1;u=1;"
         "v=1;w=1;x=1;y=1;z=1;aa=1;ab=1;ac=1;ad=1;ae=1;af=1;ag=1",
         -1, 0, "too-many-tags"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct dkim_taglist l;
        const char *why = NULL;
        int rc = dkim_tags_parse(slice_make(rows[i].text, strlen(rows[i].text)), &l, &why);

        if (rc != rows[i].rc)
            fail_msg("row %zu (%s): rc %d", i, rows[i].text, rc);
        if (rc == 0)
            assert_int_equal(l.n, rows[i].n);
        else
            assert_string_equal(why, rows[i].why);
    }
    {
        struct dkim_taglist l;
        const char *why;
        static const char t[] = " a = b ; c=d e ;";

        assert_int_equal(dkim_tags_parse(slice_make(t, strlen(t)), &l, &why), 0);
        assert_int_equal(dkim_tags_get(&l, "c")->value.len, 3);
        assert_memory_equal(dkim_tags_get(&l, "c")->value.p, "d e", 3);
        assert_null(dkim_tags_get(&l, "C"));
    }
}

static void
test_b64(void **state)
{
    static const struct {
        const char *in;
        long n;
        const char *out;
    } rows[] = {
        {"QUJD", 3, "ABC"},         {"QU JD", 3, "ABC"}, {"Q\r\n\tUJD", 3, "ABC"},
        {"QUI=", 2, "AB"},          {"QQ==", 1, "A"},    {"", 0, ""},
        {"QUJ", -1, NULL},          {"QU=D", -1, NULL},  {"Q===", -1, NULL},
        {"QUJD$", -1, NULL},        {"QR==", -1, NULL},  {"QUJDQUJD=", -1, NULL},
        {"QUJDQUJD====", -1, NULL},
    };
    unsigned char out[16];

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        long n = dkim_b64_decode(slice_make(rows[i].in, strlen(rows[i].in)), out, sizeof out);

        if (n != rows[i].n)
            fail_msg("row %zu (%s): %ld", i, rows[i].in, n);
        if (n > 0)
            assert_memory_equal(out, rows[i].out, (size_t)n);
    }
    /* over the cap */
    assert_int_equal(dkim_b64_decode(slice_make("QUJDQUJD", 8), out, 4), -1);
}

/* ---- DKIM-Signature ---- */

#define BH "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8="

static void
test_sig(void **state)
{
    static const struct {
        const char *text;
        const char *why; /* NULL: parses */
    } rows[] = {
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from:to; bh=" BH "; b=QUJD", NULL},
        {"v=1; a=ed25519-sha256; c=relaxed; d=Example.COM; s=s1.x; h=From : To;\r\n bh=" BH
         "; b=QU\r\n JD; i=joe@mail.example.com; l=10; t=100; x=200; q=dns/txt",
         NULL},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=to; bh=" BH "; b=QUJD", "no-from-in-h"},
        {"v=1; a=rsa-sha1; d=example.com; s=sel; h=from; bh=" BH "; b=QUJD", "rsa-sha1"},
        {"v=1; a=rsa-md5; d=example.com; s=sel; h=from; bh=" BH "; b=QUJD", "unknown-algorithm"},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH "; b=QU$D", "bad-base64"},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=!!; b=QUJD", "bad-base64"},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=QUJD; b=QUJD", "bad-bh-length"},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH "; b=", "bad-base64"},
        {"v=2; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH "; b=QUJD", "bad-version"},
        {"v=1; a=rsa-sha256; d=example.com; h=from; bh=" BH "; b=QUJD", "missing-tag"},
        {"v=1; v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH "; b=QUJD",
         "duplicate-tag"},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH "; b=QUJD; i=a@evil.example",
         "i-not-in-d"},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH "; b=QUJD; i=a@xexample.com",
         "i-not-in-d"},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH "; b=QUJD; c=relaxed/foo",
         "bad-canonicalization"},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH "; b=QUJD; l=1x", "bad-l"},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH
         "; b=QUJD; l=99999999999999999999",
         "bad-l"},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH "; b=QUJD; t=200; x=100",
         "x-before-t"},
        {"v=1; a=rsa-sha256; d=com; s=sel; h=from; bh=" BH "; b=QUJD", "bad-d"},
        {"v=1; a=rsa-sha256; d=ex..ample.com; s=sel; h=from; bh=" BH "; b=QUJD", "bad-d"},
        {"v=1; a=rsa-sha256; d=example.com; s=a/b; h=from; bh=" BH "; b=QUJD", "bad-s"},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from::to; bh=" BH "; b=QUJD", "bad-h"},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH "; b=QUJD; q=http",
         "unknown-query"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct dkim_sig s;
        const char *why = NULL;
        int rc = dkim_sig_parse(slice_make(rows[i].text, strlen(rows[i].text)), &s, &why);

        if (rows[i].why == NULL && rc != 0)
            fail_msg("row %zu: refused (%s)", i, why);
        if (rows[i].why != NULL && (rc != -1 || strcmp(why, rows[i].why) != 0))
            fail_msg("row %zu: want %s, got rc %d %s", i, rows[i].why, rc, rc ? why : "");
    }
    {
        struct dkim_sig s;
        const char *why;
        const char *t = rows[1].text;

        assert_int_equal(dkim_sig_parse(slice_make(t, strlen(t)), &s, &why), 0);
        assert_string_equal(s.d, "example.com");
        assert_int_equal(s.nh, 2);
        assert_string_equal(s.h[0], "from");
        assert_true(s.hdr_relaxed);
        assert_false(s.body_relaxed);
        assert_true(s.has_l);
        assert_int_equal(s.l, 10);
        assert_string_equal(s.b8, "QUJD");
        assert_int_equal(s.alg, DKIM_ALG_ED25519_SHA256);
    }
}

/* ---- keys ---- */

static char *
record_of_bits(const char *type, int bits)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, type, (size_t)bits);
    char *rec;

    assert_non_null(k);
    rec = dkim_key_record(k);
    EVP_PKEY_free(k);
    return rec;
}

static void
test_key(void **state)
{
    static const struct {
        const char *text;
        const char *why;
    } rows[] = {
        {"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", NULL},
        {"k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=; t=y:s; s=email; h=sha256",
         NULL},
        {"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo", "bad-base64"},
        {"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcH", "bad-key"},
        {"v=DKIM2; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "bad-version"},
        {"k=ed25519; v=DKIM1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "bad-version"},
        {"v=DKIM1; k=dsa; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "unknown-key-type"},
        {"v=DKIM1; k=rsa; p=", "revoked"},
        {"v=DKIM1; k=rsa", "missing-tag"},
        {"v=DKIM1; k=rsa; p=QUJD", "bad-key"},
        {"v=DKIM1; p=a; p=b", "duplicate-tag"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct dkim_key k;
        const char *why = NULL;
        int rc = dkim_key_parse(slice_make(rows[i].text, strlen(rows[i].text)), &k, &why);

        if (rows[i].why == NULL && rc != 0)
            fail_msg("row %zu: refused (%s)", i, why);
        if (rows[i].why != NULL && (rc != -1 || strcmp(why, rows[i].why) != 0))
            fail_msg("row %zu: want %s, got rc %d %s", i, rows[i].why, rc, rc ? why : "");
        if (rc == 0)
            dkim_key_clear(&k);
    }
    {
        struct dkim_key k;
        const char *why;
        const char *t = rows[1].text;

        assert_int_equal(dkim_key_parse(slice_make(t, strlen(t)), &k, &why), 0);
        assert_true(k.testing && k.strict_i && k.email_ok && k.sha256_ok && k.ed25519);
        dkim_key_clear(&k);
    }
    /* RSA: 512 and 1023 bits refused (RFC 8301 3.2), 1024 and 2048 accepted */
    {
        static const struct {
            int bits;
            int rc;
        } sizes[] = {{512, -1}, {1023, -1}, {1024, 0}, {2048, 0}};

        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            char *rec = record_of_bits("RSA", sizes[i].bits);
            struct dkim_key k;
            const char *why = NULL;
            int rc = dkim_key_parse(slice_make(rec, strlen(rec)), &k, &why);

            if (rc != sizes[i].rc)
                fail_msg("%d bits: rc %d", sizes[i].bits, rc);
            if (rc == 0) {
                assert_int_equal(k.bits, sizes[i].bits);
                dkim_key_clear(&k);
            } else {
                assert_string_equal(why, "key-too-small");
            }
            free(rec);
        }
    }
}

/* A record "k=rsa; p=" of der (n octets) in base64. */
static char *
record_of_der(const unsigned char *der, int n)
{
    char *rec = malloc(32 + 4 * ((size_t)n / 3 + 1) + 1);
    int m;

    assert_non_null(rec);
    strcpy(rec, "v=DKIM1; k=rsa; p=");
    m = EVP_EncodeBlock((unsigned char *)rec + strlen(rec), der, n);
    assert_true(m > 0);
    return rec;
}

/*
 * RSA keys in both forms a record may hold (SubjectPublicKeyInfo, read by our own walk of its
 * DER, and a bare RSAPublicKey), and SubjectPublicKeyInfo bent every way the walk must refuse
 * (then OpenSSL's decoder has its say, and refuses too).
 */
static void
test_key_rsa_forms(void **state)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    unsigned char *spki = NULL, *pkcs1 = NULL, bent[600];
    int ns, np;
    struct {
        const char *what;
        int at;    /* octet to change (-1: none) */
        int value; /* its new value */
        int cut;   /* octets cut from the end (negative: one extra octet added) */
        int rc;
    } rows[] = {
        {"as made", -1, 0, 0, 0},
        {"one octet more", -1, 0, -1, -1},
        {"one octet less", -1, 0, 1, -1},
        {"not a SEQUENCE", 0, 0x31, 0, -1},
        {"another algorithm (RSASSA-PSS)", 16, 0x0a, 0, -1},
        /* Refused by our walk; OpenSSL's decoder, asked next, takes it (as another key). */
        {"unused bits in the BIT STRING", 23, 0x01, 0, 0},
        {"a BIT STRING that is an OCTET STRING", 19, 0x04, 0, -1},
    };

    (void)state;
    assert_non_null(k);
    ns = i2d_PUBKEY(k, &spki);
    np = i2d_PublicKey(k, &pkcs1);
    assert_true(ns > 0 && ns < (int)sizeof(bent) - 1 && np > 0);
    /* The DER this table bends: 30 82 01 22 30 0d 06 09 2a 86 48 86 f7 0d 01 01 01 05 00
     * 03 82 01 0f 00 ... */
    assert_int_equal(spki[16], 0x01);
    assert_int_equal(spki[19], 0x03);
    assert_int_equal(spki[23], 0x00);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int n = ns - rows[i].cut;
        char *rec;
        struct dkim_key key;
        const char *why = NULL;
        int rc;

        memcpy(bent, spki, (size_t)ns);
        bent[ns] = 0;
        if (rows[i].at >= 0)
            bent[rows[i].at] = (unsigned char)rows[i].value;
        rec = record_of_der(bent, n);
        rc = dkim_key_parse(slice_make(rec, strlen(rec)), &key, &why);
        if (rc != rows[i].rc)
            fail_msg("%s: rc %d (%s)", rows[i].what, rc, why != NULL ? why : "");
        if (rc == 0) {
            if (rows[i].at < 0) /* the row bent nothing: the very key */
                assert_int_equal(EVP_PKEY_eq(key.pkey, k), 1);
            dkim_key_clear(&key);
        } else {
            assert_string_equal(why, "bad-key");
        }
        free(rec);
    }
    {
        char *rec = record_of_der(pkcs1, np);
        struct dkim_key key;
        const char *why = NULL;

        assert_int_equal(dkim_key_parse(slice_make(rec, strlen(rec)), &key, &why), 0);
        assert_int_equal(EVP_PKEY_eq(key.pkey, k), 1);
        dkim_key_clear(&key);
        free(rec);
    }
    OPENSSL_free(spki);
    OPENSSL_free(pkcs1);
    EVP_PKEY_free(k);
}

/* ---- the verifier, with a fake DNS ---- */

struct fake_dns {
    const char *names[4], *txts[4]; /* txt "TEMPFAIL": a tempfail */
    size_t nrows;
    struct {
        char name[300];
        dkim_dns_answer_fn *cb;
        void *cbarg;
    } q[DKIM_MAX_VERIFY];
    size_t nq, asked;
};

static void
fake_lookup(void *arg, const char *name, dkim_dns_answer_fn *cb, void *cbarg)
{
    struct fake_dns *d = arg;

    assert_true(d->nq < DKIM_MAX_VERIFY);
    snprintf(d->q[d->nq].name, sizeof d->q[d->nq].name, "%s", name);
    d->q[d->nq].cb = cb;
    d->q[d->nq].cbarg = cbarg;
    d->nq++;
    d->asked++;
}

static void
fake_answer(struct fake_dns *d)
{
    size_t nq = d->nq;

    d->nq = 0;
    for (size_t i = 0; i < nq; i++) {
        const char *txt = NULL;

        for (size_t k = 0; k < d->nrows; k++) {
            if (strcmp(d->names[k], d->q[i].name) == 0)
                txt = d->txts[k];
        }
        if (txt == NULL)
            d->q[i].cb(d->q[i].cbarg, DKIM_DNS_NOTFOUND, NULL, 0);
        else if (strcmp(txt, "TEMPFAIL") == 0)
            d->q[i].cb(d->q[i].cbarg, DKIM_DNS_TEMPFAIL, NULL, 0);
        else
            d->q[i].cb(d->q[i].cbarg, DKIM_DNS_OK, txt, strlen(txt));
    }
}

static int done_calls;

static void
on_done(void *arg, struct dkim_verify *v)
{
    (void)arg;
    (void)v;
    done_calls++;
}

/* Verifies msg (header and body split at the first empty line), body fed in chunks of
 * chunk octets; results copied to out (at most cap). Returns the number of results. */
static size_t
verify_msg(struct fake_dns *d, const char *msg, time_t now, size_t chunk, struct dkim_result *out,
           size_t cap)
{
    struct dkim_dns dns = {fake_lookup, d};
    struct dkim_verify *v = dkim_verify_new(&dns, now);
    const char *sep = strstr(msg, "\r\n\r\n");
    size_t hlen = sep ? (size_t)(sep - msg) + 2 : strlen(msg);
    const char *body = sep ? sep + 4 : msg + hlen;
    size_t blen = strlen(body), n;
    const struct dkim_result *r;

    (void)dkim_verify_header(v, msg, hlen);
    for (size_t i = 0; i < blen; i += chunk)
        dkim_verify_body(v, body + i, blen - i < chunk ? blen - i : chunk);
    done_calls = 0;
    dkim_verify_finish(v, on_done, NULL);
    fake_answer(d);
    assert_int_equal(done_calls, 1);
    r = dkim_verify_results(v, &n);
    memcpy(out, r, (n < cap ? n : cap) * sizeof *r);
    dkim_verify_free(v);
    return n;
}

#define RFC8463_ED "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define RFC8463_RSA                                                                                \
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR" \
    "6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5Q"  \
    "jvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"

/* RFC 8463 appendix A.3 */
static const char rfc8463_head[] =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    " subject : date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    " date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n";
static const char rfc8463_rest[] =
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n";

static void
rfc8463_dns(struct fake_dns *d)
{
    memset(d, 0, sizeof *d);
    d->names[0] = "brisbane._domainkey.football.example.com";
    d->txts[0] = RFC8463_ED;
    d->names[1] = "test._domainkey.football.example.com";
    d->txts[1] = RFC8463_RSA;
    d->nrows = 2;
}

static char *
cat(const char *a, const char *b)
{
    char *s = malloc(strlen(a) + strlen(b) + 1);

    assert_non_null(s);
    memcpy(s, a, strlen(a));
    memcpy(s + strlen(a), b, strlen(b) + 1);
    return s;
}

static void
test_rfc8463(void **state)
{
    struct fake_dns d;
    struct dkim_result r[4];
    char *msg = cat(rfc8463_head, rfc8463_rest);
    static const size_t chunks[] = {1, 7, 4096};

    (void)state;
    for (size_t c = 0; c < 3; c++) {
        rfc8463_dns(&d);
        assert_int_equal(verify_msg(&d, msg, 1528637909, chunks[c], r, 4), 2);
        assert_int_equal(r[0].status, DKIM_PASS);
        assert_string_equal(r[0].d, "football.example.com");
        assert_string_equal(r[0].s, "brisbane");
        assert_string_equal(r[0].b8, "/gCrinpc");
        assert_int_equal(r[1].status, DKIM_PASS);
        assert_string_equal(r[1].s, "test");
    }
    free(msg);

    /* a body changed in transit: both fail on the body hash, without a key lookup */
    msg = cat(rfc8463_head, rfc8463_rest);
    msg[strlen(msg) - 4] = 'X';
    rfc8463_dns(&d);
    assert_int_equal(verify_msg(&d, msg, 1528637909, 64, r, 4), 2);
    assert_int_equal(r[0].status, DKIM_FAIL);
    assert_string_equal(r[0].reason, "body-hash");
    assert_int_equal(r[1].status, DKIM_FAIL);
    assert_int_equal(d.asked, 0);
    free(msg);

    /* a signed header changed: the signature fails */
    msg = cat(rfc8463_head, rfc8463_rest);
    memcpy(strstr(msg, "dinner"), "Dinner", 6);
    rfc8463_dns(&d);
    assert_int_equal(verify_msg(&d, msg, 1528637909, 64, r, 4), 2);
    assert_int_equal(r[0].status, DKIM_FAIL);
    assert_string_equal(r[0].reason, "signature");
    assert_int_equal(r[1].status, DKIM_FAIL);
    free(msg);

    /* keys: swapped (type mismatch), absent, tempfail */
    msg = cat(rfc8463_head, rfc8463_rest);
    rfc8463_dns(&d);
    d.txts[0] = RFC8463_RSA;
    d.txts[1] = "TEMPFAIL";
    d.names[0] = "brisbane._domainkey.football.example.com";
    assert_int_equal(verify_msg(&d, msg, 1528637909, 64, r, 4), 2);
    assert_int_equal(r[0].status, DKIM_PERMERROR);
    assert_string_equal(r[0].reason, "key-type-mismatch");
    assert_int_equal(r[1].status, DKIM_TEMPERROR);
    d.nrows = 0;
    assert_int_equal(verify_msg(&d, msg, 1528637909, 64, r, 4), 2);
    assert_int_equal(r[0].status, DKIM_PERMERROR);
    assert_string_equal(r[0].reason, "no-key");
    free(msg);
}

/* A message signed here with a fresh key verifies, and fails once changed. */
static void
roundtrip(const char *type, int bits)
{
    static const char msg[] = "From: Joe <joe@example.com>\r\n"
                              "To: Sue <sue@example.net>\r\n"
                              "Subject:  a   test\r\n"
                              "Date: Mon, 7 Dec 2026 02:00:00 +0000\r\n"
                              "\r\n"
                              "Hello  there \r\n\r\n\r\n";
    struct dkim_privkey key = {0};
    struct dkim_sign *s;
    struct fake_dns d = {0};
    struct dkim_result r[2];
    const char *why;
    char *field, *signed_msg, *rec;

    key.pkey = bits ? EVP_PKEY_Q_keygen(NULL, NULL, type, (size_t)bits)
                    : EVP_PKEY_Q_keygen(NULL, NULL, type);
    assert_non_null(key.pkey);
    key.alg = bits ? DKIM_ALG_RSA_SHA256 : DKIM_ALG_ED25519_SHA256;
    s = dkim_sign_new(&key, "example.com", "sel", 1796600000);
    assert_non_null(s);
    assert_int_equal(dkim_sign_header(s, msg, strstr(msg, "\r\n\r\n") - msg + 2), 0);
    dkim_sign_body(s, strstr(msg, "\r\n\r\n") + 4, strlen(strstr(msg, "\r\n\r\n") + 4));
    field = dkim_sign_finish(s, &why);
    assert_non_null(field);
    dkim_sign_free(s);
    /* folded at 78 columns, From oversigned */
    for (const char *l = field; *l != '\0';) {
        const char *e = strstr(l, "\r\n");

        assert_non_null(e);
        assert_true(e - l <= 78);
        l = e + 2;
    }
    assert_non_null(strstr(field, "h=from:from:subject:date:to;"));
    rec = dkim_key_record(key.pkey);
    d.names[0] = "sel._domainkey.example.com";
    d.txts[0] = rec;
    d.nrows = 1;
    signed_msg = cat(field, msg);
    assert_int_equal(verify_msg(&d, signed_msg, 1796600000, 5, r, 2), 1);
    assert_int_equal(r[0].status, DKIM_PASS);
    free(signed_msg);
    /* a second From added on the way breaks it (oversigning), as does a changed body */
    {
        char *two = cat(field, "From: Eve <eve@example.com>\r\n");

        signed_msg = cat(two, msg);
        free(two);
        assert_int_equal(verify_msg(&d, signed_msg, 1796600000, 5, r, 2), 1);
        assert_int_not_equal(r[0].status, DKIM_PASS);
        free(signed_msg);
    }
    signed_msg = cat(field, msg);
    *strstr(signed_msg, "Hello") = 'J';
    assert_int_equal(verify_msg(&d, signed_msg, 1796600000, 5, r, 2), 1);
    assert_int_equal(r[0].status, DKIM_FAIL);
    free(signed_msg);
    free(rec);
    free(field);
    dkim_privkey_clear(&key);
}

static void
test_roundtrip(void **state)
{
    (void)state;
    roundtrip("RSA", 2048);
    roundtrip("ED25519", 0);
}

static void
test_sign_refusals(void **state)
{
    static const char nofrom[] = "To: a@example.com\r\nSubject: x\r\n";
    struct dkim_privkey key = {0};
    struct dkim_sign *s;
    const char *why;

    (void)state;
    key.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    key.alg = DKIM_ALG_ED25519_SHA256;
    assert_null(dkim_sign_new(&key, "com", "sel", 0));
    assert_null(dkim_sign_new(&key, "example.com", "a b", 0));
    assert_null(dkim_sign_new(&key, "example..com", "sel", 0));
    s = dkim_sign_new(&key, "example.com", "sel", 0);
    assert_int_equal(dkim_sign_header(s, nofrom, strlen(nofrom)), 0);
    assert_null(dkim_sign_finish(s, &why));
    assert_string_equal(why, "no-from");
    dkim_sign_free(s);
    s = dkim_sign_new(&key, "example.com", "sel", 0);
    assert_int_equal(dkim_sign_header(s, " bad\r\n", 6), -1);
    assert_null(dkim_sign_finish(s, &why));
    assert_string_equal(why, "header-syntax");
    dkim_sign_free(s);
    dkim_privkey_clear(&key);
}

/* Signatures that are refused before any crypto: each gets its reason. */
static void
test_verify_refusals(void **state)
{
    static const struct {
        const char *msg;
        enum dkim_status st;
        const char *reason;
    } rows[] = {
        /* l= longer than the body */
        {"DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; d=example.com; s=sel; h=from; "
         "l=1000; bh=" BH "; b=QUJD\r\nFrom: a@example.com\r\n\r\nshort\r\n",
         DKIM_PERMERROR, "body-length"},
        /* a message without From */
        {"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH
         "; b=QUJD\r\nTo: a@example.com\r\n\r\nbody\r\n",
         DKIM_PERMERROR, "no-from"},
        {"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH
         "; b=QUJD\r\nFrom: a@example.com\r\nFrom: b@example.com\r\n\r\nbody\r\n",
         DKIM_PERMERROR, "multiple-from"},
        {"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=to; bh=" BH
         "; b=QUJD\r\nFrom: a@example.com\r\n\r\nbody\r\n",
         DKIM_PERMERROR, "no-from-in-h"},
        {"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH
         "; b=QU%JD\r\nFrom: a@example.com\r\n\r\nbody\r\n",
         DKIM_PERMERROR, "bad-base64"},
        {"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=from; x=100; bh=" BH
         "; b=QUJD\r\nFrom: a@example.com\r\n\r\nbody\r\n",
         DKIM_PERMERROR, "expired"},
        {"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH
         "; b=QUJD\r\nFrom: a@example.com\r\n\r\nbody\r\n",
         DKIM_FAIL, "body-hash"},
        {"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" BH
         "; b=QUJD\r\nFrom: a@example.com\r\nbroken line\r\n\r\nbody\r\n",
         DKIM_PERMERROR, "header-syntax"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct fake_dns d = {0};
        struct dkim_result r[2];

        assert_int_equal(verify_msg(&d, rows[i].msg, 1000, 3, r, 2), 1);
        if (r[0].status != rows[i].st || strcmp(r[0].reason, rows[i].reason) != 0)
            fail_msg("row %zu: %s %s", i, dkim_status_name(r[0].status), r[0].reason);
        assert_int_equal(d.asked, 0);
    }
}

/* A 512-bit key in DNS: permerror, whatever the signature. */
static void
test_small_key(void **state)
{
    struct fake_dns d;
    struct dkim_result r[4];
    char *msg = cat(rfc8463_head, rfc8463_rest);
    char *rec = record_of_bits("RSA", 512);

    (void)state;
    rfc8463_dns(&d);
    d.txts[1] = rec;
    assert_int_equal(verify_msg(&d, msg, 1528637909, 64, r, 4), 2);
    assert_int_equal(r[0].status, DKIM_PASS);
    assert_int_equal(r[1].status, DKIM_PERMERROR);
    assert_string_equal(r[1].reason, "key-too-small");
    free(rec);
    free(msg);
}

/* 100 signatures: 8 looked at (8 lookups at most), 92 reported "too-many". */
static void
test_many_signatures(void **state)
{
    size_t cap = 100 * 600 + sizeof rfc8463_rest, len = 0;
    char *msg = malloc(cap);
    struct fake_dns d;
    struct dkim_result *r = calloc(100, sizeof *r);
    size_t pass = 0, policy = 0;

    (void)state;
    for (int i = 0; i < 50; i++) {
        memcpy(msg + len, rfc8463_head, strlen(rfc8463_head));
        len += strlen(rfc8463_head);
    }
    memcpy(msg + len, rfc8463_rest, sizeof rfc8463_rest);
    rfc8463_dns(&d);
    assert_int_equal(verify_msg(&d, msg, 1528637909, 100, r, 100), 100);
    assert_true(d.asked <= DKIM_MAX_VERIFY);
    for (size_t i = 0; i < 100; i++) {
        pass += r[i].status == DKIM_PASS;
        policy += r[i].status == DKIM_POLICY && strcmp(r[i].reason, "too-many") == 0;
    }
    assert_int_equal(pass, 8);
    assert_int_equal(policy, 92);
    free(r);
    free(msg);
}

/* Freed with its lookups in flight: the late answers find it gone (ASan watches). */
static void
test_free_pending(void **state)
{
    struct fake_dns d;
    struct dkim_dns dns = {fake_lookup, &d};
    struct dkim_verify *v = dkim_verify_new(&dns, 1528637909);
    char *msg = cat(rfc8463_head, rfc8463_rest);
    const char *sep = strstr(msg, "\r\n\r\n");

    (void)state;
    rfc8463_dns(&d);
    assert_int_equal(dkim_verify_header(v, msg, (size_t)(sep - msg) + 2), 0);
    dkim_verify_body(v, sep + 4, strlen(sep + 4));
    done_calls = 0;
    dkim_verify_finish(v, on_done, NULL);
    assert_int_equal(d.nq, 2);
    dkim_verify_free(v);
    fake_answer(&d);
    assert_int_equal(done_calls, 0);
    free(msg);
}

/* ---- the key file loader ---- */

static void
write_key(const char *path, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

static void
test_privkey_load(void **state)
{
    char dir[] = "/tmp/dkim_test.XXXXXX", path[128], err[512];
    struct dkim_privkey k;
    EVP_PKEY *pk;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/missing.key", dir);
    assert_int_equal(dkim_privkey_load(path, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "no such file"));
    assert_non_null(strstr(err, path));

    /* a directory: opened, but not read */
    assert_int_equal(dkim_privkey_load(dir, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read"));

    snprintf(path, sizeof path, "%s/junk.key", dir);
    f = fopen(path, "w");
    fputs("not a key\n", f);
    fclose(f);
    assert_int_equal(dkim_privkey_load(path, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a PEM private key"));
    unlink(path);

    /* a key with a passphrase is refused, never asked for */
    snprintf(path, sizeof path, "%s/locked.key", dir);
    pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    f = fopen(path, "w");
    assert_int_equal(
        PEM_write_PrivateKey(f, pk, EVP_aes_128_cbc(), (unsigned char *)"secret", 6, NULL, NULL),
        1);
    fclose(f);
    EVP_PKEY_free(pk);
    assert_int_equal(dkim_privkey_load(path, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "passphrase"));
    unlink(path);

    snprintf(path, sizeof path, "%s/small.key", dir);
    pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    write_key(path, pk);
    EVP_PKEY_free(pk);
    assert_int_equal(dkim_privkey_load(path, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "1024 bits"));
    unlink(path);

    snprintf(path, sizeof path, "%s/ec.key", dir);
    pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    write_key(path, pk);
    EVP_PKEY_free(pk);
    assert_int_equal(dkim_privkey_load(path, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "neither"));
    unlink(path);

    snprintf(path, sizeof path, "%s/ed.key", dir);
    pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    write_key(path, pk);
    EVP_PKEY_free(pk);
    assert_int_equal(dkim_privkey_load(path, &k, err, sizeof err), 0);
    assert_int_equal(k.alg, DKIM_ALG_ED25519_SHA256);
    dkim_privkey_clear(&k);
    unlink(path);

    snprintf(path, sizeof path, "%s/rsa.key", dir);
    pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    write_key(path, pk);
    EVP_PKEY_free(pk);
    assert_int_equal(dkim_privkey_load(path, &k, err, sizeof err), 0);
    assert_int_equal(k.alg, DKIM_ALG_RSA_SHA256);
    assert_int_equal(k.bits, 2048);
    dkim_privkey_clear(&k);
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canon_header),
        cmocka_unit_test(test_canon_body),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_b64),
        cmocka_unit_test(test_sig),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_key_rsa_forms),
        cmocka_unit_test(test_rfc8463),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_sign_refusals),
        cmocka_unit_test(test_verify_refusals),
        cmocka_unit_test(test_small_key),
        cmocka_unit_test(test_many_signatures),
        cmocka_unit_test(test_free_pending),
        cmocka_unit_test(test_privkey_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
