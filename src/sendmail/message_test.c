/* SPDX-License-Identifier: MIT */
/*
 * Tests for what sendmail makes of its input (sendmail/message.c) and of
 * its options (sendmail/cli.c): tables of rows, most of them hostile.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sendmail/record.h"
#include "sendmail/sendmail.h"

/* Appends s to out (capacity cap), after a '|' when out is not empty. */
static void
join(char *out, size_t cap, const char *s)
{
    size_t n = strlen(out);

    assert_true(snprintf(out + n, cap - n, "%s%s", n > 0 ? "|" : "", s) < (int)(cap - n));
}

/* ---- qualifying a local name ---- */

static void
test_qualify(void **state)
{
    static const struct {
        const char *in, *want; /* want NULL: refused */
    } rows[] = {
        {"root", "root@gate.example"},
        {"b@far.example", "b@far.example"},
        {"Postmaster", "Postmaster"},
        {"postmaster", "Postmaster"}, /* any case (RFC 5321 4.5.1), written as the RFC does */
        {"POSTMASTER", "Postmaster"},
        {"postmasters", "postmasters@gate.example"},
        {"a b", NULL},
        {"@", NULL},
        {"a@", NULL},
        {"", NULL},
    };
    char out[CAP_MAILBOX + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int rc = sendmail_qualify(rows[i].in, "gate.example", out, sizeof(out));

        if (rows[i].want == NULL) {
            if (rc != -1)
                fail_msg("\"%s\": taken as %s", rows[i].in, out);
            continue;
        }
        if (rc != 0)
            fail_msg("\"%s\": refused", rows[i].in);
        assert_string_equal(out, rows[i].want);
    }
}

/* ---- address lists ---- */

struct list_row {
    const char *name;
    const char *in;
    int want;
    const char *joined; /* the addresses joined by '|' */
};

static const struct list_row lists[] = {
    {"one", "a@b.example", 0, "a@b.example"},
    {"two with spaces", " a@b , c@d ", 0, "a@b|c@d"},
    {"display names", "\"Bee, Jr.\" <b@x>, Cee <c@x>", 0, "b@x|c@x"},
    {"comment", "a@b (the boss), c@d", 0, "a@b|c@d"},
    {"nested comment", "a@b (x (y) z)", 0, "a@b"},
    {"group", "friends: a@x, b@y;, c@z", 0, "a@x|b@y|c@z"},
    {"empty group", "undisclosed-recipients:;", 0, ""},
    {"empty", "", 0, ""},
    {"commas only", ",,,", 0, ""},
    {"bare name", "root", 0, "root"},
    {"quoted local part", "\"a b\"@x", 0, "\"a b\"@x"},
    {"folded", "a@b,\r\n\tc@d", 0, "a@b|c@d"},
    /* Hostile. */
    {"open quote", "\"a@b", -1, NULL},
    {"open comment", "a@b (x", -1, NULL},
    {"open angle", "Bee <b@x", -1, NULL},
    {"escaped quote", "\"a\\\"b\" <x@y>", 0, "x@y"},
};

static void
test_addr_lists(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        const struct list_row *r = &lists[i];
        char **list = NULL, why[128], joined[512] = "";
        size_t n = 0;
        int got = sendmail_addr_list(r->in, strlen(r->in), &list, &n, why, sizeof(why));

        print_message("%s\n", r->name);
        assert_int_equal(got, r->want);
        for (size_t k = 0; k < n; k++) {
            join(joined, sizeof(joined), list[k]);
            free(list[k]);
        }
        free(list);
        if (r->want == 0)
            assert_string_equal(joined, r->joined);
    }
}

/* ---- the message ---- */

struct msg_row {
    const char *name;
    const char *in;
    bool t, i;
    const char *rcpts;    /* -t's, joined by '|' */
    const char *has[4];   /* substrings of the result */
    const char *hasnt[3]; /* substrings it must not hold */
};

