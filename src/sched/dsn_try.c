/* SPDX-License-Identifier: MIT */
/*
 * dsn_try: composes one delivery status notification from the command line
 * and a message file and writes it to standard output, so that black-box
 * tests (tests/e2e/test_dsn_format.py) can check the report with another
 * MIME parser. A test tool, built with the unit tests only; it is not
 * installed.
 *
 *   dsn_try [message options] (--rcpt ADDR [recipient options])... FILE
 *
 * Each --rcpt starts a recipient; the recipient options after it apply to
 * it. FILE is the original's content from --offset on (default 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/io.h"
#include "lib/num.h"
#include "sched/dsn.h"

#define TRY_MAX_RCPTS 64

static const char usage_text[] =
    "usage: dsn_try [OPTIONS] (--rcpt ADDR [RCPT OPTIONS])... FILE\n"
    "  --kind failure|delay   --hostname NAME   --id QUEUEID   --sender ADDR\n"
    "  --envid XTEXT   --ret full|hdrs|unspec   --smtputf8\n"
    "  --now T   --arrival T   --retry-until T   --offset N   (T: seconds since 1970)\n"
    "recipient options:\n"
    "  --status X.Y.Z   --orcpt TYPE;XTEXT   --remote-mta HOST   --diagnostic TEXT\n"
    "  --reason TEXT   --last-attempt T\n";

enum {
    OPT_KIND = 256,
    OPT_HOSTNAME,
    OPT_ID,
    OPT_SENDER,
    OPT_ENVID,
    OPT_RET,
    OPT_SMTPUTF8,
    OPT_NOW,
    OPT_ARRIVAL,
    OPT_RETRY_UNTIL,
    OPT_OFFSET,
    OPT_RCPT,
    OPT_STATUS,
    OPT_ORCPT,
    OPT_REMOTE_MTA,
    OPT_DIAGNOSTIC,
    OPT_REASON,
    OPT_LAST_ATTEMPT,
};

static int
try_number(const char *s, uint64_t max, uint64_t *out)
{
    if (num_parse_u64(slice_make(s, strlen(s)), 0, max, out) == -1) {
        fprintf(stderr, "dsn_try: bad number '%s'\n", s);
        return -1;
    }
    return 0;
}

/* Applies one option to in (and the recipient being built). 0, or -1 after a message. */
static int
try_option(int ch, struct dsn_input *in, struct dsn_rcpt *rcpts, time_t *now, off_t *offset)
{
    struct dsn_rcpt *r = in->n_rcpts > 0 ? &rcpts[in->n_rcpts - 1] : NULL;
    uint64_t v;

    if (ch >= OPT_STATUS && r == NULL) {
        fprintf(stderr, "dsn_try: a recipient option before --rcpt\n");
        return -1;
    }
    switch (ch) {
    case OPT_KIND:
        if (strcmp(optarg, "failure") != 0 && strcmp(optarg, "delay") != 0) {
            fprintf(stderr, "dsn_try: --kind failure or delay\n");
            return -1;
        }
        in->kind = strcmp(optarg, "delay") == 0 ? DSN_DELAY : DSN_FAILURE;
        return 0;
    case OPT_HOSTNAME:
        in->hostname = optarg;
        return 0;
    case OPT_ID:
        in->id = optarg;
        return 0;
    case OPT_SENDER:
        in->sender = optarg;
        return 0;
    case OPT_ENVID:
        in->envid = optarg;
        return 0;
    case OPT_RET:
        if (strcmp(optarg, "full") == 0) {
            in->ret = SPOOL_RET_FULL;
        } else if (strcmp(optarg, "hdrs") == 0) {
            in->ret = SPOOL_RET_HDRS;
        } else if (strcmp(optarg, "unspec") == 0) {
            in->ret = SPOOL_RET_UNSPEC;
        } else {
            fprintf(stderr, "dsn_try: --ret full, hdrs or unspec\n");
            return -1;
        }
        return 0;
    case OPT_SMTPUTF8:
        in->smtputf8 = true;
        return 0;
    case OPT_NOW:
    case OPT_ARRIVAL:
    case OPT_RETRY_UNTIL:
    case OPT_OFFSET:
    case OPT_LAST_ATTEMPT:
        if (try_number(optarg, INT64_MAX, &v) == -1)
            return -1;
        if (ch == OPT_NOW)
            *now = (time_t)v;
        else if (ch == OPT_ARRIVAL)
            in->arrival.tv_sec = (time_t)v;
        else if (ch == OPT_RETRY_UNTIL)
            in->retry_until = (time_t)v;
        else if (ch == OPT_OFFSET)
            *offset = (off_t)v;
        else
            r->last_attempt = (time_t)v;
        return 0;
    case OPT_RCPT:
        if (in->n_rcpts == TRY_MAX_RCPTS) {
            fprintf(stderr, "dsn_try: at most %d recipients\n", TRY_MAX_RCPTS);
            return -1;
        }
        r = &rcpts[in->n_rcpts++];
        memset(r, 0, sizeof *r);
        r->addr = optarg;
        r->status = in->kind == DSN_DELAY ? "4.4.1" : "5.1.1";
        r->reason = "no reason given";
        return 0;
    case OPT_STATUS:
        r->status = optarg;
        return 0;
    case OPT_ORCPT:
        r->orcpt = optarg;
        return 0;
    case OPT_REMOTE_MTA:
        r->remote_mta = optarg;
        return 0;
    case OPT_DIAGNOSTIC:
        r->diagnostic = optarg;
        return 0;
    case OPT_REASON:
        r->reason = optarg;
        return 0;
    default:
        fputs(usage_text, stderr);
        return -1;
    }
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"kind", required_argument, NULL, OPT_KIND},
        {"hostname", required_argument, NULL, OPT_HOSTNAME},
        {"id", required_argument, NULL, OPT_ID},
        {"sender", required_argument, NULL, OPT_SENDER},
        {"envid", required_argument, NULL, OPT_ENVID},
        {"ret", required_argument, NULL, OPT_RET},
        {"smtputf8", no_argument, NULL, OPT_SMTPUTF8},
        {"now", required_argument, NULL, OPT_NOW},
        {"arrival", required_argument, NULL, OPT_ARRIVAL},
        {"retry-until", required_argument, NULL, OPT_RETRY_UNTIL},
        {"offset", required_argument, NULL, OPT_OFFSET},
        {"rcpt", required_argument, NULL, OPT_RCPT},
        {"status", required_argument, NULL, OPT_STATUS},
        {"orcpt", required_argument, NULL, OPT_ORCPT},
        {"remote-mta", required_argument, NULL, OPT_REMOTE_MTA},
        {"diagnostic", required_argument, NULL, OPT_DIAGNOSTIC},
        {"reason", required_argument, NULL, OPT_REASON},
        {"last-attempt", required_argument, NULL, OPT_LAST_ATTEMPT},
        {NULL, 0, NULL, 0},
    };
    static struct dsn_rcpt rcpts[TRY_MAX_RCPTS];
    struct dsn_input in = {
        .kind = DSN_FAILURE,
        .hostname = "gate26.test",
        .id = "0123456789ABCDEF",
        .sender = "sender@example.org",
        .ret = SPOOL_RET_UNSPEC,
        .arrival = {.tv_sec = 1700000000},
        .rcpts = rcpts,
    };
    time_t now = 1700003600;
    off_t offset = 0;
    struct stat st;
    char *out;
    size_t out_len;
    int ch, rc;

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (try_option(ch, &in, rcpts, &now, &offset) == -1)
            return 2;
    }
    if (optind != argc - 1 || in.n_rcpts == 0) {
        fputs(usage_text, stderr);
        return 2;
    }
    in.fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
    if (in.fd == -1 || fstat(in.fd, &st) == -1) {
        fprintf(stderr, "dsn_try: %s: %s\n", argv[optind], strerror(errno));
        return 1;
    }
    in.content_off = offset;
    in.content_len = st.st_size > offset ? (uint64_t)(st.st_size - offset) : 0;
    rc = dsn_compose(&in, now, &out, &out_len);
    (void)close(in.fd);
    if (rc == -1) {
        fprintf(stderr, "dsn_try: dsn_compose: %s\n", strerror(errno));
        return 1;
    }
    rc = io_write_full(STDOUT_FILENO, out, out_len);
    free(out);
    if (rc == -1) {
        fprintf(stderr, "dsn_try: write: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
