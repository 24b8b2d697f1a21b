/* SPDX-License-Identifier: MIT */
/*
 * Opening, recovery and freeing of the spool. spool_open() creates the
 * directories as needed (fsyncing the directory that gained an entry),
 * removes what an earlier run left in tmp/ (none of it was acknowledged),
 * counts queue/, seeds the id generator past every id on disk and starts the
 * commit thread (commit.c). The writer is writer.c; the file format is
 * envelope.c; docs/spool.md tells the whole story.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fault.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "spool/id.h"
#include "spool/spool_impl.h"

static int
spool_open_dir(int at_fd, const char *name)
{
    if (fault_hit(FAULT_OPEN))
        return -1;
    return openat(at_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int
spool_fsync(int fd)
{
    if (fault_hit(FAULT_FSYNC))
        return -1;
    return fsync(fd);
}

/* The directory that holds path: "a/b/" -> "a", "b" -> ".", "/b" -> "/". */
static int
spool_parent(const char *path, char *out, size_t cap)
{
    size_t len = strlen(path);

    while (len > 1 && path[len - 1] == '/')
        len--;
    while (len > 0 && path[len - 1] != '/')
        len--;
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (len == 0)
        return str_copyz(out, cap, ".");
    return str_copy(out, cap, path, len);
}

/* mkdir mode 0700; *created tells whether it was missing. */
static int
spool_mkdir(int at_fd, const char *name, bool *created)
{
    *created = false;
    if (mkdirat(at_fd, name, 0700) == 0) {
        *created = true;
        return 0;
    }
    return errno == EEXIST ? 0 : -1;
}

/*
 * The spool is gate26's alone: a directory that others may read or enter
 * (made by hand, or by `mkdir -p` under umask 022) is set to 0700. fd is
 * DIR, or DIR/sub when sub is not NULL.
 */
static int
spool_make_private(int fd, const char *dir, const char *sub, char *err, size_t errcap)
{
    const char *slash = sub != NULL ? "/" : "";
    struct stat st;

    if (sub == NULL)
        sub = "";
    if (fstat(fd, &st) == -1) {
        (void)str_fmt(err, errcap, "%s%s%s: %s", dir, slash, sub, strerror(errno));
        return -1;
    }
    if ((st.st_mode & 077) == 0)
        return 0;
    if (fchmod(fd, 0700) == -1) {
        (void)str_fmt(err, errcap, "%s%s%s: chmod 0700: %s", dir, slash, sub, strerror(errno));
        return -1;
    }
    log_warning("-: spool=%s%s%s, event=chmod, mode=0700, was=%04o, note=\"others could reach "
                "the spool\"",
                dir, slash, sub, (unsigned)(st.st_mode & 07777));
    return 0;
}

/* The new directory's own name must survive a crash too: fsync its parent. */
static int
spool_sync_parent(const struct spool *sp, char *err, size_t errcap)
{
    char parent[CAP_PATH];
    int fd;

    if (spool_parent(sp->dir, parent, sizeof(parent)) == -1) {
        (void)str_fmt(err, errcap, "%s: path too long", sp->dir);
        return -1;
    }
    fd = spool_open_dir(AT_FDCWD, parent);
    if (fd == -1 || spool_fsync(fd) == -1) {
        (void)str_fmt(err, errcap, "%s: fsync: %s", parent, strerror(errno));
        if (fd != -1)
            (void)close(fd);
        return -1;
    }
    (void)close(fd);
    return 0;
}

/*
 * Creates (if missing) and opens the spool directory itself, and takes the
 * lock before anything in it changes. Two daemons starting at once may both
 * get here (and both create the lock file, which is one file): one of them
 * gets the lock, the other leaves the spool as it found it.
 */
static int
spool_open_top(struct spool *sp, char *err, size_t errcap)
{
    bool created;

    if (spool_mkdir(AT_FDCWD, sp->dir, &created) == -1 ||
        (sp->dir_fd = spool_open_dir(AT_FDCWD, sp->dir)) == -1) {
        (void)str_fmt(err, errcap, "%s: %s", sp->dir, strerror(errno));
        return -1;
    }
    if (created && spool_sync_parent(sp, err, errcap) == -1)
        return -1;
    if (spool_lock_take(sp, err, errcap) == -1)
        return -1;
    return spool_make_private(sp->dir_fd, sp->dir, NULL, err, errcap);
}

