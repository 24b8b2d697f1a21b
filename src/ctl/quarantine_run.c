/* SPDX-License-Identifier: MIT */
/*
 * Release and delete of quarantined messages (quarantine.h): the request
 * line is checked whole first (a malformed or doubled id refuses it, and
 * nothing is done), then each id is released or deleted in order by the
 * spool (spool_quarantine_release tells the scheduler through the commit
 * hook). The daemon hands each id to the spool's thread
 * (spool_quarantine_start, in server.c), which runs them one after another,
 * so a second release of an id, or a release racing a delete, finds nothing;
 * the client with the daemon stopped runs them here, under the lock.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "ctl/quarantine.h"
#include "ctl/request.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

int
ctl_quarantine_parse(const char *line, size_t len, bool *release, struct ctl_request *req,
                     char *text, size_t textcap)
{
    const char *p = line, *end = line + len, *sp_at;
    char word[SPOOL_ID_LEN + 2], why[256], q[LOG_QUOTE_CAP];
    size_t wlen;

    memset(req, 0, sizeof(*req));
    /* "quarantine" SP ("release" / "delete") 1*(SP id) */
    if (len <= sizeof(CTL_QUARANTINE_VERB) ||
        memcmp(line, CTL_QUARANTINE_VERB " ", sizeof(CTL_QUARANTINE_VERB)) != 0) {
        (void)str_fmt(text, textcap, "not a quarantine request");
        return -1;
    }
    p += sizeof(CTL_QUARANTINE_VERB);
    sp_at = memchr(p, ' ', (size_t)(end - p));
    wlen = (size_t)((sp_at != NULL ? sp_at : end) - p);
    if (wlen == 7 && memcmp(p, "release", 7) == 0) {
        *release = true;
    } else if (wlen == 6 && memcmp(p, "delete", 6) == 0) {
        *release = false;
    } else {
        (void)str_fmt(text, textcap, "quarantine: unknown command \"%s\" (release or delete)",
                      log_quote(q, sizeof(q), p, wlen));
        return -1;
    }
    p += wlen;
    while (p < end) {
        if (*p != ' ' || p + 1 == end || p[1] == ' ') {
            (void)str_fmt(text, textcap, "quarantine: one space between ids");
            return -1;
        }
        p++;
        sp_at = memchr(p, ' ', (size_t)(end - p));
        wlen = (size_t)((sp_at != NULL ? sp_at : end) - p);
        if (wlen >= sizeof(word)) {
            (void)str_fmt(text, textcap, "%s: not a queue id (16 upper-case hex digits)",
                          log_quote(q, sizeof(q), p, wlen));
            return -1;
        }
        memcpy(word, p, wlen);
        word[wlen] = '\0';
        if (ctl_request_add_id(req, word, why, sizeof(why)) == -1) {
            (void)str_fmt(text, textcap, "%s", why);
            return -1;
        }
        p += wlen;
    }
    if (req->n_ids == 0) {
        (void)str_fmt(text, textcap, "quarantine %s: no id given", *release ? "release" : "delete");
        return -1;
    }
    return 0;
}

void
ctl_quarantine_line(struct evbuffer *body, const char *id, bool release, int status,
                    const char *why)
{
    if (status == 0)
        (void)evbuffer_add_printf(body, "+ %s: %s\n", id, release ? "released" : "deleted");
    else
        (void)evbuffer_add_printf(body, "- %s: %s\n", id, why);
}

int
ctl_quarantine_summary(struct evbuffer *body, bool release, size_t done, size_t n, char *text,
                       size_t textcap)
{
    (void)str_fmt(text, textcap, "%zu of %zu message%s %s", done, n, n == 1 ? "" : "s",
                  release ? "released" : "deleted");
    (void)evbuffer_add_printf(body, "= %s\n", text);
    return done == n ? 0 : -1;
}

int
ctl_quarantine_run(struct spool *sp, const char *line, size_t len, struct evbuffer *body,
                   char *text, size_t textcap)
{
    struct ctl_request *req = xcalloc(1, sizeof(*req));
    char why[256];
    bool release;
    size_t done = 0;
    int rc;

    if (ctl_quarantine_parse(line, len, &release, req, text, textcap) == -1) {
        free(req);
        return -1;
    }
    for (size_t i = 0; i < req->n_ids; i++) {
        rc = release ? spool_quarantine_release(sp, req->ids[i], why, sizeof(why))
                     : spool_quarantine_delete(sp, req->ids[i], why, sizeof(why));
        ctl_quarantine_line(body, req->ids[i], release, rc, why);
        done += rc == 0;
    }
    rc = ctl_quarantine_summary(body, release, done, req->n_ids, text, textcap);
    free(req);
    return rc;
}
