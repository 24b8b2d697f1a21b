/* SPDX-License-Identifier: MIT */
/*
 * Fault injection for debug builds: make the Nth write, fsync, rename or
 * open fail, to prove that a failure leaves nothing half-written and gets the
 * right SMTP reply. Set by the environment of the daemon, for example
 *
 *     GATE26_FAULT=fsync:3        the 3rd fsync fails with EIO
 *     GATE26_FAULT=write:2:ENOSPC the 2nd write fails with ENOSPC
 *     GATE26_FAULT=write:5+       the 5th and every later write fails
 *     GATE26_FAULT=syncfs:1,fsync:2  several points, each with its own count
 *
 * Release builds (GATE26_FAULTS undefined) compile every check to false.
 */
#ifndef GATE26_LIB_FAULT_H
#define GATE26_LIB_FAULT_H

#include <stdbool.h>

enum fault_point {
    FAULT_OPEN,
    FAULT_WRITE,
    FAULT_FSYNC,
    FAULT_SYNCFS,
    FAULT_RENAME,
    FAULT_POINT_COUNT,
};

#ifdef GATE26_FAULTS
/* Reads GATE26_FAULT once. Returns 0, or -1 on a malformed value. */
int fault_init(void);
/* Counts one call at point; true (with errno set) when it is to fail. */
bool fault_hit(enum fault_point point);
#else
static inline int
fault_init(void)
{
    return 0;
}
static inline bool
fault_hit(enum fault_point point)
{
    (void)point;
    return false;
}
#endif

#endif
