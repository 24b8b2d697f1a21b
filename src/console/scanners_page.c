/* SPDX-License-Identifier: MIT */
/*
 * The scanners (GET /scanners[?top=N], admins; docs/console.md,
 * "Scanners"): the daemon's scanners-json document (docs/scanners.md) as
 * tables: the capture and the table's size, the top sources with their
 * Mirai SYNs, plain SYNs, sessions by kind and ports, and the busiest
 * networks. top is 1..1000 (default 20); anything else answers 400.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "console/console_impl.h"
#include "ctl/scanners.h"
#include "lib/str.h"

/* The session kinds of a source's "sessions" object, in the order of docs/scanners.md. */
static const char *const kinds[] = {"silent", "http", "tls", "ssh", "proxy", "binary"};

/* top=N: 1..CTL_SCANNERS_TOP_MAX in decimal, no sign, no leading zero. 0: bad. */
static size_t
parse_top(const char *v)
{
    size_t n = 0, len = strlen(v);

    if (len == 0 || len > 4 || v[0] == '0' || strspn(v, "0123456789") != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        n = n * 10 + (size_t)(v[i] - '0');
    return n <= CTL_SCANNERS_TOP_MAX ? n : 0;
}

static void
cell(struct evbuffer *b, const json_t *v)
{
    evbuffer_add_printf(b, "<td>");
    if (json_is_string(v))
        web_escapez(b, json_string_value(v));
    else if (json_is_integer(v))
        evbuffer_add_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        evbuffer_add_printf(b, "-");
    evbuffer_add_printf(b, "</td>");
}

static void
summary(struct evbuffer *b, const json_t *doc)
{
    evbuffer_add_printf(b, "<table id=\"scanner-summary\"><tr><th>Capture</th>");
    cell(b, json_object_get(doc, "capture"));
    evbuffer_add_printf(b, "</tr><tr><th>Sources in the table</th>");
    cell(b, json_object_get(doc, "sources_now"));
    evbuffer_add_printf(b, "</tr><tr><th>Networks in the table</th>");
    cell(b, json_object_get(doc, "networks_now"));
    evbuffer_add_printf(b, "</tr><tr><th>Table size</th>");
    cell(b, json_object_get(doc, "table_size"));
    evbuffer_add_printf(b, "</tr></table>\n");
}

static void
sources(struct evbuffer *b, const json_t *arr)
{
    size_t i, k;
    json_t *s, *p;
    json_int_t mirai = 0;

    evbuffer_add_printf(b, "<h2>Top sources</h2>\n");
    if (json_array_size(arr) == 0) {
        evbuffer_add_printf(b, "<p id=\"scanner-sources-none\">No scanner seen.</p>\n");
        return;
    }
    evbuffer_add_printf(b, "<table id=\"scanner-sources\"><tr><th>Address</th><th>Mirai SYNs</th>"
                           "<th>Plain SYNs</th>");
    for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        evbuffer_add_printf(b, "<th>%s</th>", kinds[k]);
    evbuffer_add_printf(b, "<th>Ports</th><th>First seen</th><th>Last seen</th></tr>\n");
    json_array_foreach(arr, i, s)
    {
        const json_t *sessions = json_object_get(s, "sessions");

        mirai += json_integer_value(json_object_get(s, "mirai"));
        evbuffer_add_printf(b, "<tr class=\"source\">");
        cell(b, json_object_get(s, "address"));
        cell(b, json_object_get(s, "mirai"));
        cell(b, json_object_get(s, "plain"));
        for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            cell(b, json_object_get(sessions, kinds[k]));
        evbuffer_add_printf(b, "<td>");
        json_array_foreach(json_object_get(s, "ports"), k, p)
        {
            if (json_is_integer(p))
                evbuffer_add_printf(b, "%s%" JSON_INTEGER_FORMAT, k > 0 ? " " : "",
                                    json_integer_value(p));
        }
        evbuffer_add_printf(b, "</td>");
        cell(b, json_object_get(s, "first_seen"));
        cell(b, json_object_get(s, "last_seen"));
        evbuffer_add_printf(b, "</tr>\n");
    }
    evbuffer_add_printf(b,
                        "</table>\n<p>Mirai-fingerprinted SYNs from these sources: "
                        "<span id=\"scanner-mirai\">%" JSON_INTEGER_FORMAT "</span></p>\n",
                        mirai);
}

static void
networks(struct evbuffer *b, const json_t *arr)
{
    size_t i;
    json_t *n;

    evbuffer_add_printf(b, "<h2>Busiest networks</h2>\n");
    if (json_array_size(arr) == 0) {
        evbuffer_add_printf(b, "<p id=\"scanner-networks-none\">No scanner seen.</p>\n");
        return;
    }
    evbuffer_add_printf(b, "<table id=\"scanner-networks\"><tr><th>Network</th><th>Mirai SYNs"
                           "</th><th>Plain SYNs</th><th>Sessions</th><th>Sources</th>"
                           "<th>First seen</th><th>Last seen</th></tr>\n");
    json_array_foreach(arr, i, n)
    {
        evbuffer_add_printf(b, "<tr class=\"network\">");
        cell(b, json_object_get(n, "network"));
        cell(b, json_object_get(n, "mirai"));
        cell(b, json_object_get(n, "plain"));
        cell(b, json_object_get(n, "sessions"));
        cell(b, json_object_get(n, "sources"));
        cell(b, json_object_get(n, "first_seen"));
        cell(b, json_object_get(n, "last_seen"));
        evbuffer_add_printf(b, "</tr>\n");
    }
    evbuffer_add_printf(b, "</table>\n");
}

void
scanners_page(struct req *q)
{
    const char *v = query_field(q, "top");
    size_t top = CTL_SCANNERS_TOP;
    char request[64], why[512];
    struct evbuffer *b;
    json_t *doc;

    if (v != NULL && (top = parse_top(v)) == 0) {
        send_error(q, 400, "Bad Request", "top must be a number from 1 to 1000");
        return;
    }
    (void)str_fmt(request, sizeof request, CTL_SCANNERS_VERB " %zu\n", top);
    doc = console_ctl_json(q, request, "scanners", why, sizeof why);
    if (doc == NULL) {
        send_error(q, 503, "Service Unavailable", why);
        return;
    }
    b = evbuffer_new();
    page_begin(b, "Scanners", q->s);
    evbuffer_add_printf(b,
                        "<form method=\"get\" action=\"/scanners\"><label>Rows "
                        "<input type=\"number\" name=\"top\" min=\"1\" max=\"%d\" "
                        "value=\"%zu\" id=\"top\"></label> <button type=\"submit\">Show"
                        "</button></form>\n",
                        CTL_SCANNERS_TOP_MAX, top);
    summary(b, doc);
    sources(b, json_object_get(doc, "sources"));
    networks(b, json_object_get(doc, "networks"));
    json_decref(doc);
    send_page(q, 200, "OK", b);
    evbuffer_free(b);
}
