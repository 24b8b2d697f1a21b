/* SPDX-License-Identifier: MIT */
/*
 * The header editor (checks/hdredit.h): the section is split once by
 * msghdr_parse() into a list of fields, each a view of the section or a
 * field written here; the milters' changes edit the list in order, the
 * Authentication-Results of ours that came with the message are left out,
 * and the result is measured against the cap before it is written, top
 * fields first. Everything a milter sends is checked before it is used:
 * an RFC 5322 field-name (3.6.8), and a value whose line breaks are
 * folding (2.2.3), so that no mod can start a field of its own or end the
 * header section.
 */
#include "checks/hdredit.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "mailauth/authres.h"
#include "mailauth/msghdr.h"

/* One field of the section being edited. */
struct ent {
    struct slice name;
    struct slice raw;   /* the whole field, no final line end */
    struct slice value; /* after the colon */
    char *own;          /* raw points into this when a mod wrote the field (freed with it) */
    bool from_section;  /* came with the message (changed or not): may be ours to drop */
};

struct list {
    struct ent *e;
    size_t n, cap;
};

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (cap == 0)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static bool
is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* field-name = 1*ftext; ftext = %d33-57 / %d59-126   RFC 5322 3.6.8 */
static bool
is_field_name(const char *n)
{
    if (n == NULL || *n == '\0')
        return false;
    for (; *n != '\0'; n++) {
        unsigned char c = (unsigned char)*n;

        if (c < 33 || c > 126 || c == ':')
            return false;
    }
    return true;
}

/*
 * A milter's value, checked (RFC 5322 2.2.3: a line break inside a field is
 * folding, CRLF followed by WSP; a line of only WSP is not written, 3.2.2,
 * and some readers take it for the empty line). Returns the octets it
 * takes with CR LF line ends, or -1 with the reason in *why.
 */
static long
value_check(const char *v, size_t first_line, const char **why)
{
    size_t out = 0, line = first_line;

    for (size_t i = 0; v[i] != '\0'; i++) {
        if (v[i] == '\r' && v[i + 1] != '\n') {
            *why = "a bare CR in the value";
            return -1;
        }
        if (v[i] == '\r')
            continue; /* the LF that follows counts the line end */
        if (v[i] != '\n') {
            out++;
            if (++line > HDREDIT_LINE_MAX) {
                *why = "a line of the field over 998 octets (RFC 5322 2.1.1)";
                return -1;
            }
            continue;
        }
        if (v[i + 1] == '\0') {
            *why = "a line break at the end of the value (it would end the header section)";
            return -1;
        }
        if (!is_wsp(v[i + 1])) {
            *why = "a line break not followed by white space (it would start a field)";
            return -1;
        }
        {
            size_t j = i + 1;

            while (is_wsp(v[j]))
                j++;
            if (v[j] == '\0' || v[j] == '\n' || v[j] == '\r') {
                *why = "a line of only white space in the value";
                return -1;
            }
        }
        out += 2;
        line = 0;
    }
    return (long)out;
}

/* Writes "Name: value" (value checked by value_check) into a new heap string; fills e. */
static void
ent_write(struct ent *e, struct slice name, const char *v, size_t vlen)
{
    size_t len = name.len + 2 + vlen, o;
    char *p = xmalloc(len + 1);

    memcpy(p, name.p, name.len);
    p[name.len] = ':';
    p[name.len + 1] = ' ';
    o = name.len + 2;
    for (size_t i = 0; v[i] != '\0'; i++) {
        if (v[i] == '\r')
            continue;
        if (v[i] == '\n')
            p[o++] = '\r';
        p[o++] = v[i];
    }
    p[o] = '\0';
    free(e->own);
    e->own = p;
    e->name = slice_make(p, name.len);
    e->raw = slice_make(p, o);
    e->value = slice_make(p + name.len + 1, o - name.len - 1);
}

