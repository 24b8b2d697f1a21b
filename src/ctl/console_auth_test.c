/* SPDX-License-Identifier: MIT */
/* The console-login request (console_auth.h): a table of lines, good and hostile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "ctl/console_auth.h"

struct row {
    const char *line;
    int rc; /* what the parser returns */
    int op; /* with rc 1 */
    int family;
    const char *user;
};

static const struct row rows[] = {
    {"console-login gate 192.0.2.7 alice@example.com", 1, CTL_CONSOLE_GATE, AF_INET,
     "alice@example.com"},
    {"console-login failed 2001:db8::7 bob", 1, CTL_CONSOLE_FAILED, AF_INET6, "bob"},
    {"console-login failed 192.0.2.7", 1, CTL_CONSOLE_FAILED, AF_INET, ""},
    {"console-login ok ::1 alice", 1, CTL_CONSOLE_OK, AF_INET6, "alice"},
    {"console-login", -1, 0, 0, NULL},
    {"console-login ", -1, 0, 0, NULL},
    {"console-login gate", -1, 0, 0, NULL},
    {"console-login gate ", -1, 0, 0, NULL},
    {"console-login open 192.0.2.7 bob", -1, 0, 0, NULL},
    {"console-login GATE 192.0.2.7 bob", -1, 0, 0, NULL},
    {"console-login gate 192.0.2.256 bob", -1, 0, 0, NULL},
    {"console-login gate example.com bob", -1, 0, 0, NULL},
    {"console-login gate 192.0.2.7 bob extra", -1, 0, 0, NULL},
    {"console-login gate 192.0.2.7 bob ", -1, 0, 0, NULL},
    {"console-login gate  192.0.2.7 bob", -1, 0, 0, NULL},
    {"console-login gate 192.0.2.7 a:b", -1, 0, 0, NULL},
    {"console-login gate 192.0.2.7 a\x01"
     "b",
     -1, 0, 0, NULL},
    {"console-login gate 192.0.2.7 "
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     -1, 0, 0, NULL},
    {"console-login gate 1111:2222:3333:4444:5555:6666:7777:8888:9999 bob", -1, 0, 0, NULL},
    {"console-loginx gate 192.0.2.7 bob", 0, 0, 0, NULL},
    {"status-json", 0, 0, 0, NULL},
    {"console", 0, 0, 0, NULL},
};

static void
test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct ctl_console_auth a;
        char why[160] = "";
        int rc = ctl_console_auth_parse(r->line, strlen(r->line), &a, why, sizeof(why));

        if (rc != r->rc)
            fail_msg("row %zu \"%s\": rc %d, expected %d (%s)", i, r->line, rc, r->rc, why);
        if (rc == -1)
            assert_true(why[0] != '\0');
        if (rc != 1)
            continue;
        assert_int_equal(a.op, r->op);
        assert_int_equal(a.family, r->family);
        assert_string_equal(a.user, r->user);
    }
}

/* A NUL inside the line (the socket reads octets) is refused, not cut short. */
static void
test_nul(void **state)
{
    static const char line[] = "console-login gate 192.0.2.7 bob\0x";
    struct ctl_console_auth a;
    char why[160];

    (void)state;
    assert_int_equal(ctl_console_auth_parse(line, sizeof(line) - 1, &a, why, sizeof(why)), -1);
}

/* Without the daemon's tables, no answer but an error. */
static void
test_run_without_lockouts(void **state)
{
    struct ctl_console_auth a;
    char why[160];

    (void)state;
    assert_int_equal(
        ctl_console_auth_parse("console-login gate 192.0.2.7 bob", 32, &a, why, sizeof(why)), 1);
    assert_null(ctl_console_auth_run(NULL, NULL, &a, why, sizeof(why)));
    assert_string_equal(why, "this daemon keeps no lockouts");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_nul),
        cmocka_unit_test(test_run_without_lockouts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
