/* SPDX-License-Identifier: MIT */
/*
 * Release and delete of quarantined messages (quarantine.h): the request
 * line is checked whole first (a malformed or doubled id refuses it, and
 * nothing is done), then each id is released or deleted in order by the
 * spool (spool_quarantine_release tells the scheduler through the commit
 * hook). The daemon runs one request at a time on its loop, so a second
 * release of an id, or a release racing a delete, finds nothing.
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
ctl_quarantine_run(struct spool *sp, const char *line, size_t len, struct evbuffer *body,
                   char *text, size_t textcap)
{
    struct ctl_request *req = xcalloc(1, sizeof(*req));
    const char *p = line, *end = line + len, *sp_at;
    char word[SPOOL_ID_LEN + 2], why[256], q[LOG_QUOTE_CAP];
    bool release;
    size_t done = 0, wlen;

    /* "quarantine" SP ("release" / "delete") 1*(SP id) */
    if (len <= sizeof(CTL_QUARANTINE_VERB) ||
        memcmp(line, CTL_QUARANTINE_VERB " ", sizeof(CTL_QUARANTINE_VERB)) != 0) {
        (void)str_fmt(text, textcap, "not a quarantine request");
        free(req);
        return -1;
    }
    p += sizeof(CTL_QUARANTINE_VERB);
    sp_at = memchr(p, ' ', (size_t)(end - p));
    wlen = (size_t)((sp_at != NULL ? sp_at : end) - p);
    if (wlen == 7 && memcmp(p, "release", 7) == 0) {
        release = true;
    } else if (wlen == 6 && memcmp(p, "delete", 6) == 0) {
        release = false;
    } else {
        (void)str_fmt(text, textcap, "quarantine: unknown command \"%s\" (release or delete)",
                      log_quote(q, sizeof(q), p, wlen));
        free(req);
        return -1;
    }
    p += wlen;
    while (p < end) {
        if (*p != ' ' || p + 1 == end || p[1] == ' ') {
            (void)str_fmt(text, textcap, "quarantine: one space between ids");
            free(req);
            return -1;
        }
        p++;
        sp_at = memchr(p, ' ', (size_t)(end - p));
        wlen = (size_t)((sp_at != NULL ? sp_at : end) - p);
        if (wlen >= sizeof(word)) {
            (void)str_fmt(text, textcap, "%s: not a queue id (16 upper-case hex digits)",
                          log_quote(q, sizeof(q), p, wlen));
            free(req);
            return -1;
        }
        memcpy(word, p, wlen);
        word[wlen] = '\0';
        if (ctl_request_add_id(req, word, why, sizeof(why)) == -1) {
            (void)str_fmt(text, textcap, "%s", why);
            free(req);
            return -1;
        }
        p += wlen;
    }
    if (req->n_ids == 0) {
        (void)str_fmt(text, textcap, "quarantine %s: no id given", release ? "release" : "delete");
        free(req);
        return -1;
    }
    for (size_t i = 0; i < req->n_ids; i++) {
        int rc = release ? spool_quarantine_release(sp, req->ids[i], why, sizeof(why))
                         : spool_quarantine_delete(sp, req->ids[i], why, sizeof(why));

        if (rc == 0) {
            (void)evbuffer_add_printf(body, "+ %s: %s\n", req->ids[i],
                                      release ? "released" : "deleted");
            done++;
        } else {
            (void)evbuffer_add_printf(body, "- %s: %s\n", req->ids[i], why);
        }
    }
    (void)str_fmt(text, textcap, "%zu of %zu message%s %s", done, req->n_ids,
                  req->n_ids == 1 ? "" : "s", release ? "released" : "deleted");
    (void)evbuffer_add_printf(body, "= %s\n", text);
    done = done == req->n_ids;
    free(req);
    return done ? 0 : -1;
}
