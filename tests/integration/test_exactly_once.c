/* test_exactly_once.c: sml.kstream.guarantee = exactly_once. On a mock cluster of the test's
 * own, which accepts transactions without honouring them, the request errors it injects
 * drive every transactional path of the worker: begin and commit, abort after a failed
 * produce or offset send and the rewind that follows, fencing. With SYMTASK_TEST_BOOTSTRAP
 * naming a cluster that honours transactions, workers SIGKILLed mid-stream neither lose nor
 * duplicate a record, and the default guarantee recovers within a minute. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "kafka_util.h"

#define BASE "/symetry/rest/" H_CID1

/* Kafka protocol ApiKeys of the requests whose errors the tests inject. */
enum { API_PRODUCE = 0, API_ADD_OFFSETS_TO_TXN = 25, API_END_TXN = 26 };

static harness_t h;
static rd_kafka_t *mock_rk; /* owns the mock cluster */
static rd_kafka_mock_cluster_t *mock;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts symtaskd against the cluster at @bootstrap instead of its embedded one. */
static void setup_daemon(const char *bootstrap)
{
    char conf[700];
    snprintf(conf, sizeof(conf),
             "kafka.embedded = false\nkafka.bootstrap.servers = %s\ntask.restart_backoff_ms = "
             "500\n",
             bootstrap);
    kt_use_bootstrap(bootstrap);
    h_setup(&h, conf);
}