static void
list_insert(struct list *l, size_t at, const struct ent *e)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->e = xrealloc(l->e, l->cap * sizeof *l->e);
    }
    memmove(&l->e[at + 1], &l->e[at], (l->n - at) * sizeof *l->e);
    l->e[at] = *e;
    l->n++;
}

static void
list_remove(struct list *l, size_t at)
{
    free(l->e[at].own);
    memmove(&l->e[at], &l->e[at + 1], (l->n - at - 1) * sizeof *l->e);
    l->n--;
}

static void
list_clear(struct list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].own);
    free(l->e);
    l->e = NULL;
    l->n = l->cap = 0;
}

/* The position of the index-th (from 1; 0 as 1) field named name, or l->n when none. */
static size_t
list_find(const struct list *l, const char *name, unsigned index)
{
    unsigned k = 0, want = index == 0 ? 1 : index;

    for (size_t i = 0; i < l->n; i++) {
        if (slice_eq_ci(l->e[i].name, name) && ++k == want)
            return i;
    }
    return l->n;
}

/* s cut to fit out, each octet that is not printable ASCII as '?' (the reason gets logged). */
static void
printable(char *out, size_t cap, const char *s)
{
    size_t o = 0;

    for (; *s != '\0' && o + 1 < cap; s++, o++)
        out[o] = *s >= 0x20 && *s < 0x7f ? *s : '?';
    out[o] = '\0';
}

static const char *
kind_name(enum milter_mod_kind k)
{
    switch (k) {
    case MILTER_MOD_ADD:
        return "add";
    case MILTER_MOD_INSERT:
        return "insert";
    case MILTER_MOD_CHANGE:
        return "change";
    case MILTER_MOD_DELETE:
        return "delete";
    }
    return "?";
}

/* Applies one mod to l. Returns 1 (applied), 0 (nothing to act on) or -1 with *why. */
static int
mod_apply(struct list *l, const struct milter_mod *md, const char **why)
{
    const char *v = md->value != NULL ? md->value : "";
    struct ent e = {0};
    size_t at;
    long vlen;

    if (md->kind != MILTER_MOD_ADD && md->kind != MILTER_MOD_INSERT &&
        md->kind != MILTER_MOD_CHANGE && md->kind != MILTER_MOD_DELETE) {
        *why = "an unknown kind of change";
        return -1;
    }
    if (!is_field_name(md->name)) {
        *why = "not a field name (RFC 5322 3.6.8: printable ASCII but ':', no space)";
        return -1;
    }
    if (md->kind == MILTER_MOD_DELETE || (md->kind == MILTER_MOD_CHANGE && *v == '\0')) {
        at = list_find(l, md->name, md->index);
        if (at == l->n)
            return 0;
        list_remove(l, at);
        return 1;
    }
    vlen = value_check(v, strlen(md->name) + 2, why);
    if (vlen == -1)
        return -1;
    at = l->n;
    if (md->kind == MILTER_MOD_INSERT && md->index < l->n)
        at = md->index;
    if (md->kind == MILTER_MOD_CHANGE) {
        at = list_find(l, md->name, md->index);
        if (at < l->n) {
            /* The field keeps its place, its spelling of the name and where it came from. */
            char *old = l->e[at].own;

            /* The name may point into old: write first, free after. */
            l->e[at].own = NULL;
            ent_write(&l->e[at], l->e[at].name, v, (size_t)vlen);
            free(old);
            return 1;
        }
    }
    ent_write(&e, slice_make(md->name, strlen(md->name)), v, (size_t)vlen);
    list_insert(l, at, &e);
    return 1;
}

/* Octets of raw with each bare LF written as CR LF. */
static size_t
crlf_len(struct slice raw)
{
    size_t n = raw.len;

    for (size_t i = 0; i < raw.len; i++)
        n += raw.p[i] == '\n' && (i == 0 || raw.p[i - 1] != '\r');
    return n;
}

static char *
crlf_put(char *o, struct slice raw)
{
    for (size_t i = 0; i < raw.len; i++) {
        if (raw.p[i] == '\n' && (i == 0 || raw.p[i - 1] != '\r'))
            *o++ = '\r';
        *o++ = raw.p[i];
    }
    return o;
}