/* Creates (if missing) and opens DIR/name. */
static int
spool_open_sub(struct spool *sp, const char *name, int *out, char *err, size_t errcap)
{
    bool created;

    if (spool_mkdir(sp->dir_fd, name, &created) == -1) {
        (void)str_fmt(err, errcap, "%s/%s: %s", sp->dir, name, strerror(errno));
        return -1;
    }
    if (created && spool_fsync(sp->dir_fd) == -1) {
        (void)str_fmt(err, errcap, "%s: fsync: %s", sp->dir, strerror(errno));
        return -1;
    }
    *out = spool_open_dir(sp->dir_fd, name);
    if (*out == -1) {
        (void)str_fmt(err, errcap, "%s/%s: %s", sp->dir, name, strerror(errno));
        return -1;
    }
    return spool_make_private(*out, sp->dir, name, err, errcap);
}

/* A listing of the directory open on fd, from its start. */
DIR *
spool_list(int fd)
{
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d;
    int e;

    if (copy == -1)
        return NULL;
    d = fdopendir(copy);
    if (d == NULL) {
        e = errno;
        (void)close(copy);
        errno = e;
        return NULL;
    }
    /* The copy shares its offset with fd. */
    rewinddir(d);
    return d;
}

/* The next name other than "." and "..", or NULL at the end (errno 0) or on an error. */
struct dirent *
spool_next(DIR *d)
{
    struct dirent *de;

    do {
        errno = 0;
        de = readdir(d);
    } while (de != NULL && (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0));
    return de;
}

static void
spool_warn_file(const struct spool *sp, const char *sub, const char *name, const char *reason)
{
    char q[LOG_QUOTE_CAP];

    log_warning("-: spool=%s, file=\"%s/%s\", reason=\"%s\"", sp->dir, sub,
                log_quote(q, sizeof(q), name, strlen(name)), reason);
}

/* Removes every file in tmp/: none of them was acknowledged (no 250 was sent). */
static int
spool_recover_tmp(struct spool *sp, uint64_t *max_id, char *err, size_t errcap)
{
    DIR *d = spool_list(sp->tmp_fd);
    struct dirent *de;
    char reason[128];

    if (d == NULL) {
        (void)str_fmt(err, errcap, "%s/tmp: %s", sp->dir, strerror(errno));
        return -1;
    }
    while ((de = spool_next(d)) != NULL) {
        size_t len = strlen(de->d_name);

        if (spool_id_is_valid(de->d_name, len) && spool_id_value(de->d_name) > *max_id)
            *max_id = spool_id_value(de->d_name);
        if (unlinkat(sp->tmp_fd, de->d_name, 0) == -1) {
            /* Harmless but odd (a directory?): ids skip names that exist. */
            (void)str_fmt(reason, sizeof(reason), "unlink: %s", strerror(errno));
            spool_warn_file(sp, "tmp", de->d_name, reason);
            continue;
        }
        sp->found.tmp_removed++;
    }
    if (errno != 0) {
        (void)str_fmt(err, errcap, "%s/tmp: %s", sp->dir, strerror(errno));
        (void)closedir(d);
        return -1;
    }
    (void)closedir(d);
    return 0;
}

/* Counts the messages in queue/; leaves (and counts) whatever else is there. */
static int
spool_recover_queue(struct spool *sp, uint64_t *max_id, char *err, size_t errcap)
{
    DIR *d = spool_list(sp->queue_fd);
    struct dirent *de;

    if (d == NULL) {
        (void)str_fmt(err, errcap, "%s/queue: %s", sp->dir, strerror(errno));
        return -1;
    }
    while ((de = spool_next(d)) != NULL) {
        bool is_file = de->d_type == DT_REG || de->d_type == DT_UNKNOWN;

        if (!is_file || !spool_id_is_valid(de->d_name, strlen(de->d_name))) {
            spool_warn_file(sp, "queue", de->d_name, "not a queue file, left alone");
            sp->found.unknown++;
            continue;
        }
        sp->found.queued++;
        if (spool_id_value(de->d_name) > *max_id)
            *max_id = spool_id_value(de->d_name);
    }
    if (errno != 0) {
        (void)str_fmt(err, errcap, "%s/queue: %s", sp->dir, strerror(errno));
        (void)closedir(d);
        return -1;
    }
    (void)closedir(d);
    return 0;
}

static void
spool_close_fds(struct spool *sp)
{
    if (sp->quarantine_fd != -1)
        (void)close(sp->quarantine_fd);
    if (sp->queue_fd != -1)
        (void)close(sp->queue_fd);
    if (sp->tmp_fd != -1)
        (void)close(sp->tmp_fd);
    if (sp->dir_fd != -1)
        (void)close(sp->dir_fd);
    /* Last: the lock covers everything above. */
    if (sp->lock_fd != -1)
        (void)close(sp->lock_fd);
}

