/* SPDX-License-Identifier: MIT */
/*
 * The list files of verify-recipients FILE (docs/verify.md, "The list
 * FILE"): one entry a line, "local@domain", "@domain" or "local", with
 * blank lines and '#' comments. The parser reads what an admin (or an
 * export script) wrote: the caps first (file size, then each line's length
 * before anything else is looked at), every octet checked, the first
 * problem refuses the whole file with FILE:LINE.
 *
 * Entries are kept as keys (key.c: ASCII lower case) in a hash set: an
 * arena of NUL-terminated strings and a table of their offsets, open
 * addressing with linear probing at most half full, hashed with SipHash-2-4
 * under a random key of the list (recipients are chosen by the Internet;
 * with a secret key nobody can aim many lookups at one long run of the
 * table). A lookup hashes once per kind of entry, whatever the list's size.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/io.h"
#include "lib/log.h"
#include "lib/siphash.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "verify/verify_impl.h"

struct verify_list {
    unsigned char seed[16];
    char *arena; /* the entries, each NUL-terminated */
    size_t arena_len, arena_cap;
    uint32_t *slots; /* 1 + the entry's offset in arena; 0: empty */
    size_t n_slots;  /* a power of two */
    size_t n;
};

/* Why a line is refused: its text goes after "PATH:LINE: ". */
struct file_why {
    char text[LOG_QUOTE_CAP + 160];
};

