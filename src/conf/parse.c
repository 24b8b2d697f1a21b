/* SPDX-License-Identifier: MIT */
/*
 * The configuration parser: reads the file, takes the lexer's lines, and
 * gives each line to a row of the settings tables (settings.c), one table
 * per scope (top level and each block kind). A row names a key, how many
 * values it takes, whether it may repeat, and the function that checks and
 * stores them, so that "unknown key", "duplicate key" and the value count
 * are decided here, in one place, and the "expected one of" lists in
 * messages come from the tables themselves.
 *
 *   file      = *( statement / block )
 *   statement = key *value                      (one line)
 *   block     = name [label] "{" *statement "}" ("{" ends the first line,
 *                                               "}" stands on a line of its own;
 *                                               "name [label] { }" is an empty block)
 *
 * Rules that need the whole file (defaults that depend on other blocks,
 * required blocks, duplicate domains) are in check.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/parse.h"
#include "conf/values.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

int
conf_fail(struct conf_parser *p, unsigned line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    /* The first error is the one reported; later ones are its echoes. */
    if (p->err == NULL || p->errcap == 0 || p->err[0] != '\0')
        return -1;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    (void)snprintf(p->err, p->errcap, "%s:%u: %s", p->path, line, msg);
    return -1;
}

int
conf_fail_plain(struct conf_parser *p, const char *fmt, ...)
{
    va_list ap;

    if (p->err == NULL || p->errcap == 0 || p->err[0] != '\0')
        return -1;
    va_start(ap, fmt);
    (void)vsnprintf(p->err, p->errcap, fmt, ap);
    va_end(ap);
    return -1;
}

/* A problem with the file as a whole: "FILE: message". */
static int
fail_file(struct conf_parser *p, const char *what, int errnum)
{
    if (p->err != NULL && p->errcap > 0)
        (void)snprintf(p->err, p->errcap, "%s: %s%s%s", p->path, what, errnum ? ": " : "",
                       errnum ? strerror(errnum) : "");
    return -1;
}

/* ---- Lines ---- */

static const struct conf_setting *
find_setting(const struct conf_setting *table, size_t n, struct slice name)
{
    for (size_t i = 0; i < n; i++) {
        if (name.len == strlen(table[i].name) && memcmp(name.p, table[i].name, name.len) == 0)
            return &table[i];
    }
    return NULL;
}

static const struct conf_block *
find_block(struct slice name)
{
    for (size_t i = 0; i < conf_n_blocks; i++) {
        if (name.len == strlen(conf_blocks[i].name) &&
            memcmp(name.p, conf_blocks[i].name, name.len) == 0)
            return &conf_blocks[i];
    }
    return NULL;
}

/* "a, b, c" of a table's keys, and at top level the block names after them. */
static void
key_list(char *dst, size_t cap, const struct conf_setting *table, size_t n, bool top)
{
    size_t used = 0;

    dst[0] = '\0';
    for (size_t i = 0; i < n + (top ? conf_n_blocks : 0); i++) {
        const char *name = i < n ? table[i].name : conf_blocks[i - n].name;

        if (str_fmt(dst + used, cap - used, "%s%s", i ? ", " : "", name) == -1)
            return;
        used += strlen(dst + used);
    }
}

