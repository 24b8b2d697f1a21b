/* SPDX-License-Identifier: MIT */
/*
 * A driver for tests/e2e/test_dkim.py (and by hand): a message on standard
 * input (bare LFs made CRLF), body fed in small chunks so that the
 * streaming is exercised.
 *   dkim_try sign KEYFILE DOMAIN SELECTOR   prints the message signed
 *   dkim_try verify KEYS [NOW]              prints one line per signature:
 *       STATUS REASON d=D s=S b=B8
 * KEYS holds lines NAME=TXT (the fake DNS; TXT "TEMPFAIL" is a tempfail);
 * the answers come after dkim_verify_finish() returns, as from a resolver.
 *   dkim_try verify-dns SERVER [NOW]        the same, the keys asked of the
 *       DNS server ADDR:PORT through src/dns (dkim_dns_from) on a libevent
 *       loop, with the answer cache on (a key asked twice is one query)
 * Exit 0, or 1 on a failure to sign (or to start the resolver), 2 on usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "dns/dns.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_dns.h"

#define CHUNK 13

struct key_row {
    char *name, *txt;
};

struct fake_dns {
    struct key_row rows[64];
    size_t nrows;
    struct {
        char name[600];
        dkim_dns_answer_fn *cb;
        void *cbarg;
    } q[DKIM_MAX_VERIFY];
    size_t nq;
};

static char *
read_all(FILE *f, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    size_t r;

    while (buf != NULL && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);

            if (nb == NULL) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
    }
    *len = n;
    return buf;
}

/* LF -> CRLF where the CR is missing. */
static char *
crlf(const char *p, size_t n, size_t *out_len)
{
    char *o = malloc(2 * n + 1);
    size_t k = 0;

    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
            o[k++] = '\r';
        o[k++] = p[i];
    }
    *out_len = k;
    return o;
}

/* Splits msg at its empty line: the header section keeps its last CRLF. */
static void
split(const char *msg, size_t len, size_t *hlen, const char **body, size_t *blen)
{
    const char *e = NULL;

    if (len >= 2 && msg[0] == '\r' && msg[1] == '\n') {
        *hlen = 0;
        *body = msg + 2;
        *blen = len - 2;
        return;
    }
    for (size_t i = 0; i + 3 < len; i++) {
        if (memcmp(msg + i, "\r\n\r\n", 4) == 0) {
            e = msg + i;
            break;
        }
    }
    if (e == NULL) {
        *hlen = len;
        *body = msg + len;
        *blen = 0;
        return;
    }
    *hlen = (size_t)(e - msg) + 2;
    *body = e + 4;
    *blen = len - *hlen - 2;
}

static void
lookup(void *arg, const char *name, dkim_dns_answer_fn *cb, void *cbarg)
{
    struct fake_dns *d = arg;

    if (d->nq == DKIM_MAX_VERIFY) {
        fprintf(stderr, "dkim_try: more than %d lookups\n", DKIM_MAX_VERIFY);
        exit(3);
    }
    snprintf(d->q[d->nq].name, sizeof d->q[d->nq].name, "%s", name);
    d->q[d->nq].cb = cb;
    d->q[d->nq].cbarg = cbarg;
    d->nq++;
}

static void
done(void *arg, struct dkim_verify *v)
{
    size_t n;
    const struct dkim_result *r = dkim_verify_results(v, &n);

    (void)arg;
    for (size_t i = 0; i < n; i++)
        printf("%s %s d=%s s=%s b=%s%s\n", dkim_status_name(r[i].status), r[i].reason, r[i].d,
               r[i].s, r[i].b8, r[i].testing ? " testing" : "");
    if (n == 0)
        printf("none\n");
}

static int
load_keys(const char *path, struct fake_dns *d)
{
    FILE *f = fopen(path, "r");
    char line[8192];

    if (f == NULL) {
        perror(path);
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL && d->nrows < 64) {
        char *eq = strchr(line, '=');

        line[strcspn(line, "\r\n")] = '\0';
        if (eq == NULL)
            continue;
        *eq = '\0';
        d->rows[d->nrows].name = strdup(line);
        d->rows[d->nrows].txt = strdup(eq + 1);
        d->nrows++;
    }
    fclose(f);
    return 0;
}

static int
verify(const char *keys, time_t now, const char *msg, size_t len)
{
    static struct fake_dns fd;
    struct dkim_dns dns = {lookup, &fd};
    struct dkim_verify *v = dkim_verify_new(&dns, now);
    size_t hlen, blen;
    const char *body;

    if (load_keys(keys, &fd) == -1)
        return 2;
    split(msg, len, &hlen, &body, &blen);
    if (dkim_verify_header(v, msg, hlen) == -1)
        fprintf(stderr, "dkim_try: not a header section\n");
    for (size_t i = 0; i < blen; i += CHUNK)
        dkim_verify_body(v, body + i, blen - i < CHUNK ? blen - i : CHUNK);
    dkim_verify_finish(v, done, NULL);
    for (size_t i = 0; i < fd.nq; i++) {
        const struct key_row *row = NULL;

        for (size_t k = 0; k < fd.nrows; k++) {
            if (strcasecmp(fd.rows[k].name, fd.q[i].name) == 0)
                row = &fd.rows[k];
        }
        if (row == NULL)
            fd.q[i].cb(fd.q[i].cbarg, DKIM_DNS_NOTFOUND, NULL, 0);
        else if (strcmp(row->txt, "TEMPFAIL") == 0)
            fd.q[i].cb(fd.q[i].cbarg, DKIM_DNS_TEMPFAIL, NULL, 0);
        else
            fd.q[i].cb(fd.q[i].cbarg, DKIM_DNS_OK, row->txt, strlen(row->txt));
    }
    dkim_verify_free(v);
    for (size_t k = 0; k < fd.nrows; k++) {
        free(fd.rows[k].name);
        free(fd.rows[k].txt);
    }
    return 0;
}

