/* SPDX-License-Identifier: MIT */
/*
 * The overview (GET /, admins; docs/console.md, "Overview"): per door the
 * counts of the last minute, the last hour and since start, and two charts
 * of the counts per minute (the last hour, the last 24 hours) drawn here as
 * SVG (chart.c); the queue and the alerts firing. Two questions to the
 * daemon on its control socket: "status-json" (the counts, the queue, the
 * alerts) and "series-json" (the minutes). Either may fail (the daemon
 * stopped, too slow, an older daemon): the page then says why and shows
 * what it has. The page loads itself again every OVERVIEW_REFRESH_S
 * seconds (a meta refresh: no script), unless asked "/?refresh=0".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "conf/conf.h"
#include "console/chart.h"
#include "console/console_impl.h"
#include "lib/xalloc.h"
#include "watch/watch.h"

#define OVERVIEW_REFRESH_S 10

/* The alerts listed at most (the status document holds up to 1000). */
#define OVERVIEW_ALERTS_MAX 500

/* The four counts of a door: the documents' keys, the table's words, the charts' colours. */
static const struct {
    const char *key, *label, *colour;
} values[] = {
    {"connections", "Connections", "#1f77b4"},
    {"messages", "Messages", "#2ca02c"},
    {"refusals", "Refusals", "#d62728"},
    {"auth_failures", "AUTH failures", "#ff7f0e"},
};
#define N_VALUES (sizeof values / sizeof values[0])

static const struct {
    const char *key, *label;
} spans[] = {
    {"last_minute", "Last minute"},
    {"last_hour", "Last hour"},
    {"since_start", "Since start"},
};

/* One door's minutes, as the charts take them. */
struct door_minutes {
    uint64_t v[N_VALUES][WATCH_SERIES_MINUTES];
};

/* A count of a document: a non-negative integer, else 0 (the page trusts nothing it reads). */
static json_int_t
count_of(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : 0;
}

/*
 * The door's minutes of the series document into out: each of the four an
 * array of exactly WATCH_SERIES_MINUTES non-negative integers. Returns 0,
 * or -1 when the document is not that.
 */
static int
door_minutes(const json_t *door, struct door_minutes *out)
{
    for (size_t k = 0; k < N_VALUES; k++) {
        const json_t *arr = json_object_get(door, values[k].key);

        if (!json_is_array(arr) || json_array_size(arr) != WATCH_SERIES_MINUTES)
            return -1;
        for (size_t i = 0; i < WATCH_SERIES_MINUTES; i++) {
            const json_t *x = json_array_get(arr, i);

            if (!json_is_integer(x) || json_integer_value(x) < 0)
                return -1;
            out->v[k][i] = (uint64_t)json_integer_value(x);
        }
    }
    return 0;
}

static bool
has_traffic(const struct door_minutes *m)
{
    for (size_t k = 0; k < N_VALUES; k++)
        for (size_t i = 0; i < WATCH_SERIES_MINUTES; i++)
            if (m->v[k][i] != 0)
                return true;
    return false;
}

/* The door's table: each span's four counts, from the status document. */
static void
door_table(struct evbuffer *b, const char *name, const json_t *door)
{
    evbuffer_add_printf(b, "<table id=\"counts-");
    web_escapez(b, name);
    evbuffer_add_printf(b, "\" class=\"counts\"><tr><th></th>");
    for (size_t k = 0; k < N_VALUES; k++)
        evbuffer_add_printf(b, "<th>%s</th>", values[k].label);
    evbuffer_add_printf(b, "</tr>\n");
    for (size_t s = 0; s < sizeof spans / sizeof spans[0]; s++) {
        const json_t *span = json_object_get(door, spans[s].key);

        evbuffer_add_printf(b, "<tr><th>%s</th>", spans[s].label);
        for (size_t k = 0; k < N_VALUES; k++) {
            evbuffer_add_printf(b, "<td id=\"");
            web_escapez(b, name);
            evbuffer_add_printf(b, "-%s-%s\">%" JSON_INTEGER_FORMAT "</td>", spans[s].key,
                                values[k].key, count_of(json_object_get(span, values[k].key)));
        }
        evbuffer_add_printf(b, "</tr>\n");
    }
    evbuffer_add_printf(b, "</table>\n<p>Sessions open: <span id=\"");
    web_escapez(b, name);
    evbuffer_add_printf(b, "-sessions\">%" JSON_INTEGER_FORMAT "</span></p>\n",
                        count_of(json_object_get(door, "sessions_open")));
}

