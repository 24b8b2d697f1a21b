/* SPDX-License-Identifier: MIT */
/*
 * milter_try: plays one message file through one milter with the client of
 * milter.c and prints the result as one JSON object, for
 * tests/e2e/test_milter.py.
 *
 *   milter_try [--connect-ms N] [--reply-ms N] [--total-ms N] [--body-max N]
 *              [--from ADDR] [--rcpt ADDR]... [--helo NAME] [--client ADDR]
 *              [--client-name NAME] [--queue-id ID] [--hostname NAME]
 *              [--auth USER] [--cancel-ms N] SPEC FILE
 *
 * FILE holds the message as the spool does (CR LF lines, no dot-stuffing).
 * Output: {"verdict", "code", "text", "quarantine", "rcpt_rejected",
 * "mods": [{"kind", "index", "name", "value"}], "body"}; with --cancel-ms,
 * {"cancelled": true} when milter_cancel() came first. Exit status 0, 1
 * when SPEC or FILE is bad, 2 on bad usage.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "lib/num.h"
#include "lib/xalloc.h"
#include "scan/milter.h"

#define MAX_RCPTS 100

static void
usage(void)
{
    fprintf(stderr, "usage: milter_try [--connect-ms N] [--reply-ms N] [--total-ms N] "
                    "[--body-max N] [--from ADDR] [--rcpt ADDR]... [--helo NAME] [--client ADDR] "
                    "[--client-name NAME] [--queue-id ID] [--hostname NAME] [--auth USER] "
                    "[--cancel-ms N] SPEC FILE\n");
    exit(2);
}

static uint64_t
parse_num(const char *s, uint64_t min, uint64_t max)
{
    uint64_t v;

    if (num_parse_u64(slice_make(s, strlen(s)), min, max, &v) == -1)
        usage();
    return v;
}

static ssize_t
read_file(void *arg, char *buf, size_t cap)
{
    FILE *f = arg;
    size_t n = fread(buf, 1, cap, f);

    if (n == 0 && ferror(f))
        return -1;
    return (ssize_t)n;
}

static struct milter *running;

static void
cancel_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (running == NULL)
        return;
    milter_cancel(running);
    running = NULL;
    printf("{\"cancelled\": true}\n");
}

static json_t *
jstr_or_null(const char *s, size_t len)
{
    return s != NULL ? json_stringn(s, len) : json_null();
}

static void
done(void *arg, const struct milter_result *r)
{
    json_t *o = json_object(), *mods = json_array();
    char *text;

    (void)arg;
    running = NULL;
    json_object_set_new(o, "verdict", json_string(milter_verdict_name(r->verdict)));
    json_object_set_new(o, "code", json_integer(r->code));
    json_object_set_new(o, "text", jstr_or_null(r->text, r->text ? strlen(r->text) : 0));
    json_object_set_new(o, "quarantine",
                        jstr_or_null(r->quarantine, r->quarantine ? strlen(r->quarantine) : 0));
    json_object_set_new(o, "rcpt_rejected", json_integer(r->rcpt_rejected));
    for (size_t i = 0; i < r->n_mods; i++) {
        const struct milter_mod *m = &r->mods[i];

        json_array_append_new(
            mods, json_pack("{s:s, s:i, s:s, s:s}", "kind", milter_mod_kind_name(m->kind), "index",
                            (json_int_t)m->index, "name", m->name, "value", m->value));
    }
    json_object_set_new(o, "mods", mods);
    json_object_set_new(o, "body",
                        r->body_replaced ? json_stringn(r->body, r->body_len) : json_null());
    text = json_dumps(o, JSON_COMPACT);
    if (text == NULL) {
        fprintf(stderr, "milter_try: cannot print the result (not UTF-8?)\n");
        exit(1);
    }
    printf("%s\n", text);
    free(text);
    json_decref(o);
}

int
main(int argc, char **argv)
{
    struct milter_opts opts = {5000, 10000, 30000, 10 * 1024 * 1024};
    struct milter_env env = {0};
    const char *rcpts[MAX_RCPTS];
    struct milter_addr addr;
    struct event_base *base;
    char err[256];
    struct event *cancel = NULL;
    unsigned cancel_ms = 0;
    size_t n_rcpts = 0;
    int i;
    FILE *f;

    env.hostname = "gate26.test";
    env.daemon_name = "inbound";
    env.queue_id = "4QX1A2B3C4";
    env.client_addr = "127.0.0.1";
    env.client_port = 40000;
    env.client_name = "localhost";
    env.helo = "client.example.test";
    env.mail_from = "sender@example.test";
    env.tls_version = NULL;
    for (i = 1; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];

        if (strcmp(k, "--connect-ms") == 0)
            opts.connect_ms = (unsigned)parse_num(v, 1, 600000);
        else if (strcmp(k, "--reply-ms") == 0)
            opts.reply_ms = (unsigned)parse_num(v, 1, 600000);
        else if (strcmp(k, "--total-ms") == 0)
            opts.total_ms = (unsigned)parse_num(v, 1, 600000);
        else if (strcmp(k, "--body-max") == 0)
            opts.body_max = (size_t)parse_num(v, 0, SIZE_MAX / 2);
        else if (strcmp(k, "--from") == 0)
            env.mail_from = v;
        else if (strcmp(k, "--rcpt") == 0 && n_rcpts < MAX_RCPTS)
            rcpts[n_rcpts++] = v;
        else if (strcmp(k, "--helo") == 0)
            env.helo = v;
        else if (strcmp(k, "--client") == 0)
            env.client_addr = v;
        else if (strcmp(k, "--client-name") == 0)
            env.client_name = v;
        else if (strcmp(k, "--queue-id") == 0)
            env.queue_id = v;
        else if (strcmp(k, "--hostname") == 0)
            env.hostname = v;
        else if (strcmp(k, "--auth") == 0)
            env.auth_authen = v;
        else if (strcmp(k, "--cancel-ms") == 0)
            cancel_ms = (unsigned)parse_num(v, 1, 600000);
        else
            usage();
    }
    if (argc - i != 2)
        usage();
    if (n_rcpts == 0)
        rcpts[n_rcpts++] = "rcpt@example.net";
    env.rcpts = rcpts;
    env.n_rcpts = n_rcpts;
    if (milter_addr_parse(argv[i], &addr, err, sizeof(err)) == -1) {
        fprintf(stderr, "milter_try: %s: %s\n", argv[i], err);
        return 1;
    }
    f = fopen(argv[i + 1], "rb");
    if (f == NULL) {
        fprintf(stderr, "milter_try: %s: %s\n", argv[i + 1], strerror(errno));
        return 1;
    }
    (void)signal(SIGPIPE, SIG_IGN); /* a milter that closed: an error, not a death */
    base = event_base_new();
    if (base == NULL)
        return 1;
    running = milter_start(base, &addr, &opts, &env, read_file, f, done, NULL);
    if (cancel_ms > 0) {
        struct timeval tv = {(time_t)(cancel_ms / 1000), (suseconds_t)(cancel_ms % 1000) * 1000};

        cancel = evtimer_new(base, cancel_cb, NULL);
        if (cancel == NULL || evtimer_add(cancel, &tv) == -1)
            return 1;
    }
    (void)event_base_dispatch(base);
    if (cancel != NULL)
        event_free(cancel);
    event_base_free(base);
    (void)fclose(f);
    return 0;
}
