/* SPDX-License-Identifier: MIT */
/*
 * The DKIM signer (RFC 6376 5, RFC 8463): relaxed/relaxed, rsa-sha256 or
 * ed25519-sha256, t= now, h= the fields of dkim_sign_fields present in the
 * message (each as many times as present, so every instance is signed)
 * with From listed once more than present (oversigned: a From added on
 * the way breaks the signature, 8.15). The body is hashed as it streams;
 * the field is folded at 78 columns (RFC 5322 2.1.1) before it is hashed,
 * so the folding is part of what is signed. Also the private key loader.
 */
#include "mailauth/dkim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "lib/str.h"
#include "lib/xalloc.h"
#include "mailauth/dkim_impl.h"

/*
 * The fields signed: the originator and destination fields, the subject
 * and identification fields (RFC 5322 3.6), MIME's (RFC 2045), and the
 * mailing list fields (RFC 2369, 2919, 8058) that receivers act on.
 */
const char *const dkim_sign_fields[] = {
    "from",
    "sender",
    "reply-to",
    "subject",
    "date",
    "to",
    "cc",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-id",
    "list-help",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-subscribe",
    "list-post",
    "list-owner",
    "list-archive",
    NULL,
};

struct dkim_sign {
    const struct dkim_privkey *key;
    char d[256], s[64];
    time_t now;
    char *hdr;
    struct msghdr_section mh;
    bool header_ok;
    struct dkim_body body;
};

/* A field being written, folded at 78 columns. */
struct fold {
    char *p;
    size_t len, cap, col;
};

static void
put(struct fold *f, const char *s, size_t n)
{
    if (f->len + n + 1 > f->cap) {
        while (f->len + n + 1 > f->cap)
            f->cap = f->cap ? f->cap * 2 : 512;
        f->p = xrealloc(f->p, f->cap);
    }
    memcpy(f->p + f->len, s, n);
    f->len += n;
    f->p[f->len] = '\0';
    f->col += n;
}

static void
fold_break(struct fold *f)
{
    put(f, "\r\n\t", 3);
    f->col = 1;
}

/* A word that is not cut: on a new line when it does not fit. A leading
 * space is dropped at the start of a new line (the tab is its FWS). */
static void
word(struct fold *f, const char *w)
{
    size_t n = strlen(w);

    if (f->col + n > 78 && f->col > 1) {
        fold_break(f);
        if (w[0] == ' ') {
            w++;
            n--;
        }
    }
    put(f, w, n);
}

/* Base64 (FWS allowed anywhere in it, 3.5): cut to fill each line. */
static void
b64(struct fold *f, const char *s)
{
    size_t n = strlen(s);

    while (n > 0) {
        size_t room = f->col < 78 ? 78 - f->col : 0;

        if (room == 0) {
            fold_break(f);
            continue;
        }
        if (room > n)
            room = n;
        put(f, s, room);
        s += room;
        n -= room;
    }
}

static char *
b64_encode(const unsigned char *p, size_t n)
{
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);

    (void)EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

static bool
label_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return false;
    }
    return s[0] != '.' && s[n - 1] != '.' && strstr(s, "..") == NULL;
}

struct dkim_sign *
dkim_sign_new(const struct dkim_privkey *key, const char *domain, const char *selector, time_t now)
{
    struct dkim_sign *s;

    if (!label_ok(domain) || !label_ok(selector) || strchr(domain, '.') == NULL)
        return NULL;
    s = xcalloc(1, sizeof *s);
    s->key = key;
    if (str_copyz(s->d, sizeof s->d, domain) == -1 ||
        str_copyz(s->s, sizeof s->s, selector) == -1) {
        free(s);
        return NULL;
    }
    str_lower(s->d, strlen(s->d));
    s->now = now;
    dkim_body_init(&s->body, true, UINT64_MAX);
    return s;
}

void
dkim_sign_free(struct dkim_sign *s)
{
    if (s == NULL)
        return;
    dkim_body_clear(&s->body);
    msghdr_clear(&s->mh);
    free(s->hdr);
    free(s);
}

int
dkim_sign_header(struct dkim_sign *s, const char *p, size_t len)
{
    const char *why;

    if (s->hdr != NULL)
        return -1;
    s->hdr = xmalloc(len + 1);
    if (len > 0)
        memcpy(s->hdr, p, len);
    s->header_ok = msghdr_parse(&s->mh, slice_make(s->hdr, len), DKIM_MAX_FIELDS, &why) == 0;
    return s->header_ok ? 0 : -1;
}

void
dkim_sign_body(struct dkim_sign *s, const char *p, size_t len)
{
    dkim_body_feed(&s->body, p, len);
}

