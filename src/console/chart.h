/* SPDX-License-Identifier: MIT */
/*
 * Line charts drawn by the server as inline SVG (the overview's traffic
 * per minute): a few series of counts on one scale, from zero to the
 * largest count, with their legend and the axes' labels. Pure: the SVG is
 * appended to an evbuffer; no I/O, no script, no style attribute (the
 * console's CSP forbids inline style; SVG's presentation attributes are
 * not style). Every text is escaped (web_escape).
 */
#ifndef GATE26_CONSOLE_CHART_H
#define GATE26_CONSOLE_CHART_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/* The drawing's size (its viewBox) and the plot area inside it, in SVG units. */
#define CHART_W      600
#define CHART_H      200
#define CHART_LEFT   60  /* the plot's left edge (the y labels are left of it) */
#define CHART_RIGHT  590 /* its right edge */
#define CHART_TOP    12  /* its top: the largest count */
#define CHART_BOTTOM 152 /* its bottom: zero */

#define CHART_SERIES_MAX 4

struct chart_series {
    const char *name;   /* the legend's text, and the polyline's data-series */
    const char *colour; /* an SVG colour ("#1f77b4") */
    const uint64_t *v;  /* the chart's n counts, oldest first (NULL: not drawn) */
};

struct chart {
    const char *id;                 /* the svg element's id */
    const char *title;              /* what it shows, for its <title> */
    const char *from, *middle, *to; /* the x axis's labels: oldest, middle, newest point */
    size_t n;                       /* points per series; 0: an empty chart saying so */
    size_t n_series;                /* at most CHART_SERIES_MAX (more are not drawn) */
    struct chart_series series[CHART_SERIES_MAX];
};

/*
 * Appends c as one <svg> element to out. Point i of n is at x = CHART_LEFT
 * + i * (CHART_RIGHT - CHART_LEFT) / (n - 1) (one point: at CHART_RIGHT),
 * y = CHART_BOTTOM - v * (CHART_BOTTOM - CHART_TOP) / max, where max is the
 * largest count of every series (at least 1: all zeros lie on the bottom),
 * written in tenths ("60.0,152.0", rounded to the nearest, x down). Of a
 * run of equal counts only its first and last points are written (the same
 * line, far fewer points for a quiet day). The y axis is labelled "max N"
 * (N the largest count) at the top and "0" at the bottom.
 */
void chart_svg(struct evbuffer *out, const struct chart *c);

#endif
