/* SPDX-License-Identifier: MIT */
/*
 * The windows of `gate26 status` (window.c) on a fake clock: what each
 * event counts and what it does not, the last minute and the last hour
 * rolling over slot by slot and after long silences, sessions open, the
 * top clients (IPv6 per /64, IPv4-mapped as IPv4, their order), and a
 * flood of 100000 addresses that keeps the table at its size and the heavy
 * hitters in it with their exact counts; the day series of the console
 * (1440 minutes per door, expiring, emptied by a jump, saturating).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "watch/watch_impl.h"

static uint64_t fake_now;

static uint64_t
fake_clock(void)
{
    return fake_now;
}

static const unsigned char seed[16] = {7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static unsigned char v4[4] = {192, 0, 2, 7};

static struct watch_window *
window(uint64_t start)
{
    fake_now = start;
    return watch_window_new(seed, fake_clock);
}

static struct watch_event
ev_at(enum watch_kind kind, enum door_role door, int family, const unsigned char *addr)
{
    struct watch_event ev = {.kind = kind, .door = door, .family = family, .addr = addr};

    return ev;
}

static void
reply(struct watch_window *ww, enum door_role door, const unsigned char *addr, unsigned code)
{
    struct watch_event ev = ev_at(WATCH_REPLY, door, AF_INET, addr);

    ev.code = code;
    ev.reason = "test";
    watch_window_add(ww, &ev);
}

static void
message(struct watch_window *ww, enum door_role door, int family, const unsigned char *addr)
{
    struct watch_event ev = ev_at(WATCH_MESSAGE, door, family, addr);

    ev.size = 100;
    watch_window_add(ww, &ev);
}

static struct watch_status
read_status(struct watch_window *ww)
{
    struct watch_status st;

    memset(&st, 0, sizeof(st));
    watch_window_read(ww, &st);
    return st;
}

/* What each event counts, and the hostile rows: codes out of range, doors out of range, NULL. */
static void
test_what_counts(void **state)
{
    struct watch_window *ww = window(5000);
    struct watch_status st;
    static const struct {
        enum watch_kind kind;
        enum watch_connect connect;
        enum watch_auth auth;
        unsigned code;
        int door;
        uint64_t conn, msg, ref, authf;
        int open;
    } rows[] = {
        {WATCH_CONNECT, WATCH_CONNECT_ACCEPTED, 0, 0, DOOR_INBOUND, 1, 0, 0, 0, 1},
        {WATCH_CONNECT, WATCH_CONNECT_DENIED, 0, 0, DOOR_INBOUND, 1, 0, 0, 0, 0},
        {WATCH_CONNECT, WATCH_CONNECT_CLIENT_LIMIT, 0, 0, DOOR_INBOUND, 1, 0, 0, 0, 0},
        {WATCH_CONNECT, WATCH_CONNECT_CAPACITY, 0, 0, DOOR_INBOUND, 1, 0, 0, 0, 0},
        {WATCH_CONNECT, WATCH_CONNECT_LOCKOUT, 0, 0, DOOR_INBOUND, 0, 0, 0, 0, 0},
        {WATCH_CONNECT, WATCH_CONNECT_SCANNER, 0, 0, DOOR_INBOUND, 1, 0, 0, 0, 0},
        /* A scanner's SYN or session is the scanner table's, not a count of status. */
        {WATCH_SCANNER, 0, 0, 0, DOOR_INBOUND, 0, 0, 0, 0, 0},
        {WATCH_SCANNER, 0, 0, 0, DOOR_ROLE_COUNT, 0, 0, 0, 0, 0},
        {WATCH_REPLY, 0, 0, 250, DOOR_INBOUND, 0, 0, 0, 0, 0},
        {WATCH_REPLY, 0, 0, 354, DOOR_INBOUND, 0, 0, 0, 0, 0},
        {WATCH_REPLY, 0, 0, 399, DOOR_INBOUND, 0, 0, 0, 0, 0},
        {WATCH_REPLY, 0, 0, 400, DOOR_INBOUND, 0, 0, 1, 0, 0},
        {WATCH_REPLY, 0, 0, 421, DOOR_INBOUND, 0, 0, 1, 0, 0},
        {WATCH_REPLY, 0, 0, 550, DOOR_INBOUND, 0, 0, 1, 0, 0},
        {WATCH_REPLY, 0, 0, 599, DOOR_INBOUND, 0, 0, 1, 0, 0},
        {WATCH_REPLY, 0, 0, 600, DOOR_INBOUND, 0, 0, 0, 0, 0},
        {WATCH_REPLY, 0, 0, 99999, DOOR_INBOUND, 0, 0, 0, 0, 0},
        {WATCH_MESSAGE, 0, 0, 0, DOOR_INBOUND, 0, 1, 0, 0, 0},
        {WATCH_AUTH, 0, WATCH_AUTH_FAILURE, 0, DOOR_INBOUND, 0, 0, 0, 1, 0},
        {WATCH_AUTH, 0, WATCH_AUTH_SUCCESS, 0, DOOR_INBOUND, 0, 0, 0, 0, 0},
        {WATCH_AUTH, 0, WATCH_AUTH_LOCKED, 0, DOOR_INBOUND, 0, 0, 0, 0, 0},
        {WATCH_CLOSE, 0, 0, 0, DOOR_INBOUND, 0, 0, 0, 0, -1},
        {WATCH_CLOSE, 0, 0, 0, DOOR_INBOUND, 0, 0, 0, 0, 0}, /* never below 0 */
        {WATCH_MESSAGE, 0, 0, 0, DOOR_ROLE_COUNT, 0, 0, 0, 0, 0},
        {WATCH_MESSAGE, 0, 0, 0, -1, 0, 0, 0, 0, 0},
        {WATCH_KIND_COUNT, 0, 0, 0, DOOR_INBOUND, 0, 0, 0, 0, 0},
    };
    uint64_t conn = 0, msg = 0, ref = 0, authf = 0;
    int open = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct watch_event ev =
            ev_at(rows[i].kind, (enum door_role)rows[i].door, AF_INET, i % 2 ? v4 : NULL);

        ev.connect = rows[i].connect;
        ev.auth = rows[i].auth;
        ev.code = rows[i].code;
        watch_window_add(ww, &ev);
        conn += rows[i].conn;
        msg += rows[i].msg;
        ref += rows[i].ref;
        authf += rows[i].authf;
        open += rows[i].open;
        st = read_status(ww);
        for (int span = 0; span < WATCH_SPAN_COUNT; span++) {
            const struct watch_counts *c = &st.door[DOOR_INBOUND].span[span];

            assert_int_equal(c->connections, conn);
            assert_int_equal(c->messages, msg);
            assert_int_equal(c->refusals, ref);
            assert_int_equal(c->auth_failures, authf);
        }
        assert_int_equal(st.door[DOOR_INBOUND].sessions_open, (uint64_t)open);
        for (int d = DOOR_INTERNAL; d < DOOR_ROLE_COUNT; d++)
            assert_int_equal(st.door[d].span[WATCH_SPAN_START].messages, 0);
    }
    /* Deliveries are not a door's. */
    for (int k = 0; k < WATCH_DELIVERY_COUNT + 2; k++) {
        struct watch_event ev = {.kind = WATCH_DELIVERY, .delivery = (enum watch_delivery)k};

        watch_window_add(ww, &ev);
    }
    st = read_status(ww);
    for (int span = 0; span < WATCH_SPAN_COUNT; span++)
        for (int k = 0; k < WATCH_DELIVERY_COUNT; k++)
            assert_int_equal(st.deliveries[span][k], 1);
    watch_window_add(NULL, &(struct watch_event){.kind = WATCH_MESSAGE});
    watch_window_free(ww);
    watch_window_free(NULL);
}

