/* SPDX-License-Identifier: MIT */
/*
 * Tests for local.c's pieces: one table of /proc/net/tcp and tcp6 rows with
 * what each decodes to (hostile rows: the header, short lines, bad hex, a
 * wrong address width, numbers out of range, an overlong line), and the
 * scope and privacy of addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "check/check.h"
#include "check/local.h"

#define V4(a, b, c, d)                                                                             \
    {                                                                                              \
        a, b, c, d                                                                                 \
    }
#define LO6                                                                                        \
    {                                                                                              \
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1                                             \
    }

/* The kernel prints each 32-bit word as the host stores it: these rows are x86 (little-endian). */
static const struct {
    int family;
    const char *line;
    int rc;
    unsigned char addr[16];
    unsigned port, state;
    uint32_t uid;
    uint64_t inode;
} rows[] = {
    {AF_INET,
     "   0: 0100007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
     "0 12345 1 0000000000000000 100 0 0 10 0",
     0, V4(127, 0, 0, 1), 25, 0x0A, 0, 12345},
    {AF_INET,
     "  12: 00000000:001A 00000000:0000 0A 00000000:00000000 00:00000000 00000000   108        "
     "0 99 1 0000000000000000 100 0 0 10 0",
     0, V4(0, 0, 0, 0), 26, 0x0A, 108, 99},
    {AF_INET, /* lower-case hex, an established socket (state 01) */
     "1: 0201a8c0:01d1 0301a8c0:c350 01 00000000:00000000 00:00000000 00000000 0 0 7", 0,
     V4(192, 168, 1, 2), 465, 0x01, 0, 7},
    {AF_INET, /* the largest inode the kernel can print */
     "0: 0100007F:024B 00000000:0000 0A 0:0 0:0 0 4294967295 0 18446744073709551615", 0,
     V4(127, 0, 0, 1), 587, 0x0A, 4294967295u, UINT64_MAX},
    {AF_INET6,
     "   0: 00000000000000000000000000000000:001A 00000000000000000000000000000000:0000 0A "
     "00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0",
     0,
     {0},
     26,
     0x0A,
     0,
     4242},
    {AF_INET6,
     "   1: 00000000000000000000000001000000:0019 00000000000000000000000000000000:0000 0A "
     "00000000:00000000 00:00000000 00000000   108        0 5 1 0000000000000000 100 0 0 10 0",
     0, LO6, 25, 0x0A, 108, 5},
    {AF_INET6, /* ::ffff:127.0.0.1 */
     "2: 0000000000000000FFFF00000100007F:0019 00000000000000000000000000000000:0000 0A 0:0 0:0 0 "
     "0 0 6",
     0,
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1},
     25,
     0x0A,
     0,
     6},
    {AF_INET6, /* 2001:db8::1 */
     "3: B80D0120000000000000000001000000:0019 00000000000000000000000000000000:0000 0A 0:0 0:0 0 "
     "0 0 8",
     0,
     {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
     25,
     0x0A,
     0,
     8},

    /* Hostile rows. */
    {AF_INET,
     "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
     "inode",
     -1},
    {AF_INET, "", -1},
    {AF_INET, "   0: 0100007F:0019", -1},
    {AF_INET, "0: 0100007F:0019 00000000:0000 0A 0:0 0:0 0 0 0", -1},            /* no inode */
    {AF_INET, "0: 0100007G:0019 00000000:0000 0A 0:0 0:0 0 0 0 1", -1},          /* G */
    {AF_INET, "0: 0100007F:019 00000000:0000 0A 0:0 0:0 0 0 0 1", -1},           /* short port */
    {AF_INET, "0: 0100007F:00190 00000000:0000 0A 0:0 0:0 0 0 0 1", -1},         /* long port */
    {AF_INET, "0: 100007F:0019 00000000:0000 0A 0:0 0:0 0 0 0 1", -1},           /* 7 digits */
    {AF_INET, "0: 0100007F-0019 00000000:0000 0A 0:0 0:0 0 0 0 1", -1},          /* no colon */
    {AF_INET, "0: 0100007F:0019 00000000:0000 A 0:0 0:0 0 0 0 1", -1},           /* 1-digit st */
    {AF_INET, "0: 0100007F:0019 00000000:0000 0A 0:0 0:0 0 -1 0 1", -1},         /* signed uid */
    {AF_INET, "0: 0100007F:0019 00000000:0000 0A 0:0 0:0 0 4294967296 0 1", -1}, /* uid > 32 bit */
    {AF_INET, "0: 0100007F:0019 00000000:0000 0A 0:0 0:0 0 0 0 18446744073709551616", -1},
    {AF_INET, "0: 0100007F:0019 00000000:0000 0A 0:0 0:0 0 0 0 99999999999999999999999", -1},
    {AF_INET, "0: 0100007F:0019 00000000:0000 0A 0:0 0:0 0 0 0 12x", -1}, /* inode junk */
    {AF_INET, "x: 0100007F:0019 00000000:0000 0A 0:0 0:0 0 0 0 1", -1},   /* sl */
    {AF_INET, "0 0100007F:0019 00000000:0000 0A 0:0 0:0 0 0 0 1", -1},    /* sl colon */
    {AF_INET, "0: 0100007F:0019 0000000:0000 0A 0:0 0:0 0 0 0 1", -1},    /* bad remote */
    {AF_INET6, /* a tcp (IPv4) row read as tcp6 */
     "0: 0100007F:0019 00000000:0000 0A 0:0 0:0 0 0 0 1", -1},
    {AF_INET, /* a tcp6 row read as tcp */
     "0: 00000000000000000000000001000000:0019 00000000000000000000000000000000:0000 0A 0:0 0:0 0 "
     "0 0 5",
     -1},
    {AF_INET6,
     "0: 0000000000000000000000000100000:0019 00000000000000000000000000000000:0000 0A 0:0 "
     "0:0 0 0 0 5",
     -1},                                                                /* 31 digits */
    {AF_INET, "0:\t0100007F:0019 00000000:0000 0A 0:0 0:0 0 0 0 1", -1}, /* tab */
};

