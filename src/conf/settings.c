/* SPDX-License-Identifier: MIT */
/*
 * The settings tables: every key of the configuration, scope by scope (top
 * level, tls, listen, domain, auth, delivery, metrics), each row with the function
 * that checks its values and stores them in struct conf. parse.c decides
 * which row a line belongs to (unknown key, value count, duplicates);
 * values.c parses each value; check.c fills in what depends on the whole
 * file. docs/config.md documents every row.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/metrics_auth.h"
#include "conf/parse.h"
#include "conf/relay_auth.h"
#include "conf/values.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define MANY    0xffffffffu
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int
fail_value(struct conf_parser *p, const struct conf_line *l, const struct conf_why *w)
{
    return conf_fail(p, l->number, "%s", w->text);
}

/* ---- Top level ---- */

static int
set_hostname(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;

    if (conf_value_domain(conf_arg(l, 1), p->c->hostname, &w) == -1)
        return fail_value(p, l, &w);
    p->c->hostname_line = l->number;
    return 0;
}

static int
set_spool(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;

    if (conf_value_path(conf_arg(l, 1), p->dir, p->c->spool, &w) == -1)
        return fail_value(p, l, &w);
    p->c->spool_line = l->number;
    return 0;
}

static int
set_user(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;

    if (conf_value_user(conf_arg(l, 1), p->c->user, &w) == -1)
        return fail_value(p, l, &w);
    p->c->user_line = l->number;
    return 0;
}

static int
set_log_level(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];

    /* Token text is NUL-terminated (lexer.h). */
    if (log_level_parse(conf_arg(l, 1).p, &p->c->log_level) == -1)
        return conf_fail(p, l->number,
                         "unknown log-level '%s' (expected one of: debug, info, warning, error)",
                         conf_quote(q, sizeof q, conf_arg(l, 1)));
    return 0;
}

static int
set_max_sessions(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;
    uint64_t v;

    if (conf_value_count(conf_arg(l, 1), 1, 1000000, &v, &w) == -1)
        return fail_value(p, l, &w);
    p->c->max_sessions = (unsigned)v;
    return 0;
}

static int
set_resolver(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;

    if (conf_value_addr(conf_arg(l, 1), &p->c->resolver, &w) == -1)
        return fail_value(p, l, &w);
    p->c->resolver.line = l->number;
    p->c->has_resolver = true;
    return 0;
}

/* callout-timeout DURATION: under the 5 minutes a client waits for RCPT (RFC 5321 4.5.3.2.3). */
static int
set_callout_timeout(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;

    if (conf_value_duration(conf_arg(l, 1), 1, 240, &p->c->callout_timeout, &w) == -1)
        return fail_value(p, l, &w);
    return 0;
}

const struct conf_setting conf_top_settings[] = {
    {"hostname", 1, false, set_hostname},
    {"spool", 1, false, set_spool},
    {"user", 1, false, set_user},
    {"log-level", 1, false, set_log_level},
    {"max-sessions", 1, false, set_max_sessions},
    {"resolver", 1, false, set_resolver},
    {"callout-timeout", 1, false, set_callout_timeout},
};

/* ---- tls { cert FILE  key FILE  [cert FILE  key FILE ...]  ca-file FILE  ciphers LIST } ---- */

/* A path that must name a readable file now, so that a typo fails at start, not at the
 * first STARTTLS. The file is not opened here: src/tls loads and checks its contents. */
static int
readable_file(struct conf_parser *p, const struct conf_line *l, const char *what, char *out)
{
    struct conf_why w;
    struct stat st;

    if (conf_value_path(conf_arg(l, 1), p->dir, out, &w) == -1)
        return fail_value(p, l, &w);
    if (access(out, R_OK) == -1 || stat(out, &st) == -1)
        return conf_fail(p, l->number, "cannot read %s '%s': %s", what, out, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return conf_fail(p, l->number, "cannot read %s '%s': %s", what, out, strerror(EISDIR));
    return 0;
}

/* The pair whose cert line has no key line yet, or NULL. */
static struct conf_tls_pair *
open_pair(struct conf_parser *p)
{
    struct conf *c = p->c;

    if (c->n_tls_pairs == 0 || c->tls_pairs[c->n_tls_pairs - 1].key[0] != '\0')
        return NULL;
    return &c->tls_pairs[c->n_tls_pairs - 1];
}

/* cert FILE: starts a pair; its key comes on the next cert-or-key line. */
static int
set_cert(struct conf_parser *p, const struct conf_line *l)
{
    struct conf *c = p->c;
    const struct conf_tls_pair *prev = open_pair(p);
    struct conf_tls_pair pair;

    if (prev != NULL)
        return conf_fail(p, l->number,
                         "expected 'key FILE' for the cert at line %u before another 'cert' "
                         "(each cert is followed by its key)",
                         prev->line);
    if (c->n_tls_pairs == CONF_TLS_PAIRS_MAX)
        return conf_fail(p, l->number, "tls block has too many certificates (at most %d)",
                         CONF_TLS_PAIRS_MAX);
    memset(&pair, 0, sizeof pair);
    if (readable_file(p, l, "certificate", pair.cert) == -1)
        return -1;
    for (size_t i = 0; i < c->n_tls_pairs; i++) {
        if (strcmp(c->tls_pairs[i].cert, pair.cert) == 0)
            return conf_fail(p, l->number, "duplicate certificate '%s' (first at line %u)",
                             pair.cert, c->tls_pairs[i].line);
    }
    pair.line = l->number;
    c->tls_pairs = xrealloc(c->tls_pairs, (c->n_tls_pairs + 1) * sizeof *c->tls_pairs);
    c->tls_pairs[c->n_tls_pairs++] = pair;
    return 0;
}

/* key FILE: ends the pair the cert line before it started. */
static int
set_key(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_tls_pair *pair = open_pair(p);
    char key[CAP_PATH];

    if (pair == NULL)
        return conf_fail(p, l->number,
                         "expected 'cert FILE' before 'key' (each cert is followed by its key)");
    if (readable_file(p, l, "key", key) == -1)
        return -1;
    memcpy(pair->key, key, sizeof pair->key);
    pair->key_line = l->number;
    return 0;
}

static int
set_ca_file(struct conf_parser *p, const struct conf_line *l)
{
    p->c->tls_ca_file_line = l->number;
    return readable_file(p, l, "CA file", p->c->tls_ca_file);
}

/*
 * An OpenSSL cipher list (openssl-ciphers(1)): names, and the operators and
 * separators of its syntax. Only its characters are checked here; src/tls
 * refuses a list that matches no cipher when it builds its contexts.
 */
static int
set_ciphers(struct conf_parser *p, const struct conf_line *l)
{
    struct slice v = conf_arg(l, 1);
    char q[CONF_QUOTE_CAP];

    if (v.len == 0 || v.len >= sizeof p->c->tls_ciphers)
        return conf_fail(p, l->number, "expected a cipher list of 1 to %d characters",
                         CONF_TLS_CIPHERS_CAP - 1);
    for (size_t i = 0; i < v.len; i++) {
        unsigned char ch = (unsigned char)v.p[i];

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              strchr(":+-!@=_.,", ch) != NULL) ||
            ch == '\0')
            return conf_fail(p, l->number,
                             "unexpected character '%s' in cipher list (expected names joined "
                             "by ':', as in ECDHE-ECDSA-AES128-GCM-SHA256:...)",
                             conf_quote(q, sizeof q, slice_make(v.p + i, 1)));
    }
    memcpy(p->c->tls_ciphers, v.p, v.len);
    p->c->tls_ciphers[v.len] = '\0';
    p->c->tls_ciphers_line = l->number;
    return 0;
}

