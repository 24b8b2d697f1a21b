/* SPDX-License-Identifier: MIT */
/*
 * The console block (docs/config.md, "console block"; docs/console.md):
 *
 *   console {
 *       address  IP:PORT      (default 127.0.0.1:8026)
 *       admins   USER...      (may repeat; users of auth { passwd })
 *   }
 *
 * Only `gate26 console` reads it; the daemon ignores it. Admin names are
 * checked as the passwd file's (1..64 printable ASCII octets, no ':'):
 * conf does not depend on auth.
 */
#include <string.h>

#include "conf/parse.h"
#include "conf/values.h"
#include "lib/str.h"

#define CONSOLE_ADDRESS "127.0.0.1:8026"

static int
set_address(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;

    if (conf_value_addr(conf_arg(l, 1), &p->c->console_address, &w) == -1)
        return conf_fail(p, l->number, "address: %s", w.text);
    p->c->console_address.line = l->number;
    return 0;
}

/* A user name of the passwd file (auth_is_user_name()). */
static bool
admin_name_ok(struct slice s)
{
    if (s.len == 0 || s.len >= CONF_CONSOLE_ADMIN_CAP)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.p[i];

        if (ch < 0x21 || ch > 0x7e || ch == ':')
            return false;
    }
    return true;
}

static int
set_admins(struct conf_parser *p, const struct conf_line *l)
{
    struct conf *c = p->c;
    char q[CONF_QUOTE_CAP];

    for (size_t i = 1; i < l->n; i++) {
        struct slice s = conf_arg(l, i);

        if (!admin_name_ok(s))
            return conf_fail(p, l->number,
                             "admins: '%s' is not a user name (1 to 64 printable ASCII octets "
                             "without ':')",
                             conf_quote(q, sizeof q, s));
        for (size_t j = 0; j < c->n_console_admins; j++) {
            if (strlen(c->console_admins[j]) == s.len &&
                memcmp(c->console_admins[j], s.p, s.len) == 0)
                return conf_fail(p, l->number, "admins: '%s' is named twice",
                                 conf_quote(q, sizeof q, s));
        }
        if (c->n_console_admins == CONF_CONSOLE_ADMINS_MAX)
            return conf_fail(p, l->number, "admins: at most %d users", CONF_CONSOLE_ADMINS_MAX);
        (void)str_copy(c->console_admins[c->n_console_admins++], CONF_CONSOLE_ADMIN_CAP, s.p,
                       s.len);
    }
    return 0;
}

const struct conf_setting conf_console_settings[CONF_CONSOLE_KEYS] = {
    {"address", 1, false, set_address},
    {"admins", 0xffffffffu, true, set_admins},
};

int
conf_console_open(struct conf_parser *p, const struct conf_line *l)
{
    if (p->c->console_line != 0)
        return conf_fail(p, l->number, "duplicate block 'console' (first at line %u)",
                         p->c->console_line);
    p->c->console_line = l->number;
    return 0;
}

int
conf_console_close(struct conf_parser *p)
{
    (void)p;
    return 0;
}

int
conf_console_whole(struct conf_parser *p)
{
    struct conf_why w;

    if (p->c->console_address.sa_len == 0 &&
        conf_value_addr(slice_make(CONSOLE_ADDRESS, strlen(CONSOLE_ADDRESS)),
                        &p->c->console_address, &w) == -1)
        return conf_fail_plain(p, "console: %s", w.text); /* cannot happen */
    return 0;
}

bool
conf_console_admin(const struct conf *c, const char *user)
{
    for (size_t i = 0; i < c->n_console_admins; i++) {
        if (strcmp(c->console_admins[i], user) == 0)
            return true;
    }
    return false;
}
