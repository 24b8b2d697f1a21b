/* SPDX-License-Identifier: MIT */
/*
 * Envelope addresses by the grammar of RFC 5321 4.1.2 and 4.1.3, with the
 * UTF-8 that RFC 6531 3.3 adds to atext, qtextSMTP and sub-domain. Each rule
 * is one static function that takes a cursor, advances it past what it
 * matched and returns 0, or returns -1 with the cursor where the rule broke.
 * The rules only recognise; smtp_addr_parse_path() then measures the parts
 * against RFC 5321 4.5.3.1 and copies them only once they are known to fit.
 * Nothing outside the grammar is repaired or tolerated (no missing brackets,
 * no spaces, no trailing dot). What an address means on a door (relay,
 * whether SMTPUTF8 is in force) is the session's business, not this file's.
 */
#include <string.h>

#include "lib/ascii.h"
#include "lib/log.h"
#include "lib/str.h"
#include "smtp/addr.h"
#include "smtp/utf8.h"

/* RFC 1035 2.3.4 (which RFC 5321 2.3.5 follows): a label is at most 63
 * octets. Applied to ASCII labels; a U-label is bounded by its domain. */
#define ADDR_LABEL_MAX 63

/* The two parts of a Mailbox, as they stand in the input. */
struct addr_mailbox {
    struct slice local;
    struct slice domain;
};

static size_t
span_from(const char *start, const struct cursor *c)
{
    return (size_t)(c->p - start);
}

/* Let-dig = ALPHA / DIGIT   RFC 5321 4.1.2 */
static bool
is_let_dig(int ch)
{
    return is_alpha(ch) || is_digit(ch);
}

/*
 * atext = ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
 *         "-" / "/" / "=" / "?" / "^" / "_" / "`" / "{" / "|" / "}" / "~"
 *                                                       RFC 5322 3.2.3
 * atext =/ UTF8-non-ascii                               RFC 6531 3.3
 */
static int
addr_atext(struct cursor *c)
{
    int ch = cursor_peek(c);

    if (ch >= 0x80)
        return smtp_utf8_take_non_ascii(c) ? 0 : -1;
    if (ch <= 0 || !(is_let_dig(ch) || strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL))
        return -1;
    c->p++;
    return 0;
}

/* Atom = 1*atext   RFC 5321 4.1.2 */
static int
addr_atom(struct cursor *c)
{
    if (addr_atext(c) == -1)
        return -1;
    while (addr_atext(c) == 0)
        continue;
    return 0;
}

/* Dot-string = Atom *("." Atom)   RFC 5321 4.1.2 */
static int
addr_dot_string(struct cursor *c)
{
    do {
        if (addr_atom(c) == -1)
            return -1;
    } while (cursor_take(c, '.'));
    return 0;
}

/*
 * QcontentSMTP = qtextSMTP / quoted-pairSMTP
 * quoted-pairSMTP = %d92 %d32-126
 * qtextSMTP = %d32-33 / %d35-91 / %d93-126              RFC 5321 4.1.2
 * qtextSMTP =/ UTF8-non-ascii                            RFC 6531 3.3
 * (RFC 6531 does not extend quoted-pairSMTP: a backslash escapes ASCII only.)
 */
