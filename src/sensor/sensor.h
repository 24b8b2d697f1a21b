/* SPDX-License-Identifier: MIT */
/*
 * The sensor (docs/scanners.md, "Why a sensor process"): a child process
 * forked by `gate26 serve` before privileges drop, when the configuration's
 * watch block captures (`capture`) or blocks (`block-scanners`). It becomes
 * the gateway's user keeping only CAP_NET_RAW (capture) and CAP_NET_ADMIN
 * (block-scanners), captures TCP SYNs without ACK to the watched ports with
 * libpcap, parses them (syn.h) and sends each up to the daemon as a
 * struct sensor_syn; it adds addresses to nftables set `scanners` (or
 * `scanners6`) of table inet gate26 when asked. A capture error is logged
 * and the capture reopened (every 10 s), never fatal.
 *
 * The daemon side (this header) reads the sensor's records on the loop and
 * never waits for it: requests are fixed records written non-blocking on a
 * SOCK_SEQPACKET socketpair; if the sensor is gone or its socket full they
 * are dropped (logged once). The sensor exits when the daemon's end closes.
 *
 * Threads: the loop's only.
 */
#ifndef GATE26_SENSOR_SENSOR_H
#define GATE26_SENSOR_SENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

struct event_base;
struct sensor;

/* One captured SYN (addresses in network order). */
struct sensor_syn {
    int family;            /* AF_INET or AF_INET6 */
    unsigned char src[16]; /* 4 or 16 octets */
    unsigned char dst[16];
    uint16_t sport, dport;
    bool mirai; /* IPv4 and the sequence number equals the destination address */
};

typedef void sensor_syn_fn(void *arg, const struct sensor_syn *syn);

/*
 * The watched ports of c: every door's ports, 26, and watch { ports }, each
 * once, ascending, into ports (capacity cap, at least
 * CONF_WATCH_PORTS_MAX + 64). Returns how many.
 */
size_t sensor_ports(const struct conf *c, unsigned *ports, size_t cap);

/*
 * What serve and configtest refuse about c's watch block that the parser
 * cannot know (preflight_start asks it): 0, or -1 with "FILE:LINE:
 * capture: no interface 'X' on this machine ..." in err when `capture`
 * names an interface that does not exist (if_nametoindex).
 */
int sensor_check(const struct conf *c, char *err, size_t errcap);

/*
 * Starts the sensor for c, as serve does before privileges drop (so: as
 * root, or as a user that may capture). Returns NULL and *err "" when c
 * needs none (no watch block, or neither capture nor block-scanners).
 * Returns NULL with "FILE:LINE: ..." in err for what configtest must also
 * refuse: an interface that does not exist. When the process may not
 * capture (not root, no CAP_NET_RAW), the sensor runs without capture and
 * says so once (event=capture-unavailable); that is not an error.
 */
struct sensor *sensor_start(const struct conf *c, char *err, size_t errcap);

/*
 * Reads the sensor's SYNs on base and calls fn(arg, syn) for each, until
 * sensor_stop(). Each is also logged at debug level (event=syn).
 */
void sensor_attach(struct sensor *s, struct event_base *base, sensor_syn_fn *fn, void *arg);

/* A reload: the new watched ports (the capture's filter) and block-scanners. */
void sensor_set_conf(struct sensor *s, const struct conf *c);

/*
 * What a reload from running to file may not change (the capture and its
 * interface need the privileges the daemon has dropped; so does turning
 * block-scanners on where it was off, since the sensor got CAP_NET_ADMIN at
 * start or never): 0, or -1 with "FILE:LINE: 'capture' changes only at a
 * restart ..." or "FILE:LINE: 'block-scanners' turned on takes a restart
 * ..." in err.
 */
int sensor_reload_check(const struct conf *running, const struct conf *file, char *err,
                        size_t errcap);

/*
 * Asks the sensor to add addr (family AF_INET: set scanners; AF_INET6:
 * scanners6) to table inet gate26 for ttl seconds. Non-blocking, best
 * effort: the sensor logs the outcome (event=scanner-blocked, or why not:
 * no table, no CAP_NET_ADMIN). s NULL: nothing.
 */
void sensor_block(struct sensor *s, int family, const unsigned char *addr, unsigned ttl);

/* True when the sensor captures now (for `gate26 scanners` and metrics). */
bool sensor_capturing(const struct sensor *s);

/* Closes the daemon's end, waits (bounded) for the child and frees. NULL: nothing. */
void sensor_stop(struct sensor *s);

#endif
