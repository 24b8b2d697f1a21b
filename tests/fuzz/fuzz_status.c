/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the printer of `gate26 status` (ctl/status.h): the
 * client reads the daemon's answer with jansson, and whatever document
 * comes, ctl_status_print writes its table without a crash, without a
 * control character of the document (colour off), and with lines of
 * bounded length; ctl_status_exit says 0 or 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    char *text = NULL;
    size_t len = 0, line = 0;
    FILE *f;
    int e;

    if (doc == NULL)
        return 0;
    f = open_memstream(&text, &len);
    if (f == NULL)
        abort();
    if (ctl_status_print(f, doc, false) != 0 || fclose(f) != 0)
        abort();
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];

        if (ch == '\n') {
            line = 0;
            continue;
        }
        if (ch < 0x20 || ch >= 0x7f || ++line > 4096)
            abort();
    }
    free(text);
    e = ctl_status_exit(doc);
    if (e != 0 && e != 1)
        abort();
    json_decref(doc);
    return 0;
}
