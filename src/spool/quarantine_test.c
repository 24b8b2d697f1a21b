/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the quarantine (quarantine.c, docs/spool.md "The
 * quarantine"): the record's format and its strict parser (hostile rows),
 * the commit into quarantine/ (never queue/, never announced to the hook),
 * a release byte for byte, a second release, delete, expiry by age, the
 * recovery of a half-done release, and the admin open's lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>
#include <sys/wait.h>
#include <event2/event.h>

#include "lib/fault.h"
#include "lib/log.h"
#include "spool/spool.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define DAY      86400

struct fixture {
    char root[64];
    char dir[128];
    struct event_base *base;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    (void)snprintf(f->root, sizeof(f->root), "/tmp/gate26-quarantine-test-XXXXXX");
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

    (void)nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    event_base_free(f->base);
    free(f);
    return 0;
}

static char *
slurp(const char *dir, const char *sub, const char *name, size_t *len)
{
    char path[256];
    struct stat st;
    char *p;
    int fd;

    (void)snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    fd = open(path, O_RDONLY);
    if (fd == -1)
        return NULL;
    assert_int_equal(fstat(fd, &st), 0);
    p = malloc((size_t)st.st_size + 1);
    assert_non_null(p);
    assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
    (void)close(fd);
    *len = (size_t)st.st_size;
    return p;
}

static bool
has_file(const char *dir, const char *sub, const char *name)
{
    char path[256];

    (void)snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    return access(path, F_OK) == 0;
}

/* ---- the record ---- */

struct qrec_row {
    const char *check, *reason;
    long long at;
    const char *want_reason; /* after set: cut, control octets as '?' */
};

static void
test_qrec_round_trip(void **state)
{
    static char long_reason[600];
    static char long_want[SPOOL_QREC_REASON_MAX + 1];
    const struct qrec_row rows[] = {
        {"spam", "score 12.5 over 6", 1765000000, "score 12.5 over 6"},
        {"dmarc", "", 0, ""},
        {"antivirus", NULL, 9999999999LL, ""},
        {"milter", "a+b=c \"quoted\" 100%", 1, "a+b=c \"quoted\" 100%"},
        /* Hostile: a forged second line, control and 8-bit octets. */
        {"spam", "x\r\ngate26-quarantine 1 0000000000 spam = 0040\n", 5,
         "x??gate26-quarantine 1 0000000000 spam = 0040?"},
        {"milter", "\x01\x7f\xc3\xa9 end", 7, "???? end"},
        {"a-1", "=", 3, "="},
        {"spam", long_reason, 4, long_want},
    };
    char buf[SPOOL_QREC_MAX + 64], why[128];

    (void)state;
    memset(long_reason, '+', sizeof(long_reason) - 1);
    memset(long_want, '+', SPOOL_QREC_REASON_MAX);
    for (size_t i = 0; i < COUNT(rows); i++) {
        struct spool_qrec r, got;
        size_t len, rec_len;

        assert_int_equal(spool_qrec_set(&r, (time_t)rows[i].at, rows[i].check, rows[i].reason), 0);
        assert_string_equal(r.reason, rows[i].want_reason);
        /* Content before it (ending without LF, or with a record-like line) is not its business. */
        memcpy(buf, "xx 0012\n", 8);
        len = spool_qrec_format(buf + 8, &r);
        assert_true(len <= SPOOL_QREC_MAX);
        assert_int_equal(buf[8 + len - 1], '\n');
        assert_null(memchr(buf + 8, '\n', len - 1));
        if (spool_qrec_parse(buf, 8 + len, &got, &rec_len, why, sizeof(why)) == -1)
            fail_msg("row %zu: %s", i, why);
        assert_int_equal(rec_len, len);
        assert_int_equal((long long)got.at, rows[i].at);
        assert_string_equal(got.check, rows[i].check);
        assert_string_equal(got.reason, rows[i].want_reason);
    }
}

static void
test_qrec_bad_check(void **state)
{
    const char *bad[] = {"",  "Spam", "spam ", "sp\nam", "a_b", "123456789012345678901234567890123",
                         NULL};
    struct spool_qrec r;

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++)
        assert_int_equal(spool_qrec_set(&r, 0, bad[i], "x"), -1);
}

