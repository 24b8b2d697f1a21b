/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for what a peer's message brings to DKIM (src/mailauth):
 * the input is parsed as a DKIM-Signature value (tag list, base64, the
 * tags' checks), canonicalized as a header field both ways, and played as
 * a whole message (header fields, then the body in two chunks) through the
 * verifier, whose fake DNS answers every key lookup at once with an
 * Ed25519 key. Any broken invariant aborts: a parsed signature has a
 * 32-octet bh, an h= naming from, a lower-case d= with a dot; canonical
 * fields never grow past the field and its CRLF; the verifier reports one
 * result per DKIM-Signature, looks up at most DKIM_MAX_VERIFY keys, and
 * calls done exactly once.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dkim.h"
#include "mailauth/msghdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static const char key[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static size_t lookups;
static int dones;

static void
lookup(void *arg, const char *name, dkim_dns_answer_fn *cb, void *cbarg)
{
    (void)arg;
    (void)name;
    lookups++;
    cb(cbarg, lookups % 3 == 0 ? DKIM_DNS_TEMPFAIL : DKIM_DNS_OK, key, sizeof key - 1);
}

static void
done(void *arg, struct dkim_verify *v)
{
    (void)arg;
    (void)v;
    dones++;
}

static void
check_sig(const char *text, size_t size)
{
    struct dkim_sig s;
    const char *why;
    bool from = false;

    if (dkim_sig_parse((struct slice){text, size}, &s, &why) == -1) {
        CHECK(why != NULL && why[0] != '\0');
        return;
    }
    CHECK(s.bh_len == 32 && s.b_len > 0 && s.b_len <= DKIM_MAX_SIG);
    CHECK(s.nh >= 1 && s.nh <= DKIM_MAX_HFIELDS);
    for (size_t i = 0; i < s.nh; i++)
        from |= strcmp(s.h[i], "from") == 0;
    CHECK(from);
    CHECK(strchr(s.d, '.') != NULL);
    for (const char *p = s.d; *p; p++)
        CHECK(!(*p >= 'A' && *p <= 'Z'));
    CHECK(strlen(s.b8) <= 8);
    CHECK(!s.has_x || !s.has_t || s.x >= s.t);
}

static void
check_canon(const char *text, size_t size)
{
    size_t cap = size + 2;
    char *out = malloc(cap);
    long n;

    CHECK(out != NULL);
    n = dkim_canon_header(false, (struct slice){text, size}, true, out, cap);
    CHECK(n == (long)cap);
    n = dkim_canon_header(true, (struct slice){text, size}, true, out, cap);
    CHECK(n <= (long)cap);
    CHECK(n == -1 || memchr(text, ':', size) != NULL);
    free(out);
}

static void
check_verify(const char *text, size_t size)
{
    struct dkim_dns dns = {lookup, NULL};
    struct dkim_verify *v = dkim_verify_new(&dns, 1528637909);
    const char *sep = NULL, *body;
    size_t hlen, blen, n, nsig = 0;
    const struct dkim_result *r;
    struct msghdr_section h = {0};
    const char *why;

    for (size_t i = 0; i + 3 < size; i++) {
        if (memcmp(text + i, "\r\n\r\n", 4) == 0) {
            sep = text + i;
            break;
        }
    }
    hlen = sep ? (size_t)(sep - text) + 2 : size;
    body = sep ? sep + 4 : text + size;
    blen = (size_t)(text + size - body);
    (void)dkim_verify_header(v, text, hlen);
    dkim_verify_body(v, body, blen / 2);
    dkim_verify_body(v, body + blen / 2, blen - blen / 2);
    lookups = 0;
    dones = 0;
    dkim_verify_finish(v, done, NULL);
    CHECK(dones == 1);
    CHECK(lookups <= DKIM_MAX_VERIFY);
    r = dkim_verify_results(v, &n);
    (void)msghdr_parse(&h, (struct slice){text, hlen}, DKIM_MAX_FIELDS, &why);
    nsig = msghdr_count(&h, "DKIM-Signature");
    CHECK(n == nsig);
    for (size_t i = 0; i < n; i++) {
        CHECK(r[i].reason != NULL);
        CHECK(i < DKIM_MAX_VERIFY || r[i].status == DKIM_POLICY);
        CHECK(r[i].status != DKIM_NEUTRAL);
    }
    msghdr_clear(&h);
    dkim_verify_free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;

    check_sig(text, size);
    check_canon(text, size);
    check_verify(text, size);
    return 0;
}
