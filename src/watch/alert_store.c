/* SPDX-License-Identifier: MIT */
/*
 * The baselines file: see alert_store.h. The reader takes the text line by
 * line (the cap first, then the LF), each record its fields separated by
 * exactly one space, numbers within their ranges; anything else refuses
 * the whole file.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/num.h"
#include "lib/slice.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "watch/alert_store.h"

/* The longest line: a key of ALERT_KEY_MAX octets in hex, and three numbers. */
#define STORE_LINE_MAX (2 * ALERT_KEY_MAX + 128)
#define STORE_FIELDS   6

/* ---- Writing ---- */

struct wbuf {
    char *p;
    size_t len, cap;
};

static void wbuf_add(struct wbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
wbuf_add(struct wbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            log_panic("alert_store: vsnprintf failed");
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n;
        b->p = xrealloc(b->p, b->cap);
    }
}

struct fmt {
    struct wbuf b;
    struct alert_table *tab;
    uint64_t now;
};

static void
key_line(void *arg, struct alert_entry *e)
{
    struct fmt *f = arg;
    uint64_t learned;
    double s, wsum;

    alert_table_snapshot(f->tab, e, f->now, &s, &wsum, &learned);
    if (learned == 0 || !isfinite(s) || !isfinite(wsum))
        return;
    wbuf_add(&f->b, "key ");
    for (size_t i = 0; i < e->key_len; i++)
        wbuf_add(&f->b, "%02X", e->key[i]);
    wbuf_add(&f->b, " %.17g %.17g %" PRIu64 "\n", s, wsum, learned);
}

char *
alert_store_format(struct alert_engine *e, uint64_t now, size_t *len)
{
    struct fmt f = {{xmalloc(4096), 0, 4096}, NULL, now};
    struct wbuf *b = &f.b;
    struct alert_rule *const *rules;
    size_t n;

    rules = alert_engine_rules(e, &n);
    wbuf_add(b, "%s\n", ALERT_STORE_MAGIC);
    for (size_t i = 0; i < n; i++) {
        const struct conf_alert *def = rules[i]->def;

        if (def->when != CONF_ALERT_SPIKE)
            continue;
        wbuf_add(b, "rule %s %u %u %s %u\n", def->name, def->window, def->baseline,
                 conf_alert_per_name(def->per), def->doors);
        f.tab = rules[i]->tab;
        alert_table_each(rules[i]->tab, key_line, &f);
    }
    wbuf_add(b, "end\n");
    *len = b->len;
    return b->p;
}

/* ---- Reading ---- */

struct rd {
    const char *p;
    size_t len, pos;
    unsigned line_no;
    struct slice tok[STORE_FIELDS];
    size_t n_tok;
    char *why;
    size_t cap;
};

static int
rd_fail(struct rd *r, const char *what)
{
    (void)str_fmt(r->why, r->cap, "line %u: %s", r->line_no, what);
    return -1;
}

/* The next line, split at single spaces into non-empty fields. 0, or -1 (also at the end). */
static int
rd_line(struct rd *r)
{
    size_t left = r->len - r->pos, scan = left < STORE_LINE_MAX ? left : STORE_LINE_MAX;
    const char *start = r->p + r->pos, *lf = memchr(start, '\n', scan), *t;

    r->line_no++;
    if (lf == NULL)
        return rd_fail(r, scan == left ? "truncated (no 'end')" : "line too long");
    r->pos += (size_t)(lf - start) + 1;
    r->n_tok = 0;
    for (t = start;;) {
        const char *sp = memchr(t, ' ', (size_t)(lf - t));
        const char *end = sp != NULL ? sp : lf;

        if (end == t)
            return rd_fail(r, "empty field");
        if (r->n_tok == STORE_FIELDS)
            return rd_fail(r, "too many fields");
        r->tok[r->n_tok++] = slice_make(t, (size_t)(end - t));
        if (sp == NULL)
            return 0;
        t = sp + 1;
    }
}

/* True when every octet of s is in set (s need not end in a NUL). */
static bool
all_in(struct slice s, const char *set)
{
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] == '\0' || strchr(set, s.p[i]) == NULL)
            return false;
    }
    return true;
}

