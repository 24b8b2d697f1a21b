/* SPDX-License-Identifier: MIT */
/*
 * The quarantine (GET /quarantine, /quarantine/message; POST /quarantine/action).
 * Being built (issue 15): answers 501 until then.
 */
#include "console/console_impl.h"

void
quarantine_page(struct req *q)
{
    send_error(q, 501, "Not Implemented", "This page is being built.");
}

void
quarantine_message(struct req *q)
{
    send_error(q, 501, "Not Implemented", "This page is being built.");
}

void
quarantine_action(struct req *q)
{
    send_error(q, 501, "Not Implemented", "This page is being built.");
}
