/* SPDX-License-Identifier: MIT */
/*
 * The window part of the watcher (watch_impl.h): what `gate26 status`
 * shows, counted as the events come (docs/watch.md, "gate26 status").
 *
 * Per door, four counts (connections, messages, refusals, AUTH failures)
 * and per delivery outcome one, each three ways: a ring of 60 one-second
 * slots (the last minute), a ring of 60 one-minute slots (the last hour)
 * and a total since start. A ring keeps the sum of its slots, so that a
 * read is a roll and a copy; a roll empties the slots of the seconds (or
 * minutes) that passed, at most as many as the ring has. The doors' four
 * counts have a fourth ring, of 1440 one-minute slots (the last 24 hours),
 * that the console draws (watch_series, `series-json`); a slot saturates
 * at UINT32_MAX.
 *
 * Per door, the clients of the last hour (messages and refusals; an IPv6
 * client is its /64, as the limits count them) live in a table of fixed
 * size, WINDOW_SETS sets of WINDOW_WAYS entries, the set chosen by SipHash
 * of the address under a secret seed, so that nobody can aim addresses at
 * one set. A client not in its set takes an empty or expired entry, else
 * the one with the least weight over the last hour (messages + refusals),
 * the least recently seen of those. A flood of new addresses then pushes
 * out only entries as light as its own (weight 1) while the heavy hitters
 * stay, with their counts exact; a client pushed out and back starts
 * again from nothing (its count is then low, never high). Nothing is
 * allocated after watch_window_new().
 *
 * Time is the clock's (now_ms: monotonic), in whole seconds and minutes
 * since its origin.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/now.h"
#include "lib/siphash.h"
#include "lib/xalloc.h"
#include "watch/watch_impl.h"

#define RING_SLOTS 60
#define DAY_SLOTS  WATCH_SERIES_MINUTES

/* The values of a door's rings. */
enum { V_CONNECTIONS, V_MESSAGES, V_REFUSALS, V_AUTH_FAILURES, V_DOOR };

/* The values of a client's ring. */
enum { C_MESSAGES, C_REFUSALS, V_CLIENT };

/* 256 clients per door. */
#define WINDOW_SETS 16
#define WINDOW_WAYS 16

/* A ring of RING_SLOTS slots of V_DOOR values (deliveries use WATCH_DELIVERY_COUNT of them). */
struct ring {
    uint64_t last; /* the unit (second or minute) of the newest slot */
    uint64_t sum[V_DOOR];
    uint32_t slot[RING_SLOTS][V_DOOR];
};

/* The same, of DAY_SLOTS slots: a door's last 24 hours. */
struct day_ring {
    uint64_t last; /* the minute of the newest slot */
    uint64_t sum[V_DOOR];
    uint32_t slot[DAY_SLOTS][V_DOOR];
};

struct window_client {
    bool used;
    unsigned char key[17]; /* family (4 or 6), then the address or the /64, zero-padded */
    uint64_t seen;         /* the window's event number of its last event */
    uint64_t last;         /* the minute of the newest slot */
    uint64_t sum[V_CLIENT];
    uint32_t slot[RING_SLOTS][V_CLIENT];
};

struct window_door {
    uint64_t open;
    uint64_t total[V_DOOR];
    struct ring seconds, minutes;
    struct day_ring day;
    struct window_client clients[WINDOW_SETS * WINDOW_WAYS];
};

struct watch_window {
    unsigned char seed[16];
    watch_clock_fn *clock;
    uint64_t start;  /* clock at watch_window_new */
    uint64_t events; /* client events so far: the order in which clients were seen */
    struct window_door door[DOOR_ROLE_COUNT];
    uint64_t delivered[WATCH_DELIVERY_COUNT];
    struct ring delivery_seconds, delivery_minutes;
};

_Static_assert((int)WATCH_DELIVERY_COUNT <= (int)V_DOOR, "a delivery ring holds every outcome");

/*
 * Moves a ring of slots slots of width values each to unit: the slots of
 * the units since its last are emptied and taken out of its sums (all of
 * them after a silence as long as the ring). A unit before the last (a
 * clock that went back) leaves it where it is.
 */
static void
ring_roll(uint64_t *last, uint64_t *sum, uint32_t *slot, unsigned width, unsigned slots,
          uint64_t unit)
{
    uint64_t n;

    if (unit <= *last)
        return;
    n = unit - *last < slots ? unit - *last : slots;
    for (uint64_t u = unit - n + 1; u <= unit; u++) {
        uint32_t *s = slot + (size_t)(u % slots) * width;

        for (unsigned k = 0; k < width; k++) {
            sum[k] -= s[k];
            s[k] = 0;
        }
    }
    *last = unit;
}

