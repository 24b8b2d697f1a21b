/* SPDX-License-Identifier: MIT */
/*
 * libcurl's multi interface on a libevent base, as in libcurl's own
 * "multi-event" example: curl says which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to call it back
 * (CURLMOPT_TIMERFUNCTION); the loop tells it when a socket is ready or the
 * time has come (curl_multi_socket_action), and each finished transfer is
 * handed back to its owner. Name lookups run on curl's own resolver thread,
 * so nothing here blocks. One implementation serves the alerts' webhooks
 * (src/watch) and the rspamd client (src/scan).
 *
 * A library of its own (curl_loop_dep), not part of g26lib: only what
 * speaks HTTP links libcurl and libevent through it.
 *
 * The caller builds each easy handle (URL, options, callbacks) and owns it;
 * the loop uses its CURLOPT_PRIVATE, which callers must leave alone.
 * Threads: the loop's only.
 */
#ifndef GATE26_LIB_CURL_LOOP_H
#define GATE26_LIB_CURL_LOOP_H

#include <curl/curl.h>

struct event_base;
struct curl_loop;

/*
 * A transfer ended: rc is its outcome (CURLE_OK: an answer came, whatever
 * its HTTP status). The handle is no longer in the loop and is the
 * caller's again (to clean up or to add anew). Called from the loop, never
 * from curl_loop_add; it may add and remove transfers.
 */
typedef void curl_loop_done_fn(CURL *easy, CURLcode rc, void *arg);

/* The multi handle on base. Aborts when libcurl cannot be set up. Free with curl_loop_free. */
struct curl_loop *curl_loop_new(struct event_base *base);

/*
 * Frees the loop; every transfer must have ended or been removed (one left
 * is a bug: log_panic). NULL: nothing.
 */
void curl_loop_free(struct curl_loop *cl);

/*
 * Starts easy (borrowed until done is called or curl_loop_remove); done
 * gets its outcome. Returns 0, or -1 when curl refuses the handle (it is
 * not in the loop then, and done will not be called).
 */
int curl_loop_add(struct curl_loop *cl, CURL *easy, curl_loop_done_fn *done, void *arg);

/* Takes easy out of the loop before its end (done is not called). Not added: nothing. */
void curl_loop_remove(struct curl_loop *cl, CURL *easy);

/* The base the loop runs on. */
struct event_base *curl_loop_base(const struct curl_loop *cl);

/* Transfers in the loop (for tests and the stop). */
size_t curl_loop_running(const struct curl_loop *cl);

#endif
