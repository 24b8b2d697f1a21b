/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dmarc.c: the record grammar (RFC 7489 6.3, 6.4) with
 * hostile rows, the organizational domain and alignment through libpsl
 * and Debian's suffix list, policy discovery (6.6.3) over a fake DNS
 * table (answered at once or later), and pct sampling (6.6.4) with an
 * injected sampler. The From domain has its own file (dmarc_from_test.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailauth/dmarc.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static struct dmarc_psl *psl;

static int
setup_psl(void **state)
{
    char err[128];

    (void)state;
    psl = dmarc_psl_load(NULL, err, sizeof(err));
    return psl == NULL ? -1 : 0;
}

static int
teardown_psl(void **state)
{
    (void)state;
    dmarc_psl_free(psl);
    return 0;
}

/* Record rows: what the parser says, and the fields that matter. */
static const struct {
    const char *in;
    enum dmarc_parse want;
    enum dmarc_policy p;
    int sp; /* -1: no sp */
    unsigned pct;
    enum dmarc_align adkim, aspf;
    bool p_from_rua;
} record_rows[] = {
    {"v=DMARC1; p=reject", DMARC_PARSE_OK, DMARC_POLICY_REJECT, -1, 100, DMARC_ALIGN_RELAXED,
     DMARC_ALIGN_RELAXED, false},
    {"v=DMARC1;p=none", DMARC_PARSE_OK, DMARC_POLICY_NONE, -1, 100, 0, 0, false},
    {"v=DMARC1; p=quarantine;", DMARC_PARSE_OK, DMARC_POLICY_QUARANTINE, -1, 100, 0, 0, false},
    {"v=DMARC1; p=quarantine ;  ", DMARC_PARSE_OK, DMARC_POLICY_QUARANTINE, -1, 100, 0, 0, false},
    {"v = DMARC1 ;\tp = reject\t; sp = none", DMARC_PARSE_OK, DMARC_POLICY_REJECT, 0, 100, 0, 0,
     false},
    {"V=DMARC1; P=REJECT; SP=Quarantine; ADKIM=S; ASPF=s; PCT=50", DMARC_PARSE_OK,
     DMARC_POLICY_REJECT, DMARC_POLICY_QUARANTINE, 50, DMARC_ALIGN_STRICT, DMARC_ALIGN_STRICT,
     false},
    {"v=DMARC1; p=reject; pct=0", DMARC_PARSE_OK, DMARC_POLICY_REJECT, -1, 0, 0, 0, false},
    {"v=DMARC1; p=reject; pct=100", DMARC_PARSE_OK, DMARC_POLICY_REJECT, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; pct=007", DMARC_PARSE_OK, DMARC_POLICY_REJECT, -1, 7, 0, 0, false},
    {"v=DMARC1; p=none; rua=mailto:d@example.com,mailto:e@example.net!10m; ruf=mailto:f@x.test; "
     "fo=0:1:d:s; rf=afrf; ri=3600",
     DMARC_PARSE_OK, DMARC_POLICY_NONE, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; rua=mailto:a@b.test , mailto:c@d.test!5", DMARC_PARSE_OK,
     DMARC_POLICY_REJECT, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; fo = 1 : d", DMARC_PARSE_OK, DMARC_POLICY_REJECT, -1, 100, 0, 0, false},
    /* unknown tags are ignored (6.3), np= too */
    {"v=DMARC1; p=reject; foo=bar; x_y1=anything goes", DMARC_PARSE_OK, DMARC_POLICY_REJECT, -1,
     100, 0, 0, false},
    {"v=DMARC1; p=reject; np=junk", DMARC_PARSE_OK, DMARC_POLICY_REJECT, -1, 100, 0, 0, false},
    /* 6.6.3 step 6: no or bad p= with a valid rua= reads as p=none */
    {"v=DMARC1; rua=mailto:a@b.test", DMARC_PARSE_OK, DMARC_POLICY_NONE, -1, 100, 0, 0, true},
    {"v=DMARC1; p=bogus; rua=mailto:a@b.test", DMARC_PARSE_OK, DMARC_POLICY_NONE, -1, 100, 0, 0,
     true},
    {"v=DMARC1; p=reject; sp=bogus; rua=mailto:a@b.test", DMARC_PARSE_OK, DMARC_POLICY_NONE, -1,
     100, 0, 0, true},
    /* not DMARC records at all: ignored in discovery */
    {"", DMARC_PARSE_NOT_DMARC, 0, -1, 100, 0, 0, false},
    {"v=spf1 -all", DMARC_PARSE_NOT_DMARC, 0, -1, 100, 0, 0, false},
    {"p=reject; v=DMARC1", DMARC_PARSE_NOT_DMARC, 0, -1, 100, 0, 0, false},
    {" v=DMARC1; p=reject", DMARC_PARSE_NOT_DMARC, 0, -1, 100, 0, 0, false},
    {"v=dmarc1; p=reject", DMARC_PARSE_NOT_DMARC, 0, -1, 100, 0, 0, false},
    {"v=DMARC2; p=reject", DMARC_PARSE_NOT_DMARC, 0, -1, 100, 0, 0, false},
    {"v=DMARC10; p=reject", DMARC_PARSE_NOT_DMARC, 0, -1, 100, 0, 0, false},
    {"v=DMARC1 p=reject", DMARC_PARSE_NOT_DMARC, 0, -1, 100, 0, 0, false},
    {"v:DMARC1; p=reject", DMARC_PARSE_NOT_DMARC, 0, -1, 100, 0, 0, false},
    /* hostile: DMARC records that are invalid */
    {"v=DMARC1", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1;", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; sp=reject", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=rejected", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject quarantine", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; sp=maybe", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; p=none", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; P=reject", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; v=DMARC1", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; pct=101", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; pct=-1", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; pct=1000", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; pct=", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; pct=5o", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; pct=50.5", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; adkim=relaxed", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; aspf=x", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; rua=a@b.test", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; rua=mailto:", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; rua=mailto:a@b.test,", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; rua=mailto:a@b.test!", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; rua=mailto:a@b.test!10x", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; rua=junk", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; fo=2", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; fo=0::1", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; rf=af rf", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; ri=99999999999", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; ri=4294967296", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject;; sp=none", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; junk", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; =x", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; 1x=y", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; foo=b\x01r", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=reject; foo=\xc3\xa9", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
    {"v=DMARC1; p=re\nject", DMARC_PARSE_INVALID, 0, -1, 100, 0, 0, false},
};

static void
test_record_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(record_rows); i++) {
        struct dmarc_record r;
        char err[80];
        enum dmarc_parse got;

        got = dmarc_record_parse(slice_make(record_rows[i].in, strlen(record_rows[i].in)), &r, err,
                                 sizeof(err));
        if (got != record_rows[i].want)
            fail_msg("row %zu \"%s\": got %d want %d (%s)", i, record_rows[i].in, got,
                     record_rows[i].want, err);
        if (got != DMARC_PARSE_OK) {
            assert_true(err[0] != '\0');
            continue;
        }
        assert_int_equal(r.p, record_rows[i].p);
        assert_int_equal(r.has_sp, record_rows[i].sp != -1);
        if (record_rows[i].sp != -1)
            assert_int_equal(r.sp, record_rows[i].sp);
        assert_int_equal(r.pct, record_rows[i].pct);
        assert_int_equal(r.adkim, record_rows[i].adkim);
        assert_int_equal(r.aspf, record_rows[i].aspf);
        assert_int_equal(r.p_from_rua, record_rows[i].p_from_rua);
    }
}

/* A NUL inside, and records at and past the size cap. */
static void
test_record_sizes(void **state)
{
    static const char nul[] = "v=DMARC1; p=reject; foo=a\0b";
    struct dmarc_record r;
    char *big;
    size_t n;

    (void)state;
    assert_int_equal(dmarc_record_parse(slice_make(nul, sizeof(nul) - 1), &r, NULL, 0),
                     DMARC_PARSE_INVALID);

    big = malloc(DMARC_RECORD_MAX + 2);
    assert_non_null(big);
    n = (size_t)snprintf(big, DMARC_RECORD_MAX + 2, "v=DMARC1; p=reject; x=");
    memset(big + n, 'a', DMARC_RECORD_MAX - n);
    assert_int_equal(dmarc_record_parse(slice_make(big, DMARC_RECORD_MAX), &r, NULL, 0),
                     DMARC_PARSE_OK);
    assert_int_equal(r.p, DMARC_POLICY_REJECT);
    big[DMARC_RECORD_MAX] = 'a';
    assert_int_equal(dmarc_record_parse(slice_make(big, DMARC_RECORD_MAX + 1), &r, NULL, 0),
                     DMARC_PARSE_INVALID);
    /* many separators: bounded, linear */
    n = (size_t)snprintf(big, DMARC_RECORD_MAX + 2, "v=DMARC1; p=reject");
    while (n + 4 < DMARC_RECORD_MAX) {
        memcpy(big + n, "; a=", 4);
        n += 4;
    }
    assert_int_equal(dmarc_record_parse(slice_make(big, n), &r, NULL, 0), DMARC_PARSE_OK);
    free(big);
}

static const struct {
    const char *domain;
    const char *org; /* NULL: -1 */
} org_rows[] = {
    {"example.com", "example.com"},
    {"mail.example.com", "example.com"},
    {"a.b.c.example.com", "example.com"},
    {"MAIL.Example.COM", "example.com"},
    {"mail.example.com.", "example.com"},
    {"example.co.uk", "example.co.uk"},
    {"mail.example.co.uk", "example.co.uk"},
    {"co.uk", "co.uk"},
    {"com", "com"},
    {"x.example.test", "example.test"}, /* not in the list: the "*" rule */
    {"foo.github.io", "foo.github.io"}, /* a private-section suffix */
    {"", NULL},
    {".", NULL},
    {"caf\xc3\xa9.example", NULL},
};

static void
test_org_domain(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(org_rows); i++) {
        char out[DMARC_DOMAIN_MAX + 1];
        int got = dmarc_org_domain(psl, org_rows[i].domain, out, sizeof(out));

        if (org_rows[i].org == NULL) {
            if (got != -1)
                fail_msg("row %zu %s: got %s", i, org_rows[i].domain, out);
            continue;
        }
        if (got != 0 || strcmp(out, org_rows[i].org) != 0)
            fail_msg("row %zu %s: got %d %s want %s", i, org_rows[i].domain, got, out,
                     org_rows[i].org);
    }
}

static const struct {
    const char *from, *auth;
    bool relaxed, strict;
} align_rows[] = {
    {"example.com", "example.com", true, true},
    {"example.com", "EXAMPLE.com.", true, true},
    {"example.com", "mail.example.com", true, false},
    {"mail.example.com", "example.com", true, false},
    {"a.example.com", "b.example.com", true, false},
    {"example.com", "example.net", false, false},
    {"example.com", "notexample.com", false, false},
    {"example.com", "example.com.evil.test", false, false},
    {"example.co.uk", "mail.example.co.uk", true, false},
    {"example.co.uk", "other.co.uk", false, false},
    {"a.co.uk", "co.uk", false, false},
    {"co.uk", "co.uk", true, true},
    {"foo.github.io", "bar.github.io", false, false},
    {"x.foo.github.io", "foo.github.io", true, false},
    {"example.com", "", false, false},
};

static void
test_alignment(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(align_rows); i++) {
        bool r = dmarc_is_aligned(psl, align_rows[i].from, align_rows[i].auth, DMARC_ALIGN_RELAXED);
        bool s = dmarc_is_aligned(psl, align_rows[i].from, align_rows[i].auth, DMARC_ALIGN_STRICT);

        if (r != align_rows[i].relaxed || s != align_rows[i].strict)
            fail_msg("row %zu %s %s: relaxed %d strict %d", i, align_rows[i].from,
                     align_rows[i].auth, r, s);
    }
}

