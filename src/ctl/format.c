/* SPDX-License-Identifier: MIT */
/*
 * The listing and show formats of format.h.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "ctl/format.h"
#include "spool/envelope.h"
#include "spool/spool.h"

static void
put_text(struct evbuffer *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '\\')
            (void)evbuffer_add(out, p, 1);
        else
            (void)evbuffer_add_printf(out, "\\x%02X", *p);
    }
}

static void
put_json(struct evbuffer *out, const char *s)
{
    (void)evbuffer_add(out, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            (void)evbuffer_add_printf(out, "\\%c", *p);
        else if (*p >= 0x20 && *p < 0x7f)
            (void)evbuffer_add(out, p, 1);
        else
            (void)evbuffer_add_printf(out, "\\u%04x", *p);
    }
    (void)evbuffer_add(out, "\"", 1);
}

/* s as a JSON string, or null when NULL. */
static void
put_json_opt(struct evbuffer *out, const char *s)
{
    if (s == NULL)
        (void)evbuffer_add_printf(out, "null");
    else
        put_json(out, s);
}

/* "3d4h", "5m12s", "42s" */
static void
duration(char *out, size_t cap, long long secs)
{
    if (secs < 0)
        secs = 0;
    if (secs >= 86400)
        (void)snprintf(out, cap, "%lldd%lldh", secs / 86400, secs % 86400 / 3600);
    else if (secs >= 3600)
        (void)snprintf(out, cap, "%lldh%lldm", secs / 3600, secs % 3600 / 60);
    else if (secs >= 60)
        (void)snprintf(out, cap, "%lldm%llds", secs / 60, secs % 60);
    else
        (void)snprintf(out, cap, "%llds", secs);
}

static const char *
rcpt_state(char status)
{
    return status == 'D' ? "done" : status == 'F' ? "failed" : "pending";
}

/* "now", "in 42s", "held", "active" */
static void
next_text(char *out, size_t cap, const struct sched_info *info, time_t now)
{
    char d[24];

    if (info->active) {
        (void)snprintf(out, cap, "active");
    } else if (info->held) {
        (void)snprintf(out, cap, "held");
    } else if (info->q->env.next_attempt <= (uint64_t)now) {
        (void)snprintf(out, cap, "now");
    } else {
        duration(d, sizeof(d), (long long)(info->q->env.next_attempt - (uint64_t)now));
        (void)snprintf(out, cap, "in %s", d);
    }
}

void
ctl_format_list_begin(struct evbuffer *out, bool json)
{
    if (json)
        (void)evbuffer_add_printf(out, "{\"messages\":[\n");
    else
        (void)evbuffer_add_printf(out, "%-16s  %-8s  %10s  %-9s  %-8s  %s\n", "ID", "AGE", "SIZE",
                                  "NEXT", "ATTEMPTS", "SENDER");
}

void
ctl_format_list_end(struct evbuffer *out, bool json, size_t shown, size_t total)
{
    if (json)
        (void)evbuffer_add_printf(out, "\n],\"total\":%zu}\n", total);
    else if (shown < total)
        (void)evbuffer_add_printf(out, "%zu messages, the first %zu listed\n", total, shown);
    else
        (void)evbuffer_add_printf(out, "%zu message%s\n", total, total == 1 ? "" : "s");
}

/*
 * "2026-12-06 21:20:15 UTC (3h12m ago)" or "... (in 9m45s)": ISO 8601 in
 * UTC, so that the operator and the log (which is in UTC too) agree.
 */
static void
show_date(char *out, size_t cap, time_t t, time_t now)
{
    char date[40], d[24];
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        (void)snprintf(date, sizeof(date), "%lld", (long long)t);
    duration(d, sizeof(d), t <= now ? (long long)(now - t) : (long long)(t - now));
    if (t == now)
        (void)snprintf(out, cap, "%s (now)", date);
    else
        (void)snprintf(out, cap, "%s (%s%s%s)", date, t < now ? "" : "in ", d,
                       t < now ? " ago" : "");
}

/* The next attempt for `show`: "on hold", "being delivered right now", "now" or a date. */
static void
show_next(char *out, size_t cap, const struct sched_info *info, time_t now)
{
    uint64_t next = info->q->env.next_attempt;

    if (info->active)
        (void)snprintf(out, cap, "being delivered right now");
    else if (info->held)
        (void)snprintf(out, cap, "on hold");
    else if (next == 0)
        (void)snprintf(out, cap, "now");
    else
        show_date(out, cap, (time_t)next, now);
}

