/* null_entry.c: a plugin whose entry returns no descriptor, as one does when it cannot
 * initialise: this one wants a host table larger than any symtask has. */
#include "symtask/plugin.h"

static symtask_status_t null_entry_create(const symtask_host_t *host,
                                          const symtask_params_t *params, void **state,
                                          char *errstr, size_t errstr_size)
{
    *state = NULL;
    return SYMTASK_OK;
}

static void null_entry_describe(void *state, const char *const **features, size_t *n_features,
                                const char *const **outputs, size_t *n_outputs)
{
    static const char *const names[] = {"x"};

    *features = names;
    *n_features = 1;
    *outputs = names;
    *n_outputs = 1;
}

static symtask_status_t null_entry_predict(void *state, symtask_batch_t *batch, char *errstr,
                                           size_t errstr_size)
{
    return SYMTASK_OK;
}

static void null_entry_destroy(void *state)
{
}

static const symtask_plugin_t null_entry_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "null_entry",
    .version = "0.0.1",
    .description = "A deliberately broken plugin for the loader tests.",
    .options = NULL,
    .ops.predictor =
        {
            .create = null_entry_create,
            .describe = null_entry_describe,
            .predict = null_entry_predict,
            .destroy = null_entry_destroy,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return host->size >= 4096 ? &null_entry_plugin : NULL;
}
