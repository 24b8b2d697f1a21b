/* SPDX-License-Identifier: MIT */
/*
 * Private to src/watch (and its fuzz target): what the metrics endpoint
 * reads from a request's header fields, once evhttp has parsed the request
 * (evhttp does the HTTP framing; these are pure functions of a field's
 * value): the format a scraper asks for (Accept, RFC 9110 12.5.1) and the
 * credentials it brings (Authorization, RFC 9110 11.6.2: Bearer of RFC 6750
 * 2.1, Basic of RFC 7617 2).
 */
#ifndef GATE26_WATCH_HTTP_HEAD_H
#define GATE26_WATCH_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include "watch/metrics.h"

/*
 * The format for a request with this Accept value (NULL: no field):
 * OpenMetrics when application/openmetrics-text (without a version, or
 * version=1.0.0) has a weight above 0 and not below the best weight of the
 * text format (text/plain without a version or with version=0.0.4, and the
 * wildcards "text/STAR" and "STAR/STAR", STAR being the asterisk); else the
 * text format, which is also the answer to anything malformed or unknown (a
 * scrape is never refused for its Accept).
 */
enum metrics_format http_head_format(const char *accept);

/*
 * The SHA-256 of the credentials an Authorization value (NULL: no field)
 * brings for kind: the token of "Bearer TOKEN", or the decoded
 * "USER:PASSWORD" of "Basic BASE64" (the scheme in any case, one or more
 * spaces after it). Returns 0 with digest filled, or -1 when the value is
 * missing, of another scheme or malformed. The caller compares digests in
 * constant time.
 */
int http_head_credentials(const char *authorization, enum conf_metrics_auth kind,
                          unsigned char digest[CONF_METRICS_DIGEST_LEN]);

#endif
