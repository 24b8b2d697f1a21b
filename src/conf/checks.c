/* SPDX-License-Identifier: MIT */
/*
 * The blocks of the content checks (docs/checks.md; docs/config.md,
 * "checks, dkim and quarantine blocks"):
 *
 *   checks DOOR {                       (a door role; one block per door)
 *       spf             on | off
 *       dkim            verify | sign | verify sign | off
 *       dmarc           enforce | report | off          (needs spf on and dkim verify)
 *       dnsbl           ZONE...                        (at most 8 zones in all)
 *       dnswl           ZONE...
 *       dnsbl-reply     greeting | rcpt
 *       greylist        DURATION | off                 (1m to 1d)
 *       antivirus       clamd unix:/PATH | clamd tcp:HOST:PORT
 *       antivirus-action reject | quarantine
 *       spam            rspamd http://HOST:PORT
 *       spam-reject     SCORE   spam-quarantine SCORE   spam-header SCORE
 *       milter          unix:/PATH | inet:PORT@HOST    (repeatable, in order)
 *       on-error        tempfail | accept
 *       timeout         DURATION                       (1s to 10m; default 30s)
 *   }
 *   dkim DOMAIN {  selector S...  key FILE...  }   (the n-th key signs with the n-th selector)
 *   quarantine {  keep DURATION  }                 (1d to 400d; default 30d)
 *
 * Each key is checked on its line; what needs the whole file (a door
 * without a listen block, `dkim sign` without a dkim block, the order of
 * the spam scores) is checked when the block closes or by
 * conf_checks_whole() at the end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/parse.h"
#include "conf/values.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The keys of a checks block, in the order of conf_checks_settings[]. */
enum checks_key {
    CK_SPF,
    CK_DKIM,
    CK_DMARC,
    CK_DNSBL,
    CK_DNSWL,
    CK_DNSBL_REPLY,
    CK_GREYLIST,
    CK_ANTIVIRUS,
    CK_ANTIVIRUS_ACTION,
    CK_SPAM,
    CK_SPAM_REJECT,
    CK_SPAM_QUARANTINE,
    CK_SPAM_HEADER,
    CK_MILTER,
    CK_ON_ERROR,
    CK_TIMEOUT,
};

/* The keys of a dkim block. */
enum dkim_key {
    DK_SELECTOR,
    DK_KEY,
};

#define CHECKS_GREYLIST_MIN 60u
#define CHECKS_GREYLIST_MAX 86400u
#define CHECKS_TIMEOUT_MAX  600u
#define CHECKS_TIMEOUT      30u
#define QUARANTINE_KEEP     (30u * 86400u)
#define QUARANTINE_KEEP_MAX (400u * 86400u)

static bool
word_is(struct slice s, const char *w)
{
    return s.len == strlen(w) && strncasecmp(s.p, w, s.len) == 0;
}

static bool
is_visible(struct slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        if ((unsigned char)s.p[i] <= 0x20 || (unsigned char)s.p[i] >= 0x7f)
            return false;
    }
    return s.len > 0;
}

static int
on_off(struct conf_parser *p, const struct conf_line *l, bool *out)
{
    char q[CONF_QUOTE_CAP];

    if (word_is(conf_arg(l, 1), "on")) {
        *out = true;
        return 0;
    }
    if (word_is(conf_arg(l, 1), "off")) {
        *out = false;
        return 0;
    }
    return conf_fail(p, l->number, "expected 'on' or 'off' after '%s', found '%s'",
                     conf_arg(l, 0).p, conf_quote(q, sizeof q, conf_arg(l, 1)));
}

static int
set_spf(struct conf_parser *p, const struct conf_line *l)
{
    return on_off(p, l, &p->checks->spf);
}

