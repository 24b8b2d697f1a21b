/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for abuse.c and login.c: the decisions on the counting
 * tables with the limits of a configuration. AUTH failures lock the client
 * and the user, success forgets only its own client's count; lockout-exempt
 * clients are never locked, known clients (the smart lockout) do not lock
 * the user; unlock forgets; limits-exempt clients are not counted per
 * client; a refused MAIL or connection counts nowhere; the keys of
 * remembered logins; the auth-failed log line has the exact form
 * contrib/fail2ban/filter.d/gate26.conf matches, and auth-locked another,
 * hostile user names included.
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

#include <event2/event.h>

#include "policy/policy.h"
#include "state/state.h"

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

static const unsigned char a3[4] = {10, 9, 8, 7}; /* inside lockout-exempt 10.0.0.0/8 */
static const unsigned char v6a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1};
static const unsigned char v6b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2,
                                      0xff, 0,    0,    0,    0, 0, 0, 9};

enum auth_op {
    A_STOP,
    A_GATE,   /* policy_auth_gate: want an enum policy_auth_gate */
    A_FAIL,   /* policy_auth_failed: want 1 when locked after it */
    A_OK,     /* policy_auth_succeeded */
    A_UNLOCK, /* policy_unlock_client (user NULL) or policy_unlock_user: want an enum */
};

struct auth_step {
    enum auth_op op;
    int family;
    const unsigned char *addr;
    const char *user;
    bool known;
    uint64_t now;
    unsigned want;
};

#define V4 AF_INET
#define V6 AF_INET6

