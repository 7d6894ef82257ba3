/* test_model_servers.c: tasks that predict through a model server (the symetryml and oip
 * plugins) in the real daemon and workers, against the test model server in this process:
 * the original's sml.kstream.rest params, no record lost or duplicated across a 10 s
 * outage, the check at create, refused credentials, and the secret kept out of the log and
 * the status. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../unit/common/sign_vectors.h"
#include "harness.h"
#include "kafka_util.h"
#include "model_server.h"

#define BASE "/symetry/rest/" H_CID1

static harness_t h;
static ms_t *ms;

static void setup(void)
{
    h_setup(&h, NULL);
    /* The SymetryML server's own customers: c1 and c2 of sign_vectors.h. */
    char path[400];
    snprintf(path, sizeof(path), "%s/sml-customers", h.dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0);
    static const char lines[] = "c1:" SECRET_C1 "\nc2:" SECRET_C2 "\n";
    cr_assert_eq(write(fd, lines, sizeof(lines) - 1), (ssize_t)(sizeof(lines) - 1));
    close(fd);
    ms_config_t cfg = {.customers = path};
    ms = ms_start(&cfg);
    cr_assert_not_null(ms);
}

static void teardown(void)
{
    ms_stop(ms);
    ms = NULL;
    h_teardown(&h);
}

TestSuite(model_servers, .init = setup, .fini = teardown, .timeout = 240);

/* The original application's REST params for the test server, with @secret. */
static void rest_params(char *out, size_t size, const char *secret, const char *more)
{
    snprintf(out, size,
             "\"sml.kstream.rest\":\"true\",\"sml.kstream.rest.host\":\"%s\","
             "\"sml.kstream.rest.user\":\"c1\",\"sml.kstream.rest.secret\":\"%s\","
             "\"sml.kstream.project.id\":\"p1\",\"sml.kstream.model.id\":\"m1\"%s",
             ms_url(ms), secret, more);
}

static h_response_t create(const char *tid, const char *params)
{
    char *body = h_taskinfo_params(tid, params, H_SECRET1);
    h_response_t r = h_req(&h, "POST", BASE "/tasks/create", body);
    free(body);
    return r;
}

static void produce_range(const char *tid, int from, int to)
{
    char topic[64], *keys[256], *values[256];
    cr_assert_leq(to - from, 256);
    for (int i = from; i < to; i++) {
        cr_assert(asprintf(&keys[i - from], "%d", i) > 0);
        cr_assert(asprintf(&values[i - from], "{\"x\":%d,\"plan\":\"p%d\"}", i, i % 3) > 0);
    }
    snprintf(topic, sizeof(topic), "in-%s", tid);
    kt_produce(&h, topic, (size_t)(to - from), (const char *const *)keys,
               (const char *const *)values, NULL);
    for (int i = 0; i < to - from; i++) {
        free(keys[i]);
        free(values[i]);
    }
}

static void expect_secret_hidden(const char *tid, const char *secret)
{
    cr_expect(!h_log_contains(&h, secret), "the secret is in %s", h.log_path);
    json_t *st = h_status(&h, tid);
    char *text = json_dumps(st, 0);
    cr_expect(strstr(text, secret) == NULL, "the secret is in the status: %s", text);
    free(text);
    json_decref(st);
}

Test(model_servers, no_record_lost_or_duplicated_across_a_10s_outage)
{
    enum { N = 200 };
    char params[2048];
    rest_params(params, sizeof(params), SECRET_C1, "");
    h_response_t r = create("t1", params);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    h_start_task(&h, "t1");
    json_t *st = h_status(&h, "t1");
    cr_expect_str_eq(h_get(st, "predictor"), "symetryml", "sml.kstream.rest = true");
    json_decref(st);

    produce_range("t1", 0, N / 2);
    cr_assert(h_wait_number(&h, "t1", "recordsOut", N / 2, 30000), "see %s", h.log_path);
    ms_down(ms);
    struct timespec down, now;
    clock_gettime(CLOCK_MONOTONIC, &down);
    produce_range("t1", N / 2, N);
    cr_assert(h_wait_number(&h, "t1", "retries", 3, 30000), "no retries; see %s", h.log_path);
    st = h_status(&h, "t1");
    cr_expect_str_eq(h_get(st, "retrying"), "1");
    char want[256];
    snprintf(want, sizeof(want), "model server %s unreachable", ms_url(ms));
    cr_expect(strstr(h_get(st, "lastError"), want) != NULL &&
                  strstr(h_get(st, "lastError"), "trying again; the records wait") != NULL,
              "%s", h_get(st, "lastError"));
    json_decref(st);
    r = h_raw(&h, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
    cr_expect(strstr(r.body, "symtask_plugin_retrying{customer=\"c1\",task=\"t1\"} 1") != NULL,
              "%s", r.body);
    h_response_free(&r);
    /* Away for 10 s in all. */
    do {
        usleep(100000);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - down.tv_sec) * 1000 + (now.tv_nsec - down.tv_nsec) / 1000000 < 10000);
    cr_assert_eq(ms_up(ms), 0);
    cr_assert(h_wait_number(&h, "t1", "recordsOut", N, 60000), "see %s", h.log_path);

    /* Every record once, each with its prediction. */
    kt_record_t out[2 * N], dlq[1];
    size_t n = kt_consume_all(&h, "out-t1", out, 2 * N, 3000, 60000);
    cr_expect_eq(n, N, "%zu records in the sink for %d", n, N);
    static bool seen[N];
    for (size_t i = 0; i < n && i < 2 * N; i++) {
        int k = atoi(out[i].key);
        cr_assert(k >= 0 && k < N, "key %s", out[i].key);
        cr_expect(!seen[k], "record %d twice", k);
        seen[k] = true;
        char v[256];
        snprintf(v, sizeof(v),
                 "{\"x\":%d,\"plan\":\"p%d\",\"res\":%d,\"n\":2,\"positive\":%s,\"label\":\"p%d\","
                 "\"trues\":0,\"impute\":false}",
                 k, k % 3, k, k > 0 ? "true" : "false", k % 3);
        cr_expect_str_eq(out[i].value, v);
    }
    kt_records_free(out, n);
    cr_expect_eq(kt_consume(&h, "out-t1.dlq", 1, dlq, 1, 2000), 0, "a record was dead-lettered");
    st = h_status(&h, "t1");
    cr_expect_str_eq(h_get(st, "retrying"), "0");
    cr_expect_str_eq(h_get(st, "restarts"), "0");
    json_decref(st);
    cr_expect_eq(ms_stats(ms).bad_signatures, 0, "%s", ms_stats(ms).last_error);
    expect_secret_hidden("t1", SECRET_C1);
}

