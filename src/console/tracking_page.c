/* SPDX-License-Identifier: MIT */
/*
 * Message tracking (docs/console.md, "Tracking"): GET /tracking, a search
 * form (GET, so that a search is a link) and its results, newest first;
 * GET /tracking/message?id=QID, one message's fields, its recipients with
 * each one's last delivery attempt, and its events in time order.
 *
 * Both read SPOOL/tracking.db with track_search (track.h), the store
 * opened for the request in the mode `gate26 track` uses (TRACK_OPEN_READ:
 * the file is not made, queries only) and closed before the answer: a
 * file that does not exist yet, was deleted or was replaced under the
 * daemon is simply found as it is at the next request. The filters are
 * read by track_query_parse_field, the command line's own reading; every
 * value is a bound parameter of the search, never SQL. Everything the
 * database holds came from a peer (addresses, HELO, Subject, replies) and
 * goes through web_escape.
 *
 * The search runs on the console's loop: it is indexed, bounded
 * (TRACKING_LIMIT_MAX messages) and waits at most the store's busy timeout
 * (2 s) for the daemon's writer; the console serves a few admins.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "conf/conf.h"
#include "console/console_impl.h"
#include "ctl/request.h"
#include "lib/caps.h"
#include "lib/log.h"
#include "lib/str.h"
#include "track/track.h"

_Static_assert(TRACK_QID_LEN == SPOOL_ID_LEN, "a tracked queue id is the spool's");

/* The most messages a search shows (its limit), and when not asked. */
#define TRACKING_LIMIT_MAX      1000
#define TRACKING_LIMIT_MAX_TEXT "1000"
/* Recipients shown in a result's row; on a message's page; events on it. */
#define TRACKING_ROW_RCPTS  5
#define TRACKING_RCPTS_MAX  1000
#define TRACKING_EVENTS_MAX 2000

/* The form's fields: the filters of track_query_parse_field, in its names. */
static const struct {
    const char *name, *label, *hint;
    size_t max; /* the input's maxlength */
} filters[] = {
    {"from", "Sender", "exactly, any case; <> for the null sender", CAP_MAILBOX},
    {"to", "Recipient", "exactly, any case", CAP_MAILBOX},
    {"client", "Client address", "127.0.0.1, 2001:db8::1", TRACK_CLIENT_MAX},
    {"since", "Since", "2026-12-07T10:00:00Z, or back from now: 90s, 30m, 2h, 7d, 2w",
     TRACK_TIME_MAX},
    {"until", "Until", "the same forms", TRACK_TIME_MAX},
    {"id", "Queue id", "16 hex digits", TRACK_QID_LEN},
    {"message-id", "Message-ID", "with or without <>", CAP_MESSAGE_ID + 2},
    {"limit", "Limit", "1 to " TRACKING_LIMIT_MAX_TEXT ", default 100", 10},
};

#define N_FILTERS (sizeof filters / sizeof filters[0])

/* ---- Values ---- */

/* us (microseconds since the epoch) as "2026-12-07 10:00:00 UTC" (with ms: ".123"); 0: "-". */
static void
fmt_us(char *out, size_t cap, int64_t us, bool ms)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    char day[32];

    if (us <= 0 || gmtime_r(&t, &tm) == NULL ||
        strftime(day, sizeof day, "%Y-%m-%d %H:%M:%S", &tm) == 0) {
        (void)str_copyz(out, cap, "-");
        return;
    }
    if (ms)
        (void)str_fmt(out, cap, "%s.%03d UTC", day, (int)(us % 1000000 / 1000));
    else
        (void)str_fmt(out, cap, "%s UTC", day);
}

/* A sender as the page shows it: "<>" for the null sender, "-" when unknown (NULL). */
static void
put_sender(struct evbuffer *b, const char *sender)
{
    web_escapez(b, sender == NULL ? "-" : sender[0] == '\0' ? "<>" : sender);
}

