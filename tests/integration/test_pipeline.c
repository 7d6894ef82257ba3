/* test_pipeline.c: records produced with a real Kafka client flow through a task and come
 * out with their predictions, bad ones in the dead-letter topic; nothing is lost when a
 * worker is killed; the memory limit holds. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
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

static harness_t h;

static void setup(void)
{
    h_setup(&h, NULL);
}

static void teardown(void)
{
    h_teardown(&h);
}

TestSuite(pipeline, .init = setup, .fini = teardown, .timeout = 240);

static h_response_t create(const char *tid, const char *extra)
{
    char *body = h_taskinfo(tid, extra, H_SECRET1);
    h_response_t r = h_req(&h, "POST", BASE "/tasks/create", body);
    free(body);
    return r;
}

static void create_and_start(const char *tid, const char *extra)
{
    h_create_task(&h, tid, extra);
    h_start_task(&h, tid);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Test(pipeline, every_record_comes_out_with_its_prediction)
{
    create_and_start("t1", NULL);
    enum { N = 200 };
    char *values[N], *keys[N];
    for (int i = 0; i < N; i++) {
        cr_assert(asprintf(&values[i], "{\"id\":%d,\"x1\":%d,\"x2\":0.5,\"note\":\"caf\\u00e9\"}",
                           i, i) > 0);
        cr_assert(asprintf(&keys[i], "k%d", i) > 0);
    }
    /* stamped an hour ago, record i at T0 + i ms */
    const long long T0 = (long long)time(NULL) * 1000 - 3600000;
    kt_produce_at(&h, "in-t1", N, (const char *const *)keys, (const char *const *)values,
                  "trace=abc", T0);

    kt_record_t out[N];
    size_t n = kt_consume(&h, "out-t1", N, out, N, 30000);
    cr_assert_eq(n, N, "%zu of %d predictions; see %s", n, N, h.log_path);
    int seen[N] = {0};
    for (size_t i = 0; i < n; i++) {
        int id = atoi(out[i].key + 1);
        cr_assert(id >= 0 && id < N);
        seen[id]++;
        /* prediction = 1 + 2*x1 + 3*0.5, appended to the original bytes */
        char expect[256];
        double prediction = 1 + 2.0 * id + 1.5;
        char number[64];
        snprintf(number, sizeof(number), "%.17g", prediction);
        if (prediction == (long long)prediction)
            snprintf(number, sizeof(number), "%lld", (long long)prediction);
        else
            snprintf(number, sizeof(number), "%.1f", prediction);
        snprintf(expect, sizeof(expect),
                 "{\"id\":%d,\"x1\":%d,\"x2\":0.5,\"note\":\"caf\\u00e9\",\"prediction\":%s}", id,
                 id, number);
        cr_assert_str_eq(out[i].value, expect);
        cr_assert_str_eq(kt_header(&out[i], "trace"), "abc");
        /* the source record's timestamp, as Kafka Streams gives it */
        cr_assert_eq(out[i].timestamp, T0 + id, "record %d", id);
    }
    for (int i = 0; i < N; i++)
        cr_assert_eq(seen[i], 1, "record %d seen %d times", i, seen[i]);
    kt_records_free(out, n);

    /* the counters reach the status within a heartbeat or two */
    cr_assert(h_wait_status(&h, "t1", "recordsOut", "200", 5000));
    json_t *st = h_status(&h, "t1");
    cr_assert_str_eq(h_get(st, "recordsIn"), "200");
    cr_assert_str_eq(h_get(st, "recordsFailed"), "0");
    cr_assert_neq(h_get(st, "lastRecordDateTime")[0], '\0');
    json_decref(st);
    for (int i = 0; i < N; i++) {
        free(values[i]);
        free(keys[i]);
    }
}

