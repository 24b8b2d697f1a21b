/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the console's parsers of request text (console/web.c):
 * the Cookie header, the route table and the same-origin check, and HTML
 * escaping of anything. The input is split at its first two NULs into a
 * Cookie header, a path and a third string (Origin, Referer, Host). Any
 * broken invariant aborts: a cookie found is printable ASCII within its
 * capacity; a route found is its path exactly; the escaped text holds no
 * '<', '>', '"' or '\'' and no '&' that does not start an entity.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "console/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

#define FUZZ_MAX 4096

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[FUZZ_MAX + 3];
    const char *cookie, *path, *third;
    char out[WEB_TOKEN_HEX + 1];
    const struct web_route *r;
    struct evbuffer *b;
    bool known;
    size_t n;

    if (size > FUZZ_MAX)
        return 0;
    memcpy(text, data, size);
    text[size] = text[size + 1] = text[size + 2] = '\0';
    cookie = text;
    path = cookie + strlen(cookie) + 1;
    third = path + strlen(path) + 1;
    if (third > text + size + 2)
        third = text + size + 2;

    if (web_cookie_find(cookie, "__Host-gate26", out, sizeof out) == 0) {
        CHECK(strlen(out) > 0 && strlen(out) <= WEB_TOKEN_HEX);
        for (size_t i = 0; out[i] != '\0'; i++)
            CHECK(out[i] >= 0x21 && out[i] <= 0x7e);
    }
    for (int post = 0; post < 2; post++) {
        r = web_route_find(post, path, strlen(path), &known);
        if (r != NULL)
            CHECK(strcmp(r->path, path) == 0 && r->post == post && known);
    }
    (void)web_same_origin(true, third, path, cookie);
    (void)web_same_origin(false, path, third, NULL);
    CHECK(!web_csrf_ok(cookie, third) || strcmp(cookie, third) == 0);

    b = evbuffer_new();
    CHECK(b != NULL);
    web_escape(b, (const char *)data, size);
    n = evbuffer_get_length(b);
    {
        char *esc = malloc(n + 1);

        CHECK(esc != NULL);
        evbuffer_remove(b, esc, n);
        esc[n] = '\0';
        for (size_t i = 0; i < n; i++) {
            CHECK(esc[i] != '<' && esc[i] != '>' && esc[i] != '"' && esc[i] != '\'' &&
                  esc[i] != '\0');
            if (esc[i] == '&')
                CHECK(strncmp(esc + i, "&amp;", 5) == 0 || strncmp(esc + i, "&lt;", 4) == 0 ||
                      strncmp(esc + i, "&gt;", 4) == 0 || strncmp(esc + i, "&quot;", 6) == 0 ||
                      strncmp(esc + i, "&#39;", 5) == 0);
        }
        free(esc);
    }
    evbuffer_free(b);
    return 0;
}