Test(model_servers, the_check_at_create)
{
    char params[2048], want[512];
    /* The model server away: 400, unless the task asks not to check. */
    ms_down(ms);
    rest_params(params, sizeof(params), SECRET_C1, "");
    h_response_t r = create("t2", params);
    cr_expect_eq(r.status, 400, "%s", r.body);
    snprintf(want, sizeof(want), "params.sml.kstream.rest.host: model server %s unreachable",
             ms_url(ms));
    cr_expect(strstr(r.body, want) != NULL, "%s", r.body);
    h_response_free(&r);
    rest_params(params, sizeof(params), SECRET_C1, ",\"sml.predictor.check\":\"false\"");
    r = create("t2", params);
    cr_expect_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    cr_assert_eq(ms_up(ms), 0);

    /* A wrong secret: the server's signature check refuses it, and the message names the
     * host, never the secret. */
    rest_params(params, sizeof(params), SECRET_C2, "");
    r = create("t3", params);
    cr_expect_eq(r.status, 400, "%s", r.body);
    snprintf(want, sizeof(want),
             "params.sml.kstream.rest.user: model server %s refuses the credentials (HTTP 401: "
             "Invalid Signature)",
             ms_url(ms));
    cr_expect(strstr(r.body, want) != NULL, "%s", r.body);
    cr_expect(strstr(r.body, SECRET_C2) == NULL, "%s", r.body);
    h_response_free(&r);

    /* Both ways of naming the predictor, but two predictors. */
    rest_params(params, sizeof(params), SECRET_C1, ",\"sml.predictor\":\"linear\"");
    r = create("t4", params);
    cr_expect_eq(r.status, 400, "%s", r.body);
    cr_expect(strstr(r.body, "params.sml.kstream.rest: true predicts through a SymetryML server") !=
                  NULL,
              "%s", r.body);
    h_response_free(&r);
    cr_expect(!h_log_contains(&h, SECRET_C2), "the secret is in %s", h.log_path);
}

Test(model_servers, refused_credentials_fail_the_task)
{
    char params[2048];
    rest_params(params, sizeof(params), SECRET_C2, ",\"sml.predictor.check\":\"false\"");
    h_response_t r = create("t5", params);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    h_start_task(&h, "t5");
    produce_range("t5", 0, 3);
    cr_assert(h_wait_status(&h, "t5", "status", "failed", 30000), "see %s", h.log_path);
    json_t *st = h_status(&h, "t5");
    char want[256];
    snprintf(want, sizeof(want), "model server %s refuses the credentials", ms_url(ms));
    cr_expect(strstr(h_get(st, "lastError"), want) != NULL, "%s", h_get(st, "lastError"));
    json_decref(st);
    expect_secret_hidden("t5", SECRET_C2);
}

Test(model_servers, an_oip_task)
{
    char params[1024];
    snprintf(params, sizeof(params),
             "\"sml.predictor\":\"oip\",\"sml.predictor.url\":\"%s\","
             "\"sml.predictor.model.name\":\"matrix\",\"sml.predictor.input.layout\":\"matrix\","
             "\"sml.predictor.features\":\"a,b,c\",\"sml.predictor.outputs\":\"total\"",
             ms_url(ms));
    h_response_t r = create("t6", params);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    h_start_task(&h, "t6");
    const char *keys[] = {"k0", "k1"};
    const char *values[] = {"{\"a\":1,\"b\":2,\"c\":3.5}", "{\"a\":\"x\",\"b\":2,\"c\":3}"};
    kt_produce(&h, "in-t6", 2, keys, values, NULL);
    kt_record_t out[2], dlq[2];
    size_t n = kt_consume(&h, "out-t6", 1, out, 2, 30000);
    cr_assert_eq(n, 1, "see %s", h.log_path);
    cr_expect_str_eq(out[0].value, "{\"a\":1,\"b\":2,\"c\":3.5,\"total\":6.5}");
    kt_records_free(out, n);
    n = kt_consume(&h, "out-t6.dlq", 1, dlq, 2, 30000);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(kt_header(&dlq[0], "symtask.error"),
                     "feature 'a' is a string, not a number (input FP64)");
    kt_records_free(dlq, n);
}
