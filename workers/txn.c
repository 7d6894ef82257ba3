/* txn.c: the worker's Kafka transactions for exactly-once delivery (docs/delivery.md). */
#include "txn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* One wait on Kafka inside a transactional call: the worker heartbeats between two. */
#define TXN_WAIT_MS 500
/* How long a stopping worker still waits for a transactional call. */
#define TXN_STOP_WAIT_MS 5000
/* Between two tries of a call that failed at once. */
#define TXN_RETRY_PAUSE_MS 100
/* Aborted transactions in a row after which the worker gives up: an error that every
 * transaction meets (a sink that cannot be written) is for a restart, with backoff. */
#define TXN_ABORTS_MAX 5
#define TXN_SEEK_MS 5000

struct txn {
    char tag[300];
    char txn_id[256];
    rd_kafka_t *producer, *consumer;
    int (*keepalive)(void *arg);
    void *keepalive_arg;
    /* How long one call may keep failing with retriable errors before the worker gives up:
     * the producer's transaction.timeout.ms, past which the coordinator aborts the
     * transaction anyway. An abort that cannot finish (outputs that never get an answer)
     * must not hold the worker forever while its heartbeats say all is well. */
    int64_t give_up_ms;
    int open;
    int64_t begun_ms;
    int aborts_in_row;
    uint64_t commits, aborts;
    /* per partition, the first offset consumed since the last commit */
    rd_kafka_topic_partition_list_t *start;
    const char *seen_topic; /* the last message's partition is already in start */
    int32_t seen_partition;
};

typedef enum txn_op { TXN_OP_INIT, TXN_OP_SEND_OFFSETS, TXN_OP_COMMIT, TXN_OP_ABORT } txn_op_t;

static const char *const txn_op_names[] = {"init_transactions", "send_offsets_to_transaction",
                                           "commit_transaction", "abort_transaction"};

static int64_t txn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

txn_t *txn_new(const txn_config_t *cfg)
{
    txn_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    snprintf(t->tag, sizeof(t->tag), "%s", cfg->tag);
    snprintf(t->txn_id, sizeof(t->txn_id), "%s", cfg->transactional_id);
    t->producer = cfg->producer;
    t->consumer = cfg->consumer;
    t->keepalive = cfg->keepalive;
    t->keepalive_arg = cfg->keepalive_arg;
    t->start = rd_kafka_topic_partition_list_new(8);
    t->seen_partition = -1;
    char value[32];
    size_t size = sizeof(value);
    t->give_up_ms = 60000;
    if (rd_kafka_conf_get(rd_kafka_conf(t->producer), "transaction.timeout.ms", value, &size) ==
        RD_KAFKA_CONF_OK)
        t->give_up_ms = strtoll(value, NULL, 10);
    return t;
}

void txn_free(txn_t *t)
{
    if (t == NULL)
        return;
    rd_kafka_topic_partition_list_destroy(t->start);
    free(t);
}

/* Runs @op, again after each retriable error (a timeout, a coordinator that moves), with a
 * keepalive between two tries, for give_up_ms at most; a stopping worker tries for
 * TXN_STOP_WAIT_MS more. *@gave_up says whether it stopped trying on a retriable error. */
static rd_kafka_error_t *txn_call(txn_t *t, txn_op_t op,
                                  const rd_kafka_topic_partition_list_t *offsets, int *gave_up)
{
    rd_kafka_consumer_group_metadata_t *cgmd = NULL;
    int64_t stop_deadline = 0, give_up = txn_now_ms() + t->give_up_ms;
    rd_kafka_error_t *e;
    *gave_up = 0;
    for (;;) {
        switch (op) {
        case TXN_OP_INIT:
            e = rd_kafka_init_transactions(t->producer, TXN_WAIT_MS);
            break;
        case TXN_OP_SEND_OFFSETS:
            /* asked for each try: a rebalance may have moved the group on */
            if (cgmd != NULL)
                rd_kafka_consumer_group_metadata_destroy(cgmd);
            cgmd = rd_kafka_consumer_group_metadata(t->consumer);
            if (cgmd == NULL)
                return rd_kafka_error_new(RD_KAFKA_RESP_ERR__STATE,
                                          "the consumer has no group metadata");
            e = rd_kafka_send_offsets_to_transaction(t->producer, offsets, cgmd, TXN_WAIT_MS);
            break;
        case TXN_OP_COMMIT:
            e = rd_kafka_commit_transaction(t->producer, TXN_WAIT_MS);
            break;
        default:
            e = rd_kafka_abort_transaction(t->producer, TXN_WAIT_MS);
            break;
        }
        if (e == NULL || !rd_kafka_error_is_retriable(e) || rd_kafka_error_is_fatal(e))
            break;
        int64_t now = txn_now_ms();
        if (now >= give_up) {
            *gave_up = 1;
            break;
        }
        log_debug(t->tag, "%s: %s; trying again", txn_op_names[op], rd_kafka_error_string(e));
        int stopping = t->keepalive != NULL && t->keepalive(t->keepalive_arg) != 0;
        if (stopping) {
            if (stop_deadline == 0)
                stop_deadline = now + TXN_STOP_WAIT_MS;
            else if (now >= stop_deadline)
                break;
        }
        rd_kafka_error_destroy(e);
        /* an error that comes at once must not spin */
        nanosleep(&(struct timespec){0, TXN_RETRY_PAUSE_MS * 1000000L}, NULL);
    }
    if (cgmd != NULL)
        rd_kafka_consumer_group_metadata_destroy(cgmd);
    return e;
}

