/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the SMTP client's dot-stuffer (deliver/stuff.c): the
 * input is a message's content, stuffed whole, in pieces whose sizes come
 * from the input, and one octet at a time, and compared with a slow model
 * of the rules in stuff.h: CR LF, a bare CR and a bare LF each end a line
 * (sent as CR LF), a line starting with "." gets another, a last line
 * without its end gets CR LF, then "." CR LF. On the wire the only line
 * that is a lone "." is the last.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/stuff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static size_t
model(const char *in, size_t len, char *out)
{
    bool line_start = true;
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        if (in[i] == '\r' || in[i] == '\n') {
            if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
                i++;
            out[o++] = '\r';
            out[o++] = '\n';
            line_start = true;
            continue;
        }
        if (in[i] == '.' && line_start)
            out[o++] = '.';
        out[o++] = in[i];
        line_start = false;
    }
    if (!line_start) {
        out[o++] = '\r';
        out[o++] = '\n';
    }
    memcpy(out + o, ".\r\n", 3);
    return o + 3;
}

static size_t
next_piece(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x % 17;
}

/* how: 0 whole, 1 pieces, 2 octets. */
static size_t
stuff(const char *in, size_t len, int how, uint32_t seed, char *out)
{
    struct deliver_stuff st;
    size_t at = 0, o = 0;

    deliver_stuff_init(&st);
    do {
        size_t n = how == 0 ? len : how == 2 ? 1 : next_piece(&seed);
        size_t got;

        if (n > len - at)
            n = len - at;
        got = deliver_stuff(&st, in + at, n, out + o);
        CHECK(got <= DELIVER_STUFF_MAX(n));
        o += got;
        at += n;
    } while (at < len);
    return o + deliver_stuff_end(&st, out + o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    size_t cap = DELIVER_STUFF_MAX(size) + DELIVER_STUFF_END_MAX;
    char *want = malloc(cap), *got = malloc(cap);
    uint32_t seed = 2166136261u;
    size_t wlen;

    CHECK(want != NULL && got != NULL);
    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 16777619u;
    seed |= 1;
    wlen = model(in, size, want);
    for (int how = 0; how < 3; how++) {
        size_t glen = stuff(in, size, how, seed, got);

        CHECK(glen == wlen && memcmp(got, want, glen) == 0);
    }
    /* Only the last line is a lone ".": no early end of data. */
    for (size_t i = 0; i + 5 <= wlen; i++) {
        if (memcmp(want + i, "\r\n.\r\n", 5) == 0)
            CHECK(i + 5 == wlen);
    }
    CHECK(wlen >= 3 && (wlen == 3 || memcmp(want, ".\r\n", 3) != 0));
    free(want);
    free(got);
    return 0;
}
