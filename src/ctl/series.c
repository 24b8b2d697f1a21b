/* SPDX-License-Identifier: MIT */
/*
 * "series-json" in the daemon (series.h): the watcher's day series
 * (watch_series) as one compact JSON line. Written by hand rather than
 * with jansson: it holds only our door names and 23040 integers, and
 * building as many JSON nodes on the loop for each question is waste.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <event2/buffer.h>

#include "conf/conf.h"
#include "ctl/series.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* One series as a JSON array: at most 11 octets a count ("4294967295,"), and the brackets. */
static void
put_array(struct evbuffer *out, const char *name, const uint32_t *v)
{
    char text[WATCH_SERIES_MINUTES * 11 + 2];
    size_t len = 0;

    text[len++] = '[';
    for (size_t i = 0; i < WATCH_SERIES_MINUTES; i++) {
        char digits[10];
        size_t n = 0;
        uint32_t x = v[i];

        if (i > 0)
            text[len++] = ',';
        do {
            digits[n++] = (char)('0' + x % 10);
            x /= 10;
        } while (x != 0);
        while (n > 0)
            text[len++] = digits[--n];
    }
    text[len++] = ']';
    (void)evbuffer_add_printf(out, "\"%s\":", name);
    (void)evbuffer_add(out, text, len);
}

void
ctl_series_doc(const struct watch_series *se, int64_t now_ms, struct evbuffer *out)
{
    int64_t start = now_ms - (int64_t)(se->into_minute_ms % 60000);

    /* Floor division: the epoch's milliseconds are never negative here, but be exact. */
    (void)evbuffer_add_printf(out, "{\"time\":%lld,\"minute\":%lld,\"doors\":{",
                              (long long)(now_ms >= 0 ? now_ms / 1000 : -((999 - now_ms) / 1000)),
                              (long long)(start >= 0 ? start / 1000 : -((999 - start) / 1000)));
    for (int d = 0; d < DOOR_ROLE_COUNT; d++) {
        const struct watch_door_series *s = &se->door[d];

        (void)evbuffer_add_printf(out, "%s\"%s\":{", d > 0 ? "," : "",
                                  conf_role_name((enum door_role)d));
        put_array(out, "connections", s->connections);
        (void)evbuffer_add(out, ",", 1);
        put_array(out, "messages", s->messages);
        (void)evbuffer_add(out, ",", 1);
        put_array(out, "refusals", s->refusals);
        (void)evbuffer_add(out, ",", 1);
        put_array(out, "auth_failures", s->auth_failures);
        (void)evbuffer_add(out, "}", 1);
    }
    (void)evbuffer_add_printf(out, "}}\n");
}

void
ctl_series_answer(struct watch *w, struct evbuffer *out)
{
    struct watch_series *se = xmalloc(sizeof(*se));
    struct timespec ts;

    watch_series(w, se);
    if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
        log_panic("clock_gettime(CLOCK_REALTIME) failed");
    ctl_series_doc(se, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, out);
    free(se);
}
