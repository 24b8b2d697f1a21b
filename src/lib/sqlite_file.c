/* SPDX-License-Identifier: MIT */
/*
 * The SQLite stores' file handling (sqlite_file.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/caps.h"
#include "lib/log.h"
#include "lib/sqlite_file.h"
#include "lib/str.h"

bool
sqlite_file_is_corrupt(int rc)
{
    return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

int
sqlite_file_wal(sqlite3 *db, const char *pragmas)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const char *mode = (const char *)sqlite3_column_text(st, 0);

            rc = mode != NULL && strcmp(mode, "wal") == 0 ? SQLITE_OK : SQLITE_READONLY;
        }
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK && pragmas != NULL)
        rc = sqlite3_exec(db, pragmas, NULL, NULL, NULL);
    return rc;
}

void
sqlite_file_remove_leftovers(const char *path, const char *who)
{
    static const char *const suffix[] = {"-wal", "-shm"};
    char name[CAP_PATH];

    for (size_t i = 0; i < 2; i++)
        if (str_fmt(name, sizeof name, "%s%s", path, suffix[i]) == 0 && unlink(name) == -1 &&
            errno != ENOENT)
            log_warning("%s: path=%s, event=unlink, error=\"%s\"", who, name, strerror(errno));
}

/* Renames PATH+suffix to PATH.corrupt-TIME+suffix; a file that is not there is fine. */
static void
move_one(const char *path, const char *stamp, const char *suffix, const char *who)
{
    char from[CAP_PATH], to[CAP_PATH];

    if (str_fmt(from, sizeof from, "%s%s", path, suffix) == -1 ||
        str_fmt(to, sizeof to, "%s.corrupt-%s%s", path, stamp, suffix) == -1)
        return;
    if (rename(from, to) == -1 && errno != ENOENT)
        log_warning("%s: path=%s, event=move-aside, error=\"%s\"", who, from, strerror(errno));
}

void
sqlite_file_move_aside(const char *path, const char *who)
{
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm) == 0)
        (void)str_copyz(stamp, sizeof stamp, "0");
    move_one(path, stamp, "-wal", who);
    move_one(path, stamp, "", who);
    sqlite_file_remove_leftovers(path, who); /* the -shm index, rebuilt from a WAL when needed */
    log_warning("%s: path=%s, event=corrupt, moved=%s.corrupt-%s, recreated", who, path, path,
                stamp);
}

bool
sqlite_file_header_ok(int fd)
{
    static const char magic[16] = "SQLite format 3";
    char head[sizeof magic];
    ssize_t n;

    if (fd == -1)
        return true;
    n = pread(fd, head, sizeof head, 0);
    return n < (ssize_t)sizeof head || memcmp(head, magic, sizeof magic) == 0;
}
