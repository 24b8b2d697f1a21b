/* SPDX-License-Identifier: MIT */
/*
 * `gate26 passwd [-c CONFFILE] [-f PASSWDFILE] [--delete | --lock] USER`:
 * sets one user's password in the password file, or removes the user's
 * line (--delete), or locks the user (--lock: the line becomes
 * "user:!hash", which auth/db.c loads as an entry no password matches,
 * and setting a password replaces it, which unlocks). The password comes
 * from the terminal with echo off, asked twice, or as one line of standard
 * input when that is not a terminal; never from the command line, where
 * `ps` would show it.
 *
 * The hash is libxcrypt's default method (yescrypt on Debian 12) with a
 * fresh salt. The file is replaced atomically: the new contents go to a
 * temporary file in the same directory with the old file's mode and owner
 * (a new file gets 0640), which is fsync'd, renamed over the old one, and
 * the directory fsync'd; every other line, comments included, is kept as it
 * was. A lock on the directory keeps two of us from losing each other's
 * change. Nothing is written when the file has an error the daemon would
 * refuse (other than on USER's own lines, which are replaced).
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/auth_impl.h"
#include "conf/conf.h"
#include "lib/caps.h"
#include "lib/fault.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define PASSWD_NEW_MODE 0640
/* The longest password line read, with room for a CR LF and a sign of "more". */
#define PASSWD_LINE_CAP (AUTH_SASL_FIELD_MAX + 3)

static const char passwd_usage[] =
    "usage: gate26 passwd [-c CONFFILE] [-f PASSWDFILE] USER\n"
    "       gate26 passwd [-c CONFFILE] [-f PASSWDFILE] --delete USER\n"
    "       gate26 passwd [-c CONFFILE] [-f PASSWDFILE] --lock USER\n";

static const char passwd_help[] =
    "\n"
    "Sets USER's password in the password file of the auth block (asked twice on a\n"
    "terminal, else one line of standard input), adding USER if new; a locked USER\n"
    "is unlocked by it.\n"
    "\n"
    "  -c, --config FILE  the configuration whose auth { passwd FILE } to change\n"
    "                     (default /etc/gate26/gate26.conf)\n"
    "  -f, --file FILE    change this password file instead\n"
    "      --delete       remove USER's line\n"
    "      --lock         lock USER: the line stays, no password works until a new\n"
    "                     one is set\n"
    "  -h, --help         print this text\n"
    "\n"
    "Exit status: 0 done, 1 nothing changed (no such user, a broken file, an empty\n"
    "password), 2 usage error. Send HUP to gate26 serve to use the new file.\n";

/* What the command does to USER's line. */
enum passwd_action {
    PASSWD_SET,    /* a new hash (adds the user, or replaces and so unlocks) */
    PASSWD_DELETE, /* no line */
    PASSWD_LOCK,   /* "user:!hash" with the hash it has */
};

/* ------------------------------------------------------------ the password */

/* The terminal's settings while echo is off, for the signal handler. */
static struct termios tty_saved;
static volatile sig_atomic_t tty_changed;

static void
tty_restore_on_signal(int sig)
{
    if (tty_changed)
        (void)tcsetattr(STDIN_FILENO, TCSANOW, &tty_saved);
    /* SA_RESETHAND: the default action (death) follows. */
    (void)raise(sig);
}

/*
 * Reads one line from fd into buf (capacity cap), one octet at a time so
 * that no stdio buffer keeps a copy, without its LF (and a CR before it).
 * Returns 0 with the length in *len, or -1 with errno (EMSGSIZE: longer than
 * cap - 1 octets; the rest of the line is left unread).
 */
