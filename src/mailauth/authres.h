/* SPDX-License-Identifier: MIT */
/*
 * Authentication-Results (RFC 8601): writing ours (2.2), with our hostname
 * as authserv-id, and recognizing a field that claims our authserv-id so
 * the pipeline removes it before adding ours (5). Pure: the caller owns
 * the buffer and decides where the field goes.
 */
#ifndef GATE26_MAILAUTH_AUTHRES_H
#define GATE26_MAILAUTH_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/slice.h"

/* Lines of the field are folded before this many octets where a space allows (RFC 5322 2.1.1). */
#define AUTHRES_LINE 78

/*
 * A field under construction in the caller's buffer. Appending past its
 * capacity sets overflow; authres_finish() then fails, and nothing
 * half-written is handed out.
 */
struct authres {
    char *buf;
    size_t cap;
    size_t len;
    size_t line;  /* octets on the current line */
    size_t count; /* results so far */
    bool overflow;
};

/*
 * Starts "Authentication-Results: AUTHSERV-ID" in buf (capacity cap). The
 * authserv-id (our hostname) is written as a token, or quoted when it is
 * not one.
 */
void authres_init(struct authres *a, char *buf, size_t cap, const char *authserv_id);

/*
 * Starts a resinfo: "; METHOD=RESULT" on a new folded line, with
 * " (REASON)" as a comment when reason is neither NULL nor empty (the
 * comment's parentheses and backslashes escaped, controls replaced). method and
 * result are ours (tokens); they are checked, and a bad one sets overflow.
 */
void authres_method(struct authres *a, const char *method, const char *result, const char *reason);

/*
 * Adds " PTYPE.PROPERTY=VALUE" to the current resinfo (RFC 8601 2.2's
 * propspec), folding before it when the line would pass AUTHRES_LINE. The
 * value is written as is when it is a token or a local-part "@" domain,
 * quoted otherwise. A NULL value adds nothing.
 */
void authres_prop(struct authres *a, const char *ptype, const char *property, const char *value);

/* spf=RESULT smtp.mailfrom=MAILFROM smtp.helo=HELO (either may be NULL). */
void authres_spf(struct authres *a, const char *result, const char *reason, const char *mailfrom,
                 const char *helo);

/*
 * dkim=RESULT header.d=D header.s=S header.i=I header.b=FIRST-8-OF-B, one
 * signature (b may be shorter than 8; NULLs are left out).
 */
void authres_dkim(struct authres *a, const char *result, const char *reason, const char *d,
                  const char *s, const char *i, const char *b);

/* dmarc=RESULT header.from=FROM_DOMAIN */
void authres_dmarc(struct authres *a, const char *result, const char *reason,
                   const char *from_domain);

/*
 * Ends the field: "; none" when no result was added (2.2), then CRLF.
 * Returns 0 with *len the field's length (buf NUL-terminated), or -1 when
 * the buffer was too small or a name was bad.
 */
int authres_finish(struct authres *a, size_t *len);

/*
 * True when value, the body of an Authentication-Results field (after the
 * colon, folded or not), names authserv_id as its authserv-id: after CFWS,
 * a token or quoted-string compared ignoring ASCII case (and a final dot
 * on either), followed by CFWS, an optional version, ";" or the end
 * (RFC 8601 2.2, 5). A field that cannot be read that far is not ours.
 */
bool authres_is_ours(struct slice value, const char *authserv_id);

/* True when name is "Authentication-Results" (ASCII case ignored). */
bool authres_is_field_name(struct slice name);

#endif
