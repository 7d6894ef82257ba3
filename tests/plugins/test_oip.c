/* test_oip.c: the oip predictor (Open Inference Protocol, KServe v2) through the worker's
 * stages against the test model server, which checks each request's tensors against the
 * model's metadata: one tensor per input or one matrix, every output value, values that
 * cannot fill a tensor, rows the server refuses, the metadata read at create or with the
 * first batch, bearer and basic credentials, 5xx and a server that goes away. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_task.h"

const char *const mt_base_params = "{\"sml.predictor\":\"oip\",\"sml.predictor.url\":\"%s\","
                                   "\"sml.predictor.model.name\":\"adder\"}";

TestSuite(oip, .init = mt_setup, .fini = mt_teardown, .timeout = 60);

#define VALIDATING "\"symtask.validate\":\"true\""

static const char *const adder_records[] = {
    "{\"x1\":1.5,\"x2\":2,\"plan\":\"gold\",\"vip\":true,\"other\":[1]}",
    "{\"plan\":\"basic\",\"vip\":false,\"x2\":-7,\"x1\":20}",
};

Test(oip, one_tensor_per_input_and_every_output)
{
    open_task("");
    cr_expect_eq(ms_stats(ms).requests, 0, "no metadata asked at a task's start");
    run_ok(adder_records, 2);
    /* sum = x1 + x2, pair = (x1, x2) as FP32, tag = plan with * when vip, big = sum > 10 */
    expect_out(0, "{\"x1\":1.5,\"x2\":2,\"plan\":\"gold\",\"vip\":true,\"other\":[1],\"sum\":3.5,"
                  "\"pair_0\":1.5,\"pair_1\":2,\"tag\":\"gold*\",\"big\":false}");
    expect_out(1, "{\"plan\":\"basic\",\"vip\":false,\"x2\":-7,\"x1\":20,\"sum\":13,"
                  "\"pair_0\":20,\"pair_1\":-7,\"tag\":\"basic\",\"big\":true}");
    ms_stats_t s = ms_stats(ms);
    cr_expect_eq(s.requests, 2, "the metadata, then one request for the batch");
    cr_expect_eq(s.bad_requests, 0, "%s", s.last_error);
    run_ok(adder_records, 2);
    cr_expect_eq(ms_stats(ms).requests, 3, "the metadata is read once");
}

Test(oip, chosen_outputs_prefixed_and_float_outputs_shortest)
{
    open_task("\"sml.predictor.outputs\":\"tag,pair\",\"sml.predictor.output.prefix\":\"p_\","
              "\"sml.predictor.model.version\":\"1\"");
    const char *records[] = {"{\"x1\":0.1,\"x2\":3,\"plan\":\"\",\"vip\":true}"};
    run_ok(records, 1);
    /* FP32 0.1 is written 0.1, not 0.10000000149011612. */
    expect_out(0,
               "{\"x1\":0.1,\"x2\":3,\"plan\":\"\",\"vip\":true,\"p_tag\":\"*\",\"p_pair_0\":0.1,"
               "\"p_pair_1\":3}");
}

Test(oip, one_matrix_of_chosen_fields)
{
    open_task("\"sml.predictor.model.name\":\"matrix\",\"sml.predictor.input.layout\":\"matrix\","
              "\"sml.predictor.features\":\"c, a,b\"");
    const char *records[] = {"{\"a\":1,\"b\":2.25,\"c\":-3}", "{\"c\":10,\"b\":0,\"a\":0.5}"};
    run_ok(records, 2);
    expect_out(0, "{\"a\":1,\"b\":2.25,\"c\":-3,\"total\":0.25,\"max\":2.25}");
    expect_out(1, "{\"c\":10,\"b\":0,\"a\":0.5,\"total\":10.5,\"max\":10}");
}

