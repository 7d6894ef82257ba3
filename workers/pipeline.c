/* pipeline.c: consume → decode → predict → encode → produce, with offsets committed only
 * after every output of a batch is acknowledged (at-least-once). */
#include "pipeline.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "suspects.h"
#include "txn.h"

/* Batches whose outputs may await acknowledgement at once; past that the pipeline waits. */
#define PIPELINE_INFLIGHT_MAX 64
/* While paused, how long the heartbeat's lag waits for a partition's watermarks. */
#define PIPELINE_PAUSED_WATERMARK_MS 200

/* How long a stop or a rebalance waits for outstanding outputs. */
#define PIPELINE_FLUSH_MS 10000
#define PIPELINE_ERR_SIZE 512
/* row_of values of messages without a row */
#define ROW_NONE SIZE_MAX
#define ROW_DECODE_FAILED (SIZE_MAX - 1)

static const char *param_or(json_t *params, const char *key, const char *def)
{
    const char *v = json_string_value(json_object_get(params, key));
    return v != NULL && v[0] != '\0' ? v : def;
}

/* ---- The pipeline ----------------------------------------------------------------------- */

/* One consumed batch whose outputs are in flight: its offsets are committed once every output
 * is acknowledged and every earlier batch is committed. */
typedef struct inflight {
    int64_t started_us; /* when the batch was handed to the plugins */
    int outstanding;    /* outputs not yet acknowledged */
    int failed;         /* an output could not be delivered: never commit this batch */
    rd_kafka_topic_partition_list_t *offsets;
    int sink_acked, dlq_acked; /* exactly-once: counted once the transaction commits */
} inflight_t;

struct pipeline {
    char tag[300];
    char task[300]; /* "cid/tid", whichever worker of the task this is */
    stages_t *stages;
    char *source, *sink, *dlq;
    int tolerate;        /* errors.tolerance = all */
    size_t poll_max;     /* sml.kstream.record.poll.max */
    int64_t schedule_ms; /* sml.kstream.schedule.ms */

    kafka_clients_t *kc;
    rd_kafka_t *consumer, *producer;
    rd_kafka_queue_t *queue;
    rd_kafka_topic_t *sink_rkt, *dlq_rkt;

    /* the batch being gathered */
    rd_kafka_message_t **msgs;
    size_t n_msgs;
    int64_t batch_deadline_ms; /* when the oldest record has waited long enough; 0: empty */

    /* per-batch work space */
    char *msg_errors; /* per message, decode and encode messages */
    size_t *row_of;   /* message → row, or ROW_NONE / ROW_DECODE_FAILED */
    symtask_buf_t out;

    /* ring of batches in flight, oldest at head */
    inflight_t ring[PIPELINE_INFLIGHT_MAX];
    size_t ring_head, ring_count;
    rd_kafka_topic_partition_list_t *to_commit; /* acknowledged, not yet committed */

    char delivery_error[PIPELINE_ERR_SIZE]; /* a permanent delivery failure, "" if none */
    int exactly_once;                       /* sml.kstream.guarantee = exactly_once */
    int64_t commit_interval_ms;             /* sml.kstream.commit.interval.ms */
    int64_t last_commit_ms;                 /* at-least-once: the last offset commit */
    txn_t *txn;                             /* exactly-once: the transactions, once attached */
    char txn_error[PIPELINE_ERR_SIZE];      /* a transaction failed in a rebalance: stop */
    int txn_doomed;     /* an output of the open transaction failed: it will be aborted */
    int produce_failed; /* exactly-once: a produce call failed: abort, not stop */
    pipeline_stats_t stats;
    int (*keepalive)(void *arg);
    void (*report)(void *arg, const char *message);
    void (*tell)(void *arg, const char *line, size_t len);
    void (*heartbeat)(void *arg);
    void *keepalive_arg;
    suspects_t *suspects;          /* records the daemon named suspect or quarantined */
    hand_board_t *board;           /* what the plugins are given, for the daemon (hand.h) */
    hand_span_t *hand_spans;       /* the spans of the group in hand */
    size_t hand_cap, n_hand;       /* room of hand_spans; the spans on the board */
    int board_failed;              /* a batch did not fit on the board: said once */
    unsigned retry_seed;           /* rand_r: the jitter of retry waits */
    rd_kafka_message_t **incoming; /* what one consume call returns, before it joins msgs */
    int paused;                    /* fetching paused on every assigned partition */
};

/* Tells the consumer that the worker is alive while it waits on Kafka (max.poll.interval.ms
 * counts from the last consume call): a consume call for no message serves nothing, so no
 * rebalance callback runs inside the wait. */
static void pipeline_poll_alive(pipeline_t *p)
{
    if (p->queue != NULL)
        rd_kafka_consume_batch_queue(p->queue, 0, p->incoming, 0);
}

