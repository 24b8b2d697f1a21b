/* SPDX-License-Identifier: MIT */
/*
 * The SPF record grammar (RFC 7208 4.6.1), parsed whole before anything is
 * evaluated (4.6: a syntax error anywhere is a permerror, even after a
 * mechanism that would match). Terms are separated by one or more spaces;
 * names of mechanisms and modifiers are case-insensitive (the ABNF's
 * strings are). Domain-specs stay unexpanded slices of the text: their
 * macros are checked here and expanded by the evaluator (spf_macro.c).
 */
#include <arpa/inet.h>
#include <string.h>

#include "mailauth/spf_ascii.h"
#include "lib/str.h"
#include "mailauth/spf.h"

const char *
spf_result_name(enum spf_result r)
{
    switch (r) {
    case SPF_NONE:
        return "none";
    case SPF_NEUTRAL:
        return "neutral";
    case SPF_PASS:
        return "pass";
    case SPF_FAIL:
        return "fail";
    case SPF_SOFTFAIL:
        return "softfail";
    case SPF_TEMPERROR:
        return "temperror";
    case SPF_PERMERROR:
        return "permerror";
    }
    return "?";
}

static const char *const mech_names[] = {
    [SPF_M_ALL] = "all", [SPF_M_INCLUDE] = "include", [SPF_M_A] = "a",
    [SPF_M_MX] = "mx",   [SPF_M_PTR] = "ptr",         [SPF_M_IP4] = "ip4",
    [SPF_M_IP6] = "ip6", [SPF_M_EXISTS] = "exists",
};

const char *
spf_mech_name(enum spf_mech_kind k)
{
    return (size_t)k < sizeof(mech_names) / sizeof(mech_names[0]) ? mech_names[k] : "?";
}

int
spf_ip_parse(const char *text, struct spf_ip *out)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, text, out->b) == 1) {
        out->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, out->b) == 1) {
        out->family = AF_INET6;
        if (memcmp(out->b, mapped, sizeof(mapped)) == 0) {
            memmove(out->b, out->b + 12, 4);
            memset(out->b + 4, 0, 12);
            out->family = AF_INET;
        }
        return 0;
    }
    return -1;
}

bool
spf_is_record(struct slice text)
{
    return text.len >= 6 && slice_starts_ci(text, "v=spf1") && (text.len == 6 || text.p[6] == ' ');
}

/* The term quoted into an error, cut to keep err short. */
static int
term_err(char *err, size_t errcap, const char *what, struct slice term)
{
    int len = term.len > 60 ? 60 : (int)term.len;

    (void)str_fmt(err, errcap, "%s in '%.*s%s'", what, len, term.p, term.len > 60 ? "..." : "");
    return -1;
}

/*
 * macro-expand = ( "%{" macro-letter transformers *delimiter "}" )
 *                / "%%" / "%_" / "%-"                         RFC 7208 7.1
 * At s[*i] == '%'; advances *i past the macro. 0 or -1. c, r and t are
 * allowed only in an explanation's text (7.1), never in a domain-spec:
 * domain says which.
 */
static int
macro_one(struct slice s, size_t *i, bool domain)
{
    size_t k = *i + 1;

    if (k >= s.len)
        return -1;
    if (s.p[k] == '%' || s.p[k] == '_' || s.p[k] == '-') {
        *i = k + 1;
        return 0;
    }
    if (s.p[k] != '{' || ++k >= s.len)
        return -1;
    if (strchr("slodiphcrtvSLODIPHCRTV", s.p[k]) == NULL || s.p[k] == '\0')
        return -1;
    if (domain && strchr("crtCRT", s.p[k]) != NULL)
        return -1;
    k++;
    while (k < s.len && is_digit((unsigned char)s.p[k]))
        k++;
    if (k < s.len && (s.p[k] == 'r' || s.p[k] == 'R'))
        k++;
    while (k < s.len && s.p[k] != '\0' && strchr(".-+,/_=", s.p[k]) != NULL)
        k++;
    if (k >= s.len || s.p[k] != '}')
        return -1;
    *i = k + 1;
    return 0;
}

