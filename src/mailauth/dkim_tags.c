/* SPDX-License-Identifier: MIT */
/*
 * DKIM tag=value lists (RFC 6376 3.2), base64 with folding whitespace
 * (3.5), and the DKIM-Signature field's tags (3.5) checked as 6.1.1 asks:
 * every required tag present, a known version and algorithm, i= within d=,
 * h= naming From. Strict: a duplicate tag or a bad value makes the whole
 * signature a permerror, never a guess.
 */
#include "mailauth/dkim.h"

#include <string.h>
#include <strings.h>

#include "lib/str.h"

static bool
is_fws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct slice
trim(struct slice s)
{
    while (s.len > 0 && is_fws(s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && is_fws(s.p[s.len - 1]))
        s.len--;
    return s;
}

static bool
is_alpha_c(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit_c(char c)
{
    return c >= '0' && c <= '9';
}

/* tag-name = ALPHA *ALNUMPUNC   RFC 6376 3.2 */
static bool
tag_name_ok(struct slice n)
{
    if (n.len == 0 || !is_alpha_c(n.p[0]))
        return false;
    for (size_t i = 1; i < n.len; i++) {
        if (!is_alpha_c(n.p[i]) && !is_digit_c(n.p[i]) && n.p[i] != '_')
            return false;
    }
    return true;
}

/* tag-value = [ tval *( 1*(WSP / FWS) tval ) ]; VALCHAR = %x21-3A / %x3C-7E   RFC 6376 3.2 */
static bool
tag_value_ok(struct slice v)
{
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.p[i];

        if (c == '\r') {
            /* FWS: a CRLF only when WSP follows */
            if (i + 2 >= v.len || v.p[i + 1] != '\n' || (v.p[i + 2] != ' ' && v.p[i + 2] != '\t'))
                return false;
            i++;
            continue;
        }
        if (c == ' ' || c == '\t')
            continue;
        if (c < 0x21 || c > 0x7e || c == ';')
            return false;
    }
    return true;
}

int
dkim_tags_parse(struct slice text, struct dkim_taglist *out, const char **why)
{
    const char *p = text.p, *end = text.p + text.len;

    out->n = 0;
    while (p <= end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *se = semi ? semi : end;
        struct slice spec = trim(slice_make(p, (size_t)(se - p)));
        const char *eq;
        struct dkim_tag t;

        if (spec.len == 0) {
            /* only the empty spec after a final ";" (or an empty list) */
            if (semi != NULL) {
                *why = "empty-tag";
                return -1;
            }
            break;
        }
        eq = memchr(spec.p, '=', spec.len);
        if (eq == NULL) {
            *why = "no-equals";
            return -1;
        }
        t.name = trim(slice_make(spec.p, (size_t)(eq - spec.p)));
        t.value = trim(slice_make(eq + 1, (size_t)(spec.p + spec.len - eq - 1)));
        if (!tag_name_ok(t.name)) {
            *why = "bad-tag-name";
            return -1;
        }
        if (!tag_value_ok(t.value)) {
            *why = "bad-tag-value";
            return -1;
        }
        for (size_t i = 0; i < out->n; i++) {
            if (out->t[i].name.len == t.name.len &&
                memcmp(out->t[i].name.p, t.name.p, t.name.len) == 0) {
                *why = "duplicate-tag";
                return -1;
            }
        }
        if (out->n == DKIM_MAX_TAGS) {
            *why = "too-many-tags";
            return -1;
        }
        out->t[out->n++] = t;
        if (semi == NULL)
            break;
        p = semi + 1;
    }
    return 0;
}

const struct dkim_tag *
dkim_tags_get(const struct dkim_taglist *l, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < l->n; i++) {
        if (l->t[i].name.len == len && memcmp(l->t[i].name.p, name, len) == 0)
            return &l->t[i];
    }
    return NULL;
}

static int
b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long
dkim_b64_decode(struct slice in, unsigned char *out, size_t cap)
{
    uint32_t acc = 0;
    size_t nchars = 0, o = 0, pad = 0;

    for (size_t i = 0; i < in.len; i++) {
        char c = in.p[i];
        int v;

        if (is_fws(c))
            continue;
        if (c == '=') {
            pad++;
            nchars++;
            if (pad > 2)
                return -1;
            continue;
        }
        if (pad > 0 || (v = b64_val(c)) < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        nchars++;
        if (nchars % 4 == 0) {
            if (o + 3 > cap)
                return -1;
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
            acc = 0;
        }
    }
    if (nchars % 4 != 0)
        return -1;
    if (pad > 0) {
        /* the last quantum: "xx==" gives 1 octet, "xxx=" gives 2; unused bits must be 0 */
        size_t q = 4 - pad;

        acc <<= 6 * pad;
        if (o + q - 1 > cap)
            return -1;
        out[o++] = (unsigned char)(acc >> 16);
        if (q == 3)
            out[o++] = (unsigned char)(acc >> 8);
        if ((q == 2 && (acc & 0xffff) != 0) || (q == 3 && (acc & 0xff) != 0))
            return -1;
    }
    return (long)o;
}

/* A value's octets into a NUL-terminated buffer, FWS removed. -1 on overflow. */
static int
copy_nofws(struct slice v, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < v.len; i++) {
        if (is_fws(v.p[i]))
            continue;
        if (o + 1 >= cap)
            return -1;
        out[o++] = v.p[i];
    }
    out[o] = '\0';
    return 0;
}