/* statement = key 1*value */
static int
parse_statement(struct conf_parser *p, const struct conf_line *l)
{
    const struct conf_setting *table = p->block ? p->block->settings : conf_top_settings;
    size_t n = p->block ? p->block->n_settings : conf_n_top_settings;
    unsigned *seen = p->block ? p->block_seen : p->top_seen;
    struct slice key = conf_arg(l, 0);
    const struct conf_setting *s = find_setting(table, n, key);
    char q[CONF_QUOTE_CAP], list[512];

    if (s == NULL) {
        conf_quote(q, sizeof q, key);
        if (p->block == NULL && find_block(key) != NULL)
            return conf_fail(p, l->number,
                             "'%s' opens a block: expected '{' at the end of the line", q);
        key_list(list, sizeof list, table, n, p->block == NULL);
        if (p->block == NULL)
            return conf_fail(p, l->number, "unknown key '%s' at top level (expected one of: %s)", q,
                             list);
        return conf_fail(p, l->number, "unknown key '%s' in %s block (expected one of: %s)", q,
                         p->block->name, list);
    }
    if (l->n == 1)
        return conf_fail(p, l->number, "expected a value after '%s'", s->name);
    if (l->n - 1 > s->max_values) {
        const char *hint = conf_one_value_hint(s->name);

        if (s->max_values == 1)
            return conf_fail(p, l->number, "'%s' takes one value, found %zu%s%s%s", s->name,
                             l->n - 1, hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
        return conf_fail(p, l->number, "'%s' takes at most %u values, found %zu", s->name,
                         s->max_values, l->n - 1);
    }
    if (!s->repeats && seen[s - table] != 0)
        return conf_fail(p, l->number, "duplicate key '%s' (first at line %u)", s->name,
                         seen[s - table]);
    seen[s - table] = l->number;
    return s->apply(p, l);
}

/* "}" ends the open block; its close function checks what the block must hold. */
static int
parse_close(struct conf_parser *p, const struct conf_line *l)
{
    const struct conf_block *b = p->block;
    int r;

    if (b == NULL)
        return conf_fail(p, l->number, "unexpected '}': no block is open");
    r = b->close(p);
    p->block = NULL;
    p->listen = NULL;
    p->domain = NULL;
    return r;
}

/* block-open = name [label] "{"   (n_labels tokens between name and "{") */
static int
parse_open(struct conf_parser *p, const struct conf_line *l, size_t n_labels)
{
    struct slice name = conf_arg(l, 0);
    const struct conf_block *b = find_block(name);
    char q[CONF_QUOTE_CAP], q2[CONF_QUOTE_CAP], list[256];

    conf_quote(q, sizeof q, name);
    if (p->block != NULL)
        return conf_fail(p, l->number,
                         "'%s' opens a block inside block '%s' opened at line %u; blocks do not "
                         "nest (is a '}' missing?)",
                         q, p->block->name, p->block_line);
    if (b == NULL) {
        if (find_setting(conf_top_settings, conf_n_top_settings, name) != NULL)
            return conf_fail(p, l->number, "'%s' is a key, not a block (remove the '{')", q);
        key_list(list, sizeof list, NULL, 0, true);
        return conf_fail(p, l->number, "unknown block '%s' (expected one of: %s)", q, list);
    }
    if (b->label == NULL && n_labels > 0)
        return conf_fail(p, l->number, "expected '{' after '%s', found '%s' (%s takes no label)",
                         b->name, conf_quote(q2, sizeof q2, conf_arg(l, 1)), b->name);
    if (b->label != NULL && n_labels == 0)
        return conf_fail(p, l->number, "expected %s after '%s'", b->label, b->name);
    if (n_labels > 1)
        return conf_fail(p, l->number, "expected '{' after '%s %s', found '%s'", b->name,
                         conf_quote(q, sizeof q, conf_arg(l, 1)),
                         conf_quote(q2, sizeof q2, conf_arg(l, 2)));
    p->block = b;
    p->block_line = l->number;
    memset(p->block_seen, 0, sizeof p->block_seen);
    return b->open(p, l);
}

/*
 * A line is "}" alone, or "name [label] {" (with "}" right after the "{" for
 * an empty block), or a statement. Braces anywhere else are errors.
 */
static int
parse_line(struct conf_parser *p, const struct conf_line *l)
{
    size_t n = l->n;
    bool empty_block =
        n >= 2 && l->tok[n - 2].kind == CONF_TOK_OPEN && l->tok[n - 1].kind == CONF_TOK_CLOSE;
    size_t open_at = empty_block ? n - 2 : n - 1;

    switch (l->tok[0].kind) {
    case CONF_TOK_CLOSE:
        if (n > 1)
            return conf_fail(p, l->number, "'}' must be on a line of its own");
        return parse_close(p, l);
    case CONF_TOK_OPEN:
        return conf_fail(p, l->number,
                         "unexpected '{': it belongs at the end of the line that names the "
                         "block");
    case CONF_TOK_STRING:
        return conf_fail(p, l->number, "expected a key, found a quoted string");
    case CONF_TOK_WORD:
        break;
    }
    for (size_t i = 1; i < n; i++) {
        if (l->tok[i].kind == CONF_TOK_CLOSE && !(empty_block && i == n - 1))
            return conf_fail(p, l->number, "'}' must be on a line of its own");
        if (l->tok[i].kind == CONF_TOK_OPEN && i != open_at)
            return conf_fail(p, l->number,
                             "expected the end of the line after '{' (each statement goes on a "
                             "line of its own)");
    }
    if (l->tok[open_at].kind != CONF_TOK_OPEN)
        return parse_statement(p, l);
    if (parse_open(p, l, open_at - 1) == -1)
        return -1;
    return empty_block ? parse_close(p, l) : 0;
}

static int
parse_text(struct conf_parser *p, const char *text, size_t len)
{
    struct conf_line *line = xmalloc(sizeof *line);
    struct conf_lexer lx;
    int r;

    conf_lex_init(&lx, text, len);
    while ((r = conf_lex_line(&lx, line)) == 1) {
        if (parse_line(p, line) == -1)
            break;
    }
    free(line);
    if (r == -1)
        return conf_fail(p, lx.line, "%s", lx.why);
    if (r == 1)
        return -1;
    p->last_line = lx.line > 0 ? lx.line : 1;
    if (p->block != NULL)
        return conf_fail(p, p->last_line, "missing '}' for block '%s' opened at line %u",
                         p->block->name, p->block_line);
    return conf_check(p);
}

/* ---- The file ---- */

/* Reads the whole file (at most CONF_FILE_MAX octets) into a new buffer the caller frees. */
static int
read_file(struct conf_parser *p, char **text, size_t *len)
{
    size_t cap = 64 * 1024, used = 0;
    char *buf;
    ssize_t n;
    int fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd == -1)
        return fail_file(p, "cannot open", errno);
    buf = xmalloc(cap);
    for (;;) {
        if (used == cap) {
            if (cap > CONF_FILE_MAX) {
                free(buf);
                (void)close(fd);
                return fail_file(p, "file too large (more than 16 MiB): is it the configuration?",
                                 0);
            }
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        n = read(fd, buf + used, cap - used);
        if (n == 0)
            break;
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            int e = errno;

            free(buf);
            (void)close(fd);
            return fail_file(p, "cannot read", e);
        }
        used += (size_t)n;
    }
    (void)close(fd);
    if (used > CONF_FILE_MAX) {
        free(buf);
        return fail_file(p, "file too large (more than 16 MiB): is it the configuration?", 0);
    }
    *text = buf;
    *len = used;
    return 0;
}

