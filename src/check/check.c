/* SPDX-License-Identifier: MIT */
/*
 * gate26 check: the command line. Reads the options and targets, runs the
 * local scan (local.c), the probes of hosts (probe.c) or of a domain's MX
 * hosts (mx.c), prints the table or the JSON (report.c) and returns the exit
 * status of the worst finding: 0 ok (info counts as ok), 1 warn, 2 critical;
 * 3 for a usage error and 4 when the check could not run at all.
 *
 * Targets are HOST, HOST:PORT, [IPV6]:PORT, [IPV6], a bare IPv6 literal,
 * smtp://HOST[:PORT] and smtps://HOST[:PORT] (target.c); a target without a
 * port gets 25, 26, 465 and 587. How each port is spoken (implicit TLS or
 * plain SMTP with STARTTLS) comes from the URL's scheme, --implicit-tls, or
 * else the port (465 implicit). Names are resolved by probe.c (see the
 * contract in check.h), so that --resolver applies to them. A relay found on
 * this machine's own door is explained by the configuration (own.c): -c
 * FILE, or the default one when it can be read.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check/check.h"
#include "check/own.h"
#include "check/target.h"
#include "conf/conf.h"
#include "lib/num.h"
#include "lib/str.h"
#include "lib/xalloc.h"

static const unsigned default_ports[] = {25, 26, 465, 587};
#define N_DEFAULT_PORTS (sizeof(default_ports) / sizeof(default_ports[0]))

/* The most targets or ports one command line may name. */
#define CHECK_ARGS_MAX 256
/* The most --implicit-tls options. */
#define CHECK_IMPLICIT_MAX 32

static const char usage_text[] =
    "usage: gate26 check --local [-c FILE] [--json] [PORT...]\n"
    "       gate26 check [OPTIONS] TARGET...\n"
    "       gate26 check [OPTIONS] --mx DOMAIN\n"
    "\n"
    "  --local            who listens on PORT... here (default 25 26 465 587, and\n"
    "                     with -c the ports of the configuration's doors)\n"
    "  -c, --config FILE  a gate26 configuration. With --local: names the role of\n"
    "                     gate26's sockets; a door nobody listens on is critical.\n"
    "                     Remote: explains a relay found on this machine's own door\n"
    "                     (default: /etc/gate26/gate26.conf when it can be read)\n"
    "  TARGET             HOST[:PORT]: a remote host (name, IPv4, [IPv6] or IPv6);\n"
    "                     without a port 25 26 465 587, probed concurrently, 465 with\n"
    "                     implicit TLS, the others plain SMTP and STARTTLS\n"
    "                     smtps://HOST[:PORT]: implicit TLS on PORT (default 465)\n"
    "                     smtp://HOST[:PORT]: plain SMTP and STARTTLS (default 25)\n"
    "  --implicit-tls PORT  TLS from the first byte on PORT, for every host checked\n"
    "                     (repeatable)\n"
    "  --mx DOMAIN        the domain's MX hosts (and null MX), each on those ports\n"
    "  --timeout SECONDS  per step: connect, each reply, the TLS handshake (default 5)\n"
    "  --resolver ADDR:PORT  DNS server to ask instead of the system's\n"
    "  --helo NAME        the EHLO name to send (default: this host's name)\n"
    "  --ca-file FILE     CA bundle for verifying certificates (default: the system's)\n"
    "  --intrusive        also test SMTP smuggling (sends a message that the server\n"
    "                     should refuse)\n"
    "  --json             one JSON object instead of the table\n"
    "\n"
    "exit status: 0 all ok, 1 a warning, 2 a critical finding, 3 a usage error,\n"
    "4 the check could not run. Colour only on a terminal, never with NO_COLOR set.\n";

struct args {
    bool local, mx, json, intrusive;
    const char *conf;         /* -c FILE */
    const char *default_conf; /* the one to try for a remote check without -c */
    const char *resolver, *helo, *ca_file;
    bool timeout_given;
    unsigned implicit[CHECK_IMPLICIT_MAX]; /* --implicit-tls PORT */
    size_t n_implicit;
    struct check_opts opts;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("gate26 check: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(gate26 check --help for the options)\n", stderr);
    return CHECK_EXIT_USAGE;
}