Test(pipeline, bad_records_go_to_the_dead_letter_topic_and_the_rest_flows)
{
    create_and_start("t1", NULL);
    const char *values[] = {
        "{\"x1\":1,\"x2\":1}",       /* good: 6 */
        "not json",                  /* decode */
        "{\"x1\":\"one\",\"x2\":1}", /* decode: not a number */
        "{\"x2\":1}",                /* predict: x1 missing */
        "{\"x1\":2,\"x2\":0}",       /* good: 5 */
    };
    const char *keys[] = {"a", "b", "c", "d", "e"};
    /* stamped an hour ago: the outputs keep that, the dead letters are stamped when written */
    const long long now = (long long)time(NULL) * 1000, T0 = now - 3600000;
    kt_produce_at(&h, "in-t1", 5, keys, values, NULL, T0);

    kt_record_t out[5], dlq[5];
    size_t n = kt_consume(&h, "out-t1", 2, out, 5, 30000);
    size_t nd = kt_consume(&h, "out-t1.dlq", 3, dlq, 5, 30000);
    cr_assert_eq(n, 2);
    cr_assert_eq(nd, 3);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(out[i].key, "a") == 0) {
            cr_assert_str_eq(out[i].value, "{\"x1\":1,\"x2\":1,\"prediction\":6}");
            cr_assert_eq(out[i].timestamp, T0);
        } else {
            cr_assert_str_eq(out[i].value, "{\"x1\":2,\"x2\":0,\"prediction\":5}");
            cr_assert_eq(out[i].timestamp, T0 + 4);
        }
    }
    for (size_t i = 0; i < nd; i++) {
        const kt_record_t *r = &dlq[i];
        cr_assert_str_eq(kt_header(r, "symtask.task"), "c1/t1");
        cr_assert_str_eq(kt_header(r, "symtask.source.topic"), "in-t1");
        cr_assert_not_null(kt_header(r, "symtask.source.partition"));
        cr_assert_not_null(kt_header(r, "symtask.source.offset"));
        cr_assert_geq(r->timestamp, now - 1000, "a dead letter is stamped when written");
        const char *stage = kt_header(r, "symtask.stage");
        cr_assert_not_null(stage);
        char stage_copy[32];
        snprintf(stage_copy, sizeof(stage_copy), "%s", stage);
        const char *error = kt_header(r, "symtask.error");
        cr_assert_not_null(error);
        if (strcmp(r->key, "b") == 0) {
            cr_assert_str_eq(r->value, "not json");
            cr_assert_str_eq(stage_copy, "decode");
        } else if (strcmp(r->key, "c") == 0) {
            cr_assert_str_eq(stage_copy, "decode");
            cr_assert(strstr(error, "x1") != NULL, "%s", error);
        } else {
            cr_assert_str_eq(r->key, "d");
            cr_assert_str_eq(stage_copy, "predict");
            cr_assert(strstr(error, "x1") != NULL && strstr(error, "missing") != NULL, "%s", error);
        }
    }
    kt_records_free(out, n);
    kt_records_free(dlq, nd);
    cr_assert(h_wait_status(&h, "t1", "recordsFailed", "3", 5000));
}

Test(pipeline, with_tolerance_none_a_bad_record_fails_the_task)
{
    create_and_start("t1", "\"sml.kstream.errors.tolerance\":\"none\","
                           "\"kafka.producer.partitioner\":\"murmur2\"");
    const char *values[] = {"{\"x1\":1,\"x2\":1}", "{broken"};
    const char *keys[] = {"same", "same"}; /* one partition: the good one is handled first */
    kt_produce(&h, "in-t1", 2, keys, values, NULL);
    cr_assert(h_wait_status(&h, "t1", "status", "failed", 20000), "see %s", h.log_path);
    json_t *st = h_status(&h, "t1");
    const char *err = h_get(st, "lastError");
    cr_assert(strstr(err, "in-t1[") != NULL && strstr(err, "]@1") != NULL, "%s", err);
    cr_assert(strstr(err, "sml.kstream.errors.tolerance = none") != NULL, "%s", err);
    json_decref(st);
    kt_record_t out[2];
    size_t n = kt_consume(&h, "out-t1", 1, out, 2, 15000);
    cr_assert_eq(n, 1);
    kt_records_free(out, n);
}

