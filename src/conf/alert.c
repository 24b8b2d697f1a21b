/* SPDX-License-Identifier: MIT */
/*
 * The alert block (docs/watch.md, "Alerts"; docs/config.md, "alert
 * blocks"): one rule per block, its label the rule's name.
 *
 *   alert NAME {
 *       when     failed-auth | connections | messages | refused | spike | queue | deferred |
 *                tls-expiry
 *       over     N in DURATION       (queue: over N)
 *       per      client | user | door | all
 *       door     ROLE...             (repeatable)
 *       webhook  URL                 (repeatable: http:// or https://)
 *       mail     ADDRESS             (repeatable)
 *       exec     PROGRAM             (repeatable: an absolute path of an executable file)
 *       factor   F                   (spike)
 *       baseline DURATION            (spike)
 *       min      N in DURATION       (spike)
 *       action   hold
 *       age      over DURATION       (queue)
 *       within   DURATION            (tls-expiry)
 *   }
 *
 * Each key is checked on its line; what depends on the rule's kind (which
 * keys it needs, which it cannot take) when the block closes; what depends
 * on the listen blocks (per user on a door with AUTH) in check.c. A new
 * kind of rule is a row of kinds[] below and a name in conf.c.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/parse.h"
#include "conf/values.h"
#include "lib/num.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define MANY    0xffffffffu
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The keys, in the order of conf_alert_settings[] (p->block_seen is indexed by it). */
enum alert_key {
    AK_WHEN,
    AK_OVER,
    AK_PER,
    AK_DOOR,
    AK_WEBHOOK,
    AK_MAIL,
    AK_EXEC,
    AK_FACTOR,
    AK_BASELINE,
    AK_MIN,
    AK_ACTION,
    AK_AGE,
    AK_WITHIN,
    AK_COUNT,
};

/* The largest count of over and min. */
#define ALERT_COUNT_MAX 1000000u
/* The longest window: a week (more would be a report, not an alert). */
#define ALERT_WINDOW_MAX (7u * 86400u)

static int
fail_value(struct conf_parser *p, const struct conf_line *l, const char *what,
           const struct conf_why *w)
{
    return conf_fail(p, l->number, "%s%s", what, w->text);
}

/* ---- Keys ---- */

static int
set_when(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP], list[256];
    size_t used = 0;

    for (int k = 0; k < CONF_ALERT_WHEN_COUNT; k++) {
        if (strcmp(conf_arg(l, 1).p, conf_alert_when_name((enum conf_alert_when)k)) == 0) {
            p->alert->when = (enum conf_alert_when)k;
            return 0;
        }
    }
    list[0] = '\0';
    for (int k = 0; k < CONF_ALERT_WHEN_COUNT; k++) {
        if (str_fmt(list + used, sizeof list - used, "%s%s", k ? ", " : "",
                    conf_alert_when_name((enum conf_alert_when)k)) == -1)
            break;
        used += strlen(list + used);
    }
    return conf_fail(p, l->number, "unknown when '%s' (expected one of: %s)",
                     conf_quote(q, sizeof q, conf_arg(l, 1)), list);
}

/* N: a threshold from 1 to ALERT_COUNT_MAX. */
static int
parse_threshold(struct conf_parser *p, const struct conf_line *l, unsigned *out)
{
    char q[CONF_QUOTE_CAP];
    uint64_t v;

    if (num_parse_u64(conf_arg(l, 1), 1, ALERT_COUNT_MAX, &v) == -1)
        return conf_fail(p, l->number, "expected a threshold from 1 to %u after '%s', found '%s'",
                         ALERT_COUNT_MAX, conf_arg(l, 0).p,
                         conf_quote(q, sizeof q, conf_arg(l, 1)));
    *out = (unsigned)v;
    return 0;
}

/* N "in" DURATION: the threshold and the sliding window (1s to 7d). */
static int
parse_count_window(struct conf_parser *p, const struct conf_line *l, unsigned *n, unsigned *window)
{
    const char *key = conf_arg(l, 0).p;
    struct conf_why w;

    if (l->n != 4 || strcmp(conf_arg(l, 2).p, "in") != 0)
        return conf_fail(p, l->number, "expected %s N in DURATION (as in %s 20 in 5m)", key, key);
    if (parse_threshold(p, l, n) == -1)
        return -1;
    if (conf_value_duration(conf_arg(l, 3), 1, ALERT_WINDOW_MAX, window, &w) == -1)
        return fail_value(p, l, "window: ", &w);
    return 0;
}

