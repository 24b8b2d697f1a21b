/* SPDX-License-Identifier: MIT */
/*
 * Tests for the queue commands' requests (request.h): each selector's
 * checks, ids, the rules of which targets suit which verb, the request
 * line (format and parse, round trips with every octet an address may
 * hold, and a table of malformed lines) and the matching of messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/request.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- selectors */

static void
test_select_set(void **state)
{
    static const struct {
        const char *name, *value;
        const char *why; /* NULL: accepted */
    } rows[] = {
        {"all", NULL, NULL},
        {"held", NULL, NULL},
        {"deferred", NULL, NULL},
        {"from", "alice@example.com", NULL},
        {"from", "<alice@example.com>", NULL},
        {"from", "", NULL},
        {"from", "<>", NULL},
        {"from", "\"a b\"@example.com", "--from: not an address"},
        {"from", "alice", "--from: expected local@domain"},
        {"from", "a\r\nb@x", "--from: not an address"},
        {"from", "a\x7f@x", "--from: not an address"},
        {"from", "<<>>", "--from: expected local@domain"},
        {"to", "bob@example.com", NULL},
        {"to", "Postmaster", NULL},
        {"to", "POSTMASTER", NULL},
        {"to", "bob", "--to: expected local@domain (or Postmaster)"},
        {"to", "", "--to: expected local@domain (or Postmaster)"},
        {"to", "b\tb@x", "--to: not an address"},
        {"domain", "example.com", NULL},
        {"domain", "[192.0.2.1]", NULL},
        {"domain",
         "b\xc3\xbc"
         "cher.example",
         NULL},
        {"domain", "", "--domain: expected a domain"},
        {"domain", "a@b", "--domain: expected a domain"},
        {"domain", "a b", "--domain: expected a domain"},
        {"domain", "a\nb", "--domain: expected a domain"},
        {"client", "192.0.2.7", NULL},
        {"client", "2001:db8::7", NULL},
        {"client", "::ffff:192.0.2.7", NULL},
        {"client", "192.0.2.256", "--client: not an IP address: \"192.0.2.256\""},
        {"client", "192.0.2.0/24", "--client: not an IP address"},
        {"client", "example.com", "--client: not an IP address"},
        {"client", " 192.0.2.7", "--client: not an IP address"},
        {"client", "", "--client: not an IP address: \"\""},
        {"client", "\x1b[31m", "--client: not an IP address: \"?[31m\""},
        {"client", "1.2.3.4\n", "--client: not an IP address: \"1.2.3.4?\""},
        {"user", "alice", NULL},
        {"user", "alice@example.com", NULL},
        {"user", "", "--user: expected a user name"},
        {"user", "a b", "--user: expected a user name"},
        {"user", "a\r\nb", "--user: expected a user name"},
        {"user", "a\x7f", "--user: expected a user name"},
        {"user", "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu",
         "--user: too long"},
        {"user", NULL, "--user needs a value"},
        {"sender", "a@b", "unknown selector"},
        {"all", "yes", "--all takes no value"},
        {"from", NULL, "--from needs a value"},
    };

    (void)state;
    for (size_t i = 0; i < COUNT(rows); i++) {
        struct ctl_select sel;
        char why[256] = "";
        int rc;

        memset(&sel, 0, sizeof(sel));
        rc = ctl_select_set(&sel, rows[i].name, rows[i].value, why, sizeof(why));
        if (rows[i].why == NULL) {
            if (rc != 0)
                fail_msg("row %zu (%s): refused: %s", i, rows[i].name, why);
        } else {
            if (rc != -1)
                fail_msg("row %zu (%s): accepted", i, rows[i].name);
            if (strncmp(why, rows[i].why, strlen(rows[i].why)) != 0)
                fail_msg("row %zu: why is \"%s\", not \"%s\"", i, why, rows[i].why);
        }
    }
}

