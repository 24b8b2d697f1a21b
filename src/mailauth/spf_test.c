/* SPDX-License-Identifier: MIT */
/*
 * SPF against a fake DNS: a table of records answered later, from a pump
 * loop (never inside the call that asked, as struct spf_dns promises). The
 * RFC 7208 appendix A examples, every result, the limits of 4.6.4, loops,
 * redirect, the explanation, the macro examples of 7.4, and hostile
 * records and macros.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailauth/spf.h"

/* ---- the fake DNS ---- */

/* One record: type 'T' TXT, 'A' A, '6' AAAA, 'M' MX, 'P' PTR (name: the
 * address as text). data "TEMPFAIL" makes every lookup of name and type fail. */
struct rr {
    char type;
    const char *name;
    const char *data;
};

#define PENDING_MAX 8

struct pending {
    char kind; /* 'T', 'A' (family in family), 'M', 'P' */
    char name[300];
    int family;
    spf_txt_fn *txt_fn;
    spf_addrs_fn *addrs_fn;
    spf_names_fn *names_fn;
    void *arg;
};

struct fake {
    const struct rr *zones[4]; /* NULL-terminated tables, each ended by a {0} row */
    struct pending q[PENDING_MAX];
    size_t nq;
    unsigned queries[128];
    size_t asked; /* lookups in all */
    bool in_call; /* inside a table function: answering now is a bug */
};

static int
fake_push(struct fake *f, struct pending *p)
{
    assert_true(f->nq < PENDING_MAX);
    f->q[f->nq++] = *p;
    f->asked++;
    return 0;
}

static int
fake_txt(void *ctx, const char *name, spf_txt_fn *fn, void *arg)
{
    struct pending p = {.kind = 'T', .txt_fn = fn, .arg = arg};

    if (strlen(name) >= sizeof(p.name) || strchr(name, ' ') != NULL)
        return -1;
    memcpy(p.name, name, strlen(name) + 1);
    return fake_push(ctx, &p);
}

static int
fake_addrs(void *ctx, const char *name, int family, spf_addrs_fn *fn, void *arg)
{
    struct pending p = {.kind = 'A', .family = family, .addrs_fn = fn, .arg = arg};

    if (strlen(name) >= sizeof(p.name))
        return -1;
    memcpy(p.name, name, strlen(name) + 1);
    return fake_push(ctx, &p);
}

static int
fake_mx(void *ctx, const char *name, spf_names_fn *fn, void *arg)
{
    struct pending p = {.kind = 'M', .names_fn = fn, .arg = arg};

    if (strlen(name) >= sizeof(p.name))
        return -1;
    memcpy(p.name, name, strlen(name) + 1);
    return fake_push(ctx, &p);
}

static int
fake_ptr(void *ctx, const struct spf_ip *ip, spf_names_fn *fn, void *arg)
{
    struct pending p = {.kind = 'P', .names_fn = fn, .arg = arg};

    assert_non_null(inet_ntop(ip->family, ip->b, p.name, sizeof(p.name)));
    return fake_push(ctx, &p);
}

/* Answers the oldest pending lookup from the tables. */
static void
fake_answer(struct fake *f)
{
    struct pending p = f->q[0];
    char type = p.kind == 'A' ? (p.family == AF_INET6 ? '6' : 'A') : p.kind;
    struct spf_txt txt[32];
    struct spf_ip ip[32];
    const char *names[32];
    size_t n = 0;
    bool exists = false, tempfail = false;
    enum spf_dns_status st;

    memmove(f->q, f->q + 1, (f->nq - 1) * sizeof(f->q[0]));
    f->nq--;
    for (size_t z = 0; z < 4 && f->zones[z] != NULL; z++) {
        for (const struct rr *r = f->zones[z]; r->type != 0; r++) {
            if (strcasecmp(r->name, p.name) != 0)
                continue;
            exists = true;
            if (r->type != type)
                continue;
            if (strcmp(r->data, "TEMPFAIL") == 0) {
                tempfail = true;
                continue;
            }
            assert_true(n < 32);
            if (type == 'T') {
                txt[n].text = r->data;
                txt[n].len = strlen(r->data);
            } else if (type == 'A' || type == '6') {
                ip[n].family = type == 'A' ? AF_INET : AF_INET6;
                memset(ip[n].b, 0, 16);
                assert_int_equal(inet_pton(ip[n].family, r->data, ip[n].b), 1);
            } else {
                names[n] = r->data;
            }
            n++;
        }
    }
    st = tempfail ? SPF_DNS_TEMPFAIL
         : n > 0  ? SPF_DNS_OK
         : exists ? SPF_DNS_NODATA
                  : SPF_DNS_NXDOMAIN;
    if (st != SPF_DNS_OK)
        n = 0;
    if (p.kind == 'T')
        p.txt_fn(p.arg, st, txt, n);
    else if (p.kind == 'A')
        p.addrs_fn(p.arg, st, ip, n);
    else
        p.names_fn(p.arg, st, names, n);
}

struct got {
    bool done;
    struct spf_answer a;
};

static void
got_done(void *arg, const struct spf_answer *a)
{
    struct got *g = arg;

    assert_false(g->done);
    g->done = true;
    g->a = *a;
}

