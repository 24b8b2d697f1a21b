/* SPDX-License-Identifier: MIT */
/*
 * A driver for tests/e2e/test_greylist.py: the SQLite greylist store
 * (greylist.h) in a process of its own, so that the test can restart it,
 * and delete or corrupt its database while it runs.
 *
 *     greylist_try PATH [DELAY [MAX_ROWS]]
 *
 * reads commands from standard input, one a line, and answers each with
 * one line on standard output:
 *
 *     check NOW ADDR SENDER RCPT   -> "defer LEFT", "pass" or "pass degraded"
 *     domain NOW ADDR DOMAIN       -> "yes" or "no"
 *     sweep NOW BUDGET             -> "swept N"
 *     stats                        -> "triplets=N domains=N ... reopened=N"
 *
 * NOW is seconds since the epoch (the test's clock), SENDER "<>" or
 * local@domain. A store that does not open: "error: MESSAGE" on standard
 * error, exit 1. A malformed command: "bad LINE" and exit 2.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "checks/greylist.h"
#include "lib/num.h"

static int
parse_addr(const char *text, int *family, unsigned char addr[16])
{
    if (inet_pton(AF_INET, text, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, addr) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

/* Splits "local@domain" at its last '@' (in place); "<>" is the null sender. */
static int
split_mailbox(char *box, const char **local, const char **domain)
{
    char *at = strrchr(box, '@');

    if (strcmp(box, "<>") == 0) {
        *local = *domain = "";
        return 0;
    }
    if (at == NULL)
        return -1;
    *at = '\0';
    *local = box;
    *domain = at + 1;
    return 0;
}

/* A decimal number from min to max. */
static int
number(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    return text == NULL ? -1 : num_parse_u64(slice_make(text, strlen(text)), min, max, out);
}

/* Splits line (in place) into at most n words separated by single spaces. Returns the count. */
static size_t
words(char *line, char **w, size_t n)
{
    size_t count = 0;
    char *p = line;

    line[strcspn(line, "\n")] = '\0';
    while (*p != '\0' && count < n) {
        w[count++] = p;
        p += strcspn(p, " ");
        if (*p == ' ')
            *p++ = '\0';
    }
    return count;
}

static int
run(struct greylist *g, char *line)
{
    char *w[5] = {0};
    const char *verb;
    uint64_t now = 0;
    int family;
    unsigned char addr[16];

    if (words(line, w, 5) == 0)
        return -1;
    verb = w[0];
    memmove(w, w + 1, 4 * sizeof w[0]);
    w[4] = NULL;
    if (strcmp(verb, "stats") == 0) {
        struct greylist_stats st;
        greylist_stats(g, &st);
        printf("triplets=%" PRIu64 " domains=%" PRIu64 " max=%" PRIu64 " defers=%" PRIu64
               " passes=%" PRIu64 " skips=%" PRIu64 " degraded=%" PRIu64 " evicted=%" PRIu64
               " expired=%" PRIu64 " reopened=%" PRIu64 "\n",
               st.triplets, st.domains, st.max_rows, st.defers, st.passes, st.domain_skips,
               st.degraded, st.evicted, st.expired, st.reopened);
        return 0;
    }
    if (number(w[0], 0, INT64_MAX, &now) == -1)
        return -1;
    if (strcmp(verb, "sweep") == 0) {
        uint64_t budget;
        if (number(w[1], 1, 1000000, &budget) == -1)
            return -1;
        printf("swept %d\n", greylist_sweep(g, (int64_t)now, (unsigned)budget));
        return 0;
    }
    if (w[1] == NULL || parse_addr(w[1], &family, addr) == -1 || w[2] == NULL)
        return -1;
    if (strcmp(verb, "domain") == 0) {
        char net[GREYLIST_NET_MAX];
        if (greylist_net(net, sizeof net, family, addr) == -1)
            return -1;
        printf("%s\n", greylist_domain_passed(g, net, w[2], (int64_t)now) ? "yes" : "no");
        return 0;
    }
    if (strcmp(verb, "check") == 0 && w[3] != NULL) {
        struct greylist_triplet t;
        struct greylist_answer a;
        const char *sl, *sd, *rl, *rd;
        if (split_mailbox(w[2], &sl, &sd) == -1 || split_mailbox(w[3], &rl, &rd) == -1 ||
            greylist_triplet_make(&t, family, addr, sl, sd, rl, rd) == -1)
            return -1;
        greylist_check(g, &t, (int64_t)now, &a);
        if (a.verdict == GREYLIST_DEFER)
            printf("defer %u\n", a.left);
        else
            printf("pass%s\n", a.degraded ? " degraded" : "");
        return 0;
    }
    return -1;
}

int
main(int argc, char **argv)
{
    struct greylist_params p = {0};
    struct greylist *g;
    char err[1024], line[2048];
    uint64_t v;

    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: greylist_try PATH [DELAY [MAX_ROWS]]\n");
        return 2;
    }
    if (argc > 2) {
        if (number(argv[2], 1, 86400, &v) == -1)
            return 2;
        p.delay = (unsigned)v;
    }
    if (argc > 3) {
        if (number(argv[3], 1, 100000000, &v) == -1)
            return 2;
        p.max_rows = (size_t)v;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    g = greylist_sqlite_open(argv[1], &p, err, sizeof err);
    if (g == NULL) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    while (fgets(line, sizeof line, stdin) != NULL) {
        char copy[sizeof line];
        memcpy(copy, line, sizeof line);
        if (run(g, line) == -1) {
            printf("bad %s", copy);
            greylist_close(g);
            return 2;
        }
    }
    greylist_close(g);
    return 0;
}
