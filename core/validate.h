/* validate.h: checks a TaskInfo's plugins in a short-lived `symtask-worker --validate`
 * process before it is accepted, so that a faulty plugin or model cannot harm the daemon.
 * Private to core/. */
#ifndef SYMTASK_CORE_VALIDATE_H
#define SYMTASK_CORE_VALIDATE_H

#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "daemon.h"

/* Checks that may run at once; more creates are answered 503. */
#define VALIDATE_MAX 8

/* How long a validation may take (model loading included). */
#define VALIDATE_TIMEOUT_MS 30000

/* Called once per validation: @message is NULL when the plugins accepted the TaskInfo, else
 * why not. @req is NULL when the client went away meanwhile. */
typedef void (*validate_done_cb)(daemon_t *d, h2o_req_t *req, const char *cid, bool force,
                                 bool start, json_t *taskinfo, const char *message);

/* Starts validating @taskinfo (a reference is taken) for customer @cid and answers through
 * @cb later (@force and @start are handed back to it). -1 with a message when no validator
 * could be started. */
int validate_start(daemon_t *d, h2o_req_t *req, const char *cid, bool force, bool start,
                   json_t *taskinfo, validate_done_cb cb, char *errstr, size_t errstr_size);

/* Called once per plugin listing with the array of plugin descriptions, or NULL and why not.
 * @req is NULL when the client went away meanwhile. */
typedef void (*validate_plugins_cb)(daemon_t *d, h2o_req_t *req, json_t *plugins,
                                    const char *error);

/* Lists the plugins of plugin.dir in a short-lived `symtask-worker --list-plugins`, which
 * loads each one (so that a faulty plugin cannot harm the daemon), and answers through @cb. */
int validate_list_plugins(daemon_t *d, h2o_req_t *req, validate_plugins_cb cb, char *errstr,
                          size_t errstr_size);

/* Called once per offsets run with the worker's answer ({"type":"offsets","status":..}, see
 * workers/offsets.h), or NULL and why there is none. @req is NULL when the client went away
 * meanwhile; @reset says whether it was a reset. */
typedef void (*validate_offsets_cb)(daemon_t *d, h2o_req_t *req, const char *cid, const char *tid,
                                    bool reset, json_t *answer, const char *error);

/* Reads (@to NULL) or resets to @to (checked: docs/operations.md) the committed offsets of
 * task @cid/@tid in a short-lived `symtask-worker --offsets`, so that the event loop never
 * waits on Kafka, and answers through @cb. */
int validate_offsets(daemon_t *d, h2o_req_t *req, const char *cid, const char *tid,
                     json_t *taskinfo, json_t *to, validate_offsets_cb cb, char *errstr,
                     size_t errstr_size);

/* The supervisor hands over exits of pids that are not task workers. */
void validate_on_exit(daemon_t *d, pid_t pid, int wstatus);

/* Kills validators past VALIDATE_TIMEOUT_MS; called from the daemon's tick. */
void validate_tick(daemon_t *d);

/* Validations under way. */
size_t validate_pending(void);

#endif
