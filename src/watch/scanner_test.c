/* SPDX-License-Identifier: MIT */
/*
 * The scanner table (scanner_table.c) and the watcher's scanner part
 * (scanner.c) on a fake clock: what makes a row and what does not (a plain
 * SYN alone), counts by kind and ports, the /24 and /64 rows, a flood of
 * 100000 spoofed sources that keeps both tables at their size while a
 * source seen again stays, the once-per-hour log lines, `scanners refuse`,
 * block-scanners' blocker, the SYN's door, and the JSON of `gate26 scanners`.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "lib/caps.h"
#include "watch/metrics.h"
#include "watch/scanner.h"
#include "watch/watch_impl.h"

static const unsigned char seed[16] = {9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static const time_t T0 = 1796605323; /* 2026-12-07T01:02:03Z */

static void
v4(unsigned char out[4], unsigned a, unsigned b, unsigned c, unsigned d)
{
    out[0] = (unsigned char)a;
    out[1] = (unsigned char)b;
    out[2] = (unsigned char)c;
    out[3] = (unsigned char)d;
}

/* ---- The table ---- */

static void
test_plain_syn_alone_makes_no_row(void **state)
{
    struct scanner_table *t = scanner_table_new(16, seed);
    unsigned char a[4];

    (void)state;
    v4(a, 192, 0, 2, 7);
    for (int i = 0; i < 30; i++)
        assert_int_equal(scanner_table_note(t, WATCH_SCAN_PLAIN, AF_INET, a, 26, T0), 0);
    assert_null(scanner_table_find(t, AF_INET, a));
    assert_int_equal(scanner_table_sources(t), 0);
    assert_int_equal(scanner_table_networks(t), 0);

    /* A Mirai SYN makes it; the plain SYNs count from then on. */
    assert_int_equal(scanner_table_note(t, WATCH_SCAN_MIRAI, AF_INET, a, 26, T0 + 1),
                     SCANNER_NOTED | SCANNER_FIRST_MIRAI);
    assert_int_equal(scanner_table_note(t, WATCH_SCAN_MIRAI, AF_INET, a, 26, T0 + 2),
                     SCANNER_NOTED);
    assert_int_equal(scanner_table_note(t, WATCH_SCAN_PLAIN, AF_INET, a, 25, T0 + 3),
                     SCANNER_NOTED);
    {
        const struct scanner_row *r = scanner_table_find(t, AF_INET, a);

        assert_non_null(r);
        assert_int_equal(r->mirai, 2);
        assert_int_equal(r->plain, 1);
        assert_int_equal(r->first_seen, T0 + 1);
        assert_int_equal(r->last_seen, T0 + 3);
        assert_int_equal(r->n_ports, 2);
        assert_int_equal(r->ports[0], 26);
        assert_int_equal(r->ports[1], 25);
    }
    scanner_table_free(t);
}

/* Hostile rows: what must count nothing. */
static void
test_bad_input_counts_nothing(void **state)
{
    struct scanner_table *t = scanner_table_new(16, seed);
    unsigned char a[16] = {10, 0, 0, 1};

    (void)state;
    assert_int_equal(scanner_table_note(t, WATCH_SCAN_MIRAI, AF_UNIX, a, 26, T0), 0);
    assert_int_equal(scanner_table_note(t, WATCH_SCAN_MIRAI, AF_INET, NULL, 26, T0), 0);
    assert_int_equal(scanner_table_note(t, WATCH_SCAN_COUNT, AF_INET, a, 26, T0), 0);
    assert_int_equal(scanner_table_note(t, (enum watch_scan) - 1, AF_INET, a, 26, T0), 0);
    assert_int_equal(scanner_table_note(NULL, WATCH_SCAN_MIRAI, AF_INET, a, 26, T0), 0);
    assert_null(scanner_table_find(t, AF_INET, NULL));
    assert_int_equal(scanner_table_sources(t), 0);
    assert_int_equal(scanner_table_sources(NULL), 0);
    scanner_table_free(t);
    scanner_table_free(NULL);
}