/* s, or "-" when absent. */
static void
put_text(struct evbuffer *b, const char *s)
{
    web_escapez(b, s != NULL ? s : "-");
}

/* A link to the search where name is value: <a href="/tracking?name=VALUE">text</a>. */
static void
put_search_link(struct evbuffer *b, const char *name, const char *value, const char *text)
{
    char *enc = evhttp_uriencode(value, -1, 0);

    if (enc == NULL) {
        web_escapez(b, text);
        return;
    }
    evbuffer_add_printf(b, "<a href=\"/tracking?%s=", name);
    web_escapez(b, enc);
    evbuffer_add_printf(b, "\">");
    web_escapez(b, text);
    evbuffer_add_printf(b, "</a>");
    free(enc);
}

/*
 * The value of key in an attempt's detail (`relay=..., status=sent,
 * reply="250 ..."`, sched/tracking.c): a word up to ", " or a quoted
 * string (its escapes kept). Returns its length and sets *at, or 0.
 */
static size_t
detail_value(const char *detail, const char *key, const char **at)
{
    size_t klen = strlen(key);
    const char *p = detail;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            const char *v = p + klen + 1, *e;

            if (*v != '"') {
                e = strstr(v, ", ");
                *at = v;
                return e != NULL ? (size_t)(e - v) : strlen(v);
            }
            for (e = v + 1; *e != '\0' && *e != '"'; e++) {
                if (*e == '\\' && e[1] != '\0')
                    e++;
            }
            *at = v + 1;
            return (size_t)(e - v - 1);
        }
        /* The next field; a quoted value may hold ", ": skip it whole. */
        while (*p != '\0' && !(p[0] == ',' && p[1] == ' ')) {
            if (*p == '"') {
                for (p++; *p != '\0' && *p != '"'; p++) {
                    if (*p == '\\' && p[1] != '\0')
                        p++;
                }
                if (*p == '\0')
                    break;
            }
            p++;
        }
        p = *p != '\0' ? p + 2 : p;
    }
    return 0;
}

/* ---- The store ---- */

enum db_state {
    DB_OPEN,    /* *out is the store */
    DB_MISSING, /* no file (yet) */
    DB_BROKEN,  /* it cannot be read: why says */
};

/* SPOOL/tracking.db opened for reading (track_close it). */
static enum db_state
db_open(struct req *q, struct track **out, char *why, size_t whycap)
{
    char path[CAP_PATH];
    struct stat st;

    *out = NULL;
    if (str_fmt(path, sizeof path, "%s/tracking.db", q->con->conf->spool) == -1) {
        (void)str_copyz(why, whycap, "the spool's path is too long");
        return DB_BROKEN;
    }
    if (stat(path, &st) == -1 && errno == ENOENT)
        return DB_MISSING;
    *out = track_sqlite_open(path, TRACK_OPEN_READ, NULL, why, whycap);
    if (*out != NULL)
        return DB_OPEN;
    /* Deleted between the two looks (the daemon makes it again at its next batch). */
    if (stat(path, &st) == -1 && errno == ENOENT)
        return DB_MISSING;
    log_warning("-: client=[%s], event=console-tracking, user=\"%s\", error=\"%s\"", q->client,
                q->s->user, why);
    return DB_BROKEN;
}

static void
note_tracking_off(struct req *q, struct evbuffer *b)
{
    if (q->con->conf->tracking_off)
        evbuffer_add_printf(b, "<p class=\"error\" id=\"tracking-off\">Tracking is off "
                               "(<code>tracking { enabled no }</code>): nothing new is "
                               "recorded.</p>\n");
}

static void
note_missing(struct evbuffer *b)
{
    evbuffer_add_printf(b, "<p class=\"error\" id=\"no-database\">No tracking database yet "
                           "(<code>SPOOL/tracking.db</code>): the daemon makes it when it "
                           "records its first event with tracking on.</p>\n");
}

/* ---- GET /tracking ---- */

/* Whether the target's query string can be read at all (query_field takes one that cannot as
 * none: a search must not then show everything as if no filter was given). */
