/* test_linear.c: the linear predictor plugin through the loader and the public ABI: model
 * files and their errors, exact predictions, missing and extreme values. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"

#define ROWS_MAX 8
#define ROW_ERROR_SIZE 128

static char errstr[1024];
static char dir[] = "/tmp/symtask-linear-XXXXXX";
static char model_path[64]; /* dir/model.json, written by write_model() */
static plugin_t *plugin;
static const symtask_predictor_ops_t *ops;
static json_t *params_doc;
static symtask_params_t *params;
static void *state;

static double outputs[ROWS_MAX * 2];
static symtask_status_t row_status[ROWS_MAX];
static char row_errors[ROWS_MAX * ROW_ERROR_SIZE];

static void setup(void)
{
    const char *plugin_dir = getenv("SYMTASK_PLUGIN_DIR");

    cr_assert_not_null(plugin_dir, "SYMTASK_PLUGIN_DIR is not set: run with meson test");
    plugin = plugin_load(plugin_dir, "linear", SYMTASK_PLUGIN_PREDICTOR, "sml.predictor", errstr,
                         sizeof(errstr));
    cr_assert_not_null(plugin, "%s", errstr);
    /* Last, so that a failed setup (after which .fini does not run) leaves no directory. */
    cr_assert_not_null(mkdtemp(dir));
    snprintf(model_path, sizeof(model_path), "%s/model.json", dir);
    ops = &plugin_descriptor(plugin)->ops.predictor;
    params_doc = json_object();
}

static void teardown(void)
{
    if (state != NULL)
        ops->destroy(state);
    plugin_params_free(params);
    json_decref(params_doc);
    plugin_unload(plugin);
    unlink(model_path);
    rmdir(dir);
}

TestSuite(linear, .init = setup, .fini = teardown);

