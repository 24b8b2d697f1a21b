/* SPDX-License-Identifier: MIT */
/*
 * The quarantine (GET /quarantine, /quarantine/message; POST
 * /quarantine/action), admins only. The list and a message are read from
 * SPOOL/quarantine/ by the console itself (it runs as the spool's user),
 * through the one reader `gate26 quarantine list|show` uses
 * (ctl/quarantine_read.h); release and delete go to the daemon's control
 * socket ("quarantine release|delete ID...", ctl/quarantine.h), so that its
 * scheduler learns of a released message. delete takes two steps (a
 * confirmation page). docs/console.md, "Quarantine".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "conf/conf.h"
#include "console/console_impl.h"
#include "console/preview.h"
#include "ctl/quarantine_read.h"
#include "ctl/request.h"
#include "lib/slice.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mailauth/msghdr.h"

/* At most this many rows on the page (the note says how many there are). */
#define QUARANTINE_ROWS_MAX 500
/* The list reads this much of each message for its Subject. */
#define QUARANTINE_LIST_HEAD 16384
/* A message's page shows at most this much of its header section, */
#define QUARANTINE_HEADERS_MAX (64 * 1024)
/* and the first this many octets of its body. */
#define QUARANTINE_PREVIEW_MAX 8192
/* Header fields parsed for the Subject and the body's encoding (more: none is looked for). */
#define QUARANTINE_FIELDS_MAX 1000
/* Ids in one request to the daemon: "quarantine release" and 256 ids fit CTL_REQUEST_MAX. */
#define QUARANTINE_IDS_PER_REQUEST 256

/* The unfolded value of the header section's first field name into out ("" when none). */
static bool
header_value(const char *head, size_t len, const char *name, char *out, size_t cap)
{
    struct msghdr_section h = {0};
    const char *why;
    bool found = false;

    out[0] = '\0';
    if (msghdr_parse(&h, (struct slice){head, len}, QUARANTINE_FIELDS_MAX, &why) == -1) {
        msghdr_clear(&h);
        return false;
    }
    for (size_t i = 0; i < h.n && !found; i++) {
        if (!msghdr_name_is(&h.f[i], name))
            continue;
        struct slice v = h.f[i].value;

        /* Cut a long value first: msghdr_unfold refuses what does not fit. */
        if (v.len >= cap)
            v.len = cap - 1;
        while (v.len > 0 && (v.p[0] == ' ' || v.p[0] == '\t')) {
            v.p++;
            v.len--;
        }
        found = msghdr_unfold(v, out, cap) >= 0;
    }
    msghdr_clear(&h);
    return found;
}

/* The header section without its empty line, as msghdr_parse wants it. */
static size_t
section_len(const char *head, size_t len, bool complete)
{
    if (!complete)
        return len;
    if (len >= 4 && memcmp(head + len - 4, "\r\n\r\n", 4) == 0)
        return len - 2;
    return len >= 2 ? len - 1 : len;
}

struct list_ctx {
    struct evbuffer *b;
    unsigned keep;
    size_t n, unreadable;
};

static void
list_row(void *arg, const char *id, const struct spool_quarantined *m, const char *why)
{
    struct list_ctx *x = arg;
    char when[64], expires[64], subject[256];
    size_t len;
    bool complete;
    char *head;

    if (m == NULL) {
        x->unreadable++;
        evbuffer_add_printf(x->b, "<tr class=\"error\"><td></td><td>%s</td><td colspan=\"8\">",
                            ctl_is_id(id) ? id : "?");
        web_escapez(x->b, why);
        evbuffer_add_printf(x->b, "</td></tr>\n");
        return;
    }
    if (x->n++ >= QUARANTINE_ROWS_MAX || !ctl_is_id(id))
        return;
    head = ctl_quarantine_headers(m, QUARANTINE_LIST_HEAD, &len, &complete);
    (void)header_value(head, section_len(head, len, complete), "Subject", subject, sizeof subject);
    free(head);
    fmt_time(when, sizeof when, (int64_t)m->rec.at);
    fmt_time(expires, sizeof expires, (int64_t)m->rec.at + (int64_t)x->keep);
    evbuffer_add_printf(x->b,
                        "<tr id=\"qrow-%s\"><td><input type=\"checkbox\" name=\"id\" value=\"%s\" "
                        "id=\"check-%s\"></td><td><a href=\"/quarantine/message?id=%s\">%s</a>"
                        "</td><td>%s</td><td><strong>",
                        id, id, id, id, id, when);
    web_escapez(x->b, m->rec.check);
    evbuffer_add_printf(x->b, "</strong> ");
    web_escapez(x->b, m->rec.reason);
    evbuffer_add_printf(x->b, "</td><td>&lt;");
    web_escapez(x->b, m->env.sender);
    evbuffer_add_printf(x->b, "&gt;</td><td>");
    for (size_t i = 0; i < m->env.n_rcpts; i++) {
        if (i > 0)
            evbuffer_add_printf(x->b, "<br>");
        web_escapez(x->b, m->env.rcpts[i].addr);
    }
    evbuffer_add_printf(x->b, "</td><td class=\"subject\">");
    web_escapez(x->b, subject);
    evbuffer_add_printf(x->b, "</td><td>%llu</td><td>%s</td></tr>\n",
                        (unsigned long long)m->content_len, expires);
}

