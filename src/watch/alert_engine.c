/* SPDX-License-Identifier: MIT */
/*
 * The alert rules at work: see alert_engine.h. Each rule has a table of
 * keys (alert_table.h); an event adds one to its key's window and judges
 * it at once (so a burst fires within its own event), the tick judges the
 * active keys again (so that a key is resolved when its window has emptied
 * without any new event) and the polled rules (queue, tls-expiry).
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "watch/alert_engine.h"

struct alert_engine {
    struct alert_rule **rules; /* each on the heap: its address is the tables' evict argument */
    size_t n_rules;
    struct alert_cert *certs;
    size_t n_certs;
    unsigned char seed[16];
    alert_note_fn *fn;
    void *arg;
    /* What the current call is at, for the evict callback. */
    uint64_t now;
    time_t wall;
};

/* The back pointer an evict callback needs: a rule and its engine. */
struct rule_box {
    struct alert_rule rule; /* first: a struct alert_rule * is a struct rule_box * */
    struct alert_engine *engine;
};

/* ---- Keys ---- */

struct key {
    size_t len;
    unsigned char b[1 + ALERT_KEY_MAX];
};

static void
key_client(struct key *k, int family, const unsigned char *addr)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (family == AF_INET6 && memcmp(addr, mapped, sizeof(mapped)) == 0) {
        family = AF_INET;
        addr += 12;
    }
    if (family == AF_INET) {
        k->b[0] = ALERT_KEY_IPV4;
        memcpy(k->b + 1, addr, 4);
        k->len = 5;
    } else {
        /* One client commonly holds a whole /64: it is one key (as for the limits). */
        k->b[0] = ALERT_KEY_IPV6;
        memcpy(k->b + 1, addr, 8);
        k->len = 9;
    }
}

static void
key_bytes(struct key *k, enum alert_key_kind kind, const void *p, size_t len)
{
    if (len > ALERT_KEY_MAX - 1)
        len = ALERT_KEY_MAX - 1;
    k->b[0] = (unsigned char)kind;
    memcpy(k->b + 1, p, len);
    k->len = 1 + len;
}

/* The key of an event for a rule kept per per; false when the event has none (no user). */
static bool
key_of(struct key *k, enum conf_alert_per per, enum door_role door, int family,
       const unsigned char *addr, const char *user)
{
    unsigned char role = (unsigned char)door;

    switch (per) {
    case CONF_ALERT_PER_ALL:
        key_bytes(k, ALERT_KEY_ALL, "", 0);
        return true;
    case CONF_ALERT_PER_CLIENT:
        if (addr == NULL || (family != AF_INET && family != AF_INET6))
            return false;
        key_client(k, family, addr);
        return true;
    case CONF_ALERT_PER_USER:
        if (user == NULL || user[0] == '\0')
            return false;
        key_bytes(k, ALERT_KEY_USER, user, strnlen(user, CAP_AUTH_USER));
        return true;
    case CONF_ALERT_PER_DOOR:
        if ((unsigned)door >= DOOR_ROLE_COUNT)
            return false; /* a SYN to a port no door listens on */
        key_bytes(k, ALERT_KEY_DOOR, &role, 1);
        return true;
    case CONF_ALERT_PER_COUNT:
        break;
    }
    log_panic("alert: no per %d", (int)per);
}

/* Octets as they are when printable ASCII, else \xHH: a user name tried may hold anything. */
static void
text_escaped(const unsigned char *p, size_t len, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        if (p[i] > 0x20 && p[i] < 0x7f && p[i] != '\\') {
            out[o++] = (char)p[i];
        } else {
            (void)snprintf(out + o, cap - o, "\\x%02X", p[i]);
            o += 4;
        }
    }
    out[o] = '\0';
}

