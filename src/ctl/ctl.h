/* SPDX-License-Identifier: MIT */
/*
 * Queue control: the daemon's control socket and the `gate26 queue` client.
 *
 * The socket is SPOOL/control, a Unix stream socket of mode 0600 inside the
 * spool directory (mode 0700, owned by the gateway's user), so only root and
 * that user can reach it. One request per connection: a line
 * "VERB [ARG]" (list, list-json, show ID, flush [ID], hold ID, release ID,
 * delete ID, bounce ID; unlock CLIENT|USER, see ctl_unlock_run); the
 * answer is a line "ok" or "error: TEXT", then the body, then the daemon
 * closes. Going through the daemon keeps the daemon and the disk from ever
 * disagreeing about a message, and reaches the lockouts, which live only in
 * the daemon's memory.
 */
#ifndef GATE26_CTL_CTL_H
#define GATE26_CTL_CTL_H

#include <stddef.h>

#include "sched/sched.h"

struct event_base;
struct ctl;
struct policy_limits;

/* The socket's file name inside the spool directory. */
#define CTL_SOCKET_NAME "control"

/*
 * Opens the control socket in spool_dir (replacing a stale one) on base,
 * answering through s, and unlocking in limits (the daemon's counting
 * tables, borrowed: they outlive the socket; NULL: unlock answers an
 * error). Returns it (free with ctl_free), or NULL with the reason in err
 * (capacity errcap).
 */
struct ctl *ctl_new(struct event_base *base, struct sched *s, struct policy_limits *limits,
                    const char *spool_dir, char *err, size_t errcap);

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

/*
 * The verb "unlock ARG" in the daemon (unlock.c): ARG is a client address
 * (IPv4, or IPv6 for its /64) or a user name (any case), or both (a dotted
 * quad is a valid user name too). Ends its AUTH lock and forgets its
 * failures in pl at once, logs event=unlock. Returns 0 with what it cleared
 * in text ("unlocked client 192.0.2.7"), or -1 with why not ("nothing to
 * unlock for user bob", not an address or a user name), capacity cap.
 */
int ctl_unlock_run(struct policy_limits *pl, const char *arg, char *text, size_t cap);

/*
 * The client, `gate26 unlock CLIENT|USER`, in two steps. ctl_unlock_args()
 * checks the arguments after -c FILE ("ARG" or "-- ARG"): returns -1 when
 * they are good, else the exit status after printing the usage (0 for
 * --help, 2 for a usage error: none, several, an unknown option, or
 * neither an address nor a valid user name). ctl_unlock_client(), with
 * the same arguments, then sends "unlock ARG" to the daemon whose spool is
 * spool_dir and prints the answer; returns 0 when something was unlocked,
 * 1 when nothing was (or the daemon is not running).
 */
int ctl_unlock_args(int argc, char **argv);
int ctl_unlock_client(const char *spool_dir, int argc, char **argv);

#endif
