/* SPDX-License-Identifier: MIT */
/*
 * The relay-auth file (relay_auth.h): one USER:PASSWORD line, read when the
 * configuration is loaded (at start, by configtest, and again at each
 * reload), so that a smarthost's password never sits in the main file. The
 * parser is a pure function of the text (its fuzz target is
 * tests/fuzz/fuzz_relay_auth.c); the loader adds what a file holding a
 * password in clear must be: a regular file, small, not open to others.
 * Every copy of the text and of the fields is wiped with OPENSSL_cleanse()
 * when it is let go, and no message quotes the password.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "conf/relay_auth.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* True when the line holds only blanks, or is a comment. */
static bool
line_is_ignored(const char *p, size_t len)
{
    size_t i = 0;

    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return i == len || p[i] == '#';
}

/* user = 1*255( %x21-39 / %x3B-7E / %x80-FF ) */
static int
take_user(const char *p, size_t len, struct conf_relay_auth *out, char *why, size_t cap)
{
    if (len == 0) {
        (void)str_fmt(why, cap, "expected a user name before ':' (USER:PASSWORD)");
        return -1;
    }
    if (len > CONF_RELAY_AUTH_MAX) {
        (void)str_fmt(why, cap, "user name longer than %d octets", CONF_RELAY_AUTH_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] == ' ' || p[i] == '\t') {
            (void)str_fmt(why, cap, "expected USER:PASSWORD with no blank in or before the user");
            return -1;
        }
    }
    memcpy(out->user, p, len);
    out->user[len] = '\0';
    return 0;
}

/* password = 1*255( %x20-7E / %x80-FF ), the rest of the line, not starting or ending in SP. */
static int
take_password(const char *p, size_t len, struct conf_relay_auth *out, char *why, size_t cap)
{
    if (len == 0) {
        (void)str_fmt(why, cap, "expected a password after ':' (USER:PASSWORD)");
        return -1;
    }
    if (len > CONF_RELAY_AUTH_MAX) {
        (void)str_fmt(why, cap, "password longer than %d octets", CONF_RELAY_AUTH_MAX);
        return -1;
    }
    /* An editor's stray blank would make a password that never works, and shows nowhere. */
    if (p[0] == ' ' || p[len - 1] == ' ') {
        (void)str_fmt(why, cap,
                      "the password starts or ends with a blank (a stray space?); the password "
                      "is the rest of the line after the first ':', as written");
        return -1;
    }
    memcpy(out->password, p, len);
    out->password[len] = '\0';
    return 0;
}

/*
 * One line (len octets, no LF). Returns 1 for an entry (stored in out), 0
 * for a line to ignore, -1 with what was expected in why.
 */
static int
parse_line(const char *p, size_t len, struct conf_relay_auth *out, char *why, size_t cap)
{
    const char *colon;

    if (len > 0 && p[len - 1] == '\r') {
        (void)str_fmt(why, cap, "line ends in CR (expected LF line ends)");
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];

        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            (void)str_fmt(why, cap, "control character 0x%02x on the line", ch);
            return -1;
        }
    }
    if (line_is_ignored(p, len))
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\t') {
            (void)str_fmt(why, cap, "a tab on the line (expected USER:PASSWORD, no tabs)");
            return -1;
        }
    }
    colon = memchr(p, ':', len);
    if (colon == NULL) {
        (void)str_fmt(why, cap, "expected USER:PASSWORD (no ':' on the line)");
        return -1;
    }
    if (take_user(p, (size_t)(colon - p), out, why, cap) == -1 ||
        take_password(colon + 1, len - (size_t)(colon - p) - 1, out, why, cap) == -1)
        return -1;
    return 1;
}

static void
wipe_fields(struct conf_relay_auth *out)
{
    OPENSSL_cleanse(out->user, sizeof(out->user));
    OPENSSL_cleanse(out->password, sizeof(out->password));
}

