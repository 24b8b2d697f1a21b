/* SPDX-License-Identifier: MIT */
/*
 * Spooling a report (bounce or delay warning): dsn.c composes it from the
 * attempt's outcomes; it is queued like any received message, from the
 * null sender <> to the original envelope sender (RFC 5321 4.5.5,
 * RFC 3461 6), so the scheduler delivers it by MX like everything else.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "sched/sched_impl.h"

static void
bounce_ignore(void *arg, const char *id, int status, int err)
{
    (void)arg;
    (void)id;
    (void)status;
    (void)err;
}

int
sched_bounce_send(struct sched_attempt *at, enum dsn_kind kind, const size_t *idx, size_t n,
                  spool_commit_fn *fn, void *arg)
{
    struct sched *s = at->e->s;
    const struct envelope *env = &at->q->env;
    struct dsn_rcpt *rcpts = xcalloc(n, sizeof(*rcpts));
    struct dsn_input in;
    struct spool_rcpt to;
    struct spool_envelope benv;
    struct spool_msg *m;
    time_t now = time(NULL);
    char *text = NULL;
    size_t len = 0;

    for (size_t k = 0; k < n; k++) {
        const struct sched_outcome *o = &at->out[idx[k]];

        rcpts[k].addr = env->rcpts[idx[k]].addr;
        rcpts[k].orcpt = env->rcpts[idx[k]].orcpt;
        rcpts[k].status = o->enhanced[0] != '\0' ? o->enhanced
                          : kind == DSN_DELAY    ? "4.0.0"
                                                 : "5.0.0";
        rcpts[k].remote_mta = o->remote_mta[0] != '\0' ? o->remote_mta : NULL;
        rcpts[k].diagnostic = o->code != 0 ? o->text : NULL;
        rcpts[k].reason = o->text;
        rcpts[k].last_attempt = now;
    }
    memset(&in, 0, sizeof(in));
    in.kind = kind;
    in.hostname = s->conf->hostname;
    in.id = env->id;
    in.sender = env->sender;
    in.envid = env->envid;
    in.ret = env->ret;
    in.smtputf8 = env->smtputf8;
    in.arrival = env->arrival;
    in.retry_until = env->arrival.tv_sec + (time_t)s->conf->give_up;
    in.rcpts = rcpts;
    in.n_rcpts = n;
    in.fd = at->q->fd;
    in.content_off = at->q->content_off;
    in.content_len = at->q->content_len;
    if (dsn_compose(&in, now, &text, &len) == -1) {
        log_warning("%s: event=bounce-failed, reason=\"compose: %s\"", env->id, strerror(errno));
        free(rcpts);
        return -1;
    }
    free(rcpts);

    memset(&to, 0, sizeof(to));
    to.addr = env->sender;
    memset(&benv, 0, sizeof(benv));
    benv.sender = "";
    /* The returned original may hold 8-bit text: declare what the original declared. */
    benv.body = env->body;
    benv.smtputf8 = env->smtputf8;
    benv.ret = SPOOL_RET_UNSPEC;
    benv.rcpts = &to;
    benv.n_rcpts = 1;
    benv.door = DOOR_INTERNAL; /* made here; it leaves by MX like mail from our own servers */
    benv.client_addr = "127.0.0.1";
    benv.client_port = 0;
    benv.helo = "";
    benv.protocol = "LOCAL";
    (void)gettimeofday(&benv.arrival, NULL);
    if (spool_msg_new(s->sp, &benv, &m) == -1) {
        log_warning("%s: event=bounce-failed, reason=\"spool: %s\"", env->id, strerror(errno));
        free(text);
        return -1;
    }
    if (spool_msg_write(m, text, len) == -1) {
        log_warning("%s: event=bounce-failed, reason=\"spool: %s\"", env->id, strerror(errno));
        spool_msg_abort(m);
        free(text);
        return -1;
    }
    free(text);
    spool_msg_commit(m, fn != NULL ? fn : bounce_ignore, arg);
    return 0;
}
