/* SPDX-License-Identifier: MIT */
/*
 * Tests for the password file (db.c): a table of files and the exact
 * "FILE:LINE: ..." each one gets (hostile rows: duplicates, weak and
 * unknown hashes, hashes cut short, blanks around fields, CR LF, NUL,
 * overlong lines and names); files that load; verification of right and
 * wrong passwords and unknown users with yescrypt, bcrypt and sha512-crypt
 * hashes made here with crypt_gensalt_rn; the dummy hash's method and cost;
 * loading from disk; reference counts.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/auth.h"
#include "auth/auth_impl.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define S(lit)   lit, sizeof(lit) - 1

/* Hashes of "secret" made with libxcrypt at the lowest costs. */
#define H_Y  "$y$j75$A4divVMdAPsx9elcOQxp31$0yxjkkzATGsDE7YiLG9n9q/VLJkqSnBKnJ3mDmAtG25"
#define H_2B "$2b$04$OYKbeztv99pLbtrHdUTIiOGWLldNVxhC1dfj4URxPPcM3gdXhMSjW"
#define H_6                                                                                        \
    "$6$rounds=1000$0I9cXE4Xng1lBSWt$vZrsmWqvmNwqtkFjtKXnOMFMcE./j7/fdDj1Prv71aGrUcCh2qqIvIz0NMVP" \
    "vW4q6w/N/gSymnA1y7EsJ38gw."
#define H_GY "$gy$j75$pQPesz0ATkDKIZWP31jR4/$a9IE/tFa8IXvBVv/NprJ4OcCAp4D0qjjtGsxJYTwJM3"
#define H_7  "$7$CU..../....uYYjd6Fch6C8Rh2gVVYWj/$4BaKrl3k9bmJ47QL7dDD7zXXv2SlI4ps0h5yPrf/5D."
/* ... and with the methods refused. */
#define H_5   "$5$rounds=1000$EV.VTjh8MhpdlHLr$VpluOPCoPRuAFk0DTc92klVMxegZqiib396BP8dQzG4"
#define H_1   "$1$3SnxDuSZ$C8QiPN62uhw60M.Gc1UGX0"
#define H_2A  "$2a$04$eXM.xH40xpf936mW51pjVOpgBI2s.ZLfwlihiJ3v7D9oBCFeR5VeG"
#define H_DES "abNANd1rDfiNc"

#define WEAK(user)                                                                                 \
    "weak or unknown hash for user '" user                                                         \
    "' (expected yescrypt $y$, bcrypt $2b$ or sha512-crypt $6$)"
#define BAD_NAME "expected a user name of 1 to 64 printable ASCII characters without ':' or spaces"
#define U64      "u123456789012345678901234567890123456789012345678901234567890123"