static bool
query_readable(struct req *q)
{
    const char *uri = evhttp_request_get_uri(q->r), *mark = uri != NULL ? strchr(uri, '?') : NULL;
    struct evkeyvalq kv;
    int rc;

    if (mark == NULL)
        return true;
    TAILQ_INIT(&kv);
    rc = evhttp_parse_query_str(mark + 1, &kv);
    evhttp_clear_headers(&kv);
    return rc == 0;
}

/*
 * The filters of the query into tq (empty fields are no filter). Returns
 * the index of the first field that is not good (why says what it takes),
 * or -1 when all are.
 */
static int
search_parse(struct req *q, struct track_query *tq, char *why, size_t whycap)
{
    char takes[160];

    for (size_t i = 0; i < N_FILTERS; i++) {
        const char *v = query_field(q, filters[i].name);

        if (v == NULL || v[0] == '\0')
            continue;
        if (track_query_parse_field(tq, filters[i].name, v, TRACKING_LIMIT_MAX, takes,
                                    sizeof takes) == -1) {
            (void)str_fmt(why, whycap, "The %s field takes %s.", filters[i].name, takes);
            return (int)i;
        }
    }
    return -1;
}

static void
search_form(struct req *q, struct evbuffer *b, int bad)
{
    evbuffer_add_printf(b, "<form method=\"get\" action=\"/tracking\" id=\"search\">\n");
    for (size_t i = 0; i < N_FILTERS; i++) {
        const char *v = query_field(q, filters[i].name);

        evbuffer_add_printf(b,
                            "<label for=\"f-%s\">%s <input id=\"f-%s\" name=\"%s\" "
                            "maxlength=\"%zu\" size=\"40\"%s value=\"",
                            filters[i].name, filters[i].label, filters[i].name, filters[i].name,
                            filters[i].max, (int)i == bad ? " aria-invalid=\"true\"" : "");
        web_escapez(b, v);
        evbuffer_add_printf(b, "\"> <small>");
        web_escapez(b, filters[i].hint);
        evbuffer_add_printf(b, "</small></label>\n");
    }
    evbuffer_add_printf(b, "<button id=\"search-button\" type=\"submit\">Search</button> "
                           "<a href=\"/tracking\">Clear</a></form>\n");
}

struct results {
    struct evbuffer *b;
    unsigned limit, shown;
    bool more;
};

static void
result_row(void *arg, const struct track_message *m)
{
    struct results *r = arg;
    struct evbuffer *b = r->b;
    bool link = m->qid != NULL && ctl_is_id(m->qid);
    char when[48];

    /* The search asked for one more than the limit: its being found says that more match. */
    if (r->shown == r->limit) {
        r->more = true;
        return;
    }
    r->shown++;
    fmt_us(when, sizeof when, m->arrival, false);
    if (link)
        evbuffer_add_printf(b, "<tr id=\"row-%s\">", m->qid);
    else
        evbuffer_add_printf(b, "<tr>");
    evbuffer_add_printf(b, "<td>%s</td><td>", when);
    if (link)
        evbuffer_add_printf(b, "<a href=\"/tracking/message?id=%s\">%s</a>", m->qid, m->qid);
    else
        put_text(b, m->qid);
    evbuffer_add_printf(b, "</td><td>");
    put_sender(b, m->sender);
    evbuffer_add_printf(b, "</td><td>");
    for (size_t i = 0; i < m->n_rcpts && i < TRACKING_ROW_RCPTS; i++) {
        if (i > 0)
            evbuffer_add_printf(b, "<br>");
        web_escapez(b, m->rcpts[i]);
    }
    if (m->n_rcpts > TRACKING_ROW_RCPTS)
        evbuffer_add_printf(b, "<br>and %zu more", m->n_rcpts - TRACKING_ROW_RCPTS);
    if (m->n_rcpts == 0)
        evbuffer_add_printf(b, "-");
    evbuffer_add_printf(b, "</td><td class=\"subject\">");
    web_escapez(b, m->subject);
    evbuffer_add_printf(b, "</td><td>");
    put_text(b, m->door);
    evbuffer_add_printf(b, "</td><td>");
    put_text(b, m->client);
    evbuffer_add_printf(b, "</td><td class=\"status\">");
    put_text(b, m->status);
    evbuffer_add_printf(b, "</td></tr>\n");
}

