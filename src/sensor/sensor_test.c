/* SPDX-License-Identifier: MIT */
/*
 * The sensor without its fork: the watched ports of a configuration, the
 * capture filter (compiled by libpcap and run on frames), the interface
 * check, what a reload may not change, the records from the sensor (hostile
 * ones dropped), the daemon's side on a socketpair (SYNs read on the loop,
 * requests written without ever blocking, the sensor's end closing), and a
 * block request carried from sensor_block() to an element of nftables set
 * scanners, in a network namespace of the test's own (skipped without
 * root).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <pcap/pcap.h>

#include "firewall/firewall.h"
#include "sensor/sensor_impl.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define PATH    "/etc/gate26/test.conf"

static struct conf *
conf_of(const char *text)
{
    char err[1024];
    struct conf *c = conf_load_text(PATH, text, strlen(text), err, sizeof err);

    if (c == NULL) {
        print_error("%s\n", err);
        fail();
    }
    return c;
}

#define DOORS                                                                                      \
    "listen inbound {\n address 127.0.0.1:2525\n address [::1]:2525\n}\n"                          \
    "listen internal {\n address 127.0.0.1:2626\n allow 127.0.0.0/8\n}\n"                          \
    "domain example.com {\n}\n"

/* ---- Ports ---- */

static void
test_ports(void **state)
{
    unsigned ports[SENSOR_PORTS_MAX];
    struct conf *c;
    size_t n;

    (void)state;
    c = conf_of(DOORS);
    n = sensor_ports(c, ports, N_OF(ports));
    assert_int_equal(n, 3);
    assert_int_equal(ports[0], 26);
    assert_int_equal(ports[1], 2525);
    assert_int_equal(ports[2], 2626);
    conf_unref(c);

    c = conf_of(DOORS "watch {\n capture any\n ports 65535 2626 26 1 2700\n}\n");
    n = sensor_ports(c, ports, N_OF(ports));
    assert_int_equal(n, 6);
    assert_int_equal(ports[0], 1);
    assert_int_equal(ports[1], 26);
    assert_int_equal(ports[2], 2525);
    assert_int_equal(ports[3], 2626);
    assert_int_equal(ports[4], 2700);
    assert_int_equal(ports[5], 65535);
    /* A short buffer takes the lowest. */
    assert_int_equal(sensor_ports(c, ports, 2), 2);
    assert_int_equal(ports[1], 26);
    conf_unref(c);
}

/* ---- The capture filter ---- */

/* An Ethernet frame (or SLL2, or raw) of a TCP segment, IPv4 or IPv6. */
static size_t
frame(int dlt, int v, unsigned dport, unsigned flags, unsigned char *b)
{
    size_t at = 0, ip;

    memset(b, 0, 128);
    if (dlt == DLT_EN10MB) {
        b[12] = v == 6 ? 0x86 : 0x08;
        b[13] = v == 6 ? 0xdd : 0x00;
        at = 14;
    } else if (dlt == DLT_LINUX_SLL2) {
        b[0] = v == 6 ? 0x86 : 0x08;
        b[1] = v == 6 ? 0xdd : 0x00;
        b[9] = 1; /* ARPHRD_ETHER */
        at = 20;
    }
    ip = at;
    if (v == 4) {
        b[at] = 0x45;
        b[at + 3] = 40;
        b[at + 8] = 64;
        b[at + 9] = 6;
        b[at + 12] = 192, b[at + 15] = 7;
        b[at + 16] = 198, b[at + 19] = 26;
        at += 20;
    } else {
        b[at] = 0x60;
        b[at + 5] = 20;
        b[at + 6] = 6;
        b[at + 7] = 64;
        b[at + 8] = 0x20, b[at + 23] = 7;
        b[at + 24] = 0x20, b[at + 39] = 26;
        at += 40;
    }
    (void)ip;
    b[at + 0] = 0x9c, b[at + 1] = 0x40;
    b[at + 2] = (unsigned char)(dport >> 8), b[at + 3] = (unsigned char)dport;
    b[at + 12] = 5 << 4;
    b[at + 13] = (unsigned char)flags;
    return at + 20;
}