/*
 * macro-string = *( macro-expand / macro-literal )
 * macro-literal = %x21-24 / %x26-7E                           RFC 7208 7.1
 * Sets *last_macro_end to where the last macro ended (0: none). domain: a
 * domain-spec's (no c, r, t).
 */
static int
macro_string(struct slice s, bool domain, size_t *last_macro_end)
{
    *last_macro_end = 0;
    for (size_t i = 0; i < s.len;) {
        unsigned char ch = (unsigned char)s.p[i];

        if (ch == '%') {
            if (macro_one(s, &i, domain) == -1)
                return -1;
            *last_macro_end = i;
            continue;
        }
        if (ch < 0x21 || ch > 0x7e)
            return -1;
        i++;
    }
    return 0;
}

/*
 * toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum )  RFC 7208 4.6.1
 */
static bool
is_toplabel(const char *p, size_t n)
{
    bool alpha = false;

    if (n == 0 || !spf_is_alnum((unsigned char)p[0]) || !spf_is_alnum((unsigned char)p[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];

        if (is_alpha(ch))
            alpha = true;
        else if (ch == '-')
            alpha = true; /* the second form: a hyphen inside */
        else if (!is_digit(ch))
            return false;
    }
    return alpha;
}

/* domain-spec = macro-string domain-end
 * domain-end = ( "." toplabel [ "." ] ) / macro-expand         RFC 7208 4.6.1 */
int
spf_domain_spec_check(struct slice spec, char *err, size_t errcap)
{
    size_t last, end, dot;

    if (spec.len == 0)
        return term_err(err, errcap, "empty domain-spec", spec);
    if (macro_string(spec, true, &last) == -1)
        return term_err(err, errcap, "bad macro-string", spec);
    if (last == spec.len)
        return 0;
    end = spec.len;
    if (spec.p[end - 1] == '.')
        end--;
    dot = end;
    while (dot > last && spec.p[dot - 1] != '.')
        dot--;
    if (dot == last || dot == 0 || !is_toplabel(spec.p + dot, end - dot))
        return term_err(err, errcap, "domain-spec without a top label", spec);
    return 0;
}

/*
 * ip4-cidr-length = "/" ( "0" / %x31-39 0*1DIGIT )  ; 0-32
 * ip6-cidr-length = "/" ( "0" / %x31-39 0*2DIGIT )  ; 0-128  RFC 7208 4.6.1
 * s starts after the "/". 0 with *out, or -1.
 */
static int
cidr_len(struct slice s, unsigned max, unsigned *out)
{
    unsigned v = 0;

    if (s.len == 0 || s.len > 3 || (s.p[0] == '0' && s.len > 1))
        return -1;
    for (size_t i = 0; i < s.len; i++) {
        if (!is_digit((unsigned char)s.p[i]))
            return -1;
        v = v * 10 + (unsigned)(s.p[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]; s starts at the first "/". */
static int
dual_cidr(struct slice s, struct spf_mech *m)
{
    const char *dbl;

    if (s.len == 0)
        return 0;
    dbl = NULL;
    for (size_t i = 0; i + 1 < s.len; i++) {
        if (s.p[i] == '/' && s.p[i + 1] == '/') {
            dbl = s.p + i;
            break;
        }
    }
    if (dbl != NULL) {
        if (cidr_len(slice_make(dbl + 2, (size_t)(s.p + s.len - dbl - 2)), 128, &m->cidr6) == -1)
            return -1;
        s.len = (size_t)(dbl - s.p);
        if (s.len == 0)
            return 0;
    }
    if (s.p[0] != '/')
        return -1;
    return cidr_len(slice_make(s.p + 1, s.len - 1), 32, &m->cidr4);
}

/*
 * Where the dual-cidr-length at the end of an a or mx argument starts
 * (arg.len: none). The domain-spec before it may hold '/' itself (7.1:
 * macro-literal is any visible character but '%'), so the cidr is read
 * from the end: "/" DIGITS, "//" DIGITS, or both; its numbers are checked
 * by dual_cidr().
 */
static size_t
cidr_start(struct slice arg)
{
    size_t end = arg.len, j;

    for (int part = 0; part < 2; part++) {
        j = end;
        while (j > 0 && is_digit((unsigned char)arg.p[j - 1]))
            j--;
        if (j == end || j == 0 || arg.p[j - 1] != '/')
            break;
        if (part == 0 && j >= 2 && arg.p[j - 2] == '/') {
            end = j - 2; /* "//" ip6-cidr-length; an ip4 one may precede it */
            continue;
        }
        end = j - 1;
        break;
    }
    return end;
}

/* The position of the first '/' in s, or s.len. */
static size_t
first_slash(struct slice s)
{
    const char *p = memchr(s.p, '/', s.len);

    return p != NULL ? (size_t)(p - s.p) : s.len;
}

/* An ip4-network or ip6-network and its optional cidr. */
static int
mech_ip(struct slice arg, struct spf_mech *m, char *err, size_t errcap)
{
    size_t slash = first_slash(arg);
    char text[64];
    int family = m->kind == SPF_M_IP4 ? AF_INET : AF_INET6;

    if (slash == 0 || slash >= sizeof(text) || memchr(arg.p, '\0', slash) != NULL)
        return term_err(err, errcap, m->kind == SPF_M_IP4 ? "bad ip4 address" : "bad ip6 address",
                        m->term);
    memcpy(text, arg.p, slash);
    text[slash] = '\0';
    m->ip.family = family;
    if (inet_pton(family, text, m->ip.b) != 1)
        return term_err(err, errcap, m->kind == SPF_M_IP4 ? "bad ip4 address" : "bad ip6 address",
                        m->term);
    if (slash < arg.len && cidr_len(slice_make(arg.p + slash + 1, arg.len - slash - 1),
                                    m->kind == SPF_M_IP4 ? 32 : 128,
                                    m->kind == SPF_M_IP4 ? &m->cidr4 : &m->cidr6) == -1)
        return term_err(err, errcap, "bad cidr length", m->term);
    return 0;
}

/* mechanism = ( all / include / a / mx / ptr / ip4 / ip6 / exists )   RFC 7208 4.6.1 */
static int
parse_mechanism(struct slice name, struct slice rest, struct spf_mech *m, char *err, size_t errcap)
{
    struct slice arg = {0};
    bool has_colon = rest.len > 0 && rest.p[0] == ':';
    size_t k;

    for (k = 0; k < sizeof(mech_names) / sizeof(mech_names[0]); k++) {
        if (slice_eq_ci(name, mech_names[k]))
            break;
    }
    if (k == sizeof(mech_names) / sizeof(mech_names[0]))
        return term_err(err, errcap, "unknown mechanism", m->term);
    m->kind = (enum spf_mech_kind)k;
    m->cidr4 = 32;
    m->cidr6 = 128;
    if (has_colon)
        arg = slice_make(rest.p + 1, rest.len - 1);
    switch (m->kind) {
    case SPF_M_ALL:
        if (rest.len != 0)
            return term_err(err, errcap, "all takes no argument", m->term);
        return 0;
    case SPF_M_INCLUDE:
    case SPF_M_EXISTS:
        if (!has_colon)
            return term_err(err, errcap, "domain-spec expected", m->term);
        m->domain = arg;
        return spf_domain_spec_check(arg, err, errcap);
    case SPF_M_PTR:
        if (rest.len != 0 && !has_colon)
            return term_err(err, errcap, "bad ptr", m->term);
        if (has_colon) {
            m->domain = arg;
            return spf_domain_spec_check(arg, err, errcap);
        }
        return 0;
    case SPF_M_A:
    case SPF_M_MX: {
        size_t slash;

        if (!has_colon) {
            if (rest.len != 0 && rest.p[0] != '/')
                return term_err(err, errcap, "unknown mechanism", m->term);
            if (dual_cidr(rest, m) == -1)
                return term_err(err, errcap, "bad cidr length", m->term);
            return 0;
        }
        slash = cidr_start(arg);
        m->domain = slice_make(arg.p, slash);
        if (spf_domain_spec_check(m->domain, err, errcap) == -1)
            return -1;
        if (dual_cidr(slice_make(arg.p + slash, arg.len - slash), m) == -1)
            return term_err(err, errcap, "bad cidr length", m->term);
        return 0;
    }
    case SPF_M_IP4:
    case SPF_M_IP6:
        if (!has_colon)
            return term_err(err, errcap, "address expected", m->term);
        return mech_ip(arg, m, err, errcap);
    }
    return term_err(err, errcap, "unknown mechanism", m->term);
}

/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )   RFC 7208 4.6.1 */
static size_t
term_name(struct slice t)
{
    size_t n = 0;

    if (t.len == 0 || !is_alpha((unsigned char)t.p[0]))
        return 0;
    while (n < t.len &&
           (spf_is_alnum((unsigned char)t.p[n]) || t.p[n] == '-' || t.p[n] == '_' || t.p[n] == '.'))
        n++;
    return n;
}

/* directive = [ qualifier ] mechanism; modifier = redirect / explanation / unknown-modifier */
static int
parse_term(struct slice t, struct spf_record *out, char *err, size_t errcap)
{
    enum spf_result qual = SPF_PASS;
    bool qualified = true;
    struct slice body = t;
    size_t n;

    switch (t.p[0]) {
    case '+':
        break;
    case '-':
        qual = SPF_FAIL;
        break;
    case '~':
        qual = SPF_SOFTFAIL;
        break;
    case '?':
        qual = SPF_NEUTRAL;
        break;
    default:
        qualified = false;
        break;
    }
    if (qualified)
        body = slice_make(t.p + 1, t.len - 1);
    n = term_name(body);
    if (n == 0)
        return term_err(err, errcap, "bad term", t);
    if (!qualified && n < body.len && body.p[n] == '=') {
        struct slice name = slice_make(body.p, n);
        struct slice value = slice_make(body.p + n + 1, body.len - n - 1);
        size_t last;

        if (slice_eq_ci(name, "redirect") || slice_eq_ci(name, "exp")) {
            bool redirect = slice_eq_ci(name, "redirect");

            /* RFC 7208 6: each at most once. */
            if (redirect ? out->has_redirect : out->has_exp)
                return term_err(err, errcap, "modifier given twice", t);
            if (spf_domain_spec_check(value, err, errcap) == -1)
                return -1;
            if (redirect) {
                out->has_redirect = true;
                out->redirect = value;
            } else {
                out->has_exp = true;
                out->exp = value;
            }
            return 0;
        }
        /* RFC 7208 6: unknown modifiers are ignored, but must parse. */
        if (macro_string(value, false, &last) == -1)
            return term_err(err, errcap, "bad macro-string", t);
        return 0;
    }
    if (out->nmech == SPF_TERMS_MAX)
        return term_err(err, errcap, "too many terms", t);
    {
        struct spf_mech *m = &out->mech[out->nmech];
        size_t nl = 0;

        memset(m, 0, sizeof(*m));
        m->qual = qual;
        m->term = t;
        while (nl < body.len && spf_is_alnum((unsigned char)body.p[nl]))
            nl++;
        if (parse_mechanism(slice_make(body.p, nl), slice_make(body.p + nl, body.len - nl), m, err,
                            errcap) == -1)
            return -1;
        out->nmech++;
    }
    return 0;
}

/* record = version terms *SP; terms = *( 1*SP ( directive / modifier ) )   RFC 7208 4.6.1 */
int
spf_record_parse(struct slice text, struct spf_record *out, char *err, size_t errcap)
{
    size_t i = 6;

    memset(out, 0, sizeof(*out));
    if (!spf_is_record(text)) {
        (void)str_copyz(err, errcap, "not an SPF record (v=spf1 expected)");
        return -1;
    }
    while (i < text.len) {
        size_t start;

        if (text.p[i] != ' ') {
            (void)str_fmt(err, errcap, "octet 0x%02x outside a term", (unsigned char)text.p[i]);
            return -1;
        }
        while (i < text.len && text.p[i] == ' ')
            i++;
        if (i == text.len)
            break;
        start = i;
        while (i < text.len && text.p[i] != ' ')
            i++;
        if (parse_term(slice_make(text.p + start, i - start), out, err, errcap) == -1)
            return -1;
    }
    return 0;
}
