/* SPDX-License-Identifier: MIT */
/*
 * --mx and reverse DNS for gate26 check, through src/dns on a loop of its
 * own. check_mx_hosts(): the MX records of a domain (RFC 5321 5.1), in
 * preference order, each host's addresses one check_host apiece; a null MX
 * (RFC 7505) is a domain finding and no host; no MX at all means the
 * domain's own addresses (the implicit MX of RFC 5321 5.1). check_rdns():
 * the PTR name of a host's address (RFC 1035 3.5, RFC 3596 2.5) and whether
 * that name's A/AAAA records hold the address again (forward-confirmed
 * reverse DNS, which receivers of mail often ask of a sender). Probing the
 * ports is probe.c's business.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "check/check.h"
#include "check/local.h"
#include "dns/dns.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* One lookup loop: a base, a resolver and the count of answers awaited. */
struct mx_run {
    struct event_base *base;
    struct dns *dns;
    size_t pending;
    const char *domain;
    struct check_findings *domain_findings;
    /* check_mx_hosts: the MX hosts and, per host, its addresses as text. */
    struct mx_host *mx;
    size_t n_mx;
    enum dns_status mx_st;
    char mx_why[160];
    /* The hosts made, once every address is in. */
    struct check_host *hosts;
    size_t n_hosts;
};

struct mx_host {
    struct mx_run *run;
    char name[256];
    unsigned pref;
    char (*addrs)[64];
    size_t n_addrs;
};

/* One reverse lookup: PTR of h->addr, then A/AAAA of the name. */
struct rdns_job {
    struct mx_run *run;
    struct check_host *h;
    struct sockaddr_storage sa;
};

static void
run_done(struct mx_run *run)
{
    if (--run->pending == 0)
        (void)event_base_loopexit(run->base, NULL);
}

static int
run_init(struct mx_run *run, const struct check_opts *o, char *err, size_t errcap)
{
    memset(run, 0, sizeof(*run));
    run->base = event_base_new();
    if (run->base == NULL) {
        (void)str_fmt(err, errcap, "cannot create an event loop");
        return -1;
    }
    run->dns =
        dns_new(run->base, o->resolver, o->timeout_ms > 0 ? o->timeout_ms : 5000, err, errcap);
    if (run->dns == NULL) {
        event_base_free(run->base);
        return -1;
    }
    return 0;
}

static void
run_loop(struct mx_run *run)
{
    if (run->pending > 0)
        (void)event_base_dispatch(run->base);
}

static void
run_clear(struct mx_run *run)
{
    dns_free(run->dns);
    event_base_free(run->base);
}

/* Text of an address into a sockaddr (port 0). Returns 0, or -1. */
static int
addr_parse(const char *text, struct sockaddr_storage *sa)
{
    memset(sa, 0, sizeof(*sa));
    if (inet_pton(AF_INET, text, &((struct sockaddr_in *)sa)->sin_addr) == 1) {
        sa->ss_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)sa)->sin6_addr) == 1) {
        sa->ss_family = AF_INET6;
        return 0;
    }
    return -1;
}

static bool
addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                      &((const struct sockaddr_in *)b)->sin_addr, sizeof(struct in_addr)) == 0;
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

/* ---- reverse DNS ---- */

/*
 * Whether the address should have a PTR: not for loopback, RFC 1918,
 * 100.64/10, link-local or unique local addresses (check_addr_is_private),
 * which the world does not see and whose reverse zones are nobody's to
 * publish (RFC 6761 6.1, RFC 6303).
 */
