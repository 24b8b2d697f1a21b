/* SPDX-License-Identifier: MIT */
/* The shared-state interface (state.h): each call goes to the store's backend. */
#include "lib/log.h"
#include "state/state.h"

const char *
state_ns_name(enum state_ns ns)
{
    switch (ns) {
    case STATE_NS_CALLOUT:
        return "callout";
    case STATE_NS_LOGIN:
        return "login";
    case STATE_NS_COUNT:
        break;
    }
    log_panic("state: unknown namespace %d", (int)ns);
}

struct state_get *
state_get(struct state *st, enum state_ns ns, const void *key, size_t klen, state_get_fn *fn,
          void *arg)
{
    return st->ops->get(st, ns, key, klen, fn, arg);
}

void
state_get_cancel(struct state *st, struct state_get *g)
{
    if (g != NULL)
        st->ops->cancel(st, g);
}

void
state_put(struct state *st, enum state_ns ns, const void *key, size_t klen, const void *val,
          size_t vlen, unsigned ttl)
{
    st->ops->put(st, ns, key, klen, val, vlen, ttl);
}

void
state_del(struct state *st, enum state_ns ns, const void *key, size_t klen)
{
    st->ops->del(st, ns, key, klen);
}

void
state_stats(const struct state *st, enum state_ns ns, struct state_stats *out)
{
    st->ops->stats(st, ns, out);
}

void
state_free(struct state *st)
{
    if (st != NULL)
        st->ops->free(st);
}
