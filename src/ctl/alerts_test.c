/* SPDX-License-Identifier: MIT */
/*
 * alerts-json (alerts.h): the document of a watcher whose rules fire: the
 * rules as configured (webhooks without their secret path), what fires,
 * the history newest first; and of no watcher.
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
#include <event2/event.h>
#include <jansson.h>

#include "conf/conf.h"
#include "ctl/alerts.h"
#include "watch/watch.h"

static void
test_no_watcher(void **state)
{
    json_t *doc = ctl_alerts_doc(NULL);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);

    (void)state;
    assert_string_equal(text, "{\"firing\":[],\"firing_cut\":false,\"history\":[],"
                              "\"history_cut\":false,\"rules\":[]}");
    free(text);
    json_decref(doc);
}

static const char conf_text[] =
    "listen inbound {\n    address 127.0.0.1:2525\n}\n"
    "listen internal {\n    address 127.0.0.1:2626\n    allow 127.0.0.0/8\n}\n"
    "domain example.com {\n}\n"
    "alert burst {\n    when connections\n    over 2 in 1m\n    per client\n"
    "    door inbound\n    mail ops@example.com\n}\n"
    "alert quiet {\n    when messages\n    over 1000 in 1h\n"
    "    webhook https://user:pw@hooks.example.com:8443/T000/s3cret?token=s3cret#x\n"
    "    webhook http://ops.example.com\n    exec /bin/true\n}\n"
    "alert piling {\n    when queue\n    age over 1h\n}\n";

static void
connect_from(struct watch *w, unsigned char last)
{
    unsigned char a[4] = {192, 0, 2, last};
    struct watch_event ev = {.kind = WATCH_CONNECT,
                             .door = DOOR_INBOUND,
                             .family = AF_INET,
                             .addr = a,
                             .connect = WATCH_CONNECT_ACCEPTED};

    watch_note(w, &ev);
}

static void
test_rules_firing_history(void **state)
{
    struct event_base *base = event_base_new();
    char err[512];
    struct conf *c = conf_load_text("/tmp/gate26-alerts-test.conf", conf_text, sizeof conf_text - 1,
                                    err, sizeof err);
    struct watch *w;
    json_t *doc, *rules, *r, *hist, *firing;
    char *text;

    (void)state;
    if (c == NULL)
        fail_msg("%s", err);
    w = watch_new(base, c);
    connect_from(w, 7);
    connect_from(w, 8);
    connect_from(w, 7); /* 192.0.2.7 fires */
    connect_from(w, 8); /* then 192.0.2.8 */
    doc = ctl_alerts_doc(w);
    text = json_dumps(doc, JSON_COMPACT);
    assert_null(strstr(text, "s3cret"));
    assert_null(strstr(text, "user:pw"));
    free(text);

    rules = json_object_get(doc, "rules");
    assert_int_equal(json_array_size(rules), 3);
    r = json_array_get(rules, 0);
    assert_string_equal(json_string_value(json_object_get(r, "name")), "burst");
    assert_string_equal(json_string_value(json_object_get(r, "when")), "connections");
    assert_int_equal(json_integer_value(json_object_get(r, "threshold")), 2);
    assert_int_equal(json_integer_value(json_object_get(r, "window")), 60);
    assert_string_equal(json_string_value(json_object_get(r, "per")), "client");
    assert_int_equal(json_array_size(json_object_get(r, "doors")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "doors"), 0)),
                        "inbound");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(r, "notify"), "mails"), 0)),
                        "ops@example.com");
    r = json_array_get(rules, 1);
    assert_int_equal(json_array_size(json_object_get(r, "doors")), DOOR_ROLE_COUNT);
    text = json_dumps(json_object_get(r, "notify"), JSON_COMPACT);
    assert_string_equal(text,
                        "{\"webhooks\":[\"https://hooks.example.com:8443\","
                        "\"http://ops.example.com\"],\"mails\":[],\"execs\":[\"/bin/true\"]}");
    free(text);
    r = json_array_get(rules, 2);
    assert_int_equal(json_integer_value(json_object_get(r, "age")), 3600);
    assert_null(json_object_get(r, "within"));

    firing = json_object_get(doc, "firing");
    assert_int_equal(json_array_size(firing), 2);
    hist = json_object_get(doc, "history");
    assert_int_equal(json_array_size(hist), 2);
    /* Newest first: .8 fired after .7. */
    assert_string_equal(json_string_value(json_object_get(json_array_get(hist, 0), "key")),
                        "192.0.2.8");
    assert_string_equal(json_string_value(json_object_get(json_array_get(hist, 1), "key")),
                        "192.0.2.7");
    r = json_array_get(hist, 1);
    assert_string_equal(json_string_value(json_object_get(r, "rule")), "burst");
    assert_string_equal(json_string_value(json_object_get(r, "state")), "firing");
    assert_string_equal(json_string_value(json_object_get(r, "door")), "inbound");
    assert_int_equal(json_integer_value(json_object_get(r, "value")), 2);
    assert_int_equal(json_integer_value(json_object_get(r, "threshold")), 2);
    assert_int_equal(json_integer_value(json_object_get(r, "window")), 60);
    assert_true(json_integer_value(json_object_get(r, "time")) > 1700000000);
    json_decref(doc);
    watch_stop(w);
    watch_free(w);
    conf_unref(c);
    event_base_free(base);
}

/* 1100 clients firing: firing is cut at 1000 (firing_cut), the history holds its last 1000. */
static void
test_lists_are_cut(void **state)
{
    static const char text[] = "listen inbound {\n    address 127.0.0.1:2525\n}\n"
                               "domain example.com {\n}\n"
                               "alert any {\n    when connections\n    over 1 in 1m\n"
                               "    per client\n}\n";
    struct event_base *base = event_base_new();
    char err[512];
    struct conf *c =
        conf_load_text("/tmp/gate26-alerts-test.conf", text, sizeof text - 1, err, sizeof err);
    struct watch *w;
    json_t *doc;

    (void)state;
    if (c == NULL)
        fail_msg("%s", err);
    w = watch_new(base, c);
    for (unsigned i = 0; i < 1100; i++) {
        unsigned char a[4] = {10, 0, (unsigned char)(i / 250), (unsigned char)(i % 250 + 1)};
        struct watch_event ev = {.kind = WATCH_CONNECT,
                                 .door = DOOR_INBOUND,
                                 .family = AF_INET,
                                 .addr = a,
                                 .connect = WATCH_CONNECT_ACCEPTED};

        watch_note(w, &ev);
    }
    doc = ctl_alerts_doc(w);
    assert_int_equal(json_array_size(json_object_get(doc, "firing")), 1000);
    assert_true(json_is_true(json_object_get(doc, "firing_cut")));
    assert_int_equal(json_array_size(json_object_get(doc, "history")), 1000);
    assert_true(json_is_false(json_object_get(doc, "history_cut")));
    /* Newest first: the last client that fired. */
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(doc, "history"), 0), "key")),
                        "10.0.4.100");
    json_decref(doc);
    watch_stop(w);
    watch_free(w);
    conf_unref(c);
    event_base_free(base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_watcher),
        cmocka_unit_test(test_rules_firing_history),
        cmocka_unit_test(test_lists_are_cut),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
