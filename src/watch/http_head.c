/* SPDX-License-Identifier: MIT */
/*
 * The Accept and Authorization fields of a scrape (http_head.h). Each value
 * is bounded by evhttp's cap on the header section; the scans below walk it
 * once, and nothing here allocates.
 */
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/auth.h"
#include "watch/http_head.h"

/* OWS = *( SP / HTAB )   RFC 9110 5.6.3 */
static const char *
skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* [p, end) without the OWS around it. */
static void
trim(const char **p, const char **end)
{
    *p = skip_ows(*p, *end);
    while (*end > *p && ((*end)[-1] == ' ' || (*end)[-1] == '\t'))
        (*end)--;
}

static bool
span_is(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);

    return (size_t)(end - p) == n && strncasecmp(p, word, n) == 0;
}

/*
 * qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )   RFC 9110 12.4.2;
 * in thousandths, or -1 when malformed.
 */
static int
parse_q(const char *p, const char *end)
{
    int v, scale = 100;

    if (p == end || (*p != '0' && *p != '1'))
        return -1;
    v = (*p - '0') * 1000;
    p++;
    if (p == end)
        return v;
    if (*p != '.' || end - p > 4)
        return -1;
    for (p++; p < end; p++, scale /= 10) {
        if (*p < '0' || *p > '9')
            return -1;
        v += (*p - '0') * scale;
    }
    return v > 1000 ? -1 : v;
}

/* The end of the element at p: the next ',' outside a quoted string, or end. */
static const char *
element_end(const char *p, const char *end)
{
    bool quoted = false;

    for (; p < end; p++) {
        if (quoted && *p == '\\' && p + 1 < end)
            p++;
        else if (*p == '"')
            quoted = !quoted;
        else if (*p == ',' && !quoted)
            return p;
    }
    return end;
}

/* The end of the parameter at p: the next ';' outside a quoted string, or end. */
static const char *
param_end(const char *p, const char *end)
{
    bool quoted = false;

    for (; p < end; p++) {
        if (quoted && *p == '\\' && p + 1 < end)
            p++;
        else if (*p == '"')
            quoted = !quoted;
        else if (*p == ';' && !quoted)
            return p;
    }
    return end;
}

enum kind { KIND_OTHER, KIND_OPENMETRICS, KIND_TEXT };

/*
 * One element: media-range *( OWS ";" OWS parameter ), its weight in
 * thousandths (1000 without q) and whether it names OpenMetrics 1.0 or the
 * text format 0.0.4.
 */
static enum kind
accept_element(const char *p, const char *end, int *weight)
{
    const char *type_end = param_end(p, end), *t = p, *te = type_end;
    bool version_ok = true, has_version = false;
    enum kind k = KIND_OTHER;

    *weight = 1000;
    trim(&t, &te);
    if (span_is(t, te, "application/openmetrics-text"))
        k = KIND_OPENMETRICS;
    else if (span_is(t, te, "text/plain") || span_is(t, te, "text/*") || span_is(t, te, "*/*"))
        k = KIND_TEXT;
    for (p = type_end; p < end;) {
        const char *pe, *eq, *name, *ne, *val, *ve;

        p++; /* the ';' */
        pe = param_end(p, end);
        name = p;
        eq = memchr(p, '=', (size_t)(pe - p));
        ne = eq != NULL ? eq : pe;
        val = eq != NULL ? eq + 1 : pe;
        ve = pe;
        trim(&name, &ne);
        trim(&val, &ve);
        if (ve - val >= 2 && *val == '"' && ve[-1] == '"') {
            val++;
            ve--;
        }
        if (span_is(name, ne, "q")) {
            *weight = parse_q(val, ve);
            if (*weight < 0)
                return KIND_OTHER; /* malformed: the element counts for nothing */
        } else if (span_is(name, ne, "version")) {
            has_version = true;
            version_ok =
                k == KIND_OPENMETRICS ? span_is(val, ve, "1.0.0") : span_is(val, ve, "0.0.4");
        }
        p = pe;
    }
    if (has_version && !version_ok)
        return KIND_OTHER;
    return k;
}

enum metrics_format
http_head_format(const char *accept)
{
    const char *p, *end;
    int best_om = 0, best_text = 0;

    if (accept == NULL)
        return METRICS_FORMAT_TEXT;
    p = accept;
    end = accept + strlen(accept);
    while (p < end) {
        const char *e = element_end(p, end);
        int w;
        enum kind k = accept_element(p, e, &w);

        if (k == KIND_OPENMETRICS && w > best_om)
            best_om = w;
        else if (k == KIND_TEXT && w > best_text)
            best_text = w;
        p = e < end ? e + 1 : end;
    }
    return best_om > 0 && best_om >= best_text ? METRICS_FORMAT_OPENMETRICS : METRICS_FORMAT_TEXT;
}

/* token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="   RFC 7235 2.1 */
static bool
is_token68(const char *p, const char *end)
{
    const char *q = p;

    while (q < end &&
           ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
            *q == '-' || *q == '.' || *q == '_' || *q == '~' || *q == '+' || *q == '/'))
        q++;
    if (q == p)
        return false;
    while (q < end && *q == '=')
        q++;
    return q == end;
}

static int
sha256(const void *p, size_t len, unsigned char digest[CONF_METRICS_DIGEST_LEN])
{
    unsigned n = 0;

    if (EVP_Digest(p, len, digest, &n, EVP_sha256(), NULL) != 1 || n != CONF_METRICS_DIGEST_LEN)
        return -1;
    return 0;
}

int
http_head_credentials(const char *authorization, enum conf_metrics_auth kind,
                      unsigned char digest[CONF_METRICS_DIGEST_LEN])
{
    /* user ":" password of 255 octets each at most (metrics_auth.h), and some room over. */
    unsigned char plain[600];
    const char *p, *end, *sp;
    const char *scheme = kind == CONF_METRICS_AUTH_BEARER ? "Bearer" : "Basic";
    size_t n;
    int rc;

    if (authorization == NULL ||
        (kind != CONF_METRICS_AUTH_BEARER && kind != CONF_METRICS_AUTH_BASIC))
        return -1;
    p = authorization;
    end = p + strlen(p);
    trim(&p, &end);
    sp = memchr(p, ' ', (size_t)(end - p));
    if (sp == NULL || !span_is(p, sp, scheme))
        return -1;
    while (sp < end && *sp == ' ')
        sp++;
    if (!is_token68(sp, end))
        return -1;
    if (kind == CONF_METRICS_AUTH_BEARER)
        return sha256(sp, (size_t)(end - sp), digest);
    if (auth_b64_decode(sp, (size_t)(end - sp), plain, sizeof(plain), &n) == -1)
        return -1;
    rc = sha256(plain, n, digest);
    OPENSSL_cleanse(plain, sizeof(plain));
    return rc;
}
