/* crasher.c: a predictor for the tests of records that take workers down (ABI 1.1): it
 * predicts y = 2 * x1, except for a row whose x1 is sml.predictor.crash_on, on which it
 * does what sml.predictor.how says: segv (dereferences NULL), abort (abort()) or loop (spins
 * for good, as a model stuck on one input). With sml.predictor.sleep_ms it first sleeps that
 * long on every batch, as a slow remote model that is not stuck. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "symtask/plugin.h"

typedef struct crasher {
    double crash_on;
    char how[8];
    long sleep_ms;
} crasher_t;

static const symtask_option_t crasher_options[] = {
    {"sml.predictor.crash_on", SYMTASK_OPTION_DOUBLE, NULL, 1,
     "The value of x1 the predictor does not survive."},
    {"sml.predictor.how", SYMTASK_OPTION_STRING, "segv", 0, "segv, abort or loop."},
    {"sml.predictor.sleep_ms", SYMTASK_OPTION_INT, "0", 0, "A wait before every batch."},
    {NULL},
};

static symtask_column_t crasher_features[] = {{"x1", SYMTASK_TYPE_NUMBER}};
static symtask_column_t crasher_outputs[] = {{"y", SYMTASK_TYPE_NUMBER}};

static symtask_status_t crasher_create(const symtask_host_t *host, const symtask_params_t *params,
                                       void **state, char *errstr, size_t errstr_size)
{
    crasher_t *c = calloc(1, sizeof(*c));
    if (!c)
        return SYMTASK_ERR_FATAL;
    c->crash_on = strtod(host->param(params, "sml.predictor.crash_on"), NULL);
    snprintf(c->how, sizeof(c->how), "%s", host->param(params, "sml.predictor.how"));
    c->sleep_ms = strtol(host->param(params, "sml.predictor.sleep_ms"), NULL, 10);
    if (strcmp(c->how, "segv") != 0 && strcmp(c->how, "abort") != 0 &&
        strcmp(c->how, "loop") != 0) {
        snprintf(errstr, errstr_size, "params.sml.predictor.how: not segv, abort or loop");
        free(c);
        return SYMTASK_ERR_FATAL;
    }
    *state = c;
    return SYMTASK_OK;
}

static void crasher_destroy(void *state)
{
    free(state);
}

static void crasher_signature(void *state, symtask_signature_t *sig)
{
    sig->features = crasher_features;
    sig->n_features = 1;
    sig->outputs = crasher_outputs;
    sig->n_outputs = 1;
}

static volatile int *crasher_null;

static void crasher_die(const crasher_t *c)
{
    if (strcmp(c->how, "abort") == 0)
        abort();
    if (strcmp(c->how, "loop") == 0)
        for (volatile unsigned long i = 0;; i++)
            ;
    /* the fault kills the process as the kernel does to a worker without handlers, also in
     * a sanitizer build (AddressSanitizer would catch it and exit with code 1) */
    signal(SIGSEGV, SIG_DFL);
    *crasher_null = 1;
    raise(SIGSEGV); /* should the store above not fault */
}

static symtask_status_t crasher_predict(void *state, symtask_batch_t *batch, char *errstr,
                                        size_t errstr_size)
{
    crasher_t *c = state;
    if (c->sleep_ms > 0) {
        struct timespec ts = {c->sleep_ms / 1000, (c->sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (size_t row = 0; row < batch->rows; row++) {
        double x1 = batch->values ? batch->values[row].number : batch->features[row];
        if (x1 == c->crash_on)
            crasher_die(c);
        if (batch->output_values)
            batch->output_values[row] = symtask_value_number(2 * x1);
        else
            batch->outputs[row] = 2 * x1;
    }
    return SYMTASK_OK;
}

static const symtask_plugin_t crasher_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "crasher",
    .version = "1.0.0",
    .description = "Crashes, aborts or hangs on one value of x1 (tests).",
    .options = crasher_options,
    .ops.predictor =
        {
            .create = crasher_create,
            .predict = crasher_predict,
            .destroy = crasher_destroy,
            .signature = crasher_signature,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &crasher_plugin;
}
