/* SPDX-License-Identifier: MIT */
/*
 * DKIM (RFC 6376, RFC 8463, RFC 8301): signature and key tag lists, the
 * canonicalizations, a streaming verifier that asks for keys through a
 * table of asynchronous DNS callbacks, and a streaming signer. Pure: no
 * I/O of its own (the key file loader and keygen aside); crypto is
 * OpenSSL 3's.
 */
#ifndef GATE26_MAILAUTH_DKIM_H
#define GATE26_MAILAUTH_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "lib/slice.h"

/* At most this many signatures of a message are verified; the rest are
 * reported DKIM_POLICY "too-many" without a look (docs/checks.md). */
#define DKIM_MAX_VERIFY 8
/* Caps of the parsers: tags in a list, entries of h=, fields of a header. */
#define DKIM_MAX_TAGS    32
#define DKIM_MAX_HFIELDS 64
#define DKIM_MAX_FIELDS  10000
/* Octets of a decoded b= (RSA-8192) and of a decoded key's p=. */
#define DKIM_MAX_SIG 1024
#define DKIM_MAX_KEY 2048
/* The smallest RSA key verified (RFC 8301 3.2) and the smallest we sign with. */
#define DKIM_RSA_MIN_VERIFY 1024
#define DKIM_RSA_MIN_SIGN   2048

enum dkim_status {
    DKIM_PASS,
    DKIM_FAIL,
    DKIM_NEUTRAL,
    DKIM_TEMPERROR,
    DKIM_PERMERROR,
    DKIM_POLICY,
};

/* "pass", "fail", ... as RFC 8601 names them. */
const char *dkim_status_name(enum dkim_status st);

enum dkim_alg {
    DKIM_ALG_RSA_SHA256,
    DKIM_ALG_ED25519_SHA256,
};

/* ---- tag lists (RFC 6376 3.2) ---- */

struct dkim_tag {
    struct slice name, value; /* point into the parsed text; value without surrounding FWS */
};

struct dkim_taglist {
    size_t n;
    struct dkim_tag t[DKIM_MAX_TAGS];
};

/*
 * tag-list = tag-spec *( ";" tag-spec ) [ ";" ]   RFC 6376 3.2. Strict: a
 * duplicate tag, a bad tag name or value, more than DKIM_MAX_TAGS tags is
 * an error. Returns 0, or -1 with *why a static word.
 */
int dkim_tags_parse(struct slice text, struct dkim_taglist *out, const char **why);

/* The tag named name (case-sensitive, 3.2), or NULL. */
const struct dkim_tag *dkim_tags_get(const struct dkim_taglist *l, const char *name);

/*
 * Base64 (RFC 2045 6.8) with FWS allowed anywhere (RFC 6376 3.5 b=, bh=,
 * 3.6.1 p=); strict otherwise (padding only at the end, length a multiple
 * of four). Returns the decoded length, or -1 (bad or over cap).
 */
long dkim_b64_decode(struct slice in, unsigned char *out, size_t cap);

/* A parsed DKIM-Signature (RFC 6376 3.5). */
struct dkim_sig {
    enum dkim_alg alg;
    bool hdr_relaxed, body_relaxed;
    char d[256], s[64], i[320]; /* i is "" when absent */
    char b8[9];                 /* the first 8 characters of b=, for the results */
    size_t nh;
    char h[DKIM_MAX_HFIELDS][80];
    unsigned char bh[64], b[DKIM_MAX_SIG];
    size_t bh_len, b_len;
    bool has_l, has_t, has_x;
    uint64_t l;
    int64_t t, x;
};

/*
 * Parses the value of a DKIM-Signature field (folding allowed). Returns 0,
 * or -1 with *why a reason word for a permerror: "duplicate-tag",
 * "missing-tag", "bad-version", "unknown-algorithm", "rsa-sha1",
 * "bad-base64", "no-from-in-h", "i-not-in-d", "bad-canonicalization", ...
 */
int dkim_sig_parse(struct slice value, struct dkim_sig *out, const char **why);

/* ---- keys (RFC 6376 3.6.1, RFC 8463 4) ---- */

struct dkim_key {
    EVP_PKEY *pkey; /* owned; NULL for a revoked key (empty p=) */
    bool ed25519;
    int bits;
    bool testing;   /* t=y */
    bool strict_i;  /* t=s: i= must be d= itself */
    bool sha256_ok; /* h= absent or listing sha256 */
    bool email_ok;  /* s= absent, "*" or listing email */
};

/*
 * Parses a key record (the TXT strings joined). Returns 0, or -1 with *why:
 * "bad-version", "unknown-key-type", "bad-base64", "bad-key",
 * "key-too-small" (RSA under DKIM_RSA_MIN_VERIFY bits), "revoked",
 * "duplicate-tag", ... On 0, dkim_key_clear() frees it.
 */
int dkim_key_parse(struct slice txt, struct dkim_key *out, const char **why);
void dkim_key_clear(struct dkim_key *k);

/* ---- canonicalization (RFC 6376 3.4) ---- */

/* The body canonicalizer: fed in chunks of any size, hashes with SHA-256
 * the first limit octets of the canonical body (UINT64_MAX: all). */
