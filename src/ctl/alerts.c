/* SPDX-License-Identifier: MIT */
/* alerts-json (alerts.h): the watcher's rules, what fires, and its history, as one document. */
#include <stdbool.h>
#include <string.h>

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

/*
 * A list of the document, bounded twice: at most CTL_STATUS_ALERTS_MAX
 * entries, and at most CTL_ALERTS_LIST_OCTETS of JSON by a worst-case
 * estimate (every octet of the key and the rule escaped), so that the whole
 * answer stays under CTL_ANSWER_MAX whatever keys a client made fire.
 */
struct list {
    json_t *arr;
    size_t octets;
    bool cut;
};

static bool
room(struct list *l, const char *rule, const char *key)
{
    size_t n = 2 * (strlen(rule != NULL ? rule : "") + strlen(key != NULL ? key : "")) + 256;

    if (l->cut || json_array_size(l->arr) >= CTL_STATUS_ALERTS_MAX ||
        l->octets + n > CTL_ALERTS_LIST_OCTETS) {
        l->cut = true;
        return false;
    }
    l->octets += n;
    return true;
}

static void
append(struct list *l, json_t *o)
{
    need(o);
    if (json_array_append_new(l->arr, o) == -1)
        log_panic("alerts: out of memory for the document");
}

static void
firing_one(void *arg, const struct watch_alert *a)
{
    if (room(arg, a->rule, a->key))
        append(arg, ctl_status_alert(a));
}

static void
history_one(void *arg, const struct watch_alert_event *e)
{
    if (!room(arg, e->rule, e->key))
        return;
    append(arg,
           json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:o}", "time", (json_int_t)e->time,
                     "rule", e->rule, "when", conf_alert_when_name(e->when), "key", e->key, "value",
                     (json_int_t)e->value, "threshold",
                     (json_int_t)(e->threshold > INT64_MAX ? INT64_MAX : e->threshold), "window",
                     (json_int_t)e->window, "state", e->firing ? "firing" : "resolved", "door",
                     e->door >= 0 && e->door < DOOR_ROLE_COUNT
                         ? json_string(conf_role_name((enum door_role)e->door))
                         : json_null()));
}

json_t *
ctl_alerts_doc(struct watch *w)
{
    struct list firing = {json_array(), 0, false}, history = {json_array(), 0, false};
    json_t *rules = watch_alert_rules_json(w), *doc;

    need(rules);
    need(firing.arr);
    need(history.arr);
    (void)watch_alerts_firing(w, firing_one, &firing);
    (void)watch_alert_history(w, history_one, &history);
    doc = json_pack("{s:o, s:o, s:b, s:o, s:b}", "rules", rules, "firing", firing.arr, "firing_cut",
                    firing.cut, "history", history.arr, "history_cut", history.cut);
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