/* max-failures 3/1m, lockout 10s, lockout-exempt 10.0.0.0/8. */
static const struct {
    const char *name;
    struct auth_step steps[24];
} auth_scripts[] = {
    {"the client and the user lock",
     {{A_GATE, V4, a1, "alice", false, 0, POLICY_AUTH_OPEN},
      {A_FAIL, V4, a1, "alice", false, 1, 0},
      {A_FAIL, V4, a1, NULL, false, 2, 0},
      {A_OK, V4, a2, NULL, false, 2, 0}, /* another client's success does not reset a1's */
      {A_FAIL, V4, a1, "bob", false, 3, 1},
      {A_GATE, V4, a1, NULL, false, 4, POLICY_AUTH_CLIENT_LOCKED},
      {A_GATE, V4, a1, "carol", false, 4, POLICY_AUTH_CLIENT_LOCKED},
      {A_GATE, V4, a2, "bob", false, 4, POLICY_AUTH_OPEN},
      /* the user: failures from several clients add up, any case */
      {A_FAIL, V4, a2, "Alice", false, 5, 0},
      {A_FAIL, V4, a2, "ALICE", false, 6, 1},
      {A_GATE, V4, a2, "alice", false, 7, POLICY_AUTH_ASK_KNOWN},
      /* a client's own success forgets its count, not a lock */
      {A_OK, V4, a2, NULL, false, 8, 0},
      {A_GATE, V4, a1, NULL, false, 10002, POLICY_AUTH_CLIENT_LOCKED},
      {A_GATE, V4, a1, NULL, false, 10003, POLICY_AUTH_OPEN},
      {A_FAIL, V4, a2, NULL, false, 20000, 0},
      {A_FAIL, V4, a2, NULL, false, 20001, 0},
      {A_FAIL, V4, a2, NULL, false, 20002, 1},
      {A_STOP}}},
    {"lockout-exempt: never locked, the user still is",
     {{A_FAIL, V4, a3, "bob", false, 0, 0},
      {A_FAIL, V4, a3, "carol", false, 1, 0},
      {A_FAIL, V4, a3, "dave", false, 2, 0},
      {A_FAIL, V4, a3, NULL, false, 3, 0},
      {A_FAIL, V4, a3, NULL, false, 4, 0},
      {A_GATE, V4, a3, "erin", false, 5, POLICY_AUTH_OPEN},
      {A_UNLOCK, V4, a3, NULL, false, 5, POLICY_UNLOCKED_NOTHING}, /* nothing was counted */
      {A_FAIL, V4, a3, "bob", false, 6, 0},
      {A_FAIL, V4, a3, "bob", false, 7, 1}, /* bob's third: bob is locked */
      /* locked for everyone, the exempt client too: it is never a known one */
      {A_GATE, V4, a3, "bob", false, 8, POLICY_AUTH_USER_LOCKED},
      {A_GATE, V4, a1, "bob", false, 8, POLICY_AUTH_ASK_KNOWN},
      {A_GATE, V4, a3, "carol", false, 8, POLICY_AUTH_OPEN}, /* its other users are not */
      {A_STOP}}},
    {"smart lockout: a known client does not lock the user",
     {{A_FAIL, V4, a1, "bob", true, 0, 0},
      {A_FAIL, V4, a1, "bob", true, 1, 0},
      {A_FAIL, V4, a1, "bob", true, 2, 1}, /* the client is locked ... */
      {A_GATE, V4, a1, "bob", false, 3, POLICY_AUTH_CLIENT_LOCKED},
      {A_GATE, V4, a2, "bob", false, 3, POLICY_AUTH_OPEN}, /* ... not bob */
      /* bob locked from elsewhere: a known client is asked about, and is still limited */
      {A_FAIL, V4, a2, "bob", false, 4, 0},
      {A_FAIL, V4, a2, "bob", false, 5, 0},
      {A_FAIL, V4, a2, "bob", false, 6, 1},
      {A_GATE, V6, v6a, "bob", false, 7, POLICY_AUTH_ASK_KNOWN},
      {A_FAIL, V6, v6a, "bob", true, 8, 0},
      {A_FAIL, V6, v6b, "bob", true, 9, 0}, /* the same /64 */
      {A_FAIL, V6, v6a, "bob", true, 10, 1},
      {A_GATE, V6, v6b, "bob", false, 11, POLICY_AUTH_CLIENT_LOCKED},
      {A_STOP}}},
    {"unlock",
     {{A_UNLOCK, V4, a1, NULL, false, 0, POLICY_UNLOCKED_NOTHING},
      {A_UNLOCK, V4, NULL, "nobody", false, 0, POLICY_UNLOCKED_NOTHING},
      {A_FAIL, V4, a1, "bob", false, 1, 0},
      {A_UNLOCK, V4, a1, NULL, false, 2, POLICY_UNLOCKED_FAILURES},
      {A_UNLOCK, V4, NULL, "BOB", false, 2, POLICY_UNLOCKED_FAILURES},
      {A_FAIL, V4, a1, "bob", false, 3, 0},
      {A_FAIL, V4, a1, "bob", false, 4, 0},
      {A_FAIL, V4, a1, "bob", false, 5, 1},
      {A_UNLOCK, V4, a1, NULL, false, 6, POLICY_UNLOCKED_LOCK},
      {A_GATE, V4, a1, "bob", false, 7, POLICY_AUTH_ASK_KNOWN}, /* bob is still locked */
      {A_UNLOCK, V4, NULL, "Bob", false, 7, POLICY_UNLOCKED_LOCK},
      {A_GATE, V4, a1, "bob", false, 8, POLICY_AUTH_OPEN},
      {A_UNLOCK, V4, a1, NULL, false, 9, POLICY_UNLOCKED_NOTHING},
      /* an IPv6 address unlocks its /64 */
      {A_FAIL, V6, v6a, NULL, false, 10, 0},
      {A_FAIL, V6, v6a, NULL, false, 11, 0},
      {A_FAIL, V6, v6a, NULL, false, 12, 1},
      {A_UNLOCK, V6, v6b, NULL, false, 13, POLICY_UNLOCKED_LOCK},
      {A_GATE, V6, v6a, NULL, false, 14, POLICY_AUTH_OPEN},
      {A_STOP}}},
};

static unsigned
auth_step_run(struct policy_limits *pl, const struct conf *c, const struct auth_step *st)
{
    size_t ulen = st->user != NULL ? strlen(st->user) : 0;

    switch (st->op) {
    case A_GATE:
        return policy_auth_gate(pl, c, st->family, st->addr, st->user, ulen, st->now);
    case A_FAIL:
        return policy_auth_failed(pl, c, st->family, st->addr, st->user, ulen, st->known, st->now);
    case A_OK:
        policy_auth_succeeded(pl, st->family, st->addr);
        return 0;
    case A_UNLOCK:
        return st->addr != NULL ? policy_unlock_client(pl, st->family, st->addr, st->now)
                                : policy_unlock_user(pl, st->user, ulen, st->now);
    case A_STOP:
        break;
    }
    return 99;
}

