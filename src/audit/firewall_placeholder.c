/* SPDX-License-Identifier: MIT */
/*
 * TEMPORARY: firewall_installed() of firewall/firewall.h, only so that
 * gate26 audit links before the firewall branch (src/firewall, libnftables)
 * is merged. That branch's implementation wins: drop this file (and the
 * line of src/audit/meson.build that builds it) at the merge.
 *
 * It runs `nft list table inet gate26` and reads the table's comment.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "firewall/firewall.h"
#include "lib/str.h"

extern char **environ;

int
firewall_installed(char *hex, size_t cap, char *err, size_t errcap)
{
    char *argv[] = {"nft", "list", "table", "inet", "gate26", NULL};
    char out[65536];
    size_t len = 0;
    int pipefd[2], status;
    posix_spawn_file_actions_t fa;
    pid_t pid;
    const char *p;

    if (pipe(pipefd) == -1) {
        (void)str_fmt(err, errcap, "pipe: %s", strerror(errno));
        return -1;
    }
    (void)posix_spawn_file_actions_init(&fa);
    (void)posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    (void)posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
    (void)posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    if (posix_spawnp(&pid, "nft", &fa, NULL, argv, environ) != 0) {
        (void)posix_spawn_file_actions_destroy(&fa);
        (void)close(pipefd[0]);
        (void)close(pipefd[1]);
        (void)str_fmt(err, errcap, "cannot run nft");
        return -1;
    }
    (void)posix_spawn_file_actions_destroy(&fa);
    (void)close(pipefd[1]);
    for (;;) {
        ssize_t n = read(pipefd[0], out + len, sizeof(out) - 1 - len);

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof(out) - 1)
            break;
    }
    out[len] = '\0';
    (void)close(pipefd[0]);
    while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (strstr(out, "No such file or directory") != NULL)
            return 0;
        (void)str_fmt(err, errcap, "nft: %.200s", out);
        return -1;
    }
    p = strstr(out, FIREWALL_COMMENT);
    if (p == NULL || cap < 65) {
        hex[0] = '\0';
        return 1;
    }
    p += strlen(FIREWALL_COMMENT);
    for (size_t i = 0; i < 64; i++) {
        if (p[i] == '\0' || strchr("0123456789abcdefABCDEF", p[i]) == NULL) {
            hex[0] = '\0';
            return 1;
        }
    }
    memcpy(hex, p, 64);
    hex[64] = '\0';
    return 1;
}
