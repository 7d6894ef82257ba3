/* passthrough.c: the physical limit of a consume → produce task on librdkafka alone.
 *
 *   passthrough BOOTSTRAP SOURCE SINK GROUP
 *
 * Copies every record of SOURCE to SINK (same key and value, the partitioner chooses the
 * partition) with the guarantee of a symtask worker: a record's offset is committed only
 * after its copy is acknowledged, batches in the order they were consumed. Nothing is
 * decoded, computed or re-encoded, and values are not copied: each consumed message is kept
 * until its output's delivery report. Batches of up to 500 records, at most 64 in flight,
 * the consumer settings of a symtask worker. Runs until SIGTERM or SIGINT. */
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 500
#define INFLIGHT_MAX 64

typedef struct batch {
    int outstanding; /* outputs not yet acknowledged */
    rd_kafka_topic_partition_list_t *offsets;
} batch_t;

/* What a produced record's opaque points to: its source message (kept alive until the
 * delivery report, since the output's value and key point into it) and its batch. */
typedef struct output {
    rd_kafka_message_t *src;
    batch_t *batch;
} output_t;

static batch_t ring[INFLIGHT_MAX];
static output_t outputs[INFLIGHT_MAX][BATCH_MAX];
static int ring_head, ring_count;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = 1;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    output_t *o = m->_private;
    if (m->err != 0) {
        fprintf(stderr, "passthrough: delivery failed: %s\n", rd_kafka_err2str(m->err));
        exit(1); /* nothing after the last commit is lost: the records are read again */
    }
    o->batch->outstanding--;
    rd_kafka_message_destroy(o->src);
}

static void raise_offset(rd_kafka_topic_partition_list_t *l, const char *topic, int32_t part,
                         int64_t offset)
{
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(l, topic, part);
    if (tp == NULL) {
        tp = rd_kafka_topic_partition_list_add(l, topic, part);
        tp->offset = offset;
    } else if (offset > tp->offset) {
        tp->offset = offset;
    }
}

/* Commits (asynchronously) the offsets of the acknowledged batches at the head of the ring. */
static void commit_done(rd_kafka_t *consumer)
{
    rd_kafka_topic_partition_list_t *commit = NULL;
    while (ring_count > 0 && ring[ring_head].outstanding == 0) {
        batch_t *b = &ring[ring_head];
        if (commit == NULL)
            commit = rd_kafka_topic_partition_list_new(4);
        for (int i = 0; i < b->offsets->cnt; i++)
            raise_offset(commit, b->offsets->elems[i].topic, b->offsets->elems[i].partition,
                         b->offsets->elems[i].offset);
        rd_kafka_topic_partition_list_destroy(b->offsets);
        b->offsets = NULL;
        ring_head = (ring_head + 1) % INFLIGHT_MAX;
        ring_count--;
    }
    if (commit != NULL && commit->cnt > 0)
        rd_kafka_commit(consumer, commit, 1);
    if (commit != NULL)
        rd_kafka_topic_partition_list_destroy(commit);
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstrap, const char *const *kv)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) != 0)
        goto fail;
    for (; kv[0] != NULL; kv += 2)
        if (rd_kafka_conf_set(conf, kv[0], kv[1], err, sizeof(err)) != 0)
            goto fail;
    if (type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (rk != NULL)
        return rk;
fail:
    fprintf(stderr, "passthrough: %s\n", err);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: passthrough BOOTSTRAP SOURCE SINK GROUP\n");
        return 2;
    }
    const char *bootstrap = argv[1], *source = argv[2], *sink = argv[3], *group = argv[4];
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    /* a symtask worker's consumer settings (workers/kafka.c) */
    const char *const ckv[] = {"group.id", group,
                               "enable.auto.commit", "false",
                               "enable.auto.offset.store", "false",
                               "auto.offset.reset", "earliest",
                               "session.timeout.ms", "6000",
                               "heartbeat.interval.ms", "1000",
                               "enable.partition.eof", "false",
                               /* the embedded cluster answers a fetch that finds no data only
                                * after fetch.wait.max.ms, even when data arrives meanwhile (a
                                * real broker answers at once): keep that wait short */
                               "fetch.wait.max.ms", "10",
                               NULL};
    static const char *const pkv[] = {NULL};
    rd_kafka_t *consumer = client(RD_KAFKA_CONSUMER, bootstrap, ckv);
    rd_kafka_t *producer = client(RD_KAFKA_PRODUCER, bootstrap, pkv);
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(consumer);
    rd_kafka_topic_t *out = rd_kafka_topic_new(producer, sink, NULL);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, source, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(consumer, topics) != 0) {
        fprintf(stderr, "passthrough: cannot subscribe to %s\n", source);
        return 1;
    }
    rd_kafka_topic_partition_list_destroy(topics);

    rd_kafka_message_t *msgs[BATCH_MAX];
    while (!stop) {
        if (ring_count == INFLIGHT_MAX) { /* Kafka is behind: wait for the oldest batch */
            rd_kafka_poll(producer, 100);
            commit_done(consumer);
            continue;
        }
        ssize_t n = rd_kafka_consume_batch_queue(queue, 20, msgs, BATCH_MAX);
        if (n > 0) {
            long slot = (ring_head + ring_count) % INFLIGHT_MAX;
            batch_t *b = &ring[slot];
            b->outstanding = 0;
            b->offsets = rd_kafka_topic_partition_list_new(4);
            ring_count++;
            for (ssize_t i = 0; i < n; i++) {
                rd_kafka_message_t *m = msgs[i];
                if (m->err != 0) {
                    rd_kafka_message_destroy(m);
                    continue;
                }
                raise_offset(b->offsets, rd_kafka_topic_name(m->rkt), m->partition, m->offset + 1);
                output_t *o = &outputs[slot][i];
                o->src = m;
                o->batch = b;
                while (rd_kafka_produce(out, RD_KAFKA_PARTITION_UA, 0, m->payload, m->len, m->key,
                                        m->key_len, o) != 0) {
                    if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        fprintf(stderr, "passthrough: produce: %s\n",
                                rd_kafka_err2str(rd_kafka_last_error()));
                        return 1;
                    }
                    rd_kafka_poll(producer, 10);
                }
                b->outstanding++;
            }
        }
        rd_kafka_poll(producer, 0);
        commit_done(consumer);
    }

    rd_kafka_flush(producer, 10000);
    commit_done(consumer);
    rd_kafka_topic_destroy(out);
    rd_kafka_queue_destroy(queue);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    rd_kafka_destroy(producer);
    return 0;
}
