/* SPDX-License-Identifier: MIT */
/*
 * The reply table: each reply the server sends, defined once. The codes
 * follow RFC 5321 4.2 and 4.3.2; the enhanced codes RFC 3463 (and RFC 6531
 * 3.6 for 5.6.7). smtp_reply() in session.c is the only writer of replies.
 */
#include <string.h>

#include "lib/log.h"
#include "smtp/reply.h"

static const struct smtp_reply_def replies[R_REPLY_COUNT] = {
    [R_GREETING] = {220, NULL, "%s ESMTP gate26", false},
    [R_CONNECT_DENIED] = {554, "5.7.1", "Access denied: this door is not open to your address",
                          false},
    [R_TOO_MANY_SESSIONS] = {421, "4.3.2", "%s Too many connections, try again later", false},
    [R_TIMEOUT] = {421, "4.4.2", "%s Timeout exceeded, closing connection", false},
    [R_TOO_MANY_ERRORS] = {421, "4.7.0", "%s Too many errors, closing connection", false},
    [R_SHUTDOWN] = {421, "4.3.0", "%s Service shutting down, try again later", false},
    [R_HELO] = {250, NULL, "%s", false},
    [R_OKAY] = {250, "2.0.0", "Ok", false},
    [R_MAIL_OK] = {250, "2.1.0", "Sender ok", false},
    [R_RCPT_OK] = {250, "2.1.5", "Recipient ok", false},
    [R_DATA_GO] = {354, NULL, "End data with <CR><LF>.<CR><LF>", false},
    [R_QUEUED] = {250, "2.0.0", "Ok: queued as %s", false},
    [R_BDAT_OK] = {250, "2.0.0", "Ok: %s octets received", false},
    [R_BYE] = {221, "2.0.0", "Bye", false},
    [R_VRFY] = {252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery",
                false},
    [R_HELP] = {214, "2.0.0",
                "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP; see RFC 5321",
                false},
    [R_NOT_IMPLEMENTED] = {502, "5.5.1", "Command not implemented", true},
    [R_STARTTLS_UNAVAIL] = {502, "5.5.1", "STARTTLS is not offered on this door", true},
    [R_AUTH_UNAVAIL] = {503, "5.5.1", "AUTH is not offered on this door", true},
    [R_UNKNOWN_COMMAND] = {500, "5.5.2", "Command not recognized", true},
    [R_SYNTAX] = {500, "5.5.2", "Syntax error in command line", true},
    [R_LINE_TOO_LONG] = {500, "5.5.2", "Line too long", true},
    [R_NO_ARGUMENTS] = {501, "5.5.4", "Syntax: %s takes no arguments", true},
    [R_ARGUMENT_NEEDED] = {501, "5.5.4", "Syntax: %s needs an argument", true},
    [R_HELO_SYNTAX] = {501, "5.5.4", "Syntax: %s domain or address literal", true},
    [R_MAIL_SYNTAX] = {501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]", true},
    [R_RCPT_SYNTAX] = {501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]", true},
    [R_BDAT_SYNTAX] = {501, "5.5.4", "Syntax: BDAT chunk-size [LAST]", true},
    [R_PARAM_SYNTAX] = {501, "5.5.4", "Invalid command parameter", true},
    [R_PARAM_UNKNOWN] = {555, "5.5.4", "Unsupported command parameter", true},
    [R_SENDER_SYNTAX] = {501, "5.1.7", "Bad sender address syntax", true},
    [R_SENDER_LOCAL_LONG] = {501, "5.1.7", "Sender local part longer than 64 octets", true},
    [R_SENDER_DOMAIN_LONG] = {501, "5.1.7", "Sender domain longer than 255 octets", true},
    [R_RCPT_ADDR_SYNTAX] = {501, "5.1.3", "Bad recipient address syntax", true},
    [R_RCPT_LOCAL_LONG] = {501, "5.1.3", "Recipient local part longer than 64 octets", true},
    [R_RCPT_DOMAIN_LONG] = {501, "5.1.3", "Recipient domain longer than 255 octets", true},
    [R_SENDER_UTF8] = {553, "5.6.7", "Non-ASCII sender address needs the SMTPUTF8 parameter", true},
    [R_RCPT_UTF8] = {553, "5.6.7",
                     "Non-ASCII recipient address needs the SMTPUTF8 parameter on MAIL", true},
    [R_NEED_HELO] = {503, "5.5.1", "Send EHLO or HELO first", true},
    [R_NESTED_MAIL] = {503, "5.5.1", "Sender already given", true},
    [R_NEED_MAIL] = {503, "5.5.1", "Send MAIL first", true},
    [R_NEED_RCPT] = {503, "5.5.1", "Send RCPT first", true},
    [R_BAD_SEQUENCE] = {503, "5.5.1", "Bad sequence of commands", true},
    [R_NO_VALID_RCPT] = {554, "5.5.1", "No valid recipients", true},
    [R_DATA_AFTER_BDAT] = {503, "5.5.1", "DATA is not allowed in a BDAT transaction", true},
    [R_SIZE_DECLARED] = {552, "5.3.4", "Message size exceeds fixed limit", true},
    [R_SIZE_EXCEEDED] = {552, "5.3.4", "Message size exceeds fixed limit", true},
    [R_TOO_MANY_RCPTS] = {452, "4.5.3", "Too many recipients", false},
    [R_RELAY_DENIED] = {550, "5.7.1", "Relay access denied", true},
    [R_AUTH_REQUIRED] = {530, "5.7.0", "Authentication required", true},
    [R_BARE_LF] = {550, "5.6.0", "Message refused: bare LF in content (only CRLF ends a line)",
                   true},
    [R_BARE_CR] = {550, "5.6.0", "Message refused: bare CR in content (only CRLF ends a line)",
                   true},
    [R_NUL] = {550, "5.6.0", "Message refused: NUL octet in content", true},
    [R_DATA_LINE_TOO_LONG] = {500, "5.5.2", "Line too long: text lines are at most 1000 octets",
                              true},
    [R_STORAGE] = {452, "4.3.1", "Insufficient system storage, try again later", false},
    /* RFC 3207 4: STARTTLS and what needs it. */
    [R_TLS_GO] = {220, "2.0.0", "Ready to start TLS", false},
    [R_TLS_ACTIVE] = {503, "5.5.1", "TLS already active", true},
    [R_TLS_REQUIRED] = {530, "5.7.0", "Must issue a STARTTLS command first", true},
    [R_TLS_TEMP] = {454, "4.7.0", "TLS not available due to temporary reason", false},
    /* RFC 3463 3.8: X.7.0 other security or policy status; 4.7.1 delivery not authorized
     * (for now). Temporary, so that a real server tries again later. */
    [R_CLIENT_SESSIONS] = {421, "4.7.0", "%s Too many sessions from your address, try again later",
                           false},
    [R_CLIENT_RATE] = {421, "4.7.0", "%s Too many connections from your address, try again later",
                       false},
    [R_MESSAGE_RATE] = {451, "4.7.1", "Too many messages from your address, try again later", true},
    [R_SENDER_RATE] = {451, "4.7.1", "Too many messages from this sender, try again later", true},
    [R_USER_RATE] = {451, "4.7.1", "Too many messages from this user, try again later", true},
    [R_AUTH_LOCKED] = {454, "4.7.0", "Too many failed authentication attempts, try again later",
                       true},
    /* RFC 4954 4, 6 and its enhanced codes. */
    [R_AUTH_CHALLENGE] = {334, NULL, "%s", false},
    [R_AUTH_OK] = {235, "2.7.0", "Authentication successful", false},
    [R_AUTH_FAILED] = {535, "5.7.8", "Authentication credentials invalid", true},
    [R_AUTH_NEEDS_TLS] = {538, "5.7.11",
                          "Encryption required for requested authentication mechanism", true},
    [R_AUTH_BASE64] = {501, "5.5.2", "Cannot decode response", true},
    [R_AUTH_MALFORMED] = {501, "5.5.2", "Malformed authentication response", true},
    [R_AUTH_CANCELLED] = {501, "5.0.0", "Authentication cancelled", true},
    [R_AUTH_MECH] = {504, "5.5.4", "Unrecognized authentication type", true},
    [R_AUTH_TWICE] = {503, "5.5.1", "Already authenticated", true},
    [R_AUTH_TEMP] = {454, "4.7.0", "Temporary authentication failure", false},
    [R_SENDER_NOT_OWNED] = {553, "5.7.1", "Sender address not owned by the authenticated user",
                            true},
    /* Recipient verification (docs/verify.md): RFC 3463 3.2 X.1.1 bad destination mailbox,
     * 3.5 X.4.3 directory server failure; the internal server's own text stays in the log. */
    [R_RCPT_UNKNOWN] = {550, "5.1.1", "<%s>: Recipient address rejected: User unknown", true},
    [R_RCPT_VERIFY_TEMP] = {451, "4.4.3",
                            "<%s>: Recipient address verification failed, try again later", false},
    /* A scanner before EHLO/HELO (docs/scanners.md): RFC 3463 3.8 X.7.0, then the close. */
    [R_NOT_SMTP] = {554, "5.7.0", "%s Not an SMTP client, goodbye", false},
    /* The content checks (docs/checks.md): RFC 3463 X.7.1 delivery not authorized, RFC 7372
     * X.7.23 SPF validation failed and X.7.24 SPF validation error, X.7.0 other security. */
    [R_DNSBL] = {554, "5.7.1", "Service unavailable; %s", false},
    [R_SPF_FAIL] = {550, "5.7.23", "SPF check failed: %s", false},
    [R_SPF_TEMP] = {451, "4.7.24", "SPF check of %s could not be completed, try again later",
                    false},
    [R_GREYLISTED] = {451, "4.7.1", "%s", false},
    [R_DMARC_REJECT] = {550, "5.7.1", "Message rejected %s", false},
    [R_VIRUS] = {554, "5.7.1", "Message rejected: virus found: %s", false},
    [R_SPAM] = {554, "5.7.1", "Message rejected as spam (score %s)", false},
    [R_CONTENT_REJECT] = {550, "5.7.1", "%s", false},
    [R_CONTENT_TEMP] = {451, "4.7.1", "%s", false},
    [R_CHECKS_UNAVAILABLE] = {451, "4.7.0", "Content checks unavailable (%s), try again later",
                              false},
    /* Code 1: the argument is the whole line, its code first (smtp_reply_code()). */
    [R_MILTER_REPLY] = {1, NULL, "%s", false},
};

