/* SPDX-License-Identifier: MIT */
/*
 * DKIM key records (RFC 6376 3.6.1) and keys: the TXT text parsed as a tag
 * list (v=DKIM1 first if present, k=rsa or ed25519 (RFC 8463 4), p= the
 * public key, h=, s=, t=), the key made an OpenSSL EVP_PKEY: RSA from its
 * SubjectPublicKeyInfo (or a bare RSAPublicKey, which some publish), at
 * least 1024 bits (RFC 8301 3.2); Ed25519 from the raw 32 octets. Also
 * key generation and the record of a key, for gate26 dkim keygen.
 */
#include "mailauth/dkim.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "lib/str.h"
#include "lib/xalloc.h"

static bool
is_fws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* True when the colon-separated list v holds word (FWS around items ignored). */
static bool
list_has(struct slice v, const char *word)
{
    size_t wl = strlen(word);
    const char *p = v.p, *end = v.p + v.len;

    while (p <= end) {
        const char *c = memchr(p, ':', (size_t)(end - p));
        const char *ie = c ? c : end;

        while (p < ie && is_fws(*p))
            p++;
        while (ie > p && is_fws(ie[-1]))
            ie--;
        if ((size_t)(ie - p) == wl && memcmp(p, word, wl) == 0)
            return true;
        if (c == NULL)
            break;
        p = c + 1;
    }
    return false;
}

static bool
value_is(struct slice v, const char *word)
{
    return v.len == strlen(word) && memcmp(v.p, word, v.len) == 0;
}

/* A DER length at *p (definite, at most 3 octets of length); -1 when malformed or past end. */
static long
der_len(const unsigned char **p, const unsigned char *end)
{
    size_t len, k;

    if (*p >= end)
        return -1;
    len = *(*p)++;
    if (len < 0x80)
        return (size_t)(end - *p) >= len ? (long)len : -1;
    k = len & 0x7f;
    if (k == 0 || k > 3 || (size_t)(end - *p) < k)
        return -1;
    for (len = 0; k > 0; k--)
        len = len << 8 | *(*p)++;
    return (size_t)(end - *p) >= len ? (long)len : -1;
}

/*
 * The RSAPublicKey inside a SubjectPublicKeyInfo of rsaEncryption (RFC 5280 4.1, RFC 3279
 * 2.3.1): SEQUENCE { SEQUENCE { OID 1.2.840.113549.1.1.1, NULL? }, BIT STRING { 0, key } },
 * filling the whole of der. 0 with *key and *len, or -1 for anything else.
 */
static int
spki_rsa(const unsigned char *der, size_t n, const unsigned char **key, size_t *len)
{
    static const unsigned char oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                        0xf7, 0x0d, 0x01, 0x01, 0x01};
    const unsigned char *p = der, *end = der + n, *alg_end;
    long l;

    if (n < 2 || *p++ != 0x30 || (l = der_len(&p, end)) == -1 || p + l != end)
        return -1;
    if (p >= end || *p++ != 0x30 || (l = der_len(&p, end)) == -1)
        return -1;
    alg_end = p + l;
    if ((size_t)l < sizeof(oid) || memcmp(p, oid, sizeof(oid)) != 0)
        return -1;
    p += sizeof(oid);
    if (p != alg_end && !(alg_end - p == 2 && p[0] == 0x05 && p[1] == 0x00))
        return -1;
    p = alg_end;
    if (p >= end || *p++ != 0x03 || (l = der_len(&p, end)) == -1 || p + l != end || l < 2 ||
        *p != 0x00)
        return -1;
    *key = p + 1;
    *len = (size_t)l - 1;
    return 0;
}

