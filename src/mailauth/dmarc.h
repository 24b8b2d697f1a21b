/* SPDX-License-Identifier: MIT */
/*
 * DMARC (RFC 7489): the record parser (6.3, 6.4), the organizational
 * domain through libpsl (3.2), identifier alignment (3.1), policy discovery
 * (6.6.3) through an asynchronous DNS callback table, pct sampling (6.6.4),
 * and the RFC 5322 From domain (6.6.1). No I/O of its own: the daemon fills
 * struct dmarc_dns from src/dns, tests from a table. Reports (rua, ruf)
 * are parsed for syntax only; nothing is sent.
 */
#ifndef GATE26_MAILAUTH_DMARC_H
#define GATE26_MAILAUTH_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/slice.h"

/* A DNS name without its final dot: at most 253 octets (RFC 1035 2.3.4). */
#define DMARC_DOMAIN_MAX 253
/* Records longer than this are invalid (a TXT record may hold 64 KiB). */
#define DMARC_RECORD_MAX 4096
/* From field values longer than this are refused before scanning. */
#define DMARC_FROM_MAX 8192

enum dmarc_policy {
    DMARC_POLICY_NONE,
    DMARC_POLICY_QUARANTINE,
    DMARC_POLICY_REJECT,
};

enum dmarc_align {
    DMARC_ALIGN_RELAXED,
    DMARC_ALIGN_STRICT,
};

struct dmarc_record {
    enum dmarc_policy p;
    bool has_sp;
    enum dmarc_policy sp;   /* when has_sp */
    unsigned pct;           /* 0..100, default 100 */
    enum dmarc_align adkim; /* default relaxed */
    enum dmarc_align aspf;  /* default relaxed */
    unsigned long ri;       /* default 86400 */
    bool has_rua;
    bool has_ruf;
    bool p_from_rua; /* p= missing or invalid, taken as none for rua (6.6.3 step 6) */
};

enum dmarc_parse {
    DMARC_PARSE_OK,
    DMARC_PARSE_NOT_DMARC, /* does not start with v=DMARC1: not a DMARC record, ignored */
    DMARC_PARSE_INVALID,   /* a DMARC record with a syntax error or a junk value */
};

/*
 * Parses one TXT record (its strings already joined). On DMARC_PARSE_OK
 * *out holds the tags with their defaults; on the others err (capacity
 * errcap, may be 0) names the fault. Unknown tags are ignored (6.3), a
 * known tag twice or with a value outside its grammar makes the record
 * invalid, except that a missing or bad p= (or bad sp=) with a valid rua=
 * reads as p=none (6.6.3 step 6).
 */
enum dmarc_parse dmarc_record_parse(struct slice txt, struct dmarc_record *out, char *err,
                                    size_t errcap);

/* The Public Suffix List, loaded once; shared read-only by every evaluation. */
struct dmarc_psl;

/*
 * Loads the list from file (a DAFSA or text list, as psl_load_file reads
 * them), or with file NULL the newest of libpsl's built-in list and
 * Debian's /usr/share/publicsuffix data (psl_latest). Returns the caller's
 * object (dmarc_psl_free), or NULL with err filled.
 */
struct dmarc_psl *dmarc_psl_load(const char *file, char *err, size_t errcap);
void dmarc_psl_free(struct dmarc_psl *psl);

/*
 * The organizational domain of domain (RFC 7489 3.2: the public suffix
 * plus one label) into out (capacity cap), lower-cased without a final
 * dot; a domain that is itself a public suffix is its own. Returns 0, or
 * -1 when domain is empty, too long or not ASCII, or out is too small.
 */
int dmarc_org_domain(const struct dmarc_psl *psl, const char *domain, char *out, size_t cap);

/*
 * True when auth_domain (an SPF or DKIM authenticated domain) is aligned
 * with from_domain (RFC 7489 3.1.1, 3.1.2): strict, the same name (ASCII
 * case ignored, a final dot ignored); relaxed, the same organizational
 * domain.
 */
bool dmarc_is_aligned(const struct dmarc_psl *psl, const char *from_domain, const char *auth_domain,
                      enum dmarc_align mode);

enum dmarc_from {
    DMARC_FROM_OK,
    DMARC_FROM_EMPTY,    /* no mailbox */
    DMARC_FROM_MULTIPLE, /* more than one mailbox, or a group */
    DMARC_FROM_SYNTAX,   /* not RFC 5322 3.4, too long, or not ASCII */
    DMARC_FROM_LITERAL,  /* the domain is an address literal: nothing to look up */
};

