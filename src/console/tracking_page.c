/* SPDX-License-Identifier: MIT */
/*
 * Message tracking (GET /tracking, /tracking/message): searches SPOOL/tracking.db.
 * Being built (issue 15): answers 501 until then.
 */
#include "console/console_impl.h"

void
tracking_page(struct req *q)
{
    send_error(q, 501, "Not Implemented", "This page is being built.");
}

void
tracking_message(struct req *q)
{
    send_error(q, 501, "Not Implemented", "This page is being built.");
}
