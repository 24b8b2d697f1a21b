/* SPDX-License-Identifier: MIT */
/*
 * Tests of rspamd_answer_parse (rspamd.h): rspamd's /checkv2 answers as
 * rspamd 3.4 writes them, and hostile ones, in a table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scan/rspamd.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void
test_answer(void **state)
{
    static const struct {
        const char *json;
        int rc;
        double score, required;
        enum rspamd_action action;
        size_t n_symbols;
        const char *first_symbol;
        const char *error; /* a part of it */
    } rows[] = {
        /* What rspamd 3.4 answers (trimmed). */
        {"{\"is_skipped\":false,\"score\":1.2,\"required_score\":15.0,\"action\":\"no action\","
         "\"thresholds\":{\"reject\":15.0,\"add header\":6.0,\"greylist\":4.0},"
         "\"symbols\":{\"MISSING_DATE\":{\"name\":\"MISSING_DATE\",\"score\":1.0,"
         "\"metric_score\":1.0},\"MISSING_MID\":{\"name\":\"MISSING_MID\",\"score\":2.5},"
         "\"ARC_NA\":{\"name\":\"ARC_NA\",\"score\":0.0}},\"messages\":{},"
         "\"message-id\":\"undef\",\"time_real\":0.01,\"milter\":{}}",
         0, 1.2, 15.0, RSPAMD_ACTION_NO_ACTION, 3, "MISSING_MID", NULL},
        {"{\"score\":0,\"required_score\":15,\"action\":\"reject\",\"symbols\":{"
         "\"GTUBE\":{\"score\":0}}}",
         0, 0, 15, RSPAMD_ACTION_REJECT, 1, "GTUBE", NULL},
        {"{\"score\":-3.5,\"required_score\":15,\"action\":\"add header\"}", 0, -3.5, 15,
         RSPAMD_ACTION_ADD_HEADER, 0, NULL, NULL},
        {"{\"score\":7,\"required_score\":15,\"action\":\"greylist\"}", 0, 7, 15,
         RSPAMD_ACTION_GREYLIST, 0, NULL, NULL},
        {"{\"score\":7,\"required_score\":15,\"action\":\"soft reject\"}", 0, 7, 15,
         RSPAMD_ACTION_SOFT_REJECT, 0, NULL, NULL},
        {"{\"score\":7,\"required_score\":15,\"action\":\"rewrite subject\"}", 0, 7, 15,
         RSPAMD_ACTION_REWRITE_SUBJECT, 0, NULL, NULL},
        {"{\"score\":7,\"required_score\":15,\"action\":\"discard\"}", 0, 7, 15,
         RSPAMD_ACTION_OTHER, 0, NULL, NULL},
        {"{\"score\":7,\"required_score\":15,\"action\":\"REJECT\"}", 0, 7, 15, RSPAMD_ACTION_OTHER,
         0, NULL, NULL},
        /* Hostile. */
        {"", -1, 0, 0, 0, 0, NULL, "not JSON"},
        {"garbage", -1, 0, 0, 0, 0, NULL, "not JSON"},
        {"{\"score\":1", -1, 0, 0, 0, 0, NULL, "not JSON"},
        {"[1,2]", -1, 0, 0, 0, 0, NULL, "not a JSON object"},
        {"\"x\"", -1, 0, 0, 0, 0, NULL, "not JSON"},
        {"{}", -1, 0, 0, 0, 0, NULL, "no score"},
        {"{\"score\":\"1\",\"required_score\":15,\"action\":\"reject\"}", -1, 0, 0, 0, 0, NULL,
         "no score"},
        {"{\"score\":1,\"action\":\"reject\"}", -1, 0, 0, 0, 0, NULL, "no required_score"},
        {"{\"score\":1,\"required_score\":15}", -1, 0, 0, 0, 0, NULL, "no action"},
        {"{\"score\":1,\"required_score\":15,\"action\":5}", -1, 0, 0, 0, 0, NULL, "no action"},
        {"{\"score\":1e999,\"required_score\":15,\"action\":\"reject\"}", -1, 0, 0, 0, 0, NULL,
         "not JSON"},
        {"{\"score\":1,\"score\":2,\"required_score\":15,\"action\":\"reject\"}", -1, 0, 0, 0, 0,
         NULL, "not JSON"},
        {"{\"score\":1,\"required_score\":15,\"action\":\"reject\",\"symbols\":[]}", -1, 0, 0, 0, 0,
         NULL, "symbols are not an object"},
        {"{\"score\":1,\"required_score\":15,\"action\":\"reject\",\"symbols\":{\"A\":1}}", -1, 0,
         0, 0, 0, NULL, "symbol without a score: A"},
        {"{\"score\":1,\"required_score\":15,\"action\":\"reject\",\"symbols\":{\"A\":{}}}", -1, 0,
         0, 0, 0, NULL, "symbol without a score"},
        {"{\"error\":\"Message has no body\"}", -1, 0, 0, 0, 0, NULL,
         "rspamd: Message has no body"},
        {"{\"score\":7,\"required_score\":15,\"action\":\"reject\\u0000x\"}", -1, 0, 0, 0, 0, NULL,
         "not JSON"},
        {"{\"error\":\"bad\\u0001\\n\"}", -1, 0, 0, 0, 0, NULL, "rspamd: bad??"},
        {"{\"score\":1,\"required_score\":15,\"action\":\"reject\",\"error\":\"x\"}", -1, 0, 0, 0,
         0, NULL, "rspamd: x"},
        {"{\"score\":1,\"required_score\":15,\"action\":\"reject\"} x", -1, 0, 0, 0, 0, NULL,
         "not JSON"},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct rspamd_result r;
        int rc = rspamd_answer_parse(slice_make(rows[i].json, strlen(rows[i].json)), &r);

        if (rc != rows[i].rc)
            fail_msg("row %zu: rc %d (%s)", i, rc, r.error);
        if (rc == -1) {
            assert_int_equal(r.status, RSPAMD_ERROR);
            if (strstr(r.error, rows[i].error) == NULL)
                fail_msg("row %zu: error '%s'", i, r.error);
            continue;
        }
        assert_int_equal(r.status, RSPAMD_OK);
        assert_true(r.score == rows[i].score);
        assert_true(r.required_score == rows[i].required);
        assert_int_equal(r.action, rows[i].action);
        assert_int_equal(r.n_symbols, rows[i].n_symbols);
        if (rows[i].first_symbol != NULL)
            assert_string_equal(r.symbols[0].name, rows[i].first_symbol);
    }
}

