/* SPDX-License-Identifier: MIT */
/*
 * Tests of the alert engine (alert_engine.h), its table (alert_table.h) and
 * the baselines file (alert_store.h), with a fake clock: every call is given
 * its time. Rules are built as struct conf_alert directly. Tables of steps
 * (events, ticks) with the notifications each must produce; hostile rows:
 * a flood of keys, keys chosen to be long or odd, a clock that goes back,
 * corrupt baselines files.
 */
#include <arpa/inet.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "watch/alert_engine.h"
#include "watch/alert_store.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
/* The fake clock starts here (ms); the wall clock is its seconds. */
#define T0 1000000000ull

static const unsigned char seed[16] = "0123456789abcdef";

/* ---- What the engine said ---- */

#define NOTES_MAX 200000

struct seen {
    char rule[64];
    enum alert_state state;
    char key[ALERT_KEY_TEXT_CAP];
    int64_t value;
    uint64_t threshold;
    unsigned window;
    int door;
    bool evicted;
};

static struct seen *notes;
static size_t n_notes;

static void
on_note(void *arg, const struct alert_note *n)
{
    struct seen *s;

    (void)arg;
    assert_true(n_notes < NOTES_MAX);
    s = &notes[n_notes++];
    (void)snprintf(s->rule, sizeof(s->rule), "%s", n->rule->def->name);
    s->state = n->state;
    (void)snprintf(s->key, sizeof(s->key), "%s", n->key);
    s->value = n->value;
    s->threshold = n->threshold;
    s->window = n->window;
    s->door = n->door;
    s->evicted = n->evicted;
}

static int
setup(void **state)
{
    (void)state;
    notes = calloc(NOTES_MAX, sizeof(*notes));
    n_notes = 0;
    return notes == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    (void)state;
    free(notes);
    notes = NULL;
    return 0;
}

/* ---- Rules and events ---- */

static struct conf_alert
rule(const char *name, enum conf_alert_when when, unsigned threshold, unsigned window,
     enum conf_alert_per per, unsigned doors)
{
    struct conf_alert a;

    memset(&a, 0, sizeof(a));
    (void)snprintf(a.name, sizeof(a.name), "%s", name);
    a.when = when;
    a.threshold = threshold;
    a.window = window;
    a.per = per;
    a.doors = doors;
    a.factor = 3.0;
    a.baseline = 3600;
    return a;
}

static struct alert_engine *
engine_of(struct conf *c, struct conf_alert *defs, size_t n)
{
    struct alert_engine *e = alert_engine_new(seed, on_note, NULL);

    memset(c, 0, sizeof(*c));
    c->alerts = defs;
    c->n_alerts = n;
    alert_engine_configure(e, c);
    return e;
}

static unsigned char addr_buf[16];

/* An event of kind at door from IPv4 10.0.a.b (or user, or domain). */
static struct watch_event
event(enum watch_kind kind, enum door_role door, unsigned client, const char *user)
{
    struct watch_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;
    ev.door = door;
    ev.family = AF_INET;
    addr_buf[0] = 10;
    addr_buf[1] = 0;
    addr_buf[2] = (unsigned char)(client >> 8);
    addr_buf[3] = (unsigned char)client;
    ev.addr = addr_buf;
    ev.user = user;
    return ev;
}

static void
auth_fail(struct alert_engine *e, unsigned client, enum door_role door, uint64_t t)
{
    struct watch_event ev = event(WATCH_AUTH, door, client, "alice");

    ev.auth = WATCH_AUTH_FAILURE;
    alert_engine_note(e, &ev, t, (time_t)(t / 1000));
}

static void
message(struct alert_engine *e, unsigned client, enum door_role door, uint64_t t)
{
    struct watch_event ev = event(WATCH_MESSAGE, door, client, NULL);

    alert_engine_note(e, &ev, t, (time_t)(t / 1000));
}

static void
tick(struct alert_engine *e, uint64_t t)
{
    alert_engine_tick(e, NULL, t, (time_t)(t / 1000));
}

static void
expect_note(size_t i, const char *rule_name, enum alert_state state, const char *key, int64_t value)
{
    if (i >= n_notes)
        fail_msg("note %zu: none (only %zu)", i, n_notes);
    assert_string_equal(notes[i].rule, rule_name);
    if (notes[i].state != state)
        fail_msg("note %zu: state %d, not %d", i, (int)notes[i].state, (int)state);
    assert_string_equal(notes[i].key, key);
    if (value >= 0 && notes[i].value != value)
        fail_msg("note %zu: value %lld, not %lld", i, (long long)notes[i].value, (long long)value);
}

/* ---- Counting rules ---- */

/*
 * A burst fires once, at the event that reaches the threshold; more events
 * say nothing; the tick resolves it once the window has emptied, and not
 * before the window has passed since it fired.
 */
