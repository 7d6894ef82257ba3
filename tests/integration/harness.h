/* harness.h: runs the real symtaskd for integration tests and talks to it with signed
 * requests. */
#ifndef SYMTASK_TESTS_HARNESS_H
#define SYMTASK_TESTS_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Two customers every harness daemon knows. */
#define H_CID1 "c1"
#define H_SECRET1 "MDEyMzQ1Njc4OWFiY2RlZg==" /* "0123456789abcdef" */
#define H_CID2 "c2"
#define H_SECRET2 "ZmVkY2JhOTg3NjU0MzIxMA==" /* "fedcba9876543210" */

/* The linear model of every h_taskinfo() task: prediction = 1 + 2*x1 + 3*x2. */
#define H_MODEL_JSON                                                                               \
    "{\"kind\":\"linear\",\"features\":[\"x1\",\"x2\"],\"weights\":[2,3],\"intercept\":1}"

typedef struct harness {
    char dir[256]; /* temp dir: config, customers, state/, daemon.log */
    char conf_path[300];
    char log_path[300];
    int port;
    pid_t pid; /* the daemon; 0 when not running */
} harness_t;

typedef struct h_response {
    int status;         /* HTTP status, or -1 if the request failed */
    char *body;         /* malloc'd, NUL-terminated */
    json_t *json;       /* parsed body or NULL */
    char headers[4096]; /* raw response head */
} h_response_t;

/* Creates a temp dir with a config (embedded Kafka, a free loopback port, both customers)
 * plus @extra_conf lines (may be NULL), and starts the daemon. Asserts it serves within
 * 10 s. */
void h_setup(harness_t *h, const char *extra_conf);

/* Starts the daemon again on the same dir and config (after h_stop). */
void h_start(harness_t *h);

/* Sends @sig to the daemon and waits (at most 30 s) for it to exit; returns the wait
 * status. */
int h_stop(harness_t *h, int sig);

/* Stops the daemon if it runs and removes the temp dir. */
void h_teardown(harness_t *h);

/* Sends a signed request as customer @cid with @secret_b64. @path may hold a query. */
h_response_t h_request(harness_t *h, const char *method, const char *path, const char *body,
                       const char *cid, const char *secret_b64);

/* The same, signed as customer c1. */
h_response_t h_req(harness_t *h, const char *method, const char *path, const char *body);

/* Sends raw bytes (a whole HTTP request) and reads the answer. */
h_response_t h_raw(harness_t *h, const char *request, size_t len);

void h_response_free(h_response_t *r);

/* A TaskInfo for task @tid reading in-{tid}, writing out-{tid}, predicting with the linear
 * H_MODEL_JSON, plus the given extra params ("k":"v",... JSON fragment, may be NULL),
 * encrypted in the legacy form with @secret_b64. malloc'd. */
char *h_taskinfo(const char *tid, const char *extra_params, const char *secret_b64);

/* Status map of a task (GET /tasks/{tid}) as c1: new reference, or NULL. */
json_t *h_status(harness_t *h, const char *tid);

/* Polls the task's status until key == value or @timeout_ms pass; returns true if met. */
bool h_wait_status(harness_t *h, const char *tid, const char *key, const char *value,
                   int timeout_ms);

/* Value of @key in a status map (never NULL). */
const char *h_get(json_t *status, const char *key);

/* Whether the daemon's log contains @needle. */
bool h_log_contains(harness_t *h, const char *needle);

/* Whether process @pid exists (and is not a zombie). */
bool h_pid_alive(pid_t pid);

#endif
