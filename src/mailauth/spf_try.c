/* SPDX-License-Identifier: MIT */
/*
 * spf_try: evaluates check_host() against a real resolver through src/dns,
 * for tests/e2e/test_spf.py (which serves the records with dnsmasq and
 * compares with pyspf).
 *
 *   spf_try [--server ADDR:PORT] [--timeout-ms N] [--receiver NAME]
 *           [--time SECONDS] [--free-after-ms N] IP SENDER HELO
 *
 * SENDER "" is <> (postmaster@HELO is checked). Prints four lines:
 * "result=pass", "mechanism=TERM", "reason=TEXT", "exp=TEXT", then
 * "lookups=N voids=N". --free-after-ms frees the evaluation from a timer
 * (printing "freed" if it had not ended). Exit status: 0; 1 when the
 * resolver cannot be made; 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "dns/dns.h"
#include "lib/num.h"
#include "mailauth/spf_dns.h"

struct
try {
    struct event_base *base;
    struct spf_eval *e;
    bool ended;
};

static void
print_answer(const struct spf_answer *a)
{
    printf("result=%s\nmechanism=%s\nreason=%s\nexp=%s\nlookups=%u voids=%u\n",
           spf_result_name(a->result), a->mechanism, a->reason, a->exp, a->lookups, a->voids);
    (void)fflush(stdout);
}

static void
try_done(void *arg, const struct spf_answer *a)
{
    struct try *t = arg;

    print_answer(a);
    t->ended = true;
    spf_eval_free(t->e);
    t->e = NULL;
    (void)event_base_loopbreak(t->base);
}

static void
try_free_cb(evutil_socket_t fd, short what, void *arg)
{
    struct try *t = arg;

    (void)fd;
    (void)what;
    if (t->e != NULL) {
        spf_eval_free(t->e);
        t->e = NULL;
        printf("freed\n");
        (void)fflush(stdout);
    }
    (void)event_base_loopbreak(t->base);
}

static int
usage(void)
{
    fprintf(stderr, "usage: spf_try [--server ADDR:PORT] [--timeout-ms N] [--receiver NAME]\n"
                    "               [--time SECONDS] [--free-after-ms N] IP SENDER HELO\n");
    return 2;
}

static int
number(const char *text, uint64_t max, uint64_t *out)
{
    return num_parse_u64(slice_make(text, strlen(text)), 0, max, out);
}

int
main(int argc, char **argv)
{
    struct try t;
    struct spf_dns table;
    struct spf_answer now;
    struct spf_ip ip;
    struct dns *d;
    struct event *freer = NULL;
    const char *server = NULL, *receiver = "gate26.test";
    uint64_t timeout_ms = 1000, when = 1700000000, free_ms = 0;
    char err[256];
    int i = 1;

    memset(&t, 0, sizeof(t));
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--server") == 0)
            server = argv[i + 1];
        else if (strcmp(argv[i], "--receiver") == 0)
            receiver = argv[i + 1];
        else if (strcmp(argv[i], "--timeout-ms") == 0 &&
                 number(argv[i + 1], 600000, &timeout_ms) == 0)
            continue;
        else if (strcmp(argv[i], "--time") == 0 && number(argv[i + 1], UINT64_MAX, &when) == 0)
            continue;
        else if (strcmp(argv[i], "--free-after-ms") == 0 &&
                 number(argv[i + 1], 600000, &free_ms) == 0)
            continue;
        else
            return usage();
    }
    if (argc - i != 3)
        return usage();
    if (spf_ip_parse(argv[i], &ip) == -1) {
        printf("error=not an address: %s\n", argv[i]);
        return 2;
    }
    t.base = event_base_new();
    if (t.base == NULL)
        return 1;
    d = dns_new(t.base, server, (unsigned)timeout_ms, err, sizeof(err));
    if (d == NULL) {
        printf("error=dns_new: %s\n", err);
        event_base_free(t.base);
        return 1;
    }
    spf_dns_from(d, &table);
    t.e = spf_eval_start(&table, &ip, argv[i + 1], argv[i + 2], receiver, when, try_done, &t, &now);
    if (t.e == NULL) {
        print_answer(&now);
    } else {
        if (free_ms > 0) {
            struct timeval tv = {(time_t)(free_ms / 1000), (suseconds_t)(free_ms % 1000) * 1000};

            freer = evtimer_new(t.base, try_free_cb, &t);
            if (freer == NULL || evtimer_add(freer, &tv) == -1)
                return 1;
        }
        (void)event_base_dispatch(t.base);
    }
    /* Lookups still in flight (after --free-after-ms) are cancelled here;
     * their answers reach only the cut tickets. */
    dns_free(d);
    if (freer != NULL)
        event_free(freer);
    event_base_free(t.base);
    printf("done\n");
    return 0;
}
