/* SPDX-License-Identifier: MIT */
/*
 * Private to src/tls: what the server, client and description files share
 * (the settings of every context, host-name checks, printable copies).
 */
#ifndef GATE26_TLS_TLS_IMPL_H
#define GATE26_TLS_TLS_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "conf/conf.h"
#include "lib/caps.h"

/* Writes "message (OpenSSL's errors)" into err, clears the queue; always returns -1. */
int tls_fail_ssl(char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the message into err; always returns -1. */
int tls_fail(char *err, size_t errcap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Puts "FILE:LINE: " (c->path, line) before the message in err, so that a
 * load error names the line of the key at fault as configuration errors do;
 * nothing when c has no path or line is 0 (the key was not written). Always
 * returns -1.
 */
int tls_fail_at(const struct conf *c, unsigned line, char *err, size_t errcap);

/*
 * What every context gets: TLS 1.2 at least, the conf's cipher list (or
 * TLS_DEFAULT_CIPHERS), no compression, no renegotiation, and a password
 * callback that refuses, so that an encrypted key fails instead of prompting
 * on the terminal. Returns 0, or -1 with err filled.
 */
int tls_ctx_setup(SSL_CTX *ctx, const struct conf *c, char *err, size_t errcap);

/*
 * A host name as SNI carries it (RFC 6066 3) and RFC 1123 2.1 writes it:
 * labels of letters, digits and '-', not starting or ending with '-', 1 to 63
 * octets each, at most 253 octets in all after one trailing dot is dropped,
 * the last label not all digits (that is an address).
 * On success copies it without the dot into out (capacity CAP_DOMAIN + 1)
 * and returns true.
 */
bool tls_host_name(const char *name, size_t len, char *out);

/* True when name is an IPv4 or IPv6 address literal (no brackets). */
bool tls_is_address(const char *name);

/*
 * Copies len octets of src into dst (capacity cap > 0) as printable ASCII:
 * octets outside 0x20..0x7e become '?', and so does each octet of forbid;
 * a copy cut short ends in "...". Returns dst.
 */
char *tls_printable(char *dst, size_t cap, const char *src, size_t len, const char *forbid);

#endif
