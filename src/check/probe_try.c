/* SPDX-License-Identifier: MIT */
/*
 * probe_try: runs check_probe_hosts() (and check_mx_hosts(), check_rdns())
 * against real servers and prints what they filled, for
 * tests/e2e/test_check_remote.py. The command's own output is report.c's;
 * this is a minimal printer of the structures.
 *
 *   probe_try [--resolver ADDR:PORT] [--timeout MS] [--intrusive]
 *             [--ca-file FILE] [--domain D] [--helo NAME] [--rdns]
 *             [--mx DOMAIN [--port P]...] [HOST[:PORT]]...
 *
 * HOST is a name, an IPv4 address or [IPv6]; without :PORT the ports are
 * 25, 26, 465 and 587. --mx adds the domain's MX hosts (with the ports of
 * --port, or the four) and prints a last line {"domain_findings": [...]};
 * --rdns looks up the reverse DNS of each given host after the probes.
 * Output: one JSON object per host and line. Exit status: 0, 1 when a
 * function returns -1 (the error on stderr), 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "lib/num.h"
#include "lib/str.h"
#include "lib/xalloc.h"

static const unsigned default_ports[] = {25, 26, 465, 587};

static void
usage(void)
{
    fprintf(stderr, "usage: probe_try [--resolver ADDR:PORT] [--timeout MS] [--intrusive] "
                    "[--ca-file FILE] [--domain D] [--helo NAME] [--rdns] [--mx DOMAIN "
                    "[--port P]...] [HOST[:PORT]]...\n");
    exit(2);
}

static unsigned
parse_num(const char *s, uint64_t min, uint64_t max)
{
    uint64_t v;

    if (num_parse_u64(slice_make(s, strlen(s)), min, max, &v) == -1)
        usage();
    return (unsigned)v;
}

static void
set_ports(struct check_host *h, const unsigned *ports, size_t n)
{
    h->ports = xcalloc(n, sizeof(*h->ports));
    h->n_ports = n;
    for (size_t i = 0; i < n; i++)
        h->ports[i].port = ports[i];
}

/* "name", "name:25", "192.0.2.1:25", "[::1]:25" into h. */
static void
parse_host(const char *arg, struct check_host *h)
{
    const char *colon;
    unsigned port = 0;
    char name[256];

    memset(h, 0, sizeof(*h));
    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');

        if (close == NULL || str_copy(name, sizeof(name), arg + 1, (size_t)(close - arg - 1)) == -1)
            usage();
        if (close[1] == ':')
            port = parse_num(close + 2, 1, 65535);
        else if (close[1] != '\0')
            usage();
        (void)str_copyz(h->addr, sizeof(h->addr), name);
    } else {
        colon = strrchr(arg, ':');
        if (colon != NULL) {
            if (str_copy(name, sizeof(name), arg, (size_t)(colon - arg)) == -1)
                usage();
            port = parse_num(colon + 1, 1, 65535);
        } else if (str_copyz(name, sizeof(name), arg) == -1) {
            usage();
        }
        /* A name is resolved by the probe; an address is used as it is. */
        if (strspn(name, "0123456789.") == strlen(name))
            (void)str_copyz(h->addr, sizeof(h->addr), name);
    }
    (void)str_copyz(h->name, sizeof(h->name), name);
    if (port != 0)
        set_ports(h, &port, 1);
    else
        set_ports(h, default_ports, sizeof(default_ports) / sizeof(default_ports[0]));
}

