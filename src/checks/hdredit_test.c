/* SPDX-License-Identifier: MIT */
/*
 * Tests for hdredit.c, one table: each kind of milter change with its index
 * edge cases (0, past the end, the n-th of a name, names in other cases),
 * the changes in sequence, Authentication-Results of ours removed and
 * others' kept (comments, quoted ids, a version after the id, ours in upper
 * case, a milter's own A-R kept), folding of values (LF and CR LF), our
 * fields on top, the cap, an empty section; and hostile rows: injection
 * through a value (a line break not followed by white space, CRLF CRLF, a
 * break at the end, a line of only white space, a bare CR), bad names (a
 * colon, a space, empty, controls, NULL), a section or top that is not
 * fields; the length of a line (998) and the cap at 0. Then the body's line ends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checks/hdredit.h"
#include "mailauth/msghdr.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define ADD(n, v)                                                                                  \
    {                                                                                              \
        MILTER_MOD_ADD, 0, (char *)(n), (char *)(v)                                                \
    }
#define INS(i, n, v)                                                                               \
    {                                                                                              \
        MILTER_MOD_INSERT, i, (char *)(n), (char *)(v)                                             \
    }
#define CHG(i, n, v)                                                                               \
    {                                                                                              \
        MILTER_MOD_CHANGE, i, (char *)(n), (char *)(v)                                             \
    }
#define DEL(i, n)                                                                                  \
    {                                                                                              \
        MILTER_MOD_DELETE, i, (char *)(n), NULL                                                    \
    }

static const char H3[] = "From: a@b.example\r\nTo: c@d.example\r\nSubject: hi\r\n";
static const char RCVD[] = "Received: from x\r\n\tby gw.example\r\nReceived: from y\r\n"
                           "From: a@b.example\r\nreceived: from z\r\n";

struct row {
    const char *what;
    const char *header;
    const char *drop_id;
    struct milter_mod mods[4];
    size_t n_mods;
    const char *top;
    size_t max; /* 0: 4096 */
    int rc;
    const char *want; /* rc 0: the text; rc -1: a part of the error */
    unsigned dropped, applied, ignored;
};

