/* SPDX-License-Identifier: MIT */
/*
 * Recipient verification (docs/verify.md): whether a recipient in one of
 * our domains exists, asked at RCPT on the inbound door so that mail that
 * would bounce is refused instead (no backscatter). Per domain block
 * (conf_domain.verify): a list file (file.c), or a callout (callout.c): an
 * SMTP RCPT probe to the domain's relay through the router and the SMTP
 * client (deliver_verify_start), its answers cached in the shared-state
 * store; several requests for one address share one callout, and the
 * callouts in flight are capped.
 *
 * The session decides which recipients to verify (inbound door, a domain
 * whose block says so, never postmaster: RFC 5321 4.5.1) and replies; this
 * module answers.
 *
 * Threads: the event loop's only.
 */
#ifndef GATE26_VERIFY_VERIFY_H
#define GATE26_VERIFY_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

struct event_base;
struct dns;
struct state;
struct tls_client;
struct verify;
struct verify_req;

/* What the answer is. */
enum verify_result {
    VERIFY_OK,      /* the recipient exists: 250 */
    VERIFY_UNKNOWN, /* it does not: 550 5.1.1 */
    VERIFY_TEMP,    /* no answer now: 451 4.4.3, the client tries again later */
};

/* Where the answer came from (the log's source=). */
enum verify_source {
    VERIFY_SRC_FILE,    /* the domain's list file */
    VERIFY_SRC_CACHE,   /* a cached answer of an earlier callout */
    VERIFY_SRC_CALLOUT, /* a callout this request made or waited for */
};

/* "ok", "unknown", "tempfail"; "file", "cache", "callout": the log's words. */
const char *verify_result_name(enum verify_result r);
const char *verify_source_name(enum verify_source s);

/* The answer to a request; its strings are valid during the callback. */
struct verify_answer {
    enum verify_result result;
    enum verify_source source;
    const char *relay;  /* "name[addr]:port" of the server that answered, or "none" */
    const char *reply;  /* its reply or the failure (printable ASCII), or "" */
    const char *reason; /* for VERIFY_TEMP without a callout: "busy", "list-gone"; else NULL */
};

typedef void verify_fn(void *arg, const struct verify_answer *a);

/*
 * The verifier, on base: callouts use dns (route) and the store st (the
 * cache, STATE_NS_CALLOUT); both outlive it. No lists and no TLS client
 * until verify_prepare() and verify_commit(). Aborts when out of memory.
 */
struct verify *verify_new(struct event_base *base, struct dns *dns, struct state *st);

/*
 * Reads every list file that c names (c->verify_files) and keeps them aside
 * for verify_commit(), in place of lists prepared before and not committed.
 * Returns 0, or -1 with "FILE:LINE: what was expected" (or "FILE: cannot
 * open: ...") in err (capacity cap) and nothing changed.
 */
int verify_prepare(struct verify *v, const struct conf *c, char *err, size_t cap);

/* Reads every list file that c names and frees them again: gate26 configtest's check. */
int verify_check_lists(const struct conf *c, char *err, size_t cap);

/*
 * Puts the prepared lists in use (the lists before are freed; no request
 * holds them) and takes tc (a reference; NULL: no STARTTLS to relays) for
 * the callouts that start from now on.
 */
void verify_commit(struct verify *v, struct tls_client *tc);

/*
 * Cancels every callout in flight (no request may be left: their sessions
 * have ended) and frees v, before the dns and the store. NULL: nothing.
 */
void verify_free(struct verify *v);

/* True when the domain block asks for verification (a list or a callout). */
bool verify_wanted(const struct conf_domain *d);

/*
 * True when the local part (len octets, quotes as written) is postmaster
 * in any case (RFC 5321 4.5.1: mail to it is always taken).
 */
bool verify_is_postmaster(const char *local, size_t len);

/*
 * Asks about addr (len octets "local@domain" as the client wrote it, quotes
 * kept; local part local_len octets), a recipient of domain block d of c
 * (verify_wanted(d)). utf8: the address has non-ASCII octets (the probe
 * asks for SMTPUTF8). c is borrowed for the call (a callout takes its own
 * reference). fn(arg, answer) comes once, later, on the loop, never from
 * inside this call, unless verify_cancel() comes first. Returns the
 * request (owned by the verifier; gone after the callback or the cancel).
 */
struct verify_req *verify_start(struct verify *v, struct conf *c, const struct conf_domain *d,
                                const char *addr, size_t len, size_t local_len, bool utf8,
                                verify_fn *fn, void *arg);

/* Withdraws a request: no callback. NULL: nothing. Not after its callback. */
void verify_cancel(struct verify_req *r);

#endif
