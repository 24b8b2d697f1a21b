/* SPDX-License-Identifier: MIT */
/*
 * Tests for the spool: xtext and the envelope records (round trips with
 * hostile strings, a table of malformed headers, every truncation), queue
 * ids, the writer and the commit thread on a real directory (each test in
 * its own mkdtemp directory under /tmp), recovery at open, group commit, and
 * fault injection. Each fault case runs in a forked child, which sets
 * GATE26_FAULT after opening its spool (so only the work under test counts)
 * and reports through its exit status; parent and child both check that a
 * failed message left no trace in tmp/ or queue/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "lib/fault.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "spool/envelope.h"
#include "spool/id.h"
#include "spool/spool.h"
#include "spool/spool_impl.h"
#include "spool/xtext.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ helpers */

struct fixture {
    char root[64]; /* the mkdtemp directory */
    char dir[128]; /* root/spool: the spool, created by spool_open */
    struct event_base *base;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    (void)snprintf(f->root, sizeof(f->root), "/tmp/gate26-spool-test-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    (void)snprintf(f->dir, sizeof(f->dir), "%s/spool", f->root);
    f->base = event_base_new();
    assert_non_null(f->base);
    *state = f;
    return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    event_base_free(f->base);
    assert_int_equal(nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
    free(f);
    return 0;
}

/* Entries in dir/sub (not "." and ".."), or -1. */
static int
count_files(const char *dir, const char *sub)
{
    char path[256];
    struct dirent *de;
    DIR *d;
    int n = 0;

    (void)snprintf(path, sizeof(path), "%s/%s", dir, sub);
    d = opendir(path);
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    }
    (void)closedir(d);
    return n;
}

static bool
has_file(const char *dir, const char *sub, const char *name)
{
    char path[256];

    (void)snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    return access(path, F_OK) == 0;
}

static void
make_file(const char *dir, const char *sub, const char *name, const char *text)
{
    char path[256];
    int fd;

    (void)snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd != -1);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
}

/* The whole file dir/sub/name (heap, caller frees), its length in *len. */
static char *
slurp(const char *dir, const char *sub, const char *name, size_t *len)
{
    char path[256];
    struct stat st;
    char *p;
    int fd;

    (void)snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    fd = open(path, O_RDONLY);
    assert_true(fd != -1);
    assert_int_equal(fstat(fd, &st), 0);
    p = malloc((size_t)st.st_size + 1);
    assert_non_null(p);
    assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
    assert_int_equal(close(fd), 0);
    *len = (size_t)st.st_size;
    return p;
}

static mode_t
mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* What a commit callback saw. */
struct done {
    unsigned calls;
    char id[SPOOL_ID_LEN + 1];
    int status;
    int err;
    size_t seq; /* the order of the callbacks */
};

static size_t done_total;

