/* model_server.h: a model server for the tests and the bench, in the process that starts
 * it (threads, loopback). It serves the endpoints symtask's predictor plugins call, checks
 * what a real server checks, and can be slowed down, made to fail, or taken away and brought
 * back (docs/testing.md, "Model servers"):
 *
 *   SymetryML  POST /symetry/rest/{cid}/projects/{pid}/predict/{model}[?impute=true]
 *              POST /symetry/rest/{cid}/tmodels/{model}/predict
 *     every request's signature checked by symtaskd's own auth_verify (core/auth.c) against
 *     a customers file; the DataFrame's shape and types checked; answers the envelope with
 *     values.KSVSMap.values, one map per row. Project "p1"; models "m1" (projects) and "x1"
 *     (tmodels), see model_server.c for what they compute.
 *   Open Inference Protocol (KServe v2)
 *              GET /v2/models/{name}[/versions/{v}]         model metadata
 *              POST /v2/models/{name}[/versions/{v}]/infer  inference
 *     models "adder" (one tensor per input) and "matrix" (one FP64 [rows, 3] tensor); the
 *     request's tensors checked against the metadata (names, datatypes, shapes, values);
 *     optional bearer token or basic credentials.
 *   Either over https with a certificate of the test's own (ms_config_t.tls_cert). */
#ifndef SYMTASK_TESTS_MODEL_SERVER_H
#define SYMTASK_TESTS_MODEL_SERVER_H

#include <stddef.h>

typedef struct ms ms_t;

typedef struct ms_config {
    const char *customers;    /* customers file (cid:secret lines) for SymetryML signatures */
    const char *bearer_token; /* OIP: the token every request must carry; NULL: none */
    const char *basic;        /* OIP: "user:password" every request must carry; NULL: none */
    int port;                 /* 0: any free port */
    const char *tls_cert;     /* PEM certificate and key: https; NULL: http */
    const char *tls_key;
} ms_config_t;

typedef struct ms_stats {
    unsigned long requests;       /* every request answered */
    unsigned long predictions;    /* rows predicted */
    unsigned long connections;    /* connections accepted */
    unsigned long bad_signatures; /* SymetryML requests refused by the signature check */
    unsigned long denied;         /* OIP requests without the credentials asked for */
    unsigned long bad_requests;   /* 400 answers */
    unsigned long failed;         /* answers made to fail (ms_fail) */
    unsigned long max_rows;       /* most rows in one request */
    unsigned long max_active;     /* most requests in progress at once */
    char last_error[512];         /* the last 400 or 401 answer's message */
} ms_stats_t;

/* Listens on 127.0.0.1 and serves from threads of its own. NULL when it cannot. */
ms_t *ms_start(const ms_config_t *cfg);
/* Closes every connection, joins every thread, frees everything. */
void ms_stop(ms_t *ms);
int ms_port(const ms_t *ms);
/* "http://127.0.0.1:PORT", or https:// */
const char *ms_url(const ms_t *ms);

/* Every answer waits @ms milliseconds first (each connection on its own). */
void ms_set_latency(ms_t *ms, int ms_wait);
/* The next @count requests (-1: all, until called again with 0) answer HTTP @status. */
void ms_fail(ms_t *ms, int status, int count);
/* 1: a SymetryML prediction answers one map whatever the rows (a server that predicts only
 * the first row of a DataFrame). */
void ms_set_one_map(ms_t *ms, int on);
/* Goes away: closes the listening socket and every connection, so that connections are
 * refused. */
void ms_down(ms_t *ms);
/* Comes back on the same port. 0, or -1 when the port cannot be had again. */
int ms_up(ms_t *ms);

ms_stats_t ms_stats(ms_t *ms);

#endif