static const struct {
    const char *text;
    size_t len;
    const char *err; /* NULL: loads */
    size_t count;
} load_rows[] = {
    /* Files that load. */
    {S(""), NULL, 0},
    {S("\n\n"), NULL, 0},
    {S("alice:" H_Y "\n"), NULL, 1},
    {S("alice:" H_Y), NULL, 1}, /* no LF at the end */
    {S("# users\n\n   \n\t\n  # indented comment\nalice:" H_Y "\nbob:" H_2B "\ncarol:" H_6
       "\n#end"),
     NULL, 3},
    {S("a:" H_Y "\nb:" H_2B "\nc:" H_6 "\nd:" H_GY "\ne:" H_7 "\n"), NULL, 5},
    {S("bob:$2y$04$OYKbeztv99pLbtrHdUTIiOGWLldNVxhC1dfj4URxPPcM3gdXhMSjW\n"), NULL, 1},
    {S(U64 ":" H_Y "\n"), NULL, 1},
    {S("alice@example.com:" H_Y "\nAlice:" H_Y "\nalice:" H_Y "\n"), NULL, 3},
    {S("!#$%&'*+-/=?^_`{|}~\"(),.;<>@[\\]:" H_Y "\n"), NULL, 1},
    /* locked entries (gate26 passwd --lock): a '!' before a hash that is itself good */
    {S("alice:!" H_Y "\nbob:" H_2B "\n"), NULL, 2},
    {S("alice:!" H_6 "\n"), NULL, 1},

    /* hostile: duplicates, reported at the second line, first in file order */
    {S("alice:" H_Y "\nalice:" H_2B "\n"), "pw:2: duplicate user 'alice' (first at line 1)"},
    {S("b:" H_Y "\na:" H_Y "\n# x\nb:" H_Y "\na:" H_Y "\n"),
     "pw:4: duplicate user 'b' (first at line 1)"},
    {S("a:" H_Y "\na:" H_Y "\na:" H_Y "\n"), "pw:2: duplicate user 'a' (first at line 1)"},
    {S("a:" H_Y "\nb:" H_Y "\na:" H_Y "\nbad line\n"),
     "pw:3: duplicate user 'a' (first at line 1)"},
    {S("a:" H_Y "\nbad line\na:" H_Y "\n"), "pw:2: expected 'USER:HASH'"},

    /* hostile: the line's shape */
    {S("alice\n"), "pw:1: expected 'USER:HASH'"},
    {S("\n\nalice " H_Y "\n"), "pw:3: expected 'USER:HASH'"},
    {S(":" H_Y "\n"), "pw:1: " BAD_NAME},
    {S(" alice:" H_Y "\n"), "pw:1: " BAD_NAME},
    {S("alice :" H_Y "\n"), "pw:1: " BAD_NAME},
    {S("al ice:" H_Y "\n"), "pw:1: " BAD_NAME},
    {S("j\xc3\xb6rg:" H_Y "\n"), "pw:1: " BAD_NAME},
    {S("esc\x1b:" H_Y "\n"), "pw:1: " BAD_NAME},
    {S(U64 "4:" H_Y "\n"), "pw:1: " BAD_NAME},
    {S("alice:" H_Y " \n"),
     "pw:1: expected 'USER:HASH' with nothing after the hash of user 'alice'"},
    {S("alice: " H_Y "\n"),
     "pw:1: expected 'USER:HASH' with nothing after the hash of user 'alice'"},
    {S("alice:" H_Y ":1000:1000\n"),
     "pw:1: expected 'USER:HASH' with nothing after the hash of user 'alice'"},
    {S("alice:" H_Y "\tx\n"),
     "pw:1: expected 'USER:HASH' with nothing after the hash of user 'alice'"},
    {S("alice:\n"), "pw:1: expected a crypt(3) hash after 'alice:'"},
    {S("alice:" H_Y "\r\n"), "pw:1: line ends in CR (expected LF line ends)"},
    {S("# fine\r\n"), "pw:1: line ends in CR (expected LF line ends)"},
    {S("alice:" H_Y "\0\n"), "pw:1: unexpected NUL octet"},
    {S("# a \0 in a comment\n"), "pw:1: unexpected NUL octet"},
    {S("\0"), "pw:1: unexpected NUL octet"},

    /* hostile: weak, unknown or locked hashes */
    {S("alice:" H_DES "\n"), "pw:1: " WEAK("alice")},
    {S("alice:" H_1 "\n"), "pw:1: " WEAK("alice")},
    {S("alice:" H_5 "\n"), "pw:1: " WEAK("alice")},
    {S("alice:" H_2A "\n"), "pw:1: " WEAK("alice")},
    {S("alice:!\n"),
     "pw:1: expected a crypt(3) hash after 'alice:!' (a locked entry keeps its hash)"},
    {S("alice:*\n"), "pw:1: " WEAK("alice")},
    {S("alice:!!" H_Y "\n"), "pw:1: " WEAK("alice")},
    {S("alice:!*\n"), "pw:1: " WEAK("alice")},
    {S("alice:!" H_DES "\n"), "pw:1: " WEAK("alice")},
    {S("alice:! " H_Y "\n"),
     "pw:1: expected 'USER:HASH' with nothing after the hash of user 'alice'"},
    {S("alice:!$y$j75$A4divVMdAPsx9elcOQxp31$\n"),
     "pw:1: malformed hash for user 'alice' (cut short?)"},
    {S("alice:$9$abc$def\n"), "pw:1: " WEAK("alice")},
    {S("alice:$y$\n"), "pw:1: malformed hash for user 'alice' (cut short?)"},
    {S("alice:$y$j75$\n"), "pw:1: malformed hash for user 'alice' (cut short?)"},
    {S("alice:secret\n"), "pw:1: " WEAK("alice")},
    {S("alice:$y$$$$\n"), "pw:1: malformed hash for user 'alice' (cut short?)"},

    /* hostile: hashes cut short or changed */
    {S("alice:$y$j75$A4divVMdAPsx9elcOQxp31$0yxjkkzATGsDE7YiLG9n9q/VLJkqSnBKnJ3mDmAtG2\n"),
     "pw:1: malformed hash for user 'alice' (cut short?)"},
    {S("alice:$y$j75$A4divVMdAPsx9elcOQxp31$\n"),
     "pw:1: malformed hash for user 'alice' (cut short?)"},
    {S("alice:$y$j75$A4divVMdAPsx9elcOQxp31\n"),
     "pw:1: malformed hash for user 'alice' (cut short?)"},
    {S("alice:$y$j75$A4divVMdAPsx9elcOQxp31$0yxjkkzATGsDE7YiLG9n9q/VLJkqSnBKnJ3mDmAtG2!\n"),
     "pw:1: malformed hash for user 'alice' (cut short?)"},
    {S("alice:$2b$04$OYKbeztv99pLbtrHdUTIiOGWLldNVxhC1dfj4URxPPcM3gdXhMSj\n"),
     "pw:1: malformed bcrypt hash for user 'alice' (cut short?)"},
    {S("alice:$2b$04$OYKbeztv99pLbtrHdUTIiOGWLldNVxhC1dfj4URxPPcM3gdXhMSjWW\n"),
     "pw:1: malformed bcrypt hash for user 'alice' (cut short?)"},
    {S("alice:$6$rounds=1000$0I9cXE4Xng1lBSWt$vZrsmWq\n"),
     "pw:1: malformed hash for user 'alice' (cut short?)"},
    {S("ok:" H_Y "\nalice:$6$rounds=1000$0I9cXE4Xng1lBSWt$\n"),
     "pw:2: malformed hash for user 'alice' (cut short?)"},
};

