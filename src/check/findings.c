/* SPDX-License-Identifier: MIT */
/* Findings and their levels (check.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "lib/str.h"
#include "lib/xalloc.h"

const char *
check_level_name(enum check_level l)
{
    switch (l) {
    case CHECK_OK:
        return "ok";
    case CHECK_INFO:
        return "info";
    case CHECK_WARN:
        return "warn";
    case CHECK_CRIT:
        return "critical";
    }
    return "?";
}

void
check_add(struct check_findings *f, const char *id, enum check_level level, const char *fmt, ...)
{
    struct check_finding *x;
    va_list ap;

    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
    }
    x = &f->v[f->n++];
    memset(x, 0, sizeof(*x));
    (void)str_copyz(x->id, sizeof(x->id), id);
    x->level = level;
    va_start(ap, fmt);
    (void)vsnprintf(x->text, sizeof(x->text), fmt, ap);
    va_end(ap);
    /* Texts may quote what a peer said: printable ASCII only. */
    for (char *p = x->text; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    }
}

void
check_findings_free(struct check_findings *f)
{
    free(f->v);
    memset(f, 0, sizeof(*f));
}

enum check_level
check_worst(const struct check_findings *f)
{
    enum check_level w = CHECK_OK;

    for (size_t i = 0; i < f->n; i++) {
        if (f->v[i].level > w)
            w = f->v[i].level;
    }
    return w;
}
