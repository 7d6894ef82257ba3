/* linear.c: the "linear" predictor plugin: a linear or logistic regression read from a JSON
 * model file (see README.md). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symtask/plugin.h"

#define LINEAR_MODEL_KEY "sml.predictor.model"
#define LINEAR_SEED_MODEL_KEY "sml.kstream.model.b64file"
#define LINEAR_MISSING_KEY "sml.predictor.missing"

typedef enum linear_kind {
    LINEAR_KIND_LINEAR,
    LINEAR_KIND_LOGISTIC,
} linear_kind_t;

typedef struct linear {
    const symtask_host_t *host;
    linear_kind_t kind;
    int missing_zero; /* sml.predictor.missing = zero: a missing feature counts as 0 */
    size_t n_features;
    char **features;
    symtask_column_t *columns; /* the features, all numbers, for signature() */
    double *weights;
    double intercept;
} linear_t;

static const symtask_column_t linear_outputs[] = {
    {"prediction", SYMTASK_TYPE_NUMBER},
    {"probability", SYMTASK_TYPE_NUMBER},
};

static const symtask_option_t linear_options[] = {
    {LINEAR_MODEL_KEY, SYMTASK_OPTION_PATH, NULL, 0,
     "Path of the JSON model file: {\"kind\":\"linear\"|\"logistic\",\"features\":[...],"
     "\"weights\":[...],\"intercept\":0.0}."},
    {LINEAR_SEED_MODEL_KEY, SYMTASK_OPTION_PATH, NULL, 0,
     "The SymetryML name for the model file's path, read when sml.predictor.model is not set "
     "(a path to the same JSON file, not base64)."},
    {LINEAR_MISSING_KEY, SYMTASK_OPTION_STRING, "error", 0,
     "What a missing feature does: error sends the record to the dead-letter topic, zero "
     "counts it as 0."},
    {NULL},
};

static void linear_free(linear_t *lin)
{
    size_t i;

    if (lin == NULL)
        return;
    for (i = 0; lin->features != NULL && i < lin->n_features; i++)
        free(lin->features[i]);
    free(lin->features);
    free(lin->columns);
    free(lin->weights);
    free(lin);
}

/* Reads the model document @doc into @lin. On failure writes what is wrong with the file's
 * content (the caller names the key and the file). */
static int linear_model_read(linear_t *lin, json_t *doc, char *why, size_t why_size)
{
    json_t *kind, *features, *weights, *intercept, *seen = NULL;
    size_t i, n;

    if (!json_is_object(doc)) {
        snprintf(why, why_size, "the model is not a JSON object");
        return -1;
    }
    kind = json_object_get(doc, "kind");
    if (!json_is_string(kind)) {
        snprintf(why, why_size, "\"kind\" must be \"linear\" or \"logistic\"");
        return -1;
    }
    if (strcmp(json_string_value(kind), "linear") == 0) {
        lin->kind = LINEAR_KIND_LINEAR;
    } else if (strcmp(json_string_value(kind), "logistic") == 0) {
        lin->kind = LINEAR_KIND_LOGISTIC;
    } else {
        snprintf(why, why_size, "kind \"%.64s\" is unknown: use \"linear\" or \"logistic\"",
                 json_string_value(kind));
        return -1;
    }

    features = json_object_get(doc, "features");
    weights = json_object_get(doc, "weights");
    if (!json_is_array(features) || json_array_size(features) == 0) {
        snprintf(why, why_size, "\"features\" must be a non-empty array of feature names");
        return -1;
    }
    if (!json_is_array(weights)) {
        snprintf(why, why_size, "\"weights\" must be an array of numbers, one per feature");
        return -1;
    }
    n = json_array_size(features);
    if (json_array_size(weights) != n) {
        snprintf(why, why_size, "%zu features but %zu weights: give one weight per feature", n,
                 json_array_size(weights));
        return -1;
    }
    /* A missing intercept is refused rather than taken as 0, so that a misspelt key does not
     * silently shift every prediction. */
    intercept = json_object_get(doc, "intercept");
    if (!json_is_number(intercept)) {
        snprintf(why, why_size, "\"intercept\" must be a number");
        return -1;
    }
    lin->intercept = json_number_value(intercept);

    lin->features = calloc(n, sizeof(*lin->features));
    lin->columns = calloc(n, sizeof(*lin->columns));
    lin->weights = calloc(n, sizeof(*lin->weights));
    seen = json_object();
    if (lin->features == NULL || lin->columns == NULL || lin->weights == NULL || seen == NULL)
        goto nomem;
    lin->n_features = n;
    for (i = 0; i < n; i++) {
        json_t *name = json_array_get(features, i), *weight = json_array_get(weights, i);

        if (!json_is_string(name) || json_string_length(name) == 0) {
            snprintf(why, why_size, "features[%zu] must be a non-empty string", i);
            goto error;
        }
        if (json_object_get(seen, json_string_value(name)) != NULL) {
            snprintf(why, why_size, "feature \"%.64s\" appears twice in \"features\"",
                     json_string_value(name));
            goto error;
        }
        if (json_object_set(seen, json_string_value(name), json_true()) != 0)
            goto nomem;
        if (!json_is_number(weight)) {
            snprintf(why, why_size, "weights[%zu] must be a number", i);
            goto error;
        }
        lin->features[i] = strdup(json_string_value(name));
        if (lin->features[i] == NULL)
            goto nomem;
        lin->columns[i] = (symtask_column_t){lin->features[i], SYMTASK_TYPE_NUMBER};
        lin->weights[i] = json_number_value(weight);
    }
    json_decref(seen);
    return 0;

nomem:
    snprintf(why, why_size, "out of memory reading the model");
error:
    json_decref(seen);
    return -1;
}

