/* SPDX-License-Identifier: MIT */
/*
 * The queue (GET /queue, /queue/message; POST /queue/action), admins only,
 * everything over the daemon's control socket (src/ctl/ctl.h): the list is
 * its `list-json` with the filters as selectors, a message its `show` (the
 * envelope, then the header section), an action "VERB ID..." whose
 * per-message lines ("+ ID: ..." / "- ID: why") the answer shows.
 *
 * Filters and ids are checked here with the control socket's own
 * validators (ctl/request.h: ctl_select_set, ctl_request_add_id,
 * ctl_request_check) and the request line is written by its encoder
 * (ctl_request_format, values %-encoded): no request is ever built from
 * unchecked text. delete and bounce, which cannot be undone, take two
 * steps: the first POST answers a page listing the ids with a confirm
 * button (confirm=yes), only the second acts. docs/console.md, "Queue".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "console/console_impl.h"
#include "ctl/request.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* At most this many rows on the page (the note says how many there are). */
#define QUEUE_ROWS_MAX 500
/* The longest filter value taken from a query (an address is far shorter). */
#define QUEUE_FILTER_MAX 512

/* The selectors a filter form may set, in the order of the form. */
static const char *const filter_names[] = {"from", "to", "domain", "client"};

static const char *const action_names[] = {"hold", "release", "delete", "bounce", "flush"};

/* "3d4h", "5m12s", "42s" */
static void
fmt_duration(char *out, size_t cap, long long secs)
{
    if (secs < 0)
        secs = 0;
    if (secs >= 86400)
        (void)str_fmt(out, cap, "%lldd%lldh", secs / 86400, secs % 86400 / 3600);
    else if (secs >= 3600)
        (void)str_fmt(out, cap, "%lldh%lldm", secs / 3600, secs % 3600 / 60);
    else if (secs >= 60)
        (void)str_fmt(out, cap, "%lldm%llds", secs / 60, secs % 60);
    else
        (void)str_fmt(out, cap, "%llds", secs);
}

/* The query's value of a filter ("" when absent). */
static const char *
filter_value(struct req *q, const char *name)
{
    const char *v = query_field(q, name);

    return v != NULL ? v : "";
}

/*
 * The filters of the query into sel. Returns 0 (sel->... set, *any when a
 * filter is given), or -1 with why: a value too long, a flag that is not
 * "1", a selector's own refusal (ctl_select_set: CR, LF, a space, not an
 * address, not an IP address).
 */
static int
filters_parse(struct req *q, struct ctl_select *sel, bool *any, char *why, size_t whycap)
{
    static const char *const flags[] = {"held", "deferred"};

    *any = false;
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        const char *v = filter_value(q, flags[i]);

        if (v[0] == '\0')
            continue;
        if (strcmp(v, "1") != 0) {
            (void)str_fmt(why, whycap, "%s: expected 1 (a checkbox)", flags[i]);
            return -1;
        }
        if (ctl_select_set(sel, flags[i], NULL, why, whycap) == -1)
            return -1;
        *any = true;
    }
    for (size_t i = 0; i < sizeof(filter_names) / sizeof(filter_names[0]); i++) {
        const char *v = filter_value(q, filter_names[i]);
        char text[256];

        if (v[0] == '\0')
            continue;
        if (strlen(v) > QUEUE_FILTER_MAX) {
            (void)str_fmt(why, whycap, "%s: too long (at most %d octets)", filter_names[i],
                          QUEUE_FILTER_MAX);
            return -1;
        }
        /* "<>" is the null sender (the selector's "from=" with nothing). */
        if (ctl_select_set(sel, filter_names[i], v, text, sizeof(text)) == -1) {
            /* The validators speak of the CLI's options ("--from: ..."): the form's names. */
            (void)str_copyz(why, whycap, strncmp(text, "--", 2) == 0 ? text + 2 : text);
            return -1;
        }
        *any = true;
    }
    return 0;
}