static void
test_select_values(void **state)
{
    struct ctl_select sel;
    char why[256];
    char long_addr[CAP_MAILBOX + 2];

    (void)state;
    memset(&sel, 0, sizeof(sel));
    assert_int_equal(ctl_select_set(&sel, "from", "<>", why, sizeof(why)), 0);
    assert_string_equal(sel.from, "");
    assert_true(sel.has_from);
    assert_int_equal(ctl_select_set(&sel, "from", "a@b", why, sizeof(why)), -1);
    assert_string_equal(why, "--from given twice");
    assert_int_equal(ctl_select_set(&sel, "to", "<Bob@X>", why, sizeof(why)), 0);
    assert_string_equal(sel.to, "Bob@X");
    assert_int_equal(ctl_select_set(&sel, "client", "::FFFF:192.0.2.7", why, sizeof(why)), 0);
    assert_string_equal(sel.client, "192.0.2.7");
    assert_int_equal(ctl_select_set(&sel, "held", NULL, why, sizeof(why)), 0);
    assert_int_equal(ctl_select_set(&sel, "held", NULL, why, sizeof(why)), -1);
    assert_string_equal(why, "--held given twice");

    /* The longest address fits; one octet more does not. */
    memset(&sel, 0, sizeof(sel));
    memset(long_addr, 'a', sizeof(long_addr));
    long_addr[10] = '@';
    long_addr[CAP_MAILBOX] = '\0';
    assert_int_equal(ctl_select_set(&sel, "to", long_addr, why, sizeof(why)), 0);
    long_addr[CAP_MAILBOX] = 'a';
    long_addr[CAP_MAILBOX + 1] = '\0';
    assert_int_equal(ctl_select_set(&sel, "from", long_addr, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "too long"));
}

/* ---------------------------------------------------------------- ids and checks */

static void
test_ids(void **state)
{
    static struct ctl_request req;
    char why[256], id[SPOOL_ID_LEN + 1];

    (void)state;
    memset(&req, 0, sizeof(req));
    assert_true(ctl_is_id("0661FDE9DB0D8500"));
    assert_false(ctl_is_id("0661fde9db0d8500"));
    assert_false(ctl_is_id("0661FDE9DB0D850"));
    assert_false(ctl_is_id("0661FDE9DB0D85000"));
    assert_false(ctl_is_id("0661FDE9DB0D850G"));
    assert_false(ctl_is_id("../../etc/passwd"));
    assert_int_equal(ctl_request_add_id(&req, "../../etc", why, sizeof(why)), -1);
    assert_string_equal(why, "not a queue id: \"../../etc\" (16 hex digits expected)");
    assert_int_equal(ctl_request_add_id(&req, "\"\x1b[2J0123456789ABCDEF", why, sizeof(why)), -1);
    assert_string_equal(why,
                        "not a queue id: \"??[2J0123456789ABCDE...\" (16 hex digits expected)");
    for (unsigned i = 0; i < CTL_IDS_MAX; i++) {
        (void)snprintf(id, sizeof(id), "%016X", i);
        assert_int_equal(ctl_request_add_id(&req, id, why, sizeof(why)), 0);
    }
    assert_int_equal(ctl_request_add_id(&req, "0000000000000000", why, sizeof(why)), -1);
    assert_string_equal(why, "0000000000000000 named twice");
    assert_int_equal(ctl_request_add_id(&req, "FFFFFFFFFFFFFFFF", why, sizeof(why)), -1);
    assert_non_null(strstr(why, "more than 1000 ids"));
    assert_int_equal(req.n_ids, CTL_IDS_MAX);
}