static void mock_setup(void)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", NULL, 0);
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    cr_assert_not_null(mock_rk, "%s", errstr);
    mock = rd_kafka_handle_mock_cluster(mock_rk);
    cr_assert_not_null(mock);
    const char *topics[] = {"in-t1", "out-t1", "out-t1.dlq"};
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(rd_kafka_mock_topic_create(mock, topics[i], 4, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    setup_daemon(rd_kafka_mock_cluster_bootstraps(mock));
}

static void mock_teardown(void)
{
    h_teardown(&h);
    kt_use_bootstrap(NULL);
    rd_kafka_destroy(mock_rk);
}

TestSuite(exactly_once, .init = mock_setup, .fini = mock_teardown, .timeout = 240);

#define EOS "\"sml.kstream.guarantee\":\"exactly_once\""

/* Produces @n records {"id":i,...} keyed i to in-t1. */
static void produce_ids(int from, int n)
{
    char **values = calloc((size_t)n, sizeof(*values)), **keys = calloc((size_t)n, sizeof(*keys));
    for (int i = 0; i < n; i++) {
        cr_assert(asprintf(&values[i], "{\"id\":%d,\"x1\":%d,\"x2\":1}", from + i, i % 10) > 0);
        cr_assert(asprintf(&keys[i], "%d", from + i) > 0);
    }
    kt_produce(&h, "in-t1", (size_t)n, (const char *const *)keys, (const char *const *)values,
               NULL);
    for (int i = 0; i < n; i++) {
        free(values[i]);
        free(keys[i]);
    }
    free(values);
    free(keys);
}

/* Reads out-t1 until it stays quiet; counts the outputs of each id below @n into @seen and
 * returns how many ids came out at least once. */
static int count_outputs(int n, int *seen, size_t *outputs)
{
    size_t cap = (size_t)n * 4;
    kt_record_t *out = calloc(cap, sizeof(*out));
    size_t got = kt_consume_all(&h, "out-t1", out, cap, 4000, 60000);
    int distinct = 0;
    memset(seen, 0, (size_t)n * sizeof(*seen));
    for (size_t i = 0; i < got; i++) {
        int id = atoi(out[i].key);
        if (id >= 0 && id < n && seen[id]++ == 0)
            distinct++;
    }
    *outputs = got;
    kt_records_free(out, got);
    free(out);
    return distinct;
}

Test(exactly_once, outputs_and_offsets_are_committed_in_transactions)
{
    h_create_task(&h, "t1", EOS);
    h_start_task(&h, "t1");
    enum { N = 200 };
    produce_ids(0, N);
    /* the outputs of committed transactions: all of them, whoever wrote them */
    cr_assert(h_wait_number(&h, "t1", "recordsOut", N, 30000), "see %s", h.log_path);
    int seen[N];
    size_t outputs;
    int distinct = count_outputs(N, seen, &outputs);
    cr_assert_eq(distinct, N, "%d of %d records came out; see %s", distinct, N, h.log_path);
    cr_assert_eq(outputs, (size_t)N, "%zu outputs for %d records", outputs, N);
    cr_assert(h_status_number(&h, "t1", "transactionsCommitted") >= 1);
    cr_assert_eq(h_status_number(&h, "t1", "transactionsAborted"), 0);
    cr_assert(h_log_contains(&h, "transactional producer ready (transactional.id "
                                 "symtask-c1-t1-0)"),
              "see %s", h.log_path);
    cr_assert(h_log_contains(&h, "exactly once"));
    json_t *st = h_status(&h, "t1");
    cr_assert_str_eq(h_get(st, "groupState"), "stable");
    cr_assert_str_eq(h_get(st, "assignedPartitions"), "4");
    json_decref(st);

    /* a graceful stop commits the open transaction and leaves the group */
    h_response_t r = h_req(&h, "GET", BASE "/tasks/t1/stop", NULL);
    h_response_free(&r);
    cr_assert(h_wait_status(&h, "t1", "status", "stopped", 15000));
    cr_assert_str_eq(h_get(st = h_status(&h, "t1"), "lastError"), "");
    json_decref(st);
    cr_assert(h_log_contains(&h, "left the consumer group (group.instance.id symtask-c1-t1-0)"),
              "see %s", h.log_path);
}

/* A worker that holds no partition is running, but says so: no partition, and a lag that is
 * unknown rather than 0. Here the source topic does not exist. */
Test(exactly_once, a_worker_without_partitions_says_so)
{
    h_create_task(&h, "t2", NULL);
    h_start_task(&h, "t2");
    bool seen = false;
    for (int i = 0; i < 50 && !seen; i++) {
        json_t *st = h_status(&h, "t2");
        seen = strcmp(h_get(st, "groupState"), "") != 0;
        if (seen) {
            cr_assert_str_eq(h_get(st, "status"), "running");
            cr_assert_str_eq(h_get(st, "assignedPartitions"), "0");
            cr_assert_str_eq(h_get(st, "consumerLag"), "", "a lag without partitions: %s",
                             h_get(st, "consumerLag"));
        }
        json_decref(st);
        usleep(100000);
    }
    cr_assert(seen, "no heartbeat; see %s", h.log_path);
    h_response_t r = h_raw(&h, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "symtask_assigned_partitions{customer=\"c1\",task=\"t2\"} 0") != NULL,
              "%s", r.body);
    cr_assert(strstr(r.body, "symtask_consumer_lag{customer=\"c1\",task=\"t2\"}") == NULL,
              "an unknown lag has a sample: %s", r.body);
    h_response_free(&r);
}

/* A produce the broker refuses makes the transaction abortable: it is aborted, the consumer
 * goes back to the committed offsets and the records come out after all, from the same
 * worker. */
