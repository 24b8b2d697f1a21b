/* SPDX-License-Identifier: MIT */
/*
 * The quarantine (docs/spool.md, "The quarantine"): a message a content
 * check held is committed like any other (commit.c) but renamed into
 * SPOOL/quarantine/ID, with one record line appended after its content:
 *
 *   gate26-quarantine 1 TTTTTTTTTT CHECK REASON LLLL LF
 *
 * (the time of quarantine in seconds since the epoch, the check's name,
 * the reason as xtext or "=", and the record's own length in 4 digits, so
 * that it is found from the end of the file). The queue's envelope parser
 * never sees it: a release copies everything before it to tmp/, fsyncs,
 * renames into queue/ (RENAME_NOREPLACE), fsyncs queue/, and only then
 * unlinks quarantine/ID. A crash between the two leaves the message in both
 * directories: spool_open finishes the release (the copy in queue/ is
 * complete, since it was renamed there only after its fsync).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fault.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "spool/envelope.h"
#include "spool/id.h"
#include "spool/spool_impl.h"
#include "spool/xtext.h"

#define QREC_MAGIC       "gate26-quarantine 1 "
#define QREC_MAGIC_LEN   (sizeof(QREC_MAGIC) - 1)
#define QREC_TEMP_SUFFIX ".r"

static bool
qrec_is_check(const char *s, size_t len)
{
    if (len == 0 || len > SPOOL_QREC_CHECK_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

int
spool_qrec_set(struct spool_qrec *r, time_t at, const char *check, const char *reason)
{
    size_t i, len;

    memset(r, 0, sizeof(*r));
    if (check == NULL || !qrec_is_check(check, strlen(check)))
        return -1;
    memcpy(r->check, check, strlen(check) + 1);
    /* The record's field holds 10 digits. */
    r->at = at < 0 ? 0 : at > (time_t)9999999999LL ? (time_t)9999999999LL : at;
    if (reason == NULL)
        reason = "";
    len = strlen(reason);
    if (len > SPOOL_QREC_REASON_MAX)
        len = SPOOL_QREC_REASON_MAX;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)reason[i];

        r->reason[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    r->reason[len] = '\0';
    return 0;
}

size_t
spool_qrec_format(char *out, const struct spool_qrec *r)
{
    size_t n, rlen = strlen(r->reason);
    int w;

    memcpy(out, QREC_MAGIC, QREC_MAGIC_LEN);
    n = QREC_MAGIC_LEN;
    w = snprintf(out + n, SPOOL_QREC_MAX - n, "%010lld %s ", (long long)r->at, r->check);
    n += (size_t)w;
    if (rlen == 0)
        out[n++] = '=';
    else
        n += xtext_encode(out + n, r->reason, rlen);
    /* " LLLL\n": the record's whole length, this included. */
    w = snprintf(out + n, SPOOL_QREC_MAX - n, " %04zu\n", n + 6);
    return n + (size_t)w;
}

/* A field of the record: the octets up to the next space (or the end), at least one. */
static bool
qrec_field(const char **p, const char *end, const char **f, size_t *flen)
{
    const char *sp = memchr(*p, ' ', (size_t)(end - *p));

    if (sp == NULL)
        sp = end;
    *f = *p;
    *flen = (size_t)(sp - *p);
    *p = sp < end ? sp + 1 : end;
    return *flen > 0;
}