static int
read_line(int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;

    for (;;) {
        char ch;
        ssize_t got = read(fd, &ch, 1);

        if (got == -1 && errno == EINTR)
            continue;
        if (got == -1)
            return -1;
        if (got == 0 || ch == '\n')
            break;
        if (n == cap - 1) {
            errno = EMSGSIZE;
            return -1;
        }
        buf[n++] = ch;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *len = n;
    return 0;
}

/* Asks for a line on the terminal with echo off; restores the terminal after. */
static int
tty_ask(const char *prompt, char *buf, size_t cap, size_t *len)
{
    struct termios quiet;
    int rc, e;

    if (tcgetattr(STDIN_FILENO, &tty_saved) == -1)
        return -1;
    quiet = tty_saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    tty_changed = 1;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == -1) {
        tty_changed = 0;
        return -1;
    }
    /* Only now: what is typed before the prompt was flushed with echo on. */
    fputs(prompt, stderr);
    fflush(stderr);
    rc = read_line(STDIN_FILENO, buf, cap, len);
    e = errno;
    (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_saved);
    tty_changed = 0;
    errno = e;
    return rc;
}

/*
 * The new password into buf (capacity PASSWD_LINE_CAP): from the terminal
 * twice, or one line of standard input. Returns 0, or -1 after printing why.
 */
static int
passwd_read(char *buf, size_t *len)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
    struct sigaction sa, old[sizeof(sigs) / sizeof(sigs[0])];
    char again[PASSWD_LINE_CAP];
    size_t again_len = 0;
    int rc;

    if (!isatty(STDIN_FILENO)) {
        if (read_line(STDIN_FILENO, buf, PASSWD_LINE_CAP, len) == -1) {
            fprintf(stderr, "gate26 passwd: cannot read the password from standard input: %s\n",
                    errno == EMSGSIZE ? "longer than 255 octets" : strerror(errno));
            return -1;
        }
        return 0;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = tty_restore_on_signal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        (void)sigaction(sigs[i], &sa, &old[i]);
    rc = tty_ask("New password: ", buf, PASSWD_LINE_CAP, len);
    if (rc == 0 && *len > 0)
        rc = tty_ask("Retype new password: ", again, sizeof(again), &again_len);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        (void)sigaction(sigs[i], &old[i], NULL);
    if (rc == -1) {
        fprintf(stderr, "gate26 passwd: cannot read the password: %s\n",
                errno == EMSGSIZE ? "longer than 255 octets" : strerror(errno));
    } else if (*len > 0 && (again_len != *len || CRYPTO_memcmp(buf, again, *len) != 0)) {
        fprintf(stderr, "gate26 passwd: the passwords do not match\n");
        rc = -1;
    }
    OPENSSL_cleanse(again, sizeof(again));
    return rc;
}

/* The crypt(3) hash of pass with libxcrypt's default method and a new salt. */
static int
passwd_hash(const char *pass, char *out, size_t cap)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd = xcalloc(1, sizeof(*cd));
    const char *h = NULL;
    int rc = -1;

    if (crypt_gensalt_rn(NULL, 0, NULL, 0, setting, sizeof(setting)) != NULL)
        h = crypt_rn(pass, setting, cd, sizeof(*cd));
    if (h != NULL && h[0] != '*' && str_copyz(out, cap, h) == 0)
        rc = 0;
    else if (h != NULL && h[0] == '*')
        errno = EINVAL;
    OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
    return rc;
}

/* ------------------------------------------------------------ the file */

struct passwd_file {
    const char *path;
    char dir[CAP_PATH];
    char base[CAP_PATH];
    int dir_fd;
    bool exists;
    struct stat st; /* of the old file */
    gid_t new_gid;  /* for a new file; (gid_t)-1: ours */
};

/*
 * The old text with USER's first line replaced by "USER:hash" (every later
 * one dropped), or, with hash NULL, every line of USER dropped; a new line
 * is appended when USER had none and hash is not NULL. *found tells whether
 * USER had a line, *was_locked whether the first one was locked. Returns a
 * new buffer.
 */
