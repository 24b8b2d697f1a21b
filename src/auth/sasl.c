/* SPDX-License-Identifier: MIT */
/*
 * SASL decoding for SMTP AUTH: strict base64 (RFC 4648 4, as RFC 4954 4
 * requires of responses), the PLAIN message (RFC 4616 2), the LOGIN
 * responses, the cancel line "*" (RFC 4954 4), and the checks of user names
 * and passwords that the password file and `gate26 passwd` share. Pure
 * functions of their input: the fuzz target links them alone.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/auth.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of a base64 character (RFC 4648 table 1), or -1. */
static int
b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

int
auth_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *out_len)
{
    size_t pad = 0, need, o = 0;

    /* RFC 4648 4: groups of 4 characters, the last one padded with '='. */
    if (len % 4 != 0) {
        errno = EINVAL;
        return -1;
    }
    if (len > 0 && in[len - 1] == '=')
        pad = in[len - 2] == '=' ? 2 : 1;
    need = len / 4 * 3 - pad;
    if (need > cap) {
        errno = EMSGSIZE;
        return -1;
    }
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        size_t chars = i + 4 == len ? 4 - pad : 4;
        unsigned long group = 0;

        for (size_t k = 0; k < 4; k++) {
            v[k] = k < chars ? b64_value((unsigned char)in[i + k]) : 0;
            if (v[k] == -1) {
                errno = EINVAL;
                return -1;
            }
            group = group << 6 | (unsigned long)v[k];
        }
        /* RFC 4648 3.5: the bits the padding leaves unused must be zero,
         * so that every octet string has exactly one encoding. */
        if ((pad == 1 && chars == 3 && (v[2] & 0x3) != 0) ||
            (pad == 2 && chars == 2 && (v[1] & 0xf) != 0)) {
            errno = EINVAL;
            return -1;
        }
        out[o++] = (unsigned char)(group >> 16);
        if (chars > 2)
            out[o++] = (unsigned char)(group >> 8);
        if (chars > 3)
            out[o++] = (unsigned char)group;
    }
    *out_len = o;
    return 0;
}

int
auth_b64_encode(const unsigned char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;

    if (cap == 0 || (cap - 1) / 4 < (len + 2) / 3)
        return -1;
    for (size_t i = 0; i < len; i += 3) {
        size_t n = len - i < 3 ? len - i : 3;
        unsigned long group = (unsigned long)in[i] << 16;

        if (n > 1)
            group |= (unsigned long)in[i + 1] << 8;
        if (n > 2)
            group |= in[i + 2];
        out[o++] = b64_alphabet[group >> 18 & 0x3f];
        out[o++] = b64_alphabet[group >> 12 & 0x3f];
        out[o++] = n > 1 ? b64_alphabet[group >> 6 & 0x3f] : '=';
        out[o++] = n > 2 ? b64_alphabet[group & 0x3f] : '=';
    }
    out[o] = '\0';
    return 0;
}

bool
auth_is_cancel(const char *line, size_t len)
{
    return len == 1 && line[0] == '*';
}

/*
 * UTF-8 (RFC 3629 4): shortest forms only, no surrogates, nothing above
 * U+10FFFF. NUL is a valid character here; the callers refuse it apart.
 */
static bool
utf8_is_valid(const unsigned char *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = p[i];
        unsigned char lo = 0x80, hi = 0xbf;
        size_t n;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            else if (c == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            else if (c == 0xf4)
                hi = 0x8f; /* above U+10FFFF */
        } else {
            return false;
        }
        if (len - i - 1 < n)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++) {
            if (p[i + k] < 0x80 || p[i + k] > 0xbf)
                return false;
        }
        i += n + 1;
    }
    return true;
}

bool
auth_is_user_name(const char *name, size_t len)
{
    if (len == 0 || len > AUTH_USER_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];

        if (ch <= 0x20 || ch >= 0x7f || ch == ':')
            return false;
    }
    return true;
}

bool
auth_is_password(const char *pass, size_t len)
{
    return auth_login_field((const unsigned char *)pass, len) == AUTH_SASL_OK;
}

const char *
auth_sasl_rc_name(enum auth_sasl_rc rc)
{
    switch (rc) {
    case AUTH_SASL_OK:
        return "ok";
    case AUTH_SASL_MALFORMED:
        return "malformed";
    case AUTH_SASL_EMPTY:
        return "empty";
    case AUTH_SASL_TOO_LONG:
        return "too-long";
    case AUTH_SASL_NOT_UTF8:
        return "not-utf8";
    case AUTH_SASL_AUTHZID:
        return "authzid";
    }
    return "?";
}

/* One field of RFC 4616 2: at most 255 octets of UTF8-SAFE (UTF-8 without NUL). */
static enum auth_sasl_rc
sasl_field(const unsigned char *p, size_t len, bool may_be_empty)
{
    if (len == 0 && !may_be_empty)
        return AUTH_SASL_EMPTY;
    if (len > AUTH_SASL_FIELD_MAX)
        return AUTH_SASL_TOO_LONG;
    if (memchr(p, '\0', len) != NULL)
        return AUTH_SASL_MALFORMED;
    if (!utf8_is_valid(p, len))
        return AUTH_SASL_NOT_UTF8;
    return AUTH_SASL_OK;
}

enum auth_sasl_rc
auth_login_field(const unsigned char *msg, size_t len)
{
    return sasl_field(msg, len, false);
}

void
auth_plain_clear(struct auth_plain *p)
{
    OPENSSL_cleanse(p, sizeof(*p));
}

/* message = [authzid] UTF8NUL authcid UTF8NUL passwd   RFC 4616 2 */
enum auth_sasl_rc
auth_plain_parse(const unsigned char *msg, size_t len, struct auth_plain *out)
{
    const unsigned char *end = msg + len, *nul1, *nul2, *authcid, *passwd;
    size_t zlen, clen, plen;
    enum auth_sasl_rc rc;

    auth_plain_clear(out);
    nul1 = memchr(msg, '\0', len);
    if (nul1 == NULL)
        return AUTH_SASL_MALFORMED;
    authcid = nul1 + 1;
    nul2 = memchr(authcid, '\0', (size_t)(end - authcid));
    if (nul2 == NULL)
        return AUTH_SASL_MALFORMED;
    passwd = nul2 + 1;
    zlen = (size_t)(nul1 - msg);
    clen = (size_t)(nul2 - authcid);
    plen = (size_t)(end - passwd);
    /* A third NUL lands in passwd, which sasl_field refuses as malformed. */
    if ((rc = sasl_field(msg, zlen, true)) != AUTH_SASL_OK ||
        (rc = sasl_field(authcid, clen, false)) != AUTH_SASL_OK ||
        (rc = sasl_field(passwd, plen, false)) != AUTH_SASL_OK)
        return rc;
    /* RFC 4616 2: the server may refuse to let authcid act as authzid. Only
     * acting as oneself is allowed here. */
    if (zlen != 0 && (zlen != clen || memcmp(msg, authcid, clen) != 0))
        return AUTH_SASL_AUTHZID;
    memcpy(out->authzid, msg, zlen);
    memcpy(out->authcid, authcid, clen);
    memcpy(out->passwd, passwd, plen);
    out->passwd_len = plen;
    return AUTH_SASL_OK;
}
