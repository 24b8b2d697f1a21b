/* SPDX-License-Identifier: MIT */
/*
 * gate26: the subcommands. Each one is a thin call into its module; nothing
 * else lives here.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "account/account.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "conf/conf.h"
#include "console/console.h"
#include "check/check.h"
#include "ctl/ctl.h"
#include "daemon/daemon.h"
#include "daemon/preflight.h"
#include "firewall/firewall.h"
#include "mailauth/dkim.h"
#include "sendmail/sendmail.h"
#include "track/track.h"
#include "verify/verify.h"

#define DEFAULT_CONF "/etc/gate26/gate26.conf"

static const char usage_text[] =
    "usage: gate26 COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  serve [-c FILE]       run the gateway in the foreground (logs on stderr)\n"
    "  configtest [-c FILE]  check the configuration file and exit\n"
    "  queue [-c FILE] CMD   the queue: list [--json] [SELECTOR...], show ID...,\n"
    "                        flush|hold|release|delete|bounce ID...|SELECTOR...;\n"
    "                        selectors --all --from --to --domain --client --held\n"
    "                        --deferred (queue --help)\n"
    "  quarantine [-c FILE] CMD\n"
    "                        the messages a content check held: list [--json],\n"
    "                        show ID [--json] [--body], release ID..., delete ID...\n"
    "                        (quarantine --help)\n"
    "  unlock [-c FILE] [--] CLIENT|USER\n"
    "                        end the AUTH lockout of a client address (IPv6: its /64)\n"
    "                        or a user in the running daemon, and forget its failures\n"
    "  status [-c FILE] [--json]\n"
    "                        what the running daemon sees: per door the sessions open,\n"
    "                        connections, messages, refusals, failed AUTH (last minute,\n"
    "                        hour, since start); queue, deliveries, alerts, top clients;\n"
    "                        exit 0 ok, 1 an alert firing, 2 not running (status --help)\n"
    "  scanners [-c FILE] [--json] [--top N]\n"
    "                        the scanners the running daemon has seen: Mirai SYNs and\n"
    "                        sessions that were not SMTP, per source and /24\n"
    "  passwd [-c FILE] [-f PASSWDFILE] USER\n"
    "                        set USER's password in the auth passwd file (asked twice\n"
    "                        on a terminal, else one line of standard input)\n"
    "  app-password [-c FILE] add USER NAME [--doors D,...] | list [USER] [--json] |\n"
    "               revoke USER ID\n"
    "                        a user's app passwords for mail clients (SMTP AUTH)\n"
    "  totp [-c FILE] enrol USER | confirm USER CODE | remove USER\n"
    "                        a user's second factor (TOTP) and recovery codes\n"
    "  check --local [-c FILE] [PORT...]\n"
    "                        who listens on the mail ports here (default 25 26 465 587)\n"
    "  check HOST[:PORT]... | check --mx DOMAIN | check smtps://HOST[:PORT]...\n"
    "                        what a remote host's (or a domain's MX hosts') mail ports\n"
    "                        answer; exit 0 ok, 1 warning, 2 critical (check --help)\n"
    "  firewall [-c FILE] [--apply | --remove]\n"
    "                        print the nftables ruleset of the doors (table inet\n"
    "                        gate26), load it, or delete it (firewall --help)\n"
    "  audit [-c FILE] [--json]\n"
    "                        the security review: doors, AUTH, certificates, password\n"
    "                        file, firewall table, daemon binary, scanners, check\n"
    "                        --local; exit 0 ok, 1 warning, 2 critical (audit --help)\n"
    "  dkim keygen DOMAIN SELECTOR [--ed25519] [--bits N] [--out FILE] [--force]\n"
    "                        make a DKIM signing key (default RSA 2048, written to\n"
    "                        /etc/gate26/dkim/DOMAIN.SELECTOR.key) and print its TXT record\n"
    "  track [-c FILE] [--from A] [--to B] [--client IP] [--since T] [--until T]\n"
    "        [--id QID] [--message-id ID] [--limit N] [--json]\n"
    "                        the recorded history of messages: arrival, checks,\n"
    "                        delivery attempts, queue and quarantine actions\n"
    "  console [-c FILE]     serve the web console (console { address }): logins with\n"
    "                        a second factor, app passwords; admins see the daemon\n"
    "  sendmail [-t] [-i] [-f ADDR] [-F NAME] [-v] [-C FILE] [--] [RCPT...] | -bs\n"
    "                        the sendmail command of cron, PHP and mailx: the message\n"
    "                        on standard input to the daemon (also run as 'sendmail')\n"
    "  version               print the version\n"
    "  help [COMMAND]        print this text, or COMMAND's (as COMMAND --help)\n"
    "\n"
    "  -c, --config FILE     configuration file (default " DEFAULT_CONF ")\n"
    "\n"
    "signals to serve: HUP re-reads the configuration, TERM and INT stop.\n";

/* What COMMAND --help prints for the commands that main.c runs itself. */
static const char serve_usage[] =
    "usage: gate26 serve [-c FILE]\n"
    "\n"
    "Runs the gateway in the foreground, logging on standard error. Started as\n"
    "root it binds its ports, reads its keys and opens the spool, then serves as\n"
    "the configuration's user. It first checks what configtest checks, and exits 1\n"
    "with the message (FILE:LINE: ...) when something is wrong.\n"
    "\n"
    "  -c, --config FILE  configuration file (default " DEFAULT_CONF ")\n"
    "  -h, --help         print this text\n"
    "\n"
    "Signals: HUP re-reads the configuration (a file it cannot take is logged and\n"
    "the running one stays), TERM lets transactions finish for up to 10 s and\n"
    "stops, INT (or a second TERM) stops at once.\n";

