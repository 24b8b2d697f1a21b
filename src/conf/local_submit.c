/* SPDX-License-Identifier: MIT */
/*
 * The local-submit block (docs/config.md, "local-submit block";
 * docs/packaging.md, "sendmail, the local socket and the maildrop"):
 *
 *   local-submit {
 *       socket    PATH      (default /run/gate26/submit)
 *       maildrop  PATH      (default /var/spool/gate26-maildrop)
 *       enabled   yes | no  (default yes)
 *   }
 *
 * Without the block local submission is on with the default paths, so that
 * cron and PHP on the gateway's host can send mail after an install. The
 * paths change only at a restart (the socket is made as root).
 */
#include <string.h>

#include "conf/parse.h"
#include "conf/values.h"
#include "lib/str.h"

static int
set_path(struct conf_parser *p, const struct conf_line *l, char *out)
{
    struct conf_why w;

    if (conf_value_path(conf_arg(l, 1), p->dir, out, &w) == -1)
        return conf_fail(p, l->number, "%s: %s", conf_arg(l, 0).p, w.text);
    return 0;
}

static int
set_socket(struct conf_parser *p, const struct conf_line *l)
{
    if (conf_arg(l, 1).len >= 108)
        return conf_fail(p, l->number, "socket: a socket's path has at most 107 octets");
    return set_path(p, l, p->c->local_submit_socket);
}

static int
set_maildrop(struct conf_parser *p, const struct conf_line *l)
{
    return set_path(p, l, p->c->local_submit_maildrop);
}

static int
set_enabled(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];

    if (slice_eq_ci(conf_arg(l, 1), "yes"))
        p->c->local_submit_off = false;
    else if (slice_eq_ci(conf_arg(l, 1), "no"))
        p->c->local_submit_off = true;
    else
        return conf_fail(p, l->number, "enabled: expected yes or no, found '%s'",
                         conf_quote(q, sizeof q, conf_arg(l, 1)));
    return 0;
}

const struct conf_setting conf_local_submit_settings[CONF_LOCAL_SUBMIT_KEYS] = {
    {"socket", 1, false, set_socket},
    {"maildrop", 1, false, set_maildrop},
    {"enabled", 1, false, set_enabled},
};

int
conf_local_submit_open(struct conf_parser *p, const struct conf_line *l)
{
    if (p->c->local_submit_line != 0)
        return conf_fail(p, l->number, "duplicate block 'local-submit' (first at line %u)",
                         p->c->local_submit_line);
    p->c->local_submit_line = l->number;
    return 0;
}

int
conf_local_submit_close(struct conf_parser *p)
{
    (void)p;
    return 0;
}

int
conf_local_submit_whole(struct conf_parser *p)
{
    struct conf *c = p->c;

    if (c->local_submit_socket[0] == '\0')
        (void)str_copyz(c->local_submit_socket, sizeof(c->local_submit_socket),
                        CONF_LOCAL_SUBMIT_SOCKET);
    if (c->local_submit_maildrop[0] == '\0')
        (void)str_copyz(c->local_submit_maildrop, sizeof(c->local_submit_maildrop),
                        CONF_LOCAL_SUBMIT_MAILDROP);
    if (c->local_submit_line != 0 && strcmp(c->local_submit_maildrop, c->spool) == 0)
        return conf_fail(p, c->local_submit_line,
                         "local-submit: the maildrop must not be the spool '%s'", c->spool);
    return 0;
}