Test(exactly_once, a_failed_produce_aborts_and_the_records_are_read_again)
{
    h_create_task(&h, "t1", EOS);
    enum { N = 50 };
    produce_ids(0, N);
    /* the worker's first writes fail (the test's own produce is done) */
    rd_kafka_mock_push_request_errors(mock, API_PRODUCE, 2, RD_KAFKA_RESP_ERR_INVALID_RECORD,
                                      RD_KAFKA_RESP_ERR_INVALID_RECORD);
    h_start_task(&h, "t1");
    cr_assert(h_wait_number(&h, "t1", "transactionsAborted", 1, 30000), "no abort; see %s",
              h.log_path);
    /* the outputs of committed transactions: all of them, whoever wrote them */
    cr_assert(h_wait_number(&h, "t1", "recordsOut", N, 30000), "see %s", h.log_path);
    int seen[N];
    size_t outputs;
    int distinct = count_outputs(N, seen, &outputs);
    cr_assert_eq(distinct, N, "%d of %d records came out; see %s", distinct, N, h.log_path);
    cr_assert(h_log_contains(&h, "the transaction was aborted: its records are read again"),
              "see %s", h.log_path);
    cr_assert(h_log_contains(&h, "rewound in-t1["), "see %s", h.log_path);
    cr_assert_eq(h_status_number(&h, "t1", "restarts"), 0, "the worker restarted; see %s",
                 h.log_path);
    cr_assert(h_status_number(&h, "t1", "transactionsCommitted") >= 1);
}

/* The offsets cannot join the transaction (AddOffsetsToTxn refused): abort, rewind, and the
 * next transaction writes the records again. The mock shows aborted records to every
 * reader, so each record is there at least once, the aborted batch twice. */
