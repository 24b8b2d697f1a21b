/* SPDX-License-Identifier: MIT */
/*
 * SPF macro expansion (RFC 7208 7): %{s l o d i p h c r t v} with the
 * transformers (a count of right-hand parts and "r" to reverse) and the
 * delimiters, "%%", "%_" and "%-"; upper-case letters are URL-escaped
 * (7.3); c, r and t only in explanations (7.2); i of an IPv6 address is
 * its 32 nibbles, dotted (7.3); a name to look up keeps at most 253 octets,
 * cut from the left by labels (7.3). Pure: the values come in a struct
 * spf_macro_env.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mailauth/spf_ascii.h"
#include "lib/str.h"
#include "mailauth/spf.h"

#define MACRO_NAME_MAX 253
/* Parts kept from one value: a count above it keeps them all. */
#define MACRO_PARTS_MAX 128

struct out {
    char *p;
    size_t len, cap;
    bool over;
};

static void
out_put(struct out *o, const char *p, size_t n)
{
    if (o->over || n > o->cap - 1 - o->len) {
        o->over = true;
        return;
    }
    memcpy(o->p + o->len, p, n);
    o->len += n;
}

/* URL escape (RFC 3986 2.3: unreserved octets stay), for upper-case macros. */
static void
out_put_escaped(struct out *o, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};

        if (spf_is_alnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~')
            out_put(o, p + i, 1);
        else
            out_put(o, e, 3);
    }
}

