/* SPDX-License-Identifier: MIT */
/*
 * The spool: the durable queue between receiving and delivering. A message
 * is written to SPOOL/tmp/ID while its content arrives, and on commit it is
 * fsync'd, renamed to SPOOL/queue/ID and the queue directory fsync'd; only
 * then does the caller learn that it is safe (and only then may the session
 * say 250). Commits run on the spool's own thread, off the event loop, and
 * every commit waiting when that thread wakes shares one directory fsync
 * (group commit). Recovery at open deletes what is left in tmp/ (it never
 * got its 250) and finds every message in queue/.
 *
 * The file holds the envelope (text records, see docs/spool.md) and then the
 * message exactly as received, with our Received header first.
 *
 * Threads: every function here is called on the event loop's thread; the
 * commit callback also runs there.
 */
#ifndef GATE26_SPOOL_SPOOL_H
#define GATE26_SPOOL_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "conf/conf.h"
#include "lib/caps.h"

struct event_base;

/* Queue ids: 16 upper-case hex digits, unique, in arrival order. */
#define SPOOL_ID_LEN 16

/* The body type MAIL declared (RFC 6152). */
enum spool_body {
    SPOOL_BODY_UNSPEC,
    SPOOL_BODY_7BIT,
    SPOOL_BODY_8BITMIME,
};

/* What a bounce returns (RFC 3461 4.3). */
enum spool_ret {
    SPOOL_RET_UNSPEC,
    SPOOL_RET_FULL,
    SPOOL_RET_HDRS,
};

/* NOTIFY (RFC 3461 4.1); 0 when not given. */
#define SPOOL_NOTIFY_NEVER   0x1u
#define SPOOL_NOTIFY_SUCCESS 0x2u
#define SPOOL_NOTIFY_FAILURE 0x4u
#define SPOOL_NOTIFY_DELAY   0x8u

/* One recipient, with its DSN fields (RFC 3461 4). */
struct spool_rcpt {
    const char *addr;  /* "local@domain" (or "Postmaster") */
    unsigned notify;   /* SPOOL_NOTIFY_* bits */
    const char *orcpt; /* "addr-type;xtext" as sent, or NULL */
};

/* What the session knows of a message when its content starts. */
struct spool_envelope {
    const char *sender; /* "" for the null path <> */
    enum spool_body body;
    bool smtputf8;
    enum spool_ret ret;
    const char *envid; /* xtext as sent, or NULL */
    const struct spool_rcpt *rcpts;
    size_t n_rcpts;
    enum door_role door;
    const char *client_addr; /* "192.0.2.7" / "2001:db8::7" */
    unsigned client_port;
    const char *helo;     /* as the client gave it, "" if none */
    const char *protocol; /* "ESMTP", "SMTP", "UTF8SMTP", ... */
    struct timeval arrival;
    const char *user; /* the authenticated user (SMTP AUTH), or NULL */
    const char *hold; /* why it is queued on hold (an alert's rule and key); NULL or "": not held */
};

struct spool;
struct spool_msg;

/* What spool_open found. */
struct spool_stats {
    size_t queued;      /* complete messages in queue/ */
    size_t tmp_removed; /* unfinished files removed from tmp/ */
    size_t unknown;     /* other names in queue/ (not queue ids): warned about, left alone */
};

/*
 * What the commit thread has reported so far (counted on the loop thread as
 * the callbacks run). Group commit shows as batches < committed + failed.
 */
struct spool_counters {
    uint64_t committed;  /* callbacks with status 0 */
    uint64_t failed;     /* callbacks with status -1 */
    uint64_t batches;    /* wake-ups of the commit thread that found work */
    uint64_t dir_fsyncs; /* fsyncs of queue/ (one per batch that renamed a file) */
};

/*
 * The lock file in the spool directory (docs/spool.md, "The lock"): the
 * daemon serving the spool holds flock LOCK_EX on it for its whole life and
 * has written its PID into it; readers hold LOCK_SH.
 */
#define SPOOL_LOCK_NAME "lock"

/*
 * Opens (creating tmp/ and queue/, mode 0700) the spool at dir: takes the
 * lock before anything in the spool is changed, cleans tmp/, sets the mode
 * of these directories to 0700 where others had any access, counts queue/
 * and starts the commit thread, whose results arrive through an event on
 * base. The lock is held until spool_free. Returns the spool (free with
 * spool_free), or NULL with a reason in err (capacity errcap); errno is
 * EWOULDBLOCK when another daemon holds the spool, which is then left as
 * it was (the directory and the lock file may have been created).
 */
