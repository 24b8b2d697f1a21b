/* SPDX-License-Identifier: MIT */
/*
 * Local submission (pickup.h): the socket's connections and the maildrop's
 * files both become jobs, and a job is queued the one way: a spool message
 * from the internal door with our Received header (RFC 5321 4.4), the
 * internal door's checks, the spool's commit, and only then the answer or
 * the file's removal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "checks/checks.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "pickup/pickup.h"
#include "sendmail/record.h"
#include "smtp/msgid.h"
#include "spool/spool.h"
#include "track/track.h"
#include "watch/metrics.h"

/* Connections at once (each may hold a whole message), and how long one may take to send it. */
#define PICKUP_CONNS_MAX      32
#define PICKUP_TIMEOUT        60
#define PICKUP_FILES_PER_SCAN 100
#define PICKUP_DEFAULT_MAX    (UINT64_C(10) << 20)

struct job;

struct conn {
    struct pickup *pk;
    struct bufferevent *bev;
    struct conn *prev, *next;
    struct job *job; /* once the record has arrived */
    uid_t uid;
    bool answered;
};

struct job {
    struct pickup *pk;
    struct job *prev, *next;
    struct conn *conn; /* socket: NULL once the caller went */
    bool from_maildrop;
    char name[NAME_MAX + 1]; /* maildrop: the file */
    int fd;                  /* maildrop: the file, locked until the job ends */
    uid_t uid;
    char user[64];
    struct record_head head;
    struct spool_msg *msg;
    struct checks_session *cs;
    char id[SPOOL_ID_LEN + 1];
    uint64_t size;
    bool committing;
    /* For tracking: the content's Message-ID and Subject; what the checks made of it. */
    struct msgid_scan msgid, subject;
    enum track_kind kept; /* TRACK_QUEUED, TRACK_QUARANTINED or TRACK_DISCARDED once queued */
    char check[CHECKS_CHECK_MAX]; /* the check that quarantined it */
};

struct pickup {
    struct event_base *base;
    struct spool *spool;
    struct checks *checks;
    struct conf *conf;
    struct evconnlistener *listener;
    char socket_path[CAP_PATH];
    int drop_fd; /* the maildrop, read-only, opened as root; -1: none */
    struct event *tick;
    struct conn *conns;
    size_t n_conns;
    struct job *jobs;
    struct track *track; /* NULL: tracking off */
    bool stopped;
};

/* ---- the job: one message queued ---- */

static uint64_t
max_size(const struct conf *c)
{
    for (size_t i = 0; i < c->n_listens; i++) {
        if (c->listens[i].role == DOOR_INTERNAL)
            return c->listens[i].max_message_size;
    }
    return PICKUP_DEFAULT_MAX;
}

static void
user_name(uid_t uid, char *out, size_t cap)
{
    struct passwd pw, *found = NULL;
    char buf[4096];

    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) != 0 || found == NULL ||
        str_copyz(out, cap, pw.pw_name) == -1)
        (void)str_fmt(out, cap, "uid%u", (unsigned)uid);
}

static void job_free(struct job *j);

static void
conn_free(struct conn *c)
{
    struct pickup *pk = c->pk;

    if (c->job != NULL)
        c->job->conn = NULL;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        pk->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pk->n_conns--;
    bufferevent_free(c->bev);
    free(c);
}

/* The answer to the socket ("ok ID", "temp TEXT", "fail TEXT"); the connection closes after it. */
static void
conn_answer(struct conn *c, const char *kind, const char *text)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);

    char line[CHECKS_TEXT_MAX + 64];

    c->answered = true;
    str_printable(line, sizeof(line), text); /* one line: a check's text is not ours */
    (void)evbuffer_add_printf(out, "%s %s\n", kind, line);
    (void)bufferevent_disable(c->bev, EV_READ);
}

enum job_end { JOB_QUEUED, JOB_TEMP, JOB_FAIL };

static void
drop_bad(struct pickup *pk, const char *name, const char *why)
{
    char bad[NAME_MAX + 8], q[LOG_QUOTE_CAP], w[LOG_QUOTE_CAP];

    (void)str_fmt(bad, sizeof(bad), "bad/%s", name);
    /* A name is any local user's choice: quoted, as peer bytes are. */
    log_quote(q, sizeof(q), name, strlen(name));
    if (renameat(pk->drop_fd, name, pk->drop_fd, bad) == -1)
        log_warning("-: event=local-submit, via=maildrop, file=\"%s\", error=\"cannot move to "
                    "bad/: %s\"",
                    q, strerror(errno));
    else
        log_warning("-: event=local-submit, via=maildrop, file=\"%s\", status=bad, reason=\"%s\"",
                    q, log_quote(w, sizeof(w), why, strlen(why)));
}