static void
test_filter(void **state)
{
    static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL2, DLT_RAW};
    static const unsigned ports[] = {26, 2525, 65535};
    unsigned many[SENSOR_PORTS_MAX];
    char expr[SENSOR_FILTER_CAP];

    (void)state;
    assert_int_equal(sensor_filter(ports, N_OF(ports), expr, sizeof expr), 0);
    assert_string_equal(expr, "(tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and (tcp dst port "
                              "26 or tcp dst port 2525 or tcp dst port 65535)) or (ip6 and "
                              "ip6[6] == 6 and ip6[53] & 0x12 == 0x02 and (ip6[42:2] == 26 or "
                              "ip6[42:2] == 2525 or ip6[42:2] == 65535))");
    for (size_t i = 0; i < N_OF(dlts); i++) {
        pcap_t *dead = pcap_open_dead(dlts[i], 128);
        struct bpf_program prog;
        struct pcap_pkthdr h = {0};
        unsigned char b[128];
        static const struct {
            int v;
            unsigned port, flags;
            bool match;
        } rows[] = {
            {4, 26, 0x02, true},    {4, 2525, 0x02, true}, {4, 65535, 0xc2, true},
            {4, 25, 0x02, false},   {4, 26, 0x12, false},  {4, 26, 0x10, false},
            {4, 26, 0x00, false},   {6, 26, 0x02, true},   {6, 65535, 0x02, true},
            {6, 2526, 0x02, false}, {6, 26, 0x12, false},  {6, 26, 0x04, false},
        };

        assert_non_null(dead);
        assert_int_equal(pcap_compile(dead, &prog, expr, 1, PCAP_NETMASK_UNKNOWN), 0);
        for (size_t r = 0; r < N_OF(rows); r++) {
            h.caplen = h.len =
                (bpf_u_int32)frame(dlts[i], rows[r].v, rows[r].port, rows[r].flags, b);
            if ((pcap_offline_filter(&prog, &h, b) != 0) != rows[r].match) {
                print_error("dlt %d row %zu: filter says %d\n", dlts[i], r, !rows[r].match);
                fail();
            }
        }
        pcap_freecode(&prog);
        pcap_close(dead);
    }
    /* The most ports fit, and compile. */
    for (size_t i = 0; i < N_OF(many); i++)
        many[i] = (unsigned)(65535 - i);
    assert_int_equal(sensor_filter(many, N_OF(many), expr, sizeof expr), 0);
    {
        pcap_t *dead = pcap_open_dead(DLT_LINUX_SLL2, 128);
        struct bpf_program prog;

        assert_int_equal(pcap_compile(dead, &prog, expr, 1, PCAP_NETMASK_UNKNOWN), 0);
        pcap_freecode(&prog);
        pcap_close(dead);
    }
    /* Too small a buffer, or no port: refused, not cut. */
    assert_int_equal(sensor_filter(ports, N_OF(ports), expr, 100), -1);
    assert_int_equal(sensor_filter(ports, 0, expr, sizeof expr), -1);
}

/* ---- The interface, and reloads ---- */

static void
test_check(void **state)
{
    static const struct {
        const char *watch;
        const char *err; /* NULL: fine */
    } rows[] = {
        {"", NULL},
        {"watch {\n block-scanners 1d\n}\n", NULL},
        {"watch {\n capture any\n}\n", NULL},
        {"watch {\n capture lo\n}\n", NULL},
        {"watch {\n capture nosuchif0\n}\n",
         PATH ":12: capture: no interface 'nosuchif0' on this machine (ip link lists them; 'any' "
              "captures on all)"},
        {"watch {\n ports 2700\n capture lo0\n}\n", PATH ":13: capture: no interface 'lo0'"},
    };
    char text[512], err[256];

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct conf *c;
        int r;

        (void)snprintf(text, sizeof text, "%s%s", DOORS, rows[i].watch);
        c = conf_of(text);
        err[0] = '\0';
        r = sensor_check(c, err, sizeof err);
        if (rows[i].err == NULL ? r != 0
                                : r != -1 || strncmp(err, rows[i].err, strlen(rows[i].err)) != 0) {
            print_error("row %zu: got %d '%s'\n", i, r, err);
            fail();
        }
        conf_unref(c);
    }
}

