/* SPDX-License-Identifier: MIT */
/*
 * The scanners (GET /scanners): top sources, Mirai counts.
 * Being built (issue 15): answers 501 until then.
 */
#include "console/console_impl.h"

void
scanners_page(struct req *q)
{
    send_error(q, 501, "Not Implemented", "This page is being built.");
}
