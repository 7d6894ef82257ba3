/* test_symetryml.c: the symetryml predictor through the worker's stages (json records in and
 * out, as a task runs them) against the test model server (tests/modelserver/), which checks
 * the signature of every request with symtaskd's own rules: DataFrames and their types, every
 * output value, the check at create, rows the server refuses, a server that predicts one row
 * per request, 5xx, 401, timeouts, a server that goes away and comes back, concurrency and
 * kept-alive connections. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../unit/common/sign_vectors.h"
#include "model_task.h"

const char *const mt_base_params =
    "{\"sml.predictor\":\"symetryml\",\"sml.kstream.rest.host\":\"%s\","
    "\"sml.kstream.rest.user\":\"c1\",\"sml.kstream.rest.secret\":\"" SECRET_C1 "\","
    "\"sml.kstream.project.id\":\"p1\",\"sml.kstream.model.id\":\"m1\"}";

TestSuite(symetryml, .init = mt_setup, .fini = mt_teardown, .timeout = 60);

/* ---- DataFrames and answers -------------------------------------------------------------- */

Test(symetryml, whole_records_become_one_dataframe_and_every_key_an_output)
{
    open_task("");
    cr_expect(strstr(stages_summary(st), "json -> symetryml -> json: whole records") != NULL, "%s",
              stages_summary(st));
    const char *records[] = {
        "{\"x1\":1.5,\"x2\":2,\"plan\":\"gold\",\"vip\":true}",
        "{\"x1\":-4,\"plan\":\"basic\",\"vip\":false,\"note\":null}",
    };
    run_ok(records, 2);
    /* One DataFrame of the columns of both (x1 x2 plan vip note): n is 5 for each. res is the
     * sum of the C columns, label the S ones, trues the B ones that are true. */
    expect_out(0, "{\"x1\":1.5,\"x2\":2,\"plan\":\"gold\",\"vip\":true,\"res\":3.5,\"n\":5,"
                  "\"positive\":true,\"label\":\"gold\",\"trues\":1,\"impute\":false}");
    expect_out(1, "{\"x1\":-4,\"plan\":\"basic\",\"vip\":false,\"note\":null,\"res\":-4,\"n\":5,"
                  "\"positive\":false,\"label\":\"basic\",\"trues\":0,\"impute\":false}");
    ms_stats_t s = ms_stats(ms);
    cr_expect_eq(s.requests, 1, "one batch, one request");
    cr_expect_eq(s.predictions, 2);
}

Test(symetryml, features_types_prefix_and_impute)
{
    /* x2 sent as a string: it joins the label and leaves the sum. */
    open_task("\"sml.predictor.features\":\"plan, x2,x1\",\"sml.predictor.types\":\"x2:S\","
              "\"sml.predictor.output.prefix\":\"sml_\",\"sml.predictor.impute\":\"true\"");
    const char *records[] = {"{\"x1\":0.25,\"x2\":7,\"plan\":\"gold\",\"other\":\"not sent\"}",
                             "{\"x2\":1e2,\"plan\":\"a \\\"b\\\"\"}"};
    run_ok(records, 2);
    expect_out(0, "{\"x1\":0.25,\"x2\":7,\"plan\":\"gold\",\"other\":\"not sent\",\"sml_res\":0.25,"
                  "\"sml_n\":3,\"sml_positive\":true,\"sml_label\":\"gold+7\",\"sml_trues\":0,"
                  "\"sml_impute\":true}");
    /* The number goes as the record spelt it; a missing x1 as an empty string. */
    expect_out(1, "{\"x2\":1e2,\"plan\":\"a \\\"b\\\"\",\"sml_res\":0,\"sml_n\":3,"
                  "\"sml_positive\":false,\"sml_label\":\"a \\\"b\\\"+1e2\",\"sml_trues\":0,"
                  "\"sml_impute\":true}");
}

Test(symetryml, third_party_models)
{
    open_task("\"sml.predictor.endpoint\":\"tmodels\",\"sml.kstream.model.id\":\"x1\"");
    const char *records[] = {"{\"a\":1,\"b\":2.5}"};
    run_ok(records, 1);
    expect_out(0, "{\"a\":1,\"b\":2.5,\"res\":7,\"kind\":\"tmodel\"}");
}

