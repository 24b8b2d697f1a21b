/* SPDX-License-Identifier: MIT */
/* Decimal parsing with bounds; see num.h. */
#include "lib/num.h"

int
num_parse_u64(struct slice s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (s.len == 0)
        return -1;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned char)s.p[i] - '0';

        if (d > 9)
            return -1;
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}
