/* SPDX-License-Identifier: MIT */
/*
 * Value parsers for the configuration (see values.h): one function per kind
 * of value, each a small grammar that cites where it comes from. They only
 * check and convert one token; which key takes which value, and whether a
 * key may repeat, is parse.c's table.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "conf/values.h"
#include "lib/cursor.h"
#include "lib/num.h"
#include "lib/str.h"

#define KIB (UINT64_C(1024))

int
conf_why(struct conf_why *w, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(w->text, sizeof w->text, fmt, ap);
    va_end(ap);
    return -1;
}

const char *
conf_quote(char *dst, size_t cap, struct slice s)
{
    static const char hex[] = "0123456789abcdef";
    size_t shown = s.len > 80 ? 80 : s.len;
    size_t o = 0;

    for (size_t i = 0; i < shown && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)s.p[i];

        if (ch >= 0x20 && ch < 0x7f) {
            dst[o++] = (char)ch;
        } else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[ch >> 4];
            dst[o++] = hex[ch & 15];
        }
    }
    if (shown < s.len && o + 4 <= cap) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
    return dst;
}

/* ---- Domain, RFC 5321 4.1.2 ---- */

static bool
is_let_dig(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/*
 * sub-domain = Let-dig [Ldh-str]; Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig
 * A label is at most 63 octets (RFC 1035 2.3.4). Sets *all_digits.
 */
static int
domain_sub_domain(struct cursor *c, struct slice whole, bool *all_digits, struct conf_why *w)
{
    char q[CONF_QUOTE_CAP], q1[8];
    const char *start = c->p;

    *all_digits = true;
    while (is_let_dig(cursor_peek(c)) || cursor_peek(c) == '-') {
        if (!(*c->p >= '0' && *c->p <= '9'))
            *all_digits = false;
        c->p++;
    }
    if (c->p == start) {
        if (cursor_at_end(c) || cursor_peek(c) == '.')
            return conf_why(w, "empty label in domain name '%s'", conf_quote(q, sizeof q, whole));
        return conf_why(w, "unexpected character '%s' in domain name '%s'",
                        conf_quote(q1, sizeof q1, slice_make(c->p, 1)),
                        conf_quote(q, sizeof q, whole));
    }
    if (*start == '-' || c->p[-1] == '-')
        return conf_why(w, "a label may not start or end with '-' in domain name '%s'",
                        conf_quote(q, sizeof q, whole));
    if (c->p - start > 63)
        return conf_why(w, "a label is longer than 63 octets in domain name '%s'",
                        conf_quote(q, sizeof q, whole));
    return 0;
}

int
conf_value_domain(struct slice s, char *out, struct conf_why *w)
{
    char q[CONF_QUOTE_CAP], q1[8];
    struct slice name = s;
    struct cursor c;
    bool all_digits;

    if (name.len > 0 && name.p[name.len - 1] == '.')
        name.len--;
    if (name.len == 0)
        return conf_why(w, "expected a domain name, found '%s'", conf_quote(q, sizeof q, s));
    if (name.len > CAP_DOMAIN)
        return conf_why(w, "domain name too long (at most %d octets): '%s'", CAP_DOMAIN,
                        conf_quote(q, sizeof q, s));
    cursor_init(&c, name);
    do {
        if (domain_sub_domain(&c, s, &all_digits, w) == -1)
            return -1;
    } while (cursor_take(&c, '.'));
    if (!cursor_at_end(&c))
        return conf_why(w, "unexpected character '%s' in domain name '%s'",
                        conf_quote(q1, sizeof q1, slice_make(c.p, 1)), conf_quote(q, sizeof q, s));
    /* No top-level domain is all digits (RFC 3696 2): this is a mistyped address. */
    if (all_digits)
        return conf_why(w, "'%s' is not a domain name (its last label is all digits)",
                        conf_quote(q, sizeof q, s));
    (void)str_copy(out, CAP_DOMAIN + 1, name.p, name.len);
    return 0;
}

/* ---- Numbers, sizes, durations ---- */

int
conf_value_count(struct slice s, uint64_t min, uint64_t max, uint64_t *out, struct conf_why *w)
{
    char q[CONF_QUOTE_CAP];

    if (num_parse_u64(s, min, max, out) == -1)
        return conf_why(w, "expected a number from %llu to %llu, found '%s'",
                        (unsigned long long)min, (unsigned long long)max,
                        conf_quote(q, sizeof q, s));
    return 0;
}

static bool
is_digits(struct slice s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
    }
    return true;
}