/* The last minute: a ring of one-second slots. */
static void
test_minute_rolls(void **state)
{
    struct watch_window *ww = window(1000000);
    struct watch_status st;

    (void)state;
    /* One message at each of 100 seconds, from second 1000. */
    for (int i = 0; i < 100; i++) {
        fake_now = 1000000 + (uint64_t)i * 1000 + 999;
        message(ww, DOOR_INTERNAL, AF_INET, v4);
        st = read_status(ww);
        assert_int_equal(st.door[DOOR_INTERNAL].span[WATCH_SPAN_MINUTE].messages,
                         i < 60 ? i + 1 : 60);
        assert_int_equal(st.door[DOOR_INTERNAL].span[WATCH_SPAN_START].messages, i + 1);
    }
    /* At second 1099 the minute holds 1040..1099; each later second drops one. */
    for (int j = 1; j <= 60; j++) {
        fake_now = 1000000 + (uint64_t)(99 + j) * 1000;
        st = read_status(ww);
        assert_int_equal(st.door[DOOR_INTERNAL].span[WATCH_SPAN_MINUTE].messages, 60 - j);
        assert_int_equal(st.door[DOOR_INTERNAL].span[WATCH_SPAN_HOUR].messages, 100);
    }
    /* Several in one second, then a silence longer than the ring. */
    for (int i = 0; i < 7; i++)
        message(ww, DOOR_INTERNAL, AF_INET, v4);
    assert_int_equal(read_status(ww).door[DOOR_INTERNAL].span[WATCH_SPAN_MINUTE].messages, 7);
    fake_now += 59 * 1000;
    assert_int_equal(read_status(ww).door[DOOR_INTERNAL].span[WATCH_SPAN_MINUTE].messages, 7);
    fake_now += 1000;
    assert_int_equal(read_status(ww).door[DOOR_INTERNAL].span[WATCH_SPAN_MINUTE].messages, 0);
    fake_now += 3600 * 1000 * 24;
    message(ww, DOOR_INTERNAL, AF_INET, v4);
    st = read_status(ww);
    assert_int_equal(st.door[DOOR_INTERNAL].span[WATCH_SPAN_MINUTE].messages, 1);
    assert_int_equal(st.door[DOOR_INTERNAL].span[WATCH_SPAN_HOUR].messages, 1);
    assert_int_equal(st.door[DOOR_INTERNAL].span[WATCH_SPAN_START].messages, 108);
    assert_int_equal(st.uptime_seconds, (fake_now - 1000000) / 1000);
    watch_window_free(ww);
}

