/* xgboost.c: the "xgboost" predictor plugin: a model saved by XGBoost as JSON or UBJSON, read
 * and checked by the plugin, then evaluated by its native engine (xgb_forest.c) or by
 * XGBoost's C API, one in-place prediction per batch (see README.md). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xgboost/c_api.h>

#include "symtask/plugin.h"
#include "xgb_internal.h"

#define XGB_MODEL_KEY "sml.predictor.model"
#define XGB_SEED_MODEL_KEY "sml.kstream.model.b64file"
#define XGB_FEATURES_KEY "sml.predictor.features"
#define XGB_THREADS_KEY "sml.predictor.threads"
#define XGB_ENGINE_KEY "sml.predictor.engine"
#define XGB_THREADS_MAX 1024

/* Normal prediction (type 0: probabilities for binary:logistic and multi:softprob) with every
 * tree, NaN for missing. XGBoost 1.7 requires "cache_id" (and "missing") for in-place
 * prediction: without them it fails with "Invalid cast, from Null to Integer". */
#define XGB_PREDICT_CONFIG                                                                         \
    "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"                    \
    "\"strict_shape\":false,\"cache_id\":0,\"missing\":NaN}"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define XGB_FLOAT_TYPESTR ">f4"
#else
#define XGB_FLOAT_TYPESTR "<f4"
#endif

/* What the outputs are made of, by objective. */
typedef enum xgb_kind {
    XGB_KIND_VALUE,    /* prediction = what XGBoost predicts (reg:*, multi:softmax, others) */
    XGB_KIND_BINARY,   /* binary:logistic: prediction = class 0/1, probability of class 1 */
    XGB_KIND_SOFTPROB, /* multi:softprob: prediction = argmax, probability.K per class */
} xgb_kind_t;

typedef enum xgb_engine {
    XGB_ENGINE_NATIVE,  /* the plugin's own evaluator */
    XGB_ENGINE_XGBOOST, /* XGBoost's library: the reference */
} xgb_engine_t;

typedef struct xgb {
    const symtask_host_t *host;
    xgb_engine_t engine;
    BoosterHandle booster; /* engine xgboost */
    xgb_forest_t *forest;  /* engine native */
    xgb_kind_t kind;
    char objective[64]; /* for the log */
    size_t n_features;
    char **features;
    size_t n_outputs;
    char **outputs;
    symtask_column_t *columns; /* the features, then the outputs, all numbers */
    size_t per_row; /* values XGBoost predicts per row: 1, or the classes of multi:softprob */
    float *x;       /* xgboost: the batch as 32-bit floats, x_rows rows; reused */
    size_t x_rows;
    float *p; /* native: the predictions of a batch, p_rows rows; reused */
    size_t p_rows;
} xgb_t;

static const symtask_option_t xgb_options[] = {
    {XGB_MODEL_KEY, SYMTASK_OPTION_PATH, NULL, 0,
     "Path of a model saved by XGBoost's save_model: a .json (JSON) or .ubj (UBJSON) file."},
    {XGB_SEED_MODEL_KEY, SYMTASK_OPTION_PATH, NULL, 0,
     "The SymetryML name for the model file's path, read when sml.predictor.model is not set "
     "(a path to the same .json or .ubj file, not base64)."},
    {XGB_FEATURES_KEY, SYMTASK_OPTION_LIST, NULL, 0,
     "The model's features in training order; required when the model has no feature names, "
     "else it must equal them."},
    {XGB_THREADS_KEY, SYMTASK_OPTION_INT, "1", 0,
     "Threads XGBoost predicts a batch with (1 to 1024), with engine xgboost."},
    {XGB_ENGINE_KEY, SYMTASK_OPTION_STRING, "native", 0,
     "native: the plugin evaluates the trees itself, as XGBoost does; xgboost: XGBoost's "
     "library predicts."},
    {NULL},
};

static void xgb_strings_free(char **strings, size_t n)
{
    size_t i;

    for (i = 0; strings != NULL && i < n; i++)
        free(strings[i]);
    free(strings);
}

