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
    pid_t pid;      /* the daemon, leader of its own process group; 0 when not running */
    pid_t guardian; /* removes dir when the test process ends (h_make_dir); 0 when none */
    int guardian_fd;
} harness_t;

typedef struct h_response {
    int status;         /* HTTP status, or -1 if the request failed */
    char *body;         /* malloc'd, NUL-terminated */
    json_t *json;       /* parsed body or NULL */
    char headers[4096]; /* raw response head */
} h_response_t;

/* Nothing a test starts outlives the test process, however it ends (an assertion, a
 * timeout, a crash, cr_skip_test, the runner killing it): each daemon dies with the thread
 * that started it (PR_SET_PDEATHSIG) and leads its own process group, which h_stop and
 * h_teardown kill; the guardian of h_make_dir kills that group and removes the test dir
 * when the test process is gone. Start daemons from the thread that runs the test. */

/* Creates a temp dir with a config (embedded Kafka, a free loopback port, both customers)
 * plus @extra_conf lines (may be NULL), and starts the daemon. Asserts it serves within
 * 10 s. */
void h_setup(harness_t *h, const char *extra_conf);

/* The same with a plugin dir of the test's own, in the test dir: every .so of the dirs in
 * @plugin_dirs (ended by NULL) linked into it. */
void h_setup_plugins(harness_t *h, const char *const *plugin_dirs, const char *extra_conf);

/* The first half of h_setup: makes the temp dir /tmp/symtask-it-XXXXXX (conf_path and
 * log_path name files in it, not yet written) and its guardian, a process that waits for
 * the test process to end (or h_teardown), then kills the daemon's process group and
 * removes the dir (kept when SYMTASK_KEEP_TEST_DIRS is set). Asserts that @h is not in use
 * (a second h_setup without h_teardown, e.g. in a test whose suite's .init made one). */
void h_make_dir(harness_t *h);

/* A loopback port free right now: bound to 0 and given back. */
int h_free_port(void);

/* Starts symtaskd -c conf_path, its output appended to log_path, without waiting for it. */
void h_spawn(harness_t *h);

/* Starts the daemon again on the same dir and config (after h_stop); asserts it serves
 * within 10 s. */
void h_start(harness_t *h);

/* Runs the daemon on the dir's config and waits (at most 30 s) for it to exit, for a
 * daemon that must refuse to start; returns the wait status. */
int h_run(harness_t *h);

/* Sends @sig to the daemon and waits (at most 30 s) for it to exit; then kills what is left
 * of its process group. Returns the wait status. */
int h_stop(harness_t *h, int sig);

/* Stops the daemon if it runs and removes the temp dir. */
void h_teardown(harness_t *h);

/* For a child a test forks, between fork and exec: the child gets SIGKILL when the thread
 * of @parent that forked it ends, and exits at once if @parent already ended. */
void h_die_with_parent(pid_t parent);

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

/* The same with no param but the topics and @params (may be NULL or ""). malloc'd. */
char *h_taskinfo_params(const char *tid, const char *params, const char *secret_b64);

/* The TaskInfo @json encrypted in the legacy form with @secret_b64. malloc'd. */
char *h_seal(const char *json, const char *secret_b64);

/* Creates task @tid (h_taskinfo with @extra_params) as c1; asserts 202 CREATED. */
void h_create_task(harness_t *h, const char *tid, const char *extra_params);

/* Starts task @tid as c1; asserts 200, then that it runs within 30 s. */
void h_start_task(harness_t *h, const char *tid);

/* The statusCode and the statusString of an answer's envelope, "" when it has none. */
const char *h_status_code(const h_response_t *r);
const char *h_status_string(const h_response_t *r);

/* Status map of a task (GET /tasks/{tid}) as c1: new reference, or NULL. */
json_t *h_status(harness_t *h, const char *tid);

/* Polls the task's status until key == value or @timeout_ms pass; returns true if met. */
bool h_wait_status(harness_t *h, const char *tid, const char *key, const char *value,
                   int timeout_ms);

/* Value of @key in a status map (never NULL). */
const char *h_get(json_t *status, const char *key);

/* The number at @key of the task's status (0 when it has none). */
long h_status_number(harness_t *h, const char *tid, const char *key);

/* Polls the task's status until the number at @key is at least @n or @timeout_ms pass;
 * returns true if it was. */
bool h_wait_number(harness_t *h, const char *tid, const char *key, long n, int timeout_ms);

/* The pid of task @tid's worker from its status; 0 when none runs. */
pid_t h_task_pid(harness_t *h, const char *tid);

/* Whether the daemon's log contains @needle. */
bool h_log_contains(harness_t *h, const char *needle);

/* Whether process @pid exists (and is not a zombie). */
bool h_pid_alive(pid_t pid);

#endif