void
alert_key_text(const unsigned char *key, size_t len, char *out, size_t cap)
{
    unsigned char a6[16] = {0};
    char buf[INET6_ADDRSTRLEN];

    if (cap == 0)
        return;
    out[0] = '\0';
    if (len == 0)
        return;
    switch (key[0]) {
    case ALERT_KEY_ALL:
        (void)str_copyz(out, cap, "all");
        return;
    case ALERT_KEY_IPV4:
        if (len == 5 && inet_ntop(AF_INET, key + 1, buf, sizeof(buf)) != NULL)
            (void)str_copyz(out, cap, buf);
        return;
    case ALERT_KEY_IPV6:
        if (len == 9) {
            memcpy(a6, key + 1, 8);
            if (inet_ntop(AF_INET6, a6, buf, sizeof(buf)) != NULL)
                (void)str_fmt(out, cap, "%s/64", buf);
        }
        return;
    case ALERT_KEY_DOOR:
        if (len == 2 && key[1] < DOOR_ROLE_COUNT)
            (void)str_copyz(out, cap, conf_role_name((enum door_role)key[1]));
        return;
    case ALERT_KEY_USER:
    case ALERT_KEY_DOMAIN:
    case ALERT_KEY_CERT:
        text_escaped(key + 1, len - 1, out, cap);
        return;
    default:
        text_escaped(key, len, out, cap);
        return;
    }
}

/* ---- Judging ---- */

static bool
is_polled(const struct conf_alert *def)
{
    return def->when == CONF_ALERT_QUEUE || def->when == CONF_ALERT_TLS_EXPIRY;
}

/* The least time between two notifications of a key. */
static uint64_t
gap_ms(const struct conf_alert *def)
{
    return is_polled(def) ? ALERT_POLL_GAP_MS : (uint64_t)def->window * 1000;
}

static void
notify(struct alert_engine *e, struct alert_rule *r, struct alert_entry *ent,
       enum alert_state state, int64_t value, uint64_t threshold, bool evicted)
{
    char text[ALERT_KEY_TEXT_CAP];
    struct alert_note n;

    alert_key_text(ent->key, ent->key_len, text, sizeof(text));
    memset(&n, 0, sizeof(n));
    n.rule = r;
    n.state = state;
    n.key = text;
    n.value = value;
    n.threshold = threshold;
    n.window = is_polled(r->def) ? 0 : r->def->window;
    n.door = ent->door;
    n.since = ent->since;
    n.time = e->wall;
    n.evicted = evicted;
    e->fn(e->arg, &n);
}

static void
fire(struct alert_engine *e, struct alert_rule *r, struct alert_entry *ent, int64_t value,
     uint64_t threshold, int door)
{
    ent->firing = true;
    ent->pending = false;
    ent->last_note = e->now;
    ent->since = e->wall;
    ent->value = value;
    ent->threshold = threshold;
    ent->door = door;
    r->firing++;
    if (!is_polled(r->def))
        alert_table_set_active(r->tab, ent, true);
    notify(e, r, ent, ALERT_FIRING, value, threshold, false);
}

static void
resolve(struct alert_engine *e, struct alert_rule *r, struct alert_entry *ent, int64_t value,
        uint64_t threshold, bool evicted)
{
    ent->firing = false;
    ent->pending = false;
    ent->last_note = e->now;
    r->firing--;
    notify(e, r, ent, ALERT_RESOLVED, value, threshold, evicted);
    if (!evicted && !is_polled(r->def))
        alert_table_set_active(r->tab, ent, false);
}

static bool
gap_passed(const struct alert_engine *e, const struct alert_rule *r, const struct alert_entry *ent)
{
    return ent->last_note == 0 || e->now - ent->last_note >= gap_ms(r->def);
}

/*
 * One key's verdict: over says whether its value is at or past the
 * threshold now. Fires, resolves, or waits for the gap (pending).
 */
static void
judge(struct alert_engine *e, struct alert_rule *r, struct alert_entry *ent, bool over,
      int64_t value, uint64_t threshold, int door)
{
    if (ent->firing) {
        if (!over && gap_passed(e, r, ent))
            resolve(e, r, ent, value, threshold, false);
        return;
    }
    if (!over) {
        if (ent->pending && !is_polled(r->def))
            alert_table_set_active(r->tab, ent, false);
        ent->pending = false;
        return;
    }
    if (gap_passed(e, r, ent)) {
        fire(e, r, ent, value, threshold, door);
        return;
    }
    ent->pending = true;
    ent->door = door;
    if (!is_polled(r->def))
        alert_table_set_active(r->tab, ent, true);
}