/* Runs check_host() to its end with the zones given (NULL-ended). */
static struct spf_answer
check(const char *ip_text, const char *sender, const char *helo, const struct rr *z0,
      const struct rr *z1)
{
    struct fake f;
    struct spf_dns dns = {.txt = fake_txt, .addrs = fake_addrs, .mx = fake_mx, .ptr = fake_ptr};
    struct spf_ip ip;
    struct got g;
    struct spf_answer now;
    struct spf_eval *e;
    size_t rounds = 0;

    memset(&f, 0, sizeof(f));
    memset(&g, 0, sizeof(g));
    f.zones[0] = z0;
    f.zones[1] = z1;
    dns.ctx = &f;
    assert_int_equal(spf_ip_parse(ip_text, &ip), 0);
    e = spf_eval_start(&dns, &ip, sender, helo, "mx.receiver.example", 1700000000, got_done, &g,
                       &now);
    if (e == NULL)
        return now;
    assert_false(g.done);
    while (!g.done) {
        assert_true(f.nq > 0);
        assert_true(++rounds < 200);
        fake_answer(&f);
    }
    assert_int_equal(f.nq, 0);
    spf_eval_free(e);
    return g.a;
}

/* ---- RFC 7208 appendix A ---- */

static const struct rr zone_a1[] = {
    {'M', "example.com", "mx.example.com"},
    {'M', "example.com", "mx2.example.com"},
    {'A', "mx.example.com", "192.0.2.129"},
    {'A', "mx2.example.com", "192.0.2.130"},
    {'A', "amy.example.com", "192.0.2.65"},
    {'A', "bob.example.com", "192.0.2.66"},
    {'A', "mail-a.example.com", "192.0.2.10"},
    {'A', "mail-b.example.com", "192.0.2.11"},
    {'A', "mail-c.example.org", "192.0.2.12"},
    {'A', "example.com", "192.0.2.10"},
    {'A', "example.com", "192.0.2.11"},
    {'M', "example.org", "mail-c.example.org"},
    {'T', "example.org", "some other text"},
    {'P', "192.0.2.10", "example.com"},
    {'P', "192.0.2.11", "example.com"},
    {'P', "192.0.2.65", "amy.example.com"},
    {'P', "192.0.2.66", "bob.example.com"},
    {'P', "192.0.2.129", "mx.example.com"},
    {'P', "192.0.2.130", "mx2.example.com"},
    {'P', "192.0.2.140", "mx.example.com"},
    {0, NULL, NULL},
};

static void
test_rfc_appendix_a1(void **state)
{
    static const struct {
        const char *record;
        const char *pass[7]; /* addresses that pass; the others of `all` fail */
    } rows[] = {
        {"v=spf1 +all",
         {"192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.65", "192.0.2.66", "192.0.2.129",
          "192.0.2.140"}},
        {"v=spf1 a -all", {"192.0.2.10", "192.0.2.11"}},
        {"v=spf1 a:example.org -all", {NULL}},
        {"v=spf1 mx -all", {"192.0.2.129", "192.0.2.130"}},
        {"v=spf1 mx:example.org -all", {"192.0.2.12"}},
        {"v=spf1 mx mx:example.org -all", {"192.0.2.129", "192.0.2.130", "192.0.2.12"}},
        {"v=spf1 mx/30 mx:example.org/30 -all",
         {"192.0.2.129", "192.0.2.130", "192.0.2.12", "192.0.2.13", "192.0.2.131"}},
        {"v=spf1 ptr -all",
         {"192.0.2.10", "192.0.2.11", "192.0.2.65", "192.0.2.66", "192.0.2.129", "192.0.2.130"}},
        {"v=spf1 ip4:192.0.2.128/28 -all",
         {"192.0.2.129", "192.0.2.130", "192.0.2.131", "192.0.2.140"}},
    };
    static const char *const all[] = {"192.0.2.10",  "192.0.2.11",  "192.0.2.12",  "192.0.2.13",
                                      "192.0.2.65",  "192.0.2.66",  "192.0.2.129", "192.0.2.130",
                                      "192.0.2.131", "192.0.2.140", "198.51.100.1"};

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct rr rec[] = {{'T', "example.com", rows[i].record}, {0, NULL, NULL}};

        for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
            bool pass = false;
            struct spf_answer a;

            for (size_t j = 0; j < 7 && rows[i].pass[j] != NULL; j++)
                pass = pass || strcmp(rows[i].pass[j], all[k]) == 0;
            if (strcmp(rows[i].record, "v=spf1 +all") == 0)
                pass = true;
            a = check(all[k], "user@example.com", "helo.example.com", zone_a1, rec);
            if (a.result != (pass ? SPF_PASS : SPF_FAIL))
                fail_msg("%s from %s: %s (%s)", rows[i].record, all[k], spf_result_name(a.result),
                         a.reason);
        }
    }
}

/* ---- every result ---- */

