/* SPDX-License-Identifier: MIT */
/*
 * gate26: the subcommands. Each one is a thin call into its module; nothing
 * else lives here.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "conf/conf.h"
#include "check/check.h"
#include "ctl/ctl.h"
#include "daemon/daemon.h"
#include "daemon/privileges.h"
#include "tls/tls.h"

#define DEFAULT_CONF "/etc/gate26/gate26.conf"

static const char usage_text[] =
    "usage: gate26 COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  serve [-c FILE]       run the gateway in the foreground (logs on stderr)\n"
    "  configtest [-c FILE]  check the configuration file and exit\n"
    "  queue [-c FILE] CMD   the queue of the running daemon: list [--json], show ID,\n"
    "                        flush [ID], hold ID, release ID, delete ID, bounce ID\n"
    "  passwd [-c FILE] [-f PASSWDFILE] USER\n"
    "                        set USER's password in the auth passwd file (asked twice\n"
    "                        on a terminal, else one line of standard input)\n"
    "  check --local [-c FILE] [PORT...]\n"
    "                        who listens on the mail ports here (default 25 26 465 587)\n"
    "  check HOST[:PORT]... | check --mx DOMAIN\n"
    "                        what a remote host's (or a domain's MX hosts') mail ports\n"
    "                        answer; exit 0 ok, 1 warning, 2 critical (check --help)\n"
    "  version               print the version\n"
    "  help                  print this text\n"
    "\n"
    "  -c, --config FILE     configuration file (default " DEFAULT_CONF ")\n"
    "\n"
    "signals to serve: HUP re-reads the configuration, TERM and INT stop.\n";

/* Reads "-c FILE" after the command; returns the path, or NULL after a usage error. */
static const char *
config_option(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    const char *path = DEFAULT_CONF;
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        if (ch != 'c')
            return NULL;
        path = optarg;
    }
    if (optind != argc) {
        fprintf(stderr, "gate26: unexpected argument '%s'\n", argv[optind]);
        return NULL;
    }
    return path;
}

static int
cmd_configtest(const char *path)
{
    char err[1024];
    struct conf *c = conf_load(path, err, sizeof(err));

    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    /* As serve would: root needs a user to switch to, and that user must exist. */
    if (privileges_check(c, err, sizeof(err)) == -1) {
        fprintf(stderr, "%s\n", err);
        conf_unref(c);
        return 1;
    }
    /* The certificates and keys too: a typo there would only show at start. */
    if (c->has_tls) {
        struct tls_server *ts = tls_server_new(c, err, sizeof(err));

        if (ts == NULL) {
            fprintf(stderr, "%s\n", err);
            conf_unref(c);
            return 1;
        }
        tls_server_unref(ts);
    }
    if (c->auth_passwd[0] != '\0') {
        struct auth_db *db = auth_db_load(c->auth_passwd, err, sizeof(err));

        if (db == NULL) {
            fprintf(stderr, "%s: %s\n", path, err);
            conf_unref(c);
            return 1;
        }
        auth_db_unref(db);
    }
    printf("%s: configuration ok (%zu listen block%s, %zu domain%s)\n", path, c->n_listens,
           c->n_listens == 1 ? "" : "s", c->n_domains, c->n_domains == 1 ? "" : "s");
    conf_unref(c);
    return 0;
}

/* gate26 queue [-c FILE] COMMAND [ARG]: the spool (from the config) names the socket. */
static int
cmd_queue(int argc, char **argv)
{
    const char *path = DEFAULT_CONF;
    char err[1024];
    struct conf *c;
    int rc, i = 2;

    if (i + 1 < argc && (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)) {
        path = argv[i + 1];
        i += 2;
    }
    c = conf_load(path, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    rc = ctl_client(c->spool, argc - i, argv + i);
    conf_unref(c);
    return rc;
}

int
main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "help";
    const char *path;

    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("gate26 %s\n", GATE26_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "queue") == 0)
        return cmd_queue(argc, argv);
    if (strcmp(cmd, "passwd") == 0)
        return auth_passwd_cli(argc - 1, argv + 1, DEFAULT_CONF);
    if (strcmp(cmd, "check") == 0)
        return check_main(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "configtest") != 0) {
        fprintf(stderr, "gate26: unknown command '%s'\n\n%s", cmd, usage_text);
        return 2;
    }
    path = config_option(argc - 1, argv + 1);
    if (path == NULL) {
        fputs(usage_text, stderr);
        return 2;
    }
    return strcmp(cmd, "serve") == 0 ? daemon_serve(path) : cmd_configtest(path);
}
