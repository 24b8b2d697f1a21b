/* SPDX-License-Identifier: MIT */
/*
 * Tests for the Message-ID extractor. One table of rows, most of them
 * hostile (message octets -> the log field of the queued line), fed whole,
 * split once at every position, and one octet at a time: every way of
 * cutting the input must give the same field. Then the caps: the body kept,
 * the octets of header looked at, and nothing looked at after the header.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/caps.h"
#include "smtp/msgid.h"

struct row {
    const char *name;
    const char *in;
    size_t len;
    const char *field; /* what msgid_log_field() writes */
};

/* Rows may hold NUL octets: the length comes from the literal. */
#define ROW(n, lit, f)                                                                             \
    {                                                                                              \
        n, lit, sizeof(lit) - 1, f                                                                 \
    }

static const struct row rows[] = {
    /* The usual, and the grammar's freedoms (RFC 5322 2.2, 3.6.4). */
    ROW("plain", "Message-ID: <a@b.example>\r\n\r\nbody\r\n", ", message-id=<a@b.example>"),
    ROW("after other fields", "From: x@y\r\nSubject: hi\r\nMessage-ID: <1.2@h>\r\n\r\n",
        ", message-id=<1.2@h>"),
    ROW("last field, no body", "Subject: s\r\nMessage-ID: <x@y>\r\n", ", message-id=<x@y>"),
    ROW("content ends in the body", "Message-ID: <x@y>", ", message-id=<x@y>"),
    ROW("name in any case", "mEsSaGe-iD: <c@d>\r\n\r\n", ", message-id=<c@d>"),
    ROW("no space after colon", "Message-ID:<c@d>\r\n\r\n", ", message-id=<c@d>"),
    ROW("tabs and trailing space", "Message-ID:\t <c@d> \t\r\n\r\n", ", message-id=<c@d>"),
    ROW("folded before the id", "Message-ID:\r\n <folded@x>\r\n\r\n", ", message-id=<folded@x>"),
    ROW("empty line after the name", "Message-ID:\r\n\r\n <no@x>\r\n", ", message-id=\"\""),
    ROW("folded with tab", "Message-ID:\r\n\t<t@x>\r\nSubject: s\r\n\r\n", ", message-id=<t@x>"),
    ROW("folded inside the id", "Message-ID: <a@\r\n b>\r\n\r\n", ", message-id=\"<a@ b>\""),
    ROW("obsolete WSP before colon", "Message-ID \t: <o@x>\r\n\r\n", ", message-id=<o@x>"),
    ROW("first one wins", "Message-ID: <first@x>\r\nMessage-ID: <second@x>\r\n\r\n",
        ", message-id=<first@x>"),
    ROW("first one wins, folded", "Message-ID: <first@x>\r\n (c)\r\nMessage-ID: <2@x>\r\n\r\n",
        ", message-id=\"<first@x> (c)\""),
    ROW("bare LF lines", "Subject: s\nMessage-ID: <lf@x>\n\n", ", message-id=<lf@x>"),

    /* Not there. */
    ROW("no header at all", "", ""),
    ROW("no Message-ID", "Subject: s\r\nFrom: f@x\r\n\r\nMessage-ID: <body@x>\r\n", ""),
    ROW("only in the body", "\r\nMessage-ID: <body@x>\r\n", ""),
    ROW("after a non-field line", "Subject: s\r\nnot a field\r\nMessage-ID: <x@y>\r\n", ""),
    ROW("after a line with no name", "Subject: s\r\n: x\r\nMessage-ID: <x@y>\r\n", ""),
    ROW("after a line with a bare CR", "\rMessage-ID: <x@y>\r\n", ""),
    ROW("after an 8-bit name", "Subj\xc3\xa9: s\r\nMessage-ID: <x@y>\r\n", ""),
    ROW("after a NUL name", "Sub\0ject: s\r\nMessage-ID: <x@y>\r\n", ""),
    ROW("longer name", "Message-IDs: <x@y>\r\n\r\n", ""),
    ROW("prefixed name", "X-Message-ID: <x@y>\r\nResent-Message-ID: <r@y>\r\n\r\n", ""),
    ROW("shorter name", "Message-I: <x@y>\r\nMessage: <z@y>\r\n\r\n", ""),
    ROW("space inside the name", "Message ID: <x@y>\r\nMessage-ID: <z@y>\r\n", ""),
    ROW("folded line of another field",
        "Subject: a\r\n Message-ID: <fold@x>\r\nMessage-ID: <real@x>\r\n\r\n",
        ", message-id=<real@x>"),
    ROW("leading folded line", " Message-ID: <lead@x>\r\nMessage-ID: <real@x>\r\n",
        ", message-id=<real@x>"),

    /* Bodies that are not one plain msg-id: quoted, escaped, never raw. */
    ROW("empty body", "Message-ID:\r\n\r\n", ", message-id=\"\""),
    ROW("only WSP", "Message-ID:   \r\n\r\n", ", message-id=\"\""),
    ROW("empty brackets", "Message-ID: <>\r\n\r\n", ", message-id=<>"),
    ROW("no brackets", "Message-ID: abc@def\r\n\r\n", ", message-id=\"abc@def\""),
    ROW("comment after", "Message-ID: <a@b> (x)\r\n\r\n", ", message-id=\"<a@b> (x)\""),
    ROW("quote and backslash", "Message-ID: <\"a\\b\"@c>\r\n\r\n",
        ", message-id=\"<\\\"a\\\\b\\\"@c>\""),
    ROW("comma (key=value)", "Message-ID: <a,status=sent@c>\r\n\r\n",
        ", message-id=\"<a,status=sent@c>\""),
    ROW("two ids", "Message-ID: <a@b><c@d>\r\n\r\n", ", message-id=\"<a@b><c@d>\""),
    ROW("8-bit", "Message-ID: <caf\xc3\xa9@x>\r\n\r\n", ", message-id=\"<caf\\xc3\\xa9@x>\""),
    ROW("NUL and DEL", "Message-ID: <a\0b\x7f@x>\r\n\r\n", ", message-id=\"<a\\x00b\\x7f@x>\""),
    ROW("ESC (terminal codes)", "Message-ID: <\x1b[31m@x>\r\n\r\n",
        ", message-id=\"<\\x1b[31m@x>\""),
    ROW("bare CR inside dropped", "Message-ID: <a\rb@x>\r\n\r\n", ", message-id=<ab@x>"),
    ROW("log line forgery", "Message-ID: <x>\", status=sent, to=<v@x>\r\n\r\n",
        ", message-id=\"<x>\\\", status=sent, to=<v@x>\""),
};