static void
test_reload_check(void **state)
{
    static const struct {
        const char *running, *file;
        const char *err; /* NULL: may reload */
    } rows[] = {
        {"", "", NULL},
        {"watch {\n capture any\n}\n", "watch {\n capture any\n ports 2700\n}\n", NULL},
        {"watch {\n capture lo\n block-scanners 1d\n}\n", "watch {\n capture lo\n}\n", NULL},
        {"watch {\n block-scanners 1d\n}\n", "watch {\n block-scanners 2h\n}\n", NULL},
        {"watch {\n capture any\n}\n", "watch {\n capture lo\n}\n",
         PATH ":12: 'capture' changes only at a restart (running with any, the file says lo)"},
        {"", "watch {\n capture lo\n}\n",
         PATH ":12: 'capture' changes only at a restart (running with (none), the file says lo)"},
        {"watch {\n capture lo\n}\n", "watch {\n block-scanners 1d\n}\n",
         PATH ":11: 'capture' changes only at a restart (running with lo, the file says (none))"},
        {"watch {\n capture lo\n}\n", "",
         PATH ": 'capture' changes only at a restart (running with lo, the file says (none))"},
        {"watch {\n capture lo\n}\n", "watch {\n capture lo\n block-scanners 1d\n}\n",
         PATH ":13: 'block-scanners' turned on takes a restart"},
    };
    char a[512], b[512], err[512];

    (void)state;
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct conf *running, *file;
        int r;

        (void)snprintf(a, sizeof a, "%s%s", DOORS, rows[i].running);
        (void)snprintf(b, sizeof b, "%s%s", DOORS, rows[i].file);
        running = conf_of(a);
        file = conf_of(b);
        err[0] = '\0';
        r = sensor_reload_check(running, file, err, sizeof err);
        if (rows[i].err == NULL ? r != 0
                                : r != -1 || strncmp(err, rows[i].err, strlen(rows[i].err)) != 0) {
            print_error("row %zu: got %d '%s'\n", i, r, err);
            fail();
        }
        conf_unref(running);
        conf_unref(file);
    }
}

/* ---- Records ---- */

static void
test_up_records(void **state)
{
    struct sensor_syn in = {.family = AF_INET, .sport = 40000, .dport = 26, .mirai = true}, out;
    struct sensor_up u, bad;
    char why[128];
    bool capturing = false;

    (void)state;
    memcpy(in.src, "\xc0\x00\x02\x07", 4);
    memcpy(in.dst, "\xc6\x33\x64\x1a", 4);
    sensor_up_syn(&in, &u);
    assert_int_equal(sensor_up_check(&u, sizeof u, &out, &capturing, why, sizeof why),
                     SENSOR_UP_SYN);
    assert_memory_equal(&in, &out, sizeof in);

    in.family = AF_INET6;
    in.mirai = false;
    memset(in.src, 0x20, 16);
    sensor_up_syn(&in, &u);
    assert_int_equal(sensor_up_check(&u, sizeof u, &out, &capturing, why, sizeof why),
                     SENSOR_UP_SYN);
    assert_memory_equal(&in, &out, sizeof in);

    memset(&u, 0, sizeof u);
    u.kind = SENSOR_UP_CAPTURE;
    u.capturing = 1;
    assert_int_equal(sensor_up_check(&u, sizeof u, &out, &capturing, why, sizeof why),
                     SENSOR_UP_CAPTURE);
    assert_true(capturing);

    /* Hostile: each is dropped, with what is wrong. */
    sensor_up_syn(&in, &u);
    assert_int_equal(sensor_up_check(&u, sizeof u - 1, &out, &capturing, why, sizeof why), 0);
    assert_string_equal(why, "a record of 47 octets (expected 48)");
    assert_int_equal(sensor_up_check(&u, sizeof u + 1, &out, &capturing, why, sizeof why), 0);
    bad = u;
    bad.kind = 3;
    assert_int_equal(sensor_up_check(&bad, sizeof bad, &out, &capturing, why, sizeof why), 0);
    assert_string_equal(why, "unknown record kind 3");
    bad = u;
    bad.family = AF_UNIX;
    assert_int_equal(sensor_up_check(&bad, sizeof bad, &out, &capturing, why, sizeof why), 0);
    bad = u;
    bad.mirai = 2;
    assert_int_equal(sensor_up_check(&bad, sizeof bad, &out, &capturing, why, sizeof why), 0);
    bad = u;
    bad.mirai = 1; /* IPv6 is never Mirai */
    assert_int_equal(sensor_up_check(&bad, sizeof bad, &out, &capturing, why, sizeof why), 0);
    assert_string_equal(why, "mirai 1 for family 10");
    memset(&bad, 0, sizeof bad);
    bad.kind = SENSOR_UP_CAPTURE;
    bad.capturing = 0xff;
    assert_int_equal(sensor_up_check(&bad, sizeof bad, &out, &capturing, why, sizeof why), 0);
}

/* ---- The daemon's side on a socketpair ---- */

struct seen {
    size_t n, mirai;
    struct sensor_syn last;
};