static int file_why(struct file_why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
file_why(struct file_why *w, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(w->text, sizeof(w->text), fmt, ap);
    va_end(ap);
    return -1;
}

static size_t
list_slot(const struct verify_list *l, const char *key, size_t len)
{
    return (size_t)siphash24(l->seed, key, len) & (l->n_slots - 1);
}

/* The slot that holds key, or the empty slot where it would go. */
static size_t
list_find(const struct verify_list *l, const char *key, size_t len)
{
    size_t i = list_slot(l, key, len);

    /* At most half full: an empty slot ends every run. */
    while (l->slots[i] != 0) {
        const char *e = l->arena + l->slots[i] - 1;

        if (memcmp(e, key, len) == 0 && e[len] == '\0')
            return i;
        i = (i + 1) & (l->n_slots - 1);
    }
    return i;
}

static void
list_grow(struct verify_list *l)
{
    uint32_t *old = l->slots;
    size_t n_old = l->n_slots;

    l->n_slots = n_old ? n_old * 2 : 64;
    l->slots = xcalloc(l->n_slots, sizeof(*l->slots));
    for (size_t i = 0; i < n_old; i++) {
        if (old[i] != 0) {
            const char *e = l->arena + old[i] - 1;

            l->slots[list_find(l, e, strlen(e))] = old[i];
        }
    }
    free(old);
}

/* Adds key (len octets); a key already there is left as it is. */
static void
list_add(struct verify_list *l, const char *key, size_t len)
{
    size_t i;

    if (2 * (l->n + 1) > l->n_slots)
        list_grow(l);
    i = list_find(l, key, len);
    if (l->slots[i] != 0)
        return; /* written twice: a duplicate changes nothing */
    while (l->arena_len + len + 1 > l->arena_cap) {
        l->arena_cap = l->arena_cap ? l->arena_cap * 2 : 4096;
        l->arena = xrealloc(l->arena, l->arena_cap);
    }
    memcpy(l->arena + l->arena_len, key, len);
    l->arena[l->arena_len + len] = '\0';
    /* The arena holds at most a file's worth (VERIFY_FILE_MAX): its offsets fit 32 bits. */
    l->slots[i] = (uint32_t)(l->arena_len + 1);
    l->arena_len += len + 1;
    l->n++;
}

static bool
is_ldh(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-';
}

/*
 * Domain = sub-domain *("." sub-domain) (RFC 5321 4.1.2), ASCII (IDNs in
 * their xn-- form, as in the configuration), at most 255 octets, its last
 * label not all digits (an address typed where a name belongs). One
 * trailing dot is dropped: *len becomes the length without it.
 */
static int
file_domain(const char *p, size_t *len, struct file_why *w, const char *entry)
{
    char q[LOG_QUOTE_CAP];
    size_t n = *len, label = 0;
    bool digits = true;

    if (n > 0 && p[n - 1] == '.')
        n--;
    if (n == 0)
        return file_why(w, "expected a domain after '@' in '%s'",
                        log_quote(q, sizeof(q), entry, strlen(entry)));
    if (p[0] == '[')
        return file_why(w, "address literals cannot be listed: '%s'",
                        log_quote(q, sizeof(q), entry, strlen(entry)));
    if (n > CAP_DOMAIN)
        return file_why(w, "domain longer than %d octets in '%s'", CAP_DOMAIN,
                        log_quote(q, sizeof(q), entry, strlen(entry)));
    for (size_t i = 0; i <= n; i++) {
        unsigned char ch = i < n ? (unsigned char)p[i] : '.';

        if (ch == '.') {
            /* sub-domain = Let-dig [Ldh-str]: 1 to 63, no hyphen at either end */
            if (label == 0 || label > 63 || p[i - 1] == '-' || p[i - label] == '-')
                return file_why(w,
                                "expected a domain name after '@' (labels of 1 to 63 letters, "
                                "digits and inner hyphens) in '%s'",
                                log_quote(q, sizeof(q), entry, strlen(entry)));
            if (i < n) {
                label = 0;
                digits = true;
            }
            continue;
        }
        if (!is_ldh(ch))
            return file_why(w, "unexpected character in the domain of '%s'",
                            log_quote(q, sizeof(q), entry, strlen(entry)));
        digits = digits && ch >= '0' && ch <= '9';
        label++;
    }
    if (digits)
        return file_why(w, "'%s' is not a domain name (its last label is all digits)",
                        log_quote(q, sizeof(q), entry, strlen(entry)));
    *len = n;
    return 0;
}

/*
 * entry = local "@" domain / "@" domain / local. The token has no blank or
 * control octet (file_line checked). Writes its key to out (VERIFY_KEY_MAX
 * + 1 octets) and its length to *klen.
 */
static int
file_entry(const char *tok, size_t len, char *out, size_t *klen, struct file_why *w)
{
    const char *at = memchr(tok, '@', len);
    char q[LOG_QUOTE_CAP], entry[VERIFY_LINE_MAX + 1];
    size_t local = at != NULL ? (size_t)(at - tok) : len, dl;

    memcpy(entry, tok, len);
    entry[len] = '\0';
    if (at != NULL && memchr(at + 1, '@', len - local - 1) != NULL)
        return file_why(w, "expected local@domain, @domain or local, found '%s'",
                        log_quote(q, sizeof(q), tok, len));
    if (local > CAP_LOCAL_PART)
        return file_why(w, "local part longer than %d octets in '%s'", CAP_LOCAL_PART,
                        log_quote(q, sizeof(q), tok, len));
    if (at == NULL) {
        memcpy(out, tok, len);
        *klen = len;
    } else {
        dl = len - local - 1;
        if (file_domain(at + 1, &dl, w, entry) == -1)
            return -1;
        memcpy(out, tok, local + 1 + dl);
        *klen = local + 1 + dl;
    }
    out[*klen] = '\0';
    str_lower(out, *klen);
    return 0;
}

/*
 * One line (len octets, without its LF). Returns 0 (an entry added, or
 * nothing to add), or -1 with why.
 */
static int
file_line(struct verify_list *l, const char *p, size_t len, bool first, struct file_why *w)
{
    char key[VERIFY_KEY_MAX + 1], q[LOG_QUOTE_CAP];
    size_t i = 0, start, klen = 0;

    /* The cap first, before the line is looked at (a CR of a CRLF is not counted). */
    if (len > VERIFY_LINE_MAX + (size_t)(len > 0 && p[len - 1] == '\r'))
        return file_why(w, "line longer than %d octets", VERIFY_LINE_MAX);
    if (len > 0 && p[len - 1] == '\r')
        len--; /* CRLF line ends, as an export on another system writes them */
    if (first && len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        return file_why(w, "UTF-8 byte order mark at the start (save the file without it)");
    for (size_t k = 0; k < len; k++) {
        unsigned char ch = (unsigned char)p[k];

        if (ch == '\0')
            return file_why(w, "unexpected NUL octet");
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return file_why(w, "control character 0x%02x", ch);
    }
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i == len || p[i] == '#')
        return 0;
    start = i;
    while (i < len && p[i] != ' ' && p[i] != '\t')
        i++;
    if (file_entry(p + start, i - start, key, &klen, w) == -1)
        return -1;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i < len && p[i] != '#')
        return file_why(w, "expected one entry a line, found '%s' after it",
                        log_quote(q, sizeof(q), p + i, len - i));
    if (klen > VERIFY_KEY_MAX)
        return file_why(w, "entry longer than %d octets", VERIFY_KEY_MAX);
    list_add(l, key, klen);
    return 0;
}