/* A port number 1..65535 from text; -1 when it is not one. */
static int
parse_port(const char *s, unsigned *out)
{
    uint64_t v;

    if (num_parse_u64(slice_make(s, strlen(s)), 1, 65535, &v) == -1)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/*
 * Adds port to h, once. A port given twice keeps what a URL said about it
 * (smtp:// or smtps://) over the default; -1 when two URLs disagree.
 */
static int
host_add_port(struct check_host *h, unsigned port, enum check_tls_start start)
{
    for (size_t i = 0; i < h->n_ports; i++) {
        struct check_port *p = &h->ports[i];

        if (p->port != port)
            continue;
        if (start == CHECK_START_BY_PORT || p->start == start)
            return 0;
        if (p->start != CHECK_START_BY_PORT)
            return -1;
        p->start = start;
        return 0;
    }
    h->ports = xrealloc(h->ports, (h->n_ports + 1) * sizeof(*h->ports));
    memset(&h->ports[h->n_ports], 0, sizeof(*h->ports));
    h->ports[h->n_ports].port = port;
    h->ports[h->n_ports++].start = start;
    return 0;
}

static bool
is_implicit_port(const struct args *a, unsigned port)
{
    for (size_t i = 0; i < a->n_implicit; i++) {
        if (a->implicit[i] == port)
            return true;
    }
    return false;
}

/* --implicit-tls: its ports speak TLS from the first byte, unless smtp:// said otherwise. */
static void
apply_implicit(const struct args *a, struct check_host *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < h[i].n_ports; j++) {
            struct check_port *p = &h[i].ports[j];

            if (p->start == CHECK_START_BY_PORT && is_implicit_port(a, p->port))
                p->start = CHECK_START_IMPLICIT;
        }
    }
}

/* An --implicit-tls port that no target is checked on is a mistake: 0, or a usage error. */
static int
implicit_ports_used(const struct args *a, const struct check_host *h, size_t n)
{
    for (size_t k = 0; k < a->n_implicit; k++) {
        bool used = false;

        for (size_t i = 0; i < n && !used; i++) {
            for (size_t j = 0; j < h[i].n_ports && !used; j++)
                used = h[i].ports[j].port == a->implicit[k];
        }
        if (!used)
            return usage_error("--implicit-tls %u: no target is checked on port %u", a->implicit[k],
                               a->implicit[k]);
    }
    return 0;
}

bool
check_want_colour(void)
{
    const char *nc = getenv("NO_COLOR");

    /* https://no-color.org: any non-empty NO_COLOR turns colour off. */
    return isatty(STDOUT_FILENO) && (nc == NULL || nc[0] == '\0');
}

static int
finish(int status)
{
    if (fflush(stdout) != 0) {
        perror("gate26 check: standard output");
        return CHECK_EXIT_TROUBLE;
    }
    return status;
}

static int
run_local(const struct args *a, char **targets, size_t n)
{
    unsigned ports[CHECK_ARGS_MAX];
    struct check_local l;
    char err[1024];
    int status;

    for (size_t i = 0; i < n; i++) {
        if (parse_port(targets[i], &ports[i]) == -1)
            return usage_error("--local takes port numbers (1..65535), not '%s'", targets[i]);
    }
    if (a->conf != NULL && access(a->conf, R_OK) == -1)
        return usage_error("-c %s: cannot read the file", a->conf);
    if (check_local_scan(ports, n, a->conf, &l, err, sizeof(err)) == -1) {
        fprintf(stderr, "gate26 check: %s\n", err);
        check_local_free(&l);
        return CHECK_EXIT_TROUBLE;
    }
    if (a->json)
        check_json_local(stdout, &l);
    else
        check_print_local(stdout, &l, check_want_colour());
    status = check_exit_status(check_local_worst(&l));
    check_local_free(&l);
    return finish(status);
}

static void
free_hosts(struct check_host *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        check_host_free(&h[i]);
    free(h);
}

/*
 * An open relay on this machine's own address: the configuration may show
 * that the door relays for the prober because its allow list holds it
 * (own.c). conf is -c FILE's, or NULL: then the default configuration is
 * read, only now and only when it can be; when it does not load, the relay
 * stays as found.
 */
static void
explain_own_relays(const struct args *a, const struct conf *conf, struct check_host *h, size_t n)
{
    struct conf *dflt = NULL;
    char err[1024];

    if (!check_own_relay_found(h, n))
        return;
    if (conf == NULL && a->default_conf != NULL && access(a->default_conf, R_OK) == 0) {
        conf = dflt = conf_load(a->default_conf, err, sizeof(err));
        if (dflt == NULL)
            fprintf(stderr, "gate26 check: not used to explain the relay: %s\n", err);
    }
    if (conf != NULL)
        check_own_relay_explain(h, n, conf);
    conf_unref(dflt);
}

/* Probes hosts, looks up their reverse DNS, prints; frees hosts. */
static int
probe_and_print(const struct args *a, struct check_host *h, size_t n,
                struct check_findings *domain_findings, bool rdns)
{
    struct conf *conf = NULL;
    char err[1024];
    int status;

