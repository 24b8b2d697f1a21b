/* SPDX-License-Identifier: MIT */
/*
 * The smart lockout's memory of logins (policy.h): which client networks
 * each user has logged in from, in the shared-state store (state.h,
 * namespace STATE_NS_LOGIN, docs/state.md), so that a user locked by
 * failures from elsewhere can still log in from where it always does. The
 * decisions are policy_auth_gate() and policy_auth_failed() in abuse.c;
 * this file builds the keys and talks to the store.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/caps.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "policy/policy.h"
#include "state/state.h"

/* A remembered login has no value: the key is the fact. */
#define LOGIN_VALUE     ""
#define LOGIN_VALUE_LEN 0

_Static_assert(CAP_AUTH_USER + 1 + INET6_ADDRSTRLEN + 3 <= STATE_KEY_MAX,
               "a login key fits the store's keys");

struct policy_login_get {
    struct state *st;
    struct state_get *get;
    policy_login_fn *fn;
    void *arg;
};

/* The client's network as the limits count it: "192.0.2.7" or "2001:db8:1:2::/64". */
static int
login_network(char *out, size_t cap, int family, const void *addr)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const unsigned char *a = addr;
    unsigned char net[16];
    char text[INET6_ADDRSTRLEN];

    if (family == AF_INET6 && memcmp(a, mapped, sizeof mapped) == 0) {
        family = AF_INET;
        a += 12;
    }
    if (family == AF_INET)
        return inet_ntop(AF_INET, a, out, (socklen_t)cap) != NULL ? 0 : -1;
    memcpy(net, a, 8);
    memset(net + 8, 0, 8);
    if (inet_ntop(AF_INET6, net, text, sizeof text) == NULL)
        return -1;
    return str_fmt(out, cap, "%s/64", text);
}

size_t
policy_login_key(char *out, size_t cap, const char *user, size_t user_len, int family,
                 const void *addr)
{
    char net[INET6_ADDRSTRLEN + 3];

    if (user_len == 0 || user_len > CAP_AUTH_USER)
        return 0;
    for (size_t i = 0; i < user_len; i++) {
        unsigned char ch = (unsigned char)user[i];

        /* The space separates the user from the network: no valid name holds one. */
        if (ch <= 0x20 || ch >= 0x7f)
            return 0;
    }
    if (login_network(net, sizeof net, family, addr) == -1)
        return 0;
    if (str_fmt(out, cap, "%.*s %s", (int)user_len, user, net) == -1)
        return 0;
    return strlen(out);
}

void
policy_login_remember(struct state *st, const struct conf *c, const char *user, size_t user_len,
                      int family, const void *addr)
{
    char key[STATE_KEY_MAX + 1];
    size_t klen;

    if (st == NULL || policy_auth_exempt(c, family, addr))
        return;
    klen = policy_login_key(key, sizeof key, user, user_len, family, addr);
    if (klen > 0)
        state_put(st, STATE_NS_LOGIN, key, klen, LOGIN_VALUE, LOGIN_VALUE_LEN, POLICY_LOGIN_TTL);
}

static void
login_answer(void *arg, const struct state_answer *a)
{
    struct policy_login_get *g = arg;
    policy_login_fn *fn = g->fn;
    void *fn_arg = g->arg;

    free(g);
    fn(fn_arg, a->found);
}

struct policy_login_get *
policy_login_lookup(struct state *st, const char *user, size_t user_len, int family,
                    const void *addr, policy_login_fn *fn, void *arg)
{
    char key[STATE_KEY_MAX + 1];
    size_t klen;
    struct policy_login_get *g;

    if (st == NULL)
        return NULL;
    klen = policy_login_key(key, sizeof key, user, user_len, family, addr);
    if (klen == 0)
        return NULL;
    g = xcalloc(1, sizeof(*g));
    g->st = st;
    g->fn = fn;
    g->arg = arg;
    g->get = state_get(st, STATE_NS_LOGIN, key, klen, login_answer, g);
    return g;
}

void
policy_login_cancel(struct policy_login_get *g)
{
    if (g == NULL)
        return;
    state_get_cancel(g->st, g->get);
    free(g);
}