static void
on_done(void *arg, const char *id, int status, int err)
{
    struct done *d = arg;

    d->calls++;
    memcpy(d->id, id, SPOOL_ID_LEN + 1);
    d->status = status;
    d->err = err;
    d->seq = done_total++;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* Runs the loop until want more callbacks have come (at most 20 s). Returns how many came. */
static size_t
wait_done(struct event_base *base, size_t want)
{
    size_t start = done_total;
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {0, 100000};

    (void)event_add(tick, &tv);
    for (int i = 0; i < 200 && done_total - start < want; i++)
        (void)event_base_loop(base, EVLOOP_ONCE);
    event_free(tick);
    return done_total - start;
}

static const struct spool_rcpt sample_rcpts[] = {
    {"bob@example.com", SPOOL_NOTIFY_SUCCESS | SPOOL_NOTIFY_FAILURE, "rfc822;bob@example.com"},
    {"carol@example.org", 0, NULL},
};

static struct spool_envelope
sample_env(void)
{
    struct spool_envelope env = {
        .sender = "alice@example.net",
        .body = SPOOL_BODY_8BITMIME,
        .smtputf8 = false,
        .ret = SPOOL_RET_UNSPEC,
        .envid = NULL,
        .rcpts = sample_rcpts,
        .n_rcpts = COUNT(sample_rcpts),
        .door = DOOR_INBOUND,
        .client_addr = "192.0.2.7",
        .client_port = 52114,
        .helo = "mx.example.net",
        .protocol = "ESMTP",
        .arrival = {1712345678, 123456},
    };
    return env;
}

/* NULL and "" mean the same for the optional fields. */
static const char *
opt(const char *s)
{
    return s != NULL && *s != '\0' ? s : NULL;
}

static void
assert_opt_equal(const char *want, const char *got)
{
    if (opt(want) == NULL)
        assert_null(got);
    else
        assert_string_equal(want, got);
}

static void
assert_env_equal(const struct spool_envelope *want, const char *id, const struct envelope *got)
{
    assert_string_equal(got->id, id);
    assert_int_equal(got->attempts, 0);
    /* Queued on hold (a hold reason): the schedule says held from the start. */
    assert_int_equal(got->next_attempt, opt(want->hold) != NULL ? SPOOL_NEXT_HELD : 0);
    assert_int_equal(got->arrival.tv_sec, want->arrival.tv_sec);
    assert_int_equal(got->arrival.tv_usec, want->arrival.tv_usec);
    assert_int_equal(got->door, want->door);
    assert_string_equal(got->client_addr, want->client_addr);
    assert_int_equal(got->client_port, want->client_port);
    assert_string_equal(got->helo, want->helo != NULL ? want->helo : "");
    assert_string_equal(got->protocol, want->protocol);
    assert_string_equal(got->sender, want->sender);
    assert_int_equal(got->body, want->body);
    assert_int_equal(got->smtputf8, want->smtputf8);
    assert_int_equal(got->ret, want->ret);
    assert_opt_equal(want->envid, got->envid);
    assert_opt_equal(want->user, got->user);
    assert_opt_equal(want->hold, got->hold);
    assert_int_equal(got->n_rcpts, want->n_rcpts);
    for (size_t i = 0; i < want->n_rcpts; i++) {
        assert_string_equal(got->rcpts[i].addr, want->rcpts[i].addr);
        assert_int_equal(got->rcpts[i].notify, want->rcpts[i].notify);
        assert_opt_equal(want->rcpts[i].orcpt, got->rcpts[i].orcpt);
        assert_int_equal(got->rcpts[i].status, ENVELOPE_RCPT_PENDING);
    }
}

/* --------------------------------------------------------------- xtext */

/* Octets 1..255: everything a C string can hold. */
static char all_octets[256];

static void
fill_all_octets(void)
{
    for (int i = 1; i < 256; i++)
        all_octets[i - 1] = (char)i;
    all_octets[255] = '\0';
}

static void
test_xtext_round_trip(void **state)
{
    const char *rows[] = {
        "",
        "a",
        "+",
        "=",
        "++==",
        "+2B",
        "a b",
        "\r\n",
        "\r\n.\r\n",
        "rcpt - - x@y =\n\n",
        "j\xc3\xb6s\xc3\xa9@ex\xc3\xa4mple.com",
        "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b.\xe5\xb9\xbf",
        "\x7f\x80\xff",
        "!~",
        all_octets,
    };
    char enc[3 * 256], dec[3 * 256 + 1];

    (void)state;
    fill_all_octets();
    for (size_t i = 0; i < COUNT(rows); i++) {
        size_t len = strlen(rows[i]);
        size_t n = xtext_encode(enc, rows[i], len);

        assert_true(n <= XTEXT_ENCODED_MAX(len));
        for (size_t k = 0; k < n; k++) {
            assert_true(enc[k] >= 33 && enc[k] <= 126);
            assert_true(enc[k] != '=');
        }
        assert_int_equal(xtext_decode(dec, enc, n), (long)len);
        assert_memory_equal(dec, rows[i], len + 1);
    }
    assert_int_equal(xtext_encode(enc, "a+b=c d", 7), 13);
    assert_memory_equal(enc, "a+2Bb+3Dc+20d", 13);
}

static void
test_xtext_decode_refuses(void **state)
{
    const char *rows[] = {
        "+", "+4",  "a+4", "+4G", "+2b",  "+41",  "+00",  "+7E",  "a b",
        "=", "a=b", "\r",  "\n",  "\x7f", "\x80", "+2B+", "+ 20",
    };
    char dec[16];

    (void)state;
    for (size_t i = 0; i < COUNT(rows); i++)
        assert_int_equal(xtext_decode(dec, rows[i], strlen(rows[i])), -1);
}

/* ------------------------------------------------------------ envelope */

#define TEST_ID "0005F3A2B4C5D600"

/* Encodes env with TEST_ID, checks the record shape, decodes and compares. */
static void
round_trip(const struct spool_envelope *env)
{
    struct envelope got;
    const char *why;
    char reason[128];
    size_t len, lines = 0;
    char *text = envelope_encode(TEST_ID, env, &len, &why);

    assert_non_null(text);
    /* Only printable ASCII and LF: 13 fixed records, the optional user and hold, one per
     * recipient, the blank line. */
    for (size_t i = 0; i < len; i++) {
        assert_true(text[i] == '\n' || (text[i] >= 32 && text[i] <= 126));
        lines += text[i] == '\n';
    }
    assert_int_equal(lines,
                     13 + (opt(env->user) != NULL) + (opt(env->hold) != NULL) + env->n_rcpts + 1);
    /* The blank line is the last line, and the only one. */
    assert_memory_equal(text + len - 2, "\n\n", 2);
    assert_null(memmem(text, len - 1, "\n\n", 2));

    if (envelope_decode(text, len, &got, reason, sizeof(reason)) == -1)
        fail_msg("decode: %s", reason);
    assert_int_equal(got.header_len, len);
    assert_env_equal(env, TEST_ID, &got);
    envelope_clear(&got);
    free(text);
}

static void
test_envelope_round_trip(void **state)
{
    char local64[65], domain255[256], longest[320 + 1], field_max[ENVELOPE_FIELD_MAX + 1];
    struct row {
        const char *sender, *helo, *envid, *client, *addr, *orcpt;
    } rows[] = {
        {"alice@example.net", "mx.example.net", NULL, "192.0.2.7", "bob@example.com", NULL},
        {"", "", "", "2001:db8::7", "Postmaster", ""},
        {"a b@c d", "helo with spaces", "env id", "::1", "x y@z", "rfc822;x y@z"},
        {"a\r\nb@c", "\r\n", "\r\nenvid x\n", "1.2.3.4", "\r\n.\r\n@x", "\n\n"},
        /* Trying to forge records: each must stay inside its own field. */
        {"x>\nrcpt - - evil@example.com =\n\nbody", "=\nsender <evil@x>", "=", "1.1.1.1 25\nhelo x",
         "a@b =\nrcpt - - c@d", "=\n"},
        {"+", "=", "+2B", "+", "=", "+3D"},
        {"<>", "<>", "<>", "<", ">", "<>"},
        {"j\xc3\xb6s\xc3\xa9@ex\xc3\xa4mple.com", "\xe4\xbe\x8b.\xe5\xb9\xbf", "\xc3\xa9",
         "10.0.0.1", "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b.\xe5\xb9\xbf", "utf-8;\xc3\xa9"},
        {all_octets, all_octets, all_octets, all_octets, all_octets, all_octets},
        {longest, domain255, local64, domain255, longest, longest},
        {field_max, field_max, field_max, field_max, field_max, field_max},
    };
    struct spool_rcpt rcpts[3];
    struct spool_envelope env;

    (void)state;
    fill_all_octets();
    memset(local64, 'l', 64);
    local64[64] = '\0';
    memset(domain255, 'd', 255);
    domain255[255] = '\0';
    (void)snprintf(longest, sizeof(longest), "%s@%s", local64, domain255);
    memset(field_max, '+', ENVELOPE_FIELD_MAX);
    field_max[ENVELOPE_FIELD_MAX] = '\0';

    for (size_t i = 0; i < COUNT(rows); i++) {
        env = sample_env();
        env.sender = rows[i].sender;
        env.helo = rows[i].helo;
        env.envid = rows[i].envid;
        env.client_addr = rows[i].client;
        rcpts[0] = (struct spool_rcpt){rows[i].addr, SPOOL_NOTIFY_NEVER, rows[i].orcpt};
        rcpts[1] = (struct spool_rcpt){rows[i].addr, 0, NULL};
        rcpts[2] = (struct spool_rcpt){"z@example.com", SPOOL_NOTIFY_SUCCESS | SPOOL_NOTIFY_DELAY,
                                       rows[i].orcpt};
        env.rcpts = rcpts;
        env.n_rcpts = 3;
        round_trip(&env);
    }
}

/*
 * The optional records of issue 12: the authenticated user, and why a
 * message was queued on hold (with the schedule held from the start). Peer
 * bytes (a user name) and hostile ones stay inside their fields.
 */
/* The age never goes below 0: time() can read a second behind the arrival's gettimeofday(). */
static void
test_envelope_age(void **state)
{
    struct envelope e = {0};

    (void)state;
    e.arrival.tv_sec = 1000;
    e.arrival.tv_usec = 999999;
    assert_int_equal(envelope_age(&e, 1000), 0);
    assert_int_equal(envelope_age(&e, 999), 0);
    assert_int_equal(envelope_age(&e, 0), 0);
    assert_int_equal(envelope_age(&e, 1001), 1);
    assert_int_equal(envelope_age(&e, 1000 + 86400), 86400);
}

static void
test_envelope_user_and_hold(void **state)
{
    char field_max[ENVELOPE_FIELD_MAX + 1];
    const struct {
        const char *user, *hold;
    } rows[] = {
        {"alice", NULL},
        {NULL, "alert compromised-host, client 10.0.0.7"},
        {"bob@example.com", "alert spam, user bob@example.com"},
        {"", ""},
        {"a b\r\nhold x", "=\nrcpt - - evil@example.com =\n\n"},
        {"+", "="},
        {all_octets, all_octets},
        {field_max, field_max},
    };
    struct spool_envelope env;

    (void)state;
    fill_all_octets();
    memset(field_max, 'u', ENVELOPE_FIELD_MAX);
    field_max[ENVELOPE_FIELD_MAX] = '\0';
    for (size_t i = 0; i < COUNT(rows); i++) {
        env = sample_env();
        env.user = rows[i].user;
        env.hold = rows[i].hold;
        round_trip(&env);
    }
}

static void
test_envelope_flags_and_100_rcpts(void **state)
{
    struct spool_rcpt rcpts[100];
    char addrs[100][40], orcpts[100][48];
    struct spool_envelope env = sample_env();

    (void)state;
    for (unsigned i = 0; i < 100; i++) {
        (void)snprintf(addrs[i], sizeof(addrs[i]), "user%u+tag=x@example.com", i);
        (void)snprintf(orcpts[i], sizeof(orcpts[i]), "rfc822;user%u+2Btag@example.com", i);
        rcpts[i] = (struct spool_rcpt){addrs[i], i % 16, i % 3 ? orcpts[i] : NULL};
    }
    env.rcpts = rcpts;
    env.n_rcpts = 100;
    for (int door = 0; door < DOOR_ROLE_COUNT; door++) {
        env.door = (enum door_role)door;
        env.body = (enum spool_body)(door % 3);
        env.ret = (enum spool_ret)((door + 1) % 3);
        env.smtputf8 = door % 2;
        env.client_port = door == 0 ? 0 : 65535;
        env.arrival = (struct timeval){door == 0 ? 0 : 4102444800, door == 0 ? 0 : 999999};
        env.protocol = door % 2 ? "UTF8SMTPS" : "SMTP";
        round_trip(&env);
    }
}

static void
test_envelope_encode_refuses(void **state)
{
    char too_long[ENVELOPE_FIELD_MAX + 2];
    struct spool_rcpt empty_addr[] = {{"", 0, NULL}};
    struct spool_rcpt long_addr[] = {{too_long, 0, NULL}};
    struct spool_rcpt long_orcpt[] = {{"a@b", 0, too_long}};
    struct spool_rcpt bad_notify[] = {{"a@b", 0x10, NULL}};
    struct spool_rcpt null_addr[] = {{NULL, 0, NULL}};
    struct spool_envelope rows[17];
    const char *why;
    size_t len;

    (void)state;
    memset(too_long, 'x', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    /* One hostile row each: the sample envelope with one field out of range. */
    for (size_t i = 0; i < COUNT(rows); i++)
        rows[i] = sample_env();
    rows[0].sender = NULL;
    rows[1].sender = too_long;
    rows[2].helo = too_long;
    rows[3].envid = too_long;
    rows[4].client_addr = "";
    rows[5].protocol = "";
    rows[6].n_rcpts = 0;
    rows[7].rcpts = empty_addr;
    rows[8].rcpts = long_addr;
    rows[9].rcpts = long_orcpt;
    rows[10].rcpts = bad_notify;
    rows[11].door = DOOR_ROLE_COUNT;
    rows[12].arrival.tv_usec = 1000000;
    rows[13].client_port = 65536;
    rows[14].rcpts = null_addr;
    rows[15].user = too_long;
    rows[16].hold = too_long;
    for (size_t i = 0; i < COUNT(rows); i++) {
        if (rows[i].rcpts != sample_rcpts)
            rows[i].n_rcpts = 1;
        why = NULL;
        errno = 0;
        assert_null(envelope_encode(TEST_ID, &rows[i], &len, &why));
        assert_int_equal(errno, EINVAL);
        assert_non_null(why);
    }
}

/* A valid header, changed by replacing from with to (first occurrence). */
struct bad_row {
    const char *from;
    const char *to;
};

static const struct bad_row bad_rows[] = {
    {"gate26-queue 1\n", "gate26-queue 2\n"},
    {"gate26-queue 1\n", "gate26-queue  1\n"},
    {"gate26-queue 1\n", "gate26-queue 1 \n"},
    {"id " TEST_ID, "id 0005f3a2b4c5d600"},
    {"id " TEST_ID, "id 0005F3A2B4C5D60"},
    {"id " TEST_ID, "id  " TEST_ID},
    {"id " TEST_ID "\n", "id " TEST_ID "0\n"},
    {"schedule 0000 0000000000", "schedule 000 0000000000"},
    {"schedule 0000 0000000000", "schedule 0000 000000000"},
    {"schedule 0000 0000000000", "schedule 0000 00000000000"},
    {"schedule 0000 0000000000", "schedule 000a 0000000000"},
    {"schedule 0000 0000000000", "schedule 0000"},
    {"arrival 1712345678.123456", "arrival 1712345678.12345"},
    {"arrival 1712345678.123456", "arrival 1712345678.1234567"},
    {"arrival 1712345678.123456", "arrival 1712345678"},
    {"arrival 1712345678.123456", "arrival -1712345678.123456"},
    {"arrival 1712345678.123456", "arrival .123456"},
    {"door inbound", "door outbound"},
    {"door inbound", "door Inbound"},
    {"door inbound", "door"},
    {"client 192.0.2.7 52114", "client 192.0.2.7 65536"},
    {"client 192.0.2.7 52114", "client 192.0.2.7"},
    {"client 192.0.2.7 52114", "client = 52114"},
    {"client 192.0.2.7 52114", "client 192.0.2.7 52114 x"},
    {"helo mx.example.net", "helo mx.example.net "},
    {"helo mx.example.net", "helo mx.example.net\r"},
    {"helo mx.example.net", "helo mx example.net"},
    {"helo mx.example.net", "helo mx+2eexample.net"},
    {"helo mx.example.net", "helo mx+2Eexample.net"},
    {"helo mx.example.net", "helo mx+00"},
    {"helo mx.example.net", "helo mx+0"},
    {"helo mx.example.net", "helo a=b"},
    {"helo mx.example.net", "helo a\x80"},
    {"helo mx.example.net", "helo"},
    {"protocol ESMTP", "protocol ="},
    {"sender <alice@example.net>", "sender alice@example.net"},
    {"sender <alice@example.net>", "sender <alice@example.net"},
    {"sender <alice@example.net>", "sender <a>b"},
    {"sender <alice@example.net>", "sender <+3E>"},
    {"sender <alice@example.net>", "sender <a b>"},
    {"sender <alice@example.net>", "sender"},
    {"body 8bitmime", "body binarymime"},
    {"body 8bitmime", "body 8BITMIME"},
    {"smtputf8 no", "smtputf8 maybe"},
    {"ret unspec", "ret all"},
    {"envid =", "envid"},
    {"envid =", "envid = ="},
    {"rcpt - SF bob@example.com", "rcpt X SF bob@example.com"},
    {"rcpt - SF bob@example.com", "rcpt -- SF bob@example.com"},
    {"rcpt - SF bob@example.com", "rcpt - FS bob@example.com"},
    {"rcpt - SF bob@example.com", "rcpt - SS bob@example.com"},
    {"rcpt - SF bob@example.com", "rcpt - SX bob@example.com"},
    {"rcpt - SF bob@example.com", "rcpt - -S bob@example.com"},
    {"rcpt - SF bob@example.com", "rcpt - SF bob@example.com ="},
    {"rcpt - - carol@example.org =", "rcpt - - carol@example.org"},
    {"rcpt - - carol@example.org =", "rcpt - - = ="},
    {"rcpt - - carol@example.org =", "rcpt  - - carol@example.org ="},
    {"rcpt - - carol@example.org =", "RCPT - - carol@example.org ="},
    /* Order, unknown records, missing ones. */
    {"door inbound\nclient 192.0.2.7 52114\n", "client 192.0.2.7 52114\ndoor inbound\n"},
    {"envid =\n", "envid =\nfoo bar\n"},
    {"envid =\n", "envid =\nenvid =\n"},
    {"door inbound\n", ""},
    {"rcpt - SF bob@example.com rfc822;bob@example.com\nrcpt - - carol@example.org =\n", ""},
    {"rcpt - - carol@example.org =\n\n", "rcpt - - carol@example.org =\n"},
    {"rcpt - - carol@example.org =\n\n", "rcpt - - carol@example.org =\n \n"},
    {"rcpt - - carol@example.org =\n\n", "rcpt - - carol@example.org =\n\r\n"},
    /* The optional records: their order, once each, one field, before the recipients. */
    {"envid =\n", "envid =\nhold x\nuser alice\n"},
    {"envid =\n", "envid =\nuser alice\nuser bob\n"},
    {"envid =\n", "envid =\nhold x\nhold y\n"},
    {"envid =\n", "envid =\nuser\n"},
    {"envid =\n", "envid =\nuser a b\n"},
    {"envid =\n", "envid =\nuser =\n"},
    {"envid =\n", "envid =\nhold =\n"},
    {"envid =\n", "envid =\nhold a+2b\n"},
    {"envid =\n", "envid =\nUser alice\n"},
    {"rcpt - - carol@example.org =\n", "rcpt - - carol@example.org =\nuser alice\n"},
    {"envid =\n", "user alice\nenvid =\n"},
};

static char *
replace(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);

    assert_non_null(at);
    assert_non_null(out);
    (void)snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return out;
}

static void
test_envelope_decode_refuses(void **state)
{
    struct spool_envelope env = sample_env();
    struct envelope got;
    char reason[128];
    const char *why;
    char *text, *bad;
    size_t len;

    (void)state;
    text = envelope_encode(TEST_ID, &env, &len, &why);
    assert_non_null(text);
    assert_int_equal(envelope_decode(text, len, &got, reason, sizeof(reason)), 0);
    envelope_clear(&got);

    for (size_t i = 0; i < COUNT(bad_rows); i++) {
        bad = replace(text, bad_rows[i].from, bad_rows[i].to);
        reason[0] = '\0';
        if (envelope_decode(bad, strlen(bad), &got, reason, sizeof(reason)) == 0)
            fail_msg("row %zu (%s) was accepted", i, bad_rows[i].to);
        assert_true(strncmp(reason, "line ", 5) == 0);
        /* Nothing is left to free after a refusal. */
        assert_null(got.rcpts);
        assert_null(got.sender);
        free(bad);
    }
    /* Every truncation of the records is refused, including the last LF. */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(envelope_decode(text, cut, &got, reason, sizeof(reason)), -1);
    free(text);
}

static void
test_envelope_decode_line_cap(void **state)
{
    struct spool_envelope env = sample_env();
    struct envelope got;
    char reason[128];
    const char *why;
    char *text, *bad, *helo;
    size_t len;

    (void)state;
    text = envelope_encode(TEST_ID, &env, &len, &why);
    assert_non_null(text);
    helo = malloc(ENVELOPE_LINE_MAX + 16);
    assert_non_null(helo);
    memcpy(helo, "helo ", 5);
    memset(helo + 5, 'a', ENVELOPE_LINE_MAX);
    helo[ENVELOPE_LINE_MAX + 5] = '\0';
    bad = replace(text, "helo mx.example.net", helo);
    assert_int_equal(envelope_decode(bad, strlen(bad), &got, reason, sizeof(reason)), -1);
    assert_string_equal(reason, "line 7: line too long");
    /* A field that fits the line but is over ENVELOPE_FIELD_MAX decoded. */
    helo[5 + ENVELOPE_FIELD_MAX + 1] = '\0';
    free(bad);
    bad = replace(text, "helo mx.example.net", helo);
    assert_int_equal(envelope_decode(bad, strlen(bad), &got, reason, sizeof(reason)), -1);
    free(bad);
    free(helo);
    free(text);
}

/* ENVELOPE_HEADER_MAX: the encoder refuses what the decoder would. */
static void
test_envelope_header_cap(void **state)
{
    enum { N = 2500 };
    struct spool_rcpt *rcpts = calloc(N, sizeof(*rcpts));
    char *wide = malloc(ENVELOPE_FIELD_MAX + 1);
    struct spool_envelope env = sample_env();
    struct envelope got;
    char reason[128];
    const char *why;
    size_t len;
    char *text;

    (void)state;
    assert_non_null(rcpts);
    assert_non_null(wide);
    /* Spaces: three octets each once encoded, the longest records there are. */
    memset(wide, ' ', ENVELOPE_FIELD_MAX);
    wide[ENVELOPE_FIELD_MAX] = '\0';
    for (size_t i = 0; i < N; i++)
        rcpts[i] = (struct spool_rcpt){wide, 0, wide};
    env.rcpts = rcpts;
    env.n_rcpts = N;
    assert_null(envelope_encode(TEST_ID, &env, &len, &why));
    assert_string_equal(why, "too many recipients");

    env.n_rcpts = 2400;
    text = envelope_encode(TEST_ID, &env, &len, &why);
    assert_non_null(text);
    assert_true(len > ENVELOPE_HEADER_MAX - 40 * ENVELOPE_LINE_MAX);
    if (envelope_decode(text, len, &got, reason, sizeof(reason)) == -1)
        fail_msg("decode: %s", reason);
    assert_int_equal(got.n_rcpts, 2400);
    assert_string_equal(got.rcpts[2399].orcpt, wide);

    /* The same with 100 more records written in by hand: the decoder stops at the cap. */
    {
        size_t rec = len - 1 - got.rcpts[2399].status_off + 5;
        char *big = malloc(len + 100 * rec);
        size_t o = len - 1;

        assert_non_null(big);
        memcpy(big, text, len - 1);
        for (int i = 0; i < 100; i++, o += rec)
            memcpy(big + o, text + len - 1 - rec, rec);
        big[o++] = '\n';
        envelope_clear(&got);
        assert_int_equal(envelope_decode(big, o, &got, reason, sizeof(reason)), -1);
        assert_non_null(strstr(reason, "records too long"));
        free(big);
    }
    envelope_clear(&got);
    free(text);
    free(wide);
    free(rcpts);
}

static void
test_envelope_in_place_fields(void **state)
{
    struct spool_envelope env = sample_env();
    struct envelope got;
    char reason[128], sched[ENVELOPE_SCHED_LEN + 1];
    const char *why;
    char *text;
    size_t len;

    (void)state;
    text = envelope_encode(TEST_ID, &env, &len, &why);
    assert_non_null(text);
    /* The offsets rule of docs/spool.md. */
    assert_int_equal(ENVELOPE_SCHED_OFF, 44);
    assert_memory_equal(text + ENVELOPE_SCHED_OFF - 9, "schedule 0000 0000000000\n", 25);
    assert_int_equal(envelope_decode(text, len, &got, reason, sizeof(reason)), 0);
    for (size_t i = 0; i < got.n_rcpts; i++) {
        assert_int_equal(text[got.rcpts[i].status_off], ENVELOPE_RCPT_PENDING);
        assert_memory_equal(text + got.rcpts[i].status_off - 5, "rcpt ", 5);
    }

    /* The scheduler's updates: same length, in place. */
    assert_int_equal(envelope_sched_format(sched, 3, 1712349999), 0);
    assert_string_equal(sched, "0003 1712349999");
    memcpy(text + ENVELOPE_SCHED_OFF, sched, ENVELOPE_SCHED_LEN);
    text[got.rcpts[1].status_off] = ENVELOPE_RCPT_DONE;
    text[got.rcpts[0].status_off] = ENVELOPE_RCPT_FAILED;
    envelope_clear(&got);
    assert_int_equal(envelope_decode(text, len, &got, reason, sizeof(reason)), 0);
    assert_int_equal(got.attempts, 3);
    assert_int_equal(got.next_attempt, 1712349999);
    assert_int_equal(got.rcpts[0].status, ENVELOPE_RCPT_FAILED);
    assert_int_equal(got.rcpts[1].status, ENVELOPE_RCPT_DONE);
    assert_int_equal(got.header_len, len);
    envelope_clear(&got);

    assert_int_equal(envelope_sched_format(sched, ENVELOPE_ATTEMPTS_MAX, ENVELOPE_NEXT_MAX), 0);
    assert_string_equal(sched, "9999 9999999999");
    assert_int_equal(envelope_sched_format(sched, ENVELOPE_ATTEMPTS_MAX + 1, 0), -1);
    assert_int_equal(envelope_sched_format(sched, 0, ENVELOPE_NEXT_MAX + 1), -1);
    free(text);
}

/* ----------------------------------------------------------------- ids */

static void
test_ids_increase(void **state)
{
    char prev[SPOOL_ID_LEN + 1], cur[SPOOL_ID_LEN + 1];

    (void)state;
    spool_id_next(prev);
    assert_true(spool_id_is_valid(prev, strlen(prev)));
    for (int i = 0; i < 100000; i++) {
        spool_id_next(cur);
        assert_true(spool_id_is_valid(cur, strlen(cur)));
        /* Fixed-width upper-case hex: text order is number order. */
        assert_true(strcmp(prev, cur) < 0);
        assert_true(spool_id_value(cur) > spool_id_value(prev));
        memcpy(prev, cur, sizeof(cur));
    }
    /* A seed (the largest id on disk) moves every later id past it. */
    spool_id_seed(spool_id_value(cur) + ((uint64_t)1 << 32));
    spool_id_next(prev);
    assert_true(spool_id_value(prev) == spool_id_value(cur) + ((uint64_t)1 << 32) + 1);

    assert_false(spool_id_is_valid("0005f3a2b4c5d600", 16));
    assert_false(spool_id_is_valid("0005F3A2B4C5D60", 15));
    assert_false(spool_id_is_valid("0005F3A2B4C5D6000", 17));
    assert_false(spool_id_is_valid("0005F3A2B4C5D60G", 16));
    assert_false(spool_id_is_valid("0005F3A2B4C5D6.0", 16));
    assert_true(spool_id_is_valid("0005F3A2B4C5D600", 16));
}

/* ---------------------------------------------------- writer and commit */

static struct spool *
open_spool(struct fixture *f, struct spool_stats *st)
{
    char err[512];
    struct spool *sp = spool_open(f->dir, f->base, st, err, sizeof(err));

    if (sp == NULL)
        fail_msg("spool_open: %s", err);
    return sp;
}

/* Content with every octet value and CRLF lines, len octets. */
static char *
make_content(size_t len)
{
    char *p = malloc(len);

    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = i % 80 == 78 ? '\r' : i % 80 == 79 ? '\n' : (char)(i * 7 % 256);
    return p;
}

static void
test_commit_one(void **state)
{
    struct fixture *f = *state;
    struct spool_envelope env = sample_env();
    const size_t chunks[] = {1, 2, 100, 70000, 65536, 65535, 3, 200000, 0, 4097};
    struct spool_stats st;
    struct spool_counters c;
    struct envelope got;
    struct spool_msg *m;
    struct done d = {0};
    char id[SPOOL_ID_LEN + 1], path[256], reason[128];
    size_t total = 0, len;
    char *content, *file;
    struct spool *sp;
    int fd;

    for (size_t i = 0; i < COUNT(chunks); i++)
        total += chunks[i];
    content = make_content(total);

    sp = open_spool(f, &st);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.tmp_removed, 0);
    assert_int_equal(st.unknown, 0);
    assert_string_equal(spool_dir(sp), f->dir);
    assert_int_equal(mode_of(f->dir), 0700);
    (void)snprintf(path, sizeof(path), "%s/tmp", f->dir);
    assert_int_equal(mode_of(path), 0700);
    (void)snprintf(path, sizeof(path), "%s/queue", f->dir);
    assert_int_equal(mode_of(path), 0700);

    assert_int_equal(spool_msg_new(sp, &env, &m), 0);
    memcpy(id, spool_msg_id(m), sizeof(id));
    assert_true(spool_id_is_valid(id, strlen(id)));
    /* No file until the write buffer first fills. */
    assert_false(has_file(f->dir, "tmp", id));
    total = 0;
    for (size_t i = 0; i < COUNT(chunks); i++) {
        assert_int_equal(spool_msg_write(m, content + total, chunks[i]), 0);
        total += chunks[i];
        assert_int_equal(spool_msg_size(m), total);
    }
    assert_true(has_file(f->dir, "tmp", id));
    (void)snprintf(path, sizeof(path), "%s/tmp/%s", f->dir, id);
    assert_int_equal(mode_of(path), 0600);
    spool_msg_commit(m, on_done, &d);
    /* Never from inside the call. */
    assert_int_equal(d.calls, 0);
    assert_int_equal(wait_done(f->base, 1), 1);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, 0);
    assert_string_equal(d.id, id);

    assert_int_equal(count_files(f->dir, "tmp"), 0);
    assert_int_equal(count_files(f->dir, "queue"), 1);
    assert_true(has_file(f->dir, "queue", id));
    (void)snprintf(path, sizeof(path), "%s/queue/%s", f->dir, id);
    assert_int_equal(mode_of(path), 0600);

    /* The records, then exactly the content. */
    fd = open(path, O_RDONLY);
    assert_true(fd != -1);
    if (envelope_read(fd, &got, reason, sizeof(reason)) == -1)
        fail_msg("envelope_read: %s", reason);
    (void)close(fd);
    assert_env_equal(&env, id, &got);
    file = slurp(f->dir, "queue", id, &len);
    assert_int_equal(len, got.header_len + total);
    assert_memory_equal(file + got.header_len, content, total);
    envelope_clear(&got);
    free(file);

    spool_get_counters(sp, &c);
    assert_int_equal(c.committed, 1);
    assert_int_equal(c.failed, 0);
    assert_int_equal(c.batches, 1);
    assert_int_equal(c.dir_fsyncs, 1);
    assert_int_equal(spool_queued(sp), 1);
    spool_free(sp);

    /* A restart finds it. */
    sp = open_spool(f, &st);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.tmp_removed, 0);
    assert_int_equal(spool_queued(sp), 1);
    spool_free(sp);
    free(content);
}