int
dkim_key_parse(struct slice txt, struct dkim_key *out, const char **why)
{
    struct dkim_taglist l;
    const struct dkim_tag *t;
    unsigned char der[DKIM_MAX_KEY];
    long n;

    memset(out, 0, sizeof *out);
    if (dkim_tags_parse(txt, &l, why) == -1)
        return -1;
    t = dkim_tags_get(&l, "v");
    if (t != NULL && (t != &l.t[0] || !value_is(t->value, "DKIM1"))) {
        *why = "bad-version"; /* 3.6.1: v= must be the first tag, "DKIM1" */
        return -1;
    }
    t = dkim_tags_get(&l, "k");
    if (t != NULL && value_is(t->value, "ed25519"))
        out->ed25519 = true;
    else if (t != NULL && !value_is(t->value, "rsa")) {
        *why = "unknown-key-type";
        return -1;
    }
    t = dkim_tags_get(&l, "h");
    out->sha256_ok = t == NULL || list_has(t->value, "sha256");
    t = dkim_tags_get(&l, "s");
    out->email_ok = t == NULL || list_has(t->value, "*") || list_has(t->value, "email");
    t = dkim_tags_get(&l, "t");
    if (t != NULL) {
        out->testing = list_has(t->value, "y");
        out->strict_i = list_has(t->value, "s");
    }
    t = dkim_tags_get(&l, "p");
    if (t == NULL) {
        *why = "missing-tag";
        return -1;
    }
    if (t->value.len == 0) {
        *why = "revoked"; /* 3.6.1: an empty p= means the key was revoked */
        return -1;
    }
    n = dkim_b64_decode(t->value, der, sizeof der);
    if (n <= 0) {
        *why = "bad-base64";
        return -1;
    }
    if (out->ed25519) {
        if (n != 32 ||
            (out->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32)) == NULL) {
            *why = "bad-key";
            return -1;
        }
        out->bits = 256;
        return 0;
    }
    {
        const unsigned char *q = der, *rsa;
        size_t rsa_len;

        /* The usual form, SubjectPublicKeyInfo of rsaEncryption: its RSAPublicKey straight to
         * d2i_PublicKey. OpenSSL 3's generic d2i_PUBKEY decoder costs 0.1 ms a key here, as
         * much as every other DNS check of a message together (bench/RESULTS.md). */
        if (spki_rsa(der, (size_t)n, &rsa, &rsa_len) == 0) {
            q = rsa;
            out->pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)rsa_len);
            if (out->pkey != NULL && q != rsa + rsa_len) {
                EVP_PKEY_free(out->pkey);
                out->pkey = NULL;
            }
        }
        if (out->pkey == NULL) {
            /* Any other SubjectPublicKeyInfo (OpenSSL decides), else a bare RSAPublicKey. */
            q = der;
            out->pkey = d2i_PUBKEY(NULL, &q, n);
            if (out->pkey == NULL || q != der + n) {
                EVP_PKEY_free(out->pkey);
                q = der;
                out->pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, n);
                if (out->pkey != NULL && q != der + n) {
                    EVP_PKEY_free(out->pkey);
                    out->pkey = NULL;
                }
            }
        }
    }
    if (out->pkey == NULL || EVP_PKEY_get_base_id(out->pkey) != EVP_PKEY_RSA) {
        EVP_PKEY_free(out->pkey);
        out->pkey = NULL;
        *why = "bad-key";
        return -1;
    }
    out->bits = EVP_PKEY_get_bits(out->pkey);
    if (out->bits < DKIM_RSA_MIN_VERIFY) {
        EVP_PKEY_free(out->pkey);
        out->pkey = NULL;
        *why = "key-too-small";
        return -1;
    }
    return 0;
}

void
dkim_key_clear(struct dkim_key *k)
{
    EVP_PKEY_free(k->pkey);
    k->pkey = NULL;
}

int
dkim_keygen(bool ed25519, int bits, EVP_PKEY **out)
{
    if (ed25519)
        *out = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    else
        *out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    return *out == NULL ? -1 : 0;
}

char *
dkim_key_record(EVP_PKEY *pkey)
{
    unsigned char raw[4096], *der = NULL;
    size_t len = sizeof raw;
    bool ed = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519;
    const unsigned char *src = raw;
    char *rec, *b64;
    int n;

    if (ed) {
        if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1)
            return NULL;
    } else {
        n = i2d_PUBKEY(pkey, &der);
        if (n <= 0)
            return NULL;
        src = der;
        len = (size_t)n;
    }
    b64 = xmalloc(4 * ((len + 2) / 3) + 1);
    (void)EVP_EncodeBlock((unsigned char *)b64, src, (int)len);
    OPENSSL_free(der);
    len = strlen(b64) + 32;
    rec = xmalloc(len);
    (void)str_fmt(rec, len, "v=DKIM1; k=%s; p=%s", ed ? "ed25519" : "rsa", b64);
    free(b64);
    return rec;
}