struct verify_list *
verify_list_parse(const char *path, const char *text, size_t len, char *err, size_t cap)
{
    struct verify_list *l = xcalloc(1, sizeof(*l));
    struct file_why w;
    unsigned line = 1;
    size_t at = 0;

    if (getrandom(l->seed, sizeof(l->seed), GRND_NONBLOCK) != (ssize_t)sizeof(l->seed)) {
        /* Before the kernel's pool is ready: the list still works, less well guarded. */
        for (size_t i = 0; i < sizeof(l->seed); i++)
            l->seed[i] = (unsigned char)(i * 131u + (uintptr_t)l);
    }
    list_grow(l);
    if (len > VERIFY_FILE_MAX) {
        (void)str_fmt(err, cap, "%s: larger than %zu octets", path, VERIFY_FILE_MAX);
        verify_list_free(l);
        return NULL;
    }
    while (at < len) {
        /* A line end is looked for within the cap (and a CR LF) only. */
        size_t look = len - at < VERIFY_LINE_MAX + 2 ? len - at : VERIFY_LINE_MAX + 2;
        const char *nl = memchr(text + at, '\n', look);
        size_t n = nl != NULL ? (size_t)(nl - (text + at)) : look;

        if (file_line(l, text + at, n, line == 1, &w) == -1) {
            (void)str_fmt(err, cap, "%s:%u: %s", path, line, w.text);
            verify_list_free(l);
            return NULL;
        }
        at += n + (nl != NULL);
        line++;
    }
    return l;
}

struct verify_list *
verify_list_load(const char *path, char *err, size_t cap)
{
    struct verify_list *l;
    char *text;
    size_t len;

    if (io_read_file(path, VERIFY_FILE_MAX, &text, &len, err, cap) == -1)
        return NULL;
    l = verify_list_parse(path, text, len, err, cap);
    free(text);
    return l;
}

void
verify_list_free(struct verify_list *l)
{
    if (l == NULL)
        return;
    free(l->arena);
    free(l->slots);
    free(l);
}

size_t
verify_list_count(const struct verify_list *l)
{
    return l->n;
}

bool
verify_list_has(const struct verify_list *l, const char *entry, size_t len)
{
    if (len == 0 || len > VERIFY_KEY_MAX)
        return false;
    return l->slots[list_find(l, entry, len)] != 0;
}

bool
verify_list_match(const struct verify_list *l, const char *key, size_t key_len, size_t local_len,
                  const char *domain)
{
    char dom[CAP_DOMAIN + 2];
    size_t dl = strlen(domain);

    if (verify_list_has(l, key, key_len))
        return true;
    if (dl <= CAP_DOMAIN) {
        dom[0] = '@';
        memcpy(dom + 1, domain, dl);
        if (verify_list_has(l, dom, dl + 1))
            return true;
    }
    /* A local part with an '@' of its own (quoted) is not a bare entry: it would read as one. */
    return local_len < key_len && memchr(key, '@', local_len) == NULL &&
           verify_list_has(l, key, local_len);
}
