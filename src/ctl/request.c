/* SPDX-License-Identifier: MIT */
/*
 * Requests of the queue commands (request.h): selectors, ids, the request
 * line of the control socket (grammar in ctl.h) and the matching of a
 * message against the selectors.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "ctl/request.h"
#include "lib/str.h"

static const char *const verb_names[] = {
    [CTL_LIST] = "list",     [CTL_LIST_JSON] = "list-json", [CTL_SHOW] = "show",
    [CTL_FLUSH] = "flush",   [CTL_HOLD] = "hold",           [CTL_RELEASE] = "release",
    [CTL_DELETE] = "delete", [CTL_BOUNCE] = "bounce",
};

#define N_VERBS (sizeof(verb_names) / sizeof(verb_names[0]))

const char *
ctl_verb_name(enum ctl_verb verb)
{
    return verb_names[verb];
}

int
ctl_verb_find(const char *name, enum ctl_verb *out)
{
    for (size_t i = 0; i < N_VERBS; i++) {
        if (strcmp(name, verb_names[i]) == 0) {
            *out = (enum ctl_verb)i;
            return 0;
        }
    }
    return -1;
}

bool
ctl_verb_acts(enum ctl_verb verb)
{
    return verb != CTL_LIST && verb != CTL_LIST_JSON && verb != CTL_SHOW;
}

bool
ctl_is_id(const char *s)
{
    size_t n = strlen(s);

    if (n != SPOOL_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    }
    return true;
}

/* ---- Selectors ---- */

static char
ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Equal without regard to ASCII case (octets from 0x80 up compare as they are). */
static bool
ascii_equal(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        if (ascii_lower(*a) != ascii_lower(*b))
            return false;
    }
    return *a == *b;
}

/* No octet below 0x20 and no DEL: nothing that could hide in a terminal or a log. */
static bool
has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return true;
    }
    return false;
}

/* The address of --from/--to, "<...>" unwrapped. Returns 0, or -1 with why. */
static int
select_address(const char *opt, const char *value, char *out, size_t cap, char *why, size_t whycap)
{
    size_t len = strlen(value);

    if (len >= 2 && value[0] == '<' && value[len - 1] == '>') {
        value++;
        len -= 2;
    }
    if (len >= cap) {
        (void)str_fmt(why, whycap, "--%s: too long (an address has at most %d octets)", opt,
                      CAP_MAILBOX);
        return -1;
    }
    if (str_copy(out, cap, value, len) == -1 || has_control(out) || strchr(out, ' ') != NULL) {
        (void)str_fmt(why, whycap, "--%s: not an address (a space or control character)", opt);
        return -1;
    }
    return 0;
}

static int
select_from(struct ctl_select *sel, const char *value, char *why, size_t whycap)
{
    if (select_address("from", value, sel->from, sizeof(sel->from), why, whycap) == -1)
        return -1;
    /* "" (or "<>") is the null reverse-path of bounces; anything else is local@domain. */
    if (sel->from[0] != '\0' && strchr(sel->from, '@') == NULL) {
        (void)str_fmt(why, whycap, "--from: expected local@domain, or <> for the null sender");
        return -1;
    }
    return 0;
}

static int
select_to(struct ctl_select *sel, const char *value, char *why, size_t whycap)
{
    if (select_address("to", value, sel->to, sizeof(sel->to), why, whycap) == -1)
        return -1;
    /* A recipient is local@domain, or Postmaster alone (RFC 5321 4.1.1.3). */
    if (strchr(sel->to, '@') == NULL && !ascii_equal(sel->to, "postmaster")) {
        (void)str_fmt(why, whycap, "--to: expected local@domain (or Postmaster)");
        return -1;
    }
    return 0;
}

