/* SPDX-License-Identifier: MIT */
/*
 * Envelope records: encoder and decoder; see envelope.h and docs/spool.md.
 * The decoder is a strict recursive-descent reader over the records in
 * their fixed order: one function per record, each taking the line's tokens
 * (separated by exactly one space, never empty). Anything else is refused
 * with the line number, since only our own encoder writes these files.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/num.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "spool/envelope.h"
#include "spool/id.h"
#include "spool/xtext.h"

static const char *const envelope_bodies[] = {
    [SPOOL_BODY_UNSPEC] = "unspec",
    [SPOOL_BODY_7BIT] = "7bit",
    [SPOOL_BODY_8BITMIME] = "8bitmime",
};

static const char *const envelope_rets[] = {
    [SPOOL_RET_UNSPEC] = "unspec",
    [SPOOL_RET_FULL] = "full",
    [SPOOL_RET_HDRS] = "hdrs",
};

/* NOTIFY bits as letters, in this order; "-" for none. */
static const struct {
    char letter;
    unsigned bit;
} envelope_notify[] = {
    {'N', SPOOL_NOTIFY_NEVER},
    {'S', SPOOL_NOTIFY_SUCCESS},
    {'F', SPOOL_NOTIFY_FAILURE},
    {'D', SPOOL_NOTIFY_DELAY},
};
#define ENVELOPE_NOTIFY_ALL                                                                        \
    (SPOOL_NOTIFY_NEVER | SPOOL_NOTIFY_SUCCESS | SPOOL_NOTIFY_FAILURE | SPOOL_NOTIFY_DELAY)

/* The token for "none" ("" helo, NULL envid or orcpt): xtext always encodes '='. */
#define ENVELOPE_NONE "="

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ encoder */

struct ebuf {
    char *p;
    size_t len;
    size_t cap;
};

static void
put(struct ebuf *b, const char *s, size_t len)
{
    if (len > b->cap - b->len)
        log_panic("envelope: encoder bound of %zu octets is wrong", b->cap);
    memcpy(b->p + b->len, s, len);
    b->len += len;
}