static void
test_qrec_parse_refuses(void **state)
{
    /* Each is a whole tail; the length field is right unless the row is about it. */
    const char *rows[] = {
        "",
        "\n",
        "gate26-quarantine 1 1765000000 spam = 0043",      /* no LF */
        "gate26-quarantine 1 1765000000 spam = 0044\n",    /* length too long */
        "gate26-quarantine 1 1765000000 spam = 0042\n",    /* too short */
        "gate26-quarantine 1 1765000000 spam = 003x\n",    /* not digits */
        "gate26-quarantine 1 1765000000 spam =  0044\n",   /* two spaces */
        "gate26-quarantine 2 1765000000 spam = 0043\n",    /* another version */
        "gate26-quarantine 1 176500000 spam = 0042\n",     /* 9-digit time */
        "gate26-quarantine 1 17650000000 spam = 0044\n",   /* 11-digit time */
        "gate26-quarantine 1 1765000x00 spam = 0043\n",    /* time */
        "gate26-quarantine 1 1765000000 Spam = 0043\n",    /* check */
        "gate26-quarantine 1 1765000000 = 0038\n",         /* no check */
        "gate26-quarantine 1 1765000000 spam 0041\n",      /* no reason */
        "gate26-quarantine 1 1765000000 spam a b 0045\n",  /* a space in the reason */
        "gate26-quarantine 1 1765000000 spam a+2a 0046\n", /* lower-case hex */
        "gate26-quarantine 1 1765000000 spam a+41 0046\n", /* +HH for a plain octet */
        "gate26-quarantine 1 1765000000 spam a+0A 0046\n", /* a control octet */
        "gate26-quarantine 1 1765000000 spam a+00 0046\n", /* NUL */
        "gate26-quarantine 1 1765000000 spam a+C3 0046\n", /* 8-bit */
        "gate26-quarantine 1 1765000000 spam a+ 0044\n",   /* cut escape */
        "Gate26-quarantine 1 1765000000 spam = 0043\n",    /* magic */
        "gate26-quarantine 1 1765000000 spam = 9999\n",    /* over SPOOL_QREC_MAX */
        "gate26-quarantine 1 1765000000 spam = 0000\n",
    };
    struct spool_qrec r;
    size_t rec_len;
    char why[128];

    (void)state;
    for (size_t i = 0; i < COUNT(rows); i++) {
        why[0] = '\0';
        if (spool_qrec_parse(rows[i], strlen(rows[i]), &r, &rec_len, why, sizeof(why)) == 0)
            fail_msg("row %zu accepted: %s", i, rows[i]);
        assert_true(why[0] != '\0');
    }
    /* The good one that the rows above spoil. */
    assert_int_equal(spool_qrec_parse("gate26-quarantine 1 1765000000 spam = 0043\n", 43, &r,
                                      &rec_len, why, sizeof(why)),
                     0);
}

/* ---- the spool ---- */

static unsigned hook_calls;
static char hook_id[SPOOL_ID_LEN + 1];
static bool hook_held;

static void
on_hook(void *arg, const char *id, bool held)
{
    (void)arg;
    hook_calls++;
    memcpy(hook_id, id, SPOOL_ID_LEN + 1);
    hook_held = held;
}

struct done {
    unsigned calls;
    int status;
};