/* dkim verify | sign | verify sign | off */
static int
set_dkim(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];
    unsigned bits = 0;

    for (size_t i = 1; i < l->n; i++) {
        struct slice v = conf_arg(l, i);
        unsigned bit = word_is(v, "verify") ? CONF_DKIM_VERIFY
                       : word_is(v, "sign") ? CONF_DKIM_SIGN
                                            : 0;

        if (word_is(v, "off") && l->n == 2)
            break;
        if (bit == 0 || (bits & bit) != 0)
            return conf_fail(p, l->number,
                             "expected 'verify', 'sign', 'verify sign' or 'off' after 'dkim', "
                             "found '%s'",
                             conf_quote(q, sizeof q, v));
        bits |= bit;
    }
    p->checks->dkim = bits;
    p->checks->dkim_line = l->number;
    return 0;
}

static int
set_dmarc(struct conf_parser *p, const struct conf_line *l)
{
    struct slice v = conf_arg(l, 1);
    char q[CONF_QUOTE_CAP];

    if (word_is(v, "enforce"))
        p->checks->dmarc = CONF_DMARC_ENFORCE;
    else if (word_is(v, "report"))
        p->checks->dmarc = CONF_DMARC_REPORT;
    else if (word_is(v, "off"))
        p->checks->dmarc = CONF_DMARC_OFF;
    else
        return conf_fail(p, l->number,
                         "expected 'enforce', 'report' or 'off' after 'dmarc', found '%s'",
                         conf_quote(q, sizeof q, v));
    p->checks->dmarc_line = l->number;
    return 0;
}

/* dnsbl / dnswl ZONE...: domain names, lower case, each once, at most 8 in all. */
static int
add_zones(struct conf_parser *p, const struct conf_line *l, char **zones, size_t *n)
{
    struct conf_why w;
    char name[CAP_DOMAIN + 1];

    for (size_t i = 1; i < l->n; i++) {
        if (conf_value_domain(conf_arg(l, i), name, &w) == -1)
            return conf_fail(p, l->number, "%s: %s", conf_arg(l, 0).p, w.text);
        str_lower(name, strlen(name));
        for (size_t k = 0; k < *n; k++) {
            if (strcmp(zones[k], name) == 0)
                return conf_fail(p, l->number, "zone '%s' is listed twice in '%s'", name,
                                 conf_arg(l, 0).p);
        }
        if (*n == CONF_CHECKS_ZONES_MAX)
            return conf_fail(p, l->number, "'%s' lists too many zones (at most %d)",
                             conf_arg(l, 0).p, CONF_CHECKS_ZONES_MAX);
        zones[(*n)++] = xstrdup(name);
    }
    return 0;
}

static int
set_dnsbl(struct conf_parser *p, const struct conf_line *l)
{
    return add_zones(p, l, p->checks->dnsbl, &p->checks->n_dnsbl);
}

static int
set_dnswl(struct conf_parser *p, const struct conf_line *l)
{
    return add_zones(p, l, p->checks->dnswl, &p->checks->n_dnswl);
}

static int
set_dnsbl_reply(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];

    if (word_is(conf_arg(l, 1), "rcpt"))
        p->checks->dnsbl_at_rcpt = true;
    else if (word_is(conf_arg(l, 1), "greeting"))
        p->checks->dnsbl_at_rcpt = false;
    else
        return conf_fail(p, l->number,
                         "expected 'greeting' or 'rcpt' after 'dnsbl-reply', found '%s'",
                         conf_quote(q, sizeof q, conf_arg(l, 1)));
    return 0;
}

static int
set_greylist(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;

    if (word_is(conf_arg(l, 1), "off")) {
        p->checks->greylist = 0;
        return 0;
    }
    if (conf_value_duration(conf_arg(l, 1), CHECKS_GREYLIST_MIN, CHECKS_GREYLIST_MAX,
                            &p->checks->greylist, &w) == -1)
        return conf_fail(p, l->number, "greylist: %s", w.text);
    return 0;
}

/*
 * A socket a checker listens on: unix:/ABSOLUTE/PATH, or (tcp: for clamd,
 * inet: for milters as Postfix and Sendmail write them) a host and port.
 */
