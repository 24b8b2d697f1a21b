/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the DATA/BDAT scanner (smtp/data_scan.c). Each input
 * is scanned in both modes three ways: in one feed, in pieces whose sizes
 * come from the input (empty feeds included), and one octet at a time. Any
 * difference in emitted octets, flags, consumed count or done aborts. The
 * one-feed DATA result is also checked against a slow model written from the
 * rules in docs/data-scan.md: the end is the first line "." CR LF (at the
 * start, or after CR LF) and nothing else, leading dots are removed, flags
 * are computed from the wire octets.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "smtp/data_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
    char *p;
    size_t len;
    size_t cap;
};

struct outcome {
    struct sink out;
    unsigned flags;
    size_t consumed;
    bool done;
};

static void
sink_emit(void *arg, const char *p, size_t len)
{
    struct sink *s = arg;

    /* Nothing is ever emitted that did not arrive, and no empty runs. */
    if (len == 0 || len > s->cap - s->len)
        abort();
    memcpy(s->p + s->len, p, len);
    s->len += len;
}

static void
outcome_init(struct outcome *o, size_t size)
{
    memset(o, 0, sizeof(*o));
    o->out.cap = size;
    o->out.p = malloc(size + 1);
    if (o->out.p == NULL)
        abort();
}

/* The pieces: a length from 0 to 16 for each, from a generator seeded by
 * the input, so that the same input always splits the same way. */
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
scan(bool dot, const char *in, size_t size, enum split how, uint32_t seed, struct outcome *o)
{
    struct data_scan ds;
    size_t at = 0;

    outcome_init(o, size);
    data_scan_init(&ds, dot, sink_emit, &o->out);
    do {
        size_t n = how == SPLIT_WHOLE ? size : how == SPLIT_OCTETS ? 1 : next_piece(&seed);
        bool was_done = ds.done;
        size_t got;

        if (n > size - at)
            n = size - at;
        got = data_scan_feed(&ds, in + at, n);
        if (got > n || (was_done && got != 0) || (!ds.done && got != n) ||
            (ds.done && !was_done && got == 0))
            abort();
        o->consumed += got;
        at += n;
    } while (at < size);
    if (!dot)
        data_scan_finish(&ds);
    o->flags = ds.flags;
    o->done = ds.done;
}

static void
same(const struct outcome *a, const struct outcome *b)
{
    if (a->out.len != b->out.len || memcmp(a->out.p, b->out.p, a->out.len) != 0 ||
        a->flags != b->flags || a->consumed != b->consumed || a->done != b->done)
        abort();
}

/* The model: where DATA ends (RFC 5321 4.1.1.4), 0 if it does not. */
static size_t
model_end(const char *in, size_t size)
{
    if (size >= 3 && memcmp(in, ".\r\n", 3) == 0)
        return 3;
    for (size_t i = 0; i + 5 <= size; i++) {
        if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
            return i + 5;
    }
    return 0;
}

/*
 * The model's flags for the wire octets w[0..n). held_cr: a CR at the very
 * end is still waiting for its next octet (not yet bare, not yet counted).
 * dot: DATA, where a line's leading dot is not counted (RFC 5321 4.5.3.1.6).
 */
static unsigned
model_flags(const unsigned char *w, size_t n, bool held_cr, bool dot)
{
    unsigned flags = 0;
    size_t line = 0;
    bool bol = true;

    for (size_t i = 0; i < n; i++) {
        if (w[i] == '\r' && i + 1 < n && w[i + 1] == '\n') {
            if (line > CAP_TEXT_LINE - 2)
                flags |= DATA_LONG_LINE;
            line = 0;
            bol = true;
            i++;
            continue;
        }
        if (w[i] == '\r' && i + 1 == n && held_cr)
            break;
        if (bol && dot && w[i] == '.') {
            bol = false;
            continue;
        }
        bol = false;
        line++;
        if (w[i] == '\r')
            flags |= DATA_BARE_CR;
        if (w[i] == '\n')
            flags |= DATA_BARE_LF;
        if (w[i] == 0)
            flags |= DATA_NUL;
        if (w[i] >= 0x80)
            flags |= DATA_8BIT;
    }
    if (line > CAP_TEXT_LINE - 2)
        flags |= DATA_LONG_LINE;
    return flags;
}

/* The model's DATA output: lines cut at CR LF, a leading dot removed. A
 * last, unfinished line of "." or "." CR is held, so emits nothing yet. */
static void
model_data(const char *in, size_t size, struct outcome *o)
{
    size_t end = model_end(in, size);
    size_t n = end > 0 ? end - 3 : size; /* the terminator's ".\r\n" is not content */
    size_t at = 0;

    outcome_init(o, size);
    while (at < n) {
        const char *crlf = memmem(in + at, n - at, "\r\n", 2);
        size_t stop = crlf != NULL ? (size_t)(crlf - in) + 2 : n;
        size_t from = at;

        if (in[from] == '.')
            from++;
        if (crlf == NULL && stop - at == 2 && in[at] == '.' && in[at + 1] == '\r')
            from = stop;
        memcpy(o->out.p + o->out.len, in + from, stop - from);
        o->out.len += stop - from;
        at = stop;
    }
    o->done = end > 0;
    o->consumed = end > 0 ? end : size;
    o->flags = model_flags((const unsigned char *)in, o->consumed, true, true);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    uint32_t seed = 2166136261u;
    struct outcome whole, pieces, octets, model;

    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 16777619u;
    seed |= 1;

    for (int dot = 0; dot <= 1; dot++) {
        scan(dot, in, size, SPLIT_WHOLE, seed, &whole);
        scan(dot, in, size, SPLIT_PIECES, seed, &pieces);
        scan(dot, in, size, SPLIT_OCTETS, seed, &octets);
        same(&whole, &pieces);
        same(&whole, &octets);
        if (dot) {
            /* The end is the first terminator, and only that. */
            if (whole.done) {
                size_t c = whole.consumed;
                bool at_start = c == 3 && memcmp(in, ".\r\n", 3) == 0;
                bool after_line = c >= 5 && memcmp(in + c - 5, "\r\n.\r\n", 5) == 0;

                if (!at_start && !after_line)
                    abort();
                if (c > 3 && memcmp(in, ".\r\n", 3) == 0)
                    abort();
                if (after_line && (const char *)memmem(in, c, "\r\n.\r\n", 5) != in + c - 5)
                    abort();
            }
            model_data(in, size, &model);
            same(&whole, &model);
            free(model.out.p);
        } else {
            /* BDAT: every octet passes through; a trailing CR is bare. */
            if (whole.out.len != size || (size > 0 && memcmp(whole.out.p, in, size) != 0) ||
                whole.consumed != size || whole.done ||
                whole.flags != model_flags(data, size, false, false))
                abort();
        }
        free(whole.out.p);
        free(pieces.out.p);
        free(octets.out.p);
    }
    return 0;
}