Test(oip, records_that_cannot_fill_a_tensor_go_to_the_dead_letters)
{
    open_task("");
    const char *records[] = {
        "{\"x1\":1,\"x2\":2.5,\"plan\":\"a\",\"vip\":true}",
        "{\"x1\":1,\"x2\":2,\"plan\":\"a\"}",
        "{\"x1\":1,\"x2\":2,\"plan\":7,\"vip\":false}",
        "{\"x1\":\"1\",\"x2\":2,\"plan\":\"a\",\"vip\":false}",
        "{\"x1\":2,\"x2\":2,\"plan\":\"b\",\"vip\":false}",
        "{\"x1\":666,\"x2\":2,\"plan\":\"c\",\"vip\":false}",
    };
    run_ok(records, 6);
    const char *const errors[] = {
        "feature 'x2' is 2.5, not a whole number (input INT64)",
        "feature 'vip' is missing (a tensor holds a value for every record)",
        "feature 'plan' is a number, not a string (input BYTES)",
        "feature 'x1' is a string, not a number (input FP64)",
    };
    for (size_t i = 0; i < 4; i++) {
        cr_assert_str_eq(results[i].stage, "predict", "record %zu", i);
        cr_expect_str_eq(results[i].error, errors[i]);
    }
    expect_out(4, "{\"x1\":2,\"x2\":2,\"plan\":\"b\",\"vip\":false,\"sum\":4,\"pair_0\":2,"
                  "\"pair_1\":2,\"tag\":\"b\",\"big\":false}");
    /* The server refuses 666: the request of the two good rows, then each alone. */
    cr_assert_str_eq(results[5].stage, "predict");
    cr_expect_str_eq(results[5].error,
                     "the model server refused this record (HTTP 400): input 'x1': 666 is out of "
                     "range");
    ms_stats_t s = ms_stats(ms);
    cr_expect_eq(s.requests, 4, "metadata, the two good rows, each again");
    cr_expect_eq(s.bad_requests, 2, "the request of two, then 666 alone: %lu", s.bad_requests);
}

Test(oip, the_metadata_at_create_and_at_the_first_batch)
{
    st = try_open(VALIDATING);
    cr_assert_not_null(st, "%s", errstr);
    cr_expect_eq(ms_stats(ms).requests, 1);
    stages_close(st);
    st = NULL;
    char want[512];
    snprintf(want, sizeof(want),
             "params.sml.predictor.model.name: model 'nope' not found: model server %s answered "
             "HTTP 404: Model not found",
             ms_url(ms));
    expect_refused(VALIDATING ",\"sml.predictor.model.name\":\"nope\"", want);
    expect_refused(VALIDATING ",\"sml.predictor.model.version\":\"2\"",
                   "answered HTTP 404: no such model version");
    expect_refused(VALIDATING ",\"sml.predictor.input.layout\":\"matrix\","
                              "\"sml.predictor.features\":\"x1,x2\"",
                   "params.sml.predictor.input.layout: model 'adder' has 4 inputs, and the matrix "
                   "layout sends one tensor: use the columns layout");
    expect_refused(VALIDATING
                   ",\"sml.predictor.model.name\":\"matrix\","
                   "\"sml.predictor.input.layout\":\"matrix\","
                   "\"sml.predictor.features\":\"a,b,c\",\"sml.predictor.input.name\":\"x1\"",
                   "params.sml.predictor.input.name: model 'matrix' has no input 'x1'");
    expect_refused(VALIDATING ",\"sml.predictor.model.name\":\"matrix\"",
                   "model 'matrix': input 'input' has shape [-1,3]: in the columns layout each "
                   "input is [-1] or [-1, 1]");
    expect_refused(VALIDATING
                   ",\"sml.predictor.model.name\":\"matrix\","
                   "\"sml.predictor.input.layout\":\"matrix\",\"sml.predictor.features\":\"a,b\"",
                   "input 'input' has shape [-1,3], not [-1, 2]");

    /* Away at a task's start: the first batch waits for it. */
    ms_down(ms);
    snprintf(want, sizeof(want), "model server %s unreachable", ms_url(ms));
    expect_refused(VALIDATING, want);
    expect_refused(VALIDATING, "(set sml.predictor.check = false to create the task while it is "
                               "away)");
    open_task("");
    cr_assert_eq(run(adder_records, 2), SYMTASK_ERR_RETRIABLE);
    cr_expect(strstr(errstr, want) != NULL, "%s", errstr);
    cr_assert_eq(ms_up(ms), 0);
    run_ok(adder_records, 2);
    expect_out(0, "{\"x1\":1.5,\"x2\":2,\"plan\":\"gold\",\"vip\":true,\"other\":[1],\"sum\":3.5,"
                  "\"pair_0\":1.5,\"pair_1\":2,\"tag\":\"gold*\",\"big\":false}");
}

Test(oip, bearer_token)
{
    ms_config_t cfg = {.bearer_token = "tok-3f9a1c77"};
    mt_restart_server(&cfg);
    open_task("");
    cr_assert_eq(run(adder_records, 1), SYMTASK_ERR_FATAL);
    char want[512];
    snprintf(want, sizeof(want),
             "model server %s refuses the credentials (HTTP 401: a valid bearer token is "
             "required): check the task's user and secret or token",
             ms_url(ms));
    cr_expect_str_eq(errstr, want);
    stages_close(st);
    open_task("\"sml.predictor.token\":\"tok-3f9a1c77\"");
    run_ok(adder_records, 1);
    expect_out(0, "{\"x1\":1.5,\"x2\":2,\"plan\":\"gold\",\"vip\":true,\"other\":[1],\"sum\":3.5,"
                  "\"pair_0\":1.5,\"pair_1\":2,\"tag\":\"gold*\",\"big\":false}");
    stages_close(st);
    open_task("\"sml.predictor.token\":\"tok-wrong\"");
    cr_assert_eq(run(adder_records, 1), SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "tok-") == NULL, "the token is shown: %s", errstr);
}

