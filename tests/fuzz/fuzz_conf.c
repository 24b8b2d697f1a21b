/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the configuration parser: any text either loads into a
 * valid struct conf or is refused with one "FILE:LINE: ..." message; never
 * a crash, a leak or an unterminated message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    struct conf *c;

    memset(err, 'x', sizeof(err));
    c = conf_load_text("/tmp/fuzz.conf", (const char *)data, size, err, sizeof(err));
    if (c == NULL) {
        if (memchr(err, '\0', sizeof(err)) == NULL || strncmp(err, "/tmp/fuzz.conf", 14) != 0)
            abort();
        return 0;
    }
    if (c->n_listens == 0)
        abort();
    conf_unref(c);
    return 0;
}