static const struct msg_row msgs[] = {
    {"lf lines",
     "Subject: s\n\nbody\n",
     false,
     false,
     "",
     {"\r\nSubject: s\r\n\r\nbody\r\n"},
     {"\n\n"}},
    {"crlf kept",
     "Subject: s\r\n\r\nb\r\n",
     false,
     false,
     "",
     {"Subject: s\r\n\r\nb\r\n"},
     {"\r\r"}},
    {"last line completed", "Subject: s\n\nend", false, false, "", {"\r\n\r\nend\r\n"}, {NULL}},
    {"headers added",
     "Subject: s\n\nb\n",
     false,
     false,
     "",
     {"From: <me@h.example>\r\n", "\r\nDate: ", "\r\nMessage-ID: <"},
     {NULL}},
    {"headers kept",
     "From: x@y\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <a@b>\n\nb\n",
     false,
     false,
     "",
     {"From: x@y\r\n", "Message-ID: <a@b>"},
     {"me@h.example", "@h.example>"}},
    {"dot ends", "Subject: s\n\nkept\n.\ngone\n", false, false, "", {"kept\r\n"}, {"gone"}},
    {"dot with -i",
     "Subject: s\n\nkept\n.\nstays\n",
     false,
     true,
     "",
     {"kept\r\n.\r\nstays\r\n"},
     {NULL}},
    {"-t to cc bcc",
     "To: a@x\nCc: B <b@x>\nBcc: c@x,\n d@x\nSubject: s\n\nBcc: body\n",
     true,
     true,
     "a@x|b@x|c@x|d@x",
     {"To: a@x\r\n", "Cc: B <b@x>\r\n", "\r\n\r\nBcc: body\r\n"},
     {"c@x", "d@x"}},
    {"-t field names any case",
     "tO: a@x\nCC: b@x\n\nb\n",
     true,
     false,
     "a@x|b@x",
     {"tO: a@x"},
     {NULL}},
    {"-t no header", "no header line\n", true, false, "", {"\r\n\r\nno header line\r\n"}, {NULL}},
    {"-t to in body ignored", "Subject: s\n\nTo: x@y\n", true, false, "", {"To: x@y"}, {NULL}},
    {"no empty line",
     "Subject: s\nbody without blank\n",
     false,
     false,
     "",
     {"Subject: s\r\n\r\nbody without blank\r\n"},
     {NULL}},
    {"empty input", "", false, false, "", {"Message-ID: <", "\r\n\r\n"}, {NULL}},
};

static void
test_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        const struct msg_row *r = &msgs[i];
        struct sendmail_opts o;
        struct sendmail_msg m;
        char why[256], joined[512] = "", *text;
        bool eight;

        print_message("%s\n", r->name);
        memset(&o, 0, sizeof(o));
        o.read_rcpts = r->t;
        o.ignore_dots = r->i;
        assert_int_equal(sendmail_msg_make(r->in, strlen(r->in), &o, "me@h.example", "h.example",
                                           &m, why, sizeof(why)),
                         0);
        for (size_t k = 0; k < m.n_rcpts; k++)
            join(joined, sizeof(joined), m.rcpts[k]);
        assert_string_equal(joined, r->rcpts);
        text = malloc(m.len + 1);
        assert_non_null(text);
        memcpy(text, m.data, m.len);
        text[m.len] = '\0';
        for (size_t k = 0; k < 4 && r->has[k] != NULL; k++)
            assert_non_null(strstr(text, r->has[k]));
        for (size_t k = 0; k < 3 && r->hasnt[k] != NULL; k++)
            assert_null(strstr(text, r->hasnt[k]));
        /* Whatever it made is content the record takes. */
        assert_int_equal(record_check_content(m.data, m.len, &eight, why, sizeof(why)), 0);
        free(text);
        sendmail_msg_clear(&m);
    }
}

