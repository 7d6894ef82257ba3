/* auth.c: verifies requests signed with SymetryML's HMAC scheme (API.md "Security"). */
#include "auth.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"

#define CID_MAX_LEN 128
#define MD5_B64_LEN 24
#define HMAC_B64_LEN 44
#define SECRET_PLACEHOLDER "SECRETKEY"

/* "yyyy-MM-dd HH:mm:ss;" before the 1 to 9 digits of nanos. */
#define DATE_PREFIX_LEN 20
#define DATE_MAX_NANOS 9

static auth_str_t str_of(const char *s)
{
    auth_str_t str = {s, s != NULL ? strlen(s) : 0};
    return str;
}

static int str_present(auth_str_t str)
{
    return str.ptr != NULL && str.len > 0;
}

/* Builds StringToSign from length-delimited parts, so that a NUL inside a header or the
 * body is signed as sent instead of silently shortening what is signed. NULL on overflow
 * or out of memory. */
static char *sts_build(auth_str_t method, auth_str_t content_md5, auth_str_t secret,
                       auth_str_t sym_date, auth_str_t cid, auth_str_t body, auth_str_t path,
                       auth_str_t query, size_t *out_len)
{
    auth_str_t parts[8];
    size_t n = 0, total = 1, off = 0;
    char *out = NULL;

    parts[n++] = method;
    parts[n++] = content_md5;
    parts[n++] = secret;
    parts[n++] = sym_date;
    parts[n++] = cid;
    if (str_present(body))
        parts[n++] = body;
    parts[n++] = path;
    if (str_present(query))
        parts[n++] = query;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].ptr == NULL)
            parts[i].len = 0;
        if (parts[i].len > SIZE_MAX - total - 1)
            return NULL;
        total += parts[i].len + 1;
    }
    out = malloc(total);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len > 0)
            memcpy(out + off, parts[i].ptr, parts[i].len);
        off += parts[i].len;
        out[off++] = '\n';
    }
    out[off] = '\0';
    *out_len = off;
    return out;
}

char *auth_string_to_sign(const char *method, const char *content_md5, const char *secret_b64,
                          const char *sym_date, const char *cid, const char *body, size_t body_len,
                          const char *path, const char *query)
{
    auth_str_t body_str = {body, body != NULL ? body_len : 0};
    size_t len;
    return sts_build(str_of(method), str_of(content_md5), str_of(secret_b64), str_of(sym_date),
                     str_of(cid), body_str, str_of(path), str_of(query), &len);
}

static int is_leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), so
 * parsing depends neither on the TZ environment nor on timegm. */
static long long days_from_civil(long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (long long)era * 146097 + (long long)doe - 719468;
}

