/* test_xgboost.c: the xgboost predictor plugin through the loader and the public ABI: every
 * prediction of both engines (native, xgboost) against XGBoost's own, bit for bit, for small
 * models trained by xgb_fixtures.py (with Debian's python3-xgboost) when the run starts,
 * model files and their errors, damaged models, options, the log line, memory. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loader.h"

#define PYTHON "/usr/bin/python3"
#define FIXTURES_ENV "SYMTASK_XGB_FIXTURES"
#define FIXTURES_ERROR_ENV "SYMTASK_XGB_FIXTURES_ERROR"
#define ROW_ERROR_SIZE 128

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

/* The loader's host, with the plugin's log lines kept in log_text as well. */
static char log_text[8192];
static symtask_host_t capture_host;

static void capture_log(symtask_log_level_t level, const char *fmt, ...)
{
    size_t n = strlen(log_text);
    va_list ap;

    va_start(ap, fmt);
    if (n + 2 < sizeof(log_text)) {
        vsnprintf(log_text + n, sizeof(log_text) - n - 1, fmt, ap);
        strcat(log_text, "\n");
    }
    va_end(ap);
}

static const symtask_host_t *host(void)
{
    capture_host = *plugin_host();
    capture_host.log = capture_log;
    return &capture_host;
}

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
    log_text[0] = '\0';
    return ops->create(host(), params, &state, errstr, sizeof(errstr));
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

/* The same double, bit for bit (NaN equals NaN). */
static int same(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0 || (isnan(a) && isnan(b));
}

static void expect_same(double got, double want, const char *what, size_t row, size_t k)
{
    cr_expect(same(got, want), "%s row %zu output %zu: plugin %.17g, XGBoost %.17g", what, row, k,
              got, want);
    compared++;
}

/* Runs @m (a fixtures.json model) from @file with @engine over every test row in one batch
 * and checks every output against XGBoost's predictions. */
static void check_model(json_t *m, const char *file, const char *engine)
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
    set_param("sml.predictor.engine", engine);
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

            expect_same(out[0], prob >= 0.5 ? 1 : 0, file, i, 0);
            expect_same(out[1], prob, file, i, 1);
        } else if (strcmp(objective, "multi:softprob") == 0) {
            size_t best = 0;

            for (k = 0; k < num_class; k++) {
                double prob = json_number_value(json_array_get(p, k));

                if (prob > json_number_value(json_array_get(p, best)))
                    best = k;
                expect_same(out[1 + k], prob, file, i, 1 + k);
            }
            expect_same(out[0], (double)best, file, i, 0);
        } else {
            cr_assert_eq(json_array_size(p), 1);
            expect_same(out[0], json_number_value(json_array_get(p, 0)), file, i, 0);
        }
    }
    result_free(&r);
    free(x);
    destroy();
}

/* Both engines predict what XGBoost's Python package predicts, bit for bit, for every model:
 * every objective, gbtree and dart, numerical and categorical splits, missing values. */
