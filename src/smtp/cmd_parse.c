/* SPDX-License-Identifier: MIT */
/*
 * Command lines and the arguments of MAIL, RCPT, HELO/EHLO and BDAT, by the
 * grammars of RFC 5321 4.1.1 and 4.1.2 and of the extensions we offer: SIZE
 * (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531 3.3, 3.4), DSN's RET,
 * ENVID, NOTIFY and ORCPT (RFC 3461 4, with RFC 6533 3 for utf-8 ORCPT) and
 * CHUNKING (RFC 3030 2). Addresses are left to addr.c. Each rule is one
 * function over a cursor; values are checked whole before anything is kept.
 * These are pure functions of their input: what a result means on a door
 * (limits, relay, whether SMTPUTF8 was offered) is the session's business.
 */
#include <string.h>

#include "lib/ascii.h"
#include "lib/num.h"
#include "lib/str.h"
#include "smtp/cmd_parse.h"
#include "smtp/utf8.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The longest verb we read: "STARTTLS" is 8; RFC 5321 4.1.1 verbs are 4. */
#define CMD_VERB_MAX 12
/* size-value ::= 1*20DIGIT   RFC 1870 3; chunk-size is held to the same. */
#define CMD_SIZE_DIGITS 20

static const struct {
    enum smtp_verb verb;
    const char *name;
} cmd_verbs[] = {
    {SMTP_VERB_HELO, "HELO"}, {SMTP_VERB_EHLO, "EHLO"},         {SMTP_VERB_MAIL, "MAIL"},
    {SMTP_VERB_RCPT, "RCPT"}, {SMTP_VERB_DATA, "DATA"},         {SMTP_VERB_BDAT, "BDAT"},
    {SMTP_VERB_RSET, "RSET"}, {SMTP_VERB_NOOP, "NOOP"},         {SMTP_VERB_QUIT, "QUIT"},
    {SMTP_VERB_VRFY, "VRFY"}, {SMTP_VERB_EXPN, "EXPN"},         {SMTP_VERB_HELP, "HELP"},
    {SMTP_VERB_AUTH, "AUTH"}, {SMTP_VERB_STARTTLS, "STARTTLS"}, {SMTP_VERB_ETRN, "ETRN"},
};

/* hexchar takes upper case only (RFC 3461 4). */
static bool
is_upper_hexdig(int ch)
{
    return is_digit(ch) || (ch >= 'A' && ch <= 'F');
}

static unsigned
hex_value(int ch)
{
    if (is_digit(ch))
        return (unsigned)(ch - '0');
    return (unsigned)((ch | 0x20) - 'a' + 10);
}

static size_t
span_from(const char *start, const struct cursor *c)
{
    return (size_t)(c->p - start);
}

/* ---- the command line ------------------------------------------------ */

/* RFC 5321 2.3.8: CR and LF appear only as the CRLF that ends a line, and
 * a NUL is never part of a command. */
static bool
cmd_has_forbidden(struct slice line)
{
    for (size_t i = 0; i < line.len; i++) {
        if (line.p[i] == '\0' || line.p[i] == '\r' || line.p[i] == '\n')
            return true;
    }
    return false;
}

/*
 * command = verb [ SP argument ]; verb = 1*12ALPHA          RFC 5321 4.1.1
 * (RFC 5321 names verbs of four letters; STARTTLS has eight.) The argument
 * is the rest of the line, spaces and all: its own grammar judges it.
 */
int
smtp_cmd_parse(struct slice line, struct smtp_cmd *out)
{
    struct cursor c;
    struct slice verb;

    memset(out, 0, sizeof *out);
    if (line.len == 0 || cmd_has_forbidden(line))
        return -1;
    cursor_init(&c, line);
    while (span_from(line.p, &c) < CMD_VERB_MAX && is_alpha(cursor_peek(&c)))
        c.p++;
    verb = slice_make(line.p, span_from(line.p, &c));
    if (verb.len == 0)
        return -1;
    if (!cursor_at_end(&c)) {
        if (!cursor_take(&c, ' '))
            return -1;
        out->has_arg = true;
    }
    out->arg = slice_make(c.p, cursor_left(&c));
    for (size_t i = 0; i < ARRAY_LEN(cmd_verbs); i++) {
        if (slice_eq_ci(verb, cmd_verbs[i].name))
            out->verb = cmd_verbs[i].verb;
    }
    return 0;
}

