/* SPDX-License-Identifier: MIT */
/* The table and JSON of gate26 check (to be built: issue 6). */
#include "check/check.h"

void
check_print_local(FILE *out, const struct check_local *l, bool colour)
{
    (void)out;
    (void)l;
    (void)colour;
}

void
check_print_hosts(FILE *out, const struct check_host *h, size_t n,
                  const struct check_findings *domain_findings, bool colour)
{
    (void)out;
    (void)h;
    (void)n;
    (void)domain_findings;
    (void)colour;
}

void
check_json_local(FILE *out, const struct check_local *l)
{
    (void)out;
    (void)l;
}

void
check_json_hosts(FILE *out, const struct check_host *h, size_t n,
                 const struct check_findings *domain_findings)
{
    (void)out;
    (void)h;
    (void)n;
    (void)domain_findings;
}
