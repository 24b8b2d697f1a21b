/* SPDX-License-Identifier: MIT */
/*
 * What the checks write into the message before the 250 (docs/checks.md,
 * "Headers added"): at the top, the DKIM signatures (doors that sign), then
 * Authentication-Results (doors that authenticate; an earlier one claiming
 * our hostname removed first) and the X-Spam-* fields, above our Received;
 * the milters' header changes and new body applied. The message in the
 * spool is the one delivered, so the signature covers exactly what leaves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "checks/hdredit.h"
#include "checks/message_run.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mailauth/authres.h"
#include "mailauth/msghdr.h"
#include "spool/spool.h"

#define EDIT_TOP_MAX    8192 /* Authentication-Results and X-Spam-* */
#define EDIT_SIGS_MAX   4    /* DKIM signatures (CONF_DKIM_KEYS_MAX of one domain) */
#define EDIT_HEADER_MAX (CHECKS_HEADER_MAX + 256 * 1024)

/* Authentication-Results for the checks that ran; 0 when the door authenticates nothing. */
static size_t
write_authres(const struct checks_message_run *run, char *buf, size_t cap)
{
    const struct checks_session *cs = run->cs;
    const struct conf_checks *cc = cs->cc;
    struct authres a;
    size_t len;

    if (!cc->spf && !(cc->dkim & CONF_DKIM_VERIFY) && cc->dmarc == CONF_DMARC_OFF)
        return 0;
    authres_init(&a, buf, cap, cs->conf->hostname);
    if (cc->spf && cs->spf_done)
        authres_spf(&a, spf_result_name(cs->spf_answer.result), cs->spf_answer.reason,
                    cs->null_sender ? NULL : cs->sender, cs->null_sender ? cs->helo : NULL);
    if (cc->dkim & CONF_DKIM_VERIFY) {
        for (size_t i = 0; i < run->n_dkim; i++) {
            const struct dkim_result *r = &run->dkim[i];

            authres_dkim(&a, dkim_status_name(r->status), r->status == DKIM_PASS ? NULL : r->reason,
                         r->d[0] ? r->d : NULL, r->s[0] ? r->s : NULL, NULL,
                         r->b8[0] ? r->b8 : NULL);
        }
        if (run->n_dkim == 0)
            authres_method(&a, "dkim", "none", NULL);
    }
    if (run->dmarc_ran)
        authres_dmarc(&a, dmarc_status_name(run->dmarc.status), run->dmarc.reason,
                      run->dmarc.from_domain[0] ? run->dmarc.from_domain : NULL);
    if (authres_finish(&a, &len) == -1)
        return 0;
    return len;
}

/* The X-Spam-* fields of rspamd's answer, appended at buf + o; returns the new length. */
static size_t
write_spam(const struct checks_message_run *run, char *buf, size_t cap, size_t o)
{
    const struct conf_checks *cc = run->cs->cc;
    const struct rspamd_result *r = &run->rspamd_res;
    bool flag;
    int n;

    if (!run->rspamd_ran || r->status != RSPAMD_OK)
        return o;
    flag = cc->spam_header.set && r->score >= cc->spam_header.value;
    n = snprintf(buf + o, cap - o, "X-Spam-Score: %.1f\r\nX-Spam-Status: %s, score=%.1f", r->score,
                 flag ? "Yes" : "No", r->score);
    if (n < 0 || (size_t)n >= cap - o)
        return o;
    o += (size_t)n;
    if (flag && r->n_symbols > 0 && cap - o > 16) {
        size_t line = 7;

        o += (size_t)snprintf(buf + o, cap - o, " tests=");
        line = 30;
        for (size_t i = 0; i < r->n_symbols && i < 16; i++) {
            char name[RSPAMD_SYMBOL_MAX + 1];
            size_t len;

            (void)str_copyz(name, sizeof(name), r->symbols[i].name);
            for (char *c = name; *c != '\0'; c++)
                if (*c <= ' ' || *c == ',' || *c > '~')
                    *c = '?';
            len = strlen(name);
            if (cap - o < len + 8)
                break;
            if (i > 0 && line + len + 1 > 76) {
                o += (size_t)snprintf(buf + o, cap - o, ",\r\n\t");
                line = 1;
            } else if (i > 0) {
                buf[o++] = ',';
                line++;
            }
            memcpy(buf + o, name, len);
            o += len;
            line += len;
        }
    }
    n = snprintf(buf + o, cap - o, "\r\n%s", flag ? "X-Spam-Flag: YES\r\n" : "");
    if (n < 0 || (size_t)n >= cap - o)
        return o;
    return o + (size_t)n;
}

/* Feeds the body (new, or the spool's from body_off) to a signer. -1: the spool failed. */
static int
sign_body(struct checks_message_run *run, struct dkim_sign *s, const char *body, size_t body_len,
          bool replaced)
{
    char buf[65536];

    if (replaced) {
        dkim_sign_body(s, body, body_len);
        return 0;
    }
    for (uint64_t off = run->body_off; off < run->size;) {
        size_t want = run->size - off < sizeof(buf) ? (size_t)(run->size - off) : sizeof(buf);
        ssize_t n = spool_msg_pread(run->m.msg, off, buf, want);

        if (n <= 0)
            return -1;
        dkim_sign_body(s, buf, (size_t)n);
        off += (uint64_t)n;
    }
    return 0;
}

/*
 * The signatures of the From domain's keys over hdr and the body, into
 * sigs[] (malloc'd); returns how many. Nothing is signed without a single
 * From, without a key of its domain, or when a signer refuses (logged).
 */