/* The value of a macro letter into v (capacity cap). 0, or -1 when not allowed here. */
static int
macro_value(char letter, const struct spf_macro_env *env, bool in_exp, char *v, size_t cap)
{
    const unsigned char *b = env->ip.b;

    switch (letter) {
    case 's':
        return str_copyz(v, cap, env->sender);
    case 'l':
        return str_copyz(v, cap, env->local);
    case 'o':
        return str_copyz(v, cap, env->sender_domain);
    case 'd':
        return str_copyz(v, cap, env->domain);
    case 'h':
        return str_copyz(v, cap, env->helo);
    case 'p':
        return str_copyz(v, cap, env->ptr_name != NULL ? env->ptr_name : "unknown");
    case 'v':
        return str_copyz(v, cap, env->ip.family == AF_INET6 ? "ip6" : "in-addr");
    case 'i':
        if (env->ip.family == AF_INET6) {
            static const char hex[] = "0123456789abcdef";
            size_t o = 0;

            /* 7.3: dot-format, 32 nibbles in order. */
            if (cap < 64)
                return -1;
            for (int k = 0; k < 16; k++) {
                v[o++] = hex[b[k] >> 4];
                v[o++] = '.';
                v[o++] = hex[b[k] & 15];
                v[o++] = k == 15 ? '\0' : '.';
            }
            return 0;
        }
        return str_fmt(v, cap, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    case 'c':
    case 'r':
    case 't':
        if (!in_exp)
            return -1;
        if (letter == 'r')
            return str_copyz(v, cap, env->receiver != NULL ? env->receiver : "unknown");
        if (letter == 't')
            return str_fmt(v, cap, "%" PRIu64, env->now);
        if (inet_ntop(env->ip.family, b, v, (socklen_t)cap) == NULL)
            return -1;
        return 0;
    }
    return -1;
}

static bool
is_delim(char ch, const char *delims, size_t nd)
{
    for (size_t i = 0; i < nd; i++) {
        if (delims[i] == ch)
            return true;
    }
    return false;
}

/*
 * 7.3: split v at the delimiters, reverse if asked, keep the right-hand
 * count parts (0: all), join with ".".
 */
static void
macro_transform(struct out *o, const char *v, unsigned count, bool reverse, const char *delims,
                size_t nd, bool escape)
{
    struct slice parts[MACRO_PARTS_MAX * 2];
    size_t np = 0, start = 0, len = strlen(v), first;

    for (size_t i = 0; i <= len && np < sizeof(parts) / sizeof(parts[0]); i++) {
        if (i == len || is_delim(v[i], delims, nd)) {
            parts[np++] = slice_make(v + start, i - start);
            start = i + 1;
        }
    }
    if (reverse) {
        for (size_t i = 0; i < np / 2; i++) {
            struct slice t = parts[i];

            parts[i] = parts[np - 1 - i];
            parts[np - 1 - i] = t;
        }
    }
    first = count != 0 && count < np ? np - count : 0;
    for (size_t i = first; i < np; i++) {
        if (i > first)
            out_put(o, ".", 1);
        if (escape)
            out_put_escaped(o, parts[i].p, parts[i].len);
        else
            out_put(o, parts[i].p, parts[i].len);
    }
}

/* macro-expand at in.p[*i] == '%'. 0, or -1 with err. */
static int
macro_expand_one(struct slice in, size_t *i, const struct spf_macro_env *env, bool in_exp,
                 struct out *o, char *err, size_t errcap)
{
    size_t k = *i + 1;
    char letter, value[SPF_MACRO_OUT_CAP];
    unsigned count = 0;
    bool reverse = false, upper, digits = false;
    const char *delims;
    size_t nd = 0;

    if (k >= in.len) {
        (void)str_copyz(err, errcap, "'%' at the end of a macro-string");
        return -1;
    }
    switch (in.p[k]) {
    case '%':
        out_put(o, "%", 1);
        *i = k + 1;
        return 0;
    case '_':
        out_put(o, " ", 1);
        *i = k + 1;
        return 0;
    case '-':
        out_put(o, "%20", 3);
        *i = k + 1;
        return 0;
    case '{':
        break;
    default:
        (void)str_fmt(err, errcap, "bad macro '%%%c'",
                      spf_is_print((unsigned char)in.p[k]) ? in.p[k] : '?');
        return -1;
    }
    if (++k >= in.len || strchr("slodiphcrtvSLODIPHCRTV", in.p[k]) == NULL || in.p[k] == '\0') {
        (void)str_copyz(err, errcap, "bad macro letter");
        return -1;
    }
    upper = spf_is_upper((unsigned char)in.p[k]);
    letter = (char)spf_to_lower((unsigned char)in.p[k]);
    k++;
    while (k < in.len && is_digit((unsigned char)in.p[k])) {
        digits = true;
        if (count <= MACRO_PARTS_MAX)
            count = count * 10 + (unsigned)(in.p[k] - '0');
        k++;
    }
    /* 7.1: a DIGIT transformer is nonzero. */
    if (digits && count == 0) {
        (void)str_copyz(err, errcap, "macro transformer 0");
        return -1;
    }
    if (k < in.len && (in.p[k] == 'r' || in.p[k] == 'R')) {
        reverse = true;
        k++;
    }
    delims = in.p + k;
    while (k < in.len && in.p[k] != '\0' && strchr(".-+,/_=", in.p[k]) != NULL) {
        nd++;
        k++;
    }
    if (k >= in.len || in.p[k] != '}') {
        (void)str_copyz(err, errcap, "unterminated macro");
        return -1;
    }
    *i = k + 1;
    if (macro_value(letter, env, in_exp, value, sizeof(value)) == -1) {
        (void)str_fmt(err, errcap, "macro %%{%c} not allowed here", letter);
        return -1;
    }
    if (nd == 0) {
        delims = ".";
        nd = 1;
    }
    macro_transform(o, value, count, reverse, delims, nd, upper);
    return 0;
}

bool
spf_macro_uses_p(struct slice s)
{
    for (size_t i = 0; i + 2 < s.len; i++) {
        if (s.p[i] == '%' && s.p[i + 1] == '%') {
            i++;
            continue;
        }
        if (s.p[i] == '%' && s.p[i + 1] == '{' && (s.p[i + 2] == 'p' || s.p[i + 2] == 'P'))
            return true;
    }
    return false;
}

int
spf_macro_expand(struct slice in, const struct spf_macro_env *env, bool in_exp, bool for_domain,
                 char *out, size_t cap, char *err, size_t errcap)
{
    /* A name is expanded in full first: 7.3 cuts it to 253 octets after,
     * so it may be longer than out while it is built. */
    char whole[SPF_MACRO_OUT_CAP];
    struct out o = {for_domain ? whole : out, 0, for_domain ? sizeof(whole) : cap, false};

    if (cap == 0)
        return -1;
    for (size_t i = 0; i < in.len;) {
        if (in.p[i] == '%') {
            if (macro_expand_one(in, &i, env, in_exp, &o, err, errcap) == -1)
                return -1;
            continue;
        }
        out_put(&o, in.p + i, 1);
        i++;
    }
    if (o.over) {
        (void)str_copyz(err, errcap, "macro expansion too long");
        return -1;
    }
    o.p[o.len] = '\0';
    if (for_domain) {
        size_t skip = 0;

        if (o.len > 0 && whole[o.len - 1] == '.')
            whole[--o.len] = '\0';
        /* 7.3: drop labels from the left until it fits in 253 octets. */
        while (o.len - skip > MACRO_NAME_MAX) {
            const char *dot = memchr(whole + skip, '.', o.len - skip);

            if (dot == NULL) {
                (void)str_copyz(err, errcap, "expanded name too long");
                return -1;
            }
            skip = (size_t)(dot - whole) + 1;
        }
        if (o.len - skip >= cap) {
            (void)str_copyz(err, errcap, "macro expansion too long");
            return -1;
        }
        memcpy(out, whole + skip, o.len - skip + 1);
    }
    return 0;
}
