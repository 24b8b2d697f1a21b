/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the sensor's SYN parser (sensor/syn.c). The first
 * octet picks the link type (one of those the parser knows, or, past them,
 * the octet itself as a DLT number); the rest is the captured frame, copied
 * into a buffer of exactly its size so that ASan catches a read past it.
 * Checked besides: a frame that parses also parses, with the same result,
 * when the octets after it are present; a frame that does not parse leaves
 * the result zeroed; a Mirai SYN is IPv4 with a port pair.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <pcap/dlt.h>

#include "sensor/syn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW,
                           DLT_IPV4,   DLT_IPV6,      DLT_NULL,       DLT_LOOP};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct sensor_syn zero;
    struct sensor_syn a, b;
    unsigned char *frame;
    size_t n;
    int dlt;
    bool ok;

    if (size < 1)
        return 0;
    dlt = data[0] < sizeof dlts / sizeof dlts[0] ? dlts[data[0]] : data[0];
    n = size - 1;
    frame = malloc(n ? n : 1);
    if (frame == NULL)
        abort();
    memcpy(frame, data + 1, n);
    ok = syn_parse(dlt, frame, n, &a);
    if (!ok && memcmp(&a, &zero, sizeof a) != 0)
        abort();
    if (ok) {
        if (a.family != AF_INET && a.family != AF_INET6)
            abort();
        if (a.mirai && a.family != AF_INET)
            abort();
        /* The same frame with trailing octets (a longer capture) says the same. */
        unsigned char *longer = malloc(n + 64);

        if (longer == NULL)
            abort();
        memcpy(longer, frame, n);
        memset(longer + n, 0xa5, 64);
        if (!syn_parse(dlt, longer, n + 64, &b) || memcmp(&a, &b, sizeof a) != 0)
            abort();
        free(longer);
    }
    free(frame);
    return 0;
}
