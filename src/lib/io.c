/* SPDX-License-Identifier: MIT */
/* Whole writes and reads; see io.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fault.h"
#include "lib/io.h"
#include "lib/str.h"
#include "lib/xalloc.h"

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

int
io_read_file(const char *path, size_t max, char **out, size_t *len, char *err, size_t cap)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd, e;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd == -1) {
        e = errno;
        (void)str_fmt(err, cap, "%s: cannot open: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    if (fstat(fd, &st) == -1) {
        e = errno;
        (void)str_fmt(err, cap, "%s: cannot stat: %s", path, strerror(e));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        e = EINVAL;
        (void)str_fmt(err, cap, "%s: not a regular file", path);
        goto fail;
    }
    if ((uint64_t)st.st_size > max) {
        e = EFBIG;
        (void)str_fmt(err, cap, "%s: larger than %zu octets", path, max);
        goto fail;
    }
    /* One octet more than the size, to see a file that grew meanwhile. */
    buf = xmalloc((size_t)st.st_size + 2);
    for (;;) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            e = errno;
            (void)str_fmt(err, cap, "%s: cannot read: %s", path, strerror(e));
            goto fail;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > (size_t)st.st_size) {
            e = EAGAIN;
            (void)str_fmt(err, cap, "%s: changed while being read", path);
            goto fail;
        }
    }
    (void)close(fd);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
fail:
    free(buf);
    (void)close(fd);
    errno = e;
    return -1;
}
