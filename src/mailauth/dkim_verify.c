/* SPDX-License-Identifier: MIT */
/*
 * The DKIM verifier (RFC 6376 6, RFC 8463, RFC 8301): fed the header
 * section, then the body as it streams. At the header it parses each
 * DKIM-Signature, top to bottom, at most DKIM_MAX_VERIFY of them (the rest
 * are reported "policy" without a look, so 100 signatures cost 8 parses,
 * 8 body hashes and at most 8 key lookups), and starts a body hash per
 * signature. At the end it checks each body hash (a mismatch fails without
 * a lookup), asks for the keys through struct dkim_dns, and verifies the
 * header hash with each key as it arrives.
 */
#include "mailauth/dkim.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rsa.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mailauth/dkim_impl.h"

struct vsig {
    struct dkim_sig sig;
    struct dkim_body body;
    bool body_on;
    size_t field;  /* index of its DKIM-Signature in the header */
    size_t result; /* index of its result */
};

/* A key lookup in flight; the answer frees it (the verifier may be gone). */
struct pending {
    struct dkim_verify *v;
    size_t k;
};

struct dkim_verify {
    struct dkim_dns dns;
    time_t now;
    char *hdr;
    struct msghdr_section mh;
    bool header_done;
    struct dkim_result *res;
    size_t nres;
    struct vsig *vs[DKIM_MAX_VERIFY];
    struct pending *pend[DKIM_MAX_VERIFY];
    size_t nvs, waiting;
    bool launching, finished;
    dkim_verify_done_fn *done;
    void *done_arg;
};

struct dkim_verify *
dkim_verify_new(const struct dkim_dns *dns, time_t now)
{
    struct dkim_verify *v = xcalloc(1, sizeof *v);

    v->dns = *dns;
    v->now = now;
    return v;
}

void
dkim_verify_free(struct dkim_verify *v)
{
    if (v == NULL)
        return;
    for (size_t k = 0; k < v->nvs; k++) {
        if (v->pend[k] != NULL)
            v->pend[k]->v = NULL;
        if (v->vs[k]->body_on)
            dkim_body_clear(&v->vs[k]->body);
        free(v->vs[k]);
    }
    msghdr_clear(&v->mh);
    free(v->hdr);
    free(v->res);
    free(v);
}

static void
set(struct dkim_result *r, enum dkim_status st, const char *reason)
{
    r->status = st;
    r->reason = reason;
}

static void
fill_ids(struct dkim_result *r, const struct dkim_sig *s)
{
    (void)str_copyz(r->d, sizeof r->d, s->d);
    (void)str_copyz(r->s, sizeof r->s, s->s);
    (void)str_copyz(r->b8, sizeof r->b8, s->b8);
}

int
dkim_verify_header(struct dkim_verify *v, const char *p, size_t len)
{
    const char *why;
    size_t nsig = 0, from;
    int rc = 0;

    if (v->header_done)
        return -1;
    v->header_done = true;
    v->hdr = xmalloc(len + 1);
    if (len > 0)
        memcpy(v->hdr, p, len);
    if (msghdr_parse(&v->mh, slice_make(v->hdr, len), DKIM_MAX_FIELDS, &why) == -1) {
        /* still report the signatures found before the fault */
        rc = -1;
    }
    nsig = msghdr_count(&v->mh, "DKIM-Signature");
    v->res = xcalloc(nsig ? nsig : 1, sizeof *v->res);
    from = msghdr_count(&v->mh, "From");
    for (size_t f = 0; f < v->mh.n; f++) {
        const struct msghdr_field *fl = &v->mh.f[f];
        struct dkim_result *r;
        struct vsig *s;

        if (!msghdr_name_is(fl, "DKIM-Signature"))
            continue;
        r = &v->res[v->nres++];
        if (v->nvs == DKIM_MAX_VERIFY) {
            set(r, DKIM_POLICY, "too-many");
            continue;
        }
        s = xcalloc(1, sizeof *s);
        s->field = f;
        s->result = (size_t)(r - v->res);
        v->vs[v->nvs++] = s;
        if (rc == -1) {
            set(r, DKIM_PERMERROR, "header-syntax");
            continue;
        }
        if (dkim_sig_parse(fl->value, &s->sig, &why) == -1) {
            fill_ids(r, &s->sig);
            set(r, DKIM_PERMERROR, why);
            continue;
        }
        fill_ids(r, &s->sig);
        if (from != 1) {
            /* RFC 5322 3.6: exactly one From; none or two is a message we do not vouch for */
            set(r, DKIM_PERMERROR, from == 0 ? "no-from" : "multiple-from");
            continue;
        }
        if (s->sig.has_x && s->sig.x < (int64_t)v->now) {
            set(r, DKIM_PERMERROR, "expired"); /* 6.1.1 */
            continue;
        }
        set(r, DKIM_NEUTRAL, "pending");
        dkim_body_init(&s->body, s->sig.body_relaxed, s->sig.has_l ? s->sig.l : UINT64_MAX);
        s->body_on = true;
    }
    return rc;
}