static void
test_sessions_and_ports(void **state)
{
    struct scanner_table *t = scanner_table_new(16, seed);
    unsigned char a[16];
    const struct scanner_row *r;
    static const struct {
        enum watch_scan kind;
        unsigned port;
    } rows[] = {
        {WATCH_SCAN_SILENT, 25},  {WATCH_SCAN_HTTP, 26},  {WATCH_SCAN_TLS, 26},
        {WATCH_SCAN_SSH, 26},     {WATCH_SCAN_PROXY, 26}, {WATCH_SCAN_BINARY, 26},
        {WATCH_SCAN_HTTP, 80},    {WATCH_SCAN_HTTP, 81},  {WATCH_SCAN_HTTP, 82},
        {WATCH_SCAN_HTTP, 83},    {WATCH_SCAN_HTTP, 84},  {WATCH_SCAN_HTTP, 85},
        {WATCH_SCAN_HTTP, 86},    /* the ninth port: not kept */
        {WATCH_SCAN_HTTP, 0},     /* no port */
        {WATCH_SCAN_HTTP, 70000}, /* out of range: not kept */
    };

    (void)state;
    assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:2::7", a), 1);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(scanner_table_note(t, rows[i].kind, AF_INET6, a, rows[i].port, T0),
                         SCANNER_NOTED);
    r = scanner_table_find(t, AF_INET6, a);
    assert_non_null(r);
    assert_int_equal(r->mirai, 0);
    assert_int_equal(r->sessions[WATCH_SCAN_SILENT - WATCH_SCAN_SESSION_FIRST], 1);
    assert_int_equal(r->sessions[WATCH_SCAN_HTTP - WATCH_SCAN_SESSION_FIRST], 10);
    assert_int_equal(r->sessions[WATCH_SCAN_BINARY - WATCH_SCAN_SESSION_FIRST], 1);
    assert_int_equal(r->n_ports, SCANNER_PORTS);
    assert_int_equal(r->ports[0], 25);
    assert_int_equal(r->ports[1], 26);
    assert_int_equal(r->ports[7], 85);
    scanner_table_free(t);
}

static const struct scanner_row *found_net;
static unsigned char want_net[16];

static void
find_net(void *arg, const struct scanner_row *r)
{
    (void)arg;
    if (memcmp(r->addr, want_net, 16) == 0)
        found_net = r;
}

static void
test_networks(void **state)
{
    struct scanner_table *t = scanner_table_new(64, seed);
    unsigned char a[16], b[16], c[16];

    (void)state;
    v4(a, 198, 51, 100, 1);
    v4(b, 198, 51, 100, 200);
    v4(c, 198, 51, 101, 1); /* another /24 */
    (void)scanner_table_note(t, WATCH_SCAN_MIRAI, AF_INET, a, 26, T0);
    (void)scanner_table_note(t, WATCH_SCAN_MIRAI, AF_INET, a, 26, T0);
    (void)scanner_table_note(t, WATCH_SCAN_SILENT, AF_INET, b, 25, T0 + 5);
    (void)scanner_table_note(t, WATCH_SCAN_PLAIN, AF_INET, b, 25, T0 + 6);
    (void)scanner_table_note(t, WATCH_SCAN_MIRAI, AF_INET, c, 26, T0 + 7);
    assert_int_equal(scanner_table_sources(t), 3);
    assert_int_equal(scanner_table_networks(t), 2);

    scanner_network_of(AF_INET, a, want_net);
    assert_memory_equal(want_net, ((unsigned char[16]){198, 51, 100, 0}), 16);
    found_net = NULL;
    scanner_table_each(t, true, find_net, NULL);
    assert_non_null(found_net);
    assert_int_equal(found_net->mirai, 2);
    assert_int_equal(found_net->plain, 1);
    assert_int_equal(found_net->sessions[0], 1);
    assert_int_equal(found_net->first_seen, T0);
    assert_int_equal(found_net->last_seen, T0 + 6);

    /* IPv6: the /64. */
    assert_int_equal(inet_pton(AF_INET6, "2001:db8:aa:bb:1:2:3:4", a), 1);
    scanner_network_of(AF_INET6, a, want_net);
    assert_int_equal(inet_pton(AF_INET6, "2001:db8:aa:bb::", b), 1);
    assert_memory_equal(want_net, b, 16);
    scanner_table_free(t);
}

