/* SPDX-License-Identifier: MIT */
/*
 * The RFC 5322 From domain for DMARC (RFC 7489 6.6.1): the field value is
 * read as a mailbox-list (RFC 5322 3.4, with the obsolete forms of 4.4:
 * obs-phrase, obs-local-part, obs-domain, obs-route, obs-mbox-list), and
 * must hold exactly one mailbox whose domain is a DNS name. One function
 * per grammar rule; comments nest at most COMMENT_DEPTH deep; the value is
 * bounded by DMARC_FROM_MAX before scanning. Non-ASCII (RFC 6532) is
 * refused: the lookup needs A-labels.
 */
#include <string.h>

#include "lib/ascii.h"
#include "lib/str.h"
#include "mailauth/dmarc.h"

#define COMMENT_DEPTH 8

struct fc {
    const char *p;
    const char *end;
    bool literal; /* the last domain was a domain-literal */
};

static int
peek(const struct fc *c)
{
    return c->p < c->end ? (unsigned char)*c->p : -1;
}

static bool
is_wsp(int ch)
{
    return ch == ' ' || ch == '\t';
}

/* atext   RFC 5322 3.2.3 */
static bool
is_atext(int ch)
{
    return is_alpha(ch) || is_digit(ch) || (ch > 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

/* FWS = ([*WSP CRLF] 1*WSP) / obs-FWS   RFC 5322 3.2.2: a CRLF only before WSP. */
static void
fws(struct fc *c)
{
    for (;;) {
        if (is_wsp(peek(c))) {
            c->p++;
        } else if (c->end - c->p >= 3 && c->p[0] == '\r' && c->p[1] == '\n' &&
                   is_wsp((unsigned char)c->p[2])) {
            c->p += 3;
        } else {
            return;
        }
    }
}

/* quoted-pair = "\" (VCHAR / WSP)   RFC 5322 3.2.1 */
static int
quoted_pair(struct fc *c)
{
    int ch;

    c->p++; /* "\" */
    ch = peek(c);
    if (!(ch >= 0x21 && ch <= 0x7e) && !is_wsp(ch))
        return -1;
    c->p++;
    return 0;
}

/* comment = "(" *([FWS] ccontent) [FWS] ")"   RFC 5322 3.2.2 */
static int
comment(struct fc *c, int depth)
{
    if (depth > COMMENT_DEPTH)
        return -1;
    c->p++; /* "(" */
    for (;;) {
        int ch;

        fws(c);
        ch = peek(c);
        if (ch == ')') {
            c->p++;
            return 0;
        }
        if (ch == '(') {
            if (comment(c, depth + 1) == -1)
                return -1;
        } else if (ch == '\\') {
            if (quoted_pair(c) == -1)
                return -1;
        } else if (ch >= 0x21 && ch <= 0x7e) {
            c->p++; /* ctext */
        } else {
            return -1; /* the end, a control, a bare CR or LF, non-ASCII */
        }
    }
}

/* CFWS = (1*([FWS] comment) [FWS]) / FWS; also empty here. */
static int
cfws(struct fc *c)
{
    for (;;) {
        fws(c);
        if (peek(c) != '(')
            return 0;
        if (comment(c, 1) == -1)
            return -1;
    }
}

/* quoted-string = [CFWS] DQUOTE *([FWS] qcontent) [FWS] DQUOTE [CFWS]; at the DQUOTE. */
static int
quoted_string(struct fc *c)
{
    c->p++;
    for (;;) {
        int ch;

        fws(c);
        ch = peek(c);
        if (ch == '"') {
            c->p++;
            return cfws(c);
        }
        if (ch == '\\') {
            if (quoted_pair(c) == -1)
                return -1;
        } else if (ch >= 0x21 && ch <= 0x7e) {
            c->p++; /* qtext */
        } else {
            return -1;
        }
    }
}

/*
 * word = atom / quoted-string, each with its CFWS. Returns 1 when one was
 * read, 0 when none is next (nothing consumed but CFWS), -1 on an error.
 */
static int
word(struct fc *c)
{
    if (cfws(c) == -1)
        return -1;
    if (peek(c) == '"')
        return quoted_string(c) == -1 ? -1 : 1;
    if (!is_atext(peek(c)))
        return 0;
    while (is_atext(peek(c)))
        c->p++;
    return cfws(c) == -1 ? -1 : 1;
}

/* local-part = dot-atom / quoted-string / obs-local-part (word *("." word))   3.4.1, 4.4 */
static int
local_part(struct fc *c)
{
    for (;;) {
        if (word(c) != 1)
            return -1;
        if (peek(c) != '.')
            return 0;
        c->p++;
    }
}

/* A label of a DNS name (RFC 1123 2.1): letters, digits, hyphens inside, 1..63. */
static bool
is_label(const char *p, size_t len)
{
    if (len == 0 || len > 63 || p[0] == '-' || p[len - 1] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_alpha((unsigned char)p[i]) && !is_digit((unsigned char)p[i]) && p[i] != '-')
            return false;
    }
    return true;
}

/*
 * domain = dot-atom / domain-literal / obs-domain (atom *("." atom))
 * RFC 5322 3.4.1, 4.4. The atoms are joined into out (capacity cap) when
 * they make a DNS name; a domain-literal sets c->literal.
 */
static int
domain(struct fc *c, char *out, size_t cap)
{
    size_t len = 0;

    c->literal = false;
    if (cfws(c) == -1)
        return -1;
    if (peek(c) == '[') {
        /* domain-literal = [CFWS] "[" *([FWS] dtext) [FWS] "]" [CFWS] */
        c->p++;
        for (;;) {
            int ch;

            fws(c);
            ch = peek(c);
            if (ch == ']')
                break;
            if (!(ch >= 33 && ch <= 90) && !(ch >= 94 && ch <= 126))
                return -1;
            c->p++;
        }
        c->p++;
        c->literal = true;
        return cfws(c);
    }
    for (;;) {
        const char *start;

        if (cfws(c) == -1)
            return -1;
        start = c->p;
        while (is_atext(peek(c)))
            c->p++;
        if (!is_label(start, (size_t)(c->p - start)))
            return -1;
        if (len + (size_t)(c->p - start) + 1 > cap ||
            len + (size_t)(c->p - start) > DMARC_DOMAIN_MAX)
            return -1;
        memcpy(out + len, start, (size_t)(c->p - start));
        len += (size_t)(c->p - start);
        out[len] = '\0';
        if (cfws(c) == -1)
            return -1;
        if (peek(c) != '.')
            return 0;
        c->p++;
        out[len++] = '.';
    }
}

/* addr-spec = local-part "@" domain   RFC 5322 3.4.1 */
static int
addr_spec(struct fc *c, char *out, size_t cap)
{
    if (local_part(c) == -1 || peek(c) != '@')
        return -1;
    c->p++;
    return domain(c, out, cap);
}

/* obs-route = obs-domain-list ":"; obs-domain-list = *(CFWS / ",") "@" domain *("," [CFWS] ["@"
 * domain])   4.4 */
static int
obs_route(struct fc *c)
{
    char scratch[DMARC_DOMAIN_MAX + 1];

    for (;;) {
        if (cfws(c) == -1)
            return -1;
        if (peek(c) != ',')
            break;
        c->p++;
    }
    if (peek(c) != '@')
        return -1;
    c->p++;
    if (domain(c, scratch, sizeof(scratch)) == -1)
        return -1;
    while (peek(c) == ',') {
        c->p++;
        if (cfws(c) == -1)
            return -1;
        if (peek(c) == '@') {
            c->p++;
            if (domain(c, scratch, sizeof(scratch)) == -1)
                return -1;
        }
    }
    if (peek(c) != ':')
        return -1;
    c->p++;
    return 0;
}

/* angle-addr = [CFWS] "<" addr-spec ">" [CFWS] / obs-angle-addr (with obs-route)   3.4, 4.4 */
static int
angle_addr(struct fc *c, char *out, size_t cap)
{
    if (cfws(c) == -1 || peek(c) != '<')
        return -1;
    c->p++;
    if (cfws(c) == -1)
        return -1;
    if ((peek(c) == '@' || peek(c) == ',') && obs_route(c) == -1)
        return -1;
    if (addr_spec(c, out, cap) == -1 || peek(c) != '>')
        return -1;
    c->p++;
    return cfws(c);
}

enum mbox { MBOX_OK, MBOX_GROUP, MBOX_BAD };

/*
 * mailbox = name-addr / addr-spec; name-addr = [display-name] angle-addr;
 * display-name = phrase (1*word / obs-phrase: word *(word / "." / CFWS))
 * RFC 5322 3.4, 4.4. A display-name followed by ":" is a group (3.4),
 * which From may not hold.
 */
static enum mbox
mailbox(struct fc *c, char *out, size_t cap)
{
    struct fc save = *c;
    int words = 0, w;

    for (;;) {
        w = word(c);
        if (w == -1)
            break;
        if (w == 1) {
            words++;
            continue;
        }
        if (words > 0 && peek(c) == '.') {
            c->p++; /* obs-phrase */
            continue;
        }
        break;
    }
    if (w != -1) {
        if (words > 0 && peek(c) == ':')
            return MBOX_GROUP;
        if (peek(c) == '<')
            return angle_addr(c, out, cap) == -1 ? MBOX_BAD : MBOX_OK;
    }
    *c = save;
    return addr_spec(c, out, cap) == -1 ? MBOX_BAD : MBOX_OK;
}

/* mailbox-list = (mailbox *("," mailbox)) / obs-mbox-list   RFC 5322 3.4, 4.4 */
enum dmarc_from
dmarc_from_domain(struct slice value, char *out, size_t cap)
{
    struct fc c = {value.p, value.p + value.len, false};
    char dom[DMARC_DOMAIN_MAX + 1] = "";
    bool literal = false;
    size_t count = 0;

    if (cap == 0)
        return DMARC_FROM_SYNTAX;
    out[0] = '\0';
    if (value.len > DMARC_FROM_MAX || !str_is_ascii(value.p, value.len))
        return DMARC_FROM_SYNTAX;
    /* obs-mbox-list: *([CFWS] ",") before the first, empty ones between. */
    for (;;) {
        if (cfws(&c) == -1)
            return DMARC_FROM_SYNTAX;
        if (peek(&c) == ',') {
            c.p++;
            continue;
        }
        if (peek(&c) == -1)
            break;
        if (count > 0)
            return DMARC_FROM_MULTIPLE;
        switch (mailbox(&c, dom, sizeof(dom))) {
        case MBOX_GROUP:
            return DMARC_FROM_MULTIPLE;
        case MBOX_BAD:
            return DMARC_FROM_SYNTAX;
        case MBOX_OK:
            break;
        }
        literal = c.literal;
        count++;
        if (cfws(&c) == -1)
            return DMARC_FROM_SYNTAX;
        if (peek(&c) != ',' && peek(&c) != -1)
            return DMARC_FROM_SYNTAX;
    }
    if (count == 0)
        return DMARC_FROM_EMPTY;
    if (literal)
        return DMARC_FROM_LITERAL;
    if (str_copyz(out, cap, dom) == -1) {
        out[0] = '\0';
        return DMARC_FROM_SYNTAX;
    }
    str_lower(out, strlen(out));
    return DMARC_FROM_OK;
}

const char *
dmarc_from_name(enum dmarc_from f)
{
    switch (f) {
    case DMARC_FROM_OK:
        return "ok";
    case DMARC_FROM_EMPTY:
        return "empty";
    case DMARC_FROM_MULTIPLE:
        return "multiple";
    case DMARC_FROM_SYNTAX:
        return "syntax";
    case DMARC_FROM_LITERAL:
        return "literal";
    }
    return "?";
}
