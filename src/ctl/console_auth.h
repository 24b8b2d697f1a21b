/* SPDX-License-Identifier: MIT */
/*
 * Private to ctl/: the console's logins in the daemon's AUTH lockout
 * (docs/console.md, "Login"). `gate26 console` is a process of its own;
 * so that a password guessed at the web login and over SMTP AUTH count
 * against one limit, it asks the daemon, on the control socket:
 *
 *   request =/ "console-login" SP ("gate" / "failed" / "ok") SP client [SP user] LF
 *
 * client is an IPv4 or IPv6 address, user a valid user name
 * (auth_is_user_name). gate answers "ok" LF "open" or "locked" (a client
 * or user locked now; a user locked by failures is locked here too: the
 * console keeps no memory of known devices); failed counts one failure
 * (policy_auth_failed with the auth block's max-failures and lockout) and
 * answers "ok" LF "counted" or "locked" (this one locked it); ok forgets
 * the client's failures and answers "ok" LF "forgotten".
 */
#ifndef GATE26_CTL_CONSOLE_AUTH_H
#define GATE26_CTL_CONSOLE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/auth.h"

struct conf;
struct policy_limits;

#define CTL_CONSOLE_AUTH_VERB "console-login"

enum ctl_console_auth_op { CTL_CONSOLE_GATE, CTL_CONSOLE_FAILED, CTL_CONSOLE_OK };

struct ctl_console_auth {
    enum ctl_console_auth_op op;
    int family;
    unsigned char addr[16];
    char user[AUTH_USER_MAX + 1]; /* "" when none was given */
};

/*
 * Is line (len octets, without its LF) a console-login request? 0: another
 * verb; 1: yes, read into out; -1: yes but malformed, why says so
 * (capacity whycap).
 */
int ctl_console_auth_parse(const char *line, size_t len, struct ctl_console_auth *out, char *why,
                           size_t whycap);

/*
 * Runs a parsed request on the daemon's lockout tables pl under c (the
 * configuration now running). Returns the answer's word ("open", "locked",
 * "counted", "forgotten"), or NULL with why (no lockouts in this daemon).
 */
const char *ctl_console_auth_run(struct policy_limits *pl, const struct conf *c,
                                 const struct ctl_console_auth *a, char *why, size_t whycap);

#endif