static char *
passwd_compose(const char *old, size_t old_len, const char *user, const char *hash, size_t *out_len,
               bool *found, bool *was_locked)
{
    size_t ulen = strlen(user), hlen = hash != NULL ? strlen(hash) : 0;
    size_t cap = old_len + 1 + ulen + 1 + hlen + 2, n = 0; /* LF, ":", LF and NUL */
    char *out = xmalloc(cap);
    const char *p = old, *end = old + old_len;

    *found = *was_locked = false;
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        size_t len = lf != NULL ? (size_t)(lf - p) + 1 : (size_t)(end - p);

        if (len > ulen && memcmp(p, user, ulen) == 0 && p[ulen] == ':') {
            if (!*found) {
                *was_locked = len > ulen + 1 && p[ulen + 1] == '!';
                if (hash != NULL)
                    n += (size_t)snprintf(out + n, cap - n, "%s:%s\n", user, hash);
                *found = true;
            }
        } else {
            memcpy(out + n, p, len);
            n += len;
        }
        p += len;
    }
    if (!*found && hash != NULL) {
        if (n > 0 && out[n - 1] != '\n')
            out[n++] = '\n';
        n += (size_t)snprintf(out + n, cap - n, "%s:%s\n", user, hash);
    }
    *out_len = n;
    return out;
}

/* Writes text as the new file: temporary file, fsync, rename, fsync of the directory. */
static int
passwd_install(const struct passwd_file *f, const char *text, size_t len)
{
    char tmp[CAP_PATH + 16];
    const char *what;
    mode_t mode = f->exists ? f->st.st_mode & 07777 : PASSWD_NEW_MODE;
    int fd, e;

    if (str_fmt(tmp, sizeof(tmp), "%s/.%s.XXXXXX", f->dir, f->base) == -1) {
        fprintf(stderr, "gate26 passwd: %s: path too long\n", f->path);
        return -1;
    }
    fd = fault_hit(FAULT_OPEN) ? -1 : mkostemp(tmp, O_CLOEXEC);
    if (fd == -1) {
        fprintf(stderr, "gate26 passwd: cannot create a temporary file in %s: %s\n", f->dir,
                strerror(errno));
        return -1;
    }
    what = "set the mode of";
    if (fchmod(fd, mode) == -1)
        goto fail;
    /* The old file's owner, so that the daemon can still read it. */
    what = "set the owner of";
    if (f->exists && (f->st.st_uid != geteuid() || f->st.st_gid != getegid()) &&
        fchown(fd, f->st.st_uid, f->st.st_gid) == -1)
        goto fail;
    if (!f->exists && f->new_gid != (gid_t)-1 && fchown(fd, (uid_t)-1, f->new_gid) == -1)
        fprintf(stderr, "gate26 passwd: warning: cannot give %s the group %u: %s\n", f->path,
                (unsigned)f->new_gid, strerror(errno));
    what = "write";
    if (io_write_full(fd, text, len) == -1)
        goto fail;
    what = "fsync";
    if (fault_hit(FAULT_FSYNC) || fsync(fd) == -1)
        goto fail;
    what = "close";
    e = close(fd);
    fd = -1;
    if (e == -1)
        goto fail;
    what = "rename";
    if (fault_hit(FAULT_RENAME) || rename(tmp, f->path) == -1)
        goto fail;
    /* The rename is durable once the directory is. */
    if (fault_hit(FAULT_FSYNC) || fsync(f->dir_fd) == -1) {
        fprintf(stderr, "gate26 passwd: %s was replaced, but fsync of %s failed: %s\n", f->path,
                f->dir, strerror(errno));
        return -1;
    }
    return 0;
fail:
    e = errno;
    fprintf(stderr, "gate26 passwd: cannot %s %s: %s; %s is unchanged\n", what, tmp, strerror(e),
            f->path);
    if (fd != -1)
        (void)close(fd);
    (void)unlink(tmp);
    return -1;
}

