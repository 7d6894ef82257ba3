/* offsets.c: `symtask-worker --offsets`: reads or resets the committed offsets of a task's
 * consumer group on its source topic (docs/operations.md), in a short-lived process so that
 * symtaskd's event loop never waits on Kafka. */
#include "offsets.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* One partition of the source topic as the cluster reports it. */
typedef struct offsets_part {
    int32_t partition;
    int64_t committed; /* RD_KAFKA_OFFSET_INVALID: never committed */
    int64_t low, high;
    int64_t target; /* a reset's new offset; RD_KAFKA_OFFSET_INVALID: left as it is */
} offsets_part_t;

static int64_t offsets_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What is left of the time budget, at least 1 ms so that a call still reports its error. */
static int offsets_left_ms(int64_t deadline)
{
    int64_t left = deadline - offsets_now_ms();
    return left < 1 ? 1 : (int)left;
}

static json_t *offsets_failure(const char *status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static json_t *offsets_failure(const char *status, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    return json_pack("{s:s, s:s, s:s}", "type", "offsets", "status", status, "message", message);
}

/* A Kafka call that failed: an unreachable cluster says so, with librdkafka's reason. */
static json_t *offsets_kafka_failure(const char *what, rd_kafka_resp_err_t err)
{
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
        err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        return offsets_failure("unavailable",
                               "the Kafka cluster did not answer within %d s (%s: %s); check "
                               "bootstrap.servers and that the cluster is up",
                               OFFSETS_TIMEOUT_MS / 1000, what, rd_kafka_err2str(err));
    return offsets_failure("unavailable", "%s: %s", what, rd_kafka_err2str(err));
}

static json_t *offsets_json_offset(int64_t offset)
{
    return offset >= 0 ? json_integer((json_int_t)offset) : json_null();
}

/* Where a group without a committed offset starts: auto.offset.reset of the consumer. */
static int offsets_start_at_end(json_t *params)
{
    const char *v = json_string_value(json_object_get(params, "kafka.consumer.auto.offset.reset"));
    if (v == NULL)
        v = json_string_value(json_object_get(params, "auto.offset.reset"));
    return v != NULL && (strcmp(v, "latest") == 0 || strcmp(v, "largest") == 0 ||
                         strcmp(v, "end") == 0 || strcmp(v, "error") == 0);
}

/* Sets each partition's target from @to (checked by symtaskd: "earliest", "latest",
 * {"timestamp":MS} or {"partitions":[{"partition":N,"offset":N},...]}). NULL when done, else
 * the answer (a bad partition or offset, or a failed Kafka call). */
static json_t *offsets_targets(rd_kafka_t *rk, const char *topic, offsets_part_t *parts, int n,
                               json_t *to, int64_t deadline)
{
    const char *word = json_string_value(to);
    if (word != NULL) {
        int earliest = strcmp(word, "earliest") == 0;
        for (int i = 0; i < n; i++)
            parts[i].target = earliest ? parts[i].low : parts[i].high;
        return NULL;
    }
    json_t *ts = json_object_get(to, "timestamp");
    if (ts != NULL) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < n; i++)
            rd_kafka_topic_partition_list_add(list, topic, parts[i].partition)->offset =
                (int64_t)json_integer_value(ts);
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, list, offsets_left_ms(deadline));
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_topic_partition_list_destroy(list);
            return offsets_kafka_failure("looking up offsets by timestamp", err);
        }
        for (int i = 0; i < n; i++) {
            const rd_kafka_topic_partition_t *tp = &list->elems[i];
            /* no record at or after the timestamp: the end of the log */
            parts[i].target = tp->err == RD_KAFKA_RESP_ERR_NO_ERROR && tp->offset >= 0
                                  ? tp->offset
                                  : parts[i].high;
        }
        rd_kafka_topic_partition_list_destroy(list);
        return NULL;
    }
    size_t k;
    json_t *entry;
    json_array_foreach (json_object_get(to, "partitions"), k, entry) {
        json_int_t partition = json_integer_value(json_object_get(entry, "partition"));
        json_int_t offset = json_integer_value(json_object_get(entry, "offset"));
        offsets_part_t *part = NULL;
        for (int i = 0; i < n; i++)
            if (parts[i].partition == partition)
                part = &parts[i];
        if (part == NULL)
            return offsets_failure("bad_request",
                                   "to.partitions: partition %" JSON_INTEGER_FORMAT
                                   " is not a partition of topic [%s] (it has %d)",
                                   partition, topic, n);
        if (offset < part->low)
            return offsets_failure("bad_request",
                                   "to.partitions: partition %" JSON_INTEGER_FORMAT
                                   ": offset %" JSON_INTEGER_FORMAT
                                   " is before the log start offset %lld",
                                   partition, offset, (long long)part->low);
        if (offset > part->high)
            return offsets_failure("bad_request",
                                   "to.partitions: partition %" JSON_INTEGER_FORMAT
                                   ": offset %" JSON_INTEGER_FORMAT
                                   " is past the log end offset %lld",
                                   partition, offset, (long long)part->high);
        part->target = offset;
    }
    return NULL;
}