int
spool_qrec_parse(const char *p, size_t len, struct spool_qrec *out, size_t *rec_len, char *why,
                 size_t whycap)
{
    const char *rec, *end, *f;
    size_t l = 0, flen;
    long long t = 0;
    long dec;
    char reason[SPOOL_QREC_MAX];

    memset(out, 0, sizeof(*out));
    /* " LLLL\n" ends it. */
    if (len < QREC_MAGIC_LEN + 6 || p[len - 1] != '\n' || p[len - 6] != ' ') {
        (void)str_fmt(why, whycap, "no quarantine record at the end");
        return -1;
    }
    for (size_t i = len - 5; i < len - 1; i++) {
        if (p[i] < '0' || p[i] > '9') {
            (void)str_fmt(why, whycap, "no quarantine record at the end");
            return -1;
        }
        l = l * 10 + (size_t)(p[i] - '0');
    }
    if (l > len || l < QREC_MAGIC_LEN + 6 || l > SPOOL_QREC_MAX) {
        (void)str_fmt(why, whycap, "quarantine record: bad length %zu", l);
        return -1;
    }
    rec = p + len - l;
    end = p + len - 6;
    if (memcmp(rec, QREC_MAGIC, QREC_MAGIC_LEN) != 0) {
        (void)str_fmt(why, whycap, "quarantine record: bad magic");
        return -1;
    }
    rec += QREC_MAGIC_LEN;
    /* The time: exactly 10 digits. */
    if (!qrec_field(&rec, end, &f, &flen) || flen != 10) {
        (void)str_fmt(why, whycap, "quarantine record: bad time");
        return -1;
    }
    for (size_t i = 0; i < flen; i++) {
        if (f[i] < '0' || f[i] > '9') {
            (void)str_fmt(why, whycap, "quarantine record: bad time");
            return -1;
        }
        t = t * 10 + (f[i] - '0');
    }
    out->at = (time_t)t;
    if (!qrec_field(&rec, end, &f, &flen) || !qrec_is_check(f, flen)) {
        (void)str_fmt(why, whycap, "quarantine record: bad check");
        return -1;
    }
    memcpy(out->check, f, flen);
    out->check[flen] = '\0';
    /* The reason is the last field: it must end exactly at " LLLL". */
    if (!qrec_field(&rec, end, &f, &flen) || rec != end || f + flen != end) {
        (void)str_fmt(why, whycap, "quarantine record: bad reason");
        return -1;
    }
    if (flen == 1 && f[0] == '=') {
        out->reason[0] = '\0';
    } else {
        dec = xtext_decode(reason, f, flen);
        if (dec <= 0 || (size_t)dec > SPOOL_QREC_REASON_MAX) {
            (void)str_fmt(why, whycap, "quarantine record: bad reason");
            return -1;
        }
        for (long i = 0; i < dec; i++) {
            unsigned char c = (unsigned char)reason[i];

            if (c < 0x20 || c >= 0x7f) {
                (void)str_fmt(why, whycap, "quarantine record: bad reason");
                return -1;
            }
        }
        memcpy(out->reason, reason, (size_t)dec + 1);
    }
    *rec_len = l;
    return 0;
}

void
spool_msg_quarantine_at(struct spool_msg *m, const char *check, const char *reason, time_t at)
{
    struct spool_qrec r;

    if (spool_qrec_set(&r, at, check, reason) == -1)
        log_panic("%s: spool_msg_quarantine: bad check name", m->id);
    free(m->qrec);
    m->qrec = xmalloc(SPOOL_QREC_MAX);
    m->qrec_len = spool_qrec_format(m->qrec, &r);
    m->quarantine = true;
}

void
spool_msg_quarantine(struct spool_msg *m, const char *check, const char *reason)
{
    spool_msg_quarantine_at(m, check, reason, time(NULL));
}

/* ---- Reading ---- */