static void
test_load_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(load_rows); i++) {
        char err[512] = "";
        struct auth_db *db =
            auth_db_load_text("pw", load_rows[i].text, load_rows[i].len, err, sizeof(err));

        if (load_rows[i].err == NULL) {
            if (db == NULL)
                fail_msg("row %zu: refused: %s", i, err);
            assert_int_equal(auth_db_count(db), load_rows[i].count);
            auth_db_unref(db);
            continue;
        }
        if (db != NULL)
            fail_msg("row %zu: loaded, want %s", i, load_rows[i].err);
        if (strcmp(err, load_rows[i].err) != 0)
            fail_msg("row %zu:\n want %s\n got  %s", i, load_rows[i].err, err);
    }
}

/* A line of 1024 octets is still read (and refused for its shape); 1025 is too long. */
static void
test_long_lines(void **state)
{
    static char text[2100];
    char err[256];

    (void)state;
    memset(text, 'a', sizeof(text));
    assert_null(auth_db_load_text("pw", text, AUTH_DB_LINE_MAX, err, sizeof(err)));
    assert_string_equal(err, "pw:1: expected 'USER:HASH'");
    assert_null(auth_db_load_text("pw", text, AUTH_DB_LINE_MAX + 1, err, sizeof(err)));
    assert_string_equal(err, "pw:1: line longer than 1024 octets");
    text[AUTH_DB_LINE_MAX + 1] = '\n';
    assert_null(auth_db_load_text("pw", text, sizeof(text), err, sizeof(err)));
    assert_string_equal(err, "pw:1: line longer than 1024 octets");
    memcpy(text, "# ", 2);
    text[AUTH_DB_LINE_MAX] = '\n';
    text[AUTH_DB_LINE_MAX + 1] = 'a';
    assert_null(auth_db_load_text("pw", text, sizeof(text), err, sizeof(err)));
    assert_string_equal(err, "pw:2: line longer than 1024 octets");
}

