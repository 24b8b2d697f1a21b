/* SPDX-License-Identifier: MIT */
/*
 * `gate26 console` (docs/console.md, "Processes and trust", "Console
 * sessions and requests"): the web console, a process of its own. Started
 * as root it binds console { address }, reads the tls block's first
 * certificate and the passwd file, then becomes the configuration's user;
 * it serves HTTPS with that certificate, or plain HTTP on a loopback
 * address only (with a warning). Logins are the users of auth { passwd },
 * with their TOTP code once enrolled; sessions live in this process's
 * memory. No browser octet is parsed inside the mail daemon: the console
 * asks it over the control socket.
 */
#ifndef GATE26_CONSOLE_CONSOLE_H
#define GATE26_CONSOLE_CONSOLE_H

/*
 * `gate26 console [-c FILE]`, argv[0] "console". Runs until SIGTERM or
 * SIGINT. Returns the exit status: 0 stopped, 1 could not start, 2 usage.
 */
int console_main(int argc, char **argv, const char *default_conf);

#endif