void
tracking_page(struct req *q)
{
    struct evbuffer *b = evbuffer_new(), *rows;
    struct track_query tq = {0};
    struct results r = {0};
    struct track *t;
    char why[512];
    int bad, n;

    page_begin(b, "Tracking", q->s);
    note_tracking_off(q, b);
    if (!query_readable(q)) {
        page_error(b, "The query string cannot be read: search with the form.");
        search_form(q, b, -1);
        send_page(q, 400, "Bad Request", b);
        evbuffer_free(b);
        return;
    }
    bad = search_parse(q, &tq, why, sizeof why);
    if (bad != -1) {
        page_error(b, why);
        search_form(q, b, bad);
        send_page(q, 400, "Bad Request", b);
        evbuffer_free(b);
        return;
    }
    search_form(q, b, -1);
    switch (db_open(q, &t, why, sizeof why)) {
    case DB_MISSING:
        note_missing(b);
        send_page(q, 200, "OK", b);
        evbuffer_free(b);
        return;
    case DB_BROKEN:
        page_error(b, why);
        send_page(q, 503, "Service Unavailable", b);
        evbuffer_free(b);
        return;
    case DB_OPEN:
        break;
    }
    r.limit = tq.limit != 0 ? tq.limit : TRACK_LIMIT_DEFAULT;
    tq.limit = r.limit + 1;
    rows = evbuffer_new();
    r.b = rows;
    n = track_search(t, &tq, result_row, &r, why, sizeof why);
    track_close(t);
    if (n == -1) {
        log_warning("-: client=[%s], event=console-tracking, user=\"%s\", error=\"%s\"", q->client,
                    q->s->user, why);
        evbuffer_free(rows);
        page_error(b, why);
        send_page(q, 503, "Service Unavailable", b);
        evbuffer_free(b);
        return;
    }
    evbuffer_add_printf(b, "<h2>Results</h2>\n<p id=\"count\">%u shown%s</p>\n", r.shown,
                        r.more ? ", more match: narrow the search or raise the limit" : "");
    evbuffer_add_printf(b, "<table id=\"results\"><tr><th>Arrival</th><th>Queue id</th>"
                           "<th>Sender</th><th>Recipients</th><th>Subject</th><th>Door</th>"
                           "<th>Client</th><th>Status</th></tr>\n");
    evbuffer_add_buffer(b, rows);
    evbuffer_free(rows);
    evbuffer_add_printf(b, "</table>\n");
    send_page(q, 200, "OK", b);
    evbuffer_free(b);
}

/* ---- GET /tracking/message?id=QID ---- */

/* A recipient and what its attempts said, the last one last. */
struct rcpt_state {
    const char *rcpt;
    unsigned attempts;
    const char *status, *reply;
    size_t status_len, reply_len;
    int64_t when;
};

static int
rcpt_cmp(const void *a, const void *b)
{
    const struct rcpt_state *const *x = a, *const *y = b;

    return strcasecmp((*x)->rcpt, (*y)->rcpt);
}

static int
rcpt_key_cmp(const void *key, const void *elem)
{
    const struct rcpt_state *const *y = elem;

    return strcasecmp(key, (*y)->rcpt);
}