/*
 * The job's arrival in tracking, as smtp/tracking.c notes a session's
 * message: door "local", no client or HELO; the detail says who sent it
 * and how. A maildrop file deferred is tried again in 5 s: its retries
 * are not noted (the log says each).
 */
static void
job_track(const struct job *j, enum job_end end, const char *text)
{
    char msgid[CAP_MESSAGE_ID + 1], subject[TRACK_SUBJECT_MAX + 1], detail[TRACK_TEXT_MAX];
    char q[LOG_QUOTE_CAP];
    struct track_event ev = {
        .qid = j->id,
        .sender = j->head.from,
        .door = "local",
        .size = j->size,
        .rcpts = (const char *const *)j->head.rcpts,
        .n_rcpts = j->head.n_rcpts,
    };

    if (j->pk->track == NULL || j->id[0] == '\0' || (end == JOB_TEMP && j->from_maildrop))
        return;
    ev.kind = end == JOB_QUEUED ? j->kept : end == JOB_TEMP ? TRACK_DEFERRED : TRACK_REJECTED;
    ev.message_id = msgid_scan_copy(&j->msgid, msgid, sizeof(msgid));
    ev.subject = msgid_scan_copy(&j->subject, subject, sizeof(subject));
    if (end == JOB_QUEUED)
        (void)str_fmt(detail, sizeof(detail), "via=%s, uid=%u, user=%s%s%s",
                      j->from_maildrop ? "maildrop" : "socket", (unsigned)j->uid, j->user,
                      j->kept == TRACK_QUARANTINED ? ", check=" : "", j->check);
    else
        (void)str_fmt(detail, sizeof(detail), "via=%s, uid=%u, user=%s, reason=\"%s\"",
                      j->from_maildrop ? "maildrop" : "socket", (unsigned)j->uid, j->user,
                      log_quote(q, sizeof(q), text, strlen(text)));
    ev.detail = detail;
    track_note(j->pk->track, &ev);
}

/* The end of a job: its answer, its file, its log line, its count and its tracking. */
static void
job_end(struct job *j, enum job_end end, const char *text)
{
    struct pickup *pk = j->pk;
    char q[LOG_ANGLE_CAP], t[LOG_QUOTE_CAP];

    metrics_local_submit(j->from_maildrop ? METRICS_LOCAL_MAILDROP : METRICS_LOCAL_SOCKET,
                         end == JOB_QUEUED ? METRICS_LOCAL_QUEUED
                         : end == JOB_TEMP ? METRICS_LOCAL_DEFERRED
                                           : METRICS_LOCAL_REFUSED);
    job_track(j, end, text);

    if (end == JOB_QUEUED) {
        log_info("%s: event=local-submit, uid=%u, user=%s, from=%s, size=%" PRIu64
                 ", nrcpt=%zu, via=%s, status=queued",
                 j->id, (unsigned)j->uid, j->user,
                 log_angle(q, sizeof(q), j->head.from, strlen(j->head.from)), j->size,
                 j->head.n_rcpts, j->from_maildrop ? "maildrop" : "socket");
        /* Durable now (even while stopping: spool_free reports the last commits). */
        if (j->from_maildrop && unlinkat(pk->drop_fd, j->name, 0) == -1)
            log_warning("%s: event=local-submit, via=maildrop, error=\"unlink: %s\"", j->id,
                        strerror(errno));
    } else {
        log_info("%s: event=local-submit, uid=%u, user=%s, from=%s, via=%s, status=%s, "
                 "reason=\"%s\"",
                 j->id[0] != '\0' ? j->id : "-", (unsigned)j->uid, j->user,
                 log_angle(q, sizeof(q), j->head.from, strlen(j->head.from)),
                 j->from_maildrop ? "maildrop" : "socket", end == JOB_TEMP ? "deferred" : "refused",
                 log_quote(t, sizeof(t), text, strlen(text)));
        if (j->from_maildrop && end == JOB_FAIL)
            drop_bad(pk, j->name, text);
    }
    if (j->conn != NULL)
        conn_answer(j->conn,
                    end == JOB_QUEUED ? "ok"
                    : end == JOB_TEMP ? "temp"
                                      : "fail",
                    end == JOB_QUEUED ? j->id : text);
    job_free(j);
}