static void
field_of(struct msgid_scan *m, char *buf)
{
    (void)msgid_log_field(m, buf, MSGID_LOG_CAP);
}

static void
check(const struct row *r, const struct msgid_scan *m)
{
    char buf[MSGID_LOG_CAP];

    (void)msgid_log_field(m, buf, sizeof(buf));
    if (strcmp(buf, r->field) != 0)
        fail_msg("%s: got [%s], want [%s]", r->name, buf, r->field);
}

static void
test_rows_whole(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct msgid_scan m;

        msgid_scan_init(&m);
        msgid_scan_feed(&m, rows[i].in, rows[i].len);
        check(&rows[i], &m);
    }
}

static void
test_rows_one_cut(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        for (size_t cut = 0; cut <= rows[i].len; cut++) {
            struct msgid_scan m;

            msgid_scan_init(&m);
            msgid_scan_feed(&m, rows[i].in, cut);
            msgid_scan_feed(&m, rows[i].in + cut, rows[i].len - cut);
            check(&rows[i], &m);
        }
    }
}

static void
test_rows_octet_by_octet(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct msgid_scan m;

        msgid_scan_init(&m);
        for (size_t k = 0; k < rows[i].len; k++)
            msgid_scan_feed(&m, rows[i].in + k, 1);
        msgid_scan_feed(&m, "", 0);
        check(&rows[i], &m);
    }
}

/* A body over CAP_MESSAGE_ID is kept to the cap, marked cut, and logged cut. */
static void
test_body_cap(void **state)
{
    static char in[CAP_MESSAGE_ID + 64];
    struct msgid_scan m;
    struct slice v;
    char buf[MSGID_LOG_CAP];
    size_t n = 0;

    (void)state;
    memcpy(in, "Message-ID: <", 13);
    n = 13;
    memset(in + n, 'a', CAP_MESSAGE_ID);
    n += CAP_MESSAGE_ID;
    memcpy(in + n, "@x>\r\n\r\n", 7);
    n += 7;
    msgid_scan_init(&m);
    msgid_scan_feed(&m, in, n);
    assert_true(m.done);
    assert_true(m.cut);
    assert_true(msgid_scan_value(&m, &v));
    assert_int_equal(v.len, CAP_MESSAGE_ID);
    assert_memory_equal(v.p, "<aaa", 4);
    field_of(&m, buf);
    /* log_quote() cuts at CAP_LOG_PEER octets and says so. */
    assert_int_equal(strlen(buf), strlen(", message-id=\"\"") + CAP_LOG_PEER + 3);
    assert_string_equal(buf + strlen(buf) - 4, "...\"");

    /* Exactly at the cap: whole, but too long to log as a plain id. */
    msgid_scan_init(&m);
    msgid_scan_feed(&m, "Message-ID: <", 13);
    memset(in, 'b', CAP_MESSAGE_ID - 2);
    msgid_scan_feed(&m, in, CAP_MESSAGE_ID - 2);
    msgid_scan_feed(&m, ">\r\n\r\n", 5);
    assert_false(m.cut);
    assert_true(msgid_scan_value(&m, &v));
    assert_int_equal(v.len, CAP_MESSAGE_ID);
    field_of(&m, buf);
    assert_memory_equal(buf, ", message-id=\"<bbb", 18);

    /* The longest plain id logged as <...>, and one octet more. */
    for (size_t extra = 0; extra <= 1; extra++) {
        size_t len = CAP_LOG_PEER + extra + 2;

        in[0] = '<';
        memset(in + 1, 'c', len - 2);
        in[len - 1] = '>';
        msgid_scan_init(&m);
        msgid_scan_feed(&m, "Message-ID: ", 12);
        msgid_scan_feed(&m, in, len);
        msgid_scan_feed(&m, "\r\n\r\n", 4);
        field_of(&m, buf);
        if (extra == 0)
            assert_memory_equal(buf, ", message-id=<ccc", 17);
        else
            assert_memory_equal(buf, ", message-id=\"<ccc", 18);
    }
}