Test(xgboost, predictions_equal_xgboost)
{
    static const char *const engines[] = {"native", "xgboost"};
    json_t *m;
    size_t i, e, models = 0;

    json_array_foreach (json_object_get(fixtures, "models"), i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        char file[128];

        for (e = 0; e < 2; e++) {
            snprintf(file, sizeof(file), "%s.json", name);
            check_model(m, file, engines[e]);
            snprintf(file, sizeof(file), "%s.ubj", name);
            check_model(m, file, engines[e]);
        }
        models++;
    }
    cr_expect_geq(models, 30);
    fprintf(stderr,
            "xgboost: %zu outputs of %zu model files, both engines, equal to XGBoost %s's "
            "predictions bit for bit\n",
            compared, models * 2, json_string_value(json_object_get(fixtures, "xgboost")));
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

/* With engine xgboost, by default XGBoost predicts on the worker's thread (loading may have
 * started OpenMP's pool); more threads predict the same. */
Test(xgboost, threads)
{
    size_t rows, n, i;
    double *x = fixture_rows(&rows, &n);
    int before;
    result_t one, four;

    set_param("sml.predictor.engine", "xgboost");
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
        {"object.json", "{\"a\":1}", "no learner: not a model saved by XGBoost's save_model"},
        {"broken.json", "{\"learner\":", "not valid JSON: it ends early, at byte 11"},
        {"broken.ubj", "{\"learner\"",
         "not valid UBJSON: expected a key (its length, then its bytes) at byte 1"},
        {"array.json", "{\"learner\": [1]}",
         "learner: an array where XGBoost reads an object (at byte 12)"},
        {"nan.json", "{\"learner\": -NaN}", "not valid JSON: not a value at byte 12"},
        {"trailing.json", "{} x", "not valid JSON: more data after the model at byte 3"},
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
    expect_model_refused(scratch, "not valid UBJSON: expected a key (its length, then its bytes) "
                                  "at byte 1 (the file holds JSON text: name it .json)");
    unlink(scratch);
    copy_fixture("reg.ubj", "reg-ubj.json");
    expect_model_refused(scratch, "not valid JSON: expected a key at byte 1 (the file looks like "
                                  "UBJSON: name it .ubj)");
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
    cr_expect_str_eq(d->version, "1.2.0");
    cr_expect_eq(d->kind, SYMTASK_PLUGIN_PREDICTOR);

    set_param("sml.predictor.missing", "zero");
    cr_expect_eq(plugin_check_unknown_keys(params_doc, plugins, 1, NULL, errstr, sizeof(errstr)),
                 -1);
    cr_expect(strstr(errstr, "params.sml.predictor.missing: not an option of plugin xgboost") ==
                  errstr,
              "%s", errstr);
    cr_expect(strstr(errstr, "sml.predictor.model, sml.predictor.features, "
                             "sml.predictor.threads, sml.predictor.engine") != NULL,
              "%s", errstr);
}

/* @fixture's JSON, with XGBoost's bare NaN (not JSON) blanked for jansson. No key holds the
 * word. */
static json_t *fixture_json(const char *fixture)
{
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
    return model;
}

static json_t *model_booster(json_t *model)
{
    return json_object_get(json_object_get(model, "learner"), "gradient_booster");
}

static json_t *model_trees(json_t *model)
{
    return json_object_get(json_object_get(model_booster(model), "model"), "trees");
}

/* Writes @fixture damaged by @damage (given the whole model) to the scratch file @name. */
static void write_damaged_model(const char *fixture, const char *name,
                                void (*damage)(json_t *model))
{
    json_t *model = fixture_json(fixture);
    char *text;

    damage(model);
    text = json_dumps(model, JSON_COMPACT);
    write_scratch(name, text, strlen(text));
    free(text);
    json_decref(model);
}

/* Writes @fixture with one tree damaged by @damage to the scratch file @name: tree 0, or
 * the first tree with a categorical split when the model has one. */
static void write_damaged(const char *fixture, const char *name, void (*damage)(json_t *tree))
{
    json_t *model = fixture_json(fixture);
    json_t *trees = model_trees(model);
    json_t *tree = json_array_get(trees, 0), *t;
    char *text;
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

/* ---- More damage: what XGBoost's loader and predictor read unchecked --------------------- */

static void parent_out_of_range(json_t *tree)
{
    json_array_set_new(json_object_get(tree, "parents"), 1, json_integer(100000));
}

static void category_negative(json_t *tree)
{
    json_array_set_new(json_object_get(tree, "categories"), 0, json_integer(-1));
}

static void category_too_large(json_t *tree)
{
    json_array_set_new(json_object_get(tree, "categories"), 0, json_integer(16777216));
}

/* A numerical split marked with split type 2. */
static void split_type_unknown(json_t *tree)
{
    json_t *types = json_object_get(tree, "split_type"),
           *left = json_object_get(tree, "left_children");
    size_t i;
    for (i = 0; i < json_array_size(types); i++) {
        if (json_integer_value(json_array_get(types, i)) == 0 &&
            json_integer_value(json_array_get(left, i)) != -1) {
            json_array_set_new(types, i, json_integer(2));
            return;
        }
    }
    cr_assert_fail("no numerical split");
}

/* A categorical split whose split type says numerical. */
static void split_type_inconsistent(json_t *tree)
{
    json_t *nodes = json_object_get(tree, "categories_nodes");
    json_array_set_new(json_object_get(tree, "split_type"),
                       (size_t)json_integer_value(json_array_get(nodes, 0)), json_integer(0));
}

static void num_nodes_wrong(json_t *tree)
{
    json_object_set_new(json_object_get(tree, "tree_param"), "num_nodes", json_string("3"));
}

static void split_conditions_integer(json_t *tree)
{
    json_array_set_new(json_object_get(tree, "split_conditions"), 0, json_integer(1));
}

static void tree_id_twice(json_t *model)
{
    json_object_set_new(json_array_get(model_trees(model), 1), "id", json_integer(0));
}

static void tree_info_out_of_range(json_t *model)
{
    json_array_set_new(json_object_get(json_object_get(model_booster(model), "model"), "tree_info"),
                       0, json_integer(5));
}

static void num_trees_wrong(json_t *model)
{
    json_object_set_new(
        json_object_get(json_object_get(model_booster(model), "model"), "gbtree_model_param"),
        "num_trees", json_string("9"));
}

static void weight_drop_short(json_t *model)
{
    json_t *w = json_object_get(model_booster(model), "weight_drop");
    json_array_remove(w, json_array_size(w) - 1);
}

static void base_score_long(json_t *model)
{
    json_object_set_new(json_object_get(json_object_get(model, "learner"), "learner_model_param"),
                        "base_score", json_string("0.1234567891"));
}

static void base_score_not_probability(json_t *model)
{
    json_object_set_new(json_object_get(json_object_get(model, "learner"), "learner_model_param"),
                        "base_score", json_string("1.5"));
}

static void objective_classes_differ(json_t *model)
{
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(model, "learner"), "objective"),
                        "softmax_multiclass_param"),
        "num_class", json_string("4"));
}

