/* SPDX-License-Identifier: MIT */
/*
 * dns_try: runs real lookups through src/dns/ on a libevent loop and prints
 * each answer, for tests/e2e/test_dns.py (which points it at dnsmasq).
 *
 *   dns_try [--server ADDR:PORT] [--timeout-ms N] [--repeat N] [--interval-ms N]
 *           [--cache N] [--cancel-after-ms N] [--free-in-callback] [--free-after N]
 *           (mx NAME | addrs NAME | txt NAME | a NAME)...
 *
 * All queries start at once; --repeat N asks each one N times in a row, the
 * next started from the callback of the previous (or --interval-ms later,
 * from a timer). --cache N turns the answer cache on with N entries
 * (dns_cache_set) and prints "cache=SIZE" at the end; --free-after N calls
 * dns_free() right after the Nth lookup started. Each answer is printed as
 * one block: "status=ok name=NAME n=2 ms=3", then "mx 10 mx1.test" or
 * "addr 192.0.2.1" lines, "txt ttl=N len=L TEXT" (octets outside printable
 * ASCII and '\\' as \\xHH) or "a 127.0.0.2 ttl=N" lines, or "why=TEXT". A name refused by
 * dns_mx/dns_addrs prints "error=EINVAL name=NAME". --cancel-after-ms calls dns_free() from a
 * timer, --free-in-callback from the first callback; pending queries then
 * print "status=cancelled". A callback that runs inside dns_mx()/dns_addrs()
 * or twice aborts. Exit status: 0, 1 when dns_new() fails, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "dns/dns.h"
#include "lib/num.h"

enum try_kind {
    TRY_MX,
    TRY_ADDRS,
    TRY_TXT,
    TRY_A,
};

struct
try {
    struct event_base *base;
    struct dns *d;
    struct event *cancel;
    size_t outstanding; /* jobs with a query in flight or waiting for their interval */
    struct timeval interval;
    bool use_interval;
    unsigned started;    /* lookups started so far */
    unsigned free_after; /* dns_free() after this many started (0: never) */
    bool free_in_callback;
    bool starting; /* inside dns_mx()/dns_addrs() */
};

struct job {
    struct try *t;
    enum try_kind kind;
    const char *name;
    unsigned left; /* lookups still to start */
    bool in_flight;
    struct event *timer; /* --interval-ms */
    struct timespec started;
};

static void job_start(struct job *j);