/* The names of the replies, for logs and metric labels: the id without R_, lower case. */
static const char *const names[R_REPLY_COUNT] = {
    [R_NONE] = "none",
    [R_GREETING] = "greeting",
    [R_CONNECT_DENIED] = "connect_denied",
    [R_TOO_MANY_SESSIONS] = "too_many_sessions",
    [R_TIMEOUT] = "timeout",
    [R_TOO_MANY_ERRORS] = "too_many_errors",
    [R_SHUTDOWN] = "shutdown",
    [R_HELO] = "helo",
    [R_OKAY] = "okay",
    [R_MAIL_OK] = "mail_ok",
    [R_RCPT_OK] = "rcpt_ok",
    [R_DATA_GO] = "data_go",
    [R_QUEUED] = "queued",
    [R_BDAT_OK] = "bdat_ok",
    [R_BYE] = "bye",
    [R_VRFY] = "vrfy",
    [R_HELP] = "help",
    [R_NOT_IMPLEMENTED] = "not_implemented",
    [R_STARTTLS_UNAVAIL] = "starttls_unavail",
    [R_AUTH_UNAVAIL] = "auth_unavail",
    [R_UNKNOWN_COMMAND] = "unknown_command",
    [R_SYNTAX] = "syntax",
    [R_LINE_TOO_LONG] = "line_too_long",
    [R_NO_ARGUMENTS] = "no_arguments",
    [R_ARGUMENT_NEEDED] = "argument_needed",
    [R_HELO_SYNTAX] = "helo_syntax",
    [R_MAIL_SYNTAX] = "mail_syntax",
    [R_RCPT_SYNTAX] = "rcpt_syntax",
    [R_BDAT_SYNTAX] = "bdat_syntax",
    [R_PARAM_SYNTAX] = "param_syntax",
    [R_PARAM_UNKNOWN] = "param_unknown",
    [R_SENDER_SYNTAX] = "sender_syntax",
    [R_SENDER_LOCAL_LONG] = "sender_local_long",
    [R_SENDER_DOMAIN_LONG] = "sender_domain_long",
    [R_RCPT_ADDR_SYNTAX] = "rcpt_addr_syntax",
    [R_RCPT_LOCAL_LONG] = "rcpt_local_long",
    [R_RCPT_DOMAIN_LONG] = "rcpt_domain_long",
    [R_SENDER_UTF8] = "sender_utf8",
    [R_RCPT_UTF8] = "rcpt_utf8",
    [R_NEED_HELO] = "need_helo",
    [R_NESTED_MAIL] = "nested_mail",
    [R_NEED_MAIL] = "need_mail",
    [R_NEED_RCPT] = "need_rcpt",
    [R_BAD_SEQUENCE] = "bad_sequence",
    [R_NO_VALID_RCPT] = "no_valid_rcpt",
    [R_DATA_AFTER_BDAT] = "data_after_bdat",
    [R_SIZE_DECLARED] = "size_declared",
    [R_SIZE_EXCEEDED] = "size_exceeded",
    [R_TOO_MANY_RCPTS] = "too_many_rcpts",
    [R_RELAY_DENIED] = "relay_denied",
    [R_AUTH_REQUIRED] = "auth_required",
    [R_BARE_LF] = "bare_lf",
    [R_BARE_CR] = "bare_cr",
    [R_NUL] = "nul",
    [R_DATA_LINE_TOO_LONG] = "data_line_too_long",
    [R_STORAGE] = "storage",
    [R_TLS_GO] = "tls_go",
    [R_TLS_ACTIVE] = "tls_active",
    [R_TLS_REQUIRED] = "tls_required",
    [R_TLS_TEMP] = "tls_temp",
    [R_CLIENT_SESSIONS] = "client_sessions",
    [R_CLIENT_RATE] = "client_rate",
    [R_MESSAGE_RATE] = "message_rate",
    [R_SENDER_RATE] = "sender_rate",
    [R_USER_RATE] = "user_rate",
    [R_AUTH_LOCKED] = "auth_locked",
    [R_AUTH_CHALLENGE] = "auth_challenge",
    [R_AUTH_OK] = "auth_ok",
    [R_AUTH_FAILED] = "auth_failed",
    [R_AUTH_NEEDS_TLS] = "auth_needs_tls",
    [R_AUTH_BASE64] = "auth_base64",
    [R_AUTH_MALFORMED] = "auth_malformed",
    [R_AUTH_CANCELLED] = "auth_cancelled",
    [R_AUTH_MECH] = "auth_mech",
    [R_AUTH_TWICE] = "auth_twice",
    [R_AUTH_TEMP] = "auth_temp",
    [R_SENDER_NOT_OWNED] = "sender_not_owned",
    [R_RCPT_UNKNOWN] = "rcpt_unknown",
    [R_RCPT_VERIFY_TEMP] = "rcpt_verify_temp",
    [R_NOT_SMTP] = "not_smtp",
    [R_DNSBL] = "dnsbl",
    [R_SPF_FAIL] = "spf_fail",
    [R_SPF_TEMP] = "spf_temp",
    [R_GREYLISTED] = "greylisted",
    [R_DMARC_REJECT] = "dmarc_reject",
    [R_VIRUS] = "virus",
    [R_SPAM] = "spam",
    [R_CONTENT_REJECT] = "content_reject",
    [R_CONTENT_TEMP] = "content_temp",
    [R_CHECKS_UNAVAILABLE] = "checks_unavailable",
    [R_MILTER_REPLY] = "milter_reply",
};