static void
test_burst_fires_once_and_resolves(void **state)
{
    struct conf_alert defs[] = {
        rule("auth-burst", CONF_ALERT_FAILED_AUTH, 5, 60, CONF_ALERT_PER_CLIENT, 0)};
    struct conf c;
    struct alert_engine *e = engine_of(&c, defs, 1);
    char reason[256];

    (void)state;
    for (unsigned i = 0; i < 4; i++)
        auth_fail(e, 7, DOOR_SUBMISSION, T0 + i * 1000);
    assert_int_equal(n_notes, 0);
    auth_fail(e, 7, DOOR_SUBMISSION, T0 + 4000);
    assert_int_equal(n_notes, 1);
    expect_note(0, "auth-burst", ALERT_FIRING, "10.0.0.7", 5);
    assert_int_equal(notes[0].threshold, 5);
    assert_int_equal(notes[0].window, 60);
    assert_int_equal(notes[0].door, DOOR_SUBMISSION);
    /* More failures, other clients below the threshold, ticks inside the window: nothing. */
    for (unsigned i = 0; i < 50; i++)
        auth_fail(e, 7, DOOR_SUBMISSION, T0 + 5000 + i * 100);
    for (unsigned i = 0; i < 4; i++)
        auth_fail(e, 8, DOOR_SUBMISSION, T0 + 5000 + i * 10000);
    for (uint64_t t = T0 + 5000; t < T0 + 60000; t += 1000)
        tick(e, t);
    assert_int_equal(n_notes, 1);
    assert_int_equal(alert_engine_firing(e, NULL, NULL), 1);
    /* No hold: the rule has no action hold. */
    assert_false(alert_engine_hold(e, DOOR_SUBMISSION, AF_INET, addr_buf, NULL, reason,
                                   sizeof(reason), T0 + 10000));
    /* The last failure of client 7 was at T0 + 9.9 s: its window empties after T0 + 70 s. */
    for (uint64_t t = T0 + 60000; t < T0 + 120000; t += 1000)
        tick(e, t);
    assert_int_equal(n_notes, 2);
    expect_note(1, "auth-burst", ALERT_RESOLVED, "10.0.0.7", 0);
    assert_int_equal(alert_engine_firing(e, NULL, NULL), 0);
    for (uint64_t t = T0 + 120000; t < T0 + 300000; t += 1000)
        tick(e, t);
    assert_int_equal(n_notes, 2);
    alert_engine_free(e);
}

/*
 * Never two notifications of a key within its window: a burst right after
 * a resolution waits (pending) and fires when the window has passed since
 * the resolution, if it is still over the threshold then.
 */
static void
test_no_flood(void **state)
{
    struct conf_alert defs[] = {rule("flap", CONF_ALERT_MESSAGES, 3, 10, CONF_ALERT_PER_ALL, 0)};
    struct conf c;
    struct alert_engine *e = engine_of(&c, defs, 1);
    uint64_t t = T0;

    (void)state;
    for (int round = 0; round < 20; round++) {
        /* Three messages, then quiet for 11 s: fires and resolves... */
        for (int i = 0; i < 3; i++)
            message(e, 1, DOOR_INTERNAL, t + (uint64_t)i);
        for (uint64_t k = 0; k < 11; k++)
            tick(e, t + k * 1000);
        t += 11000;
    }
    /* ...but never more than one notification per 10 s. */
    for (size_t i = 1; i < n_notes; i++)
        assert_int_not_equal(notes[i].state, notes[i - 1].state);
    assert_true(n_notes <= 2 * 20 * 11 / 10 + 2);
    assert_true(n_notes >= 10);
    alert_engine_free(e);
}

/* The pending path exactly: resolved at r, over again at r + 1 s, fires at r + 10 s. */
static void
test_pending_fires_after_gap(void **state)
{
    struct conf_alert defs[] = {rule("p", CONF_ALERT_MESSAGES, 3, 10, CONF_ALERT_PER_ALL, 0)};
    struct conf c;
    struct alert_engine *e = engine_of(&c, defs, 1);
    uint64_t r = 0;

    (void)state;
    for (int i = 0; i < 3; i++)
        message(e, 1, DOOR_INTERNAL, T0 + (uint64_t)i);
    assert_int_equal(n_notes, 1);
    for (uint64_t t = T0; t < T0 + 30000 && n_notes < 2; t += 100) {
        tick(e, t);
        r = t;
    }
    expect_note(1, "p", ALERT_RESOLVED, "all", 0);
    assert_true(r >= T0 + 10000);
    /* Over again at once: not yet. */
    for (int i = 0; i < 3; i++)
        message(e, 1, DOOR_INTERNAL, r + 1000 + (uint64_t)i);
    assert_int_equal(n_notes, 2);
    tick(e, r + 5000);
    assert_int_equal(n_notes, 2);
    /* Kept over the threshold until the gap has passed: it fires then, by the tick. */
    for (int i = 0; i < 3; i++)
        message(e, 1, DOOR_INTERNAL, r + 8000 + (uint64_t)i);
    tick(e, r + 9900);
    assert_int_equal(n_notes, 2);
    tick(e, r + 10000);
    assert_int_equal(n_notes, 3);
    expect_note(2, "p", ALERT_FIRING, "all", -1);
    alert_engine_free(e);
}

