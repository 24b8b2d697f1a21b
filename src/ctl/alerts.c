/* SPDX-License-Identifier: MIT */
/* alerts-json (alerts.h): the watcher's rules, what fires, and its history, as one document. */
#include <event2/buffer.h>
#include <jansson.h>

#include "ctl/alerts.h"
#include "ctl/status.h"
#include "lib/log.h"

static void
need(json_t *v)
{
    if (v == NULL)
        log_panic("alerts: out of memory for the document");
}

/* Lists the first CTL_STATUS_ALERTS_MAX, as status-json does. */
static void
firing_one(void *arg, const struct watch_alert *a)
{
    json_t *o;

    if (json_array_size(arg) >= CTL_STATUS_ALERTS_MAX)
        return;
    o = ctl_status_alert(a);
    need(o);
    if (json_array_append_new(arg, o) == -1)
        log_panic("alerts: out of memory for the document");
}

static void
history_one(void *arg, const struct watch_alert_event *e)
{
    json_t *o =
        json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:o}", "time", (json_int_t)e->time,
                  "rule", e->rule, "when", conf_alert_when_name(e->when), "key", e->key, "value",
                  (json_int_t)e->value, "threshold",
                  (json_int_t)(e->threshold > INT64_MAX ? INT64_MAX : e->threshold), "window",
                  (json_int_t)e->window, "state", e->firing ? "firing" : "resolved", "door",
                  e->door >= 0 && e->door < DOOR_ROLE_COUNT
                      ? json_string(conf_role_name((enum door_role)e->door))
                      : json_null());

    need(o);
    if (json_array_append_new(arg, o) == -1)
        log_panic("alerts: out of memory for the document");
}

json_t *
ctl_alerts_doc(struct watch *w)
{
    json_t *rules = watch_alert_rules_json(w), *firing = json_array(), *history = json_array();
    json_t *doc;

    need(rules);
    need(firing);
    need(history);
    (void)watch_alerts_firing(w, firing_one, firing);
    (void)watch_alert_history(w, history_one, history);
    doc = json_pack("{s:o, s:o, s:o}", "rules", rules, "firing", firing, "history", history);
    need(doc);
    return doc;
}

static int
dump_to(const char *p, size_t len, void *out)
{
    return evbuffer_add(out, p, len);
}

void
ctl_alerts_answer(struct watch *w, struct evbuffer *out)
{
    json_t *doc = ctl_alerts_doc(w);

    if (json_dump_callback(doc, dump_to, out, JSON_COMPACT | JSON_PRESERVE_ORDER) == -1)
        log_panic("alerts: cannot write the document (out of memory)");
    (void)evbuffer_add(out, "\n", 1);
    json_decref(doc);
}
