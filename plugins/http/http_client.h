/* http_client.h: the HTTP side of the predictor plugins that call a model server (symetryml,
 * oip), with libcurl: connections kept alive and reused, up to N requests at once, a
 * timeout per request, TLS with a CA file, basic or bearer authentication, and one reading
 * of what an answer means for the plugin ABI (hc_classify). A static library linked into
 * those plugins; private to plugins/. */
#ifndef SYMTASK_PLUGINS_HTTP_CLIENT_H
#define SYMTASK_PLUGINS_HTTP_CLIENT_H

#include <stddef.h>

#include "symtask/plugin.h"

/* Longest answer kept; a bigger one is an error of the request. */
#define HC_ANSWER_MAX (64u * 1024 * 1024)
/* Most requests at once. */
#define HC_CONCURRENCY_MAX 64
/* Longest timeout of one request: a predict() call must end well within the worker's
 * heartbeat timeout (30 s by default). */
#define HC_TIMEOUT_MAX_MS 20000

typedef struct hc_config {
    const char *url;          /* http:// or https://, host, optional port and path prefix */
    const char *param;        /* the param that gave @url, for messages */
    long timeout_ms;          /* per request, connection included */
    int concurrency;          /* requests at once (connections kept) */
    const char *ca_file;      /* NULL: the system's CAs */
    const char *bearer_token; /* NULL: none */
    const char *user;         /* basic authentication when set */
    const char *password;
} hc_config_t;

/* One request and, after hc_run, its answer. */
typedef struct hc_request {
    const char *method; /* "GET" or "POST" */
    const char *target; /* path (and ?query) after the URL's prefix, e.g. "/v2/models/m" */
    const char *body;   /* POST: JSON, @body_len bytes */
    size_t body_len;
    const char *headers[6]; /* more headers, "Name: value", NULL-ended */

    long status;  /* the HTTP status; 0 when no answer came */
    char *answer; /* the answer's body, NUL-terminated (malloc'd; hc_request_free) */
    size_t answer_len;
    size_t answer_cap;
    char error[256]; /* why no answer came (status 0) */
    int timed_out;   /* status 0 because of the timeout */
    int not_sent;    /* status 0: the call's time ran out before it could start */
    void *user;      /* the plugin's */
} hc_request_t;

typedef struct hc hc_t;

/* Checks @cfg (the URL: scheme, host, no user info, no query) and sets up the client. NULL
 * with a message naming the param otherwise. Connects to nothing yet. */
hc_t *hc_new(const hc_config_t *cfg, char *errstr, size_t errstr_size);
void hc_free(hc_t *hc);

/* The URL without a trailing '/', for messages (it holds no credentials: hc_new refuses
 * user info in it). */
const char *hc_url(const hc_t *hc);

/* Runs @n requests, up to the concurrency at once on kept-alive connections, and returns
 * when each has its answer or its error. A request not started within @budget_ms of the
 * call is not sent (not_sent), so that a call ends within about @budget_ms plus the
 * timeout: the worker heartbeats only between calls. */
void hc_run(hc_t *hc, hc_request_t *reqs, size_t n, long budget_ms);

/* Empties the answer of @req for another run (keeps its buffer). */
void hc_request_reset(hc_request_t *req);
void hc_request_free(hc_request_t *req);

/* What an answer means. */
typedef enum hc_class {
    HC_OK,          /* 2xx */
    HC_UNREACHABLE, /* no answer: connection refused or lost, timeout, TLS failure */
    HC_BUSY,        /* 5xx, 408, 429: the server cannot answer now */
    HC_DENIED,      /* 401, 403: the credentials are refused */
    HC_NOT_FOUND,   /* 404 */
    HC_REFUSED,     /* another 4xx: the server refuses what was sent */
    HC_OTHER,       /* anything else (1xx, 3xx) */
} hc_class_t;

hc_class_t hc_classify(const hc_request_t *req);

/* Writes a message for the user about a request that failed: what happened, at which URL,
 * and what the server said (@said: its message, or NULL for none). */
void hc_describe(const hc_t *hc, const hc_request_t *req, const char *said, char *out,
                 size_t out_size);

/* The status of the plugin ABI for a failure of class @c that concerns the whole batch: a
 * server that cannot answer now is RETRIABLE (the worker calls again with backoff); refused
 * credentials are FATAL. */
symtask_status_t hc_status(hc_class_t c);

#endif