/* "2G", "10M", "1K" or plain octets, for messages. */
static void
size_text(char *dst, size_t cap, uint64_t v)
{
    static const char units[] = "GMK";
    uint64_t mult = KIB * KIB * KIB;

    for (size_t i = 0; v != 0 && i < 3; i++, mult /= KIB) {
        if (v % mult == 0) {
            (void)str_fmt(dst, cap, "%llu%c", (unsigned long long)(v / mult), units[i]);
            return;
        }
    }
    (void)str_fmt(dst, cap, "%llu", (unsigned long long)v);
}

/* size = 1*DIGIT [ "K" / "M" / "G" ]   (any case; 1024-based) */
int
conf_value_size(struct slice s, uint64_t min, uint64_t max, uint64_t *out, struct conf_why *w)
{
    char q[CONF_QUOTE_CAP], lo[32], hi[32];
    struct slice digits = s;
    uint64_t mult = 1, v;

    if (s.len > 0) {
        switch (s.p[s.len - 1]) {
        case 'k':
        case 'K':
            mult = KIB;
            break;
        case 'm':
        case 'M':
            mult = KIB * KIB;
            break;
        case 'g':
        case 'G':
            mult = KIB * KIB * KIB;
            break;
        default:
            break;
        }
        if (mult != 1)
            digits.len--;
    }
    size_text(lo, sizeof lo, min);
    size_text(hi, sizeof hi, max);
    if (!is_digits(digits))
        return conf_why(w,
                        "expected a size from %s to %s (digits with an optional K, M or G), "
                        "found '%s'",
                        lo, hi, conf_quote(q, sizeof q, s));
    if (num_parse_u64(digits, 0, UINT64_MAX / mult, &v) == -1 || v * mult < min || v * mult > max)
        return conf_why(w, "size '%s' is out of range (from %s to %s)", conf_quote(q, sizeof q, s),
                        lo, hi);
    *out = v * mult;
    return 0;
}

/* "1d", "5m", "90s", for messages. */
static void
duration_text(char *dst, size_t cap, unsigned v)
{
    static const struct {
        unsigned secs;
        char unit;
    } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}};

    for (size_t i = 0; v != 0 && i < sizeof units / sizeof units[0]; i++) {
        if (v % units[i].secs == 0) {
            (void)str_fmt(dst, cap, "%u%c", v / units[i].secs, units[i].unit);
            return;
        }
    }
    (void)str_fmt(dst, cap, "%us", v);
}

/* duration = 1*DIGIT [ "s" / "m" / "h" / "d" ]   (a plain number is seconds) */
int
conf_value_duration(struct slice s, unsigned min, unsigned max, unsigned *out, struct conf_why *w)
{
    char q[CONF_QUOTE_CAP], lo[32], hi[32];
    struct slice digits = s;
    uint64_t mult = 1, v;

    if (s.len > 0) {
        static const char units[4] = {'s', 'm', 'h', 'd'};
        static const uint64_t secs[4] = {1, 60, 3600, 86400};
        const char *u = memchr(units, s.p[s.len - 1], sizeof units);

        if (u != NULL) {
            mult = secs[u - units];
            digits.len--;
        }
    }
    duration_text(lo, sizeof lo, min);
    duration_text(hi, sizeof hi, max);
    if (!is_digits(digits))
        return conf_why(w,
                        "expected a duration from %s to %s (digits with one optional unit "
                        "s, m, h or d, as in 30s, 5m, 2h), found '%s'",
                        lo, hi, conf_quote(q, sizeof q, s));
    if (num_parse_u64(digits, 0, UINT64_MAX / mult, &v) == -1 || v * mult < min || v * mult > max)
        return conf_why(w, "duration '%s' is out of range (from %s to %s)",
                        conf_quote(q, sizeof q, s), lo, hi);
    *out = (unsigned)(v * mult);
    return 0;
}

