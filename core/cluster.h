/* cluster.h: cluster mode (docs/cluster.md): the nodes of cluster.id share task definitions
 * and desired states through a compacted Kafka topic of one partition, which every node
 * applies in its order, and their workers' status through a second topic. Private to core/. */
#ifndef SYMTASK_CORE_CLUSTER_H
#define SYMTASK_CORE_CLUSTER_H

#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>

#include "api.h"
#include "daemon.h"

typedef enum cluster_op {
    CLUSTER_PUT, /* create, or replace with force */
    CLUSTER_START,
    CLUSTER_STOP,
    CLUSTER_RESTART,
    CLUSTER_DELETE,
} cluster_op_t;

/* Called once per submitted request, after its record was acknowledged by Kafka and applied
 * by this node (or when the write failed): the answer to give. @req is NULL when the client
 * went away meanwhile. */
typedef void (*cluster_done_cb)(daemon_t *d, h2o_req_t *req, api_status_t status,
                                const char *message);

/* Connects to the cluster's Kafka (kafka.bootstrap.servers), checks both topics (the config
 * topic must have exactly one partition), and reads the config topic to its end, applying
 * every record, before it returns: a node serves only once it knows every task. -1 with a
 * message naming the key or the topic and what to do. */
int cluster_open(daemon_t *d, char *errstr, size_t errstr_size);

/* Writes the record(s) of @op on task @cid/@tid (@taskinfo for CLUSTER_PUT, a validated
 * TaskInfo; @force: replace an existing one) and answers through @cb once this node applied
 * them. -1 with a message when nothing could be written. */
int cluster_submit(daemon_t *d, h2o_req_t *req, cluster_op_t op, const char *cid, const char *tid,
                   json_t *taskinfo, bool force, cluster_done_cb cb, char *errstr,
                   size_t errstr_size);

/* Serves Kafka's callbacks and publishes this node's status every CLUSTER_STATUS_MS. */
void cluster_tick(daemon_t *d);

/* The workers of the task on the other nodes, as status keys (a new object of strings):
 * "nodes", "clusterWorkers", "node.{id}.workers", "node.{id}.worker.{i}.{key}". NULL when
 * cluster mode is off. */
json_t *cluster_task_status(daemon_t *d, const task_t *task);

/* Publishes that this node runs nothing any more and closes the clients. */
void cluster_close(daemon_t *d);

#endif