static int
open_tls(struct conf_parser *p, const struct conf_line *l)
{
    if (p->tls_line != 0)
        return conf_fail(p, l->number, "duplicate block 'tls' (first at line %u)", p->tls_line);
    p->tls_line = l->number;
    return 0;
}

/*
 * A block with certificates serves TLS; one with only ca-file or ciphers
 * configures outgoing TLS alone. An empty block is a mistake.
 */
static int
close_tls(struct conf_parser *p)
{
    struct conf *c = p->c;
    const struct conf_tls_pair *open = open_pair(p);

    if (open != NULL)
        return conf_fail(p, p->block_line, "tls block needs 'key FILE' after the cert at line %u",
                         open->line);
    if (c->n_tls_pairs == 0) {
        if (c->tls_ca_file[0] == '\0' && c->tls_ciphers[0] == '\0')
            return conf_fail(p, p->block_line,
                             "tls block needs 'cert FILE' and 'key FILE' (or 'ca-file FILE' "
                             "for outgoing mail alone)");
        return 0;
    }
    memcpy(c->tls_cert, c->tls_pairs[0].cert, sizeof c->tls_cert);
    memcpy(c->tls_key, c->tls_pairs[0].key, sizeof c->tls_key);
    c->has_tls = true;
    return 0;
}

static const struct conf_setting tls_settings[] = {
    {"cert", 1, true, set_cert},
    {"key", 1, true, set_key},
    {"ca-file", 1, false, set_ca_file},
    {"ciphers", 1, false, set_ciphers},
};

/* ---- Outbound TLS policy, in domain and delivery blocks ---- */

/* tls-policy = "none" / "may" / "encrypt" / "verify" */
static int
parse_tls_policy(struct conf_parser *p, const struct conf_line *l, size_t i,
                 enum conf_tls_policy *out)
{
    static const enum conf_tls_policy all[] = {CONF_TLS_POLICY_NONE, CONF_TLS_POLICY_MAY,
                                               CONF_TLS_POLICY_ENCRYPT, CONF_TLS_POLICY_VERIFY};
    char q[CONF_QUOTE_CAP];

    for (size_t k = 0; k < N_OF(all); k++) {
        if (strcmp(conf_arg(l, i).p, conf_tls_policy_name(all[k])) == 0) {
            *out = all[k];
            return 0;
        }
    }
    return conf_fail(p, l->number,
                     "expected tls none, tls may, tls encrypt or tls verify, found '%s'",
                     conf_quote(q, sizeof q, conf_arg(l, i)));
}

/* ---- listen ROLE { ... } ---- */

static bool
is_wildcard(const struct conf_addr *a)
{
    static const unsigned char zero[16];

    if (a->sa.ss_family == AF_INET)
        return ((const struct sockaddr_in *)&a->sa)->sin_addr.s_addr == 0;
    return memcmp(&((const struct sockaddr_in6 *)&a->sa)->sin6_addr, zero, 16) == 0;
}

