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
#define N_KINDS (sizeof kinds / sizeof kinds[0])

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
summary(struct evbuffer *b, const json_t *doc)
{
    evbuffer_add_printf(b, "<table id=\"scanner-summary\"><tr><th>Capture</th>");
    page_cell(b, json_object_get(doc, "capture"));
    evbuffer_add_printf(b, "</tr><tr><th>Sources in the table</th>");
    page_cell(b, json_object_get(doc, "sources_now"));
    evbuffer_add_printf(b, "</tr><tr><th>Networks in the table</th>");
    page_cell(b, json_object_get(doc, "networks_now"));
    evbuffer_add_printf(b, "</tr><tr><th>Table size</th>");
    page_cell(b, json_object_get(doc, "table_size"));
    evbuffer_add_printf(b, "</tr></table>\n");
}

static void
sources(struct evbuffer *b, const json_t *arr)
{
    size_t i, k;
    json_t *s, *p;
    json_int_t mirai = 0;

    const char *headers[3 + N_KINDS + 4] = {"Address", "Mirai SYNs", "Plain SYNs"};

    for (k = 0; k < N_KINDS; k++)
        headers[3 + k] = kinds[k];
    headers[3 + N_KINDS] = "Ports";
    headers[3 + N_KINDS + 1] = "First seen";
    headers[3 + N_KINDS + 2] = "Last seen";
    evbuffer_add_printf(b, "<h2>Top sources</h2>\n");
    if (!page_table_open(b, "scanner-sources", json_array_size(arr), "No scanner seen.", headers))
        return;
    json_array_foreach(arr, i, s)
    {
        const json_t *sessions = json_object_get(s, "sessions");

        mirai += json_integer_value(json_object_get(s, "mirai"));
        evbuffer_add_printf(b, "<tr class=\"source\">");
        page_cell(b, json_object_get(s, "address"));
        page_cell(b, json_object_get(s, "mirai"));
        page_cell(b, json_object_get(s, "plain"));
        for (k = 0; k < N_KINDS; k++)
            page_cell(b, json_object_get(sessions, kinds[k]));
        evbuffer_add_printf(b, "<td>");
        json_array_foreach(json_object_get(s, "ports"), k, p)
        {
            if (json_is_integer(p))
                evbuffer_add_printf(b, "%s%" JSON_INTEGER_FORMAT, k > 0 ? " " : "",
                                    json_integer_value(p));
        }
        evbuffer_add_printf(b, "</td>");
        page_cell(b, json_object_get(s, "first_seen"));
        page_cell(b, json_object_get(s, "last_seen"));
        evbuffer_add_printf(b, "</tr>\n");
    }
    page_table_close(b, json_array_size(arr), json_array_size(arr));
    evbuffer_add_printf(b,
                        "<p>Mirai-fingerprinted SYNs from these sources: "
                        "<span id=\"scanner-mirai\">%" JSON_INTEGER_FORMAT "</span></p>\n",
                        mirai);
}

static void
networks(struct evbuffer *b, const json_t *arr)
{
    size_t i;
    json_t *n;

    static const char *const headers[] = {"Network", "Mirai SYNs", "Plain SYNs", "Sessions",
                                          "Sources", "First seen", "Last seen",  NULL};

    evbuffer_add_printf(b, "<h2>Busiest networks</h2>\n");
    if (!page_table_open(b, "scanner-networks", json_array_size(arr), "No scanner seen.", headers))
        return;
    json_array_foreach(arr, i, n)
    {
        evbuffer_add_printf(b, "<tr class=\"network\">");
        page_cell(b, json_object_get(n, "network"));
        page_cell(b, json_object_get(n, "mirai"));
        page_cell(b, json_object_get(n, "plain"));
        page_cell(b, json_object_get(n, "sessions"));
        page_cell(b, json_object_get(n, "sources"));
        page_cell(b, json_object_get(n, "first_seen"));
        page_cell(b, json_object_get(n, "last_seen"));
        evbuffer_add_printf(b, "</tr>\n");
    }
    page_table_close(b, json_array_size(arr), json_array_size(arr));
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