/* The fake DNS: a table of names; answered at once or kept for later. */
struct fake_row {
    const char *name;
    enum dmarc_dns_status st;
    const char *txt[3];
};

struct fake {
    const struct fake_row *rows;
    size_t n;
    bool later;  /* keep the question, answer with fake_answer() */
    bool refuse; /* txt() returns -1 */
    int asked;
    char names[4][300];
    dmarc_txt_fn *cb;
    void *cbarg;
    char pending_name[300];
};

static void
fake_answer(struct fake *f, const char *name, dmarc_txt_fn *cb, void *cbarg)
{
    for (size_t i = 0; i < f->n; i++) {
        struct slice recs[3];
        size_t n = 0;

        if (strcmp(f->rows[i].name, name) != 0)
            continue;
        for (; n < 3 && f->rows[i].txt[n] != NULL; n++)
            recs[n] = slice_make(f->rows[i].txt[n], strlen(f->rows[i].txt[n]));
        cb(cbarg, f->rows[i].st, recs, n);
        return;
    }
    cb(cbarg, DMARC_DNS_NOT_FOUND, NULL, 0);
}

static int
fake_txt(void *arg, const char *name, dmarc_txt_fn *cb, void *cbarg)
{
    struct fake *f = arg;

    if (f->refuse)
        return -1;
    assert_true(f->asked < 4);
    snprintf(f->names[f->asked++], sizeof(f->names[0]), "%s", name);
    if (f->later) {
        assert_null(f->cb);
        f->cb = cb;
        f->cbarg = cbarg;
        snprintf(f->pending_name, sizeof(f->pending_name), "%s", name);
        return 0;
    }
    fake_answer(f, name, cb, cbarg);
    return 0;
}

