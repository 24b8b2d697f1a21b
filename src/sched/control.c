/* SPDX-License-Identifier: MIT */
/*
 * Queue commands (sched.h, "Queue control"): listing and showing messages
 * from their files, trying now, and the changes an operator makes: hold
 * and release (the schedule record's SPOOL_NEXT_HELD), delete (removal
 * without a bounce) and bounce (every pending recipient fails now). A
 * command never runs beside an attempt of the same message: it answers
 * EBUSY instead, and the operator tries again a moment later.
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
    char id[SPOOL_ID_LEN + 1];
    sched_done_fn *fn;
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
sched_flush(struct sched *s, const char *id)
{
    long n = 0;

    if (id != NULL) {
        struct sched_entry *e = find(s, id);

        if (e == NULL) {
            errno = ENOENT;
            return -1;
        }
        if (e->held) {
            errno = EPERM;
            return -1;
        }
    }
    for (struct sched_entry *e = s->head; e != NULL; e = e->next) {
        if ((id != NULL && strcmp(e->id, id) != 0) || e->held || e->broken)
            continue;
        e->next_attempt = 0;
        if (e->at == NULL)
            sched_entry_arm(e);
        n++;
    }
    log_info("-: event=flush, message=%s, scheduled=%ld", id != NULL ? id : "all", n);
    return n;
}

static void
op_done(void *arg, const char *id, int status, int err)
{
    struct sched_op *op = arg;
    struct sched_entry *e = op->e;
    enum op_kind kind;
    char text[160];

    e->op = NULL;
    spool_queued_close(op->q);
    if (status == -1) {
        (void)str_fmt(text, sizeof(text), "%s of %s failed: %s", op_names[op->kind], id,
                      strerror(err));
        op->fn(op->arg, -1, text);
        free(op);
        sched_entry_arm(e);
        return;
    }
    log_info("%s: event=%s, by=queue-command", id, op_names[op->kind]);
    (void)str_fmt(text, sizeof(text), "%s: %s", id,
                  op->kind == OP_HOLD      ? "on hold"
                  : op->kind == OP_RELEASE ? "released, tried now"
                                           : "deleted");
    op->fn(op->arg, 0, text);
    kind = op->kind;
    free(op);
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
}

/* Starts a command's change of e's file; see sched.h for the errors. */
static int
op_start(struct sched *s, const char *id, enum op_kind kind, sched_done_fn *fn, void *arg)
{
    struct sched_entry *e = find(s, id);
    struct spool_change ch;
    struct sched_op *op;
    struct spool_queued *q;
    char why[256];

    if (e == NULL) {
        errno = ENOENT;
        return -1;
    }
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
    op->fn = fn;
    op->arg = arg;
    e->op = op;
    (void)evtimer_del(e->timer);
    spool_queued_update(s->sp, q, &ch, op_done, op);
    return 0;
}

int
sched_hold(struct sched *s, const char *id, sched_done_fn *fn, void *arg)
{
    return op_start(s, id, OP_HOLD, fn, arg);
}

int
sched_release(struct sched *s, const char *id, sched_done_fn *fn, void *arg)
{
    return op_start(s, id, OP_RELEASE, fn, arg);
}

int
sched_delete(struct sched *s, const char *id, sched_done_fn *fn, void *arg)
{
    return op_start(s, id, OP_DELETE, fn, arg);
}

/* The bounce command answers once the bounce has been handed over. */
static void
bounce_answer(evutil_socket_t fd, short what, void *arg)
{
    struct sched_op *op = arg;
    char text[96];

    (void)fd;
    (void)what;
    (void)str_fmt(text, sizeof(text), "%s: bounced to its sender", op->id);
    op->fn(op->arg, 0, text);
    free(op);
}

int
sched_bounce(struct sched *s, const char *id, sched_done_fn *fn, void *arg)
{
    struct sched_entry *e = find(s, id);
    struct sched_op *op;
    char text[CAP_HOSTNAME + 64];

    if (e == NULL) {
        errno = ENOENT;
        return -1;
    }
    if (e->at != NULL || e->op != NULL || s->stopping) {
        errno = EBUSY;
        return -1;
    }
    (void)str_fmt(text, sizeof(text), "returned to the sender by the postmaster of %s",
                  s->conf->hostname);
    (void)evtimer_del(e->timer);
    e->held = false;
    log_info("%s: event=bounce-command, by=queue-command", id);
    if (sched_attempt_fail_all(e, "5.0.0", text) == -1) {
        sched_entry_arm(e);
        return -1;
    }
    op = xcalloc(1, sizeof(*op));
    memcpy(op->id, e->id, sizeof(op->id));
    op->fn = fn;
    op->arg = arg;
    if (event_base_once(s->base, -1, EV_TIMEOUT, bounce_answer, op, NULL) == -1)
        log_panic("%s: event_base_once failed", id);
    return 0;
}