/* The recipients' table: each one's last attempt (found by a sorted index: O(events log n)). */
static void
message_rcpts(struct evbuffer *b, const struct track_message *m)
{
    size_t n = m->n_rcpts < TRACKING_RCPTS_MAX ? m->n_rcpts : TRACKING_RCPTS_MAX;
    struct rcpt_state *st = calloc(n + 1, sizeof *st);
    struct rcpt_state **by = calloc(n + 1, sizeof *by);
    char when[48];

    evbuffer_add_printf(b, "<h2>Recipients</h2>\n<table id=\"recipients\"><tr><th>Recipient"
                           "</th><th>Status</th><th>Attempts</th><th>Last attempt</th>"
                           "<th>Last reply</th></tr>\n");
    if (st == NULL || by == NULL) {
        free(st);
        free(by);
        evbuffer_add_printf(b, "</table>\n<p class=\"error\">Out of memory.</p>\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        st[i].rcpt = m->rcpts[i];
        by[i] = &st[i];
    }
    qsort(by, n, sizeof *by, rcpt_cmp);
    for (size_t i = 0; i < m->n_events; i++) {
        const struct track_row *e = &m->events[i];
        struct rcpt_state **found;

        if (e->rcpt == NULL || e->detail == NULL || strcmp(e->kind, "attempt") != 0)
            continue;
        found = bsearch(e->rcpt, by, n, sizeof *by, rcpt_key_cmp);
        if (found == NULL)
            continue;
        (*found)->attempts++;
        (*found)->when = e->time;
        (*found)->status_len = detail_value(e->detail, "status", &(*found)->status);
        (*found)->reply_len = detail_value(e->detail, "reply", &(*found)->reply);
    }
    for (size_t i = 0; i < n; i++) {
        evbuffer_add_printf(b, "<tr id=\"rcpt-%zu\"><td>", i + 1);
        web_escapez(b, st[i].rcpt);
        evbuffer_add_printf(b, "</td><td class=\"status\">");
        if (st[i].status_len > 0)
            web_escape(b, st[i].status, st[i].status_len);
        else
            evbuffer_add_printf(b, "not tried");
        fmt_us(when, sizeof when, st[i].when, false);
        evbuffer_add_printf(b, "</td><td>%u</td><td>%s</td><td>", st[i].attempts, when);
        if (st[i].reply_len > 0)
            web_escape(b, st[i].reply, st[i].reply_len);
        evbuffer_add_printf(b, "</td></tr>\n");
    }
    evbuffer_add_printf(b, "</table>\n");
    if (m->n_rcpts > n)
        evbuffer_add_printf(b,
                            "<p id=\"rcpts-more\">%zu more recipients not shown "
                            "(<code>gate26 track --id %s</code> lists them all).</p>\n",
                            m->n_rcpts - n, m->qid);
    free(st);
    free(by);
}

static void
message_field(struct evbuffer *b, const char *id, const char *label)
{
    evbuffer_add_printf(b, "<tr><th>%s</th><td id=\"m-%s\">", label, id);
}

struct shown_message {
    struct evbuffer *b;
    bool found;
};

static void
message_show(void *arg, const struct track_message *m)
{
    struct shown_message *sm = arg;
    struct evbuffer *b = sm->b;
    size_t n = m->n_events < TRACKING_EVENTS_MAX ? m->n_events : TRACKING_EVENTS_MAX;
    char when[48];

    if (sm->found)
        return; /* a queue id is one message */
    sm->found = true;
    evbuffer_add_printf(b, "<table id=\"message\">\n");
    message_field(b, "qid", "Queue id");
    put_text(b, m->qid);
    evbuffer_add_printf(b, "</td></tr>\n");
    message_field(b, "message-id", "Message-ID");
    if (m->message_id != NULL)
        put_search_link(b, "message-id", m->message_id, m->message_id);
    else
        put_text(b, NULL);
    evbuffer_add_printf(b, "</td></tr>\n");
    message_field(b, "sender", "Sender");
    if (m->sender != NULL)
        put_search_link(b, "from", m->sender[0] == '\0' ? "<>" : m->sender,
                        m->sender[0] == '\0' ? "<>" : m->sender);
    else
        put_text(b, NULL);
    evbuffer_add_printf(b, "</td></tr>\n");
    message_field(b, "size", "Size");
    evbuffer_add_printf(b, "%" PRIu64 " octets</td></tr>\n", m->size);
    message_field(b, "door", "Door");
    put_text(b, m->door);
    evbuffer_add_printf(b, "</td></tr>\n");
    message_field(b, "client", "Client");
    if (m->client != NULL)
        put_search_link(b, "client", m->client, m->client);
    else
        put_text(b, NULL);
    evbuffer_add_printf(b, "</td></tr>\n");
    message_field(b, "helo", "HELO");
    put_text(b, m->helo);
    evbuffer_add_printf(b, "</td></tr>\n");
    fmt_us(when, sizeof when, m->arrival, false);
    message_field(b, "arrival", "Arrival");
    evbuffer_add_printf(b, "%s</td></tr>\n", when);
    message_field(b, "subject", "Subject");
    web_escapez(b, m->subject);
    evbuffer_add_printf(b, "</td></tr>\n");
    message_field(b, "status", "Status");
    put_text(b, m->status);
    fmt_us(when, sizeof when, m->updated, false);
    evbuffer_add_printf(b, " <small>(since %s)</small></td></tr>\n</table>\n", when);

    message_rcpts(b, m);

    evbuffer_add_printf(b, "<h2>Events</h2>\n<table id=\"events\"><tr><th>Time</th><th>Kind"
                           "</th><th>Recipient</th><th>Detail</th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        const struct track_row *e = &m->events[i];

        fmt_us(when, sizeof when, e->time, true);
        evbuffer_add_printf(b, "<tr id=\"event-%zu\"><td>%s</td><td class=\"kind\">", i + 1, when);
        web_escapez(b, e->kind);
        evbuffer_add_printf(b, "</td><td>");
        web_escapez(b, e->rcpt);
        evbuffer_add_printf(b, "</td><td class=\"detail\">");
        web_escapez(b, e->detail);
        evbuffer_add_printf(b, "</td></tr>\n");
    }
    evbuffer_add_printf(b, "</table>\n");
    if (m->n_events > n)
        evbuffer_add_printf(b,
                            "<p id=\"events-more\">%zu later events not shown "
                            "(<code>gate26 track --id %s</code> shows them all).</p>\n",
                            m->n_events - n, m->qid);
}

void
tracking_message(struct req *q)
{
    const char *id = query_field(q, "id");
    struct track_query tq = {.limit = 1};
    struct shown_message sm = {0};
    struct evbuffer *b;
    struct track *t;
    char why[512], title[64];
    int n;

    if (id == NULL || !ctl_is_id(id)) {
        send_error(q, 400, "Bad Request",
                   id == NULL ? "Which message? /tracking/message?id=QID (a queue id)."
                              : "Not a queue id: 16 hex digits (0-9, A-F) expected.");
        return;
    }
    switch (db_open(q, &t, why, sizeof why)) {
    case DB_MISSING:
        send_error(q, 404, "Not Found", "No tracking database yet: no message is recorded.");
        return;
    case DB_BROKEN:
        send_error(q, 503, "Service Unavailable", why);
        return;
    case DB_OPEN:
        break;
    }
    b = evbuffer_new();
    (void)str_fmt(title, sizeof title, "Message %s", id);
    page_begin(b, title, q->s);
    note_tracking_off(q, b);
    evbuffer_add_printf(b, "<p><a href=\"/tracking\">Search</a></p>\n");
    sm.b = b;
    tq.qid = id;
    n = track_search(t, &tq, message_show, &sm, why, sizeof why);
    track_close(t);
    if (n == -1) {
        log_warning("-: client=[%s], event=console-tracking, user=\"%s\", error=\"%s\"", q->client,
                    q->s->user, why);
        evbuffer_free(b);
        send_error(q, 503, "Service Unavailable", why);
        return;
    }
    if (!sm.found) {
        evbuffer_free(b);
        (void)str_fmt(why, sizeof why, "No message %s in the tracking database.", id);
        send_error(q, 404, "Not Found", why);
        return;
    }
    send_page(q, 200, "OK", b);
    evbuffer_free(b);
}
