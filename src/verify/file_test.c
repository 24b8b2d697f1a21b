/* SPDX-License-Identifier: MIT */
/*
 * The address as a key (quotes off, ASCII lower case), postmaster, and the
 * list files: what a line may hold, what each kind of entry matches, and
 * hostile files (controls, NULs, overlong lines and parts, BOM, two '@',
 * literals, numeric domains) refused with FILE:LINE. A big list is loaded
 * and every entry found, and entries that are not there are not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "verify/verify_impl.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void
test_key(void **state)
{
    static const struct {
        const char *addr;
        size_t local_len;
        const char *key; /* NULL: not a key */
    } rows[] = {
        {"alice@example.com", 5, "alice@example.com"},
        {"Alice@Example.COM", 5, "alice@example.com"},
        {"\"alice\"@example.com", 7, "alice@example.com"},
        {"\"Al\\\"ice\"@example.com", 9, "al\"ice@example.com"},
        {"\"a b\"@example.com", 5, "a b@example.com"},
        {"\"a\\\\b\"@x.example", 6, "a\\b@x.example"},
        {"J\xc3\x96rg@example.com", 5, "j\xc3\x96rg@example.com"}, /* UTF-8 kept as it is */
        {"a.b+tag@EXAMPLE.com", 7, "a.b+tag@example.com"},
        /* hostile: not local@domain, an empty quoted string, a cut quoted pair */
        {"Postmaster", 10, NULL},
        {"@example.com", 0, NULL},
        {"alice@example.com", 4, NULL},
        {"alice@", 5, NULL},
        {"\"\"@example.com", 2, NULL},
        {"\"a\\\"@example.com", 4, NULL},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        char out[VERIFY_KEY_MAX + 1];
        size_t n = verify_key(rows[i].addr, strlen(rows[i].addr), rows[i].local_len, out);

        if (rows[i].key == NULL) {
            if (n != 0)
                fail_msg("row %zu: want no key, got '%s'", i, out);
            continue;
        }
        if (n == 0 || strcmp(out, rows[i].key) != 0 || n != strlen(rows[i].key))
            fail_msg("row %zu: want '%s', got %zu '%s'", i, rows[i].key, n, n ? out : "");
    }
}

static void
test_postmaster(void **state)
{
    static const struct {
        const char *local;
        bool yes;
    } rows[] = {
        {"postmaster", true},       {"PostMaster", true}, {"\"postmaster\"", true},
        {"\"POST\\master\"", true}, {"postmaste", false}, {"postmasters", false},
        {"post.master", false},     {"", false},          {"\"\"", false},
        {"postmaster\x00", false},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        size_t len = strlen(rows[i].local) + (i == N_OF(rows) - 1);

        if (verify_is_postmaster(rows[i].local, len) != rows[i].yes)
            fail_msg("row %zu '%s': want %d", i, rows[i].local, rows[i].yes);
    }
}

static struct verify_list *
parse(const char *text, size_t len, char *err, size_t cap)
{
    return verify_list_parse("list", text, len, err, cap);
}

