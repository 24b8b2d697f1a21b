/* SPDX-License-Identifier: MIT */
/*
 * xtext (RFC 3461 4), the encoding of every peer-derived string in the
 * envelope records: octets 33..126 stand for themselves except '+' and '=',
 * every other octet is '+' and two upper-case hex digits. An encoded string
 * therefore never holds a space, a CR or an LF, so no string a peer sends
 * can end a record or start another one.
 *
 * The decoder accepts exactly what the encoder writes (one spelling per
 * string): lower-case hex, "+HH" for an octet that needs no escape and
 * "+00" (a NUL would cut the C string) are refused.
 */
#ifndef GATE26_SPOOL_XTEXT_H
#define GATE26_SPOOL_XTEXT_H

#include <stddef.h>

/* The most octets xtext_encode() writes for len octets of input. */
#define XTEXT_ENCODED_MAX(len) (3 * (len))

/*
 * Encodes the len octets at s into dst, which holds at least
 * XTEXT_ENCODED_MAX(len) octets (no NUL is written). Returns the octets
 * written.
 */
size_t xtext_encode(char *dst, const char *s, size_t len);

/*
 * Decodes the len octets at s into dst, which holds at least len + 1
 * octets, and NUL-terminates it. Returns the decoded length, or -1 when s is
 * not canonical xtext.
 */
long xtext_decode(char *dst, const char *s, size_t len);

#endif
