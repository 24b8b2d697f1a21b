/* SPDX-License-Identifier: MIT */
/*
 * The targets of gate26 check's command line (private to src/check): a host
 * and how to speak to its port. Parsed by target.c, tested by target_test.c.
 */
#ifndef GATE26_CHECK_TARGET_H
#define GATE26_CHECK_TARGET_H

#include <stddef.h>

#include "check/check.h"

/* One target as written. */
struct check_target {
    char name[256];             /* host name or address literal, without brackets */
    char addr[64];              /* the literal as inet_ntop writes it, or "" for a name */
    unsigned port;              /* 0: none given (the four default ports) */
    enum check_tls_start start; /* smtps:// -> implicit, smtp:// -> plain, else by port */
};

/*
 * Parses one target:
 *   HOST | HOST:PORT | [IPV6] | [IPV6]:PORT | IPV6      (how to speak: by port)
 *   smtp://HOST[:PORT]    plain SMTP, STARTTLS when offered; port 25 when not given
 *   smtps://HOST[:PORT]   TLS from the first byte (RFC 8314 3.3); port 465 when not given
 * HOST is a name, an IPv4 address or [IPV6]; a URL takes no bare IPv6, no
 * user, path, query or fragment (RFC 3986 3.2: smtp://user@host/ is no
 * target). The scheme is matched in any case (RFC 3986 3.1). Ports are
 * 1..65535. Returns 0, or -1 with a sentence naming arg in why (capacity
 * whycap).
 */
int check_target_parse(const char *arg, struct check_target *out, char *why, size_t whycap);

/* True for a host name: LDH labels (and '_') of 1..63, at most 253 in all, not all digits. */
bool check_is_host_name(const char *s);

#endif