/* What a list file holds, and what each kind of entry matches. */
static void
test_entries(void **state)
{
    static const char text[] = "# recipients\n"
                               "alice@example.com\n"
                               "  Bob@Example.COM.   # case and a trailing dot do not matter\n"
                               "\t@Catch.example\n"
                               "carol\n"
                               "\n"
                               "   \n"
                               "dave@other.example\r\n"
                               "alice@example.com\n"       /* a duplicate */
                               "ALICE@example.com\n"       /* and again, in case */
                               "a#b@example.com\n"         /* '#' inside an entry */
                               "j\xc3\xb6rg@example.com\n" /* UTF-8 local part */
                               "#alice@nowhere.example\n"  /* a comment */
                               "last@example.com";         /* no final LF */
    static const struct {
        const char *addr;
        size_t local_len;
        const char *domain; /* of the block */
        bool match;
    } rows[] = {
        {"alice@example.com", 5, "example.com", true},
        {"ALICE@EXAMPLE.COM", 5, "example.com", true},
        {"\"alice\"@example.com", 7, "example.com", true},
        {"bob@example.com", 3, "example.com", true},
        {"anyone@catch.example", 6, "catch.example", true},
        {"\"any one\"@Catch.Example", 9, "catch.example", true},
        {"carol@example.com", 5, "example.com", true},
        {"carol@other.example", 5, "other.example", true},
        {"dave@other.example", 4, "other.example", true},
        {"a#b@example.com", 3, "example.com", true},
        {"J\xc3\xb6rg@example.com", 5, "example.com", true},
        {"last@example.com", 4, "example.com", true},
        /* not there */
        {"dave@example.com", 4, "example.com", false},
        {"alice@nowhere.example", 5, "nowhere.example", false},
        {"alicex@example.com", 6, "example.com", false},
        {"alic@example.com", 4, "example.com", false},
        {"anyone@sub.catch.example", 6, "sub.catch.example", false},
        {"j\xc3\x96rg@example.com", 5, "example.com", false}, /* non-ASCII case is not folded */
        {"\"carol@x\"@example.com", 9, "example.com", false},
        {"bob@example.com.evil", 3, "example.com.evil", false},
    };
    char err[512] = "";
    struct verify_list *l = parse(text, sizeof(text) - 1, err, sizeof(err));

    (void)state;
    if (l == NULL)
        fail_msg("want success, got '%s'", err);
    assert_int_equal(verify_list_count(l), 8);
    assert_true(verify_list_has(l, "@catch.example", 14));
    assert_true(verify_list_has(l, "carol", 5));
    assert_false(verify_list_has(l, "", 0));
    for (size_t i = 0; i < N_OF(rows); i++) {
        char key[VERIFY_KEY_MAX + 1];
        size_t n = verify_key(rows[i].addr, strlen(rows[i].addr), rows[i].local_len, key);
        size_t local = (size_t)(strrchr(key, '@') - key);

        assert_true(n > 0);
        if (verify_list_match(l, key, n, local, rows[i].domain) != rows[i].match)
            fail_msg("row %zu '%s': want %s", i, rows[i].addr, rows[i].match ? "match" : "none");
    }
    verify_list_free(l);

    /* An empty file, and one of comments only, are lists with nothing in them. */
    l = parse("", 0, err, sizeof(err));
    assert_non_null(l);
    assert_int_equal(verify_list_count(l), 0);
    assert_false(verify_list_match(l, "a@b.example", 11, 1, "b.example"));
    verify_list_free(l);
    l = parse("# nothing\n\n", 11, err, sizeof(err));
    assert_non_null(l);
    assert_int_equal(verify_list_count(l), 0);
    verify_list_free(l);
}

/* Hostile files: each refused with "list:LINE: ..." naming what is wrong. */
static void
test_errors(void **state)
{
    static char long_line[18 + VERIFY_LINE_MAX + 2], long_local[80], long_domain[300],
        long_label[100], max_line[VERIFY_LINE_MAX + 3];
    static const struct {
        const char *name;
        const char *text;
        size_t len; /* 0: strlen */
        unsigned line;
        const char *phrase;
    } rows[] = {
        {"two @", "ok@example.com\nbob@@example.com\n", 0, 2,
         "expected local@domain, @domain or local, found 'bob@@example.com'"},
        {"two @ apart", "a@b@example.com\n", 0, 1, "found 'a@b@example.com'"},
        {"two words", "alice@example.com bob@example.com\n", 0, 1,
         "expected one entry a line, found 'bob@example.com' after it"},
        {"comment without blank is part of the entry", "alice@example.com#x\n", 0, 1,
         "unexpected character in the domain of 'alice@example.com#x'"},
        {"empty domain", "alice@\n", 0, 1, "expected a domain after '@' in 'alice@'"},
        {"only @", "@\n", 0, 1, "expected a domain after '@'"},
        {"only @.", "@.\n", 0, 1, "expected a domain after '@'"},
        {"literal", "alice@[10.0.0.1]\n", 0, 1, "address literals cannot be listed"},
        {"numeric", "alice@10.0.0.1\n", 0, 1,
         "is not a domain name (its last label is all digits)"},
        {"empty label", "alice@a..example\n", 0, 1, "expected a domain name after '@'"},
        {"leading dot", "@.example.com\n", 0, 1, "expected a domain name after '@'"},
        {"hyphen end", "alice@a-.example\n", 0, 1, "expected a domain name after '@'"},
        {"hyphen start", "alice@-a.example\n", 0, 1, "expected a domain name after '@'"},
        {"underscore", "alice@a_b.example\n", 0, 1, "unexpected character in the domain"},
        {"utf-8 domain",
         "alice@b\xc3\xbc"
         "cher.example\n",
         0, 1, "unexpected character in the domain of 'alice@b\\xc3\\xbccher.example'"},
        {"long local", long_local, 0, 1, "local part longer than 64 octets"},
        {"long domain", long_domain, 0, 1, "domain longer than 255 octets"},
        {"long label", long_label, 0, 1, "labels of 1 to 63"},
        {"long line", long_line, 0, 3, "line longer than 1024 octets"},
        {"control",
         "alice@example.com\nbo\x01"
         "b@example.com\n",
         0, 2, "control character 0x01"},
        {"DEL", "bob\x7f@example.com\n", 0, 1, "control character 0x7f"},
        {"escape", "\x1b[31mbob@example.com\n", 0, 1, "control character 0x1b"},
        {"bare CR", "bob\r@example.com\n", 0, 1, "control character 0x0d"},
        {"CR CR LF", "bob@example.com\r\r\n", 0, 1, "control character 0x0d"},
        {"form feed", "\f\n", 0, 1, "control character 0x0c"},
        {"NUL", "bob@example.com\n\0\n", 18, 2, "unexpected NUL octet"},
        {"NUL in entry", "bo\0b@example.com\n", 17, 1, "unexpected NUL octet"},
        {"BOM",
         "\xef\xbb\xbf"
         "alice@example.com\n",
         0, 1, "UTF-8 byte order mark"},
        {"error on a line with no LF", "a@example.com\nb@@x", 0, 2, "found 'b@@x'"},
        {"quote shown escaped", "a\"b@@x\n", 0, 1, "found 'a\\\"b@@x'"},
    };

    (void)state;
    memset(long_line, 'a', sizeof(long_line) - 1);
    memcpy(long_line, "a@b.example\n# two\n", 18); /* the third line is too long */
    memset(long_local, 'x', 65);
    memcpy(long_local + 65, "@example.com\n", 14);
    memcpy(long_domain, "a@", 2);
    for (size_t i = 2; i < 258; i += 2)
        memcpy(long_domain + i, "a.", 2);
    memcpy(long_domain + 258, "example\n", 9);
    memcpy(long_label, "a@", 2);
    memset(long_label + 2, 'b', 64);
    memcpy(long_label + 66, ".example\n", 10);
    for (size_t i = 0; i < N_OF(rows); i++) {
        char err[512] = "", prefix[32];
        size_t len = rows[i].len ? rows[i].len : strlen(rows[i].text);
        struct verify_list *l = parse(rows[i].text, len, err, sizeof(err));

        (void)snprintf(prefix, sizeof(prefix), "list:%u: ", rows[i].line);
        if (l != NULL || strncmp(err, prefix, strlen(prefix)) != 0 ||
            strstr(err, rows[i].phrase) == NULL) {
            verify_list_free(l);
            fail_msg("row '%s': want '%s...%s', got %s '%s'", rows[i].name, prefix, rows[i].phrase,
                     l ? "success" : "error", err);
        }
    }

    /* The line cap is on the line without its line end: 1024 octets (and a CRLF) pass. */
    memset(max_line, 'a', VERIFY_LINE_MAX);
    max_line[0] = '#';
    memcpy(max_line + VERIFY_LINE_MAX, "\r\n", 3);
    {
        char err[512] = "";
        struct verify_list *l = parse(max_line, VERIFY_LINE_MAX + 2, err, sizeof(err));

        if (l == NULL)
            fail_msg("a line of exactly the cap: %s", err);
        verify_list_free(l);
    }
}

