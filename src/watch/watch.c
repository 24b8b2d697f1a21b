/* SPDX-License-Identifier: MIT */
/* The watcher (watch.h): one event, told to each of its parts. */
#include <stdlib.h>

#include "lib/xalloc.h"
#include "watch/watch_impl.h"

struct watch *
watch_new(struct event_base *base, struct conf *c)
{
    struct watch *w = xcalloc(1, sizeof(*w));

    w->base = base;
    w->conf = conf_ref(c);
    w->window = watch_window_new(NULL, NULL);
    watch_alerts_init(w);
    watch_scanners_init(w);
    return w;
}

void
watch_set_conf(struct watch *w, struct conf *c)
{
    struct conf *old;

    if (w == NULL)
        return;
    old = w->conf;
    w->conf = conf_ref(c);
    watch_alerts_set_conf(w); /* it matches the old rules by name: old lives until after */
    conf_unref(old);
}

void
watch_free(struct watch *w)
{
    if (w == NULL)
        return;
    watch_metrics_close(w);
    watch_alerts_clear(w);
    conf_unref(w->conf);
    watch_window_free(w->window);
    watch_scanners_clear(w);
    free(w);
}

void
watch_note(struct watch *w, const struct watch_event *ev)
{
    struct watch_event syn;

    if (w == NULL)
        return;
    if (ev->kind == WATCH_SCANNER &&
        (ev->scan == WATCH_SCAN_MIRAI || ev->scan == WATCH_SCAN_PLAIN)) {
        /* A SYN has no session: its door is the one listening on its port, if any. */
        syn = *ev;
        syn.door = watch_scanner_door(w, ev->port);
        ev = &syn;
    }
    watch_metrics_note(w, ev);
    watch_window_note(w, ev);
    watch_alert_note(w, ev);
    if (ev->kind == WATCH_SCANNER)
        watch_scanner_note(w, ev);
}
