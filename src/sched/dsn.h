/* SPDX-License-Identifier: MIT */
/*
 * Delivery status notifications (RFC 3464, RFC 3461 6, RFC 6522 report
 * syntax; RFC 6533 when the original used SMTPUTF8): composes the bounce or
 * delay message that the scheduler spools, from the null sender <>, to the
 * original envelope sender. Private to src/sched/.
 *
 * The message is multipart/report; report-type=delivery-status with three
 * parts:
 *   1. text/plain: a short human explanation naming our hostname, the queue
 *      id and, per recipient, the address and the remote reply or local
 *      reason;
 *   2. message/delivery-status (message/global-delivery-status for SMTPUTF8):
 *      per-message fields (Reporting-MTA: dns; HOSTNAME, X-Gate26-Queue-ID,
 *      Original-Envelope-Id when ENVID was given, Arrival-Date) and one
 *      per-recipient block each (Original-Recipient when ORCPT was given,
 *      Final-Recipient: rfc822; ADDR, Action, Status, Remote-MTA and
 *      Diagnostic-Code: smtp; ... when a server answered, Last-Attempt-Date,
 *      Will-Retry-Until for delays);
 *   3. the original: message/rfc822 (message/global) with the whole message
 *      when RET=FULL, or when RET is not given and the message is at most
 *      DSN_FULL_MAX octets; else text/rfc822-headers with its header only
 *      (RFC 3461 4.3).
 *
 * Lines end in CRLF, none is longer than 998 octets (long peer texts are
 * folded or cut), and the headers of the report itself are 7-bit (peer
 * octets outside printable ASCII in its text parts are replaced by '?',
 * except in the returned original, which is copied as it is, and in the
 * addresses of an SMTPUTF8 original, which keep their UTF-8: RFC 6532,
 * RFC 6533).
 */
#ifndef GATE26_SCHED_DSN_H
#define GATE26_SCHED_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>

#include "spool/spool.h"

/* A message with RET not given is returned whole up to this size. */
#define DSN_FULL_MAX (64 * 1024)

enum dsn_kind {
    DSN_FAILURE, /* Action: failed (bounce) */
    DSN_DELAY,   /* Action: delayed (warning: still trying) */
};

struct dsn_rcpt {
    const char *addr;       /* final recipient "local@domain" */
    const char *orcpt;      /* "rfc822;xtext" as received, or NULL */
    const char *status;     /* enhanced code "5.1.1", "4.4.1" */
    const char *remote_mta; /* "mx1.example.net" when a server answered, else NULL */
    const char *diagnostic; /* the server's reply "550 5.1.1 ...", or NULL (local reason) */
    const char *reason;     /* text for part 1, always given: the reply or a local reason */
    time_t last_attempt;    /* 0: none */
};

struct dsn_input {
    enum dsn_kind kind;
    const char *hostname; /* ours: Reporting-MTA, From: MAILER-DAEMON@hostname */
    const char *id;       /* the original's queue id */
    const char *sender;   /* the original's envelope sender (never ""): To: */
    const char *envid;    /* xtext as received, or NULL */
    enum spool_ret ret;
    bool smtputf8; /* the original used SMTPUTF8 */
    struct timeval arrival;
    time_t retry_until; /* DSN_DELAY only: when gate26 gives up */
    const struct dsn_rcpt *rcpts;
    size_t n_rcpts;    /* >= 1 */
    int fd;            /* the original's spool file, read with pread() */
    off_t content_off; /* where its content (our Received header first) starts */
    uint64_t content_len;
};

/*
 * Composes the report into a new heap buffer (the caller frees *out) of
 * *out_len octets: headers (Date, From, To, Subject, Message-ID with our
 * hostname, MIME-Version, Content-Type with a boundary not found in the
 * content, Auto-Submitted: auto-replied per RFC 3834), blank line, body.
 * now is the Date. Returns 0, or -1 with errno (EIO: the original could not
 * be read; EAGAIN: no boundary absent from the content was found, EMSGSIZE:
 * the report passed its cap, neither of which happens in practice; ENOMEM
 * is not returned: allocation aborts).
 */
int dsn_compose(const struct dsn_input *in, time_t now, char **out, size_t *out_len);

#endif
