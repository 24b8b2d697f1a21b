/* SPDX-License-Identifier: MIT */
/*
 * The tracking block (docs/config.md, "tracking block"; docs/console.md,
 * "Message tracking"):
 *
 *   tracking {
 *       keep     DURATION      (1d to 400d; default 30d)
 *       enabled  yes | no      (default yes; no: nothing is recorded)
 *   }
 *
 * Without the block, tracking is on with keep 30d. A reload applies keep
 * to the next sweep, and turns tracking on or off.
 */
#include "conf/parse.h"
#include "conf/values.h"

/* The same bounds as track/track.h (TRACK_KEEP_*): conf does not depend on track. */
#define TRACKING_KEEP     (30u * 86400u)
#define TRACKING_KEEP_MIN 86400u
#define TRACKING_KEEP_MAX (400u * 86400u)

static int
set_keep(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;

    if (conf_value_duration(conf_arg(l, 1), TRACKING_KEEP_MIN, TRACKING_KEEP_MAX,
                            &p->c->tracking_keep, &w) == -1)
        return conf_fail(p, l->number, "keep: %s", w.text);
    return 0;
}

static int
set_enabled(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];

    if (slice_eq_ci(conf_arg(l, 1), "yes"))
        p->c->tracking_off = false;
    else if (slice_eq_ci(conf_arg(l, 1), "no"))
        p->c->tracking_off = true;
    else
        return conf_fail(p, l->number, "enabled: expected yes or no, found '%s'",
                         conf_quote(q, sizeof q, conf_arg(l, 1)));
    return 0;
}

const struct conf_setting conf_tracking_settings[CONF_TRACKING_KEYS] = {
    {"keep", 1, false, set_keep},
    {"enabled", 1, false, set_enabled},
};

int
conf_tracking_open(struct conf_parser *p, const struct conf_line *l)
{
    if (p->c->tracking_line != 0)
        return conf_fail(p, l->number, "duplicate block 'tracking' (first at line %u)",
                         p->c->tracking_line);
    p->c->tracking_line = l->number;
    return 0;
}

int
conf_tracking_close(struct conf_parser *p)
{
    (void)p;
    return 0;
}

int
conf_tracking_whole(struct conf_parser *p)
{
    if (p->c->tracking_keep == 0)
        p->c->tracking_keep = TRACKING_KEEP;
    return 0;
}
