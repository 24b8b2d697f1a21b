/* SPDX-License-Identifier: MIT */
/*
 * Authentication-Results (RFC 8601): our field written by the grammar of
 * 2.2 (authserv-id, then one resinfo per line: method=result, a comment
 * for the reason, ptype.property=pvalue), folded at spaces before
 * AUTHRES_LINE octets (RFC 5322 2.2.3), values quoted when they are
 * neither a token (RFC 2045 5.1) nor [local-part] "@" domain; and the
 * test of 5 for a field claiming our authserv-id.
 */
#include <string.h>
#include <strings.h>

#include "lib/ascii.h"
#include "lib/str.h"
#include "mailauth/authres.h"

static void
put(struct authres *a, const char *s, size_t n)
{
    if (a->overflow || n >= a->cap - a->len) {
        a->overflow = true;
        return;
    }
    memcpy(a->buf + a->len, s, n);
    a->len += n;
    a->buf[a->len] = '\0';
    a->line += n;
}

static void
puts_(struct authres *a, const char *s)
{
    put(a, s, strlen(s));
}

static void
newline(struct authres *a)
{
    put(a, "\r\n\t", 3);
    a->line = 1;
}

/* tspecials of RFC 2045 5.1 */
static bool
is_tspecial(int ch)
{
    return ch > 0 && strchr("()<>@,;:\\\"/[]?=", ch) != NULL;
}

/* token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>   RFC 2045 5.1 */
static bool
is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];

        if (ch <= 0x20 || ch >= 0x7f || is_tspecial(ch))
            return false;
    }
    return true;
}

static bool
is_atext(int ch)
{
    return is_alpha(ch) || is_digit(ch) || (ch > 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

/* dot-atom-text = 1*atext *("." 1*atext)   RFC 5322 3.2.3 */
static bool
is_dot_atom(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.' ? s[i + 1] == '.' : !is_atext((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* domain-name (RFC 6376 3.5's sub-domain *("." sub-domain)): LDH labels */
static bool
is_domain_name(const char *s, size_t n)
{
    size_t label = 0;

    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!is_alpha((unsigned char)s[i]) && !is_digit((unsigned char)s[i]) &&
            !(s[i] == '-' && label > 0))
            return false;
        label++;
    }
    return true;
}

/* pvalue = value / [ [ local-part ] "@" ] domain-name   RFC 8601 2.2, written bare */
static bool
is_bare_pvalue(const char *s)
{
    size_t n = strlen(s);
    const char *at = memchr(s, '@', n);

    if (at == NULL)
        return is_token(s, n);
    if (at != s && !is_dot_atom(s, (size_t)(at - s)))
        return false;
    return is_domain_name(at + 1, n - (size_t)(at - s) - 1);
}

/* A quoted-string (RFC 5322 3.2.4) of s; controls and non-ASCII as "?". */
static void
put_quoted(struct authres *a, const char *s)
{
    put(a, "\"", 1);
    for (; *s != '\0'; s++) {
        int ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\') {
            char q[2] = {'\\', (char)ch};

            put(a, q, 2);
        } else if (ch < 0x20 || ch >= 0x7f) {
            put(a, "?", 1);
        } else {
            char c1 = (char)ch;

            put(a, &c1, 1);
        }
    }
    put(a, "\"", 1);
}

/* The length put_quoted() writes. */
static size_t
quoted_len(const char *s)
{
    size_t n = 2;

    for (; *s != '\0'; s++)
        n += (*s == '"' || *s == '\\') ? 2 : 1;
    return n;
}

void
authres_init(struct authres *a, char *buf, size_t cap, const char *authserv_id)
{
    a->buf = buf;
    a->cap = cap;
    a->len = 0;
    a->line = 0;
    a->count = 0;
    a->overflow = cap == 0;
    if (cap > 0)
        buf[0] = '\0';
    puts_(a, "Authentication-Results: ");
    if (is_token(authserv_id, strlen(authserv_id)))
        puts_(a, authserv_id);
    else
        put_quoted(a, authserv_id);
}

/* A method or result name of ours: Keyword (RFC 8601 2.2), letters, digits, "-", "_", "." */
static bool
is_keyword(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_alpha((unsigned char)s[i]) && !is_digit((unsigned char)s[i]) &&
            strchr("-_.", s[i]) == NULL)
            return false;
    }
    return true;
}

void
authres_method(struct authres *a, const char *method, const char *result, const char *reason)
{
    if (!is_keyword(method) || !is_keyword(result)) {
        a->overflow = true; /* a bug of the caller: finish fails */
        return;
    }
    put(a, ";", 1);
    newline(a);
    puts_(a, method);
    put(a, "=", 1);
    puts_(a, result);
    a->count++;
    if (reason == NULL || reason[0] == '\0')
        return;
    /* comment = "(" *([FWS] ccontent) [FWS] ")"   RFC 5322 3.2.2 */
    put(a, " (", 2);
    for (const char *s = reason; *s != '\0'; s++) {
        int ch = (unsigned char)*s;

        if (ch == '(' || ch == ')' || ch == '\\') {
            char q[2] = {'\\', (char)ch};

            put(a, q, 2);
        } else if (ch < 0x20 || ch >= 0x7f) {
            put(a, "?", 1);
        } else {
            char c1 = (char)ch;

            put(a, &c1, 1);
        }
    }
    put(a, ")", 1);
}