static int
quarantine_id_ok(const char *id, char *why, size_t whycap)
{
    if (!spool_id_is_valid(id, strlen(id))) {
        (void)str_fmt(why, whycap, "not a queue id (16 upper-case hex digits)");
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int
spool_quarantine_list(struct spool *sp, char (**ids)[SPOOL_ID_LEN + 1], size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (sp->quarantine_fd == -1)
        return 0;
    return spool_list_ids(sp->quarantine_fd, ids, n);
}

void
spool_quarantined_close(struct spool_quarantined *q)
{
    if (q == NULL)
        return;
    if (q->fd != -1)
        (void)close(q->fd);
    envelope_clear(&q->env);
    free(q);
}

/* Reads the record at the end of the file open on fd (size octets). */
static int
quarantine_read_rec(int fd, uint64_t size, struct spool_qrec *rec, size_t *rec_len, char *why,
                    size_t whycap)
{
    char tail[SPOOL_QREC_MAX];
    size_t want = size < SPOOL_QREC_MAX ? (size_t)size : SPOOL_QREC_MAX;
    size_t got = 0;

    while (got < want) {
        ssize_t n = pread(fd, tail + got, want - got, (off_t)(size - want + got));

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0) {
            (void)str_fmt(why, whycap, "read: %s", n == 0 ? "short file" : strerror(errno));
            return -1;
        }
        got += (size_t)n;
    }
    return spool_qrec_parse(tail, want, rec, rec_len, why, whycap);
}

int
spool_quarantine_open(struct spool *sp, const char *id, struct spool_quarantined **out, char *why,
                      size_t whycap)
{
    struct spool_quarantined *q;
    struct stat st;
    size_t rec_len;
    int fd, e;

    *out = NULL;
    if (quarantine_id_ok(id, why, whycap) == -1)
        return -1;
    if (sp->quarantine_fd == -1) {
        (void)str_fmt(why, whycap, "no such message in quarantine");
        errno = ENOENT;
        return -1;
    }
    fd = fault_hit(FAULT_OPEN) ? -1
                               : openat(sp->quarantine_fd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd == -1 || fstat(fd, &st) == -1) {
        e = errno;
        if (e == ENOENT)
            (void)str_fmt(why, whycap, "no such message in quarantine");
        else
            (void)str_fmt(why, whycap, "open: %s", strerror(e));
        if (fd != -1)
            (void)close(fd);
        errno = e;
        return -1;
    }
    q = xcalloc(1, sizeof(*q));
    q->fd = fd;
    if (envelope_read(fd, &q->env, why, whycap) == -1) {
        (void)close(fd);
        free(q);
        errno = EINVAL;
        return -1;
    }
    if (quarantine_read_rec(fd, (uint64_t)st.st_size, &q->rec, &rec_len, why, whycap) == -1) {
        spool_quarantined_close(q);
        errno = EINVAL;
        return -1;
    }
    if (strcmp(q->env.id, id) != 0 ||
        (uint64_t)st.st_size < (uint64_t)q->env.header_len + rec_len) {
        (void)str_fmt(why, whycap, "the id record says %s", q->env.id);
        spool_quarantined_close(q);
        errno = EINVAL;
        return -1;
    }
    q->content_off = (off_t)q->env.header_len;
    q->content_len = (uint64_t)st.st_size - rec_len - q->env.header_len;
    *out = q;
    return 0;
}

size_t
spool_quarantine_count(const struct spool *sp)
{
    return sp->quarantined;
}

/* ---- Changing ---- */

static int
quarantine_fsync(int fd)
{
    if (fault_hit(FAULT_FSYNC))
        return -1;
    return fsync(fd);
}

/* Copies len octets of from (from offset 0) to to, in the kernel where it can. */
static int
quarantine_copy(int from, int to, uint64_t len)
{
    loff_t in = 0, out = 0;
    char buf[65536];

    while (len > 0) {
        size_t take = len > (1u << 30) ? (1u << 30) : (size_t)len;
        ssize_t n = copy_file_range(from, &in, to, &out, take, 0);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 &&
            (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP))
            break;
        if (n == -1)
            return -1;
        if (n == 0) {
            errno = EIO; /* the file is shorter than its stat said */
            return -1;
        }
        len -= (uint64_t)n;
    }
    /* The fallback: read and write. */
    while (len > 0) {
        size_t take = len > sizeof(buf) ? sizeof(buf) : (size_t)len;
        ssize_t n = pread(from, buf, take, in);

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        if (fault_hit(FAULT_WRITE)) {
            errno = EIO;
            return -1;
        }
        if (pwrite(to, buf, (size_t)n, out) != n) {
            if (errno == 0)
                errno = EIO;
            return -1;
        }
        in += n;
        out += n;
        len -= (uint64_t)n;
    }
    return 0;
}

