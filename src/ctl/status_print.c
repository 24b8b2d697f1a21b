/* SPDX-License-Identifier: MIT */
/*
 * The table of `gate26 status` (status.h), printed from the status
 * document: a title; the doors as rows and the spans (last minute, last
 * hour, since start) as column groups; the queue; deliveries by outcome;
 * the alerts firing; the top clients of the last hour per door. Columns
 * are as wide as their widest cell. Colour marks what wants a look (a
 * refusal or failed AUTH in the last minute, deferred or held mail, an
 * alert) and nothing else; every word is there without it.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "ctl/status.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define BOLD   "\033[1m"
#define RED    "\033[1;31m"
#define GREEN  "\033[32m"
#define YELLOW "\033[33m"
#define RESET  "\033[0m"

#define STR(x)  #x
#define XSTR(x) STR(x)

/* Alerts beyond this many are summed up in one line. */
#define PRINT_ALERTS_MAX 10

#define CELL_MAX  80
#define GRID_ROWS (2 + PRINT_ALERTS_MAX + DOOR_ROLE_COUNT * WATCH_TOP_CLIENTS)
#define GRID_COLS 14

/* A table of text cells; each column as wide as its widest cell. */
struct grid {
    size_t rows, cols;
    char text[GRID_ROWS][GRID_COLS][CELL_MAX];
    const char *colour[GRID_ROWS][GRID_COLS];
    bool left[GRID_COLS];  /* else right-aligned (numbers) */
    size_t gap[GRID_COLS]; /* spaces before the column */
    size_t width[GRID_COLS];
};

static const char *const span_keys[WATCH_SPAN_COUNT] = {"last_minute", "last_hour", "since_start"};
static const char *const span_titles[WATCH_SPAN_COUNT] = {"last minute", "last hour",
                                                          "since start"};
static const char *const count_keys[] = {"connections", "messages", "refusals", "auth_failures"};
static const char *const count_heads[] = {"conn", "msg", "ref", "auth"};
static const char *const delivery_keys[] = {"sent", "deferred", "bounced"};

#define N_COUNTS (sizeof(count_keys) / sizeof(count_keys[0]))

/* A string member of o, or "?" when it is missing or not a string. */
static const char *
text_of(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s != NULL ? s : "?";
}

/* An integer member of o as text ("?" when it is missing or not an integer); *v gets it or 0. */
static void
num(char *dst, size_t cap, const json_t *o, const char *key, long long *v)
{
    const json_t *x = json_object_get(o, key);

    *v = json_is_integer(x) ? json_integer_value(x) : 0;
    if (json_is_integer(x))
        (void)str_fmt(dst, cap, "%lld", *v);
    else
        (void)str_fmt(dst, cap, "?");
}