/* Reads exactly @n digits at @s. */
static int read_digits(const char *s, size_t n, long *out)
{
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int auth_parse_date(const char *s, size_t len, time_t *out)
{
    static const unsigned char mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    long year, mon, day, hour, min, sec, nanos;

    if (s == NULL || len <= DATE_PREFIX_LEN || len > DATE_PREFIX_LEN + DATE_MAX_NANOS)
        return -1;
    if (s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' || s[19] != ';')
        return -1;
    if (read_digits(s, 4, &year) || read_digits(s + 5, 2, &mon) || read_digits(s + 8, 2, &day) ||
        read_digits(s + 11, 2, &hour) || read_digits(s + 14, 2, &min) ||
        read_digits(s + 17, 2, &sec) ||
        read_digits(s + DATE_PREFIX_LEN, len - DATE_PREFIX_LEN, &nanos))
        return -1;
    if (mon < 1 || mon > 12 || day < 1 || hour > 23 || min > 59 || sec > 59)
        return -1;
    if (day > mdays[mon - 1] + (mon == 2 && is_leap(year)))
        return -1;
    long long days = days_from_civil(year, (unsigned)mon, (unsigned)day);
    *out = (time_t)(days * 86400 + hour * 3600 + min * 60 + sec);
    return 0;
}

void auth_format_date(time_t t, long nanos, char out[40])
{
    struct tm tm;
    out[0] = '\0';
    if (gmtime_r(&t, &tm) == NULL)
        return;
    snprintf(out, 40, "%04d-%02d-%02d %02d:%02d:%02d;%ld", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nanos);
}

static int date_in_window(time_t t, time_t now)
{
    time_t behind;
    /* A difference too large to represent is outside any window. */
    if (__builtin_sub_overflow(now, t, &behind))
        return 0;
    return behind <= AUTH_DATE_MAX_PAST_S && behind >= -(time_t)AUTH_DATE_MAX_FUTURE_S;
}

static int auth_fail(auth_result_t *res, int status, const char *message)
{
    res->status = status;
    snprintf(res->message, sizeof(res->message), "%s", message);
    return status;
}

static const customer_t *find_customer(const customers_t *customers, const auth_request_t *req)
{
    auth_str_t id = req->customer_id, path_cid = req->path_cid;
    /* Bounded before the lookup: the header is attacker-sized. */
    if (!str_present(id) || id.len > CID_MAX_LEN || path_cid.ptr == NULL ||
        path_cid.len != id.len || memcmp(id.ptr, path_cid.ptr, id.len) != 0)
        return NULL;
    return customers_find(customers, id.ptr, id.len);
}

static int md5_matches(const auth_request_t *req)
{
    char md5[25];
    size_t header_len = req->content_md5.ptr != NULL ? req->content_md5.len : 0;

    if (!str_present(req->body))
        return header_len == 0;
    crypto_md5_b64(req->body.ptr, req->body.len, md5);
    /* A failed digest is empty and must not match an empty header. */
    return strlen(md5) == MD5_B64_LEN &&
           crypto_equal(md5, MD5_B64_LEN, req->content_md5.ptr, header_len);
}

int auth_verify(const customers_t *customers, const auth_request_t *req, time_t now,
                auth_result_t *res)
{
    const customer_t *customer;
    auth_str_t secret, shown = str_of(SECRET_PLACEHOLDER);
    char expected[45];
    char *sts = NULL;
    size_t sts_len;
    time_t date;
    int ok;

    memset(res, 0, sizeof(*res));
    if (req->authorization.ptr == NULL)
        return auth_fail(res, 400, "Authentication header is null");
    if (req->sym_date.ptr == NULL)
        return auth_fail(res, 400, "sym-date header is null");
    if (auth_parse_date(req->sym_date.ptr, req->sym_date.len, &date) != 0)
        return auth_fail(res, 400, "Invalid Date Format");
    if (!date_in_window(date, now))
        return auth_fail(res, 400,
                         "Please update your server time, it is likely out of sync with UTC");
    customer = find_customer(customers, req);
    if (customer == NULL)
        return auth_fail(res, 401, "Invalid User");
    if (!md5_matches(req))
        return auth_fail(res, 400, "Md5 do not match");

    secret.ptr = customer->secret_b64;
    secret.len = strnlen(customer->secret_b64, sizeof(customer->secret_b64));
    sts = sts_build(req->method, req->content_md5, secret, req->sym_date, req->customer_id,
                    req->body, req->path, req->query, &sts_len);
    if (sts == NULL)
        return auth_fail(res, 401, "Invalid Signature");
    crypto_hmac_sha256_b64(customer->key, sizeof(customer->key), sts, sts_len, expected);
    sodium_memzero(sts, sts_len);
    free(sts);

    ok = strlen(expected) == HMAC_B64_LEN &&
         crypto_equal(expected, HMAC_B64_LEN, req->authorization.ptr, req->authorization.len);
    if (!ok) {
        /* Shows the client what the server signed, which is how SymetryML users debug a
         * signature, without the one part that must stay secret. */
        res->string_to_sign =
            sts_build(req->method, req->content_md5, shown, req->sym_date, req->customer_id,
                      req->body, req->path, req->query, &sts_len);
        return auth_fail(res, 401, "Invalid Signature");
    }
    res->customer = customer;
    return 0;
}

void auth_result_clear(auth_result_t *res)
{
    free(res->string_to_sign);
    res->string_to_sign = NULL;
}
