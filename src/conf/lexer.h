/* SPDX-License-Identifier: MIT */
/*
 * Private to src/conf: the lexer cuts the configuration file into lines of
 * tokens, each line with its number. It knows words, quoted strings, '{',
 * '}' and comments; what the tokens mean is parse.c's business.
 *
 *   line    = *WSP [ token *( 1*WSP token ) ] *WSP [ comment ] ( LF / CRLF / end )
 *   token   = word / string / "{" / "}"
 *   word    = 1*( any octet but WSP, CTL, '{', '}', '#', '"' )
 *   string  = DQUOTE *( any octet but CTL, '"', '\' / "\" DQUOTE / "\\" ) DQUOTE
 *   comment = "#" *( any octet but CTL )
 *   WSP     = SP / HTAB
 *
 * Whitespace between '{' or '}' and a neighbouring word may be left out
 * ("listen inbound{"); a string must be set apart from a word by
 * whitespace. Control octets (NUL included) are errors anywhere, and a line
 * longer than CONF_LINE_MAX octets is an error, so that a binary or
 * truncated file fails with a clear message instead of odd keys.
 */
#ifndef GATE26_CONF_LEXER_H
#define GATE26_CONF_LEXER_H

#include <stddef.h>

#include "lib/cursor.h"
#include "lib/slice.h"

/* The longest line, without its LF, and the most tokens on one line. */
#define CONF_LINE_MAX   16384
#define CONF_TOKENS_MAX 1024
/* The largest file conf_load() reads. */
#define CONF_FILE_MAX (16 * 1024 * 1024)

enum conf_tok {
    CONF_TOK_WORD,   /* bare word */
    CONF_TOK_STRING, /* "quoted", escapes decoded */
    CONF_TOK_OPEN,   /* { */
    CONF_TOK_CLOSE,  /* } */
};

struct conf_token {
    enum conf_tok kind;
    struct slice text; /* decoded; NUL-terminated in the line's buffer */
};

/* One line that holds at least one token. */
struct conf_line {
    unsigned number; /* 1-based */
    size_t n;
    struct conf_token tok[CONF_TOKENS_MAX];
    /* Decoded token text, each followed by a NUL: never more than the line. */
    char buf[CONF_LINE_MAX + CONF_TOKENS_MAX];
};

/* The text of token i of a line (0 is the key; values follow). */
static inline struct slice
conf_arg(const struct conf_line *l, size_t i)
{
    return l->tok[i].text;
}

struct conf_lexer {
    struct cursor in; /* the rest of the file */
    unsigned line;    /* number of the line read last */
    char why[256];    /* the error, without FILE:LINE */
};

/* Starts lexing text (len octets, borrowed for the lexer's life). */
void conf_lex_init(struct conf_lexer *lx, const char *text, size_t len);

/*
 * Reads the next line that has a token into out, skipping blank and
 * comment-only lines. Returns 1 with a line, 0 at the end of the file
 * (lx->line is then the number of the last line, 0 for an empty file), or -1
 * with the reason in lx->why and the offending line in lx->line.
 */
int conf_lex_line(struct conf_lexer *lx, struct conf_line *out);

#endif