/* The GET form of the filters, with the values given (escaped) and why they were refused. */
static void
filters_form(struct req *q, struct evbuffer *b, const char *error)
{
    static const char *const labels[] = {"Sender", "Recipient", "Recipient domain",
                                         "Client address"};

    evbuffer_add_printf(b, "<form method=\"get\" action=\"/queue\" id=\"filters\">\n");
    for (size_t i = 0; i < sizeof(filter_names) / sizeof(filter_names[0]); i++) {
        evbuffer_add_printf(b, "<label>%s <input name=\"%s\" id=\"filter-%s\" value=\"", labels[i],
                            filter_names[i], filter_names[i]);
        web_escapez(b, filter_value(q, filter_names[i]));
        evbuffer_add_printf(b, "\"></label>\n");
    }
    evbuffer_add_printf(b,
                        "<label><input type=\"checkbox\" name=\"held\" value=\"1\" "
                        "id=\"filter-held\"%s> held</label>\n"
                        "<label><input type=\"checkbox\" name=\"deferred\" value=\"1\" "
                        "id=\"filter-deferred\"%s> deferred</label>\n"
                        "<button type=\"submit\" id=\"filter\">Filter</button> "
                        "<a href=\"/queue\">all messages</a>\n",
                        strcmp(filter_value(q, "held"), "1") == 0 ? " checked" : "",
                        strcmp(filter_value(q, "deferred"), "1") == 0 ? " checked" : "");
    if (error != NULL)
        page_error(b, error);
    evbuffer_add_printf(b, "</form>\n");
}

/* The buttons of an action form (on the list and on a message's page). */
static void
action_buttons(struct evbuffer *b)
{
    for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++)
        evbuffer_add_printf(b,
                            "<button type=\"submit\" name=\"action\" value=\"%s\" "
                            "id=\"do-%s\">%s</button> ",
                            action_names[i], action_names[i], action_names[i]);
}

/* One message of list-json as a row of the table. */
static void
queue_row(struct evbuffer *b, json_t *m, time_t now)
{
    const char *id = json_string_value(json_object_get(m, "id"));
    json_int_t arrival = json_integer_value(json_object_get(m, "arrival"));
    json_int_t next = json_integer_value(json_object_get(m, "next_attempt"));
    json_int_t attempts = json_integer_value(json_object_get(m, "attempts"));
    bool held = json_is_true(json_object_get(m, "held"));
    bool active = json_is_true(json_object_get(m, "active"));
    json_t *rcpts = json_object_get(m, "recipients"), *r;
    const char *sender = json_string_value(json_object_get(m, "sender"));
    const char *hold = json_string_value(json_object_get(m, "hold_reason"));
    char when[64], age[32];
    size_t i;

    /* The daemon's ids are checked like any other text: an id goes into an attribute. */
    if (id == NULL || !ctl_is_id(id))
        return;
    evbuffer_add_printf(b,
                        "<tr id=\"row-%s\"><td><input type=\"checkbox\" name=\"id\" value=\"%s\" "
                        "id=\"check-%s\"></td><td><a href=\"/queue/message?id=%s\">%s</a></td>",
                        id, id, id, id, id);
    fmt_time(when, sizeof(when), arrival);
    fmt_duration(age, sizeof(age), now > arrival ? (long long)(now - arrival) : 0);
    evbuffer_add_printf(b, "<td>%s</td><td>%s</td><td>&lt;", when, age);
    web_escapez(b, sender != NULL ? sender : "");
    evbuffer_add_printf(b, "&gt;</td><td>");
    json_array_foreach(rcpts, i, r)
    {
        if (i > 0)
            evbuffer_add_printf(b, "<br>");
        web_escapez(b, json_string_value(json_object_get(r, "address")));
        evbuffer_add_printf(b, " (");
        web_escapez(b, json_string_value(json_object_get(r, "status")));
        evbuffer_add_printf(b, ")");
    }
    evbuffer_add_printf(b, "</td><td>%" JSON_INTEGER_FORMAT "</td><td class=\"state\">",
                        json_integer_value(json_object_get(m, "size")));
    if (held) {
        evbuffer_add_printf(b, "held");
        if (hold != NULL) {
            evbuffer_add_printf(b, ": ");
            web_escapez(b, hold);
        }
    } else if (attempts > 0) {
        evbuffer_add_printf(b, "deferred (%" JSON_INTEGER_FORMAT " attempt%s)", attempts,
                            attempts == 1 ? "" : "s");
    } else {
        evbuffer_add_printf(b, "queued");
    }
    if (active)
        evbuffer_add_printf(b, "; being delivered");
    if (held)
        (void)str_copyz(when, sizeof(when), "on hold");
    else if (next <= (json_int_t)now)
        (void)str_copyz(when, sizeof(when), "now");
    else
        fmt_time(when, sizeof(when), next);
    evbuffer_add_printf(b, "</td><td>%s</td><td>", when);
    web_escapez(b, json_string_value(json_object_get(m, "last_error")));
    evbuffer_add_printf(b, "</td></tr>\n");
}

/*
 * The queue page: the filters (refused with why in error: then no list),
 * the daemon's list (with the selectors in line) and an action's result.
 */
