/* SPDX-License-Identifier: MIT */
/*
 * The credential files of the metrics block (metrics_auth.h). The parser is
 * a pure function of the text; the loader adds what a file holding a secret
 * in clear must be: a regular file, small, not open to others. The text is
 * wiped (OPENSSL_cleanse) once its digest is taken, and no message quotes
 * it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "conf/metrics_auth.h"
#include "lib/str.h"
#include "lib/xalloc.h"

static const char *
kind_key(enum conf_metrics_auth kind)
{
    return kind == CONF_METRICS_AUTH_BEARER ? "bearer-token-file" : "basic-auth-file";
}

/* token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="   RFC 7235 2.1 */
static int
check_token(const char *p, size_t len, char *err, size_t errcap)
{
    size_t i = 0;

    while (i < len &&
           ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
            (p[i] >= '0' && p[i] <= '9') || strchr("-._~+/", p[i]) != NULL) &&
           p[i] != '\0')
        i++;
    if (i == 0 && len > 0) {
        (void)str_fmt(err, errcap,
                      "expected a token of letters, digits and - . _ ~ + / (RFC 6750), found "
                      "character 0x%02x first",
                      (unsigned char)p[0]);
        return -1;
    }
    while (i < len && p[i] == '=')
        i++;
    if (i < len) {
        (void)str_fmt(err, errcap,
                      "unexpected character 0x%02x at octet %zu of the token (expected letters, "
                      "digits and - . _ ~ + /, then '=' padding only: RFC 6750)",
                      (unsigned char)p[i], i + 1);
        return -1;
    }
    if (len < CONF_METRICS_TOKEN_MIN || len > CONF_METRICS_TOKEN_MAX) {
        (void)str_fmt(err, errcap,
                      "expected a token of %d to %d characters, found %zu (a short token is "
                      "guessed: openssl rand -hex 32 makes a good one)",
                      CONF_METRICS_TOKEN_MIN, CONF_METRICS_TOKEN_MAX, len);
        return -1;
    }
    return 0;
}

/* user ":" password   RFC 7617 2 */
static int
check_basic(const char *p, size_t len, char *err, size_t errcap)
{
    const char *colon = memchr(p, ':', len);
    size_t ulen, plen;

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];

        if (ch < 0x20 || ch == 0x7f) {
            (void)str_fmt(err, errcap, "control character 0x%02x in USER:PASSWORD", ch);
            return -1;
        }
    }
    if (colon == NULL) {
        (void)str_fmt(err, errcap, "expected USER:PASSWORD (no ':' in the file)");
        return -1;
    }
    ulen = (size_t)(colon - p);
    plen = len - ulen - 1;
    if (ulen == 0 || ulen > CONF_METRICS_BASIC_MAX) {
        (void)str_fmt(err, errcap, "expected a user name of 1 to %d octets before ':', found %zu",
                      CONF_METRICS_BASIC_MAX, ulen);
        return -1;
    }
    if (memchr(p, ' ', ulen) != NULL) {
        (void)str_fmt(err, errcap, "expected a user name without blanks (USER:PASSWORD)");
        return -1;
    }
    if (plen == 0 || plen > CONF_METRICS_BASIC_MAX) {
        (void)str_fmt(err, errcap, "expected a password of 1 to %d octets after ':', found %zu",
                      CONF_METRICS_BASIC_MAX, plen);
        return -1;
    }
    return 0;
}

int
conf_metrics_secret_parse(enum conf_metrics_auth kind, const char *text, size_t len,
                          unsigned char digest[CONF_METRICS_DIGEST_LEN], char *err, size_t errcap)
{
    const char *lf = memchr(text, '\n', len);
    size_t n = lf != NULL ? (size_t)(lf - text) : len;
    unsigned dlen = 0;

    if (kind != CONF_METRICS_AUTH_BEARER && kind != CONF_METRICS_AUTH_BASIC) {
        (void)str_fmt(err, errcap, "no credential file for kind %d", (int)kind);
        return -1;
    }
    if (len == 0) {
        (void)str_fmt(err, errcap, "the file is empty (expected %s)",
                      kind == CONF_METRICS_AUTH_BEARER ? "one token" : "USER:PASSWORD");
        return -1;
    }
    /* One line: an LF may end it, nothing may follow. */
    if (lf != NULL && n + 1 != len) {
        (void)str_fmt(err, errcap, "expected one line, found more (the %s holds %s alone)",
                      kind_key(kind),
                      kind == CONF_METRICS_AUTH_BEARER ? "the token" : "USER:PASSWORD");
        return -1;
    }
    if (n > 0 && text[n - 1] == '\r') {
        (void)str_fmt(err, errcap, "the line ends in CR (expected an LF line end)");
        return -1;
    }
    if (kind == CONF_METRICS_AUTH_BEARER ? check_token(text, n, err, errcap) == -1
                                         : check_basic(text, n, err, errcap) == -1)
        return -1;
    if (EVP_Digest(text, n, digest, &dlen, EVP_sha256(), NULL) != 1 ||
        dlen != CONF_METRICS_DIGEST_LEN) {
        (void)str_fmt(err, errcap, "cannot compute SHA-256 (OpenSSL)");
        return -1;
    }
    return 0;
}

int
conf_metrics_secret_load(enum conf_metrics_auth kind, const char *path,
                         unsigned char digest[CONF_METRICS_DIGEST_LEN], char *err, size_t errcap)
{
    char buf[CONF_METRICS_SECRET_FILE_MAX + 1], why[256];
    const char *key = kind_key(kind);
    struct stat st;
    size_t got = 0;
    int fd, rc = -1;

    /* O_NONBLOCK: a FIFO named by mistake must not hang a reload; fstat() refuses it next. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd == -1 || fstat(fd, &st) == -1) {
        (void)str_fmt(err, errcap, "cannot read %s '%s': %s", key, path, strerror(errno));
        if (fd != -1)
            (void)close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > CONF_METRICS_SECRET_FILE_MAX) {
        (void)str_fmt(err, errcap, "%s '%s' is %s", key, path,
                      S_ISREG(st.st_mode) ? "larger than 4 KiB: is it the right file?"
                                          : "not a regular file");
        (void)close(fd);
        return -1;
    }
    if (st.st_mode & (S_IROTH | S_IWOTH)) {
        (void)str_fmt(err, errcap,
                      "%s '%s' is open to others (mode %04o): it holds a secret in clear "
                      "(chmod o-rwx, and give it to gate26's group: chmod 0640)",
                      key, path, (unsigned)(st.st_mode & 07777));
        (void)close(fd);
        return -1;
    }
    while (got < sizeof(buf)) {
        ssize_t r = read(fd, buf + got, sizeof(buf) - got);

        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1) {
            (void)str_fmt(err, errcap, "cannot read %s '%s': %s", key, path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got > CONF_METRICS_SECRET_FILE_MAX) {
        (void)str_fmt(err, errcap, "%s '%s' is larger than 4 KiB: is it the right file?", key,
                      path);
        goto out;
    }
    if (conf_metrics_secret_parse(kind, buf, got, digest, why, sizeof(why)) == -1) {
        (void)str_fmt(err, errcap, "%s '%s': %s", key, path, why);
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    (void)close(fd);
    return rc;
}
