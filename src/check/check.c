/* SPDX-License-Identifier: MIT */
/* gate26 check: the command line (to be built: issue 6). */
#include <stdio.h>

#include "check/check.h"

int
check_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "gate26 check: not built yet\n");
    return 3;
}
