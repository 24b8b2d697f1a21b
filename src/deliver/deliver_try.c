/* SPDX-License-Identifier: MIT */
/*
 * deliver_try: runs one delivery attempt of the SMTP client against real
 * servers, for the tests (tests/e2e/test_deliver_client.py), and prints
 * what the callback got as one line of JSON on standard output:
 *
 *     {"callbacks":1,"hop":0,"relay":"mx[127.0.0.1]:2525",
 *      "used_pipelining":true,"rcpts":[{"addr":"a@b","outcome":"ok",
 *      "code":250,"enhanced":"2.0.0","text":"250 2.0.0 ok (in reply to
 *      end of DATA command)"}]}
 *
 * The content is the file given, from --offset to its end. --notify and
 * --orcpt apply to the --to before them. --cancel-after MS ends the attempt
 * with deliver_cancel() instead and prints {"cancelled":true}. It checks
 * that the callback came once and not from inside deliver_start(). Log
 * lines (--debug for the debug level) go to standard error.
 *
 * --tls none|may|encrypt|verify sets the STARTTLS policy (default none),
 * with --ca-file FILE as the CA store for verify (default: the system's);
 * the JSON line then has "tls" (version, cipher, verified or not).
 *
 * --verify makes it a recipient callout of the first --to instead
 * (deliver_verify_start; --from, --file and --repeat are not used), and the
 * line is {"callbacks":1,"answer":"ok|refused|temp","code":550,
 * "relay":"...","text":"..."}; --smtputf8 then says the address needs it.
 *
 * --repeat N runs the attempt N times, one after the other (--pause-ms MS
 * between them), printing one line each; --reuse S gives them a connection
 * cache that keeps idle connections S seconds, and each line tells whether
 * its connection came from it ("reused":true).
 *
 * Usage: deliver_try --helo NAME --from ADDR --to ADDR [--notify LIST]
 *        [--orcpt TYPE;XTEXT] [--to ...] [--body 7bit|8bitmime] [--smtputf8]
 *        [--ret full|hdrs] [--envid XTEXT] [--id ID] --file MSGFILE
 *        [--offset N] --hop NAME,ADDR:PORT [--hop ...] [--timeout-connect S]
 *        [--timeout-greeting S] [--timeout-command S] [--timeout-data-init S]
 *        [--timeout-data-block S] [--timeout-data-end S] [--cancel-after MS]
 *        [--repeat N] [--pause-ms MS] [--reuse S] [--tls POLICY] [--ca-file FILE]
 *        [--debug]
 *        deliver_try --verify --helo NAME --to ADDR [--smtputf8] --hop ... [the timeouts,
 *        --cancel-after, --tls, --ca-file, --debug]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "deliver/deliver.h"
#include "lib/log.h"
#include "lib/num.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "tls/tls.h"

#define TRY_MAX_RCPTS 64
#define TRY_MAX_HOPS  8

struct try_state {
    struct deliver_msg msg;
    struct deliver_rcpt rcpts[TRY_MAX_RCPTS];
    struct deliver_hop hops[TRY_MAX_HOPS];
    size_t n_hops;
    struct deliver *d;
    bool verify;              /* --verify: a callout */
    struct deliver_verify *v; /* in flight */
    struct event_base *base;
    struct deliver_opts opts;
    struct event *cancel_ev;
    struct event *next_ev; /* the next of --repeat */
    unsigned repeat, pause_ms;
    bool in_start;
    unsigned callbacks;
    bool cancelled;
};

static void try_start(struct try_state *st);

static _Noreturn void
try_usage(const char *why)
{
    fprintf(stderr, "deliver_try: %s\n", why);
    exit(2);
}

static unsigned
try_number(const char *s, uint64_t max)
{
    uint64_t v;

    if (num_parse_u64(slice_make(s, strlen(s)), 0, max, &v) == -1)
        try_usage("bad number");
    return (unsigned)v;
}

