/* SPDX-License-Identifier: MIT */
/*
 * Private to smtp/: the session object and the functions its files share.
 * session.c owns the connection (bufferevent, timeouts, the reader and the
 * reply writer), command.c the commands, content.c DATA and BDAT content up
 * to the spool commit.
 */
#ifndef GATE26_SMTP_SESSION_H
#define GATE26_SMTP_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "lib/log.h"
#include "smtp/cmd_parse.h"
#include "smtp/data_scan.h"
#include "smtp/msgid.h"
#include "smtp/reply.h"
#include "smtp/smtp.h"
#include "spool/spool.h"
#include "track/track.h"
#include "watch/watch.h"

struct auth_check;
struct verify_req;
struct bufferevent;
struct policy_login_get;
struct event;
struct checks_session;

/* Where an AUTH exchange is (auth.c). */
enum smtp_auth_step {
    SMTP_AUTH_NONE,
    SMTP_AUTH_PLAIN,      /* waiting for PLAIN's response */
    SMTP_AUTH_LOGIN_USER, /* LOGIN: waiting for the user name */
    SMTP_AUTH_LOGIN_PASS, /* LOGIN: waiting for the password */
};

/* Whether the client logged in as the AUTH user before (the smart lockout, policy.h). */
enum smtp_auth_known {
    SMTP_AUTH_KNOWN_UNASKED,
    SMTP_AUTH_KNOWN_NO,
    SMTP_AUTH_KNOWN_YES,
};

enum smtp_state {
    SMTP_ST_CONNECTED,     /* before the greeting went out */
    SMTP_ST_GREETED,       /* waiting for EHLO/HELO */
    SMTP_ST_READY,         /* EHLO done, no transaction */
    SMTP_ST_MAIL,          /* MAIL accepted, no recipient yet */
    SMTP_ST_RCPT,          /* at least one recipient accepted */
    SMTP_ST_DATA,          /* reading DATA content up to CRLF.CRLF */
    SMTP_ST_BDAT,          /* reading a BDAT chunk of known size */
    SMTP_ST_BDAT_WAIT,     /* between BDAT chunks, waiting for the next BDAT */
    SMTP_ST_COMMIT,        /* the spool is making the message durable */
    SMTP_ST_STARTTLS,      /* 220 to STARTTLS queued: TLS starts once it is sent */
    SMTP_ST_AUTH,          /* AUTH: waiting for the client's next response line */
    SMTP_ST_AUTH_CHECK,    /* AUTH: the password is being checked (or a lockout's delay) */
    SMTP_ST_VERIFY,        /* RCPT: the recipient is being verified (verify/) */
    SMTP_ST_CHECK_CONNECT, /* before the greeting: DNSBL/DNSWL (checks/) */
    SMTP_ST_CHECK_RCPT,    /* RCPT: SPF, DNSBL or greylisting is being asked (checks/) */
    SMTP_ST_CHECK_DATA,    /* the end of the data: the content checks run (checks/) */
    SMTP_ST_CLOSING,       /* flushing the last reply, then free */
};

/* The transaction: MAIL, RCPTs and the content (RFC 5321 3.3). */
struct smtp_txn {
    struct smtp_mail mail;
    struct spool_rcpt *rcpts; /* addr and orcpt strings owned here */
    size_t n_rcpts;
    size_t cap_rcpts;
    unsigned rcpts_refused;
    struct spool_msg *msg; /* from DATA / first BDAT to the commit */
    struct data_scan scan;
    struct msgid_scan msgid;          /* the Message-ID, for the queued line */
    struct msgid_scan subject;        /* the Subject, for tracking */
    enum smtp_reply_id content_error; /* sticky; R_NONE when none */
    uint64_t size;                    /* content octets from the client so far */
    uint64_t bdat_size;               /* octets of the current chunk */
    uint64_t bdat_left;               /* of which still to read */
    bool bdat_last;
    bool bdat; /* this transaction uses BDAT */

    /* RCPT: the recipient being verified (SMTP_ST_VERIFY) and its RCPT, until the answer. */
    struct verify_req *verify_req;
    struct smtp_rcpt *verify_rcpt;

    /* The content checks (checks/): the RCPT they are asked about, and the message's facts. */
    struct smtp_rcpt *check_rcpt;
    uint64_t received_len;     /* octets of our Received header at the content's start */
    const char **rcpt_addrs;   /* the recipients' addresses, for the checks of the message */
    bool quarantined;          /* the checks held it: committed into the quarantine */
    char quarantine_check[16]; /* which check held it */
};

