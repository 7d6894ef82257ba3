/* crash_init.c: a correct predictor whose create() aborts: the crash must stay in the
 * process that calls create(), after the loader accepted the plugin. */
#include <stdlib.h>

#include "symtask/plugin.h"

static symtask_status_t crash_init_create(const symtask_host_t *host,
                                          const symtask_params_t *params, void **state,
                                          char *errstr, size_t errstr_size)
{
    abort();
}

static void crash_init_describe(void *state, const char *const **features, size_t *n_features,
                                const char *const **outputs, size_t *n_outputs)
{
    static const char *const names[] = {"x"};

    *features = names;
    *n_features = 1;
    *outputs = names;
    *n_outputs = 1;
}

static symtask_status_t crash_init_predict(void *state, symtask_batch_t *batch, char *errstr,
                                           size_t errstr_size)
{
    return SYMTASK_OK;
}

static void crash_init_destroy(void *state)
{
}

static const symtask_plugin_t crash_init_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "crash_init",
    .version = "0.0.1",
    .description = "A deliberately broken plugin for the loader tests.",
    .options = NULL,
    .ops.predictor =
        {
            .create = crash_init_create,
            .describe = crash_init_describe,
            .predict = crash_init_predict,
            .destroy = crash_init_destroy,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &crash_init_plugin;
}
