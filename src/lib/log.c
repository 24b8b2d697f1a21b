/* SPDX-License-Identifier: MIT */
/*
 * Log lines to standard error, or to the journal when standard error is its
 * stream (log_journal.h); see log.h.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "lib/caps.h"
#include "lib/log.h"
#include "lib/log_journal.h"

static enum log_level log_min = LOG_LEVEL_INFO;
static pid_t log_pid; /* getpid() is a system call in glibc: asked once per process */

static void
log_forget_pid(void)
{
    log_pid = 0;
}

static long
log_get_pid(void)
{
    if (log_pid == 0) {
        static bool registered;

        if (!registered && pthread_atfork(NULL, NULL, log_forget_pid) == 0)
            registered = true;
        log_pid = getpid();
    }
    return (long)log_pid;
}

/*
 * The journal: decided once per process, at its first line. A forked child
 * (the sensor) must not send through the socket libsystemd opened in its
 * parent: the child closes the descriptors it does not need, and the number
 * may come back as another socket. Its lines go to standard error, still the
 * journal's stream, with the priority as the "<N>" prefix the journal reads
 * there (SyslogLevelPrefix=, on by default).
 */
static pthread_once_t log_journal_once = PTHREAD_ONCE_INIT;
static bool log_to_journal;
static bool log_journal_forked;

static void
log_journal_fork_child(void)
{
    log_journal_forked = true;
}

static void
log_journal_init(void)
{
    struct stat st;

    /* libsystemd drops a line silently when the journal's socket is missing (ENOENT), so a
     * journal that is not there is asked for here, once; other failures come back per line. */
    if (fstat(STDERR_FILENO, &st) == 0 &&
        log_journal_names(getenv("JOURNAL_STREAM"), (uint64_t)st.st_dev, (uint64_t)st.st_ino) &&
        access(LOG_JOURNAL_SOCKET, F_OK) == 0)
        log_to_journal = pthread_atfork(NULL, NULL, log_journal_fork_child) == 0;
}

static const char *const log_names[] = {
    [LOG_LEVEL_DEBUG] = "debug",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_WARNING] = "warning",
    [LOG_LEVEL_ERROR] = "error",
};

void
log_set_level(enum log_level level)
{
    log_min = level;
}

bool
log_enabled(enum log_level level)
{
    return level >= log_min;
}

