/* SPDX-License-Identifier: MIT */
/*
 * The Message-ID of a message being received, for its "status=queued" log
 * line (README.md "Logs"). It looks at the message octets as the content
 * scanner emits them, in runs split anywhere, and only at the header
 * section: it stops at the empty line that ends it, at a line that is not a
 * header field, once the first Message-ID field has ended, or after
 * CAP_HEADER_SCAN octets, whichever comes first. Nothing is copied but the
 * field body, up to CAP_MESSAGE_ID octets.
 *
 * The grammar (RFC 5322 2.2, 3.6.4): field-name ":" field-body, the name
 * matched without regard to case (RFC 5322 1.2.2), the body unfolded
 * (2.2.3: a CR LF followed by WSP is removed, the WSP kept). WSP between the
 * name and the colon is taken too, as the obsolete syntax allows (RFC 5322
 * 4.5.4, obs-message-id). The first Message-ID field wins. The header
 * section is the peer's: nothing in it is trusted, and the value is only
 * ever written to the log through log_quote() or as a checked <id>.
 */
#ifndef GATE26_SMTP_MSGID_H
#define GATE26_SMTP_MSGID_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/caps.h"
#include "lib/log.h"
#include "lib/slice.h"

struct msgid_scan {
    const char *field; /* private: the field name looked for, lower-case */
    size_t field_len;  /* private */
    int state;         /* private */
    size_t name;       /* private: octets of the field name matched against "Message-ID" */
    size_t seen;       /* header octets looked at */
    bool done;         /* nothing more will be looked at */
    bool found;        /* a Message-ID field was seen */
    bool cut;          /* its body went on past CAP_MESSAGE_ID octets, or past the scan's cap */
    size_t len;        /* octets in value */
    char value[CAP_MESSAGE_ID];
};

/* Starts a scan at the first octet of a message. */
void msgid_scan_init(struct msgid_scan *m);

/*
 * The same scan for the first field named field (lower-case, a static
 * string: kept), as for "subject" (RFC 5322 3.6.5): the same grammar, caps
 * and unfolding; msgid_scan_value() gives its body.
 */
void msgid_scan_init_field(struct msgid_scan *m, const char *field);

/*
 * Looks at the next len octets of the message (after dot-stuffing is
 * removed). After m->done, returns at once: callers need not check.
 */
void msgid_scan_feed(struct msgid_scan *m, const char *p, size_t len);

/*
 * The body of the first Message-ID field, unfolded, without WSP at either
 * end (out borrows from m). False when the message has none (so far).
 */
bool msgid_scan_value(const struct msgid_scan *m, struct slice *out);

/*
 * msgid_scan_value() as a string in buf (cut at cap - 1 octets; cap > 0),
 * for tracking; NULL when the message has no such field.
 */
const char *msgid_scan_copy(const struct msgid_scan *m, char *buf, size_t cap);

/* Room for msgid_log_field()'s result. */
#define MSGID_LOG_CAP (LOG_ANGLE_CAP + 32)

/*
 * The field for the queued line, into buf (cap at least MSGID_LOG_CAP):
 * ", message-id=<ID>" for a body that is one <ID> (written by log_angle():
 * ", message-id="<ID>"" quoted when ID holds SP, quotes, commas or other
 * octets a log reader could trip on); ", message-id="BODY"" quoted by
 * log_quote() for any other body, and for one cut by the caps (it ends in
 * "..."); "" when the message has no Message-ID field. Returns buf.
 */
const char *msgid_log_field(const struct msgid_scan *m, char *buf, size_t cap);

#endif
