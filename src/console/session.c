/* SPDX-License-Identifier: MIT */
/*
 * The console's sessions (console_impl.h; docs/console.md, "Sessions"):
 * at most SESSIONS_MAX in this process's memory, each a random id and a
 * random CSRF token, ended when idle or too old.
 */
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "conf/conf.h"
#include "console/console_impl.h"
#include "lib/log.h"
#include "lib/str.h"

static int
random_token(char out[WEB_TOKEN_HEX + 1])
{
    unsigned char raw[WEB_TOKEN_HEX / 2];

    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -1;
    web_hex(raw, sizeof raw, out);
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

static bool
session_expired(const struct console *con, const struct session *s, time_t now)
{
    if (s->pending)
        return now - s->created > SESSION_PENDING_S;
    return now - s->seen > (time_t)con->idle || now - s->created > SESSION_ABSOLUTE_S;
}

void
session_end(struct session *s)
{
    OPENSSL_cleanse(s, sizeof *s);
    s->used = false;
}

struct session *
session_find(struct console *con, const char *id, time_t now)
{
    if (strlen(id) != WEB_TOKEN_HEX)
        return NULL;
    for (size_t i = 0; i < SESSIONS_MAX; i++) {
        struct session *s = &con->sessions[i];

        if (!s->used || CRYPTO_memcmp(s->id, id, WEB_TOKEN_HEX) != 0)
            continue;
        if (session_expired(con, s, now)) {
            log_info("-: event=console-session-expired, user=\"%s\"", s->user);
            session_end(s);
            return NULL;
        }
        return s;
    }
    return NULL;
}

struct session *
session_new(struct console *con, const char *user, bool pending, time_t now)
{
    struct session *s = NULL;

    for (size_t i = 0; i < SESSIONS_MAX; i++) {
        struct session *t = &con->sessions[i];

        if (t->used && session_expired(con, t, now))
            session_end(t);
        if (!t->used) {
            s = t;
            break;
        }
        if (s == NULL || t->seen < s->seen)
            s = t;
    }
    session_end(s);
    if (random_token(s->id) == -1 || random_token(s->csrf) == -1)
        return NULL;
    (void)str_copyz(s->user, sizeof s->user, user);
    s->used = true;
    s->pending = pending;
    s->admin = conf_console_admin(con->conf, user);
    s->created = s->seen = now;
    return s;
}