/* Adds n to value k of the ring at unit (at its last, if unit is older); a slot saturates. */
static void
ring_add(uint64_t *last, uint64_t *sum, uint32_t *slot, unsigned width, unsigned slots,
         uint64_t unit, unsigned k, uint32_t n)
{
    uint32_t *s;

    ring_roll(last, sum, slot, width, slots, unit);
    s = slot + (size_t)(*last % slots) * width + k;
    if (n > UINT32_MAX - *s)
        n = UINT32_MAX - *s;
    *s += n;
    sum[k] += n;
}

static void
door_ring_add(struct ring *r, uint64_t unit, unsigned k, uint32_t n)
{
    ring_add(&r->last, r->sum, &r->slot[0][0], V_DOOR, RING_SLOTS, unit, k, n);
}

static void
door_ring_roll(struct ring *r, uint64_t unit)
{
    ring_roll(&r->last, r->sum, &r->slot[0][0], V_DOOR, RING_SLOTS, unit);
}

static void
day_ring_add(struct day_ring *r, uint64_t minute, unsigned k, uint32_t n)
{
    ring_add(&r->last, r->sum, &r->slot[0][0], V_DOOR, DAY_SLOTS, minute, k, n);
}

/* The client's table key: IPv4 (also IPv4-mapped IPv6) as itself, IPv6 as its /64. */
static bool
client_key(int family, const unsigned char *addr, unsigned char key[17])
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    memset(key, 0, 17);
    if (addr == NULL)
        return false;
    if (family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, addr, 4);
    } else if (family == AF_INET6 && memcmp(addr, mapped, sizeof mapped) == 0) {
        key[0] = 4;
        memcpy(key + 1, addr + 12, 4);
    } else if (family == AF_INET6) {
        key[0] = 6;
        memcpy(key + 1, addr, 8);
    } else {
        return false;
    }
    return true;
}

/* The client's weight over the hour (rolled to minute first). */
static uint64_t
client_weight(struct window_client *c, uint64_t minute)
{
    ring_roll(&c->last, c->sum, &c->slot[0][0], V_CLIENT, RING_SLOTS, minute);
    return c->sum[C_MESSAGES] + c->sum[C_REFUSALS];
}

/*
 * The entry of key in door's table: found, or made in place of an empty
 * entry of its set, else of the lightest (the least recently seen of
 * those).
 */
static struct window_client *
client_get(struct watch_window *ww, struct window_door *d, const unsigned char key[17],
           uint64_t minute)
{
    size_t set = (size_t)(siphash24(ww->seed, key, 17) % WINDOW_SETS);
    struct window_client *ways = &d->clients[set * WINDOW_WAYS], *empty = NULL, *light = NULL;
    uint64_t light_weight = 0;

    for (size_t i = 0; i < WINDOW_WAYS; i++) {
        struct window_client *c = &ways[i];
        uint64_t weight;

        if (!c->used) {
            if (empty == NULL)
                empty = c;
            continue;
        }
        if (memcmp(c->key, key, 17) == 0)
            return c;
        weight = client_weight(c, minute);
        if (light == NULL || weight < light_weight ||
            (weight == light_weight && c->seen < light->seen)) {
            light = c;
            light_weight = weight;
        }
    }
    if (empty == NULL)
        empty = light;
    memset(empty, 0, sizeof(*empty));
    empty->used = true;
    memcpy(empty->key, key, 17);
    empty->last = minute;
    return empty;
}

static void
client_add(struct watch_window *ww, const struct watch_event *ev, unsigned k, uint64_t now,
           uint32_t n)
{
    unsigned char key[17];
    struct window_client *c;
    uint64_t minute = now / 60000;

    if (!client_key(ev->family, ev->addr, key))
        return;
    c = client_get(ww, &ww->door[ev->door], key, minute);
    c->seen = ++ww->events;
    ring_add(&c->last, c->sum, &c->slot[0][0], V_CLIENT, RING_SLOTS, minute, k, n);
}

/* Random octets for the seed; a weaker seed (logged) only before the kernel's pool is ready. */
static void
window_seed(unsigned char seed[16])
{
    struct timespec ts;

    if (getrandom(seed, 16, GRND_NONBLOCK) == 16)
        return;
    log_warning("-: event=getrandom, error=\"%s\", note=\"status client table hashed with a "
                "weaker seed\"",
                strerror(errno));
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    memcpy(seed, &ts, 16 < sizeof ts ? 16 : sizeof ts);
    seed[0] ^= (unsigned char)getpid();
}