static void
job_committed(void *arg, const char *id, int status, int err)
{
    struct job *j = arg;
    char why[128];

    j->committing = false;
    (void)str_copyz(j->id, sizeof(j->id), id);
    if (status == 0) {
        job_end(j, JOB_QUEUED, NULL);
        return;
    }
    (void)str_fmt(why, sizeof(why), "spool: %s", strerror(err));
    job_end(j, JOB_TEMP, why);
}

static void
job_commit(struct job *j)
{
    struct spool_msg *m = j->msg;

    j->committing = true;
    j->msg = NULL; /* the spool's from now on, and freed by it */
    spool_msg_commit(m, job_committed, j);
}

static void
job_checked(void *arg, const struct checks_verdict *v)
{
    struct job *j = arg;

    switch (v->action) {
    case CHECKS_ACCEPT:
        job_commit(j);
        return;
    case CHECKS_QUARANTINE:
        spool_msg_quarantine(j->msg, v->check, v->why);
        j->kept = TRACK_QUARANTINED;
        (void)str_copyz(j->check, sizeof(j->check), v->check);
        job_commit(j);
        return;
    case CHECKS_DISCARD:
        /* A milter's DISCARD: done with, as an SMTP client would be told 250. */
        spool_msg_abort(j->msg);
        j->msg = NULL;
        j->kept = TRACK_DISCARDED;
        job_end(j, JOB_QUEUED, NULL);
        return;
    case CHECKS_REJECT:
        job_end(j, JOB_FAIL, v->why[0] != '\0' ? v->why : v->text);
        return;
    case CHECKS_TEMPFAIL:
        break;
    }
    job_end(j, JOB_TEMP, v->why[0] != '\0' ? v->why : v->text);
}

/* "Received: by HOST (gate26, from userid UID) id QID; DATE" (RFC 5321 4.4, as Postfix's). */
static size_t
received(const struct pickup *pk, const struct job *j, char *out, size_t cap)
{
    char date[64];
    time_t t = time(NULL);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
        (void)str_copyz(date, sizeof(date), "Thu, 01 Jan 1970 00:00:00 +0000");
    if (str_fmt(out, cap, "Received: by %s (gate26, from userid %u)\r\n\tid %s; %s\r\n",
                pk->conf->hostname, (unsigned)j->uid, j->id, date) == -1)
        return 0;
    return strlen(out);
}

