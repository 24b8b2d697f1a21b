/* SPDX-License-Identifier: MIT */
/*
 * gate26 audit: what the configuration's doors let in (docs/check.md,
 * "gate26 audit"). Judged from the file alone; the live side of the same
 * questions (who listens, what they offer) is in live.c.
 *
 * AUTH: gate26 offers AUTH only inside TLS (smtp_auth_offered(): the
 * session's TLS, the door's auth required and the auth block, as
 * policy_offers_auth() says). So a door that requires AUTH cannot offer it
 * in clear; what the file can still get wrong is a door where TLS is
 * optional or absent, where a client may send its password before any TLS
 * (gate26 answers 538 5.7.11, after the password crossed the network).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "audit/audit_impl.h"
#include "lib/str.h"
#include "policy/policy.h"

/* The address (4 or 16 octets into a) and port of a door's address line; its family. */
static int
addr_bin(const struct conf_addr *ca, unsigned char a[16], unsigned *port)
{
    if (ca->sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ca->sa;

        memcpy(a, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
        return AF_INET;
    }
    if (ca->sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ca->sa;

        memcpy(a, &in6->sin6_addr, 16);
        *port = ntohs(in6->sin6_port);
        return AF_INET6;
    }
    return AF_UNSPEC;
}

static bool
is_public(const struct conf_addr *ca)
{
    unsigned char a[16];
    unsigned port;
    int family = addr_bin(ca, a, &port);

    return family != AF_UNSPEC && audit_addr_is_public(family, a);
}

static bool
is_loopback(const struct conf_addr *ca)
{
    unsigned char a[16];
    unsigned port;
    int family = addr_bin(ca, a, &port);

    if (family == AF_INET)
        return a[0] == 127;
    return family == AF_INET6 && memcmp(a, in6addr_loopback.s6_addr, 16) == 0;
}

/* An IPv4 network, or an IPv4-mapped IPv6 one (judged as IPv4). */
static bool
is_v4(const struct conf_cidr *n)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    return n->family == AF_INET || (n->prefix >= 96 && memcmp(n->addr, mapped, 12) == 0);
}

/* The first allow network of li judged at least as wide as want (NULL: none). */
static const struct conf_cidr *
allow_at_least(const struct conf_listen *li, enum audit_net want)
{
    for (size_t i = 0; i < li->n_allow; i++) {
        if (audit_net_judge(&li->allow[i]) >= want)
            return &li->allow[i];
    }
    return NULL;
}

static void
public_no_tls(const struct conf_listen *li, struct check_findings *f)
{
    if (li->tls != CONF_TLS_NONE)
        return;
    for (size_t j = 0; j < li->n_addrs; j++) {
        const struct conf_addr *ca = &li->addrs[j];
        unsigned char a[16];
        unsigned port;
        int family = addr_bin(ca, a, &port);
        bool wildcard = family == AF_INET    ? memcmp(a, "\0\0\0\0", 4) == 0
                        : family == AF_INET6 ? memcmp(a, in6addr_any.s6_addr, 16) == 0
                                             : false;

        if (!is_public(ca))
            continue;
        check_add(f, "audit.door-public-no-tls", CHECK_WARN,
                  "door %s at %s (line %u): %s, without TLS: mail crosses the network in "
                  "clear",
                  conf_role_name(li->role), ca->text, ca->line,
                  wildcard ? "every interface, public ones included" : "a public address");
        check_fix(f, "add a tls { cert ... key ... } block and tls starttls on the door, or "
                     "listen on a private address");
    }
}

