/* wrong_major.c: a predictor built for plugin ABI 99.0, which the loader must refuse. */
#include "symtask/plugin.h"

static symtask_status_t wrong_major_create(const symtask_host_t *host,
                                           const symtask_params_t *params, void **state,
                                           char *errstr, size_t errstr_size)
{
    *state = NULL;
    return SYMTASK_OK;
}

static void wrong_major_describe(void *state, const char *const **features, size_t *n_features,
                                 const char *const **outputs, size_t *n_outputs)
{
    static const char *const names[] = {"x"};

    *features = names;
    *n_features = 1;
    *outputs = names;
    *n_outputs = 1;
}

static symtask_status_t wrong_major_predict(void *state, symtask_batch_t *batch, char *errstr,
                                            size_t errstr_size)
{
    return SYMTASK_OK;
}

static void wrong_major_destroy(void *state)
{
}

static const symtask_plugin_t wrong_major_plugin = {
    .abi_major = 99,
    .abi_minor = 0,
    .size = sizeof(symtask_plugin_t),
    .kind = SYMTASK_PLUGIN_PREDICTOR,
    .name = "wrong_major",
    .version = "0.0.1",
    .description = "A deliberately broken plugin for the loader tests.",
    .options = NULL,
    .ops.predictor =
        {
            .create = wrong_major_create,
            .describe = wrong_major_describe,
            .predict = wrong_major_predict,
            .destroy = wrong_major_destroy,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &wrong_major_plugin;
}
