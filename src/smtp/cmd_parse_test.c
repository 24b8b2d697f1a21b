/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for cmd_parse.c: the command line split (RFC 5321 4.1.1), the
 * MAIL and RCPT arguments with their ESMTP parameters (RFC 1870, RFC 6152,
 * RFC 6531, RFC 3461, RFC 6533), HELO/EHLO and BDAT (RFC 3030). Every table
 * has hostile rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/cmd_parse.h"

/* An explicit length, for rows holding a NUL. */
#define N(s) s, sizeof(s) - 1

static struct slice
sl(const char *s, size_t len)
{
    return slice_make(s, len ? len : strlen(s));
}

/* ---- smtp_cmd_parse -------------------------------------------------- */

static const struct {
    const char *line;
    size_t len;
    int rc;
    enum smtp_verb verb;
    bool has_arg;
    const char *arg;
} cmd_rows[] = {
    {"HELO example.com", 0, 0, SMTP_VERB_HELO, true, "example.com"},
    {"helo x", 0, 0, SMTP_VERB_HELO, true, "x"},
    {"HeLo x", 0, 0, SMTP_VERB_HELO, true, "x"},
    {"EHLO [192.0.2.1]", 0, 0, SMTP_VERB_EHLO, true, "[192.0.2.1]"},
    {"ehlo", 0, 0, SMTP_VERB_EHLO, false, ""},
    {"MAIL FROM:<a@b> SIZE=10", 0, 0, SMTP_VERB_MAIL, true, "FROM:<a@b> SIZE=10"},
    {"mail from:<>", 0, 0, SMTP_VERB_MAIL, true, "from:<>"},
    {"RCPT TO:<a@b>", 0, 0, SMTP_VERB_RCPT, true, "TO:<a@b>"},
    {"DATA", 0, 0, SMTP_VERB_DATA, false, ""},
    {"data", 0, 0, SMTP_VERB_DATA, false, ""},
    {"DATA x", 0, 0, SMTP_VERB_DATA, true, "x"},
    {"BDAT 10 LAST", 0, 0, SMTP_VERB_BDAT, true, "10 LAST"},
    {"RSET", 0, 0, SMTP_VERB_RSET, false, ""},
    {"NOOP", 0, 0, SMTP_VERB_NOOP, false, ""},
    {"NOOP hello  world ", 0, 0, SMTP_VERB_NOOP, true, "hello  world "},
    {"QUIT", 0, 0, SMTP_VERB_QUIT, false, ""},
    {"quit", 0, 0, SMTP_VERB_QUIT, false, ""},
    {"VRFY user", 0, 0, SMTP_VERB_VRFY, true, "user"},
    {"EXPN list", 0, 0, SMTP_VERB_EXPN, true, "list"},
    {"HELP", 0, 0, SMTP_VERB_HELP, false, ""},
    {"HELP MAIL", 0, 0, SMTP_VERB_HELP, true, "MAIL"},
    {"STARTTLS", 0, 0, SMTP_VERB_STARTTLS, false, ""},
    {"StartTLS", 0, 0, SMTP_VERB_STARTTLS, false, ""},
    {"AUTH PLAIN AGEAYg==", 0, 0, SMTP_VERB_AUTH, true, "PLAIN AGEAYg=="},
    {"ETRN example.com", 0, 0, SMTP_VERB_ETRN, true, "example.com"},
    {"MAIL ", 0, 0, SMTP_VERB_MAIL, true, ""},
    {"MAIL  FROM:<>", 0, 0, SMTP_VERB_MAIL, true, " FROM:<>"},
    {"NOOP \xc3\xa9", 0, 0, SMTP_VERB_NOOP, true, "\xc3\xa9"},
    /* unknown verbs are not errors of the line */
    {"XFOO", 0, 0, SMTP_VERB_UNKNOWN, false, ""},
    {"X bar", 0, 0, SMTP_VERB_UNKNOWN, true, "bar"},
    {"ABCDEFGHIJKL", 0, 0, SMTP_VERB_UNKNOWN, false, ""},
    {"STARTTLSX", 0, 0, SMTP_VERB_UNKNOWN, false, ""},
    {"MAI", 0, 0, SMTP_VERB_UNKNOWN, false, ""},
    {"MAILS FROM:<>", 0, 0, SMTP_VERB_UNKNOWN, true, "FROM:<>"},
    {"MA IL", 0, 0, SMTP_VERB_UNKNOWN, true, "IL"},
    {"GET / HTTP/1.1", 0, 0, SMTP_VERB_UNKNOWN, true, "/ HTTP/1.1"},
    /* hostile */
    {"", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {" ", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {" MAIL FROM:<>", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"ABCDEFGHIJKLM", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"MAIL:", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"MAIL\tFROM:<>", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"M4IL", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"4", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"X-FOO", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"DATA\r", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"DATA\n", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"DATA\r\n", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"QUIT\r\nDATA", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"RCPT TO:<a@b>\r\nDATA", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"NOOP a\rb", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"NOOP a\nb", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {N("DA\0TA"), -1, SMTP_VERB_UNKNOWN, false, ""},
    {N("NOOP a\0b"), -1, SMTP_VERB_UNKNOWN, false, ""},
    {N("\0"), -1, SMTP_VERB_UNKNOWN, false, ""},
    {N("QUIT\0"), -1, SMTP_VERB_UNKNOWN, false, ""},
    {"\xc3\xa9", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"HELO\x7f", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"QU\xc3\x8dT", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
    {"\x1b[AQUIT", 0, -1, SMTP_VERB_UNKNOWN, false, ""},
};

static void
test_cmd_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cmd_rows / sizeof cmd_rows[0]; i++) {
        struct smtp_cmd cmd;
        struct slice line = sl(cmd_rows[i].line, cmd_rows[i].len);
        int rc;

        memset(&cmd, 0x5a, sizeof cmd);
        rc = smtp_cmd_parse(line, &cmd);
        if (rc != cmd_rows[i].rc || cmd.verb != cmd_rows[i].verb ||
            cmd.has_arg != cmd_rows[i].has_arg || cmd.arg.len != strlen(cmd_rows[i].arg) ||
            memcmp(cmd.arg.p == NULL ? "" : cmd.arg.p, cmd_rows[i].arg, cmd.arg.len) != 0) {
            fprintf(stderr, "cmd row %zu: \"%s\": rc %d verb %d arg \"%.*s\"\n", i,
                    cmd_rows[i].line, rc, cmd.verb, (int)cmd.arg.len,
                    cmd.arg.p == NULL ? "" : cmd.arg.p);
            fail();
        }
        if (rc == 0) {
            /* the argument is a view into the line, ending where it ends */
            assert_ptr_equal(cmd.arg.p + cmd.arg.len, line.p + line.len);
        }
    }
    /* an empty line with no buffer at all */
    {
        struct smtp_cmd cmd;

        assert_int_equal(smtp_cmd_parse(slice_make(NULL, 0), &cmd), -1);
        assert_int_equal(cmd.verb, SMTP_VERB_UNKNOWN);
    }
}

static void
test_verb_names_and_caps(void **state)
{
    static const char *names[] = {"HELO", "EHLO", "MAIL",     "RCPT", "DATA",
                                  "BDAT", "RSET", "NOOP",     "QUIT", "VRFY",
                                  "EXPN", "HELP", "STARTTLS", "AUTH", "ETRN"};

    (void)state;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct smtp_cmd cmd;
        char lower[16];

        assert_int_equal(smtp_cmd_parse(sl(names[i], 0), &cmd), 0);
        assert_int_not_equal(cmd.verb, SMTP_VERB_UNKNOWN);
        assert_string_equal(smtp_verb_name(cmd.verb), names[i]);
        for (size_t j = 0; j <= strlen(names[i]); j++)
            lower[j] = (char)(names[i][j] | (names[i][j] ? 0x20 : 0));
        assert_int_equal(smtp_cmd_parse(sl(lower, 0), &cmd), 0);
        assert_string_equal(smtp_verb_name(cmd.verb), names[i]);
    }
    assert_string_equal(smtp_verb_name(SMTP_VERB_UNKNOWN), "?");
    assert_string_equal(smtp_verb_name((enum smtp_verb)999), "?");

    assert_int_equal(smtp_cmd_line_cap(SMTP_VERB_MAIL), CAP_MAIL_LINE);
    assert_int_equal(smtp_cmd_line_cap(SMTP_VERB_RCPT), CAP_RCPT_LINE);
    assert_int_equal(smtp_cmd_line_cap(SMTP_VERB_HELO), CAP_CMD_LINE);
    assert_int_equal(smtp_cmd_line_cap(SMTP_VERB_DATA), CAP_CMD_LINE);
    assert_int_equal(smtp_cmd_line_cap(SMTP_VERB_AUTH), CAP_AUTH_LINE);
    assert_true(CAP_AUTH_LINE >= 5 + 6 + (3 * 256 + 2) / 3 * 4); /* AUTH PLAIN, 3 x 255 */
    assert_int_equal(smtp_cmd_line_cap(SMTP_VERB_UNKNOWN), CAP_CMD_LINE);
    assert_int_equal(CAP_CMD_LINE, 512);
    assert_true(CAP_MAIL_LINE > CAP_CMD_LINE + 26 + 100 + 10);
    assert_true(CAP_RCPT_LINE >= CAP_CMD_LINE + 500);
}

/* ---- MAIL ------------------------------------------------------------ */

#define A_OK      SMTP_ARG_OK
#define A_SYNTAX  SMTP_ARG_SYNTAX
#define A_ADDR    SMTP_ARG_ADDR_SYNTAX
#define A_LLONG   SMTP_ARG_LOCAL_TOO_LONG
#define A_DLONG   SMTP_ARG_DOMAIN_TOO_LONG
#define A_PSYNTAX SMTP_ARG_PARAM_SYNTAX
#define A_PUNKN   SMTP_ARG_PARAM_UNKNOWN
#define A_UTF8    SMTP_ARG_UTF8_NOT_ALLOWED

struct mail_row {
    const char *arg;
    enum smtp_arg_result want;
    const char *from; /* on OK */
    bool has_size;
    uint64_t size;
    enum smtp_body body;
    bool smtputf8;
    enum smtp_ret ret;
    const char *envid; /* NULL: none */
};

static const struct mail_row mail_rows[] = {
    {"FROM:<a@b>", A_OK, "a@b"},
    {"from:<a@b>", A_OK, "a@b"},
    {"From:<A@B>", A_OK, "A@B"},
    {"FROM:<>", A_OK, ""},
    {"FROM: <a@b>", A_OK, "a@b"},
    {"FROM:   <>", A_OK, ""},
    {"FROM:<a@b> ", A_OK, "a@b"},
    {"FROM:<a@b>   ", A_OK, "a@b"},
    {"FROM:<@x,@y:a@b>", A_OK, "a@b"},
    {"FROM:<\"a b\"@[IPv6:::1]>", A_OK, "\"a b\"@[IPv6:::1]"},
    {"FROM:<\"a>b\"@x>", A_OK, "\"a>b\"@x"},
    {"FROM:<\"a\\\">b\"@x>", A_OK, "\"a\\\">b\"@x"},
    {"FROM:<a@b> SIZE=1000", A_OK, "a@b", true, 1000},
    {"FROM:<a@b> size=0", A_OK, "a@b", true, 0},
    {"FROM:<a@b> SIZE=18446744073709551615", A_OK, "a@b", true, UINT64_MAX},
    {"FROM:<a@b> SIZE=00000000000000000001", A_OK, "a@b", true, 1},
    {"FROM:<a@b> BODY=8BITMIME", A_OK, "a@b", false, 0, SMTP_BODY_8BITMIME},
    {"FROM:<a@b> body=7bit", A_OK, "a@b", false, 0, SMTP_BODY_7BIT},
    {"FROM:<a@b> Body=8bitMime", A_OK, "a@b", false, 0, SMTP_BODY_8BITMIME},
    {"FROM:<a@b> SMTPUTF8", A_OK, "a@b", false, 0, 0, true},
    {"FROM:<a@b> smtputf8", A_OK, "a@b", false, 0, 0, true},
    {"FROM:<> SMTPUTF8", A_OK, "", false, 0, 0, true},
    {"FROM:<a@b> RET=FULL", A_OK, "a@b", false, 0, 0, false, SMTP_RET_FULL},
    {"FROM:<a@b> ret=hdrs", A_OK, "a@b", false, 0, 0, false, SMTP_RET_HDRS},
    {"FROM:<a@b> ENVID=QQ314159", A_OK, "a@b", false, 0, 0, false, 0, "QQ314159"},
    {"FROM:<a@b> envid=a+2Bb+3D", A_OK, "a@b", false, 0, 0, false, 0, "a+2Bb+3D"},
    {"FROM:<a@b> ENVID=<x@y>!~", A_OK, "a@b", false, 0, 0, false, 0, "<x@y>!~"},
    {"FROM:<\xc3\xa9@x> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=abc", A_OK, "\xc3\xa9@x",
     true, 10, SMTP_BODY_8BITMIME, true, SMTP_RET_HDRS, "abc"},
    {"FROM:<a@b>  SIZE=10   BODY=7BIT  ", A_OK, "a@b", true, 10, SMTP_BODY_7BIT},
    {"FROM:<a@\xc3\xa9.example> SMTPUTF8", A_OK, "a@\xc3\xa9.example", false, 0, 0, true},
    {"FROM:<@\xc3\xa9:a@b> SMTPUTF8", A_OK, "a@b", false, 0, 0, true},
    {"FROM:<\xc3\xa9@x> smtputf8 SIZE=5", A_OK, "\xc3\xa9@x", true, 5, 0, true},
    /* hostile: the frame */
    {"", A_SYNTAX},
    {"FROM", A_SYNTAX},
    {"FROM:", A_SYNTAX},
    {"FROM: ", A_SYNTAX},
    {"FROM <a@b>", A_SYNTAX},
    {"FROM :<a@b>", A_SYNTAX},
    {"FROMX:<a@b>", A_SYNTAX},
    {"FRO:<a@b>", A_SYNTAX},
    {"TO:<a@b>", A_SYNTAX},
    {" FROM:<a@b>", A_SYNTAX},
    {"FROM:\t<a@b>", A_SYNTAX},
    {"FROM:a@b", A_SYNTAX},
    {"FROM:<a@b", A_SYNTAX},
    {"FROM:a@b>", A_SYNTAX},
    {"FROM:<<a@b>>", A_SYNTAX},
    {"FROM:<a<b@c>", A_SYNTAX},
    {"FROM:<a@b>x", A_SYNTAX},
    {"FROM:<a@b>>", A_SYNTAX},
    {"FROM:<a@b>,<c@d>", A_SYNTAX},
    {"FROM:<a@b>\tSIZE=1", A_SYNTAX},
    {"FROM:<a@b>\r\n", A_SYNTAX},
    {"FROM:Name <a@b>", A_SYNTAX},
    {"FROM:<\"a>b\"@x", A_SYNTAX},
    {"FROM:<a\"b>", A_SYNTAX},
    {"FROM:<\"a\\", A_SYNTAX},
    {"FROM:<", A_SYNTAX},
    {"FROM:>", A_SYNTAX},
    /* hostile: the address */
    {"FROM:<a @b>", A_ADDR},
    {"FROM:< a@b>", A_ADDR},
    {"FROM:<a@b.>", A_ADDR},
    {"FROM:<a@b..c>", A_ADDR},
    {"FROM:<user@ours@other>", A_ADDR},
    {"FROM:<Postmaster>", A_ADDR},
    {"FROM:<a@[1.2.3]>", A_ADDR},
    {"FROM:<a@[foo:bar]>", A_ADDR},
    {"FROM:<a\\b@c>", A_ADDR},
    {"FROM:<\xc0\x80@x>", A_ADDR},
    {"FROM:<\xed\xa0\x80@x> SMTPUTF8", A_ADDR},
    {"FROM:<a\x01@b>", A_ADDR},
    {"FROM:<a\r@b>", A_ADDR},
    {"FROM:< >", A_ADDR},
    {"FROM:<a@b c>", A_ADDR},
    /* hostile: parameters */
    {"FROM:<a@b> SIZE", A_PSYNTAX},
    {"FROM:<a@b> SIZE=", A_PSYNTAX},
    {"FROM:<a@b> SIZE=abc", A_PSYNTAX},
    {"FROM:<a@b> SIZE=-1", A_PSYNTAX},
    {"FROM:<a@b> SIZE=+1", A_PSYNTAX},
    {"FROM:<a@b> SIZE=1.5", A_PSYNTAX},
    {"FROM:<a@b> SIZE=1k", A_PSYNTAX},
    {"FROM:<a@b> SIZE=0x10", A_PSYNTAX},
    {"FROM:<a@b> SIZE=18446744073709551616", A_PSYNTAX},
    {"FROM:<a@b> SIZE=99999999999999999999", A_PSYNTAX},
    {"FROM:<a@b> SIZE=000000000000000000001", A_PSYNTAX},
    {"FROM:<a@b> SIZE=10 SIZE=10", A_PSYNTAX},
    {"FROM:<a@b> size=1 SIZE=2", A_PSYNTAX},
    {"FROM:<a@b> SIZE==1", A_PSYNTAX},
    {"FROM:<a@b> SIZE=1=2", A_PSYNTAX},
    {"FROM:<a@b> SIZE=1\x01", A_PSYNTAX},
    {"FROM:<a@b> SIZE=1\t", A_PSYNTAX},
    {"FROM:<a@b> SIZE=1\r", A_PSYNTAX},
    {"FROM:<a@b> SIZE=\xc3", A_PSYNTAX},
    {"FROM:<a@b> SIZE=\xc3\xa9", A_PSYNTAX},
    {"FROM:<a@b> BODY=BINARYMIME", A_PSYNTAX},
    {"FROM:<a@b> BODY=8BIT", A_PSYNTAX},
    {"FROM:<a@b> BODY=8BITMIMEX", A_PSYNTAX},
    {"FROM:<a@b> BODY", A_PSYNTAX},
    {"FROM:<a@b> BODY=", A_PSYNTAX},
    {"FROM:<a@b> BODY=7BIT BODY=7BIT", A_PSYNTAX},
    {"FROM:<a@b> BODY=7BIT body=8BITMIME", A_PSYNTAX},
    {"FROM:<a@b> SMTPUTF8=yes", A_PSYNTAX},
    {"FROM:<a@b> SMTPUTF8=", A_PSYNTAX},
    {"FROM:<a@b> SMTPUTF8 SMTPUTF8", A_PSYNTAX},
    {"FROM:<a@b> RET=NONE", A_PSYNTAX},
    {"FROM:<a@b> RET", A_PSYNTAX},
    {"FROM:<a@b> RET=FULL RET=HDRS", A_PSYNTAX},
    {"FROM:<a@b> ENVID", A_PSYNTAX},
    {"FROM:<a@b> ENVID=", A_PSYNTAX},
    {"FROM:<a@b> ENVID=a=b", A_PSYNTAX},
    {"FROM:<a@b> ENVID=a+2b", A_PSYNTAX},
    {"FROM:<a@b> ENVID=a+2", A_PSYNTAX},
    {"FROM:<a@b> ENVID=+", A_PSYNTAX},
    {"FROM:<a@b> ENVID=a+GG", A_PSYNTAX},
    {"FROM:<a@b> ENVID=\xc3\xa9", A_PSYNTAX},
    {"FROM:<a@b> ENVID=x ENVID=x", A_PSYNTAX},
    {"FROM:<a@b> =10", A_PSYNTAX},
    {"FROM:<a@b> -SIZE=1", A_PSYNTAX},
    {"FROM:<a@b> SI_ZE=1", A_PSYNTAX},
    {"FROM:<a@b> SIZE =1", A_PSYNTAX},
    {"FROM:<a@b> \xc3\xa9=1", A_PSYNTAX},
    {"FROM:<a@b> X=\xed\xa0\x80", A_PSYNTAX},
    /* AUTH= (RFC 4954 5): taken (the session refuses it where AUTH is not offered) */
    {"FROM:<a@b> AUTH=<>", A_OK, "a@b"},
    {"FROM:<a@b> AUTH=a+40b", A_OK, "a@b"},
    {"FROM:<a@b> AUTH=", A_PSYNTAX},
    {"FROM:<a@b> AUTH", A_PSYNTAX},
    {"FROM:<a@b> AUTH=a=b", A_PSYNTAX},
    {"FROM:<a@b> AUTH=<> AUTH=<>", A_PSYNTAX},
    {"FROM:<a@b> AUTH=\xc3\xa9", A_PSYNTAX},
    /* unknown parameters; a malformed one is reported first */
    {"FROM:<a@b> XFOO", A_PUNKN},
    {"FROM:<a@b> XFOO=bar", A_PUNKN},
    {"FROM:<a@b> X-FOO=\xc3\xa9", A_PUNKN},
    {"FROM:<a@b> NOTIFY=NEVER", A_PUNKN},
    {"FROM:<a@b> ORCPT=rfc822;a@b", A_PUNKN},
    {"FROM:<a@b> XFOO SIZE=10", A_PUNKN},
    {"FROM:<a@b> XFOO SIZE=abc", A_PSYNTAX},
    {"FROM:<a@b> XFOO XFOO", A_PUNKN},
    {"FROM:<a@b> 8BITMIME", A_PUNKN},
    /* SMTPUTF8 interplay (RFC 6531 3.4) */
    {"FROM:<\xc3\xa9@x>", A_UTF8},
    {"FROM:<a@\xc3\xa9.example>", A_UTF8},
    {"FROM:<\"\xc3\xa9\"@x> SIZE=1", A_UTF8},
    {"FROM:<@\xc3\xa9:a@b>", A_UTF8},
    {"FROM:<\xc3\xa9@x> SIZE=abc", A_PSYNTAX},
    {"FROM:<\xc3\xa9@x> XFOO", A_PUNKN},
    {"FROM:<\xc3\xa9@x> SMTPUTF8=1", A_PSYNTAX},
    {"FROM:<\xc3\xa9 @x> SMTPUTF8", A_ADDR},
};

static void
test_mail_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof mail_rows / sizeof mail_rows[0]; i++) {
        const struct mail_row *r = &mail_rows[i];
        struct smtp_mail m;
        enum smtp_arg_result got;

        memset(&m, 0x5a, sizeof m);
        got = smtp_parse_mail(sl(r->arg, 0), &m);
        if (got != r->want) {
            fprintf(stderr, "mail row %zu: \"%s\": got %d, want %d\n", i, r->arg, got, r->want);
            fail();
        }
        assert_non_null(memchr(m.from.text, '\0', sizeof m.from.text));
        assert_non_null(memchr(m.envid, '\0', sizeof m.envid));
        if (got != SMTP_ARG_OK)
            continue;
        if (strcmp(m.from.text, r->from) != 0 || m.from.is_null != (r->from[0] == '\0') ||
            m.has_size != r->has_size || m.size != r->size || m.body != r->body ||
            m.smtputf8 != r->smtputf8 || m.ret != r->ret || m.has_envid != (r->envid != NULL) ||
            strcmp(m.envid, r->envid ? r->envid : "") != 0) {
            fprintf(stderr, "mail row %zu: \"%s\": fields differ (from \"%s\")\n", i, r->arg,
                    m.from.text);
            fail();
        }
    }
}

