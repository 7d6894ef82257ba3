/* txn.h: exactly-once delivery: the worker's Kafka transactions (outputs, dead letters and
 * source offsets committed together) and the rewind of the consumer after an abort.
 * Private to workers/. */
#ifndef SYMTASK_WORKERS_TXN_H
#define SYMTASK_WORKERS_TXN_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct txn txn_t;

typedef enum txn_result {
    TXN_OK = 0,
    TXN_ABORTED = 1, /* the transaction was aborted (an abortable error): rewind and go on */
    TXN_FAILED = 2,  /* fenced, fatal, or Kafka gone while stopping: the worker must end */
} txn_result_t;

/* What a transaction manager works with; borrowed for its lifetime. */
typedef struct txn_config {
    const char *tag;              /* "cid/tid" */
    rd_kafka_t *producer;         /* built with transactional.id */
    rd_kafka_t *consumer;         /* the source's consumer, isolation.level = read_committed */
    const char *transactional_id; /* for messages */
    /* Called between the short waits of every call that waits on Kafka, so the worker
     * heartbeats; non-zero once the worker stops, which bounds the waits (may be NULL). */
    int (*keepalive)(void *arg);
    void *keepalive_arg;
} txn_config_t;

txn_t *txn_new(const txn_config_t *cfg);
void txn_free(txn_t *t);

/* Registers the producer with the transaction coordinator and fences older producers of the
 * same transactional.id (their open transactions are aborted). Waits while Kafka does not
 * answer, until the worker stops. */
txn_result_t txn_init(txn_t *t, char *errstr, size_t errstr_size);

/* Begins a transaction unless one is open. */
txn_result_t txn_begin(txn_t *t, char *errstr, size_t errstr_size);

/* 1 while a transaction is open; @age_ms its age then. */
int txn_is_open(const txn_t *t, int64_t *age_ms);

/* Notes a consumed message: the first offset of each partition since the last commit is
 * where txn_rewind() takes the consumer back to. */
void txn_consumed(txn_t *t, const rd_kafka_message_t *m);

/* Commits the open transaction with the consumer's @offsets (the next offset to read per
 * partition): sends them with the consumer's group metadata, then commits, which waits for
 * every output of the transaction. On an abortable error the transaction is aborted and
 * TXN_ABORTED returned with the reason in @errstr; after too many aborts in a row, or a
 * fatal error (a producer fenced by a newer one with the same transactional.id), TXN_FAILED. */
txn_result_t txn_commit(txn_t *t, const rd_kafka_topic_partition_list_t *offsets, char *errstr,
                        size_t errstr_size);

/* Aborts the open transaction after the error that @errstr describes (an output that could
 * not be produced); @errstr then says what happened. TXN_ABORTED, or TXN_FAILED when the
 * abort fails or too many transactions in a row were aborted. */
txn_result_t txn_abort(txn_t *t, char *errstr, size_t errstr_size);

/* Takes every partition of the consumer's assignment back to its first offset since the
 * last commit (the committed offset), so that an aborted transaction's records are read
 * again. The caller drops the messages it holds. -1 with a message on failure. */
int txn_rewind(txn_t *t, char *errstr, size_t errstr_size);

/* Forgets @partitions (revoked): their next owner starts at their committed offsets. NULL
 * forgets all. */
void txn_forget(txn_t *t, const rd_kafka_topic_partition_list_t *partitions);

/* Transactions committed and aborted since txn_new(). */
void txn_counts(const txn_t *t, uint64_t *commits, uint64_t *aborts);

#endif