/*
 * The threshold of a counted key now: the rule's N, or for a spike
 * max(min, factor x baseline). UINT64_MAX (never) for a spike key that has
 * not learned one window of history yet.
 */
static uint64_t
threshold_of(const struct alert_rule *r, const struct alert_entry *ent)
{
    double expected, t;

    if (r->def->when != CONF_ALERT_SPIKE)
        return r->def->threshold;
    expected = alert_table_expected(r->tab, ent);
    if (expected < 0.0)
        return UINT64_MAX;
    t = ceil(r->def->factor * expected);
    if (t < (double)r->def->threshold)
        return r->def->threshold;
    return t >= 1e18 ? UINT64_MAX : (uint64_t)t;
}

static void
judge_counted(struct alert_engine *e, struct alert_rule *r, struct alert_entry *ent, int door)
{
    uint64_t count = alert_entry_count(ent), thr = threshold_of(r, ent);

    judge(e, r, ent, count >= thr, (int64_t)count, thr, door);
}

/* ---- Events ---- */

/* Does rule r count ev? */
static bool
counts(const struct conf_alert *def, const struct watch_event *ev)
{
    if (def->when != CONF_ALERT_DEFERRED && def->doors != 0 &&
        ((unsigned)ev->door >= DOOR_ROLE_COUNT || !(def->doors & (1u << ev->door))))
        return false;
    switch (def->when) {
    case CONF_ALERT_FAILED_AUTH:
        /* A login refused because of a lockout is a failed login too: a brute force goes on. */
        return ev->kind == WATCH_AUTH &&
               (ev->auth == WATCH_AUTH_FAILURE || ev->auth == WATCH_AUTH_LOCKED);
    case CONF_ALERT_CONNECTIONS:
        return ev->kind == WATCH_CONNECT;
    case CONF_ALERT_MESSAGES:
    case CONF_ALERT_SPIKE:
        return ev->kind == WATCH_MESSAGE;
    case CONF_ALERT_REFUSED:
        return ev->kind == WATCH_REPLY && ev->code >= 500 && ev->code <= 599;
    case CONF_ALERT_DEFERRED:
        return ev->kind == WATCH_DELIVERY && ev->delivery == WATCH_DELIVERY_DEFERRED &&
               ev->domain != NULL && ev->domain[0] != '\0';
    case CONF_ALERT_SCANNER:
        /* Plain SYNs are every client's; Mirai SYNs and sessions that were not SMTP count. */
        return ev->kind == WATCH_SCANNER && ev->scan != WATCH_SCAN_PLAIN;
    case CONF_ALERT_QUEUE:
    case CONF_ALERT_TLS_EXPIRY:
    case CONF_ALERT_WHEN_COUNT:
        break;
    }
    return false;
}

void
alert_engine_note(struct alert_engine *e, const struct watch_event *ev, uint64_t now, time_t wall)
{
    struct key k;

    e->now = now;
    e->wall = wall;
    for (size_t i = 0; i < e->n_rules; i++) {
        struct alert_rule *r = e->rules[i];
        struct alert_entry *ent;

        if (!counts(r->def, ev))
            continue;
        if (r->def->when == CONF_ALERT_DEFERRED)
            key_bytes(&k, ALERT_KEY_DOMAIN, ev->domain, strnlen(ev->domain, CAP_DOMAIN));
        else if (!key_of(&k, r->def->per, ev->door, ev->family, ev->addr, ev->user))
            continue;
        ent = alert_table_get(r->tab, k.b, k.len, now, true);
        if (ent->slots[ent->cur] < UINT32_MAX)
            ent->slots[ent->cur]++;
        judge_counted(e, r, ent,
                      r->def->when == CONF_ALERT_DEFERRED || (unsigned)ev->door >= DOOR_ROLE_COUNT
                          ? -1
                          : (int)ev->door);
    }
}

/* ---- The tick ---- */

struct visit {
    struct alert_engine *e;
    struct alert_rule *r;
};

static void
tick_visit(void *arg, struct alert_entry *ent)
{
    struct visit *v = arg;

    alert_table_advance(v->r->tab, ent, v->e->now);
    judge_counted(v->e, v->r, ent, ent->door);
}

