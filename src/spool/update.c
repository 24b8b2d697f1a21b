/* SPDX-License-Identifier: MIT */
/*
 * The thread side of changes to queued messages: each change's fields are
 * overwritten in place with pwrite() of exactly their length (one status
 * octet, or the fixed-width schedule value), then the batch is made
 * durable: one fdatasync for a lone file, one syncfs for several (each
 * file's fdatasync if that fails); removals are unlinked and queue/ fsync'd
 * once. Runs on the commit thread, after that wake-up's commits, so that no
 * disk flush ever happens on the loop.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "lib/fault.h"
#include "lib/log.h"
#include "spool/envelope.h"
#include "spool/spool_impl.h"

static void
update_fail(struct spool_update *u, const char *what, int err)
{
    if (u->status == -1)
        return;
    u->status = -1;
    u->status_err = err;
    spool_log_failure(u->id, what, err);
}

static int
update_pwrite(int fd, const void *p, size_t len, off_t off)
{
    ssize_t n;

    if (fault_hit(FAULT_WRITE)) {
        errno = EIO;
        return -1;
    }
    do {
        n = pwrite(fd, p, len, off);
    } while (n == -1 && errno == EINTR);
    if (n >= 0 && (size_t)n != len) {
        errno = EIO; /* a short write of at most 15 octets: the disk is in trouble */
        return -1;
    }
    return n == -1 ? -1 : 0;
}

static void
update_write(struct spool_update *u)
{
    if (u->status != 0)
        return;
    for (size_t i = 0; i < u->n_rcpts; i++) {
        if (update_pwrite(u->fd, &u->rcpt_status[i], 1, (off_t)u->rcpt_off[i]) == -1) {
            update_fail(u, "update: write", errno);
            return;
        }
    }
    if (u->set_schedule &&
        update_pwrite(u->fd, u->schedule, ENVELOPE_SCHED_LEN, (off_t)ENVELOPE_SCHED_OFF) == -1)
        update_fail(u, "update: write", errno);
}

static int
update_datasync(int fd)
{
    if (fault_hit(FAULT_FSYNC)) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

void
spool_update_batch(struct spool *sp, struct spool_update *batch)
{
    struct spool_update *u;
    size_t to_sync = 0, removed = 0;
    bool synced = false;

    for (u = batch; u != NULL; u = u->next) {
        update_write(u);
        to_sync += u->status == 0 && !u->remove;
    }
    /* A file about to be removed needs no sync of its own: the directory's fsync decides. */
    if (to_sync > 1) {
        synced = !fault_hit(FAULT_SYNCFS) && syncfs(sp->queue_fd) == 0;
        if (!synced)
            spool_log_failure(batch->id, "syncfs (each file is synced instead)", errno);
    }
    for (u = batch; u != NULL; u = u->next) {
        if (u->status != 0)
            continue;
        if (u->remove) {
            if (unlinkat(sp->queue_fd, u->id, 0) == -1)
                update_fail(u, "unlink queue/", errno);
            else
                removed++;
        } else if (!synced && update_datasync(u->fd) == -1) {
            update_fail(u, "update: fdatasync", errno);
        }
    }
    if (removed > 0 && (fault_hit(FAULT_FSYNC) || fsync(sp->queue_fd) == -1)) {
        int e = errno;

        /* The files are gone from the name space, but maybe not durably: say so. */
        for (u = batch; u != NULL; u = u->next) {
            if (u->remove && u->status == 0)
                update_fail(u, "fsync queue/", e);
        }
    }
    for (u = batch; u != NULL; u = u->next) {
        if (u->fd != -1)
            (void)close(u->fd);
        u->fd = -1;
    }
}
