/* SPDX-License-Identifier: MIT */
/*
 * Inside the auth module: the password file's parsed form, shared by the
 * loader (db.c), `gate26 passwd` (passwd_cli.c) and the unit tests, and the
 * pool's structures. Other modules use auth/auth.h only.
 */
#ifndef GATE26_AUTH_AUTH_IMPL_H
#define GATE26_AUTH_AUTH_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "auth/auth.h"

struct auth_entry {
    char *user;  /* one allocation: user NUL [!] hash NUL */
    char *hash;  /* without the '!' of a locked entry */
    size_t size; /* of that allocation, for the wipe */
    unsigned line;
    bool locked; /* written "user:!hash" (gate26 passwd --lock) */
};

struct auth_db {
    atomic_uint refs;
    struct auth_entry *entries; /* sorted by user */
    size_t n;
    char *dummy; /* what unknown users are checked against; NULL until made */
};

/*
 * Parses text like auth_db_load_text(), but makes no dummy hash (db->dummy
 * stays NULL). Lines whose user is skip_user (NULL: none) are passed over
 * unchecked: `gate26 passwd` replaces them, so their faults do not matter.
 */
struct auth_db *auth_db_parse(const char *path, const char *text, size_t len, const char *skip_user,
                              char *err, size_t errcap);

/* The entry of user in db (parsed, sorted), or NULL. */
const struct auth_entry *auth_db_find(const struct auth_db *db, const char *user);

/*
 * Reads the whole file at path (at most AUTH_DB_MAX_SIZE octets) into a
 * new buffer (*out, *out_len; the caller frees it). Returns 0, or -1 with
 * "PATH: why" in err and errno set (ENOENT when the file does not exist).
 */
int auth_db_read_file(const char *path, char **out, size_t *out_len, char *err, size_t errcap);

/* The pool (pool.c); here so that its tests can see a check's state. */
enum auth_check_state {
    AUTH_CHECK_QUEUED,
    AUTH_CHECK_RUNNING,
    AUTH_CHECK_DONE,
};

struct auth_check {
    struct auth_pool *pool;
    struct auth_db *db; /* our reference */
    char *user;
    char *pass; /* wiped and freed by the worker once checked */
    size_t pass_len;
    auth_done_fn *fn;
    void *arg;
    enum auth_check_state state; /* under pool->lock */
    bool cancelled;              /* under pool->lock */
    enum auth_verdict verdict;
    struct auth_check *next;
};

struct auth_pool {
    struct event_base *base;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t *threads;
    unsigned n_threads;
    /* Under lock: */
    struct auth_check *todo, **todo_tail;
    struct auth_check *done, **done_tail;
    unsigned pending; /* queued or running */
    bool stopping;
    /* The loop's: */
    int event_fd;
    struct event *done_ev;
};

#endif