static void
on_syn(void *arg, const struct sensor_syn *syn)
{
    struct seen *s = arg;

    s->n++;
    s->mirai += syn->mirai;
    s->last = *syn;
}

static void
put_up(int fd, const void *p, size_t n)
{
    assert_int_equal(send(fd, p, n, 0), (ssize_t)n);
}

static void
test_daemon_side(void **state)
{
    struct event_base *base = event_base_new();
    struct sensor_syn syn = {.family = AF_INET, .sport = 1, .dport = 26, .mirai = true};
    struct sensor_up u;
    struct sensor_down d;
    struct seen seen = {0};
    const unsigned char a4[4] = {192, 0, 2, 7};
    struct sensor *s;
    struct conf *c;
    int sv[2];
    size_t sent;

    (void)state;
    assert_non_null(base);
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    s = sensor_open_fd(sv[0], -1, true);
    sensor_attach(s, base, on_syn, &seen);
    assert_false(sensor_capturing(s));

    memset(&u, 0, sizeof u);
    u.kind = SENSOR_UP_CAPTURE;
    u.capturing = 1;
    put_up(sv[1], &u, sizeof u);
    sensor_up_syn(&syn, &u);
    put_up(sv[1], &u, sizeof u);
    put_up(sv[1], &u, 10);        /* short: dropped */
    put_up(sv[1], "xxxxxxxx", 8); /* junk: dropped */
    u.family = 99;                /* bad family: dropped */
    put_up(sv[1], &u, sizeof u);
    syn.family = AF_INET6;
    syn.mirai = false;
    syn.dport = 2525;
    sensor_up_syn(&syn, &u);
    put_up(sv[1], &u, sizeof u);
    for (int i = 0; i < 10 && seen.n < 2; i++)
        assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 0);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.mirai, 1);
    assert_int_equal(seen.last.family, AF_INET6);
    assert_int_equal(seen.last.dport, 2525);
    assert_true(sensor_capturing(s));

    /* Down: the configuration's ports, then a block request. */
    c = conf_of(DOORS "watch {\n capture any\n ports 2700\n block-scanners 1h\n}\n");
    sensor_set_conf(s, c);
    assert_int_equal(recv(sv[1], &d, sizeof d, 0), (ssize_t)sizeof d);
    assert_int_equal(d.kind, SENSOR_DOWN_CONF);
    assert_int_equal(d.n_ports, 4);
    assert_int_equal(d.ports[3], 2700);
    assert_int_equal(d.log_level, LOG_LEVEL_INFO);
    sensor_block(s, AF_INET, a4, 3600);
    assert_int_equal(recv(sv[1], &d, sizeof d, 0), (ssize_t)sizeof d);
    assert_int_equal(d.kind, SENSOR_DOWN_BLOCK);
    assert_int_equal(d.family, AF_INET);
    assert_memory_equal(d.addr, a4, 4);
    assert_int_equal(d.ttl, 3600);
    /* Nothing for a bad family or no time; and once block-scanners is off, nothing at all. */
    sensor_block(s, AF_UNIX, a4, 3600);
    sensor_block(s, AF_INET, a4, 0);
    conf_unref(c);
    c = conf_of(DOORS "watch {\n capture any\n}\n");
    sensor_set_conf(s, c);
    assert_int_equal(recv(sv[1], &d, sizeof d, 0), (ssize_t)sizeof d);
    assert_int_equal(d.kind, SENSOR_DOWN_CONF);
    sensor_block(s, AF_INET, a4, 3600);
    assert_int_equal(recv(sv[1], &d, sizeof d, MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
    conf_unref(c);

    /* A sensor that does not read: requests are dropped, the daemon never waits. */
    c = conf_of(DOORS "watch {\n capture any\n block-scanners 1h\n}\n");
    sensor_set_conf(s, c);
    for (sent = 0; sent < 100000; sent++)
        sensor_block(s, AF_INET, a4, 60);
    conf_unref(c);

    /* The sensor's end closes: read once as gone; then nothing is read or sent. */
    assert_int_equal(close(sv[1]), 0);
    (void)event_base_loop(base, EVLOOP_NONBLOCK);
    assert_false(sensor_capturing(s));
    sensor_block(s, AF_INET, a4, 60);
    /* Nothing is left on the loop: the sensor's event is gone with it. */
    assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 1);
    assert_int_equal(seen.n, 2);
    sensor_stop(s);
    event_base_free(base);

    /* NULL: nothing, anywhere. */
    sensor_attach(NULL, NULL, on_syn, NULL);
    sensor_block(NULL, AF_INET, a4, 60);
    sensor_set_conf(NULL, NULL);
    assert_false(sensor_capturing(NULL));
    sensor_stop(NULL);
}