struct spool *spool_open(const char *dir, struct event_base *base, struct spool_stats *stats,
                         char *err, size_t errcap);

/*
 * Opens the spool at dir to read it while no daemon serves it (gate26 queue
 * list and show): creates and changes nothing, holds LOCK_SH on SPOOL/lock
 * (if there is such a file) until spool_free, so that no daemon starts
 * meanwhile (one that tries waits a few seconds for readers). Only
 * spool_queue_list, spool_queued_open (read-only descriptors),
 * spool_queued_close, spool_dir and spool_free may be used on it. Returns
 * the spool, or NULL with the reason in err and errno: EWOULDBLOCK when a
 * daemon holds the spool (it runs, or is starting: ask it through its
 * socket), ENOENT when dir does not exist.
 */
struct spool *spool_open_reader(const char *dir, char *err, size_t errcap);

/*
 * Waits for commits in flight to be reported, stops the thread, frees. The
 * loop does not run meanwhile: the callbacks of commits not yet reported
 * are called from inside spool_free, in commit order (they must not start
 * new commits). Call it before freeing the event base. NULL: nothing.
 */
void spool_free(struct spool *sp);

/* The spool directory, as opened. */
const char *spool_dir(const struct spool *sp);

/*
 * Starts a message: picks its queue id and puts the envelope records in the
 * message's write buffer (tmp/ID is created when the buffer first fills, or
 * by the commit thread). Returns 0 and the message in *out (owned by the
 * caller until spool_msg_commit or spool_msg_abort), or -1 with errno on
 * local trouble (the session answers 452 4.3.1); nothing is left on disk then.
 */
int spool_msg_new(struct spool *sp, const struct spool_envelope *env, struct spool_msg **out);

/* The message's queue id (SPOOL_ID_LEN characters). */
const char *spool_msg_id(const struct spool_msg *m);

/*
 * Appends len octets of message content (buffered, written in large
 * blocks). Returns 0, or -1 with errno when creating tmp/ID or a write
 * failed; the failure is sticky and the message can then only be aborted
 * (or committed, which reports it).
 */
int spool_msg_write(struct spool_msg *m, const void *p, size_t len);

/*
 * Puts len octets (whole header lines, CRLF-ended: the content checks'
 * DKIM-Signature and Authentication-Results, docs/checks.md) in front of
 * the content written so far, before our Received header, so that the
 * message in the spool is the one delivered: spool_msg_splice(m, 0,
 * {p, len}, 1). Returns 0, or -1 with errno (sticky, as for
 * spool_msg_write).
 */
int spool_msg_prepend(struct spool_msg *m, const void *p, size_t len);

/*
 * Reads up to cap octets of m's content (what spool_msg_write() and spool_msg_splice() made
 * of it: no envelope) starting at octet off, before the commit. Returns the count (0 at or
 * past the end), or -1 with errno (a read error of tmp/ID, or m's sticky write error). Works
 * whether the content is all in the write buffer, all in tmp/ID, or split between them.
 * Does not change m.
 */
ssize_t spool_msg_pread(struct spool_msg *m, uint64_t off, void *buf, size_t cap);

/*
 * Replaces the first old_len octets of m's content (old_len <= spool_msg_size(m)) with the
 * n buffers of iov (together at most SIZE_MAX; they may not point into m); the rest of the
 * content stays after them. spool_msg_prepend(m, p, len) is spool_msg_splice(m, 0,
 * {p, len}, 1); replacing the whole content is old_len = spool_msg_size(m). Before the
 * commit only. A message still in the write buffer is edited in memory (one that no longer
 * fits goes to tmp/ID as spool_msg_write would send it); one already in tmp/ID is written
 * again as tmp/ID.p (the envelope, the new octets, then the rest of the file with
 * copy_file_range(2)), which then replaces tmp/ID; what is still in the buffer stays there.
 * Returns 0, or -1 with errno (EINVAL: old_len past the end or iov too large; else sticky,
 * as for spool_msg_write: the message can then only be aborted).
 */
int spool_msg_splice(struct spool_msg *m, uint64_t old_len, const struct iovec *iov, int n);

/* Octets of message content written so far. */
uint64_t spool_msg_size(const struct spool_msg *m);