/* A big list: every entry is found through the hash set, and others are not. */
static void
test_big(void **state)
{
    enum { N = 200000 };
    size_t cap = (size_t)N * 32, len = 0;
    char *text = malloc(cap), err[256] = "";
    struct verify_list *l;

    (void)state;
    assert_non_null(text);
    for (unsigned i = 0; i < N; i++)
        len += (size_t)snprintf(text + len, cap - len, "user%u@Example.com\n", i);
    l = parse(text, len, err, sizeof(err));
    if (l == NULL)
        fail_msg("%s", err);
    assert_int_equal(verify_list_count(l), N);
    for (unsigned i = 0; i < N; i++) {
        char key[64];
        int n = snprintf(key, sizeof(key), "user%u@example.com", i);

        assert_true(
            verify_list_match(l, key, (size_t)n, (size_t)(strchr(key, '@') - key), "example.com"));
        n = snprintf(key, sizeof(key), "user%u@example.com", N + i);
        assert_false(
            verify_list_match(l, key, (size_t)n, (size_t)(strchr(key, '@') - key), "example.com"));
    }
    verify_list_free(l);
    free(text);
}

/* verify_list_load: a file on disk, and a file that is not there. */
static void
test_load(void **state)
{
    char path[] = "/tmp/gate26-verify-XXXXXX", err[512] = "";
    int fd = mkstemp(path);
    struct verify_list *l;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "a@b.example\nc@@d\n", 17), 17);
    assert_int_equal(close(fd), 0);
    l = verify_list_load(path, err, sizeof(err));
    assert_null(l);
    assert_non_null(strstr(err, ":2: expected local@domain"));
    assert_int_equal(strncmp(err, path, strlen(path)), 0);
    assert_int_equal(unlink(path), 0);
    l = verify_list_load(path, err, sizeof(err));
    assert_null(l);
    assert_non_null(strstr(err, ": cannot open: No such file or directory"));
    l = verify_list_load("/", err, sizeof(err));
    assert_null(l);
    assert_non_null(strstr(err, "/: not a regular file"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key),     cmocka_unit_test(test_postmaster),
        cmocka_unit_test(test_entries), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_big),     cmocka_unit_test(test_load),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
