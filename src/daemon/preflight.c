/* SPDX-License-Identifier: MIT */
/*
 * The checks serve makes before it starts, and configtest in its place;
 * see preflight.h. Only what the file cannot tell by itself is here (the
 * user exists, the spool is a directory, the files can be read, by root and
 * by the user a reload runs as, the ports are free); what the file alone
 * decides is src/conf's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/auth.h"
#include "check/check.h"
#include "checks/checks.h"
#include "daemon/preflight.h"
#include "daemon/privileges.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "sensor/sensor.h"
#include "tls/tls.h"

/* "FILE:LINE", or "FILE" when the key was not written. */
static const char *
where(const struct conf *c, unsigned line, char *buf, size_t cap)
{
    if (line == 0)
        (void)str_copyz(buf, cap, c->path);
    else
        (void)str_fmt(buf, cap, "%s:%u", c->path, line);
    return buf;
}

/* ---- Loading what the file names ---- */

static int
load_passwd(const struct conf *c, struct auth_db **out, char *err, size_t errcap)
{
    char at[CAP_PATH + 16], why[1024];
    size_t plen = strlen(c->auth_passwd);
    int fd = open(c->auth_passwd, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    where(c, c->auth_passwd_line, at, sizeof at);
    if (fd == -1) {
        int e = errno;
        char hint[256] = "";

        if (e == ENOENT)
            (void)str_fmt(hint, sizeof hint, " (create it with: gate26 passwd -c %s USER)",
                          c->path);
        else if (e == EACCES && geteuid() != 0 && c->user[0] != '\0')
            (void)str_fmt(hint, sizeof hint, " (a reload runs as user '%s': make it root:%s 0640)",
                          c->user, c->user);
        (void)str_fmt(err, errcap, "%s: cannot read password file '%s': %s%s", at, c->auth_passwd,
                      strerror(e), hint);
        return -1;
    }
    (void)close(fd);
    *out = auth_db_load(c->auth_passwd, why, sizeof why);
    if (*out != NULL)
        return 0;
    /* "PATH:N: ..." names the password file's own line; "PATH: why" gets the config's. */
    if (strncmp(why, c->auth_passwd, plen) == 0 && why[plen] == ':' && why[plen + 1] == ' ')
        (void)str_fmt(err, errcap, "%s: password file '%s': %s", at, c->auth_passwd,
                      why + plen + 2);
    else
        (void)str_copyz(err, errcap, why);
    return -1;
}

int
preflight_load(const struct conf *c, struct preflight_loaded *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof(*out));
    if (c->has_tls && (out->tls = tls_server_new(c, err, errcap)) == NULL)
        return -1;
    out->tls_client = tls_client_new(c, err, errcap);
    if (out->tls_client == NULL) {
        preflight_loaded_clear(out);
        return -1;
    }
    if (c->auth_passwd[0] != '\0' && load_passwd(c, &out->auth_db, err, errcap) == -1) {
        preflight_loaded_clear(out);
        return -1;
    }
    /* The dkim blocks' keys, read now as the certificates are (configtest names a bad one). */
    out->dkim_keys = checks_keys_load(c, err, errcap);
    if (out->dkim_keys == NULL && err[0] != '\0') {
        preflight_loaded_clear(out);
        return -1;
    }
    return 0;
}

void
preflight_loaded_clear(struct preflight_loaded *l)
{
    tls_server_unref(l->tls);
    tls_client_unref(l->tls_client);
    auth_db_unref(l->auth_db);
    checks_keys_unref(l->dkim_keys);
    memset(l, 0, sizeof(*l));
}

/* ---- The spool ---- */