/* Splits f->path into dir and base, opens and locks the directory. */
static int
passwd_open_dir(struct passwd_file *f)
{
    char copy[CAP_PATH];

    if (str_copyz(copy, sizeof(copy), f->path) == -1 ||
        str_copyz(f->dir, sizeof(f->dir), dirname(copy)) == -1) {
        fprintf(stderr, "gate26 passwd: %s: path too long\n", f->path);
        return -1;
    }
    (void)str_copyz(copy, sizeof(copy), f->path);
    (void)str_copyz(f->base, sizeof(f->base), basename(copy));
    f->dir_fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f->dir_fd == -1) {
        fprintf(stderr, "gate26 passwd: cannot open directory %s: %s\n", f->dir, strerror(errno));
        return -1;
    }
    /* Another `gate26 passwd` waits here, and then reads our result. */
    while (flock(f->dir_fd, LOCK_EX) == -1) {
        if (errno != EINTR) {
            fprintf(stderr, "gate26 passwd: cannot lock directory %s: %s\n", f->dir,
                    strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ the command */

/* The file to change: -f, else the config's auth { passwd FILE }. */
static int
passwd_target(const char *conf_path, const char *file, char *out, size_t cap, gid_t *gid)
{
    char err[1024];
    struct conf *c;
    int rc = 0;

    *gid = (gid_t)-1;
    if (file != NULL && conf_path == NULL)
        return str_copyz(out, cap, file) == 0 ? 0 : -1;
    c = conf_load(conf_path, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (file != NULL) {
        rc = str_copyz(out, cap, file);
    } else if (c->auth_passwd[0] == '\0') {
        fprintf(stderr, "gate26 passwd: %s has no 'auth { passwd FILE }' block (or give -f FILE)\n",
                conf_path);
        rc = -1;
    } else {
        rc = str_copyz(out, cap, c->auth_passwd);
    }
    /* A new file is for the daemon's user to read, after it drops root. */
    if (rc == 0 && c->user[0] != '\0' && geteuid() == 0) {
        const struct passwd *pw = getpwnam(c->user);

        if (pw != NULL)
            *gid = pw->pw_gid;
    }
    conf_unref(c);
    return rc;
}

static int
passwd_usage_error(const char *why)
{
    if (why != NULL)
        fprintf(stderr, "gate26 passwd: %s\n", why);
    fputs(passwd_usage, stderr);
    return 2;
}

/*
 * Reads the file (a missing one is empty) and checks it as the daemon
 * would, USER's lines aside (skip_user NULL: USER's too). Returns 0 with
 * the text in *old (the caller wipes and frees it) and, when lock_hash is
 * not NULL, USER's hash as it stands ("" when USER has no entry, a leading
 * '!' when locked) in lock_hash (capacity CRYPT_OUTPUT_SIZE + 1); or -1
 * after printing why.
 */
static int
passwd_load_old(struct passwd_file *f, const char *skip_user, char **old, size_t *old_len,
                const char *user, char *lock_hash)
{
    char err[1024];
    struct auth_db *db;
    struct stat lst;

    *old = NULL;
    *old_len = 0;
    /* A rename would replace the link, not the file it names. */
    if (lstat(f->path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
        fprintf(stderr, "gate26 passwd: %s is a symbolic link: give the file it points to\n",
                f->path);
        return -1;
    }
    f->exists = false;
    if (auth_db_read_file(f->path, old, old_len, err, sizeof(err)) == -1) {
        if (errno != ENOENT) {
            fprintf(stderr, "gate26 passwd: %s\n", err);
            return -1;
        }
        *old = xstrdup("");
    } else if (stat(f->path, &f->st) == 0) {
        f->exists = true;
    }
    db = auth_db_parse(f->path, *old, *old_len, skip_user, err, sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "%s; nothing changed\n", err);
        OPENSSL_cleanse(*old, *old_len);
        free(*old);
        *old = NULL;
        return -1;
    }
    if (lock_hash != NULL) {
        const struct auth_entry *e = auth_db_find(db, user);

        lock_hash[0] = '\0';
        if (e != NULL)
            (void)str_fmt(lock_hash, CRYPT_OUTPUT_SIZE + 1, "%s%s", e->locked ? "!" : "", e->hash);
    }
    auth_db_unref(db);
    return 0;
}

/* Asks for the password and makes its hash into hash (capacity CRYPT_OUTPUT_SIZE). */
static int
passwd_new_hash(char *hash)
{
    char pass[PASSWD_LINE_CAP];
    size_t pass_len = 0;
    int rc = -1;

    if (passwd_read(pass, &pass_len) == -1)
        goto out;
    if (pass_len == 0) {
        fprintf(stderr, "gate26 passwd: empty password refused; nothing changed\n");
        goto out;
    }
    if (pass_len > AUTH_SASL_FIELD_MAX) {
        fprintf(stderr, "gate26 passwd: password longer than %d octets; nothing changed\n",
                AUTH_SASL_FIELD_MAX);
        goto out;
    }
    if (!auth_is_password(pass, pass_len)) {
        fprintf(stderr,
                "gate26 passwd: a password is 1 to %d octets of UTF-8 without NUL; "
                "nothing changed\n",
                AUTH_SASL_FIELD_MAX);
        goto out;
    }
    if (passwd_hash(pass, hash, CRYPT_OUTPUT_SIZE) == -1) {
        fprintf(stderr, "gate26 passwd: cannot hash the password: %s\n", strerror(errno));
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(pass, sizeof(pass));
    return rc;
}

/*
 * Checks the file, asks for the password, then (under the directory's lock,
 * which is never held while someone types) reads and checks the file again
 * and replaces it. Returns the exit status.
 */
static int
passwd_update(struct passwd_file *f, const char *user)
{
    char err[1024], hash[CRYPT_OUTPUT_SIZE];
    char *old = NULL, *text = NULL;
    size_t old_len = 0, len = 0;
    struct auth_db *db;
    bool replaced, was_locked;
    int rc = 1;

    /* Before the password is asked for: a broken file is reported at once. */
    if (passwd_load_old(f, user, &old, &old_len, user, NULL) == -1)
        return 1;
    OPENSSL_cleanse(old, old_len);
    free(old);
    old = NULL;
    if (passwd_new_hash(hash) == -1)
        goto out;
    if (passwd_open_dir(f) == -1 || passwd_load_old(f, user, &old, &old_len, user, NULL) == -1)
        goto out;
    text = passwd_compose(old, old_len, user, hash, &len, &replaced, &was_locked);
    /* What we write, the daemon must load: a bug otherwise. */
    db = auth_db_parse(f->path, text, len, NULL, err, sizeof(err));
    if (db == NULL)
        log_panic("-: event=passwd, reason=\"the new file does not load: %s\"", err);
    auth_db_unref(db);
    if (passwd_install(f, text, len) == -1)
        goto out;
    printf("%s: %s user '%s'%s\n", f->path, replaced ? "new password for" : "added", user,
           was_locked ? " (unlocked)" : "");
    rc = 0;
out:
    OPENSSL_cleanse(hash, sizeof(hash));
    if (text != NULL) {
        OPENSSL_cleanse(text, len);
        free(text);
    }
    if (old != NULL) {
        OPENSSL_cleanse(old, old_len);
        free(old);
    }
    if (f->dir_fd != -1)
        (void)close(f->dir_fd); /* and the lock with it */
    f->dir_fd = -1;
    return rc;
}

/*
 * --delete and --lock: under the directory's lock, reads and checks the
 * file (USER's own lines must load for --lock, which keeps their hash) and
 * writes it without USER's line, or with it locked. Returns the exit status.
 */
static int
passwd_change(struct passwd_file *f, const char *user, enum passwd_action action)
{
    char err[1024], hash[CRYPT_OUTPUT_SIZE + 1] = "", locked[CRYPT_OUTPUT_SIZE + 2];
    char *old = NULL, *text = NULL;
    size_t old_len = 0, len = 0;
    struct auth_db *db;
    bool found, was_locked;
    int rc = 1;

    if (passwd_open_dir(f) == -1 ||
        passwd_load_old(f, action == PASSWD_DELETE ? user : NULL, &old, &old_len, user, hash) == -1)
        goto out;
    if (action == PASSWD_LOCK && hash[0] == '!') {
        printf("%s: user '%s' is already locked\n", f->path, user);
        rc = 0;
        goto out;
    }
    (void)str_fmt(locked, sizeof(locked), "!%s", hash);
    text = passwd_compose(old, old_len, user, action == PASSWD_LOCK ? locked : NULL, &len, &found,
                          &was_locked);
    if (!found || (action == PASSWD_LOCK && hash[0] == '\0')) {
        fprintf(stderr, "gate26 passwd: no user '%s' in %s; nothing changed\n", user, f->path);
        goto out;
    }
    db = auth_db_parse(f->path, text, len, NULL, err, sizeof(err));
    if (db == NULL)
        log_panic("-: event=passwd, reason=\"the new file does not load: %s\"", err);
    auth_db_unref(db);
    if (passwd_install(f, text, len) == -1)
        goto out;
    if (action == PASSWD_DELETE)
        printf("%s: removed user '%s'\n", f->path, user);
    else
        printf("%s: locked user '%s' (no password works until one is set again)\n", f->path, user);
    rc = 0;
out:
    OPENSSL_cleanse(hash, sizeof(hash));
    OPENSSL_cleanse(locked, sizeof(locked));
    if (text != NULL) {
        OPENSSL_cleanse(text, len);
        free(text);
    }
    if (old != NULL) {
        OPENSSL_cleanse(old, old_len);
        free(old);
    }
    if (f->dir_fd != -1)
        (void)close(f->dir_fd);
    f->dir_fd = -1;
    return rc;
}

int
auth_passwd_cli(int argc, char **argv, const char *default_conf)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"file", required_argument, NULL, 'f'},
        {"delete", no_argument, NULL, 'D'},       {"lock", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *conf_path = NULL, *file = NULL, *user;
    char path[CAP_PATH], quoted[LOG_QUOTE_CAP];
    struct passwd_file f = {.dir_fd = -1};
    enum passwd_action action = PASSWD_SET;
    int ch, n_actions = 0;

    optind = 1;
    opterr = 1;
    while ((ch = getopt_long(argc, argv, "c:f:h", opts, NULL)) != -1) {
        if (ch == 'c') {
            conf_path = optarg;
        } else if (ch == 'f') {
            file = optarg;
        } else if (ch == 'D' || ch == 'L') {
            action = ch == 'D' ? PASSWD_DELETE : PASSWD_LOCK;
            n_actions++;
        } else if (ch == 'h') {
            fputs(passwd_usage, stdout);
            fputs(passwd_help, stdout);
            return 0;
        } else {
            return passwd_usage_error(NULL);
        }
    }
    if (n_actions > 1)
        return passwd_usage_error("--delete and --lock do not go together");
    if (argc - optind != 1)
        return passwd_usage_error(argc == optind ? "which USER?" : "one USER only");
    user = argv[optind];
    if (!auth_is_user_name(user, strlen(user))) {
        fprintf(stderr,
                "gate26 passwd: \"%s\" is not a user name: 1 to %d printable ASCII characters "
                "without ':' or spaces\n",
                log_quote(quoted, sizeof(quoted), user, strlen(user)), AUTH_USER_MAX);
        return 2;
    }
    if (fault_init() == -1) {
        fprintf(stderr, "gate26 passwd: malformed GATE26_FAULT\n");
        return 2;
    }
    if (passwd_target(file != NULL ? conf_path : (conf_path ? conf_path : default_conf), file, path,
                      sizeof(path), &f.new_gid) == -1)
        return 1;
    f.path = path;
    return action == PASSWD_SET ? passwd_update(&f, user) : passwd_change(&f, user, action);
}