/* Lets the worker heartbeat and notice a stop while the pipeline waits on Kafka. */
static int pipeline_keepalive(pipeline_t *p)
{
    pipeline_poll_alive(p);
    return p->keepalive != NULL ? p->keepalive(p->keepalive_arg) : 0;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_int_param(json_t *params, const char *key, long long def, long long *out)
{
    const char *v = param_or(params, key, NULL);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0')
        return -1;
    *out = n;
    return 0;
}

/* The default wait of a partial batch: low, so that a trickle of records is predicted within
 * a few milliseconds; a busy topic fills batches long before it (docs/delivery.md). */
#define PIPELINE_SCHEDULE_MS_DEFAULT 20
/* How long an exactly-once transaction stays open (Kafka Streams' default): each commit
 * costs a few round trips to the transaction coordinator. At-least-once commits after every
 * acknowledged batch. */
#define PIPELINE_TXN_INTERVAL_MS_DEFAULT 100

pipeline_t *pipeline_new(const pipeline_config_t *cfg, char *errstr, size_t errstr_size)
{
    pipeline_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    snprintf(p->tag, sizeof(p->tag), "%s", cfg->tag);
    snprintf(p->task, sizeof(p->task), "%s", cfg->task);
    p->keepalive = cfg->keepalive;
    p->report = cfg->report;
    p->tell = cfg->tell;
    p->board = cfg->board;
    p->heartbeat = cfg->heartbeat;
    p->keepalive_arg = cfg->keepalive_arg;
    p->suspects = suspects_new();
    p->retry_seed = (unsigned)now_us();
    buf_init(&p->out);

    long long poll_max, schedule_ms;
    if (parse_int_param(cfg->params, "sml.kstream.record.poll.max", 500, &poll_max) != 0 ||
        poll_max < 1 || poll_max > 1000000) {
        snprintf(errstr, errstr_size, "params.sml.kstream.record.poll.max: not 1 to 1000000");
        goto error;
    }
    if (parse_int_param(cfg->params, "sml.kstream.schedule.ms", PIPELINE_SCHEDULE_MS_DEFAULT,
                        &schedule_ms) != 0 ||
        schedule_ms < 0 || schedule_ms > 3600000) {
        snprintf(errstr, errstr_size, "params.sml.kstream.schedule.ms: not 0 to 3600000");
        goto error;
    }
    p->poll_max = (size_t)poll_max;
    p->schedule_ms = schedule_ms;
    /* the ranges are checked at create (common/taskinfo.c); a worker takes what it is given */
    p->exactly_once = strcmp(param_or(cfg->params, "sml.kstream.guarantee", "at_least_once"),
                             "exactly_once") == 0;
    long long interval;
    if (parse_int_param(cfg->params, "sml.kstream.commit.interval.ms",
                        p->exactly_once ? PIPELINE_TXN_INTERVAL_MS_DEFAULT : 0, &interval) != 0 ||
        interval < 0) {
        snprintf(errstr, errstr_size, "params.sml.kstream.commit.interval.ms: not a number");
        goto error;
    }
    p->commit_interval_ms = interval;
    p->tolerate = strcmp(param_or(cfg->params, "sml.kstream.errors.tolerance", "all"), "none");

    const char *source = param_or(cfg->params, "sml.kstream.source.topic", NULL);
    const char *sink = param_or(cfg->params, "sml.kstream.sink.topic", NULL);
    if (source == NULL || sink == NULL) {
        snprintf(errstr, errstr_size,
                 "params: sml.kstream.source.topic and "
                 "sml.kstream.sink.topic are required");
        goto error;
    }
    p->source = strdup(source);
    p->sink = strdup(sink);
    const char *dlq = param_or(cfg->params, "sml.kstream.dlq.topic", NULL);
    if (dlq != NULL)
        p->dlq = strdup(dlq);
    else if (asprintf(&p->dlq, "%s.dlq", sink) < 0)
        p->dlq = NULL;
    if (p->source == NULL || p->sink == NULL || p->dlq == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto error;
    }

    p->stages = stages_open(cfg->params, cfg->plugin_dir, p->poll_max, errstr, errstr_size);
    if (p->stages == NULL)
        goto error;

    size_t rows = p->poll_max;
    p->msgs = calloc(rows, sizeof(*p->msgs));
    p->incoming = calloc(rows, sizeof(*p->incoming));
    p->msg_errors = calloc(rows, PIPELINE_ERR_SIZE);
    p->row_of = calloc(rows, sizeof(*p->row_of));
    p->to_commit = rd_kafka_topic_partition_list_new(8);
    if (p->suspects == NULL || p->msgs == NULL || p->incoming == NULL || p->msg_errors == NULL ||
        p->row_of == NULL) {
        snprintf(errstr, errstr_size,
                 "out of memory for batches of %zu records (sml.kstream.record.poll.max)", rows);
        goto error;
    }
    return p;

error:
    pipeline_free(p);
    return NULL;
}

/* ---- Commits ---------------------------------------------------------------------------- */

/* Raises @list's offset for (topic, partition) to at least @offset. */
static void offsets_raise(rd_kafka_topic_partition_list_t *list, const char *topic,
                          int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(list, topic, partition);
    if (tp == NULL)
        tp = rd_kafka_topic_partition_list_add(list, topic, partition),
        tp->offset = RD_KAFKA_OFFSET_INVALID;
    if (offset > tp->offset)
        tp->offset = offset;
}

const double pipeline_latency_bounds[PIPELINE_LATENCY_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};

static void pipeline_observe_latency(pipeline_t *p, double seconds)
{
    size_t i = 0;
    while (i < PIPELINE_LATENCY_BUCKETS && seconds > pipeline_latency_bounds[i])
        i++;
    p->stats.latency_counts[i]++;
    p->stats.latency_sum += seconds;
    p->stats.batches++;
}

/* Moves the offsets of acknowledged batches, oldest first, to the commit list. A batch with
 * an undelivered output stops the walk for good: its records and every later one must be
 * read again by the next worker. */
static void pipeline_collect(pipeline_t *p)
{
    while (p->ring_count > 0 && p->ring[p->ring_head].outstanding == 0 &&
           !p->ring[p->ring_head].failed) {
        inflight_t *b = &p->ring[p->ring_head];
        pipeline_observe_latency(p, (double)(now_us() - b->started_us) / 1e6);
        for (int i = 0; i < b->offsets->cnt; i++) {
            rd_kafka_topic_partition_t *tp = &b->offsets->elems[i];
            offsets_raise(p->to_commit, tp->topic, tp->partition, tp->offset);
        }
        rd_kafka_topic_partition_list_destroy(b->offsets);
        b->offsets = NULL;
        p->ring_head = (p->ring_head + 1) % PIPELINE_INFLIGHT_MAX;
        p->ring_count--;
    }
}

/* Commits what was collected; @sync waits for the broker's answer. */
static void pipeline_commit(pipeline_t *p, int sync)
{
    pipeline_collect(p);
    if (p->to_commit->cnt == 0)
        return;
    rd_kafka_resp_err_t err = rd_kafka_commit(p->consumer, p->to_commit, !sync);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_warn(p->tag, "offset commit failed: %s (the records may be handled again)",
                 rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(p->to_commit);
    p->to_commit = rd_kafka_topic_partition_list_new(8);
}

/* ---- Transactions (exactly-once) --------------------------------------------------------- */

/* Ends the open transaction when it is due (sml.kstream.commit.interval.ms, or the ring of
 * batches is full) or @force: commits every batch of the ring with their offsets, or, when
 * Kafka aborts it, drops what was consumed since the last commit and, with @rewind, takes
 * the consumer back there. PIPELINE_OK unless the worker must end. */
static pipeline_result_t pipeline_txn_end(pipeline_t *p, int force, int rewind, char *errstr,
                                          size_t errstr_size)
{
    int64_t age;
    int abort = p->produce_failed; /* @errstr says why */
    p->produce_failed = 0;
    if (!abort && (!txn_is_open(p->txn, &age) || (!force && p->ring_count < PIPELINE_INFLIGHT_MAX &&
                                                  age < p->commit_interval_ms)))
        return PIPELINE_OK;
    p->txn_doomed = 0;
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(8);
    for (size_t k = 0; k < p->ring_count; k++) {
        const inflight_t *b = &p->ring[(p->ring_head + k) % PIPELINE_INFLIGHT_MAX];
        for (int i = 0; i < b->offsets->cnt; i++)
            offsets_raise(offsets, b->offsets->elems[i].topic, b->offsets->elems[i].partition,
                          b->offsets->elems[i].offset);
    }
    txn_result_t r = abort ? txn_abort(p->txn, errstr, errstr_size)
                           : txn_commit(p->txn, offsets, errstr, errstr_size);
    rd_kafka_topic_partition_list_destroy(offsets);
    /* committed: the ring's batches count as written; aborted: as never handled */
    for (; p->ring_count > 0; p->ring_count--) {
        inflight_t *b = &p->ring[p->ring_head];
        if (r == TXN_OK) {
            pipeline_observe_latency(p, (double)(now_us() - b->started_us) / 1e6);
            p->stats.records_out += b->sink_acked;
            p->stats.records_dead_letter += b->dlq_acked;
        }
        rd_kafka_topic_partition_list_destroy(b->offsets);
        b->offsets = NULL;
        p->ring_head = (p->ring_head + 1) % PIPELINE_INFLIGHT_MAX;
    }
    if (r == TXN_OK)
        return PIPELINE_OK;
    if (r == TXN_FAILED)
        return PIPELINE_FAILED;
    log_warn(p->tag, "%s; the transaction was aborted%s", errstr,
             rewind ? ": its records are read again" : "");
    for (size_t i = 0; i < p->n_msgs; i++)
        rd_kafka_message_destroy(p->msgs[i]);
    p->n_msgs = 0;
    p->batch_deadline_ms = 0;
    if (rewind && txn_rewind(p->txn, errstr, errstr_size) != 0)
        return PIPELINE_FAILED;
    return PIPELINE_OK;
}

/* The worker's transaction keepalive: the consumer hears from the worker too. */
static int pipeline_txn_keepalive(void *arg)
{
    return pipeline_keepalive(arg);
}

static void pipeline_on_delivery(void *app, const rd_kafka_message_t *msg)
{
    pipeline_t *p = app;
    inflight_t *b = msg->_private;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR && p->txn != NULL) {
        /* the transaction cannot commit: it is aborted and its records are read again */
        if (b != NULL)
            b->failed = 1;
        if (!p->txn_doomed)
            log_warn(p->tag, "cannot write to topic %s: %s (the transaction will be aborted)",
                     rd_kafka_topic_name(msg->rkt), rd_kafka_err2str(msg->err));
        p->txn_doomed = 1;
    } else if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* librdkafka retried already: committing now would lose the record */
        if (b != NULL)
            b->failed = 1;
        if (p->delivery_error[0] == '\0')
            snprintf(p->delivery_error, sizeof(p->delivery_error), "cannot write to topic %s: %s",
                     rd_kafka_topic_name(msg->rkt), rd_kafka_err2str(msg->err));
    } else if (p->txn != NULL && b != NULL) {
        if (msg->rkt == p->sink_rkt)
            b->sink_acked++;
        else if (msg->rkt == p->dlq_rkt)
            b->dlq_acked++;
    } else if (msg->rkt == p->sink_rkt) {
        p->stats.records_out++;
    } else if (msg->rkt == p->dlq_rkt) {
        p->stats.records_dead_letter++;
    }
    if (b != NULL)
        b->outstanding--;
}