    /* -c FILE before the probes: its mistakes stop the check before it starts. */
    if (a->conf != NULL && (conf = conf_load(a->conf, err, sizeof(err))) == NULL) {
        fprintf(stderr, "gate26 check: %s\n", err);
        free_hosts(h, n);
        return CHECK_EXIT_TROUBLE;
    }
    if (check_probe_hosts(h, n, &a->opts, err, sizeof(err)) == -1) {
        fprintf(stderr, "gate26 check: %s\n", err);
        free_hosts(h, n);
        conf_unref(conf);
        return CHECK_EXIT_TROUBLE;
    }
    for (size_t i = 0; rdns && i < n; i++) {
        if (h[i].addr[0] != '\0' && check_rdns(&h[i], &a->opts, err, sizeof(err)) == -1)
            check_add(&h[i].findings, "rdns-error", CHECK_INFO, "reverse DNS of %s not checked: %s",
                      h[i].addr, err);
    }
    explain_own_relays(a, conf, h, n);
    conf_unref(conf);
    if (a->json)
        check_json_hosts(stdout, h, n, domain_findings);
    else
        check_print_hosts(stdout, h, n, domain_findings, check_want_colour());
    status = check_exit_status(check_hosts_worst(h, n, domain_findings));
    free_hosts(h, n);
    return finish(status);
}

static int
run_remote(const struct args *a, char **targets, size_t n)
{
    struct check_host *h = xcalloc(n, sizeof(*h));
    size_t n_hosts = 0;

    for (size_t i = 0; i < n; i++) {
        struct check_target t;
        struct check_host *x = NULL;
        char why[512];
        int rc = 0;

        if (check_target_parse(targets[i], &t, why, sizeof(why)) == -1) {
            free_hosts(h, n_hosts);
            return usage_error("%s", why);
        }
        /* The same host twice: one host with the ports of both. */
        for (size_t j = 0; j < n_hosts && x == NULL; j++) {
            if (strcmp(h[j].name, t.name) == 0)
                x = &h[j];
        }
        if (x == NULL) {
            x = &h[n_hosts++];
            (void)str_copyz(x->name, sizeof(x->name), t.name);
            (void)str_copyz(x->addr, sizeof(x->addr), t.addr);
        }
        if (t.port != 0) {
            rc = host_add_port(x, t.port, t.start);
        } else {
            for (size_t k = 0; k < N_DEFAULT_PORTS; k++)
                (void)host_add_port(x, default_ports[k], CHECK_START_BY_PORT);
        }
        if (rc == -1) {
            free_hosts(h, n_hosts);
            return usage_error("'%s': port %u of %s is asked for both with and without "
                               "implicit TLS (smtps:// and smtp://)",
                               targets[i], t.port, t.name);
        }
    }
    if (implicit_ports_used(a, h, n_hosts) != 0) {
        free_hosts(h, n_hosts);
        return CHECK_EXIT_USAGE;
    }
    apply_implicit(a, h, n_hosts);
    return probe_and_print(a, h, n_hosts, NULL, true);
}

static int
run_mx(const struct args *a, const char *domain)
{
    struct check_findings df = {0};
    struct check_host *h = NULL;
    char name[256], err[1024];
    size_t n = 0, len = strlen(domain);
    int status;

    if (str_copyz(name, sizeof(name), domain) == -1 || len == 0)
        return usage_error("--mx: '%s' is not a domain", domain);
    if (len > 1 && name[len - 1] == '.')
        name[len - 1] = '\0';
    if (!check_is_host_name(name))
        return usage_error("--mx: '%s' is not a domain", domain);
    for (size_t k = 0; k < a->n_implicit; k++) {
        bool used = false;

        for (size_t i = 0; i < N_DEFAULT_PORTS; i++)
            used = used || default_ports[i] == a->implicit[k];
        if (!used)
            return usage_error("--implicit-tls %u: --mx checks ports 25 26 465 587 only",
                               a->implicit[k]);
    }
    if (check_mx_hosts(name, &a->opts, &h, &n, &df, err, sizeof(err)) == -1) {
        fprintf(stderr, "gate26 check: %s: %s\n", name, err);
        free_hosts(h, n);
        check_findings_free(&df);
        return CHECK_EXIT_TROUBLE;
    }
    for (size_t i = 0; i < n; i++) {
        if (h[i].n_ports > 0)
            continue;
        for (size_t k = 0; k < N_DEFAULT_PORTS; k++)
            (void)host_add_port(&h[i], default_ports[k], CHECK_START_BY_PORT);
    }
    apply_implicit(a, h, n);
    status = probe_and_print(a, h, n, &df, false);
    check_findings_free(&df);
    return status;
}