static void
auth_tls_optional(const struct conf *c, const struct conf_listen *li, struct check_findings *f)
{
    if (!policy_offers_auth(c, li))
        return;
    if (li->tls == CONF_TLS_NONE) {
        check_add(f, "audit.auth-tls-optional", CHECK_WARN,
                  "door %s (line %u) requires AUTH with tls none: gate26 offers AUTH only "
                  "inside TLS, so nobody can log in, and a client that sends AUTH anyway sends "
                  "its password in clear",
                  conf_role_name(li->role), li->line);
        check_fix(f, "tls starttls required on the door (with a tls block), or auth none and an "
                     "allow list");
    } else if (li->tls == CONF_TLS_STARTTLS) {
        check_add(f, "audit.auth-tls-optional", CHECK_WARN,
                  "door %s (line %u) requires AUTH but STARTTLS is optional (tls starttls): a "
                  "client that skips it may send its password in clear",
                  conf_role_name(li->role), li->line);
        check_fix(f, "tls starttls required (or tls implicit) on the door");
    }
}

static void
internal_allow(const struct conf_listen *li, struct check_findings *f)
{
    const struct conf_cidr *n;
    bool loopback_only = li->n_addrs > 0;
    char net[80];

    if (li->role != DOOR_INTERNAL)
        return;
    for (size_t j = 0; j < li->n_addrs; j++)
        loopback_only = loopback_only && is_loopback(&li->addrs[j]);
    if ((n = allow_at_least(li, AUDIT_NET_EVERYONE)) != NULL) {
        conf_cidr_text(n, net, sizeof(net));
        /* On loopback only, "everyone" is every local process; elsewhere the Internet. */
        check_add(f, "audit.internal-open", loopback_only ? CHECK_WARN : CHECK_CRIT,
                  "door internal (line %u): allow %s admits everyone%s: it relays mail to "
                  "anywhere for them",
                  li->line, net, loopback_only ? " on this machine" : "");
        check_fix(f, "allow only our own servers' networks on the internal door (e.g. allow "
                     "10.1.2.0/24)");
        return;
    }
    for (size_t i = 0; i < li->n_allow; i++) {
        if (audit_net_judge(&li->allow[i]) != AUDIT_NET_WIDE)
            continue;
        conf_cidr_text(&li->allow[i], net, sizeof(net));
        check_add(f, "audit.internal-wide", CHECK_WARN,
                  "door internal (line %u): allow %s is wider than %s: it relays for far more "
                  "hosts than our servers",
                  li->line, net, is_v4(&li->allow[i]) ? "/16" : "/48");
        check_fix(f, "narrow the allow network to the servers' own (/24 or the hosts)");
    }
}

/*
 * Port 26 is told to users as a submission port (RFC 6409 is 587; many
 * providers open 26 beside it) and scanned by every Mirai bot. A door on 26
 * that anyone may reach without AUTH is a relay (internal) or a door where
 * users send without logging in (inbound).
 */
static void
port26_no_auth(const struct conf_listen *li, struct check_findings *f)
{
    const struct conf_cidr *open = allow_at_least(li, AUDIT_NET_EVERYONE);

    if (li->auth_required || (li->n_allow > 0 && open == NULL))
        return;
    for (size_t j = 0; j < li->n_addrs; j++) {
        const struct conf_addr *ca = &li->addrs[j];
        unsigned char a[16];
        unsigned port;

        if (addr_bin(ca, a, &port) == AF_UNSPEC || port != 26 || !is_public(ca))
            continue;
        check_add(f, "audit.port26-no-auth", li->role == DOOR_INBOUND ? CHECK_WARN : CHECK_CRIT,
                  "door %s at %s (line %u): port 26, open to everyone, without AUTH: %s",
                  conf_role_name(li->role), ca->text, ca->line,
                  li->role == DOOR_INBOUND ? "users told to submit on 26 send without logging in"
                                           : "anyone may send through it without a login");
        check_fix(f, "serve port 26 as listen submission (auth required), or restrict the "
                     "door's allow list");
    }
}

void
audit_doors(const struct conf *c, struct check_findings *f)
{
    for (size_t i = 0; i < c->n_listens; i++) {
        const struct conf_listen *li = &c->listens[i];

        public_no_tls(li, f);
        auth_tls_optional(c, li, f);
        internal_allow(li, f);
        port26_no_auth(li, f);
    }
}