/* ---- Producing ---------------------------------------------------------------------------- */

/* Produces one record with the key of @src and the timestamp @timestamp (ms since the epoch;
 * 0: the time of writing), waiting while librdkafka's queue is full. */
static int pipeline_produce(pipeline_t *p, rd_kafka_topic_t *rkt, const void *value, size_t len,
                            const rd_kafka_message_t *src, int64_t timestamp,
                            rd_kafka_headers_t *hdrs, inflight_t *b, char *errstr,
                            size_t errstr_size)
{
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            p->producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_KEY(src->key, src->key_len), RD_KAFKA_V_TIMESTAMP(timestamp),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(b), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            b->outstanding++;
            return 0;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (hdrs != NULL)
                rd_kafka_headers_destroy(hdrs);
            snprintf(errstr, errstr_size, "cannot produce to topic %s: %s",
                     rd_kafka_topic_name(rkt), rd_kafka_err2str(err));
            p->produce_failed = p->txn != NULL;
            return -1;
        }
        /* Kafka is not keeping up: wait, while the worker goes on heartbeating and
         * listening for a stop */
        rd_kafka_poll(p->producer, 100);
        if (pipeline_keepalive(p) != 0) {
            if (hdrs != NULL)
                rd_kafka_headers_destroy(hdrs);
            snprintf(errstr, errstr_size, "stopped while waiting for room in the producer queue");
            return -1;
        }
    }
}

/* The output record's timestamp: the source record's, as Kafka Streams gives a record it
 * writes from another the timestamp of that one (0, the time of writing, when it has none). */
static int64_t source_timestamp(const rd_kafka_message_t *src)
{
    int64_t ts = rd_kafka_message_timestamp(src, NULL);
    return ts > 0 ? ts : 0;
}

/* The source record's headers, copied for an output record (NULL when it has none). A
 * consumed record without headers may still come with an empty list (its header count is
 * part of the record format): copying that would cost two allocations for nothing. */
static rd_kafka_headers_t *copy_headers(const rd_kafka_message_t *src)
{
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(src, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || hdrs == NULL ||
        rd_kafka_header_cnt(hdrs) == 0)
        return NULL;
    return rd_kafka_headers_copy(hdrs);
}

/* Sends a record that could not be handled to the dead-letter topic, with headers that say
 * which task, stage and error, and where the record came from. */