static void objective_unknown(json_t *model)
{
    json_object_set_new(json_object_get(json_object_get(model, "learner"), "objective"), "name",
                        json_string("reg:quantileerror"));
}

static void classes_without_multi(json_t *model)
{
    json_object_set_new(json_object_get(json_object_get(model, "learner"), "learner_model_param"),
                        "num_class", json_string("3"));
}

Test(xgboost, more_damage_is_refused)
{
    static const struct {
        const char *fixture;
        void (*tree)(json_t *tree);
        void (*model)(json_t *model);
        const char *needle;
    } cases[] = {
        {"reg.json", parent_out_of_range, NULL,
         "tree 0, node 1: parent 100000 is not a node of its "},
        {"categorical.json", category_negative, NULL,
         "category -1 is not one XGBoost matches (0 to 16777215)"},
        {"categorical.json", category_too_large, NULL,
         "category 16777216 is not one XGBoost matches (0 to 16777215)"},
        {"categorical.json", split_type_unknown, NULL,
         "split type 2 is neither 0 (numerical) nor 1 (categorical)"},
        {"categorical.json", split_type_inconsistent, NULL,
         "its categorical splits are not described consistently"},
        {"reg.json", num_nodes_wrong, NULL, "tree 0: tree_param.num_nodes is 3 but it has "},
        {"reg.json", NULL, tree_id_twice,
         "tree 1: id 0 is not one of the model's 8 trees, or is "
         "another tree's"},
        {"reg.json", NULL, tree_info_out_of_range, "tree 0: output group 5 of a model with 1"},
        {"reg.json", NULL, num_trees_wrong,
         "gbtree_model_param.num_trees is 9 but the model holds 8 trees"},
        {"dart.json", NULL, weight_drop_short, "weight_drop has 7 weights for 8 trees"},
        {"softprob.json", NULL, objective_classes_differ,
         "the objective has 4 classes but the model 3"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].tree != NULL)
            write_damaged(cases[i].fixture, "damaged.json", cases[i].tree);
        else
            write_damaged_model(cases[i].fixture, "damaged.json", cases[i].model);
        expect_model_refused(scratch, cases[i].needle);
        cr_expect(strstr(errstr, "(a damaged model file)") != NULL, "%s", errstr);
        unlink(scratch);
    }
}

/* Models XGBoost would read otherwise than they say, or predict nonsense with, whichever
 * engine: refused with what to do. */
