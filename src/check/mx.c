/* SPDX-License-Identifier: MIT */
/* --mx and reverse DNS (to be built: issue 6). */
#include <stdlib.h>

#include "check/check.h"
#include "lib/str.h"

int
check_mx_hosts(const char *domain, const struct check_opts *o, struct check_host **hosts,
               size_t *n_hosts, struct check_findings *domain_findings, char *err, size_t errcap)
{
    (void)domain;
    (void)o;
    (void)domain_findings;
    *hosts = NULL;
    *n_hosts = 0;
    (void)str_copyz(err, errcap, "not built yet");
    return -1;
}

int
check_rdns(struct check_host *h, const struct check_opts *o, char *err, size_t errcap)
{
    (void)h;
    (void)o;
    (void)str_copyz(err, errcap, "not built yet");
    return -1;
}