/* ---- RCPT ------------------------------------------------------------ */

struct rcpt_row {
    const char *arg;
    enum smtp_arg_result want;
    const char *to; /* on OK */
    unsigned notify;
    const char *orcpt; /* NULL: none */
    bool bare_postmaster;
};

#define NT_S SMTP_NOTIFY_SUCCESS
#define NT_F SMTP_NOTIFY_FAILURE
#define NT_D SMTP_NOTIFY_DELAY
#define NT_N SMTP_NOTIFY_NEVER

static const struct rcpt_row rcpt_rows[] = {
    {"TO:<a@b>", A_OK, "a@b"},
    {"to:<a@b>", A_OK, "a@b"},
    {"To: <a@b>", A_OK, "a@b"},
    {"TO:<a@b>  ", A_OK, "a@b"},
    {"TO:<Postmaster>", A_OK, "Postmaster", 0, NULL, true},
    {"TO:<postmaster>", A_OK, "Postmaster", 0, NULL, true},
    {"TO:<POSTMASTER> NOTIFY=NEVER", A_OK, "Postmaster", NT_N, NULL, true},
    {"TO:<Postmaster@example.com>", A_OK, "Postmaster@example.com"},
    {"TO:<postmaster@[192.0.2.1]>", A_OK, "postmaster@[192.0.2.1]"},
    {"TO:<\xc3\xa9@x>", A_OK, "\xc3\xa9@x"}, /* the session checks it against MAIL */
    {"TO:<@a,@b:c@d>", A_OK, "c@d"},
    {"TO:<a@b> NOTIFY=NEVER", A_OK, "a@b", NT_N},
    {"TO:<a@b> notify=never", A_OK, "a@b", NT_N},
    {"TO:<a@b> NOTIFY=SUCCESS", A_OK, "a@b", NT_S},
    {"TO:<a@b> NOTIFY=FAILURE", A_OK, "a@b", NT_F},
    {"TO:<a@b> NOTIFY=DELAY", A_OK, "a@b", NT_D},
    {"TO:<a@b> NOTIFY=SUCCESS,FAILURE,DELAY", A_OK, "a@b", NT_S | NT_F | NT_D},
    {"TO:<a@b> NOTIFY=delay,Success", A_OK, "a@b", NT_S | NT_D},
    {"TO:<a@b> ORCPT=rfc822;a@b", A_OK, "a@b", 0, "rfc822;a@b"},
    {"TO:<a@b> ORCPT=rfc822;a+2Bb@example.com", A_OK, "a@b", 0, "rfc822;a+2Bb@example.com"},
    {"TO:<a@b> orcpt=RFC822;x", A_OK, "a@b", 0, "RFC822;x"},
    {"TO:<a@b> ORCPT=rfc822;", A_OK, "a@b", 0, "rfc822;"},
    {"TO:<a@b> ORCPT=x-foo;bar", A_OK, "a@b", 0, "x-foo;bar"},
    {"TO:<a@b> ORCPT=rfc822;a@b;c", A_OK, "a@b", 0, "rfc822;a@b;c"},
    {"TO:<a@b> ORCPT=rfc822;+20+2B+3D", A_OK, "a@b", 0, "rfc822;+20+2B+3D"},
    {"TO:<a@b> ORCPT=utf-8;\xc3\xa9@x", A_OK, "a@b", 0, "utf-8;\xc3\xa9@x"},
    {"TO:<a@b> ORCPT=utf-8;a\\x{E9}@x", A_OK, "a@b", 0, "utf-8;a\\x{E9}@x"},
    {"TO:<a@b> ORCPT=UTF-8;a\\x{10FFFF}@x", A_OK, "a@b", 0, "UTF-8;a\\x{10FFFF}@x"},
    {"TO:<a@b> ORCPT=utf-8;\\x{7F}\\x{2B}\\x{3D}\\x{5C}\\x{20}\\x{01}\\x{19}", A_OK, "a@b", 0,
     "utf-8;\\x{7F}\\x{2B}\\x{3D}\\x{5C}\\x{20}\\x{01}\\x{19}"},
    {"TO:<a@b> ORCPT=utf-8;\\x{FF}\\x{100}\\x{FFF}\\x{1000}\\x{D7FF}\\x{E000}\\x{FFFF}", A_OK,
     "a@b", 0, "utf-8;\\x{FF}\\x{100}\\x{FFF}\\x{1000}\\x{D7FF}\\x{E000}\\x{FFFF}"},
    {"TO:<a@b> ORCPT=utf-8;\\x{10000}\\x{fffff}\\x{100000}", A_OK, "a@b", 0,
     "utf-8;\\x{10000}\\x{fffff}\\x{100000}"},
    {"TO:<a@b> ORCPT=utf-8;a+b@x", A_OK, "a@b", 0, "utf-8;a+b@x"}, /* utf-8-address */
    {"TO:<a@b> ORCPT=utf-8;\"a\\\"b\"@x", A_OK, "a@b", 0, "utf-8;\"a\\\"b\"@x"},
    {"TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b", A_OK, "a@b", NT_S | NT_F, "rfc822;a@b"},
    {"TO:<a@b>   ORCPT=rfc822;a@b   NOTIFY=DELAY ", A_OK, "a@b", NT_D, "rfc822;a@b"},
    /* hostile: the frame and the address */
    {"", A_SYNTAX},
    {"TO", A_SYNTAX},
    {"TO:", A_SYNTAX},
    {"TO <a@b>", A_SYNTAX},
    {"FROM:<a@b>", A_SYNTAX},
    {"TO:a@b", A_SYNTAX},
    {"TO:<a@b", A_SYNTAX},
    {"TO:<a@b>x", A_SYNTAX},
    {"TO:<a@b>,<c@d>", A_SYNTAX},
    {"TO:<a@b>\r\n", A_SYNTAX},
    {"TO:<>", A_ADDR},
    {"TO:<Postmaster >", A_ADDR},
    {"TO:<Postmaster@>", A_ADDR},
    {"TO:<user@ours@other>", A_ADDR},
    {"TO:<a@b.>", A_ADDR},
    {"TO:<a@-b>", A_ADDR},
    {"TO:<a@[256.1.1.1]>", A_ADDR},
    {"TO:<a@[IPv6:zz]>", A_ADDR},
    {"TO:<a\x7f@b>", A_ADDR},
    {"TO:<\xc3\x28@x>", A_ADDR},
    /* hostile: NOTIFY */
    {"TO:<a@b> NOTIFY", A_PSYNTAX},
    {"TO:<a@b> NOTIFY=", A_PSYNTAX},
    {"TO:<a@b> NOTIFY=NEVER,SUCCESS", A_PSYNTAX},
    {"TO:<a@b> NOTIFY=SUCCESS,NEVER", A_PSYNTAX},
    {"TO:<a@b> NOTIFY=NEVER,NEVER", A_PSYNTAX},
    {"TO:<a@b> NOTIFY=SUCCESS,SUCCESS", A_PSYNTAX},
    {"TO:<a@b> NOTIFY=delay,DELAY", A_PSYNTAX},
    {"TO:<a@b> NOTIFY=SUCCESS,", A_PSYNTAX},
    {"TO:<a@b> NOTIFY=,SUCCESS", A_PSYNTAX},
    {"TO:<a@b> NOTIFY=SUCCESS,,DELAY", A_PSYNTAX},
    {"TO:<a@b> NOTIFY=FOO", A_PSYNTAX},
    {"TO:<a@b> NOTIFY=SUCCESSX", A_PSYNTAX},
    {"TO:<a@b> NOTIFY=SUCCESS;DELAY", A_PSYNTAX},
    {"TO:<a@b> NOTIFY=SUCCESS NOTIFY=DELAY", A_PSYNTAX},
    {"TO:<a@b> NOTIFY=SUCCESS, DELAY", A_PSYNTAX},
    /* hostile: ORCPT */
    {"TO:<a@b> ORCPT", A_PSYNTAX},
    {"TO:<a@b> ORCPT=", A_PSYNTAX},
    {"TO:<a@b> ORCPT=rfc822", A_PSYNTAX},
    {"TO:<a@b> ORCPT=;a@b", A_PSYNTAX},
    {"TO:<a@b> ORCPT=r(f);x", A_PSYNTAX},
    {"TO:<a@b> ORCPT=\xc3\xa9;x", A_PSYNTAX},
    {"TO:<a@b> ORCPT=rfc822;a+2bb", A_PSYNTAX},
    {"TO:<a@b> ORCPT=rfc822;a+", A_PSYNTAX},
    {"TO:<a@b> ORCPT=rfc822;a+2", A_PSYNTAX},
    {"TO:<a@b> ORCPT=rfc822;\xc3\xa9", A_PSYNTAX},
    {"TO:<a@b> ORCPT=rfc822;a=b", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;\\x{D800}", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;\\x{DFFF}", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;\\x{110000}", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;\\x{1000000}", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;\\x{0E9}", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;\\x{00E9}", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;\\x{E}", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;\\x{41}", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;\\x{00}", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;\\x{}", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;\\x{E9", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;\\xE9", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;\\X{E9}", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;a\\b", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;\xed\xa0\x80", A_PSYNTAX},
    {"TO:<a@b> ORCPT=utf-8;\xc3", A_PSYNTAX},
    {"TO:<a@b> ORCPT=rfc822;a ORCPT=rfc822;a", A_PSYNTAX},
    /* unknown parameters */
    {"TO:<a@b> SIZE=10", A_PUNKN},
    {"TO:<a@b> SMTPUTF8", A_PUNKN},
    {"TO:<a@b> XRCPTFORWARD=abc", A_PUNKN},
    {"TO:<a@b> XFOO NOTIFY=BAD", A_PSYNTAX},
};

static void
test_rcpt_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rcpt_rows / sizeof rcpt_rows[0]; i++) {
        const struct rcpt_row *r = &rcpt_rows[i];
        struct smtp_rcpt m;
        enum smtp_arg_result got;

        memset(&m, 0x5a, sizeof m);
        got = smtp_parse_rcpt(sl(r->arg, 0), &m);
        if (got != r->want) {
            fprintf(stderr, "rcpt row %zu: \"%s\": got %d, want %d\n", i, r->arg, got, r->want);
            fail();
        }
        assert_non_null(memchr(m.to.text, '\0', sizeof m.to.text));
        assert_non_null(memchr(m.orcpt, '\0', sizeof m.orcpt));
        if (got != SMTP_ARG_OK)
            continue;
        if (strcmp(m.to.text, r->to) != 0 || m.notify != r->notify ||
            m.has_orcpt != (r->orcpt != NULL) || strcmp(m.orcpt, r->orcpt ? r->orcpt : "") != 0 ||
            m.to.is_postmaster_bare != r->bare_postmaster || m.to.is_null) {
            fprintf(stderr, "rcpt row %zu: \"%s\": fields differ (to \"%s\")\n", i, r->arg,
                    m.to.text);
            fail();
        }
    }
}