/* Deletes the unfinished file and frees m. NULL: nothing. */
void spool_msg_abort(struct spool_msg *m);

/*
 * Called once, on the loop's thread, when a commit has ended: status 0 means
 * the message is on stable storage in queue/; -1 means it is not and no
 * trace of it is left (err holds the errno). id is valid during the call.
 */
typedef void spool_commit_fn(void *arg, const char *id, int status, int err);

/*
 * Hands m to the commit thread (m is the spool's from now on, and freed by
 * it). fn(arg, ...) is called exactly once, later, on the loop's thread,
 * never from inside this call.
 */
void spool_msg_commit(struct spool_msg *m, spool_commit_fn *fn, void *arg);

/*
 * Gives the spool directories and every queued message to uid:gid (before
 * the daemon drops root). Returns 0, or -1 with the reason in err.
 */
int spool_chown(struct spool *sp, uid_t uid, gid_t gid, char *err, size_t errcap);

/* Messages in queue/: found at open plus committed since. */
size_t spool_queued(const struct spool *sp);

/* Copies the commit counters into *out. */
void spool_get_counters(const struct spool *sp, struct spool_counters *out);

/* A recipient's status: the first octet after "rcpt " in its record. */
#define ENVELOPE_RCPT_PENDING '-' /* not yet delivered */
#define ENVELOPE_RCPT_DONE    'D' /* delivered (or relayed): never again */
#define ENVELOPE_RCPT_FAILED  'F' /* failed for good, bounce sent or not wanted */

struct envelope_rcpt {
    char *addr;        /* never empty */
    unsigned notify;   /* SPOOL_NOTIFY_* bits */
    char *orcpt;       /* NULL when none */
    char status;       /* ENVELOPE_RCPT_* */
    size_t status_off; /* offset of status in the file, for pwrite() */
};

/* A decoded header; every pointer is owned by it (envelope_clear). */
struct envelope {
    char id[SPOOL_ID_LEN + 1];
    unsigned attempts;
    uint64_t next_attempt; /* seconds since the epoch, 0: as soon as possible */
    struct timeval arrival;
    enum door_role door;
    char *client_addr;
    unsigned client_port;
    char *helo; /* "" when none was given */
    char *protocol;
    char *sender; /* "" for the null path <> */
    enum spool_body body;
    bool smtputf8;
    enum spool_ret ret;
    char *envid; /* NULL when none */
    char *user;  /* the authenticated user, NULL when none */
    char *hold;  /* why it was queued on hold, NULL when it was not (a release leaves it) */
    struct envelope_rcpt *rcpts;
    size_t n_rcpts;
    size_t header_len; /* octets of records and the blank line: content starts here */
};

/* ---- Reading and updating queued messages (the scheduler) ---- */

/*
 * A next attempt of 9999999999 (the largest the schedule record holds)
 * means "on hold": no attempt until released (gate26 queue hold/release).
 */
#define SPOOL_NEXT_HELD UINT64_C(9999999999)

/* One message in queue/, open: its envelope and where its content is. */
struct spool_queued {
    struct envelope env;
    int fd;            /* queue/ID, read-write, close-on-exec */
    off_t content_off; /* = env.header_len */
    uint64_t content_len;
};

/*
 * The ids of the messages in queue/ now, sorted (that is arrival order),
 * in a heap array of *n ids (the caller frees *ids). Names that are not
 * queue ids are skipped. Returns 0, or -1 with errno.
 */
int spool_queue_list(struct spool *sp, char (**ids)[SPOOL_ID_LEN + 1], size_t *n);

/*
 * Opens queue/ID and decodes its envelope. Returns 0 and a new
 * spool_queued in *out (free with spool_queued_close), or -1 with the
 * reason in why (capacity whycap): errno ENOENT when there is no such
 * message, EINVAL when its envelope does not decode ("line 3: ..."), else
 * the error of open or read.
 */
int spool_queued_open(struct spool *sp, const char *id, struct spool_queued **out, char *why,
                      size_t whycap);

/* Closes and frees q. Updates in flight keep their own copy of the descriptor. NULL: nothing. */
void spool_queued_close(struct spool_queued *q);

/* A change to one queued message, made durable by the spool's thread. */
struct spool_change {
    size_t n_rcpts;           /* statuses to write */
    const size_t *rcpt_index; /* which recipients (indices into env.rcpts) */
    const char *rcpt_status;  /* ENVELOPE_RCPT_DONE or _FAILED each */
    bool set_schedule;        /* write attempts and next_attempt */
    unsigned attempts;
    uint64_t next_attempt;
    bool remove; /* then unlink queue/ID: every recipient is done */
};