static unsigned
addr_port(const struct conf_addr *a)
{
    if (a->sa.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
}

/*
 * Two listeners cannot bind the same address and port, nor a wildcard and
 * another address of its family on the same port. IPv4 and IPv6 never
 * collide: IPv6 sockets are IPV6_V6ONLY.
 */
static int
check_addr_pair(struct conf_parser *p, const struct conf_addr *a, const struct conf_addr *b)
{
    if (a->sa.ss_family != b->sa.ss_family || addr_port(a) != addr_port(b))
        return 0;
    if (strcmp(a->text, b->text) == 0)
        return conf_fail(p, a->line, "duplicate address %s (first at line %u)", a->text, b->line);
    if (is_wildcard(a) || is_wildcard(b))
        return conf_fail(p, a->line,
                         "address %s overlaps %s (line %u): a wildcard address takes "
                         "port %u on every IPv%c address",
                         a->text, b->text, b->line, addr_port(a),
                         a->sa.ss_family == AF_INET ? '4' : '6');
    return 0;
}

/* The same for the addresses of the listen blocks and of the metrics block read so far. */
static int
check_addr_free(struct conf_parser *p, const struct conf_addr *a)
{
    for (size_t i = 0; i < p->c->n_listens; i++) {
        const struct conf_listen *other = &p->c->listens[i];

        for (size_t j = 0; j < other->n_addrs; j++) {
            if (check_addr_pair(p, a, &other->addrs[j]) == -1)
                return -1;
        }
    }
    for (size_t j = 0; j < p->c->metrics.n_addrs; j++) {
        if (check_addr_pair(p, a, &p->c->metrics.addrs[j]) == -1)
            return -1;
    }
    return 0;
}

static int
set_address(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_listen *li = p->listen;
    struct conf_why w;
    struct conf_addr a;

    for (size_t i = 1; i < l->n; i++) {
        if (conf_value_addr(conf_arg(l, i), &a, &w) == -1)
            return fail_value(p, l, &w);
        a.line = l->number;
        if (check_addr_free(p, &a) == -1)
            return -1;
        if (li->n_addrs == CONF_LISTEN_ADDRS_MAX)
            return conf_fail(p, l->number, "listen %s has too many addresses (at most %d)",
                             conf_role_name(li->role), CONF_LISTEN_ADDRS_MAX);
        li->addrs = xrealloc(li->addrs, (li->n_addrs + 1) * sizeof *li->addrs);
        li->addrs[li->n_addrs++] = a;
    }
    return 0;
}

/* Adds the networks of an allow or deny line to *nets. */
static int
add_networks(struct conf_parser *p, const struct conf_line *l, const char *what,
             struct conf_cidr **nets, size_t *n)
{
    struct conf_why w;
    struct conf_cidr net;

    for (size_t i = 1; i < l->n; i++) {
        if (conf_value_cidr(conf_arg(l, i), &net, &w) == -1)
            return fail_value(p, l, &w);
        if (*n == CONF_ALLOW_MAX && p->listen == NULL) /* lockout-exempt, metrics { allow } */
            return conf_fail(p, l->number, "%s has too many %s networks (at most %d)",
                             p->block->name, what, CONF_ALLOW_MAX);
        if (*n == CONF_ALLOW_MAX)
            return conf_fail(p, l->number, "listen %s has too many %s networks (at most %d)",
                             conf_role_name(p->listen->role), what, CONF_ALLOW_MAX);
        if (*n % 64 == 0)
            *nets = xrealloc(*nets, (*n + 64) * sizeof **nets);
        (*nets)[(*n)++] = net;
    }
    return 0;
}

static int
set_allow(struct conf_parser *p, const struct conf_line *l)
{
    return add_networks(p, l, "allow", &p->listen->allow, &p->listen->n_allow);
}

static int
set_deny(struct conf_parser *p, const struct conf_line *l)
{
    return add_networks(p, l, "deny", &p->listen->deny, &p->listen->n_deny);
}

static int
set_limits_exempt(struct conf_parser *p, const struct conf_line *l)
{
    return add_networks(p, l, "limits-exempt", &p->listen->limits_exempt,
                        &p->listen->n_limits_exempt);
}

/* proxy-protocol NET...: the load balancers whose connections start with a PROXY header. */
static int
set_proxy_protocol(struct conf_parser *p, const struct conf_line *l)
{
    if (p->listen->proxy_line == 0)
        p->listen->proxy_line = l->number;
    return add_networks(p, l, "proxy-protocol", &p->listen->proxy_from, &p->listen->n_proxy_from);
}

/* tls-mode = "none" / "starttls" [ "required" ] / "implicit" */
static int
parse_tls_mode(const struct conf_line *l, enum conf_tls_mode *mode)
{
    if (l->n == 2 && strcmp(conf_arg(l, 1).p, "none") == 0)
        *mode = CONF_TLS_NONE;
    else if (l->n == 2 && strcmp(conf_arg(l, 1).p, "starttls") == 0)
        *mode = CONF_TLS_STARTTLS;
    else if (l->n == 3 && strcmp(conf_arg(l, 1).p, "starttls") == 0 &&
             strcmp(conf_arg(l, 2).p, "required") == 0)
        *mode = CONF_TLS_STARTTLS_REQUIRED;
    else if (l->n == 2 && strcmp(conf_arg(l, 1).p, "implicit") == 0)
        *mode = CONF_TLS_IMPLICIT;
    else
        return -1;
    return 0;
}

static int
set_listen_tls(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_listen *li = p->listen;

    if (parse_tls_mode(l, &li->tls) == -1)
        return conf_fail(p, l->number,
                         "expected tls none, tls starttls, tls starttls required or tls implicit");
    /* RFC 8314 3.3: port 465 speaks TLS from the first byte. */
    if (li->role == DOOR_SUBMISSIONS && li->tls != CONF_TLS_IMPLICIT)
        return conf_fail(p, l->number,
                         "listen submissions must use tls implicit (RFC 8314: TLS from the "
                         "first byte)");
    /* AUTH must never travel in clear (RFC 8314 3.3, RFC 4954 4). */
    if (li->role == DOOR_SUBMISSION && li->tls != CONF_TLS_STARTTLS_REQUIRED &&
        li->tls != CONF_TLS_IMPLICIT)
        return conf_fail(p, l->number,
                         "listen submission needs tls starttls required or tls implicit: "
                         "passwords must never travel in clear");
    p->roles[li->role].tls = true;
    return 0;
}

static int
set_listen_auth(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_listen *li = p->listen;
    char q[CONF_QUOTE_CAP];

    if (strcmp(conf_arg(l, 1).p, "required") == 0) {
        /* The Internet's senders have no login here: every one would get 530. */
        if (li->role == DOOR_INBOUND)
            return conf_fail(p, l->number,
                             "auth required on listen inbound would refuse mail from every "
                             "sender on the Internet (530 5.7.0): remove it (users log in on "
                             "the submission doors)");
        li->auth_required = true;
    } else if (strcmp(conf_arg(l, 1).p, "none") == 0) {
        if (li->role == DOOR_SUBMISSION || li->role == DOOR_SUBMISSIONS)
            return conf_fail(p, l->number,
                             "auth none on listen %s would make an open relay (submission "
                             "requires auth)",
                             conf_role_name(li->role));
        li->auth_required = false;
    } else {
        return conf_fail(p, l->number, "expected auth required or auth none, found '%s'",
                         conf_quote(q, sizeof q, conf_arg(l, 1)));
    }
    p->roles[li->role].auth = true;
    return 0;
}

static int
set_max_message_size(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;

    if (conf_value_size(conf_arg(l, 1), 1024, UINT64_C(2) << 30, &p->listen->max_message_size,
                        &w) == -1)
        return fail_value(p, l, &w);
    return 0;
}

/* A count from min to max into *out. */
static int
set_count(struct conf_parser *p, const struct conf_line *l, unsigned min, unsigned max,
          unsigned *out)
{
    struct conf_why w;
    uint64_t v;

    if (conf_value_count(conf_arg(l, 1), min, max, &v, &w) == -1)
        return fail_value(p, l, &w);
    *out = (unsigned)v;
    return 0;
}

static int
set_max_recipients(struct conf_parser *p, const struct conf_line *l)
{
    return set_count(p, l, 1, 100000, &p->listen->max_recipients);
}

static int
set_max_errors(struct conf_parser *p, const struct conf_line *l)
{
    return set_count(p, l, 1, 1000, &p->listen->max_errors);
}

static int
set_listen_max_sessions(struct conf_parser *p, const struct conf_line *l)
{
    p->roles[p->listen->role].max_sessions = true;
    return set_count(p, l, 1, 1000000, &p->listen->max_sessions);
}

static int
set_max_sessions_per_client(struct conf_parser *p, const struct conf_line *l)
{
    p->roles[p->listen->role].max_sessions_per_client = true;
    if (slice_eq_ci(conf_arg(l, 1), "off")) {
        p->listen->max_sessions_per_client = 0;
        return 0;
    }
    return set_count(p, l, 1, 1000000, &p->listen->max_sessions_per_client);
}

/* A rate (N/DURATION or off) of at most a million per period into *out. */
static int
set_rate(struct conf_parser *p, const struct conf_line *l, unsigned max_n, struct conf_rate *out)
{
    struct conf_why w;

    if (conf_value_rate(conf_arg(l, 1), max_n, out, &w) == -1)
        return fail_value(p, l, &w);
    return 0;
}

static int
set_connection_rate(struct conf_parser *p, const struct conf_line *l)
{
    p->roles[p->listen->role].connection_rate = true;
    return set_rate(p, l, 1000000, &p->listen->connection_rate);
}

static int
set_message_rate(struct conf_parser *p, const struct conf_line *l)
{
    return set_rate(p, l, 1000000, &p->listen->message_rate);
}

static int
set_sender_rate(struct conf_parser *p, const struct conf_line *l)
{
    return set_rate(p, l, 1000000, &p->listen->sender_rate);
}

static int
set_duration(struct conf_parser *p, const struct conf_line *l, size_t i, unsigned max,
             unsigned *out)
{
    struct conf_why w;

    if (conf_value_duration(conf_arg(l, i), 1, max, out, &w) == -1)
        return fail_value(p, l, &w);
    return 0;
}

static int
set_timeout_command(struct conf_parser *p, const struct conf_line *l)
{
    return set_duration(p, l, 1, 86400, &p->listen->timeout_command);
}

static int
set_timeout_data(struct conf_parser *p, const struct conf_line *l)
{
    return set_duration(p, l, 1, 86400, &p->listen->timeout_data);
}

/* scanners refuse|count (docs/scanners.md): close fingerprinted sources, or count them only. */
static int
set_scanners(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];

    if (strcmp(conf_arg(l, 1).p, "refuse") == 0)
        p->listen->scanners_refuse = true;
    else if (strcmp(conf_arg(l, 1).p, "count") == 0)
        p->listen->scanners_refuse = false;
    else
        return conf_fail(p, l->number, "expected scanners refuse or scanners count, found '%s'",
                         conf_quote(q, sizeof q, conf_arg(l, 1)));
    return 0;
}