/* Queues the record's content (len octets at p): the job ends through job_end, maybe later. */
static void
job_start(struct job *j, const char *p, size_t len)
{
    struct pickup *pk = j->pk;
    struct spool_envelope env;
    struct spool_rcpt *rcpts;
    char why[256], rec[CAP_HOSTNAME + 256];
    bool eight = false;
    size_t rlen;

    j->size = len;
    user_name(j->uid, j->user, sizeof(j->user));
    msgid_scan_feed(&j->msgid, p, len);
    msgid_scan_feed(&j->subject, p, len);
    if ((uint64_t)len > max_size(pk->conf)) {
        (void)str_fmt(why, sizeof(why), "message size %zu exceeds the limit of %" PRIu64, len,
                      max_size(pk->conf));
        job_end(j, JOB_FAIL, why);
        return;
    }
    if (record_check_content(p, len, &eight, why, sizeof(why)) == -1) {
        job_end(j, JOB_FAIL, why);
        return;
    }
    rcpts = xcalloc(j->head.n_rcpts, sizeof(*rcpts));
    for (size_t i = 0; i < j->head.n_rcpts; i++)
        rcpts[i].addr = j->head.rcpts[i];
    memset(&env, 0, sizeof(env));
    env.sender = j->head.from;
    env.body = eight ? SPOOL_BODY_8BITMIME : SPOOL_BODY_7BIT;
    env.smtputf8 = j->head.from_utf8;
    env.rcpts = rcpts;
    env.n_rcpts = j->head.n_rcpts;
    env.door = DOOR_INTERNAL; /* docs/packaging.md: local mail leaves as our own servers' does */
    env.client_addr = "127.0.0.1";
    env.helo = "";
    env.protocol = "LOCAL";
    (void)gettimeofday(&env.arrival, NULL);
    if (spool_msg_new(pk->spool, &env, &j->msg) == -1) {
        (void)str_fmt(why, sizeof(why), "spool: %s", strerror(errno));
        free(rcpts);
        j->msg = NULL;
        job_end(j, JOB_TEMP, why);
        return;
    }
    free(rcpts);
    (void)str_copyz(j->id, sizeof(j->id), spool_msg_id(j->msg));
    rlen = received(pk, j, rec, sizeof(rec));
    if (rlen == 0)
        log_panic("local-submit: the Received header does not fit");
    if (spool_msg_write(j->msg, rec, rlen) == -1 || spool_msg_write(j->msg, p, len) == -1) {
        (void)str_fmt(why, sizeof(why), "spool: %s", strerror(errno));
        job_end(j, JOB_TEMP, why);
        return;
    }
    {
        static const unsigned char lo[4] = {127, 0, 0, 1};
        struct checks_client cl = {.door = DOOR_INTERNAL,
                                   .family = AF_INET,
                                   .addr = lo,
                                   .addr_text = "127.0.0.1",
                                   .port = 0,
                                   .max_message_size = max_size(pk->conf)};

        j->cs = pk->checks != NULL ? checks_session_new(pk->checks, pk->conf, &cl) : NULL;
    }
    if (j->cs == NULL) {
        job_commit(j);
        return;
    }
    {
        struct checks_message m = {.msg = j->msg,
                                   .skip = rlen,
                                   .queue_id = j->id,
                                   .helo = "",
                                   .sender = j->head.from,
                                   .rcpts = (const char *const *)j->head.rcpts,
                                   .n_rcpts = j->head.n_rcpts,
                                   .user = NULL,
                                   .tls_version = NULL};

        checks_message(j->cs, &m, job_checked, j);
    }
}

static struct job *
job_new(struct pickup *pk, uid_t uid)
{
    struct job *j = xcalloc(1, sizeof(*j));

    j->pk = pk;
    j->uid = uid;
    j->fd = -1;
    j->kept = TRACK_QUEUED;
    msgid_scan_init(&j->msgid);
    msgid_scan_init_field(&j->subject, "subject");
    (void)str_copyz(j->user, sizeof(j->user), "-");
    j->next = pk->jobs;
    if (pk->jobs != NULL)
        pk->jobs->prev = j;
    pk->jobs = j;
    return j;
}

static void
job_free(struct job *j)
{
    struct pickup *pk = j->pk;

    if (j->committing)
        log_panic("local-submit: a job freed while its commit runs");
    checks_session_free(j->cs);
    spool_msg_abort(j->msg);
    record_head_clear(&j->head);
    if (j->fd != -1)
        (void)close(j->fd); /* and its lock */
    if (j->conn != NULL)
        j->conn->job = NULL;
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        pk->jobs = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    free(j);
}

/* ---- the socket ---- */

static void conn_refuse(struct conn *c, const char *why);

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;

    (void)bev;
    if (c->answered && !(what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) &&
        evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
        return;
    /* The caller ended its half before a whole record: it reads the refusal. */
    if (!c->answered && c->job == NULL && (what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
        conn_refuse(c, "the record ends early");
        return;
    }
    if (!c->answered && c->job == NULL && (what & BEV_EVENT_TIMEOUT))
        log_info("-: event=local-submit, uid=%u, via=socket, status=refused, reason=\"timeout\"",
                 (unsigned)c->uid);
    conn_free(c); /* a job in flight goes on: its answer has nobody to go to */
}

static void
conn_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;

    (void)bev;
    if (c->answered)
        conn_free(c);
}