/* No watch block, or one that neither captures nor blocks: no sensor, and no error. */
static void
test_start_none(void **state)
{
    char err[256] = "x";
    struct conf *c;

    (void)state;
    c = conf_of(DOORS);
    assert_null(sensor_start(c, err, sizeof err));
    assert_string_equal(err, "");
    conf_unref(c);
    c = conf_of(DOORS "watch { }\n");
    assert_null(sensor_start(c, err, sizeof err));
    assert_string_equal(err, "");
    conf_unref(c);
    c = conf_of(DOORS "watch {\n capture nosuchif0\n}\n");
    assert_null(sensor_start(c, err, sizeof err));
    assert_string_equal(err, PATH ":12: capture: no interface 'nosuchif0' on this machine (ip "
                                  "link lists them; 'any' captures on all)");
    conf_unref(c);
}

/* ---- A block request, from the daemon to nftables (a network namespace of our own) ---- */

static void
test_block_path(void **state)
{
    const unsigned char a4[4] = {192, 0, 2, 7};
    unsigned char a6[16] = {0x20, 0x01, 0x0d, 0xb8};
    char out[2048], err[512];
    struct sensor_down d;
    struct sensor *s;
    struct conf *c;
    int sv[2];
    ssize_t n;

    (void)state;
    if (unshare(CLONE_NEWNET) == -1) {
        fprintf(stderr, "test_block_path: no network namespace (%s): skipped\n", strerror(errno));
        skip();
    }
    a6[15] = 7;
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    s = sensor_open_fd(sv[0], -1, true);
    c = conf_of(DOORS "watch {\n block-scanners 1d\n}\n");
    sensor_set_conf(s, c);
    assert_int_equal(recv(sv[1], &d, sizeof d, 0), (ssize_t)sizeof d);

    /* No table yet: nft's error comes back. */
    sensor_block(s, AF_INET, a4, 86400);
    n = recv(sv[1], &d, sizeof d, 0);
    assert_int_equal(sensor_child_block(&d, (size_t)n, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file or directory"));

    assert_int_equal(
        firewall_nft("add table inet gate26\n"
                     "add set inet gate26 scanners { type ipv4_addr; flags timeout; }\n"
                     "add set inet gate26 scanners6 { type ipv6_addr; flags timeout; }",
                     NULL, 0, err, sizeof err),
        0);
    sensor_block(s, AF_INET, a4, 86400);
    n = recv(sv[1], &d, sizeof d, 0);
    assert_int_equal(sensor_child_block(&d, (size_t)n, err, sizeof err), 0);
    sensor_block(s, AF_INET6, a6, 60);
    n = recv(sv[1], &d, sizeof d, 0);
    assert_int_equal(sensor_child_block(&d, (size_t)n, err, sizeof err), 0);
    assert_int_equal(
        firewall_nft("list set inet gate26 scanners", out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "192.0.2.7 timeout 1d expires"));
    assert_int_equal(
        firewall_nft("list set inet gate26 scanners6", out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "2001:db8::7 timeout 1m expires"));

    /* Hostile requests are refused before nft sees them. */
    sensor_block(s, AF_INET, a4, 60);
    n = recv(sv[1], &d, sizeof d, 0);
    assert_int_equal(sensor_child_block(&d, (size_t)n - 1, err, sizeof err), -1);
    assert_string_equal(err, "a malformed block request");
    d.family = AF_UNIX;
    assert_int_equal(sensor_child_block(&d, sizeof d, err, sizeof err), -1);
    d.family = AF_INET;
    d.ttl = 0;
    assert_int_equal(sensor_child_block(&d, sizeof d, err, sizeof err), -1);
    d.ttl = 31u * 86400u;
    assert_int_equal(sensor_child_block(&d, sizeof d, err, sizeof err), -1);
    d.ttl = 60;
    d.kind = SENSOR_DOWN_CONF;
    assert_int_equal(sensor_child_block(&d, sizeof d, err, sizeof err), -1);

    conf_unref(c);
    (void)close(sv[1]);
    sensor_stop(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_reload_check),
        cmocka_unit_test(test_up_records),
        cmocka_unit_test(test_daemon_side),
        cmocka_unit_test(test_start_none),
        /* last: it moves the process into a network namespace of its own */
        cmocka_unit_test(test_block_path),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