void
dkim_verify_body(struct dkim_verify *v, const char *p, size_t len)
{
    for (size_t k = 0; k < v->nvs; k++) {
        if (v->vs[k]->body_on)
            dkim_body_feed(&v->vs[k]->body, p, len);
    }
}

/* The header hash verified with the key. 1 good, 0 bad, -1 an error. */
static int
check_signature(struct dkim_verify *v, struct vsig *s, const struct dkim_key *key)
{
    const char *names[DKIM_MAX_HFIELDS];
    const struct msghdr_field *fl = &v->mh.f[s->field];
    struct dkim_taglist l;
    const struct dkim_tag *b;
    const char *why, *eq, *vend;
    unsigned char digest[32];
    char *sigfield;
    size_t head, tail;
    int ok = -1;

    for (size_t i = 0; i < s->sig.nh; i++)
        names[i] = s->sig.h[i];
    /* 3.7: the signature field itself with b='s value (and the FWS around it) taken out */
    if (dkim_tags_parse(fl->value, &l, &why) == -1 || (b = dkim_tags_get(&l, "b")) == NULL)
        return -1;
    eq = memchr(b->name.p, '=', (size_t)(fl->raw.p + fl->raw.len - b->name.p));
    if (eq == NULL)
        return -1;
    vend = memchr(eq, ';', (size_t)(fl->raw.p + fl->raw.len - eq));
    if (vend == NULL)
        vend = fl->raw.p + fl->raw.len;
    head = (size_t)(eq + 1 - fl->raw.p);
    tail = (size_t)(fl->raw.p + fl->raw.len - vend);
    sigfield = xmalloc(head + tail + 1);
    memcpy(sigfield, fl->raw.p, head);
    memcpy(sigfield + head, vend, tail);
    if (dkim_hash_headers(&v->mh, s->sig.hdr_relaxed, names, s->sig.nh,
                          slice_make(sigfield, head + tail), digest) == 0) {
        if (key->ed25519) {
            /* RFC 8463 3: Ed25519 (pure) over the SHA-256 of the header hash input */
            EVP_MD_CTX *md = EVP_MD_CTX_new();

            if (md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, key->pkey) == 1)
                ok = EVP_DigestVerify(md, s->sig.b, s->sig.b_len, digest, sizeof digest) == 1;
            EVP_MD_CTX_free(md);
        } else {
            EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(key->pkey, NULL);

            if (pc != NULL && EVP_PKEY_verify_init(pc) == 1 &&
                EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
                EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1)
                ok = EVP_PKEY_verify(pc, s->sig.b, s->sig.b_len, digest, sizeof digest) == 1;
            EVP_PKEY_CTX_free(pc);
        }
    }
    free(sigfield);
    return ok;
}

static bool
domain_equal(const char *i, const char *d)
{
    const char *at = strrchr(i, '@');

    return at != NULL && strcasecmp(at + 1, d) == 0;
}