static void
queue_render(struct req *q, int code, const char *reason, const char *line, const char *error,
             const char *result, bool result_ok)
{
    struct evbuffer *b = evbuffer_new();
    char why[512];
    json_t *doc = NULL, *msgs, *m, *total;
    time_t now = time(NULL);
    size_t i, n;

    page_begin(b, "Queue", q->s);
    if (result != NULL)
        result_block(b, result, result_ok);
    filters_form(q, b, error);
    if (error != NULL) {
        send_page(q, code, reason, b);
        evbuffer_free(b);
        return;
    }
    doc = console_ctl_json(q, line, "queue", why, sizeof why);
    msgs = json_object_get(doc, "messages");
    if (doc == NULL || !json_is_array(msgs)) {
        evbuffer_add_printf(b, "<p class=\"error\" id=\"queue-error\">");
        web_escapez(b, doc == NULL ? why : "the daemon's answer lists no messages");
        evbuffer_add_printf(b, "</p>\n");
        json_decref(doc);
        /* The daemon not answering is a gateway's trouble: 503 (an action's result aside). */
        send_page(q, result != NULL ? code : 503, result != NULL ? reason : "Service Unavailable",
                  b);
        evbuffer_free(b);
        return;
    }
    /* The daemon lists at most QUEUE_ROWS_MAX (limit=) and counts every match ("total"). */
    total = json_object_get(doc, "total");
    n = json_is_integer(total) && json_integer_value(total) >= 0 ? (size_t)json_integer_value(total)
                                                                 : json_array_size(msgs);
    evbuffer_add_printf(b, "<p id=\"count\">%zu message%s", n, n == 1 ? "" : "s");
    if (n > QUEUE_ROWS_MAX)
        evbuffer_add_printf(b, "; the first %d are shown (filter to see the others)",
                            QUEUE_ROWS_MAX);
    evbuffer_add_printf(b, ".</p>\n<form method=\"post\" action=\"/queue/action\" id=\"actions\">");
    csrf_field(b, q->s);
    evbuffer_add_printf(b, "\n<table id=\"queue-table\"><tr><th></th><th>Id</th><th>Arrival</th>"
                           "<th>Age</th><th>Sender</th><th>Recipients</th><th>Size</th>"
                           "<th>State</th><th>Next try</th><th>Last reply</th></tr>\n");
    json_array_foreach(msgs, i, m)
    {
        if (i >= QUEUE_ROWS_MAX)
            break;
        queue_row(b, m, now);
    }
    evbuffer_add_printf(b, "</table>\n<p>Selected: ");
    action_buttons(b);
    evbuffer_add_printf(b, "</p></form>\n<form method=\"post\" action=\"/queue/action\">");
    csrf_field(b, q->s);
    evbuffer_add_printf(b, "<button type=\"submit\" name=\"action\" value=\"flush\" "
                           "id=\"flush-all\">flush all</button> (every message not on hold is "
                           "tried now)</form>\n");
    json_decref(doc);
    send_page(q, code, reason, b);
    evbuffer_free(b);
}

void
queue_page(struct req *q)
{
    struct ctl_request *req = xcalloc(1, sizeof(*req));
    char why[256], line[CTL_REQUEST_MAX + 1];
    bool any;

    req->verb = CTL_LIST_JSON;
    req->limit = QUEUE_ROWS_MAX;
    if (filters_parse(q, &req->sel, &any, why, sizeof why) == -1) {
        queue_render(q, 400, "Bad Request", NULL, why, NULL, false);
        free(req);
        return;
    }
    req->has_select = any;
    if (ctl_request_check(req, why, sizeof why) == -1 ||
        ctl_request_format(req, line, sizeof line) == -1) {
        queue_render(q, 400, "Bad Request", NULL, "the filters do not make a request", NULL, false);
        free(req);
        return;
    }
    queue_render(q, 200, "OK", line, NULL, NULL, false);
    free(req);
}

/* ---- one message ---- */

/* The envelope lines of `show` ("key:   value") as rows of a table, up to the blank line. */
static const char *
envelope_table(struct evbuffer *b, const char *p)
{
    evbuffer_add_printf(b, "<table id=\"envelope\">\n");
    while (*p != '\0' && *p != '\n') {
        const char *eol = strchr(p, '\n'), *colon;
        size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
        const char *v;

        colon = memchr(p, ':', len);
        evbuffer_add_printf(b, "<tr><th>");
        if (colon != NULL) {
            web_escape(b, p, (size_t)(colon - p));
            for (v = colon + 1; v < p + len && *v == ' '; v++)
                ;
            evbuffer_add_printf(b, "</th><td>");
            web_escape(b, v, (size_t)(p + len - v));
        } else {
            evbuffer_add_printf(b, "</th><td>");
            web_escape(b, p, len);
        }
        evbuffer_add_printf(b, "</td></tr>\n");
        p += len;
        if (*p == '\n')
            p++;
    }
    evbuffer_add_printf(b, "</table>\n");
    return *p == '\n' ? p + 1 : p;
}

