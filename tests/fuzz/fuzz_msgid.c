/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the Message-ID extractor (smtp/msgid.c), also run
 * as the Subject extractor (msgid_scan_init_field, for tracking). Each input
 * is scanned three ways: in one feed, in pieces whose sizes come from the
 * input (empty feeds included), and one octet at a time; any difference in
 * what was found aborts. The result is also checked against a slow model
 * that reads the header line by line from the rules in msgid.h, and the log
 * field against what a log line may hold: printable ASCII only, and every
 * '"' either the field's own quote or escaped.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/caps.h"
#include "smtp/msgid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
    bool found;
    bool cut;
    size_t len;
    char value[CAP_MESSAGE_ID];
};

static size_t
next_piece(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x % 17;
}

enum split { SPLIT_WHOLE, SPLIT_PIECES, SPLIT_OCTETS };

static void
scan(const char *in, size_t size, enum split how, uint32_t seed, const char *field,
     struct msgid_scan *m)
{
    size_t at = 0;

    msgid_scan_init_field(m, field);
    do {
        size_t n = how == SPLIT_WHOLE ? size : how == SPLIT_OCTETS ? 1 : next_piece(&seed);

        if (n > size - at)
            n = size - at;
        msgid_scan_feed(m, in + at, n);
        at += n;
    } while (at < size);
}

static void
result_of(const struct msgid_scan *m, struct result *r)
{
    struct slice v;

    memset(r, 0, sizeof(*r));
    r->found = msgid_scan_value(m, &v);
    if (r->found) {
        r->cut = m->cut;
        r->len = v.len;
        memcpy(r->value, v.p, v.len);
    }
}

static void
same(const struct result *a, const struct result *b)
{
    if (a->found != b->found || a->cut != b->cut || a->len != b->len ||
        memcmp(a->value, b->value, a->len) != 0)
        abort();
}

static bool
is_wsp(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* The model: the header read line by line (lines end in LF), within the scan's cap. */
static void
model(const char *in, size_t size, const char *field, struct result *r)
{
    size_t w = size < CAP_HEADER_SCAN ? size : CAP_HEADER_SCAN;
    size_t at = 0;

    memset(r, 0, sizeof(*r));
    while (at < w) {
        size_t name = 0, i = at;
        const char *lf;

        if (in[at] == '\r' || in[at] == '\n')
            return; /* the empty line, or no field */
        if (is_wsp(in[at])) {
            lf = memchr(in + at, '\n', w - at);
            if (lf == NULL)
                return;
            at = (size_t)(lf - in) + 1;
            continue;
        }
        while (i < w && (unsigned char)in[i] >= 33 && (unsigned char)in[i] <= 126 && in[i] != ':')
            i++;
        name = i - at;
        while (name > 0 && i < w && is_wsp(in[i]))
            i++;
        if (i == w)
            return; /* the cap came inside the name */
        if (in[i] != ':' || name == 0)
            return; /* not a field */
        if (name == strlen(field) && strncasecmp(in + at, field, name) == 0) {
            /* The body: to the LF, then each line that starts with WSP. */
            size_t k = i + 1;

            r->found = true;
            for (;;) {
                while (k < w && in[k] != '\n') {
                    if (in[k] != '\r' && !(r->len == 0 && is_wsp(in[k]))) {
                        if (r->len == CAP_MESSAGE_ID)
                            r->cut = true;
                        else
                            r->value[r->len++] = in[k];
                    }
                    k++;
                }
                if (k == w)
                    break;
                k++; /* the LF */
                if (k == w || !is_wsp(in[k]))
                    break;
            }
            if (k == w && w == CAP_HEADER_SCAN)
                r->cut = true; /* the cap came before the field's end */
            while (r->len > 0 && is_wsp(r->value[r->len - 1]))
                r->len--;
            return;
        }
        lf = memchr(in + i, '\n', w - i);
        if (lf == NULL)
            return;
        at = (size_t)(lf - in) + 1;
    }
}

/* The log field: printable ASCII; quotes only as the field's own or escaped. */
static void
check_field(const struct msgid_scan *m)
{
    char buf[MSGID_LOG_CAP];
    size_t len;

    (void)msgid_log_field(m, buf, sizeof(buf));
    len = strlen(buf);
    if (!m->found) {
        if (len != 0)
            abort();
        return;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f)
            abort();
    }
    if (strncmp(buf, ", message-id=<", 14) == 0) {
        /* The plain form: one token, nothing that could start another field. */
        if (buf[len - 1] != '>' || strpbrk(buf + 14, " ,\"\\") != NULL)
            abort();
        return;
    }
    if (strncmp(buf, ", message-id=\"", 14) != 0 || buf[len - 1] != '"' || len < 15)
        abort();
    for (size_t i = 14; i + 1 < len; i++) {
        if (buf[i] == '\\')
            i++; /* an escape and what it escapes */
        else if (buf[i] == '"')
            abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    uint32_t seed = 2166136261u;
    struct msgid_scan whole, pieces, octets;
    struct result rw, rp, ro, rm;

    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 16777619u;
    seed |= 1;

    /* The Message-ID, and the Subject (the same scanner, another name: for tracking). */
    for (int f = 0; f < 2; f++) {
        const char *field = f == 0 ? "message-id" : "subject";

        scan(in, size, SPLIT_WHOLE, seed, field, &whole);
        scan(in, size, SPLIT_PIECES, seed, field, &pieces);
        scan(in, size, SPLIT_OCTETS, seed, field, &octets);
        result_of(&whole, &rw);
        result_of(&pieces, &rp);
        result_of(&octets, &ro);
        model(in, size, field, &rm);
        same(&rw, &rp);
        same(&rw, &ro);
        same(&rw, &rm);
    }
    scan(in, size, SPLIT_WHOLE, seed, "message-id", &whole);
    check_field(&whole);
    return 0;
}
