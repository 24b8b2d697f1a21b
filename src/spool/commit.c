/* SPDX-License-Identifier: MIT */
/*
 * Group commit: spool_msg_commit() queues the message for the one commit
 * thread, which does all its remaining file work. The thread takes
 * everything queued when it wakes (a batch), writes out each buffer
 * (creating tmp/ID if the message was small enough never to need it
 * before), makes the files durable (one syncfs for a batch, or the fsync of
 * a lone file), renames each from tmp/ to queue/ (RENAME_NOREPLACE), fsyncs
 * queue/ once for the whole batch, closes the files, and hands the batch
 * back: it
 * appends it to the done list and writes to an eventfd, whose event on the
 * loop calls each callback in commit order. docs/spool.md has the argument
 * for why status 0 means "on stable storage".
 *
 * Failure: a failed fsync or rename fails that message only and removes its
 * tmp file; a failed fsync of queue/ fails every message the batch renamed
 * and removes them from queue/, since their clients will be told 452 and
 * send them again.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/fault.h"
#include "lib/log.h"
#include "lib/str.h"
#include "spool/spool_impl.h"
#include "watch/metrics.h"

/* CLOCK_MONOTONIC in nanoseconds. */
static uint64_t
commit_clock_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
commit_fsync(int fd)
{
    if (fault_hit(FAULT_FSYNC))
        return -1;
    return fsync(fd);
}

static void
commit_fail(struct spool_msg *m, const char *what, int err)
{
    m->status = -1;
    m->status_err = err;
    spool_log_failure(m->id, what, err);
}

/* Removes dir/ID of a failed message. */
static void
commit_unlink(int dir_fd, const char *dir, const struct spool_msg *m)
{
    char what[32];

    if (unlinkat(dir_fd, m->id, 0) == -1) {
        (void)str_fmt(what, sizeof(what), "unlink %s", dir);
        spool_log_failure(m->id, what, errno);
    }
}

/*
 * Puts the content and the inode of every file of the batch on stable
 * storage. One syncfs(2) does it for the whole batch with one device flush,
 * where an fsync per file would flush once per message; since Linux 5.8 it
 * reports every writeback error of the file system since its last call, and
 * after an error each file is fsync'd on its own to find the ones that
 * failed. A batch of one needs only its own fsync. (syncfs also writes out
 * other dirty data of the file system: docs/spool.md advises a spool file
 * system of its own where that matters.)
 */
static void
commit_sync_files(struct spool *sp, struct spool_msg *batch)
{
    struct spool_msg *m;
    size_t n = 0;

    for (m = batch; m != NULL; m = m->next)
        n += m->status == 0;
    if (n > 1) {
        if (!fault_hit(FAULT_SYNCFS) && syncfs(sp->tmp_fd) == 0)
            return;
        spool_log_failure(batch->id, "syncfs (each file is fsync'd instead)", errno);
    }
    for (m = batch; m != NULL; m = m->next) {
        if (m->status == 0 && commit_fsync(m->fd) == -1) {
            commit_fail(m, "fsync", errno);
            commit_unlink(sp->tmp_fd, "tmp/", m);
        }
    }
}

/*
 * Appends a quarantined message's record after its content (docs/spool.md,
 * "The quarantine"), at the file's end as it is now. Returns 0, or -1 with
 * errno.
 */