static void
fake_release(struct fake *f)
{
    dmarc_txt_fn *cb = f->cb;

    assert_non_null(cb);
    f->cb = NULL;
    fake_answer(f, f->pending_name, cb, f->cbarg);
}

struct got {
    int calls;
    struct dmarc_result r;
    struct dmarc_eval *free_me;
};

static void
on_done(void *arg, const struct dmarc_result *r)
{
    struct got *g = arg;

    g->calls++;
    g->r = *r;
    if (g->free_me != NULL) {
        dmarc_eval_free(g->free_me);
        g->free_me = NULL;
    }
}

static unsigned
sample_fixed(void *arg)
{
    return *(unsigned *)arg;
}

static const struct fake_row zone[] = {
    {"_dmarc.example.com", DMARC_DNS_OK, {"v=DMARC1; p=reject; sp=quarantine"}},
    {"_dmarc.strict.test", DMARC_DNS_OK, {"v=DMARC1; p=reject; adkim=s; aspf=s"}},
    {"_dmarc.sub.strict.test", DMARC_DNS_NOT_FOUND, {NULL}},
    {"_dmarc.spfonly.test", DMARC_DNS_OK, {"v=spf1 -all", "some other text"}},
    {"_dmarc.two.test", DMARC_DNS_OK, {"v=DMARC1; p=reject", "v=DMARC1; p=none"}},
    {"_dmarc.mixed.test", DMARC_DNS_OK, {"v=spf1 -all", "v=DMARC1; p=quarantine", "x"}},
    {"_dmarc.junk.test", DMARC_DNS_OK, {"v=DMARC1; p=reject; pct=200"}},
    {"_dmarc.temp.test", DMARC_DNS_TEMPFAIL, {NULL}},
    {"_dmarc.orgtemp.test", DMARC_DNS_TEMPFAIL, {NULL}},
    {"_dmarc.nodata.test", DMARC_DNS_OK, {NULL}},
    {"_dmarc.half.test", DMARC_DNS_OK, {"v=DMARC1; p=reject; pct=50"}},
    {"_dmarc.halfq.test", DMARC_DNS_OK, {"v=DMARC1; p=quarantine; pct=50"}},
    {"_dmarc.zero.test", DMARC_DNS_OK, {"v=DMARC1; p=reject; pct=0"}},
    {"_dmarc.nosp.test", DMARC_DNS_OK, {"v=DMARC1; p=reject"}},
    {"_dmarc.own.nosp.test", DMARC_DNS_OK, {"v=DMARC1; p=none"}},
    {"_dmarc.ruaonly.test", DMARC_DNS_OK, {"v=DMARC1; rua=mailto:a@ruaonly.test"}},
    {"_dmarc.example.co.uk", DMARC_DNS_OK, {"v=DMARC1; p=reject"}},
    {"_dmarc.co.uk", DMARC_DNS_OK, {"v=DMARC1; p=reject"}},
};

