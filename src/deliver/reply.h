/* SPDX-License-Identifier: MIT */
/*
 * The SMTP client's reply reader (RFC 5321 4.2): takes the lines of one
 * reply, one at a time and without their CRLF, checks each against the
 * grammar and the caps (CAP_REPLY_LINES lines, CAP_REPLY octets), and keeps
 * the code, the enhanced status code (RFC 2034, RFC 3463) and the text of
 * every line joined into one printable line for logs and bounces. A pure
 * function of its input; private to src/deliver/.
 */
#ifndef GATE26_DELIVER_REPLY_H
#define GATE26_DELIVER_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "deliver/deliver.h"
#include "lib/slice.h"

/*
 * One reply, as it is read. enhanced is set once the last line is in: the
 * server's ("5.1.1"), or else the code's class and ".0.0" ("" for 3xx).
 * text is "550 5.1.1 first line second line": printable ASCII, cut to fit.
 */
struct deliver_reply {
    unsigned code;     /* 200..559, set by the first line */
    char enhanced[16]; /* see above */
    bool has_enhanced; /* the server gave the enhanced code (its class matches the code's) */
    unsigned n_lines;  /* lines read */
    size_t octets;     /* octets read, with the CRLFs */
    size_t text_len;   /* of text */
    char text[DELIVER_TEXT_MAX];
    const char *error; /* after DELIVER_REPLY_BAD: why, e.g. "malformed reply line" */
};

enum deliver_reply_rc {
    DELIVER_REPLY_MORE, /* a continuation line ("250-..."): another line follows */
    DELIVER_REPLY_LAST, /* the last line: the reply is whole */
    DELIVER_REPLY_BAD,  /* not a reply line, or over a cap: a protocol error (r->error) */
};

/* Empties r for the next reply. */
void deliver_reply_init(struct deliver_reply *r);

/*
 * Adds one line (without its CRLF) to r. On MORE and LAST, *text (when not
 * NULL) is the line's text after the code and its separator, for the EHLO
 * keywords. After LAST or BAD, call deliver_reply_init before the next line.
 */
enum deliver_reply_rc deliver_reply_add(struct deliver_reply *r, struct slice line,
                                        struct slice *text);

#endif