/* "NAME,ADDR:PORT" with ADDR an IPv4 address or an IPv6 one in brackets. */
static void
try_hop(struct deliver_hop *h, const char *arg)
{
    const char *comma = strchr(arg, ',');
    char addr[INET6_ADDRSTRLEN + 2];
    const char *hp, *colon;
    unsigned port;

    memset(h, 0, sizeof(*h));
    if (comma == NULL || str_copy(h->name, sizeof(h->name), arg, (size_t)(comma - arg)) == -1)
        try_usage("bad --hop");
    hp = comma + 1;
    colon = strrchr(hp, ':');
    if (colon == NULL)
        try_usage("bad --hop");
    port = try_number(colon + 1, 65535);
    if (hp[0] == '[') {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&h->sa;

        if (colon - hp < 3 || colon[-1] != ']' ||
            str_copy(addr, sizeof(addr), hp + 1, (size_t)(colon - hp - 2)) == -1 ||
            inet_pton(AF_INET6, addr, &in6->sin6_addr) != 1)
            try_usage("bad --hop address");
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        h->sa_len = sizeof(*in6);
    } else {
        struct sockaddr_in *in4 = (struct sockaddr_in *)&h->sa;

        if (str_copy(addr, sizeof(addr), hp, (size_t)(colon - hp)) == -1 ||
            inet_pton(AF_INET, addr, &in4->sin_addr) != 1)
            try_usage("bad --hop address");
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        h->sa_len = sizeof(*in4);
    }
}

/* "NEVER" or a comma list of SUCCESS, FAILURE, DELAY. */
static unsigned
try_notify(const char *arg)
{
    static const struct {
        const char *name;
        unsigned bit;
    } words[] = {
        {"NEVER", SPOOL_NOTIFY_NEVER},
        {"SUCCESS", SPOOL_NOTIFY_SUCCESS},
        {"FAILURE", SPOOL_NOTIFY_FAILURE},
        {"DELAY", SPOOL_NOTIFY_DELAY},
    };
    unsigned bits = 0;

    for (const char *p = arg;;) {
        size_t len = strcspn(p, ",");
        bool found = false;

        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
            if (strlen(words[i].name) == len && memcmp(p, words[i].name, len) == 0) {
                bits |= words[i].bit;
                found = true;
            }
        }
        if (!found)
            try_usage("bad --notify");
        if (p[len] == '\0')
            return bits;
        p += len + 1;
    }
}

/* A JSON string of printable ASCII (the texts are nothing else). */
static void
try_json_str(const char *s)
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

static const char *
try_outcome_name(enum deliver_outcome o)
{
    switch (o) {
    case DELIVER_OK:
        return "ok";
    case DELIVER_TEMP:
        return "temp";
    case DELIVER_PERM:
        return "perm";
    case DELIVER_PENDING:
        break;
    }
    return "pending";
}

static void
try_done(void *arg, const struct deliver_result *res)
{
    struct try_state *st = arg;

    if (st->in_start) {
        fprintf(stderr, "deliver_try: callback from inside deliver_start\n");
        abort();
    }
    st->callbacks++;
    st->d = NULL;
    if (st->cancel_ev != NULL)
        (void)event_del(st->cancel_ev);
    printf("{\"callbacks\":%u,\"hop\":%d,\"relay\":", st->callbacks, res->hop);
    try_json_str(res->relay);
    printf(",\"used_pipelining\":%s,\"reused\":%s,\"tls\":",
           res->used_pipelining ? "true" : "false", res->reused ? "true" : "false");
    try_json_str(res->tls);
    printf(",\"rcpts\":[");
    for (size_t i = 0; i < st->msg.n_rcpts; i++) {
        const struct deliver_rcpt *r = &st->rcpts[i];

        printf("%s{\"addr\":", i > 0 ? "," : "");
        try_json_str(r->addr);
        printf(",\"outcome\":\"%s\",\"code\":%u,\"enhanced\":", try_outcome_name(r->outcome),
               r->code);
        try_json_str(r->enhanced);
        printf(",\"text\":");
        try_json_str(r->text);
        putchar('}');
    }
    printf("]}\n");
    (void)fflush(stdout);
    if (st->callbacks < st->repeat) {
        struct timeval tv = {st->pause_ms / 1000, (suseconds_t)(st->pause_ms % 1000) * 1000};

        if (evtimer_add(st->next_ev, &tv) == -1)
            log_panic("evtimer_add");
    } else {
        deliver_cache_free(st->opts.cache); /* the idle connections end with the program */
        st->opts.cache = NULL;
    }
}

