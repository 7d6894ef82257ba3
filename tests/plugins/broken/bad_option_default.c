/* bad_option_default.c: a predictor whose INT option has the default "three". */
#include "symtask/plugin.h"

static symtask_status_t bad_option_default_create(const symtask_host_t *host,
                                                  const symtask_params_t *params, void **state,
                                                  char *errstr, size_t errstr_size)
{
    *state = NULL;
    return SYMTASK_OK;
}

static void bad_option_default_describe(void *state, const char *const **features,
                                        size_t *n_features, const char *const **outputs,
                                        size_t *n_outputs)
{
    static const char *const names[] = {"x"};

    *features = names;
    *n_features = 1;
    *outputs = names;
    *n_outputs = 1;
}

static symtask_status_t bad_option_default_predict(void *state, symtask_batch_t *batch,
                                                   char *errstr, size_t errstr_size)
{
    return SYMTASK_OK;
}

static void bad_option_default_destroy(void *state)
{
}

static const symtask_option_t bad_option_default_options[] = {
    {"sml.predictor.model", SYMTASK_OPTION_PATH, NULL, 1, "Path of the model file."},
    {"sml.predictor.depth", SYMTASK_OPTION_INT, "three", 0, "Depth of the model."},
    {NULL},
};

static const symtask_plugin_t bad_option_default_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "bad_option_default",
    .version = "0.0.1",
    .description = "A deliberately broken plugin for the loader tests.",
    .options = bad_option_default_options,
    .ops.predictor =
        {
            .create = bad_option_default_create,
            .describe = bad_option_default_describe,
            .predict = bad_option_default_predict,
            .destroy = bad_option_default_destroy,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &bad_option_default_plugin;
}
