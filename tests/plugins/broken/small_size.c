/* small_size.c: a predictor whose descriptor claims to be 8 bytes long, too short for its ABI. */
#include "symtask/plugin.h"

static symtask_status_t small_size_create(const symtask_host_t *host,
                                          const symtask_params_t *params, void **state,
                                          char *errstr, size_t errstr_size)
{
    *state = NULL;
    return SYMTASK_OK;
}

static void small_size_describe(void *state, const char *const **features, size_t *n_features,
                                const char *const **outputs, size_t *n_outputs)
{
    static const char *const names[] = {"x"};

    *features = names;
    *n_features = 1;
    *outputs = names;
    *n_outputs = 1;
}

static symtask_status_t small_size_predict(void *state, symtask_batch_t *batch, char *errstr,
                                           size_t errstr_size)
{
    return SYMTASK_OK;
}

static void small_size_destroy(void *state)
{
}

static const symtask_plugin_t small_size_plugin = {
    .abi_major = SYMTASK_PLUGIN_ABI_MAJOR,
    .abi_minor = SYMTASK_PLUGIN_ABI_MINOR,
    .size = 8,
    .kind = SYMTASK_PLUGIN_PREDICTOR,
    .name = "small_size",
    .version = "0.0.1",
    .description = "A deliberately broken plugin for the loader tests.",
    .options = NULL,
    .ops.predictor =
        {
            .create = small_size_create,
            .describe = small_size_describe,
            .predict = small_size_predict,
            .destroy = small_size_destroy,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &small_size_plugin;
}
