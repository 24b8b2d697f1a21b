/* SPDX-License-Identifier: MIT */
/*
 * `gate26 status`'s document and table (status.c, status_print.c): the
 * document has every field with the watcher's numbers (IPv6 clients as
 * their /64, the queue's age from its oldest arrival); the table shows
 * them; and documents that are not what the daemon writes (missing
 * fields, wrong types, control characters in strings, huge numbers, a
 * flood of alerts) print without a crash, a control character, or a
 * line of unbounded length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "ctl/status.h"

static struct watch_status
sample_status(void)
{
    struct watch_status st;
    unsigned char six[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1};

    memset(&st, 0, sizeof(st));
    st.hostname = "mx1.example.test";
    st.uptime_seconds = 3725;
    st.door[DOOR_INBOUND].listening = true;
    st.door[DOOR_INBOUND].sessions_open = 2;
    st.door[DOOR_INBOUND].span[WATCH_SPAN_MINUTE] = (struct watch_counts){3, 1, 4, 0};
    st.door[DOOR_INBOUND].span[WATCH_SPAN_HOUR] = (struct watch_counts){30, 10, 40, 0};
    st.door[DOOR_INBOUND].span[WATCH_SPAN_START] = (struct watch_counts){300, 100, 400, 5};
    st.door[DOOR_INBOUND].n_top = 2;
    st.door[DOOR_INBOUND].top[0] = (struct watch_client_count){AF_INET, {192, 0, 2, 7}, 9, 30};
    st.door[DOOR_INBOUND].top[1] = (struct watch_client_count){AF_INET6, {0}, 1, 10};
    memcpy(st.door[DOOR_INBOUND].top[1].addr, six, 16);
    st.door[DOOR_SUBMISSION].listening = true;
    st.door[DOOR_SUBMISSION].span[WATCH_SPAN_START].auth_failures = 7;
    st.deliveries[WATCH_SPAN_MINUTE][WATCH_DELIVERY_SENT] = 1;
    st.deliveries[WATCH_SPAN_HOUR][WATCH_DELIVERY_DEFERRED] = 2;
    st.deliveries[WATCH_SPAN_START][WATCH_DELIVERY_BOUNCED] = 3;
    return st;
}

static long long
at(const json_t *doc, const char *path)
{
    char buf[256], *save = NULL;
    const json_t *x = doc;

    (void)snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k != NULL; k = strtok_r(NULL, ".", &save))
        x = json_object_get(x, k);
    assert_true(json_is_integer(x));
    return json_integer_value(x);
}

static char *
print(const json_t *doc, bool colour)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    assert_int_equal(ctl_status_print(f, doc, colour), 0);
    assert_int_equal(fclose(f), 0);
    return text;
}

/* No control character but LF (and ESC when colour is asked for); lines of bounded length. */
static void
assert_clean(const char *text, bool colour)
{
    size_t line = 0;

    for (const char *p = text; *p != '\0'; p++) {
        unsigned char ch = (unsigned char)*p;

        if (ch == '\n') {
            line = 0;
            continue;
        }
        assert_true((ch >= 0x20 && ch < 0x7f) || (colour && ch == 0x1b));
        assert_true(++line < 1000);
    }
}

