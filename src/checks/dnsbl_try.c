/* SPDX-License-Identifier: MIT */
/*
 * dnsbl_try: one DNSBL/DNSWL lookup through src/checks/dnsbl.c on a libevent
 * loop, for tests/e2e/test_dnsbl.py (which points it at dnsmasq).
 *
 *   dnsbl_try [--server ADDR:PORT] [--timeout-ms N] [--cache N] [--cancel]
 *             ADDR (bl ZONE | wl ZONE)...
 *
 * Prints "name ZONE QNAME" for each zone (dnsbl_query_name), then the
 * answer: "listed=0|1 white=0|1 zone=ZONE code=CODE tempfail=N" (zone and
 * code "-" when none), or "nothing-asked" when dnsbl_start() returned NULL;
 * with --cancel, dnsbl_cancel() right after the start, the loop run until
 * the queries are answered, and "cancelled" printed (done must not run).
 * Then "done". Exit 0, 1 when dns_new() fails, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "checks/dnsbl.h"
#include "lib/num.h"

static bool in_start; /* inside dnsbl_start(): done must not run there */
static bool answered;

static void
done_cb(void *arg, const struct dnsbl_answer *a)
{
    bool *cancelled = arg;

    if (in_start || *cancelled || answered) {
        fprintf(stderr, "dnsbl_try: done called %s\n",
                in_start ? "inside dnsbl_start" : (*cancelled ? "after cancel" : "twice"));
        abort();
    }
    answered = true;
    printf("listed=%d white=%d zone=%s code=%s tempfail=%u\n", a->listed, a->white,
           a->zone[0] != '\0' ? a->zone : "-", a->code[0] != '\0' ? a->code : "-", a->n_tempfail);
}

static int
usage(void)
{
    fprintf(stderr, "usage: dnsbl_try [--server ADDR:PORT] [--timeout-ms N] [--cache N] "
                    "[--cancel] ADDR (bl ZONE | wl ZONE)...\n");
    return 2;
}

static int
number(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    return num_parse_u64(slice_make(text, strlen(text)), min, max, out);
}

int
main(int argc, char **argv)
{
    const char *server = NULL;
    const char *bl[16], *wl[16];
    size_t n_bl = 0, n_wl = 0;
    uint64_t timeout_ms = 1000, cache = 0;
    bool cancel = false, cancelled = false;
    unsigned char addr[16];
    int family;
    struct event_base *base;
    struct dns *d;
    struct dnsbl_lookup *l;
    char err[256];
    int i = 1;

    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--cancel") == 0) {
            cancel = true;
            continue;
        }
        if (i + 1 >= argc)
            return usage();
        if (strcmp(argv[i], "--server") == 0)
            server = argv[++i];
        else if (strcmp(argv[i], "--timeout-ms") == 0 &&
                 number(argv[i + 1], 1, 600000, &timeout_ms) == 0)
            i++;
        else if (strcmp(argv[i], "--cache") == 0 && number(argv[i + 1], 0, 100000, &cache) == 0)
            i++;
        else
            return usage();
    }
    if (i >= argc)
        return usage();
    if (inet_pton(AF_INET, argv[i], addr) == 1)
        family = AF_INET;
    else if (inet_pton(AF_INET6, argv[i], addr) == 1)
        family = AF_INET6;
    else
        return usage();
    for (i++; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "bl") == 0 && n_bl < 16)
            bl[n_bl++] = argv[i + 1];
        else if (strcmp(argv[i], "wl") == 0 && n_wl < 16)
            wl[n_wl++] = argv[i + 1];
        else
            return usage();
    }
    if (i != argc)
        return usage();
    for (size_t k = 0; k < n_bl + n_wl; k++) {
        const char *zone = k < n_bl ? bl[k] : wl[k - n_bl];
        char name[300];

        if (dnsbl_query_name(name, sizeof(name), family, addr, zone) == 0)
            printf("name %s %s\n", zone, name);
        else
            printf("name %s -\n", zone);
    }
    base = event_base_new();
    if (base == NULL)
        return 1;
    d = dns_new(base, server, (unsigned)timeout_ms, err, sizeof(err));
    if (d == NULL) {
        printf("error=dns_new: %s\n", err);
        event_base_free(base);
        return 1;
    }
    if (dns_cache_set(d, (size_t)cache) == -1)
        return 1;
    in_start = true;
    l = dnsbl_start(d, family, addr, bl, n_bl, wl, n_wl, done_cb, &cancelled);
    in_start = false;
    if (l == NULL) {
        printf("nothing-asked\n");
    } else {
        if (cancel) {
            dnsbl_cancel(l);
            cancelled = true;
        }
        (void)event_base_dispatch(base);
        if (cancel)
            printf("cancelled\n");
        else if (!answered)
            printf("no-answer\n");
    }
    dns_free(d);
    event_base_free(base);
    printf("done\n");
    return 0;
}
