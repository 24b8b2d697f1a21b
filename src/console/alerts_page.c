/* SPDX-License-Identifier: MIT */
/*
 * The alerts (GET /alerts, admins; docs/console.md, "Alerts"): the rules as
 * the daemon runs them, the keys firing now, and the history since the
 * daemon's start, from its alerts-json document. Every value is escaped.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "conf/conf.h"
#include "console/console_impl.h"

/* The most rows each table shows (the document holds at most 1000 of each). */
#define ALERTS_ROWS_MAX 500

/* An array of strings, comma-separated, the first after prefix (and a line break when after);
   true when it wrote one. */
static bool
cell_list(struct evbuffer *b, const json_t *arr, const char *prefix, bool after)
{
    size_t i;
    json_t *v;
    bool any = false;

    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v))
            continue;
        evbuffer_add_printf(b, "%s%s", any ? ", " : after ? "<br>" : "", any ? "" : prefix);
        web_escapez(b, json_string_value(v));
        any = true;
    }
    return any;
}

static void
rules_table(struct evbuffer *b, const json_t *rules)
{
    size_t i;
    json_t *r;

    static const char *const headers[] = {"Rule",  "When",  "Threshold", "Window (s)", "Per",
                                          "Doors", "Other", "Hold",      "Notify",     NULL};

    evbuffer_add_printf(b, "<h2>Rules</h2>\n");
    if (!page_table_open(b, "rules", json_array_size(rules), "No alert rules are configured.",
                         headers))
        return;
    json_array_foreach(rules, i, r)
    {
        const json_t *notify = json_object_get(r, "notify");
        static const char *const others[] = {"factor", "baseline", "age", "within"};
        bool any = false;

        if (i >= ALERTS_ROWS_MAX)
            break;
        evbuffer_add_printf(b, "<tr class=\"rule\">");
        page_cell(b, json_object_get(r, "name"));
        page_cell(b, json_object_get(r, "when"));
        page_cell(b, json_object_get(r, "threshold"));
        page_cell(b, json_object_get(r, "window"));
        page_cell(b, json_object_get(r, "per"));
        evbuffer_add_printf(b, "<td>");
        (void)cell_list(b, json_object_get(r, "doors"), "", false);
        evbuffer_add_printf(b, "</td><td>");
        for (size_t k = 0; k < sizeof others / sizeof others[0]; k++) {
            const json_t *v = json_object_get(r, others[k]);

            if (json_is_integer(v))
                evbuffer_add_printf(b, "%s%s %" JSON_INTEGER_FORMAT, any ? ", " : "", others[k],
                                    json_integer_value(v));
            else if (json_is_real(v))
                evbuffer_add_printf(b, "%s%s %g", any ? ", " : "", others[k], json_real_value(v));
            else
                continue;
            any = true;
        }
        evbuffer_add_printf(b, "</td>");
        page_cell(b, json_object_get(r, "hold"));
        evbuffer_add_printf(b, "<td>");
        any = cell_list(b, json_object_get(notify, "webhooks"), "webhook ", false);
        any |= cell_list(b, json_object_get(notify, "mails"), "mail ", any);
        (void)cell_list(b, json_object_get(notify, "execs"), "exec ", any);
        evbuffer_add_printf(b, "</td></tr>\n");
    }
    page_table_close(b, json_array_size(rules), ALERTS_ROWS_MAX);
}

static void
firing_table(struct evbuffer *b, const json_t *firing)
{
    size_t i;
    json_t *a;

    static const char *const headers[] = {"Rule",      "When",  "Key", "Value",
                                          "Threshold", "Since", NULL};

    evbuffer_add_printf(b, "<h2>Firing now</h2>\n");
    if (!page_table_open(b, "firing", json_array_size(firing), "Nothing is firing.", headers))
        return;
    json_array_foreach(firing, i, a)
    {
        if (i >= ALERTS_ROWS_MAX)
            break;
        evbuffer_add_printf(b, "<tr class=\"firing\">");
        page_cell(b, json_object_get(a, "rule"));
        page_cell(b, json_object_get(a, "when"));
        page_cell(b, json_object_get(a, "key"));
        page_cell(b, json_object_get(a, "value"));
        page_cell(b, json_object_get(a, "threshold"));
        page_cell_time(b, json_object_get(a, "since"));
        evbuffer_add_printf(b, "</tr>\n");
    }
    page_table_close(b, json_array_size(firing), ALERTS_ROWS_MAX);
}

static void
history_table(struct evbuffer *b, const json_t *history)
{
    static const char *const headers[] = {"Time",      "Rule",       "When",  "Key",  "Value",
                                          "Threshold", "Window (s)", "State", "Door", NULL};
    size_t i;
    json_t *e;

    evbuffer_add_printf(b, "<h2>History</h2>\n<p>The last firings and resolutions since the "
                           "daemon started, newest first (the log keeps every one).</p>\n");
    if (!page_table_open(b, "history", json_array_size(history), "None since the daemon started.",
                         headers))
        return;
    json_array_foreach(history, i, e)
    {
        const json_t *state = json_object_get(e, "state");

        if (i >= ALERTS_ROWS_MAX)
            break;
        evbuffer_add_printf(b, "<tr class=\"%s\">",
                            json_is_string(state) && strcmp(json_string_value(state), "firing") == 0
                                ? "fired"
                                : "resolved");
        page_cell_time(b, json_object_get(e, "time"));
        page_cell(b, json_object_get(e, "rule"));
        page_cell(b, json_object_get(e, "when"));
        page_cell(b, json_object_get(e, "key"));
        page_cell(b, json_object_get(e, "value"));
        page_cell(b, json_object_get(e, "threshold"));
        page_cell(b, json_object_get(e, "window"));
        page_cell(b, state);
        page_cell(b, json_object_get(e, "door"));
        evbuffer_add_printf(b, "</tr>\n");
    }
    page_table_close(b, json_array_size(history), ALERTS_ROWS_MAX);
}

void
alerts_page(struct req *q)
{
    struct evbuffer *b;
    char why[512];
    json_t *doc = console_ctl_json(q, "alerts-json\n", "alerts", why, sizeof why);

    if (doc == NULL) {
        send_error(q, 503, "Service Unavailable", why);
        return;
    }
    b = evbuffer_new();
    page_begin(b, "Alerts", q->s);
    rules_table(b, json_object_get(doc, "rules"));
    firing_table(b, json_object_get(doc, "firing"));
    if (json_is_true(json_object_get(doc, "firing_cut")))
        evbuffer_add_printf(b, "<p class=\"error\" id=\"firing-cut\">More keys fire than the "
                               "daemon lists: <code>gate26 status</code> counts them all.</p>\n");
    history_table(b, json_object_get(doc, "history"));
    if (json_is_true(json_object_get(doc, "history_cut")))
        evbuffer_add_printf(b, "<p id=\"history-cut\">Older entries were left out of the "
                               "daemon's answer; the log has every one.</p>\n");
    json_decref(doc);
    send_page(q, 200, "OK", b);
    evbuffer_free(b);
}