static void write_model(const char *text)
{
    FILE *f = fopen(model_path, "w");

    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void set_param(const char *key, const char *value)
{
    json_object_set_new(params_doc, key, json_string(value));
}

/* Checks the params and runs create(); returns its status and leaves the message in errstr. */
static symtask_status_t create(void)
{
    params = plugin_params_new(plugin, params_doc, errstr, sizeof(errstr));
    if (params == NULL)
        return SYMTASK_ERR_FATAL;
    return ops->create(plugin_host(), params, &state, errstr, sizeof(errstr));
}

static void create_model(const char *text)
{
    write_model(text);
    set_param("sml.predictor.model", model_path);
    cr_assert_eq(create(), SYMTASK_OK, "create: %s", errstr);
}

/* Runs create() on a model that must be refused, with @needle after the key and file. */
static void expect_model_refused(const char *text, const char *needle)
{
    char prefix[256];

    write_model(text);
    set_param("sml.predictor.model", model_path);
    cr_assert_eq(create(), SYMTASK_ERR_FATAL, "accepted %s", text);
    cr_expect_null(state);
    snprintf(prefix, sizeof(prefix), "params.sml.predictor.model: model file %s", model_path);
    cr_expect(strncmp(errstr, prefix, strlen(prefix)) == 0, "'%s' does not start with '%s'", errstr,
              prefix);
    cr_expect(strstr(errstr, needle) != NULL, "model %s: '%s' lacks '%s'", text, errstr, needle);
}

static symtask_status_t predict(const double *features, size_t rows, size_t n_features,
                                size_t n_outputs)
{
    symtask_batch_t batch = {
        .rows = rows,
        .n_features = n_features,
        .features = features,
        .n_outputs = n_outputs,
        .outputs = outputs,
        .row_status = row_status,
        .row_errors = row_errors,
        .row_error_size = ROW_ERROR_SIZE,
    };
    size_t i;

    cr_assert(rows <= ROWS_MAX);
    for (i = 0; i < rows; i++) {
        row_status[i] = SYMTASK_OK;
        row_errors[i * ROW_ERROR_SIZE] = '\0';
    }
    return ops->predict(state, &batch, errstr, sizeof(errstr));
}

static const char *row_error(size_t i)
{
    return row_errors + i * ROW_ERROR_SIZE;
}

/* The model's signature as names, asserting that every feature and output is a number. */
static void describe(const char *const **features, size_t *n_features, const char *const **outs,
                     size_t *n_outputs)
{
    static const char *feature_names[64], *output_names[8];
    symtask_signature_t sig = {0};
    ops->signature(state, &sig);
    cr_assert_eq(sig.flags, 0);
    cr_assert_leq(sig.n_features, 64);
    cr_assert_leq(sig.n_outputs, 8);
    for (size_t i = 0; i < sig.n_features; i++) {
        cr_expect_eq(sig.features[i].type, SYMTASK_TYPE_NUMBER);
        feature_names[i] = sig.features[i].name;
    }
    for (size_t i = 0; i < sig.n_outputs; i++) {
        cr_expect_eq(sig.outputs[i].type, SYMTASK_TYPE_NUMBER);
        output_names[i] = sig.outputs[i].name;
    }
    *features = feature_names;
    *n_features = sig.n_features;
    *outs = output_names;
    *n_outputs = sig.n_outputs;
}

/* ---- Predictions ------------------------------------------------------------------------- */

Test(linear, describe)
{
    const char *const *features, *const *outs;
    size_t n_features, n_outputs;

    create_model("{\"kind\":\"logistic\",\"features\":[\"a\",\"b\"],\"weights\":[1,2],"
                 "\"intercept\":0}");
    describe(&features, &n_features, &outs, &n_outputs);
    cr_assert_eq(n_features, 2);
    cr_expect_str_eq(features[0], "a");
    cr_expect_str_eq(features[1], "b");
    cr_assert_eq(n_outputs, 2);
    cr_expect_str_eq(outs[0], "prediction");
    cr_expect_str_eq(outs[1], "probability");
}

/* Weights and features are chosen so that every product and sum is exact in binary. */
Test(linear, linear_exact)
{
    const char *const *features, *const *outs;
    size_t n_features, n_outputs;
    const double x[] = {
        2,   1,   4,    /* 1.5 + 1 - 2 + 1 */
        0,   0,   0,    /* the intercept */
        -4,  0.5, 8,    /* 1.5 - 2 - 1 + 2 */
        1e6, 0,   -1e6, /* 1.5 + 5e5 - 2.5e5 */
    };

    create_model("{\"kind\":\"linear\",\"features\":[\"x1\",\"x2\",\"x3\"],"
                 "\"weights\":[0.5,-2,0.25],\"intercept\":1.5}");
    describe(&features, &n_features, &outs, &n_outputs);
    cr_assert_eq(n_features, 3);
    cr_assert_eq(n_outputs, 1);
    cr_expect_str_eq(outs[0], "prediction");

    cr_assert_eq(predict(x, 4, 3, 1), SYMTASK_OK, "%s", errstr);
    for (size_t i = 0; i < 4; i++)
        cr_expect_eq(row_status[i], SYMTASK_OK, "row %zu: %s", i, row_error(i));
    cr_expect_eq(outputs[0], 1.5);
    cr_expect_eq(outputs[1], 1.5);
    cr_expect_eq(outputs[2], 0.5);
    cr_expect_eq(outputs[3], 250001.5);
}

Test(linear, logistic_exact)
{
    const double ln3 = 1.0986122886681098; /* ln 3 */
    const double x[] = {
        2,   2,   /* z = 0: probability 1/2, class 1 */
        ln3, 0,   /* z = ln 3: 1 / (1 + 1/3) = 3/4 */
        0,   ln3, /* z = -ln 3: 1/4 */
        0,   1,   /* z = -1: 1 / (1 + e) */
    };

    create_model("{\"kind\":\"logistic\",\"features\":[\"x1\",\"x2\"],\"weights\":[1,-1],"
                 "\"intercept\":0}");
    cr_assert_eq(predict(x, 4, 2, 2), SYMTASK_OK, "%s", errstr);
    for (size_t i = 0; i < 4; i++)
        cr_expect_eq(row_status[i], SYMTASK_OK, "row %zu: %s", i, row_error(i));
    cr_expect_eq(outputs[0], 1);
    cr_expect_eq(outputs[1], 0.5);
    cr_expect_eq(outputs[2], 1);
    cr_expect_float_eq(outputs[3], 0.75, 1e-15);
    cr_expect_eq(outputs[4], 0);
    cr_expect_float_eq(outputs[5], 0.25, 1e-15);
    cr_expect_eq(outputs[6], 0);
    cr_expect_float_eq(outputs[7], 0.2689414213699951, 1e-15);
}

/* exp() of a large |z| overflows; the probability must still be 0 < p < 1 or exactly 0 or 1,
 * never NaN, and keep its precision in the tail (1 / (1 + exp(720)) would be 0; exp(-720) is
 * 2.0322308024e-313). */
Test(linear, logistic_extreme_scores)
{
    const double x[] = {1000, -1000, -720, 30, 1e308};

    create_model("{\"kind\":\"logistic\",\"features\":[\"z\"],\"weights\":[1],\"intercept\":0}");
    cr_assert_eq(predict(x, 5, 1, 2), SYMTASK_OK, "%s", errstr);
    for (size_t i = 0; i < 5; i++)
        cr_expect_eq(row_status[i], SYMTASK_OK, "row %zu: %s", i, row_error(i));
    cr_expect_eq(outputs[0], 1);
    cr_expect_eq(outputs[1], 1.0);
    cr_expect_eq(outputs[2], 0);
    cr_expect_eq(outputs[3], 0.0);
    cr_expect_eq(outputs[4], 0);
    cr_expect(outputs[5] > 0 && fabs(outputs[5] / 2.0322308024e-313 - 1) < 1e-6, "p(-720) = %g",
              outputs[5]);
    cr_expect_eq(outputs[6], 1);
    cr_expect(outputs[7] < 1 && outputs[7] > 1 - 1e-13, "p(30) = %.17g", outputs[7]);
    cr_expect_eq(outputs[8], 1);
    cr_expect_eq(outputs[9], 1.0);
}

Test(linear, linear_huge_values)
{
    const double x[] = {
        1e300, 0,    /* 2e300: large but finite */
        1e308, 0,    /* 2e308 overflows */
        1e308, 1e308 /* inf - inf */
    };

    create_model("{\"kind\":\"linear\",\"features\":[\"a\",\"b\"],\"weights\":[2,-2],"
                 "\"intercept\":0}");
    cr_assert_eq(predict(x, 3, 2, 1), SYMTASK_OK, "%s", errstr);
    cr_expect_eq(row_status[0], SYMTASK_OK);
    cr_expect_eq(outputs[0], 2e300);
    cr_expect_eq(row_status[1], SYMTASK_ERR_RECORD);
    cr_expect_str_eq(row_error(1),
                     "the prediction is not a finite number: feature values too large");
    cr_expect_eq(row_status[2], SYMTASK_ERR_RECORD);
}

Test(linear, logistic_undefined_score)
{
    const double x[] = {1e308, 1e308};

    create_model("{\"kind\":\"logistic\",\"features\":[\"a\",\"b\"],\"weights\":[2,-2],"
                 "\"intercept\":0}");
    cr_assert_eq(predict(x, 1, 2, 2), SYMTASK_OK, "%s", errstr);
    cr_expect_eq(row_status[0], SYMTASK_ERR_RECORD);
    cr_expect(isnan(outputs[0]) && isnan(outputs[1]));
}

Test(linear, missing_is_an_error)
{
    const double x[] = {
        1,   2,   NAN, /* x3 missing */
        1,   2,   3,   /* the next row is fine */
        NAN, NAN, 3,
    };

    create_model("{\"kind\":\"linear\",\"features\":[\"x1\",\"x2\",\"x3\"],\"weights\":[1,1,1],"
                 "\"intercept\":0}");
    cr_assert_eq(predict(x, 3, 3, 1), SYMTASK_OK, "%s", errstr);
    cr_expect_eq(row_status[0], SYMTASK_ERR_RECORD);
    cr_expect_str_eq(row_error(0), "feature 'x3' is missing");
    cr_expect(isnan(outputs[0]));
    cr_expect_eq(row_status[1], SYMTASK_OK);
    cr_expect_eq(outputs[1], 6);
    cr_expect_eq(row_status[2], SYMTASK_ERR_RECORD);
    cr_expect_str_eq(row_error(2), "feature 'x1' is missing");
}

Test(linear, missing_as_zero)
{
    const double x[] = {1, 2, NAN, NAN, NAN, NAN};

    set_param("sml.predictor.missing", "zero");
    create_model("{\"kind\":\"linear\",\"features\":[\"x1\",\"x2\",\"x3\"],\"weights\":[1,10,"
                 "100],\"intercept\":0.5}");
    cr_assert_eq(predict(x, 2, 3, 1), SYMTASK_OK, "%s", errstr);
    cr_expect_eq(row_status[0], SYMTASK_OK);
    cr_expect_eq(outputs[0], 21.5);
    cr_expect_eq(row_status[1], SYMTASK_OK);
    cr_expect_eq(outputs[1], 0.5);
}

Test(linear, missing_option_values)
{
    write_model("{\"kind\":\"linear\",\"features\":[\"a\"],\"weights\":[1],\"intercept\":0}");
    set_param("sml.predictor.model", model_path);
    set_param("sml.predictor.missing", "skip");
    cr_expect_eq(create(), SYMTASK_ERR_FATAL);
    cr_expect_str_eq(errstr, "params.sml.predictor.missing: 'skip' is not one of error, zero");
}

Test(linear, unicode_feature_names)
{
    const char *const *features, *const *outs;
    size_t n_features, n_outputs;
    const double x[] = {1, NAN, 2};

    create_model("{\"kind\":\"linear\",\"features\":[\"température\",\"速度\",\"\\ud83d\\ude42\"],"
                 "\"weights\":[1,2,3],\"intercept\":0}");
    describe(&features, &n_features, &outs, &n_outputs);
    cr_assert_eq(n_features, 3);
    cr_expect_str_eq(features[0], "température");
    cr_expect_str_eq(features[1], "速度");
    cr_expect_str_eq(features[2], "\xf0\x9f\x99\x82");
    cr_assert_eq(predict(x, 1, 3, 1), SYMTASK_OK);
    cr_expect_str_eq(row_error(0), "feature '速度' is missing");
}

Test(linear, batch_shape_mismatch)
{
    const double x[] = {1, 2};

    create_model("{\"kind\":\"linear\",\"features\":[\"a\"],\"weights\":[1],\"intercept\":0}");
    cr_expect_eq(predict(x, 1, 2, 1), SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "batch has 2 features") != NULL, "%s", errstr);
}