static const char configtest_usage[] =
    "usage: gate26 configtest [-c FILE]\n"
    "\n"
    "Checks the configuration as serve would before it starts: the file, the\n"
    "user, the spool, the certificates, keys and password file (also as the user\n"
    "a reload runs as), and that the listening addresses are free (those of the\n"
    "gate26 running on this spool are fine). Starts nothing.\n"
    "\n"
    "  -c, --config FILE  configuration file (default " DEFAULT_CONF ")\n"
    "  -h, --help         print this text\n"
    "\n"
    "Exit status: 0 ok (notes on standard output, warnings on standard error),\n"
    "1 the first problem found, on standard error, 2 usage error.\n";

static const char version_usage[] = "usage: gate26 version\n"
                                    "\n"
                                    "Prints the name and version of gate26.\n";

static const char help_usage[] = "usage: gate26 help [COMMAND]\n"
                                 "\n"
                                 "Prints the commands of gate26, or COMMAND's usage.\n";

/* Prints usage on stdout and returns true when the only argument is -h or --help. */
static bool
asks_help(int argc, char **argv, const char *usage)
{
    if (argc != 2 || (strcmp(argv[1], "-h") != 0 && strcmp(argv[1], "--help") != 0))
        return false;
    fputs(usage, stdout);
    return true;
}

/*
 * Reads "-c FILE" (or -h) after the command (argv[0]); returns the path, or
 * NULL after printing the usage (*status: 0 for --help, 2 for a usage error).
 */
static const char *
config_option(int argc, char **argv, const char *usage, int *status)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = DEFAULT_CONF;
    int ch;

    optind = 1;
    *status = 2;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (ch == 'h') {
            fputs(usage, stdout);
            *status = 0;
            return NULL;
        }
        if (ch != 'c') {
            fputs(usage, stderr);
            return NULL;
        }
        path = optarg;
    }
    if (optind != argc) {
        fprintf(stderr, "gate26: unexpected argument '%s'\n", argv[optind]);
        fputs(usage, stderr);
        return NULL;
    }
    return path;
}

static int
cmd_configtest(int argc, char **argv)
{
    struct preflight_loaded loaded;
    struct preflight_notes notes;
    char err[1024];
    int status;
    const char *path = config_option(argc, argv, configtest_usage, &status);
    struct conf *c;

    if (path == NULL)
        return status;
    c = conf_load(path, err, sizeof(err));

    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    /* What serve would refuse, by the same code: the user, the spool, the files (as root and as
     * the user), the ports (those of the gate26 running on this spool are fine). */
    if (preflight_start(c, PREFLIGHT_CONFIGTEST, &loaded, &notes, err, sizeof(err)) == -1) {
        fprintf(stderr, "%s\n", err);
        conf_unref(c);
        return 1;
    }
    preflight_loaded_clear(&loaded);
    /* And the recipient lists of verify-recipients FILE, which serve reads at its start. */
    if (verify_check_lists(c, err, sizeof(err)) == -1) {
        fprintf(stderr, "%s\n", err);
        conf_unref(c);
        return 1;
    }
    for (size_t i = 0; i < notes.n_warnings; i++)
        fprintf(stderr, "warning: %s\n", notes.warning[i]);
    for (size_t i = 0; i < notes.n_notes; i++)
        printf("%s\n", notes.note[i]);
    printf("%s: configuration ok (%zu listen block%s, %zu domain%s)\n", path, c->n_listens,
           c->n_listens == 1 ? "" : "s", c->n_domains, c->n_domains == 1 ? "" : "s");
    conf_unref(c);
    return 0;
}

static int
cmd_serve(int argc, char **argv)
{
    int status;
    const char *path = config_option(argc, argv, serve_usage, &status);

    return path != NULL ? daemon_serve(path) : status;
}

/* gate26 queue [-c FILE] COMMAND ...: ctl/client.c reads its arguments and the configuration. */
static int
cmd_queue(int argc, char **argv)
{
    return ctl_client_main(argc, argv, DEFAULT_CONF);
}