/* The hash of pass with a new salt of method prefix at cost count. */
static void
make_hash(const char *prefix, unsigned long count, const char *pass, char *out, size_t cap)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    const char *h;

    assert_non_null(cd);
    assert_non_null(crypt_gensalt_rn(prefix, count, NULL, 0, setting, sizeof(setting)));
    h = crypt_rn(pass, setting, cd, sizeof(*cd));
    assert_non_null(h);
    assert_true(h[0] == '$' && strlen(h) < cap);
    strcpy(out, h);
    free(cd);
}

static const struct {
    const char *prefix;
    unsigned long count;
} methods[] = {
    {"$y$", 1},    /* yescrypt */
    {"$2b$", 4},   /* bcrypt */
    {"$6$", 1000}, /* sha512-crypt */
    {NULL, 0},     /* libxcrypt's default (yescrypt), as gate26 passwd makes them */
};

static const struct {
    const char *user;
    const char *pass;
    size_t len;
    bool ok;
} verify_rows[] = {
    {"alice", S("correct horse"), true},
    {"alice", S("correct hors"), false},
    {"alice", S("correct horse "), false},
    {"alice", S("correct horse\n"), false},
    {"alice", S("Correct horse"), false},
    {"alice", S(""), false},
    {"alice", S("correct horse\0"), false}, /* a NUL: refused, not cut there */
    {"alice", S("correct\0horse"), false},
    {"Alice", S("correct horse"), false},
    {"alice ", S("correct horse"), false},
    {"dave", S("correct horse"), false}, /* unknown user */
    {"", S("correct horse"), false},
    {"al:ice", S("correct horse"), false},
    {"bob", S("p\xc3\xa4ss w\xc3\xb6rd"), true},
    {"bob", S("p\xe4ss w\xf6rd"), false}, /* the same in Latin-1 */
    {"bob", S("correct horse"), false},
};

static void
test_verify_methods(void **state)
{
    (void)state;
    for (size_t m = 0; m < COUNT(methods); m++) {
        char ha[CRYPT_OUTPUT_SIZE], hb[CRYPT_OUTPUT_SIZE], text[1024], err[256];
        struct auth_db *db;

        make_hash(methods[m].prefix, methods[m].count, "correct horse", ha, sizeof(ha));
        make_hash(methods[m].prefix, methods[m].count, "p\xc3\xa4ss w\xc3\xb6rd", hb, sizeof(hb));
        assert_int_equal(snprintf(text, sizeof(text), "alice:%s\nbob:%s\n", ha, hb) > 0, 1);
        db = auth_db_load_text("pw", text, strlen(text), err, sizeof(err));
        if (db == NULL)
            fail_msg("%s: %s", methods[m].prefix ? methods[m].prefix : "default", err);
        for (size_t i = 0; i < COUNT(verify_rows); i++) {
            bool ok =
                auth_db_verify(db, verify_rows[i].user, verify_rows[i].pass, verify_rows[i].len);

            if (ok != verify_rows[i].ok)
                fail_msg("%s row %zu: %s: want %d", methods[m].prefix, i, verify_rows[i].user,
                         verify_rows[i].ok);
        }
        auth_db_unref(db);
    }
}