struct dkim_body {
    EVP_MD_CTX *md;
    bool relaxed;
    uint64_t limit, hashed, total;
    size_t crlfs;      /* empty lines held back (they count only if more follows) */
    bool wsp;          /* relaxed: WSP held back */
    bool cr;           /* a CR was the last octet fed */
    bool line_content; /* the current line has content (simple: any octet) */
    size_t blen;
    unsigned char buf[4096];
};

void dkim_body_init(struct dkim_body *b, bool relaxed, uint64_t limit);
void dkim_body_feed(struct dkim_body *b, const char *p, size_t len);
/* Ends it: the hash into out (32 octets) and the canonical length in *total. */
void dkim_body_final(struct dkim_body *b, unsigned char out[32], uint64_t *total);
void dkim_body_clear(struct dkim_body *b);

/*
 * Appends the canonical form of a header field (raw: name ":" value with
 * folding, no final CRLF) to out (cap octets), with a CRLF when crlf.
 * Returns the length written, or -1 when it does not fit.
 */
long dkim_canon_header(bool relaxed, struct slice raw, bool crlf, char *out, size_t cap);

/* ---- DNS (asynchronous, through the caller's resolver) ---- */

enum dkim_dns_status {
    DKIM_DNS_OK,       /* txt holds the record's strings joined */
    DKIM_DNS_NOTFOUND, /* NXDOMAIN or no TXT record */
    DKIM_DNS_TEMPFAIL, /* timeout, SERVFAIL */
};

typedef void dkim_dns_answer_fn(void *cbarg, enum dkim_dns_status st, const char *txt, size_t len);

/*
 * The resolver: lookup() starts a TXT query of name and calls cb(cbarg, ...)
 * once, later or at once. It must always answer (a timeout is a tempfail):
 * the verifier's pending queries own a small object that the answer frees.
 */
struct dkim_dns {
    void (*lookup)(void *arg, const char *name, dkim_dns_answer_fn *cb, void *cbarg);
    void *arg;
};

/* ---- the verifier ---- */

struct dkim_result {
    enum dkim_status status;
    const char *reason; /* a static word: "ok", "body-hash", "signature", "too-many", ... */
    char d[256], s[64], b8[9];
    bool testing; /* the key had t=y */
};

struct dkim_verify;

typedef void dkim_verify_done_fn(void *arg, struct dkim_verify *v);

/* A verifier for one message; now is the time x= is compared with. Never NULL. */
struct dkim_verify *dkim_verify_new(const struct dkim_dns *dns, time_t now);
/* Frees it; answers still pending later find it gone. NULL does nothing. */
void dkim_verify_free(struct dkim_verify *v);

/*
 * The header section (every field, without the empty line), copied. Once,
 * before the body. Returns 0, or -1 when it is not a header section (every
 * signature is then permerror "header-syntax").
 */
int dkim_verify_header(struct dkim_verify *v, const char *p, size_t len);
/* A chunk of the body, as it arrives (CRLF line ends, no dot-stuffing). */
void dkim_verify_body(struct dkim_verify *v, const char *p, size_t len);
/*
 * The end of the message: key lookups start; done(arg, v) is called once
 * when every result is known (perhaps before this returns).
 */
void dkim_verify_finish(struct dkim_verify *v, dkim_verify_done_fn *done, void *arg);
/* The results, one per DKIM-Signature top to bottom; valid after done. */
const struct dkim_result *dkim_verify_results(const struct dkim_verify *v, size_t *n);

/* ---- the signer ---- */

struct dkim_privkey {
    EVP_PKEY *pkey; /* owned */
    enum dkim_alg alg;
    int bits;
};

/*
 * Loads a PEM private key file for signing. Returns 0, or -1 with err set
 * to a sentence naming the file: missing, unreadable, not a private key,
 * neither RSA nor Ed25519, RSA under DKIM_RSA_MIN_SIGN bits.
 */
int dkim_privkey_load(const char *path, struct dkim_privkey *out, char *err, size_t errcap);
void dkim_privkey_clear(struct dkim_privkey *k);

struct dkim_sign;

/* A signer for one message with key (borrowed, kept until dkim_sign_free) for
 * d=domain s=selector, t=now. NULL when domain or selector is not a name. */
struct dkim_sign *dkim_sign_new(const struct dkim_privkey *key, const char *domain,
                                const char *selector, time_t now);
void dkim_sign_free(struct dkim_sign *s);
/* The header section (as for the verifier), copied. -1: not a header section. */
int dkim_sign_header(struct dkim_sign *s, const char *p, size_t len);
void dkim_sign_body(struct dkim_sign *s, const char *p, size_t len);
/*
 * The DKIM-Signature field, folded at 78 columns, ending in CRLF, in a
 * string the caller frees. NULL with *why: "no-from" (the header section
 * has no From), "header-syntax", "crypto".
 */
char *dkim_sign_finish(struct dkim_sign *s, const char **why);

/* The header fields signed, lower case, in h= order (From is listed once
 * more than present: oversigned). NULL-terminated. */
extern const char *const dkim_sign_fields[];

/* ---- keys for DNS ---- */

/*
 * Generates a key (RSA of bits, or Ed25519) into *out. Returns 0 or -1.
 */
int dkim_keygen(bool ed25519, int bits, EVP_PKEY **out);
/* The DNS TXT record text of pkey ("v=DKIM1; k=rsa; p=..."), malloc'd. */
char *dkim_key_record(EVP_PKEY *pkey);

/* gate26 dkim ...: the subcommand. */
int dkim_main(int argc, char **argv);

#endif