/* Commits @list; the first error, of the request or of a partition. */
static rd_kafka_resp_err_t offsets_commit_list(rd_kafka_t *rk,
                                               rd_kafka_topic_partition_list_t *list)
{
    rd_kafka_topic_partition_list_t *copy = rd_kafka_topic_partition_list_copy(list);
    rd_kafka_resp_err_t err = rd_kafka_commit(rk, copy, 0);
    for (int i = 0; i < copy->cnt && err == RD_KAFKA_RESP_ERR_NO_ERROR; i++)
        err = copy->elems[i].err;
    rd_kafka_topic_partition_list_destroy(copy);
    return err;
}

/* Joins the group (subscribes to @topic) and waits, until @deadline, for an assignment; the
 * records fetched meanwhile are dropped, their offsets never committed. */
static rd_kafka_resp_err_t offsets_join(rd_kafka_t *rk, const char *topic, int64_t deadline)
{
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return err;
    while (offsets_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m != NULL)
            rd_kafka_message_destroy(m);
        rd_kafka_topic_partition_list_t *assigned = NULL;
        if (rd_kafka_assignment(rk, &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR && assigned != NULL) {
            int cnt = assigned->cnt;
            rd_kafka_topic_partition_list_destroy(assigned);
            if (cnt > 0)
                return RD_KAFKA_RESP_ERR_NO_ERROR;
        }
    }
    return RD_KAFKA_RESP_ERR__TIMED_OUT;
}

/* Commits the targets as the group's offsets and describes what changed. */
static json_t *offsets_commit(rd_kafka_t *rk, const char *topic, const char *group,
                              offsets_part_t *parts, int n, int64_t deadline)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
    json_t *changed = json_array();
    for (int i = 0; i < n; i++) {
        if (parts[i].target == RD_KAFKA_OFFSET_INVALID)
            continue;
        rd_kafka_topic_partition_list_add(list, topic, parts[i].partition)->offset =
            parts[i].target;
        json_array_append_new(changed,
                              json_pack("{s:i, s:o, s:I}", "partition", (int)parts[i].partition,
                                        "previous", offsets_json_offset(parts[i].committed),
                                        "offset", (json_int_t)parts[i].target));
    }
    /* the task is stopped: its group has no member, and Kafka accepts a commit from outside
     * the group as a simple consumer's; a cluster that does not (librdkafka's mock) is
     * answered as the group's only member */
    rd_kafka_resp_err_t err = offsets_commit_list(rk, list);
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID || err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION) {
        err = offsets_join(rk, topic, deadline);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            err = offsets_commit_list(rk, list);
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        json_decref(changed);
        return offsets_kafka_failure("committing the new offsets", err);
    }
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:o}}", "type", "offsets", "status", "ok", "offsets",
                     "topic", topic, "group", group, "partitions", changed);
}