static void
test_auth(void **state)
{
    struct conf *c = conf_of("listen internal {\n address 127.0.0.1:26\n allow 127.0.0.1\n}\n"
                             "auth {\n passwd /p\n max-failures 3/1m\n lockout 10s\n"
                             " lockout-exempt 10.0.0.0/8\n}\n");

    (void)state;
    for (size_t i = 0; i < N_OF(auth_scripts); i++) {
        struct policy_limits *pl = policy_limits_new(seed);

        for (size_t j = 0; auth_scripts[i].steps[j].op != A_STOP; j++) {
            unsigned got = auth_step_run(pl, c, &auth_scripts[i].steps[j]);

            if (got != auth_scripts[i].steps[j].want) {
                print_error("auth script '%s', step %zu: want %u, got %u\n", auth_scripts[i].name,
                            j, auth_scripts[i].steps[j].want, got);
                policy_limits_free(pl);
                conf_unref(c);
                fail();
            }
        }
        policy_limits_free(pl);
    }
    /* No tables: nothing is locked, nothing counted. */
    assert_int_equal(policy_auth_gate(NULL, c, AF_INET, a1, "bob", 3, 0), POLICY_AUTH_OPEN);
    assert_false(policy_auth_failed(NULL, c, AF_INET, a1, "bob", 3, false, 0));
    assert_true(policy_auth_exempt(c, AF_INET, a3));
    assert_false(policy_auth_exempt(c, AF_INET, a1));
    conf_unref(c);
}

#define LONG_USER "0123456789012345678901234567890123456789012345678901234567890123" /* 64 */

/* The keys of remembered logins (docs/state.md), hostile names included. */
static void
test_login_key(void **state)
{
    static const unsigned char mapped[16] = {0, 0, 0,    0,    0,   0, 0, 0,
                                             0, 0, 0xff, 0xff, 192, 0, 2, 1};
    static const struct {
        const char *user;
        size_t len; /* 0: strlen */
        int family;
        const unsigned char *addr;
        const char *want; /* NULL: no key */
    } rows[] = {
        {"alice@ours.test", 0, AF_INET, a1, "alice@ours.test 192.0.2.1"},
        {"Bob", 0, AF_INET6, v6a, "Bob 2001:db8:1:2::/64"},
        {"Bob", 0, AF_INET6, v6b, "Bob 2001:db8:1:2::/64"}, /* the same /64 */
        {"bob", 0, AF_INET6, mapped, "bob 192.0.2.1"},      /* an IPv4-mapped address */
        {LONG_USER, 0, AF_INET, a2, LONG_USER " 192.0.2.2"},
        /* hostile: too long, empty, a space (the separator), a control, a high octet, a NUL */
        {LONG_USER "4", 0, AF_INET, a1, NULL},
        {"", 0, AF_INET, a1, NULL},
        {"a b", 0, AF_INET, a1, NULL},
        {"a\nb", 0, AF_INET, a1, NULL},
        {"a\xff"
         "b",
         0, AF_INET, a1, NULL},
        {"a\0b", 3, AF_INET, a1, NULL},
    };
    char key[512];

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        size_t len = rows[i].len ? rows[i].len : strlen(rows[i].user);
        size_t n =
            policy_login_key(key, sizeof key, rows[i].user, len, rows[i].family, rows[i].addr);

        if (rows[i].want == NULL) {
            assert_int_equal(n, 0);
            continue;
        }
        assert_int_equal(n, strlen(rows[i].want));
        assert_string_equal(key, rows[i].want);
    }
    /* Too small a buffer: no key rather than a cut one. */
    assert_int_equal(policy_login_key(key, 8, "alice", 5, AF_INET, a1), 0);
}

struct lookup_result {
    int calls;
    bool known;
};

static void
lookup_cb(void *arg, bool known)
{
    struct lookup_result *r = arg;

    r->calls++;
    r->known = known;
}

