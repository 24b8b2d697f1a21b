/* SPDX-License-Identifier: MIT */
/*
 * Greylisting (greylist.h): the triplet of an attempt (the client's /24 or
 * /64, the sender, the recipient) and the calls into the store's backend
 * (greylist_sqlite.c today).
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "checks/greylist.h"
#include "lib/str.h"

int
greylist_net(char *out, size_t cap, int family, const void *addr)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const unsigned char *a = addr;
    unsigned char net[16];
    char text[INET6_ADDRSTRLEN];

    if (family == AF_INET6 && memcmp(a, mapped, sizeof mapped) == 0) {
        family = AF_INET;
        a += 12;
    }
    if (family == AF_INET) {
        memcpy(net, a, 3);
        net[3] = 0;
        if (inet_ntop(AF_INET, net, text, sizeof text) == NULL)
            return -1;
        return str_fmt(out, cap, "%s/24", text);
    }
    if (family != AF_INET6)
        return -1;
    memcpy(net, a, 8);
    memset(net + 8, 0, 8);
    if (inet_ntop(AF_INET6, net, text, sizeof text) == NULL)
        return -1;
    return str_fmt(out, cap, "%s/64", text);
}

/* "local@domain" with the domain lower-cased; "" for the null sender. */
static int
greylist_mailbox(char *out, size_t cap, char *domain_out, size_t domain_cap, const char *local,
                 const char *domain)
{
    size_t llen = strlen(local), dlen = strlen(domain);

    if (llen > CAP_LOCAL_PART || dlen > CAP_DOMAIN)
        return -1;
    if (str_copy(domain_out, domain_cap, domain, dlen) == -1)
        return -1;
    str_lower(domain_out, dlen);
    if (llen == 0 && dlen == 0) {
        out[0] = '\0';
        return 0;
    }
    return str_fmt(out, cap, "%s@%s", local, domain_out);
}

int
greylist_triplet_make(struct greylist_triplet *t, int family, const void *addr,
                      const char *sender_local, const char *sender_domain, const char *rcpt_local,
                      const char *rcpt_domain)
{
    char rcpt_dom[CAP_DOMAIN + 1];

    memset(t, 0, sizeof *t);
    if (greylist_net(t->net, sizeof t->net, family, addr) == -1)
        return -1;
    if (greylist_mailbox(t->sender, sizeof t->sender, t->sender_domain, sizeof t->sender_domain,
                         sender_local, sender_domain) == -1)
        return -1;
    if (rcpt_local[0] == '\0')
        return -1;
    return greylist_mailbox(t->rcpt, sizeof t->rcpt, rcpt_dom, sizeof rcpt_dom, rcpt_local,
                            rcpt_domain);
}

void
greylist_check(struct greylist *g, const struct greylist_triplet *t, int64_t now,
               struct greylist_answer *out)
{
    g->ops->check(g, t, now, out);
}

bool
greylist_domain_passed(struct greylist *g, const char *net, const char *domain, int64_t now)
{
    if (domain[0] == '\0')
        return false;
    return g->ops->domain_passed(g, net, domain, now);
}

int
greylist_sweep(struct greylist *g, int64_t now, unsigned budget)
{
    return g->ops->sweep(g, now, budget);
}

void
greylist_stats(struct greylist *g, struct greylist_stats *out)
{
    g->ops->stats(g, out);
}

void
greylist_close(struct greylist *g)
{
    if (g != NULL)
        g->ops->close(g);
}