/* Which events count for which rule, and what the key is. */
static void
test_kinds_and_keys(void **state)
{
    struct conf_alert defs[] = {
        rule("conn", CONF_ALERT_CONNECTIONS, 2, 60, CONF_ALERT_PER_DOOR, 0),
        rule("refused", CONF_ALERT_REFUSED, 2, 60, CONF_ALERT_PER_CLIENT, 1u << DOOR_INBOUND),
        rule("users", CONF_ALERT_FAILED_AUTH, 2, 60, CONF_ALERT_PER_USER, 0),
        rule("deferred", CONF_ALERT_DEFERRED, 2, 60, CONF_ALERT_PER_ALL, 0),
        rule("msgs", CONF_ALERT_MESSAGES, 2, 60, CONF_ALERT_PER_CLIENT, 1u << DOOR_INTERNAL),
    };
    static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2,
                                         9,    9,    9,    9,    9, 9, 9, 9};
    static const unsigned char v6b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2,
                                          1,    1,    1,    1,    1, 1, 1, 1};
    static const unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 7};
    struct conf c;
    struct alert_engine *e = engine_of(&c, defs, N_OF(defs));
    struct watch_event ev;
    uint64_t t = T0;

    (void)state;
    /* connections per door: each door its own key. */
    ev = event(WATCH_CONNECT, DOOR_INBOUND, 1, NULL);
    alert_engine_note(e, &ev, t, 0);
    ev = event(WATCH_CONNECT, DOOR_INTERNAL, 1, NULL);
    alert_engine_note(e, &ev, t, 0);
    assert_int_equal(n_notes, 0);
    ev.connect = WATCH_CONNECT_DENIED; /* refused ones count too */
    alert_engine_note(e, &ev, t, 0);
    expect_note(0, "conn", ALERT_FIRING, "internal", 2);
    /* refused: 5xx only, inbound only. */
    ev = event(WATCH_REPLY, DOOR_INBOUND, 2, NULL);
    ev.code = 450;
    alert_engine_note(e, &ev, t, 0);
    ev.code = 250;
    alert_engine_note(e, &ev, t, 0);
    ev.code = 550;
    ev.door = DOOR_INTERNAL;
    alert_engine_note(e, &ev, t, 0);
    ev.door = DOOR_INBOUND;
    alert_engine_note(e, &ev, t, 0);
    assert_int_equal(n_notes, 1);
    ev.code = 554;
    alert_engine_note(e, &ev, t, 0);
    expect_note(1, "refused", ALERT_FIRING, "10.0.0.2", 2);
    /* failed-auth per user: failures and lockouts count, successes and no user do not. */
    ev = event(WATCH_AUTH, DOOR_SUBMISSION, 3, "mallory");
    ev.auth = WATCH_AUTH_SUCCESS;
    alert_engine_note(e, &ev, t, 0);
    ev.auth = WATCH_AUTH_FAILURE;
    ev.user = NULL;
    alert_engine_note(e, &ev, t, 0);
    ev.user = "";
    alert_engine_note(e, &ev, t, 0);
    ev.user = "mallory";
    alert_engine_note(e, &ev, t, 0);
    assert_int_equal(n_notes, 2);
    ev.auth = WATCH_AUTH_LOCKED;
    alert_engine_note(e, &ev, t, 0);
    expect_note(2, "users", ALERT_FIRING, "mallory", 2);
    /* A user name tried is peer bytes: shown escaped. */
    ev.user = "a\r\n\"b\\";
    alert_engine_note(e, &ev, t, 0);
    alert_engine_note(e, &ev, t, 0);
    expect_note(3, "users", ALERT_FIRING, "a\\x0D\\x0A\"b\\x5C", 2);
    /* deferred per domain, whatever per says; sent and bounced do not count. */
    ev = event(WATCH_DELIVERY, DOOR_INBOUND, 0, NULL);
    ev.delivery = WATCH_DELIVERY_DEFERRED;
    ev.domain = "example.net";
    alert_engine_note(e, &ev, t, 0);
    ev.delivery = WATCH_DELIVERY_SENT;
    alert_engine_note(e, &ev, t, 0);
    ev.delivery = WATCH_DELIVERY_DEFERRED;
    ev.domain = "example.org";
    alert_engine_note(e, &ev, t, 0);
    ev.domain = "";
    alert_engine_note(e, &ev, t, 0);
    ev.domain = "example.net";
    alert_engine_note(e, &ev, t, 0);
    expect_note(4, "deferred", ALERT_FIRING, "example.net", 2);
    assert_int_equal(notes[4].door, -1);
    /* messages per client: an IPv6 client is its /64; a mapped IPv4 address is the IPv4 one. */
    ev = event(WATCH_MESSAGE, DOOR_INTERNAL, 0, NULL);
    ev.family = AF_INET6;
    ev.addr = v6;
    alert_engine_note(e, &ev, t, 0);
    ev.addr = v6b;
    alert_engine_note(e, &ev, t, 0);
    expect_note(5, "msgs", ALERT_FIRING, "2001:db8:1:2::/64", 2);
    ev.addr = mapped;
    alert_engine_note(e, &ev, t, 0);
    message(e, 7, DOOR_INTERNAL, t);
    expect_note(6, "msgs", ALERT_FIRING, "10.0.0.7", 2);
    /* A message on another door, or without an address, counts for nothing. */
    message(e, 9, DOOR_SUBMISSION, t);
    message(e, 9, DOOR_SUBMISSION, t);
    ev.addr = NULL;
    alert_engine_note(e, &ev, t, 0);
    alert_engine_note(e, &ev, t, 0);
    assert_int_equal(n_notes, 7);
    assert_int_equal(alert_engine_firing(e, NULL, NULL), 7);
    alert_engine_free(e);
}