/* Remember, then look up through the memory backend: answers come on the loop. */
static void
test_login_memory(void **state)
{
    static const size_t max[STATE_NS_COUNT] = {[STATE_NS_CALLOUT] = 4, [STATE_NS_LOGIN] = 4};
    struct conf *c = conf_of("listen internal {\n address 127.0.0.1:26\n allow 127.0.0.1\n}\n"
                             "auth {\n passwd /p\n lockout-exempt 10.0.0.0/8\n}\n");
    struct event_base *base = event_base_new();
    struct state *st = state_mem_new(base, max, seed, NULL);
    struct lookup_result r[5] = {{0}};
    struct policy_login_get *g;

    (void)state;
    policy_login_remember(st, c, "bob", 3, AF_INET, a1);
    policy_login_remember(st, c, "bob", 3, AF_INET, a3); /* exempt: not remembered */
    policy_login_remember(st, c, "bob", 3, AF_INET6, v6a);
    policy_login_remember(NULL, c, "bob", 3, AF_INET, a2); /* no store: nothing */
    assert_non_null(policy_login_lookup(st, "bob", 3, AF_INET, a1, lookup_cb, &r[0]));
    assert_non_null(policy_login_lookup(st, "Bob", 3, AF_INET, a1, lookup_cb, &r[1]));
    assert_non_null(policy_login_lookup(st, "bob", 3, AF_INET, a3, lookup_cb, &r[2]));
    assert_non_null(policy_login_lookup(st, "bob", 3, AF_INET6, v6b, lookup_cb, &r[3]));
    g = policy_login_lookup(st, "bob", 3, AF_INET, a2, lookup_cb, &r[4]);
    assert_non_null(g);
    policy_login_cancel(g); /* no callback */
    assert_null(policy_login_lookup(NULL, "bob", 3, AF_INET, a1, lookup_cb, &r[4]));
    assert_null(policy_login_lookup(st, "a b", 3, AF_INET, a1, lookup_cb, &r[4]));
    policy_login_cancel(NULL);
    assert_int_equal(r[0].calls, 0); /* never from inside the call */
    assert_int_not_equal(event_base_loop(base, EVLOOP_NONBLOCK), -1);
    assert_true(r[0].calls == 1 && r[0].known);
    assert_true(r[1].calls == 1 && !r[1].known); /* the name as logged in: case counts */
    assert_true(r[2].calls == 1 && !r[2].known);
    assert_true(r[3].calls == 1 && r[3].known); /* the same /64 */
    assert_int_equal(r[4].calls, 0);
    state_free(st);
    event_base_free(base);
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

/* limits-exempt: no per-client count on that door; the door's others, and the sender's, stay. */
static void
test_limits_exempt(void **state)
{
    struct conf *c = conf_of("listen inbound {\n address 127.0.0.1:25\n"
                             " max-sessions-per-client 1\n connection-rate 2/1m\n"
                             " message-rate 1/1m\n sender-rate 3/1m\n"
                             " limits-exempt 192.0.2.2 2001:db8:1:2::/64\n}\n"
                             "listen internal {\n address 127.0.0.1:26\n allow 127.0.0.1\n"
                             " max-sessions-per-client 1\n}\n"
                             "domain a.test {}\n");
    const struct conf_listen *in = &c->listens[0], *internal = &c->listens[1];
    struct policy_limits *pl = policy_limits_new(seed);
    struct policy_mail_who who = {AF_INET, a2, "s@x", 3, NULL, 0};
    bool held = true;

    (void)state;
    for (int i = 0; i < 50; i++) {
        assert_int_equal(policy_session_begin(pl, in, AF_INET, a2, (uint64_t)i, &held),
                         POLICY_CONNECT_OK);
        assert_false(held); /* nothing to give back */
        assert_int_equal(policy_session_begin(pl, in, AF_INET6, v6b, (uint64_t)i, &held),
                         POLICY_CONNECT_OK);
        assert_false(held);
    }
    /* Another client on the same door is limited as before. */
    assert_int_equal(policy_session_begin(pl, in, AF_INET, a1, 0, &held), POLICY_CONNECT_OK);
    assert_true(held);
    assert_int_equal(policy_session_begin(pl, in, AF_INET, a1, 1, &held),
                     POLICY_CONNECT_CLIENT_SESSIONS);
    policy_session_end(pl, in->role, AF_INET, a1);
    /* The exemption is the door's: on the internal door a2 is counted. */
    assert_int_equal(policy_session_begin(pl, internal, AF_INET, a2, 2, &held), POLICY_CONNECT_OK);
    assert_true(held);
    assert_int_equal(policy_session_begin(pl, internal, AF_INET, a2, 3, &held),
                     POLICY_CONNECT_CLIENT_SESSIONS);
    policy_session_end(pl, internal->role, AF_INET, a2);
    /* message-rate 1/1m does not hold a2 back; sender-rate 3/1m still does. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(policy_mail_take(pl, c, in, &who, 10), POLICY_MAIL_OK);
    assert_int_equal(policy_mail_take(pl, c, in, &who, 11), POLICY_MAIL_SENDER_RATE);
    who.sender = "t@x";
    assert_int_equal(policy_mail_take(pl, c, in, &who, 12), POLICY_MAIL_OK);
    who.addr = a1;
    who.sender = "u@x";
    assert_int_equal(policy_mail_take(pl, c, in, &who, 13), POLICY_MAIL_OK);
    who.sender = "v@x";
    assert_int_equal(policy_mail_take(pl, c, in, &who, 14), POLICY_MAIL_CLIENT_RATE);
    policy_limits_free(pl);
    conf_unref(c);
}

/* Runs policy_log_auth_failed with stderr in a pipe; returns the line after "info: ". */
static void
log_line(char *out, size_t cap, const char *user, size_t len, bool locked, bool refused)
{
    int fds[2], saved = dup(STDERR_FILENO);
    ssize_t n;
    char buf[4096];
    const char *p;

    assert_int_equal(pipe(fds), 0);
    assert_true(dup2(fds[1], STDERR_FILENO) >= 0);
    if (refused)
        policy_log_auth_locked("1c", "192.0.2.7", DOOR_SUBMISSION, user, len, locked);
    else
        policy_log_auth_failed("1c", "192.0.2.7", DOOR_SUBMISSION, user, len, "bad-password",
                               locked);
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
        bool refused; /* auth-locked: locked says whether the client is */
        const char *want;
    } rows[] = {
        {"alice", 5, false, false,
         "-: sid=1c, client=[192.0.2.7], door=submission, event=auth-failed, user=\"alice\", "
         "reason=bad-password\n"},
        {NULL, 0, true, false,
         "-: sid=1c, client=[192.0.2.7], door=submission, event=auth-failed, user=\"\", "
         "reason=bad-password, locked=yes\n"},
        /* hostile: quotes, a fake client field, a newline, NUL and high octets */
        {HOSTILE, sizeof HOSTILE - 1, false, false,
         "-: sid=1c, client=[192.0.2.7], door=submission, event=auth-failed, "
         "user=\"x\\\", client=[6.6.6.6]\\x0a\\x00\\xff\", reason=bad-password\n"},
        /* refused by a lock: another event, which the fail2ban filter does not count again */
        {"alice", 5, false, true,
         "-: sid=1c, client=[192.0.2.7], door=submission, event=auth-locked, user=\"alice\", "
         "lock=user\n"},
        {NULL, 0, true, true,
         "-: sid=1c, client=[192.0.2.7], door=submission, event=auth-locked, user=\"\", "
         "lock=client\n"},
        {HOSTILE, sizeof HOSTILE - 1, true, true,
         "-: sid=1c, client=[192.0.2.7], door=submission, event=auth-locked, "
         "user=\"x\\\", client=[6.6.6.6]\\x0a\\x00\\xff\", lock=client\n"},
    };
    char got[4096];

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        log_line(got, sizeof got, rows[i].user, rows[i].len, rows[i].locked, rows[i].refused);
        assert_string_equal(got, rows[i].want);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth),         cmocka_unit_test(test_login_key),
        cmocka_unit_test(test_login_memory), cmocka_unit_test(test_mail),
        cmocka_unit_test(test_sessions),     cmocka_unit_test(test_limits_exempt),
        cmocka_unit_test(test_log_line),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
