/* SPDX-License-Identifier: MIT */
/*
 * A milter's REPLYCODE (scan/milter.h) as the reply line the session sends
 * (docs/checks.md, "Milters"). The milter's text is untrusted: what it
 * says goes to the client only as one checked line. Pure: no I/O.
 */
#ifndef GATE26_CHECKS_MILTER_REPLY_H
#define GATE26_CHECKS_MILTER_REPLY_H

#include <stdbool.h>
#include <stddef.h>

/* The longest text taken from a milter's reply, in octets. */
#define MILTER_REPLY_TEXT_MAX 400

/*
 * Writes into out (capacity cap, at least 64) "CODE X.Y.Z TEXT": code is
 * the milter's (400 to 599, not 421, which would close the session: that
 * one is refused); the enhanced code is the one at the start of the text
 * when it is of the same class (RFC 3463 "class.subject.detail", subject
 * and detail 0 to 999), else 4.7.1 or 5.7.1; a copy of code at the start
 * of the text is dropped; the text is cut at MILTER_REPLY_TEXT_MAX octets,
 * every octet outside printable ASCII written as '?', and an empty text is
 * replaced by ours ("Message rejected by content filter", "... deferred
 * ..."). Returns false (out untouched) when text is NULL or the code is
 * not usable, or cap is too small.
 */
bool milter_reply_line(unsigned code, const char *text, char *out, size_t cap);

#endif