/* The last hour: a ring of one-minute slots; and a clock that goes back counts in the newest. */
static void
test_hour_rolls(void **state)
{
    struct watch_window *ww = window(0);
    struct watch_status st;
    const uint64_t minute = 60000;

    (void)state;
    /* Minute m gets m+1 refusals, for minutes 0..89. */
    for (uint64_t m = 0; m < 90; m++) {
        fake_now = m * minute + 30000;
        for (uint64_t i = 0; i <= m; i++)
            reply(ww, DOOR_SUBMISSION, v4, 535);
        st = read_status(ww);
        /* Minutes max(0, m-59)..m. */
        uint64_t lo = m >= 59 ? m - 59 : 0, want = 0;

        for (uint64_t k = lo; k <= m; k++)
            want += k + 1;
        assert_int_equal(st.door[DOOR_SUBMISSION].span[WATCH_SPAN_HOUR].refusals, want);
        assert_int_equal(st.door[DOOR_SUBMISSION].span[WATCH_SPAN_MINUTE].refusals, m + 1);
        assert_int_equal(st.door[DOOR_SUBMISSION].top[0].refusals, want);
    }
    /* Silence: at minute 89 + 59 only minute 89 is left; one more and nothing. */
    fake_now = (89 + 59) * minute;
    st = read_status(ww);
    assert_int_equal(st.door[DOOR_SUBMISSION].span[WATCH_SPAN_HOUR].refusals, 90);
    assert_int_equal(st.door[DOOR_SUBMISSION].n_top, 1);
    assert_int_equal(st.door[DOOR_SUBMISSION].top[0].refusals, 90);
    fake_now += minute;
    st = read_status(ww);
    assert_int_equal(st.door[DOOR_SUBMISSION].span[WATCH_SPAN_HOUR].refusals, 0);
    assert_int_equal(st.door[DOOR_SUBMISSION].n_top, 0);
    assert_int_equal(st.door[DOOR_SUBMISSION].span[WATCH_SPAN_START].refusals, 90 * 91 / 2);
    /* Back in time by a minute: counted now, in the newest slot, and not lost. */
    fake_now -= minute;
    reply(ww, DOOR_SUBMISSION, v4, 535);
    st = read_status(ww);
    assert_int_equal(st.door[DOOR_SUBMISSION].span[WATCH_SPAN_HOUR].refusals, 1);
    assert_int_equal(st.door[DOOR_SUBMISSION].span[WATCH_SPAN_MINUTE].refusals, 1);
    /* The hour always holds the minute. */
    for (int i = 0; i < 200; i++) {
        fake_now += 7919;
        reply(ww, DOOR_SUBMISSION, v4, 535);
        st = read_status(ww);
        assert_true(st.door[DOOR_SUBMISSION].span[WATCH_SPAN_HOUR].refusals >=
                    st.door[DOOR_SUBMISSION].span[WATCH_SPAN_MINUTE].refusals);
    }
    watch_window_free(ww);
}