struct smtp_session {
    struct smtp_session *prev, *next; /* all sessions */
    const struct smtp_env *env;
    struct conf *conf;
    const struct conf_listen *door;
    struct bufferevent *bev;
    enum smtp_state state;
    char sid[9]; /* session id for log lines */
    char client_addr[INET6_ADDRSTRLEN];
    unsigned client_port;
    int client_family;
    unsigned char client_bin[16];
    char helo[CAP_HELO + 1];
    bool esmtp;
    bool tls;                          /* the connection is TLS (handshake under way or done) */
    bool tls_up;                       /* the handshake is done */
    char tls_desc[128];                /* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256 bits)" */
    char auth_user[CAP_AUTH_USER + 1]; /* after a successful AUTH; "" before */
    enum smtp_auth_step auth_step;
    char auth_mech[8];                         /* "PLAIN", "LOGIN" */
    char auth_login_user[CAP_AUTH_USER + 1];   /* LOGIN: the user name, until the password */
    char auth_pending_user[CAP_AUTH_USER + 1]; /* whose password is being checked */
    struct auth_check *auth_check;             /* in flight, or NULL */
    struct event *auth_timer;                  /* a lockout's delay */
    struct policy_login_get *auth_lookup;      /* the memory of logins asked, or NULL */
    enum smtp_auth_known auth_known;           /* its answer for this exchange */
    char *auth_held_pass;                      /* the password while the memory is asked */
    size_t auth_held_pass_len;                 /* its length */
    bool skip_line;                            /* discarding the rest of an overlong command line */
    uint64_t skip_octets;                      /* discarding a refused BDAT chunk */
    bool output_full;                          /* parsing waits for the peer to read its replies */
    bool peer_eof;       /* the peer will send nothing more (it may still read) */
    bool peer_gone;      /* error, or it stopped reading: nothing can be sent */
    enum smtp_verb verb; /* the command being handled, for log lines */
    unsigned errors;
    unsigned n_messages;
    /* app-passwords: this user's main password is refused; and a failure's reason= kept while
     * the memory of logins is asked (NULL: bad-credentials) */
    bool auth_main_forbidden;
    const char *auth_fail_reason;
    struct smtp_txn txn;
    char queue_id[SPOOL_ID_LEN + 1]; /* of the message in progress, or "" */
    /* The command line being handled (session_read_line), for refusals' log lines; else empty. */
    struct slice cmd_line;
    /* Fields the next refusal's log line ends with (", limit=..."), then cleared. */
    char reject_note[LOG_QUOTE_CAP + 128];
    /* The last reply's first line, without CRLF (for tracking). */
    char last_reply[256];
    bool watched_open; /* counted as WATCH_CONNECT_ACCEPTED: its WATCH_CLOSE is due */
    bool had_line;     /* a command line came: not a silent scanner (docs/scanners.md) */
    bool scanned;      /* counted as a scanner session (WATCH_SCANNER) */
    struct checks_session *checks; /* the door's content checks; NULL without (checks/) */
    bool greeting_refused; /* 554 on the greeting (DNSBL): only QUIT is served (RFC 5321 3.1) */
    smtp_end_fn *on_end;
    void *on_end_arg;
};

/* session.c */
void session_set_state(struct smtp_session *s, enum smtp_state state);
/* Queues the reply id (with arg for its "%s") and logs a refusal; the only writer. */
void smtp_reply(struct smtp_session *s, enum smtp_reply_id id, const char *arg);
/* Queues raw reply text (the multi-line EHLO reply). */
void session_write(struct smtp_session *s, const char *p, size_t len);
/* Ends the session after what is queued has been sent. */
void session_close(struct smtp_session *s);
/* Continues with buffered input (after a wait has ended). */
void session_resume(struct smtp_session *s);
/* Uses the data timeout while content is read, the command timeout otherwise. */
void session_set_timeouts(struct smtp_session *s, bool data);
/* The id for log lines: the queue id, or "-". */
const char *session_log_id(const struct smtp_session *s);

/*
 * An event of this session for the watcher (watch.h): ev's door, client and
 * user are filled in from s, the rest is the caller's.
 */
void session_watch(const struct smtp_session *s, struct watch_event *ev);

