/* SPDX-License-Identifier: MIT */
/*
 * Private to src/watch: the watcher object and how watch_note() hands an
 * event to each of its parts. Each part owns its file and its state:
 * metrics.c (the Prometheus families), window.c (`gate26 status`), alert.c
 * (the rules, their actions and the hold).
 */
#ifndef GATE26_WATCH_WATCH_IMPL_H
#define GATE26_WATCH_WATCH_IMPL_H

#include "watch/watch.h"

struct event_base;
struct watch_window;
struct watch_http;
struct watch_alerts;
struct scanner_table;

struct watch {
    struct event_base *base;
    struct conf *conf;           /* the running configuration (a reference) */
    struct watch_window *window; /* `gate26 status`: window.c */
    struct watch_http *http;     /* the metrics endpoint (http.c); NULL until prepared */
    struct watch_alerts *alerts; /* alert.c's: the rules at work, their actions */
    /* scanner.c's: the scanner table, the blocker, the overall cap on its log lines */
    struct scanner_table *scanners;
    watch_block_fn *blocker;
    void *blocker_arg;
    time_t (*wall)(void);      /* seconds since the epoch: time(NULL) when NULL (tests set it) */
    watch_capture_fn *capture; /* watch_set_capture()'s; NULL: none */
    void *capture_arg;
    time_t scan_log_minute;
    unsigned scan_log_lines;
    uint64_t scan_log_suppressed;
};

/* Each part's share of watch_note(). */
void watch_metrics_note(struct watch *w, const struct watch_event *ev);
void watch_window_note(struct watch *w, const struct watch_event *ev);
void watch_alert_note(struct watch *w, const struct watch_event *ev);
void watch_scanner_note(struct watch *w, const struct watch_event *ev);

/* scanner.c: made with the watcher, freed with it. */
void watch_scanners_init(struct watch *w);
void watch_scanners_clear(struct watch *w);

/* The door listening on port in the running configuration; DOOR_ROLE_COUNT: none. */
enum door_role watch_scanner_door(const struct watch *w, unsigned port);

/*
 * The window part (window.c): the counts of `gate26 status`, in memory of
 * a fixed size made at once; no event allocates.
 */

/* Milliseconds from a fixed origin, never going back: now_ms(), or a test's clock. */
typedef uint64_t watch_clock_fn(void);

/*
 * The windows, keyed by seed (16 octets; NULL: from getrandom) and timed
 * by clock (NULL: now_ms). Free with watch_window_free (NULL: nothing).
 */
struct watch_window *watch_window_new(const unsigned char *seed, watch_clock_fn *clock);
void watch_window_free(struct watch_window *ww);

/* Counts ev (watch_window_note without a watcher). */
void watch_window_add(struct watch_window *ww, const struct watch_event *ev);

/* The counts as of now into out (hostname and listening are left as they are). */
void watch_window_read(struct watch_window *ww, struct watch_status *out);

/* The day's per-minute counts as of now into out (watch_series). */
void watch_window_series(struct watch_window *ww, struct watch_series *out);

/*
 * Counts ev n times at once (watch_window_add is n = 1): the unit tests
 * reach a slot's saturation with it.
 */
void watch_window_add_n(struct watch_window *ww, const struct watch_event *ev, uint32_t n);

/* How many clients door's table holds now, and how many it can (for the tests). */
size_t watch_window_clients(const struct watch_window *ww, enum door_role door, size_t *cap);
/* alert.c: made with the watcher (w->conf set), told of reloads, freed with it. */
void watch_alerts_init(struct watch *w);
void watch_alerts_set_conf(struct watch *w);
void watch_alerts_clear(struct watch *w);

#endif
