/* SPDX-License-Identifier: MIT */
/*
 * `gate26 status [-c FILE] [--json]` (ctl.h): asks the daemon whose spool
 * the configuration names for "status-json" on its control socket, and
 * prints the document as it came (--json) or as the table
 * (status_print.c), in colour on a terminal without NO_COLOR. Its exit
 * status is a Nagios plugin's: 0 ok, 1 an alert is firing, 2 the daemon
 * cannot be asked, 3 a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf/conf.h"
#include "ctl/ask.h"
#include "ctl/ctl.h"
#include "ctl/status.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* The daemon answers at once; one that does not within this long is as good as gone. */
#define STATUS_TIMEOUT_S 10

enum {
    STATUS_OK = 0,
    STATUS_ALERT = 1,
    STATUS_CANNOT_TELL = 2,
    STATUS_USAGE = 3,
};

static void
usage(FILE *out, const char *default_conf)
{
    fputs("usage: gate26 status [-c FILE] [--json]\n"
          "\n"
          "Asks the running gate26 (through the control socket in its spool) what it\n"
          "sees, on one screen: per door the sessions open now, and the connections,\n"
          "messages, refusals and failed AUTH of the last minute, the last hour and\n"
          "since start; the queue (messages, oldest, deferred, held); deliveries by\n"
          "outcome; the alerts firing; the busiest clients of the last hour per door.\n"
          "Colour only on a terminal, never with NO_COLOR set.\n"
          "\n",
          out);
    fprintf(out, "  -c, --config FILE  configuration file (default %s)\n", default_conf);
    fputs("      --json         the same facts as one JSON object (docs/watch.md)\n"
          "  -h, --help         print this text\n"
          "\n"
          "Exit status, as a Nagios plugin's: 0 ok, 1 an alert is firing, 2 the daemon\n"
          "cannot be asked (not running, not answering, or the configuration cannot be\n"
          "read), 3 usage error.\n",
          out);
}

static bool
want_colour(void)
{
    const char *nc = getenv("NO_COLOR");

    /* https://no-color.org: any non-empty NO_COLOR turns colour off. */
    return isatty(STDOUT_FILENO) && (nc == NULL || nc[0] == '\0');
}

int
ctl_ask(const char *prog, const char *spool_dir, const char *request, char **answer, size_t *len)
{
    char why[CAP_PATH + 256];

    if (ctl_request(spool_dir, request, STATUS_TIMEOUT_S, answer, len, why, sizeof(why)) == 0)
        return 0;
    fprintf(stderr, "%s: %s\n", prog, why);
    return -1;
}

/* The document in the answer ("ok" LF JSON), or NULL after saying why. */
static json_t *
status_doc(const char *answer, size_t len, const char **body)
{
    char why[LOG_QUOTE_CAP + 128];
    json_t *doc = ctl_answer_doc(answer, len, "status", body, why, sizeof(why));

    if (doc == NULL)
        fprintf(stderr, "gate26 status: %s\n", why);
    return doc;
}

int
ctl_status_main(int argc, char **argv, const char *default_conf)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = default_conf, *body = NULL;
    bool json = false;
    char err[1024], *answer = NULL;
    size_t len = 0;
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
        case 'h':
            usage(stdout, default_conf);
            return STATUS_OK;
        case ':':
            fprintf(stderr, "gate26 status: %s needs a value\n", argv[optind - 1]);
            usage(stderr, default_conf);
            return STATUS_USAGE;
        default:
            fprintf(stderr, "gate26 status: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr, default_conf);
            return STATUS_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "gate26 status: unexpected argument '%s'\n", argv[optind]);
        usage(stderr, default_conf);
        return STATUS_USAGE;
    }
    c = conf_load(path, err, sizeof(err));
    if (c == NULL) {
        /* Without the configuration there is no spool, so no daemon to ask: nothing to tell. */
        fprintf(stderr, "%s\ngate26 status: cannot tell whether gate26 runs\n", err);
        return STATUS_CANNOT_TELL;
    }
    status = ctl_ask("gate26 status", c->spool, CTL_STATUS_JSON_VERB "\n", &answer, &len);
    conf_unref(c);
    if (status == -1)
        return STATUS_CANNOT_TELL;
    doc = status_doc(answer, len, &body);
    if (doc == NULL) {
        free(answer);
        return STATUS_CANNOT_TELL;
    }
    if (json)
        (void)fwrite(body, 1, len - (size_t)(body - answer), stdout);
    else
        (void)ctl_status_print(stdout, doc, want_colour());
    status = ctl_status_exit(doc);
    json_decref(doc);
    free(answer);
    if (fflush(stdout) == EOF || ferror(stdout)) {
        fprintf(stderr, "gate26 status: standard output: %s\n", strerror(errno));
        return STATUS_CANNOT_TELL;
    }
    return status;
}
