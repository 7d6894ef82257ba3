/* no_entry.c: a shared object that exports no entry symbol. */
#include "symtask/plugin.h"

static symtask_status_t no_entry_create(const symtask_host_t *host, const symtask_params_t *params,
                                        void **state, char *errstr, size_t errstr_size)
{
    *state = NULL;
    return SYMTASK_OK;
}

static void no_entry_describe(void *state, const char *const **features, size_t *n_features,
                              const char *const **outputs, size_t *n_outputs)
{
    static const char *const names[] = {"x"};

    *features = names;
    *n_features = 1;
    *outputs = names;
    *n_outputs = 1;
}

static symtask_status_t no_entry_predict(void *state, symtask_batch_t *batch, char *errstr,
                                         size_t errstr_size)
{
    return SYMTASK_OK;
}

static void no_entry_destroy(void *state)
{
}

static const symtask_plugin_t no_entry_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "no_entry",
    .version = "0.0.1",
    .description = "A deliberately broken plugin for the loader tests.",
    .options = NULL,
    .ops.predictor =
        {
            .create = no_entry_create,
            .describe = no_entry_describe,
            .predict = no_entry_predict,
            .destroy = no_entry_destroy,
        },
};

/* Without SYMTASK_PLUGIN_EXPORT the entry stays hidden (plugins build with hidden
 * visibility), so the shared object exports no symbol at all. */
const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &no_entry_plugin;
}