static void
conn_refuse(struct conn *c, const char *why)
{
    char t[LOG_QUOTE_CAP];

    log_info("-: event=local-submit, uid=%u, via=socket, status=refused, reason=\"%s\"",
             (unsigned)c->uid, log_quote(t, sizeof(t), why, strlen(why)));
    metrics_local_submit(METRICS_LOCAL_SOCKET, METRICS_LOCAL_REFUSED);
    conn_answer(c, "fail", why);
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t have = evbuffer_get_length(in);
    struct record_head h;
    char why[256];
    enum record_result r;
    const char *p;

    if (c->answered || c->job != NULL) {
        (void)evbuffer_drain(in, have);
        return;
    }
    p = (const char *)evbuffer_pullup(
        in, (ev_ssize_t)(have < RECORD_HEAD_MAX ? have : RECORD_HEAD_MAX));
    r = record_parse_head(p, have < RECORD_HEAD_MAX ? have : RECORD_HEAD_MAX, &h, why, sizeof(why));
    if (r == RECORD_MORE)
        return;
    if (r == RECORD_BAD) {
        conn_refuse(c, why);
        return;
    }
    /* The limit before the content: nothing over it is read. */
    if (h.size > max_size(c->pk->conf)) {
        (void)str_fmt(why, sizeof(why), "message size %" PRIu64 " exceeds the limit of %" PRIu64,
                      h.size, max_size(c->pk->conf));
        record_head_clear(&h);
        conn_refuse(c, why);
        return;
    }
    if (have < h.head_len + h.size) {
        record_head_clear(&h);
        return;
    }
    if (have > h.head_len + h.size) {
        record_head_clear(&h);
        conn_refuse(c, "octets after the content");
        return;
    }
    (void)bufferevent_disable(bev, EV_READ);
    c->job = job_new(c->pk, c->uid);
    c->job->conn = c;
    c->job->head = h;
    p = (const char *)evbuffer_pullup(in, -1);
    job_start(c->job, p + h.head_len, (size_t)h.size);
}

static void
pickup_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
              void *arg)
{
    struct pickup *pk = arg;
    struct timeval tv = {PICKUP_TIMEOUT, 0};
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    struct conn *c;

    (void)l;
    (void)sa;
    (void)salen;
    if (pk->n_conns >= PICKUP_CONNS_MAX ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == -1) {
        (void)close(fd); /* sendmail then uses the maildrop */
        return;
    }
    c = xcalloc(1, sizeof(*c));
    c->pk = pk;
    c->uid = cred.uid;
    c->bev = bufferevent_socket_new(pk->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        (void)close(fd);
        free(c);
        return;
    }
    c->next = pk->conns;
    if (pk->conns != NULL)
        pk->conns->prev = c;
    pk->conns = c;
    pk->n_conns++;
    bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    /* One message per connection, read whole: the head's size is checked against the limit
     * before the content is waited for. */
    (void)bufferevent_enable(c->bev, EV_READ);
}

/* ---- the maildrop ---- */

static bool
in_flight(const struct pickup *pk, const char *name)
{
    for (const struct job *j = pk->jobs; j != NULL; j = j->next) {
        if (j->from_maildrop && strcmp(j->name, name) == 0)
            return true;
    }
    return false;
}

/* A maildrop file refused before it became a job: counted, then moved to bad/. */
static void
refuse_file(struct pickup *pk, const char *name, const char *why)
{
    metrics_local_submit(METRICS_LOCAL_MAILDROP, METRICS_LOCAL_REFUSED);
    drop_bad(pk, name, why);
}

/* One file of the maildrop: a job, or bad/, or left for the next scan. */
static void
pickup_file(struct pickup *pk, const char *name)
{
    struct stat st;
    struct record_head h;
    char why[256], *buf;
    uint64_t cap = max_size(pk->conf) + RECORD_HEAD_MAX;
    struct job *j;
    size_t n = 0;
    int fd = openat(pk->drop_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd == -1) {
        if (errno == ELOOP)
            refuse_file(pk, name, "a symbolic link");
        else if (errno != ENOENT)
            log_warning("-: event=local-submit, via=maildrop, error=\"%s\"", strerror(errno));
        return;
    }
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        (void)close(fd);
        refuse_file(pk, name, "not a regular file");
        return;
    }
    /* Another daemon on this maildrop has it, or it was removed meanwhile. */
    if (flock(fd, LOCK_EX | LOCK_NB) == -1 || fstat(fd, &st) == -1 || st.st_nlink == 0) {
        (void)close(fd);
        return;
    }
    if ((uint64_t)st.st_size > cap) {
        (void)close(fd);
        refuse_file(pk, name, "larger than a record may be");
        return;
    }
    buf = xmalloc((size_t)st.st_size + 1);
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);

        if (r <= 0)
            break;
        n += (size_t)r;
    }
    if (n != (size_t)st.st_size) {
        free(buf);
        (void)close(fd);
        log_warning("-: event=local-submit, via=maildrop, error=\"short read\"");
        return;
    }
    if (record_parse_head(buf, n, &h, why, sizeof(why)) != RECORD_OK) {
        if (why[0] == '\0')
            (void)str_copyz(why, sizeof(why), "the record ends early");
        free(buf);
        (void)close(fd);
        refuse_file(pk, name, why);
        return;
    }
    if (h.head_len + h.size != n) {
        (void)str_fmt(why, sizeof(why), "size %" PRIu64 " but %zu octets of content", h.size,
                      n - h.head_len);
        record_head_clear(&h);
        free(buf);
        (void)close(fd);
        refuse_file(pk, name, why);
        return;
    }
    j = job_new(pk, st.st_uid);
    j->from_maildrop = true;
    j->fd = fd;
    (void)str_copyz(j->name, sizeof(j->name), name);
    j->head = h;
    job_start(j, buf + h.head_len, (size_t)h.size);
    free(buf);
}

