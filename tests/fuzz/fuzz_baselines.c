/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the spike baselines file (watch/alert_store.c),
 * which the daemon reads from its spool at start: a file that may be
 * truncated, corrupt or edited. Any broken invariant aborts: a refusal says
 * "line N: ..." with N within the input and tells the callback nothing (all
 * or nothing); an accepted file's key count is what the callback saw, every
 * number is finite and not negative, every key within its cap; restored
 * into an engine with a matching spike rule, then written out again, it
 * reads back with the same number of keys (the writer's output is always
 * readable).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "watch/alert_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

struct seen {
    long rules, keys;
};

static void
on_rec(void *arg, const struct alert_store_rec *rec)
{
    struct seen *s = arg;

    CHECK(rec->rule != NULL && strlen(rec->rule) >= 1 && strlen(rec->rule) <= CONF_ALERT_NAME_MAX);
    if (rec->key == NULL) {
        s->rules++;
        return;
    }
    s->keys++;
    CHECK(rec->key_len >= 1 && rec->key_len <= ALERT_KEY_MAX);
    CHECK(isfinite(rec->s) && rec->s >= 0 && isfinite(rec->wsum) && rec->wsum >= 0);
    CHECK(rec->learned_ms >= 1);
}

static void
ignore(void *arg, const struct alert_note *n)
{
    (void)arg;
    (void)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char seed[16] = "fuzz-baselines!!";
    const char *text = (const char *)data;
    struct seen seen = {0, 0};
    struct conf_alert def;
    struct conf c;
    struct alert_engine *e;
    size_t lines = 1, len;
    char why[256] = "", *out;
    long n;

    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';
    n = alert_store_parse(text, size, on_rec, &seen, why, sizeof(why));
    if (n == -1) {
        char *end;
        unsigned long line;

        CHECK(strncmp(why, "line ", 5) == 0);
        line = strtoul(why + 5, &end, 10);
        CHECK(end != why + 5 && *end == ':' && line >= 1 && line <= lines);
        CHECK(seen.rules == 0 && seen.keys == 0);
        return 0;
    }
    CHECK(n == seen.keys);
    /* Restored into the rule the fuzzer is most likely to name, and written back. */
    memset(&def, 0, sizeof(def));
    strcpy(def.name, "s");
    def.when = CONF_ALERT_SPIKE;
    def.threshold = 5;
    def.window = 10;
    def.per = CONF_ALERT_PER_CLIENT;
    def.doors = 2;
    def.factor = 3.0;
    def.baseline = 60;
    memset(&c, 0, sizeof(c));
    c.alerts = &def;
    c.n_alerts = 1;
    e = alert_engine_new(seed, ignore, NULL);
    alert_engine_configure(e, &c);
    n = alert_store_restore(e, text, size, 1000000, why, sizeof(why));
    CHECK(n >= 0 && n <= seen.keys);
    out = alert_store_format(e, 1000000, &len);
    CHECK(alert_store_parse(out, len, NULL, NULL, why, sizeof(why)) >= 0);
    free(out);
    alert_engine_free(e);
    return 0;
}