/* The fixed hashes of the table verify too ($gy$, $7$, $2y$ included). */
static void
test_verify_fixed(void **state)
{
    static const char text[] =
        "y:" H_Y "\nb:" H_2B "\ns:" H_6 "\ng:" H_GY "\nc:" H_7
        "\nby:$2y$04$OYKbeztv99pLbtrHdUTIiOGWLldNVxhC1dfj4URxPPcM3gdXhMSjW\n";
    static const char *const users[] = {"y", "b", "s", "g", "c", "by"};
    char err[256];
    struct auth_db *db = auth_db_load_text("pw", text, strlen(text), err, sizeof(err));

    (void)state;
    assert_non_null(db);
    for (size_t i = 0; i < COUNT(users); i++) {
        assert_true(auth_db_verify(db, users[i], "secret", 6));
        assert_false(auth_db_verify(db, users[i], "secreT", 6));
        assert_false(auth_db_verify(db, users[i], "secret", 5));
    }
    auth_db_unref(db);
}

/* A locked user: LOCKED for every password, its own one included; the others are not touched. */
static void
test_locked_user(void **state)
{
    static const struct {
        const char *user;
        const char *pass;
        enum auth_verdict want;
    } rows[] = {
        {"alice", "secret", AUTH_VERDICT_LOCKED}, /* the password that was hers */
        {"alice", "secreT", AUTH_VERDICT_LOCKED}, {"alice", "", AUTH_VERDICT_LOCKED},
        {"Alice", "secret", AUTH_VERDICT_BAD}, /* another name */
        {"bob", "secret", AUTH_VERDICT_OK},       {"bob", "wrong", AUTH_VERDICT_BAD},
        {"nobody", "secret", AUTH_VERDICT_BAD},   {"!alice", "secret", AUTH_VERDICT_BAD},
    };
    static const char text[] = "alice:!" H_Y "\nbob:" H_Y "\n";
    char err[256];
    struct auth_db *db = auth_db_load_text("pw", text, strlen(text), err, sizeof(err));

    (void)state;
    assert_non_null(db);
    for (size_t i = 0; i < COUNT(rows); i++) {
        enum auth_verdict v = auth_db_check(db, rows[i].user, rows[i].pass, strlen(rows[i].pass));

        if (v != rows[i].want)
            fail_msg("row %zu (%s/%s): want %s, got %s", i, rows[i].user, rows[i].pass,
                     auth_verdict_name(rows[i].want), auth_verdict_name(v));
    }
    assert_false(auth_db_verify(db, "alice", "secret", 6));
    assert_true(auth_db_find(db, "alice")->locked);
    assert_false(auth_db_find(db, "bob")->locked);
    /* the hash kept behind the '!' is the one unlocked again */
    assert_string_equal(auth_db_find(db, "alice")->hash, H_Y);
    /* Who may use app passwords (account/): bob only; not a locked, unknown or similar name. */
    assert_true(auth_db_is_active(db, "bob"));
    assert_false(auth_db_is_active(db, "alice"));
    assert_false(auth_db_is_active(db, "Bob"));
    assert_false(auth_db_is_active(db, "nobody"));
    assert_false(auth_db_is_active(db, ""));
    assert_false(auth_db_is_active(db, "bob:"));
    auth_db_unref(db);
    /* A locked first entry still gives the dummy hash its method. */
    db = auth_db_load_text("pw", "alice:!" H_Y "\n", strlen("alice:!" H_Y "\n"), err, sizeof(err));
    assert_non_null(db);
    assert_int_equal(auth_db_check(db, "nobody", "x", 1), AUTH_VERDICT_BAD);
    auth_db_unref(db);
}

