/* SPDX-License-Identifier: MIT */
/*
 * Programs (notify.h): `exec PROGRAM` runs PROGRAM with the alert's JSON on
 * its standard input, as the gateway's user (the daemon dropped root before
 * the first alert could fire), without a shell, with a small fixed
 * environment (PATH, GATE26_ALERT_RULE, GATE26_ALERT_STATE), in a process
 * group of its own, its standard output and error going to /dev/null (so a
 * program that floods them costs nothing), every other descriptor closed.
 *
 * posix_spawn (vfork-like: no copy of the daemon's memory) starts it; a
 * pidfd tells the loop when it has ended (a 200 ms poll of waitpid where
 * pidfds are not available), and a timer kills its whole process group
 * (SIGKILL) after NOTIFY_EXEC_TIMEOUT_S. At most NOTIFY_EXEC_RUNNING run at
 * once and NOTIFY_EXEC_WAITING wait; beyond that a run is dropped, logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "watch/notify.h"

#define EXEC_POLL_MS 200

struct exec_job {
    struct notify_execs *x;
    struct exec_job *next, *prev;
    char *program, *json;
    char rule[64 + 1];
    char key[LOG_QUOTE_CAP];
    char state[16];
    pid_t pid;           /* 0 until started */
    int pidfd;           /* -1: polled */
    struct event *done;  /* the pidfd readable, or the poll timer */
    struct event *limit; /* the timeout */
    bool killed;
};

struct exec_list {
    struct exec_job *head, *tail;
    size_t n;
};

struct notify_execs {
    struct event_base *base;
    struct exec_list running, waiting;
    bool freeing;
};

static void
list_push(struct exec_list *l, struct exec_job *j)
{
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    l->n++;
}

static void
list_unlink(struct exec_list *l, struct exec_job *j)
{
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        l->head = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    else
        l->tail = j->prev;
    j->next = j->prev = NULL;
    l->n--;
}

static void
job_free(struct exec_job *j)
{
    if (j->done != NULL)
        event_free(j->done);
    if (j->limit != NULL)
        event_free(j->limit);
    if (j->pidfd != -1)
        (void)close(j->pidfd);
    free(j->program);
    free(j->json);
    free(j);
}

static void start_waiting(struct notify_execs *x);

/* The program has ended (status from waitpid): log it, free the job. */
static void
job_ended(struct exec_job *j, int status)
{
    struct notify_execs *x = j->x;

    if (j->killed)
        log_warning("-: event=alert-exec, rule=%s, key=%s, state=%s, program=\"%s\", "
                    "status=killed, reason=\"still running after %ds\"",
                    j->rule, j->key, j->state, j->program, NOTIFY_EXEC_TIMEOUT_S);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        log_info("-: event=alert-exec, rule=%s, key=%s, state=%s, program=\"%s\", status=done, "
                 "exit=0",
                 j->rule, j->key, j->state, j->program);
    else if (WIFEXITED(status))
        log_warning("-: event=alert-exec, rule=%s, key=%s, state=%s, program=\"%s\", "
                    "status=failed, exit=%d",
                    j->rule, j->key, j->state, j->program, WEXITSTATUS(status));
    else
        log_warning("-: event=alert-exec, rule=%s, key=%s, state=%s, program=\"%s\", "
                    "status=failed, signal=%d",
                    j->rule, j->key, j->state, j->program,
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    list_unlink(&x->running, j);
    job_free(j);
    start_waiting(x);
}

/* True (and the job ended) when the child has exited. */
static bool
job_reap(struct exec_job *j)
{
    int status;
    pid_t r;

    do
        r = waitpid(j->pid, &status, WNOHANG);
    while (r == -1 && errno == EINTR);
    if (r == 0)
        return false;
    if (r == -1)
        status = 0; /* reaped elsewhere (it should not be): it has ended anyway */
    job_ended(j, status);
    return true;
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)job_reap(arg);
}

static void
limit_cb(evutil_socket_t fd, short what, void *arg)
{
    struct exec_job *j = arg;

    (void)fd;
    (void)what;
    j->killed = true;
    /* Its whole process group: what it started goes too. */
    if (kill(-j->pid, SIGKILL) == -1 && errno != ESRCH)
        (void)kill(j->pid, SIGKILL);
}

/* Writes the JSON into the pipe (it fits in a pipe's buffer) and closes it. */
static void
feed(struct exec_job *j, int fd)
{
    size_t len = strlen(j->json), off = 0;

    while (off < len) {
        ssize_t n = write(fd, j->json + off, len - off);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            log_warning("-: event=alert-exec, rule=%s, key=%s, program=\"%s\", "
                        "warning=\"standard input: %s\"",
                        j->rule, j->key, j->program, strerror(errno));
            break;
        }
        off += (size_t)n;
    }
    (void)close(fd);
}