static const struct row rows[] = {
    /* Nothing to do. */
    {"no change", H3, NULL, {{0}}, 0, "", 0, 0, H3, 0, 0, 0},
    {"empty section", "", NULL, {{0}}, 0, "", 0, 0, "", 0, 0, 0},
    {"empty section, a field added",
     "",
     NULL,
     {ADD("X-A", "1")},
     1,
     "",
     0,
     0,
     "X-A: 1\r\n",
     0,
     1,
     0},
    {"empty section, top only", "", NULL, {{0}}, 0, "X-Top: t\r\n", 0, 0, "X-Top: t\r\n", 0, 0, 0},
    {"bare LF lines become CR LF",
     "From: a\nSubject: one\n two\n",
     NULL,
     {{0}},
     0,
     "",
     0,
     0,
     "From: a\r\nSubject: one\r\n two\r\n",
     0,
     0,
     0},

    /* ADD */
    {"add at the end",
     H3,
     NULL,
     {ADD("X-Spam", "yes")},
     1,
     "",
     0,
     0,
     "From: a@b.example\r\nTo: c@d.example\r\nSubject: hi\r\nX-Spam: yes\r\n",
     0,
     1,
     0},
    {"add an empty value",
     H3,
     NULL,
     {ADD("X-E", "")},
     1,
     "",
     0,
     0,
     "From: a@b.example\r\nTo: c@d.example\r\nSubject: hi\r\nX-E: \r\n",
     0,
     1,
     0},
    {"add folded with LF",
     "A: 1\r\n",
     NULL,
     {ADD("X-F", "one\n two\n\tthree")},
     1,
     "",
     0,
     0,
     "A: 1\r\nX-F: one\r\n two\r\n\tthree\r\n",
     0,
     1,
     0},
    {"add folded with CR LF",
     "A: 1\r\n",
     NULL,
     {ADD("X-F", "one\r\n two")},
     1,
     "",
     0,
     0,
     "A: 1\r\nX-F: one\r\n two\r\n",
     0,
     1,
     0},
    {"add a fold at the start",
     "A: 1\r\n",
     NULL,
     {ADD("X-F", "\n two")},
     1,
     "",
     0,
     0,
     "A: 1\r\nX-F: \r\n two\r\n",
     0,
     1,
     0},
    {"add 8-bit",
     "A: 1\r\n",
     NULL,
     {ADD("X-U", "caf\xc3\xa9")},
     1,
     "",
     0,
     0,
     "A: 1\r\nX-U: caf\xc3\xa9\r\n",
     0,
     1,
     0},

    /* INSERT */
    {"insert at 0: the very top",
     H3,
     NULL,
     {INS(0, "X-I", "0")},
     1,
     "",
     0,
     0,
     "X-I: 0\r\nFrom: a@b.example\r\nTo: c@d.example\r\nSubject: hi\r\n",
     0,
     1,
     0},
    {"insert at 1: after the first",
     H3,
     NULL,
     {INS(1, "X-I", "1")},
     1,
     "",
     0,
     0,
     "From: a@b.example\r\nX-I: 1\r\nTo: c@d.example\r\nSubject: hi\r\n",
     0,
     1,
     0},
    {"insert at the count: the end",
     H3,
     NULL,
     {INS(3, "X-I", "3")},
     1,
     "",
     0,
     0,
     "From: a@b.example\r\nTo: c@d.example\r\nSubject: hi\r\nX-I: 3\r\n",
     0,
     1,
     0},
    {"insert past the end",
     H3,
     NULL,
     {INS(4000000000u, "X-I", "big")},
     1,
     "",
     0,
     0,
     "From: a@b.example\r\nTo: c@d.example\r\nSubject: hi\r\nX-I: big\r\n",
     0,
     1,
     0},
    {"insert below the top fields",
     H3,
     NULL,
     {INS(0, "X-I", "0")},
     1,
     "DKIM-Signature: v=1\r\n",
     0,
     0,
     "DKIM-Signature: v=1\r\nX-I: 0\r\nFrom: a@b.example\r\nTo: c@d.example\r\n"
     "Subject: hi\r\n",
     0,
     1,
     0},
    {"insert into an empty section",
     "",
     NULL,
     {INS(5, "X-I", "5")},
     1,
     "",
     0,
     0,
     "X-I: 5\r\n",
     0,
     1,
     0},

    /* CHANGE */
    {"change the first of a name",
     RCVD,
     NULL,
     {CHG(1, "Received", "new")},
     1,
     "",
     0,
     0,
     "Received: new\r\nReceived: from y\r\nFrom: a@b.example\r\nreceived: from z\r\n",
     0,
     1,
     0},
    {"change index 0 is the first",
     RCVD,
     NULL,
     {CHG(0, "Received", "new")},
     1,
     "",
     0,
     0,
     "Received: new\r\nReceived: from y\r\nFrom: a@b.example\r\nreceived: from z\r\n",
     0,
     1,
     0},
    {"change the third, name case ignored, its spelling kept",
     RCVD,
     NULL,
     {CHG(3, "RECEIVED", "zz")},
     1,
     "",
     0,
     0,
     "Received: from x\r\n\tby gw.example\r\nReceived: from y\r\nFrom: a@b.example\r\n"
     "received: zz\r\n",
     0,
     1,
     0},
    {"change past the count adds",
     RCVD,
     NULL,
     {CHG(4, "Received", "added")},
     1,
     "",
     0,
     0,
     "Received: from x\r\n\tby gw.example\r\nReceived: from y\r\nFrom: a@b.example\r\n"
     "received: from z\r\nReceived: added\r\n",
     0,
     1,
     0},
    {"change of an absent name adds",
     H3,
     NULL,
     {CHG(1, "X-New", "v")},
     1,
     "",
     0,
     0,
     "From: a@b.example\r\nTo: c@d.example\r\nSubject: hi\r\nX-New: v\r\n",
     0,
     1,
     0},
    {"change to empty deletes",
     RCVD,
     NULL,
     {CHG(2, "received", "")},
     1,
     "",
     0,
     0,
     "Received: from x\r\n\tby gw.example\r\nFrom: a@b.example\r\nreceived: from z\r\n",
     0,
     1,
     0},
    {"change to empty past the count: ignored",
     H3,
     NULL,
     {CHG(2, "Subject", "")},
     1,
     "",
     0,
     0,
     H3,
     0,
     0,
     1},
    {"change to NULL deletes",
     H3,
     NULL,
     {CHG(1, "To", NULL)},
     1,
     "",
     0,
     0,
     "From: a@b.example\r\nSubject: hi\r\n",
     0,
     1,
     0},
    {"change a folded field to a folded value",
     RCVD,
     NULL,
     {CHG(1, "Received", "a\n\tb")},
     1,
     "",
     0,
     0,
     "Received: a\r\n\tb\r\nReceived: from y\r\nFrom: a@b.example\r\nreceived: from z\r\n",
     0,
     1,
     0},
    {"change a name with WSP before its colon",
     "Subject : x\r\n",
     NULL,
     {CHG(1, "subject", "y")},
     1,
     "",
     0,
     0,
     "Subject: y\r\n",
     0,
     1,
     0},

    /* DELETE */
    {"delete the second of a name",
     RCVD,
     NULL,
     {DEL(2, "Received")},
     1,
     "",
     0,
     0,
     "Received: from x\r\n\tby gw.example\r\nFrom: a@b.example\r\nreceived: from z\r\n",
     0,
     1,
     0},
    {"delete index 0 is the first",
     H3,
     NULL,
     {DEL(0, "from")},
     1,
     "",
     0,
     0,
     "To: c@d.example\r\nSubject: hi\r\n",
     0,
     1,
     0},
    {"delete past the count: ignored",
     RCVD,
     NULL,
     {DEL(4, "Received")},
     1,
     "",
     0,
     0,
     "Received: from x\r\n\tby gw.example\r\nReceived: from y\r\nFrom: a@b.example\r\n"
     "received: from z\r\n",
     0,
     0,
     1},
    {"delete an absent name: ignored", H3, NULL, {DEL(1, "X-None")}, 1, "", 0, 0, H3, 0, 0, 1},
    {"delete from an empty section: ignored", "", NULL, {DEL(1, "X")}, 1, "", 0, 0, "", 0, 0, 1},
    {"delete a prefix of a name: ignored", H3, NULL, {DEL(1, "Subj")}, 1, "", 0, 0, H3, 0, 0, 1},

    /* In sequence: each change sees the ones before it. */
    {"add then change it",
     H3,
     NULL,
     {ADD("X-A", "1"), CHG(1, "X-A", "2")},
     2,
     "",
     0,
     0,
     "From: a@b.example\r\nTo: c@d.example\r\nSubject: hi\r\nX-A: 2\r\n",
     0,
     2,
     0},
    {"delete then insert by the new count",
     H3,
     NULL,
     {DEL(1, "From"), INS(1, "X-I", "i")},
     2,
     "",
     0,
     0,
     "To: c@d.example\r\nX-I: i\r\nSubject: hi\r\n",
     0,
     2,
     0},
    {"two deletes of the first",
     RCVD,
     NULL,
     {DEL(1, "Received"), DEL(1, "Received")},
     2,
     "",
     0,
     0,
     "From: a@b.example\r\nreceived: from z\r\n",
     0,
     2,
     0},
    {"delete twice, the second ignored",
     H3,
     NULL,
     {DEL(1, "To"), DEL(1, "To")},
     2,
     "",
     0,
     0,
     "From: a@b.example\r\nSubject: hi\r\n",
     0,
     1,
     1},

    /* Authentication-Results */
    {"ours removed, another's kept",
     "Authentication-Results: gw.example; spf=pass\r\nFrom: a\r\n"
     "Authentication-Results: mx.other.example; dkim=pass\r\n",
     "gw.example",
     {{0}},
     0,
     "",
     0,
     0,
     "From: a\r\nAuthentication-Results: mx.other.example; dkim=pass\r\n",
     1,
     0,
     0},
    {"ours in upper case, a comment, quoted, a version, folded: all removed",
     "Authentication-Results: GW.EXAMPLE; spf=pass\r\n"
     "Authentication-Results: (forged) gw.example; dkim=pass\r\n"
     "Authentication-Results: \"gw.example\"; dmarc=pass\r\n"
     "Authentication-Results: gw.example 1; spf=pass\r\n"
     "authentication-results:\r\n gw.example.;\r\n\tspf=pass\r\n"
     "Subject: s\r\n",
     "gw.example",
     {{0}},
     0,
     "",
     0,
     0,
     "Subject: s\r\n",
     5,
     0,
     0},
    {"others' look-alikes kept",
     "Authentication-Results: gw.example.net; spf=pass\r\n"
     "Authentication-Results: x.gw.example; spf=pass\r\n"
     "Authentication-Results: mx.example; note=gw.example\r\n"
     "X-Authentication-Results: gw.example; spf=pass\r\n",
     "gw.example",
     {{0}},
     0,
     "",
     0,
     0,
     "Authentication-Results: gw.example.net; spf=pass\r\n"
     "Authentication-Results: x.gw.example; spf=pass\r\n"
     "Authentication-Results: mx.example; note=gw.example\r\n"
     "X-Authentication-Results: gw.example; spf=pass\r\n",
     0,
     0,
     0},
    {"no id: none removed",
     "Authentication-Results: gw.example; spf=pass\r\n",
     NULL,
     {{0}},
     0,
     "",
     0,
     0,
     "Authentication-Results: gw.example; spf=pass\r\n",
     0,
     0,
     0},
    {"a milter's own A-R of our id is kept",
     "From: a\r\n",
     "gw.example",
     {ADD("Authentication-Results", "gw.example; dkim=pass")},
     1,
     "",
     0,
     0,
     "From: a\r\nAuthentication-Results: gw.example; dkim=pass\r\n",
     0,
     1,
     0},
    {"indexes count the forged A-R the milter saw",
     "Authentication-Results: gw.example; spf=pass\r\nFrom: a\r\nTo: b\r\n",
     "gw.example",
     {INS(2, "X-I", "after From"), DEL(1, "Authentication-Results")},
     2,
     "",
     0,
     0,
     "From: a\r\nX-I: after From\r\nTo: b\r\n",
     0,
     2,
     0},
    {"a forged A-R changed to ours again is still removed",
     "Authentication-Results: x.example; spf=pass\r\nFrom: a\r\n",
     "gw.example",
     {CHG(1, "Authentication-Results", "gw.example; spf=pass")},
     1,
     "",
     0,
     0,
     "From: a\r\n",
     1,
     1,
     0},
    {"our A-R on top, the forged one gone",
     "Authentication-Results: gw.example; spf=pass\r\nFrom: a\r\n",
     "gw.example",
     {{0}},
     0,
     "DKIM-Signature: v=1; d=b.example\r\n\tb=abc\r\nAuthentication-Results: gw.example;\r\n"
     "\tspf=fail\r\n",
     0,
     0,
     "DKIM-Signature: v=1; d=b.example\r\n\tb=abc\r\nAuthentication-Results: gw.example;\r\n"
     "\tspf=fail\r\nFrom: a\r\n",
     1,
     0,
     0},

    /* The cap */
    {"exactly the cap",
     "A: 1\r\n",
     NULL,
     {ADD("B", "2")},
     1,
     "",
     12,
     0,
     "A: 1\r\nB: 2\r\n",
     0,
     1,
     0},
    {"one over the cap",
     "A: 1\r\n",
     NULL,
     {ADD("B", "2")},
     1,
     "",
     11,
     -1,
     "would pass 11",
     0,
     0,
     0},
    {"top over the cap", "A: 1\r\n", NULL, {{0}}, 0, "T: 1\r\n", 11, -1, "would pass 11", 0, 0, 0},
    {"the cap counts what is left after the drop",
     "Authentication-Results: gw.example; spf=pass\r\nA: 1\r\n",
     "gw.example",
     {{0}},
     0,
     "",
     6,
     0,
     "A: 1\r\n",
     1,
     0,
     0},

    /* Hostile values */
    {"a bare LF not followed by WSP",
     H3,
     NULL,
     {ADD("X-A", "a\nBcc: evil@x.example")},
     1,
     "",
     0,
     -1,
     "would start a field",
     0,
     0,
     0},
    {"a CR LF not followed by WSP",
     H3,
     NULL,
     {ADD("X-A", "a\r\nBcc: evil@x.example")},
     1,
     "",
     0,
     -1,
     "would start a field",
     0,
     0,
     0},
    {"CR LF CR LF ends the header section",
     H3,
     NULL,
     {ADD("X-A", "a\r\n\r\nbody")},
     1,
     "",
     0,
     -1,
     "would start a field",
     0,
     0,
     0},
    {"LF LF", H3, NULL, {INS(0, "X-A", "a\n\nbody")}, 1, "", 0, -1, "would start a field", 0, 0, 0},
    {"a break at the end",
     H3,
     NULL,
     {ADD("X-A", "a\r\n")},
     1,
     "",
     0,
     -1,
     "would end the header section",
     0,
     0,
     0},
    {"a break at the end of a change",
     H3,
     NULL,
     {CHG(1, "Subject", "x\n")},
     1,
     "",
     0,
     -1,
     "would end the header section",
     0,
     0,
     0},
    {"a line of only white space",
     H3,
     NULL,
     {ADD("X-A", "a\n \t\n b")},
     1,
     "",
     0,
     -1,
     "only white space",
     0,
     0,
     0},
    {"only white space at the end",
     H3,
     NULL,
     {ADD("X-A", "a\r\n ")},
     1,
     "",
     0,
     -1,
     "only white space",
     0,
     0,
     0},
    {"a bare CR", H3, NULL, {ADD("X-A", "a\rBcc: x")}, 1, "", 0, -1, "bare CR", 0, 0, 0},
    {"a bare CR at the end", H3, NULL, {CHG(1, "To", "a\r")}, 1, "", 0, -1, "bare CR", 0, 0, 0},
    {"a later bad change fails the whole edit",
     H3,
     NULL,
     {ADD("X-Ok", "1"), DEL(1, "To"), ADD("X-Bad", "a\nb")},
     3,
     "",
     0,
     -1,
     "milter change 3 (add X-Bad)",
     0,
     0,
     0},

    /* Hostile names */
    {"a name with a colon",
     H3,
     NULL,
     {ADD("Bcc: evil@x.example\r\nX", "v")},
     1,
     "",
     0,
     -1,
     "not a field name",
     0,
     0,
     0},
    {"a name with a colon at the end",
     H3,
     NULL,
     {ADD("X-A:", "v")},
     1,
     "",
     0,
     -1,
     "not a field name",
     0,
     0,
     0},
    {"a name with a space",
     H3,
     NULL,
     {INS(0, "X A", "v")},
     1,
     "",
     0,
     -1,
     "not a field name",
     0,
     0,
     0},
    {"a name with a CR LF",
     H3,
     NULL,
     {CHG(1, "X\r\nA", "v")},
     1,
     "",
     0,
     -1,
     "not a field name",
     0,
     0,
     0},
    {"an empty name", H3, NULL, {ADD("", "v")}, 1, "", 0, -1, "not a field name", 0, 0, 0},
    {"a NULL name", H3, NULL, {ADD(NULL, "v")}, 1, "", 0, -1, "not a field name", 0, 0, 0},
    {"a name with DEL", H3, NULL, {DEL(1, "X\x7f")}, 1, "", 0, -1, "not a field name", 0, 0, 0},
    {"a name with 8-bit",
     H3,
     NULL,
     {ADD("X-\xc3\xa9", "v")},
     1,
     "",
     0,
     -1,
     "not a field name",
     0,
     0,
     0},
    {"an unknown kind",
     H3,
     NULL,
     {{(enum milter_mod_kind)9, 0, (char *)"X", (char *)"v"}},
     1,
     "",
     0,
     -1,
     "unknown kind",
     0,
     0,
     0},

    /* Sections that are not fields */
    {"a line without a colon",
     "From: a\r\nnot a field\r\n",
     NULL,
     {{0}},
     0,
     "",
     0,
     -1,
     "not header fields (no-colon)",
     0,
     0,
     0},
    {"an empty line inside",
     "From: a\r\n\r\nTo: b\r\n",
     NULL,
     {{0}},
     0,
     "",
     0,
     -1,
     "not header fields",
     0,
     0,
     0},
    {"a leading fold", " From: a\r\n", NULL, {{0}}, 0, "", 0, -1, "leading-fold", 0, 0, 0},
    {"no line end at the end",
     "From: a",
     NULL,
     {{0}},
     0,
     "",
     0,
     -1,
     "does not end with a line end",
     0,
     0,
     0},
    {"top not fields",
     H3,
     NULL,
     {{0}},
     0,
     "no colon\r\n",
     0,
     -1,
     "fields to put on top is not header fields",
     0,
     0,
     0},
    {"top without its line end",
     H3,
     NULL,
     {{0}},
     0,
     "X: 1",
     0,
     -1,
     "fields to put on top does not end",
     0,
     0,
     0},
};