struct dns_run {
    struct event_base *base;
    bool finished;
};

static void
done_dns(void *arg, struct dkim_verify *v)
{
    struct dns_run *run = arg;

    done(NULL, v);
    run->finished = true;
    (void)event_base_loopbreak(run->base);
}

/* verify-dns: the keys from a real server through src/dns. */
static int
verify_dns(const char *server, time_t now, const char *msg, size_t len)
{
    struct event_base *base = event_base_new();
    struct dkim_dns dns;
    struct dkim_verify *v;
    struct dns *d;
    size_t hlen, blen;
    const char *body;
    char err[256];
    struct dns_run run = {base, false};

    if (base == NULL)
        return 1;
    d = dns_new(base, server, 1000, err, sizeof(err));
    if (d == NULL) {
        fprintf(stderr, "dkim_try: %s\n", err);
        event_base_free(base);
        return 1;
    }
    if (dns_cache_set(d, 100) == -1)
        return 1;
    dkim_dns_from(d, &dns);
    v = dkim_verify_new(&dns, now);
    split(msg, len, &hlen, &body, &blen);
    if (dkim_verify_header(v, msg, hlen) == -1)
        fprintf(stderr, "dkim_try: not a header section\n");
    for (size_t i = 0; i < blen; i += CHUNK)
        dkim_verify_body(v, body + i, blen - i < CHUNK ? blen - i : CHUNK);
    dkim_verify_finish(v, done_dns, &run);
    /* done_dns breaks the loop; it also ends when nothing is left to wait for. */
    if (!run.finished)
        (void)event_base_dispatch(base);
    if (!run.finished)
        printf("unfinished\n");
    dkim_verify_free(v);
    dns_free(d);
    event_base_free(base);
    return 0;
}

static int
sign(const char *keyfile, const char *domain, const char *selector, const char *msg, size_t len)
{
    struct dkim_privkey key;
    char err[512];
    struct dkim_sign *s;
    size_t hlen, blen;
    const char *body, *why;
    char *field;

    if (dkim_privkey_load(keyfile, &key, err, sizeof err) == -1) {
        fprintf(stderr, "dkim_try: %s\n", err);
        return 1;
    }
    s = dkim_sign_new(&key, domain, selector, time(NULL));
    if (s == NULL) {
        fprintf(stderr, "dkim_try: bad domain or selector\n");
        dkim_privkey_clear(&key);
        return 2;
    }
    split(msg, len, &hlen, &body, &blen);
    (void)dkim_sign_header(s, msg, hlen);
    for (size_t i = 0; i < blen; i += CHUNK)
        dkim_sign_body(s, body + i, blen - i < CHUNK ? blen - i : CHUNK);
    field = dkim_sign_finish(s, &why);
    dkim_sign_free(s);
    dkim_privkey_clear(&key);
    if (field == NULL) {
        fprintf(stderr, "dkim_try: cannot sign: %s\n", why);
        return 1;
    }
    fputs(field, stdout);
    fwrite(msg, 1, len, stdout);
    free(field);
    return 0;
}

int
main(int argc, char **argv)
{
    size_t rawlen, len;
    char *raw, *msg;
    int rc;

    if (argc < 3 || (strcmp(argv[1], "sign") == 0 && argc != 5) ||
        (strcmp(argv[1], "verify") == 0 && argc > 4) ||
        (strcmp(argv[1], "verify-dns") == 0 && argc > 4) ||
        (strcmp(argv[1], "sign") != 0 && strcmp(argv[1], "verify") != 0 &&
         strcmp(argv[1], "verify-dns") != 0)) {
        fprintf(stderr, "usage: dkim_try sign KEYFILE DOMAIN SELECTOR < msg\n"
                        "       dkim_try verify KEYS [NOW] < msg\n"
                        "       dkim_try verify-dns SERVER [NOW] < msg\n");
        return 2;
    }
    raw = read_all(stdin, &rawlen);
    if (raw == NULL)
        return 1;
    msg = crlf(raw, rawlen, &len);
    free(raw);
    if (msg == NULL)
        return 1;
    if (strcmp(argv[1], "sign") == 0)
        rc = sign(argv[2], argv[3], argv[4], msg, len);
    else if (strcmp(argv[1], "verify-dns") == 0)
        rc = verify_dns(argv[2], argc == 4 ? (time_t)strtoll(argv[3], NULL, 10) : time(NULL), msg,
                        len);
    else
        rc = verify(argv[2], argc == 4 ? (time_t)strtoll(argv[3], NULL, 10) : time(NULL), msg, len);
    free(msg);
    return rc;
}