/* "45s", "2m05s", "5m", "1h02m", "1h", "3d04h", "2d". */
static void
duration(char *dst, size_t cap, long long s)
{
    if (s < 0)
        s = 0;
    if (s < 60)
        (void)str_fmt(dst, cap, "%llds", s);
    else if (s < 3600 && s % 60 == 0)
        (void)str_fmt(dst, cap, "%lldm", s / 60);
    else if (s < 3600)
        (void)str_fmt(dst, cap, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400 && s % 3600 < 60)
        (void)str_fmt(dst, cap, "%lldh", s / 3600);
    else if (s < 86400)
        (void)str_fmt(dst, cap, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else if (s % 86400 < 3600)
        (void)str_fmt(dst, cap, "%lldd", s / 86400);
    else
        (void)str_fmt(dst, cap, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

static void grid_set(struct grid *g, size_t r, size_t c, const char *colour, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
grid_set(struct grid *g, size_t r, size_t c, const char *colour, const char *fmt, ...)
{
    va_list ap;
    char raw[CELL_MAX];

    if (r >= GRID_ROWS || c >= GRID_COLS)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    str_printable(g->text[r][c], CELL_MAX, raw);
    g->colour[r][c] = colour;
    if (r >= g->rows)
        g->rows = r + 1;
    if (c >= g->cols)
        g->cols = c + 1;
}

static void
grid_widths(struct grid *g)
{
    for (size_t c = 0; c < g->cols; c++) {
        g->width[c] = 0;
        for (size_t r = 0; r < g->rows; r++) {
            size_t n = strlen(g->text[r][c]);

            if (n > g->width[c])
                g->width[c] = n;
        }
    }
}

/* Row r, each cell padded to its column (the colour around the text only). */
static void
grid_row(FILE *out, const struct grid *g, size_t r, bool colour)
{
    size_t line = 0;
    char buf[GRID_COLS * (CELL_MAX + 16) + 8];

    for (size_t c = 0; c < g->cols; c++) {
        const char *t = g->text[r][c];
        size_t pad = g->width[c] - strlen(t);
        const char *on = colour && g->colour[r][c] != NULL && t[0] != '\0' ? g->colour[r][c] : "";

        (void)str_fmt(buf + line, sizeof(buf) - line, "%*s%*s%s%s%s%*s", (int)g->gap[c], "",
                      g->left[c] ? 0 : (int)pad, "", on, t, on[0] != '\0' ? RESET : "",
                      g->left[c] ? (int)pad : 0, "");
        line = strlen(buf);
    }
    /* No trailing spaces. */
    while (line > 0 && buf[line - 1] == ' ')
        buf[--line] = '\0';
    fprintf(out, "%s\n", buf);
}

static void
grid_print(FILE *out, struct grid *g, bool colour)
{
    grid_widths(g);
    for (size_t r = 0; r < g->rows; r++)
        grid_row(out, g, r, colour);
}

/* A door is shown when it listens, or counted something (a door a reload closed). */
static bool
door_shown(const json_t *door)
{
    const json_t *start = json_object_get(door, "since_start");
    long long v;
    char t[32];

    if (json_is_true(json_object_get(door, "listening")))
        return true;
    num(t, sizeof(t), door, "sessions_open", &v);
    if (v != 0)
        return true;
    for (size_t k = 0; k < N_COUNTS; k++) {
        num(t, sizeof(t), start, count_keys[k], &v);
        if (v != 0)
            return true;
    }
    return false;
}

static void
print_title(FILE *out, const json_t *doc, bool colour)
{
    char host[CELL_MAX], when[64], up[32], t[32];
    const json_t *tv = json_object_get(doc, "time");
    long long uptime;
    struct tm tm;
    time_t now = json_is_integer(tv) ? (time_t)json_integer_value(tv) : 0;

    str_printable(host, sizeof(host), text_of(doc, "hostname"));
    if (gmtime_r(&now, &tm) == NULL ||
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        (void)str_fmt(when, sizeof(when), "?");
    num(t, sizeof(t), doc, "uptime_seconds", &uptime);
    duration(up, sizeof(up), uptime);
    fprintf(out, "%sgate26 status of %s%s at %s, up %s\n\n", colour ? BOLD : "", host,
            colour ? RESET : "", when, up);
}

/* The doors as rows, the spans as column groups. */
static void
print_doors(FILE *out, const json_t *doc, bool colour)
{
    struct grid *g = xcalloc(1, sizeof(*g));
    const json_t *doors = json_object_get(doc, "doors");
    size_t row = 2, group_at[WATCH_SPAN_COUNT], at;

    grid_set(g, 1, 0, NULL, "door");
    g->left[0] = true;
    grid_set(g, 1, 1, NULL, "open");
    g->gap[1] = 2;
    for (size_t s = 0; s < WATCH_SPAN_COUNT; s++) {
        for (size_t k = 0; k < N_COUNTS; k++) {
            size_t c = 2 + s * N_COUNTS + k;

            grid_set(g, 1, c, NULL, "%s", count_heads[k]);
            g->gap[c] = k == 0 ? 4 : 1;
        }
    }
    for (int d = 0; d < DOOR_ROLE_COUNT; d++) {
        const char *name = conf_role_name((enum door_role)d);
        const json_t *door = json_object_get(doors, name);
        char t[32];
        long long v;

        if (!json_is_object(door) || !door_shown(door))
            continue;
        grid_set(g, row, 0, NULL, "%s", name);
        num(t, sizeof(t), door, "sessions_open", &v);
        grid_set(g, row, 1, NULL, "%s", t);
        for (size_t s = 0; s < WATCH_SPAN_COUNT; s++) {
            const json_t *span = json_object_get(door, span_keys[s]);

            for (size_t k = 0; k < N_COUNTS; k++) {
                /* A refusal or a failed AUTH in the last minute wants a look. */
                bool mark = s == WATCH_SPAN_MINUTE && k >= 2;

                num(t, sizeof(t), span, count_keys[k], &v);
                grid_set(g, row, 2 + s * N_COUNTS + k, mark && v > 0 ? YELLOW : NULL, "%s", t);
            }
        }
        row++;
    }
    if (row == 2)
        grid_set(g, row++, 0, NULL, "(no door)");
    grid_widths(g);
    /* The group titles, each over its first column's left edge. */
    at = 0;
    for (size_t c = 0; c < g->cols; c++) {
        at += g->gap[c];
        for (size_t s = 0; s < WATCH_SPAN_COUNT; s++) {
            if (c == 2 + s * N_COUNTS)
                group_at[s] = at;
        }
        at += g->width[c];
    }
    {
        char line[256];
        size_t n = 0;

        memset(line, ' ', sizeof(line));
        for (size_t s = 0; s < WATCH_SPAN_COUNT; s++) {
            size_t len = strlen(span_titles[s]);

            if (group_at[s] + len < sizeof(line)) {
                memcpy(line + group_at[s], span_titles[s], len);
                n = group_at[s] + len;
            }
        }
        line[n] = '\0';
        fprintf(out, "%s\n", line);
    }
    for (size_t r = 1; r < g->rows; r++)
        grid_row(out, g, r, colour);
    fprintf(out,
            "(conn connections, msg messages, ref refusals (4xx and 5xx), auth failed AUTH)\n\n");
    free(g);
}

static void
print_queue(FILE *out, const json_t *doc, bool colour)
{
    const json_t *q = json_object_get(doc, "queue");
    char n[32], oldest[32], deferred[32], held[32];
    long long vn, vo, vd, vh;

    num(n, sizeof(n), q, "messages", &vn);
    num(oldest, sizeof(oldest), q, "oldest_seconds", &vo);
    if (json_is_integer(json_object_get(q, "oldest_seconds")))
        duration(oldest, sizeof(oldest), vo);
    num(deferred, sizeof(deferred), q, "deferred", &vd);
    num(held, sizeof(held), q, "held", &vh);
    fprintf(out, "queue: %s message%s", n, vn == 1 ? "" : "s");
    if (vn > 0)
        fprintf(out, ", oldest %s", oldest);
    fprintf(out, ", %s%s deferred%s, %s%s held%s\n\n", colour && vd > 0 ? YELLOW : "", deferred,
            colour && vd > 0 ? RESET : "", colour && vh > 0 ? YELLOW : "", held,
            colour && vh > 0 ? RESET : "");
}

/* Outcomes as rows, spans as columns, as the doors. */
static void
print_deliveries(FILE *out, const json_t *doc, bool colour)
{
    struct grid *g = xcalloc(1, sizeof(*g));
    const json_t *dl = json_object_get(doc, "deliveries");

    grid_set(g, 0, 0, NULL, "deliveries");
    g->left[0] = true;
    for (size_t s = 0; s < WATCH_SPAN_COUNT; s++) {
        grid_set(g, 0, 1 + s, NULL, "%s", span_titles[s]);
        g->gap[1 + s] = 2;
    }
    for (size_t k = 0; k < sizeof(delivery_keys) / sizeof(delivery_keys[0]); k++) {
        grid_set(g, 1 + k, 0, NULL, "  %s", delivery_keys[k]);
        for (size_t s = 0; s < WATCH_SPAN_COUNT; s++) {
            char t[32];
            long long v;

            num(t, sizeof(t), json_object_get(dl, span_keys[s]), delivery_keys[k], &v);
            grid_set(g, 1 + k, 1 + s, k > 0 && v > 0 ? YELLOW : NULL, "%s", t);
        }
    }
    grid_print(out, g, colour);
    fputc('\n', out);
    free(g);
}

/* How many alerts are firing: alerts_firing, or as many as are listed (at least). */
static size_t
firing_count(const json_t *doc)
{
    const json_t *f = json_object_get(doc, "alerts_firing");
    size_t n = json_array_size(json_object_get(doc, "alerts"));

    if (json_is_integer(f) && json_integer_value(f) > 0 && (uint64_t)json_integer_value(f) > n)
        return (size_t)json_integer_value(f);
    return n;
}

static void
print_alerts(FILE *out, const json_t *doc, bool colour)
{
    const json_t *alerts = json_object_get(doc, "alerts");
    size_t n = json_array_size(alerts), firing = firing_count(doc);
    struct grid *g;

    if (firing == 0) {
        fprintf(out, "alerts firing: %snone%s\n\n", colour ? GREEN : "", colour ? RESET : "");
        return;
    }
    g = xcalloc(1, sizeof(*g));
    fprintf(out, "alerts firing: %s%zu%s\n", colour ? RED : "", firing, colour ? RESET : "");
    for (size_t i = 0; i < n && i < PRINT_ALERTS_MAX; i++) {
        const json_t *a = json_array_get(alerts, i);
        char value[32], threshold[32], since[32], t[32];
        long long v;
        struct tm tm;
        time_t when;

        num(value, sizeof(value), a, "value", &v);
        num(threshold, sizeof(threshold), a, "threshold", &v);
        num(t, sizeof(t), a, "since", &v);
        when = (time_t)v;
        if (gmtime_r(&when, &tm) == NULL ||
            strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S", &tm) == 0)
            (void)str_fmt(since, sizeof(since), "?");
        grid_set(g, i, 0, RED, "%s", text_of(a, "rule"));
        grid_set(g, i, 1, NULL, "%s", text_of(a, "when"));
        grid_set(g, i, 2, NULL, "%s", text_of(a, "key"));
        grid_set(g, i, 3, NULL, "value %s, threshold %s", value, threshold);
        grid_set(g, i, 4, NULL, "since %s UTC", since);
    }
    for (size_t c = 0; c < 5; c++) {
        g->left[c] = true;
        g->gap[c] = 2;
    }
    grid_print(out, g, colour);
    if (firing > PRINT_ALERTS_MAX && n > 0)
        fprintf(out, "  ... and %zu more (gate26 status --json lists %s)\n",
                firing - (n < PRINT_ALERTS_MAX ? n : PRINT_ALERTS_MAX),
                firing > n ? "the first " XSTR(CTL_STATUS_ALERTS_MAX) : "them all");
    fputc('\n', out);
    free(g);
}

static void
print_clients(FILE *out, const json_t *doc, bool colour)
{
    struct grid *g = xcalloc(1, sizeof(*g));
    const json_t *doors = json_object_get(doc, "doors");
    size_t row = 1;

    grid_set(g, 0, 0, NULL, "  door");
    grid_set(g, 0, 1, NULL, "client");
    grid_set(g, 0, 2, NULL, "messages");
    grid_set(g, 0, 3, NULL, "refusals");
    g->left[0] = g->left[1] = true;
    g->gap[1] = g->gap[2] = g->gap[3] = 2;
    for (int d = 0; d < DOOR_ROLE_COUNT; d++) {
        const char *name = conf_role_name((enum door_role)d);
        const json_t *top = json_object_get(json_object_get(doors, name), "top_clients");

        for (size_t i = 0; i < json_array_size(top) && i < WATCH_TOP_CLIENTS; i++) {
            const json_t *c = json_array_get(top, i);
            char t[32];
            long long v;

            grid_set(g, row, 0, NULL, "  %s", i == 0 ? name : "");
            grid_set(g, row, 1, NULL, "%s", text_of(c, "client"));
            num(t, sizeof(t), c, "messages", &v);
            grid_set(g, row, 2, NULL, "%s", t);
            num(t, sizeof(t), c, "refusals", &v);
            grid_set(g, row, 3, NULL, "%s", t);
            row++;
        }
    }
    if (row == 1) {
        fprintf(out, "top clients of the last hour: none\n");
    } else {
        fprintf(out, "top clients of the last hour\n");
        grid_print(out, g, colour);
    }
    free(g);
}

int
ctl_status_print(FILE *out, const json_t *doc, bool colour)
{
    print_title(out, doc, colour);
    print_doors(out, doc, colour);
    print_queue(out, doc, colour);
    print_deliveries(out, doc, colour);
    print_alerts(out, doc, colour);
    print_clients(out, doc, colour);
    return ferror(out) ? -1 : 0;
}

int
ctl_status_exit(const json_t *doc)
{
    return firing_count(doc) > 0 ? 1 : 0;
}
