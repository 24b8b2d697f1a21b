/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for abuse.c: the decisions on the counting tables with the
 * limits of a configuration. AUTH failures lock the client and the user,
 * success forgets only its own client's count; a refused MAIL or
 * connection counts nowhere; the auth-failed log line has the exact form
 * contrib/fail2ban/filter.d/gate26.conf matches, hostile user names
 * included.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/policy.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const unsigned char seed[16] = "fedcba9876543210";
static const unsigned char a1[4] = {192, 0, 2, 1}, a2[4] = {192, 0, 2, 2};

static struct conf *
conf_of(const char *text)
{
    char err[512];
    struct conf *c = conf_load_text("/t/test.conf", text, strlen(text), err, sizeof err);

    if (c == NULL)
        print_error("%s\n", err);
    assert_non_null(c);
    return c;
}

static void
test_auth(void **state)
{
    struct conf *c = conf_of("listen internal {\n address 127.0.0.1:26\n allow 127.0.0.1\n}\n"
                             "auth {\n passwd /p\n max-failures 3/1m\n lockout 10s\n}\n");
    struct policy_limits *pl = policy_limits_new(seed);
    uint64_t until = 1;

    (void)state;
    assert_false(policy_auth_locked(pl, AF_INET, a1, "alice", 5, 0, &until));
    assert_int_equal(until, 0);
    assert_false(policy_auth_failed(pl, c, AF_INET, a1, "alice", 5, 1));
    assert_false(policy_auth_failed(pl, c, AF_INET, a1, NULL, 0, 2));
    /* Another client's success does not reset a1's count. */
    policy_auth_succeeded(pl, AF_INET, a2);
    assert_true(policy_auth_failed(pl, c, AF_INET, a1, "bob", 3, 3));
    assert_true(policy_auth_locked(pl, AF_INET, a1, NULL, 0, 4, &until));
    assert_int_equal(until, 10003);
    assert_false(policy_auth_locked(pl, AF_INET, a2, "bob", 3, 4, NULL));
    /* The user: failures from several clients add up, and then it is locked from anywhere. */
    assert_false(policy_auth_failed(pl, c, AF_INET, a2, "Alice", 5, 5));
    assert_true(policy_auth_failed(pl, c, AF_INET, a2, "ALICE", 5, 6));
    assert_true(policy_auth_locked(pl, AF_INET, a2, "alice", 5, 7, &until));
    assert_int_equal(until, 10006);
    /* A client's own success forgets its count, not a lock. */
    policy_auth_succeeded(pl, AF_INET, a2);
    assert_true(policy_auth_locked(pl, AF_INET, a1, NULL, 0, 10002, NULL));
    assert_false(policy_auth_locked(pl, AF_INET, a1, NULL, 0, 10003, NULL));
    assert_false(policy_auth_failed(pl, c, AF_INET, a2, NULL, 0, 20000));
    assert_false(policy_auth_failed(pl, c, AF_INET, a2, NULL, 0, 20001));
    assert_true(policy_auth_failed(pl, c, AF_INET, a2, NULL, 0, 20002));
    policy_limits_free(pl);
    conf_unref(c);
}

static void
test_mail(void **state)
{
    struct conf *c = conf_of("listen internal {\n address 127.0.0.1:26\n allow 127.0.0.1\n"
                             " message-rate 3/1m\n sender-rate 2/1m\n}\n"
                             "auth {\n passwd /p\n user-rate 1/1m\n}\n");
    const struct conf_listen *door = &c->listens[0];
    struct policy_limits *pl = policy_limits_new(seed);
    static const struct {
        const unsigned char *addr;
        const char *sender, *user;
        enum policy_mail_verdict want;
    } rows[] = {
        {a1, "s@x", NULL, POLICY_MAIL_OK},
        {a1, "S@X", NULL, POLICY_MAIL_OK},
        {a1, "s@x", NULL, POLICY_MAIL_SENDER_RATE}, /* refused: a1 not counted */
        {a1, "t@x", NULL, POLICY_MAIL_OK},          /* a1's third */
        {a1, "u@x", NULL, POLICY_MAIL_CLIENT_RATE},
        {a2, "s@x", NULL, POLICY_MAIL_SENDER_RATE},
        {a2, "", NULL, POLICY_MAIL_OK},
        {a2, "v@x", "alice", POLICY_MAIL_OK},
        {a2, "w@x", "Alice", POLICY_MAIL_USER_RATE}, /* refused: neither a2 nor w counted */
        {a2, "w@x", NULL, POLICY_MAIL_OK},
        {a2, "w@x", NULL, POLICY_MAIL_CLIENT_RATE}, /* the client is checked first */
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct policy_mail_who who = {AF_INET,        rows[i].addr,
                                      rows[i].sender, strlen(rows[i].sender),
                                      rows[i].user,   rows[i].user ? strlen(rows[i].user) : 0};
        enum policy_mail_verdict v = policy_mail_take(pl, c, door, &who, 1000 + i);

        if (v != rows[i].want) {
            print_error("mail row %zu: want %d, got %d\n", i, rows[i].want, v);
            fail();
        }
    }
    assert_string_equal(policy_mail_limit_name(POLICY_MAIL_SENDER_RATE), "sender-rate");
    assert_int_equal(policy_mail_limit_rate(c, door, POLICY_MAIL_CLIENT_RATE).n, 3);
    assert_int_equal(policy_mail_take(NULL, c, door,
                                      &(struct policy_mail_who){AF_INET, a1, "s@x", 3, NULL, 0}, 0),
                     POLICY_MAIL_OK);
    policy_limits_free(pl);
    conf_unref(c);
}