static int
open_listen(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];
    struct conf_listen *li;
    int role;

    for (role = 0; role < DOOR_ROLE_COUNT; role++) {
        if (strcmp(conf_arg(l, 1).p, conf_role_name((enum door_role)role)) == 0)
            break;
    }
    if (role == DOOR_ROLE_COUNT)
        return conf_fail(p, l->number,
                         "unknown listen role '%s' (expected one of: inbound, internal, "
                         "submission, submissions)",
                         conf_quote(q, sizeof q, conf_arg(l, 1)));
    if (p->roles[role].line != 0)
        return conf_fail(p, l->number, "duplicate block 'listen %s' (first at line %u)",
                         conf_role_name((enum door_role)role), p->roles[role].line);

    p->roles[role].line = l->number;
    p->roles[role].index = p->c->n_listens;
    li = &p->c->listens[p->c->n_listens++];
    li->role = (enum door_role)role;
    li->line = l->number;
    li->max_message_size = UINT64_C(10) << 20;
    li->max_recipients = 100;
    li->max_errors = 10;
    li->timeout_command = 300; /* RFC 5321 4.5.3.2.7: at least 5 minutes */
    li->timeout_data = 300;    /* RFC 5321 4.5.3.2.5: at least 3 minutes */
    p->listen = li;
    return 0;
}

static int
close_listen(struct conf_parser *p)
{
    const struct conf_listen *li = p->listen;

    if (li->n_addrs == 0)
        return conf_fail(p, li->line, "listen %s needs at least one address (address IP:PORT)",
                         conf_role_name(li->role));
    if (li->role == DOOR_INTERNAL && li->n_allow == 0)
        return conf_fail(p, li->line,
                         "listen internal needs an allow list: which of our servers may use "
                         "port 26?");
    return 0;
}

static const struct conf_setting listen_settings[] = {
    {"address", MANY, true, set_address},
    {"allow", MANY, true, set_allow},
    {"tls", 2, false, set_listen_tls},
    {"auth", 1, false, set_listen_auth},
    {"max-message-size", 1, false, set_max_message_size},
    {"max-recipients", 1, false, set_max_recipients},
    {"max-errors", 1, false, set_max_errors},
    {"max-sessions", 1, false, set_listen_max_sessions},
    {"timeout-command", 1, false, set_timeout_command},
    {"timeout-data", 1, false, set_timeout_data},
    {"deny", MANY, true, set_deny},
    {"proxy-protocol", MANY, true, set_proxy_protocol},
    {"max-sessions-per-client", 1, false, set_max_sessions_per_client},
    {"connection-rate", 1, false, set_connection_rate},
    {"message-rate", 1, false, set_message_rate},
    {"sender-rate", 1, false, set_sender_rate},
    {"limits-exempt", MANY, true, set_limits_exempt},
    {"scanners", 1, false, set_scanners},
};

/* ---- Relays: relay and relay-host URL..., relay-auth FILE ---- */

/* URL...: one to CONF_RELAYS_MAX relay URLs (parse.c counts them), tried in the order written. */
static int
set_relays(struct conf_parser *p, const struct conf_line *l, struct conf_relays *out)
{
    struct conf_route urls[CONF_RELAYS_MAX];
    size_t n = l->n - 1;
    char q[CONF_QUOTE_CAP];
    struct conf_why w;

    for (size_t i = 0; i < n; i++) {
        if (conf_value_route(conf_arg(l, i + 1), &urls[i], &w) == -1)
            return fail_value(p, l, &w);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(urls[k].host, urls[i].host) == 0 && urls[k].port == urls[i].port &&
                urls[k].bracketed == urls[i].bracketed && urls[k].smtps == urls[i].smtps)
                return conf_fail(p, l->number, "relay URL '%s' is given twice on the line",
                                 conf_quote(q, sizeof q, conf_arg(l, i + 1)));
        }
    }
    out->urls = xmalloc(n * sizeof(*out->urls));
    memcpy(out->urls, urls, n * sizeof(*out->urls));
    out->n = n;
    out->line = l->number;
    return 0;
}

/*
 * relay-auth FILE: the login for the relays of the block, read now (and at
 * each reload). A mistake inside FILE is reported at its own line, with the
 * line of the main file that names it.
 */
static int
set_relay_auth(struct conf_parser *p, const struct conf_line *l, struct conf_relays *out)
{
    struct conf_relay_auth *a = xcalloc(1, sizeof(*a));
    char msg[768];
    struct conf_why w;
    bool in_file;

    if (conf_value_path(conf_arg(l, 1), p->dir, a->file, &w) == -1) {
        conf_relay_auth_free(a);
        return fail_value(p, l, &w);
    }
    a->line = l->number;
    if (conf_relay_auth_load(a->file, a, &in_file, msg, sizeof msg) == -1) {
        conf_relay_auth_free(a);
        if (in_file)
            return conf_fail_plain(p, "%s (the relay-auth file of %s:%u)", msg, p->path, l->number);
        return conf_fail(p, l->number, "%s", msg);
    }
    out->auth = a;
    return 0;
}

