/* test_stages.c: records through the plugin stages of a batch (workers/stages.c) as a
 * worker runs them, without Kafka: every value type through every serializer, any format
 * to any format, whole records and outputs named at run time, and plugins of ABI 1.0
 * beside those of 1.1. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stages.h"

#define ROWS 16

static char plugin_dir[256];
static char model_path[300];
static stages_t *st;
static json_t *kept_params; /* the params of every task opened, which its instances borrow */
static char errstr[1024];

typedef struct result {
    char *out;         /* the sink record, NUL-terminated (malloc'd), or NULL */
    size_t out_len;    /* its length (it may hold NUL bytes) */
    const char *stage; /* where it failed, or NULL */
    char error[1024];
} result_t;

static result_t results[ROWS];

static const char *env(const char *name)
{
    const char *v = getenv(name);
    cr_assert(v != NULL && v[0] != '\0', "%s is not set (meson test sets it)", name);
    return v;
}

/* Links every .so of @from into the plugin dir. */
static void link_plugins(const char *from)
{
    DIR *d = opendir(from);
    cr_assert_not_null(d, "%s", from);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0)
            continue;
        char src[600], dst[600];
        snprintf(src, sizeof(src), "%s/%s", from, de->d_name);
        snprintf(dst, sizeof(dst), "%s/%s", plugin_dir, de->d_name);
        cr_assert_eq(symlink(src, dst), 0, "symlink %s", dst);
    }
    closedir(d);
}

static void setup(void)
{
    kept_params = json_array();
    snprintf(plugin_dir, sizeof(plugin_dir), "/tmp/symtask-stages-XXXXXX");
    cr_assert_not_null(mkdtemp(plugin_dir));
    link_plugins(env("SYMTASK_PLUGIN_DIR"));
    link_plugins(env("SYMTASK_TYPED_PLUGIN_DIR"));
    link_plugins(env("SYMTASK_ABI10_PLUGIN_DIR")); /* threshold and pairs of ABI 1.0 */
    /* prediction = 1 + 2*x1 + 3*x2 */
    snprintf(model_path, sizeof(model_path), "%s/model.json", plugin_dir);
    FILE *f = fopen(model_path, "w");
    cr_assert_not_null(f);
    fputs("{\"kind\":\"linear\",\"features\":[\"x1\",\"x2\"],\"weights\":[2,3],\"intercept\":1}",
          f);
    fclose(f);
}

static void teardown(void)
{
    stages_close(st);
    st = NULL;
    json_decref(kept_params);
    kept_params = NULL;
    for (size_t i = 0; i < ROWS; i++)
        free(results[i].out);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", plugin_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", plugin_dir);
}

TestSuite(stages, .init = setup, .fini = teardown, .timeout = 60);

/* Params of a task: @fragment ("k":"v",... or "") plus, unless it names a predictor, the
 * linear model. */
static json_t *task_params(const char *fragment)
{
    char text[4096];
    json_error_t error;
    snprintf(text, sizeof(text), "{%s%s}", fragment, fragment[0] ? "" : "\"unused\":\"\"");
    json_t *params = json_loads(text, 0, &error);
    cr_assert_not_null(params, "%s: %s", text, error.text);
    json_object_del(params, "unused");
    if (!json_object_get(params, "sml.predictor")) {
        json_object_set_new(params, "sml.predictor", json_string("linear"));
        json_object_set_new(params, "sml.predictor.model", json_string(model_path));
    }
    return params;
}

/* Opens the stages of a task with @fragment, or returns the refusal in errstr. */
static stages_t *try_open(const char *fragment)
{
    json_t *params = task_params(fragment);
    errstr[0] = '\0';
    stages_t *s = stages_open(params, plugin_dir, ROWS, errstr, sizeof(errstr));
    /* the instances borrow the params: keep them for the test's life */
    if (!s)
        json_decref(params);
    else
        cr_assert_eq(json_array_append_new(kept_params, params), 0);
    return s;
}

static void open_task(const char *fragment)
{
    st = try_open(fragment);
    cr_assert_not_null(st, "%s", errstr);
}