static int txn_is_fencing(rd_kafka_resp_err_t code)
{
    return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
           code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
}

/* Describes @e (destroyed) in @errstr and says what it means for the worker. */
static txn_result_t txn_error(txn_t *t, txn_op_t op, rd_kafka_error_t *e, int gave_up, char *errstr,
                              size_t errstr_size)
{
    txn_result_t r = rd_kafka_error_txn_requires_abort(e) && !rd_kafka_error_is_fatal(e)
                         ? TXN_ABORTED
                         : TXN_FAILED;
    if (gave_up) {
        snprintf(errstr, errstr_size,
                 "transaction: %s did not succeed within transaction.timeout.ms (%lld ms): %s; "
                 "a restarted worker goes on from the last commit",
                 txn_op_names[op], (long long)t->give_up_ms, rd_kafka_error_string(e));
        r = TXN_FAILED;
    } else if (txn_is_fencing(rd_kafka_error_code(e)))
        snprintf(errstr, errstr_size,
                 "transaction: fenced: another producer took over transactional.id %s (%s: "
                 "%s); a restarted worker goes on from the last commit",
                 t->txn_id, txn_op_names[op], rd_kafka_error_string(e));
    else
        snprintf(errstr, errstr_size, "transaction: %s failed: %s%s", txn_op_names[op],
                 rd_kafka_error_string(e), rd_kafka_error_is_fatal(e) ? " (fatal)" : "");
    rd_kafka_error_destroy(e);
    return r;
}

txn_result_t txn_init(txn_t *t, char *errstr, size_t errstr_size)
{
    int gave_up;
    rd_kafka_error_t *e = txn_call(t, TXN_OP_INIT, NULL, &gave_up);
    if (e == NULL) {
        log_info(t->tag, "transactional producer ready (transactional.id %s)", t->txn_id);
        return TXN_OK;
    }
    txn_error(t, TXN_OP_INIT, e, gave_up, errstr, errstr_size);
    return TXN_FAILED;
}

