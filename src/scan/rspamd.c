/* SPDX-License-Identifier: MIT */
/*
 * rspamd's /checkv2 over libcurl on the loop (rspamd.h). The request is a
 * POST of exactly req->size octets read through the caller's callback
 * (Content-Length, no "Expect: 100-continue" wait), the envelope in
 * rspamd's headers; the answer is collected up to RSPAMD_ANSWER_MAX and
 * parsed with jansson. No redirects, no proxy from the environment.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "lib/curl_loop.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "scan/rspamd.h"

/* ---- The answer (pure) ---- */

const char *
rspamd_status_name(enum rspamd_status s)
{
    switch (s) {
    case RSPAMD_OK:
        return "ok";
    case RSPAMD_ERROR:
        return "error";
    case RSPAMD_TIMEOUT:
        return "timeout";
    }
    return "?";
}

/* s as printable ASCII into dst (capacity cap), others as '?', cut to fit. */
static void
printable(char *dst, size_t cap, const char *p, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;

    for (size_t i = 0; i < n; i++)
        dst[i] = p[i] >= 0x20 && p[i] <= 0x7e ? p[i] : '?';
    dst[n] = '\0';
}

static int
answer_error(struct rspamd_result *r, const char *what, const char *detail)
{
    char clean[128];

    r->status = RSPAMD_ERROR;
    printable(clean, sizeof(clean), detail, strlen(detail));
    (void)str_fmt(r->error, sizeof(r->error), "%s%s", what, clean);
    return -1;
}

static const struct {
    const char *text;
    enum rspamd_action action;
} actions[] = {
    {"no action", RSPAMD_ACTION_NO_ACTION},     {"greylist", RSPAMD_ACTION_GREYLIST},
    {"add header", RSPAMD_ACTION_ADD_HEADER},   {"rewrite subject", RSPAMD_ACTION_REWRITE_SUBJECT},
    {"soft reject", RSPAMD_ACTION_SOFT_REJECT}, {"reject", RSPAMD_ACTION_REJECT},
};

/* A number member: 0, or -1 when missing, not a number or not finite. */
static int
get_number(json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return isfinite(*out) ? 0 : -1;
}

