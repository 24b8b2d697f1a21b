/* SPDX-License-Identifier: MIT */
/*
 * gate26 check's targets (target.h): HOST[:PORT] in its forms, and the URLs
 * smtp://HOST[:PORT] and smtps://HOST[:PORT] that say how to speak to the
 * port (RFC 8314 3.3: implicit TLS; RFC 3207: STARTTLS). The URL grammar is
 * RFC 3986's scheme "://" authority without userinfo, with host = reg-name
 * (a DNS name here) / IPv4address / "[" IPv6address "]", and nothing after
 * the port.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "check/target.h"
#include "lib/num.h"
#include "lib/str.h"

/* A port number 1..65535 from text; -1 when it is not one. */
static int
parse_port(const char *s, size_t len, unsigned *out)
{
    uint64_t v;

    if (num_parse_u64(slice_make(s, len), 1, 65535, &v) == -1)
        return -1;
    *out = (unsigned)v;
    return 0;
}

bool
check_is_host_name(const char *s)
{
    size_t len = strlen(s), label = 0;
    bool all_digits = true;

    if (len == 0 || len > 253 || s[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
        if (c < '0' || c > '9')
            all_digits = false;
        if (++label > 63)
            return false;
    }
    /* 999.1.2.3 is neither an address nor a name. */
    return !all_digits;
}

/* "[" IPv6address "]" [":" port] at s (the whole rest of arg). */
static int
parse_bracketed(const char *arg, const char *s, struct check_target *out, char *why, size_t whycap)
{
    unsigned char bin[16];
    const char *close = strchr(s, ']');
    char host[64];

    if (close == NULL || str_copy(host, sizeof(host), s + 1, (size_t)(close - s - 1)) == -1 ||
        inet_pton(AF_INET6, host, bin) != 1) {
        (void)str_fmt(why, whycap, "'%s' is not an IPv6 address in brackets", arg);
        return -1;
    }
    if (close[1] != '\0' &&
        (close[1] != ':' || parse_port(close + 2, strlen(close + 2), &out->port) == -1)) {
        (void)str_fmt(why, whycap, "'%s': expected [IPV6] or [IPV6]:PORT (1..65535)", arg);
        return -1;
    }
    (void)inet_ntop(AF_INET6, bin, out->addr, sizeof(out->addr));
    (void)str_copyz(out->name, sizeof(out->name), host); /* at most 63 octets */
    return 0;
}

/* HOST or HOST:PORT with a name or an IPv4 address at s (the whole rest of arg). */
static int
parse_host_port(const char *arg, const char *s, struct check_target *out, char *why, size_t whycap)
{
    unsigned char bin[4];
    const char *colon = strchr(s, ':');
    char host[300];
    size_t len;

    if (str_copy(host, sizeof(host), s, colon != NULL ? (size_t)(colon - s) : strlen(s)) == -1) {
        (void)str_fmt(why, whycap, "'%s': host name too long", arg);
        return -1;
    }
    if (colon != NULL && parse_port(colon + 1, strlen(colon + 1), &out->port) == -1) {
        (void)str_fmt(why, whycap, "'%s': expected HOST:PORT with a port 1..65535", arg);
        return -1;
    }
    if (inet_pton(AF_INET, host, bin) == 1) {
        (void)inet_ntop(AF_INET, bin, out->addr, sizeof(out->addr));
        (void)str_copyz(out->name, sizeof(out->name), host);
        return 0;
    }
    len = strlen(host);
    if (len > 1 && host[len - 1] == '.')
        host[len - 1] = '\0'; /* the root's dot */
    if (!check_is_host_name(host)) {
        (void)str_fmt(why, whycap, "'%s' is neither a host name nor an address", arg);
        return -1;
    }
    (void)str_copyz(out->name, sizeof(out->name), host); /* at most 253 octets */
    return 0;
}

/* smtp:// or smtps:// and what follows: the authority, nothing else. */
static int
parse_url(const char *arg, const char *rest, struct check_target *out, char *why, size_t whycap)
{
    static const char not_url[] = "'%s': expected %s://HOST[:PORT] (HOST a name, an IPv4 "
                                  "address or [IPV6]; no user, path or query)";
    const char *scheme = out->start == CHECK_START_IMPLICIT ? "smtps" : "smtp";
    const char *colon;

    /* RFC 3986 3.2: userinfo "@", path "/", query "?", fragment "#" end the authority. */
    if (rest[0] == '\0' || strpbrk(rest, "@/?#") != NULL) {
        (void)str_fmt(why, whycap, not_url, arg, scheme);
        return -1;
    }
    if (rest[0] == '[') {
        if (parse_bracketed(arg, rest, out, why, whycap) == -1)
            return -1;
    } else {
        colon = strchr(rest, ':');
        if (colon == rest || (colon != NULL && strchr(colon + 1, ':') != NULL)) {
            /* No host, or a bare IPv6 address (RFC 3986 3.2.2: only in brackets). */
            (void)str_fmt(why, whycap, not_url, arg, scheme);
            return -1;
        }
        if (parse_host_port(arg, rest, out, why, whycap) == -1)
            return -1;
    }
    if (out->port == 0)
        out->port = out->start == CHECK_START_IMPLICIT ? 465 : 25;
    return 0;
}

int
check_target_parse(const char *arg, struct check_target *out, char *why, size_t whycap)
{
    unsigned char bin[16];
    const char *colon = strchr(arg, ':');
    const char *sep = strstr(arg, "://");

    memset(out, 0, sizeof(*out));
    out->start = CHECK_START_BY_PORT;
    if (sep != NULL) {
        size_t slen = (size_t)(sep - arg);

        if (slen == 4 && strncasecmp(arg, "smtp", 4) == 0)
            out->start = CHECK_START_PLAIN;
        else if (slen == 5 && strncasecmp(arg, "smtps", 5) == 0)
            out->start = CHECK_START_IMPLICIT;
        else {
            (void)str_fmt(why, whycap,
                          "'%s': the URLs here are smtp://HOST[:PORT] and "
                          "smtps://HOST[:PORT]",
                          arg);
            return -1;
        }
        return parse_url(arg, sep + 3, out, why, whycap);
    }
    if (arg[0] == '[')
        return parse_bracketed(arg, arg, out, why, whycap);
    if (colon != NULL && strchr(colon + 1, ':') != NULL) {
        /* Two colons or more: an IPv6 literal, which takes its port only in brackets. */
        if (inet_pton(AF_INET6, arg, bin) != 1) {
            (void)str_fmt(why, whycap, "'%s' is not an IPv6 address (write [IPV6]:PORT for a port)",
                          arg);
            return -1;
        }
        (void)inet_ntop(AF_INET6, bin, out->addr, sizeof(out->addr));
        (void)str_copyz(out->name, sizeof(out->name), arg); /* inet_pton took it: short */
        return 0;
    }
    return parse_host_port(arg, arg, out, why, whycap);
}