/* relay-auth needs URLs to log in to; the block's close calls this. */
static int
check_relay_auth_has_urls(struct conf_parser *p, const struct conf_relays *r, const char *key,
                          const char *where)
{
    if (r->auth != NULL && r->n == 0)
        return conf_fail(p, r->auth->line,
                         "relay-auth needs '%s URL' in the %s block: it is the login for those "
                         "relays",
                         key, where);
    return 0;
}

/* ---- domain NAME { relay URL...  relay-auth FILE  tls POLICY } ---- */

static int
set_relay(struct conf_parser *p, const struct conf_line *l)
{
    return set_relays(p, l, &p->domain->relay);
}

static int
set_domain_relay_auth(struct conf_parser *p, const struct conf_line *l)
{
    return set_relay_auth(p, l, &p->domain->relay);
}

static int
open_domain(struct conf_parser *p, const struct conf_line *l)
{
    struct conf *c = p->c;
    struct conf_domain *d;
    struct conf_why w;
    char name[CAP_DOMAIN + 1];

    if (conf_value_domain(conf_arg(l, 1), name, &w) == -1)
        return fail_value(p, l, &w);
    if (c->n_domains == CONF_DOMAINS_MAX)
        return conf_fail(p, l->number, "too many domain blocks (at most %d)", CONF_DOMAINS_MAX);
    if (c->n_domains == p->domains_cap) {
        p->domains_cap = p->domains_cap ? 2 * p->domains_cap : 16;
        c->domains = xrealloc(c->domains, p->domains_cap * sizeof *c->domains);
    }
    d = &c->domains[c->n_domains++];
    memset(d, 0, sizeof *d);
    /* Domain names are case-insensitive (RFC 5321 2.4); compare them lower case. */
    str_lower(name, strlen(name));
    memcpy(d->name, name, sizeof d->name);
    d->line = l->number;
    p->domain = d;
    p->domain_tls_line = 0;
    p->verify_line = 0;
    return 0;
}

/*
 * relay-auth needs a relay, and TLS: a password never travels in clear (RFC
 * 4954 4). The default verify-recipients, and callout only where there is a
 * relay to ask.
 */
static int
close_domain(struct conf_parser *p)
{
    struct conf_domain *d = p->domain;

    if (p->verify_line == 0)
        d->verify = d->relay.n > 0 ? CONF_VERIFY_CALLOUT : CONF_VERIFY_OFF;
    else if (d->verify == CONF_VERIFY_CALLOUT && d->relay.n == 0)
        return conf_fail(p, p->verify_line,
                         "verify-recipients callout needs a relay in the domain block (there is "
                         "no server to ask); use a list file or off");
    if (check_relay_auth_has_urls(p, &d->relay, "relay", "domain") == -1)
        return -1;
    if (d->relay.auth != NULL && d->has_tls_policy && d->tls_policy == CONF_TLS_POLICY_NONE)
        return conf_fail(p, p->domain_tls_line,
                         "tls none, but relay-auth (line %u) needs TLS: a password never travels "
                         "in clear (use tls encrypt or tls verify, or leave tls out)",
                         d->relay.auth->line);
    return 0;
}

static int
set_domain_tls(struct conf_parser *p, const struct conf_line *l)
{
    if (parse_tls_policy(p, l, 1, &p->domain->tls_policy) == -1)
        return -1;
    p->domain->has_tls_policy = true;
    p->domain_tls_line = l->number;
    return 0;
}

/*
 * verify-recipients callout | FILE | off (docs/verify.md). The words are
 * exact; anything else is the path of a list, which must be readable now so
 * that a typo fails at start (src/verify reads it). A file named "off" is
 * written ./off.
 */
static int
set_verify_recipients(struct conf_parser *p, const struct conf_line *l)
{
    struct slice v = conf_arg(l, 1);
    struct conf *c = p->c;
    struct conf_verify_file f;
    char q[CONF_QUOTE_CAP];
    size_t i;

    p->verify_line = l->number;
    if (strcmp(v.p, "callout") == 0) { /* token text is NUL-terminated (lexer.h) */
        p->domain->verify = CONF_VERIFY_CALLOUT;
        return 0;
    }
    if (strcmp(v.p, "off") == 0) {
        p->domain->verify = CONF_VERIFY_OFF;
        return 0;
    }
    if (slice_eq_ci(v, "callout") || slice_eq_ci(v, "off"))
        return conf_fail(p, l->number,
                         "expected callout, off or a file, found '%s' (the words are lower "
                         "case; a file of that name is written ./%s)",
                         conf_quote(q, sizeof q, v), conf_quote(q, sizeof q, v));
    memset(&f, 0, sizeof f);
    if (readable_file(p, l, "verify-recipients list", f.path) == -1)
        return -1;
    for (i = 0; i < c->n_verify_files; i++) {
        if (strcmp(c->verify_files[i].path, f.path) == 0)
            break;
    }
    if (i == c->n_verify_files) {
        if (c->n_verify_files == CONF_VERIFY_FILES_MAX)
            return conf_fail(p, l->number, "more than %d verify-recipients list files",
                             CONF_VERIFY_FILES_MAX);
        f.line = l->number;
        c->verify_files =
            xrealloc(c->verify_files, (c->n_verify_files + 1) * sizeof(*c->verify_files));
        c->verify_files[c->n_verify_files++] = f;
    }
    p->domain->verify = CONF_VERIFY_FILE;
    p->domain->verify_file = i;
    return 0;
}

static const struct conf_setting domain_settings[] = {
    {"relay", CONF_RELAYS_MAX, false, set_relay},
    {"tls", 1, false, set_domain_tls},
    {"relay-auth", 1, false, set_domain_relay_auth},
    {"verify-recipients", 1, false, set_verify_recipients},
};

/* ---- auth { passwd FILE } ---- */

static int
set_passwd(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;

    if (conf_value_path(conf_arg(l, 1), p->dir, p->c->auth_passwd, &w) == -1)
        return fail_value(p, l, &w);
    p->c->auth_passwd_line = l->number;
    return 0;
}

static int
set_max_failures(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];

    if (slice_eq_ci(conf_arg(l, 1), "off"))
        return conf_fail(p, l->number,
                         "max-failures cannot be off: it is what stops password guessing "
                         "(found '%s')",
                         conf_quote(q, sizeof q, conf_arg(l, 1)));
    return set_rate(p, l, 1000, &p->c->auth_max_failures);
}