/* Deliveries roll like the doors. */
static void
test_deliveries_roll(void **state)
{
    struct watch_window *ww = window(0);
    struct watch_event sent = {.kind = WATCH_DELIVERY, .delivery = WATCH_DELIVERY_SENT};
    struct watch_event bounced = {.kind = WATCH_DELIVERY, .delivery = WATCH_DELIVERY_BOUNCED};
    struct watch_status st;

    (void)state;
    watch_window_add(ww, &sent);
    fake_now = 61000;
    watch_window_add(ww, &bounced);
    watch_window_add(ww, &bounced);
    st = read_status(ww);
    assert_int_equal(st.deliveries[WATCH_SPAN_MINUTE][WATCH_DELIVERY_SENT], 0);
    assert_int_equal(st.deliveries[WATCH_SPAN_MINUTE][WATCH_DELIVERY_BOUNCED], 2);
    assert_int_equal(st.deliveries[WATCH_SPAN_HOUR][WATCH_DELIVERY_SENT], 1);
    assert_int_equal(st.deliveries[WATCH_SPAN_HOUR][WATCH_DELIVERY_DEFERRED], 0);
    fake_now = 3600000;
    st = read_status(ww);
    assert_int_equal(st.deliveries[WATCH_SPAN_HOUR][WATCH_DELIVERY_SENT], 0);
    assert_int_equal(st.deliveries[WATCH_SPAN_HOUR][WATCH_DELIVERY_BOUNCED], 2);
    assert_int_equal(st.deliveries[WATCH_SPAN_START][WATCH_DELIVERY_SENT], 1);
    watch_window_free(ww);
}

/* The top clients: busiest first, per door; IPv6 per /64; IPv4-mapped as IPv4. */
static void
test_top_clients(void **state)
{
    struct watch_window *ww = window(0);
    unsigned char a[4] = {198, 51, 100, 1}, b[4] = {198, 51, 100, 2}, c[4] = {198, 51, 100, 3};
    unsigned char six1[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    unsigned char six2[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0xff, 0, 0, 0, 0, 0, 0, 2};
    unsigned char six3[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1};
    unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 3};
    struct watch_status st;

    (void)state;
    for (int i = 0; i < 3; i++)
        message(ww, DOOR_INBOUND, AF_INET, a);
    for (int i = 0; i < 5; i++)
        reply(ww, DOOR_INBOUND, b, 550);
    message(ww, DOOR_INBOUND, AF_INET, c);
    message(ww, DOOR_INBOUND, AF_INET6, mapped); /* the same client as c */
    reply(ww, DOOR_INBOUND, c, 550);
    reply(ww, DOOR_INBOUND, c, 250); /* not a refusal */
    /* Two addresses of one /64, one of another. */
    message(ww, DOOR_INTERNAL, AF_INET6, six1);
    message(ww, DOOR_INTERNAL, AF_INET6, six2);
    message(ww, DOOR_INTERNAL, AF_INET6, six3);
    /* Without an address (hostile): counted for the door, no client. */
    message(ww, DOOR_INTERNAL, AF_INET6, NULL);
    message(ww, DOOR_INTERNAL, 12345, six1);
    st = read_status(ww);

    assert_int_equal(st.door[DOOR_INBOUND].n_top, 3);
    /* b: 0+5; c: 2+1 = 3 but a: 3+0 = 3 too: messages break the tie. */
    assert_memory_equal(st.door[DOOR_INBOUND].top[0].addr, b, 4);
    assert_int_equal(st.door[DOOR_INBOUND].top[0].refusals, 5);
    assert_int_equal(st.door[DOOR_INBOUND].top[0].messages, 0);
    assert_memory_equal(st.door[DOOR_INBOUND].top[1].addr, a, 4);
    assert_int_equal(st.door[DOOR_INBOUND].top[1].messages, 3);
    assert_memory_equal(st.door[DOOR_INBOUND].top[2].addr, c, 4);
    assert_int_equal(st.door[DOOR_INBOUND].top[2].family, AF_INET);
    assert_int_equal(st.door[DOOR_INBOUND].top[2].messages, 2);
    assert_int_equal(st.door[DOOR_INBOUND].top[2].refusals, 1);

    assert_int_equal(st.door[DOOR_INTERNAL].span[WATCH_SPAN_HOUR].messages, 5);
    assert_int_equal(st.door[DOOR_INTERNAL].n_top, 2);
    assert_int_equal(st.door[DOOR_INTERNAL].top[0].family, AF_INET6);
    assert_memory_equal(st.door[DOOR_INTERNAL].top[0].addr, six1, 8);
    assert_memory_equal(st.door[DOOR_INTERNAL].top[0].addr + 8, "\0\0\0\0\0\0\0\0", 8);
    assert_int_equal(st.door[DOOR_INTERNAL].top[0].messages, 2);
    assert_memory_equal(st.door[DOOR_INTERNAL].top[1].addr, six3, 8);
    assert_int_equal(st.door[DOOR_SUBMISSION].n_top, 0);

    /* More clients than the list: the five busiest, in order. */
    for (unsigned i = 0; i < 20; i++) {
        unsigned char x[4] = {203, 0, 113, (unsigned char)i};

        for (unsigned j = 0; j <= i; j++)
            message(ww, DOOR_SUBMISSIONS, AF_INET, x);
    }
    st = read_status(ww);
    assert_int_equal(st.door[DOOR_SUBMISSIONS].n_top, WATCH_TOP_CLIENTS);
    for (unsigned i = 0; i < WATCH_TOP_CLIENTS; i++) {
        assert_int_equal(st.door[DOOR_SUBMISSIONS].top[i].addr[3], 19 - i);
        assert_int_equal(st.door[DOOR_SUBMISSIONS].top[i].messages, 20 - i);
    }
    watch_window_free(ww);
}