/* 235 octets: with ".example.com" 247, a name, but "_dmarc." makes it 254 > 253 */
#define L63      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LONG_SUB L63 "." L63 "." L63 ".bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static const struct {
    const char *from;
    const char *spf_domain;
    bool spf_pass;
    const char *dkim[2];
    unsigned sample;
    enum dmarc_status want;
    enum dmarc_policy policy;
    enum dmarc_via via;
    const char *policy_domain;
    const char *asked[3];
} eval_rows[] = {
    /* the From domain's own record */
    {"example.com",
     "example.com",
     true,
     {NULL},
     0,
     DMARC_PASS,
     DMARC_POLICY_NONE,
     DMARC_VIA_SPF,
     "example.com",
     {"_dmarc.example.com"}},
    {"example.com",
     "example.com",
     false,
     {NULL},
     0,
     DMARC_FAIL,
     DMARC_POLICY_REJECT,
     DMARC_VIA_NONE,
     "example.com",
     {"_dmarc.example.com"}},
    {"example.com",
     "bounce.example.com",
     true,
     {NULL},
     0,
     DMARC_PASS,
     DMARC_POLICY_NONE,
     DMARC_VIA_SPF,
     "example.com",
     {"_dmarc.example.com"}},
    {"example.com",
     "example.net",
     true,
     {"example.net"},
     0,
     DMARC_FAIL,
     DMARC_POLICY_REJECT,
     DMARC_VIA_NONE,
     "example.com",
     {"_dmarc.example.com"}},
    {"example.com",
     NULL,
     false,
     {"example.net", "s1.example.com"},
     0,
     DMARC_PASS,
     DMARC_POLICY_NONE,
     DMARC_VIA_DKIM,
     "example.com",
     {"_dmarc.example.com"}},
    {"example.com",
     "example.com",
     true,
     {"example.com"},
     0,
     DMARC_PASS,
     DMARC_POLICY_NONE,
     DMARC_VIA_DKIM,
     "example.com",
     {"_dmarc.example.com"}},
    /* a subdomain without a record: the org domain's, with sp= */
    {"sub.example.com",
     "other.test",
     true,
     {NULL},
     0,
     DMARC_FAIL,
     DMARC_POLICY_QUARANTINE,
     DMARC_VIA_NONE,
     "example.com",
     {"_dmarc.sub.example.com", "_dmarc.example.com"}},
    {"a.b.sub.example.com",
     NULL,
     false,
     {"example.com"},
     0,
     DMARC_PASS,
     DMARC_POLICY_NONE,
     DMARC_VIA_DKIM,
     "example.com",
     {"_dmarc.a.b.sub.example.com", "_dmarc.example.com"}},
    /* without sp=, a subdomain gets p= */
    {"x.nosp.test",
     NULL,
     false,
     {NULL},
     0,
     DMARC_FAIL,
     DMARC_POLICY_REJECT,
     DMARC_VIA_NONE,
     "nosp.test",
     {"_dmarc.x.nosp.test", "_dmarc.nosp.test"}},
    /* a subdomain with its own record: that one, p= */
    {"own.nosp.test",
     NULL,
     false,
     {NULL},
     0,
     DMARC_FAIL,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "own.nosp.test",
     {"_dmarc.own.nosp.test"}},
    /* strict alignment */
    {"strict.test",
     "mail.strict.test",
     true,
     {"mail.strict.test"},
     0,
     DMARC_FAIL,
     DMARC_POLICY_REJECT,
     DMARC_VIA_NONE,
     "strict.test",
     {"_dmarc.strict.test"}},
    {"strict.test",
     "STRICT.test",
     true,
     {NULL},
     0,
     DMARC_PASS,
     DMARC_POLICY_NONE,
     DMARC_VIA_SPF,
     "strict.test",
     {"_dmarc.strict.test"}},
    {"sub.strict.test",
     NULL,
     false,
     {"strict.test"},
     0,
     DMARC_FAIL,
     DMARC_POLICY_REJECT,
     DMARC_VIA_NONE,
     "strict.test",
     {"_dmarc.sub.strict.test", "_dmarc.strict.test"}},
    /* co.uk style suffixes */
    {"mail.example.co.uk",
     NULL,
     false,
     {"example.co.uk"},
     0,
     DMARC_PASS,
     DMARC_POLICY_NONE,
     DMARC_VIA_DKIM,
     "example.co.uk",
     {"_dmarc.mail.example.co.uk", "_dmarc.example.co.uk"}},
    {"example.co.uk",
     NULL,
     false,
     {"co.uk"},
     0,
     DMARC_FAIL,
     DMARC_POLICY_REJECT,
     DMARC_VIA_NONE,
     "example.co.uk",
     {"_dmarc.example.co.uk"}},
    /* none: no record anywhere; only non-DMARC records; NODATA */
    {"nothing.test",
     "nothing.test",
     true,
     {NULL},
     0,
     DMARC_NONE,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "",
     {"_dmarc.nothing.test"}},
    {"a.nothing.test",
     NULL,
     false,
     {NULL},
     0,
     DMARC_NONE,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "",
     {"_dmarc.a.nothing.test", "_dmarc.nothing.test"}},
    {"spfonly.test",
     NULL,
     false,
     {NULL},
     0,
     DMARC_NONE,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "",
     {"_dmarc.spfonly.test"}},
    {"nodata.test",
     NULL,
     false,
     {NULL},
     0,
     DMARC_NONE,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "",
     {"_dmarc.nodata.test"}},
    {"mixed.test",
     NULL,
     false,
     {NULL},
     0,
     DMARC_FAIL,
     DMARC_POLICY_QUARANTINE,
     DMARC_VIA_NONE,
     "mixed.test",
     {"_dmarc.mixed.test"}},
    /* two DMARC records: none, and no fallback to the org domain */
    {"two.test",
     NULL,
     false,
     {NULL},
     0,
     DMARC_NONE,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "two.test",
     {"_dmarc.two.test"}},
    {"x.two.test",
     NULL,
     false,
     {NULL},
     0,
     DMARC_NONE,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "two.test",
     {"_dmarc.x.two.test", "_dmarc.two.test"}},
    /* junk in a known tag: permerror, nothing applied */
    {"junk.test",
     NULL,
     false,
     {NULL},
     0,
     DMARC_PERMERROR,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "junk.test",
     {"_dmarc.junk.test"}},
    /* no p= but rua=: p=none */
    {"ruaonly.test",
     NULL,
     false,
     {NULL},
     0,
     DMARC_FAIL,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "ruaonly.test",
     {"_dmarc.ruaonly.test"}},
    /* DNS trouble */
    {"temp.test",
     NULL,
     false,
     {NULL},
     0,
     DMARC_TEMPERROR,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "temp.test",
     {"_dmarc.temp.test"}},
    {"x.orgtemp.test",
     NULL,
     false,
     {NULL},
     0,
     DMARC_TEMPERROR,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "orgtemp.test",
     {"_dmarc.x.orgtemp.test", "_dmarc.orgtemp.test"}},
    /* pct: in the sample, out of it (one step milder), 0 */
    {"half.test",
     NULL,
     false,
     {NULL},
     49,
     DMARC_FAIL,
     DMARC_POLICY_REJECT,
     DMARC_VIA_NONE,
     "half.test",
     {"_dmarc.half.test"}},
    {"half.test",
     NULL,
     false,
     {NULL},
     50,
     DMARC_FAIL,
     DMARC_POLICY_QUARANTINE,
     DMARC_VIA_NONE,
     "half.test",
     {"_dmarc.half.test"}},
    {"halfq.test",
     NULL,
     false,
     {NULL},
     99,
     DMARC_FAIL,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "halfq.test",
     {"_dmarc.halfq.test"}},
    {"zero.test",
     NULL,
     false,
     {NULL},
     0,
     DMARC_FAIL,
     DMARC_POLICY_QUARANTINE,
     DMARC_VIA_NONE,
     "zero.test",
     {"_dmarc.zero.test"}},
    /* SPF passed but not for an aligned domain; SPF aligned but not pass */
    {"example.com",
     "example.com.evil.test",
     true,
     {NULL},
     0,
     DMARC_FAIL,
     DMARC_POLICY_REJECT,
     DMARC_VIA_NONE,
     "example.com",
     {"_dmarc.example.com"}},
    /* a From domain that is no domain */
    {"", NULL, false, {NULL}, 0, DMARC_PERMERROR, DMARC_POLICY_NONE, DMARC_VIA_NONE, "", {NULL}},
    {"exa_mple.com",
     NULL,
     false,
     {NULL},
     0,
     DMARC_PERMERROR,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "",
     {NULL}},
    {"-x.example.com",
     NULL,
     false,
     {NULL},
     0,
     DMARC_PERMERROR,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "",
     {NULL}},
    {"a..example.com",
     NULL,
     false,
     {NULL},
     0,
     DMARC_PERMERROR,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "",
     {NULL}},
    {"caf\xc3\xa9.example.com",
     NULL,
     false,
     {NULL},
     0,
     DMARC_PERMERROR,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "",
     {NULL}},
    /* a From domain so long that _dmarc.FROM cannot exist: only the org domain is asked */
    {LONG_SUB ".example.com",
     NULL,
     false,
     {NULL},
     0,
     DMARC_FAIL,
     DMARC_POLICY_QUARANTINE,
     DMARC_VIA_NONE,
     "example.com",
     {"_dmarc.example.com"}},
    {LONG_SUB ".nothing.test",
     NULL,
     false,
     {NULL},
     0,
     DMARC_NONE,
     DMARC_POLICY_NONE,
     DMARC_VIA_NONE,
     "",
     {"_dmarc.nothing.test"}},
};