struct watch_window *
watch_window_new(const unsigned char *seed, watch_clock_fn *clock)
{
    struct watch_window *ww = xcalloc(1, sizeof(*ww));

    if (seed != NULL)
        memcpy(ww->seed, seed, sizeof(ww->seed));
    else
        window_seed(ww->seed);
    ww->clock = clock != NULL ? clock : now_ms;
    ww->start = ww->clock();
    return ww;
}

void
watch_window_free(struct watch_window *ww)
{
    free(ww);
}

/* n counts of door d at now (ms). */
static void
door_count(struct window_door *d, unsigned k, uint64_t now, uint32_t n)
{
    d->total[k] += n;
    door_ring_add(&d->seconds, now / 1000, k, n);
    door_ring_add(&d->minutes, now / 60000, k, n);
    day_ring_add(&d->day, now / 60000, k, n);
}

void
watch_window_add(struct watch_window *ww, const struct watch_event *ev)
{
    watch_window_add_n(ww, ev, 1);
}

void
watch_window_add_n(struct watch_window *ww, const struct watch_event *ev, uint32_t n)
{
    uint64_t now;
    struct window_door *d;

    if (ww == NULL)
        return;
    now = ww->clock();
    if (ev->kind == WATCH_DELIVERY) {
        if ((unsigned)ev->delivery >= WATCH_DELIVERY_COUNT)
            return;
        ww->delivered[ev->delivery] += n;
        door_ring_add(&ww->delivery_seconds, now / 1000, ev->delivery, n);
        door_ring_add(&ww->delivery_minutes, now / 60000, ev->delivery, n);
        return;
    }
    if ((unsigned)ev->door >= DOOR_ROLE_COUNT)
        return;
    d = &ww->door[ev->door];
    switch (ev->kind) {
    case WATCH_CONNECT:
        /* A session ended by a lockout was counted when it was accepted. */
        if (ev->connect == WATCH_CONNECT_LOCKOUT)
            break;
        door_count(d, V_CONNECTIONS, now, n);
        if (ev->connect == WATCH_CONNECT_ACCEPTED)
            d->open += n;
        break;
    case WATCH_CLOSE:
        d->open -= d->open < n ? d->open : n;
        break;
    case WATCH_REPLY:
        if (ev->code >= 400 && ev->code <= 599) {
            door_count(d, V_REFUSALS, now, n);
            client_add(ww, ev, C_REFUSALS, now, n);
        }
        break;
    case WATCH_MESSAGE:
        door_count(d, V_MESSAGES, now, n);
        client_add(ww, ev, C_MESSAGES, now, n);
        break;
    case WATCH_AUTH:
        if (ev->auth == WATCH_AUTH_FAILURE)
            door_count(d, V_AUTH_FAILURES, now, n);
        break;
    default:
        break;
    }
}

void
watch_window_note(struct watch *w, const struct watch_event *ev)
{
    watch_window_add(w->window, ev);
}

static void
counts_from(struct watch_counts *out, const uint64_t *v)
{
    out->connections = v[V_CONNECTIONS];
    out->messages = v[V_MESSAGES];
    out->refusals = v[V_REFUSALS];
    out->auth_failures = v[V_AUTH_FAILURES];
}

/* Busier first: messages + refusals, then messages, then the key, so that the order is stable. */
static bool
is_busier(const struct watch_client_count *a, const unsigned char *akey,
          const struct watch_client_count *b, const unsigned char *bkey)
{
    uint64_t wa = a->messages + a->refusals, wb = b->messages + b->refusals;

    if (wa != wb)
        return wa > wb;
    if (a->messages != b->messages)
        return a->messages > b->messages;
    return memcmp(akey, bkey, 17) < 0;
}

