/* SPDX-License-Identifier: MIT */
/*
 * The submission record (docs/packaging.md, "sendmail, the local socket and
 * the maildrop"): what `gate26 sendmail` hands to the daemon, the same
 * octets on the local submission socket and in a maildrop file.
 *
 *   record  = magic from 1*rcpt size LF content
 *   magic   = "gate26-submit 1" LF
 *   from    = "from " Reverse-path LF        (RFC 5321 4.1.2; <> allowed)
 *   rcpt    = "rcpt " Forward-path LF        (<Postmaster> allowed)
 *   size    = "size " 1*20DIGIT LF           (octets of content, 1 or more)
 *   content = exactly size octets: lines ended by CR LF (no bare CR or LF,
 *             no NUL, none over 998 octets: RFC 5322 2.1.1), the last one too
 *
 * Nothing else is a record: no other key, no repeated from or size, no
 * trailing octet. The head (everything before content) is at most
 * RECORD_HEAD_MAX octets and names at most RECORD_RCPTS_MAX recipients.
 * Nothing here reads or writes files: the callers do (sendmail/submit.c,
 * pickup/).
 */
#ifndef GATE26_SENDMAIL_RECORD_H
#define GATE26_SENDMAIL_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/caps.h"

#define RECORD_MAGIC       "gate26-submit 1"
#define RECORD_RCPTS_MAX   1000
#define RECORD_LINE_MAX    (5 + 2 + CAP_MAILBOX + 300) /* "rcpt <" path ">" with a source route */
#define RECORD_HEAD_MAX    (64 + (RECORD_RCPTS_MAX + 2) * 64 + 4096)
#define RECORD_CONTENT_MAX (UINT64_C(2) << 30) /* the largest max-message-size conf takes */

/* What the head says; every pointer is owned by it (record_head_clear). */
struct record_head {
    char from[CAP_MAILBOX + 1]; /* "local@domain", "" for <> */
    char **rcpts;               /* "local@domain" or "Postmaster" each */
    size_t n_rcpts;
    uint64_t size;   /* octets of content that follow the head */
    size_t head_len; /* octets of the head, the blank line included */
    bool from_utf8;  /* an address holds octets over 0x7f (RFC 6531) */
};

enum record_result {
    RECORD_OK,   /* *out holds the head */
    RECORD_MORE, /* the octets so far are a head's beginning: read more (below the cap) */
    RECORD_BAD,  /* not a record: why says what and where ("line 3: ...") */
};

/*
 * Parses the head at p (len octets, all that arrived so far: the content
 * may follow). RECORD_OK: *out is filled (free with record_head_clear);
 * else *out holds nothing to free. len over RECORD_HEAD_MAX without a whole
 * head is RECORD_BAD.
 */
enum record_result record_parse_head(const char *p, size_t len, struct record_head *out, char *why,
                                     size_t whycap);

/* Frees what h holds and empties it. */
void record_head_clear(struct record_head *h);

/*
 * Checks the content rule above on len octets at p. Returns 0 (with
 * *eight_bit true when an octet is over 0x7f), or -1 with the reason in why
 * ("line 4: bare LF").
 */
int record_check_content(const char *p, size_t len, bool *eight_bit, char *why, size_t whycap);

/*
 * The head for from ("" for <>), n rcpts and size octets, as a heap string
 * (the caller frees it) of *len octets. The addresses are written as given:
 * the caller has checked them (a record_parse_head of the result is the proof).
 */
char *record_format_head(const char *from, const char *const *rcpts, size_t n, uint64_t size,
                         size_t *len);

#endif