Test(xgboost, ambiguous_models_are_refused)
{
    static const struct {
        const char *fixture;
        void (*tree)(json_t *tree);
        void (*model)(json_t *model);
        const char *needle;
    } cases[] = {
        {"reg.json", split_conditions_integer, NULL,
         "tree 0: split_conditions: an integer where XGBoost reads a float (a number with a "
         "fraction or an exponent) (at byte "},
        {"reg.json", NULL, base_score_long,
         "learner.learner_model_param.base_score: \"0.1234567891\" is not a number XGBoost "
         "reads (digits, a point and an exponent, at most 9 significant digits): XGBoost would "
         "use 0.5 instead"},
        {"reg.json", NULL, classes_without_multi,
         "3 classes with objective reg:squarederror, which predicts one value"},
    };
    static const char *const engines[] = {"native", "xgboost"};

    for (size_t e = 0; e < 2; e++) {
        set_param("sml.predictor.engine", engines[e]);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            if (cases[i].tree != NULL)
                write_damaged(cases[i].fixture, "odd.json", cases[i].tree);
            else
                write_damaged_model(cases[i].fixture, "odd.json", cases[i].model);
            expect_model_refused(scratch, cases[i].needle);
            unlink(scratch);
        }
    }
}

/* Only the native engine: what it cannot predict, and which engine can. */
Test(xgboost, native_engine_refusals)
{
    write_damaged_model("binary.json", "odd.json", base_score_not_probability);
    expect_model_refused(scratch, "base_score 1.5 is not a probability between 0 and 1, which "
                                  "binary:logistic requires");
    unlink(scratch);
    write_damaged_model("reg.json", "odd.json", objective_unknown);
    expect_model_refused(scratch, "objective reg:quantileerror is not one the native engine knows "
                                  "(reg:squarederror, ");
    cr_expect(strstr(errstr, "rank:map): set sml.predictor.engine to xgboost to predict with "
                             "XGBoost's library") != NULL,
              "%s", errstr);
    /* XGBoost 1.7 does not know it either. */
    set_param("sml.predictor.engine", "xgboost");
    expect_model_refused(scratch, "XGBoost cannot load it: ");
    unlink(scratch);
}

/* Text that is not what XGBoost writes, refused before it reaches XGBoost. */
Test(xgboost, model_text_refused)
{
    char text[4096];
    size_t i, n;

    /* a key twice: XGBoost would keep one, JSON the last and UBJSON the first */
    snprintf(text, sizeof(text), "{\"learner\":{},\"learner\":{}}");
    write_scratch("twice.json", text, strlen(text));
    expect_model_refused(scratch, "learner appears twice");
    unlink(scratch);
    /* nesting: XGBoost's reader recurses without bound */
    n = (size_t)snprintf(text, sizeof(text), "{\"learner\":{\"attributes\":");
    for (i = 0; i < 100; i++)
        text[n++] = '[';
    text[n] = '\0';
    write_scratch("nested.json", text, strlen(text));
    expect_model_refused(scratch, "learner: nested more than 64 levels deep at byte ");
    unlink(scratch);
    /* an escape XGBoost does not read */
    snprintf(text, sizeof(text), "{\"learner\":{\"feature_names\":[\"a\\/b\"]}}");
    write_scratch("escape.json", text, strlen(text));
    expect_model_refused(scratch, "not valid JSON: an escape XGBoost does not read");
    unlink(scratch);
}

/* A UBJSON file cut short is refused before XGBoost, whose reader reads past the end. */
Test(xgboost, truncated_files_are_refused)
{
    static const char *const files[] = {"reg.ubj", "categorical.ubj", "reg.json"};
    char *data;
    long len;

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        FILE *f = fopen(fixture_path(files[i]), "rb");
        cr_assert_not_null(f);
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        rewind(f);
        data = malloc((size_t)len);
        cr_assert_not_null(data);
        cr_assert_eq(fread(data, 1, (size_t)len, f), (size_t)len);
        fclose(f);
        for (long cut = 1; cut < len; cut += len / 37 + 1) {
            write_scratch(strstr(files[i], ".ubj") ? "cut.ubj" : "cut.json", data, (size_t)cut);
            /* JSON cut within a number can also be a number of the wrong kind */
            expect_model_refused(scratch, strstr(files[i], ".ubj") ? "not valid UBJSON: " : "");
            unlink(scratch);
        }
        free(data);
    }
}

/* ---- Engines ------------------------------------------------------------------------------ */

Test(xgboost, engine_option)
{
    set_param("sml.predictor.model", fixture_path("reg.json"));
    set_param("sml.predictor.engine", "fast");
    cr_expect_eq(create(), SYMTASK_ERR_FATAL);
    cr_expect_str_eq(errstr, "params.sml.predictor.engine: 'fast' is not an engine: native (the "
                             "plugin evaluates the trees, the default) or xgboost (XGBoost's "
                             "library predicts)");
    cr_expect_null(state);
    set_param("sml.predictor.engine", "xgboost");
    cr_expect_eq(create(), SYMTASK_OK, "%s", errstr);
    cr_expect(strstr(log_text, "loaded (sml.predictor.model): XGBoost engine, 1 thread\n") != NULL,
              "%s", log_text);
}

