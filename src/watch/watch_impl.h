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
struct watch_alerts;

struct watch {
    struct event_base *base;
    struct conf *conf;           /* the running configuration (a reference) */
    struct watch_alerts *alerts; /* alert.c's: the rules at work, their actions */
};

/* Each part's share of watch_note(). */
void watch_metrics_note(struct watch *w, const struct watch_event *ev);
void watch_window_note(struct watch *w, const struct watch_event *ev);
void watch_alert_note(struct watch *w, const struct watch_event *ev);

/* alert.c: made with the watcher (w->conf set), told of reloads, freed with it. */
void watch_alerts_init(struct watch *w);
void watch_alerts_set_conf(struct watch *w);
void watch_alerts_clear(struct watch *w);

#endif