static long
ms_since(const struct timespec *t0)
{
    struct timespec now;

    (void)clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Common to both callbacks: checks the promises of dns.h, prints the status. */
static void
job_answered(struct job *j, enum dns_status st, size_t n, const char *why)
{
    if (j->t->starting) {
        fprintf(stderr, "dns_try: callback inside dns_mx()/dns_addrs()\n");
        abort();
    }
    if (!j->in_flight) {
        fprintf(stderr, "dns_try: callback for %s called twice\n", j->name);
        abort();
    }
    if (why == NULL) {
        fprintf(stderr, "dns_try: why is NULL\n");
        abort();
    }
    j->in_flight = false;
    printf("status=%s name=%s n=%zu ms=%ld\n", dns_status_name(st), j->name, n,
           ms_since(&j->started));
    if (st != DNS_OK)
        printf("why=%s\n", why);
}

/* After the records: the next lookup of the job, or the end of the loop. */
static void
job_next(struct job *j)
{
    struct try *t = j->t;

    (void)fflush(stdout);
    t->outstanding--;
    if (t->free_in_callback && t->d != NULL) {
        t->free_in_callback = false;
        dns_free(t->d);
        t->d = NULL;
    }
    if (t->d != NULL && j->left > 0) {
        if (t->use_interval) {
            t->outstanding++;
            if (evtimer_add(j->timer, &t->interval) == -1)
                abort();
        } else {
            job_start(j);
        }
    }
    if (t->outstanding == 0)
        (void)event_base_loopbreak(t->base);
}

static void
try_mx_cb(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n, const char *why)
{
    struct job *j = arg;

    job_answered(j, st, n, why);
    for (size_t i = 0; i < n; i++)
        printf("mx %u %s\n", mx[i].pref, mx[i].host);
    job_next(j);
}

static void
try_addr_cb(void *arg, enum dns_status st, const struct dns_addr *addrs, size_t n, const char *why)
{
    struct job *j = arg;

    job_answered(j, st, n, why);
    for (size_t i = 0; i < n; i++) {
        char text[INET6_ADDRSTRLEN] = "?";
        const struct sockaddr_storage *sa = &addrs[i].sa;
        unsigned port;

        if (sa->ss_family == AF_INET6) {
            const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

            (void)inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
            port = ntohs(sin6->sin6_port);
        } else {
            const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

            (void)inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
            port = ntohs(sin->sin_port);
        }
        printf("addr %s port=%u len=%u\n", text, port, (unsigned)addrs[i].sa_len);
    }
    job_next(j);
}

static void
try_txt_cb(void *arg, enum dns_status st, const struct dns_txt *txt, size_t n, const char *why)
{
    struct job *j = arg;

    job_answered(j, st, n, why);
    for (size_t i = 0; i < n; i++) {
        printf("txt ttl=%u len=%zu ", txt[i].ttl, txt[i].len);
        for (size_t k = 0; k < txt[i].len; k++) {
            unsigned char ch = (unsigned char)txt[i].text[k];

            if (ch < 0x20 || ch > 0x7e || ch == '\\')
                printf("\\x%02x", ch);
            else
                putchar(ch);
        }
        if (txt[i].text[txt[i].len] != '\0')
            abort();
        putchar('\n');
    }
    job_next(j);
}

static void
try_a_cb(void *arg, enum dns_status st, const struct dns_a *a, size_t n, const char *why)
{
    struct job *j = arg;

    job_answered(j, st, n, why);
    for (size_t i = 0; i < n; i++) {
        char text[INET_ADDRSTRLEN] = "?";

        (void)inet_ntop(AF_INET, &a[i].addr, text, sizeof(text));
        printf("a %s ttl=%u\n", text, a[i].ttl);
    }
    job_next(j);
}

static void
job_start(struct job *j)
{
    struct try *t = j->t;
    int rc;

    j->left--;
    j->in_flight = true;
    (void)clock_gettime(CLOCK_MONOTONIC, &j->started);
    t->outstanding++;
    t->starting = true;
    if (j->kind == TRY_MX)
        rc = dns_mx(t->d, j->name, try_mx_cb, j);
    else if (j->kind == TRY_TXT)
        rc = dns_txt(t->d, j->name, try_txt_cb, j);
    else if (j->kind == TRY_A)
        rc = dns_a(t->d, j->name, try_a_cb, j);
    else
        rc = dns_addrs(t->d, j->name, try_addr_cb, j);
    t->starting = false;
    t->started++;
    if (rc == 0 && t->free_after > 0 && t->started == t->free_after) {
        printf("cancelling\n");
        dns_free(t->d);
        t->d = NULL;
        (void)fflush(stdout);
        return;
    }
    if (rc == -1) {
        printf("error=%s name=%s\n", errno == EINVAL ? "EINVAL" : strerror(errno), j->name);
        (void)fflush(stdout);
        j->in_flight = false;
        j->left = 0;
        t->outstanding--;
    }
}

static void
job_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct job *j = arg;

    (void)fd;
    (void)what;
    j->t->outstanding--;
    if (j->t->d != NULL)
        job_start(j);
    if (j->t->outstanding == 0)
        (void)event_base_loopbreak(j->t->base);
}

static void
try_cancel_cb(evutil_socket_t fd, short what, void *arg)
{
    struct try *t = arg;

    (void)fd;
    (void)what;
    printf("cancelling\n");
    dns_free(t->d);
    t->d = NULL;
    (void)fflush(stdout);
}