static int
set_lockout(struct conf_parser *p, const struct conf_line *l)
{
    return set_duration(p, l, 1, 86400, &p->c->auth_lockout);
}

static int
set_user_rate(struct conf_parser *p, const struct conf_line *l)
{
    return set_rate(p, l, 1000000, &p->c->auth_user_rate);
}

/* CONF_SENDERS_MAX lines' worth of addresses at most: the list is searched at each MAIL. */
#define CONF_SENDERS_MAX 10000

/* sender USER ADDRESS...: each ADDRESS is local@domain or @domain. */
static int
set_sender(struct conf_parser *p, const struct conf_line *l)
{
    struct slice user = conf_arg(l, 1);
    char q[CONF_QUOTE_CAP];

    if (user.len == 0 || user.len > CAP_AUTH_USER)
        return conf_fail(p, l->number, "expected a user name of 1 to %d characters, found '%s'",
                         CAP_AUTH_USER, conf_quote(q, sizeof q, user));
    for (size_t k = 0; k < user.len; k++) {
        unsigned char ch = (unsigned char)user.p[k];

        if (ch <= 0x20 || ch >= 0x7f || ch == ':')
            return conf_fail(p, l->number,
                             "expected a user name (no ':', spaces or controls), "
                             "found '%s'",
                             conf_quote(q, sizeof q, user));
    }
    if (l->n < 3)
        return conf_fail(p, l->number, "sender %s needs at least one address or @domain",
                         conf_quote(q, sizeof q, user));
    for (size_t i = 2; i < l->n; i++) {
        struct slice a = conf_arg(l, i);
        const char *at = memchr(a.p, '@', a.len);
        struct conf_sender *cs;
        size_t dom;

        if (at == NULL || at == a.p + a.len - 1 ||
            memchr(at + 1, '@', a.len - 1 - (size_t)(at - a.p)) || a.len > CAP_MAILBOX ||
            (size_t)(at - a.p) > CAP_LOCAL_PART)
            return conf_fail(p, l->number,
                             "expected an address (local@domain) or @domain, found "
                             "'%s'",
                             conf_quote(q, sizeof q, a));
        if (p->c->n_auth_senders == CONF_SENDERS_MAX)
            return conf_fail(p, l->number, "more than %d sender addresses", CONF_SENDERS_MAX);
        p->c->auth_senders =
            xrealloc(p->c->auth_senders, (p->c->n_auth_senders + 1) * sizeof(*p->c->auth_senders));
        cs = &p->c->auth_senders[p->c->n_auth_senders++];
        memset(cs, 0, sizeof(*cs));
        memcpy(cs->user, user.p, user.len);
        memcpy(cs->pattern, a.p, a.len);
        dom = (size_t)(at - a.p) + 1;
        for (size_t k = dom; k < a.len; k++)
            if (cs->pattern[k] >= 'A' && cs->pattern[k] <= 'Z')
                cs->pattern[k] = (char)(cs->pattern[k] - 'A' + 'a');
        cs->line = l->number;
    }
    return 0;
}

static int
set_lockout_exempt(struct conf_parser *p, const struct conf_line *l)
{
    return add_networks(p, l, "lockout-exempt", &p->c->auth_lockout_exempt,
                        &p->c->n_auth_lockout_exempt);
}

/* app-passwords off | required | totp-users (docs/console.md, "Accounts"). */
static int
set_app_passwords(struct conf_parser *p, const struct conf_line *l)
{
    struct slice v = conf_arg(l, 1);
    char q[CONF_QUOTE_CAP];

    if (slice_eq_ci(v, "off"))
        p->c->auth_app_passwords = CONF_APP_PASSWORDS_OFF;
    else if (slice_eq_ci(v, "required"))
        p->c->auth_app_passwords = CONF_APP_PASSWORDS_REQUIRED;
    else if (slice_eq_ci(v, "totp-users"))
        p->c->auth_app_passwords = CONF_APP_PASSWORDS_TOTP_USERS;
    else
        return conf_fail(p, l->number,
                         "expected app-passwords off, required or totp-users, found '%s'",
                         conf_quote(q, sizeof q, v));
    return 0;
}

static int
open_auth(struct conf_parser *p, const struct conf_line *l)
{
    if (p->auth_line != 0)
        return conf_fail(p, l->number, "duplicate block 'auth' (first at line %u)", p->auth_line);
    p->auth_line = l->number;
    p->c->auth_line = l->number;
    return 0;
}

static int
close_auth(struct conf_parser *p)
{
    if (p->c->auth_passwd[0] == '\0')
        return conf_fail(p, p->block_line, "auth block needs 'passwd FILE'");
    return 0;
}

static const struct conf_setting auth_settings[] = {
    // clang-format off
    {"passwd", 1, false, set_passwd},   {"max-failures", 1, false, set_max_failures},
    {"lockout", 1, false, set_lockout}, {"user-rate", 1, false, set_user_rate},
    {"sender", 65, true, set_sender},   {"lockout-exempt", MANY, true, set_lockout_exempt},
    {"app-passwords", 1, false, set_app_passwords},
    // clang-format on
};

/* ---- delivery { retry DURATION...  give-up DURATION  relay-host URL...  tls POLICY ... } ---- */

static int
set_retry(struct conf_parser *p, const struct conf_line *l)
{
    for (size_t i = 1; i < l->n; i++) {
        if (set_duration(p, l, i, 86400, &p->c->retry[i - 1]) == -1)
            return -1;
    }
    p->c->n_retry = l->n - 1;
    return 0;
}

static int
set_give_up(struct conf_parser *p, const struct conf_line *l)
{
    return set_duration(p, l, 1, 30 * 86400, &p->c->give_up);
}

static int
set_delay_warning(struct conf_parser *p, const struct conf_line *l)
{
    if (slice_eq_ci(conf_arg(l, 1), "off")) {
        p->c->delay_warning = 0;
        return 0;
    }
    return set_duration(p, l, 1, 30 * 86400, &p->c->delay_warning);
}

static int
set_relay_host(struct conf_parser *p, const struct conf_line *l)
{
    return set_relays(p, l, &p->c->relay_host);
}

static int
set_relay_host_auth(struct conf_parser *p, const struct conf_line *l)
{
    return set_relay_auth(p, l, &p->c->relay_host);
}

static int
set_max_deliveries(struct conf_parser *p, const struct conf_line *l)
{
    return set_count(p, l, 1, 100000, &p->c->max_deliveries);
}

static int
set_max_per_destination(struct conf_parser *p, const struct conf_line *l)
{
    return set_count(p, l, 1, 100000, &p->c->max_per_destination);
}

