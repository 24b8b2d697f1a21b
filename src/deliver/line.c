/* SPDX-License-Identifier: MIT */
/* One reply line out of a connection's input; see line.h. */
#include <event2/buffer.h>

#include "deliver/line.h"
#include "lib/log.h"

enum deliver_line_rc
deliver_line_take(struct evbuffer *in, char *line, size_t *len)
{
    size_t avail = evbuffer_get_length(in);
    size_t look = avail < CAP_REPLY_LINE ? avail : CAP_REPLY_LINE;
    struct evbuffer_ptr end, at;
    size_t n;

    if (avail == 0)
        return DELIVER_LINE_NONE;
    if (evbuffer_ptr_set(in, &end, look, EVBUFFER_PTR_SET) == -1)
        log_panic("evbuffer_ptr_set");
    at = evbuffer_search_range(in, "\n", 1, NULL, &end);
    if (at.pos == -1)
        return avail >= CAP_REPLY_LINE ? DELIVER_LINE_TOO_LONG : DELIVER_LINE_NONE;
    n = (size_t)at.pos + 1;
    if (evbuffer_remove(in, line, n) != (int)n)
        log_panic("evbuffer_remove");
    if (n < 2 || line[n - 2] != '\r')
        return DELIVER_LINE_BARE_LF;
    *len = n - 2;
    return DELIVER_LINE_OK;
}

const char *
deliver_line_why(enum deliver_line_rc rc)
{
    switch (rc) {
    case DELIVER_LINE_TOO_LONG:
        return "reply line too long";
    case DELIVER_LINE_BARE_LF:
        return "reply line ends in a bare LF";
    case DELIVER_LINE_NONE:
    case DELIVER_LINE_OK:
        break;
    }
    return NULL;
}
