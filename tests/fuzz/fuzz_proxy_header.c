/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the PROXY protocol header parser (listen/proxy_header.c).
 * Each input is parsed whole and as every shorter prefix: a prefix answers
 * "more" or exactly what the whole answers (the reader asks again as octets
 * arrive, so a later octet must never change a decision). PROXY_HEADER_MAX
 * octets always decide; a header is never longer than what was given nor
 * than its cap; an error has one of the documented words; a carried
 * address has its family's size, and a v1 TCP4 one is the text of the line
 * (IPv4 has one canonical form).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "listen/proxy_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const reasons[] = {
    "missing",     "malformed",       "too-long",       "bad-signature",
    "bad-version", "unknown-command", "unknown-family",
};

static bool
same(enum proxy_header_status a, const struct proxy_header *ha, enum proxy_header_status b,
     const struct proxy_header *hb)
{
    if (a != b)
        return false;
    if (a == PROXY_HEADER_ERROR)
        return strcmp(ha->reason, hb->reason) == 0;
    if (a == PROXY_HEADER_DONE)
        return ha->len == hb->len && ha->has_source == hb->has_source &&
               ha->source_len == hb->source_len &&
               memcmp(&ha->source, &hb->source, ha->source_len) == 0;
    return true;
}

static void
check_done(const uint8_t *data, size_t size, const struct proxy_header *h)
{
    if (h->len == 0 || h->len > size || h->len > PROXY_HEADER_MAX || h->reason != NULL)
        abort();
    if (h->version == 1 &&
        (h->len > PROXY_HEADER_V1_MAX || data[h->len - 2] != '\r' || data[h->len - 1] != '\n'))
        abort();
    if (!h->has_source)
        return;
    if (h->source.ss_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)&h->source;
        char text[INET_ADDRSTRLEN];
        size_t n;

        if (h->source_len != sizeof(*in4))
            abort();
        if (h->version == 1) {
            if (inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text)) == NULL)
                abort();
            n = strlen(text);
            if (memcmp(data, "PROXY TCP4 ", 11) != 0 || memcmp(data + 11, text, n) != 0 ||
                data[11 + n] != ' ')
                abort();
        }
    } else if (h->source.ss_family == AF_INET6) {
        if (h->source_len != sizeof(struct sockaddr_in6))
            abort();
        if (h->version == 1 && memcmp(data, "PROXY TCP6 ", 11) != 0)
            abort();
    } else {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proxy_header whole, part;
    enum proxy_header_status st, sp;
    bool known = false;

    st = proxy_header_parse(data, size, &whole);
    switch (st) {
    case PROXY_HEADER_MORE:
        if (size >= PROXY_HEADER_MAX || whole.reason != NULL)
            abort();
        break;
    case PROXY_HEADER_ERROR:
        for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
            known = known || (whole.reason != NULL && strcmp(whole.reason, reasons[i]) == 0);
        if (!known)
            abort();
        break;
    case PROXY_HEADER_DONE:
        check_done(data, size, &whole);
        break;
    default:
        abort();
    }
    /* Every prefix (up to the cap: the parser looks no further) is undecided or agrees. */
    for (size_t k = 0; k < size && k <= PROXY_HEADER_MAX; k++) {
        sp = proxy_header_parse(data, k, &part);
        if (sp != PROXY_HEADER_MORE && !same(sp, &part, st, &whole))
            abort();
    }
    return 0;
}