Test(symetryml, a_server_of_one_row_per_request_is_detected)
{
    ms_set_one_map(ms, 1);
    open_task("");
    const char *records[] = {"{\"x\":1}", "{\"x\":2}", "{\"x\":3}", "{\"x\":4}", "{\"x\":5}"};
    run_ok(records, 5);
    for (size_t i = 0; i < 5; i++) {
        char want[256];
        snprintf(want, sizeof(want),
                 "{\"x\":%zu,\"res\":%zu,\"n\":1,\"positive\":true,\"label\":\"\",\"trues\":0,"
                 "\"impute\":false}",
                 i + 1, i + 1);
        expect_out(i, want);
    }
    /* The DataFrame of 5, then one request a row; the next batch goes one by one at once. */
    cr_expect_eq(ms_stats(ms).requests, 6);
    run_ok(records, 3);
    cr_expect_eq(ms_stats(ms).requests, 9);
    cr_expect_eq(ms_stats(ms).max_rows, 5);
    expect_out(2, "{\"x\":3,\"res\":3,\"n\":1,\"positive\":true,\"label\":\"\",\"trues\":0,"
                  "\"impute\":false}");
}

Test(symetryml, a_row_the_server_refuses_goes_to_the_dead_letters_alone)
{
    open_task("");
    const char *records[] = {"{\"x\":1}", "{\"x\":666}", "{\"x\":3}"};
    run_ok(records, 3);
    expect_out(0, "{\"x\":1,\"res\":1,\"n\":1,\"positive\":true,\"label\":\"\",\"trues\":0,"
                  "\"impute\":false}");
    cr_assert_str_eq(results[1].stage, "predict");
    cr_expect_str_eq(results[1].error, "the SymetryML server refused this record (HTTP 400): "
                                       "row 0: attribute 'x' = 666 is refused by model m1");
    expect_out(2, "{\"x\":3,\"res\":3,\"n\":1,\"positive\":true,\"label\":\"\",\"trues\":0,"
                  "\"impute\":false}");
    /* The DataFrame of 3, refused, then each row alone. */
    cr_expect_eq(ms_stats(ms).requests, 4);
}

Test(symetryml, big_batches_are_cut_and_sent_at_once_on_kept_connections)
{
    ms_set_latency(ms, 50);
    open_task("\"sml.predictor.request.rows\":\"8\"");
    const char *records[40];
    char texts[40][32];
    for (size_t i = 0; i < 40; i++) {
        snprintf(texts[i], sizeof(texts[i]), "{\"i\":%zu}", i);
        records[i] = texts[i];
    }
    for (int batch = 0; batch < 3; batch++) {
        run_ok(records, 40);
        for (size_t i = 0; i < 40; i++) {
            char want[256];
            snprintf(want, sizeof(want),
                     "{\"i\":%zu,\"res\":%zu,\"n\":1,\"positive\":%s,\"label\":\"\",\"trues\":0,"
                     "\"impute\":false}",
                     i, i, i > 0 ? "true" : "false");
            expect_out(i, want);
        }
    }
    ms_stats_t s = ms_stats(ms);
    cr_expect_eq(s.requests, 15, "5 requests of 8 a batch");
    cr_expect_eq(s.max_rows, 8);
    /* Four at once (the default concurrency), on four connections kept for every batch. */
    cr_expect_eq(s.max_active, 4);
    cr_expect_leq(s.connections, 4);
}

/* ---- Failures ---------------------------------------------------------------------------- */

Test(symetryml, a_server_error_is_a_passing_failure)
{
    open_task("");
    const char *records[] = {"{\"x\":1}"};
    ms_fail(ms, 503, 1);
    cr_assert_eq(run(records, 1), SYMTASK_ERR_RETRIABLE);
    char want[256];
    snprintf(want, sizeof(want),
             "model server %s cannot answer now (HTTP 503: made to fail by the test)", ms_url(ms));
    cr_expect_str_eq(errstr, want);
    /* The worker calls again with the same batch: it goes through. */
    run_ok(records, 1);
    expect_out(0, "{\"x\":1,\"res\":1,\"n\":1,\"positive\":true,\"label\":\"\",\"trues\":0,"
                  "\"impute\":false}");
}