static void
test_rows(void **state)
{
    (void)state;
    for (size_t k = 0; k < COUNT(rows); k++) {
        const struct row *r = &rows[k];
        struct hdredit in = {
            .header = slice_make(r->header, strlen(r->header)),
            .drop_authres_id = r->drop_id,
            .mods = r->mods,
            .n_mods = r->n_mods,
            .top = slice_make(r->top, strlen(r->top)),
            .max = r->max != 0 ? r->max : 4096,
        };
        struct hdredit_result out = {.text = (char *)"untouched", .len = 99};
        char err[256] = "";
        int rc = hdredit_apply(&in, &out, err, sizeof err);

        print_message("row %zu: %s: rc %d, err \"%s\"\n", k, r->what, rc, err);
        assert_int_equal(rc, r->rc);
        if (rc == -1) {
            assert_non_null(strstr(err, r->want));
            for (const char *c = err; *c != '\0'; c++)
                assert_true(*c >= 0x20 && *c < 0x7f); /* the reason gets logged */
            assert_string_equal(out.text, "untouched");
            assert_int_equal(out.len, 99);
            continue;
        }
        assert_int_equal(out.len, strlen(r->want));
        assert_memory_equal(out.text, r->want, out.len);
        assert_int_equal(out.text[out.len], '\0');
        assert_int_equal(out.dropped_authres, r->dropped);
        assert_int_equal(out.applied, r->applied);
        assert_int_equal(out.ignored, r->ignored);
        {
            struct msghdr_section h = {0};
            const char *why = NULL;

            assert_int_equal(msghdr_parse(&h, slice_make(out.text, out.len), 10000, &why), 0);
            msghdr_clear(&h);
        }
        hdredit_result_free(&out);
        assert_null(out.text);
        assert_int_equal(out.len, 0);
    }
    hdredit_result_free(NULL);
}

