/* SPDX-License-Identifier: MIT */
/*
 * A question to the daemon and its answer (ask.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ask.h"
#include "ctl/call.h"
#include "ctl/ctl.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

int
ctl_request(const char *spool_dir, const char *request, unsigned timeout_s, char **answer,
            size_t *len, char *why, size_t cap)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct timeval tv = {(time_t)timeout_s, 0};
    size_t size = 65536, n = 0;
    char *buf;
    int fd;

    if (str_fmt(path, sizeof(path), "%s/%s", spool_dir, CTL_SOCKET_NAME) == -1) {
        (void)str_fmt(why, cap, "%s/%s: path too long", spool_dir, CTL_SOCKET_NAME);
        return -1;
    }
    fd = ctl_connect(path);
    if (fd == -1) {
        (void)str_fmt(why, cap, "gate26 is not running (nothing answers at %s: %s)", path,
                      strerror(errno));
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
        io_write_full(fd, request, strlen(request)) == -1) {
        (void)str_fmt(why, cap, "%s: %s", path, strerror(errno));
        (void)close(fd);
        return -1;
    }
    buf = xmalloc(size);
    for (;;) {
        ssize_t r;

        if (n + 1 == size) {
            if (size >= CTL_ANSWER_MAX) {
                (void)str_fmt(why, cap, "%s: the answer is over %d octets", path, CTL_ANSWER_MAX);
                break;
            }
            size *= 2;
            buf = xrealloc(buf, size);
        }
        r = read(fd, buf + n, size - 1 - n);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1) {
            (void)str_fmt(why, cap, "%s: %s", path,
                          errno == EAGAIN || errno == EWOULDBLOCK ? "no answer in time"
                                                                  : strerror(errno));
            break;
        }
        if (r == 0) {
            (void)close(fd);
            buf[n] = '\0';
            *answer = buf;
            *len = n;
            return 0;
        }
        n += (size_t)r;
    }
    (void)close(fd);
    free(buf);
    return -1;
}

json_t *
ctl_answer_doc(const char *answer, size_t len, const char *what, const char **body, char *why,
               size_t cap)
{
    const char *eol = memchr(answer, '\n', len);
    json_error_t err;
    json_t *doc;
    char q[LOG_QUOTE_CAP];

    if (eol == NULL || eol - answer != 2 || memcmp(answer, "ok", 2) != 0) {
        size_t n = eol != NULL ? (size_t)(eol - answer) : len;

        if (n == 0)
            (void)str_fmt(why, cap, "the daemon closed the connection without an answer");
        else
            (void)str_fmt(why, cap, "the daemon says: %s", log_quote(q, sizeof(q), answer, n));
        return NULL;
    }
    *body = eol + 1;
    doc = json_loadb(*body, len - (size_t)(eol + 1 - answer), JSON_REJECT_DUPLICATES, &err);
    if (doc == NULL || !json_is_object(doc)) {
        (void)str_fmt(why, cap, "the daemon's answer is not a %s document (%s)", what,
                      doc == NULL ? err.text : "not an object");
        json_decref(doc);
        return NULL;
    }
    return doc;
}
