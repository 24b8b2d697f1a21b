/* SPDX-License-Identifier: MIT */
/*
 * The listening sockets of every door. listen_set_apply() makes the set
 * match a configuration: sockets for addresses that stay are kept (so a
 * reload never drops a port), new ones are bound, removed ones closed; if
 * anything fails nothing changes. Each accepted connection is counted
 * against the door's and the overall max-sessions, and against its client's
 * sessions and connection rate on the door (policy_session_begin() with the
 * env's limits: over either, 421 4.7.0 and close), then handed to
 * smtp_session_start(). A connection from one of the door's proxy-protocol
 * networks is counted against max-sessions at once, but its client is the
 * address its PROXY header carries (docs/scanners.md, "PROXY protocol"):
 * the limits and the session see that one; a missing or bad header closes
 * it without a reply.
 */
#ifndef GATE26_LISTEN_LISTEN_H
#define GATE26_LISTEN_LISTEN_H

#include <stddef.h>

#include "conf/conf.h"
#include "smtp/smtp.h"

struct listen_set;

/* A new, empty set whose sessions use env (which must outlive the set). */
struct listen_set *listen_set_new(const struct smtp_env *env);

/*
 * Binds, keeps and closes sockets so that the set serves exactly c's
 * listeners (c gains references held by the listeners). Returns 0, or -1
 * with "FILE:LINE: address ADDRESS: reason" in err (capacity errcap) and the
 * set unchanged. A port that needs root and is not bound yet is refused
 * before anything changes when the process has no longer the right to bind
 * it (after privileges dropped: a reload).
 */
int listen_set_apply(struct listen_set *ls, struct conf *c, char *err, size_t errcap);

/* Closes every socket and every connection still waiting for its PROXY header; the
 * sessions go on. */
void listen_set_close(struct listen_set *ls);

/* Closes every socket and frees; every session must have ended (they
 * report to the set). NULL: nothing. */
void listen_set_free(struct listen_set *ls);

/* Sessions open now on the door role. */
size_t listen_sessions(const struct listen_set *ls, enum door_role role);

#endif