/*
 * 100000 addresses that each send one refusal, with four heavy hitters among
 * them: the table stays at its size, the heavy hitters are the top four with
 * their exact counts, and the door's counts are exact.
 */
static void
test_flood_keeps_heavy_hitters(void **state)
{
    struct watch_window *ww = window(0);
    unsigned char heavy[4][4] = {{10, 0, 0, 1}, {10, 0, 0, 2}, {10, 0, 0, 3}, {10, 0, 0, 4}};
    uint64_t heavy_count[4] = {0};
    struct watch_status st;
    size_t used, cap;

    (void)state;
    for (uint32_t i = 0; i < 100000; i++) {
        unsigned char x[4] = {100, (unsigned char)(i >> 16), (unsigned char)(i >> 8),
                              (unsigned char)i};

        fake_now = i / 4; /* 25 seconds in all: every address within the hour */
        reply(ww, DOOR_INBOUND, x, 550);
        if (i % 97 == 0) {
            unsigned h = (i / 97) % 4;

            /* Heavy hitter h sends h + 2 messages each time its turn comes. */
            for (unsigned k = 0; k < h + 2; k++) {
                message(ww, DOOR_INBOUND, AF_INET, heavy[h]);
                heavy_count[h]++;
            }
        }
    }
    used = watch_window_clients(ww, DOOR_INBOUND, &cap);
    assert_int_equal(used, cap);
    assert_true(cap <= 1024);
    st = read_status(ww);
    assert_int_equal(st.door[DOOR_INBOUND].span[WATCH_SPAN_HOUR].refusals, 100000);
    assert_int_equal(st.door[DOOR_INBOUND].span[WATCH_SPAN_HOUR].messages,
                     heavy_count[0] + heavy_count[1] + heavy_count[2] + heavy_count[3]);
    assert_int_equal(st.door[DOOR_INBOUND].n_top, WATCH_TOP_CLIENTS);
    for (unsigned i = 0; i < 4; i++) {
        assert_memory_equal(st.door[DOOR_INBOUND].top[i].addr, heavy[3 - i], 4);
        assert_int_equal(st.door[DOOR_INBOUND].top[i].messages, heavy_count[3 - i]);
        assert_int_equal(st.door[DOOR_INBOUND].top[i].refusals, 0);
    }
    /* The fifth is one of the flood, with its one refusal. */
    assert_int_equal(st.door[DOOR_INBOUND].top[4].addr[0], 100);
    assert_int_equal(st.door[DOOR_INBOUND].top[4].refusals, 1);
    /* Other doors untouched. */
    assert_int_equal(watch_window_clients(ww, DOOR_INTERNAL, NULL), 0);
    /* An hour later, the table is stale: nothing listed, and new clients take its place. */
    fake_now += 3600 * 1000;
    st = read_status(ww);
    assert_int_equal(st.door[DOOR_INBOUND].n_top, 0);
    message(ww, DOOR_INBOUND, AF_INET, v4);
    st = read_status(ww);
    assert_int_equal(st.door[DOOR_INBOUND].n_top, 1);
    assert_int_equal(st.door[DOOR_INBOUND].top[0].messages, 1);
    watch_window_free(ww);
}