static void
test_document(void **state)
{
    struct watch_status st = sample_status();
    struct sched_queue_facts q = {.messages = 5, .deferred = 2, .held = 1, .oldest = 1000};
    struct watch_alert a = {.rule = "auth-burst",
                            .when = "failed-auth",
                            .key = "192.0.2.7",
                            .value = 23,
                            .threshold = 20,
                            .since = 1500};
    json_t *alerts = json_array(), *doc;
    const json_t *top;

    (void)state;
    assert_int_equal(json_array_append_new(alerts, ctl_status_alert(&a)), 0);
    doc = ctl_status_doc(&st, &q, 1, alerts, 2000);
    json_decref(alerts);

    assert_string_equal(json_string_value(json_object_get(doc, "hostname")), "mx1.example.test");
    assert_string_equal(json_string_value(json_object_get(doc, "version")), GATE26_VERSION);
    assert_int_equal(at(doc, "time"), 2000);
    assert_int_equal(at(doc, "uptime_seconds"), 3725);
    assert_int_equal(json_object_size(json_object_get(doc, "doors")), 4);
    assert_true(json_is_true(
        json_object_get(json_object_get(json_object_get(doc, "doors"), "inbound"), "listening")));
    assert_true(json_is_false(
        json_object_get(json_object_get(json_object_get(doc, "doors"), "internal"), "listening")));
    assert_int_equal(at(doc, "doors.inbound.sessions_open"), 2);
    assert_int_equal(at(doc, "doors.inbound.last_minute.connections"), 3);
    assert_int_equal(at(doc, "doors.inbound.last_minute.messages"), 1);
    assert_int_equal(at(doc, "doors.inbound.last_minute.refusals"), 4);
    assert_int_equal(at(doc, "doors.inbound.last_hour.connections"), 30);
    assert_int_equal(at(doc, "doors.inbound.since_start.refusals"), 400);
    assert_int_equal(at(doc, "doors.inbound.since_start.auth_failures"), 5);
    assert_int_equal(at(doc, "doors.submission.since_start.auth_failures"), 7);
    assert_int_equal(at(doc, "doors.submissions.since_start.connections"), 0);
    top = json_object_get(json_object_get(json_object_get(doc, "doors"), "inbound"), "top_clients");
    assert_int_equal(json_array_size(top), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(top, 0), "client")),
                        "192.0.2.7");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(top, 0), "messages")), 9);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(top, 0), "refusals")), 30);
    assert_string_equal(json_string_value(json_object_get(json_array_get(top, 1), "client")),
                        "2001:db8:0:1::/64");
    assert_int_equal(at(doc, "queue.messages"), 5);
    assert_int_equal(at(doc, "queue.oldest_seconds"), 1000);
    assert_int_equal(at(doc, "queue.deferred"), 2);
    assert_int_equal(at(doc, "queue.held"), 1);
    assert_int_equal(at(doc, "deliveries.last_minute.sent"), 1);
    assert_int_equal(at(doc, "deliveries.last_hour.deferred"), 2);
    assert_int_equal(at(doc, "deliveries.since_start.bounced"), 3);
    assert_int_equal(at(doc, "deliveries.since_start.sent"), 0);
    assert_int_equal(json_array_size(json_object_get(doc, "alerts")), 1);
    assert_int_equal(at(doc, "alerts_firing"), 1);
    {
        const json_t *x = json_array_get(json_object_get(doc, "alerts"), 0);

        assert_string_equal(json_string_value(json_object_get(x, "rule")), "auth-burst");
        assert_string_equal(json_string_value(json_object_get(x, "when")), "failed-auth");
        assert_string_equal(json_string_value(json_object_get(x, "key")), "192.0.2.7");
        assert_int_equal(json_integer_value(json_object_get(x, "value")), 23);
        assert_int_equal(json_integer_value(json_object_get(x, "threshold")), 20);
        assert_int_equal(json_object_size(x), 6);
        assert_int_equal(json_integer_value(json_object_get(x, "since")), 1500);
    }
    assert_int_equal(ctl_status_exit(doc), 1);

    /* The table. */
    {
        char *text = print(doc, false);

        assert_clean(text, false);
        assert_non_null(strstr(text, "gate26 status of mx1.example.test at 1970-01-01 00:33:20 "
                                     "UTC, up 1h02m\n"));
        assert_non_null(strstr(text, "last minute"));
        assert_non_null(strstr(text, "\n                    last minute          last hour      "
                                     "      since start\n"));
        assert_non_null(strstr(text, "\ndoor        open    conn msg ref auth    conn msg ref auth "
                                     "   conn msg ref auth\n"));
        assert_non_null(strstr(text, "\ninbound        2       3   1   4    0      30  10  40    0 "
                                     "    300 100 400    5\n"));
        assert_non_null(strstr(text, "\nsubmission     0       0   0   0    0       0   0   0    0 "
                                     "      0   0   0    7\n"));
        /* Doors that are not listening and counted nothing are left out. */
        assert_null(strstr(text, "internal "));
        assert_non_null(strstr(text, "queue: 5 messages, oldest 16m40s, 2 deferred, 1 held\n"));
        assert_non_null(strstr(text, "\ndeliveries  last minute  last hour  since start\n"
                                     "  sent                1          0            0\n"
                                     "  deferred            0          2            0\n"
                                     "  bounced             0          0            3\n"));
        assert_non_null(strstr(text, "alerts firing: 1\n"));
        assert_non_null(strstr(text, "\n  auth-burst  failed-auth  192.0.2.7  value 23, threshold "
                                     "20  since 1970-01-01 00:25:00 UTC\n"));
        assert_non_null(strstr(text, "\ntop clients of the last hour\n"
                                     "  door     client             messages  refusals\n"
                                     "  inbound  192.0.2.7                 9        30\n"
                                     "           2001:db8:0:1::/64         1        10\n"));
        free(text);
        text = print(doc, true);
        assert_clean(text, true);
        assert_non_null(strstr(text, "\033[1;31mauth-burst\033[0m"));
        free(text);
    }
    json_decref(doc);
}

/* A quiet daemon: nothing firing (exit 0), an empty queue, no clients. */
static void
test_quiet(void **state)
{
    struct watch_status st;
    struct sched_queue_facts q = {.oldest = 5000}; /* hostile: a future arrival */
    json_t *alerts = json_array(), *doc;
    char *text;

    (void)state;
    memset(&st, 0, sizeof(st));
    st.door[DOOR_INTERNAL].listening = true;
    doc = ctl_status_doc(&st, &q, 0, alerts, 2000);
    json_decref(alerts);
    assert_int_equal(at(doc, "queue.oldest_seconds"), 0);
    assert_int_equal(at(doc, "alerts_firing"), 0);
    assert_int_equal(ctl_status_exit(doc), 0);
    text = print(doc, false);
    assert_non_null(strstr(text, "gate26 status of  at"));
    assert_non_null(strstr(text, "\ninternal     0       0   0   0    0       0   0   0    0       "
                                 "0   0   0    0\n"));
    assert_non_null(strstr(text, "queue: 0 messages, 0 deferred, 0 held\n"));
    assert_non_null(strstr(text, "alerts firing: none\n"));
    assert_non_null(strstr(text, "top clients of the last hour: none\n"));
    free(text);
    text = print(doc, true);
    assert_non_null(strstr(text, "alerts firing: \033[32mnone\033[0m"));
    free(text);
    json_decref(doc);
}

