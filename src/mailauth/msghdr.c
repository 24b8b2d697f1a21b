/* SPDX-License-Identifier: MIT */
/*
 * Header fields of a message (RFC 5322 2.2): one pass over the header
 * section finds each field's start, its colon and its end (a line that
 * starts with WSP continues the field above, 2.2.3). The array grows by
 * doubling up to the caller's cap, so a message with thousands of fields
 * costs linear time.
 */
#include "mailauth/msghdr.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

static bool
is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* The end of the line that starts at p (at its CR or LF), and *next after it. */
static const char *
line_end(const char *p, const char *end, const char **next)
{
    const char *lf = memchr(p, '\n', (size_t)(end - p));

    if (lf == NULL) {
        *next = end;
        return end;
    }
    *next = lf + 1;
    return lf > p && lf[-1] == '\r' ? lf - 1 : lf;
}

/* field-name = 1*ftext; ftext = %d33-57 / %d59-126   RFC 5322 3.6.8 */
static bool
name_ok(struct slice n)
{
    if (n.len == 0)
        return false;
    for (size_t i = 0; i < n.len; i++) {
        unsigned char c = (unsigned char)n.p[i];

        if (c < 33 || c > 126 || c == ':')
            return false;
    }
    return true;
}

static int
push(struct msghdr_section *h, size_t max_fields, const char *start, const char *colon,
     const char *end, const char **why)
{
    struct msghdr_field *f;
    const char *ne = colon;

    if (h->n >= max_fields) {
        *why = "too-many-fields";
        return -1;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;

        if (cap > max_fields)
            cap = max_fields;
        h->f = xrealloc(h->f, cap * sizeof *h->f);
        h->cap = cap;
    }
    while (ne > start && is_wsp(ne[-1]))
        ne--;
    f = &h->f[h->n];
    f->name = slice_make(start, (size_t)(ne - start));
    if (!name_ok(f->name)) {
        *why = "bad-name";
        return -1;
    }
    f->raw = slice_make(start, (size_t)(end - start));
    f->value = slice_make(colon + 1, (size_t)(end - colon - 1));
    h->n++;
    return 0;
}

int
msghdr_parse(struct msghdr_section *h, struct slice section, size_t max_fields, const char **why)
{
    const char *p = section.p, *end = section.p + section.len;
    const char *start = NULL, *colon = NULL, *fend = NULL;

    h->n = 0;
    while (p < end) {
        const char *next, *le = line_end(p, end, &next);

        if (is_wsp(*p)) {
            if (start == NULL) {
                *why = "leading-fold";
                return -1;
            }
            fend = le;
        } else {
            if (start != NULL && push(h, max_fields, start, colon, fend, why) == -1)
                return -1;
            colon = memchr(p, ':', (size_t)(le - p));
            if (colon == NULL) {
                *why = "no-colon";
                return -1;
            }
            start = p;
            fend = le;
        }
        p = next;
    }
    if (start != NULL && push(h, max_fields, start, colon, fend, why) == -1)
        return -1;
    return 0;
}

void
msghdr_clear(struct msghdr_section *h)
{
    free(h->f);
    h->f = NULL;
    h->n = h->cap = 0;
}

bool
msghdr_name_is(const struct msghdr_field *f, const char *name)
{
    return slice_eq_ci(f->name, name);
}

size_t
msghdr_count(const struct msghdr_section *h, const char *name)
{
    size_t k = 0;

    for (size_t i = 0; i < h->n; i++)
        k += msghdr_name_is(&h->f[i], name);
    return k;
}

long
msghdr_unfold(struct slice value, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < value.len; i++) {
        char c = value.p[i];

        if (c == '\r' || c == '\n')
            continue;
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    if (cap == 0)
        return -1;
    out[o] = '\0';
    return (long)o;
}