static void
run_row(size_t i, bool later)
{
    struct fake f = {zone, COUNT(zone), later, false, 0, {{0}}, NULL, NULL, {0}};
    struct dmarc_dns dns = {fake_txt, &f};
    struct got g = {0};
    unsigned sample = eval_rows[i].sample;
    struct dmarc_input in = {eval_rows[i].from,
                             eval_rows[i].spf_domain,
                             eval_rows[i].spf_pass,
                             eval_rows[i].dkim,
                             eval_rows[i].dkim[1]   ? 2u
                             : eval_rows[i].dkim[0] ? 1u
                                                    : 0u,
                             sample_fixed,
                             &sample};
    struct dmarc_eval *ev = dmarc_eval_new(psl, &dns, on_done, &g);
    int rounds = 0;

    assert_non_null(ev);
    dmarc_eval_start(ev, &in);
    while (later && f.cb != NULL && rounds++ < 4) {
        assert_int_equal(g.calls, 0);
        fake_release(&f);
    }
    if (g.calls != 1)
        fail_msg("row %zu %s: done called %d times", i, eval_rows[i].from, g.calls);
    if (g.r.status != eval_rows[i].want || g.r.policy != eval_rows[i].policy ||
        g.r.via != eval_rows[i].via || strcmp(g.r.policy_domain, eval_rows[i].policy_domain) != 0)
        fail_msg("row %zu %s: got %s policy %s via %d at \"%s\" (%s)", i, eval_rows[i].from,
                 dmarc_status_name(g.r.status), dmarc_policy_name(g.r.policy), g.r.via,
                 g.r.policy_domain, g.r.reason);
    for (int k = 0; k < 3; k++) {
        if (eval_rows[i].asked[k] == NULL) {
            assert_int_equal(f.asked, k);
            break;
        }
        assert_true(k < f.asked);
        assert_string_equal(f.names[k], eval_rows[i].asked[k]);
    }
    dmarc_eval_free(ev);
}