/* The WATCH_TOP_CLIENTS busiest clients of d over the hour ending at minute. */
static void
door_top(struct window_door *d, uint64_t minute, struct watch_door_status *out)
{
    unsigned char keys[WATCH_TOP_CLIENTS][17];

    out->n_top = 0;
    for (size_t i = 0; i < WINDOW_SETS * WINDOW_WAYS; i++) {
        struct window_client *c = &d->clients[i];
        struct watch_client_count cc;
        size_t at;

        if (!c->used || client_weight(c, minute) == 0)
            continue;
        memset(&cc, 0, sizeof(cc));
        cc.family = c->key[0] == 4 ? AF_INET : AF_INET6;
        memcpy(cc.addr, c->key + 1, 16);
        cc.messages = c->sum[C_MESSAGES];
        cc.refusals = c->sum[C_REFUSALS];
        /* Insertion into the short sorted list. */
        at = out->n_top;
        while (at > 0 && is_busier(&cc, c->key, &out->top[at - 1], keys[at - 1]))
            at--;
        if (at >= WATCH_TOP_CLIENTS)
            continue;
        if (out->n_top < WATCH_TOP_CLIENTS)
            out->n_top++;
        memmove(&out->top[at + 1], &out->top[at], (out->n_top - 1 - at) * sizeof(out->top[0]));
        memmove(keys[at + 1], keys[at], (out->n_top - 1 - at) * sizeof(keys[0]));
        out->top[at] = cc;
        memcpy(keys[at], c->key, 17);
    }
}

void
watch_window_read(struct watch_window *ww, struct watch_status *out)
{
    uint64_t now = ww->clock(), second = now / 1000, minute = now / 60000;

    out->uptime_seconds = now >= ww->start ? (now - ww->start) / 1000 : 0;
    for (size_t i = 0; i < DOOR_ROLE_COUNT; i++) {
        struct window_door *d = &ww->door[i];
        struct watch_door_status *o = &out->door[i];

        door_ring_roll(&d->seconds, second);
        door_ring_roll(&d->minutes, minute);
        o->sessions_open = d->open;
        counts_from(&o->span[WATCH_SPAN_MINUTE], d->seconds.sum);
        counts_from(&o->span[WATCH_SPAN_HOUR], d->minutes.sum);
        counts_from(&o->span[WATCH_SPAN_START], d->total);
        door_top(d, minute, o);
    }
    door_ring_roll(&ww->delivery_seconds, second);
    door_ring_roll(&ww->delivery_minutes, minute);
    for (size_t k = 0; k < WATCH_DELIVERY_COUNT; k++) {
        out->deliveries[WATCH_SPAN_MINUTE][k] = ww->delivery_seconds.sum[k];
        out->deliveries[WATCH_SPAN_HOUR][k] = ww->delivery_minutes.sum[k];
        out->deliveries[WATCH_SPAN_START][k] = ww->delivered[k];
    }
}

void
watch_window_series(struct watch_window *ww, struct watch_series *out)
{
    uint64_t now = ww->clock(), minute = now / 60000;

    out->into_minute_ms = now % 60000;
    for (size_t i = 0; i < DOOR_ROLE_COUNT; i++) {
        struct day_ring *r = &ww->door[i].day;
        struct watch_door_series *o = &out->door[i];

        ring_roll(&r->last, r->sum, &r->slot[0][0], V_DOOR, DAY_SLOTS, minute);
        for (uint64_t j = 0; j < DAY_SLOTS; j++) {
            /* Entry j is minute - (DAY_SLOTS - 1 - j); before the clock's origin: nothing. */
            uint64_t back = DAY_SLOTS - 1 - j;
            const uint32_t *s;

            if (back > r->last) {
                o->connections[j] = o->messages[j] = o->refusals[j] = o->auth_failures[j] = 0;
                continue;
            }
            s = r->slot[(r->last - back) % DAY_SLOTS];
            o->connections[j] = s[V_CONNECTIONS];
            o->messages[j] = s[V_MESSAGES];
            o->refusals[j] = s[V_REFUSALS];
            o->auth_failures[j] = s[V_AUTH_FAILURES];
        }
    }
}

size_t
watch_window_clients(const struct watch_window *ww, enum door_role door, size_t *cap)
{
    size_t n = 0;

    for (size_t i = 0; i < WINDOW_SETS * WINDOW_WAYS; i++)
        n += ww->door[door].clients[i].used;
    if (cap != NULL)
        *cap = WINDOW_SETS * WINDOW_WAYS;
    return n;
}

void
watch_status(struct watch *w, struct watch_status *out)
{
    memset(out, 0, sizeof(*out));
    out->hostname = "";
    if (w == NULL)
        return;
    out->hostname = w->conf->hostname;
    for (size_t i = 0; i < w->conf->n_listens; i++)
        out->door[w->conf->listens[i].role].listening = true;
    watch_window_read(w->window, out);
}

void
watch_series(struct watch *w, struct watch_series *out)
{
    memset(out, 0, sizeof(*out));
    if (w == NULL)
        return;
    watch_window_series(w->window, out);
}
