/* SPDX-License-Identifier: MIT */
/* Dropping root after start-up; see privileges.h. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "daemon/privileges.h"
#include "lib/log.h"
#include "lib/str.h"

int
privileges_drop(const struct conf *c, struct spool *sp, const char *socket_path, char *err,
                size_t errcap)
{
    struct passwd pw, *found = NULL;
    char buf[4096];
    int rc;

    if (c->user[0] == '\0')
        return 0;
    rc = getpwnam_r(c->user, &pw, buf, sizeof(buf), &found);
    if (found == NULL) {
        (void)str_fmt(err, errcap, "%s: user '%s' %s", c->path, c->user,
                      rc == 0 ? "does not exist" : strerror(rc));
        return -1;
    }
    if (geteuid() != 0) {
        if (geteuid() != pw.pw_uid)
            log_warning("-: event=privileges, user=%s, note=\"not started as root: running as "
                        "uid %ld instead\"",
                        c->user, (long)geteuid());
        return 0;
    }
    if (pw.pw_uid == 0) {
        (void)str_fmt(err, errcap, "%s: user '%s' is root: name an unprivileged user", c->path,
                      c->user);
        return -1;
    }
    if (socket_path != NULL && chown(socket_path, pw.pw_uid, pw.pw_gid) == -1) {
        (void)str_fmt(err, errcap, "%s: chown: %s", socket_path, strerror(errno));
        return -1;
    }
    if (spool_chown(sp, pw.pw_uid, pw.pw_gid, err, errcap) == -1)
        return -1;
    if (setgroups(0, NULL) == -1 || setgid(pw.pw_gid) == -1 || setuid(pw.pw_uid) == -1) {
        (void)str_fmt(err, errcap, "cannot become user '%s': %s", c->user, strerror(errno));
        return -1;
    }
    if (setuid(0) != -1 || geteuid() == 0)
        log_panic("root could be regained after switching to user %s", c->user);
    log_info("-: event=privileges, user=%s, uid=%ld, gid=%ld", c->user, (long)pw.pw_uid,
             (long)pw.pw_gid);
    return 0;
}