Test(pipeline, csv_in_csv_out)
{
    create_and_start("t1", "\"sml.serializer\":\"csv\",\"sml.serializer.columns\":\"id,x1,x2\"");
    const char *values[] = {"7,1,2\n", "8,\"3\",0"};
    kt_produce(&h, "in-t1", 2, NULL, values, NULL);
    kt_record_t out[2];
    size_t n = kt_consume(&h, "out-t1", 2, out, 2, 30000);
    cr_assert_eq(n, 2, "see %s", h.log_path);
    for (size_t i = 0; i < n; i++) {
        if (out[i].value[0] == '7')
            cr_assert_str_eq(out[i].value, "7,1,2,9");
        else
            cr_assert_str_eq(out[i].value, "8,\"3\",0,7");
    }
    kt_records_free(out, n);
}

Test(pipeline, unknown_plugins_and_bad_plugin_params_are_refused_at_create)
{
    h_response_t r = create("t1", "\"sml.serializer\":\"nope\"");
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(r.body, "nope") != NULL, "%s", r.body);
    h_response_free(&r);
    r = create("t1", "\"sml.predictor.missing\":\"maybe\"");
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(r.body, "sml.predictor.missing") != NULL, "%s", r.body);
    h_response_free(&r);
    r = create("t1", "\"sml.predictor.frobnicate\":\"1\"");
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(r.body, "sml.predictor.frobnicate") != NULL, "%s", r.body);
    h_response_free(&r);
    r = create("t1", "\"sml.serializer\":\"csv\",\"sml.serializer.columns\":\"a,b\"");
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(r.body, "x1") != NULL, "%s", r.body);
    h_response_free(&r);
    r = create("t1", "\"sml.serializer.out\":\"nope\"");
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(r.body, "params.sml.serializer.out: no serializer plugin 'nope'") != NULL,
              "%s", r.body);
    h_response_free(&r);
    r = create("t1", "\"sml.serializer.out\":\"csv\",\"sml.serializer.out.columns\":\"a,,b\"");
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(r.body, "params.sml.serializer.out.columns: 'a,,b' has an empty item") != NULL,
              "%s", r.body);
    h_response_free(&r);
    r = h_req(&h, "GET", BASE "/tasks", NULL);
    cr_assert(strstr(r.body, "\"values\":[]") != NULL, "nothing may be stored: %s", r.body);
    h_response_free(&r);
}

enum { KILL_N = 100000 };

/* Waits until the task's current worker has written a record; returns its pid. */
static pid_t wait_for_output(int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        json_t *st = h_status(&h, "t1");
        pid_t pid = (pid_t)atoi(h_get(st, "pid"));
        bool flowing =
            strcmp(h_get(st, "status"), "running") == 0 && atoi(h_get(st, "recordsOut")) > 0;
        json_decref(st);
        if (flowing)
            return pid;
        usleep(20000);
    }
    return 0;
}

Test(pipeline, a_sigkilled_worker_loses_no_record, .timeout = 300)
{
    create_and_start("t1", "\"sml.kstream.record.poll.max\":\"200\"");
    pthread_t producer;
    kt_many_t many = {&h, "in-t1", KILL_N};
    pthread_create(&producer, NULL, kt_produce_many, &many);

    pid_t pid = wait_for_output(30000);
    cr_assert(pid > 0, "no output before the kill; see %s", h.log_path);
    kill(pid, SIGKILL);
    int64_t killed = now_ms();
    cr_assert(h_wait_status(&h, "t1", "restarts", "1", 10000));
    pthread_join(producer, NULL);
    /* records produced after the restart show when predictions flow again, even if the
     * killed worker had already handled everything before */
    const char *late[] = {"{\"id\":-1,\"x1\":1,\"x2\":1}"};
    const char *late_key[] = {"late"};
    kt_produce(&h, "in-t1", 1, late_key, late, NULL);
    pid_t again = wait_for_output(60000);
    int64_t recovered = now_ms();
    cr_assert(again > 0 && again != pid, "predictions did not flow again; see %s", h.log_path);

    kt_record_t *out = calloc(KILL_N * 2, sizeof(*out));
    /* every output, duplicates included: read until the topic stays quiet */
    size_t n = kt_consume_all(&h, "out-t1", out, KILL_N * 2, 5000, 180000);
    char *seen = calloc(KILL_N, 1);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(out[i].key, "late") == 0)
            continue;
        int id = atoi(out[i].key);
        if (!seen[id])
            distinct++;
        seen[id] = 1;
    }
    /* at-least-once: every record is there, duplicates allowed */
    cr_assert_eq(distinct, KILL_N, "%zu of %d records came out; see %s", distinct, KILL_N,
                 h.log_path);
    fprintf(stderr,
            "SIGKILL recovery: predictions flow again %lld ms after the kill (heartbeat "
            "granularity 1 s); %zu outputs for %d records\n",
            (long long)(recovered - killed), n, KILL_N);
    kt_records_free(out, n);
    free(out);
    free(seen);
}