/* The list, an action's result above it (result NULL: none). */
static void
quarantine_render(struct req *q, int code, const char *reason, const char *result, bool ok)
{
    struct evbuffer *b = evbuffer_new(), *rows = evbuffer_new();
    struct list_ctx x = {.b = rows, .keep = q->con->conf->quarantine_keep};
    char why[768];

    page_begin(b, "Quarantine", q->s);
    if (result != NULL)
        result_block(b, result, ok);
    if (ctl_quarantine_read(q->con->conf->spool, NULL, list_row, &x, why, sizeof why) != 0) {
        page_error(b, why);
        evbuffer_free(rows);
        send_page(q, result != NULL ? code : 503, result != NULL ? reason : "Service Unavailable",
                  b);
        evbuffer_free(b);
        return;
    }
    evbuffer_add_printf(b, "<p id=\"count\">%zu message%s in quarantine", x.n, x.n == 1 ? "" : "s");
    if (x.n > QUARANTINE_ROWS_MAX)
        evbuffer_add_printf(b, "; the oldest %d are shown", QUARANTINE_ROWS_MAX);
    if (x.unreadable > 0)
        evbuffer_add_printf(b, "; %zu cannot be read (below)", x.unreadable);
    evbuffer_add_printf(b, ". They are deleted when they expire.</p>\n"
                           "<form method=\"post\" action=\"/quarantine/action\" id=\"actions\">");
    csrf_field(b, q->s);
    evbuffer_add_printf(b, "\n<table id=\"quarantine-table\"><tr><th></th><th>Id</th>"
                           "<th>Quarantined</th><th>Why</th><th>Sender</th><th>Recipients</th>"
                           "<th>Subject</th><th>Size</th><th>Expires</th></tr>\n");
    evbuffer_add_buffer(b, rows);
    evbuffer_free(rows);
    evbuffer_add_printf(b, "</table>\n<p>Selected: <button type=\"submit\" name=\"action\" "
                           "value=\"release\" id=\"do-release\">release</button> (delivered "
                           "unchanged) <button type=\"submit\" name=\"action\" value=\"delete\" "
                           "id=\"do-delete\">delete</button></p></form>\n");
    send_page(q, code, reason, b);
    evbuffer_free(b);
}

void
quarantine_page(struct req *q)
{
    quarantine_render(q, 200, "OK", NULL, false);
}

/* ---- one message ---- */