/* when scanner: Mirai SYNs and sessions count, plain SYNs do not; a SYN without a door. */
static void
test_scanner_kind(void **state)
{
    struct conf_alert defs[] = {
        rule("scan", CONF_ALERT_SCANNER, 3, 60, CONF_ALERT_PER_CLIENT, 0),
        rule("inbound", CONF_ALERT_SCANNER, 2, 60, CONF_ALERT_PER_ALL, 1u << DOOR_INBOUND),
        rule("doors", CONF_ALERT_SCANNER, 100, 60, CONF_ALERT_PER_DOOR, 0),
    };
    struct conf c;
    struct alert_engine *e = engine_of(&c, defs, N_OF(defs));
    struct watch_event ev;
    uint64_t t = T0;

    (void)state;
    ev = event(WATCH_SCANNER, DOOR_ROLE_COUNT, 5, NULL);
    for (int i = 0; i < 10; i++) {
        ev.scan = WATCH_SCAN_PLAIN; /* every client's: never counted */
        alert_engine_note(e, &ev, t, 0);
    }
    ev.scan = WATCH_SCAN_MIRAI; /* to a port without a door: per client, not for "inbound" */
    alert_engine_note(e, &ev, t, 0);
    alert_engine_note(e, &ev, t, 0);
    assert_int_equal(n_notes, 0);
    ev = event(WATCH_SCANNER, DOOR_INBOUND, 5, NULL);
    ev.scan = WATCH_SCAN_HTTP;
    alert_engine_note(e, &ev, t, 0);
    expect_note(0, "scan", ALERT_FIRING, "10.0.0.5", 3);
    assert_int_equal(notes[0].door, DOOR_INBOUND);
    ev.scan = WATCH_SCAN_SILENT;
    alert_engine_note(e, &ev, t, 0);
    expect_note(1, "inbound", ALERT_FIRING, "all", 2);
    /* Other kinds of events are not scanners. */
    ev = event(WATCH_CONNECT, DOOR_INBOUND, 6, NULL);
    ev.connect = WATCH_CONNECT_SCANNER;
    for (int i = 0; i < 5; i++)
        alert_engine_note(e, &ev, t, 0);
    assert_int_equal(n_notes, 2);
    alert_engine_free(e);
}

/* ---- Spike ---- */

/*
 * A client that sends steadily never fires; four times its rate fires; its
 * mail is then held (action hold), and the hold names the rule and key.
 * The firing key's baseline does not learn its burst.
 */
static void
test_spike(void **state)
{
    struct conf_alert defs[] = {
        rule("spike", CONF_ALERT_SPIKE, 8, 10, CONF_ALERT_PER_CLIENT, 1u << DOOR_INTERNAL)};
    struct conf c;
    struct alert_engine *e;
    char reason[256];
    uint64_t t = T0, fired = 0;

    (void)state;
    defs[0].factor = 2.0;
    defs[0].baseline = 60;
    defs[0].hold = true;
    e = engine_of(&c, defs, 1);
    /* A message a second for five minutes: 10 per window, never 2x its baseline. */
    for (int i = 0; i < 300; i++, t += 1000) {
        message(e, 7, DOOR_INTERNAL, t);
        tick(e, t);
    }
    assert_int_equal(n_notes, 0);
    assert_false(
        alert_engine_hold(e, DOOR_INTERNAL, AF_INET, addr_buf, NULL, reason, sizeof(reason), t));
    /* A new client at 2 a second: it has no baseline yet (one window to learn): no fire. */
    for (int i = 0; i < 18; i++)
        message(e, 8, DOOR_INTERNAL, t + (uint64_t)i * 500);
    assert_int_equal(n_notes, 0);
    /* Client 7 at four times its rate. */
    for (int i = 0; i < 60 && fired == 0; i++, t += 250) {
        message(e, 7, DOOR_INTERNAL, t);
        if (n_notes > 0)
            fired = t;
    }
    assert_int_equal(n_notes, 1);
    expect_note(0, "spike", ALERT_FIRING, "10.0.0.7", -1);
    /* Over 2 x ~10 a window, and over min. */
    assert_true(notes[0].threshold >= 18 && notes[0].threshold <= 24);
    assert_true(notes[0].value >= (int64_t)notes[0].threshold);
    addr_buf[3] = 7;
    assert_true(
        alert_engine_hold(e, DOOR_INTERNAL, AF_INET, addr_buf, NULL, reason, sizeof(reason), t));
    assert_string_equal(reason, "alert spike, client 10.0.0.7");
    /* Only on its doors, only this client. */
    assert_false(
        alert_engine_hold(e, DOOR_SUBMISSION, AF_INET, addr_buf, NULL, reason, sizeof(reason), t));
    addr_buf[3] = 8;
    assert_false(
        alert_engine_hold(e, DOOR_INTERNAL, AF_INET, addr_buf, NULL, reason, sizeof(reason), t));
    /* It keeps spamming for a minute: still firing (its burst is not its normal). */
    for (int i = 0; i < 240; i++, t += 250) {
        message(e, 7, DOOR_INTERNAL, t);
        if (i % 4 == 0)
            tick(e, t);
    }
    assert_int_equal(n_notes, 1);
    /* Quiet: resolved, once. */
    for (int i = 0; i < 30; i++, t += 1000)
        tick(e, t);
    assert_int_equal(n_notes, 2);
    expect_note(1, "spike", ALERT_RESOLVED, "10.0.0.7", -1);
    addr_buf[3] = 7;
    assert_false(
        alert_engine_hold(e, DOOR_INTERNAL, AF_INET, addr_buf, NULL, reason, sizeof(reason), t));
    alert_engine_free(e);
}