/* over N in DURATION, or over N (when queue: messages queued now). */
static int
set_over(struct conf_parser *p, const struct conf_line *l)
{
    if (l->n == 2) {
        p->alert->window = 0;
        return parse_threshold(p, l, &p->alert->threshold);
    }
    return parse_count_window(p, l, &p->alert->threshold, &p->alert->window);
}

static int
set_min(struct conf_parser *p, const struct conf_line *l)
{
    return parse_count_window(p, l, &p->alert->threshold, &p->alert->window);
}

static int
set_per(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];

    for (int k = 0; k < CONF_ALERT_PER_COUNT; k++) {
        if (strcmp(conf_arg(l, 1).p, conf_alert_per_name((enum conf_alert_per)k)) == 0) {
            p->alert->per = (enum conf_alert_per)k;
            p->alert->per_line = l->number;
            return 0;
        }
    }
    return conf_fail(p, l->number, "unknown per '%s' (expected one of: client, user, door, all)",
                     conf_quote(q, sizeof q, conf_arg(l, 1)));
}

static int
set_door(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];

    for (size_t i = 1; i < l->n; i++) {
        int role;

        for (role = 0; role < DOOR_ROLE_COUNT; role++) {
            if (strcmp(conf_arg(l, i).p, conf_role_name((enum door_role)role)) == 0)
                break;
        }
        if (role == DOOR_ROLE_COUNT)
            return conf_fail(p, l->number,
                             "unknown door '%s' (expected one of: inbound, internal, submission, "
                             "submissions)",
                             conf_quote(q, sizeof q, conf_arg(l, i)));
        if (p->alert->doors & (1u << role))
            return conf_fail(p, l->number, "door %s is named twice in alert %s",
                             conf_role_name((enum door_role)role), p->alert->name);
        p->alert->doors |= 1u << role;
    }
    return 0;
}

/* One more action of a kind (at most CONF_ALERT_ACTIONS_MAX): value becomes its heap copy. */
static int
add_action(struct conf_parser *p, const struct conf_line *l, char **list, size_t *n,
           const char *value)
{
    if (*n == CONF_ALERT_ACTIONS_MAX)
        return conf_fail(p, l->number, "alert %s has too many %s lines (at most %d)",
                         p->alert->name, conf_arg(l, 0).p, CONF_ALERT_ACTIONS_MAX);
    list[(*n)++] = xstrdup(value);
    return 0;
}

/* True when s is printable ASCII without spaces (nothing to hide in a log or a header). */
static bool
is_visible(struct slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        if ((unsigned char)s.p[i] <= 0x20 || (unsigned char)s.p[i] >= 0x7f)
            return false;
    }
    return true;
}

/*
 * webhook URL: http:// or https://, a host, printable ASCII; libcurl parses
 * the rest when it posts. Other schemes (file://, ftp://, ...) are refused
 * here: an alert only ever talks HTTP.
 */
static int
set_webhook(struct conf_parser *p, const struct conf_line *l)
{
    struct slice v = conf_arg(l, 1);
    char q[CONF_QUOTE_CAP];
    size_t skip;
    char c;

    if (v.len >= 8 && strncasecmp(v.p, "https://", 8) == 0)
        skip = 8;
    else if (v.len >= 7 && strncasecmp(v.p, "http://", 7) == 0)
        skip = 7;
    else
        return conf_fail(p, l->number,
                         "webhook '%s' is not an http:// or https:// URL (expected as in "
                         "https://ops.example.com/hooks/gate26)",
                         conf_quote(q, sizeof q, v));
    if (v.len > CONF_ALERT_URL_MAX)
        return conf_fail(p, l->number, "webhook URL is too long (at most %d octets)",
                         CONF_ALERT_URL_MAX);
    if (!is_visible(v))
        return conf_fail(p, l->number,
                         "webhook '%s' holds a space or a character outside printable ASCII "
                         "(write it %%-encoded)",
                         conf_quote(q, sizeof q, v));
    c = v.len > skip ? v.p[skip] : '\0';
    if (c == '\0' || c == '/' || c == ':' || c == '?' || c == '#')
        return conf_fail(p, l->number, "no host in webhook '%s'", conf_quote(q, sizeof q, v));
    return add_action(p, l, p->alert->webhooks, &p->alert->n_webhooks, v.p);
}

