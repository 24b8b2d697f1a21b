/* SPDX-License-Identifier: MIT */
/*
 * A driver for tests/e2e/test_firewall.py: prints what firewall_installed()
 * answers on this host (run inside the test's network namespace): "1 HEX",
 * "0", or "-1 REASON"; exits 0, or 1 on -1.
 */
#include <stdio.h>

#include "firewall/firewall.h"

int
main(void)
{
    char hex[65], err[1024];
    int rc = firewall_installed(hex, sizeof hex, err, sizeof err);

    if (rc == 1)
        printf("1 %s\n", hex);
    else if (rc == 0)
        printf("0\n");
    else
        printf("-1 %s\n", err);
    return rc == -1 ? 1 : 0;
}
