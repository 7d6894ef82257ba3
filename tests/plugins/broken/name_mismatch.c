/* name_mismatch.c: a predictor whose descriptor names another plugin than its file. */
#include "symtask/plugin.h"

static symtask_status_t name_mismatch_create(const symtask_host_t *host,
                                             const symtask_params_t *params, void **state,
                                             char *errstr, size_t errstr_size)
{
    *state = NULL;
    return SYMTASK_OK;
}

static void name_mismatch_describe(void *state, const char *const **features, size_t *n_features,
                                   const char *const **outputs, size_t *n_outputs)
{
    static const char *const names[] = {"x"};

    *features = names;
    *n_features = 1;
    *outputs = names;
    *n_outputs = 1;
}

static symtask_status_t name_mismatch_predict(void *state, symtask_batch_t *batch, char *errstr,
                                              size_t errstr_size)
{
    return SYMTASK_OK;
}

static void name_mismatch_destroy(void *state)
{
}

static const symtask_plugin_t name_mismatch_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "someone_else",
    .version = "0.0.1",
    .description = "A deliberately broken plugin for the loader tests.",
    .options = NULL,
    .ops.predictor =
        {
            .create = name_mismatch_create,
            .describe = name_mismatch_describe,
            .predict = name_mismatch_predict,
            .destroy = name_mismatch_destroy,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &name_mismatch_plugin;
}
