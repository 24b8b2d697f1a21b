/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets as gate26 binds them (the doors in src/listen, the
 * metrics endpoint in src/watch): non-blocking, close-on-exec,
 * SO_REUSEADDR, IPv6 sockets IPV6_V6ONLY (so that 0.0.0.0:P and [::]:P
 * are two sockets and each client is seen in its own family); and whether
 * this process may still bind a given port (a port below
 * net.ipv4.ip_unprivileged_port_start needs root or CAP_NET_BIND_SERVICE,
 * which a daemon that switched to its user no longer has).
 */
#ifndef GATE26_LIB_SOCK_H
#define GATE26_LIB_SOCK_H

#include <stdbool.h>
#include <sys/socket.h>

/*
 * A socket bound to sa (len octets) and listening with the given backlog
 * (the kernel caps it at net.core.somaxconn). Returns the descriptor, or -1
 * with errno (nothing left open).
 */
int sock_listen(const struct sockaddr *sa, socklen_t len, int backlog);

/* The port of an AF_INET or AF_INET6 address, in host order. */
unsigned sock_port(const struct sockaddr *sa);

/*
 * True when this process may bind port now: it is root, the port is at or
 * above net.ipv4.ip_unprivileged_port_start (1024 when it cannot be read;
 * the same value holds for IPv6), or it has CAP_NET_BIND_SERVICE in effect.
 */
bool sock_may_bind(unsigned port);

#endif
