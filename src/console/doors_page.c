/* SPDX-License-Identifier: MIT */
/*
 * The doors (GET /doors): settings, the check from outside, certificate expiry.
 * Being built (issue 15): answers 501 until then.
 */
#include "console/console_impl.h"

void
doors_page(struct req *q)
{
    send_error(q, 501, "Not Implemented", "This page is being built.");
}
