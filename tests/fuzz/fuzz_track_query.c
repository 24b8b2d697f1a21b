/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for a search's filters read from text
 * (track_query_parse_field, src/track/query.c): what `gate26 track` and the
 * console's search form (query parameters of any admin's browser) give.
 * The first octet picks the filter's name, the second the limit's maximum,
 * the rest is the value. Any broken invariant aborts: a refused value
 * leaves the query as it was and says why; a taken string points into the
 * value (never copied, never past it); a limit is within 1..max; a queue id
 * is 16 upper-case hex digits.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "track/track.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static const char *const names[] = {"from", "to",    "client",     "since", "until",
                                    "id",   "limit", "message-id", "sender"};

static bool
inside(const char *p, const char *value, size_t len)
{
    return p == NULL || (p >= value && p <= value + len) || strcmp(p, "") == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct track_query q = {0}, zero = {0};
    unsigned limit_max;
    const char *name;
    char *value, why[160];
    size_t len;

    if (size < 2 || size > 8192)
        return 0;
    name = names[data[0] % (sizeof names / sizeof names[0])];
    limit_max = (unsigned)data[1] * 50; /* 0 (TRACK_LIMIT_MAX) to 12750 */
    len = size - 2;
    value = malloc(len + 1);
    CHECK(value != NULL);
    memcpy(value, data + 2, len);
    value[len] = '\0';
    len = strlen(value);
    why[0] = '\0';
    if (track_query_parse_field(&q, name, value, limit_max, why, sizeof why) == -1) {
        CHECK(why[0] != '\0' && memchr(why, '\0', sizeof why) != NULL);
        CHECK(memcmp(&q, &zero, sizeof q) == 0);
    } else {
        CHECK(inside(q.from, value, len) && inside(q.to, value, len));
        CHECK(inside(q.client, value, len) && inside(q.message_id, value, len));
        CHECK(inside(q.qid, value, len));
        if (q.qid != NULL) {
            CHECK(strlen(q.qid) == TRACK_QID_LEN);
            for (size_t i = 0; i < TRACK_QID_LEN; i++)
                CHECK((q.qid[i] >= '0' && q.qid[i] <= '9') || (q.qid[i] >= 'A' && q.qid[i] <= 'F'));
        }
        if (strcmp(name, "limit") == 0) {
            unsigned max =
                limit_max == 0 || limit_max > TRACK_LIMIT_MAX ? TRACK_LIMIT_MAX : limit_max;

            CHECK(q.limit >= 1 && q.limit <= max);
        } else {
            CHECK(q.limit == 0);
        }
    }
    free(value);
    return 0;
}