/* One chart of the door's last n minutes (the end of its day). */
static void
door_chart(struct evbuffer *b, const char *name, const struct door_minutes *m, size_t n,
           const char *span, const char *words, const char *from, const char *middle)
{
    char id[64], title[96];
    struct chart c = {.id = id, .title = title, .from = from, .middle = middle, .to = "now"};

    (void)snprintf(id, sizeof id, "chart-%s-%s", name, span);
    (void)snprintf(title, sizeof title, "%s: per minute, %s", name, words);
    c.n = n;
    c.n_series = N_VALUES;
    for (size_t k = 0; k < N_VALUES; k++)
        c.series[k] = (struct chart_series){values[k].key, values[k].colour,
                                            m->v[k] + (WATCH_SERIES_MINUTES - n)};
    chart_svg(b, &c);
}

/* The doors: each one listening, or with traffic in its day, gets its table and its charts. */
static void
doors_part(struct evbuffer *b, const json_t *status, const json_t *series, const char *series_why)
{
    struct door_minutes *m = xmalloc(sizeof(*m));
    const json_t *sdoors = json_object_get(status, "doors");
    const json_t *mdoors = json_object_get(series, "doors");
    char when[64];

    evbuffer_add_printf(b, "<h2>Doors</h2>\n");
    if (series == NULL) {
        evbuffer_add_printf(b, "<p class=\"error\" id=\"series-error\">No charts: ");
        web_escapez(b, series_why);
        evbuffer_add_printf(b, "</p>\n");
    } else {
        fmt_time(when, sizeof when, count_of(json_object_get(series, "minute")));
        evbuffer_add_printf(b, "<p id=\"series-minute\">Counts per minute; the newest minute "
                               "began at ");
        web_escapez(b, when);
        evbuffer_add_printf(b, ".</p>\n");
    }
    for (int d = 0; d < DOOR_ROLE_COUNT; d++) {
        const char *name = conf_role_name((enum door_role)d);
        const json_t *sdoor = json_object_get(sdoors, name), *mdoor = json_object_get(mdoors, name);
        bool listening = json_is_true(json_object_get(sdoor, "listening"));
        int got = mdoor != NULL ? door_minutes(mdoor, m) : -1;

        if (!listening && (got == -1 || !has_traffic(m)))
            continue;
        evbuffer_add_printf(b, "<section class=\"door\" id=\"door-");
        web_escapez(b, name);
        evbuffer_add_printf(b, "\"><h3>");
        web_escapez(b, name);
        evbuffer_add_printf(b, "%s</h3>\n", listening ? "" : " (not listening now)");
        if (sdoor != NULL)
            door_table(b, name, sdoor);
        if (series != NULL && got == -1) {
            evbuffer_add_printf(b, "<p class=\"error\">The daemon's series of this door is not "
                                   "1440 counts per value.</p>\n");
        } else if (got == 0) {
            evbuffer_add_printf(b, "<div class=\"charts\">\n");
            door_chart(b, name, m, 60, "hour", "the last hour", "-60 min", "-30 min");
            door_chart(b, name, m, WATCH_SERIES_MINUTES, "day", "the last 24 hours", "-24 h",
                       "-12 h");
            evbuffer_add_printf(b, "</div>\n");
        }
        evbuffer_add_printf(b, "</section>\n");
    }
    free(m);
}