txn_result_t txn_begin(txn_t *t, char *errstr, size_t errstr_size)
{
    if (t->open)
        return TXN_OK;
    rd_kafka_error_t *e = rd_kafka_begin_transaction(t->producer);
    if (e != NULL) {
        snprintf(errstr, errstr_size, "transaction: begin_transaction failed: %s",
                 rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return TXN_FAILED;
    }
    t->open = 1;
    t->begun_ms = txn_now_ms();
    return TXN_OK;
}

int txn_is_open(const txn_t *t, int64_t *age_ms)
{
    if (t->open && age_ms != NULL)
        *age_ms = txn_now_ms() - t->begun_ms;
    return t->open;
}

void txn_consumed(txn_t *t, const rd_kafka_message_t *m)
{
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (topic == t->seen_topic && m->partition == t->seen_partition)
        return;
    if (rd_kafka_topic_partition_list_find(t->start, topic, m->partition) == NULL)
        rd_kafka_topic_partition_list_add(t->start, topic, m->partition)->offset = m->offset;
    t->seen_topic = topic;
    t->seen_partition = m->partition;
}

txn_result_t txn_abort(txn_t *t, char *errstr, size_t errstr_size)
{
    if (!t->open)
        return TXN_ABORTED;
    char reason[512];
    snprintf(reason, sizeof(reason), "%s", errstr);
    int gave_up;
    rd_kafka_error_t *e = txn_call(t, TXN_OP_ABORT, NULL, &gave_up);
    if (e != NULL) {
        char why[512];
        txn_error(t, TXN_OP_ABORT, e, gave_up, why, sizeof(why));
        snprintf(errstr, errstr_size, "%s, after %s", why, reason);
        return TXN_FAILED;
    }
    t->open = 0;
    t->aborts++;
    if (++t->aborts_in_row >= TXN_ABORTS_MAX) {
        snprintf(errstr, errstr_size, "%d transactions in a row were aborted; the last one: %s",
                 t->aborts_in_row, reason);
        return TXN_FAILED;
    }
    return TXN_ABORTED;
}

txn_result_t txn_commit(txn_t *t, const rd_kafka_topic_partition_list_t *offsets, char *errstr,
                        size_t errstr_size)
{
    if (!t->open)
        return TXN_OK;
    txn_op_t op = TXN_OP_SEND_OFFSETS;
    int gave_up = 0;
    rd_kafka_error_t *e = offsets->cnt > 0 ? txn_call(t, op, offsets, &gave_up) : NULL;
    if (e == NULL) {
        op = TXN_OP_COMMIT;
        e = txn_call(t, op, NULL, &gave_up);
    }
    if (e != NULL) {
        txn_result_t r = txn_error(t, op, e, gave_up, errstr, errstr_size);
        return r == TXN_ABORTED ? txn_abort(t, errstr, errstr_size) : r;
    }
    t->open = 0;
    t->commits++;
    t->aborts_in_row = 0;
    /* the committed offsets are where a later rewind goes back to */
    for (int i = 0; i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *c = &offsets->elems[i];
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(t->start, c->topic, c->partition);
        if (tp == NULL)
            tp = rd_kafka_topic_partition_list_add(t->start, c->topic, c->partition);
        tp->offset = c->offset;
    }
    return TXN_OK;
}

int txn_rewind(txn_t *t, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *assigned = NULL;
    rd_kafka_resp_err_t err = rd_kafka_assignment(t->consumer, &assigned);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "rewind after an aborted transaction: %s",
                 rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_topic_partition_list_t *seek = rd_kafka_topic_partition_list_new(t->start->cnt);
    for (int i = 0; i < t->start->cnt; i++) {
        const rd_kafka_topic_partition_t *s = &t->start->elems[i];
        if (rd_kafka_topic_partition_list_find(assigned, s->topic, s->partition) != NULL)
            rd_kafka_topic_partition_list_add(seek, s->topic, s->partition)->offset = s->offset;
    }
    rd_kafka_topic_partition_list_destroy(assigned);
    int ret = 0;
    if (seek->cnt > 0) {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(t->consumer, seek, TXN_SEEK_MS);
        if (e != NULL) {
            snprintf(errstr, errstr_size, "rewind after an aborted transaction: %s",
                     rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            ret = -1;
        }
        for (int i = 0; ret == 0 && i < seek->cnt; i++) {
            if (seek->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                snprintf(errstr, errstr_size,
                         "rewind after an aborted transaction: %s[%d] to offset %lld: %s",
                         seek->elems[i].topic, (int)seek->elems[i].partition,
                         (long long)seek->elems[i].offset, rd_kafka_err2str(seek->elems[i].err));
                ret = -1;
            }
        }
        for (int i = 0; ret == 0 && i < seek->cnt; i++)
            log_info(t->tag, "rewound %s[%d] to offset %lld", seek->elems[i].topic,
                     (int)seek->elems[i].partition, (long long)seek->elems[i].offset);
    }
    rd_kafka_topic_partition_list_destroy(seek);
    t->seen_topic = NULL;
    return ret;
}

void txn_forget(txn_t *t, const rd_kafka_topic_partition_list_t *partitions)
{
    if (partitions == NULL) {
        rd_kafka_topic_partition_list_destroy(t->start);
        t->start = rd_kafka_topic_partition_list_new(8);
    } else {
        for (int i = 0; i < partitions->cnt; i++)
            rd_kafka_topic_partition_list_del(t->start, partitions->elems[i].topic,
                                              partitions->elems[i].partition);
    }
    t->seen_topic = NULL;
}

void txn_counts(const txn_t *t, uint64_t *commits, uint64_t *aborts)
{
    *commits = t->commits;
    *aborts = t->aborts;
}