static int pipeline_dead_letter(pipeline_t *p, const rd_kafka_message_t *m, const char *stage,
                                const char *error, inflight_t *b, char *errstr, size_t errstr_size)
{
    rd_kafka_headers_t *hdrs = copy_headers(m);
    if (hdrs == NULL)
        hdrs = rd_kafka_headers_new(6);
    char partition[16], offset[24];
    snprintf(partition, sizeof(partition), "%" PRId32, m->partition);
    snprintf(offset, sizeof(offset), "%" PRId64, m->offset);
    rd_kafka_header_add(hdrs, "symtask.task", -1, p->task, -1);
    rd_kafka_header_add(hdrs, "symtask.stage", -1, stage, -1);
    rd_kafka_header_add(hdrs, "symtask.error", -1, error, -1);
    rd_kafka_header_add(hdrs, "symtask.source.topic", -1, rd_kafka_topic_name(m->rkt), -1);
    rd_kafka_header_add(hdrs, "symtask.source.partition", -1, partition, -1);
    rd_kafka_header_add(hdrs, "symtask.source.offset", -1, offset, -1);
    log_debug(p->tag, "record %s[%" PRId32 "]@%" PRId64 " to %s: %s: %s",
              rd_kafka_topic_name(m->rkt), m->partition, m->offset, p->dlq, stage, error);
    /* stamped with the time of writing, as Kafka Connect's dead letters are */
    return pipeline_produce(p, p->dlq_rkt, m->payload, m->len, m, 0, hdrs, b, errstr, errstr_size);
}

/* ---- Passing failures of the plugins ------------------------------------------------------- */

/* A plugin call that answers RETRIABLE (a model server or a schema registry that cannot be
 * reached) is made again, after a wait that doubles from the first to the last of these,
 * with jitter: the records wait, none is dead-lettered or skipped, however long it takes. */
#define PIPELINE_RETRY_FIRST_MS 100
#define PIPELINE_RETRY_MAX_MS 30000

/* Waits before try @tries + 1 of the call of @stage that answered @why, heartbeating
 * meanwhile; the first wait of an outage is logged and goes to lastError. Non-zero when the
 * worker is stopping: the batch is then given up, uncommitted, to be read again. */
static int pipeline_retry_wait(pipeline_t *p, unsigned tries, const char *stage, const char *why)
{
    p->stats.retries++;
    p->stats.retrying = 1;
    if (tries == 1) {
        char message[PIPELINE_ERR_SIZE + 64];
        snprintf(message, sizeof(message), "%s: %s (trying again; the records wait)", stage,
                 why[0] ? why : "a passing failure");
        log_warn(p->tag, "%s", message);
        if (p->report != NULL)
            p->report(p->keepalive_arg, message);
    }
    int64_t wait = PIPELINE_RETRY_FIRST_MS;
    for (unsigned i = 1; i < tries && wait < PIPELINE_RETRY_MAX_MS; i++)
        wait *= 2;
    if (wait > PIPELINE_RETRY_MAX_MS)
        wait = PIPELINE_RETRY_MAX_MS;
    /* 80% to 120%: workers that lost one server do not all come back at once */
    wait = wait * (80 + rand_r(&p->retry_seed) % 41) / 100;
    for (int64_t until = now_ms() + wait; now_ms() < until;) {
        if (pipeline_keepalive(p) != 0)
            return -1;
        int64_t left = until - now_ms();
        if (left > 0)
            rd_kafka_poll(p->producer, left < 100 ? (int)left : 100);
    }
    return 0;
}

/* After a call that answered again: says so once the outage is over. */
static void pipeline_retry_done(pipeline_t *p, unsigned tries, const char *stage)
{
    if (tries == 0)
        return;
    p->stats.retrying = 0;
    log_info(p->tag, "%s: answers again, after %u tr%s", stage, tries + 1,
             tries + 1 == 1 ? "y" : "ies");
}

/* ---- A batch ------------------------------------------------------------------------------ */

static void set_last_record_time(pipeline_t *p)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(p->stats.last_record_time, sizeof(p->stats.last_record_time), "%Y-%m-%dT%H:%M:%SZ",
             &tm);
}

/* Writes the records of messages @g0 to @g1 on the hand board before the plugins get them:
 * a worker that dies while the board names them leaves them suspect (hand.h). Whether the
 * board names them. */
static int pipeline_hand(pipeline_t *p, size_t g0, size_t g1)
{
    if (p->board == NULL)
        return 0;
    long n = suspects_batch_spans(p->msgs + g0, g1 - g0, &p->hand_spans, &p->hand_cap);
    if (n > 0 && hand_board_begin(p->board, p->hand_spans, (size_t)n) == 0) {
        p->n_hand = (size_t)n;
        return 1;
    }
    if (n != 0 && !p->board_failed) {
        char why[80];
        if (n < 0)
            snprintf(why, sizeof(why), "out of memory");
        else if (errno == E2BIG)
            snprintf(why, sizeof(why), "it holds records of more than %d partitions",
                     HAND_SPANS_MAX);
        else
            snprintf(why, sizeof(why), "%s", strerror(errno));
        log_warn(p->tag,
                 "cannot write a batch of %zu records on the hand board (%s): if the worker "
                 "dies while such a batch is in hand, its records are not suspect",
                 g1 - g0, why);
        p->board_failed = 1;
    }
    return 0;
}

/* The plugins came back for the group on the board: nothing in hand. When every record of it
 * went through (@through), a worker that holds suspect records also tells the daemon so,
 * which clears them; a group cut short by a failure proves nothing of the records after it. */
static void pipeline_hand_done(pipeline_t *p, int through)
{
    hand_board_stage(p->board, HAND_IDLE);
    if (!through || p->tell == NULL || !suspects_any(p->suspects))
        return;
    size_t len;
    char *line = suspects_done_line(p->hand_spans, p->n_hand, &len);
    if (line != NULL)
        p->tell(p->keepalive_arg, line, len);
    free(line);
}

/* A record that could not be handled at @stage: dead-lettered, or with errors.tolerance =
 * none the end of the task. Non-zero (and *@result set) when the batch stops here. */
static int pipeline_bad_record(pipeline_t *p, const rd_kafka_message_t *m, const char *stage,
                               const char *error, inflight_t *b, char *errstr, size_t errstr_size,
                               pipeline_result_t *result)
{
    p->stats.records_failed++;
    if (!p->tolerate) {
        snprintf(errstr, errstr_size,
                 "record %s[%" PRId32 "]@%" PRId64 " failed at %s: %s; "
                 "sml.kstream.errors.tolerance = none stops the task",
                 rd_kafka_topic_name(m->rkt), m->partition, m->offset, stage, error);
        *result = PIPELINE_REFUSED;
        return -1;
    }
    if (pipeline_dead_letter(p, m, stage, error, b, errstr, errstr_size) != 0) {
        *result = PIPELINE_FAILED;
        return -1;
    }
    return 0;
}