/* Runs @n records of the given lengths as one batch; results[i] says what became of each. */
static void run_n(const char *const *records, const size_t *lens, size_t n)
{
    size_t rows[ROWS];
    symtask_buf_t out;
    cr_assert_leq(n, ROWS);
    buf_init(&out);
    stages_begin(st);
    for (size_t i = 0; i < n; i++) {
        free(results[i].out);
        results[i] = (result_t){0};
        symtask_record_t rec = {records[i], lens ? lens[i] : strlen(records[i])};
        symtask_status_t s =
            stages_decode(st, &rec, &rows[i], results[i].error, sizeof(results[i].error));
        if (s != SYMTASK_OK) {
            cr_assert_neq(s, SYMTASK_ERR_FATAL, "decode: %s", results[i].error);
            results[i].stage = "decode";
            rows[i] = SIZE_MAX;
        }
    }
    cr_assert_eq(stages_predict(st, errstr, sizeof(errstr)), SYMTASK_OK, "predict: %s", errstr);
    for (size_t i = 0; i < n; i++) {
        if (rows[i] == SIZE_MAX)
            continue;
        const char *refused = stages_row_error(st, rows[i]);
        if (refused) {
            results[i].stage = "predict";
            snprintf(results[i].error, sizeof(results[i].error), "%s", refused);
            continue;
        }
        buf_reset(&out);
        symtask_record_t rec = {records[i], lens ? lens[i] : strlen(records[i])};
        symtask_status_t s =
            stages_encode(st, rows[i], &rec, &out, results[i].error, sizeof(results[i].error));
        if (s != SYMTASK_OK) {
            cr_assert_neq(s, SYMTASK_ERR_FATAL, "encode: %s", results[i].error);
            results[i].stage = "encode";
            continue;
        }
        results[i].out = malloc(out.len + 1);
        memcpy(results[i].out, out.data ? out.data : "", out.len);
        results[i].out[out.len] = '\0';
        results[i].out_len = out.len;
    }
    buf_free(&out);
}

static void run(const char *const *records, size_t n)
{
    run_n(records, NULL, n);
}

/* Asserts that @record comes out as @want. */
static void expect_out(const char *record, const char *want)
{
    run(&record, 1);
    cr_assert_null(results[0].stage, "[%s] failed at %s: %s", record, results[0].stage,
                   results[0].error);
    cr_expect_str_eq(results[0].out, want, "from [%s]: [%s]", record, results[0].out);
}

/* Asserts that @record fails at @stage with exactly @error. */
static void expect_failed(const char *record, const char *stage, const char *error)
{
    run(&record, 1);
    cr_assert_not_null(results[0].stage, "[%s] came out as [%s]", record, results[0].out);
    cr_expect_str_eq(results[0].stage, stage, "[%s]: %s", record, results[0].error);
    cr_expect_str_eq(results[0].error, error, "[%s]", record);
}

static void expect_refused(const char *fragment, const char *needle)
{
    stages_t *s = try_open(fragment);
    cr_assert_null(s, "[%s] was accepted", fragment);
    cr_expect(strstr(errstr, needle) != NULL, "[%s]: '%s' lacks '%s'", fragment, errstr, needle);
}

/* ---- Numbers, as before ----------------------------------------------------------------- */

Test(stages, numbers_take_the_fast_path_and_keep_their_bytes)
{
    open_task("");
    cr_expect(strstr(stages_summary(st), "json -> linear -> json: 2 features (numbers), 1 output "
                                         "(numbers)") != NULL,
              "%s", stages_summary(st));
    expect_out("{\"x1\":1, \"x2\":0.5 ,\"n\":\"caf\\u00e9\"}",
               "{\"x1\":1, \"x2\":0.5 ,\"n\":\"caf\\u00e9\",\"prediction\":4.5}");
    expect_failed("{\"x1\":\"1\"}", "decode", "feature 'x1' is a string, not a number");
    expect_failed("{\"x2\":1}", "predict", "feature 'x1' is missing");
}

/* ---- Any format to any format ----------------------------------------------------------- */

Test(stages, json_to_csv_writes_the_fields_in_order_then_the_outputs)
{
    open_task("\"sml.serializer.out\":\"csv\",\"sml.predictor.missing\":\"zero\"");
    cr_expect(strstr(stages_summary(st), "json -> linear -> csv") != NULL, "%s",
              stages_summary(st));
    expect_out(
        "{\"id\":\"c-17\",\"x1\":0.50,\"x2\":null,\"meta\":{\"src\":\"web\"},\"ok\":true,"
        "\"note\":\"says \\\"hi\\\", twice\",\"zip\":\"02134\",\"big\":12345678901234567890}",
        "c-17,0.50,,\"{\"\"src\"\":\"\"web\"\"}\",true,\"says \"\"hi\"\", twice\","
        "02134,12345678901234567890,2");
    /* a record field named like an output gives way to it */
    expect_out("{\"prediction\":\"old\",\"x1\":1,\"x2\":1}", "1,1,6");
    /* a string that would read back as something else is quoted */
    expect_out("{\"a\":\"\",\"b\":\"true\",\"c\":\"-1.5e3\",\"d\":\" x \",\"x1\":0,\"x2\":0}",
               "\"\",\"true\",\"-1.5e3\", x ,0,0,1");
}

