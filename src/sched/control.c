/* SPDX-License-Identifier: MIT */
/*
 * Queue commands (sched.h, "Queue control"): listing and showing messages
 * from their files, trying now, and the changes an operator makes: hold
 * and release (the schedule record's SPOOL_NEXT_HELD), delete (removal
 * without a bounce) and bounce (every pending recipient fails now), on
 * one message or on many at once (sched_command). A command never runs
 * beside an attempt of the same message: it answers EBUSY instead, and the
 * operator tries again a moment later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "sched/sched_impl.h"

enum op_kind {
    OP_HOLD,
    OP_RELEASE,
    OP_DELETE,
};

/* A queue command waiting for its change of the file. */
struct sched_op {
    struct sched_entry *e;
    struct spool_queued *q;
    enum op_kind kind;
    size_t i; /* the message's index in its sched_command */
    sched_each_fn *fn;
    void *arg;
};

static const char *const op_names[] = {"hold", "release", "delete"};

static struct sched_entry *
find(struct sched *s, const char *id)
{
    for (struct sched_entry *e = s->head; e != NULL; e = e->next) {
        if (strcmp(e->id, id) == 0)
            return e;
    }
    return NULL;
}

static void
report(struct sched_entry *e, struct spool_queued *q, sched_info_fn *fn, void *arg)
{
    struct sched_info info = {
        .q = q,
        .held = e->held,
        .active = e->at != NULL || e->op != NULL,
        .last_error = e->last_error,
    };

    fn(arg, &info);
}

size_t
sched_list(struct sched *s, sched_info_fn *fn, void *arg)
{
    size_t n = 0;

    for (struct sched_entry *e = s->head; e != NULL; e = e->next) {
        struct spool_queued *q;
        char why[256];

        if (spool_queued_open(s->sp, e->id, &q, why, sizeof(why)) == -1)
            continue;
        report(e, q, fn, arg);
        spool_queued_close(q);
        n++;
    }
    return n;
}

int
sched_show(struct sched *s, const char *id, sched_info_fn *fn, void *arg)
{
    struct sched_entry *e = find(s, id);
    struct spool_queued *q;
    char why[256];

    if (e == NULL) {
        errno = ENOENT;
        return -1;
    }
    if (spool_queued_open(s->sp, e->id, &q, why, sizeof(why)) == -1)
        return -1;
    report(e, q, fn, arg);
    spool_queued_close(q);
    return 0;
}

long
sched_flush(struct sched *s)
{
    long n = 0;

    for (struct sched_entry *e = s->head; e != NULL; e = e->next) {
        if (e->held || e->broken)
            continue;
        e->next_attempt = 0;
        if (e->at == NULL)
            sched_entry_arm(e);
        n++;
    }
    log_info("-: event=flush, message=all, scheduled=%ld", n);
    return n;
}

static void
op_done(void *arg, const char *id, int status, int err)
{
    struct sched_op *op = arg;
    struct sched_entry *e = op->e;
    enum op_kind kind = op->kind;
    sched_each_fn *fn = op->fn;
    void *fn_arg = op->arg;
    size_t i = op->i;

    e->op = NULL;
    spool_queued_close(op->q);
    free(op);
    if (status == -1) {
        log_warning("%s: event=%s, by=queue-command, error=\"%s\"", id, op_names[kind],
                    strerror(err));
        fn(fn_arg, i, -1, err);
        sched_entry_arm(e);
        return;
    }
    log_info("%s: event=%s, by=queue-command", id, op_names[kind]);
    sched_track_note(e->s,
                     kind == OP_HOLD      ? TRACK_HOLD
                     : kind == OP_RELEASE ? TRACK_RELEASE
                                          : TRACK_DELETE,
                     id, "by=queue-command");
    switch (kind) {
    case OP_HOLD:
        e->held = true;
        (void)evtimer_del(e->timer);
        break;
    case OP_RELEASE:
        e->held = false;
        e->next_attempt = 0;
        sched_entry_arm(e);
        break;
    case OP_DELETE:
        sched_entry_free(e);
        break;
    }
    fn(fn_arg, i, 0, 0);
}

/* Starts a command's change of e's file. Returns 0, or -1 with errno (see sched.h). */
static int
op_start(struct sched_entry *e, enum op_kind kind, size_t i, sched_each_fn *fn, void *arg)
{
    struct sched *s = e->s;
    struct spool_change ch;
    struct sched_op *op;
    struct spool_queued *q;
    char why[256];

    if (e->at != NULL || e->op != NULL || s->stopping) {
        errno = EBUSY;
        return -1;
    }
    if ((kind == OP_HOLD && e->held) || (kind == OP_RELEASE && !e->held)) {
        errno = EALREADY;
        return -1;
    }
    if (spool_queued_open(s->sp, e->id, &q, why, sizeof(why)) == -1)
        return -1;
    memset(&ch, 0, sizeof(ch));
    if (kind == OP_DELETE) {
        ch.remove = true;
    } else {
        ch.set_schedule = true;
        ch.attempts = q->env.attempts;
        ch.next_attempt = kind == OP_HOLD ? SPOOL_NEXT_HELD : 0;
    }
    op = xcalloc(1, sizeof(*op));
    op->e = e;
    op->q = q;
    op->kind = kind;
    op->i = i;
    op->fn = fn;
    op->arg = arg;
    e->op = op;
    (void)evtimer_del(e->timer);
    spool_queued_update(s->sp, q, &ch, op_done, op);
    return 0;
}

