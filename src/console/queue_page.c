/* SPDX-License-Identifier: MIT */
/*
 * The queue (GET /queue, /queue/message; POST /queue/action), over the control socket.
 * Being built (issue 15): answers 501 until then.
 */
#include "console/console_impl.h"

void
queue_page(struct req *q)
{
    send_error(q, 501, "Not Implemented", "This page is being built.");
}

void
queue_message(struct req *q)
{
    send_error(q, 501, "Not Implemented", "This page is being built.");
}

void
queue_action(struct req *q)
{
    send_error(q, 501, "Not Implemented", "This page is being built.");
}
