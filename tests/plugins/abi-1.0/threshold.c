/* threshold.c: a complete symtask predictor plugin, written to be read: it compares one
 * feature of each record to a threshold and writes "prediction" (1 when the feature is at
 * least the threshold, else 0) and "margin" (feature - threshold).
 *
 * Build it with nothing but the installed headers (see Makefile and README.md):
 *
 *     cc -shared -fPIC $(pkg-config --cflags symtask) -o threshold.so threshold.c
 *
 * and use it in a task with "sml.predictor": "threshold", "sml.predictor.feature": "x1".
 *
 * Everything a plugin may use is in one header, symtask/plugin.h; read its opening comment
 * first. A plugin links against nothing of symtask: what it needs from the worker (params,
 * logging, output buffers) comes through the host table handed to its entry function. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <symtask/plugin.h>

/* The params this plugin reads. Predictor options live under "sml.predictor.", serializer
 * options under "sml.serializer."; a task that sets a key under those prefixes which no
 * loaded plugin declares is refused at create, so that a misspelt key does not go unseen. */
#define THRESHOLD_FEATURE_KEY "sml.predictor.feature"
#define THRESHOLD_VALUE_KEY "sml.predictor.threshold"

/* ---- Options ---------------------------------------------------------------------------
 *
 * The option table declares every param the plugin reads: name, type, default (written as a
 * param string), whether the task must set it, and one sentence of help. It ends with an
 * entry whose name is NULL.
 *
 * The worker does a lot with this table before create() runs:
 *   - a required option that the task does not set refuses the task (HTTP 400 at create,
 *     quoting the help text);
 *   - a value of the wrong type refuses the task (here: a threshold that is not a finite
 *     number), so create() never parses garbage;
 *   - host->param() returns the default for an option the task does not set;
 *   - `symtask plugins` (GET /symetry/rest/{cid}/plugins) shows the table to users.
 * So create() only checks what a table cannot say (here: that the feature name is not
 * empty). */
static const symtask_option_t threshold_options[] = {
    {THRESHOLD_FEATURE_KEY, SYMTASK_OPTION_STRING, NULL, 1,
     "Name of the feature compared to the threshold."},
    {THRESHOLD_VALUE_KEY, SYMTASK_OPTION_DOUBLE, "0.5", 0,
     "Threshold: prediction is 1 when the feature is at least this value, else 0."},
    {NULL},
};

/* The output fields, in the order predict() writes them. The serializer adds them to each
 * record under these names. Static and constant, so they outlive every instance. */
static const char *const threshold_outputs[] = {"prediction", "margin"};

#define THRESHOLD_N_OUTPUTS (sizeof(threshold_outputs) / sizeof(threshold_outputs[0]))

/* ---- Instance state --------------------------------------------------------------------
 *
 * One per task: create() allocates it, every other call gets it back as `void *state`, and
 * destroy() frees it. A plugin keeps no global mutable state (a rule of plugin.h):
 * everything an instance needs hangs off its state, so that two instances never share
 * anything, whichever process they run in. Constant tables (like the options above) are
 * fine. */
typedef struct threshold {
    const symtask_host_t *host; /* for logging from predict(); valid while loaded */
    /* Borrowed from the task's params: host->param() values live as long as the instance,
     * so there is nothing to copy or free. describe() hands this array out. */
    const char *features[1];
    double threshold;
} threshold_t;

/* ---- Callbacks ---------------------------------------------------------------------------
 *
 * The worker calls an instance from one thread and never calls two callbacks of one
 * instance at the same time, so the state needs no lock. */

/* create(): builds an instance from the task's params.
 *
 * Runs twice for every task: once in a short-lived `symtask-worker --validate` when the
 * task is created (a FATAL here becomes the 400 answer to POST /tasks/create), and again
 * each time the task's worker starts. Do the expensive, fallible work (open the model,
 * check it) here, so that a bad task is refused at create rather than failing later.
 *
 * Ownership: on SYMTASK_OK *state belongs to the worker, which hands it to destroy() in the
 * end. On an error nothing may stay allocated, and errstr says what to fix, naming the
 * param ("params.<key>: ...") so that the user knows where to look. */
static symtask_status_t threshold_create(const symtask_host_t *host, const symtask_params_t *params,
                                         void **state, char *errstr, size_t errstr_size)
{
    const char *feature, *value;
    threshold_t *th;

    /* Required in the option table, so never NULL here; the table cannot say "not empty". */
    feature = host->param(params, THRESHOLD_FEATURE_KEY);
    if (feature[0] == '\0') {
        snprintf(errstr, errstr_size, "params.%s: empty: name the feature to compare",
                 THRESHOLD_FEATURE_KEY);
        return SYMTASK_ERR_FATAL;
    }
    /* Has a default, so never NULL; already checked to be a finite number. */
    value = host->param(params, THRESHOLD_VALUE_KEY);

    th = calloc(1, sizeof(*th));
    if (th == NULL) {
        snprintf(errstr, errstr_size, "threshold: out of memory");
        return SYMTASK_ERR_FATAL;
    }
    th->host = host;
    th->features[0] = feature;
    th->threshold = strtod(value, NULL);

    /* One line in symtaskd's log, tagged with the task ("[c1/t1]"). Never log a value that
     * may be secret (a password, a key, a path the user counts as private). */
    host->log(SYMTASK_LOG_INFO, "threshold: feature %s compared to %g", feature, th->threshold);
    *state = th;
    return SYMTASK_OK;
}