Test(pipeline, the_memory_limit_ends_the_worker)
{
    create_and_start("t1", "\"sml.task.heap.max\":\"64m\"");
    char path[400];
    snprintf(path, sizeof(path), BASE "/tasks/t1/stop");
    h_response_t r = h_req(&h, "GET", path, NULL);
    h_response_free(&r);
    cr_assert(h_wait_status(&h, "t1", "status", "stopped", 10000));

    /* the model grows past the limit while the task is stopped */
    char model[400];
    snprintf(model, sizeof(model), "%s/model.json", h.dir);
    FILE *f = fopen(model, "w");
    cr_assert_not_null(f);
    enum { FEATURES = 1000000 };
    fputs("{\"kind\":\"linear\",\"features\":[", f);
    for (int i = 0; i < FEATURES; i++)
        fprintf(f, "%s\"feature%d\"", i ? "," : "", i);
    fputs("],\"weights\":[", f);
    for (int i = 0; i < FEATURES; i++)
        fprintf(f, "%s0.5", i ? "," : "");
    fputs("],\"intercept\":0}", f);
    fclose(f);

    r = h_req(&h, "GET", BASE "/tasks/t1/start", NULL);
    h_response_free(&r);
    /* lastError says so until something newer replaces it (a restarted worker reports
     * Kafka's state too): look at it, and at the daemon's log, which keeps every line */
    bool hit = false;
    for (int i = 0; i < 1200 && !hit; i++) {
        json_t *st = h_status(&h, "t1");
        const char *err = h_get(st, "lastError");
        if (strstr(err, "memory limit") != NULL) {
            cr_assert(strstr(err, "sml.task.heap.max = 64m") != NULL, "%s", err);
            hit = true;
        }
        json_decref(st);
        hit = hit || h_log_contains(&h, "memory limit hit: the worker uses");
        usleep(100000);
    }
    cr_assert(hit, "the memory limit was not reported; see %s", h.log_path);
    cr_assert(h_log_contains(&h, "more than sml.task.heap.max = 64m"));
}

Test(pipeline, a_graceful_stop_commits_what_was_written)
{
    create_and_start("t1", NULL);
    enum { N = 50 };
    char *values[N];
    for (int i = 0; i < N; i++)
        cr_assert(asprintf(&values[i], "{\"id\":%d,\"x1\":1,\"x2\":1}", i) > 0);
    kt_produce(&h, "in-t1", N, NULL, (const char *const *)values, NULL);
    kt_record_t out[N + 1];
    size_t n = kt_consume(&h, "out-t1", N, out, N + 1, 30000);
    cr_assert_eq(n, N);
    kt_records_free(out, n);

    h_response_t r = h_req(&h, "GET", BASE "/tasks/t1/stop", NULL);
    h_response_free(&r);
    cr_assert(h_wait_status(&h, "t1", "status", "stopped", 15000));
    r = h_req(&h, "GET", BASE "/tasks/t1/start", NULL);
    h_response_free(&r);
    cr_assert(h_wait_status(&h, "t1", "status", "running", 20000));
    const char *last[] = {"{\"id\":-1,\"x1\":1,\"x2\":1}"};
    kt_produce(&h, "in-t1", 1, NULL, last, NULL);
    cr_assert(h_wait_status(&h, "t1", "recordsOut", "1", 20000), "see %s", h.log_path);
    /* the records before the stop were committed: the new worker handled only the new one */
    n = kt_consume(&h, "out-t1", N + 2, out, N + 1, 3000);
    cr_assert_eq(n, N + 1, "%zu outputs: the stop did not commit", n);
    kt_records_free(out, n);
    for (int i = 0; i < N; i++)
        free(values[i]);
}

