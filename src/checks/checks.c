/* SPDX-License-Identifier: MIT */
/*
 * The checks' daemon part: the keys of the dkim blocks (loaded by preflight,
 * as the certificates are), the greylist store and its sweep, the suffix
 * list, the DNS tables the evaluators ask through; and what every stage
 * shares (counting, the log field, answers delivered from the loop).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "checks/checks_impl.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mailauth/dkim_dns.h"
#include "mailauth/dmarc_dns.h"
#include "mailauth/spf_dns.h"

/* Rows the greylist sweep deletes at most per minute. */
#define CHECKS_SWEEP_BUDGET 2000

/* ---- The keys ---- */

struct checks_keys *
checks_keys_load(const struct conf *c, char *err, size_t errcap)
{
    struct checks_keys *k;
    size_t n = 0;

    err[0] = '\0';
    for (size_t i = 0; i < c->n_dkims; i++)
        n += c->dkims[i].n_keys;
    if (n == 0)
        return NULL;
    k = xcalloc(1, sizeof(*k));
    k->refs = 1;
    k->k = xcalloc(n, sizeof(*k->k));
    for (size_t i = 0; i < c->n_dkims; i++) {
        const struct conf_dkim *d = &c->dkims[i];

        for (size_t j = 0; j < d->n_keys; j++) {
            struct checks_key *ck = &k->k[k->n];
            char why[512];

            if (dkim_privkey_load(d->key[j], &ck->key, why, sizeof(why)) == -1) {
                (void)str_fmt(err, errcap, "%s:%u: dkim %s: %s", c->path, d->key_line[j], d->domain,
                              why);
                checks_keys_unref(k);
                return NULL;
            }
            (void)str_copyz(ck->domain, sizeof(ck->domain), d->domain);
            (void)str_copyz(ck->selector, sizeof(ck->selector), d->selector[j]);
            k->n++;
        }
    }
    return k;
}

struct checks_keys *
checks_keys_ref(struct checks_keys *k)
{
    if (k != NULL)
        k->refs++;
    return k;
}

void
checks_keys_unref(struct checks_keys *k)
{
    if (k == NULL || --k->refs > 0)
        return;
    for (size_t i = 0; i < k->n; i++)
        dkim_privkey_clear(&k->k[i].key);
    free(k->k);
    free(k);
}

/* ---- The daemon's object ---- */

static void
checks_sweep(evutil_socket_t fd, short what, void *arg)
{
    struct checks *ck = arg;

    (void)fd;
    (void)what;
    if (ck->greylist != NULL)
        (void)greylist_sweep(ck->greylist, (int64_t)time(NULL), CHECKS_SWEEP_BUDGET);
}

struct checks *
checks_new(const struct checks_deps *deps)
{
    struct checks *ck = xcalloc(1, sizeof(*ck));
    struct timeval minute = {60, 0};

    ck->deps = *deps;
    spf_dns_from(deps->dns, &ck->spf_dns);
    dmarc_dns_from(deps->dns, &ck->dmarc_dns);
    dkim_dns_from(deps->dns, &ck->dkim_dns);
    ck->sweep = event_new(deps->base, -1, EV_PERSIST, checks_sweep, ck);
    if (ck->sweep == NULL || event_add(ck->sweep, &minute) == -1)
        log_panic("checks: cannot start the greylist sweep");
    (void)str_fmt(ck->greylist_path, sizeof(ck->greylist_path), "%s/greylist.db", deps->spool_dir);
    return ck;
}

void
checks_free(struct checks *ck)
{
    if (ck == NULL)
        return;
    if (ck->sweep != NULL)
        event_free(ck->sweep);
    greylist_close(ck->greylist);
    dmarc_psl_free(ck->psl);
    checks_keys_unref(ck->keys);
    free(ck);
}

