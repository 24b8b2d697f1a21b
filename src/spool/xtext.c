/* SPDX-License-Identifier: MIT */
/* xtext, RFC 3461 4; see xtext.h. */
#include <stdbool.h>

#include "spool/xtext.h"

static const char xtext_hex[] = "0123456789ABCDEF";

/* xchar = any ASCII CHAR between "!" (33) and "~" (126) inclusive, except for "+" and "=". */
static bool
xtext_is_xchar(unsigned char ch)
{
    return ch >= 33 && ch <= 126 && ch != '+' && ch != '=';
}

size_t
xtext_encode(char *dst, const char *s, size_t len)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (xtext_is_xchar(ch)) {
            dst[o++] = (char)ch;
        } else {
            /* hexchar = ASCII "+" immediately followed by two upper case hexadecimal digits */
            dst[o++] = '+';
            dst[o++] = xtext_hex[ch >> 4];
            dst[o++] = xtext_hex[ch & 15u];
        }
    }
    return o;
}

static int
xtext_hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

long
xtext_decode(char *dst, const char *s, size_t len)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        int hi, lo;

        if (xtext_is_xchar(ch)) {
            dst[o++] = (char)ch;
            continue;
        }
        if (ch != '+' || len - i < 3)
            return -1;
        hi = xtext_hex_value(s[i + 1]);
        lo = xtext_hex_value(s[i + 2]);
        if (hi < 0 || lo < 0)
            return -1;
        ch = (unsigned char)(hi << 4 | lo);
        if (ch == 0 || xtext_is_xchar(ch))
            return -1;
        dst[o++] = (char)ch;
        i += 2;
    }
    dst[o] = '\0';
    return (long)o;
}