/*
 * The domain of the one mailbox of a From header field value (the part
 * after "From:", folded or not, without the CRLF that ends the field; RFC
 * 5322 3.4 with the obsolete forms of 4.4) into out (capacity cap,
 * DMARC_DOMAIN_MAX + 1 suffices), lower-cased: a host name of LDH labels.
 * Anything other than DMARC_FROM_OK leaves out empty; RFC 7489 6.6.1 lets
 * the receiver reject such a message.
 */
enum dmarc_from dmarc_from_domain(struct slice value, char *out, size_t cap);

/* A name for logs: "ok", "empty", "multiple", "syntax", "literal". */
const char *dmarc_from_name(enum dmarc_from f);

/* DNS for the evaluator (the daemon: src/dns; tests: a table). */
enum dmarc_dns_status {
    DMARC_DNS_OK,        /* records holds n TXT records (n may be 0: NODATA) */
    DMARC_DNS_NOT_FOUND, /* NXDOMAIN */
    DMARC_DNS_TEMPFAIL,  /* timeout, SERVFAIL, cancelled */
};

/* The answer; records and what they point to are borrowed for the call. */
typedef void dmarc_txt_fn(void *cbarg, enum dmarc_dns_status st, const struct slice *records,
                          size_t n);

struct dmarc_dns {
    /*
     * Starts a TXT lookup of name; returns 0 and later calls cb exactly
     * once (it may call it before returning), or returns -1 when it could
     * not start (then cb is never called).
     */
    int (*txt)(void *arg, const char *name, dmarc_txt_fn *cb, void *cbarg);
    void *arg;
};

enum dmarc_status {
    DMARC_NONE,
    DMARC_PASS,
    DMARC_FAIL,
    DMARC_TEMPERROR,
    DMARC_PERMERROR,
};

enum dmarc_via {
    DMARC_VIA_NONE,
    DMARC_VIA_SPF,
    DMARC_VIA_DKIM,
};

struct dmarc_result {
    enum dmarc_status status;
    /* What to do: on fail the published policy after pct; otherwise none. */
    enum dmarc_policy policy;
    enum dmarc_policy published; /* p= or sp= of the record used (none without one) */
    enum dmarc_via via;          /* on pass: the aligned identifier (DKIM first) */
    bool sampled_out;            /* pct left this message out: policy is one step milder */
    char from_domain[DMARC_DOMAIN_MAX + 1];
    char policy_domain[DMARC_DOMAIN_MAX + 1]; /* where the record was found, or "" */
    char reason[96];                          /* for the header's comment and logs */
};

/* Everything the evaluation needs besides DNS; borrowed for dmarc_eval_start. */
struct dmarc_input {
    const char *from_domain; /* dmarc_from_domain's result */
    const char *spf_domain;  /* the domain SPF evaluated (MAIL FROM, or HELO for <>), or NULL */
    bool spf_pass;           /* SPF's result for it was pass */
    const char *const *dkim_domains; /* d= of each signature that passed */
    size_t n_dkim;
    /* pct sampling: a number in 0..99, uniformly; NULL uses arc4random_uniform. */
    unsigned (*sample)(void *arg);
    void *sample_arg;
};

typedef void dmarc_done_fn(void *arg, const struct dmarc_result *r);

struct dmarc_eval;

/*
 * A new evaluation that will report to done (the caller's object, freed
 * with dmarc_eval_free(); psl and dns must outlive it). Returns NULL only
 * when memory runs out. Made apart from dmarc_eval_start() so that the
 * caller holds the pointer before done can run.
 */
struct dmarc_eval *dmarc_eval_new(const struct dmarc_psl *psl, const struct dmarc_dns *dns,
                                  dmarc_done_fn *done, void *arg);

/*
 * Evaluates in (copied; borrowed for the call only): the policy lookups of
 * 6.6.3 through dns, then alignment and pct. A From domain that is not a
 * host name (LDH labels) is a permerror without a lookup; a name too long
 * to hold "_dmarc." in front is skipped as if not found. done is called exactly once
 * with the result, possibly before this returns when the DNS answers at
 * once; done may free ev. Call once per object.
 */
void dmarc_eval_start(struct dmarc_eval *ev, const struct dmarc_input *in);

/*
 * Frees ev; NULL does nothing. When a lookup is still out, done is not
 * called any more and the memory goes when the DNS answers.
 */
void dmarc_eval_free(struct dmarc_eval *ev);

/* Names for headers and logs: "none", "pass", "fail", "temperror", "permerror". */
const char *dmarc_status_name(enum dmarc_status s);
/* "none", "quarantine", "reject". */
const char *dmarc_policy_name(enum dmarc_policy p);

#endif
