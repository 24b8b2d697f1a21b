/* SPDX-License-Identifier: MIT */
/*
 * scan_try: scans a file with clamd or rspamd through src/scan's clients on
 * a libevent loop, and prints the result as one JSON object, for
 * tests/e2e/test_scan.py.
 *
 *   scan_try clamd TARGET FILE [--timeout MS] [--read-error-at N] [--cancel-after MS]
 *   scan_try rspamd URL FILE [--timeout MS] [--read-error-at N] [--cancel-after MS] [--ip A]
 *            [--helo H] [--from F] [--rcpt R]... [--queue-id Q] [--user U]
 *            [--hostname H]
 *
 * --read-error-at N makes the message's reader fail after N octets;
 * --cancel-after MS cancels the scan then (clamd_scan_cancel,
 * rspamd_scan_cancel) and prints {"status": "cancelled"} unless it ended
 * before.
 * Output: {"status": ..., "name"|"error"|"score"...}. Exit status 0 when a
 * result was printed, 2 on bad usage.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <jansson.h>

#include "lib/curl_loop.h"
#include "lib/num.h"
#include "scan/clamd.h"
#include "scan/rspamd.h"

#define MAX_RCPT 100

struct reader {
    FILE *f;
    size_t done, fail_at;
    bool fail;
};

static json_t *out;
static struct clamd_scan *clamd_scan;
static struct rspamd_scan *rspamd_scan;
static struct curl_loop *loop;

static void
usage(void)
{
    fprintf(stderr, "usage: scan_try clamd TARGET FILE [--timeout MS] [--read-error-at N] "
                    "[--cancel-after MS]\n"
                    "       scan_try rspamd URL FILE [--timeout MS] [--read-error-at N] "
                    "[--cancel-after MS] [--ip A] "
                    "[--helo H] [--from F] [--rcpt R]... [--queue-id Q] [--user U] "
                    "[--hostname H]\n");
    exit(2);
}

static size_t
parse_num(const char *s)
{
    uint64_t v;

    if (num_parse_u64(slice_make(s, strlen(s)), 0, UINT32_MAX, &v) == -1)
        usage();
    return (size_t)v;
}

static ssize_t
read_file(void *arg, char *buf, size_t cap)
{
    struct reader *r = arg;
    size_t n;

    if (r->fail && r->done >= r->fail_at)
        return -1;
    if (r->fail && cap > r->fail_at - r->done)
        cap = r->fail_at - r->done;
    n = fread(buf, 1, cap, r->f);
    if (n == 0 && ferror(r->f))
        return -1;
    if (n == 0 && r->fail)
        return -1;
    r->done += n;
    return (ssize_t)n;
}

/* --cancel-after: the scan is stopped; its done callback must never come. */
static void
cancel_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    clamd_scan_cancel(clamd_scan);
    rspamd_scan_cancel(rspamd_scan);
    clamd_scan = NULL;
    rspamd_scan = NULL;
    out = json_pack("{ss}", "status", "cancelled");
    if (loop != NULL && curl_loop_running(loop) != 0) {
        fprintf(stderr, "scan_try: a transfer is left in the loop after the cancel\n");
        exit(1);
    }
    (void)event_base_loopbreak(arg);
}

static void
clamd_done(void *arg, const struct clamd_result *r)
{
    clamd_scan = NULL;
    (void)event_base_loopbreak(arg);
    out = json_pack("{ss}", "status", clamd_status_name(r->status));
    if (r->status == CLAMD_INFECTED)
        json_object_set_new(out, "name", json_string(r->name));
    else if (r->status != CLAMD_CLEAN)
        json_object_set_new(out, "error", json_string(r->error));
}

