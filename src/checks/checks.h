/* SPDX-License-Identifier: MIT */
/*
 * The content checks at work (docs/checks.md): what a `checks DOOR` block
 * asks for, run in the SMTP session at connect (DNSBL, DNSWL), MAIL (SPF
 * starts), RCPT (SPF's verdict, greylisting) and the end of the data (DKIM,
 * DMARC, clamd, rspamd, milters, then the decision and the headers), all on
 * the loop. The session asks; each stage answers through a callback from
 * the loop (never from inside the call), and the session waits for it with
 * its input paused. What a verdict means in SMTP is the session's
 * (smtp/command.c, smtp/content.c): here it is an action and a reason.
 */
#ifndef GATE26_CHECKS_CHECKS_H
#define GATE26_CHECKS_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

struct event_base;
struct dns;
struct curl_loop;
struct spool_msg;

/* ---- The keys of the dkim blocks (loaded by preflight, as the TLS keys are) ---- */

struct checks_keys;

/*
 * Loads the private key of every dkim block of c (dkim_privkey_load). Returns
 * the set (NULL when c has no dkim block and *err is ""), or NULL with one line
 * in err naming the file and the fault: "FILE:LINE: dkim example.com: key
 * '/etc/gate26/dkim/example.com.2026a.key': No such file or directory".
 */
struct checks_keys *checks_keys_load(const struct conf *c, char *err, size_t errcap);
struct checks_keys *checks_keys_ref(struct checks_keys *k);
void checks_keys_unref(struct checks_keys *k);

/* ---- The daemon's part ---- */

struct checks;

/* What the checks use of the daemon; all outlive the checks. */
struct checks_deps {
    struct event_base *base;
    struct dns *dns;
    struct curl_loop *curl; /* for rspamd */
    const char *spool_dir;  /* SPOOL/greylist.db lives here */
};

struct checks *checks_new(const struct checks_deps *deps);
void checks_free(struct checks *ck);

/*
 * Puts c's checks in use (start and each reload): the dkim keys (a reference
 * is taken), the greylist store opened when a door greylists (after the
 * privileges dropped: the file is gate26's), the suffix list loaded once when
 * a door runs DMARC. Returns 0, or -1 with one line in err for the caller
 * to log as a warning: what failed is put right at the next reload, and until
 * then answers as a fault of its checker does (greylisting passes; DMARC
 * without a suffix list is a temperror). Never fails the configuration.
 */
int checks_configure(struct checks *ck, const struct conf *c, struct checks_keys *keys, char *err,
                     size_t errcap);

/* ---- A session's part ---- */

/* What the session does with a verdict. */
enum checks_action {
    CHECKS_ACCEPT,     /* go on (250 at the end) */
    CHECKS_REJECT,     /* 5xx */
    CHECKS_TEMPFAIL,   /* 4xx */
    CHECKS_QUARANTINE, /* 250, and the message goes to the quarantine */
    CHECKS_DISCARD,    /* 250, and the message is dropped (a milter's DISCARD) */
};

/* Which reply the session gives (smtp/reply.h has one per reason). */
enum checks_reason {
    CHECKS_R_NONE,
    CHECKS_R_DNSBL,        /* 554 5.7.1 ... client [ADDR] blocked using ZONE (text: ADDR, ZONE) */
    CHECKS_R_SPF_FAIL,     /* 550 5.7.23 */
    CHECKS_R_SPF_TEMP,     /* 451 4.7.24 */
    CHECKS_R_GREYLIST,     /* 451 4.7.1 */
    CHECKS_R_DMARC,        /* 550 5.7.1 */
    CHECKS_R_VIRUS,        /* 554 5.7.1 */
    CHECKS_R_SPAM,         /* 554 5.7.1 */
    CHECKS_R_MILTER,       /* 550 5.7.1 or the milter's 5xx text */
    CHECKS_R_MILTER_TEMP,  /* 451 4.7.1 or the milter's 4xx text */
    CHECKS_R_UNAVAILABLE,  /* 451 4.7.0: a checker failed and on-error is tempfail */
    CHECKS_R_MILTER_REPLY, /* a milter's own reply line (text: "550 5.7.1 ...", checked) */
};

