/* SPDX-License-Identifier: MIT */
/*
 * SPF (RFC 7208): the record parser (4.6), macro expansion (7) and the
 * check_host() evaluator (4) as an asynchronous state machine. The pure
 * parts never touch the network: the evaluator asks a struct spf_dns of
 * callbacks, which the daemon fills from src/dns (spf_dns_from) and tests
 * fill from a table. What to do with the result (a header, a reply) is the
 * caller's business.
 */
#ifndef GATE26_MAILAUTH_SPF_H
#define GATE26_MAILAUTH_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/slice.h"

/* RFC 7208 2.6 results, also the qualifiers' results (4.6.2). */
enum spf_result {
    SPF_NONE,
    SPF_NEUTRAL,
    SPF_PASS,
    SPF_FAIL,
    SPF_SOFTFAIL,
    SPF_TEMPERROR,
    SPF_PERMERROR,
};

/* "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror". */
const char *spf_result_name(enum spf_result r);

/* An address: AF_INET (4 octets in b) or AF_INET6 (16). */
struct spf_ip {
    int family;
    unsigned char b[16];
};

/* Parses an address literal; an IPv4-mapped IPv6 address becomes IPv4
 * (RFC 7208 5: the check is done on the IPv4 address). 0 or -1. */
int spf_ip_parse(const char *text, struct spf_ip *out);

/* RFC 7208 4.6.1 mechanisms. */
enum spf_mech_kind {
    SPF_M_ALL,
    SPF_M_INCLUDE,
    SPF_M_A,
    SPF_M_MX,
    SPF_M_PTR,
    SPF_M_IP4,
    SPF_M_IP6,
    SPF_M_EXISTS,
};

/* "all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists". */
const char *spf_mech_name(enum spf_mech_kind k);

/* One directive. Slices point into the record's text. */
struct spf_mech {
    enum spf_mech_kind kind;
    enum spf_result
        qual; /* SPF_PASS for "+" or none, SPF_FAIL "-", SPF_SOFTFAIL "~", SPF_NEUTRAL "?" */
    struct slice domain;   /* the domain-spec, unexpanded; len 0: none given */
    unsigned cidr4, cidr6; /* 32 and 128 unless given */
    struct spf_ip ip;      /* ip4, ip6 */
    struct slice term;     /* the whole term as written, for logs */
};

/* Terms kept from one record; a longer record is a permerror (a TXT answer
 * of CAP_DNS_TXT strings cannot hold a sane record of more). */
#define SPF_TERMS_MAX 64

struct spf_record {
    struct spf_mech mech[SPF_TERMS_MAX];
    size_t nmech;
    struct slice redirect; /* has_redirect: the domain-spec */
    struct slice exp;      /* has_exp: the domain-spec */
    bool has_redirect;
    bool has_exp;
};

/*
 * True when text is an SPF record: "v=spf1" (case ignored) alone or
 * followed by a space (RFC 7208 4.5).
 */
bool spf_is_record(struct slice text);

/*
 * Parses a whole record (RFC 7208 4.6.1 grammar, 4.6.3 and 6: redirect and
 * exp at most once, unknown modifiers checked as macro-strings and kept
 * out). Slices of out point into text, which must outlive out. Returns 0,
 * or -1 with the error named in err (capacity errcap): "unknown mechanism
 * 'foo'", "bad ip4 address in 'ip4:1.2.3'", ... Every -1 is a permerror.
 */
int spf_record_parse(struct slice text, struct spf_record *out, char *err, size_t errcap);

/*
 * Checks a domain-spec (RFC 7208 4.6.1: a macro-string ending with a
 * macro or with "." toplabel). Returns 0 or -1 with err.
 */
int spf_domain_spec_check(struct slice spec, char *err, size_t errcap);

/* The values macros expand to (RFC 7208 7.3). */
struct spf_macro_env {
    const char *sender;        /* s: local-part@domain (local-part "postmaster" if none) */
    const char *local;         /* l */
    const char *sender_domain; /* o */
    const char *domain;        /* d: the current domain */
    struct spf_ip ip;          /* i, c, v */
    const char *ptr_name;      /* p: the validated name, or NULL ("unknown") */
    const char *helo;          /* h */
    const char *receiver;      /* r */
    uint64_t now;              /* t: seconds since the epoch */
};

/* The longest expansion kept; longer is a permerror. */
#define SPF_MACRO_OUT_CAP 1024