/* Documents the daemon does not write: printed without a crash or a control character. */
static void
test_hostile_documents(void **state)
{
    static const char *const rows[] = {
        "{}",
        "[]",
        "null",
        "{\"doors\": 7, \"queue\": [], \"deliveries\": \"x\", \"alerts\": {}}",
        "{\"hostname\": \"\\u001b[2J\\u0007evil\\r\\n\", \"time\": -99999999999999}",
        "{\"time\": 9223372036854775807, \"uptime_seconds\": -5}",
        "{\"doors\": {\"inbound\": {\"listening\": true, \"sessions_open\": \"2\", "
        "\"last_minute\": {\"connections\": 1.5, \"messages\": null, \"refusals\": -3, "
        "\"auth_failures\": 9223372036854775807}}}}",
        "{\"doors\": {\"inbound\": {\"listening\": false, \"since_start\": {\"messages\": 1}, "
        "\"top_clients\": [7, {\"client\": \"\\u001b]0;title\\u0007\"}, {\"client\": 5}, "
        "{\"client\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}, {}, {}, {}, {}]}}}",
        "{\"alerts\": [1, \"two\", null, {\"rule\": \"\\u001b[31m\", \"door\": 3, \"since\": "
        "-9223372036854775807, \"window_seconds\": 9223372036854775807}]}",
        "{\"queue\": {\"messages\": 1, \"oldest_seconds\": \"old\"}}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        json_error_t err;
        json_t *doc = json_loads(rows[i], JSON_DECODE_ANY, &err);
        char *text;

        assert_non_null(doc);
        text = print(doc, false);
        assert_clean(text, false);
        assert_non_null(strstr(text, "alerts firing: "));
        free(text);
        text = print(doc, true);
        assert_clean(text, true);
        free(text);
        json_decref(doc);
    }
}

/* A flood of alerts: the table lists ten and says how many more, and whether the JSON has all. */
static void
test_many_alerts(void **state)
{
    static const struct {
        size_t listed, firing;
        const char *first, *more;
    } rows[] = {
        {1000, 1000, "alerts firing: 1000\n",
         "  ... and 990 more (gate26 status --json lists them all)\n"},
        {1000, 5000, "alerts firing: 5000\n",
         "  ... and 4990 more (gate26 status --json lists the first 1000)\n"},
        {3, 5000, "alerts firing: 5000\n",
         "  ... and 4997 more (gate26 status --json lists the first 1000)\n"},
        {11, 11, "alerts firing: 11\n", "  ... and 1 more (gate26 status --json lists them all)\n"},
        {10, 10, "alerts firing: 10\n", NULL},
        {2, 0, "alerts firing: 2\n", NULL}, /* hostile: fewer firing than listed */
    };

    (void)state;
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        json_t *alerts = json_array(), *doc;
        struct watch_status st;
        struct sched_queue_facts q = {0};
        char *text;

        memset(&st, 0, sizeof(st));
        for (size_t i = 0; i < rows[r].listed; i++) {
            char key[32];
            struct watch_alert a = {.rule = "spike", .when = "spike", .key = key};

            (void)snprintf(key, sizeof(key), "10.0.%zu.%zu", i / 256, i % 256);
            assert_int_equal(json_array_append_new(alerts, ctl_status_alert(&a)), 0);
        }
        doc = ctl_status_doc(&st, &q, rows[r].firing, alerts, 0);
        json_decref(alerts);
        assert_int_equal(ctl_status_exit(doc), 1);
        text = print(doc, false);
        assert_non_null(strstr(text, rows[r].first));
        assert_non_null(strstr(text, "10.0.0.1 "));
        assert_null(strstr(text, "10.0.0.10 "));
        if (rows[r].more != NULL)
            assert_non_null(strstr(text, rows[r].more));
        else
            assert_null(strstr(text, "... and"));
        free(text);
        json_decref(doc);
    }
}

static void
test_exit(void **state)
{
    static const struct {
        const char *doc;
        int want;
    } rows[] = {
        {"{\"alerts\": []}", 0},         {"{\"alerts\": [{}]}", 1},
        {"{\"alerts\": [{}, {}]}", 1},   {"{}", 0},
        {"{\"alerts\": {\"a\": 1}}", 0}, {"{\"alerts\": \"x\"}", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        json_t *doc = json_loads(rows[i].doc, 0, NULL);

        assert_non_null(doc);
        assert_int_equal(ctl_status_exit(doc), rows[i].want);
        json_decref(doc);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document),
        cmocka_unit_test(test_quiet),
        cmocka_unit_test(test_hostile_documents),
        cmocka_unit_test(test_many_alerts),
        cmocka_unit_test(test_exit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