static const struct rr zone_results[] = {
    {'T', "pass.test", "v=spf1 ip4:192.0.2.0/24 -all"},
    {'T', "fail.test", "v=spf1 -all"},
    {'T', "softfail.test", "v=spf1 ~all"},
    {'T', "neutral.test", "v=spf1 ?all"},
    {'T', "nomatch.test", "v=spf1 ip4:198.51.100.0/24"},
    {'T', "other.test", "hello world"},
    {'T', "other.test", "v=spf10 -all"},
    {'T', "two.test", "v=spf1 -all"},
    {'T', "two.test", "v=spf1 +all"},
    {'T', "temp.test", "TEMPFAIL"},
    {'T', "atemp.test", "v=spf1 a:down.test -all"},
    {'A', "down.test", "TEMPFAIL"},
    {'T', "syntax.test", "v=spf1 +all foo"},
    {'T', "incperm.test", "v=spf1 include:syntax.test +all"},
    {'T', "inctemp.test", "v=spf1 include:temp.test +all"},
    {'T', "incnone.test", "v=spf1 include:nothing.test +all"},
    {'T', "incfail.test", "v=spf1 include:fail.test ?all"},
    {'T', "incpass.test", "v=spf1 -include:pass.test +all"},
    {'T', "upper.test", "V=SPF1 -ALL"},
    {'T', "spaces.test", "v=spf1   ip4:192.0.2.1   -all   "},
    {'T', "empty.test", "v=spf1"},
    {'T', "v6.test", "v=spf1 ip6:2001:db8::/32 ip4:192.0.2.1 -all"},
    {'T', "helo.test", "v=spf1 a -all"},
    {'A', "helo.test", "192.0.2.44"},
    {0, NULL, NULL},
};

