/* SPDX-License-Identifier: MIT */
/*
 * Dropping root: once the ports are bound, the keys read and the spool
 * open, a daemon started as root becomes the configured `user` (its primary
 * group, no supplementary groups) before the first client is served. It
 * never serves as root: started as root without `user`, it does not start.
 * Started as another user, it runs as it is.
 */
#ifndef GATE26_DAEMON_PRIVILEGES_H
#define GATE26_DAEMON_PRIVILEGES_H

#include <stddef.h>

#include "conf/conf.h"
#include "spool/spool.h"

/*
 * What serve would refuse about the user, checked before anything is
 * opened (preflight_start, for serve and configtest): a configured user
 * must exist and be neither root nor in root's group (gid 0); when the
 * caller is root, a user must be configured. Returns 0, or -1 with the
 * reason in err, naming FILE:LINE of the user key ("FILE: " when none is
 * written).
 */
int privileges_check(const struct conf *c, char *err, size_t errcap);

/*
 * Becomes c->user when running as root: gives the spool (sp NULL: none, as
 * `gate26 console` has) and the control socket (NULL: none) to that user, clears the supplementary
 * groups, sets the real, effective and saved group and user IDs, and checks that none of root's IDs
 * can be taken back (a failure there is a bug: log_panic). Without root it changes nothing (a
 * warning says when c->user is another user than the one running). Returns 0, or -1 with the reason
 * in err (after privileges_check() passed, only a failing system call gets there).
 */
int privileges_drop(const struct conf *c, struct spool *sp, const char *socket_path, char *err,
                    size_t errcap);

#endif