Test(linear, empty_batch)
{
    create_model("{\"kind\":\"linear\",\"features\":[\"a\"],\"weights\":[1],\"intercept\":0}");
    cr_expect_eq(predict(NULL, 0, 1, 1), SYMTASK_OK);
}

/* ---- Model files ------------------------------------------------------------------------- */

Test(linear, model_errors)
{
    static const struct {
        const char *model, *needle;
    } cases[] = {
        {"", "is not valid JSON (line"},
        {"{\"kind\":\"linear\",", "is not valid JSON (line 1"},
        {"[1,2]", "the model is not a JSON object"},
        {"{\"features\":[\"a\"],\"weights\":[1],\"intercept\":0}",
         "\"kind\" must be \"linear\" or \"logistic\""},
        {"{\"kind\":\"tree\",\"features\":[\"a\"],\"weights\":[1],\"intercept\":0}",
         "kind \"tree\" is unknown: use \"linear\" or \"logistic\""},
        {"{\"kind\":\"linear\",\"weights\":[1],\"intercept\":0}",
         "\"features\" must be a non-empty array of feature names"},
        {"{\"kind\":\"linear\",\"features\":[],\"weights\":[],\"intercept\":0}",
         "\"features\" must be a non-empty array of feature names"},
        {"{\"kind\":\"linear\",\"features\":[\"a\"],\"weights\":1,\"intercept\":0}",
         "\"weights\" must be an array of numbers"},
        {"{\"kind\":\"linear\",\"features\":[\"a\",\"b\",\"c\"],\"weights\":[1,2],"
         "\"intercept\":0}",
         "3 features but 2 weights: give one weight per feature"},
        {"{\"kind\":\"linear\",\"features\":[\"a\",\"b\"],\"weights\":[1,\"2\"],\"intercept\":0}",
         "weights[1] must be a number"},
        {"{\"kind\":\"linear\",\"features\":[\"a\"],\"weights\":[null],\"intercept\":0}",
         "weights[0] must be a number"},
        {"{\"kind\":\"linear\",\"features\":[\"a\",\"a\"],\"weights\":[1,2],\"intercept\":0}",
         "feature \"a\" appears twice"},
        {"{\"kind\":\"linear\",\"features\":[\"a\",\"\"],\"weights\":[1,2],\"intercept\":0}",
         "features[1] must be a non-empty string"},
        {"{\"kind\":\"linear\",\"features\":[\"a\",7],\"weights\":[1,2],\"intercept\":0}",
         "features[1] must be a non-empty string"},
        {"{\"kind\":\"linear\",\"features\":[\"a\"],\"weights\":[1]}",
         "\"intercept\" must be a number"},
        {"{\"kind\":\"linear\",\"features\":[\"a\"],\"weights\":[1],\"intercept\":\"0\"}",
         "\"intercept\" must be a number"},
        {"{\"kind\":\"linear\",\"features\":[\"a\"],\"weights\":[1],\"weights\":[2],"
         "\"intercept\":0}",
         "duplicate object key"},
        {"{\"kind\":\"linear\",\"features\":[\"a\"],\"weights\":[1e999],\"intercept\":0}",
         "is not valid JSON"},
        {"{\"kind\":\"linear\",\"features\":[\"a\\u0000b\"],\"weights\":[1],\"intercept\":0}",
         "is not valid JSON"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_model_refused(cases[i].model, cases[i].needle);
        plugin_params_free(params);
        params = NULL;
    }
}

Test(linear, model_file_missing)
{
    char missing[128];

    snprintf(missing, sizeof(missing), "%s/none.json", dir);
    set_param("sml.predictor.model", missing);
    /* The option table catches it when the task is created... */
    cr_expect_eq(create(), SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "params.sml.predictor.model: ") == errstr, "%s", errstr);
    cr_expect(strstr(errstr, "names no file") != NULL, "%s", errstr);
    cr_expect(strstr(errstr, missing) != NULL, "%s", errstr);

    /* ...and create() when the file went away before the worker started. */
    write_model("{}");
    set_param("sml.predictor.model", model_path);
    params = plugin_params_new(plugin, params_doc, errstr, sizeof(errstr));
    cr_assert_not_null(params, "%s", errstr);
    unlink(model_path);
    cr_expect_eq(ops->create(plugin_host(), params, &state, errstr, sizeof(errstr)),
                 SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "params.sml.predictor.model: model file ") == errstr, "%s", errstr);
    cr_expect(strstr(errstr, "cannot be opened") != NULL, "%s", errstr);
}