/* A flood of spoofed sources: both tables stay at their size; one seen again stays in. */
static void
test_flood_stays_bounded(void **state)
{
    struct scanner_table *t = scanner_table_new(CAP_SCANNER_SOURCES, seed);
    unsigned char keep[4], a[4], first[4];

    (void)state;
    v4(keep, 203, 0, 113, 9);
    v4(first, 10, 0, 0, 0);
    for (unsigned i = 0; i < 100000; i++) {
        v4(a, 10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
        (void)scanner_table_note(t, WATCH_SCAN_MIRAI, AF_INET, a, 26, T0 + i / 1000);
        if (i % 1000 == 0)
            (void)scanner_table_note(t, WATCH_SCAN_MIRAI, AF_INET, keep, 26, T0 + i / 1000);
        assert_true(scanner_table_sources(t) <= CAP_SCANNER_SOURCES);
        assert_true(scanner_table_networks(t) <= CAP_SCANNER_SOURCES);
    }
    assert_int_equal(scanner_table_sources(t), CAP_SCANNER_SOURCES);
    assert_int_equal(scanner_table_cap(t), CAP_SCANNER_SOURCES);
    /* The first is long gone; the last is in; the one seen again all along is in, whole. */
    assert_null(scanner_table_find(t, AF_INET, first));
    v4(a, 10, 1, 0x86, 0x9f); /* 99999 */
    assert_non_null(scanner_table_find(t, AF_INET, a));
    assert_non_null(scanner_table_find(t, AF_INET, keep));
    assert_int_equal(scanner_table_find(t, AF_INET, keep)->mirai, 100);
    /* An evicted source that comes back starts over: its first Mirai SYN again. */
    assert_int_equal(scanner_table_note(t, WATCH_SCAN_MIRAI, AF_INET, first, 26, T0 + 200),
                     SCANNER_NOTED | SCANNER_FIRST_MIRAI);
    assert_int_equal(scanner_table_find(t, AF_INET, first)->mirai, 1);
    scanner_table_free(t);
}

static void
test_log_once_an_hour(void **state)
{
    struct scanner_table *t = scanner_table_new(4, seed);
    unsigned char a[4], b[4];

    (void)state;
    v4(a, 192, 0, 2, 1);
    v4(b, 192, 0, 2, 2);
    /* No row: nothing to log. */
    assert_false(scanner_table_log_due(t, SCANNER_LOG_SEEN, AF_INET, a, T0));
    (void)scanner_table_note(t, WATCH_SCAN_HTTP, AF_INET, a, 26, T0);
    (void)scanner_table_note(t, WATCH_SCAN_HTTP, AF_INET, b, 26, T0);
    assert_true(scanner_table_log_due(t, SCANNER_LOG_SEEN, AF_INET, a, T0));
    assert_false(scanner_table_log_due(t, SCANNER_LOG_SEEN, AF_INET, a, T0));
    assert_false(scanner_table_log_due(t, SCANNER_LOG_SEEN, AF_INET, a, T0 + 3599));
    /* Each source and each sort of line on its own. */
    assert_true(scanner_table_log_due(t, SCANNER_LOG_SEEN, AF_INET, b, T0 + 10));
    assert_true(scanner_table_log_due(t, SCANNER_LOG_REFUSED, AF_INET, a, T0 + 10));
    assert_false(scanner_table_log_due(t, SCANNER_LOG_REFUSED, AF_INET, a, T0 + 11));
    assert_true(scanner_table_log_due(t, SCANNER_LOG_SEEN, AF_INET, a, T0 + 3600));
    assert_false(scanner_table_log_due(t, SCANNER_LOG_SEEN, AF_INET, a, T0 + 3601));
    /* A clock set back: due again rather than silent. */
    assert_true(scanner_table_log_due(t, SCANNER_LOG_SEEN, AF_INET, a, T0 - 100));
    assert_false(scanner_table_log_due(t, SCANNER_LOG_COUNT, AF_INET, a, T0 + 9000));
    scanner_table_free(t);
}

/* ---- The watcher's part ---- */

static time_t fake_wall;

static time_t
fake_time(void)
{
    return fake_wall;
}

struct blocked {
    int calls;
    int family;
    unsigned char addr[16];
    unsigned ttl;
};

static void
blocker(void *arg, int family, const unsigned char *addr, unsigned ttl)
{
    struct blocked *b = arg;

    b->calls++;
    b->family = family;
    memcpy(b->addr, addr, family == AF_INET ? 4 : 16);
    b->ttl = ttl;
}

static char conf_path[] = "/tmp/gate26-scanner-test-XXXXXX";

static struct conf *
load_conf(void)
{
    static const char text[] = "listen inbound {\n    address 127.0.0.1:2525\n"
                               "    scanners refuse\n}\n"
                               "listen internal {\n    address 127.0.0.1:2626\n"
                               "    allow 127.0.0.0/8\n}\n"
                               "domain example.com {\n}\n";
    char err[512];
    struct conf *c = conf_load_text(conf_path, text, sizeof(text) - 1, err, sizeof(err));

    if (c == NULL)
        fail_msg("%s", err);
    return c;
}

static struct watch_event
syn(enum watch_scan kind, const unsigned char *addr, unsigned port)
{
    struct watch_event ev = {.kind = WATCH_SCANNER,
                             .scan = kind,
                             .door = DOOR_ROLE_COUNT,
                             .family = AF_INET,
                             .addr = addr,
                             .port = port};

    return ev;
}

static void
test_watcher_refuse_and_block(void **state)
{
    struct event_base *base = event_base_new();
    struct conf *c = load_conf();
    struct watch *w;
    struct blocked b = {0};
    unsigned char scanner[4], other[4], sessions_only[4];
    struct watch_event ev;
    const struct conf_listen *inbound = &c->listens[0], *internal = &c->listens[1];

    (void)state;
    assert_true(inbound->scanners_refuse);
    assert_false(internal->scanners_refuse);
    c->watch.block_scanners = 86400;
    metrics_reset();
    w = watch_new(base, c);
    w->wall = fake_time;
    fake_wall = T0;
    watch_set_blocker(w, blocker, &b);
    v4(scanner, 192, 0, 2, 66);
    v4(other, 192, 0, 2, 67);
    v4(sessions_only, 192, 0, 2, 68);

    /* Plain SYNs only: nothing to refuse, nothing to block. */
    ev = syn(WATCH_SCAN_PLAIN, other, 2525);
    watch_note(w, &ev);
    assert_false(watch_scanner_refuse(w, inbound, AF_INET, other));
    /* A scanner session is no Mirai SYN: not refused either. */
    ev = syn(WATCH_SCAN_HTTP, sessions_only, 2525);
    ev.door = DOOR_INBOUND;
    watch_note(w, &ev);
    assert_false(watch_scanner_refuse(w, inbound, AF_INET, sessions_only));
    assert_int_equal(b.calls, 0);

    /* The first Mirai SYN asks for a block, the next ones do not. */
    for (int i = 0; i < 20; i++) {
        ev = syn(WATCH_SCAN_MIRAI, scanner, 2525);
        watch_note(w, &ev);
    }
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.family, AF_INET);
    assert_memory_equal(b.addr, scanner, 4);
    assert_int_equal(b.ttl, 86400);
    assert_true(watch_scanner_refuse(w, inbound, AF_INET, scanner));
    assert_true(watch_scanner_refuse(w, inbound, AF_INET, scanner));
    /* Only where the door says so. */
    assert_false(watch_scanner_refuse(w, internal, AF_INET, scanner));
    assert_false(watch_scanner_refuse(w, NULL, AF_INET, scanner));
    assert_false(watch_scanner_refuse(NULL, inbound, AF_INET, scanner));

    /* Without block-scanners no block is asked. */
    c->watch.block_scanners = 0;
    v4(scanner, 192, 0, 2, 99);
    ev = syn(WATCH_SCAN_MIRAI, scanner, 26);
    watch_note(w, &ev);
    assert_int_equal(b.calls, 1);

    /* The SYN's door is the one listening on its port. */
    assert_int_equal(watch_scanner_door(w, 2525), DOOR_INBOUND);
    assert_int_equal(watch_scanner_door(w, 2626), DOOR_INTERNAL);
    assert_int_equal(watch_scanner_door(w, 26), DOOR_ROLE_COUNT);

    watch_free(w);
    conf_unref(c);
    event_base_free(base);
}

