/* sign.h: SymetryML's request signature (API.md "Security"): the one implementation that
 * symtaskd verifies requests with and that the client and the model-server plugins sign
 * theirs with. Part of the symtask-sign library (with crypto.h). */
#ifndef SYMTASK_COMMON_SIGN_H
#define SYMTASK_COMMON_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A string that may be absent (ptr == NULL) and is not NUL-terminated. */
typedef struct sign_str {
    const char *ptr;
    size_t len;
} sign_str_t;

/* Sizes, NUL included, of a Sym-date, a Content-MD5 and an Authorization value. */
#define SIGN_DATE_SIZE 40
#define SIGN_MD5_SIZE 25
#define SIGN_AUTHORIZATION_SIZE 45

/* What is signed of one request, each part as sent. */
typedef struct sign_parts {
    sign_str_t method;      /* "GET", "POST", ... */
    sign_str_t content_md5; /* the header's value; empty without a body */
    sign_str_t sym_date;
    sign_str_t cid;   /* the Customer-ID header */
    sign_str_t body;  /* ptr NULL or len 0: no body (its line is left out) */
    sign_str_t path;  /* the URL path only, e.g. /symetry/rest/c1/tasks */
    sign_str_t query; /* after '?', without it; absent or empty: its line is left out */
} sign_parts_t;

/* StringToSign, malloc'd and NUL-terminated, its length in *@out_len: VERB\n Content-MD5\n
 * secret-b64\n Sym-date\n cid\n [body\n] path\n [query\n], each part by its length (a NUL
 * inside one is signed as sent). @secret is the base64 secret as text, or "SECRETKEY" for
 * what a server shows a client. NULL when out of memory. */
char *sign_string_to_sign(const sign_parts_t *parts, sign_str_t secret, size_t *out_len);

/* Authorization = base64(HMAC-SHA256(@key, StringToSign)) into @out, where @secret_b64 is
 * the base64 text of @key. -1 when out of memory (@out is then empty). */
int sign_authorization(const sign_parts_t *parts, sign_str_t secret_b64, const uint8_t *key,
                       size_t key_len, char out[SIGN_AUTHORIZATION_SIZE]);

/* The headers a client sends with a request it signs. */
typedef struct sign_headers {
    char content_md5[SIGN_MD5_SIZE]; /* "" without a body */
    char sym_date[SIGN_DATE_SIZE];
    char authorization[SIGN_AUTHORIZATION_SIZE];
} sign_headers_t;

/* Signs a request of customer @cid at @now (UTC) with its secret (@secret_b64, and @key
 * its @key_len decoded bytes): Content-MD5 of @body, Sym-date of @now, Authorization.
 * @query is the raw query without '?', or NULL. -1 when out of memory. */
int sign_request(const char *method, const char *path, const char *query, const void *body,
                 size_t body_len, const char *cid, const char *secret_b64, const uint8_t *key,
                 size_t key_len, const struct timespec *now, sign_headers_t *out);

/* Parses a Sym-date, "yyyy-MM-dd HH:mm:ss;nanos" (nanos: 1 to 9 digits), as UTC. -1 if
 * malformed. */
int sign_parse_date(const char *s, size_t len, time_t *out);

/* Formats @t as a Sym-date ("2026-11-28 13:55:08;0") into @out. */
void sign_format_date(time_t t, long nanos, char out[SIGN_DATE_SIZE]);

#endif
