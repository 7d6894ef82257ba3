/* auth.c: verifies requests signed with SymetryML's HMAC scheme (API.md "Security"). */
#include "auth.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "sign.h"

#define CID_MAX_LEN 128
#define MD5_B64_LEN 24
#define HMAC_B64_LEN 44
#define SECRET_PLACEHOLDER "SECRETKEY"

static auth_str_t str_of(const char *s)
{
    auth_str_t str = {s, s != NULL ? strlen(s) : 0};
    return str;
}

static int str_present(auth_str_t str)
{
    return str.ptr != NULL && str.len > 0;
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
    char expected[SIGN_AUTHORIZATION_SIZE];
    size_t sts_len;
    time_t date;
    int ok;

    memset(res, 0, sizeof(*res));
    if (req->authorization.ptr == NULL)
        return auth_fail(res, 400, "Authentication header is null");
    if (req->sym_date.ptr == NULL)
        return auth_fail(res, 400, "sym-date header is null");
    if (sign_parse_date(req->sym_date.ptr, req->sym_date.len, &date) != 0)
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
    sign_parts_t parts = {
        .method = req->method,
        .content_md5 = req->content_md5,
        .sym_date = req->sym_date,
        .cid = req->customer_id,
        .body = req->body,
        .path = req->path,
        .query = req->query,
    };
    if (sign_authorization(&parts, secret, customer->key, sizeof(customer->key), expected) != 0)
        return auth_fail(res, 401, "Invalid Signature");

    ok = strlen(expected) == HMAC_B64_LEN &&
         crypto_equal(expected, HMAC_B64_LEN, req->authorization.ptr, req->authorization.len);
    if (!ok) {
        /* Shows the client what the server signed, which is how SymetryML users debug a
         * signature, without the one part that must stay secret. */
        res->string_to_sign = sign_string_to_sign(&parts, shown, &sts_len);
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