size_t
smtp_cmd_line_cap(enum smtp_verb verb)
{
    switch (verb) {
    case SMTP_VERB_MAIL:
        return CAP_MAIL_LINE;
    case SMTP_VERB_RCPT:
        return CAP_RCPT_LINE;
    case SMTP_VERB_AUTH:
        return CAP_AUTH_LINE;
    default:
        return CAP_CMD_LINE;
    }
}

const char *
smtp_verb_name(enum smtp_verb verb)
{
    for (size_t i = 0; i < ARRAY_LEN(cmd_verbs); i++) {
        if (cmd_verbs[i].verb == verb)
            return cmd_verbs[i].name;
    }
    return "?";
}

/* ---- ESMTP parameters ------------------------------------------------ */

struct cmd_param {
    struct slice keyword;
    struct slice value; /* len 0 when there is no "=" */
    bool has_value;
};

/* Checks one known parameter and stores it in out (a struct smtp_mail or
 * smtp_rcpt). Returns SMTP_ARG_OK or SMTP_ARG_PARAM_SYNTAX. */
typedef enum smtp_arg_result cmd_param_fn(const struct cmd_param *p, void *out);

struct cmd_param_def {
    const char *keyword;
    cmd_param_fn *apply;
};

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")   RFC 5321 4.1.2 */
static int
cmd_esmtp_keyword(struct cursor *c, struct slice *kw)
{
    kw->p = c->p;
    if (!is_alpha(cursor_peek(c)) && !is_digit(cursor_peek(c)))
        return -1;
    while (is_alpha(cursor_peek(c)) || is_digit(cursor_peek(c)) || cursor_peek(c) == '-')
        c->p++;
    kw->len = span_from(kw->p, c);
    return 0;
}

/*
 * esmtp-value = 1*(%d33-60 / %d62-126)                    RFC 5321 4.1.2
 * esmtp-value =/ UTF8-non-ascii                            RFC 6531 3.3
 */
static int
cmd_esmtp_value(struct cursor *c, struct slice *v)
{
    v->p = c->p;
    for (;;) {
        int ch = cursor_peek(c);

        if (ch >= 33 && ch <= 126 && ch != '=')
            c->p++;
        else if (ch < 0x80 || !smtp_utf8_take_non_ascii(c))
            break;
    }
    v->len = span_from(v->p, c);
    return v->len > 0 ? 0 : -1;
}

/* esmtp-param = esmtp-keyword ["=" esmtp-value]   RFC 5321 4.1.2; it ends
 * where the line does or a SP follows. */
static int
cmd_esmtp_param(struct cursor *c, struct cmd_param *p)
{
    memset(p, 0, sizeof *p);
    if (cmd_esmtp_keyword(c, &p->keyword) == -1)
        return -1;
    if (cursor_take(c, '=')) {
        if (cmd_esmtp_value(c, &p->value) == -1)
            return -1;
        p->has_value = true;
    }
    return cursor_at_end(c) || cursor_peek(c) == ' ' ? 0 : -1;
}

/*
 * Mail-parameters = esmtp-param *(SP esmtp-param)
 * Rcpt-parameters = esmtp-param *(SP esmtp-param)          RFC 5321 4.1.2
 * The parameters follow the path after a SP. More SPs between them, or at
 * the end, are tolerated: they change no meaning. A known keyword may come
 * once (RFC 1870 3, RFC 3461 4: each names a single value). A malformed
 * parameter is reported before an unknown one.
 */
static enum smtp_arg_result
cmd_params(struct cursor *c, const struct cmd_param_def *defs, size_t ndefs, void *out)
{
    unsigned seen = 0;
    bool unknown = false;

    while (!cursor_at_end(c)) {
        struct cmd_param p;
        enum smtp_arg_result r;
        size_t i;

        if (!cursor_take(c, ' '))
            return SMTP_ARG_SYNTAX;
        while (cursor_take(c, ' '))
            continue;
        if (cursor_at_end(c))
            break;
        if (cmd_esmtp_param(c, &p) == -1)
            return SMTP_ARG_PARAM_SYNTAX;
        for (i = 0; i < ndefs && !slice_eq_ci(p.keyword, defs[i].keyword); i++)
            continue;
        if (i == ndefs) {
            unknown = true;
            continue;
        }
        if (seen & (1u << i))
            return SMTP_ARG_PARAM_SYNTAX;
        seen |= 1u << i;
        r = defs[i].apply(&p, out);
        if (r != SMTP_ARG_OK)
            return r;
    }
    return unknown ? SMTP_ARG_PARAM_UNKNOWN : SMTP_ARG_OK;
}