static void
on_done(void *arg, const char *id, int status, int err)
{
    struct done *d = arg;

    (void)id;
    (void)err;
    d->calls++;
    d->status = status;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static void
wait_calls(struct event_base *base, const struct done *d, unsigned want)
{
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {0, 100000};

    (void)event_add(tick, &tv);
    for (int i = 0; i < 200 && d->calls < want; i++)
        (void)event_base_loop(base, EVLOOP_ONCE);
    event_free(tick);
    assert_int_equal(d->calls, want);
}

static const struct spool_rcpt rcpts[] = {
    {"bob@example.com", SPOOL_NOTIFY_FAILURE, "rfc822;bob@example.com"},
    {"carol@example.org", 0, NULL},
};

static struct spool_envelope
sample_env(void)
{
    struct spool_envelope env = {
        .sender = "alice@example.net",
        .body = SPOOL_BODY_8BITMIME,
        .rcpts = rcpts,
        .n_rcpts = COUNT(rcpts),
        .door = DOOR_INBOUND,
        .client_addr = "192.0.2.7",
        .client_port = 52114,
        .helo = "mx.example.net",
        .protocol = "ESMTP",
        .arrival = {1712345678, 123456},
    };
    return env;
}

/* Commits a quarantined message of len content octets (a pattern), quarantined at `at`. */
static void
put_quarantined(struct fixture *f, struct spool *sp, size_t len, time_t at, const char *check,
                char id[SPOOL_ID_LEN + 1])
{
    struct spool_envelope env = sample_env();
    struct spool_msg *m;
    struct done d = {0};
    char *content = malloc(len + 1);

    assert_non_null(content);
    for (size_t i = 0; i < len; i++)
        content[i] = i % 64 == 62 ? '\r' : i % 64 == 63 ? '\n' : (char)(i * 13 % 256);
    assert_int_equal(spool_msg_new(sp, &env, &m), 0);
    memcpy(id, spool_msg_id(m), SPOOL_ID_LEN + 1);
    assert_int_equal(spool_msg_write(m, content, len), 0);
    spool_msg_quarantine_at(m, check, "held\tfor a test", at);
    spool_msg_commit(m, on_done, &d);
    wait_calls(f->base, &d, 1);
    assert_int_equal(d.status, 0);
    free(content);
}

/* Runs the loop until sp counts want quarantined messages (at most 20 s). */
static void
wait_count(struct event_base *base, struct spool *sp, size_t want)
{
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {0, 100000};

    (void)event_add(tick, &tv);
    for (int i = 0; i < 200 && spool_quarantine_count(sp) != want; i++)
        (void)event_base_loop(base, EVLOOP_ONCE);
    event_free(tick);
    assert_int_equal(spool_quarantine_count(sp), want);
}

/* What spool_quarantine_start reported, in order. */
struct qdone {
    unsigned calls;
    char id[4][SPOOL_ID_LEN + 1];
    int status[4], err[4];
    char why[4][64];
};

static void
on_qop(void *arg, const char *id, int status, int err, const char *why)
{
    struct qdone *d = arg;

    assert_true(d->calls < 4);
    (void)snprintf(d->id[d->calls], sizeof(d->id[0]), "%s", id);
    d->status[d->calls] = status;
    d->err[d->calls] = err;
    (void)snprintf(d->why[d->calls], sizeof(d->why[0]), "%s", why);
    d->calls++;
}

static struct spool *
open_spool(struct fixture *f)
{
    char err[512];
    struct spool *sp = spool_open(f->dir, f->base, NULL, err, sizeof(err));

    if (sp == NULL)
        fail_msg("spool_open: %s", err);
    spool_set_commit_hook(sp, on_hook, NULL);
    hook_calls = 0;
    return sp;
}

static void
test_commit_and_release(void **state)
{
    struct fixture *f = *state;
    /* Small (the buffer only) and big (tmp/ID written before the commit). */
    const size_t sizes[] = {100, 3 * 1024 * 1024 + 17};

    for (size_t k = 0; k < COUNT(sizes); k++) {
        struct spool *sp = open_spool(f);
        struct spool_quarantined *q;
        char id[SPOOL_ID_LEN + 1], why[256];
        size_t qlen, rlen;
        char *qfile, *rfile;

        put_quarantined(f, sp, sizes[k], 1765000000, "spam", id);
        assert_true(has_file(f->dir, "quarantine", id));
        assert_false(has_file(f->dir, "queue", id));
        assert_false(has_file(f->dir, "tmp", id));
        assert_int_equal(hook_calls, 0); /* never announced */
        assert_int_equal(spool_quarantine_count(sp), 1);
        assert_int_equal(spool_queued(sp), 0);

        assert_int_equal(spool_quarantine_open(sp, id, &q, why, sizeof(why)), 0);
        assert_string_equal(q->env.id, id);
        assert_string_equal(q->env.sender, "alice@example.net");
        assert_int_equal(q->env.n_rcpts, 2);
        assert_int_equal(q->content_len, sizes[k]);
        assert_int_equal((long long)q->rec.at, 1765000000);
        assert_string_equal(q->rec.check, "spam");
        assert_string_equal(q->rec.reason, "held?for a test");
        spool_quarantined_close(q);
        qfile = slurp(f->dir, "quarantine", id, &qlen);
        assert_non_null(qfile);

        assert_int_equal(spool_quarantine_release(sp, id, why, sizeof(why)), 0);
        assert_int_equal(hook_calls, 1);
        assert_string_equal(hook_id, id);
        assert_false(hook_held);
        assert_false(has_file(f->dir, "quarantine", id));
        assert_int_equal(spool_quarantine_count(sp), 0);
        assert_int_equal(spool_queued(sp), 1);
        /* Byte for byte the quarantined file without its record. */
        rfile = slurp(f->dir, "queue", id, &rlen);
        assert_non_null(rfile);
        assert_true(qlen > rlen);
        assert_memory_equal(qfile, rfile, rlen);
        assert_memory_equal(qfile + rlen, "gate26-quarantine 1 1765000000 spam ", 36);
        free(qfile);
        free(rfile);

        /* Twice: nothing there; nor to delete. */
        errno = 0;
        assert_int_equal(spool_quarantine_release(sp, id, why, sizeof(why)), -1);
        assert_int_equal(errno, ENOENT);
        assert_string_equal(why, "no such message in quarantine");
        assert_int_equal(spool_quarantine_delete(sp, id, why, sizeof(why)), -1);
        assert_int_equal(errno, ENOENT);
        assert_int_equal(hook_calls, 1);
        /* Malformed ids. */
        assert_int_equal(spool_quarantine_release(sp, "../queue/x", why, sizeof(why)), -1);
        assert_int_equal(errno, EINVAL);
        assert_int_equal(spool_quarantine_delete(sp, "0662036c76424700", why, sizeof(why)), -1);
        assert_int_equal(errno, EINVAL);
        spool_free(sp);
        /* A restart finds it queued, nothing quarantined. */
        sp = open_spool(f);
        assert_int_equal(spool_queued(sp), 1);
        assert_int_equal(spool_quarantine_count(sp), 0);
        spool_free(sp);
        (void)teardown(state);
        (void)setup(state);
        f = *state;
    }
}

static void
test_delete_and_expire(void **state)
{
    struct fixture *f = *state;
    struct spool *sp = open_spool(f);
    char a[SPOOL_ID_LEN + 1], b[SPOOL_ID_LEN + 1], c[SPOOL_ID_LEN + 1], d[SPOOL_ID_LEN + 1];
    char(*ids)[SPOOL_ID_LEN + 1];
    time_t now = 1765000000;
    struct qdone qd = {0};
    char why[256];
    size_t n;

    put_quarantined(f, sp, 10, now - 40 * DAY, "spam", a);
    put_quarantined(f, sp, 10, now - 30 * DAY, "dmarc", b); /* exactly keep: expired */
    put_quarantined(f, sp, 10, now - 30 * DAY + 1, "milter", c);
    put_quarantined(f, sp, 10, now, "antivirus", d);
    assert_int_equal(spool_quarantine_count(sp), 4);
    assert_int_equal(spool_quarantine_list(sp, &ids, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(ids[0], a);
    assert_string_equal(ids[3], d);
    free(ids);

    assert_int_equal(spool_quarantine_expire(sp, 30 * DAY, now), 2);
    /* On the spool's thread: counted when reported. */
    wait_count(f->base, sp, 2);
    assert_false(has_file(f->dir, "quarantine", a));
    assert_false(has_file(f->dir, "quarantine", b));
    assert_true(has_file(f->dir, "quarantine", c));
    assert_int_equal(spool_quarantine_count(sp), 2);
    assert_int_equal(spool_quarantine_expire(sp, 30 * DAY, now), 0);
    /* An expiry and a delete of the same message: one finds nothing, the count stays right. */
    assert_int_equal(spool_quarantine_expire(sp, 0, now + 1), 2);
    spool_quarantine_start(sp, SPOOL_QOP_DELETE, c, on_qop, &qd);
    wait_count(f->base, sp, 0);
    for (int i = 0; i < 50 && qd.calls < 1; i++)
        (void)event_base_loop(f->base, EVLOOP_ONCE);
    assert_int_equal(qd.calls, 1);
    assert_int_equal(qd.status[0], -1);
    assert_int_equal(qd.err[0], ENOENT);
    assert_false(has_file(f->dir, "quarantine", d));
    put_quarantined(f, sp, 10, now, "antivirus", d);
    assert_int_equal(spool_quarantine_count(sp), 1);
    put_quarantined(f, sp, 10, now, "antivirus", c);
    assert_int_equal(spool_quarantine_delete(sp, d, why, sizeof(why)), 0);
    assert_int_equal(spool_quarantine_count(sp), 1);
    assert_int_equal(hook_calls, 0);
    assert_int_equal(spool_queued(sp), 0);
    spool_free(sp);
    sp = open_spool(f);
    assert_int_equal(spool_quarantine_count(sp), 1);
    spool_free(sp);
}

/* The daemon's way: on the spool's thread, in order; the second release finds nothing. */
static void
test_release_on_thread(void **state)
{
    struct fixture *f = *state;
    struct spool *sp = open_spool(f);
    char a[SPOOL_ID_LEN + 1], b[SPOOL_ID_LEN + 1];
    struct qdone d = {0};
    size_t len;
    char *file;

    put_quarantined(f, sp, 5000, 1765000000, "milter", a);
    put_quarantined(f, sp, 10, 1765000000, "spam", b);
    spool_quarantine_start(sp, SPOOL_QOP_RELEASE, a, on_qop, &d);
    spool_quarantine_start(sp, SPOOL_QOP_RELEASE, a, on_qop, &d);
    spool_quarantine_start(sp, SPOOL_QOP_DELETE, b, on_qop, &d);
    spool_quarantine_start(sp, SPOOL_QOP_RELEASE, "not-an-id", on_qop, &d);
    assert_int_equal(d.calls, 0); /* never from inside the call */
    wait_count(f->base, sp, 0);
    for (int i = 0; i < 50 && d.calls < 4; i++)
        (void)event_base_loop(f->base, EVLOOP_ONCE);
    assert_int_equal(d.calls, 4);
    assert_string_equal(d.id[0], a);
    assert_int_equal(d.status[0], 0);
    assert_int_equal(d.status[1], -1);
    assert_int_equal(d.err[1], ENOENT);
    assert_string_equal(d.why[1], "no such message in quarantine");
    assert_string_equal(d.id[2], b);
    assert_int_equal(d.status[2], 0);
    assert_int_equal(d.status[3], -1);
    assert_int_equal(d.err[3], EINVAL);
    assert_int_equal(hook_calls, 1);
    assert_string_equal(hook_id, a);
    assert_int_equal(spool_queued(sp), 1);
    file = slurp(f->dir, "queue", a, &len);
    assert_non_null(file);
    assert_null(memmem(file, len, "gate26-quarantine", 17));
    free(file);
    assert_false(has_file(f->dir, "quarantine", b));
    /* A job still in flight at spool_free is reported from inside it. */
    put_quarantined(f, sp, 10, 1765000000, "spam", b);
    memset(&d, 0, sizeof(d));
    spool_quarantine_start(sp, SPOOL_QOP_DELETE, b, on_qop, &d);
    spool_free(sp);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status[0], 0);
    assert_false(has_file(f->dir, "quarantine", b));
}

/* A crash after a release's rename into queue/: the next open finishes it. */
static void
test_recovery(void **state)
{
    struct fixture *f = *state;
    struct spool *sp = open_spool(f);
    char id[SPOOL_ID_LEN + 1], path[256], path2[256];
    int fd;

    put_quarantined(f, sp, 50, 1765000000, "spam", id);
    spool_free(sp);
    (void)snprintf(path, sizeof(path), "%s/queue/%s", f->dir, id);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600); /* the copy, already renamed */
    assert_true(fd != -1);
    (void)close(fd);
    (void)snprintf(path2, sizeof(path2), "%s/tmp/%s.r", f->dir, id); /* and a stale copy */
    fd = open(path2, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd != -1);
    (void)close(fd);
    sp = open_spool(f);
    assert_false(has_file(f->dir, "quarantine", id));
    assert_true(has_file(f->dir, "queue", id));
    assert_int_equal(access(path2, F_OK), -1);
    assert_int_equal(spool_quarantine_count(sp), 0);
    spool_free(sp);
}

static int
count_files(const char *dir, const char *sub)
{
    char path[256];
    struct dirent *de;
    int n = 0;
    DIR *d;

    (void)snprintf(path, sizeof(path), "%s/%s", dir, sub);
    d = opendir(path);
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    (void)closedir(d);
    return n;
}

/*
 * A release that fails at each of its steps (GATE26_FAULT, in a child that
 * opens the spool as `gate26 quarantine` does without a daemon) leaves the
 * message whole in quarantine/ and nothing in queue/ or tmp/; a failure
 * after the rename's fsync is a release done (the next open would finish the
 * unlink).
 */
static void
test_release_faults(void **state)
{
    struct fixture *f = *state;
    const struct {
        const char *fault;
        int rc, quarantined, queued;
    } rows[] = {
        {"open:1", -1, 1, 0},   /* quarantine/ID */
        {"open:2", -1, 1, 0},   /* tmp/ID.r */
        {"fsync:1", -1, 1, 0},  /* the copy */
        {"rename:1", -1, 1, 0}, /* into queue/ */
        {"fsync:2", -1, 1, 0},  /* queue/: the copy is taken out again */
        {"fsync:3", 0, 0, 1},   /* quarantine/ after the unlink: released all the same */
    };
    char id[SPOOL_ID_LEN + 1], why[256];
    struct spool *sp;

    for (size_t i = 0; i < COUNT(rows); i++) {
        int status;
        pid_t pid;

        sp = open_spool(f);
        put_quarantined(f, sp, 100, 1765000000, "spam", id);
        spool_free(sp);
        pid = fork();
        assert_true(pid != -1);
        if (pid == 0) {
            char err[512], cwhy[256];
            struct spool *admin = spool_open_admin(f->dir, err, sizeof(err));

            if (admin == NULL || setenv("GATE26_FAULT", rows[i].fault, 1) == -1 ||
                fault_init() == -1)
                exit(3);
            status = spool_quarantine_release(admin, id, cwhy, sizeof(cwhy));
            spool_free(admin);
            exit(status == rows[i].rc ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != 0)
            fail_msg("%s: exit %d", rows[i].fault, WEXITSTATUS(status));
        assert_int_equal(count_files(f->dir, "tmp"), 0);
        assert_int_equal(count_files(f->dir, "quarantine"), rows[i].quarantined);
        assert_int_equal(count_files(f->dir, "queue"), rows[i].queued);
        /* Clean up for the next row. */
        sp = open_spool(f);
        if (rows[i].quarantined)
            assert_int_equal(spool_quarantine_delete(sp, id, why, sizeof(why)), 0);
        spool_free(sp);
        if (rows[i].queued) {
            char path[256];

            (void)snprintf(path, sizeof(path), "%s/queue/%s", f->dir, id);
            assert_int_equal(unlink(path), 0);
        }
    }
}

/* A quarantined commit that fails (the record's write, the fsync of quarantine/) leaves nothing. */
static void
test_commit_faults(void **state)
{
    struct fixture *f = *state;
    const char *faults[] = {"write:1", "write:2", "fsync:1", "fsync:2", "rename:1"};

    for (size_t i = 0; i < COUNT(faults); i++) {
        int status;
        pid_t pid = fork();

        assert_true(pid != -1);
        if (pid == 0) {
            struct spool_envelope env = sample_env();
            struct spool *sp = open_spool(f);
            struct spool_msg *m;
            struct done d = {0};

            if (setenv("GATE26_FAULT", faults[i], 1) == -1 || fault_init() == -1 ||
                spool_msg_new(sp, &env, &m) == -1 || spool_msg_write(m, "x\r\n", 3) == -1)
                exit(3);
            spool_msg_quarantine(m, "spam", "a fault");
            spool_msg_commit(m, on_done, &d);
            for (int k = 0; k < 100 && d.calls == 0; k++)
                (void)event_base_loop(f->base, EVLOOP_ONCE);
            status = d.calls == 1 && d.status == -1 && spool_quarantine_count(sp) == 0 ? 0 : 1;
            spool_free(sp);
            exit(status);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != 0)
            fail_msg("%s: exit %d", faults[i], WEXITSTATUS(status));
        assert_int_equal(count_files(f->dir, "tmp"), 0);
        assert_int_equal(count_files(f->dir, "quarantine"), 0);
        assert_int_equal(count_files(f->dir, "queue"), 0);
    }
}

/* The admin open (release without a daemon) never runs beside a daemon. */
static void
test_admin_lock(void **state)
{
    struct fixture *f = *state;
    struct spool *sp = open_spool(f), *admin;
    char id[SPOOL_ID_LEN + 1], err[512], why[256];

    put_quarantined(f, sp, 10, 1765000000, "spam", id);
    errno = 0;
    assert_null(spool_open_admin(f->dir, err, sizeof(err)));
    assert_int_equal(errno, EWOULDBLOCK);
    spool_free(sp);
    admin = spool_open_admin(f->dir, err, sizeof(err));
    if (admin == NULL)
        fail_msg("spool_open_admin: %s", err);
    assert_int_equal(spool_quarantine_release(admin, id, why, sizeof(why)), 0);
    assert_true(has_file(f->dir, "queue", id));
    spool_free(admin);
    assert_null(spool_open_admin("/nonexistent/gate26-spool", err, sizeof(err)));
    assert_int_equal(errno, ENOENT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qrec_round_trip),
        cmocka_unit_test(test_qrec_bad_check),
        cmocka_unit_test(test_qrec_parse_refuses),
        cmocka_unit_test_setup_teardown(test_commit_and_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_and_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_on_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_faults, setup, teardown),
    };

    log_set_level(LOG_LEVEL_WARNING);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
