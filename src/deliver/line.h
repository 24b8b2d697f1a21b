/* SPDX-License-Identifier: MIT */
/*
 * Taking one reply line out of a connection's input: the cap first (a line
 * without its LF in the first CAP_REPLY_LINE octets is too long, whatever
 * follows), then the search for the LF, and the line must end in CR LF
 * (RFC 5321 4.2). Shared by the SMTP client (conn.c) and gate26 check's
 * probe (src/check/probe.c).
 */
#ifndef GATE26_DELIVER_LINE_H
#define GATE26_DELIVER_LINE_H

#include <stddef.h>

#include "lib/caps.h"

struct evbuffer;

enum deliver_line_rc {
    DELIVER_LINE_NONE,     /* no whole line yet: wait for more input */
    DELIVER_LINE_OK,       /* a line, its CR LF removed */
    DELIVER_LINE_TOO_LONG, /* CAP_REPLY_LINE octets without an LF */
    DELIVER_LINE_BARE_LF,  /* a line ended in LF alone (taken out of the input) */
};

/*
 * Takes the next line out of in into line (CAP_REPLY_LINE octets), without
 * its CR LF, and its length into *len (DELIVER_LINE_OK only).
 */
enum deliver_line_rc deliver_line_take(struct evbuffer *in, char *line, size_t *len);

/* What is wrong, for a protocol error: "reply line too long", ...; NULL for NONE and OK. */
const char *deliver_line_why(enum deliver_line_rc rc);

#endif
