/* SPDX-License-Identifier: MIT */
/*
 * One daemon per spool (docs/spool.md, "The lock"). SPOOL/lock is a file of
 * mode 0600 whose flock(2) says who may touch the spool:
 *
 *   - the daemon holds LOCK_EX from before its first change of the spool
 *     until it exits, and writes its PID into the file;
 *   - `gate26 queue list|show` with the daemon stopped hold LOCK_SH while
 *     they read queue/, and change nothing.
 *
 * The kernel lets a flock go when its holder dies, however it dies, so a
 * file left behind by a killed daemon blocks nobody. A daemon that finds
 * LOCK_EX taken asks for LOCK_SH: if that is free too, only readers hold
 * the lock, and it waits for them (SPOOL_LOCK_WAIT_MS at most); if not,
 * another daemon holds it, and it gives up at once, having changed nothing.
 * The descriptors are close-on-exec: nothing we start inherits the lock.
 *
 * This file does no fault injection: the open counts of FAULT_OPEN stay
 * those of the directories and messages (docs/spool.md, "Fault injection").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/now.h"
#include "lib/num.h"
#include "lib/str.h"
#include "spool/spool_impl.h"

/* A daemon waits this long for readers (gate26 queue list|show) to finish. */
#define SPOOL_LOCK_WAIT_MS 10000
/* ... looking again this often. */
#define SPOOL_LOCK_POLL_MS 20
/* How long a loser looks for the winner's PID (written just after its flock). */
#define SPOOL_LOCK_PID_WAIT_MS 500

static void
lock_sleep(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* The PID the holder wrote, or 0 when the file holds none (yet). */
static uint64_t
lock_read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf), 0);
    uint64_t pid;
    size_t len = 0;

    if (n <= 0)
        return 0;
    while (len < (size_t)n && buf[len] != '\n')
        len++;
    if (len == (size_t)n ||
        num_parse_u64((struct slice){buf, len}, 1, UINT64_C(4194304), &pid) == -1)
        return 0;
    return pid;
}

/* True when a daemon holds LOCK_EX: LOCK_SH is refused too. errno is kept for other errors. */
static int
lock_held_by_daemon(int fd, bool *daemon)
{
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        *daemon = false;
        return flock(fd, LOCK_UN);
    }
    if (errno != EWOULDBLOCK)
        return -1;
    *daemon = true;
    return 0;
}

/* True when process pid has the file open on fd open too (one of its /proc/PID/fd links). */
static bool
lock_is_open_by(uint64_t pid, int fd)
{
    char path[64], link[96];
    struct stat mine, theirs;
    struct dirent *de;
    bool found = false;
    DIR *d;

    if (fstat(fd, &mine) == -1 ||
        str_fmt(path, sizeof(path), "/proc/%llu/fd", (unsigned long long)pid) == -1 ||
        (d = opendir(path)) == NULL)
        return false;
    while (!found && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || str_fmt(link, sizeof(link), "%s/%s", path, de->d_name) == -1 ||
            stat(link, &theirs) == -1)
            continue;
        found = theirs.st_dev == mine.st_dev && theirs.st_ino == mine.st_ino;
    }
    (void)closedir(d);
    return found;
}

/*
 * The refusal of a second daemon, with the PID of the one that holds the
 * lock. The file may still hold the PID of an earlier daemon (the winner
 * writes its own just after its flock), so a PID counts only when that
 * process has the lock file open; else we look again for a moment, and
 * name no PID rather than a wrong one.
 */