int
log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
        if (strcmp(name, log_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *
log_level_name(enum log_level level)
{
    return log_names[level];
}

/* The syslog priority of each level, for the journal. */
static const int log_priorities[] = {
    [LOG_LEVEL_DEBUG] = LOG_DEBUG,
    [LOG_LEVEL_INFO] = LOG_INFO,
    [LOG_LEVEL_WARNING] = LOG_WARNING,
    [LOG_LEVEL_ERROR] = LOG_ERR,
};

/*
 * The line's text from its level word on (msg[0..len), its LF after it):
 * what the journal gets as MESSAGE=, since it keeps the time, the name and
 * the pid itself. Returns true when the journal has it.
 */
static bool
log_journal_line(int prio, const char *msg, size_t len)
{
    char tag[4] = {'<', (char)('0' + prio), '>', '\0'};
    struct iovec iov[2] = {{.iov_base = tag, .iov_len = 3},
                           {.iov_base = (char *)msg, .iov_len = len + 1}};

    (void)pthread_once(&log_journal_once, log_journal_init);
    if (!log_to_journal)
        return false;
    if (log_journal_forked) {
        (void)!writev(STDERR_FILENO, iov, 2);
        return true;
    }
    return log_journal_send(prio, msg, len) == 0;
}

static void log_vwrite(const char *level, int prio, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
log_vwrite(const char *level, int prio, const char *fmt, va_list ap)
{
    char line[CAP_LOG_LINE];
    struct timespec now;
    struct tm tm;
    size_t n, m;
    int k;

    (void)clock_gettime(CLOCK_REALTIME, &now);
    (void)gmtime_r(&now.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    k = snprintf(line + n, sizeof(line) - n, ".%03ldZ gate26[%ld]: ", now.tv_nsec / 1000000,
                 log_get_pid());
    if (k > 0)
        n += (size_t)k;
    m = n; /* the level word starts here */
    k = snprintf(line + n, sizeof(line) - n, "%s: ", level);
    if (k > 0)
        n += (size_t)k;
    k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (k < 0)
        k = 0;
    n += (size_t)k;
    if (n > sizeof(line) - 2) {
        /* Cut overlong lines visibly rather than silently. */
        n = sizeof(line) - 5;
        memcpy(line + n, "...", 3);
        n += 3;
    }
    line[n] = '\n';
    if (log_journal_line(prio, line + m, n - m))
        return;
    (void)!write(STDERR_FILENO, line, n + 1);
}

void
log_write(enum log_level level, const char *fmt, ...)
{
    va_list ap;

    if (level < log_min)
        return;
    va_start(ap, fmt);
    log_vwrite(log_names[level], log_priorities[level], fmt, ap);
    va_end(ap);
}

void
log_panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite("panic", LOG_CRIT, fmt, ap);
    va_end(ap);
    abort();
}

const char *
log_quote(char *dst, size_t cap, const char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t take = len > CAP_LOG_PEER ? CAP_LOG_PEER : len;
    size_t o = 0;

    if (cap < LOG_QUOTE_CAP)
        log_panic("log_quote: buffer of %zu bytes is too small", cap);
    for (size_t i = 0; i < take; i++) {
        unsigned char ch = (unsigned char)p[i];

        if (ch == '"' || ch == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)ch;
        } else if (ch >= 0x20 && ch < 0x7f) {
            dst[o++] = (char)ch;
        } else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[ch >> 4];
            dst[o++] = hex[ch & 15];
        }
    }
    if (take < len) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
    return dst;
}

const char *
log_angle(char *dst, size_t cap, const char *p, size_t len)
{
    bool plain = len <= CAP_LOG_PEER;

    if (cap < LOG_ANGLE_CAP)
        log_panic("log_angle: buffer of %zu bytes is too small", cap);
    for (size_t i = 0; i < len && plain; i++) {
        unsigned char ch = (unsigned char)p[i];

        plain = ch > ' ' && ch < 0x7f && strchr(",\"\\<>", ch) == NULL;
    }
    if (plain) {
        dst[0] = '<';
        memcpy(dst + 1, p, len);
        memcpy(dst + 1 + len, ">", 2);
        return dst;
    }
    memcpy(dst, "\"<", 2);
    (void)log_quote(dst + 2, cap - 2, p, len);
    len = strlen(dst);
    memcpy(dst + len, ">\"", 3);
    return dst;
}

/* One dialogue line, without its CR LF. */
static void
log_dialogue_line(const char *id, const char *key, const char *val, const char *dir, const char *p,
                  size_t len)
{
    char q[LOG_QUOTE_CAP];

    log_write(LOG_LEVEL_DEBUG, "%s: %s=%s, dir=%s, line=\"%s\"", id, key, val, dir,
              log_quote(q, sizeof(q), p, len));
}

void
log_dialogue(const char *id, const char *key, const char *val, const char *dir, const char *p,
             size_t len)
{
    size_t start = 0, i = 0;

    /* Only CR LF ends a line: a bare LF stays in it, escaped, as the peer sent it. */
    while (i < len) {
        const char *lf = memchr(p + i, '\n', len - i);
        size_t at;

        if (lf == NULL)
            break;
        at = (size_t)(lf - p);
        if (at > start && p[at - 1] == '\r') {
            log_dialogue_line(id, key, val, dir, p + start, at - 1 - start);
            start = at + 1;
        }
        i = at + 1;
    }
    if (start < len)
        log_dialogue_line(id, key, val, dir, p + start, len - start);
}

size_t
log_auth_shown(const char *p, size_t len)
{
    size_t mech = 0;

    if (len < 5 || strncasecmp(p, "AUTH ", 5) != 0)
        return 0;
    while (5 + mech < len && mech <= 20) {
        unsigned char ch = (unsigned char)p[5 + mech];

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            break;
        mech++;
    }
    /* A mechanism name ends the line or is followed by SP; anything else is not shown. */
    if (mech == 0 || mech > 20 || (5 + mech < len && p[5 + mech] != ' '))
        return 4;
    return 5 + mech;
}

void
log_dialogue_redacted(const char *id, const char *key, const char *val, const char *dir,
                      const char *shown, size_t shown_len, size_t redacted)
{
    char q[LOG_QUOTE_CAP];

    if (shown_len == 0)
        log_write(LOG_LEVEL_DEBUG, "%s: %s=%s, dir=%s, redacted=%zu", id, key, val, dir, redacted);
    else
        log_write(LOG_LEVEL_DEBUG, "%s: %s=%s, dir=%s, line=\"%s\", redacted=%zu", id, key, val,
                  dir, log_quote(q, sizeof(q), shown, shown_len), redacted);
}