const struct smtp_reply_def *
smtp_reply_def(enum smtp_reply_id id)
{
    if ((unsigned)id >= R_REPLY_COUNT || replies[id].code == 0)
        log_panic("smtp_reply_def: no reply %d", (int)id);
    return &replies[id];
}

/* Appends len bytes to buf at *o if they fit; false if not. */
static bool
reply_put(char *buf, size_t cap, size_t *o, const char *p, size_t len)
{
    if (len > cap - *o)
        return false;
    memcpy(buf + *o, p, len);
    *o += len;
    return true;
}

size_t
smtp_reply_format(char *buf, size_t cap, enum smtp_reply_id id, const char *arg)
{
    const struct smtp_reply_def *d = smtp_reply_def(id);
    const char *hole = strstr(d->text, "%s");
    size_t o = 0;

    if (d->code == 1) {
        /* The whole line is the argument (its code checked by whoever made it). */
        bool fits = arg != NULL && reply_put(buf, cap, &o, arg, strlen(arg)) &&
                    reply_put(buf, cap, &o, "\r\n", 2);

        return fits ? o : 0;
    }
    char code[4] = {(char)('0' + d->code / 100), (char)('0' + d->code / 10 % 10),
                    (char)('0' + d->code % 10), ' '};
    bool ok = reply_put(buf, cap, &o, code, 4);

    if (d->enhanced != NULL) {
        ok = ok && reply_put(buf, cap, &o, d->enhanced, strlen(d->enhanced));
        ok = ok && reply_put(buf, cap, &o, " ", 1);
    }
    if (hole != NULL) {
        if (arg == NULL)
            log_panic("smtp_reply_format: reply %d needs an argument", (int)id);
        ok = ok && reply_put(buf, cap, &o, d->text, (size_t)(hole - d->text));
        ok = ok && reply_put(buf, cap, &o, arg, strlen(arg));
        ok = ok && reply_put(buf, cap, &o, hole + 2, strlen(hole + 2));
    } else {
        ok = ok && reply_put(buf, cap, &o, d->text, strlen(d->text));
    }
    ok = ok && reply_put(buf, cap, &o, "\r\n", 2);
    return ok ? o : 0;
}

int
smtp_reply_code(enum smtp_reply_id id, const char *arg)
{
    const struct smtp_reply_def *d = smtp_reply_def(id);

    if (d->code != 1)
        return d->code;
    return arg != NULL ? (arg[0] - '0') * 100 + (arg[1] - '0') * 10 + (arg[2] - '0') : 0;
}

const char *
smtp_reply_name(enum smtp_reply_id id)
{
    if ((unsigned)id >= R_REPLY_COUNT || names[id] == NULL)
        log_panic("reply %d has no name", (int)id);
    return names[id];
}