/* mail ADDRESS: local@domain, where the alert's message goes (docs/watch.md). */
static int
set_mail(struct conf_parser *p, const struct conf_line *l)
{
    struct slice v = conf_arg(l, 1);
    const char *at = memrchr(v.p, '@', v.len);
    char q[CONF_QUOTE_CAP], domain[CAP_DOMAIN + 1];
    struct conf_why w;

    if (at == NULL || at == v.p || v.len > CAP_MAILBOX || (size_t)(at - v.p) > CAP_LOCAL_PART ||
        !is_visible(v) || memchr(v.p, '<', v.len) != NULL || memchr(v.p, '>', v.len) != NULL ||
        conf_value_domain(slice_make(at + 1, v.len - (size_t)(at - v.p) - 1), domain, &w) == -1)
        return conf_fail(p, l->number, "expected a mail address (local@domain), found '%s'",
                         conf_quote(q, sizeof q, v));
    return add_action(p, l, p->alert->mails, &p->alert->n_mails, v.p);
}

/*
 * exec PROGRAM: an absolute path of an executable regular file, checked now
 * so that a typo fails at start, not at the first alert. It is run as the
 * gateway's user, without a shell (docs/watch.md).
 */
static int
set_exec(struct conf_parser *p, const struct conf_line *l)
{
    struct slice v = conf_arg(l, 1);
    struct stat st;

    if (v.len == 0 || v.p[0] != '/')
        return conf_fail(p, l->number,
                         "exec '%s' is not an absolute path (the program is run without a "
                         "shell or a search path: write it as /usr/local/bin/...)",
                         v.p);
    if (v.len >= CAP_PATH)
        return conf_fail(p, l->number, "exec path is too long (at most %d octets)", CAP_PATH - 1);
    if (stat(v.p, &st) == -1)
        return conf_fail(p, l->number, "cannot run exec '%s': %s", v.p, strerror(errno));
    if (!S_ISREG(st.st_mode) || access(v.p, X_OK) == -1 || (st.st_mode & 0111) == 0)
        return conf_fail(p, l->number, "exec '%s' is not an executable file", v.p);
    if (add_action(p, l, p->alert->execs, &p->alert->n_execs, v.p) == -1)
        return -1;
    p->alert->exec_lines[p->alert->n_execs - 1] = l->number;
    return 0;
}

/*
 * factor F: digits, optionally '.' and 1 to 3 digits, from 1 to 1000. Under
 * 1 would fire below the baseline, that is all the time.
 */
static int
set_factor(struct conf_parser *p, const struct conf_line *l)
{
    struct slice v = conf_arg(l, 1);
    const char *dot = memchr(v.p, '.', v.len);
    struct slice whole = slice_make(v.p, dot ? (size_t)(dot - v.p) : v.len);
    struct slice frac = dot ? slice_make(dot + 1, v.len - whole.len - 1) : slice_make("0", 1);
    char q[CONF_QUOTE_CAP];
    uint64_t w, f;
    double value;

    if (num_parse_u64(whole, 0, 1000000, &w) == -1 || frac.len == 0 || frac.len > 3 ||
        num_parse_u64(frac, 0, 999, &f) == -1)
        return conf_fail(p, l->number,
                         "expected a factor from 1 to 1000 (as in 3 or 2.5), found '%s'",
                         conf_quote(q, sizeof q, v));
    value = (double)w;
    for (size_t i = 0, scale = 10; i < frac.len; i++, scale *= 10)
        value += (double)(frac.p[i] - '0') / (double)scale;
    if (value < 1.0)
        return conf_fail(p, l->number,
                         "factor '%s' is under 1: it would fire below the baseline (expected a "
                         "factor from 1 to 1000, as in 3)",
                         conf_quote(q, sizeof q, v));
    if (value > 1000.0)
        return conf_fail(p, l->number, "factor '%s' is over 1000", conf_quote(q, sizeof q, v));
    p->alert->factor = value;
    return 0;
}

static int
set_baseline(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;

    if (conf_value_duration(conf_arg(l, 1), 1, 30 * 86400, &p->alert->baseline, &w) == -1)
        return fail_value(p, l, "baseline: ", &w);
    return 0;
}

static int
set_action(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];

    if (strcmp(conf_arg(l, 1).p, "hold") != 0)
        return conf_fail(p, l->number, "unknown action '%s' (expected hold)",
                         conf_quote(q, sizeof q, conf_arg(l, 1)));
    p->alert->hold = true;
    p->alert->hold_line = l->number;
    return 0;
}

/* age over DURATION (when queue): the oldest queued message's age. */
static int
set_age(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;

    if (l->n != 3 || strcmp(conf_arg(l, 1).p, "over") != 0)
        return conf_fail(p, l->number, "expected age over DURATION (as in age over 1h)");
    if (conf_value_duration(conf_arg(l, 2), 1, 30 * 86400, &p->alert->age, &w) == -1)
        return fail_value(p, l, "age: ", &w);
    return 0;
}

