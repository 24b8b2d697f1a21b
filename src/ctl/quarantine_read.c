/* SPDX-License-Identifier: MIT */
/*
 * Reading the quarantine beside the daemon (quarantine_read.h), for the
 * command line and the console.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/quarantine_read.h"
#include "lib/str.h"
#include "lib/xalloc.h"

int
ctl_quarantine_read(const char *spool_dir, const char *id, ctl_quarantine_each_fn *fn, void *arg,
                    char *why, size_t whycap)
{
    char(*ids)[SPOOL_ID_LEN + 1] = NULL;
    struct spool_quarantined *q;
    char err[512], text[256];
    struct spool *sp = spool_open_reader(spool_dir, err, sizeof(err));
    size_t n = 0;
    int saved;

    if (sp == NULL && errno == EWOULDBLOCK)
        sp = spool_open_quarantine_peek(spool_dir, err, sizeof(err));
    if (sp == NULL) {
        saved = errno;
        (void)str_fmt(why, whycap, "cannot read the spool: %s", err);
        errno = saved;
        return -1;
    }
    if (id != NULL) {
        if (spool_quarantine_open(sp, id, &q, text, sizeof(text)) == -1) {
            saved = errno;
            (void)str_copyz(why, whycap, text);
            spool_free(sp);
            errno = saved;
            return -2;
        }
        fn(arg, id, q, NULL);
        spool_quarantined_close(q);
        spool_free(sp);
        return 0;
    }
    if (spool_quarantine_list(sp, &ids, &n) == -1) {
        saved = errno;
        (void)str_fmt(why, whycap, "%s/quarantine: %s", spool_dir, strerror(saved));
        spool_free(sp);
        errno = saved;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (spool_quarantine_open(sp, ids[i], &q, text, sizeof(text)) == -1) {
            /* Released or deleted meanwhile: gone, nothing to say. */
            if (errno != ENOENT)
                fn(arg, ids[i], NULL, text);
            continue;
        }
        fn(arg, ids[i], q, NULL);
        spool_quarantined_close(q);
    }
    free(ids);
    spool_free(sp);
    return 0;
}

char *
ctl_quarantine_content(const struct spool_quarantined *q, uint64_t off, size_t max, size_t *len)
{
    uint64_t want = off < q->content_len ? q->content_len - off : 0;
    size_t got = 0;
    char *buf;

    if (want > max)
        want = max;
    buf = xmalloc((size_t)want + 1);
    while (got < want) {
        ssize_t n =
            pread(q->fd, buf + got, (size_t)want - got, q->content_off + (off_t)off + (off_t)got);

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    *len = got;
    return buf;
}

char *
ctl_quarantine_headers(const struct spool_quarantined *q, size_t max, size_t *len, bool *complete)
{
    char *buf = ctl_quarantine_content(q, 0, max, len), *end;

    *complete = true;
    if ((end = memmem(buf, *len, "\r\n\r\n", 4)) != NULL)
        *len = (size_t)(end - buf) + 4;
    else if ((end = memmem(buf, *len, "\n\n", 2)) != NULL)
        *len = (size_t)(end - buf) + 2;
    else
        *complete = false;
    buf[*len] = '\0';
    return buf;
}
