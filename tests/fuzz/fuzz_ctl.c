/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the control socket's request line (ctl/request.h):
 * whatever the bytes, ctl_request_parse returns 0 or -1 with a reason and
 * never reads or writes out of bounds. A request it accepts is written back
 * by ctl_request_format and parses again to the same request (one spelling
 * per request), and its selectors can be matched against a message. The
 * same bytes go to the scanners verb's parser (scanners.h): 1 with a top
 * from 1 to CTL_SCANNERS_TOP_MAX, or -1 with a reason, or 0.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/request.h"
#include "ctl/scanners.h"

static struct envelope_rcpt rcpts[] = {
    {.addr = "bob@far.test", .status = ENVELOPE_RCPT_PENDING},
    {.addr = "Postmaster", .status = ENVELOPE_RCPT_PENDING},
    {.addr = "carol@b\xc3\xbc"
             "cher.example",
     .status = ENVELOPE_RCPT_DONE},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ctl_request req, again;
    static char line[CTL_REQUEST_MAX + 2];
    struct envelope env = {.sender = "alice@home.test",
                           .client_addr = "192.0.2.7",
                           .attempts = 1,
                           .rcpts = rcpts,
                           .n_rcpts = sizeof(rcpts) / sizeof(rcpts[0])};
    char why[256];

    if (size > CTL_REQUEST_MAX)
        return 0;
    {
        size_t top = 0;
        int r;

        why[0] = '\0';
        r = ctl_scanners_parse((const char *)data, size, &top, why, sizeof(why));
        if ((r == 1 && (top < 1 || top > CTL_SCANNERS_TOP_MAX)) || (r == -1 && why[0] == '\0') ||
            r < -1 || r > 1)
            abort();
    }
    if (ctl_request_parse((const char *)data, size, &req, why, sizeof(why)) == -1) {
        if (why[0] == '\0')
            abort();
        return 0;
    }
    if (ctl_request_format(&req, line, sizeof(line)) == -1)
        abort();
    if (ctl_request_parse(line, strlen(line) - 1, &again, why, sizeof(why)) == -1 ||
        memcmp(&req, &again, sizeof(req)) != 0)
        abort();
    if (req.has_select) {
        (void)ctl_select_match(&req.sel, &env, false);
        (void)ctl_select_match(&req.sel, &env, true);
    }
    return 0;
}
