/* SPDX-License-Identifier: MIT */
/*
 * What the embedded SQLite stores (the greylist, checks/greylist_sqlite.c;
 * message tracking, track/track_sqlite.c; the accounts, account/store.c)
 * do alike with their files: open one in WAL mode, tell a corrupt one,
 * move it aside as found, remove a WAL left by a file that is gone, and
 * see that the file still has SQLite's header. who names the store in the
 * log lines ("greylist", "track").
 */
#ifndef GATE26_LIB_SQLITE_FILE_H
#define GATE26_LIB_SQLITE_FILE_H

#include <stdbool.h>

#include <sqlite3.h>

/* True for an SQLite code (extended or not) that means the file is not a sound database. */
bool sqlite_file_is_corrupt(int rc);

/*
 * Puts db in WAL mode (PRAGMA journal_mode=WAL must answer "wal": a
 * read-only or odd file does not), then runs pragmas (NULL: none).
 * Returns an SQLite code; SQLITE_READONLY when the mode could not be set.
 */
int sqlite_file_wal(sqlite3 *db, const char *pragmas);

/* Removes path's WAL and shared-memory files, if left (the database is gone or moved). */
void sqlite_file_remove_leftovers(const char *path, const char *who);

/*
 * Moves a corrupt database path and its WAL aside, as found, to
 * PATH.corrupt-YYYYmmddTHHMMSSZ (and its -wal), removes its shared-memory
 * file, and logs "WHO: path=PATH, event=corrupt, moved=..., recreated".
 */
void sqlite_file_move_aside(const char *path, const char *who);

/*
 * False when the file open on fd has lost SQLite's header ("SQLite format
 * 3\0", https://sqlite.org/fileformat.html 1.3): garbage written over an
 * open database is not seen by SQLite while its pages are in its cache.
 * fd is a descriptor kept open with the database: closing any descriptor
 * of the file would drop every POSIX lock this process holds on it
 * (SQLite's too, https://sqlite.org/howtocorrupt.html 2.2), and another
 * process would then take itself for the last connection and delete the
 * WAL under the writer. fd -1, or a file shorter than the header: true.
 */
bool sqlite_file_header_ok(int fd);

#endif
