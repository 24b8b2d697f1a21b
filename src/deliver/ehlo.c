/* SPDX-License-Identifier: MIT */
/*
 * The EHLO reply's extension lines (RFC 5321 4.1.1.1):
 *
 *     ehlo-line    = ehlo-keyword *( SP ehlo-param )
 *     ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 *     ehlo-param   = 1*(%d33-126)
 *
 * Keywords are compared without regard to case. SIZE takes at most one
 * parameter, a decimal number (RFC 1870 4); AUTH one or more mechanism
 * names (RFC 4954 3: sasl-mech = 1*20( UPPER-ALPHA / DIGIT / "-" / "_" ),
 * compared without regard to case, as some servers write them); the other
 * extensions used here take none, and parameters given to them anyway are
 * ignored. The old "AUTH=LOGIN" line of some servers is not an ehlo-line and
 * is ignored (they send "AUTH LOGIN" too).
 */
#include "deliver/ehlo.h"
#include "lib/ascii.h"
#include "lib/cursor.h"
#include "lib/num.h"

/* ehlo-keyword; true when one was taken into *kw. */
static bool
ehlo_keyword(struct cursor *c, struct slice *kw)
{
    const char *start = c->p;

    if (!is_alpha(cursor_peek(c)) && !is_digit(cursor_peek(c)))
        return false;
    while (is_alpha(cursor_peek(c)) || is_digit(cursor_peek(c)) || cursor_peek(c) == '-')
        c->p++;
    *kw = slice_make(start, (size_t)(c->p - start));
    return true;
}

/* ehlo-param; true when one was taken into *param. */
static bool
ehlo_param(struct cursor *c, struct slice *param)
{
    const char *start = c->p;

    while (cursor_peek(c) >= 33 && cursor_peek(c) <= 126)
        c->p++;
    *param = slice_make(start, (size_t)(c->p - start));
    return param->len > 0;
}

/* SIZE [ SP number ]: 0 or no number means no limit (RFC 1870 4). */
static enum deliver_ehlo_rc
ehlo_size(struct deliver_caps *caps, const struct slice *params, size_t n_params)
{
    uint64_t max = 0;

    if (n_params > 1)
        return DELIVER_EHLO_BAD;
    if (n_params == 1 && num_parse_u64(params[0], 0, UINT64_MAX, &max) == -1)
        return DELIVER_EHLO_BAD;
    caps->size = true;
    caps->size_max = max;
    return DELIVER_EHLO_KNOWN;
}

/* sasl-mech = 1*20( ALPHA / DIGIT / "-" / "_" ) (RFC 4954 3, any case). */
static bool
ehlo_is_mech(struct slice m)
{
    if (m.len == 0 || m.len > 20)
        return false;
    for (size_t i = 0; i < m.len; i++) {
        if (!is_alpha(m.p[i]) && !is_digit(m.p[i]) && m.p[i] != '-' && m.p[i] != '_')
            return false;
    }
    return true;
}

/*
 * AUTH 1*( SP sasl-mech ): the mechanisms offered, each checked (RFC 4954
 * 3). c stands after the keyword; the caps change only when the line is
 * whole.
 */
static enum deliver_ehlo_rc
ehlo_auth(struct deliver_caps *caps, struct cursor *c)
{
    bool plain = false, login = false;
    size_t n = 0;

    while (cursor_take(c, ' ')) {
        struct slice m;

        if (!ehlo_param(c, &m) || !ehlo_is_mech(m))
            return DELIVER_EHLO_BAD;
        plain = plain || slice_eq_ci(m, "PLAIN");
        login = login || slice_eq_ci(m, "LOGIN");
        n++;
    }
    if (n == 0 || !cursor_at_end(c))
        return DELIVER_EHLO_BAD;
    caps->auth = true;
    caps->auth_plain = caps->auth_plain || plain;
    caps->auth_login = caps->auth_login || login;
    return DELIVER_EHLO_KNOWN;
}

/* The flag of a keyword that takes no parameter, or NULL. */
static bool *
ehlo_flag(struct deliver_caps *caps, struct slice kw)
{
    if (slice_eq_ci(kw, "PIPELINING"))
        return &caps->pipelining;
    if (slice_eq_ci(kw, "8BITMIME"))
        return &caps->eightbitmime;
    if (slice_eq_ci(kw, "SMTPUTF8"))
        return &caps->smtputf8;
    if (slice_eq_ci(kw, "DSN"))
        return &caps->dsn;
    if (slice_eq_ci(kw, "ENHANCEDSTATUSCODES"))
        return &caps->enhanced;
    if (slice_eq_ci(kw, "STARTTLS"))
        return &caps->starttls;
    return NULL;
}

enum deliver_ehlo_rc
deliver_ehlo_line(struct deliver_caps *caps, struct slice text)
{
    struct slice kw, params[2];
    size_t n_params = 0;
    struct cursor c;
    bool *flag;

    cursor_init(&c, text);
    if (!ehlo_keyword(&c, &kw))
        return DELIVER_EHLO_BAD;
    if (slice_eq_ci(kw, "AUTH"))
        return ehlo_auth(caps, &c);
    while (cursor_take(&c, ' ')) {
        struct slice p;

        if (!ehlo_param(&c, &p))
            return DELIVER_EHLO_BAD;
        if (n_params < sizeof(params) / sizeof(params[0]))
            params[n_params] = p;
        n_params++;
    }
    if (!cursor_at_end(&c))
        return DELIVER_EHLO_BAD;

    if (slice_eq_ci(kw, "SIZE"))
        return ehlo_size(caps, params, n_params);
    flag = ehlo_flag(caps, kw);
    if (flag == NULL)
        return DELIVER_EHLO_UNKNOWN;
    *flag = true;
    return DELIVER_EHLO_KNOWN;
}