static void
test_rows(void **state)
{
    (void)state;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    skip(); /* the rows are as a little-endian kernel prints them */
#endif
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct check_tcp_row r;
        int rc =
            check_tcp_row_parse(slice_make(rows[i].line, strlen(rows[i].line)), rows[i].family, &r);

        if (rc != rows[i].rc)
            fail_msg("row %zu: rc %d, want %d: %s", i, rc, rows[i].rc, rows[i].line);
        if (rc == -1)
            continue;
        assert_int_equal(r.family, rows[i].family);
        assert_memory_equal(r.addr, rows[i].addr, rows[i].family == AF_INET ? 4 : 16);
        assert_int_equal(r.port, rows[i].port);
        assert_int_equal(r.state, rows[i].state);
        assert_int_equal(r.uid, rows[i].uid);
        assert_true(r.inode == rows[i].inode);
    }
}

static void
test_overlong(void **state)
{
    static char line[CHECK_TCP_ROW_MAX + 64];
    const char *row = "0: 0100007F:0019 00000000:0000 0A 0:0 0:0 0 0 0 1";
    struct check_tcp_row r;
    size_t len = strlen(row);

    (void)state;
    memcpy(line, row, len);
    memset(line + len, ' ', sizeof(line) - len);
    /* Within the cap, trailing spaces are fine; one past it, the row is refused. */
    assert_int_equal(check_tcp_row_parse(slice_make(line, CHECK_TCP_ROW_MAX), AF_INET, &r), 0);
    assert_int_equal(check_tcp_row_parse(slice_make(line, CHECK_TCP_ROW_MAX + 1), AF_INET, &r), -1);
    assert_int_equal(check_tcp_row_parse(slice_make(row, len), AF_UNIX, &r), -1);
}

static const struct {
    int family;
    unsigned char addr[16];
    const char *scope;
    bool private;
} addrs[] = {
    {AF_INET, V4(0, 0, 0, 0), "all", false},
    {AF_INET, V4(127, 0, 0, 1), "loopback", true},
    {AF_INET, V4(127, 1, 2, 3), "loopback", true},
    {AF_INET, V4(10, 1, 2, 3), "address", true},
    {AF_INET, V4(172, 16, 0, 1), "address", true},
    {AF_INET, V4(172, 31, 255, 1), "address", true},
    {AF_INET, V4(172, 32, 0, 1), "address", false},
    {AF_INET, V4(192, 168, 0, 1), "address", true},
    {AF_INET, V4(100, 64, 0, 1), "address", true},
    {AF_INET, V4(100, 128, 0, 1), "address", false},
    {AF_INET, V4(169, 254, 1, 1), "address", true},
    {AF_INET, V4(192, 0, 2, 1), "address", false},
    {AF_INET, V4(128, 0, 0, 1), "address", false},
    {AF_INET6, {0}, "all", false},
    {AF_INET6, LO6, "loopback", true},
    {AF_INET6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}, "loopback", true},
    {AF_INET6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1}, "address", true},
    {AF_INET6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 8, 8, 8, 8}, "address", false},
    {AF_INET6, {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "address", true},
    {AF_INET6, {0xfd, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "address", true},
    {AF_INET6, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "address", false},
    {AF_INET6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, "address", false},
};

static void
test_scope(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        const char *scope = check_addr_scope(addrs[i].family, addrs[i].addr);

        if (strcmp(scope, addrs[i].scope) != 0)
            fail_msg("address %zu: scope %s, want %s", i, scope, addrs[i].scope);
        if (check_addr_is_private(addrs[i].family, addrs[i].addr) != addrs[i].private)
            fail_msg("address %zu: private %d, want %d", i, !addrs[i].private, addrs[i].private);
    }
}

