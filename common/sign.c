/* sign.c: SymetryML's request signature: StringToSign, its HMAC and the Sym-date. */
#include "sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"

/* "yyyy-MM-dd HH:mm:ss;" before the 1 to 9 digits of nanos. */
#define DATE_PREFIX_LEN 20
#define DATE_MAX_NANOS 9

static int str_present(sign_str_t str)
{
    return str.ptr != NULL && str.len > 0;
}

char *sign_string_to_sign(const sign_parts_t *p, sign_str_t secret, size_t *out_len)
{
    sign_str_t parts[8];
    size_t n = 0, total = 1, off = 0;
    char *out = NULL;

    parts[n++] = p->method;
    parts[n++] = p->content_md5;
    parts[n++] = secret;
    parts[n++] = p->sym_date;
    parts[n++] = p->cid;
    if (str_present(p->body))
        parts[n++] = p->body;
    parts[n++] = p->path;
    if (str_present(p->query))
        parts[n++] = p->query;
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

int sign_authorization(const sign_parts_t *parts, sign_str_t secret_b64, const uint8_t *key,
                       size_t key_len, char out[SIGN_AUTHORIZATION_SIZE])
{
    size_t sts_len = 0;
    char *sts = sign_string_to_sign(parts, secret_b64, &sts_len);

    out[0] = '\0';
    if (sts == NULL)
        return -1;
    crypto_hmac_sha256_b64(key, key_len, sts, sts_len, out);
    /* StringToSign holds the secret. */
    sodium_memzero(sts, sts_len);
    free(sts);
    return 0;
}

static sign_str_t str_of(const char *s)
{
    sign_str_t str = {s, s != NULL ? strlen(s) : 0};
    return str;
}

int sign_request(const char *method, const char *path, const char *query, const void *body,
                 size_t body_len, const char *cid, const char *secret_b64, const uint8_t *key,
                 size_t key_len, const struct timespec *now, sign_headers_t *out)
{
    out->content_md5[0] = '\0';
    if (body != NULL && body_len > 0)
        crypto_md5_b64(body, body_len, out->content_md5);
    sign_format_date(now->tv_sec, now->tv_nsec, out->sym_date);
    sign_parts_t parts = {
        .method = str_of(method),
        .content_md5 = str_of(out->content_md5),
        .sym_date = str_of(out->sym_date),
        .cid = str_of(cid),
        .body = {body, body != NULL ? body_len : 0},
        .path = str_of(path),
        .query = str_of(query),
    };
    return sign_authorization(&parts, str_of(secret_b64), key, key_len, out->authorization);
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

int sign_parse_date(const char *s, size_t len, time_t *out)
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

void sign_format_date(time_t t, long nanos, char out[SIGN_DATE_SIZE])
{
    struct tm tm;
    out[0] = '\0';
    if (gmtime_r(&t, &tm) == NULL)
        return;
    snprintf(out, SIGN_DATE_SIZE, "%04d-%02d-%02d %02d:%02d:%02d;%ld", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nanos);
}