/* A header bigger than envelope_read's first buffer, then the scheduler's pwrite()s. */
static void
test_commit_big_header_in_place(void **state)
{
    struct fixture *f = *state;
    struct spool_envelope env = sample_env();
    struct spool_rcpt rcpts[100];
    static char addrs[100][CAP_MAILBOX + 1];
    char id[SPOOL_ID_LEN + 1], path[256], reason[128], sched[ENVELOPE_SCHED_LEN + 1];
    struct envelope got;
    struct spool_msg *m;
    struct done d = {0};
    struct spool *sp;
    int fd;

    for (int i = 0; i < 100; i++) {
        memset(addrs[i], ' ', CAP_MAILBOX);
        (void)snprintf(addrs[i], 16, "u%d@", i);
        addrs[i][strlen(addrs[i])] = 'x';
        addrs[i][CAP_MAILBOX] = '\0';
        rcpts[i] = (struct spool_rcpt){addrs[i], SPOOL_NOTIFY_FAILURE, addrs[i]};
    }
    env.rcpts = rcpts;
    env.n_rcpts = 100;
    sp = open_spool(f, NULL);
    assert_int_equal(spool_msg_new(sp, &env, &m), 0);
    memcpy(id, spool_msg_id(m), sizeof(id));
    assert_int_equal(spool_msg_write(m, "Subject: x\r\n\r\nbody\r\n", 20), 0);
    spool_msg_commit(m, on_done, &d);
    assert_int_equal(wait_done(f->base, 1), 1);
    assert_int_equal(d.status, 0);

    (void)snprintf(path, sizeof(path), "%s/queue/%s", f->dir, id);
    fd = open(path, O_RDWR);
    assert_true(fd != -1);
    if (envelope_read(fd, &got, reason, sizeof(reason)) == -1)
        fail_msg("envelope_read: %s", reason);
    assert_true(got.header_len > 16 * 1024);
    assert_env_equal(&env, id, &got);
    assert_int_equal(envelope_sched_format(sched, 1, 1712350000), 0);
    assert_int_equal(pwrite(fd, sched, ENVELOPE_SCHED_LEN, ENVELOPE_SCHED_OFF), ENVELOPE_SCHED_LEN);
    assert_int_equal(pwrite(fd, "D", 1, (off_t)got.rcpts[99].status_off), 1);
    envelope_clear(&got);
    assert_int_equal(envelope_read(fd, &got, reason, sizeof(reason)), 0);
    assert_int_equal(got.attempts, 1);
    assert_int_equal(got.next_attempt, 1712350000);
    assert_int_equal(got.rcpts[99].status, ENVELOPE_RCPT_DONE);
    assert_int_equal(got.rcpts[98].status, ENVELOPE_RCPT_PENDING);
    envelope_clear(&got);
    (void)close(fd);
    spool_free(sp);
}