/* WSP folded in without end is bounded by the body cap, CRs by the scan cap. */
static void
test_endless_folding(void **state)
{
    static char in[4096];
    struct msgid_scan m;
    struct slice v;
    char buf[MSGID_LOG_CAP];

    (void)state;
    msgid_scan_init(&m);
    msgid_scan_feed(&m, "Message-ID: <x", 14);
    for (size_t i = 0; i + 3 <= sizeof(in); i += 3)
        memcpy(in + i, "\r\n ", 3);
    for (size_t k = 0; k < 100 && !m.done; k++)
        msgid_scan_feed(&m, in, sizeof(in) - sizeof(in) % 3);
    assert_true(m.cut);
    assert_true(msgid_scan_value(&m, &v));
    assert_int_equal(v.len, 2); /* "<x": trailing WSP trimmed */

    /* CRs alone add nothing to the body: the scan's cap ends it. */
    memset(in, '\r', sizeof(in));
    msgid_scan_init(&m);
    msgid_scan_feed(&m, "Message-ID: <y@z>", 17);
    while (!m.done)
        msgid_scan_feed(&m, in, sizeof(in));
    assert_int_equal(m.seen, CAP_HEADER_SCAN);
    assert_true(m.cut);
    field_of(&m, buf);
    assert_string_equal(buf, ", message-id=\"<y@z>...\"");
}

/* Feeds n octets (n >= 9) of "X-Pad: ppp...\r\n" header lines. */
static void
pad(struct msgid_scan *m, size_t n)
{
    static char line[2002];

    while (n > 0) {
        size_t len = n >= sizeof(line) ? 1001 : n;

        memcpy(line, "X-Pad: ", 7);
        memset(line + 7, 'p', len - 9);
        memcpy(line + len - 2, "\r\n", 2);
        msgid_scan_feed(m, line, len);
        n -= len;
    }
}

/* msgid_scan_copy: the body as a string, cut to the buffer; NULL without the field. */
static void
test_copy(void **state)
{
    struct msgid_scan m;
    char buf[8];

    (void)state;
    msgid_scan_init(&m);
    msgid_scan_feed(&m, "Subject: x\r\n\r\n", 14);
    assert_null(msgid_scan_copy(&m, buf, sizeof(buf)));
    msgid_scan_init(&m);
    msgid_scan_feed(&m, "Message-ID: <a@b> \r\n\r\n", 22);
    assert_ptr_equal(msgid_scan_copy(&m, buf, sizeof(buf)), buf);
    assert_string_equal(buf, "<a@b>");
    msgid_scan_init(&m);
    msgid_scan_feed(&m, "Message-ID: <long@example>\r\n\r\n", 30);
    assert_string_equal(msgid_scan_copy(&m, buf, sizeof(buf)), "<long@e");
    assert_string_equal(msgid_scan_copy(&m, buf, 1), "");
}