static void
judge(struct dkim_verify *v, struct vsig *s, enum dkim_dns_status st, const char *txt, size_t len)
{
    struct dkim_result *r = &v->res[s->result];
    struct dkim_key key;
    const char *why;
    int ok;

    if (st == DKIM_DNS_TEMPFAIL) {
        set(r, DKIM_TEMPERROR, "dns");
        return;
    }
    if (st != DKIM_DNS_OK) {
        set(r, DKIM_PERMERROR, "no-key");
        return;
    }
    if (dkim_key_parse(slice_make(txt, len), &key, &why) == -1) {
        set(r, DKIM_PERMERROR, why);
        return;
    }
    r->testing = key.testing;
    if (key.ed25519 != (s->sig.alg == DKIM_ALG_ED25519_SHA256))
        set(r, DKIM_PERMERROR, "key-type-mismatch");
    else if (!key.sha256_ok)
        set(r, DKIM_PERMERROR, "hash-not-allowed");
    else if (!key.email_ok)
        set(r, DKIM_PERMERROR, "key-service");
    else if (key.strict_i && s->sig.i[0] != '\0' && !domain_equal(s->sig.i, s->sig.d))
        set(r, DKIM_PERMERROR, "i-not-d"); /* t=s, 3.6.1 */
    else if ((ok = check_signature(v, s, &key)) == 1)
        set(r, DKIM_PASS, "ok");
    else if (ok == 0)
        set(r, DKIM_FAIL, "signature");
    else
        set(r, DKIM_PERMERROR, "header-syntax");
    dkim_key_clear(&key);
}

static void
answered(void *cbarg, enum dkim_dns_status st, const char *txt, size_t len)
{
    struct pending *p = cbarg;
    struct dkim_verify *v = p->v;

    if (v == NULL) {
        free(p); /* the verifier was freed while this was in flight */
        return;
    }
    judge(v, v->vs[p->k], st, txt, len);
    v->pend[p->k] = NULL;
    free(p);
    if (--v->waiting == 0 && !v->launching && v->done != NULL) {
        dkim_verify_done_fn *done = v->done;

        v->done = NULL;
        done(v->done_arg, v);
    }
}

void
dkim_verify_finish(struct dkim_verify *v, dkim_verify_done_fn *done, void *arg)
{
    bool lookup[DKIM_MAX_VERIFY] = {false};

    if (v->finished)
        log_panic("dkim_verify_finish: called twice");
    v->finished = true;
    v->done = done;
    v->done_arg = arg;
    for (size_t k = 0; k < v->nvs; k++) {
        struct vsig *s = v->vs[k];
        struct dkim_result *r = &v->res[s->result];
        unsigned char bh[32];
        uint64_t total;

        if (!s->body_on)
            continue;
        dkim_body_final(&s->body, bh, &total);
        dkim_body_clear(&s->body);
        s->body_on = false;
        if (s->sig.has_l && s->sig.l > total)
            set(r, DKIM_PERMERROR, "body-length"); /* l= beyond the body */
        else if (CRYPTO_memcmp(bh, s->sig.bh, sizeof bh) != 0)
            set(r, DKIM_FAIL, "body-hash");
        else {
            lookup[k] = true;
            v->waiting++;
        }
    }
    v->launching = true;
    for (size_t k = 0; k < v->nvs; k++) {
        char name[DKIM_MAX_SIG];
        struct pending *p;

        if (!lookup[k])
            continue;
        if (str_fmt(name, sizeof name, "%s._domainkey.%s", v->vs[k]->sig.s, v->vs[k]->sig.d) ==
            -1) {
            set(&v->res[v->vs[k]->result], DKIM_PERMERROR, "bad-d");
            v->waiting--;
            continue;
        }
        p = xmalloc(sizeof *p);
        p->v = v;
        p->k = k;
        v->pend[k] = p;
        v->dns.lookup(v->dns.arg, name, answered, p);
    }
    v->launching = false;
    if (v->waiting == 0 && v->done != NULL) {
        v->done = NULL;
        done(arg, v);
    }
}

const struct dkim_result *
dkim_verify_results(const struct dkim_verify *v, size_t *n)
{
    *n = v->nres;
    return v->res;
}