static void
test_abort(void **state)
{
    struct fixture *f = *state;
    struct spool_envelope env = sample_env();
    struct spool_msg *m;
    char *content = make_content(300000);
    struct spool *sp = open_spool(f, NULL);

    assert_int_equal(spool_msg_new(sp, &env, &m), 0);
    spool_msg_abort(m);
    /* After part of it was written out, too. */
    assert_int_equal(spool_msg_new(sp, &env, &m), 0);
    assert_int_equal(spool_msg_write(m, content, 300000), 0);
    assert_int_equal(count_files(f->dir, "tmp"), 1);
    spool_msg_abort(m);
    spool_msg_abort(NULL);
    assert_int_equal(count_files(f->dir, "tmp"), 0);
    assert_int_equal(count_files(f->dir, "queue"), 0);
    assert_int_equal(spool_queued(sp), 0);
    spool_free(sp);
    spool_free(NULL);
    free(content);
}

static void
test_new_refuses_bad_envelope(void **state)
{
    struct fixture *f = *state;
    struct spool_envelope env = sample_env();
    struct spool_msg *m = NULL;
    struct spool *sp = open_spool(f, NULL);

    env.n_rcpts = 0;
    errno = 0;
    assert_int_equal(spool_msg_new(sp, &env, &m), -1);
    assert_int_equal(errno, EINVAL);
    assert_null(m);
    assert_int_equal(count_files(f->dir, "tmp"), 0);
    spool_free(sp);
}

static void
id_plus(char out[SPOOL_ID_LEN + 1], uint64_t v)
{
    (void)snprintf(out, SPOOL_ID_LEN + 1, "%016llX", (unsigned long long)v);
}

static void
test_recovery(void **state)
{
    struct fixture *f = *state;
    struct spool_envelope env = sample_env();
    char path[256], now[SPOOL_ID_LEN + 1], ahead[SPOOL_ID_LEN + 1], other[SPOOL_ID_LEN + 1];
    char tmp_id[SPOOL_ID_LEN + 1];
    struct spool_stats st;
    struct spool_msg *m;
    struct spool *sp;

    assert_int_equal(mkdir(f->dir, 0700), 0);
    (void)snprintf(path, sizeof(path), "%s/tmp", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    (void)snprintf(path, sizeof(path), "%s/queue", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);

    /* One id far ahead of the clock (as after the clock went back). */
    spool_id_next(now);
    id_plus(ahead, spool_id_value(now) + ((uint64_t)1 << 40));
    id_plus(other, spool_id_value(now) - 1000);
    id_plus(tmp_id, spool_id_value(now) + 5);
    make_file(f->dir, "tmp", tmp_id, "half a message");
    make_file(f->dir, "tmp", "junk", "x");
    make_file(f->dir, "tmp", ".hidden", "x");
    make_file(f->dir, "queue", ahead, "gate26-queue 1\n");
    make_file(f->dir, "queue", other, "gate26-queue 1\n");
    make_file(f->dir, "queue", "README", "x");
    make_file(f->dir, "queue", "0005f3a2b4c5d600", "x");
    make_file(f->dir, "queue", "0005F3A2B4C5D60", "x");
    make_file(f->dir, "queue", "bad \"name\"\n\x01", "x");
    (void)snprintf(path, sizeof(path), "%s/queue/%s", f->dir, "0005F3A2B4C5D601");
    assert_int_equal(mkdir(path, 0700), 0);

    sp = open_spool(f, &st);
    assert_int_equal(st.tmp_removed, 3);
    assert_int_equal(st.queued, 2);
    assert_int_equal(st.unknown, 5);
    assert_int_equal(spool_queued(sp), 2);
    assert_int_equal(count_files(f->dir, "tmp"), 0);
    /* Garbage is left alone. */
    assert_int_equal(count_files(f->dir, "queue"), 7);
    assert_true(has_file(f->dir, "queue", "README"));
    assert_true(has_file(f->dir, "queue", "0005F3A2B4C5D601"));

    /* New ids never collide with what is on disk. */
    assert_int_equal(spool_msg_new(sp, &env, &m), 0);
    assert_true(strcmp(spool_msg_id(m), ahead) > 0);
    spool_msg_abort(m);
    spool_free(sp);
}

static void
test_group_commit(void **state)
{
    enum { N = 200 };
    struct fixture *f = *state;
    struct spool_envelope env = sample_env();
    static struct spool_msg *m[N];
    static struct done d[N];
    struct spool_counters c;
    struct spool *sp = open_spool(f, NULL);
    size_t first = done_total;

    memset(d, 0, sizeof(d));
    for (int i = 0; i < N; i++) {
        assert_int_equal(spool_msg_new(sp, &env, &m[i]), 0);
        assert_int_equal(spool_msg_write(m[i], "Subject: t\r\n\r\nhello\r\n", 21), 0);
    }
    /* All in one loop turn, as many sessions finishing DATA at once. */
    for (int i = 0; i < N; i++)
        spool_msg_commit(m[i], on_done, &d[i]);
    assert_int_equal(wait_done(f->base, N), N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(d[i].calls, 1);
        assert_int_equal(d[i].status, 0);
        /* Callbacks come in commit order. */
        assert_int_equal(d[i].seq, first + (size_t)i);
        assert_true(has_file(f->dir, "queue", d[i].id));
    }
    spool_get_counters(sp, &c);
    print_message("group commit: %" PRIu64 " messages in %" PRIu64 " batches, %" PRIu64
                  " directory fsyncs\n",
                  c.committed, c.batches, c.dir_fsyncs);
    assert_int_equal(c.committed, N);
    assert_int_equal(c.failed, 0);
    assert_true(c.batches < c.committed);
    assert_int_equal(c.dir_fsyncs, c.batches);
    assert_int_equal(count_files(f->dir, "queue"), N);
    assert_int_equal(count_files(f->dir, "tmp"), 0);
    spool_free(sp);
}

static void
test_free_reports_in_flight(void **state)
{
    struct fixture *f = *state;
    struct spool_envelope env = sample_env();
    struct done d[3] = {0};
    struct spool_msg *m;
    struct spool *sp = open_spool(f, NULL);

    for (int i = 0; i < 3; i++) {
        assert_int_equal(spool_msg_new(sp, &env, &m), 0);
        spool_msg_commit(m, on_done, &d[i]);
    }
    /* The loop never runs: spool_free waits and calls back itself. */
    spool_free(sp);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(d[i].calls, 1);
        assert_int_equal(d[i].status, 0);
        assert_true(has_file(f->dir, "queue", d[i].id));
    }
    assert_true(d[0].seq < d[1].seq && d[1].seq < d[2].seq);
}

/* RENAME_NOREPLACE: an existing queue file is never replaced. */
static void
test_rename_never_replaces(void **state)
{
    struct fixture *f = *state;
    struct spool_envelope env = sample_env();
    char id[SPOOL_ID_LEN + 1];
    struct spool_counters c;
    struct done d = {0};
    struct spool_msg *m;
    struct spool *sp = open_spool(f, NULL);
    size_t len;
    char *old;

    assert_int_equal(spool_msg_new(sp, &env, &m), 0);
    memcpy(id, spool_msg_id(m), sizeof(id));
    make_file(f->dir, "queue", id, "the older message");
    spool_msg_commit(m, on_done, &d);
    assert_int_equal(wait_done(f->base, 1), 1);
    assert_int_equal(d.status, -1);
    assert_int_equal(d.err, EEXIST);
    assert_int_equal(count_files(f->dir, "tmp"), 0);
    old = slurp(f->dir, "queue", id, &len);
    assert_int_equal(len, 17);
    assert_memory_equal(old, "the older message", 17);
    free(old);
    spool_get_counters(sp, &c);
    assert_int_equal(c.failed, 1);
    assert_int_equal(c.committed, 0);
    assert_int_equal(c.dir_fsyncs, 0);
    spool_free(sp);
}

static void
test_open_errors(void **state)
{
    struct fixture *f = *state;
    char err[512], path[256];
    struct spool *sp;

    (void)snprintf(path, sizeof(path), "%s/no/such/dir", f->root);
    sp = spool_open(path, f->base, NULL, err, sizeof(err));
    assert_null(sp);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, strerror(ENOENT)));

    (void)snprintf(path, sizeof(path), "%s/file", f->root);
    make_file(f->root, ".", "file", "x");
    sp = spool_open(path, f->base, NULL, err, sizeof(err));
    assert_null(sp);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, strerror(ENOTDIR)));

    /* queue is a file: the message names DIR/queue. */
    assert_int_equal(mkdir(f->dir, 0700), 0);
    make_file(f->dir, ".", "queue", "x");
    sp = spool_open(f->dir, f->base, NULL, err, sizeof(err));
    assert_null(sp);
    (void)snprintf(path, sizeof(path), "%s/queue", f->dir);
    assert_non_null(strstr(err, path));
}

/* Directories that others could reach are made private at open; private ones stay as they are. */
static void
test_open_makes_private(void **state)
{
    struct fixture *f = *state;
    static const struct {
        mode_t top, tmp, queue; /* 0: missing, spool_open creates it */
    } rows[] = {
        {0, 0, 0},    {0700, 0700, 0700}, {0755, 0755, 0755}, {0777, 0700, 0711},
        {0750, 0, 0}, {0705, 0770, 0}, /* hostile: others but not the group, the group but not
                                          others */
    };
    static const char *const subs[] = {"", "tmp", "queue"};
    char path[256];
    struct stat st;

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const mode_t modes[] = {rows[i].top, rows[i].tmp, rows[i].queue};

        assert_int_equal(nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
        assert_int_equal(mkdir(f->root, 0700), 0);
        for (size_t j = 0; j < 3; j++) {
            if (modes[j] == 0)
                continue;
            (void)snprintf(path, sizeof path, "%s/%s", f->dir, subs[j]);
            assert_int_equal(mkdir(path, 0700), 0);
            assert_int_equal(chmod(path, modes[j]), 0);
        }
        spool_free(open_spool(f, NULL));
        for (size_t j = 0; j < 3; j++) {
            (void)snprintf(path, sizeof path, "%s/%s", f->dir, subs[j]);
            assert_int_equal(stat(path, &st), 0);
            assert_int_equal(st.st_mode & 07777, 0700);
        }
    }
}

/* ----------------------------------------------------- fault injection */

#ifdef GATE26_FAULTS

/* In the child: a failed check prints where and exits 1. */
/* ------------------------------------------------------------ the lock */

/* A message larger than the write buffer, written but not committed: tmp/ID exists. */
static struct spool_msg *
big_message_in_flight(struct spool *sp)
{
    struct spool_envelope env = sample_env();
    char *content = make_content(CAP_SPOOL_WRITE_BUF + 1000);
    struct spool_msg *m;

    assert_int_equal(spool_msg_new(sp, &env, &m), 0);
    assert_int_equal(spool_msg_write(m, content, CAP_SPOOL_WRITE_BUF + 1000), 0);
    free(content);
    return m;
}

static void
assert_lock_pid(const struct fixture *f, long pid)
{
    char want[32], path[256], *got;
    size_t len;

    (void)snprintf(want, sizeof(want), "%ld\n", pid);
    got = slurp(f->dir, ".", SPOOL_LOCK_NAME, &len);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
    free(got);
    (void)snprintf(path, sizeof(path), "%s/%s", f->dir, SPOOL_LOCK_NAME);
    assert_int_equal(mode_of(path), 0600);
}