Test(stages, json_to_csv_with_columns)
{
    open_task("\"sml.serializer.out\":\"csv\",\"sml.serializer.out.columns\":\"x1,prediction,id,"
              "absent\",\"sml.serializer.out.delimiter\":\";\"");
    expect_out("{\"id\":\"a;b\",\"x1\":1,\"x2\":2,\"other\":3}", "1;9;\"a;b\";");
}

Test(stages, csv_to_json_types_fields_by_their_look)
{
    open_task("\"sml.serializer\":\"csv\",\"sml.serializer.columns\":\"id,x1,x2,note,flag,zip,"
              "empty,quoted_empty,n\",\"sml.serializer.out\":\"json\"");
    expect_out("c-17,0.5, 2 ,\"says \"\"hi\"\", twice\",TRUE,02134,,\"\",-1e2",
               "{\"id\":\"c-17\",\"x1\":0.5,\"x2\":2,\"note\":\"says \\\"hi\\\", twice\","
               "\"flag\":true,\"zip\":\"02134\",\"empty\":null,\"quoted_empty\":\"\",\"n\":-1e2,"
               "\"prediction\":8}");
    /* features are read as the predictor declares them: leading zeros, '+', '.5' */
    expect_out("x,+1,.5,,,,,,", "{\"id\":\"x\",\"x1\":1,\"x2\":0.5,\"note\":null,\"flag\":null,"
                                "\"zip\":null,\"empty\":null,\"quoted_empty\":null,\"n\":null,"
                                "\"prediction\":4.5}");
    expect_failed("x,abc,1,,,,,,", "decode", "column 'x1' is 'abc', not a number");
}

Test(stages, csv_to_csv_with_columns_of_its_own)
{
    open_task("\"sml.serializer\":\"csv\",\"sml.serializer.columns\":\"id,x1,x2\","
              "\"sml.serializer.out.columns\":\"prediction,id\"");
    expect_out("7,1,2", "9,7");
}

Test(stages, options_of_the_output_serializer_are_checked_under_their_own_names)
{
    expect_refused("\"sml.serializer.out\":\"csv\",\"sml.serializer.out.colums\":\"a\"",
                   "params.sml.serializer.out.colums: not an option of plugin csv (the sink's "
                   "serializer); check the spelling against the options known: "
                   "sml.serializer.out.columns, sml.serializer.out.delimiter");
    /* a column list for json input is an error, not silently the sink's */
    expect_refused("\"sml.serializer.out\":\"csv\",\"sml.serializer.columns\":\"a\"",
                   "params.sml.serializer.columns: not an option of plugin linear, json");
    expect_refused("\"sml.serializer.out\":\"csv\",\"sml.serializer.out.delimiter\":\"ab\"",
                   "params.sml.serializer.delimiter must be one byte");
    /* json has no options: any sml.serializer.out.* of it is unknown */
    expect_refused("\"sml.serializer.out.pretty\":\"true\"",
                   "params.sml.serializer.out.pretty: not an option of plugin json");
}

/* ---- Every type through every serializer ------------------------------------------------ */

#define ECHO_ALL                                                                                   \
    "\"sml.predictor\":\"echo\",\"sml.predictor.features\":\"n:number,s:string,b:bool,a:any\""

