/* SPDX-License-Identifier: MIT */
/*
 * gate26 audit: the command line (audit.h). Loads the configuration, runs
 * the parts of audit_impl.h in the order the report lists them, and prints
 * the findings with gate26 check's report pieces (check/check.h): a table,
 * or one JSON object; the exit status is the worst finding's, as check's.
 */
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/audit_impl.h"
#include "lib/str.h"

static const char usage_text[] =
    "usage: gate26 audit [-c FILE] [--json] [--binary PATH]\n"
    "\n"
    "The periodic security review: the configuration's doors (public without TLS,\n"
    "AUTH where TLS is optional, the internal door's allow list, port 26 without\n"
    "AUTH), AUTH offered in clear (one EHLO per door), certificates (expiry within\n"
    "30 days, hostname), the password file (owner, mode, weak hashes), the firewall\n"
    "table (missing, or older than the configuration), the daemon (running an older\n"
    "binary than the installed one), scanners seen in the last day, and gate26\n"
    "check --local's findings. Each finding has an id, a level and a fix.\n"
    "\n"
    "  -c, --config FILE  configuration file (default /etc/gate26/gate26.conf)\n"
    "  --json             one JSON object instead of the table\n"
    "  --binary PATH      the installed gate26 (default: this program)\n"
    "  -h, --help         print this text\n"
    "\n"
    "exit status: 0 all ok, 1 a warning, 2 a critical finding, 3 a usage error,\n"
    "4 the audit could not run. Colour only on a terminal, never with NO_COLOR set.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("gate26 audit: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(gate26 audit --help for the options)\n", stderr);
    return CHECK_EXIT_USAGE;
}

/* The gateway's user of c (its uid and primary group), when c names one that exists. */
static void
gateway_ids(const struct conf *c, struct audit_ids *gw)
{
    struct passwd pw, *res = NULL;
    char buf[4096];

    gw->has_user = false;
    if (c->user[0] != '\0' && getpwnam_r(c->user, &pw, buf, sizeof(buf), &res) == 0 &&
        res != NULL) {
        gw->has_user = true;
        gw->uid = pw.pw_uid;
        gw->gid = pw.pw_gid;
    }
}

static void
print_json(const struct conf *c, const struct check_findings *f)
{
    fputs("{\"audit\": ", stdout);
    check_json_str(stdout, c->path);
    fputs(", \"findings\": ", stdout);
    check_json_findings(stdout, f);
    check_json_verdict(stdout, check_worst(f));
}

static void
print_table(const struct conf *c, const struct check_findings *f)
{
    bool colour = check_want_colour();

    printf("gate26 audit: %s\n\n", c->path);
    check_print_findings(stdout, f, "", colour);
    check_print_verdict(stdout, check_worst(f), colour);
}

int
audit_main(int argc, char **argv, const char *default_conf)
{
    enum { O_JSON = 256, O_BINARY };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, O_JSON},
        {"binary", required_argument, NULL, O_BINARY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = default_conf, *binary = NULL;
    struct check_findings f = {0};
    struct audit_ids gw;
    struct conf *c;
    char err[1024];
    bool json = false;
    time_t now;
    int ch, status;

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case O_JSON:
            json = true;
            break;
        case O_BINARY:
            if (access(optarg, R_OK) == -1)
                return usage_error("--binary %s: cannot read the file", optarg);
            binary = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return fflush(stdout) == 0 ? CHECK_EXIT_OK : CHECK_EXIT_TROUBLE;
        case ':':
            return usage_error("option %s needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (access(path, R_OK) == -1)
        return usage_error("-c %s: cannot read the file", path);
    c = conf_load(path, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "gate26 audit: %s\n", err);
        return CHECK_EXIT_TROUBLE;
    }
    gateway_ids(c, &gw);
    now = time(NULL);

    audit_doors(c, &f);
    audit_auth_probe(c, &f);
    audit_certs(c, now, &f);
    audit_passwd(c, &gw, &f);
    audit_firewall(c, &f);
    audit_daemon(c, binary, &f);
    audit_scanners(c, now, &f);
    audit_local(path, &f);

    if (json)
        print_json(c, &f);
    else
        print_table(c, &f);
    status = check_exit_status(check_worst(&f));
    check_findings_free(&f);
    conf_unref(c);
    if (fflush(stdout) != 0) {
        perror("gate26 audit: standard output");
        return CHECK_EXIT_TROUBLE;
    }
    return status;
}