/* 200 symbols: the RSPAMD_SYMBOLS_MAX highest are kept, highest first; names are cut. */
static void
test_symbols_bounded(void **state)
{
    static char json[64 * 1024];
    struct rspamd_result r;
    size_t n;

    (void)state;
    n = (size_t)snprintf(json, sizeof(json),
                         "{\"score\":1,\"required_score\":15,\"action\":\"reject\",\"symbols\":{");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(json + n, sizeof(json) - n, "%s\"S%03d\":{\"score\":%d.5}",
                              i == 0 ? "" : ",", i, (i * 37) % 200);
    n += (size_t)snprintf(json + n, sizeof(json) - n,
                          ",\"%0200d\":{\"score\":-1},\"BAD\\u0007NAME\":{\"score\":500}}}", 7);
    assert_int_equal(rspamd_answer_parse(slice_make(json, n), &r), 0);
    assert_int_equal(r.n_symbols_all, 202);
    assert_int_equal(r.n_symbols, RSPAMD_SYMBOLS_MAX);
    assert_string_equal(r.symbols[0].name, "BAD?NAME");
    assert_true(r.symbols[1].score == 199.5);
    for (size_t i = 2; i < r.n_symbols; i++)
        assert_true(r.symbols[i].score < r.symbols[i - 1].score);
    assert_true(r.symbols[RSPAMD_SYMBOLS_MAX - 1].score == 200 - RSPAMD_SYMBOLS_MAX + 2 - 0.5);
}

/* Deep nesting is refused by jansson's depth limit, not a stack overflow. */
static void
test_deep(void **state)
{
    static char json[200000];
    struct rspamd_result r;

    (void)state;
    memset(json, '[', sizeof(json));
    assert_int_equal(rspamd_answer_parse(slice_make(json, sizeof(json)), &r), -1);
    assert_int_equal(r.status, RSPAMD_ERROR);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer),
        cmocka_unit_test(test_symbols_bounded),
        cmocka_unit_test(test_deep),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
