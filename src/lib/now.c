/* SPDX-License-Identifier: MIT */
/* Monotonic milliseconds: see now.h. */
#include <time.h>

#include "lib/log.h"
#include "lib/now.h"

uint64_t
now_ms(void)
{
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer. */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
        log_panic("clock_gettime(CLOCK_MONOTONIC) failed");
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
