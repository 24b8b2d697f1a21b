/* SPDX-License-Identifier: MIT */
/*
 * Segmentation (docs/scanners.md, "gate26 firewall"): the nftables ruleset
 * of a configuration, in a table of its own (`inet gate26`) so it never
 * touches other rules, and libnftables to load, remove and read it.
 *
 * Threads: any; nothing here touches the loop. The nft calls block (they
 * are netlink round trips on this host): the CLI's, and the sensor's.
 */
#ifndef GATE26_FIREWALL_FIREWALL_H
#define GATE26_FIREWALL_FIREWALL_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

/* The table's family and name, and its sets of blocked scanners. */
#define FIREWALL_TABLE "inet gate26"
#define FIREWALL_SET4  "scanners"
#define FIREWALL_SET6  "scanners6"
/* The table's comment starts so, then the configuration file's SHA-256 in hex. */
#define FIREWALL_COMMENT "gate26 config sha256="

/* The most sources (or IPv6 /64s) each door's rate set holds (nft `size`). */
#define FIREWALL_RATE_SET_SIZE 65535

/*
 * A door's connection-rate N/PERIOD as nft's per-source limit: `limit rate
 * over RATE/UNIT burst N packets` in a dynamic set whose elements time out
 * after PERIOD idle. A token bucket of N that refills N per PERIOD: the
 * first unit (second, minute, hour, day, week) in which N per PERIOD is a
 * whole number; when none is, RATE per week rounded up (exact false), so
 * the firewall is never stricter than the daemon's own limit.
 */
struct firewall_limit {
    unsigned long long rate; /* tokens per unit */
    const char *unit;        /* "second", "minute", "hour", "day", "week" (static) */
    unsigned burst;          /* N */
    unsigned timeout;        /* seconds: PERIOD */
    bool exact;              /* RATE/UNIT is N/PERIOD exactly */
};

/* The limit of rate r (r.n > 0). */
void firewall_limit_of(struct conf_rate r, struct firewall_limit *out);

/*
 * The ruleset of c (as `gate26 firewall` prints it) into out (capacity
 * cap), with config_sha256_hex (64 hex digits) in the table's comment.
 * Returns its length, or -1 when cap is too small.
 */
long firewall_ruleset(const struct conf *c, const char *config_sha256_hex, char *out, size_t cap);

/*
 * Runs nft commands (the syntax of `nft -f`, one transaction) through
 * libnftables. Output (what `nft list` prints) goes into out (capacity cap,
 * NUL-terminated; out NULL: discarded). Returns 0, or -1 with nft's error
 * message (or why libnftables could not run) in err.
 */
int firewall_nft(const char *commands, char *out, size_t outcap, char *err, size_t errcap);

/*
 * The installed table's configuration hash: 1 with the 64 hex digits in
 * hex (capacity at least 65), 0 when there is no table inet gate26, -1
 * with the reason in err (nft cannot be asked: no CAP_NET_ADMIN).
 * A table inet gate26 whose comment carries no such hash (not written by
 * gate26) is 1 with hex "". It asks libnftables in terse mode, so the
 * elements of the sets (however many scanners) are not listed.
 */
int firewall_installed(char *hex, size_t cap, char *err, size_t errcap);

/*
 * The installed table's configuration hash read from the text of `nft list
 * table inet gate26` (the part of firewall_installed that reads): 1 with
 * the 64 hex digits in hex (capacity at least 65), or hex "" when its
 * comment does not carry one.
 */
int firewall_listed_hash(const char *listing, char *hex, size_t cap);

/*
 * gate26 firewall [-c FILE] [--apply | --remove] (cli.c): argv from the
 * command's name on; default_conf when -c is not given. Returns the exit
 * status: 0 done, 1 the configuration or nft refused (the message on
 * standard error), 2 usage error.
 */
int firewall_main(int argc, char **argv, const char *default_conf);

#endif