/* ---- Polled rules ---- */

static void
test_queue_and_certs(void **state)
{
    struct conf_alert defs[] = {
        rule("queue", CONF_ALERT_QUEUE, 100, 0, CONF_ALERT_PER_ALL, 0),
        rule("old", CONF_ALERT_QUEUE, 0, 0, CONF_ALERT_PER_ALL, 0),
        rule("certs", CONF_ALERT_TLS_EXPIRY, 0, 0, CONF_ALERT_PER_ALL, 0),
    };
    struct alert_cert certs[2] = {{"/etc/a.pem", 0}, {"/etc/b.pem", 0}};
    struct alert_queue q = {99, 0};
    struct conf c;
    struct alert_engine *e;
    uint64_t t = T0;
    time_t wall = (time_t)(T0 / 1000);

    (void)state;
    defs[1].age = 3600;
    defs[2].within = 14 * 86400;
    e = engine_of(&c, defs, N_OF(defs));
    certs[0].not_after = wall + 30 * 86400;
    certs[1].not_after = wall + 10 * 86400;
    alert_engine_set_certs(e, certs, 2);
    q.oldest = wall - 100;
    alert_engine_tick(e, &q, t, wall);
    assert_int_equal(n_notes, 1);
    expect_note(0, "certs", ALERT_FIRING, "/etc/b.pem", 10 * 86400);
    q.messages = 100;
    alert_engine_tick(e, &q, t += 1000, wall += 1);
    expect_note(1, "queue", ALERT_FIRING, "all", 100);
    /* Polled rules are told once a minute at most. */
    q.messages = 10;
    alert_engine_tick(e, &q, t += 1000, wall += 1);
    assert_int_equal(n_notes, 2);
    alert_engine_tick(e, &q, t += ALERT_POLL_GAP_MS, wall += 60);
    expect_note(2, "queue", ALERT_RESOLVED, "all", 10);
    /* Without the queue's facts, queue rules wait. */
    alert_engine_tick(e, NULL, t += 1000, wall += 1);
    assert_int_equal(n_notes, 3);
    q.oldest = wall - 3600;
    alert_engine_tick(e, &q, t += 1000, wall += 1);
    expect_note(3, "old", ALERT_FIRING, "all", 3601);
    /* A renewed certificate: resolved at the next tick; a certificate gone: at once. */
    certs[1].not_after = wall + 90 * 86400;
    alert_engine_set_certs(e, certs, 2);
    alert_engine_tick(e, &q, t += ALERT_POLL_GAP_MS, wall += 60);
    expect_note(4, "certs", ALERT_RESOLVED, "/etc/b.pem", -1);
    certs[0].not_after = wall - 5; /* past its notAfter: a negative value */
    alert_engine_set_certs(e, certs, 1);
    alert_engine_tick(e, &q, t += 1000, wall += 1);
    expect_note(5, "certs", ALERT_FIRING, "/etc/a.pem", -6);
    alert_engine_set_certs(e, NULL, 0);
    expect_note(6, "certs", ALERT_RESOLVED, "/etc/a.pem", -1);
    alert_engine_free(e);
}

/* ---- Bounded memory ---- */

/*
 * A flood of keys (an attacker with many addresses): the table never holds
 * more than ALERT_KEYS_MAX; firing keys pushed out are resolved (never
 * silently forgotten); every notification is one of a pair.
 */
static void
test_flood_of_keys(void **state)
{
    struct conf_alert defs[] = {
        rule("f", CONF_ALERT_FAILED_AUTH, 1, 600, CONF_ALERT_PER_CLIENT, 0)};
    struct conf c;
    struct alert_engine *e = engine_of(&c, defs, 1);
    struct alert_rule *const *rules;
    struct alert_table_stats st;
    size_t n, fired = 0, resolved = 0, evicted = 0;

    (void)state;
    for (unsigned i = 0; i < 3 * ALERT_KEYS_MAX; i++) {
        struct watch_event ev = event(WATCH_AUTH, DOOR_SUBMISSION, 0, NULL);
        unsigned char a[4] = {(unsigned char)(i >> 16), (unsigned char)(i >> 8), (unsigned char)i,
                              1};

        ev.auth = WATCH_AUTH_FAILURE;
        ev.addr = a;
        alert_engine_note(e, &ev, T0 + i, 0);
    }
    rules = alert_engine_rules(e, &n);
    assert_int_equal(n, 1);
    alert_table_stats(rules[0]->tab, &st);
    assert_true(st.entries <= ALERT_KEYS_MAX);
    assert_int_equal(st.evicted, 2 * ALERT_KEYS_MAX);
    for (size_t i = 0; i < n_notes; i++) {
        fired += notes[i].state == ALERT_FIRING;
        resolved += notes[i].state == ALERT_RESOLVED;
        evicted += notes[i].evicted;
    }
    assert_int_equal(fired, 3 * ALERT_KEYS_MAX);
    assert_int_equal(resolved, 2 * ALERT_KEYS_MAX);
    assert_int_equal(evicted, resolved);
    assert_int_equal(alert_engine_firing(e, NULL, NULL), ALERT_KEYS_MAX);
    /* The tick resolves them all in time, a budget at a time (bounded work per second). */
    n_notes = 0;
    tick(e, T0 + 700000);
    assert_true(n_notes <= ALERT_TICK_BUDGET);
    for (int i = 1; i < 10; i++)
        tick(e, T0 + 700000 + (uint64_t)i * 1000);
    assert_int_equal(alert_engine_firing(e, NULL, NULL), 0);
    assert_int_equal(n_notes, ALERT_KEYS_MAX);
    alert_engine_free(e);
}