static void
test_check(void **state)
{
    static const struct {
        enum ctl_verb verb;
        bool ids, select;
        const char *why; /* NULL: accepted */
    } rows[] = {
        {CTL_LIST, false, false, NULL},
        {CTL_LIST, false, true, NULL},
        {CTL_LIST_JSON, false, true, NULL},
        {CTL_LIST, true, false, "list takes selectors, not ids"},
        {CTL_SHOW, true, false, NULL},
        {CTL_SHOW, false, false, "show: which message?"},
        {CTL_SHOW, false, true, "show: which message?"},
        {CTL_SHOW, true, true, "show: give ids or selectors, not both"},
        {CTL_FLUSH, false, false, NULL},
        {CTL_FLUSH, true, false, NULL},
        {CTL_FLUSH, false, true, NULL},
        {CTL_FLUSH, true, true, "flush: give ids or selectors, not both"},
        {CTL_HOLD, false, false, "hold: which messages?"},
        {CTL_RELEASE, false, false, "release: which messages?"},
        {CTL_DELETE, false, false, "delete: which messages?"},
        {CTL_BOUNCE, false, false, "bounce: which messages?"},
        {CTL_HOLD, true, false, NULL},
        {CTL_DELETE, false, true, NULL},
        {CTL_BOUNCE, true, true, "bounce: give ids or selectors, not both"},
    };
    static struct ctl_request req;
    char why[256];

    (void)state;
    for (size_t i = 0; i < COUNT(rows); i++) {
        int rc;

        memset(&req, 0, sizeof(req));
        req.verb = rows[i].verb;
        if (rows[i].ids)
            assert_int_equal(ctl_request_add_id(&req, "0661FDE9DB0D8500", why, sizeof(why)), 0);
        if (rows[i].select) {
            req.has_select = true;
            assert_int_equal(ctl_select_set(&req.sel, "held", NULL, why, sizeof(why)), 0);
        }
        rc = ctl_request_check(&req, why, sizeof(why));
        if (rows[i].why == NULL && rc != 0)
            fail_msg("row %zu: refused: %s", i, why);
        if (rows[i].why != NULL &&
            (rc != -1 || strncmp(why, rows[i].why, strlen(rows[i].why)) != 0))
            fail_msg("row %zu: rc %d, why \"%s\"", i, rc, why);
    }
    /* Selectors asked for, none given. */
    memset(&req, 0, sizeof(req));
    req.verb = CTL_HOLD;
    req.has_select = true;
    assert_int_equal(ctl_request_check(&req, why, sizeof(why)), -1);
}

/* ---------------------------------------------------------------- the request line */

