/* SPDX-License-Identifier: MIT */
/*
 * The character classes SPF's files use beyond lib/ascii.h (private to the
 * SPF files of mailauth/): locale-free, octets as 0..255.
 */
#ifndef GATE26_MAILAUTH_SPF_ASCII_H
#define GATE26_MAILAUTH_SPF_ASCII_H

#include <stdbool.h>

#include "lib/ascii.h"

static inline bool
spf_is_alnum(int ch)
{
    return is_alpha(ch) || is_digit(ch);
}

static inline bool
spf_is_upper(int ch)
{
    return ch >= 'A' && ch <= 'Z';
}

static inline int
spf_to_lower(int ch)
{
    return spf_is_upper(ch) ? ch + ('a' - 'A') : ch;
}

/* VCHAR (RFC 5234 B.1) or SP. */
static inline bool
spf_is_print(int ch)
{
    return ch >= 0x20 && ch <= 0x7e;
}

#endif
