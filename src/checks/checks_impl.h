/* SPDX-License-Identifier: MIT */
/*
 * Private to checks/: the daemon's object, the session's, and what the
 * stages share (checks.c the daemon's part and the keys, envelope_checks.c
 * connect, MAIL and RCPT, message_checks.c the end of the data,
 * message_headers.c what is added to the message and logged).
 */
#ifndef GATE26_CHECKS_CHECKS_IMPL_H
#define GATE26_CHECKS_CHECKS_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "checks/checks.h"
#include "checks/dnsbl.h"
#include "checks/greylist.h"
#include "mailauth/dkim.h"
#include "mailauth/dmarc.h"
#include "mailauth/spf.h"
#include "watch/metrics.h"

struct event;

/* The private keys of the dkim blocks, in the order of conf->dkims (and each block's keys). */
struct checks_key {
    char domain[CAP_DOMAIN + 1];
    char selector[64];
    struct dkim_privkey key;
};

struct checks_keys {
    unsigned refs;
    struct checks_key *k;
    size_t n;
};

struct checks {
    struct checks_deps deps;
    struct checks_keys *keys;  /* the running configuration's; NULL without dkim blocks */
    struct greylist *greylist; /* NULL while no door greylists */
    struct dmarc_psl *psl;     /* loaded at the first configuration that runs DMARC */
    struct spf_dns spf_dns;
    struct dmarc_dns dmarc_dns;
    struct dkim_dns dkim_dns;
    struct event *sweep; /* the greylist store's sweep (every minute) */
    char greylist_path[CAP_PATH];
    unsigned greylist_delay; /* the open store's */
};

/* What one check said, for the log field and the headers. */
struct checks_said {
    bool ran;
    char result[24]; /* "pass", "fail", "clean", "12.3", ... */
};

/* The checks whose results the log field lists, in its order. */
enum checks_which {
    CW_DNSBL,
    CW_SPF,
    CW_GREYLIST,
    CW_DKIM,
    CW_DMARC,
    CW_AV,
    CW_SPAM,
    CW_MILTER,
    CW_COUNT,
};

struct checks_message_run; /* message_checks.c */

struct checks_session {
    struct checks *ck;
    const struct conf *conf;
    const struct conf_checks *cc; /* the door's block */
    struct checks_client cl;
    char addr_text[64];

    /* connect: DNSBL and DNSWL */
    struct dnsbl_lookup *dnsbl;
    bool dnsbl_done;
    struct dnsbl_answer dnsbl_answer;

    /* MAIL: SPF */
    struct spf_eval *spf;
    bool spf_done;
    struct spf_answer spf_answer;
    char spf_domain[CAP_DOMAIN + 1]; /* the domain SPF checks (MAIL FROM's, or HELO's for <>) */
    char helo[CAP_HELO + 1];
    char sender[CAP_MAILBOX + 1];
    bool null_sender;

    /* RCPT: a recipient waiting for DNSBL or SPF */
    checks_done_fn *wait_done;
    void *wait_arg;
    char wait_rcpt[CAP_MAILBOX + 1];
    bool wait_postmaster;
    struct event *wait_ev; /* delivers an answer from the loop */
    struct checks_verdict wait_verdict;
    bool greylist_ran; /* a recipient was greylisted or passed */
    bool greylist_deferred;

    /* the end of the data */
    struct checks_message_run *run;
    struct checks_said said[CW_COUNT];
    char log_field[512];
};

/* Counts a check's result in the metrics (gate26_checks_total{door,check,result}). */
void checks_count(const struct checks_session *cs, const char *check, const char *result);
/* Records what a check said for the log field. */
void checks_say(struct checks_session *cs, enum checks_which w, const char *result);
/* A verdict for an answer that is to come from the loop (once): done(arg, v) later. */
void checks_answer_later(struct checks_session *cs, const struct checks_verdict *v,
                         checks_done_fn *done, void *arg);

/* message_checks.c */
void checks_message_cancel(struct checks_session *cs);

#endif
