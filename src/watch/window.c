/* SPDX-License-Identifier: MIT */
/* The window part of the watcher (watch_impl.h); see docs/watch.md. */
#include "watch/watch_impl.h"

void
watch_window_note(struct watch *w, const struct watch_event *ev)
{
    (void)w;
    (void)ev;
}