/* The fields of s (a section: whole fields, the last one ending in its line end). */
static int
section_parse(struct slice s, struct msghdr_section *h, const char *what, char *err, size_t cap)
{
    const char *why = NULL;

    if (msghdr_parse(h, s, s.len / 2 + 1, &why) == -1) {
        set_err(err, cap, "%s is not header fields (%s)", what, why);
        return -1;
    }
    if (s.len > 0 && s.p[s.len - 1] != '\n') {
        set_err(err, cap, "%s does not end with a line end", what);
        return -1;
    }
    return 0;
}

int
hdredit_apply(const struct hdredit *in, struct hdredit_result *out, char *err, size_t cap)
{
    struct msghdr_section h = {0}, top = {0};
    struct list l = {0};
    struct hdredit_result r = {0};
    size_t len = crlf_len(in->top);
    bool *drop = NULL;
    char *o;

    if (section_parse(in->header, &h, "the header section", err, cap) == -1 ||
        section_parse(in->top, &top, "the fields to put on top", err, cap) == -1)
        goto fail;
    for (size_t i = 0; i < h.n; i++) {
        struct ent e = {h.f[i].name, h.f[i].raw, h.f[i].value, NULL, true};

        list_insert(&l, l.n, &e);
    }
    for (size_t k = 0; k < in->n_mods; k++) {
        const struct milter_mod *md = &in->mods[k];
        const char *why = NULL;
        int rc = mod_apply(&l, md, &why);

        if (rc == -1) {
            char name[65];

            printable(name, sizeof name, md->name != NULL ? md->name : "(no name)");
            set_err(err, cap, "milter change %zu (%s %s): %s", k + 1, kind_name(md->kind), name,
                    why);
            goto fail;
        }
        if (rc == 1)
            r.applied++;
        else
            r.ignored++;
    }
    drop = xcalloc(l.n + 1, sizeof *drop);
    for (size_t i = 0; i < l.n; i++) {
        const struct ent *e = &l.e[i];

        drop[i] = in->drop_authres_id != NULL && e->from_section &&
                  authres_is_field_name(e->name) && authres_is_ours(e->value, in->drop_authres_id);
        if (drop[i]) {
            r.dropped_authres++;
            continue;
        }
        len += crlf_len(e->raw) + 2;
        if (len > in->max)
            break;
    }
    if (len > in->max) {
        set_err(err, cap, "the header section would pass %zu octets", in->max);
        goto fail;
    }
    r.text = xmalloc(len + 1);
    o = crlf_put(r.text, in->top);
    for (size_t i = 0; i < l.n; i++) {
        if (drop[i])
            continue;
        o = crlf_put(o, l.e[i].raw);
        *o++ = '\r';
        *o++ = '\n';
    }
    *o = '\0';
    r.len = (size_t)(o - r.text);
    free(drop);
    list_clear(&l);
    msghdr_clear(&h);
    msghdr_clear(&top);
    *out = r;
    return 0;
fail:
    free(drop);
    list_clear(&l);
    msghdr_clear(&h);
    msghdr_clear(&top);
    return -1;
}

void
hdredit_result_free(struct hdredit_result *r)
{
    if (r == NULL)
        return;
    free(r->text);
    memset(r, 0, sizeof *r);
}

char *
hdredit_body_crlf(const char *p, size_t len, size_t *out_len)
{
    size_t n = len, o = 0;
    char *b;

    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
            n++;
        else if (p[i] == '\r' && (i + 1 == len || p[i + 1] != '\n'))
            n++;
    }
    b = xmalloc(n + 1);
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) {
            b[o++] = '\r';
            b[o++] = '\n';
        } else if (p[i] == '\r' && (i + 1 == len || p[i + 1] != '\n')) {
            b[o++] = '\r';
            b[o++] = '\n';
        } else {
            b[o++] = p[i];
        }
    }
    b[o] = '\0';
    *out_len = o;
    return b;
}