static int
set_within(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;

    if (conf_value_duration(conf_arg(l, 1), 1, 365 * 86400, &p->alert->within, &w) == -1)
        return fail_value(p, l, "within: ", &w);
    return 0;
}

const struct conf_setting conf_alert_settings[CONF_ALERT_KEYS] = {
    [AK_WHEN] = {"when", 1, false, set_when},
    [AK_OVER] = {"over", 3, false, set_over},
    [AK_PER] = {"per", 1, false, set_per},
    [AK_DOOR] = {"door", MANY, true, set_door},
    [AK_WEBHOOK] = {"webhook", 1, true, set_webhook},
    [AK_MAIL] = {"mail", 1, true, set_mail},
    [AK_EXEC] = {"exec", 1, true, set_exec},
    [AK_FACTOR] = {"factor", 1, false, set_factor},
    [AK_BASELINE] = {"baseline", 1, false, set_baseline},
    [AK_MIN] = {"min", 3, false, set_min},
    [AK_ACTION] = {"action", 1, false, set_action},
    [AK_AGE] = {"age", 2, false, set_age},
    [AK_WITHIN] = {"within", 1, false, set_within},
};
_Static_assert(N_OF(conf_alert_settings) == AK_COUNT, "alert keys and their table differ");
_Static_assert(AK_COUNT <= CONF_SCOPE_KEYS_MAX, "alert has too many keys");

/* ---- The block ---- */