/* A heavy hitter that comes in the middle of a flood is kept once it has two events. */
static void
test_newcomer_during_flood(void **state)
{
    struct watch_window *ww = window(0);
    unsigned char late[4] = {10, 9, 9, 9};

    (void)state;
    for (uint32_t i = 0; i < 50000; i++) {
        unsigned char x[4] = {100, (unsigned char)(i >> 16), (unsigned char)(i >> 8),
                              (unsigned char)i};

        reply(ww, DOOR_INBOUND, x, 550);
        if (i >= 25000 && i % 50 == 0)
            message(ww, DOOR_INBOUND, AF_INET, late);
    }
    struct watch_status st = read_status(ww);

    assert_memory_equal(st.door[DOOR_INBOUND].top[0].addr, late, 4);
    assert_int_equal(st.door[DOOR_INBOUND].top[0].messages, 500);
    watch_window_free(ww);
}

static struct watch_series *
read_series(struct watch_window *ww)
{
    static struct watch_series series;

    memset(&series, 0xa5, sizeof(series)); /* every entry must be written */
    watch_window_series(ww, &series);
    return &series;
}

/*
 * The day: 1440 one-minute slots per door, oldest first ending at the
 * current minute; each of the four values in its own array, each door its
 * own; the last 60 are the hour; a slot expires 24 hours after its minute.
 */
