/* offsets.h: the committed offsets of a task's consumer group, read or reset by
 * `symtask-worker --offsets` (docs/operations.md). Private to workers/. */
#ifndef SYMTASK_WORKERS_OFFSETS_H
#define SYMTASK_WORKERS_OFFSETS_H

#include <jansson.h>

#include "kafka.h"

/* The time budget of all the Kafka calls of one run. */
#define OFFSETS_TIMEOUT_MS 10000
/* A reset may also join the group (a cluster that refuses commits from outside it): the
 * join's own budget, on top. */
#define OFFSETS_JOIN_MS 10000

/* Lists (@request without "to") or resets (@request {"to":...}, its shape checked by
 * symtaskd) the offsets of group @group on the source topic of @params, with the consumer of
 * @kc, which never joins the group. Returns the answer for symtaskd (a new reference):
 * {"type":"offsets","status":"ok","offsets":{"topic","group","partitions":[...]}}, or
 * "status":"bad_request"|"unavailable" with a "message". */
json_t *offsets_run(kafka_clients_t *kc, json_t *params, const char *group, json_t *request);

#endif