static int
symbol_order(const void *a, const void *b)
{
    const struct rspamd_symbol *x = a, *y = b;

    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Keeps sym if it is among the RSPAMD_SYMBOLS_MAX highest scores so far. */
static void
keep_symbol(struct rspamd_result *r, const struct rspamd_symbol *sym)
{
    size_t low = 0;

    r->n_symbols_all++;
    if (r->n_symbols < RSPAMD_SYMBOLS_MAX) {
        r->symbols[r->n_symbols++] = *sym;
        return;
    }
    for (size_t i = 1; i < r->n_symbols; i++)
        if (symbol_order(&r->symbols[i], &r->symbols[low]) > 0)
            low = i;
    if (symbol_order(sym, &r->symbols[low]) < 0)
        r->symbols[low] = *sym;
}

static int
parse_symbols(json_t *symbols, struct rspamd_result *r)
{
    const char *key;
    json_t *value;

    if (symbols == NULL)
        return 0;
    if (!json_is_object(symbols))
        return answer_error(r, "rspamd's symbols are not an object", "");
    json_object_foreach(symbols, key, value)
    {
        struct rspamd_symbol sym;

        if (!json_is_object(value) || get_number(value, "score", &sym.score) == -1)
            return answer_error(r, "rspamd's symbol without a score: ", key);
        printable(sym.name, sizeof(sym.name), key, strlen(key));
        keep_symbol(r, &sym);
    }
    qsort(r->symbols, r->n_symbols, sizeof(r->symbols[0]), symbol_order);
    return 0;
}

int
rspamd_answer_parse(struct slice text, struct rspamd_result *r)
{
    json_error_t jerr;
    json_t *doc, *v;
    const char *action;
    int rc = -1;

    memset(r, 0, sizeof(*r));
    r->status = RSPAMD_ERROR;
    doc = json_loadb(text.p, text.len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        return answer_error(r, "rspamd's answer is not JSON: ", jerr.text);
    if (!json_is_object(doc)) {
        answer_error(r, "rspamd's answer is not a JSON object", "");
        goto out;
    }
    v = json_object_get(doc, "error");
    if (v != NULL) {
        answer_error(r, "rspamd: ", json_is_string(v) ? json_string_value(v) : "error");
        goto out;
    }
    if (get_number(doc, "score", &r->score) == -1) {
        answer_error(r, "rspamd's answer has no score", "");
        goto out;
    }
    if (get_number(doc, "required_score", &r->required_score) == -1) {
        answer_error(r, "rspamd's answer has no required_score", "");
        goto out;
    }
    v = json_object_get(doc, "action");
    if (!json_is_string(v)) {
        answer_error(r, "rspamd's answer has no action", "");
        goto out;
    }
    action = json_string_value(v);
    printable(r->action_text, sizeof(r->action_text), action, json_string_length(v));
    r->action = RSPAMD_ACTION_OTHER;
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (strlen(actions[i].text) == json_string_length(v) &&
            strcmp(actions[i].text, action) == 0)
            r->action = actions[i].action;
    v = json_object_get(doc, "is_skipped");
    r->is_skipped = json_is_true(v);
    if (parse_symbols(json_object_get(doc, "symbols"), r) == -1)
        goto out;
    r->status = RSPAMD_OK;
    rc = 0;
out:
    json_decref(doc);
    if (rc == -1) {
        r->n_symbols = r->n_symbols_all = 0;
        r->score = r->required_score = 0;
    }
    return rc;
}

/* ---- The request ---- */

struct rspamd_scan {
    struct curl_loop *loop;
    CURL *easy;
    struct curl_slist *headers;
    rspamd_read_fn *read_fn;
    void *read_arg;
    rspamd_done_fn *done;
    void *done_arg;
    size_t size, sent;
    bool read_failed, too_big;
    char *answer;
    size_t answer_len, answer_cap;
    struct event *early; /* an error before the request: reported from the loop */
    char early_error[RSPAMD_ERROR_MAX];
    char curl_error[CURL_ERROR_SIZE];
};

static void
scan_free(struct rspamd_scan *s)
{
    if (s->easy != NULL) {
        curl_loop_remove(s->loop, s->easy);
        curl_easy_cleanup(s->easy);
    }
    curl_slist_free_all(s->headers);
    if (s->early != NULL)
        event_free(s->early);
    free(s->answer);
    free(s);
}

static void
scan_end(struct rspamd_scan *s, struct rspamd_result *r)
{
    rspamd_done_fn *done = s->done;
    void *arg = s->done_arg;

    scan_free(s);
    done(arg, r);
    free(r);
}

static void
early_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rspamd_scan *s = arg;
    struct rspamd_result *r = xcalloc(1, sizeof(*r));

    (void)fd;
    (void)what;
    r->status = RSPAMD_ERROR;
    (void)str_copyz(r->error, sizeof(r->error), s->early_error);
    scan_end(s, r);
}

static struct rspamd_scan *
fail_soon(struct rspamd_scan *s, const char *what, const char *detail)
{
    char text[RSPAMD_ERROR_MAX];

    (void)str_fmt(text, sizeof(text), "%s%s", what, detail);
    (void)str_copyz(s->early_error, sizeof(s->early_error), text);
    s->early = event_new(curl_loop_base(s->loop), -1, 0, early_cb, s);
    if (s->early == NULL)
        log_panic("rspamd: out of memory");
    event_active(s->early, EV_TIMEOUT, 1);
    return s;
}

/* CURLOPT_READFUNCTION: the message, exactly s->size octets. */
static size_t
read_body(char *buf, size_t size, size_t n, void *arg)
{
    struct rspamd_scan *s = arg;
    size_t want = size * n;
    ssize_t got;

    if (s->sent == s->size)
        return 0;
    if (want > s->size - s->sent)
        want = s->size - s->sent;
    got = s->read_fn(s->read_arg, buf, want);
    if (got <= 0 || (size_t)got > want) {
        s->read_failed = true;
        return CURL_READFUNC_ABORT;
    }
    s->sent += (size_t)got;
    return (size_t)got;
}

/* CURLOPT_WRITEFUNCTION: the answer, up to RSPAMD_ANSWER_MAX. */
static size_t
write_answer(char *p, size_t size, size_t n, void *arg)
{
    struct rspamd_scan *s = arg;
    size_t len = size * n;

    if (len > RSPAMD_ANSWER_MAX - s->answer_len) {
        s->too_big = true;
        return 0;
    }
    if (s->answer_len + len > s->answer_cap) {
        size_t cap = s->answer_cap == 0 ? 4096 : s->answer_cap;

        while (cap < s->answer_len + len)
            cap *= 2;
        if (cap > RSPAMD_ANSWER_MAX)
            cap = RSPAMD_ANSWER_MAX;
        s->answer = xrealloc(s->answer, cap);
        s->answer_cap = cap;
    }
    memcpy(s->answer + s->answer_len, p, len);
    s->answer_len += len;
    return len;
}

/* The transfer ended (curl_loop_done_fn). */
static void
transfer_done(CURL *easy, CURLcode rc, void *arg)
{
    struct rspamd_scan *s = arg;
    struct rspamd_result *r = xcalloc(1, sizeof(*r));
    long code = 0;

    (void)curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(easy);
    s->easy = NULL;
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        r->status = RSPAMD_TIMEOUT;
        (void)str_copyz(r->error, sizeof(r->error), "no answer from rspamd within the timeout");
    } else if (s->read_failed) {
        r->status = RSPAMD_ERROR;
        (void)str_copyz(r->error, sizeof(r->error), "the message could not be read");
    } else if (s->too_big) {
        r->status = RSPAMD_ERROR;
        (void)str_fmt(r->error, sizeof(r->error), "rspamd's answer is longer than %d octets",
                      RSPAMD_ANSWER_MAX);
    } else if (rc != CURLE_OK) {
        char clean[RSPAMD_ERROR_MAX];
        const char *e = s->curl_error[0] != '\0' ? s->curl_error : curl_easy_strerror(rc);

        printable(clean, sizeof(clean), e, strlen(e));
        r->status = RSPAMD_ERROR;
        (void)str_fmt(r->error, sizeof(r->error), "rspamd: %s", clean);
    } else if (code != 200) {
        struct rspamd_result why;

        (void)rspamd_answer_parse(slice_make(s->answer, s->answer_len), &why);
        r->status = RSPAMD_ERROR;
        (void)str_fmt(r->error, sizeof(r->error), "rspamd answered HTTP %ld%s%s", code,
                      strncmp(why.error, "rspamd: ", 8) == 0 ? ": " : "",
                      strncmp(why.error, "rspamd: ", 8) == 0 ? why.error + 8 : "");
    } else {
        (void)rspamd_answer_parse(slice_make(s->answer, s->answer_len), r);
    }
    r->http_status = code;
    scan_end(s, r);
}

