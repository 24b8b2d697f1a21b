/* SPDX-License-Identifier: MIT */
/*
 * A client of rspamd's normal worker on the loop: the message POSTed to
 * URL/checkv2 (rspamd's "protocol v2", docs: Developers / Protocol) with the
 * envelope in the headers rspamd reads (IP, Helo, From, Rcpt once per
 * recipient, Queue-Id, User, Hostname), through libcurl's multi interface
 * (lib/curl_loop.h). The answer is JSON (jansson): score, required_score,
 * action and the symbols with their scores (the highest
 * RSPAMD_SYMBOLS_MAX kept). An HTTP status other than 200, an answer out
 * of shape or beyond RSPAMD_ANSWER_MAX, no connection and the timeout are
 * errors, never a score. The pure answer parser is rspamd_answer_parse.
 */
#ifndef GATE26_SCAN_RSPAMD_H
#define GATE26_SCAN_RSPAMD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/slice.h"

struct curl_loop;

#define RSPAMD_ANSWER_MAX  (1024 * 1024) /* octets of JSON answer; more is an error */
#define RSPAMD_SYMBOLS_MAX 32            /* symbols kept, the highest scores first */
#define RSPAMD_SYMBOL_MAX  64            /* octets of a symbol's name kept */
#define RSPAMD_ACTION_MAX  32
#define RSPAMD_ERROR_MAX   256

enum rspamd_status {
    RSPAMD_OK,      /* an answer: score, required_score, action, symbols */
    RSPAMD_ERROR,   /* no connection, HTTP status, an answer out of shape; error says */
    RSPAMD_TIMEOUT, /* no whole answer within the timeout */
};

/* rspamd's actions (rspamd's "actions" section); others are RSPAMD_ACTION_OTHER. */
enum rspamd_action {
    RSPAMD_ACTION_NO_ACTION,
    RSPAMD_ACTION_GREYLIST,
    RSPAMD_ACTION_ADD_HEADER,
    RSPAMD_ACTION_REWRITE_SUBJECT,
    RSPAMD_ACTION_SOFT_REJECT,
    RSPAMD_ACTION_REJECT,
    RSPAMD_ACTION_OTHER,
};

struct rspamd_symbol {
    char name[RSPAMD_SYMBOL_MAX + 1]; /* printable ASCII, others as '?' */
    double score;
};

struct rspamd_result {
    enum rspamd_status status;
    long http_status; /* the answer's, 0 without one */
    double score;     /* RSPAMD_OK: finite */
    double required_score;
    enum rspamd_action action;
    char action_text[RSPAMD_ACTION_MAX + 1]; /* as rspamd named it, printable */
    bool is_skipped;
    struct rspamd_symbol symbols[RSPAMD_SYMBOLS_MAX]; /* highest score first */
    size_t n_symbols;
    size_t n_symbols_all; /* in the answer, kept or not */
    char error[RSPAMD_ERROR_MAX];
};

/* "ok", "error", "timeout". */
const char *rspamd_status_name(enum rspamd_status s);

/*
 * Parses the JSON answer of /checkv2 into r (status RSPAMD_OK), or sets
 * RSPAMD_ERROR with the reason in r->error and returns -1: not JSON, not an
 * object, score or required_score missing or not a number, action missing
 * or not a string, symbols not an object, or an "error" member (rspamd's
 * way to refuse). Unknown members are ignored. Pure.
 */
int rspamd_answer_parse(struct slice json, struct rspamd_result *r);

/* Reads the next piece of the message (at most cap): octets read, 0 at the end, -1 on failure. */
typedef ssize_t rspamd_read_fn(void *arg, char *buf, size_t cap);

/* The scan ended; r is valid during the call. The handle is already freed. */
typedef void rspamd_done_fn(void *arg, const struct rspamd_result *r);

/* What rspamd is told besides the message. NULL or "" leaves a header out. */
struct rspamd_request {
    const char *url;  /* the worker's base URL: http://127.0.0.1:11333 (/checkv2 added) */
    const char *ip;   /* the client's address */
    const char *helo; /* its EHLO/HELO name */
    const char *from; /* MAIL FROM's address, "<>" for the null sender */
    const char *const *rcpt;
    size_t n_rcpt;
    const char *queue_id;
    const char *user;     /* the AUTH identity */
    const char *hostname; /* the client's verified name */
    size_t size;          /* the message's octets: read_fn gives exactly these */
    unsigned timeout_ms;  /* the whole request */
};

struct rspamd_scan;

/*
 * Starts the request (every string copied) on loop. Always returns a
 * handle; done is called exactly once from the loop (never from here: a
 * header value with a control character, for one, ends it as an error
 * from the loop's next turn), unless rspamd_scan_cancel comes first.
 */
struct rspamd_scan *rspamd_scan_start(struct curl_loop *loop, const struct rspamd_request *req,
                                      rspamd_read_fn *read_fn, void *read_arg, rspamd_done_fn *done,
                                      void *done_arg);

/* Stops a request before its end; done is not called. NULL: nothing. */
void rspamd_scan_cancel(struct rspamd_scan *s);

#endif
