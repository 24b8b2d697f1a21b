/* SPDX-License-Identifier: MIT */
/* --local (to be built: issue 6). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "lib/str.h"

int
check_local_scan(const unsigned *ports, size_t n_ports, const char *conf_path,
                 struct check_local *out, char *err, size_t errcap)
{
    (void)ports;
    (void)n_ports;
    (void)conf_path;
    memset(out, 0, sizeof(*out));
    (void)str_copyz(err, errcap, "not built yet");
    return -1;
}

void
check_local_free(struct check_local *l)
{
    for (size_t i = 0; i < l->n; i++)
        check_findings_free(&l->v[i].findings);
    free(l->v);
    free(l->ports_free);
    check_findings_free(&l->findings);
}