/* libxcrypt refuses phrases over 512 octets: false, for known and unknown users. */
static void
test_verify_long_password(void **state)
{
    static char pass[CRYPT_MAX_PASSPHRASE_SIZE + 2];
    char h[CRYPT_OUTPUT_SIZE], text[512], err[256];
    struct auth_db *db;

    (void)state;
    memset(pass, 'x', sizeof(pass));
    make_hash("$y$", 1, "", h, sizeof(h));
    (void)snprintf(text, sizeof(text), "alice:%s\n", h);
    db = auth_db_load_text("pw", text, strlen(text), err, sizeof(err));
    assert_non_null(db);
    assert_false(auth_db_verify(db, "alice", pass, sizeof(pass)));
    assert_false(auth_db_verify(db, "nobody", pass, sizeof(pass)));
    /* An empty password is never a login, even where the hash is of "". */
    assert_false(auth_db_verify(db, "alice", "", 0));
    auth_db_unref(db);
}

/* The dummy hash has the method and cost of the first entry in file order. */
static void
test_dummy_hash(void **state)
{
    static const struct {
        const char *text;
        const char *prefix;
        size_t len;
    } rows[] = {
        {"b:" H_6 "\na:" H_2B "\n", "$6$rounds=1000$", sizeof(H_6) - 1},
        {"z:" H_2B "\na:" H_Y "\n", "$2b$04$", sizeof(H_2B) - 1},
        {"# only comments\n", "$y$j9T$", 73},
        {"", "$y$j9T$", 73},
        {"m:" H_GY "\n", "$gy$j75$", sizeof(H_GY) - 1},
    };

    (void)state;
    for (size_t i = 0; i < COUNT(rows); i++) {
        char err[256];
        struct auth_db *db =
            auth_db_load_text("pw", rows[i].text, strlen(rows[i].text), err, sizeof(err));

        assert_non_null(db);
        assert_non_null(db->dummy);
        if (strncmp(db->dummy, rows[i].prefix, strlen(rows[i].prefix)) != 0)
            fail_msg("row %zu: dummy %s, want prefix %s", i, db->dummy, rows[i].prefix);
        assert_int_equal(strlen(db->dummy), rows[i].len);
        /* Nobody knows its phrase: an unknown user never gets in. */
        assert_false(auth_db_verify(db, "nobody", "", 0));
        assert_false(auth_db_verify(db, "nobody", "secret", 6));
        auth_db_unref(db);
    }
}

static void
test_load_file(void **state)
{
    char path[] = "/tmp/gate26-auth-test-XXXXXX";
    char want[600], err[512];
    struct auth_db *db;
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd != -1);
    assert_int_equal(write(fd, "# test\nalice:" H_Y "\n", 8 + 6 + sizeof(H_Y) - 1),
                     8 + 6 + sizeof(H_Y) - 1);
    assert_int_equal(close(fd), 0);
    db = auth_db_load(path, err, sizeof(err));
    assert_non_null(db);
    assert_int_equal(auth_db_count(db), 1);
    assert_true(auth_db_verify(db, "alice", "secret", 6));
    /* A reference outlives the first unref. */
    assert_ptr_equal(auth_db_ref(db), db);
    auth_db_unref(db);
    assert_true(auth_db_verify(db, "alice", "secret", 6));
    auth_db_unref(db);
    auth_db_unref(NULL);

    fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd != -1);
    assert_int_equal(write(fd, "alice:" H_Y "\n", 6 + sizeof(H_Y)), 6 + sizeof(H_Y));
    assert_int_equal(close(fd), 0);
    assert_null(auth_db_load(path, err, sizeof(err)));
    (void)snprintf(want, sizeof(want), "%s:3: duplicate user 'alice' (first at line 2)", path);
    assert_string_equal(err, want);

    assert_int_equal(unlink(path), 0);
    assert_null(auth_db_load(path, err, sizeof(err)));
    (void)snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
    assert_string_equal(err, want);
    assert_null(auth_db_load("/tmp", err, sizeof(err)));
    assert_string_equal(err, "/tmp: not a regular file");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_table),           cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_verify_methods),       cmocka_unit_test(test_verify_fixed),
        cmocka_unit_test(test_verify_long_password), cmocka_unit_test(test_locked_user),
        cmocka_unit_test(test_dummy_hash),           cmocka_unit_test(test_load_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
