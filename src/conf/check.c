/* SPDX-License-Identifier: MIT */
/*
 * The rules that need the whole file, run after its last line: defaults that
 * depend on other blocks (a listener's TLS mode on whether a tls block
 * exists, its session limit on the top-level one, wherever in the file those
 * were written; its per-client limits on its role), the blocks gate26 cannot
 * run without, duplicate domain blocks (found by sorting, which also prepares
 * conf_find_domain()), and each domain's outbound TLS policy (its own, or
 * the delivery block's).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/parse.h"
#include "conf/values.h"
#include "lib/slice.h"
#include "lib/str.h"

static int
domain_cmp(const void *a, const void *b)
{
    const struct conf_domain *x = a, *y = b;
    int r = strcmp(x->name, y->name);

    if (r != 0)
        return r;
    return x->line < y->line ? -1 : x->line > y->line;
}

/*
 * Sorts the domains by name (for bsearch), refuses a name given twice, and
 * gives each domain without a tls key of its own the delivery block's (which
 * may be written after it).
 */
static int
check_domains(struct conf_parser *p)
{
    struct conf *c = p->c;

    for (size_t i = 0; i < c->n_domains; i++) {
        if (!c->domains[i].has_tls_policy)
            c->domains[i].tls_policy = c->tls_policy;
    }
    if (c->n_domains == 0)
        return 0;
    qsort(c->domains, c->n_domains, sizeof *c->domains, domain_cmp);
    for (size_t i = 1; i < c->n_domains; i++) {
        if (strcmp(c->domains[i - 1].name, c->domains[i].name) == 0)
            return conf_fail(p, c->domains[i].line, "duplicate domain '%s' (first at line %u)",
                             c->domains[i].name, c->domains[i - 1].line);
    }
    return 0;
}

/*
 * DESIGN.md: inbound and internal offer STARTTLS when there is a certificate;
 * submission never lets a password travel in clear; submissions is TLS from
 * the first byte (RFC 8314 3.3).
 */
static enum conf_tls_mode
default_tls(enum door_role role, bool has_tls)
{
    switch (role) {
    case DOOR_SUBMISSION:
        return CONF_TLS_STARTTLS_REQUIRED;
    case DOOR_SUBMISSIONS:
        return CONF_TLS_IMPLICIT;
    case DOOR_INBOUND:
    case DOOR_INTERNAL:
    case DOOR_ROLE_COUNT:
        break;
    }
    return has_tls ? CONF_TLS_STARTTLS : CONF_TLS_NONE;
}

static int
check_listen(struct conf_parser *p, struct conf_listen *li)
{
    const struct conf_listen_seen *seen = &p->roles[li->role];
    const struct conf *c = p->c;

    if (!seen->tls)
        li->tls = default_tls(li->role, c->has_tls);
    if (li->tls != CONF_TLS_NONE && !c->has_tls) {
        if (seen->tls)
            return conf_fail(p, li->line, "tls %s needs a tls { cert ... key ... } block",
                             conf_tls_mode_name(li->tls));
        return conf_fail(p, li->line,
                         "listen %s uses tls %s (its default), which needs a tls { cert ... "
                         "key ... } block",
                         conf_role_name(li->role), conf_tls_mode_name(li->tls));
    }
    if (!seen->auth)
        li->auth_required = li->role == DOOR_SUBMISSION || li->role == DOOR_SUBMISSIONS;
    if (!seen->max_sessions)
        li->max_sessions = c->max_sessions;
    /* The internal door serves our own servers, by allow list: one of them may hold many
     * sessions and reconnect for every message. The others face the Internet. */
    if (!seen->max_sessions_per_client)
        li->max_sessions_per_client = li->role == DOOR_INTERNAL ? 0 : 20;
    if (!seen->connection_rate)
        li->connection_rate =
            li->role == DOOR_INTERNAL ? (struct conf_rate){0, 0} : (struct conf_rate){60, 60};
    /* policy_offers_auth(): AUTH needs the password file; without it such a door is shut. */
    if (li->auth_required && c->auth_passwd[0] == '\0')
        return conf_fail(p, li->line,
                         "listen %s requires AUTH (%s), which needs an auth { passwd FILE } "
                         "block: without one no user can log in and the door accepts no mail",
                         conf_role_name(li->role), seen->auth ? "auth required" : "its default");
    if (li->role == DOOR_INBOUND && c->n_domains == 0)
        return conf_fail(p, li->line,
                         "listen inbound needs at least one domain block: which domains do we "
                         "accept mail for?");
    return 0;
}

/* gethostname() when it is a valid Domain, else "localhost". */
static void
default_hostname(struct conf *c)
{
    char name[CAP_HOSTNAME + 2];
    struct conf_why w;

    if (gethostname(name, sizeof name) == 0) {
        name[sizeof name - 1] = '\0';
        if (conf_value_domain(slice_make(name, strlen(name)), c->hostname, &w) == 0)
            return;
    }
    (void)str_copyz(c->hostname, sizeof c->hostname, "localhost");
}

int
conf_check(struct conf_parser *p)
{
    struct conf *c = p->c;

    if (check_domains(p) == -1)
        return -1;
    if (c->n_listens == 0)
        return conf_fail(p, p->last_line, "no listen block: gate26 would accept no mail");
    for (size_t i = 0; i < c->n_listens; i++) {
        if (check_listen(p, &c->listens[i]) == -1)
            return -1;
    }
    if (c->hostname[0] == '\0')
        default_hostname(c);
    return 0;
}