/* A section of 20000 fields and 1000 changes: linear enough, and right at both ends. */
static void
test_many(void **state)
{
    size_t n = 20000, len = 0;
    char *sec = malloc(n * 16);
    struct milter_mod mods[1000];
    struct hdredit in = {0};
    struct hdredit_result out;
    char err[256];

    (void)state;
    assert_non_null(sec);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(sec + len, 16, "X-%05zu: v\r\n", i);
    for (size_t i = 0; i < COUNT(mods); i++)
        mods[i] = (struct milter_mod){MILTER_MOD_DELETE, 1, (char *)"x-00000", NULL};
    mods[0] = (struct milter_mod){MILTER_MOD_INSERT, 0, (char *)"First", (char *)"1"};
    in.header = slice_make(sec, len);
    in.mods = mods;
    in.n_mods = COUNT(mods);
    in.top = slice_make("", 0);
    in.max = len + 100;
    assert_int_equal(hdredit_apply(&in, &out, err, sizeof err), 0);
    assert_int_equal(out.applied, 2);
    assert_int_equal(out.ignored, 998);
    assert_int_equal(out.len, len - 12 + 10);
    assert_memory_equal(out.text, "First: 1\r\nX-00001: v\r\n", 22);
    hdredit_result_free(&out);
    free(sec);
}

