/* SPDX-License-Identifier: MIT */
/*
 * Addresses by the RFC 5321 4.1.2 grammar, with the UTF-8 of RFC 6531 3.3:
 * Path, Mailbox, Local-part (Dot-string / Quoted-string), Domain and
 * address-literal. One function per rule in addr.c. The grammar is the whole
 * story: nothing outside it is "repaired".
 */
#ifndef GATE26_SMTP_ADDR_H
#define GATE26_SMTP_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/caps.h"
#include "lib/cursor.h"

struct smtp_addr {
    /* "local@domain" as written (quotes kept, source route dropped);
     * "" for the null path; "Postmaster" for RCPT TO:<Postmaster>. */
    char text[CAP_MAILBOX + 1];
    size_t len;              /* strlen(text) */
    size_t local_len;        /* octets of the local part: text[local_len] is '@' */
    bool is_null;            /* <> */
    bool is_postmaster_bare; /* <Postmaster> without a domain */
    bool is_literal;         /* the domain is an address literal [...] */
    bool has_utf8;           /* some octet of the path (a dropped route too) is over 0x7f */
    bool local_quoted;
};

enum smtp_addr_result {
    SMTP_ADDR_OK,
    SMTP_ADDR_SYNTAX,
    SMTP_ADDR_LOCAL_TOO_LONG,
    SMTP_ADDR_DOMAIN_TOO_LONG,
};

/* What a path may be besides a mailbox. */
#define SMTP_PATH_NULL_OK       0x1u /* "<>" (reverse path) */
#define SMTP_PATH_POSTMASTER_OK 0x2u /* "<Postmaster>" (forward path) */

/*
 * Parses Path = "<" [ A-d-l ":" ] Mailbox ">" at c (RFC 5321 4.1.2), or the
 * forms flags allow. The source route is parsed and dropped (RFC 5321 C).
 * On success c is after the '>'. Returns SMTP_ADDR_OK or why it failed;
 * out is zeroed first, so on failure its text is "". The grammar is checked
 * before the lengths: a long address that is also malformed is SYNTAX.
 */
enum smtp_addr_result smtp_addr_parse_path(struct cursor *c, unsigned flags, struct smtp_addr *out);

/* True when s is a Domain (RFC 5321 4.1.2; U-labels allowed when utf8). */
bool smtp_addr_is_domain(const char *p, size_t len, bool utf8);

/* True when s is an address-literal "[...]" (RFC 5321 4.1.3). */
bool smtp_addr_is_literal(const char *p, size_t len);

/* True when s is a Mailbox (RFC 5321 4.1.2 with RFC 6531 3.3), within the
 * lengths of RFC 5321 4.5.3.1 (used for RFC 6533 utf-8-address). */
bool smtp_addr_is_mailbox(const char *p, size_t len);

/* The domain of a parsed mailbox (after '@'), and its length. */
static inline const char *
smtp_addr_domain(const struct smtp_addr *a, size_t *len)
{
    if (a->local_len >= a->len) {
        *len = 0;
        return a->text + a->len;
    }
    *len = a->len - a->local_len - 1;
    return a->text + a->local_len + 1;
}

#endif