static int
check_target(struct conf_parser *p, const struct conf_line *l, struct slice v, const char *inet,
             const char *example)
{
    char q[CONF_QUOTE_CAP];
    size_t il = strlen(inet);

    if (v.len >= CONF_CHECKS_TARGET_MAX)
        return conf_fail(p, l->number, "'%s' is too long (at most %d octets)",
                         conf_quote(q, sizeof q, v), CONF_CHECKS_TARGET_MAX - 1);
    if (!is_visible(v))
        return conf_fail(p, l->number, "'%s' holds a blank or a character outside printable ASCII",
                         conf_quote(q, sizeof q, v));
    if (v.len > 6 && strncmp(v.p, "unix:/", 6) == 0)
        return 0;
    if (v.len > il && strncmp(v.p, inet, il) == 0 && memchr(v.p + il, ':', v.len - il) != NULL)
        return 0;
    if (v.len > il && strncmp(v.p, inet, il) == 0 && memchr(v.p + il, '@', v.len - il) != NULL)
        return 0;
    return conf_fail(p, l->number, "expected unix:/PATH or %s (as in %s), found '%s'",
                     strcmp(inet, "inet:") == 0 ? "inet:PORT@HOST" : "tcp:HOST:PORT", example,
                     conf_quote(q, sizeof q, v));
}

/* antivirus clamd TARGET */
static int
set_antivirus(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];
    struct slice v;

    if (l->n != 3 || !word_is(conf_arg(l, 1), "clamd"))
        return conf_fail(p, l->number,
                         "expected 'antivirus clamd unix:/PATH' or 'antivirus clamd "
                         "tcp:HOST:PORT', found '%s'",
                         conf_quote(q, sizeof q, conf_arg(l, 1)));
    v = conf_arg(l, 2);
    if (check_target(p, l, v, "tcp:", "unix:/run/clamav/clamd.ctl") == -1)
        return -1;
    memcpy(p->checks->antivirus, v.p, v.len);
    p->checks->antivirus[v.len] = '\0';
    return 0;
}

static int
set_antivirus_action(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];

    if (word_is(conf_arg(l, 1), "reject"))
        p->checks->antivirus_action = CONF_ACTION_REJECT;
    else if (word_is(conf_arg(l, 1), "quarantine"))
        p->checks->antivirus_action = CONF_ACTION_QUARANTINE;
    else
        return conf_fail(p, l->number,
                         "expected 'reject' or 'quarantine' after 'antivirus-action', found '%s'",
                         conf_quote(q, sizeof q, conf_arg(l, 1)));
    return 0;
}

/* spam rspamd http(s)://HOST[:PORT] */
static int
set_spam(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];
    struct slice v;
    size_t skip = 0;

    if (l->n != 3 || !word_is(conf_arg(l, 1), "rspamd"))
        return conf_fail(p, l->number,
                         "expected 'spam rspamd http://HOST:PORT' (rspamd's normal worker), "
                         "found '%s'",
                         conf_quote(q, sizeof q, conf_arg(l, 1)));
    v = conf_arg(l, 2);
    if (v.len >= 8 && strncasecmp(v.p, "https://", 8) == 0)
        skip = 8;
    else if (v.len >= 7 && strncasecmp(v.p, "http://", 7) == 0)
        skip = 7;
    if (skip == 0 || v.len == skip || !is_visible(v) || v.len >= CONF_CHECKS_TARGET_MAX ||
        v.p[skip] == '/' || v.p[skip] == ':')
        return conf_fail(p, l->number,
                         "expected rspamd's URL as in http://127.0.0.1:11333, found '%s'",
                         conf_quote(q, sizeof q, v));
    memcpy(p->checks->spam, v.p, v.len);
    p->checks->spam[v.len] = '\0';
    p->checks->spam_line = l->number;
    return 0;
}

