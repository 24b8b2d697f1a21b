/* SPDX-License-Identifier: MIT */
/*
 * HOTP (RFC 4226), TOTP (RFC 6238), base32 (RFC 4648 6) and the otpauth://
 * key URI. Pure functions of their arguments, on OpenSSL's HMAC; the
 * store (store.c) keeps the secrets and the last step used.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "account/account.h"
#include "lib/str.h"

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* RFC 4226 5.3: HS = HMAC-SHA-1(K, C); Snum = DT(HS); D = Snum mod 10^Digit. */
uint32_t
totp_hotp(const unsigned char *key, size_t len, uint64_t counter, unsigned digits)
{
    static const uint32_t pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
    unsigned char msg[8], hs[EVP_MAX_MD_SIZE];
    unsigned int hs_len = 0;
    unsigned offset;
    uint32_t snum;

    if (len > TOTP_SECRET_MAX || digits < 6 || digits > 8)
        return 0;
    /* C is 8 octets, big-endian (RFC 4226 5.1). */
    for (int i = 7; i >= 0; i--) {
        msg[i] = (unsigned char)(counter & 0xff);
        counter >>= 8;
    }
    if (HMAC(EVP_sha1(), key, (int)len, msg, sizeof(msg), hs, &hs_len) == NULL || hs_len != 20)
        return 0;
    /* RFC 4226 5.3: the low 4 bits of the last octet say where the 31 bits are. */
    offset = hs[19] & 0x0f;
    snum = ((uint32_t)(hs[offset] & 0x7f) << 24) | ((uint32_t)hs[offset + 1] << 16) |
           ((uint32_t)hs[offset + 2] << 8) | hs[offset + 3];
    OPENSSL_cleanse(hs, sizeof(hs));
    return snum % pow10[digits];
}

/* Exactly TOTP_DIGITS ASCII digits, then the NUL. */
static bool
code_parse(const char *code, uint32_t *out)
{
    uint32_t v = 0;

    for (size_t i = 0; i < TOTP_DIGITS; i++) {
        if (code[i] < '0' || code[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(code[i] - '0');
    }
    if (code[TOTP_DIGITS] != '\0')
        return false;
    *out = v;
    return true;
}

bool
totp_verify(const unsigned char *secret, size_t len, const char *code, int64_t now,
            int64_t last_step, int64_t *step)
{
    uint32_t want;
    int64_t t;
    bool found = false;

    if (now < 0 || len > TOTP_SECRET_MAX || code == NULL || !code_parse(code, &want))
        return false;
    /* RFC 6238 4.2: T = floor((now - T0) / X), T0 = 0; 5.2: one step of delay either side. */
    t = now / TOTP_STEP;
    for (int64_t s = t - 1; s <= t + 1; s++) {
        uint32_t got;

        if (s < 0 || s <= last_step)
            continue; /* RFC 6238 5.2: a code once used is not accepted again */
        got = totp_hotp(secret, len, (uint64_t)s, TOTP_DIGITS);
        /* Every allowed step is computed and compared, so the time says nothing of which. */
        if (CRYPTO_memcmp(&got, &want, sizeof(got)) == 0 && !found) {
            *step = s;
            found = true;
        }
    }
    return found;
}

int
totp_base32_encode(const unsigned char *in, size_t len, bool pad, char *out, size_t cap)
{
    size_t need = (pad ? TOTP_B32_PADDED_LEN(len) : TOTP_B32_LEN(len)) + 1, o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;

    if (cap < need)
        return -1;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = b32_alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = b32_alphabet[(acc << (5 - bits)) & 31];
    while (pad && o % 8 != 0)
        out[o++] = '=';
    out[o] = '\0';
    return 0;
}

/* The value of a base32 character in either case, or -1. */
static int
b32_value(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a';
    if (ch >= '2' && ch <= '7')
        return ch - '2' + 26;
    return -1;
}

int
totp_base32_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *out_len)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n_chars = 0, n_pad = 0, o = 0;

    for (size_t i = 0; i < len; i++) {
        int v;

        if (in[i] == ' ')
            continue;
        if (in[i] == '=') {
            n_pad++;
            continue;
        }
        v = b32_value(in[i]);
        if (v < 0 || n_pad > 0) { /* not base32, or a character after the padding */
            errno = EINVAL;
            return -1;
        }
        n_chars++;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            if (o == cap) {
                errno = EMSGSIZE;
                return -1;
            }
            out[o++] = (unsigned char)(acc >> (bits - 8));
            bits -= 8;
            acc &= (1u << bits) - 1;
        }
    }
    /* RFC 4648 6: a last group of 2, 4, 5 or 7 characters; 1, 3 and 6 encode no octet string. */
    switch (n_chars % 8) {
    case 1:
    case 3:
    case 6:
        errno = EINVAL;
        return -1;
    default:
        break;
    }
    /* Padding, when given, fills the last group; the unused bits are zero (RFC 4648 3.5). */
    if ((n_pad > 0 && (n_chars + n_pad) % 8 != 0) || n_pad > 6 || acc != 0) {
        errno = EINVAL;
        return -1;
    }
    *out_len = o;
    return 0;
}

/* RFC 3986 2.3: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~". */
static bool
is_unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

int
totp_uri(const char *user, const unsigned char *secret, size_t len, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    char b32[TOTP_B32_LEN(TOTP_SECRET_MAX) + 1], esc[3 * 255 + 1];
    size_t e = 0;

    if (len > TOTP_SECRET_MAX || totp_base32_encode(secret, len, false, b32, sizeof(b32)) == -1)
        return -1;
    for (const unsigned char *p = (const unsigned char *)user; *p != '\0'; p++) {
        if (e + 4 > sizeof(esc))
            return -1;
        if (is_unreserved(*p)) {
            esc[e++] = (char)*p;
        } else {
            esc[e++] = '%';
            esc[e++] = hex[*p >> 4];
            esc[e++] = hex[*p & 15];
        }
    }
    esc[e] = '\0';
    if (str_fmt(out, cap, "otpauth://totp/gate26:%s?secret=%s&issuer=gate26", esc, b32) == -1) {
        OPENSSL_cleanse(b32, sizeof(b32));
        return -1;
    }
    OPENSSL_cleanse(b32, sizeof(b32));
    return 0;
}