static int
set_delivery_timeout_connect(struct conf_parser *p, const struct conf_line *l)
{
    return set_duration(p, l, 1, 3600, &p->c->timeout_connect);
}

static int
set_delivery_timeout_command(struct conf_parser *p, const struct conf_line *l)
{
    return set_duration(p, l, 1, 3600, &p->c->timeout_command);
}

static int
set_delivery_timeout_data(struct conf_parser *p, const struct conf_line *l)
{
    return set_duration(p, l, 1, 3600, &p->c->timeout_data);
}

static int
set_queue_only(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];

    if (slice_eq_ci(conf_arg(l, 1), "yes"))
        p->c->queue_only = true;
    else if (slice_eq_ci(conf_arg(l, 1), "no"))
        p->c->queue_only = false;
    else
        return conf_fail(p, l->number, "expected yes or no, found '%s'",
                         conf_quote(q, sizeof q, conf_arg(l, 1)));
    return 0;
}

static int
set_connection_reuse(struct conf_parser *p, const struct conf_line *l)
{
    if (slice_eq_ci(conf_arg(l, 1), "off")) {
        p->c->connection_reuse = 0;
        return 0;
    }
    return set_duration(p, l, 1, 300, &p->c->connection_reuse);
}

static int
set_delivery_tls(struct conf_parser *p, const struct conf_line *l)
{
    p->delivery_tls_line = l->number;
    return parse_tls_policy(p, l, 1, &p->c->tls_policy);
}

/* The most tls-policy lines: the list is searched at each delivery. */
#define CONF_TLS_POLICIES_MAX 10000

/*
 * tls-policy DOMAIN POLICY: the outgoing TLS policy of a remote domain
 * (a domain block would make the domain ours on the inbound door).
 * ".example.com" covers the subdomains of example.com.
 */
static int
set_tls_policy_line(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_tls_dest *t;
    struct slice name = conf_arg(l, 1);
    bool subs = name.len > 1 && name.p[0] == '.';
    struct conf_why w;
    char domain[CAP_DOMAIN + 1];

    if (l->n != 3)
        return conf_fail(p, l->number, "expected tls-policy DOMAIN none|may|encrypt|verify");
    if (conf_value_domain(subs ? slice_make(name.p + 1, name.len - 1) : name, domain, &w) == -1)
        return fail_value(p, l, &w);
    if (p->c->n_tls_dests == CONF_TLS_POLICIES_MAX)
        return conf_fail(p, l->number, "more than %d tls-policy lines", CONF_TLS_POLICIES_MAX);
    p->c->tls_dests = xrealloc(p->c->tls_dests, (p->c->n_tls_dests + 1) * sizeof(*p->c->tls_dests));
    t = &p->c->tls_dests[p->c->n_tls_dests];
    memset(t, 0, sizeof(*t));
    t->subdomains = subs;
    memcpy(t->domain, domain, sizeof(t->domain));
    t->line = l->number;
    if (parse_tls_policy(p, l, 2, &t->policy) == -1)
        return -1;
    p->c->n_tls_dests++;
    return 0;
}

static int
open_delivery(struct conf_parser *p, const struct conf_line *l)
{
    if (p->delivery_line != 0)
        return conf_fail(p, l->number, "duplicate block 'delivery' (first at line %u)",
                         p->delivery_line);
    p->delivery_line = l->number;
    return 0;
}

static int
close_delivery(struct conf_parser *p)
{
    return check_relay_auth_has_urls(p, &p->c->relay_host, "relay-host", "delivery");
}

static const struct conf_setting delivery_settings[] = {
    {"retry", CONF_RETRY_MAX, false, set_retry},
    {"give-up", 1, false, set_give_up},
    {"delay-warning", 1, false, set_delay_warning},
    {"relay-host", CONF_RELAYS_MAX, false, set_relay_host},
    {"max-deliveries", 1, false, set_max_deliveries},
    {"max-per-destination", 1, false, set_max_per_destination},
    {"timeout-connect", 1, false, set_delivery_timeout_connect},
    {"timeout-command", 1, false, set_delivery_timeout_command},
    {"timeout-data", 1, false, set_delivery_timeout_data},
    {"queue-only", 1, false, set_queue_only},
    {"connection-reuse", 1, false, set_connection_reuse},
    {"tls", 1, false, set_delivery_tls},
    {"tls-policy", 2, true, set_tls_policy_line},
    {"relay-auth", 1, false, set_relay_host_auth},
};

/* ---- metrics { address ADDR...  allow NET...  bearer-token-file FILE | basic-auth-file FILE }
 * ---- */

static int
set_metrics_address(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_metrics *m = &p->c->metrics;
    struct conf_why w;
    struct conf_addr a;

    for (size_t i = 1; i < l->n; i++) {
        if (conf_value_addr(conf_arg(l, i), &a, &w) == -1)
            return fail_value(p, l, &w);
        a.line = l->number;
        if (check_addr_free(p, &a) == -1)
            return -1;
        if (m->n_addrs == CONF_METRICS_ADDRS_MAX)
            return conf_fail(p, l->number, "metrics has too many addresses (at most %d)",
                             CONF_METRICS_ADDRS_MAX);
        m->addrs = xrealloc(m->addrs, (m->n_addrs + 1) * sizeof *m->addrs);
        m->addrs[m->n_addrs++] = a;
    }
    return 0;
}

static int
set_metrics_allow(struct conf_parser *p, const struct conf_line *l)
{
    return add_networks(p, l, "allow", &p->c->metrics.allow, &p->c->metrics.n_allow);
}

/* bearer-token-file FILE or basic-auth-file FILE: one of them; read now (and at each reload). */
static int
set_metrics_secret(struct conf_parser *p, const struct conf_line *l, enum conf_metrics_auth kind)
{
    struct conf_metrics *m = &p->c->metrics;
    char path[CAP_PATH], msg[768];
    struct conf_why w;

    if (m->auth != CONF_METRICS_AUTH_NONE)
        return conf_fail(p, l->number,
                         "metrics takes bearer-token-file or basic-auth-file, not both (the "
                         "other is at line %u)",
                         m->auth_line);
    if (conf_value_path(conf_arg(l, 1), p->dir, path, &w) == -1)
        return fail_value(p, l, &w);
    if (conf_metrics_secret_load(kind, path, m->auth_digest, msg, sizeof msg) == -1)
        return conf_fail(p, l->number, "%s", msg);
    memcpy(m->auth_file, path, sizeof m->auth_file);
    m->auth_line = l->number;
    m->auth = kind;
    return 0;
}

static int
set_metrics_bearer(struct conf_parser *p, const struct conf_line *l)
{
    return set_metrics_secret(p, l, CONF_METRICS_AUTH_BEARER);
}