/* The queue and the alerts firing, from the status document. */
static void
daemon_part(struct evbuffer *b, const json_t *doc)
{
    const json_t *queue = json_object_get(doc, "queue"), *alerts = json_object_get(doc, "alerts");
    size_t i;
    const json_t *a;
    char since[64];

    evbuffer_add_printf(
        b,
        "<table id=\"status\"><tr><th>Queue</th><th>Deferred</th><th>Held</th><th>Alerts "
        "firing</th></tr>\n<tr><td id=\"queue\">%" JSON_INTEGER_FORMAT
        "</td><td id=\"deferred\">%" JSON_INTEGER_FORMAT
        "</td><td id=\"held\">%" JSON_INTEGER_FORMAT "</td><td id=\"alerts\">%" JSON_INTEGER_FORMAT
        "</td></tr></table>\n",
        count_of(json_object_get(queue, "messages")), count_of(json_object_get(queue, "deferred")),
        count_of(json_object_get(queue, "held")), count_of(json_object_get(doc, "alerts_firing")));
    if (!json_is_array(alerts) || json_array_size(alerts) == 0)
        return;
    evbuffer_add_printf(b, "<table id=\"alerts-firing\"><tr><th>Rule</th><th>When</th><th>Key"
                           "</th><th>Value</th><th>Threshold</th><th>Since</th></tr>\n");
    json_array_foreach(alerts, i, a)
    {
        if (i >= OVERVIEW_ALERTS_MAX)
            break;
        evbuffer_add_printf(b, "<tr><td>");
        web_escapez(b, json_string_value(json_object_get(a, "rule")));
        evbuffer_add_printf(b, "</td><td>");
        web_escapez(b, json_string_value(json_object_get(a, "when")));
        evbuffer_add_printf(b, "</td><td>");
        web_escapez(b, json_string_value(json_object_get(a, "key")));
        /* A value may be negative (seconds past a certificate's notAfter). */
        fmt_time(since, sizeof since, count_of(json_object_get(a, "since")));
        evbuffer_add_printf(
            b, "</td><td>%" JSON_INTEGER_FORMAT "</td><td>%" JSON_INTEGER_FORMAT "</td><td>",
            json_integer_value(json_object_get(a, "value")),
            count_of(json_object_get(a, "threshold")));
        web_escapez(b, since);
        evbuffer_add_printf(b, "</td></tr>\n");
    }
    evbuffer_add_printf(b, "</table>\n");
    if (json_array_size(alerts) > OVERVIEW_ALERTS_MAX)
        evbuffer_add_printf(b,
                            "<p id=\"alerts-more\">The first %d are listed; the Alerts page "
                            "has them all.</p>\n",
                            OVERVIEW_ALERTS_MAX);
}

void
overview_page(struct req *q)
{
    const char *refresh = query_field(q, "refresh");
    struct evbuffer *b;
    char why[512], series_why[512];
    json_t *doc, *series;
    bool live;

    /* "0" stops the refresh, "10" (the default) keeps it; nothing else is a choice. */
    if (refresh != NULL && strcmp(refresh, "0") != 0 && strcmp(refresh, "10") != 0) {
        send_error(q, 400, "Bad Request", "refresh must be 0 (off) or 10 (every 10 s)");
        return;
    }
    live = refresh == NULL || strcmp(refresh, "0") != 0;
    b = evbuffer_new();
    page_begin_refresh(b, "Overview", q->s, live ? OVERVIEW_REFRESH_S : 0);
    if (live)
        evbuffer_add_printf(b,
                            "<p id=\"live\">Live: refreshes every %d s. <a id=\"refresh-off\" "
                            "href=\"/?refresh=0\">Stop refreshing</a></p>\n",
                            OVERVIEW_REFRESH_S);
    else
        evbuffer_add_printf(b,
                            "<p id=\"live\">Not refreshing. <a id=\"refresh-on\" href=\"/\">"
                            "Refresh every %d s</a></p>\n",
                            OVERVIEW_REFRESH_S);
    evbuffer_add_printf(b, "<h2>Daemon</h2>\n");
    doc = console_ctl_json(q, "status-json\n", "status", why, sizeof why);
    if (doc == NULL) {
        evbuffer_add_printf(b, "<p class=\"error\" id=\"status-error\">");
        web_escapez(b, why);
        evbuffer_add_printf(b, "</p>\n");
    } else {
        daemon_part(b, doc);
    }
    series = console_ctl_json(q, "series-json\n", "series", series_why, sizeof series_why);
    doors_part(b, doc, series, series_why);
    json_decref(series);
    json_decref(doc);
    send_page(q, 200, "OK", b);
    evbuffer_free(b);
}