static void
poll_queue(struct alert_engine *e, struct alert_rule *r, const struct alert_queue *q)
{
    struct key k;
    struct alert_entry *ent;
    int64_t value;
    uint64_t thr;

    key_bytes(&k, ALERT_KEY_ALL, "", 0);
    ent = alert_table_get(r->tab, k.b, k.len, e->now, true);
    if (r->def->age > 0) {
        value = q->oldest > 0 && e->wall > q->oldest ? (int64_t)(e->wall - q->oldest) : 0;
        thr = r->def->age;
    } else {
        value = (int64_t)q->messages;
        thr = r->def->threshold;
    }
    judge(e, r, ent, value >= (int64_t)thr, value, thr, -1);
}

static void
poll_certs(struct alert_engine *e, struct alert_rule *r)
{
    for (size_t i = 0; i < e->n_certs; i++) {
        const struct alert_cert *c = &e->certs[i];
        struct key k;
        struct alert_entry *ent;
        int64_t left = (int64_t)c->not_after - (int64_t)e->wall;

        key_bytes(&k, ALERT_KEY_CERT, c->path, strlen(c->path));
        ent = alert_table_get(r->tab, k.b, k.len, e->now, true);
        judge(e, r, ent, left <= (int64_t)r->def->within, left, r->def->within, -1);
    }
}

void
alert_engine_tick(struct alert_engine *e, const struct alert_queue *q, uint64_t now, time_t wall)
{
    size_t budget = ALERT_TICK_BUDGET;

    e->now = now;
    e->wall = wall;
    for (size_t i = 0; i < e->n_rules; i++) {
        struct alert_rule *r = e->rules[i];
        struct visit v = {e, r};

        if (r->def->when == CONF_ALERT_QUEUE) {
            if (q != NULL)
                poll_queue(e, r, q);
        } else if (r->def->when == CONF_ALERT_TLS_EXPIRY) {
            poll_certs(e, r);
        } else {
            budget -= alert_table_visit_active(r->tab, budget, tick_visit, &v);
        }
    }
}

/* ---- Rules ---- */

static void
on_evict(void *arg, struct alert_entry *ent)
{
    struct rule_box *box = arg;

    if (ent->firing)
        resolve(box->engine, &box->rule, ent, (int64_t)alert_entry_count(ent), ent->threshold,
                true);
}

static struct alert_rule *
rule_new(struct alert_engine *e, const struct conf_alert *def)
{
    struct rule_box *box = xcalloc(1, sizeof(*box));
    uint64_t window = is_polled(def) ? ALERT_POLL_GAP_MS : (uint64_t)def->window * 1000;
    uint64_t tau = def->when == CONF_ALERT_SPIKE ? (uint64_t)def->baseline * 1000 : 0;

    box->engine = e;
    box->rule.def = def;
    box->rule.tab = alert_table_new(ALERT_KEYS_MAX, window, tau, e->seed);
    alert_table_on_evict(box->rule.tab, on_evict, box);
    return &box->rule;
}

static void
rule_free(struct alert_rule *r)
{
    if (r == NULL)
        return;
    alert_table_free(r->tab);
    free((struct rule_box *)r);
}

struct alert_engine *
alert_engine_new(const unsigned char seed[16], alert_note_fn *fn, void *arg)
{
    struct alert_engine *e = xcalloc(1, sizeof(*e));

    memcpy(e->seed, seed, sizeof(e->seed));
    e->fn = fn;
    e->arg = arg;
    return e;
}

void
alert_engine_free(struct alert_engine *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n_rules; i++)
        rule_free(e->rules[i]);
    free(e->rules);
    free(e->certs);
    free(e);
}

void
alert_engine_configure(struct alert_engine *e, const struct conf *c)
{
    struct alert_rule **rules = c->n_alerts ? xcalloc(c->n_alerts, sizeof(*rules)) : NULL;

    for (size_t i = 0; i < c->n_alerts; i++) {
        const struct conf_alert *def = &c->alerts[i];

        for (size_t k = 0; k < e->n_rules; k++) {
            struct alert_rule *old = e->rules[k];

            if (old != NULL && strcmp(old->def->name, def->name) == 0 &&
                conf_alert_same_counting(old->def, def)) {
                old->def = def;
                rules[i] = old;
                e->rules[k] = NULL;
                break;
            }
        }
        if (rules[i] == NULL)
            rules[i] = rule_new(e, def);
    }
    for (size_t k = 0; k < e->n_rules; k++)
        rule_free(e->rules[k]);
    free(e->rules);
    e->rules = rules;
    e->n_rules = c->n_alerts;
}

