/* SPDX-License-Identifier: MIT */
/*
 * The hand-over (sendmail.h): the record to the daemon's local submission
 * socket, whose answer is one line ("ok ID", "temp TEXT", "fail TEXT",
 * pickup/pickup.h), sent only once the message is durable in the spool;
 * when no daemon answers there, the record into the maildrop: a file of
 * its own (t.NAME, O_EXCL, mode 0600 while it is written), fsynced, made
 * readable to the daemon (0604: the maildrop's group, which the writer has,
 * gets nothing), renamed to m.NAME and the file system synced (the writer
 * may not read the directory, so it cannot fsync it alone).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/str.h"
#include "sendmail/sendmail.h"

/* How long the daemon may take to answer (its checks: milters, rspamd, clamd). */
#define SUBMIT_ANSWER_MS (10 * 60 * 1000)

static int
send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

        if (w == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

enum sock_try { SOCK_ANSWERED, SOCK_NONE };

/* The record to the socket, and its answer into line (NUL-terminated, no LF). */
static enum sock_try
try_socket(const char *path, const char *head, size_t head_len, const char *content, size_t len,
           bool verbose, char *line, size_t cap)
{
    struct sockaddr_un sun;
    size_t n = 0;
    int fd;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path))
        return SOCK_NONE;
    memcpy(sun.sun_path, path, strlen(path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return SOCK_NONE;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
        if (verbose)
            fprintf(stderr, "sendmail: %s: %s\n", path, strerror(errno));
        (void)close(fd);
        return SOCK_NONE;
    }
    /* A refusal may close the socket early: its answer is read all the same. */
    if (send_all(fd, head, head_len) == 0 && send_all(fd, content, len) == 0)
        (void)shutdown(fd, SHUT_WR);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t r;
        char *lf;

        if (poll(&p, 1, SUBMIT_ANSWER_MS) <= 0)
            break;
        r = read(fd, line + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        line[n] = '\0';
        if ((lf = memchr(line, '\n', n)) != NULL) {
            *lf = '\0';
            (void)close(fd);
            return SOCK_ANSWERED;
        }
        if (n + 1 >= cap)
            break;
    }
    if (verbose)
        fprintf(stderr, "sendmail: %s: no answer from the daemon\n", path);
    (void)close(fd);
    return SOCK_NONE;
}

static int
write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);

        if (w == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The record into the maildrop, with the maildrop's group in effect only here. */
static int
to_maildrop(const char *dir, const char *head, size_t head_len, const char *content, size_t len,
            char *name, size_t namecap, char *reason, size_t reasoncap)
{
    char tmp[96];
    struct timeval tv;
    int dfd, fd = -1, e;

    (void)gettimeofday(&tv, NULL);
    (void)str_fmt(tmp, sizeof(tmp), "t.%lld.%06ld.%ld", (long long)tv.tv_sec, (long)tv.tv_usec,
                  (long)getpid());
    (void)str_fmt(name, namecap, "m.%lld.%06ld.%ld", (long long)tv.tv_sec, (long)tv.tv_usec,
                  (long)getpid());
    sendmail_group_take();
    dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd == -1) {
        e = errno;
        sendmail_group_drop();
        (void)str_fmt(reason, reasoncap, "maildrop %s: %s", dir, strerror(e));
        return -1;
    }
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd == -1)
        goto fail;
    if (write_all(fd, head, head_len) == -1 || write_all(fd, content, len) == -1 ||
        fchmod(fd, 0604) == -1 || fsync(fd) == -1)
        goto fail_unlink;
    if (renameat(dfd, tmp, dfd, name) == -1)
        goto fail_unlink;
    if (syncfs(fd) == -1) {
        e = errno;
        (void)unlinkat(dfd, name, 0);
        errno = e;
        goto fail;
    }
    (void)close(fd);
    (void)close(dfd);
    sendmail_group_drop();
    return 0;

fail_unlink:
    e = errno;
    (void)unlinkat(dfd, tmp, 0);
    errno = e;
fail:
    e = errno;
    if (fd != -1)
        (void)close(fd);
    (void)close(dfd);
    sendmail_group_drop();
    (void)str_fmt(reason, reasoncap, "maildrop %s: %s%s", dir, strerror(e),
                  e == ENOSPC ? " (the maildrop is full)" : "");
    return -1;
}

enum sendmail_result
sendmail_submit(const struct sendmail_conf *c, const char *head, size_t head_len,
                const char *content, size_t content_len, bool verbose, char *id, size_t idcap,
                char *reason, size_t reasoncap)
{
    char line[1024], name[128];

    id[0] = '\0';
    if (try_socket(c->socket, head, head_len, content, content_len, verbose, line, sizeof(line)) ==
        SOCK_ANSWERED) {
        if (strncmp(line, "ok ", 3) == 0) {
            (void)str_copyz(id, idcap, line + 3);
            (void)str_fmt(reason, reasoncap, "queued as %s", id);
            return SENDMAIL_QUEUED;
        }
        if (strncmp(line, "fail ", 5) == 0) {
            (void)str_fmt(reason, reasoncap, "refused: %s", line + 5);
            return SENDMAIL_REFUSED;
        }
        (void)str_fmt(reason, reasoncap, "not queued: %s",
                      strncmp(line, "temp ", 5) == 0 ? line + 5 : line);
        return SENDMAIL_TEMPFAIL;
    }
    if (to_maildrop(c->maildrop, head, head_len, content, content_len, name, sizeof(name), reason,
                    reasoncap) == -1) {
        char why[900];

        (void)str_copyz(why, sizeof(why), reason);
        (void)str_fmt(reason, reasoncap, "the daemon does not answer on %s, and %s", c->socket,
                      why);
        return SENDMAIL_TEMPFAIL;
    }
    (void)str_fmt(reason, reasoncap, "the daemon does not answer on %s: left in the maildrop as %s",
                  c->socket, name);
    return SENDMAIL_DROPPED;
}
