/* SPDX-License-Identifier: MIT */
/*
 * gate26 dkim keygen DOMAIN SELECTOR [--ed25519] [--bits N] [--out FILE]
 * [--force]: makes a signing key (RSA, 2048 bits by default, or Ed25519,
 * RFC 8463), writes it as PEM (PKCS #8) with mode 0640 and group gate26
 * (when that group exists) through a temporary file in the same directory
 * (so a half-written key never has the key's name), refuses to replace an
 * existing file without --force, and prints the DNS TXT record of its
 * public key (RFC 6376 3.6.1) on standard output, in strings of at most
 * 255 octets (RFC 1035 3.3.14).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "lib/io.h"
#include "lib/num.h"
#include "lib/str.h"
#include "mailauth/dkim.h"

#define DKIM_KEY_DIR "/etc/gate26/dkim"

static const char usage_text[] =
    "usage: gate26 dkim keygen DOMAIN SELECTOR [--ed25519] [--bits N] [--out FILE] [--force]\n"
    "\n"
    "Makes a DKIM signing key for DOMAIN and SELECTOR, writes it (PEM, mode 0640,\n"
    "group gate26) and prints its DNS record on standard output:\n"
    "    SELECTOR._domainkey.DOMAIN. IN TXT \"v=DKIM1; k=rsa; p=...\"\n"
    "\n"
    "      --ed25519   an Ed25519 key (RFC 8463) instead of RSA\n"
    "      --bits N    RSA key size, 2048 to 8192 (default 2048)\n"
    "      --out FILE  where to write it (default " DKIM_KEY_DIR "/DOMAIN.SELECTOR.key;\n"
    "                  its directory is made with mode 0750 when missing)\n"
    "      --force     replace FILE when it exists\n"
    "  -h, --help      print this text\n"
    "\n"
    "Exit status: 0 done, 1 the key could not be made or written, 2 usage error.\n";

static bool
name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.' ||
        strstr(s, "..") != NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return false;
    }
    return true;
}

/* The gate26 group's id, or -1 when there is none. */
static gid_t
key_group(void)
{
    struct group *g = getgrnam("gate26");

    return g != NULL ? g->gr_gid : (gid_t)-1;
}

