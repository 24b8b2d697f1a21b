/* SPDX-License-Identifier: MIT */
/*
 * Private to src/sensor: the records of the socketpair between the daemon
 * and the sensor, the pieces both sides share, and the entry points the
 * unit tests use to run each side alone (a socketpair without a fork).
 *
 * Records are fixed-size SOCK_SEQPACKET messages of fixed-width fields: a
 * message of another size, an unknown kind or a field out of range is
 * dropped by the side that reads it (the daemon does not trust the
 * sensor, which parses packets from the Internet).
 */
#ifndef GATE26_SENSOR_SENSOR_IMPL_H
#define GATE26_SENSOR_SENSOR_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sensor/sensor.h"

/* The most watched ports (sensor_ports' capacity). */
#define SENSOR_PORTS_MAX (CONF_WATCH_PORTS_MAX + 64)
/* Room for the capture filter of SENSOR_PORTS_MAX ports. */
#define SENSOR_FILTER_CAP 8192
/* A failed capture is opened again after this long. */
#define SENSOR_RETRY_SECONDS 10

/* Sensor to daemon. */
enum sensor_up_kind {
    SENSOR_UP_SYN = 1,     /* one captured SYN */
    SENSOR_UP_CAPTURE = 2, /* the capture is open (capturing 1) or not (0) now */
};

struct sensor_up {
    uint32_t kind;
    uint32_t family; /* SYN: AF_INET or AF_INET6 */
    unsigned char src[16];
    unsigned char dst[16];
    uint16_t sport, dport; /* host order */
    uint8_t mirai;         /* SYN: 0 or 1 (1 only for AF_INET) */
    uint8_t capturing;     /* CAPTURE: 0 or 1 */
    uint8_t pad[2];
};

/* Daemon to sensor. */
enum sensor_down_kind {
    SENSOR_DOWN_CONF = 1,  /* the watched ports (the filter) and the log level */
    SENSOR_DOWN_BLOCK = 2, /* add addr to set scanners (AF_INET) or scanners6 for ttl seconds */
};

struct sensor_down {
    uint32_t kind;
    uint32_t log_level; /* CONF: enum log_level */
    uint32_t n_ports;   /* CONF: 1..SENSOR_PORTS_MAX */
    uint16_t ports[SENSOR_PORTS_MAX];
    uint32_t family; /* BLOCK */
    unsigned char addr[16];
    uint32_t ttl; /* BLOCK: seconds, 1.. */
};

/*
 * The pcap filter of ports (n of them, 1..SENSOR_PORTS_MAX): TCP SYNs
 * without ACK to those ports, IPv4 (tcp[tcpflags]) and IPv6 (a TCP header
 * right after the fixed header: libpcap cannot index IPv6's upper layer),
 * into buf (capacity cap). Returns 0, or -1 when it does not fit.
 */
int sensor_filter(const unsigned *ports, size_t n, char *buf, size_t cap);

/* A SYN record as the sensor sends it. */
void sensor_up_syn(const struct sensor_syn *syn, struct sensor_up *out);

/*
 * Checks a record read from the sensor (len octets). Returns the kind with
 * *syn (SYN) or *capturing (CAPTURE) filled, or 0 with what is wrong in why
 * (capacity whycap).
 */
int sensor_up_check(const struct sensor_up *u, size_t len, struct sensor_syn *syn, bool *capturing,
                    char *why, size_t whycap);

/*
 * The daemon's side over fd (one end of a SOCK_SEQPACKET socketpair, made
 * non-blocking here) for the child pid (-1: none to wait for), as
 * sensor_start() makes it; block tells whether the sensor may block.
 * For the unit tests. Free with sensor_stop().
 */
struct sensor *sensor_open_fd(int fd, pid_t pid, bool block);

/* What the sensor child does and may do (decided by the daemon before the fork). */
struct sensor_child_conf {
    char capture[16]; /* "": no capture */
    bool block;       /* keep CAP_NET_ADMIN for nft */
    bool as_root;     /* started as root: become uid/gid */
    uid_t uid;
    gid_t gid;
    pid_t parent;
    unsigned ports[SENSOR_PORTS_MAX];
    size_t n_ports;
};

/* The sensor child: runs on fd until the daemon's end closes; never returns. */
_Noreturn void sensor_child_main(int fd, const struct sensor_child_conf *cc);

/*
 * A BLOCK record (len octets, as read) carried out: checked, then the nft
 * command run. Returns 0 (logged event=scanner-blocked), or -1 with the
 * reason in err (logged by the caller). For the unit tests and the child.
 */
int sensor_child_block(const struct sensor_down *d, size_t len, char *err, size_t errcap);

#endif
