/* SPDX-License-Identifier: MIT */
/*
 * A cursor walks a slice for the recursive-descent parsers: one function per
 * grammar rule takes a cursor, advances it on success and leaves it where
 * the caller can report the failure.
 */
#ifndef GATE26_LIB_CURSOR_H
#define GATE26_LIB_CURSOR_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/slice.h"

struct cursor {
    const char *p;
    const char *end;
};

static inline void
cursor_init(struct cursor *c, struct slice s)
{
    c->p = s.p;
    c->end = s.p + s.len;
}

static inline bool
cursor_at_end(const struct cursor *c)
{
    return c->p >= c->end;
}

static inline size_t
cursor_left(const struct cursor *c)
{
    return (size_t)(c->end - c->p);
}

/* The next octet as 0..255, or -1 at the end. */
static inline int
cursor_peek(const struct cursor *c)
{
    return c->p < c->end ? (unsigned char)*c->p : -1;
}

/* Consumes ch when it is next; true if it was. */
static inline bool
cursor_take(struct cursor *c, char ch)
{
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* Consumes lit (ASCII case ignored) when it is next; true if it was. */
bool cursor_take_ci(struct cursor *c, const char *lit);

#endif