/* Quiet keys go before active ones, least recently seen first. */
static void
test_table_eviction_order(void **state)
{
    struct alert_table *t = alert_table_new(3, 1000, 0, seed);
    unsigned char k[2] = {ALERT_KEY_DOOR, 0};
    struct alert_table_stats st;
    struct alert_entry *e;

    (void)state;
    for (unsigned char i = 0; i < 3; i++) {
        k[1] = i;
        e = alert_table_get(t, k, 2, T0, true);
        if (i == 0)
            alert_table_set_active(t, e, true);
    }
    k[1] = 1;
    (void)alert_table_get(t, k, 2, T0 + 1, true); /* 1 seen again: 2 is the coldest quiet */
    k[1] = 9;
    (void)alert_table_get(t, k, 2, T0 + 2, true);
    k[1] = 2;
    assert_null(alert_table_peek(t, k, 2));
    k[1] = 0;
    assert_non_null(alert_table_peek(t, k, 2)); /* active: kept */
    k[1] = 1;
    assert_non_null(alert_table_peek(t, k, 2));
    /* A clock that goes back moves no window. */
    k[1] = 9;
    e = alert_table_get(t, k, 2, T0 + 500, true);
    e->slots[e->cur] = 5;
    assert_non_null(alert_table_get(t, k, 2, T0, false));
    assert_int_equal(alert_entry_count(e), 5);
    /* ...and forward, it empties. */
    assert_non_null(alert_table_get(t, k, 2, T0 + 5000, false));
    assert_int_equal(alert_entry_count(e), 0);
    k[1] = 77;
    assert_null(alert_table_get(t, k, 2, T0, false));
    alert_table_stats(t, &st);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.evicted_active, 0);
    alert_table_free(t);
}

/* The baseline of a steady key is its rate, from its first window on, over any quiet gap. */
static void
test_table_baseline(void **state)
{
    struct alert_table *t = alert_table_new(10, 16000, 60000, seed);
    unsigned char k[1] = {ALERT_KEY_ALL};
    struct alert_entry *e = alert_table_get(t, k, 1, T0, true);
    double expected;

    (void)state;
    /* 2 a second. */
    for (uint64_t ms = 0; ms < 16000; ms += 500) {
        e = alert_table_get(t, k, 1, T0 + ms, true);
        e->slots[e->cur]++;
    }
    assert_true(alert_table_expected(t, e) < 0); /* not one window learned yet */
    for (uint64_t ms = 16000; ms < 40000; ms += 500) {
        e = alert_table_get(t, k, 1, T0 + ms, true);
        e->slots[e->cur]++;
    }
    expected = alert_table_expected(t, e);
    assert_true(fabs(expected - 32.0) < 1.5); /* 2/s x 16 s */
    /* An hour of silence, folded at once: the baseline falls to nearly nothing. */
    alert_table_advance(t, e, T0 + 40000 + 3600000);
    expected = alert_table_expected(t, e);
    assert_true(expected >= 0.0 && expected < 0.5);
    assert_true(isfinite(e->s) && isfinite(e->wsum));
    alert_table_free(t);
}

/* ---- Reloads ---- */

static void
test_reload_keeps_same_rules(void **state)
{
    struct conf_alert defs[] = {
        rule("kept", CONF_ALERT_MESSAGES, 2, 60, CONF_ALERT_PER_CLIENT, 1u << DOOR_INTERNAL),
        rule("changed", CONF_ALERT_MESSAGES, 2, 60, CONF_ALERT_PER_CLIENT, 1u << DOOR_INTERNAL),
    };
    struct conf_alert next[2];
    struct conf c, c2;
    struct alert_engine *e;
    char reason[256];

    (void)state;
    defs[0].hold = true;
    e = engine_of(&c, defs, 2);
    message(e, 7, DOOR_INTERNAL, T0);
    message(e, 7, DOOR_INTERNAL, T0 + 1);
    assert_int_equal(n_notes, 2);
    memcpy(next, defs, sizeof(next));
    next[0].n_webhooks = 0; /* actions may change */
    next[1].threshold = 3;  /* the counting may not */
    memset(&c2, 0, sizeof(c2));
    c2.alerts = next;
    c2.n_alerts = 2;
    alert_engine_configure(e, &c2);
    assert_int_equal(alert_engine_firing(e, NULL, NULL), 1);
    assert_true(alert_engine_hold(e, DOOR_INTERNAL, AF_INET, addr_buf, NULL, reason, sizeof(reason),
                                  T0 + 2));
    message(e, 7, DOOR_INTERNAL, T0 + 2);
    assert_int_equal(n_notes, 2); /* kept: still firing, nothing new; changed: 1 of 3 */
    /* A configuration without them: they go. */
    c2.n_alerts = 0;
    alert_engine_configure(e, &c2);
    assert_int_equal(alert_engine_firing(e, NULL, NULL), 0);
    assert_false(alert_engine_hold(e, DOOR_INTERNAL, AF_INET, addr_buf, NULL, reason,
                                   sizeof(reason), T0 + 2));
    alert_engine_free(e);
}