static void
test_eval_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(eval_rows); i++) {
        run_row(i, false);
        run_row(i, true);
    }
}

/* pct sampled_out and the published policy are reported. */
static void
test_eval_sampled_out(void **state)
{
    struct fake f = {zone, COUNT(zone), false, false, 0, {{0}}, NULL, NULL, {0}};
    struct dmarc_dns dns = {fake_txt, &f};
    struct got g = {0};
    unsigned sample = 77;
    struct dmarc_input in = {"half.test", NULL, false, NULL, 0, sample_fixed, &sample};
    struct dmarc_eval *ev = dmarc_eval_new(psl, &dns, on_done, &g);

    (void)state;
    dmarc_eval_start(ev, &in);
    assert_int_equal(g.calls, 1);
    assert_true(g.r.sampled_out);
    assert_int_equal(g.r.published, DMARC_POLICY_REJECT);
    assert_int_equal(g.r.policy, DMARC_POLICY_QUARANTINE);
    dmarc_eval_free(ev);
}

/* The default sampler (arc4random_uniform) only ever gives reject or quarantine for pct=50. */
static void
test_eval_default_sampler(void **state)
{
    (void)state;
    for (int i = 0; i < 64; i++) {
        struct fake f = {zone, COUNT(zone), false, false, 0, {{0}}, NULL, NULL, {0}};
        struct dmarc_dns dns = {fake_txt, &f};
        struct got g = {0};
        struct dmarc_input in = {"half.test", NULL, false, NULL, 0, NULL, NULL};
        struct dmarc_eval *ev = dmarc_eval_new(psl, &dns, on_done, &g);

        dmarc_eval_start(ev, &in);
        assert_int_equal(g.r.status, DMARC_FAIL);
        assert_true(g.r.policy ==
                    (g.r.sampled_out ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_REJECT));
        dmarc_eval_free(ev);
    }
}