/* The log line names the engine and reports the compiled forest's size. */
Test(xgboost, log_line)
{
    create_model("reg.json");
    cr_expect(strstr(log_text, "xgboost: reg:squarederror model with 5 features and 1 outputs "
                               "loaded (sml.predictor.model): native engine, 8 trees (8 "
                               "complete, 0 sparse, 0 general, depth up to 3), ") != NULL,
              "%s", log_text);
    cr_expect(strstr(log_text, " KiB from a 9.4 KiB file\n") != NULL ||
                  strstr(log_text, " KiB file\n") != NULL,
              "%s", log_text);
    cr_expect(strstr(log_text, fixtures_dir) == NULL, "the log shows the path: %s", log_text);
    destroy();
    /* categorical splits in complete trees; deep lossguide trees in the sparse layout */
    create_model("categorical.ubj");
    cr_expect(strstr(log_text, "8 trees (8 complete, 0 sparse, 0 general, depth up to 3)") != NULL,
              "%s", log_text);
    destroy();
    create_model("catdeep.json");
    cr_expect(strstr(log_text, "8 trees (0 complete, 8 sparse, 0 general, ") != NULL, "%s",
              log_text);
}

/* Threads are XGBoost's: the native engine says it predicts on the worker's thread. */
Test(xgboost, native_engine_threads)
{
    int before = threads_now();
    size_t rows, n;
    double *x = fixture_rows(&rows, &n);
    result_t r;

    set_param("sml.predictor.threads", "4");
    create_model("softprob.json");
    cr_expect(strstr(log_text, "sml.predictor.threads is 4 but only engine xgboost predicts on "
                               "threads of its own: the native engine predicts on the worker's "
                               "thread") != NULL,
              "%s", log_text);
    cr_assert_eq(predict(x, rows, n, 4, &r), SYMTASK_OK, "%s", errstr);
    cr_expect_eq(threads_now(), before, "the native engine started threads");
    result_free(&r);
    free(x);
}

/* Rows of values XGBoost's trees treat specially: both engines agree bit for bit on every
 * model. */
Test(xgboost, engines_agree_on_odd_values)
{
    static const double odd[] = {
        NAN,        INFINITY,   -INFINITY,  0.0,  -0.0, 1e300, -1e300, 3.4e38, 3.5e38, -3.5e38,
        16777216.0, 16777215.5, 16777217.0, -0.5, -1.0, 0.5,   2.0,    2.7,    5.0,    6.0,
        1e-45,      -1e-45,     1e-40,      -2.5, 0.1,  1.0,   3.0,    4.0,
    };
    const size_t n_odd = sizeof(odd) / sizeof(odd[0]), rows = 3000;
    double *x = malloc(rows * 5 * sizeof(*x));
    uint64_t seed = 42;
    json_t *m;
    size_t i, j;

    cr_assert_not_null(x);
    for (i = 0; i < rows * 5; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (seed >> 33) % 3 == 0 ? odd[(seed >> 40) % n_odd]
                                     : ((int)(seed >> 44) % 800) / 100.0 - 4;
    }
    json_array_foreach (json_object_get(fixtures, "models"), j, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        json_t *names = json_object_get(m, "features");
        size_t n_features, n_outputs;
        const char *const *features, *const *outputs;
        char file[128];
        result_t native, reference;

        snprintf(file, sizeof(file), "%s.%s", name, j % 2 ? "json" : "ubj");
        if (json_is_null(names))
            set_param("sml.predictor.features", "a,b,c,d,e");
        else
            json_object_del(params_doc, "sml.predictor.features");
        set_param("sml.predictor.engine", "native");
        create_model(file);
        describe(&n_features, &n_outputs, &features, &outputs);
        cr_assert_eq(predict(x, rows, 5, n_outputs, &native), SYMTASK_OK, "%s", errstr);
        destroy();
        set_param("sml.predictor.engine", "xgboost");
        create_model(file);
        cr_assert_eq(predict(x, rows, 5, n_outputs, &reference), SYMTASK_OK, "%s", errstr);
        destroy();
        for (i = 0; i < rows; i++) {
            cr_expect_eq(native.row_status[i], reference.row_status[i], "%s row %zu", file, i);
            for (size_t k = 0; k < n_outputs; k++)
                cr_expect(
                    same(native.outputs[i * n_outputs + k], reference.outputs[i * n_outputs + k]),
                    "%s row %zu output %zu: native %.17g, xgboost %.17g", file, i, k,
                    native.outputs[i * n_outputs + k], reference.outputs[i * n_outputs + k]);
        }
        result_free(&native);
        result_free(&reference);
    }
    free(x);
}