/*
 * xtext = *( xchar / hexchar )
 * xchar = any ASCII CHAR between "!" (33) and "~" (126) inclusive,
 *         except for "+" and "="
 * hexchar = ASCII "+" immediately followed by two upper case
 *           hexadecimal digits                              RFC 3461 4
 * Takes as much xtext as there is; the caller checks what follows.
 */
static void
cmd_xtext(struct cursor *c)
{
    for (;;) {
        int ch = cursor_peek(c);

        if (ch >= 33 && ch <= 126 && ch != '+' && ch != '=') {
            c->p++;
        } else if (ch == '+' && cursor_left(c) >= 3 && is_upper_hexdig(c->p[1]) &&
                   is_upper_hexdig(c->p[2])) {
            c->p += 3;
        } else {
            return;
        }
    }
}

/* True when v is all xtext (RFC 3461 4). */
static bool
cmd_is_xtext(struct slice v)
{
    struct cursor c;

    if (v.len == 0)
        return true;
    cursor_init(&c, v);
    cmd_xtext(&c);
    return cursor_at_end(&c);
}

/* size-value ::= 1*20DIGIT   RFC 1870 3; it must fit our counter too. */
static int
cmd_size_value(struct slice v, uint64_t *out)
{
    if (v.len == 0 || v.len > CMD_SIZE_DIGITS)
        return -1;
    return num_parse_u64(v, 0, UINT64_MAX, out);
}

/* SIZE=size-value   RFC 1870 3 */
static enum smtp_arg_result
mail_size(const struct cmd_param *p, void *arg)
{
    struct smtp_mail *out = arg;

    if (!p->has_value || cmd_size_value(p->value, &out->size) == -1)
        return SMTP_ARG_PARAM_SYNTAX;
    out->has_size = true;
    return SMTP_ARG_OK;
}

/* body-value ::= "7BIT" / "8BITMIME"   RFC 6152 2 (BINARYMIME, RFC 3030 3,
 * is not offered, so it is as wrong as any other value). */
static enum smtp_arg_result
mail_body(const struct cmd_param *p, void *arg)
{
    struct smtp_mail *out = arg;

    if (!p->has_value)
        return SMTP_ARG_PARAM_SYNTAX;
    if (slice_eq_ci(p->value, "7BIT"))
        out->body = SMTP_BODY_7BIT;
    else if (slice_eq_ci(p->value, "8BITMIME"))
        out->body = SMTP_BODY_8BITMIME;
    else
        return SMTP_ARG_PARAM_SYNTAX;
    return SMTP_ARG_OK;
}

/* SMTPUTF8, without a value   RFC 6531 3.4 */
static enum smtp_arg_result
mail_smtputf8(const struct cmd_param *p, void *arg)
{
    struct smtp_mail *out = arg;

    if (p->has_value)
        return SMTP_ARG_PARAM_SYNTAX;
    out->smtputf8 = true;
    return SMTP_ARG_OK;
}

/* ret-parameter = "RET=" ("FULL" / "HDRS")   RFC 3461 4.3 */
static enum smtp_arg_result
mail_ret(const struct cmd_param *p, void *arg)
{
    struct smtp_mail *out = arg;

    if (!p->has_value)
        return SMTP_ARG_PARAM_SYNTAX;
    if (slice_eq_ci(p->value, "FULL"))
        out->ret = SMTP_RET_FULL;
    else if (slice_eq_ci(p->value, "HDRS"))
        out->ret = SMTP_RET_HDRS;
    else
        return SMTP_ARG_PARAM_SYNTAX;
    return SMTP_ARG_OK;
}

/* envid-parameter = "ENVID=" xtext, at most 100 characters   RFC 3461 4.4 */
static enum smtp_arg_result
mail_envid(const struct cmd_param *p, void *arg)
{
    struct smtp_mail *out = arg;

    if (!p->has_value || p->value.len > CAP_ENVID || !cmd_is_xtext(p->value))
        return SMTP_ARG_PARAM_SYNTAX;
    if (str_copy(out->envid, sizeof out->envid, p->value.p, p->value.len) == -1)
        return SMTP_ARG_PARAM_SYNTAX;
    out->has_envid = true;
    return SMTP_ARG_OK;
}

/*
 * auth-param = "AUTH=" xtext, "<>" included           RFC 4954 5
 * Taken and then ignored: the session decides whether the door offers AUTH
 * at all (else 555), and a server that does not trust the submitter's
 * identity treats it as AUTH=<> (5), which for us is the same as nothing.
 */
