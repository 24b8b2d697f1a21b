/* SPDX-License-Identifier: MIT */
/*
 * What the queue's and the quarantine's actions share (console_impl.h):
 * the ids of a form, checked as the control socket checks them; the
 * confirmation step of an action that cannot be undone; the daemon's
 * per-message lines on the page; the action's log line.
 */
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "console/console_impl.h"
#include "ctl/request.h"
#include "lib/str.h"

/* How many ids an action's log line names (then "..."). */
#define ACTION_LOG_IDS 32

int
form_ids(struct req *q, struct ctl_request *req, char *why, size_t whycap)
{
    struct evkeyval *kv;
    size_t n = 0;

    if (!q->has_form)
        return 0;
    /* Counted first: the CLI's own words for too many ids speak of its options. */
    TAILQ_FOREACH(kv, &q->form, next)
    {
        n += strcmp(kv->key, "id") == 0;
    }
    if (n > CTL_IDS_MAX) {
        (void)str_fmt(why, whycap, "%zu messages selected: at most %d at once", n, CTL_IDS_MAX);
        return -1;
    }
    TAILQ_FOREACH(kv, &q->form, next)
    {
        if (strcmp(kv->key, "id") == 0 && ctl_request_add_id(req, kv->value, why, whycap) == -1)
            return -1;
    }
    return 0;
}

void
confirm_page(struct req *q, const char *path, const char *action, const char *question,
             const struct ctl_request *req)
{
    struct evbuffer *b = evbuffer_new();

    page_begin(b, "Confirm", q->s);
    evbuffer_add_printf(b, "<p id=\"confirm-what\">");
    web_escapez(b, question);
    evbuffer_add_printf(b, " (%zu message%s; this cannot be undone)</p>\n<ul id=\"confirm-ids\">",
                        req->n_ids, req->n_ids == 1 ? "" : "s");
    /* The ids were checked (ctl_request_add_id): hex digits only. */
    for (size_t i = 0; i < req->n_ids; i++)
        evbuffer_add_printf(b, "<li>%s</li>", req->ids[i]);
    evbuffer_add_printf(b, "</ul>\n<form method=\"post\" action=\"%s\">", path);
    csrf_field(b, q->s);
    evbuffer_add_printf(b, "<input type=\"hidden\" name=\"action\" value=\"%s\">", action);
    for (size_t i = 0; i < req->n_ids; i++)
        evbuffer_add_printf(b, "<input type=\"hidden\" name=\"id\" value=\"%s\">", req->ids[i]);
    evbuffer_add_printf(b,
                        "<button type=\"submit\" name=\"confirm\" value=\"yes\" id=\"confirm\">"
                        "Yes, %s</button> <a href=\"%.*s\" id=\"cancel\">cancel</a></form>\n",
                        action, (int)(strrchr(path, '/') - path), path); /* back to the list */
    send_page(q, 200, "OK", b);
    evbuffer_free(b);
}

void
result_block(struct evbuffer *b, const char *answer, bool ok)
{
    evbuffer_add_printf(b, "<pre id=\"result\" class=\"%s\">", ok ? "ok" : "error");
    web_escapez(b, answer);
    evbuffer_add_printf(b, "</pre>\n");
}

/* The last line of an answer without its LF ("= 2 messages put on hold"), quotes made safe. */
static void
answer_summary(const char *answer, char *out, size_t cap)
{
    const char *end = answer + strlen(answer), *p;

    while (end > answer && end[-1] == '\n')
        end--;
    for (p = end; p > answer && p[-1] != '\n'; p--)
        ;
    (void)str_copy(out, cap, p, (size_t)(end - p));
    for (char *c = out; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            *c = '?';
    }
}

void
log_ids_action(struct req *q, const char *action, const struct ctl_request *req, const char *answer)
{
    char detail[ACTION_LOG_IDS * (SPOOL_ID_LEN + 1) + 300], summary[200];
    size_t len;

    answer_summary(answer, summary, sizeof summary);
    (void)str_fmt(detail, sizeof detail, "ids=");
    for (size_t i = 0; i < req->n_ids && i < ACTION_LOG_IDS; i++) {
        len = strlen(detail);
        (void)str_fmt(detail + len, sizeof detail - len, "%s%s", i > 0 ? "," : "", req->ids[i]);
    }
    len = strlen(detail);
    if (req->n_ids > ACTION_LOG_IDS)
        (void)str_fmt(detail + len, sizeof detail - len, ",...");
    else if (req->n_ids == 0)
        (void)str_fmt(detail + len, sizeof detail - len, "all");
    len = strlen(detail);
    (void)str_fmt(detail + len, sizeof detail - len, ", n=%zu, result=\"%s\"", req->n_ids, summary);
    log_action(q, action, detail);
}
