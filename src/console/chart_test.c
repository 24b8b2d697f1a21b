/* SPDX-License-Identifier: MIT */
/*
 * The charts' SVG (chart.c): the exact points of a spike, of zeros and of
 * runs; an empty chart; the largest and the smallest counts; one point; too
 * many series; hostile text in every label (escaped); and for every row,
 * points inside the plot, x rising, one polyline per series drawn.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "console/chart.h"

/* The SVG of c, NUL-terminated (the caller frees it). */
static char *
draw(const struct chart *c)
{
    struct evbuffer *b = evbuffer_new();
    size_t len;
    char *s;

    chart_svg(b, c);
    len = evbuffer_get_length(b);
    s = calloc(1, len + 1);
    assert_non_null(s);
    assert_int_equal(evbuffer_remove(b, s, len), (int)len);
    evbuffer_free(b);
    return s;
}

static size_t
count(const char *s, const char *what)
{
    size_t n = 0;

    for (const char *p = strstr(s, what); p != NULL; p = strstr(p + 1, what))
        n++;
    return n;
}

/* The points attribute of the k-th polyline (copied into out, capacity cap). */
static void
points(const char *svg, size_t k, char *out, size_t cap)
{
    const char *p = svg, *end;

    for (size_t i = 0; i <= k; i++) {
        p = strstr(p, "<polyline");
        assert_non_null(p);
        p++;
    }
    p = strstr(p, "points=\"");
    assert_non_null(p);
    p += 8;
    end = strchr(p, '"');
    assert_non_null(end);
    assert_true((size_t)(end - p) < cap);
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
}

/* Every point of every polyline in the plot area, x rising; returns how many points in all. */
static size_t
check_points(const char *svg, size_t polylines)
{
    static char pts[1 << 16];
    size_t total = 0;

    for (size_t k = 0; k < polylines; k++) {
        double last_x = -1, x, y;
        const char *p = pts;
        int used;

        points(svg, k, pts, sizeof pts);
        while (sscanf(p, "%lf,%lf%n", &x, &y, &used) == 2) {
            assert_true(x > last_x);
            assert_true(x >= CHART_LEFT && x <= CHART_RIGHT);
            assert_true(y >= CHART_TOP && y <= CHART_BOTTOM);
            last_x = x;
            total++;
            p += used;
        }
        assert_int_equal(*p, '\0');
    }
    return total;
}

static struct chart
chart_of(size_t n, const uint64_t *a, const uint64_t *b)
{
    struct chart c = {.id = "chart-inbound-hour",
                      .title = "inbound, last hour",
                      .from = "-60 min",
                      .middle = "-30 min",
                      .to = "now",
                      .n = n,
                      .n_series = 2,
                      .series = {{"messages", "#2ca02c", a}, {"refusals", "#d62728", b}}};

    return c;
}

static void
test_spike_and_zeros(void **state)
{
    uint64_t zeros[60] = {0}, spike[60] = {0};
    struct chart c = chart_of(60, zeros, spike);
    char pts[4096], *svg;

    (void)state;
    spike[30] = 7;
    svg = draw(&c);
    assert_non_null(strstr(svg, "id=\"chart-inbound-hour\""));
    assert_non_null(strstr(svg, "viewBox=\"0 0 600 200\""));
    assert_int_equal(count(svg, "<polyline"), 2);
    assert_non_null(strstr(svg, ">max 7</text>"));
    assert_non_null(strstr(svg, "data-max=\"7\""));
    assert_non_null(strstr(svg, ">-60 min</text>"));
    assert_non_null(strstr(svg, ">-30 min</text>"));
    assert_non_null(strstr(svg, ">now</text>"));
    assert_non_null(strstr(svg, "<title>inbound, last hour</title>"));
    /* The legend: each series' colour and name. */
    assert_non_null(strstr(svg, "stroke=\"#2ca02c\"/>\n<text x=\"84\" y=\"190\" text-anchor="
                                "\"start\" class=\"legend\">messages</text>"));
    assert_non_null(strstr(svg, ">refusals</text>"));
    /* Zeros: a flat line on the bottom, its two ends only. */
    points(svg, 0, pts, sizeof pts);
    assert_string_equal(pts, "60.0,152.0 590.0,152.0");
    /* The spike: x = 60 + i * 530 / 59 in tenths (rounded down), y from 152 (0) to 12 (max). */
    points(svg, 1, pts, sizeof pts);
    assert_string_equal(pts, "60.0,152.0 320.5,152.0 329.4,12.0 338.4,152.0 590.0,152.0");
    assert_int_equal(check_points(svg, 2), 7);
    assert_null(strstr(svg, "style="));
    assert_null(strstr(svg, "<script"));
    free(svg);

    /* All zeros: "max 0", every line on the bottom. */
    spike[30] = 0;
    svg = draw(&c);
    assert_non_null(strstr(svg, ">max 0</text>"));
    points(svg, 1, pts, sizeof pts);
    assert_string_equal(pts, "60.0,152.0 590.0,152.0");
    free(svg);
}

