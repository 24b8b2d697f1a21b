/* SPDX-License-Identifier: MIT */
/*
 * Private to ctl/: `gate26 scanners [--json] [--top N]` (docs/scanners.md).
 * The daemon answers the verb "scanners-json [N]" with the watcher's
 * document (watch_scanners_json()); the client prints it as it came
 * (--json) or as two tables, the sources and the busiest networks.
 */
#ifndef GATE26_CTL_SCANNERS_H
#define GATE26_CTL_SCANNERS_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* The verb, as a request line starts. */
#define CTL_SCANNERS_VERB "scanners-json"

/* Rows of each list: by default, and at most (--top). */
#define CTL_SCANNERS_TOP     20
#define CTL_SCANNERS_TOP_MAX 1000

/*
 * Is line (len octets, without its LF) the scanners verb? 0: it is not
 * (another verb); 1: it is, "scanners-json" or "scanners-json N" with N
 * from 1 to CTL_SCANNERS_TOP_MAX in decimal, and *top is N (or
 * CTL_SCANNERS_TOP); -1: it is, with a bad argument, and why says so (a
 * string in capacity whycap).
 */
int ctl_scanners_parse(const char *line, size_t len, size_t *top, char *why, size_t whycap);

/*
 * Prints doc as the text of `gate26 scanners`. A document without a field
 * prints it as 0 or "?": the printer trusts nothing it reads, and writes no
 * control character of it. Returns 0, or -1 when out fails.
 */
int ctl_scanners_print(FILE *out, const json_t *doc);

#endif
