/* SPDX-License-Identifier: MIT */
/*
 * Private to console/: what the server (server.c), its sessions
 * (session.c), the page helpers (page.c) and the pages (one file each:
 * login.c, overview.c, account_page.c, tracking_page.c, queue_page.c,
 * quarantine_page.c, alerts_page.c, scanners_page.c, doors_page.c) share.
 *
 * A page is a handler `void NAME(struct req *q)` that answers q->r exactly
 * once (send_page, send_error, send_redirect or its own evhttp_send_reply).
 * server.c has checked, before it runs, what the route's access needs (a
 * session, an admin), and for a POST the origin, the form and its CSRF
 * token. Every value a page shows goes through web_escape (web.h).
 */
#ifndef GATE26_CONSOLE_CONSOLE_IMPL_H
#define GATE26_CONSOLE_CONSOLE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "account/account.h"
#include "auth/auth.h"
#include "console/web.h"

struct conf;
struct account_store;
struct policy_limits;
struct event_base;
struct evbuffer;
struct tls_server;
struct doors_check;

/* Sessions: idle and absolute lifetimes, and a login waiting for its code. */
#define SESSION_IDLE_S     (30 * 60)
#define SESSION_ABSOLUTE_S (12 * 3600)
#define SESSION_PENDING_S  (5 * 60)
#define SESSIONS_MAX       256

/* How long a page waits for the daemon's answer on the control socket. */
#define CONSOLE_CTL_TIMEOUT_S 2

struct session {
    bool used;
    bool pending; /* password right, TOTP code still to come */
    bool admin;
    char id[WEB_TOKEN_HEX + 1];
    char csrf[WEB_TOKEN_HEX + 1];
    char user[AUTH_USER_MAX + 1];
    time_t created, seen;
};

struct console {
    struct conf *conf;
    struct auth_db *users;
    struct stat users_st; /* the passwd file as it was read: read again when it changes */
    struct account_store *store;
    struct policy_limits *limits;
    struct event_base *base;
    struct evhttp *http;
    struct tls_server *tls; /* NULL: plain HTTP (loopback only) */
    const char *cookie;     /* "__Host-gate26" on HTTPS, else "gate26" */
    unsigned idle;          /* seconds */
    struct session sessions[SESSIONS_MAX];
    struct doors_check *check; /* doors_page.c: the `gate26 check` of POST /doors/check */
};

/* One request as the handlers see it. */
struct req {
    struct console *con;
    struct evhttp_request *r;
    char client[64]; /* the peer's address, as text */
    int family;
    unsigned char addr[16];
    struct session *s;     /* NULL: none */
    struct evkeyvalq form; /* a POST's fields */
    bool has_form;
    struct evkeyvalq query; /* the target's query string (after '?'), for GET pages */
    bool has_query;
};

/* ---- session.c ---- */

/* The session whose id the cookie holds, or NULL (none, unknown, expired: ended). */
struct session *session_find(struct console *con, const char *id, time_t now);
/* A new session for user (the oldest one gives way when all are taken), or NULL. */
struct session *session_new(struct console *con, const char *user, bool pending, time_t now);
/* Ends s: its memory wiped. */
void session_end(struct session *s);

/* ---- page.c: answers and page parts ---- */

/* The security headers every answer carries, and its Content-Type. */
void add_headers(struct req *q, const char *type);
/* Sets (or, with clear, ends) the session cookie. */
void set_cookie(struct req *q, const char *value, bool clear);
/* The page's head, the header with its links (for s: none when NULL or pending) and its h1. */
void page_begin(struct evbuffer *b, const char *title, const struct session *s);
/* The same, the page loading itself again every refresh_s seconds (0: never). */
void page_begin_refresh(struct evbuffer *b, const char *title, const struct session *s,
                        unsigned refresh_s);
/* Ends b's page and sends it with code. */
void send_page(struct req *q, int code, const char *reason, struct evbuffer *b);
/* A page with one sentence: the errors (403, 404, ...). */
void send_error(struct req *q, int code, const char *reason, const char *text);
/* 303 to a path of the console. */
void send_redirect(struct req *q, const char *to);
/* The style sheet (GET /style.css). */
void send_style(struct req *q);
/* A hidden CSRF field of the session s. */
void csrf_field(struct evbuffer *b, const struct session *s);
/* <p class="ok" id="note"> (or "error", id "error") with text, escaped; NULL: nothing. */
void page_note(struct evbuffer *b, const char *text);
void page_error(struct evbuffer *b, const char *text);
/*
 * A table of n rows: when n is 0, <p id="ID-none">NONE</p> and false (no
 * table); else <table id="ID"> with a header row of headers (a NULL-ended
 * list of static text, not escaped) and true: the rows follow, then
 * page_table_close().
 */
