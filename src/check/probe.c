/* SPDX-License-Identifier: MIT */
/* One remote port, probed (to be built: issue 6). */
#include <stdlib.h>

#include "check/check.h"
#include "lib/str.h"

const char *
check_port_state_name(enum check_port_state s)
{
    switch (s) {
    case CHECK_PORT_OPEN:
        return "open";
    case CHECK_PORT_CLOSED:
        return "closed";
    case CHECK_PORT_FILTERED:
        return "filtered";
    case CHECK_PORT_ERROR:
        return "error";
    }
    return "?";
}

int
check_probe_hosts(struct check_host *hosts, size_t n_hosts, const struct check_opts *o, char *err,
                  size_t errcap)
{
    (void)hosts;
    (void)n_hosts;
    (void)o;
    (void)str_copyz(err, errcap, "not built yet");
    return -1;
}

void
check_host_free(struct check_host *h)
{
    for (size_t i = 0; i < h->n_ports; i++)
        check_findings_free(&h->ports[i].findings);
    free(h->ports);
    check_findings_free(&h->findings);
}
