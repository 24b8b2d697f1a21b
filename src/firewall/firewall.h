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

#include <stddef.h>

#include "conf/conf.h"

/* The table's family and name, and its sets of blocked scanners. */
#define FIREWALL_TABLE     "inet gate26"
#define FIREWALL_SET4      "scanners"
#define FIREWALL_SET6      "scanners6"
/* The table's comment starts so, then the configuration file's SHA-256 in hex. */
#define FIREWALL_COMMENT   "gate26 config sha256="

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
 */
int firewall_installed(char *hex, size_t cap, char *err, size_t errcap);

#endif
