/* SPDX-License-Identifier: MIT */
/* Slice and cursor helpers: ASCII-only case folding, never locale-dependent. */
#include <string.h>

#include "lib/cursor.h"
#include "lib/slice.h"

static int
ascii_lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch;
}

bool
slice_starts_ci(struct slice s, const char *lit)
{
    size_t n = strlen(lit);

    if (s.len < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (ascii_lower((unsigned char)s.p[i]) != ascii_lower((unsigned char)lit[i]))
            return false;
    }
    return true;
}

bool
slice_eq_ci(struct slice s, const char *lit)
{
    return s.len == strlen(lit) && slice_starts_ci(s, lit);
}

bool
cursor_take_ci(struct cursor *c, const char *lit)
{
    struct slice rest = slice_make(c->p, cursor_left(c));

    if (!slice_starts_ci(rest, lit))
        return false;
    c->p += strlen(lit);
    return true;
}
