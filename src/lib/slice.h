/* SPDX-License-Identifier: MIT */
/*
 * A slice is a view of bytes that are not ours and not yet validated: peer
 * input stays a slice until a parser has checked it.
 */
#ifndef GATE26_LIB_SLICE_H
#define GATE26_LIB_SLICE_H

#include <stdbool.h>
#include <stddef.h>

struct slice {
    const char *p;
    size_t len;
};

static inline struct slice
slice_make(const char *p, size_t len)
{
    struct slice s = {p, len};
    return s;
}

/* True when s equals the NUL-terminated lit, ignoring ASCII case. */
bool slice_eq_ci(struct slice s, const char *lit);

/* True when s starts with the NUL-terminated lit, ignoring ASCII case. */
bool slice_starts_ci(struct slice s, const char *lit);

#endif