Test(oip, basic_credentials)
{
    ms_config_t cfg = {.basic = "ops:s3cret-pw"};
    mt_restart_server(&cfg);
    open_task("\"sml.predictor.user\":\"ops\",\"sml.predictor.password\":\"s3cret-pw\"");
    run_ok(adder_records, 1);
    stages_close(st);
    open_task("\"sml.predictor.user\":\"ops\",\"sml.predictor.password\":\"wrong\"");
    cr_assert_eq(run(adder_records, 1), SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "(HTTP 401: valid basic credentials are required)") != NULL, "%s",
              errstr);
}

Test(oip, server_errors_and_timeouts_are_passing_failures)
{
    /* Room for a slow machine (valgrind) within the timeout, and a latency well beyond it. */
    open_task("\"sml.predictor.timeout.ms\":\"1500\"");
    run_ok(adder_records, 2);
    ms_fail(ms, 500, 1);
    cr_assert_eq(run(adder_records, 2), SYMTASK_ERR_RETRIABLE);
    char want[512];
    snprintf(want, sizeof(want), "model server %s cannot answer now (HTTP 500)", ms_url(ms));
    cr_expect_str_eq(errstr, want);
    ms_set_latency(ms, 4000);
    cr_assert_eq(run(adder_records, 2), SYMTASK_ERR_RETRIABLE);
    cr_expect(strstr(errstr, "no answer within sml.predictor.timeout.ms") != NULL, "%s", errstr);
    ms_set_latency(ms, 0);
    run_ok(adder_records, 2);
    expect_out(1, "{\"plan\":\"basic\",\"vip\":false,\"x2\":-7,\"x1\":20,\"sum\":13,"
                  "\"pair_0\":20,\"pair_1\":-7,\"tag\":\"basic\",\"big\":true}");
}

Test(oip, params_are_checked)
{
    expect_refused("\"sml.predictor.input.layout\":\"rows\"",
                   "params.sml.predictor.input.layout: 'rows' is not columns or matrix");
    expect_refused("\"sml.predictor.input.layout\":\"matrix\"",
                   "params.sml.predictor.features: required with sml.predictor.input.layout = "
                   "matrix");
    expect_refused("\"sml.predictor.features\":\"x1\"",
                   "params.sml.predictor.features: only with sml.predictor.input.layout = matrix");
    expect_refused("\"sml.predictor.token\":\"t0k3n-value\",\"sml.predictor.user\":\"u\"",
                   "params.sml.predictor.token: set a token or a user (basic), not both");
    expect_refused("\"sml.predictor.password\":\"pw-value\"",
                   "params.sml.predictor.password: a password needs its sml.predictor.user");
    expect_refused("\"sml.predictor.url\":\"ftp://x\"",
                   "params.sml.predictor.url: must start with http:// or https://");
    expect_refused("\"sml.predictor.model.name\":\"a b\"",
                   "params.sml.predictor.model.name: 'a b' cannot be part of a URL path");
    expect_refused("\"sml.predictor.ca.file\":\"/nonexistent/ca.pem\"",
                   "params.sml.predictor.ca.file");
    expect_refused("\"sml.predictor.request.rows\":\"0\"",
                   "params.sml.predictor.request.rows: 0 is not from 1 to 100000");
}

Test(oip, https_with_a_ca_file)
{
    if (system("command -v openssl >/dev/null 2>&1") != 0)
        cr_skip_test("the openssl command is not installed");
    char cmd[1024], cert[300], key[300];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out "
             "cert.pem -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
             ">/dev/null 2>&1",
             dir);
    cr_assert_eq(system(cmd), 0, "openssl could not make a certificate");
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    ms_config_t cfg = {.tls_cert = cert, .tls_key = key};
    mt_restart_server(&cfg);
    cr_assert(strncmp(ms_url(ms), "https://", 8) == 0);

    /* A certificate no CA of the system signed: refused without the CA file. */
    expect_refused(VALIDATING, "unreachable: SSL certificate problem");
    char fragment[512];
    snprintf(fragment, sizeof(fragment), VALIDATING ",\"sml.predictor.ca.file\":\"%s\"", cert);
    open_task(fragment);
    run_ok(adder_records, 2);
    expect_out(1, "{\"plan\":\"basic\",\"vip\":false,\"x2\":-7,\"x1\":20,\"sum\":13,"
                  "\"pair_0\":20,\"pair_1\":-7,\"tag\":\"basic\",\"big\":true}");
    cr_expect_leq(ms_stats(ms).connections, 2, "the TLS connection is kept");
}
