/* SPDX-License-Identifier: MIT */
/*
 * The `serve` process: configuration, spool, listeners and the event loop,
 * started in that order and stopped in reverse. SIGHUP re-reads the
 * configuration (a bad file is logged and the running one stays in force);
 * SIGTERM and SIGINT stop the daemon.
 */
#ifndef GATE26_DAEMON_DAEMON_H
#define GATE26_DAEMON_DAEMON_H

/*
 * Runs the gateway on the configuration file at path until SIGTERM or
 * SIGINT. Returns the process exit status: 0 after a clean stop, 1 when it
 * could not start (the reason is printed on standard error).
 */
int daemon_serve(const char *path);

#endif