Test(stages, every_type_through_json)
{
    open_task(ECHO_ALL);
    cr_expect(strstr(stages_summary(st), "4 features (typed), 4 outputs (typed)") != NULL, "%s",
              stages_summary(st));
    expect_out("{\"n\":1.5,\"s\":\"caf\\u00e9 \\\"q\\\" \\ud83d\\ude00\",\"b\":false,\"a\":[1,2]}",
               "{\"n\":1.5,\"s\":\"caf\\u00e9 \\\"q\\\" \\ud83d\\ude00\",\"b\":false,\"a\":[1,2],"
               "\"n_out\":1.5,\"s_out\":\"caf\xc3\xa9 \\\"q\\\" \xf0\x9f\x98\x80\","
               "\"b_out\":false,\"a_kind\":\"nested\"}");
    /* missing and null */
    expect_out("{\"n\":null}", "{\"n\":null,\"n_out\":null,\"s_out\":null,\"b_out\":null,"
                               "\"a_kind\":\"missing\"}");
    expect_out("{\"a\":\"x\",\"b\":true}",
               "{\"a\":\"x\",\"b\":true,\"n_out\":null,\"s_out\":null,\"b_out\":true,"
               "\"a_kind\":\"string\"}");
    /* control bytes, NUL among them, come back escaped */
    expect_out("{\"s\":\"a\\u0000b\\n\\u001f\"}",
               "{\"s\":\"a\\u0000b\\n\\u001f\",\"n_out\":null,\"s_out\":\"a\\u0000b\\n\\u001f\","
               "\"b_out\":null,\"a_kind\":\"missing\"}");
    /* the declared type is checked, naming the feature */
    expect_failed("{\"n\":\"1.5\"}", "decode", "feature 'n' is a string, not a number");
    expect_failed("{\"s\":1}", "decode", "feature 's' is a number, not a string");
    expect_failed("{\"b\":\"true\"}", "decode", "feature 'b' is a string, not a boolean");
    expect_failed("{\"s\":{}}", "decode", "feature 's' is an object, not a string");
    expect_failed("{\"n\":1e999}", "decode", "feature 'n' is 1e999, not a finite number");
}

Test(stages, a_one_mib_string_through_json_and_csv)
{
    enum { BIG = 1 << 20 };
    char *record = malloc(BIG + 64), *want = malloc(2 * BIG + 128);
    int n = sprintf(record, "{\"s\":\"");
    memset(record + n, 'x', BIG);
    strcpy(record + n + BIG, "\"}");
    open_task(ECHO_ALL);
    run((const char *const *)&record, 1);
    cr_assert_null(results[0].stage, "%s", results[0].error);
    n = sprintf(want, "%.*s,\"n_out\":null,\"s_out\":\"", (int)strlen(record) - 1, record);
    memset(want + n, 'x', BIG);
    strcpy(want + n + BIG, "\",\"b_out\":null,\"a_kind\":\"missing\"}");
    cr_expect_eq(results[0].out_len, strlen(want));
    cr_expect(strcmp(results[0].out, want) == 0, "the 1 MiB string did not come back whole");
    stages_close(st);

    open_task(ECHO_ALL ",\"sml.serializer.out\":\"csv\"");
    run((const char *const *)&record, 1);
    cr_assert_null(results[0].stage, "%s", results[0].error);
    cr_expect_eq(results[0].out_len, 2 * BIG + strlen(",,,,") + strlen("missing"), "%zu",
                 results[0].out_len);
    free(record);
    free(want);
}

Test(stages, every_type_through_csv)
{
    open_task(ECHO_ALL ",\"sml.serializer\":\"csv\",\"sml.serializer.columns\":\"n,s,b,a\"");
    expect_out("1.5,\"x,y\",true,", "1.5,\"x,y\",true,,1.5,\"x,y\",true,missing");
    expect_out("1.5,caf\xc3\xa9,FALSE,7", "1.5,caf\xc3\xa9,FALSE,7,1.5,caf\xc3\xa9,false,number");
    /* an empty field is missing; a quoted empty one is an empty string */
    expect_out(",,,", ",,,,,,,missing");
    expect_out(",\"\",,\"\"", ",\"\",,\"\",,\"\",,string");
    /* a NUL byte is a byte like another */
    const char nul[] = "1,a\0b,true,x";
    size_t len = sizeof(nul) - 1;
    const char *rec = nul;
    run_n(&rec, &len, 1);
    cr_assert_null(results[0].stage, "%s", results[0].error);
    cr_expect_eq(results[0].out_len, len + strlen(",1,a") + 2 + strlen(",true,string"));
    cr_expect_eq(memcmp(results[0].out + len, ",1,a\0b,true,string", 18), 0);
    expect_failed("1,a,maybe,", "decode", "column 'b' is 'maybe', not a boolean (true or false)");
    expect_failed("x,a,true,", "decode", "column 'n' is 'x', not a number");
}

