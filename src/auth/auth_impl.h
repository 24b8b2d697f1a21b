/* SPDX-License-Identifier: MIT */
/*
 * Inside the auth module: the password file's parsed form, shared by the
 * loader (db.c), `gate26 passwd` (passwd_cli.c) and the unit tests. Other
 * modules use auth/auth.h only.
 */
#ifndef GATE26_AUTH_AUTH_IMPL_H
#define GATE26_AUTH_AUTH_IMPL_H

#include <stdatomic.h>
#include <stddef.h>

#include "auth/auth.h"

struct auth_entry {
    char *user; /* one allocation: user NUL hash NUL */
    char *hash;
    size_t size; /* of that allocation, for the wipe */
    unsigned line;
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

/*
 * Reads the whole file at path (at most AUTH_DB_MAX_SIZE octets) into a
 * new buffer (*out, *out_len; the caller frees it). Returns 0, or -1 with
 * "PATH: why" in err and errno set (ENOENT when the file does not exist).
 */
int auth_db_read_file(const char *path, char **out, size_t *out_len, char *err, size_t errcap);

#endif
