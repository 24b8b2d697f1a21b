/* SPDX-License-Identifier: MIT */
/*
 * Every reply the server sends, defined once, with its RFC 5321 code and its
 * RFC 3463 enhanced status code. Code and tests name replies by these ids;
 * the texts live in reply.c. The greeting, the HELO/EHLO replies and 354
 * carry no enhanced code (RFC 2034 3: it is negotiated by EHLO, and 3xx
 * replies have none); every other reply does.
 */
#ifndef GATE26_SMTP_REPLY_H
#define GATE26_SMTP_REPLY_H

#include <stdbool.h>

enum smtp_reply_id {
    R_NONE,               /* not a reply: "no refusal" where one is kept */
    R_GREETING,           /* 220 %s ESMTP gate26 */
    R_CONNECT_DENIED,     /* 554 5.7.1 */
    R_TOO_MANY_SESSIONS,  /* 421 4.3.2 */
    R_TIMEOUT,            /* 421 4.4.2 */
    R_TOO_MANY_ERRORS,    /* 421 4.7.0 */
    R_SHUTDOWN,           /* 421 4.3.0 */
    R_HELO,               /* 250 %s */
    R_OKAY,               /* 250 2.0.0 */
    R_MAIL_OK,            /* 250 2.1.0 */
    R_RCPT_OK,            /* 250 2.1.5 */
    R_DATA_GO,            /* 354 */
    R_QUEUED,             /* 250 2.0.0 Ok: queued as %s */
    R_BDAT_OK,            /* 250 2.0.0 %s octets received */
    R_BYE,                /* 221 2.0.0 */
    R_VRFY,               /* 252 2.0.0 */
    R_HELP,               /* 214 2.0.0 */
    R_NOT_IMPLEMENTED,    /* 502 5.5.1 */
    R_STARTTLS_UNAVAIL,   /* 502 5.5.1 */
    R_AUTH_UNAVAIL,       /* 503 5.5.1 */
    R_UNKNOWN_COMMAND,    /* 500 5.5.2 */
    R_SYNTAX,             /* 500 5.5.2 */
    R_LINE_TOO_LONG,      /* 500 5.5.2 */
    R_NO_ARGUMENTS,       /* 501 5.5.4 */
    R_ARGUMENT_NEEDED,    /* 501 5.5.4 */
    R_HELO_SYNTAX,        /* 501 5.5.4 */
    R_MAIL_SYNTAX,        /* 501 5.5.4 */
    R_RCPT_SYNTAX,        /* 501 5.5.4 */
    R_BDAT_SYNTAX,        /* 501 5.5.4 */
    R_PARAM_SYNTAX,       /* 501 5.5.4 */
    R_PARAM_UNKNOWN,      /* 555 5.5.4 */
    R_SENDER_SYNTAX,      /* 501 5.1.7 */
    R_SENDER_LOCAL_LONG,  /* 501 5.1.7 */
    R_SENDER_DOMAIN_LONG, /* 501 5.1.7 */
    R_RCPT_ADDR_SYNTAX,   /* 501 5.1.3 */
    R_RCPT_LOCAL_LONG,    /* 501 5.1.3 */
    R_RCPT_DOMAIN_LONG,   /* 501 5.1.3 */
    R_SENDER_UTF8,        /* 553 5.6.7 */
    R_RCPT_UTF8,          /* 553 5.6.7 */
    R_NEED_HELO,          /* 503 5.5.1 */
    R_NESTED_MAIL,        /* 503 5.5.1 */
    R_NEED_MAIL,          /* 503 5.5.1 */
    R_NEED_RCPT,          /* 503 5.5.1 */
    R_BAD_SEQUENCE,       /* 503 5.5.1 */
    R_NO_VALID_RCPT,      /* 554 5.5.1 */
    R_DATA_AFTER_BDAT,    /* 503 5.5.1 */
    R_SIZE_DECLARED,      /* 552 5.3.4 */
    R_SIZE_EXCEEDED,      /* 552 5.3.4 */
    R_TOO_MANY_RCPTS,     /* 452 4.5.3 */
    R_RELAY_DENIED,       /* 550 5.7.1 */
    R_AUTH_REQUIRED,      /* 530 5.7.0 */
    R_BARE_LF,            /* 550 5.6.0 */
    R_BARE_CR,            /* 550 5.6.0 */
    R_NUL,                /* 550 5.6.0 */
    R_DATA_LINE_TOO_LONG, /* 500 5.5.2 */
    R_STORAGE,            /* 452 4.3.1 */
    R_TLS_GO,             /* 220 2.0.0 */
    R_TLS_ACTIVE,         /* 503 5.5.1 */
    R_TLS_REQUIRED,       /* 530 5.7.0 */
    R_TLS_TEMP,           /* 454 4.7.0 */
    R_CLIENT_SESSIONS,    /* 421 4.7.0 */
    R_CLIENT_RATE,        /* 421 4.7.0 */
    R_MESSAGE_RATE,       /* 451 4.7.1 */
    R_SENDER_RATE,        /* 451 4.7.1 */
    R_USER_RATE,          /* 451 4.7.1 */
    R_AUTH_LOCKED,        /* 454 4.7.0 (for AUTH: policy_auth_gate) */
    R_AUTH_CHALLENGE,     /* 334 %s */
    R_AUTH_OK,            /* 235 2.7.0 */
    R_AUTH_FAILED,        /* 535 5.7.8 */
    R_AUTH_NEEDS_TLS,     /* 538 5.7.11 */
    R_AUTH_BASE64,        /* 501 5.5.2 */
    R_AUTH_MALFORMED,     /* 501 5.5.2 */
    R_AUTH_CANCELLED,     /* 501 5.0.0 */
    R_AUTH_MECH,          /* 504 5.5.4 */
    R_AUTH_TWICE,         /* 503 5.5.1 */
    R_AUTH_TEMP,          /* 454 4.7.0 */
    R_SENDER_NOT_OWNED,   /* 553 5.7.1 */
    R_RCPT_UNKNOWN,       /* 550 5.1.1 <%s>: ... User unknown */
    R_RCPT_VERIFY_TEMP,   /* 451 4.4.3 <%s>: ... try again later */
    R_NOT_SMTP,           /* 554 5.7.0 %s Not an SMTP client (docs/scanners.md) */
    /* The content checks (docs/checks.md, "Replies"). */
    R_DNSBL,              /* 554 5.7.1 Service unavailable; client [A] blocked using ZONE */
    R_SPF_FAIL,           /* 550 5.7.23 */
    R_SPF_TEMP,           /* 451 4.7.24 */
    R_GREYLISTED,         /* 451 4.7.1 */
    R_DMARC_REJECT,       /* 550 5.7.1 */
    R_VIRUS,              /* 554 5.7.1 */
    R_SPAM,               /* 554 5.7.1 */
    R_CONTENT_REJECT,     /* 550 5.7.1 (a milter) */
    R_CONTENT_TEMP,       /* 451 4.7.1 (a milter) */
    R_CHECKS_UNAVAILABLE, /* 451 4.7.0 */
    R_MILTER_REPLY,       /* a milter's own 4xx/5xx reply, checked: "%s" is the whole line */
    R_REPLY_COUNT,
};

struct smtp_reply_def {
    int code;
    const char *enhanced; /* NULL: none (greeting, HELO, 354) */
    const char *text;     /* may hold one "%s", filled by the caller's argument */
    bool counts_error;    /* spends the session's error budget */
};

/* The definition of id. */
const struct smtp_reply_def *smtp_reply_def(enum smtp_reply_id id);

/* The code of id's reply (for R_MILTER_REPLY: the code its argument starts with). */
int smtp_reply_code(enum smtp_reply_id id, const char *arg);

/*
 * The name of id: the enum name without R_, in lower case ("relay_denied").
 * Stable: it is the `reason` of metrics and alerts (docs/watch.md).
 */
const char *smtp_reply_name(enum smtp_reply_id id);

/*
 * Formats id into buf (capacity cap) as a complete reply line with CRLF,
 * with arg in place of the "%s" (arg may be NULL when the text has none).
 * Returns the length written, or 0 if it did not fit (a bug: replies are
 * short and arg is bounded by the caller).
 */
size_t smtp_reply_format(char *buf, size_t cap, enum smtp_reply_id id, const char *arg);

#endif