static enum smtp_arg_result
mail_auth(const struct cmd_param *p, void *arg)
{
    struct smtp_mail *out = arg;

    if (!p->has_value || p->value.len > CAP_AUTH_PARAM || !cmd_is_xtext(p->value) || out->has_auth)
        return SMTP_ARG_PARAM_SYNTAX;
    out->has_auth = true;
    return SMTP_ARG_OK;
}

/* What MAIL takes. */
static const struct cmd_param_def mail_params[] = {
    {"SIZE", mail_size}, {"BODY", mail_body},   {"SMTPUTF8", mail_smtputf8},
    {"RET", mail_ret},   {"ENVID", mail_envid}, {"AUTH", mail_auth},
};

/*
 * notify-esmtp-value = "NEVER" / 1#notify-list-element
 * notify-list-element = "SUCCESS" / "FAILURE" / "DELAY"    RFC 3461 4.1
 * Case is ignored; an element may come once, and NEVER only alone. An
 * empty element (",,") is refused.
 */
static enum smtp_arg_result
rcpt_notify(const struct cmd_param *p, void *arg)
{
    struct smtp_rcpt *out = arg;
    struct cursor c;

    if (!p->has_value)
        return SMTP_ARG_PARAM_SYNTAX;
    if (slice_eq_ci(p->value, "NEVER")) {
        out->notify = SMTP_NOTIFY_NEVER;
        return SMTP_ARG_OK;
    }
    cursor_init(&c, p->value);
    do {
        unsigned bit;

        if (cursor_take_ci(&c, "SUCCESS"))
            bit = SMTP_NOTIFY_SUCCESS;
        else if (cursor_take_ci(&c, "FAILURE"))
            bit = SMTP_NOTIFY_FAILURE;
        else if (cursor_take_ci(&c, "DELAY"))
            bit = SMTP_NOTIFY_DELAY;
        else
            return SMTP_ARG_PARAM_SYNTAX;
        if (out->notify & bit)
            return SMTP_ARG_PARAM_SYNTAX;
        out->notify |= bit;
    } while (cursor_take(&c, ','));
    return cursor_at_end(&c) ? SMTP_ARG_OK : SMTP_ARG_PARAM_SYNTAX;
}

/* atom = 1*atext, atext of RFC 5322 3.2.3 (the RFC 822 atom that RFC 3461
 * 4.2 names for addr-type), ASCII only. */
static int
cmd_atom(struct cursor *c)
{
    const char *start = c->p;

    for (;;) {
        int ch = cursor_peek(c);

        if (is_alpha(ch) || is_digit(ch) || (ch > 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch)))
            c->p++;
        else
            break;
    }
    return c->p > start ? 0 : -1;
}

/*
 * HEXPOINT = ( ( "0"/"1" ) %x31-39 ) / "10" / "20" /
 *            "2B" / "3D" / "7F" /          ; all xtext-specials
 *            "5C" / (HEXDIG8 HEXDIG) /     ; 2-digit forms
 *            ( NZHEXDIG 2(HEXDIG) ) /      ; 3-digit forms
 *            ( NZDHEXDIG 3(HEXDIG) ) /     ; 4-digit forms excluding
 *            ( "D" %x30-37 2(HEXDIG) ) /   ; ... surrogate
 *            ( NZHEXDIG 4(HEXDIG) ) /      ; 5-digit forms
 *            ( "10" 4*HEXDIG )             ; 6-digit forms   RFC 6533 3
 * That is: no leading zero past two digits, no surrogate, nothing over
 * U+10FFFF, and of the two-digit forms only the ones listed.
 */
