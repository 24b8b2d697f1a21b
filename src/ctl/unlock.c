/* SPDX-License-Identifier: MIT */
/*
 * `gate26 unlock CLIENT|USER` on both sides of the control socket (ctl.h):
 * the client checks its argument and sends "unlock ARG"; the daemon ends
 * the lock and forgets the failures of that client or user at once
 * (policy_unlock_client, policy_unlock_user), logs event=unlock, and says
 * what it cleared.
 *
 * ARG is a client when it is an IPv4 or IPv6 address (an IPv6 address
 * stands for its /64, as the limits count clients), a user when it is a
 * valid user name (auth_is_user_name: what AUTH accepts); a dotted quad is
 * both, and both are cleared. Anything else is a usage error.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "auth/auth.h"
#include "ctl/ctl.h"
#include "ctl/call.h"
#include "lib/log.h"
#include "lib/now.h"
#include "lib/str.h"
#include "policy/policy.h"

static const char usage_text[] =
    "usage: gate26 unlock [-c FILE] [--] CLIENT|USER\n"
    "  ends at once the AUTH lockout of a client (an IPv4 or IPv6 address; an IPv6\n"
    "  address stands for its /64) or of a user name, and forgets its failures;\n"
    "  exit 0 when something was cleared, 1 when there was nothing (or no daemon)\n";

/* What an unlock argument names. */
struct unlock_target {
    bool is_client, is_user;
    int family;
    unsigned char addr[16];
    char net[INET6_ADDRSTRLEN + 3]; /* the client as keyed: "192.0.2.7", "2001:db8::/64" */
};

/* Reads arg; -1 when it is neither an address nor a valid user name. */
static int
unlock_parse(const char *arg, struct unlock_target *t)
{
    memset(t, 0, sizeof(*t));
    if (inet_pton(AF_INET, arg, t->addr) == 1) {
        t->is_client = true;
        t->family = AF_INET;
        (void)str_fmt(t->net, sizeof(t->net), "%s", arg);
    } else if (inet_pton(AF_INET6, arg, t->addr) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        unsigned char net[16] = {0};
        char text[INET6_ADDRSTRLEN];

        t->is_client = true;
        t->family = AF_INET6;
        if (memcmp(t->addr, mapped, sizeof mapped) == 0) {
            (void)inet_ntop(AF_INET, t->addr + 12, t->net, sizeof(t->net));
        } else {
            memcpy(net, t->addr, 8);
            (void)inet_ntop(AF_INET6, net, text, sizeof(text));
            (void)str_fmt(t->net, sizeof(t->net), "%s/64", text);
        }
    }
    /* A user name never holds ':' or a space; a dotted quad may be one. */
    t->is_user = auth_is_user_name(arg, strlen(arg));
    return t->is_client || t->is_user ? 0 : -1;
}

static const char *
was_name(enum policy_unlocked u)
{
    switch (u) {
    case POLICY_UNLOCKED_LOCK:
        return "locked";
    case POLICY_UNLOCKED_FAILURES:
        return "failures";
    case POLICY_UNLOCKED_NOTHING:
        break;
    }
    return "nothing";
}

/* One line of the answer for what was found ("" when nothing). */
static void
unlock_say(char *out, size_t cap, enum policy_unlocked u, const char *what, const char *name)
{
    size_t n = strlen(out);

    if (u == POLICY_UNLOCKED_LOCK)
        (void)str_fmt(out + n, cap - n, "%sunlocked %s %s", n ? "\n" : "", what, name);
    else if (u == POLICY_UNLOCKED_FAILURES)
        (void)str_fmt(out + n, cap - n, "%sforgot the failures of %s %s (it was not locked)",
                      n ? "\n" : "", what, name);
}

int
ctl_unlock_run(struct policy_limits *pl, const char *arg, char *text, size_t cap)
{
    struct unlock_target t;
    enum policy_unlocked client = POLICY_UNLOCKED_NOTHING, user = POLICY_UNLOCKED_NOTHING;
    uint64_t now = now_ms();
    char q[LOG_QUOTE_CAP];

    if (pl == NULL) {
        (void)str_fmt(text, cap, "this daemon keeps no lockouts");
        return -1;
    }
    if (unlock_parse(arg, &t) == -1) {
        (void)str_fmt(text, cap, "not a client address or a user name: \"%s\"",
                      log_quote(q, sizeof(q), arg, strlen(arg)));
        return -1;
    }
    text[0] = '\0';
    if (t.is_client) {
        client = policy_unlock_client(pl, t.family, t.addr, now);
        log_info("-: event=unlock, client=%s, was=%s", t.net, was_name(client));
        unlock_say(text, cap, client, "client", t.net);
    }
    if (t.is_user) {
        user = policy_unlock_user(pl, arg, strlen(arg), now);
        log_info("-: event=unlock, user=\"%s\", was=%s", log_quote(q, sizeof(q), arg, strlen(arg)),
                 was_name(user));
        unlock_say(text, cap, user, "user", arg);
    }
    if (text[0] != '\0')
        return 0;
    if (t.is_client && t.is_user)
        (void)str_fmt(text, cap, "nothing to unlock for client %s or user %s", t.net, arg);
    else if (t.is_client)
        (void)str_fmt(text, cap, "nothing to unlock for client %s", t.net);
    else
        (void)str_fmt(text, cap, "nothing to unlock for user %s", arg);
    return -1;
}

/* Usage error (2) when arg is neither an address nor a user name, else -1. */
static int
unlock_arg_check(const char *arg)
{
    struct unlock_target t;
    char q[LOG_QUOTE_CAP];

    if (unlock_parse(arg, &t) == 0)
        return -1;
    fprintf(stderr,
            "gate26 unlock: \"%s\" is neither an IPv4 or IPv6 address nor a user name (1 to %d "
            "printable ASCII characters without ':' or spaces)\n%s",
            log_quote(q, sizeof(q), arg, strlen(arg)), CAP_AUTH_USER, usage_text);
    return 2;
}

int
ctl_unlock_args(int argc, char **argv)
{
    if (argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "help") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc >= 1 && argv[0][0] == '-' && strcmp(argv[0], "--") != 0) {
        char q[LOG_QUOTE_CAP];

        fprintf(stderr,
                "gate26 unlock: unknown option \"%s\" (a user name that starts with '-' goes "
                "after --)\n%s",
                log_quote(q, sizeof(q), argv[0], strlen(argv[0])), usage_text);
        return 2;
    }
    if (argc == 2 && strcmp(argv[0], "--") == 0)
        return unlock_arg_check(argv[1]);
    if (argc != 1 || strcmp(argv[0], "--") == 0) {
        fprintf(stderr, "gate26 unlock: expected one client address or user name\n%s", usage_text);
        return 2;
    }
    return unlock_arg_check(argv[0]);
}

int
ctl_unlock_client(const char *spool_dir, int argc, char **argv)
{
    const char *arg = argv[argc - 1]; /* after ctl_unlock_args: ARG, or -- ARG */
    char line[CAP_AUTH_USER + INET6_ADDRSTRLEN + 16];

    if (str_fmt(line, sizeof(line), "unlock %s\n", arg) == -1) {
        fprintf(stderr, "gate26 unlock: argument too long\n");
        return 2;
    }
    return ctl_call(spool_dir, "unlock", line);
}
