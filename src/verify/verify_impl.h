/* SPDX-License-Identifier: MIT */
/*
 * Private to src/verify: the address as a key (key.c), the list files
 * (file.c), and the seam between the verifier and the probe (callout.c),
 * through which the unit tests put a probe of their own.
 */
#ifndef GATE26_VERIFY_VERIFY_IMPL_H
#define GATE26_VERIFY_VERIFY_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/caps.h"
#include "verify/verify.h"

/* ---- key.c ---- */

/* A key is never longer than the address it comes from. */
#define VERIFY_KEY_MAX CAP_MAILBOX

/*
 * The key of addr (len octets, local part local_len octets and then '@'):
 * the quotes of a quoted local part removed with their backslashes
 * (RFC 5321 4.1.2: "alice"@x is alice@x), every ASCII letter lower-cased.
 * Writes it and a NUL to out (VERIFY_KEY_MAX + 1 octets). Returns its
 * length, or 0 when addr is not local@domain within the caps.
 */
size_t verify_key(const char *addr, size_t len, size_t local_len, char *out);

/* ---- file.c ---- */

/* A list file holds at most this much, and a line this many octets. */
#define VERIFY_FILE_MAX ((size_t)64 << 20)
#define VERIFY_LINE_MAX 1024

/* One list file: its entries (keys: "local@domain", "@domain", "local") in a hash set. */
struct verify_list;

/*
 * Parses text (len octets) as the list file path (named in messages).
 * Returns the list (free with verify_list_free), or NULL with "PATH:LINE:
 * what was expected" in err (capacity cap).
 */
struct verify_list *verify_list_parse(const char *path, const char *text, size_t len, char *err,
                                      size_t cap);

/* Reads and parses the file at path; as verify_list_parse, or "PATH: cannot open: ...". */
struct verify_list *verify_list_load(const char *path, char *err, size_t cap);

void verify_list_free(struct verify_list *l);

/* Entries held (each written once, however often the file repeats it). */
size_t verify_list_count(const struct verify_list *l);

/* True when the list holds the entry (a key, len octets) as written. */
bool verify_list_has(const struct verify_list *l, const char *entry, size_t len);

/*
 * True when the list takes the key (key_len octets, local part local_len
 * octets) of a recipient of the block named domain: the address, its
 * domain (@domain) or its local part alone.
 */
bool verify_list_match(const struct verify_list *l, const char *key, size_t key_len,
                       size_t local_len, const char *domain);

/* ---- callout.c: the probe behind the verifier ---- */

/* What a probe found: the result and, for the log and the cache, the relay and the reply. */
struct verify_probe_result {
    enum verify_result result;
    const char *relay; /* "none" when no server answered */
    const char *reply;
};

typedef void verify_probe_fn(void *arg, const struct verify_probe_result *r);

/*
 * A probe: asks the relay of domain (lower case, a block of c) about addr.
 * start returns a handle; fn comes once, later, unless cancel comes first.
 * The real one routes (route_start) and asks (deliver_verify_start); tests
 * give their own. c is held by the caller until the callback or the cancel.
 */
struct verify_probe_ops {
    void *(*start)(struct verify *v, const struct conf *c, const char *domain, const char *addr,
                   bool utf8, verify_probe_fn *fn, void *arg);
    /* Ends a probe in flight: no callback. At the budget's end, first asks it whether the
     * answer is known already (peek; NULL: never): true fills r, valid until the cancel. */
    bool (*peek)(void *probe, struct verify_probe_result *r);
    void (*cancel)(void *probe);
};

/* verify_new() with another probe (the unit tests'); NULL: the real one. */
struct verify *verify_new_with(struct event_base *base, struct dns *dns, struct state *st,
                               const struct verify_probe_ops *ops);

/* The answers cached (docs/verify.md): known 1 day, unknown 1 hour. */
#define VERIFY_TTL_OK      86400u
#define VERIFY_TTL_UNKNOWN 3600u

/* Callouts in flight now (for tests). */
size_t verify_callouts(const struct verify *v);

#endif
