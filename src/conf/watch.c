/* SPDX-License-Identifier: MIT */
/*
 * The watch block (docs/scanners.md, "Configuration"; docs/config.md,
 * "watch block"): what the sensor captures and whether it blocks.
 *
 *   watch {
 *       capture         any | IFACE          (an interface name, as ip link shows it)
 *       ports           N...                 (repeatable; 1-65535, at most 32 in all)
 *       block-scanners  DURATION             (1s to 30d)
 *   }
 *
 * Each key is checked on its line; whether the interface exists is asked
 * of the system by the sensor's check (sensor/sensor.h, sensor_check),
 * which serve and configtest run, not here: the parser reads text only.
 */
#include <string.h>

#include "conf/parse.h"
#include "conf/values.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The keys, in the order of conf_watch_settings[] (p->block_seen is indexed by it). */
enum watch_key {
    WK_CAPTURE,
    WK_PORTS,
    WK_BLOCK,
};

/* The longest time a source stays in set scanners: a month (longer is a deny list). */
#define WATCH_BLOCK_MAX (30u * 86400u)

/*
 * An interface name as Linux takes it (dev_valid_name): 1 to 15 octets,
 * not "." or "..", no '/', ':', blank or control character.
 */
static int
check_ifname(struct slice s, struct conf_why *w)
{
    char q[CONF_QUOTE_CAP];

    if (s.len == 0 || s.len >= sizeof(((struct conf_watch *)0)->capture))
        return conf_why(w,
                        "expected 'any' or an interface name of 1 to 15 octets after 'capture', "
                        "found '%s'",
                        conf_quote(q, sizeof q, s));
    if ((s.len == 1 && s.p[0] == '.') || (s.len == 2 && s.p[0] == '.' && s.p[1] == '.'))
        return conf_why(w, "'%s' is not an interface name", conf_quote(q, sizeof q, s));
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.p[i];

        if (ch <= 0x20 || ch >= 0x7f || ch == '/' || ch == ':')
            return conf_why(w,
                            "'%s' is not an interface name (no '/', ':', blank or control "
                            "character: as ip link shows it, or 'any')",
                            conf_quote(q, sizeof q, s));
    }
    return 0;
}

static int
set_capture(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_watch *wt = &p->c->watch;
    struct slice s = conf_arg(l, 1);
    struct conf_why w;

    if (check_ifname(s, &w) == -1)
        return conf_fail(p, l->number, "%s", w.text);
    memcpy(wt->capture, s.p, s.len);
    wt->capture[s.len] = '\0';
    wt->capture_line = l->number;
    return 0;
}

/* ports N...: each 1-65535, once; the doors' ports and 26 are watched anyway. */
static int
set_ports(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_watch *wt = &p->c->watch;
    struct conf_why w;
    uint64_t v;

    for (size_t i = 1; i < l->n; i++) {
        if (conf_value_count(conf_arg(l, i), 1, 65535, &v, &w) == -1)
            return conf_fail(p, l->number, "port: %s", w.text);
        for (size_t j = 0; j < wt->n_ports; j++) {
            if (wt->ports[j] == (unsigned)v)
                return conf_fail(p, l->number, "port %u is listed twice in 'ports'", (unsigned)v);
        }
        if (wt->n_ports == CONF_WATCH_PORTS_MAX)
            return conf_fail(p, l->number, "'ports' lists too many ports (at most %d)",
                             CONF_WATCH_PORTS_MAX);
        wt->ports[wt->n_ports++] = (unsigned)v;
    }
    return 0;
}

static int
set_block(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_watch *wt = &p->c->watch;
    struct conf_why w;

    if (conf_value_duration(conf_arg(l, 1), 1, WATCH_BLOCK_MAX, &wt->block_scanners, &w) == -1)
        return conf_fail(p, l->number, "block-scanners: %s", w.text);
    wt->block_line = l->number;
    return 0;
}

const struct conf_setting conf_watch_settings[CONF_WATCH_KEYS] = {
    [WK_CAPTURE] = {"capture", 1, false, set_capture},
    [WK_PORTS] = {"ports", CONF_WATCH_PORTS_MAX, true, set_ports},
    [WK_BLOCK] = {"block-scanners", 1, false, set_block},
};

int
conf_watch_open(struct conf_parser *p, const struct conf_line *l)
{
    if (p->c->watch.line != 0)
        return conf_fail(p, l->number, "duplicate block 'watch' (first at line %u)",
                         p->c->watch.line);
    p->c->watch.line = l->number;
    return 0;
}

/* Ports are what a capture filters on: without one they would watch nothing. */
int
conf_watch_close(struct conf_parser *p)
{
    if (p->c->watch.n_ports > 0 && p->c->watch.capture[0] == '\0')
        return conf_fail(p, p->block_seen[WK_PORTS],
                         "'ports' names what the capture watches: add 'capture any' (or an "
                         "interface name) to the watch block");
    return 0;
}

_Static_assert(N_OF(conf_watch_settings) <= CONF_SCOPE_KEYS_MAX, "watch has too many keys");
