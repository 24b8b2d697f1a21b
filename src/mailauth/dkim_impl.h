/* SPDX-License-Identifier: MIT */
/* Private to src/mailauth's DKIM files: what the verifier and signer share. */
#ifndef GATE26_MAILAUTH_DKIM_IMPL_H
#define GATE26_MAILAUTH_DKIM_IMPL_H

#include "mailauth/dkim.h"
#include "mailauth/msghdr.h"

/*
 * The header hash of RFC 6376 3.7: the fields named in names (n of them)
 * selected bottom-up (5.4.2: the k-th time a name is listed picks its k-th
 * field from the bottom; a name with none left adds nothing), each
 * canonicalized with its CRLF, then sigfield (the DKIM-Signature field with
 * an empty b=) canonicalized without one. SHA-256 into out (32 octets).
 * Returns 0, or -1 (a field that cannot be canonicalized).
 */
int dkim_hash_headers(const struct msghdr_section *h, bool relaxed, const char *const *names,
                      size_t n, struct slice sigfield, unsigned char out[32]);

#endif
