/* threshold.c: a complete symtask predictor plugin, written to be read: it compares one
 * feature of each record to a threshold and writes "prediction" (1 when the feature is at
 * least the threshold, else 0), "margin" (feature - threshold) and "label" (a string:
 * "above" or "below", or the labels the task sets).
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
#include <string.h>

#include <symtask/plugin.h>

/* The params this plugin reads. Predictor options live under "sml.predictor.", serializer
 * options under "sml.serializer."; a task that sets a key under those prefixes which no
 * loaded plugin declares is refused at create, so that a misspelt key does not go unseen. */
#define THRESHOLD_FEATURE_KEY "sml.predictor.feature"
#define THRESHOLD_VALUE_KEY "sml.predictor.threshold"
#define THRESHOLD_ABOVE_KEY "sml.predictor.label.above"
#define THRESHOLD_BELOW_KEY "sml.predictor.label.below"

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
    {THRESHOLD_ABOVE_KEY, SYMTASK_OPTION_STRING, "above", 0,
     "The label of a record whose feature is at least the threshold."},
    {THRESHOLD_BELOW_KEY, SYMTASK_OPTION_STRING, "below", 0,
     "The label of a record whose feature is below the threshold."},
    {NULL},
};

/* The outputs, in the order predict() writes them, each with its type: two numbers and a
 * string. The serializer adds them to each record under these names. Static and constant,
 * so they outlive every instance. */
static const symtask_column_t threshold_outputs[] = {
    {"prediction", SYMTASK_TYPE_NUMBER},
    {"margin", SYMTASK_TYPE_NUMBER},
    {"label", SYMTASK_TYPE_STRING},
};

#define THRESHOLD_N_OUTPUTS (sizeof(threshold_outputs) / sizeof(threshold_outputs[0]))

/* ---- Instance state --------------------------------------------------------------------
 *
 * One per task: create() allocates it, every other call gets it back as `void *state`, and
 * destroy() frees it. A plugin keeps no global mutable state (a rule of plugin.h):
 * everything an instance needs hangs off its state, so that two instances never share
 * anything, whichever process they run in. Constant tables (like the options above) are
 * fine. */
typedef struct threshold {
    /* The one feature this model reads: its name (borrowed from the task's params:
     * host->param() values live as long as the instance) and its type. */
    symtask_column_t features[1];
    double threshold;
    const char *above, *below; /* the labels, borrowed from the params as well */
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
    /* Required in the option table, so never NULL here; the table cannot say "not empty". */
    const char *feature = host->param(params, THRESHOLD_FEATURE_KEY);
    if (feature[0] == '\0') {
        snprintf(errstr, errstr_size, "params.%s: empty: name the feature to compare",
                 THRESHOLD_FEATURE_KEY);
        return SYMTASK_ERR_FATAL;
    }

    threshold_t *th = calloc(1, sizeof(*th));
    if (th == NULL) {
        snprintf(errstr, errstr_size, "threshold: out of memory");
        return SYMTASK_ERR_FATAL;
    }
    th->features[0].name = feature;
    th->features[0].type = SYMTASK_TYPE_NUMBER;
    /* These have defaults, so never NULL; the threshold is already checked to be a number. */
    th->threshold = strtod(host->param(params, THRESHOLD_VALUE_KEY), NULL);
    th->above = host->param(params, THRESHOLD_ABOVE_KEY);
    th->below = host->param(params, THRESHOLD_BELOW_KEY);

    /* One line in symtaskd's log, tagged with the task ("[c1/t1]"). Never log a value that
     * may be secret (a password, a key, a path the user counts as private). */
    host->log(SYMTASK_LOG_INFO, "threshold: feature %s compared to %g", feature, th->threshold);
    *state = th;
    return SYMTASK_OK;
}

/* signature(): the features the model reads and the outputs it writes, with their types, in
 * batch order. The serializer decodes exactly these features from each record, and the batch
 * handed to predict() has n_features columns in this order. The arrays belong to the
 * instance and must stay valid until destroy(). The worker zeroed *sig: what a plugin does
 * not set stays empty (here: no flags). */