static void
pickup_scan(struct pickup *pk)
{
    int dfd = dup(pk->drop_fd);
    size_t done = 0;
    struct dirent *e;
    DIR *d;

    if (dfd == -1 || lseek(dfd, 0, SEEK_SET) == -1 || (d = fdopendir(dfd)) == NULL) {
        if (dfd != -1)
            (void)close(dfd);
        log_warning("-: event=local-submit, via=maildrop, error=\"%s\"", strerror(errno));
        return;
    }
    while ((e = readdir(d)) != NULL && done < PICKUP_FILES_PER_SCAN) {
        /* m.NAME is a whole record; t.NAME is one sendmail is still writing. */
        if (strncmp(e->d_name, "m.", 2) != 0 || in_flight(pk, e->d_name))
            continue;
        pickup_file(pk, e->d_name);
        done++;
    }
    (void)closedir(d);
}

static void
pickup_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pickup_scan(arg);
}

/* ---- start and stop ---- */

/* The socket's directory: made 0755 and given to uid when missing. */
static int
socket_dir(const char *path, uid_t uid, gid_t gid, char *why, size_t cap)
{
    char dir[CAP_PATH];
    char *slash;

    (void)str_copyz(dir, sizeof(dir), path);
    slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    if (mkdir(dir, 0755) == 0) {
        if (chmod(dir, 0755) == -1 || (uid != (uid_t)-1 && chown(dir, uid, gid) == -1)) {
            (void)str_fmt(why, cap, "%s: %s", dir, strerror(errno));
            return -1;
        }
    } else if (errno != EEXIST) {
        (void)str_fmt(why, cap, "%s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static void
open_socket(struct pickup *pk, uid_t uid, gid_t gid)
{
    struct sockaddr_un sun;
    char why[CAP_PATH + 128];
    mode_t old;
    int probe;

    (void)str_copyz(pk->socket_path, sizeof(pk->socket_path), pk->conf->local_submit_socket);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, pk->socket_path, strlen(pk->socket_path));
    if (socket_dir(pk->socket_path, uid, gid, why, sizeof(why)) == -1) {
        log_warning("-: event=local-submit, socket=%s, error=\"%s\"", pk->socket_path, why);
        pk->socket_path[0] = '\0';
        return;
    }
    probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe != -1 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
        (void)close(probe);
        log_warning("-: event=local-submit, socket=%s, error=\"another daemon answers there\"",
                    pk->socket_path);
        pk->socket_path[0] = '\0';
        return;
    }
    if (probe != -1)
        (void)close(probe);
    (void)unlink(pk->socket_path); /* left by a daemon that was killed */
    old = umask(0111);
    pk->listener = evconnlistener_new_bind(pk->base, pickup_accept, pk,
                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
                                           (struct sockaddr *)&sun, sizeof(sun));
    (void)umask(old);
    if (pk->listener == NULL) {
        log_warning("-: event=local-submit, socket=%s, error=\"%s\"", pk->socket_path,
                    strerror(errno));
        pk->socket_path[0] = '\0';
        return;
    }
    if (chmod(pk->socket_path, 0666) == -1)
        log_warning("-: event=local-submit, socket=%s, error=\"chmod: %s\"", pk->socket_path,
                    strerror(errno));
    log_info("-: event=local-submit, socket=%s, status=listening", pk->socket_path);
}

static void
open_maildrop(struct pickup *pk, uid_t uid, gid_t gid)
{
    const char *dir = pk->conf->local_submit_maildrop;
    struct group grp, *found = NULL;
    char buf[4096];
    int bad;

    if (mkdir(dir, 01730) == 0) {
        /* The group of the set-group-id sendmail when the package made it, else the user's. */
        if (getgrnam_r("gate26drop", &grp, buf, sizeof(buf), &found) == 0 && found != NULL)
            gid = grp.gr_gid;
        if (chmod(dir, 01730) == -1 || (uid != (uid_t)-1 && chown(dir, uid, gid) == -1))
            log_warning("-: event=local-submit, maildrop=%s, error=\"%s\"", dir, strerror(errno));
    } else if (errno != EEXIST) {
        log_warning("-: event=local-submit, maildrop=%s, error=\"%s\"", dir, strerror(errno));
        return;
    }
    pk->drop_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (pk->drop_fd == -1) {
        log_warning("-: event=local-submit, maildrop=%s, error=\"%s\"", dir, strerror(errno));
        return;
    }
    if (mkdirat(pk->drop_fd, "bad", 0700) == -1 && errno != EEXIST)
        log_warning("-: event=local-submit, maildrop=%s/bad, error=\"%s\"", dir, strerror(errno));
    else if ((bad = openat(pk->drop_fd, "bad", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) !=
             -1) {
        if (uid != (uid_t)-1 && fchown(bad, uid, gid) == -1)
            log_warning("-: event=local-submit, maildrop=%s/bad, error=\"%s\"", dir,
                        strerror(errno));
        (void)close(bad);
    }
}

struct pickup *
pickup_new(struct event_base *base, struct spool *sp, struct checks *ck, struct conf *c)
{
    struct pickup *pk = xcalloc(1, sizeof(*pk));
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;

    pk->base = base;
    pk->spool = sp;
    pk->checks = ck;
    pk->conf = conf_ref(c);
    pk->drop_fd = -1;
    if (c->local_submit_off)
        return pk;
    if (geteuid() == 0 && c->user[0] != '\0') {
        struct passwd pw, *found = NULL;
        char buf[4096];

        if (getpwnam_r(c->user, &pw, buf, sizeof(buf), &found) == 0 && found != NULL) {
            uid = pw.pw_uid;
            gid = pw.pw_gid;
        }
    }
    open_socket(pk, uid, gid);
    open_maildrop(pk, uid, gid);
    return pk;
}

void
pickup_start(struct pickup *pk)
{
    static const struct timeval every = {PICKUP_SCAN_SECONDS, 0};

    if (pk->drop_fd == -1)
        return;
    pickup_scan(pk);
    pk->tick = event_new(pk->base, -1, EV_PERSIST, pickup_tick, pk);
    if (pk->tick == NULL || evtimer_add(pk->tick, &every) == -1)
        log_panic("cannot add the maildrop timer");
}

void
pickup_set_conf(struct pickup *pk, struct conf *c)
{
    struct conf *old = pk->conf;

    pk->conf = conf_ref(c);
    conf_unref(old);
}

void
pickup_set_track(struct pickup *pk, struct track *t)
{
    if (pk != NULL)
        pk->track = t;
}

void
pickup_stop(struct pickup *pk)
{
    struct job *next;

    if (pk == NULL)
        return;
    pk->stopped = true;
    if (pk->listener != NULL) {
        evconnlistener_free(pk->listener);
        pk->listener = NULL;
        (void)unlink(pk->socket_path);
    }
    if (pk->tick != NULL)
        event_free(pk->tick);
    pk->tick = NULL;
    while (pk->conns != NULL)
        conn_free(pk->conns);
    /* Jobs in the checks end now (their files stay for the next start); commits report from
     * spool_free. */
    for (struct job *j = pk->jobs; j != NULL; j = next) {
        next = j->next;
        if (!j->committing)
            job_free(j);
    }
}

void
pickup_free(struct pickup *pk)
{
    if (pk == NULL)
        return;
    pickup_stop(pk);
    while (pk->jobs != NULL)
        job_free(pk->jobs);
    if (pk->drop_fd != -1)
        (void)close(pk->drop_fd);
    conf_unref(pk->conf);
    free(pk);
}