/*
 * Expands a macro-string (RFC 7208 7.1, 7.3, 7.4) into out (capacity
 * cap, NUL-terminated). in_exp: the text of an explanation, where c, r
 * and t are allowed (7.2); elsewhere they are a permerror. for_domain:
 * the result is a name to look up: a final dot is dropped and names
 * longer than 253 octets lose labels from the left (7.3). Returns 0, or -1
 * with the error in err (a syntax error, a zero DIGIT transformer, an
 * expansion longer than cap).
 */
int spf_macro_expand(struct slice in, const struct spf_macro_env *env, bool in_exp, bool for_domain,
                     char *out, size_t cap, char *err, size_t errcap);

/* True when s holds a p macro (so the evaluator validates the client's name first). */
bool spf_macro_uses_p(struct slice s);

/* ---- The evaluator ---- */

/* How a lookup ended, for the evaluator. */
enum spf_dns_status {
    SPF_DNS_OK,
    SPF_DNS_NODATA,   /* the name exists, no record of the type (void, 4.6.4) */
    SPF_DNS_NXDOMAIN, /* void too */
    SPF_DNS_TEMPFAIL, /* a timeout, SERVFAIL: temperror */
};

/* One TXT record: its strings joined (RFC 7208 3.3). */
struct spf_txt {
    const char *text;
    size_t len;
};

typedef void spf_txt_fn(void *arg, enum spf_dns_status st, const struct spf_txt *txt, size_t n);
typedef void spf_addrs_fn(void *arg, enum spf_dns_status st, const struct spf_ip *ip, size_t n);
/* MX exchange names, and PTR names: lower case, without the final dot. */
typedef void spf_names_fn(void *arg, enum spf_dns_status st, const char *const *names, size_t n);

/*
 * The lookups the evaluator asks for. Each starts a lookup and returns 0;
 * the callback then runs exactly once, later (never inside the call).
 * Returning -1 (a name the resolver refuses) means no callback: the
 * evaluator takes it as a name that does not exist.
 */
struct spf_dns {
    void *ctx;
    int (*txt)(void *ctx, const char *name, spf_txt_fn *fn, void *arg);
    /* family AF_INET: A records; AF_INET6: AAAA records. */
    int (*addrs)(void *ctx, const char *name, int family, spf_addrs_fn *fn, void *arg);
    int (*mx)(void *ctx, const char *name, spf_names_fn *fn, void *arg);
    int (*ptr)(void *ctx, const struct spf_ip *ip, spf_names_fn *fn, void *arg);
};

/* RFC 7208 4.6.4 limits. */
#define SPF_MAX_DNS_MECHS 10
#define SPF_MAX_VOID      2
#define SPF_MAX_MX_NAMES  10
#define SPF_MAX_PTR_NAMES 10
/* The explanation kept (printable ASCII only). */
#define SPF_EXP_CAP 512

struct spf_eval;

/* What check_host() gave. */
struct spf_answer {
    enum spf_result result;
    char mechanism[128];   /* the term that matched ("-all", "ip4:192.0.2.0/24"), or "" */
    char reason[160];      /* why a none, temperror or permerror ("" otherwise) */
    char exp[SPF_EXP_CAP]; /* the explanation for fail, or "" */
    unsigned lookups;      /* DNS mechanisms and modifiers counted */
    unsigned voids;        /* void lookups */
};

/* Called once at the end; the answer is valid during the call. The
 * evaluation may be freed from inside it. */
typedef void spf_done_fn(void *arg, const struct spf_answer *a);

/*
 * Starts check_host(ip, domain, sender) (RFC 7208 4): sender is the MAIL
 * FROM address, or NULL or "" for <> (then "postmaster@" helo is checked,
 * RFC 7208 2.4, and so is a HELO check: sender NULL, helo the name); helo
 * the EHLO name; receiver our hostname (the r macro); t the t macro
 * (seconds since the epoch). The dns table is copied; its ctx is borrowed
 * for the life of the evaluation.
 * Returns the evaluation (free with spf_eval_free; done runs once, later,
 * from a DNS callback), or NULL when the answer needs no lookup (a domain
 * that is not a name, RFC 7208 4.3): then it is in *now_answer and done is
 * not called.
 */
struct spf_eval *spf_eval_start(const struct spf_dns *dns, const struct spf_ip *ip,
                                const char *sender, const char *helo, const char *receiver,
                                uint64_t t, spf_done_fn *done, void *arg,
                                struct spf_answer *now_answer);

/*
 * Ends an evaluation. A lookup still in flight has its answer dropped when
 * it comes (the table's callbacks must still run). NULL: nothing.
 */
void spf_eval_free(struct spf_eval *e);

#endif
