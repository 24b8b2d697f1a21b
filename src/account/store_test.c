/* SPDX-License-Identifier: MIT */
/*
 * The account store on a real SQLite file in a temporary directory:
 * TOTP enrolment, confirmation and logins with codes computed here, their
 * replay; recovery codes used once; app passwords made, found as typed,
 * refused on another door, after revocation and for another user; the
 * daemon's view of a store made later; hostile names and SQL in user names.
 */
#include <errno.h>
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

#include "account/account.h"

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/g26acct.XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    char cmd[128];

    (void)state;
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct account_store *
open_store(bool create)
{
    char err[512] = "";
    struct account_store *st =
        account_store_open(dir, create, (uid_t)-1, (gid_t)-1, err, sizeof(err));

    if (st == NULL)
        fail_msg("open: %s", err);
    return st;
}

/* The code of secret at time t, as an app shows it. */
static void
code_at(const unsigned char *secret, int64_t t, char out[7])
{
    (void)snprintf(out, 7, "%06u", totp_hotp(secret, TOTP_SECRET_LEN, (uint64_t)(t / 30), 6));
}

static void
test_file_mode_and_daemon_view(void **state)
{
    struct account_store *daemon, *cli;
    char path[128];
    struct stat sb;
    int64_t id;
    char shown[ACCOUNT_APP_PASSWORD_SHOWN + 1];

    (void)state;
    /* The daemon first: no file, nothing stored, and no file made. */
    daemon = open_store(false);
    (void)snprintf(path, sizeof(path), "%s/%s", dir, ACCOUNT_DB_NAME);
    assert_int_equal(account_app_password_check(daemon, "alice", "abcdabcdabcdabcd", 16,
                                                "submission", "127.0.0.1", 100, &id),
                     ACCOUNT_NONE);
    assert_int_equal(account_totp_is_enrolled(daemon, "alice"), 0);
    assert_int_equal(stat(path, &sb), -1);
    /* The command line makes it, 0600. */
    cli = open_store(true);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(
        account_app_password_create(cli, "alice", "phone", "submission", 100, shown, &id),
        ACCOUNT_OK);
    /* The daemon finds it at its next question, without reopening. */
    assert_int_equal(account_app_password_check(daemon, "alice", shown, strlen(shown), "submission",
                                                "127.0.0.1", 200, &id),
                     ACCOUNT_OK);
    account_store_free(daemon);
    account_store_free(cli);
}

static void
test_totp_enrol_confirm_login(void **state)
{
    struct account_store *st = open_store(true);
    unsigned char secret[TOTP_SECRET_LEN], again[TOTP_SECRET_LEN];
    const int64_t t = 1800000000;
    char code[7], other[7];

    (void)state;
    assert_int_equal(account_totp_is_enrolled(st, "bob"), 0);
    assert_int_equal(account_totp_confirm(st, "bob", "123456", t), ACCOUNT_NONE);
    assert_int_equal(account_totp_enrol(st, "bob", secret), ACCOUNT_OK);
    /* A second enrol before the confirmation replaces the secret. */
    assert_int_equal(account_totp_enrol(st, "bob", again), ACCOUNT_OK);
    assert_memory_not_equal(secret, again, sizeof(secret));
    code_at(secret, t, code); /* the old secret's code */
    code_at(again, t, other);
    if (strcmp(code, other) != 0)
        assert_int_equal(account_totp_confirm(st, "bob", code, t), ACCOUNT_BAD_CODE);
    assert_int_equal(account_totp_is_enrolled(st, "bob"), 0);
    /* A pending enrolment is no login. */
    assert_int_equal(account_totp_check(st, "bob", other, t), ACCOUNT_NONE);
    assert_int_equal(account_totp_confirm(st, "bob", other, t), ACCOUNT_OK);
    assert_int_equal(account_totp_is_enrolled(st, "bob"), 1);
    assert_int_equal(account_totp_enrol(st, "bob", secret), ACCOUNT_EXISTS);
    assert_int_equal(account_totp_confirm(st, "bob", other, t + 30), ACCOUNT_EXISTS);
    /* The confirming code is used up: replayed at a login, refused. */
    assert_int_equal(account_totp_check(st, "bob", other, t), ACCOUNT_BAD_CODE);
    code_at(again, t + 30, code);
    assert_int_equal(account_totp_check(st, "bob", code, t + 30), ACCOUNT_OK);
    assert_int_equal(account_totp_check(st, "bob", code, t + 30), ACCOUNT_BAD_CODE);
    /* Hostile codes. */
    assert_int_equal(account_totp_check(st, "bob", "12345", t + 60), ACCOUNT_BAD_CODE);
    assert_int_equal(account_totp_check(st, "bob", "1234567", t + 60), ACCOUNT_BAD_CODE);
    assert_int_equal(account_totp_check(st, "bob", "12e456", t + 60), ACCOUNT_BAD_CODE);
    assert_int_equal(account_totp_check(st, "bob", "' OR 1=1 --", t + 60), ACCOUNT_BAD_CODE);
    assert_int_equal(account_totp_check(st, "nobody", code, t + 60), ACCOUNT_NONE);
    assert_int_equal(account_totp_remove(st, "bob"), ACCOUNT_OK);
    assert_int_equal(account_totp_remove(st, "bob"), ACCOUNT_NONE);
    assert_int_equal(account_totp_is_enrolled(st, "bob"), 0);
    account_store_free(st);
}

