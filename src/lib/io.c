/* SPDX-License-Identifier: MIT */
/* Whole writes; see io.h. */
#include <errno.h>
#include <unistd.h>

#include "lib/fault.h"
#include "lib/io.h"

int
io_write_full(int fd, const void *p, size_t len)
{
    const char *c = p;

    while (len > 0) {
        ssize_t n;

        if (fault_hit(FAULT_WRITE))
            return -1;
        n = write(fd, c, len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return -1;
        c += n;
        len -= (size_t)n;
    }
    return 0;
}