static void
lock_refuse(const struct spool *sp, int fd, char *err, size_t errcap)
{
    uint64_t start = now_ms(), pid;
    char who[48] = "";

    while (!((pid = lock_read_pid(fd)) != 0 && pid != (uint64_t)getpid() &&
             lock_is_open_by(pid, fd)) &&
           now_ms() - start < SPOOL_LOCK_PID_WAIT_MS)
        lock_sleep(SPOOL_LOCK_POLL_MS);
    if (pid != 0 && (pid == (uint64_t)getpid() || !lock_is_open_by(pid, fd)))
        pid = 0;
    if (pid != 0)
        (void)str_fmt(who, sizeof(who), " (pid %llu)", (unsigned long long)pid);
    (void)str_fmt(err, errcap,
                  "%s: the spool is in use by another gate26%s; stop it first, or give this one "
                  "its own spool",
                  sp->dir, who);
}

/* Writes our PID into the lock file (for the operator, configtest and a refused second daemon). */
static void
lock_write_pid(const struct spool *sp, int fd)
{
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

    if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)len, 0) != (ssize_t)len)
        log_warning("-: spool=%s, event=lock, error=\"writing the pid: %s\"", sp->dir,
                    strerror(errno));
}

/* Opens SPOOL/lock (a regular file, never a symlink). */
static int
lock_open(const struct spool *sp, int flags, char *err, size_t errcap)
{
    struct stat st;
    int fd = openat(sp->dir_fd, SPOOL_LOCK_NAME, flags | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);

    if (fd == -1) {
        (void)str_fmt(err, errcap, "%s/%s: %s", sp->dir, SPOOL_LOCK_NAME, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) == -1) {
        int e = errno;

        (void)str_fmt(err, errcap, "%s/%s: %s", sp->dir, SPOOL_LOCK_NAME, strerror(e));
        (void)close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        (void)str_fmt(err, errcap, "%s/%s: not a regular file", sp->dir, SPOOL_LOCK_NAME);
        (void)close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

int
spool_lock_take(struct spool *sp, char *err, size_t errcap)
{
    uint64_t start = now_ms();
    bool waited = false, daemon;
    int fd = lock_open(sp, O_RDWR | O_CREAT, err, errcap);

    if (fd == -1)
        return -1;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK || lock_held_by_daemon(fd, &daemon) == -1) {
            (void)str_fmt(err, errcap, "%s/%s: flock: %s", sp->dir, SPOOL_LOCK_NAME,
                          strerror(errno));
            (void)close(fd);
            return -1;
        }
        if (daemon) {
            lock_refuse(sp, fd, err, errcap);
            (void)close(fd);
            errno = EWOULDBLOCK;
            return -1;
        }
        /* Only readers: they let go in a moment. */
        if (now_ms() - start >= SPOOL_LOCK_WAIT_MS) {
            (void)str_fmt(err, errcap,
                          "%s: gate26 queue has been reading the spool for %d s; start again "
                          "once it is done",
                          sp->dir, SPOOL_LOCK_WAIT_MS / 1000);
            (void)close(fd);
            errno = EWOULDBLOCK;
            return -1;
        }
        if (!waited)
            log_info("-: spool=%s, event=lock-wait, reason=\"gate26 queue is reading the spool\"",
                     sp->dir);
        waited = true;
        lock_sleep(SPOOL_LOCK_POLL_MS);
    }
    lock_write_pid(sp, fd);
    sp->lock_fd = fd;
    return 0;
}

int
spool_lock_share(struct spool *sp, char *err, size_t errcap)
{
    int fd = lock_open(sp, O_RDONLY, err, errcap);

    if (fd == -1)
        return errno == ENOENT ? 0 : -1;
    while (flock(fd, LOCK_SH | LOCK_NB) == -1) {
        int e = errno;

        if (e == EINTR)
            continue;
        if (e == EWOULDBLOCK)
            (void)str_fmt(err, errcap, "%s: a gate26 serve holds the spool", sp->dir);
        else
            (void)str_fmt(err, errcap, "%s/%s: flock: %s", sp->dir, SPOOL_LOCK_NAME, strerror(e));
        (void)close(fd);
        errno = e;
        return -1;
    }
    sp->lock_fd = fd;
    return 0;
}