static const char *
try_answer_name(enum deliver_verify_answer a)
{
    switch (a) {
    case DELIVER_VERIFY_OK:
        return "ok";
    case DELIVER_VERIFY_REFUSED:
        return "refused";
    case DELIVER_VERIFY_TEMP:
        break;
    }
    return "temp";
}

static void
try_verified(void *arg, const struct deliver_verify_result *res)
{
    struct try_state *st = arg;

    if (st->in_start) {
        fprintf(stderr, "deliver_try: callback from inside deliver_verify_start\n");
        abort();
    }
    st->callbacks++;
    st->v = NULL;
    if (st->cancel_ev != NULL)
        (void)event_del(st->cancel_ev);
    printf("{\"callbacks\":%u,\"answer\":\"%s\",\"code\":%u,\"relay\":", st->callbacks,
           try_answer_name(res->answer), res->code);
    try_json_str(res->relay);
    printf(",\"text\":");
    try_json_str(res->text);
    printf("}\n");
    (void)fflush(stdout);
}

static void
try_next_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    try_start(arg);
}

static void
try_start(struct try_state *st)
{
    st->in_start = true;
    if (st->verify) {
        st->v = deliver_verify_start(st->base, &st->opts, st->hops, st->n_hops, st->rcpts[0].addr,
                                     st->msg.smtputf8, try_verified, st);
        st->in_start = false;
        if (st->v == NULL) {
            fprintf(stderr, "deliver_try: deliver_verify_start: %s\n", strerror(errno));
            exit(3);
        }
        return;
    }
    st->d = deliver_start(st->base, &st->opts, st->hops, st->n_hops, &st->msg, try_done, st);
    st->in_start = false;
    if (st->d == NULL) {
        fprintf(stderr, "deliver_try: deliver_start: %s\n", strerror(errno));
        exit(3);
    }
}

static void
try_cancel_cb(evutil_socket_t fd, short what, void *arg)
{
    struct try_state *st = arg;

    (void)fd;
    (void)what;
    if (st->v != NULL) {
        deliver_verify_cancel(st->v);
        st->v = NULL;
    } else if (st->d != NULL) {
        deliver_cancel(st->d);
        st->d = NULL;
    } else {
        return;
    }
    st->cancelled = true;
    printf("{\"cancelled\":true}\n");
    (void)fflush(stdout);
}

/* Reads the value of option i; exits when there is none. */
static const char *
try_arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        try_usage("an option lacks its value");
    return argv[++*i];
}