/* ADDR:PORT with an IPv4 address or [IPv6]. */
static bool
is_resolver(const char *s)
{
    char host[64];
    unsigned char bin[16];
    const char *colon = strrchr(s, ':');
    unsigned port;

    if (colon == NULL || parse_port(colon + 1, &port) == -1)
        return false;
    if (s[0] == '[') {
        return colon > s + 1 && colon[-1] == ']' &&
               str_copy(host, sizeof(host), s + 1, (size_t)(colon - s - 2)) == 0 &&
               inet_pton(AF_INET6, host, bin) == 1;
    }
    return str_copy(host, sizeof(host), s, (size_t)(colon - s)) == 0 &&
           inet_pton(AF_INET, host, bin) == 1;
}

int
check_main(int argc, char **argv, const char *default_conf)
{
    static char hostname[256];
    enum {
        O_LOCAL = 256,
        O_MX,
        O_JSON,
        O_TIMEOUT,
        O_RESOLVER,
        O_INTRUSIVE,
        O_CA,
        O_HELO,
        O_IMPLICIT,
    };
    static const struct option opts[] = {
        {"local", no_argument, NULL, O_LOCAL},
        {"mx", no_argument, NULL, O_MX},
        {"json", no_argument, NULL, O_JSON},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"resolver", required_argument, NULL, O_RESOLVER},
        {"intrusive", no_argument, NULL, O_INTRUSIVE},
        {"config", required_argument, NULL, 'c'},
        {"ca-file", required_argument, NULL, O_CA},
        {"helo", required_argument, NULL, O_HELO},
        {"implicit-tls", required_argument, NULL, O_IMPLICIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct args a;
    size_t n;
    int ch;

    memset(&a, 0, sizeof(a));
    a.default_conf = default_conf;
    a.opts.timeout_ms = 5000;
    /* EHLO: this machine's name unless --helo says otherwise. */
    if (gethostname(hostname, sizeof(hostname) - 1) == -1 || !check_is_host_name(hostname))
        (void)str_copyz(hostname, sizeof(hostname), "localhost");
    a.opts.helo = hostname;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        uint64_t secs;

        switch (ch) {
        case O_LOCAL:
            a.local = true;
            break;
        case O_MX:
            a.mx = true;
            break;
        case O_JSON:
            a.json = true;
            break;
        case O_TIMEOUT:
            if (num_parse_u64(slice_make(optarg, strlen(optarg)), 1, 300, &secs) == -1)
                return usage_error("--timeout takes whole seconds, 1..300, not '%s'", optarg);
            a.opts.timeout_ms = (unsigned)secs * 1000;
            a.timeout_given = true;
            break;
        case O_RESOLVER:
            if (!is_resolver(optarg))
                return usage_error("--resolver takes ADDR:PORT ([IPV6]:PORT), not '%s'", optarg);
            a.resolver = a.opts.resolver = optarg;
            break;
        case O_INTRUSIVE:
            a.intrusive = a.opts.intrusive = true;
            break;
        case 'c':
            a.conf = optarg;
            break;
        case O_CA:
            if (access(optarg, R_OK) == -1)
                return usage_error("--ca-file %s: cannot read the file", optarg);
            a.ca_file = a.opts.ca_file = optarg;
            break;
        case O_HELO:
            if (!check_is_host_name(optarg))
                return usage_error("--helo takes a host name, not '%s'", optarg);
            a.helo = a.opts.helo = optarg;
            break;
        case O_IMPLICIT:
            if (a.n_implicit == CHECK_IMPLICIT_MAX)
                return usage_error("more than %d --implicit-tls options", CHECK_IMPLICIT_MAX);
            if (parse_port(optarg, &a.implicit[a.n_implicit]) == -1)
                return usage_error("--implicit-tls takes a port (1..65535), not '%s'", optarg);
            a.n_implicit++;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return finish(CHECK_EXIT_OK);
        case ':':
            return usage_error("option %s needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    n = (size_t)(argc - optind);
    if (n > CHECK_ARGS_MAX)
        return usage_error("more than %d targets", CHECK_ARGS_MAX);
    if (a.local) {
        if (a.mx)
            return usage_error("--local and --mx do not go together");
        if (a.timeout_given || a.resolver || a.intrusive || a.ca_file || a.helo || a.n_implicit > 0)
            return usage_error("--timeout, --resolver, --intrusive, --ca-file, --helo and "
                               "--implicit-tls are for remote checks, not --local");
        return run_local(&a, argv + optind, n);
    }
    if (n == 0)
        return usage_error("what should be checked? (--local, HOST or --mx DOMAIN)");
    if (a.conf != NULL && access(a.conf, R_OK) == -1)
        return usage_error("-c %s: cannot read the file", a.conf);
    if (a.mx) {
        if (n != 1)
            return usage_error("--mx takes one DOMAIN");
        /* The smuggling test (--intrusive) writes to postmaster of the domain checked. */
        a.opts.domain = argv[optind];
        return run_mx(&a, argv[optind]);
    }
    return run_remote(&a, argv + optind, n);
}