static long rss_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");

    cr_assert_not_null(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* Non-zero when the process runs under valgrind or AddressSanitizer, whose allocators make its
 * resident set their own (the test says so). */
static int resident_set_foreign(void)
{
    const char *preload = getenv("LD_PRELOAD");
    int valgrind = preload != NULL && strstr(preload, "vgpreload") != NULL, asan = 0;

#ifdef UNDER_ASAN
    asan = 1;
#endif
    if (valgrind || asan)
        fprintf(stderr, "xgboost: the resident set is not checked under %s\n",
                valgrind ? "valgrind" : "AddressSanitizer");
    return valgrind || asan;
}

/* The compiled model costs less resident memory than twice its file (issue 16); the log line
 * says how much it holds. */
Test(xgboost, compiled_model_memory)
{
    static const char *const files[] = {"large.json", "large.ubj"};

    for (size_t i = 0; i < 2; i++) {
        struct stat st;
        double compiled_kib;
        long before, after;
        const char *at;
        result_t r;
        size_t rows, n;
        double *x = fixture_rows(&rows, &n);

        cr_assert_eq(stat(fixture_path(files[i]), &st), 0);
        malloc_trim(0);
        before = rss_kib();
        create_model(files[i]);
        cr_assert_eq(predict(x, rows, n, 1, &r), SYMTASK_OK, "%s", errstr);
        result_free(&r);
        free(x);
        malloc_trim(0);
        after = rss_kib();
        at = strstr(log_text, "compiled into ");
        cr_assert_not_null(at, "%s", log_text);
        cr_assert_eq(sscanf(at, "compiled into %lf KiB", &compiled_kib), 1, "%s", log_text);
        cr_expect_lt(compiled_kib * 1024, 2.0 * (double)st.st_size, "%s", log_text);
        destroy();
        /* Under valgrind or AddressSanitizer the resident set is theirs more than ours. */
        if (resident_set_foreign())
            continue;
        cr_expect_lt((after - before) * 1024.0, 2.0 * (double)st.st_size,
                     "%s: RSS grew by %ld KiB for a %lld-byte file", files[i], after - before,
                     (long long)st.st_size);
        fprintf(stderr, "xgboost: %s (%lld bytes): compiled %.1f KiB, RSS +%ld KiB\n", files[i],
                (long long)st.st_size, compiled_kib, after - before);
    }
}

/* Makes @model's trees one leaf each, of value @leaf, and its base_score @base. */
static double one_leaf_value;
static const char *one_leaf_base;

static void one_leaf_trees(json_t *model)
{
    json_t *trees, *tree, *booster = model_booster(model);
    json_t *param = json_object_get(json_object_get(model, "learner"), "learner_model_param");
    json_t *gbtree = json_object_get(booster, "model");
    size_t i, groups = (size_t)atoi(json_string_value(json_object_get(param, "num_class")));
    char text[24];

    /* one round: a tree per output group, so that each margin is the leaf itself */
    if (groups < 1)
        groups = 1;
    if (gbtree == NULL)
        gbtree = json_object_get(json_object_get(booster, "gbtree"), "model");
    trees = json_object_get(gbtree, "trees");
    while (json_array_size(trees) > groups) {
        json_array_remove(trees, json_array_size(trees) - 1);
        json_array_remove(json_object_get(gbtree, "tree_info"),
                          json_array_size(json_object_get(gbtree, "tree_info")) - 1);
        if (json_object_get(booster, "weight_drop") != NULL)
            json_array_remove(json_object_get(booster, "weight_drop"),
                              json_array_size(json_object_get(booster, "weight_drop")) - 1);
    }
    snprintf(text, sizeof(text), "%zu", groups);
    json_object_set_new(json_object_get(gbtree, "gbtree_model_param"), "num_trees",
                        json_string(text));

    json_array_foreach (trees, i, tree) {
        static const char *const floats[] = {"base_weights", "loss_changes", "sum_hessian",
                                             "split_conditions"};
        for (size_t k = 0; k < 4; k++)
            json_object_set_new(tree, floats[k], json_pack("[f]", one_leaf_value));
        json_object_set_new(tree, "left_children", json_pack("[i]", -1));
        json_object_set_new(tree, "right_children", json_pack("[i]", -1));
        json_object_set_new(tree, "parents", json_pack("[i]", 2147483647));
        json_object_set_new(tree, "split_indices", json_pack("[i]", 0));
        json_object_set_new(tree, "default_left", json_pack("[i]", 0));
        json_object_set_new(tree, "split_type", json_pack("[i]", 0));
        json_object_set_new(tree, "categories", json_array());
        json_object_set_new(tree, "categories_nodes", json_array());
        json_object_set_new(tree, "categories_segments", json_array());
        json_object_set_new(tree, "categories_sizes", json_array());
        json_object_set_new(json_object_get(tree, "tree_param"), "num_nodes", json_string("1"));
    }
    json_object_set_new(json_object_get(json_object_get(model, "learner"), "learner_model_param"),
                        "base_score", json_string(one_leaf_base));
}

/* Each objective's transform rounds as XGBoost's: on margins where expf and exp in double
 * round apart (1 float in 15000 or so, which the fixtures' margins never meet), both engines
 * agree. (XGBoost's survival:aft calls exp in double, the others expf.) */
Test(xgboost, transforms_round_as_xgboost)
{
    static const struct {
        const char *fixture, *base; /* base_score whose margin is 0 */
        float from, to;             /* where to look for margins */
    } cases[] = {
        {"aft.json", "1E0", -20, 20},          {"cox.json", "1E0", -20, 20},
        {"poisson.json", "1E0", -20, 20},      {"gamma.json", "1E0", -20, 20},
        {"tweedie.json", "1E0", -20, 20},      {"binary.json", "5E-1", -20, 20},
        {"logistic.json", "5E-1", -20, 20},    {"softprob.json", "5E-1", -20, 20},
        {"dart_softprob.json", "5E-1", -3, 3},
    };
    static const char *const engines[] = {"native", "xgboost"};
    double x[5] = {0};

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        uint32_t seed = 12345 + (uint32_t)c;
        int found = 0;

        while (found < 4) {
            seed = seed * 1664525u + 1013904223u;
            float v =
                cases[c].from + (float)(seed >> 8) / 16777216.0f * (cases[c].to - cases[c].from);
            volatile float a = expf(v), b = (float)exp((double)v), na = expf(-v),
                           nb = (float)exp(-(double)v);
            if (a == b && na == nb)
                continue;
            found++;
            one_leaf_value = v;
            one_leaf_base = cases[c].base;
            write_damaged_model(cases[c].fixture, "oneleaf.json", one_leaf_trees);
            double out[2][8];
            size_t n_outputs = 0;
            for (size_t e = 0; e < 2; e++) {
                const char *const *features, *const *outputs;
                size_t n_features;
                result_t r;

                set_param("sml.predictor.engine", engines[e]);
                create_model(scratch + strlen(fixtures_dir) + 1);
                describe(&n_features, &n_outputs, &features, &outputs);
                cr_assert_leq(n_outputs, 8);
                cr_assert_eq(predict(x, 1, 5, n_outputs, &r), SYMTASK_OK, "%s", errstr);
                memcpy(out[e], r.outputs, n_outputs * sizeof(double));
                result_free(&r);
                destroy();
            }
            for (size_t k = 0; k < n_outputs; k++)
                cr_expect(same(out[0][k], out[1][k]),
                          "%s, leaves %.9g: output %zu: native %.17g, xgboost %.17g",
                          cases[c].fixture, (double)v, k, out[0][k], out[1][k]);
            unlink(scratch);
        }
    }
}