/* The absolute directory of the file, against which relative paths in it are taken. */
static int
base_dir(struct conf_parser *p)
{
    const char *slash = strrchr(p->path, '/');
    struct slice dir = slice_make(p->path, slash ? (size_t)(slash - p->path) : 0);
    char cwd[CAP_PATH];
    int r;

    if (p->path[0] == '/') {
        r = str_copy(p->dir, sizeof p->dir, p->path, dir.len == 0 ? 1 : dir.len);
        return r == -1 ? fail_file(p, "path too long", 0) : 0;
    }
    if (getcwd(cwd, sizeof cwd) == NULL)
        return fail_file(p, "cannot find the current directory", errno);
    /* "./gate26.conf" and "gate26.conf" are both in the current directory. */
    while (dir.len >= 2 && dir.p[0] == '.' && dir.p[1] == '/') {
        dir.p += 2;
        dir.len -= 2;
    }
    if (dir.len == 0 || (dir.len == 1 && dir.p[0] == '.'))
        r = str_copyz(p->dir, sizeof p->dir, cwd);
    else
        r = str_fmt(p->dir, sizeof p->dir, "%s%s%.*s", cwd, strcmp(cwd, "/") == 0 ? "" : "/",
                    (int)dir.len, dir.p);
    return r == -1 ? fail_file(p, "path too long", 0) : 0;
}

static struct conf *
conf_new_defaults(void)
{
    static const unsigned retry[] = {300, 600, 1800, 3600, 7200, 14400};
    struct conf *c = xcalloc(1, sizeof *c);

    c->refs = 1;
    (void)str_copyz(c->spool, sizeof c->spool, "/var/spool/gate26");
    c->log_level = LOG_LEVEL_INFO;
    c->max_sessions = 1000;
    c->callout_timeout = 30;
    c->auth_max_failures = (struct conf_rate){5, 600};
    c->auth_lockout = 600;
    c->listens = xcalloc(DOOR_ROLE_COUNT, sizeof *c->listens);
    memcpy(c->retry, retry, sizeof retry);
    c->n_retry = N_OF(retry);
    c->give_up = 5 * 86400;
    c->delay_warning = 4 * 3600;
    c->max_deliveries = 500;
    c->max_per_destination = 20;
    c->timeout_connect = 30;
    c->timeout_command = 300;
    c->timeout_data = 600;
    c->connection_reuse = 2;
    c->tls_policy = CONF_TLS_POLICY_MAY; /* opportunistic, RFC 7435 */
    return c;
}

/* Parses text as the contents of path; see conf.h. */
static struct conf *
load_text(struct conf_parser *p, const char *text, size_t len)
{
    p->c = conf_new_defaults();
    (void)str_copyz(p->c->path, sizeof p->c->path, p->path);
    if (parse_text(p, text, len) == -1) {
        conf_unref(p->c);
        return NULL;
    }
    return p->c;
}

/* Starts a parser for path; false (with the message in err) when path cannot be used. */
static bool
parser_init(struct conf_parser *p, const char *path, char *err, size_t errcap)
{
    memset(p, 0, sizeof *p);
    p->path = path;
    p->err = err;
    p->errcap = errcap;
    if (err != NULL && errcap > 0)
        err[0] = '\0';
    if (strlen(path) >= CAP_PATH) {
        if (err != NULL && errcap > 0)
            (void)snprintf(err, errcap, "%.64s...: path too long (at most %d octets)", path,
                           CAP_PATH - 1);
        return false;
    }
    return base_dir(p) == 0;
}

struct conf *
conf_load(const char *path, char *err, size_t errcap)
{
    struct conf_parser p;
    struct conf *c;
    char *text = NULL;
    size_t len = 0;

    if (!parser_init(&p, path, err, errcap) || read_file(&p, &text, &len) == -1)
        return NULL;
    c = load_text(&p, text, len);
    free(text);
    return c;
}

struct conf *
conf_load_text(const char *path, const char *text, size_t len, char *err, size_t errcap)
{
    struct conf_parser p;

    if (!parser_init(&p, path, err, errcap))
        return NULL;
    if (len > CONF_FILE_MAX) {
        (void)fail_file(&p, "file too large (more than 16 MiB): is it the configuration?", 0);
        return NULL;
    }
    return load_text(&p, text, len);
}