void
authres_prop(struct authres *a, const char *ptype, const char *property, const char *value)
{
    bool bare;
    size_t need;

    if (value == NULL)
        return;
    if (a->count == 0 || !is_keyword(ptype) || !is_keyword(property)) {
        a->overflow = true;
        return;
    }
    bare = is_bare_pvalue(value);
    need =
        1 + strlen(ptype) + 1 + strlen(property) + 1 + (bare ? strlen(value) : quoted_len(value));
    if (a->line + need > AUTHRES_LINE)
        newline(a);
    else
        put(a, " ", 1);
    puts_(a, ptype);
    put(a, ".", 1);
    puts_(a, property);
    put(a, "=", 1);
    if (bare)
        puts_(a, value);
    else
        put_quoted(a, value);
}

void
authres_spf(struct authres *a, const char *result, const char *reason, const char *mailfrom,
            const char *helo)
{
    authres_method(a, "spf", result, reason);
    authres_prop(a, "smtp", "mailfrom", mailfrom);
    authres_prop(a, "smtp", "helo", helo);
}

void
authres_dkim(struct authres *a, const char *result, const char *reason, const char *d,
             const char *s, const char *i, const char *b)
{
    char b8[9];

    authres_method(a, "dkim", result, reason);
    authres_prop(a, "header", "d", d);
    authres_prop(a, "header", "s", s);
    authres_prop(a, "header", "i", i);
    if (b != NULL) {
        /* RFC 6008 2: the first 8 characters are enough to tell signatures apart. */
        (void)str_copy(b8, sizeof(b8), b, strnlen(b, 8));
        authres_prop(a, "header", "b", b8);
    }
}

void
authres_dmarc(struct authres *a, const char *result, const char *reason, const char *from_domain)
{
    authres_method(a, "dmarc", result, reason);
    authres_prop(a, "header", "from", from_domain);
}

int
authres_finish(struct authres *a, size_t *len)
{
    if (a->count == 0)
        puts_(a, "; none");
    put(a, "\r\n", 2);
    if (a->overflow) {
        if (a->cap > 0)
            a->buf[0] = '\0';
        return -1;
    }
    *len = a->len;
    return 0;
}

/* Recognition (RFC 8601 5) */

struct rc {
    const char *p;
    const char *end;
};

static int
rpeek(const struct rc *c)
{
    return c->p < c->end ? (unsigned char)*c->p : -1;
}

/* FWS: WSP, and CRLF only before WSP (RFC 5322 3.2.2); a bare LF is taken for CRLF too. */
static void
rfws(struct rc *c)
{
    for (;;) {
        int ch = rpeek(c);

        if (ch == ' ' || ch == '\t') {
            c->p++;
        } else if (ch == '\r' && c->end - c->p >= 3 && c->p[1] == '\n' &&
                   (c->p[2] == ' ' || c->p[2] == '\t')) {
            c->p += 3;
        } else if (ch == '\n' && c->end - c->p >= 2 && (c->p[1] == ' ' || c->p[1] == '\t')) {
            c->p += 2;
        } else {
            return;
        }
    }
}

/* CFWS with comments nested at most 8 deep (RFC 5322 3.2.2). */
static int
rcfws(struct rc *c)
{
    int depth = 0;

    for (;;) {
        int ch;

        rfws(c);
        ch = rpeek(c);
        if (ch == '(') {
            if (++depth > 8)
                return -1;
            c->p++;
        } else if (depth == 0) {
            return 0;
        } else if (ch == ')') {
            depth--;
            c->p++;
        } else if (ch == '\\') {
            c->p++;
            if (rpeek(c) == -1)
                return -1;
            c->p++;
        } else if (ch == -1) {
            return -1;
        } else {
            c->p++;
        }
    }
}

/* a equal to b ignoring ASCII case and a final dot on either */
static bool
same_id(const char *a, size_t an, const char *b, size_t bn)
{
    if (an > 0 && a[an - 1] == '.')
        an--;
    if (bn > 0 && b[bn - 1] == '.')
        bn--;
    return an == bn && an > 0 && strncasecmp(a, b, an) == 0;
}

bool
authres_is_ours(struct slice value, const char *authserv_id)
{
    struct rc c = {value.p, value.p + value.len};
    char id[256];
    size_t n = 0;
    int ch;

    if (rcfws(&c) == -1)
        return false;
    if (rpeek(&c) == '"') {
        /* quoted-string: the id is its content, quoted-pairs undone */
        c.p++;
        for (;;) {
            ch = rpeek(&c);
            if (ch == -1 || ch == '\r' || ch == '\n')
                return false;
            c.p++;
            if (ch == '"')
                break;
            if (ch == '\\') {
                ch = rpeek(&c);
                if (ch == -1)
                    return false;
                c.p++;
            }
            if (n == sizeof(id))
                return false;
            id[n++] = (char)ch;
        }
    } else {
        const char *start = c.p;

        while (c.p < c.end && (unsigned char)*c.p > 0x20 && (unsigned char)*c.p < 0x7f &&
               !is_tspecial((unsigned char)*c.p))
            c.p++;
        n = (size_t)(c.p - start);
        if (n == 0 || n > sizeof(id))
            return false;
        memcpy(id, start, n);
    }
    /* What ends the id: CFWS, ";", or the end (a version may follow the CFWS). */
    ch = rpeek(&c);
    if (ch != -1 && ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n' && ch != '(' && ch != ';')
        return false;
    return same_id(id, n, authserv_id, strlen(authserv_id));
}

bool
authres_is_field_name(struct slice name)
{
    return slice_eq_ci(name, "Authentication-Results");
}
