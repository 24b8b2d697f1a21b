/* SPDX-License-Identifier: MIT */
/* The SQLite stores' file handling (sqlite_file.h) on real files in a temporary directory. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/sqlite_file.h"

static char dir[] = "/tmp/sqlite_file_test.XXXXXX";

static void
path_of(char *out, size_t cap, const char *name)
{
    (void)snprintf(out, cap, "%s/%s", dir, name);
}

static bool
exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static void
test_corrupt_codes(void **state)
{
    (void)state;
    assert_true(sqlite_file_is_corrupt(SQLITE_CORRUPT));
    assert_true(sqlite_file_is_corrupt(SQLITE_NOTADB));
    assert_true(sqlite_file_is_corrupt(SQLITE_CORRUPT_VTAB)); /* an extended code */
    assert_false(sqlite_file_is_corrupt(SQLITE_OK));
    assert_false(sqlite_file_is_corrupt(SQLITE_BUSY));
    assert_false(sqlite_file_is_corrupt(SQLITE_IOERR_WRITE));
}

/* A WAL database keeps its header; garbage written over it is seen through the kept fd. */
static void
test_wal_and_header(void **state)
{
    char path[256];
    sqlite3 *db = NULL;
    int fd;

    (void)state;
    path_of(path, sizeof path, "a.db");
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite_file_wal(db, "PRAGMA synchronous=NORMAL; CREATE TABLE t (x);"),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO t VALUES (1)", NULL, NULL, NULL), SQLITE_OK);
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_true(sqlite_file_header_ok(fd));
    assert_true(sqlite_file_header_ok(-1));
    assert_int_equal(pwrite(fd, "garbage garbage!", 16, 0), 16);
    assert_false(sqlite_file_header_ok(fd));
    (void)sqlite3_close_v2(db);
    (void)close(fd);
}

/* A corrupt file and its WAL are moved aside as found; the -shm goes; nothing stays at path. */
static void
test_move_aside(void **state)
{
    char path[256], wal[300], shm[300];
    static const char *const names[] = {"", "-wal", "-shm"};

    (void)state;
    path_of(path, sizeof path, "b.db");
    for (size_t i = 0; i < 3; i++) {
        char p[300];
        FILE *f;

        (void)snprintf(p, sizeof p, "%s%s", path, names[i]);
        f = fopen(p, "w");
        assert_non_null(f);
        (void)fputs("not a database", f);
        (void)fclose(f);
    }
    sqlite_file_move_aside(path, "test");
    (void)snprintf(wal, sizeof wal, "%s-wal", path);
    (void)snprintf(shm, sizeof shm, "%s-shm", path);
    assert_false(exists(path));
    assert_false(exists(wal));
    assert_false(exists(shm));
    /* Two files named b.db.corrupt-STAMP and b.db.corrupt-STAMP-wal are there now. */
    {
        char cmd[400];

        (void)snprintf(cmd, sizeof cmd, "test $(ls %s | grep -c '^b\\.db\\.corrupt-') = 2", dir);
        assert_int_equal(system(cmd), 0);
    }
    /* Leftovers of a database that is gone: removed; none there is fine. */
    sqlite_file_remove_leftovers(path, "test");
}

static int
setup(void **state)
{
    (void)state;
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
    char cmd[300];

    (void)state;
    (void)snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corrupt_codes),
        cmocka_unit_test(test_wal_and_header),
        cmocka_unit_test(test_move_aside),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