static int
usage(void)
{
    fprintf(stderr, "usage: dns_try [--server ADDR:PORT] [--timeout-ms N] [--repeat N]\n"
                    "               [--interval-ms N] [--cache N] [--cancel-after-ms N]\n"
                    "               [--free-in-callback] [--free-after N]\n"
                    "               (mx NAME | addrs NAME | txt NAME | a NAME)...\n");
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
    struct try t;
    struct job *jobs;
    const char *server = NULL;
    uint64_t timeout_ms = 1000, repeat = 1, cancel_ms = 0, interval_ms = 0, cache = 0;
    uint64_t free_after = 0;
    size_t njobs = 0;
    char err[256];
    int i = 1;

    memset(&t, 0, sizeof(t));
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *opt = argv[i];

        if (strcmp(opt, "--free-in-callback") == 0) {
            t.free_in_callback = true;
            continue;
        }
        if (i + 1 >= argc)
            return usage();
        if (strcmp(opt, "--server") == 0)
            server = argv[++i];
        else if (strcmp(opt, "--timeout-ms") == 0 &&
                 number(argv[i + 1], 0, 3600000, &timeout_ms) == 0)
            i++;
        else if (strcmp(opt, "--repeat") == 0 && number(argv[i + 1], 1, 10000, &repeat) == 0)
            i++;
        else if (strcmp(opt, "--interval-ms") == 0 &&
                 number(argv[i + 1], 1, 3600000, &interval_ms) == 0)
            i++;
        else if (strcmp(opt, "--cache") == 0 && number(argv[i + 1], 0, 2000000, &cache) == 0)
            i++;
        else if (strcmp(opt, "--free-after") == 0 &&
                 number(argv[i + 1], 1, 10000, &free_after) == 0)
            i++;
        else if (strcmp(opt, "--cancel-after-ms") == 0 &&
                 number(argv[i + 1], 0, 3600000, &cancel_ms) == 0)
            i++;
        else
            return usage();
    }
    if (i >= argc || (argc - i) % 2 != 0)
        return usage();
    jobs = calloc((size_t)(argc - i) / 2, sizeof(*jobs));
    if (jobs == NULL)
        return 1;
    for (; i < argc; i += 2) {
        struct job *j = &jobs[njobs++];

        if (strcmp(argv[i], "mx") == 0)
            j->kind = TRY_MX;
        else if (strcmp(argv[i], "addrs") == 0)
            j->kind = TRY_ADDRS;
        else if (strcmp(argv[i], "txt") == 0)
            j->kind = TRY_TXT;
        else if (strcmp(argv[i], "a") == 0)
            j->kind = TRY_A;
        else
            return usage();
        j->t = &t;
        j->name = argv[i + 1];
        j->left = (unsigned)repeat;
    }

    t.base = event_base_new();
    if (t.base == NULL)
        return 1;
    t.d = dns_new(t.base, server, (unsigned)timeout_ms, err, sizeof(err));
    if (t.d == NULL) {
        printf("error=dns_new: %s\n", err);
        event_base_free(t.base);
        free(jobs);
        return 1;
    }
    if (dns_cache_set(t.d, (size_t)cache) == -1)
        printf("error=dns_cache_set: %s\n", strerror(errno));
    t.free_after = (unsigned)free_after;
    if (interval_ms > 0) {
        t.use_interval = true;
        t.interval.tv_sec = (time_t)(interval_ms / 1000);
        t.interval.tv_usec = (suseconds_t)(interval_ms % 1000) * 1000;
        for (size_t k = 0; k < njobs; k++) {
            jobs[k].timer = evtimer_new(t.base, job_timer_cb, &jobs[k]);
            if (jobs[k].timer == NULL)
                return 1;
        }
    }
    if (cancel_ms > 0) {
        struct timeval tv = {(time_t)(cancel_ms / 1000), (suseconds_t)(cancel_ms % 1000) * 1000};

        t.cancel = evtimer_new(t.base, try_cancel_cb, &t);
        if (t.cancel == NULL || evtimer_add(t.cancel, &tv) == -1)
            return 1;
    }
    for (size_t k = 0; k < njobs && t.d != NULL; k++)
        job_start(&jobs[k]);
    if (t.outstanding > 0)
        (void)event_base_dispatch(t.base);
    if (cache > 0 && t.d != NULL)
        printf("cache=%zu\n", dns_cache_size(t.d));
    dns_free(t.d);
    for (size_t k = 0; k < njobs; k++) {
        if (jobs[k].timer != NULL)
            event_free(jobs[k].timer);
    }
    if (t.cancel != NULL)
        event_free(t.cancel);
    event_base_free(t.base);
    free(jobs);
    printf("done\n");
    return 0;
}
