/* test_formats.c: typed values and formats through running tasks: json in and csv out, csv
 * in and json out, a predictor that writes strings and one that reads whole records, and
 * plugins built against the frozen ABI 1.0 header, all with a real Kafka client. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kafka_util.h"

#define BASE "/symetry/rest/" H_CID1

static harness_t h;

static const char *env(const char *name)
{
    const char *v = getenv(name);
    cr_assert(v != NULL && v[0] != '\0', "%s is not set (meson test sets it)", name);
    return v;
}

/* The built-in plugins, echo (ABI 1.1), threshold and pairs (ABI 1.0) in one plugin dir. */
static void setup(void)
{
    const char *dirs[] = {env("SYMTASK_PLUGIN_DIR"), env("SYMTASK_TYPED_PLUGIN_DIR"),
                          env("SYMTASK_ABI10_PLUGIN_DIR"), NULL};
    h_setup_plugins(&h, dirs, NULL);
}

static void teardown(void)
{
    h_teardown(&h);
}

TestSuite(formats, .init = setup, .fini = teardown, .timeout = 240);

/* Task @tid (in-@tid to out-@tid) with the params @extra, predicting with the harness's
 * linear model unless @extra names a predictor. */
static void create_and_start(const char *tid, const char *extra)
{
    char json[4096];
    if (strstr(extra, "\"sml.predictor\"") == NULL)
        snprintf(json, sizeof(json),
                 "\"sml.predictor\":\"linear\",\"sml.predictor.model\":\"%s/model.json\",%s", h.dir,
                 extra);
    else
        snprintf(json, sizeof(json), "%s", extra);
    char *body = h_taskinfo_params(tid, json, H_SECRET1);
    h_response_t r = h_req(&h, "POST", BASE "/tasks/create", body);
    free(body);
    cr_assert_eq(r.status, 202, "%s", r.body);
    h_response_free(&r);
    h_start_task(&h, tid);
}

/* Produces @values (keys "0", "1", ...) to in-@tid and asserts that out-@tid holds @want[i]
 * for key i. */
static void expect_flow(const char *tid, const char *const *values, const char *const *want,
                        size_t n)
{
    char topic[64], *keys[16];
    cr_assert_leq(n, 16);
    for (size_t i = 0; i < n; i++)
        cr_assert(asprintf(&keys[i], "%zu", i) > 0);
    snprintf(topic, sizeof(topic), "in-%s", tid);
    kt_produce(&h, topic, n, (const char *const *)keys, values, NULL);
    kt_record_t out[16];
    snprintf(topic, sizeof(topic), "out-%s", tid);
    size_t got = kt_consume(&h, topic, n, out, 16, 30000);
    cr_assert_eq(got, n, "%zu of %zu records; see %s", got, n, h.log_path);
    for (size_t i = 0; i < got; i++) {
        size_t k = (size_t)atoi(out[i].key);
        cr_assert_lt(k, n);
        cr_expect_str_eq(out[i].value, want[k], "record %zu", k);
    }
    kt_records_free(out, got);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
}

Test(formats, json_in_csv_out)
{
    create_and_start("t1", "\"sml.serializer.out\":\"csv\"");
    const char *in[] = {"{\"id\":\"a,1\",\"x1\":1,\"x2\":2,\"tags\":[\"x\"]}",
                        "{\"x2\":0.25,\"x1\":-1,\"ok\":false}"};
    const char *want[] = {"\"a,1\",1,2,\"[\"\"x\"\"]\",9", "0.25,-1,false,-0.25"};
    expect_flow("t1", in, want, 2);
    json_t *st = h_status(&h, "t1");
    cr_expect_str_eq(h_get(st, "serializer"), "json");
    cr_expect_str_eq(h_get(st, "serializerOut"), "csv");
    json_decref(st);
    create_and_start("t2", "\"sml.serializer.out\":\"csv\",\"sml.serializer.out.columns\":"
                           "\"id,prediction,x1\",\"sml.serializer.out.delimiter\":\"\\t\"");
    const char *want2[] = {"a,1\t9\t1", "\t-0.25\t-1"};
    expect_flow("t2", in, want2, 2);
}