/* The private-key operation over the header hash. Returns the length or -1. */
static long
sign_digest(const struct dkim_privkey *k, const unsigned char digest[32], unsigned char *sig,
            size_t cap)
{
    size_t len = cap;
    int ok = 0;

    if (k->alg == DKIM_ALG_ED25519_SHA256) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();

        ok = md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(md, sig, &len, digest, 32) == 1;
        EVP_MD_CTX_free(md);
    } else {
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(k->pkey, NULL);

        ok = pc != NULL && EVP_PKEY_sign_init(pc) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
             EVP_PKEY_sign(pc, sig, &len, digest, 32) == 1;
        EVP_PKEY_CTX_free(pc);
    }
    return ok ? (long)len : -1;
}

char *
dkim_sign_finish(struct dkim_sign *s, const char **why)
{
    const char *names[DKIM_MAX_HFIELDS];
    size_t n = 0;
    unsigned char bh[32], digest[32], sig[DKIM_MAX_SIG];
    uint64_t total;
    struct fold f = {0};
    char buf[400], *enc;
    long slen;

    if (!s->header_ok) {
        *why = "header-syntax";
        return NULL;
    }
    if (msghdr_count(&s->mh, "From") == 0) {
        *why = "no-from";
        return NULL;
    }
    for (size_t i = 0; dkim_sign_fields[i] != NULL; i++) {
        size_t c = msghdr_count(&s->mh, dkim_sign_fields[i]);

        if (i == 0)
            c++; /* From oversigned */
        for (; c > 0 && n < DKIM_MAX_HFIELDS; c--)
            names[n++] = dkim_sign_fields[i];
    }
    dkim_body_final(&s->body, bh, &total);

    put(&f, "DKIM-Signature:", 15);
    word(&f, " v=1;");
    word(&f, s->key->alg == DKIM_ALG_ED25519_SHA256 ? " a=ed25519-sha256;" : " a=rsa-sha256;");
    word(&f, " c=relaxed/relaxed;");
    (void)str_fmt(buf, sizeof buf, " d=%s;", s->d);
    word(&f, buf);
    (void)str_fmt(buf, sizeof buf, " s=%s;", s->s);
    word(&f, buf);
    (void)str_fmt(buf, sizeof buf, " t=%lld;", (long long)s->now);
    word(&f, buf);
    for (size_t i = 0; i < n; i++) {
        (void)str_fmt(buf, sizeof buf, "%s%s%s", i == 0 ? " h=" : "", names[i],
                      i + 1 == n ? ";" : ":");
        word(&f, buf);
    }
    word(&f, " bh=");
    enc = b64_encode(bh, sizeof bh);
    b64(&f, enc);
    free(enc);
    put(&f, ";", 1);
    word(&f, " b=");
    if (dkim_hash_headers(&s->mh, true, names, n, slice_make(f.p, f.len), digest) == -1 ||
        (slen = sign_digest(s->key, digest, sig, sizeof sig)) < 0) {
        free(f.p);
        *why = "crypto";
        return NULL;
    }
    enc = b64_encode(sig, (size_t)slen);
    b64(&f, enc);
    free(enc);
    put(&f, "\r\n", 2);
    return f.p;
}

/* A key file is never decrypted: OpenSSL's default would ask on the terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

int
dkim_privkey_load(const char *path, struct dkim_privkey *out, char *err, size_t errcap)
{
    FILE *fp;
    EVP_PKEY *k;

    memset(out, 0, sizeof *out);
    fp = fopen(path, "r");
    if (fp == NULL) {
        (void)str_fmt(err, errcap, "%s: %s", path,
                      errno == ENOENT ? "no such file" : strerror(errno));
        return -1;
    }
    k = PEM_read_PrivateKey(fp, NULL, no_passphrase, NULL);
    if (k == NULL && ferror(fp)) {
        (void)str_fmt(err, errcap, "%s: cannot read it", path);
        (void)fclose(fp);
        return -1;
    }
    (void)fclose(fp);
    if (k == NULL) {
        (void)str_fmt(err, errcap, "%s: not a PEM private key (or one with a passphrase)", path);
        return -1;
    }
    if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519) {
        out->alg = DKIM_ALG_ED25519_SHA256;
    } else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
        out->alg = DKIM_ALG_RSA_SHA256;
        if (EVP_PKEY_get_bits(k) < DKIM_RSA_MIN_SIGN) {
            (void)str_fmt(err, errcap, "%s: an RSA key of %d bits; signing needs %d at least", path,
                          EVP_PKEY_get_bits(k), DKIM_RSA_MIN_SIGN);
            EVP_PKEY_free(k);
            return -1;
        }
    } else {
        (void)str_fmt(err, errcap, "%s: neither an RSA nor an Ed25519 key", path);
        EVP_PKEY_free(k);
        return -1;
    }
    out->bits = EVP_PKEY_get_bits(k);
    out->pkey = k;
    return 0;
}

void
dkim_privkey_clear(struct dkim_privkey *k)
{
    EVP_PKEY_free(k->pkey);
    k->pkey = NULL;
}