Test(pipeline, a_batch_waits_for_poll_max_or_schedule_ms)
{
    /* a batch of 3 that may wait an hour: 2 records stay in it, the third completes it */
    create_and_start("t1", "\"sml.kstream.record.poll.max\":\"3\","
                           "\"sml.kstream.schedule.ms\":\"3600000\","
                           "\"kafka.producer.partitioner\":\"murmur2\"");
    const char *two[] = {"{\"x1\":1,\"x2\":1}", "{\"x1\":2,\"x2\":1}"};
    const char *keys[] = {"k", "k", "k"};
    kt_produce(&h, "in-t1", 2, keys, two, NULL);
    kt_record_t out[4];
    size_t n = kt_consume(&h, "out-t1", 1, out, 4, 5000);
    cr_assert_eq(n, 0, "a partial batch was handled before poll.max or schedule.ms");
    const char *third[] = {"{\"x1\":3,\"x2\":1}"};
    kt_produce(&h, "in-t1", 1, keys, third, NULL);
    n = kt_consume(&h, "out-t1", 3, out, 4, 20000);
    cr_assert_eq(n, 3, "the full batch did not come out");
    kt_records_free(out, n);
}

Test(pipeline, records_whose_output_is_not_delivered_are_read_again)
{
    /* the producer side cannot reach any broker: every output times out undelivered; the
     * worker never turns "running" (its producer never reaches Kafka) but consumes */
    h_response_t r = create("t1", "\"kafka.producer.bootstrap.servers\":\"127.0.0.1:1\","
                                  "\"kafka.producer.message.timeout.ms\":\"1500\"");
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    r = h_req(&h, "GET", BASE "/tasks/t1/start", NULL);
    h_response_free(&r);
    enum { N = 40 };
    char *values[N], *keys[N];
    for (int i = 0; i < N; i++) {
        cr_assert(asprintf(&values[i], "{\"x1\":%d,\"x2\":0}", i) > 0);
        cr_assert(asprintf(&keys[i], "%d", i) > 0);
    }
    kt_produce(&h, "in-t1", N, (const char *const *)keys, (const char *const *)values, NULL);
    bool crashed = false;
    for (int i = 0; i < 300 && !crashed; i++) {
        json_t *st = h_status(&h, "t1");
        crashed = strstr(h_get(st, "lastError"), "cannot write to topic") != NULL;
        json_decref(st);
        usleep(100000);
    }
    cr_assert(crashed, "no delivery failure reported; see %s", h.log_path);

    /* a working definition: every record must still be there to read */
    char *body = h_taskinfo("t1", NULL, H_SECRET1);
    r = h_req(&h, "POST", BASE "/tasks/create?force=true", body);
    free(body);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    r = h_req(&h, "GET", BASE "/tasks/t1/start", NULL);
    h_response_free(&r);
    kt_record_t out[2 * N];
    size_t n = kt_consume_all(&h, "out-t1", out, 2 * N, 8000, 60000);
    int seen[N] = {0};
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        int id = atoi(out[i].key);
        distinct += !seen[id];
        seen[id] = 1;
    }
    cr_assert_eq(distinct, N, "%zu of %d records came out: undelivered ones were committed",
                 distinct, N);
    kt_records_free(out, n);
    for (int i = 0; i < N; i++) {
        free(values[i]);
        free(keys[i]);
    }
}

Test(pipeline, cooperative_rebalancing_consumes)
{
    create_and_start("t1", "\"kafka.consumer.partition.assignment.strategy\":"
                           "\"cooperative-sticky\"");
    const char *values[] = {"{\"x1\":1,\"x2\":1}", "{\"x1\":2,\"x2\":2}"};
    kt_produce(&h, "in-t1", 2, NULL, values, NULL);
    kt_record_t out[2];
    size_t n = kt_consume(&h, "out-t1", 2, out, 2, 30000);
    cr_assert_eq(n, 2, "see %s", h.log_path);
    kt_records_free(out, n);
}