/* -F's name is a quoted-string: quotes and backslashes escaped, controls dropped. */
static void
test_full_name(void **state)
{
    struct sendmail_opts o;
    struct sendmail_msg m;
    char why[128];

    (void)state;
    memset(&o, 0, sizeof(o));
    o.name = "Ann \"the\" \\Admin\r\nBcc: x@y";
    assert_int_equal(
        sendmail_msg_make("Subject: s\n\nb\n", 15, &o, "a@h", "h", &m, why, sizeof(why)), 0);
    static const char want[] = "From: \"Ann \\\"the\\\" \\\\AdminBcc: x@y\" <a@h>\r\n";

    assert_true(m.len > sizeof(want));
    assert_memory_equal(m.data, want, sizeof(want) - 1);
    sendmail_msg_clear(&m);
}

/* ---- the options ---- */

struct opt_row {
    const char *name;
    const char *argv[6];
    int want;
    bool t, i;
    const char *from, *conf;
    size_t n_rcpts;
};

static const struct opt_row opts[] = {
    {"none", {"sendmail", "a@b"}, 0, false, false, NULL, NULL, 1},
    {"t i", {"sendmail", "-t", "-i"}, 0, true, true, NULL, NULL, 0},
    {"oi", {"sendmail", "-oi", "a@b"}, 0, false, true, NULL, NULL, 1},
    {"f joined", {"sendmail", "-fme@x", "a@b"}, 0, false, false, "me@x", NULL, 1},
    {"f apart", {"sendmail", "-f", "me@x", "a@b"}, 0, false, false, "me@x", NULL, 1},
    {"r is f", {"sendmail", "-r", "me@x", "a@b"}, 0, false, false, "me@x", NULL, 1},
    {"C", {"sendmail", "-C", "/x.conf", "a@b"}, 0, false, false, NULL, "/x.conf", 1},
    {"double dash", {"sendmail", "--", "-t"}, 0, false, false, NULL, NULL, 1},
    {"ignored",
     {"sendmail", "-oem", "-odi", "-B", "8BITMIME", "a@b"},
     0,
     false,
     false,
     NULL,
     NULL,
     1},
    {"options stop at a recipient", {"sendmail", "a@b", "-t"}, 0, false, false, NULL, NULL, 2},
    /* Hostile. */
    {"unknown", {"sendmail", "-q"}, SENDMAIL_EX_USAGE},
    {"unknown mode", {"sendmail", "-bp"}, SENDMAIL_EX_USAGE},
    {"t with junk", {"sendmail", "-tx"}, SENDMAIL_EX_USAGE},
    {"f without value", {"sendmail", "-f"}, SENDMAIL_EX_USAGE},
    {"o alone", {"sendmail", "-o"}, SENDMAIL_EX_USAGE},
    {"N without value", {"sendmail", "-N"}, SENDMAIL_EX_USAGE},
};

static void
test_options(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        const struct opt_row *r = &opts[i];
        char *argv[7] = {NULL};
        struct sendmail_opts o;
        int argc = 0;

        print_message("%s\n", r->name);
        while (argc < 6 && r->argv[argc] != NULL) {
            argv[argc] = (char *)r->argv[argc];
            argc++;
        }
        assert_int_equal(sendmail_parse_opts(argc, argv, &o), r->want);
        if (r->want != 0)
            continue;
        assert_int_equal(o.read_rcpts, r->t);
        assert_int_equal(o.ignore_dots, r->i);
        if (r->from != NULL)
            assert_string_equal(o.from, r->from);
        else
            assert_null(o.from);
        if (r->conf != NULL)
            assert_string_equal(o.conf, r->conf);
        assert_int_equal(o.n_rcpts, r->n_rcpts);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_lists), cmocka_unit_test(test_qualify),
        cmocka_unit_test(test_messages),   cmocka_unit_test(test_full_name),
        cmocka_unit_test(test_options),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
