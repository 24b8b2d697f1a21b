/* SPDX-License-Identifier: MIT */
/*
 * `gate26 queue`: turns the command line into one request line for the
 * control socket (ctl.h), prints the answer's body on standard output or
 * its error on standard error, and returns the exit status.
 */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ctl/request.h"
#include "lib/str.h"

static const char usage_text[] =
    "usage: gate26 queue [-c FILE] COMMAND\n"
    "  list [--json]   every queued message: id, age, size, next try, sender, recipients\n"
    "  show ID         one message's envelope and header\n"
    "  flush [ID]      try every message (or one) now\n"
    "  hold ID         no delivery until released\n"
    "  release ID      undo hold, try now\n"
    "  delete ID       remove without delivering or bouncing\n"
    "  bounce ID       return to the sender now\n";

/* Builds the request line from argv; -1 on a usage error. */
static int
request_line(int argc, char **argv, char *out, size_t cap)
{
    const char *verb = argv[0];
    static const char *const with_id[] = {"show", "hold", "release", "delete", "bounce"};

    if (strcmp(verb, "list") == 0) {
        if (argc == 1)
            return str_fmt(out, cap, "list\n");
        if (argc == 2 && strcmp(argv[1], "--json") == 0)
            return str_fmt(out, cap, "list-json\n");
        return -1;
    }
    if (strcmp(verb, "flush") == 0) {
        if (argc == 1)
            return str_fmt(out, cap, "flush\n");
        return argc == 2 ? str_fmt(out, cap, "flush %s\n", argv[1]) : -1;
    }
    for (size_t i = 0; i < sizeof(with_id) / sizeof(with_id[0]); i++) {
        if (strcmp(verb, with_id[i]) == 0)
            return argc == 2 ? str_fmt(out, cap, "%s %s\n", verb, argv[1]) : -1;
    }
    return -1;
}

int
ctl_client(const char *spool_dir, int argc, char **argv)
{
    char line[300];

    if (argc < 1 || strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0) {
        fputs(usage_text, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    if (request_line(argc, argv, line, sizeof(line)) == -1 ||
        strchr(line, '\n') != strrchr(line, '\n')) {
        fprintf(stderr, "gate26 queue: bad arguments\n%s", usage_text);
        return 2;
    }
    return ctl_request(spool_dir, "queue", line);
}
