/* newer_minor.c: a predictor built for plugin ABI 1.99, newer than the loader knows. */
#include "symtask/plugin.h"

static symtask_status_t newer_minor_create(const symtask_host_t *host,
                                           const symtask_params_t *params, void **state,
                                           char *errstr, size_t errstr_size)
{
    *state = NULL;
    return SYMTASK_OK;
}

static void newer_minor_describe(void *state, const char *const **features, size_t *n_features,
                                 const char *const **outputs, size_t *n_outputs)
{
    static const char *const names[] = {"x"};

    *features = names;
    *n_features = 1;
    *outputs = names;
    *n_outputs = 1;
}

static symtask_status_t newer_minor_predict(void *state, symtask_batch_t *batch, char *errstr,
                                            size_t errstr_size)
{
    return SYMTASK_OK;
}

static void newer_minor_destroy(void *state)
{
}

static const symtask_plugin_t newer_minor_plugin = {
    .abi_major = SYMTASK_PLUGIN_ABI_MAJOR,
    .abi_minor = 99,
    .size = sizeof(symtask_plugin_t),
    .kind = SYMTASK_PLUGIN_PREDICTOR,
    .name = "newer_minor",
    .version = "0.0.1",
    .description = "A deliberately broken plugin for the loader tests.",
    .options = NULL,
    .ops.predictor =
        {
            .create = newer_minor_create,
            .describe = newer_minor_describe,
            .predict = newer_minor_predict,
            .destroy = newer_minor_destroy,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &newer_minor_plugin;
}