/* A lookup that cannot start is a temperror; done still runs once. */
static void
test_eval_refused(void **state)
{
    struct fake f = {zone, COUNT(zone), false, true, 0, {{0}}, NULL, NULL, {0}};
    struct dmarc_dns dns = {fake_txt, &f};
    struct got g = {0};
    struct dmarc_input in = {"example.com", NULL, false, NULL, 0, NULL, NULL};
    struct dmarc_eval *ev = dmarc_eval_new(psl, &dns, on_done, &g);

    (void)state;
    dmarc_eval_start(ev, &in);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.r.status, DMARC_TEMPERROR);
    dmarc_eval_free(ev);
}

/* Freed while a lookup is out: done never runs, the answer frees it (ASan checks). */
static void
test_eval_free_pending(void **state)
{
    struct fake f = {zone, COUNT(zone), true, false, 0, {{0}}, NULL, NULL, {0}};
    struct dmarc_dns dns = {fake_txt, &f};
    struct got g = {0};
    struct dmarc_input in = {"sub.example.com", NULL, false, NULL, 0, NULL, NULL};
    struct dmarc_eval *ev = dmarc_eval_new(psl, &dns, on_done, &g);

    (void)state;
    dmarc_eval_start(ev, &in);
    dmarc_eval_free(ev);
    fake_release(&f);
    assert_int_equal(g.calls, 0);
    assert_null(f.cb); /* no second lookup was started */
}

