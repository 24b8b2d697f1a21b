/* SPDX-License-Identifier: MIT */
/*
 * The text the resolver accepts: host and domain names by the grammar of
 * RFC 5321 4.1.2 (sub-domain, the LDH rule of RFC 1123 2.1) within the
 * lengths of RFC 1035 2.3.4, and the "ADDR:PORT" form of a DNS server. Pure
 * functions of their input: the unit tests run them alone. A name never
 * reads as an IPv4 address (its last label is not all digits); dns_addrs
 * answers address literals itself before it checks a name.
 */
#include <arpa/inet.h>
#include <string.h>

#include "dns/dns_impl.h"
#include "lib/ascii.h"
#include "lib/num.h"
#include "lib/str.h"

static bool
is_let_dig(int ch)
{
    return is_alpha(ch) || is_digit(ch);
}

/*
 * sub-domain = Let-dig [Ldh-str]
 * Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig             RFC 5321 4.1.2
 * Returns the label's length (1..63), or 0 when p does not start one.
 */
static size_t
name_label(const char *p, const char *end)
{
    size_t n = 0;

    while (p + n < end && (is_let_dig((unsigned char)p[n]) || p[n] == '-'))
        n++;
    if (n == 0 || n > DNS_LABEL_MAX || p[0] == '-' || p[n - 1] == '-')
        return 0;
    return n;
}

static bool
is_all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)p[i]))
            return false;
    }
    return true;
}

/* Domain = sub-domain *("." sub-domain), plus the root's "." at the end. */
int
dns_name_check(const char *name, size_t *len)
{
    size_t total = strnlen(name, DNS_NAME_MAX + 2);
    const char *p = name;
    const char *end;

    /* The limit first: a longer name is refused before it is scanned. */
    if (total > DNS_NAME_MAX + 1)
        return -1;
    if (total > 0 && name[total - 1] == '.')
        total--;
    if (total == 0 || total > DNS_NAME_MAX)
        return -1;
    end = name + total;
    for (;;) {
        size_t n = name_label(p, end);

        if (n == 0)
            return -1;
        if (p + n == end) {
            /* RFC 3696 2: no top-level domain is all-numeric, so that no
             * name reads as an IPv4 address ("192.0.2.1", "127.1"). */
            if (is_all_digits(p, n))
                return -1;
            break;
        }
        p += n;
        if (*p != '.')
            return -1;
        p++;
    }
    *len = total;
    return 0;
}

/* The port after "ADDR:", 1..65535, digits only. */
static int
server_port(const char *text, uint64_t *port)
{
    return num_parse_u64(slice_make(text, strlen(text)), 1, 65535, port);
}

int
dns_server_parse(const char *text, char *canon, size_t cap, char *err, size_t errcap)
{
    char addr[INET6_ADDRSTRLEN];
    unsigned char bin[sizeof(struct in6_addr)];
    const char *colon;
    uint64_t port;
    bool v6 = text[0] == '[';

    if (strchr(text, ',') != NULL) {
        (void)str_fmt(err, errcap, "dns server: expected one server, not a list");
        return -1;
    }
    if (v6) {
        const char *close = strchr(text, ']');

        if (close == NULL || close[1] != ':' ||
            str_copy(addr, sizeof(addr), text + 1, (size_t)(close - text - 1)) == -1 ||
            inet_pton(AF_INET6, addr, bin) != 1) {
            (void)str_fmt(err, errcap, "dns server: expected \"[IPv6]:PORT\", like \"[::1]:53\"");
            return -1;
        }
        colon = close + 1;
    } else {
        colon = strchr(text, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL) {
            (void)str_fmt(err, errcap,
                          "dns server: an IPv6 address goes in brackets, like "
                          "\"[::1]:53\"");
            return -1;
        }
        if (colon == NULL || str_copy(addr, sizeof(addr), text, (size_t)(colon - text)) == -1 ||
            inet_pton(AF_INET, addr, bin) != 1) {
            (void)str_fmt(err, errcap,
                          "dns server: expected \"ADDR:PORT\" with an IPv4 address, like "
                          "\"127.0.0.1:53\"");
            return -1;
        }
    }
    if (server_port(colon + 1, &port) == -1) {
        (void)str_fmt(err, errcap, "dns server: expected a port 1..65535 after the last ':'");
        return -1;
    }
    /* inet_ntop gives the canonical text (leading zeros gone, IPv6 compressed). */
    if (inet_ntop(v6 ? AF_INET6 : AF_INET, bin, addr, sizeof(addr)) == NULL ||
        str_fmt(canon, cap, v6 ? "[%s]:%u" : "%s:%u", addr, (unsigned)port) == -1) {
        (void)str_fmt(err, errcap, "dns server: address does not fit");
        return -1;
    }
    return 0;
}

/*
 * A label of a name asked for TXT or A records: any visible ASCII octet
 * but '.' and '\\' (c-ares reads a backslash as an escape). SPF macros put
 * local-parts into names (RFC 7208 7.3: "%{l}"), RFC 8552 underscores.
 */
static bool
is_any_label_octet(int ch)
{
    return ch > 0x20 && ch < 0x7f && ch != '.' && ch != '\\';
}

int
dns_name_check_any(const char *name, bool digits_last, size_t *len)
{
    size_t total = strnlen(name, DNS_NAME_MAX + 2);
    size_t start = 0;

    if (total > DNS_NAME_MAX + 1)
        return -1;
    if (total > 0 && name[total - 1] == '.')
        total--;
    if (total == 0 || total > DNS_NAME_MAX)
        return -1;
    for (size_t i = 0; i <= total; i++) {
        if (i < total && is_any_label_octet((unsigned char)name[i]))
            continue;
        if (i < total && name[i] != '.')
            return -1;
        if (i == start || i - start > DNS_LABEL_MAX)
            return -1;
        if (i == total && !digits_last && is_all_digits(name + start, i - start))
            return -1;
        start = i + 1;
    }
    *len = total;
    return 0;
}