Test(exactly_once, a_refused_offset_commit_aborts_and_rewinds)
{
    h_create_task(&h, "t1", EOS);
    enum { N = 30 };
    produce_ids(0, N);
    rd_kafka_mock_push_request_errors(mock, API_ADD_OFFSETS_TO_TXN, 1,
                                      RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
    h_start_task(&h, "t1");
    cr_assert(h_wait_number(&h, "t1", "transactionsAborted", 1, 30000), "no abort; see %s",
              h.log_path);
    /* the outputs of committed transactions: all of them, whoever wrote them */
    cr_assert(h_wait_number(&h, "t1", "recordsOut", N, 30000), "see %s", h.log_path);
    int seen[N];
    size_t outputs;
    int distinct = count_outputs(N, seen, &outputs);
    cr_assert_eq(distinct, N, "%d of %d records came out; see %s", distinct, N, h.log_path);
    cr_assert(outputs > (size_t)N, "the aborted outputs were not written again (%zu)", outputs);
    cr_assert(h_log_contains(&h, "send_offsets_to_transaction failed"), "see %s", h.log_path);
    cr_assert(h_log_contains(&h, "rewound in-t1["), "see %s", h.log_path);
    cr_assert_eq(h_status_number(&h, "t1", "restarts"), 0);
}

/* EndTxn refused for a reason that needs an abort (an unknown producer id): the abort bumps
 * the producer's epoch and the records are written again. */
Test(exactly_once, a_refused_end_of_transaction_aborts_and_rewinds)
{
    h_create_task(&h, "t1", EOS);
    enum { N = 30 };
    produce_ids(0, N);
    rd_kafka_mock_push_request_errors(mock, API_END_TXN, 1, RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID);
    h_start_task(&h, "t1");
    cr_assert(h_wait_number(&h, "t1", "transactionsAborted", 1, 30000), "no abort; see %s",
              h.log_path);
    /* the outputs of committed transactions: all of them, whoever wrote them */
    cr_assert(h_wait_number(&h, "t1", "recordsOut", N, 30000), "see %s", h.log_path);
    int seen[N];
    size_t outputs;
    int distinct = count_outputs(N, seen, &outputs);
    cr_assert_eq(distinct, N, "%d of %d records came out; see %s", distinct, N, h.log_path);
    cr_assert(h_log_contains(&h, "commit_transaction failed"), "see %s", h.log_path);
    cr_assert_eq(h_status_number(&h, "t1", "restarts"), 0);
}

/* A fenced producer (another one took the transactional.id) must not write again: the
 * worker ends, lastError says why, and the supervisor's restart goes on. */
Test(exactly_once, a_fenced_worker_ends_and_is_restarted)
{
    h_create_task(&h, "t1", EOS);
    enum { N = 20 };
    produce_ids(0, N);
    rd_kafka_mock_push_request_errors(mock, API_END_TXN, 1, RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
    h_start_task(&h, "t1");
    cr_assert(h_wait_number(&h, "t1", "restarts", 1, 30000), "no restart; see %s", h.log_path);
    cr_assert(h_log_contains(&h, "fenced"), "see %s", h.log_path);
    cr_assert(h_log_contains(&h, "transactional.id symtask-c1-t1-0"), "see %s", h.log_path);
    json_t *st = h_status(&h, "t1");
    cr_assert(strstr(h_get(st, "lastError"), "fenced") != NULL, "%s", h_get(st, "lastError"));
    json_decref(st);
    /* the outputs of committed transactions: all of them, whoever wrote them */
    cr_assert(h_wait_number(&h, "t1", "recordsOut", N, 30000), "see %s", h.log_path);
    int seen[N];
    size_t outputs;
    int distinct = count_outputs(N, seen, &outputs);
    cr_assert_eq(distinct, N, "%d of %d records came out; see %s", distinct, N, h.log_path);
}

/* Abortable errors that never stop are for a restart, not an endless loop of aborts. */
Test(exactly_once, aborts_in_a_row_end_the_worker)
{
    h_create_task(&h, "t1", EOS);
    produce_ids(0, 10);
    rd_kafka_resp_err_t errs[12];
    for (size_t i = 0; i < 12; i++)
        errs[i] = RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED;
    rd_kafka_mock_push_request_errors_array(mock, API_ADD_OFFSETS_TO_TXN, 12, errs);
    h_start_task(&h, "t1");
    cr_assert(h_wait_number(&h, "t1", "restarts", 1, 60000), "no restart; see %s", h.log_path);
    cr_assert(h_log_contains(&h, "5 transactions in a row were aborted"), "see %s", h.log_path);
}

/* A transaction that cannot end (the coordinator answers "try again" to every EndTxn) is not
 * retried forever behind heartbeats that say all is well: after transaction.timeout.ms the
 * worker gives up, says why, and its restart goes on. */
Test(exactly_once, a_transaction_that_cannot_end_is_given_up)
{
    h_create_task(&h, "t1",
                  EOS ",\"kafka.producer.transaction.timeout.ms\":\"2000\","
                      "\"kafka.producer.message.timeout.ms\":\"2000\"");
    enum { N = 10 };
    produce_ids(0, N);
    rd_kafka_resp_err_t errs[40];
    for (size_t i = 0; i < 40; i++)
        errs[i] = RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    rd_kafka_mock_push_request_errors_array(mock, API_END_TXN, 40, errs);
    h_start_task(&h, "t1");
    cr_assert(h_wait_number(&h, "t1", "restarts", 1, 30000), "no restart; see %s", h.log_path);
    cr_assert(h_log_contains(&h, "did not succeed within transaction.timeout.ms (2000 ms)"),
              "see %s", h.log_path);
    /* once the coordinator answers again, everything comes out */
    cr_assert(h_wait_number(&h, "t1", "recordsOut", N, 60000), "see %s", h.log_path);
    int seen[N];
    size_t outputs;
    cr_assert_eq(count_outputs(N, seen, &outputs), N, "see %s", h.log_path);
}

/* ---- A cluster that honours transactions (SYMTASK_TEST_BOOTSTRAP) ------------------------ */

enum { EXT_N = 20000, EXT_KILLS = 3 };

static char ext_tid[64];

static void ext_setup(void)
{
    const char *bootstrap = getenv("SYMTASK_TEST_BOOTSTRAP");
    if (bootstrap == NULL || bootstrap[0] == '\0')
        return;
    snprintf(ext_tid, sizeof(ext_tid), "ext-%d-%ld", (int)getpid(), (long)time(NULL));
    setup_daemon(bootstrap);
}

static void ext_teardown(void)
{
    if (h.pid != 0 || h.dir[0] != '\0')
        h_teardown(&h);
    kt_use_bootstrap(NULL);
}

TestSuite(external, .init = ext_setup, .fini = ext_teardown, .timeout = 600);

/* criterion counts a skipped test nowhere in its summary: say it on stderr too */
#define SKIP_WITHOUT_CLUSTER(name)                                                                 \
    do {                                                                                           \
        const char *bootstrap_ = getenv("SYMTASK_TEST_BOOTSTRAP");                                 \
        if (bootstrap_ == NULL || bootstrap_[0] == '\0') {                                         \
            fprintf(stderr,                                                                        \
                    "[SKIP] external::%s: SYMTASK_TEST_BOOTSTRAP names no Kafka "                  \
                    "cluster that honours transactions (docs/testing.md)\n",                       \
                    name);                                                                         \
            cr_skip_test("SYMTASK_TEST_BOOTSTRAP is not set");                                     \
        }                                                                                          \
    } while (0)

/* Creates the task's topics with 4 partitions (an existing one is fine). */
static void ext_create_topics(const char *in, const char *out, const char *dlq)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", kt_bootstrap(&h), NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    cr_assert_not_null(rk, "%s", errstr);
    const char *names[] = {in, out, dlq};
    rd_kafka_NewTopic_t *topics[3];
    for (int i = 0; i < 3; i++)
        topics[i] = rd_kafka_NewTopic_new(names[i], 4, 1, errstr, sizeof(errstr));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, topics, 3, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    cr_assert_not_null(ev, "CreateTopics did not answer");
    size_t n;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);
        cr_assert(err == RD_KAFKA_RESP_ERR_NO_ERROR ||
                      err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS,
                  "%s: %s", rd_kafka_topic_result_name(res[i]), rd_kafka_err2str(err));
    }
    rd_kafka_event_destroy(ev);
    for (int i = 0; i < 3; i++)
        rd_kafka_NewTopic_destroy(topics[i]);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