static void
test_format_parse_round_trip(void **state)
{
    static struct ctl_request req, back;
    char line[CTL_REQUEST_MAX + 2], why[256], from[CAP_MAILBOX + 1];
    size_t n = 0;

    (void)state;
    /* A sender with every octet from 0x21 up (but '@', added once), and UTF-8. */
    for (unsigned c = 0x21; c < 0x100 && n < 200; c++) {
        if (c != 0x7f && c != '@')
            from[n++] = (char)c;
    }
    memcpy(from + n, "@x.test", 8);
    memset(&req, 0, sizeof(req));
    req.verb = CTL_HOLD;
    req.has_select = true;
    assert_int_equal(ctl_select_set(&req.sel, "from", from, why, sizeof(why)), 0);
    assert_int_equal(ctl_select_set(&req.sel, "to", "Postmaster", why, sizeof(why)), 0);
    assert_int_equal(ctl_select_set(&req.sel, "domain",
                                    "b\xc3\xbc"
                                    "cher.example",
                                    why, sizeof(why)),
                     0);
    assert_int_equal(ctl_select_set(&req.sel, "client", "2001:db8::7", why, sizeof(why)), 0);
    assert_int_equal(ctl_select_set(&req.sel, "user", "\xc3\xa9=%x", why, sizeof(why)), 0);
    assert_int_equal(ctl_select_set(&req.sel, "all", NULL, why, sizeof(why)), 0);
    assert_int_equal(ctl_select_set(&req.sel, "held", NULL, why, sizeof(why)), 0);
    assert_int_equal(ctl_select_set(&req.sel, "deferred", NULL, why, sizeof(why)), 0);
    assert_int_equal(ctl_request_format(&req, line, sizeof(line)), 0);
    /* One line; no space inside a token, nothing outside printable ASCII. */
    assert_int_equal(strchr(line, '\n') - line, (long)strlen(line) - 1);
    for (const char *p = line; *p != '\n'; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
    assert_non_null(strstr(line, " domain=b%C3%BCcher.example"));
    assert_non_null(strstr(line, " from=!\"#$%25&"));
    assert_int_equal(ctl_request_parse(line, strlen(line) - 1, &back, why, sizeof(why)), 0);
    assert_int_equal(back.verb, CTL_HOLD);
    assert_true(back.has_select && back.sel.all && back.sel.held && back.sel.deferred);
    assert_string_equal(back.sel.from, from);
    assert_string_equal(back.sel.to, "Postmaster");
    assert_string_equal(back.sel.domain, "b\xc3\xbc"
                                         "cher.example");
    assert_string_equal(back.sel.client, "2001:db8::7");
    assert_true(back.sel.has_user);
    assert_string_equal(back.sel.user, "\xc3\xa9=%x");

    /* The null sender: "from=" with nothing. */
    memset(&req, 0, sizeof(req));
    req.verb = CTL_LIST_JSON;
    req.has_select = true;
    assert_int_equal(ctl_select_set(&req.sel, "from", "<>", why, sizeof(why)), 0);
    assert_int_equal(ctl_request_format(&req, line, sizeof(line)), 0);
    assert_string_equal(line, "list-json from=\n");
    assert_int_equal(ctl_request_parse(line, strlen(line) - 1, &back, why, sizeof(why)), 0);
    assert_true(back.sel.has_from);
    assert_string_equal(back.sel.from, "");

    /* A list's limit, after the selectors. */
    req.limit = 500;
    assert_int_equal(ctl_request_format(&req, line, sizeof(line)), 0);
    assert_string_equal(line, "list-json from= limit=500\n");
    assert_int_equal(ctl_request_parse(line, strlen(line) - 1, &back, why, sizeof(why)), 0);
    assert_int_equal(back.limit, 500);

    /* CTL_IDS_MAX ids fit in CTL_REQUEST_MAX. */
    memset(&req, 0, sizeof(req));
    req.verb = CTL_RELEASE;
    for (unsigned i = 0; i < CTL_IDS_MAX; i++) {
        char id[SPOOL_ID_LEN + 1];

        (void)snprintf(id, sizeof(id), "%016X", 0xFFFFF000u + i);
        assert_int_equal(ctl_request_add_id(&req, id, why, sizeof(why)), 0);
    }
    assert_int_equal(ctl_request_format(&req, line, sizeof(line)), 0);
    assert_true(strlen(line) - 1 <= CTL_REQUEST_MAX);
    assert_int_equal(ctl_request_parse(line, strlen(line) - 1, &back, why, sizeof(why)), 0);
    assert_int_equal(back.n_ids, CTL_IDS_MAX);
    assert_memory_equal(back.ids, req.ids, sizeof(req.ids));
    /* Too small a buffer is said so. */
    assert_int_equal(ctl_request_format(&req, line, 100), -1);
}

static void
test_parse_refuses(void **state)
{
    static const struct {
        const char *line;
        const char *why; /* NULL: accepted */
    } rows[] = {
        {"list", NULL},
        {"list-json", NULL},
        {"flush", NULL},
        {"hold 0661FDE9DB0D8500 0661FDE9DB0D8501", NULL},
        {"hold all from=a@b to=c@d domain=d client=::1 held deferred", NULL},
        {"", "bad request: no command"},
        {" list", "bad request: no command"},
        {"list ", "bad request: one space"},
        {"list  all", "bad request: one space"},
        {"list\tall", "unknown command: list?all"},
        {"frobnicate", "unknown command: frobnicate"},
        {"averyveryverylongcommand", "bad request: no command"},
        {"hold", "hold: which messages?"},
        {"show all", "show: which message?"},
        {"hold 0661FDE9DB0D8500 all", "hold: give ids or selectors, not both"},
        {"hold 0661fde9db0d8500", "bad request: not an id or a selector"},
        {"hold 0661FDE9DB0D8500 0661FDE9DB0D8500", "0661FDE9DB0D8500 named twice"},
        {"hold ../../etc/passwd", "bad request: not an id or a selector"},
        {"hold ../etc/passwd", "unknown selector"},
        {"hold =x", "bad request: not an id or a selector"},
        {"hold everything", "unknown selector"},
        {"hold all=1", "--all takes no value"},
        {"hold from", "--from needs a value"},
        {"hold from=a@b from=c@d", "--from given twice"},
        {"hold from=a%20b@c", "--from: not an address"},
        {"hold from=a%0D%0Ab@c", "--from: not an address"},
        {"hold from=a%00b@c", "bad request: the value of from is not %-encoded right"},
        {"hold from=a%41b@c", "bad request: the value of from is not %-encoded right"},
        {"hold from=a%c3b@c", "bad request: the value of from is not %-encoded right"},
        {"hold from=a%C", "bad request: the value of from is not %-encoded right"},
        {"hold from=a%", "bad request: the value of from is not %-encoded right"},
        {"hold from=a\x80@c", "bad request: the value of from is not %-encoded right"},
        {"hold domain=", "--domain: expected a domain"},
        {"hold client=1.2.3", "--client: not an IP address"},
        {"hold client=%31.2.3.4", "bad request: the value of client is not %-encoded right"},
        {"release user=alice", NULL},
        {"release user=", "--user: expected a user name"},
        {"release user=a%20b", "--user: expected a user name"},
        {"release user=a user=b", "--user given twice"},
        {"list limit=500", NULL},
        {"list-json deferred limit=1000000 from=a@b", NULL},
        {"list limit=0", "limit: expected a number"},
        {"list limit=01", "limit: expected a number"},
        {"list limit=1000001", "limit: expected a number"},
        {"list limit=99999999999999999999", "limit: expected a number"},
        {"list limit=-1", "limit: expected a number"},
        {"list limit=1x", "limit: expected a number"},
        {"list limit=%35", "limit: expected a number"},
        {"list limit=", "limit: expected a number"},
        {"list limit", "limit: expected a number"},
        {"list limit=5 limit=6", "limit given twice"},
        {"hold all limit=5", "hold: only list takes a limit"},
        {"flush limit=5", "flush: only list takes a limit"},
        {"show 0661FDE9DB0D8500 limit=5", "show: only list takes a limit"},
    };
    static struct ctl_request req;
    char why[256];

    (void)state;
    for (size_t i = 0; i < COUNT(rows); i++) {
        int rc = ctl_request_parse(rows[i].line, strlen(rows[i].line), &req, why, sizeof(why));

        if (rows[i].why == NULL && rc != 0)
            fail_msg("row %zu (%s): refused: %s", i, rows[i].line, why);
        if (rows[i].why != NULL &&
            (rc != -1 || strncmp(why, rows[i].why, strlen(rows[i].why)) != 0))
            fail_msg("row %zu (%s): rc %d, why \"%s\"", i, rows[i].line, rc, why);
    }
}

static void
test_parse_long_values(void **state)
{
    static struct ctl_request req;
    static char line[CTL_REQUEST_MAX * 2];
    char why[256];
    size_t n;

    (void)state;
    /* An address of 2000 %-encoded octets: too long, said so, no overflow. */
    n = (size_t)snprintf(line, sizeof(line), "hold to=a@");
    for (int i = 0; i < 2000; i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%%C3");
    assert_int_equal(ctl_request_parse(line, n, &req, why, sizeof(why)), -1);
    assert_string_equal(why, "--to: too long");
    /* A verb's name that is not one, of any length. */
    memset(line, 'x', 5000);
    assert_int_equal(ctl_request_parse(line, 5000, &req, why, sizeof(why)), -1);
    /* The line's length counts, not a NUL inside it. */
    assert_int_equal(ctl_request_parse("list\0all", 8, &req, why, sizeof(why)), -1);
}

/* ---------------------------------------------------------------- matching */

static struct envelope_rcpt rcpts_a[] = {
    {.addr = "bob@Far.Test", .status = ENVELOPE_RCPT_PENDING},
    {.addr = "carol@other.test", .status = ENVELOPE_RCPT_DONE},
    {.addr = "Postmaster", .status = ENVELOPE_RCPT_PENDING},
    {.addr = "\"x@y\"@quoted.test", .status = ENVELOPE_RCPT_PENDING},
};

static struct envelope_rcpt rcpts_b[] = {
    {.addr = "dave@far.test", .status = ENVELOPE_RCPT_FAILED},
    {.addr = "b\xc3\xbc@b\xc3\xbc"
             "cher.example",
     .status = ENVELOPE_RCPT_PENDING},
};

static void
test_match(void **state)
{
    struct envelope a = {.sender = "Alice@Home.Test",
                         .client_addr = "192.0.2.7",
                         .user = "alice",
                         .attempts = 0,
                         .rcpts = rcpts_a,
                         .n_rcpts = COUNT(rcpts_a)};
    struct envelope b = {.sender = "",
                         .client_addr = "2001:db8::7",
                         .attempts = 3,
                         .rcpts = rcpts_b,
                         .n_rcpts = COUNT(rcpts_b)};
    static const struct {
        const char *sel[4][2]; /* name, value (NULL for flags); up to 4 */
        bool a, a_held, b, b_held;
    } rows[] = {
        {{{"all", NULL}}, true, true, true, true},
        {{{"held", NULL}}, false, true, false, true},
        {{{"deferred", NULL}}, false, false, true, false},
        {{{"from", "alice@home.test"}}, true, true, false, false},
        {{{"from", "ALICE@HOME.TEST"}}, true, true, false, false},
        {{{"from", "alice@home.tes"}}, false, false, false, false},
        {{{"from", "alice@home.testx"}}, false, false, false, false},
        {{{"from", "<>"}}, false, false, true, true},
        {{{"to", "bob@far.test"}}, true, true, false, false},
        {{{"to", "carol@other.test"}}, false, false, false, false}, /* done */
        {{{"to", "dave@far.test"}}, false, false, false, false},    /* failed */
        {{{"to", "postmaster"}}, true, true, false, false},
        {{{"to", "\"x@y\"@quoted.test"}}, true, true, false, false},
        {{{"domain", "far.test"}}, true, true, false, false},
        {{{"domain", "ar.test"}}, false, false, false, false},
        {{{"domain", "other.test"}}, false, false, false, false},
        {{{"domain", "quoted.test"}}, true, true, false, false},
        {{{"domain", "b\xc3\xbc"
                     "cher.example"}},
         false,
         false,
         true,
         true},
        {{{"domain", "B\xc3\xbc"
                     "CHER.example"}},
         false,
         false,
         true,
         true},
        {{{"domain", "B\xc3\x9c"
                     "cher.example"}},
         false,
         false,
         false,
         false}, /* not ASCII */
        {{{"client", "192.0.2.7"}}, true, true, false, false},
        {{{"client", "::ffff:192.0.2.7"}}, true, true, false, false},
        {{{"client", "192.0.2.70"}}, false, false, false, false},
        {{{"client", "2001:0db8:0:0::7"}}, false, false, true, true},
        {{{"user", "alice"}}, true, true, false, false},
        {{{"user", "Alice"}}, false, false, false, false},
        {{{"user", "alic"}}, false, false, false, false},
        {{{"user", "alice"}, {"held", NULL}}, false, true, false, false},
        {{{"from", "alice@home.test"}, {"held", NULL}}, false, true, false, false},
        {{{"to", "bob@far.test"}, {"domain", "quoted.test"}}, true, true, false, false},
        {{{"to", "bob@far.test"}, {"domain", "other.test"}}, false, false, false, false},
        {{{"deferred", NULL}, {"client", "2001:db8::7"}, {"from", "<>"}, {"all", NULL}},
         false,
         false,
         true,
         false},
    };

    (void)state;
    for (size_t i = 0; i < COUNT(rows); i++) {
        struct ctl_select sel;
        char why[256];

        memset(&sel, 0, sizeof(sel));
        for (size_t j = 0; j < 4 && rows[i].sel[j][0] != NULL; j++) {
            if (ctl_select_set(&sel, rows[i].sel[j][0], rows[i].sel[j][1], why, sizeof(why)) == -1)
                fail_msg("row %zu: %s", i, why);
        }
        if (ctl_select_match(&sel, &a, false) != rows[i].a ||
            ctl_select_match(&sel, &a, true) != rows[i].a_held ||
            ctl_select_match(&sel, &b, false) != rows[i].b ||
            ctl_select_match(&sel, &b, true) != rows[i].b_held)
            fail_msg("row %zu (%s) matched wrong", i, rows[i].sel[0][0]);
    }
    /* A client address in the file that does not parse matches no --client. */
    {
        struct ctl_select sel;
        char why[256];

        memset(&sel, 0, sizeof(sel));
        a.client_addr = "unknown";
        assert_int_equal(ctl_select_set(&sel, "client", "0.0.0.0", why, sizeof(why)), 0);
        assert_false(ctl_select_match(&sel, &a, false));
    }
}

static void
test_verbs(void **state)
{
    enum ctl_verb v;

    (void)state;
    for (int i = CTL_LIST; i <= CTL_BOUNCE; i++) {
        assert_int_equal(ctl_verb_find(ctl_verb_name((enum ctl_verb)i), &v), 0);
        assert_int_equal(v, i);
    }
    assert_int_equal(ctl_verb_find("LIST", &v), -1);
    assert_int_equal(ctl_verb_find("", &v), -1);
    assert_false(ctl_verb_acts(CTL_LIST) || ctl_verb_acts(CTL_LIST_JSON) ||
                 ctl_verb_acts(CTL_SHOW));
    assert_true(ctl_verb_acts(CTL_FLUSH) && ctl_verb_acts(CTL_HOLD) && ctl_verb_acts(CTL_RELEASE) &&
                ctl_verb_acts(CTL_DELETE) && ctl_verb_acts(CTL_BOUNCE));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_set),
        cmocka_unit_test(test_select_values),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_format_parse_round_trip),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_parse_long_values),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_verbs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