/* rate = "off" / 1*DIGIT "/" duration   (as in 60/1m: sixty a minute) */
int
conf_value_rate(struct slice s, unsigned max_n, struct conf_rate *out, struct conf_why *w)
{
    char q[CONF_QUOTE_CAP];
    const char *slash = memchr(s.p, '/', s.len);
    struct conf_why inner;
    uint64_t n;

    if (slice_eq_ci(s, "off")) {
        out->n = 0;
        out->period = 0;
        return 0;
    }
    if (slash == NULL)
        return conf_why(w,
                        "expected a rate such as 60/1m (a count, '/', a duration) or off, "
                        "found '%s'",
                        conf_quote(q, sizeof q, s));
    if (num_parse_u64(slice_make(s.p, (size_t)(slash - s.p)), 1, max_n, &n) == -1)
        return conf_why(w, "expected a count from 1 to %u before '/' in rate '%s'", max_n,
                        conf_quote(q, sizeof q, s));
    if (conf_value_duration(slice_make(slash + 1, s.len - (size_t)(slash - s.p) - 1), 1, 86400,
                            &out->period, &inner) == -1)
        return conf_why(w, "%s after '/' in rate '%s'", inner.text, conf_quote(q, sizeof q, s));
    out->n = (unsigned)n;
    return 0;
}

/* ---- Addresses and networks ---- */

/* inet_pton of a slice; false when it is not an address of family. */
static bool
addr_pton(int family, struct slice s, void *dst)
{
    char text[INET6_ADDRSTRLEN + 1];

    if (s.len >= sizeof text)
        return false;
    memcpy(text, s.p, s.len);
    text[s.len] = '\0';
    return inet_pton(family, text, dst) == 1;
}

/* port = 1*5DIGIT, 1..65535 */
static int
addr_port(struct slice s, unsigned *port)
{
    uint64_t v;

    if (num_parse_u64(s, 1, 65535, &v) == -1)
        return -1;
    *port = (unsigned)v;
    return 0;
}

/* listen-address = IPv4address ":" port / "[" IPv6address "]" ":" port */
int
conf_value_addr(struct slice s, struct conf_addr *out, struct conf_why *w)
{
    char q[CONF_QUOTE_CAP], host[INET6_ADDRSTRLEN];
    struct in_addr a4;
    struct in6_addr a6;
    struct slice port;
    const char *colon;
    unsigned num;
    int family;

    conf_quote(q, sizeof q, s);
    if (s.len > 0 && s.p[0] == '[') {
        const char *close = memchr(s.p, ']', s.len);

        if (close == NULL)
            return conf_why(w, "expected ']' after the IPv6 address in '%s'", q);
        if (!addr_pton(AF_INET6, slice_make(s.p + 1, (size_t)(close - s.p - 1)), &a6))
            return conf_why(w, "expected an IPv6 address inside [ ] in '%s'", q);
        family = AF_INET6;
        colon = close + 1;
        if (colon == s.p + s.len || *colon != ':')
            return conf_why(w, "expected a port after ':' in '%s'", q);
    } else {
        colon = memchr(s.p, ':', s.len);
        if (colon == NULL)
            return conf_why(w, "expected a port after ':' in '%s'", q);
        if (memchr(colon + 1, ':', (size_t)(s.p + s.len - colon - 1)) != NULL)
            return conf_why(w, "an IPv6 address needs brackets, as in [::1]:25: '%s'", q);
        if (!addr_pton(AF_INET, slice_make(s.p, (size_t)(colon - s.p)), &a4))
            return conf_why(w,
                            "expected an IPv4 address or [IPv6 address] before ':' in '%s' "
                            "(names are not looked up)",
                            q);
        family = AF_INET;
    }
    port = slice_make(colon + 1, (size_t)(s.p + s.len - colon - 1));
    if (port.len == 0)
        return conf_why(w, "expected a port after ':' in '%s'", q);
    if (addr_port(port, &num) == -1)
        return conf_why(w, "expected a port from 1 to 65535 after ':' in '%s'", q);

    memset(&out->sa, 0, sizeof out->sa);
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&out->sa;

        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)num);
        sin->sin_addr = a4;
        out->sa_len = sizeof *sin;
        (void)inet_ntop(AF_INET, &a4, host, sizeof host);
        (void)str_fmt(out->text, sizeof out->text, "%s:%u", host, num);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->sa;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)num);
        sin6->sin6_addr = a6;
        out->sa_len = sizeof *sin6;
        (void)inet_ntop(AF_INET6, &a6, host, sizeof host);
        (void)str_fmt(out->text, sizeof out->text, "[%s]:%u", host, num);
    }
    return 0;
}

