/* SPDX-License-Identifier: MIT */
/*
 * Password checks off the event loop. A hash computation takes tens of
 * milliseconds (that is the point of yescrypt and bcrypt), far too long for
 * a loop that serves every session, so checks go to a few worker threads
 * through a bounded FIFO under a mutex and condition variable. A worker
 * appends its result to the done list and writes to an eventfd, whose event
 * on the loop calls each callback in the order the checks finished: the
 * same hand-back as the spool's commit thread (spool/commit.c), which needs
 * no libevent locking since the loop alone touches its events.
 *
 * A check is queued, running or done. Cancelling a queued check frees it at
 * once; a running or done one is only marked, and the loop frees it when its
 * result comes back, so a worker never touches freed memory.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "auth/auth_impl.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define POOL_DEFAULT_THREADS 2
#define POOL_MAX_THREADS     64

static void
check_wipe_pass(struct auth_check *c)
{
    if (c->pass != NULL) {
        OPENSSL_cleanse(c->pass, c->pass_len + 1);
        free(c->pass);
        c->pass = NULL;
    }
}

static void
check_free(struct auth_check *c)
{
    check_wipe_pass(c);
    free(c->user);
    auth_db_unref(c->db);
    free(c);
}

static void
pool_wake_loop(struct auth_pool *pool)
{
    uint64_t one = 1;

    /* Only an overflow of the counter (2^64 - 2 unread wakes) could make this fail. */
    while (write(pool->event_fd, &one, sizeof(one)) == -1) {
        if (errno != EINTR)
            log_panic("-: event=auth-eventfd-write, reason=\"%s\"", strerror(errno));
    }
}

static void *
pool_thread(void *arg)
{
    struct auth_pool *pool = arg;
    struct auth_check *c;
    enum auth_verdict verdict;

    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->stopping && pool->todo == NULL)
            pthread_cond_wait(&pool->wake, &pool->lock);
        if (pool->stopping)
            break;
        c = pool->todo;
        pool->todo = c->next;
        if (pool->todo == NULL)
            pool->todo_tail = &pool->todo;
        c->state = AUTH_CHECK_RUNNING;
        pthread_mutex_unlock(&pool->lock);

        /* c->db, c->user and c->pass stay ours while running: cancel only marks. */
        verdict = auth_db_check(c->db, c->user, c->pass, c->pass_len);
        check_wipe_pass(c);

        pthread_mutex_lock(&pool->lock);
        c->verdict = verdict;
        c->state = AUTH_CHECK_DONE;
        c->next = NULL;
        *pool->done_tail = c;
        pool->done_tail = &c->next;
        pool->pending--;
        pthread_mutex_unlock(&pool->lock);
        pool_wake_loop(pool);
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* Takes the first done check off the list, or NULL. */
static struct auth_check *
pool_take_done(struct auth_pool *pool)
{
    struct auth_check *c;

    pthread_mutex_lock(&pool->lock);
    c = pool->done;
    if (c != NULL) {
        pool->done = c->next;
        if (pool->done == NULL)
            pool->done_tail = &pool->done;
    }
    pthread_mutex_unlock(&pool->lock);
    return c;
}

static void
pool_done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct auth_pool *pool = arg;
    struct auth_check *c;
    uint64_t wakes;

    (void)what;
    /* Resets the counter. EAGAIN: an earlier wake already took the list. */
    if (read(fd, &wakes, sizeof(wakes)) == -1 && errno != EAGAIN && errno != EINTR)
        log_panic("-: event=auth-eventfd-read, reason=\"%s\"", strerror(errno));
    /* One at a time: a callback may cancel a check that is done but not yet
     * reported, which must then still be on the list to be marked. */
    while ((c = pool_take_done(pool)) != NULL) {
        if (!c->cancelled)
            c->fn(c->arg, c->verdict);
        check_free(c);
    }
}

static void
pool_stop_threads(struct auth_pool *pool, unsigned started)
{
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; i < started; i++)
        pthread_join(pool->threads[i], NULL);
}

