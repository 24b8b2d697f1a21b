/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the envelope records of a queue file
 * (spool/envelope.c), which recovery and `gate26 queue list` read from
 * disk: a file may be truncated or damaged. Any broken invariant aborts: a
 * refusal says "line N: ..." with N within the input and leaves nothing to
 * free; an accepted header lies within the input, has recipients and every
 * field set; encoded again (as the session would have written it) it
 * decodes to the same fields, the optional user and hold records included.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static bool
same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* NULL for "" (the encoder writes "" and NULL alike as absent). */
static const char *
opt(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct envelope env, back;
    struct spool_envelope in;
    struct spool_rcpt *rcpts;
    char why[256] = "", *text;
    const char *reason;
    size_t lines = 1, len;

    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (envelope_decode((const char *)data, size, &env, why, sizeof(why)) == -1) {
        char *end;
        unsigned long line;

        CHECK(strncmp(why, "line ", 5) == 0);
        line = strtoul(why + 5, &end, 10);
        CHECK(end != why + 5 && *end == ':' && line >= 1 && line <= lines);
        CHECK(env.rcpts == NULL && env.sender == NULL && env.user == NULL && env.hold == NULL);
        return 0;
    }
    CHECK(env.header_len <= size && env.n_rcpts >= 1);
    CHECK(env.client_addr != NULL && env.helo != NULL && env.protocol != NULL &&
          env.sender != NULL);
    rcpts = calloc(env.n_rcpts, sizeof(*rcpts));
    CHECK(rcpts != NULL);
    for (size_t i = 0; i < env.n_rcpts; i++) {
        CHECK(env.rcpts[i].addr != NULL && env.rcpts[i].addr[0] != '\0');
        rcpts[i] = (struct spool_rcpt){env.rcpts[i].addr, env.rcpts[i].notify, env.rcpts[i].orcpt};
    }
    memset(&in, 0, sizeof(in));
    in.sender = env.sender;
    in.body = env.body;
    in.smtputf8 = env.smtputf8;
    in.ret = env.ret;
    in.envid = env.envid;
    in.rcpts = rcpts;
    in.n_rcpts = env.n_rcpts;
    in.door = env.door;
    in.client_addr = env.client_addr;
    in.client_port = env.client_port;
    in.helo = env.helo;
    in.protocol = env.protocol;
    in.arrival = env.arrival;
    in.user = env.user;
    in.hold = env.hold;
    text = envelope_encode(env.id, &in, &len, &reason);
    CHECK(text != NULL);
    CHECK(envelope_decode(text, len, &back, why, sizeof(why)) == 0);
    CHECK(strcmp(back.id, env.id) == 0 && back.n_rcpts == env.n_rcpts);
    CHECK(same(back.sender, env.sender) && same(back.helo, env.helo) &&
          same(back.client_addr, env.client_addr) && same(opt(back.envid), opt(env.envid)));
    CHECK(same(back.user, env.user) && same(back.hold, env.hold));
    CHECK((back.next_attempt == SPOOL_NEXT_HELD) == (env.hold != NULL));
    for (size_t i = 0; i < env.n_rcpts; i++)
        CHECK(strcmp(back.rcpts[i].addr, env.rcpts[i].addr) == 0 &&
              back.rcpts[i].notify == env.rcpts[i].notify &&
              same(opt(back.rcpts[i].orcpt), opt(env.rcpts[i].orcpt)));
    envelope_clear(&back);
    free(text);
    free(rcpts);
    envelope_clear(&env);
    return 0;
}
