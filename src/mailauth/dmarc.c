/* SPDX-License-Identifier: MIT */
/*
 * DMARC (RFC 7489): the record grammar of 6.3 and 6.4, the organizational
 * domain of 3.2 through libpsl, alignment (3.1), policy discovery (6.6.3)
 * through struct dmarc_dns, and pct sampling (6.6.4). The From domain
 * (6.6.1, RFC 5322 3.4) is in dmarc_from.c. Reports are not sent: rua and
 * ruf are only checked for syntax.
 */
#include <stdlib.h>
#include <string.h>

#include <libpsl.h>

#include "lib/ascii.h"
#include "lib/str.h"
#include "mailauth/dmarc.h"

static void
set_err(char *err, size_t cap, const char *msg)
{
    if (cap > 0)
        (void)str_copyz(err, cap, msg);
}

static bool
is_wsp(int ch)
{
    return ch == ' ' || ch == '\t';
}

/* VALCHAR of the tag-value syntax (RFC 6376 3.2, which RFC 7489 6.4 follows): %x21-3A / %x3C-7E */
static bool
is_valchar(int ch)
{
    return ch >= 0x21 && ch <= 0x7e && ch != ';';
}

static struct slice
trim(struct slice s)
{
    while (s.len > 0 && is_wsp((unsigned char)s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && is_wsp((unsigned char)s.p[s.len - 1]))
        s.len--;
    return s;
}

static bool
slice_is(struct slice s, const char *lit)
{
    return slice_eq_ci(s, lit);
}

/* dmarc-request = "none" / "quarantine" / "reject"   RFC 7489 6.4 */
static int
parse_policy(struct slice v, enum dmarc_policy *out)
{
    if (slice_is(v, "none"))
        *out = DMARC_POLICY_NONE;
    else if (slice_is(v, "quarantine"))
        *out = DMARC_POLICY_QUARANTINE;
    else if (slice_is(v, "reject"))
        *out = DMARC_POLICY_REJECT;
    else
        return -1;
    return 0;
}

/* dmarc-adkim / dmarc-aspf = ( "r" / "s" )   RFC 7489 6.4 */
static int
parse_align(struct slice v, enum dmarc_align *out)
{
    if (slice_is(v, "r"))
        *out = DMARC_ALIGN_RELAXED;
    else if (slice_is(v, "s"))
        *out = DMARC_ALIGN_STRICT;
    else
        return -1;
    return 0;
}

/* 1*ndigits DIGIT with a max. */
static int
parse_uint(struct slice v, size_t ndigits, unsigned long max, unsigned long *out)
{
    unsigned long n = 0;

    if (v.len == 0 || v.len > ndigits)
        return -1;
    for (size_t i = 0; i < v.len; i++) {
        if (!is_digit((unsigned char)v.p[i]))
            return -1;
        n = n * 10 + (unsigned long)(v.p[i] - '0');
    }
    if (n > max)
        return -1;
    *out = n;
    return 0;
}

/*
 * dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]   RFC 7489 6.4
 * The URI is checked for a scheme (RFC 3986 3.1) and a non-empty rest
 * without the characters 6.2 says must be encoded ("," and "!").
 */
static int
parse_uri(struct slice u)
{
    size_t i = 0, n;

    if (u.len == 0 || !is_alpha((unsigned char)u.p[0]))
        return -1;
    while (i < u.len && (is_alpha((unsigned char)u.p[i]) || is_digit((unsigned char)u.p[i]) ||
                         u.p[i] == '+' || u.p[i] == '-' || u.p[i] == '.'))
        i++;
    if (i == u.len || u.p[i] != ':')
        return -1;
    i++;
    n = 0;
    while (i < u.len && u.p[i] != '!') {
        if (!is_valchar((unsigned char)u.p[i]) || u.p[i] == ',')
            return -1;
        i++;
        n++;
    }
    if (n == 0)
        return -1;
    if (i == u.len)
        return 0;
    i++; /* "!" */
    n = 0;
    while (i < u.len && is_digit((unsigned char)u.p[i]) && n < 15) {
        i++;
        n++;
    }
    if (n == 0)
        return -1;
    if (i < u.len && strchr("kmgtKMGT", u.p[i]) != NULL)
        i++;
    return i == u.len ? 0 : -1;
}

/* dmarc-urilist = dmarc-uri *(*WSP "," *WSP dmarc-uri) */
static int
parse_urilist(struct slice v)
{
    size_t start = 0;

    for (size_t i = 0; i <= v.len; i++) {
        if (i == v.len || v.p[i] == ',') {
            if (parse_uri(trim(slice_make(v.p + start, i - start))) == -1)
                return -1;
            start = i + 1;
        }
    }
    return 0;
}

/*
 * A list of items separated by *WSP ":" *WSP, each accepted by ok():
 * dmarc-fo (items "0" / "1" / "d" / "s") and dmarc-rfmt (Keywords).
 */
static int
parse_colon_list(struct slice v, bool (*ok)(struct slice))
{
    size_t start = 0;

    for (size_t i = 0; i <= v.len; i++) {
        if (i == v.len || v.p[i] == ':') {
            if (!ok(trim(slice_make(v.p + start, i - start))))
                return -1;
            start = i + 1;
        }
    }
    return 0;
}

static bool
is_fo_item(struct slice s)
{
    return s.len == 1 && strchr("01dsDS", s.p[0]) != NULL;
}

/* Keyword = Ldh-str (RFC 5321 4.1.2, as RFC 7489 6.4 uses it) */
static bool
is_keyword(struct slice s)
{
    if (s.len == 0 || s.len > 64 || s.p[s.len - 1] == '-')
        return false;
    for (size_t i = 0; i < s.len; i++) {
        int ch = (unsigned char)s.p[i];

        if (!is_alpha(ch) && !is_digit(ch) && !(ch == '-' && i > 0))
            return false;
    }
    return true;
}

enum tag_bit {
    TAG_P = 1 << 0,
    TAG_SP = 1 << 1,
    TAG_PCT = 1 << 2,
    TAG_ADKIM = 1 << 3,
    TAG_ASPF = 1 << 4,
    TAG_RUA = 1 << 5,
    TAG_RUF = 1 << 6,
    TAG_FO = 1 << 7,
    TAG_RF = 1 << 8,
    TAG_RI = 1 << 9,
    TAG_NP = 1 << 10,
};

static const struct {
    const char *name;
    unsigned bit;
} known_tags[] = {
    {"p", TAG_P},       {"sp", TAG_SP},   {"pct", TAG_PCT}, {"adkim", TAG_ADKIM},
    {"aspf", TAG_ASPF}, {"rua", TAG_RUA}, {"ruf", TAG_RUF}, {"fo", TAG_FO},
    {"rf", TAG_RF},     {"ri", TAG_RI},   {"np", TAG_NP},
};

/*
 * One known tag's value into rec. bad_p collects a bad p= or sp= so that
 * the rua fallback of 6.6.3 step 6 can still apply; the other bad values
 * make the record invalid at once.
 */
static int
apply_tag(unsigned bit, struct slice v, struct dmarc_record *rec, bool *bad_p, char *err,
          size_t errcap)
{
    unsigned long n;

    switch (bit) {
    case TAG_P:
        if (parse_policy(v, &rec->p) == -1)
            *bad_p = true;
        return 0;
    case TAG_SP:
        if (parse_policy(v, &rec->sp) == -1)
            *bad_p = true;
        rec->has_sp = true;
        return 0;
    case TAG_NP:
        return 0; /* RFC 9091's np= is not RFC 7489's: left alone */
    case TAG_PCT:
        if (parse_uint(v, 3, 100, &n) == -1) {
            set_err(err, errcap, "pct= is not a number from 0 to 100");
            return -1;
        }
        rec->pct = (unsigned)n;
        return 0;
    case TAG_ADKIM:
        if (parse_align(v, &rec->adkim) == -1) {
            set_err(err, errcap, "adkim= is neither r nor s");
            return -1;
        }
        return 0;
    case TAG_ASPF:
        if (parse_align(v, &rec->aspf) == -1) {
            set_err(err, errcap, "aspf= is neither r nor s");
            return -1;
        }
        return 0;
    case TAG_RUA:
    case TAG_RUF:
        if (parse_urilist(v) == -1) {
            set_err(err, errcap,
                    bit == TAG_RUA ? "rua= is not a list of URIs" : "ruf= is not a list of URIs");
            return -1;
        }
        if (bit == TAG_RUA)
            rec->has_rua = true;
        else
            rec->has_ruf = true;
        return 0;
    case TAG_FO:
        if (parse_colon_list(v, is_fo_item) == -1) {
            set_err(err, errcap, "fo= is not a list of 0, 1, d, s");
            return -1;
        }
        return 0;
    case TAG_RF:
        if (parse_colon_list(v, is_keyword) == -1) {
            set_err(err, errcap, "rf= is not a list of keywords");
            return -1;
        }
        return 0;
    case TAG_RI:
        if (parse_uint(v, 10, 4294967295ul, &n) == -1) {
            set_err(err, errcap, "ri= is not a 32-bit number");
            return -1;
        }
        rec->ri = n;
        return 0;
    default:
        return 0;
    }
}

/* tag-name = ALPHA *ALNUMPUNC (RFC 6376 3.2; ALNUMPUNC is ALPHA / DIGIT / "_") */
static bool
is_tag_name(struct slice s)
{
    if (s.len == 0 || !is_alpha((unsigned char)s.p[0]))
        return false;
    for (size_t i = 1; i < s.len; i++) {
        int ch = (unsigned char)s.p[i];

        if (!is_alpha(ch) && !is_digit(ch) && ch != '_')
            return false;
    }
    return true;
}

/*
 * dmarc-version = "v" *WSP "=" *WSP %x44 %x4d %x41 %x52 %x43 %x31, first
 * (RFC 7489 6.3: "v" must be the first tag; "DMARC1" is matched exactly).
 * Returns the cursor after it, or NULL.
 */
static const char *
parse_version(const char *p, const char *end)
{
    if (p == end || (*p != 'v' && *p != 'V'))
        return NULL;
    p++;
    while (p < end && is_wsp((unsigned char)*p))
        p++;
    if (p == end || *p != '=')
        return NULL;
    p++;
    while (p < end && is_wsp((unsigned char)*p))
        p++;
    if ((size_t)(end - p) < 6 || memcmp(p, "DMARC1", 6) != 0)
        return NULL;
    p += 6;
    while (p < end && is_wsp((unsigned char)*p))
        p++;
    if (p != end && *p != ';')
        return NULL; /* "v=DMARC10" or "v=DMARC1 p=none" */
    return p;
}

enum dmarc_parse
dmarc_record_parse(struct slice txt, struct dmarc_record *out, char *err, size_t errcap)
{
    const char *p, *end = txt.p + txt.len;
    unsigned seen = 0;
    bool bad_p = false;

    memset(out, 0, sizeof(*out));
    out->pct = 100;
    out->ri = 86400;
    set_err(err, errcap, "");
    p = parse_version(txt.p, end);
    if (p == NULL) {
        set_err(err, errcap, "not a DMARC record (no v=DMARC1 first)");
        return DMARC_PARSE_NOT_DMARC;
    }
    if (txt.len > DMARC_RECORD_MAX) {
        set_err(err, errcap, "record too long");
        return DMARC_PARSE_INVALID;
    }
    /* *(dmarc-sep tag-spec) [dmarc-sep]; p is at ";" or the end. */
    while (p < end) {
        const char *semi, *eq;
        struct slice name, value;
        unsigned bit = 0;

        p++; /* ";" */
        while (p < end && is_wsp((unsigned char)*p))
            p++;
        if (p == end)
            break; /* a final separator */
        semi = memchr(p, ';', (size_t)(end - p));
        if (semi == NULL)
            semi = end;
        eq = memchr(p, '=', (size_t)(semi - p));
        if (eq == NULL) {
            set_err(err, errcap, "a tag without \"=\"");
            return DMARC_PARSE_INVALID;
        }
        name = trim(slice_make(p, (size_t)(eq - p)));
        value = trim(slice_make(eq + 1, (size_t)(semi - eq - 1)));
        if (!is_tag_name(name)) {
            set_err(err, errcap, "a bad tag name");
            return DMARC_PARSE_INVALID;
        }
        for (size_t i = 0; i < value.len; i++) {
            if (!is_valchar((unsigned char)value.p[i]) && !is_wsp((unsigned char)value.p[i])) {
                set_err(err, errcap, "a control or non-ASCII octet in a value");
                return DMARC_PARSE_INVALID;
            }
        }
        if (slice_is(name, "v")) {
            set_err(err, errcap, "v= twice");
            return DMARC_PARSE_INVALID;
        }
        for (size_t i = 0; i < sizeof(known_tags) / sizeof(known_tags[0]); i++) {
            if (slice_is(name, known_tags[i].name))
                bit = known_tags[i].bit;
        }
        if (bit != 0) {
            if (seen & bit) {
                set_err(err, errcap, "a tag twice");
                return DMARC_PARSE_INVALID;
            }
            seen |= bit;
            if (apply_tag(bit, value, out, &bad_p, err, errcap) == -1)
                return DMARC_PARSE_INVALID;
        }
        p = semi;
    }
    if (!(seen & TAG_P) || bad_p) {
        /* RFC 7489 6.6.3 step 6: with a valid rua=, act as if p=none. */
        if (!out->has_rua) {
            set_err(err, errcap,
                    !(seen & TAG_P) ? "no p= tag" : "p= or sp= is not none, quarantine, reject");
            return DMARC_PARSE_INVALID;
        }
        out->p = DMARC_POLICY_NONE;
        out->has_sp = false;
        out->p_from_rua = true;
    }
    return DMARC_PARSE_OK;
}

/* Public Suffix List */

struct dmarc_psl {
    psl_ctx_t *ctx;
};

struct dmarc_psl *
dmarc_psl_load(const char *file, char *err, size_t errcap)
{
    struct dmarc_psl *psl = calloc(1, sizeof(*psl));

    if (psl == NULL) {
        set_err(err, errcap, "out of memory");
        return NULL;
    }
    psl->ctx = file != NULL ? psl_load_file(file) : psl_latest(NULL);
    if (psl->ctx == NULL) {
        if (errcap > 0)
            (void)str_fmt(err, errcap, "cannot load the public suffix list %s",
                          file != NULL ? file : "(libpsl's latest)");
        free(psl);
        return NULL;
    }
    return psl;
}

void
dmarc_psl_free(struct dmarc_psl *psl)
{
    if (psl == NULL)
        return;
    psl_free(psl->ctx);
    free(psl);
}

/* domain lower-cased without a final dot into out; -1 if empty, too long or not ASCII. */
static int
normalize(const char *domain, char *out, size_t cap)
{
    size_t len = strlen(domain);

    if (len > 0 && domain[len - 1] == '.')
        len--;
    if (len == 0 || len > DMARC_DOMAIN_MAX || !str_is_ascii(domain, len))
        return -1;
    if (str_copy(out, cap, domain, len) == -1)
        return -1;
    str_lower(out, len);
    return 0;
}

/* LDH labels of 1 to 63 octets (RFC 1123 2.1): what dmarc_from_domain() gives. */
static bool
is_host_name(const char *s)
{
    size_t label = 0;

    for (size_t i = 0;; i++) {
        if (s[i] == '\0' || s[i] == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return false;
            if (s[i] == '\0')
                return true;
            label = 0;
        } else if (is_alpha((unsigned char)s[i]) || is_digit((unsigned char)s[i]) ||
                   (s[i] == '-' && label > 0)) {
            label++;
        } else {
            return false;
        }
    }
}

int
dmarc_org_domain(const struct dmarc_psl *psl, const char *domain, char *out, size_t cap)
{
    char name[DMARC_DOMAIN_MAX + 1];
    const char *reg;

    if (cap == 0)
        return -1;
    out[0] = '\0';
    if (normalize(domain, name, sizeof(name)) == -1)
        return -1;
    /* NULL when name is itself a public suffix: then it is its own (3.2). */
    reg = psl_registrable_domain(psl->ctx, name);
    return str_copyz(out, cap, reg != NULL ? reg : name);
}

bool
dmarc_is_aligned(const struct dmarc_psl *psl, const char *from_domain, const char *auth_domain,
                 enum dmarc_align mode)
{
    char a[DMARC_DOMAIN_MAX + 1], b[DMARC_DOMAIN_MAX + 1];

    if (mode == DMARC_ALIGN_STRICT) {
        if (normalize(from_domain, a, sizeof(a)) == -1 ||
            normalize(auth_domain, b, sizeof(b)) == -1)
            return false;
    } else if (dmarc_org_domain(psl, from_domain, a, sizeof(a)) == -1 ||
               dmarc_org_domain(psl, auth_domain, b, sizeof(b)) == -1) {
        return false;
    }
    return strcmp(a, b) == 0;
}

/* The evaluation */

/* DKIM verifies at most 8 signatures; more passing d= than this are not looked at. */
#define DMARC_DKIM_MAX 16

struct dmarc_eval {
    const struct dmarc_psl *psl;
    const struct dmarc_dns *dns;
    dmarc_done_fn *done;
    void *arg;
    bool pending;   /* a lookup is out */
    bool abandoned; /* freed by the caller while pending */
    bool at_org;    /* the lookup out is the organizational domain's */
    char org[DMARC_DOMAIN_MAX + 1];
    bool spf_pass;
    char spf_domain[DMARC_DOMAIN_MAX + 1];
    size_t n_dkim;
    char dkim[DMARC_DKIM_MAX][DMARC_DOMAIN_MAX + 1];
    unsigned (*sample)(void *arg);
    void *sample_arg;
    struct dmarc_result r;
};

struct dmarc_eval *
dmarc_eval_new(const struct dmarc_psl *psl, const struct dmarc_dns *dns, dmarc_done_fn *done,
               void *arg)
{
    struct dmarc_eval *ev = calloc(1, sizeof(*ev));

    if (ev == NULL)
        return NULL;
    ev->psl = psl;
    ev->dns = dns;
    ev->done = done;
    ev->arg = arg;
    return ev;
}

void
dmarc_eval_free(struct dmarc_eval *ev)
{
    if (ev == NULL)
        return;
    if (ev->pending) {
        ev->abandoned = true; /* on_txt frees it */
        return;
    }
    free(ev);
}

/* Reports r; the caller may free ev inside done, so nothing touches ev after. */
static void
finish(struct dmarc_eval *ev, enum dmarc_status st, const char *reason)
{
    ev->r.status = st;
    if (st != DMARC_FAIL)
        ev->r.policy = DMARC_POLICY_NONE;
    (void)str_copyz(ev->r.reason, sizeof(ev->r.reason), reason);
    ev->done(ev->arg, &ev->r);
}

static void on_txt(void *cbarg, enum dmarc_dns_status st, const struct slice *records, size_t n);

/* Asks for _dmarc.DOMAIN; the last thing its caller does (the answer may come at once). */
static void
lookup(struct dmarc_eval *ev, const char *domain)
{
    char name[DMARC_DOMAIN_MAX + 8];

    ev->pending = true;
    if (strlen(domain) + 7 > DMARC_DOMAIN_MAX ||
        str_fmt(name, sizeof(name), "_dmarc.%s", domain) == -1) {
        /* No such name can exist (RFC 1035 2.3.4): as if not found. */
        on_txt(ev, DMARC_DNS_NOT_FOUND, NULL, 0);
        return;
    }
    if (ev->dns->txt(ev->dns->arg, name, on_txt, ev) == -1) {
        ev->pending = false;
        finish(ev, DMARC_TEMPERROR, "DNS lookup could not start");
    }
}

static enum dmarc_policy
milder(enum dmarc_policy p)
{
    return p == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
}

/* Alignment (3.1) and pct (6.6.4) under the record found. */
static void
apply_record(struct dmarc_eval *ev, const struct dmarc_record *rec)
{
    struct dmarc_result *r = &ev->r;
    unsigned s;

    /* 6.6.3: the From domain's own record uses p=; the organizational
     * domain's, found for a subdomain, uses sp= when it has one. */
    r->published = ev->at_org && rec->has_sp ? rec->sp : rec->p;
    for (size_t i = 0; i < ev->n_dkim; i++) {
        if (dmarc_is_aligned(ev->psl, r->from_domain, ev->dkim[i], rec->adkim)) {
            r->via = DMARC_VIA_DKIM;
            finish(ev, DMARC_PASS, "aligned DKIM pass");
            return;
        }
    }
    if (ev->spf_pass && ev->spf_domain[0] != '\0' &&
        dmarc_is_aligned(ev->psl, r->from_domain, ev->spf_domain, rec->aspf)) {
        r->via = DMARC_VIA_SPF;
        finish(ev, DMARC_PASS, "aligned SPF pass");
        return;
    }
    r->policy = r->published;
    if (rec->pct < 100 && r->policy != DMARC_POLICY_NONE) {
        s = ev->sample != NULL ? ev->sample(ev->sample_arg) : arc4random_uniform(100);
        if (s >= rec->pct) {
            r->sampled_out = true;
            r->policy = milder(r->policy);
        }
    }
    finish(ev, DMARC_FAIL, "no aligned SPF or DKIM pass");
}

static void
on_txt(void *cbarg, enum dmarc_dns_status st, const struct slice *records, size_t n)
{
    struct dmarc_eval *ev = cbarg;
    struct dmarc_record rec = {0}, one; /* rec: set with the first record (-O3 cannot tell) */
    char err[80], reason[sizeof(ev->r.reason)];
    size_t found = 0;
    bool invalid = false;
    const char *domain;

    ev->pending = false;
    if (ev->abandoned) {
        free(ev);
        return;
    }
    domain = ev->at_org ? ev->org : ev->r.from_domain;
    if (st == DMARC_DNS_TEMPFAIL) {
        (void)str_copyz(ev->r.policy_domain, sizeof(ev->r.policy_domain), domain);
        finish(ev, DMARC_TEMPERROR, "DNS temporary failure");
        return;
    }
    if (st == DMARC_DNS_OK) {
        /* 6.6.3 step 3: records that do not start with v=DMARC1 are discarded. */
        for (size_t i = 0; i < n; i++) {
            char e[80];
            enum dmarc_parse pr = dmarc_record_parse(records[i], &one, e, sizeof(e));

            if (pr == DMARC_PARSE_NOT_DMARC)
                continue;
            if (++found == 1) {
                rec = one;
                invalid = pr == DMARC_PARSE_INVALID;
                memcpy(err, e, sizeof(err));
            }
        }
    }
    if (found > 1) {
        /* 6.6.3 step 5: several records end discovery, with no policy. */
        (void)str_copyz(ev->r.policy_domain, sizeof(ev->r.policy_domain), domain);
        finish(ev, DMARC_NONE, "more than one DMARC record");
        return;
    }
    if (found == 1) {
        (void)str_copyz(ev->r.policy_domain, sizeof(ev->r.policy_domain), domain);
        if (invalid) {
            (void)str_fmt(reason, sizeof(reason), "invalid DMARC record: %s", err);
            finish(ev, DMARC_PERMERROR, reason);
            return;
        }
        apply_record(ev, &rec);
        return;
    }
    if (!ev->at_org && strcmp(ev->org, ev->r.from_domain) != 0) {
        ev->at_org = true;
        lookup(ev, ev->org);
        return;
    }
    finish(ev, DMARC_NONE, "no DMARC record");
}

void
dmarc_eval_start(struct dmarc_eval *ev, const struct dmarc_input *in)
{
    memset(&ev->r, 0, sizeof(ev->r));
    ev->spf_pass = in->spf_pass;
    if (in->spf_domain == NULL ||
        normalize(in->spf_domain, ev->spf_domain, sizeof(ev->spf_domain)) == -1)
        ev->spf_domain[0] = '\0';
    ev->n_dkim = 0;
    for (size_t i = 0; i < in->n_dkim && ev->n_dkim < DMARC_DKIM_MAX; i++) {
        if (in->dkim_domains[i] != NULL &&
            normalize(in->dkim_domains[i], ev->dkim[ev->n_dkim], DMARC_DOMAIN_MAX + 1) == 0)
            ev->n_dkim++;
    }
    ev->sample = in->sample;
    ev->sample_arg = in->sample_arg;
    if (in->from_domain == NULL ||
        normalize(in->from_domain, ev->r.from_domain, sizeof(ev->r.from_domain)) == -1 ||
        !is_host_name(ev->r.from_domain) ||
        dmarc_org_domain(ev->psl, ev->r.from_domain, ev->org, sizeof(ev->org)) == -1) {
        finish(ev, DMARC_PERMERROR, "no usable From domain");
        return;
    }
    lookup(ev, ev->r.from_domain);
}

const char *
dmarc_status_name(enum dmarc_status s)
{
    switch (s) {
    case DMARC_NONE:
        return "none";
    case DMARC_PASS:
        return "pass";
    case DMARC_FAIL:
        return "fail";
    case DMARC_TEMPERROR:
        return "temperror";
    case DMARC_PERMERROR:
        return "permerror";
    }
    return "?";
}

const char *
dmarc_policy_name(enum dmarc_policy p)
{
    switch (p) {
    case DMARC_POLICY_NONE:
        return "none";
    case DMARC_POLICY_QUARANTINE:
        return "quarantine";
    case DMARC_POLICY_REJECT:
        return "reject";
    }
    return "?";
}