/* Tree 0 of @model becomes a chain of CHAIN_SPLITS splits, each with a leaf on its left and
 * the next split on its right, alternating categorical splits on feature 3 and numerical
 * ones, default left and right: too deep for the complete and sparse layouts. */
#define CHAIN_SPLITS 45
static void chain_tree(json_t *model)
{
    json_t *tree = json_array_get(model_trees(model), 0);
    json_t *left = json_array(), *right = json_array(), *parents = json_array();
    json_t *index = json_array(), *cond = json_array(), *dleft = json_array();
    json_t *types = json_array(), *zeros = json_array(), *cats = json_array();
    json_t *cat_nodes = json_array(), *cat_segments = json_array(), *cat_sizes = json_array();
    size_t n = 2 * CHAIN_SPLITS + 1, i;
    char text[16];

    for (i = 0; i < n; i++) {
        int split = i % 2 == 0 && i < n - 1;
        size_t k = i / 2;

        json_array_append_new(left, json_integer(split ? (json_int_t)i + 1 : -1));
        json_array_append_new(right, json_integer(split ? (json_int_t)i + 2 : -1));
        json_array_append_new(
            parents, json_integer(i == 0 ? 2147483647 : (json_int_t)((i - 1) & ~(size_t)1)));
        json_array_append_new(dleft, json_integer(split ? (json_int_t)(k % 2) : 0));
        json_array_append_new(zeros, json_real(0.0));
        if (split && k % 3 == 0) {
            json_array_append_new(index, json_integer(3));
            json_array_append_new(cond, json_real(0.0)); /* ignored; jansson writes no NaN */
            json_array_append_new(types, json_integer(1));
            json_array_append_new(cat_nodes, json_integer((json_int_t)i));
            json_array_append_new(cat_segments, json_integer((json_int_t)json_array_size(cats)));
            json_array_append_new(cat_sizes, json_integer(2));
            json_array_append_new(cats, json_integer((json_int_t)(k % 6)));
            json_array_append_new(cats, json_integer((json_int_t)((k + 2) % 6)));
        } else {
            json_array_append_new(index, json_integer(split ? (json_int_t)(k % 5) : 0));
            json_array_append_new(cond,
                                  json_real(split ? (double)(k % 7) - 3 + 0.5 : k * 0.25 - 3));
            json_array_append_new(types, json_integer(0));
        }
    }
    json_object_set_new(tree, "left_children", left);
    json_object_set_new(tree, "right_children", right);
    json_object_set_new(tree, "parents", parents);
    json_object_set_new(tree, "split_indices", index);
    json_object_set_new(tree, "split_conditions", cond);
    json_object_set_new(tree, "default_left", dleft);
    json_object_set_new(tree, "split_type", types);
    json_object_set(tree, "base_weights", zeros);
    json_object_set(tree, "loss_changes", zeros);
    json_object_set_new(tree, "sum_hessian", zeros);
    json_object_set_new(tree, "categories", cats);
    json_object_set_new(tree, "categories_nodes", cat_nodes);
    json_object_set_new(tree, "categories_segments", cat_segments);
    json_object_set_new(tree, "categories_sizes", cat_sizes);
    snprintf(text, sizeof(text), "%zu", n);
    json_object_set_new(json_object_get(tree, "tree_param"), "num_nodes", json_string(text));
}

