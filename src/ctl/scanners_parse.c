/* SPDX-License-Identifier: MIT */
/* The request line of `gate26 scanners` (scanners.h). */
#include <string.h>

#include "ctl/scanners.h"
#include "lib/str.h"

int
ctl_scanners_parse(const char *line, size_t len, size_t *top, char *why, size_t whycap)
{
    static const char verb[] = CTL_SCANNERS_VERB;
    size_t n = sizeof(verb) - 1, value = 0;

    if (len < n || memcmp(line, verb, n) != 0 || (len > n && line[n] != ' '))
        return 0;
    *top = CTL_SCANNERS_TOP;
    if (len == n)
        return 1;
    /* " N": 1 to 4 digits, no sign, no leading zero, at most CTL_SCANNERS_TOP_MAX. */
    line += n + 1;
    len -= n + 1;
    if (len == 0 || len > 4 || line[0] == '0') {
        (void)str_fmt(why, whycap, "scanners-json takes a number from 1 to %d",
                      CTL_SCANNERS_TOP_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (line[i] < '0' || line[i] > '9') {
            (void)str_fmt(why, whycap, "scanners-json takes a number from 1 to %d",
                          CTL_SCANNERS_TOP_MAX);
            return -1;
        }
        value = value * 10 + (size_t)(line[i] - '0');
    }
    if (value > CTL_SCANNERS_TOP_MAX) {
        (void)str_fmt(why, whycap, "scanners-json takes a number from 1 to %d",
                      CTL_SCANNERS_TOP_MAX);
        return -1;
    }
    *top = value;
    return 1;
}