static json_t *offsets_listing(const char *topic, const char *group, const offsets_part_t *parts,
                               int n, int start_at_end)
{
    json_t *list = json_array();
    for (int i = 0; i < n; i++) {
        const offsets_part_t *p = &parts[i];
        int64_t from = p->committed >= 0 ? p->committed : start_at_end ? p->high : p->low;
        int64_t lag = p->high > from ? p->high - from : 0;
        json_array_append_new(list,
                              json_pack("{s:i, s:o, s:I, s:I, s:I}", "partition", (int)p->partition,
                                        "committed", offsets_json_offset(p->committed),
                                        "logStartOffset", (json_int_t)p->low, "logEndOffset",
                                        (json_int_t)p->high, "lag", (json_int_t)lag));
    }
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:o}}", "type", "offsets", "status", "ok", "offsets",
                     "topic", topic, "group", group, "partitions", list);
}

json_t *offsets_run(kafka_clients_t *kc, json_t *params, const char *group, json_t *request)
{
    int64_t deadline = offsets_now_ms() + OFFSETS_TIMEOUT_MS;
    rd_kafka_t *rk = kafka_clients_consumer(kc);
    const char *topic = json_string_value(json_object_get(params, "sml.kstream.source.topic"));
    json_t *answer = NULL;
    offsets_part_t *parts = NULL;
    int n = 0;

    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rkt != NULL
                                  ? rd_kafka_metadata(rk, 0, rkt, &md, offsets_left_ms(deadline))
                                  : rd_kafka_last_error();
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        answer = offsets_kafka_failure("reading the topic's partitions", err);
        goto out;
    }
    if (md->topic_cnt != 1 || md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        md->topics[0].partition_cnt == 0) {
        answer = offsets_failure("unavailable", "topic [%s] does not exist", topic);
        goto out;
    }
    if (md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        answer = offsets_kafka_failure("reading the topic's partitions", md->topics[0].err);
        goto out;
    }
    n = md->topics[0].partition_cnt;
    parts = calloc((size_t)n, sizeof(*parts));
    if (parts == NULL) {
        answer = offsets_failure("unavailable", "out of memory");
        goto out;
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++) {
        parts[i].partition = md->topics[0].partitions[i].id;
        parts[i].target = RD_KAFKA_OFFSET_INVALID;
        rd_kafka_topic_partition_list_add(list, topic, parts[i].partition);
    }
    err = rd_kafka_committed(rk, list, offsets_left_ms(deadline));
    for (int i = 0; i < n && err == RD_KAFKA_RESP_ERR_NO_ERROR; i++) {
        const rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(list, topic, parts[i].partition);
        parts[i].committed = tp != NULL && tp->err == 0 ? tp->offset : RD_KAFKA_OFFSET_INVALID;
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        answer = offsets_kafka_failure("reading the committed offsets", err);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        err = rd_kafka_query_watermark_offsets(rk, topic, parts[i].partition, &parts[i].low,
                                               &parts[i].high, offsets_left_ms(deadline));
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            answer = offsets_kafka_failure("reading the log start and end offsets", err);
            goto out;
        }
    }
    /* sorted by partition, whatever order the metadata had */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && parts[j - 1].partition > parts[j].partition; j--) {
            offsets_part_t tmp = parts[j];
            parts[j] = parts[j - 1];
            parts[j - 1] = tmp;
        }

    json_t *to = json_object_get(request, "to");
    if (to == NULL) {
        answer = offsets_listing(topic, group, parts, n, offsets_start_at_end(params));
        goto out;
    }
    answer = offsets_targets(rk, topic, parts, n, to, deadline);
    if (answer == NULL)
        answer = offsets_commit(rk, topic, group, parts, n, deadline + OFFSETS_JOIN_MS);

out:
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    if (rkt != NULL)
        rd_kafka_topic_destroy(rkt);
    free(parts);
    return answer;
}