static int
check_spool(const struct conf *c, struct preflight_notes *notes, char *err, size_t errcap)
{
    char what[CAP_PATH + 64], parent[CAP_PATH];
    const char *slash;
    struct stat st;

    if (c->spool_line != 0)
        (void)str_fmt(what, sizeof what, "%s:%u: spool '%s'", c->path, c->spool_line, c->spool);
    else
        (void)str_fmt(what, sizeof what, "%s: spool (default %s)", c->path, c->spool);
    if (stat(c->spool, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        (void)str_fmt(err, errcap, "%s: %s", what, strerror(ENOTDIR));
        return -1;
    }
    if (errno != ENOENT) {
        (void)str_fmt(err, errcap, "%s: %s", what, strerror(errno));
        return -1;
    }
    /* serve makes the spool directory (spool_open), not the directories above it. */
    (void)str_copyz(parent, sizeof parent, c->spool);
    slash = strrchr(parent, '/');
    if (slash != NULL)
        parent[slash == parent ? 1 : (size_t)(slash - parent)] = '\0';
    if (stat(parent, &st) == -1 || !S_ISDIR(st.st_mode)) {
        (void)str_fmt(err, errcap,
                      "%s: %s (serve creates the spool directory, but not '%s' above it)", what,
                      strerror(ENOENT), parent);
        return -1;
    }
    if (notes->n_notes < PREFLIGHT_NOTES_MAX)
        (void)str_fmt(notes->note[notes->n_notes++], sizeof notes->note[0],
                      "%s does not exist yet: serve will create it", what);
    return 0;
}

/* ---- The files, as the user a reload runs as ---- */

struct user_file {
    const char *what; /* "key", "certificate", ..., NULL: the configuration file */
    const char *path;
    unsigned line;
    bool run; /* a program the user runs (alert exec): X_OK, not opened */
};

/* One more file for the user to open, in a growing array. */
static void
user_file_add(struct user_file **v, size_t *n, size_t *cap, const char *what, const char *path,
              unsigned line)
{
    if (*n == *cap) {
        *cap = *cap == 0 ? 16 : 2 * *cap;
        *v = xrealloc(*v, *cap * sizeof(**v));
    }
    (*v)[(*n)++] = (struct user_file){what, path, line, false};
}

/*
 * The files a reload reads again: the configuration and what it names (the
 * certificates and keys, the CA file, the password file, the relay-auth
 * files, the recipient lists). A heap array of *n (the caller frees it).
 */
static struct user_file *
user_files(const struct conf *c, size_t *n)
{
    struct user_file *v = NULL;
    size_t cap = 0;

    *n = 0;
    user_file_add(&v, n, &cap, NULL, c->path, 0);
    for (size_t i = 0; i < c->n_tls_pairs; i++) {
        user_file_add(&v, n, &cap, "certificate", c->tls_pairs[i].cert, c->tls_pairs[i].line);
        user_file_add(&v, n, &cap, "key", c->tls_pairs[i].key, c->tls_pairs[i].key_line);
    }
    if (c->tls_ca_file[0] != '\0')
        user_file_add(&v, n, &cap, "CA file", c->tls_ca_file, c->tls_ca_file_line);
    if (c->auth_passwd[0] != '\0')
        user_file_add(&v, n, &cap, "password file", c->auth_passwd, c->auth_passwd_line);
    if (c->relay_host.auth != NULL)
        user_file_add(&v, n, &cap, "relay-auth file", c->relay_host.auth->file,
                      c->relay_host.auth->line);
    for (size_t i = 0; i < c->n_domains; i++) {
        const struct conf_relay_auth *a = c->domains[i].relay.auth;

        if (a != NULL)
            user_file_add(&v, n, &cap, "relay-auth file", a->file, a->line);
    }
    for (size_t i = 0; i < c->n_verify_files; i++)
        user_file_add(&v, n, &cap, "recipient list", c->verify_files[i].path,
                      c->verify_files[i].line);
    if (c->metrics.auth != CONF_METRICS_AUTH_NONE)
        user_file_add(&v, n, &cap,
                      c->metrics.auth == CONF_METRICS_AUTH_BEARER ? "bearer-token-file"
                                                                  : "basic-auth-file",
                      c->metrics.auth_file, c->metrics.auth_line);
    /* Alerts run their exec programs as the user (docs/watch.md). */
    for (size_t i = 0; i < c->n_alerts; i++) {
        for (size_t k = 0; k < c->alerts[i].n_execs; k++) {
            user_file_add(&v, n, &cap, "exec program", c->alerts[i].execs[k],
                          c->alerts[i].exec_lines[k]);
            v[*n - 1].run = true;
        }
    }
    return v;
}

/*
 * In a child that has become the user: opens each file and writes the index
 * and errno of the first one that fails (or -1) to fd. Never returns.
 */
static void __attribute__((noreturn))
user_child(int fd, const struct passwd *pw, const struct user_file *v, size_t n)
{
    int res[2] = {-1, 0};

    if (setgroups(0, NULL) == -1 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
        res[0] = -2;
        res[1] = errno;
    }
    for (size_t i = 0; res[0] == -1 && i < n; i++) {
        int f;

        if (v[i].run) {
            if (access(v[i].path, X_OK) == -1) {
                res[0] = (int)i;
                res[1] = errno;
            }
            continue;
        }
        f = open(v[i].path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (f == -1) {
            res[0] = (int)i;
            res[1] = errno;
        } else {
            (void)close(f);
        }
    }
    (void)!write(fd, res, sizeof res);
    _exit(0);
}

/* True when the mode bits of st let uid/gid (no other group) do what bits (R, X) asks. */
static bool
mode_allows(const struct stat *st, uid_t uid, gid_t gid, mode_t user_bit)
{
    if (st->st_uid == uid)
        return (st->st_mode & user_bit) != 0;
    if (st->st_gid == gid)
        return (st->st_mode & (user_bit >> 3)) != 0;
    return (st->st_mode & (user_bit >> 6)) != 0;
}

/* What to do about path that the user cannot open: its own mode, or a directory above it. */
static void
user_fix(const char *path, const struct passwd *pw, const char *group, char *out, size_t cap)
{
    char dir[CAP_PATH];
    struct stat st;

    if (stat(path, &st) == 0 && mode_allows(&st, pw->pw_uid, pw->pw_gid, S_IRUSR)) {
        /* The file would do: a directory on its way keeps the user out. */
        (void)str_copyz(dir, sizeof dir, path);
        for (char *s = strchr(dir + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
            *s = '\0';
            if (stat(dir, &st) == 0 && !mode_allows(&st, pw->pw_uid, pw->pw_gid, S_IXUSR)) {
                (void)str_fmt(out, cap,
                              "the directory '%s' does not let it through (it needs x for it)",
                              dir);
                return;
            }
            *s = '/';
        }
        (void)str_copyz(out, cap, "a directory on its way keeps it out");
        return;
    }
    (void)str_fmt(out, cap, "make it root:%s 0640", group);
}

static int
check_user_files(const struct conf *c, char *err, size_t errcap)
{
    struct user_file *v;
    size_t n;
    struct passwd pw, *found = NULL;
    struct group gr, *gfound = NULL;
    char buf[4096], gbuf[4096], at[CAP_PATH + 16], fix[CAP_PATH + 80];
    const char *group;
    int pipefd[2], res[2] = {-1, 0}, status;
    pid_t pid;
    ssize_t got;

    if (geteuid() != 0 || c->user[0] == '\0')
        return 0; /* a reload runs as we are: what we read, it reads */
    if (getpwnam_r(c->user, &pw, buf, sizeof buf, &found) != 0 || found == NULL)
        return 0; /* privileges_check() has said so */
    v = user_files(c, &n);
    if (pipe2(pipefd, O_CLOEXEC) == -1) {
        (void)str_fmt(err, errcap, "pipe: %s", strerror(errno));
        free(v);
        return -1;
    }
    pid = fork();
    if (pid == -1) {
        (void)str_fmt(err, errcap, "fork: %s", strerror(errno));
        (void)close(pipefd[0]);
        (void)close(pipefd[1]);
        free(v);
        return -1;
    }
    if (pid == 0) {
        (void)close(pipefd[0]);
        user_child(pipefd[1], &pw, v, n);
    }
    (void)close(pipefd[1]);
    do {
        got = read(pipefd[0], res, sizeof res);
    } while (got == -1 && errno == EINTR);
    (void)close(pipefd[0]);
    while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
        ;
    if (got != (ssize_t)sizeof res || res[0] == -2) {
        (void)str_fmt(err, errcap, "cannot check the files as user '%s': %s", c->user,
                      got == (ssize_t)sizeof res ? strerror(res[1]) : "the check did not finish");
        free(v);
        return -1;
    }
    if (res[0] == -1) {
        free(v);
        return 0;
    }
    group = getgrgid_r(pw.pw_gid, &gr, gbuf, sizeof gbuf, &gfound) == 0 && gfound != NULL
                ? gr.gr_name
                : c->user;
    if (res[1] == EACCES && v[res[0]].run)
        (void)str_fmt(fix, sizeof fix, "alerts run it as that user: give it x for them");
    else if (res[1] == EACCES)
        user_fix(v[res[0]].path, &pw, group, fix, sizeof fix);
    else
        (void)str_copyz(fix, sizeof fix, strerror(res[1]));
    if (v[res[0]].what == NULL)
        (void)str_fmt(err, errcap,
                      "%s: the configuration file is not readable by user '%s' (a reload runs "
                      "as it): %s",
                      c->path, c->user, fix);
    else if (v[res[0]].run)
        (void)str_fmt(err, errcap, "%s: %s '%s' cannot be run by user '%s': %s",
                      where(c, v[res[0]].line, at, sizeof at), v[res[0]].what, v[res[0]].path,
                      c->user, fix);
    else
        (void)str_fmt(
            err, errcap, "%s: %s '%s' is not readable by user '%s' (a reload runs as it): %s",
            where(c, v[res[0]].line, at, sizeof at), v[res[0]].what, v[res[0]].path, c->user, fix);
    free(v);
    return -1;
}

/* ---- The listening addresses ---- */

/*
 * True when the owner of a port is the gate26 that runs on c's spool: it
 * keeps SPOOL/lock open under flock for its life, so the owner has that
 * file open or is the process /proc/locks names as holding its lock; or it
 * is a gate26 with the spool directory itself open (serve keeps it open
 * from its start, for the spool's directory fsyncs).
 */
static bool
is_running_gate26(const struct conf *c, const struct check_listener *owner)
{
    char lock[CAP_PATH + 8];
    long holder;

    if (str_fmt(lock, sizeof lock, "%s/lock", c->spool) == -1)
        return false;
    holder = check_flock_holder(lock);
    if (owner->pid != -1)
        return check_pid_has_open(owner->pid, lock) || (holder != -1 && holder == owner->pid) ||
               (owner->is_gate26 && check_pid_has_open(owner->pid, c->spool));
    /* Another user's process, unseen without root: the spool's lock is held and the socket is
     * the user's. */
    return holder != -1 && c->user[0] != '\0' && strcmp(owner->user, c->user) == 0;
}

/* A test bind of a, as listen/ binds: 0, or -1 with errno. */
static int
try_bind(const struct conf_addr *a)
{
    int one = 1, e;
    int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
        (a->sa.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == -1) ||
        bind(fd, (const struct sockaddr *)&a->sa, a->sa_len) == -1) {
        e = errno;
        (void)close(fd);
        errno = e;
        return -1;
    }
    (void)close(fd);
    return 0;
}

static int
check_addr(const struct conf *c, const struct conf_addr *a, char *err, size_t errcap)
{
    struct check_listener owner;
    char at[CAP_PATH + 16], by[400];
    int e;

    if (try_bind(a) == 0)
        return 0;
    e = errno;
    where(c, a->line, at, sizeof at);
    if (e == EACCES) {
        (void)str_fmt(err, errcap,
                      "%s: address %s: %s (a port below 1024 is bound by gate26 started as "
                      "root)",
                      at, a->text, strerror(e));
        return -1;
    }
    if (e == EADDRNOTAVAIL) {
        (void)str_fmt(err, errcap, "%s: address %s is not an address of this machine (%s)", at,
                      a->text, strerror(e));
        return -1;
    }
    if (e != EADDRINUSE) {
        (void)str_fmt(err, errcap, "%s: address %s: %s", at, a->text, strerror(e));
        return -1;
    }
    by[0] = '\0';
    if (check_port_owner((const struct sockaddr *)&a->sa, &owner) == 0) {
        /* The gate26 this file is for: a reload keeps its sockets (configtest), and the spool's
         * lock tells a second serve that it runs already, in the words of spool.h. */
        if (is_running_gate26(c, &owner))
            return 0;
        if (owner.pid != -1)
            (void)str_fmt(by, sizeof by, " (by %.80s%s, pid %ld, user %s)",
                          owner.command[0] != '\0' ? owner.command : "a process",
                          strlen(owner.command) > 80 ? "..." : "", owner.pid, owner.user);
        else
            (void)str_fmt(by, sizeof by, " (by a process of user %s)", owner.user);
    }
    (void)str_fmt(err, errcap, "%s: address %s is already in use%s", at, a->text, by);
    return -1;
}

/* The doors' addresses, then the metrics endpoint's. */
static int
check_addrs(const struct conf *c, char *err, size_t errcap)
{
    for (size_t i = 0; i < c->n_listens; i++) {
        for (size_t j = 0; j < c->listens[i].n_addrs; j++) {
            if (check_addr(c, &c->listens[i].addrs[j], err, errcap) == -1)
                return -1;
        }
    }
    for (size_t j = 0; j < c->metrics.n_addrs; j++) {
        if (check_addr(c, &c->metrics.addrs[j], err, errcap) == -1)
            return -1;
    }
    return 0;
}

/* ---- The whole ---- */

bool
preflight_hostname_warning(const struct conf *c, char *out, size_t cap)
{
    char machine[CAP_HOSTNAME + 2] = "";

    if (c->hostname_line != 0)
        return false;
    if (strchr(c->hostname, '.') != NULL && strcmp(c->hostname, "localhost") != 0 &&
        strncmp(c->hostname, "localhost.", 10) != 0)
        return false;
    if (gethostname(machine, sizeof machine) == -1)
        machine[0] = '\0';
    machine[sizeof machine - 1] = '\0';
    (void)str_fmt(out, cap,
                  "%s: 'hostname' is not set and this machine's name '%s' is not a fully "
                  "qualified domain name: gate26 greets, answers EHLO and writes Received "
                  "headers as '%s'; set 'hostname' (such as mx1.example.com)",
                  c->path, machine, c->hostname);
    return true;
}

int
preflight_start(const struct conf *c, enum preflight_mode mode, struct preflight_loaded *out,
                struct preflight_notes *notes, char *err, size_t errcap)
{
    memset(out, 0, sizeof(*out));
    memset(notes, 0, sizeof(*notes));
    if (privileges_check(c, err, errcap) == -1 || sensor_check(c, err, errcap) == -1 ||
        check_spool(c, notes, err, errcap) == -1 || preflight_load(c, out, err, errcap) == -1)
        return -1;
    /* What only a reload would refuse: configtest refuses it, serve starts and warns. */
    if (check_user_files(c, err, errcap) == -1) {
        if (mode == PREFLIGHT_CONFIGTEST) {
            preflight_loaded_clear(out);
            return -1;
        }
        (void)str_copyz(notes->warning[notes->n_warnings++], sizeof notes->warning[0], err);
    }
    if (check_addrs(c, err, errcap) == -1) {
        preflight_loaded_clear(out);
        return -1;
    }
    if (preflight_hostname_warning(c, notes->warning[notes->n_warnings], sizeof notes->warning[0]))
        notes->n_warnings++;
    return 0;
}