static void
test_results(void **state)
{
    static const struct {
        const char *ip;
        const char *sender;
        enum spf_result want;
        const char *mechanism;
    } rows[] = {
        {"192.0.2.1", "a@pass.test", SPF_PASS, "ip4:192.0.2.0/24"},
        {"::ffff:192.0.2.1", "a@pass.test", SPF_PASS, "ip4:192.0.2.0/24"},
        {"198.51.100.1", "a@pass.test", SPF_FAIL, "-all"},
        {"192.0.2.1", "a@fail.test", SPF_FAIL, "-all"},
        {"192.0.2.1", "a@softfail.test", SPF_SOFTFAIL, "~all"},
        {"192.0.2.1", "a@neutral.test", SPF_NEUTRAL, "?all"},
        {"192.0.2.1", "a@nomatch.test", SPF_NEUTRAL, ""},
        {"192.0.2.1", "a@nosuch.test", SPF_NONE, ""},
        {"192.0.2.1", "a@other.test", SPF_NONE, ""},
        {"192.0.2.1", "a@two.test", SPF_PERMERROR, ""},
        {"192.0.2.1", "a@temp.test", SPF_TEMPERROR, ""},
        {"192.0.2.1", "a@atemp.test", SPF_TEMPERROR, ""},
        {"192.0.2.1", "a@syntax.test", SPF_PERMERROR, ""},
        {"192.0.2.1", "a@incperm.test", SPF_PERMERROR, ""},
        {"192.0.2.1", "a@inctemp.test", SPF_TEMPERROR, ""},
        {"192.0.2.1", "a@incnone.test", SPF_PERMERROR, ""},
        {"192.0.2.1", "a@incfail.test", SPF_NEUTRAL, "?all"},
        {"192.0.2.1", "a@incpass.test", SPF_FAIL, "-include:pass.test"},
        {"198.51.100.1", "a@incpass.test", SPF_PASS, "+all"},
        {"192.0.2.1", "a@upper.test", SPF_FAIL, "-ALL"},
        {"192.0.2.1", "a@spaces.test", SPF_PASS, "ip4:192.0.2.1"},
        {"192.0.2.1", "a@empty.test", SPF_NEUTRAL, ""},
        {"2001:db8::1", "a@v6.test", SPF_PASS, "ip6:2001:db8::/32"},
        {"2001:db9::1", "a@v6.test", SPF_FAIL, "-all"},
        {"192.0.2.1", "a@v6.test", SPF_PASS, "ip4:192.0.2.1"},
        /* <>: postmaster@ the HELO name (2.4). */
        {"192.0.2.44", "", SPF_PASS, "a"},
        {"192.0.2.45", "", SPF_FAIL, "-all"},
        /* 4.3: not a name: none without a lookup. */
        {"192.0.2.1", "a@localhost", SPF_NONE, ""},
        {"192.0.2.1", "a@a..test", SPF_NONE, ""},
        {"192.0.2.1", "a@.test", SPF_NONE, ""},
        {"192.0.2.1", "a@xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.test",
         SPF_NONE, ""},
        {"192.0.2.1", "a@pass.test.", SPF_PASS, "ip4:192.0.2.0/24"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct spf_answer a = check(rows[i].ip, rows[i].sender, "helo.test", zone_results, NULL);

        if (a.result != rows[i].want || strcmp(a.mechanism, rows[i].mechanism) != 0)
            fail_msg("row %zu %s %s: %s '%s' (%s)", i, rows[i].ip, rows[i].sender,
                     spf_result_name(a.result), a.mechanism, a.reason);
    }
}

/* ---- limits, loops, redirect ---- */

static const struct rr zone_limits[] = {
    /* A chain of includes: inc0 includes inc1 ... inc10 (11 in all from top11). */
    {'T', "top10.test",
     "v=spf1 include:i1.test include:i2.test include:i3.test include:i4.test include:i5.test "
     "include:i6.test include:i7.test include:i8.test include:i9.test include:ok.test -all"},
    {'T', "top11.test",
     "v=spf1 include:i1.test include:i2.test include:i3.test include:i4.test include:i5.test "
     "include:i6.test include:i7.test include:i8.test include:i9.test include:i10.test "
     "include:ok.test -all"},
    {'T', "i1.test", "v=spf1 ?all"},
    {'T', "i2.test", "v=spf1 ?all"},
    {'T', "i3.test", "v=spf1 ?all"},
    {'T', "i4.test", "v=spf1 ?all"},
    {'T', "i5.test", "v=spf1 ?all"},
    {'T', "i6.test", "v=spf1 ?all"},
    {'T', "i7.test", "v=spf1 ?all"},
    {'T', "i8.test", "v=spf1 ?all"},
    {'T', "i9.test", "v=spf1 ?all"},
    {'T', "i10.test", "v=spf1 ?all"},
    {'T', "ok.test", "v=spf1 ip4:192.0.2.1"},
    {'T', "void2.test", "v=spf1 a:no1.test a:no2.test ip4:192.0.2.1 -all"},
    {'T', "void3.test", "v=spf1 a:no1.test a:no2.test mx:no3.test ip4:192.0.2.1 -all"},
    {'T', "voidnodata.test", "v=spf1 a:hasa.test a:hasa.test a:hasa.test ip4:192.0.2.1 -all"},
    {'A', "hasa.test", "192.0.2.200"},
    {'T', "loop1.test", "v=spf1 include:loop2.test -all"},
    {'T', "loop2.test", "v=spf1 include:loop1.test -all"},
    {'T', "self.test", "v=spf1 include:self.test -all"},
    {'T', "rloop.test", "v=spf1 redirect=rloop.test"},
    {'T', "redir.test", "v=spf1 ip4:198.51.100.1 redirect=ok.test"},
    {'T', "redir-all.test", "v=spf1 -all redirect=ok.test"},
    {'T', "redir-none.test", "v=spf1 redirect=nothing.test"},
    {'T', "inc-redir.test", "v=spf1 include:redir.test -all"},
    {'T', "mx11.test", "v=spf1 mx -all"},
    {'M', "mx11.test", "m1.test"},
    {'M', "mx11.test", "m2.test"},
    {'M', "mx11.test", "m3.test"},
    {'M', "mx11.test", "m4.test"},
    {'M', "mx11.test", "m5.test"},
    {'M', "mx11.test", "m6.test"},
    {'M', "mx11.test", "m7.test"},
    {'M', "mx11.test", "m8.test"},
    {'M', "mx11.test", "m9.test"},
    {'M', "mx11.test", "m10.test"},
    {'M', "mx11.test", "m11.test"},
    {'T', "ptr11.test", "v=spf1 ptr -all"},
    {'P', "192.0.2.99", "p1.ptr11.test"},
    {'P', "192.0.2.99", "p2.ptr11.test"},
    {'P', "192.0.2.99", "p3.ptr11.test"},
    {'P', "192.0.2.99", "p4.ptr11.test"},
    {'P', "192.0.2.99", "p5.ptr11.test"},
    {'P', "192.0.2.99", "p6.ptr11.test"},
    {'P', "192.0.2.99", "p7.ptr11.test"},
    {'P', "192.0.2.99", "p8.ptr11.test"},
    {'P', "192.0.2.99", "p9.ptr11.test"},
    {'P', "192.0.2.99", "p10.ptr11.test"},
    {'P', "192.0.2.99", "p11.ptr11.test"},
    {'A', "p1.ptr11.test", "192.0.2.1"},
    {'A', "p2.ptr11.test", "192.0.2.1"},
    {'A', "p3.ptr11.test", "192.0.2.1"},
    {'A', "p4.ptr11.test", "192.0.2.1"},
    {'A', "p5.ptr11.test", "192.0.2.1"},
    {'A', "p6.ptr11.test", "192.0.2.1"},
    {'A', "p7.ptr11.test", "192.0.2.1"},
    {'A', "p8.ptr11.test", "192.0.2.1"},
    {'A', "p9.ptr11.test", "192.0.2.1"},
    {'A', "p10.ptr11.test", "192.0.2.1"},
    {'A', "p11.ptr11.test", "192.0.2.99"},
    {'T', "exp.test", "v=spf1 -all exp=e.%{d}"},
    {'T', "e.exp.test", "%{i} is not allowed to send for %{d} (%{s}, %{c} at %{r} %{t}) "},
    {'T', "expjunk.test", "v=spf1 -all exp=e.expjunk.test"},
    {'T', "e.expjunk.test", "%{i} is not allowed \x01\xff"},
    {'T', "expbom.test", "v=spf1 -all exp=e.expbom.test"},
    {'T', "e.expbom.test",
     "\xef\xbb\xbf"
     "Explanation"},
    /* 20 times %{o}: 266 octets, more than a name holds, cut to 251. */
    {'T', "explong.test",
     "v=spf1 -all exp=foobar.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}."
     "%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}"},
    {'T',
     "test.explong.test.explong.test.explong.test.explong.test.explong.test.explong.test."
     "explong.test.explong.test.explong.test.explong.test.explong.test.explong.test."
     "explong.test.explong.test.explong.test.explong.test.explong.test.explong.test."
     "explong.test",
     "cut"},
    {'T', "expbad.test", "v=spf1 -all exp=nothing.test"},
    {'T', "exptwo.test", "v=spf1 -all exp=two.exptwo.test"},
    {'T', "two.exptwo.test", "one"},
    {'T', "two.exptwo.test", "two"},
    {'T', "expsoft.test", "v=spf1 ~all exp=e.exp.test"},
    {'T', "expmacro.test", "v=spf1 -all exp=m.expmacro.test"},
    {'T', "m.expmacro.test", "bad %{z} macro"},
    {'T', "expredir.test", "v=spf1 exp=e.exp.test redirect=fail2.test"},
    {'T', "fail2.test", "v=spf1 -all"},
    {0, NULL, NULL},
};

static void
test_limits(void **state)
{
    static const struct {
        const char *ip;
        const char *sender;
        enum spf_result want;
        const char *reason;
    } rows[] = {
        {"192.0.2.1", "a@top10.test", SPF_PASS, ""},
        {"192.0.2.1", "a@top11.test", SPF_PERMERROR, "more than 10 DNS lookups"},
        {"192.0.2.1", "a@void2.test", SPF_PASS, ""},
        {"192.0.2.1", "a@void3.test", SPF_PERMERROR, "more than 2 void lookups"},
        /* The same name thrice, each answered: no void lookup. */
        {"192.0.2.1", "a@voidnodata.test", SPF_PASS, ""},
        {"192.0.2.1", "a@loop1.test", SPF_PERMERROR, "more than 10 DNS lookups"},
        {"192.0.2.1", "a@self.test", SPF_PERMERROR, "more than 10 DNS lookups"},
        {"192.0.2.1", "a@rloop.test", SPF_PERMERROR, "more than 10 DNS lookups"},
        {"192.0.2.1", "a@redir.test", SPF_PASS, ""},
        {"198.51.100.1", "a@redir.test", SPF_PASS, ""},
        {"192.0.2.2", "a@redir.test", SPF_NEUTRAL, ""},
        {"192.0.2.1", "a@redir-all.test", SPF_FAIL, ""},
        {"192.0.2.1", "a@redir-none.test", SPF_PERMERROR, "no SPF record at the redirect target"},
        {"192.0.2.1", "a@inc-redir.test", SPF_PASS, ""},
        {"192.0.2.2", "a@inc-redir.test", SPF_FAIL, ""},
        {"192.0.2.1", "a@mx11.test", SPF_PERMERROR, "more than 10 MX names"},
        /* Only the first 10 PTR names are looked at: the 11th would validate. */
        {"192.0.2.99", "a@ptr11.test", SPF_FAIL, ""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct spf_answer a = check(rows[i].ip, rows[i].sender, "helo.test", zone_limits, NULL);

        if (a.result != rows[i].want || strcmp(a.reason, rows[i].reason) != 0)
            fail_msg("row %zu %s %s: %s (%s)", i, rows[i].ip, rows[i].sender,
                     spf_result_name(a.result), a.reason);
    }
}

static void
test_explanation(void **state)
{
    struct spf_answer a;

    (void)state;
    a = check("192.0.2.3", "joe@exp.test", "helo.test", zone_limits, NULL);
    assert_int_equal(a.result, SPF_FAIL);
    /* c, r and t are allowed here. */
    assert_string_equal(a.exp, "192.0.2.3 is not allowed to send for exp.test (joe@exp.test, "
                               "192.0.2.3 at mx.receiver.example 1700000000) ");
    a = check("2001:db8::1", "joe@exp.test", "helo.test", zone_limits, NULL);
    assert_string_equal(a.exp, "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1 "
                               "is not allowed to send for exp.test (joe@exp.test, 2001:db8::1 at "
                               "mx.receiver.example 1700000000) ");
    /* No record, two records, a bad macro: fail without an explanation. */
    a = check("192.0.2.3", "joe@expbad.test", "helo.test", zone_limits, NULL);
    assert_int_equal(a.result, SPF_FAIL);
    assert_string_equal(a.exp, "");
    a = check("192.0.2.3", "joe@exptwo.test", "helo.test", zone_limits, NULL);
    assert_int_equal(a.result, SPF_FAIL);
    assert_string_equal(a.exp, "");
    a = check("192.0.2.3", "joe@expmacro.test", "helo.test", zone_limits, NULL);
    assert_int_equal(a.result, SPF_FAIL);
    assert_string_equal(a.exp, "");
    /* 6.2, 7.1: an octet outside SP and visible ASCII is a syntax error of
     * the explain-string, which is then left out, not cut. */
    a = check("192.0.2.3", "joe@expjunk.test", "helo.test", zone_limits, NULL);
    assert_int_equal(a.result, SPF_FAIL);
    assert_string_equal(a.exp, "");
    a = check("192.0.2.3", "joe@expbom.test", "helo.test", zone_limits, NULL);
    assert_int_equal(a.result, SPF_FAIL);
    assert_string_equal(a.exp, "");
    /* 7.3: an exp= name longer than 253 octets while it is expanded is cut
     * from the left (foobar and explong go), not refused. */
    a = check("192.0.2.3", "joe@explong.test", "helo.test", zone_limits, NULL);
    assert_int_equal(a.result, SPF_FAIL);
    assert_string_equal(a.exp, "cut");
    /* Only for fail. */
    a = check("192.0.2.3", "joe@expsoft.test", "helo.test", zone_limits, NULL);
    assert_int_equal(a.result, SPF_SOFTFAIL);
    assert_string_equal(a.exp, "");
    /* 6.2: a redirect's explanation is the target's (none here). */
    a = check("192.0.2.3", "joe@expredir.test", "helo.test", zone_limits, NULL);
    assert_int_equal(a.result, SPF_FAIL);
    assert_string_equal(a.exp, "");
}

/* The p macro (7.3): validated first, in mechanisms, redirect= and the explanation. */
static const struct rr zone_p[] = {
    {'P', "192.0.2.3", "mail.pm.test"},
    {'P', "192.0.2.3", "liar.other.test"},
    {'A', "mail.pm.test", "192.0.2.3"},
    {'A', "liar.other.test", "192.0.2.99"},
    {'T', "pm.test", "v=spf1 exists:%{p}.ok.pm.test -all"},
    {'A', "mail.pm.test.ok.pm.test", "127.0.0.2"},
    {'T', "pr.test", "v=spf1 redirect=%{p2}.r.test"},
    {'T', "pm.test.r.test", "v=spf1 +all"},
    {'T', "pe.test", "v=spf1 -all exp=%{p1}.e.pe.test"},
    {'T', "test.e.pe.test", "host %{p} (%{P}) refused"},
    {0, NULL, NULL},
};

static void
test_p_macro(void **state)
{
    struct spf_answer a;

    (void)state;
    a = check("192.0.2.3", "x@pm.test", "h.test", zone_p, NULL);
    assert_int_equal(a.result, SPF_PASS);
    assert_string_equal(a.mechanism, "exists:%{p}.ok.pm.test");
    /* No PTR: p is "unknown", which does not exist here. */
    a = check("192.0.2.4", "x@pm.test", "h.test", zone_p, NULL);
    assert_int_equal(a.result, SPF_FAIL);
    a = check("192.0.2.3", "x@pr.test", "h.test", zone_p, NULL);
    assert_int_equal(a.result, SPF_PASS);
    assert_string_equal(a.mechanism, "+all");
    a = check("192.0.2.4", "x@pr.test", "h.test", zone_p, NULL);
    assert_int_equal(a.result, SPF_PERMERROR);
    /* Not a subdomain of pe.test: any validated name; liar.other.test is not one. */
    a = check("192.0.2.3", "x@pe.test", "h.test", zone_p, NULL);
    assert_int_equal(a.result, SPF_FAIL);
    assert_string_equal(a.exp, "host mail.pm.test (mail.pm.test) refused");
}

/* spf_eval_free() with a lookup in flight: the answer reaches only the ticket. */
static void
test_free_in_flight(void **state)
{
    struct fake f;
    struct spf_dns dns = {.txt = fake_txt, .addrs = fake_addrs, .mx = fake_mx, .ptr = fake_ptr};
    struct spf_ip ip;
    struct got g;
    struct spf_answer now;
    struct spf_eval *e;

    (void)state;
    memset(&f, 0, sizeof(f));
    memset(&g, 0, sizeof(g));
    f.zones[0] = zone_limits;
    dns.ctx = &f;
    assert_int_equal(spf_ip_parse("192.0.2.1", &ip), 0);
    e = spf_eval_start(&dns, &ip, "a@top10.test", "h.test", NULL, 0, got_done, &g, &now);
    assert_non_null(e);
    fake_answer(&f);
    fake_answer(&f);
    assert_int_equal(f.nq, 1);
    spf_eval_free(e);
    fake_answer(&f);
    assert_false(g.done);
    assert_int_equal(f.nq, 0);
}

/* ---- macros (RFC 7208 7.4) ---- */

static void
test_macros_rfc(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } rows[] = {
        {"%{s}", "strong-bad@email.example.com"},
        {"%{o}", "email.example.com"},
        {"%{d}", "email.example.com"},
        {"%{d4}", "email.example.com"},
        {"%{d3}", "email.example.com"},
        {"%{d2}", "example.com"},
        {"%{d1}", "com"},
        {"%{dr}", "com.example.email"},
        {"%{d2r}", "example.email"},
        {"%{l}", "strong-bad"},
        {"%{l-}", "strong.bad"},
        {"%{lr}", "strong-bad"},
        {"%{lr-}", "bad.strong"},
        {"%{l1r-}", "strong"},
        {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
        {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
        {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
        {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
        {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
        {"%%%_%-", "% %20"},
        {"%{p}", "unknown"},
        {"%{h}", "mx.example.org"},
        {"%{S}", "strong-bad%40email.example.com"},
        {"%{d999}", "email.example.com"},
        {"%{l+-}", "strong.bad"},
        {"", ""},
    };
    struct spf_macro_env env = {
        .sender = "strong-bad@email.example.com",
        .local = "strong-bad",
        .sender_domain = "email.example.com",
        .domain = "email.example.com",
        .helo = "mx.example.org",
        .receiver = "mx.receiver.example",
        .now = 1,
    };
    char out[SPF_MACRO_OUT_CAP], err[128];

    (void)state;
    assert_int_equal(spf_ip_parse("192.0.2.3", &env.ip), 0);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (spf_macro_expand(slice_make(rows[i].in, strlen(rows[i].in)), &env, false, false, out,
                             sizeof(out), err, sizeof(err)) == -1)
            fail_msg("%s: %s", rows[i].in, err);
        if (strcmp(out, rows[i].out) != 0)
            fail_msg("%s: '%s', expected '%s'", rows[i].in, out, rows[i].out);
    }
    /* 7.4's IPv6 example. */
    assert_int_equal(spf_ip_parse("2001:db8::cb01", &env.ip), 0);
    assert_int_equal(spf_macro_expand(slice_make("%{ir}.%{v}._spf.%{d2}", 21), &env, false, true,
                                      out, sizeof(out), err, sizeof(err)),
                     0);
    assert_string_equal(out, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6."
                             "_spf.example.com");
    /* c, r, t in an explanation only. */
    assert_int_equal(spf_macro_expand(slice_make("%{c} %{r} %{t}", 14), &env, true, false, out,
                                      sizeof(out), err, sizeof(err)),
                     0);
    assert_string_equal(out, "2001:db8::cb01 mx.receiver.example 1");
}

static void
test_macros_hostile(void **state)
{
    static const char *const bad[] = {
        "%",   "%{",   "%{d",  "%{x}", "%{d0}", "%{dr", "%a",     "%{d2r+x}",
        "%{}", "%{c}", "%{r}", "%{t}", "%{i.",  "abc%", "%{d}%{",
    };
    struct spf_macro_env env = {
        .sender = "a@b.example",
        .local = "a",
        .sender_domain = "b.example",
        .domain = "b.example",
        .helo = "h.example",
        .receiver = "r.example",
    };
    char out[SPF_MACRO_OUT_CAP], small[8], err[128], big[600];
    size_t k = 0;

    (void)state;
    assert_int_equal(spf_ip_parse("192.0.2.3", &env.ip), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (spf_macro_expand(slice_make(bad[i], strlen(bad[i])), &env, false, false, out,
                             sizeof(out), err, sizeof(err)) != -1)
            fail_msg("'%s' expanded to '%s'", bad[i], out);
    }
    /* Too long for out. */
    assert_int_equal(spf_macro_expand(slice_make("%{s}%{s}", 8), &env, false, false, small,
                                      sizeof(small), err, sizeof(err)),
                     -1);
    /* 7.3: a name over 253 octets loses labels from the left. */
    for (int l = 0; l < 5; l++) {
        memset(big + k, 'a' + l, 60);
        k += 60;
        big[k++] = '.';
    }
    memcpy(big + k, "%{d}.", 5);
    k += 5;
    assert_int_equal(
        spf_macro_expand(slice_make(big, k), &env, false, true, out, sizeof(out), err, sizeof(err)),
        0);
    assert_true(strlen(out) <= 253);
    assert_int_equal(strncmp(out, "bbbb", 4), 0);
    assert_string_equal(out + strlen(out) - 10, ".b.example");
    /* A single label over 253 cannot be cut. */
    memset(big, 'x', 300);
    assert_int_equal(spf_macro_expand(slice_make(big, 300), &env, false, true, out, sizeof(out),
                                      err, sizeof(err)),
                     -1);
    /* Upper case: URL-escaped. */
    env.local = "a/b+c";
    assert_int_equal(spf_macro_expand(slice_make("%{L}", 4), &env, false, false, out, sizeof(out),
                                      err, sizeof(err)),
                     0);
    assert_string_equal(out, "a%2Fb%2Bc");
    assert_true(spf_macro_uses_p(slice_make("x.%{p}.y", 8)));
    assert_true(spf_macro_uses_p(slice_make("%{P2}", 5)));
    assert_false(spf_macro_uses_p(slice_make("%%{p}", 5)));
    assert_false(spf_macro_uses_p(slice_make("%{d}", 4)));
}

/* ---- records ---- */

static void
test_records(void **state)
{
    static const char *const good[] = {
        "v=spf1",
        "v=spf1 ",
        "V=SPF1 -ALL",
        "v=spf1   a   mx  -all   ",
        "v=spf1 a//64 a/24 a/24//64 a:foo.example/0//0",
        "v=spf1 mx:foo.example/24//64 ptr ptr:foo.example",
        "v=spf1 ip4:0.0.0.0/0 ip4:255.255.255.255/32 ip6:::/0 ip6:2001:db8::/128",
        "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all",
        "v=spf1 include:_spf.example.com ~all",
        "v=spf1 foo=bar x.y-z_w=%{d} -all",
        "v=spf1 redirect=_spf.example.com",
        "v=spf1 exp=explain.example.com -all",
        "v=spf1 a:example.com. a:foo-1.example a:%{d}",
        "v=spf1 a:1.example.2-3",
        /* 7.1: a domain-spec may hold '/' and ':'; the cidr is at the end. */
        "v=spf1 a:foo:bar/baz.example.com mx:foo:bar/baz.example.com/24//64",
        /* c, r, t in an unknown modifier: not a domain-spec, and never expanded. */
        "v=spf1 x=%{c}",
    };
    static const char *const bad[] = {
        "v=spf10",
        "spf1 -all",
        "v=spf1 foo",
        "v=spf1 +all foo",
        "v=spf1 1a",
        "v=spf1 =x",
        "v=spf1 -all:x",
        "v=spf1 allx",
        "v=spf1 a:",
        "v=spf1 a:foo",
        "v=spf1 a:foo.123",
        "v=spf1 a:foo.-example",
        "v=spf1 a/33",
        "v=spf1 a/01",
        "v=spf1 a//129",
        "v=spf1 a/24/64",
        "v=spf1 a/",
        "v=spf1 a:foo.example/",
        "v=spf1 mx:foo.example:25",
        "v=spf1 ip4",
        "v=spf1 ip4:",
        "v=spf1 ip4:1.2.3",
        "v=spf1 ip4:1.2.3.4/33",
        "v=spf1 ip4:01.2.3.4",
        "v=spf1 ip4:1.2.3.256",
        "v=spf1 ip4:2001:db8::1",
        "v=spf1 ip6:1.2.3.4",
        "v=spf1 ip6:::1/129",
        "v=spf1 ip6:::1//64",
        "v=spf1 include",
        "v=spf1 include:",
        "v=spf1 exists",
        "v=spf1 ptr:",
        "v=spf1 ptr/24",
        "v=spf1 redirect=a.example redirect=b.example",
        "v=spf1 exp=a.example exp=b.example",
        "v=spf1 redirect=",
        "v=spf1 -redirect=a.example",
        "v=spf1 x=%",
        "v=spf1 x=%{q}",
        "v=spf1 a:%{d0}%{",
        "v=spf1 a:b\x01.example",
        "v=spf1 a:b\xc3\xa9.example",
        "v=spf1\t-all",
        "v=spf1 -all\t",
        "v=spf1 ip4:1.2.3.4\0junk",
        /* 7.1: c, r and t only in an explanation's text, not in a domain-spec. */
        "v=spf1 exp=%{r}.example.com -all",
        "v=spf1 a:%{c}.example.com",
        "v=spf1 redirect=%{t}.example.com",
        "v=spf1 exists:%{C}.example.com",
        "v=spf1 a:foo.example.com/24/64",
        "v=spf1 a:foo.example.com//24/64",
        "v=spf1 mx:foo.example.com/033",
    };
    struct spf_record rec;
    char err[160];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (spf_record_parse(slice_make(good[i], strlen(good[i])), &rec, err, sizeof(err)) == -1)
            fail_msg("'%s': %s", good[i], err);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = strlen(bad[i]);

        if (strcmp(bad[i], "v=spf1 ip4:1.2.3.4") == 0)
            len += 5; /* the NUL row: its junk is part of the text */
        err[0] = '\0';
        if (spf_record_parse(slice_make(bad[i], len), &rec, err, sizeof(err)) != -1)
            fail_msg("'%s' parsed", bad[i]);
        assert_true(err[0] != '\0');
    }
    /* What a record holds. */
    {
        static const char text[] = "v=spf1 ~a:x.example/24//64 ip6:2001:db8::/48 "
                                   "?exists:%{i}.x.example redirect=r.example";

        assert_int_equal(
            spf_record_parse(slice_make(text, sizeof(text) - 1), &rec, err, sizeof(err)), 0);
    }
    assert_int_equal(rec.nmech, 3);
    assert_int_equal(rec.mech[0].kind, SPF_M_A);
    assert_int_equal(rec.mech[0].qual, SPF_SOFTFAIL);
    assert_int_equal(rec.mech[0].cidr4, 24);
    assert_int_equal(rec.mech[0].cidr6, 64);
    assert_int_equal(rec.mech[0].domain.len, 9);
    assert_int_equal(rec.mech[1].kind, SPF_M_IP6);
    assert_int_equal(rec.mech[1].cidr6, 48);
    assert_int_equal(rec.mech[2].qual, SPF_NEUTRAL);
    assert_true(rec.has_redirect);
    assert_int_equal(rec.redirect.len, 9);
    {
        static const char text[] = "v=spf1 a:foo:bar/baz.example.com/24//64 mx:a/b.example/8 "
                                   "a:c.example//0";

        assert_int_equal(
            spf_record_parse(slice_make(text, sizeof(text) - 1), &rec, err, sizeof(err)), 0);
    }
    assert_int_equal(rec.nmech, 3);
    assert_int_equal(rec.mech[0].domain.len, strlen("foo:bar/baz.example.com"));
    assert_int_equal(rec.mech[0].cidr4, 24);
    assert_int_equal(rec.mech[0].cidr6, 64);
    assert_int_equal(rec.mech[1].domain.len, strlen("a/b.example"));
    assert_int_equal(rec.mech[1].cidr4, 8);
    assert_int_equal(rec.mech[1].cidr6, 128);
    assert_int_equal(rec.mech[2].domain.len, strlen("c.example"));
    assert_int_equal(rec.mech[2].cidr4, 32);
    assert_int_equal(rec.mech[2].cidr6, 0);
    /* Named errors. */
    assert_int_equal(spf_record_parse(slice_make("v=spf1 foo", 10), &rec, err, sizeof(err)), -1);
    assert_string_equal(err, "unknown mechanism in 'foo'");
    assert_int_equal(
        spf_record_parse(slice_make("v=spf1 ip4:1.2.3.4/33", 21), &rec, err, sizeof(err)), -1);
    assert_string_equal(err, "bad cidr length in 'ip4:1.2.3.4/33'");
}

/* More than SPF_TERMS_MAX terms: a permerror, not an overflow. */
static void
test_record_too_many_terms(void **state)
{
    char text[2000];
    size_t k = 6;
    struct spf_record rec;
    char err[160];

    (void)state;
    memcpy(text, "v=spf1", 6);
    for (int i = 0; i <= SPF_TERMS_MAX; i++) {
        memcpy(text + k, " ?all", 5);
        k += 5;
    }
    assert_int_equal(spf_record_parse(slice_make(text, k), &rec, err, sizeof(err)), -1);
    assert_string_equal(err, "too many terms in '?all'");
    assert_int_equal(spf_record_parse(slice_make(text, k - 5), &rec, err, sizeof(err)), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_appendix_a1),
        cmocka_unit_test(test_results),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_explanation),
        cmocka_unit_test(test_free_in_flight),
        cmocka_unit_test(test_macros_rfc),
        cmocka_unit_test(test_macros_hostile),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_record_too_many_terms),
        cmocka_unit_test(test_p_macro),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
