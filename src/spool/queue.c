/* SPDX-License-Identifier: MIT */
/*
 * Queued messages, for the scheduler (loop side): opening queue/ID and
 * decoding its envelope, and handing changes (recipient statuses, the
 * schedule record, removal) to the spool's thread, which makes them
 * durable (update.c) and reports back through the commit eventfd. The
 * fields that may change, and how, are in docs/spool.md ("In-place
 * updates").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fault.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "spool/envelope.h"
#include "spool/id.h"
#include "spool/spool_impl.h"

int
spool_queued_open(struct spool *sp, const char *id, struct spool_queued **out, char *why,
                  size_t whycap)
{
    struct spool_queued *q;
    struct stat st;
    int fd, e;

    *out = NULL;
    if (!spool_id_is_valid(id, strlen(id))) {
        (void)str_fmt(why, whycap, "not a queue id");
        errno = EINVAL;
        return -1;
    }
    if (sp->queue_fd == -1) {
        (void)str_fmt(why, whycap, "open: %s", strerror(ENOENT));
        errno = ENOENT;
        return -1;
    }
    /* A reader (gate26 queue with the daemon stopped) never writes. */
    fd = fault_hit(FAULT_OPEN)
             ? -1
             : openat(sp->queue_fd, id, (sp->reader ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW);
    if (fd == -1 || fstat(fd, &st) == -1) {
        e = errno;
        (void)str_fmt(why, whycap, "open: %s", strerror(e));
        if (fd != -1)
            (void)close(fd);
        errno = e;
        return -1;
    }
    q = xcalloc(1, sizeof(*q));
    q->fd = fd;
    if (envelope_read(fd, &q->env, why, whycap) == -1) {
        (void)close(fd);
        free(q);
        errno = EINVAL;
        return -1;
    }
    if (strcmp(q->env.id, id) != 0 || (uint64_t)st.st_size < q->env.header_len) {
        (void)str_fmt(why, whycap, "the id record says %s", q->env.id);
        spool_queued_close(q);
        errno = EINVAL;
        return -1;
    }
    q->content_off = (off_t)q->env.header_len;
    q->content_len = (uint64_t)st.st_size - q->env.header_len;
    *out = q;
    return 0;
}

void
spool_queued_close(struct spool_queued *q)
{
    if (q == NULL)
        return;
    if (q->fd != -1)
        (void)close(q->fd);
    envelope_clear(&q->env);
    free(q);
}

void
spool_queued_update(struct spool *sp, struct spool_queued *q, const struct spool_change *ch,
                    spool_update_fn *fn, void *arg)
{
    struct spool_update *u;

    if (sp->reader)
        log_panic("%s: spool update through a read-only spool", q->env.id);
    u = xcalloc(1, sizeof(*u));
    u->sp = sp;
    memcpy(u->id, q->env.id, sizeof(u->id));
    u->fd = fcntl(q->fd, F_DUPFD_CLOEXEC, 0);
    if (u->fd == -1) {
        /* Reported like every other failure, from the loop and in order. */
        u->status = -1;
        u->status_err = errno;
        spool_log_failure(u->id, "update: dup", errno);
    }
    u->n_rcpts = ch->n_rcpts;
    u->rcpt_off = xcalloc(ch->n_rcpts + 1, sizeof(*u->rcpt_off));
    u->rcpt_status = xcalloc(ch->n_rcpts + 1, 1);
    for (size_t i = 0; i < ch->n_rcpts; i++) {
        struct envelope_rcpt *r;
        char st = ch->rcpt_status[i];

        if (ch->rcpt_index[i] >= q->env.n_rcpts ||
            (st != ENVELOPE_RCPT_DONE && st != ENVELOPE_RCPT_FAILED))
            log_panic("%s: spool update of recipient %zu to '%c'", u->id, ch->rcpt_index[i], st);
        r = &q->env.rcpts[ch->rcpt_index[i]];
        if (r->status != ENVELOPE_RCPT_PENDING && r->status != st)
            log_panic("%s: recipient %zu is '%c', not pending", u->id, ch->rcpt_index[i],
                      r->status);
        r->status = st;
        u->rcpt_off[i] = r->status_off;
        u->rcpt_status[i] = st;
    }
    if (ch->set_schedule) {
        if (envelope_sched_format(u->schedule, ch->attempts, ch->next_attempt) == -1)
            log_panic("%s: schedule %u %llu does not fit", u->id, ch->attempts,
                      (unsigned long long)ch->next_attempt);
        u->set_schedule = true;
        q->env.attempts = ch->attempts;
        q->env.next_attempt = ch->next_attempt;
    }
    u->remove = ch->remove;
    if (ch->remove && q->fd != -1) {
        /*
         * Let the thread's copy be the last descriptor of the file: closing the
         * last one of an unlinked file frees its blocks (with discard, waits for
         * the disk), and that belongs on the thread, not the loop.
         */
        (void)close(q->fd);
        q->fd = -1;
    }
    u->fn = fn;
    u->arg = arg;
    pthread_mutex_lock(&sp->lock);
    *sp->utodo_tail = u;
    sp->utodo_tail = &u->next;
    pthread_cond_signal(&sp->wake);
    pthread_mutex_unlock(&sp->lock);
}

void
spool_update_deliver(struct spool *sp, struct spool_update *list)
{
    while (list != NULL) {
        struct spool_update *u = list;

        list = u->next;
        if (u->remove && u->status == 0)
            sp->removed++;
        u->fn(u->arg, u->id, u->status, u->status_err);
        free(u->rcpt_off);
        free(u->rcpt_status);
        free(u);
    }
}
