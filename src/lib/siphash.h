/* SPDX-License-Identifier: MIT */
/*
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): the keyed hash of every table whose keys come from peers (the
 * limits against abuse, the shared-state store), so that nobody can choose
 * keys that fall into one bucket.
 */
#ifndef GATE26_LIB_SIPHASH_H
#define GATE26_LIB_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-2-4 of len octets at p under the 16-octet key. */
uint64_t siphash24(const unsigned char key[16], const void *p, size_t len);

#endif