struct spool *
spool_open(const char *dir, struct event_base *base, struct spool_stats *stats, char *err,
           size_t errcap)
{
    struct spool *sp = xcalloc(1, sizeof(*sp));
    uint64_t max_id = 0;
    int e;

    sp->dir_fd = sp->tmp_fd = sp->queue_fd = sp->event_fd = sp->lock_fd = sp->quarantine_fd = -1;
    sp->base = base;
    if (str_copyz(sp->dir, sizeof(sp->dir), dir) == -1) {
        (void)str_fmt(err, errcap, "%.64s...: path too long", dir);
        goto fail;
    }
    if (spool_open_top(sp, err, errcap) == -1 ||
        spool_open_sub(sp, "tmp", &sp->tmp_fd, err, errcap) == -1 ||
        spool_open_sub(sp, "queue", &sp->queue_fd, err, errcap) == -1 ||
        spool_open_sub(sp, "quarantine", &sp->quarantine_fd, err, errcap) == -1 ||
        spool_recover_tmp(sp, &max_id, err, errcap) == -1 ||
        spool_recover_queue(sp, &max_id, err, errcap) == -1 ||
        spool_recover_quarantine(sp, &max_id, err, errcap) == -1)
        goto fail;
    /* Never hand out an id that a file on disk already has, even if the clock went back. */
    spool_id_seed(max_id);
    if (spool_commit_start(sp, err, errcap) == -1)
        goto fail;
    log_info("-: spool=%s, event=open, queued=%zu, tmp_removed=%zu, unknown=%zu, quarantined=%zu",
             sp->dir, sp->found.queued, sp->found.tmp_removed, sp->found.unknown, sp->quarantined);
    if (stats != NULL)
        *stats = sp->found;
    return sp;
fail:
    e = errno;
    spool_close_fds(sp);
    free(sp);
    errno = e;
    return NULL;
}

static struct spool *spool_open_read(const char *dir, bool lock, char *err, size_t errcap);

struct spool *
spool_open_reader(const char *dir, char *err, size_t errcap)
{
    return spool_open_read(dir, true, err, errcap);
}

struct spool *
spool_open_quarantine_peek(const char *dir, char *err, size_t errcap)
{
    return spool_open_read(dir, false, err, errcap);
}

static struct spool *
spool_open_read(const char *dir, bool lock, char *err, size_t errcap)
{
    struct spool *sp = xcalloc(1, sizeof(*sp));
    int e;

    sp->dir_fd = sp->tmp_fd = sp->queue_fd = sp->event_fd = sp->lock_fd = sp->quarantine_fd = -1;
    sp->reader = true;
    if (str_copyz(sp->dir, sizeof(sp->dir), dir) == -1) {
        (void)str_fmt(err, errcap, "%.64s...: path too long", dir);
        errno = ENAMETOOLONG;
        goto fail;
    }
    sp->dir_fd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dir_fd == -1) {
        (void)str_fmt(err, errcap, "%s: %s", sp->dir, strerror(errno));
        goto fail;
    }
    if (lock && spool_lock_share(sp, err, errcap) == -1)
        goto fail;
    /* No queue/ yet: nothing is queued. */
    sp->queue_fd = openat(sp->dir_fd, "queue", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->queue_fd == -1 && errno != ENOENT) {
        (void)str_fmt(err, errcap, "%s/queue: %s", sp->dir, strerror(errno));
        goto fail;
    }
    sp->quarantine_fd = openat(sp->dir_fd, "quarantine", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->quarantine_fd == -1 && errno != ENOENT) {
        (void)str_fmt(err, errcap, "%s/quarantine: %s", sp->dir, strerror(errno));
        goto fail;
    }
    return sp;
fail:
    e = errno;
    spool_close_fds(sp);
    free(sp);
    errno = e;
    return NULL;
}

struct spool *
spool_open_admin(const char *dir, char *err, size_t errcap)
{
    struct spool *sp = xcalloc(1, sizeof(*sp));
    static const char *const names[] = {"tmp", "queue", "quarantine"};
    int *fds[] = {&sp->tmp_fd, &sp->queue_fd, &sp->quarantine_fd};
    int e;

    sp->dir_fd = sp->tmp_fd = sp->queue_fd = sp->event_fd = sp->lock_fd = sp->quarantine_fd = -1;
    sp->admin = true;
    if (str_copyz(sp->dir, sizeof(sp->dir), dir) == -1) {
        (void)str_fmt(err, errcap, "%.64s...: path too long", dir);
        errno = ENAMETOOLONG;
        goto fail;
    }
    sp->dir_fd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dir_fd == -1) {
        (void)str_fmt(err, errcap, "%s: %s", sp->dir, strerror(errno));
        goto fail;
    }
    if (spool_lock_take(sp, err, errcap) == -1)
        goto fail;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        *fds[i] = openat(sp->dir_fd, names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (*fds[i] == -1) {
            (void)str_fmt(err, errcap, "%s/%s: %s", sp->dir, names[i], strerror(errno));
            goto fail;
        }
    }
    return sp;
