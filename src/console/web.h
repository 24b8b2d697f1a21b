/* SPDX-License-Identifier: MIT */
/*
 * Private to console/: the pure parts of the console's HTTP handling, kept
 * apart so that unit tests and fuzz targets link them alone: HTML escaping
 * (the one function every value on a page goes through), the route table,
 * the Cookie header, the CSRF token's comparison and the same-origin check.
 * No I/O, no event loop.
 */
#ifndef GATE26_CONSOLE_WEB_H
#define GATE26_CONSOLE_WEB_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;

/*
 * Appends s (len octets) to out with & < > " ' written as entities, so
 * that it is text in an element or inside a quoted attribute. Octets that
 * are control characters other than TAB, LF and CR become U+FFFD; invalid
 * UTF-8 is kept as it is (the browser shows U+FFFD for it).
 */
void web_escape(struct evbuffer *out, const char *s, size_t len);
/* web_escape() of a NUL-terminated string (NULL: nothing). */
void web_escapez(struct evbuffer *out, const char *s);

/* The pages and actions of the console: a fixed table, nothing else is served. */
enum web_page {
    WEB_NONE = 0,           /* no route: 404 */
    WEB_OVERVIEW,           /* GET / */
    WEB_LOGIN_FORM,         /* GET /login */
    WEB_LOGIN,              /* POST /login: user and password */
    WEB_LOGIN_CODE,         /* POST /login/code: the TOTP code (or a recovery code) */
    WEB_LOGOUT,             /* POST /logout */
    WEB_ACCOUNT,            /* GET /account */
    WEB_TOTP_ENROL,         /* POST /account/totp/enrol */
    WEB_TOTP_CONFIRM,       /* POST /account/totp/confirm */
    WEB_TOTP_REMOVE,        /* POST /account/totp/remove */
    WEB_APP_CREATE,         /* POST /account/app-password/create */
    WEB_APP_REVOKE,         /* POST /account/app-password/revoke */
    WEB_TRACKING,           /* GET /tracking: the search form and its results */
    WEB_TRACKING_MESSAGE,   /* GET /tracking/message?id=QID: one message's history */
    WEB_QUEUE,              /* GET /queue: the queue, with filters */
    WEB_QUEUE_MESSAGE,      /* GET /queue/message?id=QID: a queued message's envelope, headers */
    WEB_QUEUE_ACTION,       /* POST /queue/action: hold, release, delete, bounce, flush */
    WEB_QUARANTINE,         /* GET /quarantine: the quarantined messages */
    WEB_QUARANTINE_MESSAGE, /* GET /quarantine/message?id=QID: headers and a text preview */
    WEB_QUARANTINE_ACTION,  /* POST /quarantine/action: release, delete */
    WEB_ALERTS,             /* GET /alerts: rules, firing now, history */
    WEB_SCANNERS,           /* GET /scanners: top sources, Mirai counts */
    WEB_DOORS,              /* GET /doors: settings, the check's verdict, certificates */
    WEB_DOORS_CHECK,        /* POST /doors/check: runs gate26 check on the doors */
    WEB_STYLE,              /* GET /style.css */
};

/* What a request needs before its handler runs. */
enum web_access {
    WEB_PUBLIC,  /* anyone (the login form, the style sheet) */
    WEB_PENDING, /* a session waiting for its second factor */
    WEB_USER,    /* any logged-in user */
    WEB_ADMIN,   /* an admin (console { admins }): others get 403 */
};

struct web_route {
    bool post; /* POST, else GET (HEAD is answered as GET by evhttp) */
    const char *path;
    enum web_page page;
    enum web_access access;
};

/*
 * Finds the route of a method (post) and a path (len octets, the request
 * target's path as sent, before any '?'; never decoded): exact match only,
 * so "/account/", "/./account", "//account" and "/%61ccount" are no route.
 * *path_known is set when the path exists for either method (so a NULL
 * with it set is 405, not 404). Returns the route, or NULL.
 */
const struct web_route *web_route_find(bool post, const char *path, size_t len, bool *path_known);

/*
 * Finds cookie name in a Cookie header (RFC 6265 5.4: "a=b; c=d"; blanks
 * around pairs ignored) and copies its value into out (capacity cap, with a
 * NUL). The first of several with the name wins. Returns 0, or -1 when it
 * is absent, or its value is empty, longer than cap - 1 or holds an octet
 * outside printable ASCII.
 */
int web_cookie_find(const char *header, const char *name, char *out, size_t cap);

/* The hex text of a session id and of a CSRF token: 32 random octets. */
#define WEB_TOKEN_HEX 64

/*
 * True when given (NULL: no field) is the CSRF token expected (both
 * WEB_TOKEN_HEX hex digits); constant-time in the contents.
 */
bool web_csrf_ok(const char *expected, const char *given);

/*
 * True when a POST comes from the console's own pages: origin (the Origin
 * header, NULL when absent) is exactly SCHEME://HOST where host is the
 * request's Host header; without an Origin, referer (the Referer header)
 * starts with SCHEME://HOST/. Neither, "null" or another origin: false.
 */
bool web_same_origin(bool https, const char *host, const char *origin, const char *referer);

/* Writes the hex of n octets of in into out (capacity 2n + 1). */
void web_hex(const unsigned char *in, size_t n, char *out);

#endif