/* The directory of path, made 0750 (group gate26) when missing. */
static int
make_dir(const char *path)
{
    char copy[4096], *dir;
    struct stat st;

    if (str_copyz(copy, sizeof copy, path) == -1)
        return -1;
    dir = dirname(copy);
    if (stat(dir, &st) == 0)
        return 0;
    if (mkdir(dir, 0750) == -1) {
        fprintf(stderr, "gate26 dkim keygen: %s: cannot make the directory: %s\n", dir,
                strerror(errno));
        return -1;
    }
    /* The group gate26 reads the key through it (mode 0750): without that, an error as for the
     * key file itself. */
    if (key_group() != (gid_t)-1 && chown(dir, (uid_t)-1, key_group()) == -1) {
        fprintf(stderr, "gate26 dkim keygen: %s: cannot give the directory to group gate26: %s\n",
                dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* PEM of pkey into path, atomically; 0 or -1 (said on stderr). */
static int
write_key(EVP_PKEY *pkey, const char *path, bool force)
{
    char tmp[4200];
    BIO *mem = BIO_new(BIO_s_mem());
    char *pem;
    long len;
    int fd, rc = -1;
    gid_t gid = key_group();

    if (mem == NULL || PEM_write_bio_PrivateKey(mem, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
        fprintf(stderr, "gate26 dkim keygen: cannot encode the key\n");
        BIO_free(mem);
        return -1;
    }
    len = BIO_get_mem_data(mem, &pem);
    if (str_fmt(tmp, sizeof tmp, "%s.tmpXXXXXX", path) == -1) {
        fprintf(stderr, "gate26 dkim keygen: %s: path too long\n", path);
        BIO_free(mem);
        return -1;
    }
    fd = mkstemp(tmp);
    if (fd == -1) {
        fprintf(stderr, "gate26 dkim keygen: %s: %s\n", path, strerror(errno));
        BIO_free(mem);
        return -1;
    }
    if (fchmod(fd, 0640) == -1 || (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) == -1) ||
        io_write_full(fd, pem, (size_t)len) == -1 || fsync(fd) == -1) {
        fprintf(stderr, "gate26 dkim keygen: %s: %s\n", tmp, strerror(errno));
    } else if (force ? rename(tmp, path) == -1 : link(tmp, path) == -1) {
        if (errno == EEXIST)
            fprintf(stderr, "gate26 dkim keygen: %s exists (--force replaces it)\n", path);
        else
            fprintf(stderr, "gate26 dkim keygen: %s: %s\n", path, strerror(errno));
    } else {
        rc = 0;
    }
    (void)close(fd);
    if (!force || rc == -1)
        (void)unlink(tmp);
    BIO_free(mem);
    return rc;
}

/* The record as TXT strings of at most 255 octets. */
static void
print_record(const char *domain, const char *selector, const char *rec)
{
    size_t n = strlen(rec);

    printf("%s._domainkey.%s. IN TXT", selector, domain);
    for (size_t i = 0; i < n; i += 255)
        printf(" \"%.*s\"", (int)(n - i < 255 ? n - i : 255), rec + i);
    printf("\n");
}

static int
keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ed25519", no_argument, NULL, 'e'},   {"bits", required_argument, NULL, 'b'},
        {"out", required_argument, NULL, 'o'}, {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
    };
    bool ed = false, force = false;
    uint64_t bits = 2048;
    const char *out = NULL;
    char path[4096];
    EVP_PKEY *pkey;
    char *rec;
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'e':
            ed = true;
            break;
        case 'b':
            if (num_parse_u64(slice_make(optarg, strlen(optarg)), 2048, 8192, &bits) == -1) {
                fprintf(stderr, "gate26 dkim keygen: --bits: a number from 2048 to 8192\n");
                return 2;
            }
            break;
        case 'o':
            out = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            fputs(usage_text, stderr);
            return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "gate26 dkim keygen: DOMAIN and SELECTOR expected\n%s", usage_text);
        return 2;
    }
    if (!name_ok(argv[optind]) || strchr(argv[optind], '.') == NULL) {
        fprintf(stderr, "gate26 dkim keygen: '%s' is not a domain\n", argv[optind]);
        return 2;
    }
    if (!name_ok(argv[optind + 1])) {
        fprintf(stderr, "gate26 dkim keygen: '%s' is not a selector\n", argv[optind + 1]);
        return 2;
    }
    if (out == NULL) {
        if (str_fmt(path, sizeof path, DKIM_KEY_DIR "/%s.%s.key", argv[optind], argv[optind + 1]) ==
            -1)
            return 2;
        out = path;
    }
    if (!force && access(out, F_OK) == 0) {
        fprintf(stderr, "gate26 dkim keygen: %s exists (--force replaces it)\n", out);
        return 1;
    }
    if (make_dir(out) == -1)
        return 1;
    if (dkim_keygen(ed, (int)bits, &pkey) == -1) {
        fprintf(stderr, "gate26 dkim keygen: key generation failed\n");
        return 1;
    }
    if (write_key(pkey, out, force) == -1) {
        EVP_PKEY_free(pkey);
        return 1;
    }
    rec = dkim_key_record(pkey);
    EVP_PKEY_free(pkey);
    if (rec == NULL) {
        fprintf(stderr, "gate26 dkim keygen: cannot encode the public key\n");
        return 1;
    }
    print_record(argv[optind], argv[optind + 1], rec);
    free(rec);
    fprintf(stderr, "gate26 dkim keygen: wrote %s\n", out);
    return 0;
}

int
dkim_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
        return keygen(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    fprintf(stderr, "gate26 dkim: keygen expected\n%s", usage_text);
    return 2;
}
