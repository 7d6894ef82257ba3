/* null_ops.c: a predictor that leaves predict() unset. */
#include "symtask/plugin.h"

static symtask_status_t null_ops_create(const symtask_host_t *host, const symtask_params_t *params,
                                        void **state, char *errstr, size_t errstr_size)
{
    *state = NULL;
    return SYMTASK_OK;
}

static void null_ops_describe(void *state, const char *const **features, size_t *n_features,
                              const char *const **outputs, size_t *n_outputs)
{
    static const char *const names[] = {"x"};

    *features = names;
    *n_features = 1;
    *outputs = names;
    *n_outputs = 1;
}

static void null_ops_destroy(void *state)
{
}

static const symtask_plugin_t null_ops_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "null_ops",
    .version = "0.0.1",
    .description = "A deliberately broken plugin for the loader tests.",
    .options = NULL,
    .ops.predictor =
        {
            .create = null_ops_create,
            .describe = null_ops_describe,
            .destroy = null_ops_destroy,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &null_ops_plugin;
}
