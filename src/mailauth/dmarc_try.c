/* SPDX-License-Identifier: MIT */
/*
 * dmarc_try: evaluates DMARC for one From domain through src/dns's
 * dns_txt() (mailauth/dmarc_dns.h) on a libevent loop and prints the
 * result as one line, for tests/e2e/test_dmarc.py (which points it at
 * dnsmasq).
 *
 *   dmarc_try --server ADDR:PORT [--timeout-ms N] [--spf DOMAIN]
 *             [--dkim DOMAIN]... [--sample N] (--from-header VALUE | DOMAIN)
 *
 * Prints "status=S policy=P published=P via=V sampled_out=0|1 from=D
 * policy_domain=D reason="..."", or "from_error=NAME" when --from-header
 * holds no usable domain. Exit status: 0, 1 when the resolver or the
 * suffix list cannot be set up, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "dns/dns.h"
#include "lib/num.h"
#include "mailauth/dmarc_dns.h"

#define DKIM_MAX 8

struct run {
    struct event_base *base;
    bool done;
    struct dmarc_result r;
};

static void
on_done(void *arg, const struct dmarc_result *r)
{
    struct run *run = arg;

    if (run->done)
        abort();
    run->done = true;
    run->r = *r;
    (void)event_base_loopexit(run->base, NULL);
}

static unsigned
fixed_sample(void *arg)
{
    return *(unsigned *)arg;
}

static int
usage(void)
{
    fprintf(stderr, "usage: dmarc_try --server ADDR:PORT [--timeout-ms N] [--spf DOMAIN] "
                    "[--dkim DOMAIN]... [--sample N] (--from-header VALUE | DOMAIN)\n");
    return 2;
}

int
main(int argc, char **argv)
{
    const char *server = NULL, *spf = NULL, *header = NULL, *domain = NULL;
    const char *dkim[DKIM_MAX];
    size_t n_dkim = 0;
    uint64_t timeout_ms = 2000, sample = 0;
    bool has_sample = false;
    unsigned sample_u;
    char from[DMARC_DOMAIN_MAX + 1], err[256];
    struct run run = {0};
    struct dns *d;
    struct dmarc_psl *psl;
    struct dmarc_dns dns;
    struct dmarc_eval *ev;
    struct dmarc_input in = {0};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--server") == 0 && v != NULL) {
            server = v;
        } else if (strcmp(a, "--timeout-ms") == 0 && v != NULL) {
            if (num_parse_u64(slice_make(v, strlen(v)), 1, 60000, &timeout_ms) == -1)
                return usage();
        } else if (strcmp(a, "--spf") == 0 && v != NULL) {
            spf = v;
        } else if (strcmp(a, "--dkim") == 0 && v != NULL) {
            if (n_dkim == DKIM_MAX)
                return usage();
            dkim[n_dkim++] = v;
        } else if (strcmp(a, "--sample") == 0 && v != NULL) {
            if (num_parse_u64(slice_make(v, strlen(v)), 0, 99, &sample) == -1)
                return usage();
            has_sample = true;
        } else if (strcmp(a, "--from-header") == 0 && v != NULL) {
            header = v;
        } else if (a[0] != '-' && domain == NULL && header == NULL) {
            domain = a;
            continue;
        } else {
            return usage();
        }
        i++;
    }
    if (server == NULL || (domain == NULL) == (header == NULL))
        return usage();
    if (header != NULL) {
        enum dmarc_from f =
            dmarc_from_domain(slice_make(header, strlen(header)), from, sizeof(from));

        if (f != DMARC_FROM_OK) {
            printf("from_error=%s\n", dmarc_from_name(f));
            return 0;
        }
        domain = from;
    }
    psl = dmarc_psl_load(NULL, err, sizeof(err));
    if (psl == NULL) {
        fprintf(stderr, "dmarc_try: %s\n", err);
        return 1;
    }
    run.base = event_base_new();
    if (run.base == NULL)
        abort();
    d = dns_new(run.base, server, (unsigned)timeout_ms, err, sizeof(err));
    if (d == NULL) {
        fprintf(stderr, "dmarc_try: %s\n", err);
        dmarc_psl_free(psl);
        event_base_free(run.base);
        return 1;
    }
    dmarc_dns_from(d, &dns);
    sample_u = (unsigned)sample;
    in.from_domain = domain;
    in.spf_domain = spf;
    in.spf_pass = spf != NULL;
    in.dkim_domains = dkim;
    in.n_dkim = n_dkim;
    in.sample = has_sample ? fixed_sample : NULL;
    in.sample_arg = &sample_u;
    ev = dmarc_eval_new(psl, &dns, on_done, &run);
    if (ev == NULL)
        abort();
    dmarc_eval_start(ev, &in);
    if (!run.done)
        (void)event_base_dispatch(run.base);
    if (!run.done) {
        fprintf(stderr, "dmarc_try: the loop ended without a result\n");
        abort();
    }
    printf("status=%s policy=%s published=%s via=%s sampled_out=%d from=%s policy_domain=%s "
           "reason=\"%s\"\n",
           dmarc_status_name(run.r.status), dmarc_policy_name(run.r.policy),
           dmarc_policy_name(run.r.published),
           run.r.via == DMARC_VIA_SPF    ? "spf"
           : run.r.via == DMARC_VIA_DKIM ? "dkim"
                                         : "none",
           run.r.sampled_out ? 1 : 0, run.r.from_domain, run.r.policy_domain, run.r.reason);
    dmarc_eval_free(ev);
    dns_free(d);
    event_base_free(run.base);
    dmarc_psl_free(psl);
    return 0;
}