Test(pipeline, plugins_are_listed_with_their_options)
{
    h_response_t r = h_req(&h, "GET", BASE "/plugins", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *plugins = json_object_get(json_object_get(r.json, "values"), "plugins");
    cr_assert(json_array_size(plugins) >= 3, "%s", r.body);
    bool linear = false, json_ser = false, csv = false;
    size_t i;
    json_t *p;
    json_array_foreach (plugins, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        cr_assert_not_null(name, "%s", r.body);
        cr_assert_null(json_object_get(p, "error"), "%s", r.body);
        cr_assert_not_null(json_string_value(json_object_get(p, "version")));
        cr_assert_not_null(json_string_value(json_object_get(p, "description")));
        cr_assert_str_eq(json_string_value(json_object_get(p, "abi")), "1.1");
        if (strcmp(name, "linear") == 0) {
            linear = true;
            cr_assert_str_eq(json_string_value(json_object_get(p, "kind")), "predictor");
            bool model = false;
            size_t k;
            json_t *o;
            json_array_foreach (json_object_get(p, "options"), k, o) {
                if (strcmp(json_string_value(json_object_get(o, "name")), "sml.predictor.model") ==
                    0) {
                    model = true;
                    cr_assert_str_eq(json_string_value(json_object_get(o, "type")), "path");
                    cr_assert(strlen(json_string_value(json_object_get(o, "help"))) > 10);
                }
            }
            cr_assert(model, "linear lists no sml.predictor.model: %s", r.body);
        }
        json_ser |= strcmp(name, "json") == 0;
        csv |= strcmp(name, "csv") == 0;
    }
    cr_assert(linear && json_ser && csv, "%s", r.body);
    h_response_free(&r);

    r = h_raw(&h, "GET " BASE "/plugins HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
    cr_assert_eq(r.status, 400, "the listing needs a signature");
    h_response_free(&r);
}

/* The value of the sample @series (name and labels exactly) in a Prometheus text page, or -1. */
static double metric(const char *page, const char *series)
{
    size_t len = strlen(series);
    for (const char *line = page; line != NULL && *line != '\0';) {
        if (strncmp(line, series, len) == 0 && line[len] == ' ')
            return strtod(line + len + 1, NULL);
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return -1;
}

/* Every line of @page is a comment (# HELP / # TYPE) or "name{labels} value", each sample's
 * name has a TYPE, and histogram buckets only grow. */
static void check_prometheus_format(const char *page)
{
    char types[64][96];
    size_t n_types = 0;
    double last_bucket = -1;
    char line[1024];
    for (const char *p = page; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        cr_assert_not_null(nl, "the page does not end with a newline");
        snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
        p = nl + 1;
        if (strncmp(line, "# HELP ", 7) == 0)
            continue;
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[96], type[32];
            cr_assert_eq(sscanf(line + 7, "%95s %31s", name, type), 2, "%s", line);
            cr_assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                          strcmp(type, "histogram") == 0,
                      "%s", line);
            cr_assert(n_types < 64);
            snprintf(types[n_types++], sizeof(types[0]), "%s", name);
            last_bucket = -1;
            continue;
        }
        char *space = strrchr(line, ' ');
        cr_assert_not_null(space, "not a sample: %s", line);
        char *end;
        double v = strtod(space + 1, &end);
        cr_assert(*end == '\0' && end != space + 1, "not a number: %s", line);
        size_t name_len = strcspn(line, "{ ");
        bool typed = false;
        for (size_t i = 0; i < n_types && !typed; i++) {
            size_t tl = strlen(types[i]);
            typed = strncmp(line, types[i], tl) == 0 &&
                    (name_len == tl || (name_len > tl && line[tl] == '_'));
        }
        cr_assert(typed, "no # TYPE for %s", line);
        if (strstr(line, "_bucket{") != NULL) {
            if (strstr(line, "le=\"0.001\"") != NULL)
                last_bucket = -1;
            cr_assert(v >= last_bucket, "buckets must only grow: %s", line);
            last_bucket = v;
        }
    }
}

Test(pipeline, metrics_count_what_flows)
{
    create_and_start("t1", NULL);
    const char *values[] = {"{\"x1\":1,\"x2\":1}", "{\"x1\":2,\"x2\":1}", "bad", "{\"x1\":3}"};
    kt_produce(&h, "in-t1", 4, NULL, values, NULL);
    kt_record_t out[4];
    size_t n = kt_consume(&h, "out-t1", 2, out, 4, 30000);
    cr_assert_eq(n, 2);
    kt_records_free(out, n);
    cr_assert(h_wait_status(&h, "t1", "recordsDeadLetter", "2", 10000), "see %s", h.log_path);

    h_response_t r = h_raw(&h, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.headers, "text/plain") != NULL, "%s", r.headers);
    check_prometheus_format(r.body);
    const char *labels = "{customer=\"c1\",task=\"t1\"}";
    char series[256];
#define SERIES(name) (snprintf(series, sizeof(series), "%s%s", name, labels), series)
    cr_assert_eq(metric(r.body, SERIES("symtask_records_in_total")), 4, "%s", r.body);
    cr_assert_eq(metric(r.body, SERIES("symtask_records_out_total")), 2);
    cr_assert_eq(metric(r.body, SERIES("symtask_records_failed_total")), 2);
    cr_assert_eq(metric(r.body, SERIES("symtask_records_dead_letter_total")), 2);
    cr_assert_eq(metric(r.body, SERIES("symtask_consumer_lag")), 0);
    cr_assert_eq(metric(r.body, SERIES("symtask_assigned_partitions")), 4);
    cr_assert_eq(metric(r.body, SERIES("symtask_transactions_committed_total")), 0);
    cr_assert_eq(metric(r.body, SERIES("symtask_task_up")), 1);
    cr_assert_eq(metric(r.body, SERIES("symtask_worker_restarts_total")), 0);
    double batches = metric(r.body, SERIES("symtask_batch_latency_seconds_count"));
    cr_assert(batches >= 1, "%s", r.body);
    cr_assert_eq(metric(r.body, "symtask_batch_latency_seconds_bucket{customer=\"c1\",task=\"t1\","
                                "le=\"+Inf\"}"),
                 batches);
    cr_assert(metric(r.body, SERIES("symtask_batch_latency_seconds_sum")) > 0);
    cr_assert_eq(metric(r.body, "symtask_tasks_running"), 1);
    cr_assert_eq(metric(r.body, "symtask_tasks_max"), 4);
#undef SERIES
    h_response_free(&r);
}