/* The metrics the events make, read back from a scrape. */
static char *
scrape(void)
{
    struct evbuffer *out = evbuffer_new();
    size_t n;
    char *text;

    assert_int_equal(metrics_write(out, METRICS_FORMAT_TEXT), 0);
    n = evbuffer_get_length(out);
    text = malloc(n + 1);
    assert_non_null(text);
    assert_int_equal(evbuffer_remove(out, text, n), (int)n);
    text[n] = '\0';
    evbuffer_free(out);
    return text;
}

static const char *
capture_any(void *arg)
{
    (void)arg;
    return "any";
}

static void
test_watcher_metrics_and_json(void **state)
{
    struct event_base *base = event_base_new();
    struct conf *c = load_conf();
    struct watch *w;
    unsigned char a[4], b[4];
    struct watch_event ev;
    char *text, *doc;
    json_t *j, *src;
    json_error_t jerr;

    (void)state;
    metrics_reset();
    w = watch_new(base, c);
    w->wall = fake_time;
    fake_wall = T0;
    v4(a, 192, 0, 2, 7);
    v4(b, 192, 0, 2, 8);
    for (int i = 0; i < 20; i++) {
        ev = syn(WATCH_SCAN_MIRAI, a, 26);
        watch_note(w, &ev);
    }
    for (int i = 0; i < 3; i++) {
        ev = syn(WATCH_SCAN_PLAIN, a, 2525);
        watch_note(w, &ev);
    }
    ev = syn(WATCH_SCAN_PLAIN, b, 2525); /* no row */
    watch_note(w, &ev);
    ev = syn(WATCH_SCAN_SILENT, a, 2525);
    ev.door = DOOR_INBOUND;
    watch_note(w, &ev);
    ev = syn(WATCH_SCAN_TLS, b, 2626);
    ev.door = DOOR_INTERNAL;
    watch_note(w, &ev);
    assert_true(watch_scanner_refuse(w, &c->listens[0], AF_INET, a));

    text = scrape();
    assert_non_null(strstr(text, "gate26_scanner_syns_total{kind=\"mirai\"} 20\n"));
    assert_non_null(strstr(text, "gate26_scanner_syns_total{kind=\"plain\"} 4\n"));
    assert_non_null(
        strstr(text, "gate26_scanner_sessions_total{door=\"inbound\",kind=\"silent\"} 1\n"));
    assert_non_null(
        strstr(text, "gate26_scanner_sessions_total{door=\"internal\",kind=\"tls\"} 1\n"));
    assert_non_null(
        strstr(text, "gate26_scanner_sessions_total{door=\"inbound\",kind=\"http\"} 0\n"));
    assert_non_null(strstr(text, "gate26_scanner_sources 2\n"));
    assert_non_null(
        strstr(text, "gate26_connections_total{door=\"inbound\",result=\"scanner\"} 1\n"));
    free(text);

    watch_set_capture(w, capture_any, NULL);
    doc = watch_scanners_json(w, 20);
    assert_non_null(doc);
    j = json_loads(doc, 0, &jerr);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "table_size")), CAP_SCANNER_SOURCES);
    assert_string_equal(json_string_value(json_object_get(j, "capture")), "any");
    assert_int_equal(json_array_size(json_object_get(j, "sources")), 2);
    src = json_array_get(json_object_get(j, "sources"), 0); /* the busiest first */
    assert_string_equal(json_string_value(json_object_get(src, "address")), "192.0.2.7");
    assert_int_equal(json_integer_value(json_object_get(src, "mirai")), 20);
    assert_int_equal(json_integer_value(json_object_get(src, "plain")), 3);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(src, "sessions"), "silent")), 1);
    assert_int_equal(json_array_size(json_object_get(src, "ports")), 2);
    assert_string_equal(json_string_value(json_object_get(src, "first_seen")),
                        "2026-12-07T01:02:03Z");
    src = json_array_get(json_object_get(j, "networks"), 0);
    assert_string_equal(json_string_value(json_object_get(src, "network")), "192.0.2.0/24");
    assert_int_equal(json_integer_value(json_object_get(src, "sources")), 2);
    assert_int_equal(json_integer_value(json_object_get(src, "sessions")), 2);
    json_decref(j);
    free(doc);

    /* --top 1, and no capture. */
    watch_set_capture(w, NULL, NULL);
    doc = watch_scanners_json(w, 1);
    j = json_loads(doc, 0, &jerr);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "sources")), 1);
    assert_true(json_is_null(json_object_get(j, "capture")));
    json_decref(j);
    free(doc);

    watch_free(w);
    conf_unref(c);
    event_base_free(base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_syn_alone_makes_no_row),
        cmocka_unit_test(test_bad_input_counts_nothing),
        cmocka_unit_test(test_sessions_and_ports),
        cmocka_unit_test(test_networks),
        cmocka_unit_test(test_flood_stays_bounded),
        cmocka_unit_test(test_log_once_an_hour),
        cmocka_unit_test(test_watcher_refuse_and_block),
        cmocka_unit_test(test_watcher_metrics_and_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
