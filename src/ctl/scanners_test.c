/* SPDX-License-Identifier: MIT */
/*
 * `gate26 scanners`: the request line of the control socket (every
 * spelling it takes and the hostile ones it refuses), and the text printed
 * from a document, a hostile one too (wrong types, control characters).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/scanners.h"

static void
test_parse(void **state)
{
    static const struct {
        const char *line;
        int want;
        size_t top;
    } rows[] = {
        {"scanners-json", 1, CTL_SCANNERS_TOP},
        {"scanners-json 1", 1, 1},
        {"scanners-json 20", 1, 20},
        {"scanners-json 1000", 1, 1000},
        {"scanners-json 1001", -1, 0},
        {"scanners-json 0", -1, 0},
        {"scanners-json 01", -1, 0},
        {"scanners-json -1", -1, 0},
        {"scanners-json +1", -1, 0},
        {"scanners-json ", -1, 0},
        {"scanners-json 1 2", -1, 0},
        {"scanners-json 99999", -1, 0},
        {"scanners-json x", -1, 0},
        {"scanners-json\t1", 0, 0}, /* another verb: the queue's parser refuses it */
        {"scanners-jsonx", 0, 0},
        {"scanners", 0, 0},
        {"status-json", 0, 0},
        {"list", 0, 0},
        {"", 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        size_t top = 777;
        char why[128] = "";
        int got = ctl_scanners_parse(rows[i].line, strlen(rows[i].line), &top, why, sizeof(why));

        if (got != rows[i].want || (got == 1 && top != rows[i].top) ||
            (got == -1 && strstr(why, "from 1 to 1000") == NULL)) {
            print_error("row '%s': want %d/%zu, got %d/%zu '%s'\n", rows[i].line, rows[i].want,
                        rows[i].top, got, top, why);
            fail();
        }
    }
    /* NUL inside: not this verb's argument. */
    {
        size_t top;
        char why[128];

        assert_int_equal(ctl_scanners_parse("scanners-json 1\0", 16, &top, why, sizeof(why)), -1);
    }
}

static char *
print_of(const char *json)
{
    json_error_t err;
    json_t *doc = json_loads(json, 0, &err);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(doc);
    assert_non_null(f);
    assert_int_equal(ctl_scanners_print(f, doc), 0);
    assert_int_equal(fclose(f), 0);
    json_decref(doc);
    return text;
}

static void
test_print(void **state)
{
    char *t;

    (void)state;
    t = print_of("{\"sources\":[{\"address\":\"192.0.2.7\",\"mirai\":20,\"plain\":3,"
                 "\"sessions\":{\"silent\":1,\"http\":2,\"tls\":0,\"ssh\":0,\"proxy\":0,"
                 "\"binary\":0},\"ports\":[26,25],\"first_seen\":\"2026-12-07T01:02:03Z\","
                 "\"last_seen\":\"2026-12-07T01:05:00Z\"}],"
                 "\"networks\":[{\"network\":\"192.0.2.0/24\",\"mirai\":20,\"plain\":3,"
                 "\"sessions\":3,\"sources\":1,\"first_seen\":\"2026-12-07T01:02:03Z\","
                 "\"last_seen\":\"2026-12-07T01:05:00Z\"}],"
                 "\"capture\":\"any\",\"table_size\":4096,\"sources_now\":1}");
    assert_non_null(strstr(t, "gate26 scanners: 1 source in the table (of 4096), capture any\n"));
    assert_non_null(strstr(t, "192.0.2.7"));
    assert_non_null(strstr(t, "silent 1, http 2"));
    assert_non_null(strstr(t, "26,25"));
    assert_non_null(strstr(t, "2026-12-07 01:02:03"));
    assert_non_null(strstr(t, "192.0.2.0/24"));
    free(t);

    t = print_of("{\"sources\":[],\"networks\":[],\"capture\":null,\"table_size\":4096,"
                 "\"sources_now\":0}");
    assert_non_null(strstr(t, "0 sources in the table (of 4096), capture off\n"));
    assert_non_null(strstr(t, "no scanners seen"));
    free(t);

    /* Hostile: wrong types, control characters, negative numbers. */
    t = print_of("{\"sources\":[{\"address\":\"\\u001b[31mx\\n\",\"mirai\":-5,\"plain\":\"3\","
                 "\"sessions\":[1],\"ports\":{\"a\":1},\"first_seen\":7}],\"networks\":7,"
                 "\"capture\":\"\\u0007\",\"table_size\":\"big\"}");
    assert_null(strchr(t, '\033'));
    assert_null(strchr(t, '\007'));
    assert_non_null(strstr(t, "?[31mx?"));
    free(t);
    t = print_of("[]");
    assert_non_null(strstr(t, "0 sources"));
    free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_print),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