/* The body's first octets as text: decoded when one text/plain part is encoded. */
static void
preview(struct evbuffer *b, const struct spool_quarantined *m, const char *head, size_t hlen,
        size_t section)
{
    char ctype[256], cte_text[64], *raw, *text;
    size_t len;
    bool has_ct = header_value(head, section, "Content-Type", ctype, sizeof ctype);
    bool has_cte =
        header_value(head, section, "Content-Transfer-Encoding", cte_text, sizeof cte_text);
    enum preview_cte cte = preview_cte_of(has_cte ? cte_text : NULL);
    const char *note;
    long n;

    raw = ctl_quarantine_content(m, hlen, QUARANTINE_PREVIEW_MAX, &len);
    text = xmalloc(QUARANTINE_PREVIEW_MAX + 1);
    if (!preview_is_text_plain(has_ct ? ctype : NULL)) {
        note = "Not one text/plain part: the body as it is, not decoded.";
        cte = PREVIEW_IDENTITY;
    } else if (cte == PREVIEW_UNKNOWN) {
        note = "An unknown transfer encoding: the body as it is, not decoded.";
        cte = PREVIEW_IDENTITY;
    } else if (cte == PREVIEW_QP) {
        note = "Decoded from quoted-printable.";
    } else if (cte == PREVIEW_BASE64) {
        note = "Decoded from base64.";
    } else {
        note = NULL;
    }
    n = preview_decode(cte, raw, len, text, QUARANTINE_PREVIEW_MAX + 1);
    if (n < 0) {
        note = "Not valid base64: the body as it is, not decoded.";
        n = preview_decode(PREVIEW_IDENTITY, raw, len, text, QUARANTINE_PREVIEW_MAX + 1);
    }
    evbuffer_add_printf(b,
                        "<h2>Text preview</h2>\n<p id=\"preview-note\">The first %d octets of "
                        "the body%s",
                        QUARANTINE_PREVIEW_MAX, m->content_len - hlen > len ? " (cut)" : "");
    if (note != NULL) {
        evbuffer_add_printf(b, ". ");
        web_escapez(b, note);
    }
    evbuffer_add_printf(b, "</p>\n<pre id=\"preview\">");
    web_escape(b, text, (size_t)n);
    evbuffer_add_printf(b, "</pre>\n");
    free(text);
    free(raw);
}

struct show_ctx {
    struct evbuffer *b;
    unsigned keep;
};

static void
show_one(void *arg, const char *id, const struct spool_quarantined *m, const char *why)
{
    struct show_ctx *x = arg;
    struct evbuffer *b = x->b;
    char when[64], expires[64];
    size_t hlen;
    bool complete;
    char *head;

    (void)why; /* with an id, called only for a message that was read */
    fmt_time(when, sizeof when, (int64_t)m->rec.at);
    fmt_time(expires, sizeof expires, (int64_t)m->rec.at + (int64_t)x->keep);
    evbuffer_add_printf(b,
                        "<h2 id=\"message-id\">%s</h2>\n<table id=\"envelope\">"
                        "<tr><th>Quarantined</th><td>%s</td></tr><tr><th>Check</th><td>",
                        id, when);
    web_escapez(b, m->rec.check);
    evbuffer_add_printf(b, "</td></tr><tr><th>Reason</th><td>");
    web_escapez(b, m->rec.reason);
    evbuffer_add_printf(b, "</td></tr><tr><th>Sender</th><td>&lt;");
    web_escapez(b, m->env.sender);
    evbuffer_add_printf(b, "&gt;</td></tr>");
    for (size_t i = 0; i < m->env.n_rcpts; i++) {
        evbuffer_add_printf(b, "<tr><th>Recipient</th><td>");
        web_escapez(b, m->env.rcpts[i].addr);
        evbuffer_add_printf(b, "</td></tr>");
    }
    evbuffer_add_printf(b,
                        "<tr><th>Size</th><td>%llu</td></tr><tr><th>Door</th><td>%s</td></tr>"
                        "<tr><th>Client</th><td>",
                        (unsigned long long)m->content_len, conf_role_name(m->env.door));
    web_escapez(b, m->env.client_addr);
    evbuffer_add_printf(b, "</td></tr><tr><th>HELO</th><td>");
    web_escapez(b, m->env.helo);
    evbuffer_add_printf(b, "</td></tr><tr><th>Expires</th><td>%s</td></tr></table>\n", expires);
    head = ctl_quarantine_headers(m, QUARANTINE_HEADERS_MAX, &hlen, &complete);
    evbuffer_add_printf(b, "<h2>Header section</h2>\n");
    if (!complete)
        evbuffer_add_printf(b,
                            "<p>The first %d octets (no end of the header section in them)."
                            "</p>\n",
                            QUARANTINE_HEADERS_MAX);
    evbuffer_add_printf(b, "<pre id=\"headers\">");
    web_escape(b, head, hlen);
    evbuffer_add_printf(b, "</pre>\n");
    if (complete)
        preview(b, m, head, hlen, section_len(head, hlen, complete));
    free(head);
}