int
main(int argc, char **argv)
{
    static struct try_state st;
    struct deliver_opts *opts = &st.opts;
    const char *file = NULL;
    unsigned long long offset = 0;
    unsigned cancel_ms = 0, reuse = 0;
    static struct conf tls_conf; /* what tls_client_new reads: ca-file and ciphers */
    char err[512];
    struct event_base *base;
    struct stat sb;
    int fd;

    st.repeat = 1;
    deliver_timeouts_default(&opts->timeouts);
    st.msg.sender = NULL;
    st.msg.rcpts = st.rcpts;
    st.msg.id = "TRY";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];

        if (strcmp(o, "--helo") == 0) {
            opts->helo = try_arg(argc, argv, &i);
        } else if (strcmp(o, "--from") == 0) {
            st.msg.sender = try_arg(argc, argv, &i);
        } else if (strcmp(o, "--to") == 0) {
            if (st.msg.n_rcpts == TRY_MAX_RCPTS)
                try_usage("too many --to");
            st.rcpts[st.msg.n_rcpts++].addr = try_arg(argc, argv, &i);
        } else if (strcmp(o, "--notify") == 0 || strcmp(o, "--orcpt") == 0) {
            const char *v = try_arg(argc, argv, &i);

            if (st.msg.n_rcpts == 0)
                try_usage("--notify and --orcpt follow a --to");
            if (o[2] == 'n')
                st.rcpts[st.msg.n_rcpts - 1].notify = try_notify(v);
            else
                st.rcpts[st.msg.n_rcpts - 1].orcpt = v;
        } else if (strcmp(o, "--body") == 0) {
            const char *v = try_arg(argc, argv, &i);

            if (strcmp(v, "8bitmime") == 0)
                st.msg.body = SPOOL_BODY_8BITMIME;
            else if (strcmp(v, "7bit") == 0)
                st.msg.body = SPOOL_BODY_7BIT;
            else
                try_usage("bad --body");
        } else if (strcmp(o, "--smtputf8") == 0) {
            st.msg.smtputf8 = true;
        } else if (strcmp(o, "--ret") == 0) {
            const char *v = try_arg(argc, argv, &i);

            if (strcmp(v, "full") == 0)
                st.msg.ret = SPOOL_RET_FULL;
            else if (strcmp(v, "hdrs") == 0)
                st.msg.ret = SPOOL_RET_HDRS;
            else
                try_usage("bad --ret");
        } else if (strcmp(o, "--envid") == 0) {
            st.msg.envid = try_arg(argc, argv, &i);
        } else if (strcmp(o, "--id") == 0) {
            st.msg.id = try_arg(argc, argv, &i);
        } else if (strcmp(o, "--file") == 0) {
            file = try_arg(argc, argv, &i);
        } else if (strcmp(o, "--offset") == 0) {
            offset = try_number(try_arg(argc, argv, &i), UINT32_MAX);
        } else if (strcmp(o, "--hop") == 0) {
            if (st.n_hops == TRY_MAX_HOPS)
                try_usage("too many --hop");
            try_hop(&st.hops[st.n_hops++], try_arg(argc, argv, &i));
        } else if (strcmp(o, "--timeout-connect") == 0) {
            opts->timeouts.connect = try_number(try_arg(argc, argv, &i), 3600);
        } else if (strcmp(o, "--timeout-greeting") == 0) {
            opts->timeouts.greeting = try_number(try_arg(argc, argv, &i), 3600);
        } else if (strcmp(o, "--timeout-command") == 0) {
            opts->timeouts.command = try_number(try_arg(argc, argv, &i), 3600);
        } else if (strcmp(o, "--timeout-data-init") == 0) {
            opts->timeouts.data_init = try_number(try_arg(argc, argv, &i), 3600);
        } else if (strcmp(o, "--timeout-data-block") == 0) {
            opts->timeouts.data_block = try_number(try_arg(argc, argv, &i), 3600);
        } else if (strcmp(o, "--timeout-data-end") == 0) {
            opts->timeouts.data_end = try_number(try_arg(argc, argv, &i), 3600);
        } else if (strcmp(o, "--cancel-after") == 0) {
            cancel_ms = try_number(try_arg(argc, argv, &i), 3600000);
        } else if (strcmp(o, "--repeat") == 0) {
            st.repeat = try_number(try_arg(argc, argv, &i), 1000);
        } else if (strcmp(o, "--pause-ms") == 0) {
            st.pause_ms = try_number(try_arg(argc, argv, &i), 60000);
        } else if (strcmp(o, "--reuse") == 0) {
            reuse = try_number(try_arg(argc, argv, &i), 300);
        } else if (strcmp(o, "--tls") == 0) {
            const char *v = try_arg(argc, argv, &i);

            if (strcmp(v, "none") == 0)
                opts->tls_policy = CONF_TLS_POLICY_NONE;
            else if (strcmp(v, "may") == 0)
                opts->tls_policy = CONF_TLS_POLICY_MAY;
            else if (strcmp(v, "encrypt") == 0)
                opts->tls_policy = CONF_TLS_POLICY_ENCRYPT;
            else if (strcmp(v, "verify") == 0)
                opts->tls_policy = CONF_TLS_POLICY_VERIFY;
            else
                try_usage("bad --tls");
        } else if (strcmp(o, "--ca-file") == 0) {
            if (str_copyz(tls_conf.tls_ca_file, sizeof(tls_conf.tls_ca_file),
                          try_arg(argc, argv, &i)) == -1)
                try_usage("--ca-file too long");
        } else if (strcmp(o, "--verify") == 0) {
            st.verify = true;
        } else if (strcmp(o, "--debug") == 0) {
            log_set_level(LOG_LEVEL_DEBUG);
        } else {
            try_usage("unknown option");
        }
    }
    if (st.verify && (opts->helo == NULL || st.msg.n_rcpts == 0 || st.n_hops == 0))
        try_usage("--verify needs --helo, --to and --hop");
    if (!st.verify && (opts->helo == NULL || st.msg.sender == NULL || st.msg.n_rcpts == 0 ||
                       file == NULL || st.n_hops == 0))
        try_usage("--helo, --from, --to, --file and --hop are needed");

    fd = -1;
    if (!st.verify) {
        fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd == -1 || fstat(fd, &sb) == -1 || (unsigned long long)sb.st_size < offset) {
            fprintf(stderr, "deliver_try: %s: %s\n", file,
                    fd == -1 ? strerror(errno) : "too short");
            return 2;
        }
    }
    st.msg.fd = fd;
    st.msg.content_off = (off_t)offset;
    st.msg.content_len = fd != -1 ? (uint64_t)sb.st_size - offset : 0;

    (void)signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    if (base == NULL)
        log_panic("event_base_new failed");
    if (cancel_ms > 0) {
        struct timeval tv = {cancel_ms / 1000, (suseconds_t)(cancel_ms % 1000) * 1000};

        st.cancel_ev = evtimer_new(base, try_cancel_cb, &st);
        if (st.cancel_ev == NULL || evtimer_add(st.cancel_ev, &tv) == -1)
            log_panic("evtimer");
    }
    st.base = base;
    if (st.repeat == 0 || (st.verify && st.repeat != 1))
        try_usage("--repeat is at least 1 (and 1 with --verify)");
    st.next_ev = evtimer_new(base, try_next_cb, &st);
    if (st.next_ev == NULL)
        log_panic("evtimer");
    if (reuse > 0)
        opts->cache = deliver_cache_new(base, 4, reuse);
    if (opts->tls_policy != CONF_TLS_POLICY_NONE) {
        opts->tls = tls_client_new(&tls_conf, err, sizeof(err));
        if (opts->tls == NULL) {
            fprintf(stderr, "deliver_try: %s\n", err);
            return 2;
        }
    }
    try_start(&st);
    if (event_base_dispatch(base) == -1)
        log_panic("event_base_dispatch failed");
    if (st.cancel_ev != NULL)
        event_free(st.cancel_ev);
    event_free(st.next_ev);
    deliver_cache_free(opts->cache);
    tls_client_unref(opts->tls);
    event_base_free(base);
    if (fd != -1)
        (void)close(fd);
    if (!st.cancelled && st.callbacks != st.repeat) {
        fprintf(stderr, "deliver_try: %u callbacks\n", st.callbacks);
        return 4;
    }
    return 0;
}
