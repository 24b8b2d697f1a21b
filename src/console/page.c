/* SPDX-License-Identifier: MIT */
/*
 * The console's answers and the parts every page shares (console_impl.h):
 * the security headers, the page's frame and navigation, errors and
 * redirects, forms' fields, and questions to the daemon.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "conf/conf.h"
#include "console/console_impl.h"
#include "ctl/ask.h"
#include "lib/log.h"
#include "lib/str.h"

static const char css[] =
    "body{font-family:sans-serif;margin:0;color:#222;background:#f6f6f4}\n"
    "header{background:#234;color:#fff;padding:.6em 1em;display:flex;gap:1em;"
    "align-items:center}\n"
    "header a{color:#fff}header form{margin-left:auto}nav{display:flex;gap:.8em}\n"
    "main{padding:1em 2em;max-width:60em}\n"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;"
    "text-align:left}\n"
    ".secret,code{font-family:monospace;font-size:1.1em;background:#fff;padding:.2em}\n"
    ".error{color:#a00;font-weight:bold}.ok{color:#070;font-weight:bold}\n"
    "svg.qr{width:12em;height:12em;background:#fff}\n"
    "label{display:block;margin:.4em 0}\n"
    ".charts{display:flex;flex-wrap:wrap;gap:1em;margin:.6em 0}#alerts-firing{margin-top:.6em}\n"
    "svg.chart{flex:1 1 24em;min-width:0;height:auto;background:#fff;border:1px solid #ccc}\n";

void
add_headers(struct req *q, const char *type)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(q->r);

    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'self'; form-action 'self'; frame-ancestors 'none'");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    /* same-origin, not no-referrer: a form's POST then carries its Origin (Fetch 3.1). */
    evhttp_add_header(h, "Referrer-Policy", "same-origin");
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (q->con->tls != NULL)
        evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
}

void
set_cookie(struct req *q, const char *value, bool clear)
{
    char text[256];

    (void)str_fmt(text, sizeof text, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", q->con->cookie,
                  value, q->con->tls != NULL ? "; Secure" : "", clear ? "; Max-Age=0" : "");
    evhttp_add_header(evhttp_request_get_output_headers(q->r), "Set-Cookie", text);
}

void
page_begin(struct evbuffer *b, const char *title, const struct session *s)
{
    page_begin_refresh(b, title, s, 0);
}

void
page_begin_refresh(struct evbuffer *b, const char *title, const struct session *s,
                   unsigned refresh_s)
{
    evbuffer_add_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                           "<title>gate26: ");
    web_escapez(b, title);
    evbuffer_add_printf(b, "</title>");
    /* HTML 4.2.5.3: the page loads itself again, without script (the CSP forbids it). */
    if (refresh_s > 0)
        evbuffer_add_printf(b, "<meta http-equiv=\"refresh\" content=\"%u\">", refresh_s);
    evbuffer_add_printf(b, "<link rel=\"stylesheet\" href=\"/style.css\"></head>\n"
                           "<body><header><strong>gate26</strong>");
    if (s != NULL && !s->pending) {
        if (s->admin)
            evbuffer_add_printf(b, "<nav><a href=\"/\">Overview</a><a href=\"/tracking\">Tracking"
                                   "</a><a href=\"/queue\">Queue</a><a href=\"/quarantine\">"
                                   "Quarantine</a><a href=\"/alerts\">Alerts</a><a href=\""
                                   "/scanners\">Scanners</a><a href=\"/doors\">Doors</a></nav>");
        evbuffer_add_printf(b, "<a href=\"/account\">Account</a><span>");
        web_escapez(b, s->user);
        evbuffer_add_printf(b, "</span><form method=\"post\" action=\"/logout\">"
                               "<input type=\"hidden\" name=\"csrf\" value=\"");
        web_escapez(b, s->csrf);
        evbuffer_add_printf(b, "\"><button id=\"logout\" type=\"submit\">Log out</button></form>");
    }
    evbuffer_add_printf(b, "</header>\n<main><h1>");
    web_escapez(b, title);
    evbuffer_add_printf(b, "</h1>\n");
}

void
send_page(struct req *q, int code, const char *reason, struct evbuffer *b)
{
    evbuffer_add_printf(b, "</main></body></html>\n");
    add_headers(q, "text/html; charset=utf-8");
    evhttp_send_reply(q->r, code, reason, b);
}

void
send_error(struct req *q, int code, const char *reason, const char *text)
{
    struct evbuffer *b = evbuffer_new();

    page_begin(b, reason, q->s);
    evbuffer_add_printf(b, "<p class=\"error\">");
    web_escapez(b, text);
    evbuffer_add_printf(b, "</p>\n");
    send_page(q, code, reason, b);
    evbuffer_free(b);
}

void
send_redirect(struct req *q, const char *to)
{
    add_headers(q, "text/plain; charset=utf-8");
    evhttp_add_header(evhttp_request_get_output_headers(q->r), "Location", to);
    evhttp_send_reply(q->r, 303, "See Other", NULL);
}

