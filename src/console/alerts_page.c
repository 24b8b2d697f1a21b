/* SPDX-License-Identifier: MIT */
/*
 * The alerts (GET /alerts): rules, firing now, history.
 * Being built (issue 15): answers 501 until then.
 */
#include "console/console_impl.h"

void
alerts_page(struct req *q)
{
    send_error(q, 501, "Not Implemented", "This page is being built.");
}