/* API.md: model paths are secrets, never in logs or status. A model file that went away
 * after create fails the worker: its error reaches the status and the log with the path
 * replaced by the key. Only the client that sends a bad path at create reads it back. */
Test(pipeline, model_paths_stay_out_of_status_and_log)
{
    char model[512];
    snprintf(model, sizeof(model), "%s/model.json", h.dir);
    create_and_start("t1", NULL);
    h_response_t r = h_req(&h, "GET", BASE "/tasks/t1/stop", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    h_response_free(&r);
    cr_assert(h_wait_status(&h, "t1", "status", "stopped", 20000), "see %s", h.log_path);
    cr_assert_eq(unlink(model), 0);

    r = h_req(&h, "GET", BASE "/tasks/t1/start", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    h_response_free(&r);
    bool seen = false;
    for (int waited = 0; waited < 20000 && !seen; waited += 50) {
        json_t *st = h_status(&h, "t1");
        const char *err = h_get(st, "lastError");
        if (strstr(err, "<sml.predictor.model>") != NULL) {
            seen = true;
            cr_assert(strstr(err, model) == NULL, "the status shows the path: %s", err);
        }
        json_decref(st);
        if (!seen)
            usleep(50000);
    }
    cr_assert(seen, "no model error in the status; see %s", h.log_path);

    r = create("t2", NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(r.body, model) != NULL, "the creator is told which file: %s", r.body);
    h_response_free(&r);
    cr_assert(h_log_contains(&h, "<sml.predictor.model>"), "see %s", h.log_path);
    cr_assert(!h_log_contains(&h, model), "the daemon log shows the model path: %s", h.log_path);
}