/* Runs: of equal counts only the ends; a rise and fall in between, each point. */
static void
test_runs_and_scale(void **state)
{
    static const uint64_t v[11] = {1, 1, 1, 2, 2, 4, 0, 0, 0, 0, 3};
    struct chart c = chart_of(11, v, NULL);
    char pts[4096], *svg;

    (void)state;
    svg = draw(&c);
    assert_int_equal(count(svg, "<polyline"), 1); /* NULL: not drawn, still in the legend */
    assert_non_null(strstr(svg, ">refusals</text>"));
    points(svg, 0, pts, sizeof pts);
    /* x = 60 + i * 53; y = 152 - v * 35. */
    assert_string_equal(pts, "60.0,117.0 166.0,117.0 219.0,82.0 272.0,82.0 325.0,12.0 "
                             "378.0,152.0 537.0,152.0 590.0,47.0");
    free(svg);
}

/* The largest counts: exact on the scale, and the label in full. */
static void
test_huge(void **state)
{
    uint64_t big[3] = {UINT64_MAX, UINT64_MAX / 2, 1}, small[3] = {0, 1, UINT64_MAX - 1};
    struct chart c = chart_of(3, big, small);
    char pts[4096], *svg;

    (void)state;
    svg = draw(&c);
    assert_non_null(strstr(svg, ">max 18446744073709551615</text>"));
    points(svg, 0, pts, sizeof pts);
    assert_string_equal(pts, "60.0,12.0 325.0,82.0 590.0,152.0");
    points(svg, 1, pts, sizeof pts);
    assert_string_equal(pts, "60.0,152.0 325.0,152.0 590.0,12.0");
    assert_int_equal(check_points(svg, 2), 6);
    free(svg);
}

/* No points: the frame and "no data", no polyline; one point: at the right edge. */
static void
test_empty_and_one(void **state)
{
    uint64_t one[1] = {5};
    struct chart c = chart_of(0, NULL, NULL);
    char pts[256], *svg;

    (void)state;
    svg = draw(&c);
    assert_int_equal(count(svg, "<polyline"), 0);
    assert_non_null(strstr(svg, ">no data</text>"));
    assert_non_null(strstr(svg, ">max 0</text>"));
    assert_non_null(strstr(svg, "</svg>"));
    free(svg);
    c.n_series = 0;
    svg = draw(&c);
    assert_int_equal(count(svg, "<polyline"), 0);
    assert_int_equal(count(svg, "class=\"legend\""), 0);
    free(svg);

    c = chart_of(1, one, one);
    svg = draw(&c);
    points(svg, 0, pts, sizeof pts);
    assert_string_equal(pts, "590.0,12.0");
    free(svg);
}

/* Too many series: CHART_SERIES_MAX drawn; hostile text escaped everywhere. */
static void
test_hostile(void **state)
{
    uint64_t v[1440];
    struct chart c = {.id = "x\"><script>",
                      .title = "</title><script>alert(1)</script>",
                      .from = "<b>",
                      .middle = "&",
                      .to = "'",
                      .n = 1440,
                      .n_series = 99};
    char *svg;

    (void)state;
    for (size_t i = 0; i < 1440; i++)
        v[i] = (i * 7919) % 13; /* hardly a run: nearly every point written */
    for (size_t k = 0; k < CHART_SERIES_MAX; k++)
        c.series[k] = (struct chart_series){"<i>s</i>", "red\" onload=\"x", v};
    svg = draw(&c);
    assert_null(strstr(svg, "<script"));
    assert_null(strstr(svg, "<b>"));
    assert_null(strstr(svg, "<i>"));
    assert_null(strstr(svg, "\" onload"));
    assert_non_null(strstr(svg, "&lt;/title&gt;&lt;script&gt;"));
    assert_int_equal(count(svg, "<polyline"), CHART_SERIES_MAX);
    assert_true(check_points(svg, CHART_SERIES_MAX) > CHART_SERIES_MAX * 1300);
    free(svg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spike_and_zeros),
        cmocka_unit_test(test_runs_and_scale),
        cmocka_unit_test(test_huge),
        cmocka_unit_test(test_empty_and_one),
        cmocka_unit_test(test_hostile),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