void
ctl_format_list_entry(struct evbuffer *out, const struct sched_info *info, time_t now, bool json)
{
    const struct envelope *env = &info->q->env;
    long long age = (long long)envelope_age(env, now);
    char agebuf[32], next[32];

    if (json) {
        (void)evbuffer_add_printf(out,
                                  "{\"id\":\"%s\",\"arrival\":%lld,\"age\":%lld,\"size\":%llu,"
                                  "\"sender\":",
                                  env->id, (long long)env->arrival.tv_sec, age,
                                  (unsigned long long)info->q->content_len);
        put_json(out, env->sender);
        (void)evbuffer_add_printf(out,
                                  ",\"door\":\"%s\",\"attempts\":%u,\"next_attempt\":%llu,"
                                  "\"held\":%s,\"active\":%s,\"last_error\":",
                                  conf_role_name(env->door), env->attempts,
                                  (unsigned long long)(info->held ? 0 : env->next_attempt),
                                  info->held ? "true" : "false", info->active ? "true" : "false");
        put_json(out, info->last_error);
        /* Why it is held (an alert's hold), while it is; who sent it (SMTP AUTH). */
        (void)evbuffer_add_printf(out, ",\"hold_reason\":");
        put_json_opt(out, info->held ? env->hold : NULL);
        (void)evbuffer_add_printf(out, ",\"user\":");
        put_json_opt(out, env->user);
        (void)evbuffer_add_printf(out, ",\"recipients\":[");
        for (size_t i = 0; i < env->n_rcpts; i++) {
            (void)evbuffer_add_printf(out, "%s{\"address\":", i > 0 ? "," : "");
            put_json(out, env->rcpts[i].addr);
            (void)evbuffer_add_printf(out, ",\"status\":\"%s\"}", rcpt_state(env->rcpts[i].status));
        }
        (void)evbuffer_add_printf(out, "]}");
        return;
    }
    duration(agebuf, sizeof(agebuf), age);
    next_text(next, sizeof(next), info, now);
    (void)evbuffer_add_printf(out, "%-16s  %-8s  %10llu  %-9s  %8u  <", env->id, agebuf,
                              (unsigned long long)info->q->content_len, next, env->attempts);
    put_text(out, env->sender);
    (void)evbuffer_add_printf(out, ">\n");
    for (size_t i = 0; i < env->n_rcpts; i++) {
        (void)evbuffer_add_printf(out, "    %-7s  ", rcpt_state(env->rcpts[i].status));
        put_text(out, env->rcpts[i].addr);
        (void)evbuffer_add_printf(out, "\n");
    }
    if (info->last_error[0] != '\0') {
        (void)evbuffer_add_printf(out, "    last error: ");
        put_text(out, info->last_error);
        (void)evbuffer_add_printf(out, "\n");
    }
    if (info->held && env->hold != NULL) {
        (void)evbuffer_add_printf(out, "    held: ");
        put_text(out, env->hold);
        (void)evbuffer_add_printf(out, "\n");
    }
}

void
ctl_format_show(struct evbuffer *out, const struct sched_info *info, time_t now)
{
    const struct envelope *env = &info->q->env;
    char next[96], when[96], buf[64 * 1024];
    ssize_t n;
    size_t len;
    const char *end;

    show_next(next, sizeof(next), info, now);
    show_date(when, sizeof(when), env->arrival.tv_sec, now);
    (void)evbuffer_add_printf(out, "id:        %s\narrival:   %s\nsize:      %llu\n", env->id, when,
                              (unsigned long long)info->q->content_len);
    (void)evbuffer_add_printf(out, "door:      %s\nclient:    ", conf_role_name(env->door));
    put_text(out, env->client_addr);
    (void)evbuffer_add_printf(out, "\nhelo:      ");
    put_text(out, env->helo);
    (void)evbuffer_add_printf(out, "\nsender:    <");
    put_text(out, env->sender);
    (void)evbuffer_add_printf(out, ">\nattempts:  %u\nnext:      %s\n", env->attempts, next);
    if (env->user != NULL) {
        (void)evbuffer_add_printf(out, "user:      ");
        put_text(out, env->user);
        (void)evbuffer_add_printf(out, "\n");
    }
    if (info->held && env->hold != NULL) {
        (void)evbuffer_add_printf(out, "held:      ");
        put_text(out, env->hold);
        (void)evbuffer_add_printf(out, "\n");
    }
    for (size_t i = 0; i < env->n_rcpts; i++) {
        (void)evbuffer_add_printf(out, "recipient: %-7s ", rcpt_state(env->rcpts[i].status));
        put_text(out, env->rcpts[i].addr);
        (void)evbuffer_add_printf(out, "\n");
    }
    if (info->last_error[0] != '\0') {
        (void)evbuffer_add_printf(out, "last error: ");
        put_text(out, info->last_error);
        (void)evbuffer_add_printf(out, "\n");
    }
    (void)evbuffer_add_printf(out, "\n");
    len = info->q->content_len < sizeof(buf) ? (size_t)info->q->content_len : sizeof(buf);
    n = pread(info->q->fd, buf, len, info->q->content_off);
    if (n <= 0)
        return;
    /* The header only: up to the first empty line. */
    end = memmem(buf, (size_t)n, "\r\n\r\n", 4);
    len = end != NULL ? (size_t)(end - buf) + 2 : (size_t)n;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];

        if (ch == '\r')
            continue;
        if (ch == '\n' || ch == '\t' || (ch >= 0x20 && ch < 0x7f))
            (void)evbuffer_add(out, &buf[i], 1);
        else
            (void)evbuffer_add_printf(out, "\\x%02X", ch);
    }
}