void
csrf_field(struct evbuffer *b, const struct session *s)
{
    evbuffer_add_printf(b, "<input type=\"hidden\" name=\"csrf\" value=\"");
    web_escapez(b, s->csrf);
    evbuffer_add_printf(b, "\">");
}

const char *
field(struct req *q, const char *name)
{
    return q->has_form ? evhttp_find_header(&q->form, name) : NULL;
}

void
fmt_time(char *out, size_t cap, int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (t == 0 || gmtime_r(&tt, &tm) == NULL || strftime(out, cap, "%Y-%m-%d %H:%M UTC", &tm) == 0)
        (void)str_copyz(out, cap, t == 0 ? "never" : "?");
}

void
log_action(struct req *q, const char *action, const char *detail)
{
    log_info("-: client=[%s], event=console-action, user=\"%s\", admin=%s, action=%s%s%s",
             q->client, q->s->user, q->s->admin ? "yes" : "no", action, detail[0] ? ", " : "",
             detail);
}

void
send_style(struct req *q)
{
    add_headers(q, "text/css; charset=utf-8");
    evbuffer_add(evhttp_request_get_output_buffer(q->r), css, sizeof css - 1);
    evhttp_send_reply(q->r, 200, "OK", NULL);
}

static void
note_class(struct evbuffer *b, const char *cls, const char *id, const char *text)
{
    if (text == NULL)
        return;
    evbuffer_add_printf(b, "<p class=\"%s\" id=\"%s\">", cls, id);
    web_escapez(b, text);
    evbuffer_add_printf(b, "</p>\n");
}

void
page_note(struct evbuffer *b, const char *text)
{
    note_class(b, "ok", "note", text);
}

void
page_error(struct evbuffer *b, const char *text)
{
    note_class(b, "error", "error", text);
}

bool
page_table_open(struct evbuffer *b, const char *id, size_t n, const char *none,
                const char *const *headers)
{
    if (n == 0) {
        evbuffer_add_printf(b, "<p id=\"%s-none\">%s</p>\n", id, none);
        return false;
    }
    evbuffer_add_printf(b, "<table id=\"%s\"><tr>", id);
    for (size_t i = 0; headers[i] != NULL; i++)
        evbuffer_add_printf(b, "<th>%s</th>", headers[i]);
    evbuffer_add_printf(b, "</tr>\n");
    return true;
}

void
page_table_close(struct evbuffer *b, size_t n, size_t shown)
{
    evbuffer_add_printf(b, "</table>\n");
    if (n > shown)
        evbuffer_add_printf(b, "<p class=\"note\">%zu more not shown.</p>\n", n - shown);
}

void
page_cell(struct evbuffer *b, const json_t *v)
{
    evbuffer_add_printf(b, "<td>");
    if (json_is_string(v))
        web_escapez(b, json_string_value(v));
    else if (json_is_integer(v))
        evbuffer_add_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        evbuffer_add_printf(b, "%g", json_real_value(v));
    else if (json_is_true(v))
        evbuffer_add_printf(b, "yes");
    else if (json_is_false(v))
        evbuffer_add_printf(b, "no");
    else
        evbuffer_add_printf(b, "-");
    evbuffer_add_printf(b, "</td>");
}

void
page_cell_time(struct evbuffer *b, const json_t *v)
{
    char when[64];

    fmt_time(when, sizeof when, json_is_integer(v) ? json_integer_value(v) : 0);
    evbuffer_add_printf(b, "<td>");
    web_escapez(b, when);
    evbuffer_add_printf(b, "</td>");
}

const char *
query_field(struct req *q, const char *name)
{
    const char *uri = evhttp_request_get_uri(q->r), *mark;

    if (!q->has_query) {
        TAILQ_INIT(&q->query);
        q->has_query = true;
        mark = uri != NULL ? strchr(uri, '?') : NULL;
        /* A query that cannot be parsed is no query: every parameter absent. So is one with
         * %00, which evhttp decodes into a C string (it would cut the value short). */
        if (mark != NULL &&
            (strstr(mark, "%00") != NULL || evhttp_parse_query_str(mark + 1, &q->query) == -1)) {
            evhttp_clear_headers(&q->query);
            TAILQ_INIT(&q->query);
        }
    }
    return evhttp_find_header(&q->query, name);
}

char *
console_ctl_text(struct req *q, const char *request, bool *ok, char *why, size_t whycap)
{
    char *answer = NULL;
    size_t len = 0;

    *ok = false;
    if (ctl_request(q->con->conf->spool, request, CONSOLE_CTL_TIMEOUT_S, &answer, &len, why,
                    whycap) == -1)
        return NULL;
    *ok = strncmp(answer, "ok\n", 3) == 0 || strcmp(answer, "ok") == 0;
    return answer;
}

json_t *
console_ctl_json(struct req *q, const char *request, const char *what, char *why, size_t whycap)
{
    char *answer = NULL;
    const char *body;
    size_t len = 0;
    json_t *doc;

    if (ctl_request(q->con->conf->spool, request, CONSOLE_CTL_TIMEOUT_S, &answer, &len, why,
                    whycap) == -1)
        return NULL;
    doc = ctl_answer_doc(answer, len, what, &body, why, whycap);
    free(answer);
    return doc;
}