/* A score: -?DIGITS[.D[D]], from -1000 to 1000 (rspamd's scale, two decimals at most). */
static int
set_score(struct conf_parser *p, const struct conf_line *l, struct conf_score *out)
{
    struct slice v = conf_arg(l, 1);
    char q[CONF_QUOTE_CAP], buf[32];
    size_t i = v.len > 0 && v.p[0] == '-' ? 1 : 0, int_digits = 0, frac_digits = 0;

    while (i < v.len && v.p[i] >= '0' && v.p[i] <= '9')
        i++, int_digits++;
    if (i < v.len && v.p[i] == '.') {
        i++;
        while (i < v.len && v.p[i] >= '0' && v.p[i] <= '9')
            i++, frac_digits++;
        if (frac_digits == 0)
            int_digits = 0; /* "6." is not a score */
    }
    if (i != v.len || int_digits == 0 || int_digits > 4 || frac_digits > 2)
        return conf_fail(p, l->number, "expected a score such as 15 or 6.5 after '%s', found '%s'",
                         conf_arg(l, 0).p, conf_quote(q, sizeof q, v));
    memcpy(buf, v.p, v.len);
    buf[v.len] = '\0';
    out->value = strtod(buf, NULL);
    if (out->value < -1000 || out->value > 1000)
        return conf_fail(p, l->number, "score '%s' is out of range (-1000 to 1000)", buf);
    out->set = true;
    return 0;
}

static int
set_spam_reject(struct conf_parser *p, const struct conf_line *l)
{
    return set_score(p, l, &p->checks->spam_reject);
}

static int
set_spam_quarantine(struct conf_parser *p, const struct conf_line *l)
{
    return set_score(p, l, &p->checks->spam_quarantine);
}

static int
set_spam_header(struct conf_parser *p, const struct conf_line *l)
{
    return set_score(p, l, &p->checks->spam_header);
}

static int
set_milter(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_checks *ck = p->checks;
    struct slice v = conf_arg(l, 1);

    if (check_target(p, l, v, "inet:", "unix:/run/opendkim/opendkim.sock") == -1)
        return -1;
    if (ck->n_milters == CONF_CHECKS_MILTERS_MAX)
        return conf_fail(p, l->number, "too many milters (at most %d)", CONF_CHECKS_MILTERS_MAX);
    ck->milters[ck->n_milters++] = xstrdup(v.p);
    if (ck->milter_line == 0)
        ck->milter_line = l->number;
    return 0;
}

static int
set_on_error(struct conf_parser *p, const struct conf_line *l)
{
    char q[CONF_QUOTE_CAP];

    if (word_is(conf_arg(l, 1), "accept"))
        p->checks->on_error_accept = true;
    else if (word_is(conf_arg(l, 1), "tempfail"))
        p->checks->on_error_accept = false;
    else
        return conf_fail(p, l->number,
                         "expected 'tempfail' or 'accept' after 'on-error', found '%s'",
                         conf_quote(q, sizeof q, conf_arg(l, 1)));
    return 0;
}

static int
set_timeout(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;

    if (conf_value_duration(conf_arg(l, 1), 1, CHECKS_TIMEOUT_MAX, &p->checks->timeout, &w) == -1)
        return conf_fail(p, l->number, "timeout: %s", w.text);
    return 0;
}

const struct conf_setting conf_checks_settings[CONF_CHECKS_KEYS] = {
    [CK_SPF] = {"spf", 1, false, set_spf},
    [CK_DKIM] = {"dkim", 2, false, set_dkim},
    [CK_DMARC] = {"dmarc", 1, false, set_dmarc},
    [CK_DNSBL] = {"dnsbl", CONF_CHECKS_ZONES_MAX, true, set_dnsbl},
    [CK_DNSWL] = {"dnswl", CONF_CHECKS_ZONES_MAX, true, set_dnswl},
    [CK_DNSBL_REPLY] = {"dnsbl-reply", 1, false, set_dnsbl_reply},
    [CK_GREYLIST] = {"greylist", 1, false, set_greylist},
    [CK_ANTIVIRUS] = {"antivirus", 2, false, set_antivirus},
    [CK_ANTIVIRUS_ACTION] = {"antivirus-action", 1, false, set_antivirus_action},
    [CK_SPAM] = {"spam", 2, false, set_spam},
    [CK_SPAM_REJECT] = {"spam-reject", 1, false, set_spam_reject},
    [CK_SPAM_QUARANTINE] = {"spam-quarantine", 1, false, set_spam_quarantine},
    [CK_SPAM_HEADER] = {"spam-header", 1, false, set_spam_header},
    [CK_MILTER] = {"milter", 1, true, set_milter},
    [CK_ON_ERROR] = {"on-error", 1, false, set_on_error},
    [CK_TIMEOUT] = {"timeout", 1, false, set_timeout},
};