/* A header value rspamd may be told: no control characters (no header injection). */
static bool
is_header_value(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* Adds "name: value" unless value is NULL or "". Returns 0, or -1 (s->early_error says). */
static int
add_header(struct rspamd_scan *s, const char *name, const char *value)
{
    struct curl_slist *l;
    char *line;
    size_t n;

    if (value == NULL || value[0] == '\0')
        return 0;
    if (!is_header_value(value)) {
        (void)str_fmt(s->early_error, sizeof(s->early_error),
                      "a control character in rspamd's %s header", name);
        return -1;
    }
    n = strlen(name) + 2 + strlen(value) + 1;
    line = xmalloc(n);
    (void)str_fmt(line, n, "%s: %s", name, value);
    l = curl_slist_append(s->headers, line);
    free(line);
    if (l == NULL)
        log_panic("rspamd: out of memory");
    s->headers = l;
    return 0;
}

struct rspamd_scan *
rspamd_scan_start(struct curl_loop *loop, const struct rspamd_request *req, rspamd_read_fn *read_fn,
                  void *read_arg, rspamd_done_fn *done, void *done_arg)
{
    struct rspamd_scan *s = xcalloc(1, sizeof(*s));
    char url[2048];
    size_t ulen;
    CURL *e;

    s->loop = loop;
    s->read_fn = read_fn;
    s->read_arg = read_arg;
    s->done = done;
    s->done_arg = done_arg;
    s->size = req->size;
    ulen = strlen(req->url);
    while (ulen > 0 && req->url[ulen - 1] == '/')
        ulen--;
    if (str_fmt(url, sizeof(url), "%.*s/checkv2", (int)ulen, req->url) == -1)
        return fail_soon(s, "rspamd's URL is too long", "");
    if (add_header(s, "IP", req->ip) == -1 || add_header(s, "Helo", req->helo) == -1 ||
        add_header(s, "From", req->from) == -1 || add_header(s, "Queue-Id", req->queue_id) == -1 ||
        add_header(s, "User", req->user) == -1 || add_header(s, "Hostname", req->hostname) == -1)
        return fail_soon(s, s->early_error, "");
    for (size_t i = 0; i < req->n_rcpt; i++)
        if (add_header(s, "Rcpt", req->rcpt[i]) == -1)
            return fail_soon(s, s->early_error, "");
    s->headers = curl_slist_append(s->headers, "Expect:"); /* no 100-continue wait */
    if (s->headers == NULL)
        log_panic("rspamd: out of memory");
    e = curl_easy_init();
    if (e == NULL)
        return fail_soon(s, "rspamd: curl_easy_init failed", "");
    if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->size) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_READFUNCTION, read_body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_READDATA, s) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_USERAGENT, "gate26/" GATE26_VERSION) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_answer) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, s) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->curl_error) != CURLE_OK) {
        curl_easy_cleanup(e);
        return fail_soon(s, "rspamd: curl_easy_setopt failed", "");
    }
    if (curl_loop_add(loop, e, transfer_done, s) == -1) {
        curl_easy_cleanup(e);
        return fail_soon(s, "rspamd: curl refused the request", "");
    }
    s->easy = e;
    return s;
}

void
rspamd_scan_cancel(struct rspamd_scan *s)
{
    if (s != NULL)
        scan_free(s);
}