int
checks_configure(struct checks *ck, const struct conf *c, struct checks_keys *keys, char *err,
                 size_t errcap)
{
    bool grey = false, dmarc = false;
    unsigned delay = 0;
    int rc = 0;

    err[0] = '\0';
    checks_keys_unref(ck->keys);
    ck->keys = checks_keys_ref(keys);
    for (int r = 0; r < DOOR_ROLE_COUNT; r++) {
        grey = grey || (c->checks[r].line != 0 && c->checks[r].greylist > 0);
        if (delay == 0 && c->checks[r].line != 0)
            delay = c->checks[r].greylist; /* one store, one delay: the first door's */
        dmarc = dmarc || (c->checks[r].line != 0 && c->checks[r].dmarc != CONF_DMARC_OFF);
    }
    if (dmarc && ck->psl == NULL) {
        char why[256];

        ck->psl = dmarc_psl_load(NULL, why, sizeof(why));
        if (ck->psl == NULL) {
            (void)str_fmt(err, errcap, "dmarc: the public suffix list: %s", why);
            rc = -1;
        }
    }
    if (ck->greylist != NULL && (!grey || delay != ck->greylist_delay)) {
        greylist_close(ck->greylist); /* off, or another delay: reopened with it */
        ck->greylist = NULL;
    }
    if (grey && ck->greylist == NULL) {
        struct greylist_params p = {.delay = delay};
        char why[512];

        ck->greylist = greylist_sqlite_open(ck->greylist_path, &p, why, sizeof(why));
        ck->greylist_delay = delay;
        if (ck->greylist == NULL) {
            (void)str_fmt(err, errcap,
                          "greylist: %s (greylisting passes every message until a reload opens it)",
                          why);
            rc = -1;
        }
    }
    return rc;
}

/* ---- Shared by the stages ---- */

void
checks_count(const struct checks_session *cs, const char *check, const char *result)
{
    metrics_check(cs->cl.door, check, result);
}

void
checks_say(struct checks_session *cs, enum checks_which w, const char *result)
{
    cs->said[w].ran = true;
    (void)str_copyz(cs->said[w].result, sizeof(cs->said[w].result), result);
}

const char *
checks_log_field(struct checks_session *cs)
{
    static const char *const names[CW_COUNT] = {
        [CW_DNSBL] = "dnsbl", [CW_SPF] = "spf", [CW_GREYLIST] = "greylist", [CW_DKIM] = "dkim",
        [CW_DMARC] = "dmarc", [CW_AV] = "av",   [CW_SPAM] = "spam",         [CW_MILTER] = "milter",
    };
    size_t o = 0;

    cs->log_field[0] = '\0';
    for (int w = 0; w < CW_COUNT; w++) {
        int n;

        if (!cs->said[w].ran)
            continue;
        n = snprintf(cs->log_field + o, sizeof(cs->log_field) - o, "%s%s=%s",
                     o == 0 ? ", checks=\"" : " ", names[w], cs->said[w].result);
        if (n < 0 || (size_t)n >= sizeof(cs->log_field) - o - 1)
            break;
        o += (size_t)n;
    }
    if (o > 0)
        (void)str_fmt(cs->log_field + o, sizeof(cs->log_field) - o, "\"");
    return cs->log_field;
}

static void
answer_now(evutil_socket_t fd, short what, void *arg)
{
    struct checks_session *cs = arg;
    checks_done_fn *done = cs->wait_done;

    (void)fd;
    (void)what;
    cs->wait_done = NULL;
    if (done != NULL)
        done(cs->wait_arg, &cs->wait_verdict);
}

void
checks_answer_later(struct checks_session *cs, const struct checks_verdict *v, checks_done_fn *done,
                    void *arg)
{
    cs->wait_verdict = *v;
    cs->wait_done = done;
    cs->wait_arg = arg;
    if (cs->wait_ev == NULL) {
        cs->wait_ev = event_new(cs->ck->deps.base, -1, 0, answer_now, cs);
        if (cs->wait_ev == NULL)
            log_panic("checks: event_new failed");
    }
    event_active(cs->wait_ev, 0, 0);
}
