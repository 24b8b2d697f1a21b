/* SPDX-License-Identifier: MIT */
/*
 * A loaded configuration as the rest of the daemon uses it: reference
 * counting (a reload builds a new conf while old sessions keep theirs),
 * the domain lookup for RCPT on the inbound door, and allow-list matching
 * for the internal door. Reading the file is parse.c's job.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include "conf/conf.h"
#include "conf/parse.h"
#include "conf/relay_auth.h"
#include "lib/log.h"
#include "lib/str.h"

const char *
conf_role_name(enum door_role role)
{
    switch (role) {
    case DOOR_INBOUND:
        return "inbound";
    case DOOR_INTERNAL:
        return "internal";
    case DOOR_SUBMISSION:
        return "submission";
    case DOOR_SUBMISSIONS:
        return "submissions";
    case DOOR_ROLE_COUNT:
        break;
    }
    log_panic("conf_role_name: no role %d", (int)role);
}

const char *
conf_tls_mode_name(enum conf_tls_mode mode)
{
    switch (mode) {
    case CONF_TLS_NONE:
        return "none";
    case CONF_TLS_STARTTLS:
        return "starttls";
    case CONF_TLS_STARTTLS_REQUIRED:
        return "starttls required";
    case CONF_TLS_IMPLICIT:
        return "implicit";
    }
    log_panic("conf_tls_mode_name: no mode %d", (int)mode);
}

const char *
conf_tls_policy_name(enum conf_tls_policy policy)
{
    switch (policy) {
    case CONF_TLS_POLICY_NONE:
        return "none";
    case CONF_TLS_POLICY_MAY:
        return "may";
    case CONF_TLS_POLICY_ENCRYPT:
        return "encrypt";
    case CONF_TLS_POLICY_VERIFY:
        return "verify";
    }
    log_panic("conf_tls_policy_name: no policy %d", (int)policy);
}

const char *
conf_alert_when_name(enum conf_alert_when when)
{
    static const char *const names[CONF_ALERT_WHEN_COUNT] = {
        [CONF_ALERT_FAILED_AUTH] = "failed-auth",
        [CONF_ALERT_CONNECTIONS] = "connections",
        [CONF_ALERT_MESSAGES] = "messages",
        [CONF_ALERT_REFUSED] = "refused",
        [CONF_ALERT_SPIKE] = "spike",
        [CONF_ALERT_QUEUE] = "queue",
        [CONF_ALERT_DEFERRED] = "deferred",
        [CONF_ALERT_TLS_EXPIRY] = "tls-expiry",
        [CONF_ALERT_SCANNER] = "scanner",
    };

    if ((unsigned)when >= CONF_ALERT_WHEN_COUNT)
        log_panic("conf_alert_when_name: no kind %d", (int)when);
    return names[when];
}

const char *
conf_alert_per_name(enum conf_alert_per per)
{
    switch (per) {
    case CONF_ALERT_PER_ALL:
        return "all";
    case CONF_ALERT_PER_CLIENT:
        return "client";
    case CONF_ALERT_PER_USER:
        return "user";
    case CONF_ALERT_PER_DOOR:
        return "door";
    case CONF_ALERT_PER_COUNT:
        break;
    }
    log_panic("conf_alert_per_name: no key %d", (int)per);
}

bool
conf_alert_same_counting(const struct conf_alert *a, const struct conf_alert *b)
{
    return a->when == b->when && a->threshold == b->threshold && a->window == b->window &&
           a->per == b->per && a->doors == b->doors && a->factor == b->factor &&
           a->baseline == b->baseline && a->age == b->age && a->within == b->within;
}

struct conf *
conf_ref(struct conf *c)
{
    c->refs++;
    return c;
}

void
conf_unref(struct conf *c)
{
    if (c == NULL)
        return;
    if (c->refs == 0)
        log_panic("conf_unref: conf %p has no reference left", (void *)c);
    if (--c->refs > 0)
        return;
    for (size_t i = 0; i < c->n_listens; i++) {
        free(c->listens[i].addrs);
        free(c->listens[i].allow);
        free(c->listens[i].deny);
        free(c->listens[i].limits_exempt);
        free(c->listens[i].proxy_from);
    }
    free(c->listens);
    for (size_t i = 0; i < c->n_domains; i++) {
        free(c->domains[i].relay.urls);
        conf_relay_auth_free(c->domains[i].relay.auth);
    }
    free(c->domains);
    free(c->relay_host.urls);
    conf_relay_auth_free(c->relay_host.auth);
    free(c->verify_files);
    free(c->tls_pairs);
    free(c->auth_senders);
    free(c->auth_lockout_exempt);
    free(c->tls_dests);
    free(c->metrics.addrs);
    free(c->metrics.allow);
    OPENSSL_cleanse(c->metrics.auth_digest, sizeof(c->metrics.auth_digest));
    for (size_t i = 0; i < c->n_alerts; i++) {
        struct conf_alert *a = &c->alerts[i];

        for (size_t k = 0; k < a->n_webhooks; k++)
            free(a->webhooks[k]);
        for (size_t k = 0; k < a->n_mails; k++)
            free(a->mails[k]);
        for (size_t k = 0; k < a->n_execs; k++)
            free(a->execs[k]);
    }
    free(c->alerts);
    conf_checks_free(c);
    free(c);
}

static int
domain_key_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct conf_domain *)elem)->name);
}

const struct conf_domain *
conf_find_domain(const struct conf *c, const char *name, size_t len)
{
    char key[CAP_DOMAIN + 1];

    /* "example.com." is "example.com" (RFC 1034 3.1: the dot is the root). */
    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len > CAP_DOMAIN || memchr(name, '\0', len) != NULL || c->n_domains == 0)
        return NULL;
    memcpy(key, name, len);
    key[len] = '\0';
    str_lower(key, len);
    /* check.c sorted the domains by name. */
    return bsearch(key, c->domains, c->n_domains, sizeof *c->domains, domain_key_cmp);
}

