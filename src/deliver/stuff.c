/* SPDX-License-Identifier: MIT */
/* Dot-stuffing and the end of data, RFC 5321 4.5.2 and 4.1.1.4; see stuff.h. */
#include <string.h>

#include "deliver/stuff.h"

void
deliver_stuff_init(struct deliver_stuff *st)
{
    st->line_start = true;
    st->cr = false;
}

size_t
deliver_stuff(struct deliver_stuff *st, const char *in, size_t len, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        char ch = in[i];

        if (st->cr) {
            /* CR LF, or a bare CR: either way one line end goes out. */
            st->cr = false;
            out[o++] = '\r';
            out[o++] = '\n';
            st->line_start = true;
            if (ch == '\n')
                continue;
        }
        if (ch == '\r') {
            st->cr = true;
        } else if (ch == '\n') {
            out[o++] = '\r'; /* a bare LF */
            out[o++] = '\n';
            st->line_start = true;
        } else {
            if (ch == '.' && st->line_start)
                out[o++] = '.';
            out[o++] = ch;
            st->line_start = false;
        }
    }
    return o;
}

size_t
deliver_stuff_end(struct deliver_stuff *st, char *out)
{
    size_t o = 0;

    if (st->cr || !st->line_start) {
        out[o++] = '\r';
        out[o++] = '\n';
    }
    memcpy(out + o, ".\r\n", 3);
    o += 3;
    st->cr = false;
    st->line_start = true;
    return o;
}
