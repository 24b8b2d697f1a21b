/* SPDX-License-Identifier: MIT */
/*
 * The console's line charts as inline SVG (chart.h): a frame, the axes'
 * labels, one polyline per series on a common scale, and a legend. The
 * coordinates are computed in tenths of a unit with integer arithmetic
 * (the count's share of the height in long double, exact for every
 * uint64_t) and printed as integers, so that the drawing is the same
 * under any locale and a test can name each point.
 */
#include <math.h>
#include <stdio.h>

#include <event2/buffer.h>

#include "console/chart.h"
#include "console/web.h"

/* A coordinate in tenths as "12.3". */
static void
put_tenths(struct evbuffer *out, long long t)
{
    (void)evbuffer_add_printf(out, "%lld.%lld", t / 10, t % 10);
}

/* x of point i of n, in tenths. */
static long long
x_tenths(size_t i, size_t n)
{
    if (n <= 1)
        return CHART_RIGHT * 10LL;
    return CHART_LEFT * 10LL + (long long)(i * (size_t)((CHART_RIGHT - CHART_LEFT) * 10) / (n - 1));
}

/* y of count v on the scale max (at least 1), in tenths. */
static long long
y_tenths(uint64_t v, uint64_t max)
{
    long double share = (long double)v / (long double)max;

    return CHART_BOTTOM * 10LL - llroundl(share * (CHART_BOTTOM - CHART_TOP) * 10);
}

static void
text(struct evbuffer *out, int x, int y, const char *anchor, const char *cls, const char *s)
{
    (void)evbuffer_add_printf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"%s\" class=\"%s\">", x, y,
                              anchor, cls);
    web_escapez(out, s);
    (void)evbuffer_add_printf(out, "</text>\n");
}

/* One series as a polyline: each point, but of a run of equal counts only its ends. */
static void
polyline(struct evbuffer *out, const struct chart *c, const struct chart_series *s, uint64_t max)
{
    const char *sep = "";

    (void)evbuffer_add_printf(out, "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"");
    web_escapez(out, s->colour);
    (void)evbuffer_add_printf(out, "\" data-series=\"");
    web_escapez(out, s->name);
    (void)evbuffer_add_printf(out, "\" points=\"");
    for (size_t i = 0; i < c->n; i++) {
        if (i > 0 && i + 1 < c->n && s->v[i] == s->v[i - 1] && s->v[i] == s->v[i + 1])
            continue;
        (void)evbuffer_add_printf(out, "%s", sep);
        put_tenths(out, x_tenths(i, c->n));
        (void)evbuffer_add(out, ",", 1);
        put_tenths(out, y_tenths(s->v[i], max));
        sep = " ";
    }
    (void)evbuffer_add_printf(out, "\"/>\n");
}

void
chart_svg(struct evbuffer *out, const struct chart *c)
{
    size_t n_series = c->n_series < CHART_SERIES_MAX ? c->n_series : CHART_SERIES_MAX;
    uint64_t max = 0;
    char label[32];

    for (size_t k = 0; k < n_series; k++)
        for (size_t i = 0; c->series[k].v != NULL && i < c->n; i++)
            if (c->series[k].v[i] > max)
                max = c->series[k].v[i];
    (void)evbuffer_add_printf(out,
                              "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"");
    web_escapez(out, c->id);
    (void)evbuffer_add_printf(out,
                              "\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
                              "font-family=\"sans-serif\" font-size=\"13\" data-max=\"%llu\">"
                              "<title>",
                              CHART_W, CHART_H, CHART_W, CHART_H, (unsigned long long)max);
    web_escapez(out, c->title);
    (void)evbuffer_add_printf(out, "</title>\n");
    /* The frame: the top line at the largest count, the axes. */
    (void)evbuffer_add_printf(out,
                              "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n"
                              "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n"
                              "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n",
                              CHART_LEFT, CHART_TOP, CHART_RIGHT, CHART_TOP, CHART_LEFT,
                              CHART_BOTTOM, CHART_RIGHT, CHART_BOTTOM, CHART_LEFT, CHART_TOP,
                              CHART_LEFT, CHART_BOTTOM);
    (void)snprintf(label, sizeof label, "max %llu", (unsigned long long)max);
    text(out, CHART_LEFT - 4, CHART_TOP + 4, "end", "y-max", label);
    text(out, CHART_LEFT - 4, CHART_BOTTOM, "end", "y-zero", "0");
    text(out, CHART_LEFT, CHART_BOTTOM + 16, "start", "x-from", c->from);
    text(out, (CHART_LEFT + CHART_RIGHT) / 2, CHART_BOTTOM + 16, "middle", "x-middle", c->middle);
    text(out, CHART_RIGHT, CHART_BOTTOM + 16, "end", "x-to", c->to);
    if (c->n == 0)
        text(out, (CHART_LEFT + CHART_RIGHT) / 2, (CHART_TOP + CHART_BOTTOM) / 2, "middle",
             "no-data", "no data");
    else
        for (size_t k = 0; k < n_series; k++)
            if (c->series[k].v != NULL)
                polyline(out, c, &c->series[k], max > 0 ? max : 1);
    /* The legend: a stroke of each series' colour and its name, in a row under the axis. */
    for (size_t k = 0; k < n_series; k++) {
        int x = CHART_LEFT + (int)k * ((CHART_RIGHT - CHART_LEFT) / CHART_SERIES_MAX);

        (void)evbuffer_add_printf(out,
                                  "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                                  "stroke-width=\"3\" stroke=\"",
                                  x, CHART_H - 14, x + 18, CHART_H - 14);
        web_escapez(out, c->series[k].colour);
        (void)evbuffer_add_printf(out, "\"/>\n");
        text(out, x + 24, CHART_H - 10, "start", "legend", c->series[k].name);
    }
    (void)evbuffer_add_printf(out, "</svg>\n");
}
