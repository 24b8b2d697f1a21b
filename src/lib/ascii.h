/* SPDX-License-Identifier: MIT */
/*
 * ASCII character classes of ABNF (RFC 5234 B.1), for the parsers. They
 * take an octet as 0..255 (or -1 at the end of input, which is in no class)
 * and never depend on the locale, unlike <ctype.h>.
 */
#ifndef GATE26_LIB_ASCII_H
#define GATE26_LIB_ASCII_H

#include <stdbool.h>

/* ALPHA */
static inline bool
is_alpha(int ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

/* DIGIT */
static inline bool
is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

/* HEXDIG, either case (ABNF strings are case-insensitive, RFC 5234 2.3). */
static inline bool
is_hexdig(int ch)
{
    return is_digit(ch) || (ch >= 'A' && ch <= 'F') || (ch >= 'a' && ch <= 'f');
}

#endif