/* Writes the message of q without its record to tmp/ID.r and makes it durable. */
static int
quarantine_copy_out(struct spool *sp, const struct spool_quarantined *q, const char *tmp_name,
                    char *why, size_t whycap)
{
    uint64_t len = (uint64_t)q->content_off + q->content_len;
    struct stat st;
    int fd, e;

    (void)unlinkat(sp->tmp_fd, tmp_name, 0);
    fd = fault_hit(FAULT_OPEN)
             ? -1
             : openat(sp->tmp_fd, tmp_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1) {
        (void)str_fmt(why, whycap, "open tmp/%s: %s", tmp_name, strerror(errno));
        return -1;
    }
    /* The owner the quarantined file had (the gateway's user, also when root releases it). */
    if (fstat(q->fd, &st) == -1 || fchown(fd, st.st_uid, st.st_gid) == -1 ||
        quarantine_copy(q->fd, fd, len) == -1 || quarantine_fsync(fd) == -1) {
        e = errno;
        (void)str_fmt(why, whycap, "copy to tmp/%s: %s", tmp_name, strerror(e));
        (void)close(fd);
        (void)unlinkat(sp->tmp_fd, tmp_name, 0);
        errno = e;
        return -1;
    }
    (void)close(fd);
    return 0;
}

/* Removes quarantine/ID and makes that durable (any thread). Returns 0, or -1 with why. */
static int
quarantine_unlink(struct spool *sp, const char *id, char *why, size_t whycap)
{
    int e;

    if (unlinkat(sp->quarantine_fd, id, 0) == -1) {
        e = errno;
        if (e == ENOENT)
            (void)str_fmt(why, whycap, "no such message in quarantine");
        else
            (void)str_fmt(why, whycap, "unlink quarantine/%s: %s", id, strerror(e));
        errno = e;
        return -1;
    }
    if (quarantine_fsync(sp->quarantine_fd) == -1) {
        e = errno;
        (void)str_fmt(why, whycap, "fsync quarantine/: %s", strerror(e));
        errno = e;
        return -1;
    }
    return 0;
}

/*
 * The file work of a release (any thread; nothing of sp but its descriptors).
 * Returns 0 with whether the message is held and its check, or -1 with errno
 * and why.
 */
static int
quarantine_release_files(struct spool *sp, const char *id, bool *held,
                         char check[SPOOL_QREC_CHECK_MAX + 1], char *why, size_t whycap)
{
    struct spool_quarantined *q;
    char tmp_name[SPOOL_ID_LEN + sizeof(QREC_TEMP_SUFFIX)], more[256];
    int e;

    if (spool_quarantine_open(sp, id, &q, why, whycap) == -1)
        return -1;
    (void)str_fmt(tmp_name, sizeof(tmp_name), "%s%s", id, QREC_TEMP_SUFFIX);
    if (quarantine_copy_out(sp, q, tmp_name, why, whycap) == -1) {
        e = errno;
        spool_quarantined_close(q);
        errno = e;
        return -1;
    }
    *held = q->env.next_attempt == SPOOL_NEXT_HELD;
    memcpy(check, q->rec.check, SPOOL_QREC_CHECK_MAX + 1);
    spool_quarantined_close(q);
    /* NOREPLACE: a message already in queue/ under this id is never taken over. */
    if (fault_hit(FAULT_RENAME) ||
        renameat2(sp->tmp_fd, tmp_name, sp->queue_fd, id, RENAME_NOREPLACE) == -1) {
        e = errno;
        (void)str_fmt(why, whycap, "rename into queue/: %s", strerror(e));
        (void)unlinkat(sp->tmp_fd, tmp_name, 0);
        errno = e;
        return -1;
    }
    if (quarantine_fsync(sp->queue_fd) == -1) {
        e = errno;
        /* Not known to be in queue/: take it back out, the quarantined file stays. */
        (void)unlinkat(sp->queue_fd, id, 0);
        (void)quarantine_fsync(sp->queue_fd);
        (void)str_fmt(why, whycap, "fsync queue/: %s", strerror(e));
        errno = e;
        return -1;
    }
    /*
     * From here the message is in queue/ for good. A failure to remove the
     * quarantined copy is finished by the next spool_open (the id is in both).
     */
    if (quarantine_unlink(sp, id, more, sizeof(more)) == -1)
        log_warning("%s: event=quarantine-release, warning=\"%s (finished at the next start)\"", id,
                    more);
    return 0;
}

void
spool_set_quarantine_hook(struct spool *sp, spool_qhook_fn *fn, void *arg)
{
    sp->qhook = fn;
    sp->qhook_arg = arg;
}

