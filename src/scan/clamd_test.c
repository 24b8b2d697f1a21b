/* SPDX-License-Identifier: MIT */
/*
 * Tests of clamd.h's pure parts: clamd's answers (clamd_answer_parse) and
 * the targets (clamd_target_parse), in tables with hostile rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cmocka.h>

#include "scan/clamd.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void
test_answer(void **state)
{
    static const struct {
        const char *answer;
        size_t len; /* 0: strlen */
        enum clamd_status status;
        const char *text; /* name or error */
    } rows[] = {
        {"stream: OK", 0, CLAMD_CLEAN, ""},
        {"stream: Win.Test.EICAR_HDB-1 FOUND", 0, CLAMD_INFECTED, "Win.Test.EICAR_HDB-1"},
        {"stream: gate26.test.file.UNOFFICIAL FOUND", 0, CLAMD_INFECTED,
         "gate26.test.file.UNOFFICIAL"},
        {"stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND", 0, CLAMD_INFECTED,
         "Heuristics.Limits.Exceeded.MaxFileSize"},
        {"INSTREAM size limit exceeded. ERROR", 0, CLAMD_ERROR, "INSTREAM size limit exceeded"},
        {"stream: Can't allocate memory ERROR", 0, CLAMD_ERROR, "stream: Can't allocate memory"},
        {"UNKNOWN COMMAND", 0, CLAMD_ERROR, "unexpected answer from clamd: UNKNOWN COMMAND"},
        /* Hostile: never clean unless exactly "stream: OK". */
        {"", 0, CLAMD_ERROR, "unexpected answer from clamd: "},
        {"stream: OK ", 0, CLAMD_ERROR, "unexpected answer from clamd: stream: OK "},
        {"stream: OK\n", 0, CLAMD_ERROR, "unexpected answer from clamd: stream: OK?"},
        {"stream: ok", 0, CLAMD_ERROR, "unexpected answer from clamd: stream: ok"},
        {"OK", 0, CLAMD_ERROR, "unexpected answer from clamd: OK"},
        {"stream:  FOUND", 0, CLAMD_ERROR, "unexpected answer from clamd: stream:  FOUND"},
        {"stream: FOUND", 0, CLAMD_ERROR, "unexpected answer from clamd: stream: FOUND"},
        {"stream: X FOUND", 0, CLAMD_INFECTED, "X"},
        {"stream: Bad\x01Name\xff FOUND", 0, CLAMD_INFECTED, "Bad?Name?"},
        {"stream: A\0B FOUND", 17, CLAMD_INFECTED, "A?B"},
        {" ERROR", 0, CLAMD_ERROR, "clamd answered ERROR"},
        {"ERROR", 0, CLAMD_ERROR, "unexpected answer from clamd: ERROR"},
        {"stream: OK FOUND", 0, CLAMD_INFECTED, "OK"},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct clamd_result r;
        size_t len = rows[i].len != 0 ? rows[i].len : strlen(rows[i].answer);

        memset(&r, 0x5a, sizeof(r));
        clamd_answer_parse(slice_make(rows[i].answer, len), &r);
        if (r.status != rows[i].status)
            fail_msg("row %zu: status %s", i, clamd_status_name(r.status));
        if (r.status == CLAMD_INFECTED)
            assert_string_equal(r.name, rows[i].text);
        else if (r.status == CLAMD_ERROR)
            assert_string_equal(r.error, rows[i].text);
    }
}

static void
test_answer_long_name_is_cut(void **state)
{
    char answer[CLAMD_ANSWER_MAX];
    struct clamd_result r;
    size_t n;

    (void)state;
    memcpy(answer, "stream: ", 8);
    memset(answer + 8, 'A', 500);
    memcpy(answer + 508, " FOUND", 6);
    n = 514;
    clamd_answer_parse(slice_make(answer, n), &r);
    assert_int_equal(r.status, CLAMD_INFECTED);
    assert_int_equal(strlen(r.name), CLAMD_NAME_MAX);
}

static void
test_target(void **state)
{
    static const struct {
        const char *text;
        int rc;
        int family;
        unsigned port;
    } rows[] = {
        {"unix:/run/clamav/clamd.ctl", 0, AF_UNIX, 0},
        {"tcp:127.0.0.1:3310", 0, AF_INET, 3310},
        {"127.0.0.1:3310", 0, AF_INET, 3310},
        {"[::1]:3310", 0, AF_INET6, 3310},
        {"tcp:[::1]:1", 0, AF_INET6, 1},
        {"tcp:127.0.0.1:65535", 0, AF_INET, 65535},
        /* Hostile. */
        {"unix:relative/path", -1, 0, 0},
        {"unix:", -1, 0, 0},
        {"tcp:127.0.0.1", -1, 0, 0},
        {"127.0.0.1:0", -1, 0, 0},
        {"127.0.0.1:65536", -1, 0, 0},
        {"127.0.0.1:-1", -1, 0, 0},
        {"127.0.0.1:", -1, 0, 0},
        {"localhost:3310", -1, 0, 0},
        {"::1:3310", -1, 0, 0},
        {"[::1]3310", -1, 0, 0},
        {"[::1:3310", -1, 0, 0},
        {"[127.0.0.1]:3310", -1, 0, 0},
        {"", -1, 0, 0},
        {"clamd", -1, 0, 0},
        {"udp:127.0.0.1:3310", -1, 0, 0},
        {"127.0.0.1:3310 ", -1, 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct clamd_target t;
        char err[200] = "";
        int rc = clamd_target_parse(rows[i].text, &t, err, sizeof(err));

        if (rc != rows[i].rc)
            fail_msg("row %zu (%s): rc %d", i, rows[i].text, rc);
        if (rc == -1) {
            assert_true(err[0] != '\0');
            continue;
        }
        assert_int_equal(t.sa.ss_family, rows[i].family);
        if (rows[i].family == AF_INET)
            assert_int_equal(ntohs(((struct sockaddr_in *)&t.sa)->sin_port), rows[i].port);
        if (rows[i].family == AF_INET6)
            assert_int_equal(ntohs(((struct sockaddr_in6 *)&t.sa)->sin6_port), rows[i].port);
    }
}

static void
test_target_long_path(void **state)
{
    char text[200], err[200];
    struct clamd_target t;

    (void)state;
    memcpy(text, "unix:/", 6);
    memset(text + 6, 'p', sizeof(text) - 7);
    text[sizeof(text) - 1] = '\0';
    assert_int_equal(clamd_target_parse(text, &t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "longer"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer),
        cmocka_unit_test(test_answer_long_name_is_cut),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_target_long_path),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