/* ---- The baselines file ---- */

static void
learn(struct alert_engine *e, unsigned client, int per_second, int seconds)
{
    for (int i = 0; i < seconds * per_second; i++)
        message(e, client, DOOR_INTERNAL, T0 + (uint64_t)i * 1000 / (uint64_t)per_second);
}

struct recs {
    struct alert_store_rec rec[8];
    unsigned char keys[8][16];
    size_t n;
};

static void
keep_rec(void *arg, const struct alert_store_rec *rec)
{
    struct recs *r = arg;

    if (rec->key == NULL)
        return;
    assert_true(r->n < 8 && rec->key_len <= 16);
    r->rec[r->n] = *rec;
    memcpy(r->keys[r->n], rec->key, rec->key_len);
    r->rec[r->n].key = r->keys[r->n];
    r->n++;
}

static void
test_store_round_trip(void **state)
{
    struct conf_alert defs[] = {
        rule("spike", CONF_ALERT_SPIKE, 5, 10, CONF_ALERT_PER_CLIENT, 1u << DOOR_INTERNAL),
        rule("count", CONF_ALERT_MESSAGES, 5000, 10, CONF_ALERT_PER_CLIENT, 0),
    };
    struct conf_alert other[2];
    struct conf c, c2;
    struct alert_engine *e = engine_of(&c, defs, 2), *e2;
    struct alert_rule *const *rules;
    struct recs recs = {0};
    char *text, why[128];
    size_t len, n;
    long got;

    (void)state;
    learn(e, 1, 2, 60);
    learn(e, 2, 1, 60);
    learn(e, 3, 1, 5); /* nothing left its window yet: the window is written as history */
    text = alert_store_format(e, T0 + 60000, &len);
    assert_int_equal(strlen(text), len);
    assert_int_equal(alert_store_parse(text, len, keep_rec, &recs, why, sizeof(why)), 3);
    assert_int_equal(recs.n, 3);
    e2 = engine_of(&c2, defs, 2);
    got = alert_store_restore(e2, text, len, T0 + 60000, why, sizeof(why));
    if (got != 3)
        fail_msg("restore: %ld (%s)\n%s", got, why, text);
    rules = alert_engine_rules(e2, &n);
    for (size_t i = 0; i < recs.n; i++) {
        const struct alert_store_rec *r = &recs.rec[i];
        const struct alert_entry *b = alert_table_peek(rules[0]->tab, r->key, r->key_len);

        assert_non_null(b);
        assert_true(b->s == r->s && b->wsum == r->wsum && b->learned_ms == r->learned_ms);
        assert_int_equal(r->window, 10);
        assert_int_equal(r->baseline, 3600);
        /* Client 1 sends twice as much as client 2; client 3 learned 5 s only. */
        assert_true(r->learned_ms >= 5000);
    }
    /* The history in a file counts the window: 60 s each for clients 1 and 2. */
    for (size_t i = 0; i < recs.n; i++) {
        if (recs.rec[i].key[4] != 3)
            assert_true(recs.rec[i].learned_ms >= 59000 && recs.rec[i].learned_ms <= 61000);
    }
    free(text);
    /* Another definition of the rule (its window): the keys are not taken. */
    alert_engine_free(e2);
    memcpy(other, defs, sizeof(other));
    other[0].window = 20;
    text = alert_store_format(e, T0 + 60000, &len);
    e2 = engine_of(&c2, other, 2);
    assert_int_equal(alert_store_restore(e2, text, len, T0, why, sizeof(why)), 0);
    free(text);
    alert_engine_free(e2);
    alert_engine_free(e);
}

/* A restored key is judged at once: four times its old rate fires (it would not, forgotten). */
static void
test_store_restored_key_fires(void **state)
{
    struct conf_alert defs[] = {
        rule("spike", CONF_ALERT_SPIKE, 8, 10, CONF_ALERT_PER_CLIENT, 1u << DOOR_INTERNAL)};
    struct conf c, c2;
    struct alert_engine *e, *e2;
    uint64_t t = T0;
    char *text, why[128];
    size_t len;

    (void)state;
    defs[0].factor = 2.0;
    defs[0].baseline = 120;
    e = engine_of(&c, defs, 1);
    for (int i = 0; i < 15; i++, t += 1000)
        message(e, 7, DOOR_INTERNAL, t);
    text = alert_store_format(e, t, &len);
    alert_engine_free(e);
    /* The restart takes a few seconds. */
    t += 5000;
    e2 = engine_of(&c2, defs, 1);
    assert_int_equal(alert_store_restore(e2, text, len, t, why, sizeof(why)), 1);
    free(text);
    t += 3000;
    for (int i = 0; i < 60 && n_notes == 0; i++, t += 250)
        message(e2, 7, DOOR_INTERNAL, t);
    assert_int_equal(n_notes, 1);
    expect_note(0, "spike", ALERT_FIRING, "10.0.0.7", -1);
    alert_engine_free(e2);
}