static int
set_metrics_basic(struct conf_parser *p, const struct conf_line *l)
{
    return set_metrics_secret(p, l, CONF_METRICS_AUTH_BASIC);
}

static int
open_metrics(struct conf_parser *p, const struct conf_line *l)
{
    if (p->c->metrics.line != 0)
        return conf_fail(p, l->number, "duplicate block 'metrics' (first at line %u)",
                         p->c->metrics.line);
    p->c->metrics.line = l->number;
    return 0;
}

/* An endpoint needs an address; without allow lines only this machine may scrape. */
static int
close_metrics(struct conf_parser *p)
{
    struct conf_metrics *m = &p->c->metrics;

    if (m->n_addrs == 0)
        return conf_fail(p, p->block_line,
                         "metrics block needs 'address IP:PORT' (such as 127.0.0.1:9126)");
    if (m->n_allow == 0) {
        m->allow = xcalloc(2, sizeof *m->allow);
        m->allow[0].family = AF_INET;
        m->allow[0].addr[0] = 127;
        m->allow[0].prefix = 8;
        m->allow[1].family = AF_INET6;
        m->allow[1].addr[15] = 1;
        m->allow[1].prefix = 128;
        m->n_allow = 2;
    }
    return 0;
}

static const struct conf_setting metrics_settings[] = {
    {"address", MANY, true, set_metrics_address},
    {"allow", MANY, true, set_metrics_allow},
    {"bearer-token-file", 1, false, set_metrics_bearer},
    {"basic-auth-file", 1, false, set_metrics_basic},
};

/*
 * Hints for a one-value key given several (parse.c). Only where a hint helps:
 * a path may hold spaces when it is quoted; a duration, size or rate is one
 * word. Keys of other kinds (names, numbers, words) get none.
 */
static const struct {
    const char *key;
    const char *hint;
} one_value_hints[] = {
    {"spool", "quote a path that has spaces"},
    {"cert", "quote a path that has spaces"},
    {"key", "quote a path that has spaces"},
    {"ca-file", "quote a path that has spaces"},
    {"passwd", "quote a path that has spaces"},
    {"bearer-token-file", "quote a path that has spaces"},
    {"basic-auth-file", "quote a path that has spaces"},
    {"give-up", "a duration is one word, as in 10m"},
    {"delay-warning", "a duration is one word, as in 4h"},
    {"lockout", "a duration is one word, as in 10m"},
    {"timeout-command", "a duration is one word, as in 5m"},
    {"timeout-data", "a duration is one word, as in 5m"},
    {"timeout-connect", "a duration is one word, as in 30s"},
    {"connection-reuse", "a duration is one word, as in 2s"},
    {"max-message-size", "a size is one word, as in 10M"},
    {"connection-rate", "a rate is one word, as in 60/1m"},
    {"message-rate", "a rate is one word, as in 60/1m"},
    {"sender-rate", "a rate is one word, as in 1000/1h"},
    {"max-failures", "a rate is one word, as in 5/10m"},
    {"user-rate", "a rate is one word, as in 100/1h"},
    {"app-passwords", "one word: off, required or totp-users"},
    {"baseline", "a duration is one word, as in 1h"},
    {"within", "a duration is one word, as in 14d"},
    {"block-scanners", "a duration is one word, as in 1d"},
    {"capture", "one interface, or any"},
    {"exec", "quote a path that has spaces; the program takes no arguments"},
};

const char *
conf_one_value_hint(const char *key)
{
    for (size_t i = 0; i < N_OF(one_value_hints); i++) {
        if (strcmp(one_value_hints[i].key, key) == 0)
            return one_value_hints[i].hint;
    }
    return NULL;
}

const struct conf_block conf_blocks[] = {
    {"tls", NULL, tls_settings, N_OF(tls_settings), open_tls, close_tls},
    {"listen", "a role (one of: inbound, internal, submission, submissions)", listen_settings,
     N_OF(listen_settings), open_listen, close_listen},
    {"domain", "a domain name", domain_settings, N_OF(domain_settings), open_domain, close_domain},
    {"auth", NULL, auth_settings, N_OF(auth_settings), open_auth, close_auth},
    {"delivery", NULL, delivery_settings, N_OF(delivery_settings), open_delivery, close_delivery},
    {"metrics", NULL, metrics_settings, N_OF(metrics_settings), open_metrics, close_metrics},
    {"alert", "a rule name", conf_alert_settings, CONF_ALERT_KEYS, conf_alert_open,
     conf_alert_close},
    {"watch", NULL, conf_watch_settings, CONF_WATCH_KEYS, conf_watch_open, conf_watch_close},
    {"checks", "a door role (one of: inbound, internal, submission, submissions)",
     conf_checks_settings, CONF_CHECKS_KEYS, conf_checks_open, conf_checks_close},
    {"dkim", "a domain name", conf_dkim_settings, CONF_DKIM_BLOCK_KEYS, conf_dkim_open,
     conf_dkim_close},
    {"quarantine", NULL, conf_quarantine_settings, CONF_QUARANTINE_KEYS, conf_quarantine_open,
     conf_quarantine_close},
    {"tracking", NULL, conf_tracking_settings, CONF_TRACKING_KEYS, conf_tracking_open,
     conf_tracking_close},
    {"console", NULL, conf_console_settings, CONF_CONSOLE_KEYS, conf_console_open,
     conf_console_close},
    {"local-submit", NULL, conf_local_submit_settings, CONF_LOCAL_SUBMIT_KEYS,
     conf_local_submit_open, conf_local_submit_close},
};

const size_t conf_n_top_settings = N_OF(conf_top_settings);
const size_t conf_n_blocks = N_OF(conf_blocks);

/* parse.c keeps one "first seen at line" slot per key of a scope. */
_Static_assert(N_OF(conf_top_settings) <= CONF_SCOPE_KEYS_MAX, "top level has too many keys");
_Static_assert(N_OF(listen_settings) <= CONF_SCOPE_KEYS_MAX, "listen has too many keys");
_Static_assert(N_OF(tls_settings) <= CONF_SCOPE_KEYS_MAX, "tls has too many keys");
_Static_assert(N_OF(auth_settings) <= CONF_SCOPE_KEYS_MAX, "auth has too many keys");
_Static_assert(N_OF(delivery_settings) <= CONF_SCOPE_KEYS_MAX, "delivery has too many keys");
_Static_assert(N_OF(domain_settings) <= CONF_SCOPE_KEYS_MAX, "domain has too many keys");
_Static_assert(N_OF(metrics_settings) <= CONF_SCOPE_KEYS_MAX, "metrics has too many keys");
