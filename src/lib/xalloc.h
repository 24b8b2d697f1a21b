/* SPDX-License-Identifier: MIT */
/*
 * Allocation that aborts instead of failing: the daemon cannot answer a peer
 * sensibly without memory, and a checked NULL at every call hides real bugs.
 * Debug builds can fail the Nth allocation (lib/fault.h) to test the callers
 * that use the plain, failing forms.
 */
#ifndef GATE26_LIB_XALLOC_H
#define GATE26_LIB_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