static bool
tok_is(struct slice s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* A finite number from 0 to 1e300 as %.17g writes it (digits, '.', 'e', signs). */
static int
parse_double(struct slice s, double *out)
{
    char buf[64], *end;

    if (s.len == 0 || s.len >= sizeof(buf) || !all_in(s, "0123456789.e+-"))
        return -1;
    memcpy(buf, s.p, s.len);
    buf[s.len] = '\0';
    errno = 0;
    *out = strtod(buf, &end);
    if (errno != 0 || end != buf + s.len || !isfinite(*out) || *out < 0.0 || *out > 1e300)
        return -1;
    return 0;
}

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "rule" NAME WINDOW BASELINE PER DOORS */
static int
rd_rule(struct rd *r, struct alert_store_rec *rec, char name[CONF_ALERT_NAME_MAX + 1])
{
    uint64_t window, baseline, doors;
    int per;

    if (r->n_tok != 6)
        return rd_fail(r, "expected rule NAME WINDOW BASELINE PER DOORS");
    if (r->tok[1].len > CONF_ALERT_NAME_MAX ||
        !all_in(r->tok[1], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."))
        return rd_fail(r, "bad rule name");
    if (num_parse_u64(r->tok[2], 1, UINT32_MAX, &window) == -1 ||
        num_parse_u64(r->tok[3], 1, UINT32_MAX, &baseline) == -1 ||
        num_parse_u64(r->tok[5], 0, (1u << DOOR_ROLE_COUNT) - 1, &doors) == -1)
        return rd_fail(r, "bad number");
    for (per = 0; per < CONF_ALERT_PER_COUNT; per++) {
        if (tok_is(r->tok[4], conf_alert_per_name((enum conf_alert_per)per)))
            break;
    }
    if (per == CONF_ALERT_PER_COUNT)
        return rd_fail(r, "bad per");
    memcpy(name, r->tok[1].p, r->tok[1].len);
    name[r->tok[1].len] = '\0';
    rec->rule = name;
    rec->window = (unsigned)window;
    rec->baseline = (unsigned)baseline;
    rec->per = (enum conf_alert_per)per;
    rec->doors = (unsigned)doors;
    rec->key = NULL;
    rec->key_len = 0;
    return 0;
}

/* "key" HEX S WSUM LEARNED */
static int
rd_key(struct rd *r, struct alert_store_rec *rec, unsigned char *key)
{
    struct slice hex = r->tok[1];

    if (r->n_tok != 5)
        return rd_fail(r, "expected key HEX S WSUM LEARNED");
    if (hex.len < 2 || hex.len % 2 != 0 || hex.len > 2 * ALERT_KEY_MAX)
        return rd_fail(r, "bad key");
    for (size_t i = 0; i < hex.len; i += 2) {
        int hi = hex_digit(hex.p[i]), lo = hex_digit(hex.p[i + 1]);

        if (hi < 0 || lo < 0)
            return rd_fail(r, "bad key");
        key[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    if (parse_double(r->tok[2], &rec->s) == -1 || parse_double(r->tok[3], &rec->wsum) == -1 ||
        num_parse_u64(r->tok[4], 1, UINT64_MAX / 2, &rec->learned_ms) == -1)
        return rd_fail(r, "bad number");
    rec->key = key;
    rec->key_len = hex.len / 2;
    return 0;
}

/* One pass over the file: fn (may be NULL) for each record. */
static long
parse_pass(struct rd *r, alert_store_fn *fn, void *arg)
{
    char name[CONF_ALERT_NAME_MAX + 1];
    unsigned char *key = xmalloc(ALERT_KEY_MAX);
    struct alert_store_rec rec;
    size_t rules = 0, keys_of_rule = 0;
    long keys = 0;

    memset(&rec, 0, sizeof(rec));
    if (r->len > ALERT_STORE_MAX) {
        free(key);
        return rd_fail(r, "file too large");
    }
    if (rd_line(r) == -1) {
        free(key);
        return -1;
    }
    if (r->n_tok != 2 || !tok_is(r->tok[0], "gate26-baselines") || !tok_is(r->tok[1], "1")) {
        free(key);
        return rd_fail(r, "not a gate26 baselines file of version 1");
    }
    for (;;) {
        if (rd_line(r) == -1)
            break;
        if (r->n_tok == 1 && tok_is(r->tok[0], "end")) {
            free(key);
            if (r->pos != r->len)
                return rd_fail(r, "something follows 'end'");
            return keys;
        }
        if (tok_is(r->tok[0], "rule")) {
            if (++rules > CONF_ALERTS_MAX) {
                (void)rd_fail(r, "too many rules");
                break;
            }
            if (rd_rule(r, &rec, name) == -1)
                break;
            keys_of_rule = 0;
        } else if (tok_is(r->tok[0], "key")) {
            if (rec.rule == NULL) {
                (void)rd_fail(r, "a key before any rule");
                break;
            }
            if (++keys_of_rule > ALERT_KEYS_MAX) {
                (void)rd_fail(r, "too many keys");
                break;
            }
            if (rd_key(r, &rec, key) == -1)
                break;
            keys++;
        } else {
            (void)rd_fail(r, "unknown record");
            break;
        }
        if (fn != NULL)
            fn(arg, &rec);
    }
    free(key);
    return -1;
}

long
alert_store_parse(const char *p, size_t len, alert_store_fn *fn, void *arg, char *why, size_t cap)
{
    struct rd r = {.p = p, .len = len, .why = why, .cap = cap};
    long n;

    /* All or nothing: check the whole file before telling anyone of its records. */
    n = parse_pass(&r, NULL, NULL);
    if (n == -1 || fn == NULL)
        return n;
    r = (struct rd){.p = p, .len = len, .why = why, .cap = cap};
    return parse_pass(&r, fn, arg);
}

struct restore {
    struct alert_engine *e;
    struct alert_rule *rule; /* the matching rule of the record's rule line; NULL: none */
    uint64_t now;
    long restored;
};

static void
restore_rec(void *arg, const struct alert_store_rec *rec)
{
    struct restore *st = arg;
    struct alert_entry *ent;

    if (rec->key == NULL) {
        struct alert_rule *const *rules;
        size_t n;

        st->rule = NULL;
        rules = alert_engine_rules(st->e, &n);
        for (size_t i = 0; i < n; i++) {
            const struct conf_alert *def = rules[i]->def;

            if (def->when == CONF_ALERT_SPIKE && strcmp(def->name, rec->rule) == 0 &&
                def->window == rec->window && def->baseline == rec->baseline &&
                def->per == rec->per && def->doors == rec->doors)
                st->rule = rules[i];
        }
        return;
    }
    if (st->rule == NULL)
        return;
    ent = alert_table_get(st->rule->tab, rec->key, rec->key_len, st->now, true);
    alert_table_set_baseline(ent, rec->s, rec->wsum, rec->learned_ms);
    st->restored++;
}

long
alert_store_restore(struct alert_engine *e, const char *p, size_t len, uint64_t now, char *why,
                    size_t cap)
{
    struct restore st = {e, NULL, now, 0};

    if (alert_store_parse(p, len, restore_rec, &st, why, cap) == -1)
        return -1;
    return st.restored;
}