static void
test_day_series(void **state)
{
    const uint64_t minute = 60000, day0 = 10ULL * 24 * 3600 * 1000; /* ten days after origin */
    struct watch_window *ww = window(day0);
    struct watch_series *se;
    struct watch_status st;
    uint64_t m, last = 0;

    (void)state;
    /* Minute i of 1500 gets (i % 7) + 1 messages on submission, a refusal every third. */
    for (m = 0; m < 1500; m++) {
        fake_now = day0 + m * minute + (m * 997) % minute;
        for (uint64_t k = 0; k <= m % 7; k++)
            message(ww, DOOR_SUBMISSION, AF_INET, v4);
        if (m % 3 == 0)
            reply(ww, DOOR_SUBMISSION, v4, 550);
    }
    last = m - 1;
    se = read_series(ww);
    assert_int_equal(se->into_minute_ms, fake_now % minute);
    for (uint64_t j = 0; j < WATCH_SERIES_MINUTES; j++) {
        uint64_t at = last - (WATCH_SERIES_MINUTES - 1 - j);

        assert_int_equal(se->door[DOOR_SUBMISSION].messages[j], at % 7 + 1);
        assert_int_equal(se->door[DOOR_SUBMISSION].refusals[j], at % 3 == 0 ? 1 : 0);
        assert_int_equal(se->door[DOOR_SUBMISSION].connections[j], 0);
        assert_int_equal(se->door[DOOR_SUBMISSION].auth_failures[j], 0);
        for (int d = 0; d < DOOR_ROLE_COUNT; d++) {
            if (d == DOOR_SUBMISSION)
                continue;
            assert_int_equal(se->door[d].messages[j], 0);
            assert_int_equal(se->door[d].refusals[j], 0);
        }
    }
    /* The hour is the day's last 60. */
    st = read_status(ww);
    {
        uint64_t msg = 0, ref = 0;

        for (size_t j = WATCH_SERIES_MINUTES - 60; j < WATCH_SERIES_MINUTES; j++) {
            msg += se->door[DOOR_SUBMISSION].messages[j];
            ref += se->door[DOOR_SUBMISSION].refusals[j];
        }
        assert_int_equal(st.door[DOOR_SUBMISSION].span[WATCH_SPAN_HOUR].messages, msg);
        assert_int_equal(st.door[DOOR_SUBMISSION].span[WATCH_SPAN_HOUR].refusals, ref);
    }
    /* Silence: each minute shifts the series by one; after 1439 minutes one entry is left. */
    fake_now = day0 + (last + 1) * minute;
    se = read_series(ww);
    assert_int_equal(se->door[DOOR_SUBMISSION].messages[WATCH_SERIES_MINUTES - 1], 0);
    assert_int_equal(se->door[DOOR_SUBMISSION].messages[WATCH_SERIES_MINUTES - 2], last % 7 + 1);
    assert_int_equal(se->door[DOOR_SUBMISSION].messages[0], (last - 1438) % 7 + 1);
    fake_now = day0 + (last + 1439) * minute + minute - 1;
    se = read_series(ww);
    assert_int_equal(se->door[DOOR_SUBMISSION].messages[0], last % 7 + 1);
    for (size_t j = 1; j < WATCH_SERIES_MINUTES; j++)
        assert_int_equal(se->door[DOOR_SUBMISSION].messages[j], 0);
    /* 24 hours after its minute, the last slot has expired too. */
    fake_now += 1;
    se = read_series(ww);
    for (size_t j = 0; j < WATCH_SERIES_MINUTES; j++) {
        assert_int_equal(se->door[DOOR_SUBMISSION].messages[j], 0);
        assert_int_equal(se->door[DOOR_SUBMISSION].refusals[j], 0);
    }
    /* Each value in its own array, each door its own. */
    {
        struct watch_event conn = ev_at(WATCH_CONNECT, DOOR_INBOUND, AF_INET, v4);
        struct watch_event authf = ev_at(WATCH_AUTH, DOOR_SUBMISSIONS, AF_INET, v4);

        conn.connect = WATCH_CONNECT_DENIED;
        authf.auth = WATCH_AUTH_FAILURE;
        watch_window_add(ww, &conn);
        watch_window_add(ww, &authf);
        watch_window_add(ww, &authf);
        reply(ww, DOOR_INTERNAL, v4, 421);
        message(ww, DOOR_SUBMISSION, AF_INET, v4);
        se = read_series(ww);
        assert_int_equal(se->door[DOOR_INBOUND].connections[WATCH_SERIES_MINUTES - 1], 1);
        assert_int_equal(se->door[DOOR_SUBMISSIONS].auth_failures[WATCH_SERIES_MINUTES - 1], 2);
        assert_int_equal(se->door[DOOR_INTERNAL].refusals[WATCH_SERIES_MINUTES - 1], 1);
        assert_int_equal(se->door[DOOR_SUBMISSION].messages[WATCH_SERIES_MINUTES - 1], 1);
        assert_int_equal(se->door[DOOR_INBOUND].messages[WATCH_SERIES_MINUTES - 1], 0);
        assert_int_equal(se->door[DOOR_SUBMISSIONS].connections[WATCH_SERIES_MINUTES - 1], 0);
    }
    watch_window_free(ww);
}

/* A clock jump of more than a day empties the day; a jump back counts in the newest minute. */
static void
test_day_jumps(void **state)
{
    const uint64_t minute = 60000, day = 1440 * minute;
    struct watch_window *ww = window(5 * day);
    struct watch_series *se;

    (void)state;
    for (int i = 0; i < 100; i++) {
        fake_now = 5 * day + (uint64_t)i * 15 * minute;
        message(ww, DOOR_INBOUND, AF_INET, v4);
    }
    se = read_series(ww);
    {
        uint64_t sum = 0;

        for (size_t j = 0; j < WATCH_SERIES_MINUTES; j++)
            sum += se->door[DOOR_INBOUND].messages[j];
        assert_int_equal(sum, 96); /* one every 15 minutes: 96 in a day */
    }
    fake_now += day + 1;
    se = read_series(ww);
    for (size_t j = 0; j < WATCH_SERIES_MINUTES; j++)
        assert_int_equal(se->door[DOOR_INBOUND].messages[j], 0);
    /* Far into the future (wrapping the ring many times): still empty, then counts anew. */
    fake_now += 1000 * day + 17 * minute;
    message(ww, DOOR_INBOUND, AF_INET, v4);
    se = read_series(ww);
    assert_int_equal(se->door[DOOR_INBOUND].messages[WATCH_SERIES_MINUTES - 1], 1);
    for (size_t j = 0; j + 1 < WATCH_SERIES_MINUTES; j++)
        assert_int_equal(se->door[DOOR_INBOUND].messages[j], 0);
    /* Back by ten minutes: counted in the newest minute, nothing lost or misplaced. */
    fake_now -= 10 * minute;
    message(ww, DOOR_INBOUND, AF_INET, v4);
    se = read_series(ww);
    assert_int_equal(se->door[DOOR_INBOUND].messages[WATCH_SERIES_MINUTES - 1], 2);
    assert_int_equal(se->door[DOOR_INBOUND].messages[WATCH_SERIES_MINUTES - 11], 0);
    watch_window_free(ww);
}

