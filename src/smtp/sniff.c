/* SPDX-License-Identifier: MIT */
/*
 * The sniffer of a client's first bytes (sniff.h). The order of the tests
 * matters: the signatures that are not text (TLS, PROXY v2) first, then
 * the first line's words (PROXY v1, SSH, an HTTP request line, an SMTP
 * verb), then binary octets in that line.
 */
#include <string.h>

#include "lib/ascii.h"
#include "smtp/sniff.h"

/* HAProxy's PROXY protocol v2 signature (proxy-protocol.txt 2.2). */
static const unsigned char proxy_v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                               0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* The verbs of RFC 5321 4.1.1 and its extensions (and LHLO, RFC 2033): an SMTP client's. */
static const char *const smtp_verbs[] = {"HELO", "EHLO", "LHLO", "MAIL", "RCPT",     "DATA",
                                         "BDAT", "RSET", "NOOP", "QUIT", "VRFY",     "EXPN",
                                         "HELP", "AUTH", "ETRN", "TURN", "STARTTLS", "ATRN"};

/* The request methods of RFC 9110 9.3 and PATCH (RFC 5789); PRI starts HTTP/2's preface. */
static const char *const http_methods[] = {"GET",   "POST",    "HEAD",   "PUT",   "OPTIONS",
                                           "TRACE", "CONNECT", "DELETE", "PATCH", "PRI"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const char *const kind_names[] = {"more", "smtp", "http", "tls", "ssh", "proxy", "binary"};

const char *
sniff_kind_name(enum sniff_kind kind)
{
    return (unsigned)kind < N_OF(kind_names) ? kind_names[kind] : "?";
}

/* Is p (len octets) a case-insensitive match of word, whole? */
static bool
word_is(const unsigned char *p, size_t len, const char *word)
{
    size_t n = strlen(word);

    if (len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i] >= 'a' && p[i] <= 'z' ? (unsigned char)(p[i] - 'a' + 'A') : p[i];

        if (c != (unsigned char)word[i])
            return false;
    }
    return true;
}

static bool
in_list(const unsigned char *p, size_t len, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (word_is(p, len, list[i]))
            return true;
    }
    return false;
}

/* True when p starts with s exactly (case matters: "SSH-", "PROXY "). */
static bool
has_prefix(const unsigned char *p, size_t len, const char *s)
{
    size_t n = strlen(s);

    return len >= n && memcmp(p, s, n) == 0;
}

static bool
is_binary(unsigned char c)
{
    return (c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c >= 0x7f;
}

/*
 * request-line = method SP request-target SP HTTP-version (RFC 9112 3),
 * HTTP-version = "HTTP/" DIGIT "." DIGIT; the target is any run of visible
 * octets. line is the whole line without its CR LF.
 */
static bool
is_request_line(const unsigned char *p, size_t len)
{
    size_t sp1, sp2;

    for (sp1 = 0; sp1 < len && p[sp1] != ' '; sp1++)
        ;
    if (sp1 == len || !in_list(p, sp1, http_methods, N_OF(http_methods)))
        return false;
    for (sp2 = sp1 + 1; sp2 < len && p[sp2] > 0x20 && p[sp2] < 0x7f; sp2++)
        ;
    if (sp2 == sp1 + 1 || sp2 == len || p[sp2] != ' ')
        return false;
    p += sp2 + 1;
    len -= sp2 + 1;
    return len == 8 && memcmp(p, "HTTP/", 5) == 0 && is_digit(p[5]) && p[6] == '.' &&
           is_digit(p[7]);
}

enum sniff_kind
sniff_input(const unsigned char *p, size_t len, bool final)
{
    size_t line, word;
    bool ended;

    if (len > SNIFF_WINDOW)
        len = SNIFF_WINDOW;
    if (len == 0)
        return final ? SNIFF_SMTP : SNIFF_MORE;

    /* TLS: a handshake record of TLS 1.0 to 1.3 (and SSL 3.0's 0x0300). */
    if (p[0] == 0x16) {
        if (len < 3 && !final)
            return SNIFF_MORE;
        if (len >= 3 && p[1] == 0x03 && p[2] <= 0x04)
            return SNIFF_TLS;
        return SNIFF_BINARY; /* 0x16 is binary anyway */
    }
    /* PROXY v2. Its signature starts with empty lines ("\r\n"): input that may still become
       it waits (an empty line is answered once the next octet shows it is one); at the end,
       a cut signature is one once its NUL says it was never text. */
    if (len >= sizeof(proxy_v2_sig) && memcmp(p, proxy_v2_sig, sizeof(proxy_v2_sig)) == 0)
        return SNIFF_PROXY;
    if (len < sizeof(proxy_v2_sig) && memcmp(p, proxy_v2_sig, len) == 0 && (!final || len >= 5))
        return final ? SNIFF_PROXY : SNIFF_MORE;

    /* The first line, up to its LF (a CR before it is the line's end too). */
    for (line = 0; line < len && p[line] != '\n'; line++)
        ;
    ended = line < len || final || len == SNIFF_WINDOW;
    if (line > 0 && line < len && p[line - 1] == '\r')
        line--;
    for (word = 0; word < line && p[word] != ' ' && p[word] != '\r'; word++)
        ;

    if (has_prefix(p, line, "PROXY "))
        return SNIFF_PROXY;
    if (has_prefix(p, line, "SSH-"))
        return SNIFF_SSH;
    if (word < line && p[word] == ' ' && in_list(p, word, http_methods, N_OF(http_methods))) {
        /* A method and SP: a request line if it ends as one. */
        if (!ended)
            return SNIFF_MORE;
        if (is_request_line(p, line))
            return SNIFF_HTTP;
    }
    /* A verb of ours, whole: SMTP, for the command's parser to judge (EHLO may carry UTF-8). */
    if ((word < line || ended) && in_list(p, word, smtp_verbs, N_OF(smtp_verbs)))
        return SNIFF_SMTP;
    for (size_t i = 0; i < line; i++) {
        if (is_binary(p[i]))
            return SNIFF_BINARY;
    }
    /* Text so far, without its end: what it is depends on the rest of the line. */
    return ended ? SNIFF_SMTP : SNIFF_MORE;
}