/* The prefix bits of the first prefix bits; the rest cleared. */
static void
cidr_mask(unsigned char *addr, size_t len, unsigned prefix)
{
    for (size_t i = 0; i < len; i++) {
        unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * (unsigned)i : 0;

        addr[i] &= (unsigned char)(0xff00u >> keep);
    }
}

/* network = ( IPv4address [ "/" 0..32 ] ) / ( IPv6address [ "/" 0..128 ] ) */
int
conf_value_cidr(struct slice s, struct conf_cidr *out, struct conf_why *w)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char q[CONF_QUOTE_CAP], net[INET6_ADDRSTRLEN];
    const char *slash = memchr(s.p, '/', s.len);
    struct slice host = slice_make(s.p, slash ? (size_t)(slash - s.p) : s.len);
    unsigned char masked[16];
    size_t len;
    uint64_t prefix;

    conf_quote(q, sizeof q, s);
    memset(out, 0, sizeof *out);
    if (addr_pton(AF_INET, host, out->addr)) {
        out->family = AF_INET;
        len = 4;
    } else if (addr_pton(AF_INET6, host, out->addr)) {
        out->family = AF_INET6;
        len = 16;
    } else {
        return conf_why(w,
                        "expected an IPv4 or IPv6 network such as 10.0.0.0/8 or "
                        "2001:db8::/32, found '%s'",
                        q);
    }
    prefix = 8 * len;
    if (slash != NULL && num_parse_u64(slice_make(slash + 1, (size_t)(s.p + s.len - slash - 1)), 0,
                                       8 * len, &prefix) == -1)
        return conf_why(w, "expected a prefix length from 0 to %zu after '/' in '%s'", 8 * len, q);
    out->prefix = (unsigned)prefix;

    /* Bits past the prefix are usually a typo: 10.0.0.1/8 or 192.168.1.0/16. */
    memcpy(masked, out->addr, len);
    cidr_mask(masked, len, out->prefix);
    if (memcmp(masked, out->addr, len) != 0) {
        (void)inet_ntop(out->family, masked, net, sizeof net);
        return conf_why(w, "'%s' has bits set past its /%u prefix (did you mean %s/%u?)", q,
                        out->prefix, net, out->prefix);
    }
    /* ::ffff:a.b.c.d/n is the IPv4 network a.b.c.d/(n-96) (RFC 4291 2.5.5.2). */
    if (out->family == AF_INET6 && out->prefix >= 96 && memcmp(out->addr, mapped, 12) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = AF_INET;
        out->prefix -= 96;
    }
    return 0;
}

/* ---- Relay URLs ---- */

/* The form every relay URL message points to. */
#define ROUTE_FORM "expected smtp://HOST[:PORT] (or smtp://[HOST]:PORT for no MX lookup)"

