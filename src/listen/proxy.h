/* SPDX-License-Identifier: MIT */
/*
 * Private to src/listen: the wait for the PROXY header of a connection
 * from one of a door's proxy-protocol networks (docs/scanners.md, "PROXY
 * protocol"). The header is peeked (MSG_PEEK) and only its own octets are
 * consumed, so what follows it (an EHLO, a TLS ClientHello) stays in the
 * socket for the session.
 */
#ifndef GATE26_LISTEN_PROXY_H
#define GATE26_LISTEN_PROXY_H

#include <sys/socket.h>

#include "conf/conf.h"

struct event_base;
struct proxy_wait;

/*
 * The wait is over and freed. fd >= 0: a whole header was read, and client
 * is the address the session should use (the one the header carried, or
 * the connection's own for v1 UNKNOWN and v2 LOCAL; borrowed for the call);
 * the callee owns fd. fd == -1: the header was missing, wrong, cut short or
 * late; the connection is closed and the reason logged, and client is the
 * connection's own address (the proxy's), for the watcher.
 */
typedef void proxy_done_fn(void *arg, int fd, const struct sockaddr *client, socklen_t client_len);

/*
 * Starts waiting on fd (taken over) for a header within seconds; peer is
 * the connection's own address (copied), role its door for the log lines.
 * done is called once, from the event loop, never from inside this call.
 * The returned wait is the caller's to cancel with proxy_wait_free() until
 * done has been called.
 */
struct proxy_wait *proxy_wait_new(struct event_base *base, int fd, const struct sockaddr *peer,
                                  socklen_t peer_len, enum door_role role, unsigned seconds,
                                  proxy_done_fn *done, void *arg);

/* Cancels w: closes its connection without a word and frees it; done is not called.
 * NULL: nothing. */
void proxy_wait_free(struct proxy_wait *w);

#endif
