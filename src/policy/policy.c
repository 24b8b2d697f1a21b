/* SPDX-License-Identifier: MIT */
/*
 * Door policy: connect (deny and allow lists), relay (the inbound door's domains) and
 * AUTH (the submission doors). See policy.h.
 */
#include <string.h>

#include "policy/policy.h"

bool
policy_may_connect(const struct conf_listen *door, int family, const void *addr)
{
    if (door->n_deny > 0 && conf_cidr_match(door->deny, door->n_deny, family, addr))
        return false;
    if (door->n_allow == 0)
        return true;
    return conf_cidr_match(door->allow, door->n_allow, family, addr);
}

/* True when the local part holds a character that some MTA would read as a
 * route: the percent hack, UUCP bang paths, or an '@' inside quotes. */
static bool
local_has_route(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '%' || p[i] == '!' || p[i] == '@')
            return true;
    }
    return false;
}

enum policy_rcpt_verdict
policy_check_rcpt(const struct conf *c, const struct conf_listen *door, const struct policy_rcpt *r)
{
    if (door->role != DOOR_INBOUND)
        return POLICY_RCPT_OK;
    if (r->postmaster)
        return POLICY_RCPT_OK;
    if (r->literal || conf_find_domain(c, r->domain, r->domain_len) == NULL)
        return POLICY_RCPT_RELAY_DENIED;
    if (local_has_route(r->local, r->local_len))
        return POLICY_RCPT_RELAY_DENIED;
    return POLICY_RCPT_OK;
}

bool
policy_needs_auth(const struct conf_listen *door)
{
    return door->auth_required;
}