/* host = Domain / IPv4address; the text is stored canonical and lower case. */
static int
route_host(struct slice s, struct slice host, bool bracketed, struct conf_route *out,
           struct conf_why *w)
{
    char q[CONF_QUOTE_CAP];
    struct conf_why dw;
    unsigned char a[16];

    conf_quote(q, sizeof q, s);
    if (host.len == 0)
        return conf_why(w, "no host in '%s' (" ROUTE_FORM ")", q);
    if (addr_pton(AF_INET, host, a)) {
        out->family = AF_INET;
    } else if (bracketed && addr_pton(AF_INET6, host, a)) {
        out->family = AF_INET6;
    } else {
        out->family = AF_UNSPEC;
        if (conf_value_domain(host, out->host, &dw) == -1)
            return conf_why(w, "bad host in '%s': %s", q, dw.text);
        str_lower(out->host, strlen(out->host));
        return 0;
    }
    (void)inet_ntop(out->family, a, out->host, sizeof out->host);
    return 0;
}

/*
 * The scheme: "smtp://" or "smtps://" (any case, RFC 3986 3.1). Returns the
 * length taken, or -1 with a message that fits what was written instead: no
 * scheme at all (a bare host, "mail.isp.example:587"), or another one.
 */
static int
route_scheme(struct slice s, struct conf_route *out, struct conf_why *w)
{
    char q[CONF_QUOTE_CAP], qs[CONF_QUOTE_CAP];
    const char *sep = NULL;

    if (slice_starts_ci(s, "smtp://"))
        return 7;
    if (slice_starts_ci(s, "smtps://")) {
        out->smtps = true;
        out->port = 465; /* RFC 8314 7.3 */
        return 8;
    }
    /* "user:pw@host": a '@' may follow a password, so nothing written is shown. */
    if (memchr(s.p, '@', s.len) != NULL)
        return conf_why(w, "put credentials in relay-auth FILE, not in the URL (" ROUTE_FORM ")");
    for (size_t i = 0; i + 3 <= s.len && sep == NULL; i++) {
        if (memcmp(s.p + i, "://", 3) == 0)
            sep = s.p + i;
    }
    if (sep == NULL)
        return conf_why(w, ROUTE_FORM ", found '%s'", conf_quote(q, sizeof q, s));
    conf_quote(qs, sizeof qs, slice_make(s.p, (size_t)(sep - s.p) + 3));
    conf_quote(q, sizeof q, s);
    if (slice_starts_ci(s, "http://") || slice_starts_ci(s, "https://"))
        return conf_why(w,
                        "'%s' is a web address: a relay URL starts with smtp:// (or smtps:// for "
                        "TLS from the first byte), as in smtp://mail.example.net:25",
                        q);
    return conf_why(w, "unknown scheme '%s' in '%s' (expected smtp:// or smtps://)", qs, q);
}

/*
 * route  = ( "smtp://" / "smtps://" ) hostport
 * hostport = ( host / "[" ( IPv6address / IPv4address / Domain ) "]" ) [ ":" port ]
 * The scheme is case-insensitive (RFC 3986 3.1). Brackets mean "no MX
 * lookup", as in Postfix; an IPv6 address is only accepted in brackets.
 * smtps is SMTP inside TLS from the first byte (RFC 8314 3.3), port 465 by
 * default. A URL has no userinfo (the login goes in relay-auth FILE, so that
 * no password sits in the main file), path, query or fragment.
 */
