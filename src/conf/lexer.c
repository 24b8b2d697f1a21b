/* SPDX-License-Identifier: MIT */
/*
 * The configuration lexer: lines of words, quoted strings and braces, with
 * line numbers (grammar in lexer.h). One function per rule: lex_line() takes
 * the raw line, lex_word() and lex_string() one token each. Nothing here
 * knows a key; parse.c gives the tokens their meaning.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "conf/lexer.h"
#include "lib/str.h"

void
conf_lex_init(struct conf_lexer *lx, const char *text, size_t len)
{
    cursor_init(&lx->in, slice_make(text, len));
    lx->line = 0;
    lx->why[0] = '\0';
}

static bool
is_wsp(int ch)
{
    return ch == ' ' || ch == '\t';
}

static bool
is_ctl(int ch)
{
    return (ch >= 0 && ch < 0x20) || ch == 0x7f;
}

/* word = 1*( any octet but WSP, CTL, '{', '}', '#', '"' ) */
static bool
is_word_octet(int ch)
{
    return ch >= 0 && !is_wsp(ch) && !is_ctl(ch) && ch != '{' && ch != '}' && ch != '#' &&
           ch != '"';
}

static int
lex_fail(struct conf_lexer *lx, const char *why)
{
    (void)str_copyz(lx->why, sizeof lx->why, why);
    return -1;
}

/* Appends one token whose decoded text starts at *used in out->buf. */
static int
lex_push(struct conf_lexer *lx, struct conf_line *out, enum conf_tok kind, size_t start,
         size_t *used)
{
    if (out->n == CONF_TOKENS_MAX) {
        (void)str_fmt(lx->why, sizeof lx->why, "too many values on one line (at most %d)",
                      CONF_TOKENS_MAX);
        return -1;
    }
    out->buf[(*used)++] = '\0';
    out->tok[out->n].kind = kind;
    out->tok[out->n].text = slice_make(out->buf + start, *used - 1 - start);
    out->n++;
    return 0;
}

/* word: copies the octets up to the next delimiter. */
static int
lex_word(struct conf_lexer *lx, struct cursor *c, struct conf_line *out, size_t *used)
{
    size_t start = *used;

    while (is_word_octet(cursor_peek(c)))
        out->buf[(*used)++] = *c->p++;
    if (cursor_peek(c) == '"')
        return lex_fail(lx, "unexpected '\"' inside a word (quote the whole value)");
    return lex_push(lx, out, CONF_TOK_WORD, start, used);
}

/* string = DQUOTE *( char / "\" DQUOTE / "\\" ) DQUOTE */
static int
lex_string(struct conf_lexer *lx, struct cursor *c, struct conf_line *out, size_t *used)
{
    size_t start = *used;
    int ch;

    c->p++; /* the opening quote */
    for (;;) {
        ch = cursor_peek(c);
        if (ch == -1)
            return lex_fail(lx, "unterminated string (missing closing '\"')");
        c->p++;
        if (ch == '"')
            break;
        if (ch == '\\') {
            ch = cursor_peek(c);
            if (ch != '"' && ch != '\\')
                return lex_fail(lx, "unknown escape in string (only \\\" and \\\\ are escapes)");
            c->p++;
        }
        out->buf[(*used)++] = (char)ch;
    }
    ch = cursor_peek(c);
    if (ch != -1 && !is_wsp(ch) && ch != '#' && ch != '{' && ch != '}')
        return lex_fail(lx, "expected a space after the closing '\"'");
    return lex_push(lx, out, CONF_TOK_STRING, start, used);
}

/* Control octets are refused anywhere on the line, comments included. */
static int
lex_check_octets(struct conf_lexer *lx, struct slice raw)
{
    for (size_t i = 0; i < raw.len; i++) {
        int ch = (unsigned char)raw.p[i];

        if (ch == 0)
            return lex_fail(lx, "NUL byte in the file (is it a text file?)");
        if (ch != '\t' && is_ctl(ch)) {
            (void)str_fmt(lx->why, sizeof lx->why,
                          "control character 0x%02x in the file (is it a text file?)", ch);
            return -1;
        }
    }
    return 0;
}

/* line = *WSP [ token *( 1*WSP token ) ] *WSP [ comment ] */
static int
lex_tokens(struct conf_lexer *lx, struct slice raw, struct conf_line *out)
{
    struct cursor c;
    size_t used = 0;
    int ch;

    cursor_init(&c, raw);
    out->n = 0;
    for (;;) {
        while (is_wsp(cursor_peek(&c)))
            c.p++;
        ch = cursor_peek(&c);
        if (ch == -1 || ch == '#')
            return 0;
        if (ch == '{' || ch == '}') {
            c.p++;
            if (lex_push(lx, out, ch == '{' ? CONF_TOK_OPEN : CONF_TOK_CLOSE, used, &used) == -1)
                return -1;
        } else if (ch == '"') {
            if (lex_string(lx, &c, out, &used) == -1)
                return -1;
        } else if (lex_word(lx, &c, out, &used) == -1) {
            return -1;
        }
    }
}

int
conf_lex_line(struct conf_lexer *lx, struct conf_line *out)
{
    while (!cursor_at_end(&lx->in)) {
        const char *lf = memchr(lx->in.p, '\n', cursor_left(&lx->in));
        struct slice raw =
            slice_make(lx->in.p, lf ? (size_t)(lf - lx->in.p) : cursor_left(&lx->in));

        lx->line++;
        lx->in.p += raw.len + (lf ? 1 : 0);
        /* A file saved on Windows ends its lines with CRLF. */
        if (raw.len > 0 && raw.p[raw.len - 1] == '\r')
            raw.len--;
        if (raw.len > CONF_LINE_MAX) {
            (void)str_fmt(lx->why, sizeof lx->why, "line too long (more than %d octets)",
                          CONF_LINE_MAX);
            return -1;
        }
        if (lx->line == 1 && raw.len >= 3 && memcmp(raw.p, "\xef\xbb\xbf", 3) == 0)
            return lex_fail(lx, "the file starts with a byte order mark; save it without one");
        if (lex_check_octets(lx, raw) == -1 || lex_tokens(lx, raw, out) == -1)
            return -1;
        if (out->n > 0) {
            out->number = lx->line;
            return 1;
        }
    }
    return 0;
}
