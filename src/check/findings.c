/* SPDX-License-Identifier: MIT */
/* Findings, their levels, and the exit status they make (check.h). */
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
check_fix(struct check_findings *f, const char *fmt, ...)
{
    struct check_finding *x;
    va_list ap;

    if (f->n == 0)
        return;
    x = &f->v[f->n - 1];
    va_start(ap, fmt);
    (void)vsnprintf(x->fix, sizeof(x->fix), fmt, ap);
    va_end(ap);
    for (char *p = x->fix; *p != '\0'; p++) {
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

int
check_exit_status(enum check_level worst)
{
    switch (worst) {
    case CHECK_OK:
    case CHECK_INFO:
        return CHECK_EXIT_OK;
    case CHECK_WARN:
        return CHECK_EXIT_WARN;
    case CHECK_CRIT:
        return CHECK_EXIT_CRIT;
    }
    /* Not a level: say the worst rather than all clear. */
    return CHECK_EXIT_CRIT;
}

static enum check_level
max_level(enum check_level a, enum check_level b)
{
    return a > b ? a : b;
}

enum check_level
check_local_worst(const struct check_local *l)
{
    enum check_level w = check_worst(&l->findings);

    for (size_t i = 0; i < l->n; i++)
        w = max_level(w, check_worst(&l->v[i].findings));
    return w;
}

enum check_level
check_hosts_worst(const struct check_host *h, size_t n,
                  const struct check_findings *domain_findings)
{
    enum check_level w = domain_findings != NULL ? check_worst(domain_findings) : CHECK_OK;

    for (size_t i = 0; i < n; i++) {
        w = max_level(w, check_worst(&h[i].findings));
        for (size_t j = 0; j < h[i].n_ports; j++)
            w = max_level(w, check_worst(&h[i].ports[j].findings));
    }
    return w;
}
