/* SPDX-License-Identifier: MIT */
/* Bounded string copies; see str.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/str.h"

int
str_copy(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap) {
        memcpy(dst, src, cap - 1);
        dst[cap - 1] = '\0';
        return -1;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

int
str_copyz(char *dst, size_t cap, const char *src)
{
    return str_copy(dst, cap, src, strlen(src));
}

int
str_fmt(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

void
str_lower(char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] >= 'A' && p[i] <= 'Z')
            p[i] = (char)(p[i] + ('a' - 'A'));
    }
}

void
str_printable(char *dst, size_t cap, const char *s)
{
    size_t n = 0;

    if (s == NULL)
        s = "?";
    for (; *s != '\0' && n + 1 < cap; s++)
        dst[n++] = *s >= 0x20 && *s <= 0x7e ? *s : '?';
    dst[n] = '\0';
}

bool
str_is_ascii(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)p[i] >= 0x80)
            return false;
    }
    return true;
}