static void threshold_signature(void *state, symtask_signature_t *sig)
{
    threshold_t *th = state;

    sig->features = th->features;
    sig->n_features = 1;
    sig->outputs = threshold_outputs;
    sig->n_outputs = THRESHOLD_N_OUTPUTS;
}

/* predict(): one call per batch of rows (up to sml.kstream.record.poll.max records), so a
 * vectorised model can work on the whole matrix at once.
 *
 *   batch->features       rows x n_features numbers, row-major, read-only (every feature is
 *                         a number); NaN marks a missing value (absent, or null)
 *   batch->output_values  rows x n_outputs typed values, all missing on entry, written here
 *                         (an output is a string: with numbers only, batch->outputs would
 *                         hold plain doubles instead)
 *   row_status[i]         SYMTASK_OK on entry; set it to SYMTASK_ERR_RECORD, with a message
 *                         in symtask_batch_row_error(batch, i), to send that one record to
 *                         the dead-letter topic (<sink>.dlq) while the rest flows on
 *
 * A string output points at bytes that must live until the next predict() or destroy():
 * here, the labels of the params. The return value concerns the whole batch: SYMTASK_OK
 * (per-row problems are in row_status), SYMTASK_ERR_RETRIABLE (a passing failure, e.g. a
 * remote model server busy: the worker calls again later with the same batch),
 * SYMTASK_ERR_FATAL (the instance cannot go on: the task fails with errstr as its
 * lastError). The worker owns the batch; keep no pointer into it after returning. */
static symtask_status_t threshold_predict(void *state, symtask_batch_t *batch, char *errstr,
                                          size_t errstr_size)
{
    threshold_t *th = state;

    /* The worker sizes the batch from signature(); a mismatch is a bug, not a record's fault. */
    if (batch->n_features != 1 || batch->n_outputs != THRESHOLD_N_OUTPUTS) {
        snprintf(errstr, errstr_size,
                 "threshold: batch has %zu features and %zu outputs, expected 1 and %zu",
                 batch->n_features, batch->n_outputs, (size_t)THRESHOLD_N_OUTPUTS);
        return SYMTASK_ERR_FATAL;
    }
    for (size_t row = 0; row < batch->rows; row++) {
        double x = batch->features[row];
        symtask_value_t *out = batch->output_values + row * THRESHOLD_N_OUTPUTS;

        if (isnan(x)) {
            /* This record goes to the dead-letter topic with this message in its
             * symtask.error header (and, with errors.tolerance=none, in lastError). */
            batch->row_status[row] = SYMTASK_ERR_RECORD;
            snprintf(symtask_batch_row_error(batch, row), batch->row_error_size,
                     "feature '%s' is missing", th->features[0].name);
            continue;
        }
        const char *label = x >= th->threshold ? th->above : th->below;
        out[0] = symtask_value_number(x >= th->threshold ? 1.0 : 0.0);
        out[1] = symtask_value_number(x - th->threshold);
        out[2] = symtask_value_string(label, strlen(label));
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
 * plugin's own version, shown in the plugin listing. signature() came with plugin ABI 1.1;
 * a plugin of 1.0 sets describe(), which names number features and outputs only. */
static const symtask_plugin_t threshold_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "threshold",
    .version = "1.1.0",
    .description = "Compares one feature to a threshold: prediction 0 or 1, the margin and a "
                   "label.",
    .options = threshold_options,
    .ops.predictor =
        {
            .create = threshold_create,
            .predict = threshold_predict,
            .destroy = threshold_destroy,
            .signature = threshold_signature,
        },
};

/* The one exported symbol (SYMTASK_PLUGIN_ENTRY). Called once, right after dlopen(), before
 * anything else; it returns the static descriptor and allocates nothing.
 *
 * @host is the worker's table of functions, valid while the plugin is loaded. A worker
 * loads a plugin only when it speaks the plugin's ABI minor or a later one, so every host
 * field of the minor this file is built for is there. Returning NULL refuses to load (log
 * why with host->log). */
SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    (void)host; /* this plugin needs the host only in create(), which gets it again */
    return &threshold_plugin;
}