int
conf_value_route(struct slice s, struct conf_route *out, struct conf_why *w)
{
    char q[CONF_QUOTE_CAP], qr[CONF_QUOTE_CAP];
    struct cursor c;
    struct slice host;
    const char *end;
    int skip;

    memset(out, 0, sizeof *out);
    out->port = 25;
    skip = route_scheme(s, out, w);
    if (skip == -1)
        return -1;
    cursor_init(&c, slice_make(s.p + skip, s.len - (size_t)skip));
    conf_quote(q, sizeof q, s);
    /* Userinfo (RFC 3986 3.2.1), "smtp://user:pw@host": its own message, without the password. */
    end = c.p;
    while (end < c.end && *end != '/' && *end != '?' && *end != '#')
        end++;
    if (memchr(c.p, '@', (size_t)(end - c.p)) != NULL)
        return conf_why(w, "put credentials in relay-auth FILE, not in the URL (" ROUTE_FORM ")");
    if (cursor_take(&c, '[')) {
        end = memchr(c.p, ']', cursor_left(&c));
        if (end == NULL)
            return conf_why(w, "missing ']' in '%s' (" ROUTE_FORM ")", q);
        out->bracketed = true;
        host = slice_make(c.p, (size_t)(end - c.p));
        c.p = end + 1;
    } else {
        end = c.p;
        while (end < c.end && *end != ':' && *end != '/' && *end != '?' && *end != '#')
            end++;
        host = slice_make(c.p, (size_t)(end - c.p));
        c.p = end;
        if (cursor_peek(&c) == ':' && memchr(c.p + 1, ':', cursor_left(&c) - 1) != NULL)
            return conf_why(w,
                            "an IPv6 address needs brackets, as in smtp://[2001:db8::1]:25 "
                            "(found '%s')",
                            q);
    }
    if (route_host(s, host, out->bracketed, out, w) == -1)
        return -1;
    if (cursor_take(&c, ':')) {
        const char *p = c.p;

        while (c.p < c.end && *c.p != '/' && *c.p != '?' && *c.p != '#')
            c.p++;
        if (addr_port(slice_make(p, (size_t)(c.p - p)), &out->port) == -1)
            return conf_why(w, "expected a port from 1 to 65535 after ':' in '%s', found '%s'", q,
                            conf_quote(qr, sizeof qr, slice_make(p, (size_t)(c.p - p))));
    }
    if (!cursor_at_end(&c)) {
        conf_quote(qr, sizeof qr, slice_make(c.p, cursor_left(&c)));
        if (c.p[0] == '/' || c.p[0] == '?' || c.p[0] == '#')
            return conf_why(w,
                            "a relay URL has no path or query: '%s' follows the host and port "
                            "in '%s'",
                            qr, q);
        return conf_why(w, "unexpected '%s' after the host in '%s' (" ROUTE_FORM ")", qr, q);
    }
    return 0;
}

/* ---- Names and paths ---- */

/* user = 1*63( %x61-7A / DIGIT / "_" / "-" / "." ) */
int
conf_value_user(struct slice s, char *out, struct conf_why *w)
{
    char q[CONF_QUOTE_CAP];
    bool ok = s.len >= 1 && s.len <= 63;

    for (size_t i = 0; ok && i < s.len; i++) {
        char ch = s.p[i];

        ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
             ch == '.';
    }
    if (!ok)
        return conf_why(w,
                        "expected a user name of 1 to 63 characters from a-z, 0-9, '_', '-' "
                        "and '.', found '%s'",
                        conf_quote(q, sizeof q, s));
    (void)str_copy(out, 64, s.p, s.len);
    return 0;
}

int
conf_value_path(struct slice s, const char *dir, char *out, struct conf_why *w)
{
    char q[CONF_QUOTE_CAP];
    int r;

    if (s.len == 0)
        return conf_why(w, "expected a path, found an empty string");
    if (s.p[0] == '/') {
        r = str_copy(out, CAP_PATH, s.p, s.len);
    } else {
        /* "./x" is "x": keep the result readable. */
        while (s.len > 2 && s.p[0] == '.' && s.p[1] == '/') {
            s.p += 2;
            s.len -= 2;
        }
        r = str_fmt(out, CAP_PATH, "%s%s%.*s", dir, strcmp(dir, "/") == 0 ? "" : "/", (int)s.len,
                    s.p);
    }
    if (r == -1)
        return conf_why(w, "path too long (at most %d octets): '%s'", CAP_PATH - 1,
                        conf_quote(q, sizeof q, s));
    /* "/var/spool/gate26/" is "/var/spool/gate26": one spelling per directory. */
    for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--)
        out[n - 1] = '\0';
    return 0;
}