static int
commit_append_qrec(struct spool_msg *m)
{
    struct stat st;
    size_t done = 0;

    if (m->fd == -1 || fstat(m->fd, &st) == -1) {
        if (m->fd == -1)
            errno = EBADF;
        spool_log_failure(m->id, "quarantine record", errno);
        return -1;
    }
    while (done < m->qrec_len) {
        ssize_t n;

        if (fault_hit(FAULT_WRITE)) {
            errno = EIO;
            n = -1;
        } else {
            n = pwrite(m->fd, m->qrec + done, m->qrec_len - done, st.st_size + (off_t)done);
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            spool_log_failure(m->id, "write quarantine record", errno);
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

static void
commit_batch(struct spool *sp, struct spool_msg *batch)
{
    struct spool_msg *m;
    size_t renamed = 0, renamed_q = 0;
    int e;

    batch->batch_first = true;
    batch->batch_size = 0;
    /* What is still in the buffers: for most messages, the whole file. */
    for (m = batch; m != NULL; m = m->next) {
        batch->batch_size++;
        if (m->status == 0 &&
            (spool_msg_flush(m) == -1 || (m->quarantine && commit_append_qrec(m) == -1))) {
            m->status = -1;
            m->status_err = errno;
            spool_msg_remove(m);
        }
        free(m->buf);
        m->buf = NULL;
    }
    commit_sync_files(sp, batch);
    /* Then the names. NOREPLACE: an id in queue/ (or quarantine/) is never taken over. */
    for (m = batch; m != NULL; m = m->next) {
        if (m->status != 0)
            continue;
        if (fault_hit(FAULT_RENAME) ||
            renameat2(sp->tmp_fd, m->id, m->quarantine ? sp->quarantine_fd : sp->queue_fd, m->id,
                      RENAME_NOREPLACE) == -1) {
            commit_fail(m, "rename", errno);
            commit_unlink(sp->tmp_fd, "tmp/", m);
            continue;
        }
        m->in_queue = true;
        if (m->quarantine)
            renamed_q++;
        else
            renamed++;
    }
    /* One directory fsync makes every rename of the batch durable (one per directory). */
    for (int q = 0; q < 2; q++) {
        int dir_fd = q ? sp->quarantine_fd : sp->queue_fd;
        const char *dir = q ? "quarantine/" : "queue/";

        if ((q ? renamed_q : renamed) == 0)
            continue;
        batch->dir_syncs++;
        if (commit_fsync(dir_fd) == -1) {
            char what[32];

            e = errno;
            (void)str_fmt(what, sizeof(what), "fsync %s", dir);
            for (m = batch; m != NULL; m = m->next) {
                if (!m->in_queue || m->quarantine != (q == 1))
                    continue;
                m->in_queue = false;
                commit_fail(m, what, e);
                commit_unlink(dir_fd, dir, m);
            }
            /*
             * Try to make the removals durable too: a message that came back
             * after a crash would be delivered although its client was told
             * 452 and sent it again.
             */
            batch->dir_syncs++;
            (void)commit_fsync(dir_fd);
        }
    }
    for (m = batch; m != NULL; m = m->next) {
        /* After fsync a close error cannot lose data; there is nothing to add. */
        if (m->fd != -1)
            (void)close(m->fd);
        m->fd = -1;
    }
}

/* Appends the batch, the changes and the quarantine's jobs to the done lists and wakes the loop. */
static void
commit_report(struct spool *sp, struct spool_msg *batch, struct spool_update *changes,
              struct spool_qjob *qjobs)
{
    uint64_t one = 1;

    pthread_mutex_lock(&sp->lock);
    if (qjobs != NULL) {
        struct spool_qjob *last = qjobs;

        while (last->next != NULL)
            last = last->next;
        *sp->qdone_tail = qjobs;
        sp->qdone_tail = &last->next;
    }
    if (batch != NULL) {
        struct spool_msg *last = batch;

        while (last->next != NULL)
            last = last->next;
        *sp->done_tail = batch;
        sp->done_tail = &last->next;
    }
    if (changes != NULL) {
        struct spool_update *last = changes;

        while (last->next != NULL)
            last = last->next;
        *sp->udone_tail = changes;
        sp->udone_tail = &last->next;
    }
    pthread_mutex_unlock(&sp->lock);
    /* Only an overflow of the counter (2^64 - 2 unread wakes) could make this fail. */
    while (write(sp->event_fd, &one, sizeof(one)) == -1) {
        if (errno != EINTR)
            log_panic("-: spool=%s, event=eventfd-write, reason=\"%s\"", sp->dir, strerror(errno));
    }
}

static void *
commit_thread(void *arg)
{
    struct spool *sp = arg;
    struct spool_msg *batch;
    struct spool_update *changes;
    struct spool_qjob *qjobs;

    pthread_mutex_lock(&sp->lock);
    for (;;) {
        while (!sp->stopping &&
               ((sp->todo == NULL && sp->utodo == NULL && sp->qtodo == NULL) || sp->held))
            pthread_cond_wait(&sp->wake, &sp->lock);
        /* Stopping: leave only once everything handed over is done. */
        if (sp->todo == NULL && sp->utodo == NULL && sp->qtodo == NULL)
            break;
        batch = sp->todo;
        sp->todo = NULL;
        sp->todo_tail = &sp->todo;
        changes = sp->utodo;
        sp->utodo = NULL;
        sp->utodo_tail = &sp->utodo;
        qjobs = sp->qtodo;
        sp->qtodo = NULL;
        sp->qtodo_tail = &sp->qtodo;
        pthread_mutex_unlock(&sp->lock);
        if (batch != NULL)
            commit_batch(sp, batch);
        if (changes != NULL)
            spool_update_batch(sp, changes);
        if (qjobs != NULL)
            spool_qjob_run(sp, qjobs);
        commit_report(sp, batch, changes, qjobs);
        pthread_mutex_lock(&sp->lock);
    }
    pthread_mutex_unlock(&sp->lock);
    return NULL;
}

static struct spool_msg *
commit_take_done(struct spool *sp, struct spool_update **changes, struct spool_qjob **qjobs)
{
    struct spool_msg *list;

    pthread_mutex_lock(&sp->lock);
    *qjobs = sp->qdone;
    sp->qdone = NULL;
    sp->qdone_tail = &sp->qdone;
    list = sp->done;
    sp->done = NULL;
    sp->done_tail = &sp->done;
    *changes = sp->udone;
    sp->udone = NULL;
    sp->udone_tail = &sp->udone;
    pthread_mutex_unlock(&sp->lock);
    return list;
}

/* Counts and calls back each message of list, in order, and frees it. */
static void
commit_deliver(struct spool *sp, struct spool_msg *list)
{
    uint64_t now = list != NULL ? commit_clock_ns() : 0;

    while (list != NULL) {
        struct spool_msg *m = list;

        list = m->next;
        sp->counters.batches += m->batch_first;
        if (m->batch_first)
            metrics_commit_batch(m->batch_size);
        metrics_commit_latency((double)(now - m->commit_ns) / 1e9);
        sp->counters.dir_fsyncs += m->dir_syncs;
        if (m->status == 0)
            sp->counters.committed++;
        else
            sp->counters.failed++;
        if (m->status == 0 && m->quarantine) {
            sp->q_committed++;
            sp->quarantined++;
        }
        m->fn(m->arg, m->id, m->status, m->status_err);
        /*
         * The scheduler hears of the message after the session has sent its 250;
         * of a quarantined one never (until it is released).
         */
        if (m->status == 0 && !m->quarantine && sp->hook != NULL)
            sp->hook(sp->hook_arg, m->id, m->held);
        spool_msg_release(m);
    }
}

static void
commit_deliver_all(struct spool *sp)
{
    struct spool_update *changes;
    struct spool_qjob *qjobs;
    struct spool_msg *list = commit_take_done(sp, &changes, &qjobs);

    commit_deliver(sp, list);
    spool_update_deliver(sp, changes);
    spool_qjob_deliver(sp, qjobs);
}

static void
commit_done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct spool *sp = arg;
    uint64_t wakes;

    (void)what;
    /* Resets the counter. EAGAIN: an earlier wake already took the list. */
    if (read(fd, &wakes, sizeof(wakes)) == -1 && errno != EAGAIN && errno != EINTR)
        log_panic("-: spool=%s, event=eventfd-read, reason=\"%s\"", sp->dir, strerror(errno));
    commit_deliver_all(sp);
}

void
spool_msg_commit(struct spool_msg *m, spool_commit_fn *fn, void *arg)
{
    struct spool *sp = m->sp;

    m->fn = fn;
    m->arg = arg;
    m->next = NULL;
    m->status = 0;
    m->commit_ns = commit_clock_ns();
    /* The file (if it exists yet), the rest of the buffer and its writing
     * are the thread's from here: the loop does no file I/O for it. */
    pthread_mutex_lock(&sp->lock);
    *sp->todo_tail = m;
    sp->todo_tail = &m->next;
    pthread_cond_signal(&sp->wake);
    pthread_mutex_unlock(&sp->lock);
}

int
spool_commit_start(struct spool *sp, char *err, size_t errcap)
{
    sigset_t all, old;
    int rc;

    sp->todo = NULL;
    sp->todo_tail = &sp->todo;
    sp->done = NULL;
    sp->done_tail = &sp->done;
    sp->utodo = NULL;
    sp->utodo_tail = &sp->utodo;
    sp->udone = NULL;
    sp->udone_tail = &sp->udone;
    sp->qtodo = NULL;
    sp->qtodo_tail = &sp->qtodo;
    sp->qdone = NULL;
    sp->qdone_tail = &sp->qdone;
    sp->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sp->event_fd == -1) {
        (void)str_fmt(err, errcap, "%s: eventfd: %s", sp->dir, strerror(errno));
        return -1;
    }
    sp->done_ev = event_new(sp->base, sp->event_fd, EV_READ | EV_PERSIST, commit_done_cb, sp);
    if (sp->done_ev == NULL || event_add(sp->done_ev, NULL) == -1) {
        (void)str_fmt(err, errcap, "%s: cannot add the commit event to the loop", sp->dir);
        goto fail;
    }
    pthread_mutex_init(&sp->lock, NULL);
    pthread_cond_init(&sp->wake, NULL);
    /* Signals are for the loop thread: the commit thread blocks them all. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&sp->thread, NULL, commit_thread, sp);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        (void)str_fmt(err, errcap, "%s: commit thread: %s", sp->dir, strerror(rc));
        pthread_cond_destroy(&sp->wake);
        pthread_mutex_destroy(&sp->lock);
        goto fail;
    }
    return 0;
fail:
    if (sp->done_ev != NULL)
        event_free(sp->done_ev);
    sp->done_ev = NULL;
    (void)close(sp->event_fd);
    sp->event_fd = -1;
    return -1;
}

void
spool_commit_stop(struct spool *sp)
{
    pthread_mutex_lock(&sp->lock);
    sp->stopping = true;
    sp->held = false;
    pthread_cond_signal(&sp->wake);
    pthread_mutex_unlock(&sp->lock);
    pthread_join(sp->thread, NULL);

    event_free(sp->done_ev);
    sp->done_ev = NULL;
    (void)close(sp->event_fd);
    sp->event_fd = -1;
    /* The loop may not run again before the spool is gone: report the rest from here. */
    commit_deliver_all(sp);
    pthread_cond_destroy(&sp->wake);
    pthread_mutex_destroy(&sp->lock);
}

void
spool_commit_hold(struct spool *sp, bool hold)
{
    pthread_mutex_lock(&sp->lock);
    sp->held = hold;
    pthread_cond_signal(&sp->wake);
    pthread_mutex_unlock(&sp->lock);
}

void
spool_get_counters(const struct spool *sp, struct spool_counters *out)
{
    *out = sp->counters;
}