static int
addr_qcontent(struct cursor *c)
{
    int ch = cursor_peek(c);

    if (ch == '\\') {
        c->p++;
        ch = cursor_peek(c);
        if (ch < 32 || ch > 126)
            return -1;
        c->p++;
        return 0;
    }
    if (ch >= 0x80)
        return smtp_utf8_take_non_ascii(c) ? 0 : -1;
    if (ch < 32 || ch > 126 || ch == '"')
        return -1;
    c->p++;
    return 0;
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE   RFC 5321 4.1.2 */
static int
addr_quoted_string(struct cursor *c)
{
    if (!cursor_take(c, '"'))
        return -1;
    while (!cursor_take(c, '"')) {
        if (addr_qcontent(c) == -1)
            return -1;
    }
    return 0;
}

/* Local-part = Dot-string / Quoted-string   RFC 5321 4.1.2 */
static int
addr_local_part(struct cursor *c)
{
    return cursor_peek(c) == '"' ? addr_quoted_string(c) : addr_dot_string(c);
}

/*
 * sub-domain = Let-dig [Ldh-str]
 * Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig            RFC 5321 4.1.2
 * sub-domain =/ U-label                                  RFC 6531 3.3
 * So a label starts and ends with a Let-dig and holds hyphens between.
 * With utf8, UTF8-non-ascii counts as a Let-dig (a U-label, RFC 5890
 * 2.3.2.1); whether it is a valid IDNA label is left to the DNS.
 */
static int
addr_sub_domain(struct cursor *c, bool utf8)
{
    const char *start = c->p;
    bool u_label = false;
    int last = -1;

    for (;;) {
        int ch = cursor_peek(c);

        if (is_let_dig(ch) || (ch == '-' && c->p != start)) {
            c->p++;
        } else if (utf8 && ch >= 0x80 && smtp_utf8_take_non_ascii(c)) {
            u_label = true;
        } else {
            break;
        }
        last = ch;
    }
    if (c->p == start || last == '-')
        return -1;
    if (!u_label && span_from(start, c) > ADDR_LABEL_MAX)
        return -1;
    return 0;
}

/* Domain = sub-domain *("." sub-domain)   RFC 5321 4.1.2 */
static int
addr_domain(struct cursor *c, bool utf8)
{
    do {
        if (addr_sub_domain(c, utf8) == -1)
            return -1;
    } while (cursor_take(c, '.'));
    return 0;
}

/*
 * Snum = 1*3DIGIT
 *   ; representing a decimal integer value in the range 0 through 255
 *                                                        RFC 5321 4.1.3
 */
static int
addr_snum(struct cursor *c)
{
    unsigned v = 0;
    int n = 0;

    while (n < 3 && is_digit(cursor_peek(c))) {
        v = v * 10 + (unsigned)(*c->p - '0');
        c->p++;
        n++;
    }
    return n > 0 && v <= 255 ? 0 : -1;
}

/* IPv4-address-literal = Snum 3("."  Snum)   RFC 5321 4.1.3 */
static int
addr_ipv4(struct cursor *c)
{
    if (addr_snum(c) == -1)
        return -1;
    for (int i = 0; i < 3; i++) {
        if (!cursor_take(c, '.') || addr_snum(c) == -1)
            return -1;
    }
    return 0;
}

/* IPv6-hex = 1*4HEXDIG   RFC 5321 4.1.3 */
static int
addr_ipv6_hex(struct cursor *c)
{
    int n = 0;

    while (n < 4 && is_hexdig(cursor_peek(c))) {
        c->p++;
        n++;
    }
    return n > 0 ? 0 : -1;
}

/* "::" in an IPv6 literal: a run of zero groups (RFC 5321 4.1.3). */
static bool
addr_take_colons(struct cursor *c)
{
    if (cursor_left(c) < 2 || c->p[0] != ':' || c->p[1] != ':')
        return false;
    c->p += 2;
    return true;
}

/* True when the IPv4 tail of an IPv6v4 form starts at c: the digits there
 * are followed by a '.', where an IPv6-hex would be followed by ':'. */
static bool
addr_ipv6_at_ipv4(const struct cursor *c)
{
    const char *p = c->p;

    while (p < c->end && p - c->p < 4 && is_hexdig((unsigned char)*p))
        p++;
    return p > c->p && p < c->end && *p == '.';
}

/*
 * IPv6-addr = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp
 * IPv6-full = IPv6-hex 7(":" IPv6-hex)
 * IPv6-comp = [IPv6-hex *5(":" IPv6-hex)] "::" [IPv6-hex *5(":" IPv6-hex)]
 *   ; The "::" represents at least 2 16-bit groups of zeros. No more than 6
 *   ; groups in addition to the "::" may be present.
 * IPv6v4-full = IPv6-hex 5(":" IPv6-hex) ":" IPv4-address-literal
 * IPv6v4-comp = [IPv6-hex *3(":" IPv6-hex)] "::"
 *               [IPv6-hex *3(":" IPv6-hex) ":"] IPv4-address-literal
 *   ; No more than 4 groups in addition to the "::" and IPv4-address-literal
 *                                                        RFC 5321 4.1.3
 * Walked as one sequence of groups with at most one "::" and an optional
 * IPv4 tail, then the group count decides which of the four forms it was.
 * Stricter than inet_pton(): "::" for a single group is refused, as 4.1.3
 * says.
 */
static int
addr_ipv6(struct cursor *c)
{
    unsigned groups = 0;
    bool compressed = addr_take_colons(c);
    bool after_colons = compressed; /* a group may be absent here */
    bool ipv4 = false;

    for (;;) {
        if (addr_ipv6_at_ipv4(c)) {
            if (addr_ipv4(c) == -1)
                return -1;
            ipv4 = true;
            break;
        }
        if (addr_ipv6_hex(c) == -1) {
            if (after_colons)
                break;
            return -1;
        }
        if (++groups > 8)
            return -1;
        if (addr_take_colons(c)) {
            if (compressed)
                return -1;
            compressed = after_colons = true;
        } else if (cursor_take(c, ':')) {
            after_colons = false;
        } else {
            break;
        }
    }
    if (compressed)
        return groups <= (ipv4 ? 4u : 6u) ? 0 : -1;
    return groups == (ipv4 ? 6u : 8u) ? 0 : -1;
}

/*
 * address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
 *                         General-address-literal ) "]"
 * IPv6-address-literal = "IPv6:" IPv6-addr               RFC 5321 4.1.3
 * General-address-literal = Standardized-tag ":" 1*dcontent needs a tag
 * registered with IANA, and none but IPv6 is: that form is refused. The
 * tag is matched without regard to case (ABNF strings, RFC 5234 2.3).
 */
static int
addr_literal(struct cursor *c)
{
    if (!cursor_take(c, '['))
        return -1;
    if (cursor_take_ci(c, "IPv6:")) {
        if (addr_ipv6(c) == -1)
            return -1;
    } else if (addr_ipv4(c) == -1) {
        return -1;
    }
    return cursor_take(c, ']') ? 0 : -1;
}

/* Mailbox = Local-part "@" ( Domain / address-literal )   RFC 5321 4.1.2 */
static int
addr_mailbox(struct cursor *c, struct addr_mailbox *m)
{
    m->local.p = c->p;
    if (addr_local_part(c) == -1)
        return -1;
    m->local.len = span_from(m->local.p, c);
    if (!cursor_take(c, '@'))
        return -1;
    m->domain.p = c->p;
    if ((cursor_peek(c) == '[' ? addr_literal(c) : addr_domain(c, true)) == -1)
        return -1;
    m->domain.len = span_from(m->domain.p, c);
    return 0;
}

/* At-domain = "@" Domain   RFC 5321 4.1.2; *longest keeps the longest Domain
 * so far, since a source route is dropped but still held to 4.5.3.1.2. */
static int
addr_at_domain(struct cursor *c, size_t *longest)
{
    const char *start;

    if (!cursor_take(c, '@'))
        return -1;
    start = c->p;
    if (addr_domain(c, true) == -1)
        return -1;
    if (span_from(start, c) > *longest)
        *longest = span_from(start, c);
    return 0;
}

/* A-d-l = At-domain *( "," At-domain )   RFC 5321 4.1.2 */
static int
addr_adl(struct cursor *c, size_t *longest)
{
    do {
        if (addr_at_domain(c, longest) == -1)
            return -1;
    } while (cursor_take(c, ','));
    return 0;
}

/* "<Postmaster>" (RFC 5321 4.1.1.3), after the '<'. The name is matched
 * without regard to case (4.5.1). Leaves c alone when it is not there. */
static bool
addr_postmaster_bare(struct cursor *c)
{
    struct cursor save = *c;

    if (cursor_take_ci(c, "Postmaster") && cursor_take(c, '>'))
        return true;
    *c = save;
    return false;
}

/* Copies a mailbox that is known to fit into out->text. */
static void
addr_store(struct smtp_addr *out, const struct addr_mailbox *m)
{
    size_t cap = sizeof out->text;

    if (str_copy(out->text, cap, m->local.p, m->local.len) == -1 || m->local.len + 1 >= cap ||
        str_copy(out->text + m->local.len + 1, cap - m->local.len - 1, m->domain.p,
                 m->domain.len) == -1)
        log_panic("addr_store: a measured mailbox does not fit");
    out->text[m->local.len] = '@';
    out->local_len = m->local.len;
    out->len = m->local.len + 1 + m->domain.len;
    out->local_quoted = m->local.p[0] == '"';
    out->is_literal = m->domain.p[0] == '[';
}

/*
 * Path = "<" [ A-d-l ":" ] Mailbox ">"                   RFC 5321 4.1.2
 * Reverse-path = Path / "<>"  (with SMTP_PATH_NULL_OK)
 * Forward-path may also be "<Postmaster>" (with SMTP_PATH_POSTMASTER_OK).
 * The whole path must match before its lengths are judged, so a broken
 * address is SYNTAX even when it is also long.
 */
enum smtp_addr_result
smtp_addr_parse_path(struct cursor *c, unsigned flags, struct smtp_addr *out)
{
    const char *start = c->p;
    struct addr_mailbox m;
    size_t route_longest = 0;

    memset(out, 0, sizeof *out);
    if (!cursor_take(c, '<'))
        return SMTP_ADDR_SYNTAX;
    if ((flags & SMTP_PATH_NULL_OK) && cursor_take(c, '>')) {
        out->is_null = true;
        return SMTP_ADDR_OK;
    }
    if ((flags & SMTP_PATH_POSTMASTER_OK) && addr_postmaster_bare(c)) {
        (void)str_copyz(out->text, sizeof out->text, "Postmaster");
        out->len = out->local_len = strlen(out->text);
        out->is_postmaster_bare = true;
        return SMTP_ADDR_OK;
    }
    /* RFC 5321 4.1.2 and appendix C: a source route is parsed, then dropped. */
    if (cursor_peek(c) == '@' && (addr_adl(c, &route_longest) == -1 || !cursor_take(c, ':')))
        return SMTP_ADDR_SYNTAX;
    if (addr_mailbox(c, &m) == -1 || !cursor_take(c, '>'))
        return SMTP_ADDR_SYNTAX;
    /* RFC 5321 4.5.3.1.1 and 4.5.3.1.2 */
    if (m.local.len > CAP_LOCAL_PART)
        return SMTP_ADDR_LOCAL_TOO_LONG;
    if (m.domain.len > CAP_DOMAIN || route_longest > CAP_DOMAIN)
        return SMTP_ADDR_DOMAIN_TOO_LONG;
    addr_store(out, &m);
    /* Any octet of the path, the dropped route included: a sender that
     * used UTF-8 anywhere in it needs SMTPUTF8 (RFC 6531 3.4). */
    out->has_utf8 = !str_is_ascii(start, span_from(start, c));
    return SMTP_ADDR_OK;
}

bool
smtp_addr_is_domain(const char *p, size_t len, bool utf8)
{
    struct cursor c;

    if (len > CAP_DOMAIN)
        return false;
    cursor_init(&c, slice_make(p, len));
    return addr_domain(&c, utf8) == 0 && cursor_at_end(&c);
}

bool
smtp_addr_is_literal(const char *p, size_t len)
{
    struct cursor c;

    if (len > CAP_DOMAIN)
        return false;
    cursor_init(&c, slice_make(p, len));
    return addr_literal(&c) == 0 && cursor_at_end(&c);
}

bool
smtp_addr_is_mailbox(const char *p, size_t len)
{
    struct cursor c;
    struct addr_mailbox m;

    if (len > CAP_MAILBOX)
        return false;
    cursor_init(&c, slice_make(p, len));
    return addr_mailbox(&c, &m) == 0 && cursor_at_end(&c) && m.local.len <= CAP_LOCAL_PART &&
           m.domain.len <= CAP_DOMAIN;
}