static void
put_lit(struct ebuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void
put_xtext(struct ebuf *b, const char *s)
{
    size_t len = strlen(s);

    if (XTEXT_ENCODED_MAX(len) > b->cap - b->len)
        log_panic("envelope: encoder bound of %zu octets is wrong", b->cap);
    b->len += xtext_encode(b->p + b->len, s, len);
}

/* A string that may be absent: "=" for NULL or "". */
static void
put_opt(struct ebuf *b, const char *s)
{
    if (s == NULL || *s == '\0')
        put_lit(b, ENVELOPE_NONE);
    else
        put_xtext(b, s);
}

/* v in decimal, zero-padded to width digits. */
static void
put_num(struct ebuf *b, uint64_t v, int width)
{
    char num[32];

    if (str_fmt(num, sizeof(num), "%0*" PRIu64, width, v) == -1)
        log_panic("envelope: number %" PRIu64 " does not fit", v);
    put_lit(b, num);
}

/* Checks one string field; adds its worst-case encoded size to *bound. */
static int
check_string(const char *s, bool may_be_empty, size_t *bound)
{
    size_t len;

    if (s == NULL)
        return may_be_empty ? 0 : -1;
    len = strlen(s);
    if (len > ENVELOPE_FIELD_MAX || (len == 0 && !may_be_empty))
        return -1;
    *bound += XTEXT_ENCODED_MAX(len) + 1;
    return 0;
}

/*
 * Refuses what the decoder would refuse. Returns NULL and adds the worst-case
 * size of the records to *bound, or the reason.
 */
static const char *
encode_check(const struct spool_envelope *env, size_t *bound)
{
    if ((unsigned)env->door >= DOOR_ROLE_COUNT)
        return "unknown door";
    if ((unsigned)env->body >= COUNT(envelope_bodies) || (unsigned)env->ret >= COUNT(envelope_rets))
        return "unknown body or ret";
    if (env->arrival.tv_sec < 0 || env->arrival.tv_usec < 0 || env->arrival.tv_usec > 999999)
        return "arrival time out of range";
    if (env->client_port > 65535)
        return "client port out of range";
    if (env->sender == NULL || check_string(env->sender, true, bound) == -1)
        return "bad sender";
    if (check_string(env->client_addr, false, bound) == -1)
        return "bad client address";
    if (check_string(env->helo, true, bound) == -1)
        return "bad helo";
    if (check_string(env->protocol, false, bound) == -1)
        return "bad protocol";
    if (check_string(env->envid, true, bound) == -1)
        return "bad envid";
    if (check_string(env->user, true, bound) == -1)
        return "bad user";
    if (check_string(env->hold, true, bound) == -1)
        return "bad hold reason";
    if (env->n_rcpts == 0)
        return "no recipients";
    /* A record takes at least 12 octets; this also keeps *bound from overflowing. */
    if (env->n_rcpts > ENVELOPE_HEADER_MAX / 12)
        return "too many recipients";
    for (size_t i = 0; i < env->n_rcpts; i++) {
        const struct spool_rcpt *r = &env->rcpts[i];

        if (check_string(r->addr, false, bound) == -1)
            return "bad recipient";
        if (check_string(r->orcpt, true, bound) == -1)
            return "bad orcpt";
        if ((r->notify & ~ENVELOPE_NOTIFY_ALL) != 0)
            return "unknown notify bits";
        *bound += 32;
    }
    return NULL;
}

static void
put_rcpt(struct ebuf *b, const struct spool_rcpt *r)
{
    char notify[COUNT(envelope_notify) + 1];
    char status = ENVELOPE_RCPT_PENDING;
    size_t n = 0;

    for (size_t i = 0; i < COUNT(envelope_notify); i++) {
        if (r->notify & envelope_notify[i].bit)
            notify[n++] = envelope_notify[i].letter;
    }
    if (n == 0)
        notify[n++] = '-';
    notify[n] = '\0';

    put_lit(b, "rcpt ");
    put(b, &status, 1);
    put_lit(b, " ");
    put_lit(b, notify);
    put_lit(b, " ");
    put_xtext(b, r->addr);
    put_lit(b, " ");
    put_opt(b, r->orcpt);
    put_lit(b, "\n");
}

char *
envelope_encode(const char *id, const struct spool_envelope *env, size_t *len, const char **why)
{
    struct ebuf b;
    size_t bound = 512; /* the fixed records */

    *why = encode_check(env, &bound);
    if (*why != NULL) {
        errno = EINVAL;
        return NULL;
    }
    b.p = xmalloc(bound + 1);
    b.len = 0;
    b.cap = bound;

    put_lit(&b, ENVELOPE_MAGIC "\nid ");
    put_lit(&b, id);
    /* Queued on hold: the schedule's next attempt is SPOOL_NEXT_HELD from the start. */
    put_lit(&b, env->hold != NULL && env->hold[0] != '\0' ? "\nschedule 0000 9999999999\narrival "
                                                          : "\nschedule 0000 0000000000\narrival ");
    put_num(&b, (uint64_t)env->arrival.tv_sec, 1);
    put_lit(&b, ".");
    put_num(&b, (uint64_t)env->arrival.tv_usec, 6);
    put_lit(&b, "\ndoor ");
    put_lit(&b, conf_role_name(env->door));
    put_lit(&b, "\nclient ");
    put_xtext(&b, env->client_addr);
    put_lit(&b, " ");
    put_num(&b, env->client_port, 1);
    put_lit(&b, "\nhelo ");
    put_opt(&b, env->helo);
    put_lit(&b, "\nprotocol ");
    put_xtext(&b, env->protocol);
    put_lit(&b, "\nsender <");
    put_xtext(&b, env->sender);
    put_lit(&b, ">\nbody ");
    put_lit(&b, envelope_bodies[env->body]);
    put_lit(&b, env->smtputf8 ? "\nsmtputf8 yes\nret " : "\nsmtputf8 no\nret ");
    put_lit(&b, envelope_rets[env->ret]);
    put_lit(&b, "\nenvid ");
    put_opt(&b, env->envid);
    put_lit(&b, "\n");
    if (env->user != NULL && env->user[0] != '\0') {
        put_lit(&b, "user ");
        put_xtext(&b, env->user);
        put_lit(&b, "\n");
    }
    if (env->hold != NULL && env->hold[0] != '\0') {
        put_lit(&b, "hold ");
        put_xtext(&b, env->hold);
        put_lit(&b, "\n");
    }
    for (size_t i = 0; i < env->n_rcpts; i++)
        put_rcpt(&b, &env->rcpts[i]);
    put_lit(&b, "\n");

    if (b.len > ENVELOPE_HEADER_MAX) {
        free(b.p);
        *why = "too many recipients";
        errno = EINVAL;
        return NULL;
    }
    b.p[b.len] = '\0';
    *len = b.len;
    return b.p;
}

int
envelope_sched_format(char out[ENVELOPE_SCHED_LEN + 1], unsigned attempts, uint64_t next)
{
    if (attempts > ENVELOPE_ATTEMPTS_MAX || next > ENVELOPE_NEXT_MAX)
        return -1;
    return str_fmt(out, ENVELOPE_SCHED_LEN + 1, "%04u %010" PRIu64, attempts, next);
}

/* ------------------------------------------------------------------ decoder */

/* The most tokens of any record (rcpt S NOTIFY ADDR ORCPT). */
#define DEC_TOKENS_MAX 5

struct dec {
    const char *p; /* the whole input */
    size_t len;
    size_t pos;      /* where the next line starts */
    size_t line_off; /* where the current line starts */
    unsigned line_no;
    struct slice tok[DEC_TOKENS_MAX];
    size_t n_tok;
    char *why;
    size_t whycap;
};

static int
dec_fail(struct dec *d, const char *what)
{
    (void)str_fmt(d->why, d->whycap, "line %u: %s", d->line_no, what);
    return -1;
}

/* Takes the next line (without its LF) and splits it into tokens. */
static int
dec_line(struct dec *d)
{
    size_t left = d->len - d->pos;
    size_t room = ENVELOPE_HEADER_MAX - d->pos; /* d->pos never passes the cap */
    size_t scan = left;
    const char *start = d->p + d->pos;
    const char *lf;
    const char *t;
    size_t n;

    d->line_no++;
    /* Cap first, then scan: a line, and all records together. */
    if (scan > ENVELOPE_LINE_MAX)
        scan = ENVELOPE_LINE_MAX;
    if (scan > room)
        scan = room;
    lf = memchr(start, '\n', scan);
    if (lf == NULL && scan == left)
        return dec_fail(d, "truncated");
    if (lf == NULL)
        return dec_fail(d, scan == room ? "records too long" : "line too long");
    d->line_off = d->pos;
    d->pos += (size_t)(lf - start) + 1;
    d->n_tok = 0;
    if (lf == start)
        return 0;
    /* Tokens are separated by exactly one space and never empty. */
    for (t = start;;) {
        const char *sp = memchr(t, ' ', (size_t)(lf - t));
        const char *end = sp != NULL ? sp : lf;

        n = (size_t)(end - t);
        if (n == 0)
            return dec_fail(d, "empty field");
        if (d->n_tok == DEC_TOKENS_MAX)
            return dec_fail(d, "too many fields");
        d->tok[d->n_tok++] = slice_make(t, n);
        if (sp == NULL)
            return 0;
        t = sp + 1;
    }
}

static bool
tok_is(struct slice s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* Takes the next line, which must be record key with n_values values. */
static int
dec_record(struct dec *d, const char *key, size_t n_values)
{
    char what[64];

    if (dec_line(d) == -1)
        return -1;
    if (d->n_tok != n_values + 1 || !tok_is(d->tok[0], key)) {
        (void)str_fmt(what, sizeof(what), "expected \"%s\" with %zu field(s)", key, n_values);
        return dec_fail(d, what);
    }
    return 0;
}

/* A string field: canonical xtext of 1..ENVELOPE_FIELD_MAX octets, into a heap string. */
static int
dec_string(struct dec *d, struct slice s, char **out)
{
    char *p = xmalloc(s.len + 1);
    long n = xtext_decode(p, s.p, s.len);

    if (n <= 0 || (size_t)n > ENVELOPE_FIELD_MAX) {
        free(p);
        return dec_fail(d, "bad xtext");
    }
    *out = p;
    return 0;
}

/* A field that may be absent: "=" gives NULL. */
static int
dec_opt(struct dec *d, struct slice s, char **out)
{
    if (tok_is(s, ENVELOPE_NONE)) {
        *out = NULL;
        return 0;
    }
    return dec_string(d, s, out);
}

/* Exactly digits decimal digits. */
static int
dec_fixed(struct slice s, size_t digits, uint64_t max, uint64_t *out)
{
    if (s.len != digits)
        return -1;
    return num_parse_u64(s, 0, max, out);
}

/* One of the names in table (n entries); returns its index or -1. */
static int
dec_name(struct slice s, const char *const *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (tok_is(s, table[i]))
            return (int)i;
    }
    return -1;
}

/* "id" ID */
static int
dec_id(struct dec *d, struct envelope *e)
{
    if (dec_record(d, "id", 1) == -1)
        return -1;
    if (!spool_id_is_valid(d->tok[1].p, d->tok[1].len))
        return dec_fail(d, "bad queue id");
    memcpy(e->id, d->tok[1].p, SPOOL_ID_LEN);
    e->id[SPOOL_ID_LEN] = '\0';
    return 0;
}

/* "schedule" AAAA TTTTTTTTTT, at ENVELOPE_SCHED_OFF */
static int
dec_schedule(struct dec *d, struct envelope *e)
{
    uint64_t attempts;

    if (dec_record(d, "schedule", 2) == -1)
        return -1;
    if (d->tok[1].p - d->p != (ptrdiff_t)ENVELOPE_SCHED_OFF)
        return dec_fail(d, "schedule not at its offset");
    if (dec_fixed(d->tok[1], ENVELOPE_ATTEMPTS_DIGITS, ENVELOPE_ATTEMPTS_MAX, &attempts) == -1 ||
        dec_fixed(d->tok[2], ENVELOPE_NEXT_DIGITS, ENVELOPE_NEXT_MAX, &e->next_attempt) == -1)
        return dec_fail(d, "bad schedule");
    e->attempts = (unsigned)attempts;
    return 0;
}

/* "arrival" SECONDS "." MICROSECONDS(6 digits) */
static int
dec_arrival(struct dec *d, struct envelope *e)
{
    struct slice t;
    const char *dot;
    uint64_t sec, usec;

    if (dec_record(d, "arrival", 1) == -1)
        return -1;
    t = d->tok[1];
    dot = memchr(t.p, '.', t.len);
    if (dot == NULL ||
        num_parse_u64(slice_make(t.p, (size_t)(dot - t.p)), 0, INT64_MAX, &sec) == -1 ||
        dec_fixed(slice_make(dot + 1, t.len - (size_t)(dot - t.p) - 1), 6, 999999, &usec) == -1)
        return dec_fail(d, "bad arrival time");
    e->arrival.tv_sec = (time_t)sec;
    e->arrival.tv_usec = (suseconds_t)usec;
    return 0;
}

/* "door" NAME, as conf_role_name() spells it */
static int
dec_door(struct dec *d, struct envelope *e)
{
    if (dec_record(d, "door", 1) == -1)
        return -1;
    for (int i = 0; i < DOOR_ROLE_COUNT; i++) {
        if (tok_is(d->tok[1], conf_role_name((enum door_role)i))) {
            e->door = (enum door_role)i;
            return 0;
        }
    }
    return dec_fail(d, "unknown door");
}

/* "client" ADDRESS PORT */
static int
dec_client(struct dec *d, struct envelope *e)
{
    uint64_t port;

    if (dec_record(d, "client", 2) == -1)
        return -1;
    if (num_parse_u64(d->tok[2], 0, 65535, &port) == -1)
        return dec_fail(d, "bad client port");
    e->client_port = (unsigned)port;
    return dec_string(d, d->tok[1], &e->client_addr);
}

/* "helo" (XTEXT / "=") */
static int
dec_helo(struct dec *d, struct envelope *e)
{
    if (dec_record(d, "helo", 1) == -1 || dec_opt(d, d->tok[1], &e->helo) == -1)
        return -1;
    if (e->helo == NULL)
        e->helo = xstrdup("");
    return 0;
}

/* "protocol" XTEXT */
static int
dec_protocol(struct dec *d, struct envelope *e)
{
    if (dec_record(d, "protocol", 1) == -1)
        return -1;
    return dec_string(d, d->tok[1], &e->protocol);
}

/* "sender" "<" [XTEXT] ">" */
static int
dec_sender(struct dec *d, struct envelope *e)
{
    struct slice t;

    if (dec_record(d, "sender", 1) == -1)
        return -1;
    t = d->tok[1];
    if (t.len < 2 || t.p[0] != '<' || t.p[t.len - 1] != '>')
        return dec_fail(d, "sender without <>");
    if (t.len == 2) {
        e->sender = xstrdup("");
        return 0;
    }
    return dec_string(d, slice_make(t.p + 1, t.len - 2), &e->sender);
}

/* "body" NAME, "smtputf8" ("yes" / "no"), "ret" NAME */
static int
dec_flags(struct dec *d, struct envelope *e)
{
    static const char *const no_yes[] = {"no", "yes"};
    int i;

    if (dec_record(d, "body", 1) == -1)
        return -1;
    if ((i = dec_name(d->tok[1], envelope_bodies, COUNT(envelope_bodies))) < 0)
        return dec_fail(d, "unknown body");
    e->body = (enum spool_body)i;
    if (dec_record(d, "smtputf8", 1) == -1)
        return -1;
    if ((i = dec_name(d->tok[1], no_yes, COUNT(no_yes))) < 0)
        return dec_fail(d, "smtputf8 is not yes or no");
    e->smtputf8 = i == 1;
    if (dec_record(d, "ret", 1) == -1)
        return -1;
    if ((i = dec_name(d->tok[1], envelope_rets, COUNT(envelope_rets))) < 0)
        return dec_fail(d, "unknown ret");
    e->ret = (enum spool_ret)i;
    return 0;
}

/* "envid" (XTEXT / "=") */
static int
dec_envid(struct dec *d, struct envelope *e)
{
    if (dec_record(d, "envid", 1) == -1)
        return -1;
    return dec_opt(d, d->tok[1], &e->envid);
}

/* NOTIFY letters in the order N S F D, each at most once, or "-". */
static int
dec_notify(struct slice s, unsigned *out)
{
    size_t k = 0;

    *out = 0;
    if (tok_is(s, "-"))
        return 0;
    for (size_t i = 0; i < s.len; i++) {
        while (k < COUNT(envelope_notify) && envelope_notify[k].letter != s.p[i])
            k++;
        if (k == COUNT(envelope_notify))
            return -1;
        *out |= envelope_notify[k++].bit;
    }
    return 0;
}

/* "rcpt" STATUS NOTIFY XTEXT (XTEXT / "="); the tokens are already split. */
static int
dec_rcpt(struct dec *d, struct envelope_rcpt *r)
{
    struct slice st = d->tok[1];

    if (d->n_tok != 5 || !tok_is(d->tok[0], "rcpt"))
        return dec_fail(d, "expected \"rcpt\" with 4 fields or the blank line");
    if (st.len != 1 || (st.p[0] != ENVELOPE_RCPT_PENDING && st.p[0] != ENVELOPE_RCPT_DONE &&
                        st.p[0] != ENVELOPE_RCPT_FAILED))
        return dec_fail(d, "bad recipient status");
    r->status = st.p[0];
    r->status_off = (size_t)(st.p - d->p);
    if (dec_notify(d->tok[2], &r->notify) == -1)
        return dec_fail(d, "bad notify");
    if (dec_string(d, d->tok[3], &r->addr) == -1)
        return -1;
    return dec_opt(d, d->tok[4], &r->orcpt);
}

/*
 * The optional records after envid (issue 12): "user" XTEXT, then "hold"
 * XTEXT, each at most once and in this order. Reads the line after them
 * (the first rcpt record), which dec_rcpts takes as read.
 */
static int
dec_optional(struct dec *d, struct envelope *e)
{
    if (dec_line(d) == -1)
        return -1;
    if (d->n_tok >= 1 && tok_is(d->tok[0], "user")) {
        if (d->n_tok != 2)
            return dec_fail(d, "expected \"user\" with 1 field(s)");
        if (dec_string(d, d->tok[1], &e->user) == -1 || dec_line(d) == -1)
            return -1;
    }
    if (d->n_tok >= 1 && tok_is(d->tok[0], "hold")) {
        if (d->n_tok != 2)
            return dec_fail(d, "expected \"hold\" with 1 field(s)");
        if (dec_string(d, d->tok[1], &e->hold) == -1 || dec_line(d) == -1)
            return -1;
    }
    return 0;
}

/* rcpt-record 1* then the blank line; the first line is read already. */
static int
dec_rcpts(struct dec *d, struct envelope *e)
{
    size_t cap = 0;

    for (bool first = true;; first = false) {
        if (!first && dec_line(d) == -1)
            return -1;
        if (d->n_tok == 0)
            break;
        if (e->n_rcpts == cap) {
            cap = cap ? 2 * cap : 8;
            e->rcpts = xrealloc(e->rcpts, cap * sizeof(*e->rcpts));
        }
        memset(&e->rcpts[e->n_rcpts], 0, sizeof(*e->rcpts));
        e->n_rcpts++;
        if (dec_rcpt(d, &e->rcpts[e->n_rcpts - 1]) == -1)
            return -1;
    }
    if (e->n_rcpts == 0)
        return dec_fail(d, "no recipients");
    e->header_len = d->pos;
    return 0;
}

int
envelope_decode(const char *p, size_t len, struct envelope *out, char *why, size_t whycap)
{
    struct dec d = {.p = p, .len = len, .why = why, .whycap = whycap};

    memset(out, 0, sizeof(*out));
    if (dec_line(&d) == -1)
        goto fail;
    if (d.pos - d.line_off != sizeof(ENVELOPE_MAGIC) ||
        memcmp(p, ENVELOPE_MAGIC, sizeof(ENVELOPE_MAGIC) - 1) != 0) {
        (void)dec_fail(&d, "not a gate26 queue file of version 1");
        goto fail;
    }
    if (dec_id(&d, out) == -1 || dec_schedule(&d, out) == -1 || dec_arrival(&d, out) == -1 ||
        dec_door(&d, out) == -1 || dec_client(&d, out) == -1 || dec_helo(&d, out) == -1 ||
        dec_protocol(&d, out) == -1 || dec_sender(&d, out) == -1 || dec_flags(&d, out) == -1 ||
        dec_envid(&d, out) == -1 || dec_optional(&d, out) == -1 || dec_rcpts(&d, out) == -1)
        goto fail;
    return 0;
fail:
    envelope_clear(out);
    return -1;
}

int
envelope_read(int fd, struct envelope *out, char *why, size_t whycap)
{
    size_t cap = 16 * 1024, len = 0, from;
    char *buf = xmalloc(cap);
    int rc;

    /* Read until the blank line (the first "\n\n": no record is empty) or the end. */
    for (;;) {
        ssize_t n;

        if (len == cap) {
            /* The decoder refuses records longer than this anyway. */
            if (cap == ENVELOPE_HEADER_MAX)
                break;
            cap = 2 * cap < ENVELOPE_HEADER_MAX ? 2 * cap : ENVELOPE_HEADER_MAX;
            buf = xrealloc(buf, cap);
        }
        n = pread(fd, buf + len, cap - len, (off_t)len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            (void)str_fmt(why, whycap, "read: %s", strerror(errno));
            memset(out, 0, sizeof(*out));
            free(buf);
            return -1;
        }
        if (n == 0)
            break;
        /* Search from the last old octet, which may be the first LF of the pair. */
        from = len > 0 ? len - 1 : 0;
        len += (size_t)n;
        if (memmem(buf + from, len - from, "\n\n", 2) != NULL)
            break;
    }
    rc = envelope_decode(buf, len, out, why, whycap);
    free(buf);
    return rc;
}

int64_t
envelope_age(const struct envelope *e, time_t now)
{
    int64_t age = (int64_t)now - (int64_t)e->arrival.tv_sec;

    return age > 0 ? age : 0;
}

void
envelope_clear(struct envelope *e)
{
    for (size_t i = 0; i < e->n_rcpts; i++) {
        free(e->rcpts[i].addr);
        free(e->rcpts[i].orcpt);
    }
    free(e->rcpts);
    free(e->client_addr);
    free(e->helo);
    free(e->protocol);
    free(e->sender);
    free(e->envid);
    free(e->user);
    free(e->hold);
    memset(e, 0, sizeof(*e));
}