Test(linear, model_path_not_a_file)
{
    set_param("sml.predictor.model", dir);
    cr_expect_eq(create(), SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "params.sml.predictor.model: ") == errstr, "%s", errstr);
    cr_expect(strstr(errstr, "is not a regular file") != NULL, "%s", errstr);
}

Test(linear, model_key_required)
{
    cr_expect_eq(create(), SYMTASK_ERR_FATAL);
    cr_expect_str_eq(errstr, "params.sml.predictor.model: required: set it (or "
                             "sml.kstream.model.b64file) to the path of a JSON model file");
}

/* The seed's key is a path to the same JSON file; errors then name that key. */
Test(linear, seed_model_key)
{
    const double x[] = {3};

    write_model("{\"kind\":\"linear\",\"features\":[\"a\"],\"weights\":[2],\"intercept\":1}");
    set_param("sml.kstream.model.b64file", model_path);
    cr_assert_eq(create(), SYMTASK_OK, "%s", errstr);
    cr_assert_eq(predict(x, 1, 1, 1), SYMTASK_OK);
    cr_expect_eq(outputs[0], 7);
    ops->destroy(state);
    state = NULL;
    plugin_params_free(params);

    write_model("{\"kind\":\"linear\"}");
    cr_expect_eq(create(), SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "params.sml.kstream.model.b64file: model file ") == errstr, "%s",
              errstr);
}

