/* SPDX-License-Identifier: MIT */
/* The alert history (alert_history.h): a ring of fixed entries. */
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"
#include "watch/alert_history.h"

/* An entry: the event with its strings in it. */
struct entry {
    struct watch_alert_event e; /* rule and key point into the arrays below when read */
    char rule[CONF_ALERT_NAME_MAX + 1];
    char key[ALERT_HISTORY_KEY_CAP];
};

struct alert_history {
    size_t cap, n, next; /* next: where the next entry goes */
    struct entry *ring;
};

struct alert_history *
alert_history_new(size_t cap)
{
    struct alert_history *h = xcalloc(1, sizeof(*h));

    h->cap = cap == 0 ? 1 : cap > ALERT_HISTORY_MAX ? ALERT_HISTORY_MAX : cap;
    h->ring = xcalloc(h->cap, sizeof(*h->ring));
    return h;
}

void
alert_history_free(struct alert_history *h)
{
    if (h == NULL)
        return;
    free(h->ring);
    free(h);
}

void
alert_history_add(struct alert_history *h, const struct watch_alert_event *e)
{
    struct entry *slot = &h->ring[h->next];
    size_t len = strlen(e->key);

    slot->e = *e;
    slot->e.rule = slot->e.key = NULL;
    (void)str_copyz(slot->rule, sizeof(slot->rule), e->rule);
    if (len >= sizeof(slot->key)) {
        memcpy(slot->key, e->key, sizeof(slot->key) - 4);
        memcpy(slot->key + sizeof(slot->key) - 4, "...", 4);
    } else {
        memcpy(slot->key, e->key, len + 1);
    }
    h->next = (h->next + 1) % h->cap;
    if (h->n < h->cap)
        h->n++;
}

size_t
alert_history_each(const struct alert_history *h, watch_alert_event_fn *fn, void *arg)
{
    if (h == NULL)
        return 0;
    for (size_t i = 0; i < h->n; i++) {
        const struct entry *x = &h->ring[(h->next + h->cap - 1 - i) % h->cap];
        struct watch_alert_event e = x->e;

        e.rule = x->rule;
        e.key = x->key;
        fn(arg, &e);
    }
    return h->n;
}