/* Lengths that need long inputs: built here rather than spelled out. */
static void
test_lengths(void **state)
{
    char buf[2048], part[700];
    struct smtp_mail m;
    struct smtp_rcpt r;

    (void)state;
    memset(part, 'a', 64);
    part[64] = '\0';
    snprintf(buf, sizeof buf, "FROM:<%s@x>", part);
    assert_int_equal(smtp_parse_mail(sl(buf, 0), &m), SMTP_ARG_OK);
    snprintf(buf, sizeof buf, "FROM:<%sa@x>", part);
    assert_int_equal(smtp_parse_mail(sl(buf, 0), &m), SMTP_ARG_LOCAL_TOO_LONG);
    snprintf(buf, sizeof buf, "TO:<%sa@x>", part);
    assert_int_equal(smtp_parse_rcpt(sl(buf, 0), &r), SMTP_ARG_LOCAL_TOO_LONG);

    for (size_t i = 0; i < 255; i++)
        part[i] = i % 63 == 62 ? '.' : 'd';
    part[255] = '\0';
    snprintf(buf, sizeof buf, "FROM:<u@%s>", part);
    assert_int_equal(smtp_parse_mail(sl(buf, 0), &m), SMTP_ARG_OK);
    snprintf(buf, sizeof buf, "FROM:<u@%sd>", part);
    assert_int_equal(smtp_parse_mail(sl(buf, 0), &m), SMTP_ARG_DOMAIN_TOO_LONG);
    snprintf(buf, sizeof buf, "TO:<u@%sd>", part);
    assert_int_equal(smtp_parse_rcpt(sl(buf, 0), &r), SMTP_ARG_DOMAIN_TOO_LONG);

    /* ENVID: at most 100 characters (RFC 3461 4.4) */
    memset(part, 'e', 100);
    part[100] = '\0';
    snprintf(buf, sizeof buf, "FROM:<> ENVID=%s", part);
    assert_int_equal(smtp_parse_mail(sl(buf, 0), &m), SMTP_ARG_OK);
    assert_string_equal(m.envid, part);
    snprintf(buf, sizeof buf, "FROM:<> ENVID=%se", part);
    assert_int_equal(smtp_parse_mail(sl(buf, 0), &m), SMTP_ARG_PARAM_SYNTAX);
    assert_false(m.has_envid);

    /* ORCPT: the value at most CAP_ORCPT */
    memcpy(part, "rfc822;", 7);
    memset(part + 7, 'o', CAP_ORCPT - 7);
    part[CAP_ORCPT] = '\0';
    snprintf(buf, sizeof buf, "TO:<a@b> ORCPT=%s", part);
    assert_int_equal(smtp_parse_rcpt(sl(buf, 0), &r), SMTP_ARG_OK);
    assert_string_equal(r.orcpt, part);
    snprintf(buf, sizeof buf, "TO:<a@b> ORCPT=%so", part);
    assert_int_equal(smtp_parse_rcpt(sl(buf, 0), &r), SMTP_ARG_PARAM_SYNTAX);
    assert_false(r.has_orcpt);

    /* no buffer at all */
    assert_int_equal(smtp_parse_mail(slice_make(NULL, 0), &m), SMTP_ARG_SYNTAX);
    assert_string_equal(m.from.text, "");
    assert_int_equal(smtp_parse_rcpt(slice_make(NULL, 0), &r), SMTP_ARG_SYNTAX);
    assert_string_equal(r.to.text, "");
}

