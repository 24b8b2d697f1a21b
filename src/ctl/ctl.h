/* SPDX-License-Identifier: MIT */
/*
 * Queue control: the daemon's control socket and the `gate26 queue` client.
 *
 * The socket is SPOOL/control, a Unix stream socket of mode 0600 inside the
 * spool directory (mode 0700, owned by the gateway's user), so only root and
 * that user can reach it. One request per connection: a line
 * "VERB [ARG]" (list, list-json, show ID, flush [ID], hold ID, release ID,
 * delete ID, bounce ID); the answer is a line "ok" or "error: TEXT", then
 * the body, then the daemon closes. Going through the daemon keeps the
 * daemon and the disk from ever disagreeing about a message.
 */
#ifndef GATE26_CTL_CTL_H
#define GATE26_CTL_CTL_H

#include <stddef.h>

#include "sched/sched.h"

struct event_base;
struct ctl;

/* The socket's file name inside the spool directory. */
#define CTL_SOCKET_NAME "control"

/*
 * Opens the control socket in spool_dir (replacing a stale one) on base,
 * answering through s. Returns it (free with ctl_free), or NULL with the
 * reason in err (capacity errcap).
 */
struct ctl *ctl_new(struct event_base *base, struct sched *s, const char *spool_dir, char *err,
                    size_t errcap);

/* The socket's path (to give it to the gateway's user before dropping root). */
const char *ctl_path(const struct ctl *c);

/*
 * Closes the socket (and removes it) and every connection; commands still
 * waiting for the spool are answered to nobody. Call after spool_free().
 * NULL: nothing.
 */
void ctl_free(struct ctl *c);

/*
 * The client: `gate26 queue` with argv[0] the verb. Sends the request to
 * the daemon whose spool is spool_dir, prints the body on standard output
 * (an error on standard error). Returns the exit status: 0 ok, 1 the daemon
 * said no (unknown id, busy...) or is not running, 2 a usage error.
 */
int ctl_client(const char *spool_dir, int argc, char **argv);

#endif