/* The general layout (a tree too deep for the others), with categorical and numerical splits
 * both ways: both engines agree bit for bit. */
Test(xgboost, general_layout_agrees)
{
    static const char *const engines[] = {"native", "xgboost"};
    const size_t rows = 2000;
    double *x = malloc(rows * 5 * sizeof(*x));
    uint64_t seed = 7;
    result_t r[2];
    size_t i;

    cr_assert_not_null(x);
    for (i = 0; i < rows * 5; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (seed >> 33) % 9 == 0 ? NAN : ((int)(seed >> 40) % 90) / 10.0 - 2;
    }
    write_damaged_model("categorical.json", "chain.json", chain_tree);
    for (size_t e = 0; e < 2; e++) {
        set_param("sml.predictor.engine", engines[e]);
        create_model(scratch + strlen(fixtures_dir) + 1);
        if (e == 0)
            cr_expect(strstr(log_text,
                             "8 trees (7 complete, 0 sparse, 1 general, depth up to 45)") != NULL,
                      "%s", log_text);
        cr_assert_eq(predict(x, rows, 5, 1, &r[e]), SYMTASK_OK, "%s", errstr);
        destroy();
    }
    for (i = 0; i < rows; i++)
        cr_expect(same(r[0].outputs[i], r[1].outputs[i]), "row %zu: native %.17g, xgboost %.17g", i,
                  r[0].outputs[i], r[1].outputs[i]);
    result_free(&r[0]);
    result_free(&r[1]);
    unlink(scratch);
    free(x);
}