/* Tells the quarantine hook (tracking) of a message's end in the quarantine. */
static void
quarantine_tell(struct spool *sp, const char *id, enum spool_qop op, const char *check)
{
    if (sp->qhook != NULL)
        sp->qhook(sp->qhook_arg, id, op, check != NULL ? check : "");
}

/* A release's end, on the loop: counted, logged, and the scheduler told. */
static void
quarantine_released(struct spool *sp, const char *id, bool held, const char *check)
{
    if (sp->quarantined > 0)
        sp->quarantined--;
    sp->q_released++;
    log_info("%s: event=quarantine-release, check=%s", id, check);
    quarantine_tell(sp, id, SPOOL_QOP_RELEASE, check);
    if (sp->hook != NULL)
        sp->hook(sp->hook_arg, id, held);
}

int
spool_quarantine_release(struct spool *sp, const char *id, char *why, size_t whycap)
{
    char check[SPOOL_QREC_CHECK_MAX + 1];
    bool held;

    if (quarantine_release_files(sp, id, &held, check, why, whycap) == -1)
        return -1;
    quarantine_released(sp, id, held, check);
    return 0;
}

static int
quarantine_delete_files(struct spool *sp, const char *id, char *why, size_t whycap)
{
    if (quarantine_id_ok(id, why, whycap) == -1)
        return -1;
    if (sp->quarantine_fd == -1) {
        (void)str_fmt(why, whycap, "no such message in quarantine");
        errno = ENOENT;
        return -1;
    }
    return quarantine_unlink(sp, id, why, whycap);
}

int
spool_quarantine_delete(struct spool *sp, const char *id, char *why, size_t whycap)
{
    if (quarantine_delete_files(sp, id, why, whycap) == -1)
        return -1;
    if (sp->quarantined > 0)
        sp->quarantined--;
    log_info("%s: event=quarantine-delete", id);
    quarantine_tell(sp, id, SPOOL_QOP_DELETE, NULL);
    return 0;
}

/* ---- On the spool's thread (the daemon) ---- */

static void
quarantine_queue_job(struct spool *sp, struct spool_qjob *j)
{
    pthread_mutex_lock(&sp->lock);
    *sp->qtodo_tail = j;
    sp->qtodo_tail = &j->next;
    pthread_cond_signal(&sp->wake);
    pthread_mutex_unlock(&sp->lock);
}

void
spool_quarantine_start(struct spool *sp, enum spool_qop op, const char *id, spool_qop_fn *fn,
                       void *arg)
{
    struct spool_qjob *j = xcalloc(1, sizeof(*j));

    if (sp->reader || sp->admin)
        log_panic("spool_quarantine_start on a spool without its thread");
    j->op = op;
    (void)str_copyz(j->id, sizeof(j->id),
                    id); /* a longer one is not an id: refused on the thread */
    j->fn = fn;
    j->arg = arg;
    quarantine_queue_job(sp, j);
}

void
spool_qjob_run(struct spool *sp, struct spool_qjob *list)
{
    for (struct spool_qjob *j = list; j != NULL; j = j->next) {
        int rc =
            j->op == SPOOL_QOP_RELEASE
                ? quarantine_release_files(sp, j->id, &j->held, j->check, j->why, sizeof(j->why))
                : quarantine_delete_files(sp, j->id, j->why, sizeof(j->why));

        j->status = rc;
        j->err = rc == -1 ? errno : 0;
    }
}

/* "31d2h", "5h3m", "42s" */
static void
quarantine_age(char *out, size_t cap, long long secs)
{
    if (secs >= 86400)
        (void)str_fmt(out, cap, "%lldd%lldh", secs / 86400, secs % 86400 / 3600);
    else if (secs >= 3600)
        (void)str_fmt(out, cap, "%lldh%lldm", secs / 3600, secs % 3600 / 60);
    else
        (void)str_fmt(out, cap, "%llds", secs < 0 ? 0 : secs);
}

