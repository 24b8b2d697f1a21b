/* SPDX-License-Identifier: MIT */
/*
 * The pieces of local.c that its unit tests reach (private to src/check):
 * one row of /proc/net/tcp or /proc/net/tcp6, and the scope of an address.
 */
#ifndef GATE26_CHECK_LOCAL_H
#define GATE26_CHECK_LOCAL_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/slice.h"

/* The longest row we read; the kernel's are about 150 (tcp) and 180 (tcp6) octets. */
#define CHECK_TCP_ROW_MAX 512

/* The TCP state column: 0A is LISTEN (include/net/tcp_states.h). */
#define CHECK_TCP_LISTEN 0x0A

struct check_tcp_row {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network order; 4 octets for AF_INET */
    unsigned port;          /* local port */
    unsigned state;         /* st column */
    uint32_t uid;           /* the socket's owner */
    uint64_t inode;         /* the socket's inode: /proc/PID/fd links read socket:[INODE] */
};

/*
 * Parses one row (without its newline) of /proc/net/tcp (family AF_INET) or
 * /proc/net/tcp6 (AF_INET6):
 *   sl: local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
 * The local address is hex of 32-bit words, each printed as the host stores
 * it (little-endian on x86); the port is plain hex. Returns 0, or -1 when the
 * line is not such a row (the header line, a short line, bad hex, a number
 * out of range, a line longer than CHECK_TCP_ROW_MAX).
 */
int check_tcp_row_parse(struct slice line, int family, struct check_tcp_row *out);

/* One row of /proc/locks. */
struct check_lock_row {
    bool flock;         /* FLOCK (flock(2)), not POSIX or OFDLCK */
    long pid;           /* who took it; -1 for an OFD lock */
    unsigned dev_major; /* the locked file: device and inode */
    unsigned dev_minor;
    uint64_t inode;
};

/*
 * Parses one row (without its newline) of /proc/locks:
 *   ID: KIND ADVISORY|MANDATORY READ|WRITE PID MAJ:MIN:INODE START END
 * KIND is FLOCK, POSIX, OFDLCK or DELEG/LEASE; MAJ and MIN are hex, INODE
 * decimal. A blocked waiter's row ("ID: -> FLOCK ...") is not a lock held:
 * -1. Returns 0, or -1 when the line is not such a row.
 */
int check_lock_row_parse(struct slice line, struct check_lock_row *out);

/*
 * "all" (0.0.0.0, ::), "loopback" (127/8, ::1, ::ffff:127.0.0.0/104) or
 * "address" (one address) for addr (4 or 16 octets of family).
 */
const char *check_addr_scope(int family, const unsigned char *addr);

/* check_addr_is_private() is in check.h (gate26 audit judges addresses by it too). */

#endif
