/* SPDX-License-Identifier: MIT */
/* The pure judgements of gate26 audit (judge.h). */
#include <jansson.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "audit/judge.h"
#include "check/check.h"
#include "lib/num.h"
#include "lib/str.h"

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool
audit_addr_is_public(int family, const unsigned char *addr)
{
    if (family != AF_INET && family != AF_INET6)
        return false;
    return !check_addr_is_private(family, addr);
}

/* True when the first bits of a and b (16 octets each) agree. */
static bool
same_prefix(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    size_t whole = bits / 8;
    unsigned rest = bits % 8;

    if (memcmp(a, b, whole) != 0)
        return false;
    return rest == 0 || ((a[whole] ^ b[whole]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

enum audit_net
audit_net_judge(const struct conf_cidr *n)
{
    static const unsigned char mapped_net[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    unsigned prefix = n->prefix;

    if (n->family == AF_INET6) {
        /* A network holding ::ffff:0:0/96 admits every IPv4 client (they are matched mapped). */
        if (prefix <= 96 && same_prefix(n->addr, mapped_net, prefix))
            return AUDIT_NET_EVERYONE;
        if (prefix < 96 || memcmp(n->addr, v4mapped, 12) != 0)
            return prefix < 48 ? AUDIT_NET_WIDE : AUDIT_NET_OK;
        prefix -= 96; /* ::ffff:a.b.c.d/P is a.b.c.d/(P-96) */
    }
    if (prefix == 0)
        return AUDIT_NET_EVERYONE;
    return prefix < 16 ? AUDIT_NET_WIDE : AUDIT_NET_OK;
}

/* The number after "rounds=" up to '$' (sha512-crypt); 5000 without it (its default). */
static int
sha512_rounds(const char *settings, uint64_t *rounds)
{
    static const char key[] = "rounds=";
    const char *end;

    if (strncmp(settings, key, sizeof(key) - 1) != 0) {
        *rounds = 5000;
        return 0;
    }
    settings += sizeof(key) - 1;
    end = strchr(settings, '$');
    if (end == NULL)
        return -1;
    return num_parse_u64(slice_make(settings, (size_t)(end - settings)), 1, 999999999, rounds);
}

enum audit_hash
audit_hash_judge(const char *hash, char *why, size_t cap)
{
    static const struct {
        const char *prefix, *name;
    } strong[] = {
        {"$y$", "yescrypt"},
        {"$gy$", "gost-yescrypt"},
        {"$7$", "scrypt"},
    };
    uint64_t v;

    if (hash[0] == '!')
        hash++;
    for (size_t i = 0; i < sizeof(strong) / sizeof(strong[0]); i++) {
        if (strncmp(hash, strong[i].prefix, strlen(strong[i].prefix)) == 0) {
            (void)str_copyz(why, cap, strong[i].name);
            return AUDIT_HASH_STRONG;
        }
    }
    if (strncmp(hash, "$2b$", 4) == 0 || strncmp(hash, "$2y$", 4) == 0) {
        /* "$2b$" COST(2 digits) "$" ... */
        if (num_parse_u64(slice_make(hash + 4, 2), 4, 31, &v) == -1 || hash[6] != '$') {
            (void)str_copyz(why, cap, "bcrypt with a malformed cost");
            return AUDIT_HASH_REFUSED;
        }
        (void)str_fmt(why, cap, "bcrypt, cost %u", (unsigned)v);
        return v >= AUDIT_BCRYPT_MIN_COST ? AUDIT_HASH_STRONG : AUDIT_HASH_WEAK;
    }
    if (strncmp(hash, "$6$", 3) == 0) {
        if (sha512_rounds(hash + 3, &v) == -1) {
            (void)str_copyz(why, cap, "sha512-crypt with malformed rounds");
            return AUDIT_HASH_REFUSED;
        }
        (void)str_fmt(why, cap, "sha512-crypt, %llu rounds", (unsigned long long)v);
        return v >= AUDIT_SHA512_MIN_ROUNDS ? AUDIT_HASH_STRONG : AUDIT_HASH_WEAK;
    }
    if (strncmp(hash, "$1$", 3) == 0)
        (void)str_copyz(why, cap, "md5-crypt");
    else if (strncmp(hash, "$5$", 3) == 0)
        (void)str_copyz(why, cap, "sha256-crypt");
    else if (strncmp(hash, "$2a$", 4) == 0)
        (void)str_copyz(why, cap, "bcrypt $2a$");
    else if (hash[0] == '\0')
        (void)str_copyz(why, cap, "no hash");
    else if (hash[0] != '$' && strlen(hash) == 13)
        (void)str_copyz(why, cap, "DES crypt");
    else
        (void)str_copyz(why, cap, "an unknown method");
    return AUDIT_HASH_REFUSED;
}

unsigned
audit_perm_judge(mode_t mode, uid_t uid, gid_t gid, const struct audit_ids *gw)
{
    unsigned bad = 0;
    bool gw_group = gid == 0 || (gw->has_user && gid == gw->gid);

    if (mode & S_IWOTH)
        bad |= AUDIT_PERM_OTHER_WRITE;
    if (mode & S_IWGRP)
        bad |= AUDIT_PERM_GROUP_WRITE;
    if (mode & S_IROTH)
        bad |= AUDIT_PERM_OTHER_READ;
    if ((mode & S_IRGRP) && !gw_group)
        bad |= AUDIT_PERM_GROUP_READ;
    if (uid != 0 && !(gw->has_user && uid == gw->uid))
        bad |= AUDIT_PERM_OWNER;
    return bad;
}

enum audit_cert
audit_cert_judge(time_t not_after, time_t now)
{
    if (not_after <= now)
        return AUDIT_CERT_EXPIRED;
    if (not_after - now <= (time_t)AUDIT_CERT_DAYS * 86400)
        return AUDIT_CERT_EXPIRING;
    return AUDIT_CERT_OK;
}

int
audit_parse_utc(const char *s, time_t *out)
{
    struct tm tm;
    const char *end;

    /* Exactly YYYY-MM-DDTHH:MM:SSZ: strptime alone would take shorter fields. */
    if (strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z')
        return -1;
    for (size_t i = 0; i < 19; i++) {
        if ((i == 4 || i == 7 || i == 10 || i == 13 || i == 16) || (s[i] >= '0' && s[i] <= '9'))
            continue;
        return -1;
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0')
        return -1;
    *out = timegm(&tm);
    return 0;
}

/* A JSON count (an integer from 0 up); -1 when it is not one. */
static int
json_count(const json_t *v, unsigned long long *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (unsigned long long)json_integer_value(v);
    return 0;
}

int
audit_scanners_judge(const char *text, size_t len, time_t now, struct audit_scanners *out,
                     char *why, size_t cap)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr), *sources, *src;
    unsigned long long best = 0;
    size_t i;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (doc == NULL) {
        (void)str_fmt(why, cap, "not JSON: %s", jerr.text);
        return -1;
    }
    sources = json_object_get(doc, "sources");
    if (!json_is_array(sources)) {
        (void)str_copyz(why, cap, "no \"sources\" array");
        goto done;
    }
    json_array_foreach(sources, i, src)
    {
        const json_t *addr = json_object_get(src, "address");
        const json_t *last = json_object_get(src, "last_seen");
        const json_t *sess = json_object_get(src, "sessions");
        unsigned long long mirai, n_sess = 0, k;
        const char *key;
        json_t *v;
        time_t seen;

        if (!json_is_string(addr) || !json_is_string(last) || !json_is_object(sess) ||
            json_count(json_object_get(src, "mirai"), &mirai) == -1) {
            (void)str_fmt(why, cap, "source %zu: expected address, mirai, sessions and last_seen",
                          i);
            goto done;
        }
        if (audit_parse_utc(json_string_value(last), &seen) == -1) {
            (void)str_fmt(why, cap, "source %zu: last_seen is not YYYY-MM-DDTHH:MM:SSZ", i);
            goto done;
        }
        json_object_foreach((json_t *)sess, key, v)
        {
            if (json_count(v, &k) == -1) {
                (void)str_fmt(why, cap, "source %zu: sessions.%.32s is not a count", i, key);
                goto done;
            }
            n_sess += k;
        }
        out->listed++;
        if (seen < now - AUDIT_SCANNERS_WINDOW)
            continue;
        out->sources++;
        out->mirai += mirai;
        out->sessions += n_sess;
        if (out->busiest[0] == '\0' || mirai + n_sess > best) {
            best = mirai + n_sess;
            (void)str_copyz(out->busiest, sizeof(out->busiest), json_string_value(addr));
        }
    }
    rc = 0;
done:
    json_decref(doc);
    return rc;
}

enum audit_exe
audit_exe_judge(const char *link, dev_t run_dev, ino_t run_ino, dev_t inst_dev, ino_t inst_ino)
{
    static const char deleted[] = " (deleted)";
    size_t len = strlen(link);

    if (len >= sizeof(deleted) - 1 && strcmp(link + len - (sizeof(deleted) - 1), deleted) == 0)
        return AUDIT_EXE_DELETED;
    if (run_dev != inst_dev || run_ino != inst_ino)
        return AUDIT_EXE_OTHER;
    return AUDIT_EXE_SAME;
}