/* Tries e now. Returns 0 (err 0, or EINPROGRESS: an attempt runs already), or -1 with errno. */
static int
flush_one(struct sched_entry *e, int *err)
{
    *err = 0;
    if (e->held) {
        errno = EPERM;
        return -1;
    }
    if (e->broken) {
        errno = EIO;
        return -1;
    }
    if (e->at != NULL || e->op != NULL) {
        /* Being tried (or changed) right now: what was asked is happening. */
        *err = EINPROGRESS;
        return 0;
    }
    e->next_attempt = 0;
    sched_entry_arm(e);
    log_info("%s: event=flush, by=queue-command", e->id);
    return 0;
}

/* Every pending recipient fails now and the sender gets a bounce. Returns 0, or -1 with errno. */
static int
bounce_one(struct sched_entry *e)
{
    struct sched *s = e->s;
    char text[CAP_HOSTNAME + 64];

    if (e->at != NULL || e->op != NULL || s->stopping) {
        errno = EBUSY;
        return -1;
    }
    (void)str_fmt(text, sizeof(text), "returned to the sender by the postmaster of %s",
                  s->conf->hostname);
    (void)evtimer_del(e->timer);
    e->held = false;
    log_info("%s: event=bounce-command, by=queue-command", e->id);
    sched_track_note(s, TRACK_BOUNCE, e->id, "by=queue-command");
    if (sched_attempt_fail_all(e, "5.0.0", text) == -1) {
        int err = errno;

        sched_entry_arm(e);
        errno = err;
        return -1;
    }
    return 0;
}

/* An id to find, and where its entry goes. */
struct pick {
    const char *id;
    size_t i;
};

static int
pick_cmp(const void *a, const void *b)
{
    return strcmp(((const struct pick *)a)->id, ((const struct pick *)b)->id);
}

/*
 * The entries of ids[0..n) (NULL where there is none), in one pass over the
 * queue: sorted ids, looked up for each entry. A queue of N messages costs
 * N log n, where looking each id up would cost N n (--all on a large queue).
 */
static struct sched_entry **
resolve(struct sched *s, const char (*ids)[SPOOL_ID_LEN + 1], size_t n)
{
    struct sched_entry **found = xcalloc(n + 1, sizeof(*found));
    struct pick *picks = xcalloc(n + 1, sizeof(*picks));

    for (size_t i = 0; i < n; i++) {
        picks[i].id = ids[i];
        picks[i].i = i;
    }
    qsort(picks, n, sizeof(*picks), pick_cmp);
    for (struct sched_entry *e = s->head; e != NULL; e = e->next) {
        struct pick key = {.id = e->id};
        const struct pick *p = n > 0 ? bsearch(&key, picks, n, sizeof(*picks), pick_cmp) : NULL;

        if (p != NULL)
            found[p->i] = e;
    }
    free(picks);
    return found;
}

void
sched_command(struct sched *s, enum sched_cmd cmd, const char (*ids)[SPOOL_ID_LEN + 1], size_t n,
              sched_each_fn *fn, void *arg)
{
    struct sched_entry **found = resolve(s, ids, n);

    /*
     * No step below frees an entry before it returns (changes of files report
     * later, on the loop), so every pointer in found stays valid to the end.
     */
    for (size_t i = 0; i < n; i++) {
        struct sched_entry *e = found[i];
        int rc, err = 0;

        if (e == NULL) {
            fn(arg, i, -1, ENOENT);
            continue;
        }
        switch (cmd) {
        case SCHED_CMD_FLUSH:
            rc = flush_one(e, &err);
            if (rc == 0) {
                fn(arg, i, 0, err);
                continue;
            }
            break;
        case SCHED_CMD_HOLD:
            rc = op_start(e, OP_HOLD, i, fn, arg);
            break;
        case SCHED_CMD_RELEASE:
            rc = op_start(e, OP_RELEASE, i, fn, arg);
            break;
        case SCHED_CMD_DELETE:
            rc = op_start(e, OP_DELETE, i, fn, arg);
            break;
        case SCHED_CMD_BOUNCE:
            rc = bounce_one(e);
            if (rc == 0) {
                fn(arg, i, 0, 0);
                continue;
            }
            break;
        default:
            log_panic("unknown queue command %d", (int)cmd);
        }
        if (rc == -1)
            fn(arg, i, -1, errno);
    }
    free(found);
}