Test(stages, every_type_from_csv_to_json_and_back)
{
    open_task(ECHO_ALL ",\"sml.serializer\":\"csv\",\"sml.serializer.columns\":\"n,s,b,a\","
                       "\"sml.serializer.out\":\"json\"");
    expect_out("2,\"q\"\"\",true,[1]",
               "{\"n\":2,\"s\":\"q\\\"\",\"b\":true,\"a\":\"[1]\",\"n_out\":2,\"s_out\":\"q\\\"\","
               "\"b_out\":true,\"a_kind\":\"string\"}");
    stages_close(st);
    open_task(ECHO_ALL ",\"sml.serializer.out\":\"csv\"");
    expect_out("{\"n\":2,\"s\":\"q\\\"\",\"b\":true,\"a\":\"[1]\"}",
               "2,\"q\"\"\",true,[1],2,\"q\"\"\",true,string");
}

/* ---- Whole records and outputs named at run time ---------------------------------------- */

Test(stages, whole_records_and_run_time_outputs)
{
    open_task("\"sml.predictor\":\"echo\",\"sml.predictor.whole\":\"true\"");
    cr_expect(strstr(stages_summary(st), "whole records, 0 outputs (numbers) and outputs named "
                                         "at run time") != NULL,
              "%s", stages_summary(st));
    expect_out("{\"a\":1,\"b\":\"x\",\"c\":{\"d\":[1]},\"e\":null}",
               "{\"a\":1,\"b\":\"x\",\"c\":{\"d\":[1]},\"e\":null,\"echo_a\":1,\"echo_b\":\"x\","
               "\"echo_c\":{\"d\":[1]},\"echo_e\":null}");
    expect_out("{}", "{}");
    stages_close(st);

    open_task("\"sml.predictor\":\"echo\",\"sml.predictor.whole\":\"true\","
              "\"sml.serializer.out\":\"csv\"");
    expect_out("{\"a\":1,\"b\":\"x\",\"c\":{\"d\":[1]}}",
               "1,x,\"{\"\"d\"\":[1]}\",1,x,\"{\"\"d\"\":[1]}\"");
    stages_close(st);

    open_task("\"sml.predictor\":\"echo\",\"sml.predictor.whole\":\"true\","
              "\"sml.serializer\":\"csv\",\"sml.serializer.columns\":\"a,b\","
              "\"sml.serializer.out\":\"json\",\"sml.predictor.fail_on\":\"no\"");
    const char *records[] = {"1,x", "2,no", "3,y"};
    run(records, 3);
    cr_expect_str_eq(results[0].out, "{\"a\":1,\"b\":\"x\",\"echo_a\":1,\"echo_b\":\"x\"}");
    cr_expect_str_eq(results[1].stage, "predict");
    cr_expect_str_eq(results[1].error, "echo: refused field 'b'");
    cr_expect_str_eq(results[2].out, "{\"a\":3,\"b\":\"y\",\"echo_a\":3,\"echo_b\":\"y\"}");
}

Test(stages, a_predictor_that_writes_the_wrong_type_fails_the_batch)
{
    open_task(ECHO_ALL ",\"sml.predictor.lie\":\"true\"");
    const char *record = "{\"s\":\"x\"}";
    stages_begin(st);
    size_t row;
    symtask_record_t rec = {record, strlen(record)};
    cr_assert_eq(stages_decode(st, &rec, &row, errstr, sizeof(errstr)), SYMTASK_OK, "%s", errstr);
    cr_expect_eq(stages_predict(st, errstr, sizeof(errstr)), SYMTASK_ERR_FATAL);
    cr_expect_str_eq(errstr, "the predictor wrote a number to output 's_out', which it declares "
                             "as a string: fix the plugin");
}

/* ---- Plugins of ABI 1.0 ----------------------------------------------------------------- */

#define THRESHOLD10                                                                                \
    "\"sml.predictor\":\"threshold\",\"sml.predictor.feature\":\"x1\",\"sml.predictor."            \
    "threshold\":\"2\""