_Static_assert(N_OF(conf_checks_settings) <= CONF_SCOPE_KEYS_MAX, "checks has too many keys");

int
conf_checks_open(struct conf_parser *p, const struct conf_line *l)
{
    struct slice v = conf_arg(l, 1);
    char q[CONF_QUOTE_CAP];

    for (int r = 0; r < DOOR_ROLE_COUNT; r++) {
        struct conf_checks *ck = &p->c->checks[r];

        if (!word_is(v, conf_role_name((enum door_role)r)))
            continue;
        if (ck->line != 0)
            return conf_fail(p, l->number, "duplicate block 'checks %s' (first at line %u)",
                             conf_role_name((enum door_role)r), ck->line);
        ck->line = l->number;
        ck->timeout = CHECKS_TIMEOUT;
        p->checks = ck;
        return 0;
    }
    return conf_fail(p, l->number,
                     "unknown door '%s' after 'checks' (expected one of: inbound, internal, "
                     "submission, submissions)",
                     conf_quote(q, sizeof q, v));
}

/* What one block must hold together: DMARC's inputs, the order of the scores. */
int
conf_checks_close(struct conf_parser *p)
{
    struct conf_checks *ck = p->checks;
    const struct conf_score *sc[3] = {&ck->spam_header, &ck->spam_quarantine, &ck->spam_reject};
    static const char *const names[3] = {"spam-header", "spam-quarantine", "spam-reject"};

    if (ck->dmarc != CONF_DMARC_OFF && (!ck->spf || (ck->dkim & CONF_DKIM_VERIFY) == 0))
        return conf_fail(p, ck->dmarc_line,
                         "dmarc judges the results of SPF and DKIM: add 'spf on' and "
                         "'dkim verify' to this block");
    for (int i = CK_SPAM_REJECT; i <= CK_SPAM_HEADER; i++) {
        if (p->block_seen[i] != 0 && ck->spam[0] == '\0')
            return conf_fail(p, p->block_seen[i],
                             "'%s' is a score of rspamd's: add 'spam rspamd http://HOST:PORT'",
                             conf_checks_settings[i].name);
    }
    if (ck->spam[0] != '\0' && !ck->spam_header.set && !ck->spam_quarantine.set &&
        !ck->spam_reject.set)
        return conf_fail(p, ck->spam_line,
                         "spam: say what a score does: spam-reject, spam-quarantine or "
                         "spam-header SCORE");
    /* header < quarantine < reject, among those written. */
    for (int i = 0; i < 3; i++) {
        for (int j = i + 1; j < 3; j++) {
            if (sc[i]->set && sc[j]->set && sc[i]->value >= sc[j]->value)
                return conf_fail(p, ck->spam_line, "%s (%g) must be lower than %s (%g)", names[i],
                                 sc[i]->value, names[j], sc[j]->value);
        }
    }
    if (p->block_seen[CK_ANTIVIRUS_ACTION] != 0 && ck->antivirus[0] == '\0')
        return conf_fail(p, p->block_seen[CK_ANTIVIRUS_ACTION],
                         "'antivirus-action' needs 'antivirus clamd ...'");
    p->checks = NULL;
    return 0;
}

/* ---- dkim DOMAIN { selector S...  key FILE... } ---- */

static int
set_selector(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_dkim *d = p->dkim;
    struct slice v = conf_arg(l, 1);
    char q[CONF_QUOTE_CAP];
    size_t n = 0;

    while (n < CONF_DKIM_KEYS_MAX && d->selector[n][0] != '\0')
        n++;
    /* A selector is a DNS label or several (RFC 6376 3.1): letters, digits, '-', '.'. */
    for (size_t i = 0; i < v.len; i++) {
        char ch = v.p[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || (ch == '.' && i > 0 && i + 1 < v.len && v.p[i - 1] != '.')))
            return conf_fail(p, l->number,
                             "selector '%s' is not a DNS name (letters, digits, '-' and '.')",
                             conf_quote(q, sizeof q, v));
    }
    if (v.len == 0 || v.len >= sizeof d->selector[0] || v.p[0] == '-')
        return conf_fail(p, l->number, "selector '%s' is not a DNS name of 1 to 63 octets",
                         conf_quote(q, sizeof q, v));
    if (n == CONF_DKIM_KEYS_MAX)
        return conf_fail(p, l->number, "too many selectors (at most %d: one per key)",
                         CONF_DKIM_KEYS_MAX);
    memcpy(d->selector[n], v.p, v.len);
    d->selector[n][v.len] = '\0';
    return 0;
}