int
conf_relay_auth_parse(const char *path, const char *text, size_t len, struct conf_relay_auth *out,
                      char *err, size_t errcap)
{
    const char *p = text, *end = text + len;
    unsigned line = 0, entry_line = 0;
    char why[256];

    wipe_fields(out);
    /* An editor's byte order mark would silently become part of the user name. */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        line = 1;
        (void)str_fmt(why, sizeof(why), "byte order mark at the start (save the file without it)");
        goto fail;
    }
    while (p < end) {
        size_t left = (size_t)(end - p);
        size_t look = left < CONF_RELAY_AUTH_LINE_MAX + 1 ? left : CONF_RELAY_AUTH_LINE_MAX + 1;
        const char *lf = memchr(p, '\n', look);
        size_t n = lf != NULL ? (size_t)(lf - p) : left;
        int rc;

        line++;
        /* The cap first, then the scan. */
        if (lf == NULL && left > CONF_RELAY_AUTH_LINE_MAX) {
            (void)str_fmt(why, sizeof(why), "line longer than %d octets", CONF_RELAY_AUTH_LINE_MAX);
            goto fail;
        }
        if (entry_line != 0 && !line_is_ignored(p, n)) {
            (void)str_fmt(why, sizeof(why),
                          "a second line after USER:PASSWORD at line %u (a relay-auth file holds "
                          "one login)",
                          entry_line);
            goto fail;
        }
        rc = parse_line(p, n, out, why, sizeof(why));
        if (rc == -1)
            goto fail;
        if (rc == 1)
            entry_line = line;
        p += n + (lf != NULL);
    }
    if (entry_line == 0) {
        (void)str_fmt(err, errcap, "%s: expected a USER:PASSWORD line (found none)", path);
        wipe_fields(out);
        return -1;
    }
    return 0;
fail:
    (void)str_fmt(err, errcap, "%s:%u: %s", path, line, why);
    wipe_fields(out);
    return -1;
}

int
conf_relay_auth_load(const char *path, struct conf_relay_auth *out, bool *in_file, char *err,
                     size_t errcap)
{
    struct stat st;
    char *buf;
    size_t got = 0;
    int fd, rc = -1;

    *in_file = false;
    /* O_NONBLOCK: a FIFO named by mistake must not hang a reload; fstat() refuses it next. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd == -1) {
        (void)str_fmt(err, errcap, "cannot read relay-auth file '%s': %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) == -1) {
        (void)str_fmt(err, errcap, "cannot read relay-auth file '%s': %s", path, strerror(errno));
        (void)close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > CONF_RELAY_AUTH_FILE_MAX) {
        (void)str_fmt(err, errcap, "relay-auth file '%s' is %s", path,
                      S_ISREG(st.st_mode) ? "larger than 64 KiB: is it the right file?"
                                          : "not a regular file");
        (void)close(fd);
        return -1;
    }
    /* It holds a password in clear: like ssh with a private key, refuse it open to all. */
    if (st.st_mode & (S_IROTH | S_IWOTH)) {
        (void)str_fmt(err, errcap,
                      "relay-auth file '%s' is open to others (mode %04o): it holds a password "
                      "in clear (chmod o-rwx, and give it to gate26's group: chmod 0640)",
                      path, (unsigned)(st.st_mode & 07777));
        (void)close(fd);
        return -1;
    }
    /* One octet more than the cap, to see a file that grew meanwhile. */
    buf = xmalloc(CONF_RELAY_AUTH_FILE_MAX + 1);
    for (;;) {
        ssize_t n = read(fd, buf + got, CONF_RELAY_AUTH_FILE_MAX + 1 - got);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            (void)str_fmt(err, errcap, "cannot read relay-auth file '%s': %s", path,
                          strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > CONF_RELAY_AUTH_FILE_MAX) {
            (void)str_fmt(err, errcap, "relay-auth file '%s' is larger than 64 KiB", path);
            goto out;
        }
    }
    rc = conf_relay_auth_parse(path, buf, got, out, err, errcap);
    *in_file = rc == -1;
out:
    OPENSSL_cleanse(buf, got);
    free(buf);
    (void)close(fd);
    return rc;
}

void
conf_relay_auth_free(struct conf_relay_auth *auth)
{
    if (auth == NULL)
        return;
    OPENSSL_cleanse(auth, sizeof(*auth));
    free(auth);
}
