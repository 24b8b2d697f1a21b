/* SPDX-License-Identifier: MIT */
/* A milter's REPLYCODE as our reply line (milter_reply.h): a table, good and hostile rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "checks/milter_reply.h"

static void
test_rows(void **state)
{
    static const struct {
        unsigned code;
        const char *text;
        const char *want; /* NULL: refused */
    } rows[] = {
        {550, "5.7.1 Spam detected", "550 5.7.1 Spam detected"},
        {550, "550 5.7.1 Spam detected", "550 5.7.1 Spam detected"},
        {550, "550-5.7.1 Spam detected", "550 5.7.1 Spam detected"},
        {554, "5.7.0 Go away", "554 5.7.0 Go away"},
        {451, "4.3.2 Try later", "451 4.3.2 Try later"},
        {451, "", "451 4.7.1 Message deferred by content filter, try again later"},
        {550, "", "550 5.7.1 Message rejected by content filter"},
        {550, "   ", "550 5.7.1 Message rejected by content filter"},
        {550, "5.7.1", "550 5.7.1 Message rejected by content filter"},
        /* An enhanced code of another class is not taken: ours, and the text as it is. */
        {550, "4.7.1 mixed", "550 5.7.1 4.7.1 mixed"},
        {451, "5.7.1 mixed", "451 4.7.1 5.7.1 mixed"},
        /* Not an enhanced code: too many digits, a sign, a blank inside, no dots. */
        {550, "5.7.1000 x", "550 5.7.1 5.7.1000 x"},
        {550, "5.+7.1 x", "550 5.7.1 5.+7.1 x"},
        {550, "5. 7.1 x", "550 5.7.1 5. 7.1 x"},
        {550, "5.7 x", "550 5.7.1 5.7 x"},
        {550, "5.7.1x", "550 5.7.1 5.7.1x"},
        {550, "5.999.999 edge", "550 5.999.999 edge"},
        /* Another code at the start is text. */
        {550, "554 5.7.1 other", "550 5.7.1 554 5.7.1 other"},
        /* Control characters and 8-bit octets never reach the client. */
        {550, "bad\r\nRSET", "550 5.7.1 bad??RSET"},
        {550, "caf\xc3\xa9", "550 5.7.1 caf??"},
        {550, "tab\there", "550 5.7.1 tab?here"},
        /* Codes we do not send as they are. */
        {421, "4.7.0 closing", NULL},
        {399, "x", NULL},
        {600, "x", NULL},
        {250, "2.0.0 ok", NULL},
        {0, "x", NULL},
        {550, NULL, NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[512] = "untouched";
        bool ok = milter_reply_line(rows[i].code, rows[i].text, out, sizeof(out));

        if (rows[i].want == NULL) {
            if (ok || strcmp(out, "untouched") != 0)
                fail_msg("row %zu: taken as \"%s\"", i, out);
            continue;
        }
        if (!ok || strcmp(out, rows[i].want) != 0)
            fail_msg("row %zu: \"%s\", expected \"%s\"", i, ok ? out : "(refused)", rows[i].want);
    }
}

/* A long text is cut at MILTER_REPLY_TEXT_MAX octets, and never past the capacity. */
static void
test_long(void **state)
{
    char text[2000], out[1000], small[80];

    (void)state;
    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    assert_true(milter_reply_line(550, text, out, sizeof(out)));
    assert_int_equal(strlen(out), strlen("550 5.7.1 ") + MILTER_REPLY_TEXT_MAX);
    assert_true(milter_reply_line(550, text, small, sizeof(small)));
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_false(milter_reply_line(550, text, small, 63));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_long),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