/* The struct is zeroed first: nothing of a former call survives. */
static void
test_out_initialised(void **state)
{
    struct smtp_mail m;
    struct smtp_rcpt r;

    (void)state;
    assert_int_equal(smtp_parse_mail(sl("FROM:<a@b> SIZE=5 ENVID=x SMTPUTF8", 0), &m), SMTP_ARG_OK);
    assert_int_equal(smtp_parse_mail(sl("FROM:<>", 0), &m), SMTP_ARG_OK);
    assert_false(m.has_size || m.has_envid || m.smtputf8);
    assert_true(m.from.is_null);
    assert_string_equal(m.envid, "");
    assert_int_equal(smtp_parse_mail(sl("nonsense", 0), &m), SMTP_ARG_SYNTAX);
    assert_false(m.from.is_null);

    assert_int_equal(smtp_parse_rcpt(sl("TO:<a@b> NOTIFY=NEVER ORCPT=rfc822;a", 0), &r),
                     SMTP_ARG_OK);
    assert_int_equal(smtp_parse_rcpt(sl("TO:<c@d>", 0), &r), SMTP_ARG_OK);
    assert_int_equal(r.notify, 0);
    assert_false(r.has_orcpt);
    assert_string_equal(r.orcpt, "");
}

/* ---- HELO / EHLO ----------------------------------------------------- */

