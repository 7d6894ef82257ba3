/* test_xgboost.c: the xgboost predictor plugin through the loader and the public ABI: every
 * prediction against XGBoost's own for tiny models trained by xgb_fixtures.py (with Debian's
 * python3-xgboost) when the run starts, model files and their errors, options. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loader.h"

#define PYTHON "/usr/bin/python3"
#define FIXTURES_ENV "SYMTASK_XGB_FIXTURES"
#define FIXTURES_ERROR_ENV "SYMTASK_XGB_FIXTURES_ERROR"
#define ROW_ERROR_SIZE 128
#define TOLERANCE 1e-6

extern char **environ;

static char errstr[1024];
static const char *fixtures_dir;
static json_t *fixtures; /* fixtures.json */
static plugin_t *plugin;
static const symtask_predictor_ops_t *ops;
static json_t *params_doc;
static symtask_params_t *params;
static void *state;
static char scratch[1024]; /* a file a test writes, removed by teardown() */

/* ---- Fixtures: trained once per run, before the tests ------------------------------------- */

static char run_dir[] = "/tmp/symtask-xgb-XXXXXX";

/* Runs xgb_fixtures.py into run_dir; on failure returns why. */
static const char *fixtures_make(char *why, size_t why_size)
{
    const char *src = getenv("SYMTASK_TEST_SOURCE_DIR");
    char script[4096], log[4096], line[512] = "";
    posix_spawn_file_actions_t actions;
    pid_t pid;
    int status, err;
    FILE *f;

    if (src == NULL)
        return "SYMTASK_TEST_SOURCE_DIR is not set: run with meson test";
    if (mkdtemp(run_dir) == NULL) {
        snprintf(why, why_size, "mkdtemp: %s", strerror(errno));
        return why;
    }
    snprintf(script, sizeof(script), "%s/xgb_fixtures.py", src);
    snprintf(log, sizeof(log), "%s/python.log", run_dir);
    char *argv[] = {PYTHON, script, run_dir, NULL};

    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    err = posix_spawn(&pid, PYTHON, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) {
        snprintf(why, why_size,
                 "cannot run " PYTHON ": %s: the xgboost tests need Debian's python3 and "
                 "python3-xgboost (scripts/install-deps)",
                 strerror(err));
        return why;
    }
    if (waitpid(pid, &status, 0) < 0) {
        snprintf(why, why_size, "waitpid: %s", strerror(errno));
        return why;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return NULL;
    /* The last line python wrote says what went wrong. */
    f = fopen(log, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        ;
    if (f != NULL)
        fclose(f);
    line[strcspn(line, "\n")] = '\0';
    snprintf(why, why_size, PYTHON " %.1024s %s failed (%s %d): %s", script, run_dir,
             WIFEXITED(status) ? "exit status" : "signal",
             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), line);
    return why;
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    static char why[2048];
    const char *error = fixtures_make(why, sizeof(why));

    /* Every test fails with this message, rather than being skipped: CI installs
     * python3-xgboost, so its absence is a broken setup. */
    if (error != NULL)
        setenv(FIXTURES_ERROR_ENV, error, 1);
    else
        setenv(FIXTURES_ENV, run_dir, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    char path[4096];
    struct dirent *e;
    DIR *d;

    if (strstr(run_dir, "XXXXXX") != NULL)
        return;
    d = opendir(run_dir);
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", run_dir, e->d_name);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(run_dir);
}

/* ---- Suite ---------------------------------------------------------------------------------- */

static void setup(void)
{
    const char *plugin_dir = getenv("SYMTASK_PLUGIN_DIR"), *error = getenv(FIXTURES_ERROR_ENV);
    char path[4096];
    json_error_t jerr;

    cr_assert_null(error, "%s", error);
    fixtures_dir = getenv(FIXTURES_ENV);
    cr_assert_not_null(fixtures_dir, "the fixtures were not made");
    cr_assert_not_null(plugin_dir, "SYMTASK_PLUGIN_DIR is not set: run with meson test");
    snprintf(path, sizeof(path), "%s/fixtures.json", fixtures_dir);
    fixtures = json_load_file(path, 0, &jerr);
    cr_assert_not_null(fixtures, "%s: %s", path, jerr.text);
    plugin = plugin_load(plugin_dir, "xgboost", SYMTASK_PLUGIN_PREDICTOR, "sml.predictor", errstr,
                         sizeof(errstr));
    cr_assert_not_null(plugin, "%s", errstr);
    ops = &plugin_descriptor(plugin)->ops.predictor;
    params_doc = json_object();
}

static void teardown(void)
{
    if (state != NULL)
        ops->destroy(state);
    plugin_params_free(params);
    json_decref(params_doc);
    json_decref(fixtures);
    plugin_unload(plugin);
    if (scratch[0] != '\0')
        unlink(scratch);
}

TestSuite(xgboost, .init = setup, .fini = teardown);

static void set_param(const char *key, const char *value)
{
    json_object_set_new(params_doc, key, json_string(value));
}

/* Checks the params and runs create(); returns its status and leaves the message in errstr. */
static symtask_status_t create(void)
{
    plugin_params_free(params);
    params = plugin_params_new(plugin, params_doc, errstr, sizeof(errstr));
    if (params == NULL)
        return SYMTASK_ERR_FATAL;
    return ops->create(plugin_host(), params, &state, errstr, sizeof(errstr));
}

static void destroy(void)
{
    if (state != NULL)
        ops->destroy(state);
    state = NULL;
}

static const char *fixture_path(const char *file)
{
    static char path[1024];

    snprintf(path, sizeof(path), "%s/%s", fixtures_dir, file);
    return path;
}

static void create_model(const char *file)
{
    set_param("sml.predictor.model", fixture_path(file));
    cr_assert_eq(create(), SYMTASK_OK, "create %s: %s", file, errstr);
}

/* The fixture's test rows, row-major, NaN for null. */
static double *fixture_rows(size_t *rows, size_t *n_features)
{
    json_t *all = json_object_get(fixtures, "rows"), *row, *v;
    size_t i, j;
    double *x;

    *rows = json_array_size(all);
    *n_features = json_array_size(json_array_get(all, 0));
    cr_assert(*rows > 0 && *n_features > 0);
    x = calloc(*rows * *n_features, sizeof(*x));
    cr_assert_not_null(x);
    json_array_foreach (all, i, row) {
        json_array_foreach (row, j, v) {
            x[i * *n_features + j] = json_is_null(v) ? NAN : json_number_value(v);
        }
    }
    return x;
}

typedef struct result {
    size_t rows, n_outputs;
    double *outputs;
    symtask_status_t *row_status;
    char *row_errors;
} result_t;

static void result_free(result_t *r)
{
    free(r->outputs);
    free(r->row_status);
    free(r->row_errors);
}

/* Predicts @rows rows in one batch. */
static symtask_status_t predict(const double *features, size_t rows, size_t n_features,
                                size_t n_outputs, result_t *r)
{
    symtask_batch_t batch = {
        .rows = rows,
        .n_features = n_features,
        .features = features,
        .n_outputs = n_outputs,
        .row_error_size = ROW_ERROR_SIZE,
    };

    r->rows = rows;
    r->n_outputs = n_outputs;
    r->outputs = calloc(rows * n_outputs + 1, sizeof(double));
    r->row_status = calloc(rows + 1, sizeof(symtask_status_t));
    r->row_errors = calloc(rows + 1, ROW_ERROR_SIZE);
    cr_assert(r->outputs != NULL && r->row_status != NULL && r->row_errors != NULL);
    batch.outputs = r->outputs;
    batch.row_status = r->row_status;
    batch.row_errors = r->row_errors;
    return ops->predict(state, &batch, errstr, sizeof(errstr));
}

/* The model's signature as names, asserting that every feature and output is a number. */
static void describe(size_t *n_features, size_t *n_outputs, const char *const **features,
                     const char *const **outputs)
{
    static const char *names[4096];
    symtask_signature_t sig = {0};
    ops->signature(state, &sig);
    cr_assert_eq(sig.flags, 0);
    cr_assert_leq(sig.n_features + sig.n_outputs, 4096);
    for (size_t i = 0; i < sig.n_features + sig.n_outputs; i++) {
        const symtask_column_t *c =
            i < sig.n_features ? &sig.features[i] : &sig.outputs[i - sig.n_features];
        cr_expect_eq(c->type, SYMTASK_TYPE_NUMBER);
        names[i] = c->name;
    }
    *features = names;
    *n_features = sig.n_features;
    *outputs = names + sig.n_features;
    *n_outputs = sig.n_outputs;
}

/* ---- Predictions against XGBoost's ------------------------------------------------------- */

static size_t compared;
static double max_diff;

static void expect_close(double got, double want, const char *what, size_t row, size_t k)
{
    double diff = fabs(got - want);

    cr_expect(diff <= TOLERANCE, "%s row %zu output %zu: plugin %.17g, XGBoost %.17g", what, row, k,
              got, want);
    if (diff > max_diff)
        max_diff = diff;
    compared++;
}

/* Runs @m (a fixtures.json model) from @file over every test row in one batch and checks every
 * output against XGBoost's predictions. */
static void check_model(json_t *m, const char *file)
{
    const char *objective = json_string_value(json_object_get(m, "objective"));
    json_t *names = json_object_get(m, "features"), *want = json_object_get(m, "predictions");
    size_t num_class = (size_t)json_integer_value(json_object_get(m, "num_class"));
    size_t rows, n, n_features, n_outputs, i, k;
    const char *const *features, *const *outputs;
    double *x = fixture_rows(&rows, &n);
    result_t r;

    if (json_is_null(names))
        set_param("sml.predictor.features", "a,b,c,d,e");
    else
        json_object_del(params_doc, "sml.predictor.features");
    create_model(file);
    describe(&n_features, &n_outputs, &features, &outputs);
    cr_assert_eq(n_features, n, "%s", file);
    for (i = 0; i < n_features; i++) {
        char letter[2] = {(char)('a' + i), '\0'};
        const char *name =
            json_is_null(names) ? letter : json_string_value(json_array_get(names, i));

        cr_expect_str_eq(features[i], name, "%s feature %zu", file, i);
    }
    cr_expect_str_eq(outputs[0], "prediction");
    if (strcmp(objective, "binary:logistic") == 0) {
        cr_assert_eq(n_outputs, 2, "%s", file);
        cr_expect_str_eq(outputs[1], "probability");
    } else if (strcmp(objective, "multi:softprob") == 0) {
        cr_assert_eq(n_outputs, 1 + num_class, "%s", file);
        for (k = 0; k < num_class; k++) {
            char name[64];

            snprintf(name, sizeof(name), "probability.%zu", k);
            cr_expect_str_eq(outputs[1 + k], name);
        }
    } else {
        cr_assert_eq(n_outputs, 1, "%s", file);
    }

    cr_assert_eq(predict(x, rows, n_features, n_outputs, &r), SYMTASK_OK, "%s: %s", file, errstr);
    cr_assert_eq(json_array_size(want), rows);
    for (i = 0; i < rows; i++) {
        json_t *p = json_array_get(want, i);
        const double *out = r.outputs + i * n_outputs;

        /* Missing values, even all of them, are XGBoost's business, not an error. */
        cr_expect_eq(r.row_status[i], SYMTASK_OK, "%s row %zu: %s", file, i,
                     r.row_errors + i * ROW_ERROR_SIZE);
        if (strcmp(objective, "binary:logistic") == 0) {
            double prob = json_number_value(json_array_get(p, 0));

            expect_close(out[0], prob >= 0.5 ? 1 : 0, file, i, 0);
            expect_close(out[1], prob, file, i, 1);
        } else if (strcmp(objective, "multi:softprob") == 0) {
            size_t best = 0;

            for (k = 0; k < num_class; k++) {
                double prob = json_number_value(json_array_get(p, k));

                if (prob > json_number_value(json_array_get(p, best)))
                    best = k;
                expect_close(out[1 + k], prob, file, i, 1 + k);
            }
            expect_close(out[0], (double)best, file, i, 0);
        } else {
            cr_assert_eq(json_array_size(p), 1);
            expect_close(out[0], json_number_value(json_array_get(p, 0)), file, i, 0);
        }
    }
    result_free(&r);
    free(x);
    destroy();
}

Test(xgboost, predictions_equal_xgboost)
{
    json_t *m;
    size_t i, models = 0;

    json_array_foreach (json_object_get(fixtures, "models"), i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        char file[128];

        snprintf(file, sizeof(file), "%s.json", name);
        check_model(m, file);
        snprintf(file, sizeof(file), "%s.ubj", name);
        check_model(m, file);
        models++;
    }
    cr_expect_geq(models, 9);
    fprintf(stderr,
            "xgboost: %zu outputs of %zu model files compared with XGBoost %s's predictions, max "
            "|difference| %g\n",
            compared, models * 2, json_string_value(json_object_get(fixtures, "xgboost")),
            max_diff);
}

/* One batch of every row equals the rows one at a time, bit for bit. */
Test(xgboost, batch_equals_rows)
{
    static const char *const files[] = {"softprob.ubj", "reg.json", "binary.json"};
    size_t rows, n, f, i, k;
    double *x = fixture_rows(&rows, &n);

    for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        const char *const *features, *const *outputs;
        size_t n_features, n_outputs;
        result_t all;

        create_model(files[f]);
        describe(&n_features, &n_outputs, &features, &outputs);
        cr_assert_eq(rows, 1000);
        cr_assert_eq(predict(x, rows, n, n_outputs, &all), SYMTASK_OK, "%s", errstr);
        for (i = 0; i < rows; i++) {
            result_t one;

            cr_assert_eq(predict(x + i * n, 1, n, n_outputs, &one), SYMTASK_OK, "%s", errstr);
            for (k = 0; k < n_outputs; k++)
                cr_expect_eq(one.outputs[k], all.outputs[i * n_outputs + k],
                             "%s row %zu output %zu: %.17g alone, %.17g in the batch", files[f], i,
                             k, one.outputs[k], all.outputs[i * n_outputs + k]);
            result_free(&one);
        }
        result_free(&all);
        destroy();
    }
    free(x);
}

static int threads_now(void)
{
    char line[256];
    int n = -1;
    FILE *f = fopen("/proc/self/status", "r");

    cr_assert_not_null(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

/* By default XGBoost predicts on the worker's thread (loading may have started OpenMP's
 * pool); more threads predict the same. */
Test(xgboost, threads)
{
    size_t rows, n, i;
    double *x = fixture_rows(&rows, &n);
    int before;
    result_t one, four;

    create_model("softprob.json");
    before = threads_now();
    cr_assert_eq(predict(x, rows, n, 4, &one), SYMTASK_OK, "%s", errstr);
    cr_expect_eq(threads_now(), before, "XGBoost started threads to predict");
    destroy();
    set_param("sml.predictor.threads", "4");
    create_model("softprob.json");
    cr_assert_eq(predict(x, rows, n, 4, &four), SYMTASK_OK, "%s", errstr);
    for (i = 0; i < rows * 4; i++)
        cr_expect_eq(one.outputs[i], four.outputs[i], "value %zu", i);
    result_free(&one);
    result_free(&four);
    free(x);
}

Test(xgboost, threads_range)
{
    static const char *const bad[] = {"0", "-1", "1025"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        set_param("sml.predictor.model", fixture_path("reg.json"));
        set_param("sml.predictor.threads", bad[i]);
        cr_expect_eq(create(), SYMTASK_ERR_FATAL, "threads %s", bad[i]);
        cr_expect(strstr(errstr, "params.sml.predictor.threads: ") == errstr, "%s", errstr);
        cr_expect(strstr(errstr, "is not a whole number from 1 to 1024") != NULL, "%s", errstr);
        cr_expect_null(state);
    }
    set_param("sml.predictor.threads", "two");
    cr_expect_eq(create(), SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "params.sml.predictor.threads: ") == errstr, "%s", errstr);
}

Test(xgboost, batch_shape_mismatch)
{
    const double x[6] = {0};
    result_t r;

    create_model("reg.json");
    cr_expect_eq(predict(x, 1, 6, 1, &r), SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "batch has 6 features") != NULL, "%s", errstr);
    result_free(&r);
    cr_expect_eq(predict(x, 1, 5, 2, &r), SYMTASK_ERR_FATAL);
    result_free(&r);
}

Test(xgboost, empty_batch)
{
    result_t r;

    create_model("binary.json");
    cr_expect_eq(predict(NULL, 0, 5, 2, &r), SYMTASK_OK, "%s", errstr);
    result_free(&r);
}

/* ---- Features ------------------------------------------------------------------------------ */

Test(xgboost, features_required_without_names)
{
    char want[2048];

    set_param("sml.predictor.model", fixture_path("noname.ubj"));
    cr_expect_eq(create(), SYMTASK_ERR_FATAL);
    snprintf(want, sizeof(want),
             "params.sml.predictor.features: required: model file %s has no feature names, so "
             "list its 5 features in training order",
             fixture_path("noname.ubj"));
    cr_expect_str_eq(errstr, want);
    cr_expect_null(state);
}

Test(xgboost, features_option_errors)
{
    static const struct {
        const char *model, *features, *message;
    } cases[] = {
        {"noname.json", "a,b,c,d",
         "params.sml.predictor.features: lists 4 features but the model reads 5"},
        {"noname.json", "a,b,c,d,e,f",
         "params.sml.predictor.features: lists 6 features but the model reads 5"},
        {"noname.json", "a,b,c,b,e", "params.sml.predictor.features: feature 'b' is listed twice"},
        {"reg.json", "temp,speed,humidité,pression,速度",
         "params.sml.predictor.features: feature 3 is 'humidité' but the model's is 'pression': "
         "leave the param out to use the model's feature names, or list them in its order"},
        {"reg.json", "temp,speed,pression,humidité",
         "params.sml.predictor.features: lists 4 features but the model reads 5"},
        {"reg.json", "a,b,c,d,e",
         "params.sml.predictor.features: feature 1 is 'a' but the model's is 'temp': leave the "
         "param out to use the model's feature names, or list them in its order"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        set_param("sml.predictor.model", fixture_path(cases[i].model));
        set_param("sml.predictor.features", cases[i].features);
        cr_expect_eq(create(), SYMTASK_ERR_FATAL, "%s with %s", cases[i].model, cases[i].features);
        cr_expect_str_eq(errstr, cases[i].message);
        cr_expect_null(state);
    }
}

/* The list may repeat the model's own names (spaces around names do not count). */
Test(xgboost, features_option_equal_to_names)
{
    const char *const *features, *const *outputs;
    size_t n_features, n_outputs;

    set_param("sml.predictor.features", "temp, speed ,pression,\thumidité,速度");
    create_model("binary.ubj");
    describe(&n_features, &n_outputs, &features, &outputs);
    cr_assert_eq(n_features, 5);
    cr_expect_str_eq(features[3], "humidité");
    cr_expect_str_eq(features[4], "速度");
    cr_expect_eq(n_outputs, 2);
}

/* ---- Model files ----------------------------------------------------------------------------- */

static void write_scratch(const char *name, const void *data, size_t len)
{
    FILE *f;

    snprintf(scratch, sizeof(scratch), "%s/%s", fixtures_dir, name);
    f = fopen(scratch, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Copies fixture @from to scratch file @name. */
static void copy_fixture(const char *from, const char *name)
{
    char *data;
    long len;
    FILE *f = fopen(fixture_path(from), "rb");

    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    data = malloc((size_t)len);
    cr_assert_not_null(data);
    cr_assert_eq(fread(data, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    write_scratch(name, data, (size_t)len);
    free(data);
}

/* create() refuses the scratch file (or @path) with a message naming key and file, then @needle. */
static void expect_model_refused(const char *path, const char *needle)
{
    char prefix[2048];

    set_param("sml.predictor.model", path);
    cr_assert_eq(create(), SYMTASK_ERR_FATAL, "accepted %s", path);
    cr_expect_null(state);
    snprintf(prefix, sizeof(prefix), "params.sml.predictor.model: model file %s: ", path);
    cr_expect(strncmp(errstr, prefix, strlen(prefix)) == 0, "'%s' does not start with '%s'", errstr,
              prefix);
    cr_expect(strstr(errstr, needle) != NULL, "'%s' lacks '%s'", errstr, needle);
    cr_expect_null(strchr(errstr, '\n'), "'%s' spans lines", errstr);
}

Test(xgboost, model_not_a_model)
{
    static const struct {
        const char *name, *content, *needle;
    } cases[] = {
        {"hello.json", "hello",
         "does not start with '{', not a model saved by XGBoost as JSON "
         "or UBJSON (which starts with '{')"},
        {"empty.json", "", "is empty, not a model saved by XGBoost"},
        {"object.json", "{\"a\":1}", "XGBoost cannot load it: Invalid cast, from Null to Object"},
        {"broken.json", "{\"learner\":", "XGBoost cannot load it: "},
        {"broken.ubj", "{\"learner\"", "XGBoost cannot load it: "},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_scratch(cases[i].name, cases[i].content, strlen(cases[i].content));
        expect_model_refused(scratch, cases[i].needle);
        unlink(scratch);
    }
}

/* A JSON model named .ubj is read as UBJSON, and fails; the other way round too. */
Test(xgboost, model_format_by_name)
{
    copy_fixture("reg.json", "reg-json.ubj");
    expect_model_refused(scratch, "XGBoost cannot load it: ");
    cr_expect(strstr(errstr, "around character position: 2 (the file holds JSON text: name it "
                             ".json)") != NULL,
              "%s", errstr);
    unlink(scratch);
    copy_fixture("reg.ubj", "reg-ubj.json");
    expect_model_refused(scratch, "XGBoost cannot load it: ");
    cr_expect(strstr(errstr, "around character position: 1 (the file looks like UBJSON: name it "
                             ".ubj)") != NULL,
              "%s", errstr);
    unlink(scratch);
    /* Case does not matter, as in XGBoost. */
    copy_fixture("reg.ubj", "REG.UBJ");
    set_param("sml.predictor.model", scratch);
    cr_expect_eq(create(), SYMTASK_OK, "%s", errstr);
}

Test(xgboost, model_wrong_extension)
{
    static const char *const names[] = {"reg.bin", "reg.model", "reg", "reg.json.gz", ".json"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        copy_fixture("reg.json", names[i]);
        expect_model_refused(scratch, "the name must end in .json (JSON) or .ubj (UBJSON)");
        unlink(scratch);
    }
}

Test(xgboost, model_unsupported)
{
    expect_model_refused(fixture_path("gblinear.json"),
                         "booster gblinear is not supported: use gbtree or dart");
    expect_model_refused(fixture_path("multitarget.json"),
                         "the model predicts 2 targets: only one is supported");
}

Test(xgboost, model_file_missing)
{
    char missing[2048];

    snprintf(missing, sizeof(missing), "%s/none.json", fixtures_dir);
    set_param("sml.predictor.model", missing);
    /* The option table catches it when the task is created... */
    cr_expect_eq(create(), SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "params.sml.predictor.model: ") == errstr, "%s", errstr);
    cr_expect(strstr(errstr, missing) != NULL, "%s", errstr);

    /* ...and create() when the file went away before the worker started. */
    copy_fixture("reg.json", "gone.json");
    set_param("sml.predictor.model", scratch);
    params = plugin_params_new(plugin, params_doc, errstr, sizeof(errstr));
    cr_assert_not_null(params, "%s", errstr);
    unlink(scratch);
    cr_expect_eq(ops->create(plugin_host(), params, &state, errstr, sizeof(errstr)),
                 SYMTASK_ERR_FATAL);
    snprintf(missing, sizeof(missing),
             "params.sml.predictor.model: model file %s: cannot be opened: No such file or "
             "directory",
             scratch);
    cr_expect_str_eq(errstr, missing);
}

Test(xgboost, model_key_required)
{
    cr_expect_eq(create(), SYMTASK_ERR_FATAL);
    cr_expect_str_eq(errstr, "params.sml.predictor.model: required: set it (or "
                             "sml.kstream.model.b64file) to the path of a model saved by XGBoost "
                             "(.json or .ubj)");
}

/* The seed's key is a path to the same file; errors then name that key. */
Test(xgboost, seed_model_key)
{
    set_param("sml.kstream.model.b64file", fixture_path("softmax.ubj"));
    cr_assert_eq(create(), SYMTASK_OK, "%s", errstr);
    destroy();

    set_param("sml.kstream.model.b64file", fixture_path("gblinear.json"));
    cr_expect_eq(create(), SYMTASK_ERR_FATAL);
    cr_expect(strstr(errstr, "params.sml.kstream.model.b64file: model file ") == errstr, "%s",
              errstr);

    /* sml.predictor.model wins. */
    set_param("sml.predictor.model", fixture_path("softmax.ubj"));
    cr_expect_eq(create(), SYMTASK_OK, "%s", errstr);
}

/* ---- The descriptor ------------------------------------------------------------------------ */

Test(xgboost, descriptor)
{
    const symtask_plugin_t *d = plugin_descriptor(plugin);
    const plugin_t *plugins[] = {plugin};

    cr_expect_str_eq(d->name, "xgboost");
    cr_expect_str_eq(d->version, "1.1.0");
    cr_expect_eq(d->kind, SYMTASK_PLUGIN_PREDICTOR);

    set_param("sml.predictor.missing", "zero");
    cr_expect_eq(plugin_check_unknown_keys(params_doc, plugins, 1, NULL, errstr, sizeof(errstr)),
                 -1);
    cr_expect(strstr(errstr, "params.sml.predictor.missing: not an option of plugin xgboost") ==
                  errstr,
              "%s", errstr);
    cr_expect(strstr(errstr, "sml.predictor.model, sml.predictor.features, "
                             "sml.predictor.threads") != NULL,
              "%s", errstr);
}

/* Writes @fixture with one tree damaged by @damage to the scratch file @name: tree 0, or
 * the first tree with a categorical split when the model has one. */
static void write_damaged(const char *fixture, const char *name, void (*damage)(json_t *tree))
{
    /* XGBoost writes a categorical model's NaN as a bare NaN, which is not JSON: blanked,
     * like the plugin does, for jansson. No key holds the word. */
    char *text = NULL, *nan;
    size_t len = 0;
    FILE *f = fopen(fixture_path(fixture), "rb");
    cr_assert_not_null(f);
    cr_assert_gt(getdelim(&text, &len, '\0', f), 0);
    fclose(f);
    while ((nan = strstr(text, "NaN")) != NULL)
        memcpy(nan, "0.0", 3);
    json_error_t jerr;
    json_t *model = json_loads(text, 0, &jerr);
    free(text);
    cr_assert_not_null(model, "%s", jerr.text);
    json_t *trees = json_object_get(
        json_object_get(json_object_get(json_object_get(model, "learner"), "gradient_booster"),
                        "model"),
        "trees");
    json_t *tree = json_array_get(trees, 0), *t;
    size_t i;
    json_array_foreach (trees, i, t) {
        if (json_array_size(json_object_get(t, "categories_nodes")) > 0) {
            tree = t;
            break;
        }
    }
    cr_assert(json_array_size(json_object_get(tree, "left_children")) >= 3,
              "%s has no split to damage", fixture);
    damage(tree);
    text = json_dumps(model, JSON_COMPACT);
    write_scratch(name, text, strlen(text));
    free(text);
    json_decref(model);
}

static void no_damage(json_t *tree)
{
}

static void child_out_of_range(json_t *tree)
{
    json_array_set_new(json_object_get(tree, "left_children"), 0, json_integer(100000));
}

static void child_is_the_root(json_t *tree)
{
    json_array_set_new(json_object_get(tree, "right_children"), 0, json_integer(0));
}

static void children_the_same(json_t *tree)
{
    json_t *left = json_object_get(tree, "left_children");
    json_array_set(json_object_get(tree, "right_children"), 0, json_array_get(left, 0));
}

static void feature_out_of_range(json_t *tree)
{
    json_array_set_new(json_object_get(tree, "split_indices"), 0, json_integer(100000));
}

static void feature_negative(json_t *tree)
{
    json_array_set_new(json_object_get(tree, "split_indices"), 0, json_integer(-1));
}

static void categories_out_of_range(json_t *tree)
{
    json_array_set_new(json_object_get(tree, "categories_segments"), 0, json_integer(100000));
}

static void categories_inconsistent(json_t *tree)
{
    json_array_append_new(json_object_get(tree, "categories_sizes"), json_integer(1));
}

/* XGBoost walks a model's trees unchecked: each of these crashed it (or would loop) when it
 * predicted. They are refused at load, before any prediction, naming tree and node. */
Test(xgboost, damaged_trees_are_refused)
{
    static const struct {
        const char *fixture;
        void (*damage)(json_t *tree);
        const char *needle;
    } cases[] = {
        {"reg.json", child_out_of_range,
         "tree 0, node 0: children 100000 and 2 are not two other nodes of its "},
        {"reg.json", child_is_the_root, "tree 0, node 0: children 1 and 0 are not two other"},
        {"reg.json", children_the_same, "tree 0, node 0: children 1 and 1 are not two other"},
        {"reg.json", feature_out_of_range,
         "tree 0, node 0: splits on feature 100000 of a model that reads 5"},
        {"reg.json", feature_negative, "tree 0, node 0: splits on feature -1 of a model that"},
        {"categorical.json", categories_out_of_range,
         ": categorical split 0 lies outside the tree"},
        {"categorical.json", categories_inconsistent,
         ": its categorical splits are not described consistently"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_damaged(cases[i].fixture, "damaged.json", cases[i].damage);
        expect_model_refused(scratch, cases[i].needle);
        cr_expect(strstr(errstr, "(a damaged model file)") != NULL, "%s", errstr);
        unlink(scratch);
    }
    /* A UBJSON file is checked on XGBoost's JSON form of the loaded model (XGBoost can load
     * these two damages; it crashed predicting with them). It keeps split indices unsigned:
     * -1 comes back as 2^31 - 1. */
    static const struct {
        void (*damage)(json_t *tree);
        const char *needle;
    } ubj_cases[] = {
        {child_out_of_range, "tree 0, node 0: children 100000 and 2 are not two other nodes"},
        {feature_negative, "tree 0, node 0: splits on feature 2147483647 of"},
    };
    for (size_t i = 0; i < sizeof(ubj_cases) / sizeof(ubj_cases[0]); i++) {
        char json_path[1100], command[3000];
        write_damaged("reg.json", "damaged.json", ubj_cases[i].damage);
        snprintf(json_path, sizeof(json_path), "%s", scratch);
        snprintf(scratch, sizeof(scratch), "%s/damaged.ubj", fixtures_dir);
        snprintf(command, sizeof(command),
                 PYTHON " -c 'import sys, xgboost; "
                        "xgboost.Booster(model_file=sys.argv[1]).save_model(sys.argv[2])' %s %s",
                 json_path, scratch);
        cr_assert_eq(system(command), 0, "%s", command);
        unlink(json_path);
        expect_model_refused(scratch, ubj_cases[i].needle);
        cr_expect(strstr(errstr, "(a damaged model file)") != NULL, "%s", errstr);
        unlink(scratch);
    }

    /* The models written the same way but undamaged load. */
    write_damaged("reg.json", "undamaged.json", no_damage);
    set_param("sml.predictor.model", scratch);
    cr_expect_eq(create(), SYMTASK_OK, "%s", errstr);
    destroy();
    write_damaged("categorical.json", "undamaged.json", no_damage);
    set_param("sml.predictor.model", scratch);
    cr_expect_eq(create(), SYMTASK_OK, "%s", errstr);
}