/* A line of a field may be 998 octets (name, ": " and value), each line of a folded one too. */
static void
test_line_max(void **state)
{
    char v[2100];
    struct milter_mod md = {MILTER_MOD_ADD, 0, (char *)"X-L", v};
    struct hdredit in = {.header = slice_make("", 0),
                         .mods = &md,
                         .n_mods = 1,
                         .top = slice_make("", 0),
                         .max = 4096};
    struct hdredit_result out;
    char err[256];

    (void)state;
    memset(v, 'v', 993);
    v[993] = '\0';
    assert_int_equal(hdredit_apply(&in, &out, err, sizeof err), 0);
    assert_int_equal(out.len, 1000);
    hdredit_result_free(&out);
    v[993] = 'v';
    v[994] = '\0';
    assert_int_equal(hdredit_apply(&in, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "over 998"));
    /* Folded: the first line 998, the next " " and 997 more. */
    memset(v, 'v', 2000);
    v[993] = '\n';
    v[994] = ' ';
    v[994 + 998] = '\0';
    assert_int_equal(hdredit_apply(&in, &out, err, sizeof err), 0);
    assert_int_equal(out.len, 998 + 2 + 998 + 2);
    hdredit_result_free(&out);
    v[994 + 998] = 'v';
    v[994 + 999] = '\0';
    assert_int_equal(hdredit_apply(&in, &out, err, sizeof err), -1);
}