/* Starts j; false (logged) when it could not be. */
static bool
job_start(struct exec_job *j)
{
    static const char *const paths[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
    char env_rule[96], env_state[48];
    char *envp[] = {(char *)paths[0], env_rule, env_state, NULL};
    char *argv[] = {j->program, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    struct timeval tv = {NOTIFY_EXEC_TIMEOUT_S, 0};
    sigset_t none, all;
    int in[2], rc;

    (void)str_fmt(env_rule, sizeof(env_rule), "GATE26_ALERT_RULE=%s", j->rule);
    (void)str_fmt(env_state, sizeof(env_state), "GATE26_ALERT_STATE=%s", j->state);
    /* The write end does not block: a document longer than the pipe's buffer is cut, logged. */
    if (pipe2(in, O_CLOEXEC) == -1) {
        log_warning("-: event=alert-exec, rule=%s, key=%s, program=\"%s\", status=failed, "
                    "error=\"pipe: %s\"",
                    j->rule, j->key, j->program, strerror(errno));
        return false;
    }
    if (fcntl(in[1], F_SETFL, O_NONBLOCK) == -1)
        log_panic("alert exec: fcntl of a pipe failed: %s", strerror(errno));
    (void)sigemptyset(&none);
    (void)sigfillset(&all);
    (void)sigdelset(&all, SIGKILL);
    (void)sigdelset(&all, SIGSTOP);
    if (posix_spawn_file_actions_init(&fa) != 0 || posix_spawnattr_init(&at) != 0)
        log_panic("alert exec: posix_spawn setup failed");
    (void)posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    (void)posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    (void)posix_spawn_file_actions_adddup2(&fa, 1, 2);
    (void)posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    (void)posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                            POSIX_SPAWN_SETSIGDEF);
    (void)posix_spawnattr_setpgroup(&at, 0);
    (void)posix_spawnattr_setsigmask(&at, &none);
    /* SIGPIPE is ignored in the daemon; the program gets every signal's default. */
    (void)posix_spawnattr_setsigdefault(&at, &all);
    rc = posix_spawn(&j->pid, j->program, &fa, &at, argv, envp);
    (void)posix_spawn_file_actions_destroy(&fa);
    (void)posix_spawnattr_destroy(&at);
    (void)close(in[0]);
    if (rc != 0) {
        (void)close(in[1]);
        log_warning("-: event=alert-exec, rule=%s, key=%s, program=\"%s\", status=failed, "
                    "error=\"%s\"",
                    j->rule, j->key, j->program, strerror(rc));
        return false;
    }
    log_info("-: event=alert-exec, rule=%s, key=%s, state=%s, program=\"%s\", status=started, "
             "pid=%ld",
             j->rule, j->key, j->state, j->program, (long)j->pid);
    feed(j, in[1]);
    j->pidfd = pidfd_open(j->pid, 0);
    if (j->pidfd != -1) {
        j->done = event_new(j->x->base, j->pidfd, EV_READ, done_cb, j);
        if (j->done == NULL || event_add(j->done, NULL) == -1)
            log_panic("alert exec: cannot watch a pidfd");
    } else {
        struct timeval poll = {0, EXEC_POLL_MS * 1000};

        j->done = event_new(j->x->base, -1, EV_PERSIST, done_cb, j);
        if (j->done == NULL || event_add(j->done, &poll) == -1)
            log_panic("alert exec: cannot arm a timer");
    }
    j->limit = evtimer_new(j->x->base, limit_cb, j);
    if (j->limit == NULL || evtimer_add(j->limit, &tv) == -1)
        log_panic("alert exec: cannot arm a timer");
    return true;
}

static void
start_waiting(struct notify_execs *x)
{
    while (!x->freeing && x->waiting.head != NULL && x->running.n < NOTIFY_EXEC_RUNNING) {
        struct exec_job *j = x->waiting.head;

        list_unlink(&x->waiting, j);
        if (!job_start(j)) {
            job_free(j);
            continue;
        }
        list_push(&x->running, j);
    }
}

struct notify_execs *
notify_execs_new(struct event_base *base)
{
    struct notify_execs *x = xcalloc(1, sizeof(*x));

    x->base = base;
    return x;
}

void
notify_execs_free(struct notify_execs *x)
{
    if (x == NULL)
        return;
    x->freeing = true;
    while (x->waiting.head != NULL) {
        struct exec_job *j = x->waiting.head;

        log_warning("-: event=alert-exec, rule=%s, key=%s, state=%s, program=\"%s\", "
                    "status=dropped, reason=\"stopping\"",
                    j->rule, j->key, j->state, j->program);
        list_unlink(&x->waiting, j);
        job_free(j);
    }
    while (x->running.head != NULL) {
        struct exec_job *j = x->running.head;
        int status;

        if (kill(-j->pid, SIGKILL) == -1 && errno != ESRCH)
            (void)kill(j->pid, SIGKILL);
        while (waitpid(j->pid, &status, 0) == -1 && errno == EINTR)
            ;
        log_warning("-: event=alert-exec, rule=%s, key=%s, state=%s, program=\"%s\", "
                    "status=killed, reason=\"stopping\"",
                    j->rule, j->key, j->state, j->program);
        list_unlink(&x->running, j);
        job_free(j);
    }
    free(x);
}

void
notify_exec_run(struct notify_execs *x, const char *program, const struct notify_what *what)
{
    struct exec_job *j;

    if (x->running.n >= NOTIFY_EXEC_RUNNING && x->waiting.n >= NOTIFY_EXEC_WAITING) {
        log_warning("-: event=alert-exec, rule=%s, key=%s, state=%s, program=\"%s\", "
                    "status=dropped, reason=\"%d programs running and %d waiting\"",
                    what->rule, what->key_log, what->state, program, NOTIFY_EXEC_RUNNING,
                    NOTIFY_EXEC_WAITING);
        return;
    }
    j = xcalloc(1, sizeof(*j));
    j->x = x;
    j->pidfd = -1;
    j->program = xstrdup(program);
    j->json = xstrdup(what->json);
    (void)str_copyz(j->rule, sizeof(j->rule), what->rule);
    (void)str_copyz(j->key, sizeof(j->key), what->key_log);
    (void)str_copyz(j->state, sizeof(j->state), what->state);
    list_push(&x->waiting, j);
    start_waiting(x);
}