void
queue_message(struct req *q)
{
    const char *id = query_field(q, "id"), *p;
    char line[64], why[512];
    struct evbuffer *b;
    char *answer;
    bool ok;

    if (id == NULL || !ctl_is_id(id)) {
        send_error(q, 400, "Bad Request", "id: expected a queue id (16 upper-case hex digits)");
        return;
    }
    (void)str_fmt(line, sizeof line, "show %s\n", id);
    answer = console_ctl_text(q, line, &ok, why, sizeof why);
    if (answer == NULL) {
        send_error(q, 503, "Service Unavailable", why);
        return;
    }
    if (!ok) {
        /* "error: no message ID in the queue" (ctl/server.c) is the one unknown id. */
        if (strncmp(answer, "error: no message ", 18) == 0)
            send_error(q, 404, "Not Found", "No such message in the queue.");
        else
            send_error(q, 502, "Bad Gateway", answer);
        free(answer);
        return;
    }
    b = evbuffer_new();
    page_begin(b, "Queued message", q->s);
    evbuffer_add_printf(b, "<h2 id=\"message-id\">%s</h2>\n", id);
    /* After the status line "ok" (with its LF, which a bare "ok" lacks). */
    p = envelope_table(b, answer + (answer[2] == '\n' ? 3 : 2));
    evbuffer_add_printf(b, "<h2>Header section</h2>\n<pre id=\"headers\">");
    web_escapez(b, p);
    evbuffer_add_printf(b, "</pre>\n<form method=\"post\" action=\"/queue/action\" "
                           "id=\"actions\">");
    csrf_field(b, q->s);
    evbuffer_add_printf(b, "<input type=\"hidden\" name=\"id\" value=\"%s\">", id);
    action_buttons(b);
    evbuffer_add_printf(b, "</form>\n<p><a href=\"/queue\">the queue</a></p>\n");
    free(answer);
    send_page(q, 200, "OK", b);
    evbuffer_free(b);
}

/* ---- actions ---- */

void
queue_action(struct req *q)
{
    const char *action = field(q, "action"), *confirm = field(q, "confirm");
    struct ctl_request *req = xcalloc(1, sizeof(*req));
    char why[256], line[CTL_REQUEST_MAX + 1], name[32], question[128], list[64];
    char *answer;
    bool ok, known = false;

    for (size_t i = 0; action != NULL && i < sizeof(action_names) / sizeof(action_names[0]); i++)
        known = known || strcmp(action, action_names[i]) == 0;
    if (!known || ctl_verb_find(action, &req->verb) == -1) {
        send_error(q, 400, "Bad Request",
                   "action: expected hold, release, delete, bounce or flush");
        free(req);
        return;
    }
    if (form_ids(q, req, why, sizeof why) == -1) {
        send_error(q, 400, "Bad Request", why);
        free(req);
        return;
    }
    if (req->n_ids == 0 && req->verb != CTL_FLUSH) {
        send_error(q, 400, "Bad Request", "no message selected");
        free(req);
        return;
    }
    if (confirm != NULL && strcmp(confirm, "yes") != 0) {
        send_error(q, 400, "Bad Request", "confirm: expected yes");
        free(req);
        return;
    }
    if ((req->verb == CTL_DELETE || req->verb == CTL_BOUNCE) && confirm == NULL) {
        (void)str_fmt(question, sizeof question, "%s these messages%s?",
                      req->verb == CTL_DELETE ? "Delete" : "Bounce",
                      req->verb == CTL_BOUNCE ? " (each sender gets a failure report)" : "");
        confirm_page(q, "/queue/action", action, question, req);
        free(req);
        return;
    }
    if (ctl_request_check(req, why, sizeof why) == -1 ||
        ctl_request_format(req, line, sizeof line) == -1) {
        send_error(q, 400, "Bad Request", why);
        free(req);
        return;
    }
    (void)str_fmt(name, sizeof name, "queue-%s", action);
    answer = console_ctl_text(q, line, &ok, why, sizeof why);
    log_ids_action(q, name, req, answer != NULL ? answer : why);
    free(req);
    if (answer == NULL) {
        send_error(q, 503, "Service Unavailable", why);
        return;
    }
    /* The queue as it is now (unfiltered), the daemon's lines above it. */
    (void)str_fmt(list, sizeof list, "list-json limit=%d\n", QUEUE_ROWS_MAX);
    queue_render(q, 200, "OK", list, NULL, answer, ok);
    free(answer);
}