/* A rule's name: 1 to 63 of A-Z a-z 0-9 '-' '_' '.' (it is a metric label and a log word). */
int
conf_alert_open(struct conf_parser *p, const struct conf_line *l)
{
    struct slice name = conf_arg(l, 1);
    struct conf *c = p->c;
    char q[CONF_QUOTE_CAP];
    struct conf_alert *a;

    if (name.len == 0 || name.len > CONF_ALERT_NAME_MAX)
        return conf_fail(p, l->number, "expected a rule name of 1 to %d characters, found '%s'",
                         CONF_ALERT_NAME_MAX, conf_quote(q, sizeof q, name));
    for (size_t i = 0; i < name.len; i++) {
        char ch = name.p[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return conf_fail(p, l->number,
                             "unexpected character in rule name '%s' (letters, digits, '-', "
                             "'_' and '.' only)",
                             conf_quote(q, sizeof q, name));
    }
    for (size_t i = 0; i < c->n_alerts; i++) {
        if (strcmp(c->alerts[i].name, name.p) == 0)
            return conf_fail(p, l->number, "duplicate block 'alert %s' (first at line %u)", name.p,
                             c->alerts[i].line);
    }
    if (c->n_alerts == CONF_ALERTS_MAX)
        return conf_fail(p, l->number, "too many alert blocks (at most %d)", CONF_ALERTS_MAX);
    c->alerts = xrealloc(c->alerts, (c->n_alerts + 1) * sizeof(*c->alerts));
    a = &c->alerts[c->n_alerts++];
    memset(a, 0, sizeof(*a));
    memcpy(a->name, name.p, name.len);
    a->line = l->number;
    a->when = CONF_ALERT_WHEN_COUNT; /* none yet */
    a->per = CONF_ALERT_PER_ALL;
    a->factor = 3.0;
    a->baseline = 3600;
    p->alert = a;
    return 0;
}

/* What each kind of rule needs and cannot take. */
struct alert_kind {
    unsigned need;   /* keys it must have: bits (1u << AK_...) */
    unsigned refuse; /* keys it cannot take */
    const char *why; /* for a refused key: what the rule is about */
};

#define B(k) (1u << (k))
/* The counting kinds: a sliding window of events. */
#define COUNTED                                                                                    \
    {                                                                                              \
        B(AK_OVER), B(AK_FACTOR) | B(AK_BASELINE) | B(AK_MIN) | B(AK_AGE) | B(AK_WITHIN),          \
            "it counts events: over N in DURATION"                                                 \
    }

static const struct alert_kind kinds[CONF_ALERT_WHEN_COUNT] = {
    [CONF_ALERT_FAILED_AUTH] = COUNTED,
    [CONF_ALERT_CONNECTIONS] = COUNTED,
    [CONF_ALERT_MESSAGES] = COUNTED,
    [CONF_ALERT_REFUSED] = COUNTED,
    [CONF_ALERT_SPIKE] = {B(AK_MIN), B(AK_OVER) | B(AK_AGE) | B(AK_WITHIN),
                          "it compares the messages of min N in DURATION with factor x baseline"},
    [CONF_ALERT_QUEUE] = {0,
                          B(AK_PER) | B(AK_DOOR) | B(AK_FACTOR) | B(AK_BASELINE) | B(AK_MIN) |
                              B(AK_ACTION) | B(AK_WITHIN),
                          "it watches the whole queue: over N, or age over DURATION"},
    [CONF_ALERT_DEFERRED] = {B(AK_OVER),
                             B(AK_PER) | B(AK_DOOR) | B(AK_FACTOR) | B(AK_BASELINE) | B(AK_MIN) |
                                 B(AK_ACTION) | B(AK_AGE) | B(AK_WITHIN),
                             "it counts deferred deliveries per destination domain: over N in "
                             "DURATION"},
    [CONF_ALERT_TLS_EXPIRY] = {B(AK_WITHIN),
                               B(AK_OVER) | B(AK_PER) | B(AK_DOOR) | B(AK_FACTOR) | B(AK_BASELINE) |
                                   B(AK_MIN) | B(AK_ACTION) | B(AK_AGE),
                               "it watches our certificates: within DURATION"},
    [CONF_ALERT_SCANNER] = COUNTED,
};

static int
close_kind(struct conf_parser *p, struct conf_alert *a)
{
    const struct alert_kind *k = &kinds[a->when];
    const char *when = conf_alert_when_name(a->when);

    for (int key = 0; key < AK_COUNT; key++) {
        unsigned at = p->block_seen[key];

        if ((k->need & B(key)) && at == 0)
            return conf_fail(p, a->line, "alert %s (when %s) needs '%s': %s", a->name, when,
                             conf_alert_settings[key].name, k->why);
        if ((k->refuse & B(key)) && at != 0)
            return conf_fail(p, at, "'%s' does not apply to when %s: %s",
                             conf_alert_settings[key].name, when, k->why);
    }
    if (a->when == CONF_ALERT_QUEUE) {
        if ((p->block_seen[AK_OVER] != 0) == (p->block_seen[AK_AGE] != 0))
            return conf_fail(p, p->block_seen[AK_OVER] ? p->block_seen[AK_AGE] : a->line,
                             "alert %s (when queue) needs one of 'over N' (messages queued) and "
                             "'age over DURATION' (the oldest message)",
                             a->name);
        if (p->block_seen[AK_OVER] != 0 && a->window != 0)
            return conf_fail(p, p->block_seen[AK_OVER],
                             "when queue counts the messages queued now: write over N, without "
                             "'in DURATION'");
    } else if (p->block_seen[AK_OVER] != 0 && a->window == 0) {
        return conf_fail(p, p->block_seen[AK_OVER],
                         "expected over N in DURATION (as in over 20 in 5m): when %s counts "
                         "over a sliding window",
                         when);
    }
    return 0;
}

/* action hold: mail of a firing key is held; never on the Internet's door. */
static int
close_hold(struct conf_parser *p, struct conf_alert *a)
{
    if (!a->hold)
        return 0;
    if (a->doors == 0 || (a->doors & (1u << DOOR_INBOUND)))
        return conf_fail(p, a->hold_line,
                         "action hold on the inbound door%s: mail from the Internet is not held "
                         "(name the doors it holds: door internal, submission or submissions)",
                         a->doors == 0 ? " (the rule has no door line, so it watches every door)"
                                       : "");
    if (a->per != CONF_ALERT_PER_CLIENT && a->per != CONF_ALERT_PER_USER)
        return conf_fail(p, a->hold_line,
                         "action hold needs per client or per user: it holds the mail of the key "
                         "that fires (per %s would hold a whole door)",
                         conf_alert_per_name(a->per));
    return 0;
}

int
conf_alert_close(struct conf_parser *p)
{
    struct conf_alert *a = p->alert;

    if (a->when == CONF_ALERT_WHEN_COUNT)
        return conf_fail(p, a->line,
                         "alert %s needs 'when' (one of: failed-auth, connections, messages, "
                         "refused, spike, queue, deferred, tls-expiry, scanner)",
                         a->name);
    if (close_kind(p, a) == -1)
        return -1;
    if (a->per == CONF_ALERT_PER_USER && a->when == CONF_ALERT_CONNECTIONS)
        return conf_fail(p, a->per_line,
                         "per user counts nothing for when connections: a connection has no user "
                         "yet");
    return close_hold(p, a);
}
