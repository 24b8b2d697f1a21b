/* SPDX-License-Identifier: MIT */
/*
 * Queue ids; see id.h. The generator is one atomic counter for the whole
 * process: next = max(last + 1, microseconds since the epoch << 8). The 8
 * low bits leave room for 256 ids per microsecond before the ids run ahead
 * of the clock, and 2^64 microseconds << 8 lasts until the year 4250.
 */
#include <stdatomic.h>
#include <time.h>

#include "spool/id.h"

static _Atomic uint64_t id_last;

static uint64_t
id_clock(void)
{
    struct timespec now;

    (void)clock_gettime(CLOCK_REALTIME, &now);
    return ((uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u) << 8;
}

void
spool_id_next(char out[SPOOL_ID_LEN + 1])
{
    static const char hex[] = "0123456789ABCDEF";
    uint64_t clock = id_clock();
    uint64_t last = atomic_load(&id_last);
    uint64_t next;

    do {
        next = clock > last ? clock : last + 1;
    } while (!atomic_compare_exchange_weak(&id_last, &last, next));

    for (int i = SPOOL_ID_LEN - 1; i >= 0; i--) {
        out[i] = hex[next & 15u];
        next >>= 4;
    }
    out[SPOOL_ID_LEN] = '\0';
}

void
spool_id_seed(uint64_t v)
{
    uint64_t last = atomic_load(&id_last);

    while (last < v && !atomic_compare_exchange_weak(&id_last, &last, v))
        ;
}

bool
spool_id_is_valid(const char *s, size_t len)
{
    if (len != SPOOL_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    }
    return true;
}

uint64_t
spool_id_value(const char *s)
{
    uint64_t v = 0;

    for (size_t i = 0; i < SPOOL_ID_LEN; i++)
        v = v << 4 | (uint64_t)(s[i] <= '9' ? s[i] - '0' : s[i] - 'A' + 10);
    return v;
}