/* A cap of 0 takes only an empty result. */
static void
test_cap_zero(void **state)
{
    struct milter_mod md = {MILTER_MOD_DELETE, 1, (char *)"A", NULL};
    struct hdredit in = {.header = slice_make("A: 1\r\n", 6),
                         .mods = &md,
                         .n_mods = 1,
                         .top = slice_make("", 0),
                         .max = 0};
    struct hdredit_result out;
    char err[256];

    (void)state;
    assert_int_equal(hdredit_apply(&in, &out, err, sizeof err), 0);
    assert_int_equal(out.len, 0);
    assert_non_null(out.text);
    hdredit_result_free(&out);
    in.n_mods = 0;
    assert_int_equal(hdredit_apply(&in, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "would pass 0 octets"));
}

static const struct {
    const char *in, *out;
} bodies[] = {
    {"", ""},
    {"a\r\nb\r\n", "a\r\nb\r\n"},
    {"a\nb\n", "a\r\nb\r\n"},
    {"a\rb\r", "a\r\nb\r\n"},
    {"a\r\r\nb", "a\r\n\r\nb"},
    {"a\n\r", "a\r\n\r\n"},
    {"\n\n", "\r\n\r\n"},
    {"\r", "\r\n"},
    {"no end", "no end"},
    {"mixed\r\nlf\ncr\rend", "mixed\r\nlf\r\ncr\r\nend"},
    {"\n\r\n\r", "\r\n\r\n\r\n"},
};

static void
test_body_crlf(void **state)
{
    (void)state;
    for (size_t k = 0; k < COUNT(bodies); k++) {
        size_t n = 99;
        char *b = hdredit_body_crlf(bodies[k].in, strlen(bodies[k].in), &n);

        print_message("body %zu\n", k);
        assert_non_null(b);
        assert_int_equal(n, strlen(bodies[k].out));
        assert_memory_equal(b, bodies[k].out, n);
        assert_int_equal(b[n], '\0');
        free(b);
    }
    {
        /* A NUL is an octet like another. */
        size_t n;
        char *b = hdredit_body_crlf("a\0\nb", 4, &n);

        assert_int_equal(n, 5);
        assert_memory_equal(b, "a\0\r\nb", 5);
        free(b);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),      cmocka_unit_test(test_many),
        cmocka_unit_test(test_line_max),  cmocka_unit_test(test_cap_zero),
        cmocka_unit_test(test_body_crlf),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
