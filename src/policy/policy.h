/* SPDX-License-Identifier: MIT */
/*
 * Who may do what on which door (DESIGN.md, "The doors"). Nothing else in
 * the daemon decides relaying: there is no "trusted because it is localhost"
 * shortcut, no percent hack, no bang path. Each function is a pure decision
 * on the configuration; the session turns a refusal into a reply.
 */
#ifndef GATE26_POLICY_POLICY_H
#define GATE26_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

/*
 * True when a client at addr (4 or 16 bytes of family AF_INET/AF_INET6) may
 * use the door: the door's allow list, when it has one, must hold it. The
 * internal door always has one (conf_load insists).
 */
bool policy_may_connect(const struct conf_listen *door, int family, const void *addr);

/* A recipient, as the policy sees it. */
struct policy_rcpt {
    const char *local; /* as written, quotes included */
    size_t local_len;
    const char *domain;
    size_t domain_len;
    bool literal;    /* the domain is an address literal */
    bool postmaster; /* RCPT TO:<Postmaster> without a domain */
};

enum policy_rcpt_verdict {
    POLICY_RCPT_OK,
    POLICY_RCPT_RELAY_DENIED, /* 550 5.7.1 */
};

/*
 * Decides whether the door takes mail for r. The inbound door takes only
 * our configured domains (and the bare <Postmaster>, RFC 5321 4.5.1), and
 * refuses local parts that carry routing of their own ('%', '!', or a quoted
 * '@') since the next hop might honour it. The other doors relay anywhere.
 */
enum policy_rcpt_verdict policy_check_rcpt(const struct conf *c, const struct conf_listen *door,
                                           const struct policy_rcpt *r);

/* True when MAIL needs a successful AUTH first on this door. */
bool policy_needs_auth(const struct conf_listen *door);

#endif