bool page_table_open(struct evbuffer *b, const char *id, size_t n, const char *none,
                     const char *const *headers);
/* </table>, and <p class="note">"N more not shown."</p> when n rows exceed shown. */
void page_table_close(struct evbuffer *b, size_t n, size_t shown);
/* A JSON value as a cell, escaped: a string, a number, yes/no, or "-". */
void page_cell(struct evbuffer *b, const json_t *v);
/* A time (Unix seconds, a JSON integer) as a cell, as fmt_time() writes it. */
void page_cell_time(struct evbuffer *b, const json_t *v);
/* A POST's field (NULL: absent). */
const char *field(struct req *q, const char *name);
/* A query parameter of a GET (NULL: absent); the query is parsed on first use. */
const char *query_field(struct req *q, const char *name);
/* t (Unix seconds) as "2026-05-01 12:00 UTC", "never" for 0. */
void fmt_time(char *out, size_t cap, int64_t t);
/*
 * Asks the daemon on the control socket: request is one line with its LF;
 * what is a word for the errors ("status", "queue", ...). Returns the
 * answer's JSON document (the caller json_decref's it), or NULL with why
 * (capacity whycap): the daemon not running, not answering in
 * CONSOLE_CTL_TIMEOUT_S, or its "error: TEXT".
 */
json_t *console_ctl_json(struct req *q, const char *request, const char *what, char *why,
                         size_t whycap);
/*
 * Sends request to the daemon for an action and returns its answer text
 * (status line and body, NUL-terminated, the caller frees it), or NULL with
 * why. *ok is set when the status line is "ok".
 */
char *console_ctl_text(struct req *q, const char *request, bool *ok, char *why, size_t whycap);
/* Logs an action of the session's user (every change the console makes); detail may be "". */
void log_action(struct req *q, const char *action, const char *detail);

/* ---- actions.c: what the queue's and the quarantine's actions share ---- */

struct ctl_request;
/*
 * The form's "id" fields into req, each checked (ctl_request_add_id: a
 * queue id, none twice), at most CTL_IDS_MAX. Returns 0, or -1 with why.
 */
int form_ids(struct req *q, struct ctl_request *req, char *why, size_t whycap);
/*
 * The confirmation step of an action that cannot be undone: question, the
 * ids, and a form posting them again to path with action and confirm=yes.
 */
void confirm_page(struct req *q, const char *path, const char *action, const char *question,
                  const struct ctl_request *req);
/* The daemon's answer to an action (its per-message lines), escaped: <pre id="result">. */
void result_block(struct evbuffer *b, const char *answer, bool ok);
/* log_action(q, action, "ids=A,B,..., n=N, result=\"LAST LINE OF answer\""). */
void log_ids_action(struct req *q, const char *action, const struct ctl_request *req,
                    const char *answer);

/* ---- the pages ---- */

void login_form(struct req *q, int code, const char *reason, const char *error);
void do_login(struct req *q);
void do_login_code(struct req *q);
void do_logout(struct req *q);
/* Counts a failed login (or second factor) of user (NULL: none named) in the lockout, logged. */
void login_failed(struct req *q, const char *user, const char *reason);
/*
 * Checks user's second factor: code is six digits (TOTP, each code once)
 * or else a recovery code (each once). A wrong one is counted and logged
 * with login_failed(); *recovery says which it was taken for.
 */
enum account_rc second_factor_check(struct req *q, const char *user, const char *code,
                                    bool *recovery);

void overview_page(struct req *q);

void account_show(struct req *q);
void do_totp_enrol(struct req *q);
void do_totp_confirm(struct req *q);
void do_totp_remove(struct req *q);
void do_app_create(struct req *q);
void do_app_revoke(struct req *q);

void tracking_page(struct req *q);    /* GET /tracking */
void tracking_message(struct req *q); /* GET /tracking/message?id=QID */

void queue_page(struct req *q);    /* GET /queue */
void queue_message(struct req *q); /* GET /queue/message?id=QID */
void queue_action(struct req *q);  /* POST /queue/action */

void quarantine_page(struct req *q);    /* GET /quarantine */
void quarantine_message(struct req *q); /* GET /quarantine/message?id=QID */
void quarantine_action(struct req *q);  /* POST /quarantine/action */

void alerts_page(struct req *q);   /* GET /alerts */
void scanners_page(struct req *q); /* GET /scanners */
void doors_page(struct req *q);    /* GET /doors */
void doors_check(struct req *q);   /* POST /doors/check */
/* doors_page.c: the console's own binary, read at start before privileges drop; and at the
   stop, a check still running killed and reaped, its state freed. */
void doors_init(struct console *con);
void doors_stop(struct console *con);

#endif
