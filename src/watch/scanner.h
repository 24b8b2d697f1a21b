/* SPDX-License-Identifier: MIT */
/*
 * Private to src/watch: the scanner table (docs/scanners.md, "What is
 * counted"). A pure data structure: time is passed in (seconds since the
 * epoch), it does no I/O and logs nothing; scanner.c's watcher part logs
 * what it says.
 *
 * Two tables of the same fixed size, made at once: one row per source
 * address and one per network (IPv4 /24, IPv6 /64). A row holds Mirai and
 * plain SYNs, sessions by kind, up to SCANNER_PORTS ports hit, first and
 * last seen. A new row in a full table takes the place of the least
 * recently seen one, so a flood of spoofed sources churns the table and
 * never grows it. Keys are hashed with SipHash-2-4 under a random seed, so
 * that nobody can choose addresses that share a bucket.
 *
 * A plain SYN alone makes no row (every client sends them): a row starts
 * with a Mirai SYN or a scanner session, and then counts the source's plain
 * SYNs too (its network's row counts them with it).
 */
#ifndef GATE26_WATCH_SCANNER_H
#define GATE26_WATCH_SCANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "watch/watch.h"

/* Ports a row remembers (the first ones hit). */
#define SCANNER_PORTS 8
/* A source's log line of each sort comes at most once in this many seconds. */
#define SCANNER_LOG_EVERY 3600

/* What the watcher logs of a source, once per SCANNER_LOG_EVERY each. */
enum scanner_log {
    SCANNER_LOG_SEEN,    /* event=scanner */
    SCANNER_LOG_REFUSED, /* event=scanner-refused */
    SCANNER_LOG_COUNT,
};

/* One row: a source or a network. */
struct scanner_row {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* a source's address; a network's, its host bits zero */
    uint64_t mirai, plain;  /* SYNs */
    uint64_t sessions[WATCH_SCAN_SESSIONS]; /* by kind, from WATCH_SCAN_SESSION_FIRST */
    uint16_t ports[SCANNER_PORTS];
    size_t n_ports;
    time_t first_seen, last_seen;
    time_t logged[SCANNER_LOG_COUNT]; /* sources: when each line was last logged; 0: never */
};

/* What scanner_table_note() did. */
enum {
    SCANNER_NOTED = 1,      /* the source has a row now */
    SCANNER_FIRST_MIRAI = 2 /* this was the first Mirai SYN of the source's row */
};

struct scanner_table;

/*
 * Tables of max rows each (at least 1), hashed under seed (16 octets,
 * copied; NULL: from getrandom). Aborts when out of memory. Free with
 * scanner_table_free() (NULL: nothing).
 */
struct scanner_table *scanner_table_new(size_t max, const unsigned char *seed);
void scanner_table_free(struct scanner_table *t);

/*
 * Counts what source (family AF_INET or AF_INET6, 4 or 16 octets at addr)
 * did at now, to port (0: none): a SYN or a session of kind. Returns
 * SCANNER_NOTED and SCANNER_FIRST_MIRAI as they apply (0: a plain SYN of a
 * source without a row, or a bad family: nothing counted).
 */
unsigned scanner_table_note(struct scanner_table *t, enum watch_scan kind, int family,
                            const unsigned char *addr, unsigned port, time_t now);

/* The source's row, or NULL (looking only: nothing moves). */
const struct scanner_row *scanner_table_find(const struct scanner_table *t, int family,
                                             const unsigned char *addr);

/*
 * True when the source's line of sort what is to be logged at now (it has
 * a row, and that line was not logged in the last SCANNER_LOG_EVERY
 * seconds); then it is marked as logged at now.
 */
bool scanner_table_log_due(struct scanner_table *t, enum scanner_log what, int family,
                           const unsigned char *addr, time_t now);

/* Rows of sources now (gate26_scanner_sources), of networks, and the capacity of each. */
size_t scanner_table_sources(const struct scanner_table *t);
size_t scanner_table_networks(const struct scanner_table *t);
size_t scanner_table_cap(const struct scanner_table *t);

/*
 * The rows of sources (networks false) or networks (true), in no order:
 * fn(arg, row) for each. fn must not change the table.
 */
typedef void scanner_row_fn(void *arg, const struct scanner_row *row);
void scanner_table_each(const struct scanner_table *t, bool networks, scanner_row_fn *fn,
                        void *arg);

/* The network (IPv4 /24, IPv6 /64) of a source address: its host bits cleared into out. */
void scanner_network_of(int family, const unsigned char *addr, unsigned char out[16]);

#endif
