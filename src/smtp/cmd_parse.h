/* SPDX-License-Identifier: MIT */
/*
 * Command lines (RFC 5321 4.1.1): the verb and its argument, and the
 * argument grammars of MAIL and RCPT with their ESMTP parameters (SIZE
 * RFC 1870, BODY RFC 6152, SMTPUTF8 RFC 6531, RET/ENVID/NOTIFY/ORCPT
 * RFC 3461). Pure functions of their input: no session, no I/O, so the unit
 * tests and the fuzz target call them directly. The session decides what a
 * parse result means on its door (limits, relay, SMTPUTF8 in force).
 */
#ifndef GATE26_SMTP_CMD_PARSE_H
#define GATE26_SMTP_CMD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/caps.h"
#include "lib/slice.h"
#include "smtp/addr.h"

enum smtp_verb {
    SMTP_VERB_UNKNOWN,
    SMTP_VERB_HELO,
    SMTP_VERB_EHLO,
    SMTP_VERB_MAIL,
    SMTP_VERB_RCPT,
    SMTP_VERB_DATA,
    SMTP_VERB_BDAT,
    SMTP_VERB_RSET,
    SMTP_VERB_NOOP,
    SMTP_VERB_QUIT,
    SMTP_VERB_VRFY,
    SMTP_VERB_EXPN,
    SMTP_VERB_HELP,
    SMTP_VERB_STARTTLS,
    SMTP_VERB_AUTH,
    SMTP_VERB_ETRN,
};

struct smtp_cmd {
    enum smtp_verb verb;
    struct slice arg; /* everything after the verb's SP; len 0 when none */
    bool has_arg;     /* an SP followed the verb */
};

/*
 * Splits line (the command without its CRLF) into verb and argument. The
 * verb is matched without regard to case. Returns 0, or -1 when the line
 * holds a NUL, a CR or LF, or does not start with 1-12 letters followed by
 * the end or a SP. An unrecognised verb returns 0 with SMTP_VERB_UNKNOWN.
 */
int smtp_cmd_parse(struct slice line, struct smtp_cmd *out);

/* The longest line (with CRLF) allowed for verb: 512, longer for MAIL and
 * RCPT by what their extensions add (lib/caps.h). */
size_t smtp_cmd_line_cap(enum smtp_verb verb);

/* The verb's name in upper case, for logs ("MAIL"); "?" for unknown. */
const char *smtp_verb_name(enum smtp_verb verb);

enum smtp_body {
    SMTP_BODY_UNSPEC,
    SMTP_BODY_7BIT,
    SMTP_BODY_8BITMIME,
};

enum smtp_ret {
    SMTP_RET_UNSPEC,
    SMTP_RET_FULL,
    SMTP_RET_HDRS,
};

/* NOTIFY bits (RFC 3461 4.1); 0 when not given. */
#define SMTP_NOTIFY_NEVER   0x1u
#define SMTP_NOTIFY_SUCCESS 0x2u
#define SMTP_NOTIFY_FAILURE 0x4u
#define SMTP_NOTIFY_DELAY   0x8u

/* The result of parsing a MAIL or RCPT argument; the session maps each to a reply. */
enum smtp_arg_result {
    SMTP_ARG_OK,
    SMTP_ARG_SYNTAX,           /* not "FROM:" / "TO:" then a path: 501 5.5.4 */
    SMTP_ARG_ADDR_SYNTAX,      /* the path breaks RFC 5321 4.1.2: 501 5.1.7 / 5.1.3 */
    SMTP_ARG_LOCAL_TOO_LONG,   /* local part over 64 octets: 501 */
    SMTP_ARG_DOMAIN_TOO_LONG,  /* domain over 255 octets: 501 */
    SMTP_ARG_PARAM_SYNTAX,     /* malformed, duplicated or wrong value: 501 5.5.4 */
    SMTP_ARG_PARAM_UNKNOWN,    /* a parameter we do not know: 555 5.5.4 */
    SMTP_ARG_UTF8_NOT_ALLOWED, /* non-ASCII sender without SMTPUTF8: 553 5.6.7 */
};

struct smtp_mail {
    struct smtp_addr from; /* from.is_null for <> */
    bool has_size;
    uint64_t size;
    enum smtp_body body;
    bool smtputf8;
    enum smtp_ret ret;
    bool has_envid;
    char envid[CAP_ENVID + 1]; /* xtext, as sent */
    bool has_auth;             /* AUTH= was given (RFC 4954 5); its value is not kept */
};

struct smtp_rcpt {
    struct smtp_addr to;
    unsigned notify; /* SMTP_NOTIFY_* bits */
    bool has_orcpt;
    char orcpt[CAP_ORCPT + 1]; /* "addr-type;xtext", as sent */
};

/*
 * Parses the argument of MAIL: "FROM:" Reverse-path [SP Mail-parameters]
 * (RFC 5321 4.1.1.2, 4.1.2). Spaces after the colon are tolerated (a common
 * client habit that changes no meaning). A non-ASCII sender needs the
 * SMTPUTF8 parameter (RFC 6531 3.4).
 */
enum smtp_arg_result smtp_parse_mail(struct slice arg, struct smtp_mail *out);

/*
 * Parses the argument of RCPT: "TO:" ( "<Postmaster@" Domain ">" /
 * "<Postmaster>" / Forward-path ) [SP Rcpt-parameters] (RFC 5321 4.1.1.3).
 * Whether a non-ASCII recipient is allowed depends on the transaction: the
 * caller checks out->to.has_utf8 against MAIL's SMTPUTF8.
 */
enum smtp_arg_result smtp_parse_rcpt(struct slice arg, struct smtp_rcpt *out);

/*
 * Checks the argument of HELO/EHLO: Domain / address-literal (RFC 5321
 * 4.1.1.1). Returns 0 or -1.
 */
int smtp_parse_helo(struct slice arg);

/* Parses the size argument of BDAT: chunk-size [SP "LAST"] (RFC 3030 2).
 * Returns 0 or -1. */
int smtp_parse_bdat(struct slice arg, uint64_t *size, bool *last);

#endif