/*
 * Called once on the loop when a change has ended: status 0: it is on
 * stable storage (and the file is gone, for a removal); -1: it may not be
 * (err: errno; one warning was logged). id is valid during the call.
 */
typedef void spool_update_fn(void *arg, const char *id, int status, int err);

/*
 * Hands a change of q's file to the spool's thread; ch and its arrays are
 * copied, and q's envelope is updated at once (rcpt statuses, schedule).
 * A removal also closes q's descriptor (q->fd becomes -1; the envelope
 * stays readable), so that the file is freed on the spool's thread.
 * fn(arg, ...) is called exactly once, later, on the loop. q may be closed
 * before the callback. A status is only ever changed from pending, and
 * the statuses and schedule must fit their fields: else a bug (panic).
 */
void spool_queued_update(struct spool *sp, struct spool_queued *q, const struct spool_change *ch,
                         spool_update_fn *fn, void *arg);

/* A new message is in queue/: held when its envelope had a hold reason (queued on hold). */
typedef void spool_hook_fn(void *arg, const char *id, bool held);

/*
 * Sets the function called on the loop after each successful commit, after
 * the committing session's own callback (the scheduler's "a new message is
 * queued"). NULL: none.
 */
void spool_set_commit_hook(struct spool *sp, spool_hook_fn *fn, void *arg);

/* ---- The quarantine (docs/spool.md, "The quarantine") ---- */

/*
 * Before spool_msg_commit(): the message goes to SPOOL/quarantine/ID instead of queue/ID,
 * durable as a queued message is (the same commit thread, fsyncs and batching), and the
 * commit hook (the scheduler) is not told: it is never delivered. check is the check that held
 * it ("dmarc", "spam", "antivirus", "milter"), reason a line of printable text (cut to fit;
 * any control octet becomes '?'); both are recorded durably with the time of quarantine.
 * The commit callback is called as for any message (status 0: durable in quarantine/).
 * A check that is not 1 to SPOOL_QREC_CHECK_MAX of a-z, 0-9 and '-' is a bug (panic).
 */
void spool_msg_quarantine(struct spool_msg *m, const char *check, const char *reason);

/* spool_msg_quarantine() with the time of quarantine given (tests, the test driver). */
void spool_msg_quarantine_at(struct spool_msg *m, const char *check, const char *reason, time_t at);

#define SPOOL_QREC_CHECK_MAX  32  /* octets of a check's name */
#define SPOOL_QREC_REASON_MAX 256 /* octets of a reason: longer ones are cut */
/* The longest record: "gate26-quarantine 1 " T check reason(xtext) LLLL LF, rounded up. */
#define SPOOL_QREC_MAX 1024

/* The quarantine record: why and since when a message is held. */
struct spool_qrec {
    time_t at;                              /* when it was quarantined */
    char check[SPOOL_QREC_CHECK_MAX + 1];   /* "spam", "dmarc", ... */
    char reason[SPOOL_QREC_REASON_MAX + 1]; /* printable ASCII, "" when none given */
};

/*
 * Fills *r: check as given (returns -1 when it is not 1..SPOOL_QREC_CHECK_MAX
 * of a-z 0-9 '-'), reason cut to SPOOL_QREC_REASON_MAX octets with every octet
 * outside printable ASCII replaced by '?'. Returns 0 or -1.
 */
int spool_qrec_set(struct spool_qrec *r, time_t at, const char *check, const char *reason);

/*
 * Writes r as the record line (with its LF) into out (capacity at least
 * SPOOL_QREC_MAX). Returns its length.
 */
size_t spool_qrec_format(char *out, const struct spool_qrec *r);

/*
 * Finds and parses the record at the end of the len octets at p (the last
 * octets of a quarantine file, at most SPOOL_QREC_MAX). Returns 0 with the
 * record in *out and its length in *rec_len, or -1 with the reason in why.
 */
int spool_qrec_parse(const char *p, size_t len, struct spool_qrec *out, size_t *rec_len, char *why,
                     size_t whycap);

/* One message in quarantine/, open read-only: its envelope, record and content. */
struct spool_quarantined {
    struct envelope env;
    struct spool_qrec rec;
    int fd;
    off_t content_off;    /* = env.header_len */
    uint64_t content_len; /* the message, without the record */
};

