/* SPDX-License-Identifier: MIT */
/*
 * Editing a message before its commit (docs/spool.md, "Editing a message
 * before the commit"): the content checks read the message back
 * (spool_msg_pread) and replace its head, the header section or the whole
 * content (spool_msg_splice), so that the file in queue/ is the message
 * delivered: signed, with its Authentication-Results, with the milters'
 * changes.
 *
 * What has been written is one stream: the envelope records, then the
 * content. Its first octets are in tmp/ID (none while the file does not
 * exist), the last m->used octets in the write buffer. A splice of a
 * message that is all in the buffer moves it in memory; one of a message
 * with a file writes tmp/ID.p (the envelope, the new octets, the rest of
 * the file copied in the kernel) and renames it over tmp/ID, leaving what
 * is in the buffer where it is. A crash in between leaves only tmp/ files,
 * which spool_open() removes like any unfinished one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/caps.h"
#include "lib/fault.h"
#include "lib/io.h"
#include "lib/xalloc.h"
#include "spool/spool_impl.h"

/* Octets of the stream (envelope and content) in tmp/ID: all but those in the buffer. */
static uint64_t
stream_in_file(const struct spool_msg *m)
{
    return m->env_len + m->size - m->used;
}

/* Reads exactly len octets at off. */
static int
pread_full(int fd, void *p, size_t len, off_t off)
{
    char *c = p;

    while (len > 0) {
        ssize_t n = pread(fd, c, len, off);

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO; /* the file is shorter than what was written to it */
            return -1;
        }
        c += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

/* Reads len octets of the stream at off (off + len within it): the file's part, the buffer's. */
static int
stream_read(const struct spool_msg *m, uint64_t off, char *p, size_t len)
{
    uint64_t in_file = stream_in_file(m);

    if (off < in_file) {
        size_t k = in_file - off < len ? (size_t)(in_file - off) : len;

        if (pread_full(m->fd, p, k, (off_t)off) == -1)
            return -1;
        p += k;
        off += k;
        len -= k;
    }
    if (len > 0)
        memcpy(p, m->buf + (off - in_file), len);
    return 0;
}

ssize_t
spool_msg_pread(struct spool_msg *m, uint64_t off, void *buf, size_t cap)
{
    size_t n;

    if (m->err != 0) {
        errno = m->err;
        return -1;
    }
    if (off >= m->size)
        return 0;
    n = m->size - off < cap ? (size_t)(m->size - off) : cap;
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    if (stream_read(m, m->env_len + off, buf, n) == -1)
        return -1;
    return (ssize_t)n;
}

/* Copies len octets of in from offset off to the end of out (copy_file_range, then read/write). */
static int
copy_range(int in, off_t off, int out, uint64_t len)
{
    char buf[16384];

    while (len > 0) {
        size_t want = len > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)len;
        ssize_t n = copy_file_range(in, &off, out, NULL, want, 0);

        if (n == -1 &&
            (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
            /* Not in this kernel or file system: the plain way. */
            n = pread(in, buf, len < sizeof buf ? (size_t)len : sizeof buf, off);
            if (n > 0 && io_write_full(out, buf, (size_t)n) == -1)
                return -1;
            if (n > 0)
                off += n;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return -1;
        if (n == 0) {
            errno = EIO; /* the file is shorter than what was written to it */
            return -1;
        }
        len -= (uint64_t)n;
    }
    return 0;
}

/*
 * The message is all in the buffer: [records][old][rest] becomes [records][iov][rest], in
 * place while it fits, else put through the buffer again, which writes tmp/ID as it fills.
 */
static int
splice_in_buffer(struct spool_msg *m, size_t old_len, const struct iovec *iov, int n, size_t add)
{
    size_t rest = m->used - m->env_len - old_len;
    char *copy;
    int r = 0;

    if (add <= CAP_SPOOL_WRITE_BUF && m->env_len + add + rest <= CAP_SPOOL_WRITE_BUF) {
        char *at = m->buf + m->env_len;

        memmove(at + add, at + old_len, rest);
        for (int i = 0; i < n; i++) {
            if (iov[i].iov_len > 0)
                memcpy(at, iov[i].iov_base, iov[i].iov_len);
            at += iov[i].iov_len;
        }
        m->used = m->env_len + add + rest;
        return 0;
    }
    copy = xmalloc(m->used);
    memcpy(copy, m->buf, m->used);
    m->used = 0;
    r = spool_msg_put(m, copy, m->env_len);
    for (int i = 0; i < n && r == 0; i++)
        r = spool_msg_put(m, iov[i].iov_base, iov[i].iov_len);
    if (r == 0)
        r = spool_msg_put(m, copy + m->env_len + old_len, rest);
    free(copy);
    return r;
}

/*
 * The message has a file: tmp/ID.p gets the envelope (read back), iov, and the rest of the
 * file after the replaced octets; it replaces tmp/ID. When the replaced octets reach into the
 * buffer, the buffer loses them; the rest of it stays there.
 */
static int
splice_in_file(struct spool_msg *m, uint64_t old_len, const struct iovec *iov, int n)
{
    uint64_t in_file = stream_in_file(m), cut = m->env_len + old_len;
    char name[SPOOL_ID_LEN + 3], *env = xmalloc(m->env_len);
    int fd = -1, e;

    (void)snprintf(name, sizeof name, "%s.p", m->id);
    if (stream_read(m, 0, env, m->env_len) == -1)
        goto fail;
    if (fault_hit(FAULT_OPEN))
        goto fail;
    fd = openat(m->sp->tmp_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd == -1 || io_write_full(fd, env, m->env_len) == -1)
        goto fail;
    for (int i = 0; i < n; i++) {
        if (io_write_full(fd, iov[i].iov_base, iov[i].iov_len) == -1)
            goto fail;
    }
    if (cut < in_file && copy_range(m->fd, (off_t)cut, fd, in_file - cut) == -1)
        goto fail;
    if (fault_hit(FAULT_RENAME) || renameat(m->sp->tmp_fd, name, m->sp->tmp_fd, m->id) == -1)
        goto fail;
    free(env);
    (void)close(m->fd);
    m->fd = fd;
    if (cut > in_file) {
        size_t drop = (size_t)(cut - in_file);

        memmove(m->buf, m->buf + drop, m->used - drop);
        m->used -= drop;
    }
    return 0;
fail:
    e = errno;
    if (fd != -1) {
        (void)close(fd);
        (void)unlinkat(m->sp->tmp_fd, name, 0);
    }
    free(env);
    errno = e;
    return -1;
}

int
spool_msg_splice(struct spool_msg *m, uint64_t old_len, const struct iovec *iov, int n)
{
    size_t add = 0;
    int r;

    if (m->err != 0) {
        errno = m->err;
        return -1;
    }
    if (n < 0 || old_len > m->size) {
        errno = EINVAL;
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (iov[i].iov_len > SIZE_MAX - add) {
            errno = EINVAL;
            return -1;
        }
        add += iov[i].iov_len;
    }
    if (old_len == 0 && add == 0)
        return 0;
    if (m->fd == -1) {
        /* All in the buffer: old_len <= size < CAP_SPOOL_WRITE_BUF. */
        r = splice_in_buffer(m, (size_t)old_len, iov, n, add);
    } else {
        r = splice_in_file(m, old_len, iov, n);
        if (r == -1) {
            m->err = errno;
            spool_log_failure(m->id, "rewrite tmp/", m->err);
        }
    }
    if (r == -1)
        return -1;
    m->size = m->size - old_len + add;
    return 0;
}

int
spool_msg_prepend(struct spool_msg *m, const void *p, size_t len)
{
    struct iovec iov = {(void *)(uintptr_t)p, len};

    return spool_msg_splice(m, 0, &iov, 1);
}
