/* SPDX-License-Identifier: MIT */
/*
 * Dropping root: once the ports are bound and the spool is open, a daemon
 * started as root becomes the configured `user` (its group, no supplementary
 * groups) before the first client is served.
 */
#ifndef GATE26_DAEMON_PRIVILEGES_H
#define GATE26_DAEMON_PRIVILEGES_H

#include <stddef.h>

#include "conf/conf.h"
#include "spool/spool.h"

/*
 * Becomes c->user when running as root and a user is configured: gives the
 * spool to that user, clears supplementary groups, sets the group and then
 * the user, and checks that root cannot be regained. Without root, or
 * without a user, it changes nothing (a warning says when a user was asked
 * for but cannot be taken). Returns 0, or -1 with the reason in err.
 */
int privileges_drop(const struct conf *c, struct spool *sp, const char *socket_path, char *err,
                    size_t errcap);

#endif