static void
test_sessions(void **state)
{
    struct conf *c = conf_of("listen inbound {\n address 127.0.0.1:25\n"
                             " max-sessions-per-client 2\n connection-rate 3/1m\n}\n"
                             "listen internal {\n address 127.0.0.1:26\n allow 127.0.0.1\n}\n"
                             "domain a.test {}\n");
    const struct conf_listen *in = &c->listens[0], *internal = &c->listens[1];
    struct policy_limits *pl = policy_limits_new(seed);
    bool held;

    (void)state;
    assert_int_equal(policy_session_begin(pl, in, AF_INET, a1, 0, &held), POLICY_CONNECT_OK);
    assert_true(held);
    assert_int_equal(policy_session_begin(pl, in, AF_INET, a1, 1, &held), POLICY_CONNECT_OK);
    /* Full: refused, and not counted against the rate. */
    assert_int_equal(policy_session_begin(pl, in, AF_INET, a1, 2, &held),
                     POLICY_CONNECT_CLIENT_SESSIONS);
    assert_false(held);
    policy_session_end(pl, in->role, AF_INET, a1);
    assert_int_equal(policy_session_begin(pl, in, AF_INET, a1, 3, &held), POLICY_CONNECT_OK);
    policy_session_end(pl, in->role, AF_INET, a1);
    assert_int_equal(policy_session_begin(pl, in, AF_INET, a1, 4, &held),
                     POLICY_CONNECT_CLIENT_RATE);
    /* Another door counts on its own, and the internal door has no cap by default. */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(policy_session_begin(pl, internal, AF_INET, a1, 5, &held),
                         POLICY_CONNECT_OK);
        assert_false(held);
    }
    policy_session_end(pl, in->role, AF_INET, a1);
    policy_limits_free(pl);
    conf_unref(c);
}

/* Runs policy_log_auth_failed with stderr in a pipe; returns the line after "info: ". */
static void
log_line(char *out, size_t cap, const char *user, size_t len, bool locked)
{
    int fds[2], saved = dup(STDERR_FILENO);
    ssize_t n;
    char buf[4096];
    const char *p;

    assert_int_equal(pipe(fds), 0);
    assert_true(dup2(fds[1], STDERR_FILENO) >= 0);
    policy_log_auth_failed("1c", "192.0.2.7", DOOR_SUBMISSION, user, len, "bad-password", locked);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    (void)close(saved);
    (void)close(fds[1]);
    n = read(fds[0], buf, sizeof buf - 1);
    (void)close(fds[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    p = strstr(buf, "info: ");
    assert_non_null(p);
    (void)snprintf(out, cap, "%s", p + 6);
}

#define HOSTILE "x\", client=[6.6.6.6]\n\0\xff"

static void
test_log_line(void **state)
{
    static const struct {
        const char *user;
        size_t len;
        bool locked;
        const char *want;
    } rows[] = {
        {"alice", 5, false,
         "-: sid=1c, client=[192.0.2.7], door=submission, event=auth-failed, user=\"alice\", "
         "reason=bad-password\n"},
        {NULL, 0, true,
         "-: sid=1c, client=[192.0.2.7], door=submission, event=auth-failed, user=\"\", "
         "reason=bad-password, locked=yes\n"},
        /* hostile: quotes, a fake client field, a newline, NUL and high octets */
        {HOSTILE, sizeof HOSTILE - 1, false,
         "-: sid=1c, client=[192.0.2.7], door=submission, event=auth-failed, "
         "user=\"x\\\", client=[6.6.6.6]\\x0a\\x00\\xff\", reason=bad-password\n"},
    };
    char got[4096];

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        log_line(got, sizeof got, rows[i].user, rows[i].len, rows[i].locked);
        assert_string_equal(got, rows[i].want);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_mail),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_log_line),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
