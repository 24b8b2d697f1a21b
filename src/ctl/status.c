/* SPDX-License-Identifier: MIT */
/*
 * `gate26 status` in the daemon (status.h): the document of the watcher's
 * windows (watch_status), the scheduler's queue (sched_queue_facts) and
 * the alerts firing (watch_alerts_firing), made with jansson; answered as
 * JSON ("status-json") or as the client's table ("status").
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "conf/conf.h"
#include "ctl/status.h"
#include "lib/log.h"
#include "lib/str.h"

static const char *const span_names[WATCH_SPAN_COUNT] = {
    [WATCH_SPAN_MINUTE] = "last_minute",
    [WATCH_SPAN_HOUR] = "last_hour",
    [WATCH_SPAN_START] = "since_start",
};

static const char *const delivery_names[WATCH_DELIVERY_COUNT] = {
    [WATCH_DELIVERY_SENT] = "sent",
    [WATCH_DELIVERY_DEFERRED] = "deferred",
    [WATCH_DELIVERY_BOUNCED] = "bounced",
};

/* A count as JSON: jansson's integers are signed; no count comes near 2^63. */
static json_t *
count(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* Sets key of obj to v (a new reference, stolen); jansson aborts nothing, so we do. */
static void
put(json_t *obj, const char *key, json_t *v)
{
    if (v == NULL || json_object_set_new(obj, key, v) == -1)
        log_panic("status: cannot build the document (out of memory)");
}

static void
append(json_t *arr, json_t *v)
{
    if (v == NULL || json_array_append_new(arr, v) == -1)
        log_panic("status: cannot build the document (out of memory)");
}

static json_t *
object(void)
{
    json_t *o = json_object();

    if (o == NULL)
        log_panic("status: cannot build the document (out of memory)");
    return o;
}

static json_t *
array(void)
{
    json_t *a = json_array();

    if (a == NULL)
        log_panic("status: cannot build the document (out of memory)");
    return a;
}

static json_t *
counts_doc(const struct watch_counts *c)
{
    json_t *o = object();

    put(o, "connections", count(c->connections));
    put(o, "messages", count(c->messages));
    put(o, "refusals", count(c->refusals));
    put(o, "auth_failures", count(c->auth_failures));
    return o;
}

/* "192.0.2.7", or "2001:db8:0:1::/64" for an IPv6 client. */
static json_t *
client_doc(const struct watch_client_count *c)
{
    char addr[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 4];
    json_t *o = object();

    if (inet_ntop(c->family, c->addr, addr, sizeof(addr)) == NULL)
        (void)str_fmt(text, sizeof(text), "?");
    else
        (void)str_fmt(text, sizeof(text), "%s%s", addr, c->family == AF_INET6 ? "/64" : "");
    put(o, "client", json_string(text));
    put(o, "messages", count(c->messages));
    put(o, "refusals", count(c->refusals));
    return o;
}

static json_t *
door_doc(const struct watch_door_status *d)
{
    json_t *o = object(), *top = array();

    put(o, "listening", json_boolean(d->listening));
    put(o, "sessions_open", count(d->sessions_open));
    for (int s = 0; s < WATCH_SPAN_COUNT; s++)
        put(o, span_names[s], counts_doc(&d->span[s]));
    for (size_t i = 0; i < d->n_top && i < WATCH_TOP_CLIENTS; i++)
        append(top, client_doc(&d->top[i]));
    put(o, "top_clients", top);
    return o;
}

json_t *
ctl_status_alert(const struct watch_alert *a)
{
    json_t *o = object();

    put(o, "rule", json_string(a->rule != NULL ? a->rule : ""));
    put(o, "when", json_string(a->when != NULL ? a->when : ""));
    put(o, "key", json_string(a->key != NULL ? a->key : ""));
    put(o, "value", json_integer(a->value));
    put(o, "threshold", count(a->threshold));
    put(o, "since", json_integer((json_int_t)a->since));
    return o;
}

json_t *
ctl_status_doc(const struct watch_status *st, const struct sched_queue_facts *q, size_t firing,
               json_t *alerts, time_t now)
{
    json_t *doc = object(), *doors = object(), *queue = object(), *deliveries = object();

    put(doc, "version", json_string(GATE26_VERSION));
    put(doc, "hostname", json_string(st->hostname != NULL ? st->hostname : ""));
    put(doc, "time", json_integer((json_int_t)now));
    put(doc, "uptime_seconds", count(st->uptime_seconds));
    for (int d = 0; d < DOOR_ROLE_COUNT; d++)
        put(doors, conf_role_name((enum door_role)d), door_doc(&st->door[d]));
    put(doc, "doors", doors);
    put(queue, "messages", count(q->messages));
    put(queue, "oldest_seconds",
        json_integer(q->oldest == 0 || q->oldest > now ? 0 : (json_int_t)(now - q->oldest)));
    put(queue, "deferred", count(q->deferred));
    put(queue, "held", count(q->held));
    put(doc, "queue", queue);
    for (int s = 0; s < WATCH_SPAN_COUNT; s++) {
        json_t *o = object();

        for (int k = 0; k < WATCH_DELIVERY_COUNT; k++)
            put(o, delivery_names[k], count(st->deliveries[s][k]));
        put(deliveries, span_names[s], o);
    }
    put(doc, "deliveries", deliveries);
    put(doc, "alerts_firing", count(firing));
    put(doc, "alerts", json_incref(alerts));
    return doc;
}

/* Lists the first CTL_STATUS_ALERTS_MAX: a flood of firing keys makes no answer too big to read. */
static void
alert_one(void *arg, const struct watch_alert *a)
{
    if (json_array_size(arg) < CTL_STATUS_ALERTS_MAX)
        append(arg, ctl_status_alert(a));
}

/* Appends len octets at p to the evbuffer out (json_dump_callback's writer). */
static int
dump_to(const char *p, size_t len, void *out)
{
    return evbuffer_add(out, p, len);
}

void
ctl_status_answer(struct watch *w, struct sched *s, bool json, struct evbuffer *out)
{
    struct watch_status st;
    struct sched_queue_facts q;
    json_t *alerts = array(), *doc;
    size_t firing;

    watch_status(w, &st);
    memset(&q, 0, sizeof(q));
    if (s != NULL)
        sched_queue_facts(s, &q);
    firing = watch_alerts_firing(w, alert_one, alerts);
    doc = ctl_status_doc(&st, &q, firing, alerts, time(NULL));
    json_decref(alerts);
    if (json) {
        if (json_dump_callback(doc, dump_to, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == -1)
            log_panic("status: cannot write the document (out of memory)");
        (void)evbuffer_add(out, "\n", 1);
    } else {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        if (f == NULL || ctl_status_print(f, doc, false) == -1 || fclose(f) == EOF)
            log_panic("status: cannot write the table (out of memory)");
        (void)evbuffer_add(out, text, len);
        free(text);
    }
    json_decref(doc);
}
