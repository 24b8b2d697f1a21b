/* SPDX-License-Identifier: MIT */
/*
 * gate26 firewall [-c FILE] [--apply | --remove] (docs/scanners.md, "gate26
 * firewall"): prints the ruleset of the configuration, loads it, or deletes
 * the table. The configuration file is read once, and both its hash (the
 * table's comment) and the conf come from those bytes, so the comment names
 * exactly the file the rules were made from.
 */
#include <getopt.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conf/conf.h"
#include "firewall/firewall.h"
#include "lib/io.h"
#include "lib/str.h"

/* As conf_load: a configuration file is at most 16 MiB. */
#define FIREWALL_CONF_MAX (16u * 1024 * 1024)
/* The ruleset buffer starts so and doubles up to the max. */
#define FIREWALL_RULESET_START (64u * 1024)
#define FIREWALL_RULESET_MAX   (64u * 1024 * 1024)

static const char usage_head[] =
    "usage: gate26 firewall [-c FILE] [--apply | --remove]\n"
    "\n"
    "Prints the nftables ruleset of the configuration: table inet gate26, a table\n"
    "of its own (other tables are never touched), whose comment holds the\n"
    "configuration file's SHA-256. Per door: new connections from set scanners\n"
    "(scanners6) dropped, the door's deny networks dropped, only its allow networks\n"
    "let in (doors without allow lines: everyone), and its connection-rate per\n"
    "source. The output loads with nft -f.\n"
    "\n"
    "  -c, --config FILE  configuration file (default ";
static const char usage_tail[] =
    ")\n"
    "      --apply        load it, replacing an older table inet gate26, in one\n"
    "                     transaction (needs root or CAP_NET_ADMIN)\n"
    "      --remove       delete table inet gate26 (when there is none, says so)\n"
    "  -h, --help         print this text\n"
    "\n"
    "Exit status: 0 done, 1 the configuration or nft refused (FILE:LINE or nft's\n"
    "message on standard error), 2 usage error.\n";

enum fw_action { FW_PRINT, FW_APPLY, FW_REMOVE };

static void
usage(FILE *f, const char *default_conf)
{
    fprintf(f, "%s%s%s", usage_head, default_conf, usage_tail);
}

static void
hex_of(const unsigned char *md, size_t len, char *hex)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * len] = '\0';
}

/* The ruleset of c on the heap (caller frees), or NULL when it would exceed the max. */
static char *
make_ruleset(const struct conf *c, const char *hex, const char *prefix)
{
    size_t plen = strlen(prefix);

    for (size_t cap = FIREWALL_RULESET_START; cap <= FIREWALL_RULESET_MAX; cap *= 2) {
        char *buf = malloc(cap);
        long n;

        if (buf == NULL)
            return NULL;
        memcpy(buf, prefix, plen);
        n = firewall_ruleset(c, hex, buf + plen, cap - plen);
        if (n >= 0)
            return buf;
        free(buf);
    }
    return NULL;
}

/* nft's error, and what to do about the most common one. */
static void
nft_failed(const char *what, const char *err)
{
    fprintf(stderr, "gate26 firewall: cannot %s table " FIREWALL_TABLE ": %s\n", what, err);
    if (strstr(err, "Operation not permitted") != NULL)
        fputs("gate26 firewall: changing nftables needs root or CAP_NET_ADMIN\n", stderr);
}

/*
 * Whether this process may change nftables (CAP_NET_ADMIN effective): asked
 * first, because libnftables itself prints to standard error when it may not.
 * When the kernel cannot say, nft is left to answer.
 */
static bool
may_change_nft(const char *what)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

    if (syscall(SYS_capget, &hdr, data) != 0 ||
        (data[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32))) != 0)
        return true;
    fprintf(stderr, "gate26 firewall: %s needs root or CAP_NET_ADMIN\n", what);
    return false;
}

static int
fw_remove(void)
{
    char hex[65], err[4096];
    int rc;

    if (!may_change_nft("--remove"))
        return 1;
    rc = firewall_installed(hex, sizeof hex, err, sizeof err);

    if (rc == -1) {
        nft_failed("read", err);
        return 1;
    }
    if (rc == 0) {
        printf("gate26 firewall: no table " FIREWALL_TABLE " to remove\n");
        return 0;
    }
    if (firewall_nft("delete table " FIREWALL_TABLE "\n", NULL, 0, err, sizeof err) == -1) {
        nft_failed("delete", err);
        return 1;
    }
    printf("gate26 firewall: table " FIREWALL_TABLE " removed\n");
    return 0;
}

/* Prints or applies the ruleset of the file at path. */
static int
fw_ruleset(const char *path, enum fw_action action)
{
    /* The delete makes --apply replace an older table, and the empty declaration before it
     * makes the delete succeed when there is none: one buffer, one transaction, so the host
     * never runs with half a table or without one. */
    static const char replace[] = "table " FIREWALL_TABLE " {}\n"
                                  "delete table " FIREWALL_TABLE "\n";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1], err[4096];
    char *text = NULL, *rules;
    size_t len = 0;
    struct conf *c;
    int status = 1;

    if (action == FW_APPLY && !may_change_nft("--apply"))
        return 1;
    if (io_read_file(path, FIREWALL_CONF_MAX, &text, &len, err, sizeof err) == -1) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
        fprintf(stderr, "gate26 firewall: cannot compute SHA-256 (OpenSSL)\n");
        free(text);
        return 1;
    }
    hex_of(md, mdlen, hex);
    c = conf_load_text(path, text, len, err, sizeof err);
    free(text);
    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    rules = make_ruleset(c, hex, action == FW_APPLY ? replace : "");
    conf_unref(c);
    if (rules == NULL) {
        fprintf(stderr, "gate26 firewall: %s: the ruleset is larger than %u MiB\n", path,
                FIREWALL_RULESET_MAX >> 20);
        return 1;
    }
    if (action == FW_PRINT) {
        fputs(rules, stdout);
        status = fflush(stdout) == 0 ? 0 : 1;
    } else if (firewall_nft(rules, NULL, 0, err, sizeof err) == -1) {
        nft_failed("load", err);
    } else {
        printf("gate26 firewall: table " FIREWALL_TABLE " loaded from %s (sha256 %s)\n", path, hex);
        status = 0;
    }
    free(rules);
    return status;
}

int
firewall_main(int argc, char **argv, const char *default_conf)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"apply", no_argument, NULL, 'a'},
        {"remove", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = default_conf;
    enum fw_action action = FW_PRINT;
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'a':
        case 'r':
            if (action != FW_PRINT) {
                fputs("gate26 firewall: --apply and --remove go alone\n", stderr);
                usage(stderr, default_conf);
                return 2;
            }
            action = ch == 'a' ? FW_APPLY : FW_REMOVE;
            break;
        case 'h':
            usage(stdout, default_conf);
            return 0;
        default:
            usage(stderr, default_conf);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "gate26 firewall: unexpected argument '%s'\n", argv[optind]);
        usage(stderr, default_conf);
        return 2;
    }
    return action == FW_REMOVE ? fw_remove() : fw_ruleset(path, action);
}