static void
test_recovery_codes(void **state)
{
    struct account_store *st = open_store(true);
    unsigned char secret[TOTP_SECRET_LEN];
    char codes[ACCOUNT_RECOVERY_CODES][ACCOUNT_RECOVERY_LEN + 1], old[ACCOUNT_RECOVERY_LEN + 1];
    char typed[32], code[7];
    const int64_t t = 1800000000;

    (void)state;
    assert_int_equal(account_recovery_make(st, "carol", codes), ACCOUNT_NONE); /* not enrolled */
    assert_int_equal(account_totp_enrol(st, "carol", secret), ACCOUNT_OK);
    code_at(secret, t, code);
    assert_int_equal(account_totp_confirm(st, "carol", code, t), ACCOUNT_OK);
    assert_int_equal(account_recovery_make(st, "carol", codes), ACCOUNT_OK);
    assert_int_equal(account_recovery_left(st, "carol"), ACCOUNT_RECOVERY_CODES);
    for (size_t i = 0; i < ACCOUNT_RECOVERY_CODES; i++) {
        assert_int_equal(strlen(codes[i]), ACCOUNT_RECOVERY_LEN);
        assert_int_equal(strspn(codes[i], "abcdefghijklmnopqrstuvwxyz234567"),
                         ACCOUNT_RECOVERY_LEN);
    }
    /* As typed: upper case, in groups. */
    (void)snprintf(typed, sizeof(typed), "%.5s-%s", codes[0], codes[0] + 5);
    for (char *p = typed; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(account_recovery_use(st, "carol", typed), ACCOUNT_OK);
    assert_int_equal(account_recovery_use(st, "carol", codes[0]), ACCOUNT_NONE); /* used */
    assert_int_equal(account_recovery_use(st, "dave", codes[1]), ACCOUNT_NONE);  /* not his */
    assert_int_equal(account_recovery_use(st, "carol", ""), ACCOUNT_NONE);
    assert_int_equal(account_recovery_use(st, "carol", "aaaaaaaaaaa"), ACCOUNT_NONE);
    assert_int_equal(account_recovery_use(st, "carol", "' or ''='"), ACCOUNT_NONE);
    assert_int_equal(account_recovery_left(st, "carol"), ACCOUNT_RECOVERY_CODES - 1);
    /* New codes replace the old ones. */
    memcpy(old, codes[1], sizeof(old));
    assert_int_equal(account_recovery_make(st, "carol", codes), ACCOUNT_OK);
    assert_int_equal(account_recovery_use(st, "carol", old), ACCOUNT_NONE);
    assert_int_equal(account_recovery_use(st, "carol", codes[9]), ACCOUNT_OK);
    /* Removing TOTP removes them. */
    assert_int_equal(account_totp_remove(st, "carol"), ACCOUNT_OK);
    assert_int_equal(account_recovery_left(st, "carol"), 0);
    account_store_free(st);
}

static void
test_app_passwords(void **state)
{
    struct account_store *st = open_store(true);
    char shown[ACCOUNT_APP_PASSWORD_SHOWN + 1], bare[17], upper[32], other[32];
    struct account_app_password *list;
    size_t n;
    int64_t id, id2, got = 0;

    (void)state;
    assert_int_equal(account_app_password_create(st, "erin", "phone", "submission,submissions",
                                                 1000, shown, &id),
                     ACCOUNT_OK);
    /* "abcd efgh ijkl mnop": four groups of four lower-case letters. */
    assert_int_equal(strlen(shown), ACCOUNT_APP_PASSWORD_SHOWN);
    for (size_t i = 0; i < ACCOUNT_APP_PASSWORD_SHOWN; i++) {
        if (i % 5 == 4)
            assert_int_equal(shown[i], ' ');
        else
            assert_true(shown[i] >= 'a' && shown[i] <= 'z');
    }
    for (size_t i = 0, o = 0; i <= ACCOUNT_APP_PASSWORD_SHOWN; i++)
        if (shown[i] != ' ')
            bare[o++] = shown[i];
    for (size_t i = 0; i <= ACCOUNT_APP_PASSWORD_SHOWN; i++)
        upper[i] = shown[i] >= 'a' && shown[i] <= 'z' ? (char)(shown[i] - 32) : shown[i];
    /* Found as shown, without spaces, in upper case. */
    assert_int_equal(account_app_password_check(st, "erin", shown, strlen(shown), "submission",
                                                "192.0.2.7", 2000, &got),
                     ACCOUNT_OK);
    assert_int_equal(got, id);
    assert_int_equal(
        account_app_password_check(st, "erin", bare, 16, "submissions", "2001:db8::1", 3000, &got),
        ACCOUNT_OK);
    assert_int_equal(account_app_password_check(st, "erin", upper, strlen(upper), "submission",
                                                "192.0.2.8", 4000, &got),
                     ACCOUNT_OK);
    /* Another door; another user; a changed letter; hostile shapes. */
    assert_int_equal(account_app_password_check(st, "erin", shown, strlen(shown), "internal",
                                                "192.0.2.9", 5000, &got),
                     ACCOUNT_WRONG_DOOR);
    assert_int_equal(account_app_password_check(st, "frank", shown, strlen(shown), "submission",
                                                "192.0.2.9", 5000, &got),
                     ACCOUNT_NONE);
    memcpy(other, shown, sizeof(shown));
    other[0] = other[0] == 'a' ? 'b' : 'a';
    assert_int_equal(account_app_password_check(st, "erin", other, strlen(other), "submission",
                                                "192.0.2.9", 5000, &got),
                     ACCOUNT_NONE);
    {
        static const char *const bad[] = {"",
                                          "abcd efgh ijkl mno",
                                          "abcd efgh ijkl mnopq",
                                          "abcd-efgh-ijkl-mnop",
                                          "abcd\tefgh ijkl mnop",
                                          "' OR 1=1; DROP TABLE app_passwords; --"};

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            assert_int_equal(account_app_password_check(st, "erin", bad[i], strlen(bad[i]),
                                                        "submission", "192.0.2.9", 5000, &got),
                             ACCOUNT_NONE);
        /* A NUL inside. */
        assert_int_equal(account_app_password_check(st, "erin", "abcdefgh\0ijklmnop", 17,
                                                    "submission", "192.0.2.9", 5000, &got),
                         ACCOUNT_NONE);
    }
    /* The list: the last use and where from, never the password. */
    assert_int_equal(account_app_password_create(st, "erin", "laptop \"work\" ✓", "submission",
                                                 1100, shown, &id2),
                     ACCOUNT_OK);
    assert_int_equal(account_app_password_list(st, "erin", &list, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, id);
    assert_string_equal(list[0].name, "phone");
    assert_string_equal(list[0].doors, "submission,submissions");
    assert_int_equal(list[0].created, 1000);
    assert_int_equal(list[0].last_used, 4000);
    assert_string_equal(list[0].last_from, "192.0.2.8");
    assert_int_equal(list[0].revoked, 0);
    assert_string_equal(list[1].name, "laptop \"work\" ✓");
    assert_int_equal(list[1].last_used, 0);
    free(list);
    /* Revoked: refused as revoked, once, and only by its user. */
    assert_int_equal(account_app_password_revoke(st, "frank", id, 6000), ACCOUNT_NONE);
    assert_int_equal(account_app_password_revoke(st, "erin", id, 6000), ACCOUNT_OK);
    assert_int_equal(account_app_password_revoke(st, "erin", id, 6001), ACCOUNT_REVOKED);
    assert_int_equal(account_app_password_revoke(st, "erin", 9999, 6001), ACCOUNT_NONE);
    assert_int_equal(
        account_app_password_check(st, "erin", bare, 16, "submission", "192.0.2.7", 7000, &got),
        ACCOUNT_REVOKED);
    assert_int_equal(account_app_password_list(st, "erin", &list, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].revoked, 6000);
    assert_int_equal(list[0].last_used, 4000); /* a refused use is no use */
    free(list);
    account_store_free(st);
}

/* Names: empty, too long, control characters. SQL in user names is data. */
static void
test_hostile_names(void **state)
{
    struct account_store *st = open_store(true);
    char shown[ACCOUNT_APP_PASSWORD_SHOWN + 1], long_name[ACCOUNT_NAME_MAX + 2];
    static const char *const bad[] = {"", "tab\there", "line\nbreak", "del\x7f", "\x1b[31m"};
    const char *evil = "x'); DELETE FROM app_passwords; --";
    struct account_app_password *list;
    size_t n;
    int64_t id, got;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            account_app_password_create(st, "gina", bad[i], "submission", 1, shown, &id),
            ACCOUNT_NONE);
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(
        account_app_password_create(st, "gina", long_name, "submission", 1, shown, &id),
        ACCOUNT_NONE);
    long_name[ACCOUNT_NAME_MAX] = '\0';
    assert_int_equal(
        account_app_password_create(st, "gina", long_name, "submission", 1, shown, &id),
        ACCOUNT_OK);
    assert_int_equal(account_app_password_create(st, evil, evil, "submission", 1, shown, &id),
                     ACCOUNT_OK);
    assert_int_equal(account_app_password_check(st, evil, shown, strlen(shown), "submission",
                                                "1.2.3.4", 2, &got),
                     ACCOUNT_OK);
    assert_int_equal(account_app_password_list(st, NULL, &list, &n), 0);
    assert_true(n >= 2);
    free(list);
    assert_int_equal(account_app_password_list(st, "gina", &list, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].name, long_name);
    free(list);
    account_store_free(st);
}

/* Not a database: opening fails with a message, for the command line and the daemon. */
static void
test_broken_file(void **state)
{
    char path[128], err[512] = "";
    FILE *f;
    struct account_store *st;
    int64_t id;

    (void)state;
    (void)snprintf(path, sizeof(path), "%s/%s", dir, ACCOUNT_DB_NAME);
    (void)unlink(path);
    f = fopen(path, "w");
    assert_non_null(f);
    (void)fputs("this is not an SQLite database, not at all, but long enough to be read\n", f);
    (void)fclose(f);
    assert_null(account_store_open(dir, true, (uid_t)-1, (gid_t)-1, err, sizeof(err)));
    assert_non_null(strstr(err, ACCOUNT_DB_NAME));
    st = account_store_open(dir, false, (uid_t)-1, (gid_t)-1, err, sizeof(err));
    if (st != NULL) { /* the daemon's view: an error for each question, never a crash */
        assert_int_equal(account_app_password_check(st, "a", "abcdabcdabcdabcd", 16, "submission",
                                                    "1.2.3.4", 2, &id),
                         ACCOUNT_ERROR);
        account_store_free(st);
    }
    (void)unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_mode_and_daemon_view),
        cmocka_unit_test(test_totp_enrol_confirm_login),
        cmocka_unit_test(test_recovery_codes),
        cmocka_unit_test(test_app_passwords),
        cmocka_unit_test(test_hostile_names),
        cmocka_unit_test(test_broken_file),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