static bool
ptr_expected(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET)
        return !check_addr_is_private(
            AF_INET, (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
    return !check_addr_is_private(
        AF_INET6, (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static void
rdns_forward_cb(void *arg, enum dns_status st, const struct dns_addr *addrs, size_t n,
                const char *why)
{
    struct rdns_job *j = arg;
    struct check_host *h = j->h;

    if (st == DNS_OK) {
        for (size_t i = 0; i < n && !h->fcrdns; i++)
            h->fcrdns = addr_equal(&addrs[i].sa, &j->sa);
    }
    if (h->fcrdns)
        check_add(&h->findings, "fcrdns", CHECK_OK, "%s has reverse DNS %s, which resolves back",
                  h->addr, h->ptr);
    else if (st != DNS_CANCELLED)
        check_add(&h->findings, "ptr-not-confirmed", CHECK_WARN,
                  "the reverse DNS of %s is %s, but %s does not resolve to %s (%s)", h->addr,
                  h->ptr, h->ptr, h->addr, st == DNS_OK ? "other addresses" : why);
    run_done(j->run);
    free(j);
}

static void
rdns_ptr_cb(void *arg, enum dns_status st, const struct dns_name *names, size_t n, const char *why)
{
    struct rdns_job *j = arg;
    struct check_host *h = j->h;

    if (st == DNS_OK && n > 0) {
        (void)str_copyz(h->ptr, sizeof(h->ptr), names[0].host);
        if (dns_addrs(j->run->dns, h->ptr, rdns_forward_cb, j) == 0)
            return; /* the job goes on */
    }
    /* Loopback and private ranges: nobody expects a PTR there; its absence says nothing. */
    if ((st == DNS_NXDOMAIN || st == DNS_NODATA) && ptr_expected(&j->sa))
        check_add(&h->findings, "no-ptr", CHECK_WARN, "%s has no reverse DNS (PTR): %s", h->addr,
                  why);
    else if (st == DNS_TEMPFAIL && ptr_expected(&j->sa))
        check_add(&h->findings, "ptr-failed", CHECK_INFO, "reverse DNS of %s not known: %s",
                  h->addr, why);
    run_done(j->run);
    free(j);
}

static void
rdns_start(struct mx_run *run, struct check_host *h)
{
    struct rdns_job *j = xcalloc(1, sizeof(*j));

    h->ptr[0] = '\0';
    h->fcrdns = false;
    j->run = run;
    j->h = h;
    if (addr_parse(h->addr, &j->sa) == -1 ||
        dns_ptr(run->dns, (const struct sockaddr *)&j->sa, rdns_ptr_cb, j) == -1) {
        check_add(&h->findings, "no-ptr", CHECK_WARN, "no address to look up: '%s'", h->addr);
        free(j);
        return;
    }
    run->pending++;
}

int
check_rdns(struct check_host *h, const struct check_opts *o, char *err, size_t errcap)
{
    struct mx_run run;

    if (run_init(&run, o, err, errcap) == -1)
        return -1;
    rdns_start(&run, h);
    run_loop(&run);
    run_clear(&run);
    return 0;
}

/* ---- MX ---- */

/* Every address is in: one check_host per address, in the MX order; then reverse DNS. */
static void
mx_assemble(struct mx_run *run)
{
    size_t n = 0, k = 0;

    for (size_t i = 0; i < run->n_mx; i++)
        n += run->mx[i].n_addrs;
    run->hosts = xcalloc(n > 0 ? n : 1, sizeof(*run->hosts));
    for (size_t i = 0; i < run->n_mx; i++) {
        struct mx_host *m = &run->mx[i];

        for (size_t a = 0; a < m->n_addrs; a++) {
            struct check_host *h = &run->hosts[k++];

            (void)str_copyz(h->name, sizeof(h->name), m->name);
            (void)str_copyz(h->addr, sizeof(h->addr), m->addrs[a]);
        }
    }
    run->n_hosts = n;
    for (size_t i = 0; i < n; i++)
        rdns_start(run, &run->hosts[i]);
}

static void
mx_addrs_cb(void *arg, enum dns_status st, const struct dns_addr *addrs, size_t n, const char *why)
{
    struct mx_host *m = arg;
    struct mx_run *run = m->run;

    if (st == DNS_OK) {
        m->addrs = xcalloc(n, sizeof(*m->addrs));
        for (size_t i = 0; i < n; i++) {
            const struct sockaddr_storage *sa = &addrs[i].sa;
            const void *bin = sa->ss_family == AF_INET6
                                  ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                                  : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

            if (inet_ntop(sa->ss_family, bin, m->addrs[m->n_addrs], sizeof(m->addrs[0])) != NULL)
                m->n_addrs++;
        }
    } else if (st != DNS_CANCELLED) {
        check_add(run->domain_findings, "mx-no-address", CHECK_WARN,
                  "MX host %s (preference %u) has no address: %s", m->name, m->pref, why);
    }
    if (run->pending == 1)
        mx_assemble(run); /* the last address lookup: reverse DNS comes next */
    run_done(run);
}

static void
mx_start_addrs(struct mx_run *run)
{
    for (size_t i = 0; i < run->n_mx; i++) {
        run->mx[i].run = run;
        run->pending++;
        if (dns_addrs(run->dns, run->mx[i].name, mx_addrs_cb, &run->mx[i]) == -1) {
            run->pending--;
            check_add(run->domain_findings, "mx-no-address", CHECK_WARN,
                      "MX host %s is not a host name", run->mx[i].name);
        }
    }
}

static void
mx_cb(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n, const char *why)
{
    struct mx_run *run = arg;

    run->mx_st = st;
    (void)str_copyz(run->mx_why, sizeof(run->mx_why), why);
    if (st == DNS_OK) {
        run->mx = xcalloc(n, sizeof(*run->mx));
        run->n_mx = n;
        for (size_t i = 0; i < n; i++) {
            (void)str_copyz(run->mx[i].name, sizeof(run->mx[i].name), mx[i].host);
            run->mx[i].pref = mx[i].pref;
            check_add(run->domain_findings, "mx", CHECK_INFO, "MX %u %s", mx[i].pref, mx[i].host);
        }
    } else if (st == DNS_NODATA) {
        /* RFC 5321 5.1: no MX, so the domain itself is the implicit MX. */
        run->mx = xcalloc(1, sizeof(*run->mx));
        run->n_mx = 1;
        (void)str_copyz(run->mx[0].name, sizeof(run->mx[0].name), run->domain);
        check_add(run->domain_findings, "no-mx", CHECK_INFO,
                  "%s has no MX record: mail goes to its own address (RFC 5321 5.1)", run->domain);
    } else if (st == DNS_NULLMX) {
        check_add(run->domain_findings, "null-mx", CHECK_INFO,
                  "%s publishes a null MX: it accepts no mail (RFC 7505)", run->domain);
    }
    mx_start_addrs(run);
    if (run->pending == 1)
        mx_assemble(run); /* no address lookup started */
    run_done(run);
}

int
check_mx_hosts(const char *domain, const struct check_opts *o, struct check_host **hosts,
               size_t *n_hosts, struct check_findings *domain_findings, char *err, size_t errcap)
{
    struct mx_run run;
    int rc = 0;

    *hosts = NULL;
    *n_hosts = 0;
    if (run_init(&run, o, err, errcap) == -1)
        return -1;
    run.domain = domain;
    run.domain_findings = domain_findings;
    if (dns_mx(run.dns, domain, mx_cb, &run) == -1) {
        (void)str_fmt(err, errcap, "not a domain name: '%s'", domain);
        run_clear(&run);
        return -1;
    }
    run.pending = 1;
    run_loop(&run);
    if (run.mx_st == DNS_NXDOMAIN) {
        (void)str_fmt(err, errcap, "%s: no such domain (NXDOMAIN)", domain);
        rc = -1;
    } else if (run.mx_st == DNS_TEMPFAIL || run.mx_st == DNS_CANCELLED) {
        (void)str_fmt(err, errcap, "%s: MX lookup failed: %s", domain, run.mx_why);
        rc = -1;
    }
    for (size_t i = 0; i < run.n_mx; i++)
        free(run.mx[i].addrs);
    free(run.mx);
    run_clear(&run);
    if (rc == -1) {
        for (size_t i = 0; i < run.n_hosts; i++)
            check_host_free(&run.hosts[i]);
        free(run.hosts);
        return -1;
    }
    *hosts = run.hosts;
    *n_hosts = run.n_hosts;
    return 0;
}