/* gate26 quarantine [-c FILE] COMMAND ...: ctl/quarantine_client.c. */
static int
cmd_quarantine(int argc, char **argv)
{
    return ctl_quarantine_main(argc, argv, DEFAULT_CONF);
}

/* gate26 unlock [-c FILE] CLIENT|USER: the arguments first, so a usage error needs no config. */
static int
cmd_unlock(int argc, char **argv)
{
    const char *path = DEFAULT_CONF;
    char err[1024];
    struct conf *c;
    int rc, i = 1;

    if (i + 1 < argc && (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)) {
        path = argv[i + 1];
        i += 2;
    }
    rc = ctl_unlock_args(argc - i, argv + i);
    if (rc != -1)
        return rc;
    c = conf_load(path, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    rc = ctl_unlock_client(c->spool, argc - i, argv + i);
    conf_unref(c);
    return rc;
}

static int
cmd_status(int argc, char **argv)
{
    return ctl_status_main(argc, argv, DEFAULT_CONF);
}

static int
cmd_scanners(int argc, char **argv)
{
    return ctl_scanners_main(argc, argv, DEFAULT_CONF);
}

static int
cmd_check(int argc, char **argv)
{
    return check_main(argc, argv, DEFAULT_CONF);
}

static int
cmd_audit(int argc, char **argv)
{
    return audit_main(argc, argv, DEFAULT_CONF);
}

static int
cmd_passwd(int argc, char **argv)
{
    return auth_passwd_cli(argc, argv, DEFAULT_CONF);
}

static int
cmd_apppw(int argc, char **argv)
{
    return account_app_password_main(argc, argv, DEFAULT_CONF);
}

static int
cmd_totp(int argc, char **argv)
{
    return account_totp_main(argc, argv, DEFAULT_CONF);
}

static int
cmd_firewall(int argc, char **argv)
{
    return firewall_main(argc, argv, DEFAULT_CONF);
}

static int
cmd_console(int argc, char **argv)
{
    return console_main(argc, argv, DEFAULT_CONF);
}

static int
cmd_track(int argc, char **argv)
{
    return track_main(argc, argv, DEFAULT_CONF);
}

static int
cmd_dkim(int argc, char **argv)
{
    return dkim_main(argc, argv);
}

/* gate26 sendmail ...: sendmail/cli.c (it reads its own configuration, -C FILE). */
static int
cmd_sendmail(int argc, char **argv)
{
    return sendmail_main(argc, argv);
}

static int
cmd_version(int argc, char **argv)
{
    if (asks_help(argc, argv, version_usage))
        return 0;
    if (argc > 1) {
        fprintf(stderr, "gate26: unexpected argument '%s'\n%s", argv[1], version_usage);
        return 2;
    }
    printf("gate26 %s\n", GATE26_VERSION);
    return 0;
}

static int cmd_help(int argc, char **argv);

/*
 * The subcommands: each gets argv from its own name on (argv[0]) and
 * returns the exit status; each answers -h and --help with its usage on
 * standard output and exit 0. A new subcommand is a row here and a line in
 * usage_text.
 */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"serve", cmd_serve},       {"configtest", cmd_configtest},
    {"queue", cmd_queue},       {"unlock", cmd_unlock},
    {"passwd", cmd_passwd},     {"check", cmd_check},
    {"version", cmd_version},   {"help", cmd_help},
    {"status", cmd_status},     {"scanners", cmd_scanners},
    {"firewall", cmd_firewall}, {"audit", cmd_audit},
    {"dkim", cmd_dkim},         {"quarantine", cmd_quarantine},
    {"totp", cmd_totp},         {"app-password", cmd_apppw},
    {"track", cmd_track},       {"console", cmd_console},
    {"sendmail", cmd_sendmail},
};

/* gate26 help [COMMAND]: this usage, or COMMAND --help. */
static int
cmd_help(int argc, char **argv)
{
    if (asks_help(argc, argv, help_usage))
        return 0;
    if (argc == 1) {
        fputs(usage_text, stdout);
        return 0;
    }
    for (size_t i = 0; argc == 2 && i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            char *args[] = {argv[1], "--help", NULL};

            return commands[i].run(2, args);
        }
    }
    fprintf(stderr, "gate26: no command '%s'\n\n%s", argv[1], usage_text);
    return 2;
}

int
main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "help";
    const char *base = strrchr(argv[0], '/');

    /* Run as /usr/sbin/sendmail (a link): the whole command line is sendmail's. */
    if (strcmp(base != NULL ? base + 1 : argv[0], "sendmail") == 0)
        return sendmail_main(argc, argv);

    if (strcmp(cmd, "--version") == 0)
        cmd = "version";
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        cmd = "help";
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc > 1 ? argc - 1 : 1, argc > 1 ? argv + 1 : argv);
    }
    fprintf(stderr, "gate26: unknown command '%s'\n\n%s", cmd, usage_text);
    return 2;
}