/* describe(): the features the model reads and the outputs it writes, in batch order. The
 * serializer decodes exactly these features from each record, and the batch handed to
 * predict() has n_features columns in this order. The arrays belong to the instance and
 * must stay valid until destroy(). */
static void threshold_describe(void *state, const char *const **features, size_t *n_features,
                               const char *const **outputs, size_t *n_outputs)
{
    threshold_t *th = state;

    *features = th->features;
    *n_features = 1;
    *outputs = threshold_outputs;
    *n_outputs = THRESHOLD_N_OUTPUTS;
}

/* predict(): one call per batch of rows (up to sml.kstream.record.poll.max records), so a
 * vectorised model can work on the whole matrix at once.
 *
 *   batch->features  rows x n_features, row-major, read-only; NaN marks a missing value
 *                    (the record lacks the feature, or holds null)
 *   batch->outputs   rows x n_outputs, written here
 *   row_status[i]    SYMTASK_OK on entry; set it to SYMTASK_ERR_RECORD, with a message in
 *                    symtask_batch_row_error(batch, i), to send that one record to the
 *                    dead-letter topic (<sink>.dlq) while the rest of the batch flows on
 *
 * The return value concerns the whole batch: SYMTASK_OK (per-row problems are in
 * row_status), SYMTASK_ERR_RETRIABLE (a passing failure, e.g. a remote model server busy:
 * the worker calls again later with the same batch), SYMTASK_ERR_FATAL (the instance cannot
 * go on: the task fails with errstr as its lastError). The worker owns the batch; keep no
 * pointer into it after returning. */
static symtask_status_t threshold_predict(void *state, symtask_batch_t *batch, char *errstr,
                                          size_t errstr_size)
{
    threshold_t *th = state;
    size_t row;

    /* The worker sizes the batch from describe(); a mismatch is a bug, not a record's fault. */
    if (batch->n_features != 1 || batch->n_outputs != THRESHOLD_N_OUTPUTS) {
        snprintf(errstr, errstr_size,
                 "threshold: batch has %zu features and %zu outputs, expected 1 and %zu",
                 batch->n_features, batch->n_outputs, (size_t)THRESHOLD_N_OUTPUTS);
        return SYMTASK_ERR_FATAL;
    }
    for (row = 0; row < batch->rows; row++) {
        double x = batch->features[row];
        double *out = batch->outputs + row * THRESHOLD_N_OUTPUTS;

        if (isnan(x)) {
            /* This record goes to the dead-letter topic with this message in its
             * symtask.error header (and, with errors.tolerance=none, in lastError). */
            batch->row_status[row] = SYMTASK_ERR_RECORD;
            snprintf(symtask_batch_row_error(batch, row), batch->row_error_size,
                     "feature '%s' is missing", th->features[0]);
            out[0] = out[1] = NAN;
            continue;
        }
        out[0] = x >= th->threshold ? 1.0 : 0.0;
        out[1] = x - th->threshold;
    }
    return SYMTASK_OK;
}

/* destroy(): frees what create() allocated. Called once per successful create(), after the
 * last predict(). */
static void threshold_destroy(void *state)
{
    free(state);
}

/* ---- The descriptor ----------------------------------------------------------------------
 *
 * What the worker reads to know the plugin. SYMTASK_PLUGIN_HEAD() fills the ABI version the
 * plugin is built against (SYMTASK_PLUGIN_ABI_MAJOR.SYMTASK_PLUGIN_ABI_MINOR from the
 * header) and the descriptor's size. The worker refuses a plugin of another major (rebuild
 * it against the new headers) or of a newer minor than its own (upgrade symtask), with a
 * message that says so, when the task is created. Never fill these three fields by hand.
 *
 * `name` must equal the file name without ".so": the worker loads "<plugindir>/<name>.so"
 * for "sml.predictor": "<name>" and checks that the descriptor agrees. `version` is the
 * plugin's own version, shown in the plugin listing. */
static const symtask_plugin_t threshold_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "threshold",
    .version = "1.0.0",
    .description = "Compares one feature to a threshold: prediction 0 or 1, and the margin.",
    .options = threshold_options,
    .ops.predictor =
        {
            .create = threshold_create,
            .describe = threshold_describe,
            .predict = threshold_predict,
            .destroy = threshold_destroy,
        },
};

/* The one exported symbol (SYMTASK_PLUGIN_ENTRY). Called once, right after dlopen(), before
 * anything else; it returns the static descriptor and allocates nothing.
 *
 * @host is the worker's table of functions, valid while the plugin is loaded. It follows
 * the same versioning rule as the descriptor: a field that a later minor adds must be
 * checked before use, e.g. `host->size > offsetof(symtask_host_t, new_field)`; every field
 * of ABI 1.0 is always there. Returning NULL refuses to load (log why with host->log). */
SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    (void)host; /* this plugin needs the host only in create(), which gets it again */
    return &threshold_plugin;
}
