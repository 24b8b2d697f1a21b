/* SPDX-License-Identifier: MIT */
/*
 * The service extensions a server lists in its EHLO reply (RFC 5321
 * 4.1.1.1), those the client uses or will use: PIPELINING (RFC 2920), SIZE
 * with its limit (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), DSN
 * (RFC 3461), ENHANCEDSTATUSCODES (RFC 2034), STARTTLS (RFC 3207) and AUTH
 * with the mechanisms the client knows, PLAIN (RFC 4616) and LOGIN (RFC 4954). A pure
 * function of its input; src/deliver's, and gate26 check's probe reads EHLO
 * replies with it too.
 */
#ifndef GATE26_DELIVER_EHLO_H
#define GATE26_DELIVER_EHLO_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/slice.h"

struct deliver_caps {
    bool pipelining;
    bool size;         /* SIZE offered, so MAIL may declare SIZE= */
    uint64_t size_max; /* the server's limit; 0: none given ("SIZE" or "SIZE 0") */
    bool eightbitmime;
    bool smtputf8;
    bool dsn;
    bool enhanced;
    bool starttls;
    bool auth;       /* AUTH offered, with any mechanism (RFC 4954 3) */
    bool auth_plain; /* ... and PLAIN among them */
    bool auth_login; /* ... and LOGIN among them */
};

enum deliver_ehlo_rc {
    DELIVER_EHLO_KNOWN,   /* an extension above: caps updated */
    DELIVER_EHLO_UNKNOWN, /* a well-formed line of another extension: ignored */
    DELIVER_EHLO_BAD,     /* not an ehlo-line, a SIZE without a number or an AUTH without a
                             mechanism: ignored */
};

/*
 * Reads one ehlo-line, the text of a line after the first of a 250 reply to
 * EHLO (the text after "250-" or "250 "), into caps. Lines that break the
 * grammar change nothing: the server is then used without that extension.
 */
enum deliver_ehlo_rc deliver_ehlo_line(struct deliver_caps *caps, struct slice text);

#endif