Test(symetryml, a_server_that_goes_away_and_comes_back)
{
    open_task("");
    const char *records[] = {"{\"x\":2}"};
    run_ok(records, 1);
    ms_down(ms);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(run(records, 1), SYMTASK_ERR_RETRIABLE);
        char want[256];
        snprintf(want, sizeof(want), "model server %s unreachable: ", ms_url(ms));
        cr_expect(strncmp(errstr, want, strlen(want)) == 0, "%s", errstr);
    }
    cr_assert_eq(ms_up(ms), 0);
    run_ok(records, 1);
    expect_out(0, "{\"x\":2,\"res\":2,\"n\":1,\"positive\":true,\"label\":\"\",\"trues\":0,"
                  "\"impute\":false}");
}

Test(symetryml, a_slow_answer_times_out)
{
    /* Room for a slow machine (valgrind) within the timeout, and a latency well beyond it. */
    open_task("\"sml.predictor.timeout.ms\":\"1500\"");
    ms_set_latency(ms, 4000);
    const char *records[] = {"{\"x\":2}"};
    cr_assert_eq(run(records, 1), SYMTASK_ERR_RETRIABLE);
    char want[256];
    snprintf(want, sizeof(want),
             "model server %s unreachable: no answer within sml.predictor.timeout.ms", ms_url(ms));
    cr_expect_str_eq(errstr, want);
    ms_set_latency(ms, 0);
    run_ok(records, 1);
}

Test(symetryml, refused_credentials_fail_the_task_naming_the_host)
{
    open_task("");
    const char *records[] = {"{\"x\":2}"};
    ms_fail(ms, 401, 1);
    cr_assert_eq(run(records, 1), SYMTASK_ERR_FATAL);
    char want[512];
    snprintf(want, sizeof(want),
             "model server %s refuses the credentials (HTTP 401: Invalid User): check the task's "
             "user and secret or token",
             ms_url(ms));
    cr_expect_str_eq(errstr, want);
}

Test(symetryml, a_wrong_secret_is_refused_by_the_signature_check)
{
    /* c2's secret for customer c1: the server's check of the signature fails. */
    open_task("\"sml.kstream.rest.secret\":\"" SECRET_C2 "\"");
    bad_signatures_allowed = 1;
    const char *records[] = {"{\"x\":2}"};
    cr_assert_eq(run(records, 1), SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "refuses the credentials (HTTP 401: Invalid Signature)") != NULL, "%s",
              errstr);
    cr_expect(strstr(errstr, SECRET_C2) == NULL, "%s", errstr);
    ms_stats_t s = ms_stats(ms);
    cr_expect_eq(s.bad_signatures, 1);
}

/* ---- The check at create ----------------------------------------------------------------- */

#define VALIDATING "\"symtask.validate\":\"true\""

Test(symetryml, the_check_at_create)
{
    st = try_open(VALIDATING);
    cr_assert_not_null(st, "%s", errstr);
    cr_expect_eq(ms_stats(ms).requests, 1, "the check posts an empty DataFrame");
    stages_close(st);
    st = NULL;

    char want[512];
    snprintf(want, sizeof(want),
             "params.sml.kstream.project.id, sml.kstream.model.id: model server %s answered HTTP "
             "400: Unknown project: check the project and model ids",
             ms_url(ms));
    expect_refused(VALIDATING ",\"sml.kstream.project.id\":\"p9\"", want);
    snprintf(want, sizeof(want),
             "params.sml.kstream.project.id, sml.kstream.model.id: model server %s cannot answer "
             "now (HTTP 500: Error no such model)",
             ms_url(ms));
    expect_refused(VALIDATING ",\"sml.kstream.model.id\":\"m9\"", want);
    snprintf(want, sizeof(want),
             "params.sml.kstream.rest.user: model server %s refuses the "
             "credentials (HTTP 401: Invalid Signature)",
             ms_url(ms));
    expect_refused(VALIDATING ",\"sml.kstream.rest.secret\":\"" SECRET_C2 "\"", want);
    expect_refused(VALIDATING ",\"sml.kstream.rest.user\":\"c7\"", "(HTTP 401: Invalid User)");

    ms_down(ms);
    snprintf(want, sizeof(want), "params.sml.kstream.rest.host: model server %s unreachable",
             ms_url(ms));
    expect_refused(VALIDATING, want);
    expect_refused(VALIDATING, "(set sml.predictor.check = false to create the task while it is "
                               "away)");
    /* Without the check, and at a task's start (no symtask.validate), nothing is asked. */
    st = try_open(VALIDATING ",\"sml.predictor.check\":\"false\"");
    cr_assert_not_null(st, "%s", errstr);
    stages_close(st);
    st = try_open("");
    cr_assert_not_null(st, "%s", errstr);
    ms_stats_t s = ms_stats(ms);
    cr_expect_eq(s.bad_signatures, 2, "the two wrong credentials only: %s", s.last_error);
}

