/* auth.h: verifies requests signed with SymetryML's scheme (see API.md "Security"); the
 * signature itself is common/sign.h's, which clients sign with. Private to core/. */
#ifndef SYMTASK_CORE_AUTH_H
#define SYMTASK_CORE_AUTH_H

#include <stddef.h>
#include <time.h>

#include "customers.h"
#include "sign.h"

/* A string that may be absent (ptr == NULL) and is not NUL-terminated. */
typedef sign_str_t auth_str_t;

/* What auth_verify reads from one request; every field points into the request. */
typedef struct auth_request {
    auth_str_t method;        /* "GET", "POST", ... */
    auth_str_t path;          /* raw URL path without the query, e.g. /symetry/rest/c1/tasks */
    auth_str_t query;         /* after '?', ptr NULL when the URL has no '?' */
    auth_str_t body;          /* ptr NULL or len 0: no body */
    auth_str_t path_cid;      /* the {cid} of the path */
    auth_str_t authorization; /* header values; ptr NULL when the header is absent */
    auth_str_t sym_date;
    auth_str_t customer_id;
    auth_str_t content_md5;
} auth_request_t;

typedef struct auth_result {
    int status;                 /* 0: verified; else the HTTP status to answer, 400 or 401 */
    char message[256];          /* the statusString to answer with, e.g. "Invalid Signature" */
    char *string_to_sign;       /* on "Invalid Signature": malloc'd, the secret replaced by
                                 * "SECRETKEY"; NULL otherwise. Freed by auth_result_clear. */
    const customer_t *customer; /* on success */
} auth_result_t;

/* Accepted window of Sym-date around @now. */
#define AUTH_DATE_MAX_PAST_S 300
#define AUTH_DATE_MAX_FUTURE_S 60

/* Verifies @req at time @now. Checks, in this order, each failing with the message of
 * API.md: Authorization present (400 "Authentication header is null"), Sym-date present
 * (400 "sym-date header is null"), Sym-date format (400 "Invalid Date Format"), date window
 * (400 "Please update your server time, it is likely out of sync with UTC"), Customer-ID
 * present and equal to the path's cid and a known customer (401 "Invalid User"), Content-MD5
 * (400 "Md5 do not match"), signature, compared in constant time (401 "Invalid Signature").
 * Returns res->status. */
int auth_verify(const customers_t *customers, const auth_request_t *req, time_t now,
                auth_result_t *res);

void auth_result_clear(auth_result_t *res);

#endif