/* Decodes, predicts and encodes messages @g0 to @g1 of the batch in one go, producing their
 * outputs (or dead letters) for batch @b. PIPELINE_OK, or why the batch stops here. */
static pipeline_result_t pipeline_group(pipeline_t *p, inflight_t *b, size_t g0, size_t g1,
                                        char *errstr, size_t errstr_size)
{
    pipeline_result_t result = PIPELINE_OK;
    char perr[PIPELINE_ERR_SIZE];
    int told = pipeline_hand(p, g0, g1);

    /* Decode each message into the next free row. */
    size_t rows = 0;
    size_t stop_at = g1; /* after a fatal error: where to stop */
    stages_begin(p->stages);
    for (size_t i = g0; i < g1; i++) {
        rd_kafka_message_t *m = p->msgs[i];
        p->row_of[i] = ROW_NONE;
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        symtask_record_t rec = {m->payload, m->len};
        symtask_status_t st;
        unsigned tries = 0;
        for (;; tries++) {
            perr[0] = '\0';
            st = stages_decode(p->stages, &rec, &p->row_of[i], perr, sizeof(perr));
            if (st != SYMTASK_ERR_RETRIABLE ||
                pipeline_retry_wait(p, tries + 1, "sml.serializer", perr) != 0)
                break;
        }
        if (st != SYMTASK_ERR_RETRIABLE)
            pipeline_retry_done(p, tries, "sml.serializer");
        if (st == SYMTASK_OK) {
            rows++;
        } else if (st == SYMTASK_ERR_RETRIABLE) {
            snprintf(errstr, errstr_size, "stopped while sml.serializer failed: %s", perr);
            result = PIPELINE_FAILED;
            stop_at = g0;
            break;
        } else if (st == SYMTASK_ERR_RECORD) {
            p->row_of[i] = ROW_DECODE_FAILED;
            snprintf(p->msg_errors + i * PIPELINE_ERR_SIZE, PIPELINE_ERR_SIZE, "%s",
                     perr[0] ? perr : "the record cannot be decoded");
        } else {
            snprintf(errstr, errstr_size, "sml.serializer: %s", perr[0] ? perr : "fatal error");
            result = PIPELINE_REFUSED;
            stop_at = g0; /* nothing more of this batch is predicted, written or committed */
            break;
        }
    }

    /* Predict every decoded row in one call. */
    if (rows > 0 && result == PIPELINE_OK) {
        if (told)
            hand_board_stage(p->board, HAND_PREDICT);
        symtask_status_t st;
        unsigned tries = 0;
        for (;; tries++) {
            st = stages_predict(p->stages, perr, sizeof(perr));
            if (st != SYMTASK_ERR_RETRIABLE ||
                pipeline_retry_wait(p, tries + 1, "sml.predictor", perr) != 0)
                break;
        }
        if (st != SYMTASK_ERR_RETRIABLE)
            pipeline_retry_done(p, tries, "sml.predictor");
        if (st != SYMTASK_OK) {
            snprintf(errstr, errstr_size, "%ssml.predictor: %s",
                     st == SYMTASK_ERR_RETRIABLE ? "stopped while " : "", perr);
            result = st == SYMTASK_ERR_RETRIABLE ? PIPELINE_FAILED : PIPELINE_REFUSED;
            stop_at = g0;
        }
    }
    if (told && stop_at > g0)
        hand_board_stage(p->board, HAND_ENCODE);

    /* Encode and produce, in consumption order. */
    for (size_t i = g0; i < stop_at; i++) {
        rd_kafka_message_t *m = p->msgs[i];
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_warn(p->tag, "consumer: %s", rd_kafka_message_errstr(m));
            continue;
        }
        p->stats.records_in++;
        const char *stage = NULL;
        const char *error = NULL;
        size_t r = p->row_of[i];
        if (r == ROW_DECODE_FAILED) {
            stage = "decode";
            error = p->msg_errors + i * PIPELINE_ERR_SIZE;
        } else if ((error = stages_row_error(p->stages, r)) != NULL) {
            stage = "predict";
        } else {
            symtask_record_t rec = {m->payload, m->len};
            symtask_status_t st;
            unsigned tries = 0;
            for (;; tries++) {
                buf_reset(&p->out);
                perr[0] = '\0';
                st = stages_encode(p->stages, r, &rec, &p->out, perr, sizeof(perr));
                if (st != SYMTASK_ERR_RETRIABLE ||
                    pipeline_retry_wait(p, tries + 1, "sml.serializer.out", perr) != 0)
                    break;
            }
            if (st != SYMTASK_ERR_RETRIABLE)
                pipeline_retry_done(p, tries, "sml.serializer.out");
            if (st == SYMTASK_ERR_RETRIABLE) {
                snprintf(errstr, errstr_size, "stopped while sml.serializer.out failed: %s", perr);
                result = PIPELINE_FAILED;
                break;
            } else if (st == SYMTASK_OK) {
                if (pipeline_produce(p, p->sink_rkt, p->out.data, p->out.len, m,
                                     source_timestamp(m), copy_headers(m), b, errstr,
                                     errstr_size) != 0) {
                    result = PIPELINE_FAILED;
                    break;
                }
            } else if (st == SYMTASK_ERR_FATAL) {
                snprintf(errstr, errstr_size, "sml.serializer: %s", perr[0] ? perr : "fatal error");
                result = PIPELINE_REFUSED;
                break;
            } else {
                stage = "encode";
                snprintf(p->msg_errors + i * PIPELINE_ERR_SIZE, PIPELINE_ERR_SIZE, "%s",
                         perr[0] ? perr : "the output cannot be encoded");
                error = p->msg_errors + i * PIPELINE_ERR_SIZE;
            }
        }
        if (stage != NULL &&
            pipeline_bad_record(p, m, stage, error, b, errstr, errstr_size, &result) != 0)
            break;
        offsets_raise(b->offsets, rd_kafka_topic_name(m->rkt), m->partition, m->offset + 1);
    }
    /* the plugins came back: none of these records takes a worker down */
    if (told)
        pipeline_hand_done(p, result == PIPELINE_OK);
    return result;
}

