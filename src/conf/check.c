/* SPDX-License-Identifier: MIT */
/*
 * The rules that need the whole file, run after its last line: defaults that
 * depend on other blocks (a listener's TLS mode on whether a tls block
 * exists, its session limit on the top-level one, wherever in the file those
 * were written; its per-client limits on its role), the blocks gate26 cannot
 * run without, duplicate domain blocks (found by sorting, which also prepares
 * conf_find_domain()), each domain's outbound TLS policy (its own, or
 * the delivery block's), and no tls none where a relay-auth password would
 * go.
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

/* True when name is a subdomain of parent (both lower case). */
static bool
is_below(const char *name, const char *parent)
{
    size_t n = strlen(name), k = strlen(parent);

    return n > k + 1 && name[n - k - 1] == '.' && strcmp(name + n - k, parent) == 0;
}

/*
 * A relay with relay-auth is only ever spoken to over TLS (the client
 * raises may to encrypt for it): an explicit none that would apply to it is
 * a mistake, reported at the line that says none. The domain block's own
 * tls none is close_domain()'s; here the delivery block's tls none that a
 * domain inherits or the relay-host would use, and tls-policy lines.
 */
static int
check_relay_auth_tls(struct conf_parser *p)
{
    const struct conf *c = p->c;
    static const char hint[] = "a password never travels in clear: use encrypt or verify";

    if (p->delivery_tls_line != 0 && c->tls_policy == CONF_TLS_POLICY_NONE) {
        if (c->relay_host.auth != NULL)
            return conf_fail(p, p->delivery_tls_line,
                             "tls none, but the relay-host has relay-auth (line %u), which needs "
                             "TLS; %s",
                             c->relay_host.auth->line, hint);
        for (size_t i = 0; i < c->n_domains; i++) {
            const struct conf_domain *d = &c->domains[i];

            if (d->relay.auth != NULL && !d->has_tls_policy)
                return conf_fail(p, p->delivery_tls_line,
                                 "tls none applies to domain %s, whose relay-auth (line %u) needs "
                                 "TLS; %s (or give the domain block a tls key)",
                                 d->name, d->relay.auth->line, hint);
        }
    }
    for (size_t i = 0; i < c->n_tls_dests; i++) {
        const struct conf_tls_dest *t = &c->tls_dests[i];
        const struct conf_relay_auth *a = c->relay_host.auth;

        if (t->policy != CONF_TLS_POLICY_NONE)
            continue;
        if (!t->subdomains) {
            const struct conf_domain *d = conf_find_domain(c, t->domain, strlen(t->domain));

            if (d != NULL && d->relay.n > 0)
                a = d->relay.auth;
        }
        for (size_t k = 0; t->subdomains && a == NULL && k < c->n_domains; k++) {
            if (is_below(c->domains[k].name, t->domain))
                a = c->domains[k].relay.auth;
        }
        if (a != NULL)
            return conf_fail(p, t->line,
                             "tls-policy %s%s none: its mail goes to a relay with relay-auth "
                             "(line %u), which needs TLS; %s",
                             t->subdomains ? "." : "", t->domain, a->line, hint);
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

/*
 * per user counts authenticated users (failed-auth: the names tried): on a
 * door without AUTH it would count nothing. The doors are the rule's door
 * lines, or every listen block when it has none.
 */
static int
check_alerts(struct conf_parser *p)
{
    const struct conf *c = p->c;

    for (size_t i = 0; i < c->n_alerts; i++) {
        const struct conf_alert *a = &c->alerts[i];

        if (a->per != CONF_ALERT_PER_USER)
            continue;
        for (size_t k = 0; k < c->n_listens; k++) {
            const struct conf_listen *li = &c->listens[k];

            if (a->doors != 0 && !(a->doors & (1u << li->role)))
                continue;
            if (!li->auth_required)
                return conf_fail(p, a->per_line,
                                 "per user on door %s, which has no AUTH (listen %s at line %u): "
                                 "it would count nothing there%s",
                                 conf_role_name(li->role), conf_role_name(li->role), li->line,
                                 a->doors == 0 ? " (name the doors with AUTH: door submission)"
                                               : "");
        }
    }
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

    if (check_domains(p) == -1 || check_relay_auth_tls(p) == -1)
        return -1;
    if (c->n_listens == 0)
        return conf_fail(p, p->last_line, "no listen block: gate26 would accept no mail");
    for (size_t i = 0; i < c->n_listens; i++) {
        if (check_listen(p, &c->listens[i]) == -1)
            return -1;
    }
    if (check_alerts(p) == -1 || conf_checks_whole(p) == -1 || conf_tracking_whole(p) == -1 ||
        conf_console_whole(p) == -1 || conf_local_submit_whole(p) == -1)
        return -1;
    if (c->hostname[0] == '\0')
        default_hostname(c);
    return 0;
}