/* done may free the evaluation, answered at once or later. */
static void
test_eval_free_in_done(void **state)
{
    (void)state;
    for (int later = 0; later < 2; later++) {
        struct fake f = {zone, COUNT(zone), later, false, 0, {{0}}, NULL, NULL, {0}};
        struct dmarc_dns dns = {fake_txt, &f};
        struct got g = {0};
        struct dmarc_input in = {"sub.example.com", NULL, false, NULL, 0, NULL, NULL};
        struct dmarc_eval *ev = dmarc_eval_new(psl, &dns, on_done, &g);

        g.free_me = ev;
        dmarc_eval_start(ev, &in);
        for (int r = 0; r < 3 && f.cb != NULL; r++)
            fake_release(&f);
        assert_int_equal(g.calls, 1);
        assert_int_equal(g.r.status, DMARC_FAIL);
        assert_null(g.free_me);
    }
}

/* Many passing DKIM domains: bounded, the aligned one past the cap is not seen. */
static void
test_eval_many_dkim(void **state)
{
    const char *d[40];
    struct fake f = {zone, COUNT(zone), false, false, 0, {{0}}, NULL, NULL, {0}};
    struct dmarc_dns dns = {fake_txt, &f};
    struct got g = {0};
    struct dmarc_input in = {"example.com", NULL, false, d, 40, NULL, NULL};
    struct dmarc_eval *ev;

    (void)state;
    for (int i = 0; i < 40; i++)
        d[i] = "other.test";
    d[3] = "example.com";
    ev = dmarc_eval_new(psl, &dns, on_done, &g);
    dmarc_eval_start(ev, &in);
    assert_int_equal(g.r.status, DMARC_PASS);
    dmarc_eval_free(ev);

    d[3] = "other.test";
    d[39] = "example.com";
    g.calls = 0;
    ev = dmarc_eval_new(psl, &dns, on_done, &g);
    dmarc_eval_start(ev, &in);
    assert_int_equal(g.r.status, DMARC_FAIL);
    dmarc_eval_free(ev);
}

static void
test_psl_load_file(void **state)
{
    char err[128];
    struct dmarc_psl *p;
    char out[DMARC_DOMAIN_MAX + 1];

    (void)state;
    p = dmarc_psl_load("/usr/share/publicsuffix/public_suffix_list.dafsa", err, sizeof(err));
    assert_non_null(p);
    assert_int_equal(dmarc_org_domain(p, "a.b.example.co.uk", out, sizeof(out)), 0);
    assert_string_equal(out, "example.co.uk");
    assert_int_equal(dmarc_org_domain(p, "example.co.uk", out, 0), -1);
    assert_int_equal(dmarc_org_domain(p, "example.co.uk", out, 5), -1);
    dmarc_psl_free(p);
    assert_null(dmarc_psl_load("/nonexistent/psl.dafsa", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/psl.dafsa"));
    dmarc_psl_free(NULL);
}

static void
test_names(void **state)
{
    (void)state;
    assert_string_equal(dmarc_status_name(DMARC_PERMERROR), "permerror");
    assert_string_equal(dmarc_policy_name(DMARC_POLICY_QUARANTINE), "quarantine");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_rows),
        cmocka_unit_test(test_record_sizes),
        cmocka_unit_test(test_org_domain),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_eval_rows),
        cmocka_unit_test(test_eval_sampled_out),
        cmocka_unit_test(test_eval_default_sampler),
        cmocka_unit_test(test_eval_refused),
        cmocka_unit_test(test_eval_free_pending),
        cmocka_unit_test(test_eval_free_in_done),
        cmocka_unit_test(test_eval_many_dkim),
        cmocka_unit_test(test_psl_load_file),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, setup_psl, teardown_psl);
}
