/* SPDX-License-Identifier: MIT */
/*
 * This machine's own doors, for gate26 check (private to src/check): whether
 * an address is this machine's, which door of a configuration a connection
 * reaches, and what a relay found on one of them means. own.c; tested by
 * own_test.c.
 */
#ifndef GATE26_CHECK_OWN_H
#define GATE26_CHECK_OWN_H

#include <stdbool.h>
#include <stddef.h>

#include "check/check.h"
#include "conf/conf.h"

/* The finding that takes the place of "open-relay" (docs/check.md). */
#define CHECK_RELAY_ALLOW_LISTED "relay-allow-listed"

/*
 * True when addr (IPv4 or IPv6 text) is this machine's: loopback (127/8,
 * ::1, ::ffff:127.0.0.0/104), the unspecified address (a connection to it
 * stays here), or an address of one of its interfaces (getifaddrs). False
 * for text that is no address.
 */
bool check_addr_is_own(const char *addr);

/*
 * An allow network of li that holds every address of its family (0.0.0.0/0,
 * ::/0, ::ffff:0:0/96 or shorter), or NULL.
 */
const struct conf_cidr *check_door_open_allow(const struct conf_listen *li);

/*
 * The address (4 or 16 octets into out) and port of one address line of a
 * door; returns its family, or AF_UNSPEC (out and *port untouched).
 */
int check_conf_addr_bin(const struct conf_addr *ca, unsigned char out[16], unsigned *port);

/*
 * The door of c that a connection to addr:port (4 or 16 octets of family)
 * reaches: the one on that address, else one on the unspecified address of
 * the same family (gate26's IPv6 sockets are IPV6_V6ONLY, so [::] takes no
 * IPv4). *where (when not NULL) gets the address line of the door. NULL when
 * c has no such door.
 */
const struct conf_listen *check_door_at(const struct conf *c, int family, const unsigned char *addr,
                                        unsigned port, const struct conf_addr **where);

/* True when a port of hosts[0..n) on an address of this machine has an "open-relay" finding. */
bool check_own_relay_found(const struct check_host *h, size_t n);

/*
 * For every port of hosts[0..n) on an address of this machine whose
 * "open-relay" finding the configuration c explains, the finding becomes
 * CHECK_RELAY_ALLOW_LISTED (info): c has a door at that address and port
 * whose allow list holds the port's source (the prober's own address) and
 * whose deny list does not (policy_may_connect, the daemon's own test), and
 * that allow list does not admit everyone. Any other open relay stays
 * critical. c is borrowed.
 */
void check_own_relay_explain(struct check_host *h, size_t n, const struct conf *c);

#endif