static int
select_domain(struct ctl_select *sel, const char *value, char *why, size_t whycap)
{
    if (value[0] == '\0' || strchr(value, '@') != NULL || strchr(value, ' ') != NULL ||
        has_control(value)) {
        (void)str_fmt(why, whycap, "--domain: expected a domain such as example.com");
        return -1;
    }
    if (str_copyz(sel->domain, sizeof(sel->domain), value) == -1) {
        (void)str_fmt(why, whycap, "--domain: too long (a domain has at most %d octets)",
                      CAP_DOMAIN);
        return -1;
    }
    return 0;
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is its IPv4 address. */
static void
unmap(int *family, unsigned char addr[16])
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (*family == AF_INET6 && memcmp(addr, mapped, sizeof(mapped)) == 0) {
        memmove(addr, addr + 12, 4);
        memset(addr + 4, 0, 12);
        *family = AF_INET;
    }
}

/* Parses an IPv4 or IPv6 address. Returns 0, or -1. */
static int
parse_ip(const char *s, int *family, unsigned char addr[16])
{
    if (inet_pton(AF_INET, s, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, addr) == 1) {
        *family = AF_INET6;
        unmap(family, addr);
        return 0;
    }
    return -1;
}

static int
select_client(struct ctl_select *sel, const char *value, char *why, size_t whycap)
{
    char q[64];

    if (strlen(value) >= 64 || parse_ip(value, &sel->client_family, sel->client_addr) == -1 ||
        inet_ntop(sel->client_family, sel->client_addr, sel->client, sizeof(sel->client)) == NULL) {
        size_t n = 0;

        /* The value quoted, control characters and all shown as '?'. */
        for (const char *p = value; *p != '\0' && n < sizeof(q) - 4; p++)
            q[n++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
        q[n] = '\0';
        (void)str_fmt(why, whycap, "--client: not an IP address: \"%s%s\"", q,
                      strlen(value) > n ? "..." : "");
        return -1;
    }
    return 0;
}

/* --user NAME: 1 to CAP_AUTH_USER octets, no space or control character (the passwd file's). */
static int
select_user(struct ctl_select *sel, const char *value, char *why, size_t whycap)
{
    if (value[0] == '\0' || strchr(value, ' ') != NULL || has_control(value)) {
        (void)str_fmt(why, whycap, "--user: expected a user name (no space or control character)");
        return -1;
    }
    if (str_copyz(sel->user, sizeof(sel->user), value) == -1) {
        (void)str_fmt(why, whycap, "--user: too long (a user name has at most %d octets)",
                      CAP_AUTH_USER);
        return -1;
    }
    return 0;
}

int
ctl_select_set(struct ctl_select *sel, const char *name, const char *value, char *why,
               size_t whycap)
{
    static const char *const flags[] = {"all", "held", "deferred"};
    bool *flag_of[] = {&sel->all, &sel->held, &sel->deferred};
    static const char *const valued[] = {"from", "to", "domain", "client", "user"};
    bool *has_of[] = {&sel->has_from, &sel->has_to, &sel->has_domain, &sel->has_client,
                      &sel->has_user};
    int (*const set_of[])(struct ctl_select *, const char *, char *, size_t) = {
        select_from, select_to, select_domain, select_client, select_user};

    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (strcmp(name, flags[i]) != 0)
            continue;
        if (value != NULL) {
            (void)str_fmt(why, whycap, "--%s takes no value", name);
            return -1;
        }
        if (*flag_of[i]) {
            (void)str_fmt(why, whycap, "--%s given twice", name);
            return -1;
        }
        *flag_of[i] = true;
        return 0;
    }
    for (size_t i = 0; i < sizeof(valued) / sizeof(valued[0]); i++) {
        if (strcmp(name, valued[i]) != 0)
            continue;
        if (value == NULL) {
            (void)str_fmt(why, whycap, "--%s needs a value", name);
            return -1;
        }
        if (*has_of[i]) {
            (void)str_fmt(why, whycap, "--%s given twice", name);
            return -1;
        }
        if (set_of[i](sel, value, why, whycap) == -1)
            return -1;
        *has_of[i] = true;
        return 0;
    }
    (void)str_fmt(why, whycap, "unknown selector");
    return -1;
}

static bool
select_is_empty(const struct ctl_select *sel)
{
    return !sel->all && !sel->held && !sel->deferred && !sel->has_from && !sel->has_to &&
           !sel->has_domain && !sel->has_client && !sel->has_user;
}