Test(linear, model_key_wins_over_seed_key)
{
    char other[128];
    FILE *f;
    const double x[] = {3};

    snprintf(other, sizeof(other), "%s/other.json", dir);
    f = fopen(other, "w");
    cr_assert_not_null(f);
    fputs("{\"kind\":\"linear\",\"features\":[\"a\"],\"weights\":[100],\"intercept\":0}", f);
    fclose(f);
    set_param("sml.kstream.model.b64file", other);
    create_model("{\"kind\":\"linear\",\"features\":[\"a\"],\"weights\":[2],\"intercept\":1}");
    unlink(other);
    cr_assert_eq(predict(x, 1, 1, 1), SYMTASK_OK);
    cr_expect_eq(outputs[0], 7);
}

Test(linear, unknown_option)
{
    const plugin_t *plugins[] = {plugin};

    set_param("sml.predictor.threshold", "0.7");
    cr_expect_eq(plugin_check_unknown_keys(params_doc, plugins, 1, NULL, errstr, sizeof(errstr)),
                 -1);
    cr_expect(strstr(errstr, "params.sml.predictor.threshold: not an option of plugin linear") ==
                  errstr,
              "%s", errstr);
    cr_expect(strstr(errstr, "sml.predictor.model, sml.predictor.missing") != NULL, "%s", errstr);
}