static size_t
sign(struct checks_message_run *run, const char *hdr, size_t hdr_len, const char *body,
     size_t body_len, bool replaced, char **sigs)
{
    const struct checks_keys *keys = run->cs->ck->keys;
    char domain[DMARC_DOMAIN_MAX + 1], nofrom[96];
    size_t n = 0;

    if (!checks_from_domain(hdr, hdr_len, domain, sizeof(domain), nofrom, sizeof(nofrom))) {
        log_info("%s: event=dkim-sign, result=skipped, reason=\"%s\"", run->m.queue_id, nofrom);
        return 0;
    }
    for (size_t i = 0; keys != NULL && i < keys->n && n < EDIT_SIGS_MAX; i++) {
        const struct checks_key *k = &keys->k[i];
        struct dkim_sign *s;
        const char *why = "";

        if (strcmp(k->domain, domain) != 0)
            continue;
        s = dkim_sign_new(&k->key, k->domain, k->selector, time(NULL));
        if (s == NULL || dkim_sign_header(s, hdr, hdr_len) == -1 ||
            sign_body(run, s, body, body_len, replaced) == -1 ||
            (sigs[n] = dkim_sign_finish(s, &why)) == NULL) {
            log_warning("%s: event=dkim-sign, result=error, domain=%s, selector=%s, reason=\"%s\"",
                        run->m.queue_id, k->domain, k->selector, why);
            dkim_sign_free(s);
            continue;
        }
        dkim_sign_free(s);
        log_info("%s: event=dkim-sign, result=signed, domain=%s, selector=%s", run->m.queue_id,
                 k->domain, k->selector);
        n++;
    }
    if (n == 0 && (keys == NULL || conf_find_dkim(run->cs->conf, domain) == NULL))
        log_info("%s: event=dkim-sign, result=skipped, reason=\"no dkim block for %s\"",
                 run->m.queue_id, domain);
    return n;
}

/* The milters' header changes, in milter order; *body the last new body, if any. */
static size_t
collect_mods(struct checks_message_run *run, struct milter_mod **out,
             const struct checks_milter **body)
{
    size_t n = 0, k = 0;

    *body = NULL;
    for (size_t i = 0; i < run->n_milters; i++) {
        n += run->milters[i].n_mods;
        if (run->milters[i].body_replaced)
            *body = &run->milters[i];
    }
    *out = n > 0 ? xcalloc(n, sizeof(**out)) : NULL;
    for (size_t i = 0; i < run->n_milters; i++)
        for (size_t j = 0; j < run->milters[i].n_mods; j++)
            (*out)[k++] = run->milters[i].mods[j];
    return n;
}

int
checks_message_edit(struct checks_message_run *run, char *err, size_t errcap)
{
    const struct checks_session *cs = run->cs;
    char *top = xmalloc(EDIT_TOP_MAX), *sigs[EDIT_SIGS_MAX] = {0}, *body = NULL;
    size_t top_len, n_sigs = 0, body_len = 0, n_mods;
    struct milter_mod *mods;
    const struct checks_milter *newbody;
    struct hdredit_result ed = {0};
    struct iovec iov[EDIT_SIGS_MAX + 4];
    uint64_t old_len;
    int niov = 0, rc = -1;
    bool authenticates;

    top_len = write_authres(run, top, EDIT_TOP_MAX);
    authenticates = top_len > 0;
    top_len = write_spam(run, top, EDIT_TOP_MAX, top_len);
    n_mods = collect_mods(run, &mods, &newbody);
    if (!run->hdr_ok) {
        /* Not a header section we can edit: what we add goes on top, nothing else changes. */
        if (n_mods > 0 || newbody != NULL)
            log_warning("%s: event=milter, warning=\"the header section is not fields: the "
                        "milters' changes are not applied\"",
                        run->m.queue_id);
        iov[niov++] = (struct iovec){top, top_len};
        if (spool_msg_splice(run->m.msg, 0, iov, niov) == -1) {
            (void)str_fmt(err, errcap, "spool: %s", strerror(errno));
            goto out;
        }
        rc = 0;
        goto out;
    }
    {
        struct hdredit in = {
            .header = slice_make(run->hdr, run->hdr_len),
            .drop_authres_id = authenticates ? cs->conf->hostname : NULL,
            .mods = mods,
            .n_mods = n_mods,
            .top = slice_make(top, top_len),
            .max = EDIT_HEADER_MAX,
        };

        if (hdredit_apply(&in, &ed, err, errcap) == -1)
            goto out;
        if (ed.dropped_authres > 0)
            log_info("%s: event=authres-removed, fields=%u", run->m.queue_id, ed.dropped_authres);
    }
    if (newbody != NULL)
        body = hdredit_body_crlf(newbody->body, newbody->body_len, &body_len);
    if (cs->cc->dkim & CONF_DKIM_SIGN)
        n_sigs = sign(run, ed.text, ed.len, body, body_len, newbody != NULL, sigs);
    for (size_t i = 0; i < n_sigs; i++)
        iov[niov++] = (struct iovec){sigs[i], strlen(sigs[i])};
    iov[niov++] = (struct iovec){ed.text, ed.len};
    if (newbody != NULL) {
        iov[niov++] = (struct iovec){(void *)"\r\n", 2};
        iov[niov++] = (struct iovec){body, body_len};
        old_len = run->size;
    } else {
        old_len = run->hdr_len;
    }
    if (spool_msg_splice(run->m.msg, old_len, iov, niov) == -1) {
        (void)str_fmt(err, errcap, "spool: %s", strerror(errno));
        goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < n_sigs; i++)
        free(sigs[i]);
    hdredit_result_free(&ed);
    free(mods);
    free(body);
    free(top);
    return rc;
}