static int
cmd_hexpoint(struct cursor *c)
{
    const char *start = c->p;
    unsigned long v = 0;
    size_t n;

    while (span_from(start, c) < 6 && is_hexdig(cursor_peek(c))) {
        v = v * 16 + hex_value(cursor_peek(c));
        c->p++;
    }
    n = span_from(start, c);
    if (n == 2)
        return (v >= 0x01 && v <= 0x09) || (v >= 0x10 && v <= 0x19) || v == 0x20 || v == 0x2b ||
                       v == 0x3d || v == 0x7f || v == 0x5c || v >= 0x80
                   ? 0
                   : -1;
    if (n < 3 || start[0] == '0')
        return -1;
    return (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff ? -1 : 0;
}

/*
 * QUCHAR = QCHAR / UTF8-2 / UTF8-3 / UTF8-4
 * QCHAR = %x21-2a / %x2c-3c / %x3e-5b / %x5d-7e
 * EmbeddedUnicodeChar = %x5C.78 "{" HEXPOINT "}"            RFC 6533 3
 */
static int
cmd_quchar(struct cursor *c)
{
    int ch = cursor_peek(c);

    if (ch == '\\') {
        struct cursor save = *c;

        if (cursor_take(c, '\\') && cursor_take(c, 'x') && cursor_take(c, '{') &&
            cmd_hexpoint(c) == 0 && cursor_take(c, '}'))
            return 0;
        *c = save;
        return -1;
    }
    if (ch >= 0x80)
        return smtp_utf8_take_non_ascii(c) ? 0 : -1;
    if (ch < 0x21 || ch > 0x7e || ch == '+' || ch == '=')
        return -1;
    c->p++;
    return 0;
}

/*
 * utf-8-enc-addr = utf-8-addr-xtext / utf-8-addr-unitext / utf-8-address
 * utf-8-addr-xtext = 1*(QCHAR / EmbeddedUnicodeChar)
 * utf-8-addr-unitext = 1*(QUCHAR / EmbeddedUnicodeChar)
 * utf-8-address = Mailbox                                   RFC 6533 3
 * The xtext form is the 7-bit subset of the unitext form. Whether the
 * unitext form is allowed (SMTPUTF8 offered) is the session's question.
 */
static int
cmd_utf8_enc_addr(struct cursor *c)
{
    if (smtp_addr_is_mailbox(c->p, cursor_left(c))) {
        c->p = c->end;
        return 0;
    }
    if (cmd_quchar(c) == -1)
        return -1;
    while (cmd_quchar(c) == 0)
        continue;
    return 0;
}

/*
 * orcpt-parameter = "ORCPT=" original-recipient-address
 * original-recipient-address = addr-type ";" xtext
 * addr-type = atom                                          RFC 3461 4.2
 * utf-8-type-addr = "utf-8;" utf-8-enc-addr                 RFC 6533 3
 * The whole value is held to CAP_ORCPT before it is looked at.
 */
static enum smtp_arg_result
rcpt_orcpt(const struct cmd_param *p, void *arg)
{
    struct smtp_rcpt *out = arg;
    struct slice type;
    struct cursor c;

    if (!p->has_value || p->value.len > CAP_ORCPT)
        return SMTP_ARG_PARAM_SYNTAX;
    cursor_init(&c, p->value);
    type.p = c.p;
    if (cmd_atom(&c) == -1)
        return SMTP_ARG_PARAM_SYNTAX;
    type.len = span_from(type.p, &c);
    if (!cursor_take(&c, ';'))
        return SMTP_ARG_PARAM_SYNTAX;
    if (slice_eq_ci(type, "utf-8")) {
        if (cmd_utf8_enc_addr(&c) == -1)
            return SMTP_ARG_PARAM_SYNTAX;
    } else {
        cmd_xtext(&c);
    }
    if (!cursor_at_end(&c))
        return SMTP_ARG_PARAM_SYNTAX;
    if (str_copy(out->orcpt, sizeof out->orcpt, p->value.p, p->value.len) == -1)
        return SMTP_ARG_PARAM_SYNTAX;
    out->has_orcpt = true;
    return SMTP_ARG_OK;
}

/* What RCPT takes. */
static const struct cmd_param_def rcpt_params[] = {
    {"NOTIFY", rcpt_notify},
    {"ORCPT", rcpt_orcpt},
};

/* ---- MAIL and RCPT --------------------------------------------------- */

/*
 * True when a '>' closes the '<' at c: the first '>' outside a
 * Quoted-string, with no other '<' before it. Only used to tell a garbled
 * argument (SMTP_ARG_SYNTAX) from a bad address (SMTP_ARG_ADDR_SYNTAX);
 * what is accepted is decided by the address grammar alone.
 */
static bool
cmd_path_closed(const struct cursor *c)
{
    bool quoted = false;

    if (cursor_peek(c) != '<')
        return false;
    for (const char *p = c->p + 1; p < c->end; p++) {
        if (quoted && *p == '\\') {
            if (c->end - p < 2)
                return false;
            p++;
        } else if (*p == '"') {
            quoted = !quoted;
        } else if (!quoted && *p == '>') {
            return true;
        } else if (!quoted && *p == '<') {
            return false;
        }
    }
    return false;
}

/* Reverse-path / Forward-path after "FROM:" / "TO:" (RFC 5321 4.1.2).
 * SPs before it are a common client habit that changes no meaning. */
static enum smtp_arg_result
cmd_path(struct cursor *c, unsigned flags, struct smtp_addr *out)
{
    while (cursor_take(c, ' '))
        continue;
    if (!cmd_path_closed(c))
        return SMTP_ARG_SYNTAX;
    switch (smtp_addr_parse_path(c, flags, out)) {
    case SMTP_ADDR_OK:
        return SMTP_ARG_OK;
    case SMTP_ADDR_LOCAL_TOO_LONG:
        return SMTP_ARG_LOCAL_TOO_LONG;
    case SMTP_ADDR_DOMAIN_TOO_LONG:
        return SMTP_ARG_DOMAIN_TOO_LONG;
    case SMTP_ADDR_SYNTAX:
        break;
    }
    return SMTP_ARG_ADDR_SYNTAX;
}

/* mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF
 *                                                RFC 5321 4.1.1.2 */
enum smtp_arg_result
smtp_parse_mail(struct slice arg, struct smtp_mail *out)
{
    struct cursor c;
    enum smtp_arg_result r;

    memset(out, 0, sizeof *out);
    if (arg.len == 0)
        return SMTP_ARG_SYNTAX;
    cursor_init(&c, arg);
    if (!cursor_take_ci(&c, "FROM:"))
        return SMTP_ARG_SYNTAX;
    r = cmd_path(&c, SMTP_PATH_NULL_OK, &out->from);
    if (r == SMTP_ARG_OK)
        r = cmd_params(&c, mail_params, ARRAY_LEN(mail_params), out);
    /* RFC 6531 3.4: a non-ASCII reverse path needs SMTPUTF8 on MAIL. */
    if (r == SMTP_ARG_OK && out->from.has_utf8 && !out->smtputf8)
        r = SMTP_ARG_UTF8_NOT_ALLOWED;
    return r;
}

/* rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
 *        Forward-path ) [SP Rcpt-parameters] CRLF       RFC 5321 4.1.1.3
 * "<Postmaster@" Domain ">" is an ordinary Forward-path here. */
enum smtp_arg_result
smtp_parse_rcpt(struct slice arg, struct smtp_rcpt *out)
{
    struct cursor c;
    enum smtp_arg_result r;

    memset(out, 0, sizeof *out);
    if (arg.len == 0)
        return SMTP_ARG_SYNTAX;
    cursor_init(&c, arg);
    if (!cursor_take_ci(&c, "TO:"))
        return SMTP_ARG_SYNTAX;
    r = cmd_path(&c, SMTP_PATH_POSTMASTER_OK, &out->to);
    if (r == SMTP_ARG_OK)
        r = cmd_params(&c, rcpt_params, ARRAY_LEN(rcpt_params), out);
    return r;
}

/* ehlo = "EHLO" SP ( Domain / address-literal ) CRLF
 * helo = "HELO" SP Domain CRLF                     RFC 5321 4.1.1.1
 * HELO takes a literal too, as RFC 5321 4.1.4 tells a client without a
 * meaningful name to send one. No U-labels: before the EHLO reply a client
 * cannot know that SMTPUTF8 is offered, so its name goes as A-labels. */
int
smtp_parse_helo(struct slice arg)
{
    if (arg.len == 0 || arg.len > CAP_HELO)
        return -1;
    if (arg.p[0] == '[')
        return smtp_addr_is_literal(arg.p, arg.len) ? 0 : -1;
    return smtp_addr_is_domain(arg.p, arg.len, false) ? 0 : -1;
}

/* bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CR LF
 * chunk-size = 1*DIGIT; end-marker = "LAST"                 RFC 3030 2 */
int
smtp_parse_bdat(struct slice arg, uint64_t *size, bool *last)
{
    struct cursor c;
    struct slice digits;
    uint64_t n;
    bool is_last = false;

    *size = 0;
    *last = false;
    if (arg.len == 0)
        return -1;
    cursor_init(&c, arg);
    digits.p = c.p;
    while (span_from(digits.p, &c) <= CMD_SIZE_DIGITS && is_digit(cursor_peek(&c)))
        c.p++;
    digits.len = span_from(digits.p, &c);
    if (cmd_size_value(digits, &n) == -1)
        return -1;
    if (cursor_take(&c, ' ')) {
        if (!cursor_take_ci(&c, "LAST"))
            return -1;
        is_last = true;
    }
    if (!cursor_at_end(&c))
        return -1;
    *size = n;
    *last = is_last;
    return 0;
}