static void
json_str(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void
json_findings(const struct check_findings *f)
{
    putchar('[');
    for (size_t i = 0; i < f->n; i++) {
        printf("%s{\"id\":", i > 0 ? "," : "");
        json_str(f->v[i].id);
        printf(",\"level\":");
        json_str(check_level_name(f->v[i].level));
        printf(",\"text\":");
        json_str(f->v[i].text);
        putchar('}');
    }
    putchar(']');
}

static void
json_tls(const struct check_tls *t)
{
    printf("{\"done\":%s,\"how\":", t->done ? "true" : "false");
    json_str(t->how);
    printf(",\"version\":");
    json_str(t->version);
    printf(",\"cipher\":");
    json_str(t->cipher);
    printf(",\"subject\":");
    json_str(t->subject);
    printf(",\"sans\":");
    json_str(t->sans);
    printf(",\"issuer\":");
    json_str(t->issuer);
    printf(",\"not_after\":%lld,\"days_left\":%ld,\"chain_ok\":%s,\"verify_text\":", t->not_after,
           t->days_left, t->chain_ok ? "true" : "false");
    json_str(t->verify_text);
    printf(",\"name_ok\":%s,\"error\":", t->name_ok ? "true" : "false");
    json_str(t->error);
    putchar('}');
}

static void
json_host(const struct check_host *h)
{
    printf("{\"name\":");
    json_str(h->name);
    printf(",\"addr\":");
    json_str(h->addr);
    printf(",\"ptr\":");
    json_str(h->ptr);
    printf(",\"fcrdns\":%s,\"findings\":", h->fcrdns ? "true" : "false");
    json_findings(&h->findings);
    printf(",\"ports\":[");
    for (size_t i = 0; i < h->n_ports; i++) {
        const struct check_port *p = &h->ports[i];

        printf("%s{\"port\":%u,\"state\":", i > 0 ? "," : "", p->port);
        json_str(check_port_state_name(p->state));
        printf(",\"connect_ms\":%.1f,\"greeting_ms\":%.1f,\"greeting\":", p->connect_ms,
               p->greeting_ms);
        json_str(p->greeting);
        printf(",\"ehlo\":");
        json_str(p->ehlo);
        printf(",\"auth_before_tls\":%s,\"tls\":", p->auth_before_tls ? "true" : "false");
        json_tls(&p->tls);
        printf(",\"findings\":");
        json_findings(&p->findings);
        putchar('}');
    }
    printf("]}\n");
}

int
main(int argc, char **argv)
{
    struct check_opts o = {.timeout_ms = 5000, .helo = "gate26-check.test"};
    struct check_host *hosts = NULL;
    struct check_findings domain_findings = {0};
    unsigned mx_ports[8];
    size_t n_hosts = 0, n_given = 0, n_mx_ports = 0;
    const char *mx = NULL;
    bool rdns = false;
    char err[512];
    int i;

    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--intrusive") == 0)
            o.intrusive = true;
        else if (strcmp(a, "--rdns") == 0)
            rdns = true;
        else if (i + 1 >= argc)
            usage();
        else if (strcmp(a, "--resolver") == 0)
            o.resolver = argv[++i];
        else if (strcmp(a, "--timeout") == 0)
            o.timeout_ms = parse_num(argv[++i], 1, 600000);
        else if (strcmp(a, "--ca-file") == 0)
            o.ca_file = argv[++i];
        else if (strcmp(a, "--domain") == 0)
            o.domain = argv[++i];
        else if (strcmp(a, "--helo") == 0)
            o.helo = argv[++i];
        else if (strcmp(a, "--mx") == 0)
            mx = argv[++i];
        else if (strcmp(a, "--port") == 0 && n_mx_ports < 8)
            mx_ports[n_mx_ports++] = parse_num(argv[++i], 1, 65535);
        else
            usage();
    }
    n_given = (size_t)(argc - i);
    if (mx == NULL && n_given == 0)
        usage();
    if (mx != NULL) {
        if (o.domain == NULL)
            o.domain = mx;
        if (check_mx_hosts(mx, &o, &hosts, &n_hosts, &domain_findings, err, sizeof(err)) == -1) {
            fprintf(stderr, "probe_try: %s\n", err);
            check_findings_free(&domain_findings);
            return 1;
        }
        for (size_t k = 0; k < n_hosts; k++) {
            if (n_mx_ports > 0)
                set_ports(&hosts[k], mx_ports, n_mx_ports);
            else
                set_ports(&hosts[k], default_ports, 4);
        }
    }
    hosts = xrealloc(hosts, (n_hosts + n_given + 1) * sizeof(*hosts));
    for (size_t k = 0; k < n_given; k++)
        parse_host(argv[i + (int)k], &hosts[n_hosts + k]);
    if (check_probe_hosts(hosts, n_hosts + n_given, &o, err, sizeof(err)) == -1) {
        fprintf(stderr, "probe_try: %s\n", err);
        return 1;
    }
    for (size_t k = n_hosts; rdns && k < n_hosts + n_given; k++) {
        if (hosts[k].addr[0] != '\0' && check_rdns(&hosts[k], &o, err, sizeof(err)) == -1) {
            fprintf(stderr, "probe_try: %s\n", err);
            return 1;
        }
    }
    for (size_t k = 0; k < n_hosts + n_given; k++) {
        json_host(&hosts[k]);
        check_host_free(&hosts[k]);
    }
    if (mx != NULL) {
        printf("{\"domain_findings\":");
        json_findings(&domain_findings);
        printf("}\n");
    }
    check_findings_free(&domain_findings);
    free(hosts);
    return 0;
}
