/* SPDX-License-Identifier: MIT */
/*
 * A search's filters from text (track.h, track_query_parse_field): the one
 * reading of `gate26 track --NAME VALUE` (track_cli.c) and of the console's
 * search form (src/console/tracking_page.c), so that both take the same
 * values and refuse the same ones. Times are RFC 3339 date-times (RFC 3339
 * 5.6) or durations back from now.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/caps.h"
#include "lib/num.h"
#include "lib/slice.h"
#include "lib/str.h"
#include "track/track.h"

/* n decimal digits at p into *out; false when one is not a digit. */
static bool
digits(const char *p, size_t n, int *out)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

static bool
is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's days_from_civil). */
static int64_t
days_from_civil(int y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/*
 * date-time = full-date "T" full-time (RFC 3339 5.6): YYYY-MM-DDTHH:MM:SS,
 * an optional fraction, then "Z" or +HH:MM / -HH:MM. "t", "z" and a space
 * for "T" are taken too (5.6, NOTE). Into microseconds since the epoch.
 */
static int
parse_rfc3339(const char *s, int64_t *out)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh = 0, om = 0;
    int64_t frac = 0, scale = 100000, t;
    size_t len = strlen(s), i = 19;
    int sign = 0;

    if (len < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && is_leap(y)) || h > 23 ||
        mi > 59 || sec > 60)
        return -1;
    if (s[i] == '.') {
        size_t n = 0;

        for (i++; s[i] >= '0' && s[i] <= '9'; i++, n++) {
            frac += scale * (s[i] - '0');
            scale /= 10;
        }
        if (n == 0)
            return -1;
    }
    if ((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0') {
        sign = 0;
    } else if ((s[i] == '+' || s[i] == '-') && strlen(s + i) == 6 && digits(s + i + 1, 2, &oh) &&
               s[i + 3] == ':' && digits(s + i + 4, 2, &om) && oh <= 23 && om <= 59) {
        sign = s[i] == '+' ? 1 : -1;
    } else {
        return -1;
    }
    if (sec == 60)
        sec = 59; /* a leap second is the last second of its minute here */
    t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
    *out = t * 1000000 + frac;
    return 0;
}

/* T: RFC 3339, or a duration back from now (N then s, m, h, d or w; up to 10 years). */
static int
parse_when(const char *s, int64_t *out)
{
    static const struct {
        char unit;
        uint64_t seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
    size_t len = strlen(s);
    uint64_t n;

    if (parse_rfc3339(s, out) == 0)
        return 0;
    if (len < 2)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (s[len - 1] != units[i].unit)
            continue;
        if (num_parse_u64(slice_make(s, len - 1), 0, 10u * 366 * 86400 / units[i].seconds, &n) ==
            -1)
            return -1;
        *out = ((int64_t)time(NULL) - (int64_t)(n * units[i].seconds)) * 1000000;
        return 0;
    }
    return -1;
}

/* A queue id: TRACK_QID_LEN upper-case hex digits (as the spool makes them). */
static bool
is_qid(const char *s)
{
    size_t n = strlen(s);

    if (n != TRACK_QID_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    }
    return true;
}

enum qf {
    QF_FROM,
    QF_TO,
    QF_CLIENT,
    QF_SINCE,
    QF_UNTIL,
    QF_ID,
    QF_MESSAGE_ID,
    QF_LIMIT,
};

/* The filters by name, with the most octets a value may have. */
static const struct {
    const char *name;
    enum qf which;
    size_t max;
} filters[] = {
    {"from", QF_FROM, CAP_MAILBOX},
    {"to", QF_TO, CAP_MAILBOX},
    {"client", QF_CLIENT, TRACK_CLIENT_MAX},
    {"since", QF_SINCE, TRACK_TIME_MAX},
    {"until", QF_UNTIL, TRACK_TIME_MAX},
    {"id", QF_ID, TRACK_QID_LEN},
    {"message-id", QF_MESSAGE_ID, CAP_MESSAGE_ID + 2},
    {"limit", QF_LIMIT, 10},
};

int
track_query_parse_field(struct track_query *q, const char *name, const char *value,
                        unsigned limit_max, char *why, size_t whycap)
{
    size_t i, len = strlen(value);
    uint64_t limit;

    for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
        if (strcmp(filters[i].name, name) == 0)
            break;
    }
    if (i == sizeof(filters) / sizeof(filters[0])) {
        (void)str_copyz(why, whycap, "a known filter");
        return -1;
    }
    /* Too long is said first: it is not worth reading further. */
    if (len > filters[i].max && filters[i].which != QF_ID) {
        (void)str_fmt(why, whycap, "at most %zu octets", filters[i].max);
        return -1;
    }
    switch (filters[i].which) {
    case QF_FROM:
        /* "<>" is the null sender, stored as "". */
        q->from = strcmp(value, "<>") == 0 ? "" : value;
        return 0;
    case QF_TO:
        q->to = value;
        return 0;
    case QF_CLIENT:
        q->client = value;
        return 0;
    case QF_MESSAGE_ID:
        q->message_id = value;
        return 0;
    case QF_SINCE:
    case QF_UNTIL:
        if (parse_when(value, filters[i].which == QF_SINCE ? &q->since : &q->until) == -1) {
            (void)str_copyz(why, whycap,
                            "an RFC 3339 time (2026-12-07T10:00:00Z) or a duration (2h)");
            return -1;
        }
        return 0;
    case QF_ID:
        if (!is_qid(value)) {
            (void)str_fmt(why, whycap, "a queue id (%d hex digits, upper case)", TRACK_QID_LEN);
            return -1;
        }
        q->qid = value;
        return 0;
    case QF_LIMIT:
        if (limit_max == 0 || limit_max > TRACK_LIMIT_MAX)
            limit_max = TRACK_LIMIT_MAX;
        if (num_parse_u64(slice_make(value, len), 1, limit_max, &limit) == -1) {
            (void)str_fmt(why, whycap, "a number from 1 to %u", limit_max);
            return -1;
        }
        q->limit = (unsigned)limit;
        return 0;
    }
    (void)str_copyz(why, whycap, "a known filter");
    return -1;
}
