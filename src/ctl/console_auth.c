/* SPDX-License-Identifier: MIT */
/*
 * The console's logins in the daemon's lockout (console_auth.h).
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "ctl/console_auth.h"
#include "lib/now.h"
#include "lib/str.h"
#include "policy/policy.h"

/* The next space-separated word of line[*at..len): its start and length (0 at the end). */
static size_t
word(const char *line, size_t len, size_t *at, const char **w)
{
    size_t n = 0;

    *w = line + *at;
    while (*at + n < len && line[*at + n] != ' ')
        n++;
    *at += n;
    if (*at < len)
        (*at)++; /* the space */
    return n;
}

int
ctl_console_auth_parse(const char *line, size_t len, struct ctl_console_auth *out, char *why,
                       size_t whycap)
{
    static const size_t vlen = sizeof(CTL_CONSOLE_AUTH_VERB) - 1;
    const char *w;
    char addr[INET6_ADDRSTRLEN + 1];
    size_t at = vlen + 1, n;

    if (len < vlen || memcmp(line, CTL_CONSOLE_AUTH_VERB, vlen) != 0 ||
        (len > vlen && line[vlen] != ' '))
        return 0;
    memset(out, 0, sizeof(*out));
    if (len <= vlen + 1 || memchr(line, '\0', len) != NULL || line[len - 1] == ' ') {
        (void)str_fmt(why, whycap, "console-login needs gate|failed|ok, a client and a user");
        return -1;
    }
    n = word(line, len, &at, &w);
    if (n == 4 && memcmp(w, "gate", 4) == 0)
        out->op = CTL_CONSOLE_GATE;
    else if (n == 6 && memcmp(w, "failed", 6) == 0)
        out->op = CTL_CONSOLE_FAILED;
    else if (n == 2 && memcmp(w, "ok", 2) == 0)
        out->op = CTL_CONSOLE_OK;
    else {
        (void)str_fmt(why, whycap, "console-login: gate, failed or ok");
        return -1;
    }
    n = word(line, len, &at, &w);
    if (n == 0 || n >= sizeof(addr)) {
        (void)str_fmt(why, whycap, "console-login: not a client address");
        return -1;
    }
    memcpy(addr, w, n);
    addr[n] = '\0';
    if (inet_pton(AF_INET, addr, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, addr, out->addr) == 1)
        out->family = AF_INET6;
    else {
        (void)str_fmt(why, whycap, "console-login: not a client address");
        return -1;
    }
    n = word(line, len, &at, &w);
    if (n > 0 && !auth_is_user_name(w, n)) {
        (void)str_fmt(why, whycap, "console-login: not a user name");
        return -1;
    }
    if (at < len || (n > 0 && w + n != line + len)) {
        (void)str_fmt(why, whycap, "console-login: too many words");
        return -1;
    }
    memcpy(out->user, w, n);
    out->user[n] = '\0';
    return 1;
}

const char *
ctl_console_auth_run(struct policy_limits *pl, const struct conf *c,
                     const struct ctl_console_auth *a, char *why, size_t whycap)
{
    size_t ulen = strlen(a->user);
    const char *user = ulen > 0 ? a->user : NULL;

    if (pl == NULL || c == NULL) {
        (void)str_fmt(why, whycap, "this daemon keeps no lockouts");
        return NULL;
    }
    switch (a->op) {
    case CTL_CONSOLE_GATE:
        return policy_auth_gate(pl, c, a->family, a->addr, user, ulen, now_ms()) == POLICY_AUTH_OPEN
                   ? "open"
                   : "locked";
    case CTL_CONSOLE_FAILED:
        return policy_auth_failed(pl, c, a->family, a->addr, user, ulen, false, now_ms())
                   ? "locked"
                   : "counted";
    case CTL_CONSOLE_OK:
        policy_auth_succeeded(pl, a->family, a->addr);
        return "forgotten";
    }
    (void)str_fmt(why, whycap, "console-login: unknown operation");
    return NULL;
}