Test(formats, csv_in_json_out)
{
    create_and_start("t1", "\"sml.serializer\":\"csv\",\"sml.serializer.columns\":\"id,x1,x2,"
                           "note\",\"sml.serializer.out\":\"json\"");
    const char *in[] = {"7,1,2,\"hi, \"\"you\"\"\"\n", "c-8,0.5,1,"};
    const char *want[] = {
        "{\"id\":7,\"x1\":1,\"x2\":2,\"note\":\"hi, \\\"you\\\"\",\"prediction\":9}",
        "{\"id\":\"c-8\",\"x1\":0.5,\"x2\":1,\"note\":null,\"prediction\":5}"};
    expect_flow("t1", in, want, 2);
}

Test(formats, a_predictor_of_strings_and_one_of_whole_records)
{
    create_and_start("t1", "\"sml.predictor\":\"echo\",\"sml.predictor.features\":\"s:string,"
                           "b:bool,a:any\",\"sml.predictor.fail_on\":\"no\"");
    const char *in[] = {"{\"s\":\"caf\\u00e9, \\\"x\\\"\",\"b\":true,\"a\":{\"k\":1}}",
                        "{\"s\":\"no\"}", "{\"s\":null,\"a\":2}"};
    const char *want[] = {
        "{\"s\":\"caf\\u00e9, \\\"x\\\"\",\"b\":true,\"a\":{\"k\":1},"
        "\"s_out\":\"caf\xc3\xa9, \\\"x\\\"\",\"b_out\":true,\"a_kind\":\"nested\"}",
        NULL, "{\"s\":null,\"a\":2,\"s_out\":null,\"b_out\":null,\"a_kind\":\"number\"}"};
    char *keys[] = {"0", "1", "2"};
    kt_produce(&h, "in-t1", 3, (const char *const *)keys, in, NULL);
    kt_record_t out[3], dlq[1];
    size_t n = kt_consume(&h, "out-t1", 2, out, 3, 30000);
    size_t nd = kt_consume(&h, "out-t1.dlq", 1, dlq, 1, 30000);
    cr_assert_eq(n, 2, "see %s", h.log_path);
    cr_assert_eq(nd, 1, "see %s", h.log_path);
    for (size_t i = 0; i < n; i++)
        cr_expect_str_eq(out[i].value, want[atoi(out[i].key)]);
    cr_expect_str_eq(dlq[0].key, "1");
    cr_expect_str_eq(kt_header(&dlq[0], "symtask.stage"), "predict");
    cr_expect_str_eq(kt_header(&dlq[0], "symtask.error"), "echo: refused 'no'");
    kt_records_free(out, n);
    kt_records_free(dlq, nd);

    create_and_start("t2", "\"sml.predictor\":\"echo\",\"sml.predictor.whole\":\"true\","
                           "\"sml.serializer.out\":\"csv\"");
    const char *in2[] = {"{\"a\":1,\"b\":\"x y\",\"c\":null}"};
    const char *want2[] = {"1,x y,,1,x y,"};
    expect_flow("t2", in2, want2, 1);
}

Test(formats, plugins_of_abi_1_0_run_unchanged)
{
    /* the tutorial plugin as ABI 1.0 had it, and a serializer of 1.0 */
    create_and_start("t1", "\"sml.predictor\":\"threshold\",\"sml.predictor.feature\":\"x1\","
                           "\"sml.predictor.threshold\":\"2\"");
    const char *in[] = {"{\"id\":1,\"x1\":3}", "{\"id\":2,\"x1\":0.1}"};
    const char *want[] = {"{\"id\":1,\"x1\":3,\"prediction\":1,\"margin\":1}",
                          "{\"id\":2,\"x1\":0.1,\"prediction\":0,\"margin\":-1.9}"};
    expect_flow("t1", in, want, 2);
    create_and_start("t2", "\"sml.serializer\":\"pairs\"");
    const char *in2[] = {"x1=1;x2=2", "x2=0.5;x1=0"};
    const char *want2[] = {"x1=1;x2=2;prediction=9", "x2=0.5;x1=0;prediction=2.5"};
    expect_flow("t2", in2, want2, 2);
    cr_assert(h_log_contains(&h, "pairs -> linear -> pairs: 2 features (numbers), 1 output "
                                 "(numbers)"),
              "see %s", h.log_path);
}

/* ---- Passing failures --------------------------------------------------------------------- */

static bool file_set(const char *path, bool on)
{
    if (!on)
        return unlink(path) == 0;
    FILE *f = fopen(path, "w");
    return f != NULL && fclose(f) == 0;
}

/* A plugin that answers RETRIABLE (its server cannot be reached) holds the records: the same
 * worker calls it again with backoff, the status and /metrics say so, and once it answers
 * every record comes out, none in the dead letters. @stage names the plugin. */
