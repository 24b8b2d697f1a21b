/* SPDX-License-Identifier: MIT */
/*
 * Bounded string copies that report truncation (Debian 12's glibc has no
 * strlcpy), and small ASCII helpers.
 */
#ifndef GATE26_LIB_STR_H
#define GATE26_LIB_STR_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Copies len bytes of src into dst (capacity cap, cap > 0) and NUL-terminates.
 * Returns 0, or -1 when src does not fit; dst then holds the truncated prefix.
 */
int str_copy(char *dst, size_t cap, const char *src, size_t len);

/* str_copy of a NUL-terminated string. */
int str_copyz(char *dst, size_t cap, const char *src);

/* snprintf that returns 0, or -1 on truncation or an encoding error. */
int str_fmt(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ASCII lower-casing in place of len bytes. */
void str_lower(char *p, size_t len);

/* True when every one of the len bytes is below 0x80. */
bool str_is_ascii(const char *p, size_t len);

/*
 * s as printable ASCII into dst (capacity cap, at least 1; cut to fit):
 * any other octet, a control character above all, as '?'. NULL: "?". For
 * printing what came from elsewhere (a daemon's document) on a terminal.
 */
void str_printable(char *dst, size_t cap, const char *s);

#endif
