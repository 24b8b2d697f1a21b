/* SPDX-License-Identifier: MIT */
/*
 * Private to src/conf: the parser's state while one file is read, shared by
 * parse.c (lines and blocks), settings.c (the settings tables: every key)
 * and check.c (the rules that need the whole file: defaults that depend on
 * other blocks, required blocks, duplicate domains).
 */
#ifndef GATE26_CONF_PARSE_H
#define GATE26_CONF_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include "conf/lexer.h"

/* Caps on what one file may hold; docs/config.md lists them. */
#define CONF_LISTEN_ADDRS_MAX 64
#define CONF_ALLOW_MAX        4096 /* networks in allow, and in deny */
#define CONF_DOMAINS_MAX      100000
#define CONF_VERIFY_FILES_MAX 1000 /* distinct list files of verify-recipients */
/* The most keys one scope (top level or a block kind) knows. */
#define CONF_SCOPE_KEYS_MAX 24

struct conf_parser;

/* Checks and stores the values of one line (tok[0] is the key). Returns 0 or -1. */
typedef int conf_apply_fn(struct conf_parser *p, const struct conf_line *l);

/* One key of a scope: tok[0] of the line is the key, tok[1..] its values. */
struct conf_setting {
    const char *name;
    unsigned max_values; /* at least one value is always required */
    bool repeats;        /* values of each line accumulate */
    conf_apply_fn *apply;
};

/* One kind of block at top level. */
struct conf_block {
    const char *name;
    const char *label; /* what the label is, for messages; NULL: takes no label */
    const struct conf_setting *settings;
    size_t n_settings;
    conf_apply_fn *open; /* checks the label, if any (tok[1]), and starts the block */
    int (*close)(struct conf_parser *p); /* checks what the block must hold */
};

/* settings.c: the top-level keys and the block kinds, in the order messages list them. */
extern const struct conf_setting conf_top_settings[];
extern const size_t conf_n_top_settings;
extern const struct conf_block conf_blocks[];
extern const size_t conf_n_blocks;

/*
 * settings.c: a hint for "'KEY' takes one value, found N" where one helps:
 * keys whose value may hold spaces when quoted (paths), and keys whose value
 * people write as two words (a duration "10 min"). NULL: no hint.
 */
const char *conf_one_value_hint(const char *key);

/* alert.c: the alert block's keys (CONF_ALERT_KEYS of them), its open and close. */
#define CONF_ALERT_KEYS 13
extern const struct conf_setting conf_alert_settings[CONF_ALERT_KEYS];
int conf_alert_open(struct conf_parser *p, const struct conf_line *l);
int conf_alert_close(struct conf_parser *p);

/* watch.c: the watch block's keys (CONF_WATCH_KEYS of them), its open and close. */
#define CONF_WATCH_KEYS 3
extern const struct conf_setting conf_watch_settings[CONF_WATCH_KEYS];
int conf_watch_open(struct conf_parser *p, const struct conf_line *l);
int conf_watch_close(struct conf_parser *p);

/* checks.c: the checks, dkim and quarantine blocks (docs/checks.md), and their whole-file rules. */
#define CONF_CHECKS_KEYS     16
#define CONF_DKIM_BLOCK_KEYS 2
#define CONF_QUARANTINE_KEYS 1
extern const struct conf_setting conf_checks_settings[CONF_CHECKS_KEYS];
extern const struct conf_setting conf_dkim_settings[CONF_DKIM_BLOCK_KEYS];
extern const struct conf_setting conf_quarantine_settings[CONF_QUARANTINE_KEYS];
int conf_checks_open(struct conf_parser *p, const struct conf_line *l);
int conf_checks_close(struct conf_parser *p);
int conf_dkim_open(struct conf_parser *p, const struct conf_line *l);
int conf_dkim_close(struct conf_parser *p);
int conf_quarantine_open(struct conf_parser *p, const struct conf_line *l);
int conf_quarantine_close(struct conf_parser *p);
/* Defaults and rules that need the whole file: sorted dkim blocks, doors that exist. */
int conf_checks_whole(struct conf_parser *p);
/* tracking.c: the tracking block (docs/config.md); its default keep without a block. */
#define CONF_TRACKING_KEYS 2
extern const struct conf_setting conf_tracking_settings[CONF_TRACKING_KEYS];
int conf_tracking_open(struct conf_parser *p, const struct conf_line *l);
int conf_tracking_close(struct conf_parser *p);
int conf_tracking_whole(struct conf_parser *p);
/* console.c: the console block (docs/config.md); its default address. */
#define CONF_CONSOLE_KEYS 2
extern const struct conf_setting conf_console_settings[CONF_CONSOLE_KEYS];
int conf_console_open(struct conf_parser *p, const struct conf_line *l);
int conf_console_close(struct conf_parser *p);
int conf_console_whole(struct conf_parser *p);
/* local_submit.c: the local-submit block (docs/config.md); its defaults without a block. */
#define CONF_LOCAL_SUBMIT_KEYS 3
extern const struct conf_setting conf_local_submit_settings[CONF_LOCAL_SUBMIT_KEYS];
int conf_local_submit_open(struct conf_parser *p, const struct conf_line *l);
int conf_local_submit_close(struct conf_parser *p);
int conf_local_submit_whole(struct conf_parser *p);
/* Frees what the checks and dkim blocks hold (conf_unref). */
void conf_checks_free(struct conf *c);

/* What a listen block said itself, so that check.c can fill in the rest. */
struct conf_listen_seen {
    unsigned line; /* 0: no listen block for this role */
    size_t index;  /* in conf->listens */
    bool tls, auth, max_sessions;
    bool max_sessions_per_client, connection_rate; /* their defaults depend on the role */
};

struct conf_parser {
    const char *path;   /* as given, for messages */
    char dir[CAP_PATH]; /* absolute directory of the file, for relative paths */
    char *err;
    size_t errcap;
    struct conf *c;

    const struct conf_block *block; /* the open block, NULL at top level */
    unsigned block_line;
    unsigned top_seen[CONF_SCOPE_KEYS_MAX];      /* line of each top-level key, 0: not yet */
    unsigned block_seen[CONF_SCOPE_KEYS_MAX];    /* the same for the open block */
    unsigned tls_line, auth_line, delivery_line; /* where each single block was opened */
    struct conf_listen_seen roles[DOOR_ROLE_COUNT];
    struct conf_listen *listen; /* the open listen block */
    struct conf_domain *domain; /* the open domain block */
    struct conf_alert *alert;   /* the open alert block */
    struct conf_checks *checks; /* the open checks block */
    struct conf_dkim *dkim;     /* the open dkim block */
    size_t dkims_cap;
    unsigned verify_line; /* its verify-recipients line, 0: none (the default applies) */
    size_t domains_cap;
    unsigned last_line;         /* the file's last line, for end-of-file messages */
    unsigned domain_tls_line;   /* the open domain block's tls key, 0: none */
    unsigned delivery_tls_line; /* delivery { tls }, 0: none */
};

/* Writes "FILE:LINE: message" into p->err; always returns -1. */
int conf_fail(struct conf_parser *p, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Writes the message as it is into p->err, for a mistake in another file
 * that has its own "FILE:LINE: " (a relay-auth file); always returns -1.
 */
int conf_fail_plain(struct conf_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Runs the whole-file rules and fills the defaults that depend on them. Returns 0 or -1. */
int conf_check(struct conf_parser *p);

#endif