static void
test_store_refuses(void **state)
{
    static const struct {
        const char *text;
        const char *why;
    } rows[] = {
        {"", "line 1: truncated"},
        {"gate26-baselines 1\n", "line 2: truncated (no 'end')"},
        {"gate26-baselines 2\nend\n", "line 1: not a gate26 baselines file of version 1"},
        {"gate26-queue 1\nend\n", "line 1: not a gate26 baselines file"},
        {"gate26-baselines 1\nend", "line 2: truncated"},
        {"gate26-baselines 1\nend\nx", "something follows 'end'"},
        {"gate26-baselines 1\nend\n\n", "something follows 'end'"},
        {"gate26-baselines 1\n\nend\n", "line 2: empty field"},
        {"gate26-baselines 1\nrule s 10 60 client 2\nkey 04 1 1 1 x\nend\n", "expected key HEX"},
        {"gate26-baselines 1\nrule s 10 60 client 2\nkey 04 1 1 1 x y\nend\n", "too many fields"},
        {"gate26-baselines 1\nkey 340A000001 1 1 1\nend\n", "a key before any rule"},
        {"gate26-baselines 1\nrule s 10 60 client 2\nkey 340A00000 1 1 1\nend\n", "bad key"},
        {"gate26-baselines 1\nrule s 10 60 client 2\nkey 340a000001 1 1 1\nend\n", "bad key"},
        {"gate26-baselines 1\nrule s 10 60 client 2\nkey 340A000001 nan 1 1\nend\n", "bad number"},
        {"gate26-baselines 1\nrule s 10 60 client 2\nkey 340A000001 inf 1 1\nend\n", "bad number"},
        {"gate26-baselines 1\nrule s 10 60 client 2\nkey 340A000001 -1 1 1\nend\n", "bad number"},
        {"gate26-baselines 1\nrule s 10 60 client 2\nkey 340A000001 1e999 1 1\nend\n",
         "bad number"},
        {"gate26-baselines 1\nrule s 10 60 client 2\nkey 340A000001 1 1 0\nend\n", "bad number"},
        {"gate26-baselines 1\nrule s 10 60 client 2\nkey 340A000001 0x10 1 1\nend\n", "bad number"},
        {"gate26-baselines 1\nrule s 10 60 client 2\nkey 340A000001 1 1\nend\n",
         "expected key HEX"},
        {"gate26-baselines 1\nrule s/x 10 60 client 2\nend\n", "bad rule name"},
        {"gate26-baselines 1\nrule s 0 60 client 2\nend\n", "bad number"},
        {"gate26-baselines 1\nrule s 10 60 client 16\nend\n", "bad number"},
        {"gate26-baselines 1\nrule s 10 60 ip 2\nend\n", "bad per"},
        {"gate26-baselines 1\nrule s 10 60 client\nend\n", "expected rule NAME"},
        {"gate26-baselines 1\nrules s 10 60 client 2\nend\n", "unknown record"},
        {"gate26-baselines 1\r\nend\r\n", "not a gate26 baselines file"},
        {"gate26-baselines 1\nrule  s 10 60 client 2\nend\n", "empty field"},
        {"gate26-baselines 1\nrule s 10 60 client 2 \nend\n", "empty field"},
        {"gate26-baselines 1\nrule s\x00 10 60 client 2\nend\n", "bad rule name"},
    };
    char why[128];

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        size_t len = strlen(rows[i].text);

        if (i == N_OF(rows) - 1)
            len = sizeof("gate26-baselines 1\nrule s\x00 10 60 client 2\nend\n") - 1;
        why[0] = '\0';
        if (alert_store_parse(rows[i].text, len, NULL, NULL, why, sizeof(why)) != -1)
            fail_msg("row %zu accepted", i);
        if (strstr(why, rows[i].why) == NULL)
            fail_msg("row %zu: why '%s', not '%s'", i, why, rows[i].why);
    }
}

/* A line past the cap, and more keys than a table holds: refused, bounded. */
static void
test_store_caps(void **state)
{
    size_t cap = 40 * 1024 * 1024, n = 0;
    char *text = malloc(cap), why[128];

    (void)state;
    assert_non_null(text);
    n += (size_t)snprintf(text, cap, "gate26-baselines 1\nrule s 10 60 client 2\nkey ");
    memset(text + n, 'A', 3 * ALERT_KEY_MAX);
    n += 3 * ALERT_KEY_MAX;
    n += (size_t)snprintf(text + n, cap - n, " 1 1 1\nend\n");
    assert_int_equal(alert_store_parse(text, n, NULL, NULL, why, sizeof(why)), -1);
    assert_string_equal(why, "line 3: line too long");
    n = (size_t)snprintf(text, cap, "gate26-baselines 1\nrule s 10 60 client 2\n");
    for (unsigned i = 0; i <= ALERT_KEYS_MAX; i++)
        n += (size_t)snprintf(text + n, cap - n, "key 34%08X 1 1 1\n", i);
    n += (size_t)snprintf(text + n, cap - n, "end\n");
    assert_int_equal(alert_store_parse(text, n, NULL, NULL, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "too many keys"));
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_burst_fires_once_and_resolves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_fires_after_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kinds_and_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scanner_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spike, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_and_certs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flood_of_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_eviction_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_baseline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_same_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_restored_key_fires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_caps, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