static void
pool_free_list(struct auth_check *c)
{
    while (c != NULL) {
        struct auth_check *next = c->next;

        check_free(c);
        c = next;
    }
}

struct auth_pool *
auth_pool_new(struct event_base *base, unsigned n_threads)
{
    struct auth_pool *pool = xcalloc(1, sizeof(*pool));
    sigset_t all, old;
    unsigned i;
    int rc = 0;

    if (n_threads == 0)
        n_threads = POOL_DEFAULT_THREADS;
    if (n_threads > POOL_MAX_THREADS)
        n_threads = POOL_MAX_THREADS;
    pool->base = base;
    pool->todo_tail = &pool->todo;
    pool->done_tail = &pool->done;
    pool->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (pool->event_fd == -1) {
        free(pool);
        return NULL;
    }
    pool->done_ev = event_new(base, pool->event_fd, EV_READ | EV_PERSIST, pool_done_cb, pool);
    if (pool->done_ev == NULL || event_add(pool->done_ev, NULL) == -1) {
        if (pool->done_ev != NULL)
            event_free(pool->done_ev);
        (void)close(pool->event_fd);
        free(pool);
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pool->threads = xcalloc(n_threads, sizeof(*pool->threads));
    /* Signals are for the loop thread: the workers block them all. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (i = 0; i < n_threads; i++) {
        rc = pthread_create(&pool->threads[i], NULL, pool_thread, pool);
        if (rc != 0)
            break;
        (void)pthread_setname_np(pool->threads[i], "gate26-auth");
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pool->n_threads = i;
    if (rc != 0) {
        auth_pool_free(pool);
        errno = rc;
        return NULL;
    }
    return pool;
}

void
auth_pool_free(struct auth_pool *pool)
{
    if (pool == NULL)
        return;
    pool_stop_threads(pool, pool->n_threads);
    /* No thread is left: the lists are ours. */
    pool_free_list(pool->todo);
    pool_free_list(pool->done);
    event_free(pool->done_ev);
    (void)close(pool->event_fd);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
}

struct auth_check *
auth_check_start(struct auth_pool *pool, struct auth_db *db, const char *user, const char *pass,
                 size_t pass_len, auth_done_fn *fn, void *arg)
{
    struct auth_check *c;

    pthread_mutex_lock(&pool->lock);
    if (pool->pending >= AUTH_POOL_MAX_PENDING) {
        pthread_mutex_unlock(&pool->lock);
        errno = EAGAIN;
        return NULL;
    }
    pool->pending++;
    pthread_mutex_unlock(&pool->lock);

    c = xcalloc(1, sizeof(*c));
    c->pool = pool;
    c->db = auth_db_ref(db);
    c->user = xstrdup(user);
    c->pass = xmalloc(pass_len + 1);
    memcpy(c->pass, pass, pass_len);
    c->pass[pass_len] = '\0';
    c->pass_len = pass_len;
    c->fn = fn;
    c->arg = arg;
    c->state = AUTH_CHECK_QUEUED;

    pthread_mutex_lock(&pool->lock);
    *pool->todo_tail = c;
    pool->todo_tail = &c->next;
    pthread_cond_signal(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    return c;
}

void
auth_check_cancel(struct auth_check *c)
{
    struct auth_pool *pool;
    struct auth_check **pp;

    if (c == NULL)
        return;
    pool = c->pool;
    pthread_mutex_lock(&pool->lock);
    if (c->state != AUTH_CHECK_QUEUED) {
        /* A worker has it, or its result waits for the loop: the loop frees it. */
        c->cancelled = true;
        pthread_mutex_unlock(&pool->lock);
        return;
    }
    for (pp = &pool->todo; *pp != c; pp = &(*pp)->next) {
        if (*pp == NULL)
            log_panic("-: event=auth-cancel, reason=\"queued check not in the queue\"");
    }
    *pp = c->next;
    if (pool->todo_tail == &c->next)
        pool->todo_tail = pp;
    pool->pending--;
    pthread_mutex_unlock(&pool->lock);
    check_free(c);
}
