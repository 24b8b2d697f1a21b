/* SPDX-License-Identifier: MIT */
/*
 * The console's pure HTTP helpers (web.h): escaping, routes, cookies, the
 * CSRF comparison and the origin check.
 */
#include <string.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>

#include "console/web.h"

void
web_escape(struct evbuffer *out, const char *s, size_t len)
{
    size_t run = 0; /* octets before i that need no escaping */

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *ent = NULL;

        switch (ch) {
        case '&':
            ent = "&amp;";
            break;
        case '<':
            ent = "&lt;";
            break;
        case '>':
            ent = "&gt;";
            break;
        case '"':
            ent = "&quot;";
            break;
        case '\'':
            ent = "&#39;";
            break;
        default:
            if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7f)
                ent = "\xef\xbf\xbd"; /* U+FFFD */
            break;
        }
        if (ent == NULL)
            continue;
        if (i > run)
            evbuffer_add(out, s + run, i - run);
        evbuffer_add(out, ent, strlen(ent));
        run = i + 1;
    }
    if (len > run)
        evbuffer_add(out, s + run, len - run);
}

void
web_escapez(struct evbuffer *out, const char *s)
{
    if (s != NULL)
        web_escape(out, s, strlen(s));
}

static const struct web_route routes[] = {
    {false, "/", WEB_OVERVIEW, WEB_ADMIN},
    {false, "/login", WEB_LOGIN_FORM, WEB_PUBLIC},
    {true, "/login", WEB_LOGIN, WEB_PUBLIC},
    {true, "/login/code", WEB_LOGIN_CODE, WEB_PENDING},
    {true, "/logout", WEB_LOGOUT, WEB_USER},
    {false, "/account", WEB_ACCOUNT, WEB_USER},
    {true, "/account/totp/enrol", WEB_TOTP_ENROL, WEB_USER},
    {true, "/account/totp/confirm", WEB_TOTP_CONFIRM, WEB_USER},
    {true, "/account/totp/remove", WEB_TOTP_REMOVE, WEB_USER},
    {true, "/account/app-password/create", WEB_APP_CREATE, WEB_USER},
    {true, "/account/app-password/revoke", WEB_APP_REVOKE, WEB_USER},
    {false, "/tracking", WEB_TRACKING, WEB_ADMIN},
    {false, "/tracking/message", WEB_TRACKING_MESSAGE, WEB_ADMIN},
    {false, "/queue", WEB_QUEUE, WEB_ADMIN},
    {false, "/queue/message", WEB_QUEUE_MESSAGE, WEB_ADMIN},
    {true, "/queue/action", WEB_QUEUE_ACTION, WEB_ADMIN},
    {false, "/quarantine", WEB_QUARANTINE, WEB_ADMIN},
    {false, "/quarantine/message", WEB_QUARANTINE_MESSAGE, WEB_ADMIN},
    {true, "/quarantine/action", WEB_QUARANTINE_ACTION, WEB_ADMIN},
    {false, "/alerts", WEB_ALERTS, WEB_ADMIN},
    {false, "/scanners", WEB_SCANNERS, WEB_ADMIN},
    {false, "/doors", WEB_DOORS, WEB_ADMIN},
    {true, "/doors/check", WEB_DOORS_CHECK, WEB_ADMIN},
    {false, "/style.css", WEB_STYLE, WEB_PUBLIC},
};

const struct web_route *
web_route_find(bool post, const char *path, size_t len, bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct web_route *r = &routes[i];

        if (strlen(r->path) != len || memcmp(r->path, path, len) != 0)
            continue;
        *path_known = true;
        if (r->post == post)
            return r;
    }
    return NULL;
}

int
web_cookie_find(const char *header, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *p = header;

    if (header == NULL || cap == 0)
        return -1;
    while (*p != '\0') {
        const char *end = strchr(p, ';'), *eq;
        size_t plen;

        while (*p == ' ' || *p == '\t')
            p++;
        plen = end != NULL ? (size_t)(end - p) : strlen(p);
        while (plen > 0 && (p[plen - 1] == ' ' || p[plen - 1] == '\t'))
            plen--;
        eq = memchr(p, '=', plen);
        if (eq != NULL && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
            size_t vlen = plen - nlen - 1;

            if (vlen == 0 || vlen >= cap)
                return -1;
            for (size_t i = 0; i < vlen; i++) {
                if (eq[1 + i] < 0x21 || eq[1 + i] > 0x7e)
                    return -1;
            }
            memcpy(out, eq + 1, vlen);
            out[vlen] = '\0';
            return 0;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return -1;
}

bool
web_csrf_ok(const char *expected, const char *given)
{
    if (expected == NULL || given == NULL || strlen(expected) != WEB_TOKEN_HEX ||
        strlen(given) != WEB_TOKEN_HEX)
        return false;
    return CRYPTO_memcmp(expected, given, WEB_TOKEN_HEX) == 0;
}

bool
web_same_origin(bool https, const char *host, const char *origin, const char *referer)
{
    const char *scheme = https ? "https://" : "http://";
    size_t slen = strlen(scheme), hlen;

    if (host == NULL || host[0] == '\0')
        return false;
    hlen = strlen(host);
    if (origin != NULL)
        return strlen(origin) == slen + hlen && strncmp(origin, scheme, slen) == 0 &&
               strcmp(origin + slen, host) == 0;
    if (referer == NULL)
        return false;
    return strncmp(referer, scheme, slen) == 0 && strncmp(referer + slen, host, hlen) == 0 &&
           referer[slen + hlen] == '/';
}

void
web_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}
