/* SPDX-License-Identifier: MIT */
/* Fault injection counters; see fault.h. Thread-safe: the spool's commit
 * thread and the event loop both count. */
#include "lib/fault.h"

#ifdef GATE26_FAULTS
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lib/num.h"

static const char *const fault_names[FAULT_POINT_COUNT] = {
    [FAULT_OPEN] = "open",     [FAULT_WRITE] = "write",   [FAULT_FSYNC] = "fsync",
    [FAULT_SYNCFS] = "syncfs", [FAULT_RENAME] = "rename",
};

static struct {
    unsigned long nth;
    bool and_later;
    int err;
    atomic_ulong calls;
} fault_plan[FAULT_POINT_COUNT];

/* Cuts the next ':'-separated field off *rest; NULL when none is left. */
static char *
fault_field(char **rest)
{
    char *field = *rest;
    char *colon;

    if (field == NULL)
        return NULL;
    colon = strchr(field, ':');
    if (colon != NULL) {
        *colon = '\0';
        *rest = colon + 1;
    } else {
        *rest = NULL;
    }
    return field;
}

/* Sets up one "point:N[+][:ERR]" spec (NUL-terminated, modified). Returns 0 or -1. */
static int
fault_plan_one(char *spec)
{
    char *rest = spec, *point, *nth, *err;
    uint64_t n;
    size_t len;

    point = fault_field(&rest);
    nth = fault_field(&rest);
    err = fault_field(&rest);
    if (point == NULL || nth == NULL || rest != NULL)
        return -1;
    for (int i = 0; i < FAULT_POINT_COUNT; i++) {
        if (strcmp(point, fault_names[i]) != 0)
            continue;
        len = strlen(nth);
        fault_plan[i].and_later = len > 0 && nth[len - 1] == '+';
        if (num_parse_u64(slice_make(nth, len - fault_plan[i].and_later), 1, 1000000000, &n) == -1)
            return -1;
        fault_plan[i].nth = (unsigned long)n;
        fault_plan[i].err = EIO;
        if (err != NULL && strcmp(err, "ENOSPC") == 0)
            fault_plan[i].err = ENOSPC;
        else if (err != NULL && strcmp(err, "EIO") != 0)
            return -1;
        return 0;
    }
    return -1;
}

int
fault_init(void)
{
    const char *env = getenv("GATE26_FAULT");
    char buf[256];
    char *spec = buf;

    if (env == NULL || *env == '\0')
        return 0;
    if (strlen(env) >= sizeof(buf))
        return -1;
    memcpy(buf, env, strlen(env) + 1);
    while (spec != NULL) {
        char *comma = strchr(spec, ',');

        if (comma != NULL)
            *comma = '\0';
        if (fault_plan_one(spec) == -1)
            return -1;
        spec = comma != NULL ? comma + 1 : NULL;
    }
    return 0;
}

bool
fault_hit(enum fault_point point)
{
    unsigned long call;

    if (fault_plan[point].nth == 0)
        return false;
    call = atomic_fetch_add(&fault_plan[point].calls, 1) + 1;
    if (call == fault_plan[point].nth ||
        (fault_plan[point].and_later && call > fault_plan[point].nth)) {
        errno = fault_plan[point].err;
        return true;
    }
    return false;
}
#endif
