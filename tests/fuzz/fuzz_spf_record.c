/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the SPF record parser (mailauth/spf_record.c) and,
 * behind it, the check_host() evaluator (spf_eval.c). The input is parsed
 * as a record: what it holds must lie inside the input, with cidr lengths
 * in range and domain-specs that check again. Then it is evaluated with a
 * fake DNS in which every name's TXT record is the input itself (so
 * includes and redirects recurse into it), A records exist for names of
 * even length, MX names point to "mx." names and PTR names to "ptr.test";
 * the evaluation must end, within the limits, with exactly one answer.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PENDING_MAX 4

struct pending {
    char kind;
    char name[300];
    int family;
    spf_txt_fn *txt_fn;
    spf_addrs_fn *addrs_fn;
    spf_names_fn *names_fn;
    void *arg;
};

struct fake {
    struct slice record;
    struct pending q[PENDING_MAX];
    size_t nq;
    unsigned answers;
    bool done;
};

static int
push(struct fake *f, char kind, const char *name, struct pending *p)
{
    size_t len = strlen(name);

    if (f->nq == PENDING_MAX)
        abort(); /* the evaluator asks one thing at a time */
    if (len >= sizeof(p->name))
        return -1;
    memcpy(p->name, name, len + 1);
    p->kind = kind;
    f->q[f->nq++] = *p;
    return 0;
}

static int
f_txt(void *ctx, const char *name, spf_txt_fn *fn, void *arg)
{
    struct pending p = {.txt_fn = fn, .arg = arg};

    return push(ctx, 'T', name, &p);
}

static int
f_addrs(void *ctx, const char *name, int family, spf_addrs_fn *fn, void *arg)
{
    struct pending p = {.family = family, .addrs_fn = fn, .arg = arg};

    return push(ctx, 'A', name, &p);
}

static int
f_mx(void *ctx, const char *name, spf_names_fn *fn, void *arg)
{
    struct pending p = {.names_fn = fn, .arg = arg};

    return push(ctx, 'M', name, &p);
}

static int
f_ptr(void *ctx, const struct spf_ip *ip, spf_names_fn *fn, void *arg)
{
    struct pending p = {.names_fn = fn, .arg = arg};

    (void)ip;
    return push(ctx, 'P', "ptr", &p);
}

static void
answer(struct fake *f)
{
    struct pending p = f->q[0];
    struct spf_txt txt = {f->record.p, f->record.len};
    struct spf_ip ip;
    char mx[320];
    const char *names[1] = {mx};
    size_t len = strlen(p.name);

    memmove(f->q, f->q + 1, (f->nq - 1) * sizeof(f->q[0]));
    f->nq--;
    f->answers++;
    switch (p.kind) {
    case 'T':
        p.txt_fn(p.arg, SPF_DNS_OK, &txt, 1);
        break;
    case 'A':
        memset(&ip, 0, sizeof(ip));
        ip.family = p.family;
        ip.b[0] = 192;
        ip.b[3] = 1;
        if (len % 2 == 0)
            p.addrs_fn(p.arg, SPF_DNS_OK, &ip, 1);
        else
            p.addrs_fn(p.arg, len % 3 == 0 ? SPF_DNS_TEMPFAIL : SPF_DNS_NXDOMAIN, NULL, 0);
        break;
    case 'M':
        memcpy(mx, "mx.", 3);
        memcpy(mx + 3, p.name, len + 1);
        p.names_fn(p.arg, SPF_DNS_OK, names, 1);
        break;
    default:
        memcpy(mx, "ptr.test", sizeof("ptr.test"));
        p.names_fn(p.arg, SPF_DNS_OK, names, 1);
        break;
    }
}

static void
on_done(void *arg, const struct spf_answer *a)
{
    struct fake *f = arg;

    if (f->done || a->lookups > SPF_MAX_DNS_MECHS + 1 || a->voids > SPF_MAX_VOID + 1)
        abort();
    f->done = true;
}

static void
check_parsed(const uint8_t *data, size_t size, const struct spf_record *rec)
{
    const char *lo = (const char *)data, *hi = lo + size;
    char err[160];

    if (rec->nmech > SPF_TERMS_MAX)
        abort();
    for (size_t i = 0; i < rec->nmech; i++) {
        const struct spf_mech *m = &rec->mech[i];

        if (m->term.p < lo || m->term.p + m->term.len > hi || m->term.len == 0)
            abort();
        if (m->cidr4 > 32 || m->cidr6 > 128)
            abort();
        if (m->domain.len > 0 && (m->domain.p < lo || m->domain.p + m->domain.len > hi ||
                                  spf_domain_spec_check(m->domain, err, sizeof(err)) == -1))
            abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct spf_record *rec = malloc(sizeof(*rec));
    struct fake f;
    struct spf_dns dns = {.ctx = &f, .txt = f_txt, .addrs = f_addrs, .mx = f_mx, .ptr = f_ptr};
    struct spf_answer now;
    struct spf_ip ip;
    struct spf_eval *e;
    char err[160];

    if (rec == NULL)
        return 0;
    if (spf_record_parse(slice_make((const char *)data, size), rec, err, sizeof(err)) == 0)
        check_parsed(data, size, rec);
    else if (err[0] == '\0')
        abort();
    free(rec);

    memset(&f, 0, sizeof(f));
    f.record = slice_make((const char *)data, size);
    if (spf_ip_parse(size % 2 == 0 ? "192.0.2.1" : "2001:db8::1", &ip) == -1)
        abort();
    e = spf_eval_start(&dns, &ip, "user@example.test", "helo.example.test", "mx.test", 1, on_done,
                       &f, &now);
    if (e == NULL)
        abort();
    /* Each answer leads to at most one lookup; the limits bound them all. */
    while (!f.done) {
        if (f.nq == 0 || f.answers > 400)
            abort();
        answer(&f);
    }
    spf_eval_free(e);
    return 0;
}
