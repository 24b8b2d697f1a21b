/* SPDX-License-Identifier: MIT */
/*
 * scan_try: scans a file with clamd or rspamd through src/scan's clients on
 * a libevent loop, and prints the result as one JSON object, for
 * tests/e2e/test_scan.py.
 *
 *   scan_try clamd TARGET FILE [--timeout MS] [--read-error-at N]
 *   scan_try rspamd URL FILE [--timeout MS] [--read-error-at N] [--ip A]
 *            [--helo H] [--from F] [--rcpt R]... [--queue-id Q] [--user U]
 *            [--hostname H]
 *
 * --read-error-at N makes the message's reader fail after N octets.
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

static void
usage(void)
{
    fprintf(stderr, "usage: scan_try clamd TARGET FILE [--timeout MS] [--read-error-at N]\n"
                    "       scan_try rspamd URL FILE [--timeout MS] [--read-error-at N] [--ip A] "
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

static void
clamd_done(void *arg, const struct clamd_result *r)
{
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
    unsigned timeout = 10000;
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
    if (strcmp(argv[1], "clamd") == 0) {
        struct clamd_target t;
        char err[200];

        if (clamd_target_parse(argv[2], &t, err, sizeof(err)) == -1) {
            out = json_pack("{ssss}", "status", "bad-target", "error", err);
        } else {
            (void)clamd_scan_start(base, &t, timeout, read_file, &rd, clamd_done, base);
            (void)event_base_dispatch(base);
        }
    } else {
        struct curl_loop *loop = curl_loop_new(base);

        req.url = argv[2];
        req.rcpt = rcpt;
        req.size = (size_t)st.st_size;
        req.timeout_ms = timeout;
        (void)rspamd_scan_start(loop, &req, read_file, &rd, rspamd_done, base);
        (void)event_base_dispatch(base);
        curl_loop_free(loop);
    }
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
