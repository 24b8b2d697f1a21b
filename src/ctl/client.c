/* SPDX-License-Identifier: MIT */
/*
 * `gate26 queue`: turns the command line into one request line for the
 * control socket (ctl.h), prints the answer's body on standard output or
 * its error on standard error, and returns the exit status.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "lib/io.h"
#include "lib/str.h"

static const char usage_text[] =
    "usage: gate26 queue [-c FILE] COMMAND\n"
    "  list [--json]   every queued message: id, age, size, next try, sender, recipients\n"
    "  show ID         one message's envelope and header\n"
    "  flush [ID]      try every message (or one) now\n"
    "  hold ID         no delivery until released\n"
    "  release ID      undo hold, try now\n"
    "  delete ID       remove without delivering or bouncing\n"
    "  bounce ID       return to the sender now\n";

/* Builds the request line from argv; -1 on a usage error. */
static int
request_line(int argc, char **argv, char *out, size_t cap)
{
    const char *verb = argv[0];
    static const char *const with_id[] = {"show", "hold", "release", "delete", "bounce"};

    if (strcmp(verb, "list") == 0) {
        if (argc == 1)
            return str_fmt(out, cap, "list\n");
        if (argc == 2 && strcmp(argv[1], "--json") == 0)
            return str_fmt(out, cap, "list-json\n");
        return -1;
    }
    if (strcmp(verb, "flush") == 0) {
        if (argc == 1)
            return str_fmt(out, cap, "flush\n");
        return argc == 2 ? str_fmt(out, cap, "flush %s\n", argv[1]) : -1;
    }
    for (size_t i = 0; i < sizeof(with_id) / sizeof(with_id[0]); i++) {
        if (strcmp(verb, with_id[i]) == 0)
            return argc == 2 ? str_fmt(out, cap, "%s %s\n", verb, argv[1]) : -1;
    }
    return -1;
}

int
ctl_client(const char *spool_dir, int argc, char **argv)
{
    struct sockaddr_un sun;
    char path[sizeof(sun.sun_path)], line[300], buf[16384];
    bool first = true, ok = false;
    int fd;

    if (argc < 1 || strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0) {
        fputs(usage_text, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    if (request_line(argc, argv, line, sizeof(line)) == -1 ||
        strchr(line, '\n') != strrchr(line, '\n')) {
        fprintf(stderr, "gate26 queue: bad arguments\n%s", usage_text);
        return 2;
    }
    if (str_fmt(path, sizeof(path), "%s/%s", spool_dir, CTL_SOCKET_NAME) == -1) {
        fprintf(stderr, "gate26 queue: %s/%s: path too long\n", spool_dir, CTL_SOCKET_NAME);
        return 1;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
        fprintf(stderr,
                "gate26 queue: cannot reach the daemon at %s: %s (is gate26 serve running?)\n",
                path, strerror(errno));
        if (fd != -1)
            (void)close(fd);
        return 1;
    }
    if (io_write_full(fd, line, strlen(line)) == -1) {
        fprintf(stderr, "gate26 queue: %s: %s\n", path, strerror(errno));
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
                fprintf(stderr, "gate26 queue: ");
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
        fprintf(stderr, "gate26 queue: the daemon closed the connection without an answer\n");
        return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