/* session.c: callbacks, watermarks and timeouts on s->bev (new, or after STARTTLS). */
void session_bev_setup(struct smtp_session *s);

/* starttls.c */
/* STARTTLS (RFC 3207 4): checks, then 220 and SMTP_ST_STARTTLS. */
void smtp_cmd_starttls(struct smtp_session *s, const struct smtp_cmd *c);
/*
 * The 220 has been sent: what the client sent after STARTTLS in the clear
 * is discarded, the connection turns to TLS and the session starts over
 * (RFC 3207 4.2). False when TLS could not start (the session is closing).
 */
bool smtp_tls_switch(struct smtp_session *s);
/* An implicit-TLS door (RFC 8314 3.3): s->bev on fd, TLS from the first byte. */
bool smtp_tls_accept(struct smtp_session *s, int fd);
/* The handshake is done (BEV_EVENT_CONNECTED): records and logs what it agreed. */
void smtp_tls_up(struct smtp_session *s);
/* A TLS error on the connection, for the log (the OpenSSL reason), or NULL when there is none. */
const char *smtp_tls_error(struct smtp_session *s, char *buf, size_t cap);
/* The session ends: a TLS one sends its close_notify. */
void smtp_tls_close(struct smtp_session *s);
/* True when the door offers STARTTLS to this session now. */
bool smtp_tls_offered(const struct smtp_session *s);

/* auth.c */
/* True when AUTH is offered to this session now (inside TLS, on a door that takes it). */
bool smtp_auth_offered(const struct smtp_session *s);
/* AUTH mechanism [initial-response] (RFC 4954 4). */
void smtp_cmd_auth(struct smtp_session *s, const struct smtp_cmd *c);
/* A response line in state SMTP_ST_AUTH. */
void smtp_auth_continue(struct smtp_session *s, const char *line, size_t len);
/* The session ends: a check in flight is cancelled, timers freed, secrets wiped. */
void smtp_auth_clear(struct smtp_session *s);

/* The greeting (220), and commands are read from now on. */
void session_greet(struct smtp_session *s);
/* True while the session waits for a verification or a check (input is not read). */
bool session_waiting(const struct smtp_session *s);

/* command.c */
void smtp_command(struct smtp_session *s, const char *line, size_t len);
/* A recipient every check accepted: its verification (verify/), or 250 now. */
void smtp_rcpt_accept(struct smtp_session *s, const struct smtp_rcpt *r);
void smtp_txn_reset(struct smtp_session *s);

/* content.c */
/* DATA and BDAT: start the message in the spool; false (reply sent) on failure. */
bool content_start(struct smtp_session *s, bool bdat);
/* Feeds buffered input to the scanner; true when it made progress. */
bool content_read(struct smtp_session *s);
/* The checks accepted the message (held in the quarantine when quarantine is set): commit it. */
void content_commit(struct smtp_session *s, const char *quarantine_check, const char *why);
/* The checks refused the message (their reply is sent): it goes. */
void content_refused(struct smtp_session *s, const char *status);

/* checks.c: the session's use of the content checks (docs/checks.md) */
/* A new session: its door's checks; true when the greeting waits for DNSBL. */
bool smtp_checks_connect(struct smtp_session *s);
/* MAIL was accepted. */
void smtp_checks_mail(struct smtp_session *s);
/* A recipient the policy accepted: true when the checks answer it (now or later). */
bool smtp_checks_rcpt(struct smtp_session *s, const struct smtp_rcpt *r);
/* The content has ended without a refusal: true when the checks decide it (later). */
bool smtp_checks_data(struct smtp_session *s);
/* The log field of the checks (", checks=\"...\""), or "". */
const char *smtp_checks_log_field(struct smtp_session *s);

/* tracking.c: what became of the message at the end of the data (track/track.h) */
void smtp_track_data(struct smtp_session *s, enum track_kind kind);

/* received.c */
/*
 * Formats our Received header (RFC 5321 4.4) for the message in progress
 * into buf (capacity cap). Returns the length, or 0 when it did not fit.
 */
size_t smtp_received_format(const struct smtp_session *s, const char *protocol, char *buf,
                            size_t cap);
/* The protocol name for the Received header and the envelope (RFC 3848, RFC 6531 3.7.3). */
const char *smtp_protocol_name(const struct smtp_session *s);

#endif
