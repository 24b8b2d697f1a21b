/* SPDX-License-Identifier: MIT */
/*
 * The text of `gate26 scanners` (scanners.h), printed from the document:
 * a title line (sources in the table, its size, the capture), the sources
 * (most Mirai SYNs plus sessions first, as the daemon sorted them), then
 * the networks. Columns are fixed, wide enough for an IPv6 address; peer
 * data is not in the document (addresses and counts are ours), but the
 * printer writes no control character of what it reads all the same.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/str.h"
#include "ctl/scanners.h"

/* The session kinds of a source, in the document's order. */
static const char *const kinds[] = {"silent", "http", "tls", "ssh", "proxy", "binary"};

static int64_t
num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_integer(v) && json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : 0;
}

/* "2026-12-07T01:02:03Z" as "2026-12-07 01:02:03". */
static void
when(char *dst, size_t cap, const json_t *o, const char *key)
{
    str_printable(dst, cap, json_string_value(json_object_get(o, key)));
    if (strlen(dst) == 20 && dst[10] == 'T' && dst[19] == 'Z') {
        dst[10] = ' ';
        dst[19] = '\0';
    }
}

/* "http 2, tls 1" of a source's sessions object; "-" when none. */
static void
session_kinds(char *dst, size_t cap, const json_t *sessions)
{
    size_t n = 0;

    dst[0] = '\0';
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        int64_t v = num(sessions, kinds[k]);
        int w;

        if (v == 0)
            continue;
        w = snprintf(dst + n, cap - n, "%s%s %" PRId64, n > 0 ? ", " : "", kinds[k], v);
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
    if (n == 0)
        (void)snprintf(dst, cap, "-");
}

/* The ports, comma-separated; "-" when none. */
static void
ports_of(char *dst, size_t cap, const json_t *ports)
{
    size_t n = 0, i;
    const json_t *p;

    dst[0] = '\0';
    json_array_foreach(ports, i, p)
    {
        int w;

        if (!json_is_integer(p))
            continue;
        w = snprintf(dst + n, cap - n, "%s%" JSON_INTEGER_FORMAT, n > 0 ? "," : "",
                     json_integer_value(p));
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
    if (n == 0)
        (void)snprintf(dst, cap, "-");
}

int
ctl_scanners_print(FILE *out, const json_t *doc)
{
    const json_t *sources = json_object_get(doc, "sources");
    const json_t *networks = json_object_get(doc, "networks");
    const json_t *capture = json_object_get(doc, "capture");
    const json_t *o;
    char cap_text[32], a[64], k[128], p[64], first[32], last[32];
    size_t i;

    str_printable(cap_text, sizeof(cap_text), json_string_value(capture));
    fprintf(out,
            "gate26 scanners: %" PRId64 " source%s in the table (of %" PRId64 "), capture %s\n",
            num(doc, "sources_now"), num(doc, "sources_now") == 1 ? "" : "s",
            num(doc, "table_size"), json_is_string(capture) ? cap_text : "off");
    if (json_array_size(sources) == 0) {
        fprintf(out, "\nno scanners seen\n");
        return fflush(out) == EOF || ferror(out) ? -1 : 0;
    }
    fprintf(out, "\n%-39s %8s %8s  %-28s %-20s %-19s %s\n", "source", "mirai", "plain", "sessions",
            "ports", "first seen", "last seen");
    json_array_foreach(sources, i, o)
    {
        str_printable(a, sizeof(a), json_string_value(json_object_get(o, "address")));
        session_kinds(k, sizeof(k), json_object_get(o, "sessions"));
        ports_of(p, sizeof(p), json_object_get(o, "ports"));
        when(first, sizeof(first), o, "first_seen");
        when(last, sizeof(last), o, "last_seen");
        fprintf(out, "%-39s %8" PRId64 " %8" PRId64 "  %-28s %-20s %-19s %s\n", a, num(o, "mirai"),
                num(o, "plain"), k, p, first, last);
    }
    fprintf(out, "\n%-43s %8s %8s %8s %8s  %-19s %s\n", "network", "mirai", "plain", "sessions",
            "sources", "first seen", "last seen");
    json_array_foreach(networks, i, o)
    {
        str_printable(a, sizeof(a), json_string_value(json_object_get(o, "network")));
        when(first, sizeof(first), o, "first_seen");
        when(last, sizeof(last), o, "last_seen");
        fprintf(out, "%-43s %8" PRId64 " %8" PRId64 " %8" PRId64 " %8" PRId64 "  %-19s %s\n", a,
                num(o, "mirai"), num(o, "plain"), num(o, "sessions"), num(o, "sources"), first,
                last);
    }
    return fflush(out) == EOF || ferror(out) ? -1 : 0;
}