/* A second daemon on the spool is refused before it touches anything. */
static void
test_lock_second_daemon_refused(void **state)
{
    struct fixture *f = *state;
    char err[512], want[256], path[256];
    struct spool_msg *m;
    struct spool *sp, *second;
    struct done d = {0};

    sp = open_spool(f, NULL);
    assert_lock_pid(f, (long)getpid());
    m = big_message_in_flight(sp);
    assert_true(has_file(f->dir, "tmp", spool_msg_id(m)));
    /* Others could reach it: the first daemon's business, not the second's. */
    assert_int_equal(chmod(f->dir, 0755), 0);

    /* Another process: refused, naming us (we have the lock file open). */
    (void)snprintf(want, sizeof(want),
                   "%s: the spool is in use by another gate26 (pid %ld); stop it first, or give "
                   "this one its own spool",
                   f->dir, (long)getpid());
    {
        int status;
        pid_t pid = fork();

        assert_true(pid != -1);
        if (pid == 0) {
            struct event_base *base = event_base_new();

            /* The inherited descriptor shares our lock: the child's own open must not. */
            (void)close(sp->lock_fd);
            errno = 0;
            second = spool_open(f->dir, base, NULL, err, sizeof(err));
            if (second != NULL || errno != EWOULDBLOCK || strcmp(err, want) != 0) {
                fprintf(stderr, "child: %s\n", err);
                exit(1);
            }
            exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    /*
     * flock conflicts between two open files of one process too. The PID in
     * the file is ours, not another daemon's: it is not named.
     */
    errno = 0;
    second = spool_open(f->dir, f->base, NULL, err, sizeof(err));
    assert_null(second);
    assert_int_equal(errno, EWOULDBLOCK);
    (void)snprintf(want, sizeof(want),
                   "%s: the spool is in use by another gate26; stop it first, or give this one "
                   "its own spool",
                   f->dir);
    assert_string_equal(err, want);
    /* Nothing changed: the message in flight, the mode, the pid. */
    assert_true(has_file(f->dir, "tmp", spool_msg_id(m)));
    (void)snprintf(path, sizeof(path), "%s", f->dir);
    assert_int_equal(mode_of(path), 0755);
    assert_lock_pid(f, (long)getpid());
    /* A reader is sent to the daemon. */
    errno = 0;
    assert_null(spool_open_reader(f->dir, err, sizeof(err)));
    assert_int_equal(errno, EWOULDBLOCK);

    spool_msg_commit(m, on_done, &d);
    assert_int_equal(wait_done(f->base, 1), 1);
    assert_int_equal(d.status, 0);
    assert_true(has_file(f->dir, "queue", d.id));
    spool_free(sp);

    /* Let go: the next one opens, and finds the message. */
    {
        struct spool_stats st;

        sp = open_spool(f, &st);
        assert_int_equal(st.queued, 1);
        spool_free(sp);
    }
}

/* A lock file left by a daemon that was killed (any content) blocks nothing. */
static void
test_lock_stale_file(void **state)
{
    struct fixture *f = *state;
    static const char *const stale[] = {"4242\n",   "",  "garbage", "99999999999999999999\n",
                                        "12\n34\n", "\n"};
    struct spool *sp;

    for (size_t i = 0; i < COUNT(stale); i++) {
        assert_true(mkdir(f->dir, 0700) == 0 || errno == EEXIST);
        make_file(f->dir, ".", SPOOL_LOCK_NAME, stale[i]);
        sp = open_spool(f, NULL);
        assert_lock_pid(f, (long)getpid());
        spool_free(sp);
        /* The file stays (it is the lock); the next start rewrites it. */
        assert_true(has_file(f->dir, ".", SPOOL_LOCK_NAME));
    }

    /*
     * A daemon between its flock and writing its PID: the file still names
     * a dead one. A second daemon refuses without naming the dead PID.
     */
    {
        char path[256], stale_pid[32], err[512], want[256];
        int status, fd;
        pid_t dead = fork();

        assert_true(dead != -1);
        if (dead == 0)
            _exit(0);
        assert_int_equal(waitpid(dead, &status, 0), dead);
        (void)snprintf(stale_pid, sizeof(stale_pid), "%ld\n", (long)dead);
        make_file(f->dir, ".", SPOOL_LOCK_NAME, stale_pid);
        (void)snprintf(path, sizeof(path), "%s/%s", f->dir, SPOOL_LOCK_NAME);
        fd = open(path, O_RDWR);
        assert_true(fd != -1);
        assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
        assert_null(spool_open(f->dir, f->base, NULL, err, sizeof(err)));
        (void)snprintf(want, sizeof(want),
                       "%s: the spool is in use by another gate26; stop it first, or give this "
                       "one its own spool",
                       f->dir);
        assert_string_equal(err, want);
        assert_int_equal(close(fd), 0);
    }
}

/* A lock that is not a regular file is refused, and nothing is changed. */
static void
test_lock_not_a_file(void **state)
{
    struct fixture *f = *state;
    char err[512], path[256];

    assert_int_equal(mkdir(f->dir, 0700), 0);
    (void)snprintf(path, sizeof(path), "%s/%s", f->dir, SPOOL_LOCK_NAME);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_null(spool_open(f->dir, f->base, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, path));
    assert_int_equal(count_files(f->dir, "."), 1);
    assert_int_equal(rmdir(path), 0);

    /* A symlink is not followed (it could point anywhere). */
    assert_int_equal(symlink("/etc/passwd", path), 0);
    assert_null(spool_open(f->dir, f->base, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, path));
    assert_int_equal(count_files(f->dir, "."), 1);
    assert_null(spool_open_reader(f->dir, err, sizeof(err)));
    assert_non_null(strstr(err, path));
}

/* A reader creates nothing, reads read-only, and keeps a daemon from starting meanwhile. */
static void
test_lock_reader(void **state)
{
    struct fixture *f = *state;
    char err[512], why[256];
    char(*ids)[SPOOL_ID_LEN + 1];
    struct spool_queued *q;
    struct spool_msg *m;
    struct done d = {0};
    struct spool *sp;
    size_t n;

    /* No spool at all. */
    errno = 0;
    assert_null(spool_open_reader(f->dir, err, sizeof(err)));
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, f->dir));

    /* A spool without lock file or queue/: read without a lock, nothing created. */
    assert_int_equal(mkdir(f->dir, 0700), 0);
    sp = spool_open_reader(f->dir, err, sizeof(err));
    assert_non_null(sp);
    assert_int_equal(spool_queue_list(sp, &ids, &n), 0);
    assert_int_equal(n, 0);
    free(ids);
    assert_int_equal(spool_queued_open(sp, "0000000000000001", &q, why, sizeof(why)), -1);
    assert_int_equal(errno, ENOENT);
    spool_free(sp);
    assert_int_equal(count_files(f->dir, "."), 0);

    /* One message queued by a daemon, which then stops. */
    sp = open_spool(f, NULL);
    m = big_message_in_flight(sp);
    spool_msg_commit(m, on_done, &d);
    assert_int_equal(wait_done(f->base, 1), 1);
    assert_int_equal(d.status, 0);
    spool_free(sp);

    sp = spool_open_reader(f->dir, err, sizeof(err));
    assert_non_null(sp);
    assert_int_equal(spool_queue_list(sp, &ids, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], d.id);
    free(ids);
    assert_int_equal(spool_queued_open(sp, d.id, &q, why, sizeof(why)), 0);
    assert_int_equal(fcntl(q->fd, F_GETFL) & O_ACCMODE, O_RDONLY);
    assert_string_equal(q->env.sender, "alice@example.net");
    spool_queued_close(q);

    /* A second reader shares the lock. */
    {
        struct spool *other = spool_open_reader(f->dir, err, sizeof(err));

        assert_non_null(other);
        spool_free(other);
    }

    /* A daemon starting now (in a child) waits for the reader, then starts. */
    {
        int status;
        pid_t pid = fork();

        assert_true(pid != -1);
        if (pid == 0) {
            struct event_base *base = event_base_new();
            struct spool *daemon;

            /* The inherited descriptor shares the parent's lock: only the parent's counts. */
            spool_free(sp);
            daemon = spool_open(f->dir, base, NULL, err, sizeof(err));

            if (daemon == NULL) {
                fprintf(stderr, "child: %s\n", err);
                exit(1);
            }
            spool_free(daemon);
            event_base_free(base);
            exit(0);
        }
        /* Hold the lock a moment: the child is waiting meanwhile (or has not come yet). */
        usleep(300000);
        spool_free(sp);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(count_files(f->dir, "queue"), 1);
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "child: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);        \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

typedef int child_fn(struct spool *sp, struct event_base *base);

/*
 * Runs fn in a child with its own loop and spool on the fixture's
 * directory; GATE26_FAULT=fault counts from after spool_open. Then checks
 * that tmp/ is empty and queue/ holds queued files.
 */
static void
run_child(struct fixture *f, const char *fault, child_fn *fn, int queued)
{
    int status;
    pid_t pid = fork();

    assert_true(pid != -1);
    if (pid == 0) {
        struct event_base *base = event_base_new();
        char err[512];
        struct spool *sp;
        int rc;

        sp = base != NULL ? spool_open(f->dir, base, NULL, err, sizeof(err)) : NULL;
        if (sp == NULL)
            exit(2);
        if (setenv("GATE26_FAULT", fault, 1) == -1 || fault_init() == -1)
            exit(3);
        rc = fn(sp, base);
        spool_free(sp);
        event_base_free(base);
        exit(rc);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(count_files(f->dir, "tmp"), 0);
    assert_int_equal(count_files(f->dir, "queue"), queued);
}

/* Runs the loop in the child until want callbacks have come. */
static bool
child_wait(struct event_base *base, size_t want)
{
    return wait_done(base, want) == want;
}

/* n messages with a little content each, committed while the thread is held: one batch. */
static void
commit_batch_of(struct spool *sp, struct done *d, size_t n)
{
    struct spool_envelope env = sample_env();
    struct spool_msg *m;

    spool_commit_hold(sp, true);
    for (size_t i = 0; i < n; i++) {
        if (spool_msg_new(sp, &env, &m) == -1 || spool_msg_write(m, "x\r\n", 3) == -1)
            abort();
        spool_msg_commit(m, on_done, &d[i]);
    }
    spool_commit_hold(sp, false);
}

/* A small message meets its file only on the commit thread: open fails there. */
static int
child_open(struct spool *sp, struct event_base *base)
{
    struct spool_envelope env = sample_env();
    struct done d[2] = {0};
    struct spool_msg *m = NULL;

    for (int i = 0; i < 2; i++) {
        CHECK(spool_msg_new(sp, &env, &m) == 0);
        CHECK(spool_msg_write(m, "Subject: x\r\n\r\nhi\r\n", 18) == 0);
        spool_msg_commit(m, on_done, &d[i]);
        CHECK(child_wait(base, 1));
    }
    /* Only the first open fails. */
    CHECK(d[0].status == -1 && d[0].err == EIO);
    CHECK(!has_file(spool_dir(sp), "tmp", d[0].id) && !has_file(spool_dir(sp), "queue", d[0].id));
    CHECK(d[1].status == 0 && has_file(spool_dir(sp), "queue", d[1].id));
    return 0;
}

static void
test_fault_open(void **state)
{
    run_child(*state, "open:1", child_open, 1);
}

/* A message larger than the write buffer creates its file as the buffer fills. */
static int
child_open_big(struct spool *sp, struct event_base *base)
{
    struct spool_envelope env = sample_env();
    char chunk[1000];
    struct spool_msg *m;
    int failed_at = -1;

    (void)base;
    memset(chunk, 'x', sizeof(chunk));
    CHECK(spool_msg_new(sp, &env, &m) == 0);
    for (int i = 0; i < 100 && failed_at == -1; i++) {
        errno = 0;
        if (spool_msg_write(m, chunk, sizeof(chunk)) == -1) {
            CHECK(errno == EIO);
            failed_at = i;
        }
    }
    CHECK(failed_at > 0 && failed_at < 70);
    spool_msg_abort(m);
    CHECK(count_files(spool_dir(sp), "tmp") == 0);
    return 0;
}

static void
test_fault_open_big(void **state)
{
    run_child(*state, "open:1", child_open_big, 0);
}

static int
child_write_mid(struct spool *sp, struct event_base *base)
{
    struct spool_envelope env = sample_env();
    char chunk[1000];
    struct spool_msg *m;
    int failed_at = -1;

    (void)base;
    memset(chunk, 'x', sizeof(chunk));
    CHECK(spool_msg_new(sp, &env, &m) == 0);
    for (int i = 0; i < 200; i++) {
        errno = 0;
        if (spool_msg_write(m, chunk, sizeof(chunk)) == -1) {
            CHECK(errno == ENOSPC);
            if (failed_at == -1)
                failed_at = i;
        } else {
            /* Sticky: nothing succeeds after the first failure. */
            CHECK(failed_at == -1);
        }
    }
    /* The 2nd write(2): the buffer filled the second time. */
    CHECK(failed_at > 64 && failed_at < 140);
    spool_msg_abort(m);
    CHECK(count_files(spool_dir(sp), "tmp") == 0);
    return 0;
}

static void
test_fault_write_mid_message(void **state)
{
    run_child(*state, "write:2:ENOSPC", child_write_mid, 0);
}

static int
child_write_at_commit(struct spool *sp, struct event_base *base)
{
    struct spool_envelope env = sample_env();
    struct spool_counters c;
    struct done d = {0};
    struct spool_msg *m;

    CHECK(spool_msg_new(sp, &env, &m) == 0);
    CHECK(spool_msg_write(m, "Subject: x\r\n\r\nhi\r\n", 18) == 0);
    spool_msg_commit(m, on_done, &d);
    CHECK(d.calls == 0);
    CHECK(child_wait(base, 1));
    CHECK(d.status == -1 && d.err == EIO);
    spool_get_counters(sp, &c);
    CHECK(c.failed == 1 && c.committed == 0);
    CHECK(!has_file(spool_dir(sp), "tmp", d.id) && !has_file(spool_dir(sp), "queue", d.id));
    return 0;
}

static void
test_fault_write_at_commit(void **state)
{
    run_child(*state, "write:1", child_write_at_commit, 0);
}

static int
child_fsync_one_of_three(struct spool *sp, struct event_base *base)
{
    struct spool_counters c;
    struct done d[3] = {0};
    const char *dir = spool_dir(sp);

    commit_batch_of(sp, d, 3);
    CHECK(child_wait(base, 3));
    CHECK(d[0].status == 0 && d[2].status == 0);
    CHECK(d[1].status == -1 && d[1].err == EIO);
    CHECK(has_file(dir, "queue", d[0].id) && has_file(dir, "queue", d[2].id));
    CHECK(!has_file(dir, "queue", d[1].id) && !has_file(dir, "tmp", d[1].id));
    spool_get_counters(sp, &c);
    CHECK(c.batches == 1 && c.committed == 2 && c.failed == 1 && c.dir_fsyncs == 1);
    return 0;
}

static void
test_fault_fsync_one_of_three(void **state)
{
    /* The batch's syncfs fails, then each file is fsync'd: the 2nd fails. */
    run_child(*state, "syncfs:1,fsync:2", child_fsync_one_of_three, 2);
}

static int
child_rename_one_of_three(struct spool *sp, struct event_base *base)
{
    struct spool_counters c;
    struct done d[3] = {0};
    const char *dir = spool_dir(sp);

    commit_batch_of(sp, d, 3);
    CHECK(child_wait(base, 3));
    CHECK(d[0].status == 0 && d[2].status == 0);
    CHECK(d[1].status == -1 && d[1].err == EIO);
    CHECK(!has_file(dir, "queue", d[1].id) && !has_file(dir, "tmp", d[1].id));
    spool_get_counters(sp, &c);
    CHECK(c.batches == 1 && c.committed == 2 && c.failed == 1);
    return 0;
}

static void
test_fault_rename(void **state)
{
    run_child(*state, "rename:2", child_rename_one_of_three, 2);
}

static int
child_rename_all(struct spool *sp, struct event_base *base)
{
    struct spool_counters c;
    struct done d[2] = {0};

    commit_batch_of(sp, d, 2);
    CHECK(child_wait(base, 2));
    CHECK(d[0].status == -1 && d[1].status == -1);
    spool_get_counters(sp, &c);
    /* Nothing was renamed: no directory fsync either. */
    CHECK(c.failed == 2 && c.dir_fsyncs == 0);
    return 0;
}

static void
test_fault_rename_every(void **state)
{
    run_child(*state, "rename:1+", child_rename_all, 0);
}

static int
child_dir_fsync(struct spool *sp, struct event_base *base)
{
    struct spool_counters c;
    struct done d[3] = {0};

    commit_batch_of(sp, d, 3);
    CHECK(child_wait(base, 3));
    for (int i = 0; i < 3; i++) {
        CHECK(d[i].status == -1 && d[i].err == EIO);
        CHECK(!has_file(spool_dir(sp), "queue", d[i].id));
    }
    CHECK(count_files(spool_dir(sp), "queue") == 0);
    spool_get_counters(sp, &c);
    CHECK(c.batches == 1 && c.committed == 0 && c.failed == 3);
    /* The failed one and the one that tries to make the removals durable. */
    CHECK(c.dir_fsyncs == 2);
    return 0;
}

static void
test_fault_dir_fsync(void **state)
{
    /* One syncfs for the three files, then the fsync of queue/ fails. */
    run_child(*state, "fsync:1", child_dir_fsync, 0);
}

static int
child_syncfs_fallback(struct spool *sp, struct event_base *base)
{
    struct spool_counters c;
    struct done d[3] = {0};

    commit_batch_of(sp, d, 3);
    CHECK(child_wait(base, 3));
    for (int i = 0; i < 3; i++) {
        CHECK(d[i].status == 0);
        CHECK(has_file(spool_dir(sp), "queue", d[i].id));
    }
    spool_get_counters(sp, &c);
    CHECK(c.batches == 1 && c.committed == 3 && c.failed == 0 && c.dir_fsyncs == 1);
    return 0;
}

static void
test_fault_syncfs_falls_back_to_fsync(void **state)
{
    /* The batch's syncfs fails; the fsync of each file succeeds. */
    run_child(*state, "syncfs:1", child_syncfs_fallback, 3);
}

/*
 * A change whose fdatasync fails reports -1 (the scheduler then keeps the
 * message and tries again); the next change of the same file succeeds.
 * Committing the message takes fsync 1 (file) and 2 (queue/); the
 * change's fdatasync is fsync 3.
 */
static int
child_update_fsync(struct spool *sp, struct event_base *base)
{
    struct spool_envelope env = sample_env();
    struct spool_queued *q;
    struct spool_msg *m;
    struct done d = {0}, u1 = {0}, u2 = {0};
    const size_t idx[] = {0};
    const char st[] = {ENVELOPE_RCPT_DONE};
    struct spool_change ch = {.n_rcpts = 1, .rcpt_index = idx, .rcpt_status = st};
    struct spool_change sc = {.set_schedule = true, .attempts = 1, .next_attempt = 42};
    char why[128];

    CHECK(spool_msg_new(sp, &env, &m) == 0);
    CHECK(spool_msg_write(m, "x\r\n", 3) == 0);
    spool_msg_commit(m, on_done, &d);
    CHECK(child_wait(base, 1) && d.status == 0);
    CHECK(spool_queued_open(sp, d.id, &q, why, sizeof(why)) == 0);
    spool_queued_update(sp, q, &ch, on_done, &u1);
    CHECK(child_wait(base, 1));
    CHECK(u1.status == -1 && u1.err == EIO);
    spool_queued_update(sp, q, &sc, on_done, &u2);
    CHECK(child_wait(base, 1) && u2.status == 0);
    spool_queued_close(q);
    return 0;
}

static void
test_fault_update_fsync(void **state)
{
    run_child(*state, "fsync:3", child_update_fsync, 1);
}

#else
/* A build without fault injection lists the fault cases as skipped. */
#define FAULT_SKIP(fn)                                                                             \
    static void fn(void **state)                                                                   \
    {                                                                                              \
        (void)state;                                                                               \
        skip();                                                                                    \
    }
FAULT_SKIP(test_fault_open)
FAULT_SKIP(test_fault_update_fsync)
FAULT_SKIP(test_fault_open_big)
FAULT_SKIP(test_fault_write_mid_message)
FAULT_SKIP(test_fault_write_at_commit)
FAULT_SKIP(test_fault_fsync_one_of_three)
FAULT_SKIP(test_fault_rename)
FAULT_SKIP(test_fault_rename_every)
FAULT_SKIP(test_fault_dir_fsync)
FAULT_SKIP(test_fault_syncfs_falls_back_to_fsync)
#endif

/* ------------------------------------------------- queued messages (the scheduler) */

/* Commits one sample message with content; returns its id in id. */
static void
commit_sample(struct fixture *f, struct spool *sp, char id[SPOOL_ID_LEN + 1], const char *content)
{
    struct spool_envelope env = sample_env();
    struct spool_msg *m;
    struct done d = {0};

    (void)f;
    assert_int_equal(spool_msg_new(sp, &env, &m), 0);
    memcpy(id, spool_msg_id(m), SPOOL_ID_LEN + 1);
    assert_int_equal(spool_msg_write(m, content, strlen(content)), 0);
    spool_msg_commit(m, on_done, &d);
    assert_int_equal(wait_done(f->base, 1), 1);
    assert_int_equal(d.status, 0);
}

static size_t hook_calls;
static char hook_id[SPOOL_ID_LEN + 1];

static bool hook_held;

static void
on_hook(void *arg, const char *id, bool held)
{
    (void)arg;
    hook_calls++;
    hook_held = held;
    memcpy(hook_id, id, sizeof(hook_id));
}

/* A message with a hold reason is committed held: the hook says so, its file too. */
static void
test_commit_held(void **state)
{
    struct fixture *f = *state;
    struct spool *sp = open_spool(f, NULL);
    struct spool_envelope env = sample_env();
    struct spool_queued *q;
    struct spool_msg *m;
    struct done d = {0};
    char id[SPOOL_ID_LEN + 1], why[128];

    hook_calls = 0;
    spool_set_commit_hook(sp, on_hook, NULL);
    commit_sample(f, sp, id, "x\r\n");
    assert_int_equal(hook_calls, 1);
    assert_false(hook_held);
    env.user = "alice";
    env.hold = "alert burst, client 192.0.2.7";
    assert_int_equal(spool_msg_new(sp, &env, &m), 0);
    memcpy(id, spool_msg_id(m), sizeof(id));
    assert_int_equal(spool_msg_write(m, "x\r\n", 3), 0);
    spool_msg_commit(m, on_done, &d);
    assert_int_equal(wait_done(f->base, 1), 1);
    assert_int_equal(d.status, 0);
    assert_int_equal(hook_calls, 2);
    assert_true(hook_held);
    assert_string_equal(hook_id, id);
    if (spool_queued_open(sp, id, &q, why, sizeof(why)) == -1)
        fail_msg("spool_queued_open: %s", why);
    assert_int_equal(q->env.next_attempt, SPOOL_NEXT_HELD);
    assert_string_equal(q->env.user, "alice");
    assert_string_equal(q->env.hold, "alert burst, client 192.0.2.7");
    spool_queued_close(q);
    spool_free(sp);
}

static void
test_queued_update_and_remove(void **state)
{
    struct fixture *f = *state;
    const char *content = "Subject: x\r\n\r\nbody\r\n";
    char id1[SPOOL_ID_LEN + 1], id2[SPOOL_ID_LEN + 1], why[128];
    char(*ids)[SPOOL_ID_LEN + 1];
    struct spool_queued *q;
    struct done d = {0};
    const size_t idx[] = {1};
    const char st[] = {ENVELOPE_RCPT_DONE};
    struct spool_change ch = {.n_rcpts = 1,
                              .rcpt_index = idx,
                              .rcpt_status = st,
                              .set_schedule = true,
                              .attempts = 3,
                              .next_attempt = 1800000000};
    struct spool *sp = open_spool(f, NULL);
    size_t n;

    hook_calls = 0;
    spool_set_commit_hook(sp, on_hook, NULL);
    commit_sample(f, sp, id1, content);
    assert_int_equal(hook_calls, 1);
    assert_string_equal(hook_id, id1);
    commit_sample(f, sp, id2, content);
    assert_int_equal(hook_calls, 2);

    assert_int_equal(spool_queue_list(sp, &ids, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], id1);
    assert_string_equal(ids[1], id2);
    free(ids);

    /* Open: envelope, content offset and length. */
    if (spool_queued_open(sp, id1, &q, why, sizeof(why)) == -1)
        fail_msg("spool_queued_open: %s", why);
    assert_int_equal(q->env.n_rcpts, 2);
    assert_int_equal(q->content_len, strlen(content));
    {
        char buf[64] = "";

        assert_int_equal(pread(q->fd, buf, q->content_len, q->content_off),
                         (ssize_t)strlen(content));
        assert_string_equal(buf, content);
    }
    /* A change: recipient 1 done, attempts 3, next attempt; visible at once and after reopening. */
    spool_queued_update(sp, q, &ch, on_done, &d);
    assert_int_equal(q->env.rcpts[1].status, ENVELOPE_RCPT_DONE);
    assert_int_equal(q->env.attempts, 3);
    spool_queued_close(q); /* before the report: the change has its own descriptor */
    assert_int_equal(wait_done(f->base, 1), 1);
    assert_int_equal(d.status, 0);
    assert_string_equal(d.id, id1);
    if (spool_queued_open(sp, id1, &q, why, sizeof(why)) == -1)
        fail_msg("spool_queued_open: %s", why);
    assert_int_equal(q->env.rcpts[0].status, ENVELOPE_RCPT_PENDING);
    assert_int_equal(q->env.rcpts[1].status, ENVELOPE_RCPT_DONE);
    assert_int_equal(q->env.attempts, 3);
    assert_int_equal(q->env.next_attempt, 1800000000);

    /* Removal: the last recipient fails for good and the file goes. */
    {
        const size_t idx0[] = {0};
        const char fail_st[] = {ENVELOPE_RCPT_FAILED};
        struct spool_change rm = {
            .n_rcpts = 1, .rcpt_index = idx0, .rcpt_status = fail_st, .remove = true};

        spool_queued_update(sp, q, &rm, on_done, &d);
        assert_int_equal(wait_done(f->base, 1), 1);
        assert_int_equal(d.status, 0);
    }
    spool_queued_close(q);
    assert_false(has_file(f->dir, "queue", id1));
    assert_true(has_file(f->dir, "queue", id2));
    assert_int_equal(spool_queued(sp), 1);

    /* Unknown, malformed and forged ids. */
    assert_int_equal(spool_queued_open(sp, id1, &q, why, sizeof(why)), -1);
    assert_int_equal(errno, ENOENT);
    assert_null(q);
    assert_int_equal(spool_queued_open(sp, "../tmp/x", &q, why, sizeof(why)), -1);
    assert_int_equal(errno, EINVAL);
    make_file(f->dir, "queue", "0000000000000001", "gate26-queue 1\nid 0000000000000002\n");
    assert_int_equal(spool_queued_open(sp, "0000000000000001", &q, why, sizeof(why)), -1);
    assert_int_equal(errno, EINVAL);
    spool_free(sp);
}

/*
 * spool_msg_prepend: header lines go in front of the content, before our
 * Received header, whether the message is still in the write buffer, fills
 * it by the prepend, or is already in tmp/ID; the queued file reads back
 * as envelope, lines, content, with nothing else in tmp/.
 */
static void
test_prepend(void **state)
{
    struct fixture *f = *state;
    struct spool *sp = open_spool(f, NULL);
    static const size_t sizes[] = {100, CAP_SPOOL_WRITE_BUF - 300, CAP_SPOOL_WRITE_BUF * 3 + 17};
    const char head[] = "Authentication-Results: gw.test; spf=pass\r\nDKIM-Signature: v=1; a=x\r\n";
    char why[256];

    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        struct spool_envelope env = sample_env();
        size_t n = sizes[k], got_n = 0;
        char *content = xmalloc(n), *got, id[SPOOL_ID_LEN + 1];
        struct spool_queued *q;
        struct spool_msg *m;
        struct done d = {0};

        for (size_t i = 0; i < n; i++)
            content[i] = (char)('a' + (i * 7 + k) % 26);
        memcpy(content, "Received: x\r\n", 13);
        assert_int_equal(spool_msg_new(sp, &env, &m), 0);
        memcpy(id, spool_msg_id(m), sizeof id);
        assert_int_equal(spool_msg_write(m, content, n), 0);
        assert_int_equal(spool_msg_prepend(m, head, strlen(head)), 0);
        assert_int_equal(spool_msg_size(m), n + strlen(head));
        spool_msg_commit(m, on_done, &d);
        assert_int_equal(wait_done(f->base, 1), 1);
        assert_int_equal(d.status, 0);
        if (spool_queued_open(sp, id, &q, why, sizeof why) == -1)
            fail_msg("spool_queued_open: %s", why);
        assert_int_equal(q->content_len, n + strlen(head));
        got = xmalloc(q->content_len);
        assert_int_equal(pread(q->fd, got, q->content_len, q->content_off),
                         (ssize_t)q->content_len);
        assert_memory_equal(got, head, strlen(head));
        assert_memory_equal(got + strlen(head), content, n);
        spool_queued_close(q);
        free(got);
        free(content);
        /* Nothing left in tmp/ (no ID.p). */
        {
            DIR *dir;
            struct dirent *de;
            char path[600];

            (void)snprintf(path, sizeof path, "%s/tmp", f->dir);
            dir = opendir(path);
            assert_non_null(dir);
            while ((de = readdir(dir)) != NULL)
                got_n += de->d_name[0] != '.';
            closedir(dir);
            assert_int_equal(got_n, 0);
        }
    }
    spool_free(sp);
}

/* ------------------------------------------------- editing before the commit (edit.c) */

/* What the content should be: a copy kept beside the message. */
struct model {
    char *p;
    size_t len;
};

/* Octet i of a pattern that tells positions and rows apart. */
static char
pattern(size_t i, unsigned seed)
{
    return (char)('!' + (i * 7 + seed * 13 + i / 251) % 90);
}

/* Content octet where the file's part of the message ends and the buffer's begins (0: none). */
static uint64_t
file_boundary(const struct spool_msg *m)
{
    uint64_t in_file = m->fd == -1 ? 0 : m->env_len + m->size - m->used;

    return in_file > m->env_len ? in_file - m->env_len : 0;
}

/*
 * m's content is the model's: the size, one pread of it all, reads in odd chunks, and reads
 * of 1 and 3 octets at and around every boundary (start, the file/buffer split, the end),
 * past the end and at the largest offset.
 */
static void
assert_content(struct spool_msg *m, const struct model *want)
{
    uint64_t b = file_boundary(m);
    const uint64_t at[] = {0, 1, b - 1, b, b + 1, want->len - 1, want->len, want->len + 1};
    size_t cap = want->len + 64, off = 0;
    char *got = xmalloc(cap);

    assert_int_equal(spool_msg_size(m), want->len);
    assert_int_equal(spool_msg_pread(m, 0, got, cap), (ssize_t)want->len);
    assert_memory_equal(got, want->p, want->len);
    memset(got, 0, cap);
    while (off < want->len) {
        ssize_t n = spool_msg_pread(m, off, got + off, 4093);

        assert_true(n > 0 && (size_t)n <= 4093);
        off += (size_t)n;
    }
    assert_int_equal(off, want->len);
    assert_memory_equal(got, want->p, want->len);
    for (size_t i = 0; i < COUNT(at); i++) {
        for (size_t len = 1; len <= 3; len += 2) {
            uint64_t o = at[i];
            size_t expect = o >= want->len ? 0 : want->len - o < len ? want->len - o : len;

            if (o == UINT64_MAX) /* b - 1 when there is no boundary */
                continue;
            assert_int_equal(spool_msg_pread(m, o, got, len), (ssize_t)expect);
            if (expect > 0)
                assert_memory_equal(got, want->p + o, expect);
        }
    }
    assert_int_equal(spool_msg_pread(m, UINT64_MAX, got, cap), 0);
    assert_int_equal(spool_msg_pread(m, 0, got, 0), 0);
    free(got);
}

/* The model after replacing its first old_len octets with add of the pattern seeded seed. */
static void
model_splice(struct model *md, size_t old_len, const char *add, size_t add_len)
{
    size_t len = md->len - old_len + add_len;
    char *p = xmalloc(len + 1);

    memcpy(p, add, add_len);
    memcpy(p + add_len, md->p + old_len, md->len - old_len);
    free(md->p);
    md->p = p;
    md->len = len;
}

/* Commits m and checks that queue/ID holds exactly the model's content, and tmp/ nothing. */
static void
commit_and_check(struct fixture *f, struct spool *sp, struct spool_msg *m, const struct model *want)
{
    char id[SPOOL_ID_LEN + 1], why[256], *got;
    struct spool_queued *q;
    struct done d = {0};

    memcpy(id, spool_msg_id(m), sizeof id);
    spool_msg_commit(m, on_done, &d);
    assert_int_equal(wait_done(f->base, 1), 1);
    assert_int_equal(d.status, 0);
    if (spool_queued_open(sp, id, &q, why, sizeof why) == -1)
        fail_msg("spool_queued_open: %s", why);
    assert_int_equal(q->content_len, want->len);
    got = xmalloc(want->len + 1);
    assert_int_equal(pread(q->fd, got, want->len + 1, q->content_off), (ssize_t)want->len);
    assert_memory_equal(got, want->p, want->len);
    assert_string_equal(q->env.sender, "alice@example.net");
    spool_queued_close(q);
    free(got);
    assert_int_equal(count_files(f->dir, "tmp"), 0);
}

/* Where a row's message is when the splice comes. */
enum edit_where {
    EDIT_BUFFER,   /* all in the write buffer, no file */
    EDIT_FULL_BUF, /* in the buffer, which it fills but for one octet */
    EDIT_FILE,     /* all in tmp/ID, the buffer empty */
    EDIT_SPLIT,    /* the head in tmp/ID, the tail in the buffer */
};

/* The replaced length or the new length: a number, or relative to the content or the split. */
enum edit_len {
    LEN_N,        /* n */
    LEN_ALL,      /* the whole content (+ n) */
    LEN_PAST_BUF, /* CAP_SPOOL_WRITE_BUF + n */
    LEN_SPLIT,    /* the file/buffer boundary + n */
};

struct edit_row {
    const char *what;
    enum edit_where where;
    size_t size; /* content written (EDIT_BUFFER, EDIT_SPLIT); else derived */
    enum edit_len old_kind;
    size_t old_n;
    enum edit_len new_kind;
    size_t new_n;
    int parts; /* iov buffers the new octets come in */
};

static const struct edit_row edit_rows[] = {
    {"buffer: grow the head", EDIT_BUFFER, 500, LEN_N, 40, LEN_N, 300, 1},
    {"buffer: shrink the head", EDIT_BUFFER, 500, LEN_N, 300, LEN_N, 7, 2},
    {"buffer: prepend (old_len 0)", EDIT_BUFFER, 500, LEN_N, 0, LEN_N, 90, 3},
    {"buffer: nothing for nothing", EDIT_BUFFER, 500, LEN_N, 0, LEN_N, 0, 1},
    {"buffer: no buffers at all", EDIT_BUFFER, 500, LEN_N, 0, LEN_N, 0, 0},
    {"buffer: delete the head", EDIT_BUFFER, 500, LEN_N, 120, LEN_N, 0, 1},
    {"buffer: replace the whole content", EDIT_BUFFER, 500, LEN_ALL, 0, LEN_N, 800, 2},
    {"buffer: empty the content", EDIT_BUFFER, 500, LEN_ALL, 0, LEN_N, 0, 1},
    {"buffer: an empty message gets content", EDIT_BUFFER, 0, LEN_N, 0, LEN_N, 50, 1},
    {"buffer: grown past the buffer", EDIT_BUFFER, 5000, LEN_N, 100, LEN_PAST_BUF, 10, 3},
    {"buffer: grown to exactly the buffer", EDIT_BUFFER, 5000, LEN_N, 0, LEN_ALL, 0, 1},
    {"buffer: whole content past the buffer", EDIT_BUFFER, 5000, LEN_ALL, 0, LEN_PAST_BUF, 3, 2},
    {"full buffer: grow to the last octet", EDIT_FULL_BUF, 0, LEN_N, 10, LEN_N, 11, 1},
    {"full buffer: shrink", EDIT_FULL_BUF, 0, LEN_N, 10, LEN_N, 1, 1},
    {"full buffer: grow past it by one", EDIT_FULL_BUF, 0, LEN_N, 10, LEN_N, 12, 1},
    {"file: grow the head", EDIT_FILE, 0, LEN_N, 40, LEN_N, 300, 1},
    {"file: shrink the head", EDIT_FILE, 0, LEN_N, 300, LEN_N, 7, 2},
    {"file: prepend", EDIT_FILE, 0, LEN_N, 0, LEN_N, 77, 1},
    {"file: replace the whole content", EDIT_FILE, 0, LEN_ALL, 0, LEN_N, 33, 1},
    {"file: empty the content", EDIT_FILE, 0, LEN_ALL, 0, LEN_N, 0, 1},
    {"file: a head larger than the buffer", EDIT_FILE, 0, LEN_N, 9, LEN_PAST_BUF, 1, 2},
    {"split: grow the head", EDIT_SPLIT, 3 * CAP_SPOOL_WRITE_BUF + 17, LEN_N, 40, LEN_N, 300, 1},
    {"split: shrink the head", EDIT_SPLIT, 3 * CAP_SPOOL_WRITE_BUF + 17, LEN_N, 300, LEN_N, 0, 1},
    {"split: up to the boundary", EDIT_SPLIT, 2 * CAP_SPOOL_WRITE_BUF + 999, LEN_SPLIT, 0, LEN_N, 5,
     1},
    {"split: into the buffer", EDIT_SPLIT, 2 * CAP_SPOOL_WRITE_BUF + 999, LEN_SPLIT, 500, LEN_N, 5,
     2},
    {"split: to the last octet", EDIT_SPLIT, 2 * CAP_SPOOL_WRITE_BUF + 999, LEN_ALL, 0, LEN_N, 64,
     1},
    {"split: whole content, larger", EDIT_SPLIT, CAP_SPOOL_WRITE_BUF + 10, LEN_ALL, 0, LEN_PAST_BUF,
     3 * CAP_SPOOL_WRITE_BUF, 3},
};

static size_t
edit_len_of(enum edit_len kind, size_t n, size_t size, uint64_t boundary)
{
    switch (kind) {
    case LEN_N:
        return n;
    case LEN_ALL:
        return size + n;
    case LEN_PAST_BUF:
        return CAP_SPOOL_WRITE_BUF + n;
    case LEN_SPLIT:
        return (size_t)boundary + n;
    }
    return n;
}

/* Writes the row's content in chunks of 1000 (the model gets it too); checks where it is. */
static struct spool_msg *
edit_start(struct spool *sp, const struct edit_row *row, unsigned seed, struct model *md)
{
    struct spool_envelope env = sample_env();
    struct spool_msg *m;
    size_t size = row->size;

    assert_int_equal(spool_msg_new(sp, &env, &m), 0);
    if (row->where == EDIT_FULL_BUF)
        size = CAP_SPOOL_WRITE_BUF - m->env_len - 1; /* a write of one more flushes it */
    if (row->where == EDIT_FILE)
        size = 2 * CAP_SPOOL_WRITE_BUF - m->env_len;
    md->len = size;
    md->p = xmalloc(size + 1);
    for (size_t i = 0; i < size; i++)
        md->p[i] = pattern(i, seed);
    for (size_t off = 0; off < size; off += 1000)
        assert_int_equal(spool_msg_write(m, md->p + off, size - off < 1000 ? size - off : 1000), 0);
    switch (row->where) {
    case EDIT_BUFFER:
        assert_int_equal(m->fd, -1);
        break;
    case EDIT_FULL_BUF:
        assert_int_equal(m->fd, -1);
        assert_int_equal(m->used, CAP_SPOOL_WRITE_BUF - 1);
        break;
    case EDIT_FILE:
        assert_true(m->fd != -1);
        assert_int_equal(m->used, 0);
        break;
    case EDIT_SPLIT:
        assert_true(m->fd != -1);
        assert_true(m->used > 0);
        break;
    }
    return m;
}

/*
 * spool_msg_pread and spool_msg_splice, row by row: the content reads back as the model says
 * before the splice, after it, and after more content is written; the queued file holds
 * exactly the model's content.
 */
static void
test_splice_rows(void **state)
{
    struct fixture *f = *state;
    struct spool *sp = open_spool(f, NULL);

    for (size_t k = 0; k < COUNT(edit_rows); k++) {
        const struct edit_row *row = &edit_rows[k];
        struct model md;
        struct spool_msg *m = edit_start(sp, row, (unsigned)k, &md);
        size_t old_len = edit_len_of(row->old_kind, row->old_n, md.len, file_boundary(m));
        size_t new_len = edit_len_of(row->new_kind, row->new_n, md.len, file_boundary(m));
        char *add = xmalloc(new_len + 1);
        struct iovec iov[3];
        size_t off = 0;

        print_message("row %zu: %s (size %zu, old_len %zu, new %zu)\n", k, row->what, md.len,
                      old_len, new_len);
        assert_true(old_len <= md.len);
        assert_content(m, &md);
        for (size_t i = 0; i < new_len; i++)
            add[i] = (char)('a' + (i + k) % 26);
        for (int i = 0; i < row->parts; i++) {
            size_t take = i == row->parts - 1 ? new_len - off : new_len / (size_t)row->parts;

            iov[i].iov_base = add + off;
            iov[i].iov_len = take;
            off += take;
        }
        assert_int_equal(spool_msg_splice(m, old_len, iov, row->parts), 0);
        model_splice(&md, old_len, add, new_len);
        assert_content(m, &md);
        /* More content after the splice lands after it. */
        assert_int_equal(spool_msg_write(m, "tail\r\n", 6), 0);
        md.p = xrealloc(md.p, md.len + 6);
        memcpy(md.p + md.len, "tail\r\n", 6);
        md.len += 6;
        assert_content(m, &md);
        commit_and_check(f, sp, m, &md);
        free(add);
        free(md.p);
    }
    spool_free(sp);
}

/* Several splices of one message, through the buffer, across it and in the file. */
static void
test_splice_repeated(void **state)
{
    struct fixture *f = *state;
    struct spool *sp = open_spool(f, NULL);
    static const struct {
        size_t old_len, new_len;
    } steps[] = {
        {0, 100},
        {100, 20},
        {5, CAP_SPOOL_WRITE_BUF},
        {CAP_SPOOL_WRITE_BUF + 10, 7},
        {7, 7},
        {0, 3 * CAP_SPOOL_WRITE_BUF},
        {2 * CAP_SPOOL_WRITE_BUF, 1},
    };
    const struct edit_row row = {"", EDIT_BUFFER, 3000, LEN_N, 0, LEN_N, 0, 1};
    struct model md;
    struct spool_msg *m = edit_start(sp, &row, 99, &md);

    for (size_t k = 0; k < COUNT(steps); k++) {
        char *add = xmalloc(steps[k].new_len);
        struct iovec iov = {add, steps[k].new_len};

        for (size_t i = 0; i < steps[k].new_len; i++)
            add[i] = (char)('A' + (i + k) % 26);
        assert_int_equal(spool_msg_splice(m, steps[k].old_len, &iov, 1), 0);
        model_splice(&md, steps[k].old_len, add, steps[k].new_len);
        assert_content(m, &md);
        free(add);
    }
    commit_and_check(f, sp, m, &md);
    free(md.p);
    spool_free(sp);
}

/*
 * An envelope larger than the write buffer: its tail is still in the buffer with the content
 * when the splice comes, and the new tmp/ID gets the whole envelope back.
 */
static void
test_splice_big_envelope(void **state)
{
    struct fixture *f = *state;
    struct spool *sp = open_spool(f, NULL);
    struct spool_envelope env = sample_env();
    static struct spool_rcpt rcpts[300];
    static char addrs[300][CAP_MAILBOX + 1];
    struct model md = {xmalloc(700), 700};
    struct iovec iov = {(void *)"New-Head: 1\r\n", 13};
    struct spool_msg *m;

    for (int i = 0; i < 300; i++) {
        memset(addrs[i], 'x', CAP_MAILBOX);
        (void)snprintf(addrs[i], 16, "u%d@", i);
        addrs[i][strlen(addrs[i])] = 'x';
        addrs[i][CAP_MAILBOX] = '\0';
        rcpts[i] = (struct spool_rcpt){addrs[i], SPOOL_NOTIFY_FAILURE, NULL};
    }
    env.rcpts = rcpts;
    env.n_rcpts = 300;
    assert_int_equal(spool_msg_new(sp, &env, &m), 0);
    assert_true(m->env_len > CAP_SPOOL_WRITE_BUF);
    for (size_t i = 0; i < md.len; i++)
        md.p[i] = pattern(i, 3);
    assert_int_equal(spool_msg_write(m, md.p, md.len), 0);
    assert_true(m->fd != -1 && m->used > md.len); /* the envelope's tail is in the buffer */
    assert_content(m, &md);
    assert_int_equal(spool_msg_splice(m, 20, &iov, 1), 0);
    model_splice(&md, 20, iov.iov_base, iov.iov_len);
    assert_int_equal(m->used, md.len - 13); /* the envelope's tail and 20 octets left it */
    assert_content(m, &md);
    commit_and_check(f, sp, m, &md);
    free(md.p);
    spool_free(sp);
}

/* Refusals that leave the message as it was: old_len past the end, a bad count, too much. */
static void
test_splice_refuses(void **state)
{
    struct fixture *f = *state;
    struct spool *sp = open_spool(f, NULL);
    const struct edit_row row = {"", EDIT_BUFFER, 300, LEN_N, 0, LEN_N, 0, 1};
    struct model md;
    struct spool_msg *m = edit_start(sp, &row, 5, &md);
    static char one[] = "x";
    struct iovec huge[2] = {{one, SIZE_MAX}, {one, 1}}, iov = {one, 1};

    errno = 0;
    assert_int_equal(spool_msg_splice(m, md.len + 1, &iov, 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(spool_msg_splice(m, UINT64_MAX, &iov, 1), -1);
    assert_int_equal(spool_msg_splice(m, 0, &iov, -1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(spool_msg_splice(m, 0, huge, 2), -1);
    assert_int_equal(errno, EINVAL);
    /* Not sticky: the message is intact and can still be edited and queued. */
    assert_content(m, &md);
    assert_int_equal(spool_msg_splice(m, 1, &iov, 1), 0);
    model_splice(&md, 1, one, 1);
    commit_and_check(f, sp, m, &md);
    free(md.p);
    spool_free(sp);
}

#ifdef GATE26_FAULTS
/* A message that is partly in tmp/ID, its content written in 1000-octet chunks. */
static struct spool_msg *
child_split_msg(struct spool *sp, size_t size)
{
    struct spool_envelope env = sample_env();
    char chunk[1000];
    struct spool_msg *m;

    memset(chunk, 'c', sizeof chunk);
    if (spool_msg_new(sp, &env, &m) == -1)
        return NULL;
    for (size_t off = 0; off < size; off += sizeof chunk) {
        if (spool_msg_write(m, chunk, size - off < sizeof chunk ? size - off : sizeof chunk) == -1)
            return NULL;
    }
    return m;
}

/*
 * A splice that fails (the fault in the child's GATE26_FAULT) is sticky: the splice returns
 * -1 with the fault's errno, and so does every later write, read, splice and prepend; the
 * commit reports the failure; nothing is left in tmp/ (no ID.p) or queue/.
 */
static int
child_splice_fails(struct spool *sp, struct event_base *base, size_t size, size_t add_len,
                   int want_err)
{
    struct spool_msg *m = child_split_msg(sp, size);
    char *add = xmalloc(add_len), got[16];
    struct iovec iov = {add, add_len};
    struct done d = {0};

    CHECK(m != NULL);
    memset(add, 'h', add_len);
    errno = 0;
    CHECK(spool_msg_splice(m, 10, &iov, 1) == -1 && errno == want_err);
    free(add);
    CHECK(count_files(spool_dir(sp), "tmp") <= 1); /* tmp/ID at most, never tmp/ID.p */
    errno = 0;
    CHECK(spool_msg_write(m, "x", 1) == -1 && errno == want_err);
    CHECK(spool_msg_pread(m, 0, got, sizeof got) == -1 && errno == want_err);
    CHECK(spool_msg_splice(m, 0, &iov, 0) == -1 && errno == want_err);
    CHECK(spool_msg_prepend(m, "a", 1) == -1 && errno == want_err);
    spool_msg_commit(m, on_done, &d);
    CHECK(child_wait(base, 1));
    CHECK(d.status == -1 && d.err == want_err);
    CHECK(count_files(spool_dir(sp), "tmp") == 0 && count_files(spool_dir(sp), "queue") == 0);
    return 0;
}

/* The file case: 2 buffers written out, then the splice's own first write (tmp/ID.p). */
static int
child_splice_write(struct spool *sp, struct event_base *base)
{
    return child_splice_fails(sp, base, 2 * CAP_SPOOL_WRITE_BUF + 100, 50, ENOSPC);
}

/* The file case: tmp/ID.p is written whole, its rename fails. */
static int
child_splice_rename(struct spool *sp, struct event_base *base)
{
    return child_splice_fails(sp, base, 2 * CAP_SPOOL_WRITE_BUF + 100, 50, EIO);
}

/* The buffer case grown past the buffer: creating tmp/ID fails. */
static int
child_splice_grow_open(struct spool *sp, struct event_base *base)
{
    return child_splice_fails(sp, base, 1000, CAP_SPOOL_WRITE_BUF, EIO);
}

static void
test_fault_splice(void **state)
{
    run_child(*state, "write:3:ENOSPC", child_splice_write, 0);
    run_child(*state, "rename:1", child_splice_rename, 0);
    run_child(*state, "open:1", child_splice_grow_open, 0);
}
#else
FAULT_SKIP(test_fault_splice)
#endif

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xtext_round_trip),
        cmocka_unit_test(test_xtext_decode_refuses),
        cmocka_unit_test(test_envelope_round_trip),
        cmocka_unit_test(test_envelope_flags_and_100_rcpts),
        cmocka_unit_test(test_envelope_user_and_hold),
        cmocka_unit_test(test_envelope_age),
        cmocka_unit_test(test_envelope_encode_refuses),
        cmocka_unit_test(test_envelope_decode_refuses),
        cmocka_unit_test(test_envelope_decode_line_cap),
        cmocka_unit_test(test_envelope_header_cap),
        cmocka_unit_test(test_envelope_in_place_fields),
        cmocka_unit_test(test_ids_increase),
        cmocka_unit_test_setup_teardown(test_commit_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_big_header_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_refuses_bad_envelope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_reports_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_update_and_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_never_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_makes_private, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_second_daemon_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_stale_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_not_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_update_fsync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_open_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_write_mid_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_write_at_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_fsync_one_of_three, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_rename_every, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_dir_fsync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_syncfs_falls_back_to_fsync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_splice_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_splice_repeated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_splice_big_envelope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_splice_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_splice, setup, teardown),
    };

    /* Warnings (the fault cases) stay visible; info lines would only be noise. */
    log_set_level(LOG_LEVEL_WARNING);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