static void xgb_free(xgb_t *xgb)
{
    if (xgb == NULL)
        return;
    if (xgb->booster != NULL)
        XGBoosterFree(xgb->booster);
    xgb_forest_free(xgb->forest);
    xgb_strings_free(xgb->features, xgb->n_features);
    xgb_strings_free(xgb->outputs, xgb->n_outputs);
    free(xgb->columns);
    free(xgb->x);
    free(xgb->p);
    free(xgb);
}

/* XGBoost's last error on one line of printable ASCII (it may quote the model's bytes):
 * without the time, the source location, the quoted input and the stack trace it adds
 * ("[15:10:42] ./src/common/json.cc:407: Expecting: ..., around character position: 2\n
 * {"learner"\n ~^~~~\nStack trace: ..."). */
static void xgb_last_error(char *out, size_t out_size)
{
    const char *e = XGBGetLastError(), *end, *colon, *cut;
    size_t o = 0;
    int space = 0;

    if (e == NULL)
        e = "";
    if (e[0] == '[' && (end = strstr(e, "] ")) != NULL)
        e = end + 2;
    colon = strstr(e, ": ");
    if (colon != NULL && memchr(e, ' ', (size_t)(colon - e)) == NULL &&
        memchr(e, ':', (size_t)(colon - e)) != NULL)
        e = colon + 2;
    end = strstr(e, "Stack trace:");
    if (end == NULL)
        end = e + strlen(e);
    cut = strstr(e, "around character position: ");
    if (cut != NULL && cut < end) {
        cut += strlen("around character position: ");
        while (*cut >= '0' && *cut <= '9')
            cut++;
        end = cut;
    }
    for (; e < end && o + 1 < out_size; e++) {
        unsigned char c = (unsigned char)*e;

        if (c <= ' ' || c >= 0x7f) {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < out_size)
            out[o++] = ' ';
        space = 0;
        out[o++] = (char)c;
    }
    if (o == 0)
        snprintf(out, out_size, "unknown error");
    else
        out[o] = '\0';
}

static int xgb_has_extension(const char *path, const char *ext)
{
    size_t len = strlen(path), n = strlen(ext);

    return len > n && strcasecmp(path + len - n, ext) == 0 && path[len - n - 1] != '/';
}

/* Checks the file's name and first byte before XGBoost reads it, whose messages for these
 * cases ("Check failed: str[0] == '{' (h vs. {)") would not say what to do. Sets *@hint to
 * what to add when XGBoost fails: a hint when the content looks like the other format. */
static int xgb_model_check_file(const char *path, const char **hint, char *why, size_t why_size)
{
    unsigned char head[2];
    size_t n;
    FILE *f;
    int ubj = xgb_has_extension(path, ".ubj");

    /* XGBoost picks the format by the name: .json and .ubj (in any case), anything else its
     * deprecated binary format. */
    if (!ubj && !xgb_has_extension(path, ".json")) {
        snprintf(why, why_size,
                 "the name must end in .json (JSON) or .ubj (UBJSON), the formats XGBoost's "
                 "save_model writes for those names: save the model as model.json or model.ubj");
        return -1;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, why_size, "cannot be opened: %s", strerror(errno));
        return -1;
    }
    n = fread(head, 1, sizeof(head), f);
    fclose(f);
    if (n == 0 || head[0] != '{') {
        snprintf(why, why_size,
                 "%s, not a model saved by XGBoost as JSON or UBJSON (which starts with '{')",
                 n == 0 ? "is empty" : "does not start with '{'");
        return -1;
    }
    /* JSON text goes on with a quote or a space; UBJSON with a type letter. */
    *hint = "";
    if (n == 2 && ubj && (head[1] == '"' || head[1] <= ' '))
        *hint = " (the file holds JSON text: name it .json)";
    else if (n == 2 && !ubj && head[1] > ' ' && head[1] != '"' && head[1] != '}')
        *hint = " (the file looks like UBJSON: name it .ubj)";
    return 0;
}