void
spool_qjob_deliver(struct spool *sp, struct spool_qjob *list)
{
    char age[32];

    while (list != NULL) {
        struct spool_qjob *j = list;

        list = j->next;
        if (j->status == 0) {
            switch (j->op) {
            case SPOOL_QOP_RELEASE:
                quarantine_released(sp, j->id, j->held, j->check);
                break;
            case SPOOL_QOP_DELETE:
                if (sp->quarantined > 0)
                    sp->quarantined--;
                log_info("%s: event=quarantine-delete", j->id);
                quarantine_tell(sp, j->id, SPOOL_QOP_DELETE, NULL);
                break;
            case SPOOL_QOP_EXPIRE:
                if (sp->quarantined > 0)
                    sp->quarantined--;
                quarantine_age(age, sizeof(age), j->age);
                log_info("%s: event=quarantine-expired, check=%s, age=%s", j->id, j->check, age);
                quarantine_tell(sp, j->id, SPOOL_QOP_EXPIRE, j->check);
                break;
            }
        } else if (j->op == SPOOL_QOP_EXPIRE && j->err != ENOENT) {
            log_warning("%s: event=quarantine-expire, error=\"%s\"", j->id, j->why);
        }
        if (j->fn != NULL)
            j->fn(j->arg, j->id, j->status, j->err, j->why);
        free(j);
    }
}

size_t
spool_quarantine_expire(struct spool *sp, unsigned keep, time_t now)
{
    char(*ids)[SPOOL_ID_LEN + 1];
    size_t n, expired = 0;
    char why[256];

    if (spool_quarantine_list(sp, &ids, &n) == -1) {
        log_warning("-: spool=%s, event=quarantine-expire, error=\"quarantine/: %s\"", sp->dir,
                    strerror(errno));
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct spool_quarantined *q;
        struct spool_qjob *j;
        long long a;

        if (spool_quarantine_open(sp, ids[i], &q, why, sizeof(why)) == -1) {
            if (errno != ENOENT)
                log_warning("%s: event=quarantine-expire, error=\"%s\", action=left-alone", ids[i],
                            why);
            continue;
        }
        a = (long long)now - (long long)q->rec.at;
        if (a < (long long)keep) {
            spool_quarantined_close(q);
            continue;
        }
        j = xcalloc(1, sizeof(*j));
        j->op = SPOOL_QOP_EXPIRE;
        memcpy(j->id, ids[i], sizeof(j->id));
        memcpy(j->check, q->rec.check, sizeof(j->check));
        j->age = a;
        spool_quarantined_close(q);
        quarantine_queue_job(sp, j);
        expired++;
    }
    free(ids);
    return expired;
}

/* ---- Recovery at spool_open ---- */

int
spool_recover_quarantine(struct spool *sp, uint64_t *max_id, char *err, size_t errcap)
{
    DIR *d = spool_list(sp->quarantine_fd);
    struct dirent *de;
    struct stat st;
    bool removed = false;

    if (d == NULL) {
        (void)str_fmt(err, errcap, "%s/quarantine: %s", sp->dir, strerror(errno));
        return -1;
    }
    while ((de = spool_next(d)) != NULL) {
        bool is_file = de->d_type == DT_REG || de->d_type == DT_UNKNOWN;

        if (!is_file || !spool_id_is_valid(de->d_name, strlen(de->d_name))) {
            char qn[LOG_QUOTE_CAP];

            log_warning("-: spool=%s, file=\"quarantine/%s\", reason=\"not a quarantine file, "
                        "left alone\"",
                        sp->dir, log_quote(qn, sizeof(qn), de->d_name, strlen(de->d_name)));
            continue;
        }
        if (spool_id_value(de->d_name) > *max_id)
            *max_id = spool_id_value(de->d_name);
        /* In queue/ too: a release got as far as its rename; finish it. */
        if (fstatat(sp->queue_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (unlinkat(sp->quarantine_fd, de->d_name, 0) == 0) {
                log_info("%s: event=quarantine-release, note=\"finished at start\"", de->d_name);
                removed = true;
                continue;
            }
        }
        sp->quarantined++;
    }
    if (errno != 0) {
        (void)str_fmt(err, errcap, "%s/quarantine: %s", sp->dir, strerror(errno));
        (void)closedir(d);
        return -1;
    }
    (void)closedir(d);
    if (removed && quarantine_fsync(sp->quarantine_fd) == -1) {
        (void)str_fmt(err, errcap, "%s/quarantine: fsync: %s", sp->dir, strerror(errno));
        return -1;
    }
    return 0;
}
