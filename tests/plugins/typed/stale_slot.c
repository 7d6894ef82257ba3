/* stale_slot.c: a predictor of ABI 1.0 whose ops union holds a pointer in the slot that ABI
 * 1.1 gave signature(): the bytes a 1.0 plugin never meant as anything. The worker must read
 * a field of 1.1 only from a plugin of 1.1 (plugin.h's versioning rule), so it uses
 * describe() and never calls the stale pointer, which aborts. Built against today's header
 * for the union's layout; the descriptor says 1.0. */
#include <stdio.h>
#include <stdlib.h>

#include "symtask/plugin.h"

static const char *const stale_features[] = {"x1"};
static const char *const stale_outputs[] = {"twice"};

static symtask_status_t stale_create(const symtask_host_t *host, const symtask_params_t *params,
                                     void **state, char *errstr, size_t errstr_size)
{
    static int token;
    *state = &token;
    return SYMTASK_OK;
}

static void stale_describe(void *state, const char *const **features, size_t *n_features,
                           const char *const **outputs, size_t *n_outputs)
{
    *features = stale_features;
    *n_features = 1;
    *outputs = stale_outputs;
    *n_outputs = 1;
}

static symtask_status_t stale_predict(void *state, symtask_batch_t *batch, char *errstr,
                                      size_t errstr_size)
{
    for (size_t row = 0; row < batch->rows; row++)
        batch->outputs[row] = 2 * batch->features[row];
    return SYMTASK_OK;
}

static void stale_destroy(void *state)
{
}

static void stale_signature(void *state, symtask_signature_t *sig)
{
    fprintf(stderr, "stale_slot: signature() of a 1.0 plugin was called\n");
    abort();
}

typedef void (*slot_fn)(void);

static const symtask_plugin_t stale_plugin = {
    .abi_major = SYMTASK_PLUGIN_ABI_MAJOR,
    .abi_minor = 0,
    .size = sizeof(symtask_plugin_t),
    .kind = SYMTASK_PLUGIN_PREDICTOR,
    .name = "stale_slot",
    .version = "1.0.0",
    .description = "A 1.0 predictor with bytes in the slot of signature() (tests).",
    /* the predictor's ops of 1.0, then the stale slot */
    .ops.reserved = {(slot_fn)stale_create, (slot_fn)stale_describe, (slot_fn)stale_predict,
                     (slot_fn)stale_destroy, (slot_fn)stale_signature},
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &stale_plugin;
}