/* Sets the features from the model's names (of @m) or from sml.predictor.features (@list, may
 * be NULL). On failure writes the whole message to @errstr. */
static int xgb_features_set(xgb_t *xgb, const char *list, const xgb_model_t *m,
                            const char *model_key, const char *path, char *errstr,
                            size_t errstr_size)
{
    const char *const *names = (const char *const *)m->feature_names;
    char *copy = NULL, *item, *next;
    size_t n = (size_t)m->num_feature, n_names = m->n_feature_names, i, j, count = 0;

    if (n_names == 0 && list == NULL) {
        snprintf(errstr, errstr_size,
                 "params.%s: required: model file %s has no feature names, so list its %zu "
                 "features in training order",
                 XGB_FEATURES_KEY, path, n);
        return -1;
    }

    xgb->features = calloc(n, sizeof(*xgb->features));
    if (xgb->features == NULL)
        goto nomem;
    xgb->n_features = n;
    for (i = 0; i < n_names; i++) {
        if (names[i][0] == '\0') {
            snprintf(errstr, errstr_size, "params.%s: model file %s: feature %zu has no name",
                     model_key, path, i + 1);
            return -1;
        }
        for (j = 0; j < i; j++) {
            if (strcmp(xgb->features[j], names[i]) == 0) {
                snprintf(errstr, errstr_size,
                         "params.%s: model file %s: feature '%.64s' is named twice", model_key,
                         path, names[i]);
                return -1;
            }
        }
        xgb->features[i] = strdup(names[i]);
        if (xgb->features[i] == NULL)
            goto nomem;
    }
    if (list == NULL)
        return 0;

    copy = strdup(list);
    if (copy == NULL)
        goto nomem;
    for (item = copy; item != NULL; item = next) {
        size_t len;

        next = strchr(item, ',');
        if (next != NULL)
            *next++ = '\0';
        /* Surrounding spaces are not part of a name ("a, b"), as in sml.serializer.columns. */
        while (*item == ' ' || *item == '\t')
            item++;
        for (len = strlen(item); len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t'); len--)
            item[len - 1] = '\0';
        if (count == n) {
            count++;
            continue;
        }
        if (n_names != 0) {
            /* Both: the list is a check, not a renaming, so that a list in another order
             * cannot silently feed the model the wrong columns. */
            if (strcmp(item, xgb->features[count]) != 0) {
                snprintf(errstr, errstr_size,
                         "params.%s: feature %zu is '%.64s' but the model's is '%.64s': leave "
                         "the param out to use the model's feature names, or list them in its "
                         "order",
                         XGB_FEATURES_KEY, count + 1, item, xgb->features[count]);
                goto error;
            }
        } else {
            for (j = 0; j < count; j++) {
                if (strcmp(xgb->features[j], item) == 0) {
                    snprintf(errstr, errstr_size, "params.%s: feature '%.64s' is listed twice",
                             XGB_FEATURES_KEY, item);
                    goto error;
                }
            }
            xgb->features[count] = strdup(item);
            if (xgb->features[count] == NULL)
                goto nomem;
        }
        count++;
    }
    if (count != n) {
        snprintf(errstr, errstr_size, "params.%s: lists %zu features but the model reads %zu",
                 XGB_FEATURES_KEY, count, n);
        goto error;
    }
    free(copy);
    return 0;

nomem:
    snprintf(errstr, errstr_size, "xgboost: out of memory");
error:
    free(copy);
    return -1;
}

/* Sets the kind and the outputs from the model's objective and classes. */
static int xgb_outputs_set(xgb_t *xgb, const xgb_model_t *m, char *why, size_t why_size)
{
    size_t i;

    xgb->kind = XGB_KIND_VALUE;
    xgb->per_row = 1;
    if (strcmp(m->objective, "binary:logistic") == 0) {
        xgb->kind = XGB_KIND_BINARY;
    } else if (strcmp(m->objective, "multi:softprob") == 0) {
        if (m->num_class < 1 || m->num_class > 100000) {
            snprintf(why, why_size, "multi:softprob with %ld classes is not supported",
                     m->num_class);
            return -1;
        }
        xgb->kind = XGB_KIND_SOFTPROB;
        xgb->per_row = (size_t)m->num_class;
    }

    xgb->n_outputs = xgb->kind == XGB_KIND_VALUE ? 1 : 1 + xgb->per_row;
    xgb->outputs = calloc(xgb->n_outputs, sizeof(*xgb->outputs));
    if (xgb->outputs == NULL)
        goto nomem;
    xgb->outputs[0] = strdup("prediction");
    if (xgb->outputs[0] == NULL)
        goto nomem;
    if (xgb->kind == XGB_KIND_BINARY) {
        xgb->outputs[1] = strdup("probability");
        if (xgb->outputs[1] == NULL)
            goto nomem;
    }
    for (i = 0; xgb->kind == XGB_KIND_SOFTPROB && i < xgb->per_row; i++) {
        char name[48];

        snprintf(name, sizeof(name), "probability.%zu", i);
        xgb->outputs[1 + i] = strdup(name);
        if (xgb->outputs[1 + i] == NULL)
            goto nomem;
    }
    snprintf(xgb->objective, sizeof(xgb->objective), "%s", m->objective);
    return 0;

nomem:
    snprintf(why, why_size, "out of memory reading the model");
    return -1;
}

/* Reads the whole file at @path into *@data (*@len bytes). */
static int xgb_file_read(const char *path, unsigned char **data, size_t *len, char *why,
                         size_t why_size)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 16, n = 0, got;
    unsigned char *buf = NULL, *grown;

    if (f == NULL) {
        snprintf(why, why_size, "cannot be opened: %s", strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);

        if (size > 0)
            cap = (size_t)size + 1;
        rewind(f);
    }
    for (;;) {
        if (n == cap || buf == NULL) {
            if (buf != NULL)
                cap *= 2;
            grown = realloc(buf, cap);
            if (grown == NULL) {
                snprintf(why, why_size, "out of memory reading it");
                goto error;
            }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(why, why_size, "cannot be read: %s", strerror(errno));
        goto error;
    }
    fclose(f);
    *data = buf;
    *len = n;
    return 0;

error:
    fclose(f);
    free(buf);
    return -1;
}

/* Makes room for a batch of @rows rows. */
static int xgb_reserve(xgb_t *xgb, size_t rows)
{
    if (xgb->engine == XGB_ENGINE_NATIVE) {
        float *p;

        if (rows <= xgb->p_rows)
            return 0;
        if (rows > SIZE_MAX / sizeof(float) / xgb->per_row)
            return -1;
        p = realloc(xgb->p, rows * xgb->per_row * sizeof(float));
        if (p == NULL)
            return -1;
        xgb->p = p;
        xgb->p_rows = rows;
        return 0;
    }
    float *x;

    if (rows <= xgb->x_rows)
        return 0;
    if (rows > SIZE_MAX / sizeof(float) / xgb->n_features)
        return -1;
    x = realloc(xgb->x, rows * xgb->n_features * sizeof(float));
    if (x == NULL)
        return -1;
    xgb->x = x;
    xgb->x_rows = rows;
    return 0;
}

/* Predicts the @rows rows in xgb->x with XGBoost; sets *@out to its rows × per_row results,
 * valid until the next call. */
static int xgb_run(xgb_t *xgb, size_t rows, const float **out, char *why, size_t why_size)
{
    char values[192];
    const bst_ulong *shape;
    bst_ulong dim, i, count = 1;

    /* numpy's __array_interface__ (version 3): the data pointer as a number, read-only. */
    snprintf(values, sizeof(values),
             "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%zu],\"typestr\":\"" XGB_FLOAT_TYPESTR
             "\",\"version\":3}",
             (uintptr_t)xgb->x, rows, xgb->n_features);
    if (XGBoosterPredictFromDense(xgb->booster, values, XGB_PREDICT_CONFIG, NULL, &shape, &dim,
                                  out) != 0) {
        xgb_last_error(why, why_size);
        return -1;
    }
    for (i = 0; i < dim; i++)
        count *= shape[i];
    if (count != rows * xgb->per_row) {
        snprintf(why, why_size, "XGBoost predicted %zu values for %zu rows, expected %zu per row",
                 (size_t)count, rows, xgb->per_row);
        return -1;
    }
    return 0;
}

/* Engine xgboost: XGBoost loads the model from the bytes the plugin has checked and predicts
 * one row of missing values, so that a model XGBoost can load but cannot predict with fails
 * the create rather than the first batch. */
static int xgb_booster_load(xgb_t *xgb, long long n_threads, const unsigned char *data, size_t len,
                            char *errstr, size_t errstr_size, char *why, size_t why_size)
{
    char detail[400];
    const float *out;
    size_t i;

    if (XGBoosterCreate(NULL, 0, &xgb->booster) != 0) {
        xgb_last_error(why, why_size);
        snprintf(errstr, errstr_size, "xgboost: %s", why);
        return -1;
    }
    /* XGBoost applies params lazily, at the first prediction: loading itself runs on its
     * default threads (one per core), which then sleep in OpenMP's pool. */
    snprintf(detail, sizeof(detail), "%lld", n_threads);
    if (XGBoosterSetParam(xgb->booster, "nthread", detail) != 0) {
        xgb_last_error(why, why_size);
        snprintf(errstr, errstr_size, "xgboost: %s", why);
        return -1;
    }
    if (XGBoosterLoadModelFromBuffer(xgb->booster, data, len) != 0) {
        xgb_last_error(detail, sizeof(detail));
        snprintf(why, why_size, "XGBoost cannot load it: %s", detail);
        return 1;
    }
    if (xgb_reserve(xgb, 1) != 0) {
        snprintf(errstr, errstr_size, "xgboost: out of memory");
        return -1;
    }
    for (i = 0; i < xgb->n_features; i++)
        xgb->x[i] = NAN;
    if (xgb_run(xgb, 1, &out, detail, sizeof(detail)) != 0) {
        snprintf(why, why_size, "XGBoost cannot predict with it: %s", detail);
        return 1;
    }
    return 0;
}

static symtask_status_t xgb_create(const symtask_host_t *host, const symtask_params_t *params,
                                   void **state, char *errstr, size_t errstr_size)
{
    const char *key = XGB_MODEL_KEY, *path, *threads, *engine, *hint = "";
    char why[512], *end;
    unsigned char *data = NULL;
    size_t len = 0, i;
    long long n_threads;
    int ubj, rc;
    xgb_model_t model = {0};
    xgb_t *xgb;

    xgb = calloc(1, sizeof(*xgb));
    if (xgb == NULL) {
        snprintf(errstr, errstr_size, "xgboost: out of memory");
        return SYMTASK_ERR_FATAL;
    }
    xgb->host = host;

    threads = host->param(params, XGB_THREADS_KEY);
    n_threads = strtoll(threads, &end, 10);
    if (*end != '\0' || n_threads < 1 || n_threads > XGB_THREADS_MAX) {
        snprintf(errstr, errstr_size, "params.%s: %.32s is not a whole number from 1 to %d",
                 XGB_THREADS_KEY, threads, XGB_THREADS_MAX);
        goto error;
    }
    engine = host->param(params, XGB_ENGINE_KEY);
    if (strcmp(engine, "native") == 0) {
        xgb->engine = XGB_ENGINE_NATIVE;
    } else if (strcmp(engine, "xgboost") == 0) {
        xgb->engine = XGB_ENGINE_XGBOOST;
    } else {
        snprintf(errstr, errstr_size,
                 "params.%s: '%.32s' is not an engine: native (the plugin evaluates the trees, "
                 "the default) or xgboost (XGBoost's library predicts)",
                 XGB_ENGINE_KEY, engine);
        goto error;
    }

    path = host->param(params, XGB_MODEL_KEY);
    if (path == NULL) {
        key = XGB_SEED_MODEL_KEY;
        path = host->param(params, XGB_SEED_MODEL_KEY);
    }
    if (path == NULL) {
        snprintf(errstr, errstr_size,
                 "params.%s: required: set it (or %s) to the path of a model saved by XGBoost "
                 "(.json or .ubj)",
                 XGB_MODEL_KEY, XGB_SEED_MODEL_KEY);
        goto error;
    }
    if (xgb_model_check_file(path, &hint, why, sizeof(why)) != 0 ||
        xgb_file_read(path, &data, &len, why, sizeof(why)) != 0)
        goto model_error;
    /* The plugin reads and checks every model itself, whichever engine predicts: XGBoost
     * reads a file unchecked, and a damaged one could crash the worker. */
    ubj = xgb_has_extension(path, ".ubj");
    if (xgb_model_read(data, len, ubj, &model, why, sizeof(why)) != 0) {
        size_t n = strlen(why);

        snprintf(why + n, sizeof(why) - n, "%s", hint);
        goto model_error;
    }
    if (xgb_model_check(&model, why, sizeof(why)) != 0 ||
        xgb_outputs_set(xgb, &model, why, sizeof(why)) != 0)
        goto model_error;
    if (xgb_features_set(xgb, host->param(params, XGB_FEATURES_KEY), &model, key, path, errstr,
                         errstr_size) != 0)
        goto error;

    if (xgb->engine == XGB_ENGINE_NATIVE) {
        xgb_forest_stats_t stats;

        xgb->forest = xgb_forest_compile(&model, why, sizeof(why));
        if (xgb->forest == NULL) {
            if (xgb_objective_link(model.objective) < 0) {
                size_t n = strlen(why);

                snprintf(why + n, sizeof(why) - n,
                         ": set %s to xgboost to predict with XGBoost's library", XGB_ENGINE_KEY);
            }
            goto model_error;
        }
        if (xgb_forest_per_row(xgb->forest) != xgb->per_row) {
            snprintf(why, sizeof(why), "the model predicts %zu values per row, expected %zu",
                     xgb_forest_per_row(xgb->forest), xgb->per_row);
            goto model_error;
        }
        if (n_threads != 1)
            host->log(SYMTASK_LOG_WARN,
                      "xgboost: %s is %lld but only engine xgboost predicts on threads of its "
                      "own: the native engine predicts on the worker's thread",
                      XGB_THREADS_KEY, n_threads);
        xgb_forest_stats(xgb->forest, &stats);
        /* the path is the task's business (API.md counts it as a secret): not in the log */
        host->log(SYMTASK_LOG_INFO,
                  "xgboost: %s model with %zu features and %zu outputs loaded (%s): native "
                  "engine, %zu trees (%zu complete, %zu sparse, %zu general, depth up to %u), "
                  "%zu nodes compiled into %.1f KiB from a %.1f KiB file",
                  xgb->objective, xgb->n_features, xgb->n_outputs, key, stats.trees, stats.complete,
                  stats.sparse, stats.general, stats.max_depth, stats.nodes,
                  (double)stats.bytes / 1024, (double)len / 1024);
    } else {
        rc = xgb_booster_load(xgb, n_threads, data, len, errstr, errstr_size, why, sizeof(why));
        if (rc < 0)
            goto error;
        if (rc > 0)
            goto model_error;
        host->log(SYMTASK_LOG_INFO,
                  "xgboost: %s model with %zu features and %zu outputs loaded (%s): XGBoost "
                  "engine, %lld thread%s",
                  xgb->objective, xgb->n_features, xgb->n_outputs, key, n_threads,
                  n_threads == 1 ? "" : "s");
    }
    xgb_model_free(&model);
    free(data);
    data = NULL;

    xgb->columns = calloc(xgb->n_features + xgb->n_outputs, sizeof(*xgb->columns));
    if (xgb->columns == NULL) {
        snprintf(errstr, errstr_size, "xgboost: out of memory");
        goto error;
    }
    for (i = 0; i < xgb->n_features; i++)
        xgb->columns[i] = (symtask_column_t){xgb->features[i], SYMTASK_TYPE_NUMBER};
    for (i = 0; i < xgb->n_outputs; i++)
        xgb->columns[xgb->n_features + i] =
            (symtask_column_t){xgb->outputs[i], SYMTASK_TYPE_NUMBER};
    *state = xgb;
    return SYMTASK_OK;

model_error:
    snprintf(errstr, errstr_size, "params.%s: model file %s: %s", key, path, why);
error:
    xgb_model_free(&model);
    free(data);
    xgb_free(xgb);
    return SYMTASK_ERR_FATAL;
}

static void xgb_signature(void *state, symtask_signature_t *sig)
{
    xgb_t *xgb = state;

    sig->features = xgb->columns;
    sig->n_features = xgb->n_features;
    sig->outputs = xgb->columns + xgb->n_features;
    sig->n_outputs = xgb->n_outputs;
}

static symtask_status_t xgb_predict(void *state, symtask_batch_t *batch, char *errstr,
                                    size_t errstr_size)
{
    xgb_t *xgb = state;
    const float *p;
    char why[512];
    size_t row, i, n;

    if (batch->n_features != xgb->n_features || batch->n_outputs != xgb->n_outputs) {
        snprintf(errstr, errstr_size,
                 "xgboost: batch has %zu features and %zu outputs, the model %zu and %zu",
                 batch->n_features, batch->n_outputs, xgb->n_features, xgb->n_outputs);
        return SYMTASK_ERR_FATAL;
    }
    if (batch->rows == 0)
        return SYMTASK_OK;
    if (xgb_reserve(xgb, batch->rows) != 0) {
        snprintf(errstr, errstr_size, "xgboost: out of memory for a batch of %zu rows",
                 batch->rows);
        return SYMTASK_ERR_FATAL;
    }
    if (xgb->engine == XGB_ENGINE_NATIVE) {
        xgb_forest_predict(xgb->forest, batch->features, batch->rows, xgb->p);
        p = xgb->p;
    } else {
        /* XGBoost reads 32-bit floats; NaN stays NaN, its missing value. */
        n = batch->rows * xgb->n_features;
        for (i = 0; i < n; i++)
            xgb->x[i] = (float)batch->features[i];
        if (xgb_run(xgb, batch->rows, &p, why, sizeof(why)) != 0) {
            snprintf(errstr, errstr_size, "xgboost: prediction failed: %s", why);
            return SYMTASK_ERR_FATAL;
        }
    }

    for (row = 0; row < batch->rows; row++, p += xgb->per_row) {
        double *out = batch->outputs + row * xgb->n_outputs;
        size_t best = 0;
        int finite = 1;

        for (i = 0; i < xgb->per_row; i++)
            finite &= isfinite(p[i]) != 0;
        if (!finite) {
            for (i = 0; i < xgb->n_outputs; i++)
                out[i] = NAN;
            batch->row_status[row] = SYMTASK_ERR_RECORD;
            snprintf(symtask_batch_row_error(batch, row), batch->row_error_size,
                     "the prediction is not a finite number");
            continue;
        }
        switch (xgb->kind) {
        case XGB_KIND_VALUE:
            out[0] = p[0];
            break;
        case XGB_KIND_BINARY:
            out[0] = p[0] >= 0.5f ? 1.0 : 0.0;
            out[1] = p[0];
            break;
        case XGB_KIND_SOFTPROB:
            /* The first of equal probabilities, as numpy's argmax. */
            for (i = 0; i < xgb->per_row; i++) {
                if (p[i] > p[best])
                    best = i;
                out[1 + i] = p[i];
            }
            out[0] = (double)best;
            break;
        }
    }
    return SYMTASK_OK;
}

static void xgb_destroy(void *state)
{
    xgb_free(state);
}

static const symtask_plugin_t xgb_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "xgboost",
    .version = "1.2.0",
    .description = "Gradient-boosted trees from a model saved by XGBoost as JSON or UBJSON.",
    .options = xgb_options,
    .ops.predictor =
        {
            .create = xgb_create,
            .predict = xgb_predict,
            .destroy = xgb_destroy,
            .signature = xgb_signature,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &xgb_plugin;
}