static symtask_status_t linear_create(const symtask_host_t *host, const symtask_params_t *params,
                                      void **state, char *errstr, size_t errstr_size)
{
    const char *key = LINEAR_MODEL_KEY, *path, *missing;
    char why[512];
    json_error_t jerr;
    json_t *doc = NULL;
    linear_t *lin;

    lin = calloc(1, sizeof(*lin));
    if (lin == NULL) {
        snprintf(errstr, errstr_size, "linear: out of memory");
        return SYMTASK_ERR_FATAL;
    }
    lin->host = host;

    missing = host->param(params, LINEAR_MISSING_KEY);
    if (strcmp(missing, "error") == 0) {
        lin->missing_zero = 0;
    } else if (strcmp(missing, "zero") == 0) {
        lin->missing_zero = 1;
    } else {
        snprintf(errstr, errstr_size, "params.%s: '%.64s' is not one of error, zero",
                 LINEAR_MISSING_KEY, missing);
        goto error;
    }

    path = host->param(params, LINEAR_MODEL_KEY);
    if (path == NULL) {
        key = LINEAR_SEED_MODEL_KEY;
        path = host->param(params, LINEAR_SEED_MODEL_KEY);
    }
    if (path == NULL) {
        snprintf(errstr, errstr_size,
                 "params.%s: required: set it (or %s) to the path of a JSON model file",
                 LINEAR_MODEL_KEY, LINEAR_SEED_MODEL_KEY);
        goto error;
    }

    /* Duplicate keys would leave it to chance which "weights" the model means. */
    doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        if (json_error_code(&jerr) == json_error_cannot_open_file)
            snprintf(errstr, errstr_size, "params.%s: model file %s cannot be opened: %s", key,
                     path, jerr.text);
        else
            snprintf(errstr, errstr_size,
                     "params.%s: model file %s is not valid JSON (line %d, column %d: %s)", key,
                     path, jerr.line, jerr.column, jerr.text);
        goto error;
    }
    if (linear_model_read(lin, doc, why, sizeof(why)) != 0) {
        snprintf(errstr, errstr_size, "params.%s: model file %s: %s", key, path, why);
        goto error;
    }
    json_decref(doc);
    /* the path is the task's business (API.md counts it as a secret): not in the log */
    host->log(SYMTASK_LOG_INFO, "linear: %s model with %zu features loaded (%s)",
              lin->kind == LINEAR_KIND_LOGISTIC ? "logistic" : "linear", lin->n_features, key);
    *state = lin;
    return SYMTASK_OK;

error:
    json_decref(doc);
    linear_free(lin);
    return SYMTASK_ERR_FATAL;
}

static void linear_signature(void *state, symtask_signature_t *sig)
{
    linear_t *lin = state;

    sig->features = lin->columns;
    sig->n_features = lin->n_features;
    sig->outputs = linear_outputs;
    sig->n_outputs = lin->kind == LINEAR_KIND_LOGISTIC ? 2 : 1;
}

/* The logistic function without overflow: exp() only ever sees a non-positive argument. */
static double linear_sigmoid(double z)
{
    double e;

    if (z >= 0)
        return 1.0 / (1.0 + exp(-z));
    e = exp(z);
    return e / (1.0 + e);
}

static symtask_status_t linear_predict(void *state, symtask_batch_t *batch, char *errstr,
                                       size_t errstr_size)
{
    linear_t *lin = state;
    size_t n_outputs = lin->kind == LINEAR_KIND_LOGISTIC ? 2 : 1, row, i;

    if (batch->n_features != lin->n_features || batch->n_outputs != n_outputs) {
        snprintf(errstr, errstr_size,
                 "linear: batch has %zu features and %zu outputs, the model %zu and %zu",
                 batch->n_features, batch->n_outputs, lin->n_features, n_outputs);
        return SYMTASK_ERR_FATAL;
    }
    for (row = 0; row < batch->rows; row++) {
        const double *x = batch->features + row * lin->n_features;
        double *out = batch->outputs + row * n_outputs;
        double z = lin->intercept, p;
        const char *missing = NULL;

        for (i = 0; i < lin->n_features; i++) {
            if (isnan(x[i])) {
                if (!lin->missing_zero) {
                    missing = lin->features[i];
                    break;
                }
                continue;
            }
            z += lin->weights[i] * x[i];
        }
        out[0] = NAN;
        if (n_outputs == 2)
            out[1] = NAN;
        if (missing != NULL) {
            batch->row_status[row] = SYMTASK_ERR_RECORD;
            snprintf(symtask_batch_row_error(batch, row), batch->row_error_size,
                     "feature '%s' is missing", missing);
            continue;
        }
        /* An infinite score still has a probability, but no linear prediction to write;
         * inf - inf has neither. */
        if (isnan(z) || (lin->kind == LINEAR_KIND_LINEAR && isinf(z))) {
            batch->row_status[row] = SYMTASK_ERR_RECORD;
            snprintf(symtask_batch_row_error(batch, row), batch->row_error_size,
                     "the prediction is not a finite number: feature values too large");
            continue;
        }
        if (lin->kind == LINEAR_KIND_LINEAR) {
            out[0] = z;
        } else {
            p = linear_sigmoid(z);
            out[0] = p >= 0.5 ? 1.0 : 0.0;
            out[1] = p;
        }
    }
    return SYMTASK_OK;
}

static void linear_destroy(void *state)
{
    linear_free(state);
}

static const symtask_plugin_t linear_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "linear",
    .version = "1.1.0",
    .description = "Linear and logistic regression from a JSON model file.",
    .options = linear_options,
    .ops.predictor =
        {
            .create = linear_create,
            .predict = linear_predict,
            .destroy = linear_destroy,
            .signature = linear_signature,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &linear_plugin;
}
