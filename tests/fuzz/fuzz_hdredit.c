/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the header editor (checks/hdredit.c). The input is
 * two octets of settings (the cap in units of 16 octets, 0: 64 KiB; bit 0
 * of the second: drop Authentication-Results of "gw.example"), then,
 * separated by NULs: the header section, the top fields, and up to 32
 * changes, each a kind octet (low 2 bits), an index octet, the name and
 * the value. The invariants: an edit that succeeds is within the cap,
 * parses as header fields, has only CR LF line ends, no empty line, its
 * last line ended; with nothing to do it gives the section back with its
 * line ends made CR LF. The body's line ends: each CR before an LF, each
 * LF after a CR.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checks/hdredit.h"
#include "mailauth/msghdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next NUL-ended part of the input (the last may end without one), copied. */
static char *
next_part(const uint8_t *data, size_t size, size_t *at, size_t *len)
{
    size_t start = *at, end = start;
    char *p;

    while (end < size && data[end] != 0)
        end++;
    *len = end - start;
    p = malloc(*len + 1);
    if (p == NULL)
        abort();
    memcpy(p, data + start, *len);
    p[*len] = '\0';
    *at = end < size ? end + 1 : end;
    return p;
}

static void
check_crlf(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
            abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct milter_mod mods[32];
    size_t n_mods = 0, at = 2, hlen, tlen, max;
    char *header, *top, err[256];
    struct hdredit in;
    struct hdredit_result out;
    bool drop;
    int rc;

    if (size < 2)
        return 0;
    max = data[0] != 0 ? (size_t)data[0] * 16 : 65536;
    drop = data[1] & 1;
    header = next_part(data, size, &at, &hlen);
    top = next_part(data, size, &at, &tlen);
    while (at + 2 <= size && n_mods < 32) {
        struct milter_mod *md = &mods[n_mods++];
        size_t len;

        md->kind = (enum milter_mod_kind)(data[at] & 3);
        md->index = data[at + 1];
        at += 2;
        md->name = next_part(data, size, &at, &len);
        md->value = next_part(data, size, &at, &len);
    }
    in = (struct hdredit){
        .header = slice_make(header, hlen),
        .drop_authres_id = drop ? "gw.example" : NULL,
        .mods = mods,
        .n_mods = n_mods,
        .top = slice_make(top, tlen),
        .max = max,
    };
    rc = hdredit_apply(&in, &out, err, sizeof err);
    if (rc == 0) {
        struct msghdr_section h = {0};
        const char *why;

        if (out.len > max || out.text == NULL || out.text[out.len] != '\0')
            abort();
        if (msghdr_parse(&h, slice_make(out.text, out.len), out.len + 1, &why) != 0)
            abort();
        msghdr_clear(&h);
        check_crlf(out.text, out.len);
        if (out.len > 0 && (out.len < 2 || memcmp(out.text + out.len - 2, "\r\n", 2) != 0))
            abort();
        if (memmem(out.text, out.len, "\r\n\r\n", 4) != NULL ||
            (out.len >= 2 && memcmp(out.text, "\r\n", 2) == 0))
            abort();
        if (out.applied + out.ignored != n_mods)
            abort();
        if (n_mods == 0 && tlen == 0 && !drop) {
            /* Nothing to do: the section comes back, its bare LFs now CR LF. */
            size_t o = 0;

            for (size_t i = 0; i < hlen; i++) {
                if (header[i] == '\n' && (i == 0 || header[i - 1] != '\r')) {
                    if (o >= out.len || out.text[o++] != '\r')
                        abort();
                }
                if (o >= out.len || out.text[o++] != header[i])
                    abort();
            }
            if (o != out.len)
                abort();
        }
        hdredit_result_free(&out);
    } else if (strlen(err) == 0) {
        abort(); /* a refusal always says why */
    }
    {
        size_t blen;
        char *b = hdredit_body_crlf((const char *)data, size, &blen);

        check_crlf(b, blen);
        for (size_t i = 0; i < blen; i++) {
            if (b[i] == '\r' && (i + 1 == blen || b[i + 1] != '\n'))
                abort();
        }
        if (blen < size || blen > 2 * size)
            abort();
        free(b);
    }
    for (size_t k = 0; k < n_mods; k++) {
        free(mods[k].name);
        free(mods[k].value);
    }
    free(header);
    free(top);
    return 0;
}
