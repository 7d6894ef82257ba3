/* kafka.h: the worker's Kafka clients (one consumer, one producer) built from a task's
 * params, and their health. Private to workers/. */
#ifndef SYMTASK_WORKERS_KAFKA_H
#define SYMTASK_WORKERS_KAFKA_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* What the clients are built from; borrowed for the duration of kafka_clients_new(). */
typedef struct kafka_settings {
    const char *cid, *tid;
    const char *task;              /* log tag "cid/tid" */
    json_t *params;                /* TaskInfo params, string -> string (checked by caller) */
    const char *bootstrap_default; /* symtaskd's bootstrap.servers; NULL or "" if none */
    int exactly_once;              /* sml.kstream.guarantee = exactly_once: transactional */
    unsigned worker_index;         /* this worker's number among the task's workers on its node */
    unsigned workers;              /* the task's workers on this node (sml.task.workers), >= 1 */
    const char *node;              /* cluster mode: this node's cluster.node.id, else NULL */
    int no_membership;             /* the consumer never joins: no group.instance.id */

    /* The pipeline's hooks, called on the main thread from the polls that serve them (may be
     * NULL): the producer's delivery reports, and the consumer's rebalances. A rebalance
     * hook must assign or unassign itself. */
    void (*on_delivery)(void *app, const rd_kafka_message_t *msg);
    void (*on_rebalance)(void *app, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *partitions);
    void *app;
} kafka_settings_t;

typedef struct kafka_clients kafka_clients_t;

/* Builds both clients and starts probing the cluster in a background thread. Returns NULL
 * with a message in @errstr on a configuration error (the task cannot run as defined).
 * Messages name params keys but never their values: those may be passwords. */
kafka_clients_t *kafka_clients_new(const kafka_settings_t *s, char *errstr, size_t errstr_size);

/* Serves the clients' callbacks (errors, delivery reports). Never blocks. Main thread only,
 * like every function below. Once kafka_clients_consumer_queue() was called, the consumer's
 * callbacks are served by consuming from that queue instead. */
void kafka_clients_poll(kafka_clients_t *kc);

/* Redirects the consumer's callbacks to its message queue and returns that queue (owned by
 * @kc): rd_kafka_consume_batch_queue() on it serves messages, errors and rebalances. */
rd_kafka_queue_t *kafka_clients_consumer_queue(kafka_clients_t *kc);

/* Readable when a new probe result is waiting: the main loop polls it to react at once. */
int kafka_clients_event_fd(kafka_clients_t *kc);

/* Kafka's health as news: 1 when the cluster answered both clients, 0 when it is down (all
 * broker connections lost, or repeated failed probes; @reason says why), -1 when there is
 * nothing new. Up and down may each be reported more than once. */
int kafka_clients_check(kafka_clients_t *kc, char *reason, size_t reason_size);

/* 1 if librdkafka raised a fatal error (the instance is unusable), with @reason. */
int kafka_clients_fatal(kafka_clients_t *kc, char *reason, size_t reason_size);

rd_kafka_t *kafka_clients_consumer(kafka_clients_t *kc);
rd_kafka_t *kafka_clients_producer(kafka_clients_t *kc);

/* The consumer's group.id (sml.kstream.app.id or its default). */
const char *kafka_clients_group_id(const kafka_clients_t *kc);

/* The ids the clients were built with: the consumer's group.instance.id ("" when static
 * membership is off) and the producer's transactional.id ("" unless exactly-once). */
const char *kafka_clients_instance_id(const kafka_clients_t *kc);
const char *kafka_clients_transactional_id(const kafka_clients_t *kc);

/* The stable id of worker @index of task @cid/@tid, the default group.instance.id and
 * transactional.id: "symtask-{cid}-{tid}-{index}", or, past Kafka's 249 characters, a prefix
 * of it followed by a hash of the whole. */
void kafka_member_id(const char *cid, const char *tid, const char *node, unsigned index, char *out,
                     size_t out_size);

/* Graceful end: leaves the group (a static member too: it would hold its partitions until
 * its session expires otherwise), closes the consumer, flushes the producer (at most
 * KAFKA_FLUSH_MS), stops the probe and destroys everything. @kc may be NULL. */
void kafka_clients_destroy(kafka_clients_t *kc);

#define KAFKA_FLUSH_MS 5000

#endif