/* domain-name = sub-domain 1*("." sub-domain)   RFC 6376 3.5 (a selector may be one label) */
static bool
name_ok(const char *s, bool one_label_ok)
{
    size_t label = 0, labels = 0, len = strlen(s);

    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i <= len; i++) {
        char c = s[i];

        if (c == '.' || c == '\0') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            labels++;
            label = 0;
            continue;
        }
        if (!is_alpha_c(c) && !is_digit_c(c) && c != '-' && c != '_')
            return false;
        if (label == 0 && c == '-')
            return false;
        if (++label > 63)
            return false;
    }
    return one_label_ok || labels >= 2;
}

/* A decimal with at most maxdig digits. */
static int
parse_uint(struct slice v, unsigned maxdig, uint64_t *out)
{
    uint64_t n = 0;

    v = trim(v);
    if (v.len == 0 || v.len > maxdig)
        return -1;
    for (size_t i = 0; i < v.len; i++) {
        if (!is_digit_c(v.p[i]) || n > (UINT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (uint64_t)(v.p[i] - '0');
    }
    *out = n;
    return 0;
}

static bool
ends_with_domain(const char *dom, const char *d)
{
    size_t a = strlen(dom), b = strlen(d);

    if (a == b)
        return strcasecmp(dom, d) == 0;
    return a > b && dom[a - b - 1] == '.' && strcasecmp(dom + a - b, d) == 0;
}

static int
sig_canon(struct slice v, struct dkim_sig *out)
{
    char c[32], *slash;

    if (copy_nofws(v, c, sizeof c) == -1)
        return -1;
    slash = strchr(c, '/');
    if (slash != NULL)
        *slash = '\0';
    if (strcmp(c, "relaxed") == 0)
        out->hdr_relaxed = true;
    else if (strcmp(c, "simple") != 0)
        return -1;
    if (slash == NULL)
        return 0;
    if (strcmp(slash + 1, "relaxed") == 0)
        out->body_relaxed = true;
    else if (strcmp(slash + 1, "simple") != 0)
        return -1;
    return 0;
}

/* h= : hdr-name *( *FWS ":" *FWS hdr-name )   RFC 6376 3.5 */
static int
sig_h(struct slice v, struct dkim_sig *out, const char **why)
{
    const char *p = v.p, *end = v.p + v.len;
    bool from = false;

    out->nh = 0;
    while (p <= end) {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        struct slice n = trim(slice_make(p, (size_t)((colon ? colon : end) - p)));

        if (n.len == 0 || n.len >= sizeof out->h[0]) {
            *why = "bad-h";
            return -1;
        }
        if (out->nh == DKIM_MAX_HFIELDS) {
            *why = "too-many-h";
            return -1;
        }
        for (size_t i = 0; i < n.len; i++) {
            unsigned char ch = (unsigned char)n.p[i];

            if (ch < 33 || ch > 126) {
                *why = "bad-h";
                return -1;
            }
        }
        (void)str_copy(out->h[out->nh], sizeof out->h[0], n.p, n.len);
        str_lower(out->h[out->nh], n.len);
        if (strcmp(out->h[out->nh], "from") == 0)
            from = true;
        out->nh++;
        if (colon == NULL)
            break;
        p = colon + 1;
    }
    if (!from) {
        *why = "no-from-in-h";
        return -1;
    }
    return 0;
}

/* q= : a colon-separated list that must hold "dns/txt" (3.5), the only method there is. */
static bool
q_has_dns_txt(struct slice v)
{
    const char *p = v.p, *end = v.p + v.len;

    while (p <= end) {
        const char *c = memchr(p, ':', (size_t)(end - p));
        struct slice item = trim(slice_make(p, (size_t)((c ? c : end) - p)));

        if (item.len == 7 && memcmp(item.p, "dns/txt", 7) == 0)
            return true;
        if (c == NULL)
            break;
        p = c + 1;
    }
    return false;
}

int
dkim_sig_parse(struct slice value, struct dkim_sig *out, const char **why)
{
    struct dkim_taglist l;
    const struct dkim_tag *t;
    static const char *const required[] = {"v", "a", "b", "bh", "d", "h", "s"};
    char buf[64];
    long n;
    uint64_t u;

    memset(out, 0, sizeof *out);
    if (dkim_tags_parse(value, &l, why) == -1)
        return -1;
    for (size_t k = 0; k < sizeof required / sizeof required[0]; k++) {
        if (dkim_tags_get(&l, required[k]) == NULL) {
            *why = "missing-tag";
            return -1;
        }
    }
    /* d= and s= first, so that a signature refused for another tag is still named by them
     * in Authentication-Results (header.d, header.s); checked again below. */
    if (copy_nofws(dkim_tags_get(&l, "d")->value, out->d, sizeof out->d) == -1 ||
        !name_ok(out->d, false))
        out->d[0] = '\0';
    else
        str_lower(out->d, strlen(out->d));
    if (copy_nofws(dkim_tags_get(&l, "s")->value, out->s, sizeof out->s) == -1 ||
        !name_ok(out->s, true))
        out->s[0] = '\0';
    t = dkim_tags_get(&l, "v");
    if (!(t->value.len == 1 && t->value.p[0] == '1')) {
        *why = "bad-version";
        return -1;
    }
    t = dkim_tags_get(&l, "a");
    if (copy_nofws(t->value, buf, sizeof buf) == -1) {
        *why = "unknown-algorithm";
        return -1;
    }
    if (strcmp(buf, "rsa-sha256") == 0) {
        out->alg = DKIM_ALG_RSA_SHA256;
    } else if (strcmp(buf, "ed25519-sha256") == 0) {
        out->alg = DKIM_ALG_ED25519_SHA256;
    } else if (strcmp(buf, "rsa-sha1") == 0) {
        *why = "rsa-sha1"; /* RFC 8301 3.1: must not be considered valid */
        return -1;
    } else {
        *why = "unknown-algorithm";
        return -1;
    }
    t = dkim_tags_get(&l, "b");
    n = dkim_b64_decode(t->value, out->b, sizeof out->b);
    if (n <= 0) {
        *why = "bad-base64";
        return -1;
    }
    out->b_len = (size_t)n;
    {
        size_t o = 0;

        for (size_t i = 0; i < t->value.len && o < 8; i++) {
            if (!is_fws(t->value.p[i]))
                out->b8[o++] = t->value.p[i];
        }
        out->b8[o] = '\0';
    }
    t = dkim_tags_get(&l, "bh");
    n = dkim_b64_decode(t->value, out->bh, sizeof out->bh);
    if (n <= 0) {
        *why = "bad-base64";
        return -1;
    }
    out->bh_len = (size_t)n;
    if (out->bh_len != 32) {
        *why = "bad-bh-length";
        return -1;
    }
    t = dkim_tags_get(&l, "c");
    if (t != NULL && sig_canon(t->value, out) == -1) {
        *why = "bad-canonicalization";
        return -1;
    }
    t = dkim_tags_get(&l, "d");
    if (copy_nofws(t->value, out->d, sizeof out->d) == -1 || !name_ok(out->d, false)) {
        *why = "bad-d";
        return -1;
    }
    str_lower(out->d, strlen(out->d));
    t = dkim_tags_get(&l, "s");
    if (copy_nofws(t->value, out->s, sizeof out->s) == -1 || !name_ok(out->s, true)) {
        *why = "bad-s";
        return -1;
    }
    t = dkim_tags_get(&l, "h");
    if (sig_h(t->value, out, why) == -1)
        return -1;
    t = dkim_tags_get(&l, "i");
    if (t != NULL) {
        const char *at;

        if (copy_nofws(t->value, out->i, sizeof out->i) == -1 ||
            (at = strrchr(out->i, '@')) == NULL || !name_ok(at + 1, false)) {
            *why = "bad-i";
            return -1;
        }
        if (!ends_with_domain(at + 1, out->d)) {
            *why = "i-not-in-d";
            return -1;
        }
    }
    t = dkim_tags_get(&l, "l");
    if (t != NULL) {
        if (parse_uint(t->value, 19, &out->l) == -1) {
            *why = "bad-l";
            return -1;
        }
        out->has_l = true;
    }
    t = dkim_tags_get(&l, "q");
    if (t != NULL) {
        if (!q_has_dns_txt(t->value)) {
            *why = "unknown-query";
            return -1;
        }
    }
    t = dkim_tags_get(&l, "t");
    if (t != NULL) {
        if (parse_uint(t->value, 12, &u) == -1) {
            *why = "bad-t";
            return -1;
        }
        out->t = (int64_t)u;
        out->has_t = true;
    }
    t = dkim_tags_get(&l, "x");
    if (t != NULL) {
        if (parse_uint(t->value, 12, &u) == -1) {
            *why = "bad-x";
            return -1;
        }
        out->x = (int64_t)u;
        out->has_x = true;
        if (out->has_t && out->x < out->t) {
            *why = "x-before-t";
            return -1;
        }
    }
    return 0;
}

const char *
dkim_status_name(enum dkim_status st)
{
    switch (st) {
    case DKIM_PASS:
        return "pass";
    case DKIM_FAIL:
        return "fail";
    case DKIM_NEUTRAL:
        return "neutral";
    case DKIM_TEMPERROR:
        return "temperror";
    case DKIM_PERMERROR:
        return "permerror";
    case DKIM_POLICY:
        return "policy";
    }
    return "permerror";
}
