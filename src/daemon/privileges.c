/* SPDX-License-Identifier: MIT */
/*
 * Dropping root after start-up; see privileges.h. The order matters: the
 * supplementary groups and the group go first, while we still may change
 * them, then the user; setresuid() with the three IDs equal leaves no saved
 * root to come back to.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "daemon/privileges.h"
#include "lib/log.h"
#include "lib/str.h"

/* Looks c->user up; returns 0 with *pw filled (strings in buf), or -1 with err. */
static int
privileges_lookup(const struct conf *c, struct passwd *pw, char *buf, size_t bufcap, char *err,
                  size_t errcap)
{
    struct passwd *found = NULL;
    int rc = getpwnam_r(c->user, pw, buf, bufcap, &found);

    if (found == NULL) {
        (void)str_fmt(err, errcap, "%s:%u: user '%s' %s", c->path, c->user_line, c->user,
                      rc == 0 ? "does not exist" : strerror(rc));
        return -1;
    }
    if (pw->pw_uid == 0) {
        (void)str_fmt(err, errcap, "%s:%u: user '%s' is root: name an unprivileged user", c->path,
                      c->user_line, c->user);
        return -1;
    }
    if (pw->pw_gid == 0) {
        (void)str_fmt(err, errcap,
                      "%s:%u: user '%s' has root's group (gid 0): give it a group of its own",
                      c->path, c->user_line, c->user);
        return -1;
    }
    return 0;
}

int
privileges_check(const struct conf *c, char *err, size_t errcap)
{
    struct passwd pw;
    char buf[4096];

    if (c->user[0] == '\0') {
        if (geteuid() != 0)
            return 0;
        (void)str_fmt(err, errcap,
                      "%s: started as root without 'user': gate26 does not serve as root; add "
                      "'user NAME' naming an unprivileged account (such as gate26) to switch to",
                      c->path);
        return -1;
    }
    return privileges_lookup(c, &pw, buf, sizeof(buf), err, errcap);
}

/* After the switch: every ID is the user's, no group is left, and root cannot come back. */
static void
privileges_verify(const struct passwd *pw)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg;

    if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1)
        log_panic("getresuid: %s", strerror(errno));
    if (ru != pw->pw_uid || eu != pw->pw_uid || su != pw->pw_uid || rg != pw->pw_gid ||
        eg != pw->pw_gid || sg != pw->pw_gid)
        log_panic("switching to user %s left other IDs", pw->pw_name);
    if (getgroups(0, NULL) != 0)
        log_panic("supplementary groups left after switching to user %s", pw->pw_name);
    if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1 || setegid(0) != -1)
        log_panic("root could be regained after switching to user %s", pw->pw_name);
}

int
privileges_drop(const struct conf *c, struct spool *sp, const char *socket_path, char *err,
                size_t errcap)
{
    struct passwd pw;
    char buf[4096];

    if (c->user[0] == '\0')
        return privileges_check(c, err, errcap); /* refused as root, else nothing to do */
    if (privileges_lookup(c, &pw, buf, sizeof(buf), err, errcap) == -1)
        return -1;
    if (geteuid() != 0) {
        if (geteuid() != pw.pw_uid)
            log_warning("-: event=privileges, user=%s, note=\"not started as root: running as "
                        "uid %ld instead\"",
                        c->user, (long)geteuid());
        return 0;
    }
    if (socket_path != NULL && chown(socket_path, pw.pw_uid, pw.pw_gid) == -1) {
        (void)str_fmt(err, errcap, "%s: chown: %s", socket_path, strerror(errno));
        return -1;
    }
    if (sp != NULL && spool_chown(sp, pw.pw_uid, pw.pw_gid, err, errcap) == -1)
        return -1;
    if (setgroups(0, NULL) == -1 || setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) == -1 ||
        setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) == -1) {
        (void)str_fmt(err, errcap, "cannot become user '%s': %s", c->user, strerror(errno));
        return -1;
    }
    privileges_verify(&pw);
    log_info("-: event=privileges, user=%s, uid=%ld, gid=%ld, groups=none", c->user,
             (long)pw.pw_uid, (long)pw.pw_gid);
    return 0;
}