/* A clock younger than a day (just after boot): the minutes before its origin are zeros. */
static void
test_day_before_origin(void **state)
{
    struct watch_window *ww = window(0);
    struct watch_series *se;

    (void)state;
    message(ww, DOOR_INBOUND, AF_INET, v4);
    fake_now = 3 * 60000 + 5;
    message(ww, DOOR_INBOUND, AF_INET, v4);
    message(ww, DOOR_INBOUND, AF_INET, v4);
    se = read_series(ww);
    assert_int_equal(se->into_minute_ms, 5);
    assert_int_equal(se->door[DOOR_INBOUND].messages[WATCH_SERIES_MINUTES - 1], 2);
    assert_int_equal(se->door[DOOR_INBOUND].messages[WATCH_SERIES_MINUTES - 4], 1);
    for (size_t j = 0; j < WATCH_SERIES_MINUTES - 4; j++)
        assert_int_equal(se->door[DOOR_INBOUND].messages[j], 0);
    watch_window_free(ww);
    /* No watcher: all zero. */
    memset(se, 0xa5, sizeof(*se));
    watch_series(NULL, se);
    assert_int_equal(se->into_minute_ms, 0);
    assert_int_equal(se->door[DOOR_SUBMISSIONS].auth_failures[WATCH_SERIES_MINUTES - 1], 0);
}

/* A slot saturates at UINT32_MAX; the totals since start stay exact. */
static void
test_day_saturates(void **state)
{
    struct watch_window *ww = window(123456789);
    struct watch_event ev = ev_at(WATCH_MESSAGE, DOOR_INTERNAL, AF_INET, v4);
    struct watch_series *se;
    struct watch_status st;

    (void)state;
    watch_window_add_n(ww, &ev, UINT32_MAX - 2);
    se = read_series(ww);
    assert_int_equal(se->door[DOOR_INTERNAL].messages[WATCH_SERIES_MINUTES - 1], UINT32_MAX - 2);
    watch_window_add_n(ww, &ev, 5);
    watch_window_add(ww, &ev);
    se = read_series(ww);
    assert_int_equal(se->door[DOOR_INTERNAL].messages[WATCH_SERIES_MINUTES - 1], UINT32_MAX);
    st = read_status(ww);
    assert_int_equal(st.door[DOOR_INTERNAL].span[WATCH_SPAN_START].messages,
                     (uint64_t)UINT32_MAX + 4);
    assert_int_equal(st.door[DOOR_INTERNAL].span[WATCH_SPAN_HOUR].messages, UINT32_MAX);
    /* The next minute starts from nothing. */
    fake_now += 60000;
    watch_window_add(ww, &ev);
    se = read_series(ww);
    assert_int_equal(se->door[DOOR_INTERNAL].messages[WATCH_SERIES_MINUTES - 1], 1);
    assert_int_equal(se->door[DOOR_INTERNAL].messages[WATCH_SERIES_MINUTES - 2], UINT32_MAX);
    watch_window_free(ww);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_what_counts),
        cmocka_unit_test(test_minute_rolls),
        cmocka_unit_test(test_hour_rolls),
        cmocka_unit_test(test_deliveries_roll),
        cmocka_unit_test(test_top_clients),
        cmocka_unit_test(test_flood_keeps_heavy_hitters),
        cmocka_unit_test(test_newcomer_during_flood),
        cmocka_unit_test(test_day_series),
        cmocka_unit_test(test_day_jumps),
        cmocka_unit_test(test_day_before_origin),
        cmocka_unit_test(test_day_saturates),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
