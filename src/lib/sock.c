/* SPDX-License-Identifier: MIT */
/* Listening sockets and the right to bind a port: see sock.h. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/sock.h"

int
sock_listen(const struct sockaddr *sa, socklen_t len, int backlog)
{
    int one = 1, e;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd == -1)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
        (sa->sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1) ||
        bind(fd, sa, len) == -1 || listen(fd, backlog) == -1) {
        e = errno;
        (void)close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

unsigned
sock_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
}

/* The lowest port anyone may bind (net.ipv4.ip_unprivileged_port_start, for IPv6 too). */
static unsigned
sock_unprivileged_start(void)
{
    char buf[32] = "";
    FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
    unsigned long v = 1024;

    if (f != NULL) {
        if (fgets(buf, sizeof buf, f) != NULL) {
            char *end;
            unsigned long got = strtoul(buf, &end, 10);

            if (end != buf && got <= 65536)
                v = got;
        }
        (void)fclose(f);
    }
    return (unsigned)v;
}

/* True when this process has CAP_NET_BIND_SERVICE in effect (CapEff of /proc/self/status). */
static bool
sock_has_bind_cap(void)
{
    char line[256];
    unsigned long long eff = 0;
    bool found = false;
    FILE *f = fopen("/proc/self/status", "re");

    if (f == NULL)
        return false;
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = sscanf(line, "CapEff: %llx", &eff) == 1;
    (void)fclose(f);
    return found && (eff & (1ull << 10)) != 0; /* CAP_NET_BIND_SERVICE */
}

bool
sock_may_bind(unsigned port)
{
    return geteuid() == 0 || port >= sock_unprivileged_start() || sock_has_bind_cap();
}
