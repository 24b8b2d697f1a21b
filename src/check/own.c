/* SPDX-License-Identifier: MIT */
/*
 * gate26 check and this machine's own doors (own.h). A probe run on the
 * gateway's own host against its internal door comes from an address that
 * the door's allow list holds (127.0.0.1, or the host's own address), so
 * the door relays for it as configured: that is not an open relay, and the
 * report says why instead. The decision is the daemon's own
 * (policy_may_connect on the door of the configuration), so the check and
 * the gateway cannot disagree about who may connect.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "check/own.h"
#include "lib/str.h"
#include "policy/policy.h"

static const unsigned char v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Text into 4 or 16 octets; the family, or AF_UNSPEC when it is no address. */
static int
addr_bin(const char *text, unsigned char out[16])
{
    if (inet_pton(AF_INET, text, out) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, text, out) == 1)
        return AF_INET6;
    return AF_UNSPEC;
}

static bool
is_zero(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != 0)
            return false;
    }
    return true;
}

/* An interface of this machine has the address (getifaddrs). */
static bool
is_interface_addr(int family, const unsigned char *a)
{
    struct ifaddrs *list, *i;
    bool found = false;

    if (getifaddrs(&list) == -1)
        return false;
    for (i = list; i != NULL && !found; i = i->ifa_next) {
        const struct sockaddr *sa = i->ifa_addr;

        if (sa == NULL || sa->sa_family != family)
            continue;
        if (family == AF_INET)
            found = memcmp(&((const struct sockaddr_in *)(const void *)sa)->sin_addr, a, 4) == 0;
        else
            found = memcmp(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, a, 16) == 0;
    }
    freeifaddrs(list);
    return found;
}

bool
check_addr_is_own(const char *addr)
{
    unsigned char a[16];
    int family = addr_bin(addr, a);

    if (family == AF_INET6 && memcmp(a, v4mapped_prefix, 12) == 0) {
        /* ::ffff:a.b.c.d reaches a.b.c.d (RFC 4291 2.5.5.2). */
        memmove(a, a + 12, 4);
        family = AF_INET;
    }
    if (family == AF_INET)
        return a[0] == 127 || is_zero(a, 4) || is_interface_addr(AF_INET, a);
    if (family == AF_INET6)
        return (is_zero(a, 15) && (a[15] == 1 || a[15] == 0)) || is_interface_addr(AF_INET6, a);
    return false;
}

const struct conf_cidr *
check_door_open_allow(const struct conf_listen *li)
{
    for (size_t i = 0; i < li->n_allow; i++) {
        const struct conf_cidr *n = &li->allow[i];

        if (n->prefix == 0)
            return n;
        if (n->family == AF_INET6 && n->prefix <= 96 && memcmp(n->addr, v4mapped_prefix, 12) == 0)
            return n;
    }
    return NULL;
}

int
check_conf_addr_bin(const struct conf_addr *ca, unsigned char out[16], unsigned *port)
{
    const struct sockaddr_storage *sa = &ca->sa;

    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

        memcpy(out, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
        return AF_INET;
    }
    if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

        memcpy(out, &in6->sin6_addr, 16);
        *port = ntohs(in6->sin6_port);
        return AF_INET6;
    }
    return AF_UNSPEC;
}

const struct conf_listen *
check_door_at(const struct conf *c, int family, const unsigned char *addr, unsigned port,
              const struct conf_addr **where)
{
    const struct conf_listen *wild = NULL;
    const struct conf_addr *wild_at = NULL;
    size_t alen = family == AF_INET ? 4 : 16;

    for (size_t i = 0; i < c->n_listens; i++) {
        const struct conf_listen *li = &c->listens[i];

        for (size_t j = 0; j < li->n_addrs; j++) {
            unsigned char a[16];
            unsigned p;

            if (check_conf_addr_bin(&li->addrs[j], a, &p) != family || p != port)
                continue;
            if (memcmp(a, addr, alen) == 0) {
                if (where != NULL)
                    *where = &li->addrs[j];
                return li;
            }
            if (is_zero(a, alen) && wild == NULL) {
                wild = li;
                wild_at = &li->addrs[j];
            }
        }
    }
    if (where != NULL)
        *where = wild_at;
    return wild;
}

static struct check_finding *
find_open_relay(struct check_port *p)
{
    for (size_t i = 0; i < p->findings.n; i++) {
        if (strcmp(p->findings.v[i].id, "open-relay") == 0)
            return &p->findings.v[i];
    }
    return NULL;
}

bool
check_own_relay_found(const struct check_host *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool own = false, asked = false;

        for (size_t j = 0; j < h[i].n_ports; j++) {
            if (find_open_relay(&h[i].ports[j]) == NULL)
                continue;
            if (!asked) {
                own = check_addr_is_own(h[i].addr);
                asked = true;
            }
            if (own)
                return true;
        }
    }
    return false;
}

/* The allow network of li that holds the address (for the sentence). */
static const struct conf_cidr *
allow_holding(const struct conf_listen *li, int family, const unsigned char *a)
{
    for (size_t i = 0; i < li->n_allow; i++) {
        if (conf_cidr_match(&li->allow[i], 1, family, a))
            return &li->allow[i];
    }
    return NULL;
}

/* One port: the open relay explained by c, or left as it is. */
static void
explain_port(const struct check_host *h, struct check_port *p, const struct conf *c)
{
    struct check_finding *f = find_open_relay(p);
    unsigned char a[16], src[16];
    int family = addr_bin(h->addr, a), src_family = addr_bin(p->source, src);
    const struct conf_addr *where = NULL;
    const struct conf_listen *li;
    const struct conf_cidr *net;
    char net_text[INET6_ADDRSTRLEN + 8], text[sizeof(f->text)];

    if (f == NULL || family == AF_UNSPEC || src_family == AF_UNSPEC)
        return;
    li = check_door_at(c, family, a, p->port, &where);
    /* An empty allow list, or one that admits everyone, lets the world relay: that stays. */
    if (li == NULL || li->n_allow == 0 || check_door_open_allow(li) != NULL ||
        !policy_may_connect(li, src_family, src) ||
        (net = allow_holding(li, src_family, src)) == NULL)
        return;
    if (inet_ntop(net->family, net->addr, net_text, INET6_ADDRSTRLEN) == NULL)
        (void)str_copyz(net_text, sizeof(net_text), "?");
    (void)str_fmt(net_text + strlen(net_text), sizeof(net_text) - strlen(net_text), "/%u",
                  net->prefix);
    /* The file's name comes last: a long path is what the cap of the text may cut. */
    (void)str_fmt(text, sizeof(text),
                  "relaying for this prober because it is on the allow list: %s is in %s of "
                  "door %s at %s, which refuses others at connect (%s line %u)",
                  p->source, net_text, conf_role_name(li->role), where->text, c->path, li->line);
    (void)str_copyz(f->id, sizeof(f->id), CHECK_RELAY_ALLOW_LISTED);
    f->level = CHECK_INFO;
    (void)str_copyz(f->text, sizeof(f->text), text);
}

void
check_own_relay_explain(struct check_host *h, size_t n, const struct conf *c)
{
    for (size_t i = 0; i < n; i++) {
        if (!check_addr_is_own(h[i].addr))
            continue;
        for (size_t j = 0; j < h[i].n_ports; j++)
            explain_port(&h[i], &h[i].ports[j], c);
    }
}