/* True when the first prefix bits of a and b agree. */
static bool
prefix_equal(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
    unsigned whole = prefix / 8, rest = prefix % 8;

    if (memcmp(a, b, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((a[whole] ^ b[whole]) & (0xff00u >> rest) & 0xff) == 0;
}

void
conf_cidr_text(const struct conf_cidr *n, char *out, size_t cap)
{
    char a[INET6_ADDRSTRLEN];

    if (inet_ntop(n->family, n->addr, a, sizeof(a)) == NULL)
        (void)str_copyz(a, sizeof(a), "?");
    (void)str_fmt(out, cap, "%s/%u", a, n->prefix);
}

bool
conf_cidr_match(const struct conf_cidr *nets, size_t n, int family, const void *addr)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const unsigned char *a = addr;
    const unsigned char *v4 = NULL;

    if (family == AF_INET)
        v4 = a;
    else if (family == AF_INET6 && memcmp(a, mapped, 12) == 0)
        v4 = a + 12; /* ::ffff:a.b.c.d is a.b.c.d (RFC 4291 2.5.5.2) */
    else if (family != AF_INET6)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (nets[i].family == AF_INET && v4 != NULL &&
            prefix_equal(nets[i].addr, v4, nets[i].prefix))
            return true;
        if (nets[i].family == AF_INET6 && family == AF_INET6 &&
            prefix_equal(nets[i].addr, a, nets[i].prefix))
            return true;
    }
    return false;
}

enum conf_tls_policy
conf_tls_policy_for(const struct conf *c, const char *domain)
{
    size_t dl = strlen(domain), best_len = 0;
    const struct conf_tls_dest *best = NULL;
    const struct conf_domain *d;

    for (size_t i = 0; i < c->n_tls_dests; i++) {
        const struct conf_tls_dest *t = &c->tls_dests[i];
        size_t tl = strlen(t->domain);

        if (!t->subdomains) {
            if (strcasecmp(t->domain, domain) == 0)
                return t->policy;
        } else if (dl > tl + 1 && domain[dl - tl - 1] == '.' &&
                   strcasecmp(domain + dl - tl, t->domain) == 0 && tl > best_len) {
            best = t;
            best_len = tl;
        }
    }
    if (best != NULL)
        return best->policy;
    d = conf_find_domain(c, domain, dl);
    return d != NULL ? d->tls_policy : c->tls_policy;
}