Test(stages, a_predictor_of_abi_1_0_in_any_format)
{
    open_task(THRESHOLD10);
    expect_out("{\"id\":1,\"x1\":3}", "{\"id\":1,\"x1\":3,\"prediction\":1,\"margin\":1}");
    expect_out("{\"id\":2,\"x1\":0.5}", "{\"id\":2,\"x1\":0.5,\"prediction\":0,\"margin\":-1.5}");
    expect_failed("{\"id\":4}", "predict", "feature 'x1' is missing");
    stages_close(st);
    open_task(THRESHOLD10 ",\"sml.serializer.out\":\"csv\"");
    expect_out("{\"id\":2,\"x1\":0.5}", "2,0.5,0,-1.5");
    stages_close(st);
    open_task(THRESHOLD10 ",\"sml.serializer\":\"csv\",\"sml.serializer.columns\":\"id,x1\","
                          "\"sml.serializer.out\":\"json\"");
    expect_out("a,0.1", "{\"id\":\"a\",\"x1\":0.1,\"prediction\":0,\"margin\":-1.9}");
}

Test(stages, a_serializer_of_abi_1_0_serves_numbers_in_its_own_format)
{
    open_task("\"sml.serializer\":\"pairs\"");
    expect_out("x1=1;x2=2", "x1=1;x2=2;prediction=9");
    expect_failed("x1", "decode", "not name=number pairs");
    expect_refused("\"sml.serializer\":\"pairs\",\"sml.serializer.out\":\"json\"",
                   "params.sml.serializer.out: serializer pairs reads only the numbers a predictor "
                   "needs (plugin ABI 1.0)");
    expect_refused("\"sml.serializer.out\":\"pairs\"",
                   "params.sml.serializer.out: serializer pairs writes only records it read "
                   "itself (plugin ABI 1.0)");
    expect_refused("\"sml.serializer\":\"pairs\"," ECHO_ALL,
                   "params.sml.serializer: predictor echo reads feature 's' as a string, but "
                   "serializer pairs reads only numbers (plugin ABI 1.0)");
    expect_refused("\"sml.serializer\":\"pairs\",\"sml.predictor\":\"echo\","
                   "\"sml.predictor.whole\":\"true\"",
                   "params.sml.serializer: predictor echo reads whole records, which serializer "
                   "pairs cannot give (plugin ABI 1.0)");
    expect_refused("\"sml.serializer\":\"pairs\",\"sml.predictor\":\"echo\","
                   "\"sml.predictor.features\":\"x1:number,x2:bool\"",
                   "predictor echo reads feature 'x2' as a boolean");
}

Test(stages, a_field_of_abi_1_1_is_read_only_from_a_plugin_of_1_1)
{
    /* stale_slot aborts if its signature slot is called: describe() must be */
    open_task("\"sml.predictor\":\"stale_slot\"");
    expect_out("{\"x1\":2.5}", "{\"x1\":2.5,\"twice\":5}");
}

Test(stages, a_server_down_at_bind_refuses_the_check_at_create_but_not_a_task)
{
    char down[400], fragment[1024];
    snprintf(down, sizeof(down), "%s/down", plugin_dir);
    FILE *f = fopen(down, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(fragment, sizeof(fragment),
             "{\"sml.serializer\":\"outage\",\"sml.serializer.down\":\"%s\","
             "\"sml.serializer.when\":\"bind\",\"sml.predictor\":\"echo\","
             "\"sml.predictor.features\":\"x:number\"}",
             down);
    json_error_t error;
    json_t *params = json_loads(fragment, 0, &error);
    cr_assert_not_null(params, "%s", error.text);

    /* the check at create, as symtask-worker --validate marks it: a 400 with the plugin's
     * message */
    json_t *check = json_deep_copy(params);
    json_object_set_new(check, PLUGIN_VALIDATE_PARAM, json_string("true"));
    stages_t *checked = stages_open(check, plugin_dir, 1, errstr, sizeof(errstr));
    cr_expect_null(checked);
    cr_expect(strstr(errstr, "sml.serializer outage: outage: the registry cannot be reached") !=
                  NULL,
              "%s", errstr);
    stages_close(checked);

    /* a task's worker starts: its record calls answer for themselves */
    st = stages_open(params, plugin_dir, ROWS, errstr, sizeof(errstr));
    cr_assert_not_null(st, "%s", errstr);
    expect_out("3", "x=3;x_out=3");

    /* with the server back, the check passes */
    cr_assert_eq(unlink(down), 0);
    checked = stages_open(check, plugin_dir, 1, errstr, sizeof(errstr));
    cr_expect_not_null(checked, "%s", errstr);
    stages_close(checked);
    stages_close(st);
    st = NULL;
    json_decref(check);
    json_decref(params);
}
