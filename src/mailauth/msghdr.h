/* SPDX-License-Identifier: MIT */
/*
 * The header fields of a message (RFC 5322 2.2): a header section split
 * into fields, each with its name and its raw text (folding kept), in one
 * linear pass; unfolding; names compared without ASCII case. The fields
 * point into the caller's text, which must outlive them.
 */
#ifndef GATE26_MAILAUTH_MSGHDR_H
#define GATE26_MAILAUTH_MSGHDR_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/slice.h"

struct msghdr_field {
    struct slice name;  /* field-name, trailing WSP removed */
    struct slice raw;   /* the whole field: name ":" value with its folding, no final CRLF */
    struct slice value; /* what follows the colon, folding kept, no final CRLF */
};

/* Not "struct msghdr": <sys/socket.h> has one, and a file may need both. */
struct msghdr_section {
    struct msghdr_field *f; /* owned; msghdr_clear() frees it */
    size_t n, cap;
};

/*
 * Splits a header section (the octets before the empty line; lines end in
 * CRLF, a bare LF is taken as a line end too) into fields, top to bottom.
 * At most max_fields fields: more is an error. Returns 0, or -1 with *why a
 * static word ("too-many-fields", "no-colon", "bad-name", "leading-fold").
 * Linear in the size of the section.
 */
int msghdr_parse(struct msghdr_section *h, struct slice section, size_t max_fields,
                 const char **why);
void msghdr_clear(struct msghdr_section *h);

/* True when the field's name is name, ASCII case ignored. */
bool msghdr_name_is(const struct msghdr_field *f, const char *name);

/* The number of fields named name. */
size_t msghdr_count(const struct msghdr_section *h, const char *name);

/*
 * The value unfolded (CRLFs that precede WSP removed, RFC 5322 2.2.3) into
 * out, NUL-terminated. Returns its length, or -1 when it does not fit.
 */
long msghdr_unfold(struct slice value, char *out, size_t cap);

#endif