struct cert_gone {
    struct alert_engine *e;
    struct alert_rule *r;
};

/* A certificate no longer in the configuration is no longer expiring: resolved. */
static void
cert_gone_visit(void *arg, struct alert_entry *ent)
{
    struct cert_gone *g = arg;

    if (!ent->firing)
        return;
    for (size_t i = 0; i < g->e->n_certs; i++) {
        const char *path = g->e->certs[i].path;

        if (ent->key_len == 1 + strlen(path) && memcmp(ent->key + 1, path, ent->key_len - 1) == 0)
            return;
    }
    resolve(g->e, g->r, ent, 0, ent->threshold, false);
}

void
alert_engine_set_certs(struct alert_engine *e, const struct alert_cert *certs, size_t n)
{
    free(e->certs);
    e->certs = n ? xmalloc(n * sizeof(*certs)) : NULL;
    if (n)
        memcpy(e->certs, certs, n * sizeof(*certs));
    e->n_certs = n;
    for (size_t i = 0; i < e->n_rules; i++) {
        struct cert_gone g = {e, e->rules[i]};

        if (e->rules[i]->def->when == CONF_ALERT_TLS_EXPIRY)
            alert_table_each(e->rules[i]->tab, cert_gone_visit, &g);
    }
}

/* ---- The hold and the list ---- */

bool
alert_engine_hold(struct alert_engine *e, enum door_role door, int family,
                  const unsigned char *addr, const char *user, char *reason, size_t cap,
                  uint64_t now)
{
    (void)now;
    if (cap > 0)
        reason[0] = '\0';
    for (size_t i = 0; i < e->n_rules; i++) {
        const struct alert_rule *r = e->rules[i];
        const struct alert_entry *ent;
        char text[ALERT_KEY_TEXT_CAP];
        struct key k;

        if (!r->def->hold || r->firing == 0 || !(r->def->doors & (1u << door)) ||
            !key_of(&k, r->def->per, door, family, addr, user))
            continue;
        ent = alert_table_peek(r->tab, k.b, k.len);
        if (ent == NULL || !ent->firing)
            continue;
        alert_key_text(k.b, k.len, text, sizeof(text));
        (void)str_fmt(reason, cap, "alert %s, %s %s", r->def->name,
                      conf_alert_per_name(r->def->per), text);
        return true;
    }
    return false;
}

struct firing_list {
    const struct alert_rule *r;
    watch_alert_fn *fn;
    void *arg;
    size_t n;
};

static void
firing_visit(void *arg, struct alert_entry *ent)
{
    struct firing_list *l = arg;
    char text[ALERT_KEY_TEXT_CAP];
    struct watch_alert a;

    if (!ent->firing)
        return;
    l->n++;
    if (l->fn == NULL)
        return;
    alert_key_text(ent->key, ent->key_len, text, sizeof(text));
    a.rule = l->r->def->name;
    a.when = conf_alert_when_name(l->r->def->when);
    a.key = text;
    a.since = ent->since;
    a.value = ent->value;
    a.threshold = ent->threshold;
    l->fn(l->arg, &a);
}

size_t
alert_engine_firing(struct alert_engine *e, watch_alert_fn *fn, void *arg)
{
    size_t n = 0;

    for (size_t i = 0; i < e->n_rules; i++) {
        struct firing_list l = {e->rules[i], fn, arg, 0};

        if (e->rules[i]->firing == 0)
            continue;
        /* Polled rules keep their keys quiet (they are looked at every tick anyway). */
        if (is_polled(e->rules[i]->def))
            alert_table_each(e->rules[i]->tab, firing_visit, &l);
        else
            alert_table_each_active(e->rules[i]->tab, firing_visit, &l);
        n += l.n;
    }
    return n;
}

struct alert_rule *const *
alert_engine_rules(const struct alert_engine *e, size_t *n)
{
    *n = e->n_rules;
    return e->rules;
}