/* ---- Ids and the check of a request ---- */

int
ctl_request_add_id(struct ctl_request *req, const char *id, char *why, size_t whycap)
{
    if (!ctl_is_id(id)) {
        char q[SPOOL_ID_LEN + 8];
        size_t n = 0;

        for (const char *p = id; *p != '\0' && n < SPOOL_ID_LEN + 4; p++)
            q[n++] = (unsigned char)*p < 0x20 || *p == 0x7f || *p == '"' ? '?' : *p;
        q[n] = '\0';
        (void)str_fmt(why, whycap, "not a queue id: \"%s%s\" (16 hex digits expected)", q,
                      strlen(id) > n ? "..." : "");
        return -1;
    }
    for (size_t i = 0; i < req->n_ids; i++) {
        if (strcmp(req->ids[i], id) == 0) {
            (void)str_fmt(why, whycap, "%s named twice", id);
            return -1;
        }
    }
    if (req->n_ids == CTL_IDS_MAX) {
        (void)str_fmt(why, whycap, "more than %d ids: use a selector (--all, --from, ...)",
                      CTL_IDS_MAX);
        return -1;
    }
    memcpy(req->ids[req->n_ids++], id, SPOOL_ID_LEN + 1);
    return 0;
}

int
ctl_request_check(const struct ctl_request *req, char *why, size_t whycap)
{
    const char *verb = ctl_verb_name(req->verb);
    bool sel = req->has_select && !select_is_empty(&req->sel);

    if (req->has_select && !sel) {
        (void)str_fmt(why, whycap, "%s: no selector given", verb);
        return -1;
    }
    if (sel && req->n_ids > 0) {
        (void)str_fmt(why, whycap, "%s: give ids or selectors, not both", verb);
        return -1;
    }
    if (req->limit > 0 && req->verb != CTL_LIST && req->verb != CTL_LIST_JSON) {
        (void)str_fmt(why, whycap, "%s: only list takes a limit", verb);
        return -1;
    }
    switch (req->verb) {
    case CTL_LIST:
    case CTL_LIST_JSON:
        if (req->n_ids > 0) {
            (void)str_fmt(why, whycap, "list takes selectors, not ids (show ID shows one)");
            return -1;
        }
        return 0;
    case CTL_SHOW:
        if (sel || req->n_ids == 0) {
            (void)str_fmt(why, whycap, "show: which message? (show ID...)");
            return -1;
        }
        return 0;
    case CTL_FLUSH:
        return 0;
    case CTL_HOLD:
    case CTL_RELEASE:
    case CTL_DELETE:
    case CTL_BOUNCE:
        if (!sel && req->n_ids == 0) {
            (void)str_fmt(why, whycap, "%s: which messages? give ids, or selectors such as --all",
                          verb);
            return -1;
        }
        return 0;
    }
    return -1;
}

/* ---- The request line ---- */

static bool
is_plain(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '%';
}

/* Appends " name=VALUE" with VALUE %-encoded. Returns 0, or -1 when out is full. */
static int
put_value(char *out, size_t cap, size_t *len, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    int n = snprintf(out + *len, cap - *len, " %s=", name);

    if (n < 0 || (size_t)n >= cap - *len)
        return -1;
    *len += (size_t)n;
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (cap - *len < 4)
            return -1;
        if (is_plain(*p)) {
            out[(*len)++] = (char)*p;
        } else {
            out[(*len)++] = '%';
            out[(*len)++] = hex[*p >> 4];
            out[(*len)++] = hex[*p & 15];
        }
    }
    out[*len] = '\0';
    return 0;
}

static int
put_word(char *out, size_t cap, size_t *len, const char *word)
{
    int n = snprintf(out + *len, cap - *len, " %s", word);

    if (n < 0 || (size_t)n >= cap - *len)
        return -1;
    *len += (size_t)n;
    return 0;
}