#define CHECKS_TEXT_MAX  400
#define CHECKS_CHECK_MAX 16

struct checks_verdict {
    enum checks_action action;
    enum checks_reason reason;
    char text[CHECKS_TEXT_MAX];   /* the reply's argument (printable ASCII) */
    char check[CHECKS_CHECK_MAX]; /* QUARANTINE: the check that held it ("spam") */
    char why[CHECKS_TEXT_MAX];    /* QUARANTINE, and logs: why */
};

typedef void checks_done_fn(void *arg, const struct checks_verdict *v);

struct checks_session;

/* The client of a session, borrowed for the session's life. */
struct checks_client {
    enum door_role door;
    int family;                /* AF_INET, AF_INET6 */
    const unsigned char *addr; /* 4 or 16 octets */
    const char *addr_text;
    unsigned port;
    uint64_t max_message_size; /* the door's: a milter's new body may not be longer */
};

/*
 * The checks of the door of a new session, or NULL when the door has no
 * checks block (then nothing is checked and nothing needs calling). conf is
 * the session's (it holds a reference as long as the session lives).
 */
struct checks_session *checks_session_new(struct checks *ck, const struct conf *conf,
                                          const struct checks_client *cl);
/* Cancels whatever runs (no callback follows) and frees cs. NULL: nothing. */
void checks_session_free(struct checks_session *cs);

/*
 * At connect, before the greeting: the DNSBL and DNSWL lookups. Returns true
 * when done will be called (ACCEPT, or REJECT with CHECKS_R_DNSBL when the
 * client is listed and the door refuses on the greeting); false when there is
 * nothing to wait for (no zones, or dnsbl-reply rcpt: then the lookups run in
 * the background and RCPT waits for them).
 */
bool checks_connect(struct checks_session *cs, checks_done_fn *done, void *arg);

/* MAIL FROM was accepted: SPF starts (sender without brackets, "" for <>). */
void checks_mail(struct checks_session *cs, const char *helo, const char *sender);

/*
 * A recipient that every other test accepted: the DNSBL refusal (dnsbl-reply
 * rcpt; never for postmaster), SPF's verdict (fail, temperror), greylisting.
 * Returns true when done will be called; false when the recipient is
 * accepted at once.
 */
bool checks_rcpt(struct checks_session *cs, const char *rcpt, bool postmaster, checks_done_fn *done,
                 void *arg);

/* The envelope of the message at the end of its data, borrowed until done. */
struct checks_message {
    struct spool_msg *msg; /* the spool's message in progress (read, then edited) */
    uint64_t skip;         /* octets at its start that are ours (our Received header) */
    const char *queue_id;
    const char *helo;
    const char *sender;       /* without brackets, "" for <> */
    const char *const *rcpts; /* without brackets */
    size_t n_rcpts;
    const char *user;        /* the AUTH identity, or NULL */
    const char *tls_version; /* or NULL */
};

/*
 * The end of the data: the checks of the message, then the decision. When it
 * is ACCEPT or QUARANTINE, the message in the spool has been edited (headers
 * added, the milters' changes) and may be committed. Always calls done (from
 * the loop). A spool error while editing is a TEMPFAIL with reason
 * CHECKS_R_UNAVAILABLE.
 */
void checks_message(struct checks_session *cs, const struct checks_message *m, checks_done_fn *done,
                    void *arg);

/*
 * The checks="..." field of the message's log line (", checks=\"spf=pass
 * dkim=pass\""), or "" when nothing was checked. Valid until the next call
 * on cs.
 */
const char *checks_log_field(struct checks_session *cs);

/* The transaction ended (RSET, the reply to the data, a new MAIL): SPF and the message's state go.
 */
void checks_txn_reset(struct checks_session *cs);

#endif
