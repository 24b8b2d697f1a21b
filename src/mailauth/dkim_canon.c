/* SPDX-License-Identifier: MIT */
/*
 * DKIM canonicalization (RFC 6376 3.4): simple and relaxed, for header
 * fields (3.4.1, 3.4.2) and for the body (3.4.3, 3.4.4) as it streams in.
 * The body canonicalizer holds back what it cannot decide yet: empty lines
 * (they are dropped at the end of the body, but count if content follows)
 * and, for relaxed, a run of WSP (dropped at the end of a line, else one
 * SP). The canonical octets go through a small buffer into SHA-256, cut at
 * l= (3.5) while the full canonical length is still counted.
 */
#include "mailauth/dkim.h"
#include "mailauth/dkim_impl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void
flush(struct dkim_body *b)
{
    if (b->blen > 0) {
        (void)EVP_DigestUpdate(b->md, b->buf, b->blen);
        b->blen = 0;
    }
}

static void
emit(struct dkim_body *b, const char *p, size_t n)
{
    size_t take = b->limit - b->hashed < n ? (size_t)(b->limit - b->hashed) : n;

    b->total += n;
    b->hashed += take;
    while (take > 0) {
        size_t room = sizeof b->buf - b->blen, k = take < room ? take : room;

        memcpy(b->buf + b->blen, p, k);
        b->blen += k;
        p += k;
        take -= k;
        if (b->blen == sizeof b->buf)
            flush(b);
    }
}

void
dkim_body_init(struct dkim_body *b, bool relaxed, uint64_t limit)
{
    memset(b, 0, sizeof *b);
    b->md = EVP_MD_CTX_new();
    if (b->md == NULL || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1)
        abort();
    b->relaxed = relaxed;
    b->limit = limit;
}

/* Content on a line: the empty lines held back are real, and so is held WSP. */
static void
content(struct dkim_body *b, char c)
{
    while (b->crlfs > 0) {
        emit(b, "\r\n", 2);
        b->crlfs--;
    }
    if (b->wsp) {
        emit(b, " ", 1);
        b->wsp = false;
    }
    emit(b, &c, 1);
    b->line_content = true;
}

static void
line_end(struct dkim_body *b)
{
    /* A line that had content ends here; its CRLF waits like an empty line's. */
    b->wsp = false; /* relaxed: WSP at the end of a line is dropped (3.4.4) */
    b->crlfs++;
    b->line_content = false;
}

/* The length of the run at p that is content octet by octet: no CR, and for relaxed no WSP. */
static size_t
plain_run(const struct dkim_body *b, const char *p, size_t len)
{
    size_t i = 0;

    while (i < len && p[i] != '\r' && !(b->relaxed && (p[i] == ' ' || p[i] == '\t')))
        i++;
    return i;
}

void
dkim_body_feed(struct dkim_body *b, const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        size_t run;

        if (b->cr) {
            b->cr = false;
            if (c == '\n') {
                line_end(b);
                continue;
            }
            content(b, '\r');
        }
        if (c == '\r') {
            b->cr = true;
            continue;
        }
        if (b->relaxed && (c == ' ' || c == '\t')) {
            b->wsp = true;
            continue;
        }
        /* the common case: a run of ordinary octets goes out at once */
        content(b, c);
        run = plain_run(b, p + i + 1, len - i - 1);
        if (run > 0) {
            emit(b, p + i + 1, run);
            i += run;
        }
    }
}

void
dkim_body_final(struct dkim_body *b, unsigned char out[32], uint64_t *total)
{
    unsigned int n = 0;

    if (b->cr) {
        b->cr = false;
        content(b, '\r');
    }
    if (b->line_content) {
        /* no CRLF at the end of the body: one is added (3.4.3, 3.4.4) */
        emit(b, "\r\n", 2);
    } else if (b->crlfs > 0 && b->total > 0) {
        /* the last line with content keeps its CRLF; empty lines after it go */
        emit(b, "\r\n", 2);
    } else if (!b->relaxed) {
        /* simple: an empty body is one CRLF (3.4.3); relaxed: nothing (errata 3133) */
        emit(b, "\r\n", 2);
    }
    b->crlfs = 0;
    flush(b);
    (void)EVP_DigestFinal_ex(b->md, out, &n);
    *total = b->total;
}

void
dkim_body_clear(struct dkim_body *b)
{
    EVP_MD_CTX_free(b->md);
    b->md = NULL;
}

static bool
is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

long
dkim_canon_header(bool relaxed, struct slice raw, bool crlf, char *out, size_t cap)
{
    size_t o = 0, i = 0;

#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (o >= cap)                                                                              \
            return -1;                                                                             \
        out[o++] = (ch);                                                                           \
    } while (0)

    if (!relaxed) {
        /* simple: the field exactly as it is (3.4.1) */
        for (i = 0; i < raw.len; i++)
            PUT(raw.p[i]);
    } else {
        /* relaxed (3.4.2): the name in lower case without WSP before the colon, the value
         * unfolded, WSP runs as one SP, none at either end */
        const char *colon = memchr(raw.p, ':', raw.len);
        size_t ne, vs;
        bool wsp = false;

        if (colon == NULL)
            return -1;
        ne = (size_t)(colon - raw.p);
        while (ne > 0 && is_wsp(raw.p[ne - 1]))
            ne--;
        for (i = 0; i < ne; i++) {
            char c = raw.p[i];

            PUT(c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
        }
        PUT(':');
        vs = (size_t)(colon - raw.p) + 1;
        /* skip leading WSP and folding */
        while (vs < raw.len && (is_wsp(raw.p[vs]) || raw.p[vs] == '\r' || raw.p[vs] == '\n'))
            vs++;
        for (i = vs; i < raw.len; i++) {
            char c = raw.p[i];

            if (c == '\r' || c == '\n')
                continue;
            if (is_wsp(c)) {
                wsp = true;
                continue;
            }
            if (wsp)
                PUT(' ');
            wsp = false;
            PUT(c);
        }
    }
    if (crlf) {
        PUT('\r');
        PUT('\n');
    }
#undef PUT
    return (long)o;
}

static int
hash_field(EVP_MD_CTX *md, bool relaxed, struct slice raw, bool crlf)
{
    size_t cap = raw.len + 3;
    char *buf = malloc(cap);
    long n;

    if (buf == NULL)
        return -1;
    n = dkim_canon_header(relaxed, raw, crlf, buf, cap);
    if (n >= 0)
        (void)EVP_DigestUpdate(md, buf, (size_t)n);
    free(buf);
    return n < 0 ? -1 : 0;
}

int
dkim_hash_headers(const struct msghdr_section *h, bool relaxed, const char *const *names, size_t n,
                  struct slice sigfield, unsigned char out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int len = 0;
    int rc = 0;

    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return -1;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t k = 0;

        /* RFC 6376 5.4.2: the earlier listings of this name took fields from the bottom */
        for (size_t j = 0; j < i; j++)
            k += strcasecmp(names[j], names[i]) == 0;
        for (size_t f = h->n; f-- > 0;) {
            if (!msghdr_name_is(&h->f[f], names[i]))
                continue;
            if (k-- == 0) {
                rc = hash_field(md, relaxed, h->f[f].raw, true);
                break;
            }
        }
    }
    if (rc == 0)
        rc = hash_field(md, relaxed, sigfield, false);
    if (rc == 0 && EVP_DigestFinal_ex(md, out, &len) != 1)
        rc = -1;
    EVP_MD_CTX_free(md);
    return rc;
}