int
ctl_request_format(const struct ctl_request *req, char *out, size_t cap)
{
    const struct ctl_select *s = &req->sel;
    size_t len = 0;

    if (str_copyz(out, cap, ctl_verb_name(req->verb)) == -1)
        return -1;
    len = strlen(out);
    for (size_t i = 0; i < req->n_ids; i++) {
        if (put_word(out, cap, &len, req->ids[i]) == -1)
            return -1;
    }
    if (req->has_select) {
        if ((s->all && put_word(out, cap, &len, "all") == -1) ||
            (s->held && put_word(out, cap, &len, "held") == -1) ||
            (s->deferred && put_word(out, cap, &len, "deferred") == -1) ||
            (s->has_from && put_value(out, cap, &len, "from", s->from) == -1) ||
            (s->has_to && put_value(out, cap, &len, "to", s->to) == -1) ||
            (s->has_domain && put_value(out, cap, &len, "domain", s->domain) == -1) ||
            (s->has_client && put_value(out, cap, &len, "client", s->client) == -1) ||
            (s->has_user && put_value(out, cap, &len, "user", s->user) == -1))
            return -1;
    }
    if (req->limit > 0) {
        char word[32];

        (void)str_fmt(word, sizeof(word), "limit=%zu", req->limit);
        if (put_word(out, cap, &len, word) == -1)
            return -1;
    }
    if (cap - len < 2)
        return -1;
    out[len++] = '\n';
    out[len] = '\0';
    return 0;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Decodes a %-encoded value of len octets into out (capacity cap). Only
 * the one spelling the encoder writes is accepted: a plain octet as
 * itself, every other one as %HH (upper-case), never %00. Returns 0, -1
 * when it is not so encoded, or -2 when it does not fit.
 */
static int
decode_value(const char *p, size_t len, char *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        if (n + 1 >= cap)
            return -2;
        if (c == '%') {
            int hi, lo;

            if (i + 2 >= len)
                return -1;
            hi = hex_value(p[i + 1]);
            lo = hex_value(p[i + 2]);
            if (hi == -1 || lo == -1)
                return -1;
            c = (unsigned char)(hi << 4 | lo);
            if (c == 0 || is_plain(c))
                return -1;
            i += 2;
        } else if (!is_plain(c)) {
            return -1;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return 0;
}

/* "limit=" 1*7DIGIT (1 to CTL_LIST_LIMIT_MAX, no leading zero): eq is its '=' (or NULL). */
static int
parse_limit(struct ctl_request *req, const char *eq, const char *end, char *why, size_t whycap)
{
    size_t n = 0;

    if (req->limit > 0) {
        (void)str_fmt(why, whycap, "limit given twice");
        return -1;
    }
    if (eq == NULL || eq + 1 == end || eq[1] == '0' || end - eq - 1 > 7) {
        (void)str_fmt(why, whycap, "limit: expected a number from 1 to %d", CTL_LIST_LIMIT_MAX);
        return -1;
    }
    for (const char *p = eq + 1; p < end; p++) {
        if (*p < '0' || *p > '9') {
            (void)str_fmt(why, whycap, "limit: expected a number from 1 to %d", CTL_LIST_LIMIT_MAX);
            return -1;
        }
        n = n * 10 + (size_t)(*p - '0');
    }
    if (n > CTL_LIST_LIMIT_MAX) {
        (void)str_fmt(why, whycap, "limit: expected a number from 1 to %d", CTL_LIST_LIMIT_MAX);
        return -1;
    }
    req->limit = n;
    return 0;
}

/* One target token of a request: an id, a flag selector, "limit=N", or name=value. */
static int
parse_token(struct ctl_request *req, const char *tok, size_t len, char *why, size_t whycap)
{
    /* The longest decoded value, with room to be found too long by ctl_select_set. */
    char name[16], value[CAP_MAILBOX + 2];
    const char *eq = memchr(tok, '=', len);
    size_t nlen = eq != NULL ? (size_t)(eq - tok) : len;

    if (len == SPOOL_ID_LEN && eq == NULL) {
        char id[SPOOL_ID_LEN + 1];

        memcpy(id, tok, SPOOL_ID_LEN);
        id[SPOOL_ID_LEN] = '\0';
        if (ctl_is_id(id))
            return ctl_request_add_id(req, id, why, whycap);
    }
    if (nlen == 0 || nlen >= sizeof(name)) {
        (void)str_fmt(why, whycap, "bad request: not an id or a selector");
        return -1;
    }
    memcpy(name, tok, nlen);
    name[nlen] = '\0';
    if (strcmp(name, "limit") == 0)
        return parse_limit(req, eq, tok + len, why, whycap);
    req->has_select = true;
    if (eq == NULL)
        return ctl_select_set(&req->sel, name, NULL, why, whycap);
    switch (decode_value(eq + 1, len - nlen - 1, value, sizeof(value))) {
    case 0:
        break;
    case -2:
        (void)str_fmt(why, whycap, "--%s: too long", name);
        return -1;
    default:
        (void)str_fmt(why, whycap, "bad request: the value of %s is not %%-encoded right", name);
        return -1;
    }
    return ctl_select_set(&req->sel, name, value, why, whycap);
}

int
ctl_request_parse(const char *line, size_t len, struct ctl_request *req, char *why, size_t whycap)
{
    char verb[16];
    size_t i = 0, start;

    memset(req, 0, sizeof(*req));
    if (memchr(line, '\0', len) != NULL) {
        (void)str_fmt(why, whycap, "bad request: a NUL octet");
        return -1;
    }
    while (i < len && line[i] != ' ')
        i++;
    if (i == 0 || i >= sizeof(verb)) {
        (void)str_fmt(why, whycap, "bad request: no command");
        return -1;
    }
    memcpy(verb, line, i);
    verb[i] = '\0';
    if (ctl_verb_find(verb, &req->verb) == -1) {
        size_t n = 0;

        for (const char *p = verb; *p != '\0'; p++)
            verb[n++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
        (void)str_fmt(why, whycap, "unknown command: %s", verb);
        return -1;
    }
    while (i < len) {
        /* Exactly one space before each token, and none at the end. */
        if (line[i] != ' ' || i + 1 == len || line[i + 1] == ' ') {
            (void)str_fmt(why, whycap, "bad request: one space between words");
            return -1;
        }
        start = ++i;
        while (i < len && line[i] != ' ')
            i++;
        if (parse_token(req, line + start, i - start, why, whycap) == -1)
            return -1;
    }
    return ctl_request_check(req, why, whycap);
}

/* ---- Matching ---- */

/* The domain of a recipient (after its last '@'), or NULL (Postmaster). */
static const char *
rcpt_domain(const char *addr)
{
    const char *at = strrchr(addr, '@');

    return at != NULL ? at + 1 : NULL;
}

static bool
client_matches(const struct ctl_select *sel, const char *client_addr)
{
    unsigned char addr[16];
    int family;

    if (parse_ip(client_addr, &family, addr) == -1 || family != sel->client_family)
        return false;
    return memcmp(addr, sel->client_addr, family == AF_INET ? 4 : 16) == 0;
}

bool
ctl_select_match(const struct ctl_select *sel, const struct envelope *env, bool held)
{
    bool to_ok = !sel->has_to, domain_ok = !sel->has_domain;

    if ((sel->held && !held) || (sel->deferred && (held || env->attempts == 0)))
        return false;
    if (sel->has_from && !ascii_equal(env->sender, sel->from))
        return false;
    if (sel->has_client && !client_matches(sel, env->client_addr))
        return false;
    if (sel->has_user && (env->user == NULL || strcmp(env->user, sel->user) != 0))
        return false;
    for (size_t i = 0; i < env->n_rcpts && !(to_ok && domain_ok); i++) {
        const struct envelope_rcpt *r = &env->rcpts[i];
        const char *domain;

        if (r->status != ENVELOPE_RCPT_PENDING)
            continue;
        if (sel->has_to && ascii_equal(r->addr, sel->to))
            to_ok = true;
        domain = rcpt_domain(r->addr);
        if (sel->has_domain && domain != NULL && ascii_equal(domain, sel->domain))
            domain_ok = true;
    }
    return to_ok && domain_ok;
}
