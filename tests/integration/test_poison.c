/* test_poison.c: records that take the worker down (docs/delivery.md "Records that crash the
 * worker"). A test predictor (tests/plugins/typed/crasher.c) segfaults, aborts or hangs on
 * one value of x1 among good records of a running task: the record ends in the dead letters
 * with headers that say what happened, after at most sml.kstream.poison.max dead workers;
 * every other record reaches the sink; the task keeps running. The same across a daemon
 * restart between the crashes, and with errors.tolerance = none the task fails naming the
 * record. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kafka_util.h"

#define BASE "/symetry/rest/" H_CID1
/* records per test; the bad one has x1 = BAD */
#define N 40
#define BAD 13

static harness_t h;
/* records are bare numbers for the outage serializer (echo predicts x_out = x), else JSON
 * for crasher (y = 2 * x1) */
static bool bare;

static const char *env(const char *name)
{
    const char *v = getenv(name);
    cr_assert(v != NULL && v[0] != '\0', "%s is not set (meson test sets it)", name);
    return v;
}

static void setup_with(harness_t *hh, const char *conf)
{
    const char *dirs[] = {env("SYMTASK_PLUGIN_DIR"), env("SYMTASK_TYPED_PLUGIN_DIR"), NULL};
    h_setup_plugins(hh, dirs, conf);
}

static void setup(void)
{
    setup_with(&h, NULL);
}

static void teardown(void)
{
    kt_use_bootstrap(NULL);
    h_teardown(&h);
}

TestSuite(poison, .init = setup, .fini = teardown, .timeout = 300);

/* Creates and starts task @tid (in-@tid to out-@tid, dead letters out-@tid.dlq) predicting
 * with crasher and the params @extra. */
static void create_and_start(harness_t *hh, const char *tid, const char *extra)
{
    char params[4096] = "";
    if (strstr(extra, "\"sml.predictor\"") == NULL)
        snprintf(params, sizeof(params), "\"sml.predictor\":\"crasher\"%s%s",
                 strstr(extra, "crash_on") ? "" : ",\"sml.predictor.crash_on\":\"13\"",
                 extra[0] ? "," : "");
    strncat(params, extra, sizeof(params) - strlen(params) - 1);
    char *body = h_taskinfo_params(tid, params, H_SECRET1);
    h_response_t r = h_req(hh, "POST", BASE "/tasks/create", body);
    free(body);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    h_start_task(hh, tid);
}

static void produce(harness_t *hh, const char *tid)
{
    char *keys[N], *values[N], topic[64];
    for (int i = 0; i < N; i++) {
        cr_assert(asprintf(&keys[i], "%d", i) > 0);
        cr_assert(asprintf(&values[i], bare ? "%d" : "{\"x1\":%d}", i) > 0);
    }
    snprintf(topic, sizeof(topic), "in-%s", tid);
    kt_produce(hh, topic, N, (const char *const *)keys, (const char *const *)values, NULL);
    for (int i = 0; i < N; i++) {
        free(keys[i]);
        free(values[i]);
    }
}

/* The bad record is in the dead letters with headers naming @error, alone; every other
 * record is in the sink; the task runs, after at most @max restarts. */
