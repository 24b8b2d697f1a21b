/* SPDX-License-Identifier: MIT */
/*
 * One request to the control socket (call.h): connect, send the line,
 * read the status line ("ok" or "error: TEXT") and the body until the
 * daemon closes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "ctl/call.h"
#include "lib/io.h"
#include "lib/str.h"

int
ctl_connect(const char *path)
{
    struct sockaddr_un sun;
    int fd, e;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
        e = errno;
        (void)close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int
ctl_call(const char *spool_dir, const char *prog, const char *line)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)], buf[16384];
    bool first = true, ok = false;
    int fd;

    if (str_fmt(path, sizeof(path), "%s/%s", spool_dir, CTL_SOCKET_NAME) == -1) {
        fprintf(stderr, "gate26 %s: %s/%s: path too long\n", prog, spool_dir, CTL_SOCKET_NAME);
        return 1;
    }
    fd = ctl_connect(path);
    if (fd == -1) {
        fprintf(stderr, "gate26 %s: cannot reach the daemon at %s: %s (is gate26 serve running?)\n",
                prog, path, strerror(errno));
        return 1;
    }
    if (io_write_full(fd, line, strlen(line)) == -1) {
        fprintf(stderr, "gate26 %s: %s: %s\n", prog, path, strerror(errno));
        (void)close(fd);
        return 1;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        const char *body = buf;
        size_t len;

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len = (size_t)n;
        if (first) {
            /* The status line: "ok" or "error: TEXT". */
            const char *eol = memchr(buf, '\n', len);

            first = false;
            if (eol == NULL || !(eol - buf == 2 && memcmp(buf, "ok", 2) == 0)) {
                fprintf(stderr, "gate26 %s: ", prog);
                (void)fwrite(buf, 1, len, stderr);
                while ((n = read(fd, buf, sizeof(buf))) > 0)
                    (void)fwrite(buf, 1, (size_t)n, stderr);
                (void)close(fd);
                return 1;
            }
            ok = true;
            body = eol + 1;
            len -= (size_t)(eol + 1 - buf);
        }
        (void)fwrite(body, 1, len, stdout);
    }
    (void)close(fd);
    if (!ok) {
        fprintf(stderr, "gate26 %s: the daemon closed the connection without an answer\n", prog);
        return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