/* A Message-ID after CAP_HEADER_SCAN octets of header is not looked for. */
static void
test_scan_cap(void **state)
{
    struct msgid_scan m;
    struct slice v;
    char buf[MSGID_LOG_CAP];

    (void)state;
    msgid_scan_init(&m);
    pad(&m, CAP_HEADER_SCAN);
    assert_true(m.done);
    msgid_scan_feed(&m, "Message-ID: <late@x>\r\n", 22);
    assert_false(m.found);

    /* The name is seen, not its colon. */
    msgid_scan_init(&m);
    pad(&m, CAP_HEADER_SCAN - 10);
    assert_false(m.done);
    msgid_scan_feed(&m, "Message-ID: <late@x>\r\n", 22);
    assert_true(m.done);
    assert_false(m.found);
    assert_int_equal(m.seen, CAP_HEADER_SCAN);

    /* The line straddles the cap: the start of its body is seen, not its end. */
    msgid_scan_init(&m);
    pad(&m, CAP_HEADER_SCAN - 15);
    msgid_scan_feed(&m, "Message-ID: <late@x>\r\n", 22);
    assert_true(m.done);
    assert_true(m.cut);
    field_of(&m, buf);
    assert_string_equal(buf, ", message-id=\"<la...\"");

    /* Just under the cap it is found whole. */
    msgid_scan_init(&m);
    pad(&m, CAP_HEADER_SCAN - 24);
    msgid_scan_feed(&m, "Message-ID: <late@x>\r\n", 22);
    msgid_scan_feed(&m, "\r\n", 2);
    assert_true(m.done);
    assert_true(msgid_scan_value(&m, &v));
    assert_false(m.cut);
    field_of(&m, buf);
    assert_string_equal(buf, ", message-id=<late@x>");
}

/* After the header nothing is looked at: the body costs nothing. */
static void
test_done_after_header(void **state)
{
    struct msgid_scan m;

    (void)state;
    msgid_scan_init(&m);
    msgid_scan_feed(&m, "Subject: s\r\n\r\n", 14);
    assert_true(m.done);
    assert_int_equal(m.seen, 13); /* up to the empty line's CR */
    msgid_scan_feed(&m, "Message-ID: <x@y>\r\n", 19);
    assert_int_equal(m.seen, 13);
    assert_false(m.found);

    /* Done as soon as the first Message-ID field has ended. */
    msgid_scan_init(&m);
    msgid_scan_feed(&m, "Message-ID: <x@y>\r\nSubject: a long one\r\n", 40);
    assert_true(m.done);
    assert_int_equal(m.seen, 20);
}

/* The same scanner for the Subject (for tracking): the name's rules, unfolding, caps. */
static const struct {
    const char *name, *in, *want; /* want NULL: not found */
} subject_rows[] = {
    {"plain", "From: a@b\r\nSubject: hello there\r\n\r\n", "hello there"},
    {"any case", "sUbJeCt:hi\r\n\r\n", "hi"},
    {"folded", "Subject: one\r\n two\r\nFrom: x\r\n\r\n", "one two"},
    {"first wins", "Subject: a\r\nSubject: b\r\n\r\n", "a"},
    {"script", "Subject: <script>alert(1)</script>\r\n\r\n", "<script>alert(1)</script>"},
    {"quotes and SQL", "Subject: x' OR '1'='1\"; --\r\n\r\n", "x' OR '1'='1\"; --"},
    {"encoded word kept as given", "Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\n",
     "=?utf-8?q?caf=C3=A9?="},
    {"8-bit kept", "Subject: caf\xc3\xa9\r\n\r\n", "caf\xc3\xa9"},
    {"empty", "Subject:\r\n\r\n", ""},
    {"in the body", "From: a\r\n\r\nSubject: no\r\n", NULL},
    {"longer name", "Subjects: no\r\n\r\n", NULL},
    {"shorter name", "Subjec: no\r\n\r\n", NULL},
    {"prefixed name", "X-Subject: no\r\n\r\n", NULL},
    {"after a non-field", "junk\r\nSubject: no\r\n\r\n", NULL},
    {"message-id is not it", "Message-ID: <a@b>\r\n\r\n", NULL},
};

static void
test_subject(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(subject_rows) / sizeof(subject_rows[0]); i++) {
        struct msgid_scan m;
        struct slice v;
        const char *in = subject_rows[i].in;

        /* Whole, and one octet at a time: the same answer. */
        for (int way = 0; way < 2; way++) {
            msgid_scan_init_field(&m, "subject");
            if (way == 0) {
                msgid_scan_feed(&m, in, strlen(in));
            } else {
                for (size_t k = 0; in[k] != '\0'; k++)
                    msgid_scan_feed(&m, in + k, 1);
            }
            if (subject_rows[i].want == NULL) {
                if (msgid_scan_value(&m, &v))
                    fail_msg("%s: found a Subject", subject_rows[i].name);
                continue;
            }
            if (!msgid_scan_value(&m, &v))
                fail_msg("%s: no Subject found", subject_rows[i].name);
            if (v.len != strlen(subject_rows[i].want) ||
                memcmp(v.p, subject_rows[i].want, v.len) != 0)
                fail_msg("%s: got [%.*s]", subject_rows[i].name, (int)v.len, v.p);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_whole),
        cmocka_unit_test(test_rows_one_cut),
        cmocka_unit_test(test_rows_octet_by_octet),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_endless_folding),
        cmocka_unit_test(test_scan_cap),
        cmocka_unit_test(test_done_after_header),
        cmocka_unit_test(test_subject),
        cmocka_unit_test(test_copy),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