typedef struct ext_run {
    const char *in;
    int done;
} ext_run_t;

static void *ext_produce(void *arg)
{
    ext_run_t *run = arg;
    enum { SLICE = 1000 };
    char **values = calloc(SLICE, sizeof(*values)), **keys = calloc(SLICE, sizeof(*keys));
    for (int off = 0; off < EXT_N; off += SLICE) {
        for (int i = 0; i < SLICE; i++) {
            cr_assert(asprintf(&values[i], "{\"id\":%d,\"x1\":%d,\"x2\":1}", off + i, i % 10) > 0);
            cr_assert(asprintf(&keys[i], "%d", off + i) > 0);
        }
        kt_produce(&h, run->in, SLICE, (const char *const *)keys, (const char *const *)values,
                   NULL);
        for (int i = 0; i < SLICE; i++) {
            free(values[i]);
            free(keys[i]);
        }
        usleep(300000); /* about 7 s of traffic: the kills land mid-stream */
    }
    free(values);
    free(keys);
    __atomic_store_n(&run->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Reads @topic (read_committed) until every id came out or @timeout_ms passed; fills @seen
 * with each id's count, @complete_ms with when the last missing id came, and returns the
 * number of distinct ids. */
static int ext_read(const char *topic, int *seen, size_t *outputs, int64_t *complete_ms,
                    int timeout_ms)
{
    char errstr[512], group[96];
    snprintf(group, sizeof(group), "ext-reader-%d-%ld", (int)getpid(), random());
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", kt_bootstrap(&h), NULL, 0);
    rd_kafka_conf_set(conf, "group.id", group, NULL, 0);
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", NULL, 0);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
    rd_kafka_conf_set(conf, "isolation.level", "read_committed", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    cr_assert_not_null(rk, "%s", errstr);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, t);
    rd_kafka_topic_partition_list_destroy(t);
    int distinct = 0;
    *outputs = 0;
    int64_t deadline = now_ms() + timeout_ms, quiet_since = 0;
    while (now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (m == NULL) {
            /* all there: a little longer, to see duplicates that come late */
            if (distinct == EXT_N && quiet_since == 0)
                quiet_since = now_ms();
            if (quiet_since != 0 && now_ms() - quiet_since > 3000)
                break;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->key != NULL) {
            char key[32];
            snprintf(key, sizeof(key), "%.*s", (int)m->key_len, (const char *)m->key);
            int id = atoi(key);
            if (id >= 0 && id < EXT_N && seen[id]++ == 0 && ++distinct == EXT_N)
                *complete_ms = now_ms();
            (*outputs)++;
            quiet_since = 0;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return distinct;
}

/* Kills the task's worker @kills times, each one second after the worker (re)started and
 * reached the group; returns the time of the last kill. */
static int64_t ext_kill_workers(const char *tid, int kills)
{
    pid_t last = 0;
    int64_t killed = 0;
    for (int k = 0; k < kills; k++) {
        pid_t pid = 0;
        for (int waited = 0; waited < 60000 && pid == 0; waited += 50) {
            json_t *st = h_status(&h, tid);
            pid_t p = (pid_t)atoi(h_get(st, "pid"));
            if (p != 0 && p != last && strcmp(h_get(st, "status"), "running") == 0)
                pid = p;
            json_decref(st);
            if (pid == 0)
                usleep(50000);
        }
        cr_assert(pid > 0, "no worker to kill (kill %d); see %s", k + 1, h.log_path);
        sleep(1);
        kill(pid, SIGKILL);
        killed = now_ms();
        last = pid;
    }
    return killed;
}

static void ext_run(const char *guarantee, int exactly_once)
{
    char in[96], out[96], dlq[100], extra[256];
    snprintf(in, sizeof(in), "in-%s", ext_tid);
    snprintf(out, sizeof(out), "out-%s", ext_tid);
    snprintf(dlq, sizeof(dlq), "%s.dlq", out);
    ext_create_topics(in, out, dlq);
    snprintf(extra, sizeof(extra),
             "\"sml.kstream.guarantee\":\"%s\",\"sml.kstream.record.poll.max\":\"100\"", guarantee);
    h_create_task(&h, ext_tid, extra);
    h_start_task(&h, ext_tid);

    ext_run_t run = {.in = in};
    pthread_t producer;
    pthread_create(&producer, NULL, ext_produce, &run);
    int64_t last_kill = ext_kill_workers(ext_tid, EXT_KILLS);
    pthread_join(producer, NULL);

    int *seen = calloc(EXT_N, sizeof(*seen));
    size_t outputs;
    int64_t complete = 0;
    int distinct = ext_read(out, seen, &outputs, &complete, exactly_once ? 180000 : 90000);
    int64_t all_seen = complete - last_kill;
    int twice = 0;
    for (int i = 0; i < EXT_N; i++)
        twice += seen[i] > 1;
    fprintf(stderr,
            "external %s: %d of %d records, %zu outputs, %d duplicated, %lld ms after the last "
            "of %d kills\n",
            guarantee, distinct, EXT_N, outputs, twice, (long long)all_seen, EXT_KILLS);
    cr_assert_eq(distinct, EXT_N, "%d of %d records came out; see %s", distinct, EXT_N, h.log_path);
    if (exactly_once)
        cr_assert_eq(twice, 0, "%d records came out more than once", twice);
    else
        cr_assert(all_seen <= 60000, "every record was out only %lld ms after the last kill",
                  (long long)all_seen);
    free(seen);
}

Test(external, exactly_once_survives_three_sigkills)
{
    SKIP_WITHOUT_CLUSTER("exactly_once_survives_three_sigkills");
    ext_run("exactly_once", 1);
}

Test(external, at_least_once_recovers_from_three_sigkills_within_a_minute)
{
    SKIP_WITHOUT_CLUSTER("at_least_once_recovers_from_three_sigkills_within_a_minute");
    ext_run("at_least_once", 0);
}