/* Where the group that starts at message @g0 ends: the whole batch when no record of it is
 * suspect or quarantined; else a suspect or quarantined record alone, or the records up to
 * the next such. */
static size_t pipeline_group_end(pipeline_t *p, size_t g0)
{
    if (!suspects_any(p->suspects))
        return p->n_msgs;
    size_t i = g0;
    for (; i < p->n_msgs; i++) {
        const rd_kafka_message_t *m = p->msgs[i];
        const char *stage, *error;
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        if (suspects_is_suspect(p->suspects, m->partition, m->offset) ||
            suspects_quarantined(p->suspects, m->partition, m->offset, &stage, &error))
            return i == g0 ? g0 + 1 : i;
    }
    return i;
}

/* Handles the gathered messages: decode each, predict the good rows at once, encode and
 * produce them (or dead-letter them), then queue the batch's offsets for commit. Records the
 * daemon named suspect go to the plugins one at a time, quarantined ones straight to the
 * dead letters. */
static pipeline_result_t pipeline_process(pipeline_t *p, char *errstr, size_t errstr_size)
{
    if (p->n_msgs == 0)
        return PIPELINE_OK;
    if (p->txn != NULL) {
        /* a full ring ends the transaction; an abort drops the batch, to be read again */
        pipeline_result_t r = pipeline_txn_end(p, 0, 1, errstr, errstr_size);
        if (r != PIPELINE_OK || p->n_msgs == 0)
            return r;
        if (txn_begin(p->txn, errstr, errstr_size) != TXN_OK)
            return PIPELINE_FAILED;
    }
    /* pipeline_step() gathers no batch while the ring is full; a rebalance or a drain may
     * still get here with it full: wait for the oldest batch, within bounds */
    while (p->ring_count == PIPELINE_INFLIGHT_MAX) {
        rd_kafka_poll(p->producer, 100);
        pipeline_collect(p);
        if (p->ring_count == PIPELINE_INFLIGHT_MAX &&
            (p->delivery_error[0] != '\0' || pipeline_keepalive(p) != 0)) {
            snprintf(errstr, errstr_size, "%s",
                     p->delivery_error[0] ? p->delivery_error
                                          : "stopped while Kafka acknowledged nothing");
            return PIPELINE_FAILED;
        }
    }

    pipeline_result_t result = PIPELINE_OK;
    inflight_t *b = &p->ring[(p->ring_head + p->ring_count) % PIPELINE_INFLIGHT_MAX];
    b->started_us = now_us();
    b->outstanding = 0;
    b->failed = 0;
    b->sink_acked = b->dlq_acked = 0;
    b->offsets = rd_kafka_topic_partition_list_new(4);
    p->ring_count++;

    for (size_t g0 = 0, g1; g0 < p->n_msgs && result == PIPELINE_OK; g0 = g1) {
        g1 = pipeline_group_end(p, g0);
        const rd_kafka_message_t *m = p->msgs[g0];
        const char *stage, *error;
        if (g1 == g0 + 1 && m->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
            suspects_quarantined(p->suspects, m->partition, m->offset, &stage, &error)) {
            /* it took down sml.kstream.poison.max workers: no plugin sees it again */
            p->stats.records_in++;
            if (pipeline_bad_record(p, m, stage, error, b, errstr, errstr_size, &result) == 0)
                offsets_raise(b->offsets, rd_kafka_topic_name(m->rkt), m->partition, m->offset + 1);
            continue;
        }
        result = pipeline_group(p, b, g0, g1, errstr, errstr_size);
        /* one record at a time can be long: the daemon hears from the worker meanwhile */
        if (g1 < p->n_msgs && p->heartbeat != NULL)
            p->heartbeat(p->keepalive_arg);
    }
    set_last_record_time(p);

    for (size_t i = 0; i < p->n_msgs; i++)
        rd_kafka_message_destroy(p->msgs[i]);
    p->n_msgs = 0;
    p->batch_deadline_ms = 0;
    return result;
}

/* ---- Kafka wiring ------------------------------------------------------------------------- */

/* Takes or gives back @partitions with the call the group's protocol wants: a task may set
 * partition.assignment.strategy = cooperative-sticky. */
static void pipeline_assign(pipeline_t *p, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                            int take)
{
    const char *protocol = rd_kafka_rebalance_protocol(rk);
    if (protocol != NULL && strcmp(protocol, "COOPERATIVE") == 0) {
        rd_kafka_error_t *error = take ? rd_kafka_incremental_assign(rk, parts)
                                       : rd_kafka_incremental_unassign(rk, parts);
        if (error != NULL) {
            log_error(p->tag, "cannot %s partitions: %s", take ? "take" : "give back",
                      rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        }
        return;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, take ? parts : NULL);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_error(p->tag, "cannot %s partitions: %s", take ? "take" : "give back",
                  rd_kafka_err2str(err));
}

/* Pauses or resumes fetching from @parts; the pause flag outlives the call only as far as
 * librdkafka keeps it, so partitions assigned later are paused as they come. */
static void pipeline_pause_partitions(pipeline_t *p, rd_kafka_t *rk,
                                      rd_kafka_topic_partition_list_t *parts, int pause)
{
    rd_kafka_resp_err_t err =
        pause ? rd_kafka_pause_partitions(rk, parts) : rd_kafka_resume_partitions(rk, parts);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_error(p->tag, "cannot %s %d partition%s: %s", pause ? "pause" : "resume", parts->cnt,
                  parts->cnt == 1 ? "" : "s", rd_kafka_err2str(err));
}

static void pipeline_on_rebalance(void *app, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t *partitions)
{
    pipeline_t *p = app;
    const char *protocol = rd_kafka_rebalance_protocol(rk);
    int cooperative = protocol != NULL && strcmp(protocol, "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_info(p->tag, "assigned %d partition%s of %s", partitions->cnt,
                 partitions->cnt == 1 ? "" : "s", p->source);
        pipeline_assign(p, rk, partitions, 1);
        if (p->paused)
            pipeline_pause_partitions(p, rk, partitions, 1);
        p->stats.assigned_partitions =
            partitions->cnt + (cooperative ? p->stats.assigned_partitions : 0);
        p->stats.group_stable = 1;
        return;
    }
    /* an eager rebalance gives everything back and waits for the group's new assignment */
    p->stats.assigned_partitions = cooperative ? p->stats.assigned_partitions - partitions->cnt : 0;
    if (p->stats.assigned_partitions < 0)
        p->stats.assigned_partitions = 0;
    if (!cooperative)
        p->stats.group_stable = 0;
    /* Revoked: finish what was consumed and commit it while the partitions are still ours,
     * so that their next owner starts where we stopped. This runs inside the consume call
     * of pipeline_step(), which returns its messages in p->incoming, not in p->msgs. */
    if (p->producer != NULL && p->txn != NULL) {
        /* commit the transaction while the partitions are ours; an abort needs no rewind:
         * their next owner reads from the committed offsets */
        char errstr[PIPELINE_ERR_SIZE];
        if (pipeline_process(p, errstr, sizeof(errstr)) != PIPELINE_OK)
            log_warn(p->tag, "while giving partitions back: %s", errstr);
        if (pipeline_txn_end(p, 1, 0, errstr, sizeof(errstr)) != PIPELINE_OK &&
            p->txn_error[0] == '\0')
            snprintf(p->txn_error, sizeof(p->txn_error), "%s", errstr);
        txn_forget(p->txn, cooperative ? partitions : NULL);
    } else if (p->producer != NULL) {
        char errstr[PIPELINE_ERR_SIZE];
        if (pipeline_process(p, errstr, sizeof(errstr)) != PIPELINE_OK)
            log_warn(p->tag, "while giving partitions back: %s", errstr);
        rd_kafka_flush(p->producer, PIPELINE_FLUSH_MS);
        pipeline_commit(p, 1);
    }
    log_info(p->tag, "%d partition%s of %s revoked", partitions->cnt,
             partitions->cnt == 1 ? "" : "s", p->source);
    pipeline_assign(p, rk, partitions, 0);
}