static void expect_outage_survived(const char *tid, const char *params, const char *down,
                                   const char *stage)
{
    enum { N = 20 };
    cr_assert(file_set(down, true));
    create_and_start(tid, params);
    char *values[N], *keys[N], topic[64];
    for (int i = 0; i < N; i++) {
        cr_assert(asprintf(&values[i],
                           strstr(params, "\"sml.serializer\":\"outage\"") ? "%d"
                                                                           : "{\"x1\":%d,\"x2\":0}",
                           i) > 0);
        cr_assert(asprintf(&keys[i], "%d", i) > 0);
    }
    snprintf(topic, sizeof(topic), "in-%s", tid);
    kt_produce(&h, topic, N, (const char *const *)keys, (const char *const *)values, NULL);
    cr_assert(h_wait_number(&h, tid, "retries", 3, 30000), "no retries; see %s", h.log_path);
    json_t *st = h_status(&h, tid);
    cr_expect_str_eq(h_get(st, "status"), "running");
    cr_expect_str_eq(h_get(st, "retrying"), "1");
    cr_expect_str_eq(h_get(st, "recordsOut"), "0");
    cr_expect(strstr(h_get(st, "lastError"), stage) != NULL &&
                  strstr(h_get(st, "lastError"), "trying again; the records wait") != NULL,
              "%s", h_get(st, "lastError"));
    cr_expect_str_eq(h_get(st, "restarts"), "0");
    json_decref(st);
    h_response_t r = h_raw(&h, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
    char want[128];
    snprintf(want, sizeof(want), "symtask_plugin_retrying{customer=\"c1\",task=\"%s\"} 1", tid);
    cr_expect(strstr(r.body, want) != NULL, "%s", r.body);
    h_response_free(&r);

    cr_assert(file_set(down, false));
    cr_assert(h_wait_number(&h, tid, "recordsOut", N, 30000), "see %s", h.log_path);
    kt_record_t out[2 * N], dlq[1];
    snprintf(topic, sizeof(topic), "out-%s", tid);
    size_t n = kt_consume(&h, topic, N, out, 2 * N, 30000);
    cr_expect_eq(n, N, "%zu outputs", n);
    snprintf(topic, sizeof(topic), "out-%s.dlq", tid);
    cr_expect_eq(kt_consume(&h, topic, 1, dlq, 1, 2000), 0, "a record was dead-lettered");
    kt_records_free(out, n);
    st = h_status(&h, tid);
    cr_expect_str_eq(h_get(st, "retrying"), "0");
    cr_expect_str_eq(h_get(st, "restarts"), "0");
    cr_expect_str_eq(h_get(st, "recordsFailed"), "0");
    json_decref(st);
    cr_expect(h_log_contains(&h, "answers again, after"), "see %s", h.log_path);
    for (int i = 0; i < N; i++) {
        free(values[i]);
        free(keys[i]);
    }
}

Test(formats, a_predictor_that_cannot_reach_its_server_holds_the_records)
{
    char down[400], params[600];
    snprintf(down, sizeof(down), "%s/predictor-down", h.dir);
    snprintf(params, sizeof(params),
             "\"sml.predictor\":\"echo\",\"sml.predictor.features\":\"x1:number\","
             "\"sml.predictor.outage\":\"%s\"",
             down);
    expect_outage_survived("t1", params, down, "sml.predictor: echo: the model server is down");
}

Test(formats, a_serializer_that_cannot_reach_its_registry_holds_the_records)
{
    char down[400], params[600];
    snprintf(down, sizeof(down), "%s/decode-down", h.dir);
    snprintf(params, sizeof(params),
             "\"sml.serializer\":\"outage\",\"sml.serializer.down\":\"%s\","
             "\"sml.predictor\":\"echo\",\"sml.predictor.features\":\"x:number\"",
             down);
    expect_outage_survived("t1", params, down, "sml.serializer: outage: the registry is down");
    snprintf(down, sizeof(down), "%s/encode-down", h.dir);
    snprintf(params, sizeof(params),
             "\"sml.serializer\":\"outage\",\"sml.serializer.down\":\"%s\","
             "\"sml.serializer.when\":\"encode\",\"sml.predictor\":\"echo\","
             "\"sml.predictor.features\":\"x:number\"",
             down);
    expect_outage_survived("t2", params, down, "sml.serializer.out: outage: the registry is down");
}