/* /proc/locks rows: what each decodes to, and hostile rows refused. */
static void
test_lock_rows(void **state)
{
    static const struct {
        const char *line;
        int rc;
        bool flock;
        long pid;
        unsigned maj, min;
        uint64_t inode;
    } lrows[] = {
        {"1: FLOCK  ADVISORY  WRITE 10190 fe:00:10955929 0 EOF", 0, true, 10190, 0xfe, 0, 10955929},
        {"2: POSIX  ADVISORY  READ 77 08:01:123 0 EOF", 0, false, 77, 8, 1, 123},
        {"3: OFDLCK ADVISORY  READ -1 00:05:17 0 EOF", 0, false, -1, 0, 5, 17},
        {"12: FLOCK  ADVISORY  WRITE 4194304 103:02:18446744073709551615 0 EOF", 0, true, 4194304,
         0x103, 2, UINT64_MAX},
        {"1: LEASE  ACTIVE    READ 1 fd:01:2 0 EOF", 0, false, 1, 0xfd, 1, 2},
        /* hostile */
        {"1: -> FLOCK  ADVISORY  WRITE 10190 fe:00:10955929 0 EOF", -1}, /* a waiter */
        {"1: FLOCK  ADVISORY  WRITE 10190 fe:00 0 EOF", -1},
        {"1: FLOCK  ADVISORY  WRITE 10190 fe::10955929 0 EOF", -1},
        {"1: FLOCK  ADVISORY  WRITE 10190 zz:00:1 0 EOF", -1},
        {"1: FLOCK  ADVISORY  WRITE 10190 fe:00:1x 0 EOF", -1},
        {"1: FLOCK  ADVISORY  WRITE 0 fe:00:1 0 EOF", -1},
        {"1: FLOCK  ADVISORY  WRITE 99999999 fe:00:1 0 EOF", -1},
        {"1: FLOCK  ADVISORY  WRITE abc fe:00:1 0 EOF", -1},
        {"1: BOGUS  ADVISORY  WRITE 1 fe:00:1 0 EOF", -1},
        {"FLOCK  ADVISORY  WRITE 1 fe:00:1 0 EOF", -1},
        {"1: FLOCK ADVISORY WRITE 1", -1},
        {"", -1},
        {"1: FLOCK  ADVISORY  WRITE 1 123456789:00:1 0 EOF", -1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(lrows) / sizeof(lrows[0]); i++) {
        struct check_lock_row r;
        int rc = check_lock_row_parse(slice_make(lrows[i].line, strlen(lrows[i].line)), &r);

        if (rc != lrows[i].rc)
            fail_msg("row %zu (%s): rc %d", i, lrows[i].line, rc);
        if (rc == -1)
            continue;
        assert_int_equal(r.flock, lrows[i].flock);
        assert_int_equal(r.pid, lrows[i].pid);
        assert_int_equal(r.dev_major, lrows[i].maj);
        assert_int_equal(r.dev_minor, lrows[i].min);
        assert_true(r.inode == lrows[i].inode);
    }
    /* an overlong line */
    {
        static char longline[CHECK_TCP_ROW_MAX + 10];
        struct check_lock_row r;

        memset(longline, ' ', sizeof(longline));
        memcpy(longline, "1: FLOCK ADVISORY WRITE 1 fe:00:1 0 EOF", 39);
        assert_int_equal(check_lock_row_parse(slice_make(longline, sizeof(longline)), &r), -1);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_lock_rows),
        cmocka_unit_test(test_overlong),
        cmocka_unit_test(test_scope),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
