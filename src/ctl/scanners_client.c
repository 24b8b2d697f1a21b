/* SPDX-License-Identifier: MIT */
/*
 * `gate26 scanners [-c FILE] [--json] [--top N]` (ctl.h, docs/scanners.md):
 * asks the daemon whose spool the configuration names for "scanners-json N"
 * on its control socket, and prints the document as it came (--json) or as
 * its tables (scanners_print.c). Exit status: 0 printed, 2 the daemon
 * cannot be asked, 3 a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "ctl/ask.h"
#include "ctl/ctl.h"
#include "ctl/scanners.h"
#include "ctl/status.h"
#include "lib/log.h"
#include "lib/num.h"
#include "lib/slice.h"
#include "lib/str.h"

#define PROG "gate26 scanners"

enum {
    SCANNERS_OK = 0,
    SCANNERS_CANNOT_TELL = 2,
    SCANNERS_USAGE = 3,
};

static void
usage(FILE *out, const char *default_conf)
{
    fputs("usage: gate26 scanners [-c FILE] [--json] [--top N]\n"
          "\n"
          "Asks the running gate26 (through the control socket in its spool) which\n"
          "scanners it has seen: per source address its Mirai-fingerprinted and plain\n"
          "SYNs, its sessions that were not SMTP by kind, the ports it tried, when it\n"
          "was first and last seen; then the busiest /24 networks (IPv6: /64).\n"
          "\n",
          out);
    fprintf(out, "  -c, --config FILE  configuration file (default %s)\n", default_conf);
    fprintf(out,
            "      --json         the document as one JSON object (docs/scanners.md)\n"
            "      --top N        at most N sources and N networks (1-%d, default %d)\n"
            "  -h, --help         print this text\n"
            "\n"
            "Exit status: 0 ok, 2 the daemon cannot be asked (not running, not answering,\n"
            "or the configuration cannot be read), 3 usage error.\n",
            CTL_SCANNERS_TOP_MAX, CTL_SCANNERS_TOP);
}

/* The document in the answer ("ok" LF JSON), or NULL after saying why. */
static json_t *
scanners_doc(const char *answer, size_t len, const char **body)
{
    char why[LOG_QUOTE_CAP + 128];
    json_t *doc = ctl_answer_doc(answer, len, "scanners", body, why, sizeof(why));

    if (doc == NULL)
        fprintf(stderr, PROG ": %s\n", why);
    return doc;
}

int
ctl_scanners_main(int argc, char **argv, const char *default_conf)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"top", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = default_conf, *body = NULL;
    bool json = false;
    char err[1024], request[64], *answer = NULL;
    size_t len = 0;
    uint64_t top = CTL_SCANNERS_TOP;
    struct conf *c;
    json_t *doc;
    int ch, status;

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 't':
            if (num_parse_u64(slice_make(optarg, strlen(optarg)), 1, CTL_SCANNERS_TOP_MAX, &top) ==
                -1) {
                fprintf(stderr, PROG ": --top takes a number from 1 to %d, found '%s'\n",
                        CTL_SCANNERS_TOP_MAX, optarg);
                return SCANNERS_USAGE;
            }
            break;
        case 'h':
            usage(stdout, default_conf);
            return SCANNERS_OK;
        case ':':
            fprintf(stderr, PROG ": %s needs a value\n", argv[optind - 1]);
            usage(stderr, default_conf);
            return SCANNERS_USAGE;
        default:
            fprintf(stderr, PROG ": unknown option '%s'\n", argv[optind - 1]);
            usage(stderr, default_conf);
            return SCANNERS_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
        usage(stderr, default_conf);
        return SCANNERS_USAGE;
    }
    c = conf_load(path, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "%s\n" PROG ": cannot ask gate26\n", err);
        return SCANNERS_CANNOT_TELL;
    }
    (void)str_fmt(request, sizeof(request), CTL_SCANNERS_VERB " %" PRIu64 "\n", top);
    status = ctl_ask(PROG, c->spool, request, &answer, &len);
    conf_unref(c);
    if (status == -1)
        return SCANNERS_CANNOT_TELL;
    doc = scanners_doc(answer, len, &body);
    if (doc == NULL) {
        free(answer);
        return SCANNERS_CANNOT_TELL;
    }
    if (json)
        (void)fwrite(body, 1, len - (size_t)(body - answer), stdout);
    else
        (void)ctl_scanners_print(stdout, doc);
    json_decref(doc);
    free(answer);
    if (fflush(stdout) == EOF || ferror(stdout)) {
        fprintf(stderr, PROG ": standard output: %s\n", strerror(errno));
        return SCANNERS_CANNOT_TELL;
    }
    return SCANNERS_OK;
}