void pipeline_kafka_hooks(pipeline_t *p, kafka_settings_t *ks)
{
    ks->on_delivery = pipeline_on_delivery;
    ks->on_rebalance = pipeline_on_rebalance;
    ks->app = p;
    ks->exactly_once = p->exactly_once;
}

int pipeline_attach(pipeline_t *p, kafka_clients_t *kc, char *errstr, size_t errstr_size)
{
    p->kc = kc;
    p->consumer = kafka_clients_consumer(kc);
    p->producer = kafka_clients_producer(kc);
    p->sink_rkt = rd_kafka_topic_new(p->producer, p->sink, NULL);
    p->dlq_rkt = rd_kafka_topic_new(p->producer, p->dlq, NULL);
    if (p->sink_rkt == NULL || p->dlq_rkt == NULL) {
        snprintf(errstr, errstr_size, "cannot use topics %s and %s: %s", p->sink, p->dlq,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    p->queue = kafka_clients_consumer_queue(kc);
    if (p->exactly_once) {
        txn_config_t tc = {
            .tag = p->tag,
            .producer = p->producer,
            .consumer = p->consumer,
            .transactional_id = kafka_clients_transactional_id(kc),
            .keepalive = pipeline_txn_keepalive,
            .keepalive_arg = p,
        };
        p->txn = txn_new(&tc);
        if (p->txn == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        if (txn_init(p->txn, errstr, errstr_size) != TXN_OK)
            return -1;
    }
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, p->source, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(p->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "cannot subscribe to %s: %s", p->source,
                 rd_kafka_err2str(err));
        return -1;
    }
    log_info(p->tag,
             "reading %s, writing %s (dead letters: %s), batches of up to %zu records, %s; %s",
             p->source, p->sink, p->dlq, p->poll_max,
             p->exactly_once ? "exactly once" : "at least once", stages_summary(p->stages));
    return 0;
}

pipeline_result_t pipeline_step(pipeline_t *p, int max_wait_ms, char *errstr, size_t errstr_size)
{
    if (p->txn_error[0] != '\0') {
        snprintf(errstr, errstr_size, "%s", p->txn_error);
        return PIPELINE_FAILED;
    }
    if (p->ring_count == PIPELINE_INFLIGHT_MAX && p->txn != NULL)
        return pipeline_txn_end(p, 1, 1, errstr, errstr_size);
    /* Too many batches await Kafka's acknowledgement: consume nothing more until the oldest
     * is done, and return within the tick so that the worker heartbeats meanwhile. */
    if (p->ring_count == PIPELINE_INFLIGHT_MAX) {
        rd_kafka_poll(p->producer, max_wait_ms);
        pipeline_poll_alive(p);
        pipeline_collect(p);
        if (p->delivery_error[0] != '\0') {
            snprintf(errstr, errstr_size, "%s", p->delivery_error);
            return PIPELINE_FAILED;
        }
        pipeline_commit(p, 0);
        return PIPELINE_OK;
    }
    int64_t start = now_ms();
    int wait = max_wait_ms;
    if (p->batch_deadline_ms != 0) {
        int64_t left = p->batch_deadline_ms - start;
        wait = left <= 0 ? 0 : left < wait ? (int)left : wait;
    }
    if (p->n_msgs < p->poll_max) {
        /* A rebalance callback may handle and empty p->msgs during this call: messages go
         * to p->incoming and join the batch after it. */
        ssize_t n =
            rd_kafka_consume_batch_queue(p->queue, wait, p->incoming, p->poll_max - p->n_msgs);
        if (n < 0) {
            snprintf(errstr, errstr_size, "consume: %s", rd_kafka_err2str(rd_kafka_last_error()));
            return PIPELINE_FAILED;
        }
        if (n > 0 && p->n_msgs == 0)
            p->batch_deadline_ms = now_ms() + p->schedule_ms;
        for (ssize_t i = 0; p->txn != NULL && i < n; i++)
            txn_consumed(p->txn, p->incoming[i]);
        memcpy(p->msgs + p->n_msgs, p->incoming, (size_t)n * sizeof(*p->msgs));
        p->n_msgs += (size_t)n;
    }

    pipeline_result_t result = PIPELINE_OK;
    if (p->n_msgs > 0 && (p->n_msgs == p->poll_max || now_ms() >= p->batch_deadline_ms))
        result = pipeline_process(p, errstr, errstr_size);

    rd_kafka_poll(p->producer, 0);
    if (p->delivery_error[0] != '\0' && result == PIPELINE_OK) {
        snprintf(errstr, errstr_size, "%s", p->delivery_error);
        return PIPELINE_FAILED;
    }
    /* exactly-once: a batch that could not be written is aborted and read again */
    if ((result == PIPELINE_OK || p->produce_failed) && p->txn != NULL)
        return pipeline_txn_end(p, 0, 1, errstr, errstr_size);
    if (result == PIPELINE_OK && now_ms() - p->last_commit_ms >= p->commit_interval_ms) {
        pipeline_commit(p, 0);
        p->last_commit_ms = now_ms();
    }
    return result;
}

int pipeline_suspects_load(pipeline_t *p, json_t *state, char *errstr, size_t errstr_size)
{
    return suspects_load(p->suspects, state, p->source, errstr, errstr_size);
}

void pipeline_get_stats(pipeline_t *p, pipeline_stats_t *stats)
{
    int64_t lag = 0;
    int known = 0; /* partitions whose lag is known */
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (p->consumer != NULL && rd_kafka_assignment(p->consumer, &parts) == 0 && parts != NULL) {
        if (rd_kafka_position(p->consumer, parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            for (int i = 0; i < parts->cnt; i++) {
                int64_t lo, hi;
                const rd_kafka_topic_partition_t *tp = &parts->elems[i];
                /* a paused partition is not fetched from, so its cached watermarks do not
                 * move: ask the broker, briefly (once a heartbeat) */
                rd_kafka_resp_err_t err =
                    p->paused
                        ? rd_kafka_query_watermark_offsets(p->consumer, tp->topic, tp->partition,
                                                           &lo, &hi, PIPELINE_PAUSED_WATERMARK_MS)
                        : rd_kafka_get_watermark_offsets(p->consumer, tp->topic, tp->partition, &lo,
                                                         &hi);
                if (err != RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0)
                    continue;
                int64_t pos = tp->offset >= 0 ? tp->offset : lo;
                if (hi > pos)
                    lag += hi - pos;
                known++;
            }
        }
    }
    if (parts != NULL)
        rd_kafka_topic_partition_list_destroy(parts);
    /* no partition, no lag: 0 would claim that the worker is up to date */
    p->stats.consumer_lag = known > 0 ? lag : -1;
    if (p->txn != NULL)
        txn_counts(p->txn, &p->stats.txn_commits, &p->stats.txn_aborts);
    p->stats.paused = p->paused;
    *stats = p->stats;
}

int pipeline_drain(pipeline_t *p, int timeout_ms)
{
    if (p->producer == NULL)
        return 0;
    char errstr[PIPELINE_ERR_SIZE];
    if (pipeline_process(p, errstr, sizeof(errstr)) != PIPELINE_OK)
        log_warn(p->tag, "while stopping: %s", errstr);
    if (p->txn != NULL) {
        if (pipeline_txn_end(p, 1, 0, errstr, sizeof(errstr)) == PIPELINE_OK)
            return 0;
        log_warn(p->tag,
                 "while stopping: %s (the records since the last commit will be "
                 "handled again)",
                 errstr);
        return -1;
    }
    rd_kafka_flush(p->producer, timeout_ms);
    int left = rd_kafka_outq_len(p->producer);
    if (p->delivery_error[0] != '\0' || left > 0) {
        /* commit what was acknowledged before the failure; the rest is handled again */
        log_warn(p->tag,
                 "stopping with %d outputs unacknowledged%s%s: their records will be "
                 "handled again",
                 left, p->delivery_error[0] ? "; " : "", p->delivery_error);
        pipeline_commit(p, 1);
        return -1;
    }
    pipeline_commit(p, 1);
    return 0;
}

int pipeline_is_paused(const pipeline_t *p)
{
    return p->paused;
}

int pipeline_set_paused(pipeline_t *p, int paused, int timeout_ms)
{
    if (p->paused == paused)
        return 0;
    p->paused = paused;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (p->consumer != NULL && rd_kafka_assignment(p->consumer, &parts) == 0 && parts != NULL) {
        /* librdkafka drops what it fetched ahead of the paused partitions and fetches again
         * from the consumed position on resume: nothing is skipped */
        if (parts->cnt > 0)
            pipeline_pause_partitions(p, p->consumer, parts, paused);
        rd_kafka_topic_partition_list_destroy(parts);
    }
    log_info(p->tag, "%s", paused ? "pausing: finishing the records in hand" : "resumed");
    if (!paused)
        return 0;
    int r;
    if (p->txn != NULL && p->producer != NULL) {
        /* exactly-once: commit the transaction; one Kafka aborts is read again on resume */
        char errstr[PIPELINE_ERR_SIZE];
        if (pipeline_process(p, errstr, sizeof(errstr)) != PIPELINE_OK)
            log_warn(p->tag, "while pausing: %s", errstr);
        r = pipeline_txn_end(p, 1, 1, errstr, sizeof(errstr)) == PIPELINE_OK ? 0 : -1;
        if (r != 0)
            log_warn(p->tag, "while pausing: %s", errstr);
    } else {
        r = pipeline_drain(p, timeout_ms);
    }
    log_info(p->tag, "paused%s", r == 0 ? ": every record in hand handled and committed" : "");
    return r;
}

void pipeline_detach(pipeline_t *p)
{
    if (p->sink_rkt != NULL)
        rd_kafka_topic_destroy(p->sink_rkt);
    if (p->dlq_rkt != NULL)
        rd_kafka_topic_destroy(p->dlq_rkt);
    p->sink_rkt = p->dlq_rkt = NULL;
    for (size_t i = 0; i < p->n_msgs; i++)
        rd_kafka_message_destroy(p->msgs[i]);
    p->n_msgs = 0;
    p->producer = NULL;
    p->consumer = NULL;
    txn_free(p->txn);
    p->txn = NULL;
}

void pipeline_free(pipeline_t *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_msgs; i++)
        rd_kafka_message_destroy(p->msgs[i]);
    for (size_t k = 0; k < p->ring_count; k++) {
        inflight_t *b = &p->ring[(p->ring_head + k) % PIPELINE_INFLIGHT_MAX];
        if (b->offsets != NULL)
            rd_kafka_topic_partition_list_destroy(b->offsets);
    }
    if (p->to_commit != NULL)
        rd_kafka_topic_partition_list_destroy(p->to_commit);
    txn_free(p->txn);
    stages_close(p->stages);
    suspects_free(p->suspects);
    free(p->hand_spans);
    free(p->msgs);
    free(p->incoming);
    free(p->msg_errors);
    free(p->row_of);
    buf_free(&p->out);
    free(p->source);
    free(p->sink);
    free(p->dlq);
    free(p);
}