/* The ids in quarantine/ now, sorted (oldest first), as spool_queue_list. */
int spool_quarantine_list(struct spool *sp, char (**ids)[SPOOL_ID_LEN + 1], size_t *n);

/*
 * Opens quarantine/ID read-only, decodes its envelope and record. Returns 0
 * and *out (free with spool_quarantined_close), or -1 with why: errno
 * ENOENT (no such message in quarantine), EINVAL (a malformed id, envelope
 * or record), else open's or read's.
 */
int spool_quarantine_open(struct spool *sp, const char *id, struct spool_quarantined **out,
                          char *why, size_t whycap);

/* Closes and frees q. NULL: nothing. */
void spool_quarantined_close(struct spool_quarantined *q);

/*
 * Moves quarantine/ID back to queue/ID without its record, durably (a copy
 * in tmp/ fsync'd, renamed into queue/, queue/ fsync'd, then quarantine/ID
 * unlinked and quarantine/ fsync'd), then tells the commit hook as for a new
 * message. Synchronous, for a spool without a thread (spool_open_admin; the
 * daemon uses spool_quarantine_start). Returns 0, or -1 with errno and why:
 * ENOENT when there is no such message in quarantine (a second release),
 * EINVAL for a malformed id or file, else the system's error.
 */
int spool_quarantine_release(struct spool *sp, const char *id, char *why, size_t whycap);

/* Removes quarantine/ID (and fsyncs quarantine/). Returns 0, or -1 as release. */
int spool_quarantine_delete(struct spool *sp, const char *id, char *why, size_t whycap);

enum spool_qop {
    SPOOL_QOP_RELEASE,
    SPOOL_QOP_DELETE,
    SPOOL_QOP_EXPIRE, /* spool_quarantine_expire's own */
};

/*
 * Called once on the loop when a release or delete has ended: status 0
 * done (a released message was handed to the commit hook just before), or
 * -1 with err (ENOENT: no such message in quarantine) and why (a line of
 * text). id and why are valid during the call.
 */
typedef void spool_qop_fn(void *arg, const char *id, int status, int err, const char *why);

/*
 * spool_quarantine_release or _delete on the spool's thread (the daemon:
 * no fsync on the loop). The jobs run one after another in the order
 * started, so a second release of an id, or a release after a delete,
 * finds nothing. fn(arg, ...) is called exactly once, later, on the loop
 * (from inside spool_free for the jobs still in flight then). A malformed
 * id is reported the same way (EINVAL).
 */
void spool_quarantine_start(struct spool *sp, enum spool_qop op, const char *id, spool_qop_fn *fn,
                            void *arg);

/*
 * Called on the loop after each quarantined message is released, deleted
 * or expired (for message tracking): op, and the check that held it (""
 * when not known). NULL: none.
 */
typedef void spool_qhook_fn(void *arg, const char *id, enum spool_qop op, const char *check);
void spool_set_quarantine_hook(struct spool *sp, spool_qhook_fn *fn, void *arg);

/*
 * Hands every quarantined message whose record is at least keep seconds
 * older than now to the spool's thread for deletion; each is logged as
 * "ID: event=quarantine-expired, check=..., age=..." once gone. Returns how
 * many were handed over.
 */
size_t spool_quarantine_expire(struct spool *sp, unsigned keep, time_t now);

/* Messages in quarantine/: found at open, plus commits, minus releases, deletes and expiries. */
size_t spool_quarantine_count(const struct spool *sp);

/*
 * Opens the spool at dir for `gate26 quarantine release|delete` while no
 * daemon serves it: takes LOCK_EX (creating nothing but what spool_open
 * would: the lock file), opens tmp/, queue/ and quarantine/ (which must
 * exist), no commit thread. Returns it, or NULL with the reason in err and
 * errno: EWOULDBLOCK when a daemon holds the spool, ENOENT when the spool
 * or one of its directories is missing.
 */
struct spool *spool_open_admin(const char *dir, char *err, size_t errcap);

/*
 * spool_open_reader() without the lock, for `gate26 quarantine list|show`
 * while a daemon runs: quarantined files are never changed in place (they
 * arrive by rename and leave by unlink), so they can be read beside it.
 * Only spool_quarantine_list, spool_quarantine_open and spool_free may be
 * used on it.
 */
struct spool *spool_open_quarantine_peek(const char *dir, char *err, size_t errcap);

#endif