/* key FILE: readable now (configtest names a missing one); src/mailauth loads it. */
static int
set_dkim_key(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_dkim *d = p->dkim;
    char path[CAP_PATH];
    struct conf_why w;
    struct stat st;

    if (d->n_keys == CONF_DKIM_KEYS_MAX)
        return conf_fail(p, l->number,
                         "too many keys (at most %d: an RSA and an Ed25519 key to dual-sign)",
                         CONF_DKIM_KEYS_MAX);
    if (conf_value_path(conf_arg(l, 1), p->dir, path, &w) == -1)
        return conf_fail(p, l->number, "key: %s", w.text);
    if (access(path, R_OK) == -1 || stat(path, &st) == -1)
        return conf_fail(p, l->number,
                         "cannot read DKIM key '%s': %s (make one with gate26 "
                         "dkim keygen)",
                         path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return conf_fail(p, l->number, "DKIM key '%s' is not a file", path);
    memcpy(d->key[d->n_keys], path, sizeof path);
    d->key_line[d->n_keys] = l->number;
    d->n_keys++;
    return 0;
}

const struct conf_setting conf_dkim_settings[CONF_DKIM_BLOCK_KEYS] = {
    [DK_SELECTOR] = {"selector", 1, true, set_selector},
    [DK_KEY] = {"key", 1, true, set_dkim_key},
};

int
conf_dkim_open(struct conf_parser *p, const struct conf_line *l)
{
    struct conf *c = p->c;
    struct conf_why w;
    char name[CAP_DOMAIN + 1];

    if (conf_value_domain(conf_arg(l, 1), name, &w) == -1)
        return conf_fail(p, l->number, "dkim: %s", w.text);
    if (c->n_dkims == CONF_DKIM_DOMAINS_MAX)
        return conf_fail(p, l->number, "too many dkim blocks (at most %d)", CONF_DKIM_DOMAINS_MAX);
    if (c->n_dkims == p->dkims_cap) {
        p->dkims_cap = p->dkims_cap ? 2 * p->dkims_cap : 8;
        c->dkims = xrealloc(c->dkims, p->dkims_cap * sizeof *c->dkims);
    }
    p->dkim = &c->dkims[c->n_dkims++];
    memset(p->dkim, 0, sizeof *p->dkim);
    str_lower(name, strlen(name));
    memcpy(p->dkim->domain, name, sizeof name);
    p->dkim->line = l->number;
    return 0;
}

/* Each key signs with its own selector: two keys under one name would be one DNS record. */
int
conf_dkim_close(struct conf_parser *p)
{
    struct conf_dkim *d = p->dkim;
    size_t n_sel = 0;

    while (n_sel < CONF_DKIM_KEYS_MAX && d->selector[n_sel][0] != '\0')
        n_sel++;
    if (d->n_keys == 0)
        return conf_fail(p, d->line, "dkim %s: no 'key' (gate26 dkim keygen %s SELECTOR makes one)",
                         d->domain, d->domain);
    if (n_sel != d->n_keys)
        return conf_fail(p, d->line,
                         "dkim %s: %zu key(s) and %zu selector(s): each key needs its own "
                         "selector (its own DNS record), in the same order",
                         d->domain, d->n_keys, n_sel);
    if (d->n_keys == 2 && strcmp(d->selector[0], d->selector[1]) == 0)
        return conf_fail(p, d->key_line[1],
                         "dkim %s: both keys have selector '%s': each needs its own DNS record",
                         d->domain, d->selector[0]);
    p->dkim = NULL;
    return 0;
}

/* ---- quarantine { keep DURATION } ---- */

static int
set_keep(struct conf_parser *p, const struct conf_line *l)
{
    struct conf_why w;

    if (conf_value_duration(conf_arg(l, 1), 86400u, QUARANTINE_KEEP_MAX, &p->c->quarantine_keep,
                            &w) == -1)
        return conf_fail(p, l->number, "keep: %s", w.text);
    return 0;
}

const struct conf_setting conf_quarantine_settings[CONF_QUARANTINE_KEYS] = {
    {"keep", 1, false, set_keep},
};

int
conf_quarantine_open(struct conf_parser *p, const struct conf_line *l)
{
    if (p->c->quarantine_line != 0)
        return conf_fail(p, l->number, "duplicate block 'quarantine' (first at line %u)",
                         p->c->quarantine_line);
    p->c->quarantine_line = l->number;
    return 0;
}

int
conf_quarantine_close(struct conf_parser *p)
{
    (void)p;
    return 0;
}

/* ---- the whole file ---- */

static int
dkim_cmp(const void *a, const void *b)
{
    const struct conf_dkim *x = a, *y = b;
    int r = strcmp(x->domain, y->domain);

    if (r != 0)
        return r;
    return x->line < y->line ? -1 : x->line > y->line;
}

int
conf_checks_whole(struct conf_parser *p)
{
    struct conf *c = p->c;

    if (c->quarantine_keep == 0)
        c->quarantine_keep = QUARANTINE_KEEP;
    if (c->n_dkims > 0) {
        qsort(c->dkims, c->n_dkims, sizeof *c->dkims, dkim_cmp);
        for (size_t i = 1; i < c->n_dkims; i++) {
            if (strcmp(c->dkims[i - 1].domain, c->dkims[i].domain) == 0)
                return conf_fail(p, c->dkims[i].line,
                                 "duplicate dkim block '%s' (first at line %u)", c->dkims[i].domain,
                                 c->dkims[i - 1].line);
        }
    }
    for (int r = 0; r < DOOR_ROLE_COUNT; r++) {
        const struct conf_checks *ck = &c->checks[r];
        bool listened = false;

        if (ck->line == 0)
            continue;
        for (size_t i = 0; i < c->n_listens; i++)
            listened |= c->listens[i].role == (enum door_role)r;
        if (!listened)
            return conf_fail(p, ck->line, "checks %s: there is no listen %s block",
                             conf_role_name((enum door_role)r), conf_role_name((enum door_role)r));
        if ((ck->dkim & CONF_DKIM_SIGN) != 0 && r == DOOR_INBOUND)
            return conf_fail(p, ck->dkim_line,
                             "checks inbound: 'dkim sign' signs our own outgoing mail; the "
                             "inbound door takes the Internet's (use 'dkim verify')");
        if ((ck->dkim & CONF_DKIM_SIGN) != 0 && c->n_dkims == 0)
            return conf_fail(p, ck->dkim_line,
                             "'dkim sign' needs a 'dkim DOMAIN { selector ...  key ... }' block "
                             "for each domain we sign for");
    }
    return 0;
}

static int
dkim_key_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct conf_dkim *)elem)->domain);
}

const struct conf_dkim *
conf_find_dkim(const struct conf *c, const char *domain)
{
    char key[CAP_DOMAIN + 1];
    size_t len = strlen(domain);

    if (len > 0 && domain[len - 1] == '.')
        len--;
    if (len == 0 || len > CAP_DOMAIN || c->n_dkims == 0)
        return NULL;
    memcpy(key, domain, len);
    key[len] = '\0';
    str_lower(key, len);
    return bsearch(key, c->dkims, c->n_dkims, sizeof *c->dkims, dkim_key_cmp);
}

void
conf_checks_free(struct conf *c)
{
    for (int r = 0; r < DOOR_ROLE_COUNT; r++) {
        struct conf_checks *ck = &c->checks[r];

        for (size_t i = 0; i < ck->n_dnsbl; i++)
            free(ck->dnsbl[i]);
        for (size_t i = 0; i < ck->n_dnswl; i++)
            free(ck->dnswl[i]);
        for (size_t i = 0; i < ck->n_milters; i++)
            free(ck->milters[i]);
    }
    free(c->dkims);
}
