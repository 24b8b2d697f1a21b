/* SPDX-License-Identifier: MIT */
/*
 * The tmp file writer: spool_msg_new() picks a queue id and puts the
 * envelope records in the message's write buffer; spool_msg_write()
 * appends content. The file tmp/ID is created only when the buffer first
 * fills: a message that fits in CAP_SPOOL_WRITE_BUF (most do) reaches the
 * disk only on the commit thread, which creates, writes, syncs and renames
 * it, so the event loop never waits for a directory lock or an inode
 * allocation. spool_msg_abort() removes what was created. Durability is
 * commit.c's job.
 *
 * Every write is a full write (short writes and EINTR are continued), and
 * the first error is sticky: the message can then only be aborted, and a
 * commit of it reports failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/caps.h"
#include "lib/fault.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "spool/envelope.h"
#include "spool/id.h"
#include "spool/spool_impl.h"

void
spool_log_failure(const char *id, const char *what, int err)
{
    char reason[256];

    log_warning("%s: status=deferred, reason=\"%s: %s\"", id, what,
                strerror_r(err, reason, sizeof(reason)));
}

/*
 * Creates tmp/ID. The id was chosen at spool_msg_new and is already in the
 * Received header, so it cannot change: an existing name (ids are seeded
 * past every name in the spool at open, so only another writer could have
 * made it) fails the message.
 */
static int
writer_create(struct spool_msg *m)
{
    if (fault_hit(FAULT_OPEN))
        return -1;
    /* Read and write: spool_msg_pread() and spool_msg_splice() (edit.c) read it back. */
    m->fd = openat(m->sp->tmp_fd, m->id, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (m->fd == -1)
        return -1;
    m->created = true;
    return 0;
}

int
spool_msg_flush(struct spool_msg *m)
{
    if (m->err != 0) {
        errno = m->err;
        return -1;
    }
    if (m->used == 0)
        return 0;
    if (m->fd == -1 && writer_create(m) == -1) {
        m->err = errno;
        spool_log_failure(m->id, "open tmp/", m->err);
        errno = m->err;
        return -1;
    }
    if (io_write_full(m->fd, m->buf, m->used) == -1) {
        m->err = errno;
        spool_log_failure(m->id, "write", m->err);
        errno = m->err;
        return -1;
    }
    m->used = 0;
    return 0;
}

int
spool_msg_put(struct spool_msg *m, const char *p, size_t len)
{
    if (m->err != 0) {
        errno = m->err;
        return -1;
    }
    while (len > 0) {
        size_t take = CAP_SPOOL_WRITE_BUF - m->used;

        if (take > len)
            take = len;
        memcpy(m->buf + m->used, p, take);
        m->used += take;
        p += take;
        len -= take;
        if (m->used == CAP_SPOOL_WRITE_BUF && spool_msg_flush(m) == -1)
            return -1;
    }
    return 0;
}

void
spool_msg_release(struct spool_msg *m)
{
    free(m->qrec);
    free(m->buf);
    free(m);
}

void
spool_msg_remove(struct spool_msg *m)
{
    int e = errno;

    if (m->fd != -1)
        (void)close(m->fd);
    m->fd = -1;
    /* If this fails the file stays until spool_open() cleans tmp/ at the next start. */
    if (m->created && unlinkat(m->sp->tmp_fd, m->id, 0) == -1 && errno != ENOENT)
        spool_log_failure(m->id, "unlink tmp/", errno);
    m->created = false;
    errno = e;
}

int
spool_msg_new(struct spool *sp, const struct spool_envelope *env, struct spool_msg **out)
{
    struct spool_msg *m = xcalloc(1, sizeof(*m));
    const char *why;
    char *records;
    size_t len;
    int e;

    m->sp = sp;
    m->fd = -1;
    spool_id_next(m->id);
    records = envelope_encode(m->id, env, &len, &why);
    if (records == NULL) {
        log_warning("%s: status=deferred, reason=\"envelope: %s\"", m->id, why);
        spool_msg_release(m);
        errno = EINVAL;
        return -1;
    }
    m->buf = xmalloc(CAP_SPOOL_WRITE_BUF);
    if (spool_msg_put(m, records, len) == -1) {
        e = errno;
        free(records);
        spool_msg_remove(m);
        spool_msg_release(m);
        errno = e;
        return -1;
    }
    free(records);
    m->env_len = len;
    m->held = env->hold != NULL && env->hold[0] != '\0';
    *out = m;
    return 0;
}

const char *
spool_msg_id(const struct spool_msg *m)
{
    return m->id;
}

int
spool_msg_write(struct spool_msg *m, const void *p, size_t len)
{
    if (spool_msg_put(m, p, len) == -1)
        return -1;
    m->size += len;
    return 0;
}

uint64_t
spool_msg_size(const struct spool_msg *m)
{
    return m->size;
}

void
spool_msg_abort(struct spool_msg *m)
{
    if (m == NULL)
        return;
    spool_msg_remove(m);
    spool_msg_release(m);
}
