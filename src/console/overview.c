/* SPDX-License-Identifier: MIT */
/*
 * The overview (GET /, admins): the daemon's queue and the alerts firing,
 * from its status document.
 */
#include <stdlib.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "conf/conf.h"
#include "console/console_impl.h"

void
overview_page(struct req *q)
{
    struct evbuffer *b = evbuffer_new();
    char why[512];
    json_t *doc;

    page_begin(b, "Overview", q->s);
    evbuffer_add_printf(b, "<h2>Daemon</h2>\n");
    doc = console_ctl_json(q, "status-json\n", "status", why, sizeof why);
    if (doc == NULL) {
        evbuffer_add_printf(b, "<p class=\"error\" id=\"status-error\">");
        web_escapez(b, why);
        evbuffer_add_printf(b, "</p>\n");
    } else {
        json_t *queue = json_object_get(doc, "queue"), *alerts = json_object_get(doc, "alerts");
        size_t i;
        json_t *a;

        evbuffer_add_printf(
            b,
            "<table id=\"status\"><tr><th>Queue</th><td id=\"queue\">%" JSON_INTEGER_FORMAT
            "</td></tr><tr><th>Deferred</th><td>%" JSON_INTEGER_FORMAT
            "</td></tr><tr><th>Held</th><td>%" JSON_INTEGER_FORMAT
            "</td></tr><tr><th>Alerts firing</th><td id=\"alerts\">%" JSON_INTEGER_FORMAT
            "</td></tr></table>\n",
            json_integer_value(json_object_get(queue, "messages")),
            json_integer_value(json_object_get(queue, "deferred")),
            json_integer_value(json_object_get(queue, "held")),
            json_integer_value(json_object_get(doc, "alerts_firing")));
        if (json_is_array(alerts) && json_array_size(alerts) > 0) {
            evbuffer_add_printf(b, "<table><tr><th>Rule</th><th>Key</th><th>Value</th></tr>\n");
            json_array_foreach(alerts, i, a)
            {
                evbuffer_add_printf(b, "<tr><td>");
                web_escapez(b, json_string_value(json_object_get(a, "rule")));
                evbuffer_add_printf(b, "</td><td>");
                web_escapez(b, json_string_value(json_object_get(a, "key")));
                evbuffer_add_printf(b, "</td><td>%" JSON_INTEGER_FORMAT "</td></tr>\n",
                                    json_integer_value(json_object_get(a, "value")));
            }
            evbuffer_add_printf(b, "</table>\n");
        }
        json_decref(doc);
    }
    send_page(q, 200, "OK", b);
    evbuffer_free(b);
}
