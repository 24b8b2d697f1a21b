/* SPDX-License-Identifier: MIT */
/*
 * A message body's text for the quarantine page's preview (preview.h).
 */
#include <string.h>

#include <openssl/evp.h>

#include "console/preview.h"

static char
lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Does the token at p (after spaces) equal word, case ignored, followed by an end, space or ';'? */
static bool
token_is(const char *p, const char *word)
{
    while (*p == ' ' || *p == '\t')
        p++;
    for (; *word != '\0'; word++, p++) {
        if (lower(*p) != *word)
            return false;
    }
    return *p == '\0' || *p == ' ' || *p == '\t' || *p == ';';
}

enum preview_cte
preview_cte_of(const char *value)
{
    static const char *const identity[] = {"7bit", "8bit", "binary"};

    if (value == NULL)
        return PREVIEW_IDENTITY;
    for (size_t i = 0; i < sizeof(identity) / sizeof(identity[0]); i++) {
        if (token_is(value, identity[i]))
            return PREVIEW_IDENTITY;
    }
    if (token_is(value, "quoted-printable"))
        return PREVIEW_QP;
    if (token_is(value, "base64"))
        return PREVIEW_BASE64;
    return PREVIEW_UNKNOWN;
}

bool
preview_is_text_plain(const char *value)
{
    return value == NULL || token_is(value, "text/plain");
}

static int
hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 2045 6.7: "=" HEX HEX is an octet, "=" at a line's end a soft break; the rest as is. */
static size_t
qp_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0, i = 0;

    while (i < len && o + 1 < cap) {
        if (in[i] != '=') {
            out[o++] = in[i++];
            continue;
        }
        if (i + 2 < len && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
            out[o++] = (char)(hex(in[i + 1]) * 16 + hex(in[i + 2]));
            i += 3;
        } else if (i + 2 < len && in[i + 1] == '\r' && in[i + 2] == '\n') {
            i += 3;
        } else if (i + 1 < len && in[i + 1] == '\n') {
            i += 2;
        } else {
            out[o++] = in[i++];
        }
    }
    out[o] = '\0';
    return o;
}

/* Base64 with OpenSSL's decoder (which skips line ends and white space), 3 octets per 4. */
static long
b64_decode(const char *in, size_t len, char *out, size_t cap)
{
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    unsigned char chunk[3 * 256 + 3];
    size_t o = 0, i = 0;
    long rc = 0;

    if (ctx == NULL)
        return -1;
    EVP_DecodeInit(ctx);
    /* 256 octets in give at most 192 out (plus what the context kept: under 80). */
    while (i < len && o + 1 < cap) {
        size_t n = len - i < 256 ? len - i : 256;
        int outl = 0;

        if (EVP_DecodeUpdate(ctx, chunk, &outl, (const unsigned char *)in + i, (int)n) == -1) {
            rc = -1;
            break;
        }
        i += n;
        if ((size_t)outl > cap - 1 - o)
            outl = (int)(cap - 1 - o);
        memcpy(out + o, chunk, (size_t)outl);
        o += (size_t)outl;
    }
    EVP_ENCODE_CTX_free(ctx);
    if (rc == -1) {
        out[0] = '\0';
        return -1;
    }
    out[o] = '\0';
    return (long)o;
}

long
preview_decode(enum preview_cte cte, const char *in, size_t len, char *out, size_t cap)
{
    size_t n;

    switch (cte) {
    case PREVIEW_QP:
        return (long)qp_decode(in, len, out, cap);
    case PREVIEW_BASE64:
        return b64_decode(in, len, out, cap);
    default:
        n = len < cap - 1 ? len : cap - 1;
        memcpy(out, in, n);
        out[n] = '\0';
        return (long)n;
    }
}
