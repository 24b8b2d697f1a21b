/* SPDX-License-Identifier: MIT */
/*
 * Door policy: connect (deny and allow lists), relay (the inbound door's domains) and
 * AUTH (the submission doors). See policy.h.
 */
#include <string.h>
#include <strings.h>

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

bool
policy_offers_auth(const struct conf *c, const struct conf_listen *door)
{
    return door->auth_required && c->auth_passwd[0] != '\0';
}

/* True when a and b (lengths given) are the same address: local part exact, domain in any case. */
static bool
same_address(const char *a, size_t alen, const char *b, size_t blen)
{
    const char *at_a = memrchr(a, '@', alen), *at_b = memrchr(b, '@', blen);
    size_t la, lb;

    if (at_a == NULL || at_b == NULL)
        return false;
    la = (size_t)(at_a - a);
    lb = (size_t)(at_b - b);
    return la == lb && memcmp(a, b, la) == 0 && alen - la == blen - lb &&
           strncasecmp(at_a, at_b, alen - la) == 0;
}

bool
policy_sender_owned(const struct conf *c, const char *user, const char *sender, size_t len)
{
    const char *at = memrchr(sender, '@', len);

    if (len == 0)
        return true;
    if (same_address(user, strlen(user), sender, len))
        return true;
    for (size_t i = 0; i < c->n_auth_senders; i++) {
        const struct conf_sender *cs = &c->auth_senders[i];
        size_t pl = strlen(cs->pattern);

        if (strcmp(cs->user, user) != 0)
            continue;
        if (cs->pattern[0] == '@') {
            if (at != NULL && (size_t)(sender + len - at) == pl &&
                strncasecmp(at, cs->pattern, pl) == 0)
                return true;
        } else if (same_address(cs->pattern, pl, sender, len)) {
            return true;
        }
    }
    return false;
}