Test(symetryml, params_are_checked)
{
    expect_refused("\"sml.kstream.rest.secret\":\"not base64!\"",
                   "params.sml.kstream.rest.secret: not a base64 secret key");
    expect_refused("\"sml.kstream.rest.host\":\"server:8080\"",
                   "params.sml.kstream.rest.host: must start with http:// or https://");
    expect_refused("\"sml.kstream.rest.host\":\"http://u:pw@server:8080\"",
                   "params.sml.kstream.rest.host: user info (user:password@) is not allowed");
    expect_refused("\"sml.kstream.rest.host\":\"http://server:8080/?x=1\"", "no query or fragment");
    expect_refused("\"sml.predictor.endpoint\":\"models\"",
                   "params.sml.predictor.endpoint: 'models' is not projects or tmodels");
    expect_refused("\"sml.kstream.model.id\":\"a/b\"",
                   "params.sml.kstream.model.id: 'a/b' cannot be part of a URL path");
    expect_refused("\"sml.predictor.concurrency\":\"0\"",
                   "params.sml.predictor.concurrency: 0 is not from 1 to 64");
    expect_refused("\"sml.predictor.timeout.ms\":\"60000\"",
                   "params.sml.predictor.timeout.ms: 60000 is not from 100 to 20000");
    expect_refused("\"sml.predictor.types\":\"zip:Q\"",
                   "params.sml.predictor.types: 'zip:Q' is not name:code");
    expect_refused("\"sml.predictor.types\":\"zip\"", "is not name:code");
    expect_refused("\"sml.predictor.impute\":\"yes\"", "params.sml.predictor.impute");
    expect_refused("\"sml.predictor.imputed\":\"true\"", "sml.predictor.imputed");

    json_decref(params);
    params = task_params("");
    json_object_del(params, "sml.kstream.project.id");
    st = stages_open(params, dir, ROWS, errstr, sizeof(errstr));
    cr_assert_null(st);
    cr_expect(strstr(errstr, "params.sml.kstream.project.id: required to predict with a project's "
                             "model (or set sml.predictor.endpoint = tmodels") != NULL,
              "%s", errstr);
    json_object_del(params, "sml.kstream.rest.secret");
    st = stages_open(params, dir, ROWS, errstr, sizeof(errstr));
    cr_assert_null(st);
    cr_expect(strstr(errstr, "params.sml.kstream.rest.secret: required by plugin symetryml") !=
                  NULL,
              "%s", errstr);
}

Test(symetryml, a_url_path_prefix_is_signed_too)
{
    /* The test server serves SymetryML under /pre too, and checks the signature of the path
     * as sent. */
    char fragment[512];
    snprintf(fragment, sizeof(fragment), "\"sml.kstream.rest.host\":\"%s/pre/\"", ms_url(ms));
    open_task(fragment);
    const char *records[] = {"{\"x\":1}"};
    run_ok(records, 1);
    expect_out(0, "{\"x\":1,\"res\":1,\"n\":1,\"positive\":true,\"label\":\"\",\"trues\":0,"
                  "\"impute\":false}");
}