static const struct {
    const char *arg;
    size_t len;
    int rc;
} helo_rows[] = {
    {"example.com", 0, 0},
    {"a", 0, 0},
    {"EXAMPLE.COM", 0, 0},
    {"localhost", 0, 0},
    {"mx-1.example.com", 0, 0},
    {"xn--bcher-kva.example", 0, 0},
    {"1.2.3.4", 0, 0}, /* a Domain by the grammar */
    {"[192.0.2.1]", 0, 0},
    {"[IPv6:::1]", 0, 0},
    {"[IPv6:2001:db8::ffff:192.0.2.1]", 0, 0},
    {"", 0, -1},
    {N("\0"), -1},
    {"example.com.", 0, -1},
    {".example.com", 0, -1},
    {"a..b", 0, -1},
    {"-a", 0, -1},
    {"a-", 0, -1},
    {"a_b", 0, -1},
    {"DESKTOP_ABC123", 0, -1},
    {"exa mple.com", 0, -1},
    {"example.com ", 0, -1},
    {" example.com", 0, -1},
    {"example.com extra", 0, -1},
    {"\xc3\xa9.example", 0, -1},
    {"[1.2.3]", 0, -1},
    {"[256.0.0.1]", 0, -1},
    {"[foo:bar]", 0, -1},
    {"[1.2.3.4", 0, -1},
    {"1.2.3.4]", 0, -1},
    {"[1.2.3.4] ", 0, -1},
    {"[IPv6:zz]", 0, -1},
    {"<example.com>", 0, -1},
    {"user@example.com", 0, -1},
    {"example.com\r", 0, -1},
    {N("example.com\0"), -1},
    {"example.com\t", 0, -1},
};

