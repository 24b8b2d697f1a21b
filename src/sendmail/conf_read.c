/* SPDX-License-Identifier: MIT */
/*
 * What sendmail reads of the configuration (sendmail.h): hostname, the
 * internal door's max-message-size and the local-submit block. The lines
 * come from conf's own lexer and the values from conf's own value parsers
 * (conf/lexer.h, conf/values.h), so a value means here what it means to the
 * daemon; the rest of the file is the daemon's to judge (configtest), and
 * keys it does not need are stepped over: it must run as any local user,
 * who cannot read the TLS keys the daemon's checks of the file open.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "conf/lexer.h"
#include "conf/values.h"
#include "lib/io.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "sendmail/sendmail.h"

static int
fail(char *err, size_t errcap, const char *path, unsigned line, const char *what)
{
    (void)str_fmt(err, errcap, "%s:%u: %s", path, line, what);
    errno = EINVAL;
    return -1;
}

int
sendmail_conf_read(const char *path, struct sendmail_conf *out, char *err, size_t errcap)
{
    struct conf_lexer lx;
    struct conf_line *l;
    struct conf_why w;
    char *text, dir[CAP_PATH];
    const char *slash;
    size_t len;
    enum { TOP, INTERNAL, LOCAL, OTHER } scope = TOP;
    int r, rc = 0;

    memset(out, 0, sizeof(*out));
    (void)str_copyz(out->socket, sizeof(out->socket), SENDMAIL_DEFAULT_SOCKET);
    (void)str_copyz(out->maildrop, sizeof(out->maildrop), SENDMAIL_DEFAULT_MAILDROP);
    out->enabled = true;
    out->max_size = SENDMAIL_DEFAULT_MAX_SIZE;
    if (io_read_file(path, CONF_FILE_MAX, &text, &len, err, errcap) == -1)
        return -1;
    /* Relative paths are the file's directory's, as conf_load takes them. */
    if (realpath(path, dir) == NULL) {
        (void)str_fmt(err, errcap, "%s: %s", path, strerror(errno));
        free(text);
        return -1;
    }
    slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash != NULL)
        dir[slash - dir] = '\0';
    l = xmalloc(sizeof(*l));
    conf_lex_init(&lx, text, len);
    while ((r = conf_lex_line(&lx, l)) == 1) {
        struct slice key = conf_arg(l, 0);
        bool opens = l->tok[l->n - 1].kind == CONF_TOK_OPEN;

        if (l->tok[0].kind == CONF_TOK_CLOSE) {
            scope = TOP;
            continue;
        }
        if (opens) {
            if (slice_eq_ci(key, "listen") && l->n == 3 && slice_eq_ci(conf_arg(l, 1), "internal"))
                scope = INTERNAL;
            else if (slice_eq_ci(key, "local-submit"))
                scope = LOCAL;
            else
                scope = OTHER;
            continue;
        }
        if (l->n != 2)
            continue;
        if (scope == TOP && slice_eq_ci(key, "hostname")) {
            if (str_copy(out->hostname, sizeof(out->hostname), conf_arg(l, 1).p,
                         conf_arg(l, 1).len) == -1) {
                rc = fail(err, errcap, path, l->number, "hostname: too long");
                break;
            }
        } else if (scope == INTERNAL && slice_eq_ci(key, "max-message-size")) {
            if (conf_value_size(conf_arg(l, 1), 1024, UINT64_C(2) << 30, &out->max_size, &w) ==
                -1) {
                rc = fail(err, errcap, path, l->number, w.text);
                break;
            }
        } else if (scope == LOCAL && (slice_eq_ci(key, "socket") || slice_eq_ci(key, "maildrop"))) {
            char *dst = slice_eq_ci(key, "socket") ? out->socket : out->maildrop;

            if (conf_value_path(conf_arg(l, 1), dir, dst, &w) == -1) {
                rc = fail(err, errcap, path, l->number, w.text);
                break;
            }
        } else if (scope == LOCAL && slice_eq_ci(key, "enabled")) {
            out->enabled = !slice_eq_ci(conf_arg(l, 1), "no");
        }
    }
    if (r == -1)
        rc = fail(err, errcap, path, lx.line, lx.why);
    free(l);
    free(text);
    return rc;
}
