/* SPDX-License-Identifier: MIT */
/*
 * What the sensor watches, from the configuration: the ports (every door's
 * port, 26, watch { ports }), the capture filter that names them, whether
 * the capture's interface exists, and what a reload may not change.
 */
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/str.h"
#include "sensor/sensor_impl.h"

/* Port 26 is watched whatever the doors are: it is what Mirai's kin scan (docs/scanners.md). */
#define SENSOR_PORT_26 26

static unsigned
addr_port(const struct conf_addr *a)
{
    if (a->sa.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
    if (a->sa.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
    return 0;
}

size_t
sensor_ports(const struct conf *c, unsigned *ports, size_t cap)
{
    static const size_t words = 65536 / 64;
    uint64_t seen[65536 / 64];
    size_t n = 0;

    memset(seen, 0, sizeof seen);
    seen[SENSOR_PORT_26 / 64] |= UINT64_C(1) << (SENSOR_PORT_26 % 64);
    for (size_t i = 0; i < c->n_listens; i++) {
        for (size_t j = 0; j < c->listens[i].n_addrs; j++) {
            unsigned p = addr_port(&c->listens[i].addrs[j]);

            seen[p / 64] |= UINT64_C(1) << (p % 64);
        }
    }
    for (size_t i = 0; i < c->watch.n_ports; i++)
        seen[c->watch.ports[i] / 64] |= UINT64_C(1) << (c->watch.ports[i] % 64);
    seen[0] &= ~UINT64_C(1); /* port 0 is no port */
    /* Ascending; past cap the rest is not watched (cap is more than a file can name). */
    for (size_t w = 0; w < words; w++) {
        for (unsigned b = 0; seen[w] != 0 && b < 64; b++) {
            if (!(seen[w] & (UINT64_C(1) << b)))
                continue;
            if (n == cap)
                return n;
            ports[n++] = (unsigned)(w * 64 + b);
        }
    }
    return n;
}

/* Appends to buf at *used; -1 when it does not fit. */
static int filter_add(char *buf, size_t cap, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
filter_add(char *buf, size_t cap, size_t *used, const char *fmt, ...)
{
    va_list ap;
    int k;

    va_start(ap, fmt);
    k = vsnprintf(buf + *used, cap - *used, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= cap - *used)
        return -1;
    *used += (size_t)k;
    return 0;
}

int
sensor_filter(const unsigned *ports, size_t n, char *buf, size_t cap)
{
    size_t used = 0;

    if (n == 0 || cap == 0)
        return -1;
    buf[0] = '\0';
    /* IPv4: libpcap finds the TCP header past the IP options and skips later fragments. */
    if (filter_add(buf, cap, &used, "(tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and (") == -1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (filter_add(buf, cap, &used, i == 0 ? "tcp dst port %u" : " or tcp dst port %u",
                       ports[i]) == -1)
            return -1;
    }
    /* IPv6: next header TCP at octet 6, the TCP header at 40: its flags at 53, its port at 42. */
    if (filter_add(buf, cap, &used,
                   ")) or (ip6 and ip6[6] == 6 and ip6[53] & 0x12 == 0x02 and (") == -1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (filter_add(buf, cap, &used, i == 0 ? "ip6[42:2] == %u" : " or ip6[42:2] == %u",
                       ports[i]) == -1)
            return -1;
    }
    return filter_add(buf, cap, &used, "))");
}

int
sensor_check(const struct conf *c, char *err, size_t errcap)
{
    const struct conf_watch *w = &c->watch;

    if (w->capture[0] == '\0' || strcmp(w->capture, "any") == 0)
        return 0;
    if (if_nametoindex(w->capture) == 0) {
        (void)str_fmt(err, errcap,
                      "%s:%u: capture: no interface '%s' on this machine (ip link lists them; "
                      "'any' captures on all)",
                      c->path, w->capture_line, w->capture);
        return -1;
    }
    return 0;
}

/* "FILE:LINE" of line (the key's, else the block's), or "FILE" without either. */
static void
reload_at(const struct conf *c, unsigned line, char *buf, size_t cap)
{
    if (line == 0)
        line = c->watch.line;
    if (line != 0)
        (void)snprintf(buf, cap, "%s:%u", c->path, line);
    else
        (void)snprintf(buf, cap, "%s", c->path);
}

int
sensor_reload_check(const struct conf *running, const struct conf *file, char *err, size_t errcap)
{
    char at[CAP_PATH + 16];

    if (strcmp(running->watch.capture, file->watch.capture) != 0) {
        reload_at(file, file->watch.capture_line, at, sizeof at);
        (void)str_fmt(err, errcap,
                      "%s: 'capture' changes only at a restart (running with %s, the file says "
                      "%s): the capture needs privileges the daemon has dropped",
                      at, running->watch.capture[0] ? running->watch.capture : "(none)",
                      file->watch.capture[0] ? file->watch.capture : "(none)");
        return -1;
    }
    if (running->watch.block_scanners == 0 && file->watch.block_scanners != 0) {
        reload_at(file, file->watch.block_line, at, sizeof at);
        (void)str_fmt(err, errcap,
                      "%s: 'block-scanners' turned on takes a restart: the sensor keeps "
                      "CAP_NET_ADMIN only when it starts with it (a reload changes its "
                      "duration or turns it off)",
                      at);
        return -1;
    }
    return 0;
}
