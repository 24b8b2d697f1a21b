/* SPDX-License-Identifier: MIT */
/*
 * The "series-json" document (series.c): read back with jansson, every
 * door with its four series of exactly 1440 counts in order, the extremes
 * of a count (0, UINT32_MAX), the minute's start from the clock, one
 * compact line; and the answer of no watcher (zeros).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <jansson.h>

#include "conf/conf.h"
#include "ctl/series.h"

static const char *const values[] = {"connections", "messages", "refusals", "auth_failures"};

static const uint32_t *
series_of(const struct watch_door_series *s, size_t v)
{
    const uint32_t *all[] = {s->connections, s->messages, s->refusals, s->auth_failures};

    return all[v];
}

/* The document of se at now_ms, checked to be one compact line, parsed. */
static json_t *
doc_of(const struct watch_series *se, int64_t now_ms)
{
    struct evbuffer *b = evbuffer_new();
    size_t len = evbuffer_get_length(b);
    char *text;
    json_error_t err;
    json_t *doc;

    ctl_series_doc(se, now_ms, b);
    len = evbuffer_get_length(b);
    text = calloc(1, len + 1);
    assert_non_null(text);
    assert_int_equal(evbuffer_remove(b, text, len), (int)len);
    evbuffer_free(b);
    assert_true(len > 2 && text[len - 1] == '\n');
    assert_null(memchr(text, '\n', len - 1));
    assert_null(memchr(text, ' ', len));
    doc = json_loadb(text, len, 0, &err);
    assert_non_null(doc);
    free(text);
    return doc;
}

static void
test_document(void **state)
{
    static struct watch_series se;
    static const struct {
        int64_t now_ms;
        uint64_t into_ms;
        long long time, minute;
    } clocks[] = {
        {1765000000123, 0, 1765000000, 1765000000},
        {1765000000123, 59999, 1765000000, 1764999940},
        {1765000000123, 123, 1765000000, 1765000000},
        {1765000000123, 124, 1765000000, 1764999999},
        {0, 0, 0, 0},
        {1000, 60001, 1, 0}, /* hostile: more than a minute into it counts modulo 60000 */
        {-1, 0, -1, -1},     /* before the epoch: floor division */
    };

    (void)state;
    for (int d = 0; d < DOOR_ROLE_COUNT; d++)
        for (size_t j = 0; j < WATCH_SERIES_MINUTES; j++) {
            se.door[d].connections[j] = (uint32_t)(j * 4 + (size_t)d);
            se.door[d].messages[j] = (uint32_t)j;
            se.door[d].refusals[j] = j == 7 ? UINT32_MAX : 0;
            se.door[d].auth_failures[j] = (uint32_t)(WATCH_SERIES_MINUTES - j);
        }
    for (size_t c = 0; c < sizeof clocks / sizeof clocks[0]; c++) {
        json_t *doc, *doors;

        se.into_minute_ms = clocks[c].into_ms;
        doc = doc_of(&se, clocks[c].now_ms);
        assert_int_equal(json_object_size(doc), 3);
        assert_int_equal(json_integer_value(json_object_get(doc, "time")), clocks[c].time);
        assert_int_equal(json_integer_value(json_object_get(doc, "minute")), clocks[c].minute);
        doors = json_object_get(doc, "doors");
        assert_int_equal(json_object_size(doors), DOOR_ROLE_COUNT);
        for (int d = 0; d < DOOR_ROLE_COUNT; d++) {
            json_t *door = json_object_get(doors, conf_role_name((enum door_role)d));

            assert_non_null(door);
            assert_int_equal(json_object_size(door), 4);
            for (size_t v = 0; v < 4; v++) {
                json_t *arr = json_object_get(door, values[v]);
                const uint32_t *want = series_of(&se.door[d], v);

                assert_true(json_is_array(arr));
                assert_int_equal(json_array_size(arr), WATCH_SERIES_MINUTES);
                for (size_t j = 0; j < WATCH_SERIES_MINUTES; j++) {
                    json_t *x = json_array_get(arr, j);

                    assert_true(json_is_integer(x));
                    assert_int_equal(json_integer_value(x), want[j]);
                }
            }
        }
        json_decref(doc);
    }
}

/* No watcher: every count 0, and the minute within the last 60 s. */
static void
test_answer_without_watcher(void **state)
{
    struct evbuffer *b = evbuffer_new();
    size_t len;
    char *text;
    json_t *doc, *arr;

    (void)state;
    ctl_series_answer(NULL, b);
    len = evbuffer_get_length(b);
    text = calloc(1, len + 1);
    assert_non_null(text);
    assert_int_equal(evbuffer_remove(b, text, len), (int)len);
    doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    assert_true(json_integer_value(json_object_get(doc, "time")) -
                    json_integer_value(json_object_get(doc, "minute")) <
                60);
    arr = json_object_get(json_object_get(json_object_get(doc, "doors"), "submissions"),
                          "auth_failures");
    assert_int_equal(json_array_size(arr), WATCH_SERIES_MINUTES);
    for (size_t j = 0; j < WATCH_SERIES_MINUTES; j++)
        assert_int_equal(json_integer_value(json_array_get(arr, j)), 0);
    json_decref(doc);
    free(text);
    evbuffer_free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document),
        cmocka_unit_test(test_answer_without_watcher),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
