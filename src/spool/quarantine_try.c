/* SPDX-License-Identifier: MIT */
/*
 * quarantine_try: the test driver of the quarantine (built with the tests,
 * tests/e2e/test_quarantine.py). Opens the spool as the daemon does (so the
 * daemon must be stopped), writes the message on standard input through
 * spool_msg_new, spool_msg_write, spool_msg_quarantine_at and
 * spool_msg_commit, waits for the commit and prints the queue id.
 *
 *   quarantine_try SPOOL SENDER CHECK REASON AGE_SECONDS RCPT... < message
 *
 * SENDER "" is the null path; AGE_SECONDS back-dates the quarantine record
 * (0: now), so that a test needs not wait for keep to pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "spool/spool.h"

struct done {
    struct event_base *base;
    int status;
    char id[SPOOL_ID_LEN + 1];
};

static void
committed(void *arg, const char *id, int status, int err)
{
    struct done *d = arg;

    d->status = status;
    if (status != 0)
        fprintf(stderr, "quarantine_try: commit failed: %s\n", strerror(err));
    (void)snprintf(d->id, sizeof(d->id), "%s", id);
    (void)event_base_loopbreak(d->base);
}

int
main(int argc, char **argv)
{
    struct spool_rcpt rcpts[16];
    struct spool_envelope env;
    struct done d = {.status = -1};
    struct spool_msg *m;
    struct spool *sp;
    char err[512], buf[65536];
    size_t n;
    long age;

    if (argc < 7 || argc - 6 > 16) {
        fprintf(stderr, "usage: quarantine_try SPOOL SENDER CHECK REASON AGE_SECONDS RCPT... "
                        "< message\n");
        return 2;
    }
    age = strtol(argv[5], NULL, 10);
    d.base = event_base_new();
    sp = spool_open(argv[1], d.base, NULL, err, sizeof(err));
    if (sp == NULL) {
        fprintf(stderr, "quarantine_try: %s\n", err);
        return 1;
    }
    memset(&env, 0, sizeof(env));
    for (int i = 6; i < argc; i++)
        rcpts[i - 6] = (struct spool_rcpt){.addr = argv[i]};
    env.sender = argv[2];
    env.body = SPOOL_BODY_8BITMIME;
    env.rcpts = rcpts;
    env.n_rcpts = (size_t)(argc - 6);
    env.door = DOOR_INBOUND;
    env.client_addr = "192.0.2.7";
    env.client_port = 52114;
    env.helo = "client.example";
    env.protocol = "ESMTP";
    (void)gettimeofday(&env.arrival, NULL);
    if (spool_msg_new(sp, &env, &m) == -1) {
        perror("quarantine_try: spool_msg_new");
        spool_free(sp);
        return 1;
    }
    while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
        if (spool_msg_write(m, buf, n) == -1) {
            perror("quarantine_try: spool_msg_write");
            spool_msg_abort(m);
            spool_free(sp);
            return 1;
        }
    }
    spool_msg_quarantine_at(m, argv[3], argv[4], time(NULL) - age);
    spool_msg_commit(m, committed, &d);
    (void)event_base_dispatch(d.base);
    spool_free(sp);
    event_base_free(d.base);
    if (d.status != 0)
        return 1;
    printf("%s\n", d.id);
    return 0;
}