static void
rspamd_done(void *arg, const struct rspamd_result *r)
{
    json_t *syms;

    (void)event_base_loopbreak(arg);
    out = json_pack("{sssI}", "status", rspamd_status_name(r->status), "http_status",
                    (json_int_t)r->http_status);
    if (r->status != RSPAMD_OK) {
        json_object_set_new(out, "error", json_string(r->error));
        return;
    }
    json_object_set_new(out, "score", json_real(r->score));
    json_object_set_new(out, "required_score", json_real(r->required_score));
    json_object_set_new(out, "action", json_string(r->action_text));
    json_object_set_new(out, "is_skipped", json_boolean(r->is_skipped));
    json_object_set_new(out, "n_symbols_all", json_integer((json_int_t)r->n_symbols_all));
    syms = json_object();
    for (size_t i = 0; i < r->n_symbols; i++)
        json_object_set_new(syms, r->symbols[i].name, json_real(r->symbols[i].score));
    json_object_set_new(out, "symbols", syms);
}

int
main(int argc, char **argv)
{
    struct rspamd_request req = {0};
    const char *rcpt[MAX_RCPT];
    struct reader rd = {0};
    struct event_base *base;
    struct stat st;
    struct event *cancel = NULL;
    unsigned timeout = 10000;
    long cancel_ms = -1;
    int i;

    if (argc < 4 || (strcmp(argv[1], "clamd") != 0 && strcmp(argv[1], "rspamd") != 0))
        usage();
    for (i = 4; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (val == NULL)
            usage();
        i++;
        if (strcmp(opt, "--timeout") == 0)
            timeout = (unsigned)parse_num(val);
        else if (strcmp(opt, "--cancel-after") == 0)
            cancel_ms = (long)parse_num(val);
        else if (strcmp(opt, "--read-error-at") == 0) {
            rd.fail = true;
            rd.fail_at = parse_num(val);
        } else if (strcmp(opt, "--ip") == 0)
            req.ip = val;
        else if (strcmp(opt, "--helo") == 0)
            req.helo = val;
        else if (strcmp(opt, "--from") == 0)
            req.from = val;
        else if (strcmp(opt, "--rcpt") == 0 && req.n_rcpt < MAX_RCPT)
            rcpt[req.n_rcpt++] = val;
        else if (strcmp(opt, "--queue-id") == 0)
            req.queue_id = val;
        else if (strcmp(opt, "--user") == 0)
            req.user = val;
        else if (strcmp(opt, "--hostname") == 0)
            req.hostname = val;
        else
            usage();
    }
    (void)signal(SIGPIPE, SIG_IGN); /* as in the daemon */
    rd.f = fopen(argv[3], "rb");
    if (rd.f == NULL || fstat(fileno(rd.f), &st) == -1) {
        perror(argv[3]);
        return 1;
    }
    base = event_base_new();
    if (base == NULL)
        return 1;
    if (cancel_ms >= 0) {
        struct timeval tv = {cancel_ms / 1000, (cancel_ms % 1000) * 1000};

        cancel = evtimer_new(base, cancel_cb, base);
        if (cancel == NULL || evtimer_add(cancel, &tv) == -1)
            return 1;
    }
    if (strcmp(argv[1], "clamd") == 0) {
        struct clamd_target t;
        char err[200];

        if (clamd_target_parse(argv[2], &t, err, sizeof(err)) == -1) {
            out = json_pack("{ssss}", "status", "bad-target", "error", err);
        } else {
            clamd_scan = clamd_scan_start(base, &t, timeout, read_file, &rd, clamd_done, base);
            (void)event_base_dispatch(base);
        }
    } else {
        loop = curl_loop_new(base);
        req.url = argv[2];
        req.rcpt = rcpt;
        req.size = (size_t)st.st_size;
        req.timeout_ms = timeout;
        rspamd_scan = rspamd_scan_start(loop, &req, read_file, &rd, rspamd_done, base);
        (void)event_base_dispatch(base);
        curl_loop_free(loop);
    }
    if (cancel != NULL)
        event_free(cancel);
    event_base_free(base);
    (void)fclose(rd.f);
    if (out == NULL) {
        fprintf(stderr, "scan_try: the loop ended without a result\n");
        return 1;
    }
    (void)json_dumpf(out, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(out);
    return 0;
}