void
quarantine_message(struct req *q)
{
    const char *id = query_field(q, "id");
    struct show_ctx x = {.keep = q->con->conf->quarantine_keep};
    char why[768];
    int rc;

    if (id == NULL || !ctl_is_id(id)) {
        send_error(q, 400, "Bad Request", "id: expected a queue id (16 upper-case hex digits)");
        return;
    }
    x.b = evbuffer_new();
    page_begin(x.b, "Quarantined message", q->s);
    rc = ctl_quarantine_read(q->con->conf->spool, id, show_one, &x, why, sizeof why);
    if (rc != 0) {
        evbuffer_free(x.b);
        if (rc == -2 && errno == ENOENT)
            send_error(q, 404, "Not Found", "No such message in quarantine.");
        else
            send_error(q, rc == -2 ? 500 : 503,
                       rc == -2 ? "Internal Server Error" : "Service Unavailable", why);
        return;
    }
    evbuffer_add_printf(x.b, "<form method=\"post\" action=\"/quarantine/action\" id=\"actions\">");
    csrf_field(x.b, q->s);
    evbuffer_add_printf(x.b,
                        "<input type=\"hidden\" name=\"id\" value=\"%s\"><button type=\"submit\" "
                        "name=\"action\" value=\"release\" id=\"do-release\">release</button> "
                        "<button type=\"submit\" name=\"action\" value=\"delete\" "
                        "id=\"do-delete\">delete</button></form>\n<p><a href=\"/quarantine\">"
                        "the quarantine</a></p>\n",
                        id);
    send_page(q, 200, "OK", x.b);
    evbuffer_free(x.b);
}

/* ---- actions ---- */

/*
 * Sends "quarantine VERB ID..." for every id, QUARANTINE_IDS_PER_REQUEST at
 * a time, into answer (the lines of every answer). Returns 0 when the
 * daemon answered each (*ok: every id done), or -1 with why.
 */
static int
quarantine_ask(struct req *q, bool release, const struct ctl_request *req, struct evbuffer *all,
               bool *ok, char *why, size_t whycap)
{
    char line[CTL_REQUEST_MAX + 32];

    *ok = true;
    for (size_t from = 0; from < req->n_ids; from += QUARANTINE_IDS_PER_REQUEST) {
        size_t to = from + QUARANTINE_IDS_PER_REQUEST, n;
        bool one_ok;
        char *answer;

        if (to > req->n_ids)
            to = req->n_ids;
        (void)str_fmt(line, sizeof line, "quarantine %s", release ? "release" : "delete");
        for (size_t i = from; i < to; i++) {
            n = strlen(line);
            (void)str_fmt(line + n, sizeof line - n, " %s", req->ids[i]);
        }
        n = strlen(line);
        (void)str_fmt(line + n, sizeof line - n, "\n");
        answer = console_ctl_text(q, line, &one_ok, why, whycap);
        if (answer == NULL)
            return -1;
        *ok = *ok && one_ok;
        evbuffer_add_printf(all, "%s", answer);
        free(answer);
    }
    return 0;
}

void
quarantine_action(struct req *q)
{
    const char *action = field(q, "action"), *confirm = field(q, "confirm");
    struct ctl_request *req = xcalloc(1, sizeof(*req));
    struct evbuffer *all;
    char why[512], *text;
    bool release, ok;
    size_t len;

    if (action == NULL || (strcmp(action, "release") != 0 && strcmp(action, "delete") != 0)) {
        send_error(q, 400, "Bad Request", "action: expected release or delete");
        free(req);
        return;
    }
    release = strcmp(action, "release") == 0;
    if (form_ids(q, req, why, sizeof why) == -1) {
        send_error(q, 400, "Bad Request", why);
        free(req);
        return;
    }
    if (req->n_ids == 0) {
        send_error(q, 400, "Bad Request", "no message selected");
        free(req);
        return;
    }
    if (confirm != NULL && strcmp(confirm, "yes") != 0) {
        send_error(q, 400, "Bad Request", "confirm: expected yes");
        free(req);
        return;
    }
    if (!release && confirm == NULL) {
        confirm_page(q, "/quarantine/action", action, "Delete these messages without delivering?",
                     req);
        free(req);
        return;
    }
    all = evbuffer_new();
    if (quarantine_ask(q, release, req, all, &ok, why, sizeof why) == -1) {
        log_ids_action(q, release ? "quarantine-release" : "quarantine-delete", req, why);
        evbuffer_free(all);
        free(req);
        send_error(q, 503, "Service Unavailable", why);
        return;
    }
    len = evbuffer_get_length(all);
    text = xmalloc(len + 1);
    (void)evbuffer_remove(all, text, len);
    text[len] = '\0';
    evbuffer_free(all);
    log_ids_action(q, release ? "quarantine-release" : "quarantine-delete", req, text);
    free(req);
    quarantine_render(q, 200, "OK", text, ok);
    free(text);
}