static void
test_helo(void **state)
{
    char name[400];

    (void)state;
    for (size_t i = 0; i < sizeof helo_rows / sizeof helo_rows[0]; i++) {
        struct slice s = sl(helo_rows[i].arg, helo_rows[i].len);

        if (smtp_parse_helo(s) != helo_rows[i].rc) {
            fprintf(stderr, "helo row %zu: \"%s\"\n", i, helo_rows[i].arg);
            fail();
        }
    }
    assert_int_equal(smtp_parse_helo(slice_make(NULL, 0)), -1);
    for (size_t i = 0; i < 255; i++)
        name[i] = i % 63 == 62 ? '.' : 'h';
    assert_int_equal(smtp_parse_helo(slice_make(name, 255)), 0);
    name[255] = 'h';
    assert_int_equal(smtp_parse_helo(slice_make(name, 256)), -1);
    memset(name, 'h', 64);
    assert_int_equal(smtp_parse_helo(slice_make(name, 63)), 0);
    assert_int_equal(smtp_parse_helo(slice_make(name, 64)), -1);
}

/* ---- BDAT ------------------------------------------------------------ */

static const struct {
    const char *arg;
    size_t len;
    int rc;
    uint64_t size;
    bool last;
} bdat_rows[] = {
    {"0", 0, 0, 0, false},
    {"10", 0, 0, 10, false},
    {"10 LAST", 0, 0, 10, true},
    {"10 last", 0, 0, 10, true},
    {"0 LaSt", 0, 0, 0, true},
    {"18446744073709551615", 0, 0, UINT64_MAX, false},
    {"00000000000000000001 LAST", 0, 0, 1, true},
    {"", 0, -1, 0, false},
    {"LAST", 0, -1, 0, false},
    {" 10", 0, -1, 0, false},
    {"10 ", 0, -1, 0, false},
    {"10  LAST", 0, -1, 0, false},
    {"10 LAST ", 0, -1, 0, false},
    {"10 LASTX", 0, -1, 0, false},
    {"10 LAS", 0, -1, 0, false},
    {"10 FIRST", 0, -1, 0, false},
    {"10 LAST LAST", 0, -1, 0, false},
    {"10\tLAST", 0, -1, 0, false},
    {"10 LAST\r", 0, -1, 0, false},
    {"10\r\n", 0, -1, 0, false},
    {N("10\0"), -1, 0, false},
    {"-1", 0, -1, 0, false},
    {"+5", 0, -1, 0, false},
    {"1a", 0, -1, 0, false},
    {"0x10", 0, -1, 0, false},
    {"1.5", 0, -1, 0, false},
    {"1e3", 0, -1, 0, false},
    {"18446744073709551616", 0, -1, 0, false},
    {"99999999999999999999", 0, -1, 0, false},
    {"000000000000000000001", 0, -1, 0, false},
    {"123456789012345678901234567890", 0, -1, 0, false},
    {"\xd9\xa1", 0, -1, 0, false},
};

static void
test_bdat(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bdat_rows / sizeof bdat_rows[0]; i++) {
        uint64_t size = 77;
        bool last = true;
        struct slice s = sl(bdat_rows[i].arg, bdat_rows[i].len);
        int rc = smtp_parse_bdat(s, &size, &last);

        if (rc != bdat_rows[i].rc || size != bdat_rows[i].size || last != bdat_rows[i].last) {
            fprintf(stderr, "bdat row %zu: \"%s\": rc %d size %llu last %d\n", i, bdat_rows[i].arg,
                    rc, (unsigned long long)size, last);
            fail();
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_rows),  cmocka_unit_test(test_verb_names_and_caps),
        cmocka_unit_test(test_mail_rows), cmocka_unit_test(test_rcpt_rows),
        cmocka_unit_test(test_lengths),   cmocka_unit_test(test_out_initialised),
        cmocka_unit_test(test_helo),      cmocka_unit_test(test_bdat),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