fail:
    e = errno;
    spool_close_fds(sp);
    free(sp);
    errno = e;
    return NULL;
}

void
spool_free(struct spool *sp)
{
    if (sp == NULL)
        return;
    if (!sp->reader && !sp->admin)
        spool_commit_stop(sp);
    spool_close_fds(sp);
    free(sp);
}

const char *
spool_dir(const struct spool *sp)
{
    return sp->dir;
}

size_t
spool_queued(const struct spool *sp)
{
    return sp->found.queued + (sp->counters.committed - sp->q_committed) + sp->q_released -
           sp->removed;
}

static int
spool_id_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

int
spool_queue_list(struct spool *sp, char (**ids)[SPOOL_ID_LEN + 1], size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (sp->queue_fd == -1 && sp->reader)
        return 0;
    return spool_list_ids(sp->queue_fd, ids, n);
}

int
spool_list_ids(int fd, char (**ids)[SPOOL_ID_LEN + 1], size_t *n)
{
    struct dirent *de;
    size_t cap = 64;
    DIR *d;
    int e;

    *ids = NULL;
    *n = 0;
    d = spool_list(fd);
    if (d == NULL)
        return -1;
    *ids = xmalloc(cap * sizeof(**ids));
    while ((de = spool_next(d)) != NULL) {
        if (!spool_id_is_valid(de->d_name, strlen(de->d_name)))
            continue;
        if (*n == cap) {
            cap *= 2;
            *ids = xrealloc(*ids, cap * sizeof(**ids));
        }
        memcpy((*ids)[(*n)++], de->d_name, SPOOL_ID_LEN + 1);
    }
    e = errno;
    (void)closedir(d);
    if (e != 0) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        errno = e;
        return -1;
    }
    qsort(*ids, *n, sizeof(**ids), spool_id_cmp);
    return 0;
}

void
spool_set_commit_hook(struct spool *sp, spool_hook_fn *fn, void *arg)
{
    sp->hook = fn;
    sp->hook_arg = arg;
}

int
spool_chown(struct spool *sp, uid_t uid, gid_t gid, char *err, size_t errcap)
{
    const int dirs[] = {sp->dir_fd, sp->tmp_fd, sp->queue_fd, sp->quarantine_fd};
    DIR *d;
    struct dirent *de;

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        if (fchown(dirs[i], uid, gid) == -1) {
            (void)str_fmt(err, errcap, "%s: chown: %s", sp->dir, strerror(errno));
            return -1;
        }
    }
    if (fchown(sp->lock_fd, uid, gid) == -1) {
        (void)str_fmt(err, errcap, "%s/%s: chown: %s", sp->dir, SPOOL_LOCK_NAME, strerror(errno));
        return -1;
    }
    /* The messages already queued: the scheduler, running as the user, updates them. */
    d = spool_list(sp->queue_fd);
    if (d == NULL) {
        (void)str_fmt(err, errcap, "%s/queue: %s", sp->dir, strerror(errno));
        return -1;
    }
    while ((de = spool_next(d)) != NULL) {
        if (!spool_id_is_valid(de->d_name, strlen(de->d_name)))
            continue;
        if (fchownat(sp->queue_fd, de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) == -1) {
            (void)str_fmt(err, errcap, "%s/queue/%s: chown: %s", sp->dir, de->d_name,
                          strerror(errno));
            (void)closedir(d);
            return -1;
        }
    }
    (void)closedir(d);
    /* And the quarantined ones: a release copies them as the user. */
    d = spool_list(sp->quarantine_fd);
    if (d == NULL) {
        (void)str_fmt(err, errcap, "%s/quarantine: %s", sp->dir, strerror(errno));
        return -1;
    }
    while ((de = spool_next(d)) != NULL) {
        if (!spool_id_is_valid(de->d_name, strlen(de->d_name)))
            continue;
        if (fchownat(sp->quarantine_fd, de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) == -1) {
            (void)str_fmt(err, errcap, "%s/quarantine/%s: chown: %s", sp->dir, de->d_name,
                          strerror(errno));
            (void)closedir(d);
            return -1;
        }
    }
    (void)closedir(d);
    return 0;
}