static void expect_quarantined(harness_t *hh, const char *tid, const char *stage, const char *error,
                               int max)
{
    cr_assert(h_wait_number(hh, tid, "recordsQuarantined", 1, 120000),
              "nothing quarantined; see %s", hh->log_path);
    char topic[64];
    static kt_record_t out[4 * N], dlq[8];
    snprintf(topic, sizeof(topic), "out-%s.dlq", tid);
    size_t nd = kt_consume(hh, topic, 1, dlq, 8, 60000);
    cr_assert_geq(nd, 1, "no dead letter; see %s", hh->log_path);
    for (size_t i = 0; i < nd; i++) {
        cr_expect_str_eq(dlq[i].key, "13");
        cr_expect_str_eq(dlq[i].value, bare ? "13" : "{\"x1\":13}");
        cr_expect_str_eq(kt_header(&dlq[i], "symtask.stage"), stage);
        cr_expect_str_eq(kt_header(&dlq[i], "symtask.error"), error);
        char task[64];
        snprintf(task, sizeof(task), "c1/%s", tid);
        cr_expect_str_eq(kt_header(&dlq[i], "symtask.task"), task);
        snprintf(topic, sizeof(topic), "in-%s", tid);
        cr_expect_str_eq(kt_header(&dlq[i], "symtask.source.topic"), topic);
        cr_expect(kt_header(&dlq[i], "symtask.source.offset") != NULL);
    }
    /* every other record, each at least once (at-least-once: duplicates are allowed) */
    snprintf(topic, sizeof(topic), "out-%s", tid);
    bool seen[N] = {false};
    size_t seen_n = 0;
    for (int waited = 0; seen_n < N - 1 && waited < 60; waited++) {
        size_t n = kt_consume_all(hh, topic, out, 4 * N, 2000, 30000);
        for (size_t i = 0; i < n && i < 4 * N; i++) {
            int k = atoi(out[i].key);
            cr_assert(k >= 0 && k < N && k != BAD, "unexpected key %s in the sink", out[i].key);
            char want[32];
            if (bare)
                snprintf(want, sizeof(want), "x=%d;x_out=%d", k, k);
            else
                snprintf(want, sizeof(want), "{\"x1\":%d,\"y\":%d}", k, 2 * k);
            cr_expect_str_eq(out[i].value, want);
            if (!seen[k])
                seen[k] = true, seen_n++;
        }
        kt_records_free(out, n < 4 * N ? n : 4 * N);
    }
    cr_expect_eq(seen_n, N - 1, "%zu of %d good records in the sink; see %s", seen_n, N - 1,
                 hh->log_path);
    kt_records_free(dlq, nd);

    json_t *st = h_status(hh, tid);
    cr_expect_str_eq(h_get(st, "status"), "running", "%s", h_get(st, "lastError"));
    cr_expect_leq(atoi(h_get(st, "restarts")), max, "restarts: %s", h_get(st, "restarts"));
    cr_expect_str_eq(h_get(st, "recordsQuarantined"), "1");
    json_decref(st);
    h_response_t r = h_raw(hh, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
    char want[128];
    snprintf(want, sizeof(want), "symtask_records_quarantined_total{customer=\"c1\",task=\"%s\"} 1",
             tid);
    cr_expect(strstr(r.body, want) != NULL, "%s", r.body);
    h_response_free(&r);
}

/* Stops task @tid: its store then holds no suspect, the records handled one at a time having
 * gone through (the worker's done messages), and still the quarantined record. */
static void expect_no_suspect_once_stopped(harness_t *hh, const char *tid)
{
    char path[512], text[8192] = "";
    snprintf(path, sizeof(path), BASE "/tasks/%s/stop", tid);
    h_response_t r = h_req(hh, "GET", path, NULL);
    h_response_free(&r);
    cr_assert(h_wait_status(hh, tid, "status", "stopped", 30000));
    snprintf(path, sizeof(path), "%s/state/tasks/c1/%s.task", hh->dir, tid);
    FILE *f = fopen(path, "r");
    cr_assert(f != NULL, "%s", path);
    size_t len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = '\0';
    cr_expect(strstr(text, "\"suspects\": []") != NULL &&
                  strstr(text, "\"quarantinedTotal\": 1") != NULL,
              "the store still holds suspects, or not the quarantined record: %s", text);
}

/* Task @tid of the suite's daemon, with the params @extra, is given the records; the bad one
 * takes workers down at @stage and ends as expect_quarantined() says. */
static void expect_dead_lettered(const char *tid, const char *extra, const char *stage,
                                 const char *error, int max)
{
    create_and_start(&h, tid, extra);
    produce(&h, tid);
    expect_quarantined(&h, tid, stage, error, max);
    expect_no_suspect_once_stopped(&h, tid);
}

Test(poison, a_record_that_segfaults_the_predictor_is_dead_lettered)
{
    expect_dead_lettered("t1", "", "predict",
                         "worker killed by SIGSEGV while predicting this record", 2);
    cr_expect(h_log_contains(&h, "quarantined, the next worker sends it to the dead letters"),
              "see %s", h.log_path);
}

Test(poison, a_record_that_aborts_the_predictor_is_dead_lettered)
{
    expect_dead_lettered("t1", "\"sml.predictor.how\":\"abort\"", "predict",
                         "worker killed by SIGABRT while predicting this record", 2);
}

Test(poison, with_poison_max_1_a_record_alone_in_its_batch_goes_at_the_first_death)
{
    /* batches of one record: the first death names the record */
    expect_dead_lettered("t1",
                         "\"sml.predictor.how\":\"abort\",\"sml.kstream.poison.max\":\"1\","
                         "\"sml.kstream.record.poll.max\":\"1\"",
                         "predict", "worker killed by SIGABRT while predicting this record", 1);
}

Test(poison, under_exactly_once_too)
{
    /* the suspect records one at a time and the quarantined one's dead letter go through
     * the task's transactions (which the embedded cluster accepts and does not honour) */
    expect_dead_lettered("t1", "\"sml.kstream.guarantee\":\"exactly_once\"", "predict",
                         "worker killed by SIGSEGV while predicting this record", 2);
}

Test(poison, a_record_that_hangs_the_predictor_is_dead_lettered)
{
    expect_dead_lettered(
        "t1", "\"sml.predictor.how\":\"loop\",\"sml.task.heartbeat.timeout.ms\":\"5000\"",
        "predict", "no heartbeat for 5000 ms while predicting this record", 2);
}

Test(poison, a_record_that_crashes_the_serializer_names_its_stage)
{
    bare = true;
    expect_dead_lettered("t1",
                         "\"sml.serializer\":\"outage\",\"sml.serializer.down\":\"/nonexistent\","
                         "\"sml.serializer.crash_on\":\"13\",\"sml.predictor\":\"echo\","
                         "\"sml.predictor.features\":\"x:number\"",
                         "decode", "worker killed by SIGSEGV while decoding this record", 2);
    expect_dead_lettered(
        "t2",
        "\"sml.serializer\":\"outage\",\"sml.serializer.down\":\"/nonexistent\","
        "\"sml.serializer.crash_on\":\"13\",\"sml.serializer.crash_in\":\"encode\","
        "\"sml.predictor\":\"echo\",\"sml.predictor.features\":\"x:number\"",
        "encode", "worker killed by SIGSEGV while encoding this record", 2);
    bare = false;
}

Test(poison, a_slow_predictor_is_not_taken_for_a_hung_one)
{
    /* 4 s a batch, past the daemon's task.heartbeat_timeout_ms of this test (3 s), within the
     * task's own */
    harness_t *hh = &h;
    h_teardown(hh);
    setup_with(hh, "task.heartbeat_timeout_ms = 3000\n");
    create_and_start(hh, "t1",
                     "\"sml.predictor.crash_on\":\"-1\",\"sml.predictor.sleep_ms\":\"4000\","
                     "\"sml.task.heartbeat.timeout.ms\":\"20000\"");
    produce(hh, "t1");
    cr_assert(h_wait_number(hh, "t1", "recordsOut", N, 120000), "see %s", hh->log_path);
    json_t *st = h_status(hh, "t1");
    cr_expect_str_eq(h_get(st, "restarts"), "0", "%s", h_get(st, "lastError"));
    cr_expect_str_eq(h_get(st, "recordsQuarantined"), "0");
    json_decref(st);
}

Test(poison, suspects_survive_a_daemon_restart_between_the_crashes)
{
    /* Kafka lives in a daemon of its own, so that it outlives the restart of the one under
     * test; that one waits long enough after a crash for the test to stop it meanwhile */
    harness_t kafka = {0};
    setup_with(&kafka, NULL);
    h_teardown(&h);
    setup_with(&h, "task.restart_backoff_ms = 8000\n");
    char bootstrap[256], extra[512];
    snprintf(bootstrap, sizeof(bootstrap), "%s", kt_bootstrap(&kafka));
    kt_use_bootstrap(bootstrap);
    snprintf(extra, sizeof(extra), "\"bootstrap.servers\":\"%s\"", bootstrap);
    /* the topics, made by a task of the Kafka daemon that never sees a record */
    h_create_task(&kafka, "t1", "\"sml.kstream.dlq.topic\":\"out-t1.dlq\"");
    h_start_task(&kafka, "t1");
    h_response_t r = h_req(&kafka, "GET", BASE "/tasks/t1/stop", NULL);
    h_response_free(&r);
    cr_assert(h_wait_status(&kafka, "t1", "status", "stopped", 30000));

    create_and_start(&h, "t1", extra);
    produce(&h, "t1");
    cr_assert(h_wait_number(&h, "t1", "restarts", 1, 60000), "no crash; see %s", h.log_path);
    cr_assert_eq(h_stop(&h, SIGTERM), 0);
    char path[512], text[8192] = "";
    snprintf(path, sizeof(path), "%s/state/tasks/c1/t1.task", h.dir);
    FILE *f = fopen(path, "r");
    cr_assert(f != NULL);
    size_t len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = '\0';
    cr_assert(strstr(text, "\"kills\": 1") != NULL && strstr(text, "\"quarantined\": []") != NULL,
              "the store does not hold the suspects of the first crash: %s", text);

    h_start(&h);
    expect_quarantined(&h, "t1", "predict", "worker killed by SIGSEGV while predicting this record",
                       2);
    expect_no_suspect_once_stopped(&h, "t1");
    h_teardown(&kafka);
}

Test(poison, with_tolerance_none_the_task_fails_naming_the_record)
{
    create_and_start(&h, "t1", "\"sml.kstream.errors.tolerance\":\"none\"");
    produce(&h, "t1");
    cr_assert(h_wait_status(&h, "t1", "status", "failed", 120000), "see %s", h.log_path);
    json_t *st = h_status(&h, "t1");
    const char *err = h_get(st, "lastError");
    cr_expect(strstr(err, "record in-t1[") != NULL && strstr(err, "]@") != NULL &&
                  strstr(err, "took down 2 workers (worker killed by SIGSEGV while predicting "
                              "this record); sml.kstream.errors.tolerance = none stops the "
                              "task") != NULL,
              "%s", err);
    cr_expect_str_eq(h_get(st, "recordsQuarantined"), "1");
    json_decref(st);
    /* started again as it is, it stops at the same record, without calling the predictor */
    h_response_t r = h_req(&h, "GET", BASE "/tasks/t1/start", NULL);
    h_response_free(&r);
    cr_assert(h_wait_status(&h, "t1", "status", "failed", 120000), "see %s", h.log_path);
    st = h_status(&h, "t1");
    err = h_get(st, "lastError");
    cr_expect(strstr(err, "failed at predict: worker killed by SIGSEGV while predicting this "
                          "record; sml.kstream.errors.tolerance = none stops the task") != NULL,
              "%s", err);
    cr_expect_str_eq(h_get(st, "restarts"), "0", "%s", err);
    json_decref(st);
}

/* A task of two workers, each with partitions of the source topic: the worker that holds
 * the bad record dies, and its partitions go to the other while it waits out a long restart
 * backoff (past the consumer's session.timeout.ms of 6 s). The survivor learns the suspect
 * records from the daemon ({"type":"poison"}, docs/worker-protocol.md): it handles them one
 * at a time, so the second death names the record and the next worker dead-letters it. A
 * survivor that did not know them would die on a batch once more: a third restart. */
Test(poison, with_two_workers_the_survivor_takes_the_suspects_with_the_partitions)
{
    h_teardown(&h);
    setup_with(&h, "task.restart_backoff_ms = 20000\n");
    create_and_start(&h, "t1", "\"sml.task.workers\":\"2\"");
    bool spread = false;
    for (int waited = 0; waited < 60000 && !spread; waited += 100) {
        json_t *st = h_status(&h, "t1");
        spread = atoi(h_get(st, "worker.0.assignedPartitions")) > 0 &&
                 atoi(h_get(st, "worker.1.assignedPartitions")) > 0 &&
                 atoi(h_get(st, "assignedPartitions")) == 4;
        json_decref(st);
        if (!spread)
            usleep(100000);
    }
    cr_assert(spread, "the two workers did not share the 4 partitions; see %s", h.log_path);
    produce(&h, "t1");
    /* quarantined at the second death; then both workers come back, after their backoff */
    cr_assert(h_wait_number(&h, "t1", "recordsQuarantined", 1, 120000),
              "nothing quarantined; see %s", h.log_path);
    cr_assert(h_wait_status(&h, "t1", "status", "running", 120000), "see %s", h.log_path);
    expect_quarantined(&h, "t1", "predict", "worker killed by SIGSEGV while predicting this record",
                       2);
    json_t *st = h_status(&h, "t1");
    cr_expect_str_eq(h_get(st, "workers"), "2");
    cr_expect_str_eq(h_get(st, "processIsAlive"), "true");
    cr_expect_str_eq(h_get(st, "worker.0.status"), "running");
    cr_expect_str_eq(h_get(st, "worker.1.status"), "running");
    /* each died once: the first with a batch, the survivor on the record alone */
    cr_expect_str_eq(h_get(st, "worker.0.restarts"), "1", "see %s", h.log_path);
    cr_expect_str_eq(h_get(st, "worker.1.restarts"), "1", "see %s", h.log_path);
    json_decref(st);
    expect_no_suspect_once_stopped(&h, "t1");
}
